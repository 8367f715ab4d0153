"""``build``: walk → read/parse (new or changed files only) → dedupe → label → publish a snapshot.

Parsed parts and labelled parts are separate, so relabelling (changed gazetteer, outlets or
taxonomy) never re-reads raw files. Work runs on all cores; the output does not depend on the
number of workers: batches are fixed by sorted path, and duplicates are decided in ingest order.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import hashlib
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines import __version__
from pipelines.children import init_pool_child
from pipelines.dedupe import DuplicateIndex, stable_digest
from pipelines.failpoints import failpoint
from pipelines.manifest import INPUTS, collect_walk, load_manifest, merge_manifest, next_seq, plan_changes, totals
from pipelines.parse.finalize import finalize_article
from pipelines.publish.store import Store, StoreError
from pipelines.read.errors import Reject
from pipelines.read.files import FileResult, Item, describe_os_error, iter_source, open_input, reject_row
from pipelines.read.limits import Limits
from pipelines.read.remote import is_url
from pipelines.read.stream import FileBytes
from pipelines.read.walk import InputFile, walk_runs
from pipelines.schema import PARSED, REJECTS

BATCH_FILES = 256  # files per parse task: big enough to amortise IPC, small enough to balance cores

@dataclass
class BuildOptions:
    input: Path
    dataset: Path
    workers: int = max(1, os.cpu_count() or 1)
    limits: Limits = field(default_factory=Limits)
    prune: bool = False
    progress: bool = True
    wait_for_lock: bool = True
    relabel_only: bool = False
    engine: str = "local"  # "local" (process pool) or "dask"
    scheduler: str | None = None  # dask scheduler address; None starts a LocalCluster


@dataclass
class BuildSummary:
    files_seen: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    files_ignored: int = 0
    files_removed: int = 0
    articles_added: int = 0
    articles_total: int = 0
    rejects_added: int = 0
    rejects_total: int = 0
    rejects_by_reason: Counter[str] = field(default_factory=Counter)
    duplicates_added: int = 0
    parts_relabelled: int = 0
    published: bool = False
    seconds: float = 0.0
    snapshot: str | None = None

    def lines(self) -> list[str]:
        out = [
            f"files: {self.files_seen} found, {self.files_read} read, {self.files_unchanged} unchanged, "
            f"{self.files_ignored} ignored (provenance notes, hidden), {self.files_removed} removed from input",
            f"articles: {self.articles_added} added ({self.duplicates_added} marked duplicate), {self.articles_total} in dataset",
            f"rejects: {self.rejects_added} added, {self.rejects_total} in dataset"
            + ("".join(f"\n  {reason}: {n}" for reason, n in self.rejects_by_reason.most_common()) if self.rejects_by_reason else ""),
        ]
        if self.parts_relabelled:
            out.append(f"relabelled: {self.parts_relabelled} parts (label data or code changed)")
        out.append(f"time: {self.seconds:.1f} s" + ("" if self.published else " (nothing new: dataset unchanged)"))
        return out


# --- worker side ---------------------------------------------------------------------------------


class _FileTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so that parsers' ``except Exception`` cannot swallow it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _FileTimeout()


Emit = Callable[[Item], None]


@contextlib.contextmanager
def _budget(seconds: float) -> Iterator[Callable[[], None]]:
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


def _timeout_reject(limits: Limits, n: int, size: int, hard: bool = False) -> Item:
    what = "stuck in native code and stopped" if hard else "interrupted"
    rest = f"the {n} records before it are kept, the rest of the file was not read" if n else "the file was not read"
    return "reject", reject_row("timeout", f"one document took more than --file-time-budget {limits.file_time_budget:g} s ({what}); {rest}",
                                record=f"after-record-{n}" if n else None, size=size)


def read_file(f: InputFile, limits: Limits, emit: Emit, on_progress: Callable[[], None] | None = None) -> str:
    """Read and parse one file under the limits, passing each article/reject to ``emit`` as it is read.

    Returns the SHA-256 of the whole file ('' when it could not be read). Never raises: every problem
    becomes a reject. The time budget restarts with each record, so a 1 GB WARC may take as long as
    it needs while one pathological document is stopped after --file-time-budget seconds.
    """
    if f.problem:
        emit(("reject", reject_row(f.problem, f.detail, size=f.size)))
        return ""
    if f.size > limits.max_file_bytes:
        emit(("reject", reject_row("file_too_large", f"{f.size} bytes > --max-file-bytes {limits.max_file_bytes}", size=f.size)))
        return ""
    try:
        fh = open_input(f.path)
    except OSError as exc:
        emit(("reject", reject_row("read_error", describe_os_error(exc), size=f.size)))
        return ""
    except Reject as rej:
        emit(("reject", reject_row(rej.reason, rej.detail, size=f.size)))
        return ""
    hasher = hashlib.sha256()
    src = FileBytes(fh, limits.max_file_bytes, hasher, on_progress, size_hint=f.size)
    n = 0
    finished = False
    with fh:
        try:
            with _budget(limits.file_time_budget) as restart:
                try:
                    for item in iter_source(src, f.rel, limits, size=f.size):
                        emit(item)
                        n += 1
                        restart()
                    finished = True
                except _FileTimeout:
                    emit(_timeout_reject(limits, n, f.size))
                    finished = True
                except RecursionError:
                    emit(("reject", reject_row("unparseable", "structure nested too deeply", size=f.size)))
                except MemoryError:
                    emit(("reject", reject_row("unparseable", "ran out of memory parsing this file", size=f.size)))
                except OSError as exc:
                    emit(("reject", reject_row("read_error", describe_os_error(exc) + (f" after {n} records" if n else ""), size=f.size)))
                    return ""
                except Exception as exc:
                    emit(("reject", reject_row("unparseable", f"{type(exc).__name__}: {exc}", size=f.size)))
        except _FileTimeout:  # the alarm went off between the last record and disarming it
            if not finished:
                emit(_timeout_reject(limits, n, f.size))
        try:
            src.drain()  # the hash covers every byte even where reading stopped early
        except OSError:
            return ""
    return hasher.hexdigest()


def read_one(f: InputFile, limits: Limits) -> tuple[FileResult, str]:
    """Read and parse one file in this process (soft time budget only); never raises."""
    result = FileResult()
    sha = read_file(f, limits, result.add)
    return result, sha


def _hard_deadline(limits: Limits) -> float | None:
    """Seconds without any word from the reader after which it is killed (the soft budget failed)."""
    if limits.file_time_budget <= 0:
        return None
    return limits.file_time_budget + min(30.0, max(2.0, limits.file_time_budget / 4))


def _reader_main(requests: Any, results: Any, parent: int) -> None:
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
                with contextlib.suppress(_FileTimeout):
                    sha = read_file(f, limits, emit, tick)
                flush(sha)
    except BaseException:
        code = 70
    finally:
        os._exit(code)


class _Reader:
    """The worker's forked reader process and the two pipes to it."""

    def __init__(self) -> None:
        req_r, self.requests = mp.Pipe(duplex=False)
        self.results, res_w = mp.Pipe(duplex=False)
        from pipelines.parse.text import _tables

        _tables()  # built once here and inherited, not again in every reader forked after a crash
        gc.freeze()  # the child's collector then leaves the inherited heap alone: fewer copy-on-write pages
        self.owner = os.getpid()
        try:
            pid = os.fork()
            if pid == 0:
                self.requests.close()
                self.results.close()
                _reader_main(req_r, res_w, self.owner)
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


