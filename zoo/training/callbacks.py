"""Callbacks of the shared runner: progress, per-epoch checkpoints, resumable early stopping.

Checkpoints hold the layer weights, the optimizer's variables, the model's other variables
(the dropout layers' seed-generator states: in ``model.variables`` but not in
``model.weights``, so no Keras weight file saves them), the early-stopping state and the
history so far; restoring all five lets ``--resume`` continue bit for bit where a killed
run stopped. Checkpoint weights are plain ``.npz`` arrays in ``get_weights()``
order: writing them takes ~2 ms where Keras' ``.weights.h5`` takes 30-70 ms an epoch. The
finished run's ``model.weights.h5`` is the Keras-format file users load.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.runs import RunError, atomic_write_bytes, atomic_write_json

CHECKPOINTS = "checkpoints"
LAST_WEIGHTS = "last.weights.npz"
BEST_WEIGHTS = "best.weights.npz"
LAST_OPTIMIZER = "last.optimizer.npz"
LAST_STATE = "last.state.npz"  # model variables that are not weights (seed generators)


class Progress(keras.callbacks.Callback):
    """One line per epoch (logs, CI, notebooks). No per-batch hook, so Keras keeps running
    training steps without handing every batch's logs back to Python."""

    def __init__(self, epochs: int, steps: int, stream: Any = None) -> None:
        super().__init__()
        self.epochs = epochs
        self.steps = steps
        self.stream = stream or sys.stdout
        self.started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - self.started
        shown = " - ".join(f"{k}: {v:.4f}" for k, v in (logs or {}).items() if _is_number(v))
        print(f"epoch {epoch + 1}/{self.epochs} - {seconds:.1f}s - {shown}", file=self.stream)
        self.stream.flush()


class ProgressBar(Progress):
    """A batch progress bar, for a terminal."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_begin(epoch, logs)
        print(f"Epoch {epoch + 1}/{self.epochs}", file=self.stream)
        self.bar = keras.utils.Progbar(self.steps)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.bar.update(batch + 1, values=list((logs or {}).items()))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.perf_counter() - self.started
        shown = " - ".join(f"{k}: {v:.4f}" for k, v in (logs or {}).items() if _is_number(v))
        print(f"  {seconds:.1f}s - {shown}", file=self.stream)
        self.stream.flush()


def progress_callback(epochs: int, steps: int, stream: Any = None) -> Progress:
    """A progress bar on a terminal, one line per epoch elsewhere."""
    stream = stream or sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    return (ProgressBar if tty else Progress)(epochs, steps, stream)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


class ResumableEarlyStopping(keras.callbacks.Callback):
    """Early stopping whose state can be saved in a checkpoint and restored on resume.

    Our own callback on Keras' public ``Callback`` API, with the behaviour of
    ``keras.callbacks.EarlyStopping(monitor, patience)`` in ``min`` mode: after each epoch
    the monitored value either improves on the best so far (``wait`` goes back to 0) or
    ``wait`` grows; once ``wait >= patience`` (never on the first epoch) it sets
    ``model.stop_training`` and records ``stopped_epoch``. ``snapshot()`` and
    ``restored`` carry ``wait``, ``best`` and ``best_epoch`` across a resume.
    """

    def __init__(
        self,
        restored: dict[str, Any] | None = None,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
    ) -> None:
        super().__init__()
        self.restored = restored or {}
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = abs(float(min_delta))
        self.wait = 0
        self.best: float | None = None
        self.best_epoch = 0
        self.stopped_epoch = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        state = self.restored
        self.wait = int(state.get("wait", 0))
        best = state.get("best")
        self.best = None if best is None else float(best)
        self.best_epoch = int(state.get("best_epoch", 0) or 0)
        self.stopped_epoch = 0  # per fit() session, as with Keras' EarlyStopping

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs or {})}",
                stacklevel=2,
            )
            return
        current = float(current)
        self.wait += 1
        if self.best is None or current + self.min_delta < self.best:
            self.best = current
            self.best_epoch = epoch
            self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def snapshot(self) -> dict[str, Any]:
        return {
            "wait": int(self.wait),
            "best": None if self.best is None else float(self.best),
            "best_epoch": int(self.best_epoch),
            "stopped_epoch": int(self.stopped_epoch),
        }


class Checkpoint(keras.callbacks.Callback):
    """After every epoch: weights, optimizer variables, early-stopping state, history.

    Also keeps ``best.weights.npz`` (lowest validation loss) so the final model is the best
    epoch's, as with ``restore_best_weights``.
    """

    def __init__(
        self,
        run_dir: Path,
        early_stopping: ResumableEarlyStopping | None,
        history: dict,
        best: float | None = None,
    ) -> None:
        super().__init__()
        self.folder = Path(run_dir) / CHECKPOINTS
        self.early_stopping = early_stopping
        self.history = history  # metric -> list, including epochs before a resume
        self.best = float(np.inf if best is None else best)
        self.epoch_seconds: list[float] = []  # this session's epochs
        self.epoch_started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        seconds = time.perf_counter() - self.epoch_started
        self.epoch_seconds.append(round(seconds, 4))
        for key, value in logs.items():
            if _is_number(value):
                self.history.setdefault(key, []).append(float(value))
        val_loss = float(logs.get("val_loss", logs.get("loss", np.inf)))
        save_arrays(self.model.get_weights(), self.folder / LAST_WEIGHTS)
        if val_loss < self.best:
            self.best = val_loss
            copy_atomic(self.folder / LAST_WEIGHTS, self.folder / BEST_WEIGHTS)
        save_arrays(self.model.optimizer.variables, self.folder / LAST_OPTIMIZER)
        save_arrays(state_variables(self.model), self.folder / LAST_STATE)
        write_history_csv(self.history, self.folder.parent / "history.csv")
        state = {
            "epochs_done": epoch + 1,
            "history": self.history,
            "best_val_loss": None if np.isinf(self.best) else self.best,
            "early_stopping": self.early_stopping.snapshot() if self.early_stopping else None,
        }
        # state.json last: it is what --resume trusts, so it only ever points at files
        # that are already complete.
        atomic_write_json(self.folder / "state.json", state, fsync=False)


def copy_atomic(source: Path, target: Path) -> None:
    """Copy a finished file into place (cheaper than serialising the weights again)."""
    import shutil

    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(target)


def save_arrays(values: list[Any], path: Path) -> None:
    """Variables or arrays, in order, to an ``.npz`` file (temp file, then rename)."""
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **{f"v{i}": np.asarray(v) for i, v in enumerate(values)})
    atomic_write_bytes(path, buffer.getvalue(), fsync=False)


def load_arrays(path: Path) -> list[np.ndarray]:
    import zipfile
    import zlib

    try:
        with np.load(path, allow_pickle=False) as saved:
            return [saved[f"v{i}"] for i in range(len(saved.files))]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise damaged_checkpoint(path, " ".join(str(exc).split())[:160]) from None


def damaged_checkpoint(path: Path, reason: str) -> RunError:
    """A checkpoint file that cannot be read: one line naming it and the way out."""
    resume = f"`zoo train --resume {path.parent.parent}`"
    if path.name == BEST_WEIGHTS:
        hint = f"delete it (the final weights are then the last epoch's), then {resume}"
    else:
        hint = f"delete the folder {path.parent}, then {resume} trains the run from epoch 1"
    return RunError(f"checkpoint file {path} is damaged ({reason or 'unreadable'})", hint)


def _mismatch(folder: Path) -> Exception:
    return RunError(
        f"checkpoint in {folder} does not match the model",
        "resume with the same model and options it was started with",
    )


def load_checkpoint_weights(model: Any, path: Path) -> None:
    """Set ``model``'s weights from a checkpoint written by :class:`Checkpoint`."""
    values = load_arrays(path)
    weights = model.weights
    if len(values) != len(weights) or any(
        tuple(v.shape) != tuple(w.shape) for v, w in zip(values, weights, strict=True)
    ):
        raise _mismatch(path.parent)
    model.set_weights(values)


