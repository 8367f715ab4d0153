"""Errors users can act on: one line on stderr (what, where, what to do) and the documented exit code.

Runs the real CLI as users do. CI runs as root, where permission bits do not stop anything, so an
unwritable dataset is made the way that works for root too: a dataset path inside a regular file.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from pipelines.errors import ERRORS, DataFileError, exit_code_table
from pipelines.readme import command_reference, readme_section

pytestmark = pytest.mark.timeout(300)


def documented_exit_codes() -> set[int]:
    table = readme_section((ROOT / "README.md").read_text(encoding="utf-8"), "exit-codes")
    assert table
    return {int(m.group(1)) for m in re.finditer(r"^\| (\d+) \|", table, re.M)}


def test_readme_command_reference_and_exit_codes_are_the_code_s() -> None:
    """The README's command reference is argparse's, its exit codes errors.py's: regenerate with python -m pipelines.readme."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme_section(text, "command-reference") == command_reference()
    assert readme_section(text, "exit-codes") == exit_code_table()
    for flag in ("--input", "--dataset", "--workers", "--prune", "--file-time-budget", "--no-wait", "--engine", "--eval-dir"):
        assert f"`{flag} " in command_reference() or f"`{flag}`" in command_reference(), flag
    codes = {cls.exit_code for cls in ERRORS}
    assert codes | {0, 1, 130} == documented_exit_codes()


def test_a_bad_label_data_file_is_one_line_naming_it(tmp_path: Path, small_input: Path) -> None:
    import shutil

    from pipelines.label.stage import DEFAULT_DATA_DIR

    data = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    (data / "label_budget.toml").write_text("[budget]\nmax_body_chars = -1\n", encoding="utf-8")
    proc = run_cli("build", "--input", str(small_input), "--dataset", str(tmp_path / "ds"), "--workers", "1", "--no-progress",
                   check=False, env={"PIPELINES_DATA_DIR": str(data)})
    assert proc.returncode == DataFileError.exit_code == 5
    line = one_line(proc)
    assert "label_budget.toml" in line and "max_body_chars" in line


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The whole of stderr, which must be a single 'error: ...' line without a traceback."""
    err = proc.stderr
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert proc.returncode in documented_exit_codes(), proc.returncode
    return err.strip()


@pytest.fixture()
def small_input(tmp_path: Path) -> Path:
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.txt").write_text("2021-03-05\n兰州市中级人民法院召开执行工作推进会。", encoding="utf-8")
    return inp


def test_missing_input(tmp_path: Path) -> None:
    proc = run_cli("build", "--input", str(tmp_path / "nope"), "--dataset", str(tmp_path / "ds"), check=False)
    assert proc.returncode == 3
    line = one_line(proc)
    assert str(tmp_path / "nope") in line and "does not exist" in line and "--input" in line


def test_input_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "scrape.txt"
    f.write_text("x", encoding="utf-8")
    proc = run_cli("build", "--input", str(f), "--dataset", str(tmp_path / "ds"), check=False)
    assert proc.returncode == 3
    line = one_line(proc)
    assert str(f) in line and "is a file, not a folder" in line and "folder" in line


def test_unwritable_dataset_even_as_root(tmp_path: Path, small_input: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file", encoding="utf-8")
    proc = run_cli("build", "--input", str(small_input), "--dataset", str(blocker / "ds"), check=False)
    assert proc.returncode == 4
    line = one_line(proc)
    assert str(blocker / "ds") in line and "--dataset" in line and "writ" in line
    clash = run_cli("build", "--input", str(small_input), "--dataset", str(blocker), check=False)
    assert clash.returncode == 4
    assert str(blocker) in one_line(clash)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits; covered above by a dataset path inside a file")
def test_read_only_dataset_folder(tmp_path: Path, small_input: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        proc = run_cli("build", "--input", str(small_input), "--dataset", str(ro / "ds"), check=False)
        assert proc.returncode == 4
        assert str(ro / "ds") in one_line(proc)
    finally:
        ro.chmod(0o700)


def test_dataset_locked_by_another_build(tmp_path: Path, small_input: Path) -> None:
    ds = tmp_path / "ds"
    run_cli("build", "--input", str(small_input), "--dataset", str(ds), "--no-progress")
    from pipelines.store import Store

    with Store(ds).lock():
        proc = run_cli("build", "--input", str(small_input), "--dataset", str(ds), "--no-wait", check=False)
    assert proc.returncode == 4
    line = one_line(proc)
    assert "another build is running" in line and str(ds) in line and "retry" in line


def test_verbose_adds_the_traceback_before_the_error_line(tmp_path: Path, small_input: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x", encoding="utf-8")
    for args in (["--verbose", "build"], ["build", "--verbose"]):
        proc = run_cli(*args, "--input", str(small_input), "--dataset", str(blocker / "ds"), check=False)
        assert proc.returncode == 4
        assert proc.stderr.startswith("Traceback (most recent call last):"), proc.stderr
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("error: cannot create dataset folder") and "--verbose" not in last


def test_usage_errors_are_exit_2(tmp_path: Path, small_input: Path) -> None:
    assert run_cli("build", check=False).returncode == 2  # --input missing (argparse's own message)
    bad_size = run_cli("build", "--input", str(small_input), "--max-file-bytes", "lots", check=False)
    assert bad_size.returncode == 2 and "not a size" in bad_size.stderr
    for flag, value in (("--max-records-per-file", "0"), ("--max-file-bytes", "0"), ("--file-time-budget", "-1"), ("--workers", "0")):
        proc = run_cli("build", "--input", str(small_input), "--dataset", str(tmp_path / "ds"), flag, value, check=False)
        assert proc.returncode == 2, (flag, proc.stderr)
        assert flag in one_line(proc)


def test_relabel_and_validate_without_a_dataset(tmp_path: Path) -> None:
    proc = run_cli("relabel", "--dataset", str(tmp_path / "none"), check=False)
    assert proc.returncode == 4
    line = one_line(proc)
    assert "no published dataset" in line and "build --input" in line
    proc = run_cli("validate", "--dataset", str(tmp_path / "none"), check=False)
    assert proc.returncode == 1 and "does not exist" in proc.stdout
