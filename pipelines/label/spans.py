"""Spans of a body that label rules skip, found once per body and asked in O(log n) per hit.

A rule that asked "is this hit inside 《…》?" by searching back from the hit (``rfind``) cost time
linear in the body for every hit, so a long page with many hits was quadratic; these answer the
same questions from sorted positions.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence


def _positions(text: str, ch: str) -> list[int]:
    out: list[int] = []
    i = text.find(ch)
    while i >= 0:
        out.append(i)
        i = text.find(ch, i + 1)
    return out


class BookTitles:
    """Where 《 and 》 stand in a body: ``inside(pos)`` is true when the last 《 before ``pos``
    comes after the last 》 before it (a cited title such as 《最高人民法院关于…》, or an unclosed one)."""

    __slots__ = ("_closes", "_opens")

    def __init__(self, body: str) -> None:
        self._opens = _positions(body, "《") if "《" in body else []
        self._closes = _positions(body, "》") if self._opens else []

    def inside(self, pos: int) -> bool:
        opens = self._opens
        if not opens:
            return False
        k = bisect_left(opens, pos)
        if k == 0:
            return False
        last_open = opens[k - 1]
        closes = self._closes
        j = bisect_left(closes, pos)
        return j == 0 or closes[j - 1] < last_open


def footer_test(spans: Sequence[tuple[int, int]]) -> Callable[[int], bool] | None:
    """A test ``pos -> inside one of spans`` (half-open), or None when there are none.

    ``spans`` are whole lines, given in text order, one per footer marker (so a line with two markers
    comes twice): merged once here, then each question is one bisection."""
    if not spans:
        return None
    starts: list[int] = []
    ends: list[int] = []
    for a, b in sorted(spans):
        if ends and a <= ends[-1]:
            ends[-1] = max(ends[-1], b)
        else:
            starts.append(a)
            ends.append(b)

    def inside(pos: int) -> bool:
        k = bisect_right(starts, pos) - 1
        return k >= 0 and pos < ends[k]

    return inside
