"""Design spaces as data: dimensions, choices, constraints and a canonical form.

A :class:`DesignSpace` is read from a YAML file::

    name: graphgym-mini
    dimensions:
      - {name: agg, choices: [add, mean, max]}
      - {name: layers, choices: [1, 2, 4]}
      - {name: skip, choices: [none, sum]}
    constraints:                      # an architecture matching every entry is invalid
      - forbid: {layers: [1], skip: [sum]}
        reason: a single layer has nothing to skip over
    canonical:                        # equivalent architectures collapse to one key
      rules:
        - when: {layers: [1]}
          set: {skip: none}
      function: null                  # or a registered canonicaliser, e.g. nas_bench_graph
    table: {...}                      # optional: how a CSV/Parquet model base maps here

An **architecture** is one choice per dimension, written as the key
``agg=mean,layers=2,skip=sum`` (dimensions in file order). An **edit** changes exactly
one dimension; two canonical architectures one edit apart are **neighbours**.
"""

from __future__ import annotations

import functools
import math
import random
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from mdesign.core.errors import InputError, shorten
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

Choice = str | int | float | bool
Architecture = dict[str, Choice]


def split_uid(uid: str) -> tuple[str, str]:
    """``(space, key)`` of an architecture uid ``space/key`` (split at the first ``/``)."""
    space, sep, key = uid.partition("/")
    if not sep:
        raise ValueError(f"{uid!r} is not an architecture uid (space/key)")
    return space, key


def key_of(uid: str) -> str:
    """The key ``dim=choice,...`` of an architecture uid ``space/key``."""
    return split_uid(uid)[1]


def key_choices(key: str) -> dict[str, str]:
    """The ``dimension -> choice text`` pairs of a key, as written (not validated: see
    :meth:`DesignSpace.parse_key`); ``ValueError`` when a part has no ``=``."""
    return dict(part.split("=", 1) for part in key.split(","))
RESERVED = {"uid", "key", "space", "embedding"}


