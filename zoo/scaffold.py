"""``zoo new-plugin NAME``: write a ready-to-install architecture plugin package.

The skeleton is a complete, working plugin — a small dense classifier on generated data —
that passes the conformance kit as generated, so an author starts from green and changes
``model.py``, ``data.py`` and ``registry.toml`` one step at a time::

    zoo-NAME/
      pyproject.toml              entry point NAME = "zoo_NAME" in group zoo.plugins
      README.md
      src/zoo_NAME/__init__.py    the hooks (Keras is imported only inside them)
      src/zoo_NAME/model.py       build(config) -> keras.Model
      src/zoo_NAME/data.py        load(config, path, state) -> zoo.plugin.Dataset
      src/zoo_NAME/registry.toml  the architecture, its hyper-parameters, two presets
      tests/test_conformance.py   the conformance kit, one pytest test per check
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path
from string import Template

from zoo.errors import ZooError

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RESERVED = {"zoo", "core", "test", "tests", "plugin", "plugins"}


class ScaffoldError(ZooError):
    """A plugin name or output folder that ``zoo new-plugin`` cannot use."""


def validate_name(name: str) -> str:
    """Return ``name`` if it can name a plugin, its package and its architecture."""
    if not NAME_RE.match(name):
        raise ScaffoldError(
            f"plugin name '{name}' is not valid",
            "use a lower-case Python identifier: a letter, then letters, digits or '_' "
            "(at most 40), e.g. 'autoencoder' or 'wide_resnet'",
        )
    if name in RESERVED:
        raise ScaffoldError(f"plugin name '{name}' is reserved", "choose a more specific name")
    return name


def _check_not_installed(name: str) -> None:
    from zoo.catalog import get_catalog

    catalog = get_catalog()
    dash = name.replace("_", "-")
    taken = [n for n in (name, dash) if n in catalog.host.records or n in catalog.models]
    taken += [n for n in (name, dash) if n in catalog.architectures and n not in taken]
    if taken:
        raise ScaffoldError(
            f"a plugin, architecture or model named '{taken[0]}' is already installed",
            "choose another name (`zoo list` and `zoo plugins` show the installed ones)",
        )


def files(name: str) -> dict[str, str]:
    """The skeleton's files: relative path -> text."""
    values = {
        "name": name,
        "dash": name.replace("_", "-"),
        "package": f"zoo_{name}",
        "dist": f"zoo-{name.replace('_', '-')}",
        "title": name.replace("_", " ").title(),
    }
    package = values["package"]
    templates = {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        f"src/{package}/__init__.py": INIT,
        f"src/{package}/model.py": MODEL,
        f"src/{package}/data.py": DATA,
        f"src/{package}/registry.toml": REGISTRY,
        "tests/test_conformance.py": TESTS,
    }
    return {path: Template(text).substitute(values) for path, text in templates.items()}


