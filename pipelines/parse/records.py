"""Structured records (JSON, JSON Lines, CSV, SogouCS <doc>) → article fields, via a data file of key aliases."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipelines.errors import DataFileError
from pipelines.parse.common import finish_body, site_of
from pipelines.parse.datafile import load_toml, string_lists
from pipelines.parse.dates import date_from_url, parse_any
from pipelines.parse.text import clean_line, normalise_title

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


@dataclass(frozen=True)
class RecordFields:
    """Which keys of a record (lower case) fill each article field, in order: the first present with a value wins."""

    title: tuple[str, ...]
    subtitle: tuple[str, ...]
    body: tuple[str, ...]
    url: tuple[str, ...]
    date: tuple[str, ...]
    outlet: tuple[str, ...]
    byline: tuple[str, ...]
    site: tuple[str, ...]


@lru_cache(maxsize=4)
def record_fields(path: Path = DATA_DIR / "record_fields.toml") -> RecordFields:
    lists = string_lists(load_toml(path), path, (f.name for f in fields(RecordFields)))
    return RecordFields(**{k: tuple(a.lower() for a in v) for k, v in lists.items()})


@lru_cache(maxsize=4)
def site_outlets(path: Path = DATA_DIR / "sites.csv") -> dict[str, str]:
    """Host → the outlet it publishes for (rows without an outlet name none)."""
    out: dict[str, str] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"site", "outlet"} <= set(reader.fieldnames or ()):
            raise DataFileError(f"{path}:1: the header must name the columns site and outlet, it has {reader.fieldnames}")
        for row in reader:
            site, outlet = (row["site"] or "").strip(), (row["outlet"] or "").strip()
            if outlet and not site:
                raise DataFileError(f"{path}:{reader.line_num}: site: empty for outlet {outlet!r}")
            if outlet and out.get(site, outlet) != outlet:
                raise DataFileError(f"{path}:{reader.line_num}: site: {site} is listed again with another outlet ({out[site]!r}, {outlet!r})")
            if outlet:
                out[site] = outlet
    return out


def outlet_for_site(site: str | None) -> str | None:
    """Default outlet of a host: exact host first, then its parent domains."""
    if not site:
        return None
    table = site_outlets()
    parts = site.split(".")
    for i in range(len(parts) - 1):
        if (hit := table.get(".".join(parts[i:]))) is not None:
            return hit
    return None


class RecordError(ValueError):
    """A record that cannot become an article (wrong types, no text)."""


def _pick(record: dict[str, Any], aliases: tuple[str, ...]) -> Any:
    lowered = {str(k).lower(): v for k, v in record.items()}
    for key in aliases:
        value = lowered.get(key)
        if value not in (None, "", [], {}):
            return value
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _as_text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            text = str(value)
        except ValueError as exc:  # an integer too long to print (Python's 4300-digit limit)
            raise RecordError(f"field {field!r} is a number with too many digits") from exc
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = "\n".join(value)
    else:
        raise RecordError(f"field {field!r} has type {type(value).__name__}, expected text")
    # JSON "\ud800" escapes decode to lone surrogates, which no UTF-8 writer accepts: mark them as damage
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def parse_record(record: Any) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise RecordError(f"record is a JSON {type(record).__name__}, expected an object")
    keys = record_fields()
    title = _as_text(_pick(record, keys.title), "title")
    body_raw = _as_text(_pick(record, keys.body), "body") or ""
    url = _as_text(_pick(record, keys.url), "url")
    rec: dict[str, Any] = {"title": normalise_title(title), "url": url.strip() if url else None}
    rec["site"] = clean_line(_as_text(_pick(record, keys.site), "site") or "") or site_of(url)
    outlet = _as_text(_pick(record, keys.outlet), "outlet")
    rec["outlet"] = clean_line(outlet) if outlet else outlet_for_site(rec["site"])
    dt = parse_any(_pick(record, keys.date))
    source = "record_field"
    if dt is None and (dt := date_from_url(url)) is not None:
        source = "url_path"
    rec["published_at"] = dt
    rec["published_at_source"] = source if dt is not None else None
    body, byline = finish_body(body_raw.split("\n"))
    author = _pick(record, keys.byline)
    if isinstance(author, list):
        byline = [clean_line(_as_text(a, "byline") or "") for a in author if isinstance(a, str) and clean_line(a)] or byline
    elif isinstance(author, str) and clean_line(author):
        author = _as_text(author, "byline") or ""
        byline = [clean_line(a) for a in author.replace("、", " ").replace(",", " ").split() if clean_line(a)] or byline
    rec["body"] = body
    rec["byline"] = byline
    if any("\ufffd" in (v or "") for v in (title, body_raw, url, outlet)):
        rec["quality_flags"] = ["mojibake"]
    if not rec["title"] and not body:
        raise RecordError("record has neither a title nor a body")
    return rec
