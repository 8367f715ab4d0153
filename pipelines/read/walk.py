"""Walk the input folder: every file found is either read or recorded as a reject, never skipped."""

from __future__ import annotations

import errno
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
    taken: set[str] = set()

    def unique(f: InputFile, name: str) -> InputFile:
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
                return sorted(it, key=lambda e: os.fsencode(e.name)), ""
        except OSError as exc:
            return None, f"cannot list folder: {_why(exc)}"

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
    # frames: (sorted entries of a folder, position, identities of the folders above and itself)
    stack: list[tuple[list[os.DirEntry[str]], int, frozenset[tuple[int, int]]]] = [(entries, 0, frozenset({root_key}))]
    while stack:
        entries, pos, ancestors = stack[-1]
        if pos >= len(entries):
            stack.pop()
            continue
        stack[-1] = (entries, pos + 1, ancestors)
        entry = entries[pos]
        path = entry.path
        rel, _ = _rel_name(root, path)
        try:
            st = os.stat(path)  # follows links
        except OSError as exc:
            if entry.is_symlink():
                yield unique(InputFile(rel, path, 0, 0, "symlink_loop", f"dangling or looping link: {exc.strerror}"), entry.name)
            else:
                yield unique(InputFile(rel, path, 0, 0, "read_error", f"cannot stat: {_why(exc)}"), entry.name)
            continue
        if stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if key in ancestors:
                yield unique(InputFile(rel, path, 0, 0, "symlink_loop", "folder link points back into a folder above it (a loop)"), entry.name)
            elif key in walked:
                yield unique(InputFile(rel, path, 0, 0, "symlink_loop", "folder link points to a folder already walked under another path"), entry.name)
            else:
                walked.add(key)
                sub, problem = listing(path)
                if sub is None:
                    yield unique(InputFile(rel, path, 0, 0, "read_error", problem), entry.name)
                else:
                    stack.append((sub, 0, ancestors | {key}))
            continue
        if not stat.S_ISREG(st.st_mode):
            yield unique(InputFile(rel, path, 0, 0, "read_error", "not a regular file (device, socket or pipe); not read"), entry.name)
            continue
        if entry.name in IGNORED_NAMES or entry.name.startswith("."):
            # provenance notes and hidden files: listed in the run summary, not read
            yield InputFile(rel, path, st.st_size, st.st_mtime_ns, "ignored", "provenance note or hidden file")
            continue
        yield unique(InputFile(rel, path, st.st_size, st.st_mtime_ns), entry.name)  # non-UTF-8 names are read, under escaped rel
