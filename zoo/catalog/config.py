"""A model's validated config: architecture defaults, preset, weights, then the user's layers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zoo.catalog.hparams import Config, resolve
from zoo.catalog.layers import ModelRef
from zoo.catalog.options import TRAIN_OPTIONS
from zoo.errors import ConfigError, did_you_mean


def split_overrides(
    ref: ModelRef, overrides: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split ``key=value`` overrides into architecture hyper-parameters and training options."""
    hp, train = {}, {}
    for key, value in overrides.items():
        if key in ref.architecture.hparams:
            hp[key] = value
        elif key in TRAIN_OPTIONS:
            train[key] = value
        else:
            valid = sorted(ref.architecture.hparams) + sorted(TRAIN_OPTIONS)
            hint = did_you_mean(key, valid)
            listing = "valid keys: " + ", ".join(valid)
            raise ConfigError(
                f"unknown hyper-parameter '{key}' for model '{ref.model.name}'",
                f"{hint} {listing}" if hint else listing,
            )
    return hp, train


def make_config(
    ref: ModelRef,
    layers: list[tuple[str, Mapping[str, Any]]] = (),  # type: ignore[assignment]
) -> Config:
    """Validated config: architecture defaults <- preset <- weights <- each (source, values)."""
    model = ref.model
    hp_layers: list[tuple[str, Mapping[str, Any]]] = [
        (f"{model.origin}: models.{model.name}", model.hparams)
    ]
    train_layers: list[tuple[str, Mapping[str, Any]]] = [
        (f"{model.origin}: models.{model.name}.train", model.train)
    ]
    if ref.weights is not None and ref.weights.hparams:
        hp_layers.append((f"weights {model.name}:{ref.weights.name}", ref.weights.hparams))
    for source, values in layers:
        hp, train = split_overrides(ref, values)
        hp_layers.append((source, hp))
        train_layers.append((source, train))
    values = resolve(ref.architecture.hparams, hp_layers, model=model.name)
    train = resolve(TRAIN_OPTIONS, train_layers, model=model.name)
    return Config(
        model=model.name,
        architecture=ref.architecture.name,
        values=values,
        specs=dict(ref.architecture.hparams),
        train=train,
    )
