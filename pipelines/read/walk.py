"""Walk the input folder: every file found is either read or recorded as a reject, never skipped."""

from __future__ import annotations

import errno
import os
import stat
from array import array
from collections import deque
from collections.abc import Iterator, Sequence
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from pipelines.children import init_pool_child
from pipelines.read.inputs import IGNORED_NAMES, InputFile
from pipelines.read.remote import is_url, walk_remote

# Provenance notes and licences beside the data are not articles.
_BY_NAME = attrgetter("name")
# by the listing's d_type, no stat: not a link, and a file (is_file follows links, so only with the first)
_IS_SYMLINK = os.DirEntry.is_symlink
_IS_FILE = os.DirEntry.is_file
def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "vanished during the walk"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


# A no-op rerun over a million files is mostly this walk, and most of the walk is one stat per file.
# So the "plain" files of a folder (regular by the listing's d_type, named in UTF-8 without a
# backslash, not ignored) are stat'ed a chunk at a time, and once the walk has proved big, by helper
# processes while this one keeps listing folders: threads would only fight over the GIL.
RUN_FILES = 2048  # plain files per chunk: big enough to amortise a round trip, small enough to share out
SERIAL_FILES = 20_000  # plain files stat'ed here before helpers start (forking costs ~50 ms)
_NOT_REGULAR = -1  # a chunk's problem code: stat worked, but the file is no longer a regular file
_NOT_REGULAR_DETAIL = "not a regular file (device, socket or pipe); not read"


class Run:
    """Consecutive plain files of one folder, in walk order, as columns: no object per file."""

    __slots__ = ("folder", "mtimes", "names", "prefix", "sizes")

    def __init__(self, prefix: str, folder: str, names: list[str], sizes: Sequence[int], mtimes: Sequence[int]) -> None:
        self.prefix = prefix  # the folder's rel with a trailing "/" ("" at the root)
        self.folder = folder  # the folder's path with a trailing "/"
        self.names = names
        self.sizes = sizes
        self.mtimes = mtimes

    def files(self) -> Iterator[InputFile]:
        prefix, folder = self.prefix, self.folder
        for name, size, mtime in zip(self.names, self.sizes, self.mtimes, strict=True):
            yield InputFile(prefix + name, folder + name, size, mtime)


def stat_chunk(folder: str, names: list[str]) -> tuple[array[int], array[int], dict[int, int]]:
    """lstat plain files (d_type said regular, so lstat is what ``DirEntry.stat()`` would do).

    Returns sizes, mtimes and, for the few that failed, {index: errno, or _NOT_REGULAR when the
    name no longer holds a regular file}. Compact, because it crosses a process boundary.
    """
    paths = [folder + name for name in names]
    try:
        sts = list(map(os.lstat, paths))
    except OSError:
        return _stat_one_by_one(paths)
    bad = {i: _NOT_REGULAR for i, st in enumerate(sts) if not stat.S_ISREG(st.st_mode)}
    return array("q", [st.st_size for st in sts]), array("q", [st.st_mtime_ns for st in sts]), bad


def _stat_one_by_one(paths: list[str]) -> tuple[array[int], array[int], dict[int, int]]:
    sizes, mtimes, bad = array("q"), array("q"), {}
    for i, path in enumerate(paths):
        try:
            st = os.lstat(path)
        except OSError as exc:
            bad[i] = exc.errno or errno.EIO
            sizes.append(0)
            mtimes.append(0)
            continue
        if not stat.S_ISREG(st.st_mode):
            bad[i] = _NOT_REGULAR
        sizes.append(st.st_size)
        mtimes.append(st.st_mtime_ns)
    return sizes, mtimes, bad


class _Chunk(NamedTuple):
    prefix: str
    folder: str
    names: list[str]
    stats: Any  # stat_chunk's result, or a Future of it


