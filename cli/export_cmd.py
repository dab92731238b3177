"""`zoo export`: write a model as .keras, SavedModel, ONNX or LiteRT, checked for parity."""

from __future__ import annotations

from typing import Any

import click

from zoo.cli.completion import export_formats, model_names
from zoo.cli.output import echo_json, human_bytes


def _signature(tensors: list[dict[str, Any]]) -> str:
    def dims(shape: list[int | None]) -> str:
        return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"

    return ", ".join(f"{t['name']}: {t['dtype']}{dims(t['shape'])}" for t in tensors) or "-"


@click.command("export")
@click.argument("source", shell_complete=model_names)
@click.option(
    "--format",
    "-f",
    "fmt",
    shell_complete=export_formats,
    help="keras | savedmodel | onnx | litert, or a plugin's format "
    "(default: from the --output suffix).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(),
    help="Destination file (folder for savedmodel); default ./NAME.SUFFIX.",
)
@click.option(
    "--batch-size",
    help="Batch dimension of the exported signature: N or 'dynamic' "
    "(default: dynamic; 1 for litert).",
)
@click.option("--force", is_flag=True, help="Replace an existing artifact (after verifying).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def export_cmd(
    source: str,
    fmt: str | None,
    output: str | None,
    batch_size: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Export SOURCE (NAME, NAME:TAG or a run folder) and check it against the Keras model.

    The artifact is reloaded with its own runtime and run on a sample batch; an export whose
    predictions differ from Keras' beyond the format's tolerance is an error and leaves
    nothing behind.
    """
    from zoo.exporting.export import export

    result = export(source, output, format=fmt, batch_size=batch_size, force=force)
    data = result.to_dict()
    if as_json:
        echo_json(data)
        return
    click.echo(click.style(str(result.path), bold=True))
    verb = "replaced" if result.replaced else "written"
    click.echo(f"  format        {result.format} ({verb})")
    click.echo(f"  size          {human_bytes(result.size)}")
    click.echo(f"  source        {result.source}")
    click.echo(f"  inputs        {_signature(result.inputs)}")
    click.echo(f"  outputs       {_signature(result.outputs)}")
    click.echo(f"  batch size    {data['batch_size']}")
    click.echo(
        f"  parity        max |diff| {result.max_abs_diff:.3g} <= tolerance "
        f"{result.tolerance:g} on {result.sample_source}"
        + ("; also in a fresh interpreter without zoo" if result.fresh_interpreter else "")
    )
    if result.metadata:
        click.echo(f"  metadata      {result.metadata}")
    for note in result.notes:
        click.echo(f"  note          {note}")