def _read_isolated(files: Sequence[InputFile], limits: Limits) -> Iterator[tuple[int, Item | str]]:
    """Read ``files`` in the forked reader process; yield (file index, item) and (file index, sha) when done.

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
        if reader is None or reader.owner != os.getpid() or not reader.pid:
            reader = _READERS.reader = _Reader()
        current = i  # the file being read: the one after the last that ended
        items = 0  # items received for it
        try:
            reader.requests.send((list(files[i:]), limits))
            last = time.monotonic()
            while current < len(files):
                wait = None if hard is None else max(0.0, last + hard - time.monotonic())
                if not reader.results.poll(wait):
                    stop_reader()
                    yield current, _timeout_reject(limits, items, files[current].size, hard=True)
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


class _PartWriter:
    """Write a part file in row groups as rows arrive (bounded memory), atomically like ``Store.write_table``."""

    def __init__(self, table: Any, path: Path, flush_rows: int = 20_000, flush_chars: int = 64 << 20) -> None:
        self.table = table
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.rows: list[dict[str, Any]] = []
        self.chars = 0
        self.flush_rows = flush_rows
        self.flush_chars = flush_chars
        self.writer: pq.ParquetWriter | None = None

    def add(self, row: dict[str, Any], chars: int = 0) -> None:
        self.rows.append(row)
        self.chars += chars
        if len(self.rows) >= self.flush_rows or self.chars >= self.flush_chars:
            self._flush()

    def _flush(self) -> None:
        if not self.rows:
            return
        tbl = self.table.from_records(self.rows)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.tmp, tbl.schema, compression="zstd")
        self.writer.write_table(tbl, row_group_size=64 * 1024)
        self.rows = []
        self.chars = 0

    def close(self) -> None:
        self._flush()
        if self.writer is None:
            Store.write_table(self.table.empty(), self.path)
            return
        self.writer.close()
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.path)


def _storable(s: str) -> str:
    """A string Parquet can hold (lone surrogates from odd exception texts become escapes)."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")


