"""``zoo.evaluate`` and ``zoo.predict``: a trained run, a pretrained or a fresh model on data.

Both go through the model's task (split, evaluation, baselines, prediction rows), so a
plugin's own task is evaluated and predicted the way it was trained.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zoo.building import build_model
from zoo.catalog import ModelRef, get_catalog
from zoo.catalog.config import make_config
from zoo.catalog.hparams import Config
from zoo.runs import atomic_write_bytes, atomic_write_json, is_run_dir, read_run
from zoo.tasks.registry import task_of
from zoo.training.inputs import check_inputs, load_dataset, subsample


def trained_model(name_or_run: str | Path) -> tuple[ModelRef, Config, Any, dict, int]:
    """(ref, config, model with weights, data state, seed) for a name, name:tag or run."""
    if is_run_dir(name_or_run):
        record = read_run(name_or_run)
        ref = get_catalog().resolve(record.model)
        cfg = make_config(ref, [(f"{name_or_run}/run.toml", {**record.hparams, **record.train})])
        model = build_model(ref, cfg, compile=False)
        model.load_weights(record.weights_path)
        task_of(ref).compile(model, cfg)
        return ref, cfg, model, record.state, record.seed
    name = str(name_or_run)
    ref = get_catalog().resolve(name)
    cfg = make_config(ref)
    if ref.weights is not None:
        from zoo.weights.loading import load

        model = load(name)
        task_of(ref).compile(model, cfg)
    else:
        model = build_model(ref, cfg)
    return ref, cfg, model, {}, 0


def evaluate(
    name_or_run: str | Path, data: str | Path | None = None, *, batch_size: int = 256
) -> dict[str, Any]:
    """Metrics of a trained run or a (pretrained) model.

    Without ``data``: on the test split of the default dataset, recreated from the run's
    seed, with the baselines. With ``data``: on every example of ``data`` (as the task
    defines it: retrieval data is split the same way as in training, since ranking needs the
    items each user has seen).
    """
    ref, cfg, model, state, seed = trained_model(name_or_run)
    task = task_of(ref)
    dataset = load_dataset(ref, cfg, data, state=state or None)
    if data is None:  # the same examples the run was trained and tested on
        dataset = subsample(dataset, cfg.train["max_examples"], seed)
    check_inputs(model, dataset.x, ref.model.name)
    task.check_data(dataset, cfg)
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
) -> list[dict[str, Any]]:
    """Predictions for every example of ``data``, as the model's task writes them (top-k
    classes with probabilities, the top-k items of each user, values...). ``output`` (.json
    or .csv) also writes them to a file, atomically."""
    ref, cfg, model, state, _ = trained_model(name_or_run)
    task = task_of(ref)
    dataset = load_dataset(ref, cfg, data, state=state or None)
    check_inputs(model, dataset.x, ref.model.name)
    known = dict(state or dataset.state)
    if dataset.class_names and not known.get("class_names"):
        known["class_names"] = list(dataset.class_names)
    rows = list(
        task.predict(model, dataset, cfg, known, batch_size=batch_size, top_k=top_k, options={})
    )
    if output is not None:
        write_predictions(rows, Path(output))
    return rows


def write_predictions(rows: Iterable[dict[str, Any]], path: Path) -> None:
    rows = list(rows)
    if path.suffix.lower() == ".csv":
        import csv
        import io

        buffer = io.StringIO()
        flat = [
            {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()}
            for r in rows
        ]
        writer = csv.DictWriter(buffer, fieldnames=list(flat[0]) if flat else ["index"])
        writer.writeheader()
        writer.writerows(flat)
        atomic_write_bytes(path, buffer.getvalue().encode("utf-8"))
    else:
        atomic_write_json(path, rows)