def state_variables(model: Any) -> list[Any]:
    """``model.variables`` that are not ``model.weights``, in order: the seed-generator
    states of dropout (and other random) layers, which advance every training step."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def restore_state_variables(model: Any, path: Path) -> None:
    """Assign the values :func:`state_variables` saved (a checkpoint without the file,
    written by an older zoo, resumes without them: dropout masks then differ)."""
    variables = state_variables(model)
    if not path.is_file():
        if variables:
            warnings.warn(
                f"{path.parent} has no {path.name}: dropout will not repeat the masks of an "
                "uninterrupted run",
                stacklevel=2,
            )
        return
    values = load_arrays(path)
    if len(values) != len(variables) or any(
        tuple(np.shape(v)) != tuple(w.shape) for v, w in zip(values, variables, strict=True)
    ):
        raise _mismatch(path.parent)
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)


def restore_checkpoint(model: Any, run_dir: Path) -> dict[str, Any] | None:
    """Load the last checkpoint into a compiled ``model``; return its state (or None)."""
    folder = Path(run_dir) / CHECKPOINTS
    state_file = folder / "state.json"
    if not state_file.is_file():
        return None
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise damaged_checkpoint(state_file, " ".join(str(exc).split())[:160]) from None
    if not (
        isinstance(state, dict)
        and isinstance(state.get("epochs_done"), int)
        and isinstance(state.get("history"), dict)
    ):
        raise damaged_checkpoint(state_file, "no epochs_done and history")
    for name in (LAST_WEIGHTS, LAST_OPTIMIZER):
        if not (folder / name).is_file():  # e.g. a run killed under an older zoo (.h5)
            raise damaged_checkpoint(folder / name, "missing")
    load_checkpoint_weights(model, folder / LAST_WEIGHTS)
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    values = load_arrays(folder / LAST_OPTIMIZER)
    if len(values) != len(optimizer.variables):
        raise _mismatch(folder)
    for variable, value in zip(optimizer.variables, values, strict=True):
        variable.assign(value)
    restore_state_variables(model, folder / LAST_STATE)
    return state


def write_history_csv(history: dict[str, list[float]], path: Path) -> None:
    """history.csv with one row per epoch (rewritten whole, atomically, every epoch)."""
    keys = list(history)
    rows = max((len(history[k]) for k in keys), default=0)
    lines = [",".join(["epoch", *keys])]
    for i in range(rows):
        values = [repr(history[k][i]) if i < len(history[k]) else "" for k in keys]
        lines.append(",".join([str(i + 1), *values]))
    atomic_write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"), fsync=False)
