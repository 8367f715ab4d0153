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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.engine import fresh_processes, serve_jobs
from pipelines.schema import NGRAM_BITS, SEARCH_DOCS, SEARCH_POSTINGS, SEARCH_ROWS, SEARCH_SEP
from pipelines.store import Store, TableWriter, stable_digest, write_parquet

FORMAT = 1
SEARCH_DIR = "search"
SEGMENT_CHARS = 32_000_000  # characters a segment holds at most: ~20 bytes a character in a worker, and under 2**25
# positions, so three 13-bit code-point ranks and a position fit one 64-bit word (see _sorted_trigrams)
CHUNK_CHARS = 2_000_000  # characters turned into code points and packed trigrams at a time (bounds temporaries)
WRITE_BATCH = 1_048_576  # sorted postings decoded and written at a time (32 row groups)
IN_PROCESS_CHARS = 8_000_000  # new text up to this is indexed in the publishing process (no pool to start)
SMALL_SEGMENTS = 8  # this many segments under a quarter of SEGMENT_CHARS are merged into one
POSTINGS_ROW_GROUP = 32_768  # a rare term decodes one small row group per segment
DOCS_ROW_GROUP = 64  # small: a snippet decodes one row group of bodies (100 snippets: 0.36 s at 256, 0.12 s at 64, files +18%)


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
    groups = _group(snap, todo)
    for units, _size in groups:
        seg_id = stable_digest("search", str(FORMAT), str(base), *(f"{u.part}:{u.lo}:{u.hi}" for u in units))
        jobs.append((seg_id, base, units))
        base += sum(u.hi - u.lo for u in units)
    new = _run_jobs(snap, jobs, workers, sum(size for _, size in groups))
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


def _group(snap: Path, todo: Sequence[Unit]) -> list[tuple[list[Unit], int]]:
    """Cut the row ranges into segments of at most SEGMENT_CHARS characters (a big part is split by
    rows); each with its size (characters, plus 64 an article)."""
    groups: list[tuple[list[Unit], int]] = []
    current: list[Unit] = []
    size = 0
    for unit in todo:
        chars = pq.read_table(snap / "articles" / f"part-{unit.part}.parquet", columns=["body_chars"]).column(0).to_numpy()[unit.lo : unit.hi]
        cost = np.cumsum(chars.astype(np.int64) + 64)  # + a title's worth
        lo, done = unit.lo, 0
        while lo < unit.hi:
            room = SEGMENT_CHARS - size
            # rows from lo on whose cumulative cost fits the room (cost counts from the unit's start)
            take = int(np.searchsorted(cost, done + room, side="right")) - (lo - unit.lo)
            if take == 0 and not current:
                take = 1  # one article larger than a segment gets a segment of its own
            if take == 0:
                groups.append((current, size))
                current, size = [], 0
                continue
            hi = min(unit.hi, lo + take)
            current.append(Unit(unit.part, lo, hi))
            size += int(cost[hi - unit.lo - 1] - done)
            done = int(cost[hi - unit.lo - 1])
            lo = hi
            if size >= SEGMENT_CHARS:
                groups.append((current, size))
                current, size = [], 0
    if current:
        groups.append((current, size))
    return groups


def _run_jobs(snap: Path, jobs: list[tuple[str, int, list[Unit]]], workers: int, chars: int) -> list[dict[str, Any]]:
    """Build the segments: small ones here, big ones in fresh processes (a segment needs ~20 bytes a
    character; a forked worker would also carry the publishing process's resident set)."""
    if not jobs:
        return []
    args = [(str(snap), seg_id, base, _units_json(units)) for seg_id, base, units in jobs]
    if chars <= IN_PROCESS_CHARS:
        return [build_segment(*a) for a in args]
    return fresh_processes("pipelines.publish.search_index", args, workers)


def build_segment(snap_dir: str, seg_id: str, base: int, units: list[list[Any]]) -> dict[str, Any]:
    """Worker task: index the given row ranges into ``<seg_id>.postings.parquet`` and ``<seg_id>.docs.parquet``."""
    snap = Path(snap_dir)
    out = snap / SEARCH_DIR
    docs = _read_docs(snap, [Unit(*u) for u in units], base)
    _write_docs(docs, out / f"{seg_id}.docs.parquet")
    titles, bodies = docs.column("title").combine_chunks(), docs.column("body").combine_chunks()
    del docs
    text = _SegmentText.of(titles, bodies)
    del titles, bodies
    postings = _write_postings(text, base, out / f"{seg_id}.postings.parquet")
    return {"id": seg_id, "base": base, "docs": len(text.lens), "chars": text.chars, "postings": postings, "units": units}


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


