"""The read + parse phase: batches of input files → parsed and rejects part files, in order.

``parse_batch`` is the worker task (one batch of files in, two part files out, plus the keys the
duplicate index needs); ``parse_parts`` runs the batches on the engine's pool with a bounded window
and yields their results in batch order, so the dataset does not depend on the number of workers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines import __version__
from pipelines.engine import in_order
from pipelines.manifest import FileOutcome, Walked
from pipelines.parse.files import read_file
from pipelines.parse.finalize import finalize_article
from pipelines.parse.text import warm_tables
from pipelines.read.errors import reject_row
from pipelines.read.isolate import read_isolated
from pipelines.read.limits import Limits
from pipelines.read.walk import InputFile
from pipelines.schema import PARSED, REJECTS
from pipelines.store import PartWriter, stable_digest

BATCH_FILES = 256  # files per parse task: big enough to amortise IPC, small enough to balance cores


@dataclass(frozen=True, slots=True)
class ParsedPart:
    """One parsed batch: its part id, each file's outcome, the duplicate-index keys of its articles, reject counts."""

    part_id: str
    files: list[FileOutcome]
    keys: dict[str, list[Any]]  # article_id, content_hash, simhash, body_chars: one entry per article, in order
    reasons: Counter[str]


def parse_parts(pool: Executor, pending: pa.Table, walked: Walked, limits: Limits, parts_dir: Path, workers: int) -> Iterator[ParsedPart]:
    """Parse the ``pending`` files in batches of ``BATCH_FILES`` on ``pool``; yield each part in batch order."""

    def tasks() -> Iterator[tuple[Any, tuple[Any, ...]]]:
        for i in range(0, pending.num_rows, BATCH_FILES):
            batch = list(walked.files(pending.slice(i, BATCH_FILES)))
            pid = stable_digest(__version__, *(f"{f.rel}\x01{f.size}\x01{f.mtime_ns}" for f in batch))
            yield parse_batch, (batch, limits, str(parts_dir), pid)

    yield from in_order(pool, tasks(), window=4 * max(1, workers))


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



def parse_batch(files: Sequence[InputFile], limits: Limits, out_dir: str, part_id: str) -> ParsedPart:
    """Worker task: read a batch of files, write its parsed and rejects parts, return dedupe keys.

    Articles and rejects stream from the reader into the part files, so a batch holding a 1 GB WARC
    never holds all its articles at once.
    """
    out = Path(out_dir)
    parsed = PartWriter(PARSED, out / f"{part_id}.parsed.parquet")
    rejected = PartWriter(REJECTS, out / f"{part_id}.rejects.parquet")
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

    for i, got in read_isolated(files, limits, read_file, prefork=warm_tables):
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
    per_file = [FileOutcome(f.rel, f.size, f.mtime_ns, shas[i], n_art[i], n_rej[i]) for i, f in enumerate(files)]
    return ParsedPart(part_id, per_file, keys, reasons)

