"""The ``zoo`` click application.

Commands are thin: each parses options, calls one public function of the Python API and
prints the result. Errors the user can fix (``ZooError``) become one line on stderr and a
non-zero exit code, never a traceback. Plugins may add commands through the
``zoo_cli_commands`` hook; those are resolved only when invoked by name, so ``zoo --help``
imports no plugin code.
"""

from __future__ import annotations

import importlib
import sys

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
        from zoo.catalog import get_catalog

        host = get_catalog().host
        for commands in host.cross_hook("zoo_cli_commands")():
            for command in commands or []:
                if command.name == name:
                    return command
        return None

    def resolve_command(self, ctx, args):  # type: ignore[no-untyped-def]
        name = args[0] if args else ""
        if name in HEAVY_COMMANDS and not {"-h", "--help"} & set(args):
            from zoo._quiet import import_tensorflow_quietly

            import_tensorflow_quietly()
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            hint = did_you_mean(name, COMMANDS)
            raise click.UsageError(f"no such command '{name}'" + (f"; {hint}" if hint else ""))
        return super().resolve_command(ctx, args)


@click.group(cls=ZooGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zoo")
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
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
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


if __name__ == "__main__":
    main()
