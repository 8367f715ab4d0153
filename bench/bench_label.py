"""CPU time of the whole label stage (``Labeller.label_table``) per article.

Usage::

    .venv/bin/python bench/bench_label.py INPUT [--limit 3000] [--repeat 5]

INPUT is anything ``pipelines build --input`` reads (a folder of page-text files, say). Files are
read and parsed once, exactly as the build does; then the parsed table is labelled ``--repeat``
times in one process. Times are CPU time of this process (per core, less disturbed by other load on
a shared machine than wall time); the median and the minimum are printed in ms per article.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.label.stage import get_labeller
from pipelines.parse.files import read_one
from pipelines.parse.finalize import finalize_article
from pipelines.read.limits import Limits
from pipelines.read.walk import walk_inputs
from pipelines.schema import PARSED


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input")
    ap.add_argument("--limit", type=int, default=3000, help="files to read (default 3000)")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    limits = Limits()
    rows = []
    for i, f in enumerate(walk_inputs(args.input)):
        if i >= args.limit:
            break
        res, _ = read_one(f, limits)
        rows.extend(finalize_article(rec, f.rel, limits.max_text_chars) for rec in res.articles)
    if not rows:
        sys.exit(f"no articles read from {args.input}")
    table = PARSED.from_records(rows)
    labeller = get_labeller()
    labeller.label_table(table.slice(0, 10), {})  # warm up: gazetteer, taxonomy, agency rules
    times = []
    for _ in range(args.repeat):
        t = time.process_time()
        labeller.label_table(table, {})
        times.append((time.process_time() - t) / len(rows) * 1000)
    print(f"{len(rows)} articles, label stage CPU ms/article: median {statistics.median(times):.3f}, min {min(times):.3f}")


if __name__ == "__main__":
    main()
