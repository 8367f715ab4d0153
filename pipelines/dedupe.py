"""Exact and near-duplicate detection: SimHash over character 4-grams, banded index.

A reprint with small edits (a changed dateline, a dropped paragraph) keeps most 4-grams, so its
64-bit SimHash differs from the original's in a few bits. Two bodies are near-duplicates when
their hashes differ in at most ``NEAR_BITS`` bits, share at least one of four 16-bit bands (the
index key: it keeps lookups cheap at millions of rows and finds every pair within 3 bits, most
within 6) and both have at least ``MIN_CHARS`` characters (short texts collide too easily).

Threshold measured on the development corpus (868 files): every pair of distinct bodies within 6
bits was a true reprint (3 pairs: a re-posted charity notice, a SogouC story and its copy, a
business story with two datelines); distinct stories were 9+ bits apart. On reprints built from
corpus articles (tests/test_dedupe.py) 6 bits finds ~80% of outlet-prefix/editor-line reprints and
~90% of 2-character edits overall, over 90% for bodies of 800+ characters.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.schema import DUPLICATES
from pipelines.store import write_parquet

NEAR_BITS = 6
MIN_CHARS = 200
_BANDS = 4  # 16-bit bands: pigeonhole guarantees pairs within 3 bits share one


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()


def _key(s: str) -> bytes:
    return s.encode("utf-8", "surrogatepass")


def _hash128(content_hash: str) -> tuple[int, int]:
    """The content hash as two 64-bit halves (it is 32 hex digits; anything else is hashed to 128 bits)."""
    try:
        if len(content_hash) == 32:
            return int(content_hash[:16], 16), int(content_hash[16:], 16)
    except ValueError:
        pass
    v = int.from_bytes(hashlib.blake2b(_key(content_hash), digest_size=16).digest(), "big")
    return v >> 64, v & 0xFFFFFFFFFFFFFFFF


_BUCKETS = 1 << 16
_HASH_REC = np.dtype([("hi", "<u8"), ("lo", "<u8"), ("entry", "<i8")])
_BAND_REC = np.dtype([("sim", "<u8"), ("entry", "<i8")])
_ID_BYTES = 32  # article ids are 16 hex digits; longer ones stay in memory
_EMPTY_BAND = np.zeros(0, dtype=_BAND_REC)


class _Segment:
    """An immutable run of folded entries in one file: hash records (bucketed by the top 16 bits of
    the content hash), then for each band the SimHash records (bucketed by that band's 16 bits),
    each bucket in entry order. Only the bucket offsets stay in memory; a lookup reads one bucket
    with ``os.pread`` (page cache, not the process's memory)."""

    def __init__(self, path: Path, n: int, n_sims: int, hash_starts: np.ndarray, band_starts: list[np.ndarray]) -> None:
        self.path, self.n, self.n_sims = path, n, n_sims
        self.hash_starts, self.band_starts = hash_starts, band_starts
        self.band_offset = [n * _HASH_REC.itemsize + b * n_sims * _BAND_REC.itemsize for b in range(_BANDS)]
        self.fd = os.open(path, os.O_RDONLY)

    @classmethod
    def write(cls, path: Path, hashes: np.ndarray, sims: np.ndarray) -> _Segment:
        """``hashes`` (_HASH_REC) of every entry; ``sims`` (_BAND_REC) of those with a usable SimHash."""
        hashes = hashes[np.lexsort((hashes["lo"], hashes["hi"]))]
        hash_starts = np.searchsorted(hashes["hi"] >> np.uint64(48), np.arange(_BUCKETS + 1, dtype=np.uint64))
        sections, band_starts = [hashes], []
        for b in range(_BANDS):
            key = (sims["sim"] >> np.uint64(16 * b)) & np.uint64(0xFFFF)
            order = np.lexsort((sims["entry"], key))  # within a bucket, first seen first
            sections.append(sims[order])
            band_starts.append(np.searchsorted(key[order], np.arange(_BUCKETS + 1, dtype=np.uint64)))
        with open(path, "wb") as fh:
            for sec in sections:
                fh.write(sec.tobytes())
        return cls(path, len(hashes), len(sims), hash_starts, band_starts)

    def _read(self, dtype: np.dtype, offset: int, lo: int, hi: int) -> np.ndarray:
        return np.frombuffer(os.pread(self.fd, (hi - lo) * dtype.itemsize, offset + lo * dtype.itemsize), dtype=dtype)

    def hash_bucket(self, hi: int) -> bytes:
        """The raw hash records whose content hash shares ``hi``'s top 16 bits."""
        k = hi >> 48
        a, b = int(self.hash_starts[k]), int(self.hash_starts[k + 1])
        return os.pread(self.fd, (b - a) * _HASH_REC.itemsize, a * _HASH_REC.itemsize) if b > a else b""

    def band_bucket(self, band: int, key: int) -> bytes:
        """The raw SimHash records of ``band``'s bucket ``key``, in entry order."""
        starts = self.band_starts[band]
        a, b = int(starts[key]), int(starts[key + 1])
        if b == a:
            return b""
        return os.pread(self.fd, (b - a) * _BAND_REC.itemsize, self.band_offset[band] + a * _BAND_REC.itemsize)

    def read_all(self) -> tuple[np.ndarray, np.ndarray]:
        hashes = self._read(_HASH_REC, 0, 0, self.n)
        return hashes, self._read(_BAND_REC, self.band_offset[0], 0, self.n_sims)

    def close(self) -> None:
        os.close(self.fd)
        self.path.unlink(missing_ok=True)


class DuplicateIndex:
    """First-seen index of content hashes and SimHashes; feed articles in ingest order.

    Its memory does not grow with the corpus: recent entries sit in dicts, and every ``_FRESH`` of
    them are written to an immutable segment file on disk (``spill_dir``, a temporary folder by
    default), of which only the bucket offsets stay in memory. Segments of equal size are merged
    (up to ``_MERGE_MAX`` entries), so a lookup reads a handful of buckets. Lookups keep the order
    of first sight: among the closest SimHashes, the one in the lowest band, first seen, wins.
    """

    _FRESH = 65_536
    _MERGE_MAX = 2_000_000

    def __init__(self, spill_dir: Path | None = None) -> None:
        self._tmp = None if spill_dir is not None else tempfile.TemporaryDirectory(prefix="dupindex-")
        self._dir = Path(spill_dir if spill_dir is not None else self._tmp.name)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._segments: list[_Segment] = []
        self._n_frozen = 0
        self._ids: list[str] = []  # article ids of recent entries; older ones are in the ids file
        self._long_ids: dict[int, str] = {}  # older ids that do not fit a fixed-width record
        self._ids_file = open(self._dir / "ids.bin", "w+b")  # closed in close()
        self._hash_fresh: dict[str, int] = {}  # content hash → entry number
        # per band, recent bucket key → [(SimHash as unsigned 64-bit, entry)]
        self._bands: list[dict[int, list[tuple[int, int]]]] = [{} for _ in range(_BANDS)]
        self._sims_fresh: list[tuple[int, int]] = []
        self._seq = 0

    def __len__(self) -> int:
        return self._n_frozen + len(self._ids)

    def close(self) -> None:
        """Remove the spill files (also done when the index is garbage-collected)."""
        for seg in self._segments:
            seg.close()
        self._segments = []
        if not self._ids_file.closed:
            self._ids_file.close()
        if self._tmp is not None:
            self._tmp.cleanup()
        else:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def _article(self, entry: int) -> str:
        if entry >= self._n_frozen:
            return self._ids[entry - self._n_frozen]
        if (long := self._long_ids.get(entry)) is not None:
            return long
        raw = os.pread(self._ids_file.fileno(), _ID_BYTES, entry * _ID_BYTES)
        return raw.rstrip(b"\x00").decode("utf-8", "surrogatepass")

    def _new_entry(self, article_id: str, content_hash: str) -> int:
        entry = len(self)
        self._ids.append(article_id)
        self._hash_fresh[content_hash] = entry
        if len(self._hash_fresh) >= self._FRESH:
            self._fold()
        return entry

    def _first_with_hash(self, content_hash: str) -> int | None:
        if (e := self._hash_fresh.get(content_hash)) is not None:
            return e
        if self._segments:
            hi, lo = _hash128(content_hash)
            raw = b"".join([seg.hash_bucket(hi) for seg in self._segments])
            if raw:
                recs = np.frombuffer(raw, dtype=_HASH_REC)
                hit = np.flatnonzero((recs["hi"] == np.uint64(hi)) & (recs["lo"] == np.uint64(lo)))
                if len(hit):
                    return int(recs["entry"][hit[0]])
        return None

    def add(self, article_id: str, content_hash: str, sim: int | None, chars: int) -> str | None:
        """Register an article; return the article_id it duplicates, or None if it is first."""
        if (first := self._first_with_hash(content_hash)) is not None:
            return self._article(first)
        entry = self._new_entry(article_id, content_hash)
        if sim is None or chars < MIN_CHARS:
            return None
        u = sim & 0xFFFFFFFFFFFFFFFF
        keys = [(u >> (16 * i)) & 0xFFFF for i in range(_BANDS)]
        # the closest earlier SimHash within NEAR_BITS; ties go to the lowest band, then the first seen
        # (on disk, older than any in memory): (distance, band, 0 on disk / 1 in memory)
        best: tuple[int, int, int] = (NEAR_BITS + 1, 0, 0)
        best_entry = -1
        if self._segments:
            parts = [seg.band_bucket(b, key) for b, key in enumerate(keys) for seg in self._segments]
            if any(parts):
                sizes = [len(x) // _BAND_REC.itemsize for x in parts]
                recs = np.frombuffer(b"".join(parts), dtype=_BAND_REC)
                d = np.bitwise_count(recs["sim"] ^ np.uint64(u))
                i = int(np.argmin(d))  # the first minimum: lowest band, oldest segment, first seen
                if d[i] <= NEAR_BITS:
                    band = bisect_right(list(accumulate(sizes)), i) // len(self._segments)
                    best, best_entry = (int(d[i]), band, 0), int(recs["entry"][i])
        for b, key in enumerate(keys):
            for other, other_entry in self._bands[b].get(key, ()):
                cand = ((other ^ u).bit_count(), b, 1)
                if cand < best:
                    best, best_entry = cand, other_entry
        if best_entry >= 0:
            return self._article(best_entry)
        for band, key in zip(self._bands, keys, strict=True):
            band.setdefault(key, []).append((u, entry))
        self._sims_fresh.append((u, entry))
        return None

    def _fold(self) -> None:
        """Write the recent entries to a new segment file; merge segments of equal size."""
        first = self._n_frozen
        ids = self._ids
        width = np.zeros(len(ids), dtype=f"S{_ID_BYTES}")
        for k, aid in enumerate(ids):
            raw = _key(aid)
            if len(raw) > _ID_BYTES or raw.endswith(b"\x00"):
                self._long_ids[first + k] = aid
            else:
                width[k] = raw
        self._ids_file.seek(first * _ID_BYTES)
        self._ids_file.write(width.tobytes())
        self._ids_file.flush()
        halves = [_hash128(k) for k in self._hash_fresh]
        hashes = np.empty(len(halves), dtype=_HASH_REC)
        hashes["hi"] = [h for h, _ in halves]
        hashes["lo"] = [x for _, x in halves]
        hashes["entry"] = np.fromiter(self._hash_fresh.values(), dtype=np.int64, count=len(halves))
        sims = np.array(self._sims_fresh, dtype=np.uint64).reshape(-1, 2)
        sim_recs = np.empty(len(sims), dtype=_BAND_REC)
        sim_recs["sim"], sim_recs["entry"] = sims[:, 0], sims[:, 1].astype(np.int64)
        self._segments.append(self._new_segment(hashes, sim_recs))
        self._n_frozen += len(ids)
        self._ids, self._hash_fresh, self._sims_fresh = [], {}, []
        self._bands = [{} for _ in range(_BANDS)]
        segs = self._segments
        while len(segs) >= 2 and segs[-1].n >= segs[-2].n and segs[-1].n + segs[-2].n <= self._MERGE_MAX:
            older, newer = segs[-2], segs[-1]
            (h1, s1), (h2, s2) = older.read_all(), newer.read_all()
            merged = self._new_segment(np.concatenate([h1, h2]), np.concatenate([s1, s2]))
            older.close()
            newer.close()
            segs[-2:] = [merged]

    def _new_segment(self, hashes: np.ndarray, sims: np.ndarray) -> _Segment:
        self._seq += 1
        return _Segment.write(self._dir / f"segment-{self._seq:06d}.bin", hashes, sims)

    def extend(self, rows: Iterable[tuple[str, str, int | None, int, str | None]]) -> None:
        """Load already-published rows (id, hash, simhash, chars, duplicate_of); originals only are indexed."""
        for aid, chash, sim, chars, dup in rows:
            if dup is None:
                self.add(aid, chash, sim, chars)
            elif self._first_with_hash(chash) is None:
                # a near-copy's own text: later exact copies of it point to the same original
                self._new_entry(dup, chash)


# --- the dedupe phase ---------------------------------------------------------------------------


def mark_duplicates(index: DuplicateIndex, keys: dict[str, list[Any]]) -> dict[str, str]:
    """Feed a part's articles to the index in order; the ones that repeat an earlier article → its id."""
    dups: dict[str, str] = {}
    for aid, chash, sim, chars in zip(keys["article_id"], keys["content_hash"], keys["simhash"], keys["body_chars"], strict=True):
        first = index.add(aid, chash, sim, chars)
        if first is not None and first != aid:
            dups[aid] = first
    return dups


def load_duplicate_index(snapshot: Path, manifest: pa.Table, index: DuplicateIndex, exclude: Iterable[str], spill_dir: Path | None = None) -> None:
    """Feed the published articles into the index in ingest order (their part's seq, then file, then id).

    DuckDB sorts them with a memory cap, spilling to ``spill_dir``, and hands them over a batch at a
    time: neither the sort nor the Python side holds the whole corpus."""
    import duckdb

    articles_dir = snapshot / "articles"
    if not articles_dir.exists() or not any(articles_dir.glob("*.parquet")):
        return
    with tempfile.TemporaryDirectory(prefix="dupindex-sort-", dir=spill_dir) as spill:
        con = duckdb.connect()
        try:
            con.execute("SET threads TO 2")
            con.execute("SET memory_limit = '256MB'")
            con.execute("SET preserve_insertion_order = true")
            con.execute(f"SET temp_directory = '{Path(spill).as_posix()}'")
            seqs = manifest.select(["source_file", "seq"])
            excluded = pa.table({"source_file": pa.array(sorted(set(exclude)), pa.string())})
            con.register("seqs", seqs)
            con.register("excluded", excluded)
            art = (articles_dir.as_posix() + "/*.parquet").replace("'", "''")
            rel = con.sql(f"""
                SELECT a.article_id, a.content_hash, a.simhash, a.body_chars, a.duplicate_of
                FROM read_parquet('{art}') a LEFT JOIN seqs s USING (source_file)
                WHERE a.source_file NOT IN (SELECT source_file FROM excluded)
                ORDER BY coalesce(s.seq, 0), a.source_file, a.article_id""")
            # (DuckDB 2 names it to_arrow_reader; 1.x fetch_record_batch)
            reader = rel.to_arrow_reader(65_536) if hasattr(rel, "to_arrow_reader") else rel.fetch_record_batch(65_536)
            names = ("article_id", "content_hash", "simhash", "body_chars", "duplicate_of")
            for batch in reader:  # Python objects a slice at a time
                index.extend(zip(*(batch.column(c).to_pylist() for c in names), strict=True))
        finally:
            con.close()


def write_duplicates(dups: dict[str, str], path: Path) -> None:
    """A part's duplicate marks (article id → the first-seen copy), read back when the part is labelled."""
    write_parquet(DUPLICATES, pa.table({"article_id": list(dups), "duplicate_of": list(dups.values())}, schema=DUPLICATES.arrow_schema()), path)
