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

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.schema import AGENCY_MENTIONS, ARTICLES
from pipelines.store import Store, TableWriter, write_parquet

LABEL_BATCH = 4096  # articles labelled and written at a time (a page-text part of 256 files is one batch)


def label_part(part_id: str, parts_dir: str, published_dir: str, label_hash: str) -> tuple[str, int, int, bool]:
    """Worker task: label a parsed part (with its duplicate marks) into a published part.

    When a labelled part with the same place half of the hash exists (only the taxonomy changed),
    its region and agency labels are kept and only the topics are recomputed."""
    from pipelines.label.stage import get_labeller

    parts, out = Path(parts_dir), Path(published_dir)
    dups = _duplicate_marks(parts / f"{part_id}.dups.parquet")
    articles_path = out / f"{part_id}.{label_hash}.articles.parquet"
    mentions_path = out / f"{part_id}.{label_hash}.mentions.parquet"
    base = _same_places(out, part_id, label_hash)
    if base is not None:
        articles = get_labeller().relabel_topics(pq.read_table(out / f"{part_id}.{base}.articles.parquet"), dups)
        Store.link_into(out / f"{part_id}.{base}.mentions.parquet", mentions_path)
        write_parquet(ARTICLES, articles, articles_path)  # last: its presence marks the part labelled
        return part_id, articles.num_rows, pq.ParquetFile(mentions_path).metadata.num_rows, True
    labeller = get_labeller()
    n_articles = n_mentions = 0
    # a batch at a time: a part of one big WARC or JSONL file holds tens of thousands of articles, and
    # the labels of one are Python lists until written (a 20,000-article part took 1.2 GB at once)
    with TableWriter(ARTICLES, articles_path) as article_out, TableWriter(AGENCY_MENTIONS, mentions_path) as mention_out:
        for batch in pq.ParquetFile(parts / f"{part_id}.parsed.parquet").iter_batches(batch_size=LABEL_BATCH):
            articles, mentions = labeller.label_table(pa.Table.from_batches([batch]), dups)
            article_out.write(articles)
            if mentions.num_rows:  # no empty row groups (a file with none still gets its columns)
                mention_out.write(mentions)
            n_articles += articles.num_rows
            n_mentions += mentions.num_rows
    # the mentions file is closed first (the inner writer): the articles file's presence marks the part labelled
    return part_id, n_articles, n_mentions, False


def _duplicate_marks(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    d = pq.read_table(path).to_pydict()
    return dict(zip(d["article_id"], d["duplicate_of"], strict=True))


def _same_places(published: Path, part_id: str, label_hash: str) -> str | None:
    """The label hash of a labelled part of ``part_id`` whose region and agency labels are current
    (same place half of the hash, another topic half), with both its files present; else None."""
    place = label_hash.split("-", 1)[0]
    for path in sorted(published.glob(f"{part_id}.{place}-*.articles.parquet")):
        other = path.name[len(part_id) + 1 : -len(".articles.parquet")]
        if other != label_hash and (published / f"{part_id}.{other}.mentions.parquet").exists():
            return other
    return None


class LabelJobs:
    """The label tasks of one build, submitted as parts become ready and awaited together."""

    def __init__(self, pool: Executor, store: Store, label_hash: str) -> None:
        self.pool = pool
        self.store = store
        self.label_hash = label_hash
        self.futures: list[Future[tuple[str, int, int, bool]]] = []
        self.topics_only = 0  # parts whose region and agency labels were kept (a taxonomy edit)
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
            self.topics_only += future.result()[3]
            if progress is not None:
                progress.update(1)
        if progress is not None:
            progress.close()
