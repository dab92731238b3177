"""Readers for the user's own data files, shared by the built-in plugins' ``data.py``.

Each reader turns a file or folder into numpy arrays and raises :class:`DataError` naming
the file and the expected layout when it does not fit. Encoding choices that must be
repeated on new data (class names, normalisation statistics, vocabularies, id maps) travel
in a JSON-serialisable ``state`` dict: built from the training data when ``state`` is
``None``, reused as given otherwise.

Supported layouts:

- numeric tables: ``.csv``/``.tsv``/``.txt`` (optional header; the label is the column
  named label/target/class/y, else the last column; a column named ``id`` is the examples'
  key, not a feature), ``.npz`` (arrays ``x``, ``y`` and optionally ``ids``), ``.npy``
  (inputs only);
- image folders: ``root/<class name>/*.png`` for labelled data, or a flat folder of images
  (or one image file) for prediction;
- text tables: ``text,label`` CSV (header optional; columns found by name; an ``id``
  column is the key);
- ratings: MovieLens layouts ``ratings.csv`` (userId,movieId,rating,timestamp),
  ``u.data`` (tab-separated, no header) and ``ratings.dat`` (``::``-separated); a
  users-only file (one ``userId``/``user_id`` column) lists users to recommend for.

Every example carries a key that predictions are written beside (``Dataset.keys``): the
file path of an image, the ``id`` column of a table, else the text of a text table, else
the row number (1-based, counting data rows as the error messages do).

Labels: empty cells (or NaN) are an error naming the rows. With a known class list (a
trained run's or pretrained weights' ``class_names`` in ``state``) labels are matched by
name; a label the model does not know is an error listing both sets.

numpy is imported here at module level: this module is only imported by plugin data code,
never by ``import zoo``.
"""

from __future__ import annotations

import csv
import io
import math
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import DataError

LABEL_COLUMNS = ("label", "labels", "target", "class", "category", "y", "sentiment")
TEXT_COLUMNS = ("text", "sentence", "review", "content", "document", "body", "comment")
ID_COLUMNS = ("id", "row_id", "example_id", "sample_id", "key")
USER_COLUMNS = ("userid", "user_id", "user")
ITEM_COLUMNS = ("movieid", "itemid", "item_id", "movie_id", "item", "movie")
# cells that name a column when they open a file (so a header over non-numeric rows is seen)
_HEADER_NAMES = LABEL_COLUMNS + TEXT_COLUMNS + ID_COLUMNS + USER_COLUMNS[:2] + ITEM_COLUMNS[:4]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
PAD, OOV = 0, 1  # reserved token ids of the text encoding
MAX_VOCABULARY = 20000


# ------------------------------------------------------------------------------- helpers


def user_set(config: Any, key: str) -> bool:
    """True when ``config[key]`` differs from the architecture's declared default.

    The data may size a hyper-parameter (vocabulary, channels) only when the user or the
    preset left it at its default.
    """
    spec = getattr(config, "specs", {}).get(key)
    return spec is not None and has_key(config, key) and config[key] != spec.default


def has_key(config: Any, key: str) -> bool:
    """Whether ``config`` declares ``key`` (``Config.values`` holds the declared keys)."""
    values = getattr(config, "values", config)
    return isinstance(values, dict) and key in values


