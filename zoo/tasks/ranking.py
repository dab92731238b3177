"""Retrieval helpers: per-user splits, negative sampling, ranking metrics and baselines.

A retrieval dataset is a list of observed (user_id, item_id) pairs, in time order within
each user. Evaluation holds out each user's latest interactions, scores every item for
the user, removes the items the model already saw as positives from the ranking, and asks
where the held-out items land:

- ``recall_at_k``: share of a user's held-out items ranked in the top k;
- ``hit_rate_at_k``: share of users with at least one held-out item in the top k;
- ``ndcg_at_k``: discounted gain of the held-out items in the top k, 1.0 when they fill its
  first places;
- ``mrr``: mean of 1 / (rank of the best-placed held-out item).

Ties count half: an item's rank is the number of candidates scored above it plus half of
those scored the same, so a model that scores everything alike ranks like random rather than
like an oracle. Each value is averaged over the users that have held-out items.

Baselines: ``popularity`` (score = number of training interactions of the item) and
``random`` (seeded uniform scores), evaluated with the same code, so a trained model's
numbers have something to beat. Imports no TensorFlow; :mod:`zoo.tasks.towers` calls the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.data.sources import Source
from zoo.errors import DataError
from zoo.tasks.towers import score_pairs as score_users  # noqa: F401  (its old home)
from zoo.tasks.towers import scorer

# ------------------------------------------------------------------------------ grouping


@dataclass
class Grouped:
    """Items of each user, in their original order: ``items[indptr[u]:indptr[u + 1]]``."""

    indptr: np.ndarray
    items: np.ndarray

    @classmethod
    def build(cls, users: np.ndarray, items: np.ndarray, num_users: int) -> Grouped:
        order = np.argsort(users, kind="stable")
        counts = np.bincount(users, minlength=num_users)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype("int64")
        return cls(indptr, np.asarray(items)[order])

    def __getitem__(self, user: int) -> np.ndarray:
        return self.items[self.indptr[user] : self.indptr[user + 1]]

    def counts(self) -> np.ndarray:
        return np.diff(self.indptr)


def _check_pairs(
    users: Any, items: Any, num_users: int, num_items: int
) -> tuple[np.ndarray, np.ndarray]:
    users = np.asarray(users).astype("int64").reshape(-1)
    items = np.asarray(items).astype("int64").reshape(-1)
    if len(users) != len(items):
        raise DataError(
            f"{len(users)} user ids but {len(items)} item ids", "give one user per item"
        )
    if len(users) == 0:
        raise DataError("no interactions", "give at least one (user_id, item_id) pair")
    for name, ids, size in (("user_id", users, num_users), ("item_id", items, num_items)):
        if ids.min() < 0 or ids.max() >= size:
            bad = int(ids.max() if ids.max() >= size else ids.min())
            key = "num_users" if name == "user_id" else "num_items"
            raise DataError(
                f"{name} {bad} is outside 0..{size - 1}",
                f"set {key} to at least {int(ids.max()) + 1}",
            )
    return users, items


# -------------------------------------------------------------------------------- splits


@dataclass
class SeenItems:
    """``seen[user]``: the user's items whose key first occurs at a stage <= ``limit``
    (0 train, 1 validation, 2 test), read from the sorted ``user * num_items + item`` keys."""

    keys: np.ndarray
    stages: np.ndarray
    num_items: int
    limit: int

    def __getitem__(self, user: int) -> np.ndarray:
        base = int(user) * self.num_items
        lo, hi = np.searchsorted(self.keys, (base, base + self.num_items))
        keep = self.stages[lo:hi] <= self.limit
        return self.keys[lo:hi][keep] - base


@dataclass
class RetrievalSplit:
    """Observed pairs split per user into train, validation and test positives.

    ``indices`` maps each split name to the positions of its pairs in the input arrays.
    """

    num_users: int
    num_items: int
    users: np.ndarray
    items: np.ndarray
    indices: dict[str, np.ndarray]

    def positives(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        idx = self.indices[name]
        return self.users[idx], self.items[idx]

    def keys_by_stage(self) -> tuple[np.ndarray, np.ndarray]:
        """Every observed ``user * num_items + item`` key once, sorted, with the first split
        it occurs in (0 train, 1 validation, 2 test): one array serves every split's
        negatives (computed once, cached)."""
        cached = getattr(self, "_keys_by_stage", None)
        if cached is None:
            stage = np.empty(len(self.users), dtype=np.int8)
            for number, name in enumerate(("train", "validation", "test")):
                stage[self.indices[name]] = number
            keys = self.users.astype(np.int64) * self.num_items + self.items
            order = np.lexsort((stage, keys))
            keys, stage = keys[order], stage[order]
            del order
            first = np.ones(len(keys), dtype=bool)
            first[1:] = keys[1:] != keys[:-1]  # the lowest stage of a repeated key
            cached = (keys[first], stage[first])
            self._keys_by_stage = cached
        return cached

    def seen_before(self, which: str) -> SeenItems:
        """Items each user has in the splits before ``which`` (what ranking ``which`` leaves
        out), looked up in :meth:`keys_by_stage`: the arrays the samplers already share,
        not a new per-user index (10M ratings: ~150 MB less at the end of training)."""
        keys, stages = self.keys_by_stage()
        return SeenItems(keys, stages, self.num_items, len(_seen_splits(which)) - 1)

    def known(self, *names: str) -> Grouped:
        """Items each user has in the named splits (what a ranking must leave out)."""
        chosen = np.zeros(len(self.users), dtype=bool)  # 1 byte a pair, not a sorted index
        for name in names:
            chosen[self.indices[name]] = True
        return Grouped.build(self.users[chosen], self.items[chosen], self.num_users)

    def pairs(
        self, name: str, num_negatives: int, seed: int, *, streamed: bool = False
    ) -> tuple[dict[str, Any], Any]:
        """Positives of split ``name`` plus ``num_negatives`` sampled negatives per positive.

        Negatives for training avoid the user's training positives; for validation and test
        they also avoid the positives of the splits before them, never the split's own.
        ``streamed``: the pairs are made by tf.data as they are read
        (:class:`SampledPairs`), so memory holds the positives, not ``1 + num_negatives``
        pairs for each.
        """
        users, items = self.positives(name)
        avoid = {"train": ("train",), "validation": ("train", "validation")}.get(
            name, ("train", "validation", "test")
        )
        if streamed:
            keys, stages = self.keys_by_stage()
            sampler = SampledPairs(
                users,
                items,
                keys,
                self.num_items,
                num_negatives,
                seed,
                stages=stages,
                limit=len(avoid) - 1,
                shared=self.__dict__.setdefault("_shared_tensors", {}),
            )
            return {"user_id": sampler.column("user"), "item_id": sampler.column("item")}, (
                sampler.column("label")
            )
        idx = np.concatenate([self.indices[n] for n in avoid])
        return training_pairs(
            users,
            items,
            self.num_items,
            num_negatives,
            seed,
            avoid=(self.users[idx], self.items[idx]),
        )


def leave_last_out(
    user_ids: Any,
    item_ids: Any,
    num_users: int,
    num_items: int,
    *,
    validation_split: float = 0.1,
    test_split: float = 0.2,
) -> RetrievalSplit:
    """Hold out each user's latest interactions: the last ``test_split`` share for the test,
    the ``validation_split`` share before them for validation (at least one each when the
    share is above 0), always leaving one or more in training. Users with a single
    interaction stay wholly in training.
    """
    users, items = _check_pairs(user_ids, item_ids, num_users, num_items)
    order = np.argsort(users, kind="stable")
    counts = np.bincount(users, minlength=num_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.empty(len(users), dtype="int64")
    position[order] = np.arange(len(users)) - np.repeat(starts, counts)
    from_end = counts[users] - 1 - position  # 0 = the user's latest interaction

    def share(fraction: float, available: np.ndarray) -> np.ndarray:
        if fraction <= 0:
            return np.zeros_like(available)
        return np.clip(np.maximum(1, np.floor(counts * fraction)), 0, available).astype("int64")

    n_test = share(test_split, np.maximum(counts - 1, 0))
    n_val = share(validation_split, np.maximum(counts - 1 - n_test, 0))
    test = from_end < n_test[users]
    validation = ~test & (from_end < (n_test + n_val)[users])
    train = ~test & ~validation
    indices = {
        "train": np.flatnonzero(train),
        "validation": np.flatnonzero(validation),
        "test": np.flatnonzero(test),
    }
    return RetrievalSplit(num_users, num_items, users, items, indices)


# ------------------------------------------------------------------------------ negatives


def _keys(users: np.ndarray, items: np.ndarray, num_items: int) -> np.ndarray:
    return np.unique(users.astype("int64") * num_items + items.astype("int64"))


def _is_known(keys: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``np.isin(keys, known)`` for a sorted ``known``, without sorting ``keys``."""
    if not len(known):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(known, keys), len(known) - 1)
    return known[at] == keys


