"""Evaluation and prediction stream (issue 18, item 3).

Ranking metrics are computed a block of users at a time and equal the straightforward
users x items computation; ``zoo predict`` writes rows as batches finish, to a temporary
file renamed at the end, and an error mid-way leaves no file and keeps a previous one.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from zoo.tasks import ranking

# ------------------------------------------------------------------ blocked ranking metrics


def full_matrix_metrics(scores, targets, exclude, ks) -> dict[str, float]:
    """The definition, one user at a time against every item of the full matrix."""
    sums: dict[str, list[float]] = {
        f"{n}_at_{k}": [] for k in ks for n in ("recall", "hit_rate", "ndcg")
    }
    sums["mrr"] = []
    for row, target, seen in zip(scores, targets, exclude, strict=True):
        target = np.unique(np.asarray(target, dtype="int64"))
        if len(target) == 0:
            continue
        seen = np.setdiff1d(np.asarray(seen, dtype="int64"), target)
        row = np.where(np.isnan(row), -np.inf, row).astype("float64")
        valid = np.ones(len(row), dtype=bool)
        valid[seen] = False
        valid[target] = True
        candidates = row[valid]
        t = row[target]
        r = (candidates[None, :] > t[:, None]).sum(1) + 0.5 * (
            (candidates[None, :] == t[:, None]).sum(1) - 1
        )
        for k in ks:
            hits = r < k
            sums[f"recall_at_{k}"].append(hits.mean())
            sums[f"hit_rate_at_{k}"].append(float(hits.any()))
            ideal = (1.0 / np.log2(np.arange(min(k, len(target))) + 2)).sum()
            sums[f"ndcg_at_{k}"].append((1.0 / np.log2(r[hits] + 2)).sum() / ideal)
        sums["mrr"].append(1.0 / (r.min() + 1))
    n = len(sums["mrr"])
    return {key: math.fsum(values) / n for key, values in sums.items()} | {"users": n}


def random_problem(seed: int, num_users: int = 37, num_items: int = 23):
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(num_users), rng.integers(1, 12, num_users))
    items = rng.integers(0, num_items, len(users))
    split = ranking.leave_last_out(
        users, items, num_users, num_items, validation_split=0.2, test_split=0.3
    )
    # odd seeds: few distinct values, many ties among targets and with left-out items
    scores = rng.integers(0, 4, (num_users, num_items)).astype("float32")
    if seed % 2 == 0:
        scores = rng.random((num_users, num_items), dtype="float32")
    scores[rng.random(scores.shape) < 0.05] = np.nan
    scores[rng.random(scores.shape) < 0.05] = -np.inf
    return split, scores


@pytest.mark.parametrize("ks", [(1, 3, 5), (2,), (4, 30)])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_blocked_ranking_equals_the_full_matrix(seed: int, ks: tuple[int, ...]) -> None:
    split, scores = random_problem(seed)
    users = np.unique(split.positives("test")[0])
    held = ranking.Grouped.build(*split.positives("test"), split.num_users)
    seen = split.known("train", "validation")
    want = full_matrix_metrics(
        scores[users], [held[u] for u in users], [seen[u] for u in users], ks
    )
    calls: list[int] = []

    def score_fn(block: np.ndarray) -> np.ndarray:
        calls.append(len(block))
        return scores[block]

    for block in (1, 4, 7, len(users)):
        calls.clear()
        got = ranking.evaluate_scores(split, score_fn, ks=ks, block_users=block)
        assert got == want, block  # identical, not approximately
        assert max(calls) <= block and sum(calls) == len(users)
    direct = ranking.ranking_metrics(
        scores[users], [held[u] for u in users], [seen[u] for u in users], ks
    )
    assert direct == want


def test_the_default_block_bounds_memory_by_the_items() -> None:
    assert ranking.block_rows(50_000) * 50_000 * 4 <= 64 * 2**20
    assert ranking.block_rows(10**9) == 1


def test_random_and_popularity_baselines_do_not_depend_on_the_block() -> None:
    split, _ = random_problem(5, num_users=60, num_items=40)
    whole = ranking.evaluate_baselines(split, ks=(5,))
    small = ranking.BLOCK_BYTES
    try:
        ranking.BLOCK_BYTES = 3 * 40 * 4  # three users a block
        blocked = ranking.evaluate_baselines(split, ks=(5,))
    finally:
        ranking.BLOCK_BYTES = small
    assert blocked == whole


def test_top_items_equal_a_stable_full_sort() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, (50, 30)).astype("float64")
    scores[rng.random(scores.shape) < 0.3] = -np.inf
    scores[rng.random(scores.shape) < 0.05] = np.nan
    scores[3] = -np.inf  # nothing left
    for k in (1, 3, 10, 30, 40):
        got = ranking.top_items(scores, k)
        for row in range(len(scores)):
            best = np.argsort(-scores[row], kind="stable")[:k]
            want = [i for i in best if np.isfinite(scores[row, i])]
            assert got[row].tolist() == want, (k, row)


# ------------------------------------------------------------------- streaming predictions


class CountingModel:
    """A model stand-in that counts its batches: proves rows come before the last batch."""

    def __init__(self, fn) -> None:
        self.fn, self.calls = fn, 0

    def predict_on_batch(self, x):
        self.calls += 1
        return self.fn(x)


def test_task_predict_yields_rows_as_batches_finish() -> None:
    from zoo.data.dataset import Dataset
    from zoo.tasks.base import Task

    model = CountingModel(lambda x: np.asarray(x).sum(axis=1, keepdims=True))
    data = Dataset(x=np.arange(40, dtype="float32").reshape(20, 2))
    rows = Task().predict(model, data, {}, {}, batch_size=4, top_k=1)
    first = next(rows)
    assert first == {"index": 0, "value": 1.0}
    assert model.calls == 1  # four more batches to go
    assert len(list(rows)) == 19 and model.calls == 5


def test_recommender_predict_yields_users_a_block_at_a_time() -> None:
    from zoo.data.dataset import Dataset
    from zoo.tasks.retrieval import RetrievalTask

    num_users, num_items = 30, 12

    def scores(batch):  # user u prefers items u, u+1, ... (mod num_items)
        return -((batch["item_id"] - batch["user_id"]) % num_items).astype("float32")

    model = CountingModel(scores)
    users = Dataset(x={"user_id": np.arange(num_users)[::-1].copy()})
    config = {"num_users": num_users, "num_items": num_items}
    rows = RetrievalTask().predict(
        model, users, config, {}, batch_size=4, top_k=3, options={"include_seen": True}
    )
    first = next(rows)
    assert first == {"user_id": 29, "items": [5, 6, 7], "scores": [0.0, -1.0, -2.0]}
    assert model.calls == 1
    rest = list(rows)
    assert len(rest) == num_users - 1 and model.calls == 8  # ceil(30 / 4) blocks
    assert [row["user_id"] for row in rest][:3] == [28, 27, 26]


@pytest.fixture
def features(tmp_path: Path) -> Path:
    """200 examples of the fresh ``mlp`` model's 100 features."""
    path = tmp_path / "features.npy"
    np.save(path, np.random.default_rng(0).normal(size=(200, 100)).astype("float32"))
    return path


