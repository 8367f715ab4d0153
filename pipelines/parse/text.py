"""Careful normalisation of Chinese text.

NFKC folds full-width digits, Latin letters and punctuation (２０１２ → 2012, ：→ :) and the
ideographic space, but leaves CJK ideographs and 【】“”、。 alone, so it never strips non-ASCII.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# PDF extraction puts spaces between CJK and digits ("2020 年 11 月"); they carry no meaning.
_SPACE_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK}，。、；：（）《》“”])[ \t]+|[ \t]+(?=[{_CJK}，。、；：（）《》“”])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]+")
# only runs that change: a tab/NBSP/ideographic space, or two or more blanks (a lone space stays)
_BLANKS = re.compile(r"[\t\xa0\u3000][ \t\xa0\u3000]*| [ \t\xa0\u3000]+")


# The compatibility characters scraped Chinese text is full of: full-width ASCII, the ideographic and
# no-break spaces. Mapping just these (exactly as NFKC does) is ~100x faster than a full NFKC pass,
# after which most texts already pass the NFKC quick check.
_COMMON_COMPAT = re.compile("[\u00a0\u3000\uff01-\uff5e]+")
_COMMON_MAP = str.maketrans({0xA0: " ", 0x3000: " ", **{c: chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}})


def nfkc(text: str) -> str:
    """NFKC normalisation, fast for typical Chinese news text."""
    if text.isascii():
        return text
    if _COMMON_COMPAT.search(text):
        text = _COMMON_COMPAT.sub(lambda m: m.group(0).translate(_COMMON_MAP), text)
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def clean_line(line: str) -> str:
    """NFKC, drop control characters, collapse runs of blanks, strip."""
    return _squash(nfkc(line)).strip()


def _squash(text: str) -> str:
    """Drop control characters and collapse blank runs, scanning only when there is something to do."""
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    if _BLANKS.search(text):
        text = _BLANKS.sub(" ", text)
    return text


def squeeze_cjk_spaces(text: str) -> str:
    return _SPACE_NEXT_TO_CJK.sub("", text)


_ENTITY = re.compile(r"&(?:nbsp|amp|lt|gt|quot|apos|ldquo|rdquo|mdash|hellip|middot|#\d{2,6}|#x[0-9a-fA-F]{2,5});")


def normalise_text(text: str) -> str:
    """Whole-document normalisation, done once: LF line ends, scraper-left HTML entities decoded,
    NFKC, control characters dropped, runs of blanks (incl. no-break and ideographic spaces) → one space."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in text and _ENTITY.search(text):
        text = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    return _squash(nfkc(text))


def normalise_body(text: str) -> str:
    """A body: normalised text, lines stripped, paragraphs separated by one blank line."""
    return paragraphs(normalise_text(text))


def paragraphs(text: str) -> str:
    """Lines stripped, paragraphs separated by one blank line; ``text`` must be normalised already."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if line:
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current))
            current = []
    if current:
        paragraphs.append("\n".join(current))
    return "\n\n".join(paragraphs)


def normalise_title(text: str | None) -> str | None:
    if text is None:
        return None
    title = clean_line(text.replace("\n", " "))
    return title or None


def content_hash(title: str | None, body: str | None) -> str:
    """Hash of the story text with all whitespace removed, so re-wrapped copies hash equal."""
    # NUL separates title from body (\x1f would count as whitespace and vanish)
    key = "".join((title or "").split()) + "\x00" + "".join((body or "").split())
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def article_id(source_file: str, source_record: str | None) -> str:
    key = source_file + "\x00" + (source_record or "")
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def cjk_ratio(text: str) -> float:
    if not text:
        return 0.0
    n = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
    return n / len(text)