def training_pairs(
    users: Any,
    items: Any,
    num_items: int,
    num_negatives: int,
    seed: int,
    *,
    avoid: tuple[Any, Any] | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Observed pairs (label 1) and ``num_negatives`` random unobserved items per pair
    (label 0), shuffled: the inputs and float32 targets of a binary cross-entropy fit.

    A negative never hits a pair in ``avoid`` (default: the given positives); it is redrawn
    up to 20 times, and dropped if it still does (a user who has seen nearly every item).
    """
    users = np.asarray(users).astype("int64").reshape(-1)
    items = np.asarray(items).astype("int64").reshape(-1)
    rng = np.random.default_rng(seed)
    known = _keys(*(avoid if avoid is not None else (users, items)), num_items)  # sorted
    neg_users = np.repeat(users, num_negatives)
    neg_items = rng.integers(0, num_items, len(neg_users))
    # redraw the clashing negatives, checking only those again (sorted lookups: no
    # temporary the size of both arrays, as np.isin makes)
    clash = np.flatnonzero(_is_known(neg_users * num_items + neg_items, known))
    for _ in range(20):
        if not len(clash):
            break
        neg_items[clash] = rng.integers(0, num_items, len(clash))
        clash = clash[_is_known(neg_users[clash] * num_items + neg_items[clash], known)]
    keep = np.ones(len(neg_users), dtype=bool)
    keep[clash] = False
    all_users = np.concatenate([users, neg_users[keep]])
    all_items = np.concatenate([items, neg_items[keep]])
    labels = np.concatenate([np.ones(len(users)), np.zeros(int(keep.sum()))]).astype("float32")
    shuffle = rng.permutation(len(labels))
    x = {
        "user_id": all_users[shuffle].astype("int32"),
        "item_id": all_items[shuffle].astype("int32"),
    }
    return x, labels[shuffle]


class SampledPairs:
    """Each positive ``(user, item)`` with ``num_negatives`` items sampled for its user,
    made by TensorFlow when a batch is read: memory holds the positives and the sorted
    keys to avoid, never the pairs.

    A positive's negatives are a pure function of ``(seed, position)``
    (:func:`uniform_ints`), so every epoch, every worker and a resumed run see the same
    pairs, however the positives are batched. A negative that hits a key to avoid is drawn
    again, up to 3 times; one that still does is an observed interaction and is labelled 1.
    """

    RETRIES = 3

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        avoid_keys: np.ndarray,
        num_items: int,
        num_negatives: int,
        seed: int,
        *,
        stages: np.ndarray | None = None,
        limit: int = 0,
        shared: dict[str, Any] | None = None,
    ) -> None:
        self.users = np.asarray(users, dtype=np.int32)
        self.items = np.asarray(items, dtype=np.int32)
        self.avoid = np.asarray(avoid_keys, dtype=np.int64)  # sorted (np.unique)
        # a key is avoided when its stage is <= limit (no stages: every key)
        self.stages = np.zeros(len(self.avoid), np.int8) if stages is None else stages
        self.limit = limit
        self.num_items, self.num_negatives, self.seed = num_items, num_negatives, seed
        self._tensors: tuple[Any, ...] | None = None
        self._shared = {} if shared is None else shared  # the avoid keys' variables
        self.count = len(self.users)

    def column(self, which: str) -> PairColumn:
        return PairColumn(self, which, None)

    def tensors(self) -> tuple[Any, ...]:
        import tensorflow as tf

        if self._tensors is None:
            # Created once, eagerly (not as constants of each traced graph); the avoid keys
            # are shared by the samplers of one split (``shared``).
            with tf.init_scope():
                empty = not len(self.avoid)
                key = (id(self.avoid), id(self.stages))
                if key not in self._shared:
                    self._shared[key] = (
                        tf.constant(np.array([-1], np.int64) if empty else self.avoid),
                        tf.constant(np.array([0], np.int8) if empty else self.stages),
                    )
                self._tensors = (
                    tf.constant(self.users),
                    tf.constant(self.items),
                    *self._shared[key],
                )
        return self._tensors

    def group(self, position: Any) -> tuple[Any, Any, Any]:
        """The ``1 + num_negatives`` (users, items, labels) of the positive at ``position``
        (a scalar), or of each of a vector of positions (then shaped ``(positions, 1 + k)``)."""
        import tensorflow as tf

        users, items, avoid, stages = self.tensors()
        scalar = position.shape.rank == 0
        position = tf.reshape(tf.cast(position, tf.int64), [-1])
        user = tf.gather(users, position)
        item = tf.gather(items, position)
        user64 = tf.cast(user, tf.int64)[:, None]
        k = self.num_negatives
        slot = tf.range(k, dtype=tf.int64)[None, :]

        def draw(attempt: int) -> Any:  # (positions, k) items: a function of the counter
            counter = (position[:, None] * (self.RETRIES + 1) + attempt) * k + slot
            return uniform_ints(counter, self.seed, self.num_items)

        def seen(negatives: Any) -> Any:
            keys = tf.reshape(user64 * self.num_items + negatives, [-1])
            at = tf.minimum(
                tf.searchsorted(avoid, keys, out_type=tf.int64), tf.size(avoid, tf.int64) - 1
            )
            found = tf.equal(tf.gather(avoid, at), keys) & (tf.gather(stages, at) <= self.limit)
            return tf.reshape(found, tf.shape(negatives))

        negatives = draw(0)
        for attempt in range(1, self.RETRIES + 1):
            negatives = tf.where(seen(negatives), draw(attempt), negatives)
        ones = tf.ones_like(user64, tf.float32)
        labels = tf.concat([ones, tf.cast(seen(negatives), tf.float32)], axis=1)
        group_items = tf.concat([item[:, None], tf.cast(negatives, tf.int32)], axis=1)
        group_users = tf.tile(user[:, None], [1, k + 1])
        found = (group_users, group_items, labels)
        return tuple(t[0] for t in found) if scalar else found


def uniform_ints(counter: Any, seed: int, n: int) -> Any:
    """Integers in ``[0, n)``, each a pure function of ``(seed, counter)`` (int64 tensor
    of any shape): SplitMix64 of the ``counter``-th step from ``seed`` (Steele et al.,
    2014), reduced modulo ``n`` (a bias below ``n / 2**64``). Unlike a stateless random
    op, which draws one tensor per seed, this draws any number of counters in one call,
    so a whole batch of positives gets its negatives at once."""
    import tensorflow as tf

    mask = 2**64 - 1
    gamma = 0x9E3779B97F4A7C15

    def const(value: int) -> Any:
        return tf.constant(value & mask, tf.uint64)

    def mix(z: Any, shift: int) -> Any:
        return tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, const(shift)))

    # the seed picks where in SplitMix64's sequence counter 0 is, at a mixed (far-apart)
    # offset: neighbouring seeds must not give shifted copies of one sequence
    offset = (seed * gamma + 1) & mask
    for shift, factor in ((30, 0xBF58476D1CE4E5B9), (27, 0x94D049BB133111EB), (31, 1)):
        offset = ((offset ^ (offset >> shift)) * factor) & mask
    z = tf.bitcast(counter, tf.uint64) * const(gamma) + const(offset)
    z = mix(mix(mix(z, 30) * const(0xBF58476D1CE4E5B9), 27) * const(0x94D049BB133111EB), 31)
    return tf.cast(z % const(n), tf.int64)


class PairColumn(Source):
    """One column (``user``, ``item`` or ``label``) of :class:`SampledPairs`: each index
    entry, a positive's position, reads its group of ``1 + num_negatives`` pairs."""

    kind = "pair"
    vectorized = True  # a vector of positions reads their groups at once

    def __init__(self, sampler: SampledPairs, which: str, positions: np.ndarray | None) -> None:
        self.sampler, self.which, self.positions = sampler, which, positions
        self.group = 1 + sampler.num_negatives
        # None: every positive in order, an entry's position is its index (nothing to
        # gather, and no index array held: 54 MB for 6.7M positives)
        self.positional = positions is None
        self.dtype = np.dtype("float32" if which == "label" else "int32")

    def index(self) -> np.ndarray:
        if self.positions is None:
            return np.arange(self.sampler.count, dtype=np.int64)
        return self.positions

    def __len__(self) -> int:
        count = self.sampler.count if self.positions is None else len(self.positions)
        return count * self.group

    @property
    def example_shape(self) -> tuple[int, ...]:
        return ()

    def with_index(self, index: np.ndarray) -> PairColumn:
        return PairColumn(self.sampler, self.which, index)

    def read(self, entry: Any) -> Any:
        users, items, labels = self.sampler.group(entry)
        return {"user": users, "item": items, "label": labels}[self.which]


# -------------------------------------------------------------------------------- scoring

# Users are scored and ranked a block at a time: a block's scores (block x num_items
# float32) take at most this many bytes, so memory is bounded by the block, never by
# users x items. Ranking a block makes about five temporaries of its size (a copy with the
# seen items masked, the partition, comparisons): 8 MB blocks peak ~50 MB above the
# scores' owner (64 MB blocks: +360 MB at 100k users x 50k items).
BLOCK_BYTES = 8 * 2**20


def block_rows(num_items: int, budget: int | None = None) -> int:
    """Users per block so that their float32 scores of every item fit in ``budget`` bytes
    (default :data:`BLOCK_BYTES`)."""
    budget = BLOCK_BYTES if budget is None else budget
    return max(1, budget // (4 * max(int(num_items), 1)))


def top_items(scores: np.ndarray, k: int) -> list[np.ndarray]:
    """The ``k`` best-scored items of each row, best first, ties by lower item id, without
    the non-finite ones (a user whose items are mostly excluded with ``-inf`` gets fewer).

    The same items, in the same order, as the first ``k`` of a stable ``argsort(-scores)``
    with the non-finite ones then dropped, but in O(items) a row instead of a full sort.
    """
    key = -np.asarray(scores)
    if key.ndim != 2:
        raise ValueError(f"scores must be (users, items), got shape {key.shape}")
    num_items = key.shape[1]
    out = []
    if k < num_items:
        kth = np.partition(key, k - 1, axis=1)[:, k - 1]  # NaN sorts last, as in argsort
    for row in range(key.shape[0]):
        values = key[row]
        if k >= num_items:
            chosen = np.arange(num_items)
        elif np.isnan(kth[row]):
            chosen = np.arange(num_items)  # fewer than k numbers: everything ties
        else:
            chosen = np.flatnonzero(values <= kth[row])  # the first k and all tied with them
        best = chosen[np.argsort(values[chosen], kind="stable")[:k]]
        out.append(best[np.isfinite(values[best])])
    return out


# -------------------------------------------------------------------------------- metrics


def ranks(scores: np.ndarray, targets: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """0-based rank of each target among the candidates (every item not in ``exclude``).

    An item's rank counts the other candidates scored higher, plus half of those tied.
    This is the definition; :class:`RankingAccumulator` computes the same ranks for a
    block of users at once without comparing every target with every item.
    """
    scores = np.where(np.isnan(scores), -np.inf, scores).astype("float64")
    valid = np.ones(len(scores), dtype=bool)
    valid[exclude] = False
    valid[targets] = True
    candidates = scores[valid]
    target_scores = scores[targets]
    above = (candidates[None, :] > target_scores[:, None]).sum(axis=1)
    tied = (candidates[None, :] == target_scores[:, None]).sum(axis=1) - 1  # minus itself
    return above + 0.5 * tied


def _metric_names(ks: Sequence[int]) -> list[str]:
    return [f"{name}_at_{k}" for k in ks for name in ("recall", "hit_rate", "ndcg")] + ["mrr"]


class RankingAccumulator:
    """Ranking metrics accumulated a block of users at a time.

    :meth:`add` takes the scores of a block of users (``(block, num_items)``), their
    held-out items and the items to leave out of their ranking, and keeps one value per
    user and metric (O(users) memory); :meth:`result` averages them with ``math.fsum``, so
    the result does not depend on the block size.

    Exact, with fewer comparisons than ranking every target against every item: the
    best-scored target has the best rank (the MRR), counted against the whole row for
    every user; a target can be in the top k only if fewer than k candidates score above
    it, i.e. if it scores at least the k-th best candidate score, and the candidates above
    such a target are among the ``max(ks)`` best (``np.partition``), so only those are
    compared with it (ties with the k-th best score itself are counted on the whole row).
    Users whose best target ranks below ``max(ks)`` need nothing more.
    """

    def __init__(self, ks: Sequence[int] = (10,)) -> None:
        self.ks = tuple(int(k) for k in ks)
        if not self.ks or min(self.ks) < 1:
            raise ValueError(f"ks must be positive cut-offs, got {ks!r}")
        self.values: dict[str, list[np.ndarray]] = {name: [] for name in _metric_names(ks)}
        self.users = 0

    def add(
        self, scores: Any, targets: Sequence[np.ndarray], exclude: Sequence[np.ndarray]
    ) -> None:
        scores = np.array(scores, dtype="float32")  # a copy: excluded items become NaN
        if scores.ndim != 2 or len(scores) != len(targets) or len(targets) != len(exclude):
            raise DataError(
                f"scores of shape {scores.shape} for {len(targets)} users",
                "a scoring function returns one row of item scores per user",
            )
        num_items = scores.shape[1]
        np.fmax(scores, -np.inf, out=scores)  # a NaN score ranks last (as -inf)
        rows, items = [], []
        for row, (target, seen) in enumerate(zip(targets, exclude, strict=True)):
            target = np.unique(np.asarray(target, dtype="int64"))
            if len(target) == 0:
                continue
            seen = np.setdiff1d(np.asarray(seen, dtype="int64"), target)
            scores[row, seen] = np.nan  # not a candidate: compares False with everything
            rows.append(np.full(len(target), row))
            items.append(target)
        if not rows:
            return
        t_rows = np.concatenate(rows)
        t_items = np.concatenate(items)
        users = np.unique(t_rows)  # rows with targets, ascending
        t_user = np.searchsorted(users, t_rows)  # position of each target's user
        t_scores = scores[t_rows, t_items]
        counts = np.bincount(t_user, minlength=len(users))

        # the best target of each user has the user's best rank
        best = np.full(len(users), -np.inf, dtype="float32")
        np.maximum.at(best, t_user, t_scores)
        sub = scores if len(users) == len(scores) else scores[users]
        above_best = np.count_nonzero(sub > best[:, None], axis=1)
        tied_best = np.count_nonzero(sub == best[:, None], axis=1) - 1
        best_rank = above_best + 0.5 * tied_best

        # exact ranks of the targets that can be in the top max(ks); the rest are not
        kmax = max(self.ks)
        t_rank = np.full(len(t_rows), np.inf)
        is_best = t_scores == best[t_user]
        t_rank[is_best] = best_rank[t_user[is_best]]
        open_users = np.flatnonzero((above_best < kmax) & (counts > 1))
        if len(open_users):
            open_rows = sub if len(open_users) == len(sub) else sub[open_users]
            if kmax < num_items:
                neg = np.negative(open_rows)
                neg.partition(kmax - 1, axis=1)  # NaN (left out) sorts last
                top = np.negative(neg[:, :kmax])  # each user's kmax best scores, unordered
                del neg
                kth = top[:, kmax - 1]
                kth = np.where(np.isnan(kth), -np.inf, kth)  # fewer than kmax candidates
            else:
                top = open_rows
                kth = np.full(len(open_users), -np.inf, dtype="float32")
            # candidates tied with the k-th best score may lie outside ``top``: count them
            at_kth = np.count_nonzero(open_rows == kth[:, None], axis=1)
            del open_rows
            where = np.full(len(users), -1)
            where[open_users] = np.arange(len(open_users))
            t_open = where[t_user]
            todo = np.flatnonzero((t_open >= 0) & ~is_best & (t_scores >= kth[t_open]))
            step = max(1, block_rows(top.shape[1]))
            for start in range(0, len(todo), step):
                part = todo[start : start + step]
                rows_of = t_open[part]
                value = t_scores[part]
                # every candidate above a target scoring at least the k-th best is in ``top``
                above = np.count_nonzero(top[rows_of] > value[:, None], axis=1)
                tied = np.where(
                    value > kth[rows_of],
                    np.count_nonzero(top[rows_of] == value[:, None], axis=1),
                    at_kth[rows_of],
                )
                t_rank[part] = above + 0.5 * (tied - 1)
        del sub

        # per-user values, each computed as for one user alone
        order = np.argsort(t_user, kind="stable")  # targets of each user, by item id
        bounds = np.concatenate([[0], np.cumsum(counts)])
        for k in self.ks:
            hits = t_rank < k
            n_hits = np.bincount(t_user, weights=hits, minlength=len(users))
            self.values[f"recall_at_{k}"].append(n_hits / counts)
            self.values[f"hit_rate_at_{k}"].append((n_hits > 0).astype("float64"))
            ndcg = np.zeros(len(users))
            for u in np.flatnonzero(n_hits):
                r = t_rank[order[bounds[u] : bounds[u + 1]]]
                ideal = (1.0 / np.log2(np.arange(min(k, counts[u])) + 2)).sum()
                ndcg[u] = (1.0 / np.log2(r[r < k] + 2)).sum() / ideal
            self.values[f"ndcg_at_{k}"].append(ndcg)
        self.values["mrr"].append(1.0 / (best_rank + 1))
        self.users += len(users)

    def result(self) -> dict[str, float]:
        """Mean of each metric over the users that had targets, and ``users``."""
        if self.users == 0:
            raise DataError(
                "no user has held-out interactions to rank",
                "give users more than one interaction, or raise test_split",
            )
        metrics: dict[str, float] = {
            name: math.fsum(float(v) for part in parts for v in part) / self.users
            for name, parts in self.values.items()
        }
        metrics["users"] = self.users
        return metrics


def ranking_metrics(
    score_rows: np.ndarray,
    targets: Sequence[np.ndarray],
    exclude: Sequence[np.ndarray],
    ks: Sequence[int] = (10,),
) -> dict[str, float]:
    """Mean recall/hit rate/NDCG at each k and MRR over the rows that have targets.

    ``score_rows[r]`` scores every item for user r; ``targets[r]`` are that user's held-out
    items and ``exclude[r]`` the items to leave out of the ranking (seen in training).
    Ranked a block of rows at a time (:class:`RankingAccumulator`).
    """
    score_rows = np.asarray(score_rows)
    if len(score_rows) != len(targets) or len(targets) != len(exclude):
        raise DataError(
            f"{len(score_rows)} score rows for {len(targets)} users",
            "give one row of item scores per user",
        )
    found = RankingAccumulator(ks)
    step = block_rows(score_rows.shape[1] if score_rows.ndim == 2 else 1)
    for start in range(0, len(score_rows), step):
        end = start + step
        found.add(score_rows[start:end], targets[start:end], exclude[start:end])
    return found.result()


def _eval_users(split: RetrievalSplit, which: str, max_users: int | None, seed: int) -> np.ndarray:
    users = np.unique(split.positives(which)[0])
    if max_users and len(users) > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    return users


def _seen_splits(which: str) -> tuple[str, ...]:
    return ("train",) if which == "validation" else ("train", "validation")


def evaluate_scores(
    split: RetrievalSplit,
    score_fn: Any,
    *,
    which: str = "test",
    ks: Sequence[int] = (10,),
    max_users: int | None = None,
    seed: int = 0,
    block_users: int | None = None,
) -> dict[str, float]:
    """Ranking metrics of ``score_fn(users) -> (len(users), num_items)`` on split ``which``.

    Items the user has in earlier splits are left out of the ranking. ``max_users`` ranks a
    seeded sample of users (for large data). ``score_fn`` is called on blocks of
    ``block_users`` users (default: :func:`block_rows`, about 8 MB of float32 scores), in
    ascending user order, and each block is ranked before the next is scored, so memory is
    bounded by the block; the metrics do not depend on the block size.
    """
    users = _eval_users(split, which, max_users, seed)
    if len(users) == 0:
        raise DataError(
            f"the {which} split has no interactions to rank",
            f"raise {'validation_split' if which == 'validation' else 'test_split'}",
        )
    held = Grouped.build(*split.positives(which), split.num_users)
    seen = split.seen_before(which)
    found = RankingAccumulator(ks)
    step = block_users or block_rows(split.num_items)
    for start in range(0, len(users), step):
        part = users[start : start + step]
        scores = np.asarray(score_fn(part), dtype="float32")
        if scores.shape != (len(part), split.num_items):
            raise DataError(
                f"the scoring function returned shape {scores.shape} for {len(part)} users",
                f"return ({len(part)}, {split.num_items}): every item's score for each user",
            )
        found.add(scores, [held[u] for u in part], [seen[u] for u in part])
        del scores
    return found.result()


def evaluate_model(
    model: Any,
    split: RetrievalSplit,
    *,
    which: str = "test",
    ks: Sequence[int] = (10,),
    max_users: int | None = None,
    seed: int = 0,
    batch_size: int = 65536,
    block_users: int | None = None,
) -> dict[str, float]:
    """Ranking metrics of a (user_id, item_id) -> score model; see :func:`evaluate_scores`.

    A two-tower model that names its ``user_vector`` and ``item_vector`` layers is scored
    through its towers (:mod:`zoo.tasks.towers`), else on every (user, item) pair."""
    return evaluate_scores(
        split,
        scorer(model, split.num_users, split.num_items, batch_size),
        which=which,
        ks=ks,
        max_users=max_users,
        seed=seed,
        block_users=block_users,
    )


# ------------------------------------------------------------------------------ baselines


def popularity_scores(train_items: Any, num_items: int) -> np.ndarray:
    """How often each item occurs among the training positives."""
    return np.bincount(np.asarray(train_items, dtype="int64"), minlength=num_items).astype(
        "float32"
    )


def evaluate_baselines(
    split: RetrievalSplit,
    *,
    which: str = "test",
    ks: Sequence[int] = (10,),
    max_users: int | None = None,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Metrics of the ``popularity`` and ``random`` rankers, computed like a model's."""
    chosen = np.zeros(len(split.items), dtype=bool)
    for name in _seen_splits(which):
        chosen[split.indices[name]] = True
    seen_items = split.items[chosen]
    popular = popularity_scores(seen_items, split.num_items)
    rng = np.random.default_rng(seed)
    return {
        "popularity": evaluate_scores(
            split,
            lambda users: np.broadcast_to(popular, (len(users), split.num_items)),
            which=which,
            ks=ks,
            max_users=max_users,
            seed=seed,
        ),
        "random": evaluate_scores(
            split,
            lambda users: rng.random((len(users), split.num_items), dtype="float32"),
            which=which,
            ks=ks,
            max_users=max_users,
            seed=seed,
        ),
    }
