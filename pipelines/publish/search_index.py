"""The full-text search index of a snapshot: trigram postings with positions, built incrementally.

Layout (``<snapshot>/search/``)::

    manifest.json               segments (their parts and row ranges, doc numbers), sizes, timings
    <seg>.postings.parquet      schema.SEARCH_POSTINGS, sorted by (key, doc, off)
    <seg>.docs.parquet          schema.SEARCH_DOCS: doc number, part, article_id, title, body
    rows.parquet                schema.SEARCH_ROWS: doc number -> row of aggregates/article_facts.parquet

A segment indexes row ranges of parsed parts; it never changes once written, so the next snapshot
hard-links it (a part's text never changes under its id: relabelling changes labels, not text).
Only parts no segment covers are indexed; a segment whose parts are mostly gone, and a crowd of
small segments, are indexed again. ``rows.parquet`` is rebuilt each publish: it joins the segments'
(part, article_id) to the snapshot's article_facts, so articles no longer published drop out and the
index can only answer with rows of the snapshot it was published with.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.engine import executor
from pipelines.schema import NGRAM_BITS, SEARCH_DOCS, SEARCH_POSTINGS, SEARCH_ROWS, SEARCH_SEP
from pipelines.store import Store, TableWriter, stable_digest, write_parquet

FORMAT = 1
SEARCH_DIR = "search"
SEGMENT_CHARS = 40_000_000  # characters a segment holds at most (bounds a worker's memory, ~1.5 GB)
CHUNK_CHARS = 4_000_000  # characters turned into postings at a time (keeps numpy temporaries in cache)
SMALL_SEGMENTS = 8  # this many segments under a quarter of SEGMENT_CHARS are merged into one
POSTINGS_ROW_GROUP = 32_768  # a rare term decodes one small row group per segment
DOCS_ROW_GROUP = 256  # small: a snippet reads one row group, not a part's worth of bodies


@dataclass(frozen=True)
class Unit:
    """Rows [lo, hi) of the article part of parsed part ``part``."""

    part: str
    lo: int
    hi: int


def _units_json(units: Sequence[Unit]) -> list[list[Any]]:
    return [[u.part, u.lo, u.hi] for u in units]


def read_manifest(search_dir: Path) -> dict[str, Any] | None:
    """The index manifest of a snapshot when it is of this format and every file it names exists."""
    try:
        man = json.loads((search_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        return None
    names = [f"{s['id']}.{kind}.parquet" for s in man.get("segments", []) for kind in ("postings", "docs")]
    return man if all((search_dir / n).is_file() for n in names) else None


def build_search_index(snap: Path, previous: Path | None, part_ids: Sequence[str], workers: int = 1) -> dict[str, Any]:
    """Write ``snap/search``: reuse the previous snapshot's segments, index what they lack, map to facts."""
    started = time.monotonic()
    out = snap / SEARCH_DIR
    out.mkdir(parents=True, exist_ok=True)
    prev_dir = previous / SEARCH_DIR if previous is not None else None
    prev = read_manifest(prev_dir) if prev_dir is not None else None
    rows = {pid: pq.read_metadata(snap / "articles" / f"part-{pid}.parquet").num_rows for pid in part_ids}
    kept, todo = _plan(prev, rows)
    for seg in kept:
        for kind in ("postings", "docs"):
            Store.link_into(prev_dir / f"{seg['id']}.{kind}.parquet", out / f"{seg['id']}.{kind}.parquet")  # type: ignore[operator]
    base = int(prev["next_doc"]) if prev else 0
    jobs = []
    for units in _group(snap, todo):
        seg_id = stable_digest("search", str(FORMAT), str(base), *(f"{u.part}:{u.lo}:{u.hi}" for u in units))
        jobs.append((seg_id, base, units))
        base += sum(u.hi - u.lo for u in units)
    new = _run_jobs(snap, jobs, workers)
    segments = kept + new
    facts_rows = _write_rows(snap, segments)
    manifest = {
        "format": FORMAT,
        "segments": segments,
        "next_doc": base,
        "indexed_docs": facts_rows,
        "new_docs": sum(s["docs"] for s in new),
        "facts_rows": pq.read_metadata(snap / "aggregates" / "article_facts.parquet").num_rows,
        "facts_bytes": (snap / "aggregates" / "article_facts.parquet").stat().st_size,
        "bytes": sum(f.stat().st_size for f in out.glob("*.parquet")),
        "seconds": round(time.monotonic() - started, 2),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def _plan(prev: dict[str, Any] | None, rows: dict[str, int]) -> tuple[list[dict[str, Any]], list[Unit]]:
    """(segments to keep as they are, row ranges of live parts to index now)."""
    kept: list[dict[str, Any]] = []
    covered: set[str] = set()
    redo: list[Unit] = []
    for seg in (prev or {}).get("segments", []):
        units = [Unit(p, lo, hi) for p, lo, hi in seg["units"]]
        live = [u for u in units if rows.get(u.part) is not None and u.hi <= rows[u.part]]
        if 2 * sum(u.hi - u.lo for u in live) < seg["docs"]:
            redo += live  # mostly gone: its live rows are indexed again, the rest is dropped
        else:
            kept.append(seg)
    small = [s for s in kept if s["chars"] < SEGMENT_CHARS // 4]
    if len(small) >= SMALL_SEGMENTS:  # many small publishes: merge their segments into one
        kept = [s for s in kept if s not in small]
        redo += [Unit(p, lo, hi) for s in small for p, lo, hi in s["units"] if p in rows]
    for seg in kept:
        covered.update(p for p, _lo, _hi in seg["units"])
    redo_parts = {u.part for u in redo}
    todo = [u for u in redo if u.part not in covered]
    todo += [Unit(p, 0, n) for p, n in rows.items() if p not in covered and p not in redo_parts and n > 0]
    return kept, sorted(todo, key=lambda u: (u.part, u.lo))


def _group(snap: Path, todo: Sequence[Unit]) -> list[list[Unit]]:
    """Cut the row ranges into segments of at most SEGMENT_CHARS characters (a big part is split by rows)."""
    groups: list[list[Unit]] = []
    current: list[Unit] = []
    size = 0
    for unit in todo:
        chars = pq.read_table(snap / "articles" / f"part-{unit.part}.parquet", columns=["body_chars"]).column(0).to_numpy()[unit.lo : unit.hi]
        cost = np.cumsum(chars.astype(np.int64) + 64)  # + a title's worth
        lo, done = unit.lo, 0
        while lo < unit.hi:
            room = SEGMENT_CHARS - size
            take = int(np.searchsorted(cost - done, room, side="right"))
            if take == 0 and not current:
                take = 1  # one article larger than a segment gets a segment of its own
            if take == 0:
                groups.append(current)
                current, size = [], 0
                continue
            hi = min(unit.hi, lo + take)
            current.append(Unit(unit.part, lo, hi))
            size += int(cost[hi - unit.lo - 1] - done)
            done = int(cost[hi - unit.lo - 1])
            lo = hi
            if size >= SEGMENT_CHARS:
                groups.append(current)
                current, size = [], 0
    if current:
        groups.append(current)
    return groups


def _run_jobs(snap: Path, jobs: list[tuple[str, int, list[Unit]]], workers: int) -> list[dict[str, Any]]:
    if not jobs:
        return []
    args = [(str(snap), seg_id, base, _units_json(units), 2 if len(jobs) == 1 else 1) for seg_id, base, units in jobs]
    if len(jobs) == 1 or workers <= 1:
        return [build_segment(*a) for a in args]
    with executor("local", min(workers, len(jobs))) as pool:
        return [f.result() for f in [pool.submit(build_segment, *a) for a in args]]


def build_segment(snap_dir: str, seg_id: str, base: int, units: list[list[Any]], threads: int = 1) -> dict[str, Any]:
    """Worker task: index the given row ranges into ``<seg_id>.postings.parquet`` and ``<seg_id>.docs.parquet``."""
    snap = Path(snap_dir)
    out = snap / SEARCH_DIR
    docs = _read_docs(snap, [Unit(*u) for u in units], base)
    _write_docs(docs, out / f"{seg_id}.docs.parquet")
    titles, bodies = docs.column("title").combine_chunks(), docs.column("body").combine_chunks()
    keys, doc_nos, offs = _postings(titles, bodies, base)
    chars = int(pc.sum(pc.utf8_length(titles)).as_py() or 0) + int(pc.sum(pc.utf8_length(bodies)).as_py() or 0)
    _write_postings(pa.table({"key": keys, "doc": doc_nos, "off": offs}), out / f"{seg_id}.postings.parquet", snap, threads)
    return {"id": seg_id, "base": base, "docs": docs.num_rows, "chars": chars, "postings": len(keys), "units": units}


def _read_docs(snap: Path, units: Sequence[Unit], base: int) -> pa.Table:
    tables = []
    for u in units:
        t = pq.read_table(snap / "articles" / f"part-{u.part}.parquet", columns=["article_id", "title", "body"]).slice(u.lo, u.hi - u.lo)
        tables.append(t.append_column("part", pa.array([u.part] * t.num_rows, pa.string())))
    t = pa.concat_tables(tables)
    n = t.num_rows
    cols = {
        "doc": pa.array(np.arange(base, base + n, dtype=np.int64)),
        "part": t.column("part"),
        "article_id": t.column("article_id"),
        "title": pc.fill_null(t.column("title"), ""),
        "body": pc.fill_null(t.column("body"), ""),
    }
    return SEARCH_DOCS.conform(pa.table(cols))


def _write_docs(docs: pa.Table, path: Path) -> None:
    write_parquet(SEARCH_DOCS, docs, path, row_group_size=DOCS_ROW_GROUP)


def _postings(titles: pa.Array, bodies: pa.Array, base: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every trigram of every ``title SEP body SEP`` as (key, doc number, offset from the body start)."""
    n = len(titles)
    tlen = pc.utf8_length(titles).to_numpy(zero_copy_only=False).astype(np.int64)
    blen = pc.utf8_length(bodies).to_numpy(zero_copy_only=False).astype(np.int64)
    lens = tlen + blen + 2
    keys, docs, offs = [], [], []
    start = 0
    bounds = np.searchsorted(np.cumsum(lens), np.arange(CHUNK_CHARS, int(lens.sum()) + CHUNK_CHARS, CHUNK_CHARS), side="right")
    for stop in [*dict.fromkeys(int(b) for b in bounds if b > 0), n]:
        if stop <= start:
            continue
        k, d, o = _chunk_postings(titles[start:stop], bodies[start:stop], tlen[start:stop], lens[start:stop])
        keys.append(k)
        docs.append(d + (base + start))
        offs.append(o)
        start = stop
    if not keys:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32)
    return np.concatenate(keys), np.concatenate(docs), np.concatenate(offs)


def _chunk_postings(titles: pa.Array, bodies: pa.Array, tlen: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sep = chr(SEARCH_SEP)
    text = pc.binary_join_element_wise(pc.binary_join_element_wise(titles, bodies, sep), "", sep)
    cp = np.frombuffer("".join(text.to_pylist()).encode("utf-32-le"), np.uint32)
    # a code point SEP inside the text is a separator too: no query term holds it
    first, second = cp[:-2], cp[1:-1]
    valid = np.flatnonzero((first != SEARCH_SEP) & (second != SEARCH_SEP))
    c = cp.astype(np.int64)
    key = (c[:-2] << (2 * NGRAM_BITS)) | (c[1:-1] << NGRAM_BITS) | c[2:]
    doc = np.repeat(np.arange(len(lens), dtype=np.int64), lens)[: len(cp) - 2]
    body_start = np.cumsum(lens) - lens + tlen + 1
    off = (np.arange(len(cp) - 2, dtype=np.int64) - body_start[doc]).astype(np.int32)
    return key[valid], doc[valid], off[valid]


def _write_postings(table: pa.Table, path: Path, snap: Path, threads: int) -> None:
    """Sort by (key, doc, off) with DuckDB (spilling to disk when it must) and write with delta encoding."""
    con = duckdb.connect()
    spill = snap / f".search-spill-{path.stem}"
    try:
        con.execute(f"SET threads TO {int(threads)}")
        con.execute("SET memory_limit = '512MB'")  # the build's processes stay under 1 GB; the sort spills
        con.execute(f"SET temp_directory = '{spill.as_posix()}'")
        con.execute("SET enable_progress_bar = false")
        con.register("postings", table)
        reader = con.sql("SELECT key, doc, off FROM postings ORDER BY key, doc, off").to_arrow_reader(POSTINGS_ROW_GROUP)
        schema = SEARCH_POSTINGS.arrow_schema()
        encodings = {"key": "DELTA_BINARY_PACKED", "doc": "DELTA_BINARY_PACKED"}
        with TableWriter(SEARCH_POSTINGS, path, POSTINGS_ROW_GROUP, use_dictionary=["off"], column_encoding=encodings, data_page_version="2.0") as writer:
            for batch in reader:
                writer.write(pa.Table.from_batches([batch]).cast(schema))
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _write_rows(snap: Path, segments: Sequence[dict[str, Any]]) -> int:
    """``search/rows.parquet``: each live indexed article's row in article_facts; returns how many."""
    out = snap / SEARCH_DIR / "rows.parquet"
    if not segments:
        write_parquet(SEARCH_ROWS, SEARCH_ROWS.empty(), out)
        return 0
    docs = ", ".join("'" + (snap / SEARCH_DIR / f"{s['id']}.docs.parquet").as_posix().replace("'", "''") + "'" for s in segments)
    facts = (snap / "aggregates" / "article_facts.parquet").as_posix().replace("'", "''")
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 2")
        table = con.sql(
            f"""SELECT d.doc, f.file_row_number AS facts_row
                FROM read_parquet([{docs}]) d
                JOIN read_parquet('{facts}', file_row_number = true) f
                  ON f.article_id = d.article_id AND f.part = 'part-' || d.part || '.parquet'
                ORDER BY d.doc"""
        ).to_arrow_table()
    finally:
        con.close()
    write_parquet(SEARCH_ROWS, SEARCH_ROWS.conform(table), out)
    return table.num_rows
