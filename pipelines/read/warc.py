"""WARC and WET files: one article per HTTP response (HTML) or WET conversion (text) record."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from pipelines.read.errors import Reject

ARTICLE_RECORD_TYPES = ("response", "conversion", "resource")


def _warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)


def _truncated(record: Any, data: bytes) -> bool:
    """True when a record ends before its declared length (a cut download or damaged gzip member)."""
    try:
        declared = int(record.rec_headers.get_header("Content-Length") or -1)
    except ValueError:
        return False
    if declared < 0:
        return False
    http = record.http_headers
    if http is not None:
        if http.get_header("Transfer-Encoding") or http.get_header("Content-Encoding"):
            return False  # decoded payload length differs from the raw length
        declared -= len(http.to_bytes())
    return len(data) < declared - 2


def iter_warc(stream: IO[bytes], max_payload_bytes: int) -> Iterator[tuple[str, dict[str, Any] | Reject]]:
    """Yield (record_id, payload dict | Reject) for each article-bearing record.

    Payload dict: kind ('html' | 'text'), data (bytes), url, warc_date, charset hint.
    request/metadata/warcinfo records carry no article and are not yielded. A corrupt stream
    ends the iteration with a ``corrupt_archive`` reject; the records read before it are kept.
    """
    total = 0
    index = 0
    try:
        for record in ArchiveIterator(stream, arc2warc=True):
            index += 1
            rtype = record.rec_type
            if rtype not in ARTICLE_RECORD_TYPES:
                continue
            rid = record.rec_headers.get_header("WARC-Record-ID") or f"record-{index}"
            url = record.rec_headers.get_header("WARC-Target-URI")
            wdate = _warc_date(record.rec_headers.get_header("WARC-Date"))
            data = record.content_stream().read(max_payload_bytes + 1)
            total += len(data)
            if _truncated(record, data):
                yield rid, Reject("corrupt_archive", f"record {index} ({url}) is cut short: {len(data)} payload bytes of {record.rec_headers.get_header('Content-Length')}")
                return
            if len(data) > max_payload_bytes or total > max_payload_bytes:
                yield rid, Reject("decompressed_too_large", f"WARC payloads exceed {max_payload_bytes} bytes")
                return
            charset = None
            if rtype == "response":
                status = record.http_headers.get_statuscode() if record.http_headers else None
                ctype = (record.http_headers.get_header("Content-Type") or "") if record.http_headers else ""
                if status and status != "200":
                    yield rid, Reject("not_article_record", f"HTTP status {status} for {url}")
                    continue
                if ctype and "html" not in ctype.lower() and "text" not in ctype.lower():
                    yield rid, Reject("not_article_record", f"content type {ctype!r} for {url}")
                    continue
                if "charset=" in ctype.lower():
                    charset = ctype.lower().split("charset=", 1)[1].split(";")[0].strip()
                kind = "html" if ("html" in ctype.lower() or data.lstrip()[:1] == b"<") else "text"
            elif rtype == "conversion":
                kind = "text"
            else:
                ctype = record.rec_headers.get_header("Content-Type") or ""
                kind = "html" if "html" in ctype.lower() else "text"
            yield rid, {"kind": kind, "data": data, "url": url, "warc_date": wdate, "charset": charset}
    except (ArchiveLoadFailed, EOFError, OSError, ValueError, Exception) as exc:
        yield f"after-record-{index}", Reject("corrupt_archive", f"WARC stream damaged after record {index}: {type(exc).__name__}: {exc}"[:300])
