"""The filter state shared by every page, and its URL (query-parameter) form.

``Filters`` is an immutable value; pages never read widgets directly. ``from_query`` turns URL
parameters into filters and drops every value it cannot validate against ``FilterOptions`` (the
values that exist in the dataset): an unknown outlet or code in a shared link is ignored, never
passed on, and no URL value is ever used as a file path.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pipelines.schema import AGENCY_TYPES

MAX_SEARCH_CHARS = 200
MAX_TERMS = 8
CODE_RE = re.compile(r"^\d{6}$")
ARTICLE_ID_RE = re.compile(r"^[0-9a-f]{16}$")

# URL parameter names (short, stable: they are in shared links)
Q_FROM, Q_TO, Q_PROV, Q_PREF, Q_COUNTY = "from", "to", "prov", "pref", "county"
Q_TOPIC, Q_ATYPE, Q_ORGAN, Q_OUTLET, Q_SITE, Q_SEARCH, Q_ALL = "topic", "atype", "organ", "outlet", "site", "q", "copies"
Q_SEARCH_IN = "qin"
FILTER_KEYS = (Q_FROM, Q_TO, Q_PROV, Q_PREF, Q_COUNTY, Q_TOPIC, Q_ATYPE, Q_ORGAN, Q_OUTLET, Q_SITE, Q_SEARCH, Q_ALL, Q_SEARCH_IN)
SEARCH_IN = ("all", "title")  # where search terms are looked for: titles and bodies, or titles only


@dataclass(frozen=True)
class Filters:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    province: str | None = None
    prefecture: str | None = None
    county: str | None = None
    topic: str | None = None
    agency_type: str | None = None
    organ: str | None = None
    outlet: str | None = None
    site: str | None = None
    search: str = ""
    unique: bool = True
    search_in: str = "all"  # one of SEARCH_IN

    @property
    def terms(self) -> tuple[str, ...]:
        """Search terms: whitespace-separated, de-duplicated, at most MAX_TERMS."""
        seen: list[str] = []
        for t in self.search[:MAX_SEARCH_CHARS].split():
            if t not in seen:
                seen.append(t)
        return tuple(seen[:MAX_TERMS])

    @property
    def region(self) -> str | None:
        return self.county or self.prefecture or self.province

    @property
    def uses_articles_index(self) -> bool:
        """True when the filters need the article-level index (coverage cannot answer them)."""
        return bool(self.agency_type or self.organ or self.search)

    @property
    def title_only(self) -> bool:
        return self.search_in == "title"

    def without(self, *names: str) -> Filters:
        """A copy with the named filters cleared (``region`` clears all three region levels)."""
        changes: dict[str, Any] = {}
        for n in names:
            if n == "region":
                changes.update(province=None, prefecture=None, county=None)
            elif n == "search":
                changes.update(search="", search_in="all")
            elif n == "dates":
                changes.update(date_from=None, date_to=None)
            else:
                changes[n] = None
        return replace(self, **changes)

    def is_default(self) -> bool:
        return self == Filters()


@dataclass(frozen=True)
class FilterOptions:
    """Values that exist in the dataset; the only values a URL may select."""

    provinces: frozenset[str] = frozenset()
    prefecture_parent: Mapping[str, str] = field(default_factory=dict)  # prefecture -> province
    county_parent: Mapping[str, str] = field(default_factory=dict)  # county -> prefecture
    topics: frozenset[str] = frozenset()
    organs: frozenset[str] = frozenset()
    outlets: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    min_day: dt.date | None = None
    max_day: dt.date | None = None


def _one(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        value = value[-1] if value else None
    if value is None:
        return None
    s = str(value)
    return s if s.strip() else None


def _date(value: str | None) -> dt.date | None:
    if not value or len(value) != 10:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def from_query(params: Mapping[str, Any], opts: FilterOptions) -> Filters:
    """Filters from URL parameters; anything unknown or malformed is ignored."""
    get = {k: _one(params.get(k)) for k in FILTER_KEYS}
    date_from, date_to = _date(get[Q_FROM]), _date(get[Q_TO])
    if date_from and date_to and date_from > date_to:
        date_from, date_to = date_to, date_from

    county = get[Q_COUNTY] if get[Q_COUNTY] and CODE_RE.match(get[Q_COUNTY]) and get[Q_COUNTY] in opts.county_parent else None
    prefecture = get[Q_PREF] if get[Q_PREF] and CODE_RE.match(get[Q_PREF]) and get[Q_PREF] in opts.prefecture_parent else None
    province = get[Q_PROV] if get[Q_PROV] and CODE_RE.match(get[Q_PROV]) and get[Q_PROV] in opts.provinces else None
    # the finest valid level decides; its parents follow from the data, never from the URL
    if county:
        prefecture = opts.county_parent[county]
    if prefecture:
        province = opts.prefecture_parent.get(prefecture) or province

    topic = get[Q_TOPIC] if get[Q_TOPIC] in opts.topics else None
    agency_type = get[Q_ATYPE] if get[Q_ATYPE] in AGENCY_TYPES else None
    organ = get[Q_ORGAN] if get[Q_ORGAN] in opts.organs else None
    outlet = get[Q_OUTLET] if get[Q_OUTLET] in opts.outlets else None
    site = get[Q_SITE] if get[Q_SITE] in opts.sites else None
    search = (get[Q_SEARCH] or "")[:MAX_SEARCH_CHARS]
    search = "".join(ch for ch in search if ch.isprintable() or unicodedata.category(ch) == "Co")  # private use is text
    unique = get[Q_ALL] != "1"
    search_in = get[Q_SEARCH_IN] if get[Q_SEARCH_IN] in SEARCH_IN and search.strip() else "all"
    return Filters(date_from, date_to, province, prefecture, county, topic, agency_type, organ, outlet, site, search.strip(), unique, search_in)


def to_query(f: Filters) -> dict[str, str]:
    """URL parameters for the non-default filters (the inverse of ``from_query``)."""
    out: dict[str, str] = {}
    pairs = {
        Q_FROM: f.date_from.isoformat() if f.date_from else None,
        Q_TO: f.date_to.isoformat() if f.date_to else None,
        Q_PROV: f.province,
        Q_PREF: f.prefecture,
        Q_COUNTY: f.county,
        Q_TOPIC: f.topic,
        Q_ATYPE: f.agency_type,
        Q_ORGAN: f.organ,
        Q_OUTLET: f.outlet,
        Q_SITE: f.site,
        Q_SEARCH: f.search or None,
        Q_ALL: None if f.unique else "1",
        Q_SEARCH_IN: f.search_in if f.search and f.search_in != "all" else None,
    }
    for k, v in pairs.items():
        if v is not None:
            out[k] = v
    return out


def has_filter_params(params: Mapping[str, Any]) -> bool:
    return any(k in params for k in FILTER_KEYS)
