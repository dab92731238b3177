"""Fine-tuning (issue 17): training from pretrained weights, the freeze schedule, resume
inside the frozen phase, lineage, publishing a run as weights and hosting them on a web
server, and the bad inputs that must fail in one line with nothing written.

The data is real: scikit-learn's handwritten digits 5-9 (which `cnn:digits` was trained on
alongside 0-4, with another classifier), written as 8x8 PNG files into word-named class
folders, as a user's image folder would be.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import zoo
import zoo.catalog
from zoo.cli.main import main
from zoo.weights.store import file_digest

WORDS = dict(enumerate("zero one two three four five six seven eight nine".split()))
QUIET = {"verbose": False, "early_stopping": False}


def write_digit_folder(root: Path, per_class: int, digits: range = range(5, 10)) -> Path:
    """``root/<word>/<i>.png``: the first ``per_class`` 8x8 images of each of ``digits``."""
    from PIL import Image
    from sklearn.datasets import load_digits

    bunch = load_digits()
    for digit in digits:
        folder = root / WORDS[digit]
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(bunch.images[bunch.target == digit][:per_class]):
            pixels = (image * (255 / 16)).round().astype("uint8")
            Image.fromarray(pixels, "L").save(folder / f"{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def digits_5_9(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 images per class: 140 train, 20 validation, 40 test."""
    return write_digit_folder(tmp_path_factory.mktemp("digits-5-9"), per_class=40)


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_error_line(code: int, err: str, needle: str) -> str:
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert needle.lower() in lines[0].lower(), lines[0]
    return lines[0]


