"""End-to-end training through the shared runner, resume after SIGKILL, evaluate/predict,
and the bad inputs that must fail before anything is written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo.cli.main import main

# Tiny settings per built-in model: a few hundred examples, one or two epochs.
TINY = {
    "mlp": dict(hidden_units=[16], max_examples=300, epochs=2),
    "cnn-small": dict(max_examples=300, epochs=1),
    "rnn": dict(units=8, timesteps=40, max_examples=200, epochs=1),
    "transformer-tiny": dict(max_examples=300, epochs=1),
    "recommender": dict(
        num_users=80, num_items=40, embedding_dim=8, tower_units=[8], output_dim=8, epochs=1
    ),
}
RUN_FILES = (
    "run.toml",
    "model.weights.h5",
    "metrics.json",
    "history.csv",
    "curves.png",
    "split.npz",
    "data_state.json",
    "checkpoints/last.weights.npz",
    "checkpoints/state.json",
)


# The mlp trains a couple of steps (batch 128): the fast suite's run through the runner.
@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[] if n == "mlp" else pytest.mark.slow) for n in sorted(TINY)]
)
def test_train_writes_a_complete_run_folder(name: str, tmp_path: Path) -> None:
    run = zoo.train(name, output=tmp_path / "run", verbose=False, **TINY[name])
    for file in RUN_FILES:
        assert (run.path / file).is_file(), file
    assert any((run.path / "logs").rglob("*tfevents*"))
    info = tomllib.loads((run.path / "run.toml").read_text())
    assert info["run"]["status"] == "complete"
    metrics = json.loads((run.path / "metrics.json").read_text())
    assert metrics["epochs_run"] == TINY[name]["epochs"]
    assert metrics["test"], "test-split metrics are recorded"
    assert all(np.isfinite(v) for v in metrics["test"].values())
    assert metrics["baselines"], "a baseline is computed on the same split"
    main_metric = metrics["main_metric"]
    assert main_metric in metrics["test"]
    split = np.load(run.path / "split.npz")
    assert set(split.files) == {"train", "validation", "test"}
    assert not set(split["train"]) & set(split["test"])
    # The run folder loads anywhere a model name is accepted.
    result = zoo.evaluate(run.path)
    assert result["test"][main_metric] == pytest.approx(metrics["test"][main_metric], abs=1e-5)


@pytest.mark.slow
def test_same_seed_gives_same_metrics(tmp_path: Path) -> None:
    options = dict(max_examples=200, epochs=2, verbose=False)
    a = zoo.train("cnn-small", output=tmp_path / "a", seed=3, **options)
    b = zoo.train("cnn-small", output=tmp_path / "b", seed=3, **options)
    c = zoo.train("cnn-small", output=tmp_path / "c", seed=4, **options)
    assert a.metrics["test"] == b.metrics["test"]
    assert a.metrics["split"] == b.metrics["split"]
    assert not np.array_equal(
        np.load(a.path / "split.npz")["test"], np.load(c.path / "split.npz")["test"]
    )


@pytest.mark.slow
def test_transformer_reports_bag_of_words_baseline(tmp_path: Path) -> None:
    run = zoo.train(
        "transformer-tiny", output=tmp_path / "t", verbose=False, **TINY["transformer-tiny"]
    )
    assert "bag_of_words_accuracy" in run.metrics["baselines"]


def _weights(path: Path) -> list[np.ndarray]:
    import h5py

    arrays: list[np.ndarray] = []
    with h5py.File(path) as handle:
        handle.visititems(
            lambda _, obj: arrays.append(np.array(obj)) if isinstance(obj, h5py.Dataset) else None
        )
    return arrays


def test_resume_without_checkpoint_arrays_is_a_clear_error(tmp_path: Path) -> None:
    """A killed run whose checkpoint lacks the .npz files (e.g. written by an older zoo)."""
    import tomli_w

    from zoo.runs import RunError

    run = tmp_path / "run"
    zoo.train("mlp", output=run, verbose=False, **TINY["mlp"])
    meta = tomllib.loads((run / "run.toml").read_text())
    meta["run"]["status"] = "running"  # as if killed after the checkpoint
    (run / "run.toml").write_text(tomli_w.dumps(meta))
    (run / "checkpoints" / "last.weights.npz").unlink()
    with pytest.raises(RunError, match=r"last\.weights\.npz is damaged \(missing\)"):
        zoo.train(resume=run, verbose=False)


@pytest.mark.slow
def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path: Path) -> None:
    args = [
        "train",
        "cnn-small",
        "--epochs",
        "10",
        "--seed",
        "5",
        "--quiet",
        "--set",
        "early_stopping=false",
        "--set",
        "max_examples=400",
        "--set",
        "warmup_steps=40",  # 9 steps an epoch: the kill lands inside the warm-up
    ]
    zoo_cmd = [sys.executable, "-c", "from zoo.cli.main import main; main()"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*zoo_cmd, *args, "--output", str(killed)], stderr=subprocess.DEVNULL)
    state = killed / "checkpoints" / "state.json"
    deadline = time.time() + 120
    while time.time() < deadline:
        if state.is_file() and json.loads(state.read_text())["epochs_done"] >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    info = tomllib.loads((killed / "run.toml").read_text())
    assert info["run"]["status"] == "running", "a killed run must not claim to be complete"
    assert not (killed / "metrics.json").exists()
    with pytest.raises(zoo.ZooError, match="did not finish"):
        zoo.evaluate(killed)

    done = subprocess.run(
        [*zoo_cmd, "train", "--resume", str(killed), "--quiet"], capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    straight = tmp_path / "straight"
    done = subprocess.run([*zoo_cmd, *args, "--output", str(straight)], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]

    resumed_metrics = json.loads((killed / "metrics.json").read_text())
    straight_metrics = json.loads((straight / "metrics.json").read_text())
    assert resumed_metrics["epochs_run"] == straight_metrics["epochs_run"] == 10
    for a, b in zip(
        _weights(killed / "model.weights.h5"), _weights(straight / "model.weights.h5"), strict=True
    ):
        np.testing.assert_allclose(a, b, atol=1e-5)
    for key, value in straight_metrics["test"].items():
        assert resumed_metrics["test"][key] == pytest.approx(value, abs=1e-5)


def test_evaluate_and_predict_a_run_folder(tmp_path: Path) -> None:
    run = zoo.train("mlp", output=tmp_path / "run", verbose=False, **TINY["mlp"])
    data = tmp_path / "few.npz"
    rng = np.random.default_rng(0)
    np.savez(data, x=rng.normal(size=(7, 100)).astype("float32"), y=rng.integers(0, 10, 7))
    rows = zoo.predict(run.path, data, output=tmp_path / "pred.json", top_k=2)
    assert len(rows) == 7
    assert all(len(r["top"]) == 2 and 0 <= r["probability"] <= 1 for r in rows)
    assert json.loads((tmp_path / "pred.json").read_text()) == rows
    result = zoo.evaluate(run.path, data)
    assert result["examples"] == 7
    assert 0.0 <= result["test"]["accuracy"] <= 1.0


@pytest.mark.slow
def test_recommender_metrics_and_top_k_predictions(tmp_path: Path) -> None:
    run = zoo.train("recommender", output=tmp_path / "r", verbose=False, **TINY["recommender"])
    assert "recall_at_10" in run.metrics["test"] and "ndcg_at_10" in run.metrics["test"]
    assert "popularity_recall_at_10" in run.metrics["baselines"]
    rows = zoo.predict(run.path, None, top_k=5, include_seen=True)  # default data: every user
    assert len(rows) == 80
    assert all(len(r["items"]) == 5 and len(set(r["items"])) == 5 for r in rows)
    # by default a user's seen items are left out; with 40 items some have few left
    assert all(len(r["items"]) <= 5 for r in zoo.predict(run.path, None, top_k=5))
    assert all(r["scores"] == sorted(r["scores"], reverse=True) for r in rows)


# --------------------------------------------------------------------------- bad input
def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err
    return int(exit_info.value.code or 0), err


def _bad_input_cases(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    wrong_shape = tmp_path / "wrong.npz"
    np.savez(wrong_shape, x=np.zeros((20, 5, 5, 5, 2), "float32"), y=np.arange(20) % 3)
    missing = tmp_path / "ratings.csv"
    missing.write_text("user_id,rating,timestamp\n1,5,10\n2,4,11\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    config = tmp_path / "config.toml"
    config.write_text("epochs = 1\nunits_typo = 3\n")
    return {
        "wrong shape": (["train", "cnn", "--data", str(wrong_shape)], "shape"),
        "csv missing column": (["train", "recommender", "--data", str(missing)], "item"),
        "empty folder": (["train", "cnn", "--data", str(empty)], str(empty.name)),
        "non-numeric --set": (["train", "rnn", "--set", "units=many"], "units"),
        "unknown --config key": (["train", "rnn", "--config", str(config)], "units_typo"),
        "unknown model": (["train", "cnnn"], "did you mean"),
        "missing data path": (["train", "cnn", "--data", str(tmp_path / "nope")], "does not exist"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "wrong shape",
        "csv missing column",
        "empty folder",
        "non-numeric --set",
        "unknown --config key",
        "unknown model",
        "missing data path",
    ],
)
def test_bad_input_fails_before_training(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, needle = _bad_input_cases(tmp_path)[case]
    output = tmp_path / "out"
    code, err = _cli([*args, "--output", str(output), "--quiet"], capsys)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    assert needle.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in err
    assert not output.exists(), "nothing may be written before the input is validated"


def test_existing_output_folder_is_not_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "taken"
    output.mkdir()
    (output / "keep.txt").write_text("precious")
    code, err = _cli(["train", "mlp", "--output", str(output), "--epochs", "1"], capsys)
    assert code == 2 and "already exists" in err
    assert (output / "keep.txt").read_text() == "precious"
    assert sorted(os.listdir(output)) == ["keep.txt"]
