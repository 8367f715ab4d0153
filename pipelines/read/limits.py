"""Resource limits a user can set on the command line; safe defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 256 * 1024 * 1024
    max_decompressed_bytes: int = 1024 * 1024 * 1024
    max_records_per_file: int = 1_000_000
    file_time_budget: float = 120.0  # seconds per document: a one-article file, or one record of a multi-record file
    max_text_chars: int = 20 * 1024 * 1024  # one article's text beyond this is truncated and flagged
    # one article-bearing document held in memory: a text/HTML/JSON file, or one WARC record, JSON line,
    # CSV row or SogouCS <doc>. Multi-record files are streamed record by record, so this (not the file
    # size) bounds a reader's memory; a bigger document is rejected as document_too_large.
    max_document_bytes: int = 64 * 1024 * 1024
