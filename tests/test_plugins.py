"""Plugin discovery, failure isolation, conflicts and hook validation, with real entry points.

Each test fabricates installed distributions (``*.dist-info`` with ``entry_points.txt``) in a
temporary folder and puts it on PYTHONPATH (subprocess) or ``sys.path`` (in-process).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import fakeplugins as fp
import pytest
from conftest import BUILTIN_MODELS, INSTALLED_MODELS, run_zoo

import zoo
import zoo.api
import zoo.catalog
from zoo.errors import PluginError


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """An empty folder to install fake distributions into."""
    path = tmp_path / "site"
    path.mkdir()
    return path


@pytest.fixture
def on_path(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``site`` on sys.path for in-process tests; fake modules are forgotten afterwards."""
    before = set(sys.modules)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    zoo.catalog.reset()
    yield site
    for name in set(sys.modules) - before:
        if name.startswith("zoo_"):
            del sys.modules[name]
    importlib.invalidate_caches()


def plugin_records() -> dict[str, dict]:
    """The Python API's plugin records by name (``plugins`` may be renamed ``list_plugins``)."""
    function = getattr(zoo.api, "list_plugins", None) or zoo.api.plugins
    return {p["name"]: p for p in function()}


def env_for(site: Path, **extra: str) -> dict[str, str]:
    return {"PYTHONPATH": str(site), **extra}


def plugins_json(site: Path, *flags: str, **extra: str) -> dict[str, dict]:
    code, out, err = run_zoo("plugins", "--json", *flags, env=env_for(site, **extra))
    assert code == 0, err
    return {r["name"]: r for r in json.loads(out)}


