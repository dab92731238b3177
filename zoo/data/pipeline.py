"""tf.data input pipelines for the runner (the one TensorFlow-specific piece of training).

The training stream is built from in-memory tensors (the cache) and shuffled with a
*stateless* per-epoch permutation seeded by ``(seed, epoch)``. That makes the batch order of
epoch ``e`` a pure function of the seed, so a run resumed at epoch ``e`` sees exactly the
batches an uninterrupted run would have seen. Batches are gathered in parallel and
prefetched.

Streamed inputs (:class:`zoo.data.sources.Source`) go through the same permutation: the
epoch's example indices are batched exactly as for arrays, and each example is read and
decoded by its Source in a parallel map before batching, so a streamed run and an
in-memory run see identical batches.

Every training batch has the same, static size: an epoch's short last batch is topped up
with the first examples of that epoch's permutation. With a known batch dimension
TensorFlow resolves the gradient's shape arithmetic while tracing, which makes the train
step's graph smaller and its trace and first call faster (the transformer's by ~0.5 s; see
benchmarks/README.md). Every example is still seen once per epoch, a few of them twice.
"""

from __future__ import annotations

import math
from typing import Any


def _gather(structure: Any, idx: Any) -> Any:
    import tensorflow as tf

    if structure is None:  # a positional source: the entry is the position
        return idx
    return tf.nest.map_structure(lambda t: idx if t is None else tf.gather(t, idx), structure)


def _to_tensors(x: Any) -> Any:
    import tensorflow as tf

    if isinstance(x, dict):
        return {k: tf.constant(v) for k, v in x.items()}
    return tf.constant(x)


def _reader(x: Any) -> tuple[Any, Any]:
    """``(index, read)`` for ``x`` with streamed parts: the tensors to gather example
    indices from (a Source's index, an array's rows) and a function from one gathered
    entry (structure) to one example. A positional Source's index is ``None``: its entry
    is the position itself."""
    import tensorflow as tf

    from zoo.data.sources import Source

    def index_of(part: Any) -> Any:
        if isinstance(part, Source) and part.positional:
            return None
        return tf.constant(part.index() if isinstance(part, Source) else part)

    def read_of(part: Any) -> Any:
        return part.read if isinstance(part, Source) else (lambda entry: entry)

    if isinstance(x, dict):
        index = {k: index_of(v) for k, v in x.items()}
        reads = {k: read_of(v) for k, v in x.items()}
        return index, lambda entry: {k: reads[k](entry[k]) for k in reads}
    return index_of(x), read_of(x)


def steps_per_epoch(n: int, batch_size: int) -> int:
    return max(1, math.ceil(n / batch_size))


def shard_rows(batch: int, part: tuple[int, int]) -> tuple[int, int]:
    """Rows ``[start, end)`` of a global batch of ``batch`` examples that worker ``w`` of
    ``W`` (``part``) reads: ``[batch*w//W, batch*(w+1)//W)``."""
    worker, workers = part
    return batch * worker // workers, batch * (worker + 1) // workers


