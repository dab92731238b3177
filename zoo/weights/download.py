"""Download one weights file over HTTP(S) with urllib: temp file, verify, rename.

The caller holds the per-file lock. Nothing is left behind on failure: the temporary file
is deleted whatever goes wrong, and the final path appears only once the size and sha256
match (``os.replace`` is atomic within one folder).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO, TypeVar

from zoo import __version__
from zoo.errors import WeightsError

_CHUNK = 1 << 16
T = TypeVar("T")


def timeout() -> float:
    """Seconds to wait for the server at connect and between reads (``ZOO_TIMEOUT``)."""
    try:
        return float(os.environ.get("ZOO_TIMEOUT", "30"))
    except ValueError:
        raise WeightsError(
            f"ZOO_TIMEOUT={os.environ['ZOO_TIMEOUT']!r} is not a number", "set it in seconds"
        ) from None


def download(
    url: str, target: Path, sha256: str, size: int, label: str, progress: bool | None = None
) -> None:
    """Fetch ``url`` into ``target`` if it has exactly ``size`` bytes and digest ``sha256``."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            actual_sha, actual_size = _copy(url, out, size, label, progress)
            out.flush()
            os.fsync(out.fileno())
        if actual_sha != sha256 or actual_size != size:
            raise WeightsError(
                f"weights {label}: download of {url} does not match: expected sha256 {sha256} "
                f"({size} bytes), got sha256 {actual_sha} ({actual_size} bytes); discarded",
                "the file on the server changed or the registry entry is wrong",
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def download_unpinned(
    url: str,
    target: Path,
    max_size: int,
    label: str,
    progress: bool | None,
    check: Callable[[Path], T],
) -> T:
    """Fetch ``url``, whose size and sha256 are not known beforehand (at most ``max_size``
    bytes), into ``target``: ``check(temporary file)`` verifies it (raising WeightsError)
    before the rename, and its result is returned."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _copy(url, out, max_size, label, progress)
            out.flush()
            os.fsync(out.fileno())
        result = check(tmp)
        os.replace(tmp, target)
        return result
    finally:
        tmp.unlink(missing_ok=True)


def _copy(url: str, out: BinaryIO, size: int, label: str, progress: bool | None) -> tuple[str, int]:
    request = urllib.request.Request(url, headers={"User-Agent": f"keras-zoo/{__version__}"})
    digest = hashlib.sha256()
    written = 0
    fail = f"weights {label}: download of {url} failed"
    try:
        with ExitStack() as stack:
            response = stack.enter_context(urllib.request.urlopen(request, timeout=timeout()))
            if progress is None:
                progress = sys.stderr.isatty()
            bar = None
            if progress:
                import click

                announced = response.headers.get("Content-Length", "")
                length = min(size, int(announced)) if announced.isdigit() else size
                bar = stack.enter_context(
                    click.progressbar(length=length, label=f"fetching {label}", file=sys.stderr)
                )
            while chunk := response.read(_CHUNK):
                written += len(chunk)
                if written > size:
                    raise WeightsError(
                        f"{fail}: the server sent more than the expected {size} bytes",
                        "the file on the server changed or the registry entry is wrong",
                    )
                digest.update(chunk)
                try:
                    out.write(chunk)
                except OSError as exc:  # a full disk is not a network error
                    raise WeightsError(
                        f"weights {label}: cannot write {out.name}: {exc.strerror or exc}",
                        "free disk space, or set ZOO_HOME to a folder with free space",
                    ) from None
                if bar is not None:
                    bar.update(len(chunk))
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and written < int(declared):
                raise WeightsError(
                    f"{fail}: the connection closed after {written} of {declared} bytes",
                    "try again",
                )
    except urllib.error.HTTPError as exc:
        raise WeightsError(
            f"{fail}: HTTP {exc.code} {exc.reason}", "try again later or check the URL"
        ) from None
    except urllib.error.URLError as exc:
        raise WeightsError(f"{fail}: {exc.reason}", "check the network and the URL") from None
    except http.client.IncompleteRead as exc:
        raise WeightsError(
            f"{fail}: the connection closed after {written + len(exc.partial)} of {size} bytes",
            "try again",
        ) from None
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
        raise WeightsError(f"{fail}: {reason}", "check the network and try again") from None
    return digest.hexdigest(), written
