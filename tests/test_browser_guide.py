"""mdesign's Neo4j Browser guide and style sheet, as files (no server): every public query
has a slide that sets its parameters as Browser reads them, the style parses the way
Browser's GraSS reader does, and the Browser copy that carries them is built once."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
from mdesign import cypher
from mdesign.kb.server import browser


def grass_like_browser(text: str) -> dict[str, dict[str, str]]:
    """Browser 5's GraSS reader, restated: quotes toggle (and are dropped), braces open
    and close a rule, and a declaration is kept only when it splits on ':' in two."""
    rules: dict[str, dict[str, str]] = {}
    selector, body, in_quote, in_rule = "", "", False, False
    for ch in text:
        if ch in "'\"":
            in_quote = not in_quote
            continue
        if ch == "{" and not in_quote and not in_rule:
            in_rule = True
            continue
        if ch == "}" and not in_quote and in_rule:
            decls = {}
            for d in body.split(";"):
                parts = d.split(":")
                if len(parts) == 2:
                    decls[parts[0].strip()] = parts[1].strip()
            rules[selector] = decls
            selector, body, in_rule = "", "", False
            continue
        if in_rule:
            body += ch
        elif not ch.isspace():
            selector += ch
    return rules


def test_every_declaration_of_the_style_survives_browsers_reader() -> None:
    text = browser.style()
    rules = grass_like_browser(text)
    declared = len(re.findall(r";\s*$", text, flags=re.MULTILINE))
    assert sum(len(d) for d in rules.values()) == declared
    assert rules["node.Architecture"]["caption"] == "{key}"
    assert rules["node.Task"]["caption"] == "{name}"
    assert rules["relationship.RESULT"]["caption"] == "{score}"
    assert "{dimension}" in rules["relationship.EDIT"]["caption"]
    # The one-line form of the guide's `:style` cell reads the same.
    assert grass_like_browser(" ".join(browser.style_rules())) == rules


def test_every_public_query_has_a_slide_with_its_parameters() -> None:
    guide = browser.guide_html()
    slides = re.findall(r'<slide class="row-fluid">(.*?)</slide>', guide, flags=re.DOTALL)
    names = browser.public_queries()
    assert len(slides) == 1 + len(names)
    assert set(n for n in cypher.names() if cypher.is_public(n)) <= set(names)
    for name in names:
        slide = slides[browser.slide_of(name) - 1]
        assert f"<h3>{name}</h3>" in slide
        cells = [c for c in re.findall(r"<pre[^>]*>(.*?)</pre>", slide, flags=re.DOTALL)]
        query = browser.query_text(name)
        assert cells[-1] == query.replace("&", "&amp;").replace("<", "&lt;").replace(
            ">", "&gt;").replace('"', "&quot;").replace("'", "&#x27;")
        set_here = {m.group(1) for c in cells[:-1] if (m := re.match(r":param (\w+) =&gt;", c))}
        needed = set(cypher.parameters(name)) - {"task", "uid"}
        assert needed <= set_here, name


def test_the_graph_slide_styles_edits_with_their_gain_on_a_task() -> None:
    rules = json.loads(browser.task_style("cora"))
    assert rules["relationship.EDIT"]["caption"].endswith("{gain:cora}")
    assert rules["node.Architecture"] == browser.parse_style(browser.style())["node.Architecture"]
    assert browser.parse_style(browser.style()) == grass_like_browser(browser.style())
    guide = browser.guide_html()
    slide = re.findall(r'<slide class="row-fluid">(.*?)</slide>', guide, flags=re.DOTALL)[
        browser.slide_of("evidence_neighbourhood") - 1]
    assert "{gain:cora}" in slide and ":style {" in slide


def test_param_cells_are_cypher_literals() -> None:
    # `=> 10` is an integer in Browser (the `{limit: 10}` form makes 10.0).
    assert browser.param_commands("best_architectures") == [":param limit => 10"]
    assert ":param max_params => null" in browser.param_commands("best_architectures_within")
    assert browser.param_commands("task_similarity") == [
        ":param task_a => 'cora'", ":param task_b => 'citeseer'"]


def test_post_connect_opens_the_guide_and_applies_the_style() -> None:
    cmds = [c.strip() for c in browser.post_connect_commands(7999).split(";")]
    assert cmds == ["style http://127.0.0.1:7999/browser/mdesign/style.grass",
                    "play http://127.0.0.1:7999/browser/mdesign/guide.html"]


def test_overlay_jar_is_built_once_and_replaces_an_older_one(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    with zipfile.ZipFile(lib / "neo4j-browser-5.24.0.jar", "w") as jar:
        jar.writestr("browser/index.html", "<html></html>")
    dest = tmp_path / "overlay"
    dest.mkdir()
    (dest / f"{browser.OVERLAY_PREFIX}000000000000.jar").write_bytes(b"old")
    first = browser.overlay_jar(lib, dest)
    assert [p.name for p in dest.iterdir()] == [first.name]
    assert first.stat().st_mode & 0o077 == 0
    with zipfile.ZipFile(first) as jar:
        assert jar.read("browser/index.html") == b"<html></html>"
        assert jar.read(browser.GUIDE_PATH).decode() == browser.guide_html()
        assert jar.read(browser.STYLE_PATH).decode() == browser.style()
    stamp = first.stat().st_mtime_ns
    assert browser.overlay_jar(lib, dest) == first
    assert first.stat().st_mtime_ns == stamp


def test_overlay_jar_needs_the_browser_jar(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="neo4j-browser"):
        browser.overlay_jar(tmp_path, tmp_path / "overlay")
