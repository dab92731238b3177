"""How fast and light are the catalog commands compared with importing TensorFlow?

Runs, in one process on the same machine, each of ``zoo list``, ``zoo info cnn``,
``zoo --help`` and ``python -c "import tensorflow"`` several times as fresh subprocesses and
prints the first (cold) and median wall time, the median CPU time (user + system, less
sensitive to a busy machine) and the peak RSS of each, then the ratio
``zoo list`` / TensorFlow import and whether the goals are met:

    zoo list <= 0.25 s, <= 0.08 x the TensorFlow import, peak RSS <= 80 MB.

Peak RSS is the child's own ``ru_maxrss`` from ``os.wait4`` (median and maximum over the
runs). The first run is only as cold as the OS page cache allows (it is not dropped). The
commands run round-robin (one run of each, then the next round), so a change in the
machine's load hits every row alike. Exit code 1 when a goal is missed.

``--before REV`` adds a row ``zoo list (before)``: the ``zoo list`` of an older commit, run
in the same rounds with the same python, e.g. ``--before auto``, the parent of the first
commit that touched ``plugins/applications`` (the zoo before the applications plugin). How:

1. ``git worktree add --detach <tmp>/zoo-before REV``;
2. the editable install maps ``zoo.cli`` and ``zoo.plugins`` to *this* tree's ``cli/`` and
   ``plugins/`` through a meta-path finder that runs after the ordinary path finder, so
   ``PYTHONPATH=<tmp>/zoo-before`` alone would mix the old core with today's CLI and
   plugins. Two symlinks in the worktree, ``zoo/cli -> ../cli`` and ``zoo/plugins ->
   ../plugins``, give the old ``zoo`` package the installed layout, and the path finder
   finds all three packages there first;
3. plugins are discovered from the ``zoo.plugins`` entry points of the installed
   distribution, which today name ``applications`` (and the editable finder would find it
   in this tree). A shadow ``keras_zoo-0.1.0.dist-info`` (this install's METADATA, the old
   commit's ``[project.entry-points]`` from its pyproject.toml) in a folder put on
   ``PYTHONPATH`` before the worktree comes before site-packages, and
   ``importlib.metadata`` keeps the first distribution of a name;
4. the same ``zoo`` console script is run with ``PYTHONPATH=<shim>:<worktree>``. The
   script checks, before timing, that ``zoo``, ``zoo.cli`` and ``zoo.plugins`` import from
   the worktree and that the old listing names no applications model;
5. afterwards the symlinks are deleted and ``git worktree remove`` removes the worktree.

    python benchmarks/list_latency.py [--runs 5] [--tf-runs 3] [--before auto|REV]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

from _common import machine

GOAL_SECONDS = 0.25
GOAL_RATIO = 0.08
GOAL_RSS_MB = 80.0


REPO = Path(__file__).resolve().parent.parent


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def before_applications() -> str:
    """The parent of the first commit that touched plugins/applications."""
    first = git("log", "--format=%H", "--", "plugins/applications").splitlines()[-1]
    return git("rev-parse", f"{first}^")


def shadow_dist_info(folder: Path, tree: Path) -> None:
    """A keras_zoo dist-info with this install's METADATA and the old tree's entry points."""
    import importlib.metadata as md

    dist = md.distribution("keras-zoo")
    info = folder / f"keras_zoo-{dist.version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(dist.read_text("METADATA") or "")
    project = tomllib.loads((tree / "pyproject.toml").read_text())["project"]
    lines = ["[console_scripts]"]
    lines += [f"{k} = {v}" for k, v in project.get("scripts", {}).items()]
    for group, points in project.get("entry-points", {}).items():
        lines += ["", f"[{group}]", *(f"{k} = {v}" for k, v in points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@contextlib.contextmanager
def old_tree(rev: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(short rev, extra environment) running the zoo of ``rev``; cleans up afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="zoo-before-"))
    tree, shim = tmp / "zoo-before", tmp / "shim"
    git("worktree", "add", "--detach", str(tree), rev)
    links = [tree / "zoo" / "cli", tree / "zoo" / "plugins"]
    try:
        for link in links:
            link.symlink_to(Path("..") / link.name)
        shadow_dist_info(shim, tree)
        yield git("rev-parse", "--short", rev), {"PYTHONPATH": f"{shim}{os.pathsep}{tree}"}
    finally:
        for link in links:
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
        git("worktree", "remove", str(tree))
        shutil.rmtree(tmp, ignore_errors=True)


def check_old(env: dict[str, str], zoo: str) -> int:
    """The old tree's packages are imported from the worktree and list no applications model;
    returns the number of lines ``zoo list`` prints."""
    tree = env["PYTHONPATH"].split(os.pathsep)[-1]
    code = (
        "import importlib.metadata as md, zoo, zoo.cli, zoo.plugins;"
        "print(zoo.__file__, zoo.cli.__file__, zoo.plugins.__file__);"
        "print(sorted(e.name for e in md.entry_points(group='zoo.plugins')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout
    files = out.splitlines()[0].split()
    if not all(f.startswith(tree) for f in files):
        raise SystemExit(f"the old tree is not what runs: {files}")
    listing = subprocess.run([zoo, "list"], env=env, check=True, capture_output=True, text=True)
    if "applications" in out.splitlines()[1] or "resnet50" in listing.stdout:
        raise SystemExit("the old tree still sees the applications plugin")
    print(f"before: zoo, zoo.cli, zoo.plugins from {tree}; plugins {out.splitlines()[1]}")
    return len(listing.stdout.splitlines())


def zoo_script() -> str:
    return str(Path(sys.executable).with_name("zoo"))


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak RSS (MB) of one run of ``cmd``; fails if it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux: KB


def bench(cases: dict[str, tuple[list[str], int, dict[str, str]]]) -> dict[str, dict[str, float]]:
    """Round-robin: one run of every case per round, until each has its number of runs."""
    samples: dict[str, list[tuple[float, float, float]]] = {label: [] for label in cases}
    for round_ in range(max(runs for _, runs, _ in cases.values())):
        for label, (cmd, runs, env) in cases.items():
            if round_ < runs:
                samples[label].append(measure(cmd, env))
    results = {}
    for label, runs in samples.items():
        walls = [w for w, _, _ in runs]
        results[label] = {
            "cold": walls[0],
            "median": statistics.median(walls),
            "cpu": statistics.median(c for _, c, _ in runs),
            "rss": statistics.median(r for _, _, r in runs),
            "rss_max": max(r for _, _, r in runs),
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each zoo command")
    parser.add_argument("--tf-runs", type=int, default=3, help="runs of the TensorFlow import")
    parser.add_argument(
        "--before",
        metavar="REV",
        help="also time the zoo list of commit REV ('auto': before the applications plugin)",
    )
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("ZOO_")}
    env.pop("PYTHONPATH", None)
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    zoo = zoo_script()
    print(f"machine: {machine()}; HEAD {git('rev-parse', '--short', 'HEAD')}")
    with contextlib.ExitStack() as stack:
        cases = {"zoo list": ([zoo, "list"], args.runs, env)}
        if args.before:
            rev = before_applications() if args.before == "auto" else args.before
            short, extra = stack.enter_context(old_tree(rev))
            old_env = {**env, **extra}
            old_lines = check_old(old_env, zoo)
            now_lines = len(
                subprocess.run(
                    [zoo, "list"], env=env, capture_output=True, text=True, check=True
                ).stdout.splitlines()
            )
            print(f"zoo list prints {now_lines} lines now, {old_lines} at {short}")
            cases[f"zoo list ({short})"] = ([zoo, "list"], args.runs, old_env)
        cases["zoo info cnn"] = ([zoo, "info", "cnn"], args.runs, env)
        cases["zoo --help"] = ([zoo, "--help"], args.runs, env)
        cases["import tensorflow"] = (
            [sys.executable, "-c", "import tensorflow"],
            args.tf_runs,
            env,
        )
        results = bench(cases)

    tf = results["import tensorflow"]
    print(
        f"\n{'command':<22} {'cold s':>7} {'median s':>9} {'cpu s':>7} {'RSS MB':>7} "
        f"{'max RSS':>8} {'s / TF':>7} {'RSS / TF':>9}  runs"
    )
    for label, r in results.items():
        print(
            f"{label:<22} {r['cold']:>7.3f} {r['median']:>9.3f} {r['cpu']:>7.3f} "
            f"{r['rss']:>7.1f} {r['rss_max']:>8.1f} {r['median'] / tf['median']:>6.3f}x "
            f"{r['rss'] / tf['rss']:>8.3f}x  {cases[label][1]}"
        )
    print(
        f"(wall and CPU: medians; RSS: median of each run's peak RSS; load average "
        f"{os.getloadavg()[0]:.1f} at the end on {os.cpu_count()} CPUs)"
    )

    listing = results["zoo list"]
    time_ratio = listing["median"] / tf["median"]
    rss_ratio = listing["rss"] / tf["rss"]
    goals = [
        (f"zoo list median <= {GOAL_SECONDS} s", listing["median"] <= GOAL_SECONDS),
        (
            f"zoo list wall <= {GOAL_RATIO}x TensorFlow import ({time_ratio:.3f}x)",
            time_ratio <= GOAL_RATIO,
        ),
        (
            f"zoo list peak RSS <= {GOAL_RATIO}x TensorFlow import ({rss_ratio:.3f}x)",
            rss_ratio <= GOAL_RATIO,
        ),
        (
            f"peak RSS of zoo commands <= {GOAL_RSS_MB:.0f} MB",
            max(results[k]["rss_max"] for k in results if k.startswith("zoo")) <= GOAL_RSS_MB,
        ),
    ]
    print()
    for text, ok in goals:
        print(f"  {'met   ' if ok else 'MISSED'}  {text}")
    return 0 if all(ok for _, ok in goals) else 1


if __name__ == "__main__":
    raise SystemExit(main())
