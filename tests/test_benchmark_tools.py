"""Pieces of the benchmark library that need no server: the checkpoint that lets a long
benchmark resume, and the synthetic benchmark's paired "within noise" verdicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mdesign.benchmarks.protocol import Checkpoint
from mdesign.benchmarks.refine_synthetic import bootstrap_interval, paired
from mdesign.benchmarks.report import candidate_targets


def _rows_checkpoint(path: Path, fp: str, said: list[str]) -> Checkpoint[dict]:
    return Checkpoint(path, fp, said.append, encode=lambda row: {"row": row},
                      decode=lambda r: r["row"])


def test_checkpoint_keeps_any_json_value_and_resumes(tmp_path: Path) -> None:
    path, said = tmp_path / "b.partial.jsonl", []
    made: list[str] = []

    def make(key: str) -> dict:
        made.append(key)
        return {"valid": len(key) / 10, "key": key}

    first = _rows_checkpoint(path, "code-1", said)
    a = first.run("mutag|0|random", lambda: make("mutag|0|random"))
    first.run("mutag|0|tpe", lambda: make("mutag|0|tpe"))
    with path.open("a") as f:
        f.write('{"key": "mutag|1|random", "ro')  # torn by an interruption
    again = _rows_checkpoint(path, "code-1", said)
    assert said[-1].startswith("resuming: 2 finished runs")
    assert again.run("mutag|0|random", lambda: make("never")) == a
    again.run("mutag|1|random", lambda: make("mutag|1|random"))  # the torn one runs again
    assert made == ["mutag|0|random", "mutag|0|tpe", "mutag|1|random"]
    # other code or another knowledge base: nothing is read back, and it says so
    other = _rows_checkpoint(path, "code-2", said)
    assert other.runs == {} and "starting afresh" in said[-1]
    other.done()
    assert not path.exists()


def test_paired_verdicts_need_the_whole_interval_on_one_side() -> None:
    def row(method: str, shares: dict[str, list[float]]) -> dict:
        return {"shared": 0.0, "method": method, "budget": 5, "per_target": shares}

    base = {f"0/t{i}": [10.0, 10.0] for i in range(6)}
    worse = {t: [v * 3 for v in vs] for t, vs in base.items()}      # 3x the share each time
    mixed = {f"0/t{i}": [10.0 * (3 if i % 2 else 1 / 3)] * 2 for i in range(6)}
    for shares, verdict in ((worse, "behind"), (mixed, "within noise")):
        (p,) = paired([row("a", shares), row("b", base)], "a", "b")
        assert p["verdict"] == verdict and p["targets"] == 6
    (p,) = paired([row("a", base), row("b", worse)], "a", "b")
    assert p["verdict"] == "ahead" and abs(p["mean_log10_diff"] + np.log10(3)) < 1e-12
    lo, hi = bootstrap_interval(np.array([0.1, 0.2, 0.3, 0.4]))
    assert 0.1 <= lo < 0.25 < hi <= 0.4
    assert (lo, hi) == bootstrap_interval(np.array([0.1, 0.2, 0.3, 0.4]))  # seeded


def test_large_space_benchmark_pays_by_formula_and_ranks_exactly() -> None:
    """benchmarks/refine_large.py: the 16.8-million space is never enumerated by the
    methods (TPE takes a predicate, the surrogate rebuilds candidates), and the report's
    share comes from every architecture's score."""
    from mdesign.benchmarks import baselines
    from mdesign.benchmarks import refine_large as large

    space, tasks = large.large_space(), large.family(0.5, 0)
    assert space.size() == 8 ** 8
    target = tasks["t0"]
    every = target.every_score()
    assert len(every) == 8 ** 8 and bool(np.all(np.diff(every) >= 0))
    key = space.key({f"d{i}": f"c{(3 * i) % 8}" for i in range(8)})
    s = np.float32(target.of_key(key))
    assert every[np.searchsorted(every, s)] == s  # a paid score is one of the space's
    oracle = large.FormulaEvaluator(space, "t0", target, 4)
    baselines.tpe(space, oracle, 0, accept=oracle.can_evaluate)
    assert oracle.spent == 4
    ev = large.evidence_for(space, tasks, "t0", 0)
    assert len(ev.tables["t1"].results) > 1_900 and not ev.tables["t0"].results
    paid, overheads = large.run("mdesign-surrogate", space, ev, "t0", target, 0, 4)
    assert len(paid) == 4 and len(overheads) >= 1
    # with shared share 0.5 the sources point somewhere: better than the median
    assert max(paid) > float(np.median(every))


