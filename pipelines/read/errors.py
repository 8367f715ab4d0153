"""Reject reasons: every input file or record that yields no article gets one of these codes."""

from __future__ import annotations

from typing import Any

REASONS: dict[str, str] = {
    "empty_file": "The file has no bytes, or only whitespace.",
    "binary_file": "The bytes are not text (image, archive, executable...).",
    "undecodable": "The text is too damaged to decode as UTF-8, UTF-16 or GB18030.",
    "no_content": "Decoded, but no title and no body text were found.",
    "unparseable": "The reader for the sniffed format failed on this file or record.",
    "bad_record": "A JSON/CSV record with invalid syntax or wrong field types.",
    "not_article_record": "A WARC response/resource record that is not an HTML or text page, or not HTTP 200.",
    "read_error": "The file could not be read (permission denied, vanished, I/O error).",
    "file_too_large": "The file is larger than --max-file-bytes (checked before reading, and again while reading a file that grows).",
    "document_too_large": "One article-bearing document (a text/HTML/JSON file, or one WARC record, JSON line, CSV row or <doc>) is larger than the 64 MiB document limit; multi-record files are streamed, so only that record is refused.",
    "decompressed_too_large": "Decompressing the file would exceed --max-decompressed-bytes (gzip bomb guard).",
    "corrupt_archive": "A truncated or corrupt gzip/WARC stream; records read before the damage are kept.",
    "too_many_records": "The file holds more records than --max-records-per-file; the rest were not read.",
    "timeout": "One document (a single-article file, or one record of a multi-record file) took longer than --file-time-budget seconds; records read before it are kept.",
    "reader_crashed": "The reader process died on this file (native crash or killed for memory); the other files were read.",
    "symlink_loop": "A symbolic link that points back into a folder being walked (or to a folder already walked), or a dangling link.",
}


class Reject(Exception):
    """Raised by readers for a whole-file reject."""

    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REASONS, reason
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


Item = tuple[str, dict[str, Any]]  # what a reader yields: ("article", fields) | ("reject", reject row)


def reject_row(reason: str, detail: str, record: str | None = None, fmt: str | None = None, size: int | None = None) -> dict[str, Any]:
    """A reject as the rejects table holds it (without its source_file)."""
    assert isinstance(reason, str)
    return {"source_record": record, "source_format": fmt, "reason": reason, "detail": detail[:500], "size_bytes": size}
