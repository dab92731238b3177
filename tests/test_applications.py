"""The applications plugin: the 40 keras.applications networks as zoo models.

Fast tests read the registry and the generated data. The ``slow`` ones build every network
at its minimum input size and run it, compare one network per family with Keras' own
``include_top=True`` network (the layer order and shapes Keras' ImageNet files need), take
one training step per family and export three networks in three formats with the parity
check.
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_zoo

import zoo
import zoo.api
import zoo.catalog
from zoo.catalog.registry import load_registry
from zoo.plugins.applications.data import SHAPES, draw_shapes
from zoo.plugins.applications.networks import FAMILIES, NETWORKS

REPO = Path(__file__).resolve().parents[1]
REGISTRY = REPO / "plugins" / "applications" / "registry.toml"
NAMES = sorted(NETWORKS)
SMALLEST = [next(n.name for n in NETWORKS.values() if n.family == f) for f in FAMILIES]
NAME_RULE = r"^[a-z]+[0-9]*(_[a-z]+[0-9]*)*$"  # lower-case words (with digits), underscores


def min_size(name: str) -> int:
    return NETWORKS[name].min_size


def release(model) -> None:  # type: ignore[no-untyped-def]
    import keras

    del model
    keras.backend.clear_session()
    gc.collect()


# ------------------------------------------------------------------------ the catalog
def test_forty_networks_of_the_installed_keras_named_by_one_rule():
    import re

    import keras

    functions = {n for n in dir(keras.applications) if n[:1].isupper()}
    assert {n.function for n in NETWORKS.values()} == functions  # every one, nothing else
    assert len(NAMES) == 40
    for name in NAMES:
        assert re.fullmatch(NAME_RULE, name), name
        assert not re.search(r"[a-z0-9]v[0-9]", name), name  # a version is its own word
    for name in ("resnet50", "resnet50_v2", "mobilenet", "mobilenet_v2", "mobilenet_v3_small",
                 "efficientnet_b0", "efficientnet_v2_b0", "efficientnet_v2_s", "convnext_tiny",
                 "densenet121", "nasnet_mobile", "inception_v3", "inception_resnet_v2",
                 "vgg16", "xception"):  # fmt: skip
        assert name in NETWORKS


def test_registry_declares_every_network_with_its_parameter_count():
    reg = load_registry(REGISTRY)
    assert set(reg.models) == set(NAMES)
    assert set(reg.architectures) == set(FAMILIES)
    for name, model in reg.models.items():
        assert model.architecture == NETWORKS[name].family
        assert model.params and model.params > 1_000_000, name
    for family in reg.architectures.values():
        assert family.task == "image-classification" and family.plugin == "applications"
        assert family.head == list(FAMILIES[family.name].head_layers)
        keys = set(family.hparams)
        assert {"height", "width", "dropout", "pooling", "num_classes"} <= keys
        assert ("alpha" in keys) == bool(FAMILIES[family.name].alphas)
        assert ("include_preprocessing" in keys) == (family.name != "efficientnet")
        assert family.hparams["height"].min == FAMILIES[family.name].min_size
    # the counts Keras documents (keras.io/api/applications), preprocessing adds none
    assert reg.models["resnet50"].params == 25_636_712
    assert reg.models["vgg16"].params == 138_357_544
    assert reg.models["xception"].params == 22_910_480
    assert reg.models["efficientnet_b0"].params == 5_330_571


def test_zoo_list_shows_them_without_tensorflow():
    code, out, err = run_zoo("list", "--task", "image-classification", "--json")
    assert code == 0, err
    import json

    records = {r["name"]: r for r in json.loads(out)}
    assert set(NAMES) <= set(records)
    assert records["resnet50"]["plugin"] == "applications"
    code, out, _ = run_zoo("list", "resnet*")
    assert [line.split()[0] for line in out.splitlines()[1:]] == [
        "resnet101", "resnet101_v2", "resnet152", "resnet152_v2", "resnet50", "resnet50_v2"
    ]  # fmt: skip
    code, out, err = run_zoo("info", "resnet50:imagenet")
    assert code == 0 and "reported_top1_accuracy" in out, err


def test_importing_the_plugin_imports_no_tensorflow():
    from conftest import run_python

    code, out, err = run_python(
        "import sys, zoo.plugins.applications as p; p.zoo_build; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    assert code == 0, err
    assert out.split() == ["False", "False"]


# ---------------------------------------------------------------------------- the data
def test_generated_shapes_are_balanced_coloured_and_deterministic():
    x, y = draw_shapes(1200, 24, 24)
    assert x.shape == (1200, 24, 24, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 255.0 and x.max() > 200.0
    assert np.bincount(y).tolist() == [200] * len(SHAPES)
    again, y2 = draw_shapes(1200, 24, 24)
    np.testing.assert_array_equal(x, again)
    np.testing.assert_array_equal(y, y2)
    # the class is the shape: per-class mean colours are alike
    means = np.array([x[y == k].mean(axis=(0, 1, 2)) for k in range(len(SHAPES))])
    assert np.ptp(means, axis=0).max() < 30.0


def _dataset(name: str, path=None, **hparams):  # type: ignore[no-untyped-def]
    from zoo.catalog.config import make_config

    catalog = zoo.catalog.get_catalog()
    ref = catalog.resolve(name)
    config = make_config(ref, [("test", hparams)])
    hook = catalog.host.owner_hook(ref.plugin, "zoo_dataset")
    return hook(config=config, path=path, state=None)


@pytest.mark.slow  # over 7 s: kept out of the quick run (pytest -m 'not slow')
def test_default_dataset_trains_small_unless_a_size_is_set():
    data = _dataset("mobilenet_v3_small")
    assert data.x.shape == (3000, 64, 64, 3)
    assert data.implied == {"num_classes": 6, "height": 64, "width": 64}
    assert data.class_names == list(SHAPES)
    data = _dataset("xception")  # its minimum input is 71
    assert data.x.shape[1:] == (71, 71, 3) and data.implied["height"] == 71
    data = _dataset("inception_v3")
    assert data.x.shape[1:] == (75, 75, 3) and data.implied["width"] == 75
    data = _dataset("resnet50", height=96, width=96)
    assert data.x.shape == (3000, 96, 96, 3) and "height" not in data.implied
    data = _dataset("resnet50", num_classes=3)
    assert data.implied["num_classes"] == 3 and set(data.y.tolist()) == {0, 1, 2}


def test_photo_folder_is_read_as_rgb_pixels(tmp_path):
    from PIL import Image

    for label, colour in (("cats", (250, 10, 10)), ("dogs", (10, 10, 250))):
        (tmp_path / "photos" / label).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (40, 30), colour).save(tmp_path / "photos" / label / f"{i}.jpg")
    data = _dataset("mobilenet_v3_small", tmp_path / "photos", height=48, width=48)
    assert data.x.shape == (6, 48, 48, 3)
    assert data.class_names == ["cats", "dogs"] and data.implied == {"num_classes": 2}
    assert data.x[0, :, :, 0].mean() > 230 and data.x[-1, :, :, 2].mean() > 230  # 0-255 RGB
    assert data.keys[0].endswith("0.jpg") and data.key_name == "path"


def test_other_files_are_a_clear_error(tmp_path):
    from zoo.errors import DataError

    (tmp_path / "table.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="read images"):
        _dataset("resnet50", tmp_path / "table.csv")


# ------------------------------------------------------------------- every network runs
@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_every_network_builds_and_runs_at_its_minimum_size(name):
    size = min_size(name)
    start = time.perf_counter()
    model = zoo.create(name, height=size, width=size, num_classes=3, compile=False)
    x = np.random.default_rng(0).uniform(0, 255, (2, size, size, 3)).astype("float32")
    y = np.asarray(model(x, training=False))
    assert y.shape == (2, 3) and np.isfinite(y).all()
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)
    assert model.count_params() > 0
    release(model)
    print(f"{name}: {time.perf_counter() - start:.1f}s", file=sys.stderr)


def _legacy_shapes(model):  # type: ignore[no-untyped-def]
    return [
        [tuple(w.shape) for w in layer.trainable_weights + layer.non_trainable_weights]
        for layer in model.layers
        if layer.weights
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", SMALLEST)
def test_weighted_layers_match_keras_own_network(name):
    """Keras' ImageNet files are loaded in layer order: the zoo model (preprocessing and
    head included) must have Keras' include_top=True weighted layers, in order."""
    import keras

    size = min_size(name)
    ours = zoo.create(name, height=size, width=size, num_classes=7, compile=False)
    kwargs = {"weights": None, "input_shape": (size, size, 3), "classes": 7}
    theirs = getattr(keras.applications, NETWORKS[name].function)(**kwargs)
    assert _legacy_shapes(ours) == _legacy_shapes(theirs)
    assert ours.count_params() == theirs.count_params()
    # same weights, same pixels: the zoo model (its preprocessing inside) predicts what
    # Keras' network predicts on the pixels preprocessed by the family's preprocess_input
    for a, b in zip(_weighted(ours), _weighted(theirs), strict=True):
        b.set_weights(a.get_weights())
    pixels = np.random.default_rng(1).uniform(0, 255, (3, size, size, 3)).astype("float32")
    family = NETWORKS[name].family
    if family == "efficientnet":
        _check_efficientnet_scaling(ours, pixels)  # Keras adds it only for imagenet weights
    else:
        module = getattr(keras.applications, PREPROCESS_MODULES.get(family, family))
        expected = np.asarray(theirs(module.preprocess_input(pixels.copy()), training=False))
        np.testing.assert_allclose(np.asarray(ours(pixels, training=False)), expected, atol=2e-5)
    release(ours)
    release(theirs)


