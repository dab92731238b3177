"""Reproduce the pretrained weights this plugin ships (``autoencoder:digits``).

    pip install -e .            # the plugin must be installed
    python scripts/train_weights.py

Trains the ``autoencoder`` preset with its registry defaults (seed 0) on the digits through
``zoo.train`` — the same code path as ``zoo train autoencoder`` — copies the final weights
into the package, and rewrites the weights entry of ``registry.toml`` with the file's
sha256, size and the test-split metrics this run measured.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

import zoo

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "zoo_autoencoder"
MODEL, TAG = "autoencoder", "digits"
FILENAME = f"{MODEL}-{TAG}.weights.h5"
BLOCK = re.compile(rf"\[\[models\.{MODEL}\.weights\]\]\n(?:[^\n\[]+\n)*", re.MULTILINE)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = zoo.train(MODEL, seed=0, output=Path(tmp) / "run", verbose=True)
        target = PACKAGE / FILENAME
        shutil.copyfile(run.path / "model.weights.h5", target)
    metrics = {k: round(v, 4) for k, v in run.metrics["test"].items()}
    entry = (
        f"[[models.{MODEL}.weights]]\n"
        f'name = "{TAG}"\n'
        f'source = "package:zoo_autoencoder/{FILENAME}"\n'
        f'sha256 = "{sha256(target)}"\n'
        f"size = {target.stat().st_size}\n"
        f'dataset = "digits"\n'
        f'license = "Apache-2.0"\n'
        "metrics = { " + ", ".join(f"{k} = {v}" for k, v in metrics.items()) + " }\n"
        f'description = "scripts/train_weights.py: seed 0, {run.metrics["epochs_run"]} epochs"\n'
    )
    registry = PACKAGE / "registry.toml"
    text = registry.read_text(encoding="utf-8")
    text = BLOCK.sub(entry, text) if BLOCK.search(text) else text.rstrip("\n") + "\n\n" + entry
    registry.write_text(text, encoding="utf-8")
    print(entry)


if __name__ == "__main__":
    main()