def training_stream(
    x: Any,
    y: Any,
    *,
    batch_size: int,
    seed: int,
    initial_epoch: int,
    epochs: int,
    part: tuple[int, int] = (0, 1),
) -> Any:
    """Batches for epochs ``initial_epoch..epochs-1``, each epoch a fresh seeded permutation,
    ``steps_per_epoch(n, batch_size)`` batches of ``min(batch_size, n)`` examples each.

    ``part = (w, W)``: worker ``w`` of ``W`` reads only its rows of every global batch
    (:func:`shard_rows`); the global batches are the same for any ``W``."""
    import tensorflow as tf

    from zoo.data.sources import is_streamed

    if _group(x, y) > 1:
        return _grouped_training_stream(
            x,
            y,
            batch_size=batch_size,
            seed=seed,
            initial_epoch=initial_epoch,
            epochs=epochs,
            part=part,
        )
    first = next(iter(x.values())) if isinstance(x, dict) else x
    n = int(len(first))
    streamed = is_streamed(x)
    xs, ys = (None if streamed else _to_tensors(x)), _to_tensors(y)
    batch = min(batch_size, n)
    steps = steps_per_epoch(n, batch)
    padded = steps * batch  # n rounded up to whole batches
    start, end = shard_rows(batch, part)

    def one_epoch(epoch: Any) -> Any:
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=key)
        order = tf.concat([order, order[: padded - n]], axis=0)  # padded - n < batch <= n
        mine = tf.reshape(order, (steps, batch))[:, start:end]  # this worker's rows
        if streamed:
            return tf.data.Dataset.from_tensor_slices(tf.reshape(mine, (-1,)))
        return tf.data.Dataset.from_tensor_slices(mine)

    stream = tf.data.Dataset.range(initial_epoch, max(epochs, initial_epoch + 1))
    stream = stream.flat_map(one_epoch)
    if streamed:  # read example by example in parallel, then batch
        index, read = _reader(x)
        stream = stream.map(
            lambda i: (read(_gather(index, i)), _gather(ys, i)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        ).batch(end - start, drop_remainder=True)
    else:
        stream = stream.map(
            lambda idx: (_gather(xs, idx), _gather(ys, idx)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    return stream.prefetch(tf.data.AUTOTUNE)


def evaluation_stream(x: Any, y: Any, *, batch_size: int) -> Any:
    """Unshuffled batches for validation, test and prediction: cached in memory for
    arrays, read again each time for streamed inputs."""
    import tensorflow as tf

    from zoo.data.sources import is_streamed

    group = _group(x, y)
    if group > 1:  # read entry by entry (or many at once), each giving a group of examples
        x_index, read_x = _reader(x)
        y_index, read_y = _reader(y)
        entries = tf.data.Dataset.range(_entries(x))
        vectorized = _vectorized(x, y)
        if vectorized:
            entries = entries.batch(-(-batch_size // group))
        ds = entries.map(
            lambda e: (read_x(_gather(x_index, e)), read_y(_gather(y_index, e))),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        if vectorized:  # (entries, group, ...) -> (entries * group, ...)
            ds = ds.map(lambda *pair: tf.nest.map_structure(_merge_first_axes, pair))
        return ds.rebatch(batch_size).prefetch(tf.data.AUTOTUNE)
    if is_streamed(x):
        index, read = _reader(x)
        data = (index,) if y is None else (index, y)
        ds = tf.data.Dataset.from_tensor_slices(data)
        ds = ds.map(
            lambda entry, *rest: (read(entry), *rest),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    data = (x,) if y is None else (x, y)
    ds = tf.data.Dataset.from_tensor_slices(data).batch(batch_size)
    return ds.cache().prefetch(tf.data.AUTOTUNE)


def _leaves(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value.values()) if isinstance(value, dict) else [value]


def _group(x: Any, y: Any) -> int:
    """The group size of ``x``'s and ``y``'s streamed sources (1: one example an entry).
    Sources that read groups (e.g. a positive with its sampled negatives) must make up all
    of ``x`` and ``y``, with one index."""
    from zoo.data.sources import Source

    leaves = _leaves(x) + _leaves(y)
    groups = {leaf.group for leaf in leaves if isinstance(leaf, Source)}
    if not groups or groups == {1}:
        return 1
    if len(groups) > 1 or not all(isinstance(leaf, Source) for leaf in leaves):
        raise ValueError("sources that read groups of examples must make up all of x and y")
    return groups.pop()


def _vectorized(x: Any, y: Any) -> bool:
    """Whether every source of ``x`` and ``y`` reads a vector of entries at once."""
    from zoo.data.sources import Source

    leaves = [leaf for leaf in _leaves(x) + _leaves(y) if isinstance(leaf, Source)]
    return bool(leaves) and all(leaf.vectorized for leaf in leaves)


def _merge_first_axes(t: Any) -> Any:
    import tensorflow as tf

    return tf.reshape(t, tf.concat([[-1], tf.shape(t)[2:]], 0))


def _entries(x: Any) -> int:
    leaf = _leaves(x)[0]
    return len(leaf) // leaf.group


def _grouped_training_stream(
    x: Any,
    y: Any,
    *,
    batch_size: int,
    seed: int,
    initial_epoch: int,
    epochs: int,
    part: tuple[int, int],
) -> Any:
    """Training batches of sources whose entries read groups of examples: each epoch a
    seeded permutation of the *entries* (memory grows with entries, not examples), each
    entry's group in order, then batches of ``min(batch_size, n)`` examples; an epoch's
    short last batch is topped up with the epoch's first examples, as for arrays."""
    import tensorflow as tf

    entries = _entries(x)
    n = len(_leaves(x)[0])
    batch = min(batch_size, n)
    steps = steps_per_epoch(n, batch)
    start, end = shard_rows(batch, part)
    x_index, read_x = _reader(x)
    y_index, read_y = _reader(y)

    group = _group(x, y)
    extra = -(-(steps * batch - n) // group)  # entries that top up the last batch
    surplus = (entries + extra) * group - steps * batch  # 0 <= surplus < group
    # how many of its group each entry of an epoch gives: all, but the last one fewer, so
    # that every epoch is exactly ``steps`` batches (a resumed epoch starts aligned)

    def one_epoch(epoch: Any) -> Any:
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(entries), seed=key)
        padded = tf.concat([order, order[:extra]], 0)
        keep = tf.concat([tf.fill([entries + extra - 1], group), [group - surplus]], 0)
        return tf.data.Dataset.from_tensor_slices((padded, keep))

    def read(entry: Any, count: Any) -> Any:
        pair = (read_x(_gather(x_index, entry)), read_y(_gather(y_index, entry)))
        return tf.nest.map_structure(lambda t: t[:count], pair)

    def read_many(entries: Any, counts: Any) -> Any:  # (entries, group, ...) -> kept rows
        pair = (read_x(_gather(x_index, entries)), read_y(_gather(y_index, entries)))
        keep = tf.sequence_mask(counts, group)
        return tf.nest.map_structure(lambda t: tf.boolean_mask(t, keep), pair)

    # one map function for all epochs: the sources' tables are captured once
    stream = tf.data.Dataset.range(initial_epoch, max(epochs, initial_epoch + 1))
    stream = stream.flat_map(one_epoch)
    if _vectorized(x, y):  # about a batch's worth of entries per call
        stream = stream.batch(-(-batch // group)).map(
            read_many, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
    else:
        stream = stream.map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    # slices the entries' groups into batches (what unbatch().batch() does, without
    # handling one example at a time)
    stream = stream.rebatch(batch, drop_remainder=True)
    if (start, end) != (0, batch):  # this worker's rows of each global batch
        stream = stream.map(lambda bx, by: tf.nest.map_structure(lambda t: t[start:end], (bx, by)))
    return stream.prefetch(tf.data.AUTOTUNE)
