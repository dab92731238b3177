"""`zoo check-plugin` and `zoo new-plugin`: tools for plugin authors.

Thin wrappers over :func:`zoo.testing.check_plugin` and :func:`zoo.scaffold.create_plugin`.
"""

from __future__ import annotations

import click

from zoo.cli.output import echo_json

_COLOURS = {"passed": "green", "failed": "red", "xfail": "yellow", "skipped": "cyan"}


@click.command("check-plugin")
@click.argument("name")
@click.option("--model", help="Check this preset of the plugin (default: one per architecture).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Hyper-parameter override.")
@click.option(
    "--check",
    "only",
    multiple=True,
    metavar="NAME",
    help="Run only this check (repeatable; wildcards allowed, e.g. 'export_*').",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@click.pass_context
def check_plugin_cmd(
    ctx: click.Context,
    name: str,
    model: str | None,
    sets: tuple[str, ...],
    only: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run the conformance kit on plugin NAME (or one of its models).

    Prints each check as passed, failed (with the reason), xfail or skipped; exits 1 if
    any check failed.
    """
    from zoo._quiet import import_tensorflow_quietly
    from zoo.cli.train_cmds import parse_sets
    from zoo.testing import CheckResult, check_plugin

    overrides = parse_sets(sets)
    import_tensorflow_quietly()

    def show(result: CheckResult) -> None:
        status = click.style(f"{result.status:<8}", fg=_COLOURS.get(result.status))
        text = f"{status} {result.name}"
        if result.message:
            text += f": {result.message}"
        click.echo(text)

    report = check_plugin(
        name,
        model=model,
        overrides=overrides,
        checks=list(only) or None,
        raise_on_failure=False,
        on_result=None if as_json else show,
    )
    if as_json:
        echo_json(report.to_dict())
    else:
        models = ", ".join(report.models) or "-"
        click.echo(f"plugin {report.plugin} (model {models}): {report.summary()}")
    if not report.ok:
        ctx.exit(1)


@click.command("new-plugin")
@click.argument("name")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False),
    help="Folder to create (default: ./zoo-NAME); must not exist.",
)
def new_plugin_cmd(name: str, output: str | None) -> None:
    """Write a ready-to-install plugin package for architecture NAME.

    The skeleton (pyproject.toml with the entry point, registry.toml, the hooks, a test
    running the conformance kit, a README) passes `zoo check-plugin NAME` once installed.
    """
    from zoo.scaffold import create_plugin

    dest = create_plugin(name, output)
    click.echo(f"created {dest}")
    click.echo("next:")
    click.echo(f"  pip install -e '{dest}[test]'")
    click.echo(f"  zoo list {name}")
    click.echo(f"  zoo check-plugin {name}")
    click.echo(f"  zoo train {name} --epochs 3")