def test_candidate_targets_count_a_tie_as_at_least() -> None:
    # the same returned scores averaged in a different order differ in the last bits;
    # "at least every peer" must still count the tie
    scores = [80.2, 79.0, 81.4, 80.6, 79.8]
    tie_a = sum(scores) / 5
    tie_b = sum(reversed(scores)) / 5 + 1e-13
    assert tie_a < tie_b

    def row(task: str, budget: int, method: str, valid: float) -> dict:
        return {"task": task, "budget": budget, "method": method, "valid_mean": valid,
                "overhead_ms_per_step": None}

    rows = [row("a", 20, "cand", tie_a), row("a", 20, "random", tie_b),
            row("a", 100, "regevo", tie_b),
            row("b", 20, "cand", 70.0), row("b", 20, "random", 70.5),
            row("b", 100, "regevo", 69.0)]
    out = candidate_targets(rows, ["a", "b"], "cand", peers=("random",))
    assert out["cand@20 valid >= every peer (random)"] == "1/2"
    assert out["cand@20 valid >= regevo@100 valid (target: 8 of 9)"] == "2/2 (a, b)"


def test_train_transfer_says_which_step_found_the_returned_architecture() -> None:
    from mdesign.benchmarks.train_transfer import carried_by, found_by
    from mdesign.refinement.config import RefinementStep

    def step(n: int, kind: str, uid: str, p: float | None) -> RefinementStep:
        return RefinementStep(step=n, kind=kind, uid=uid, score=0.5, best_uid=uid,
                              best_score=0.5, transfer_probability=p)

    steps = [step(1, "design", "a", None), step(2, "design", "b", None),
             step(3, "search", "a", 0.9),  # a free re-read: no evaluation spent
             step(4, "search", "c", 0.8), step(5, "search", "d", 0.3),
             step(6, "search", "b", 0.3)]  # a repeat: the first payment counts
    runs = {u: found_by(steps, u) for u in "abcd"}
    assert runs["b"] == {"found_at": 2, "found_by": "design", "p_at_choice": None}
    assert [runs[u]["found_at"] for u in "cd"] == [3, 4]
    assert [carried_by(runs[u]) for u in "abcd"] == [
        "first design", "first design", "transfer-led search", "target-led search"]
    assert carried_by({"found_at": 3, "found_by": "search", "p_at_choice": 0.5}) == \
        "transfer-led search"
    assert carried_by({"found_at": 3, "found_by": "edit", "p_at_choice": None}) == "edit"
    with pytest.raises(ValueError, match="not among the run's 6 paid steps"):
        found_by(steps, "z")


