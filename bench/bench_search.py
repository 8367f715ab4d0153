"""Full-text search: index size and build time, and the time of a new term, server side and in a browser.

Usage::

    .venv/bin/python bench/make_scale_dataset.py --source DATASET --out /tmp/scale_1m -n 1000000
    .venv/bin/python bench/bench_search.py --dataset /tmp/scale_1m [--repeat 3] [--browser]

For each term, uncached as a new term is on a live server: one open connection (the dashboard keeps
it; its first query reads the Parquet footers), none of the dashboard's result caches:

* ``hits``: the query language parsed and answered from the index (``queries.search_hits``);
* ``page``: hits + what the Articles and Trends pages ask with them: the summary, monthly counts,
  the first page of the list and its snippets;
* ``scan``: the same hits by scanning every title and body (the code before the index), once.

``--browser`` also starts the real app and Chromium, types the first term on the Articles page and
times until the hit count and the snippets are on screen (tests/test_browser.py's helper).
Prints medians (seconds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard import queries as Q  # noqa: E402
from dashboard.filters import Filters  # noqa: E402

TERMS = ("法院", "人民法院", "失信被执行人", "兰州", "习近平", "中华人民共和国", "新闻发布会", '法院 -执行', "限高 OR 限制消费")


def _db(ds: Path) -> Q.Db:
    return Q.connect(ds / "articles", ds / "agency_mentions", ds / "rejects", ds / "aggregates", search=ds / "search")


def time_term(db: Q.Db, term: str) -> tuple[float, float, int]:
    """(hits seconds, hits + page seconds, number of hits): nothing cached but the open connection."""
    t0 = time.perf_counter()
    res = Q.search_hits(db, term)
    t1 = time.perf_counter()
    f = Filters(search=term, unique=True)
    Q.summary(db, f, res.hits)
    Q.counts(db, f, (), "month", res.hits)
    page = Q.article_page(db, f, "newest", 100, 0, res.hits)
    Q.snippets(db, [int(r) for r in page["row"]], term)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t0, res.n


def time_scan(ds: Path, term: str) -> float:
    db = _db(ds)
    db.search = None
    db.query("SELECT count(*) FROM facts")
    t0 = time.perf_counter()
    Q.search_hits(db, term)
    return time.perf_counter() - t0


def browser_seconds(ds: Path, term: str, repeat: int) -> float:
    sys.path.insert(0, str(ROOT / "tests"))
    from playwright.sync_api import sync_playwright
    from test_browser import ARGS, CHROMIUM, Server, Tab, search_in_browser

    server = Server(ds, Path("/tmp/bench_search_streamlit.log"))
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            times = []
            for i in range(repeat + 1):
                tab = Tab(b, server.url)
                tab.open("/articles?lang=en")  # the page is loaded before the term is typed
                secs, _ = search_in_browser(tab, f"{term} OR 无此词{i}", mark=term)  # a new query each time: never cached
                tab.close()
                if i:  # the first run also warms the server's dataset caches
                    times.append(secs)
            b.close()
    finally:
        server.stop()
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--terms", default=",".join(TERMS))
    ap.add_argument("--browser", action="store_true")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "bench_search.json")
    args = ap.parse_args(argv)
    man = json.loads((args.dataset / "search" / "manifest.json").read_text())
    facts = man["facts_rows"]
    print(f"dataset {args.dataset}: {facts:,} articles; index {man['bytes'] / 2**30:.2f} GiB in {len(man['segments'])} segments, built in {man['seconds']:.0f} s")
    out: dict[str, object] = {"articles": facts, "index_bytes": man["bytes"], "index_seconds": man["seconds"], "terms": {}}
    print(f"{'term':<16} {'hits':>9} {'hits s':>8} {'page s':>8} {'scan s':>8}")
    db = _db(args.dataset)
    t0 = time.perf_counter()
    Q.search_hits(db, "预热")  # the connection's first search reads every segment's footer
    print(f"first search of a new connection: {time.perf_counter() - t0:.2f} s")
    for term in args.terms.split(","):
        runs = [time_term(db, term) for _ in range(args.repeat)]
        hits_s, page_s, n = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs), runs[0][2]
        scan_s = time_scan(args.dataset, term) if term == args.terms.split(",")[0] else float("nan")
        print(f"{term:<16} {n:>9,} {hits_s:>8.3f} {page_s:>8.3f} {scan_s:>8.3f}", flush=True)
        out["terms"][term] = {"hits": n, "hits_seconds": hits_s, "page_seconds": page_s, "scan_seconds": scan_s}  # type: ignore[index]
    if args.browser:
        secs = browser_seconds(args.dataset, args.terms.split(",")[0], args.repeat)
        print(f"browser, Articles page, type a new term until hits and snippets show: {secs:.2f} s (median of {args.repeat})")
        out["browser_seconds"] = secs
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