def format_choice(value: Any) -> str:
    """The canonical text of a choice, as it appears in keys and tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# A number written in decimal: ``2``, ``-2.0``, ``2.``, ``.5``, ``1e3``. No leading zeros
# (``0012`` is a name, e.g. a NAS-Bench-Graph link), no ``nan``/``inf``.
_NUMBER = re.compile(r"[+-]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def choice_number(text: str) -> Decimal | None:
    """The exact number a choice's text spells, or ``None`` when it is not a number.

    Choices are matched as text, and two numeric texts of the same value (``2``, ``2.0``,
    ``"2"``, ``2e0``) are the same choice; ``1.5`` matches neither ``1`` nor ``2``.
    """
    return Decimal(text) if _NUMBER.fullmatch(text) else None


class Dimension(BaseModel):
    name: str
    choices: list[Choice] = Field(min_length=1)
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not v.isidentifier() or v in RESERVED:
            raise ValueError(f"dimension name {v!r} must be an identifier and not one of "
                             f"{sorted(RESERVED)}")
        return v


class Constraint(BaseModel):
    """Forbid every architecture whose value is listed for *all* the named dimensions."""

    forbid: dict[str, list[Choice]]
    reason: str = ""


class CanonicalRule(BaseModel):
    """When every ``when`` dimension takes a listed value, ``set`` fixes others."""

    when: dict[str, list[Choice]]
    set: dict[str, Choice]


class Canonical(BaseModel):
    rules: list[CanonicalRule] = []
    function: str | None = None


class MetricColumns(BaseModel):
    """Which columns of a table hold the performance metric.

    Either a validation/test pair (``valid``, ``test``; either may be missing) or one
    ``single`` column when the model base has no split. A column ``X_std`` beside any of
    them is read as its standard deviation over seeds.
    """

    name: str = "accuracy"
    higher_is_better: bool = True
    valid: str | None = None
    test: str | None = None
    single: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> MetricColumns:
        if self.single and (self.valid or self.test):
            raise ValueError("give either `single` or `valid`/`test` metric columns, not both")
        if not (self.single or self.valid or self.test):
            raise ValueError("name at least one metric column (`valid`, `test` or `single`)")
        return self

    @property
    def split(self) -> str:
        return "single" if self.single else "valid_test"


class TableMapping(BaseModel):
    """How the columns of a tabular model base map onto the space."""

    task: str = "dataset"
    kind: str | None = None
    default_kind: str = "node"
    columns: dict[str, str] = {}
    metric: MetricColumns
    costs: dict[str, str] = {}
    seeds: str | None = None


class DesignSpace(BaseModel):
    """A named design space; see the module docstring for the file format."""

    name: str
    description: str = ""
    dimensions: list[Dimension] = Field(min_length=1)
    constraints: list[Constraint] = []
    canonical: Canonical = Canonical()
    table: TableMapping | None = None

    model_config = {"frozen": True}

    @model_validator(mode="after")
    def _consistent(self) -> DesignSpace:
        names = [d.name for d in self.dimensions]
        if len(set(names)) != len(names):
            raise ValueError("dimension names repeat")
        known = {d.name: {format_choice(c) for c in d.choices} for d in self.dimensions}
        numbers = {d: {n for t in texts if (n := choice_number(t)) is not None}
                   for d, texts in known.items()}
        for d in self.dimensions:
            numeric = sum(choice_number(t) is not None for t in known[d.name])
            if len(known[d.name]) != len(d.choices) or len(numbers[d.name]) != numeric:
                raise ValueError(f"dimension {d.name!r} lists a choice twice")

        def check(where: str, mapping: Mapping[str, Any]) -> None:
            for dim, values in mapping.items():
                if dim not in known:
                    raise ValueError(f"{where} names unknown dimension {dim!r}")
                for v in values if isinstance(values, list) else [values]:
                    text = format_choice(v)
                    if text not in known[dim] and choice_number(text) not in numbers[dim]:
                        raise ValueError(f"{where} names unknown choice {v!r} of {dim!r}")

        for c in self.constraints:
            check("a constraint", c.forbid)
        for r in self.canonical.rules:
            check("a canonical rule", r.when)
            check("a canonical rule", r.set)
        if self.canonical.function and self.canonical.function not in CANONICALISERS:
            raise ValueError(f"unknown canonical function {self.canonical.function!r} "
                             f"(known: {sorted(CANONICALISERS)})")
        if self.table:
            for dim in self.table.columns:
                if dim not in known:
                    raise ValueError(f"table.columns maps unknown dimension {dim!r}")
        return self

    # -- reading ------------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: str | Path) -> DesignSpace:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except FileNotFoundError:
            raise InputError(f"space file {path} does not exist",
                             "pass the path of a design-space YAML file") from None
        except IsADirectoryError:
            raise InputError(f"space file {path} is a directory",
                             "pass the path of a design-space YAML file in it") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"space file {path} is not UTF-8 text (byte "
                             f"{exc.object[exc.start]:#04x} at offset {exc.start})",
                             "save it as UTF-8") from None
        except OSError as exc:
            raise InputError(f"cannot read space file {path}: {exc.strerror or exc}",
                             "check the path and its permissions") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            raise InputError(f"space file {path} is not valid YAML{where}",
                             "fix the YAML syntax") from None
        return cls.from_dict(data, origin=str(path))

    @classmethod
    def from_dict(cls, data: Any, origin: str = "<dict>") -> DesignSpace:
        if not isinstance(data, dict):
            raise InputError(f"space file {origin} does not hold a mapping",
                             "see docs/design-spaces.md for the format")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "top level"
            raise InputError(f"space file {origin}: {loc}: {err['msg']}",
                             "see docs/design-spaces.md for the format") from None

    @classmethod
    def builtin(cls, name: str) -> DesignSpace:
        return _builtin(name)

    # -- architectures ------------------------------------------------------------------

    @functools.cached_property
    def _choice_index(self) -> dict[str, dict[str, Choice]]:
        return {d.name: {format_choice(c): c for c in d.choices} for d in self.dimensions}

    @functools.cached_property
    def _number_index(self) -> dict[str, dict[Decimal, str]]:
        return {d: {n: t for t in texts if (n := choice_number(t)) is not None}
                for d, texts in self._choice_index.items()}

    def choice_text(self, dimension: str, value: Any) -> str | None:
        """The text of ``dimension``'s choice that ``value`` names, or ``None``.

        ``value`` is typed or raw text; a number matches the numeric choice of the same
        value however either is written (``1.0`` names the choice ``1`` and vice versa).
        """
        text = format_choice(value)
        if text in self._choice_index[dimension]:
            return text
        number = choice_number(text)
        return None if number is None else self._number_index[dimension].get(number)

    @property
    def dimension_names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def size(self) -> int:
        return math.prod(len(d.choices) for d in self.dimensions)

    def parse(self, values: Mapping[str, Any], where: str = "") -> Architecture:
        """Validate raw values (strings from a table, or typed) into an architecture."""
        arch: Architecture = {}
        for dim in self.dimensions:
            if dim.name not in values:
                raise InputError(f"{where}missing dimension {dim.name!r} of space {self.name!r}",
                                 f"give one of {[format_choice(c) for c in dim.choices]}")
            raw = values[dim.name]
            text = self.choice_text(dim.name, raw)
            if text is None:
                text = format_choice(raw)
                raise InputError(
                    f"{where}unknown choice {text!r} for dimension {dim.name!r} of space "
                    f"{self.name!r}",
                    f"use one of {list(self._choice_index[dim.name])} or add it to the space file")
            arch[dim.name] = self._choice_index[dim.name][text]
        return arch

    def parse_key(self, key: str) -> Architecture:
        try:
            pairs = key_choices(key)
        except ValueError:
            raise InputError(f"{key!r} is not an architecture key",
                             "write it as dim=choice,dim=choice,... in the space's order") from None
        return self.parse(pairs, where=f"architecture {key!r}: ")

    def key(self, arch: Mapping[str, Choice]) -> str:
        return ",".join(f"{d}={format_choice(arch[d])}" for d in self.dimension_names)

    def uid(self, arch: Mapping[str, Choice]) -> str:
        """Globally unique id of an architecture: ``space/key``."""
        return f"{self.name}/{self.key(arch)}"

    def violation(self, arch: Mapping[str, Choice]) -> str | None:
        """The reason ``arch`` is invalid, or ``None`` when it is valid."""
        return self._violation_of(self._as_tuple(arch))

    def canonical_form(self, arch: Mapping[str, Choice]) -> Architecture:
        """The representative of ``arch``'s equivalence class."""
        return self._as_arch(self._canonical_tuple(self._as_tuple(arch)))

    def is_canonical(self, arch: Mapping[str, Choice]) -> bool:
        t = self._as_tuple(arch)
        return self._canonical_tuple(t) == t

    def neighbours(self, arch: Mapping[str, Choice]) -> Iterator[tuple[str, Choice, Choice,
                                                                        Architecture]]:
        """Every valid canonical architecture one edit away from ``arch``.

        Yields ``(dimension, from_choice, to_choice, neighbour)``; the edit is described in
        ``arch``'s own representation. A neighbour reached by several edits (possible when
        canonicalisation reorders) is yielded once, for the first edit in space order.
        Canonicalisation can make the relation asymmetric (b is an edit away from a, but
        no single edit of b gives a), so stored edits are unordered pairs.
        """
        t = self._as_tuple(arch)
        for _, dim, current, choice, cand in self._neighbour_tuples(t):
            yield dim, self._choice_index[dim][current], self._choice_index[dim][choice], \
                self._as_arch(cand)

    def neighbour_keys(self, arch: Mapping[str, Choice] | str) -> list[tuple[str, str, str, str]]:
        """``(dimension, from, to, neighbour key)`` as text; the fast path for importers.

        ``arch`` may be an architecture or the key of a canonical one.
        """
        if isinstance(arch, str):
            t = tuple(part.split("=", 1)[1] for part in arch.split(","))
        else:
            t = self._as_tuple(arch)
        return [(dim, cur, ch, self._key_of_tuple(cand))
                for _, dim, cur, ch, cand in self._neighbour_tuples(t)]

    @functools.cached_property
    def _key_cache(self) -> dict[tuple[str, ...], str]:
        return {}

    def _key_of_tuple(self, t: tuple[str, ...]) -> str:
        key = self._key_cache.get(t)
        if key is None:
            key = ",".join(f"{d}={v}" for d, v in zip(self.dimension_names, t, strict=True))
            self._key_cache[t] = key
        return key

    def enumerate(self, restrict: Mapping[str, list[Choice]] | None = None
                  ) -> Iterator[Architecture]:
        """All valid canonical architectures (optionally with restricted choices)."""
        import itertools

        pools = []
        for d in self.dimensions:
            allowed = restrict.get(d.name) if restrict else None
            allowed_text = None if allowed is None else {self.choice_text(d.name, c)
                                                         for c in allowed}
            pools.append([format_choice(c) for c in d.choices
                          if allowed_text is None or format_choice(c) in allowed_text])
        seen: set[tuple[str, ...]] = set()
        for combo in itertools.product(*pools):
            canon = self._canonical_tuple(combo)
            if canon is not None and canon not in seen:
                seen.add(canon)
                yield self._as_arch(canon)

    def random_keys(self, rng: random.Random, n: int, keep: Callable[[str], bool] | None = None,
                    tries: int = 20) -> list[str]:
        """Up to ``n`` keys of canonical architectures that ``keep`` accepts, each choice
        drawn uniformly (a draw that violates a constraint is dropped; at most ``tries * n``
        draws). Works on tuples of choice texts: a space too large to enumerate is sampled
        every step."""
        texts = [[format_choice(c) for c in d.choices] for d in self.dimensions]
        out: list[str] = []
        for _ in range(tries * n):
            if len(out) >= n:
                break
            canon = self._canonical_tuple(tuple(rng.choice(cs) for cs in texts))
            if canon is not None:
                key = self._key_of_tuple(canon)
                if keep is None or keep(key):
                    out.append(key)
        return out

    def all_keys(self) -> list[str]:
        """The keys of all valid canonical architectures, sorted."""
        return sorted(self.key(a) for a in self.enumerate())

    def uids(self, restrict: Mapping[str, list[str]] | None = None,
             keep: Callable[[str], bool] | None = None) -> list[str]:
        """The uids of the valid canonical architectures (within ``restrict``, a task's own
        part of the space), in enumeration order; only those ``keep`` accepts."""
        out = (self.uid(a) for a in self.enumerate(restrict))
        return [u for u in out if keep is None or keep(u)]

    # -- internal: architectures as tuples of choice texts, memoised ----------------------

    def _as_tuple(self, arch: Mapping[str, Choice]) -> tuple[str, ...]:
        return tuple(format_choice(arch[d]) for d in self.dimension_names)

    def _as_arch(self, t: tuple[str, ...]) -> Architecture:
        return {d: self._choice_index[d][v] for d, v in zip(self.dimension_names, t, strict=True)}

    @functools.cached_property
    def _forbidden(self) -> list[tuple[list[tuple[int, set[str]]], str]]:
        pos = {d: i for i, d in enumerate(self.dimension_names)}
        return [([(pos[d], {self.choice_text(d, v) for v in vs}) for d, vs in c.forbid.items()],
                 c.reason or f"forbidden combination {c.forbid}") for c in self.constraints]

    def _violation_of(self, t: tuple[str, ...]) -> str | None:
        for conds, reason in self._forbidden:
            if all(t[i] in allowed for i, allowed in conds):
                return reason
        return None

    @functools.cached_property
    def _canonical_cache(self) -> dict[tuple[str, ...], tuple[str, ...] | None]:
        return {}

    def _canonical_tuple(self, t: tuple[str, ...]) -> tuple[str, ...] | None:
        """Canonical form of ``t``, or ``None`` when ``t`` violates a constraint."""
        cache = self._canonical_cache
        if t in cache:
            return cache[t]
        if self._violation_of(t):
            cache[t] = None
            return None
        out = dict(zip(self.dimension_names, t, strict=True))
        for when, fixed in self._rules:
            if all(out[d] in allowed for d, allowed in when.items()):
                out.update(fixed)
        if self.canonical.function:
            typed = CANONICALISERS[self.canonical.function](self, self._as_arch(tuple(
                out[d] for d in self.dimension_names)))
            out = {d: format_choice(v) for d, v in typed.items()}
        canon = tuple(out[d] for d in self.dimension_names)
        cache[t] = canon
        return canon

    @functools.cached_property
    def _rules(self) -> list[tuple[dict[str, set[str | None]], dict[str, str | None]]]:
        return [({d: {self.choice_text(d, v) for v in vs} for d, vs in r.when.items()},
                 {d: self.choice_text(d, v) for d, v in r.set.items()})
                for r in self.canonical.rules]

    def _neighbour_tuples(self, t: tuple[str, ...]
                          ) -> list[tuple[int, str, str, str, tuple[str, ...]]]:
        seen = {t}
        out = []
        for i, d in enumerate(self.dimensions):
            for choice in self._choice_index[d.name]:
                if choice == t[i]:
                    continue
                cand = self._canonical_tuple((*t[:i], choice, *t[i + 1:]))
                if cand is None or cand in seen:
                    continue
                seen.add(cand)
                out.append((i, d.name, t[i], choice, cand))
        return out


