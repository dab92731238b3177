"""Run folders: what ``zoo train`` writes, and how a finished run is read back.

Layout of ``runs/<model>-<timestamp>/``::

    run.toml               resolved config; [run].status is "running" until the very end
    split.npz              the seeded train/validation/test indices
    data_state.json        the dataset's encoding state (vocabulary, class names, ...)
    checkpoints/           last.weights.npz, last.optimizer.npz, state.json, best.weights.npz
    history.csv            one row per epoch
    logs/                  TensorBoard event files
    model.weights.h5       final weights                 } written only after training,
    metrics.json           test-split metrics, baselines } then run.toml flips to
    curves.png             learning curves               } status = "complete"

Every file is written to a temporary name and renamed into place, and ``run.toml`` is
rewritten with ``status = "complete"`` last, so a killed run never claims to be complete.
"""

from __future__ import annotations

import json
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

RUN_FILE = "run.toml"
WEIGHTS_FILE = "model.weights.h5"
STATE_FILE = "data_state.json"
METRICS_FILE = "metrics.json"
# Training options that older zoo versions recorded in run.toml and that no longer exist;
# reading a run drops them so that its folder still evaluates, exports and resumes.
RETIRED_TRAIN_OPTIONS = frozenset({"shuffle_buffer"})


class RunError(ZooError):
    """A run folder that is missing, incomplete or inconsistent."""


def atomic_write_bytes(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    ``fsync=False`` skips flushing to the disk: the rename still protects against a killed
    process (per-epoch checkpoints use it; final run files are flushed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, data: Any, *, fsync: bool = True) -> None:
    text = json.dumps(data, indent=2, default=_jsonable) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def temp_path_for(path: Path) -> Path:
    """A unique temporary sibling of ``path`` (same folder, so a rename is atomic)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.unlink(tmp)
    return Path(tmp + path.suffix if path.suffix == ".h5" else tmp)


def save_weights_atomic(model: Any, path: Path) -> None:
    """``model.save_weights`` to a temporary file, then rename (Keras needs the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".weights.h5", dir=path.parent)
    os.close(fd)
    try:
        model.save_weights(tmp, overwrite=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_run_toml(run_dir: Path, data: dict[str, Any]) -> None:
    import tomli_w

    atomic_write_text(run_dir / RUN_FILE, tomli_w.dumps(_toml_safe(data)))


def _toml_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_toml_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass
class RunRecord:
    """A run folder as read back from disk."""

    path: Path
    model: str
    architecture: str
    hparams: dict[str, Any]
    train: dict[str, Any]
    weights_path: Path
    state: dict[str, Any] = field(default_factory=dict)
    complete: bool = False
    seed: int = 0
    data: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


def is_run_dir(path: str | Path) -> bool:
    return Path(path, RUN_FILE).is_file()


def read_run(path: str | Path, *, require_complete: bool = True) -> RunRecord:
    """Read ``run.toml`` and friends; an unfinished run raises unless ``require_complete``
    is False (resume reads unfinished runs)."""
    run_dir = Path(path)
    run_file = run_dir / RUN_FILE
    if not run_file.is_file():
        raise RunError(
            f"{run_dir} is not a run folder (no {RUN_FILE})",
            "give a folder written by `zoo train`, or a model name",
        )
    try:
        raw = tomllib.loads(run_file.read_text(encoding="utf-8"))
        run = raw["run"]
        record = RunRecord(
            path=run_dir,
            model=run["model"],
            architecture=run["architecture"],
            hparams=dict(raw.get("hparams", {})),
            train={k: v for k, v in raw.get("train", {}).items() if k not in RETIRED_TRAIN_OPTIONS},
            weights_path=run_dir / WEIGHTS_FILE,
            complete=run.get("status") == "complete",
            seed=int(run.get("seed", 0)),
            data=run.get("data"),
            raw=raw,
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RunError(f"{run_file} is damaged: {exc}", "retrain, or resume the run") from None
    state_file = run_dir / STATE_FILE
    if state_file.is_file():
        record.state = json.loads(state_file.read_text(encoding="utf-8"))
    if require_complete and not (record.complete and record.weights_path.is_file()):
        raise RunError(
            f"run {run_dir} did not finish (status {run.get('status')!r})",
            f"continue it with `zoo train {record.model} --resume {run_dir}`",
        )
    return record


def new_run_dir(model: str, output: str | Path | None) -> Path:
    """The folder a new run will use: ``output`` if given, else ``runs/<model>-<time>``.

    Nothing is created here; the runner creates the folder only once the data and the
    config have been validated.
    """
    import time

    if output is not None:
        run_dir = Path(output)
        if run_dir.exists() and any(run_dir.iterdir()):
            raise RunError(
                f"output folder {run_dir} already exists and is not empty",
                "choose another --output, or continue a run with --resume",
            )
        return run_dir
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = Path("runs") / f"{model}-{stamp}"
    n = 1
    while run_dir.exists():
        n += 1
        run_dir = Path("runs") / f"{model}-{stamp}-{n}"
    return run_dir


@dataclass
class Run:
    """The result of ``zoo.train``: the run folder, the trained model and its metrics."""

    path: Path
    model_name: str
    metrics: dict[str, Any]
    config: Any = None
    model: Any = None  # keras.Model
    history: dict[str, list[float]] = field(default_factory=dict)

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS_FILE

    def __repr__(self) -> str:
        test = self.metrics.get("test", {})
        shown = ", ".join(f"{k}={v:.4g}" for k, v in test.items() if isinstance(v, float))
        return f"Run({str(self.path)!r}, model={self.model_name!r}, {shown})"
