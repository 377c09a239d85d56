"""Evaluators of your own: ``--evaluator python:MODULE:CALLABLE`` or an entry point.

A spec names either

* ``python:MODULE:CALLABLE`` (``CALLABLE`` may be dotted: ``pkg.mod:Class.method``), or
* ``NAME``, an entry point of the ``mdesign.evaluators`` group (a package declares
  ``[project.entry-points."mdesign.evaluators"] NAME = "pkg.mod:callable"``).

What it names is one of

* a **function** of an architecture's choices, ``f(choices: dict[str, Any]) -> result``,
  where ``result`` is a number (the selection score), a mapping with ``score`` (or
  ``valid``) and optionally ``valid``, ``test``, ``params``, ``latency``, or an
  :class:`~mdesign.core.evaluation.Evaluation`; ``None`` or a non-finite number is a
  failed evaluation (score 0, the worst accuracy: the convention of real training). Scores
  are higher-is-better, like every metric of the knowledge base;
* an **Evaluator class**, a subclass of :class:`~mdesign.core.evaluation.PaidEvaluator`
  built as ``cls(task, budget, space)``.

The run stores the spec as its ``evaluator`` and, as ``evaluator_version``, the version of
the distribution that provides the module (or ``sha256:...`` of a module file that no
installed distribution provides); ``--resume`` loads the same spec and refuses, in one line,
when the version differs. Results are new to the knowledge base: they are recorded as the
target's evidence (source ``mdesign:<spec>``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import inspect
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mdesign.core.errors import InputError, MdesignError
from mdesign.core.evaluation import Evaluation, PaidEvaluator
from mdesign.core.space import DesignSpace, key_of

PYTHON_PREFIX = "python:"
ENTRY_POINT_GROUP = "mdesign.evaluators"
BUILT_IN = ("benchmark", "train")


def in_space(space: DesignSpace, uid: str) -> bool:
    """Whether ``uid`` is a valid architecture of ``space`` (what a user's evaluator, or
    an ask/tell caller, can be asked for)."""
    if not uid.startswith(space.name + "/"):
        return False
    try:
        return not space.violation(space.parse_key(key_of(uid)))
    except InputError:
        return False


def is_custom(spec: str) -> bool:
    """Whether ``spec`` names a user's evaluator rather than a built-in one."""
    return spec not in BUILT_IN


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def _version_of_module(module_name: str) -> str | None:
    """The version of the installed distribution providing ``module_name``, else the
    hash of the module's file, else None."""
    top = module_name.split(".", 1)[0]
    dists = importlib.metadata.packages_distributions().get(top, [])
    if dists:
        return f"{dists[0]} {importlib.metadata.version(dists[0])}"
    module = importlib.import_module(module_name)
    path = getattr(module, "__file__", None)
    if path and Path(path).is_file():
        return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    return None


def load(spec: str) -> tuple[Any, str | None]:
    """What ``spec`` names and its version (:class:`InputError` when it cannot be loaded)."""
    if spec.startswith(PYTHON_PREFIX):
        target = spec[len(PYTHON_PREFIX):]
        module_name, sep, attr = target.partition(":")
        if not sep or not module_name or not attr:
            raise InputError(f"evaluator {spec!r} is not python:MODULE:CALLABLE",
                             "write e.g. --evaluator python:mypkg.train:score")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InputError(f"evaluator {spec!r}: cannot import {module_name!r} ({exc})",
                             "install the module, or put its folder on PYTHONPATH") from exc
        obj: Any = module
        for part in attr.split("."):
            if not hasattr(obj, part):
                raise InputError(f"evaluator {spec!r}: {module_name!r} has no {attr!r}",
                                 "name a function or Evaluator class the module defines")
            obj = getattr(obj, part)
        return obj, _version_of_module(module_name)
    found = _entry_points().get(spec)
    if found is None:
        names = sorted([*BUILT_IN, *_entry_points()])
        raise InputError(f"unknown evaluator {spec!r}",
                         f"choose from {', '.join(names)}, or give python:MODULE:CALLABLE")
    try:
        obj = found.load()
    except ImportError as exc:
        raise InputError(f"evaluator {spec!r}: its entry point {found.value!r} does not "
                         f"load ({exc})", "reinstall the package that declares it") from exc
    dist = found.dist
    return obj, (f"{dist.name} {dist.version}" if dist is not None
                 else _version_of_module(found.module))


