"""Resource limits a user can set on the command line; safe defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 256 * 1024 * 1024
    max_decompressed_bytes: int = 1024 * 1024 * 1024
    max_records_per_file: int = 1_000_000
    file_time_budget: float = 120.0  # seconds per file
    max_text_chars: int = 20 * 1024 * 1024  # one article's text beyond this is truncated and flagged
