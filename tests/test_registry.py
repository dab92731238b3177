"""registry.toml validation and the user's registry layers (ZOO_REGISTRY, ./, --registry)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import zoo
import zoo.api
import zoo.catalog
from zoo.catalog.registry import ModelEntry, load_registry, merge_model
from zoo.errors import ConfigError, RegistryError, UnknownModelError

REPO = Path(__file__).resolve().parents[1]
SHA = "ab" * 32

ARCH = """
schema_version = 1
[architectures.toy]
summary = "toy"
task = "tabular-classification"
[architectures.toy.hparams]
units = { type = "int", default = 4, min = 1, max = 64 }
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_registry_is_valid() -> None:
    reg = load_registry(REPO / "registry.toml")
    assert set(reg.architectures) == {"mlp", "cnn", "rnn", "transformer", "recommender"}
    assert len(reg.models) == 9
    assert reg.architectures["cnn"].hparams["filters"].default == [32, 64]
    assert all(m.params for m in reg.models.values())
    assert all(m.license for m in reg.models.values())


# (registry text, substrings the error must contain besides the file name)
MALFORMED = {
    "bad-toml": ("[models.x\narchitecture = 'cnn'\n", ["not valid TOML"]),
    "unknown-top-level": ("modles = {}\n", ["unknown top-level key 'modles'", "models"]),
    "schema-version": ("schema_version = 2\n", ["schema_version 2", "schema_version = 1"]),
    "unknown-model-key": (
        "[models.x]\narchitecture = 'cnn'\nlicence = 'MIT'\n",
        ["models.x", "unknown key 'licence'", "license"],
    ),
    "wrong-type": (
        "[models.x]\narchitecture = 'cnn'\nparams = '12'\n",
        ["models.x", "'params'", "expected an integer"],
    ),
    "bool-for-int": (
        "[models.x]\narchitecture = 'cnn'\nparams = true\n",
        ["'params'", "expected an integer"],
    ),
    "tags-not-array": (
        "[models.x]\narchitecture = 'cnn'\ntags = 'a'\n",
        ["'tags'", "expected an array"],
    ),
    "bad-name": ("[models.'Big Model']\narchitecture = 'cnn'\n", ["'Big Model'", "lower-case"]),
    "bad-sha256": (
        "[models.x]\narchitecture = 'cnn'\n[[models.x.weights]]\n"
        "name = 'w'\nsource = 'w.h5'\nsha256 = 'abc123'\nsize = 10\n",
        ["models.x.weights[0]", "sha256", "64 lower-case hex"],
    ),
    "weights-missing-size": (
        f"[models.x]\narchitecture = 'cnn'\n[[models.x.weights]]\n"
        f"name = 'w'\nsource = 'w.h5'\nsha256 = '{SHA}'\n",
        ["models.x.weights[0]", "missing 'size'"],
    ),
    "weights-bad-metric": (
        f"[models.x]\narchitecture = 'cnn'\n[[models.x.weights]]\n"
        f"name = 'w'\nsource = 'w.h5'\nsha256 = '{SHA}'\nsize = 1\nmetrics = {{ acc = 'high' }}\n",
        ["metrics.acc", "expected a number"],
    ),
    "hparam-missing-default": (
        ARCH.replace("default = 4, ", ""),
        ["architectures.toy", "hparams.units has no default"],
    ),
    "hparam-unknown-type": (
        ARCH.replace('"int"', '"double"'),
        ["hparams.units.type is 'double'", "expected one of int, float"],
    ),
    "hparam-default-out-of-range": (
        ARCH.replace("default = 4", "default = 100"),
        ["architectures.toy", "units=100 is out of range", "[1, 64]"],
    ),
    "hparam-bound-not-number": (
        ARCH.replace("min = 1", 'min = "1"'),
        ["hparams.units.min", "expected a number"],
    ),
    "hparam-min-above-max": (
        ARCH.replace("min = 1", "min = 100"),
        ["hparams.units", "min <= max"],
    ),
    "hparam-unknown-key": (
        ARCH.replace("min = 1", "minimum = 1"),
        ["hparams.units", "'minimum'", "valid keys"],
    ),
    "hparam-named-like-a-training-option": (
        ARCH.replace("units = {", "epochs = {"),
        ["hparams.epochs clashes with a training option"],
    ),
    "hparam-named-like-a-config-attribute": (
        ARCH.replace("units = {", "values = {"),
        ["hparams.values clashes with a Config attribute"],
    ),
    "arch-bad-task-name": (
        ARCH.replace("tabular-classification", "Clustering Task"),
        ["architectures.toy.task", "'Clustering Task'", "lower-case"],
    ),
    "arch-bad-format-name": (
        ARCH.replace('summary = "toy"', 'summary = "toy"\nexport_formats = ["PDF file"]'),
        ["architectures.toy", "'PDF file'", "onnx"],
    ),
    "task-bad-alias": (
        'schema_version = 1\n[tasks.forecasting]\naliases = ["Time Series"]\n',
        ["tasks.forecasting.aliases", "'Time Series'"],
    ),
    "plugin-unknown-hook": (
        'schema_version = 1\n[plugins.x]\nhooks = ["zoo_build"]\n',
        ["plugins.x", "'zoo_build'", "zoo_callbacks"],
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_registry_names_file_key_and_expectation(tmp_path: Path, case: str) -> None:
    text, needles = MALFORMED[case]
    path = write(tmp_path / f"{case}.toml", text)
    with pytest.raises(RegistryError) as info:
        load_registry(path)
    message = str(info.value)
    assert str(path) in message
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_missing_registry_file_is_a_registry_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="does not exist"):
        load_registry(tmp_path / "nope.toml")


# -- user layers -------------------------------------------------------------------------------


def test_user_model_with_unknown_architecture(tmp_path: Path) -> None:
    path = write(tmp_path / "mine.toml", "[models.mine]\narchitecture = 'cnx'\n")
    zoo.use_registry(path)
    with pytest.raises(RegistryError) as info:
        zoo.list_models()
    message = str(info.value)
    assert str(path) in message and "models.mine" in message
    assert "unknown architecture 'cnx'" in message and "did you mean 'cnn'" in message


def test_user_model_without_architecture(tmp_path: Path) -> None:
    zoo.use_registry(write(tmp_path / "mine.toml", "[models.mine]\nsummary = 'x'\n"))
    with pytest.raises(RegistryError, match="models.mine is a new model without 'architecture'"):
        zoo.list_models()


def test_user_layer_cannot_declare_architectures(tmp_path: Path) -> None:
    zoo.use_registry(write(tmp_path / "mine.toml", ARCH))
    with pytest.raises(RegistryError, match="architectures.toy can only be declared by a plugin"):
        zoo.list_models()


def test_user_preset_hparams_are_validated_when_the_catalog_is_read(tmp_path: Path) -> None:
    path = write(tmp_path / "mine.toml", "[models.cnn]\nhparams = { dense_unit = 16 }\n")
    zoo.use_registry(path)
    with pytest.raises(RegistryError) as info:
        zoo.list_models()
    message = str(info.value)
    assert str(path) in message and "did you mean 'dense_units'" in message
    zoo.catalog.reset()
    zoo.use_registry(write(tmp_path / "r.toml", "[models.cnn]\nhparams = { kernel_size = 40 }\n"))
    with pytest.raises(RegistryError, match=r"kernel_size=40 is out of range.*\[1, 11\]"):
        zoo.list_models()
    zoo.catalog.reset()
    zoo.use_registry(write(tmp_path / "t.toml", "[models.cnn]\ntrain = { epoch = 3 }\n"))
    with pytest.raises(RegistryError, match="did you mean 'epochs'"):
        zoo.list_models()


def test_layers_apply_in_order_env_then_cwd_then_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env1 = write(
        tmp_path / "env1.toml",
        "[models.mine]\narchitecture = 'mlp'\nsummary = 'env1'\n"
        "[models.cnn]\nhparams = { dense_units = 16 }\nsummary = 'env1 cnn'\n",
    )
    env2 = write(tmp_path / "env2.toml", "[models.mine]\nsummary = 'env2'\n")
    monkeypatch.setenv("ZOO_REGISTRY", os.pathsep.join([str(env1), str(env2)]))
    assert zoo.api.info("mine")["summary"] == "env2"
    assert zoo.api.info("mine")["architecture"]["name"] == "mlp"
    cnn = zoo.api.info("cnn")
    assert cnn["summary"] == "env1 cnn" and cnn["hparams"]["dense_units"]["value"] == 16
    assert cnn["hparams"]["filters"]["value"] == [32, 64]  # untouched keys keep the preset

    write(Path.cwd() / "registry.toml", "[models.mine]\nsummary = 'cwd'\n")
    zoo.catalog.reset()
    assert zoo.api.info("mine")["summary"] == "cwd"

    zoo.use_registry(write(tmp_path / "flag.toml", "[models.mine]\nsummary = 'flag'\n"))
    assert zoo.api.info("mine")["summary"] == "flag"
    assert "mine" in [m["name"] for m in zoo.list_models("mi*")]


def test_user_layer_adds_weights_and_pretrained_filter(tmp_path: Path) -> None:
    text = (
        "[[models.cnn.weights]]\nname = 'mine'\nsource = 'cnn-mine.weights.h5'\n"
        f"sha256 = '{SHA}'\nsize = 1234\ndataset = 'my-digits'\nmetrics = {{ accuracy = 0.9 }}\n"
    )
    zoo.use_registry(write(tmp_path / "w.toml", text))
    pretrained = {m["name"]: m["pretrained"] for m in zoo.list_models(pretrained=True)}
    assert "mine" in pretrained["cnn"] and "cnn-small" not in pretrained
    card = zoo.api.info("cnn:mine")
    assert card["weights"][0]["sha256"] == SHA and card["weights"][0]["size"] == 1234
    with pytest.raises(UnknownModelError, match="did you mean 'mine'"):
        zoo.api.info("cnn:mien")


def test_overriding_hparams_drops_a_stale_parameter_count(tmp_path: Path) -> None:
    zoo.use_registry(write(tmp_path / "a.toml", "[models.cnn]\nhparams = { dense_units = 16 }\n"))
    assert zoo.api.info("cnn")["params"] is None
    zoo.catalog.reset()
    text = "[models.cnn]\nhparams = { dense_units = 16 }\nparams = 1234\n"
    zoo.use_registry(write(tmp_path / "b.toml", text))
    assert zoo.api.info("cnn")["params"] == 1234


def test_merge_into_another_architecture_drops_old_hparams() -> None:
    base = ModelEntry(name="m", architecture="cnn", hparams={"filters": [8]}, params=10)
    merged = merge_model(base, ModelEntry(name="m", architecture="mlp", hparams={"l2": 0.1}))
    assert merged.architecture == "mlp" and merged.hparams == {"l2": 0.1}
    assert merged.params is None


def test_builtin_registry_in_cwd_is_not_layered_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    zoo.catalog.reset()
    assert len(zoo.list_models()) >= 9


def test_bad_user_override_fails_before_building(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="did you mean 'dense_units'"):
        zoo.create("cnn", dense_unit=3)
