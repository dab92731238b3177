"""Fabricate installed plugin distributions (package + ``*.dist-info`` with entry points).

``importlib.metadata`` discovers a ``<name>-<version>.dist-info`` folder on any ``sys.path``
entry, so a folder made here and put on PYTHONPATH (or ``sys.path``) behaves exactly like a
plugin installed with pip: the zoo finds it through the ``zoo.plugins`` entry-point group.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path


def make_dist(
    root: Path,
    dist_name: str,
    entry_points: Mapping[str, str],
    files: Mapping[str, str],
    version: str = "0.1",
) -> Path:
    """Write ``files`` (relative path -> text) under ``root`` plus the dist-info folder."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    info = root / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = "".join(f"{name} = {module}\n" for name, module in entry_points.items())
    (info / "entry_points.txt").write_text("[zoo.plugins]\n" + lines, encoding="utf-8")
    return root


def registry(arch: str, models: Mapping[str, str], plugin: str | None = None) -> str:
    """A minimal valid registry.toml declaring ``arch`` and ``models`` (name -> summary)."""
    text = "schema_version = 1\n\n"
    text += f"[architectures.{arch}]\n"
    if plugin:
        text += f'plugin = "{plugin}"\n'
    text += (
        'summary = "a tiny dense classifier"\n'
        'task = "tabular-classification"\n'
        'input = "vector of input_dim floats"\n'
        'default_dataset = "generated"\n'
        f"[architectures.{arch}.hparams]\n"
        'input_dim = { type = "int", default = 6, min = 1, max = 1000 }\n'
        'units = { type = "int", default = 4, min = 1, max = 1000, help = "hidden units" }\n'
        'num_classes = { type = "int", default = 3, min = 2, max = 100 }\n'
    )
    for name, summary in models.items():
        text += (
            f'\n[models.{name}]\narchitecture = "{arch}"\nsummary = "{summary}"\nlicense = "MIT"\n'
        )
    return text


GOOD_HOOKS = '''
    """A third-party plugin, written as an outside author would."""

    from zoo.plugin import Dataset, hookimpl


    @hookimpl
    def zoo_build(config):
        import keras

        inputs = keras.Input(shape=(config.input_dim,), name="features")
        x = keras.layers.Dense(config.units, activation="relu", name="hidden")(inputs)
        outputs = keras.layers.Dense(config.num_classes, activation="softmax", name="out")(x)
        return keras.Model(inputs, outputs, name=config.model)


    @hookimpl
    def zoo_dataset(config, path, state):
        import numpy as np

        rng = np.random.default_rng(0)
        x = rng.normal(size=(64, config.input_dim)).astype("float32")
        y = (x[:, 0] > 0).astype("int32")
        return Dataset(x=x, y=y, name="toy")
'''


def good_plugin(root: Path, dist: str = "zoo-good", package: str = "zoo_good") -> Path:
    """A working plugin: architecture ``tinydense``, model ``good-tiny`` (params 43)."""
    text = registry("tinydense", {"good-tiny": "third-party tiny model"})
    text = text.replace('license = "MIT"\n', 'license = "MIT"\nparams = 43\n')
    return make_dist(
        root,
        dist,
        {"good": package},
        {f"{package}/__init__.py": GOOD_HOOKS, f"{package}/registry.toml": text},
    )


def broken_import_plugin(root: Path) -> Path:
    """Plugin ``broken`` whose module fails to import (a missing dependency)."""
    return make_dist(
        root,
        "zoo-broken",
        {"broken": "zoo_broken"},
        {
            "zoo_broken/__init__.py": "import zoo_missing_dependency_xyz  # noqa: F401\n",
            "zoo_broken/registry.toml": registry("brokenarch", {"broken-model": "never works"}),
        },
    )


def bad_registry_plugin(root: Path) -> Path:
    """Plugin ``badreg`` whose registry.toml has an unknown key in a model."""
    text = registry("badarch", {"badreg-model": "bad"}).replace(
        'license = "MIT"', 'license = "MIT"\nlicence_typo = "MIT"'
    )
    return make_dist(
        root,
        "zoo-badreg",
        {"badreg": "zoo_badreg"},
        {"zoo_badreg/__init__.py": GOOD_HOOKS, "zoo_badreg/registry.toml": text},
    )


