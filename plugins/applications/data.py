"""Data for the ``applications`` plugin: RGB images with pixels in [0, 255].

The models carry their family's preprocessing as layers, so every source gives raw pixels:
feeding [0, 1] images to a network trained on ImageNet pixels would be silently wrong.

Default (no download): 3,000 generated colour images of six shapes - circle, square,
triangle, diamond, cross, ring - each in a random colour, size and place on a noisy
background of another colour. The class is the shape, not the colour. The images are drawn
at 64x64 (or the network's minimum input when larger: 71 for Xception, 75 for Inception),
and that size becomes the model's input (``implied``), so ``zoo train mobilenet_v3_small``
is quick; setting ``height``/``width`` to anything but the network's ImageNet size draws
them at that size instead.

User data: a folder with one sub-folder of images per class (``photos/<class>/*.jpg``), a
flat folder or a single image (unlabelled, for prediction), read through
``zoo.plugin.readers`` and resized to the model's ``height x width``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.plugin import Config, DataError, Dataset, readers

from .networks import FAMILIES, network

SHAPES = ("circle", "square", "triangle", "diamond", "cross", "ring")
GENERATED_EXAMPLES = 3000
GENERATED_SIZE = 64
GENERATED_BYTES = 400_000_000  # drawn at a large size, fewer images (at least 600)
SEED = 20


def load(config: Config, path: Path | None, state: dict[str, Any] | None) -> Dataset:
    if path is None:
        return shapes(config, state)
    path = readers.check_path(path)
    if path.is_dir() or path.suffix.lower() in readers.IMAGE_SUFFIXES:
        return image_folder(config, path, state)
    raise DataError(
        f"{path}: the {config.architecture} models read images",
        "give a folder with one sub-folder of images per class (photos/<class>/*.jpg), a "
        "folder of images or one image",
    )


def image_folder(config: Config, path: Path, state: dict[str, Any] | None) -> Dataset:
    files, labels = readers.list_images(path)
    x = readers.image_files(files, config.height, config.width, 3, scale=255.0)  # 0-255 RGB
    y, names = readers.classification_labels(labels, config, state, str(path))
    implied = {"num_classes": len(names)} if y is not None and names else {}
    new_state = {"class_names": names, "source": "images"} if names is not None else {}
    return Dataset(
        x=x,
        y=y,
        name=path.name,
        description=f"{len(files)} images from {path}"
        + (f" in {len(names)} classes" if labels is not None and names else " (unlabelled)")
        + f", as {config.height}x{config.width} RGB",
        implied=implied if state is None else {},  # a trained run keeps its config
        class_names=names,
        state=state if state is not None else new_state,
        keys=x.keys(),  # the paths, held once as bytes by the streamed source
        key_name="path",
    )


def generated_size(config: Config) -> tuple[int, int, bool]:
    """(height, width, implied): 64, or the network's minimum when larger, unless the config
    asks for a size other than the network's ImageNet size."""
    family = FAMILIES[config.architecture]
    net = network(family.name, config["variant"] if "variant" in config else "")
    if (config.height, config.width) != (net.size, net.size):
        return config.height, config.width, False
    size = max(GENERATED_SIZE, family.min_size)
    return size, size, True


def shapes(config: Config, state: dict[str, Any] | None) -> Dataset:
    height, width, implied_size = generated_size(config)
    keep = len(SHAPES)
    if config.num_classes < keep:  # fewer classes asked for: the first shapes only
        keep = max(2, config.num_classes)
    n = min(GENERATED_EXAMPLES, max(600, GENERATED_BYTES // (height * width * 3 * 4)))
    x, y = draw_shapes(n, height, width, keep, seed=SEED)
    names = list(SHAPES[:keep])
    implied: dict[str, Any] = {"num_classes": keep}
    if implied_size and state is None:
        implied.update(height=height, width=width)
    return Dataset(
        x=x,
        y=y,
        name="shapes",
        description=(
            f"generated: {len(y)} {height}x{width} colour images of {keep} shapes "
            f"({', '.join(names)}) in random colours, sizes and places"
        ),
        implied=implied if state is None else {},
        class_names=names,
        state={"class_names": names, "source": "shapes"},
    )


def draw_shapes(
    n: int, height: int, width: int, classes: int = len(SHAPES), *, seed: int = SEED
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``(n, height, width, 3)`` float32 in [0, 255] and their shape labels
    (balanced, shuffled), the same for the same arguments."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % classes).astype("int32")
    yy, xx = np.meshgrid(
        (np.arange(height) + 0.5) / height, (np.arange(width) + 0.5) / width, indexing="ij"
    )
    x = np.empty((n, height, width, 3), dtype="float32")
    for i, label in enumerate(y):
        r = rng.uniform(0.18, 0.36)  # half the shape's extent, as a share of the image
        cx, cy = rng.uniform(r, 1 - r, size=2)
        mask = _mask(SHAPES[label], (xx - cx) / r, (yy - cy) / r)
        background, colour = _colours(rng)
        noise = rng.normal(0.0, 12.0, size=(height, width, 3))
        image = np.where(mask[..., None], colour, background) + noise
        x[i] = np.clip(image, 0.0, 255.0)
    return x, y


def _mask(shape: str, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """The pixels inside ``shape`` centred at 0 with half-extent 1 (coordinates dx, dy)."""
    ax, ay = np.abs(dx), np.abs(dy)
    if shape == "circle":
        return dx**2 + dy**2 <= 1.0
    if shape == "square":
        return np.maximum(ax, ay) <= 0.8
    if shape == "triangle":  # pointing up: apex at dy = -1, base at dy = 0.8
        return (dy <= 0.8) & (ax <= (dy + 1.0) / 1.8 * 0.95)
    if shape == "diamond":
        return ax + ay <= 1.0
    if shape == "cross":
        return ((ax <= 0.28) & (ay <= 1.0)) | ((ay <= 0.28) & (ax <= 1.0))
    if shape == "ring":
        d = np.sqrt(dx**2 + dy**2)
        return (d <= 1.0) & (d >= 0.55)
    raise ValueError(shape)


def _colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A background and a shape colour far enough apart to see (RGB, 0-255)."""
    while True:
        background, colour = rng.uniform(0.0, 255.0, size=(2, 3))
        if np.abs(background - colour).sum() > 180.0:
            return background, colour
