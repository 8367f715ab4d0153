"""Reading isolated from the parse worker: the time budget and a forked reader process.

``budget`` arms SIGALRM for one document. ``read_isolated`` runs a read function (``read_file`` of
``pipelines/parse/files.py``: one file read and parsed under the limits, never raising) in a forked
reader process per worker, so a parser stuck in native code is killed after the hard deadline and a
native crash costs only the file being read. Nothing here knows a file format.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pipelines.children import init_pool_child
from pipelines.read.errors import Item, reject_row
from pipelines.read.limits import Limits
from pipelines.read.walk import InputFile


class FileTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so that parsers' ``except Exception`` cannot swallow it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise FileTimeout()


Emit = Callable[[Item], None]
# read_file(file, limits, emit, on_progress) -> the file's SHA-256: reads and parses one file (parse.files)
ReadFile = Callable[[InputFile, Limits, Emit, Callable[[], None] | None], str]


@contextlib.contextmanager
def budget(seconds: float) -> Iterator[Callable[[], None]]:
    """Arm SIGALRM for ``seconds``; yields a function that restarts the clock (a document is done).

    SIGALRM interrupts Python code (parsers, regexes); native code that never returns to Python is
    stopped by the hard deadline of ``_read_isolated`` instead. Only a process's main thread can
    arm it (true in the local pool and in the isolated reader, not in a dask worker's thread).
    """
    if not (seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()):
        yield lambda: None
        return
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield lambda: signal.setitimer(signal.ITIMER_REAL, seconds)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def timeout_reject(limits: Limits, n: int, size: int, hard: bool = False) -> Item:
    what = "stuck in native code and stopped" if hard else "interrupted"
    rest = f"the {n} records before it are kept, the rest of the file was not read" if n else "the file was not read"
    return "reject", reject_row("timeout", f"one document took more than --file-time-budget {limits.file_time_budget:g} s ({what}); {rest}",
                                record=f"after-record-{n}" if n else None, size=size)


def _hard_deadline(limits: Limits) -> float | None:
    """Seconds without any word from the reader after which it is killed (the soft budget failed)."""
    if limits.file_time_budget <= 0:
        return None
    return limits.file_time_budget + min(30.0, max(2.0, limits.file_time_budget / 4))


def _reader_main(requests: Any, results: Any, parent: int, read_file: ReadFile) -> None:
    """Body of the forked reader process: read each batch it is sent, send back the items; never returns.

    It lives as long as the worker ``parent`` that forked it (a closed request pipe or the worker's
    death ends it), so the cost of forking is paid once per worker, not once per batch.
    """
    code = 0
    try:
        import faulthandler

        faulthandler.disable()  # a native crash here is reported as a reject, not as a dump on the user's terminal
        init_pool_child(parent)  # Ctrl-C is the build's; dies with the worker

        pending: list[Item] = []
        last_sent = time.monotonic()

        def flush(sha: str | None = None) -> None:
            """Send the items read so far (and, with ``sha``, the end of the file) in one message.

            SIGALRM is held meanwhile, so an alarm can neither cut a message in half nor lose or repeat items.
            """
            nonlocal last_sent
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            try:
                batch = pending.copy()
                pending.clear()
                results.send(("items", batch) if sha is None else ("end", batch, sha))
                last_sent = time.monotonic()
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})

        def emit(item: Item) -> None:
            pending.append(item)
            # small files go out in one message at their end; long ones at least twice a second
            if len(pending) >= 256 or time.monotonic() - last_sent > 0.5:
                flush()

        def tick() -> None:
            if time.monotonic() - last_sent > 0.5:
                flush()

        while True:
            try:
                files, limits = requests.recv()
            except EOFError:
                break
            for f in files:
                sha = ""
                with contextlib.suppress(FileTimeout):
                    sha = read_file(f, limits, emit, tick)
                flush(sha)
    except BaseException:
        code = 70
    finally:
        os._exit(code)


class _Reader:
    """The worker's forked reader process and the two pipes to it."""

    def __init__(self, read_file: ReadFile, prefork: Callable[[], object] | None = None) -> None:
        req_r, self.requests = mp.Pipe(duplex=False)
        self.results, res_w = mp.Pipe(duplex=False)
        self.read_file = read_file
        if prefork is not None:
            prefork()  # e.g. tables built once here and inherited, not again in every reader forked after a crash
        gc.freeze()  # the child's collector then leaves the inherited heap alone: fewer copy-on-write pages
        self.owner = os.getpid()
        try:
            pid = os.fork()
            if pid == 0:
                self.requests.close()
                self.results.close()
                _reader_main(req_r, res_w, self.owner, read_file)
        finally:
            gc.unfreeze()
        self.pid = pid
        req_r.close()
        res_w.close()
        # when the worker exits (multiprocessing runs its finalizers; atexit covers other processes), end the
        # reader and reap it, so its exit and CPU time are accounted to the build
        from multiprocessing import util

        util.Finalize(None, self.close, exitpriority=10)
        atexit.register(self.close)

    def close(self) -> None:
        """End an idle reader: a closed request pipe makes it exit; reap it (kill it after 5 s). Idempotent."""
        if not self.pid or self.owner != os.getpid():
            return
        with contextlib.suppress(OSError):
            self.requests.close()
        deadline = time.monotonic() + 5
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                if time.monotonic() > deadline:
                    os.kill(self.pid, signal.SIGKILL)
                    os.waitpid(self.pid, 0)
                    break
                time.sleep(0.01)
        self.pid = 0
        with contextlib.suppress(OSError):
            self.results.close()

    def stop(self) -> None:
        """Kill the reader (stuck, crashed or no longer wanted) and reap it."""
        with contextlib.suppress(OSError):
            self.requests.close()
            self.results.close()
        if self.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self.pid, 0)
            self.pid = 0

    def exit_status(self) -> str:
        """How the reader ended, once its pipe has closed."""
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return "unknown status"
        self.pid = 0
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            return f"killed by signal {sig}" + (" (out of memory?)" if sig == signal.SIGKILL else "")
        return f"exit status {os.waitstatus_to_exitcode(status)}"


