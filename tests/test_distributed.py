"""Distributed training: ``--strategy mirrored|multi-worker`` against a single-process run.

The slow tests start real worker processes on 127.0.0.1 (ports picked here) and train the
tiny CNN (``cnn-small``, 256 examples, 2 epochs). The custom distributed loop splits each
global batch of the same seeded stream across replicas, so the per-epoch losses agree with
a single-process run to float rounding; the stated tolerance is a relative 1e-4.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import clean_env
from fakeplugins import weights_dump_plugin

import zoo
from zoo.cli.worker_cmd import free_ports, tf_config
from zoo.training.distribute import is_chief_task, read_tf_config

TINY = {"max_examples": 256, "epochs": 2, "batch_size": 32}
SEED = 1
LOSS_RTOL = 1e-4  # per-epoch losses, distributed vs single process (measured: ~1e-7)
WEIGHT_ATOL = 1e-4  # final weights, distributed vs single process
# `zoo worker` before the lead registers it in cli/main.py's COMMANDS (then a no-op).
ZOO = [
    sys.executable,
    "-c",
    "from zoo.cli.main import main, COMMANDS; "
    "COMMANDS.setdefault('worker', 'zoo.cli.worker_cmd:worker_cmd'); main()",
]
TRAIN_ARGS = [
    "cnn-small",
    "--epochs",
    str(TINY["epochs"]),
    "--batch-size",
    str(TINY["batch_size"]),
    "--set",
    f"max_examples={TINY['max_examples']}",
    "--seed",
    str(SEED),
]


# ------------------------------------------------------------------------ configuration
@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (None, "zoo worker"),
        ("{not json", "not valid JSON"),
        ('{"cluster": {"worker": ["a:1"]}}', "'cluster' and 'task'"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}', "not in"),
        ('{"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "not supported"),
    ],
)
def test_bad_tf_config_is_a_config_error(value: str | None, needle: str) -> None:
    env = {} if value is None else {"TF_CONFIG": value}
    with pytest.raises(zoo.ConfigError, match=needle):
        read_tf_config(env)


def test_chief_is_worker_zero_or_the_chief_task() -> None:
    assert is_chief_task(tf_config([1, 2], 0))
    assert not is_chief_task(tf_config([1, 2], 1))
    with_chief = {"cluster": {"chief": ["a:1"], "worker": ["b:1"]}}
    assert is_chief_task({**with_chief, "task": {"type": "chief", "index": 0}})
    assert not is_chief_task({**with_chief, "task": {"type": "worker", "index": 0}})


def test_multi_worker_without_tf_config_fails_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from zoo.cli.main import main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "cnn-small", "--strategy", "multi-worker", "--output", str(out)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "TF_CONFIG" in err and "zoo worker" in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not out.exists()
    with pytest.raises(zoo.ConfigError, match="strategy"):
        zoo.train("cnn-small", output=out, strategy="parameter-server", verbose=False)


FAKE_WORKER = """
import json, os, sys, time
index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
print("started", flush=True)
if index == 1:
    sys.exit(3)
time.sleep(120)
"""


def test_launcher_stops_the_other_workers_when_one_fails(tmp_path: Path) -> None:
    import io

    from zoo.cli.worker_cmd import launch

    out = io.StringIO()
    started = time.monotonic()
    code = launch([], free_ports(2), out=out, argv=[sys.executable, "-c", FAKE_WORKER], grace=5)
    assert code == 3, out.getvalue()
    assert time.monotonic() - started < 60, "the sleeping worker was not stopped"
    assert "[worker 0] started" in out.getvalue() and "[worker 1] started" in out.getvalue()


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The reference: one process, default strategy, same global batch and seed."""
    out = tmp_path_factory.mktemp("single") / "run"
    run = zoo.train("cnn-small", output=out, seed=SEED, verbose=False, **TINY)
    return {"history": run.history, "weights": run.model.get_weights(), "metrics": run.metrics}


def _assert_matches_single(history: dict[str, list[float]], single: dict[str, Any]) -> None:
    for key in ("loss", "val_loss", "accuracy", "val_accuracy"):
        np.testing.assert_allclose(history[key], single["history"][key], rtol=LOSS_RTOL)


def _dumped(folder: Path, index: int) -> list[np.ndarray]:
    with np.load(folder / f"worker-{index}.npz") as saved:
        return [saved[f"w{i}"] for i in range(len(saved.files))]


def _scratch_dirs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "zoo-worker*")))