def test_train_transfer_reads_the_methods_it_does_not_run(tmp_path: Path) -> None:
    """``--methods``: the other methods' runs come from the previous file, and a file that
    cannot provide them (missing, another budget, a method absent) stops with one line."""
    import json

    from mdesign.benchmarks.train_transfer import EPOCHS, METHODS, kept_rows, markdown, reran

    def runs(v: float) -> list[dict]:
        return [{"valid": v, "test": v, "found_at": 1, "found_by": "edit",
                 "p_at_choice": None} for _ in range(2)]

    path = tmp_path / "tt.json"
    old = {"budget": 12, "seeds": 2, "epochs": EPOCHS,
           "tasks": {"t": {m: {"runs": runs(0.5 + i / 10)} for i, m in enumerate(METHODS)}}}
    path.write_text(json.dumps(old))
    kept = kept_rows(path, ["t"], ["mdesign"], 2, 12)
    assert set(kept["t"]) == set(METHODS) - {"mdesign"}
    assert kept["t"]["random"] == old["tasks"]["t"]["random"]["runs"]
    for problem, args in (("holds budget 12", (["t"], ["mdesign"], 2, 10)),
                          ("holds no run of", (["u"], ["mdesign"], 2, 12))):
        with pytest.raises(SystemExit, match=problem):
            kept_rows(path, *args)
    with pytest.raises(SystemExit, match="does not exist"):
        kept_rows(tmp_path / "none.json", ["t"], ["mdesign"], 2, 12)
    assert reran({"ran": list(METHODS)}) == ""
    assert "for mdesign (the other methods' runs read from" in reran({"ran": ["mdesign"]})
    o = {"machine": {"cpu": "x", "cores": 2}, "epochs": EPOCHS, "budget": 12, "seeds": 2,
         "wall_s": 1.0, "ran": ["mdesign"], "tasks": {"t": {
             m: {"runs": v["runs"], "valid_mean": 50.0, "valid_sd": 0.0, "test_mean": 50.0,
                 "test_sd": 0.0} for m, v in old["tasks"]["t"].items()}}}
    assert "read from earlier runs of this file" in markdown(o)


def test_protocol_keeps_what_chose_each_paid_architecture(tmp_path: Path) -> None:
    from mdesign.benchmarks.protocol import Trajectory, found_label
    from mdesign.benchmarks.report import found_by_markdown
    from mdesign.core.evaluation import Evaluation
    from mdesign.refinement.config import Provenance

    paid = [Evaluation(uid=u, score=s) for u, s in (("a", 0.5), ("b", 0.7), ("c", 0.9))]
    traj = Trajectory(paid, 1.0, None, ["design", "transfer-led search",
                                        "target-led search"])
    assert [traj.found_by_at(b) for b in (1, 2, 3)] == [
        "design", "transfer-led search", "target-led search"]
    assert Trajectory(paid).found_by_at(3) is None  # a baseline records none
    # kept across an interruption, with the trajectory
    kept = Checkpoint(tmp_path / "p.jsonl", "fp", lambda _: None)
    kept.run("k", lambda: traj)
    again = Checkpoint(tmp_path / "p.jsonl", "fp", lambda _: None)
    assert again.run("k", lambda: Trajectory([])).how == traj.how
    assert found_label(Provenance(evaluation=4, kind="search",
                                  transfer_probability=0.2)) == "target-led search"
    assert found_label(Provenance(evaluation=1, kind="edit")) == "edit"
    rows = [{"method": "m", "budget": 5, "found_by": {"design": 3, "target-led search": 1}},
            {"method": "m", "budget": 5, "found_by": {"design": 1}},
            {"method": "random", "budget": 5}]
    table = found_by_markdown(rows)
    assert "| m | 5 | design 4 (80%), target-led search 1 (20%) |" in table
    assert not any("| random |" in line for line in table)
    assert found_by_markdown(rows[2:]) == []