def check_path(path: Path | str) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"data path '{path}' does not exist", "check the --data argument")
    return path


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def read_table(path: Path) -> tuple[list[str] | None, list[list[str]]]:
    """Rows of a delimited text file as strings, and its header when it has one.

    The delimiter (comma, tab, semicolon or ``::``) is detected from the first lines. The
    first row is a header when it names a known column, or when it has a non-numeric cell
    over a column that is numeric in the next row.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a UTF-8 text file", "save the table as UTF-8 CSV") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(f"{path}: the file is empty", "give a file with one example per line")
    if "::" in lines[0]:
        rows = [line.split("::") for line in lines]
    else:
        sample = "\n".join(lines[:20])
        delimiter = ","
        if path.suffix.lower() == ".tsv" or ("\t" in sample and "," not in sample):
            delimiter = "\t"
        elif ";" in sample and "," not in sample:
            delimiter = ";"
        rows = [
            [cell.strip() for cell in row]
            for row in csv.reader(io.StringIO(text), delimiter=delimiter)
        ]
        rows = [row for row in rows if any(row)]
    widths = Counter(len(row) for row in rows)
    if len(widths) > 1:
        expected = len(rows[0]) if len(rows) == 1 else widths.most_common(1)[0][0]
        bad = next(i for i, row in enumerate(rows) if len(row) != expected)
        raise DataError(
            f"{path}: line {bad + 1} has {len(rows[bad])} columns, expected {expected}",
            "every row needs the same number of columns",
        )
    header = None
    first = rows[0]
    lowered = [cell.lower() for cell in first]
    if any(name in _HEADER_NAMES for name in lowered) or (
        len(rows) > 1
        and any(not _is_number(a) and _is_number(b) for a, b in zip(first, rows[1], strict=True))
    ):
        header, rows = lowered, rows[1:]
    if not rows:
        raise DataError(f"{path}: the file has a header but no rows", "add one example per line")
    return header, rows


def find_column(header: Sequence[str] | None, names: Sequence[str]) -> int | None:
    if header is None:
        return None
    for name in names:
        if name in header:
            return list(header).index(name)
    return None


@dataclass
class Examples:
    """What a reader found in a file: the inputs (an array, or texts), the raw labels
    (``None`` without a label column) and one key per example, named ``key_name``."""

    x: Any
    labels: list[str] | None
    keys: list[Any]
    key_name: str


def row_keys(n: int) -> list[int]:
    """Row numbers ``1..n``: the key of examples that have no id."""
    return list(range(1, n + 1))


def classification_labels(
    raw: Sequence[Any] | None, config: Any, state: dict[str, Any] | None, where: str
) -> tuple[np.ndarray | None, list[str] | None]:
    """Integer labels and class names for a classifier's data (``None`` labels when the data
    has none, e.g. for prediction), checked against ``num_classes`` and, for training data,
    against having two or more classes."""
    names = (state or {}).get("class_names")
    if raw is None:
        return None, names
    y, names = encode_labels(raw, state, where)
    check_num_classes(config, names, where)
    if state is None:
        require_classes(y, names, where)
    return y, names


def labelled_dataset(
    x: np.ndarray,
    raw_labels: Sequence[Any] | None,
    *,
    path: Path,
    config: Any,
    state: dict[str, Any] | None,
    implied: dict[str, Any],
    encoding: dict[str, Any],
    description: str,
    keys: Sequence[Any] | None = None,
    key_name: str = "row",
) -> Any:
    """The Dataset for a classifier's file: labels encoded and checked, the hyper-parameters
    the data fixes (only for training data: a trained run keeps its config), the encoding
    state (``encoding`` plus class names) saved with a run for later data, and the
    examples' keys (default: row numbers)."""
    from zoo.data.dataset import Dataset

    y, names = classification_labels(raw_labels, config, state, str(path))
    if y is not None:
        implied = {**implied, "num_classes": len(names)}
    new_state = dict(encoding)
    if names is not None:
        new_state["class_names"] = names
    return Dataset(
        x=x,
        y=y,
        name=path.stem,
        description=description,
        implied=implied if state is None else {},
        class_names=names,
        state=state if state is not None else new_state,
        keys=list(keys) if keys is not None else row_keys(len(x)),
        key_name=key_name if keys is not None else "row",
    )


def _listing(values: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f", ... ({len(values) - limit} more)" if len(values) > limit else "")


def _missing(value: str) -> bool:
    return value == "" or value.lower() == "nan"


def check_labels_present(values: Sequence[str], where: str) -> None:
    """Empty (or NaN) label cells are an error naming the first rows, never a class."""
    missing = [i + 1 for i, v in enumerate(values) if _missing(v)]
    if missing:
        rows = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
        plural = "s" if len(missing) > 1 else ""
        raise DataError(
            f"{where}: {len(missing)} of {len(values)} rows have no label (row{plural} {rows})",
            "fill in the label of every row, or drop the unlabelled rows",
        )


