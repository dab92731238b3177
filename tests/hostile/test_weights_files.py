"""Hostile weights files (issue 16, classes 2 and 3) and an unwritable cache folder.

Class 2: a tiny ``.weights.h5`` can declare a huge compressed dataset; zoo compares every
dataset's shape and dtype from the HDF5 metadata with the model before Keras reads an
array, so the crafted file is one error and memory stays flat.

Class 3: a damaged file that passes its hash (its own sha256 declared in a registry), a file
passed by path, a zip archive with an HDF5 header in front: one line naming the file and what
to do, never an h5py ``OSError`` traceback.

Also: a ``ZOO_HOME`` under a regular file is one line naming the path.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import tomli_w
from conftest import clean_env, run_zoo, zoo_script

import zoo
from hostile.common import assert_one_line_error
from zoo.errors import WeightsError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


# ------------------------------------------------------------------------------ helpers
def mlp_weights(path: Path) -> Path:
    """A real weights file of the built-in ``mlp`` (7,114 values)."""
    zoo.create("mlp", compile=False).save_weights(str(path))
    return path


def bomb(path: Path, shape: tuple[int, int] = (20000, 20000), where: str = "layers") -> Path:
    """A Keras-layout file whose ``dense`` kernel is a ``shape`` float32 array of zeros,
    gzip-compressed chunk by chunk: ~1.5 MB on disk, 1.6 GB once read."""
    chunk = (min(2000, shape[0]), min(2000, shape[1]))
    zeros = zlib.compress(bytes(4 * chunk[0] * chunk[1]), 9)  # HDF5's deflate is zlib
    with h5py.File(path, "w") as f:
        group = f.create_group(f"{where}/dense/vars")
        data = group.create_dataset("0", shape=shape, dtype="<f4", chunks=chunk, compression="gzip")
        for i in range(0, shape[0], chunk[0]):
            for j in range(0, shape[1], chunk[1]):
                data.id.write_direct_chunk((i, j), zeros)
        f.create_group("vars")
    return path


def run_folder(path: Path, weights: Path) -> Path:
    """A finished ``mlp`` run folder whose final weights are ``weights``."""
    path.mkdir(parents=True)
    run = {"model": "mlp", "architecture": "mlp", "status": "complete", "seed": 0}
    (path / "run.toml").write_text(tomli_w.dumps({"run": run}))
    (path / "data_state.json").write_text("{}")
    (path / "model.weights.h5").write_bytes(weights.read_bytes())
    return path


def user_registry(tmp_path: Path, tag: str, weights: Path) -> Path:
    """A registry layer declaring ``mlp:<tag>`` with ``weights``' own sha256 and size (what
    `zoo weights hash` prints for it)."""
    data = weights.read_bytes()
    entry = {
        "name": tag,
        "source": weights.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    path = weights.parent / "registry.toml"
    path.write_text(tomli_w.dumps({"schema_version": 1, "models": {"mlp": {"weights": [entry]}}}))
    return path


def truncated(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    return target


def one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text and "Traceback" not in text
    return text


# ---------------------------------------------------------------------- class 2: memory
@pytest.mark.slow  # over 7 s: kept out of the quick run (pytest -m 'not slow')
def test_crafted_file_is_refused_before_any_read_with_flat_memory(tmp_path: Path) -> None:
    """`zoo evaluate` of a run whose final weights declare a (20000, 20000) dataset: one line,
    exit 2, and the process's peak RSS stays far below the 1.6 GB the array would take."""
    crafted = bomb(tmp_path / "crafted.weights.h5")
    assert crafted.stat().st_size < 2_000_000
    run = run_folder(tmp_path / "run", crafted)
    # A fresh interpreter runs the command, so RUSAGE_CHILDREN measures that command only.
    measure = (
        "import json, resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=240)\n"
        "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps({'code': p.returncode, 'err': p.stderr, 'rss_kb': rss}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", measure, zoo_script(), "evaluate", str(run)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    result = json.loads(proc.stdout)
    line = assert_one_line_error(result["code"], result["err"], str(run), "(20000, 20000)")
    assert "do not fit model 'mlp'" in line
    peak_mb = result["rss_kb"] / 1024
    print(f"peak RSS of `zoo evaluate` on the crafted file: {peak_mb:.0f} MB")
    assert peak_mb < 1024, f"peak RSS {peak_mb:.0f} MB"


def test_crafted_file_passed_to_load_names_file_and_shape(tmp_path: Path) -> None:
    crafted = bomb(tmp_path / "crafted.weights.h5", shape=(4000, 4000))
    with pytest.raises(WeightsError) as exc:
        zoo.load("mlp", weights=crafted)
    text = one_line(exc)
    assert str(crafted) in text and "/layers/dense/vars/0" in text and "(4000, 4000)" in text


def test_many_datasets_of_a_valid_shape_exceed_what_the_model_needs(tmp_path: Path) -> None:
    path = mlp_weights(tmp_path / "padded.weights.h5")
    with h5py.File(path, "a") as f:
        for i in range(300):  # 300 x 6,400 values: far more than mlp's 7,114
            f.create_dataset(f"layers/extra_{i}/vars/0", shape=(100, 64), dtype="<f4")
    with pytest.raises(WeightsError) as exc:
        zoo.load("mlp", weights=path)
    text = one_line(exc)
    assert str(path) in text and "declares 1927114 values, the model has 7114" in text


def test_non_numeric_dataset_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "strings.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.array([b"x" * 64] * 100))
        f.create_group("vars")
    with pytest.raises(WeightsError) as exc:
        zoo.load("mlp", weights=path)
    assert "not numbers" in one_line(exc) and str(path) in str(exc.value)


def test_huge_optimizer_dataset_is_never_read_into_a_model_without_optimizer(
    tmp_path: Path,
) -> None:
    """The documented recovery: zoo loads weights into uncompiled models, which Keras never
    gives the file's optimizer state, so those datasets are not read (and do not count)."""
    path = mlp_weights(tmp_path / "withopt.weights.h5")
    with h5py.File(path, "a") as f:
        f.create_dataset(
            "optimizer/vars/0", shape=(4000, 4000), dtype="<f4", chunks=True, compression="gzip"
        )
    model = zoo.load("mlp", weights=path)
    assert model.zoo_load_report.complete


# ------------------------------------------------------------ class 3: damaged files
def test_truncated_file_that_passes_its_registry_hash_is_one_line_at_the_cli(
    tmp_path: Path,
) -> None:
    good = mlp_weights(tmp_path / "good.weights.h5")
    bad = truncated(good, tmp_path / "bad.weights.h5")
    registry = user_registry(tmp_path, "bad", bad)
    code, _, err = run_zoo("--registry", str(registry), "weights", "verify", "--catalog")
    assert code == 0, err  # its hash is right: only opening it shows the damage
    code, _, err = run_zoo("--registry", str(registry), "evaluate", "mlp:bad")
    line = assert_one_line_error(code, err, str(bad), "is damaged")
    assert "download it again" in line


def test_truncated_file_passed_by_path(tmp_path: Path) -> None:
    bad = truncated(mlp_weights(tmp_path / "good.weights.h5"), tmp_path / "bad.weights.h5")
    with pytest.raises(WeightsError) as exc:
        zoo.load("mlp", weights=bad)
    text = one_line(exc)
    assert str(bad) in text and "is damaged" in text and "truncated" in text


def test_truncated_starting_weights_leave_no_run_folder(tmp_path: Path) -> None:
    bad = truncated(mlp_weights(tmp_path / "good.weights.h5"), tmp_path / "bad.weights.h5")
    out = tmp_path / "out"
    code, _, err = run_zoo(
        "train", "mlp", "--weights", str(bad), "--output", str(out), "--epochs", "1"
    )
    assert_one_line_error(code, err, str(bad), "is damaged")
    assert not out.exists()


def test_zip_archive_with_an_hdf5_header_in_front(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", b"\0" * 100)
    path = tmp_path / "disguised.weights.h5"
    path.write_bytes(HDF5_SIGNATURE + buffer.getvalue())
    with pytest.raises(WeightsError) as exc:
        zoo.load("mlp", weights=path)
    text = one_line(exc)
    assert str(path) in text and "damaged or not a weights file" in text


def test_zip_archive_in_an_hdf5_user_block_is_refused_as_a_model_archive(tmp_path: Path) -> None:
    path = tmp_path / "userblock.weights.h5"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.create_group("layers")
    with open(path, "r+b") as fh:
        fh.write(b"PK\x03\x04")
    with pytest.raises(WeightsError) as exc:
        zoo.load("mlp", weights=path)
    assert "model archive" in one_line(exc)


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"", "not an HDF5"), (HDF5_SIGNATURE, "damaged"), (HDF5_SIGNATURE + b"\0" * 4096, "damaged")],
    ids=["empty", "signature-only", "signature-and-zeros"],
)
def test_empty_and_header_only_files(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "bad.weights.h5"
    path.write_bytes(content)
    with pytest.raises(WeightsError) as exc:
        zoo.load("mlp", weights=path)
    assert needle in one_line(exc) and str(path) in str(exc.value)


def test_link_to_another_file_is_refused(tmp_path: Path) -> None:
    other = mlp_weights(tmp_path / "other.weights.h5")
    path = tmp_path / "linked.weights.h5"
    with h5py.File(path, "w") as f:
        f["layers"] = h5py.ExternalLink(str(other), "/layers")
        f.create_group("vars")
    with pytest.raises(WeightsError) as exc:
        zoo.load("mlp", weights=path)
    assert "links to another file" in one_line(exc)


def test_dataset_stored_in_an_outside_file_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.bin"
    outside.write_bytes(b"\1" * 4 * 6400)
    path = tmp_path / "external.weights.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "layers/dense/vars/0", shape=(100, 64), dtype="<f4", external=[(str(outside), 0, 25600)]
        )
        f.create_group("vars")
    with pytest.raises(WeightsError) as exc:
        zoo.load("mlp", weights=path)
    assert "reads its data from other files" in one_line(exc)


