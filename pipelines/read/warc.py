"""WARC and WET files, streamed: one article per HTTP response (HTML) or WET conversion (text) record.

Records are framed here, from a ``Stream`` (the file, or a ``Gunzip`` over it), one at a time:
memory holds one record, never the file, and records that carry no article (requests, metadata,
images, videos) are skipped without being held. Each framed record is then handed to warcio for
the HTTP layer (status, headers, chunked and compressed bodies).

Damage never loses the good records: a record cut short, a wrong Content-Length, garbage between
records or a corrupt gzip member becomes a ``corrupt_archive`` reject, and reading goes on at the
next record (the next gzip member, or the next ``WARC/`` line).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from pipelines.read.errors import Reject
from pipelines.read.stream import Gunzip, Stream

ARTICLE_RECORD_TYPES = ("response", "conversion", "resource")
MAX_HEADER_BYTES = 256 * 1024
_VERSION = re.compile(rb"^WARC/\d+\.\d+\s*$")


def _warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)
    except (OverflowError, ValueError):
        return None


def _skip_blank(stream: Stream) -> bool:
    """Skip blank lines between records; False at the end of the (segment of the) stream."""
    while True:
        head = stream.peek(2)
        if not head:
            return False
        if head[:1] == b"\n":
            stream.skip(1)
        elif head == b"\r\n" or head == b"\r":
            stream.skip(len(head))
        else:
            return True


def _resync(stream: Stream) -> int:
    """Skip to the next line that starts with ``WARC/``; returns the bytes skipped."""
    skipped = 0
    while True:
        n = stream.find_skip(b"\nWARC/")
        if n < 0:
            return -1
        skipped += n + stream.skip(1)
        if _VERSION.match(stream.peek(16).split(b"\n", 1)[0]):
            return skipped
        skipped += stream.skip(1)


def _read_header(stream: Stream) -> tuple[bytes, dict[str, str], str | None]:
    """The header block up to its blank line: (raw bytes, lower-cased fields, problem or None)."""
    raw = bytearray()
    fields: dict[str, str] = {}
    last: str | None = None
    first = True
    while True:
        line, too_long = stream.readline(MAX_HEADER_BYTES)
        if not line:
            return bytes(raw), fields, "the record header is cut short"
        raw += line
        if too_long or len(raw) > MAX_HEADER_BYTES:
            return bytes(raw), fields, f"the record header is longer than {MAX_HEADER_BYTES} bytes"
        if first:
            first = False
            continue
        if line in (b"\r\n", b"\n"):
            return bytes(raw), fields, None
        if not line.endswith(b"\n"):
            return bytes(raw), fields, "the record header is cut short"
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if text[:1] in (" ", "\t") and last is not None:
            fields[last] += " " + text.strip()
            continue
        name, sep, value = text.partition(":")
        if not sep:
            continue
        last = name.strip().lower()
        fields[last] = value.strip()


def _trailer_ok(stream: Stream) -> bool:
    """Consume the blank lines that end a record; True when the record ended where its length said."""
    head = stream.peek(4)
    if head.startswith(b"\r\n\r\n"):
        stream.skip(4)  # the standard trailer: whatever follows is the next record's business
        return True
    if not head:
        return True
    n = len(head) - len(head.lstrip(b"\r\n"))
    rest = stream.peek(n + 5)[n:]
    if not rest or rest.startswith(b"WARC/"):
        stream.skip(n)  # a short or missing trailer, then the next record: tolerated
        return True
    return False


def iter_warc(stream: Stream, gz: Gunzip | None, max_document_bytes: int) -> Iterator[tuple[str, dict[str, Any] | Reject]]:
    """Yield (record_id, payload dict | Reject) for each article-bearing record and each damage.

    Payload dict: kind ('html' | 'text'), data (bytes), url, warc_date, charset hint.
    request/metadata/warcinfo/revisit records carry no article and are not yielded.
    """
    index = 0
    reported = 0  # gzip damage already explained by a record reject
    while True:
        if not _skip_blank(stream):
            if gz is not None and gz.damaged:
                if len(gz.damage) > reported:
                    yield f"damage-{len(gz.damage)}", Reject("corrupt_archive", f"{gz.damage[-1]}; reading went on at the next gzip member")
                reported = len(gz.damage)
                if gz.next_segment():
                    stream.resume()
                    continue
            return
        start = stream.offset
        if not _VERSION.match(stream.peek(16).split(b"\n", 1)[0]):
            skipped = _resync(stream)
            where = f"{'the rest' if skipped < 0 else f'{skipped} bytes'} from byte {start}"
            yield f"offset-{start}", Reject("corrupt_archive", f"{where} after record {index} is not a WARC record; skipped")
            continue
        index += 1
        header, fields, problem = _read_header(stream)
        rid = fields.get("warc-record-id") or f"record-{index}"
        url = fields.get("warc-target-uri")
        if problem is not None:
            yield rid, Reject("corrupt_archive", f"record {index} at byte {start}: {problem}")
            if gz is not None and gz.damaged:
                reported = len(gz.damage)
            else:
                _resync(stream)  # at the end, the loop ends (or goes on at the next gzip segment)
            continue
        try:
            length = int(fields.get("content-length", ""))
            if length < 0:
                raise ValueError
        except ValueError:
            yield rid, Reject("corrupt_archive", f"record {index} at byte {start} has no valid Content-Length ({fields.get('content-length')!r})")
            _resync(stream)
            continue
        rtype = fields.get("warc-type", "")
        article = rtype in ARTICLE_RECORD_TYPES
        if not article or length > max_document_bytes:
            got = stream.skip(length)
            if got < length:
                yield rid, Reject("corrupt_archive", f"record {index} ({rtype} {url}) is cut short: {got} of {length} bytes")
                if gz is not None and gz.damaged:
                    reported = len(gz.damage)
                continue
            if article:
                yield rid, Reject("document_too_large", f"record {index} ({url}) holds {length} bytes, over the {max_document_bytes}-byte document limit; skipped")
            _trailer_ok(stream)
            continue
        block = bytes(stream.read_upto(length))
        if len(block) < length:
            cut = -1 if gz is not None and gz.damaged else block.find(b"\r\n\r\nWARC/")
            if cut >= 0:  # a Content-Length far too big: the next record starts inside what was read
                stream.unread(block[cut + 4 :])
                yield rid, Reject("corrupt_archive", f"record {index} ({url}): its Content-Length ({length}) runs past the next record")
                continue
            yield rid, Reject("corrupt_archive", f"record {index} ({url}) is cut short: {len(block)} of {length} bytes")
            if gz is not None and gz.damaged:
                reported = len(gz.damage)
            continue
        if not _trailer_ok(stream):
            # the Content-Length is wrong: find where this record really ends and read on from there
            cut = block.find(b"\r\n\r\nWARC/")
            if cut >= 0:
                stream.unread(block[cut + 4 :])
                detail = f"its Content-Length ({length}) runs into the next record"
            else:
                detail = f"its Content-Length ({length}) ends before the record does"
                _resync(stream)
            yield rid, Reject("corrupt_archive", f"record {index} ({url}): {detail}")
            if gz is not None and gz.damaged:
                reported = len(gz.damage)  # the damage is what broke this record
            continue
        yield rid, _payload(header, block, rtype, url, fields, index, max_document_bytes)


def _payload(header: bytes, block: bytes, rtype: str, url: str | None, fields: dict[str, str], index: int, cap: int) -> dict[str, Any] | Reject:
    """The article payload of one framed record, via warcio's HTTP handling."""
    try:
        record = next(iter(ArchiveIterator(io.BytesIO(header + block + b"\r\n\r\n"))))
        data = record.content_stream().read(cap + 1)
    except Exception as exc:
        return Reject("corrupt_archive", f"record {index} ({url}) cannot be parsed: {type(exc).__name__}: {exc}"[:300])
    if len(data) > cap:
        return Reject("document_too_large", f"record {index} ({url}) decodes to more than {cap} bytes")
    wdate = _warc_date(fields.get("warc-date"))
    charset = None
    if rtype == "response":
        http = record.http_headers
        status = http.get_statuscode() if http is not None else None
        ctype = (http.get_header("Content-Type") or "") if http is not None else ""
        if status and status != "200":
            return Reject("not_article_record", f"HTTP status {status} for {url}")
        if ctype and "html" not in ctype.lower() and "text" not in ctype.lower():
            return Reject("not_article_record", f"content type {ctype!r} for {url}")
        if "charset=" in ctype.lower():
            charset = ctype.lower().split("charset=", 1)[1].split(";")[0].strip()
        kind = "html" if ("html" in ctype.lower() or data.lstrip()[:1] == b"<") else "text"
    elif rtype == "conversion":
        kind = "text"
    else:
        ctype = fields.get("content-type", "")
        kind = "html" if "html" in ctype.lower() else "text"
    return {"kind": kind, "data": data, "url": url, "warc_date": wdate, "charset": charset}
