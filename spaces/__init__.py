"""Built-in design spaces (YAML files beside this module), loaded by name with
:func:`mdesign.core.space.load_space`."""
