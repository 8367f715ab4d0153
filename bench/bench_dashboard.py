"""Server-side time of the dashboard: first page render and every filter change, per page.

Usage::

    .venv/bin/python bench/make_scale_dataset.py --source DATASET --out /tmp/scale_1m -n 1000000
    .venv/bin/python bench/bench_dashboard.py --dataset /tmp/scale_1m [--repeat 3] [--pages overview,trends]

What is timed: full reruns of the real app (``app.py`` through ``streamlit.testing.v1.AppTest``),
i.e. everything the server does for a page: the DuckDB queries, the chart and table building and
Streamlit's serialisation. Browser-side rendering is not included.

* ``first page``: a new session with every cache empty (dataset checks, DuckDB views, filter
  options, the page's queries and charts), as after a server start or a rebuild. Python imports are
  excluded except in the one ``cold`` line (the very first run of this process).
* filter changes: on each page, a user's sequence of sidebar changes (province, prefecture, topic,
  dates, copies, agency type, organ, outlet, search, …). Before each timed rerun the caches of
  filter-dependent results are cleared, so each number is the uncached cost of a new filter
  combination; dataset-level caches (connection, filter options) stay warm, as on a live server.
  ``search (new term)`` includes the one full scan of titles and bodies; the next step keeps that
  term and changes another filter, reusing the cached hits.

Prints a table of medians (seconds) over ``--repeat`` runs and writes it as JSON to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGES = ("overview", "trends", "map", "agencies", "articles", "quality")
TARGET_1M, TARGET_10M, TARGET_FIRST = 0.3, 1.0, 3.0


def _widget(at: Any, kind: str, key: str) -> Any | None:
    try:
        return getattr(at, kind)(key=key)
    except KeyError:
        return None


def _options(at: Any, key: str) -> list[Any]:
    w = _widget(at, "selectbox", key)
    return list(w.options) if w is not None else []


def steps(at: Any, data_mod: Any, new_search: bool = True) -> list[tuple[str, Callable[[Any], bool]]]:
    """The sequence of filter changes: (name, apply(at) -> False when not applicable)."""

    def select(key: str, pick: Callable[[list[Any]], Any]) -> Callable[[Any], bool]:
        def apply(at: Any) -> bool:
            w = _widget(at, "selectbox", key)
            if w is None:
                return False
            # AppTest exposes formatted option labels; set by value through the widget's state
            values = [v for v in _raw_options(at, key) if v is not None]
            if not values:
                return False
            w.set_value(pick(values))
            return True

        return apply

    def raw_value(key: str, value: Any) -> Callable[[Any], bool]:
        def apply(at: Any) -> bool:
            w = _widget(at, "selectbox", key)
            if w is None or value not in _raw_options(at, key):
                return False
            w.set_value(value)
            return True

        return apply

    def dates(at: Any) -> bool:
        w = _widget(at, "date_input", "w_dates")
        if w is None:
            return False
        lo, hi = w.value
        w.set_value((hi.replace(year=hi.year - 5) if hi.year - 5 >= lo.year else lo, hi))
        return True

    def copies(at: Any) -> bool:
        w = _widget(at, "toggle", "w_unique")
        if w is None:
            return False
        w.set_value(False)
        return True

    def search(term: str, clear_hits: bool) -> Callable[[Any], bool]:
        def apply(at: Any) -> bool:
            w = _widget(at, "text_input", "w_q")
            if w is None:
                return False
            if clear_hits:
                data_mod.clear_filter_caches(search=True)
            w.input(term)
            return True

        return apply

    def clear_topic(at: Any) -> bool:
        w = _widget(at, "selectbox", "w_topic")
        if w is None:
            return False
        w.set_value(None)
        return True

    def reset(at: Any) -> bool:
        w = _widget(at, "button", "w_reset")
        if w is None:
            return False
        w.click()
        return True

    return [
        ("province = 甘肃 620000", raw_value("w_prov", "620000")),
        ("prefecture = 兰州 620100", raw_value("w_pref", "620100")),
        ("topic = judicial_enforcement", raw_value("w_topic", "judicial_enforcement")),
        ("dates = last 5 years", dates),
        ("all copies (unique off)", copies),
        ("agency type = court", raw_value("w_atype", "court")),
        ("organ = most mentioned", select("w_organ", lambda v: v[0])),
        ("outlet = largest", select("w_outlet", lambda v: v[0])),
        ("search 法院 (new term)", search("法院", True)) if new_search else ("search 法院 (hits cached)", search("法院", False)),
        ("search kept, topic cleared", clear_topic),
        ("clear all filters", reset),
    ]


def _raw_options(at: Any, key: str) -> list[Any]:
    """The selectbox's option values (not labels), read from the app's own option lists."""
    from dashboard import data

    ss = at.session_state
    ctx = ss["_ctx"] if "_ctx" in ss else None
    if ctx is None:
        return []
    opts = data.options(ctx.ds)
    if key == "w_prov":
        return list(opts.provinces)
    if key == "w_pref":
        return list(opts.prefectures.get(ctx.f.province or "", ()))
    if key == "w_topic":
        return list(opts.topics)
    if key == "w_atype":
        from pipelines.schema import AGENCY_TYPES

        return list(AGENCY_TYPES)
    if key == "w_organ":
        return [n for n, t in opts.organs if ctx.f.agency_type is None or t == ctx.f.agency_type]
    if key == "w_outlet":
        return list(opts.outlets)
    return []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pages", default=",".join(PAGES))
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per rerun")
    ap.add_argument("--search-pages", default="overview", help="pages that time a search for a new term (a full text scan); the others reuse its hits")
    ap.add_argument("--json", type=Path, default=ROOT / "bench" / "out" / "bench_dashboard.json")
    args = ap.parse_args(argv)
    pages = [p for p in args.pages.split(",") if p in PAGES]

    sys.argv = ["app.py", "--dataset", str(args.dataset)]
    import logging

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    logging.getLogger("streamlit").setLevel(logging.ERROR)

    from dashboard import data

    app = str(ROOT / "app.py")

    def timed_run(at: Any) -> float:
        t = time.perf_counter()
        at.run(timeout=args.timeout)
        dt = time.perf_counter() - t
        if at.exception or at.error:
            msgs = [e.value for e in at.exception] + [e.value for e in at.error]
            raise SystemExit(f"the app failed: {msgs[:2]}")
        return dt

    results: dict[str, Any] = {"dataset": str(args.dataset), "repeat": args.repeat, "first_page": {}, "filter_change": {}}
    n_articles = None

    # --- first page --------------------------------------------------------------------------
    at = AppTest.from_file(app, default_timeout=args.timeout)
    cold = timed_run(at)
    results["cold_first_run_incl_imports"] = cold
    n_articles = data.total(at.session_state["_ctx"].ds, data.Filters(unique=False)) if "_ctx" in at.session_state else None
    for page in ("overview", "trends"):
        times = []
        for _ in range(args.repeat):
            st.cache_data.clear()
            st.cache_resource.clear()
            at = AppTest.from_file(app, default_timeout=args.timeout)
            if page == "overview":
                times.append(timed_run(at))
            else:
                at.run(timeout=args.timeout)
                st.cache_data.clear()
                st.cache_resource.clear()
                at.switch_page(f"dashboard/pages/{page}.py")
                times.append(timed_run(at))
        results["first_page"][page] = statistics.median(times)
        print(f"first page {page}: {statistics.median(times):.3f} s", flush=True)

    # --- filter changes ----------------------------------------------------------------------
    per: dict[str, dict[str, list[float]]] = {}
    for page in pages:
        per[page] = {}
        for _ in range(args.repeat):
            at = AppTest.from_file(app, default_timeout=args.timeout)
            at.run(timeout=args.timeout)
            if page != "overview":
                at.switch_page(f"dashboard/pages/{page}.py")
                at.run(timeout=args.timeout)
            at.button(key="w_reset").click()
            at.run(timeout=args.timeout)
            for name, apply in steps(at, data, new_search=page in args.search_pages.split(",")):
                if not apply(at):
                    continue
                data.clear_filter_caches(search=False)
                per[page].setdefault(name, []).append(timed_run(at))
        results["filter_change"][page] = {k: statistics.median(v) for k, v in per[page].items()}
        print(f"filter changes on {page}: done", flush=True)

    # --- table ---------------------------------------------------------------------------------
    names = list(dict.fromkeys(k for p in pages for k in results["filter_change"][p]))
    width = max(len(n) for n in names) if names else 10
    print()
    print(f"dataset: {args.dataset} ({n_articles:,} articles)" if n_articles else f"dataset: {args.dataset}")
    print(f"medians of {args.repeat} runs, seconds, server side (AppTest full reruns, filter-dependent caches cleared)")
    print(f"cold first run incl. imports: {cold:.2f}")
    for page, v in results["first_page"].items():
        print(f"first page, empty caches, {page}: {v:.3f}")
    print()
    print(f"{'filter change':<{width}}  " + "  ".join(f"{p:>9}" for p in pages) + "      max")
    for n in names:
        vals = [results["filter_change"][p].get(n) for p in pages]
        mx = max(v for v in vals if v is not None)
        print(f"{n:<{width}}  " + "  ".join(f"{v:9.3f}" if v is not None else f"{'-':>9}" for v in vals) + f"  {mx:7.3f}")
    non_search = [results["filter_change"][p][n] for p in pages for n in results["filter_change"][p] if "new term" not in n]
    if non_search:
        print(f"\nworst non-search filter change: {max(non_search):.3f} s (target < {TARGET_1M} s at 1M, < {TARGET_10M} s at 10M)")
    results["articles"] = n_articles
    results["load_average"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
