"""What the runner checks before anything touches the disk: the config file, the plugin's
dataset, the hyper-parameters the data implies, and the data against the model's inputs."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo.catalog import ModelRef, get_catalog
from zoo.catalog.config import make_config
from zoo.catalog.hparams import Config
from zoo.data.dataset import Dataset, take
from zoo.errors import ConfigError, DataError, PluginError


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML file of options: flat ``key = value`` or ``[hparams]``/``[train]`` tables."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist", "check the --config path") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", "fix the TOML syntax") from None
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("hparams", "train") and isinstance(value, Mapping):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def load_dataset(
    ref: ModelRef, config: Config, data: str | Path | None, state: dict | None
) -> Dataset:
    """Call the owning plugin's ``zoo_dataset`` and check what it returned."""
    path = None if data is None else Path(data)
    if path is not None and not path.exists():
        raise DataError(f"data path {path} does not exist", "give an existing file or folder")
    host = get_catalog().host
    dataset = host.owner_hook(ref.plugin, "zoo_dataset")(config=config, path=path, state=state)
    if not isinstance(dataset, Dataset):
        raise PluginError(
            f"plugin '{ref.plugin}': zoo_dataset returned {type(dataset).__name__}",
            "zoo_dataset must return zoo.plugin.Dataset",
        )
    if len(dataset) == 0:
        raise DataError(f"no examples in {path or dataset.name}", "the data is empty")
    return dataset


def apply_implied(
    ref: ModelRef, config: Config, dataset: Dataset, explicit: set[str], source: str
) -> Config:
    """Apply the hyper-parameters the data fixes (``num_classes``...), unless the user set
    them explicitly to something else — then the data does not fit the model."""
    changes = {}
    for key, value in dataset.implied.items():
        if key not in config.specs:
            continue
        if key in explicit and config[key] != value:
            raise DataError(
                f"the data has {key}={value} but {key}={config[key]} was requested",
                f"drop the {key} setting or use data with {key}={config[key]}",
            )
        if config[key] != value:
            changes[key] = value
    if not changes:
        return config
    layers = [(source, {**config.values, **config.train, **changes})]
    return make_config(ref, layers)


def check_inputs(model: Any, x: Any, model_name: str) -> None:
    """Raise DataError, before any training, when arrays do not fit the model's inputs."""
    import numpy as np

    inputs = {t.name.split(":")[0]: t for t in model.inputs}
    if isinstance(x, dict):
        missing = sorted(set(inputs) - set(x))
        if missing:
            raise DataError(
                f"data has inputs {sorted(x)} but model '{model_name}' expects {sorted(inputs)}",
                f"provide {', '.join(missing)}",
            )
        pairs = [(name, x[name], inputs[name]) for name in inputs]
    else:
        if len(inputs) != 1:
            raise DataError(
                f"model '{model_name}' takes {len(inputs)} named inputs {sorted(inputs)}",
                "give a dict of arrays",
            )
        pairs = [(next(iter(inputs)), x, next(iter(inputs.values())))]
    for name, array, tensor in pairs:
        array = np.asarray(array)
        expected = tuple(tensor.shape)[1:]
        got = array.shape[1:]
        fits = len(expected) == len(got) and all(
            e is None or e == g for e, g in zip(expected, got, strict=True)
        )
        if not fits:
            want = "(n, " + ", ".join("?" if e is None else str(e) for e in expected) + ")"
            raise DataError(
                f"data '{name}' has shape {array.shape} but model '{model_name}' expects {want}",
                "reshape the data or set the model's input hyper-parameters with --set",
            )
        if "int" in str(tensor.dtype) and not np.issubdtype(array.dtype, np.integer):
            raise DataError(
                f"data '{name}' has dtype {array.dtype} but model '{model_name}' expects "
                f"integer ids",
                "give integer token/ids arrays",
            )
        if "float" in str(tensor.dtype) and not np.issubdtype(array.dtype, np.number):
            raise DataError(
                f"data '{name}' has dtype {array.dtype}, model '{model_name}' expects numbers",
                "convert the data to numbers",
            )


def subsample(dataset: Dataset, limit: int, seed: int) -> Dataset:
    """At most ``limit`` examples, drawn by the seed (``max_examples``); order kept."""
    import numpy as np

    if not limit or len(dataset) <= limit:
        return dataset
    keep = np.sort(np.random.default_rng(seed + 7919).permutation(len(dataset))[:limit])
    y = None if dataset.y is None else take(dataset.y, keep)
    keys = None if dataset.keys is None else [dataset.keys[i] for i in keep]
    return Dataset(**{**dataset.__dict__, "x": take(dataset.x, keep), "y": y, "keys": keys})
