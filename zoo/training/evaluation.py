"""``zoo.evaluate`` and ``zoo.predict``: a trained run, a pretrained or a fresh model on data.

Both go through the model's task (split, evaluation, baselines, prediction rows), so a
plugin's own task is evaluated and predicted the way it was trained.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.building import build_model
from zoo.catalog import ModelRef, get_catalog
from zoo.catalog.config import make_config
from zoo.catalog.hparams import Config
from zoo.data.dataset import Dataset
from zoo.errors import DataError, ZooError
from zoo.runs import atomic_write_bytes, atomic_write_json, is_run_dir, read_run
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


def predict(
    name_or_run: str | Path,
    data: str | Path | None,
    *,
    output: str | Path | None = None,
    top_k: int = 3,
    batch_size: int = 256,
    include_seen: bool = False,
) -> list[dict[str, Any]]:
    """Predictions for every example of ``data`` (``None``: the data the model was trained
    on), in the input's order, each with the example's key (file path, id, text, user id),
    as the model's task writes them (top-k classes with probabilities, the top-k items of
    each user, values...). A recommender leaves out the items a user interacted with in the
    training data unless ``include_seen``. ``output`` (.json or .csv) also writes them to a
    file, atomically."""
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
    rows = list(
        task.predict(
            model, dataset, cfg, known, batch_size=batch_size, top_k=top_k, options=options
        )
    )
    if output is not None:
        write_predictions(rows, Path(output))
    return rows


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


def write_predictions(rows: Iterable[dict[str, Any]], path: Path) -> None:
    """Write ``rows`` as JSON or CSV: atomically to a file (nothing half-written on a full
    disk), in place to a device or pipe (``/dev/stdout``); an OSError is one line."""
    try:
        _write_predictions(rows, path)
    except OSError as exc:
        raise ZooError(
            f"cannot write predictions to {path}: {exc.strerror or exc}", _OUTPUT_HINT
        ) from exc


def _write_predictions(rows: Iterable[dict[str, Any]], path: Path) -> None:
    rows = list(rows)
    if path.exists() and not path.is_file() and not path.is_dir():  # a device, a pipe
        text = json.dumps(rows, indent=2, default=_plain) + "\n"
        if path.suffix.lower() == ".csv":
            text = _csv_text(rows)
        with open(path, "w", encoding="utf-8") as handle:  # never replaced by a rename
            handle.write(text)
        return
    if path.suffix.lower() == ".csv":
        atomic_write_bytes(path, _csv_text(rows).encode("utf-8"))
    else:
        atomic_write_json(path, rows)


def _csv_text(rows: list[dict[str, Any]]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    flat = [
        {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()} for r in rows
    ]
    writer = csv.DictWriter(buffer, fieldnames=list(flat[0]) if flat else ["index"])
    writer.writeheader()
    writer.writerows(flat)
    return buffer.getvalue()


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else str(value)
