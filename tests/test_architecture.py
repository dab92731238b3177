"""The architecture as a check: import-linter's contracts in pyproject.toml hold on the layout
users install, and breaking one fails.

The contracts are linted against the built wheel, unpacked: the editable install maps cli/
and plugins/ onto zoo.cli and zoo.plugins with package-dir, which the import graph (grimp)
does not follow, so linting the checkout would silently skip both.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import clean_env
from test_wheel import source_copy

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "pyproject.toml"


def tool(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    found = str(candidate) if candidate.is_file() else shutil.which(name)
    if found is None:  # a missing test dependency is a failure, not a skip
        pytest.fail(f"`{name}` is not installed: pip install -e '.[test]'")
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of this checkout, unpacked as pip would install it."""
    src = source_copy(tmp_path_factory.mktemp("build") / "src")
    wheelhouse = tmp_path_factory.mktemp("wheelhouse")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(wheelhouse), str(src)],
        capture_output=True,
        text=True,
        env=clean_env({"PIP_DISABLE_PIP_VERSION_CHECK": "1"}),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = wheelhouse.glob("keras_zoo-*.whl")
    site = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site


def lint(site: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the repository's contracts, importing zoo from ``site`` (the
    working directory too, which import-linter puts first on sys.path)."""
    args = [arg for contract in contracts for arg in ("--contract", contract)]
    return subprocess.run(
        [tool("lint-imports"), "--no-cache", "--no-logo", *args, str(CONFIG)],
        capture_output=True,
        text=True,
        cwd=site,
        env=clean_env({"PYTHONPATH": str(site)}),
        timeout=300,
    )


def contract_ids() -> list[str]:
    import tomllib

    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["tool"]["importlinter"]
    return [contract["id"] for contract in config["contracts"]]


def test_the_contracts_are_kept(site: Path) -> None:
    proc = lint(site)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"Contracts: {len(contract_ids())} kept, 0 broken." in proc.stdout, proc.stdout


def test_the_graph_holds_zoo_cli_and_zoo_plugins(site: Path) -> None:
    code = (
        "import json, grimp, zoo\n"
        "graph = grimp.build_graph('zoo', exclude_type_checking_imports=True)\n"
        "print(json.dumps({'file': zoo.__file__, 'modules': sorted(graph.modules)}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=site,
        env=clean_env({"PYTHONPATH": str(site)}),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert Path(found["file"]).is_relative_to(site), found["file"]  # the wheel, not the checkout
    modules = set(found["modules"])
    expected = {"zoo.cli", "zoo.plugins", "zoo.cli.main", "zoo.plugins.cnn.model"}
    for folder, package in (("cli", "zoo.cli"), ("plugins", "zoo.plugins")):
        for path in (REPO / folder).rglob("*.py"):
            parts = path.relative_to(REPO / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            expected.add(".".join((package, *parts)))
    assert expected <= modules, sorted(expected - modules)


# Each breaks one contract (kept by the unbroken package, see above) in a copy of the
# installed package: (file, text appended, contract, what the report must say).
BREAKAGES = {
    "upward import": (
        "zoo/catalog/layers.py",
        "import zoo.cli  # deliberate upward import\n",
        "layers",
        "zoo.catalog.layers -> zoo.cli",
    ),
    "upward import inside a function": (
        "zoo/errors.py",
        "\n\ndef _deliberate():\n    from zoo.training import runner  # noqa: F401\n",
        "layers",
        "zoo.errors -> zoo.training.runner",
    ),
    "cycle inside a package": (
        "zoo/catalog/hparams.py",
        "\n\ndef _deliberate():\n    from zoo.catalog import layers  # noqa: F401\n",
        "acyclic",
        "No cycles are allowed in zoo.catalog",
    ),
    "plugin reaching past zoo.plugin": (
        "zoo/plugins/cnn/data.py",
        "\nfrom zoo.data import readers  # noqa: E402,F401\n",
        "plugins-use-the-public-api",
        "zoo.plugins.cnn.data -> zoo.data.readers",
    ),
    "plugin importing another plugin": (
        "zoo/plugins/mlp/model.py",
        "\nimport zoo.plugins.cnn.model  # noqa: E402,F401\n",
        "independent-plugins",
        "zoo.plugins.mlp.model -> zoo.plugins.cnn.model",
    ),
    "TensorFlow on the listing path": (
        "zoo/catalog/registry.py",
        "\n\ndef _deliberate():\n    import tensorflow  # noqa: F401\n",
        "catalog-without-tensorflow",
        "zoo.catalog.registry -> tensorflow",
    ),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_broken_contract_fails(site: Path, tmp_path: Path, breakage: str) -> None:
    file, text, contract, needle = BREAKAGES[breakage]
    assert contract in contract_ids()
    broken = tmp_path / "site"
    shutil.copytree(site, broken, ignore=shutil.ignore_patterns("*.h5", "__pycache__"))
    with (broken / file).open("a", encoding="utf-8") as handle:
        handle.write(text)
    proc = lint(broken, contract)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "BROKEN" in proc.stdout and needle in proc.stdout, proc.stdout
