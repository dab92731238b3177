"""Evaluation and prediction stream (issue 18, item 3).

Ranking metrics are computed a block of users at a time and equal the straightforward
users x items computation; ``zoo predict`` writes rows as batches finish, to a temporary
file renamed at the end, and an error mid-way leaves no file and keeps a previous one.
"""

from __future__ import annotations

import math

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
