"""The input manifest: one row per input file (size, mtime, hash, the part holding its rows), as Arrow.

A no-op rerun over a million files is a walk plus one join against the previous manifest, so the
manifest is never turned into Python objects per file: the walk is collected into Arrow columns in
chunks, compared with a hash join, and only the files that need reading become ``InputFile``s.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.read.walk import InputFile, Run
from pipelines.schema import INPUT_MANIFEST, WALK

INPUTS = INPUT_MANIFEST.arrow_schema()  # declared in schema.py
WALKED = WALK.arrow_schema()

_CHUNK = 65_536  # walked rows held as Python objects at once


# pa.array on a Python list (or of a Python scalar) makes pyarrow import pandas: 0.7 s, a quarter of a 100k
# no-op rerun. So the walk's columns are built from buffers (only a column with some values and some nulls
# uses pa.array), and the no-op path makes no array or scalar from Python values.
def _ints(values: array[int] | np.ndarray) -> pa.Array:
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def _strings(text: list[str], lengths: array[int]) -> pa.Array:
    """A string column from its values' text, joined in row order, and each value's length in bytes."""
    offsets = np.zeros(len(lengths) + 1, np.int32)  # int32: a chunk of 70,000 paths of at most 4 KiB each is far below 2 GiB
    np.cumsum(np.frombuffer(lengths, np.int64), out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(lengths), [None, pa.py_buffer(offsets), pa.py_buffer("".join(text).encode("utf-8"))])


def _empty(schema: pa.Schema) -> pa.Table:
    """``schema.empty_table()``, which makes pyarrow import pandas."""
    return pa.Table.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)


def _sparse(values: list[Any], type_: pa.DataType) -> pa.Array:
    """A column that is mostly null (paths, problems): all null is the usual case."""
    return pa.nulls(len(values), type_) if values.count(None) == len(values) else pa.array(values, type_)


def load_manifest(snapshot: Path | None) -> pa.Table:
    """The manifest of a snapshot (an empty table when there is none)."""
    if snapshot is None or not (snapshot / "inputs.parquet").exists():
        return _empty(INPUTS)
    # ParquetFile, not read_table: one file needs no dataset machinery (a second saved on a no-op rerun)
    return pq.ParquetFile(snapshot / "inputs.parquet").read().cast(INPUTS)


@dataclass
class Walked:
    table: pa.Table  # WALKED rows in walk order
    ignored: int = 0
    prefix: str = ""  # root + "/": a file's path when the table's ``path`` is null

    def files(self, rows: pa.Table) -> Iterator[InputFile]:
        """``InputFile``s for some WALKED rows (made only for the files to read, batch by batch)."""
        cols = [rows.column(c).to_pylist() for c in ("rel", "path", "size", "mtime_ns", "problem", "detail")]
        for rel, path, size, mtime, problem, detail in zip(*cols, strict=True):
            yield InputFile(rel, os.fsdecode(path) if path is not None else self.prefix + rel, size, mtime, problem, detail or "")


def collect_walk(files: Iterable[InputFile | Run], root: str) -> Walked:
    """Gather the walk into an Arrow table, a chunk of Python objects at a time; count ignored files.

    ``files`` is ``walk_inputs`` or, faster, ``walk_runs``: a ``Run`` of plain files goes into the
    columns whole, with no tuple per file (and no rel string: its names are joined with its prefix).
    """
    prefix = root.rstrip("/") + "/"
    chunks: list[pa.Table] = []
    ignored = 0
    cols = _WalkColumns(prefix)
    add_run, add_file, sizes = cols.add_run, cols.add_file, cols.sizes
    # the loop runs once per input file (or run of files): no per-file dicts or objects are kept
    for f in files:
        if type(f) is Run:
            add_run(f)
        elif f.problem == "ignored":
            ignored += 1
            continue
        else:
            add_file(f)
        if len(sizes) >= _CHUNK:
            chunks.append(cols.table())
            cols = _WalkColumns(prefix, cols.end)  # new buffers: the table holds the old ones
            add_run, add_file, sizes = cols.add_run, cols.add_file, cols.sizes
    if len(cols.sizes) or not chunks:
        chunks.append(cols.table())
    return Walked(pa.concat_tables(chunks).combine_chunks(), ignored, prefix)


class _WalkColumns:
    """A chunk of the walk's WALKED columns as Python buffers, rows from ``first_row`` on."""

    __slots__ = ("details", "first_row", "mtimes", "paths", "prefix", "problems", "rel_bytes", "rel_text", "sizes")

    def __init__(self, prefix: str, first_row: int = 0) -> None:
        self.prefix = prefix  # root + "/": a file whose path is prefix + rel keeps a null path
        self.first_row = first_row
        self.rel_text: list[str] = []  # the rel column's text in row order (rels, or a run's names joined with its prefix)
        self.rel_bytes: array[int] = array("q")  # each rel's length in UTF-8 bytes
        self.paths: list[bytes | None] = []
        self.sizes: array[int] = array("q")
        self.mtimes: array[int] = array("q")
        self.problems: list[str | None] = []
        self.details: list[str | None] = []

    @property
    def end(self) -> int:
        """The row after this chunk's last."""
        return self.first_row + len(self.sizes)

    def add_run(self, run: Run) -> None:
        names, at = run.names, run.prefix
        n = len(names)
        text = at + at.join(names)  # at + name for each name, in one join
        self.rel_text.append(text)
        if text.isascii():
            self.rel_bytes.extend(map(len(at).__add__, map(len, names)))
        else:
            self.rel_bytes.extend(map(len(at.encode()).__add__, map(len, map(str.encode, names))))
        if run.folder == self.prefix + at:
            self.paths.extend(repeat(None, n))
        else:
            self.paths.extend(os.fsencode(run.folder + name) for name in names)
        self.sizes.extend(run.sizes)
        self.mtimes.extend(run.mtimes)
        self.problems.extend(repeat(None, n))
        self.details.extend(repeat(None, n))

    def add_file(self, f: InputFile) -> None:
        rel, path, size, mtime, problem, detail = f
        self.rel_text.append(rel)
        self.rel_bytes.append(len(rel) if rel.isascii() else len(rel.encode()))
        self.paths.append(None if path == self.prefix + rel else os.fsencode(path))
        self.sizes.append(size)
        self.mtimes.append(mtime)
        self.problems.append(problem)
        self.details.append(detail or None)

    def table(self) -> pa.Table:
        order = np.arange(self.first_row, self.end, dtype=np.int64)
        return pa.Table.from_arrays([_strings(self.rel_text, self.rel_bytes), _sparse(self.paths, pa.binary()), _ints(self.sizes), _ints(self.mtimes),
                                     _sparse(self.problems, pa.string()), _sparse(self.details, pa.string()), _ints(order)], schema=WALKED)