_READERS = threading.local()  # one reader per worker thread (a dask worker may run several)


def stop_reader() -> None:
    """Stop this thread's reader, if any (tests; a worker's reader otherwise ends with the worker)."""
    reader: _Reader | None = getattr(_READERS, "reader", None)
    if reader is not None and reader.owner == os.getpid():
        reader.stop()
    _READERS.reader = None


def read_isolated(files: Sequence[InputFile], limits: Limits, read_file: ReadFile,
                  prefork: Callable[[], object] | None = None) -> Iterator[tuple[int, Item | str]]:
    """Read ``files`` with ``read_file`` in the forked reader process; yield (file index, item) and
    (file index, sha) when done. ``prefork`` runs before the reader is forked (warm caches to inherit).

    The reader is killed when it sends nothing for longer than the hard deadline (a parser stuck in
    native code, which SIGALRM cannot interrupt) and a new one goes on at the next file; a reader that
    dies (native crash, killed for memory) costs only the file it was reading. Without fork, files
    are read in this process with the soft budget only.
    """
    if not hasattr(os, "fork"):
        for i, f in enumerate(files):
            got: list[Item] = []
            sha = read_file(f, limits, got.append)
            for item in got:
                yield i, item
            yield i, sha
        return
    hard = _hard_deadline(limits)
    i = 0
    while i < len(files):
        reader: _Reader | None = getattr(_READERS, "reader", None)
        if reader is None or reader.owner != os.getpid() or not reader.pid or reader.read_file is not read_file:
            if reader is not None and reader.owner == os.getpid() and reader.pid:
                reader.stop()
            reader = _READERS.reader = _Reader(read_file, prefork)
        current = i  # the file being read: the one after the last that ended
        items = 0  # items received for it
        try:
            reader.requests.send((list(files[i:]), limits))
            last = time.monotonic()
            while current < len(files):
                wait = None if hard is None else max(0.0, last + hard - time.monotonic())
                if not reader.results.poll(wait):
                    stop_reader()
                    yield current, timeout_reject(limits, items, files[current].size, hard=True)
                    yield current, ""
                    current += 1
                    break
                try:
                    msg = reader.results.recv()
                except EOFError:
                    how = reader.exit_status()
                    stop_reader()
                    yield current, ("reject", reject_row("reader_crashed", f"the reader process died on this file: {how}", size=files[current].size))
                    yield current, ""
                    current += 1
                    break
                last = time.monotonic()
                for item in msg[1]:
                    items += 1
                    yield current, item
                if msg[0] == "end":
                    yield current, msg[2]
                    current, items = current + 1, 0
        except BaseException:
            stop_reader()  # abandoned mid-batch (the consumer failed): the reader's state is unknown
            raise
        i = current

