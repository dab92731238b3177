"""Hostile plugins (issue 16, classes 1 and 8).

Class 1: a plugin that exits, sleeps or raises while being imported never touches a command
that does not use it — only the model's own plugin and the plugins that *declare* a
cross-cutting hook or command in their registry.toml are imported — and when it is used, its
failure is one line naming it. ``os._exit`` cannot be caught: a plugin calling it at import
ends the command that imports it (documented in zoo/catalog/host.py), which is why nothing
else imports it.

Class 8: an exception raised by plugin code (a hook, or a callback a hook returned) is one
line naming the plugin, the hook and the exception (exit 2); ``zoo --debug`` and
``ZOO_DEBUG=1`` add the traceback.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hostile.common import (
    TINY,
    assert_one_line_error,
    good_hooks_with,
    hostile_plugin,
    marker_line,
    zoo,
)


def install_import_time_hazards(
    site: Path, markers: Path, *, os_exit: bool = True
) -> dict[str, Path]:
    """Four plugins that misbehave at import; returns the import marker of each.

    ``osexit`` and ``sleepy`` declare nothing (nothing but their own models imports them);
    ``sysexit`` and ``raising`` declare ``zoo_callbacks`` (every training imports them).
    In-process tests leave out ``osexit`` (``os_exit=False``): a bug would end pytest."""
    markers.mkdir(exist_ok=True)
    paths = {name: markers / name for name in ("osexit", "sleepy", "sysexit", "raising")}
    if os_exit:
        hostile_plugin(site, "osexit", marker_line(paths["osexit"]) + "import os\nos._exit(5)\n")
    hostile_plugin(site, "sleepy", marker_line(paths["sleepy"]) + "import time\ntime.sleep(5)\n")
    hostile_plugin(
        site,
        "sysexit",
        marker_line(paths["sysexit"]) + "import sys\nsys.exit(3)\n",
        hooks=("zoo_callbacks",),
    )
    hostile_plugin(
        site,
        "raising",
        marker_line(paths["raising"]) + "raise RuntimeError('plugin import exploded')\n",
        hooks=("zoo_callbacks",),
    )
    return paths


# -- class 1: import-time hazards ------------------------------------------------------------


def test_a_mistyped_command_imports_no_plugin(site: Path, tmp_path: Path) -> None:
    markers = install_import_time_hazards(site, tmp_path / "markers")
    started = time.perf_counter()
    code, out, err = zoo(site, "tarin", "mlp")
    elapsed = time.perf_counter() - started
    assert code == 2, err
    assert "no such command 'tarin'" in err and "did you mean 'train'" in err
    assert "Traceback" not in err
    assert not any(m.exists() for m in markers.values())
    assert elapsed < 4.5, f"`zoo tarin` took {elapsed:.1f}s: a plugin import slowed it"


def test_listing_and_model_cards_import_no_plugin(site: Path, tmp_path: Path) -> None:
    markers = install_import_time_hazards(site, tmp_path / "markers")
    started = time.perf_counter()
    code, out, err = zoo(site, "list")
    assert code == 0, err
    assert "osexit-model" in out and "sleepy-model" in out and "mlp" in out
    code, out, err = zoo(site, "info", "osexit-model")
    assert code == 0, err
    assert time.perf_counter() - started < 9
    assert not any(m.exists() for m in markers.values())


def test_training_a_builtin_model_ignores_hostile_plugins(site: Path, tmp_path: Path) -> None:
    """Undeclared plugins are never imported (no os._exit, no 5 s sleep); declared ones
    that exit or raise at import are recorded as broken and skipped."""
    markers = install_import_time_hazards(site, tmp_path / "markers")
    run = tmp_path / "run"
    code, out, err = zoo(site, "train", "mlp", *TINY, "--output", str(run))
    assert code == 0, err
    assert "Traceback" not in err
    assert 'status = "complete"' in (run / "run.toml").read_text()
    assert not markers["osexit"].exists() and not markers["sleepy"].exists()
    assert markers["sysexit"].exists() and markers["raising"].exists()  # declared: imported


def test_a_plugin_exiting_at_import_is_that_plugins_error(site: Path, tmp_path: Path, cli) -> None:
    install_import_time_hazards(site, tmp_path / "markers", os_exit=False)
    run = tmp_path / "run"
    code, out, err = cli("train", "sysexit-model", *TINY, "--output", str(run))
    assert_one_line_error(code, err, "plugin 'sysexit'", "sys.exit(3)")
    assert not run.exists()
    # zoo plugins --check imports it too, and lists it as broken without dying
    code, out, err = zoo(site, "plugins", "--errors", "--check")
    assert code == 0, err
    assert "sysexit" in out and "raising" in out  # the table; each error on stderr
    assert "sysexit: import of zoo_sysexit failed: it called sys.exit(3)" in err
    assert "raising: import of zoo_raising failed: RuntimeError: plugin import exploded" in err


def test_a_plugin_raising_at_import_leaves_other_models_working(
    site: Path, tmp_path: Path, cli
) -> None:
    install_import_time_hazards(site, tmp_path / "markers", os_exit=False)
    code, out, err = cli("train", "raising-model", *TINY, "--output", str(tmp_path / "r"))
    assert_one_line_error(code, err, "plugin 'raising'", "RuntimeError: plugin import exploded")
    assert not (tmp_path / "r").exists()
    code, out, err = cli("info", "mlp")
    assert code == 0, err


def test_os_exit_at_import_ends_only_the_command_using_that_plugin(
    site: Path, tmp_path: Path
) -> None:
    """Documented: os._exit cannot be caught. The plugin's own model exits with its code,
    before anything is written (a plugin is imported before the run folder exists)."""
    markers = install_import_time_hazards(site, tmp_path / "markers")
    run = tmp_path / "run"
    code, out, err = zoo(site, "train", "osexit-model", *TINY, "--output", str(run))
    assert code == 5
    assert markers["osexit"].exists()
    assert not run.exists()


def test_ctrl_c_during_a_plugin_import_still_stops_the_command(site: Path, cli) -> None:
    hostile_plugin(site, "ctrlc", "raise KeyboardInterrupt\n", hooks=("zoo_callbacks",))
    code, out, err = cli("train", "mlp", *TINY)
    assert code == 130, err
    assert "interrupted" in err and "Traceback" not in err


def test_plugin_commands_are_resolved_from_declared_names_only(site: Path, tmp_path: Path) -> None:
    marker = tmp_path / "hello-imported"
    source = marker_line(marker) + (
        "import click\n"
        "from zoo.plugin import hookimpl\n\n"
        "@click.command('hello')\n"
        "def hello():\n"
        "    click.echo('hello from a plugin')\n\n"
        "@hookimpl\n"
        "def zoo_cli_commands():\n"
        "    return [hello]\n"
    )
    hostile_plugin(site, "hello", source, commands=("hello",), model=False)
    undeclared = tmp_path / "sneaky-imported"
    hostile_plugin(
        site,
        "sneaky",
        marker_line(undeclared) + source.replace("hello", "sneaky").split("\n", 2)[2],
        model=False,
    )
    code, out, err = zoo(site, "helo")
    assert code == 2 and "did you mean 'hello'" in err, err
    code, out, err = zoo(site, "sneaky")
    assert code == 2 and "no such command 'sneaky'" in err, err
    assert not marker.exists() and not undeclared.exists()
    code, out, err = zoo(site, "hello")
    assert code == 0, err
    assert "hello from a plugin" in out
    assert marker.exists() and not undeclared.exists()


# -- class 8: errors in plugin code ------------------------------------------------------------


def test_a_build_error_is_one_line_naming_plugin_and_hook(site: Path, tmp_path: Path, cli) -> None:
    hostile_plugin(
        site, "badbuild", good_hooks_with(before_build="raise ValueError('build exploded')")
    )
    run = tmp_path / "run"
    code, out, err = cli("train", "badbuild-model", *TINY, "--output", str(run))
    assert_one_line_error(
        code, err, "plugin 'badbuild' (zoo-badbuild)", "zoo_build raised ValueError: build exploded"
    )
    assert not run.exists()
    # --debug shows the plugin author the traceback, ending in their own line
    code, out, err = cli("--debug", "train", "badbuild-model", *TINY)
    assert code == 2
    assert "Traceback" in err and "zoo_badbuild" in err and "build exploded" in err
    assert err.rstrip().splitlines()[-1].startswith("error: plugin 'badbuild'")


def test_a_dataset_error_is_one_line_and_zoo_debug_shows_the_traceback(
    site: Path, tmp_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile_plugin(
        site, "baddata", good_hooks_with(before_dataset="raise KeyError('no column price')")
    )
    code, out, err = cli("train", "baddata-model", *TINY, "--output", str(tmp_path / "r"))
    assert_one_line_error(code, err, "plugin 'baddata'", "zoo_dataset raised KeyError")
    assert not (tmp_path / "r").exists()
    monkeypatch.setenv("ZOO_DEBUG", "1")
    code, out, err = cli("evaluate", "baddata-model")
    assert code == 2 and "Traceback" in err and "no column price" in err


def test_sys_exit_inside_a_hook_is_one_line(site: Path, tmp_path: Path, cli) -> None:
    hostile_plugin(site, "exitbuild", good_hooks_with(before_build="import sys; sys.exit(4)"))
    code, out, err = cli("train", "exitbuild-model", *TINY, "--output", str(tmp_path / "r"))
    assert_one_line_error(code, err, "plugin 'exitbuild'", "zoo_build called sys.exit(4)")
    assert not (tmp_path / "r").exists()


CALLBACK_PLUGIN = """
from zoo.plugin import hookimpl