@dataclass
class Plan:
    """What this build has to do, decided from the walk and the previous manifest."""

    pending: pa.Table  # WALKED rows to read (new, changed or with a problem), in walk order
    unchanged: int
    removed: list[str]  # files in the manifest that the walk no longer finds
    changed_parts: dict[str, set[str]] = field(default_factory=dict)  # old part → files to drop from it
    previous: dict[str, dict[str, object]] = field(default_factory=dict)  # manifest rows of pending files seen before


def _unchanged(walked: pa.Table, old_size: pa.ChunkedArray, old_mtime_ns: pa.ChunkedArray) -> pa.ChunkedArray:
    """Per walked file: same size and mtime as before, and no walk problem (nulls: not unchanged)."""
    same = pc.and_kleene(pc.and_kleene(pc.equal(walked["size"], old_size), pc.equal(walked["mtime_ns"], old_mtime_ns)), pc.is_null(walked["problem"]))
    # null → false without pc.fill_null(same, False): its Python scalar makes pyarrow import pandas (0.7 s)
    return pc.and_kleene(same, pc.is_valid(same))


def plan_changes(walked: pa.Table, old: pa.Table, *, prune: bool, relabel_only: bool) -> Plan:
    """Compare the walk with the previous manifest: same size and mtime means unchanged (not read)."""
    if relabel_only:
        return Plan(_empty(WALKED), 0, [])
    if old.num_rows == 0:
        return Plan(walked, 0, [])
    if old.num_rows == walked.num_rows and pc.all(pc.equal(walked["rel"], old["source_file"])).as_py():
        # the usual no-op rerun: the same files in the same order (walk order equals sorted order unless
        # names hold characters below "/"), so compare column to column without a join
        if pc.all(_unchanged(walked, old["size"], old["mtime_ns"])).as_py():
            return Plan(_empty(WALKED), walked.num_rows, [])
    prev = old.select(["source_file", "size", "mtime_ns", "part_id"]).rename_columns(["rel", "old_size", "old_mtime_ns", "old_part_id"])
    joined = walked.join(prev, keys="rel", join_type="left outer")
    pending_j = joined.filter(pc.invert(_unchanged(joined, joined["old_size"], joined["old_mtime_ns"]))).sort_by("order")
    unchanged = joined.num_rows - pending_j.num_rows
    gone = old.filter(pc.invert(pc.is_in(old["source_file"], value_set=walked["rel"])))
    removed = gone["source_file"].to_pylist()
    changed: dict[str, set[str]] = {}
    again = pending_j.filter(pc.is_valid(pending_j["old_part_id"]))
    for rel, pid in zip(again["rel"].to_pylist(), again["old_part_id"].to_pylist(), strict=True):
        changed.setdefault(pid, set()).add(rel)
    if prune:
        for rel, pid in zip(removed, gone["part_id"].to_pylist(), strict=True):
            changed.setdefault(pid, set()).add(rel)
    return Plan(pending_j.select(WALKED.names), unchanged, sorted(removed), changed, old_rows(old, again["rel"].to_pylist()))


