"""The training stream: fixed-size batches, every example once per epoch, resumable order."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.data.pipeline import steps_per_epoch, training_stream


def _epochs(n: int, batch: int, *, epochs: int, initial_epoch: int = 0) -> list[list[np.ndarray]]:
    """The stream's x batches (example ids), grouped per epoch."""
    x = np.arange(n, dtype="int32")
    stream = training_stream(
        x, x * 10, batch_size=batch, seed=7, initial_epoch=initial_epoch, epochs=epochs
    )
    steps = steps_per_epoch(n, batch)
    batches = [(xb.numpy(), yb.numpy()) for xb, yb in stream]
    assert len(batches) == steps * (epochs - initial_epoch)
    for xb, yb in batches:
        np.testing.assert_array_equal(yb, xb * 10)  # x and y stay paired
    return [[xb for xb, _ in batches[i : i + steps]] for i in range(0, len(batches), steps)]


@pytest.mark.parametrize(("n", "batch"), [(103, 16), (96, 32), (7, 32), (33, 32)])
def test_every_batch_is_full_and_every_example_is_seen_each_epoch(n: int, batch: int) -> None:
    size = min(n, batch)
    for epoch in _epochs(n, batch, epochs=3):
        assert {len(b) for b in epoch} == {size}
        ids = np.concatenate(epoch)
        assert set(ids.tolist()) == set(range(n))
        counts = np.bincount(ids, minlength=n)
        assert counts.max() <= 2  # the top-up repeats an example at most once
        assert (counts == 2).sum() == steps_per_epoch(n, batch) * size - n


def test_batch_dimension_is_static() -> None:
    """A known batch size is what lets TensorFlow fold the gradient's shape arithmetic."""
    x = np.zeros((50, 4), "float32")
    stream = training_stream(x, np.zeros(50), batch_size=16, seed=0, initial_epoch=0, epochs=1)
    x_spec, y_spec = stream.element_spec
    assert tuple(x_spec.shape) == (16, 4)
    assert tuple(y_spec.shape) == (16,)


def test_epochs_differ_and_a_resumed_stream_repeats_them() -> None:
    full = _epochs(103, 16, epochs=4)
    resumed = _epochs(103, 16, epochs=4, initial_epoch=2)
    for a, b in zip(full[2:], resumed, strict=True):
        np.testing.assert_array_equal(np.concatenate(a), np.concatenate(b))
    assert not np.array_equal(np.concatenate(full[0]), np.concatenate(full[1]))
