"""Named Cypher queries: one ``NAME.cypher`` file per query, loaded by name.

Every query takes ``$parameters``; none is ever assembled from user values. The files
are plain Cypher, so the same text runs in Neo4j Browser or ``cypher-shell`` (set the
parameters with ``:param``). The leading ``//`` comment block of a file documents the
query and its parameters; ``mdesign query --list`` prints it.

A file may hold several statements separated by a line holding only ``;`` (used for
the schema); :func:`statements` splits them.

Only the files shipped in this package are named queries: :func:`load` looks a name up in
:func:`names`, never on the file system, so a name cannot reach another file. A query
that writes (``CREATE``, ``MERGE``, ``SET``, ``DELETE``, ``REMOVE``) or creates or drops a
GDS projection carries a line ``// internal`` in its header: mdesign runs it itself,
while ``mdesign query`` hides it from ``--list`` and refuses it without ``--allow-write``
(:func:`is_internal`).

The read queries meant for people carry ``// public`` (:func:`is_public`): ``mdesign query
--list`` shows those, with their parameters. Their headers may give defaults and bounds of
parameters, which ``mdesign query`` applies (Cypher itself has no parameter defaults)::

    // defaults: limit=10, k=2
    // bounds: k=1..4, limit=1..10000

A read query for Neo4j Browser's graph view (it returns nodes and relationships) carries
``// browser`` (:func:`is_browser`); the mdesign guide in the Browser runs it.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

from mdesign.core.errors import InputError, shorten

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


_INTERNAL = re.compile(r"^\s*//\s*@?internal\b", re.IGNORECASE)
_PUBLIC = re.compile(r"^\s*//\s*public\s*$", re.IGNORECASE)
_BROWSER = re.compile(r"^\s*//\s*browser\s*$", re.IGNORECASE)
_DEFAULTS = re.compile(r"^\s*//\s*defaults:\s*(.+)$", re.IGNORECASE)
_BOUNDS = re.compile(r"^\s*//\s*bounds:\s*(.+)$", re.IGNORECASE)


@functools.cache
def _shipped() -> dict[str, Any]:
    """name -> resource of every ``NAME.cypher`` shipped in this package."""
    return {p.name.removesuffix(".cypher"): p for p in resources.files(__name__).iterdir()
            if p.name.endswith(".cypher") and p.is_file()}


@functools.cache
def load(name: str) -> str:
    """The text of the shipped named query ``cypher/NAME.cypher``.

    ``name`` is looked up in :func:`names` (never joined to a path), so a name holding
    ``/``, ``..`` or an absolute path is simply unknown.
    """
    path = _shipped().get(name)
    if path is None:
        shown = shorten(name)
        raise InputError(f"no named query {shown!r}",
                         "run `mdesign query --list` to see the available queries, or "
                         "pass your own file with `mdesign query --file PATH`")
    return path.read_text(encoding="utf-8")


def names() -> list[str]:
    return sorted(_shipped())


def is_internal(name: str) -> bool:
    """Whether the named query is internal: it writes (or creates or drops a GDS
    projection), so only mdesign's own code runs it; its header holds ``// internal``."""
    for ln in load(name).splitlines():
        if not ln.lstrip().startswith("//"):
            return False
        if _INTERNAL.match(ln):
            return True
    return False


def statements(name: str) -> list[str]:
    """The statements of a multi-statement file (separated by lines of ``;``)."""
    parts = re.split(r"^\s*;\s*$", load(name), flags=re.MULTILINE)
    return [p.strip() for p in parts if strip_comments(p).strip()]


def strip_comments(text: str) -> str:
    """``text`` without its ``//`` comment lines."""
    return "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("//"))


def _header(name: str) -> list[str]:
    lines = []
    for ln in load(name).splitlines():
        if not ln.lstrip().startswith("//"):
            break
        lines.append(ln)
    return lines


def is_public(name: str) -> bool:
    """Whether the named query is one for people (``// public`` in its header)."""
    return any(_PUBLIC.match(ln) for ln in _header(name))


def is_browser(name: str) -> bool:
    """Whether the named query is written for Neo4j Browser's graph view (``// browser``:
    it returns nodes and relationships; the mdesign guide runs it)."""
    return any(_BROWSER.match(ln) for ln in _header(name))


def _pairs(name: str, pattern: re.Pattern[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for ln in _header(name):
        m = pattern.match(ln)
        if m:
            for item in m.group(1).split(","):
                key, _, value = item.partition("=")
                out[key.strip()] = value.strip()
    return out


def defaults(name: str) -> dict[str, Any]:
    """The defaults of the query's parameters, from its ``// defaults:`` line."""
    return dict(_defaults(name))  # a copy: callers may change it


@functools.cache
def _defaults(name: str) -> dict[str, Any]:
    import json

    out: dict[str, Any] = {}
    for key, raw in _pairs(name, _DEFAULTS).items():
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def bounds(name: str) -> dict[str, tuple[int, int]]:
    """Integer bounds of the query's parameters, from its ``// bounds:`` line."""
    out = {}
    for key, raw in _pairs(name, _BOUNDS).items():
        low, _, high = raw.partition("..")
        out[key] = (int(low), int(high))
    return out


def description(name: str) -> str:
    """The leading comment block of a query file, without the ``//`` markers and the
    ``public``/``defaults``/``bounds`` lines."""
    markers = (_PUBLIC, _BROWSER, _DEFAULTS, _BOUNDS)
    lines = [ln.lstrip()[2:].strip() for ln in _header(name)
             if not any(m.match(ln) for m in markers)]
    return "\n".join(lines).strip()


def parameters(name: str) -> list[str]:
    """The ``$parameters`` a query uses, in order of first use."""
    return text_parameters(load(name))


def text_parameters(text: str) -> list[str]:
    """The ``$parameters`` of a Cypher text (comments left out), in order of first use."""
    seen: dict[str, None] = {}
    for m in _PARAM.finditer(strip_comments(text)):
        seen.setdefault(m.group(1), None)
    return list(seen)
