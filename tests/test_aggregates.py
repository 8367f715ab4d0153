"""Aggregates are written within a small DuckDB memory budget, and a budget too small gives way."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import record_fresh_processes

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


def test_a_big_snapshots_aggregates_are_written_by_a_fresh_process(sample_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ISOLATE_ABOVE_ARTICLES the aggregates come from a spawned process (its memory is not the
    publishing process's); the tables are the same."""
    snap = tmp_path / "snap"
    shutil.copytree((sample_dataset / ".store" / "current").resolve(), snap, symlinks=True)
    shutil.rmtree(snap / "aggregates")
    monkeypatch.setattr(aggregates, "ISOLATE_ABOVE_ARTICLES", 0)
    modules = record_fresh_processes(monkeypatch, aggregates)
    aggregates.write_aggregates(snap, 1)
    assert modules == ["pipelines.publish.aggregates"]
    for stem in aggregates.AGGREGATES:
        again = pq.read_table(snap / "aggregates" / f"{stem}.parquet")
        assert again.equals(pq.read_table(sample_dataset / "aggregates" / f"{stem}.parquet"))


def test_a_failing_fresh_process_fails_the_publish(tmp_path: Path) -> None:
    """A fresh process that fails (here: no articles to aggregate) raises in the publishing process,
    so nothing half-written is published."""
    from pipelines.engine import fresh_processes

    with pytest.raises(RuntimeError, match=re.escape("python -m pipelines.publish.aggregates failed")):
        fresh_processes("pipelines.publish.aggregates", [[str(tmp_path / "missing"), 1]], 1)
