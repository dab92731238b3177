"""`zoo export` / `zoo.export`: every built-in model to every format, checked for parity;
failed exports leave nothing behind; overwrite protection; errors as one line, exit 2."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zoo
from zoo import runs
from zoo.errors import ExportError, ZooError

FORMATS = ("keras", "savedmodel", "onnx", "litert")
SUFFIX = {"keras": ".keras", "savedmodel": "", "onnx": ".onnx", "litert": ".tflite"}
# Tiny versions of the five built-in architectures; input sizes stay at their defaults so
# the plugins' default datasets fit and provide the parity batch.
TINY = {
    "mlp": ("mlp", {"hidden_units": [8]}),
    "cnn": ("cnn-small", {}),
    "rnn": ("rnn", {"units": 8}),
    "transformer": ("transformer-tiny", {}),
    "recommender": (
        "recommender",
        {"embedding_dim": 4, "tower_units": [8], "output_dim": 4},
    ),
}
INPUT_NAMES = {
    "mlp": ["features"],
    "cnn": ["image"],
    "rnn": ["sequence"],
    "transformer": ["tokens"],
    "recommender": ["item_id", "user_id"],
}
_built: dict[str, Any] = {}


def has_onnx() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import tf2onnx  # noqa: F401
    except ImportError:
        return False
    return True


def tiny(arch: str) -> tuple[Any, Any]:
    """(model, config) of a tiny model, built once per test session."""
    if arch not in _built:
        from zoo.building import build_model
        from zoo.catalog import get_catalog
        from zoo.catalog.config import make_config

        name, overrides = TINY[arch]
        ref = get_catalog().resolve(name)
        config = make_config(ref, [("test", overrides)])
        _built[arch] = (build_model(ref, config, compile=False), config)
    return _built[arch]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty folder for artifacts (tmp_path also holds the clean_zoo fixture's folders)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name)


def params() -> list[Any]:
    out = []
    for arch in TINY:
        for fmt in FORMATS:
            marks = []
            if fmt == "onnx" and not has_onnx():
                marks.append(pytest.mark.skip(reason="keras-zoo[onnx] extra not installed"))
            if arch != "cnn":  # the fast suite exports the cnn to every format
                marks.append(pytest.mark.slow)
            out.append(pytest.param(arch, fmt, marks=marks, id=f"{arch}-{fmt}"))
    return out


# -- every model x every format ------------------------------------------------------------
@pytest.mark.parametrize(("arch", "fmt"), params())
def test_export_round_trip(arch: str, fmt: str, out: Path) -> None:
    from zoo.exporting import formats as export_formats
    from zoo.exporting.parity import keras_predict, run_batched, synthetic_inputs

    model, config = tiny(arch)
    dest = out / f"{arch}{SUFFIX[fmt] or '_savedmodel'}"
    result = zoo.export(model, dest, format=fmt, config=config)

    assert result.path == dest and dest.exists()
    assert result.size > 0
    assert leftovers(out) == []
    assert result.max_abs_diff <= result.tolerance
    assert result.sample_source.startswith("first 32 examples of dataset"), result.sample_source
    # Input names survive in every format's signature (a server feeds them by name).
    assert sorted(t["name"] for t in result.inputs) == INPUT_NAMES[arch]
    assert len(result.outputs) == 1
    if fmt == "litert":
        assert result.batch_size == 1  # static: no Flex TensorList ops for the LSTM
    # Independent check of the renamed artifact on different inputs than the export used.
    artifact = export_formats.load(dest, fmt)
    x = synthetic_inputs(model, 5, seed=7)
    got = np.asarray(run_batched(artifact, x))
    want = np.asarray(keras_predict(model, x))
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=export_formats.TOLERANCES[fmt] * 10)


@pytest.mark.slow  # over 7 s: kept out of the quick run (pytest -m 'not slow')
def test_export_by_name_uses_plugin_dataset_and_default_path() -> None:
    result = zoo.export("cnn-small", format="keras")
    assert result.path == Path.cwd() / "cnn-small.keras"
    assert result.source == "cnn-small"
    assert "dataset 'digits'" in result.sample_source
    assert result.max_abs_diff == 0.0


def test_bare_keras_model_uses_synthetic_inputs(out: Path) -> None:
    import keras

    inputs = keras.Input(shape=(3,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(inputs), name="bare")
    result = zoo.export(model, out / "bare.keras")  # format from the suffix
    assert result.format == "keras"
    assert "random inputs" in result.sample_source
    assert result.outputs[0]["name"] == "out"


def test_static_batch_size_runs_in_chunks(out: Path) -> None:
    model, config = tiny("cnn")
    result = zoo.export(model, out / "cnn5", format="savedmodel", batch_size=5, config=config)
    assert result.batch_size == 5
    assert result.inputs[0]["shape"] == [5, 28, 28, 1]
    assert result.samples == 32  # 6 full chunks and one padded one


def test_dynamic_lstm_to_litert_is_explained_and_leaves_nothing(out: Path) -> None:
    model, config = tiny("rnn")
    with pytest.raises(ExportError, match="Flex") as info:
        zoo.export(model, out / "rnn.tflite", format="litert", batch_size="dynamic")
    assert "--batch-size 1" in str(info.value)
    assert list(out.iterdir()) == []


# -- failed parity removes the artifact ----------------------------------------------------
def register_plugin(name: str, **hooks: Any) -> None:
    """Register a plugin module made of ``hooks`` with this test's plugin host."""
    from zoo.catalog import get_catalog
    from zoo.hookspecs import hookimpl

    module = types.ModuleType(name)
    for hook, function in hooks.items():
        setattr(module, hook, hookimpl(function))
    get_catalog().host.add(module, name, hooks=list(hooks))


