"""The table, text, ratings and array readers on files written the way users have them
(issue 18): pyarrow reads them in record batches; the results are what the readers always
gave, and bad files are one-line errors naming the line."""

from __future__ import annotations

import mmap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from zoo.data import readers
from zoo.errors import DataError


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_a_csv_with_an_id_column_and_word_labels(tmp_path: Path) -> None:
    table = write(
        tmp_path / "flowers.csv",
        "id,sepal,petal,species\n"
        "a1,5.1,1.4,setosa\n"
        "a2, 7.0 ,4.7,versicolor\n"
        "\n"  # a blank line is no row
        "a3,6.3,6.0,virginica\n",
    )
    found = readers.read_array_examples(table)
    assert found.x.dtype == np.float32
    np.testing.assert_array_equal(
        found.x, np.array([[5.1, 1.4], [7.0, 4.7], [6.3, 6.0]], dtype="float32")
    )
    assert found.labels == ["setosa", "versicolor", "virginica"]
    assert (found.keys, found.key_name) == (["a1", "a2", "a3"], "id")
    assert readers.read_table(table) == (
        ["id", "sepal", "petal", "species"],
        [
            ["a1", "5.1", "1.4", "setosa"],
            ["a2", "7.0", "4.7", "versicolor"],
            ["a3", "6.3", "6.0", "virginica"],
        ],
    )


def test_numbers_are_parsed_as_python_parses_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    values = [repr(float(v)) for v in rng.normal(0, 1e3, 300)] + ["1e-7", "-0", ".5", "5.", "1_000"]
    lines = [f"{v},{i % 2}" for i, v in enumerate(values)]
    found = readers.read_array_examples(write(tmp_path / "n.csv", "\n".join(lines)))
    want = np.array([[float(v)] for v in values], dtype="float32")
    assert found.x.tobytes() == want.tobytes()
    assert found.keys == list(range(1, len(values) + 1))


def test_a_tsv_and_a_semicolon_file(tmp_path: Path) -> None:
    tsv = write(tmp_path / "t.tsv", "a\tb\tlabel\n1\t2\tx\n3\t4\ty\n")
    semi = write(tmp_path / "s.txt", "a;b;label\n1;2;x\n3;4;y\n")
    for path in (tsv, semi):
        found = readers.read_array_examples(path)
        np.testing.assert_array_equal(found.x, [[1, 2], [3, 4]])
        assert found.labels == ["x", "y"]
    # a tab in a comma file is part of a cell, and a .tsv is tab-separated whatever it holds
    assert readers.read_table(write(tmp_path / "c.tsv", "x,y\t1\n"))[1] == [["x,y", "1"]]


def test_ratings_dat_with_double_colons(tmp_path: Path) -> None:
    dat = write(tmp_path / "ratings.dat", "1::1193::5::978300760\n2::661::3::978302109\n" * 2)
    found = readers.read_interactions(dat)
    assert found.user_ids == ["1", "2"] and found.item_ids == ["1193", "661"]
    assert found.users.dtype == np.int32 and found.users.tolist() == [0, 1, 0, 1]
    assert found.ratings.dtype == np.float32 and found.ratings.tolist() == [5, 3, 5, 3]
    assert found.times.tolist() == [978300760, 978302109] * 2
    users, items, ratings, times = readers.read_ratings(dat)
    assert users == ["1", "2", "1", "2"] and items == ["1193", "661", "1193", "661"]
    assert ratings.dtype == np.float64


def test_colon_runs_cut_by_a_read_are_still_separators(tmp_path: Path) -> None:
    text = "".join(f"{u}::{u % 7}:x::{u % 5}::{u}\n" for u in range(3000))
    dat = write(tmp_path / "ratings.dat", text)
    for size in (1, 2, 3, 7, 64, 4096):
        stream = readers._ColonStream(dat)
        pieces = []
        while chunk := stream.read(size):
            assert len(chunk) <= size
            pieces.append(chunk)
        stream.close()
        assert b"".join(pieces) == text.replace("::", "\x1f").encode()
    assert readers.read_interactions(dat).item_ids[:3] == ["0:x", "1:x", "2:x"]


