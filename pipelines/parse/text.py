"""Careful normalisation of Chinese text.

NFKC folds full-width digits, Latin letters and punctuation (２０１２ → 2012, ：→ :) and the
ideographic space, but leaves CJK ideographs and 【】“”、。 alone, so it never strips non-ASCII.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

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


# --- table-driven cleaning of long texts ---------------------------------------------------------
# Scanning a long text with the regexes above costs ~20 ns a character per pattern; one lookup of
# every character in a table of the Basic Multilingual Plane, done by numpy, classifies the whole
# text at once. A character is SAFE when NFKC leaves it alone in any context (no decomposition,
# combining class 0, never the second half of a canonical composition); MAP1/MAPN when NFKC maps it
# to a fixed string of safe characters whatever surrounds it (full-width forms, no-break and
# ideographic spaces, "…"); CONTROL marks what _CONTROL drops. A text of only such characters is
# cleaned by mapping and dropping characters; anything else (a combining mark, a character beyond
# the BMP, a lone surrogate) takes the regex path, so results never differ.
_SAFE, _MAP1, _MAPN, _CONTROL_BIT, _UNSAFE = 1, 2, 4, 8, 16
_TABLE_MIN_CHARS = 256  # below this the regexes are cheaper than numpy's per-call overhead
_BMP = 0x10000


@dataclass(frozen=True)
class _Tables:
    cls: Any  # uint8[0x10001]: class bits per code point; the last entry stands for all beyond the BMP
    map1: Any  # uint32[0x10001]: the code point NFKC gives, for MAP1 characters (identity elsewhere)
    mapn: dict[int, str]  # NFKC of the MAPN characters


@cache
def _tables() -> _Tables:
    import numpy as np

    sep = "\x00"  # a starter that NFKD leaves alone and never produces: per-character results split back out
    chars = [chr(c) for c in range(_BMP)]
    # (NUL itself and the surrogates, which NFD cannot take, are stood in for by \x01: both are
    # classified apart below)
    probe = ["\x01" if c == 0 or 0xD800 <= c < 0xE000 else chr(c) for c in range(0x20000)]
    nfd = unicodedata.normalize("NFD", sep.join(probe)).split(sep)
    # everything after the first character of a canonical decomposition: a superset of the
    # characters that can be the second half of a composition
    seconds = {ch for d in nfd if len(d) > 1 for ch in d[1:]}
    seconds.update(map(chr, range(0x1161, 0x1176)), map(chr, range(0x11A8, 0x11C3)))  # Hangul V and T jamo
    nfkd = unicodedata.normalize("NFKD", sep.join(probe[:_BMP])).split(sep)
    assert len(nfd) == 0x20000 and len(nfkd) == _BMP
    nfkd[0] = "\x00"
    control_chars = set("".join(_CONTROL.findall("".join(chars))))

    def plain(ch: str) -> bool:
        return unicodedata.combining(ch) == 0 and ch not in seconds

    cls = np.full(_BMP + 1, _UNSAFE, dtype=np.uint8)
    map1 = np.arange(_BMP + 1, dtype=np.uint32)
    mapn: dict[int, str] = {}
    for c in range(_BMP):
        ch = chars[c]
        if 0xD800 <= c < 0xE000 or 0xAC00 <= c <= 0xD7A3 or not plain(ch):
            continue  # surrogates, Hangul syllables (they compose with a following jamo), marks
        d = nfkd[c]
        if d == ch:
            cls[c] = _SAFE | (_CONTROL_BIT if ch in control_chars else 0)
        elif all(plain(x) and x not in control_chars and not 0xAC00 <= ord(x) <= 0xD7A3 for x in d) and unicodedata.normalize("NFKC", ch) == d:
            if len(d) == 1:
                cls[c] = _MAP1
                map1[c] = ord(d)
            else:
                cls[c] = _MAPN
                mapn[c] = d
    return _Tables(cls, map1, mapn)


def _table_clean(text: str) -> str | None:
    """``_squash(nfkc(text))`` by table, or None when ``text`` holds a character the table leaves to NFKC."""
    import numpy as np

    t = _tables()
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cls = t.cls.take(codes, mode="clip")  # clip: beyond the BMP reads the last entry, _UNSAFE
    flags = int(np.bitwise_or.reduce(cls))
    if flags & _UNSAFE:
        return None
    if flags & (_MAP1 | _CONTROL_BIT):
        out = t.map1.take(codes) if flags & _MAP1 else codes  # all codes are in the BMP here
        if flags & _CONTROL_BIT:
            out = out[(cls & _CONTROL_BIT) == 0]
        text = out.tobytes().decode("utf-32-le")
    if flags & _MAPN:
        for c in np.unique(codes[(cls & _MAPN) != 0]).tolist():
            text = text.replace(chr(c), t.mapn[c])  # the replacement holds only SAFE characters
    # NFKC has turned no-break and ideographic spaces into plain ones: only spaces and tabs are left
    if "\t" in text:
        return _BLANKS.sub(" ", text)
    while "  " in text:
        text = text.replace("  ", " ")
    return text


def nfkc(text: str) -> str:
    """NFKC normalisation, fast for typical Chinese news text."""
    if text.isascii():
        return text
    if _COMMON_COMPAT.search(text):
        text = _COMMON_COMPAT.sub(lambda m: m.group(0).translate(_COMMON_MAP), text)
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def clean_line(line: str) -> str:
    """NFKC, drop control characters, collapse runs of blanks, strip."""
    return _clean(line).strip()


def clean_lines(lines: list[str]) -> list[str]:
    """``[clean_line(ln) for ln in lines]`` in one pass over the joined lines.

    Exact because nothing the cleaning does crosses a line feed: NFKC never composes with or
    produces one, control characters are dropped one by one, and blank runs do not include it.
    """
    if len(lines) < 2 or any("\n" in ln for ln in lines):
        return [clean_line(ln) for ln in lines]
    return [ln.strip() for ln in _clean("\n".join(lines)).split("\n")]


def _clean(text: str) -> str:
    """``_squash(nfkc(text))``: the table-driven pass for long texts, the regexes for short ones."""
    if len(text) >= _TABLE_MIN_CHARS and not text.isascii():
        done = _table_clean(text)
        if done is not None:
            return done
    return _squash(nfkc(text))


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
    return _clean(text)


def normalise_body(text: str) -> str:
    """A body: normalised text, lines stripped, paragraphs separated by one blank line."""
    return paragraphs(normalise_text(text))


_PARAGRAPH_GAP = re.compile("\n\n\n+")


def paragraphs(text: str) -> str:
    """Lines stripped, paragraphs separated by one blank line; ``text`` must be normalised already."""
    # with every line stripped, the only line feeds left are line ends: one ends a line inside a
    # paragraph, two or more (blank lines between) end a paragraph
    joined = "\n".join([line.strip() for line in text.split("\n")])
    if "\n\n\n" in joined:
        joined = _PARAGRAPH_GAP.sub("\n\n", joined)
    return joined.strip("\n")


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


def warm_tables() -> None:
    """Build the normalisation tables now (before forking readers, which then inherit them)."""
    _tables()