@pytest.fixture
def shifted_plugin() -> Any:
    """Registers a cross-cutting plugin adding a format whose loader shifts the outputs."""

    def register(shift: float) -> None:
        from zoo.plugin import ExportFormat

        def write(model: Any, path: Path) -> None:
            model.save(str(path))

        def load(path: Path) -> Any:
            import keras

            reloaded = keras.saving.load_model(str(path), safe_mode=True, compile=False)
            return lambda x: keras.ops.convert_to_numpy(reloaded(x)) + shift

        def zoo_export_formats() -> list[Any]:
            return [ExportFormat("shifted", ".shifted.keras", write, load, tolerance=1e-4)]

        register_plugin("test-shifted", zoo_export_formats=zoo_export_formats)

    return register


def test_plugin_format_within_tolerance_is_written(shifted_plugin: Any, out: Path) -> None:
    shifted_plugin(0.0)
    model, config = tiny("mlp")
    result = zoo.export(model, out / "m.shifted.keras", format="shifted", config=config)
    assert result.format == "shifted" and result.path.is_file()
    assert "shifted" in zoo.exporting.export.formats()


def test_plugin_format_over_tolerance_removes_artifact(shifted_plugin: Any, out: Path) -> None:
    shifted_plugin(0.01)
    model, config = tiny("mlp")
    with pytest.raises(ExportError, match="does not match the Keras model"):
        zoo.export(model, out / "m.shifted.keras", format="shifted", config=config)
    assert list(out.iterdir()) == []


def test_perturbed_reload_keeps_existing_artifact(
    monkeypatch: pytest.MonkeyPatch, out: Path
) -> None:
    from zoo.exporting import formats as export_formats

    model, config = tiny("mlp")
    dest = out / "mlp.keras"
    zoo.export(model, dest, format="keras", config=config)
    before = dest.read_bytes()

    real_load = export_formats.load

    def perturbed(path: Path, fmt: str) -> Any:
        artifact = real_load(path, fmt)
        predict = artifact.predict
        artifact.predict = lambda x: np.asarray(predict(x)) * 1.01
        return artifact

    monkeypatch.setattr(export_formats, "load", perturbed)
    with pytest.raises(ExportError, match="largest difference"):
        zoo.export(model, dest, format="keras", force=True, config=config)
    assert dest.read_bytes() == before  # the old artifact survives a failed --force
    assert leftovers(out) == []


# -- plugin override of zoo_export -----------------------------------------------------------
def own_mlp(monkeypatch: pytest.MonkeyPatch, plugin: str, **hooks: Any) -> None:
    """Register ``plugin`` with ``hooks`` as the owner of the mlp architecture (building
    and reading data like the mlp plugin): zoo_export reaches only a model's owner."""
    import zoo.plugins.mlp as mlp
    from zoo.catalog import get_catalog

    register_plugin(plugin, zoo_build=mlp.zoo_build, zoo_dataset=mlp.zoo_dataset, **hooks)
    monkeypatch.setattr(get_catalog().architectures["mlp"], "plugin", plugin)


