"""Architectures of a design space as PyTorch Geometric modules.

* :mod:`~mdesign.models.ops`: the message-passing operations by name;
* :mod:`~mdesign.models.nas_bench_graph`: the NAS-Bench-Graph cell (4-node DAG);
* :mod:`~mdesign.models.graphgym`: the GraphGym-style product space;
* :mod:`~mdesign.models.heads`: node, graph and link prediction heads;
* :mod:`~mdesign.models.builder`: :func:`build_model`, space name + architecture -> module.
"""
