"""Tasks as plugins: the forecasting example (examples/zoo-forecast) and misbehaving tasks.

The slow tests build the example's wheel, install it into a fresh virtual environment
beside the zoo's own copy (the helpers of test_example_plugin.py), and use it there as a user
would: list, train, evaluate, predict, export to the four formats, `zoo check-plugin`. The
fast tests fabricate installed plugins (fakeplugins.make_dist) whose task declarations are
wrong: one claims a built-in (reserved) task name, one names a task nobody provides.
"""

from __future__ import annotations

import csv
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import fakeplugins as fp
import numpy as np
import pytest
from conftest import run_zoo
from test_example_plugin import copy_plugin_source, make_venv, pip_install, run, zoo_cli

import zoo
import zoo.catalog
from zoo.errors import ZooError

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "zoo-forecast"
FORMATS = ("keras", "savedmodel", "onnx", "litert")
LOOKBACK, HORIZON = 48, 12  # the forecaster preset's defaults
PROBE = """
import json, sys
from zoo.cli.main import main
try:
    main({args!r})
    code = 0
except SystemExit as exc:
    code = exc.code
heavy = sorted(
    m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "zoo_forecast")
)
print("PROBE " + json.dumps({{"code": code, "heavy": heavy}}))
"""


# -- the example, installed from its wheel into a fresh venv ---------------------------------
@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("forecast-venv")
    python = make_venv(root)  # with its own keras-zoo, built from a copy of this checkout
    source = copy_plugin_source(EXAMPLE, root / "zoo-forecast")
    wheels = root / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", wheels, source)  # fmt: skip
    (wheel,) = wheels.glob("zoo_forecast-*.whl")
    pip_install(python, wheel)
    return python


