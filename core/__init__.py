"""The vocabulary every part of mdesign shares, with no Neo4j and no torch: errors,
design spaces and their architectures. It imports nothing else of the package; every
other package may use it.
"""

from mdesign.core.errors import InputError, MdesignError, ServerError
from mdesign.core.space import Architecture, DesignSpace, load_space

__all__ = ["Architecture", "DesignSpace", "InputError", "MdesignError", "ServerError",
           "load_space"]
