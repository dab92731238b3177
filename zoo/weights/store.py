"""The weights store: find, download, verify and cache the weight files of the catalog.

A weights entry's ``source`` is one of

* ``package:<dotted.package>/<file>`` - a file inside an installed package (the built-in
  weights live in ``zoo.plugins.weights``);
* a local path, absolute or relative to the registry file that declared the entry;
* an ``https://`` or ``http://`` URL, downloaded into the cache folder.

Every file is checked against the entry's size and full sha256 each time it is handed out,
wherever it comes from. Downloads are content-addressed in the cache
(``<cache>/weights/<sha256>/<file name>``), written to a temporary file next to their final
place and renamed only once verified, under a per-file lock so that two processes fetching
the same file download it once. ``ZOO_OFFLINE=1`` opens no connection.

The cache folder is ``platformdirs.user_cache_dir("zoo")``, or ``$ZOO_HOME`` when set.
Imports no TensorFlow.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from zoo.catalog.registry import SHA_RE, WeightsEntry
from zoo.catalog.registry import parse_source as parse_source_text
from zoo.errors import RegistryError, WeightsError
from zoo.weights import pins

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
LOCK_TIMEOUT = 600.0  # seconds a process waits for another one's download of the same file


# ------------------------------------------------------------------------------- locations
def cache_root() -> Path:
    """The zoo's cache folder: ``$ZOO_HOME`` or the platform's user cache folder."""
    home = os.environ.get("ZOO_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("zoo"))


def weights_dir() -> Path:
    return cache_root() / "weights"


def offline() -> bool:
    """``ZOO_OFFLINE=1`` (or true/yes/on): never open a network connection."""
    return os.environ.get("ZOO_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Source:
    """Where a weights entry's file comes from."""

    kind: str  # "package" | "local" | "url"
    location: str  # dotted package + file, absolute path, or URL
    filename: str

    @property
    def remote(self) -> bool:
        return self.kind == "url"


def parse_source(entry: WeightsEntry) -> Source:
    """Classify ``entry.source`` (validated like the registry does when it loads):
    relative paths are resolved against ``entry.origin``, ``file://`` URLs are paths."""
    try:
        spec = parse_source_text(entry.source, entry.origin, f"weights '{entry.name}'")
    except RegistryError as exc:
        raise WeightsError(exc.message, exc.hint) from None
    if spec.kind == "url" and entry.format == pins.LEGACY_FORMAT:
        return Source(spec.kind, spec.location, pins.legacy_filename(spec.filename))
    return Source(spec.kind, spec.location, spec.filename)


def cache_path(entry: WeightsEntry, source: Source | None = None) -> Path:
    """Where a downloaded file of ``entry`` lives once verified."""
    source = source or parse_source(entry)
    folder = entry.sha256 if entry.pinned else pins.key(entry)  # pins.py: published hash only
    return weights_dir() / folder / source.filename


def package_file(source: Source) -> Path | None:
    """The file of a ``package:`` source on disk, or None if the package or file is absent.

    The package's folder is found from its top-level package's location without importing
    anything (listing weights runs no plugin code); only a package the file system walk
    cannot find (inside a zip archive, or mapped by an editable install) is imported."""
    package, _, filename = source.location.partition("/")
    folder = _package_dir(package)
    if folder is not None:
        path = folder / filename
        return path if path.is_file() else None
    try:
        resource = importlib.resources.files(package) / filename
    except (ImportError, TypeError, ValueError):
        return None
    if not resource.is_file():
        return None
    if isinstance(resource, Path):
        return resource
    # A package inside a zip archive: copy the file out into the cache (verified later).
    target = weights_dir() / "package" / package / filename
    if not target.is_file():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{filename}.{os.getpid()}.tmp")
            tmp.write_bytes(resource.read_bytes())
            os.replace(tmp, target)
        except OSError as exc:
            raise cache_error(exc, target) from None
    return target


def _package_dir(package: str) -> Path | None:
    """The folder of a regular package, found on the file system (nothing imported)."""
    import importlib.util

    top, *rest = package.split(".")
    try:
        spec = importlib.util.find_spec(top)  # a top-level name: found, not imported
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None  # absent, or a module (not a package: no files of its own)
    for base in spec.submodule_search_locations:
        folder = Path(base, *rest)
        if folder.is_dir() and (not rest or (folder / "__init__.py").is_file()):
            return folder
    return None


def cache_error(exc: OSError, path: Path) -> WeightsError:
    """A cache folder that cannot be written (``ZOO_HOME`` under a file, a full disk)."""
    where = exc.filename or path
    return WeightsError(
        f"cannot write to the zoo cache folder {cache_root()}: {where}: {exc.strerror or exc}",
        "set ZOO_HOME to a writable folder with free space",
    )


def local_copy(entry: WeightsEntry) -> Path | None:
    """The file of ``entry`` if it is already on this machine (not verified)."""
    source = parse_source(entry)
    if source.kind == "package":
        return package_file(source)
    path = Path(source.location) if source.kind == "local" else cache_path(entry, source)
    return path if path.is_file() else None


