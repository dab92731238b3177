"""The shared training runner: ``zoo.train``, ``zoo.evaluate``, ``zoo.predict``.

Plugins describe the model (``zoo_build``) and the data (``zoo_dataset``); everything else
— seeding, validation of the data against the model, the seeded split, the tf.data
pipeline, callbacks, checkpoints and resume, test metrics and baselines, the run folder —
happens here, identically for every plugin. The CLI calls these functions.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo.api import build_model, make_config
from zoo.catalog import ModelRef, get_catalog
from zoo.data import Dataset, Splits, num_examples
from zoo.errors import ConfigError, DataError, PluginError
from zoo.hparams import Config
from zoo.runs import (
    METRICS_FILE,
    STATE_FILE,
    Run,
    RunError,
    atomic_write_bytes,
    atomic_write_json,
    is_run_dir,
    read_run,
    save_weights_atomic,
    write_run_toml,
)
from zoo.tasks import (
    RetrievalTask,
    baselines,
    evaluate_split,
    split_arrays,
    task_for,
)


# ------------------------------------------------------------------------------- config
def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML file of options: flat ``key = value`` or ``[hparams]``/``[train]`` tables."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist", "check the --config path") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", "fix the TOML syntax") from None
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("hparams", "train") and isinstance(value, Mapping):
            flat.update(value)
        else:
            flat[key] = value
    return flat


def load_dataset(
    ref: ModelRef, config: Config, data: str | Path | None, state: dict | None
) -> Dataset:
    """Call the owning plugin's ``zoo_dataset`` and check what it returned."""
    path = None if data is None else Path(data)
    if path is not None and not path.exists():
        raise DataError(f"data path {path} does not exist", "give an existing file or folder")
    host = get_catalog().host
    dataset = host.owner_hook(ref.plugin, "zoo_dataset")(config=config, path=path, state=state)
    if not isinstance(dataset, Dataset):
        raise PluginError(
            f"plugin '{ref.plugin}': zoo_dataset returned {type(dataset).__name__}",
            "zoo_dataset must return zoo.plugin.Dataset",
        )
    if len(dataset) == 0:
        raise DataError(f"no examples in {path or dataset.name}", "the data is empty")
    return dataset


def apply_implied(
    ref: ModelRef, config: Config, dataset: Dataset, explicit: set[str], source: str
) -> Config:
    """Apply the hyper-parameters the data fixes (``num_classes``...), unless the user set
    them explicitly to something else — then the data does not fit the model."""
    changes = {}
    for key, value in dataset.implied.items():
        if key not in config.specs:
            continue
        if key in explicit and config[key] != value:
            raise DataError(
                f"the data has {key}={value} but {key}={config[key]} was requested",
                f"drop the {key} setting or use data with {key}={config[key]}",
            )
        if config[key] != value:
            changes[key] = value
    if not changes:
        return config
    layers = [(source, {**config.values, **config.train, **changes})]
    return make_config(ref, layers)


def check_inputs(model: Any, x: Any, model_name: str) -> None:
    """Raise DataError, before any training, when arrays do not fit the model's inputs."""
    import numpy as np

    inputs = {t.name.split(":")[0]: t for t in model.inputs}
    if isinstance(x, dict):
        missing = sorted(set(inputs) - set(x))
        if missing:
            raise DataError(
                f"data has inputs {sorted(x)} but model '{model_name}' expects {sorted(inputs)}",
                f"provide {', '.join(missing)}",
            )
        pairs = [(name, x[name], inputs[name]) for name in inputs]
    else:
        if len(inputs) != 1:
            raise DataError(
                f"model '{model_name}' takes {len(inputs)} named inputs {sorted(inputs)}",
                "give a dict of arrays",
            )
        pairs = [(next(iter(inputs)), x, next(iter(inputs.values())))]
    for name, array, tensor in pairs:
        array = np.asarray(array)
        expected = tuple(tensor.shape)[1:]
        got = array.shape[1:]
        fits = len(expected) == len(got) and all(
            e is None or e == g for e, g in zip(expected, got, strict=True)
        )
        if not fits:
            want = "(n, " + ", ".join("?" if e is None else str(e) for e in expected) + ")"
            raise DataError(
                f"data '{name}' has shape {array.shape} but model '{model_name}' expects {want}",
                "reshape the data or set the model's input hyper-parameters with --set",
            )
        if "int" in str(tensor.dtype) and not np.issubdtype(array.dtype, np.integer):
            raise DataError(
                f"data '{name}' has dtype {array.dtype} but model '{model_name}' expects "
                f"integer ids",
                "give integer token/ids arrays",
            )
        if "float" in str(tensor.dtype) and not np.issubdtype(array.dtype, np.number):
            raise DataError(
                f"data '{name}' has dtype {array.dtype}, model '{model_name}' expects numbers",
                "convert the data to numbers",
            )