# --------------------------------------------------------------------------- end to end
@pytest.mark.slow
def test_two_local_workers_train_like_one_process(tmp_path: Path, single: dict[str, Any]) -> None:
    run_dir = tmp_path / "run"
    dump = tmp_path / "dump"
    plugin = weights_dump_plugin(tmp_path / "plugin")  # writes each worker's final weights
    ports = free_ports(2)
    scratch_before = _scratch_dirs()
    proc = subprocess.run(
        [*ZOO, "worker", "-n", "2", "--ports", ",".join(map(str, ports)), *TRAIN_ARGS]
        + ["--output", str(run_dir)],
        env=clean_env({"ZOO_TEST_DUMP": str(dump), "PYTHONPATH": str(plugin)}),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for index in (0, 1):
        assert f"[worker {index}] epoch 2/2" in proc.stdout, proc.stdout[-3000:]

    # Every replica ends with exactly the same weights.
    chief, other = _dumped(dump, 0), _dumped(dump, 1)
    assert len(chief) == len(other) > 0
    for a, b in zip(chief, other, strict=True):
        np.testing.assert_array_equal(a, b)

    # The chief's run folder is complete, loadable, and records the batch split.
    info = tomllib.loads((run_dir / "run.toml").read_text())
    assert info["run"]["status"] == "complete"
    assert info["train"]["strategy"] == "multi-worker"
    expected = {
        "strategy": "multi-worker",
        "workers": 2,
        "replicas": 2,
        "global_batch_size": 32,
        "per_replica_batch_size": 16,
    }
    assert info["run"]["distribution"] == expected
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["distribution"] == expected
    assert metrics["epochs_run"] == 2
    result = zoo.evaluate(run_dir)
    for key, value in metrics["test"].items():
        assert result["test"][key] == pytest.approx(value, abs=1e-5)
    from zoo.training.evaluation import trained_model

    saved = trained_model(run_dir).model.get_weights()
    for a, b in zip(saved, chief, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)

    # Only the chief wrote: no worker scratch folder is left behind.
    assert not (_scratch_dirs() - scratch_before)

    # Same global batch and seed: the same losses and weights as one process.
    history = {k: [float(v) for v in metrics_col] for k, metrics_col in _history(run_dir).items()}
    _assert_matches_single(history, single)
    for a, b in zip(chief, single["weights"], strict=True):
        np.testing.assert_allclose(a, b, atol=WEIGHT_ATOL)
    for key, value in single["metrics"]["test"].items():
        assert metrics["test"][key] == pytest.approx(value, rel=LOSS_RTOL, abs=1e-4)


def _history(run_dir: Path) -> dict[str, list[float]]:
    lines = (run_dir / "history.csv").read_text().strip().splitlines()
    keys = lines[0].split(",")[1:]
    rows = [line.split(",")[1:] for line in lines[1:]]
    return {k: [float(r[i]) for r in rows] for i, k in enumerate(keys)}


MIRRORED_SCRIPT = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import zoo
run = zoo.train("cnn-small", output=sys.argv[1], seed=%d, verbose=False, strategy="mirrored",
                max_examples=%d, epochs=%d, batch_size=%d)
print("RESULT " + json.dumps({"history": run.history, "metrics": run.metrics}))
"""


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_trains_like_one_process(
    tmp_path: Path, single: dict[str, Any]
) -> None:
    script = MIRRORED_SCRIPT % (SEED, TINY["max_examples"], TINY["epochs"], TINY["batch_size"])
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "run")],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    assert result["metrics"]["distribution"]["replicas"] == 2
    assert result["metrics"]["distribution"]["per_replica_batch_size"] == 16
    _assert_matches_single(result["history"], single)
    for key, value in single["metrics"]["test"].items():
        assert result["metrics"]["test"][key] == pytest.approx(value, rel=LOSS_RTOL, abs=1e-4)


@pytest.mark.slow
def test_killed_worker_stops_the_chief_and_the_run_resumes(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    ports = free_ports(2)
    epochs = 30
    args = [
        *ZOO[:3],
        "train",
        "cnn-small",
        "--epochs",
        str(epochs),
        "--set",
        "max_examples=256",
        "--set",
        "early_stopping=false",
        "--strategy",
        "multi-worker",
        "--quiet",
        "--output",
        str(run_dir),
    ]
    scratch = tmp_path / "tmp"  # a killed worker cannot delete its scratch folder
    scratch.mkdir()
    procs = [
        subprocess.Popen(
            args,
            env=clean_env({"TF_CONFIG": json.dumps(tf_config(ports, i)), "TMPDIR": str(scratch)}),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in (0, 1)
    ]
    chief, other = procs
    try:
        state = run_dir / "checkpoints" / "state.json"
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline and chief.poll() is None:
            if state.is_file() and json.loads(state.read_text())["epochs_done"] >= 2:
                break
            time.sleep(0.05)
        assert chief.poll() is None, chief.stderr.read()[-3000:] if chief.stderr else ""
        other.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        _, err = chief.communicate(timeout=90)
        waited = time.monotonic() - killed_at
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert chief.returncode not in (0, None)
    assert waited < 60, f"the chief took {waited:.0f}s to notice"
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "a worker died" in errors[0], err[-3000:]
    assert "--resume" in errors[0]
    info = tomllib.loads((run_dir / "run.toml").read_text())
    assert info["run"]["status"] == "running"
    done_before = json.loads((run_dir / "checkpoints" / "state.json").read_text())["epochs_done"]
    assert 2 <= done_before < epochs

    # The run continues from its last checkpoint, here on one process.
    resumed = subprocess.run(
        [*ZOO[:3], "train", "--resume", str(run_dir), "--strategy", "default", "--quiet"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs_run"] == epochs
    assert len(_history(run_dir)["loss"]) == epochs
    assert zoo.evaluate(run_dir)["test"]
