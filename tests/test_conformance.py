"""The conformance kit (zoo.testing): the built-in plugins and the example plugin pass it,
and each check fails — with a one-line reason — on a plugin that breaks its contract.

Fake plugins are real distributions (``*.dist-info`` with entry points) in a temporary
folder on ``sys.path``; the example plugin is made visible the same way, from its source.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import fakeplugins as fp
import pytest
from click.testing import CliRunner

import zoo.catalog
import zoo.testing
from zoo.catalog.hparams import HParam
from zoo.errors import UnknownModelError, ZooError
from zoo.testing import ConformanceError, check_plugin, plugin_checks
from zoo.testing.checks import alternative_value

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_SRC = REPO / "examples" / "zoo-autoencoder" / "src"
FAST = [
    "registry",
    "hparam_defaults",
    "no_tensorflow_on_import",
    "hooks",
    "build",
    "hparam_values",
    "dataset",
    "train_steps",
    "save_load",
    "export_keras",
]
BUILTINS = [
    ("cnn", "cnn-small"),
    ("rnn", "rnn-gru"),
    ("mlp", "mlp"),
    ("transformer", "transformer-tiny"),
    ("recommender", "recommender"),
]


def assert_passed(report: zoo.testing.Report, expected: list[str]) -> None:
    assert [r.name for r in report.results] == expected
    bad = [r.line() for r in report.results if r.status != "passed"]
    assert not bad, "\n".join(bad)


# -- the built-in plugins ------------------------------------------------------------------------
# The mlp is the fast suite's; the other four build, train and save bigger models.
@pytest.mark.parametrize(
    ("plugin", "model"),
    [pytest.param(p, m, id=p, marks=[] if p == "mlp" else pytest.mark.slow) for p, m in BUILTINS],
)
def test_builtin_plugin_passes_the_kit(plugin: str, model: str) -> None:
    report = check_plugin(plugin, model=model, checks=FAST)
    assert_passed(report, FAST)
    assert report.models == [model]
    assert "loss" in report.result("train_steps").message


@pytest.mark.slow
@pytest.mark.parametrize(("plugin", "model"), BUILTINS, ids=[p for p, _ in BUILTINS])
def test_builtin_plugin_exports_every_declared_format(plugin: str, model: str) -> None:
    report = check_plugin(plugin, model=model, checks=["export_*"])
    names = ["export_keras", "export_savedmodel", "export_onnx", "export_litert"]
    assert [r.name for r in report.results] == names
    assert all(r.status in ("passed", "skipped") for r in report.results), str(report)
    assert report.result("export_savedmodel").status == "passed"


# -- the example plugin --------------------------------------------------------------------------
def make_visible(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    """An installed-looking distribution: dist-info with entry points, code elsewhere."""
    fp.make_dist(site, dist, entry_points, {})


@pytest.fixture(scope="module")
def example_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zoo.testing.Report]:
    """The whole kit run once on the example plugin, from its source folder."""
    site = tmp_path_factory.mktemp("site")
    make_visible(site, "zoo-autoencoder", {"autoencoder": "zoo_autoencoder"})
    with pytest.MonkeyPatch.context() as mp:
        for name in ("ZOO_REGISTRY", "ZOO_DISABLE_PLUGINS", "ZOO_STRICT_PLUGINS"):
            mp.delenv(name, raising=False)
        mp.chdir(site)
        mp.syspath_prepend(str(site))
        mp.syspath_prepend(str(EXAMPLE_SRC))
        importlib.invalidate_caches()
        zoo.catalog.reset()
        try:
            yield check_plugin("autoencoder", raise_on_failure=False)
        finally:
            zoo.catalog.reset()
            sys.modules.pop("zoo_autoencoder", None)
            sys.modules.pop("zoo_autoencoder.model", None)
            sys.modules.pop("zoo_autoencoder.data", None)


EXAMPLE_CHECKS = [
    "registry",
    "hparam_defaults",
    "no_tensorflow_on_import",
    "hooks",
    "build",
    "hparam_values",
    "dataset",
    "train_steps",
    "save_load",
    "export_keras",
    "export_savedmodel",
    "export_onnx",
    "export_litert",
]


@pytest.mark.slow  # over 7 s: kept out of the quick run (pytest -m 'not slow')
def test_example_plugin_runs_every_check(example_report: zoo.testing.Report) -> None:
    assert example_report.plugin == "autoencoder"
    assert example_report.models == ["autoencoder"]
    assert [r.name for r in example_report.results] == EXAMPLE_CHECKS


@pytest.mark.parametrize("check", EXAMPLE_CHECKS)
def test_example_plugin_passes(example_report: zoo.testing.Report, check: str) -> None:
    result = example_report.result(check)
    if check == "export_onnx" and result.status == "skipped":
        pytest.skip(result.message)  # the [onnx] extra is not installed
    assert result.status == "passed", result.line()


# -- fake plugins that break one rule each -------------------------------------------------------
@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "site"
    path.mkdir()
    before = set(sys.modules)
    monkeypatch.syspath_prepend(str(path))
    importlib.invalidate_caches()
    zoo.catalog.reset()
    yield path
    for name in set(sys.modules) - before:
        if name.startswith("zoo_kit"):
            del sys.modules[name]
    importlib.invalidate_caches()


def kit_plugin(site: Path, name: str, hooks: str, registry: str | None = None) -> str:
    """Plugin ``name`` (package zoo_kit_<name>, architecture ``tinydense``, model
    ``<name>-model``); returns the plugin name."""
    package = f"zoo_kit_{name}"
    text = registry or fp.registry("tinydense", {f"{name}-model": "kit test model"})
    fp.make_dist(
        site,
        f"zoo-kit-{name}",
        {name: package},
        {f"{package}/__init__.py": hooks, f"{package}/registry.toml": text},
    )
    return name


GOOD = textwrap.dedent(fp.GOOD_HOOKS)
FROZEN_HOOKS = GOOD.replace('name="hidden")', 'name="hidden", trainable=False)').replace(
    'name="out")', 'name="out", trainable=False)'
)


def test_a_model_that_cannot_learn_fails_train_steps(site: Path) -> None:
    kit_plugin(site, "frozen", FROZEN_HOOKS)
    report = check_plugin("frozen", checks=["build", "train_steps"], raise_on_failure=False)
    assert report.result("build").status == "passed"
    result = report.result("train_steps")
    assert result.status == "failed"
    assert result.message.startswith("loss did not go down:")
    assert "\n" not in result.message


def test_expected_failure_is_reported_xfail_and_a_pass_is_a_failure(site: Path) -> None:
    expected = {"train_steps": "frozen on purpose", "save_load": "x"}
    hooks = FROZEN_HOOKS + f"\nZOO_EXPECTED_FAILURES = {expected!r}\n"
    kit_plugin(site, "xfails", hooks)
    report = check_plugin(
        "xfails", checks=["hooks", "train_steps", "save_load"], raise_on_failure=False
    )
    assert report.result("hooks").status == "passed"
    train = report.result("train_steps")
    assert train.status == "xfail"
    assert train.message.startswith("frozen on purpose (failed as expected: loss did not go down")
    save = report.result("save_load")
    assert save.status == "failed"
    assert "passes but is listed in ZOO_EXPECTED_FAILURES" in save.message


def test_expected_failures_naming_an_unknown_check_fail_hooks(site: Path) -> None:
    hooks = GOOD + '\nZOO_EXPECTED_FAILURES = {"export_tflite": "typo"}\n'
    kit_plugin(site, "typo", hooks)
    result = check_plugin("typo", checks=["hooks"], raise_on_failure=False).result("hooks")
    assert result.status == "failed"
    assert "names unknown check 'export_tflite'" in result.message


def test_reading_an_undeclared_hparam_fails_build(site: Path) -> None:
    hooks = GOOD.replace("config.units", "config.hidden_size")
    kit_plugin(site, "undeclared", hooks)
    report = check_plugin("undeclared", checks=["build"], raise_on_failure=False)
    message = report.result("build").message
    assert report.result("build").status == "failed"
    assert "zoo_build reads an undeclared hyper-parameter" in message
    assert "'hidden_size'" in message and "[architectures.tinydense.hparams]" in message


def test_a_wrong_params_count_in_the_registry_fails_build(site: Path) -> None:
    text = fp.registry("tinydense", {"params-model": "x"}).replace(
        'license = "MIT"', 'license = "MIT"\nparams = 44'
    )
    kit_plugin(site, "params", GOOD, registry=text)
    result = check_plugin("params", checks=["build"], raise_on_failure=False).result("build")
    assert result.status == "failed"
    assert "says params = 44 but zoo_build makes 43 parameters" in result.message


def test_an_in_range_value_that_does_not_build_fails_hparam_values(site: Path) -> None:
    hooks = GOOD.replace(
        "inputs = keras.Input(",
        "if config.units != 4:\n        raise ValueError('units must be 4')\n"
        "    inputs = keras.Input(",
    )
    kit_plugin(site, "narrow", hooks)
    result = check_plugin("narrow", checks=["hparam_values"], raise_on_failure=False).result(
        "hparam_values"
    )
    assert result.status == "failed"
    assert "units=3 (zoo_build raised ValueError: units must be 4)" in result.message


def test_a_dataset_that_does_not_fit_the_model_fails_dataset(site: Path) -> None:
    hooks = GOOD.replace("size=(64, config.input_dim)", "size=(64, config.input_dim + 1)")
    kit_plugin(site, "misfit", hooks)
    result = check_plugin("misfit", checks=["dataset"], raise_on_failure=False).result("dataset")
    assert result.status == "failed"
    assert "has shape (64, 7) but model 'misfit-model' expects (n, 6)" in result.message


@pytest.mark.slow  # over 7 s: kept out of the quick run (pytest -m 'not slow')
def test_unsupported_formats_are_xfail_without_running(site: Path) -> None:
    text = fp.registry("tinydense", {"noexp-model": "x"}).replace(
        'default_dataset = "generated"\n',
        'default_dataset = "generated"\nexport_formats = ["keras"]\n'
        'unsupported_formats = { litert = "custom op without a LiteRT kernel" }\n',
    )
    kit_plugin(site, "noexp", GOOD, registry=text)
    report = check_plugin("noexp", checks=["export_*"], raise_on_failure=False)
    assert [r.name for r in report.results] == ["export_keras", "export_litert"]
    assert report.result("export_keras").status == "passed"
    litert = report.result("export_litert")
    assert litert.status == "xfail" and litert.seconds == 0.0
    assert "custom op without a LiteRT kernel" in litert.message


def test_a_broken_registry_fails_registry_and_names_the_key(site: Path) -> None:
    fp.bad_registry_plugin(site)
    report = check_plugin("badreg", checks=["registry", "models"], raise_on_failure=False)
    assert report.result("registry").status == "failed"
    assert "unknown key 'licence_typo'" in report.result("registry").message
    assert report.result("models").status == "failed"


@pytest.mark.slow  # over 7 s: kept out of the quick run (pytest -m 'not slow')
def test_a_plugin_with_two_architectures_checks_one_preset_of_each(site: Path) -> None:
    first = fp.registry("tinya", {"multi-a": "a", "multi-a-big": "a, bigger"})
    second = fp.registry("tinyb", {"multi-b": "b"}).replace("schema_version = 1\n", "")
    kit_plugin(site, "multi", GOOD, registry=first + "\n" + second)
    report = check_plugin("multi", checks=["*/build", "*/export_keras"])
    assert report.models == ["multi-a", "multi-b"]
    names = [r.name for r in report.results]
    assert names == [
        "multi-a/build",
        "multi-a/export_keras",
        "multi-b/build",
        "multi-b/export_keras",
    ]
    assert all(r.status == "passed" for r in report.results)


def test_check_plugin_raises_naming_the_first_failed_check(site: Path) -> None:
    kit_plugin(site, "raises", GOOD.replace("config.units", "config.width"))
    with pytest.raises(ConformanceError, match=r"plugin 'raises' fails check 'build': "):
        check_plugin("raises", checks=["hooks", "build"])


def test_pytest_helper_gives_one_param_per_check_and_one_line_failures(site: Path) -> None:
    kit_plugin(site, "pyt", GOOD.replace("config.units", "config.width"))
    params = plugin_checks("pyt", checks=["hooks", "build"])
    assert [p.id for p in params] == ["hooks", "build"]
    hooks, build = (p.values[0] for p in params)
    hooks()  # passes: returns None
    with pytest.raises(pytest.fail.Exception) as info:
        build()
    assert info.value.pytrace is False
    assert str(info.value.msg).startswith("check 'build' failed: zoo_build reads an undeclared")


def test_unknown_names_are_refused_with_a_hint() -> None:
    with pytest.raises(UnknownModelError, match=r"no plugin or model named 'cnnn'.*'cnn'"):
        check_plugin("cnnn")
    with pytest.raises(ZooError, match=r"has no check 'biuld'.*did you mean 'build'"):
        check_plugin("mlp", checks=["biuld"])
    with pytest.raises(ZooError, match=r"model 'cnn' belongs to plugin 'cnn', not 'mlp'"):
        check_plugin("mlp", model="cnn")


def test_a_model_name_checks_that_model_of_its_plugin() -> None:
    report = check_plugin("cnn-small", checks=["registry", "build"])
    assert report.plugin == "cnn" and report.models == ["cnn-small"]
    assert "14,410 parameters" in report.result("build").message


# -- helpers -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "current", "expected"),
    [
        (HParam("units", "int", 64, min=1, max=4096), 64, 63),
        (HParam("layers", "int", 1, min=1, max=4), 1, 2),
        (HParam("classes", "int", 2, min=2, max=9), 2, 3),
        (HParam("dropout", "float", 0.0, min=0.0, max=0.9), 0.0, 0.1),
        (HParam("lr", "float", 0.5, min=0.4, max=0.6), 0.5, None),  # 0.25, 0.75 out of range
        (HParam("flag", "bool", False), False, True),
        (HParam("act", "str", "relu", choices=("relu", "gelu")), "relu", "gelu"),
        (HParam("name", "str", "x"), "x", None),
        (HParam("filters", "list[int]", [8, 16], min=8, max=64), [8, 16], [9, 15]),
    ],
)
def test_alternative_value_is_valid_and_different(spec: HParam, current, expected) -> None:
    value = alternative_value(spec, current)
    assert value == expected
    if value is not None:
        assert spec.validate(value) == value


# -- the command ---------------------------------------------------------------------------------
def test_check_plugin_command_prints_each_check_and_exits_1_on_failure(site: Path) -> None:
    from zoo.cli.plugin_cmds import check_plugin_cmd

    kit_plugin(site, "clif", GOOD.replace("config.units", "config.width"))
    result = CliRunner().invoke(check_plugin_cmd, ["clif", "--check", "hooks", "--check", "build"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("passed   hooks: implements zoo_build, zoo_dataset")
    assert lines[1].startswith("failed   build: zoo_build reads an undeclared hyper-parameter")
    assert lines[2] == "plugin clif (model clif-model): 2 checks: 1 passed, 1 failed"


def test_check_plugin_command_exits_0_and_takes_set_overrides() -> None:
    from zoo.cli.plugin_cmds import check_plugin_cmd

    args = ["mlp", "--set", "hidden_units=8", "--check", "build", "--json"]
    result = CliRunner().invoke(check_plugin_cmd, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True and report["models"] == ["mlp"]
    assert report["results"][0]["message"].startswith("898 parameters")
