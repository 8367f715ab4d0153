"""Near-duplicate detection on reprints built from real corpus articles."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import SAMPLE, SEED
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.dedupe import MIN_CHARS, NEAR_BITS, DuplicateIndex, hamming
from pipelines.parse.files import read_bytes
from pipelines.parse.finalize import finalize_article
from pipelines.parse.fingerprint import simhash


def bodies() -> dict[str, str]:
    out = {}
    for path in sorted(SAMPLE.rglob("*")):
        if path.is_file() and path.name != "SOURCES.tsv":
            for rec in read_bytes(path.read_bytes(), path.name).articles:
                row = finalize_article(rec, path.name, 10**7)
                if row["body_chars"] >= MIN_CHARS:
                    out[path.relative_to(SAMPLE).as_posix() + str(rec.get("source_record"))] = row["body"]
    return out


def reprint(body: str, rng: random.Random) -> str:
    """A reprint as other outlets make them: new lead-in, no reporter line, an editor's line, a typo fixed."""
    text = "据兰州晚报报道," + body.replace("【本报讯】", "").replace("本报讯", "")
    chars = list(text)
    k = rng.randrange(10, len(chars) - 10)
    chars[k] = "的" if chars[k] != "的" else "了"
    return "".join(chars) + "\n\n(责任编辑:王某)"


def test_seed_reprint_is_a_near_duplicate() -> None:
    body = read_bytes(SEED.read_bytes(), "seed.txt").articles[0]["body"]
    copy = reprint(body, random.Random(0))
    assert hamming(simhash(body), simhash(copy)) <= NEAR_BITS
    idx = DuplicateIndex()
    assert idx.add("orig", "h1", simhash(body), len(body)) is None
    assert idx.add("copy", "h2", simhash(copy), len(copy)) == "orig"


def test_reprints_of_long_sample_articles_are_found() -> None:
    rng = random.Random(7)
    long = [b for b in bodies().values() if len(b) >= 800]
    assert len(long) >= 10
    found = sum(hamming(simhash(b), simhash(reprint(b, rng))) <= NEAR_BITS for b in long)
    assert found / len(long) >= 0.85


def test_distinct_sample_articles_are_not_duplicates() -> None:
    items = list(bodies().items())
    idx = DuplicateIndex()
    marked = []
    for i, (key, body) in enumerate(items):
        if idx.add(key, f"hash{i}", simhash(body), len(body)) is not None:
            marked.append(key)
    assert marked == []


def test_exact_duplicates_point_to_first_seen() -> None:
    idx = DuplicateIndex()
    assert idx.add("a", "same", 1, 10) is None
    assert idx.add("b", "same", 999, 10) == "a"
    assert idx.add("c", "same", 5, 10) == "a"


def test_short_texts_only_match_exactly() -> None:
    idx = DuplicateIndex()
    short = "兰州中院召开执行工作会议。" * 3
    assert idx.add("a", "h1", simhash(short), len(short)) is None
    assert idx.add("b", "h2", simhash(short + "!"), len(short) + 1) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000))
def test_simhash_is_deterministic_and_signed_64_bit(text: str) -> None:
    h = simhash(text)
    assert h == simhash(text)
    assert -(2**63) <= h < 2**63


@pytest.mark.parametrize("path", ["txt/cec_raw/cec_063.txt", "txt/court_cases/case_exec_023.txt"])
def test_whitespace_and_rewrapping_do_not_change_simhash(path: str) -> None:
    body = read_bytes((SAMPLE / path).read_bytes(), Path(path).name).articles[0]["body"]
    assert simhash(body) == simhash(body.replace("\n\n", "\n").replace("。", "。 "))


class _ReferenceIndex:
    """The plain-dict index the compact one replaced: the oracle for its behaviour."""

    def __init__(self) -> None:
        self.by_hash: dict[str, str] = {}
        self.bands: list[dict[int, list[tuple[int, str]]]] = [{} for _ in range(4)]

    def add(self, aid: str, chash: str, sim: int | None, chars: int) -> str | None:
        if (first := self.by_hash.get(chash)) is not None:
            return first
        self.by_hash[chash] = aid
        if sim is None or chars < MIN_CHARS:
            return None
        keys = [((sim & 0xFFFFFFFFFFFFFFFF) >> (16 * i)) & 0xFFFF for i in range(4)]
        best: tuple[int, str] | None = None
        for band, key in zip(self.bands, keys, strict=True):
            for other, other_id in band.get(key, ()):
                d = hamming(sim, other)
                if d <= NEAR_BITS and (best is None or d < best[0]):
                    best = (d, other_id)
        if best is not None:
            return best[1]
        for band, key in zip(self.bands, keys, strict=True):
            band.setdefault(key, []).append((sim, aid))
        return None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 7), st.integers(0, 40), st.sampled_from([0, 5, 199, 200, 5000])), max_size=120),
       st.integers(1, 9), st.sampled_from([2, 5, 2_000_000]))