def folder_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_predict_writes_its_file_as_rows_come(tmp_path: Path, features: Path, suffix: str) -> None:
    import zoo

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / f"predictions{suffix}"
    target.write_text("the previous predictions\n")
    rows = zoo.predict("mlp", features, output=target, batch_size=8, stream=True)
    assert not isinstance(rows, list)
    head = [next(rows) for _ in range(180)]  # 20 KB or more: past the write buffer
    assert head[0]["index"] == 0
    staged = [name for name in folder_files(out_dir) if name != target.name]
    assert len(staged) == 1 and staged[0].startswith(f".{target.name}.")
    assert (out_dir / staged[0]).stat().st_size > 0  # rows are in the file already
    assert target.read_text() == "the previous predictions\n"  # until the last row
    rest = list(rows)
    assert folder_files(out_dir) == [target.name]
    everything = [*head, *rest]
    assert len(everything) == 200
    if suffix == ".json":
        assert target.read_text() == json.dumps(everything, indent=2) + "\n"
    else:
        with open(target, newline="") as handle:
            lines = list(csv.DictReader(handle))
        assert [int(line["index"]) for line in lines] == list(range(200))
        assert json.loads(lines[7]["top"]) == everything[7]["top"]
    # the list form (a fresh model: other random weights) writes its file the same way
    listed = zoo.predict("mlp", features, output=target, batch_size=8)
    assert isinstance(listed, list) and [row["index"] for row in listed] == list(range(200))
    if suffix == ".json":
        assert json.loads(target.read_text()) == listed


