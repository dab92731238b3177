"""`zoo weights list|fetch|verify|path|hash|add|export`: the weights store; `add` publishes a
run as weights, `export` writes weights for a static web server. Never imports TensorFlow."""

from __future__ import annotations

from typing import Any

import click

from zoo.cli.completion import weight_names
from zoo.cli.output import echo_json, echo_table, human_bytes


@click.group("weights")
def weights_group() -> None:
    """List, download and verify pretrained weights (cache: $ZOO_HOME or the user cache)."""


def _entries(name: str | None) -> list[tuple[str, Any]]:
    """(model name, WeightsEntry) pairs for NAME, NAME:TAG, a pattern, or everything."""
    from zoo.catalog import get_catalog

    catalog = get_catalog()
    if name and ":" in name:
        ref = catalog.resolve(name)
        return [(ref.model.name, ref.weights)]
    if name and name in catalog.models:
        models = [catalog.models[name]]
    else:
        models = catalog.list(name)
        if name and not models:
            catalog.resolve(name)  # raises UnknownModelError with a suggestion
    return [(m.name, w) for m in models for w in m.weights.values()]


def _record(model: str, entry: Any) -> dict[str, Any]:
    from zoo.weights.store import local_copy

    return {
        "name": f"{model}:{entry.name}",
        "dataset": entry.dataset,
        "metrics": dict(entry.metrics),
        "size": entry.size,
        "sha256": entry.sha256,
        "license": entry.license,
        "cached": local_copy(entry) is not None,
        "source": entry.source,
        "registry": entry.origin,
    }


@weights_group.command("list")
@click.argument("name", required=False, shell_complete=weight_names)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(name: str | None, as_json: bool) -> None:
    """List weight sets, of every model or of NAME (a model, NAME:TAG or a pattern)."""
    records = [_record(model, entry) for model, entry in _entries(name)]
    from zoo.cli.catalog_cmds import _warn_missing_models

    _warn_missing_models()  # a plugin whose registry is bad: its weights are not listed
    if as_json:
        echo_json(records)
        return
    if not records:
        click.echo("no weights" + (f" for '{name}'" if name else " in the catalog"), err=True)
        return
    echo_table(
        ["WEIGHTS", "DATASET", "METRICS", "SIZE", "CACHED", "SOURCE"],
        [
            (
                r["name"],
                r["dataset"] or "-",
                ", ".join(f"{k}={v:.4g}" for k, v in r["metrics"].items()) or "-",
                human_bytes(r["size"]),
                "yes" if r["cached"] else "no",
                r["source"],
            )
            for r in records
        ],
    )


@weights_group.command("fetch")
@click.argument("names", nargs=-1, required=True, shell_complete=weight_names)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a TTY).")
def fetch_cmd(names: tuple[str, ...], progress: bool | None) -> None:
    """Download and verify NAME:TAG (or every weight set of NAME) into the cache."""
    from zoo.weights.store import fetch

    for name in names:
        entries = _entries(name) if ":" in name else _model_entries(name)
        for model, entry in entries:
            path = fetch(entry, f"{model}:{entry.name}", progress=progress)
            click.echo(f"{model}:{entry.name}  {path}")


def _model_entries(name: str) -> list[tuple[str, Any]]:
    from zoo.catalog import get_catalog
    from zoo.errors import WeightsError

    ref = get_catalog().resolve(name)
    if not ref.model.weights:
        raise WeightsError(f"model '{name}' has no pretrained weights", "see `zoo weights list`")
    return [(ref.model.name, w) for w in ref.model.weights.values()]


@weights_group.command("path")
@click.argument("name", shell_complete=weight_names)
def path_cmd(name: str) -> None:
    """Print the verified local file of NAME:TAG, fetching it if needed."""
    from zoo.errors import WeightsError
    from zoo.weights.store import fetch

    if ":" not in name:
        raise WeightsError(f"'{name}' names no weight set", f"use {name}:TAG (`zoo weights list`)")
    [(model, entry)] = _entries(name)
    click.echo(str(fetch(entry, f"{model}:{entry.name}", progress=False)))