def _check_storable(row: dict[str, Any]) -> None:
    for key in ("url", "site", "outlet", "source_record", "published_at_source"):
        if isinstance(v := row.get(key), str):
            v.encode("utf-8")  # raises on lone surrogates (title and body are checked by content_hash)
    for key in ("breadcrumb", "byline", "quality_flags"):
        for v in row.get(key) or ():
            v.encode("utf-8")


def parse_batch(files: Sequence[InputFile], limits: Limits, out_dir: str, part_id: str) -> dict[str, Any]:
    """Worker task: read a batch of files, write its parsed and rejects parts, return dedupe keys.

    Articles and rejects stream from the reader into the part files, so a batch holding a 1 GB WARC
    never holds all its articles at once.
    """
    out = Path(out_dir)
    parsed = _PartWriter(PARSED, out / f"{part_id}.parsed.parquet")
    rejected = _PartWriter(REJECTS, out / f"{part_id}.rejects.parquet")
    keys: dict[str, list[Any]] = {"article_id": [], "content_hash": [], "simhash": [], "body_chars": []}
    n_art = [0] * len(files)
    n_rej = [0] * len(files)
    shas = [""] * len(files)
    reasons: Counter[str] = Counter()

    def add_reject(i: int, rej: dict[str, Any]) -> None:
        row = {"source_file": files[i].rel, **rej}
        for k in ("detail", "source_record", "source_format"):
            if isinstance(row.get(k), str):
                row[k] = _storable(row[k])
        if row.get("size_bytes") is None:
            row["size_bytes"] = files[i].size
        rejected.add(row)
        n_rej[i] += 1
        reasons[row["reason"]] += 1

    for i, got in _read_isolated(files, limits):
        if isinstance(got, str):
            shas[i] = got
            continue
        kind, rec = got
        if kind != "article":
            add_reject(i, rec)
            continue
        try:
            row = finalize_article(rec, files[i].rel, limits.max_text_chars)
            _check_storable(row)
        except Exception as exc:
            add_reject(i, reject_row("unparseable", f"finalising record: {type(exc).__name__}: {exc}", record=rec.get("source_record"), fmt=rec.get("source_format")))
            continue
        parsed.add(row, row["body_chars"])
        for k in keys:
            keys[k].append(row[k])
        n_art[i] += 1
    for i in range(len(files)):
        if n_art[i] + n_rej[i] == 0:  # never lose a file silently
            add_reject(i, reject_row("unparseable", "the reader produced neither an article nor a reject"))
    parsed.close()
    rejected.close()
    per_file = [(f.rel, f.size, f.mtime_ns, shas[i], n_art[i], n_rej[i]) for i, f in enumerate(files)]
    return {"part_id": part_id, "files": per_file, "keys": keys, "reasons": reasons}


