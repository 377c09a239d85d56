"""The ``mdesign`` command line: a thin click layer over :mod:`mdesign.kb`."""
