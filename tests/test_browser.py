"""Neo4j Browser, served by the managed server, in headless Chromium: log in, run a named
query with parameters, check the result on the page, save a screenshot; mdesign's guide
opens at connect with its style applied, and one of its cells runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import run_cli
from mdesign import cypher
from mdesign.kb import KnowledgeBase
from mdesign.kb.server import ManagedNeo4j, browser
from playwright.sync_api import Page, sync_playwright
from tables import write_toy

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def as_one_line(name: str) -> str:
    """The named query without its comment lines, on one line (the editor auto-indents)."""
    return " ".join(ln.strip() for ln in cypher.load(name).splitlines()
                    if ln.strip() and not ln.lstrip().startswith("//"))


def run_in_editor(page: Page, command: str) -> None:
    editor = page.locator('[data-testid="activeEditor"]')
    editor.click()
    page.keyboard.insert_text(command)
    page.keyboard.press("Control+Enter")
    page.wait_for_timeout(500)


@pytest.fixture()
def connected(server: ManagedNeo4j):
    """A headless Chromium page logged in to the managed server's Browser."""
    url = run_cli("db", "browser").stdout.splitlines()[0]
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = chromium.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.fill('input[data-testid="password"]', server.credentials()["password"])
            page.click('button[data-testid="connect"]')
            page.get_by_text("You are connected as user neo4j").wait_for(timeout=30_000)
            yield page
        finally:
            chromium.close()


def test_browser_runs_a_named_query(server: ManagedNeo4j, kb: KnowledgeBase, connected: Page,
                                    tmp_path: Path) -> None:
    space, table = write_toy(tmp_path, "toy-browser", {"toy-browser1": "node"})
    assert run_cli("kb", "import", "table", str(table), "--space", str(space)).returncode == 0
    best = kb.best_architectures("toy-browser1", 1)[0]
    shot = server.home / "artifacts" / "browser.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page = connected
    # The docs' `:params` form gives a float limit; the queries take it.
    for command in (":params {task: 'toy-browser1', limit: 3}", as_one_line("best_architectures")):
        run_in_editor(page, command)
    page.get_by_text(best.key).first.wait_for(timeout=30_000)
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000


def test_guide_opens_at_connect_styles_and_runs_a_cell(server: ManagedNeo4j, kb: KnowledgeBase,
                                                       connected: Page, tmp_path: Path) -> None:
    space, table = write_toy(tmp_path, "toy-guide", {"toy-guide1": "node"})
    assert run_cli("kb", "import", "table", str(table), "--space", str(space)).returncode == 0
    best = kb.best_architectures("toy-guide1", 2)
    page = connected
    # browser.post_connect_cmd: the style is applied and the guide opened, by themselves.
    page.get_by_text("The evidence behind every refinement").first.wait_for(timeout=30_000)
    styled = page.locator("pre", has_text="node.Architecture").first
    assert 'caption: "{key}"' in styled.inner_text()
    # The first slide says to choose a task; then the best_architectures slide's cells.
    run_in_editor(page, ":param task => 'toy-guide1'")
    run_in_editor(page, f":play {browser.guide_url(server.credentials()['http_port'])}"
                        f"#slide-{browser.slide_of('best_architectures')}")
    heading = page.locator("h3", has_text=re.compile(r"^best_architectures$"))
    slide = page.locator("div.slide", has=heading).first
    slide.wait_for(timeout=30_000)
    for cell in ("limit", "MATCH"):  # :param limit => 10, then the query
        slide.locator("pre.runnable", has_text=cell).first.click()
        page.keyboard.press("Control+Enter")
        page.wait_for_timeout(800)
    page.get_by_text(best[1].key).first.wait_for(timeout=30_000)
    # The graph slide's style names each edit's gain on the task in its caption.
    for command in (f":param uid => '{best[0].uid}'", ":param limit => 4",
                    ":style " + browser.task_style("toy-guide1"),
                    " ".join(browser.query_text("evidence_neighbourhood").split())):
        run_in_editor(page, command)
    page.wait_for_timeout(3000)
    captions = [t for t in page.locator("svg text").all_text_contents() if t and "→" in t]
    assert captions, "no edit caption in the graph view"
    assert all(re.match(r"^(agg|layers|act) \S+ → ", c) for c in captions), captions
    # long captions are cut with "…" in the drawing; the gains show where there is room
    assert any(re.match(r"^\w+ \S+ → \S+ -?\d", c) for c in captions), captions
    shot = server.home / "artifacts" / "browser-guide.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000