class _Stats:
    """Stats chunks of plain files: here at first, then (if ``workers``) in helper processes."""

    def __init__(self, workers: int | None, serial_files: int) -> None:
        if workers is None:
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
            # measured on 2 cores at 1M files: the walker ~2.2 s of CPU, the stats ~4 s; two helpers share them best
            workers = min(cores, 4) if cores > 1 else 0
        self.workers = workers
        self.serial_files = serial_files
        self.seen = 0
        self.pool: Any = None
        self.window = 0  # chunks in flight before the oldest is waited for

    def submit(self, prefix: str, folder: str, names: list[str]) -> _Chunk:
        if self.pool is None:
            self.seen += len(names)
            if self.workers < 1 or self.seen <= self.serial_files or not self._start():
                return _Chunk(prefix, folder, names, stat_chunk(folder, names))
        try:
            return _Chunk(prefix, folder, names, self.pool.submit(stat_chunk, folder, names))
        except Exception:  # BrokenProcessPool: a helper died (killed, out of memory); stat the rest here
            self.close(broken=True)
            return _Chunk(prefix, folder, names, stat_chunk(folder, names))

    def _start(self) -> bool:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        try:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("fork"), initializer=init_pool_child, initargs=(os.getpid(),))
        except (OSError, ValueError):  # no fork here, or no processes left: stat in this process
            self.workers = 0
            return False
        self.window = 4 * self.workers
        return True

    def settle(self, chunk: _Chunk) -> Iterator[InputFile | Run]:
        prefix, folder, names, res = chunk
        if not isinstance(res, tuple):
            try:
                res = res.result()
            except Exception:  # a helper died (killed, out of memory): stat the chunk here instead
                self.close(broken=True)
                res = stat_chunk(folder, names)
        sizes, mtimes, bad = res
        if not bad:
            yield Run(prefix, folder, names, sizes, mtimes)
            return
        for i, name in enumerate(names):
            code = bad.get(i)
            if code is None:
                yield InputFile(prefix + name, folder + name, sizes[i], mtimes[i])
            elif code == _NOT_REGULAR:
                # replaced since the listing (by a folder, link or pipe): a reject now, looked at again next run
                yield InputFile(prefix + name, folder + name, 0, 0, "read_error", _NOT_REGULAR_DETAIL)
            else:
                yield InputFile(prefix + name, folder + name, 0, 0, "read_error", f"cannot stat: {_why(OSError(code, os.strerror(code)))}")

    def close(self, broken: bool = False) -> None:
        if broken:
            self.workers = 0  # never started again
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def walk_inputs(root: str | Path, *, workers: int | None = None, serial_files: int = SERIAL_FILES) -> Iterator[InputFile]:
    """Yield every regular file under ``root`` in sorted (byte) order, depth first.

    Links that loop or dangle, folders that cannot be listed, entries that vanish mid-walk, special
    files and names whose escaped form collides with another name become problems (rejects), so the
    walk never stops. It keeps its own stack (no recursion), so a folder 2,000 levels deep is fine.
    A URL (s3://, gs://, file://) is listed by ``pipelines.read.remote.walk_remote``.
    ``workers``/``serial_files``: see ``walk_runs``.
    """
    for item in walk_runs(root, workers=workers, serial_files=serial_files):
        if type(item) is Run:
            yield from item.files()
        else:
            yield item


def walk_runs(root: str | Path, *, workers: int | None = None, serial_files: int = SERIAL_FILES) -> Iterator[InputFile | Run]:
    """``walk_inputs``, with the plain files of a folder yielded as ``Run``s of columns.

    Same files, same order, same problems. Plain files are stat'ed by ``workers`` helper processes
    (default: one per core, at most 4; none on one core) once ``serial_files`` have been stat'ed here.
    """
    if is_url(root):
        yield from walk_remote(str(root))
        return
    stats = _Stats(workers, serial_files)
    try:
        pending: deque[InputFile | _Chunk] = deque()
        in_flight = 0
        for item in _traverse(os.path.abspath(root), stats):
            if type(item) is InputFile and not pending:
                yield item
                continue
            pending.append(item)
            if type(item) is _Chunk:
                in_flight += 1
            # chunks settle in walk order, ``window`` behind the listing, so helpers always have work
            while in_flight > stats.window:
                head = pending.popleft()
                if type(head) is _Chunk:
                    in_flight -= 1
                    yield from stats.settle(head)
                else:
                    yield head
        for head in pending:
            if type(head) is _Chunk:
                yield from stats.settle(head)
            else:
                yield head
    finally:
        stats.close()


