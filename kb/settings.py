"""Where mdesign keeps its files and how it reaches Neo4j.

Resolution order for the connection:

1. ``NEO4J_URI`` (with ``NEO4J_USER``, default ``neo4j``, and ``NEO4J_PASSWORD``): an
   existing server the user runs; mdesign starts nothing.
2. Otherwise the managed server under ``MDESIGN_HOME`` (default: the user data dir,
   e.g. ``~/.local/share/mdesign``), whose generated credentials live in
   ``$MDESIGN_HOME/credentials.json`` with mode 0600.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path

import platformdirs
from mdesign.core.errors import InputError, ServerError
from pydantic import BaseModel

NEO4J_VERSION = "5.26.30"
GDS_VERSION = "2.13.9"
BROWSER_VERSION = "5.24.0"


class Connection(BaseModel):
    """How to reach a Neo4j server."""

    uri: str
    user: str = "neo4j"
    password: str
    database: str = "neo4j"
    managed: bool = False


def home() -> Path:
    """The data directory of this mdesign installation (``MDESIGN_HOME``)."""
    env = os.environ.get("MDESIGN_HOME")
    return Path(env).expanduser().resolve() if env else Path(platformdirs.user_data_dir("mdesign"))


def jar_cache() -> Path:
    """Shared cache of the Neo4j + GDS + Browser jars (one per version set)."""
    env = os.environ.get("MDESIGN_JARS")
    if env:
        return Path(env).expanduser().resolve()
    base = Path(platformdirs.user_cache_dir("mdesign"))
    return base / f"neo4j-{NEO4J_VERSION}-gds-{GDS_VERSION}-browser-{BROWSER_VERSION}"


def credentials_path() -> Path:
    return home() / "credentials.json"


def external_connection() -> Connection | None:
    """The user's own server, when ``NEO4J_URI`` is set."""
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        return None
    password = os.environ.get("NEO4J_PASSWORD")
    if password is None:
        raise ServerError(
            f"NEO4J_URI is set to {uri} but NEO4J_PASSWORD is not",
            "export NEO4J_PASSWORD, or unset NEO4J_URI to use the managed server",
        )
    return Connection(
        uri=uri,
        user=os.environ.get("NEO4J_USER", "neo4j"),
        password=password,
        database=os.environ.get("NEO4J_DATABASE", "neo4j"),
    )


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """``write(tmp)`` beside ``path``, then rename over it: an interrupted write never
    leaves half a file where a reader looks (the parent folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    tmp.replace(path)
    return path


def write_private_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` readable by the owner only, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, stat.S_IRUSR | stat.S_IWUSR)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.chmod(tmp, stat.S_IRUSR | stat.S_IWUSR)
    os.replace(tmp, path)


def managed_connection() -> Connection:
    """The managed server's connection, from its credentials file."""
    path = credentials_path()
    if not path.exists():
        raise ServerError(
            f"no managed Neo4j server is set up under {home()}",
            "run `mdesign db start` (or set NEO4J_URI/NEO4J_PASSWORD for your own server)",
        )
    data = json.loads(path.read_text())
    return Connection(
        uri=f"neo4j://127.0.0.1:{data['bolt_port']}",
        user=data["user"],
        password=data["password"],
        managed=True,
    )


def connection() -> Connection:
    """The connection mdesign uses: the user's server if configured, else the managed one."""
    return external_connection() or managed_connection()


# -- names that become paths ---------------------------------------------------------------

_UNSAFE = re.compile(r"[^a-z0-9._-]")
_SEPARATOR_RUN = re.compile(r"[-_.]{2,}")


def slug(name: str, max_len: int = 60) -> str:
    """``name`` as lowercase ASCII letters, digits, ``-``, ``_`` and ``.`` only: any other
    character, and any run of two or more separators (so ``..`` too), becomes one ``-``;
    no separator at either end, at most ``max_len`` characters, never empty (``x``)."""
    text = _SEPARATOR_RUN.sub("-", _UNSAFE.sub("-", name.lower()))
    return text.strip("-_.")[:max(1, max_len)].strip("-_.") or "x"


def safe_name(name: str, max_len: int = 60) -> str:
    """A file or folder name for the untrusted ``name`` (a task, predictor or run name from
    a table or a command line): its :func:`slug` plus ``-`` and the first 8 hex digits of
    its sha256, so that names with the same slug stay apart; at most ``max_len``
    characters (at least 10), safe on any file system and in a shell."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{slug(name, max(1, max_len - 9))}-{digest}"


def is_safe_name(name: str, max_len: int = 100) -> bool:
    """Whether ``name`` is already its own slug (so usable as a file name as it is)."""
    return 0 < len(name) <= max_len and slug(name, max_len) == name


def confined(base: Path, *parts: str) -> Path:
    """``base / parts...``, refusing (``InputError``) a result that resolves outside
    ``base``: the last guard behind :func:`safe_name`."""
    root = Path(base).resolve()
    path = root.joinpath(*parts).resolve()
    if path == root or root not in path.parents:
        raise InputError(f"the name {'/'.join(parts)!r} would leave {root}",
                         "use a plain name (letters, digits, '-', '_', '.')")
    return path