def test_a_stream_closed_early_writes_nothing(tmp_path: Path, features: Path) -> None:
    import zoo

    target = tmp_path / "predictions.json"
    target.write_text("[]\n")
    rows = zoo.predict("mlp", features, output=target, batch_size=8, stream=True)
    next(rows)
    rows.close()
    assert folder_files(tmp_path) == ["features.npy", "predictions.json"]
    assert target.read_text() == "[]\n"


def test_an_error_mid_prediction_leaves_no_file_and_keeps_the_previous_one(
    tmp_path: Path,
) -> None:
    from zoo.training.evaluation import write_predictions

    def failing():
        for index in range(10):
            if index == 6:
                raise RuntimeError("batch 3 failed")
            yield {"index": index, "value": float(index)}

    for name in ("new.csv", "old.json"):
        target = tmp_path / name
        if name == "old.json":
            target.write_text("previous\n")
        with pytest.raises(RuntimeError, match="batch 3 failed"):
            write_predictions(failing(), target)
    assert folder_files(tmp_path) == ["old.json"]
    assert (tmp_path / "old.json").read_text() == "previous\n"


def test_row_formats_write_what_the_whole_list_would() -> None:
    from zoo.training.evaluation import RowFormat

    rows = [
        {"index": 0, "label": "cat", "top": [{"label": "cat", "probability": 0.9}]},
        {"index": 1, "label": "dog", "top": []},
    ]
    for given in (rows, []):
        parts: list[str] = []
        out = RowFormat("json", parts.append)
        for row in given:
            out.row(row)
        out.end()
        assert "".join(parts) == json.dumps(given, indent=2) + "\n"
    parts = []
    out = RowFormat("csv", parts.append)
    for row in rows:
        out.row(row)
    out.end()
    assert "".join(parts).splitlines()[:2] == [
        "index,label,top",
        '0,cat,"[{""label"": ""cat"", ""probability"": 0.9}]"',
    ]


def test_zoo_predict_cli_streams_json_and_counts_rows_written(
    tmp_path: Path, features: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from zoo.cli.main import main

    def run(*args: str) -> str:
        try:
            main(["predict", "mlp", "--data", str(features), *args])
        except SystemExit as exit_info:
            assert not exit_info.code
        return capsys.readouterr().out

    printed = json.loads(run("--json"))
    assert [row["index"] for row in printed] == list(range(200))
    assert (
        run("--output", str(tmp_path / "p.csv"))
        == f"wrote 200 predictions to {tmp_path / 'p.csv'}\n"
    )
    lines = run().splitlines()
    assert len(lines) == 51 and lines[0].startswith("1: ")  # keyed by row number
    assert lines[-1] == "... 150 more (use --output FILE)"


def test_seen_items_read_from_the_sorted_keys_equal_the_known_items() -> None:
    """Ranking leaves out what each user saw before, looked up in the samplers' sorted
    keys instead of a new per-user index: the same items as ``known``."""
    rng = np.random.default_rng(4)
    users = rng.integers(0, 30, 600)
    items = rng.integers(0, 20, 600)  # repeats: an item seen in train and again in test
    split = ranking.leave_last_out(users, items, 30, 20)
    for which, before in (("test", ("train", "validation")), ("validation", ("train",))):
        seen, known = split.seen_before(which), split.known(*before)
        for user in range(30):
            assert set(seen[user].tolist()) == set(known[user].tolist())
