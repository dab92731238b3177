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

Tables (``.csv``/``.tsv``/``.txt``/``.dat``, text and ratings files too) are read by
pyarrow's CSV reader in record batches of ``BLOCK_SIZE`` bytes (:func:`scan_table`), and each
batch is converted (numbers, id codes, token counts) before the next one is read. A ``.npy``
file is memory-mapped, not read (float32 data is returned as the ``np.memmap`` itself); a
``.npz`` archive is read into memory (a zip member cannot be memory-mapped).

numpy is imported here at module level, pyarrow on first use: this module is only imported
by plugin data code, never by ``import zoo``.
"""

from __future__ import annotations

import io
import math
import os
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
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


# -------------------------------------------------------------------------------- tables
#
# Delimited text files are read by pyarrow's CSV reader (quotes, newlines inside quotes,
# UTF-8 check) in blocks of BLOCK_SIZE bytes, every column as text. The readers convert each
# record batch (numbers, id codes) before the next one is read, so memory follows the
# converted data, not the text.

BLOCK_SIZE = 1 << 24  # bytes of text parsed into one record batch
_SNIFF_LINES = 20  # the first lines decide the delimiter
_MAX_RAGGED = 10_000  # rows of another width read before the error is decided
_UNIT_SEPARATOR = b"\x1f"  # what ``::`` becomes for pyarrow's one-character delimiter


class _ColonStream(io.RawIOBase):
    """A file's bytes with every ``::`` replaced by one unit separator, so that pyarrow's
    one-character delimiter reads MovieLens ``ratings.dat``. A run of colons cut by a read
    is kept back and completed by the next read, so runs are replaced as in the whole file.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._file = path.open("rb")
        self._carry = b""  # trailing colons of the last read
        self._out = bytearray()  # replaced bytes not returned yet

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        want = size if size is not None and size >= 0 else None
        while want is None or len(self._out) < want:
            chunk = self._file.read(BLOCK_SIZE if want is None else max(want, 1 << 16))
            if not chunk:
                self._out += self._carry.replace(b"::", _UNIT_SEPARATOR)
                self._carry = b""
                break
            data = self._carry + chunk
            body = data.rstrip(b":")
            self._carry = data[len(body) :]
            self._out += body.replace(b"::", _UNIT_SEPARATOR)
        if want is None:
            want = len(self._out)
        out = bytes(self._out[:want])
        del self._out[:want]
        return out

    def close(self) -> None:
        self._file.close()
        super().close()


class _Ragged:
    """pyarrow's invalid-row handler: rows whose width differs from the first row's are
    counted (and skipped) until the scan ends, then the most common width is the expected
    one and the first row of another width is named."""

    def __init__(self) -> None:
        self.widths: Counter[int] = Counter()
        self.first: dict[int, int | None] = {}
        self.expected = 0  # the first row's width
        self.last = 0  # the line of the latest one
        self.stopped = False

    def __call__(self, row: Any) -> str:
        self.widths[row.actual_columns] += 1
        self.first.setdefault(row.actual_columns, row.number)
        self.expected, self.last = row.expected_columns, row.number or self.last
        if self.widths.total() >= _MAX_RAGGED:
            self.stopped = True
            return "error"
        return "skip"

    def check(self, path: Path, rows: int) -> None:
        """Raise the error when rows of another width were met; ``rows`` counts the rows
        read (an estimate from the line numbers when the reading stopped early)."""
        if not self.widths:
            return
        width = self.expected
        if self.stopped:
            rows = max(rows, self.last - self.widths.total())
        counts = Counter({width: rows})
        counts.update(self.widths)
        expected = counts.most_common(1)[0][0]  # ties: the first row's width
        if expected == width:
            got = min(self.widths, key=lambda w: self.first[w] or 0)
            line = self.first[got]
        else:
            got, line = width, 1
        raise DataError(
            f"{path}: line {line} has {got} columns, expected {expected}",
            "every row needs the same number of columns",
        )