@dataclass
class _SegmentText:
    """A segment's text as one array of code points: ``title SEP body SEP`` for each article in turn."""

    cp: np.ndarray  # uint32 code points
    tlen: np.ndarray  # int64 title length of each article
    lens: np.ndarray  # int64 characters each article takes in ``cp`` (title + body + 2 separators)

    @property
    def chars(self) -> int:
        return int(self.lens.sum()) - 2 * len(self.lens)

    @classmethod
    def of(cls, titles: pa.Array, bodies: pa.Array) -> _SegmentText:
        tlen = pc.utf8_length(titles).to_numpy(zero_copy_only=False).astype(np.int64)
        blen = pc.utf8_length(bodies).to_numpy(zero_copy_only=False).astype(np.int64)
        lens = tlen + blen + 2
        ends = np.cumsum(lens)
        cp = np.empty(int(ends[-1]) if len(ends) else 0, np.uint32)
        sep = chr(SEARCH_SEP)
        start = 0
        # a few million characters at a time: this machine's memory is slow, its caches are not
        for stop in _chunk_bounds(ends, CHUNK_CHARS):
            text = pc.binary_join_element_wise(pc.binary_join_element_wise(titles[start:stop], bodies[start:stop], sep), "", sep)
            lo = int(ends[start - 1]) if start else 0
            cp[lo : int(ends[stop - 1])] = np.frombuffer("".join(text.to_pylist()).encode("utf-32-le"), np.uint32)
            start = stop
        return cls(cp, tlen, lens)


def _chunk_bounds(ends: np.ndarray, size: int) -> list[int]:
    """Article indexes that cut ``ends`` (cumulative lengths) into runs of about ``size`` characters."""
    if not len(ends):
        return []
    cuts = np.searchsorted(ends, np.arange(size, int(ends[-1]), size), side="left") + 1
    return [*dict.fromkeys(int(c) for c in cuts if 0 < c < len(ends)), len(ends)]


