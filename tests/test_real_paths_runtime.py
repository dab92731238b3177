"""The user's path, end to end (issue 15): resume with dropout, artifacts that stand alone in a
fresh interpreter with their metadata, exit codes, name collisions, broken registries and
`zoo worker`'s command line. Every test writes the files it uses."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import fakeplugins as fp
import numpy as np
import pytest
from conftest import clean_env, run_zoo

import zoo
from zoo.cli.main import main


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """An empty folder to install fake distributions into (put on PYTHONPATH)."""
    path = tmp_path / "site"
    path.mkdir()
    return path


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
        raise SystemExit(0)
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


# -- 8. check-plugin's exit code ----------------------------------------------------------------


def test_check_plugin_exits_1_when_a_check_fails(site: Path) -> None:
    fp.bad_registry_plugin(site)
    code, out, err = run_zoo(
        "check-plugin", "badreg", "--check", "registry", env={"PYTHONPATH": str(site)}
    )
    assert "failed" in out and "registry" in out, out + err
    assert code == 1, (out, err)


def test_check_plugin_exits_0_when_every_check_passes() -> None:
    code, out, err = run_zoo("check-plugin", "mlp", "--check", "registry")
    assert code == 0, (out, err)


# -- 12. zoo worker's command line --------------------------------------------------------------


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """`zoo worker` with its launcher replaced: records the train args, starts nothing."""
    from zoo.cli import worker_cmd

    calls: list[list[str]] = []

    def fake_launch(train_args, ports, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(list(train_args))
        return 0

    monkeypatch.setattr(worker_cmd, "launch", fake_launch)
    return calls


def test_worker_accepts_the_train_command_a_user_types(
    tmp_path: Path, launched: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = ["worker", "-n", "2", "train", "cnn-small", "--epochs", "1", "--output", str(out)]
    code, _, err = _cli(args, capsys)
    assert code == 0, err
    assert launched == [["cnn-small", "--epochs", "1", "--output", str(out)]]
    from zoo.cli.train_cmds import train_cmd

    train_cmd.make_context("train", [*launched[0], "--strategy", "multi-worker"])  # parses


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["cnn-small", "extra"], "unexpected extra argument"),
        (["train", "cnn-small", "--epochs", "many"], "--epochs"),
        (["cnnn", "--epochs", "1"], "did you mean"),
        (["train"], "no model given"),
    ],
)
def test_worker_refuses_a_wrong_command_line_before_starting_workers(
    args: list[str],
    needle: str,
    launched: list[list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _cli(["worker", "-n", "2", *args], capsys)
    assert code == 2, err
    assert launched == [], "no worker may start"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert needle in lines[0], lines[0]
    if needle != "did you mean":
        assert "zoo worker -n 2 cnn-small" in lines[0]


# -- 9. a name collision makes only that name unusable -------------------------------------------


def _shadow_plugin(site: Path) -> None:
    """Package zoo-shadow declaring its own ``[models.cnn]`` next to a model of its own."""
    fp.make_dist(
        site,
        "zoo-shadow",
        {"shadow": "zoo_shadow"},
        {
            "zoo_shadow/__init__.py": fp.GOOD_HOOKS,
            "zoo_shadow/registry.toml": fp.registry(
                "shadowarch", {"cnn": "not the real cnn", "shadow-ok": "fine"}
            ),
        },
    )


def test_a_name_collision_leaves_every_other_model_of_both_plugins_working(site: Path) -> None:
    _shadow_plugin(site)
    env = {"PYTHONPATH": str(site)}
    code, out, err = run_zoo("list", env=env)
    assert code == 0, err
    names = {line.split()[0] for line in out.splitlines()[1:]}
    assert {"cnn-small", "shadow-ok"} <= names and "cnn" not in names
    warning = [line for line in err.splitlines() if "'cnn'" in line]
    assert len(warning) == 1 and "keras-zoo" in warning[0] and "zoo-shadow" in warning[0], err

    code, out, err = run_zoo("plugins", "--json", env=env)
    records = {r["name"]: r for r in json.loads(out)}
    assert records["cnn"]["status"] == records["shadow"]["status"] == "ok"
    assert "zoo-shadow" in records["cnn"]["error"]

    code, _, err = run_zoo("info", "cnn", env=env)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "keras-zoo" in lines[0] and "zoo-shadow" in lines[0]

    script = textwrap.dedent(
        """
        import zoo
        print(zoo.create("cnn-small", compile=False).count_params())
        print(zoo.create("shadow-ok", compile=False).count_params())
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], env=clean_env(env), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow
def test_zoo_train_cnn_small_works_beside_a_plugin_declaring_cnn(
    site: Path, tmp_path: Path
) -> None:
    _shadow_plugin(site)
    code, out, err = run_zoo(
        "train",
        "cnn-small",
        "--epochs",
        "1",
        "--set",
        "max_examples=64",
        "--quiet",
        "--output",
        str(tmp_path / "run"),
        env={"PYTHONPATH": str(site)},
    )
    assert code == 0, err[-2000:]
    assert (tmp_path / "run" / "metrics.json").is_file()