def encode_labels(
    raw: Sequence[Any], state: dict[str, Any] | None, where: str
) -> tuple[np.ndarray, list[str]]:
    """Integer labels and class names for raw labels (strings or integers).

    Labels that are all integers ``0..K-1`` keep their values; anything else is mapped onto
    the sorted distinct values. With class names in ``state`` (a trained run's, or
    pretrained weights') labels are matched to them by name, and a label the model does not
    know is an error listing both sets. Empty or NaN labels are an error naming the rows.
    """
    values = [str(v).strip() for v in raw]
    check_labels_present(values, where)
    if state is not None and state.get("class_names") is not None:
        names = [str(n) for n in state["class_names"]]
        index = {name: i for i, name in enumerate(names)}
        for value in set(values) - set(index):  # 3.0 for class "3"
            if re.fullmatch(r"-?\d+\.0+", value) and str(int(float(value))) in index:
                index[value] = index[str(int(float(value)))]
        unknown = sorted({v for v in values if v not in index}, key=_natural)
        if unknown:
            found = sorted(set(values), key=_natural)
            has = "" if len(found) == len(unknown) else f"the data has {_listing(found)}; "
            raise DataError(
                f"{where}: label{'s' if len(unknown) > 1 else ''} {_listing(unknown)} "
                f"{'are' if len(unknown) > 1 else 'is'} not among the model's classes "
                f"({has}the model knows {_listing(names)})",
                "name the labels (class folders, label values) as the model does, "
                "or train a run on this data",
            )
        return np.array([index[v] for v in values], dtype="int32"), names
    if not values:
        raise DataError(f"{where}: no labels found", "give at least one labelled example")
    if all(re.fullmatch(r"-?\d+(\.0+)?", v) for v in values):
        ints = np.array([int(float(v)) for v in values], dtype="int64")
        if ints.min() < 0:
            raise DataError(
                f"{where}: integer labels must be >= 0, found {int(ints.min())}",
                "number the classes 0..K-1, or use class names",
            )
        return ints.astype("int32"), [str(i) for i in range(int(ints.max()) + 1)]
    names = sorted(set(values))
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[v] for v in values], dtype="int32"), names


def _natural(value: str) -> tuple[int, Any]:
    """Sort key: numbers by value, then names alphabetically."""
    try:
        return (0, float(value))
    except ValueError:
        return (1, value)


def require_classes(y: np.ndarray, names: Sequence[str], where: str) -> None:
    """Training labels must hold at least two distinct classes."""
    found = np.unique(y)
    if len(found) < 2:
        raise DataError(
            f"{where}: every label is '{names[int(found[0])]}'",
            "a classifier needs examples of at least two classes",
        )


def check_num_classes(config: Any, class_names: Sequence[str], where: str) -> None:
    """A user-chosen ``num_classes`` smaller than the data's classes cannot fit the labels."""
    if user_set(config, "num_classes"):
        if config["num_classes"] < len(class_names):
            raise DataError(
                f"{where}: the data has {len(class_names)} classes but num_classes="
                f"{config['num_classes']}",
                f"drop --set num_classes or set it to at least {len(class_names)}",
            )


# ---------------------------------------------------------------------- numeric arrays

_X_KEYS = ("x", "X", "inputs", "features", "images", "data", "sequences")
_Y_KEYS = ("y", "Y", "labels", "label", "targets", "target")
_ID_KEYS = ("ids", "id", "keys")


def read_arrays(path: Path, *, label_free_width: int | None = None) -> tuple[np.ndarray, Any]:
    """``(x, raw_labels_or_None)`` from a ``.npz``, ``.npy`` or numeric table (see
    :func:`read_array_examples`, which also gives the examples' keys)."""
    found = read_array_examples(path, label_free_width=label_free_width)
    return found.x, found.labels


