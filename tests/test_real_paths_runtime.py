"""The user's path, end to end (issue 15): resume with dropout, artifacts that stand alone in a
fresh interpreter with their metadata, exit codes, name collisions, broken registries and
`zoo worker`'s command line. Every test writes the files it uses."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import fakeplugins as fp
import numpy as np
import pytest
from conftest import clean_env, run_zoo

from zoo.cli.main import main


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """An empty folder to install fake distributions into (put on PYTHONPATH)."""
    path = tmp_path / "site"
    path.mkdir()
    return path


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
        raise SystemExit(0)
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


# -- 8. check-plugin's exit code ----------------------------------------------------------------


def test_check_plugin_exits_1_when_a_check_fails(site: Path) -> None:
    fp.bad_registry_plugin(site)
    code, out, err = run_zoo(
        "check-plugin", "badreg", "--check", "registry", env={"PYTHONPATH": str(site)}
    )
    assert "failed" in out and "registry" in out, out + err
    assert code == 1, (out, err)


def test_check_plugin_exits_0_when_every_check_passes() -> None:
    code, out, err = run_zoo("check-plugin", "mlp", "--check", "registry")
    assert code == 0, (out, err)


# -- 12. zoo worker's command line --------------------------------------------------------------


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """`zoo worker` with its launcher replaced: records the train args, starts nothing."""
    from zoo.cli import worker_cmd

    calls: list[list[str]] = []

    def fake_launch(train_args, ports, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(list(train_args))
        return 0

    monkeypatch.setattr(worker_cmd, "launch", fake_launch)
    return calls


def test_worker_accepts_the_train_command_a_user_types(
    tmp_path: Path, launched: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["worker", "-n", "2", "train", "cnn-small", "--epochs", "1", "--output", str(out)]
    code, _, err = _cli(args, capsys)
    assert code == 0, err
    assert launched == [["cnn-small", "--epochs", "1", "--output", str(out)]]
    from zoo.cli.train_cmds import train_cmd

    train_cmd.make_context("train", [*launched[0], "--strategy", "multi-worker"])  # parses


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["cnn-small", "extra"], "unexpected extra argument"),
        (["train", "cnn-small", "--epochs", "many"], "--epochs"),
        (["cnnn", "--epochs", "1"], "did you mean"),
        (["train"], "no model given"),
    ],
)
def test_worker_refuses_a_wrong_command_line_before_starting_workers(
    args: list[str],
    needle: str,
    launched: list[list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _cli(["worker", "-n", "2", *args], capsys)
    assert code == 2, err
    assert launched == [], "no worker may start"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert needle in lines[0], lines[0]
    if needle != "did you mean":
        assert "zoo worker -n 2 cnn-small" in lines[0]


# -- 9. a name collision makes only that name unusable -------------------------------------------


def _shadow_plugin(site: Path) -> None:
    """Package zoo-shadow declaring its own ``[models.cnn]`` next to a model of its own."""
    fp.make_dist(
        site,
        "zoo-shadow",
        {"shadow": "zoo_shadow"},
        {
            "zoo_shadow/__init__.py": fp.GOOD_HOOKS,
            "zoo_shadow/registry.toml": fp.registry(
                "shadowarch", {"cnn": "not the real cnn", "shadow-ok": "fine"}
            ),
        },
    )


def test_a_name_collision_leaves_every_other_model_of_both_plugins_working(site: Path) -> None:
    _shadow_plugin(site)
    env = {"PYTHONPATH": str(site)}
    code, out, err = run_zoo("list", env=env)
    assert code == 0, err
    names = {line.split()[0] for line in out.splitlines()[1:]}
    assert {"cnn-small", "shadow-ok"} <= names and "cnn" not in names
    warning = [line for line in err.splitlines() if "'cnn'" in line]
    assert len(warning) == 1 and "keras-zoo" in warning[0] and "zoo-shadow" in warning[0], err

    code, out, err = run_zoo("plugins", "--json", env=env)
    records = {r["name"]: r for r in json.loads(out)}
    assert records["cnn"]["status"] == records["shadow"]["status"] == "ok"
    assert "zoo-shadow" in records["cnn"]["error"]

    code, _, err = run_zoo("info", "cnn", env=env)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "keras-zoo" in lines[0] and "zoo-shadow" in lines[0]

    script = textwrap.dedent(
        """
        import zoo
        print(zoo.create("cnn-small", compile=False).count_params())
        print(zoo.create("shadow-ok", compile=False).count_params())
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], env=clean_env(env), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow
def test_zoo_train_cnn_small_works_beside_a_plugin_declaring_cnn(
    site: Path, tmp_path: Path
) -> None:
    _shadow_plugin(site)
    code, out, err = run_zoo(
        "train",
        "cnn-small",
        "--epochs",
        "1",
        "--set",
        "max_examples=64",
        "--quiet",
        "--output",
        str(tmp_path / "run"),
        env={"PYTHONPATH": str(site)},
    )
    assert code == 0, err[-2000:]
    assert (tmp_path / "run" / "metrics.json").is_file()


