"""Build a large synthetic dataset for dashboard benchmarks by resampling a real build.

Usage::

    .venv/bin/python bench/make_scale_dataset.py --source DATASET --out DIR [-n 1000000] [--seed 0]

The output has the published layout (``articles/``, ``agency_mentions/``, ``rejects/``,
``aggregates/`` built by ``pipelines.publish.aggregates.build_aggregates``, ``manifest.json``,
``README.md``, the full-text index ``search/`` built by ``pipelines.publish.search_index``; a real
``.store`` snapshot swapped in with ``pipelines.store.Store``).

THE DATA ARE SYNTHETIC: every row is recombined from rows of the real ``--source`` build:

* title, body, URL, site, outlet, byline, breadcrumb, agencies (with their ``agency_mentions``
  rows, whose offsets stay valid) and quality flags come from one real article (the "donor");
* the body gets one paragraph of another real article appended (so bodies are not exact copies
  and text search and compression behave like on distinct stories);
* the date is drawn from the real dates (nulls at the real rate) plus a uniform ±180-day jitter;
* the region (scope, codes, names, confidence, evidence) is drawn independently from the real
  rows, and so are the topics (with their evidence);
* ``duplicate_of`` points at a random earlier synthetic row at the real duplicate rate.

So counts, distributions and string sizes are realistic, but nothing about any single row is
true: never publish or analyse such a dataset as news.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.publish.aggregates import build_aggregates
from pipelines.publish.search_index import build_search_index
from pipelines.schema import AGENCY_MENTIONS, ARTICLES, REJECTS
from pipelines.store import Store, write_parquet

BODY_DONOR = (
    "source_format", "url", "site", "outlet", "title", "published_at_source", "breadcrumb", "byline", "body",
    "quality_flags", "simhash", "agencies",
)  # fmt: skip
REGION_DONOR = ("scope", "province_code", "prefecture_code", "county_code", "province", "prefecture", "county", "region_confidence", "region_evidence")
TOPIC_DONOR = ("topics", "topic_evidence")
JITTER_DAYS = 180
MIX = np.uint64(0x9E3779B97F4A7C15)


def _read(folder: Path) -> pa.Table:
    files = sorted(folder.glob("*.parquet"))
    if not files:
        return pa.table({})
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")


def _hex_ids(seq: np.ndarray, salt: int) -> pa.Array:
    """Distinct 16-hex-digit ids for distinct sequence numbers (an odd multiplier is a bijection mod 2**64)."""
    with np.errstate(over="ignore"):
        mixed = (seq.astype(np.uint64) + np.uint64(salt)) * MIX
    return pa.array([f"{int(x):016x}" for x in mixed], pa.string())


def _paragraphs(bodies: list[str | None]) -> pa.Array:
    paras = [p.strip() for b in bodies if b for p in b.split("\n") if len(p.strip()) >= 8]
    return pa.array(paras or ["。"], pa.string())


def make_part(
    src: pa.Table,
    men_sorted: pa.Table,
    men_start: np.ndarray,
    men_count: np.ndarray,
    paras: pa.Array,
    dates_ms: np.ndarray,
    date_valid: np.ndarray,
    start: int,
    size: int,
    dup_rate: float,
    rng: np.random.Generator,
) -> tuple[pa.Table, pa.Table]:
    n_src = src.num_rows
    seq = np.arange(start, start + size, dtype=np.int64)
    ids = _hex_ids(seq, 1)
    donor = rng.integers(0, n_src, size)
    region = rng.integers(0, n_src, size)
    topic = rng.integers(0, n_src, size)
    cols: dict[str, pa.Array] = {}
    body_t = src.select(list(BODY_DONOR)).take(pa.array(donor))
    for name in BODY_DONOR:
        cols[name] = body_t.column(name).combine_chunks()
    extra = paras.take(pa.array(rng.integers(0, len(paras), size)))
    cols["body"] = pc.binary_join_element_wise(pc.fill_null(cols["body"], ""), extra, "\n")
    cols["body_chars"] = pc.cast(pc.utf8_length(cols["body"]), pa.int32())
    region_t = src.select(list(REGION_DONOR)).take(pa.array(region))
    for name in REGION_DONOR:
        cols[name] = region_t.column(name).combine_chunks()
    topic_t = src.select(list(TOPIC_DONOR)).take(pa.array(topic))
    for name in TOPIC_DONOR:
        cols[name] = topic_t.column(name).combine_chunks()
    # dates: the real distribution (nulls included) plus jitter
    di = rng.integers(0, len(dates_ms), size)
    ms = dates_ms[di] + rng.integers(-JITTER_DAYS, JITTER_DAYS + 1, size) * 86_400_000
    cols["published_at"] = pa.array(ms, pa.int64(), mask=~date_valid[di]).cast(pa.timestamp("ms")).cast(ARTICLES["published_at"].type)
    cols["article_id"] = ids
    src_files = src.column("source_file").combine_chunks().take(pa.array(donor))
    cols["source_file"] = pc.binary_join_element_wise(pa.array([f"synthetic/{start // 100_000:05d}"] * size, pa.string()), src_files, "/")
    cols["source_record"] = pa.array([str(x) for x in seq], pa.string())
    cols["content_hash"] = pa.array([f"{int(a):016x}{int(b):016x}" for a, b in zip(rng.integers(0, 2**63, size), rng.integers(0, 2**63, size), strict=True)], pa.string())
    # duplicates point at an earlier synthetic row
    is_dup = (rng.random(size) < dup_rate) & (seq > 0)
    targets = (rng.random(size) * np.maximum(seq, 1)).astype(np.int64)
    dup_ids = _hex_ids(targets, 1)
    cols["duplicate_of"] = pc.if_else(pa.array(is_dup), dup_ids, pa.nulls(size, pa.string()))
    table = ARTICLES.conform(pa.table({name: cols[name] for name in ARTICLES.names if name in cols}))

    # agency mentions of the donor, re-keyed to the synthetic article
    counts = men_count[donor]
    total = int(counts.sum())
    if total:
        offsets = np.repeat(men_start[donor] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(total)
        men = men_sorted.take(pa.array(offsets))
        men = men.set_column(men.schema.get_field_index("article_id"), "article_id", pa.array(np.repeat(np.asarray(ids.to_pylist(), dtype=object), counts), pa.string()))
        men = AGENCY_MENTIONS.conform(men)
    else:
        men = AGENCY_MENTIONS.empty()
    return table, men


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, required=True, help="a real dataset built by `python -m pipelines build`")
    ap.add_argument("--out", type=Path, required=True, help="dataset folder to write (created; must not hold another dataset)")
    ap.add_argument("-n", "--articles", type=int, default=1_000_000, help="number of synthetic articles (default 1,000,000)")
    ap.add_argument("--part-rows", type=int, default=250_000, help="articles per Parquet part (default 250,000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-search-index", dest="search_index", action="store_false", help="skip the full-text index (search/)")
    ap.add_argument("--workers", type=int, default=2, help="processes building the search index (default 2)")
    args = ap.parse_args(argv)

    t0 = time.monotonic()
    src = ARTICLES.conform(_read(args.source / "articles"))
    if src.num_rows == 0:
        print(f"error: {args.source} has no articles", file=sys.stderr)
        return 2
    men = _read(args.source / "agency_mentions")
    men = AGENCY_MENTIONS.conform(men) if men.num_rows else AGENCY_MENTIONS.empty()
    rej = _read(args.source / "rejects")
    rej = REJECTS.conform(rej) if rej.num_rows else REJECTS.empty()

    # index the donors' mentions: rows of each source article are contiguous after sorting
    src_ids = src.column("article_id").to_pylist()
    pos = {a: i for i, a in enumerate(src_ids)}
    men_donor = np.array([pos.get(a, -1) for a in men.column("article_id").to_pylist()], dtype=np.int64)
    keep = men_donor >= 0
    order = np.argsort(men_donor[keep], kind="stable")
    men_sorted = men.filter(pa.array(keep)).take(pa.array(order))
    men_count = np.bincount(men_donor[keep], minlength=src.num_rows).astype(np.int64)
    men_start = np.concatenate([[0], np.cumsum(men_count)[:-1]]).astype(np.int64)

    paras = _paragraphs(src.column("body").to_pylist())
    pub = src.column("published_at").combine_chunks().cast(pa.timestamp("ms", tz="UTC")).cast(pa.int64())
    dates_ms = np.asarray(pc.fill_null(pub, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    date_valid = np.asarray(pc.is_valid(pub).to_numpy(zero_copy_only=False), dtype=bool)
    dup_rate = float(pc.sum(pc.is_valid(src.column("duplicate_of"))).as_py() or 0) / src.num_rows
    rng = np.random.default_rng(args.seed)

    store = Store(args.out)
    store.ensure()
    with store.lock():
        snap = store.new_snapshot()
        for d in ("articles", "agency_mentions", "rejects"):
            (snap / d).mkdir(parents=True, exist_ok=True)
        n_parts = -(-args.articles // args.part_rows)
        for k in range(n_parts):
            start = k * args.part_rows
            size = min(args.part_rows, args.articles - start)
            art, mentions = make_part(src, men_sorted, men_start, men_count, paras, dates_ms, date_valid, start, size, dup_rate, rng)
            write_parquet(ARTICLES, art, snap / "articles" / f"part-{k:05d}.parquet")
            write_parquet(AGENCY_MENTIONS, mentions, snap / "agency_mentions" / f"part-{k:05d}.parquet")
            print(f"part {k + 1}/{n_parts}: {start + size:,} articles, {time.monotonic() - t0:.0f} s", flush=True)
        write_parquet(REJECTS, rej, snap / "rejects" / "part-00000.parquet")
        t1 = time.monotonic()
        build_aggregates(snap)
        t_agg = time.monotonic() - t1
        print(f"aggregates: {t_agg:.0f} s", flush=True)
        t2 = time.monotonic()
        search = build_search_index(snap, None, [f"{k:05d}" for k in range(n_parts)], args.workers) if args.search_index else None
        t_search = time.monotonic() - t2
        if search is not None:
            print(f"search index: {t_search:.0f} s, {search['bytes'] / 2**30:.2f} GiB, {len(search['segments'])} segments", flush=True)
        manifest = {
            "synthetic": True,
            "note": "resampled/recombined rows of a real build; see bench/make_scale_dataset.py",
            "source": str(args.source),
            "seed": args.seed,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "articles": args.articles,
            "rejects": rej.num_rows,
            "parts": n_parts,
            "aggregates_seconds": round(t_agg, 1),
            "search_index_seconds": round(t_search, 1) if search is not None else None,
            "search_index_bytes": search["bytes"] if search is not None else None,
        }
        (snap / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        (snap / "README.md").write_text(
            "# SYNTHETIC benchmark dataset\n\nMade by `bench/make_scale_dataset.py` by resampling and recombining rows of a real build "
            f"({args.source}). Counts and sizes are realistic; no row is a real article. Do not publish or analyse.\n",
            encoding="utf-8",
        )
        (snap / "datapackage.json").write_text(json.dumps({"name": "synthetic-benchmark", "resources": []}) + "\n", encoding="utf-8")
        store.swap(snap)
    print(f"done: {args.articles:,} articles in {args.out} ({time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
