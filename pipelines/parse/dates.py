"""Publication dates in the many shapes Chinese news pages use.

All parsing happens after NFKC, so full-width digits and colons are already ASCII.
Times are wall-clock Asia/Shanghai; a date without time becomes midnight.
"""

from __future__ import annotations

import re
from datetime import datetime

# 2018-08-09 03:27 | 2008-4-15 | 2006/8/14 9:34:32 | 2014年1月2日 | 2008年05月12日16:25 | 2014年1月2日14时
_DATE = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*(?:年|[-/.])\s*(?P<m>\d{1,2})\s*(?:月|[-/.])\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*(?:T|\s)?\s*(?P<H>\d{1,2})\s*(?::|时)\s*(?P<M>\d{1,2})?(?:\s*(?::|分)\s*(?P<S>\d{1,2}))?)?"
)
# 2005-12 (month only)
_MONTH = re.compile(r"^(?P<y>(?:19|20)\d{2})\s*(?:年|-)\s*(?P<m>\d{1,2})\s*月?$")
# /20120607/ or /2012-06/07/ or /2012/0607/ in URL paths
_URL_DATE = re.compile(r"/(?P<y>(?:19|20)\d{2})[-/]?(?P<m>\d{2})[-/]?(?P<d>\d{2})(?:/|[^\d])")


def _build(y: str, m: str, d: str | None, hh: str | None = None, mm: str | None = None, ss: str | None = None) -> datetime | None:
    try:
        return datetime(int(y), int(m), int(d or 1), int(hh or 0), int(mm or 0), int(ss or 0))
    except ValueError:
        return None


def find_date(text: str) -> tuple[datetime | None, str | None]:
    """First plausible date (and time) in ``text``; returns (datetime, matched text)."""
    for m in _DATE.finditer(text):
        hh = m.group("H")
        mm = m.group("M")
        if hh is not None and mm is None and "时" not in m.group(0):
            hh = None  # "2008-4-15 9" is not a time
        dt = _build(m.group("y"), m.group("m"), m.group("d"), hh, mm if hh else None, m.group("S") if hh else None)
        if dt is not None and 1990 <= dt.year <= 2100:
            return dt, m.group(0).strip()
    return None, None


def parse_date_line(line: str) -> datetime | None:
    """A line that is (mostly) a date, as in the CEC corpus: '2008-4-15', '2014年1月2日14时左右'."""
    line = line.strip()
    dt, matched = find_date(line)
    if dt is not None and matched is not None and line.startswith(matched[:4]):
        return dt
    m = _MONTH.match(line)
    if m:
        return _build(m.group("y"), m.group("m"), None)
    return None


def date_from_url(url: str | None) -> datetime | None:
    if not url:
        return None
    m = _URL_DATE.search(url)
    if not m:
        return None
    dt = _build(m.group("y"), m.group("m"), m.group("d"))
    return dt if dt is not None and 1990 <= dt.year <= 2100 else None


def parse_any(value: object) -> datetime | None:
    """A date from a record field: ISO strings, Chinese dates, epoch seconds/milliseconds."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            from datetime import timedelta, timezone

            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, tz=timezone(timedelta(hours=8))).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    dt, _ = find_date(value)
    if dt is None:
        m = _MONTH.match(value.strip())
        if m:
            dt = _build(m.group("y"), m.group("m"), None)
    return dt
