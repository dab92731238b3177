"""The shared training runner: ``zoo.train``.

Plugins describe the model (``zoo_build``) and the data (``zoo_dataset``); the model's task
describes the loss, the split and the evaluation. Everything else — seeding, validation of
the data against the model, the tf.data pipeline, callbacks, checkpoints and resume, the
run folder — happens here, identically for every plugin, in five phases over one
:class:`Session`: configure, prepare the data and the model, open the run folder, fit,
finish. Nothing is written before the third phase, so bad input leaves no trace.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.building import build_model
from zoo.catalog import ModelRef, get_catalog
from zoo.catalog.config import make_config
from zoo.catalog.hparams import Config
from zoo.data.dataset import Dataset, Splits
from zoo.errors import ConfigError, WeightsError
from zoo.runs import (
    METRICS_FILE,
    OWNER_KEYS,
    STATE_FILE,
    Run,
    RunError,
    RunRecord,
    atomic_write_bytes,
    atomic_write_json,
    check_resumable,
    claim_run,
    read_run,
    release_run,
    save_weights_atomic,
    write_run_toml,
)
from zoo.tasks.base import SplitData, Task
from zoo.tasks.registry import task_of
from zoo.training.inputs import (
    apply_implied,
    check_inputs,
    check_split,
    in_memory_if_chosen,
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
    weights: Any = None  # starting weights: a tag, a .weights.h5 file or a run folder
    strict: bool = False  # starting weights that do not fit are an error
    lineage: dict[str, Any] = field(default_factory=dict)  # where the weights came from
    head: list[str] = field(default_factory=list)  # layers --freeze trains first
    load_report: Any = None  # what loading the starting weights did, layer by layer
    phase: str | None = None  # the fine-tuning phase the model is compiled for
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
    weights: str | Path | None = None,
    strict: bool = False,
    **options: Any,
) -> Run:
    """Train ``name`` on its default dataset (or ``data``) and write a run folder.

    ``options`` are hyper-parameters and training options (``epochs=3``,
    ``batch_size=64``, ``units=128``, ``freeze="backbone"``); ``config`` a TOML file of the
    same; ``resume`` a run folder killed mid-way, continued from its last completed epoch;
    ``callbacks`` extra ``keras.callbacks.Callback`` objects for this run.

    Fine-tuning: ``name`` with a weight tag (``"cnn:digits"``) or ``weights`` (a tag, a
    ``.weights.h5`` file or a run folder) starts from those weights, loaded like
    ``zoo.load`` does (verified, weights-only; layers whose shapes the data changes, such
    as the classifier for other classes, are re-initialised, or refused with ``strict``).
    """
    session = configure(
        name,
        data,
        seed=seed,
        resume=resume,
        config=config,
        options=options,
        weights=weights,
        strict=strict,
    )
    prepare(session)
    try:
        open_run_folder(session, output, resume)
        fitted = fit(session, verbose=verbose, extra_callbacks=list(callbacks or []))
        return finish(session, fitted)
    finally:
        release_run(session.run_dir)  # a run this process stopped training reads "crashed"


# ------------------------------------------------------------------------ 1. configure
def configure(
    name: str | None,
    data: str | Path | None,
    *,
    seed: int,
    resume: str | Path | None,
    config: str | Path | None,
    options: dict[str, Any],
    weights: str | Path | None = None,
    strict: bool = False,
) -> Session:
    """Resolve the model, its validated config and its task (no TensorFlow yet)."""
    catalog = get_catalog()
    if resume is not None and (weights is not None or (name and ":" in name)):
        raise ConfigError(
            "--weights (or NAME:TAG) cannot be combined with --resume",
            "a resumed run continues from its own checkpoint; drop the weights",
        )
    if resume is not None:
        record = read_run(resume, require_complete=False)
        warning = check_resumable(record)  # refuses a finished or still running run
        if warning:
            import sys

            print(f"warning: {warning}", file=sys.stderr)
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
        session = Session(ref, cfg, task_of(ref), record.seed, record.data, set(), record)
        finetune = record.raw.get("run", {}).get("finetune", {})
        session.lineage = dict(finetune.get("weights", {}))
        session.head = list(finetune.get("head", []))
        return session
    if not name:
        raise ConfigError("no model given", "e.g. `zoo train cnn`")
    ref = catalog.resolve(name)
    tag = ref.weights.name if ref.weights is not None else None
    if tag is not None and weights is not None and str(weights) != tag:
        raise ConfigError(
            f"`{name}` and --weights {weights} name two starting weights",
            f"use `zoo train {ref.model.name} --weights {weights}` or `zoo train {name}`",
        )
    weights = tag if tag is not None else weights
    layers = []
    explicit = set(options)
    if config is not None:
        from_file = read_config_file(config)
        explicit |= set(from_file)
        layers.append((str(config), from_file))
    layers.append(("options", options))
    cfg = make_config(ref, layers)
    if cfg.train["freeze"] != "none" and weights is None:
        raise ConfigError(
            f"--freeze {cfg.train['freeze']} needs starting weights",
            f"name them: `zoo train {ref.model.name}:TAG` or --weights FILE|RUN",
        )
    session = Session(ref, cfg, task_of(ref), seed, data, explicit)
    session.weights, session.strict = weights, strict
    return session


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
    s.dataset = in_memory_if_chosen(
        subsample(dataset, s.config.train["max_examples"], s.seed), s.config.train["data_cache"]
    )
    s.task.check_data(s.dataset, s.config)
    s.model = s.dist.build_model(s.ref, s.config)  # inside the strategy's scope
    check_inputs(s.model, s.dataset.x, s.ref.model.name)
    if s.weights is not None:
        _load_starting_weights(s)
    s.split = s.task.split(s.dataset, s.config, s.seed)
    check_split(s.split, s.config, s.dataset)  # enough examples for every split


# ------------------------------------------------------------------- 3. open the folder
def open_run_folder(session: Session, output: str | Path | None, resume: Any) -> None:
    """Create the run folder (or reopen the resumed one) and restore its checkpoint. A
    file-system error (a path under a file, a full disk) is one line naming the path, and a
    new run folder is removed again: nothing half-written is left."""
    import shutil

    target = Path(output) if output is not None else Path("runs")
    missing = [p for p in (target, *target.parents) if not (p.exists() or p.is_symlink())]
    try:
        _open_run_folder(session, output, resume)
    except OSError as exc:
        new = session.record is None and session.run_dir is not None
        if new and session.run_dir.is_dir() and session.dist.is_chief:
            for child in session.run_dir.iterdir():  # a new folder was empty: all ours
                shutil.rmtree(child) if child.is_dir() else child.unlink()
            for folder in [session.run_dir, *missing]:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only the empty folders this run created
        where = Path(exc.filename or session.run_dir or target)
        blocker = next((p for p in (where, *where.parents) if p.is_file()), None)
        why = f"{blocker} is a file, not a folder" if blocker else exc.strerror or str(exc)
        raise RunError(
            f"cannot write the run folder {session.run_dir or target}: {why}",
            "choose a writable --output folder with free space",
        ) from exc


def _open_run_folder(session: Session, output: str | Path | None, resume: Any) -> None:
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
        **claim_run(s.run_dir),  # pid, host, pid_started: a dead owner reads "crashed"
    }
    if s.lineage:
        s.run_info["finetune"] = {"weights": s.lineage, "head": s.head, **_schedule(s)}
    if s.record is None:
        write_run_toml(s.run_dir, _run_toml(s))
        _save_split(s.run_dir, s.split.indices)
        atomic_write_json(s.run_dir / STATE_FILE, s.dataset.state)
    else:
        # Compile for the phase the last checkpoint was written in, so its optimizer state
        # fits; a run killed right at the end of the frozen phase then unfreezes in fit()
        # with a fresh optimizer, exactly as an uninterrupted run does.
        _apply_phase(s, max(_epochs_done(s.run_dir) - 1, 0))
        s.resumed = _restore(s.model, s.run_dir)
        # This process owns the run now (status "running" again until it finishes); a run
        # killed before its first checkpoint may lack its split and data state.
        s.run_info["created"] = s.record.raw["run"].get("created", s.run_info["created"])
        write_run_toml(s.run_dir, _run_toml(s))
        if not (s.run_dir / "split.npz").is_file():
            _save_split(s.run_dir, s.split.indices)
        if not (s.run_dir / STATE_FILE).is_file():
            atomic_write_json(s.run_dir / STATE_FILE, s.dataset.state)


# ------------------------------------------------------------------------------- 4. fit
@dataclass
class Fitted:
    seconds: float
    epochs_this_session: int
    early: Any
    epoch_seconds: list[float]


def fit(session: Session, *, verbose: bool, extra_callbacks: list[Any]) -> Fitted:
    """Train from the last completed epoch to ``epochs`` (or until early stopping)."""
    from zoo.data.sources import naming_unreadable

    s = session
    assert s.split is not None and s.run_dir is not None
    cfg = s.config
    epochs = cfg.train["epochs"]
    history = s.resumed.history
    initial_epoch = s.resumed.epochs_done
    n_train = s.split.size("train")
    callbacks, early, checkpoint = _callbacks(s, n_train, verbose)
    callbacks[-1:-1] = extra_callbacks
    if verbose and s.load_report is not None:
        print(s.load_report)  # before training: which layers start from the weights
    started = time.perf_counter()
    epoch = initial_epoch
    while epoch < epochs and not s.resumed.stopped:
        end = _apply_phase(s, epoch)
        phase_cfg = cfg if end == epochs else _with_train(s, epochs=end)
        splits = _splits(s, epoch, end)
        with naming_unreadable(s.split.train[0]):  # a bad file met mid-epoch: named
            if s.dist.distributed:  # custom loop, same callbacks
                s.dist.fit(s.model, splits, phase_cfg, callbacks, epoch, s.task)
            else:
                get_catalog().host.owner_hook(s.ref.plugin, "zoo_train")(
                    model=s.model,
                    splits=splits,
                    config=phase_cfg,
                    callbacks=callbacks,
                    initial_epoch=epoch,
                )
        done = len(history.get("loss", []))
        if done < end or getattr(s.model, "stop_training", False):
            break  # early stopping (or a plugin's loop that ended the run)
        epoch = done
        if early is not None:  # the next phase's fit() continues the same patience count
            early.restored = early.snapshot()
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
    if "finetune" in s.run_info:
        metrics["finetune"] = s.run_info["finetune"]
    plot_curves(
        history, task.main_metric, run_dir / "curves.png", f"{ref.model.name} — {run_dir.name}"
    )
    atomic_write_json(run_dir / METRICS_FILE, metrics)
    save_weights_atomic(_without_optimizer(ref, cfg, model), run_dir / "model.weights.h5")
    s.run_info["status"] = "complete"
    s.run_info["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    for key in OWNER_KEYS:  # a finished run has no owner
        s.run_info.pop(key, None)
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


# ------------------------------------------------------------------------ fine-tuning
def _load_starting_weights(s: Session) -> None:
    """Load the starting weights into the built model (head adaptation as in ``zoo.load``),
    record their lineage and find the head that ``--freeze`` trains first."""
    from zoo.weights.loading import load_into

    report = load_into(s.model, s.ref, s.config, s.weights, strict=s.strict)
    _drop_head_of_other_classes(s, report)
    _zero_new_outputs(s.model, report)
    s.lineage = {
        "model": s.ref.model.name,
        "weights": report.weights,
        "path": report.path,
        "sha256": report.sha256,
        "loaded": len(report.loaded),
        "reinitialised": sorted(report.reinitialised),
    }
    declared = [name for name in s.ref.architecture.head if _has_layer(s.model, name)]
    s.head = declared or sorted(report.reinitialised)
    if s.config.train["freeze"] != "none" and not s.head:
        raise ConfigError(
            f"--freeze {s.config.train['freeze']}: model '{s.ref.model.name}' declares no head "
            "(registry.toml architectures.<name>.head) and no layer was re-initialised",
            "train without --freeze, or declare the head layers in the plugin's registry",
        )
    s.load_report = report


def _drop_head_of_other_classes(s: Session, report: Any) -> None:
    """An output layer loaded from weights trained on other classes (same number, other
    names: digits 0-4 -> 5-9) would predict the old classes: re-initialise it like a head
    whose shape changed (refused with ``strict``). Known for a run folder (its data state)
    and for weights published from a run (their lineage); other weights are kept as they are."""
    new = list((s.dataset.state if s.dataset else {}).get("class_names") or [])
    old = _starting_class_names(s, report)
    if not new or not old or new == old:
        return
    why = f"trained on the classes {_names(old)}, the data has {_names(new)}"
    if s.strict:
        raise WeightsError(
            f"weights {report.weights} were {why}", "drop --strict to re-initialise the classifier"
        )
    outputs = set(getattr(s.model, "output_names", None) or [])
    for name in [name for name in report.loaded if name in outputs]:
        report.loaded.remove(name)
        report.reinitialised[name] = why


def _starting_class_names(s: Session, report: Any) -> list[str]:
    import json

    entry = s.ref.model.weights.get(str(s.weights))
    if entry is not None:  # a tag: weights published from a run record their classes
        return list(entry.lineage.get("class_names", []))
    state = Path(report.path).with_name(STATE_FILE)  # a run folder's model.weights.h5
    if Path(report.path).name == "model.weights.h5" and state.is_file():
        try:
            return list(json.loads(state.read_text(encoding="utf-8")).get("class_names") or [])
        except (OSError, ValueError, AttributeError):
            return []
    return []


def _names(names: list[str]) -> str:
    return ", ".join(names[:4]) + (f" (+{len(names) - 4})" if len(names) > 4 else "")


def _zero_new_outputs(model: Any, report: Any) -> None:
    """Start a re-initialised output layer (a classifier for other classes) at zero, as Big
    Transfer does: the first steps then fit the head to the pretrained features instead of
    sending a random head's large, confident errors back into them. With a random head, one
    epoch of fine-tuning cnn:digits on five new digits scored 0.25-0.975 test accuracy over
    12 runs, 4 of them below training from scratch; started at zero, 0.925-1.0 over 8."""
    import numpy as np

    outputs = set(getattr(model, "output_names", None) or [])
    for layer in model.layers:
        if layer.name in report.reinitialised and layer.name in outputs:
            layer.set_weights([np.zeros(w.shape, w.dtype) for w in layer.get_weights()])
            report.reinitialised[layer.name] += "; output layer started at zero"


def _has_layer(model: Any, name: str) -> bool:
    return any(layer.name == name for layer in model.layers)


def _schedule(s: Session) -> dict[str, Any]:
    train = s.config.train
    return {
        "freeze": train["freeze"],
        "freeze_epochs": train["freeze_epochs"] if train["freeze"] == "backbone" else None,
        "finetune_learning_rate": _finetune_lr(s) if train["freeze"] == "backbone" else None,
    }


def _finetune_lr(s: Session) -> float:
    return float(s.config.train["finetune_learning_rate"] or s.config.train["learning_rate"] / 10)


def _phase(s: Session, epoch: int) -> tuple[str, int]:
    """("frozen" | "all", the phase's last epoch) for the epoch about to run."""
    train = s.config.train
    mode, epochs = train["freeze"], train["epochs"]
    if mode == "all-but-head":
        return "frozen", epochs
    if mode == "backbone" and epoch < min(train["freeze_epochs"], epochs):
        return "frozen", min(train["freeze_epochs"], epochs)
    return ("all" if mode == "backbone" else "plain"), epochs


def _apply_phase(s: Session, epoch: int) -> int:
    """Set which layers train for the phase of ``epoch`` (recompiling when it changes, as
    the Keras transfer-learning guide does); BatchNormalization stays in inference mode
    throughout fine-tuning. Returns the phase's last epoch."""
    name, end = _phase(s, epoch)
    if name == "plain" or s.phase == name:
        return end
    import keras

    for layer in s.model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
        elif layer.weights:
            layer.trainable = name == "all" or layer.name in s.head
    lr = s.config.train["learning_rate"] if name == "frozen" else _finetune_lr(s)
    with s.dist.scope():
        s.task.compile(s.model, _with_train(s, learning_rate=lr))
    s.phase = name
    return end


def _with_train(s: Session, **changes: Any) -> Config:
    """The run's config with training options changed (a phase's epochs, learning rate)."""
    return make_config(s.ref, [("phase", {**s.config.values, **s.config.train, **changes})])


def _splits(s: Session, first: int, end: int) -> Splits:
    from zoo.data.pipeline import evaluation_stream, steps_per_epoch, training_stream

    assert s.split is not None
    batch_size = s.config.train["batch_size"]
    x_tr, y_tr = s.split.train
    x_va, y_va = s.split.validation
    # a worker reads only its rows of each global batch (its replicas' share)
    part = (s.dist.worker_index, s.dist.num_workers) if s.dist.distributed else (0, 1)
    return Splits(
        train=training_stream(
            x_tr,
            y_tr,
            batch_size=batch_size,
            seed=s.seed,
            initial_epoch=first,
            epochs=end,
            part=part,
        ),
        validation=evaluation_stream(x_va, y_va, batch_size=batch_size)
        if s.split.size("validation")
        else None,
        test=None,
        arrays={k: s.split.part(k) for k in ("train", "validation", "test")},
        indices=s.split.indices,
        extra=s.split.extra,
        steps_per_epoch=steps_per_epoch(s.split.size("train"), batch_size),
        batch_size=min(batch_size, s.split.size("train")),
        part=part,
    )


def _epochs_done(run_dir: Path) -> int:
    """Completed epochs of a run's last checkpoint (0 when it has none)."""
    import json

    from zoo.training.callbacks import CHECKPOINTS

    state = run_dir / CHECKPOINTS / "state.json"
    try:
        return int(json.loads(state.read_text(encoding="utf-8"))["epochs_done"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0  # _restore reports a damaged checkpoint


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
