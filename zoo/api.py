"""The public Python API for listing, describing and building models.

The CLI calls these functions and nothing else, so ``zoo list --json`` and
``zoo.list_models()`` return the same records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.building import build_model
from zoo.catalog import Catalog, get_catalog
from zoo.catalog.config import make_config
from zoo.catalog.options import TRAIN_OPTIONS

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
    """The model card of ``name`` (``cnn``, ``cnn:digits`` or a run folder) as a dict; a
    run's card adds its ``run`` table: status, seed, data, test metrics and lineage (the
    starting weights and freeze schedule of a fine-tuned run)."""
    from zoo.runs import is_run_dir

    if is_run_dir(name):
        return _run_card(name)
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


def create(name: str, *, compile: bool = True, **overrides: Any) -> keras.Model:
    """A freshly initialised ``keras.Model`` of ``name``, compiled for its task.

    ``overrides`` are hyper-parameters (``num_classes=5``) or training options
    (``learning_rate=1e-4``, used by compile); unknown keys raise with the valid keys.
    """
    ref = get_catalog().resolve(name)
    config = make_config(ref, [("create()", overrides)])
    return build_model(ref, config, compile=compile)


def _run_card(path: str) -> dict[str, Any]:
    from zoo.runs import read_metrics, read_run

    record = read_run(path, require_complete=False)
    card = info(record.model)
    run = record.raw.get("run", {})
    metrics = read_metrics(path)  # a damaged metrics.json is one error naming it
    for key, spec in card["hparams"].items():
        spec["value"] = record.hparams.get(key, spec["value"])
    for key, spec in card["train"].items():
        spec["value"] = record.train.get(key, spec["value"])
    card["run"] = {
        "path": str(path),
        "status": record.status_label,  # "crashed" when its training process is gone
        "seed": record.seed,
        "data": record.data,
        "dataset": run.get("dataset"),
        "test": metrics.get("test", {}),
        "baselines": metrics.get("baselines", {}),
        "finetune": run.get("finetune"),
    }
    return card