# -- 10. a broken registry is reported by `zoo list` ------------------------------------------


def test_zoo_list_says_when_a_plugin_registry_failed_to_load(site: Path) -> None:
    fp.bad_registry_plugin(site)
    code, out, err = run_zoo("list", "badreg*", env={"PYTHONPATH": str(site)})
    assert code == 0
    lines = [line for line in err.splitlines() if "badreg" in line]
    assert len(lines) == 1, err
    assert "zoo-badreg" in lines[0] and "zoo plugins --errors" in lines[0]
    code, out, err = run_zoo("list", "--json", env={"PYTHONPATH": str(site)})
    assert code == 0 and json.loads(out)  # stdout stays machine-readable
    assert "zoo plugins --errors" in err
    code, out, err = run_zoo("list")  # nothing broken: nothing on stderr
    assert code == 0 and err == "", err


# -- 5. --resume is bit for bit with dropout ----------------------------------------------------

ZOO_CMD = [sys.executable, "-c", "from zoo.cli.main import main; main()"]


def _history(run: Path) -> list[str]:
    return (run / "history.csv").read_text().splitlines()


def _h5_arrays(path: Path) -> dict[str, np.ndarray]:
    import h5py

    arrays: dict[str, np.ndarray] = {}
    with h5py.File(path) as handle:
        handle.visititems(
            lambda name, obj: (
                arrays.__setitem__(name, np.array(obj)) if isinstance(obj, h5py.Dataset) else None
            )
        )
    return arrays


@pytest.mark.slow
def test_resume_after_sigkill_is_bit_for_bit_with_dropout(tmp_path: Path) -> None:
    args = [
        "train", "transformer-tiny", "--epochs", "6", "--seed", "2", "--quiet",
        "--set", "dropout=0.3", "--set", "max_examples=600", "--set", "early_stopping=false",
    ]  # fmt: skip
    env = clean_env()
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*ZOO_CMD, *args, "--output", str(killed)], env=env, stderr=subprocess.DEVNULL
    )
    state = killed / "checkpoints" / "state.json"
    deadline = time.time() + 300
    done = 0
    while time.time() < deadline and proc.poll() is None:
        if state.is_file():
            try:
                done = json.loads(state.read_text())["epochs_done"]
            except (json.JSONDecodeError, KeyError):  # pragma: no cover - replaced atomically
                done = 0
            if done >= 2:
                break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 2 <= done < 6, f"the kill landed after epoch {done}"
    assert (killed / "checkpoints" / "last.state.npz").is_file()

    resumed = subprocess.run(
        [*ZOO_CMD, "train", "--resume", str(killed), "--quiet"], env=env, capture_output=True
    )
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    straight = tmp_path / "straight"
    run = subprocess.run([*ZOO_CMD, *args, "--output", str(straight)], env=env, capture_output=True)
    assert run.returncode == 0, run.stderr.decode()[-2000:]

    assert _history(killed) == _history(straight)  # every epoch's loss, to the last digit
    a = _h5_arrays(killed / "model.weights.h5")
    b = _h5_arrays(straight / "model.weights.h5")
    assert a.keys() == b.keys() and a
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# -- 6. a .keras export loads without zoo -------------------------------------------------------

NO_ZOO_CHECK = 'assert not any(m == "zoo" or m.startswith("zoo.") for m in sys.modules)\n'


