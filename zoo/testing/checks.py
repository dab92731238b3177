"""The checks of the conformance kit (see :mod:`zoo.testing.kit` for the public entry points).

Each check is a function that returns a one-line description when the contract holds and
raises (:class:`zoo.testing.kit.CheckFailed`, a ``ZooError`` or anything else) with the reason
when it does not. Checks follow the runner's own code path — ``make_config``,
``load_dataset``, ``apply_implied``, ``build_model``, ``check_inputs``, ``Task.split``, the
owning plugin's ``zoo_train`` — so a plugin that passes trains and exports like a built-in.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from zoo.catalog.hparams import Config, HParam, UnknownHParamError
from zoo.catalog.layers import Catalog, ModelRef, get_catalog
from zoo.errors import (
    ConfigError,
    PluginHookError,
    UnknownModelError,
    ZooError,
    did_you_mean,
)
from zoo.testing.results import (
    EXPECTED_FAILURES_ATTR,
    MODEL_CHECKS,
    PLUGIN_CHECKS,
    Check,
    CheckFailed,
    CheckSkipped,
    one_line,
)

SAMPLE_EXAMPLES = 64  # the slice of the default dataset the training check uses
TRAIN_EPOCHS = 2
TRAIN_BATCH = 16
HEAVY_MODULES = ("tensorflow", "keras")

# Run in a fresh interpreter: import the plugin module and report which heavy modules it
# pulled in, and the first line outside the import machinery that imported each.
_PROBE = r"""
import importlib, importlib.abc, json, sys, traceback
HEAVY = {heavy!r}
first = {{}}
class Probe(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        if top in HEAVY and top not in first:
            frames = [f for f in traceback.extract_stack()[:-1]
                      if not f.filename.startswith("<frozen")]
            first[top] = "%s:%s" % (frames[-1].filename, frames[-1].lineno) if frames else "?"
        return None
sys.meta_path.insert(0, Probe())
importlib.import_module(sys.argv[1])
print(json.dumps({{m: first.get(m, "?") for m in HEAVY if m in sys.modules}}))
"""


class _Memo:
    """Cache values *and* exceptions, so a broken dataset fails every check the same way."""

    def __init__(self) -> None:
        self._store: dict[str, tuple[bool, Any]] = {}

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._store:
            try:
                self._store[key] = (True, make())
            except Exception as exc:  # noqa: BLE001 - re-raised on every access
                self._store[key] = (False, exc)
        ok, value = self._store[key]
        if ok:
            return value
        raise value


# -- the plugin ----------------------------------------------------------------------------
class PluginSubject:
    """The plugin under test and the model presets its checks use."""

    def __init__(self, plugin: str, refs: list[ModelRef], overrides: dict[str, Any]) -> None:
        self.plugin = plugin
        self.refs = refs
        self.overrides = overrides
        self.module = get_catalog().host.records[plugin].module

    @classmethod
    def resolve(cls, name: str, *, model: str | None, overrides: dict[str, Any]) -> PluginSubject:
        catalog = get_catalog()
        records = catalog.host.records
        plugin = None
        if name in records:
            plugin = name
        elif name.partition(":")[0] in catalog.models:
            ref = catalog.resolve(name)
            plugin, model = ref.plugin, model or ref.model.name
        else:
            plugin = next((r.name for r in records.values() if name in r.models), None)
        if plugin is None:
            candidates = [*records, *catalog.models]
            hint = did_you_mean(name, candidates)
            listing = "installed plugins: " + ", ".join(sorted(records))
            raise UnknownModelError(
                f"no plugin or model named '{name}'", f"{hint} {listing}" if hint else listing
            )
        return cls(plugin, _pick_models(catalog, plugin, model), overrides)

    # -- the checks ------------------------------------------------------------------------
    def checks(self) -> list[Check]:
        expected = self._expected_failures()
        multi = len(self.refs) > 1
        out: list[Check] = []

        def add(name: str, func: Callable[[], str | None], unsupported: str | None = None):
            bare = name.rpartition("/")[2]
            reason = expected.get(name, expected.get(bare))
            out.append(Check(name, func, expected_failure=reason, unsupported=unsupported))

        add("registry", self.check_registry)
        add("hparam_defaults", self.check_hparam_defaults)
        add("no_tensorflow_on_import", self.check_no_tensorflow)
        add("hooks", self.check_hooks)
        if not self.refs:
            record = get_catalog().host.records[self.plugin]
            if record.registry is not None or record.status != "ok":
                why = record.error or "its registry.toml declares no model preset"
                add("models", _fail(f"no model of plugin '{self.plugin}' to check: {why}"))
        for ref in self.refs:
            subject = ModelSubject(self, ref)
            prefix = f"{ref.model.name}/" if multi else ""
            for check in MODEL_CHECKS:
                add(prefix + check, getattr(subject, f"check_{check}"))
            for fmt, unsupported in subject.export_formats():
                add(prefix + f"export_{fmt}", subject.export_check(fmt), unsupported)
        return out

    def known_check_names(self) -> set[str]:
        names = set(PLUGIN_CHECKS) | set(MODEL_CHECKS)
        for ref in self.refs:
            own = [
                *MODEL_CHECKS,
                *(f"export_{f}" for f, _ in ModelSubject(self, ref).export_formats()),
            ]
            names |= set(own) | {f"{ref.model.name}/{c}" for c in own}
        return names

    def _expected_failures(self) -> dict[str, str]:
        record = get_catalog().host.records[self.plugin]
        if record.status == "disabled":
            return {}
        try:
            module = importlib.import_module(self.module)
        except Exception:  # noqa: BLE001 - the hooks check reports the import error
            return {}
        raw = getattr(module, EXPECTED_FAILURES_ATTR, None)
        if not isinstance(raw, Mapping):
            return {}
        return {str(k): str(v) for k, v in raw.items()}

    def check_registry(self) -> str:
        from zoo.catalog.host import find_registry_file
        from zoo.catalog.registry import load_registry

        fresh = Catalog.build()  # registry problems only, not earlier load failures
        record = fresh.host.records.get(self.plugin)
        if record is None:
            raise CheckFailed(f"plugin '{self.plugin}' is no longer installed")
        if record.status == "disabled":
            raise CheckFailed(f"plugin '{self.plugin}' is disabled by ZOO_DISABLE_PLUGINS")
        if record.status == "error":
            raise CheckFailed(record.error or "the plugin is broken")
        path = find_registry_file(record.module)  # imports parent packages, never the module
        if path is None:
            return f"no registry.toml near {record.module}: a plugin without models"
        load_registry(path)
        archs = [a for a in fresh.architectures.values() if a.plugin == self.plugin]
        models = sorted(m.name for m in fresh.models.values() if fresh.plugin_of(m) is record)
        if not archs and not models:
            raise CheckFailed(
                f"{path} declares no architecture for plugin '{self.plugin}' "
                f"(add [architectures.<name>] or plugin = '{self.plugin}' to one)"
            )
        for arch in archs:
            where = f"{path}: architectures.{arch.name}"
            if not arch.summary:
                raise CheckFailed(f"{where} has no summary (`zoo list` shows it)")
            if not any(m.architecture == arch.name for m in fresh.models.values()):
                raise CheckFailed(
                    f"{where} has no model preset "
                    f"(add [models.{arch.name}] with architecture = '{arch.name}')"
                )
        names = ", ".join(a.name for a in archs) or "-"
        return f"{path}: architecture(s) {names}; model(s) {', '.join(models)}"

    def check_hparam_defaults(self) -> str:
        from zoo.catalog.hparams import resolve

        catalog = Catalog.build()
        archs = [a for a in catalog.architectures.values() if a.plugin == self.plugin]
        if not archs:
            return "no architecture: nothing to validate"
        count, presets, undocumented = 0, 0, []
        for arch in archs:
            for key, spec in arch.hparams.items():
                spec.validate(spec.default, where=f"{arch.origin}: {arch.name}.hparams")
                count += 1
                if not spec.help:
                    undocumented.append(key)
            for model in catalog.models.values():
                if model.architecture == arch.name:
                    where = f"{model.origin}: models.{model.name}.hparams"
                    resolve(arch.hparams, [(where, model.hparams)], model=model.name)
                    presets += 1
        text = f"{count} hyper-parameter default(s) and {presets} preset(s) valid"
        if undocumented:
            text += f" (no help text: {', '.join(undocumented)})"
        return text

    def check_no_tensorflow(self) -> str:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE.format(heavy=HEAVY_MODULES), self.module],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            raise CheckFailed(
                f"importing {self.module} fails in a fresh interpreter: "
                f"{lines[-1] if lines else 'exit code ' + str(proc.returncode)}"
            )
        found = json.loads(proc.stdout.strip().splitlines()[-1])
        if found:
            where = next(iter(found.values()))
            raise CheckFailed(
                f"importing {self.module} imports {', '.join(found)} (first at {where}); "
                "import them inside the hook functions, or use zoo.plugin.lazy_hooks"
            )
        return f"importing {self.module} imports neither TensorFlow nor Keras"

    def check_hooks(self) -> str:
        from zoo import hookspecs

        host = get_catalog().host
        try:
            module = host.load(self.plugin)  # import error, bad signature, missing hooks
        except ZooError as exc:
            raise CheckFailed(_explain_contract(exc.message)) from None
        raw = getattr(module, EXPECTED_FAILURES_ATTR, None)
        if raw is not None:
            if not isinstance(raw, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) and v for k, v in raw.items()
            ):
                raise CheckFailed(
                    f"{self.module}.{EXPECTED_FAILURES_ATTR} must be a dict of check name -> "
                    f"reason (non-empty strings), not {raw!r}"
                )
            known = self.known_check_names()
            for key in raw:
                if key not in known:
                    hint = did_you_mean(key, known)
                    raise CheckFailed(
                        f"{self.module}.{EXPECTED_FAILURES_ATTR} names unknown check '{key}'"
                        + (f"; {hint}" if hint else f"; checks: {', '.join(sorted(known))}")
                    )
        specs = [n for n in dir(hookspecs) if n.startswith("zoo_")]
        implemented = [h for h in specs if host.implements(self.plugin, h)]
        defaults = [h for h in ("zoo_train", "zoo_export") if h not in implemented]
        text = f"implements {', '.join(implemented) or 'no hook'}"
        if defaults and any(h in implemented for h in ("zoo_build", "zoo_dataset")):
            text += f"; core defaults for {', '.join(defaults)}"
        return text


def _explain_contract(message: str) -> str:
    """Append the specified signature to pluggy's complaint about a hook implementation."""
    import inspect
    import re

    from zoo import hookspecs

    found = re.search(r"for hook '(zoo_\w+)'", message)
    spec = getattr(hookspecs, found.group(1), None) if found else None
    if spec is None:
        return message
    args = ", ".join(inspect.signature(spec).parameters)
    return f"{message}; the hookspec is {spec.__name__}({args})"


def _fail(message: str) -> Callable[[], str]:
    def check() -> str:
        raise CheckFailed(message)

    return check


def _pick_models(catalog: Catalog, plugin: str, model: str | None) -> list[ModelRef]:
    """``model``, else one preset per architecture of ``plugin`` (the one named like the
    architecture, else the first by name)."""
    if model is not None:
        ref = catalog.resolve(model)
        if ref.plugin != plugin:
            raise UnknownModelError(
                f"model '{model}' belongs to plugin '{ref.plugin}', not '{plugin}'",
                f"check it with `zoo check-plugin {ref.plugin} --model {model}`",
            )
        return [ref]
    record = catalog.host.records[plugin]
    refs = []
    for arch in sorted(record.architectures):
        presets = sorted(m.name for m in catalog.models.values() if m.architecture == arch)
        if presets:
            refs.append(catalog.resolve(arch if arch in presets else presets[0]))
    return refs


# -- one model -------------------------------------------------------------------------------
class ModelSubject:
    """One model preset of the plugin, with its config, data and builds (cached)."""

    def __init__(self, plugin: PluginSubject, ref: ModelRef) -> None:
        self.plugin = plugin
        self.ref = ref
        self.memo = _Memo()

    @property
    def name(self) -> str:
        return self.ref.model.name

    # -- cached pieces ---------------------------------------------------------------------
    def base_config(self) -> Config:
        from zoo.catalog.config import make_config

        overrides = self.plugin.overrides
        return self.memo.get(
            "config", lambda: make_config(self.ref, [("check_plugin overrides", overrides)])
        )

    def data(self) -> tuple[Any, Config]:
        """(default dataset, config with the hyper-parameters the data implies)."""

        def make() -> tuple[Any, Config]:
            from zoo.training.inputs import apply_implied, load_dataset

            base = self.base_config()
            with _hook("zoo_dataset", self.ref):
                dataset = load_dataset(self.ref, base, None, None)
            explicit = set(self.plugin.overrides)
            return dataset, apply_implied(self.ref, base, dataset, explicit, f"data {dataset.name}")

        return self.memo.get("data", make)

    def config(self) -> Config:
        return self.data()[1]

    def small(self) -> Any:
        from zoo.training.inputs import subsample

        return self.memo.get("small", lambda: subsample(self.data()[0], SAMPLE_EXAMPLES, 0))

    def build(self, config: Config | None = None, *, compile: bool = False) -> Any:
        from zoo.building import build_model

        with _hook("zoo_build", self.ref):
            return build_model(self.ref, config or self.config(), compile=compile)

    def sample(self, n: int) -> Any:
        x = self.small().x
        return {k: v[:n] for k, v in x.items()} if isinstance(x, dict) else x[:n]

    # -- checks ----------------------------------------------------------------------------
    def check_build(self) -> str:
        from zoo.catalog.config import make_config

        cfg = self.config()
        model = self.build(cfg)
        try:
            inputs, outputs = list(model.inputs), list(model.outputs)
        except (AttributeError, ValueError):
            inputs, outputs = [], []
        if not inputs or not outputs:
            raise CheckFailed(
                f"zoo_build returned model '{model.name}' without symbolic inputs/outputs; "
                "build a functional model from keras.Input (or call model.build)"
            )
        count = int(model.count_params())
        declared = self.ref.model.params
        preset = make_config(self.ref)
        if declared is not None and cfg.values == preset.values and count != declared:
            raise CheckFailed(
                f"{self.ref.model.origin}: models.{self.name} says params = {declared} but "
                f"zoo_build makes {count} parameters; update params (or the build)"
            )
        shapes = ", ".join(_shape(t) for t in inputs)
        return f"{count:,} parameters; inputs {shapes}; outputs {', '.join(map(_shape, outputs))}"

    def check_hparam_values(self) -> str:
        from zoo.catalog.config import make_config

        cfg = self.config()
        tried, failures, untried = [], [], []
        for key, spec in self.ref.architecture.hparams.items():
            value = alternative_value(spec, cfg[key])
            if value is None:
                untried.append(key)
                continue
            setting = f"{key}={_text(value)}"
            try:
                variant = make_config(self.ref, [("check_plugin", {**cfg.values, key: value})])
                self.build(variant)
                tried.append(setting)
            except Exception as exc:  # noqa: BLE001 - reported per hyper-parameter
                failures.append(f"{setting} ({one_line(exc)})")
        if failures:
            raise CheckFailed(
                "in-range values do not build: "
                + "; ".join(failures)
                + " — narrow min/max/choices in registry.toml or fix zoo_build"
            )
        text = f"built with each of {len(tried)} non-default value(s): {', '.join(tried)}"
        if untried:
            text += f" (no other valid value for {', '.join(untried)})"
        return text

    def check_dataset(self) -> str:
        from zoo.tasks.registry import task_of
        from zoo.training.inputs import check_inputs

        dataset, cfg = self.data()
        task = task_of(self.ref)
        task.check_data(dataset, cfg)
        model = self.build(cfg)
        check_inputs(model, dataset.x, self.name)
        try:
            json.dumps(dataset.state)
        except (TypeError, ValueError) as exc:
            raise CheckFailed(
                f"Dataset.state of '{dataset.name}' is not JSON-serialisable ({exc}); "
                "keep plain lists, numbers and strings there"
            ) from None
        for key in dataset.implied:
            if key not in cfg.specs:
                raise CheckFailed(
                    f"Dataset.implied sets '{key}', which is not a declared hyper-parameter "
                    f"(declared: {', '.join(sorted(cfg.specs))})"
                )
        _check_outputs(task, model, self.sample(4), dataset, self.name)
        x = dataset.x
        shapes = (
            ", ".join(f"{k} {tuple(v.shape)}" for k, v in x.items())
            if isinstance(x, dict)
            else str(tuple(x.shape))
        )
        return f"'{dataset.name}': {len(dataset)} examples, x {shapes}, fits the model"

    def check_train_steps(self) -> str:
        import keras
        import numpy as np

        from zoo.catalog.config import make_config
        from zoo.data.dataset import Splits
        from zoo.data.pipeline import steps_per_epoch, training_stream
        from zoo.tasks.registry import task_of

        cfg = self.config()
        keras.utils.set_random_seed(0)  # the same initial weights and batches on every run
        fixed = {"epochs": TRAIN_EPOCHS, "batch_size": TRAIN_BATCH, "early_stopping": False}
        cfg = make_config(self.ref, [("check_plugin", {**cfg.values, **cfg.train, **fixed})])
        task = task_of(self.ref)
        split = task.split(self.small(), cfg, 0)
        x, y = split.train
        n = _length(x)
        model = self.build(cfg, compile=True)
        before = _loss(model, x, y, n)
        steps = steps_per_epoch(n, TRAIN_BATCH)
        splits = Splits(
            train=training_stream(
                x, y, batch_size=TRAIN_BATCH, seed=0, initial_epoch=0, epochs=TRAIN_EPOCHS
            ),
            validation=None,
            test=None,
            arrays={k: split.part(k) for k in ("train", "validation", "test")},
            indices=split.indices,
            extra=split.extra,
            steps_per_epoch=steps,
        )
        hook = get_catalog().host.owner_hook(self.ref.plugin, "zoo_train")
        with _hook("zoo_train", self.ref):
            history = hook(model=model, splits=splits, config=cfg, callbacks=[], initial_epoch=0)
        losses = list(getattr(history, "history", {}).get("loss", []))
        if not losses:
            raise CheckFailed(
                f"zoo_train returned {type(history).__name__}, not the History of model.fit "
                "with a 'loss' entry"
            )
        if not all(math.isfinite(v) for v in losses):
            raise CheckFailed(f"training loss is not finite: {losses}")
        after = _loss(model, x, y, n)
        if not np.isfinite(after) or after >= before:
            raise CheckFailed(
                f"loss did not go down: {before:.4g} before, {after:.4g} after "
                f"{steps * TRAIN_EPOCHS} steps on {n} examples (check the output layer and the "
                f"task '{self.ref.architecture.task}')"
            )
        total = steps * TRAIN_EPOCHS
        return f"loss {before:.4g} -> {after:.4g} after {total} steps on {n} examples"

    def check_save_load(self) -> str:
        cfg = self.config()
        x = self.sample(16)
        first = self.build(cfg)
        expected = _predict(first, x)
        with tempfile.TemporaryDirectory(prefix="zoo-check-") as tmp:
            path = Path(tmp) / f"{self.name}.weights.h5"
            first.save_weights(str(path))
            second = self.build(cfg)
            second.load_weights(str(path))
        got = _predict(second, x)
        diff = _max_diff(expected, got)
        if not diff <= 1e-6:
            raise CheckFailed(
                f"a fresh build with the saved weights predicts differently (max |diff| "
                f"{diff:.3g}); every weight must be a layer variable the build recreates"
            )
        return f"weights round-trip through .weights.h5 (max |diff| {diff:.3g})"

    def export_formats(self) -> list[tuple[str, str | None]]:
        """(format, reason it is unsupported or None) for each declared export format."""
        arch = self.ref.architecture
        out: list[tuple[str, str | None]] = []
        names = list(arch.export_formats)
        names += [f for f in arch.unsupported_formats if f not in names]
        names += [f for f in _plugin_format_names(self.ref.plugin) if f not in names]
        for fmt in names:
            reason = arch.unsupported_formats.get(fmt)
            if reason is not None:
                reason = f"registry.toml unsupported_formats: {reason}"
            out.append((fmt, reason))
        return out

    def export_check(self, fmt: str) -> Callable[[], str]:
        def check() -> str:
            try:
                from zoo.exporting.export import export
            except ImportError:
                raise CheckSkipped(
                    "export not available (zoo.exporting.export is missing)"
                ) from None
            suffix = _suffix(fmt, self.ref.plugin)
            if fmt == "onnx":
                from zoo.errors import ExportError
                from zoo.exporting.formats import require_onnx

                try:
                    require_onnx()
                except ExportError as exc:
                    raise CheckSkipped(f"ONNX runtime not installed ({exc})") from None
            cfg = self.config()
            model = self.build(cfg)
            with tempfile.TemporaryDirectory(prefix="zoo-check-") as tmp:
                dest = Path(tmp) / f"{self.name}{suffix}"
                result = export(model, dest, format=fmt, config=cfg)
            return (
                f"max |diff| {result.max_abs_diff:.3g} <= {result.tolerance:g} on "
                f"{result.samples} examples ({result.sample_source})"
            )

        return check


# -- helpers ---------------------------------------------------------------------------------
class _hook:
    """Turn an undeclared hyper-parameter read, or a crash inside a plugin hook, into one
    line that names the hook."""

    def __init__(self, hook: str, ref: ModelRef) -> None:
        self.hook, self.ref = hook, ref

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        if exc is None or isinstance(exc, CheckFailed):
            return False
        arch = self.ref.architecture
        if isinstance(exc, UnknownHParamError):
            raise CheckFailed(
                f"{self.hook} reads an undeclared hyper-parameter: {exc.message}; declare it "
                f"under [architectures.{arch.name}.hparams] in {arch.origin} or stop reading it"
            ) from None
        if isinstance(exc, PluginHookError):  # the host's one line; report the original
            exc = exc.original
        elif isinstance(exc, ZooError):
            return False
        if isinstance(exc, Exception):
            raise CheckFailed(f"{self.hook} raised {one_line(exc)}") from None
        return False


def alternative_value(spec: HParam, current: Any) -> Any | None:
    """A valid value of ``spec`` other than ``current`` (smaller where possible), or None."""
    if spec.type.startswith("list["):
        if not isinstance(current, list) or not current:
            return None
        inner = HParam(spec.name, spec.type[5:-1], current[0], min=spec.min, max=spec.max)
        changed = [alternative_value(inner, item) for item in current]
        value = [c if c is not None else item for c, item in zip(changed, current, strict=True)]
        return value if value != current else None
    if spec.choices:
        candidates: list[Any] = list(spec.choices)
    elif spec.type == "bool":
        candidates = [not current]
    elif spec.type == "int":
        candidates = ([current - 1] if current > 1 else []) + [current + 1]
    elif spec.type == "float":
        candidates = [current / 2, current * 1.5] if current else [0.1, 0.01]
        if spec.min is not None and spec.max is not None:
            candidates.append((spec.min + spec.max) / 2)
    else:
        return None  # a free-form string: no value is known to be valid
    for value in candidates:
        if value == current:
            continue
        try:
            return spec.validate(value)
        except ConfigError:
            continue
    return None


def _check_outputs(task: Any, model: Any, x: Any, dataset: Any, name: str) -> None:
    """The model's output on a few examples must fit the task's targets (the task says how)."""
    from zoo.errors import DataError

    outputs = _predict(model, x)
    if len(outputs) != 1:
        return  # multi-output models: the task's loss decides; the training check covers it
    try:
        task.check_outputs(outputs[0], x, dataset, name)
    except DataError as exc:
        raise CheckFailed(str(exc)) from None


def _predict(model: Any, x: Any) -> list[Any]:
    import keras
    import numpy as np

    out = model(x, training=False)
    return [np.asarray(keras.ops.convert_to_numpy(t)) for t in keras.tree.flatten(out)]


def _max_diff(a: list[Any], b: list[Any]) -> float:
    import numpy as np

    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b, strict=True)):
        return math.inf
    pairs = zip(a, b, strict=True)
    return max(
        (float(np.max(np.abs(x.astype("float64") - y), initial=0.0)) for x, y in pairs), default=0.0
    )


