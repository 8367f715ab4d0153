"""Read one input file into article field dicts and rejects, streaming from the file.

``iter_source`` yields items as it reads: ``("article", fields)`` or ``("reject", reject)``. Memory
is bounded by one document (``Limits.max_document_bytes``), never by the file: WARC/WET, JSON Lines,
CSV, SogouCS and big JSON arrays are read record by record, gzip is inflated as it streams (the
inflated bytes counted against ``max_decompressed_bytes`` as they come), and a one-article file
(text, HTML, a JSON object) larger than a document is refused as ``document_too_large``.

Every record of a multi-record file ends as an article or a reject; a damaged or over-limit file
keeps the records read before the damage, and says where reading stopped.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import os
import re
import stat
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from pipelines.parse.common import site_of
from pipelines.parse.html import HtmlTooDeep, parse_html
from pipelines.parse.pagetext import looks_like_page_text, parse_page_text
from pipelines.parse.plaintext import looks_like_digest, parse_court_digest, parse_plain_text, split_court_digests
from pipelines.parse.records import RecordError, outlet_for_site, parse_record
from pipelines.read.decode import Decoded, decode_bytes, looks_binary
from pipelines.read.errors import Item, Reject, reject_row
from pipelines.read.isolate import Emit, FileTimeout, budget, timeout_reject
from pipelines.read.limits import Limits
from pipelines.read.remote import is_url, open_remote
from pipelines.read.sniff import sniff_bytes
from pipelines.read.stream import GZIP_MAGIC, BytesSource, ChunkSource, FileBytes, Gunzip, Stream, Transcoder
from pipelines.read.walk import InputFile
from pipelines.read.warc import iter_warc

HEAD = 65536
MAX_GZIP_DEPTH = 3
_WARC_LINE = re.compile(rb"(?:^|\n)WARC/\d\.\d+\r?\n")
DEFAULT_LIMITS = Limits()


@dataclass
class FileResult:
    """What one input file produced: article field dicts and reject dicts (schema column names)."""

    articles: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, reason: str, detail: str, record: str | None = None, fmt: str | None = None, size: int | None = None) -> None:
        self.rejects.append(reject_row(reason, detail, record, fmt, size))

    def add(self, item: Item) -> None:
        (self.articles if item[0] == "article" else self.rejects).append(item[1])


def _rej(reason: str, detail: str, record: str | None = None, fmt: str | None = None, size: int | None = None) -> Item:
    return "reject", reject_row(reason, detail, record, fmt, size)


class _TooMany(Exception):
    pass


@dataclass
class _Ctx:
    name: str
    limits: Limits
    size: int | None
    fmt: str | None = None
    records: int = 0
    layers: list[Gunzip] = field(default_factory=list)
    last_record: str | None = None

    def damage(self) -> str | None:
        for gz in self.layers:
            if gz.damage:
                return gz.damage[0]
        return None

    def count(self, rid: str) -> None:
        """Count one record against --max-records-per-file."""
        self.records += 1
        if self.records > self.limits.max_records_per_file:
            raise _TooMany(rid)
        self.last_record = rid


# --- entry points ------------------------------------------------------------------------------


def read_bytes(data: bytes, name: str, limits: Limits = DEFAULT_LIMITS) -> FileResult:
    """Turn the bytes of one file into articles and rejects. ``name`` is only a hint."""
    result = FileResult()
    for item in iter_source(BytesSource(data), name, limits, size=len(data)):
        result.add(item)
    return result


def read_path(path: str, name: str, limits: Limits = DEFAULT_LIMITS) -> FileResult:
    """Read a file from disk, streaming (tests and tools; the build uses ``iter_source`` directly)."""
    result = FileResult()
    try:
        fh = open_input(path)
    except OSError as exc:
        result.reject("read_error", describe_os_error(exc))
        return result
    except Reject as rej:
        result.reject(rej.reason, rej.detail)
        return result
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limits.max_file_bytes:
            result.reject("file_too_large", f"{size} bytes > --max-file-bytes {limits.max_file_bytes}", size=size)
            return result
        for item in iter_source(FileBytes(fh, limits.max_file_bytes), name, limits, size=size):
            result.add(item)
    return result


def open_input(path: str) -> IO[bytes]:
    """Open an input file for reading without ever blocking: a path that became a FIFO is refused."""
    if is_url(path):  # s3://, gs://, file:// (the walk of a URL gives URLs)
        return open_remote(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Reject("read_error", "no longer a regular file when it was opened (now a device, pipe or socket)")
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


def describe_os_error(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ENOENT:
        return "the file vanished after the walk found it (moved or deleted during the build)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied: the build cannot read this file; fix its permissions and rerun"
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links"
    if exc.errno == errno.EISDIR:
        return "became a folder after the walk found it"
    return f"I/O error: {exc.strerror or exc}"


def iter_source(src: ChunkSource, name: str, limits: Limits = DEFAULT_LIMITS, size: int | None = None) -> Iterator[Item]:
    """Yield the articles and rejects of one file as they are read."""
    ctx = _Ctx(name, limits, size)
    try:
        yield from _dispatch(Stream(src), name, ctx, 0)
    except _TooMany as exc:
        yield _rej("too_many_records", f"more than --max-records-per-file ({limits.max_records_per_file}) records; "
                   f"stopped after record {ctx.last_record}, the rest were not read", record=str(exc), fmt=ctx.fmt)
    except Reject as rej:
        where = f" (after {ctx.records} records, which are kept)" if ctx.records else ""
        yield _rej(rej.reason, rej.detail + where, fmt=ctx.fmt, size=size)


# --- dispatch on the bytes ---------------------------------------------------------------------


def _dispatch(stream: Stream, name: str, ctx: _Ctx, depth: int) -> Iterator[Item]:
    head = stream.peek(HEAD)
    in_gzip = depth > 0
    while head and not head.strip() and len(head) == HEAD:
        stream.skip(len(head))  # more than 64 KiB of leading whitespace
        head = stream.peek(HEAD)
    if not head.lstrip(b"\xef\xbb\xbf").strip():
        if damage := ctx.damage():
            yield _rej("corrupt_archive", damage, size=ctx.size)
            return
        what = ("the gzip holds an empty file" if not head else "the gzip holds only whitespace") if in_gzip else ("file is empty" if not head else "file holds only whitespace (or a byte-order mark)")
        yield _rej("empty_file", what, size=ctx.size)
        return
    lower = name.lower()
    if head.startswith(GZIP_MAGIC) or (lower.endswith(".gz") and (head.startswith(b"\x1f\x8b") or GZIP_MAGIC in head)):
        if depth >= MAX_GZIP_DEPTH:
            yield _rej("unparseable", f"gzip nested more than {MAX_GZIP_DEPTH} deep", size=ctx.size)
            return
        gz = Gunzip(stream, ctx.limits.max_decompressed_bytes, resync=True)
        ctx.layers.append(gz)
        inner = Stream(gz)
        ihead = inner.peek(HEAD)
        if ihead.lstrip()[:5] == b"WARC/" or (not ihead and ".warc" in name.lower()):
            yield from _warc(inner, gz, name, ctx)
            return
        yield from _dispatch(inner, name[:-3] if name.lower().endswith(".gz") else name, ctx, depth + 1)
        return
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith((b"WARC/1.", b"WARC/0.")) or ((".warc" in lower or ".wet" in lower) and _WARC_LINE.search(head)):
        # (a WARC whose first record is damaged still reads from its next record)
        yield from _warc(stream, None, name, ctx)
        return
    for bom, enc in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if head.startswith(bom):
            stream.skip(len(bom))
            tc = Transcoder(stream, enc)
            yield from _formats(Stream(tc), name, ctx, in_gzip, transcoder=tc)
            return
    if looks_binary(head):
        nuls = head[:8192].count(0)
        yield from _whole_file_reject(ctx, "binary_file", f"{nuls} NUL bytes in the first 8 KiB; not text")
        return
    yield from _formats(stream, name, ctx, in_gzip)


def _whole_file_reject(ctx: _Ctx, reason: str, detail: str, fmt: str | None = None) -> Iterator[Item]:
    """Reject the whole file; inside gzip, inflate the rest (never kept) so a bomb is called a bomb."""
    for gz in reversed(ctx.layers):  # innermost first: a bomb nested in a gzip is inside the inner layer
        try:
            gz.drain()
        except Reject as rej:
            yield _rej(rej.reason, rej.detail, fmt=fmt, size=ctx.size)
            return
    if (damage := ctx.damage()) and reason != "corrupt_archive":
        yield _rej("corrupt_archive", damage, fmt=fmt, size=ctx.size)
        return
    yield _rej(reason, detail, fmt=fmt, size=ctx.size)


def _formats(stream: Stream, name: str, ctx: _Ctx, in_gzip: bool, transcoder: Transcoder | None = None) -> Iterator[Item]:
    """Read the file as the format its first bytes show: record by record, or as one document."""
    kind = sniff_bytes(stream.peek(HEAD), name)
    if kind in _RECORD_READERS:
        ctx.fmt = kind
        yield from _records(_RECORD_READERS[kind](stream, ctx), kind, ctx)
        return
    data = yield from _held_document(stream, kind, ctx, in_gzip)
    if data is None:
        return
    decoded = decode_bytes(data)
    if transcoder is not None:
        decoded = Decoded(decoded.text, "utf-16", decoded.text.count("\ufffd"))
    if decoded.errors > max(20, len(decoded.text) // 20):
        yield _rej("undecodable", f"{decoded.errors} undecodable byte sequences as {decoded.encoding}", size=ctx.size)
        return
    yield from _document_articles(decoded.text, kind, ctx, decoded.errors > 0)


def _held_document(stream: Stream, kind: str, ctx: _Ctx, in_gzip: bool) -> Generator[Item, None, bytes | None]:
    """The bytes of a one-document file, up to the document limit; None when it was rejected (or,
    for a JSON array over the limit, read record by record instead)."""
    limits = ctx.limits
    if ctx.size is not None and not in_gzip and ctx.size > limits.max_document_bytes and kind != "json":
        yield _rej("document_too_large", f"one {kind} document of {ctx.size} bytes is over the {limits.max_document_bytes}-byte document limit; "
                   "split it, or use a multi-record format (JSON Lines, CSV, WARC), which is streamed", fmt=kind, size=ctx.size)
        return None
    data = stream.read_upto(limits.max_document_bytes + 1)
    if len(data) > limits.max_document_bytes:
        if kind == "json" and data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[":
            stream.unread(data)
            ctx.fmt = "json"
            yield from _records(_json_array_stream(stream, ctx), "json", ctx)
            return None
        yield from _whole_file_reject(ctx, "document_too_large", f"one {kind} document is over the {limits.max_document_bytes}-byte document limit "
                                      "(a JSON file over it must be a top-level array, which is streamed)", fmt=kind)
        return None
    if damage := ctx.damage():
        yield _rej("corrupt_archive", damage, fmt=kind, size=ctx.size)
        return None
    if not data.strip():
        yield _rej("empty_file", "file holds only whitespace", size=ctx.size)
        return None
    return data


def _document_articles(text: str, kind: str, ctx: _Ctx, mojibake: bool) -> Iterator[Item]:
    """The articles of one decoded document: a JSON document's records, an HTML page, or a text."""
    if kind == "json":
        ctx.fmt = "json"
        yield from _records(_json_document(text, ctx), "json", ctx, mojibake)
        return
    if kind == "html":
        fmt = "html"
        ctx.fmt = fmt
        try:
            rec = parse_html(text)
        except HtmlTooDeep as exc:
            yield _rej("unparseable", str(exc), fmt=fmt, size=ctx.size)
            return
    else:
        fmt = sniff_text(text)
        ctx.fmt = fmt
        if fmt == "court_digest" and len(cases := split_court_digests(text)) > 1:
            # a PDF slice holding several case digests: one article per case, nothing dropped
            for i, case in enumerate(cases):
                ctx.count(str(i))
                yield _article(parse_court_digest(case), fmt, str(i), mojibake, None)
            return
        rec = _text_article(text, fmt)
    yield _article(rec, fmt, None, mojibake, ctx.size)