def test_other_models_weights_still_load(tmp_path: Path) -> None:
    """A damaged file declared for one tag does not affect the shipped weights."""
    bad = truncated(mlp_weights(tmp_path / "good.weights.h5"), tmp_path / "bad.weights.h5")
    zoo.use_registry(user_registry(tmp_path, "bad", bad))
    with pytest.raises(WeightsError):
        zoo.load("mlp:bad")
    assert zoo.load("mlp:gaussian-clusters").zoo_load_report.complete


# ------------------------------------------------------------------ an unwritable cache
def remote_registry(tmp_path: Path) -> Path:
    """mlp:remote, downloaded from a port nobody listens on (never reached: the cache
    folder is created first)."""
    entry = {
        "name": "remote",
        "source": "http://127.0.0.1:9/remote.weights.h5",
        "sha256": "0" * 64,
        "size": 10,
    }
    path = tmp_path / "registry.toml"
    path.write_text(tomli_w.dumps({"schema_version": 1, "models": {"mlp": {"weights": [entry]}}}))
    return path


@pytest.mark.parametrize("under", ["file/cache", "file"], ids=["under-a-file", "is-a-file"])
def test_zoo_home_that_cannot_be_a_folder_is_one_line(tmp_path: Path, under: str) -> None:
    (tmp_path / "file").write_text("a regular file")
    home = tmp_path / under
    registry = remote_registry(tmp_path)
    code, _, err = run_zoo(
        "--registry", str(registry), "weights", "fetch", "mlp:remote", env={"ZOO_HOME": str(home)}
    )
    line = assert_one_line_error(code, err, "cannot write to the zoo cache folder", str(home))
    assert "ZOO_HOME" in line
    assert (tmp_path / "file").read_text() == "a regular file"  # nothing written
    code, out, err = run_zoo("weights", "list", env={"ZOO_HOME": str(home)})
    assert code == 0 and "mlp:gaussian-clusters" in out, err  # listing still works