def label_part(part_id: str, parts_dir: str, published_dir: str, label_hash: str) -> tuple[str, int, int]:
    """Worker task: label a parsed part (with its duplicate marks) into a published part."""
    from pipelines.label.stage import get_labeller

    parts = Path(parts_dir)
    parsed = pq.read_table(parts / f"{part_id}.parsed.parquet")
    dups_path = parts / f"{part_id}.dups.parquet"
    dups: dict[str, str] = {}
    if dups_path.exists():
        d = pq.read_table(dups_path).to_pydict()
        dups = dict(zip(d["article_id"], d["duplicate_of"], strict=True))
    articles, mentions = get_labeller().label_table(parsed, dups)
    out = Path(published_dir)
    Store.write_table(articles, out / f"{part_id}.{label_hash}.articles.parquet")
    Store.write_table(mentions, out / f"{part_id}.{label_hash}.mentions.parquet")
    return part_id, articles.num_rows, mentions.num_rows


@contextlib.contextmanager
def _executor(opts: BuildOptions) -> Iterator[Executor]:
    """The pool that runs parse and label tasks: local processes, or a Dask cluster.

    Both run the same task functions on the same part files, so the dataset is identical; a Dask
    cluster needs every worker to see the input and dataset paths (a shared or network filesystem).
    """
    if opts.engine == "local":
        ctx = mp.get_context("fork") if sys.platform != "win32" else mp.get_context()
        pool = ProcessPoolExecutor(max_workers=opts.workers, mp_context=ctx, initializer=init_pool_child, initargs=(os.getpid(),))  # a killed build leaves no worker behind
        try:
            yield pool
        except BaseException:
            _abandon_pool(pool)
            raise
        pool.shutdown(wait=True)
        return
    if opts.engine != "dask":
        raise ValueError(f"unknown engine {opts.engine!r} (use local or dask)")
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise StoreError("--engine dask needs the dask extra: pip install 'gansu-news-pipelines[dask]'") from exc
    if opts.scheduler:
        client = Client(opts.scheduler)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=opts.workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


_abandoned = False  # a pool was stopped without being joined: see abandoned_pool()


def abandoned_pool() -> bool:
    """Whether this process stopped a process pool without joining it (Ctrl-C or a failure in a build).

    Its manager thread may then never end, and the interpreter joins that thread at exit: the CLI
    leaves with ``os._exit`` instead (see ``pipelines.__main__``).
    """
    return _abandoned


def _abandon_pool(pool: ProcessPoolExecutor) -> None:
    """Ctrl-C or a failure: stop the pool now instead of waiting for the tasks queued and in flight.

    Killing is safe: a worker writes each part under a temporary name and renames it when whole, the
    names are content-addressed, and nothing is published before the pool is done, so a killed task
    loses only its own unfinished part (its temporary file is collected by the next publish).

    Only public interfaces are used: the pool's workers are this process's live multiprocessing
    children (``multiprocessing.active_children``; the walk's helpers are gone by now), their readers
    are their own children (``/proc``). Nothing here waits on the pool: its manager thread may be stuck
    for good once workers are killed (in ``recv`` of a result a dying worker half wrote), and the
    interpreter's exit-time join of that thread could hang, so the CLI leaves with ``os._exit``
    (see ``abandoned_pool``).
    """
    global _abandoned
    _abandoned = True
    pids = [p.pid for p in mp.active_children() if p.pid]
    readers = [c for pid in pids for c in _child_pids(pid)]  # before the kill: orphans cannot be found
    for pid in pids + readers:  # readers also die with their worker (PR_SET_PDEATHSIG); this is quicker
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        pool.shutdown(wait=False, cancel_futures=True)