def check_labels(task: Any, dataset: Dataset, config: Config) -> None:
    import numpy as np

    from zoo.tasks import ClassificationTask

    if not isinstance(task, ClassificationTask):
        return
    if dataset.y is None:
        raise DataError(f"data {dataset.name} has no labels", "training needs a label column")
    y = np.asarray(dataset.y)
    if not np.issubdtype(y.dtype, np.integer) or y.ndim != 1:
        raise DataError(
            f"labels of {dataset.name} are {y.dtype} with shape {y.shape}",
            "expected one integer class id per example",
        )
    classes = config.get("num_classes")
    if classes is not None and (y.min() < 0 or y.max() >= classes):
        raise DataError(
            f"labels of {dataset.name} range {int(y.min())}..{int(y.max())} but the model has "
            f"{classes} classes",
            f"use labels 0..{classes - 1} or --set num_classes={int(y.max()) + 1}",
        )


def subsample(dataset: Dataset, limit: int, seed: int) -> Dataset:
    import numpy as np

    if not limit or len(dataset) <= limit:
        return dataset
    keep = np.sort(np.random.default_rng(seed + 7919).permutation(len(dataset))[:limit])
    x = (
        {k: v[keep] for k, v in dataset.x.items()}
        if isinstance(dataset.x, dict)
        else dataset.x[keep]
    )
    y = None if dataset.y is None else dataset.y[keep]
    return Dataset(**{**dataset.__dict__, "x": x, "y": y})


