"""File-system errors (issue 16, class 5): an unwritable run folder, export target or
predictions file is one error line naming the path, and nothing is left half-written.

Sessions and CI run as root, where a ``chmod 555`` folder stays writable, so the failures
are made with a path under a regular file (ENOTDIR), ``/dev/full`` (ENOSPC on write), a FIFO
(not a regular file) and, where the process may mount one, a 4 KiB tmpfs (a full disk).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hostile.common import TINY, assert_one_line_error, hostile_plugin, zoo


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """A regular file that paths are (wrongly) put under."""
    path = tmp_path / "notes.txt"
    path.write_text("a file, not a folder\n")
    return path


@pytest.fixture
def features(tmp_path: Path) -> Path:
    """300 examples of the fresh ``mlp`` model's 100 features, inputs only."""
    path = tmp_path / "features.npy"
    np.save(path, np.random.default_rng(0).normal(size=(300, 100)).astype("float32"))
    return path


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 KiB tmpfs: writes beyond a page fail with ENOSPC (skipped where the process may
    not mount file systems)."""
    folder = tmp_path / "full"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def leftovers(folder: Path) -> list[str]:
    """Everything in ``folder`` (temporary and partial files included)."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- run folders -----------------------------------------------------------------------------


def test_a_run_folder_under_a_regular_file(a_file: Path, cli) -> None:
    code, out, err = cli("train", "mlp", *TINY, "--output", str(a_file / "run"))
    assert_one_line_error(code, err, f"{a_file} is a file, not a folder", "--output")
    code, out, err = cli("train", "mlp", *TINY, "--output", str(a_file))
    assert_one_line_error(code, err, str(a_file), "is a file, not a folder")
    assert a_file.read_text() == "a file, not a folder\n"
    assert leftovers(a_file.parent) == ["notes.txt", "site"]


def test_a_run_folder_on_a_full_disk_is_removed_again(full_disk: Path, cli) -> None:
    run = full_disk / "deep" / "run"
    code, out, err = cli("train", "mlp", *TINY, "--output", str(run))
    assert_one_line_error(code, err, str(run), "No space left on device")
    assert leftovers(full_disk) == []  # the run folder and the parent it made are gone


def test_the_console_script_reports_a_run_folder_error_in_one_line(
    a_file: Path, tmp_path: Path
) -> None:
    code, out, err = zoo(None, "train", "mlp", *TINY, "--output", str(a_file / "sub" / "run"))
    assert_one_line_error(code, err, str(a_file), "is a file, not a folder")
    assert not (a_file.parent / "sub").exists()


# -- export targets --------------------------------------------------------------------------


def test_an_export_target_under_a_regular_file(a_file: Path, cli) -> None:
    target = a_file / "models" / "mlp.keras"
    code, out, err = cli("export", "mlp", "--format", "keras", "--output", str(target))
    assert_one_line_error(code, err, str(target), "is a file, not a folder")
    assert leftovers(a_file.parent) == ["notes.txt", "site"]


def test_an_export_to_a_full_disk_leaves_nothing(full_disk: Path, cli) -> None:
    target = full_disk / "mlp.keras"
    code, out, err = cli("export", "mlp", "--format", "keras", "--output", str(target))
    assert_one_line_error(code, err, str(target), "No space left on device")
    assert leftovers(full_disk) == []  # no staged .partial file


def test_an_export_never_replaces_a_device_or_pipe(tmp_path: Path, cli) -> None:
    fifo = tmp_path / "mlp.keras"
    os.mkfifo(fifo)
    code, out, err = cli("export", "mlp", "--format", "keras", "--output", str(fifo), "--force")
    assert_one_line_error(code, err, str(fifo), "not a regular file")
    assert stat.S_ISFIFO(fifo.stat().st_mode)


# -- predictions files -----------------------------------------------------------------------


def test_a_predictions_file_under_a_regular_file_fails_before_predicting(
    a_file: Path, features: Path, cli
) -> None:
    target = a_file / "predictions.json"
    code, out, err = cli("predict", "mlp", "--data", str(features), "--output", str(target))
    assert_one_line_error(code, err, str(target), "is a file, not a folder")
    code, out, err = cli("predict", "mlp", "--data", str(features), "--output", str(a_file.parent))
    assert_one_line_error(code, err, str(a_file.parent), "it is a folder")
    assert a_file.read_text() == "a file, not a folder\n"


def test_predictions_to_dev_full_are_one_line_and_keep_the_device(features: Path, cli) -> None:
    """/dev/full exists but is no regular file: it is written in place (never replaced by
    a rename, which as root would swap the device for a file) and the write fails ENOSPC."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    code, out, err = cli("predict", "mlp", "--data", str(features), "--output", "/dev/full")
    assert_one_line_error(code, err, "/dev/full", "No space left on device")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_predictions_to_a_full_disk_leave_no_temporary_file(
    full_disk: Path, features: Path, cli
) -> None:
    target = full_disk / "predictions.csv"
    code, out, err = cli("predict", "mlp", "--data", str(features), "--output", str(target))
    assert_one_line_error(code, err, str(target), "No space left on device")
    assert leftovers(full_disk) == []


# -- the fallback: any OSError with a path --------------------------------------------------


def test_an_os_error_escaping_a_command_is_one_line_naming_the_path(
    site: Path, a_file: Path, cli
) -> None:
    """A plugin command writing under a regular file: main() names the path (and the
    traceback stays available under --debug)."""
    source = (
        "import click\n"
        "from zoo.plugin import hookimpl\n\n"
        "@click.command('dump')\n"
        "@click.argument('path')\n"
        "def dump(path):\n"
        "    open(path, 'w').write('x')\n\n"
        "@hookimpl\n"
        "def zoo_cli_commands():\n"
        "    return [dump]\n"
    )
    hostile_plugin(site, "dumper", source, commands=("dump",), model=False)
    target = a_file / "out.txt"
    code, out, err = cli("dump", str(target))
    assert_one_line_error(code, err, str(target), "Not a directory")
    code, out, err = cli("--debug", "dump", str(target))
    assert code == 2 and "Traceback" in err and "NotADirectoryError" in err
