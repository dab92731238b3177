"""ImageNet weights of the applications plugin: upstream entries (a published MD5 or sha256,
no size), pinned by the store on first download; Keras' legacy weights-only .h5 layout.

No test reaches the internet. The real entries are checked for their structure and against
the installed Keras' source; the download path runs against a server on 127.0.0.1 serving
files built here: random bytes for the store, and - for loading - a legacy .h5 written with
h5py from a real ``keras.applications.MobileNetV3Small`` at a tiny size.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import tomli_w

import zoo.catalog
from zoo.catalog.registry import load_registry
from zoo.errors import RegistryError, WeightsError
from zoo.weights.store import cache_path, fetch, verify_cache, weights_dir

REPO = Path(__file__).resolve().parents[1]
REGISTRY = REPO / "plugins" / "applications" / "registry.toml"
SCRIPT = REPO / "scripts" / "applications_registry.py"
PAYLOAD = os.urandom(150_000)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324 - the digest Keras publishes


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Server:
    """``routes[path] = body`` on 127.0.0.1; ``hits[path]`` counts requests."""

    def __init__(self) -> None:
        self.routes: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                body = server.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def server():
    with Server() as srv:
        yield srv


def layer(tmp_path: Path, monkeypatch, model: str, entries: list[dict]) -> Path:
    """A user registry layer adding weight entries to ``model``."""
    path = tmp_path / "layer.toml"
    path.write_text(tomli_w.dumps({"models": {model: {"weights": entries}}}))
    monkeypatch.setenv("ZOO_REGISTRY", str(path))
    zoo.catalog.reset()
    return path


def entry_of(label: str):
    return zoo.catalog.get_catalog().resolve(label).weights


# ------------------------------------------------------------------ the real entries
def _script():
    spec = importlib.util.spec_from_file_location("_applications_registry", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_real_imagenet_entries_have_keras_urls_and_hashes():
    reg = load_registry(REGISTRY)
    assert len(reg.models) == 40
    with_weights = {n: m.weights["imagenet"] for n, m in reg.models.items() if m.weights}
    # Keras publishes no hash for MobileNet and MobileNetV2: no entry rather than unverified
    assert set(reg.models) - set(with_weights) == {"mobilenet", "mobilenet_v2"}
    for name, entry in with_weights.items():
        url = urlsplit(entry.source)
        assert url.scheme == "https" and url.hostname == "storage.googleapis.com", name
        assert url.path.startswith(("/tensorflow/keras-applications/", "/keras-applications/"))
        assert url.path.endswith(".h5") and "notop" not in url.path and "no_top" not in url.path
        assert entry.format == "keras-legacy-h5" and entry.size is None and not entry.pinned
        if name.startswith("convnext"):
            assert re.fullmatch(r"[0-9a-f]{64}", entry.sha256) and not entry.md5
        else:
            assert re.fullmatch(r"[0-9a-f]{32}", entry.md5) and not entry.sha256
        assert entry.dataset == "imagenet" and entry.license
        assert "reported" in entry.description
        assert all(k.startswith("reported_") for k in entry.metrics), entry.metrics
    assert with_weights["resnet50"].metrics == {
        "reported_top1_accuracy": 0.749,
        "reported_top5_accuracy": 0.921,
    }


def test_real_entries_are_what_the_installed_keras_publishes():
    published = _script().keras_weights()
    reg = load_registry(REGISTRY)
    assert len(published) == 38
    for name, expected in published.items():
        entry = reg.models[name].weights["imagenet"]
        assert entry.source == expected["url"]
        assert (entry.md5 or entry.sha256) == expected.get("md5", expected.get("sha256"))
    # spot checks against keras/src/applications/*.py, read by eye
    assert published["resnet50"]["md5"] == "2cb95161c43110f7111970584f804107"
    assert published["xception"]["md5"] == "0a58e3b7378bc2990ea3b43d5981f1f6"
    assert published["convnext_tiny"]["sha256"].startswith("8ae6e78ce2933352")
    assert published["nasnet_mobile"]["url"].endswith("/nasnet/NASNet-mobile.h5")


def test_registry_file_is_generated_and_up_to_date():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr


# ----------------------------------------------------------------------- the schema
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"source": "w.h5", "md5": "0" * 32}, "missing 'size'"),
        ({"source": "https://x/w.h5"}, "missing 'sha256' and 'size'"),
        ({"source": "https://x/w.h5", "md5": "abc"}, "32 lower-case hex"),
        ({"source": "https://x/w.h5", "md5": "0" * 32, "sha256": "1" * 64}, "both md5"),
        ({"source": "https://x/w.h5", "size": 5}, "size without sha256"),
        ({"source": "https://x/w.h5", "md5": "0" * 32, "format": "pickle"}, "not a weights format"),
    ],
)
def test_upstream_entry_schema_errors(tmp_path, fields, message):
    path = tmp_path / "r.toml"
    path.write_text(tomli_w.dumps({"models": {"x": {"weights": [{"name": "w", **fields}]}}}))
    with pytest.raises(RegistryError, match=re.escape(message)):
        load_registry(path)


# ------------------------------------------------------------------------- the store
def test_md5_entry_is_verified_then_pinned(tmp_path, monkeypatch, server):
    server.routes["/w/file.h5"] = PAYLOAD
    layer(
        tmp_path,
        monkeypatch,
        "mlp",
        [
            {
                "name": "up",
                "source": f"{server.url}/w/file.h5",
                "md5": md5(PAYLOAD),
                "format": "keras-legacy-h5",
            },
        ],
    )
    entry = entry_of("mlp:up")
    path = fetch(entry, "mlp:up")
    assert path == cache_path(entry)
    assert path.name == "file.h5" and path.parent.name == f"md5-{md5(PAYLOAD)}"
    assert path.read_bytes() == PAYLOAD
    manifest = json.loads((weights_dir() / "manifest.json").read_text())
    assert manifest[f"md5-{md5(PAYLOAD)}"]["sha256"] == sha(PAYLOAD)
    assert manifest[f"md5-{md5(PAYLOAD)}"]["size"] == len(PAYLOAD)
    assert fetch(entry, "mlp:up") == path and server.hits["/w/file.h5"] == 1
    # from now on the pin decides: a cached file that changed is fetched again
    path.write_bytes(PAYLOAD[:-1] + b"\0")
    assert fetch(entry, "mlp:up").read_bytes() == PAYLOAD
    assert server.hits["/w/file.h5"] == 2
    assert [item.ok for item in verify_cache()] == [True]


def test_a_pin_decides_even_when_the_published_hash_would_match(tmp_path, monkeypatch, server):
    server.routes["/w/file.h5"] = PAYLOAD
    layer(
        tmp_path,
        monkeypatch,
        "mlp",
        [
            {"name": "up", "source": f"{server.url}/w/file.h5", "md5": md5(PAYLOAD)},
        ],
    )
    entry = entry_of("mlp:up")
    path = fetch(entry, "mlp:up")
    manifest = weights_dir() / "manifest.json"
    data = json.loads(manifest.read_text())
    data[f"md5-{md5(PAYLOAD)}"]["sha256"] = "0" * 64  # a pin the file does not match
    manifest.write_text(json.dumps(data))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(WeightsError, match="is corrupt"):
        fetch(entry, "mlp:up")
    assert path.read_bytes() == PAYLOAD  # offline: reported, not repaired


def test_lost_manifest_rechecks_the_published_hash(tmp_path, monkeypatch, server):
    server.routes["/w/file.h5"] = PAYLOAD
    layer(
        tmp_path,
        monkeypatch,
        "mlp",
        [
            {"name": "up", "source": f"{server.url}/w/file.h5", "md5": md5(PAYLOAD)},
        ],
    )
    entry = entry_of("mlp:up")
    path = fetch(entry, "mlp:up")
    (weights_dir() / "manifest.json").unlink()
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert fetch(entry, "mlp:up") == path  # the published MD5 still matches: pinned again
    assert json.loads((weights_dir() / "manifest.json").read_text())
    (weights_dir() / "manifest.json").unlink()
    path.write_bytes(b"x" + PAYLOAD[1:])
    with pytest.raises(WeightsError, match="published md5"):
        fetch(entry, "mlp:up")


def test_wrong_bytes_are_never_handed_out(tmp_path, monkeypatch, server):
    server.routes["/w/file.h5"] = PAYLOAD
    wrong = md5(b"something else")
    layer(
        tmp_path,
        monkeypatch,
        "mlp",
        [
            {"name": "up", "source": f"{server.url}/w/file.h5", "md5": wrong},
        ],
    )
    entry = entry_of("mlp:up")
    with pytest.raises(WeightsError, match="does not match the published md5"):
        fetch(entry, "mlp:up")
    folder = cache_path(entry).parent
    assert [p.name for p in folder.iterdir() if p.name != ".lock"] == []
    assert not (weights_dir() / "manifest.json").exists()


def test_sha256_without_size_is_an_upstream_entry(tmp_path, monkeypatch, server):
    server.routes["/c/convnext.h5"] = PAYLOAD
    layer(
        tmp_path,
        monkeypatch,
        "mlp",
        [
            {"name": "up", "source": f"{server.url}/c/convnext.h5", "sha256": sha(PAYLOAD)},
        ],
    )
    path = fetch(entry_of("mlp:up"), "mlp:up")
    assert path.parent.name == f"sha256-{sha(PAYLOAD)}"
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    assert fetch(entry_of("mlp:up"), "mlp:up") == path


def test_offline_without_the_file_names_it(tmp_path, monkeypatch, server):
    layer(
        tmp_path,
        monkeypatch,
        "mlp",
        [
            {"name": "up", "source": f"{server.url}/w/file.h5", "md5": md5(PAYLOAD)},
        ],
    )
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(WeightsError, match="ZOO_OFFLINE"):
        fetch(entry_of("mlp:up"), "mlp:up")
    assert server.hits == {}


# ---------------------------------------------------------- loading the legacy layout
def legacy_h5(model, path: Path) -> None:
    """Write ``model``'s weights in Keras' legacy weights-only layout, as keras.applications'
    ImageNet files are: ``layer_names``; per layer a group with ``weight_names`` and one
    dataset per weight (trainable first), no model config."""
    import h5py
    import numpy as np

    layers = [layer for layer in model.layers if layer.weights]
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([layer.name.encode() for layer in layers])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for layer in layers:
            group = f.create_group(layer.name)
            weights = layer.trainable_weights + layer.non_trainable_weights
            names = [f"{layer.name}/{w.name}:0" for w in weights]
            group.attrs["weight_names"] = np.array([n.encode() for n in names])
            for name, weight in zip(names, weights, strict=True):
                group.create_dataset(name, data=np.asarray(weight.numpy()))


@pytest.fixture(scope="module")
def tiny_keras_file(tmp_path_factory):
    """keras.applications.MobileNetV3Small at 32x32 with 10 classes and randomised
    weights, saved in the legacy layout; plus its predictions on fixed pixels."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(7)
    net = keras.applications.MobileNetV3Small(
        weights=None, input_shape=(32, 32, 3), classes=10, include_preprocessing=True
    )
    rng = np.random.default_rng(7)
    for w in net.weights:
        value = w.numpy() + rng.normal(0, 0.05, w.shape).astype("float32")
        w.assign(np.abs(value) + 0.5 if "variance" in w.path else value)
    path = tmp_path_factory.mktemp("keras") / "weights_mobilenet_v3_small_tiny.h5"
    legacy_h5(net, path)
    pixels = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    return path.read_bytes(), pixels, np.asarray(net(pixels))


