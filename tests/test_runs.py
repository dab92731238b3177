"""Run folders written by older versions of zoo still read."""

from __future__ import annotations

from pathlib import Path

from zoo.catalog.options import TRAIN_OPTIONS
from zoo.runs import RETIRED_TRAIN_OPTIONS, read_run, write_run_toml


def test_retired_training_options_are_dropped_when_a_run_is_read(tmp_path: Path) -> None:
    assert not RETIRED_TRAIN_OPTIONS & set(TRAIN_OPTIONS)
    write_run_toml(
        tmp_path,
        {
            "run": {"model": "mlp", "architecture": "mlp", "status": "running"},
            "train": {"epochs": 3, "shuffle_buffer": 10000},
        },
    )
    record = read_run(tmp_path, require_complete=False)
    assert record.train == {"epochs": 3}
