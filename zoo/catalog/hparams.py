"""Typed hyper-parameter declarations and validation.

Declarations live in registry.toml (static data), so ``zoo info`` can show them without
importing plugin code; the same declarations validate every value before a plugin sees it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from zoo.errors import ConfigError, did_you_mean


class UnknownHParamError(ConfigError, KeyError):
    """Reading an undeclared key from a Config (a KeyError, so ``Config.get`` works)."""

    def __str__(self) -> str:
        return Exception.__str__(self)


TYPES = ("int", "float", "bool", "str", "list[int]", "list[float]")


@dataclass(frozen=True)
class HParam:
    """One declared hyper-parameter: type, default, allowed range or choices."""

    name: str
    type: str
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None

    def describe(self) -> str:
        """A short human description of the valid values, e.g. ``int in [1, 1024]``."""
        text = self.type
        if self.choices:
            text += " one of " + ", ".join(map(str, self.choices))
        elif self.min is not None or self.max is not None:
            lo = "-inf" if self.min is None else _fmt(self.min)
            hi = "inf" if self.max is None else _fmt(self.max)
            text += f" in [{lo}, {hi}]"
        return text

    def validate(self, value: Any, *, where: str = "") -> Any:
        """Return ``value`` coerced to this type, or raise ConfigError naming the fix."""
        prefix = f"{where}: " if where else ""
        if isinstance(value, str) and self.type != "str":
            value = parse_string(value, self.type, self.name, prefix)
        value = _coerce(value, self.type, self.name, prefix)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if self.choices is not None and item not in self.choices:
                raise ConfigError(
                    f"{prefix}{self.name}={item!r} is not allowed",
                    f"expected {self.describe()}",
                )
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                if (self.min is not None and item < self.min) or (
                    self.max is not None and item > self.max
                ):
                    raise ConfigError(
                        f"{prefix}{self.name}={item!r} is out of range",
                        f"expected {self.describe()}",
                    )
        return value

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "default": self.default}
        for key in ("min", "max", "help"):
            if getattr(self, key) not in (None, ""):
                out[key] = getattr(self, key)
        if self.choices is not None:
            out["choices"] = list(self.choices)
        return out


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(number)


def parse_string(text: str, type_: str, name: str, prefix: str = "") -> Any:
    """Parse a command-line string (``--set key=value``) into the declared type."""
    text = text.strip()
    try:
        if type_ == "int":
            return int(text)
        if type_ == "float":
            return float(text)
        if type_ == "bool":
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if type_.startswith("list["):
            inner = type_[5:-1]
            parts = [p for p in text.strip("[]").split(",") if p.strip()]
            return [parse_string(p, inner, name, prefix) for p in parts]
    except ValueError:
        raise ConfigError(
            f"{prefix}{name}={text!r} is not a valid {type_}",
            f"give a {type_}, e.g. {name}={_example(type_)}",
        ) from None
    return text


def _example(type_: str) -> str:
    return {"int": "64", "float": "0.001", "bool": "true", "list[int]": "32,64"}.get(
        type_, "0.5,1.0"
    )


def _coerce(value: Any, type_: str, name: str, prefix: str) -> Any:
    def bad() -> ConfigError:
        return ConfigError(
            f"{prefix}{name}={value!r} is not a valid {type_}",
            f"give a {type_}, e.g. {name}={_example(type_)}",
        )

    if type_ == "bool":
        if isinstance(value, bool):
            return value
        raise bad()
    if type_ == "int":
        if isinstance(value, bool):
            raise bad()
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise bad()
    if type_ == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        if not math.isfinite(value):
            raise bad()
        return float(value)
    if type_ == "str":
        if isinstance(value, str):
            return value
        raise bad()
    if type_.startswith("list["):
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list) or not value:
            raise bad()
        return [_coerce(v, type_[5:-1], name, prefix) for v in value]
    raise bad()


def hparam_from_toml(name: str, raw: Any, where: str) -> HParam:
    """Build an HParam from its registry.toml table, validating the declaration itself."""
    from zoo.errors import RegistryError

    if not isinstance(raw, Mapping):
        raise RegistryError(
            f"{where}: hparams.{name} must be a table",
            'expected e.g. {type = "int", default = 64, min = 1}',
        )
    known = {"type", "default", "help", "min", "max", "choices"}
    unknown = set(raw) - known
    if unknown:
        raise RegistryError(
            f"{where}: hparams.{name} has unknown key {sorted(unknown)[0]!r}",
            f"valid keys: {', '.join(sorted(known))}",
        )
    type_ = raw.get("type")
    if type_ not in TYPES:
        raise RegistryError(
            f"{where}: hparams.{name}.type is {type_!r}", f"expected one of {', '.join(TYPES)}"
        )
    if "default" not in raw:
        raise RegistryError(f"{where}: hparams.{name} has no default", "add default = ...")
    for bound in ("min", "max"):
        value = raw.get(bound)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise RegistryError(
                f"{where}: hparams.{name}.{bound} is {value!r}", "expected a number"
            )
    if raw.get("min") is not None and raw.get("max") is not None and raw["min"] > raw["max"]:
        raise RegistryError(
            f"{where}: hparams.{name} has min {raw['min']!r} > max {raw['max']!r}",
            "expected min <= max",
        )
    choices = raw.get("choices")
    if choices is not None and (not isinstance(choices, list) or not choices):
        raise RegistryError(
            f"{where}: hparams.{name}.choices is {choices!r}", "expected a non-empty array"
        )
    spec = HParam(
        name=name,
        type=type_,
        default=raw["default"],
        help=str(raw.get("help", "")),
        min=raw.get("min"),
        max=raw.get("max"),
        choices=tuple(choices) if choices is not None else None,
    )
    try:
        spec = HParam(**{**spec.__dict__, "default": spec.validate(spec.default)})
    except ConfigError as exc:
        raise RegistryError(f"{where}: default of {exc.message}", exc.hint) from None
    return spec


@dataclass
class Config(Mapping[str, Any]):
    """A validated, read-only set of hyper-parameters handed to plugin hooks.

    Reading a key that was never declared raises a ConfigError listing the valid keys, so
    a plugin cannot silently depend on an undeclared hyper-parameter.
    """

    model: str
    architecture: str
    values: dict[str, Any]
    specs: dict[str, HParam] = field(default_factory=dict, repr=False)
    train: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        try:
            return self.values[key]
        except KeyError:
            raise UnknownHParamError(
                f"model '{self.model}' has no hyper-parameter '{key}'",
                "valid keys: " + ", ".join(sorted(self.values)),
            ) from None

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_") or key in ("model", "architecture", "values", "specs", "train"):
            raise AttributeError(key)
        return self[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.values)


def resolve(
    specs: Mapping[str, HParam],
    layers: list[tuple[str, Mapping[str, Any]]],
    *,
    model: str,
) -> dict[str, Any]:
    """Merge defaults with each (source, overrides) layer in order, validating every value.

    Unknown keys raise a ConfigError naming the source, the key, a close match and
    the valid keys.
    """
    values = {name: spec.default for name, spec in specs.items()}
    for source, overrides in layers:
        for key, value in overrides.items():
            if key not in specs:
                hint = did_you_mean(key, specs)
                valid = "valid keys: " + ", ".join(sorted(specs))
                raise ConfigError(
                    f"{source}: unknown hyper-parameter '{key}' for model '{model}'",
                    f"{hint} {valid}" if hint else valid,
                )
            values[key] = specs[key].validate(value, where=source)
    return values
