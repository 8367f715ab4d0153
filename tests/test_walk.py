"""The walk's fast path: plain files stat'ed in chunks, here or by helper processes, give the same walk."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from conftest import ROOT, SAMPLE

import pipelines.read.walk as walk_mod
from pipelines.manifest import WALKED, collect_walk
from pipelines.read.walk import InputFile, Run, walk_inputs, walk_runs


def _hostile_tree(root: Path) -> None:
    """Plain files in runs longer than a chunk, broken by subfolders, links, a pipe and odd names."""
    big = root / "big"
    big.mkdir(parents=True)
    for i in range(2 * walk_mod.RUN_FILES + 7):  # three chunks in one folder
        (big / f"{i:05d}.txt").write_text("x" * (i % 50), encoding="utf-8")
    mixed = root / "mixed"
    (mixed / "m" / "deeper").mkdir(parents=True)
    for name in ("a.txt", "l.txt", "n.txt", "z.txt", "兰州.txt", "m/deeper/leaf.txt", "m/b.txt"):
        (mixed / name).write_text(name, encoding="utf-8")
    (mixed / "README.md").write_text("provenance", encoding="utf-8")  # ignored, in the middle of a run
    (mixed / ".hidden").write_text("hidden", encoding="utf-8")
    (mixed / "back\\slash.txt").write_text("backslash", encoding="utf-8")
    (mixed / "m" / "loop").symlink_to(mixed)  # a folder link back up: a loop
    (mixed / "twin").symlink_to(mixed / "m" / "deeper")  # a second path to a walked folder
    (mixed / "dangling").symlink_to(root / "nowhere")
    (mixed / "self").symlink_to(mixed / "self")
    (mixed / "link.txt").symlink_to(mixed / "a.txt")  # a link to a file is read through the link
    os.mkfifo(mixed / "pipe")
    (root / "locked").mkdir()
    (root / "locked" / "inside.txt").write_text("unlisted", encoding="utf-8")
    (root / "empty").mkdir()
    raw = os.fsencode(root / "mixed")
    for name in (b"caf\xe9.txt", b"\xff\xfe"):
        with open(os.path.join(raw, name), "wb") as fh:
            fh.write(name)
    (mixed / "caf\\xe9.txt").write_text("spelled like the escape", encoding="utf-8")


@contextlib.contextmanager
def _locked_and_vanishing(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``locked`` cannot be listed (root reads any folder, so the listing is made to fail), and
    big/00003.txt is deleted right after its folder is listed, before its chunk is stat'ed."""
    real_scandir = os.scandir

    @contextlib.contextmanager
    def scandir(path: Any) -> Iterator[list[os.DirEntry[str]]]:
        if os.fspath(path) == str(root / "locked"):
            raise PermissionError(13, "Permission denied", path)
        with real_scandir(path) as it:
            entries = list(it)
        if os.fspath(path) == str(root / "big"):
            with contextlib.suppress(FileNotFoundError):
                (root / "big" / "00003.txt").unlink()
        yield entries

    monkeypatch.setattr(walk_mod.os, "scandir", scandir)
    yield
    monkeypatch.undo()


def _expected(root: Path) -> list[tuple[str, int, int, str | None]]:
    """What the walk must find, from os.stat/os.lstat of each path, independently of the walk."""
    def st(rel: str) -> tuple[int, int]:
        s = os.stat(root / rel)
        return s.st_size, s.st_mtime_ns

    big = [(f"big/{i:05d}.txt", *st(f"big/{i:05d}.txt"), None) for i in range(2 * walk_mod.RUN_FILES + 7) if i != 3]
    big.insert(3, ("big/00003.txt", 0, 0, "read_error"))
    return [
        *big,
        ("locked", 0, 0, "read_error"),
        ("mixed/.hidden", *st("mixed/.hidden"), "ignored"),
        ("mixed/README.md", *st("mixed/README.md"), "ignored"),
        ("mixed/a.txt", *st("mixed/a.txt"), None),
        ("mixed/back\\slash.txt", *st("mixed/back\\slash.txt"), None),
        ("mixed/caf\\xe9.txt", *st("mixed/caf\\xe9.txt"), None),  # the real name, spelled like the escape, sorts first
        ("mixed/caf\\xe9.txt#636166e92e747874", *st(os.fsdecode(b"mixed/caf\xe9.txt")), "read_error"),
        ("mixed/dangling", 0, 0, "symlink_loop"),
        ("mixed/l.txt", *st("mixed/l.txt"), None),
        ("mixed/link.txt", *st("mixed/a.txt"), None),
        ("mixed/m/b.txt", *st("mixed/m/b.txt"), None),
        ("mixed/m/deeper/leaf.txt", *st("mixed/m/deeper/leaf.txt"), None),
        ("mixed/m/loop", 0, 0, "symlink_loop"),
        ("mixed/n.txt", *st("mixed/n.txt"), None),
        ("mixed/pipe", 0, 0, "read_error"),
        ("mixed/self", 0, 0, "symlink_loop"),
        ("mixed/twin", 0, 0, "symlink_loop"),
        ("mixed/z.txt", *st("mixed/z.txt"), None),
        ("mixed/兰州.txt", *st("mixed/兰州.txt"), None),
        ("mixed/\\xff\\xfe", *st(os.fsdecode(b"mixed/\xff\xfe")), None),
    ]


