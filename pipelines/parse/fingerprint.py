"""SimHash: a 64-bit fingerprint of a body's character 4-grams, computed when an article is parsed.

A reprint with small edits keeps most 4-grams, so its SimHash differs from the original's in a few
bits; ``pipelines/dedupe.py`` compares the fingerprints. Here, in parse, because every parsed row
carries its fingerprint (the dedupe phase and a later build read it from the parsed parts).
"""

from __future__ import annotations

import numpy as np

_SHINGLE = 4
SIMHASH_CHARS = 4000  # the opening of a story identifies it; longer bodies cost time, not accuracy


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