def read_array_examples(path: Path, *, label_free_width: int | None = None) -> Examples:
    """Inputs, raw labels (or ``None``) and keys from a ``.npz``, ``.npy`` or numeric table.

    In a table the label column is the one named like a label, else the last column, unless
    the table has exactly ``label_free_width`` feature columns (inputs only, for
    prediction). A column named ``id`` (or an ``ids`` array in a ``.npz``) gives the keys,
    and is not a feature; without one the keys are row numbers.
    """
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise DataError(
                f"{path}: not a readable .npz archive ({exc})", "save it with numpy.savez"
            ) from None
        x_key = next((k for k in _X_KEYS if k in arrays), None)
        if x_key is None:
            raise DataError(
                f"{path}: no input array; found {', '.join(sorted(arrays)) or 'nothing'}",
                "name the inputs 'x' (and the labels 'y'): numpy.savez(path, x=x, y=y)",
            )
        y_key = next((k for k in _Y_KEYS if k in arrays), None)
        x, y = arrays[x_key], arrays.get(y_key) if y_key else None
        if y is not None and len(y) != len(x):
            raise DataError(
                f"{path}: {len(x)} inputs but {len(y)} labels", "x and y need the same length"
            )
        id_key = next((k for k in _ID_KEYS if k in arrays), None)
        keys: list[Any] = row_keys(len(x))
        key_name = "row"
        if id_key is not None and arrays[id_key].ndim == 1 and len(arrays[id_key]) == len(x):
            keys, key_name = np.asarray(arrays[id_key]).tolist(), "id"
        labels = None if y is None else list(np.asarray(y).reshape(len(y), -1)[:, 0])
        return Examples(_numeric(x, path), labels, keys, key_name)
    if suffix == ".npy":
        try:
            x = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:  # EOFError: an empty file
            raise DataError(
                f"{path}: not a readable .npy file ({exc})", "save it with numpy.save"
            ) from None
        x = _numeric(x, path)
        return Examples(x, None, row_keys(len(x)), "row")
    if suffix in TABLE_SUFFIXES or suffix == ".dat":
        header, rows = read_table(path)
        width = len(rows[0])
        id_col = find_column(header, ID_COLUMNS)
        label_col = find_column(header, LABEL_COLUMNS)
        columns = [i for i in range(width) if i != id_col]
        if label_col is None and len(columns) != label_free_width:
            label_col = columns[-1] if len(columns) > 1 else None
        feature_cols = [i for i in columns if i != label_col]
        try:
            x = np.array([[float(row[i]) for i in feature_cols] for row in rows], dtype="float32")
        except ValueError:
            line = next(
                n for n, row in enumerate(rows) if not all(_is_number(row[i]) for i in feature_cols)
            )
            raise DataError(
                f"{path}: row {line + 1} has a non-numeric feature",
                "features must be numbers; the label may be a name",
            ) from None
        labels = None if label_col is None else [row[label_col] for row in rows]
        if id_col is None:
            keys, key_name = row_keys(len(rows)), "row"
        else:
            keys, key_name = [row[id_col] for row in rows], header[id_col]  # type: ignore[index]
        return Examples(_numeric(x, path), labels, keys, key_name)
    raise DataError(
        f"{path}: unsupported file type '{suffix or path.name}'",
        "give a .csv, .tsv, .npz or .npy file",
    )


def _numeric(x: Any, path: Path) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "biuf" or x.size == 0 or x.ndim == 0:
        raise DataError(
            f"{path}: inputs must be a non-empty numeric array, got {x.dtype} {x.shape}",
            "store numbers only",
        )
    x = x.astype("float32")
    if not np.isfinite(x).all():
        raise DataError(f"{path}: inputs contain NaN or infinity", "fill or drop missing values")
    return x


def standardize(
    x: np.ndarray, state: dict[str, Any] | None, axis: tuple[int, ...]
) -> tuple[np.ndarray, dict[str, Any]]:
    """Scale features to zero mean and unit variance with statistics kept in the state."""
    if state is not None and "mean" in state:
        mean = np.asarray(state["mean"], dtype="float32")
        std = np.asarray(state["std"], dtype="float32")
        if mean.shape != x.shape[-1:]:
            raise DataError(
                f"the data has {x.shape[-1]} features per step but the run was trained on "
                f"{mean.shape[0]}",
                "give data with the same columns as the training data",
            )
    else:
        mean = x.mean(axis=axis).astype("float32")
        std = x.std(axis=axis).astype("float32")
        std[std < 1e-6] = 1.0
    return (x - mean) / std, {"mean": mean.tolist(), "std": std.tolist()}


# ------------------------------------------------------------------------------ images


