"""Walk the input folder: every file found is either read or recorded as a reject, never skipped."""

from __future__ import annotations

import errno
import os
import stat
from array import array
from collections import deque
from collections.abc import Generator, Iterator, Sequence
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
    """The walk itself: every entry in order, depth first on its own stack, plain files as chunks handed to ``stats``."""
    walk = _Walk(stats)
    top = walk.root(root)
    if type(top) is InputFile:
        yield top
        return
    stack: list[_Frame] = [top]
    while stack:
        frame = stack.pop()
        if frame.all_plain is not None:  # a folder of plain files only: no look at each entry
            names = frame.all_plain
            for i in range(0, len(names), RUN_FILES):
                yield stats.submit(frame.prefix, frame.here, names[i : i + RUN_FILES])
            continue
        descend = yield from walk.entries(frame)
        if descend is not None:
            stack.extend(descend)  # the rest of this folder below the subfolder just entered: depth first


class _Listing(NamedTuple):
    entries: list[os.DirEntry[str]] | None  # sorted; None when the folder cannot be listed
    problem: str  # why it cannot be listed
    clean: bool  # every name is plain, so no name needs a check
    all_plain: list[str] | None  # when every entry is a plain file (the usual folder): their sorted names


class _Frame(NamedTuple):
    """A folder on the walk's stack, and how far through its entries the walk is.

    rel is built by concatenation, not os.path.relpath: each microsecond per file is a second per million files.
    """

    entries: list[os.DirEntry[str]]
    start: int  # the next entry to look at
    prefix: str  # the folder's rel with "/" ("" at the root)
    ancestors: frozenset[tuple[int, int]]  # (st_dev, st_ino) of the folders above and of itself: a link back is a loop
    here: str  # the folder's path with "/", as DirEntry.path joins
    clean: bool
    all_plain: list[str] | None


def _list_folder(folder: str, plain_prefix: bool) -> _Listing:
    """A folder's entries in walk order, and whether its names can skip the checks (see ``_Listing``)."""
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError as exc:
        return _Listing(None, f"cannot list folder: {_why(exc)}", False, None)
    names = [e.name for e in entries]
    try:
        # UTF-8 keeps code point order, so names that are valid UTF-8 sort as str; only names with
        # escaped non-UTF-8 bytes need the (slower) sort by their bytes
        "".join(names).encode("utf-8")
    except UnicodeEncodeError:
        entries.sort(key=lambda e: os.fsencode(e.name))
        return _Listing(entries, "", False, None)
    joined = "/" + "/".join(names)  # one test per folder: no name with a backslash, a leading dot, or ignored
    clean = plain_prefix and "\\" not in joined and "/." not in joined and IGNORED_NAMES.isdisjoint(names)
    if clean:
        try:
            # d_type from the listing: no stat for a regular file (a link or an unknown type is looked at below)
            if not any(map(_IS_SYMLINK, entries)) and all(map(_IS_FILE, entries)):
                names.sort()
                return _Listing([], "", True, names)
        except OSError:  # an unknown d_type whose lstat failed: the entry-by-entry path says why
            pass
    entries.sort(key=_BY_NAME)
    return _Listing(entries, "", clean, None)


