"""Choose a reader from the bytes; the file name is only a tie-breaker."""

from __future__ import annotations

import re

_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|meta|body|title|div|p|script|link)\b", re.I | re.S)


def sniff_bytes(head: bytes, name: str) -> str:
    """Format family from the first bytes: gzip, warc, sogou_xml, html, json, jsonl, csv or text."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    lower_name = name.lower()
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if stripped.startswith((b"WARC/1.", b"WARC/0.")):
        return "warc"
    if stripped[:200].lower().startswith(b"<doc>") or (b"<doc>" in stripped[:2000] and b"<contenttitle>" in stripped[:20000]):
        return "sogou_xml"
    if _HTML_START.match(stripped[:4096]) or b"<html" in stripped[:2048].lower():
        return "html"
    jsonl_name = lower_name.endswith((".jsonl", ".ndjson"))
    if stripped.startswith(b"["):
        # a JSON Lines file may open with an array on its first line; a pretty-printed array is JSON
        return "jsonl" if jsonl_name and stripped.split(b"\n", 1)[0].rstrip().endswith(b"]") else "json"
    if stripped.startswith(b"{"):
        first_line = stripped.split(b"\n", 1)[0].strip()
        # one object per line → JSON Lines; a pretty-printed object → JSON
        return "jsonl" if first_line.endswith(b"}") or jsonl_name else "json"
    if lower_name.endswith((".json", ".jsonl", ".ndjson")) and stripped[:1] in (b'"', b"-", *(bytes([c]) for c in b"0123456789tfn")):
        # a bare string, number, true/false/null: JSON with the wrong type, one per line in JSON Lines
        return "jsonl" if jsonl_name else "json"
    if lower_name.endswith(".csv") or lower_name.endswith(".tsv"):
        return "csv"
    return "text"