def _child_pids(pid: int) -> list[int]:
    """The processes ``pid`` forked (Linux /proc; [] elsewhere or when it is gone)."""
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as fh:
                out.extend(int(c) for c in fh.read().split())
    return out


# --- main side -----------------------------------------------------------------------------------


def _batches(files: pa.Table) -> Iterator[pa.Table]:
    for i in range(0, files.num_rows, BATCH_FILES):
        yield files.slice(i, BATCH_FILES)


def _progress(total: int, enabled: bool, unit: str) -> Any:
    if not enabled or total == 0:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, mininterval=0.5)


def _in_order(pool: Executor, tasks: Iterable[tuple[Callable[..., Any], tuple[Any, ...]]], window: int) -> Iterator[Any]:
    """Run ``tasks`` on ``pool`` with at most ``window`` in flight; yield their results in submission order.

    Bounded so that a million input files never sit in the pool's queue at once (flat memory), yet
    every worker always has the next batch waiting.
    """
    pending: deque[Future[Any]] = deque()
    it = iter(tasks)
    for fn, args in it:
        pending.append(pool.submit(fn, *args))
        if len(pending) >= window:
            break
    while pending:
        res = pending.popleft().result()
        for fn, args in it:
            pending.append(pool.submit(fn, *args))
            break
        yield res


