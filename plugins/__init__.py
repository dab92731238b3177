"""zoo's built-in architecture plugins (installed as ``zoo.plugins``).

Each sub-package is registered through the ``zoo.plugins`` entry-point group exactly like a
third-party plugin; their models are declared in ``registry.toml`` next to this file.
"""