def assert_clean_error(code: int, err: str, *needles: str) -> None:
    """Exit code 2, one readable error line naming every needle, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, f"{needle!r} not in {err!r}"


# -- a good third-party plugin -----------------------------------------------------------------


def test_third_party_plugin_is_listed_with_its_package(site: Path) -> None:
    fp.good_plugin(site)
    code, out, err = run_zoo("list", env=env_for(site))
    assert code == 0, err
    row = next(line for line in out.splitlines() if line.startswith("good-tiny "))
    assert "good (zoo-good)" in row
    for name in BUILTIN_MODELS:
        assert any(line.startswith(name + " ") for line in out.splitlines()), name

    code, out, err = run_zoo("info", "good-tiny", "--json", env=env_for(site))
    assert code == 0, err
    card = json.loads(out)
    assert card["plugin"] == {
        "name": "good",
        "package": "zoo-good",
        "version": "0.1",
        "status": "ok",
    }
    assert card["license"] == "MIT"
    assert card["hparams"]["units"]["default"] == 4


def test_listing_does_not_import_third_party_plugin_code(site: Path, tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    fp.good_plugin(site)
    init = site / "zoo_good" / "__init__.py"
    init.write_text(f"open({str(marker)!r}, 'w').close()\n" + init.read_text())
    for args in (("list",), ("info", "good-tiny"), ("plugins",), ("--help",)):
        code, _, err = run_zoo(*args, env=env_for(site))
        assert code == 0, err
    assert not marker.exists()


def test_third_party_plugin_builds_in_process(on_path: Path) -> None:
    fp.good_plugin(on_path)
    assert [m["package"] for m in zoo.list_models("good-*")] == ["zoo-good"]
    model = zoo.create("good-tiny")
    assert model.output.shape == (None, 3)
    assert model.count_params() == zoo.info("good-tiny")["params"] == 43
    assert zoo.create("good-tiny", units=8, num_classes=5).output.shape == (None, 5)
    record = plugin_records()["good"]
    assert record["status"] == "ok" and record["loaded"] is True


def test_plugins_api_function_survives_catalog_build() -> None:
    zoo.list_models()  # imports the zoo.plugins sub-package, which replaces zoo.plugins
    function = zoo.list_plugins
    assert callable(function)
    assert {"cnn", "mlp"} <= {p["name"] for p in function()}


# -- broken plugins are isolated ---------------------------------------------------------------


def test_broken_plugins_do_not_stop_listing(site: Path) -> None:
    fp.broken_import_plugin(site)
    fp.bad_registry_plugin(site)
    code, out, err = run_zoo("list", env=env_for(site))
    assert code == 0, err
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert set(BUILTIN_MODELS) <= set(names)
    assert "badreg-model" not in names


def test_zoo_plugins_shows_a_bad_registry(site: Path) -> None:
    fp.bad_registry_plugin(site)
    records = plugins_json(site)
    bad = records["badreg"]
    assert bad["status"] == "error"
    assert "licence_typo" in bad["error"] and "registry.toml" in bad["error"]
    assert all(records[n]["status"] == "ok" for n in ("cnn", "mlp", "rnn"))
    code, out, err = run_zoo("plugins", env=env_for(site))
    assert code == 0
    assert "badreg: " in err and "licence_typo" in err
    assert "badreg" in out and "error" in out


def test_zoo_plugins_check_shows_an_import_error(site: Path) -> None:
    fp.broken_import_plugin(site)
    fp.bad_registry_plugin(site)
    records = plugins_json(site, "--check")
    broken = records["broken"]
    assert broken["status"] == "error"
    assert "zoo_missing_dependency_xyz" in broken["error"]
    assert "ModuleNotFoundError" in broken["error"]
    assert records["badreg"]["status"] == "error"
    assert records["cnn"]["status"] == "ok" and records["cnn"]["loaded"] is True


def test_using_a_broken_plugin_names_plugin_and_cause(on_path: Path) -> None:
    fp.broken_import_plugin(on_path)
    with pytest.raises(PluginError) as info:
        zoo.create("broken-model")
    message = str(info.value)
    assert "'broken'" in message and "zoo_missing_dependency_xyz" in message
    # the other plugins keep working in the same process
    assert zoo.create("mlp", compile=False).count_params() == 7114


def test_cli_use_of_a_broken_plugin_exits_2_without_traceback(site: Path) -> None:
    if importlib.util.find_spec("zoo.cli.train_cmds") is None:
        pytest.skip("`zoo train` is not in this checkout yet")
    fp.broken_import_plugin(site)
    code, _, err = run_zoo("train", "broken-model", "--epochs", "1", env=env_for(site))
    assert_clean_error(code, err, "broken", "zoo_missing_dependency_xyz")


def test_asking_for_a_model_of_a_plugin_with_bad_registry(site: Path) -> None:
    fp.bad_registry_plugin(site)
    code, _, err = run_zoo("info", "badreg", env=env_for(site))
    assert_clean_error(code, err, "badreg", "licence_typo")


def test_unknown_model_hints_at_broken_plugins(site: Path) -> None:
    fp.bad_registry_plugin(site)
    code, _, err = run_zoo("info", "badreg-model", env=env_for(site))
    assert_clean_error(code, err, "unknown model 'badreg-model'", "badreg", "zoo plugins")


def test_entry_point_naming_a_missing_module_is_reported_without_import(site: Path) -> None:
    fp.make_dist(site, "zoo-ghost", {"ghost": "zoo_ghost"}, {})
    records = plugins_json(site)
    assert records["ghost"]["status"] == "error"
    assert "zoo_ghost" in records["ghost"]["error"]
    code, out, err = run_zoo("list", env=env_for(site))
    assert code == 0 and "cnn " in out, err


def test_strict_mode_makes_plugin_problems_fatal(site: Path) -> None:
    fp.bad_registry_plugin(site)
    code, _, err = run_zoo("list", env=env_for(site, ZOO_STRICT_PLUGINS="1"))
    assert_clean_error(code, err, "badreg", "licence_typo")

    broken = site.parent / "broken-site"
    fp.broken_import_plugin(broken)
    assert run_zoo("plugins", "--check", env=env_for(broken))[0] == 0
    code, _, err = run_zoo("plugins", "--check", env=env_for(broken, ZOO_STRICT_PLUGINS="1"))
    assert_clean_error(code, err, "broken", "zoo_missing_dependency_xyz")


def test_disabled_plugin_is_never_imported(site: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker-imported"
    fp.marker_plugin(site, marker)
    env = env_for(site, ZOO_DISABLE_PLUGINS="marker", ZOO_STRICT_PLUGINS="1")
    for args in (("list",), ("plugins", "--check"), ("info", "cnn")):
        code, _, err = run_zoo(*args, env=env)
        assert code == 0, err
    assert not marker.exists()
    records = plugins_json(site, ZOO_DISABLE_PLUGINS="marker")
    assert records["marker"]["status"] == "disabled"
    assert not marker.exists()

    # not disabled: the failure is contained and reported, naming the cause
    records = plugins_json(site)
    assert records["marker"]["status"] == "error"
    assert "must not be imported" in records["marker"]["error"]


def test_disabling_a_broken_plugin_restores_strict_mode(site: Path) -> None:
    fp.broken_import_plugin(site)
    env = env_for(site, ZOO_STRICT_PLUGINS="1", ZOO_DISABLE_PLUGINS=" broken , other")
    code, out, err = run_zoo("plugins", "--check", env=env)
    assert code == 0, err
    assert "disabled" in out


def test_disabling_one_builtin_plugin_keeps_the_others(site: Path) -> None:
    env = {"ZOO_DISABLE_PLUGINS": "cnn"}
    code, out, err = run_zoo("list", env=env)
    assert code == 0, err
    names = [line.split()[0] for line in out.splitlines()[1:]]
    assert names == [n for n in INSTALLED_MODELS if not n.startswith("cnn")]
    records = plugins_json(site, **env)
    assert records["cnn"]["status"] == "disabled"
    assert records["cnn"]["models"] == ["cnn", "cnn-small"]
    assert all(records[n]["status"] == "ok" for n in ("mlp", "rnn", "transformer", "recommender"))
    code, _, err = run_zoo("info", "cnn-small", env=env)
    assert_clean_error(code, err, "plugin 'cnn'", "disabled")


def extension(site: Path, name: str, model: str) -> None:
    """Package ``zoo-<name>`` whose registry only adds a preset of the built-in cnn."""
    text = f"[models.{model}]\narchitecture = 'cnn'\nhparams = {{ dense_units = 8 }}\n"
    fp.make_dist(
        site,
        f"zoo-{name}",
        {name: f"zoo_{name}"},
        {f"zoo_{name}/__init__.py": "", f"zoo_{name}/registry.toml": text},
    )


@pytest.mark.parametrize("name", ["aaa", "zzz"])  # sorted before and after the built-ins
def test_a_package_may_add_presets_of_another_packages_architecture(site: Path, name: str) -> None:
    extension(site, name, f"{name}-cnn")
    assert all(r["status"] == "ok" for r in plugins_json(site).values())
    code, out, err = run_zoo("info", f"{name}-cnn", "--json", env=env_for(site))
    assert code == 0, err
    card = json.loads(out)
    assert card["hparams"]["dense_units"]["value"] == 8
    assert card["registry"].endswith(f"zoo_{name}/registry.toml")


def test_redeclaring_a_builtin_model_for_a_builtin_architecture_is_a_conflict(
    site: Path,
) -> None:
    extension(site, "aaa", "cnn")
    code, _, err = run_zoo("info", "cnn", env=env_for(site))
    assert_clean_error(code, err, "model 'cnn'", "keras-zoo", "zoo-aaa")


def test_single_file_plugin_does_not_claim_a_stray_registry(site: Path) -> None:
    """A top-level module has no package folder: a registry.toml beside it (here: in the
    site folder itself) belongs to nobody and must not be read as the plugin's."""
    fp.make_dist(
        site,
        "zoo-single",
        {"single": "zoo_single"},
        {
            "zoo_single.py": "# a cross-cutting plugin without models\n",
            "registry.toml": fp.registry("strayarch", {"stray-model": "not mine"}),
        },
    )
    records = plugins_json(site)
    assert records["single"]["status"] == "ok" and records["single"]["registry"] is None
    code, out, _ = run_zoo("list", "stray*", env=env_for(site))
    assert code == 0 and "stray-model" not in out