def run_build(opts: BuildOptions, on_phase: Callable[[str], None] | None = None) -> BuildSummary:
    from pipelines.label.stage import label_hash

    started = time.monotonic()
    summary = BuildSummary()
    if not opts.relabel_only and not is_url(opts.input) and not Path(opts.input).is_dir():
        raise StoreError(f"input folder {opts.input} does not exist or is not a folder")
    store = Store(opts.dataset)
    store.ensure()

    def phase(name: str) -> None:
        failpoint(name)
        if on_phase is not None:
            on_phase(name)

    with store.lock(wait=opts.wait_for_lock):
        previous = store.current()
        old = load_manifest(previous)
        lhash = label_hash()

        # 1. walk and decide what is new or changed (size+mtime; the hash only confirms a change)
        phase("walk")
        root = str(opts.input) if is_url(opts.input) else os.path.abspath(opts.input)
        # relabel never touches the raw inputs: it works from the parsed parts alone
        walked = collect_walk(() if opts.relabel_only else walk_runs(root), root)
        summary.files_seen = walked.table.num_rows + walked.ignored
        summary.files_ignored = walked.ignored
        plan = plan_changes(walked.table, old, prune=opts.prune, relabel_only=opts.relabel_only)
        del walked.table  # the plan holds what is still needed
        summary.files_unchanged = plan.unchanged
        summary.files_removed = len(plan.removed)
        changed_parts = plan.changed_parts

        # 2. parse new/changed files in batches across workers; dedupe in ingest order
        seq = next_seq(old)
        dup_index = DuplicateIndex()
        if previous is not None and (plan.pending.num_rows or changed_parts):
            phase("index")
            _load_duplicate_index(previous, old, dup_index, exclude={f for s in changed_parts.values() for f in s})
        new_rows: list[pa.Table] = []
        touched: list[dict[str, Any]] = []  # files whose bytes did not change (only their mtime): old rows kept
        label_futures: list[Future[tuple[str, int, int]]] = []
        label_jobs: set[str] = set()
        with _executor(opts) as pool:
            phase("parse")
            bar = _progress(plan.pending.num_rows, opts.progress, "file")

            # plan and walked bound as defaults, not closed over, so that they can be freed before publishing
            def parse_tasks(plan: Any = plan, walked: Any = walked) -> Iterator[tuple[Callable[..., Any], tuple[Any, ...]]]:
                for rows in _batches(plan.pending):
                    batch = list(walked.files(rows))
                    pid = stable_digest(__version__, *(f"{f.rel}\x01{f.size}\x01{f.mtime_ns}" for f in batch))
                    yield parse_batch, (batch, opts.limits, str(store.parts), pid)

            for res in _in_order(pool, parse_tasks(), window=4 * max(1, opts.workers)):
                pid = res["part_id"]
                files = res["files"]
                again = plan.previous
                unchanged_files = {rel for rel, _size, _mt, sha, _a, _r in files if rel in again and sha and again[rel]["sha256"] == sha}
                dups = _mark_duplicates(dup_index, res["keys"])
                if dups:
                    Store.write_table(
                        pa.table({"article_id": list(dups), "duplicate_of": list(dups.values())}), store.parts / f"{pid}.dups.parquet"
                    )
                cols: dict[str, list[Any]] = {n: [] for n in INPUTS.names}
                for rel, size, mtime, sha, n_art, n_rej in files:
                    if rel in unchanged_files:
                        # touched, not changed: keep the old rows, just remember the new mtime
                        touched.append({**again[rel], "size": size, "mtime_ns": mtime})
                        changed_parts.get(str(again[rel]["part_id"]), set()).discard(rel)
                        continue
                    for k, v in zip(INPUTS.names, (rel, size, mtime, sha, pid, seq, n_art, n_rej), strict=True):
                        cols[k].append(v)
                    summary.files_read += 1
                    summary.articles_added += n_art
                    summary.rejects_added += n_rej
                new_rows.append(pa.table(cols, schema=INPUTS))
                seq += 1
                summary.duplicates_added += len(dups)
                summary.rejects_by_reason.update(res["reasons"])
                if unchanged_files:
                    _drop_files_from_part(store, pid, unchanged_files)
                label_futures.append(pool.submit(label_part, pid, str(store.parts), str(store.published), lhash))
                label_jobs.add(pid)
                failpoint("after_first_part")
                if bar is not None:
                    bar.update(len(files))
            if bar is not None:
                bar.close()
            if touched:
                new_rows.append(pa.Table.from_pylist(touched, schema=INPUTS))

            # 3. rewrite parts that lost files (changed or pruned), then relabel parts whose labels are stale
            renamed: dict[str, str] = {}
            for old_pid, drop in changed_parts.items():
                if drop:
                    new_pid = renamed[old_pid] = _drop_files_from_part(store, old_pid, drop, new_id=True)
                    label_futures.append(pool.submit(label_part, new_pid, str(store.parts), str(store.published), lhash))
                    label_jobs.add(new_pid)
            inputs = merge_manifest(old, new_rows, plan.removed if opts.prune else (), renamed)
            # unique first: a million part ids as Python strings would take half a second
            live_parts = sorted(set(pc.unique(pc.drop_null(inputs["part_id"])).to_pylist()) - {""}) if inputs.num_rows else []
            stale = [p for p in live_parts if p not in label_jobs and not (store.published / f"{p}.{lhash}.articles.parquet").exists()]
            if stale:
                phase("relabel")
                summary.parts_relabelled = len(stale)
                for pid in stale:
                    label_futures.append(pool.submit(label_part, pid, str(store.parts), str(store.published), lhash))
            phase("label")
            bar = _progress(len(label_futures), opts.progress and len(label_futures) > 1, "part")
            for lf in label_futures:
                lf.result()
                if bar is not None:
                    bar.update(1)
            if bar is not None:
                bar.close()

        summary.articles_total, summary.rejects_total = totals(inputs)
        nothing_new = (
            previous is not None and not plan.pending.num_rows and not stale and not renamed and not (opts.prune and plan.removed)
        )
        if nothing_new:
            summary.seconds = time.monotonic() - started
            summary.snapshot = previous.name if previous else None
            return summary

        # 4. publish: snapshot of live parts + aggregates + docs, then the atomic swap
        from pipelines.publish.snapshot import publish_snapshot  # late: DuckDB is 0.2 s a no-op rerun need not pay

        # the parse phase's state (duplicate index, plan, walk, old manifest: ~400 bytes an article) is
        # not needed to publish; hand it back before DuckDB takes its budget for the aggregates
        del dup_index, plan, walked, new_rows, touched, label_futures, old
        _release_memory()

        phase("publish")
        snapshot = publish_snapshot(
            store,
            inputs=inputs,
            label_hash=lhash,
            run_info={
                "pipeline_version": __version__,
                "input": str(opts.input),
                "workers": opts.workers,
                "files_seen": summary.files_seen,
                "files_read": summary.files_read,
                "files_unchanged": summary.files_unchanged,
                "files_ignored": summary.files_ignored,
                "files_removed": summary.files_removed,
                "pruned": opts.prune,
                "articles_added": summary.articles_added,
                "rejects_added": summary.rejects_added,
                "duplicates_added": summary.duplicates_added,
                "parts_relabelled": summary.parts_relabelled,
            },
        )
        summary.published = True
        summary.snapshot = snapshot.name
        summary.seconds = time.monotonic() - started
    return summary


