"""Read one input file into article field dicts and rejects. Pure over (bytes, name) except the read."""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pipelines.parse.html import parse_html
from pipelines.parse.pagetext import parse_page_text
from pipelines.parse.plaintext import parse_court_digest, parse_plain_text, split_court_digests
from pipelines.parse.records import RecordError, outlet_for_site, parse_record
from pipelines.read.decode import decode_bytes, looks_binary
from pipelines.read.errors import Reject
from pipelines.read.limits import Limits
from pipelines.read.sniff import sniff_bytes, sniff_text
from pipelines.read.warc import iter_warc


@dataclass
class FileResult:
    """What one input file produced: article field dicts and reject dicts (schema column names)."""

    articles: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, reason: str, detail: str, record: str | None = None, fmt: str | None = None, size: int | None = None) -> None:
        self.rejects.append({"source_record": record, "source_format": fmt, "reason": reason, "detail": detail[:500], "size_bytes": size})


def gunzip_bounded(data: bytes, limit: int) -> bytes:
    """Decompress all gzip members, refusing to inflate past ``limit`` bytes (gzip bombs)."""
    out = bytearray()
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = d.decompress(data, limit - len(out) + 1)
        except zlib.error as exc:
            raise Reject("corrupt_archive", f"gzip stream is corrupt: {exc}") from exc
        out += chunk
        if len(out) > limit or d.unconsumed_tail:
            raise Reject("decompressed_too_large", f"inflates past {limit} bytes")
        if not d.eof:
            raise Reject("corrupt_archive", "gzip stream is truncated")
        data = d.unused_data
    return bytes(out)


def _text_article(text: str, fmt: str) -> dict[str, Any]:
    if fmt == "page_text":
        return parse_page_text(text)
    if fmt == "court_digest":
        return parse_court_digest(text)
    return parse_plain_text(text)


_SOGOU_DOC = re.compile(r"<doc>(.*?)(?:</doc>|(?=<doc>)|\Z)", re.S)
_SOGOU_FIELD = re.compile(r"<(url|docno|contenttitle|content)>(.*?)(?:</\1>|(?=<(?:url|docno|contenttitle|content|/doc)>)|\Z)", re.S)


def _sogou_records(text: str) -> Iterator[dict[str, str]]:
    for m in _SOGOU_DOC.finditer(text):
        yield {k: v.strip() for k, v in _SOGOU_FIELD.findall(m.group(1))}


def _json_records(text: str, fmt: str, limits: Limits, result: FileResult) -> Iterator[tuple[str, Any]]:
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise Reject("bad_record", f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
        if isinstance(data, dict):
            # {"articles": [...]} or a single article object
            lists = [v for v in data.values() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)]
            data = lists[0] if len(lists) == 1 and not any(k in data for k in ("title", "content", "body")) else [data]
        if not isinstance(data, list):
            raise Reject("bad_record", f"top-level JSON is a {type(data).__name__}, expected an object or a list")
        for i, item in enumerate(data):
            yield str(i), item
        return
    for i, line in enumerate(text.split("\n")):
        if not line.strip():
            continue
        try:
            yield str(i), json.loads(line)
        except json.JSONDecodeError as exc:
            result.reject("bad_record", f"line {i + 1}: invalid JSON: {exc.msg}", record=str(i), fmt=fmt, size=len(line.encode()))


def _csv_records(text: str) -> Iterator[tuple[str, Any]]:
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, None)
    if not header:
        raise Reject("no_content", "CSV has no header row")
    header = [h.strip() for h in header]
    for i, row in enumerate(reader, start=1):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            yield str(i), Reject("bad_record", f"row {i} has {len(row)} fields, header has {len(header)}")
            continue
        yield str(i), dict(zip(header, row, strict=True))


DEFAULT_LIMITS = Limits()