def list_images(path: Path) -> tuple[list[Path], list[str] | None]:
    """Image files under ``path`` and, for a folder of class sub-folders, their class names.

    ``root/cat/1.png, root/dog/2.png`` gives labels ``cat``/``dog``; a flat folder or a single
    image gives unlabelled images (``None``).
    """
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"{path}: not an image file", "give a .png/.jpg image or a folder")
        return [path], None
    subdirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    flat = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if subdirs:
        files, labels = [], []
        for sub in subdirs:
            found = sorted(
                p for p in sub.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            files += found
            labels += [sub.name] * len(found)
        if files:
            return files, labels
    if flat:
        return flat, None
    raise DataError(
        f"no images found in '{path}'",
        "expected class sub-folders of images (root/<class>/*.png) or a folder of images",
    )


def image_files(
    files: Sequence[Path | str], height: int, width: int, channels: int, scale: float = 1.0
) -> Any:
    """Image files as a streamed input (:class:`zoo.data.sources.ImageFiles`): decoded and
    resized to ``(height, width, channels)`` floats in ``[0, scale]`` by ``tf.data`` when a
    batch needs them; only the file list is held in memory. Small collections are read into
    memory once by the runner (the ``data_cache`` option)."""
    from zoo.data.sources import ImageFiles

    return ImageFiles(files, height, width, channels, scale)


def read_images(files: Sequence[Path], height: int, width: int, channels: int) -> np.ndarray:
    """Decode, convert and resize images to ``(n, height, width, channels)`` floats in [0, 1]
    now, in memory (the same decoding as :func:`image_files`). An unreadable file is a
    DataError naming it."""
    return np.asarray(image_files(files, height, width, channels))


# -------------------------------------------------------------------------------- text

_TOKEN = re.compile(r"[\w']+|[^\w\s]", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lower-cased words and punctuation marks."""
    return _TOKEN.findall(text.lower())


def read_text_table(path: Path) -> tuple[list[str], list[str] | None]:
    """Texts and raw labels (``None`` without a label column) from a text CSV (see
    :func:`read_text_examples`, which also gives the examples' keys)."""
    found = read_text_examples(path)
    return found.x, found.labels


def read_text_examples(path: Path) -> Examples:
    """Texts, raw labels (``None`` without a label column) and keys from a text CSV.

    Columns are found by header name (text/sentence/review..., label/class/sentiment...,
    id); without a header a two-column file is ``text,label`` (or ``label,text`` when the
    first column holds short single-word values and the second does not), and a one-column
    file is texts only. The keys are the ``id`` column, else the texts.
    """
    if path.is_dir() or path.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(
            f"{path}: expected a text table (.csv, .tsv or .txt)",
            "give a CSV with a 'text' and a 'label' column",
        )
    header, rows = read_table(path)
    width = len(rows[0])
    text_col = find_column(header, TEXT_COLUMNS)
    label_col = find_column(header, LABEL_COLUMNS)
    id_col = find_column(header, ID_COLUMNS)
    if header is not None:
        others = [i for i in range(width) if i != id_col]  # the text and label columns
        if text_col is None and len(others) == 1:
            text_col = others[0]
        elif len(others) == 2 and (text_col is None) != (label_col is None):
            # two columns, one recognised by name: the other one is the other role
            known = text_col if text_col is not None else label_col
            other = others[1] if others[0] == known else others[0]
            text_col = other if text_col is None else text_col
            label_col = other if label_col is None else label_col
        if text_col is None:
            raise DataError(
                f"{path}: no text column among {', '.join(header)}",
                "name the text column 'text' and the label column 'label'",
            )
    if header is None:
        if width == 1:
            text_col, label_col = 0, None
        elif width == 2:
            first_short = all(" " not in row[0] for row in rows)
            second_short = all(" " not in row[1] for row in rows)
            text_col, label_col = (1, 0) if first_short and not second_short else (0, 1)
        else:
            raise DataError(
                f"{path}: {width} columns and no header",
                "add a header naming the 'text' and 'label' columns",
            )
    texts = [row[text_col] for row in rows]
    labels = None if label_col is None else [row[label_col] for row in rows]
    if id_col is not None:
        return Examples(texts, labels, [row[id_col] for row in rows], header[id_col])  # type: ignore[index]
    return Examples(texts, labels, list(texts), "text")


def build_vocabulary(token_lists: Sequence[Sequence[str]], max_size: int) -> list[str]:
    """The ``max_size - 2`` most frequent tokens (ids 0 and 1 are padding and unknown)."""
    counts = Counter(token for tokens in token_lists for token in tokens)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [token for token, _ in ranked[: max(0, max_size - 2)]]


def encode_tokens(
    token_lists: Sequence[Sequence[str]], vocabulary: Sequence[str], length: int
) -> np.ndarray:
    """Token ids, truncated or right-padded with 0 to ``length``; unknown tokens are 1."""
    index = {token: i + 2 for i, token in enumerate(vocabulary)}
    out = np.zeros((len(token_lists), length), dtype="int32")
    for row, tokens in enumerate(token_lists):
        ids = [index.get(token, OOV) for token in tokens[:length]]
        out[row, : len(ids)] = ids
    return out


# ----------------------------------------------------------------------------- ratings


def read_ratings(path: Path) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Raw user ids, raw item ids, ratings and timestamps from a MovieLens-style file.

    A folder is searched for ``ratings.csv``, ``ratings.dat`` or ``u.data``. Columns are
    user, item, rating (optional) and timestamp (optional), by header name when there is
    one (userId/user_id/user, movieId/item_id/item/movie, rating, timestamp).
    """
    if path.is_dir():
        for name in ("ratings.csv", "ratings.dat", "u.data", "ratings.tsv"):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise DataError(
                f"no ratings file in '{path}'",
                "expected ratings.csv, ratings.dat or u.data (MovieLens layout)",
            )
    if path.suffix.lower() == ".data":  # MovieLens 100k: tab-separated, no header
        text = path.read_text(encoding="utf-8", errors="replace")
        rows = [line.split("\t") for line in text.splitlines() if line.strip()]
        header = None
    else:
        header, rows = read_table(path)
    width = len(rows[0])
    if width < 2:
        raise DataError(
            f"{path}: a ratings file needs at least user and item columns",
            "expected userId,movieId[,rating[,timestamp]]",
        )
    cols = {
        "user": 0,
        "item": 1,
        "rating": 2 if width > 2 else None,
        "time": 3 if width > 3 else None,
    }
    if header is not None:
        names = {
            "user": USER_COLUMNS,
            "item": ITEM_COLUMNS,
            "rating": ("rating", "score"),
            "time": ("timestamp", "time", "date"),
        }
        for key, options in names.items():
            found = find_column(header, options)
            if found is not None:
                cols[key] = found
            elif key in ("rating", "time"):
                cols[key] = None
            else:
                raise DataError(
                    f"{path}: no {key} column in the header ({', '.join(header)})",
                    f"expected columns user_id,item_id,rating,timestamp; "
                    f"name the {key} column one of {', '.join(options)}",
                )
    users = [row[cols["user"]] for row in rows]
    items = [row[cols["item"]] for row in rows]

    def numbers(key: str) -> np.ndarray:
        if cols[key] is None:
            return np.zeros(len(rows), dtype="float64")
        try:
            return np.array([float(row[cols[key]]) for row in rows], dtype="float64")
        except ValueError:
            raise DataError(
                f"{path}: the {key} column has a non-numeric value",
                "expected userId,movieId,rating,timestamp with numeric rating and timestamp",
            ) from None

    return users, items, numbers("rating"), numbers("time")


def read_users(path: Path) -> list[str] | None:
    """The user ids of a users-only file (the users to recommend for), in the file's order;
    ``None`` when ``path`` is not one (a ratings file, or a folder).

    A users-only file has a single column, under a header userId/user_id/user or none.
    Only the first line is read to decide, so a large ratings file is not read twice.
    """
    if path.is_dir() or path.suffix.lower() == ".data":
        return None
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        first = next((line for line in handle if line.strip()), "")
    if any(sep in first for sep in (",", "\t", ";", "::")):
        return None
    header, rows = read_table(path)
    if header is None and first.strip().strip('"').lower() in USER_COLUMNS:
        rows = rows[1:]  # a header over ids that are names, not numbers
        if not rows:
            raise DataError(f"{path}: the file has a header but no users", "list one user a line")
    return [row[0] for row in rows]


def index_ids(
    raw: Sequence[str], known: Sequence[str] | None, kind: str, where: str
) -> tuple[np.ndarray, list[str]]:
    """Contiguous ids ``0..n-1`` for raw ids, in order of first appearance.

    With ``known`` (a trained run's id list) new ids are an error: the model has no
    embedding for them.
    """
    if known is not None:
        index = {value: i for i, value in enumerate(known)}
        missing = list(dict.fromkeys(value for value in raw if value not in index))
        if missing:
            if len(missing) == 1:
                what = f"{kind} {missing[0]!r} was"
            else:
                what = f"{len(missing)} {kind}s ({_listing([repr(m) for m in missing])}) were"
            raise DataError(
                f"{where}: {what} not in the training data",
                f"the model only knows the {len(known)} {kind}s it was trained on",
            )
        return np.array([index[v] for v in raw], dtype="int32"), list(known)
    index: dict[str, int] = {}
    ids = np.array([index.setdefault(value, len(index)) for value in raw], dtype="int32")
    return ids, list(index)


def resize_array(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of ``(n, h, w, c)`` float images to ``(n, height, width, c)``."""
    if x.shape[1:3] == (height, width):
        return x.astype("float32")
    from PIL import Image

    out = np.empty((len(x), height, width, x.shape[3]), dtype="float32")
    for i, image in enumerate(x):
        for c in range(x.shape[3]):
            plane = Image.fromarray(np.ascontiguousarray(image[:, :, c], dtype="float32"), "F")
            out[i, :, :, c] = np.asarray(plane.resize((width, height), Image.BILINEAR))
    return out
