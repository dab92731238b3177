"""Hyper-parameter parsing, validation and resolution (no model is built here)."""

from __future__ import annotations

import json
import math

import pytest
from conftest import run_python

import zoo
from zoo.catalog import get_catalog
from zoo.catalog.config import make_config
from zoo.catalog.hparams import HParam, parse_string, resolve
from zoo.errors import ConfigError

UNITS = HParam("units", "int", 64, min=1, max=4096)
RATE = HParam("dropout", "float", 0.0, min=0.0, max=0.95)
FLAG = HParam("bidirectional", "bool", False)
LAYERS = HParam("hidden_units", "list[int]", [64], min=1, max=65536)
CELL = HParam("cell", "str", "lstm", choices=("lstm", "gru"))


@pytest.mark.parametrize(
    ("text", "type_", "expected"),
    [
        ("0.2", "float", 0.2),
        ("1e-3", "float", 1e-3),
        ("7", "int", 7),
        (" 7 ", "int", 7),
        ("32,64", "list[int]", [32, 64]),
        ("[32, 64]", "list[int]", [32, 64]),
        ("32", "list[int]", [32]),
        ("0.5,1", "list[float]", [0.5, 1.0]),
        ("true", "bool", True),
        ("Yes", "bool", True),
        ("1", "bool", True),
        ("false", "bool", False),
        ("off", "bool", False),
        ("gru", "str", "gru"),
    ],
)
def test_set_strings_are_parsed_to_the_declared_type(
    text: str, type_: str, expected: object
) -> None:
    value = parse_string(text, type_, "key")
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("text", "type_"),
    [("abc", "int"), ("1.5", "int"), ("fast", "float"), ("maybe", "bool"), ("32,x", "list[int]")],
)
def test_unparseable_strings_say_what_is_expected(text: str, type_: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_string(text, type_, "key")
    assert f"is not a valid {type_}" in str(info.value) and "e.g. key=" in str(info.value)


def test_validate_coerces_and_checks_ranges() -> None:
    assert UNITS.validate("128") == 128
    assert UNITS.validate(2.0) == 2 and isinstance(UNITS.validate(2.0), int)
    assert RATE.validate(0) == 0.0 and isinstance(RATE.validate(0), float)
    assert RATE.validate("0.2") == 0.2
    assert FLAG.validate("true") is True
    assert LAYERS.validate((32, 16)) == [32, 16]
    assert LAYERS.validate("32,16") == [32, 16]
    assert CELL.validate("gru") == "gru"


@pytest.mark.parametrize(
    ("spec", "value", "needles"),
    [
        (UNITS, 0, ["units=0 is out of range", "int in [1, 4096]"]),
        (UNITS, 5000, ["out of range", "[1, 4096]"]),
        (UNITS, 1.5, ["units=1.5 is not a valid int"]),
        (UNITS, True, ["not a valid int"]),
        (RATE, 1.0, ["dropout=1.0 is out of range", "float in [0, 0.95]"]),
        (RATE, math.nan, ["not a valid float"]),
        (RATE, "inf", ["not a valid float"]),
        (RATE, [0.1], ["not a valid float"]),
        (FLAG, 1, ["bidirectional=1 is not a valid bool"]),
        (LAYERS, [32, 0], ["hidden_units=0 is out of range", "[1, 65536]"]),
        (LAYERS, [], ["not a valid list[int]"]),
        (LAYERS, 32, ["not a valid list[int]"]),
        (CELL, "transformer", ["cell='transformer' is not allowed", "one of lstm, gru"]),
        (CELL, 3, ["not a valid str"]),
    ],
)
def test_bad_values_name_the_valid_range(spec: HParam, value: object, needles: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        spec.validate(value, where="create()")
    message = str(info.value)
    assert message.startswith("create(): ")
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"


def test_resolve_layers_in_order_and_rejects_unknown_keys() -> None:
    specs = {s.name: s for s in (UNITS, RATE, FLAG)}
    values = resolve(specs, [("preset", {"units": 32}), ("cli", {"dropout": "0.5"})], model="m")
    assert values == {"units": 32, "dropout": 0.5, "bidirectional": False}
    with pytest.raises(ConfigError) as info:
        resolve(specs, [("--set", {"unit": 3})], model="m")
    message = str(info.value)
    assert "--set: unknown hyper-parameter 'unit' for model 'm'" in message
    assert "did you mean 'units'?" in message
    assert "valid keys: bidirectional, dropout, units" in message


def test_unknown_key_without_close_match_lists_valid_keys() -> None:
    with pytest.raises(ConfigError) as info:
        zoo.create("rnn", zzz=1)
    message = str(info.value)
    assert "did you mean" not in message
    assert "valid keys:" in message and "cell" in message and "epochs" in message


@pytest.mark.parametrize(
    ("name", "overrides", "needles"),
    [
        ("cnn", {"dense_unit": 3}, ["unknown hyper-parameter 'dense_unit'", "'dense_units'"]),
        ("cnn", {"kernel_size": 0}, ["kernel_size=0 is out of range", "[1, 11]"]),
        ("rnn", {"cell": "transformer"}, ["one of lstm, gru"]),
        ("mlp", {"hidden_units": "32,x"}, ["not a valid list[int]"]),
        ("mlp", {"learning_rate": "fast"}, ["learning_rate='fast' is not a valid float"]),
        ("mlp", {"epoch": 3}, ["did you mean 'epochs'"]),
        ("transformer", {"num_heads": 0}, ["num_heads=0 is out of range"]),
    ],
)
def test_bad_create_overrides(name: str, overrides: dict, needles: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        zoo.create(name, **overrides)
    for needle in needles:
        assert needle in str(info.value), str(info.value)


def test_bad_override_fails_without_importing_tensorflow() -> None:
    code = (
        "import sys, zoo\n"
        "try:\n    zoo.create('cnn', kernel_size=0)\n"
        "except zoo.ConfigError as exc:\n    print(exc)\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    rc, out, err = run_python(code)
    assert rc == 0, err
    assert "kernel_size=0 is out of range" in out
    assert out.strip().endswith("False False")


def test_config_layers_preset_and_overrides() -> None:
    ref = get_catalog().resolve("cnn-small")
    config = make_config(ref)
    assert config["filters"] == [8, 16] and config.dense_units == 32
    assert config.kernel_size == 3  # architecture default
    config = make_config(ref, [("--set", {"dense_units": "64", "epochs": "2"})])
    assert config.dense_units == 64 and config.train["epochs"] == 2
    assert set(config) == set(ref.architecture.hparams)
    with pytest.raises(ConfigError, match="valid keys: "):
        config["nope"]
    with pytest.raises(ConfigError, match="has no hyper-parameter 'nope'"):
        _ = config.nope
    assert json.loads(json.dumps(config.to_dict()))["filters"] == [8, 16]
