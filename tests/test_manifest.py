"""The Arrow manifest: what a rerun reads, decided from a real walk and the previous manifest."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from pipelines.manifest import INPUTS, collect_walk, merge_manifest, plan_changes, totals
from pipelines.read.walk import walk_inputs


def _tree(root: Path, names: list[str]) -> None:
    for name in names:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"2021-01-01\n{name}\n", encoding="utf-8")


def _manifest_of(root: Path) -> pa.Table:
    """A manifest as a build would have written it for the files under ``root`` (one part each)."""
    walked = collect_walk(walk_inputs(root), os.path.abspath(root)).table
    n = walked.num_rows
    return pa.table(
        {
            "source_file": walked["rel"],
            "size": walked["size"],
            "mtime_ns": walked["mtime_ns"],
            "sha256": ["0" * 64] * n,
            "part_id": [f"part{i}" for i in range(n)],
            "seq": list(range(1, n + 1)),
            "articles": [1] * n,
            "rejects": [0] * n,
        },
        schema=INPUTS,
    ).sort_by("source_file")


# "a-b.txt" sorts before "a/…" as a string but after folder "a" in the walk: the two orders differ,
# so the plan cannot compare column to column and must join
@pytest.mark.parametrize("names", [["x/1.txt", "x/2.txt", "y.txt"], ["a/x.txt", "a-b.txt", "a.txt", "b/c/d.txt"]])
def test_unchanged_files_are_not_read_again(tmp_path: Path, names: list[str]) -> None:
    _tree(tmp_path, names)
    old = _manifest_of(tmp_path)
    walked = collect_walk(walk_inputs(tmp_path), str(tmp_path)).table
    plan = plan_changes(walked, old, prune=False, relabel_only=False)
    assert plan.pending.num_rows == 0 and plan.unchanged == len(names) and plan.removed == []


@pytest.mark.parametrize("names", [["x/1.txt", "x/2.txt", "y.txt"], ["a/x.txt", "a-b.txt", "a.txt", "b/c/d.txt"]])
def test_changed_new_and_removed_files(tmp_path: Path, names: list[str]) -> None:
    _tree(tmp_path, names)
    old = _manifest_of(tmp_path)
    first, gone = names[0], names[-1]
    (tmp_path / first).write_text("2021-01-02\nrewritten, longer than before\n", encoding="utf-8")
    (tmp_path / gone).unlink()
    _tree(tmp_path, ["new/z.txt"])
    walked = collect_walk(walk_inputs(tmp_path), str(tmp_path)).table
    plan = plan_changes(walked, old, prune=False, relabel_only=False)
    assert sorted(plan.pending["rel"].to_pylist()) == sorted([first, "new/z.txt"])
    assert plan.removed == [gone]
    assert plan.unchanged == len(names) - 2
    # the changed file's old part must lose it; its previous row is at hand to spot a mere touch
    assert plan.changed_parts == {old.filter(pa.compute.equal(old["source_file"], first))["part_id"][0].as_py(): {first}}
    assert set(plan.previous) == {first}
    # --prune also drops the removed file from its part
    pruned = plan_changes(walked, old, prune=True, relabel_only=False)
    assert any(gone in files for files in pruned.changed_parts.values())


def test_touched_file_has_the_same_size_but_a_new_mtime(tmp_path: Path) -> None:
    _tree(tmp_path, ["a.txt", "b.txt"])
    old = _manifest_of(tmp_path)
    st = os.stat(tmp_path / "a.txt")
    os.utime(tmp_path / "a.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    plan = plan_changes(collect_walk(walk_inputs(tmp_path), str(tmp_path)).table, old, prune=False, relabel_only=False)
    assert plan.pending["rel"].to_pylist() == ["a.txt"]


def test_walk_problems_are_always_pending(tmp_path: Path) -> None:
    _tree(tmp_path, ["a.txt"])
    os.symlink(tmp_path / "missing", tmp_path / "dangling")
    walked = collect_walk(walk_inputs(tmp_path), str(tmp_path)).table
    old = _manifest_of(tmp_path)  # lists the dangling link too, as a build records its reject
    plan = plan_changes(walked, old, prune=False, relabel_only=False)
    assert plan.pending["rel"].to_pylist() == ["dangling"] and plan.pending["problem"].to_pylist() == ["symlink_loop"]


def test_merge_replaces_rows_renames_parts_and_sorts(tmp_path: Path) -> None:
    _tree(tmp_path, ["b.txt", "a.txt", "c.txt"])
    old = _manifest_of(tmp_path)
    new = pa.table({"source_file": ["b.txt", "d.txt"], "size": [1, 2], "mtime_ns": [3, 4], "sha256": ["s", "t"],
                    "part_id": ["new", "new"], "seq": [9, 9], "articles": [2, 0], "rejects": [0, 1]}, schema=INPUTS)
    a_part = old.filter(pa.compute.equal(old["source_file"], "a.txt"))["part_id"][0].as_py()
    merged = merge_manifest(old, [new], drop=["c.txt"], renamed={a_part: "renamed"})
    assert merged["source_file"].to_pylist() == ["a.txt", "b.txt", "d.txt"]
    assert merged["part_id"].to_pylist() == ["renamed", "new", "new"]
    assert totals(merged) == (1 + 2 + 0, 0 + 0 + 1)


def test_walk_is_kept_as_columns_with_paths_only_where_they_differ(tmp_path: Path) -> None:
    _tree(tmp_path, ["a.txt", "sub/b.txt", "README.md"])
    bad = os.path.join(os.fsencode(tmp_path), b"caf\xe9.txt")
    with open(bad, "wb") as fh:
        fh.write(b"2021-01-01\nx\n")
    w = collect_walk(walk_inputs(tmp_path), os.path.abspath(tmp_path))
    assert w.ignored == 1  # README.md is a provenance note
    rows = {r["rel"]: r for r in w.table.to_pylist()}
    assert rows["a.txt"]["path"] is None and rows["sub/b.txt"]["path"] is None
    escaped = next(r for r in rows if r.startswith("caf"))
    assert rows[escaped]["path"] is not None  # the real (undecodable) name is not root/rel
    files = {f.rel: f for f in w.files(w.table)}
    assert files["sub/b.txt"].path == os.path.join(os.path.abspath(tmp_path), "sub", "b.txt")
    assert os.path.exists(files[escaped].path)


def test_merge_with_nothing_new_keeps_the_manifest_sorted(tmp_path: Path) -> None:
    _tree(tmp_path, ["b.txt", "a/x.txt", "a-b.txt", "c.txt"])
    old = _manifest_of(tmp_path)
    same = merge_manifest(old, [], drop=[], renamed={})
    assert same.equals(old) and same["source_file"].to_pylist() == sorted(old["source_file"].to_pylist())
    # a manifest out of order (written by hand or by an older version) is still sorted on the way through
    shuffled = old.take([2, 0, 3, 1])
    assert merge_manifest(shuffled, [], drop=[], renamed={}).equals(old)
    # so is one with a repeated file (not strictly ascending)
    doubled = pa.concat_tables([old, old.slice(0, 1)])
    assert merge_manifest(doubled, [], drop=[], renamed={})["source_file"].to_pylist() == sorted(doubled["source_file"].to_pylist())
