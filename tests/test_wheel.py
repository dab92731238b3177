"""The built wheel: contents, and `zoo list` in a fresh virtual environment.

Building needs setuptools from PyPI (pip's isolated build) and the fresh venv gets the light
runtime dependencies from PyPI or pip's cache; TensorFlow is not installed there, which also
proves that listing never needs it.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import BUILTIN_PLUGINS, INSTALLED_MODELS, clean_env

REPO = Path(__file__).resolve().parents[1]
LIGHT_DEPS = ("pluggy", "click", "platformdirs", "filelock", "tomli-w")

pytestmark = pytest.mark.slow


def run(*cmd: str | Path, cwd: Path | None = None, timeout: int = 120) -> str:
    proc = subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env({"PIP_DISABLE_PIP_VERSION_CHECK": "1"}),
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def source_copy(dest: Path) -> Path:
    """The repository's packaging inputs, copied so the build leaves no build/ folder behind
    and cannot pick up stale files from one."""
    dest.mkdir()
    for name in ("zoo", "cli", "plugins"):
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(REPO / name, dest / name, symlinks=True, ignore=ignore)
    for name in ("pyproject.toml", "registry.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    src = source_copy(tmp_path_factory.mktemp("build") / "src")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, src)
    (path,) = out.glob("keras_zoo-*.whl")
    return path


def test_wheel_contents(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        registry = zf.read("zoo/plugins/registry.toml").decode()
        top_level = next(n for n in names if n.endswith(".dist-info/top_level.txt"))
        entry_points = zf.read(top_level.replace("top_level.txt", "entry_points.txt")).decode()
        assert zf.read(top_level).decode().split() == ["zoo"]
    assert registry == (REPO / "registry.toml").read_text()
    roots = {name.split("/")[0] for name in names}
    assert "cli" not in roots and "plugins" not in roots and "tests" not in roots
    assert {"zoo/cli/main.py", "zoo/plugins/cnn/__init__.py", "zoo/plugins/cnn/model.py"} <= set(
        names
    )
    assert "zoo = zoo.cli.main:main" in entry_points
    assert "zoo/plugins/applications/registry.toml" in names  # its own registry
    for plugin in sorted(BUILTIN_PLUGINS):
        assert f"{plugin} = zoo.plugins.{plugin}" in entry_points


def test_zoo_list_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    pins = [f"{name}=={md.version(name)}" for name in LIGHT_DEPS]
    pip = (sys.executable, "-m", "pip", "--python", python, "install", "-q")
    run(*pip, "--no-deps", wheel)
    run(*pip, *pins, timeout=180)

    work = tmp_path / "elsewhere"  # not the repository: no ./registry.toml, no source tree
    work.mkdir()
    out = run(venv / "bin" / "zoo", "list", cwd=work)
    assert [line.split()[0] for line in out.splitlines()[1:]] == list(INSTALLED_MODELS)

    plugins = json.loads(run(venv / "bin" / "zoo", "plugins", "--json", cwd=work))
    assert {p["name"] for p in plugins} == {
        "zoo"
    } | BUILTIN_PLUGINS  # "zoo": the core plugin (built-in tasks, formats)
    assert all(p["status"] == "ok" and p["package"] == "keras-zoo" for p in plugins)
    assert all(str(venv) in p["registry"] for p in plugins)  # the installed copy, not the repo

    card = json.loads(run(venv / "bin" / "zoo", "info", "cnn", "--json", cwd=work))
    assert card["params"] == 225034 and card["plugin"]["version"] == "0.1.0"
