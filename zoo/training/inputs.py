"""What the runner checks before anything touches the disk: the config file, the plugin's
dataset, the hyper-parameters the data implies, and the data against the model's inputs.

Every :class:`Dataset` — from a plugin's ``zoo_dataset``, for training, ``zoo evaluate
--data`` and ``zoo predict --data`` alike — is validated here before it is used
(:func:`validate_dataset`): arrays of one length, finite float features and targets; and,
for training, enough examples that every split with a share gets some (:func:`check_split`).
Each problem is one :class:`DataError` line naming the array and the first bad row.
"""

from __future__ import annotations

import tomllib
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo.catalog import ModelRef, get_catalog
from zoo.catalog.config import make_config
from zoo.catalog.hparams import Config
from zoo.data.dataset import Dataset, take
from zoo.errors import ConfigError, DataError, PluginError, PluginHookError

# Fewer examples than this cannot be split into train/validation/test and scored
# meaningfully (with the default 70/10/20 shares, 10 examples give 7/1/2).
MIN_TRAIN_EXAMPLES = 10
# Exceptions that mean a data file is empty, truncated or not in its suffix's format.
_UNREADABLE = (EOFError, zipfile.BadZipFile, zlib.error, UnicodeDecodeError, OSError)


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
    hook = host.owner_hook(ref.plugin, "zoo_dataset")
    try:
        dataset = hook(config=config, path=path, state=state)
    except PluginHookError as exc:
        if path is None or not isinstance(exc.original, _UNREADABLE):
            raise
        raise _unreadable(path, exc.original) from exc
    if not isinstance(dataset, Dataset):
        raise PluginError(
            f"plugin '{ref.plugin}': zoo_dataset returned {type(dataset).__name__}",
            "zoo_dataset must return zoo.plugin.Dataset",
        )
    validate_dataset(dataset, str(path) if path is not None else None, ref.plugin)
    if config.train.get("skip_unreadable"):
        dataset = without_unreadable_files(dataset)
    return dataset


def without_unreadable_files(dataset: Dataset) -> Dataset:
    """``dataset`` without the streamed examples that cannot be decoded (``skip_unreadable``),
    reported on stderr with their count and the first one."""
    import sys

    import numpy as np

    from zoo.data.sources import Source, unreadable_positions

    x = dataset.x
    parts = x.values() if isinstance(x, dict) else [x]
    bad: set[int] = set()
    first = ""
    for part in parts:
        if isinstance(part, Source):
            found = unreadable_positions(part)
            if found and not first:
                first = part.describe(found[0])
            bad.update(found)
    if not bad:
        return dataset
    if len(bad) == len(dataset):
        raise DataError(
            f"none of the {len(bad)} files of {dataset.name} can be read (first: {first})",
            "check the files' format",
        )
    keep = np.setdiff1d(np.arange(len(dataset)), sorted(bad))
    print(
        f"warning: skipped {len(bad)} unreadable file(s) of {len(dataset)} (first: {first})",
        file=sys.stderr,
    )
    y = None if dataset.y is None else take(dataset.y, keep)
    keys = None if dataset.keys is None else [dataset.keys[i] for i in keep]
    return Dataset(**{**dataset.__dict__, "x": take(x, keep), "y": y, "keys": keys})


def _unreadable(path: Path, exc: BaseException) -> DataError:
    """A data file that could not be read (empty, truncated, corrupt) as one line."""
    if isinstance(exc, OSError) and exc.strerror:
        why = exc.strerror if exc.filename is None else f"{exc.filename}: {exc.strerror}"
    else:
        text = " ".join(str(exc).split())
        why = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return DataError(
        f"{path}: cannot be read ({why})",
        "the file is empty, truncated or not in the format its suffix says; write it again",
    )