def test_ratings_csv_ids_become_codes_in_order_of_first_appearance(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ratings.csv",
        "userId,movieId,rating,timestamp\nu9,m1,4.5,30\nu2,m1,3,10\nu9,m7,1,20\n",
    )
    found = readers.read_interactions(tmp_path)  # the folder holding ratings.csv
    assert found.path == path
    assert found.user_ids == ["u9", "u2"] and found.users.tolist() == [0, 1, 0]
    assert found.item_ids == ["m1", "m7"] and found.items.tolist() == [0, 0, 1]
    order = np.argsort(found.times, kind="stable")
    ids, names = readers.index_codes(found.users[order], found.user_ids, None, "user", "f")
    assert (ids.tolist(), names) == ([0, 1, 1], ["u2", "u9"])
    assert readers.index_ids(["u2", "u9", "u9"], None, "user", "f")[1] == names
    ids, names = readers.index_codes(found.users, found.user_ids, ["u2", "u9"], "user", "f")
    assert (ids.tolist(), names) == ([1, 0, 1], ["u2", "u9"])
    with pytest.raises(DataError, match=r"f: user 'u9' was not in the training data"):
        readers.index_codes(found.users, found.user_ids, ["u2"], "user", "f")
    write(tmp_path / "bad.csv", "userId,movieId,rating\n1,2,4\n1,3,good\n")
    with pytest.raises(DataError, match="the rating column has a non-numeric value"):
        readers.read_interactions(tmp_path / "bad.csv")


def test_a_users_only_list(tmp_path: Path) -> None:
    assert readers.read_users(write(tmp_path / "u.csv", "userId\n7\n3\n7\n")) == ["7", "3", "7"]
    assert readers.read_users(write(tmp_path / "n.csv", "user\nalice\nbob\n")) == ["alice", "bob"]
    assert readers.read_users(write(tmp_path / "r.csv", "userId,movieId\n1,2\n")) is None
    with pytest.raises(DataError, match="header but no users"):
        readers.read_users(write(tmp_path / "h.csv", "user\n"))


def test_a_text_csv_with_quoted_commas_and_newlines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "reviews.csv",
        'id,text,label\n1,"Great, really great",pos\n2,"Bad.\nVery ""bad"".",neg\n3,fine,pos\n',
    )
    counts: Counter[str] = Counter()
    found = readers.read_text_examples(path, token_counts=counts)
    assert found.x == ["Great, really great", 'Bad.\nVery "bad".', "fine"]
    assert found.labels == ["pos", "neg", "pos"] and found.keys == ["1", "2", "3"]
    assert counts == Counter(t for text in found.x for t in readers.tokenize(text))
    vocabulary = readers.vocabulary_from_counts(counts, 6)
    assert vocabulary == readers.build_vocabulary([readers.tokenize(t) for t in found.x], 6)
    x, cut = readers.encode_texts(found.x, vocabulary, 3)
    tokens = [readers.tokenize(t) for t in found.x]
    np.testing.assert_array_equal(x, readers.encode_tokens(tokens, vocabulary, 3))
    assert cut == 2
    # without a header: the short single-word column is the label, known after the last row
    plain = write(tmp_path / "plain.csv", "spam,buy cheap pills\nham,see you\n")
    counts = Counter()
    found = readers.read_text_examples(plain, token_counts=counts)
    assert found.x == ["buy cheap pills", "see you"] and found.labels == ["spam", "ham"]
    assert "spam" not in counts and counts["buy"] == 1


def test_a_ragged_row_is_named_by_its_line(tmp_path: Path) -> None:
    ragged = write(tmp_path / "ragged.csv", "a,b,label\n1,2,x\n3,4,y\n5,6\n7,8,z\n")
    with pytest.raises(DataError, match=r"ragged.csv: line 4 has 2 columns, expected 3"):
        readers.read_array_examples(ragged)
    # the most common width is the expected one, as it always was
    wide = write(tmp_path / "wide.csv", "1,2,3\n1,2\n3,4\n5,6\n")
    with pytest.raises(DataError, match=r"line 1 has 3 columns, expected 2"):
        readers.read_table(wide)
    # a ragged row after a bad number is still the error reported
    both = write(tmp_path / "both.csv", "1,2,0\n3,x,1\n5,1\n")
    with pytest.raises(DataError, match=r"line 3 has 2 columns, expected 3"):
        readers.read_array_examples(both)