@hookimpl
def zoo_callbacks(config, run_dir):
    {body}
"""


def test_a_cross_cutting_hook_error_names_that_plugin(site: Path, tmp_path: Path, cli) -> None:
    hostile_plugin(
        site,
        "cbhook",
        CALLBACK_PLUGIN.format(body="raise TypeError('callbacks exploded')"),
        hooks=("zoo_callbacks",),
        model=False,
    )
    code, out, err = cli("train", "mlp", *TINY, "--output", str(tmp_path / "run"))
    assert_one_line_error(
        code, err, "plugin 'cbhook' (zoo-cbhook)", "zoo_callbacks raised TypeError"
    )


def test_an_error_in_a_callback_a_plugin_returned_names_the_plugin(
    site: Path, tmp_path: Path, cli
) -> None:
    body = (
        "import keras\n\n"
        "    class Broken(keras.callbacks.Callback):\n"
        "        def on_epoch_end(self, epoch, logs=None):\n"
        "            raise RuntimeError('callback exploded')\n\n"
        "    return [Broken()]"
    )
    hostile_plugin(
        site, "cbfail", CALLBACK_PLUGIN.format(body=body), hooks=("zoo_callbacks",), model=False
    )
    code, out, err = cli("train", "mlp", *TINY, "--output", str(tmp_path / "run"))
    line = assert_one_line_error(code, err, "plugin 'cbfail'", "RuntimeError: callback exploded")
    assert "during zoo_train" in line


def test_a_task_hook_error_names_the_plugin_that_declares_the_task(
    site: Path, tmp_path: Path, cli
) -> None:
    source = good_hooks_with() + (
        "\n\n@hookimpl\ndef zoo_tasks():\n    raise LookupError('task table missing')\n"
    )
    hostile_plugin(site, "badtask", source)
    registry = site / "zoo_badtask" / "registry.toml"
    text = registry.read_text().replace('task = "tabular-classification"', 'task = "oddtask"')
    registry.write_text(text + '\n[tasks.oddtask]\nsummary = "a task whose code breaks"\n')
    code, out, err = cli("train", "badtask-model", *TINY, "--output", str(tmp_path / "r"))
    assert_one_line_error(
        code, err, "plugin 'badtask'", "zoo_tasks raised LookupError: task table missing"
    )
    assert not (tmp_path / "r").exists()
    code, out, err = cli("info", "mlp")
    assert code == 0, err


def test_an_export_hook_error_is_one_line_and_leaves_nothing(
    site: Path, tmp_path: Path, cli
) -> None:
    source = good_hooks_with() + (
        "\n\n@hookimpl\ndef zoo_export(model, path, format, config, batch_size):\n"
        "    open(path, 'w').write('half')\n"
        "    raise RuntimeError('converter exploded')\n"
    )
    hostile_plugin(site, "badexport", source)
    out_dir = tmp_path / "exports"
    code, out, err = cli(
        "export", "badexport-model", "--format", "keras", "--output", str(out_dir / "m.keras")
    )
    assert_one_line_error(
        code, err, "plugin 'badexport'", "zoo_export raised RuntimeError: converter exploded"
    )
    assert not out_dir.exists()  # neither the staged half-written file nor the folder