def _traverse(root: str, stats: _Stats) -> Iterator[InputFile | _Chunk]:
    """The walk itself: every entry in order, plain files as chunks handed to ``stats``."""
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

    def listing(folder: str, plain_prefix: bool) -> tuple[list[os.DirEntry[str]] | None, str, bool, list[str] | None]:
        """Sorted entries (or None and why); whether every name is plain (no name then needs a check);
        and when every entry is a plain file (the usual folder), their sorted names."""
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            return None, f"cannot list folder: {_why(exc)}", False, None
        names = [e.name for e in entries]
        try:
            # UTF-8 keeps code point order, so names that are valid UTF-8 sort as str; only names with
            # escaped non-UTF-8 bytes need the (slower) sort by their bytes
            "".join(names).encode("utf-8")
        except UnicodeEncodeError:
            entries.sort(key=lambda e: os.fsencode(e.name))
            return entries, "", False, None
        joined = "/" + "/".join(names)  # one test per folder: no name with a backslash, a leading dot, or ignored
        clean = plain_prefix and "\\" not in joined and "/." not in joined and IGNORED_NAMES.isdisjoint(names)
        if clean:
            try:
                # d_type from the listing: no stat for a regular file (a link or an unknown type is looked at below)
                if not any(map(_IS_SYMLINK, entries)) and all(map(_IS_FILE, entries)):
                    names.sort()
                    return [], "", True, names
            except OSError:  # an unknown d_type whose lstat failed: the entry-by-entry path says why
                pass
        entries.sort(key=_BY_NAME)
        return entries, "", clean, None

    def plain(rel: str, name: str) -> bool:
        """A regular file's name needs no check (the test ``listing`` made for a whole folder)."""
        if name in IGNORED_NAMES or name.startswith(".") or "\\" in rel:
            return False
        try:
            rel.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True

    try:
        st = os.stat(root)
        root_key = (st.st_dev, st.st_ino)
    except OSError:
        root_key = (0, 0)
    walked: set[tuple[int, int]] = {root_key}
    entries, problem, clean, all_plain = listing(root, True)
    if entries is None:
        yield InputFile(".", root, 0, 0, "read_error", problem)
        return
    # frames: (sorted entries of a folder, position, its rel prefix, identities of the folders above and
    # itself, its path with "/", whether all its names are plain, the names if all entries are plain files).
    # rel is built by concatenation, not os.path.relpath: each microsecond per file is a second per million files
    here = root if root.endswith("/") else root + "/"  # as DirEntry.path joins
    stack: list[tuple[list[os.DirEntry[str]], int, str, frozenset[tuple[int, int]], str, bool, list[str] | None]] = [
        (entries, 0, "", frozenset({root_key}), here, clean, all_plain)
    ]
    while stack:
        entries, start, prefix, ancestors, here, clean, all_plain = stack.pop()
        if all_plain is not None:  # a folder of plain files only: no look at each entry
            for i in range(0, len(all_plain), RUN_FILES):
                yield stats.submit(prefix, here, all_plain[i : i + RUN_FILES])
            continue
        run: list[str] = []
        for pos in range(start, len(entries)):
            entry = entries[pos]
            name = entry.name
            try:
                regular = entry.is_file(follow_symlinks=False)
            except OSError:  # an unknown d_type whose lstat failed: the slow path below says why
                regular = False
            if regular and (clean or plain(prefix + name, name)):
                run.append(name)
                if len(run) >= RUN_FILES:
                    yield stats.submit(prefix, here, run)
                    run = []
                continue
            if run:
                yield stats.submit(prefix, here, run)
                run = []
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
                    sub, problem, sub_clean, sub_plain = listing(path, "\\" not in rel)
                    if sub is None:
                        yield unique(InputFile(rel, path, 0, 0, "read_error", problem), name)
                    else:
                        # depth first: finish this folder after the one just entered
                        stack.append((entries, pos + 1, prefix, ancestors, here, clean, None))
                        stack.append((sub, 0, rel + "/", ancestors | {key}, path + "/", sub_clean, sub_plain))
                        break
                continue
            yield unique(InputFile(rel, path, 0, 0, "read_error", _NOT_REGULAR_DETAIL), name)
        if run:
            yield stats.submit(prefix, here, run)
