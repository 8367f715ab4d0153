"""Shared fixtures: paths to the bundled real sample and a real build of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample"
SEED = SAMPLE / "seed" / "000_0728b4a53c9668bd.txt"


def run_cli(*args: str, check: bool = True, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipelines ARGS`` as users do."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"pipelines {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def sample_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample built once with the real CLI."""
    ds = tmp_path_factory.mktemp("sample") / "dataset"
    run_cli("build", "--input", str(SAMPLE), "--dataset", str(ds), "--workers", "2")
    return ds
