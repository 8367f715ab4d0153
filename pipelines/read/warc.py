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
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

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


@dataclass(frozen=True, slots=True)
class WarcPayload:
    """What an article-bearing record holds."""

    kind: str  # "html" or "text"
    data: bytes  # the HTTP body (de-chunked, decompressed) or the conversion's text
    url: str | None  # WARC-Target-URI
    warc_date: datetime | None  # WARC-Date in Beijing time, naive
    charset: str | None  # from the HTTP Content-Type, a hint for decoding


WarcItem = tuple[str, WarcPayload | Reject]  # (record id, payload | Reject)


def iter_warc(stream: Stream, gz: Gunzip | None, max_document_bytes: int) -> Iterator[WarcItem]:
    """Yield (record_id, WarcPayload | Reject) for each article-bearing record and each damage.

    request/metadata/warcinfo/revisit records carry no article and are not yielded.
    """
    records = _Records(stream, gz, max_document_bytes)
    while True:
        if _skip_blank(stream):
            yield from records.record()
        elif not (yield from records.end_of_segment()):
            return


class _Records:
    """Frames the records of a stream one at a time, and says what damage it met on the way.

    Each step is a generator that yields its reject before it reads on (resyncs, skips), as the
    reader's caller counts every item before more of the file is inflated.
    """

    def __init__(self, stream: Stream, gz: Gunzip | None, max_document_bytes: int) -> None:
        self.stream = stream
        self.gz = gz
        self.cap = max_document_bytes
        self.index = 0  # records framed so far
        self.reported = 0  # gzip damage already explained by a record reject

    def _damage_explains(self) -> bool:
        """Gzip damage is what broke the record just rejected: it needs no reject of its own."""
        if self.gz is not None and self.gz.damaged:
            self.reported = len(self.gz.damage)
            return True
        return False

    def end_of_segment(self) -> Generator[WarcItem, None, bool]:
        """At the end of the readable bytes: report gzip damage not yet explained; True when reading goes on at the next gzip member."""
        gz = self.gz
        if gz is None or not gz.damaged:
            return False
        if len(gz.damage) > self.reported:
            yield f"damage-{len(gz.damage)}", Reject("corrupt_archive", f"{gz.damage[-1]}; reading went on at the next gzip member")
        self.reported = len(gz.damage)
        if gz.next_segment():
            self.stream.resume()
            return True
        return False

    def record(self) -> Iterator[WarcItem]:
        """The record at the stream's position: its payload when it bears an article, or what is wrong with it."""
        stream = self.stream
        start = stream.offset
        if not _VERSION.match(stream.peek(16).split(b"\n", 1)[0]):
            skipped = _resync(stream)
            where = f"{'the rest' if skipped < 0 else f'{skipped} bytes'} from byte {start}"
            yield f"offset-{start}", Reject("corrupt_archive", f"{where} after record {self.index} is not a WARC record; skipped")
            return
        self.index += 1
        index = self.index
        header, fields, problem = _read_header(stream)
        rid = fields.get("warc-record-id") or f"record-{index}"
        url = fields.get("warc-target-uri")
        if problem is not None:
            yield rid, Reject("corrupt_archive", f"record {index} at byte {start}: {problem}")
            if not self._damage_explains():
                _resync(stream)  # at the end, the loop ends (or goes on at the next gzip segment)
            return
        length = _content_length(fields)
        if length is None:
            yield rid, Reject("corrupt_archive", f"record {index} at byte {start} has no valid Content-Length ({fields.get('content-length')!r})")
            _resync(stream)
            return
        rtype = fields.get("warc-type", "")
        article = rtype in ARTICLE_RECORD_TYPES
        if not article or length > self.cap:
            yield from self._skip(rid, rtype, url, length, article)
            return
        block = bytes(stream.read_upto(length))
        if len(block) < length:
            yield from self._cut_short(rid, url, block, length)
        elif not _trailer_ok(stream):
            yield from self._wrong_length(rid, url, block, length)
        else:
            yield rid, _payload(header, block, rtype, url, fields, index, self.cap)

    def _skip(self, rid: str, rtype: str, url: str | None, length: int, article: bool) -> Iterator[WarcItem]:
        """Pass over a record that bears no article, or one over the document limit (rejected)."""
        got = self.stream.skip(length)
        if got < length:
            yield rid, Reject("corrupt_archive", f"record {self.index} ({rtype} {url}) is cut short: {got} of {length} bytes")
            self._damage_explains()
            return
        if article:
            yield rid, Reject("document_too_large", f"record {self.index} ({url}) holds {length} bytes, over the {self.cap}-byte document limit; skipped")
        _trailer_ok(self.stream)

    def _cut_short(self, rid: str, url: str | None, block: bytes, length: int) -> Iterator[WarcItem]:
        """Fewer bytes than the Content-Length: the file ends, or the next record starts inside them."""
        cut = -1 if self.gz is not None and self.gz.damaged else block.find(b"\r\n\r\nWARC/")
        if cut >= 0:  # a Content-Length far too big: the next record starts inside what was read
            self.stream.unread(block[cut + 4 :])
            yield rid, Reject("corrupt_archive", f"record {self.index} ({url}): its Content-Length ({length}) runs past the next record")
            return
        yield rid, Reject("corrupt_archive", f"record {self.index} ({url}) is cut short: {len(block)} of {length} bytes")
        self._damage_explains()

    def _wrong_length(self, rid: str, url: str | None, block: bytes, length: int) -> Iterator[WarcItem]:
        """The record does not end where its Content-Length says: find where it really ends and read on from there."""
        cut = block.find(b"\r\n\r\nWARC/")
        if cut >= 0:
            self.stream.unread(block[cut + 4 :])
            detail = f"its Content-Length ({length}) runs into the next record"
        else:
            detail = f"its Content-Length ({length}) ends before the record does"
            _resync(self.stream)
        yield rid, Reject("corrupt_archive", f"record {self.index} ({url}): {detail}")
        self._damage_explains()  # the damage is what broke this record


def _content_length(fields: dict[str, str]) -> int | None:
    """The header's Content-Length, or None when it is missing, not a number or negative."""
    try:
        length = int(fields.get("content-length", ""))
    except ValueError:
        return None
    return length if length >= 0 else None


def _payload(header: bytes, block: bytes, rtype: str, url: str | None, fields: dict[str, str], index: int, cap: int) -> WarcPayload | Reject:
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
    return WarcPayload(kind, data, url, wdate, charset)
