"""`zoo worker`: try multi-worker training on one machine.

Starts N ``zoo train ... --strategy multi-worker`` processes on 127.0.0.1, each with its own
``TF_CONFIG`` (worker 0 is the chief and writes the run folder), streams their output with a
``[worker i]`` prefix, and stops the others as soon as one fails. On a real cluster run the
same ``zoo train`` command once per host instead (docs/distributed.md).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO, Any

import click

HOST = "127.0.0.1"
# absl INFO/WARNING lines TensorFlow's C++ side prints before logging is configured.
_TF_NOISE = re.compile(r"^([IW]\d{4} \d\d:\d\d:\d\d|WARNING: All log messages before absl)")


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_config(ports: Sequence[int], index: int) -> dict[str, Any]:
    """The ``TF_CONFIG`` of local worker ``index`` in a cluster on ``ports``."""
    return {
        "cluster": {"worker": [f"{HOST}:{p}" for p in ports]},
        "task": {"type": "worker", "index": index},
    }


def check_train_args(train_args: Sequence[str], workers: int = 2) -> None:
    """Parse ``train_args`` with `zoo train`'s own options and resolve the model name, so a
    wrong command line is refused here, before any worker starts (not in every worker)."""
    from zoo.catalog import get_catalog
    from zoo.cli.train_cmds import train_cmd
    from zoo.errors import ConfigError

    right_form = f"e.g. `zoo worker -n {workers} cnn-small --epochs 2 --set max_examples=256`"
    try:
        ctx = train_cmd.make_context("train", list(train_args))
    except click.exceptions.Exit:  # --help inside TRAIN_ARGS
        raise ConfigError("`zoo worker` does not take --help after the model", right_form) from None
    except click.UsageError as exc:
        raise ConfigError(
            f"`zoo worker` passes TRAIN_ARGS to `zoo train`, which refuses them: "
            f"{exc.format_message()}",
            right_form,
        ) from None
    name = ctx.params.get("name")
    if name:
        get_catalog().resolve(name)  # unknown model: one line with a suggestion
    elif not ctx.params.get("resume"):
        raise ConfigError("no model given", right_form)


def _has_option(args: Sequence[str], name: str) -> bool:
    return any(a == name or a.startswith(name + "=") for a in args)


def train_command(train_args: Sequence[str]) -> list[str]:
    """The ``zoo train`` command line each worker runs."""
    return [
        sys.executable,
        "-c",
        "from zoo.cli.main import main; main()",
        "train",
        *train_args,
        "--strategy",
        "multi-worker",
    ]


def _pump(index: int, stream: IO[str], out: IO[str], lock: threading.Lock, all_logs: bool) -> None:
    prefix = f"[worker {index}] "
    for line in stream:
        if not all_logs and _TF_NOISE.match(line):
            continue
        with lock:
            out.write(prefix + line if line.endswith("\n") else prefix + line + "\n")
            out.flush()


def _stop(procs: Sequence[subprocess.Popen], grace: float) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def launch(
    train_args: Sequence[str],
    ports: Sequence[int],
    *,
    out: IO[str] | None = None,
    env: dict[str, str] | None = None,
    all_logs: bool = False,
    grace: float = 10.0,
    argv: Sequence[str] | None = None,
) -> int:
    """Run one worker per port until all finish; 0 if all succeed, else the first failure's
    exit code (the other workers are stopped as soon as one fails). ``argv`` replaces the
    `zoo train` command line (tests)."""
    out = out or sys.stdout
    lock = threading.Lock()
    procs: list[subprocess.Popen] = []
    pumps: list[threading.Thread] = []
    base_env = {**os.environ, **(env or {})}
    base_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    base_env["PYTHONUNBUFFERED"] = "1"
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    code = 0
    try:
        for index in range(len(ports)):
            proc = subprocess.Popen(
                list(argv) if argv is not None else train_command(train_args),
                env={**base_env, "TF_CONFIG": json.dumps(tf_config(ports, index))},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            )
            procs.append(proc)
            pump = threading.Thread(
                target=_pump, args=(index, proc.stdout, out, lock, all_logs), daemon=True
            )
            pump.start()
            pumps.append(pump)
        while True:
            failed = [(i, p.returncode) for i, p in enumerate(procs) if p.poll() not in (None, 0)]
            if failed:
                index, code = failed[0]
                with lock:
                    click.echo(
                        f"zoo worker: worker {index} exited with code {code}; "
                        "stopping the other workers",
                        err=True,
                    )
                break
            if all(p.returncode == 0 for p in procs):
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        code = 130
    finally:
        _stop(procs, grace)
        for pump in pumps:
            pump.join(timeout=5)
        signal.signal(signal.SIGTERM, previous)
    return code if code >= 0 else 1


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@click.command(
    "worker",
    context_settings={"ignore_unknown_options": True, "help_option_names": ["-h", "--help"]},
)
@click.option(
    "--workers",
    "-n",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Number of local worker processes.",
)
@click.option(
    "--ports",
    help="Comma-separated ports on 127.0.0.1, one per worker (default: free ports).",
)
@click.option("--all-logs", is_flag=True, help="Also show TensorFlow's C++ INFO/WARNING lines.")
@click.argument("train_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def worker_cmd(
    ctx: click.Context,
    workers: int,
    ports: str | None,
    all_logs: bool,
    train_args: tuple[str, ...],
) -> None:
    """Start N local workers running `zoo train TRAIN_ARGS --strategy multi-worker`.

    \b
    e.g.  zoo worker -n 2 cnn-small --epochs 2 --set max_examples=256
          zoo worker -n 2 train cnn-small --epochs 2   (the same: `train` may be given)
          zoo worker -n 2 --resume runs/cnn-small-20260101-120000
    TRAIN_ARGS are checked before any worker starts. Worker 0 is the chief and writes the
    run folder; without --output/--resume one is chosen here (runs/<model>-<time>) and
    given to every worker.
    """
    from zoo.errors import ConfigError

    train_args = tuple(train_args)
    if train_args[:1] == ("train",):  # `zoo worker -n 2 train cnn-small`: train is implied
        train_args = train_args[1:]
    if not train_args:
        raise ConfigError("no model given", "e.g. `zoo worker -n 2 cnn-small --epochs 2`")
    check_train_args(train_args, workers)
    if _has_option(train_args, "--strategy"):
        raise ConfigError(
            "`zoo worker` always trains with --strategy multi-worker", "drop --strategy"
        )
    if ports:
        try:
            chosen = [int(p) for p in ports.split(",")]
        except ValueError:
            raise ConfigError(
                f"--ports {ports!r} is not a list of ports", "e.g. --ports 2222,2223"
            ) from None
        if len(chosen) != workers or len(set(chosen)) != workers:
            raise ConfigError(
                f"--ports gives {len(chosen)} port(s) for {workers} workers",
                f"give {workers} distinct ports, or omit --ports",
            )
    else:
        chosen = free_ports(workers)
    args = list(train_args)
    if not _has_option(args, "--output") and not _has_option(args, "--resume"):
        if args[0].startswith("-"):
            raise ConfigError("give the model name first", "e.g. `zoo worker cnn --epochs 2`")
        from zoo.runs import new_run_dir

        run_dir = new_run_dir(args[0].partition(":")[0], None)
        args += ["--output", str(run_dir)]
        click.echo(f"zoo worker: run folder {run_dir} (written by worker 0)", err=True)
    click.echo(
        f"zoo worker: {workers} workers on {', '.join(f'{HOST}:{p}' for p in chosen)}", err=True
    )
    code = launch(args, chosen, all_logs=all_logs)
    if code:
        ctx.exit(code)
