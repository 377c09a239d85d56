"""Import NAS-Bench-Graph (PyPI ``nas-bench-graph``): 9 node tasks x 26,206 architectures.

Every table entry becomes a result: ``valid`` = ``valid_perf`` (the selection score),
``test`` = ``perf``, ``latency`` (seconds), ``params`` (``para`` is in millions). The
tables ship with the package, so this runs offline. ``proteins`` covers only the ops
gcn, sage, arma, fc and skip (2,021 architectures; metric ROC-AUC): its task records
that restriction. Dataset meta-features come from ``nas_bench_graph_features.csv``
beside this module (public dataset statistics), imported as task features.
"""

from __future__ import annotations

from importlib import metadata, resources

from mdesign.core.space import DesignSpace, nas_bench_graph_hash
from mdesign.kb.importers import task_features
from mdesign.kb.importers.common import Progress, ResultRow, TaskSpec, import_results
from mdesign.kb.knowledge_base import KnowledgeBase
from mdesign.kb.models import ImportReport

DATASETS = ("cora", "citeseer", "pubmed", "cs", "physics", "photo", "computers", "arxiv",
            "proteins")
PROTEINS_OPS = ["gcn", "sage", "arma", "fc", "skip"]


def task_spec(dataset: str) -> TaskSpec:
    if dataset == "proteins":
        return TaskSpec(name=dataset, kind="node", metric="roc_auc",
                        restrict={f"op{i}": PROTEINS_OPS for i in range(1, 5)})
    return TaskSpec(name=dataset, kind="node", metric="accuracy")


def read_results(space: DesignSpace, datasets: tuple[str, ...]) -> list[ResultRow]:
    import contextlib
    import io

    from nas_bench_graph import light_read

    source = f"nas-bench-graph=={metadata.version('nas-bench-graph')}"
    archs = list(space.enumerate())
    keys = [space.key(a) for a in archs]
    hashes = [nas_bench_graph_hash(a) for a in archs]
    rows: list[ResultRow] = []
    for name in datasets:
        with contextlib.redirect_stdout(io.StringIO()):
            table = light_read(name)
        for arch, key, h in zip(archs, keys, hashes, strict=True):
            entry = table.get(h)
            if entry is None:
                continue
            rows.append(ResultRow(
                arch=arch, key=key, task=name, source=source, score=float(entry["valid_perf"]),
                valid=float(entry["valid_perf"]), test=float(entry["perf"]),
                latency=float(entry["latency"]), params=float(entry["para"]) * 1e6))
    return rows


def import_nas_bench_graph(kb: KnowledgeBase, datasets: tuple[str, ...] = DATASETS,
                           evidence_method: str = "python",
                           progress: Progress | None = None) -> ImportReport:
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        from mdesign.core.errors import InputError

        raise InputError(f"NAS-Bench-Graph has no dataset {unknown[0]!r}",
                         f"choose from {', '.join(DATASETS)}")
    space = DesignSpace.builtin("nas-bench-graph")
    report = import_results(
        kb, import_id="nas-bench-graph:" + ",".join(datasets), kind="nas-bench-graph",
        space=space, tasks=[task_spec(d) for d in datasets],
        results=lambda: read_results(space, datasets),
        inputs_fingerprint=["nas-bench-graph", metadata.version("nas-bench-graph"), datasets],
        evidence_method=evidence_method, progress=progress)
    features = resources.files("mdesign.kb.importers").joinpath("nas_bench_graph_features.csv")
    with resources.as_file(features) as path:
        task_features.import_task_features(kb, path, only=set(datasets))
    return report