def _text_article(text: str, fmt: str) -> dict[str, Any]:
    if fmt == "page_text":
        return parse_page_text(text)
    if fmt == "court_digest":
        return parse_court_digest(text)
    return parse_plain_text(text)


def _article(rec: dict[str, Any], fmt: str, record: str | None, mojibake: bool, size: int | None) -> Item:
    if not rec.get("title") and not rec.get("body"):
        return _rej("no_content", "no title and no body text found", record=record, fmt=fmt, size=size)
    rec["source_format"] = fmt
    rec["source_record"] = record
    if mojibake:
        rec.setdefault("quality_flags", []).append("mojibake")
    return "article", rec


# --- records of multi-record files ---------------------------------------------------------------

# (record id, raw record | Reject, mojibake, size in bytes)
RawRecord = tuple[str, Any, bool, int | None]


def _records(records: Iterator[RawRecord], fmt: str, ctx: _Ctx, file_mojibake: bool = False) -> Iterator[Item]:
    seen = 0
    for rid, raw, mojibake, size in records:
        ctx.count(rid)
        seen += 1
        if isinstance(raw, Reject):
            yield _rej(raw.reason, raw.detail, record=rid, fmt=fmt, size=size)
            continue
        if fmt == "sogou_xml":
            raw = {"url": raw.get("url"), "title": raw.get("contenttitle"), "content": raw.get("content"), "docno": raw.get("docno")}
        try:
            rec = parse_record(raw)
        except RecordError as exc:
            reason = "no_content" if "neither" in str(exc) else "bad_record"
            yield _rej(reason, str(exc), record=rid, fmt=fmt, size=size)
            continue
        except RecursionError:
            yield _rej("bad_record", "record nested too deeply", record=rid, fmt=fmt, size=size)
            continue
        except Exception as exc:
            yield _rej("unparseable", f"{type(exc).__name__}: {exc}", record=rid, fmt=fmt, size=size)
            continue
        # SogouCS marks unknown GB bytes with '?'; a run of them inside CJK text is damage, not punctuation
        rec_mojibake = file_mojibake or mojibake or (fmt == "sogou_xml" and bool(re.search(r"[\u4e00-\u9fff]\?[\u4e00-\u9fff\uff00-\uffef]", rec.get("body") or "")))
        yield _article(rec, fmt, rid, rec_mojibake, size)
    if damage := ctx.damage():
        yield _rej("corrupt_archive", f"{damage}; the {seen} records before the damage were read", record=f"after-record-{seen}", fmt=fmt, size=ctx.size)
    elif seen == 0:
        what = {"sogou_xml": "no <doc> record found", "csv": "no CSV rows", "json": "no record found", "jsonl": "no record found"}[fmt]
        yield _rej("no_content", what, fmt=fmt, size=ctx.size)