def version(spec: str) -> str | None:
    """The version a run of ``spec`` records (None for the built-in evaluators)."""
    return load(spec)[1] if is_custom(spec) else None


def describe(evaluator: Any) -> tuple[str, str | None]:
    """The spec and version a run made with ``evaluator`` records (an evaluator object
    given from Python: its class, as ``python:MODULE:CLASS``). A class that cannot be
    loaded back by its name (defined inside a function) has no version."""
    spec = evaluator.spec
    try:
        return spec, version(spec)
    except InputError:
        return spec, None


class FunctionEvaluator(PaidEvaluator):
    """A user's function of an architecture's choices, under the budget accounting."""

    records_evidence = True

    def __init__(self, fn: Callable[[dict[str, Any]], Any], task: str, budget: int,
                 space: DesignSpace, spec: str, version: str | None = None) -> None:
        super().__init__(task, budget)
        self.fn, self.space, self.version = fn, space, version
        self._spec = spec

    @property
    def spec(self) -> str:
        return self._spec

    def can_evaluate(self, uid: str) -> bool:
        return in_space(self.space, uid)

    def _measure(self, uid: str) -> Evaluation:
        choices = self.space.parse_key(key_of(uid))
        try:
            result = self.fn(dict(choices))
        except Exception as exc:  # the user's code: one line, and the run stays resumable
            raise EvaluatorFailed(f"evaluator {self._spec} raised {type(exc).__name__} "
                                  f"on {uid}: {exc}", "fix the function") from exc
        return as_evaluation(uid, result, {"evaluator": self._spec,
                                           "version": self.version})


class EvaluatorFailed(MdesignError):
    """A user's evaluator raised; the run keeps what it paid for so far."""


def as_evaluation(uid: str, result: Any, provenance: dict[str, Any] | None = None
                  ) -> Evaluation:
    """A user's result (number, mapping, Evaluation or None) as the evaluation record."""
    if isinstance(result, Evaluation):
        return result.model_copy(update={"uid": uid})
    if result is None or (isinstance(result, (int, float)) and not isinstance(result, bool)
                          and not math.isfinite(result)):
        return Evaluation(uid=uid, score=0.0, failed=True, provenance=provenance)
    if isinstance(result, (int, float)) and not isinstance(result, bool):
        return Evaluation(uid=uid, score=float(result), provenance=provenance)
    if isinstance(result, Mapping):
        fields = {k: result[k] for k in ("score", "valid", "test", "params", "latency")
                  if result.get(k) is not None}
        if "score" not in fields and "valid" not in fields:
            raise InputError(f"the evaluator's result for {uid} has no 'score' or 'valid'",
                             "return a number, or a mapping with a 'score'")
        fields.setdefault("score", fields.get("valid"))
        return Evaluation(uid=uid, provenance=provenance,
                          **{k: float(v) for k, v in fields.items()})
    raise InputError(f"the evaluator returned a {type(result).__name__} for {uid}",
                     "return a number, a mapping with a 'score', or an Evaluation")


def make(spec: str, task: str, budget: int, space: DesignSpace,
         stored_version: str | None = None, resuming: bool = False) -> PaidEvaluator:
    """The evaluator ``spec`` names, for ``task`` in ``space``; ``resuming``: refuse a
    version other than the stored run's ``stored_version``."""
    obj, found = load(spec)
    if resuming and found != stored_version:
        raise InputError(f"evaluator {spec!r} is now {found or 'unversioned'}, the run was "
                         f"made with {stored_version or 'unversioned'}",
                         "resume with the same evaluator (reinstall that version), or start "
                         "a new run")
    if inspect.isclass(obj):
        if not issubclass(obj, PaidEvaluator):
            raise InputError(f"evaluator {spec!r} is a class but not a PaidEvaluator",
                             "subclass mdesign.core.evaluation.PaidEvaluator, or give a "
                             "function of the choices")
        made = obj(task, budget, space)
        if not any("records_evidence" in vars(c) for c in obj.__mro__
                   if c is not PaidEvaluator and issubclass(c, PaidEvaluator)):
            made.records_evidence = True  # its results are new: kept as evidence
        return made
    if not callable(obj):
        raise InputError(f"evaluator {spec!r} is not callable",
                         "name a function of an architecture's choices, or an Evaluator "
                         "class")
    return FunctionEvaluator(obj, task, budget, space, spec, found)
