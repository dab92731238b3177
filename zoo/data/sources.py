"""Streamed inputs: examples that stay on disk until a batch needs them.

A :class:`Source` stands where a numpy array of inputs would be in ``Dataset.x``. It holds
only a small index in memory (file paths, row numbers); ``tf.data`` reads, decodes and
batches the examples in parallel when the runner iterates them. Because the index is in
memory, everything that works on example indices - the seeded split, the per-epoch
shuffle, resume, ``max_examples``, multi-worker slicing - stays exact and cheap.

A Source behaves like a read-only array where the zoo needs one: ``len()``, ``shape``,
``dtype``, ``source[indices]`` (a Source over those examples, still on disk) and
``np.asarray(source)`` (reads them all: the in-memory cache). Small data is read into
memory once (:func:`cache_policy`, the ``data_cache`` option); both paths decode with
the same :meth:`Source.read`, so they give identical tensors.

A plugin brings its own kind of file by subclassing :class:`Source` and implementing
``index``, ``read`` (a TensorFlow function of one index entry), ``example_shape`` and
``with_index``. :class:`ImageFiles` reads image files; :class:`ArrayRows` reads the rows of
a memory-mapped ``.npy`` file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from zoo.errors import DataError

# Decoded data up to this size is read into memory once (``data_cache = "auto"``).
MEMORY_LIMIT_BYTES = 256 << 20

# Formats tf.io.decode_image reads; others (TIFF) are decoded with Pillow.
_TF_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
_PIL_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


class Source:
    """Inputs read from disk on demand; see the module docstring."""

    dtype = np.dtype("float32")
    kind = "example"  # what one entry is, for error messages ("image", "row")
    group = 1  # examples one entry reads (``read`` gives them stacked on a first axis)
    positional = False  # True when ``index()`` is ``0..n-1``: entries are read by position
    # True when ``read`` also takes a vector of entries and returns their examples stacked
    # on a first axis (groups: ``(entries, group, ...)``): tf.data then reads many entries
    # per call instead of one, which matters when an entry is cheap (a row, sampled pairs)
    vectorized = False

    # -- to implement -----------------------------------------------------------------------
    def index(self) -> np.ndarray:
        """One entry per example (a path, a row number): what ``tf.data`` slices."""
        raise NotImplementedError

    def read(self, entry: Any) -> Any:
        """A TensorFlow function: one index entry -> one example tensor of
        ``example_shape`` and ``dtype``."""
        raise NotImplementedError

    @property
    def example_shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def with_index(self, index: np.ndarray) -> Source:
        """The same source over other entries (a subset of the examples)."""
        raise NotImplementedError

    def describe(self, position: int) -> str:
        """One example, for an error message (its file, its row)."""
        return f"{self.kind} {position + 1}"

    # -- array-like -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.index()) * self.group

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.example_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.example_shape)

    @property
    def nbytes(self) -> int:
        """Bytes of the decoded examples (what reading them into memory costs)."""
        return len(self) * math.prod(self.example_shape) * self.dtype.itemsize

    def __getitem__(self, key: Any) -> Any:
        """Examples ``key`` (a slice, indices, a mask) as a Source still on disk; one
        example (an int), or an element (a tuple), read now as numpy, as an array gives."""
        if isinstance(key, tuple):
            return np.asarray(self[key[0]])[(slice(None),) * (not _is_int(key[0])) + key[1:]]
        if _is_int(key):
            return np.asarray(self.with_index(self.index()[[int(key)]]))[0]
        return self.with_index(self.index()[key])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = read_all(self)
        return array if dtype is None else array.astype(dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} x {self.example_shape}, streamed)"


def _is_int(key: Any) -> bool:
    return isinstance(key, (int, np.integer))


def is_streamed(x: Any) -> bool:
    """Whether ``x`` (an array, a Source, or a dict of them) has a streamed part."""
    if isinstance(x, dict):
        return any(isinstance(v, Source) for v in x.values())
    return isinstance(x, Source)


def read_all(source: Source, batch_size: int = 256) -> np.ndarray:
    """Every example of ``source`` as one array, decoded in parallel by ``tf.data``."""
    import tensorflow as tf

    out = np.empty(source.shape, dtype=source.dtype)
    entries = tf.data.Dataset.from_tensor_slices(source.index())
    stream = entries.map(source.read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if source.group > 1:
        stream = stream.unbatch()
    start = 0
    with naming_unreadable(source):
        for batch in stream.batch(batch_size).prefetch(2):
            out[start : start + len(batch)] = batch.numpy()
            start += len(batch)
    return out


def cache_policy(x: Any, mode: str) -> Any:
    """``x`` with its Sources read into memory when ``mode`` is ``memory``, or ``auto`` and
    the decoded data fits in :data:`MEMORY_LIMIT_BYTES`; unchanged for ``stream``."""
    if mode == "stream" or not is_streamed(x):
        return x
    parts = x.values() if isinstance(x, dict) else [x]
    size = sum(p.nbytes for p in parts if isinstance(p, Source))
    if mode == "auto" and size > MEMORY_LIMIT_BYTES:
        return x
    if isinstance(x, dict):
        return {k: np.asarray(v) if isinstance(v, Source) else v for k, v in x.items()}
    return np.asarray(x)


# ---------------------------------------------------------------------------- bad files
def unreadable_positions(source: Source, limit: int = 0) -> list[int]:
    """Positions of the examples that ``source.read`` fails on (at most ``limit`` when
    given), found by reading every example once, in parallel."""
    import tensorflow as tf

    n = len(source)
    entries = tf.data.Dataset.from_tensor_slices((np.arange(n), source.index()))
    ok = entries.map(
        lambda i, entry: (i, tf.reduce_max(source.read(entry))),  # really decoded
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    ).ignore_errors()
    seen = np.zeros(n, dtype=bool)
    for i, _ in ok.as_numpy_iterator():
        seen[i] = True
    bad = np.flatnonzero(~seen).tolist()
    return bad[:limit] if limit else bad


def without_unreadable(source: Source) -> tuple[Source, list[int]]:
    """``source`` without its unreadable examples, and their positions."""
    bad = unreadable_positions(source)
    if not bad:
        return source, []
    keep = np.setdiff1d(np.arange(len(source)), bad)
    return source[keep], bad


@contextmanager
def naming_unreadable(x: Any) -> Iterator[None]:
    """Turn a TensorFlow error raised while ``x``'s streamed examples are read (a corrupt,
    truncated or vanished file) into a one-line DataError naming the file."""
    import tensorflow as tf

    try:
        yield
    except tf.errors.OpError as exc:
        parts = x.values() if isinstance(x, dict) else [x]
        for part in parts:
            if not isinstance(part, Source):
                continue
            bad = unreadable_positions(part, limit=1)
            if bad:
                raise DataError(
                    f"{part.describe(bad[0])}: cannot be read as {_article(part.kind)} "
                    f"({type(exc).__name__})",
                    "remove or replace the file (zoo train --set skip_unreadable=true "
                    "leaves such files out)",
                ) from None
        raise


def _article(kind: str) -> str:
    return ("an " if kind[:1] in "aeiou" else "a ") + kind


# ------------------------------------------------------------------------------ images
class ImageFiles(Source):
    """Image files decoded to ``(height, width, channels)`` floats: ``[0, 1]`` times
    ``scale`` (255 for networks that expect 0-255 pixels).

    One decoding for both paths (streamed and in-memory): ``tf.io.decode_image`` (PNG,
    JPEG, BMP, GIF, WebP; Pillow for other formats), conversion to ``channels``, then
    ``tf.image.resize`` bilinear with antialiasing.
    """

    kind = "image"

    def __init__(
        self,
        files: Any,
        height: int,
        width: int,
        channels: int,
        scale: float = 1.0,
    ) -> None:
        if isinstance(files, np.ndarray) and files.dtype.kind == "S":
            self.files = files
        else:
            self.files = np.array([str(f).encode("utf-8", "surrogateescape") for f in files])
        self.height, self.width, self.channels = int(height), int(width), int(channels)
        self.scale = float(scale)
        native = tuple(suffix.encode() for suffix in _TF_IMAGE_SUFFIXES)
        self.native = all(f.lower().endswith(native) for f in self.files)

    def index(self) -> np.ndarray:
        return self.files

    @property
    def example_shape(self) -> tuple[int, ...]:
        return (self.height, self.width, self.channels)

    def with_index(self, index: np.ndarray) -> ImageFiles:
        return ImageFiles(index, self.height, self.width, self.channels, self.scale)

    def describe(self, position: int) -> str:
        return self.files[position].decode("utf-8", "surrogateescape")

    def keys(self) -> PathKeys:
        """The files' paths as the examples' keys, without a Python string per file."""
        return PathKeys(self.files)

    def read(self, entry: Any) -> Any:
        import tensorflow as tf

        if self.native:
            decoded = tf.io.decode_image(
                tf.io.read_file(entry),
                channels=_decode_channels(self.channels),
                expand_animations=False,
            )
        else:
            decoded = tf.numpy_function(_pil_decode(self.channels), [entry], tf.uint8)
        image = _to_channels(tf.cast(decoded, tf.float32), self.channels)
        image.set_shape((None, None, self.channels))
        size = (self.height, self.width)
        image = tf.cond(  # already the model's size (the usual case for a prepared folder)
            tf.reduce_all(tf.equal(tf.shape(image)[:2], size)),
            lambda: image,
            lambda: tf.image.resize(image, size, antialias=True),
        )
        image = image * (self.scale / 255.0)  # the triangle filter never overshoots
        return tf.ensure_shape(image, self.example_shape)


class PathKeys(Sequence):
    """Paths kept as one bytes array, read back as strings one at a time."""

    def __init__(self, files: np.ndarray) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [f.decode("utf-8", "surrogateescape") for f in self.files[i]]
        return self.files[int(i)].decode("utf-8", "surrogateescape")


def _decode_channels(channels: int) -> int:
    return {1: 1, 2: 4, 3: 3}.get(channels, 4)


def _to_channels(image: Any, channels: int) -> Any:
    """``image`` (decoded with ``_decode_channels(channels)``) with ``channels`` channels."""
    import tensorflow as tf

    if channels == 2:  # luminance and alpha
        return tf.concat([tf.image.rgb_to_grayscale(image[..., :3]), image[..., 3:]], axis=-1)
    if channels > 4:
        pad = tf.fill(tf.concat([tf.shape(image)[:2], [channels - 4]], 0), 255.0)
        return tf.concat([image, pad], axis=-1)
    return image


def _pil_decode(channels: int) -> Any:
    def decode(path: bytes) -> np.ndarray:
        from PIL import Image

        with Image.open(path.decode("utf-8", "surrogateescape")) as image:
            mode = _PIL_MODES.get(channels, "RGBA")
            array = np.asarray(image.convert(mode), dtype=np.uint8)
        return array.reshape(array.shape[0], array.shape[1], -1)

    return decode


# ------------------------------------------------------------------------ array rows
class ArrayRows(Source):
    """The rows of an array that stays on disk (a memory-mapped ``.npy``), optionally
    standardised on the way (``(row - mean) / std``, float32), read by ``tf.data`` a row at
    a time; ``np.asarray`` reads them in chunks with the same arithmetic."""

    kind = "row"

    def __init__(
        self,
        array: np.ndarray,
        rows: np.ndarray | None = None,
        *,
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
    ) -> None:
        self.array = array
        self.rows = np.arange(len(array)) if rows is None else np.asarray(rows, dtype=np.int64)
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32)
        self.std = None if std is None else np.asarray(std, dtype=np.float32)
        scaled = self.mean is not None or self.std is not None
        self.dtype = np.dtype(np.float32 if scaled else array.dtype)

    def index(self) -> np.ndarray:
        return self.rows

    @property
    def example_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.array.shape[1:])

    def with_index(self, index: np.ndarray) -> ArrayRows:
        return ArrayRows(self.array, index, mean=self.mean, std=self.std)

    def convert(self, rows: np.ndarray) -> np.ndarray:
        """Rows as read from the array -> examples (the same arithmetic on both paths)."""
        out = np.asarray(rows, dtype=self.dtype)
        if self.mean is not None:
            out = out - self.mean
        if self.std is not None:
            out = out / self.std
        return out

    def read(self, entry: Any) -> Any:
        import tensorflow as tf

        def row(i: Any) -> np.ndarray:
            return self.convert(self.array[int(i)])

        value = tf.numpy_function(row, [entry], tf.as_dtype(self.dtype))
        return tf.ensure_shape(value, self.example_shape)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.empty(self.shape, dtype=self.dtype)
        step = max(1, (64 << 20) // max(1, out[:1].nbytes))
        for start in range(0, len(self.rows), step):
            out[start : start + step] = self.convert(self.array[self.rows[start : start + step]])
        return out if dtype is None else out.astype(dtype)


def feature_statistics(
    array: np.ndarray, axis: tuple[int, ...], chunk_bytes: int = 64 << 20
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over ``axis`` (which includes 0, the examples) of an
    array read a chunk of rows at a time, in float64: the file is never loaded whole."""
    step = max(1, chunk_bytes // max(1, int(np.prod(array.shape[1:])) * 8))
    count = int(np.prod([array.shape[a] for a in axis]))

    def chunks() -> Iterator[np.ndarray]:
        for start in range(0, len(array), step):
            yield np.asarray(array[start : start + step], dtype=np.float64)

    mean = sum(block.sum(axis=axis) for block in chunks()) / max(count, 1)
    var = sum(((block - mean) ** 2).sum(axis=axis) for block in chunks()) / max(count, 1)
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)