# -------------------------------------------------------------------------- verification
def file_digest(path: Path) -> tuple[str, int]:
    """(sha256 hex digest, size in bytes) of a file."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_file(path: Path, sha256: str, size: int, label: str) -> None:
    """Raise WeightsError naming the file, expected and actual digest if it does not match."""
    actual_sha, actual_size = file_digest(path)
    if actual_sha != sha256 or actual_size != size:
        raise WeightsError(
            f"{label}: {path} is corrupt: expected sha256 {sha256} ({size} bytes), "
            f"got sha256 {actual_sha} ({actual_size} bytes)",
            "delete it and fetch again; if it persists the source or the registry entry is wrong",
        )


# ----------------------------------------------------------------------------- fetching
def fetch(entry: WeightsEntry, label: str = "", *, progress: bool | None = None) -> Path:
    """The verified local path of ``entry``'s file, downloading it into the cache if needed.

    ``label`` names the weights in messages (``cnn:digits``); ``progress`` shows a progress
    bar for downloads (default: when stderr is a terminal).
    """
    label = label or entry.name
    source = parse_source(entry)
    if source.kind == "package":
        path = package_file(source)
        if path is None:
            raise WeightsError(
                f"weights {label}: file '{source.filename}' is missing from package "
                f"'{source.location.partition('/')[0]}'",
                "reinstall the package that ships it",
            )
        verify_file(path, entry.sha256, entry.size, f"weights {label}")
        return path
    if source.kind == "local":
        path = Path(source.location)
        if not path.is_file():
            raise WeightsError(
                f"weights {label}: file {path} does not exist",
                f"fix 'source' of {label} in {entry.origin or 'its registry'}",
            )
        verify_file(path, entry.sha256, entry.size, f"weights {label}")
        return path
    return _fetch_url(entry, source, label, progress)


def _fetch_url(entry: WeightsEntry, source: Source, label: str, progress: bool | None) -> Path:
    target = cache_path(entry, source)
    if target.is_file() and _cached_ok(target, entry, label):
        return target
    if offline():
        raise WeightsError(
            f"weights {label} ({source.filename}) are not in the cache {target.parent} and "
            "ZOO_OFFLINE is set",
            f"run `zoo weights fetch {label}` with network access, or unset ZOO_OFFLINE",
        )
    from filelock import FileLock, Timeout

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cache_error(exc, target.parent) from None
    lock = FileLock(str(target.parent / ".lock"))
    try:
        with lock.acquire(timeout=LOCK_TIMEOUT):
            # Another process may have downloaded it while we waited for the lock. Only a
            # lock holder deletes or replaces the file, so a reader never loses a good copy.
            if target.is_file():
                if _cached_ok(target, entry, label):
                    return target
                log.warning("weights %s: %s is corrupt; fetching it again", label, target)
                target.unlink(missing_ok=True)
            for stale in target.parent.glob(".*.part"):  # left by a killed download
                stale.unlink(missing_ok=True)
            if entry.pinned:
                from zoo.weights.download import download

                assert entry.size is not None
                download(source.location, target, entry.sha256, entry.size, label, progress)
            else:
                _download_unpinned(entry, source, target, label, progress)
    except Timeout:
        raise WeightsError(
            f"weights {label}: waited {LOCK_TIMEOUT:.0f}s for another process downloading it",
            f"if no zoo process is running, delete {lock.lock_file}",
        ) from None
    except OSError as exc:  # the lock file or the temporary file cannot be written
        raise cache_error(exc, target) from None
    return target


def _cached_ok(target: Path, entry: WeightsEntry, label: str) -> bool:
    """Whether a cached file verifies; offline, a corrupt one is an error (no repair)."""
    try:
        if entry.pinned:
            assert entry.size is not None
            verify_file(target, entry.sha256, entry.size, f"weights {label}")
        else:
            _verify_unpinned(target, entry, label)
        return True
    except WeightsError as exc:
        if offline():
            raise WeightsError(
                exc.message, f"run `zoo weights fetch {label}` with network access"
            ) from None
        return False


def _download_unpinned(
    entry: WeightsEntry, source: Source, target: Path, label: str, progress: bool | None
) -> None:
    """Download a file known only by its publisher's hash, check that hash, pin it."""
    from zoo.weights.download import download_unpinned

    def check(tmp: Path) -> pins.Pin:
        return pins.check_published(tmp, entry, label)

    pin = download_unpinned(
        source.location, target, pins.MAX_UNPINNED_BYTES, label, progress, check
    )
    pins.Manifest(weights_dir()).put(pins.key(entry), pin, entry.source)


def _verify_unpinned(target: Path, entry: WeightsEntry, label: str) -> None:
    """A cached file of an unpinned entry against its pin; without a pin (the manifest was
    lost), against the published hash, and pinned again."""
    manifest = pins.Manifest(weights_dir())
    pin = manifest.get(pins.key(entry))
    if pin is None:
        manifest.put(pins.key(entry), pins.check_published(target, entry, label), entry.source)
        return
    verify_file(target, pin.sha256, pin.size, f"weights {label}")


# ---------------------------------------------------------------------------- the cache
@dataclass
class CachedFile:
    path: Path
    sha256: str  # expected: the content-address folder name
    actual: str
    size: int

    @property
    def ok(self) -> bool:
        return self.sha256 == self.actual


def cached_files() -> Iterator[Path]:
    """Every downloaded weights file in the cache (temporary and lock files excluded)."""
    root = weights_dir()
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if folder.is_dir() and SHA_RE.match(folder.name):
            for path in sorted(folder.iterdir()):
                if path.is_file() and not path.name.startswith("."):
                    yield path


def verify_cache() -> list[CachedFile]:
    """Re-hash every downloaded file; each file's expected sha256 is its folder name."""
    results = []
    for path in cached_files():
        actual, size = file_digest(path)
        results.append(CachedFile(path, path.parent.name, actual, size))
    results += pins.verify_folders(weights_dir(), CachedFile)
    return results


def entry_label(model: str, entry: WeightsEntry) -> str:
    return f"{model}:{entry.name}"