def _sniff(path: Path) -> str:
    """The delimiter (``,``, tab, ``;`` or ``::``) from the first non-blank lines."""
    lines: list[str] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle):
            try:
                line = raw.decode("utf-8-sig" if number == 0 else "utf-8")
            except UnicodeDecodeError:
                raise DataError(
                    f"{path}: not a UTF-8 text file", "save the table as UTF-8 CSV"
                ) from None
            if line.strip():
                lines.append(line)
                if len(lines) == _SNIFF_LINES:
                    break
    if not lines:
        raise DataError(f"{path}: the file is empty", "give a file with one example per line")
    if "::" in lines[0]:
        return "::"
    sample = "".join(lines)
    if path.suffix.lower() == ".tsv" or ("\t" in sample and "," not in sample):
        return "\t"
    if ";" in sample and "," not in sample:
        return ";"
    return ","


def _arrow_error(path: Path, exc: Exception) -> DataError:
    if "UTF8" in str(exc) or "UTF-8" in str(exc):
        return DataError(f"{path}: not a UTF-8 text file", "save the table as UTF-8 CSV")
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DataError(f"{path}: not a readable table ({reason})", "save it as a CSV file")


class TableScan:
    """A delimited text file read in record batches by pyarrow's CSV reader.

    ``header`` holds the lower-cased column names, or ``None``; ``width`` the number of
    columns. Iterating gives one batch at a time: a list of one pyarrow string array per
    column, cells stripped of surrounding spaces, rows whose cells are all empty dropped and
    the header row left out. Rows of another width are an error naming the line (raised
    when the iteration ends, or by :meth:`finish`).

    The delimiter (comma, tab, semicolon or ``::``) is detected from the first lines unless
    given. The first row is a header when it names a known column, or when it has a
    non-numeric cell over a column that is numeric in the next row; ``header=False`` reads
    every row as data.
    """

    def __init__(self, path: Path, *, delimiter: str | None = None, header: bool | None = None):
        self.path = path
        self._ragged = _Ragged()
        self._read = 0  # rows pyarrow returned, the header and empty rows included
        self._source: Any = None
        self._reader = self._open(delimiter or _sniff(path))
        self.width: int = len(self._reader.schema)
        self._batches = self._trimmed()
        self._pending: list[list[Any]] = []
        count = 0
        for batch in self._batches:  # the first two rows decide the header
            self._pending.append(batch)
            count += len(batch[0])
            if count >= 2:
                break
        if count == 0:
            raise DataError(f"{path}: the file is empty", "give a file with one example per line")
        rows = [
            [column[i].as_py() for column in batch]
            for batch in self._pending
            for i in range(min(2, len(batch[0])))
        ][:2]
        self.header: list[str] | None = None
        lowered = [cell.lower() for cell in rows[0]]
        if header is None and (
            any(name in _HEADER_NAMES for name in lowered)
            or (
                len(rows) > 1
                and any(not _is_number(a) and _is_number(b) for a, b in zip(*rows, strict=True))
            )
        ):
            self.header = lowered
            self._pending[0] = [column[1:] for column in self._pending[0]]
            if not len(self._pending[0][0]):
                self._pending.pop(0)
            if count == 1:
                raise DataError(
                    f"{path}: the file has a header but no rows", "add one example per line"
                )

    def _open(self, delimiter: str) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        quote: str | bool = '"'
        if delimiter == "::":  # MovieLens ratings.dat: split as it is, no quoting
            delimiter, quote = _UNIT_SEPARATOR.decode(), False

        def source() -> Any:
            if quote is False:
                self._source = _ColonStream(self.path)
                return self._source
            return str(self.path)

        read = pacsv.ReadOptions(
            use_threads=False, block_size=BLOCK_SIZE, autogenerate_column_names=True
        )
        parse = pacsv.ParseOptions(
            delimiter=delimiter,
            quote_char=quote,
            newlines_in_values=True,
            invalid_row_handler=self._ragged,
        )
        try:
            try:
                convert = pacsv.ConvertOptions(default_column_type=pa.string())
            except TypeError:  # pyarrow < 22: name every column's type after a first look
                probe = pacsv.open_csv(source(), read_options=read, parse_options=parse)
                convert = pacsv.ConvertOptions(
                    column_types={name: pa.string() for name in probe.schema.names}
                )
                self._ragged = _Ragged()
                parse.invalid_row_handler = self._ragged
            return pacsv.open_csv(
                source(), read_options=read, parse_options=parse, convert_options=convert
            )
        except pa.ArrowInvalid as exc:
            if self._ragged.stopped:
                self._ragged.check(self.path, 0)
            raise _arrow_error(self.path, exc) from None

    def _trimmed(self) -> Iterator[list[Any]]:
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            for batch in self._reader:
                self._read += batch.num_rows
                columns = [pc.utf8_trim_whitespace(column) for column in batch.columns]
                filled = pc.greater(pc.binary_length(columns[0]), 0)
                for column in columns[1:]:
                    filled = pc.or_(filled, pc.greater(pc.binary_length(column), 0))
                if not pc.all(filled).as_py():
                    columns = [column.filter(filled) for column in columns]
                if len(columns[0]):
                    yield columns
        except pa.ArrowInvalid as exc:
            if not self._ragged.stopped:
                raise _arrow_error(self.path, exc) from None
        finally:
            if self._source is not None:
                self._source.close()
        self._ragged.check(self.path, self._read)

    def __iter__(self) -> Iterator[list[Any]]:
        while self._pending:
            yield self._pending.pop(0)
        yield from self._batches

    def finish(self) -> None:
        """Read the rest of the file without converting it, so that a ragged row further
        on is reported before an error found in the data read so far (as a whole-file
        reader would)."""
        self._pending = []
        for _ in self._batches:
            pass


