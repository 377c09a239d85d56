"""Does choosing a configuration per dataset generalise? A check of ``mdesign-nested``'s
rule on the development protocol's own results, running nothing.

    python benchmarks/nested_selection.py

``mdesign-nested`` runs, for each outer dataset T, the configuration with the lowest
criterion over T's 8 inner targets; the surrogate's default is the lowest over all 72
inner pairs. Both rules are applied here one level further in: each inner pair (T, t) is
held out in turn, and each rule chooses without it, then is scored on it.

* per dataset: the lowest criterion over T's other 7 inner targets (``mdesign-nested``'s
  rule, one target fewer);
* overall: the lowest criterion over every inner pair whose target is not t (64 pairs:
  nothing of t's table is read);
* fixed: the surrogate's present default, whatever the pairs say (chosen on all 72, so
  optimistic by as much as one pair in 72 moves a mean);
* oracle: the lowest criterion on the held-out pair itself (a bound no rule reaches).

A second table pairs every configuration with the default by inner target (the unit
that varies: 9 targets, each the mean over the 8 outer datasets that hold it): the mean
difference of the criterion, its 95% bootstrap interval over the targets, and the
targets where the configuration is lower.

Reads ``benchmarks/results/nested_protocol.json``; writes
``benchmarks/results/nested_selection.{json,md}``. Lower is better everywhere (mean log10
of the share, %, of the inner target's space at least as good by validation, over the
protocol's budgets).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from typing import Any

import numpy as np
from mdesign.benchmarks.refine_synthetic import bootstrap_interval, interval_verdict
from mdesign.benchmarks.report import RESULTS, save

DEFAULT = "surrogate, UCB"


def _criterion(runs: list[list[float]]) -> float:
    return statistics.mean(v for r in runs for v in r)


def held_out(inner: dict[str, dict[str, dict[str, list[float]]]],
             default: str = DEFAULT) -> dict[str, Any]:
    """Each rule's choice and result on every held-out inner pair (the module's
    docstring); ``inner[outer][config][target]`` is a run's log10 shares by budget."""
    configs = list(next(iter(inner.values())))
    pairs = [(o, t) for o, per in inner.items() for t in per[configs[0]]]
    rules: dict[str, list[list[float]]] = {"per dataset": [], "overall": [], "fixed": [],
                                           "oracle": []}
    picks: dict[str, Counter[str]] = {r: Counter() for r in rules}
    def overall(held: str) -> str:
        crit = {c: _criterion([inner[o][c][t] for o, t in pairs if t != held])
                for c in configs}
        return min(crit, key=crit.__getitem__)

    # the overall rule reads every pair but the held-out target's: one choice per target
    wide = {t: overall(t) for t in dict.fromkeys(t for _, t in pairs)}
    for outer, target in pairs:
        per = inner[outer]
        local = {c: _criterion([per[c][t] for t in per[c] if t != target])
                 for c in configs}
        own = {c: _criterion([per[c][target]]) for c in configs}
        # min keeps the first of equal criteria, as the protocol does
        choice = {"per dataset": min(local, key=local.__getitem__),
                  "overall": wide[target], "fixed": default,
                  "oracle": min(own, key=own.__getitem__)}
        for rule, c in choice.items():
            rules[rule].append(per[c][target])
            picks[rule][c] += 1
    budgets = len(next(iter(rules.values()))[0])
    return {"pairs": len(pairs), "rules": {
        r: {"criterion": _criterion(v),
            "by_budget": [statistics.mean(x[b] for x in v) for b in range(budgets)],
            "per_pair": [_criterion([x]) for x in v],
            "choices": dict(picks[r].most_common())} for r, v in rules.items()}}


def paired_by_target(inner: dict[str, dict[str, dict[str, list[float]]]], config: str,
                     default: str = DEFAULT) -> dict[str, Any]:
    """``config`` against ``default`` by inner target: per target, the mean over the
    outer datasets that hold it of the criterion difference (negative: ``config``
    lower, i.e. better); their mean, 95% bootstrap interval and sign count."""
    diffs: dict[str, list[float]] = {}
    for per in inner.values():
        for t in per[config]:
            diffs.setdefault(t, []).append(_criterion([per[config][t]])
                                           - _criterion([per[default][t]]))
    by_target = {t: statistics.mean(d) for t, d in diffs.items()}
    x = np.array(list(by_target.values()))
    lo, hi = bootstrap_interval(x)
    return {"mean_diff": float(x.mean()), "ci95": [lo, hi], "targets": len(x),
            "lower_on": int((x < 0).sum()), "by_target": by_target,
            "verdict": interval_verdict(lo, hi)}


def main() -> None:
    source = json.loads((RESULTS / "nested_protocol.json").read_text())
    out = held_out(source["inner"])
    out["budgets"] = source["budgets"]
    out["configs"] = len(source["configs"])
    fixed = out["rules"]["fixed"]["per_pair"]
    for r in out["rules"].values():
        r["below_fixed"] = sum(a < b for a, b in zip(r["per_pair"], fixed, strict=True))
        r["above_fixed"] = sum(a > b for a, b in zip(r["per_pair"], fixed, strict=True))
    lines = ["# Choosing per dataset against one choice for all (development protocol)", "",
             f"Read from `nested_protocol.json` ({out['configs']} configurations, "
             f"{out['pairs']} inner pairs), running nothing: each inner pair is held out "
             "in turn, each rule chooses without it and is scored on it (see the script's "
             "docstring). Mean log10 share (%), lower is better; pairs below / above: "
             f"held-out pairs where the rule's result is below / above the fixed default "
             f"`{DEFAULT}`'s.", "",
             "| rule | " + " | ".join(f"@{b}" for b in out["budgets"])
             + " | criterion | pairs below / above | most chosen |",
             "|---|" + "---|" * (len(out["budgets"]) + 3)]
    for name, r in out["rules"].items():
        top = ", ".join(f"{c} ({n})" for c, n in list(r["choices"].items())[:3])
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in r["by_budget"])
                     + f" | {r['criterion']:.3f} | {r['below_fixed']} / "
                       f"{r['above_fixed']} | {top} |")
    out["paired"] = {c: paired_by_target(source["inner"], c)
                     for c in source["configs"] if c != DEFAULT}
    ranked = sorted(out["paired"].items(), key=lambda kv: kv[1]["mean_diff"])
    verdicts = [p["verdict"] for _, p in ranked]
    lines += ["", f"## Every configuration against `{DEFAULT}`, paired by inner target", "",
              "Per inner target (9), the mean over the 8 outer datasets that hold it of the "
              "criterion difference (negative: the configuration lower, i.e. better); the "
              "mean over targets, its 95% bootstrap interval over the targets, and the "
              f"targets where it is lower. Ahead: {verdicts.count('ahead')}; within noise: "
              f"{verdicts.count('within noise')}; behind: {verdicts.count('behind')}.", "",
              "| configuration | difference | 95% interval | lower on | verdict |",
              "|---|---|---|---|---|"]
    for c, p in ranked:
        lines.append(f"| {c} | {p['mean_diff']:+.3f} | [{p['ci95'][0]:+.3f}, "
                     f"{p['ci95'][1]:+.3f}] | {p['lower_on']} of {p['targets']} | "
                     f"{p['verdict']} |")
    save("nested_selection", out, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
