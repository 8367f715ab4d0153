"""Aggregates are written within a small DuckDB memory budget, and a budget too small gives way."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import pipelines.publish.aggregates as aggregates


def test_too_small_a_memory_budget_is_raised_not_fatal(sample_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    snap = tmp_path / "snap"
    shutil.copytree((sample_dataset / ".store" / "current").resolve(), snap, symlinks=True)
    shutil.rmtree(snap / "aggregates")
    monkeypatch.setattr(aggregates, "AGGREGATE_MEMORY", ("1MB", "256MB"))  # 1 MB cannot hold even the scan
    aggregates.build_aggregates(snap)
    err = capsys.readouterr().err
    assert "needs more than 1MB of memory with 2 thread(s); retrying with one thread" in err
    assert "needs more than 1MB of memory with 1 thread(s); retrying with more memory" in err
    for stem in aggregates.AGGREGATES:
        again = pq.read_table(snap / "aggregates" / f"{stem}.parquet")
        published = pq.read_table(sample_dataset / "aggregates" / f"{stem}.parquet")
        assert again.num_rows == published.num_rows > 0
        assert sorted(map(repr, again.to_pylist())) == sorted(map(repr, published.to_pylist()))
    assert not (snap / ".duckdb-spill").exists()  # spill files never end up in a snapshot
