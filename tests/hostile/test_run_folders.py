"""Damaged run folders (issue 16, classes 3 and 6) and run ownership (class 1).

Every state a run folder can be left in has one way out, and `zoo evaluate`, `zoo export`,
`zoo.load` and `zoo train --resume` say the same thing about it:

=====================================  =====================================================
state                                  evaluate / export / load  ·  --resume
=====================================  =====================================================
finished                               works  ·  "already finished"
finished, model.weights.h5 missing     "re-create them ... --resume"  ·  re-creates them
  or damaged                           from the last checkpoint (or trains again)
running, owner process alive           "still training (process N on H)"  ·  refused
running, owner process gone            "crashed after K of E epochs; --resume"  ·  continues
  (killed, os._exit, pid reused)
running, no owner recorded             "crashed (no owning process)"  ·  continues
running, owner on another host         "did not finish yet ... or if it stopped, --resume"
                                       ·  continues with a warning
no run.toml                            "not a run folder"  ·  same
run.toml damaged                       "run.toml is damaged: cannot be used or resumed"
data_state.json / metrics.json         "<file> is damaged: ... delete it" (derived again)
  damaged
checkpoint state.json / .npz damaged   --resume: "checkpoint file <file> is damaged: delete
  or missing                           the folder ..., --resume trains from epoch 1"
=====================================  =====================================================
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from conftest import clean_env, run_zoo, zoo_script

import zoo
import zoo.catalog
from hostile.common import assert_one_line_error
from zoo.runs import RunError, read_run

TINY = {"epochs": 2, "max_examples": 200}


# ------------------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-epoch ``mlp`` run, trained once; every test damages a copy."""
    zoo.catalog.reset()
    out = tmp_path_factory.mktemp("template") / "run"
    zoo.train("mlp", output=out, verbose=False, **TINY)
    return out


@pytest.fixture
def run(finished: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


def test_metrics(run: Path) -> dict[str, float]:
    return json.loads((run / "metrics.json").read_text())["test"]


test_metrics.__test__ = False  # a helper, not a test


def set_run(run: Path, drop: tuple[str, ...] = (), **fields: Any) -> None:
    """Rewrite fields of run.toml's [run] table."""
    data = tomllib.loads((run / "run.toml").read_text())
    for key in drop:
        data["run"].pop(key, None)
    data["run"].update(fields)
    (run / "run.toml").write_text(tomli_w.dumps(data))


def killed_before_finish(run: Path, **owner: Any) -> None:
    """The folder as a run killed after its last checkpoint, before the final files."""
    for name in ("model.weights.h5", "metrics.json", "curves.png"):
        (run / name).unlink()
    set_run(run, drop=("finished",), status="running", **owner)


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_process() -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(["sleep", "120"])
    yield proc
    proc.kill()
    proc.wait()


def message(call: Any, *args: Any, **kwargs: Any) -> str:
    """The one-line RunError ``call`` raises."""
    with pytest.raises(RunError) as exc:
        call(*args, **kwargs)
    text = str(exc.value)
    assert "\n" not in text
    return text


def resume(run: Path) -> Any:
    return zoo.train(resume=run, verbose=False)


def refusals(run: Path, tmp_path: Path) -> list[str]:
    """What evaluate, load and export say about ``run``; export writes nothing."""
    out = tmp_path / "exported.keras"
    said = [
        message(zoo.evaluate, run),
        message(zoo.load, run),
        message(zoo.export, str(run), str(out), format="keras"),
    ]
    assert not out.exists()
    assert len(set(said)) == 1, said
    return said


# ----------------------------------------------- class 6: finished run, weights missing
@pytest.mark.slow  # three `zoo` processes
def test_finished_run_without_its_weights_evaluate_and_resume_agree(run: Path) -> None:
    """The dead end of the issue: evaluate said '--resume', --resume said 'finished'."""
    (run / "model.weights.h5").unlink()
    code, _, err = run_zoo("evaluate", str(run))
    line = assert_one_line_error(code, err, str(run / "model.weights.h5"), "missing")
    assert f"`zoo train --resume {run}`" in line and "last checkpoint" in line
    code, out, err = run_zoo("train", "--resume", str(run), "--quiet")
    assert code == 0, err
    code, out, err = run_zoo("evaluate", str(run), "--json")
    assert code == 0, err
    assert json.loads(out)["test"] == pytest.approx(test_metrics(run), abs=1e-6)


def test_damaged_final_weights_are_recreated_from_the_last_checkpoint(
    run: Path, tmp_path: Path
) -> None:
    before = test_metrics(run)
    weights = run / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])
    said = refusals(run, tmp_path)[0]
    assert f"its final weights {weights} are damaged" in said and "--resume" in said
    assert zoo.info(str(run))["run"]["status"] == "complete, final weights damaged"
    resumed = resume(run)
    assert resumed.metrics["test"] == pytest.approx(before, abs=1e-6)
    assert zoo.evaluate(run)["test"] == pytest.approx(before, abs=1e-6)