def test_refine_benchmark_reruns_only_the_named_methods(tmp_path: Path) -> None:
    """``refine_nasbenchgraph.py --rerun``: the named methods' rows and curves replace the
    previous file's, the others are kept, rows follow the order of ``--methods``, the
    targets are those of the merged rows, and a previous run of other budgets or without
    a kept method is refused with one line."""
    from mdesign.benchmarks.refine_nasbenchgraph import merge_previous
    from mdesign.benchmarks.report import reran_text

    def row(task: str, method: str, budget: int, valid: float) -> dict:
        return {"task": task, "method": method, "budget": budget, "valid_mean": valid,
                "test_mean": valid, "runs": 1, "split": "valid_test",
                "overhead_ms_per_step": 3.0}

    tasks, budgets = ["cora", "pubmed"], [5, 10]
    before, every, rerun = ["mdesign", "b", "c"], ["mdesign", "b", "c", "d"], ["b", "d"]
    common = {"tasks": tasks, "budgets": budgets, "seeds": 5, "select": "valid"}
    previous = {**common, "methods": before, "wall_s": 900.0,
                "deterministic": {"mdesign": True},
                "rows": [row(t, m, b, 1.0) for t in tasks for m in before for b in budgets],
                "curves": {f"{t}|{m}": [1.0] for t in tasks for m in before}}
    new = {**common, "methods": rerun, "wall_s": 30.0, "deterministic": {}, "targets": {},
           "rows": [row(t, m, b, 2.0) for t in tasks for m in rerun for b in budgets],
           "curves": {f"{t}|{m}": [2.0] for t in tasks for m in rerun}}
    path = tmp_path / "refine_transfer.json"
    out = merge_previous(previous, new, every, rerun, path)
    assert [(r["task"], r["method"], r["budget"]) for r in out["rows"]] == \
        [(t, m, b) for t in tasks for m in every for b in budgets]
    assert {r["method"]: r["valid_mean"] for r in out["rows"]} == \
        {"mdesign": 1.0, "b": 2.0, "c": 1.0, "d": 2.0}
    assert list(out["curves"]) == [f"{t}|{m}" for t in tasks for m in every]
    assert out["curves"]["cora|b"] == [2.0] and out["curves"]["cora|c"] == [1.0]
    assert out["deterministic"] == {"mdesign": True} and out["methods"] == every
    # recomputed over the merged rows: the kept method's overhead, which the new run lacks
    assert out["targets"] == {"mdesign overhead per step (median of run medians)": "3.0 ms"}
    assert out["reran"] == rerun
    assert out["runs"] == [{"methods": rerun, "wall_s": 30.0},
                           {"methods": ["mdesign", "c"], "wall_s": 900.0}]
    assert reran_text(out) == (" for b, d (the other methods' rows read from an earlier run "
                               "of this file, whose wall time was 900.0 s)")
    assert reran_text(previous) == ""
    # re-running the same methods again: the kept rows still come from the 900 s run
    again = merge_previous(out, {**new, "wall_s": 31.0}, every, rerun, path)
    assert again["rows"] == out["rows"] and again["runs"][1:] == out["runs"][1:]
    # a rerun of another method next: each kept row names the run that produced it
    only_c = {**new, "methods": ["c"], "wall_s": 12.0,
              "rows": [row(t, "c", b, 3.0) for t in tasks for b in budgets],
              "curves": {f"{t}|c": [3.0] for t in tasks}}
    chained = merge_previous(out, only_c, every, ["c"], path)
    assert chained["runs"] == [{"methods": ["c"], "wall_s": 12.0},
                               {"methods": rerun, "wall_s": 30.0},
                               {"methods": ["mdesign"], "wall_s": 900.0}]
    assert reran_text(chained) == (" for c (the other methods' rows read from earlier runs of "
                                   "this file: b, d from one of 30.0 s; the others from one "
                                   "of 900.0 s)")
    with pytest.raises(SystemExit, match="holds a run with budgets"):
        merge_previous({**previous, "budgets": [5, 10, 20]}, new, every, rerun, path)
    with pytest.raises(SystemExit, match="holds no run of e; fix: run every method"):
        merge_previous(previous, new, ["mdesign", "b", "e", "d"], rerun, path)


def test_nested_selection_holds_each_inner_pair_out_of_every_choice() -> None:
    """``benchmarks/nested_selection.py``: each rule chooses without the held-out pair;
    a configuration best on every other target of its outer dataset but worst on the
    held-out one is what the per-dataset rule picks, and pays for."""
    from mdesign.benchmarks.nested_selection import held_out

    def runs(**by_target: float) -> dict[str, list[float]]:
        return {t: [v, v] for t, v in by_target.items()}

    # outer A: "b" wins on x and y, loses badly on z; outer B: "a" wins everywhere
    inner = {"A": {"a": runs(x=0.0, y=0.0, z=0.0), "b": runs(x=-1.0, y=-1.0, z=5.0)},
             "B": {"a": runs(x=-1.0, y=-1.0, z=-1.0), "b": runs(x=0.0, y=0.0, z=0.0)}}
    out = held_out(inner, default="a")
    assert out["pairs"] == 6
    rules = out["rules"]
    # holding out (A, z): the per-dataset rule sees only x and y of A and picks "b"
    assert rules["per dataset"]["per_pair"][2] == 5.0
    assert rules["per dataset"]["choices"] == {"b": 1, "a": 5}
    assert rules["fixed"]["choices"] == {"a": 6}
    assert rules["fixed"]["criterion"] == pytest.approx((0 + 0 + 0 - 1 - 1 - 1) / 6)
    # the oracle is the lowest on each pair; no rule is below it
    assert rules["oracle"]["per_pair"] == [-1.0, -1.0, 0.0, -1.0, -1.0, -1.0]
    assert all(rules["oracle"]["criterion"] <= r["criterion"] for r in rules.values())
    assert rules["overall"]["by_budget"] == pytest.approx(
        [rules["overall"]["criterion"]] * 2)


