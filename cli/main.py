"""The ``zoo`` click application.

Commands are thin: each parses options, calls one public function of the Python API and
prints the result. Errors the user can fix (``ZooError``) become one line on stderr and a
non-zero exit code, never a traceback; so does an exception raised by a plugin's code
(naming the plugin and the hook), and a file-system error naming its path. ``zoo --debug``
(or ``ZOO_DEBUG=1``) prints the traceback of such an error as well, for plugin authors.

Plugins may add commands through the ``zoo_cli_commands`` hook. A plugin declares their
names in its registry.toml (``[plugins.<name>] commands = [...]``); a command is resolved
only when invoked by one of those names, importing that plugin alone, so ``zoo --help`` and
a mistyped command (``zoo tarin``) import no plugin code.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
import traceback

import click

from zoo import __version__
from zoo.errors import ZooError, did_you_mean

# command name -> "module:attribute", imported only when the command runs or --help lists it.
COMMANDS = {
    "list": "zoo.cli.catalog_cmds:list_cmd",
    "info": "zoo.cli.catalog_cmds:info_cmd",
    "plugins": "zoo.cli.catalog_cmds:plugins_cmd",
    "train": "zoo.cli.train_cmds:train_cmd",
    "evaluate": "zoo.cli.train_cmds:evaluate_cmd",
    "predict": "zoo.cli.train_cmds:predict_cmd",
    "export": "zoo.cli.export_cmd:export_cmd",
    "weights": "zoo.cli.weights_cmd:weights_group",
    "check-plugin": "zoo.cli.plugin_cmds:check_plugin_cmd",
    "new-plugin": "zoo.cli.plugin_cmds:new_plugin_cmd",
    "worker": "zoo.cli.worker_cmd:worker_cmd",
}


# Commands that run TensorFlow: it is imported (quietly) before they start.
HEAVY_COMMANDS = {"train", "evaluate", "predict", "export", "check-plugin"}


class ZooGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._load(name) is not None]

    def _load(self, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None  # command not built yet in this checkout
            raise

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = self._load(name)
        if command is not None:
            return command
        return self._plugin_command(name)

    def _plugin_command(self, name: str) -> click.Command | None:
        """The command ``name`` of the plugin that declares it (only that plugin is
        imported); None when no plugin declares it."""
        from zoo.catalog import get_catalog

        host = get_catalog().host
        owners = [r for r in host.records.values() if name in r.commands and r.status != "disabled"]
        for record in owners:
            for commands in host.plugin_hook(record.name, "zoo_cli_commands")() or []:
                for command in commands or []:
                    if getattr(command, "name", None) == name:
                        return command
        if owners:
            from zoo.errors import PluginError

            record = owners[0]
            raise PluginError(
                f"plugin '{record.name}' ({record.package or record.module}) declares command "
                f"'{name}' but its zoo_cli_commands hook does not return it",
                "return a click.Command of that name, or drop it from commands = [...]",
            )
        return None

    def resolve_command(self, ctx, args):  # type: ignore[no-untyped-def]
        name = args[0] if args else ""
        completing = bool(os.environ.get("_ZOO_COMPLETE"))  # a shell's TAB: catalog data only
        if name in HEAVY_COMMANDS and not {"-h", "--help"} & set(args) and not completing:
            from zoo._quiet import import_tensorflow_quietly

            import_tensorflow_quietly()
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            hint = did_you_mean(name, [*COMMANDS, *_declared_commands()])
            raise click.UsageError(f"no such command '{name}'" + (f"; {hint}" if hint else ""))
        return super().resolve_command(ctx, args)


def _declared_commands() -> list[str]:
    """Command names the installed plugins declare (registry data, no plugin import)."""
    from zoo.catalog import get_catalog

    try:
        records = get_catalog().host.records.values()
    except ZooError:
        return []
    return sorted({c for r in records if r.status != "disabled" for c in r.commands})


def debug_mode() -> bool:
    """``zoo --debug`` or ``ZOO_DEBUG=1``: errors also print their traceback."""
    return os.environ.get("ZOO_DEBUG", "").strip().lower() in ("1", "true", "yes")


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:  # eager: set before any command is resolved (plugin commands load early)
        os.environ["ZOO_DEBUG"] = "1"


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zoo")
@click.option(
    "--debug",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_set_debug,
    help="Print the traceback of an error too (as does ZOO_DEBUG=1); for plugin authors.",
)
@click.option(
    "--registry",
    "registries",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Extra registry.toml layered over the installed catalog (repeatable).",
)
def cli(registries: tuple[str, ...]) -> None:
    """zoo: list, train, export and load Keras models from installed plugins."""
    from zoo.catalog import use_registry

    for path in registries:
        use_registry(path)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: ZooError -> one line on stderr, exit code 2."""
    try:
        code = cli.main(args=argv, prog_name="zoo", standalone_mode=False)
        if isinstance(code, int) and not isinstance(code, bool) and code:
            sys.exit(code)  # ctx.exit(n): click returns n when not in standalone mode
    except ZooError as exc:
        _fail(exc)
    except click.exceptions.Abort as exc:
        # click turns Ctrl-C and an end of input (EOFError) into Abort
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, KeyboardInterrupt):
            click.echo("interrupted", err=True)
            sys.exit(130)
        if isinstance(cause, EOFError) and not _from_click(cause):
            _fail(ZooError(f"unexpected end of a file: {_one_line(cause)}", _RERUN), cause)
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except OSError as exc:
        if exc.filename is None:
            raise
        _fail(ZooError(f"file system error: {_os_error(exc)}", _RERUN), exc)
    except Exception as exc:
        from zoo.catalog.host import attribute_error

        error = attribute_error(exc)  # plugin code outside a hook (a Task, a callback...)
        if error is None:
            raise  # a bug of the zoo itself: the traceback is the report
        _fail(error, exc)


_RERUN = "rerun with --debug for the traceback"


def _fail(error: ZooError, original: BaseException | None = None) -> None:
    """Print ``error`` as one line (plus the traceback under --debug) and exit."""
    if debug_mode():
        shown = original if original is not None else error
        traceback.print_exception(type(shown), shown, shown.__traceback__, file=sys.stderr)
    click.echo(f"error: {error}", err=True)
    sys.exit(error.exit_code)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _os_error(exc: OSError) -> str:
    """``path: reason`` for an OSError (ENOTDIR, ENOSPC, EACCES, EROFS... named plainly)."""
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, "") or str(exc)
    where = exc.filename if exc.filename2 is None else f"{exc.filename} -> {exc.filename2}"
    return f"{where}: {reason}"


def _from_click(exc: BaseException) -> bool:
    """Whether an EOFError came from a click prompt (end of input: an abort)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and os.sep + "click" + os.sep in frames[-1].filename


if __name__ == "__main__":
    main()
