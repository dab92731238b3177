"""The shared training runner: ``zoo.train``.

Plugins describe the model (``zoo_build``) and the data (``zoo_dataset``); the model's task
describes the loss, the split and the evaluation. Everything else — seeding, validation of
the data against the model, the tf.data pipeline, callbacks, checkpoints and resume, the
run folder — happens here, identically for every plugin, in five phases over one
:class:`Session`: configure, prepare the data and the model, open the run folder, fit,
finish. Nothing is written before the third phase, so bad input leaves no trace.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.building import build_model
from zoo.catalog import ModelRef, get_catalog
from zoo.catalog.config import make_config
from zoo.catalog.hparams import Config
from zoo.data.dataset import Dataset, Splits
from zoo.errors import ConfigError, DataError
from zoo.runs import (
    METRICS_FILE,
    STATE_FILE,
    Run,
    RunError,
    RunRecord,
    atomic_write_bytes,
    atomic_write_json,
    read_run,
    save_weights_atomic,
    write_run_toml,
)
from zoo.tasks.base import SplitData, Task
from zoo.tasks.registry import task_of
from zoo.training.inputs import (
    apply_implied,
    check_inputs,
    load_dataset,
    read_config_file,
    subsample,
)


@dataclass
class Resumed:
    """What the last checkpoint of a run says (empty for a new run)."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epochs_done: int = 0
    early_stopping: dict[str, Any] | None = None
    best_val_loss: float | None = None

    @property
    def stopped(self) -> bool:
        return bool((self.early_stopping or {}).get("stopped_epoch"))


@dataclass
class Session:
    """The state the phases of one training run share."""

    ref: ModelRef
    config: Config
    task: Task
    seed: int
    data: str | Path | None
    explicit: set[str]
    record: RunRecord | None = None  # the run being resumed
    started: float = field(default_factory=time.perf_counter)
    dist: Any = None
    dataset: Dataset | None = None
    model: Any = None
    split: SplitData | None = None
    run_dir: Path | None = None
    run_info: dict[str, Any] = field(default_factory=dict)
    resumed: Resumed = field(default_factory=Resumed)


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
    session = configure(name, data, seed=seed, resume=resume, config=config, options=options)
    prepare(session)
    open_run_folder(session, output, resume)
    fitted = fit(session, verbose=verbose, extra_callbacks=list(callbacks or []))
    return finish(session, fitted)


# ------------------------------------------------------------------------ 1. configure
def configure(
    name: str | None,
    data: str | Path | None,
    *,
    seed: int,
    resume: str | Path | None,
    config: str | Path | None,
    options: dict[str, Any],
) -> Session:
    """Resolve the model, its validated config and its task (no TensorFlow yet)."""
    catalog = get_catalog()
    if resume is not None:
        record = read_run(resume, require_complete=False)
        if record.complete:
            raise RunError(f"run {resume} already finished", "start a new run instead")
        if name and name.partition(":")[0] != record.model:
            raise RunError(
                f"run {resume} trains '{record.model}', not '{name}'",
                f"use `zoo train {record.model} --resume {resume}`",
            )
        ref = catalog.resolve(record.model)
        cfg = make_config(ref, [(f"{resume}/run.toml", {**record.hparams, **record.train})])
        if "strategy" in options:  # a run may be resumed on another strategy
            chosen = {**cfg.values, **cfg.train, "strategy": options["strategy"]}
            cfg = make_config(ref, [("resume", chosen)])
        return Session(ref, cfg, task_of(ref), record.seed, record.data, set(), record)
    if not name:
        raise ConfigError("no model given", "e.g. `zoo train cnn`")
    ref = catalog.resolve(name)
    layers = []
    explicit = set(options)
    if config is not None:
        from_file = read_config_file(config)
        explicit |= set(from_file)
        layers.append((str(config), from_file))
    layers.append(("options", options))
    cfg = make_config(ref, layers)
    return Session(ref, cfg, task_of(ref), seed, data, explicit)


