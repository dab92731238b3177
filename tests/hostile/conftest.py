"""Fixtures of the hostile suite: a folder of fake installed plugins, and ``zoo`` run in
this process with them installed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hostile.common import plugins_on_path, run_cli


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """An empty folder to install fake plugin distributions into."""
    path = tmp_path / "site"
    path.mkdir()
    return path


@pytest.fixture
def cli(
    site: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> Iterator[Callable[..., tuple[int, str, str]]]:
    """Run ``zoo`` in this process with ``site``'s plugins installed (fast: TensorFlow is
    imported once); the subprocess tests cover the console script itself."""
    with plugins_on_path(site, monkeypatch):
        yield lambda *args: run_cli(capsys, *args)
