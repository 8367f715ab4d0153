"""What the walk of an input yields, local or remote: one ``InputFile`` per file found."""

from __future__ import annotations

from typing import NamedTuple

IGNORED_NAMES = frozenset({"SOURCES.tsv", "PROVENANCE.md", "README.md", "LICENSE", "LICENSE.txt", ".DS_Store"})


class InputFile(NamedTuple):
    """One file found by the walk (a tuple: a million of them are made per no-op rerun)."""

    rel: str  # POSIX path relative to the input root (undecodable bytes escaped)
    path: str  # absolute path on disk
    size: int
    mtime_ns: int
    problem: str | None = None  # a reject reason found while walking
    detail: str = ""
