"""Near-duplicate detection on reprints built from real corpus articles."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from conftest import SAMPLE, SEED
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.dedupe import MIN_CHARS, NEAR_BITS, DuplicateIndex, hamming, simhash
from pipelines.parse.finalize import finalize_article
from pipelines.read.files import read_bytes


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
