"""mdesign's guide and style for Neo4j Browser, served by the managed server itself.

Neo4j serves Browser from the first ``browser/`` folder on its class path. The managed
server puts a copy of the Browser jar with two more files in front of that path
(:func:`overlay_jar`): ``browser/mdesign/guide.html`` (:func:`guide_html`, made from the
named queries, so it cannot drift from them) and ``browser/mdesign/style.grass``. Both
are then served from the Browser's own origin: no second web server, no CORS, nothing
listening beyond the server's loopback port. The server's ``browser.post_connect_cmd``
applies the style and opens the guide at every connect (:func:`post_connect_commands`).

The guide has one slide per public query: what it shows, a ``:param`` cell per
parameter (Cypher literals after ``=>``, so ``10`` is an integer, not the float that
``:params {limit: 10}`` makes) and the query itself. A cell is put into the editor by a
click and run with Ctrl+Enter, as in Neo4j's own guides.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import re
import shutil
import zipfile
from importlib import resources
from pathlib import Path

from mdesign import cypher

GUIDE_PATH = "browser/mdesign/guide.html"
STYLE_PATH = "browser/mdesign/style.grass"
OVERLAY_PREFIX = "neo4j-browser-mdesign-"

# Example values of the parameters that a query requires (no default in its header).
# Literals of Cypher, as Browser's `:param name => value` reads them; `task` and `uid`
# are chosen once, on the first slide.
EXAMPLES = {
    "tasks": "['cora', 'citeseer', 'pubmed']",
    "task_a": "'cora'",
    "task_b": "'citeseer'",
    "space": "'nas-bench-graph'",
    "name": "'nas-bench-graph'",
}
CHOSEN_FIRST = ("task", "uid")
FIRST_TASK = "'cora'"
# The best architecture of that task. Browser evaluates `:param uid => X` as `RETURN X`
# without the parameters already set, so the task is written out here too.
FIRST_UID = ("COLLECT { MATCH (a:Architecture)-[r:RESULT]->(:Task {name: " + FIRST_TASK
             + "}) RETURN a.uid ORDER BY r.score DESC, a.uid LIMIT 1 }[0]")


def style() -> str:
    """The GraSS style sheet: architectures show their key, tasks their name, edits their
    dimension and choices, results their score. (Browser's GraSS reader takes no
    comments, and a caption must hold no ``:``: a declaration splits on it.)"""
    return resources.files(__package__).joinpath("mdesign.grass").read_text(encoding="utf-8")


def guide_url(http_port: int) -> str:
    return f"http://127.0.0.1:{http_port}/{GUIDE_PATH}"


def style_url(http_port: int) -> str:
    return f"http://127.0.0.1:{http_port}/{STYLE_PATH}"


def post_connect_commands(http_port: int) -> str:
    """Browser commands run at every connect: apply mdesign's style, open the guide
    (Browser puts the leading ``:`` in front of each itself)."""
    return f"style {style_url(http_port)}; play {guide_url(http_port)}"


def query_text(name: str) -> str:
    """A named query without its comment lines, as a guide cell shows it."""
    return cypher.strip_comments(cypher.load(name)).strip()


def param_commands(name: str) -> list[str]:
    """The ``:param`` commands that a query needs before it runs in Browser: each
    parameter's default from the query's header, else an example value; ``task`` and
    ``uid`` are set once on the first slide."""
    defaults = cypher.defaults(name)
    out = []
    for p in cypher.parameters(name):
        if p in CHOSEN_FIRST and p not in defaults:
            continue
        value = json.dumps(defaults[p]) if p in defaults else EXAMPLES.get(p)
        if value is None:
            raise KeyError(f"query {name!r}: no default or example for ${p}")
        out.append(f":param {p} => {value}")
    return out


def _cell(text: str, caption: str = "") -> str:
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (f'<figure><pre class="pre-scrollable code runnable">{html.escape(text)}</pre>'
            f"{cap}</figure>")


def _paragraphs(text: str) -> str:
    """A query's description as paragraphs (its header wraps lines at 90 columns)."""
    blocks, current = [], []
    for line in text.splitlines():
        if line.startswith("$"):  # the parameter lines: one paragraph of their own
            if current:
                blocks.append(" ".join(current))
            blocks.append(line)
            current = []
        else:
            current.append(line)
    if current:
        blocks.append(" ".join(current))
    return "".join(f"<p>{_inline(b)}</p>" for b in blocks if b.strip())