def create_plugin(name: str, output: str | os.PathLike[str] | None = None) -> Path:
    """Write the skeleton of plugin ``name`` to ``output`` (default ``./zoo-NAME``).

    Refuses an existing ``output``; the folder appears complete or not at all.
    """
    validate_name(name)
    dest = Path(output) if output is not None else Path(f"zoo-{name.replace('_', '-')}")
    dest = dest.expanduser().absolute()
    if dest.exists() or dest.is_symlink():
        raise ScaffoldError(
            f"{dest} already exists; refusing to overwrite it",
            "choose another --output folder or remove that one",
        )
    if not dest.parent.is_dir():
        raise ScaffoldError(
            f"cannot create {dest}: {dest.parent} is not an existing folder",
            "create the parent folder first or choose another --output",
        )
    _check_not_installed(name)
    staging = dest.parent / f".{dest.name}.partial-{secrets.token_hex(4)}"
    try:
        for rel, text in files(name).items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        os.rename(staging, dest)  # atomic: the folder is complete or absent
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if dest.exists():
            raise ScaffoldError(
                f"{dest} already exists; refusing to overwrite it",
                "choose another --output folder",
            ) from None
        raise ScaffoldError(f"cannot write {dest}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


# -- templates (string.Template: $name, $package, $dist, $dash, $title) -----------------------
PYPROJECT = """\
[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "$title: an architecture plugin for zoo"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["keras-zoo>=0.1", "numpy>=1.26"]

[project.optional-dependencies]
test = ["pytest>=8"]

# The zoo finds the plugin through this entry point (name = plugin name, value = module).
[project.entry-points."zoo.plugins"]
$name = "$package"

[tool.setuptools.packages.find]
where = ["src"]

# registry.toml must be installed next to the plugin module.
[tool.setuptools.package-data]
$package = ["registry.toml"]
"""

README = """\
# $dist

An architecture plugin for zoo, generated by `zoo new-plugin $name`. As generated it is a
small dense classifier on generated data; replace `model.py`, `data.py` and
`registry.toml` with your architecture.

```console
$$ pip install -e ".[test]"
$$ zoo list $name
$$ zoo train $name --epochs 3
$$ zoo export $name --format keras
$$ zoo check-plugin $name      # the conformance kit
$$ pytest tests                # the same checks, one test each
```

Files:

- `src/$package/registry.toml` — the architecture (task, hyper-parameters with types,
  defaults and ranges) and its model presets; read by `zoo list` without importing code.
- `src/$package/__init__.py` — the `zoo_build` and `zoo_dataset` hooks.
- `src/$package/model.py` — `build(config)` returns a `keras.Model`.
- `src/$package/data.py` — `load(config, path, state)` returns a `zoo.plugin.Dataset`.

The authoring guide is docs/plugins.md in the zoo repository.

Publish: `python -m build` then `twine upload dist/*`.
"""

INIT = '''\
"""$title: an architecture plugin for zoo.

The zoo imports this module (named by the ``zoo.plugins`` entry point) the first time one
of its models is used. Keep it light: import Keras only inside the hooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.plugin import Config, Dataset, hookimpl

# Conformance checks known to fail, with the reason: {"export_litert": "why"}.
ZOO_EXPECTED_FAILURES: dict[str, str] = {}


@hookimpl
def zoo_build(config: Config) -> Any:
    """An uncompiled keras.Model for ``config``; the zoo compiles it for the task."""
    from $package.model import build

    return build(config)


@hookimpl
def zoo_dataset(config: Config, path: Path | None, state: dict[str, Any] | None) -> Dataset:
    """The default dataset when ``path`` is None, else the user's file."""
    from $package.data import load

    return load(config, path, state)
'''

MODEL = '''\
"""The model: Dense(units) -> Dropout -> Dense(num_classes, softmax)."""

from __future__ import annotations

import keras
from zoo.plugin import Config


def build(config: Config) -> keras.Model:
    inputs = keras.Input(shape=(config.input_dim,), name="features")
    x = keras.layers.Dense(config.units, activation="relu", name="hidden")(inputs)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, name="dropout")(x)
    outputs = keras.layers.Dense(config.num_classes, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name=config.model)
'''

DATA = '''\
"""The data: generated Gaussian blobs by default, or the user's ``.npz`` file.

A user file holds arrays ``x`` (examples x features) and ``y`` (integer class ids).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from zoo.plugin import Config, DataError, Dataset

SEED = 1234
EXAMPLES = 600


def load(config: Config, path: Path | None, state: dict[str, Any] | None) -> Dataset:
    if path is None:
        return blobs(config)
    return npz(path, state)


def blobs(config: Config) -> Dataset:
    rng = np.random.default_rng(SEED)
    centres = rng.normal(0.0, 2.0, (config.num_classes, config.input_dim))
    y = rng.integers(0, config.num_classes, EXAMPLES).astype("int32")
    x = centres[y] + rng.normal(0.0, 1.0, (EXAMPLES, config.input_dim))
    return Dataset(
        x=x.astype("float32"),
        y=y,
        name="blobs",
        description=f"generated: {EXAMPLES} examples in {config.num_classes} Gaussian blobs",
        implied={"input_dim": config.input_dim, "num_classes": config.num_classes},
    )


def npz(path: Path, state: dict[str, Any] | None) -> Dataset:
    if path.suffix != ".npz":
        raise DataError(f"{path}: expected a .npz file", "save arrays x and y with numpy.savez")
    with np.load(path, allow_pickle=False) as arrays:
        if "x" not in arrays.files:
            raise DataError(f"{path}: has no array 'x'", "save the features as x")
        x = arrays["x"].astype("float32")
        y = arrays["y"].astype("int32") if "y" in arrays.files else None
    if x.ndim != 2:
        raise DataError(f"{path}: x has shape {x.shape}", "expected (examples, features)")
    implied: dict[str, Any] = {"input_dim": int(x.shape[1])}
    if y is not None:
        implied["num_classes"] = max(2, int(y.max()) + 1)
    return Dataset(
        x=x, y=y, name=path.stem, implied=implied if state is None else {}, state=state or {}
    )
'''

REGISTRY = """\
# The plugin's catalog: read by `zoo list` / `zoo info` without importing any code.
schema_version = 1

[architectures.$name]
summary = "$title: a dense classifier (replace with your architecture)"
task = "tabular-classification"
input = "vector of input_dim floats"
output = "num_classes softmax probabilities"
default_dataset = "generated: 600 examples in Gaussian blobs"
export_formats = ["keras", "savedmodel", "onnx", "litert"]

[architectures.$name.hparams]
input_dim = { type = "int", default = 8, min = 1, max = 100000, help = "features per example" }
units = { type = "int", default = 32, min = 1, max = 4096, help = "hidden units" }
dropout = { type = "float", default = 0.0, min = 0.0, max = 0.9, help = "hidden dropout" }
num_classes = { type = "int", default = 3, min = 2, max = 1000, help = "output classes" }

[models.$name]
architecture = "$name"
summary = "$title with 32 hidden units"
license = "Apache-2.0"
params = 387

[models.$name-small]
architecture = "$name"
summary = "$title with 8 hidden units"
license = "Apache-2.0"
params = 99
hparams = { units = 8 }
"""

TESTS = '''\
"""The zoo's conformance kit: one test per check (see `zoo check-plugin $name`)."""

import pytest
from zoo.testing import plugin_checks


@pytest.mark.parametrize("check", plugin_checks("$name"))
def test_conformance(check):
    check()
'''