def marker_plugin(root: Path, marker: Path) -> Path:
    """Plugin ``marker`` (entry point ``zoo_marker.plugin``): importing the package writes
    ``marker`` and raises, so a test can prove it was never imported."""
    init = f"""
        from pathlib import Path

        Path({str(marker)!r}).write_text("imported")
        raise RuntimeError("zoo_marker must not be imported")
    """
    return make_dist(
        root,
        "zoo-marker",
        {"marker": "zoo_marker.plugin"},
        {
            "zoo_marker/__init__.py": init,
            "zoo_marker/plugin.py": GOOD_HOOKS,
            "zoo_marker/registry.toml": registry("markerarch", {"marker-model": "m"}),
        },
    )


def conflicting_plugins(root: Path) -> Path:
    """Two packages, ``zoo-left`` and ``zoo-right``, both declaring model ``dup-model``."""
    make_dist(
        root,
        "zoo-left",
        {"left": "zoo_left"},
        {
            "zoo_left/__init__.py": GOOD_HOOKS,
            "zoo_left/registry.toml": registry("leftarch", {"dup-model": "left one"}),
        },
    )
    return make_dist(
        root,
        "zoo-right",
        {"right": "zoo_right"},
        {
            "zoo_right/__init__.py": GOOD_HOOKS,
            "zoo_right/registry.toml": registry(
                "rightarch", {"dup-model": "right one", "right-only": "r"}
            ),
        },
    )


def hook_plugin(root: Path, name: str, source: str) -> Path:
    """Plugin ``name`` (package ``zoo_<name>``, model ``<name>-model``) with hook ``source``."""
    package = f"zoo_{name}"
    return make_dist(
        root,
        f"zoo-{name}",
        {name: package},
        {
            f"{package}/__init__.py": source,
            f"{package}/registry.toml": registry(f"{name}arch", {f"{name}-model": "x"}),
        },
    )


WRONG_SIGNATURE = """
    from zoo.plugin import hookimpl


    @hookimpl
    def zoo_build(cfg):
        raise AssertionError("never called")


    @hookimpl
    def zoo_dataset(config, path, state):
        raise AssertionError("never called")
"""

UNKNOWN_HOOK = """
    from zoo.plugin import hookimpl


    @hookimpl
    def zoo_bild(config):
        raise AssertionError("never called")


    @hookimpl
    def zoo_dataset(config, path, state):
        raise AssertionError("never called")
"""

NO_BUILD = """
    from zoo.plugin import hookimpl


    @hookimpl
    def zoo_dataset(config, path, state):
        raise AssertionError("never called")
"""

UNMARKED_BUILD = """
    from zoo.plugin import hookimpl


    def zoo_build(config):
        raise AssertionError("never called")


    @hookimpl
    def zoo_dataset(config, path, state):
        raise AssertionError("never called")
"""


def weights_dump_plugin(root: Path) -> Path:
    """A cross-cutting plugin (``zoo_callbacks``, declared in its registry) whose callback
    writes each worker's final weights to ``$ZOO_TEST_DUMP/worker-<index>.npz``."""
    return make_dist(
        root,
        "zoo-dumpweights",
        {"dumpweights": "zoo_dumpweights"},
        {
            "zoo_dumpweights/__init__.py": """
                import json
                import os
                from pathlib import Path

                from zoo.plugin import hookimpl


                @hookimpl
                def zoo_callbacks(config, run_dir):
                    import keras
                    import numpy as np

                    folder = Path(os.environ["ZOO_TEST_DUMP"])
                    conf = json.loads(os.environ.get("TF_CONFIG") or "{}")
                    index = int(conf.get("task", {}).get("index", 0))

                    class Dump(keras.callbacks.Callback):
                        def on_train_end(self, logs=None):
                            folder.mkdir(parents=True, exist_ok=True)
                            weights = [np.asarray(w) for w in self.model.get_weights()]
                            np.savez(
                                folder / f"worker-{index}.npz",
                                **{f"w{i}": w for i, w in enumerate(weights)},
                            )

                    return [Dump()]
            """,
            "zoo_dumpweights/registry.toml": """
                schema_version = 1

                [plugins.dumpweights]
                hooks = ["zoo_callbacks"]
            """,
        },
    )