def _by_layer(model, values: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Arrays in ``model.get_weights()`` order, grouped by the layer owning each variable."""
    out: dict[str, list[np.ndarray]] = {}
    for variable, value in zip(model.weights, values, strict=True):
        out.setdefault(variable.path.split("/")[0], []).append(np.asarray(value))
    return out


def _changed(before: dict, after: dict) -> set[str]:
    return {
        layer
        for layer in before
        if any(not np.array_equal(a, b) for a, b in zip(before[layer], after[layer], strict=True))
    }


def _h5_arrays(path: Path) -> list[np.ndarray]:
    import h5py

    arrays: list[np.ndarray] = []
    with h5py.File(path) as handle:
        handle.visititems(
            lambda _, obj: arrays.append(np.array(obj)) if isinstance(obj, h5py.Dataset) else None
        )
    return arrays


# ------------------------------------------------------------------ starting from weights
@pytest.mark.slow
def test_finetuning_beats_scratch_and_records_lineage(
    digits_5_9: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scratch = zoo.train("cnn", digits_5_9, epochs=1, seed=0, output=tmp_path / "scratch", **QUIET)
    tuned = zoo.train(
        "cnn:digits", digits_5_9, epochs=1, seed=0, output=tmp_path / "tuned", **QUIET
    )
    first, base = tuned.metrics["test"]["accuracy"], scratch.metrics["test"]["accuracy"]
    assert first >= base + 0.1, f"fine-tuned {first:.3f} vs from scratch {base:.3f} (epoch 1)"
    assert "finetune" not in scratch.metrics

    shipped = zoo.catalog.get_catalog().resolve("cnn:digits").weights
    expected = {
        "model": "cnn",
        "weights": "cnn:digits",
        "sha256": shipped.sha256,
        "loaded": 3,
        "reinitialised": ["classifier"],  # 10 digits in the file, 5 classes in the data
    }
    run_toml = tomllib.loads((tuned.path / "run.toml").read_text())
    lineage = run_toml["run"]["finetune"]
    assert {k: lineage["weights"][k] for k in expected} == expected
    assert lineage["head"] == ["classifier"] and lineage["freeze"] == "none"
    assert run_toml["hparams"]["num_classes"] == 5
    metrics = json.loads((tuned.path / "metrics.json").read_text())
    assert {k: v for k, v in metrics["finetune"].items() if v is not None} == lineage

    code, out, err = _cli(["info", str(tuned.path), "--json"], capsys)
    assert code == 0, err
    card = json.loads(out)
    assert card["run"]["finetune"] == lineage
    assert card["hparams"]["num_classes"]["value"] == 5
    code, out, _ = _cli(["info", str(tuned.path)], capsys)
    assert "started from  cnn:digits" in out and shipped.sha256[:12] in out


@pytest.mark.slow
def test_frozen_epochs_train_only_the_head(digits_5_9: Path, tmp_path: Path) -> None:
    """--freeze backbone: the checkpoints of the frozen epochs differ from the starting
    weights in the head only; after unfreezing every layer changes."""
    import keras

    from zoo.training.callbacks import CHECKPOINTS, LAST_WEIGHTS, load_arrays

    run_dir = tmp_path / "frozen"

    class Snapshots(keras.callbacks.Callback):
        """The weights at the start, then each epoch's checkpoint (written just before)."""

        def __init__(self) -> None:
            super().__init__()
            self.taken: list[list[np.ndarray]] = []

        def on_train_begin(self, logs: dict | None = None) -> None:
            if not self.taken:  # fit() runs once per phase
                self.taken.append([np.array(w) for w in self.model.get_weights()])

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            self.taken.append(load_arrays(run_dir / CHECKPOINTS / LAST_WEIGHTS))

    snaps = Snapshots()
    run = zoo.train(
        "cnn:digits",
        digits_5_9,
        epochs=3,
        seed=1,
        output=run_dir,
        freeze="backbone",
        freeze_epochs=2,
        callbacks=[snaps],
        **QUIET,
    )
    start, epoch1, epoch2, epoch3 = (_by_layer(run.model, values) for values in snaps.taken)
    assert set(start) == {"conv_0", "conv_1", "dense", "classifier"}
    assert _changed(start, epoch1) == {"classifier"}
    assert _changed(epoch1, epoch2) == {"classifier"}
    assert _changed(epoch2, epoch3) == set(start)  # unfrozen at a tenth of the rate

    digits = zoo.load("cnn", weights="digits")
    shipped = _by_layer(digits, digits.get_weights())
    for layer in ("conv_0", "conv_1", "dense"):  # the backbone started from cnn:digits
        for a, b in zip(start[layer], shipped[layer], strict=True):
            np.testing.assert_array_equal(a, b)

    schedule = json.loads((run_dir / "metrics.json").read_text())["finetune"]
    assert schedule["freeze"] == "backbone" and schedule["freeze_epochs"] == 2
    assert schedule["finetune_learning_rate"] == pytest.approx(0.0002)  # lr 0.002 / 10


@pytest.mark.slow
def test_a_head_trained_on_other_classes_starts_afresh(
    digits_5_9: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Weights of a 5-class run on digits 0-4 fine-tuned on digits 5-9: same shapes, but the
    classifier predicts other classes, so it is re-initialised (an error with --strict);
    on the same classes it is kept."""
    zero_four = write_digit_folder(tmp_path / "digits-0-4", per_class=20, digits=range(5))
    source = zoo.train("cnn-small", zero_four, epochs=1, output=tmp_path / "src", **QUIET)
    tuned = zoo.train(
        "cnn-small", digits_5_9, weights=source.path, epochs=1, output=tmp_path / "new", **QUIET
    )
    start = tuned.metrics["finetune"]["weights"]
    assert start["reinitialised"] == ["classifier"] and start["loaded"] == 3
    same = zoo.train(
        "cnn-small", zero_four, weights=source.path, epochs=1, output=tmp_path / "same", **QUIET
    )
    assert same.metrics["finetune"]["weights"]["reinitialised"] == []

    output = tmp_path / "strict"
    args = ["train", "cnn-small", "--weights", str(source.path), "--data", str(digits_5_9)]
    code, _, err = _cli([*args, "--strict", "--output", str(output), "--quiet"], capsys)
    _one_error_line(code, err, "trained on the classes")
    assert not output.exists()


_KILLED_RUN = """
import os, signal, sys
import keras
import zoo

class KillAfter(keras.callbacks.Callback):
    # runs after the runner's checkpoint callback: the kill lands between two epochs
    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == {kill_after}:
            os.kill(os.getpid(), signal.SIGKILL)

zoo.train("cnn:digits", {data!r}, output={output!r}, callbacks=[KillAfter()], **{options!r})
"""


@pytest.mark.slow
def test_resume_after_sigkill_in_the_frozen_phase_matches_uninterrupted_run(
    digits_5_9: Path, tmp_path: Path
) -> None:
    """Killed (kill -9) after the first frozen epoch, and right after the last one: both
    resumed runs end with exactly the weights of a run that was never interrupted."""
    options = dict(epochs=4, seed=2, freeze="backbone", freeze_epochs=2, **QUIET)
    killed = {n: tmp_path / f"killed-after-{n}" for n in (1, 2)}
    procs = {
        n: subprocess.Popen(
            [
                sys.executable,
                "-c",
                _KILLED_RUN.format(
                    kill_after=n, data=str(digits_5_9), output=str(path), options=options
                ),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for n, path in killed.items()
    }
    for n, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
        state = json.loads((killed[n] / "checkpoints" / "state.json").read_text())
        assert state["epochs_done"] == n
        assert not (killed[n] / "metrics.json").exists()

    straight = zoo.train("cnn:digits", digits_5_9, output=tmp_path / "straight", **options)
    for n, path in killed.items():
        resumed = zoo.train(resume=path, verbose=False)
        assert resumed.metrics["epochs_run"] == 4
        assert resumed.metrics["finetune"] == straight.metrics["finetune"]
        for a, b in zip(
            _h5_arrays(path / "model.weights.h5"),
            _h5_arrays(straight.path / "model.weights.h5"),
            strict=True,
        ):
            np.testing.assert_allclose(a, b, atol=1e-6, err_msg=f"killed after epoch {n}")
        for key, value in straight.metrics["test"].items():
            assert resumed.metrics["test"][key] == pytest.approx(value, abs=1e-6)


# --------------------------------------------------------------------------- bad input
def _bad_finetune_cases(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    from zoo.weights.store import local_copy

    cnn_file = local_copy(zoo.catalog.get_catalog().resolve("cnn:digits").weights)
    assert cnn_file is not None
    return {
        "weights of another architecture": (
            ["train", "mlp", "--weights", str(cnn_file)],
            "do not fit",
        ),
        "unknown tag": (["train", "cnn:digitz"], "did you mean"),
        "unknown --weights tag": (["train", "cnn", "--weights", "digitz"], "did you mean"),
        "--freeze without a head": (
            ["train", "recommender:latent-feedback", "--freeze", "backbone"],
            "declares no head",
        ),
        "--freeze without weights": (["train", "cnn", "--freeze", "backbone"], "needs starting"),
        "--weights with --resume": (
            ["train", "cnn", "--weights", "digits", "--resume", str(tmp_path / "some-run")],
            "cannot be combined with --resume",
        ),
        "NAME:TAG with --resume": (
            ["train", "cnn:digits", "--resume", str(tmp_path / "some-run")],
            "cannot be combined with --resume",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "weights of another architecture",
        "unknown tag",
        "unknown --weights tag",
        "--freeze without a head",
        "--freeze without weights",
        "--weights with --resume",
        "NAME:TAG with --resume",
    ],
)
def test_bad_finetune_input_is_one_line_and_writes_nothing(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args, needle = _bad_finetune_cases(tmp_path)[case]
    output = tmp_path / "out"
    if "--resume" not in args:
        args = [*args, "--output", str(output), "--epochs", "1"]
    code, _, err = _cli([*args, "--quiet"], capsys)
    _one_error_line(code, err, needle)
    assert not output.exists() and not Path("runs").exists(), "nothing may be written"
    assert not (tmp_path / "some-run").exists()


# ------------------------------------------------------------------ publishing a run
class _Static:
    """python's http.server serving a folder on 127.0.0.1 (a team's static web server)."""

    def __init__(self, folder: Path) -> None:
        handler = partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        _QuietHandler.requests.append(self.path)
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def static_server() -> Iterator[partial]:
    servers: list[_Static] = []

    def start(folder: Path) -> _Static:
        servers.append(_Static(folder))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.mark.slow
def test_publish_a_run_then_load_train_export_and_serve_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    static_server,
) -> None:
    # cnn-small ships no weights: after `zoo weights add` it is a pretrained model
    run = zoo.train("cnn-small", epochs=1, max_examples=300, output=tmp_path / "run", **QUIET)
    registry = Path("registry.toml")  # the default: ./registry.toml, kept as it was
    original = (
        "# our team's models\n"
        '[models.my-cnn]\narchitecture = "cnn"\nhparams = { filters = [4, 8] }\n'
    )
    registry.write_text(original)
    code, out, err = _cli(["weights", "add", str(run.path), "--tag", "mine"], capsys)
    assert code == 0, err
    assert "published cnn-small:mine" in out
    text = registry.read_text()
    assert text.startswith(original), "the registry's content and comments stay"
    entry = tomllib.loads(text)["models"]["cnn-small"]["weights"][0]
    published = Path(entry["source"])
    assert published.is_relative_to(Path(os.environ["ZOO_HOME"]) / "published")
    assert entry["sha256"] == file_digest(run.weights_path)[0]
    assert entry["hparams"]["filters"] == [8, 16] and entry["dataset"] == "digits"
    assert entry["metrics"]["accuracy"] == pytest.approx(run.metrics["test"]["accuracy"])
    assert entry["lineage"]["run"] == str(run.path.resolve())
    assert entry["lineage"]["seed"] == 0 and entry["lineage"]["train"]["epochs"] == 1

    zoo.catalog.reset()
    code, out, _ = _cli(["list", "--pretrained", "--json"], capsys)
    listed = {r["name"]: r["pretrained"] for r in json.loads(out)}
    assert listed["cnn-small"] == ["mine"] and "my-cnn" not in listed
    code, out, _ = _cli(["info", "cnn-small:mine", "--json"], capsys)
    assert json.loads(out)["weights"][0]["lineage"]["run"] == str(run.path.resolve())
    code, out, _ = _cli(["info", "cnn-small:mine"], capsys)
    assert "published from run run" in out

    loaded = zoo.load("cnn-small", weights="mine")
    assert loaded.zoo_load_report.complete
    for a, b in zip(loaded.get_weights(), run.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)  # exactly the run's weights
    tuned = zoo.train(
        "cnn-small:mine", epochs=1, max_examples=300, output=tmp_path / "again", **QUIET
    )
    assert tuned.metrics["finetune"]["weights"]["weights"] == "cnn-small:mine"
    assert tuned.metrics["finetune"]["weights"]["sha256"] == entry["sha256"]

    # the same tag again: refused, nothing written; --force replaces it
    before = registry.read_bytes()
    code, _, err = _cli(["weights", "add", str(run.path), "--tag", "mine"], capsys)
    _one_error_line(code, err, "already exist")
    assert registry.read_bytes() == before
    code, _, err = _cli(["weights", "add", str(tuned.path), "--tag", "mine", "--force"], capsys)
    assert code == 0, err
    zoo.catalog.reset()
    assert zoo.catalog.get_catalog().resolve("cnn-small:mine").weights.sha256 != entry["sha256"]
    code, _, err = _cli(["weights", "add", str(run.path), "--tag", "mine", "--force"], capsys)
    assert code == 0, err
    zoo.catalog.reset()

    # export for a static web server: the file plus a snippet with an https:// template
    shared = tmp_path / "shared"
    code, out, err = _cli(["weights", "export", "cnn-small:mine", "--to", str(shared)], capsys)
    assert code == 0, err
    snippet = (shared / "registry.toml").read_text()
    assert snippet.startswith("#") and "https://YOUR-HOST/path/cnn-small-mine.weights.h5" in snippet
    assert (shared / "cnn-small-mine.weights.h5").read_bytes() == run.weights_path.read_bytes()

    # another machine: empty store, no ./registry.toml, the snippet pointing at the server
    server = static_server(shared)
    (shared / "registry.toml").write_text(snippet.replace("https://YOUR-HOST/path", server.url))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("ZOO_HOME", str(elsewhere / "home"))
    monkeypatch.setenv("ZOO_REGISTRY", str(shared / "registry.toml"))
    zoo.catalog.reset()
    _QuietHandler.requests.clear()
    served = zoo.load("cnn-small", weights="mine")
    assert _QuietHandler.requests == ["/cnn-small-mine.weights.h5"]
    for a, b in zip(served.get_weights(), run.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_corrupt_published_weights_and_bad_publish_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = zoo.train(
        "mlp", hidden_units=[16], max_examples=300, epochs=1, output=tmp_path / "run", **QUIET
    )
    home = Path(os.environ["ZOO_HOME"])

    # an unfinished run (killed, or still training): refused, nothing written
    unfinished = tmp_path / "unfinished"
    shutil.copytree(run.path, unfinished)
    meta = (
        (unfinished / "run.toml").read_text().replace('status = "complete"', 'status = "running"')
    )
    (unfinished / "run.toml").write_text(meta)
    (unfinished / "model.weights.h5").unlink()
    code, _, err = _cli(["weights", "add", str(unfinished), "--tag", "half"], capsys)
    _one_error_line(code, err, str(unfinished))
    assert not Path("registry.toml").exists() and not (home / "published").exists()
    # a tag the catalog already has (shipped weights) and an invalid tag
    for tag, needle in (("gaussian-clusters", "already exist"), ("Bad Tag", "not a valid")):
        code, _, err = _cli(["weights", "add", str(run.path), "--tag", tag], capsys)
        _one_error_line(code, err, needle)
        assert not Path("registry.toml").exists() and not (home / "published").exists()

    # the registry a plugin package ships is not a user registry
    builtin = Path(zoo.catalog.get_catalog().models["mlp"].origin)
    before = builtin.read_bytes()
    code, _, err = _cli(
        ["weights", "add", str(run.path), "--tag", "x", "--registry", str(builtin)], capsys
    )
    _one_error_line(code, err, "shipped by a plugin package")
    assert builtin.read_bytes() == before and not (home / "published").exists()

    other = tmp_path / "team.toml"
    code, out, err = _cli(
        ["weights", "add", str(run.path), "--tag", "tiny", "--registry", str(other)], capsys
    )
    assert code == 0, err
    assert not Path("registry.toml").exists() and other.is_file()
    zoo.use_registry(other)
    model = zoo.load("mlp", weights="tiny")
    for a, b in zip(model.get_weights(), run.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

    # `zoo weights verify` (even --delete) leaves the published area alone
    code, _, err = _cli(["weights", "verify", "--delete"], capsys)
    assert code == 0, err
    path = Path(tomllib.loads(other.read_text())["models"]["mlp"]["weights"][0]["source"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte, same size
    path.write_bytes(bytes(data))
    with pytest.raises(zoo.WeightsError, match="corrupt"):
        zoo.load("mlp", weights="tiny")
    code, _, err = _cli(["--registry", str(other), "weights", "path", "mlp:tiny"], capsys)
    _one_error_line(code, err, "corrupt")
    assert path.read_bytes() == bytes(data), "a published file is never deleted"
