"""The example plugin (examples/zoo-autoencoder) as an outside author and a user meet it.

The slow tests install keras-zoo and the plugin from their folders into a fresh virtual
environment and use them there through the `zoo` script and the plugin's own test suite.
The venv reuses this interpreter's third-party packages (TensorFlow, Keras...) through a
``.pth`` line, but not its keras-zoo: zoo itself and the plugin are the venv's own copies,
which the tests verify. The fast tests break a copy of the example in three ways and check
that the conformance kit names the broken rule.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import json
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import fakeplugins as fp
import pytest
from conftest import clean_env

import zoo.catalog
from zoo.testing import check_plugin

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "zoo-autoencoder"
ZOO_HOME = Path(tempfile.gettempdir()) / "zoo-example-plugin-tests"  # never the user's cache
PLUGIN_COMMANDS = {
    "check-plugin": "zoo.cli.plugin_cmds:check_plugin_cmd",
    "new-plugin": "zoo.cli.plugin_cmds:new_plugin_cmd",
}
# Runs the real `zoo` entry point with the author-tool commands registered if cli/main.py
# does not list them yet (a no-op once it does).
_CLI = (
    "import sys\n"
    "from zoo.cli import main as m\n"
    f"for k, v in {PLUGIN_COMMANDS!r}.items(): m.COMMANDS.setdefault(k, v)\n"
    "sys.argv[0] = 'zoo'\n"
    "m.main()\n"
)


# -- a fresh virtual environment -----------------------------------------------------------------
def run(*cmd: str | Path, cwd: Path | None = None, timeout: int = 240, ok: bool = True):
    proc = subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "ZOO_HOME": str(ZOO_HOME)}),
        timeout=timeout,
    )
    if ok:
        assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def copy_zoo_source(dest: Path) -> Path:
    """The repository's packaging inputs (building in a copy leaves no build/ behind)."""
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("zoo", "cli", "plugins"):
        shutil.copytree(REPO / name, dest / name, symlinks=True, ignore=ignore)
    for name in ("pyproject.toml", "registry.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dest / name)
    return dest


def copy_plugin_source(src: Path, dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", ".pytest_cache")
    shutil.copytree(src, dest, ignore=ignore)
    return dest


def pip_install(python: Path, *args: str | Path) -> None:
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", *args)


def make_venv(root: Path) -> Path:
    """A venv with its own keras-zoo (built from a copy of this checkout); returns its python."""
    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        ).stdout.strip()
    )
    # This interpreter's packages (TensorFlow...), after the venv's own: its editable
    # keras-zoo hook (a .pth file there) is not processed, so `import zoo` finds the venv's.
    (site / "zz_parent_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    source = copy_zoo_source(root / "keras-zoo-src")
    # keras-zoo's metadata (a PEP 639 licence string) needs setuptools>=69: build in
    # isolation unless this interpreter's setuptools can do it.
    isolation = [] if _setuptools_major() < 69 else ["--no-build-isolation"]
    pip_install(python, *isolation, source)
    return python


def _setuptools_major() -> int:
    try:
        return int(md.version("setuptools").split(".")[0])
    except (md.PackageNotFoundError, ValueError):
        return 0


def installed_location(python: Path, dist: str) -> str:
    """Where ``pip list`` inside the venv says ``dist`` is installed."""
    out = run(sys.executable, "-m", "pip", "--python", python, "list", "-v", "--format", "json")
    (entry,) = [d for d in json.loads(out.stdout) if d["name"].lower() == dist]
    assert "editable_project_location" not in entry, entry
    return entry["location"]


def zoo_cli(python: Path, *args: str, cwd: Path, ok: bool = True) -> subprocess.CompletedProcess:
    """``zoo ARGS`` inside the venv: its console script, or the same main() when the
    author-tool commands are not registered in cli/main.py yet."""
    from zoo.cli.main import COMMANDS

    if args and args[0] in PLUGIN_COMMANDS and args[0] not in COMMANDS:
        return run(python, "-c", _CLI, *args, cwd=cwd, ok=ok)
    return run(python.parent / "zoo", *args, cwd=cwd, ok=ok)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("example-venv")
    python = make_venv(root)
    plugin = copy_plugin_source(EXAMPLE, root / "zoo-autoencoder")
    pip_install(python, "--no-build-isolation", plugin)
    return python


# -- as a user -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_venv_uses_its_own_copies(venv: Path) -> None:
    prefix = str(venv.parent.parent)
    assert installed_location(venv, "keras-zoo").startswith(prefix)
    assert installed_location(venv, "zoo-autoencoder").startswith(prefix)
    code = "import zoo, zoo_autoencoder; print(zoo.__file__); print(zoo_autoencoder.__file__)"
    for line in run(venv, "-c", code).stdout.split():
        assert line.startswith(prefix), line


@pytest.mark.slow
def test_list_info_train_export_in_a_fresh_venv(venv: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    listing = zoo_cli(venv, "list", "autoencoder*", cwd=work).stdout.splitlines()
    rows = {line.split()[0]: line for line in listing[1:]}
    assert set(rows) == {"autoencoder", "autoencoder-tiny"}
    assert "reconstruction" in rows["autoencoder"] and "(zoo-autoencoder)" in rows["autoencoder"]
    assert "4.7K" in rows["autoencoder"]

    plugins = json.loads(zoo_cli(venv, "plugins", "--json", cwd=work).stdout)
    (record,) = [p for p in plugins if p["name"] == "autoencoder"]
    assert record["status"] == "ok" and record["package"] == "zoo-autoencoder"
    assert record["registry"].startswith(str(venv.parent.parent))
    assert record["loaded"] is False  # listing never imports the plugin

    info = zoo_cli(venv, "info", "autoencoder", cwd=work).stdout
    assert "task          reconstruction" in info
    assert "plugin        autoencoder (zoo-autoencoder 0.1.0, ok)" in info
    assert "latent_dim" in info and "hidden_units" in info

    out = zoo_cli(
        venv, "train", "autoencoder-tiny", "--epochs", "1", "--set", "max_examples=64",
        "--output", "run", "--quiet", cwd=work,
    ).stdout  # fmt: skip
    assert "run folder" in out and "mae=" in out
    metrics = json.loads((work / "run" / "metrics.json").read_text())
    assert metrics["task"] == "reconstruction" and metrics["main_metric"] == "mae"
    assert (
        metrics["split"]["train"] + metrics["split"]["validation"] + metrics["split"]["test"] == 64
    )

    exported = zoo_cli(venv, "export", "run", "--format", "keras", "-o", "ae.keras", cwd=work)
    assert (work / "ae.keras").is_file()
    assert "ae.keras" in exported.stdout

    rows = zoo_cli(venv, "list", "--pretrained", cwd=work).stdout.splitlines()[1:]
    assert [r.split()[:1] + r.split()[4:5] for r in rows if "autoencoder" in r] == [
        ["autoencoder", "digits"]
    ]
    code = (
        "import numpy as np, zoo\n"
        "pretrained = zoo.load('autoencoder', weights='digits')\n"
        "trained = zoo.load('run')\n"
        "x = np.random.default_rng(0).random((3, 64)).astype('float32')\n"
        "print(tuple(pretrained(x).shape), tuple(trained(x).shape))\n"
    )
    loaded = run(venv, "-c", code, cwd=work).stdout.strip().splitlines()[-1]
    assert loaded == "(3, 64) (3, 64)"

    bad = zoo_cli(venv, "train", "autoencoder", "--set", "latent_dim=0", cwd=work, ok=False)
    assert bad.returncode == 2 and "latent_dim=0 is out of range" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.slow
def test_the_plugins_own_test_suite_passes_in_the_venv(venv: Path, tmp_path: Path) -> None:
    tests = copy_plugin_source(EXAMPLE / "tests", tmp_path / "tests")
    proc = run(venv, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests, cwd=tmp_path)
    last = proc.stdout.strip().splitlines()[-1]
    assert "failed" not in last and "error" not in last, proc.stdout
    assert int(last.split(" passed")[0].split()[-1]) >= 19, proc.stdout  # onnx may skip


@pytest.mark.slow
def test_check_plugin_command_in_the_venv(venv: Path, tmp_path: Path) -> None:
    checks = ["--check", "registry", "--check", "no_tensorflow_on_import", "--check", "hooks"]
    proc = zoo_cli(venv, "check-plugin", "autoencoder", *checks, cwd=tmp_path)
    lines = proc.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:3]] == [
        ["passed", "registry:"],
        ["passed", "no_tensorflow_on_import:"],
        ["passed", "hooks:"],
    ]
    assert lines[-1] == "plugin autoencoder (model autoencoder): 3 checks: 3 passed"


