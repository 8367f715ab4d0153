"""The label phase: parsed parts (with their duplicate marks) → labelled article and mention parts.

``label_part`` is the worker task. ``LabelJobs`` submits it for each new part as the parse phase
yields it, then for every live part whose labels are stale (a changed data file or label code changes
``label_hash``, so relabelling never re-reads the raw inputs), and waits for them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import Executor, Future
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipelines.store import Store


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


class LabelJobs:
    """The label tasks of one build, submitted as parts become ready and awaited together."""

    def __init__(self, pool: Executor, store: Store, label_hash: str) -> None:
        self.pool = pool
        self.store = store
        self.label_hash = label_hash
        self.futures: list[Future[tuple[str, int, int]]] = []
        self.submitted: set[str] = set()

    def submit(self, part_id: str) -> None:
        self.futures.append(self.pool.submit(label_part, part_id, str(self.store.parts), str(self.store.published), self.label_hash))
        self.submitted.add(part_id)

    def stale(self, live_parts: Iterable[str]) -> list[str]:
        """Live parts not labelled in this build whose labelled part for the current label hash is missing."""
        published = self.store.published
        return [p for p in live_parts if p not in self.submitted and not (published / f"{p}.{self.label_hash}.articles.parquet").exists()]

    def wait(self, progress: Any = None) -> None:
        """Wait for every submitted task (a failed task raises here)."""
        for future in self.futures:
            future.result()
            if progress is not None:
                progress.update(1)
        if progress is not None:
            progress.close()
