"""``zoo.load``: weights from the catalog, files and run folders; head adaptation; refusal of
full-model files. Tiny models only (``mlp``, ``cnn-small``)."""

from __future__ import annotations

import hashlib
import http.server
import threading
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tomli_w

import zoo
import zoo.catalog
from zoo.errors import WeightsError, ZooError


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """On top of conftest's clean_zoo: the cache and the cwd inside this test's tmp_path."""
    monkeypatch.setenv("ZOO_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


def digest(path: Path) -> tuple[str, int]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def save_weights(path: Path, name: str, **hparams):
    """A freshly initialised model of ``name`` whose weights are saved to ``path``."""
    model = zoo.create(name, **hparams)
    model.save_weights(str(path))
    return model


def register(tmp_path: Path, model: str, entries: list[dict]) -> None:
    """A user registry adding weight entries to ``model``, used through zoo.use_registry."""
    path = tmp_path / "team-registry.toml"
    path.write_text(tomli_w.dumps({"models": {model: {"weights": entries}}}))
    zoo.catalog.reset()
    zoo.use_registry(path)


def local_entry(name: str, file: Path, **extra) -> dict:
    sha, size = digest(file)
    return {"name": name, "source": file.name, "sha256": sha, "size": size, **extra}


def same_weights(a, b) -> bool:
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb, strict=True))


# ------------------------------------------------------------------------ exact loading
def test_load_registered_weights(tmp_path):
    original = save_weights(tmp_path / "mlp-t.weights.h5", "mlp")
    register(tmp_path, "mlp", [local_entry("t", tmp_path / "mlp-t.weights.h5")])
    for model in (zoo.load("mlp", weights="t"), zoo.load("mlp:t")):
        assert same_weights(model, original)
        report = model.zoo_load_report
        assert report.complete and report.loaded == ["dense_0", "classifier"]
        assert report.weights == "mlp:t"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # e.g. Keras's optimizer-state warnings
        compiled = zoo.load("mlp:t")
    assert compiled.compiled and not getattr(zoo.load("mlp:t", compile=False), "compiled", False)
    x = np.random.default_rng(0).normal(size=(4, 100)).astype("float32")
    np.testing.assert_allclose(zoo.load("mlp:t").predict(x, verbose=0), original(x), atol=1e-6)


def test_weights_entry_hparams_are_applied(tmp_path):
    original = save_weights(tmp_path / "narrow.weights.h5", "mlp", hidden_units=[8], input_dim=5)
    entry = local_entry(
        "narrow", tmp_path / "narrow.weights.h5", hparams={"hidden_units": [8], "input_dim": 5}
    )
    register(tmp_path, "mlp", [entry])
    model = zoo.load("mlp:narrow")
    assert model.input_shape == (None, 5) and same_weights(model, original)


def test_corrupt_registered_file_is_refused(tmp_path):
    save_weights(tmp_path / "mlp-t.weights.h5", "mlp")
    register(tmp_path, "mlp", [local_entry("t", tmp_path / "mlp-t.weights.h5")])
    with open(tmp_path / "mlp-t.weights.h5", "r+b") as fh:
        fh.seek(-20, 2)
        tail = fh.read()
        fh.seek(-20, 2)
        fh.write(bytes(255 - b for b in tail))  # same size, different bytes
    with pytest.raises(WeightsError, match="corrupt: expected sha256"):
        zoo.load("mlp:t")


def test_load_plain_file_and_errors(tmp_path):
    original = save_weights(tmp_path / "mine.weights.h5", "mlp")
    model = zoo.load("mlp", weights=tmp_path / "mine.weights.h5")
    assert same_weights(model, original)
    with pytest.raises(WeightsError, match="no weights 'nope'"):
        zoo.load("mlp", weights="nope")
    with pytest.raises(WeightsError, match="has no pretrained weights"):
        zoo.load("mlp-deep")
    with pytest.raises(WeightsError, match="names two weight sets"):
        zoo.load("mlp:a", weights="b")
    with pytest.raises(WeightsError, match="do not fit model 'cnn-small'"):
        zoo.load("cnn-small", weights=tmp_path / "mine.weights.h5")
    garbage = tmp_path / "garbage.weights.h5"
    garbage.write_bytes(b"not hdf5 at all" * 10)
    with pytest.raises(WeightsError, match="not an HDF5"):
        zoo.load("mlp", weights=garbage)


# ------------------------------------------------------------------------ head adaptation
def test_head_adaptation_report_and_strict(tmp_path):
    original = save_weights(tmp_path / "c.weights.h5", "cnn-small")
    register(tmp_path, "cnn-small", [local_entry("digits", tmp_path / "c.weights.h5")])
    model = zoo.load("cnn-small", weights="digits", num_classes=3)
    report = model.zoo_load_report
    assert model.output_shape == (None, 3)
    assert report.loaded == ["conv_0", "conv_1", "dense"]
    assert set(report.skipped) == {"classifier"} and set(report.reinitialised) == {"classifier"}
    assert "(32, 10)" in report.skipped["classifier"] and "(32, 3)" in str(report)
    for name in report.loaded:
        assert same_weights(model.get_layer(name), original.get_layer(name))
    with pytest.raises(WeightsError, match="classifier"):
        zoo.load("cnn-small:digits", num_classes=3, strict=True)
    # A change that keeps every shape loads everything, even with strict=True.
    same = zoo.load("cnn-small:digits", dropout=0.5, strict=True)
    assert same.zoo_load_report.complete and same_weights(same, original)


