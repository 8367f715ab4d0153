"""``build``: plan → read + parse → dedupe → label → publish, each phase in the module of its stage.

    plan            pipelines/manifest.py      walk the input, compare with the previous manifest
    read + parse    pipelines/parse/phase.py   batches of files → parsed and rejects parts (worker tasks)
    dedupe          pipelines/dedupe.py        first-seen duplicate marks, in ingest order (main process)
    label           pipelines/label/phase.py   parsed parts → labelled parts (worker tasks)
    publish         pipelines/publish/         snapshot, aggregates, docs, one atomic swap

Parsed parts and labelled parts are separate, so relabelling (changed gazetteer, outlets or
taxonomy) never re-reads raw files. Work runs on all cores (``pipelines/engine.py``); the output does
not depend on the number of workers: batches are fixed by sorted path, duplicates are decided in
ingest order.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines import __version__
from pipelines.dedupe import DuplicateIndex, load_duplicate_index, mark_duplicates, write_duplicates
from pipelines.engine import executor, release_memory
from pipelines.errors import InputError
from pipelines.failpoints import failpoint
from pipelines.label.phase import LabelJobs
from pipelines.manifest import ManifestUpdate, collect_walk, live_parts, load_manifest, plan_changes, totals
from pipelines.parse.phase import parse_parts
from pipelines.read.limits import Limits
from pipelines.read.remote import is_url
from pipelines.read.walk import walk_runs
from pipelines.store import Store, drop_files_from_part


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
    parts_topics_only: int = 0  # of the relabelled parts, those whose region and agency labels were kept
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
            kept = f"; {self.parts_topics_only} of them topics only, as only the taxonomy changed" if self.parts_topics_only else ""
            out.append(f"relabelled: {self.parts_relabelled} parts (label data or code changed{kept})")
        out.append(f"time: {self.seconds:.1f} s" + ("" if self.published else " (nothing new: dataset unchanged)"))
        return out



def run_build(opts: BuildOptions, on_phase: Callable[[str], None] | None = None) -> BuildSummary:
    """Build or update the dataset in ``opts.dataset`` from ``opts.input``; see the module docstring."""
    started = time.monotonic()
    _check_input(opts)
    store = Store(opts.dataset)
    store.ensure()
    summary = BuildSummary()
    phase = _phase_hook(on_phase)

    with store.lock(wait=opts.wait_for_lock):
        previous = store.current()
        old = load_manifest(previous)
        phase("walk")
        walked, plan = _plan(opts, old, summary)
        dup_index = _duplicate_index(store, previous, old, plan, phase)
        inputs, reworked = _parse_and_label(opts, store, walked, plan, ManifestUpdate(old, plan), dup_index, summary, phase)
        dup_index.close()  # its spill files go now; a killed build's go at the next build's start

        summary.articles_total, summary.rejects_total = totals(inputs)
        if previous is not None and not _anything_to_publish(opts, plan, reworked):
            summary.seconds = time.monotonic() - started
            summary.snapshot = previous.name
            return summary
        # the parse phase's state (duplicate index, plan, walk, old manifest: ~400 bytes an article) is
        # not needed to publish; hand it back before DuckDB takes its budget for the aggregates
        del dup_index, plan, walked, old
        release_memory()
        phase("publish")
        _publish(opts, store, inputs, summary)
        summary.seconds = time.monotonic() - started
    return summary


def _check_input(opts: BuildOptions) -> None:
    """A local input must be an existing folder (a relabel reads no input; a URL is not checked here)."""
    if not opts.relabel_only and not is_url(opts.input) and not Path(opts.input).is_dir():
        raise InputError(f"input folder {opts.input} does not exist or is not a folder", "pass --input DIR with your scraped files")


def _phase_hook(on_phase: Callable[[str], None] | None) -> Callable[[str], None]:
    """What runs as each phase starts: its failpoint (where crash-safety tests kill the build), then ``on_phase``."""

    def phase(name: str) -> None:
        failpoint(name)
        if on_phase is not None:
            on_phase(name)

    return phase


def _parse_and_label(
    opts: BuildOptions,
    store: Store,
    walked: Any,
    plan: Any,
    update: ManifestUpdate,
    dup_index: DuplicateIndex,
    summary: BuildSummary,
    phase: Callable[[str], None],
) -> tuple[Any, bool]:
    """Parse the pending files (each part labelled as soon as it is written), rewrite the parts that
    lost files and relabel the stale ones, all on one pool; return the new input manifest and whether
    any existing part was rewritten or relabelled."""
    from pipelines.label.stage import label_hash

    with executor(opts.engine, opts.workers, opts.scheduler) as pool:
        labels = LabelJobs(pool, store, label_hash())
        phase("parse")
        bar = _progress(plan.pending.num_rows, opts.progress, "file")
        for part in parse_parts(pool, plan.pending, walked, opts.limits, store.parts, opts.workers):
            _ingest(part, update, dup_index, store, summary)
            labels.submit(part.part_id)
            failpoint("after_first_part")
            if bar is not None:
                bar.update(len(part.files))
        if bar is not None:
            bar.close()
        renamed = _rewrite_shrunk_parts(plan.changed_parts, store, labels)
        inputs = update.finish(opts.prune, renamed)
        stale = labels.stale(live_parts(inputs))
        if stale:
            phase("relabel")
            summary.parts_relabelled = len(stale)
            for pid in stale:
                labels.submit(pid)
        phase("label")
        labels.wait(_progress(len(labels.futures), opts.progress and len(labels.futures) > 1, "part"))
        summary.parts_topics_only = labels.topics_only
    return inputs, bool(stale or renamed)


def _anything_to_publish(opts: BuildOptions, plan: Any, reworked: bool) -> bool:
    """New or changed files, rewritten or relabelled parts, or removed files to prune."""
    return bool(plan.pending.num_rows or reworked or (opts.prune and plan.removed))


def _duplicate_index(store: Store, previous: Path | None, old: Any, plan: Any, phase: Callable[[str], None]) -> DuplicateIndex:
    """The duplicate index of the published articles (those of changed files left out), spilling to
    the store's scratch folder (a killed build's leftovers are cleared first)."""
    scratch = store.meta / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    index = DuplicateIndex(scratch / "duplicate-index")
    if previous is not None and (plan.pending.num_rows or plan.changed_parts):
        phase("index")
        load_duplicate_index(previous, old, index, exclude={f for s in plan.changed_parts.values() for f in s}, spill_dir=scratch)
    return index


def _plan(opts: BuildOptions, old: Any, summary: BuildSummary) -> tuple[Any, Any]:
    """Walk the input (relabel never touches it) and decide what is new or changed (size + mtime)."""
    root = str(opts.input) if is_url(opts.input) else os.path.abspath(opts.input)
    walked = collect_walk(() if opts.relabel_only else walk_runs(root), root)
    summary.files_seen = walked.table.num_rows + walked.ignored
    summary.files_ignored = walked.ignored
    plan = plan_changes(walked.table, old, prune=opts.prune, relabel_only=opts.relabel_only)
    del walked.table  # the plan holds what is still needed
    summary.files_unchanged = plan.unchanged
    summary.files_removed = len(plan.removed)
    return walked, plan


def _ingest(part: Any, update: ManifestUpdate, dup_index: DuplicateIndex, store: Store, summary: BuildSummary) -> None:
    """A parsed part, in batch order: its duplicate marks, its manifest rows, the counts."""
    dups = mark_duplicates(dup_index, part.keys)
    if dups:
        write_duplicates(dups, store.parts / f"{part.part_id}.dups.parquet")
    read, touched = update.add_part(part.part_id, part.files)
    if touched:
        drop_files_from_part(store, part.part_id, touched)
    summary.files_read += len(read)
    summary.articles_added += sum(f.articles for f in read)
    summary.rejects_added += sum(f.rejects for f in read)
    summary.duplicates_added += len(dups)
    summary.rejects_by_reason.update(part.reasons)


def _rewrite_shrunk_parts(changed_parts: dict[str, set[str]], store: Store, labels: LabelJobs) -> dict[str, str]:
    """Parts that lost files (changed or pruned) are rewritten under a new id and labelled again."""
    renamed: dict[str, str] = {}
    for old_pid, drop in changed_parts.items():
        if drop:
            renamed[old_pid] = drop_files_from_part(store, old_pid, drop, new_id=True)
            labels.submit(renamed[old_pid])
    return renamed


def _publish(opts: BuildOptions, store: Store, inputs: Any, summary: BuildSummary) -> None:
    from pipelines.label.stage import label_hash
    from pipelines.publish.snapshot import publish_snapshot  # late: DuckDB is 0.2 s a no-op rerun need not pay

    run_info = {
        "pipeline_version": __version__,
        "input": str(opts.input),
        "workers": opts.workers,
        **{k: getattr(summary, k) for k in ("files_seen", "files_read", "files_unchanged", "files_ignored", "files_removed")},
        "pruned": opts.prune,
        **{k: getattr(summary, k) for k in ("articles_added", "rejects_added", "duplicates_added", "parts_relabelled")},
    }
    snapshot = publish_snapshot(store, inputs=inputs, label_hash=label_hash(), run_info=run_info)
    summary.published = True
    summary.snapshot = snapshot.name


def _progress(total: int, enabled: bool, unit: str) -> Any:
    if not enabled or total == 0:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit=unit, file=sys.stderr, dynamic_ncols=True, mininterval=0.5)