def _sorted_trigrams(cp: np.ndarray, word_bits: int = 64) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Every trigram position of ``cp`` (none whose first or second code point is SEP), sorted by
    (trigram, position), as ``(packed, alphabet, b, p)``: each uint64 of ``packed`` holds the trigram
    as three ranks of ``b`` bits into ``alphabet`` (the sorted distinct code points, so ranks sort as
    code points do) above the position in ``p`` bits.

    One sort of plain integers, not an argsort of keys: NumPy sorts values with SIMD, ~15x faster
    here. When three ranks and a position do not fit 64 bits (an alphabet beyond ~4,000 code points
    in a big segment), the positions are sorted by the last rank first and then, stably, by the
    first two (a two-digit radix sort; each pass is still one value sort); past that, the keys are
    argsorted (``b`` is then 0: ``packed`` holds bare positions)."""
    n = len(cp) - 2
    present = np.zeros(0x110000, np.bool_)
    for lo in range(0, len(cp), CHUNK_CHARS):
        present[cp[lo : lo + CHUNK_CHARS]] = True
    alphabet = np.flatnonzero(present).astype(np.uint32)
    rank = np.zeros(0x110000, np.uint32)
    rank[alphabet] = np.arange(len(alphabet), dtype=np.uint32)
    b = max(1, (len(alphabet) - 1).bit_length())
    p = max(1, n.bit_length())
    if n <= 0:
        return np.empty(0, np.uint64), alphabet, b, p
    one_pass = 3 * b + p <= word_bits  # word_bits below 64 lets tests take the other paths
    if 2 * b + p > word_bits:  # a hostile alphabet (hundreds of thousands of code points): sort the keys themselves
        c = cp.astype(np.int64)
        keys = (c[:-2] << (2 * NGRAM_BITS)) | (c[1:-1] << NGRAM_BITS) | c[2:]
        valid = np.flatnonzero((cp[:-2] != SEARCH_SEP) & (cp[1:-1] != SEARCH_SEP))
        return valid[np.argsort(keys[valid], kind="stable")].astype(np.uint64), alphabet, 0, p
    packed = np.empty(n, np.uint64)
    count = 0
    for lo in range(0, n, CHUNK_CHARS):
        hi = min(n, lo + CHUNK_CHARS)
        window = cp[lo : hi + 2]
        r = rank[window].astype(np.uint64)
        valid = np.flatnonzero((window[:-2] != SEARCH_SEP) & (window[1:-1] != SEARCH_SEP))
        if one_pass:
            digits = (r[valid] << np.uint64(2 * b)) | (r[valid + 1] << np.uint64(b)) | r[valid + 2]
        else:
            digits = r[valid + 2]
        packed[count : count + len(valid)] = (digits << np.uint64(p)) | (valid + lo).astype(np.uint64)
        count += len(valid)
    packed = packed[:count]
    packed.sort()
    if not one_pass:  # second digit: the first two ranks, ties kept in first-pass order
        mask = np.uint64((1 << p) - 1)
        pos = (packed & mask).astype(np.int64)
        r1 = rank[cp[pos]].astype(np.uint64)
        r2 = rank[cp[pos + 1]].astype(np.uint64)
        packed = (((r1 << np.uint64(b)) | r2) << np.uint64(p)) | np.arange(count, dtype=np.uint64)
        del r1, r2
        packed.sort()
        order = (packed & mask).astype(np.int64)
        packed = pos[order].astype(np.uint64)  # positions, now in (trigram, position) order
        del pos, order
        b = 0  # ``packed`` holds bare positions
    return packed, alphabet, b, p


def _doc_locator(starts: np.ndarray, n: int) -> Callable[[np.ndarray], np.ndarray]:
    """A function from positions to the article holding each (``starts``: each article's first position).

    A binary search per posting is most of the decoding time; instead a table gives the article at
    the start of every 64-character block, and the few positions past a later start in their block
    step forward (an article takes at least two positions, so at most 32 steps)."""
    blocks = np.searchsorted(starts, np.arange(0, n, 64, dtype=np.int64), side="right") - 1
    following = np.append(starts[1:], np.iinfo(np.int64).max)

    def locate(pos: np.ndarray) -> np.ndarray:
        doc = blocks[pos >> 6]
        ahead = np.flatnonzero(pos >= following[doc])
        while len(ahead):
            doc[ahead] += 1
            ahead = ahead[pos[ahead] >= following[doc[ahead]]]
        return doc

    return locate


def _write_postings(text: _SegmentText, base: int, path: Path, word_bits: int = 64) -> int:
    """Write the segment's postings sorted by (key, doc, off), a batch at a time; return how many.

    Postings come sorted by (trigram, position), and positions grow with (doc, off), so the file is
    sorted by (key, doc, off) with no sort of its rows."""
    packed, alphabet, b, p = _sorted_trigrams(text.cp, word_bits)
    starts = np.cumsum(text.lens) - text.lens
    locate = _doc_locator(starts, len(text.cp))
    body_start = starts + text.tlen + 1
    alpha = alphabet.astype(np.int64)
    mask = np.uint64((1 << p) - 1)
    rmask = np.uint64((1 << b) - 1) if b else np.uint64(0)
    encodings = {"key": "DELTA_BINARY_PACKED", "doc": "DELTA_BINARY_PACKED"}
    with TableWriter(SEARCH_POSTINGS, path, POSTINGS_ROW_GROUP, use_dictionary=["off"], column_encoding=encodings, data_page_version="2.0") as writer:
        for lo in range(0, len(packed), WRITE_BATCH):
            chunk = packed[lo : lo + WRITE_BATCH]
            pos = (chunk & mask).astype(np.int64)
            if b:
                digits = chunk >> np.uint64(p)
                c1 = alpha[(digits >> np.uint64(2 * b)).astype(np.int64)]
                c2 = alpha[((digits >> np.uint64(b)) & rmask).astype(np.int64)]
                c3 = alpha[(digits & rmask).astype(np.int64)]
            else:
                c1, c2, c3 = (text.cp[pos + i].astype(np.int64) for i in range(3))
            key = (c1 << (2 * NGRAM_BITS)) | (c2 << NGRAM_BITS) | c3
            doc = locate(pos)
            off = (pos - body_start[doc]).astype(np.int32)
            writer.write(pa.table({"key": key, "doc": doc + base, "off": off}))
    return len(packed)


def _write_rows(snap: Path, segments: Sequence[dict[str, Any]]) -> int:
    """``search/rows.parquet``: each live indexed article's row in article_facts; returns how many."""
    out = snap / SEARCH_DIR / "rows.parquet"
    if not segments:
        write_parquet(SEARCH_ROWS, SEARCH_ROWS.empty(), out)
        return 0
    docs = ", ".join("'" + (snap / SEARCH_DIR / f"{s['id']}.docs.parquet").as_posix().replace("'", "''") + "'" for s in segments)
    facts = (snap / "aggregates" / "article_facts.parquet").as_posix().replace("'", "''")
    con = duckdb.connect()
    spill = snap / SEARCH_DIR / ".rows-spill"
    try:
        con.execute("SET threads TO 2")
        # the join holds a key per indexed article (10M at 10M): bounded, spilling past the budget
        con.execute("SET memory_limit = '512MB'")
        con.execute(f"SET temp_directory = '{spill.as_posix()}'")
        con.execute("SET enable_progress_bar = false")
        table = con.sql(
            f"""SELECT d.doc, f.file_row_number AS facts_row
                FROM read_parquet([{docs}]) d
                JOIN read_parquet('{facts}', file_row_number = true) f
                  ON f.article_id = d.article_id AND f.part = 'part-' || d.part || '.parquet'
                ORDER BY d.doc"""
        ).to_arrow_table()
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    write_parquet(SEARCH_ROWS, SEARCH_ROWS.conform(table), out)
    return table.num_rows


if __name__ == "__main__":  # a fresh process of _run_jobs
    serve_jobs(build_segment)
