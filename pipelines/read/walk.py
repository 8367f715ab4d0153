"""Walk the input folder: every file found is either read or recorded as a reject, never skipped."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from operator import attrgetter
from pathlib import Path
from typing import NamedTuple

# Provenance notes and licences beside the data are not articles.
_BY_NAME = attrgetter("name")
IGNORED_NAMES = frozenset({"SOURCES.tsv", "PROVENANCE.md", "README.md", "LICENSE", "LICENSE.txt", ".DS_Store"})


class InputFile(NamedTuple):
    """One file found by the walk (a tuple: a million of them are made per no-op rerun)."""

    rel: str  # POSIX path relative to the input root (undecodable bytes escaped)
    path: str  # absolute path on disk
    size: int
    mtime_ns: int
    problem: str | None = None  # a reject reason found while walking
    detail: str = ""


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "vanished during the walk"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


def walk_inputs(root: str | Path) -> Iterator[InputFile]:
    """Yield every regular file under ``root`` in sorted (byte) order, depth first.

    Links that loop or dangle, folders that cannot be listed, entries that vanish mid-walk, special
    files and names whose escaped form collides with another name become problems (rejects), so the
    walk never stops. It keeps its own stack (no recursion), so a folder 2,000 levels deep is fine.
    A URL (s3://, gs://, file://) is listed by ``pipelines.read.remote.walk_remote``.
    """
    from pipelines.read.remote import is_url, walk_remote  # late: remote imports this module

    if is_url(root):
        yield from walk_remote(str(root))
        return
    root = os.path.abspath(root)
    # escaped names only: a name with undecodable bytes is escaped with backslashes and so can only
    # collide with a name that has backslashes too; other rels are unique (a million-file walk keeps no set)
    taken: set[str] = set()

    def unique(f: InputFile, name: str) -> InputFile:
        if "\\" not in f.rel:
            return f
        if f.rel not in taken:
            taken.add(f.rel)
            return f
        # only an escaped non-UTF-8 name can collide (with a real name spelled like the escape)
        rel = f"{f.rel}#{os.fsencode(name).hex()}"
        taken.add(rel)
        return InputFile(rel, f.path, f.size, f.mtime_ns, "read_error", "the file name is not valid UTF-8 and its escaped form equals another file's name; rename it")

    def listing(folder: str) -> tuple[list[os.DirEntry[str]] | None, str]:
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            return None, f"cannot list folder: {_why(exc)}"
        try:
            # UTF-8 keeps code point order, so names that are valid UTF-8 sort as str; only names with
            # escaped non-UTF-8 bytes need the (slower) sort by their bytes
            "".join([e.name for e in entries]).encode("utf-8")
            entries.sort(key=_BY_NAME)
        except UnicodeEncodeError:
            entries.sort(key=lambda e: os.fsencode(e.name))
        return entries, ""

    try:
        st = os.stat(root)
        root_key = (st.st_dev, st.st_ino)
    except OSError:
        root_key = (0, 0)
    walked: set[tuple[int, int]] = {root_key}
    entries, problem = listing(root)
    if entries is None:
        yield InputFile(".", root, 0, 0, "read_error", problem)
        return
    # frames: (sorted entries of a folder, position, its rel prefix, identities of the folders above and itself).
    # rel is built by concatenation, not os.path.relpath: the walk is the whole of a no-op rerun, so
    # each microsecond per file is a second per million files
    stack: list[tuple[list[os.DirEntry[str]], int, str, frozenset[tuple[int, int]]]] = [(entries, 0, "", frozenset({root_key}))]
    while stack:
        entries, start, prefix, ancestors = stack.pop()
        for pos in range(start, len(entries)):
            entry = entries[pos]
            name = entry.name
            path = entry.path
            rel = prefix + name
            try:
                rel.encode("utf-8")
            except UnicodeEncodeError:
                # os.fsdecode used surrogate escapes for bytes that are not UTF-8: keep them visible
                rel = os.fsencode(rel).decode("utf-8", "backslashreplace")
            try:
                st = entry.stat()  # follows links, like os.stat
            except OSError as exc:
                if entry.is_symlink():
                    yield unique(InputFile(rel, path, 0, 0, "symlink_loop", f"dangling or looping link: {exc.strerror}"), name)
                else:
                    yield unique(InputFile(rel, path, 0, 0, "read_error", f"cannot stat: {_why(exc)}"), name)
                continue
            mode = st.st_mode
            if stat.S_ISREG(mode):
                if name in IGNORED_NAMES or name.startswith("."):
                    # provenance notes and hidden files: listed in the run summary, not read
                    yield InputFile(rel, path, st.st_size, st.st_mtime_ns, "ignored", "provenance note or hidden file")
                elif "\\" in rel:
                    yield unique(InputFile(rel, path, st.st_size, st.st_mtime_ns), name)  # non-UTF-8 names are read, under escaped rel
                else:
                    yield InputFile(rel, path, st.st_size, st.st_mtime_ns)
                continue
            if stat.S_ISDIR(mode):
                key = (st.st_dev, st.st_ino)
                if key in ancestors:
                    yield unique(InputFile(rel, path, 0, 0, "symlink_loop", "folder link points back into a folder above it (a loop)"), name)
                elif key in walked:
                    yield unique(InputFile(rel, path, 0, 0, "symlink_loop", "folder link points to a folder already walked under another path"), name)
                else:
                    walked.add(key)
                    sub, problem = listing(path)
                    if sub is None:
                        yield unique(InputFile(rel, path, 0, 0, "read_error", problem), name)
                    else:
                        # depth first: finish this folder after the one just entered
                        stack.append((entries, pos + 1, prefix, ancestors))
                        stack.append((sub, 0, rel + "/", ancestors | {key}))
                        break
                continue
            yield unique(InputFile(rel, path, 0, 0, "read_error", "not a regular file (device, socket or pipe); not read"), name)
