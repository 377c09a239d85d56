"""Importers that fill the knowledge base: NAS-Bench-Graph, tabular model bases, task
meta-features. Each is idempotent, batched (one transaction per batch) and resumable."""

# nas_bench_graph_features.csv: public statistics of the NAS-Bench-Graph datasets as
# documented by PyTorch Geometric and OGB (directed edge counts; ogbn-proteins has 8 edge
# features and 112 binary targets), with edge homophily as commonly reported in the
# heterophily literature (undefined for the multi-label proteins task, left empty).
