"""Build a model from its plugin's code and a validated config, compiled for its task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from zoo.catalog import ModelRef, get_catalog
from zoo.catalog.hparams import Config
from zoo.errors import PluginError

if TYPE_CHECKING:
    import keras


def build_model(ref: ModelRef, config: Config, *, compile: bool = True) -> keras.Model:
    """Call the owning plugin's ``zoo_build`` and compile the result for its task."""
    # Load the plugin first: a broken plugin fails fast, before TensorFlow is imported.
    hook = get_catalog().host.owner_hook(ref.plugin, "zoo_build")
    import keras

    from zoo.tasks.registry import task_of

    model = hook(config=config)
    if not isinstance(model, keras.Model):
        raise PluginError(
            f"plugin '{ref.plugin}': zoo_build returned {type(model).__name__} for "
            f"'{ref.model.name}'",
            "zoo_build must return a keras.Model",
        )
    if compile:
        task_of(ref).compile(model, config)
    return model
