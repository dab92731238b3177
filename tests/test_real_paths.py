"""The user's own files, end to end (issue 15, points 1-4 and 11).

Every test writes real files the way a user has them — PNG folders with word-named
classes, a CSV with an id column and text, a users-only CSV, ratings in MovieLens layout
(userId,movieId,rating,timestamp) — and goes through the public API or the CLI. Each one
failed on the code before the fix: evaluation scored the built-in dataset, labels were
mapped by sorted folder order, predictions carried only an index, a recommender refused a
users-only file and recommended what the user had already rated, and an empty label cell
became the class "nan".
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import zoo
from zoo.catalog import get_catalog
from zoo.catalog.config import make_config
from zoo.cli.main import main
from zoo.errors import DataError

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGITS = tuple(str(d) for d in range(10))


# ----------------------------------------------------------------------------- the files
def digits_png(root: Path, names: tuple[str, ...], per_class: int = 12) -> Path:
    """scikit-learn's digits as PNG files in ``root/<names[digit]>/``."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    count = dict.fromkeys(range(10), 0)
    for i, (image, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        if count[int(target)] >= per_class:
            continue
        count[int(target)] += 1
        folder = root / names[int(target)]
        folder.mkdir(parents=True, exist_ok=True)
        pixels = (image * 16).clip(0, 255).astype("uint8")
        Image.fromarray(pixels).save(folder / f"{i:04d}.png")
    return root


def ratings_csv(path: Path, users: int = 40, items: int = 30, seed: int = 0) -> Path:
    """MovieLens layout: userId,movieId,rating,timestamp; ids that are not 0..n-1."""
    rng = np.random.default_rng(seed)
    lines, stamp = ["userId,movieId,rating,timestamp"], 964982703
    for user in range(1, users + 1):
        for movie in rng.choice(items, size=int(rng.integers(6, 12)), replace=False):
            stamp += int(rng.integers(1, 500))
            lines.append(f"{user * 7},{1000 + movie},{rng.integers(1, 6)}.0,{stamp}")
    path.write_text("\n".join(lines) + "\n")
    return path


def rated_by(path: Path) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            seen.setdefault(row["userId"], set()).add(row["movieId"])
    return seen


def load(model: str, path: Path, state: dict | None = None, **overrides: Any) -> Any:
    """A plugin's dataset for ``path``, reached the way the runner reaches it."""
    ref = get_catalog().resolve(model)
    config = make_config(ref, [("test", overrides)] if overrides else [])
    return get_catalog().host.owner_hook(ref.plugin, "zoo_dataset")(
        config=config, path=path, state=state
    )


def cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = int(main(args) or 0)
    except SystemExit as exit_info:
        code = int(exit_info.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------- 11. empty labels are not a class
def test_empty_label_cells_are_an_error_naming_the_rows(tmp_path: Path) -> None:
    table = tmp_path / "table.csv"
    table.write_text("a,b,label\n1,2,cat\n3,4,\n5,6,dog\n7,8,\n9,1,cat\n")
    with pytest.raises(DataError, match=r"table.csv: 2 of 5 rows have no label \(rows 2, 4\)"):
        load("mlp", table)
    texts = tmp_path / "texts.csv"
    texts.write_text("text,label\ngreat film,pos\nawful plot,\nfine acting,pos\nbad,neg\n")
    with pytest.raises(DataError, match=r"1 of 4 rows have no label \(row 2\)"):
        load("transformer", texts)
    arrays = tmp_path / "arrays.npz"
    np.savez(arrays, x=np.ones((4, 3, 8)), y=np.array([0.0, np.nan, 1.0, 1.0]))
    with pytest.raises(DataError, match=r"rows have no label|row 2"):
        load("rnn", arrays)


# ------------------------------------------------ 3. predictions join back to the inputs
def test_every_reader_gives_each_example_its_key(tmp_path: Path) -> None:
    images = digits_png(tmp_path / "images", WORDS, per_class=2)
    found = load("cnn", images)
    assert found.key_name == "path"
    assert found.keys[0] == str(
        images / "eight" / sorted(p.name for p in (images / "eight").iterdir())[0]
    )
    assert len(found.keys) == len(found) == 20

    table = tmp_path / "table.csv"  # an id column is the key, not a feature
    table.write_text("id,a,b,label\nrow-a,1,2,x\nrow-b,3,4,y\nrow-c,5,6,x\n")
    found = load("mlp", table)
    assert (found.key_name, found.keys) == ("id", ["row-a", "row-b", "row-c"])
    assert found.x.shape == (3, 2) and found.implied["input_dim"] == 2
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("id,a,b\nq1,1,2\nq2,3,4\n")
    found = load("mlp", unlabelled, state=found.state, input_dim=2, num_classes=2)
    assert found.y is None and found.keys == ["q1", "q2"] and found.x.shape == (2, 2)
    plain = tmp_path / "plain.csv"
    plain.write_text("1,2,0\n3,4,1\n5,6,0\n")
    assert load("mlp", plain).keys == [1, 2, 3]  # row numbers, as error messages count

    texts = tmp_path / "texts.csv"
    texts.write_text("id,text\nr1,a good film\nr2,a bad film\n")
    state = {"vocabulary": ["a", "film", "good", "bad"], "class_names": ["neg", "pos"]}
    found = load("transformer", texts, state=state)
    assert found.y is None and (found.key_name, found.keys) == ("id", ["r1", "r2"])
    only_text = tmp_path / "only_text.csv"
    only_text.write_text("text\na good film\na bad film\n")
    found = load("transformer", only_text, state=state)
    assert (found.key_name, found.keys) == ("text", ["a good film", "a bad film"])


def test_a_users_only_file_lists_users_for_a_run_trained_on_ratings(tmp_path: Path) -> None:
    ratings = ratings_csv(tmp_path / "ratings.csv")
    trained = load("recommender", ratings)
    assert trained.key_name == "user_id" and trained.keys[0] in trained.state["users"]
    users = tmp_path / "users.csv"
    users.write_text("userId\n21\n7\n21\n")
    found = load("recommender", users, state=trained.state)
    assert set(found.x) == {"user_id"}
    assert [trained.state["users"][u] for u in found.x["user_id"]] == ["21", "7", "21"]
    assert found.keys == ["21", "7", "21"]
    (tmp_path / "user_id.csv").write_text("user_id\n7\n")
    assert load("recommender", tmp_path / "user_id.csv", state=trained.state).keys == ["7"]
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("userId\n7\n9999\n8888\n")
    with pytest.raises(
        DataError, match=r"2 users \('9999', '8888'\) were not in the training data"
    ):
        load("recommender", unknown, state=trained.state)
    with pytest.raises(DataError, match="lists users only"):
        load("recommender", users)  # training needs ratings


# -------------------------------------------- 2. pretrained weights match labels by name
def test_pretrained_weights_match_folder_labels_by_name(tmp_path: Path) -> None:
    words = digits_png(tmp_path / "words", WORDS)
    with pytest.raises(DataError) as error:
        zoo.evaluate("cnn:digits", words)
    message = str(error.value)  # one line, both sets
    assert "\n" not in message
    assert "labels eight, five, four, nine, one, seven, six, three, two, zero are not" in message
    assert "the model knows 0, 1, 2, 3, 4, 5, 6, 7, 8, 9" in message
    with pytest.raises(DataError, match="not among the model's classes"):
        zoo.predict("cnn:digits", words)

    # the same images in folders named like the model's classes; only three of them, so
    # sorted folder order (0, 1, 2) would be wrong for two of the classes
    numbers = digits_png(tmp_path / "numbers", DIGITS)
    for name in DIGITS:
        if name not in ("3", "7", "9"):
            shutil.rmtree(numbers / name)
    result = zoo.evaluate("cnn:digits", numbers)
    assert result["examples"] == 36 and result["test"]["accuracy"] > 0.9
    rows = zoo.predict("cnn:digits", numbers, top_k=2)
    assert [row["path"] for row in rows] == [
        str(path) for name in ("3", "7", "9") for path in sorted((numbers / name).iterdir())
    ]
    assert np.mean([row["label"] == Path(row["path"]).parent.name for row in rows]) > 0.9


# ------------------------------------------------------------------------- slow: training
@pytest.mark.slow
def test_a_run_on_an_image_folder_is_evaluated_and_exported_on_that_folder(
    tmp_path: Path,
) -> None:
    folder = digits_png(tmp_path / "my digits", WORDS, per_class=15)
    run = zoo.train("cnn-small", folder, output=tmp_path / "run", verbose=False, epochs=2, seed=3)
    assert json.loads((run.path / "data_state.json").read_text())["class_names"] == sorted(WORDS)
    result = zoo.evaluate(run.path)
    assert (result["data"], result["scope"]) == ("my digits", "test split")
    assert result["examples"] == len(np.load(run.path / "split.npz")["test"]) == 30
    for key, value in run.metrics["test"].items():
        assert result["test"][key] == pytest.approx(value, abs=1e-4), key
    assert result["baselines"] == pytest.approx(run.metrics["baselines"], abs=1e-6)

    report = zoo.export(run.path, tmp_path / "model.keras")
    assert "'my digits'" in report.sample_source

    # class names travel with the run: a folder of some classes maps by name
    few = tmp_path / "few"
    for name in ("three", "zero"):
        shutil.copytree(folder / name, few / name)
    rows = zoo.predict(run.path, few)
    assert {Path(row["path"]).parent.name for row in rows} == {"three", "zero"}
    assert all(row["label"] in WORDS for row in rows)
    assert zoo.evaluate(run.path, few)["examples"] == 30

    # a model trained on folders 0..9 refuses word-named folders instead of scoring 0.10
    shutil.rmtree(few / "three")
    (few / "zero").rename(few / "0")
    with pytest.raises(DataError, match="label 0 is not among the model's classes"):
        zoo.evaluate(run.path, few)

    moved = tmp_path / "moved"
    folder.rename(moved)
    with pytest.raises(DataError) as error:
        zoo.evaluate(run.path)
    assert str(folder) in str(error.value) and "--data" in str(error.value)
    assert "\n" not in str(error.value)
    assert zoo.evaluate(run.path, moved)["scope"] == f"all of {moved}"


@pytest.mark.slow
def test_a_run_on_a_csv_with_ids_predicts_rows_keyed_by_id(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 4))
    labels = np.where(x[:, 0] + x[:, 1] > 0, "up", "down")
    train = tmp_path / "train.csv"
    train.write_text(
        "id,f1,f2,f3,f4,label\n"
        + "".join(
            f"s{i:03d},{r[0]:.4f},{r[1]:.4f},{r[2]:.4f},{r[3]:.4f},{lab}\n"
            for i, (r, lab) in enumerate(zip(x, labels, strict=True))
        )
    )
    run = zoo.train("mlp", train, output=tmp_path / "run", verbose=False, epochs=3, seed=1)
    assert run.config["input_dim"] == 4  # the id column is not a feature
    result = zoo.evaluate(run.path)
    assert result["data"] == "train"
    assert result["test"]["accuracy"] == pytest.approx(run.metrics["test"]["accuracy"], abs=1e-6)
    new = tmp_path / "new.csv"
    new.write_text("id,f1,f2,f3,f4\nlast,-2,-2,0,0\nfirst,2,2,0,0\n")
    rows = zoo.predict(run.path, new, output=tmp_path / "pred.csv")
    assert [(row["id"], row["label"]) for row in rows] == [("last", "down"), ("first", "up")]
    with (tmp_path / "pred.csv").open() as handle:
        assert [row["id"] for row in csv.DictReader(handle)] == ["last", "first"]


@pytest.mark.slow
def test_a_text_run_predicts_rows_keyed_by_id_or_text(tmp_path: Path) -> None:
    good = ["a great film", "wonderful acting", "loved it", "great fun", "a joy"]
    bad = ["a dull film", "awful acting", "hated it", "boring mess", "a chore"]
    lines = ["id,text,label"] + [
        f"t{i},{text},{'pos' if text in good else 'neg'}"
        for i, text in enumerate((good + bad) * 12)
    ]
    train = tmp_path / "reviews.csv"
    train.write_text("\n".join(lines) + "\n")
    run = zoo.train("transformer-tiny", train, output=tmp_path / "run", verbose=False, epochs=1)
    result = zoo.evaluate(run.path)
    assert result["data"] == "reviews"
    assert result["test"]["accuracy"] == pytest.approx(run.metrics["test"]["accuracy"], abs=1e-6)
    ids = tmp_path / "ids.csv"
    ids.write_text("id,text\nz9,a great film\na1,awful acting\n")
    assert [row["id"] for row in zoo.predict(run.path, ids)] == ["z9", "a1"]
    texts = tmp_path / "texts.csv"
    texts.write_text("text\nloved it\nhated it\n")
    assert [row["text"] for row in zoo.predict(run.path, texts)] == ["loved it", "hated it"]


@pytest.mark.slow
def test_recommender_predictions_are_recommendations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ratings = ratings_csv(tmp_path / "ratings.csv")
    run = zoo.train(
        "recommender",
        ratings,
        output=tmp_path / "run",
        verbose=False,
        epochs=2,
        embedding_dim=8,
        tower_units=[8],
        output_dim=8,
    )
    result = zoo.evaluate(run.path)  # the run's own ratings, not the generated data
    assert result["data"] == "ratings"
    for key, value in run.metrics["test"].items():
        assert result["test"][key] == pytest.approx(value, abs=1e-6), key

    users = tmp_path / "users.csv"
    users.write_text("userId\n21\n7\n280\n")
    seen = rated_by(ratings)
    rows = zoo.predict(run.path, users, top_k=5)
    assert [row["user_id"] for row in rows] == ["21", "7", "280"]
    for row in rows:
        assert len(row["items"]) == 5 and not set(row["items"]) & seen[row["user_id"]]
        assert row["scores"] == sorted(row["scores"], reverse=True)
    everything = zoo.predict(run.path, users, top_k=30, include_seen=True)
    assert all(set(row["items"]) & seen[row["user_id"]] for row in everything)

    code, out, err = cli(
        ["predict", str(run.path), "--data", str(users), "--top-k", "5", "--json"], capsys
    )
    assert code == 0, err
    assert json.loads(out) == rows
    code, out, err = cli(
        [
            "predict",
            str(run.path),
            "--data",
            str(users),
            "--top-k",
            "30",
            "--include-seen",
            "--json",
        ],
        capsys,
    )
    assert code == 0 and json.loads(out) == everything

    unknown = tmp_path / "unknown.csv"
    unknown.write_text("user_id\n7\n12345\n")
    code, out, err = cli(["predict", str(run.path), "--data", str(unknown)], capsys)
    assert code != 0 and "12345" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(DataError, match="lists users only"):
        zoo.evaluate(run.path, users)
