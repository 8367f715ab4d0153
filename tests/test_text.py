"""Text normalisation: exactly NFKC, never loses non-ASCII, fast path equals the slow path."""

from __future__ import annotations

import random
import unicodedata

import pytest
from conftest import SEED
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.parse.text import content_hash, nfkc, normalise_body, normalise_text, squeeze_cjk_spaces

CJKISH = st.text(alphabet=st.one_of(st.characters(min_codepoint=0x20, max_codepoint=0x7E), st.sampled_from("兰州中院执行难，。：（）【】“”　\xa0０１２ＡＢｚ㈱①ﾊ\u200b\ufeff\r\n\t")), max_size=400)


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.one_of(st.text(max_size=200), CJKISH))
def test_nfkc_fast_path_is_exactly_nfkc(text: str) -> None:
    assert nfkc(text) == unicodedata.normalize("NFKC", text)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(CJKISH)
def test_normalised_text_keeps_every_cjk_character(text: str) -> None:
    out = normalise_text(text)
    for ch in set(text):
        if "\u4e00" <= ch <= "\u9fff":
            assert out.count(ch) == text.count(ch)
    assert normalise_text(out) == out  # idempotent


def test_fullwidth_digits_and_colons() -> None:
    assert normalise_text("２０１８年８月９日　０３：２７") == "2018年8月9日 03:27"


def test_body_paragraphs_and_crlf() -> None:
    assert normalise_body("第一段\r\n\r\n\r\n第二段\r\n续\n") == "第一段\n\n第二段\n续"


def test_pdf_spaces_next_to_cjk_are_squeezed() -> None:
    assert squeeze_cjk_spaces("2020 年 11 月 5 日，甘肃 省") == "2020年11月5日，甘肃省"


def test_content_hash_ignores_whitespace_only() -> None:
    assert content_hash("标题", "正文 一\n\n二") == content_hash("标题", "正文一二")
    assert content_hash("标题", "正文一二") != content_hash("标题", "正文一三")


def test_content_hash_keeps_title_and_body_apart() -> None:
    assert content_hash("ab", "c") != content_hash("a", "bc")


def _reference_clean(text: str) -> str:
    """What cleaning means, written plainly: full NFKC, then control characters dropped and blank runs collapsed."""
    import re
    import unicodedata

    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]+", "", text)
    return re.sub(r"[\t\xa0\u3000][ \t\xa0\u3000]*| [ \t\xa0\u3000]+", " ", text)


# one of each kind the table tells apart: plain, full-width, compatibility strings ("…", "㎏"), no-break
# and ideographic spaces, controls, tabs, combining marks and the jamo/kana that compose with what precedes
_KINDS = "中文a ，（Ａ）…㎏①\xa0\u3000\x01\u200b\ufeff\t  \u0301\u3099か가\u1161ÅǅK"


@pytest.mark.parametrize("seed", range(6))
def test_long_text_cleaning_matches_plain_nfkc(seed: int) -> None:
    from pipelines.parse.text import _clean, _table_clean, clean_line, clean_lines

    rng = random.Random(seed)
    story = (SEED.read_text(encoding="utf-8") * 2)[:600]  # long enough for the table path
    table_used = 0
    for _ in range(300):
        chars = list(story)
        for _ in range(rng.randrange(0, 6)):
            chars.insert(rng.randrange(len(chars)), rng.choice(_KINDS + "\U00020000"))
        text = "".join(chars)
        assert _clean(text) == _reference_clean(text)
        table_used += _table_clean(text) is not None
        lines = text.split("\n")
        assert clean_lines(lines) == [clean_line(ln) for ln in lines] == [_reference_clean(ln).strip() for ln in lines]
    assert table_used > 50  # the fast path itself was exercised, not only its fallback
