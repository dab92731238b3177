"""`zoo list`, `zoo info`, `zoo plugins`, `zoo --help`: output, errors and import weight."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import APPLICATION_MODELS, BUILTIN_PLUGINS, INSTALLED_MODELS, run_python, run_zoo

import zoo

SHA = "cd" * 32
PROBE = """
import json, sys
from zoo.cli.main import main
try:
    main({args!r})
    code = 0
except SystemExit as exc:
    code = exc.code
heavy = sorted(
    m for m in sys.modules
    if m.split(".")[0] in ("tensorflow", "keras", "numpy") or m.startswith("zoo.plugins.")
)
print("PROBE " + json.dumps({{"code": code, "heavy": heavy}}))
"""


def no_traceback_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith("error: ") or err.startswith("Error: "), err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


@pytest.mark.parametrize(
    "args", [["list"], ["info", "cnn"], ["plugins"], ["--help"], ["list", "--json"]]
)
def test_catalog_commands_import_no_tensorflow_and_no_plugin_code(args: list[str]) -> None:
    rc, out, err = run_python(PROBE.format(args=args))
    assert rc == 0, err
    probe = json.loads(out.strip().splitlines()[-1].removeprefix("PROBE "))
    assert probe["code"] == 0, err
    # tensorflow, keras, numpy, zoo.plugins.cnn and zoo.plugins.cnn.model: none imported
    assert probe["heavy"] == []


def test_list_shows_every_builtin_model() -> None:
    code, out, err = run_zoo("list")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "ARCHITECTURE", "TASK", "PARAMS", "PRETRAINED", "PLUGIN"]
    assert [line.split()[0] for line in lines[1:]] == list(INSTALLED_MODELS)
    cnn = next(line for line in lines if line.startswith("cnn "))
    assert cnn.split() == ["cnn", "cnn", "image-classification", "225.0K", "digits", "cnn"]
    small = next(line for line in lines if line.startswith("cnn-small "))
    assert small.split() == ["cnn-small", "cnn", "image-classification", "14.4K", "-", "cnn"]


def test_list_json_equals_the_python_api() -> None:
    code, out, err = run_zoo("list", "cnn*", "--json")
    assert code == 0, err
    records = json.loads(out)
    assert records == zoo.list_models("cnn*")
    assert [r["name"] for r in records] == ["cnn", "cnn-small"]
    assert records[0] == {
        "name": "cnn",
        "architecture": "cnn",
        "task": "image-classification",
        "summary": records[0]["summary"],
        "params": 225034,
        "pretrained": ["digits"],
        "plugin": "cnn",
        "package": "keras-zoo",
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["trans*"], ["transformer", "transformer-tiny"]),
        (["rnn"], ["rnn", "rnn-gru"]),  # no wildcard: substring
        (["*-small"], ["cnn-small"]),
        (["CNN"], ["cnn", "cnn-small"]),  # names are lower-case; patterns match any case
        (["--task", "image-classification"], sorted(["cnn", "cnn-small", *APPLICATION_MODELS])),
        (["--task", "retrieval"], ["recommender"]),
        (["--task", "*-classification", "mlp*"], ["mlp", "mlp-deep"]),
        (["--task", "text*"], ["transformer", "transformer-tiny"]),
    ],
)
def test_list_filters(args: list[str], expected: list[str]) -> None:
    code, out, err = run_zoo("list", *args, "--json")
    assert code == 0, err
    assert [r["name"] for r in json.loads(out)] == expected


def test_list_pretrained_filter(tmp_path: Path) -> None:
    code, out, err = run_zoo("list", "--pretrained", "--json", cwd=tmp_path)
    assert code == 0, err
    shipped = {r["name"]: r["pretrained"] for r in json.loads(out)}
    # Keras publishes no hash for MobileNet's and MobileNetV2's files: no imagenet entry
    imagenet = set(APPLICATION_MODELS) - {"mobilenet", "mobilenet_v2"}
    assert set(shipped) == {"cnn", "mlp", "rnn", "transformer", "recommender"} | imagenet
    code, out, err = run_zoo("list", "rnn-*", "--pretrained", cwd=tmp_path)
    assert code == 0 and out == ""
    assert "no models match" in err
    (tmp_path / "registry.toml").write_text(
        "[[models.rnn-gru.weights]]\nname = 'waves'\nsource = 'rnn.weights.h5'\n"
        f"sha256 = '{SHA}'\nsize = 99\n"
    )
    code, out, err = run_zoo("list", "rnn-*", "--pretrained", "--json", cwd=tmp_path)
    assert code == 0, err
    assert [(r["name"], r["pretrained"]) for r in json.loads(out)] == [("rnn-gru", ["waves"])]
    code, out, err = run_zoo("list", "rnn-*", "--pretrained", cwd=tmp_path)
    assert "waves" in out.splitlines()[1]


def test_info_json_card() -> None:
    code, out, err = run_zoo("info", "cnn", "--json")
    assert code == 0, err
    card = json.loads(out)
    assert card == zoo.info("cnn")
    assert card["name"] == "cnn" and card["params"] == 225034
    assert card["license"] == "Apache-2.0"
    assert card["plugin"]["name"] == "cnn" and card["plugin"]["package"] == "keras-zoo"
    assert card["plugin"]["version"] == zoo.__version__
    assert card["architecture"]["task"] == "image-classification"
    hp = card["hparams"]
    assert hp["filters"]["default"] == [32, 64] and hp["filters"]["type"] == "list[int]"
    assert hp["kernel_size"] == {
        "type": "int",
        "default": 3,
        "min": 1,
        "max": 11,
        "help": "convolution kernel size",
        "value": 3,
    }
    assert hp["activation"]["choices"][0] == "relu"
    assert card["train"]["epochs"]["type"] == "int"
    small = json.loads(run_zoo("info", "cnn-small", "--json")[1])
    assert small["hparams"]["filters"]["value"] == [8, 16]
    assert small["hparams"]["filters"]["default"] == [32, 64]


def test_info_text_card() -> None:
    code, out, err = run_zoo("info", "cnn")
    assert code == 0, err
    for needle in ("cnn - ", "image-classification", "225.0K", "Apache-2.0", "hyper-parameters"):
        assert needle in out
    filters = next(line for line in out.splitlines() if line.strip().startswith("filters"))
    assert "32,64" in filters and "list[int] [1, 4096]" in filters
    assert "cnn (keras-zoo 0.1.0, ok)" in out


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["info", "cnx"], ["unknown model 'cnx'", "did you mean 'cnn'"]),
        (["info", "transfomer"], ["did you mean 'transformer'"]),
        (["info", "cnn:digitz"], ["model 'cnn' has no weights 'digitz'"]),
        (["--registry", "missing.toml", "list"], ["missing.toml", "does not exist"]),
    ],
)
def test_user_errors_exit_2_without_traceback(args: list[str], needles: list[str]) -> None:
    code, out, err = run_zoo(*args)
    no_traceback_error(code, err, *needles)


def test_unknown_command_suggests_one() -> None:
    code, _, err = run_zoo("lst")
    no_traceback_error(code, err, "no such command 'lst'", "did you mean 'list'")


BAD = "[models.mine]\narchitecture = 'mlp'\nparams = 'many'\n"


def test_bad_registry_via_flag(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    code, _, err = run_zoo("--registry", str(bad), "list")
    no_traceback_error(code, err, str(bad), "models.mine", "'params'", "expected an integer")


def test_bad_registry_via_env(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("not toml at all [")
    code, _, err = run_zoo("list", env={"ZOO_REGISTRY": str(bad)})
    no_traceback_error(code, err, str(bad), "not valid TOML")


def test_bad_registry_in_cwd(tmp_path: Path) -> None:
    (tmp_path / "registry.toml").write_text(BAD)
    code, _, err = run_zoo("info", "cnn", cwd=tmp_path)
    no_traceback_error(code, err, "registry.toml", "'params'")


def test_registry_flag_adds_a_model(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text("[models.wide-mlp]\narchitecture = 'mlp'\nhparams = { hidden_units = [512] }\n")
    code, out, err = run_zoo("--registry", str(mine), "info", "wide-mlp", "--json")
    assert code == 0, err
    card = json.loads(out)
    assert card["hparams"]["hidden_units"]["value"] == [512]
    assert card["plugin"]["name"] == "mlp" and card["registry"] == str(mine)


def test_plugins_lists_the_builtin_plugins() -> None:
    code, out, err = run_zoo("plugins", "--json")
    assert code == 0, err
    records = {r["name"]: r for r in json.loads(out)}
    assert set(records) == {"zoo"} | BUILTIN_PLUGINS
    core = records.pop("zoo")  # the core's own plugin: built-in tasks and export formats
    assert core["status"] == "ok" and core["tasks"] == [
        "classification",
        "regression",
        "reconstruction",
        "retrieval",
    ]
    for record in records.values():
        assert record["status"] == "ok" and record["error"] is None
        assert record["package"] == "keras-zoo" and record["loaded"] is False
    assert records["cnn"]["models"] == ["cnn", "cnn-small"]
    code, out, err = run_zoo("plugins", "--errors")
    assert code == 0 and err == ""
    code, out, err = run_zoo("plugins")
    assert out.splitlines()[0].split() == ["PLUGIN", "PACKAGE", "VERSION", "STATUS", "MODELS"]


def test_plugins_check_loads_builtin_plugins_cleanly() -> None:
    code, out, err = run_zoo("plugins", "--check", "--json", env={"ZOO_STRICT_PLUGINS": "1"})
    assert code == 0, err
    records = json.loads(out)
    assert all(r["status"] == "ok" and r["loaded"] for r in records)


def test_help_and_version() -> None:
    code, out, err = run_zoo("--help")
    assert code == 0, err
    for command in ("list", "info", "plugins"):
        assert f"  {command} " in out
    code, out, _ = run_zoo("--version")
    assert code == 0 and zoo.__version__ in out