def validate_dataset(dataset: Dataset, source: str | None = None, plugin: str = "") -> None:
    """Raise DataError unless every array of ``dataset`` has one length and its float
    features and targets are finite; ``source`` (the data path) names it in the message."""
    import numpy as np

    from zoo.data.sources import Source

    where = source or f"data {dataset.name}" + (f" (plugin '{plugin}')" if plugin else "")
    x_arrays = _named_arrays(dataset.x, "x", where)
    if not x_arrays:
        raise DataError(f"{where}: no input arrays", "the dataset's x is empty")
    lengths = {name: _length(array, name, where) for name, array in x_arrays}
    first_name, n = next(iter(lengths.items()))
    for name, length in lengths.items():
        if length != n:
            raise DataError(
                f"{where}: input arrays differ in length: {first_name} has {n} examples, "
                f"{name} has {length}",
                "every input array needs one row per example",
            )
    if n == 0:
        raise DataError(f"{where}: no examples", "the data is empty")
    y_arrays = [] if dataset.y is None else _named_arrays(dataset.y, "y", where)
    for name, array in y_arrays:
        length = _length(array, name, where)
        if length != n:
            raise DataError(
                f"{where}: {n} examples in x but {length} targets in {name}",
                "x and y need one row per example",
            )
    if dataset.keys is not None and len(dataset.keys) != n:
        raise DataError(
            f"{where}: {n} examples but {len(dataset.keys)} keys",
            "Dataset.keys needs one identifier per example",
        )
    for name, array in [*x_arrays, *y_arrays]:
        if isinstance(array, Source):  # decoded when read: finite by construction
            continue
        array = np.asarray(array) if not hasattr(array, "dtype") else array
        if getattr(array, "dtype", None) is None or array.dtype.kind not in "fc":
            continue
        row = _first_non_finite_row(array)
        if row is not None:
            raise DataError(
                f"{where}: {name} has NaN or infinity in row {row}",
                "fill or drop the missing values before training",
            )


def _named_arrays(value: Any, name: str, where: str) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        return [(f"{name}['{key}']", array) for key, array in value.items()]
    if isinstance(value, tuple):  # several outputs' targets
        return [(f"{name}[{i}]", array) for i, array in enumerate(value)]
    return [(name, value)]


def _length(array: Any, name: str, where: str) -> int:
    try:
        return int(len(array))
    except TypeError:
        raise DataError(
            f"{where}: {name} is a {type(array).__name__}, not an array of examples",
            "give numpy arrays (or a dict of them) with one row per example",
        ) from None


def _first_non_finite_row(array: Any, chunk_elements: int = 1 << 22) -> int | None:
    """The index of the first row holding NaN or infinity (checked in bounded chunks)."""
    import numpy as np

    if array.ndim == 0 or len(array) == 0:
        return None
    per_row = max(1, int(np.prod(array.shape[1:])))
    step = max(1, chunk_elements // per_row)
    for start in range(0, len(array), step):
        block = np.asarray(array[start : start + step])
        bad = ~np.isfinite(block.reshape(len(block), -1)).all(axis=1)
        if bad.any():
            return start + int(np.argmax(bad))
    return None


def check_split(split: Any, config: Config, dataset: Dataset) -> None:
    """Raise DataError when training data is too small for its splits: fewer than
    ``MIN_TRAIN_EXAMPLES`` examples, or a split with a share > 0 that got no example."""
    n = len(dataset)
    shares = {
        "validation": float(config.train.get("validation_split", 0) or 0),
        "test": float(config.train.get("test_split", 0) or 0),
    }
    sizes = {name: split.size(name) for name in ("train", "validation", "test")}
    counts = ", ".join(f"{k} {v}" for k, v in sizes.items())
    if n < MIN_TRAIN_EXAMPLES:
        raise DataError(
            f"data {dataset.name} has {n} examples ({counts}); training needs at least "
            f"{MIN_TRAIN_EXAMPLES}",
            "give more data, or raise max_examples if it is set",
        )
    if sizes["train"] == 0:
        raise DataError(
            f"data {dataset.name}: {n} examples leave no training example ({counts})",
            "give more data or lower validation_split/test_split",
        )
    for name, share in shares.items():
        if share > 0 and sizes[name] == 0:
            option = "validation_split" if name == "validation" else "test_split"
            raise DataError(
                f"data {dataset.name}: {n} examples give the {name} split none "
                f"({option}={share:g}; {counts})",
                f"give more data, or --set {option}=0 to train without a {name} split",
            )


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

    from zoo.data.sources import Source

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
        array = array if isinstance(array, Source) else np.asarray(array)
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


def in_memory_if_chosen(dataset: Dataset, mode: str) -> Dataset:
    """``dataset`` with its streamed inputs read into memory once when the ``data_cache``
    option (``mode``) says so: ``memory``, or ``auto`` for data that fits 256 MB."""
    from zoo.data.sources import cache_policy, is_streamed

    if not is_streamed(dataset.x):
        return dataset
    return Dataset(**{**dataset.__dict__, "x": cache_policy(dataset.x, mode)})


def subsample(dataset: Dataset, limit: int, seed: int) -> Dataset:
    """At most ``limit`` examples, drawn by the seed (``max_examples``); order kept."""
    import numpy as np

    if not limit or len(dataset) <= limit:
        return dataset
    keep = np.sort(np.random.default_rng(seed + 7919).permutation(len(dataset))[:limit])
    y = None if dataset.y is None else take(dataset.y, keep)
    keys = None if dataset.keys is None else [dataset.keys[i] for i in keep]
    return Dataset(**{**dataset.__dict__, "x": take(dataset.x, keep), "y": y, "keys": keys})
