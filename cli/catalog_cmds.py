"""`zoo list`, `zoo info`, `zoo plugins`: read the catalog; never import TensorFlow."""

from __future__ import annotations

import click

from zoo.cli.completion import model_names
from zoo.cli.output import echo_json, echo_table, human_bytes, human_count


@click.command("list")
@click.argument("pattern", required=False)
@click.option("--task", help="Only models of this task (wildcards allowed).")
@click.option("--pretrained", is_flag=True, help="Only models with pretrained weights.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(pattern: str | None, task: str | None, pretrained: bool, as_json: bool) -> None:
    """List installed models, optionally matching PATTERN (e.g. 'trans*')."""
    import zoo.api

    records = zoo.api.list_models(pattern, task=task, pretrained=True if pretrained else None)
    _warn_missing_models()
    if as_json:
        echo_json(records)
        return
    if not records:
        click.echo("no models match", err=True)
        return
    echo_table(
        ["NAME", "ARCHITECTURE", "TASK", "PARAMS", "PRETRAINED", "PLUGIN"],
        [
            (
                r["name"],
                r["architecture"],
                r["task"],
                human_count(r["params"]),
                ",".join(r["pretrained"]) or "-",
                r["plugin"] if r["package"] == "keras-zoo" else f"{r['plugin']} ({r['package']})",
            )
            for r in records
        ],
    )


def _warn_missing_models() -> None:
    """On stderr: name collisions (those names are not listed) and plugins whose registry
    failed to load (their models are not listed) — never a silently shorter list."""
    from zoo.catalog import get_catalog

    catalog = get_catalog()
    for message in dict.fromkeys(catalog.conflicts.values()):
        click.echo(f"warning: {message}", err=True)
    broken = [
        f"{r.name} ({r.package})" if r.package else r.name
        for r in catalog.host.records.values()
        if r.status == "error"
    ]
    if broken:
        many = len(broken) > 1
        click.echo(
            f"warning: plugin{'s' if many else ''} {', '.join(broken)} failed to load "
            f"{'their registries' if many else 'its registry'}; "
            f"{'their' if many else 'its'} models are not listed (see `zoo plugins --errors`)",
            err=True,
        )


def _echo_run(run: dict) -> None:
    click.echo(click.style("run", bold=True) + f"  {run['path']} ({run['status']})")
    click.echo(
        f"  data          {run['data'] or 'built-in'} ({run['dataset']}), seed {run['seed']}"
    )
    if run["test"]:
        shown = ", ".join(f"{k}={v:.4f}" for k, v in run["test"].items())
        click.echo(f"  test          {shown}")
    tune = run.get("finetune")
    if tune:
        start = tune.get("weights", {})
        click.echo(
            f"  started from  {start.get('weights')} (sha256 {str(start.get('sha256'))[:12]}…, "
            f"{start.get('loaded')} layers loaded, re-initialised: "
            f"{', '.join(start.get('reinitialised', [])) or 'none'})"
        )
        if tune.get("freeze") not in (None, "none"):
            click.echo(
                f"  freeze        {tune['freeze']}, head {', '.join(tune.get('head', []))}"
                + (
                    f", {tune['freeze_epochs']} epoch(s) then lr {tune['finetune_learning_rate']}"
                    if tune.get("freeze_epochs") is not None
                    else ""
                )
            )


@click.command("info")
@click.argument("name", shell_complete=model_names)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info_cmd(name: str, as_json: bool) -> None:
    """Show the model card of NAME (or NAME:TAG)."""
    import zoo.api

    card = zoo.api.info(name)
    if as_json:
        echo_json(card)
        return
    arch, plugin = card["architecture"], card["plugin"]
    click.echo(click.style(card["name"], bold=True) + f" - {card['summary']}")
    click.echo(f"  architecture  {arch['name']}: {arch['summary']}")
    click.echo(f"  task          {arch['task']}")
    click.echo(f"  input         {arch['input']}")
    click.echo(f"  output        {arch['output']}")
    click.echo(f"  parameters    {human_count(card['params'])}")
    click.echo(f"  dataset       {arch['default_dataset']}")
    click.echo(f"  export        {', '.join(arch['export_formats'])}")
    click.echo(f"  license       {card['license'] or '-'}")
    click.echo(
        f"  plugin        {plugin['name']} ({plugin['package']} {plugin['version']}, "
        f"{plugin['status']})"
    )
    if "run" in card:
        _echo_run(card["run"])
    click.echo(click.style("hyper-parameters", bold=True) + "  (change with --set key=value)")
    echo_table(
        ["  KEY", "VALUE", "VALID", "HELP"],
        [
            (f"  {k}", _value(v["value"]), _valid(v), v.get("help", ""))
            for k, v in card["hparams"].items()
        ],
    )
    click.echo(click.style("training options", bold=True))
    echo_table(
        ["  KEY", "VALUE", "VALID", "HELP"],
        [
            (f"  {k}", _value(v["value"]), _valid(v), v.get("help", ""))
            for k, v in card["train"].items()
        ],
    )
    click.echo(click.style("pretrained weights", bold=True))
    if not card["weights"]:
        click.echo("  none")
    for w in card["weights"]:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in w.get("metrics", {}).items())
        digest = "sha256:" + w["sha256"][:12] if w.get("sha256") else "md5:" + w["md5"][:12]
        click.echo(
            f"  {card['name']}:{w['name']}  {w.get('dataset', '')}  {metrics}  "
            f"{human_bytes(w.get('size'))}  {digest}"
        )
        if w.get("baselines"):  # other methods on the same test split
            shown = ", ".join(f"{k}={v:.4g}" for k, v in w["baselines"].items())
            click.echo(f"    baselines (same test split): {shown}")
        if w.get("lineage"):  # published from a run by `zoo weights add`
            click.echo(f"    {w.get('description') or 'from run ' + w['lineage'].get('run', '?')}")


def _value(value: object) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _valid(spec: dict) -> str:
    text = spec["type"]
    if "choices" in spec:
        return text + ": " + "|".join(map(str, spec["choices"]))
    if "min" in spec or "max" in spec:
        return f"{text} [{spec.get('min', '-inf')}, {spec.get('max', 'inf')}]"
    return text


@click.command("plugins")
@click.option("--errors", is_flag=True, help="Only plugins with problems.")
@click.option(
    "--check",
    is_flag=True,
    help="Also import every plugin and check its hooks (finds import errors; imports plugin code).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_cmd(errors: bool, check: bool, as_json: bool) -> None:
    """List installed plugins with their package, status and error."""
    import zoo.api
    from zoo.catalog import get_catalog, require_ok

    if check:
        get_catalog().host.load_all()
    records = zoo.api.list_plugins()
    if errors:  # broken or disabled plugins, and plugins with a name collision
        records = [r for r in records if r["status"] != "ok" or r["error"]]
    if as_json:
        echo_json(records)
    else:
        echo_table(
            ["PLUGIN", "PACKAGE", "VERSION", "STATUS", "MODELS"],
            [
                (r["name"], r["package"], r["version"], r["status"], ",".join(r["models"]) or "-")
                for r in records
            ],
        )
        for r in records:
            if r["error"]:
                click.echo(f"{r['name']}: {r['error']}", err=True)
    require_ok(get_catalog())