def test_export_dispatches_through_the_owners_zoo_export_hook(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    bystander: list[str] = []

    def zoo_export(model: Any, path: Path, format: str, config: Any) -> Path | None:
        calls.append(format)
        return None  # fall through to the core's Keras export

    def other_export(model: Any, path: Path, format: str, config: Any) -> Path | None:
        bystander.append(format)
        return None

    own_mlp(monkeypatch, "test-recorder", zoo_export=zoo_export)
    register_plugin("test-bystander", zoo_export=other_export)
    model, config = tiny("mlp")
    zoo.export(model, out / "m.keras", config=config)
    assert calls == ["keras"] and bystander == []  # a plugin that does not own mlp: not asked


def test_plugin_zoo_export_that_breaks_parity_leaves_nothing(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def zoo_export(model: Any, path: Path, format: str, config: Any) -> Path | None:
        import keras

        clone = keras.models.clone_model(model)
        clone.set_weights([w * 1.5 for w in model.get_weights()])
        clone.save(str(path))
        return path

    own_mlp(monkeypatch, "test-bad-export", zoo_export=zoo_export)
    model, config = tiny("mlp")
    with pytest.raises(ExportError, match="does not match"):
        zoo.export(model, out / "m.keras", config=config)
    assert list(out.iterdir()) == []


# -- missing extra, unsupported formats, bad input -----------------------------------------
def test_missing_onnx_extra_names_it(monkeypatch: pytest.MonkeyPatch, out: Path) -> None:
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # `import tf2onnx` raises ImportError
    model, config = tiny("mlp")
    with pytest.raises(ExportError, match=r"pip install 'keras-zoo\[onnx\]'") as info:
        zoo.export(model, out / "new" / "folder" / "m.onnx", config=config)
    assert "tf2onnx" in str(info.value)
    assert list(out.iterdir()) == []


def test_unsupported_format_is_explained(monkeypatch: pytest.MonkeyPatch, out: Path) -> None:
    from zoo.catalog import get_catalog

    arch = get_catalog().architectures["rnn"]
    monkeypatch.setitem(arch.unsupported_formats, "litert", "needs Flex ops")
    with pytest.raises(ExportError, match="cannot be exported to litert: needs Flex ops") as info:
        zoo.export("rnn", out / "r.tflite")
    assert "keras, savedmodel, onnx" in str(info.value)
    assert list(out.iterdir()) == []


def test_cli_unsupported_format_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from zoo.catalog import get_catalog

    arch = get_catalog().architectures["rnn"]
    monkeypatch.setitem(arch.unsupported_formats, "onnx", "not today")
    code, _, err = run_cli(capsys, "export", "rnn", "--format", "onnx")
    assert code == 2
    assert "model 'rnn' cannot be exported to onnx: not today" in err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "tflite"}, "unknown export format 'tflite'"),
        ({"format": "onnx", "batch_size": "big"}, "invalid batch size 'big'"),
        ({"format": "onnx", "batch_size": 0}, "invalid batch size 0"),
        ({"format": "litert", "path": "model.onnx"}, r"must be named \*\.tflite"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    path = kwargs.pop("path", None)
    with pytest.raises(ExportError, match=message):
        zoo.export("mlp", path, **kwargs)


def test_unknown_model_is_a_zoo_error() -> None:
    with pytest.raises(ZooError, match="unknown model 'cnnn'"):
        zoo.export("cnnn", "x.keras")


# -- overwrite protection -------------------------------------------------------------------
@pytest.mark.slow  # over 7 s: kept out of the quick run (pytest -m 'not slow')
@pytest.mark.parametrize("fmt", ["keras", "savedmodel"])
def test_overwrite_needs_force(fmt: str, out: Path) -> None:
    model, config = tiny("mlp")
    dest = out / f"m{SUFFIX[fmt]}"
    first = zoo.export(model, dest, format=fmt, config=config)
    assert not first.replaced
    stamp = dest.stat().st_mtime_ns
    with pytest.raises(ExportError, match="already exists.*--force"):
        zoo.export(model, dest, format=fmt, config=config)
    assert dest.stat().st_mtime_ns == stamp
    second = zoo.export(model, dest, format=fmt, config=config, force=True)
    assert second.replaced and dest.exists()
    assert leftovers(out) == []


def test_force_never_replaces_a_folder_that_is_not_a_savedmodel(out: Path) -> None:
    precious = out / "data"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="not a SavedModel"):
        zoo.export("mlp", precious, format="savedmodel", force=True)
    assert (precious / "keep.txt").read_text() == "mine"


# -- run folders and pretrained weights ------------------------------------------------------
def test_export_run_folder(out: Path) -> None:
    from zoo.building import build_model

    _, config = tiny("mlp")
    model = build_model(zoo.catalog.get_catalog().resolve("mlp"), config, compile=False)
    model.set_weights([w + np.float32(i % 3) / 7 for i, w in enumerate(model.get_weights())])
    run_dir = out / "runs" / "mlp-test"
    run_dir.mkdir(parents=True)
    runs.save_weights_atomic(model, run_dir / runs.WEIGHTS_FILE)
    runs.write_run_toml(
        run_dir,
        {
            "run": {"model": "mlp", "architecture": "mlp", "status": "complete"},
            "hparams": config.values,
            "train": config.train,
        },
    )
    result = zoo.export(str(run_dir), out / "run.keras")
    assert result.source == str(run_dir)
    import keras

    reloaded = keras.saving.load_model(str(result.path), safe_mode=True)
    x = np.random.default_rng(1).random((4, 100)).astype("float32")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_export_run_object(out: Path) -> None:
    model, config = tiny("mlp")
    run = runs.Run(path=out / "mlp-run", model_name="mlp", metrics={}, config=config, model=model)
    result = zoo.export(run, out / "run.onnx" if has_onnx() else out / "run.keras")
    assert result.source == str(out / "mlp-run")
    assert result.sample_source == "first 32 examples of dataset 'gaussian-clusters'"


