"""How long ``zoo.load("cnn", weights=...)`` takes beyond ``import tensorflow``.

Goal: <= 0.5 s for the first load in a process that has already imported TensorFlow (it
includes building the catalog, importing the plugin and Keras, building the model and
verifying + reading the weights file).

Uses the shipped ``cnn:digits`` weights when the catalog has them; otherwise it saves a
freshly initialised ``cnn`` to a temporary folder and registers it in a temporary
registry.toml (same file format and code path). Each measurement runs in a fresh process.

    python benchmarks/load_latency.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import tensorflow  # noqa: F401
t1, c1 = time.perf_counter(), time.process_time()
import zoo
model = zoo.load("cnn", weights=sys.argv[1])
t2, c2 = time.perf_counter(), time.process_time()
for _ in range(3):
    zoo.load("cnn", weights=sys.argv[1])
t3 = time.perf_counter()
print(json.dumps({"tensorflow": t1 - t0, "first_load": t2 - t1, "first_load_cpu": c2 - c1,
                  "warm_load": (t3 - t2) / 3,
                  "report": str(model.zoo_load_report).splitlines()[0]}))
"""


def shipped_tag() -> str | None:
    import zoo.catalog

    weights = zoo.catalog.get_catalog().models["cnn"].weights
    return "digits" if "digits" in weights else None


def make_registry(folder: Path) -> Path:
    """Save an untrained ``cnn`` as weights and register it as ``cnn:bench``."""
    code = "import sys, zoo\nzoo.create('cnn', compile=False).save_weights(sys.argv[1])\n"
    weights = folder / "cnn-bench.weights.h5"
    subprocess.run([sys.executable, "-c", code, str(weights)], check=True)
    data = weights.read_bytes()
    registry = folder / "registry.toml"
    registry.write_text(
        "[[models.cnn.weights]]\n"
        'name = "bench"\n'
        f'source = "{weights.name}"\n'
        f'sha256 = "{hashlib.sha256(data).hexdigest()}"\n'
        f"size = {len(data)}\n"
        'dataset = "none (untrained, benchmark only)"\n'
    )
    return registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes to measure")
    args = parser.parse_args()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    with tempfile.TemporaryDirectory() as tmp:
        env["ZOO_HOME"] = str(Path(tmp) / "home")
        tag = shipped_tag()
        if tag is None:
            registry = make_registry(Path(tmp))
            env["ZOO_REGISTRY"] = os.pathsep.join(
                p for p in (os.environ.get("ZOO_REGISTRY"), str(registry)) if p
            )
            tag = "bench"
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, tag], env=env, capture_output=True, text=True
            )
            if out.returncode != 0:
                sys.exit(f"benchmark child failed:\n{out.stderr}")
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"weights: cnn:{tag} ({runs[0]['report']})")
    for key, label in (
        ("tensorflow", "import tensorflow"),
        ("first_load", "first zoo.load after import tensorflow"),
        ("first_load_cpu", "  its CPU time (all threads)"),
        ("warm_load", "further zoo.load in the same process"),
    ):
        values = [r[key] for r in runs]
        print(
            f"{label:40s} median {statistics.median(values):.3f} s  "
            f"(min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"
        )
    first = statistics.median(r["first_load"] for r in runs)
    print(f"goal <= 0.5 s for the first load: {'met' if first <= 0.5 else 'NOT met'}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"(wall-clock figures depend on other load: 1-minute load average {load:.2f})")


if __name__ == "__main__":
    main()
