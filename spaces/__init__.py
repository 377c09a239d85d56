"""Built-in design spaces (YAML files beside this module), loaded by name with
:func:`mdesign.kb.space.load_space`."""