# -- conflicts ---------------------------------------------------------------------------------


def test_conflicting_model_names_name_both_packages(site: Path) -> None:
    fp.conflicting_plugins(site)
    records = plugins_json(site)
    for name in ("left", "right"):  # only the name is unusable: both plugins stay ok
        assert records[name]["status"] == "ok"
        assert "zoo-left" in records[name]["error"] and "zoo-right" in records[name]["error"]
        assert "dup-model" in records[name]["error"]
    code, _, err = run_zoo("info", "dup-model", env=env_for(site))
    assert_clean_error(code, err, "dup-model", "zoo-left", "zoo-right")
    code, out, err = run_zoo("list", env=env_for(site))
    assert code == 0, err
    assert "cnn " in out


def test_conflict_in_process(on_path: Path) -> None:
    fp.conflicting_plugins(on_path)
    with pytest.raises(PluginError, match="zoo-left.*zoo-right"):
        zoo.create("dup-model")
    assert "dup-model" not in [m["name"] for m in zoo.list_models()]


def test_third_party_model_named_like_a_builtin_is_a_conflict(site: Path) -> None:
    fp.make_dist(
        site,
        "zoo-shadow",
        {"shadow": "zoo_shadow"},
        {
            "zoo_shadow/__init__.py": fp.GOOD_HOOKS,
            "zoo_shadow/registry.toml": fp.registry("shadowarch", {"cnn": "not the real cnn"}),
        },
    )
    code, _, err = run_zoo("info", "cnn", env=env_for(site))
    assert_clean_error(code, err, "keras-zoo", "zoo-shadow")


# -- hook contract -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "source", "needles"),
    [
        ("wrongsig", fp.WRONG_SIGNATURE, ("zoo_build", "cfg")),
        ("unknownhook", fp.UNKNOWN_HOOK, ("zoo_bild",)),
        ("nobuild", fp.NO_BUILD, ("implements no zoo_build",)),
        ("unmarked", fp.UNMARKED_BUILD, ("zoo_build without the @hookimpl marker",)),
    ],
)
def test_hook_contract_violations_are_reported(
    on_path: Path, name: str, source: str, needles: tuple[str, ...]
) -> None:
    fp.hook_plugin(on_path, name, source)
    with pytest.raises(PluginError) as info:
        zoo.create(f"{name}-model")
    message = str(info.value)
    assert f"'{name}'" in message
    for needle in needles:
        assert needle in message
    record = plugin_records()[name]
    assert record["status"] == "error" and record["loaded"] is False
    # a broken plugin leaves nothing registered that could answer another model's hooks
    assert zoo.create("mlp", compile=False).output.shape == (None, 10)


def test_zoo_plugins_check_reports_a_wrong_hook_signature(site: Path) -> None:
    fp.hook_plugin(site, "wrongsig", fp.WRONG_SIGNATURE)
    records = plugins_json(site, "--check")
    assert records["wrongsig"]["status"] == "error"
    assert "cfg" in records["wrongsig"]["error"]
