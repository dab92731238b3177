"""Shared helpers for the benchmark scripts: quiet TensorFlow, data, seed-style models."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load {os.getloadavg()[0]:.1f}"
    )


def quiet_tensorflow() -> None:
    from zoo._quiet import import_tensorflow_quietly

    import_tensorflow_quietly()


def default_arrays(model: str, seed: int = 0) -> dict[str, Any]:
    """The model's default dataset and the runner's split for ``seed``, as numpy arrays."""
    from zoo.catalog import get_catalog
    from zoo.catalog.config import make_config
    from zoo.tasks.registry import task_of
    from zoo.training.inputs import apply_implied, load_dataset

    ref = get_catalog().resolve(model)
    cfg = make_config(ref)
    dataset = load_dataset(ref, cfg, None, None)
    cfg = apply_implied(ref, cfg, dataset, set(), "data")
    task = task_of(ref)
    split = task.split(dataset, cfg, seed)
    return {
        "config": cfg,
        "ref": ref,
        "task": task,
        "split": split,
        "indices": split.indices,
        "extra": split.extra,
        "train": split.train,
        "validation": split.validation,
        "test": split.test,
    }


def run_child(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; return (wall seconds, peak RSS MB of that child, stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        text=True,
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024, out


def zoo_command() -> list[str]:
    return [sys.executable, "-c", "from zoo.cli.main import main; main()"]