def _release_memory() -> None:
    """Collect garbage and return freed memory to the system (Arrow's pool, glibc's heap)."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def _mark_duplicates(index: DuplicateIndex, keys: dict[str, list[Any]]) -> dict[str, str]:
    """Feed a part's articles to the index in order; the ones that repeat an earlier article → its id."""
    dups: dict[str, str] = {}
    for aid, chash, sim, chars in zip(keys["article_id"], keys["content_hash"], keys["simhash"], keys["body_chars"], strict=True):
        first = index.add(aid, chash, sim, chars)
        if first is not None and first != aid:
            dups[aid] = first
    return dups


def _load_duplicate_index(snapshot: Path, manifest: pa.Table, index: DuplicateIndex, exclude: Iterable[str]) -> None:
    """Feed the published articles into the index in ingest order (their part's seq, then file, then id)."""
    articles_dir = snapshot / "articles"
    if not articles_dir.exists():
        return
    cols = ["article_id", "source_file", "content_hash", "simhash", "body_chars", "duplicate_of"]
    table = pq.read_table(articles_dir, columns=cols)
    excluded = pa.array(sorted(set(exclude)), pa.string())
    if len(excluded):
        table = table.filter(pc.invert(pc.is_in(table["source_file"], value_set=excluded)))
    seqs = manifest.select(["source_file", "seq"])
    table = table.join(seqs, keys="source_file", join_type="left outer")
    table = table.set_column(table.schema.get_field_index("seq"), "seq", pc.fill_null(table["seq"], 0))
    table = table.sort_by([("seq", "ascending"), ("source_file", "ascending"), ("article_id", "ascending")])
    names = ("article_id", "content_hash", "simhash", "body_chars", "duplicate_of")
    for batch in table.select(list(names)).to_batches(max_chunksize=65_536):  # Python objects a slice at a time
        index.extend(zip(*(batch.column(c).to_pylist() for c in names), strict=True))


def _drop_files_from_part(store: Store, pid: str, drop: set[str], new_id: bool = False) -> str:
    """Rewrite a part's parsed/rejects/dups files without the rows of ``drop`` files."""
    target = stable_digest(pid, "minus", *sorted(drop)) if new_id else pid
    for kind in ("parsed", "rejects", "dups"):
        src = store.parts / f"{pid}.{kind}.parquet"
        if not src.exists():
            continue
        table = pq.read_table(src)
        if kind == "dups":
            parsed = pq.read_table(store.parts / f"{target}.parsed.parquet", columns=["article_id"]) if new_id else None
            if parsed is not None:
                table = table.filter(pc.is_in(table.column("article_id"), parsed.column("article_id")))
        else:
            table = table.filter(pc.invert(pc.is_in(table.column("source_file"), pa.array(sorted(drop)))))
        Store.write_table(table, store.parts / f"{target}.{kind}.parquet")
    return target
