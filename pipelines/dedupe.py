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
from collections.abc import Iterable

import numpy as np

NEAR_BITS = 6
MIN_CHARS = 200
_SHINGLE = 4
SIMHASH_CHARS = 4000  # the opening of a story identifies it; longer bodies cost time, not accuracy
_BANDS = 4  # 16-bit bands: pigeonhole guarantees pairs within 3 bits share one


# numpy scalars for the hot path (a Python int operand costs a conversion on every call)
_P = np.uint64(0x100000001B3)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_LOW2, _ZERO = np.uint64(3), np.uint64(0)
# counting set bits per position: byte k of a hash indexes row k of a (8, 256) histogram, and
# the histogram times each byte value's bits gives the count of ones at bit 8k+j
_BYTE_ROW = np.arange(8, dtype=np.intp) * 256
_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little").astype(np.float64)


def simhash(text: str) -> int:
    """Signed 64-bit SimHash of ``text``'s character 4-grams (whitespace ignored).

    The values are stored in the dataset and compared across builds, so any rewrite for speed
    must give bit-identical results (tests/test_dedupe.py pins a reference implementation).
    """
    s = "".join(text[:SIMHASH_CHARS].split())
    if not s:
        return 0
    cps = np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(cps) < _SHINGLE:
        cps = np.concatenate([cps, np.zeros(_SHINGLE - len(cps), dtype=np.uint64)])
    m = len(cps) - _SHINGLE + 1
    # polynomial rolling key of each 4-gram, then a 64-bit mix (splitmix64) so bits are uniform;
    # in place, to spare allocating a fresh array for each step (integer arrays wrap silently, so
    # no np.errstate is needed: entering one costs more than a step)
    z = cps[:m] * _P
    z += cps[1 : m + 1]
    z *= _P
    z += cps[2 : m + 2]
    z *= _P
    z += cps[3:]
    z += _GOLDEN
    z ^= z >> _S30
    z *= _MIX1
    z ^= z >> _S27
    z *= _MIX2
    z ^= z >> _S31
    # a consistent quarter of the shingles (chosen by hash, so copies choose the same ones), as a
    # set: repeated filler (tables, &nbsp; runs) must not outvote the story
    sampled = z[(z & _LOW2) == _ZERO]
    if len(sampled) >= 64:
        z = sampled
    z.sort()  # z is a fresh array here (a product or a mask selection), never a view of cps
    if len(z) > 1:
        keep = np.empty(len(z), dtype=bool)
        keep[0] = True
        np.not_equal(z[1:], z[:-1], out=keep[1:])
        z = z[keep]
    # little-endian bytes (x86/ARM; '<u8' below pins the order) → ones per bit position; counts are
    # far below 2**53, so the float product is exact
    hist = np.bincount((z.astype("<u8", copy=False).view(np.uint8).reshape(-1, 8) + _BYTE_ROW).ravel(), minlength=2048).reshape(8, 256)
    ones = (hist.astype(np.float64) @ _BYTE_BITS).ravel()
    value = int(np.packbits(ones * 2 > len(z), bitorder="little").view("<u8")[0])
    return value - (1 << 64) if value >= (1 << 63) else value


def hamming(a: int, b: int) -> int:
    return ((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count()


class DuplicateIndex:
    """First-seen index of content hashes and SimHashes; feed articles in ingest order."""

    def __init__(self) -> None:
        self.by_hash: dict[str, str] = {}
        self.bands: list[dict[int, list[tuple[int, str]]]] = [{} for _ in range(_BANDS)]

    @staticmethod
    def _band_keys(h: int) -> list[int]:
        u = h & 0xFFFFFFFFFFFFFFFF
        return [(u >> (16 * i)) & 0xFFFF for i in range(_BANDS)]

    def add(self, article_id: str, content_hash: str, sim: int | None, chars: int) -> str | None:
        """Register an article; return the article_id it duplicates, or None if it is first."""
        if (first := self.by_hash.get(content_hash)) is not None:
            return first
        self.by_hash[content_hash] = article_id
        if sim is None or chars < MIN_CHARS:
            return None
        best: tuple[int, str] | None = None
        for band, key in zip(self.bands, self._band_keys(sim), strict=True):
            for other_sim, other_id in band.get(key, ()):
                d = hamming(sim, other_sim)
                if d <= NEAR_BITS and (best is None or d < best[0]):
                    best = (d, other_id)
        if best is not None:
            return best[1]
        for band, key in zip(self.bands, self._band_keys(sim), strict=True):
            band.setdefault(key, []).append((sim, article_id))
        return None

    def extend(self, rows: Iterable[tuple[str, str, int | None, int, str | None]]) -> None:
        """Load already-published rows (id, hash, simhash, chars, duplicate_of); originals only are indexed."""
        for aid, chash, sim, chars, dup in rows:
            if dup is None:
                self.add(aid, chash, sim, chars)
            else:
                self.by_hash.setdefault(chash, dup)


def stable_digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]
