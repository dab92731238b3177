"""Data for the ``rnn`` plugin.

Default: generated noisy waveforms. Class ``c`` is a shape (``c % 4``: sine, square,
sawtooth, chirp) at a frequency band (``c // 4``, log-spaced from 1 to ``timesteps / 8``
cycles per sequence), with random phase, amplitude, offset, a +-10% frequency jitter and
Gaussian noise; each extra feature is the same wave phase-shifted, with its own noise. A
model must read the sequence's shape and pace, not any single step. Same data on every call
(fixed seed).

User data: ``.npz`` arrays ``x`` of shape ``(n, timesteps)`` or ``(n, timesteps, features)``
and ``y``, or a numeric CSV whose rows are flattened sequences (``timesteps * features``
values, step-major) plus a label column. Values are standardised per feature with
statistics saved in the run's data state.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from zoo.plugin import Config, DataError, Dataset, readers

SEED = 20240503
EXAMPLES = 6000
SHAPES = ("sine", "square", "sawtooth", "chirp")
NOISE = 0.15
MIN_BAND_RATIO = 1.35  # neighbouring frequency bands differ by at least this factor


def load(config: Config, path: Path | None, state: dict[str, Any] | None) -> Dataset:
    if path is None:
        return waveforms(config)
    return sequences(config, readers.check_path(path), state)


def class_names(num_classes: int, timesteps: int) -> tuple[list[str], np.ndarray]:
    """Names like ``square@2.8`` and the centre frequency (cycles per sequence) of each."""
    bands = math.ceil(num_classes / len(SHAPES))
    low, high = 1.0, timesteps / 8.0
    if bands > 1 and (high <= low or (high / low) ** (1 / (bands - 1)) < MIN_BAND_RATIO):
        most = len(SHAPES) * (1 + int(math.log(max(high, 1.0)) / math.log(MIN_BAND_RATIO)))
        raise DataError(
            f"the generated waveforms cannot tell {num_classes} classes apart in "
            f"{timesteps} steps (at most {most})",
            "lower num_classes, raise timesteps, or train on your own data with --data",
        )
    cycles = np.geomspace(low, high, bands) if bands > 1 else np.array([2.0])
    names = [f"{SHAPES[c % 4]}@{cycles[c // 4]:.3g}" for c in range(num_classes)]
    return names, cycles


def waveforms(config: Config, examples: int = EXAMPLES) -> Dataset:
    steps, features, classes = config.timesteps, config.features, config.num_classes
    if steps < 8:
        raise DataError(
            f"the generated waveforms need at least 8 timesteps, timesteps={steps}",
            "raise timesteps or train on your own data with --data",
        )
    names, cycles = class_names(classes, steps)
    rng = np.random.default_rng(SEED)
    y = rng.integers(0, classes, examples).astype("int32")
    shape = y % len(SHAPES)
    freq = cycles[y // len(SHAPES)] * rng.uniform(0.9, 1.1, examples)
    t = np.linspace(0.0, 1.0, steps, endpoint=False)[None, :]  # (1, steps)
    amplitude = rng.uniform(0.6, 1.4, (examples, 1))
    offset = rng.normal(0.0, 0.2, (examples, 1))
    x = np.empty((examples, steps, features), dtype="float32")
    base_phase = rng.uniform(0.0, 1.0, (examples, 1))
    for f in range(features):
        phase = base_phase + f / 8.0
        cyc = freq[:, None] * t + phase  # cycles elapsed
        chirp = freq[:, None] * (0.5 * t + 0.75 * t**2) + phase  # pace rises 0.5x -> 2x
        wave = np.where(
            (shape == 0)[:, None],
            np.sin(2 * np.pi * cyc),
            np.where(
                (shape == 1)[:, None],
                np.sign(np.sin(2 * np.pi * cyc)),
                np.where((shape == 2)[:, None], 2.0 * (cyc % 1.0) - 1.0, np.sin(2 * np.pi * chirp)),
            ),
        )
        x[:, :, f] = amplitude * wave + offset + rng.normal(0.0, NOISE, (examples, steps))
    return Dataset(
        x=x,
        y=y,
        name="waveforms",
        description=(
            f"generated: {examples} noisy waveforms of {steps} steps x {features} features; "
            f"{classes} classes = shape (sine, square, sawtooth, chirp) x frequency band"
        ),
        implied={"timesteps": steps, "features": features, "num_classes": classes},
        class_names=names,
        state={"class_names": names, "source": "generated"},
    )


def sequences(config: Config, path: Path, state: dict[str, Any] | None) -> Dataset:
    trained = state is not None and "mean" in state
    features = len(state["mean"]) if trained else config.features
    width = config.timesteps * features if trained else None
    found = readers.read_array_examples(path, label_free_width=width)
    x, raw = found.x, found.labels
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim == 2:
        if x.shape[1] % features:
            raise DataError(
                f"{path}: {x.shape[1]} values per row do not split into steps of "
                f"{features} features",
                "set features to the number of values per step",
            )
        x = x.reshape(len(x), -1, features)
    elif x.ndim != 3:
        raise DataError(
            f"{path}: sequences must have shape (n, steps) or (n, steps, features), got {x.shape}",
            "reshape the array before saving",
        )
    if trained and x.shape[1:] != (config.timesteps, features):
        raise DataError(
            f"{path}: sequences of {x.shape[1]} steps x {x.shape[2]} features, the run was "
            f"trained on {config.timesteps} x {features}",
            "give sequences of the training data's length",
        )
    for key, size in (("timesteps", x.shape[1]), ("features", x.shape[2])):
        if not trained and readers.user_set(config, key) and config[key] != size:
            raise DataError(
                f"{path}: sequences have {key}={size} but {key}={config[key]} was set",
                f"drop --set {key}; the data sets it",
            )
    x, stats = readers.standardize(x, state if trained else None, axis=(0, 1))
    implied: dict[str, Any] = {"timesteps": int(x.shape[1]), "features": int(x.shape[2])}
    return readers.labelled_dataset(
        x,  # float32: standardize's one copy, or rows streamed from a memory-mapped file
        raw,
        path=path,
        config=config,
        state=state,
        implied=implied,
        encoding={**stats, "source": "sequences"},
        description=f"{len(x)} sequences of {x.shape[1]} steps x {x.shape[2]} features from {path}",
        keys=found.keys,
        key_name=found.key_name,
    )
