"""Design spaces: the YAML format, canonical forms and neighbours (no database)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from mdesign.core.errors import InputError
from mdesign.core.space import DesignSpace, load_space, nas_bench_graph_hash
from nas_bench_graph import Arch

OPS = ["gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip"]
LINKS = ["0000", "0001", "0011", "0012", "0013", "0111", "0112", "0122", "0123"]

TOY = """
name: toy
dimensions:
  - {name: agg, choices: [add, mean, max]}
  - {name: layers, choices: [1, 2, 4]}
  - {name: skip, choices: [none, sum]}
constraints:
  - forbid: {agg: [max], layers: [4]}
    reason: max over 4 layers diverges
canonical:
  rules:
    - when: {layers: [1]}
      set: {skip: none}
"""


def toy() -> DesignSpace:
    import yaml

    return DesignSpace.from_dict(yaml.safe_load(TOY))


def test_nas_bench_graph_space_matches_the_package_canonicalisation() -> None:
    space = load_space("nas-bench-graph")
    archs = list(space.enumerate())
    assert len(archs) == 26206
    hashes = {nas_bench_graph_hash(a) for a in archs}
    assert len(hashes) == 26206  # one key per equivalence class
    # Every raw (link, ops) maps to the canonical architecture with the package's hash.
    for link, ops in itertools.islice(
            itertools.product(LINKS, itertools.product(OPS, repeat=4)), 0, 59049, 7):
        if all(o == "skip" for o in ops):
            continue
        raw = {"link": link, **{f"op{i + 1}": o for i, o in enumerate(ops)}}
        canon = space.canonical_form(raw)
        assert space.is_canonical(canon)
        assert nas_bench_graph_hash(canon) == Arch([int(c) for c in link], list(ops)).valid_hash()


def test_nas_bench_graph_neighbours_are_one_edit_away_and_distinct() -> None:
    space = load_space("nas-bench-graph")
    arch = space.parse_key("link=0123,op1=gcn,op2=gat,op3=sage,op4=skip")
    seen = set()
    for dim, frm, to, n in space.neighbours(arch):
        raw = dict(arch)
        assert raw[dim] == frm and frm != to
        raw[dim] = to
        assert space.canonical_form(raw) == n
        assert space.key(n) != space.key(arch)
        seen.add(space.key(n))
    assert len(seen) == len(list(space.neighbours(arch))) > 30


def test_product_space_rules_constraints_and_neighbours() -> None:
    s = toy()
    assert s.size() == 18
    archs = list(s.enumerate())
    # layers=1 collapses skip; agg=max with layers=4 is forbidden (2 archs).
    assert len(archs) == 18 - 3 - 2
    assert s.canonical_form({"agg": "add", "layers": 1, "skip": "sum"})["skip"] == "none"
    assert s.violation({"agg": "max", "layers": 4, "skip": "none"}) == \
        "max over 4 layers diverges"
    a = s.parse({"agg": "mean", "layers": "2", "skip": "sum"})
    assert a == {"agg": "mean", "layers": 2, "skip": "sum"}
    keys = sorted(s.key(n) for *_, n in s.neighbours(a))
    assert keys == ["agg=add,layers=2,skip=sum", "agg=max,layers=2,skip=sum",
                    "agg=mean,layers=1,skip=none", "agg=mean,layers=2,skip=none",
                    "agg=mean,layers=4,skip=sum"]
    # the key round-trips
    assert s.parse_key(s.key(a)) == a


@pytest.mark.parametrize("text, needle", [
    ("name: x\ndimensions: []\n", "dimensions"),
    ("name: x\ndimensions:\n  - {name: a, choices: [1, 1]}\n", "twice"),
    ("name: x\ndimensions:\n  - {name: uid, choices: [1]}\n", "identifier"),
    ("name: x\ndimensions:\n  - {name: a, choices: [1]}\nconstraints:\n"
     "  - forbid: {b: [1]}\n", "unknown dimension 'b'"),
    ("name: x\ndimensions:\n  - {name: a, choices: [1]}\nconstraints:\n"
     "  - forbid: {a: [7]}\n", "unknown choice 7"),
    ("name: x\ndimensions:\n  - {name: a, choices: [1]}\ncanonical: {function: nope}\n",
     "unknown canonical function"),
    ("name: x\ndimensions: [\n", "not valid YAML"),
    ("- just\n- a list\n", "does not hold a mapping"),
])
def test_bad_space_files_name_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "space.yaml"
    f.write_text(text)
    with pytest.raises(InputError) as err:
        DesignSpace.from_yaml(f)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_choice_and_missing_space_file() -> None:
    s = toy()
    with pytest.raises(InputError, match="unknown choice 'median' for dimension 'agg'"):
        s.parse({"agg": "median", "layers": 2, "skip": "sum"})
    with pytest.raises(InputError, match="missing dimension 'skip'"):
        s.parse({"agg": "add", "layers": 2})
    with pytest.raises(InputError, match="does not exist"):
        DesignSpace.from_yaml("/nonexistent/space.yaml")
    with pytest.raises(InputError, match="no built-in design space"):
        load_space("no-such-space")


@pytest.mark.parametrize("name", ["../kb/server/pom", "../spaces/graphgym", "/etc/passwd",
                                  "x" * 300, "graphgym\n"])
def test_builtin_space_names_are_never_paths(name: str) -> None:
    """A built-in space is looked up among the shipped files; no name reaches another file
    (``../spaces/graphgym`` names a real file, yet it is not a built-in name)."""
    with pytest.raises(InputError, match="no built-in design space") as err:
        DesignSpace.builtin(name)
    assert "\n" not in str(err.value) and len(str(err.value)) < 200