def _loss(model: Any, x: Any, y: Any, n: int) -> float:
    result = model.evaluate(x, y, batch_size=max(1, n), verbose=0, return_dict=True)
    return float(result["loss"])


def _length(x: Any) -> int:
    first = next(iter(x.values())) if isinstance(x, dict) else x
    return int(len(first))


def _shape(tensor: Any) -> str:
    dims = ", ".join("None" if d is None else str(d) for d in tuple(tensor.shape))
    return f"({dims})"


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _plugin_format_names(plugin: str) -> list[str]:
    return [f.name for f in _plugin_formats(plugin)]


def _plugin_formats(plugin: str) -> list[Any]:
    """Export formats added by ``plugin`` itself through ``zoo_export_formats``."""
    host = get_catalog().host
    try:
        host.load(plugin)
    except ZooError:
        return []  # the hooks check reports why
    found = []
    for impl in host.pm.hook.zoo_export_formats.get_hookimpls():
        if impl.plugin_name == plugin:
            try:
                found.extend(impl.function() or [])
            except Exception:  # noqa: BLE001 - reported when the format is exported
                continue
    return found


def _suffix(fmt: str, plugin: str) -> str:
    from zoo.exporting.formats import SUFFIXES

    if fmt in SUFFIXES:
        return SUFFIXES[fmt]
    for extra in _plugin_formats(plugin):
        if extra.name == fmt:
            return extra.suffix
    return ""