def read_bytes(data: bytes, name: str, limits: Limits = DEFAULT_LIMITS) -> FileResult:
    """Turn the bytes of one file into articles and rejects. ``name`` is only a hint."""
    result = FileResult()
    size = len(data)
    if not data.strip():
        result.reject("empty_file", "file is empty" if not data else "file holds only whitespace", size=size)
        return result
    kind = sniff_bytes(data[:65536], name)
    if kind == "gzip":
        if data[:64].find(b"WARC/") >= 0 or ".warc" in name.lower() or _gzip_starts_with_warc(data):
            return _read_warc(data, name, limits, result, size)
        try:
            data = gunzip_bounded(data, limits.max_decompressed_bytes)
        except Reject as rej:
            result.reject(rej.reason, rej.detail, size=size)
            return result
        inner = name[:-3] if name.lower().endswith(".gz") else name
        sub = read_bytes(data, inner, limits)
        return sub
    if kind == "warc":
        return _read_warc(data, name, limits, result, size)
    if looks_binary(data):
        nuls = data[:8192].count(0)
        result.reject("binary_file", f"{nuls} NUL bytes in the first 8 KiB; not text", size=size)
        return result
    decoded = decode_bytes(data)
    text = decoded.text
    if decoded.errors > max(20, len(text) // 20):
        result.reject("undecodable", f"{decoded.errors} undecodable byte sequences as {decoded.encoding}", size=size)
        return result
    mojibake = decoded.errors > 0
    if kind == "sogou_xml":
        _read_records(((str(i), r) for i, r in enumerate(_sogou_records(text))), "sogou_xml", limits, result, mojibake)
        if not result.articles and not result.rejects:
            result.reject("no_content", "no <doc> record found", fmt="sogou_xml", size=size)
        return result
    if kind in ("json", "jsonl"):
        try:
            _read_records(_json_records(text, kind, limits, result), kind, limits, result, mojibake)
        except Reject as rej:
            result.reject(rej.reason, rej.detail, fmt=kind, size=size)
        if not result.articles and not result.rejects:
            result.reject("no_content", "no record found", fmt=kind, size=size)
        return result
    if kind == "csv":
        try:
            _read_records(_csv_records(text), "csv", limits, result, mojibake)
        except (Reject, csv.Error) as exc:
            reason, detail = (exc.reason, exc.detail) if isinstance(exc, Reject) else ("bad_record", str(exc))
            result.reject(reason, detail, fmt="csv", size=size)
        if not result.articles and not result.rejects:
            result.reject("no_content", "no CSV rows", fmt="csv", size=size)
        return result
    if kind == "html":
        fmt = "html"
        rec = parse_html(text)
    else:
        fmt = sniff_text(text)
        if fmt == "court_digest" and len(cases := split_court_digests(text)) > 1:
            # a PDF slice holding several case digests: one article per case, nothing dropped
            for i, case in enumerate(cases):
                _add_article(result, parse_court_digest(case), fmt, str(i), mojibake, None)
            return result
        rec = _text_article(text, fmt)
    _add_article(result, rec, fmt, None, mojibake, size)
    return result


def _gzip_starts_with_warc(data: bytes) -> bool:
    try:
        head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[:4096], 64)
    except zlib.error:
        return False
    return head.lstrip().startswith(b"WARC/")


def _add_article(result: FileResult, rec: dict[str, Any], fmt: str, record: str | None, mojibake: bool, size: int | None) -> None:
    if not rec.get("title") and not rec.get("body"):
        result.reject("no_content", "no title and no body text found", record=record, fmt=fmt, size=size)
        return
    rec["source_format"] = fmt
    rec["source_record"] = record
    if mojibake:
        rec.setdefault("quality_flags", []).append("mojibake")
    result.articles.append(rec)


def _read_records(records: Iterator[tuple[str, Any]], fmt: str, limits: Limits, result: FileResult, mojibake: bool) -> None:
    for n, (rid, raw) in enumerate(records):
        if n >= limits.max_records_per_file:
            result.reject("too_many_records", f"stopped after {limits.max_records_per_file} records", record=rid, fmt=fmt)
            return
        if isinstance(raw, Reject):
            result.reject(raw.reason, raw.detail, record=rid, fmt=fmt)
            continue
        if fmt == "sogou_xml":
            raw = {"url": raw.get("url"), "title": raw.get("contenttitle"), "content": raw.get("content"), "docno": raw.get("docno")}
        try:
            rec = parse_record(raw)
        except RecordError as exc:
            reason = "no_content" if "neither" in str(exc) else "bad_record"
            result.reject(reason, str(exc), record=rid, fmt=fmt)
            continue
        # SogouCS marks unknown GB bytes with '?'; a run of them inside CJK text is damage, not punctuation
        rec_mojibake = mojibake or (fmt == "sogou_xml" and bool(re.search(r"[\u4e00-\u9fff]\?[\u4e00-\u9fff\uff00-\uffef]", rec.get("body") or "")))
        _add_article(result, rec, fmt, rid, rec_mojibake, None)


def _read_warc(data: bytes, name: str, limits: Limits, result: FileResult, size: int) -> FileResult:
    fmt = "wet" if ".wet" in name.lower() else "warc"
    count = 0
    for rid, item in iter_warc(io.BytesIO(data), limits.max_decompressed_bytes):
        if isinstance(item, Reject):
            result.reject(item.reason, item.detail, record=rid, fmt=fmt)
            continue
        count += 1
        if count > limits.max_records_per_file:
            result.reject("too_many_records", f"stopped after {limits.max_records_per_file} records", record=rid, fmt=fmt)
            break
        decoded = decode_bytes(item["data"], item["charset"])
        if decoded.errors > max(20, len(decoded.text) // 20):
            result.reject("undecodable", f"{decoded.errors} undecodable byte sequences", record=rid, fmt=fmt, size=len(item["data"]))
            continue
        try:
            if item["kind"] == "html":
                rec = parse_html(decoded.text, url_hint=item["url"], date_hint=item["warc_date"])
            else:
                rec = parse_plain_text(decoded.text)
                rec["url"] = item["url"] or rec.get("url")
                from pipelines.parse.common import site_of

                rec["site"] = site_of(rec["url"])
                if rec.get("published_at") is None and item["warc_date"] is not None:
                    rec["published_at"], rec["published_at_source"] = item["warc_date"], "warc_date"
            if not rec.get("outlet"):
                rec["outlet"] = outlet_for_site(rec.get("site"))
        except Exception as exc:
            result.reject("unparseable", f"{type(exc).__name__}: {exc}", record=rid, fmt=fmt, size=len(item["data"]))
            continue
        _add_article(result, rec, fmt, rid, decoded.errors > 0, len(item["data"]))
    if count == 0 and not result.rejects:
        result.reject("no_content", "no response or conversion record in the WARC", fmt=fmt, size=size)
    return result
