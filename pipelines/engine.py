"""Where a build's tasks run: a local process pool or a Dask cluster, and how a stopped pool is left.

The build hands the same task functions (``parse_batch``, ``label_part``) to either engine, over the
same part files, so the dataset does not depend on the engine or the number of workers.
"""

from __future__ import annotations

import contextlib
import gc
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines.children import init_pool_child
from pipelines.errors import UsageError


@contextlib.contextmanager
def executor(engine: str, workers: int, scheduler: str | None = None) -> Iterator[Executor]:
    """The pool that runs parse and label tasks: local processes, or a Dask cluster.

    Both run the same task functions on the same part files, so the dataset is identical; a Dask
    cluster needs every worker to see the input and dataset paths (a shared or network filesystem).
    """
    if engine == "local":
        ctx = mp.get_context("fork") if sys.platform != "win32" else mp.get_context()
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=init_pool_child, initargs=(os.getpid(),))  # a killed build leaves no worker behind
        try:
            yield pool
        except BaseException:
            _abandon_pool(pool)
            raise
        pool.shutdown(wait=True)
        return
    if engine != "dask":
        raise ValueError(f"unknown engine {engine!r} (use local or dask)")
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise UsageError("--engine dask needs the dask extra: pip install 'gansu-news-pipelines[dask]'") from exc
    if scheduler:
        client = Client(scheduler)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
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



def in_order(pool: Executor, tasks: Iterable[tuple[Callable[..., Any], tuple[Any, ...]]], window: int) -> Iterator[Any]:
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



def release_memory() -> None:
    """Collect garbage and return freed memory to the system (Arrow's pool, glibc's heap)."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def fresh_processes(module: str, jobs: Sequence[Sequence[Any]], workers: int) -> list[Any]:
    """Run ``jobs`` (argument lists, JSON) in ``workers`` new interpreters, ``python -m module``, and
    return their results (JSON) in job order. The module's ``__main__`` calls ``serve_jobs``.

    For publish-time work that must not carry the publishing process's memory: a forked worker's
    resident set starts as its parent's (~0.5 KB an article of build state, 0.6 GB at 1M articles).
    Not multiprocessing's spawn, which re-imports the caller's main module (the CLI, or a user's
    script without a ``__main__`` guard). Workers die with this process; a failed one raises here.
    """
    if not jobs:
        return []
    n = max(1, min(workers, len(jobs)))
    batches = [list(range(w, len(jobs), n)) for w in range(n)]  # jobs of similar size: round robin balances
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for batch in batches:
            proc = subprocess.Popen([sys.executable, "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            procs.append(proc)
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"parent": os.getpid(), "jobs": [list(jobs[i]) for i in batch]}).encode())
            proc.stdin.close()
        results: list[Any] = [None] * len(jobs)
        for proc, batch in zip(procs, batches, strict=True):
            assert proc.stdout is not None
            out = proc.stdout.read()
            if proc.wait() != 0:
                raise RuntimeError(f"python -m {module} failed (exit {proc.returncode}); its error is above")
            for i, result in zip(batch, json.loads(out), strict=True):
                results[i] = result
        return results
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def serve_jobs(task: Callable[..., Any]) -> None:
    """The ``__main__`` of a module run by ``fresh_processes``: read the jobs on stdin, run ``task`` on
    each, write the results on stdout (nothing else may print to stdout)."""
    request = json.loads(sys.stdin.read())
    init_pool_child(int(request["parent"]))
    out = sys.stdout
    sys.stdout = sys.stderr  # a stray print cannot corrupt the results
    results = [task(*job) for job in request["jobs"]]
    out.write(json.dumps(results))
    out.flush()
