"""Data for the ``mlp`` plugin.

Default: generated tabular data with a known structure. Each class is a mixture of two
Gaussian clusters whose centres lie in a random 16-dimensional subspace of the
``input_dim`` features; the other directions are pure noise, and a random rotation mixes
all features so no single column gives the class away. The data is the same on every call
(fixed seed), so runs are comparable.

User data: a numeric CSV/TSV (one example per row; the label is the column named
label/target/class/y, else the last column; labels may be integers or names) or ``.npz``
arrays ``x`` (n, features) and ``y``, or ``.npy`` inputs (memory-mapped, for prediction).
Features are standardised with the training data's mean and standard deviation, which are
saved in the run's data state; the standardised table is the one float32 copy made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.plugin import Config, DataError, Dataset, readers

SEED = 20240502
EXAMPLES = 10000
INFORMATIVE = 16
CLUSTERS_PER_CLASS = 2
SEPARATION = 1.2  # std of the cluster centres, in units of the within-cluster noise


def load(config: Config, path: Path | None, state: dict[str, Any] | None) -> Dataset:
    if path is None:
        return clusters(config)
    return table(config, readers.check_path(path), state)


def clusters(config: Config, examples: int = EXAMPLES) -> Dataset:
    rng = np.random.default_rng(SEED)
    dim, classes = config.input_dim, config.num_classes
    informative = min(INFORMATIVE, dim)
    centres = rng.normal(0.0, SEPARATION, (classes, CLUSTERS_PER_CLASS, informative))
    y = rng.integers(0, classes, examples).astype("int32")
    cluster = rng.integers(0, CLUSTERS_PER_CLASS, examples)
    x = rng.normal(0.0, 1.0, (examples, dim))
    x[:, :informative] += centres[y, cluster]
    if dim > 1:  # a random rotation spreads the signal over every feature
        rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        x = x @ rotation
    names = [str(c) for c in range(classes)]
    return Dataset(
        x=x.astype("float32"),
        y=y,
        name="gaussian-clusters",
        description=(
            f"generated: {examples} examples, {dim} features, {classes} classes, each a mixture "
            f"of {CLUSTERS_PER_CLASS} Gaussian clusters in a {informative}-d subspace"
        ),
        implied={"input_dim": dim, "num_classes": classes},
        class_names=names,
        state={"class_names": names, "source": "generated"},
    )


def table(config: Config, path: Path, state: dict[str, Any] | None) -> Dataset:
    width = len(state["mean"]) if state and "mean" in state else None
    found = readers.read_array_examples(path, label_free_width=width)
    x, raw = found.x, found.labels
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        x = x.reshape(len(x), -1)
    if width is not None and x.shape[1] != width:
        raise DataError(
            f"{path}: {x.shape[1]} features per example, the run was trained on {width}",
            "give the same feature columns as the training data",
        )
    if state is None and readers.user_set(config, "input_dim") and x.shape[1] != config.input_dim:
        raise DataError(
            f"{path}: {x.shape[1]} features per example but input_dim={config.input_dim}",
            "drop --set input_dim; the data sets it",
        )
    x, stats = readers.standardize(x, state, axis=(0,))
    implied: dict[str, Any] = {"input_dim": int(x.shape[1])}
    return readers.labelled_dataset(
        x,  # float32: standardize's one copy, or rows streamed from a memory-mapped file
        raw,
        path=path,
        config=config,
        state=state,
        implied=implied,
        encoding={**stats, "source": "table"},
        description=f"{len(x)} examples x {x.shape[1]} features from {path}",
        keys=found.keys,
        key_name=found.key_name,
    )
