"""Neo4j Browser, served by the managed server, in headless Chromium: log in, run a named
query with parameters, check the result on the page, save a screenshot."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli
from mdesign import cypher
from mdesign.kb import KnowledgeBase
from mdesign.kb.server import ManagedNeo4j
from playwright.sync_api import sync_playwright
from tables import write_toy

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def as_one_line(name: str) -> str:
    """The named query without its comment lines, on one line (the editor auto-indents)."""
    return " ".join(ln.strip() for ln in cypher.load(name).splitlines()
                    if ln.strip() and not ln.lstrip().startswith("//"))


def test_browser_runs_a_named_query(server: ManagedNeo4j, kb: KnowledgeBase,
                                    tmp_path: Path) -> None:
    space, table = write_toy(tmp_path, "toy-browser", {"toy-browser1": "node"})
    assert run_cli("kb", "import", "table", str(table), "--space", str(space)).returncode == 0
    best = kb.best_architectures("toy-browser1", 1)[0]
    url = run_cli("db", "browser").stdout.splitlines()[0]
    shot = server.home / "artifacts" / "browser.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.fill('input[data-testid="password"]', server.credentials()["password"])
            page.click('button[data-testid="connect"]')
            page.get_by_text("You are connected as user neo4j").wait_for(timeout=30_000)
            editor = page.locator('[data-testid="activeEditor"]')
            for command in (":param task => 'toy-browser1'", ":param limit => 3",
                            as_one_line("best_architectures")):
                editor.click()
                page.keyboard.type(command)
                page.keyboard.press("Control+Enter")
                page.wait_for_timeout(500)
            page.get_by_text(best.key).first.wait_for(timeout=30_000)
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000