# -------------------------------------------------------------------------------- train
def train(
    name: str | None = None,
    data: str | Path | None = None,
    *,
    seed: int = 0,
    output: str | Path | None = None,
    resume: str | Path | None = None,
    config: str | Path | None = None,
    verbose: bool = True,
    callbacks: list[Any] | None = None,
    **options: Any,
) -> Run:
    """Train ``name`` on its default dataset (or ``data``) and write a run folder.

    ``options`` are hyper-parameters and training options (``epochs=3``,
    ``batch_size=64``, ``units=128``); ``config`` a TOML file of the same; ``resume`` a
    run folder killed mid-way, continued from its last completed epoch; ``callbacks`` extra
    ``keras.callbacks.Callback`` objects for this run.
    """
    started = time.perf_counter()
    callbacks_extra = list(callbacks or [])
    record = None
    if resume is not None:
        record = read_run(resume, require_complete=False)
        if record.complete:
            raise RunError(f"run {resume} already finished", "start a new run instead")
        if name and name.partition(":")[0] != record.model:
            raise RunError(
                f"run {resume} trains '{record.model}', not '{name}'",
                f"use `zoo train {record.model} --resume {resume}`",
            )
        ref = get_catalog().resolve(record.model)
        cfg = make_config(ref, [(f"{resume}/run.toml", {**record.hparams, **record.train})])
        if "strategy" in options:  # a run may be resumed on another strategy
            chosen = {**cfg.values, **cfg.train, "strategy": options["strategy"]}
            cfg = make_config(ref, [("resume", chosen)])
        seed, data = record.seed, record.data
        explicit: set[str] = set()
    else:
        if not name:
            raise ConfigError("no model given", "e.g. `zoo train cnn`")
        ref = get_catalog().resolve(name)
        layers = []
        explicit = set(options)
        if config is not None:
            from_file = read_config_file(config)
            explicit |= set(from_file)
            layers.append((str(config), from_file))
        layers.append(("options", options))
        cfg = make_config(ref, layers)
    task = task_for(ref.architecture.task)
    from zoo.distribute import make_distribution

    get_catalog().host.load(ref.plugin)  # a broken plugin fails before TensorFlow loads
    dist = make_distribution(cfg.train["strategy"])  # before any other TensorFlow work

    import keras

    keras.utils.set_random_seed(seed)
    dataset = load_dataset(ref, cfg, data, state=record.state if record else None)
    cfg = apply_implied(ref, cfg, dataset, explicit, source=f"data {dataset.name}")
    dataset = subsample(dataset, cfg.train["max_examples"], seed)
    check_labels(task, dataset, cfg)
    model = dist.build_model(ref, cfg)  # inside the strategy's scope
    check_inputs(model, dataset.x, ref.model.name)
    split = split_arrays(task, dataset, cfg, seed)
    n_train = num_examples(split["train"][0])
    if (
        isinstance(task, RetrievalTask)
        and cfg.train["test_split"]
        and not num_examples(split["test"][0])
    ):
        raise DataError(
            f"data {dataset.name} leaves no interactions to test on ({len(dataset)} interactions)",
            "give users several interactions each, or lower test_split",
        )
    if n_train == 0:
        raise DataError(
            f"data {dataset.name} has too few examples to split ({len(dataset)})",
            "give more data or lower validation_split/test_split",
        )

    # Everything is validated: only now does anything touch the disk.
    run_dir = dist.run_dir(ref.model.name, output, resume)  # non-chief workers: scratch
    run_dir.mkdir(parents=True, exist_ok=True)
    run_info = {
        "model": ref.model.name,
        "architecture": ref.architecture.name,
        "plugin": ref.plugin,
        "task": ref.architecture.task,
        "seed": seed,
        "data": None if data is None else str(Path(data).resolve()),
        "dataset": dataset.name,
        "status": "running",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "split": {k: int(len(v)) for k, v in split["indices"].items()},
        "distribution": dist.describe(cfg.train["batch_size"]),
    }
    if record is None:
        write_run_toml(run_dir, {"run": run_info, "hparams": cfg.values, "train": cfg.train})
        _save_split(run_dir, split["indices"])
        atomic_write_json(run_dir / STATE_FILE, dataset.state)

    history, initial_epoch, stopped = _restore(model, run_dir) if record else ({}, 0, False)
    batch_size = cfg.train["batch_size"]
    epochs = cfg.train["epochs"]
    callbacks, early = _callbacks(cfg, run_dir, history, n_train, verbose)
    callbacks[-1:-1] = list(callbacks_extra)
    from zoo.pipeline import evaluation_stream, steps_per_epoch, training_stream

    x_tr, y_tr = split["train"]
    x_va, y_va = split["validation"]
    splits = Splits(
        train=training_stream(
            x_tr,
            y_tr,
            batch_size=batch_size,
            seed=seed,
            initial_epoch=initial_epoch,
            epochs=epochs,
        ),
        validation=evaluation_stream(x_va, y_va, batch_size=batch_size)
        if num_examples(x_va)
        else None,
        test=None,
        arrays={k: split[k] for k in ("train", "validation", "test")},
        indices=split["indices"],
        extra=split["extra"],
        steps_per_epoch=steps_per_epoch(n_train, batch_size),
    )
    if splits.validation is not None:
        from zoo.pretrace import ValidationPretrace

        callbacks.insert(0, ValidationPretrace(splits.validation))
    train_started = time.perf_counter()
    epochs_this_session = 0
    if initial_epoch < epochs and not stopped and dist.distributed:
        dist.fit(model, splits, cfg, callbacks, initial_epoch)  # custom loop, same callbacks
        epochs_this_session = len(history.get("loss", [])) - initial_epoch
    elif initial_epoch < epochs and not stopped:
        host = get_catalog().host
        host.owner_hook(ref.plugin, "zoo_train")(
            model=model,
            splits=splits,
            config=cfg,
            callbacks=callbacks,
            initial_epoch=initial_epoch,
        )
        epochs_this_session = len(history.get("loss", [])) - initial_epoch
    train_seconds = time.perf_counter() - train_started

    model = dist.local_model(ref, cfg, model)  # an undistributed copy for test/saving
    from zoo.callbacks import BEST_WEIGHTS, CHECKPOINTS, load_checkpoint_weights

    best = run_dir / CHECKPOINTS / BEST_WEIGHTS
    if cfg.train["early_stopping"] and best.is_file():
        load_checkpoint_weights(model, best)
    test = evaluate_split(task, model, split, cfg, batch_size)
    base = baselines(task, split, cfg)
    epochs_run = len(history.get("loss", []))
    val_losses = history.get("val_loss", [])
    metrics = {
        "model": ref.model.name,
        "task": ref.architecture.task,
        "dataset": dataset.name,
        "seed": seed,
        "main_metric": task.main_metric,
        "test": test,
        "baselines": base,
        "epochs_run": epochs_run,
        "best_epoch": (int(min(range(len(val_losses)), key=val_losses.__getitem__)) + 1)
        if val_losses
        else epochs_run,
        "stopped_early": bool(early is not None and early.stopped_epoch > 0) or stopped,
        "split": run_info["split"],
        "batch_size": batch_size,
        "wall_time_s": round(time.perf_counter() - started, 3),
        "train_time_s": round(train_seconds, 3),
        "samples_per_s": round(n_train * epochs_this_session / train_seconds, 1)
        if epochs_this_session and train_seconds > 0
        else None,
        "distribution": run_info["distribution"],
    }
    metrics["epoch_times_s"] = history.get("_epoch_seconds", [])
    shown = {k: v for k, v in history.items() if not k.startswith("_")}
    from zoo.curves import plot_curves

    plot_curves(
        shown, task.main_metric, run_dir / "curves.png", f"{ref.model.name} — {run_dir.name}"
    )
    atomic_write_json(run_dir / METRICS_FILE, metrics)
    save_weights_atomic(_without_optimizer(ref, cfg, model), run_dir / "model.weights.h5")
    run_info["status"] = "complete"
    run_info["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    if record is not None:
        run_info["created"] = record.raw["run"].get("created", run_info["created"])
    write_run_toml(run_dir, {"run": run_info, "hparams": cfg.values, "train": cfg.train})
    run = Run(
        path=run_dir,
        model_name=ref.model.name,
        metrics=metrics,
        config=cfg,
        model=model,
        history=shown,
    )
    return dist.finish(run)  # non-chief workers: drop the scratch folder


def _without_optimizer(ref: ModelRef, cfg: Config, model: Any) -> Any:
    """An uncompiled twin of ``model`` with its weights: the final weights file then holds
    the layers only (no optimizer moments), which keeps shipped weights small."""
    twin = build_model(ref, cfg, compile=False)
    twin.set_weights(model.get_weights())
    return twin


def _save_split(run_dir: Path, indices: dict[str, Any]) -> None:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{k: np.asarray(v) for k, v in indices.items()})
    atomic_write_bytes(run_dir / "split.npz", buffer.getvalue())