# -- 10. a broken registry is reported by `zoo list` ------------------------------------------


def test_zoo_list_says_when_a_plugin_registry_failed_to_load(site: Path) -> None:
    fp.bad_registry_plugin(site)
    code, out, err = run_zoo("list", "badreg*", env={"PYTHONPATH": str(site)})
    assert code == 0
    lines = [line for line in err.splitlines() if "badreg" in line]
    assert len(lines) == 1, err
    assert "zoo-badreg" in lines[0] and "zoo plugins --errors" in lines[0]
    code, out, err = run_zoo("list", "--json", env={"PYTHONPATH": str(site)})
    assert code == 0 and json.loads(out)  # stdout stays machine-readable
    assert "zoo plugins --errors" in err
    code, out, err = run_zoo("list")  # nothing broken: nothing on stderr
    assert code == 0 and err == "", err


# -- 5. --resume is bit for bit with dropout ----------------------------------------------------

ZOO_CMD = [sys.executable, "-c", "from zoo.cli.main import main; main()"]


def _history(run: Path) -> list[str]:
    return (run / "history.csv").read_text().splitlines()


def _h5_arrays(path: Path) -> dict[str, np.ndarray]:
    import h5py

    arrays: dict[str, np.ndarray] = {}
    with h5py.File(path) as handle:
        handle.visititems(
            lambda name, obj: (
                arrays.__setitem__(name, np.array(obj)) if isinstance(obj, h5py.Dataset) else None
            )
        )
    return arrays


@pytest.mark.slow
def test_resume_after_sigkill_is_bit_for_bit_with_dropout(tmp_path: Path) -> None:
    args = [
        "train", "transformer-tiny", "--epochs", "6", "--seed", "2", "--quiet",
        "--set", "dropout=0.3", "--set", "max_examples=600", "--set", "early_stopping=false",
    ]  # fmt: skip
    env = clean_env()
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*ZOO_CMD, *args, "--output", str(killed)], env=env, stderr=subprocess.DEVNULL
    )
    state = killed / "checkpoints" / "state.json"
    deadline = time.time() + 300
    done = 0
    while time.time() < deadline and proc.poll() is None:
        if state.is_file():
            try:
                done = json.loads(state.read_text())["epochs_done"]
            except (json.JSONDecodeError, KeyError):  # pragma: no cover - replaced atomically
                done = 0
            if done >= 2:
                break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 2 <= done < 6, f"the kill landed after epoch {done}"
    assert (killed / "checkpoints" / "last.state.npz").is_file()

    resumed = subprocess.run(
        [*ZOO_CMD, "train", "--resume", str(killed), "--quiet"], env=env, capture_output=True
    )
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    straight = tmp_path / "straight"
    run = subprocess.run([*ZOO_CMD, *args, "--output", str(straight)], env=env, capture_output=True)
    assert run.returncode == 0, run.stderr.decode()[-2000:]

    assert _history(killed) == _history(straight)  # every epoch's loss, to the last digit
    a = _h5_arrays(killed / "model.weights.h5")
    b = _h5_arrays(straight / "model.weights.h5")
    assert a.keys() == b.keys() and a
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