def _inline(text: str) -> str:
    """Escaped text with its `backtick` spans as code."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _slide(title: str, lead: str, body: str) -> str:
    return ('<slide class="row-fluid"><div class="col-sm-3">'
            f'<h3>{html.escape(title)}</h3><p class="lead">{html.escape(lead)}</p></div>'
            f'<div class="col-sm-9">{body}</div></slide>')


def parse_style(text: str) -> dict[str, dict[str, str]]:
    """The rules of a GraSS text as {selector: {property: value}}: braces inside quoted
    values (``caption: "{key}"``) do not open a rule; the quotes are dropped."""
    rules: dict[str, dict[str, str]] = {}
    selector, body, quoted, inside = "", "", False, False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif ch == "{" and not quoted and not inside:
            inside = True
        elif ch == "}" and not quoted and inside:
            decls = {}
            for decl in body.split(";"):
                key, sep, value = decl.partition(":")
                if sep:
                    decls[key.strip()] = value.strip()
            rules[selector.strip()] = decls
            selector, body, inside = "", "", False
        elif inside:
            body += ch
        else:
            selector += ch
    return rules


def task_style(task: str) -> str:
    """mdesign's style with each edit's gain on ``task`` in its caption, as the JSON form
    of GraSS that ``:style`` also reads (a caption naming ``gain:TASK`` cannot be written
    in GraSS text: Browser splits a declaration on every ``:``)."""
    rules = parse_style(style())
    edit = rules["relationship.EDIT"]
    edit["caption"] = edit["caption"] + " {gain:" + task + "}"
    return json.dumps(rules, ensure_ascii=False)


def _extra_cells(name: str) -> str:
    """Cells a query's slide adds before the query itself."""
    if name != "evidence_neighbourhood":
        return ""
    return _cell(":style " + task_style(FIRST_TASK.strip("'")),
                 "Each edit's caption with its gain on the task (score of its end minus "
                 "its start): write your task in gain:cora. A caption can only name "
                 "fixed properties, so the style applied at connect leaves gains out.")


def _query_slide(name: str) -> str:
    cells = "".join(_cell(c) for c in param_commands(name)) + _extra_cells(name)
    body = _paragraphs(cypher.description(name)) + cells + _cell(
        query_text(name), f"Named query {name} (cypher/{name}.cypher; the same text "
                          f"runs in `mdesign query {name}`).")
    first = " ".join(ln for ln in cypher.description(name).splitlines()
                     if not ln.startswith("$"))
    lead = re.split(r"(?<=[.:;])\s", first, maxsplit=1)[0].rstrip(".:;") + "."
    return _slide(name, lead, body)


def public_queries() -> list[str]:
    """The queries the guide shows: the public ones, then those for the graph view."""
    return ([n for n in cypher.names() if cypher.is_public(n)]
            + [n for n in cypher.names() if cypher.is_browser(n)])


def slide_of(name: str) -> int:
    """The slide of a query, counted from 1 as Browser's ``:play URL#slide-N`` does."""
    return 2 + public_queries().index(name)


def guide_html() -> str:
    """The mdesign Browser guide (a ``:play`` guide: an ``article`` of slides)."""
    first = _slide(
        "mdesign", "The evidence behind every refinement, as named queries you can run.",
        "<p>The knowledge base holds architectures of design spaces, tasks, trained "
        "results (<code>RESULT</code>: each architecture's score on a task, higher is "
        "better) and edit evidence (<code>EDIT</code>: two architectures one dimension "
        "apart, with the gain of that edit on each task as <code>gain:TASK</code>).</p>"
        "<p>Click a grey cell to put it into the editor, then run it with Ctrl+Enter. "
        "Choose a task first (any name that <code>task_list</code> shows), then the "
        "architecture the next slides start from: the task's best by default.</p>"
        + _cell(f":param task => {FIRST_TASK}", "The task every slide reads.")
        + _cell(f":param uid => {FIRST_UID}",
                "The task's best architecture (write your task here too; any uid, "
                "space/key, will do).")
        + "<p>Graphs are drawn with mdesign's style: an architecture shows its key, a task "
          "its name, an edit its dimension and choices, a result its score. It is applied "
          "at every connect; this cell applies it again.</p>"
        + _cell(":style " + " ".join(style_rules()), "mdesign's style sheet (GraSS)."))
    slides = [first] + [_query_slide(n) for n in public_queries()]
    return ('<article class="guide"><carousel class="deck container-fluid">'
            + "".join(slides) + "</carousel></article>\n")


def style_rules() -> list[str]:
    """The style sheet's rules, one item each (for a one-line ``:style`` cell)."""
    rules, current = [], []
    for line in style().splitlines():
        line = line.strip()
        if line:
            current.append(line)
        if line == "}":
            rules.append(" ".join(current))
            current = []
    return rules


def overlay_jar(browser_lib: Path, dest: Path) -> Path:
    """A copy of the Browser jar in ``browser_lib`` with the guide and style added, in
    ``dest`` (built once per content: its name holds a hash of what it adds; older ones
    are removed). Written beside its final name and renamed, so a start that is cut
    short never leaves half a jar on the class path."""
    jars = sorted(browser_lib.glob("neo4j-browser-*.jar"))
    if not jars:
        raise FileNotFoundError(f"no neo4j-browser jar in {browser_lib}")
    added = {GUIDE_PATH: guide_html().encode(), STYLE_PATH: style().encode()}
    digest = hashlib.sha256(jars[-1].name.encode())
    for path, data in sorted(added.items()):
        digest.update(path.encode() + b"\0" + data)
    target = dest / f"{OVERLAY_PREFIX}{digest.hexdigest()[:12]}.jar"
    if not target.exists():
        dest.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = target.with_suffix(".jar.tmp")
        shutil.copyfile(jars[-1], tmp)
        with zipfile.ZipFile(tmp, "a", compression=zipfile.ZIP_DEFLATED) as jar:
            for path, data in added.items():
                jar.writestr(path, data)
        os.chmod(tmp, 0o600)
        tmp.replace(target)
    for old in dest.glob(f"{OVERLAY_PREFIX}*.jar"):
        if old != target:
            old.unlink(missing_ok=True)
    return target
