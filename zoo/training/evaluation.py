"""``zoo.evaluate`` and ``zoo.predict``: a trained run, a pretrained or a fresh model on data.

Both go through the model's task (split, evaluation, baselines, prediction rows), so a
plugin's own task is evaluated and predicted the way it was trained.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import textwrap
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

from zoo.building import build_model
from zoo.catalog import ModelRef, get_catalog
from zoo.catalog.config import make_config
from zoo.catalog.hparams import Config
from zoo.data.dataset import Dataset
from zoo.errors import DataError, ZooError
from zoo.runs import is_run_dir, read_run
from zoo.tasks.registry import task_of
from zoo.training.inputs import check_inputs, load_dataset, subsample


@dataclass
class Trained:
    """A model ready to evaluate or predict, and what it was trained on.

    ``state``: the encoding state of its training data (class names, vocabulary, id maps);
    ``trained_on``: the data path it was trained on (``None``: the plugin's default
    dataset); ``known``: whether the training data is known at all (a fresh model's is
    not; pretrained weights' is the default dataset when the weights entry names it).
    """

    ref: ModelRef
    config: Config
    model: Any
    state: dict[str, Any]
    seed: int
    label: str
    trained_on: Path | None = None
    known: bool = False
    default: Dataset | None = None  # the default dataset, when it was loaded already

    def data_path(self, hint: str) -> Path | None:
        """The data path the model was trained on, checked to still exist."""
        if self.trained_on is not None and not self.trained_on.exists():
            raise DataError(
                f"{self.label} was trained on {self.trained_on}, which no longer exists",
                hint,
            )
        return self.trained_on

    def load(self, data: str | Path | None) -> Dataset:
        """``data`` (``None``: the data the model was trained on), encoded as in training."""
        if data is None and self.trained_on is None and self.default is not None:
            return self.default
        path = self.data_path("pass --data with the data to use") if data is None else Path(data)
        return load_dataset(self.ref, self.config, path, state=self.state or None)

    def training_data(self) -> Dataset | None:
        """The examples the model was trained on (``max_examples`` drawn by its seed), or
        ``None`` when they are not known."""
        if not self.known:
            return None
        path = self.data_path("pass --data, or --include-seen to predict without it")
        dataset = self.load(path)
        return subsample(dataset, self.config.train["max_examples"], self.seed)


def trained_model(name_or_run: str | Path) -> Trained:
    """The model of a name, name:tag or run folder, with weights and training data."""
    folder = Path(name_or_run)
    if is_run_dir(folder) or (folder.is_dir() and len(folder.parts) > 1):
        record = read_run(name_or_run)  # a folder path that is no run says so
        ref = get_catalog().resolve(record.model)
        cfg = make_config(ref, [(f"{name_or_run}/run.toml", {**record.hparams, **record.train})])
        model = build_model(ref, cfg, compile=False)
        from zoo.weights.loading import load_weights_file

        load_weights_file(model, record.weights_path, f"run {name_or_run}")
        task_of(ref).compile(model, cfg)
        trained_on = None if record.data is None else Path(record.data)
        return Trained(
            ref, cfg, model, record.state, record.seed, f"run {name_or_run}", trained_on, True
        )
    name = str(name_or_run)
    ref = get_catalog().resolve(name)
    cfg = make_config(ref)
    if ref.weights is None:
        return Trained(ref, cfg, build_model(ref, cfg), {}, 0, f"model {name}")
    from zoo.weights.loading import load

    model = load(name)
    task_of(ref).compile(model, cfg)
    trained = Trained(ref, cfg, model, {}, 0, name)
    # the weights' classes, vocabulary...: the state of the dataset they were trained on
    try:
        default = load_dataset(ref, cfg, None, state=None)
    except ZooError:
        return trained
    trained.default = default
    if ref.weights.dataset == default.name:  # the entry names the dataset it was trained on
        trained.state, trained.known = dict(default.state), True
    return trained


def evaluate(
    name_or_run: str | Path, data: str | Path | None = None, *, batch_size: int = 256
) -> dict[str, Any]:
    """Metrics of a trained run or a (pretrained) model.

    Without ``data``: on the test split of the data the model was trained on (a run's
    ``--data``, else the default dataset), recreated from the run's seed, with the
    baselines. With ``data``: on every example of ``data`` (as the task defines it:
    retrieval data is split the same way as in training, since ranking needs the items each
    user has seen). A model with known class names matches ``data``'s labels by name.
    """
    trained = trained_model(name_or_run)
    ref, cfg, model, seed = trained.ref, trained.config, trained.model, trained.seed
    task = task_of(ref)
    dataset = trained.load(data)
    if data is None:  # the same examples the run was trained and tested on
        dataset = subsample(dataset, cfg.train["max_examples"], seed)
    task.check_data(dataset, cfg)
    check_inputs(model, dataset.x, ref.model.name)
    if data is None:
        split = task.split(dataset, cfg, seed)
        scope = "test split"
    else:
        split = task.whole(dataset, cfg)
        scope = f"all of {data}"
    return {
        "model": ref.model.name,
        "source": str(name_or_run),
        "data": dataset.name,
        "scope": scope,
        "examples": split.size("test"),
        "main_metric": task.main_metric,
        "test": task.evaluate(model, split, cfg, batch_size),
        "baselines": task.baselines(split, cfg) if data is None else {},
    }


@overload
def predict(
    name_or_run: str | Path,
    data: str | Path | None,
    *,
    output: str | Path | None = ...,
    top_k: int = ...,
    batch_size: int = ...,
    include_seen: bool = ...,
    stream: Literal[False] = ...,
) -> list[dict[str, Any]]: ...


@overload
def predict(
    name_or_run: str | Path,
    data: str | Path | None,
    *,
    output: str | Path | None = ...,
    top_k: int = ...,
    batch_size: int = ...,
    include_seen: bool = ...,
    stream: Literal[True],
) -> Iterator[dict[str, Any]]: ...


def predict(
    name_or_run: str | Path,
    data: str | Path | None,
    *,
    output: str | Path | None = None,
    top_k: int = 3,
    batch_size: int = 256,
    include_seen: bool = False,
    stream: bool = False,
) -> list[dict[str, Any]] | Iterator[dict[str, Any]]:
    """Predictions for every example of ``data`` (``None``: the data the model was trained
    on), in the input's order, each with the example's key (file path, id, text, user id),
    as the model's task writes them (top-k classes with probabilities, the top-k items of
    each user, values...). A recommender leaves out the items a user interacted with in the
    training data unless ``include_seen``.

    Returns a list of rows; ``stream=True`` returns an iterator instead, which yields each
    row as soon as its batch is predicted and holds no more than a batch in memory (for
    large data: ``for row in zoo.predict(run, "photos/", stream=True): ...``). The model,
    the data and ``output`` are checked when ``predict`` is called, the rows computed as
    the iterator is consumed.

    ``output`` (.json or .csv) also writes the rows to a file as they are produced: to a
    temporary file in the same folder, renamed over ``output`` after the last row, so an
    error (or a stream closed before its end) leaves no file behind and a previous file
    intact; a device or pipe (``/dev/stdout``) is written in place. JSON is one indented
    array, as ``json.dump(rows, indent=2)`` writes it; CSV has a header, then one line a
    row (lists as JSON)."""
    if output is not None:
        check_output_file(Path(output))  # before the model runs
    trained = trained_model(name_or_run)
    ref, cfg, model, state = trained.ref, trained.config, trained.model, trained.state
    task = task_of(ref)
    dataset = trained.load(data)
    inputs = task.prediction_inputs(dataset)
    if inputs is not None:
        check_inputs(model, inputs, ref.model.name)
    known = dict(state or dataset.state)
    if dataset.class_names and not known.get("class_names"):
        known["class_names"] = list(dataset.class_names)
    options = {"include_seen": include_seen, "training_data": trained.training_data}
    rows = _naming_unreadable(
        task.predict(
            model, dataset, cfg, known, batch_size=batch_size, top_k=top_k, options=options
        ),
        dataset.x,
    )
    if output is not None:
        rows = _writing(rows, Path(output))
    return rows if stream else list(rows)


def _naming_unreadable(rows: Iterator[dict[str, Any]], x: Any) -> Iterator[dict[str, Any]]:
    """``rows``, with a file that cannot be decoded while they are predicted named in a
    one-line DataError (streamed inputs are read as the rows are computed)."""
    from zoo.data.sources import naming_unreadable

    with naming_unreadable(x):
        yield from rows


def check_output_file(path: Path) -> None:
    """Raise ZooError when ``path`` cannot be a file: a folder, or under a regular file."""
    if path.is_dir():
        raise ZooError(f"cannot write predictions to {path}: it is a folder", _OUTPUT_HINT)
    folder = next((p for p in path.parents if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise ZooError(
            f"cannot write predictions to {path}: {folder} is a file, not a folder",
            _OUTPUT_HINT,
        )


_OUTPUT_HINT = "choose another --output path (a .json or .csv file in a writable folder)"


class RowFormat:
    """Rows written one at a time through ``write(text)``: ``kind`` ``"json"`` (one
    indented array, the text ``json.dumps(rows, indent=2) + "\\n"`` gives) or ``"csv"`` (a
    header from the first row's columns, then a line a row; lists and dicts as JSON).
    Call :meth:`row` for each row, then :meth:`end`."""

    def __init__(self, kind: str, write: Callable[[str], Any]) -> None:
        if kind not in ("json", "csv"):
            raise ValueError(f"unknown row format {kind!r}")
        self.kind, self.write, self.count = kind, write, 0
        self._csv: Any = None

    @classmethod
    def for_path(cls, path: Path, write: Callable[[str], Any]) -> RowFormat:
        return cls("csv" if path.suffix.lower() == ".csv" else "json", write)

    def row(self, row: dict[str, Any]) -> None:
        if self.kind == "json":
            text = textwrap.indent(json.dumps(row, indent=2, default=_plain), "  ")
            self.write(("[\n" if self.count == 0 else ",\n") + text)
        else:
            flat = {
                k: json.dumps(v, default=_plain) if isinstance(v, (list, dict)) else v
                for k, v in row.items()
            }
            if self._csv is None:
                self._csv = csv.DictWriter(_Sink(self.write), fieldnames=list(flat))
                self._csv.writeheader()
            self._csv.writerow(flat)
        self.count += 1

    def end(self) -> None:
        if self.kind == "json":
            self.write("\n]\n" if self.count else "[]\n")
        elif self._csv is None:  # no rows: the header of the index column
            csv.DictWriter(_Sink(self.write), fieldnames=["index"]).writeheader()


class _Sink:
    def __init__(self, write: Callable[[str], Any]) -> None:
        self.write = write


def write_predictions(rows: Iterable[dict[str, Any]], path: Path) -> int:
    """Write ``rows`` as JSON or CSV as they come (see :func:`predict`'s ``output``) and
    return how many; an OSError is one line naming the path."""
    count = 0
    for _ in _writing(rows, path):
        count += 1
    return count


def _writing(rows: Iterable[dict[str, Any]], path: Path) -> Iterator[dict[str, Any]]:
    """Yield ``rows`` after writing each to ``path``: to a temporary sibling renamed over
    ``path`` at the end (removed on any error or when the iterator is closed early), or in
    place for a device or pipe (never replaced by a rename, which as root would swap the
    device for a file)."""
    in_place = path.exists() and not path.is_file() and not path.is_dir()
    tmp: Path | None = None
    try:
        with _oserror_as_zoo(path):
            if in_place:
                handle = open(path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
                tmp = Path(name)
                handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
        try:
            out = RowFormat.for_path(path, handle.write)
            for row in rows:
                with _oserror_as_zoo(path):
                    out.row(row)
                yield row
            with _oserror_as_zoo(path):
                out.end()
                handle.flush()
                if tmp is not None:
                    os.fsync(handle.fileno())
        finally:
            with suppress(OSError):  # flushed above when it matters; on an error: moot
                handle.close()
        if tmp is not None:
            with _oserror_as_zoo(path):
                os.replace(tmp, path)
            tmp = None
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


@contextmanager
def _oserror_as_zoo(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise ZooError(
            f"cannot write predictions to {path}: {exc.strerror or exc}", _OUTPUT_HINT
        ) from exc


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)
