"""mdesign: design neural networks from edit-effect evidence stored in Neo4j.

Sub-packages: :mod:`mdesign.kb` (the knowledge base), :mod:`mdesign.cypher` (named
queries), :mod:`mdesign.spaces` (built-in design spaces), :mod:`mdesign.cli`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mdesign")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