def tiny_entry(server, data: bytes, **extra) -> dict:
    server.routes["/mnv3/weights_mobilenet_v3_small_tiny.h5"] = data
    return {
        "name": "tiny",
        "source": f"{server.url}/mnv3/weights_mobilenet_v3_small_tiny.h5",
        "md5": md5(data),
        "format": "keras-legacy-h5",
        "dataset": "random",
        "hparams": {"height": 32, "width": 32, "num_classes": 10},
        **extra,
    }


def test_legacy_file_loads_like_keras_applications(tmp_path, monkeypatch, server, tiny_keras_file):
    import numpy as np

    data, pixels, expected = tiny_keras_file
    layer(tmp_path, monkeypatch, "mobilenet_v3_small", [tiny_entry(server, data)])
    model = zoo.load("mobilenet_v3_small", weights="tiny")
    assert model.zoo_load_report.complete
    # the zoo model (preprocessing inside) predicts what Keras' own network predicts
    np.testing.assert_allclose(np.asarray(model(pixels)), expected, atol=1e-5)


def test_new_classes_keep_the_backbone_and_reinitialise_the_classifier(
    tmp_path, monkeypatch, server, tiny_keras_file
):
    import numpy as np

    data, pixels, _ = tiny_keras_file
    # the test layer replaces the real imagenet entry by the tiny file on the loopback server
    entry = tiny_entry(server, data, name="imagenet")
    layer(tmp_path, monkeypatch, "mobilenet_v3_small", [entry])
    assert entry_of("mobilenet_v3_small:imagenet").source.startswith(server.url)
    model = zoo.load("mobilenet_v3_small", weights="imagenet", num_classes=5)
    report = model.zoo_load_report
    assert set(report.reinitialised) == {"logits"}
    assert "conv_2" in report.loaded and "conv" in report.loaded
    assert model.output_shape == (None, 5)
    exact = zoo.load("mobilenet_v3_small:imagenet")
    for name in ("conv", "conv_1", "conv_2"):
        for a, b in zip(model.get_layer(name).weights, exact.get_layer(name).weights, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert np.allclose(np.asarray(model(pixels)).sum(axis=1), 1.0, atol=1e-5)


def test_legacy_format_still_refuses_full_models_and_other_layouts(
    tmp_path, monkeypatch, server, tiny_keras_file
):
    import h5py

    data, _, _ = tiny_keras_file
    full = tmp_path / "full.h5"
    full.write_bytes(data)
    with h5py.File(full, "a") as f:
        f.attrs["model_config"] = '{"class_name": "Lambda"}'
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f.create_group("layers")
    for name, body, message in (
        ("full", full.read_bytes(), "full Keras model"),
        ("plain", plain.read_bytes(), "no 'layer_names'"),
    ):
        entry = tiny_entry(server, body, name=name)
        entry["source"] = f"{server.url}/mnv3/{name}.h5"
        server.routes[f"/mnv3/{name}.h5"] = body
        layer(tmp_path, monkeypatch, "mobilenet_v3_small", [entry])
        with pytest.raises(WeightsError, match=re.escape(message)):
            zoo.load("mobilenet_v3_small", weights=name)


def test_a_legacy_file_is_not_accepted_without_the_registry_saying_so(
    tmp_path, monkeypatch, server, tiny_keras_file
):
    data, _, _ = tiny_keras_file
    file = tmp_path / "legacy.weights.h5"
    file.write_bytes(data)
    with pytest.raises(WeightsError, match="not a Keras 3 weights file"):
        zoo.load("mobilenet_v3_small", weights=str(file), height=32, width=32, num_classes=10)


@pytest.mark.slow
def test_fine_tuning_a_photo_folder_from_imagenet_weights(
    tmp_path, monkeypatch, server, tiny_keras_file
):
    """`zoo train mobilenet_v3_small:imagenet --data photos/ --freeze backbone`, with the
    imagenet entry served by the loopback server."""
    import numpy as np
    from PIL import Image

    from zoo.plugins.applications.data import draw_shapes

    data, _, _ = tiny_keras_file
    layer(tmp_path, monkeypatch, "mobilenet_v3_small", [tiny_entry(server, data, name="imagenet")])
    x, y = draw_shapes(60, 40, 40, 2, seed=3)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        folder = tmp_path / "photos" / ("circles" if label == 0 else "squares")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.astype("uint8")).save(folder / f"{i}.png")
    run = zoo.train(
        "mobilenet_v3_small:imagenet",
        data=tmp_path / "photos",
        output=tmp_path / "run",
        freeze="backbone",
        freeze_epochs=1,
        epochs=2,
        batch_size=16,
        verbose=False,
    )
    assert run.config.height == 32 and run.config.num_classes == 2  # the weights' size
    finetune = json.loads((tmp_path / "run" / "metrics.json").read_text())["finetune"]
    assert finetune["weights"]["weights"] == "mobilenet_v3_small:imagenet"
    assert finetune["weights"]["reinitialised"] == ["logits"]
    assert np.isfinite(run.metrics["test"]["loss"])
