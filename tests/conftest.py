"""Shared fixtures: a clean zoo environment per test and a runner for the `zoo` script."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from zoo.plugins.applications.networks import NETWORKS


def outside_settings(name: str) -> bool:
    """Variables a test must not inherit from the shell: every ZOO_* setting (whatever new
    ones the code grows) and TF_CONFIG (it would make a run multi-worker)."""
    return name.startswith("ZOO_") or name == "TF_CONFIG"


BUILTIN_MODELS = (
    "cnn",
    "cnn-small",
    "mlp",
    "mlp-deep",
    "recommender",
    "rnn",
    "rnn-gru",
    "transformer",
    "transformer-tiny",
)
# The applications plugin's 40 keras.applications networks (too big for the per-model tests
# that build the models above; tests/test_applications.py covers them).
APPLICATION_MODELS = tuple(sorted(NETWORKS))
INSTALLED_MODELS = tuple(sorted(BUILTIN_MODELS + APPLICATION_MODELS))
BUILTIN_PLUGINS = {"cnn", "mlp", "rnn", "transformer", "recommender", "applications"}


def zoo_script() -> str:
    """The installed `zoo` console script of the interpreter running the tests."""
    candidate = Path(sys.executable).with_name("zoo")
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("zoo")
    if found is None:  # a packaging break, not a reason to skip
        pytest.fail("the `zoo` console script is not installed")
    return found


def clean_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """os.environ without ZOO_* settings and TF_CONFIG (but with the test's own ZOO_HOME),
    plus ``env``."""
    out = {k: v for k, v in os.environ.items() if not outside_settings(k) or k == "ZOO_HOME"}
    out.pop("PYTHONPATH", None)
    out["TF_CPP_MIN_LOG_LEVEL"] = "2"
    out.update(env or {})
    return out


def run_zoo(
    *args: str, env: Mapping[str, str] | None = None, cwd: str | Path | None = None
) -> tuple[int, str, str]:
    """Run the installed `zoo` script; return (returncode, stdout, stderr)."""
    proc = subprocess.run(
        [zoo_script(), *args],
        env=clean_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stdout, proc.stderr


def run_python(
    code: str, env: Mapping[str, str] | None = None, cwd: str | Path | None = None
) -> tuple[int, str, str]:
    """Run ``python -c code`` with the test interpreter; return (returncode, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=clean_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(autouse=True)
def clean_zoo(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Every test starts with no ZOO_* variables and no TF_CONFIG, an empty ZOO_HOME, an
    empty cwd (so no ./registry.toml layer) and a fresh catalog. The folders are not inside
    ``tmp_path``."""
    import zoo.catalog

    for name in [name for name in os.environ if outside_settings(name)]:
        monkeypatch.delenv(name)
    # Test HTTP servers listen on 127.0.0.1: never route them through a proxy.
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("ZOO_HOME", str(tmp_path_factory.mktemp("zoo-home")))
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    zoo.catalog.reset()
    yield
    zoo.catalog.reset()
