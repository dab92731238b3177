"""Data for the ``transformer`` plugin.

Default: generated token sequences whose label depends on token order over a long range.
Every sequence holds two marker tokens ``A`` and ``B`` at least a quarter of its length
apart, one "key" token, and random filler tokens, then padding (id 0). The class is
``2 * key + (A comes before B)``: the order bit cannot be read from a bag of words, only
from positions, which is what attention with position embeddings can do. Same data on
every call (fixed seed).

User data: a text CSV with a text and a label column (header optional, see
``zoo.data.readers.read_text_examples``; pyarrow reads it in record batches). Texts are
lower-cased and split into words and punctuation (``readers.tokenize``; not Keras'
``TextVectorization``, so no TensorFlow is needed to read data); the vocabulary is the most
frequent tokens of the training data, counted batch by batch as the file is read (ids 0 and
1 are padding and unknown), at most ``vocab_size`` ids when ``vocab_size`` was set, else up
to 20,000 and ``vocab_size`` is implied from the data. The vocabulary is saved in the run's
data state and reused for new text.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from zoo.plugin import Config, DataError, Dataset, readers

SEED = 20240504
EXAMPLES = 4000
MARKER_A, MARKER_B, FIRST_KEY = 2, 3, 4  # ids 0 and 1 are padding and unknown


def load(config: Config, path: Path | None, state: dict[str, Any] | None) -> Dataset:
    if path is None:
        return ordered_pairs(config)
    return text_table(config, readers.check_path(path), state)


def ordered_pairs(config: Config, examples: int = EXAMPLES) -> Dataset:
    vocab, length, classes = config.vocab_size, config.sequence_length, config.num_classes
    keys = math.ceil(classes / 2)
    first_filler = FIRST_KEY + keys
    if vocab < first_filler + 2:
        raise DataError(
            f"the generated sequences for {classes} classes need vocab_size >= "
            f"{first_filler + 2}, got {vocab}",
            f"--set vocab_size={first_filler + 2} or more, or lower num_classes",
        )
    if length < 4:
        raise DataError(
            f"the generated sequences need sequence_length >= 4, got {length}",
            "raise sequence_length or train on your own data with --data",
        )
    rng = np.random.default_rng(SEED)
    y = rng.integers(0, classes, examples).astype("int32")
    x = np.zeros((examples, length), dtype="int32")
    lengths = rng.integers(max(4, length // 2), length + 1, examples)
    for i in range(examples):
        n = int(lengths[i])
        x[i, :n] = rng.integers(first_filler, vocab, n)
        gap = max(1, n // 4)
        first = int(rng.integers(0, n - gap))
        second = int(rng.integers(first + gap, n))
        a_first = y[i] % 2 == 1
        x[i, first], x[i, second] = (MARKER_A, MARKER_B) if a_first else (MARKER_B, MARKER_A)
        free = [p for p in range(n) if p not in (first, second)]
        x[i, free[int(rng.integers(0, len(free)))]] = FIRST_KEY + y[i] // 2
    names = [f"key{c // 2}:{'A<B' if c % 2 else 'B<A'}" for c in range(classes)]
    return Dataset(
        x=x,
        y=y,
        name="ordered-pairs",
        description=(
            f"generated: {examples} token sequences of up to {length} ids (vocabulary "
            f"{vocab}); class = key token x whether marker A precedes marker B"
        ),
        implied={"vocab_size": vocab, "sequence_length": length, "num_classes": classes},
        class_names=names,
        state={"class_names": names, "source": "generated"},
    )


def text_table(config: Config, path: Path, state: dict[str, Any] | None) -> Dataset:
    counts: Counter[str] | None = Counter() if state is None else None
    found = readers.read_text_examples(path, token_counts=counts)  # counted as it is read
    texts, raw = found.x, found.labels
    if state is not None:
        if "vocabulary" not in state:
            raise DataError(
                f"{path}: the run was not trained on text, so it has no vocabulary to encode it",
                "evaluate it on the data it was trained on, or train a run on this file",
            )
        vocabulary = list(state["vocabulary"])
    else:
        cap = (
            config.vocab_size if readers.user_set(config, "vocab_size") else readers.MAX_VOCABULARY
        )
        vocabulary = readers.vocabulary_from_counts(counts, cap)  # type: ignore[arg-type]
        if not vocabulary:
            raise DataError(f"{path}: the texts contain no words", "give non-empty texts")
    x, truncated = readers.encode_texts(texts, vocabulary, config.sequence_length)
    # ids stay below len(vocabulary) + 2; a vocab_size the user chose is kept as it is
    implied: dict[str, Any] = {
        "vocab_size": config.vocab_size
        if readers.user_set(config, "vocab_size")
        else len(vocabulary) + 2
    }
    return readers.labelled_dataset(
        x,
        raw,
        path=path,
        config=config,
        state=state,
        implied=implied,
        encoding={"vocabulary": vocabulary, "source": "text"},
        description=(
            f"{len(texts)} texts from {path}; vocabulary {len(vocabulary) + 2} ids; "
            f"{truncated} texts cut to {config.sequence_length} tokens"
        ),
        keys=found.keys,
        key_name=found.key_name,
    )