def test_finished_run_without_weights_or_checkpoints_trains_again(
    run: Path, tmp_path: Path
) -> None:
    (run / "model.weights.h5").unlink()
    shutil.rmtree(run / "checkpoints")
    said = refusals(run, tmp_path)[0]
    assert "trains it again from its first epoch" in said
    resumed = resume(run)
    assert resumed.metrics["epochs_run"] == 2
    assert read_run(run).condition == "complete"


def test_resume_of_a_finished_run_is_refused_naming_its_weights(run: Path) -> None:
    said = message(resume, run)
    assert "already finished" in said and str(run / "model.weights.h5") in said


# ------------------------------------------------------------- class 1: run ownership
def test_run_whose_process_is_gone_reads_crashed_and_resumes(run: Path, tmp_path: Path) -> None:
    before = test_metrics(run)
    killed_before_finish(run, pid=dead_pid(), host=socket.gethostname())
    said = refusals(run, tmp_path)[0]
    assert "crashed after 2 of 2 epochs" in said and "ended before it finished" in said
    assert f"continue it with `zoo train --resume {run}`" in said
    assert zoo.info(str(run))["run"]["status"] == "crashed"
    assert resume(run).metrics["test"] == pytest.approx(before, abs=1e-6)
    info = tomllib.loads((run / "run.toml").read_text())["run"]
    assert info["status"] == "complete" and "pid" not in info  # a finished run has no owner


def test_run_owned_by_a_live_process_is_still_training(
    run: Path, tmp_path: Path, live_process: subprocess.Popen
) -> None:
    killed_before_finish(run, pid=live_process.pid, host=socket.gethostname())
    said = refusals(run, tmp_path)[0]
    assert f"still training (process {live_process.pid} on {socket.gethostname()})" in said
    refused = message(resume, run)
    assert "still training" in refused and "two processes" in refused
    assert (run / "checkpoints" / "state.json").is_file()  # nothing touched
    live_process.kill()
    live_process.wait()
    assert "crashed after 2 of 2 epochs" in message(zoo.evaluate, run)


def test_reused_pid_is_not_the_owner(run: Path, live_process: subprocess.Popen) -> None:
    killed_before_finish(
        run, pid=live_process.pid, host=socket.gethostname(), pid_started=1_000_000.0
    )
    assert read_run(run, require_complete=False).condition == "crashed"


def test_running_run_without_owner_reads_crashed(run: Path, tmp_path: Path) -> None:
    killed_before_finish(run)  # written by an older zoo: no pid
    said = refusals(run, tmp_path)[0]
    assert "crashed after 2 of 2 epochs" in said and "no owning process" in said
    resume(run)
    assert read_run(run).condition == "complete"


def test_run_owned_on_another_host_can_be_resumed_with_a_warning(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    killed_before_finish(run, pid=dead_pid(), host="elsewhere.invalid")
    said = message(zoo.evaluate, run)
    assert "on elsewhere.invalid trains it, or did until it stopped" in said
    assert f"`zoo train --resume {run}`" in said
    resume(run)
    assert "make sure that process has stopped" in capsys.readouterr().err
    assert read_run(run).condition == "complete"


def test_a_run_whose_training_raised_in_this_process_reads_crashed(tmp_path: Path) -> None:
    import keras

    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            raise KeyboardInterrupt  # what Ctrl-C looks like inside fit

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        zoo.train("mlp", output=out, verbose=False, callbacks=[Boom()], **TINY)
    said = message(zoo.evaluate, out)
    assert "did not finish: it crashed" in said and "--resume" in said
    resume(out)
    assert read_run(out).condition == "complete"


@pytest.mark.slow
def test_sigkilled_training_reads_crashed_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [zoo_script(), "train", "mlp", "--output", str(out), "--epochs", "3", "--quiet"],
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 240
    while not (out / "run.toml").is_file() and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert tomllib.loads((out / "run.toml").read_text())["run"]["pid"] == proc.pid
    code, _, err = run_zoo("evaluate", str(out))
    assert_one_line_error(code, err, str(out), "crashed", f"process {proc.pid}", "--resume")
    code, _, err = run_zoo("train", "--resume", str(out), "--quiet")
    assert code == 0, err
    code, _, err = run_zoo("evaluate", str(out))
    assert code == 0, err


# ------------------------------------------------------ class 3: damaged run files
@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],
        lambda text: "\x00\x01 not toml [[[",
        lambda text: text.replace('model = "mlp"\n', ""),
        lambda text: "",
    ],
    ids=["truncated", "not-toml", "no-model", "empty"],
)
def test_damaged_run_toml_cannot_be_used_or_resumed(run: Path, tmp_path: Path, damage) -> None:
    path = run / "run.toml"
    path.write_text(damage(path.read_text()))
    said = refusals(run, tmp_path)[0]
    assert f"{path} is damaged" in said and "cannot be used or resumed" in said
    assert message(resume, run) == said


