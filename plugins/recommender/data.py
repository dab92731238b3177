"""Data for the ``recommender`` plugin: implicit feedback as (user_id, item_id) pairs.

Default: generated interactions with a latent structure. Users and items get random
4-dimensional taste vectors and items a popularity bias; each user picks 15-40 distinct
items with probability proportional to ``exp(taste match + popularity)``. A model that
learns the tastes beats the popularity baseline, which beats random; ``true_scores`` gives
the generator's own logits, the best ranking there is. Same data on every call (fixed
seed).

User data: ratings in MovieLens layout (``ratings.csv`` with userId,movieId,rating,timestamp;
``u.data``; ``ratings.dat``; or a folder holding one of them). Every rated pair counts as an
observed interaction; pairs are ordered by timestamp, so a per-user leave-last-out split
holds out each user's latest items. Raw ids are mapped to ``0..n-1`` and the maps are saved
in the run's data state. The file is read in record batches into int32 id codes
(``readers.read_interactions``), so 10M ratings fit in well under 1 GB.

For prediction with a run trained on ratings, a users-only file (one ``userId`` or
``user_id`` column) lists the users to recommend for; a user the run never saw is an error.

``Dataset.x`` is ``{"user_id": int32[n], "item_id": int32[n]}`` (a users-only file:
``{"user_id": int32[n]}``); ``y`` is ``None``; the keys are the raw user ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.plugin import Config, DataError, Dataset, readers

SEED = 20240505
FACTORS = 4
TASTE = 2.5  # weight of the taste match against the popularity bias
PER_USER = (15, 40)
MAX_GENERATED_PAIRS = 50_000_000


def load(config: Config, path: Path | None, state: dict[str, Any] | None) -> Dataset:
    if path is None:
        return interactions(config)
    return ratings(config, readers.check_path(path), state)


def _latent(users: int, items: int) -> tuple[np.random.Generator, Any, Any, Any]:
    rng = np.random.default_rng(SEED)
    user_taste = rng.normal(size=(users, FACTORS)) / np.sqrt(FACTORS)
    item_taste = rng.normal(size=(items, FACTORS))
    popularity = rng.normal(0.0, 1.0, items)
    return rng, user_taste, item_taste, popularity


def true_scores(config: Config, users: Any = None) -> np.ndarray:
    """The generator's logits of every item for ``users`` (default all): an oracle ranker."""
    _, user_taste, item_taste, popularity = _latent(config.num_users, config.num_items)
    chosen = user_taste if users is None else user_taste[np.asarray(users)]
    return (TASTE * chosen @ item_taste.T + popularity).astype("float32")


def interactions(config: Config) -> Dataset:
    users, items = config.num_users, config.num_items
    if users * min(PER_USER[1], items - 1) > MAX_GENERATED_PAIRS or items > 2_000_000:
        raise DataError(
            f"generated data for {users} users x {items} items would be too large",
            "train on your own ratings with --data, or lower num_users/num_items",
        )
    rng, user_taste, item_taste, popularity = _latent(users, items)
    counts = np.minimum(rng.integers(PER_USER[0], PER_USER[1] + 1, users), items - 1)
    chunk = max(1, 4_000_000 // items)
    user_ids, item_ids = [], []
    for start in range(0, users, chunk):
        stop = min(users, start + chunk)
        logits = TASTE * user_taste[start:stop] @ item_taste.T + popularity
        # Gumbel top-k: the k largest perturbed logits are a draw of k distinct items
        # without replacement with probabilities proportional to exp(logit).
        perturbed = logits + rng.gumbel(size=logits.shape)
        kmax = int(counts[start:stop].max())
        top = np.argpartition(-perturbed, kmax - 1, axis=1)[:, :kmax]  # kmax < items
        for row, user in enumerate(range(start, stop)):
            best = top[row][np.argsort(-perturbed[row, top[row]])][: counts[user]]
            rng.shuffle(best)  # interaction order carries no preference
            user_ids.append(np.full(len(best), user, dtype="int32"))
            item_ids.append(best.astype("int32"))
    x = {"user_id": np.concatenate(user_ids), "item_id": np.concatenate(item_ids)}
    return Dataset(
        x=x,
        y=None,
        name="latent-feedback",
        description=(
            f"generated: {len(x['user_id'])} interactions of {users} users with {items} items, "
            f"drawn from {FACTORS}-d latent tastes and item popularity"
        ),
        implied={"num_users": users, "num_items": items},
        state={"source": "generated"},
    )


def ratings(config: Config, path: Path, state: dict[str, Any] | None) -> Dataset:
    trained = state is not None and "users" in state
    if state is not None and not trained:
        raise DataError(
            f"{path}: the model was trained on generated data, so its ids do not map to this file",
            "train a run on your ratings, then evaluate or predict with it",
        )
    users_only = readers.read_users(path)
    if users_only is not None:
        return users(path, users_only, state)
    found = readers.read_interactions(path)  # int32 id codes, no Python object per row
    order = np.argsort(found.times, kind="stable")
    scores = found.ratings[order]
    known_users = state["users"] if trained else None
    known_items = state["items"] if trained else None
    user_ids, user_list = readers.index_codes(
        found.users[order], found.user_ids, known_users, "user", str(path)
    )
    item_ids, item_list = readers.index_codes(
        found.items[order], found.item_ids, known_items, "item", str(path)
    )
    del found, order
    # a pair rated twice counts once, at its latest time
    pair = user_ids.astype("int64") * len(item_list) + item_ids
    _, last = np.unique(pair[::-1], return_index=True)
    keep = np.sort(len(pair) - 1 - last)
    user_ids, item_ids = user_ids[keep], item_ids[keep]
    implied: dict[str, Any] = {}
    if not trained:
        for key, size in (("num_users", len(user_list)), ("num_items", len(item_list))):
            if not readers.user_set(config, key):
                implied[key] = size
            elif config[key] < size:
                raise DataError(
                    f"{path}: the ratings have {size} distinct {key[4:]} but {key}={config[key]}",
                    f"drop --set {key}; the data sets it",
                )
        if len(item_list) < 2:
            raise DataError(f"{path}: only one item was rated", "a recommender needs 2+ items")
    description = (
        f"{len(user_ids)} interactions of {len(user_list)} users with {len(item_list)} items "
        f"from {path}, ordered by time"
    )
    if scores.any():
        description += f"; every rating counts (mean {scores[keep].mean():.2f})"
    return Dataset(
        x={"user_id": user_ids, "item_id": item_ids},
        y=None,
        name=path.stem if path.is_file() else path.name,
        description=description,
        implied=implied,  # a trained run keeps its config; a larger id range set by hand too
        state=state if trained else {"users": user_list, "items": item_list, "source": "ratings"},
        keys=np.asarray(user_list, dtype=object)[user_ids].tolist(),  # shared strings
        key_name="user_id",
    )


def users(path: Path, raw_users: list[str], state: dict[str, Any] | None) -> Dataset:
    """The users of a users-only file, to recommend items for (prediction only)."""
    if state is None:
        raise DataError(
            f"{path} lists users only; training and evaluation need their ratings",
            "give userId,movieId[,rating[,timestamp]] rows; predict with a users-only file "
            "and a run trained on ratings",
        )
    user_ids, _ = readers.index_ids(raw_users, state["users"], "user", str(path))
    return Dataset(
        x={"user_id": user_ids},
        y=None,
        name=path.stem,
        description=f"{len(user_ids)} users from {path}, to recommend items for",
        state=state,
        keys=list(raw_users),
        key_name="user_id",
    )
