"""Decide a text's encoding from its bytes; declared charsets are only hints (they lie)."""

from __future__ import annotations

from dataclasses import dataclass

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    errors: int  # replacement characters introduced by decoding


def _count_replacements(data: bytes, encoding: str) -> tuple[str, int]:
    text = data.decode(encoding, errors="replace")
    return text, text.count("\ufffd")


def decode_bytes(data: bytes, hint: str | None = None) -> Decoded:
    """Decode ``data``: BOM, then strict UTF-8, then strict GB18030, then the least damaged.

    UTF-8 is tried first because it almost never validates by accident on GB bytes, while
    GB18030 accepts most byte strings. ``hint`` (a declared charset) only breaks ties.
    """
    for bom, enc in _BOMS:
        if data.startswith(bom):
            text, bad = _count_replacements(data[len(bom) :], enc)
            return Decoded(text, enc, bad)
    try:
        return Decoded(data.decode("utf-8"), "utf-8", 0)
    except UnicodeDecodeError as exc:
        # A valid UTF-8 file cut mid-character at the very end (truncated scrape) is still UTF-8.
        if exc.start >= len(data) - 3 and exc.reason in ("unexpected end of data",):
            text, bad = _count_replacements(data, "utf-8")
            return Decoded(text, "utf-8", bad)
    try:
        return Decoded(data.decode("gb18030"), "gb18030", 0)
    except UnicodeDecodeError:
        pass
    candidates = [("utf-8", *_count_replacements(data, "utf-8")), ("gb18030", *_count_replacements(data, "gb18030"))]
    if hint:
        norm = normalise_charset(hint)
        if norm not in ("utf-8", "gb18030"):
            try:
                candidates.append((norm, *_count_replacements(data, norm)))
            except LookupError:
                pass
    # fewest replacement characters wins; the hint wins ties
    hint_norm = normalise_charset(hint) if hint else None
    enc, text, bad = min(candidates, key=lambda c: (c[2], c[0] != hint_norm))
    return Decoded(text, enc, bad)


def normalise_charset(name: str) -> str:
    name = name.strip().strip("\"'").lower()
    if name in ("gb2312", "gbk", "gb_2312-80", "x-gbk", "cp936", "gb18030", "euc-cn"):
        return "gb18030"  # a superset of both; decoding as the superset loses nothing
    if name in ("utf8", "utf-8"):
        return "utf-8"
    return name


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not text in any encoding we read (images, archives, executables)."""
    head = data[:8192]
    if not head:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False  # UTF-16 text has many NULs
    if head.count(b"\x00") > len(head) // 100:
        return True
    # control bytes other than whitespace (counted in C: translate deletes them)
    ctrl = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return ctrl > len(head) // 20


_CONTROL_BYTES = bytes([*range(0, 9), *range(14, 32)])
