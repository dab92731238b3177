"""The built-in plugins' default datasets and the loaders for the user's own files.

Every dataset is reached the way the runner reaches it: through the owning plugin's
``zoo_dataset`` hook, with a validated config.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_python

from zoo.catalog import get_catalog
from zoo.catalog.config import make_config
from zoo.data.dataset import Dataset
from zoo.errors import DataError
from zoo.plugins.mlp import data as mlp_data

ARCHITECTURES = ("mlp", "cnn", "rnn", "transformer", "recommender")


def config_for(model: str, **overrides: Any):
    ref = get_catalog().resolve(model)
    return ref, make_config(ref, [("test", overrides)] if overrides else [])


def load(model: str, path: Path | None = None, state: dict | None = None, **overrides: Any):
    ref, config = config_for(model, **overrides)
    hook = get_catalog().host.owner_hook(ref.plugin, "zoo_dataset")
    return hook(config=config, path=path, state=state)


def first(x: Any, n: int) -> Any:
    return {k: v[:n] for k, v in x.items()} if isinstance(x, dict) else x[:n]


# ----------------------------------------------------------------------- default datasets


@pytest.mark.parametrize("model", ARCHITECTURES)
def test_default_dataset_is_deterministic_and_json_state(model: str) -> None:
    a, b = load(model), load(model)
    assert isinstance(a, Dataset) and len(a) > 1000
    xa, xb = (a.x, b.x) if isinstance(a.x, dict) else ({"x": a.x}, {"x": b.x})
    for key in xa:
        np.testing.assert_array_equal(xa[key], xb[key])
    if a.y is not None:
        np.testing.assert_array_equal(a.y, b.y)
    json.dumps(a.state)  # saved with the run
    _, config = config_for(model)
    for key, value in a.implied.items():
        assert config[key] == value  # the default data fits the default model


def test_default_datasets_fit_the_built_models() -> None:
    """Each default dataset goes through its model: shapes, dtypes and labels fit."""
    from zoo.building import build_model

    for model in ("mlp", "cnn-small", "rnn", "transformer-tiny", "recommender"):
        ref, config = config_for(model)
        data = load(model)
        out = np.asarray(build_model(ref, config, compile=False)(first(data.x, 4)))
        assert out.shape[0] == 4
        assert np.isfinite(out).all()
        if data.y is not None:
            assert data.y.dtype == np.int32
            assert set(np.unique(data.y)) == set(range(config.num_classes))
            assert out.shape[1] == config.num_classes


def test_loading_data_imports_no_tensorflow() -> None:
    code = (
        "import sys\n"
        "from zoo.catalog import get_catalog\nfrom zoo.catalog.config import make_config\n"
        "cat = get_catalog()\n"
        f"for name in {ARCHITECTURES!r}:\n"
        "    ref = cat.resolve(name)\n"
        "    cat.host.owner_hook(ref.plugin, 'zoo_dataset')(\n"
        "        config=make_config(ref), path=None, state=None)\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    code_, out, err = run_python(code)
    assert code_ == 0, err
    assert out.strip() == "False False"


def test_mlp_clusters_need_a_nonlinear_model() -> None:
    from sklearn.neighbors import KNeighborsClassifier, NearestCentroid

    data = load("mlp")
    assert data.x.shape == (mlp_data.EXAMPLES, 100) and data.x.dtype == np.float32
    x, y = data.x, data.y
    centroid = NearestCentroid().fit(x[:3000], y[:3000]).score(x[3000:], y[3000:])
    knn = KNeighborsClassifier(5).fit(x[:3000], y[:3000]).score(x[3000:], y[3000:])
    assert 0.4 < centroid < 0.9  # one prototype per class is not enough: two clusters each
    assert knn > centroid + 0.05 and knn > 0.7  # chance is 0.1
    small = load("mlp", input_dim=7, num_classes=3)
    assert small.x.shape == (mlp_data.EXAMPLES, 7) and set(np.unique(small.y)) == {0, 1, 2}


def test_cnn_digits_are_the_real_scikit_learn_digits() -> None:
    from sklearn.datasets import load_digits

    data = load("cnn")
    assert data.x.shape == (1797, 28, 28, 1) and 0.0 <= data.x.min() < data.x.max() <= 1.0
    np.testing.assert_array_equal(data.y, load_digits().target)
    assert data.class_names == [str(d) for d in range(10)]
    five = load("cnn", num_classes=5, channels=3, height=16, width=12)
    assert five.x.shape[1:] == (16, 12, 3) and set(np.unique(five.y)) == set(range(5))
    assert five.implied == {"num_classes": 5}


def test_rnn_waveforms_are_told_apart_by_shape_and_pace() -> None:
    from sklearn.neighbors import NearestCentroid

    data = load("rnn")
    assert data.x.shape == (6000, 100, 1)
    assert data.class_names[:4] == ["sine@1", "square@1", "sawtooth@1", "chirp@1"]
    raw = data.x[:, :, 0]
    spectrum = np.abs(np.fft.rfft(raw - raw.mean(axis=1, keepdims=True), axis=1))
    y = data.y

    def score(features: np.ndarray) -> float:
        model = NearestCentroid().fit(features[:4800], y[:4800])
        return model.score(features[4800:], y[4800:])

    assert score(raw) < 0.35  # random phase: an average waveform per class says little
    assert score(spectrum) > 0.7  # the shape and pace do (chance is 0.1)
    multi = load("rnn", features=3, timesteps=40, num_classes=6)
    assert multi.x.shape == (6000, 40, 3)
    with pytest.raises(DataError, match="cannot tell 100 classes apart"):
        load("rnn", num_classes=100)


def test_transformer_labels_follow_marker_order() -> None:
    from zoo.tasks.baselines import bag_of_words_accuracy

    data = load("transformer", num_classes=4)
    x, y = data.x, data.y
    assert x.shape == (4000, 48) and x.dtype == np.int32 and x.max() < 64
    a_pos = np.argmax(x == 2, axis=1)
    b_pos = np.argmax(x == 3, axis=1)
    assert ((x == 2).sum(axis=1) == 1).all() and ((x == 3).sum(axis=1) == 1).all()
    np.testing.assert_array_equal((a_pos < b_pos).astype(int), y % 2)
    lengths = (x != 0).sum(axis=1)
    assert (np.abs(a_pos - b_pos) >= lengths // 4).all()  # a long-range pair
    # word counts alone get the key token but not the order: about half right
    bow = bag_of_words_accuracy(x[:3000], y[:3000], x[3000:], y[3000:], 64)
    assert 0.4 < bow < 0.6
    with pytest.raises(DataError, match="vocab_size"):
        load("transformer", vocab_size=8, num_classes=10)


def test_recommender_feedback_has_distinct_pairs_per_user() -> None:
    data = load("recommender")
    users, items = data.x["user_id"], data.x["item_id"]
    assert data.y is None and users.dtype == np.int32 and items.dtype == np.int32
    assert users.max() < 1000 and items.max() < 500
    per_user = np.bincount(users, minlength=1000)
    assert per_user.min() >= 15 and per_user.max() <= 40
    assert len(set(zip(users.tolist(), items.tolist(), strict=True))) == len(users)
    counts = np.bincount(items, minlength=500)
    assert counts.max() > 4 * counts.mean()  # a popularity skew to learn
    with pytest.raises(DataError, match="too large"):
        load("recommender", num_users=10_000_000, num_items=100)


# --------------------------------------------------------------------------- image files


def write_png(path: Path, value: int, mode: str = "L", size: tuple[int, int] = (12, 9)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, 255 - value, 0)
    Image.new(mode, size, color).save(path)


def test_cnn_image_folder_with_classes_and_state(tmp_path: Path) -> None:
    root = tmp_path / "pets"
    for i in range(3):
        write_png(root / "cat" / f"{i}.png", 10, "RGB")
        write_png(root / "dog" / f"{i}.jpg", 240, "RGB")
    grey = load("cnn", root)  # converted to the model's channels: greyscale by default
    assert grey.x.shape == (6, 28, 28, 1) and grey.implied == {"num_classes": 2}
    data = load("cnn", root, channels=3)
    assert data.x.shape == (6, 28, 28, 3)
    assert data.class_names == ["cat", "dog"] and data.y.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.x[0, 0, 0, 0] == pytest.approx(10 / 255, abs=0.01)
    # new data for the trained run: same classes, even when only one folder is present
    new = tmp_path / "new"
    write_png(new / "dog" / "x.png", 240, "RGB")
    again = load("cnn", new, state=data.state, channels=3, num_classes=2)
    assert again.y.tolist() == [1] and again.implied == {}
    write_png(new / "bird" / "y.png", 99, "RGB")
    with pytest.raises(DataError, match="label bird is not among the model's classes"):
        load("cnn", new, state=data.state, channels=3, num_classes=2)


def test_cnn_flat_folder_and_single_image_are_unlabelled(tmp_path: Path) -> None:
    for i in range(2):
        write_png(tmp_path / "imgs" / f"{i}.png", 128)
    data = load("cnn", tmp_path / "imgs")
    assert data.y is None and data.x.shape == (2, 28, 28, 1)
    one = load("cnn", tmp_path / "imgs" / "0.png")
    assert len(one) == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        load("cnn", tmp_path / "empty")
    bad = tmp_path / "broken" / "a" / "x.png"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a png")
    write_png(tmp_path / "broken" / "b" / "y.png", 1)
    broken = load("cnn", tmp_path / "broken")  # files are streamed: read when needed
    with pytest.raises(DataError, match=r"x\.png: cannot be read as an image"):
        np.asarray(broken.x)


def test_cnn_arrays_imply_image_size(tmp_path: Path) -> None:
    x = np.random.default_rng(0).integers(0, 256, (20, 10, 14), dtype=np.uint8)
    y = np.arange(20) % 4
    np.savez(tmp_path / "imgs.npz", x=x, y=y)
    data = load("cnn", tmp_path / "imgs.npz")
    assert data.x.shape == (20, 10, 14, 1) and data.x.max() <= 1.0
    assert data.implied == {"height": 10, "width": 14, "channels": 1, "num_classes": 4}
    np.testing.assert_allclose(data.x[..., 0], x / 255.0, atol=1e-6)
    np.savez(tmp_path / "wrong.npz", x=np.zeros((3, 5)))
    with pytest.raises(DataError, match="images must have shape"):
        load("cnn", tmp_path / "wrong.npz")
    np.savez(tmp_path / "nox.npz", pixels=x)
    with pytest.raises(DataError, match="no input array; found pixels"):
        load("cnn", tmp_path / "nox.npz")


# -------------------------------------------------------------------------- numeric files


def test_mlp_csv_with_header_names_and_standardisation(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    feats = rng.normal(5.0, 3.0, (50, 3))
    names = np.where(feats[:, 0] > 5, "high", "low")
    lines = ["a,b,c,label"] + [
        f"{r[0]:.4f},{r[1]:.4f},{r[2]:.4f},{n}" for r, n in zip(feats, names, strict=True)
    ]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    data = load("mlp", tmp_path / "t.csv")
    assert data.implied == {"input_dim": 3, "num_classes": 2}
    assert data.class_names == ["high", "low"]
    np.testing.assert_allclose(data.x.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(data.x.std(axis=0), 1, atol=1e-3)
    # prediction file without the label column, encoded with the training statistics
    (tmp_path / "p.csv").write_text("a,b,c\n5,5,5\n8,2,5\n")
    pred = load("mlp", tmp_path / "p.csv", state=data.state, input_dim=3, num_classes=2)
    assert pred.y is None
    expected = (np.array([5, 5, 5]) - data.state["mean"]) / data.state["std"]
    np.testing.assert_allclose(pred.x[0], expected, rtol=1e-5)
    (tmp_path / "four.csv").write_text("1,2,3,4,0\n1,2,3,4,1\n")
    with pytest.raises(DataError, match="4 features per example, the run was trained on 3"):
        load("mlp", tmp_path / "four.csv", state=data.state, input_dim=3)


def test_numeric_table_errors_name_the_line(tmp_path: Path) -> None:
    (tmp_path / "ragged.csv").write_text("1,2,0\n3,4,1\n5,1\n")
    with pytest.raises(DataError, match="line 3 has 2 columns, expected 3"):
        load("mlp", tmp_path / "ragged.csv")
    (tmp_path / "text.csv").write_text("1,2,0\n3,x,1\n")
    with pytest.raises(DataError, match="row 2 has a non-numeric feature"):
        load("mlp", tmp_path / "text.csv")
    (tmp_path / "one.csv").write_text("1,2,7\n3,4,7\n")
    with pytest.raises(DataError, match="every label is '7'"):
        load("mlp", tmp_path / "one.csv")
    with pytest.raises(DataError, match="does not exist"):
        load("mlp", tmp_path / "missing.csv")
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(DataError, match="unsupported file type"):
        load("mlp", tmp_path / "x.parquet")
    (tmp_path / "few.csv").write_text("1,2,0\n3,4,1\n5,6,2\n")
    with pytest.raises(DataError, match="the data has 3 classes but num_classes=2"):
        load("mlp", tmp_path / "few.csv", num_classes=2)


def test_rnn_sequences_from_npz_and_flat_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 12, 2)).astype("float32")
    np.savez(tmp_path / "s.npz", x=x, y=np.arange(30) % 3)
    data = load("rnn", tmp_path / "s.npz")
    assert data.x.shape == (30, 12, 2)
    assert data.implied == {"timesteps": 12, "features": 2, "num_classes": 3}
    rows = [
        ",".join(map(str, seq.reshape(-1))) + f",{label}"
        for seq, label in zip(x, data.y, strict=True)
    ]
    (tmp_path / "s.csv").write_text("\n".join(rows))
    flat = load("rnn", tmp_path / "s.csv", features=2)
    np.testing.assert_allclose(flat.x, data.x, atol=1e-4)
    with pytest.raises(DataError, match="do not split into steps of 5 features"):
        load("rnn", tmp_path / "s.csv", features=5)
    np.savez(tmp_path / "short.npz", x=x[:, :6])  # new data must have the training length
    with pytest.raises(DataError, match="the run was trained on 12 x 2"):
        load("rnn", tmp_path / "short.npz", state=data.state, timesteps=12, features=2)


# ----------------------------------------------------------------------------------- text


def test_text_csv_vocabulary_and_reuse(tmp_path: Path) -> None:
    rows = ["text,label"] + ['"Great movie, loved it",pos', '"Awful movie, hated it",neg'] * 5
    (tmp_path / "reviews.csv").write_text("\n".join(rows) + "\n")
    data = load("transformer", tmp_path / "reviews.csv", sequence_length=6)
    assert data.class_names == ["neg", "pos"] and data.y.tolist()[:2] == [1, 0]
    vocab = data.state["vocabulary"]
    assert set(vocab) == {"great", "movie", ",", "loved", "it", "awful", "hated"}
    assert data.implied == {"vocab_size": len(vocab) + 2, "num_classes": 2}
    ids = {w: i + 2 for i, w in enumerate(vocab)}
    assert data.x[0].tolist() == [ids["great"], ids["movie"], ids[","], ids["loved"], ids["it"], 0]
    # new text with an unseen word: id 1; the same vocabulary, no new implied values
    (tmp_path / "new.csv").write_text("text\nGreat popcorn movie\n")
    new = load("transformer", tmp_path / "new.csv", state=data.state, sequence_length=4)
    assert new.y is None and new.implied == {}
    assert new.x[0].tolist() == [ids["great"], 1, ids["movie"], 0]


def test_text_without_header_and_vocab_cap(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("spam,buy cheap pills now\nham,see you at lunch\n" * 3)
    data = load("transformer", tmp_path / "a.csv")
    assert data.class_names == ["ham", "spam"]
    assert "pills" in data.state["vocabulary"]
    capped = load("transformer", tmp_path / "a.csv", vocab_size=4)
    assert len(capped.state["vocabulary"]) == 2 and capped.x.max() < 4
    assert capped.implied["vocab_size"] == 4
    (tmp_path / "b.csv").write_text("sentence,polarity\nI like it,up\nI do not,down\n")
    named = load("transformer", tmp_path / "b.csv")  # one known name: the other is the label
    assert named.class_names == ["down", "up"] and named.y.tolist() == [1, 0]
    (tmp_path / "c.csv").write_text("id,body,stars,lang\n1,nice one,5,en\n")
    unlabelled = load("transformer", tmp_path / "c.csv")  # 'body' is the text; no label
    assert unlabelled.y is None and unlabelled.x.shape == (1, 48)
    generated_state = load("transformer").state
    with pytest.raises(DataError, match="no vocabulary"):
        load("transformer", tmp_path / "a.csv", state=generated_state)


# -------------------------------------------------------------------------------- ratings


def test_movielens_ratings_csv(tmp_path: Path) -> None:
    (tmp_path / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n"
        "7,100,4.0,30\n"
        "7,200,3.5,10\n"
        "9,100,5.0,20\n"
        "7,100,2.0,40\n"  # re-rated: one interaction, at its latest time
        "9,300,1.0,50\n"
    )
    data = load("recommender", tmp_path)  # a folder holding ratings.csv
    # time order: (7,200)@10 (9,100)@20 (7,100)@40 (9,300)@50
    assert data.state["users"] == ["7", "9"] and data.state["items"] == ["200", "100", "300"]
    assert data.x["user_id"].tolist() == [0, 1, 0, 1]
    assert data.x["item_id"].tolist() == [0, 1, 1, 2]
    assert data.implied == {"num_users": 2, "num_items": 3}
    bigger = load("recommender", tmp_path / "ratings.csv", num_users=50)
    assert bigger.implied == {"num_items": 3}  # a larger id range set by hand is kept
    (tmp_path / "more.csv").write_text("userId,movieId\n9,200\n8,100\n")
    with pytest.raises(DataError, match="user '8' was not in the training data"):
        load("recommender", tmp_path / "more.csv", state=data.state)


def test_movielens_u_data_and_dat_layouts(tmp_path: Path) -> None:
    (tmp_path / "u.data").write_text("1\t10\t5\t881250949\n2\t10\t3\t881250950\n1\t20\t4\t1\n")
    data = load("recommender", tmp_path / "u.data")
    assert data.x["user_id"].tolist() == [0, 0, 1]  # (1,20)@1 first
    assert data.state["items"] == ["20", "10"]
    (tmp_path / "ratings.dat").write_text("1::1193::5::978300760\n2::661::3::978302109\n")
    dat = load("recommender", tmp_path / "ratings.dat")
    assert dat.state["users"] == ["1", "2"] and dat.state["items"] == ["1193", "661"]
    (tmp_path / "solo.csv").write_text("user,item\n1,5\n2,5\n")
    with pytest.raises(DataError, match="only one item"):
        load("recommender", tmp_path / "solo.csv")
    empty = tmp_path / "nothing"
    empty.mkdir()
    with pytest.raises(DataError, match="no ratings file"):
        load("recommender", empty)
