"""Assemble a new snapshot from the live parts, document it, and swap it in."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.failpoints import failpoint
from pipelines.publish.aggregates import write_aggregates
from pipelines.publish.docs import datapackage, dataset_card, file_sha256, search_card
from pipelines.publish.search_index import build_search_index
from pipelines.schema import INPUT_MANIFEST
from pipelines.store import Store, write_parquet

EVAL_RESULTS = Path(__file__).resolve().parents[2] / "eval" / "RESULTS.md"


_published: list[Path] = []  # snapshots this process made current (an interrupt after that must not say "unchanged")


def published_in_this_process() -> Path | None:
    """The snapshot this process last made current, if any."""
    return _published[-1] if _published else None


def _search_summary(search: dict[str, Any]) -> dict[str, Any]:
    keys = ("segments", "indexed_docs", "new_docs", "bytes", "seconds")
    return {k: (len(search[k]) if k == "segments" else search[k]) for k in keys}


def publish_snapshot(store: Store, *, inputs: pa.Table, label_hash: str, run_info: dict[str, Any]) -> Path:
    """``inputs`` is the new manifest (pipelines.manifest.INPUTS), sorted by source_file."""
    from pipelines.label.stage import label_data_files
    from pipelines.manifest import totals

    snap = store.new_snapshot()
    try:
        part_ids = sorted(set(pc.drop_null(inputs["part_id"]).to_pylist()) - {""})
        keep: set[str] = set()
        for pid in part_ids:
            for src_name, dest in (
                (f"{pid}.{label_hash}.articles.parquet", snap / "articles" / f"part-{pid}.parquet"),
                (f"{pid}.{label_hash}.mentions.parquet", snap / "agency_mentions" / f"part-{pid}.parquet"),
            ):
                store.link_into(store.published / src_name, dest)
                keep.add(src_name)
            store.link_into(store.parts / f"{pid}.rejects.parquet", snap / "rejects" / f"part-{pid}.parquet")
            for kind in ("parsed", "rejects", "dups"):
                keep.add(f"{pid}.{kind}.parquet")
        for name in ("articles", "agency_mentions", "rejects"):
            (snap / name).mkdir(exist_ok=True)
        write_parquet(INPUT_MANIFEST, inputs, snap / "inputs.parquet")
        articles, rejects = totals(inputs)
        t_agg = time.monotonic()
        write_aggregates(snap, articles)
        t_index = time.monotonic()
        search = build_search_index(snap, store.current(), part_ids, int(run_info.get("workers") or 1))
        run_info = {**run_info, "aggregates_seconds": round(t_index - t_agg, 2), "search_index": _search_summary(search)}
        run = {
            **run_info,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "label_hash": label_hash,
            "label_data": {p.name: file_sha256(p)[:16] for p in label_data_files()},
            "inputs": inputs.num_rows,
            "articles": articles,
            "rejects": rejects,
            "parts": len(part_ids),
        }
        (snap / "manifest.json").write_text(json.dumps(run, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
        evaluation = EVAL_RESULTS.read_text(encoding="utf-8") if EVAL_RESULTS.exists() else "## Accuracy\nNot measured for this build."
        (snap / "README.md").write_text(dataset_card(run, {"evaluation": evaluation, "search_index": search_card(search)}), encoding="utf-8")
        (snap / "datapackage.json").write_text(json.dumps(datapackage(snap, run), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        failpoint("before_swap")
    except BaseException:
        # Ctrl-C or a failure before the swap: no reader can know the half-made snapshot
        shutil.rmtree(snap, ignore_errors=True)
        raise
    previous = store.swap(snap)
    _published.append(snap)
    failpoint("after_swap")
    store.collect_garbage(keep, previous)
    return snap
