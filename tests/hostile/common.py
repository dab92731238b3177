"""Helpers of the hostile suite: hostile fake plugins and the one-line error check."""

from __future__ import annotations

import contextlib
import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fakeplugins as fp
from conftest import run_zoo

TINY = ("--epochs", "1", "--set", "max_examples=200", "--quiet")


def hostile_plugin(
    site: Path,
    name: str,
    source: str,
    *,
    hooks: tuple[str, ...] = (),
    commands: tuple[str, ...] = (),
    model: bool = True,
) -> Path:
    """Plugin ``name`` (package ``zoo_<name>``, model ``<name>-model`` unless not ``model``)
    whose module is ``source``; ``hooks``/``commands`` are declared under
    ``[plugins.<name>]``."""
    package = f"zoo_{name}"
    registry = "schema_version = 1\n"
    if model:
        registry = fp.registry(f"{name}arch", {f"{name}-model": "hostile"})
    if hooks or commands:
        registry += f"\n[plugins.{name}]\n"
        if hooks:
            registry += "hooks = [" + ", ".join(f'"{h}"' for h in hooks) + "]\n"
        if commands:
            registry += "commands = [" + ", ".join(f'"{c}"' for c in commands) + "]\n"
    return fp.make_dist(
        site,
        f"zoo-{name}",
        {name: package},
        {f"{package}/__init__.py": source, f"{package}/registry.toml": registry},
    )


def marker_line(marker: Path) -> str:
    """Source lines that record an import of the module in ``marker``."""
    return f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n"


def good_hooks_with(before_build: str = "", before_dataset: str = "") -> str:
    """fakeplugins.GOOD_HOOKS with statements inserted at the top of zoo_build and
    zoo_dataset."""
    source = textwrap.dedent(fp.GOOD_HOOKS)
    if before_build:
        source = source.replace(
            "def zoo_build(config):\n",
            "def zoo_build(config):\n" + textwrap.indent(before_build.strip() + "\n", "    "),
        )
    if before_dataset:
        source = source.replace(
            "def zoo_dataset(config, path, state):\n",
            "def zoo_dataset(config, path, state):\n"
            + textwrap.indent(before_dataset.strip() + "\n", "    "),
        )
    return source


def assert_one_line_error(code: int, err: str, *needles: str, exit_code: int = 2) -> str:
    """Exit ``exit_code``, a single ``error:`` line on stderr naming every needle, and no
    traceback; returns that line."""
    assert code == exit_code, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, err
    for needle in needles:
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"
    return errors[0]


def zoo(site: Path | None, *args: str, cwd: Path | None = None, **env: str):
    """``run_zoo`` with ``site`` on PYTHONPATH."""
    extra = dict(env)
    if site is not None:
        extra["PYTHONPATH"] = str(site)
    return run_zoo(*args, env=extra, cwd=cwd)


def run_cli(capsys: Any, *args: str) -> tuple[int, str, str]:
    """``zoo ARGS`` in this process (TensorFlow stays imported between tests): the console
    script's ``main()``, so the same error handling; returns (exit code, stdout, stderr)."""
    from zoo.cli.main import main

    importlib.invalidate_caches()  # plugins written since the last call are found
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


@contextlib.contextmanager
def plugins_on_path(site: Path, monkeypatch: Any) -> Iterator[None]:
    """``site``'s fake distributions installed for in-process use; forgotten afterwards."""
    import zoo.catalog

    before = set(sys.modules)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("ZOO_DEBUG", "0")  # restored (removed) afterwards, even after --debug
    importlib.invalidate_caches()
    zoo.catalog.reset()
    try:
        yield
    finally:
        for name in set(sys.modules) - before:
            if name.startswith("zoo_"):
                del sys.modules[name]
        importlib.invalidate_caches()
        zoo.catalog.reset()
