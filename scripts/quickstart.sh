#!/usr/bin/env bash
# The main job, end to end, on the embedded default (NAS-Bench-Graph, shipped offline):
# Python environment, Neo4j + GDS jars, server start, schema, import of all 9 datasets
# with their edit evidence, a few evidence queries, then a refinement run on cora with
# cora left out of the knowledge base's evidence. Idempotent: a second run reuses
# the environment, the running server and the imported knowledge base.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(bash "$root/scripts/bootstrap.sh" | tail -n 1)"
md="$venv/bin/mdesign"

"$md" db start
"$md" kb init
"$md" kb import nas-bench-graph
"$md" kb stats
echo
echo "== the 5 best NAS-Bench-Graph architectures on cora (by validation accuracy)"
"$md" query best_architectures --param task=cora --param limit=5
best="$("$md" query best_architectures --param task=citeseer --param limit=1 --json \
        | "$venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)[0]["uid"])')"
echo "== improving paths of up to 2 edits on cora from citeseer's best ($best)"
"$md" query improving_paths --param "uid=$best" --param task=cora --param k=2 --param limit=5
echo "== the tasks most similar to cora (Spearman over shared architectures)"
"$md" query similar_tasks --param task=cora --param limit=3
echo
echo "== refinement: cora left out (its stored results are the paid oracle), budget 20"
"$md" refine --task cora --budget 20
echo
echo "Explore the evidence graph in Neo4j Browser:"
"$md" db browser
echo "Add '$venv/bin' to PATH to run mdesign directly."
