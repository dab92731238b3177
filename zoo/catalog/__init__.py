"""The catalog: registry.toml files, hyper-parameters, and the plugin host.

Nothing here imports TensorFlow or plugin code: ``zoo list`` and ``zoo info`` run on it.
"""

from zoo.catalog.layers import (
    Catalog,
    ModelRef,
    get_catalog,
    require_ok,
    reset,
    use_registry,
    user_layers,
)

__all__ = [
    "Catalog",
    "ModelRef",
    "get_catalog",
    "require_ok",
    "reset",
    "use_registry",
    "user_layers",
]