# --------------------------------------------------------------------------- 2. prepare
def prepare(session: Session) -> None:
    """Load and check the data, build the model, split: every check before any write."""
    from zoo.training.distribute import make_distribution

    s = session
    get_catalog().host.load(s.ref.plugin)  # a broken plugin fails before TensorFlow loads
    s.dist = make_distribution(s.config.train["strategy"])  # before any other TF work

    import keras

    keras.utils.set_random_seed(s.seed)
    state = s.record.state if s.record else None
    dataset = load_dataset(s.ref, s.config, s.data, state=state)
    s.config = apply_implied(s.ref, s.config, dataset, s.explicit, f"data {dataset.name}")
    s.dataset = subsample(dataset, s.config.train["max_examples"], s.seed)
    s.task.check_data(s.dataset, s.config)
    s.model = s.dist.build_model(s.ref, s.config)  # inside the strategy's scope
    check_inputs(s.model, s.dataset.x, s.ref.model.name)
    s.split = s.task.split(s.dataset, s.config, s.seed)
    if s.split.size("train") == 0:
        raise DataError(
            f"data {s.dataset.name} has too few examples to split ({len(s.dataset)})",
            "give more data or lower validation_split/test_split",
        )


# ------------------------------------------------------------------- 3. open the folder
def open_run_folder(session: Session, output: str | Path | None, resume: Any) -> None:
    """Create the run folder (or reopen the resumed one) and restore its checkpoint."""
    s = session
    assert s.split is not None and s.dataset is not None
    s.run_dir = s.dist.run_dir(s.ref.model.name, output, resume)  # non-chief: scratch
    s.run_dir.mkdir(parents=True, exist_ok=True)
    s.run_info = {
        "model": s.ref.model.name,
        "architecture": s.ref.architecture.name,
        "plugin": s.ref.plugin,
        "task": s.ref.architecture.task,
        "seed": s.seed,
        "data": None if s.data is None else str(Path(s.data).resolve()),
        "dataset": s.dataset.name,
        "status": "running",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "split": {k: int(len(v)) for k, v in s.split.indices.items()},
        "distribution": s.dist.describe(s.config.train["batch_size"]),
    }
    if s.record is None:
        write_run_toml(s.run_dir, _run_toml(s))
        _save_split(s.run_dir, s.split.indices)
        atomic_write_json(s.run_dir / STATE_FILE, s.dataset.state)
    else:
        s.resumed = _restore(s.model, s.run_dir)


# ------------------------------------------------------------------------------- 4. fit
@dataclass
class Fitted:
    seconds: float
    epochs_this_session: int
    early: Any
    epoch_seconds: list[float]


def fit(session: Session, *, verbose: bool, extra_callbacks: list[Any]) -> Fitted:
    """Train from the last completed epoch to ``epochs`` (or until early stopping)."""
    from zoo.data.pipeline import evaluation_stream, steps_per_epoch, training_stream

    s = session
    assert s.split is not None and s.run_dir is not None
    cfg = s.config
    batch_size, epochs = cfg.train["batch_size"], cfg.train["epochs"]
    history = s.resumed.history
    initial_epoch = s.resumed.epochs_done
    n_train = s.split.size("train")
    callbacks, early, checkpoint = _callbacks(s, n_train, verbose)
    callbacks[-1:-1] = extra_callbacks
    x_tr, y_tr = s.split.train
    x_va, y_va = s.split.validation
    splits = Splits(
        train=training_stream(
            x_tr,
            y_tr,
            batch_size=batch_size,
            seed=s.seed,
            initial_epoch=initial_epoch,
            epochs=epochs,
        ),
        validation=evaluation_stream(x_va, y_va, batch_size=batch_size)
        if s.split.size("validation")
        else None,
        test=None,
        arrays={k: s.split.part(k) for k in ("train", "validation", "test")},
        indices=s.split.indices,
        extra=s.split.extra,
        steps_per_epoch=steps_per_epoch(n_train, batch_size),
    )
    started = time.perf_counter()
    if initial_epoch < epochs and not s.resumed.stopped:
        if s.dist.distributed:  # custom loop, same callbacks
            s.dist.fit(s.model, splits, cfg, callbacks, initial_epoch, s.task)
        else:
            get_catalog().host.owner_hook(s.ref.plugin, "zoo_train")(
                model=s.model,
                splits=splits,
                config=cfg,
                callbacks=callbacks,
                initial_epoch=initial_epoch,
            )
    seconds = time.perf_counter() - started
    done = len(history.get("loss", [])) - initial_epoch
    return Fitted(seconds, done, early, list(checkpoint.epoch_seconds))