PREPROCESS_MODULES = {"vgg": "vgg16"}


def _weighted(model):  # type: ignore[no-untyped-def]
    return [layer for layer in model.layers if layer.weights]


def _check_efficientnet_scaling(model, pixels) -> None:  # type: ignore[no-untyped-def]
    """Keras' ImageNet EfficientNet computes c * Normalization(p / 255), c = 1/sqrt(std):
    so must the zoo model, whose Normalization holds the ImageNet mean and variance."""
    import keras

    norm = next(la for la in model.layers if isinstance(la, keras.layers.Normalization))
    probe = keras.Model(model.input, norm.output)
    mean = np.array([0.485, 0.456, 0.406], "float32")
    std = np.array([0.229, 0.224, 0.225], "float32")
    expected = (pixels / 255.0 - mean) / std / np.sqrt(std)
    np.testing.assert_allclose(np.asarray(probe(pixels)), expected, atol=1e-4)


# ----------------------------------------------------------------- one step per family
@pytest.mark.slow
@pytest.mark.parametrize("name", SMALLEST)
def test_one_training_step_per_family(name):
    size = min_size(name)
    model = zoo.create(name, height=size, width=size, num_classes=4)
    x, y = draw_shapes(8, size, size, 4, seed=1)
    before = [w.numpy().copy() for w in model.trainable_weights]
    loss = model.train_on_batch(x, y, return_dict=True)["loss"]
    assert np.isfinite(loss)
    after = [w.numpy() for w in model.trainable_weights]
    changed = sum(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert changed >= len(before) // 2
    release(model)


# -------------------------------------------------------------------------- exporting
EXPORTS = [
    (name, fmt)
    for name in ("mobilenet_v3_small", "efficientnet_v2_b0", "resnet50")
    for fmt in ("savedmodel", "onnx", "litert")
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "fmt"), EXPORTS, ids=[f"{n}-{f}" for n, f in EXPORTS])
def test_exports_pass_the_parity_check(tmp_path, name, fmt):
    from zoo.catalog.config import make_config

    if fmt == "onnx":
        pytest.importorskip("tf2onnx")
    if fmt == "litert":
        pytest.importorskip("ai_edge_litert")
    ref = zoo.catalog.get_catalog().resolve(name)
    config = make_config(ref, [("test", {"height": 64, "width": 64, "num_classes": 3})])
    model = zoo.create(name, height=64, width=64, num_classes=3)
    suffix = {"savedmodel": "", "onnx": ".onnx", "litert": ".tflite"}[fmt]
    result = zoo.export(model, tmp_path / f"{name}{suffix}", format=fmt, config=config)
    assert result.max_abs_diff <= {"savedmodel": 1e-4, "onnx": 1e-4, "litert": 1e-3}[fmt]
    assert "shapes" in result.sample_source  # checked on the model's own generated data
    release(model)