@pytest.mark.parametrize(("workers", "serial_files"), [(0, 0), (1, 0), (2, 0), (2, 3000)])
def test_walk_is_the_same_with_or_without_helper_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, serial_files: int) -> None:
    root = tmp_path / "in"
    _hostile_tree(root)
    settled: list[bool] = []  # per chunk: stat'ed by a helper (a Future) or here
    real_settle = walk_mod._Stats.settle

    def settle(self: Any, chunk: Any) -> Iterator[Any]:
        settled.append(not isinstance(chunk.stats, tuple))
        return real_settle(self, chunk)

    monkeypatch.setattr(walk_mod._Stats, "settle", settle)
    with _locked_and_vanishing(root, monkeypatch):
        walked = list(walk_inputs(root, workers=workers, serial_files=serial_files))
    got = [(f.rel, f.size, f.mtime_ns, f.problem) for f in walked]
    assert got == _expected(root)
    # helpers stat'ed the chunks when asked to (after the first serial_files), and are gone afterwards
    assert any(settled) == bool(workers) and all(settled) == bool(workers and not serial_files)
    assert mp.active_children() == []
    by_rel = {f.rel: f for f in walked}
    assert by_rel["big/00003.txt"].detail == "cannot stat: vanished during the walk"
    assert by_rel["locked"].detail == "cannot list folder: permission denied"
    assert "loop" in by_rel["mixed/m/loop"].detail and "already walked" in by_rel["mixed/twin"].detail
    assert by_rel["mixed/pipe"].detail == "not a regular file (device, socket or pipe); not read"
    assert "rename it" in by_rel["mixed/caf\\xe9.txt#636166e92e747874"].detail
    assert by_rel["big/00004.txt"].path == str(root / "big" / "00004.txt")
    assert os.path.exists(by_rel["mixed/\\xff\\xfe"].path)


def test_runs_hold_the_plain_files_and_collect_the_same_table(tmp_path: Path) -> None:
    root = tmp_path / "in"
    _hostile_tree(root)
    items = list(walk_runs(root, workers=0))
    runs = [i for i in items if type(i) is Run]
    singles = [i for i in items if type(i) is InputFile]
    # big/ is three chunks; the odd entries of mixed/ come one by one and break its runs
    assert [len(r.names) for r in runs if r.prefix == "big/"] == [walk_mod.RUN_FILES, walk_mod.RUN_FILES, 7]
    assert {f.rel for f in singles} >= {"mixed/README.md", "mixed/.hidden", "mixed/dangling", "mixed/pipe", "mixed/back\\slash.txt", "mixed/link.txt"}
    assert not any(f.rel.startswith("big/") for f in singles)
    # the columns a build compares are the same from runs as from one InputFile per file
    flat = collect_walk(walk_inputs(root, workers=0), str(root))
    fast = collect_walk(walk_runs(root, workers=1, serial_files=0), str(root))
    assert fast.table.equals(flat.table) and fast.ignored == flat.ignored == 2
    # and they are the walk's own values, row for row (built here by pa.array, not from buffers as collect_walk does)
    kept = [f for f in walk_inputs(root, workers=0) if f.problem != "ignored"]
    prefix = str(root) + "/"
    expected = pa.table(
        {
            "rel": pa.array([f.rel for f in kept], pa.string()),
            "path": pa.array([None if f.path == prefix + f.rel else os.fsencode(f.path) for f in kept], pa.binary()),
            "size": pa.array([f.size for f in kept], pa.int64()),
            "mtime_ns": pa.array([f.mtime_ns for f in kept], pa.int64()),
            "problem": pa.array([f.problem for f in kept], pa.string()),
            "detail": pa.array([f.detail or None for f in kept], pa.string()),
            "order": pa.array(range(len(kept)), pa.int64()),
        },
        schema=WALKED,
    )
    assert fast.table.equals(expected)
    assert fast.table.column("path").null_count == len(kept) - 2  # the two undecodable names keep their real path
    assert flat.table.num_rows == len(items) - len(runs) + sum(len(r.names) for r in runs) - 2


def test_a_helper_that_dies_costs_time_not_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "in"
    _hostile_tree(root)
    serial = list(walk_inputs(root, workers=0))
    walker = os.getpid()
    real_lstat = os.lstat

    def lstat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if os.getpid() != walker:
            os._exit(9)  # the helper vanishes mid-chunk, as if killed by the OOM killer
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat)
    assert list(walk_inputs(root, workers=1, serial_files=0)) == serial
    assert mp.active_children() == []


def test_a_no_op_rerun_imports_neither_pandas_nor_duckdb(sample_dataset: Path, tmp_path: Path) -> None:
    # together 0.9 s of a no-op rerun that is otherwise the walk: pyarrow imports pandas for any array or
    # scalar made from Python values, so the walk's columns and the plan are built without them
    ds = tmp_path / "dataset"
    shutil.copytree(sample_dataset, ds, symlinks=True)
    script = (
        "import atexit, runpy, sys\n"
        "atexit.register(lambda: print('imported:', sorted(m for m in ('pandas', 'duckdb') if m in sys.modules)))\n"
        f"sys.argv = ['pipelines', 'build', '--input', {str(SAMPLE)!r}, '--dataset', {str(ds)!r}, '--no-progress']\n"
        "runpy.run_module('pipelines', run_name='__main__')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "nothing new" in proc.stdout and " 0 read" in proc.stdout
    assert "imported: []" in proc.stdout