def test_folder_that_is_not_a_run(out: Path) -> None:
    with pytest.raises(ZooError, match="not a .*run folder"):
        zoo.export(str(out), out / "x.keras")


def test_pretrained_weights_export(out: Path) -> None:
    """``name:tag`` goes through zoo.weights.loading: a registry layer adds weights to ``mlp``."""
    import hashlib

    source = zoo.create("mlp", compile=False)
    source.set_weights([w + 0.01 * i for i, w in enumerate(source.get_weights())])
    weights = out / "mlp-t.weights.h5"
    source.save_weights(str(weights))
    data = weights.read_bytes()
    registry = out / "registry.toml"
    registry.write_text(
        "[[models.mlp.weights]]\n"
        'name = "t"\n'
        f'source = "{weights.name}"\n'
        f'sha256 = "{hashlib.sha256(data).hexdigest()}"\n'
        f"size = {len(data)}\n"
        'dataset = "none (test)"\n'
    )
    zoo.use_registry(registry)
    result = zoo.export("mlp:t", out / "pretrained.keras")
    assert result.source == "mlp:t"
    import keras

    reloaded = keras.saving.load_model(str(result.path), safe_mode=True)
    x = np.random.default_rng(2).random((4, 100)).astype("float32")
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0), source.predict(x, verbose=0), atol=1e-6
    )


def test_destination_appearing_during_export_is_not_clobbered(
    monkeypatch: pytest.MonkeyPatch, out: Path
) -> None:
    import zoo.exporting.export

    dest = out / "m.keras"
    real_check = zoo.exporting.export.check_parity

    def racing(*args: Any, **kwargs: Any) -> Any:
        dest.write_text("someone else's file")  # another process wins the race
        return real_check(*args, **kwargs)

    monkeypatch.setattr(zoo.exporting.export, "check_parity", racing)
    model, config = tiny("mlp")
    with pytest.raises(ExportError, match="already exists"):
        zoo.export(model, dest, config=config)
    assert dest.read_text() == "someone else's file"
    assert leftovers(out) == []


# -- CLI -------------------------------------------------------------------------------------
def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from zoo.cli.main import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow  # over 7 s: kept out of the quick run (pytest -m 'not slow')
def test_cli_export_prints_path_size_signature_and_diff(
    capsys: pytest.CaptureFixture[str], out: Path
) -> None:
    dest = out / "rec.keras"
    code, out, err = run_cli(capsys, "export", "recommender", "--format", "keras", "-o", str(dest))
    assert code == 0, err
    assert str(dest) in out
    for text in ("format        keras", "size", "user_id: int32(?)", "item_id", "max |diff|"):
        assert text in out


def test_cli_json(capsys: pytest.CaptureFixture[str], out: Path) -> None:
    dest = out / "m.keras"
    code, out, err = run_cli(capsys, "export", "mlp", "-o", str(dest), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["path"] == str(dest) and data["format"] == "keras"
    assert data["inputs"][0]["name"] == "features" and data["max_abs_diff"] == 0.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["export", "cnnn", "--format", "keras"], "unknown model 'cnnn'"),
        (["export", "mlp", "--format", "tflite"], "unknown export format 'tflite'"),
        (["export", "mlp", "--format", "onnx", "--batch-size", "x"], "invalid batch size"),
        (["export", "mlp"], "no export format given"),
    ],
)
def test_cli_bad_input_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run_cli(capsys, *args)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_refuses_overwrite_then_force(capsys: pytest.CaptureFixture[str], out: Path) -> None:
    dest = out / "m.keras"
    dest.write_text("old")
    code, _, err = run_cli(capsys, "export", "mlp", "-o", str(dest))
    assert code == 2 and "already exists" in err and dest.read_text() == "old"
    code, out, err = run_cli(capsys, "export", "mlp", "-o", str(dest), "--force")
    assert code == 0, err
    assert "(replaced)" in out and dest.stat().st_size > 100


def test_export_modules_import_no_tensorflow() -> None:
    import subprocess

    code = (
        "import sys, zoo.exporting.export, zoo.exporting.formats, zoo.exporting.sources, "
        "zoo.cli.export_cmd; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