def _fresh_python(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``script`` in a new interpreter that never imports zoo; return its stdout."""
    code = textwrap.dedent(script) + "\n" + NO_ZOO_CHECK
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_transformer_keras_and_savedmodel_exports_load_in_plain_keras(tmp_path: Path) -> None:
    model = zoo.create("transformer-tiny", compile=False)
    tokens = np.zeros((3, 48), "int32")
    tokens[:, :10] = np.arange(2, 32).reshape(3, 10)
    np.save(tmp_path / "tokens.npy", tokens)
    np.save(tmp_path / "want.npy", model.predict(tokens, verbose=0))
    keras_file = zoo.export(model, tmp_path / "t.keras", config=_config("transformer-tiny"))
    assert keras_file.fresh_interpreter
    saved = zoo.export("transformer-tiny", tmp_path / "t_saved", format="savedmodel")
    assert saved.fresh_interpreter
    out = _fresh_python(
        """
        import sys
        import numpy as np
        import keras

        model = keras.saving.load_model(sys.argv[1])  # safe mode, no custom objects
        tokens = np.load(sys.argv[2])
        diff = np.abs(model.predict(tokens, verbose=0) - np.load(sys.argv[3])).max()
        assert diff < 1e-5, diff
        print("ok")
        """,
        str(tmp_path / "t.keras"),
        str(tmp_path / "tokens.npy"),
        str(tmp_path / "want.npy"),
    )
    assert out.strip() == "ok"


def _config(name: str):  # type: ignore[no-untyped-def]
    from zoo.catalog import get_catalog
    from zoo.catalog.config import make_config

    return make_config(get_catalog().resolve(name))


CUSTOM_LAYER = """
    import keras


    @keras.saving.register_keras_serializable(package="zoo_custom")
    class Doubled(keras.layers.Layer):
        def call(self, x):
            return 2.0 * x
"""

CUSTOM_HOOKS = fp.GOOD_HOOKS.replace(
    'x = keras.layers.Dense(config.units, activation="relu", name="hidden")(inputs)',
    "from zoo_custom.layers import Doubled\n\n"
    '        x = keras.layers.Dense(config.units, activation="relu", name="hidden")(inputs)\n'
    '        x = Doubled(name="doubled")(x)',
)


def _custom_layer_plugin(site: Path, declare: bool) -> None:
    text = fp.registry("customarch", {"custom-model": "a model with its own layer"})
    if declare:
        text = text.replace(
            'default_dataset = "generated"\n',
            'default_dataset = "generated"\nkeras_modules = ["zoo_custom.layers"]\n',
        )
    fp.make_dist(
        site,
        "zoo-custom",
        {"custom": "zoo_custom"},
        {
            "zoo_custom/__init__.py": CUSTOM_HOOKS,
            "zoo_custom/layers.py": CUSTOM_LAYER,
            "zoo_custom/registry.toml": text,
        },
    )


@pytest.mark.slow
@pytest.mark.parametrize("declare", [False, True])
def test_a_plugin_layer_needs_its_declared_keras_module(
    site: Path, tmp_path: Path, declare: bool
) -> None:
    _custom_layer_plugin(site, declare)
    dest = tmp_path / "c.keras"
    code, out, err = run_zoo(
        "export", "custom-model", "--output", str(dest), env={"PYTHONPATH": str(site)}
    )
    if declare:
        assert code == 0, err[-2000:]
        assert dest.is_file()
    else:
        assert code == 2 and not dest.exists(), (out, err)
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(lines) == 1, err
        assert "fresh interpreter" in lines[0] and "Doubled" in lines[0], lines[0]
        assert "keras_modules" in lines[0]


# -- 7. an exported artifact carries what a deployment needs --------------------------------------

CLASSES = ("circle", "stripes", "blank")  # word-named classes, not in alphabetical index order


def _png_folder(root: Path, per_class: int = 12) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:20, 0:20]
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            noise = rng.normal(0, 20, (20, 20))
            if name == "circle":
                base = np.where((yy - 10) ** 2 + (xx - 10) ** 2 < 36, 220, 30)
            elif name == "stripes":
                base = np.where((xx // 3) % 2 == 0, 200, 40)
            else:
                base = np.full((20, 20), 120)
            grey = np.clip(base + noise, 0, 255).astype("uint8")
            Image.fromarray(np.stack([grey] * 3, axis=-1), "RGB").save(root / name / f"{i}.png")
    return root


# What a deployment does with the artifact, in a process without zoo: read the metadata, read
# the images as the cnn plugin does (greyscale/RGB by `channels`, bilinear resize to
# height x width, values / 255), run the runtime, map argmax to the class names.
READ_IMAGES = """
import json, sys
import numpy as np
from PIL import Image

def images(files, h):
    mode = {1: "L", 3: "RGB"}[h["channels"]]
    out = []
    for f in files:
        with Image.open(f) as im:
            im = im.convert(mode).resize((h["width"], h["height"]), Image.BILINEAR)
            a = np.asarray(im, dtype="float32") / 255.0
        out.append(a.reshape(h["height"], h["width"], h["channels"]))
    return np.stack(out)

def labels(meta, probs):
    names = meta["data_state"]["class_names"]
    return [names[i] for i in np.asarray(probs).argmax(axis=1)]

artifact, files = sys.argv[1], sys.argv[2:]
"""

RUNTIMES = {
    "onnx": """
import onnxruntime as ort
session = ort.InferenceSession(artifact, providers=["CPUExecutionProvider"])
meta = json.loads(session.get_modelmeta().custom_metadata_map["zoo"])
x = images(files, meta["hparams"])
probs = session.run(None, {session.get_inputs()[0].name: x})[0]
print(json.dumps(labels(meta, probs)))
""",
    "litert": """
from ai_edge_litert.interpreter import Interpreter
meta = json.load(open(artifact + ".zoo.json"))
runner = Interpreter(model_path=artifact).get_signature_runner("serving_default")
(name,) = runner.get_input_details()
x = images(files, meta["hparams"])
probs = [next(iter(runner(**{name: x[i : i + 1]}).values()))[0] for i in range(len(x))]
print(json.dumps(labels(meta, probs)))
""",
    "savedmodel": """
import os
import tensorflow as tf
version = max((d for d in os.listdir(artifact) if d.isdigit()), key=int)  # TF Serving layout
folder = os.path.join(artifact, version)
meta = json.load(open(os.path.join(folder, "assets.extra", "zoo.json")))
serve = tf.saved_model.load(folder).signatures["serving_default"]
(name,) = serve.structured_input_signature[1]
x = images(files, meta["hparams"])
probs = next(iter(serve(**{name: tf.constant(x)}).values())).numpy()
print(json.dumps(labels(meta, probs)))
""",
    "keras": """
import zipfile
import keras
meta = json.loads(zipfile.ZipFile(artifact).read("zoo.json"))
model = keras.saving.load_model(artifact)
probs = model.predict(images(files, meta["hparams"]), verbose=0)
print(json.dumps(labels(meta, probs)))
""",
}
SUFFIXES = {"onnx": ".onnx", "litert": ".tflite", "savedmodel": "", "keras": ".keras"}


@pytest.mark.slow
def test_exported_artifacts_with_their_metadata_give_zoo_predicts_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _png_folder(tmp_path / "shapes")
    run = zoo.train(
        "cnn-small", data=folder, epochs=1, output=tmp_path / "run", verbose=False, seed=1
    )
    rows = zoo.predict(run.path, folder)
    files = sorted(str(p) for p in folder.rglob("*.png"))  # the reader's order
    files = [files[i] for i in (0, 5, 12, 17, 24, 30)]
    by_path = {str(r.get("path", "")): r["label"] for r in rows}
    expected = [by_path[f] for f in files] if all(f in by_path for f in files) else None
    if expected is None:  # rows without paths: the listing order
        listing = sorted(str(p) for p in folder.rglob("*.png"))
        expected = [rows[listing.index(f)]["label"] for f in files]
    assert set(expected) <= set(CLASSES)

    for fmt, runtime in RUNTIMES.items():
        dest = tmp_path / f"shapes{SUFFIXES[fmt] or '_model'}"
        code, out, err = _cli(
            ["export", str(run.path), "--format", fmt, "--output", str(dest), "--json"], capsys
        )
        assert code == 0, err
        report = json.loads(out)
        assert report["metadata"], report
        if fmt == "litert":
            assert report["metadata"] == str(dest) + ".zoo.json"
        if fmt == "savedmodel":
            assert (dest / "1" / "saved_model.pb").is_file()
        got = json.loads(_fresh_python(READ_IMAGES + runtime, str(dest), *files))
        assert got == expected, fmt


@pytest.mark.slow
def test_zoo_worker_trains_with_the_train_command_a_user_types(tmp_path: Path) -> None:
    run = tmp_path / "run"
    proc = subprocess.run(
        [*ZOO_CMD, "worker", "-n", "2", "train", "cnn-small", "--epochs", "1", "--quiet",
         "--set", "max_examples=64", "--output", str(run)],
        env=clean_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-2000:])
    assert "unexpected extra argument" not in proc.stdout + proc.stderr
    assert json.loads((run / "metrics.json").read_text())["distribution"]["workers"] == 2