def old_rows(old: pa.Table, rels: Iterable[str]) -> dict[str, dict[str, object]]:
    """The previous manifest rows of a few files, as dicts."""
    wanted = pa.array(sorted(set(rels)), pa.string())
    if len(wanted) == 0 or old.num_rows == 0:
        return {}
    return {r["source_file"]: r for r in old.filter(pc.is_in(old["source_file"], value_set=wanted)).to_pylist()}


def merge_manifest(old: pa.Table, new_rows: list[pa.Table], drop: Iterable[str], renamed: dict[str, str]) -> pa.Table:
    """Previous rows minus ``drop`` and those superseded by ``new_rows``, plus ``new_rows``; parts renamed; sorted."""
    dropped = sorted(set(drop))
    if not new_rows and not dropped and not renamed and _is_sorted(old["source_file"]):
        return old  # a no-op rerun: filtering, copying and sorting a million rows would take seconds
    new = pa.concat_tables(new_rows) if new_rows else _empty(INPUTS)
    # a no-op rerun drops nothing: no pa.array of an empty list, which would import pandas (0.7 s)
    gone = pa.concat_arrays([pa.array(dropped, pa.string()) if dropped else pa.nulls(0, pa.string()), new["source_file"].combine_chunks()])
    kept = old.filter(pc.invert(pc.is_in(old["source_file"], value_set=gone))) if old.num_rows else old
    merged = pa.concat_tables([kept, new]).combine_chunks()
    if renamed:
        olds = pa.array(list(renamed), pa.string())
        at = pc.index_in(merged["part_id"], value_set=olds)
        replaced = pc.take(pa.array(list(renamed.values()), pa.string()), at)
        at_part = merged.schema.get_field_index("part_id")  # the field, not its name: keeps its description
        merged = merged.set_column(at_part, merged.schema.field(at_part), pc.coalesce(replaced, merged["part_id"]))
    return merged.sort_by("source_file")


def _is_sorted(values: pa.ChunkedArray) -> bool:
    """Strictly ascending, as ``sort_by`` orders a column of unique strings (a manifest is kept so)."""
    col = values.combine_chunks()
    n = len(col)
    return n < 2 or (col.null_count == 0 and bool(pc.all(pc.less(col.slice(0, n - 1), col.slice(1))).as_py()))


def totals(manifest: pa.Table) -> tuple[int, int]:
    """Articles and rejects the manifest's files produced."""
    if manifest.num_rows == 0:
        return 0, 0
    return int(pc.sum(manifest["articles"]).as_py() or 0), int(pc.sum(manifest["rejects"]).as_py() or 0)


def next_seq(manifest: pa.Table) -> int:
    return 1 + (int(pc.max(manifest["seq"]).as_py() or 0) if manifest.num_rows else 0)


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What reading one input file gave: the manifest's facts about it."""

    rel: str
    size: int
    mtime_ns: int
    sha256: str  # '' when the file could not be read
    articles: int
    rejects: int


class ManifestUpdate:
    """The manifest as this build changes it, one parsed part at a time.

    A file read again whose bytes did not change (only its mtime did) keeps its old rows: it is left
    out of the new part and remembered as touched. Parts that lost files are rewritten by the caller.
    """

    def __init__(self, old: pa.Table, plan: Plan) -> None:
        self.old = old
        self.plan = plan
        self.seq = next_seq(old)
        self.new_rows: list[pa.Table] = []
        self.touched: list[dict[str, Any]] = []

    def add_part(self, part_id: str, files: Iterable[FileOutcome]) -> tuple[list[FileOutcome], set[str]]:
        """Record a parsed part; returns (files whose rows it now holds, files only touched)."""
        again = self.plan.previous
        cols: dict[str, list[Any]] = {n: [] for n in INPUTS.names}
        read: list[FileOutcome] = []
        touched: set[str] = set()
        for f in files:
            prev = again.get(f.rel)
            if prev is not None and f.sha256 and prev["sha256"] == f.sha256:
                self.touched.append({**prev, "size": f.size, "mtime_ns": f.mtime_ns})
                self.plan.changed_parts.get(str(prev["part_id"]), set()).discard(f.rel)
                touched.add(f.rel)
                continue
            for k, v in zip(INPUTS.names, (f.rel, f.size, f.mtime_ns, f.sha256, part_id, self.seq, f.articles, f.rejects), strict=True):
                cols[k].append(v)
            read.append(f)
        self.new_rows.append(pa.table(cols, schema=INPUTS))
        self.seq += 1
        return read, touched

    def finish(self, prune: bool, renamed: dict[str, str]) -> pa.Table:
        """The new manifest: previous rows, minus removed files under ``prune``, plus this build's rows."""
        rows = list(self.new_rows)
        if self.touched:
            rows.append(pa.Table.from_pylist(self.touched, schema=INPUTS))
        return merge_manifest(self.old, rows, self.plan.removed if prune else (), renamed)


def live_parts(manifest: pa.Table) -> list[str]:
    """The part ids the manifest's files live in."""
    # unique first: a million part ids as Python strings would take half a second
    return sorted(set(pc.unique(pc.drop_null(manifest["part_id"])).to_pylist()) - {""}) if manifest.num_rows else []