@pytest.mark.slow  # over 7 s: kept out of the quick run (pytest -m 'not slow')
def test_damaged_run_toml_at_the_cli(run: Path) -> None:
    (run / "run.toml").write_text("[run\nmodel = ")
    code, _, err = run_zoo("evaluate", str(run))
    assert_one_line_error(code, err, str(run / "run.toml"), "is damaged")
    code, _, err = run_zoo("train", "--resume", str(run))
    assert_one_line_error(code, err, str(run / "run.toml"), "is damaged")


def test_folder_without_run_toml_is_not_a_run(run: Path) -> None:
    (run / "run.toml").unlink()
    for call in (zoo.evaluate, zoo.load, resume):
        assert f"{run} is not a run folder (no run.toml)" in message(call, run)


@pytest.mark.parametrize("content", ['{"classes": ["a", "b"', "[1, 2]", "\udcff"])
def test_damaged_data_state_names_the_file_and_the_way_out(run: Path, content: str) -> None:
    state = run / "data_state.json"
    state.write_text(content, errors="surrogateescape")
    said = message(zoo.evaluate, run)
    assert f"{state} is damaged" in said and "delete it" in said
    assert message(resume, run) == said
    state.unlink()  # the way out: derived again from the run's data
    assert zoo.evaluate(run)["test"] == pytest.approx(test_metrics(run), abs=1e-6)


def test_damaged_metrics_file_names_the_file(run: Path) -> None:
    metrics = run / "metrics.json"
    metrics.write_text(metrics.read_text()[:50])
    said = message(zoo.info, str(run))
    assert f"{metrics} is damaged" in said and f"`zoo evaluate {run}`" in said
    zoo.evaluate(run)  # the weights are not affected


def test_damaged_checkpoint_state_names_it_and_deleting_the_folder_resumes(run: Path) -> None:
    killed_before_finish(run, pid=dead_pid(), host=socket.gethostname())
    state = run / "checkpoints" / "state.json"
    state.write_text(state.read_text()[:40])
    said = message(resume, run)
    assert f"checkpoint file {state} is damaged" in said
    assert f"delete the folder {run / 'checkpoints'}" in said and "from epoch 1" in said
    shutil.rmtree(run / "checkpoints")
    assert resume(run).metrics["epochs_run"] == 2


@pytest.mark.parametrize("name", ["last.weights.npz", "last.optimizer.npz"])
@pytest.mark.parametrize("how", ["truncated", "missing", "not-npz"])
def test_damaged_checkpoint_arrays_name_the_file(run: Path, name: str, how: str) -> None:
    killed_before_finish(run, pid=dead_pid(), host=socket.gethostname())
    path = run / "checkpoints" / name
    if how == "missing":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    said = message(resume, run)
    assert f"checkpoint file {path} is damaged" in said and "delete the folder" in said
    assert not (run / "model.weights.h5").exists()  # nothing half-written


def test_damaged_best_checkpoint_names_it_and_keeps_the_other_files(run: Path) -> None:
    killed_before_finish(run, pid=dead_pid(), host=socket.gethostname())
    best = run / "checkpoints" / "best.weights.npz"
    best.write_bytes(best.read_bytes()[:100])
    said = message(resume, run)
    assert f"checkpoint file {best} is damaged" in said and "last epoch's" in said
    best.unlink()  # the way out it names
    resume(run)
    assert read_run(run).condition == "complete"
