"""The managed server: versions, loopback only, credentials, idempotent start, crash restart."""

from __future__ import annotations

import json
import os
import signal
import stat
import time

from conftest import run_cli
from mdesign.kb import KnowledgeBase
from mdesign.kb.server import ManagedNeo4j
from mdesign.kb.settings import GDS_VERSION, NEO4J_VERSION


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (IPv4 and IPv6)."""
    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as fh:
            for line in fh.readlines()[1:]:
                local, _, st = line.split()[1:4]
                addr, p = local.split(":")
                if st == "0A" and int(p, 16) == port:
                    found.add(addr)
    return found


def test_status_reports_versions_and_procedures(server: ManagedNeo4j) -> None:
    out = run_cli("db", "status", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["running"] and info["managed"]
    assert info["neo4j"] == NEO4J_VERSION
    assert info["gds"] == GDS_VERSION
    assert info["gds_procedures"] > 300


def test_loopback_only_with_a_private_generated_password(server: ManagedNeo4j) -> None:
    creds = server.credentials()
    for port in (creds["bolt_port"], creds["http_port"]):
        addrs = listening_addresses(port)
        assert addrs, f"nothing listens on {port}"
        assert addrs <= {"0100007F", "0000000000000000FFFF00000100007F"}, addrs
    mode = stat.S_IMODE(os.stat(server.credentials_file).st_mode)
    assert mode == 0o600
    assert len(creds["password"]) >= 24
    conf = (server.neo4j_home / "conf" / "neo4j.conf").read_text()
    assert "dbms.security.auth_enabled=true" in conf
    out = run_cli("db", "browser")
    assert out.returncode == 0 and f"127.0.0.1:{creds['http_port']}/browser/" in out.stdout


def test_start_is_idempotent_stop_is_clean_and_a_crash_is_recovered(
        server: ManagedNeo4j, kb: KnowledgeBase) -> None:
    kb.query("marker_upsert", name="survivor")
    pid = server.status().pid
    again = run_cli("db", "start")
    assert again.returncode == 0 and "already running" in again.stdout
    assert server.status().pid == pid
    # clean stop, then start
    assert run_cli("db", "stop").stdout.strip() == "stopped"
    assert not server.status().running
    down = run_cli("db", "status")
    assert down.returncode == 1 and "running: False" in down.stdout
    assert run_cli("db", "start").returncode == 0
    # crash: kill -9, detected by status, restarted by start, data intact
    os.kill(server.status().pid, signal.SIGKILL)
    time.sleep(1)
    st = run_cli("db", "status", "--json")
    assert st.returncode == 1
    assert "died" in json.loads(st.stdout)["note"]
    restarted = run_cli("db", "start")
    assert restarted.returncode == 0, restarted.stderr
    assert "gone; restarting" in restarted.stderr
    with KnowledgeBase.connect() as fresh:
        assert fresh.query("marker_count", name="survivor") == [{"n": 1}]


def test_an_existing_server_through_neo4j_uri(server: ManagedNeo4j, kb: KnowledgeBase) -> None:
    creds = server.credentials()
    env = {"NEO4J_URI": f"bolt://127.0.0.1:{creds['bolt_port']}", "NEO4J_USER": "neo4j",
           "NEO4J_PASSWORD": creds["password"]}
    start = run_cli("db", "start", env=env)
    assert start.returncode == 0 and "nothing to start" in start.stdout
    status = run_cli("db", "status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["managed"] is False and info["uri"] == env["NEO4J_URI"]
    assert info["gds"] == GDS_VERSION
    stats = run_cli("kb", "stats", "--json", env=env)
    assert stats.returncode == 0
    assert json.loads(stats.stdout)["architectures"] == kb.stats().architectures
