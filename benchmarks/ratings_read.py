"""Peak RSS and time of reading a large MovieLens-style ratings CSV with the zoo's readers.

    python benchmarks/ratings_read.py [--rows 10000000] [--users 100000] [--items 50000]

Generates ``userId,movieId,rating,timestamp`` rows (uniform random users and items, ratings
0.5..5 in steps of 0.5) once into a temporary folder, then in a fresh process each reads it
with ``zoo.data.readers.read_interactions`` (id codes), ``read_ratings`` (the same as
Python strings, kept for plugins that use it) and with the recommender's whole data loading
(``zoo_dataset`` without a state: id maps, time order, duplicate pairs dropped), printing
seconds and peak RSS (``ru_maxrss``) of each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = """
import resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
path = Path(sys.argv[2])
if sys.argv[1] in ("read_ratings", "read_interactions"):
    from zoo.data import readers
    found = getattr(readers, sys.argv[1])(path)
    n = len(found[0] if isinstance(found, tuple) else found.users)
else:
    from zoo.catalog import get_catalog
    from zoo.catalog.config import make_config
    ref = get_catalog().resolve("recommender")
    hook = get_catalog().host.owner_hook(ref.plugin, "zoo_dataset")
    data = hook(config=make_config(ref, []), path=path, state=None)
    n = len(data.x["user_id"])
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(f"{sys.argv[1]}: {n} rows in {seconds:.1f} s, peak RSS {peak:.2f} GB")
"""


def generate(path: Path, rows: int, users: int, items: int, seed: int = 0) -> Path:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    chunk = 1_000_000
    with pacsv.CSVWriter(
        path,
        pa.schema(
            [("userId", pa.int32()), ("movieId", pa.int32()), ("rating", pa.float32()),
             ("timestamp", pa.int64())]
        ),
    ) as writer:  # fmt: skip
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            table = pa.table(
                {
                    "userId": rng.integers(1, users + 1, n, dtype="int32"),
                    "movieId": rng.integers(1, items + 1, n, dtype="int32"),
                    "rating": rng.integers(1, 11, n).astype("float32") / 2,
                    "timestamp": rng.integers(800_000_000, 1_700_000_000, n),
                }
            )
            writer.write_table(table)
    return path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--file", type=Path, help="reuse (or create) this ratings file")
    parser.add_argument(
        "--only", choices=("read_interactions", "read_ratings", "dataset"), action="append"
    )
    args = parser.parse_args()
    path = args.file or Path(tempfile.mkdtemp(prefix="zoo-ratings-")) / "ratings.csv"
    if not path.exists():
        generate(path, args.rows, args.users, args.items)
    print(f"{path}: {path.stat().st_size / 2**20:.0f} MB")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for what in args.only or ("read_interactions", "read_ratings", "dataset"):
        done = subprocess.run([sys.executable, "-c", CHILD, what, str(path)], check=False)
        if done.returncode:
            print(f"{what}: failed with exit code {done.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