@pytest.fixture(scope="module")
def work(venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a run of the forecaster (2 epochs) in RUN."""
    work = tmp_path_factory.mktemp("forecast-work")
    out = zoo_cli(venv, "train", "forecaster", "--epochs", "2", "--output", "RUN", "--quiet",
                  cwd=work).stdout  # fmt: skip
    assert "run folder" in out and "smape=" in out and "last_value_smape=" in out
    return work


@pytest.mark.slow
def test_listed_from_its_wheel_without_importing_tensorflow(venv: Path, tmp_path: Path) -> None:
    location = run(venv, "-c", "import zoo_forecast; print(zoo_forecast.__file__)").stdout
    assert location.startswith(str(venv.parent.parent)) and "site-packages" in location
    probe = run(venv, "-c", PROBE.format(args=["list", "--task", "forecasting"]), cwd=tmp_path)
    listing, last = probe.stdout.splitlines()[:-1], probe.stdout.splitlines()[-1]
    assert json.loads(last.removeprefix("PROBE ")) == {"code": 0, "heavy": []}
    assert listing[0].split()[:3] == ["NAME", "ARCHITECTURE", "TASK"]
    assert [row.split()[:3] for row in listing[1:]] == [["forecaster", "forecaster", "forecasting"]]
    assert "forecast (zoo-forecast)" in listing[1]


@pytest.mark.slow
def test_train_then_evaluate_reports_the_tasks_own_metric(venv: Path, work: Path) -> None:
    metrics = json.loads((work / "RUN" / "metrics.json").read_text())
    assert metrics["task"] == "forecasting"
    assert metrics["main_metric"] == "smape" and metrics["higher_is_better"] is False
    assert set(metrics["test"]) == {"loss", "smape", "mae"}
    assert set(metrics["baselines"]) == {"last_value_loss", "last_value_smape", "last_value_mae"}
    split = metrics["split"]
    assert split["train"] > split["test"] > split["validation"] > 0

    result = json.loads(zoo_cli(venv, "evaluate", "RUN", "--json", cwd=work).stdout)
    assert result["main_metric"] == "smape"
    assert result["examples"] == split["test"]
    for key, value in metrics["test"].items():
        assert result["test"][key] == pytest.approx(value, rel=1e-5), key
    assert result["baselines"] == pytest.approx(metrics["baselines"], rel=1e-9)
    assert 0 < result["test"]["smape"] < 200


@pytest.mark.slow
def test_predict_writes_horizon_rows(venv: Path, work: Path) -> None:
    length = 100
    t = np.arange(length)
    values = 20 + 4 * np.sin(2 * np.pi * t / 24) + 0.1 * np.cos(t)
    lines = ["date,value"] + [f"2024-01-{i:03d},{v:.5f}" for i, v in zip(t, values, strict=True)]
    (work / "series.csv").write_text("\n".join(lines) + "\n")

    out = zoo_cli(venv, "predict", "RUN", "--data", "series.csv", "--output", "p.csv", cwd=work)
    with (work / "p.csv").open(newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(reader)
    steps = [f"step_{i}" for i in range(1, HORIZON + 1)]
    assert header == ["index", "start", *steps]
    assert not any("probability" in column for column in header)
    complete = length - LOOKBACK - HORIZON + 1  # windows with a known future
    assert len(rows) == complete + HORIZON  # + the windows that reach past the end
    assert f"wrote {len(rows)} predictions" in out.stdout
    assert [int(r["start"]) for r in rows] == list(range(LOOKBACK, length + 1))
    forecast = np.array([[float(r[s]) for s in steps] for r in rows])
    assert np.isfinite(forecast).all()
    assert np.abs(forecast - 20).max() < 40  # a forecast on the series' scale, not classes


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
def test_export_with_parity(venv: Path, work: Path, fmt: str) -> None:
    out = zoo_cli(venv, "export", "RUN", "--format", fmt, cwd=work).stdout
    written = Path(out.splitlines()[0].strip())  # the command prints the artifact's path first
    assert written.exists() and written.parent == work, out
    parity = next(line for line in out.splitlines() if line.strip().startswith("parity"))
    assert "max |diff|" in parity and "sinusoids" in parity, out
    print(f"{fmt}: {parity.strip()}")
    assert "forecast: float32" in out or "output_0: float32" in out  # the (n, 12) output
    assert f", {HORIZON})" in out


@pytest.mark.slow
def test_check_plugin_passes_in_the_venv(venv: Path, tmp_path: Path) -> None:
    proc = zoo_cli(venv, "check-plugin", "forecast", cwd=tmp_path)
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0
    assert not [line for line in lines if line.startswith(("failed", "skipped"))], proc.stdout
    assert lines[-1] == "plugin forecast (model forecaster): 13 checks: 13 passed", proc.stdout


# -- task declarations that are wrong --------------------------------------------------------
SQUATTER_HOOKS = (
    fp.GOOD_HOOKS
    + """

    @hookimpl
    def zoo_tasks():
        raise AssertionError("a plugin claiming a reserved task name is never imported")
"""
)


def _plugin_with_task(site: Path, name: str, task: str, extra: str = "", hooks: str = "") -> Path:
    """Plugin ``name`` (package ``zoo-<name>``, model ``<name>-model``) whose architecture's
    task is ``task``; ``extra`` is appended to its registry.toml."""
    registry = fp.registry(f"{name}arch", {f"{name}-model": "x"}).replace(
        'task = "tabular-classification"', f'task = "{task}"'
    )
    package = f"zoo_{name}"
    return fp.make_dist(
        site,
        f"zoo-{name}",
        {name: package},
        {
            f"{package}/__init__.py": hooks or fp.GOOD_HOOKS,
            f"{package}/registry.toml": registry + extra,
        },
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder of fabricated installed plugins, on PYTHONPATH for the subprocesses and on
    sys.path (with a fresh catalog) for in-process calls; forgotten afterwards."""
    path = tmp_path / "site"
    path.mkdir()
    before = set(sys.modules)
    monkeypatch.syspath_prepend(str(path))
    importlib.invalidate_caches()
    zoo.catalog.reset()
    yield path
    for name in set(sys.modules) - before:
        if name.startswith("zoo_"):
            del sys.modules[name]
    importlib.invalidate_caches()
    zoo.catalog.reset()


def _one_line_error(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ZooError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message, message
    return message


@pytest.mark.slow  # over 7 s: kept out of the quick run (pytest -m 'not slow')
def test_a_plugin_declaring_a_reserved_task_name_breaks_only_itself(
    site: Path, tmp_path: Path
) -> None:
    extra = '\n[tasks.classification]\nsummary = "my own classification"\n'
    _plugin_with_task(site, "squatter", "classification", extra, SQUATTER_HOOKS)
    env = {"PYTHONPATH": str(site)}

    code, out, err = run_zoo("plugins", "--errors", env=env)
    assert code == 0, err
    (row,) = [line for line in out.splitlines() if line.startswith("squatter ")]
    assert row.split()[1:2] == ["zoo-squatter"] and "error" in row.split()
    (error,) = [line for line in err.splitlines() if line.startswith("squatter")]
    assert "zoo_squatter" in error  # its registry file, inside the package
    assert "task 'classification'" in error and "reserved" in error

    code, out, err = run_zoo("info", "squatter-model", env=env)
    assert code == 2, (out, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "'squatter-model'" in err and "broken plugin(s) squatter" in err, err
    for call in (lambda: zoo.create("squatter-model"), lambda: zoo.train("squatter-model")):
        message = _one_line_error(call)
        assert "'squatter-model'" in message and "squatter " in message, message

    code, out, err = run_zoo("info", "cnn", env=env)
    assert code == 0, err
    assert "image-classification" in out
    code, out, err = run_zoo(
        "train", "mlp", "--epochs", "1", "--set", "max_examples=200", "--quiet",
        "--output", str(tmp_path / "mlp-run"), env=env,
    )  # fmt: skip
    assert code == 0, err
    metrics = json.loads((tmp_path / "mlp-run" / "metrics.json").read_text())
    assert metrics["task"] == "tabular-classification" and "accuracy" in metrics["test"]


def test_an_unknown_task_is_named_at_use_time(site: Path, tmp_path: Path) -> None:
    _plugin_with_task(site, "clusters", "clustering")

    code, out, err = run_zoo("list", "clusters-*", env={"PYTHONPATH": str(site)})
    assert code == 0, err  # listing does not need the task
    assert out.splitlines()[1].split()[:3] == ["clusters-model", "clustersarch", "clustering"]

    calls = (
        lambda: zoo.create("clusters-model"),
        lambda: zoo.train("clusters-model", epochs=1, output=tmp_path / "run", verbose=False),
    )
    for call in calls:
        message = _one_line_error(call)
        for needle in ("model 'clusters-model'", "plugin 'clusters'", "task 'clustering'"):
            assert needle in message, message
        installed = message.split("installed tasks:")[1]
        assert "classification" in installed and "regression" in installed, message
    assert not (tmp_path / "run").exists()