def test_compact_index_agrees_with_the_plain_one(ops: list[tuple[int, int, int, int]], fresh: int, merge_max: int) -> None:
    """Same answers whenever the recent entries are folded into segment files, merged or not (tiny
    folds and merge caps exercise every path)."""
    # SimHashes near a few centres, so ties, band collisions and near misses all happen; signed like the column
    centres = [0x0123456789ABCDEF, -0x0123456789ABCDF0, 0x7FFF00000000FFFF, 0]
    compact = DuplicateIndex()
    compact._FRESH = fresh
    compact._MERGE_MAX = merge_max
    plain = _ReferenceIndex()
    for n, (h, c, flips, chars) in enumerate(ops):
        u = centres[c % 4] & 0xFFFFFFFFFFFFFFFF
        for bit in range(flips % 9):
            u ^= 1 << ((bit * 7 + c * 13 + flips) % 64)
        sim = u - (1 << 64) if u >= 1 << 63 else u
        aid = f"{n:016x}"
        assert compact.add(aid, f"{h:032x}", sim, chars) == plain.add(aid, f"{h:032x}", sim, chars)


def _reference_simhash(text: str) -> int:
    """The first SimHash implementation, kept verbatim: stored hashes were made with it, so the
    faster one in pipelines.dedupe must agree with it bit for bit."""
    import numpy as np

    s = "".join(text[:4000].split())
    if not s:
        return 0
    cps = np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(cps) < 4:
        cps = np.concatenate([cps, np.zeros(4 - len(cps), dtype=np.uint64)])
    with np.errstate(over="ignore"):
        key = np.zeros(len(cps) - 3, dtype=np.uint64)
        for i in range(4):
            key = key * np.uint64(0x100000001B3) + cps[i : len(cps) - 3 + i]
        z = key + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    sampled = z[(z & np.uint64(3)) == 0]
    z = np.unique(sampled if len(sampled) >= 64 else z)
    bits = np.unpackbits(z.astype("<u8").view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
    votes = bits.sum(axis=0, dtype=np.int64) * 2 - len(z)
    value = int(np.packbits((votes > 0).astype(np.uint8), bitorder="little").view("<u8")[0])
    return value - (1 << 64) if value >= (1 << 63) else value


def test_simhash_matches_the_reference_on_corpus_bodies() -> None:
    texts = list(bodies().values())
    assert len(texts) > 20
    # short texts exercise the padding (<4 characters) and the unsampled (<64 shingles) branches
    texts += [t[:n] for t in texts[:20] for n in (1, 3, 4, 5, 40, 255, 256, 300)]
    texts += ["中" * 5000, "ab" * 3000, "\U0001f600 x", "  \n\t ", "tie"]
    assert [simhash(t) for t in texts] == [_reference_simhash(t) for t in texts]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab中文 \n\u3000。\U0001f600"), max_size=400))
def test_simhash_matches_the_reference_on_generated_text(text: str) -> None:
    assert simhash(text) == _reference_simhash(text)


def test_ids_of_any_length_survive_folding(tmp_path: Path) -> None:
    """Older entries' ids are read back from the spill file (long or non-ASCII ones from memory)."""
    idx = DuplicateIndex(tmp_path / "spill")
    idx._FRESH = 2
    ids = ["a", "0123456789abcdef", "文章-" + "x" * 40, "b" * 32, "末尾"]
    for i, aid in enumerate(ids):
        assert idx.add(aid, f"hash{i}", None, 0) is None
    assert [idx.add(f"copy{i}", f"hash{i}", None, 0) for i in range(len(ids))] == ids
    assert any((tmp_path / "spill").glob("segment-*.bin"))
    idx.close()
    assert not any((tmp_path / "spill").glob("segment-*.bin"))
