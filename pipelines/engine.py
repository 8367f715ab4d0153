"""Where a build's tasks run: a local process pool or a Dask cluster, and how a stopped pool is left.

The build hands the same task functions (``parse_batch``, ``label_part``) to either engine, over the
same part files, so the dataset does not depend on the engine or the number of workers.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing as mp
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
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

