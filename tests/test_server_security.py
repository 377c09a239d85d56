"""The managed server as a local attacker meets it: a pid file naming someone else's
process, the password during the first start, file modes of the store, CORS.

One fresh home is started (module fixture) with a pid file naming a live `sleep`; the
server is restarted once more after the home has been opened up to 0755/0644.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli
from mdesign.kb import settings
from mdesign.kb.server import ADMIN_CLASS, ManagedNeo4j


def alive(proc: subprocess.Popen) -> bool:
    return proc.poll() is None


def open_modes(root: Path) -> list[str]:
    """Every folder or file under ``root`` (``root`` included) with a group/other bit."""
    found = []
    for path in [root, *root.rglob("*")]:
        st = path.lstat()
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o077:
            found.append(f"{oct(stat.S_IMODE(st.st_mode))} {path}")
    return found


class CmdlineWatch:
    """Records the argv of every process seen in /proc while it runs."""

    def __init__(self) -> None:
        self.seen: set[bytes] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if entry.name.isdigit():
                    try:
                        with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                            self.seen.add(fh.read())
                    except OSError:
                        pass

    def __enter__(self) -> CmdlineWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A fresh home whose pid file names a live `sleep`, then started by `db start`.

    Its generated password is made to begin with `-` (1 in 64 generated passwords do),
    which the admin tool once read as an option: the first start then failed."""
    home = tmp_path_factory.mktemp("fresh") / "home"
    server = ManagedNeo4j(home=home)
    creds = server._ensure_credentials()
    settings.write_private_json(server.credentials_file,
                                {**creds, "password": "-" + creds["password"]})
    server.pid_file.parent.mkdir(parents=True)
    sleep = subprocess.Popen(["sleep", "300"])
    env = {"MDESIGN_HOME": str(home)}
    info: dict = {"home": home, "server": server, "sleep": sleep, "env": env}
    try:
        server.pid_file.write_text(f"{sleep.pid}\n")
        info["status"] = run_cli("db", "status", "--json", env=env)
        info["stop"] = run_cli("db", "stop", env=env)
        info["pid_file_after_stop"] = server.pid_file.exists()
        info["sleep_after_stop"] = alive(sleep)
        server.pid_file.write_text(f"{sleep.pid}\n")
        t0 = time.monotonic()
        with CmdlineWatch() as watch:
            info["start"] = run_cli("db", "start", env=env, timeout=300)
        info["start_s"] = time.monotonic() - t0
        info["cmdlines"] = watch.seen
        info["sleep_after_start"] = alive(sleep)
        yield info
    finally:
        server.stop()
        sleep.kill()
        sleep.wait()


def test_status_and_stop_leave_a_foreign_pid_alone(fresh: dict) -> None:
    status = fresh["status"]
    assert status.returncode == 1, (status.stdout, status.stderr)
    st = json.loads(status.stdout)
    assert st["running"] is False and st["pid"] is None
    assert "stale pid file" in st["note"]
    stop = fresh["stop"]
    assert stop.returncode == 0, stop.stderr
    lines = stop.stdout.strip().splitlines()
    assert len(lines) == 1 and "stale pid file" in lines[0], stop.stdout
    assert str(fresh["sleep"].pid) in lines[0] and not stop.stderr.strip()
    assert fresh["sleep_after_stop"], "db stop signalled a process that is not its server"
    assert not fresh["pid_file_after_stop"]


def test_start_with_a_stale_pid_starts_at_once(fresh: dict) -> None:
    start = fresh["start"]
    assert start.returncode == 0, (start.stdout, start.stderr)
    assert "started" in start.stdout and "stale pid file" in start.stderr
    assert fresh["start_s"] < 120, "start waited for the foreign process (180 s timeout)"
    assert fresh["sleep_after_start"]
    server: ManagedNeo4j = fresh["server"]
    st = server.status()
    assert st.running and st.pid != fresh["sleep"].pid and server.is_own_server(st.pid)


