"""Every built-in model builds with defaults and overrides; the seed's layers are reproduced."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
from conftest import BUILTIN_MODELS

import zoo
import zoo.api


def body(model: Any) -> list[Any]:
    """The model's layers without its InputLayers."""
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def weight_shapes(model: Any) -> list[tuple[int, ...]]:
    return [tuple(w.shape) for w in model.weights]


def parents(model: Any, op: Any) -> list[Any]:
    """The layers whose outputs feed ``op`` (its first call), read from the functional
    model's public config (each layer's ``inbound_nodes`` name the tensors' layers)."""
    by_name = {op.name: op for op in model.operations}
    entry = next(e for e in model.get_config()["layers"] if e["name"] == op.name)

    def history(value: Any) -> list[str]:
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                return [value["config"]["keras_history"][0]]
            return [name for v in value.values() for name in history(v)]
        if isinstance(value, (list, tuple)):
            return [name for v in value for name in history(v)]
        return []

    return [by_name[name] for name in history(entry["inbound_nodes"][0])]


@pytest.mark.parametrize("name", BUILTIN_MODELS)
def test_defaults_build_with_the_registry_parameter_count(name: str) -> None:
    model = zoo.create(name)
    assert isinstance(model, keras.Model)
    assert model.optimizer is not None  # compiled for its task
    assert model.count_params() == zoo.api.info(name)["params"], "registry drift"


def test_seed_mlp() -> None:
    model = zoo.create("mlp")
    assert model.input_shape == (None, 100)
    hidden, out = body(model)
    assert isinstance(hidden, keras.layers.Dense) and isinstance(out, keras.layers.Dense)
    assert (hidden.units, hidden.get_config()["activation"]) == (64, "relu")
    assert (out.units, out.get_config()["activation"]) == (10, "softmax")
    seed = keras.Sequential(
        [
            keras.Input((100,)),
            keras.layers.Dense(units=64, activation="relu"),
            keras.layers.Dense(units=10, activation="softmax"),
        ]
    )
    assert weight_shapes(model) == weight_shapes(seed)


def test_seed_cnn() -> None:
    model = zoo.create("cnn")
    assert model.input_shape == (None, 28, 28, 1)
    # training-time augmentation (weightless Keras random layers) comes first; the rest
    # is the seed's network, layer for layer
    augment = [x for x in body(model) if x.name.startswith("augment_")]
    assert [type(x).__name__ for x in augment] == [
        "RandomRotation",
        "RandomZoom",
        "RandomTranslation",
    ]
    assert all(not x.weights for x in augment)
    layers = [x for x in body(model) if x not in augment]
    kinds = [type(layer).__name__ for layer in layers]
    assert kinds == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
        "Dense",
    ]
    conv1, pool1, conv2, pool2, _, dense, out = layers
    for conv, filters in ((conv1, 32), (conv2, 64)):
        cfg = conv.get_config()
        assert cfg["filters"] == filters and tuple(cfg["kernel_size"]) == (3, 3)
        assert cfg["activation"] == "relu" and cfg["padding"] == "valid"
        assert tuple(cfg["strides"]) == (1, 1)
    for pool in (pool1, pool2):
        assert tuple(pool.get_config()["pool_size"]) == (2, 2)
    assert (dense.units, dense.get_config()["activation"]) == (128, "relu")
    assert (out.units, out.get_config()["activation"]) == (10, "softmax")
    seed = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(filters=32, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Conv2D(filters=64, kernel_size=(3, 3), activation="relu"),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(units=128, activation="relu"),
            keras.layers.Dense(units=10, activation="softmax"),
        ]
    )
    assert weight_shapes(model) == weight_shapes(seed)


def test_seed_rnn() -> None:
    model = zoo.create("rnn")
    assert model.input_shape == (None, 100, 1)
    lstm, out = body(model)
    assert isinstance(lstm, keras.layers.LSTM)
    assert lstm.units == 64 and lstm.return_sequences is False
    assert (out.units, out.get_config()["activation"]) == (10, "softmax")
    seed = keras.Sequential(
        [
            keras.Input((100, 1)),
            keras.layers.LSTM(units=64),
            keras.layers.Dense(units=10, activation="softmax"),
        ]
    )
    assert weight_shapes(model) == weight_shapes(seed)


def test_transformer_is_a_real_transformer() -> None:
    model = zoo.create("transformer")
    ops = model.operations
    attention = [op for op in ops if isinstance(op, keras.layers.MultiHeadAttention)]
    norms = [op for op in ops if isinstance(op, keras.layers.LayerNormalization)]
    assert len(attention) == 2 and len(norms) == 4
    for norm in norms:  # post-norm residual: LayerNorm(x + sublayer(x))
        (add,) = parents(model, norm)
        assert type(add).__name__ == "Add"
        sources = {type(op).__name__ for op in parents(model, add)}
        assert "Dropout" in sources  # the sub-layer output
        assert sources & {"LayerNormalization", "Add"}  # the skip path (Add: the embedding sum)
    tokens = np.array([[5, 6, 7] + [0] * 45, [9] * 48], dtype="int32")
    probs = model.predict(tokens, verbose=0)
    assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    # attention sees token order: permuting tokens changes the output
    shuffled = tokens.copy()
    shuffled[0, :3] = [7, 5, 6]
    assert not np.allclose(model.predict(shuffled, verbose=0)[0], probs[0])


