"""Upstream weight files that their publisher identifies only by a hash, pinned on first use.

Keras publishes its ImageNet weights with an MD5 (sha256 for ConvNeXt) and no size. A
registry entry may carry just that (``md5 = ...``, or ``sha256`` without ``size``): the
store then checks the published hash on download, and records the file's full sha256 and
size in the cache manifest (``<cache>/weights/manifest.json``); from then on the file is
checked against that pin, like any pinned file, every time it is handed out. A cached file
without a pin (a manifest deleted by hand) is checked against the published hash again
before it is pinned. Nothing unverified is ever handed out.

Such files live in ``<cache>/weights/<algorithm>-<published digest>/<file name>``. This
module holds the manifest and the layout; the fetching is the store's (``store.py``).
Imports no TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from zoo.catalog.registry import WeightsEntry
from zoo.errors import WeightsError

MANIFEST = "manifest.json"
LEGACY_FORMAT = "keras-legacy-h5"
FOLDER_RE = re.compile(r"^(md5|sha256)-([0-9a-f]{32}|[0-9a-f]{64})$")
MAX_UNPINNED_BYTES = 4 << 30  # no published size: a download stops at 4 GiB
_CHUNK = 1 << 20
T = TypeVar("T")


@dataclass(frozen=True)
class Pin:
    sha256: str
    size: int


def published(entry: WeightsEntry) -> tuple[str, str]:
    """(algorithm, digest) the publisher gives for an entry without ``size``."""
    if entry.md5:
        return "md5", entry.md5
    return "sha256", entry.sha256


def key(entry: WeightsEntry) -> str:
    """The manifest key and cache folder name of an unpinned entry: ``md5-<digest>``."""
    algorithm, digest = published(entry)
    return f"{algorithm}-{digest}"


def legacy_filename(filename: str) -> str:
    """The cache file name of a legacy ``.h5`` weights file: Keras reads the legacy layout
    only from a name ending in ``.h5`` but not in ``.weights.h5`` (the store's default
    name for URLs adds ``.weights.h5``, which is removed again here)."""
    if filename.endswith(".weights.h5"):
        filename = filename[: -len(".weights.h5")]
    if filename.endswith(".weights.h5"):  # the upstream name itself ends so
        return filename[: -len(".weights.h5")] + ".weights-legacy.h5"
    return filename if filename.endswith((".h5", ".hdf5")) else filename + ".h5"


def digests(path: Path, algorithm: str) -> tuple[str, str, int]:
    """(published-algorithm digest, sha256, size) of a file, read once."""
    sha = hashlib.sha256()
    other = hashlib.new(algorithm) if algorithm != "sha256" else None
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            if other is not None:
                other.update(chunk)
            size += len(chunk)
    return (other or sha).hexdigest(), sha.hexdigest(), size


def check_published(path: Path, entry: WeightsEntry, label: str) -> Pin:
    """The pin of a file that matches the digest its publisher gives; WeightsError naming
    both digests otherwise."""
    algorithm, expected = published(entry)
    actual, sha256, size = digests(path, algorithm)
    if actual != expected:
        raise WeightsError(
            f"weights {label}: {path} does not match the published {algorithm} {expected} "
            f"(got {actual}, {size} bytes)",
            "the file on the server changed or the registry entry is wrong; it was discarded",
        )
    return Pin(sha256, size)


class Manifest:
    """``manifest.json`` in the weights folder: published key -> pinned sha256 and size.

    Writes are atomic (temporary file + rename) under a lock, so two processes pinning
    different files never lose each other's pins."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / MANIFEST

    def _read(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return {}  # a damaged manifest pins nothing: files are re-checked, then re-pinned
        return data if isinstance(data, dict) else {}

    def get(self, name: str) -> Pin | None:
        item = self._read().get(name)
        if not isinstance(item, dict):
            return None
        sha256, size = item.get("sha256"), item.get("size")
        if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
            return None
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            return None
        return Pin(sha256, size)

    def put(self, name: str, pin: Pin, source: str) -> None:
        from filelock import FileLock

        self.folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.folder / f".{MANIFEST}.lock")).acquire(timeout=60):
            data = self._read()
            data[name] = {"sha256": pin.sha256, "size": pin.size, "source": source}
            tmp = self.folder / f".{MANIFEST}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)


def verify_folders(root: Path, record: Callable[[Path, str, str, int], T]) -> list[T]:
    """``record(path, expected sha256, actual sha256, size)`` for every cached file of an
    unpinned entry: expected is its pin, or - without one - its own sha256 when it matches
    the published digest its folder is named after (else that published digest)."""
    out: list[T] = []
    if not root.is_dir():
        return out
    manifest = Manifest(root)
    for folder in sorted(root.iterdir()):
        match = FOLDER_RE.match(folder.name)
        if not folder.is_dir() or match is None:
            continue
        algorithm, digest = match.groups()
        pin = manifest.get(folder.name)
        files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        for path in files:
            actual, sha256, size = digests(path, algorithm)
            if pin is not None:
                expected = pin.sha256
            else:
                expected = sha256 if actual == digest else f"({algorithm} {digest})"
            out.append(record(path, expected, sha256, size))
    return out