def test_password_never_on_a_command_line(fresh: dict) -> None:
    from neo4j import GraphDatabase

    server: ManagedNeo4j = fresh["server"]
    creds = server.credentials()
    assert creds["password"].startswith("-")  # the case the admin tool once misread
    password = creds["password"].encode()
    seen = fresh["cmdlines"]
    # the watch did see the admin tool run (so it was looking at the right time) ...
    assert any(b"set-password" in c or ADMIN_CLASS.encode() in c for c in seen)
    # ... and no process ever carried the password in its argv
    assert not [c for c in seen if password in c]
    assert not list((server.neo4j_home / "run").glob(".set-password-*"))
    # the password set that way is the one the server accepts
    uri = f"neo4j://127.0.0.1:{creds['bolt_port']}"
    with GraphDatabase.driver(uri, auth=(creds["user"], creds["password"])) as driver:
        records, _, _ = driver.execute_query("RETURN 1 AS one", database_="neo4j")
        assert records[0]["one"] == 1


def test_store_is_private_and_an_open_home_is_tightened(fresh: dict) -> None:
    home: Path = fresh["home"]
    server: ManagedNeo4j = fresh["server"]
    auth = server.neo4j_home / "data" / "dbms" / "auth.ini"
    tx_logs = list((server.neo4j_home / "data" / "transactions").rglob("*transaction.db*"))
    assert auth.exists() and tx_logs
    assert open_modes(home) == []
    # a home from before: everything readable by all, then one restart tightens it
    assert run_cli("db", "stop", env=fresh["env"]).stdout.strip() == "stopped"
    for path in [home, *home.rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    assert open_modes(home)
    again = run_cli("db", "start", env=fresh["env"], timeout=300)
    assert again.returncode == 0, again.stderr
    assert open_modes(home) == []
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    assert stat.S_IMODE((server.neo4j_home / "data").stat().st_mode) == 0o700


def _origin_header(port: int, method: str, origin: str) -> str | None:
    headers = {"Origin": origin, "Access-Control-Request-Method": "POST"}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers.get("Access-Control-Allow-Origin")


def test_cors_only_for_the_browser_origin(fresh: dict) -> None:
    server: ManagedNeo4j = fresh["server"]
    assert server.status().running
    port = server.credentials()["http_port"]
    browser = f"http://127.0.0.1:{port}"
    for method in ("GET", "OPTIONS"):
        got = _origin_header(port, method, "http://evil.example")
        assert got not in ("*", "http://evil.example"), (method, got)
        assert _origin_header(port, method, browser) == browser


def test_stop_checks_the_command_line_not_just_the_pid(tmp_path: Path) -> None:
    """A process that looks like a Neo4j JVM of another home is not this home's server."""
    server = ManagedNeo4j(home=tmp_path / "home")
    server.pid_file.parent.mkdir(parents=True)
    other = tmp_path / "other" / "neo4j"
    fake = subprocess.Popen(
        ["bash", "-c", f'exec -a java {sys.executable} -c "import time; time.sleep(300)" '
                       f'org.neo4j.server.CommunityEntryPoint --home-dir={other}'])
    try:
        deadline = time.monotonic() + 10
        # bash's own argv already holds the words: wait until exec has replaced it
        while not Path(f"/proc/{fake.pid}/cmdline").read_bytes().startswith(b"java\0"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert b"CommunityEntryPoint" in Path(f"/proc/{fake.pid}/cmdline").read_bytes()
        server.pid_file.write_text(f"{fake.pid}\n")
        assert not server.is_own_server(fake.pid)
        assert not server.status().running
        notes: list[str] = []
        assert server.stop(echo=notes.append) is False
        assert alive(fake) and len(notes) == 1 and "stale pid file" in notes[0]
        assert not server.pid_file.exists()
    finally:
        fake.kill()
        fake.wait()
