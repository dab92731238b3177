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
import socket
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
    """A run folder as read back from disk.

    ``condition`` is what the folder can be used for: "complete"; "running" (its owner
    process is alive); "crashed" (status "running" but its owner process is gone, or none
    was recorded); "elsewhere" (running, owned by a process on another host: cannot be
    checked); "no-weights" (complete, but its final weights are missing or damaged:
    ``problem`` says which). ``owner`` is the process that trains it (pid, host,
    pid_started) while it runs.
    """

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
    condition: str = "complete"
    problem: str = ""
    owner: dict[str, Any] = field(default_factory=dict)

    @property
    def status_label(self) -> str:
        """The condition in words: complete, running, crashed, ..."""
        if self.condition == "elsewhere":
            return f"running on {self.owner.get('host')}"
        if self.condition == "no-weights":
            return "complete, final weights " + (
                "missing" if self.problem.endswith("missing") else "damaged"
            )
        return self.condition


def is_run_dir(path: str | Path) -> bool:
    return Path(path, RUN_FILE).is_file()


def read_run(path: str | Path, *, require_complete: bool = True) -> RunRecord:
    """Read ``run.toml`` and friends — the one way to open a run folder.

    Every damaged file is one RunError naming it and the way out. Unless
    ``require_complete`` is False (``--resume`` reads unfinished runs), a run that cannot be
    used (still running, crashed, final weights missing or damaged) raises a RunError that
    says why and what to do; :func:`check_resumable` is its counterpart for ``--resume``.
    """
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
            model=str(run["model"]),
            architecture=str(run["architecture"]),
            hparams=dict(raw.get("hparams", {})),
            train={k: v for k, v in raw.get("train", {}).items() if k not in RETIRED_TRAIN_OPTIONS},
            weights_path=run_dir / WEIGHTS_FILE,
            complete=run.get("status") == "complete",
            seed=int(run.get("seed", 0)),
            data=run.get("data"),
            raw=raw,
            owner={k: run[k] for k in OWNER_KEYS if k in run},
        )
    except OSError as exc:
        raise RunError(
            f"cannot read {run_file}: {exc.strerror or exc}", "check the folder's permissions"
        ) from None
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        reason = f"missing {exc}" if isinstance(exc, KeyError) else _short(exc)
        raise RunError(
            f"{run_file} is damaged ({reason}): the run's configuration is lost",
            "the run cannot be used or resumed; train a new run with `zoo train MODEL`",
        ) from None
    state_file = run_dir / STATE_FILE
    if state_file.is_file():
        record.state = read_json_file(
            state_file,
            f"the run's data encoding (class names, vocabulary) in {state_file} is lost",
            "delete it: it is derived again from the run's data (the same data the run "
            "was trained on)",
            expect=dict,
        )
    record.condition, record.problem = _condition(record)
    if require_complete and record.condition != "complete":
        raise unusable(record)
    return record


# ------------------------------------------------------------------------ damaged files
def read_json_file(path: Path, lost: str, hint: str, *, expect: type | None = None) -> Any:
    """``json.loads`` of a run file; unreadable or damaged is one RunError naming it."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunError(f"cannot read {path}: {exc.strerror or exc}", hint) from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise RunError(f"{path} is damaged ({_short(exc)}): {lost}", hint) from None
    if expect is not None and not isinstance(value, expect):
        raise RunError(f"{path} is damaged (it holds a JSON {type(value).__name__}): {lost}", hint)
    return value


def read_metrics(run_dir: str | Path) -> dict[str, Any]:
    """A run's ``metrics.json`` ({} when absent); damaged is one RunError naming it."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        return {}
    return read_json_file(
        path,
        "the run's recorded test metrics are lost (its weights are not affected)",
        f"delete it; `zoo evaluate {run_dir}` computes the test metrics again",
        expect=dict,
    )


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _weights_problem(path: Path) -> str:
    """Why a finished run's final weights cannot be used ("" when they look fine): a
    metadata check only (zoo.weights.loading checks them fully before reading)."""
    if not path.is_file():
        return f"its final weights {path} are missing"
    try:
        import h5py

        if not h5py.is_hdf5(str(path)):
            return f"its final weights {path} are damaged (not an HDF5 file)"
        with h5py.File(path, "r") as f:
            if "layers" not in f and "vars" not in f:
                return f"its final weights {path} are damaged (no 'layers' group)"
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        return f"its final weights {path} are damaged ({_short(exc)})"
    return ""


# ---------------------------------------------------------------------- run ownership
# While a run trains, run.toml's [run] table records the process that owns it; a reader
# finds a run whose owner is gone (killed, crashed, os._exit) "crashed", never "running".
OWNER_KEYS = ("pid", "host", "pid_started")
CHECKPOINT_STATE = Path("checkpoints", "state.json")
_ACTIVE: set[Path] = set()  # run folders this process is training right now