# ---------------------------------------------------------------------------- 5. finish
def finish(session: Session, fitted: Fitted) -> Run:
    """Test metrics and baselines, final weights, curves; then mark the run complete."""
    from zoo.training.callbacks import BEST_WEIGHTS, CHECKPOINTS, load_checkpoint_weights
    from zoo.training.curves import plot_curves

    s = session
    assert s.split is not None and s.run_dir is not None and s.dataset is not None
    cfg, ref, task, run_dir = s.config, s.ref, s.task, s.run_dir
    model = s.dist.local_model(ref, cfg, s.model)  # an undistributed copy for test/saving
    best = run_dir / CHECKPOINTS / BEST_WEIGHTS
    if cfg.train["early_stopping"] and best.is_file():
        load_checkpoint_weights(model, best)
    batch_size = cfg.train["batch_size"]
    history = s.resumed.history
    epochs_run = len(history.get("loss", []))
    val_losses = history.get("val_loss", [])
    n_train = s.split.size("train")
    metrics = {
        "model": ref.model.name,
        "task": ref.architecture.task,
        "dataset": s.dataset.name,
        "seed": s.seed,
        "main_metric": task.main_metric,
        "higher_is_better": task.higher_is_better,
        "test": task.evaluate(model, s.split, cfg, batch_size),
        "baselines": task.baselines(s.split, cfg),
        "epochs_run": epochs_run,
        "best_epoch": (int(min(range(len(val_losses)), key=val_losses.__getitem__)) + 1)
        if val_losses
        else epochs_run,
        "stopped_early": bool(fitted.early is not None and fitted.early.stopped_epoch > 0)
        or s.resumed.stopped,
        "split": s.run_info["split"],
        "batch_size": batch_size,
        "wall_time_s": round(time.perf_counter() - s.started, 3),
        "train_time_s": round(fitted.seconds, 3),
        "samples_per_s": round(n_train * fitted.epochs_this_session / fitted.seconds, 1)
        if fitted.epochs_this_session and fitted.seconds > 0
        else None,
        "distribution": s.run_info["distribution"],
        "epoch_times_s": fitted.epoch_seconds,
    }
    plot_curves(
        history, task.main_metric, run_dir / "curves.png", f"{ref.model.name} — {run_dir.name}"
    )
    atomic_write_json(run_dir / METRICS_FILE, metrics)
    save_weights_atomic(_without_optimizer(ref, cfg, model), run_dir / "model.weights.h5")
    s.run_info["status"] = "complete"
    s.run_info["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    if s.record is not None:
        s.run_info["created"] = s.record.raw["run"].get("created", s.run_info["created"])
    write_run_toml(run_dir, _run_toml(s))
    run = Run(
        path=run_dir,
        model_name=ref.model.name,
        metrics=metrics,
        config=cfg,
        model=model,
        history=dict(history),
    )
    return s.dist.finish(run)  # non-chief workers: drop the scratch folder


# ---------------------------------------------------------------------------- helpers
def _run_toml(s: Session) -> dict[str, Any]:
    return {"run": s.run_info, "hparams": s.config.values, "train": s.config.train}


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


def _restore(model: Any, run_dir: Path) -> Resumed:
    from zoo.training.callbacks import restore_checkpoint

    state = restore_checkpoint(model, run_dir)
    if state is None:
        return Resumed()
    return Resumed(
        history={k: v for k, v in state["history"].items() if not k.startswith("_")},
        epochs_done=int(state["epochs_done"]),
        early_stopping=state.get("early_stopping") or None,
        best_val_loss=state.get(
            "best_val_loss", state["history"].get("_best_val_loss", [None])[-1]
        ),
    )


def _callbacks(s: Session, n_train: int, verbose: bool) -> tuple[list[Any], Any, Any]:
    from zoo.data.pipeline import steps_per_epoch
    from zoo.training.callbacks import Checkpoint, ResumableEarlyStopping, progress_callback
    from zoo.training.tensorboard import EpochSummaries

    assert s.run_dir is not None
    cfg = s.config
    early = None
    if cfg.train["early_stopping"]:
        early = ResumableEarlyStopping(
            restored=s.resumed.early_stopping, monitor="val_loss", patience=cfg.train["patience"]
        )
    checkpoint = Checkpoint(s.run_dir, early, s.resumed.history, s.resumed.best_val_loss)
    callbacks: list[Any] = [c for c in (early,) if c is not None]
    callbacks.append(checkpoint)
    callbacks.append(EpochSummaries(s.run_dir / "logs"))
    for extra in get_catalog().host.cross_hook("zoo_callbacks")(config=cfg, run_dir=s.run_dir):
        callbacks.extend(extra or [])
    if verbose:
        steps = steps_per_epoch(n_train, cfg.train["batch_size"])
        callbacks.append(progress_callback(cfg.train["epochs"], steps))
    return callbacks, early, checkpoint