def test_recommender_is_two_towers_with_a_dot_product() -> None:
    model = zoo.create("recommender")
    names = {layer.name for layer in model.layers}
    assert {"user_embedding", "item_embedding", "user_output", "item_output"} <= names
    user_in = next(t for t in model.inputs if "user" in t.name)
    item_in = next(t for t in model.inputs if "item" in t.name)
    user_tower = keras.Model(user_in, model.get_layer("user_output").output)
    item_tower = keras.Model(item_in, model.get_layer("item_output").output)
    users = np.array([0, 1, 999], dtype="int32")
    items = np.array([3, 499, 0], dtype="int32")
    scores = model.predict({"user_id": users, "item_id": items}, verbose=0)
    u = user_tower.predict(users, verbose=0)
    v = item_tower.predict(items, verbose=0)
    assert u.shape == v.shape == (3, 8)  # registry: the recommender's output_dim = 8
    np.testing.assert_allclose(scores, (u * v).sum(axis=1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("name", "overrides", "check"),
    [
        ("cnn", {"num_classes": 5}, lambda m: m.output.shape == (None, 5)),
        (
            "cnn",
            {"height": 32, "width": 16, "channels": 3},
            lambda m: m.input_shape[1:] == (32, 16, 3),
        ),
        ("mlp", {"num_classes": 5}, lambda m: m.output.shape == (None, 5)),
        ("rnn", {"cell": "gru"}, lambda m: isinstance(body(m)[0], keras.layers.GRU)),
        (
            "rnn",
            {"num_layers": 2, "bidirectional": "true"},
            lambda m: [type(x).__name__ for x in body(m)][:2] == ["Bidirectional"] * 2,
        ),
        (
            "mlp",
            {"hidden_units": [32, 16]},
            lambda m: [x.units for x in body(m)] == [32, 16, 10],
        ),
        ("mlp", {"hidden_units": "32,16"}, lambda m: [x.units for x in body(m)] == [32, 16, 10]),
        (
            "transformer-tiny",
            {"num_layers": 3},
            lambda m: sum(isinstance(x, keras.layers.MultiHeadAttention) for x in m.layers) == 3,
        ),
        ("recommender", {"output_dim": 8}, lambda m: m.get_layer("user_output").units == 8),
    ],
)
def test_overrides_change_the_model(name: str, overrides: dict, check: Any) -> None:
    assert check(zoo.create(name, compile=False, **overrides))


def test_presets_differ_from_their_architecture_defaults() -> None:
    assert isinstance(body(zoo.create("rnn-gru", compile=False))[0], keras.layers.GRU)
    deep = body(zoo.create("mlp-deep", compile=False))
    assert [x.units for x in deep if isinstance(x, keras.layers.Dense)] == [256, 128, 10]
    assert sum(isinstance(x, keras.layers.Dropout) for x in deep) == 2


def test_training_option_overrides_reach_compile() -> None:
    model = zoo.create("mlp", optimizer="sgd", learning_rate=0.05)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    assert model.optimizer.clipnorm is None  # 0 = off
    assert zoo.create("mlp", clipnorm=0.5).optimizer.clipnorm == pytest.approx(0.5)


def test_compiled_models_trace_their_train_step_once() -> None:
    """The optimizer is built at compile time: Keras would otherwise create its variables
    inside the first trace and trace the whole step again (0.3-0.7 s per run)."""
    model = zoo.create("mlp")
    assert model.optimizer.built
    traces = []
    step = model.train_step
    model.train_step = lambda data: (traces.append(1), step(data))[1]
    x = np.random.default_rng(0).normal(size=(64, 100)).astype("float32")
    y = np.arange(64) % 10
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    assert len(traces) == 1


def test_freezing_layers_after_compile_still_trains_the_rest() -> None:
    """The optimizer is built for every variable at compile time; fine-tuning a subset
    (layers frozen after zoo.create / zoo.load) must still work."""
    model = zoo.create("mlp")
    frozen = body(model)[0]
    frozen.trainable = False
    before = [np.array(w) for w in frozen.weights]
    head_before = np.array(body(model)[-1].kernel)
    x = np.random.default_rng(0).normal(size=(64, 100)).astype("float32")
    model.fit(x, np.arange(64) % 10, batch_size=32, epochs=1, verbose=0)
    assert all(np.array_equal(a, np.array(w)) for a, w in zip(before, frozen.weights, strict=True))
    assert not np.array_equal(head_before, np.array(body(model)[-1].kernel))
