"""Fixtures: a real Neo4j + GDS server started by the project's own code.

`scripts/test.sh` starts it with `mdesign db start` under a test MDESIGN_HOME; run
directly, pytest starts it the same way (ManagedNeo4j). The database is emptied once per
session; tests then use their own task and space names, so they never clear each other.

Every test that needs a server (through the fixtures in ``SERVER_FIXTURES``, directly or
via another fixture) is marked ``server`` at collection, so ``pytest -m "not server"``
runs the rest with no Neo4j at all (what `scripts/test.sh` does first).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mdesign.kb import KnowledgeBase
from mdesign.kb.server import ManagedNeo4j

logging.getLogger("neo4j").setLevel(logging.ERROR)
MDESIGN = str(Path(sys.executable).parent / "mdesign")

if "MDESIGN_HOME" not in os.environ:  # never touch the user's own knowledge base
    os.environ["MDESIGN_HOME"] = str(Path.home() / ".cache" / "mdesign" / "test-home")
for var in ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD"):
    os.environ.pop(var, None)


# `fresh` (test_server_security.py) starts a server of its own in a fresh home.
SERVER_FIXTURES = frozenset({"server", "kb", "nbg", "fresh"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.server)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600
            ) -> subprocess.CompletedProcess[str]:
    """Run the installed `mdesign` console script."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env["COLUMNS"] = "200"
    return subprocess.run([MDESIGN, *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout)


@pytest.fixture(scope="session")
def server() -> ManagedNeo4j:
    managed = ManagedNeo4j()
    managed.start(echo=lambda m: None)
    return managed


@pytest.fixture(scope="session")
def kb(server: ManagedNeo4j) -> Iterator[KnowledgeBase]:
    with KnowledgeBase.connect() as k:
        k.clear()
        k.init_schema()
        yield k


@pytest.fixture(scope="session")
def nbg(kb: KnowledgeBase) -> KnowledgeBase:
    """The full NAS-Bench-Graph knowledge base (imported once per session)."""
    from mdesign.kb.importers.nas_bench_graph import import_nas_bench_graph

    import_nas_bench_graph(kb)
    return kb
