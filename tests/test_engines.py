"""Same input, same dataset: whatever the number of workers, and on a Dask cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def scale_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 articles recombined from the real sample and eval texts: three parse batches, many duplicates."""
    out = tmp_path_factory.mktemp("scale") / "in"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_corpus.py"), "--n", "600", "--out", str(out)], check=True, capture_output=True)
    return out


def table(ds: Path, name: str = "articles") -> pd.DataFrame:
    df = pd.read_parquet(ds / name)
    key = ["article_id"] if name == "articles" else ["article_id", "offset"]
    return df.sort_values(key).reset_index(drop=True)


def test_output_does_not_depend_on_workers_or_engine(scale_input: Path, tmp_path: Path) -> None:
    runs = {
        "w1": ("--workers", "1"),
        "w2": ("--workers", "2"),
        "dask": ("--workers", "2", "--engine", "dask"),
    }
    for name, extra in runs.items():
        run_cli("build", "--input", str(scale_input), "--dataset", str(tmp_path / name), "--no-progress", *extra, timeout=600)
    base = table(tmp_path / "w1")
    assert len(base) == 600
    assert base["duplicate_of"].notna().any()  # recombined texts repeat: dedupe order matters here
    for name in ("w2", "dask"):
        pd.testing.assert_frame_equal(table(tmp_path / name), base, obj=name)
        pd.testing.assert_frame_equal(table(tmp_path / name, "agency_mentions"), table(tmp_path / "w1", "agency_mentions"), obj=name)