def claim_run(run_dir: Path) -> dict[str, Any]:
    """Mark ``run_dir`` as trained by this process; the [run] fields that record it."""
    _ACTIVE.add(Path(run_dir).resolve())
    owner: dict[str, Any] = {"pid": os.getpid(), "host": socket.gethostname()}
    started = _process_started(os.getpid())
    if started is not None:
        owner["pid_started"] = started
    return owner


def release_run(run_dir: Path | None) -> None:
    """This process no longer trains ``run_dir`` (finished, failed or interrupted)."""
    if run_dir is not None:
        _ACTIVE.discard(Path(run_dir).resolve())


def _process_started(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch; Linux /proc), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        return round(boot + ticks / os.sysconf("SC_CLK_TCK"), 2)
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by another user
    try:  # a killed process its parent has not reaped yet is a zombie: gone
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def owner_alive(run_dir: Path, owner: dict[str, Any]) -> bool | None:
    """Whether the process recorded as ``owner`` still trains the run: None when it runs
    on another host (cannot be checked), False when none is recorded."""
    pid, host = owner.get("pid"), owner.get("host")
    if not isinstance(pid, int) or isinstance(pid, bool) or not isinstance(host, str):
        return False
    if host != socket.gethostname():
        return None
    if pid == os.getpid():
        return Path(run_dir).resolve() in _ACTIVE
    if not _pid_alive(pid):
        return False
    recorded, actual = owner.get("pid_started"), _process_started(pid)
    if isinstance(recorded, (int, float)) and actual is not None:
        return abs(actual - float(recorded)) < 2.0  # else the pid was reused
    return True


def _condition(record: RunRecord) -> tuple[str, str]:
    if record.complete:
        problem = _weights_problem(record.weights_path)
        return ("no-weights", problem) if problem else ("complete", "")
    alive = owner_alive(record.path, record.owner)
    if alive is None:
        return "elsewhere", ""
    return ("running" if alive else "crashed"), ""


def checkpointed_epochs(run_dir: Path) -> int | None:
    """Epochs of the run's last checkpoint (None: no readable checkpoint)."""
    try:
        state = json.loads((Path(run_dir) / CHECKPOINT_STATE).read_text(encoding="utf-8"))
        return int(state["epochs_done"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _owner_text(owner: dict[str, Any]) -> str:
    return f"process {owner.get('pid')} on {owner.get('host')}"


def unusable(record: RunRecord) -> RunError:
    """Why a run that is not complete cannot be used yet, and the way out — the same
    words for ``zoo evaluate``, ``zoo export``, ``zoo predict`` and ``zoo.load``."""
    run_dir, owner = record.path, record.owner
    resume = f"`zoo train --resume {run_dir}`"
    if record.condition == "running":
        return RunError(
            f"run {run_dir} did not finish yet: it is still training ({_owner_text(owner)})",
            f"wait for it to finish; if that process hangs, end it and continue with {resume}",
        )
    if record.condition == "elsewhere":
        return RunError(
            f"run {run_dir} did not finish yet: {_owner_text(owner)} trains it, or did "
            "until it stopped",
            f"wait for it to finish; if it stopped, continue it with {resume}",
        )
    epochs = checkpointed_epochs(run_dir)
    if record.condition == "no-weights":
        return RunError(
            f"run {run_dir} finished but {record.problem}",
            f"re-create them from its last checkpoint with {resume}"
            if epochs
            else f"{resume} trains it again from its first epoch to re-create them",
        )
    total = record.train.get("epochs")
    done = f"after {epochs} of {total} epochs" if epochs else "before its first checkpoint"
    how = (
        f"its {_owner_text(owner)} ended before it finished"
        if owner
        else f"status {record.raw.get('run', {}).get('status')!r}, no owning process"
    )
    return RunError(
        f"run {run_dir} did not finish: it crashed {done} ({how})",
        f"continue it with {resume}"
        if epochs
        else f"{resume} trains it again from its first epoch",
    )


def check_resumable(record: RunRecord) -> str:
    """Raise if ``zoo train --resume`` cannot continue ``record``; return a warning for the
    user ("" if none). Crashed runs continue from their last checkpoint (or their first
    epoch); a finished run whose final weights are missing or damaged re-creates them."""
    run_dir = record.path
    if record.condition == "complete":
        raise RunError(
            f"run {run_dir} already finished (its weights: {record.weights_path})",
            f"evaluate or export it, or start a new run with `zoo train {record.model}`",
        )
    if record.condition == "running":
        raise RunError(
            f"run {run_dir} is still training ({_owner_text(record.owner)})",
            "one run cannot be trained by two processes: wait for it to finish, or end "
            f"process {record.owner.get('pid')} first",
        )
    if record.condition == "elsewhere":
        return (
            f"run {run_dir} was being trained by {_owner_text(record.owner)}; continuing "
            "it here (make sure that process has stopped)"
        )
    return ""


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
