"""Turn a reader's field dict into a row of the parsed table: ids, hashes, flags, typed time."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.parse.fingerprint import simhash
from pipelines.parse.records import outlet_for_site
from pipelines.parse.text import article_id, content_hash, normalise_title
from pipelines.parse.titles import clean_title
from pipelines.schema import TIMEZONE

_TZ = ZoneInfo(TIMEZONE)


def finalize_article(rec: dict[str, Any], source_file: str, max_chars: int) -> dict[str, Any]:
    title = clean_title(normalise_title(rec.get("title")))
    body = rec.get("body") or ""
    flags = list(dict.fromkeys(rec.get("quality_flags") or []))
    if len(body) > max_chars:
        body = body[:max_chars]
        flags.append("truncated")
    published = rec.get("published_at")
    if isinstance(published, datetime):
        published = published.replace(tzinfo=_TZ) if published.tzinfo is None else published.astimezone(_TZ)
    if not body:
        flags.append("empty_body")
    if not title:
        flags.append("no_title")
    if published is None:
        flags.append("no_date")
    record = rec.get("source_record")
    return {
        "article_id": article_id(source_file, record),
        "source_file": source_file,
        "source_record": record,
        "source_format": rec["source_format"],
        "content_hash": content_hash(title, body),
        "url": rec.get("url") or None,
        "site": rec.get("site") or None,
        "outlet": rec.get("outlet") or outlet_for_site(rec.get("site")),
        "title": title,
        "published_at": published,
        "published_at_source": rec.get("published_at_source") if published is not None else None,
        "breadcrumb": rec.get("breadcrumb") or [],
        "byline": rec.get("byline") or [],
        "body": body,
        "body_chars": len(body),
        "quality_flags": flags,
        "simhash": simhash(body or title or ""),
    }