def _restore(model: Any, run_dir: Path) -> tuple[dict[str, list[float]], int, bool]:
    from zoo.callbacks import restore_checkpoint

    state = restore_checkpoint(model, run_dir)
    if state is None:
        return {}, 0, False
    history = state["history"]
    es = state.get("early_stopping") or {}
    history["_early_stopping"] = [es] if es else []
    return history, int(state["epochs_done"]), bool(es.get("stopped_epoch"))


def _callbacks(
    cfg: Config, run_dir: Path, history: dict, n_train: int, verbose: bool
) -> tuple[list[Any], Any]:
    from zoo.callbacks import Checkpoint, ResumableEarlyStopping, progress_callback
    from zoo.pipeline import steps_per_epoch
    from zoo.tensorboard import EpochSummaries

    early = None
    if cfg.train["early_stopping"]:
        restored = (history.pop("_early_stopping", None) or [None])[-1]
        early = ResumableEarlyStopping(
            restored=restored, monitor="val_loss", patience=cfg.train["patience"]
        )
    callbacks: list[Any] = [c for c in (early,) if c is not None]
    callbacks.append(Checkpoint(run_dir, early, history))
    callbacks.append(EpochSummaries(run_dir / "logs"))
    host = get_catalog().host
    for extra in host.cross_hook("zoo_callbacks")(config=cfg, run_dir=run_dir):
        callbacks.extend(extra or [])
    if verbose:
        steps = steps_per_epoch(n_train, cfg.train["batch_size"])
        callbacks.append(progress_callback(cfg.train["epochs"], steps))
    return callbacks, early