# -- registered canonicalisers -----------------------------------------------------------


@functools.cache
def _nas_bench_graph_canonical(link: str, ops: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    from nas_bench_graph import Arch

    # NAS-Bench-Graph's own equivalence (its valid_hash): re-root isomorphic link
    # patterns, move skip operations, sort interchangeable branches.
    a = Arch([int(c) for c in link], list(ops)).regularize()
    a.move_skip_op()
    a.equalpart_sort()
    return "".join(str(i) for i in a.link), tuple(a.ops)


def nas_bench_graph_canonical(space: DesignSpace, arch: Architecture) -> Architecture:
    """Canonical form of a NAS-Bench-Graph cell: dimensions ``link, op1..op4``."""
    link, ops = _nas_bench_graph_canonical(
        str(arch["link"]), tuple(str(arch[f"op{i}"]) for i in range(1, 5)))
    return {"link": link, **{f"op{i}": op for i, op in enumerate(ops, start=1)}}


def nas_bench_graph_hash(arch: Mapping[str, Choice]) -> int:
    """NAS-Bench-Graph's table key (``Arch.valid_hash``) of an architecture."""
    from nas_bench_graph import Arch

    return Arch([int(c) for c in str(arch["link"])],
                [str(arch[f"op{i}"]) for i in range(1, 5)]).valid_hash()


CANONICALISERS: dict[str, Callable[[DesignSpace, Architecture], Architecture]] = {
    "nas_bench_graph": nas_bench_graph_canonical,
}


@functools.cache
def _builtin(name: str) -> DesignSpace:
    # Looked up among the shipped files, never joined to a path: a name cannot reach
    # another file.
    shipped = {p.name.removesuffix(".yaml"): p for p in resources.files("mdesign.spaces")
               .iterdir() if p.name.endswith(".yaml") and p.is_file()}
    path = shipped.get(name)
    if path is None:
        shown = shorten(name)
        raise InputError(f"no built-in design space {shown!r}",
                         f"use one of {sorted(shipped)} or pass a YAML file")
    return DesignSpace.from_dict(yaml.safe_load(path.read_text()), origin=f"builtin:{name}")


def load_space(spec: str) -> DesignSpace:
    """A built-in space by name, or a YAML file by path."""
    if spec.endswith((".yaml", ".yml")) or "/" in spec:
        return DesignSpace.from_yaml(spec)
    return _builtin(spec)


class OneHot:
    """``phi(a)``: one column per (dimension, choice) of a design space, the one one-hot
    encoding of architecture keys (``dim=choice,...``) in mdesign."""

    def __init__(self, space: DesignSpace) -> None:
        self.columns = [(d.name, c) for d in space.dimensions
                        for c in (format_choice(x) for x in d.choices)]
        # where each dimension's choices start among the columns (for of_codes)
        sizes = [len(d.choices) for d in space.dimensions]
        self._offsets = np.cumsum([0, *sizes[:-1]], dtype=np.int64)
        self._index = {c: i for i, c in enumerate(self.columns)}
        self._cache: dict[str, np.ndarray] = {}

    def of_codes(self, codes: np.ndarray) -> np.ndarray:
        """The rows of architectures given as choice codes ``(N, n_dims)``, the index of
        each dimension's choice (the columns hold each dimension's choices in order), without
        parsing a key."""
        out = np.zeros((len(codes), len(self.columns)))
        if len(codes):
            out[np.arange(len(codes))[:, None], self._offsets[None, :] + codes] = 1.0
        return out

    def __call__(self, keys: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(keys), len(self.columns)))
        for row, key in enumerate(keys):
            v = self._cache.get(key)
            if v is None:
                v = np.zeros(len(self.columns))
                for d, c in key_choices(key).items():
                    v[self._index[(d, c)]] = 1.0
                self._cache[key] = v
            out[row] = v
        return out
