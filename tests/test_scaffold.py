"""`zoo new-plugin`: the skeleton is valid as written, refuses bad names and existing
folders, and — installed into a fresh venv — passes the conformance kit."""

from __future__ import annotations

import importlib
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import fakeplugins as fp
import pytest
from conftest import clean_env
from test_example_plugin import make_venv, pip_install, run, zoo_cli

import zoo.catalog
from zoo.catalog.registry import load_registry
from zoo.scaffold import ScaffoldError, create_plugin, validate_name
from zoo.testing import check_plugin

_CLI = (
    "import sys\n"
    "from zoo.cli import main as m\n"
    "m.COMMANDS.setdefault('new-plugin', 'zoo.cli.plugin_cmds:new_plugin_cmd')\n"
    "sys.argv[0] = 'zoo'\n"
    "m.main()\n"
)


def new_plugin(*args: str, cwd: Path) -> tuple[int, str, str]:
    """`zoo new-plugin ARGS` through the real main() (exit codes, error lines)."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", _CLI, "new-plugin", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(),
        timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.parametrize("name", ["MyNet", "my-net", "1net", "my net", "", "a" * 41, "zoo"])
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(ScaffoldError, match="plugin name .* is (not valid|reserved)"):
        validate_name(name)


@pytest.mark.parametrize("name", ["autoencoder", "wide_resnet2", "x"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


def test_skeleton_files_are_complete_and_valid(tmp_path: Path) -> None:
    dest = create_plugin("wide_net", tmp_path / "pkg")
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "pyproject.toml",
        "src/zoo_wide_net/__init__.py",
        "src/zoo_wide_net/data.py",
        "src/zoo_wide_net/model.py",
        "src/zoo_wide_net/registry.toml",
        "tests/test_conformance.py",
    ]
    project = tomllib.loads((dest / "pyproject.toml").read_text())
    assert project["project"]["name"] == "zoo-wide-net"
    assert "keras-zoo>=0.1" in project["project"]["dependencies"]
    assert project["project"]["entry-points"]["zoo.plugins"] == {"wide_net": "zoo_wide_net"}
    package_data = project["tool"]["setuptools"]["package-data"]
    assert package_data == {"zoo_wide_net": ["registry.toml"]}
    reg = load_registry(dest / "src" / "zoo_wide_net" / "registry.toml")
    assert list(reg.architectures) == ["wide_net"]
    assert sorted(reg.models) == ["wide_net", "wide_net-small"]
    assert reg.architectures["wide_net"].hparams["units"].max == 4096
    for path in dest.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")  # valid Python
    init = (dest / "src" / "zoo_wide_net" / "__init__.py").read_text()
    assert "import keras" not in init.split("@hookimpl")[0]  # Keras only inside hooks
    assert 'plugin_checks("wide_net")' in (dest / "tests" / "test_conformance.py").read_text()
    assert not list(tmp_path.glob(".pkg.partial-*"))  # no staging folder left behind


def test_default_output_is_zoo_dash_name_in_the_working_directory() -> None:
    dest = create_plugin("my_net")
    assert dest == Path.cwd() / "zoo-my-net"
    assert (dest / "src" / "zoo_my_net" / "registry.toml").is_file()


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep me")
    with pytest.raises(ScaffoldError, match="already exists; refusing to overwrite it"):
        create_plugin("wide_net", dest)
    assert [p.name for p in dest.iterdir()] == ["mine.txt"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScaffoldError, match="already exists"):
        create_plugin("wide_net", tmp_path / "empty")


def test_names_of_installed_plugins_and_models_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="named 'cnn' is already installed"):
        create_plugin("cnn", tmp_path / "a")
    with pytest.raises(ScaffoldError, match="named 'mlp' is already installed"):
        create_plugin("mlp", tmp_path / "b")
    assert not list(tmp_path.iterdir())


def test_missing_parent_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="is not an existing folder"):
        create_plugin("wide_net", tmp_path / "no" / "such" / "pkg")


def test_command_exit_codes_and_messages(tmp_path: Path) -> None:
    code, out, err = new_plugin("wide_net", "--output", "pkg", cwd=tmp_path)
    assert code == 0, err
    assert out.splitlines()[0] == f"created {tmp_path / 'pkg'}"
    assert "zoo check-plugin wide_net" in out
    code, out, err = new_plugin("wide_net", "--output", "pkg", cwd=tmp_path)
    assert code == 2 and "already exists; refusing to overwrite it" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, out, err = new_plugin("Wide-Net", cwd=tmp_path)
    assert code == 2 and "plugin name 'Wide-Net' is not valid" in err
    assert not (tmp_path / "zoo-Wide-Net").exists()


@pytest.fixture
def installed_skeleton(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The generated skeleton, visible as an installed distribution (code from src/)."""
    dest = create_plugin("kit_skel", tmp_path / "zoo-kit-skel")
    site = tmp_path / "site"
    fp.make_dist(site, "zoo-kit-skel", {"kit_skel": "zoo_kit_skel"}, {})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(dest / "src"))
    importlib.invalidate_caches()
    zoo.catalog.reset()
    yield dest
    for name in [m for m in sys.modules if m.startswith("zoo_kit_skel")]:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.mark.slow  # over 7 s: kept out of the quick run (pytest -m 'not slow')
def test_the_skeleton_passes_the_kit_as_generated(installed_skeleton: Path) -> None:
    report = check_plugin("kit_skel", raise_on_failure=False)
    assert report.models == ["kit_skel"]
    bad = [r.line() for r in report.results if r.status not in ("passed", "skipped")]
    assert not bad, "\n".join(bad)
    assert report.result("build").message.startswith("387 parameters")
    small = check_plugin("kit_skel-small", checks=["build"])
    assert small.result("build").message.startswith("99 parameters")


@pytest.mark.slow
def test_the_skeleton_installs_into_a_fresh_venv_and_passes(tmp_path: Path) -> None:
    python = make_venv(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    out = zoo_cli(python, "new-plugin", "wide_net", "--output", "zoo-wide-net", cwd=work).stdout
    assert "created" in out
    pip_install(python, "--no-build-isolation", work / "zoo-wide-net")

    rows = zoo_cli(python, "list", "wide_net*", cwd=work).stdout.splitlines()[1:]
    assert [r.split()[0] for r in rows] == ["wide_net", "wide_net-small"]
    assert all("(zoo-wide-net)" in r for r in rows)

    proc = zoo_cli(python, "check-plugin", "wide_net", cwd=work)
    lines = proc.stdout.splitlines()
    assert all(line.split()[0] in ("passed", "skipped") for line in lines[:-1]), proc.stdout
    assert "0 failed" not in lines[-1] and "failed" not in lines[-1]
    assert lines[-1].startswith("plugin wide_net (model wide_net): 13 checks: ")

    tests = run(
        python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not export",
        work / "zoo-wide-net" / "tests", cwd=work,
    ).stdout  # fmt: skip
    assert "9 passed" in tests.strip().splitlines()[-1], tests
