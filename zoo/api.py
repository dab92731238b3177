"""The public Python API for listing, describing and building models.

The CLI calls these functions and nothing else, so ``zoo list --json`` and
``zoo.list_models()`` return the same records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from zoo.catalog import Catalog, ModelRef, get_catalog
from zoo.errors import PluginError
from zoo.hparams import Config, resolve
from zoo.options import TRAIN_OPTIONS

if TYPE_CHECKING:
    import keras


def _model_record(catalog: Catalog, model: Any) -> dict[str, Any]:
    arch = catalog.architectures[model.architecture]
    plugin = catalog.plugin_of(model)
    return {
        "name": model.name,
        "architecture": arch.name,
        "task": arch.task,
        "summary": model.summary or arch.summary,
        "params": model.params,
        "pretrained": sorted(model.weights),
        "plugin": plugin.name,
        "package": plugin.package,
    }


def list_models(
    pattern: str | None = None, task: str | None = None, pretrained: bool | None = None
) -> list[dict[str, Any]]:
    """Installed models matching ``pattern`` (``*``/``?`` wildcards, else a substring).

    ``task`` filters by task (wildcards allowed); ``pretrained=True`` keeps models with
    weights, ``False`` those without. Imports no plugin code and no TensorFlow.
    """
    catalog = get_catalog()
    return [_model_record(catalog, m) for m in catalog.list(pattern, task, pretrained)]


def info(name: str) -> dict[str, Any]:
    """The model card of ``name`` (``cnn`` or ``cnn:digits``) as a dict."""
    catalog = get_catalog()
    ref = catalog.resolve(name)
    model, arch = ref.model, ref.architecture
    plugin = catalog.plugin_of(model)
    hparams = {}
    for key, spec in arch.hparams.items():
        entry = spec.to_dict()
        entry["value"] = model.hparams.get(key, spec.default)
        hparams[key] = entry
    train = {}
    for key, spec in TRAIN_OPTIONS.items():
        entry = spec.to_dict()
        entry["value"] = model.train.get(key, spec.default)
        train[key] = entry
    weights = [w.to_dict() for w in model.weights.values()]
    if ref.weights is not None:
        weights = [ref.weights.to_dict()]
    return {
        "name": model.name,
        "summary": model.summary or arch.summary,
        "description": model.description or arch.description,
        "license": model.license,
        "tags": list(model.tags),
        "params": model.params,
        "architecture": {
            "name": arch.name,
            "summary": arch.summary,
            "task": arch.task,
            "input": arch.input,
            "output": arch.output,
            "default_dataset": arch.default_dataset,
            "export_formats": [f for f in arch.export_formats if f not in arch.unsupported_formats],
            "unsupported_formats": dict(arch.unsupported_formats),
        },
        "hparams": hparams,
        "train": train,
        "weights": weights,
        "plugin": {
            "name": plugin.name,
            "package": plugin.package,
            "version": plugin.version,
            "status": plugin.status,
        },
        "registry": model.origin,
    }


def list_plugins() -> list[dict[str, Any]]:
    """Every discovered plugin with its package, version, status and error."""
    catalog = get_catalog()
    return [r.to_dict() for r in catalog.host.records.values()]


def split_overrides(
    ref: ModelRef, overrides: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``key=value`` overrides into architecture hyper-parameters and training options."""
    from zoo.errors import ConfigError, did_you_mean

    hp, train = {}, {}
    for key, value in overrides.items():
        if key in ref.architecture.hparams:
            hp[key] = value
        elif key in TRAIN_OPTIONS:
            train[key] = value
        else:
            valid = sorted(ref.architecture.hparams) + sorted(TRAIN_OPTIONS)
            hint = did_you_mean(key, valid)
            listing = "valid keys: " + ", ".join(valid)
            raise ConfigError(
                f"unknown hyper-parameter '{key}' for model '{ref.model.name}'",
                f"{hint} {listing}" if hint else listing,
            )
    return hp, train


def make_config(
    ref: ModelRef,
    layers: list[tuple[str, Mapping[str, Any]]] = (),  # type: ignore[assignment]
) -> Config:
    """Validated config: architecture defaults <- preset <- weights <- each (source, values)."""
    model = ref.model
    hp_layers: list[tuple[str, Mapping[str, Any]]] = [
        (f"{model.origin}: models.{model.name}", model.hparams)
    ]
    train_layers: list[tuple[str, Mapping[str, Any]]] = [
        (f"{model.origin}: models.{model.name}.train", model.train)
    ]
    if ref.weights is not None and ref.weights.hparams:
        hp_layers.append((f"weights {model.name}:{ref.weights.name}", ref.weights.hparams))
    for source, values in layers:
        hp, train = split_overrides(ref, values)
        hp_layers.append((source, hp))
        train_layers.append((source, train))
    values = resolve(ref.architecture.hparams, hp_layers, model=model.name)
    train = resolve(TRAIN_OPTIONS, train_layers, model=model.name)
    return Config(
        model=model.name,
        architecture=ref.architecture.name,
        values=values,
        specs=dict(ref.architecture.hparams),
        train=train,
    )


def build_model(ref: ModelRef, config: Config, *, compile: bool = True) -> keras.Model:
    """Call the owning plugin's ``zoo_build`` and compile the result for its task."""
    # Load the plugin first: a broken plugin fails fast, before TensorFlow is imported.
    hook = get_catalog().host.owner_hook(ref.plugin, "zoo_build")
    import keras

    from zoo.tasks import task_for

    model = hook(config=config)
    if not isinstance(model, keras.Model):
        raise PluginError(
            f"plugin '{ref.plugin}': zoo_build returned {type(model).__name__} for "
            f"'{ref.model.name}'",
            "zoo_build must return a keras.Model",
        )
    if compile:
        task_for(ref.architecture.task).compile(model, config)
    return model


def create(name: str, *, compile: bool = True, **overrides: Any) -> keras.Model:
    """A freshly initialised ``keras.Model`` of ``name``, compiled for its task.

    ``overrides`` are hyper-parameters (``num_classes=5``) or training options
    (``learning_rate=1e-4``, used by compile); unknown keys raise with the valid keys.
    """
    ref = get_catalog().resolve(name)
    config = make_config(ref, [("create()", overrides)])
    return build_model(ref, config, compile=compile)