def test_nested_selection_pairs_each_configuration_with_the_default_by_target() -> None:
    """The paired table: per inner target, the mean over the outer datasets that hold it
    of the criterion difference; a configuration lower on every target is "ahead", one
    that is lower and higher by turns is "within noise"."""
    from mdesign.benchmarks.nested_selection import paired_by_target

    def runs(**by_target: float) -> dict[str, list[float]]:
        return {t: [v, v] for t, v in by_target.items()}

    inner = {"A": {"d": runs(x=0.0, y=0.0, z=0.0), "a": runs(x=-1.0, y=-2.0, z=-1.0),
                   "n": runs(x=1.0, y=-1.0, z=1.0)},
             "B": {"d": runs(x=0.0, y=0.0, z=0.0), "a": runs(x=-1.0, y=-1.0, z=-1.0),
                   "n": runs(x=-1.0, y=1.0, z=-1.0)}}
    ahead = paired_by_target(inner, "a", default="d")
    assert ahead["by_target"] == {"x": -1.0, "y": -1.5, "z": -1.0}
    assert ahead["verdict"] == "ahead" and ahead["lower_on"] == 3
    assert ahead["mean_diff"] == pytest.approx(-3.5 / 3)
    noise = paired_by_target(inner, "n", default="d")
    assert noise["by_target"] == {"x": 0.0, "y": 0.0, "z": 0.0}
    assert noise["verdict"] == "within noise" and noise["lower_on"] == 0


def test_dev_protocol_pairs_each_configuration_with_the_default_by_target() -> None:
    """``benchmarks/dev_protocol.py``: a configuration lower than the default on every
    target is ahead, one that only trades targets is within noise, and the differences
    by shared share average only that share's targets."""
    from mdesign.benchmarks.dev_protocol import DEFAULT, markdown, paired_with_default

    keys = [f"{share}|{seed}|t{i}" for share, seed in ((0.0, 100), (0.5, 105), (1.0, 110))
            for i in range(4)]
    base = {k: float(i) for i, k in enumerate(keys)}
    better = {k: v - 0.5 for k, v in base.items()}
    traded = {k: v + (0.5 if i % 2 else -0.5) for i, (k, v) in enumerate(base.items())}
    rows = {p["config"]: p for p in paired_with_default(
        {DEFAULT: base, "better": better, "traded": traded})}
    assert set(rows) == {"better", "traded"}
    assert rows["better"]["verdict"] == "ahead" and rows["better"]["diff"] == -0.5
    assert (rows["better"]["lower"], rows["better"]["higher"]) == (12, 0)
    assert rows["traded"]["verdict"] == "within noise"
    assert (rows["traded"]["lower"], rows["traded"]["higher"]) == (6, 6)
    assert rows["traded"]["by_share"] == {"0.0": 0.0, "0.5": 0.0, "1.0": 0.0}
    assert rows["better"]["by_share"] == {"0.0": -0.5, "0.5": -0.5, "1.0": -0.5}
    out = {"machine": {"cpu": "x", "cores": 2}, "wall_s": 1.0, "tasks": 7, "families": 1,
           "targets": 4, "rows": [], "per_target": {DEFAULT: base},
           "paired": list(rows.values())}
    text = markdown(out)
    assert "Paired with the default by target (12 targets" in text
    assert "| better | -0.500 | [-0.500, -0.500] | ahead | 12 / 0 | -0.500 |" in text