# ---------------------------------------------------------------------- evaluate/predict
def trained_model(name_or_run: str | Path) -> tuple[ModelRef, Config, Any, dict, int]:
    """(ref, config, model with weights, data state, seed) for a name, name:tag or run."""
    if is_run_dir(name_or_run):
        record = read_run(name_or_run)
        ref = get_catalog().resolve(record.model)
        cfg = make_config(ref, [(f"{name_or_run}/run.toml", {**record.hparams, **record.train})])
        model = build_model(ref, cfg, compile=False)
        model.load_weights(record.weights_path)
        task_for(ref.architecture.task).compile(model, cfg)
        return ref, cfg, model, record.state, record.seed
    name = str(name_or_run)
    ref = get_catalog().resolve(name)
    cfg = make_config(ref)
    if ref.weights is not None:
        from zoo.loading import load

        model = load(name)
        task_for(ref.architecture.task).compile(model, cfg)
    else:
        model = build_model(ref, cfg)
    return ref, cfg, model, {}, 0


def evaluate(
    name_or_run: str | Path, data: str | Path | None = None, *, batch_size: int = 256
) -> dict[str, Any]:
    """Metrics of a trained run or a (pretrained) model.

    Without ``data``: on the test split of the default dataset, recreated from the run's
    seed, with the baselines. With ``data``: on every example of ``data`` (retrieval data is
    split the same way as in training, since ranking needs seen items).
    """
    ref, cfg, model, state, seed = trained_model(name_or_run)
    task = task_for(ref.architecture.task)
    dataset = load_dataset(ref, cfg, data, state=state or None)
    if data is None:  # the same examples the run was trained and tested on
        dataset = subsample(dataset, cfg.train["max_examples"], seed)
    check_inputs(model, dataset.x, ref.model.name)
    if data is None or isinstance(task, RetrievalTask):
        split = split_arrays(task, dataset, cfg, seed)
        scope = "test split"
    else:
        check_labels(task, dataset, cfg)
        everything = (dataset.x, dataset.y)
        split = {"train": everything, "test": everything, "extra": {}}
        scope = f"all of {data}"
    return {
        "model": ref.model.name,
        "source": str(name_or_run),
        "data": dataset.name,
        "scope": scope,
        "examples": num_examples(split["test"][0]),
        "test": evaluate_split(task, model, split, cfg, batch_size),
        "baselines": baselines(task, split, cfg) if data is None else {},
    }


def predict(
    name_or_run: str | Path,
    data: str | Path | None,
    *,
    output: str | Path | None = None,
    top_k: int = 3,
    batch_size: int = 256,
) -> list[dict[str, Any]]:
    """Predictions for every example of ``data``: top-k classes with probabilities, or
    top-k items for every user (retrieval), or values. ``output`` (.json or .csv) also
    writes them to a file, atomically."""
    import numpy as np

    ref, cfg, model, state, _ = trained_model(name_or_run)
    task = task_for(ref.architecture.task)
    dataset = load_dataset(ref, cfg, data, state=state or None)
    check_inputs(model, dataset.x, ref.model.name)
    names = dataset.class_names or (state or {}).get("class_names")
    rows: list[dict[str, Any]] = []
    if isinstance(task, RetrievalTask):
        users = np.unique(np.asarray(dataset.x["user_id"]))
        from zoo.retrieval import score_users

        scores = score_users(model, users, cfg["num_items"])
        best = np.argsort(-scores, axis=1)[:, :top_k]
        item_ids = (state or dataset.state).get("items")
        user_ids = (state or dataset.state).get("users")
        for row, user in enumerate(users):
            rows.append(
                {
                    "user_id": user_ids[user] if user_ids else int(user),
                    "items": [item_ids[i] if item_ids else int(i) for i in best[row]],
                    "scores": [round(float(scores[row, i]), 6) for i in best[row]],
                }
            )
    else:
        from zoo.pipeline import evaluation_stream

        out = np.asarray(
            model.predict(evaluation_stream(dataset.x, None, batch_size=batch_size), verbose=0)
        )
        for i, probs in enumerate(out):
            probs = np.ravel(probs)
            if probs.size == 1:
                rows.append({"index": i, "value": float(probs[0])})
                continue
            order = np.argsort(-probs)[:top_k]
            label = lambda c: names[c] if names and c < len(names) else int(c)  # noqa: E731
            rows.append(
                {
                    "index": i,
                    "label": label(order[0]),
                    "probability": round(float(probs[order[0]]), 6),
                    "top": [
                        {"label": label(c), "probability": round(float(probs[c]), 6)} for c in order
                    ],
                }
            )
    if output is not None:
        write_predictions(rows, Path(output))
    return rows


def write_predictions(rows: list[dict[str, Any]], path: Path) -> None:
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
