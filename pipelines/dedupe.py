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

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

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


class DuplicateIndex:
    """First-seen index of content hashes and SimHashes; feed articles in ingest order.

    Compact, because it holds every article of the dataset in the build's main process (~100 bytes
    an article instead of ~500 as Python objects): recent entries sit in dicts, and every ``_FRESH``
    of them are folded into sorted typed arrays. Buckets keep insertion order (older folded entries
    first), so the article a copy points to is the first seen of the closest.
    """

    _FRESH = 65_536

    def __init__(self) -> None:
        self._ids: list[str] = []  # article ids of recent entries; older ones live in _id_arr
        self._id_arr = np.zeros(0, dtype="S1")
        self._n_frozen = 0
        # exact: content hash → entry number
        self._hash_fresh: dict[str, int] = {}
        self._hash_hi = array("Q")  # folded hashes sorted by (hi, lo), with their entries
        self._hash_lo = array("Q")
        self._hash_vals = array("q")
        # near: per band, recent bucket key → [(SimHash as unsigned 64-bit, entry)], and the folded ones:
        # SimHashes and entries sorted by bucket key (stable), bucket k at [starts[k], starts[k + 1])
        self._bands: list[dict[int, list[tuple[int, int]]]] = [{} for _ in range(_BANDS)]
        self._band_sims = [array("Q") for _ in range(_BANDS)]
        self._band_entries = [array("i") for _ in range(_BANDS)]
        self._band_starts = [array("q", bytes(8 * ((1 << 16) + 1))) for _ in range(_BANDS)]

    def __len__(self) -> int:
        return self._n_frozen + len(self._ids)

    def _article(self, entry: int) -> str:
        if entry >= self._n_frozen:
            return self._ids[entry - self._n_frozen]
        return bytes(self._id_arr[entry]).decode("utf-8", "surrogatepass")

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
        if self._hash_hi:
            hi, lo = _hash128(content_hash)
            i = bisect_left(self._hash_hi, hi)
            n = len(self._hash_hi)
            while i < n and self._hash_hi[i] == hi:
                if self._hash_lo[i] == lo:
                    return self._hash_vals[i]
                i += 1
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
        best_d = NEAR_BITS + 1
        best = -1
        for b, key in enumerate(keys):
            lo, hi = self._band_starts[b][key], self._band_starts[b][key + 1]
            if hi > lo:
                for other, other_entry in zip(self._band_sims[b][lo:hi], self._band_entries[b][lo:hi], strict=True):
                    d = (other ^ u).bit_count()
                    if d < best_d:
                        best_d, best = d, other_entry
            for other, other_entry in self._bands[b].get(key, ()):
                d = (other ^ u).bit_count()
                if d < best_d:
                    best_d, best = d, other_entry
        if best >= 0:
            return self._article(best)
        for band, key in zip(self._bands, keys, strict=True):
            band.setdefault(key, []).append((u, entry))
        return None

    def _fold(self) -> None:
        """Move the recent ids and content hashes into sorted arrays."""
        self._id_arr = np.concatenate([self._id_arr, np.array([_key(i) for i in self._ids])])  # 'S16' for 16-hex ids
        self._n_frozen = len(self._id_arr)
        self._ids = []
        halves = [_hash128(k) for k in self._hash_fresh]
        hi = np.concatenate([np.frombuffer(self._hash_hi, dtype=np.uint64), np.array([h for h, _ in halves], dtype=np.uint64)])
        lo = np.concatenate([np.frombuffer(self._hash_lo, dtype=np.uint64), np.array([x for _, x in halves], dtype=np.uint64)])
        vals = np.concatenate([np.frombuffer(self._hash_vals, dtype=np.int64), np.fromiter(self._hash_fresh.values(), dtype=np.int64)])
        order = np.lexsort((lo, hi))
        self._hash_hi, self._hash_lo = array("Q", hi[order].tobytes()), array("Q", lo[order].tobytes())
        self._hash_vals = array("q", vals[order].tobytes())
        self._hash_fresh = {}
        for b in range(_BANDS):
            recent = [item for key in sorted(self._bands[b]) for item in self._bands[b][key]]
            if not recent:
                continue
            sims = np.concatenate([np.frombuffer(self._band_sims[b], dtype=np.uint64), np.array([s for s, _ in recent], dtype=np.uint64)])
            entries = np.concatenate([np.frombuffer(self._band_entries[b], dtype=np.int32), np.array([e for _, e in recent], dtype=np.int32)])
            # stable by bucket key, and entry numbers grow with time: within a bucket, first seen first
            bucket = ((sims >> np.uint64(16 * b)) & np.uint64(0xFFFF)).astype(np.int64)
            order = np.lexsort((entries, bucket))
            self._band_sims[b] = array("Q", sims[order].tobytes())
            self._band_entries[b] = array("i", entries[order].tobytes())
            self._band_starts[b] = array("q", np.searchsorted(bucket[order], np.arange((1 << 16) + 1)).astype(np.int64).tobytes())
            self._bands[b] = {}

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


def load_duplicate_index(snapshot: Path, manifest: pa.Table, index: DuplicateIndex, exclude: Iterable[str]) -> None:
    """Feed the published articles into the index in ingest order (their part's seq, then file, then id)."""
    articles_dir = snapshot / "articles"
    if not articles_dir.exists():
        return
    cols = ["article_id", "source_file", "content_hash", "simhash", "body_chars", "duplicate_of"]
    table = pq.read_table(articles_dir, columns=cols)
    excluded = pa.array(sorted(set(exclude)), pa.string())
    if len(excluded):
        table = table.filter(pc.invert(pc.is_in(table["source_file"], value_set=excluded)))
    seqs = manifest.select(["source_file", "seq"])
    table = table.join(seqs, keys="source_file", join_type="left outer")
    table = table.set_column(table.schema.get_field_index("seq"), "seq", pc.fill_null(table["seq"], 0))
    table = table.sort_by([("seq", "ascending"), ("source_file", "ascending"), ("article_id", "ascending")])
    names = ("article_id", "content_hash", "simhash", "body_chars", "duplicate_of")
    for batch in table.select(list(names)).to_batches(max_chunksize=65_536):  # Python objects a slice at a time
        index.extend(zip(*(batch.column(c).to_pylist() for c in names), strict=True))



def write_duplicates(dups: dict[str, str], path: Path) -> None:
    """A part's duplicate marks (article id → the first-seen copy), read back when the part is labelled."""
    write_parquet(DUPLICATES, pa.table({"article_id": list(dups), "duplicate_of": list(dups.values())}, schema=DUPLICATES.arrow_schema()), path)
