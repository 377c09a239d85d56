"""Named Cypher queries: one ``NAME.cypher`` file per query, loaded by name.

Every query takes ``$parameters``; none is ever assembled from user values. The files
are plain Cypher, so the same text runs in Neo4j Browser or ``cypher-shell`` (set the
parameters with ``:param``). The leading ``//`` comment block of a file documents the
query and its parameters; ``mdesign query --list`` prints it.

A file may hold several statements separated by a line holding only ``;`` (used for
the schema); :func:`statements` splits them.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from mdesign.kb.errors import InputError

_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@functools.cache
def load(name: str) -> str:
    """The text of the named query ``cypher/NAME.cypher``."""
    path = resources.files(__name__).joinpath(f"{name}.cypher")
    if not path.is_file():
        raise InputError(f"no named query {name!r}",
                         "run `mdesign query --list` to see the available queries")
    return path.read_text()


def names() -> list[str]:
    return sorted(p.name.removesuffix(".cypher") for p in resources.files(__name__).iterdir()
                  if p.name.endswith(".cypher"))


def statements(name: str) -> list[str]:
    """The statements of a multi-statement file (separated by lines of ``;``)."""
    parts = re.split(r"^\s*;\s*$", load(name), flags=re.MULTILINE)
    return [p.strip() for p in parts if _strip_comments(p).strip()]


def _strip_comments(text: str) -> str:
    return "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("//"))


def description(name: str) -> str:
    """The leading comment block of a query file, without the ``//`` markers."""
    lines = []
    for ln in load(name).splitlines():
        if not ln.lstrip().startswith("//"):
            break
        lines.append(ln.lstrip()[2:].strip())
    return "\n".join(lines).strip()


def parameters(name: str) -> list[str]:
    """The ``$parameters`` a query uses, in order of first use."""
    seen: dict[str, None] = {}
    for m in _PARAM.finditer(_strip_comments(load(name))):
        seen.setdefault(m.group(1), None)
    return list(seen)
