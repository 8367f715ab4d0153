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
        mixed = _decode_mixed(data)
        if mixed is not None:
            return mixed
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


MIXED = "utf-8+gb18030"


def _decode_mixed(data: bytes) -> Decoded | None:
    """A file that mixes UTF-8 and GB18030 line by line (a UTF-8 header on a GBK page, appended scrapes).

    GB18030 accepts almost any bytes, so decoding such a file as GB18030 would silently garble its
    UTF-8 lines. When a real share (a fifth, and 64+ bytes) of the non-ASCII bytes sit in lines that
    are valid UTF-8, each line is decoded on its own: valid UTF-8 as UTF-8, the rest as GB18030. A
    pure GB file has only the odd short line that happens to be valid UTF-8, far below the share.
    """
    lines = data.split(b"\n")
    utf8 = other = 0
    texts: list[str | None] = []
    for line in lines:
        if line.isascii():
            texts.append(line.decode("ascii"))
            continue
        try:
            texts.append(line.decode("utf-8"))
            utf8 += len(line)
        except UnicodeDecodeError:
            texts.append(None)
            other += len(line)
    if utf8 < 64 or other == 0 or utf8 * 5 < utf8 + other:
        return None
    bad = 0
    for i, line in enumerate(lines):
        if texts[i] is None:
            text, n = _count_replacements(line, "gb18030")
            texts[i] = text
            bad += n
    return Decoded("\n".join(t or "" for t in texts), MIXED, bad)


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