def test_head_adaptation_with_an_extra_block(tmp_path):
    """Layers are paired by name when the layer structure differs."""
    original = save_weights(tmp_path / "c.weights.h5", "cnn-small")
    register(tmp_path, "cnn-small", [local_entry("d", tmp_path / "c.weights.h5")])
    model = zoo.load("cnn-small:d", filters=[8, 16, 16])
    report = model.zoo_load_report
    assert report.loaded == ["conv_0", "conv_1", "classifier"]
    assert set(report.reinitialised) == {"conv_2", "dense"}
    assert same_weights(model.get_layer("classifier"), original.get_layer("classifier"))


# ------------------------------------------------------------------- refusing full models
def lambda_archive(path: Path, marker: Path) -> None:
    """A .keras archive whose Lambda layer (a Python lambda, saved as bytecode) writes
    ``marker`` whenever it runs; ``keras.saving.load_model`` with unsafe deserialisation
    enabled does run it."""
    import keras

    touch = eval(f"lambda x: (open({str(marker)!r}, 'w').write('executed'), x)[1]")
    inputs = keras.Input(shape=(100,))
    outputs = keras.layers.Dense(10)(keras.layers.Lambda(touch)(inputs))
    keras.Model(inputs, outputs).save(str(path))
    assert zipfile.is_zipfile(path) and marker.exists()  # building it ran the lambda


def test_keras_archive_with_lambda_is_refused(tmp_path):
    archive, marker = tmp_path / "evil.keras", tmp_path / "executed.txt"
    lambda_archive(archive, marker)
    marker.unlink()
    disguised = tmp_path / "evil.weights.h5"
    disguised.write_bytes(archive.read_bytes())
    for path in (archive, disguised):
        with pytest.raises(WeightsError, match="model archive"):
            zoo.load("mlp", weights=path)
    register(tmp_path, "mlp", [local_entry("evil", disguised)])
    with pytest.raises(WeightsError, match="model archive"):
        zoo.load("mlp:evil")
    assert not marker.exists()


def test_full_model_h5_is_refused(tmp_path):
    model = zoo.create("mlp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(str(tmp_path / "full.h5"))
    (tmp_path / "full.weights.h5").write_bytes((tmp_path / "full.h5").read_bytes())
    for name in ("full.h5", "full.weights.h5"):
        with pytest.raises(WeightsError, match="full Keras model"):
            zoo.load("mlp", weights=tmp_path / name)


# ---------------------------------------------------------------------------- run folders
def write_run(folder: Path, status: str = "complete", **hparams) -> object:
    """A run folder in the layout zoo.runs reads: run.toml + model.weights.h5."""
    folder.mkdir(parents=True)
    model = zoo.create("mlp", **hparams)
    model.save_weights(str(folder / "model.weights.h5"))
    data = {
        "run": {"model": "mlp", "architecture": "mlp", "status": status},
        "hparams": hparams,
        "train": {"epochs": 1},
    }
    (folder / "run.toml").write_text(tomli_w.dumps(data))
    return model


def test_load_run_folder(tmp_path):
    run = tmp_path / "runs" / "mlp-20260101-000000"
    original = write_run(run, hidden_units=[16], num_classes=4)
    for model in (zoo.load(str(run)), zoo.load("mlp", weights=run)):
        assert model.output_shape == (None, 4) and same_weights(model, original)
    adapted = zoo.load(run, num_classes=2)
    assert adapted.zoo_load_report.loaded == ["dense_0"]
    with pytest.raises(WeightsError, match="trained model 'mlp'"):
        zoo.load("mlp-deep", weights=run)
    with pytest.raises(WeightsError, match="brings its own weights"):
        zoo.load(run, weights="x")
    with pytest.raises(WeightsError, match="not a run folder"):
        zoo.load(str(tmp_path / "runs" / "missing"))


def test_unfinished_run_is_refused(tmp_path):
    run = tmp_path / "runs" / "mlp-running"
    write_run(run, status="running")
    with pytest.raises(ZooError, match="did not finish"):
        zoo.load(run)


# ------------------------------------------------------------------------- via HTTP cache
def test_load_downloads_through_the_store(tmp_path):
    original = save_weights(tmp_path / "served.weights.h5", "mlp")
    body = (tmp_path / "served.weights.h5").read_bytes()
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/team/mlp.weights.h5"
        sha, size = digest(tmp_path / "served.weights.h5")
        register(tmp_path, "mlp", [{"name": "team", "source": url, "sha256": sha, "size": size}])
        assert same_weights(zoo.load("mlp:team"), original)
        assert same_weights(zoo.load("mlp:team"), original)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
    assert hits == ["/team/mlp.weights.h5"]
    assert zoo.load("mlp:team").zoo_load_report.path.startswith(str(tmp_path / "home"))