def _plain(rel: str, name: str) -> bool:
    """A regular file's name needs no check (the test ``_list_folder`` made for a whole folder)."""
    if name in IGNORED_NAMES or name.startswith(".") or "\\" in rel:
        return False
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class _Walk:
    """What one walk remembers: the folders walked (a link to one is a problem) and the escaped names taken."""

    def __init__(self, stats: _Stats) -> None:
        self.stats = stats
        self.walked: set[tuple[int, int]] = set()
        # escaped names only: a name with undecodable bytes is escaped with backslashes and so can only
        # collide with a name that has backslashes too; other rels are unique (a million-file walk keeps no set)
        self.taken: set[str] = set()

    def unique(self, f: InputFile, name: str) -> InputFile:
        if "\\" not in f.rel:
            return f
        if f.rel not in self.taken:
            self.taken.add(f.rel)
            return f
        # only an escaped non-UTF-8 name can collide (with a real name spelled like the escape)
        rel = f"{f.rel}#{os.fsencode(name).hex()}"
        self.taken.add(rel)
        return InputFile(rel, f.path, f.size, f.mtime_ns, "read_error", "the file name is not valid UTF-8 and its escaped form equals another file's name; rename it")

    def root(self, root: str) -> _Frame | InputFile:
        """The root folder's frame, or the problem that stops the walk before it starts."""
        try:
            st = os.stat(root)
            key = (st.st_dev, st.st_ino)
        except OSError:
            key = (0, 0)
        self.walked.add(key)
        listing = _list_folder(root, True)
        if listing.entries is None:
            return InputFile(".", root, 0, 0, "read_error", listing.problem)
        here = root if root.endswith("/") else root + "/"
        return _Frame(listing.entries, 0, "", frozenset({key}), here, listing.clean, listing.all_plain)

    def entries(self, frame: _Frame) -> Generator[InputFile | _Chunk, None, tuple[_Frame, _Frame] | None]:
        """Yield a folder's entries from ``frame.start`` on, plain files in chunks; at a subfolder, stop and
        return (the rest of this folder, the subfolder) for the stack."""
        entries, prefix, here, clean, ancestors = frame.entries, frame.prefix, frame.here, frame.clean, frame.ancestors
        submit, look_at = self.stats.submit, self._look_at
        run: list[str] = []
        # the loop body runs once per file of a folder that is not all plain files: the plain ones stay here
        for pos in range(frame.start, len(entries)):
            entry = entries[pos]
            name = entry.name
            try:
                regular = entry.is_file(follow_symlinks=False)
            except OSError:  # an unknown d_type whose lstat failed: the slow path below says why
                regular = False
            if regular and (clean or _plain(prefix + name, name)):
                run.append(name)
                if len(run) >= RUN_FILES:
                    yield submit(prefix, here, run)
                    run = []
                continue
            if run:
                yield submit(prefix, here, run)
                run = []
            found = look_at(entry, prefix, ancestors)
            if type(found) is _Frame:
                return frame._replace(start=pos + 1, all_plain=None), found
            yield found
        if run:
            yield submit(prefix, here, run)
        return None

    def _look_at(self, entry: os.DirEntry[str], prefix: str, ancestors: frozenset[tuple[int, int]]) -> InputFile | _Frame:
        """An entry that is not a plain file: a file to read or ignore, a folder to enter, or a problem."""
        name, path = entry.name, entry.path
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
                return self.unique(InputFile(rel, path, 0, 0, "symlink_loop", f"dangling or looping link: {exc.strerror}"), name)
            return self.unique(InputFile(rel, path, 0, 0, "read_error", f"cannot stat: {_why(exc)}"), name)
        if stat.S_ISREG(st.st_mode):
            if name in IGNORED_NAMES or name.startswith("."):
                # provenance notes and hidden files: listed in the run summary, not read
                return InputFile(rel, path, st.st_size, st.st_mtime_ns, "ignored", "provenance note or hidden file")
            if "\\" in rel:
                return self.unique(InputFile(rel, path, st.st_size, st.st_mtime_ns), name)  # non-UTF-8 names are read, under escaped rel
            return InputFile(rel, path, st.st_size, st.st_mtime_ns)
        if stat.S_ISDIR(st.st_mode):
            return self._enter(name, rel, path, (st.st_dev, st.st_ino), ancestors)
        return self.unique(InputFile(rel, path, 0, 0, "read_error", _NOT_REGULAR_DETAIL), name)

    def _enter(self, name: str, rel: str, path: str, key: tuple[int, int], ancestors: frozenset[tuple[int, int]]) -> InputFile | _Frame:
        """A subfolder's frame, or why it is not walked (a link back up or to a folder walked already)."""
        if key in ancestors:
            return self.unique(InputFile(rel, path, 0, 0, "symlink_loop", "folder link points back into a folder above it (a loop)"), name)
        if key in self.walked:
            return self.unique(InputFile(rel, path, 0, 0, "symlink_loop", "folder link points to a folder already walked under another path"), name)
        self.walked.add(key)
        listing = _list_folder(path, "\\" not in rel)
        if listing.entries is None:
            return self.unique(InputFile(rel, path, 0, 0, "read_error", listing.problem), name)
        return _Frame(listing.entries, 0, rel + "/", ancestors | {key}, path + "/", listing.clean, listing.all_plain)
