"""`zoo train`, `zoo evaluate`, `zoo predict`: thin wrappers over zoo.training.runner."""

from __future__ import annotations

from typing import Any

import click

from zoo.cli.completion import model_names
from zoo.cli.output import echo_json


def parse_sets(values: tuple[str, ...]) -> dict[str, Any]:
    """``--set key=value`` pairs; values stay strings and are typed by the model's specs."""
    from zoo.errors import ConfigError

    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r} is not key=value", "e.g. --set units=128")
        out[key.strip()] = value
    return out


@click.command("train")
@click.argument("name", required=False, shell_complete=model_names)
@click.option("--data", type=click.Path(), help="Your data (file or folder); default: built-in.")
@click.option("--epochs", type=int, help="Maximum epochs (early stopping may end sooner).")
@click.option("--batch-size", type=int, help="Examples per step.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Hyper-parameter.")
@click.option("--config", "config_file", type=click.Path(), help="TOML file of options.")
@click.option("--output", type=click.Path(), help="Run folder (default runs/<model>-<time>).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--resume", type=click.Path(), help="Continue a run folder that was stopped.")
@click.option(
    "--strategy",
    type=click.Choice(["default", "mirrored", "multi-worker"]),
    help="tf.distribute strategy; multi-worker reads TF_CONFIG (see `zoo worker`).",
)
@click.option(
    "--weights",
    help="Start from these weights: a tag of the model, a .weights.h5 file or a run folder "
    "(same as NAME:TAG).",
)
@click.option(
    "--strict", is_flag=True, help="Starting weights that do not fit the data are an error."
)
@click.option(
    "--freeze",
    type=click.Choice(["none", "backbone", "all-but-head"]),
    help="Fine-tuning: train only the head first (backbone), or for the whole run.",
)
@click.option("--freeze-epochs", type=int, help="Epochs with the backbone frozen (default 3).")
@click.option(
    "--finetune-learning-rate",
    type=float,
    help="Learning rate once unfrozen (default: a tenth of the learning rate).",
)
@click.option("--json", "as_json", is_flag=True, help="Print metrics as JSON.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def train_cmd(
    name: str | None,
    data: str | None,
    epochs: int | None,
    batch_size: int | None,
    sets: tuple[str, ...],
    config_file: str | None,
    output: str | None,
    seed: int,
    resume: str | None,
    strategy: str | None,
    weights: str | None,
    strict: bool,
    freeze: str | None,
    freeze_epochs: int | None,
    finetune_learning_rate: float | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Train model NAME on its built-in dataset (or --data) and write a run folder.

    NAME:TAG (or --weights) fine-tunes pretrained weights: e.g.
    `zoo train cnn:digits --data my_images/ --freeze backbone`.
    """
    from zoo.training.runner import train

    options = parse_sets(sets)
    if epochs is not None:
        options["epochs"] = epochs
    if batch_size is not None:
        options["batch_size"] = batch_size
    for key, value in (
        ("freeze", freeze),
        ("freeze_epochs", freeze_epochs),
        ("finetune_learning_rate", finetune_learning_rate),
    ):
        if value is not None:
            options[key] = value
    if resume and options:
        from zoo.errors import ConfigError

        raise ConfigError(
            "--resume continues a run with its recorded options",
            "drop --epochs/--batch-size/--set, or start a new run",
        )
    if strategy is not None:  # allowed with --resume: a run may continue on another strategy
        options["strategy"] = strategy
    run = train(
        name,
        data,
        seed=seed,
        output=output,
        resume=resume,
        config=config_file,
        verbose=not (quiet or as_json),
        weights=weights,
        strict=strict,
        **options,
    )
    if as_json:
        echo_json({"run": str(run.path), **run.metrics})
        return
    m = run.metrics
    test = ", ".join(f"{k}={v:.4f}" for k, v in m["test"].items())
    base = ", ".join(f"{k}={v:.4f}" for k, v in m["baselines"].items())
    click.echo(f"run folder   {run.path}")
    click.echo(f"test         {test}")
    if base:
        click.echo(f"baselines    {base}")
    click.echo(
        f"epochs       {m['epochs_run']} (best {m['best_epoch']}), {m['wall_time_s']:.1f}s"
        + (f", {m['samples_per_s']:.0f} samples/s" if m["samples_per_s"] else "")
    )


@click.command("evaluate")
@click.argument("model", shell_complete=model_names)
@click.option(
    "--data",
    type=click.Path(),
    help="Evaluate on all of this data (default: the test split of the data MODEL was "
    "trained on, recreated from its seed).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def evaluate_cmd(model: str, data: str | None, as_json: bool) -> None:
    """Evaluate MODEL (a run folder, NAME or NAME:TAG)."""
    from zoo.training.evaluation import evaluate

    result = evaluate(model, data)
    if as_json:
        echo_json(result)
        return
    click.echo(
        f"{result['model']} on {result['data']} ({result['scope']}, {result['examples']} examples)"
    )
    for key, value in result["test"].items():
        click.echo(f"  {key:<24} {value:.4f}")
    for key, value in result["baselines"].items():
        click.echo(f"  {key:<24} {value:.4f}  (baseline)")


@click.command("predict")
@click.argument("model", shell_complete=model_names)
@click.option(
    "--data",
    required=True,
    type=click.Path(),
    help="Examples to predict (a recommender: ratings, or a users-only userId file).",
)
@click.option("--output", type=click.Path(), help="Write predictions to .json or .csv.")
@click.option("--top-k", type=click.IntRange(1), default=3, show_default=True)
@click.option(
    "--include-seen",
    is_flag=True,
    help="Recommender: keep items the user already interacted with (left out by default).",
)
@click.option("--json", "as_json", is_flag=True, help="Print predictions as JSON.")
def predict_cmd(
    model: str, data: str, output: str | None, top_k: int, include_seen: bool, as_json: bool
) -> None:
    """Predict with MODEL (a run folder, NAME or NAME:TAG) on --data.

    Each prediction carries its example's key (image path, id column or text, row number,
    user id), in the input's order.
    """
    from zoo.training.evaluation import RowFormat, predict

    # rows are printed (and written to --output) as their batch finishes; none are kept
    rows = predict(model, data, output=output, top_k=top_k, include_seen=include_seen, stream=True)
    if as_json:
        out = RowFormat("json", lambda text: click.echo(text, nl=False))
        for row in rows:
            out.row(row)
        out.end()
        return
    if output:
        count = sum(1 for _ in rows)
        click.echo(f"wrote {count} predictions to {output}")
        return
    shown = 0
    for row in rows:
        shown += 1
        if shown <= 50:
            click.echo(_row_line(row))
    if shown > 50:
        click.echo(f"... {shown - 50} more (use --output FILE)")


def _row_line(row: dict[str, Any]) -> str:
    if "items" in row:
        return f"user {row['user_id']}: {', '.join(map(str, row['items']))}"
    columns = list(row)
    key = row[columns[1]] if len(columns) > 1 and columns[1] not in _VALUES else row["index"]
    if "label" in row:
        return f"{key}: {row['label']} ({row['probability']:.3f})"
    if "value" in row:
        return f"{key}: {row['value']:.4f}"
    # a task's own columns (a forecast's step_1..step_H, ...), as they come
    rest = {k: v for k, v in row.items() if k not in ("index", columns[1])}
    return f"{key}: " + ", ".join(f"{k}={_short(v)}" for k, v in rest.items())


_VALUES = ("label", "probability", "top", "value", "values")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)