def test_non_utf8_empty_and_header_only_files(tmp_path: Path) -> None:
    latin = write(tmp_path / "latin.csv", "text,label\ncafé crème,pos\nbad,neg\n", "latin-1")
    with pytest.raises(DataError, match=r"latin.csv: not a UTF-8 text file"):
        readers.read_text_examples(latin)
    late = tmp_path / "late.csv"  # the bad byte far beyond the lines that pick the delimiter
    late.write_bytes(b"a,b,label\n" + b"1,2,x\n" * 50 + b"3,4,\xe9\n")
    with pytest.raises(DataError, match=r"late.csv: not a UTF-8 text file"):
        readers.read_array_examples(late)
    with pytest.raises(DataError, match=r"empty.csv: the file is empty"):
        readers.read_table(write(tmp_path / "empty.csv", "\n \n"))
    with pytest.raises(DataError, match=r"only.csv: the file has a header but no rows"):
        readers.read_text_examples(write(tmp_path / "only.csv", "text,label\n"))
    bom = write(tmp_path / "bom.csv", "\ufefftext,label\nhi there,a\n")
    assert readers.read_text_examples(bom).labels == ["a"]


def test_npy_is_memory_mapped_and_npz_is_read(tmp_path: Path) -> None:
    x = np.arange(24, dtype="float32").reshape(6, 4)
    np.save(tmp_path / "x.npy", x)
    found = readers.read_array_examples(tmp_path / "x.npy")
    assert isinstance(found.x, np.memmap) and isinstance(found.x.base, mmap.mmap)
    np.testing.assert_array_equal(found.x, x)
    assert found.keys == [1, 2, 3, 4, 5, 6]
    np.save(tmp_path / "ints.npy", x.astype("int64"))  # converted to float32 once
    ints = readers.read_array_examples(tmp_path / "ints.npy").x
    assert ints.dtype == np.float32 and not isinstance(ints, np.memmap)
    bad = x.copy()
    bad[5, 3] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(DataError, match="NaN or infinity"):
        readers.read_array_examples(tmp_path / "nan.npy")
    np.savez(tmp_path / "xy.npz", x=x, y=np.arange(6) % 2)
    found = readers.read_array_examples(tmp_path / "xy.npz")
    np.testing.assert_array_equal(found.x, x)
    assert found.labels == [0, 1, 0, 1, 0, 1]


def test_standardize_makes_one_copy_and_leaves_the_input(tmp_path: Path) -> None:
    x = np.arange(12, dtype="float32").reshape(6, 2)
    out, stats = readers.standardize(x, None, axis=(0,))
    want = (x - x.mean(axis=0)) / x.std(axis=0)
    assert out.tobytes() == np.asarray(want, dtype="float32").tobytes()
    assert not np.shares_memory(out, x) and x[0, 0] == 0
    assert stats["mean"] == [5.0, 6.0]


def test_a_memory_mapped_npy_is_standardised_as_it_is_streamed(tmp_path: Path) -> None:
    from zoo.data.sources import ArrayRows

    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", (rng.normal(size=(50, 3, 4)) * 3 + 5).astype("float32"))
    x = readers.read_array_examples(tmp_path / "x.npy").x
    out, stats = readers.standardize(x, None, axis=(0, 1))
    assert isinstance(out, ArrayRows) and out.shape == (50, 3, 4)  # still on disk
    held = np.asarray(x)
    want = (held - held.mean(axis=(0, 1))) / held.std(axis=(0, 1))
    np.testing.assert_allclose(np.asarray(out), want, atol=1e-5)
    np.testing.assert_allclose(stats["std"], held.std(axis=(0, 1)), rtol=1e-5)
    # a trained run's statistics are reused as they are
    again, same = readers.standardize(x, stats, axis=(0, 1))
    np.testing.assert_array_equal(np.asarray(again), np.asarray(out))
    assert same == stats
