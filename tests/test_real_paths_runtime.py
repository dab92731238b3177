"""The user's path, end to end (issue 15): resume with dropout, artifacts that stand alone in a
fresh interpreter with their metadata, exit codes, name collisions, broken registries and
`zoo worker`'s command line. Every test writes the files it uses."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import fakeplugins as fp
import pytest
from conftest import clean_env, run_zoo

import zoo
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