@weights_group.command("verify")
@click.option("--delete", is_flag=True, help="Delete corrupt files (they are fetched again).")
@click.option(
    "--catalog",
    "check_catalog",
    is_flag=True,
    help="Also check every catalog weight set present on this machine (package, local files).",
)
def verify_cmd(delete: bool, check_catalog: bool) -> None:
    """Re-hash every file in the cache; exit non-zero naming any corrupt file."""
    from zoo.errors import WeightsError
    from zoo.weights.store import local_copy, verify_cache, verify_file, weights_dir

    bad: list[str] = []
    results = verify_cache()
    for item in results:
        if item.ok:
            click.echo(f"ok       {item.path}")
            continue
        bad.append(str(item.path))
        click.echo(f"CORRUPT  {item.path}: expected sha256 {item.sha256}, got {item.actual}")
        if delete:
            item.path.unlink(missing_ok=True)
    checked = len(results)
    if check_catalog:
        for model, entry in _entries(None):
            path = local_copy(entry)
            if path is None or path.parent.parent == weights_dir():
                continue  # absent, or a download already checked above
            checked += 1
            try:
                verify_file(path, entry.sha256, entry.size, f"weights {model}:{entry.name}")
                click.echo(f"ok       {path}")
            except WeightsError as exc:
                bad.append(str(path))
                click.echo(f"CORRUPT  {exc.message}")
    if not checked:
        click.echo(f"no weights files in the cache {weights_dir()}")
    if bad:
        raise WeightsError(
            f"{len(bad)} corrupt weights file(s): {', '.join(bad)}",
            "they were deleted; fetch them again with `zoo weights fetch`"
            if delete
            else "delete them with `zoo weights verify --delete`, then `zoo weights fetch`",
        )


@weights_group.command("hash")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", default="TAG", help="Weight tag for the printed registry entry.")
def hash_cmd(file: str, name: str) -> None:
    """Print the registry.toml entry (sha256, size) for a weights FILE you want to publish."""
    from pathlib import Path

    from zoo.weights.store import file_digest

    digest, size = file_digest(Path(file))
    click.echo("[[models.MODEL.weights]]")
    click.echo(f'name = "{name}"')
    click.echo(f'source = "{Path(file).name}"  # or https://..., package:<pkg>/<file>')
    click.echo(f'sha256 = "{digest}"')
    click.echo(f"size = {size}")


@weights_group.command("add")
@click.argument("run", type=click.Path())
@click.option("--tag", required=True, help="Name of the new weight set (MODEL:TAG).")
@click.option(
    "--registry",
    "registry",
    type=click.Path(dir_okay=False),
    help="User registry to write the entry into (default ./registry.toml, created if missing).",
)
@click.option("--force", is_flag=True, help="Replace existing weights of the same tag.")
def add_cmd(run: str, tag: str, registry: str | None, force: bool) -> None:
    """Publish the finished run RUN as weights MODEL:TAG.

    Copies the run's final weights into the store's published area ($ZOO_HOME/published,
    never cleaned like the download cache) and writes a weights entry — sha256, size, the
    run's hyper-parameters, data, test metrics and lineage — into a user registry. Then
    `zoo.load(MODEL, weights=TAG)` and `zoo train MODEL:TAG` use it like shipped weights.
    """
    from zoo.weights.publish import add_run

    done = add_run(run, tag, registry=registry, force=force)
    click.echo(
        f"published {done.name}  {human_bytes(done.entry['size'])}  "
        f"sha256:{done.entry['sha256'][:12]}  {done.file}"
    )
    click.echo(f"entry written to {done.registry}")
    from pathlib import Path

    if Path(done.registry).resolve() != Path("registry.toml").resolve():
        click.echo(f"use it with `zoo --registry {done.registry} ...` or ZOO_REGISTRY")


@weights_group.command("export")
@click.argument("name", shell_complete=weight_names)
@click.option(
    "--to",
    "to",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder for the weights file and its registry.toml snippet.",
)
@click.option("--force", is_flag=True, help="Replace the same weights in the folder.")
def export_cmd(name: str, to: str, force: bool) -> None:
    """Write the file of NAME:TAG and a registry.toml snippet into a folder, to host the
    weights on any static web server (the snippet's source is an https:// template)."""
    from zoo.weights.publish import export_weights

    done = export_weights(name, to, force=force)
    click.echo(f"wrote {done.file} and {done.registry}")
    click.echo(
        f"upload {done.file.name} to a web server, then set `source` in {done.registry} to "
        "its https:// URL"
    )