# -- deliberately broken copies ------------------------------------------------------------------
def _drop_build_hook(text: str) -> str:
    start = text.index("@hookimpl\ndef zoo_build")
    end = text.index("@hookimpl\ndef zoo_dataset")
    return text[:start] + text[end:]


BREAKAGES = {
    "wrong_signature": (
        lambda text: text.replace("def zoo_build(config: Config)", "def zoo_build(cfg: Config)"),
        "hooks",
        [
            "Argument(s) {'cfg'} are declared in the hookimpl but can not be found in the hookspec",
            "the hookspec is zoo_build(config)",
        ],
    ),
    "missing_build_hook": (
        _drop_build_hook,
        "hooks",
        ["declares architecture(s) autoencoder but implements no zoo_build hook"],
    ),
    "tensorflow_at_top_level": (
        lambda text: text.replace(
            "from zoo.plugin import", "import tensorflow  # noqa: F401\nfrom zoo.plugin import", 1
        ),
        "no_tensorflow_on_import",
        ["importing zoo_autoencoder imports tensorflow", "zoo_autoencoder/__init__.py:"],
    ),
}


@pytest.fixture
def broken_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    fp.make_dist(site, "zoo-autoencoder", {"autoencoder": "zoo_autoencoder"}, {})
    shutil.copytree(
        EXAMPLE / "src" / "zoo_autoencoder",
        site / "zoo_autoencoder",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    zoo.catalog.reset()
    yield site
    for name in [m for m in sys.modules if m.startswith("zoo_autoencoder")]:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_copy_fails_the_named_check(broken_site: Path, breakage: str) -> None:
    edit, failing, needles = BREAKAGES[breakage]
    init = broken_site / "zoo_autoencoder" / "__init__.py"
    original = init.read_text()
    init.write_text(edit(original))
    assert init.read_text() != original
    checks = ["registry", "no_tensorflow_on_import", "hooks", "build"]
    report = check_plugin("autoencoder", checks=checks, raise_on_failure=False)
    statuses = {r.name: r.status for r in report.results}
    assert statuses["registry"] == "passed"  # found and read without importing the code
    assert statuses[failing] == "failed", str(report)
    message = report.result(failing).message
    assert "\n" not in message and "Traceback" not in message
    for needle in needles:
        assert needle in message, message
    if failing == "hooks":
        assert statuses["no_tensorflow_on_import"] == "passed"
        assert statuses["build"] == "failed"  # it cannot build without a valid hook
    else:
        assert statuses["hooks"] == statuses["build"] == "passed"
    assert not report.ok