def _decode_record(data: bytes) -> tuple[str | None, bool]:
    """Decode one record's bytes on their own (so files mixing encodings decode record by record)."""
    decoded = decode_bytes(data)
    if decoded.errors > max(20, len(decoded.text) // 20):
        return None, True
    return decoded.text, decoded.errors > 0


def _lines(stream: Stream, ctx: _Ctx) -> Iterator[tuple[int, bytes, bool]]:
    """(index, line without its newline, too_long); a last line cut by gzip damage is dropped."""
    limit = ctx.limits.max_document_bytes
    i = 0
    while True:
        line, too_long = stream.readline(limit)
        if not line:
            return
        if not line.endswith(b"\n") and not too_long and ctx.damage():
            return  # cut mid-line by the damage; reported by the caller
        yield i, line.rstrip(b"\n").rstrip(b"\r"), too_long
        i += 1


def _jsonl_records(stream: Stream, ctx: _Ctx) -> Iterator[RawRecord]:
    limit = ctx.limits.max_document_bytes
    for i, line, too_long in _lines(stream, ctx):
        rid = str(i)
        if too_long:
            yield rid, Reject("document_too_large", f"line {i + 1} is longer than the {limit}-byte document limit; skipped"), False, None
            continue
        if not line.strip():
            continue
        text, bad = _decode_record(line)
        if text is None:
            yield rid, Reject("undecodable", f"line {i + 1}: too many undecodable bytes"), False, len(line)
            continue
        try:
            yield rid, json.loads(text), bad, len(line)
        except json.JSONDecodeError as exc:
            yield rid, Reject("bad_record", f"line {i + 1}: invalid JSON: {exc.msg} at column {exc.colno}"), False, len(line)
        except ValueError as exc:  # e.g. an integer over Python's 4300-digit limit
            yield rid, Reject("bad_record", f"line {i + 1}: invalid JSON: {exc}"), False, len(line)
        except RecursionError:
            yield rid, Reject("bad_record", f"line {i + 1}: JSON nested too deeply"), False, len(line)


def _json_document(text: str, ctx: _Ctx) -> Iterator[RawRecord]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Reject("bad_record", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except ValueError as exc:
        raise Reject("bad_record", f"invalid JSON: {exc}") from exc
    except RecursionError as exc:
        raise Reject("bad_record", "JSON nested too deeply to parse") from exc
    if isinstance(data, dict):
        # {"articles": [...]} or a single article object
        lists = [v for v in data.values() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
        data = lists[0] if len(lists) == 1 and not any(k in data for k in ("title", "content", "body")) else [data]
    if not isinstance(data, list):
        raise Reject("bad_record", f"top-level JSON is a {type(data).__name__}, expected an object or a list")
    for i, item in enumerate(data):
        yield str(i), item, False, None


def _json_array_stream(stream: Stream, ctx: _Ctx) -> Iterator[RawRecord]:
    """Elements of a top-level JSON array too big to hold, decoded one at a time."""
    limit = ctx.limits.max_document_bytes
    text = _ArrayText(stream)
    if text.next_char() != "[":
        raise Reject("bad_record", "a JSON file over the document limit must be a top-level array")
    text.pos += 1
    i = 0
    while True:
        ch = text.next_char()
        if ch == "]":
            return
        if not ch:
            yield str(i), Reject("bad_record", f"the JSON array is cut short after element {i}"), False, None
            return
        got = text.element(i, limit)
        if isinstance(got, Reject):
            yield str(i), got, False, None
            return
        value, size = got
        yield str(i), value, False, size
        i += 1
        sep = text.next_char()
        if sep == ",":
            text.pos += 1
        elif sep != "]":
            yield str(i), Reject("bad_record", f"expected ',' or ']' after element {i - 1}; the rest of the array was not read"), False, None
            return


class _ArrayText:
    """The text of a streamed JSON array, decoded chunk by chunk; ``buf[pos:]`` is what is not read yet."""

    def __init__(self, stream: Stream) -> None:
        encoding = decode_bytes(stream.peek(HEAD)).encoding
        self.stream = stream
        self.dec = codecs.getincrementaldecoder("gb18030" if encoding == "gb18030" else "utf-8")(errors="replace")
        self.decoder = json.JSONDecoder()
        self.buf = ""
        self.pos = 0
        self.ended = False

    def more(self) -> bool:
        """Decode the next chunk onto what is not read yet; False once the stream had ended."""
        if self.ended:
            return False
        chunk = self.stream.read_chunk()
        if not chunk:
            self.ended = True
            self.buf = self.buf[self.pos :] + self.dec.decode(b"", final=True)
        else:
            self.buf = self.buf[self.pos :] + self.dec.decode(chunk)
        self.pos = 0
        return True

    def next_char(self) -> str:
        """The next character that is not white space, left unread ('' at the end of the stream)."""
        while True:
            buf, pos = self.buf, self.pos
            while pos < len(buf) and buf[pos] in " \t\r\n\ufeff":
                pos += 1
            self.pos = pos
            if pos < len(buf):
                return buf[pos]
            if not self.more():
                return ""

    def element(self, i: int, limit: int) -> tuple[Any, int] | Reject:
        """Element ``i``, which starts at ``pos``, and its size in characters; reads on until it is whole.

        A Reject ends the array: invalid JSON, nesting too deep, or an element over ``limit``.
        """
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
                if end < len(self.buf) or self.ended:  # a value that ends where the text does may go on (a number)
                    break
            except ValueError as exc:  # JSONDecodeError, or an integer over Python's digit limit
                too_big = len(self.buf) - self.pos > limit
                if not isinstance(exc, json.JSONDecodeError) or self.ended or too_big:
                    what = f"element {i} is over the {limit}-byte document limit" if too_big else f"invalid JSON in element {i}: {exc}"
                    return Reject("document_too_large" if too_big else "bad_record", what + "; the rest of the array was not read")
            except RecursionError:
                return Reject("bad_record", f"element {i} is nested too deeply; the rest of the array was not read")
            self.more()
        size = end - self.pos
        self.pos = end
        return value, size


def _csv_records(stream: Stream, ctx: _Ctx) -> Iterator[RawRecord]:
    limit = ctx.limits.max_document_bytes
    csv.field_size_limit(max(limit, 131072))
    sample = decode_bytes(stream.peek(8192)).text
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    damaged = [0]

    def lines() -> Iterator[str]:
        for _i, line, _too_long in _lines(stream, ctx):
            decoded = decode_bytes(line)
            damaged[0] += decoded.errors
            yield decoded.text + "\n"

    reader = csv.reader(lines(), dialect)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise Reject("bad_record", f"CSV header: {exc}") from exc
    if not header:
        raise Reject("no_content", "CSV has no header row")
    header = [h.strip() for h in header]
    i = 0
    while True:
        damaged[0] = 0
        line_before = reader.line_num
        try:
            row = next(reader, None)
        except csv.Error as exc:
            i += 1
            yield str(i), Reject("bad_record", f"row {i} (line {reader.line_num}): {exc}"), False, None
            if reader.line_num == line_before:
                return  # no progress: stop rather than loop
            continue
        if row is None:
            return
        i += 1
        if not any(c.strip() for c in row):
            continue
        size = sum(len(c) for c in row)
        if damaged[0] > max(20, size // 20):
            yield str(i), Reject("undecodable", f"row {i}: {damaged[0]} undecodable byte sequences"), False, size
            continue
        if len(row) != len(header):
            yield str(i), Reject("bad_record", f"row {i} has {len(row)} fields, header has {len(header)}"), False, size
            continue
        yield str(i), dict(zip(header, row, strict=True)), damaged[0] > 0, size


_SOGOU_FIELD = re.compile(r"<(url|docno|contenttitle|content)>(.*?)(?:</\1>|(?=<(?:url|docno|contenttitle|content|/doc)>)|\Z)", re.S)


def _sogou_records(stream: Stream, ctx: _Ctx) -> Iterator[RawRecord]:
    """SogouCS ``<doc>`` records, split at the byte level (b"<doc>" cannot occur inside a GB18030 or UTF-8 character)."""
    limit = ctx.limits.max_document_bytes
    if stream.find_skip(b"<doc>") < 0:
        return
    i = 0
    while True:
        stream.skip(5)
        data, found, too_long = stream.read_until(b"<doc>", limit)
        rid = str(i)
        i += 1
        if not found and ctx.damage():
            return  # the last record was cut by the damage; reported by the caller
        if too_long:
            yield rid, Reject("document_too_large", f"<doc> {rid} is over the {limit}-byte document limit; skipped"), False, None
        else:
            end = data.find(b"</doc>")
            body = data[:end] if end >= 0 else data
            text, bad = _decode_record(body)
            if text is None:
                yield rid, Reject("undecodable", f"<doc> {rid}: too many undecodable bytes"), False, len(body)
            else:
                yield rid, {k: v.strip() for k, v in _SOGOU_FIELD.findall(text)}, bad, len(body)
        if not found:
            return


# the multi-record formats sniff_bytes names, each with its reader
_RECORD_READERS: dict[str, Callable[[Stream, _Ctx], Iterator[RawRecord]]] = {"sogou_xml": _sogou_records, "jsonl": _jsonl_records, "csv": _csv_records}


# --- WARC / WET ------------------------------------------------------------------------------------


def _warc(stream: Stream, gz: Gunzip | None, name: str, ctx: _Ctx) -> Iterator[Item]:
    fmt = "wet" if ".wet" in name.lower() else "warc"
    ctx.fmt = fmt
    limits = ctx.limits
    seen = 0
    for rid, item in iter_warc(stream, gz, limits.max_document_bytes):
        ctx.count(rid)
        seen += 1
        if isinstance(item, Reject):
            yield _rej(item.reason, item.detail, record=rid, fmt=fmt)
            continue
        size = len(item.data)
        if looks_binary(item.data):
            yield _rej("binary_file", f"the payload of {item.url} is not text ({item.data[:8192].count(0)} NUL bytes in its first 8 KiB)", record=rid, fmt=fmt, size=size)
            continue
        decoded = decode_bytes(item.data, item.charset)
        if decoded.errors > max(20, len(decoded.text) // 20):
            yield _rej("undecodable", f"{decoded.errors} undecodable byte sequences", record=rid, fmt=fmt, size=size)
            continue
        try:
            if item.kind == "html":
                rec = parse_html(decoded.text, url_hint=item.url, date_hint=item.warc_date)
            else:
                rec = parse_plain_text(decoded.text)
                rec["url"] = item.url or rec.get("url")
                rec["site"] = site_of(rec["url"])
                if rec.get("published_at") is None and item.warc_date is not None:
                    rec["published_at"], rec["published_at_source"] = item.warc_date, "warc_date"
            if not rec.get("outlet"):
                rec["outlet"] = outlet_for_site(rec.get("site"))
        except (HtmlTooDeep, RecursionError) as exc:
            yield _rej("unparseable", str(exc) or "structure nested too deeply", record=rid, fmt=fmt, size=size)
            continue
        except Exception as exc:
            yield _rej("unparseable", f"{type(exc).__name__}: {exc}", record=rid, fmt=fmt, size=size)
            continue
        yield _article(rec, fmt, rid, decoded.errors > 0, size)
    if seen == 0:
        yield _rej("no_content", "no response or conversion record in the WARC", fmt=fmt, size=ctx.size)


def sniff_text(text: str) -> str:
    """Which text reader: page_text, court_digest or plain_text."""
    # the tests look at the first 40 lines at most: split off only those
    lines = text[:20000].replace("\r\n", "\n").replace("\r", "\n").split("\n", 40)[:40]
    if looks_like_digest(lines):
        return "court_digest"
    if looks_like_page_text(lines):
        return "page_text"
    return "plain_text"


# --- one file under the limits ---------------------------------------------------------------


def read_file(f: InputFile, limits: Limits, emit: Emit, on_progress: Callable[[], None] | None = None) -> str:
    """Read and parse one file under the limits, passing each article/reject to ``emit`` as it is read.

    Returns the SHA-256 of the whole file ('' when it could not be read). Never raises: every problem
    becomes a reject. The time budget restarts with each record, so a 1 GB WARC may take as long as
    it needs while one pathological document is stopped after --file-time-budget seconds.
    """
    if f.problem:
        emit(("reject", reject_row(f.problem, f.detail, size=f.size)))
        return ""
    if f.size > limits.max_file_bytes:
        emit(("reject", reject_row("file_too_large", f"{f.size} bytes > --max-file-bytes {limits.max_file_bytes}", size=f.size)))
        return ""
    try:
        fh = open_input(f.path)
    except OSError as exc:
        emit(("reject", reject_row("read_error", describe_os_error(exc), size=f.size)))
        return ""
    except Reject as rej:
        emit(("reject", reject_row(rej.reason, rej.detail, size=f.size)))
        return ""
    hasher = hashlib.sha256()
    src = FileBytes(fh, limits.max_file_bytes, hasher, on_progress, size_hint=f.size)
    n = 0
    finished = False
    with fh:
        try:
            with budget(limits.file_time_budget) as restart:
                try:
                    for item in iter_source(src, f.rel, limits, size=f.size):
                        emit(item)
                        n += 1
                        restart()
                    finished = True
                except FileTimeout:
                    emit(timeout_reject(limits, n, f.size))
                    finished = True
                except RecursionError:
                    emit(("reject", reject_row("unparseable", "structure nested too deeply", size=f.size)))
                except MemoryError:
                    emit(("reject", reject_row("unparseable", "ran out of memory parsing this file", size=f.size)))
                except OSError as exc:
                    emit(("reject", reject_row("read_error", describe_os_error(exc) + (f" after {n} records" if n else ""), size=f.size)))
                    return ""
                except Exception as exc:
                    emit(("reject", reject_row("unparseable", f"{type(exc).__name__}: {exc}", size=f.size)))
        except FileTimeout:  # the alarm went off between the last record and disarming it
            if not finished:
                emit(timeout_reject(limits, n, f.size))
        try:
            src.drain()  # the hash covers every byte even where reading stopped early
        except OSError:
            return ""
    return hasher.hexdigest()


def read_one(f: InputFile, limits: Limits) -> tuple[FileResult, str]:
    """Read and parse one file in this process (soft time budget only); never raises."""
    result = FileResult()
    sha = read_file(f, limits, result.add)
    return result, sha