def scan_table(
    path: Path, *, delimiter: str | None = None, header: bool | None = None
) -> TableScan:
    """A delimited text file to read batch by batch (see :class:`TableScan`)."""
    return TableScan(path, delimiter=delimiter, header=header)


def column_floats(column: Any) -> np.ndarray:
    """A text column of a batch as float64 numbers, parsed exactly as Python's ``float``
    (pyarrow's parser, with ``float`` itself for the spellings only Python accepts, such as
    ``1_000``); a cell that is not a number raises ``ValueError``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        return pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return np.array([float(value) for value in column.to_pylist()], dtype="float64")


def read_table(path: Path) -> tuple[list[str] | None, list[list[str]]]:
    """Rows of a delimited text file as strings, and its header when it has one.

    For small tables (every cell becomes a Python string); the built-in readers convert
    :func:`scan_table`'s batches column by column instead. The delimiter (comma, tab,
    semicolon or ``::``) is detected from the first lines. The first row is a header when it
    names a known column, or when it has a non-numeric cell over a column that is numeric in
    the next row.
    """
    scan = scan_table(path)
    columns: list[list[str]] = [[] for _ in range(scan.width)]
    for batch in scan:
        for values, column in zip(columns, batch, strict=True):
            values.extend(column.to_pylist())
    return scan.header, [list(row) for row in zip(*columns, strict=True)]


# ---------------------------------------------------------------------- numeric arrays

_X_KEYS = ("x", "X", "inputs", "features", "images", "data", "sequences")
_Y_KEYS = ("y", "Y", "labels", "label", "targets", "target")
_ID_KEYS = ("ids", "id", "keys")


def read_arrays(path: Path, *, label_free_width: int | None = None) -> tuple[np.ndarray, Any]:
    """``(x, raw_labels_or_None)`` from a ``.npz``, ``.npy`` or numeric table (see
    :func:`read_array_examples`, which also gives the examples' keys)."""
    found = read_array_examples(path, label_free_width=label_free_width)
    return found.x, found.labels


def read_array_examples(
    path: Path, *, label_free_width: int | None = None, keep_dtype: bool = False
) -> Examples:
    """Inputs, raw labels (or ``None``) and keys from a ``.npz``, ``.npy`` or numeric table.

    A ``.npy`` stays memory-mapped; it is converted to float32 (in memory) unless it is
    float32 already or ``keep_dtype`` (a reader that converts rows as it streams them,
    e.g. uint8 images, keeps the file's dtype on disk).

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
            x = np.load(path, mmap_mode="r", allow_pickle=False)  # not read into memory
        except (OSError, ValueError, EOFError) as exc:  # EOFError: an empty file
            raise DataError(
                f"{path}: not a readable .npy file ({exc})", "save it with numpy.save"
            ) from None
        x = _numeric(x, path, keep_dtype=keep_dtype)
        return Examples(x, None, row_keys(len(x)), "row")
    if suffix in TABLE_SUFFIXES or suffix == ".dat":
        return _table_examples(path, label_free_width)
    raise DataError(
        f"{path}: unsupported file type '{suffix or path.name}'",
        "give a .csv, .tsv, .npz or .npy file",
    )


def _table_examples(path: Path, label_free_width: int | None) -> Examples:
    """A numeric table read batch by batch: each batch's feature columns become float32
    rows before the next batch is read (see :func:`read_array_examples`)."""
    scan = scan_table(path)
    header, width = scan.header, scan.width
    id_col = find_column(header, ID_COLUMNS)
    label_col = find_column(header, LABEL_COLUMNS)
    columns = [i for i in range(width) if i != id_col]
    if label_col is None and len(columns) != label_free_width:
        label_col = columns[-1] if len(columns) > 1 else None
    feature_cols = [i for i in columns if i != label_col]
    blocks: list[np.ndarray] = []
    labels: list[str] | None = None if label_col is None else []
    keys: list[Any] = []
    for batch in scan:
        block = np.empty((len(batch[0]), len(feature_cols)), dtype="float32")
        try:
            for j, i in enumerate(feature_cols):
                block[:, j] = column_floats(batch[i])
        except ValueError:
            scan.finish()  # a ragged row further on is the error to report
            raise DataError(
                f"{path}: row {_first_non_number(blocks, batch, feature_cols) + 1} has a "
                "non-numeric feature",
                "features must be numbers; the label may be a name",
            ) from None
        blocks.append(block)
        if labels is not None:
            labels.extend(batch[label_col].to_pylist())
        if id_col is not None:
            keys.extend(batch[id_col].to_pylist())
    x = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
    if id_col is None:
        keys, key_name = row_keys(len(x)), "row"
    else:
        key_name = header[id_col]  # type: ignore[index]
    return Examples(_numeric(x, path), labels, keys, key_name)


def _first_non_number(blocks: Sequence[np.ndarray], batch: Sequence[Any], cols: list[int]) -> int:
    """The first row with a cell that is not a finite number, counting the rows of the
    converted ``blocks`` before ``batch``."""
    offset = 0
    for block in blocks:
        bad = np.flatnonzero(~np.isfinite(block).all(axis=1))
        if bad.size:
            return offset + int(bad[0])
        offset += len(block)
    rows = zip(*(batch[i].to_pylist() for i in cols), strict=True)
    return offset + next(n for n, row in enumerate(rows) if not all(map(_is_number, row)))


def _numeric(x: Any, path: Path, *, keep_dtype: bool = False) -> np.ndarray:
    x = np.asanyarray(x)  # a memory-mapped .npy stays a np.memmap
    if x.dtype.kind not in "biuf" or x.size == 0 or x.ndim == 0:
        raise DataError(
            f"{path}: inputs must be a non-empty numeric array, got {x.dtype} {x.shape}",
            "store numbers only",
        )
    if keep_dtype and isinstance(x, np.memmap) and x.dtype.kind in "biu":
        return x  # integers are finite; converted row by row by the caller's source
    if x.dtype != np.float32:  # one conversion; float32 data (a np.memmap too) is not copied
        x = np.asarray(x, dtype="float32")
    if not _all_finite(x):
        raise DataError(f"{path}: inputs contain NaN or infinity", "fill or drop missing values")
    return x


def _all_finite(x: np.ndarray, block: int = 1 << 22) -> bool:
    """``np.isfinite(x).all()`` a block of values at a time (a memory-mapped file is not
    read into memory at once)."""
    rows = max(1, block // max(1, x[0].size))
    return all(np.isfinite(x[i : i + rows]).all() for i in range(0, len(x), rows))


def standardize(
    x: np.ndarray, state: dict[str, Any] | None, axis: tuple[int, ...]
) -> tuple[Any, dict[str, Any]]:
    """Scale features to zero mean and unit variance with statistics kept in the state.

    In memory, the result is one new float32 array (statistics as numpy's ``mean``/``std``
    compute them). A memory-mapped file (``np.memmap``, e.g. a ``.npy``) stays on disk: the
    statistics are computed a chunk at a time and the result is a streamed
    :class:`zoo.data.sources.ArrayRows` that standardises each row as it is read.
    """
    streamed = isinstance(x, np.memmap)
    if state is not None and "mean" in state:
        mean = np.asarray(state["mean"], dtype="float32")
        std = np.asarray(state["std"], dtype="float32")
        if mean.shape != x.shape[-1:]:
            raise DataError(
                f"the data has {x.shape[-1]} features per step but the run was trained on "
                f"{mean.shape[0]}",
                "give data with the same columns as the training data",
            )
    elif streamed:
        from zoo.data.sources import feature_statistics

        mean, std = feature_statistics(x, axis)
        std[std < 1e-6] = 1.0
    else:
        mean = x.mean(axis=axis).astype("float32")
        std = x.std(axis=axis).astype("float32")
        std[std < 1e-6] = 1.0
    stats = {"mean": mean.tolist(), "std": std.tolist()}
    if streamed:
        from zoo.data.sources import ArrayRows

        return ArrayRows(x, mean=mean, std=std), stats
    out = np.asarray(x - mean)
    out /= std
    return out, stats


# ------------------------------------------------------------------------------ images


def list_images(path: Path) -> tuple[list[str], list[str] | None]:
    """Image files under ``path`` (as path strings, sorted) and, for a folder of class
    sub-folders, their class names.

    ``root/cat/1.png, root/dog/2.png`` gives labels ``cat``/``dog``; a flat folder or a single
    image gives unlabelled images (``None``). Files are listed with ``os.scandir`` as strings
    (no Path object per file: a million files cost ~100 MB less), and each label is the one
    shared string of its class.
    """
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise DataError(f"{path}: not an image file", "give a .png/.jpg image or a folder")
        return [str(path)], None
    root = str(path)
    with os.scandir(root) as entries:
        found = [(e.name, e.is_dir()) for e in entries if not e.name.startswith(".")]
    subdirs = sorted(name for name, is_dir in found if is_dir)
    flat = sorted(
        name for name, is_dir in found if not is_dir and name.lower().endswith(IMAGE_SUFFIXES)
    )
    if subdirs:
        files: list[str] = []
        labels: list[str] = []
        for sub in subdirs:
            images = sorted(_images_under(os.path.join(root, sub)), key=_path_parts)
            files += images
            labels += [sub] * len(images)
        if files:
            return files, labels
    if flat:
        return [os.path.join(root, name) for name in flat], None
    raise DataError(
        f"no images found in '{path}'",
        "expected class sub-folders of images (root/<class>/*.png) or a folder of images",
    )


def _path_parts(file: str) -> list[str]:
    return file.split(os.sep)  # the order Path objects sort in (component by component)


def _images_under(folder: str) -> Iterator[str]:
    """Image files anywhere under ``folder`` (hidden files included, as ``rglob`` did)."""
    for top, _, names in os.walk(folder):
        for name in names:
            if name.lower().endswith(IMAGE_SUFFIXES):
                yield os.path.join(top, name)


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


def read_text_examples(path: Path, *, token_counts: Counter[str] | None = None) -> Examples:
    """Texts, raw labels (``None`` without a label column) and keys from a text CSV.

    Columns are found by header name (text/sentence/review..., label/class/sentiment...,
    id); without a header a two-column file is ``text,label`` (or ``label,text`` when the
    first column holds short single-word values and the second does not), and a one-column
    file is texts only. The keys are the ``id`` column, else the texts.

    With ``token_counts``, the tokens of the texts (:func:`tokenize`) are counted into it
    as the file is read, batch by batch: the vocabulary in the same single pass.
    """
    if path.is_dir() or path.suffix.lower() not in TABLE_SUFFIXES:
        raise DataError(
            f"{path}: expected a text table (.csv, .tsv or .txt)",
            "give a CSV with a 'text' and a 'label' column",
        )
    scan = scan_table(path)
    header, width = scan.header, scan.width
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
    elif width == 1:
        text_col, label_col = 0, None
    elif width != 2:
        raise DataError(
            f"{path}: {width} columns and no header",
            "add a header naming the 'text' and 'label' columns",
        )
    # without a header, which of two columns holds the text is known after the last row
    wanted = (
        [0, 1] if text_col is None else [c for c in (text_col, label_col, id_col) if c is not None]
    )
    values: dict[int, list[str]] = {column: [] for column in wanted}
    for batch in scan:
        for column in wanted:
            values[column].extend(batch[column].to_pylist())
        if token_counts is not None and text_col is not None:
            count_tokens(values[text_col][-len(batch[0]) :], token_counts)
    if text_col is None:
        first_short = all(" " not in value for value in values[0])
        second_short = all(" " not in value for value in values[1])
        text_col, label_col = (1, 0) if first_short and not second_short else (0, 1)
        if token_counts is not None:
            count_tokens(values[text_col], token_counts)
    texts = values[text_col]
    labels = None if label_col is None else values[label_col]
    if id_col is not None:
        return Examples(texts, labels, values[id_col], header[id_col])  # type: ignore[index]
    return Examples(texts, labels, list(texts), "text")


def count_tokens(texts: Iterable[str], counts: Counter[str] | None = None) -> Counter[str]:
    """``counts`` (a new Counter by default) updated with the tokens of ``texts``; no token
    list is kept."""
    counts = Counter() if counts is None else counts
    for text in texts:
        counts.update(tokenize(text))
    return counts


def vocabulary_from_counts(counts: Counter[str], max_size: int) -> list[str]:
    """The ``max_size - 2`` most frequent tokens (ids 0 and 1 are padding and unknown), ties
    in alphabetical order."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [token for token, _ in ranked[: max(0, max_size - 2)]]


def build_vocabulary(token_lists: Iterable[Sequence[str]], max_size: int) -> list[str]:
    """The ``max_size - 2`` most frequent tokens (ids 0 and 1 are padding and unknown)."""
    return vocabulary_from_counts(Counter(t for tokens in token_lists for t in tokens), max_size)


def encode_texts(
    texts: Sequence[str], vocabulary: Sequence[str], length: int
) -> tuple[np.ndarray, int]:
    """Token ids of ``texts`` (as :func:`encode_tokens` of their :func:`tokenize`, one text
    at a time), and how many texts were cut to ``length`` tokens."""
    index = {token: i + 2 for i, token in enumerate(vocabulary)}
    out = np.zeros((len(texts), length), dtype="int32")
    cut = 0
    for row, text in enumerate(texts):
        tokens = tokenize(text)
        cut += len(tokens) > length
        ids = [index.get(token, OOV) for token in tokens[:length]]
        out[row, : len(ids)] = ids
    return out, cut


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

RATINGS_FILES = ("ratings.csv", "ratings.dat", "u.data", "ratings.tsv")


@dataclass
class Interactions:
    """A ratings file as columns: user and item ids as int32 codes into the distinct raw ids
    (``user_ids``/``item_ids``, in order of first appearance in the file), ratings (float32)
    and timestamps (float64); zeros for a column the file does not have. No Python object
    per row: 10M ratings take about 200 MB."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    times: np.ndarray
    user_ids: list[str]
    item_ids: list[str]
    path: Path


class _Codes:
    """Dictionary encoding of a text column, batch by batch: int32 codes into the distinct
    values in order of first appearance (pyarrow's ``dictionary_encode``, unified at the
    end with ``unique`` and ``index_in``)."""

    def __init__(self) -> None:
        self._indices: list[np.ndarray] = []
        self._dictionaries: list[Any] = []

    def add(self, column: Any) -> None:
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(column)
        self._indices.append(encoded.indices.to_numpy(zero_copy_only=False))
        self._dictionaries.append(encoded.dictionary)

    def finish(self) -> tuple[np.ndarray, list[str]]:
        import pyarrow as pa
        import pyarrow.compute as pc

        values = pc.unique(pa.concat_arrays(self._dictionaries))
        codes = np.empty(sum(len(i) for i in self._indices), dtype="int32")
        offset = 0
        for indices, dictionary in zip(self._indices, self._dictionaries, strict=True):
            remap = pc.index_in(dictionary, value_set=values).to_numpy(zero_copy_only=False)
            codes[offset : offset + len(indices)] = remap.astype("int32")[indices]
            offset += len(indices)
        self._indices, self._dictionaries = [], []
        return codes, values.to_pylist()


def ratings_file(path: Path) -> Path:
    """``path``, or the MovieLens ratings file in the folder ``path``."""
    if not path.is_dir():
        return path
    for name in RATINGS_FILES:
        if (path / name).is_file():
            return path / name
    raise DataError(
        f"no ratings file in '{path}'",
        "expected ratings.csv, ratings.dat or u.data (MovieLens layout)",
    )


def read_interactions(path: Path, *, rating_dtype: str = "float32") -> Interactions:
    """User and item id codes, ratings and timestamps from a MovieLens-style file, read in
    record batches with no Python object per row (see :class:`Interactions`).

    A folder is searched for ``ratings.csv``, ``ratings.dat`` or ``u.data``. Columns are
    user, item, rating (optional) and timestamp (optional), by header name when there is
    one (userId/user_id/user, movieId/item_id/item/movie, rating, timestamp).
    ``ratings.dat`` is ``::``-separated; ``u.data`` is tab-separated with no header.
    """
    path = ratings_file(path)
    if path.suffix.lower() == ".data":  # MovieLens 100k: tab-separated, no header
        scan = scan_table(path, delimiter="\t", header=False)
    else:
        scan = scan_table(path)
    header, width = scan.header, scan.width
    if width < 2:
        raise DataError(
            f"{path}: a ratings file needs at least user and item columns",
            "expected userId,movieId[,rating[,timestamp]]",
        )
    cols: dict[str, int | None] = {
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
    users, items = _Codes(), _Codes()
    numbers: dict[str, list[np.ndarray]] = {"rating": [], "time": []}
    dtypes = {"rating": rating_dtype, "time": "float64"}
    for batch in scan:
        users.add(batch[cols["user"]])  # type: ignore[index]
        items.add(batch[cols["item"]])  # type: ignore[index]
        for key, found in numbers.items():
            column = cols[key]
            if column is None:
                found.append(np.zeros(len(batch[0]), dtype=dtypes[key]))
                continue
            try:
                found.append(column_floats(batch[column]).astype(dtypes[key]))
            except ValueError:
                scan.finish()
                raise DataError(
                    f"{path}: the {key} column has a non-numeric value",
                    "expected userId,movieId,rating,timestamp with numeric rating and timestamp",
                ) from None
    user_codes, user_ids = users.finish()
    item_codes, item_ids = items.finish()
    return Interactions(
        users=user_codes,
        items=item_codes,
        ratings=np.concatenate(numbers["rating"]),
        times=np.concatenate(numbers["time"]),
        user_ids=user_ids,
        item_ids=item_ids,
        path=path,
    )


def read_ratings(path: Path) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Raw user ids, raw item ids, ratings and timestamps (float64) from a MovieLens-style
    file (see :func:`read_interactions`, which gives the same without a Python string per
    row: use it for large files).
    """
    found = read_interactions(path, rating_dtype="float64")
    users = np.asarray(found.user_ids, dtype=object)[found.users].tolist()
    items = np.asarray(found.item_ids, dtype=object)[found.items].tolist()
    return users, items, found.ratings, found.times


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


def _unknown_ids(missing: Sequence[str], known: Sequence[str], kind: str, where: str) -> DataError:
    if len(missing) == 1:
        what = f"{kind} {missing[0]!r} was"
    else:
        what = f"{len(missing)} {kind}s ({_listing([repr(m) for m in missing])}) were"
    return DataError(
        f"{where}: {what} not in the training data",
        f"the model only knows the {len(known)} {kind}s it was trained on",
    )


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
            raise _unknown_ids(missing, known, kind, where)
        return np.array([index[v] for v in raw], dtype="int32"), list(known)
    index: dict[str, int] = {}
    ids = np.array([index.setdefault(value, len(index)) for value in raw], dtype="int32")
    return ids, list(index)


def index_codes(
    codes: np.ndarray, values: Sequence[str], known: Sequence[str] | None, kind: str, where: str
) -> tuple[np.ndarray, list[str]]:
    """:func:`index_ids` of the raw ids ``values[codes]``, computed on the codes (numpy,
    no Python object per row): contiguous ids in order of first appearance in ``codes``,
    or the positions in ``known`` (a trained run's id list; new ids are an error)."""
    present, first = np.unique(codes, return_index=True)
    ranked = present[np.argsort(first, kind="stable")]  # codes by first appearance
    table = np.full(len(values), -1, dtype="int32")
    if known is None:
        table[ranked] = np.arange(len(ranked), dtype="int32")
        return table[codes], [values[c] for c in ranked]
    index = {value: i for i, value in enumerate(known)}
    positions = np.array([index.get(values[c], -1) for c in ranked], dtype="int32")
    if (positions < 0).any():
        raise _unknown_ids([values[c] for c in ranked[positions < 0]], known, kind, where)
    table[ranked] = positions
    return table[codes], list(known)


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
