"""Data for the ``cnn`` plugin.

Default: scikit-learn's bundled 1,797 real 8x8 handwritten digits (no download), scaled to
[0, 1] and resized to ``height x width x channels``. With ``num_classes`` below 10 only the
digits ``0..num_classes-1`` are kept.

User data: a folder of class sub-folders of images (``root/<class>/*.png``), a flat folder or
single image (unlabelled, for prediction), converted to the model's ``height x width x
channels`` (``channels=1`` greyscale by default: ``--set channels=3`` keeps colour) and
streamed from disk (``readers.image_files``: only the file list is in memory); or arrays
in ``.npz`` (``x`` of shape ``(n, h, w)`` or ``(n, h, w, c)``, ``y``) / ``.npy``, whose shape
sets height, width and channels unless they were set. A ``.npy`` at the model's size (any
numeric dtype, e.g. uint8) stays memory-mapped and is scaled row by row as it streams.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.plugin import Config, DataError, Dataset, readers, sources


def load(config: Config, path: Path | None, state: dict[str, Any] | None) -> Dataset:
    if path is None:
        return digits(config, state)
    path = readers.check_path(path)
    if path.is_dir() or path.suffix.lower() in readers.IMAGE_SUFFIXES:
        return image_folder(config, path, state)
    return image_arrays(config, path, state)


def _to_images(x: np.ndarray, height: int, width: int, channels: int) -> np.ndarray:
    """Resize to ``height x width`` and convert the channel count."""
    x = readers.resize_array(x, height, width)
    have = x.shape[3]
    if have == channels:
        return x
    if channels == 1:  # colour -> luminance
        return x[..., :3].mean(axis=-1, keepdims=True) if have >= 3 else x[..., :1]
    if have == 1:
        return np.repeat(x, channels, axis=-1)
    if have > channels:
        return x[..., :channels]
    return np.concatenate([x, np.ones(x.shape[:3] + (channels - have,), "float32")], axis=-1)


def digits(config: Config, state: dict[str, Any] | None) -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    keep = bunch.target < config.num_classes
    x = bunch.images[keep].astype("float32")[..., None] / 16.0
    y = bunch.target[keep].astype("int32")
    names = [str(d) for d in range(int(y.max()) + 1)]
    return Dataset(
        x=_to_images(x, config.height, config.width, config.channels),
        y=y,
        name="digits",
        description=(
            f"scikit-learn's handwritten digits: {len(y)} real 8x8 images of "
            f"{len(names)} digits, resized to {config.height}x{config.width}x{config.channels}"
        ),
        implied={"num_classes": len(names)},
        class_names=names,
        state={"class_names": names, "source": "digits"},
    )


def image_folder(config: Config, path: Path, state: dict[str, Any] | None) -> Dataset:
    files, labels = readers.list_images(path)
    implied: dict[str, Any] = {}
    x = readers.image_files(files, config.height, config.width, config.channels)
    y, names = readers.classification_labels(labels, config, state, str(path))
    if y is not None:
        implied["num_classes"] = len(names)
    new_state = {"class_names": names, "source": "images"} if names is not None else {}
    return Dataset(
        x=x,
        y=y,
        name=path.name,
        description=f"{len(files)} images from {path}"
        + (f" in {len(names)} classes" if labels is not None else " (unlabelled)")
        + f", as {config.height}x{config.width}x{config.channels}",
        implied=implied if state is None else {},  # a trained run keeps its config
        class_names=names,
        state=state if state is not None else new_state,
        keys=x.keys(),  # the paths, held once as bytes by the streamed source
        key_name="path",
    )


def image_arrays(config: Config, path: Path, state: dict[str, Any] | None) -> Dataset:
    found = readers.read_array_examples(path, keep_dtype=True)
    x, raw = found.x, found.labels
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[3] > 4:
        raise DataError(
            f"{path}: images must have shape (n, height, width) or (n, height, width, channels "
            f"<= 4), got {x.shape}",
            "reshape the array before saving",
        )
    if state is not None and "scale" in state:
        scale = float(state["scale"])
    else:
        scale = 255.0 if x.max() > 1.0 else 1.0
    implied: dict[str, Any] = {}
    if state is None:
        for key, size in (("height", x.shape[1]), ("width", x.shape[2]), ("channels", x.shape[3])):
            if not readers.user_set(config, key):
                implied[key] = int(size)
    height = implied.get("height", config.height)
    width = implied.get("width", config.width)
    channels = implied.get("channels", config.channels)
    if isinstance(x, np.memmap) and x.shape[1:] == (height, width, channels):
        # a .npy already at the model's size stays on disk: each row is scaled as it is read
        x = sources.ArrayRows(x, std=np.float32(scale))
    else:
        x = _to_images(np.asarray(x, dtype="float32") / np.float32(scale), height, width, channels)
    return readers.labelled_dataset(
        x,
        raw,
        path=path,
        config=config,
        state=state,
        implied=implied,
        encoding={"scale": scale, "source": "arrays"},
        description=f"{len(x)} images {height}x{width}x{channels} from {path}",
        keys=found.keys,
        key_name=found.key_name,
    )
