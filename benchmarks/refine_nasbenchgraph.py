"""Refinement on NAS-Bench-Graph, leave one dataset out (the protocol of benchmarks.md).

For each of the 9 datasets the knowledge base's other 8 are the sources and the target's
stored results are the paid oracle (every distinct architecture read costs one unit,
re-reads are free). Methods, ablations and the report are those of
:mod:`mdesign.refinement.protocol`; this script fixes the NAS-Bench-Graph protocol:

    python benchmarks/refine_nasbenchgraph.py           # full: 9 tasks, 10/20/50/100, 20 seeds
    python benchmarks/refine_nasbenchgraph.py --small   # CI: 2 tasks, 10/20, 3 seeds

Needs a knowledge base holding NAS-Bench-Graph (`scripts/quickstart.sh`). Writes
``benchmarks/results/refine_nasbenchgraph.{json,md,png}`` (``..._small`` for --small).
`mdesign bench refine` runs the same protocol on any tasks of a knowledge base.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = ["cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv",
            "proteins"]
FULL_METHODS = ["mdesign", "mdesign-reference", "mdesign-reference-nocal", "mdesign-nocal",
                "mdesign-noplanner", "mdesign-planner-fallback", "mdesign-expand-current",
                "mdesign-lookahead2", "mdesign-lookahead2-gds", "mdesign-anchors",
                "mdesign-uncertainty", "mdesign-maxparams", "retrieval", "random", "regevo",
                "tpe"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=",".join(DATASETS))
    ap.add_argument("--budgets", default="10,20,50,100")
    ap.add_argument("--methods", default=",".join(FULL_METHODS))
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--small", action="store_true", help="the CI configuration")
    ap.add_argument("--out", default=None, help="file name stem")
    ap.add_argument("--out-dir", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.small:
        args.tasks, args.budgets, args.seeds = "cora,proteins", "10,20", 3
    logging.getLogger("neo4j").setLevel(logging.CRITICAL)
    import torch

    torch.set_num_threads(1)
    from mdesign.kb import KnowledgeBase
    from mdesign.refinement import protocol

    with KnowledgeBase.connect() as kb:
        out = protocol.run_protocol(kb, args.tasks.split(","),
                                    [int(b) for b in args.budgets.split(",")],
                                    args.methods.split(","), args.seeds,
                                    progress=lambda m: print(m, file=sys.stderr, flush=True))
    name = args.out or ("refine_nasbenchgraph_small" if args.small else "refine_nasbenchgraph")
    paths = protocol.write(out, args.out_dir, name,
                           "Refinement on NAS-Bench-Graph, leave one dataset out")
    print(paths[1].read_text())


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
