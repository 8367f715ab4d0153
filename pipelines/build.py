"""``build``: walk → read/parse (new or changed files only) → dedupe → label → publish a snapshot.

Parsed parts and labelled parts are separate, so relabelling (changed gazetteer, outlets or
taxonomy) never re-reads raw files. Work runs on all cores; the output does not depend on the
number of workers: batches are fixed by sorted path, and duplicates are decided in ingest order.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing as mp
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import __version__
from pipelines.dedupe import DuplicateIndex, stable_digest
from pipelines.failpoints import failpoint
from pipelines.parse.finalize import finalize_article
from pipelines.publish.store import Store, StoreError
from pipelines.read.errors import Reject
from pipelines.read.files import FileResult, read_bytes
from pipelines.read.limits import Limits
from pipelines.read.walk import InputFile, walk_inputs
from pipelines.schema import PARSED, REJECTS

BATCH_FILES = 256  # files per parse task: big enough to amortise IPC, small enough to balance cores

INPUTS = pa.schema(
    [
        pa.field("source_file", pa.string(), False),
        pa.field("size", pa.int64()),
        pa.field("mtime_ns", pa.int64()),
        pa.field("sha256", pa.string()),
        pa.field("part_id", pa.string()),
        pa.field("seq", pa.int64()),
        pa.field("articles", pa.int32()),
        pa.field("rejects", pa.int32()),
    ]
)


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


class _FileTimeout(Exception):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _FileTimeout()


def read_one(f: InputFile, limits: Limits) -> tuple[FileResult, str]:
    """Read and parse one file under the size and time limits; never raises."""
    result = FileResult()
    if f.problem:
        result.reject(f.problem, f.detail, size=f.size)
        return result, ""
    if f.size > limits.max_file_bytes:
        result.reject("file_too_large", f"{f.size} bytes > limit {limits.max_file_bytes}", size=f.size)
        return result, ""
    try:
        with open(f.path, "rb") as fh:
            data = fh.read(limits.max_file_bytes + 1)
    except OSError as exc:
        result.reject("read_error", f"{exc.strerror or exc}", size=f.size)
        return result, ""
    sha = hashlib.sha256(data).hexdigest()
    if len(data) > limits.max_file_bytes:
        result.reject("file_too_large", f"grew past limit {limits.max_file_bytes} while reading", size=len(data))
        return result, sha
    # SIGALRM can only be armed from a process's main thread (true in the local pool, not in dask workers)
    import threading

    use_alarm = limits.file_time_budget > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, limits.file_time_budget)
    try:
        result = read_bytes(data, f.rel, limits)
    except _FileTimeout:
        result = FileResult()
        result.reject("timeout", f"reading took more than {limits.file_time_budget:g} s", size=len(data))
    except Reject as rej:
        result = FileResult()
        result.reject(rej.reason, rej.detail, size=len(data))
    except RecursionError:
        result = FileResult()
        result.reject("unparseable", "structure nested too deeply", size=len(data))
    except MemoryError:
        result = FileResult()
        result.reject("unparseable", "ran out of memory parsing this file", size=len(data))
    except Exception as exc:
        result = FileResult()
        result.reject("unparseable", f"{type(exc).__name__}: {exc}", size=len(data))
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
    return result, sha


def parse_batch(files: Sequence[InputFile], limits: Limits, out_dir: str, part_id: str) -> dict[str, Any]:
    """Worker task: read a batch of files, write its parsed and rejects parts, return dedupe keys."""
    articles: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    per_file: list[tuple[str, int, int, str, int, int]] = []
    for f in files:
        res, sha = read_one(f, limits)
        n_art = 0
        for rec in res.articles:
            try:
                articles.append(finalize_article(rec, f.rel, limits.max_text_chars))
                n_art += 1
            except Exception as exc:
                res.reject("unparseable", f"finalising record: {type(exc).__name__}: {exc}", record=rec.get("source_record"))
        for rej in res.rejects:
            rejects.append({"source_file": f.rel, **rej})
            if rej.get("size_bytes") is None:
                rejects[-1]["size_bytes"] = f.size
        per_file.append((f.rel, f.size, f.mtime_ns, sha, n_art, len(res.rejects)))
    out = Path(out_dir)
    parsed = PARSED.from_records(articles) if articles else PARSED.empty()
    Store.write_table(parsed, out / f"{part_id}.parsed.parquet")
    Store.write_table(REJECTS.from_records(rejects) if rejects else REJECTS.empty(), out / f"{part_id}.rejects.parquet")
    keys = parsed.select(["article_id", "content_hash", "simhash", "body_chars"]).to_pydict()
    return {"part_id": part_id, "files": per_file, "keys": keys, "reasons": Counter(r["reason"] for r in rejects)}


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
        with ProcessPoolExecutor(max_workers=opts.workers, mp_context=ctx, initializer=_init_worker) as pool:
            yield pool
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


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    if sys.platform.startswith("linux"):
        # die with the parent: a killed build must not leave workers writing parts behind it
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass


# --- main side -----------------------------------------------------------------------------------


def _load_inputs(snapshot: Path | None) -> dict[str, dict[str, Any]]:
    if snapshot is None or not (snapshot / "inputs.parquet").exists():
        return {}
    rows = pq.read_table(snapshot / "inputs.parquet").to_pylist()
    return {r["source_file"]: r for r in rows}


def _batches(files: list[InputFile]) -> list[list[InputFile]]:
    return [files[i : i + BATCH_FILES] for i in range(0, len(files), BATCH_FILES)]


def _progress(total: int, enabled: bool, unit: str) -> Any:
    if not enabled or total == 0:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, mininterval=0.5)


def run_build(opts: BuildOptions, on_phase: Callable[[str], None] | None = None) -> BuildSummary:
    from pipelines.label.stage import label_hash
    from pipelines.publish.snapshot import publish_snapshot

    started = time.monotonic()
    summary = BuildSummary()
    if not opts.relabel_only and not opts.input.is_dir():
        raise StoreError(f"input folder {opts.input} does not exist or is not a folder")
    store = Store(opts.dataset)
    store.ensure()
    def phase(name: str) -> None:
        failpoint(name)
        if on_phase is not None:
            on_phase(name)

    with store.lock(wait=opts.wait_for_lock):
        previous = store.current()
        old_inputs = _load_inputs(previous)
        lhash = label_hash()

        # 1. walk and decide what is new or changed (size+mtime; hash only to confirm)
        phase("walk")
        # relabel never touches the raw inputs: it works from the parsed parts alone
        walked = [] if opts.relabel_only else list(walk_inputs(opts.input))
        summary.files_seen = len(walked)
        pending: list[InputFile] = []
        seen: set[str] = set()
        inputs = dict(old_inputs)
        for f in walked:
            if f.problem == "ignored":
                summary.files_ignored += 1
                continue
            seen.add(f.rel)
            old = old_inputs.get(f.rel)
            if old is not None and old["size"] == f.size and old["mtime_ns"] == f.mtime_ns and not f.problem:
                summary.files_unchanged += 1
                continue
            pending.append(f)
        removed = [] if opts.relabel_only else sorted(set(old_inputs) - seen)
        summary.files_removed = len(removed)

        changed_parts: dict[str, set[str]] = {}  # old part → files to drop from it
        for f in pending:
            if f.rel in old_inputs:
                changed_parts.setdefault(old_inputs[f.rel]["part_id"], set()).add(f.rel)
        if opts.prune:
            for rel in removed:
                changed_parts.setdefault(old_inputs[rel]["part_id"], set()).add(rel)

        # 2. parse new/changed files in batches across workers; dedupe in ingest order
        next_seq = 1 + max((r["seq"] for r in old_inputs.values()), default=0)
        dup_index = DuplicateIndex()
        if previous is not None and (pending or changed_parts):
            phase("index")
            _load_duplicate_index(previous, dup_index, exclude={f for s in changed_parts.values() for f in s})
        # files whose bytes are unchanged (only touched) keep their rows: detect by hash in the worker result
        batches = _batches(pending)
        ctx = mp.get_context("fork") if sys.platform != "win32" else mp.get_context()
        label_jobs: list[str] = []
        with ProcessPoolExecutor(max_workers=opts.workers, mp_context=ctx, initializer=_init_worker) as pool:
            phase("parse")
            bar = _progress(len(pending), opts.progress, "file")
            futures: list[Future[dict[str, Any]]] = []
            for batch in batches:
                pid = stable_digest(__version__, *(f"{f.rel}\x01{f.size}\x01{f.mtime_ns}" for f in batch))
                futures.append(pool.submit(parse_batch, batch, opts.limits, str(store.parts), pid))
            label_futures: list[Future[tuple[str, int, int]]] = []
            for fut in futures:
                res = fut.result()
                pid = res["part_id"]
                unchanged_files = {
                    rel for rel, _size, _mt, sha, _a, _r in res["files"] if rel in old_inputs and sha and old_inputs[rel]["sha256"] == sha
                }
                dups: dict[str, str] = {}
                keys = res["keys"]
                for aid, chash, sim, chars in zip(keys["article_id"], keys["content_hash"], keys["simhash"], keys["body_chars"], strict=True):
                    first = dup_index.add(aid, chash, sim, chars)
                    if first is not None and first != aid:
                        dups[aid] = first
                if dups:
                    Store.write_table(
                        pa.table({"article_id": list(dups), "duplicate_of": list(dups.values())}), store.parts / f"{pid}.dups.parquet"
                    )
                for rel, size, mtime, sha, n_art, n_rej in res["files"]:
                    if rel in unchanged_files:
                        # touched, not changed: keep the old rows, just remember the new mtime
                        old = dict(old_inputs[rel])
                        old.update(size=size, mtime_ns=mtime)
                        inputs[rel] = old
                        changed_parts.get(old_inputs[rel]["part_id"], set()).discard(rel)
                        continue
                    inputs[rel] = {"source_file": rel, "size": size, "mtime_ns": mtime, "sha256": sha, "part_id": pid, "seq": next_seq,
                                   "articles": n_art, "rejects": n_rej}
                    summary.files_read += 1
                    summary.articles_added += n_art
                    summary.rejects_added += n_rej
                next_seq += 1
                summary.duplicates_added += len(dups)
                summary.rejects_by_reason.update(res["reasons"])
                if unchanged_files:
                    _drop_files_from_part(store, pid, unchanged_files)
                label_futures.append(pool.submit(label_part, pid, str(store.parts), str(store.published), lhash))
                label_jobs.append(pid)
                failpoint("after_first_part")
                if bar is not None:
                    bar.update(len(res["files"]))
            if bar is not None:
                bar.close()

            # 3. rewrite parts that lost files (changed or pruned), then relabel parts whose labels are stale
            for old_pid, drop in changed_parts.items():
                if drop:
                    new_pid = _drop_files_from_part(store, old_pid, drop, new_id=True)
                    for rel, row in list(inputs.items()):
                        if row["part_id"] == old_pid:
                            inputs[rel] = {**row, "part_id": new_pid}
                    label_futures.append(pool.submit(label_part, new_pid, str(store.parts), str(store.published), lhash))
                    label_jobs.append(new_pid)
            if opts.prune:
                for rel in removed:
                    inputs.pop(rel, None)
            live_parts = sorted({r["part_id"] for r in inputs.values() if r["part_id"]})
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

        nothing_new = not pending and not stale and not changed_parts and previous is not None and not (opts.prune and removed)
        if nothing_new and not any(r["part_id"] for r in inputs.values() if r["source_file"] not in old_inputs):
            summary.articles_total, summary.rejects_total = _totals(inputs)
            summary.seconds = time.monotonic() - started
            summary.snapshot = previous.name if previous else None
            return summary

        # 4. publish: snapshot of live parts + aggregates + docs, then the atomic swap
        phase("publish")
        snapshot = publish_snapshot(
            store,
            inputs=inputs,
            inputs_schema=INPUTS,
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
        summary.articles_total, summary.rejects_total = _totals(inputs)
        summary.seconds = time.monotonic() - started
    return summary


def _totals(inputs: dict[str, dict[str, Any]]) -> tuple[int, int]:
    return sum(r["articles"] or 0 for r in inputs.values()), sum(r["rejects"] or 0 for r in inputs.values())


def _load_duplicate_index(snapshot: Path, index: DuplicateIndex, exclude: Iterable[str]) -> None:
    """Feed the published articles into the index in ingest order (their part's seq, then id)."""
    articles_dir = snapshot / "articles"
    if not articles_dir.exists():
        return
    excluded = set(exclude)
    cols = ["article_id", "source_file", "content_hash", "simhash", "body_chars", "duplicate_of"]
    table = pq.read_table(articles_dir, columns=cols)
    inputs = _load_inputs(snapshot)
    seqs = [inputs.get(sf, {}).get("seq", 0) for sf in table.column("source_file").to_pylist()]
    rows = sorted(
        (
            (seq, sf, aid, ch, sim, chars, dup)
            for seq, sf, aid, ch, sim, chars, dup in zip(seqs, *(table.column(c).to_pylist() for c in ("source_file", "article_id", "content_hash", "simhash", "body_chars", "duplicate_of")), strict=True)
            if sf not in excluded
        ),
    )
    index.extend((aid, ch, sim, chars, dup) for _seq, _sf, aid, ch, sim, chars, dup in rows)


def _drop_files_from_part(store: Store, pid: str, drop: set[str], new_id: bool = False) -> str:
    """Rewrite a part's parsed/rejects/dups files without the rows of ``drop`` files."""
    import pyarrow.compute as pc

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
