"""Walk the input folder: every file found is either read or recorded as a reject, never skipped."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Provenance notes and licences beside the data are not articles.
IGNORED_NAMES = frozenset({"SOURCES.tsv", "PROVENANCE.md", "README.md", "LICENSE", "LICENSE.txt", ".DS_Store"})


@dataclass(frozen=True)
class InputFile:
    rel: str  # POSIX path relative to the input root (undecodable bytes escaped)
    path: str  # absolute path on disk
    size: int
    mtime_ns: int
    problem: str | None = None  # a reject reason found while walking
    detail: str = ""


def _rel_name(root: str, path: str) -> tuple[str, bool]:
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    try:
        rel.encode("utf-8")
        return rel, True
    except UnicodeEncodeError:
        # os.fsdecode used surrogate escapes for bytes that are not UTF-8: keep them visible
        raw = os.fsencode(rel)
        return raw.decode("utf-8", "backslashreplace"), False


def walk_inputs(root: str | Path) -> Iterator[InputFile]:
    """Yield every regular file under ``root`` in sorted order; links that loop or dangle become problems."""
    root = os.path.abspath(root)
    seen_dirs: set[tuple[int, int]] = set()

    def visit(folder: str) -> Iterator[InputFile]:
        try:
            st = os.stat(folder)
        except OSError as exc:
            rel, _ = _rel_name(root, folder)
            yield InputFile(rel, folder, 0, 0, "read_error", f"cannot open folder: {exc.strerror}")
            return
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            rel, _ = _rel_name(root, folder)
            yield InputFile(rel, folder, 0, 0, "symlink_loop", "folder link points back into the walk")
            return
        seen_dirs.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: os.fsencode(e.name))
        except OSError as exc:
            rel, _ = _rel_name(root, folder)
            yield InputFile(rel, folder, 0, 0, "read_error", f"cannot list folder: {exc.strerror}")
            return
        for entry in entries:
            path = entry.path
            rel, _ = _rel_name(root, path)
            try:
                st = os.stat(path)  # follows links
            except OSError as exc:
                reason = "symlink_loop" if entry.is_symlink() else "read_error"
                yield InputFile(rel, path, 0, 0, reason, f"{'dangling or looping link' if entry.is_symlink() else 'cannot stat'}: {exc.strerror}")
                continue
            if stat.S_ISDIR(st.st_mode):
                yield from visit(path)
                continue
            if not stat.S_ISREG(st.st_mode):
                yield InputFile(rel, path, 0, 0, "read_error", "not a regular file (device, socket or pipe)")
                continue
            if entry.name in IGNORED_NAMES or entry.name.startswith("."):
                # provenance notes and hidden files: listed in the run summary, not read
                yield InputFile(rel, path, st.st_size, st.st_mtime_ns, "ignored", "provenance note or hidden file")
                continue
            yield InputFile(rel, path, st.st_size, st.st_mtime_ns)  # non-UTF-8 names are read, under escaped rel

    yield from visit(root)
