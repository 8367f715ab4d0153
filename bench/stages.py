"""Where one article's time goes: CPU ms per article for each stage of the build, on one core.

    python bench/stages.py INPUT [--limit 3000] [--repeat 3]

INPUT is anything ``pipelines build --input`` reads. The files are read once as the build reads them;
then each stage is timed on its own over all the articles, ``--repeat`` times (the median is shown):

  read      the file's bytes from disk (page cache)         decode    bytes -> str (decode_bytes)
  parse     the reader after decoding, and finalize_article (ids, hashes, flags) without SimHash
  scan      the raw Aho-Corasick passes over title and body: gazetteer, agency patterns, topic terms
  region    resolve_region, less its gazetteer pass          agencies  find_mentions, less its pass
  topics    Taxonomy.classify, less its pass                 dedupe    SimHash + the duplicate index
  write     the labelled articles and mentions to Parquet (zstd), as a labelled part is written

``bench/bench_build.py`` prints this table beside its build rates.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STAGES = ("read", "decode", "parse", "scan", "region", "agencies", "topics", "dedupe", "write")


def _cpu(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def stage_costs(inp: str, limit: int = 3000, repeat: int = 3) -> tuple[int, dict[str, float]]:
    """(articles, {stage: CPU ms per article})."""
    import pyarrow.parquet as pq

    from pipelines.dedupe import DuplicateIndex
    from pipelines.label.agencies import agency_rules, find_mentions
    from pipelines.label.region import resolve_region
    from pipelines.label.stage import get_labeller
    from pipelines.label.topics import _encode
    from pipelines.parse.files import read_one
    from pipelines.parse.finalize import finalize_article
    from pipelines.parse.fingerprint import simhash
    from pipelines.read.decode import decode_bytes
    from pipelines.read.limits import Limits
    from pipelines.read.walk import walk_inputs
    from pipelines.schema import PARSED

    limits = Limits()
    files = [f for _, f in zip(range(limit), walk_inputs(inp), strict=False)]
    blobs = [Path(f.path).read_bytes() for f in files]
    rows: list[dict] = []
    for f in files:
        res, _ = read_one(f, limits)
        rows.extend(finalize_article(rec, f.rel, limits.max_text_chars) for rec in res.articles)
    n = len(rows)
    if not n:
        raise SystemExit(f"no articles read from {inp}")
    lab = get_labeller()
    gaz, tax = lab.gaz, lab.taxonomy
    agency_ac = agency_rules(gaz).ac
    table = PARSED.from_records(rows)
    view = table.select(["article_id", "title", "body", "breadcrumb", "outlet", "url", "site"]).to_pylist()
    regions = [resolve_region(a, gaz) for a in view]
    labelled, mentions = lab.label_table(table, {})

    def read() -> None:
        for f in files:
            with open(f.path, "rb") as fh:
                fh.read()

    def decode() -> None:
        for b in blobs:
            decode_bytes(b)

    def read_parse() -> None:
        for f in files:
            for rec in read_one(f, limits)[0].articles:
                finalize_article(rec, f.rel, limits.max_text_chars)

    def sims() -> None:
        for r in rows:
            simhash(r["body"] or r["title"] or "")

    def index() -> None:
        idx = DuplicateIndex()
        for r in rows:
            idx.add(r["article_id"], r["content_hash"], r["simhash"], r["body_chars"])

    def scan_gaz() -> None:
        for a in view:
            gaz._ac.find_matches_as_indexes(a["body"] or "")
            gaz._ac.find_matches_as_indexes(a["title"] or "")

    def scan_agency() -> None:
        for a in view:
            agency_ac.find_matches_as_indexes(a["body"] or "")

    def scan_topics() -> None:
        for a in view:
            tax._automaton.find_matches_as_indexes(_encode(a["title"] or "") + b"\x00" + _encode(a["body"] or ""), overlapping=True)

    def scan_gaz_filtered() -> None:
        for a in view:
            gaz.scan(a["body"] or "", cache=False)

    def region() -> None:
        for a in view:
            gaz._last_text = None  # each article's scan is paid here, as in the build
            resolve_region(a, gaz)

    def agencies() -> None:
        for a, r in zip(view, regions, strict=True):
            find_mentions(a["body"] or "", r, gaz)  # the gazetteer's one-body cache misses here: it pays a scan

    def topics() -> None:
        for a in view:
            tax.classify(a["title"] or "", a["body"] or "")

    def write() -> None:
        pq.write_table(labelled, io.BytesIO(), compression="zstd")
        pq.write_table(mentions, io.BytesIO(), compression="zstd")

    t = {name: _cpu(fn, repeat) for name, fn in [
        ("read", read), ("decode", decode), ("read_parse", read_parse), ("simhash", sims), ("index", index),
        ("scan_gaz", scan_gaz), ("scan_agency", scan_agency), ("scan_topics", scan_topics),
        ("scan_gaz_filtered", scan_gaz_filtered), ("region", region), ("agencies", agencies), ("topics", topics), ("write", write),
    ]}
    ms = {
        "read": t["read"],
        "decode": t["decode"],
        "parse": t["read_parse"] - t["read"] - t["decode"] - t["simhash"],
        "scan": t["scan_gaz"] + t["scan_agency"] + t["scan_topics"],
        "region": t["region"] - t["scan_gaz"],
        # in the build, agencies reuse region's gazetteer scan of the body; here they pay it again
        "agencies": t["agencies"] - t["scan_agency"] - t["scan_gaz_filtered"],
        "topics": t["topics"] - t["scan_topics"],
        "dedupe": t["simhash"] + t["index"],
        "write": t["write"],
    }
    return n, {k: v / n * 1000 for k, v in ms.items()}


def print_table(n: int, ms: dict[str, float], out=sys.stdout) -> None:
    total = sum(ms.values())
    print(f"per-stage CPU ms per article ({n:,} articles, one core; total {total:.3f} ms = {1000 / total:,.0f} articles/s per core)", file=out)
    print("  " + " ".join(f"{s:>8}" for s in STAGES), file=out)
    print("  " + " ".join(f"{ms[s]:>8.3f}" for s in STAGES), file=out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("--limit", type=int, default=3000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n, ms = stage_costs(args.input, args.limit, args.repeat)
    print_table(n, ms)


if __name__ == "__main__":
    main()
