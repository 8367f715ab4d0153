"""Build-time aggregate tables, so dashboard queries touch small data.

coverage: one row per (day, region, topic, outlet, site, duplicate?) with an article count; topic
'*' counts all articles (the denominator for shares). agency_daily: one row per (day, agency,
region of the article, duplicate?) with article and mention counts.

Two article-level indexes serve the dashboard's filters that coverage cannot answer (agency type,
organ, full-text search hits) with exact distinct-article counts, and its article lists:
article_facts, one slim row per article (day, region codes, outlet, site, original?, topics,
quality flags, the distinct agency names and types it mentions, the title cut to 300 characters,
and where the row is: ``part`` = file name under articles/ and agency_mentions/, ``part_row`` = row
number in that file), and agency_articles, one row per (article, agency) with the mention count,
the surface forms it was written as, the article's dimensions and title (so an organ's article list
needs no other table), and ``first_of_type_level``, true on one row per (article, agency type,
level), so articles per type and level are counted without DISTINCT. List columns are repeated as
delimited ``*_key`` strings (see ``key``) for fast filtering. Both are sorted newest first so date filters skip row groups.

Each table's SELECT reads two views, ``a`` (articles, with DuckDB's ``filename`` and
``file_row_number`` columns) and ``m`` (agency_mentions); the dashboard reuses the same SQL to derive
a missing aggregate on the fly from an older dataset.

Each table is declared in ``pipelines/schema.py`` beside its SELECT. DuckDB writes it (``COPY``,
streaming, within a memory budget: the tables are never held in memory here) from
``Aggregate.select()``, the declared columns in the declared order cast to the declared types, and
the written file's footer is then checked against the declaration (``check_parquet``), so a SELECT
that drifts from its declaration fails the build naming the table and the column.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb

from pipelines.engine import fresh_processes, serve_jobs
from pipelines.schema import AGGREGATES, Aggregate
from pipelines.store import check_parquet

# DuckDB's memory budgets for one aggregate table, tried in turn (None: DuckDB's default, 80% of RAM)
AGGREGATE_MEMORY: tuple[str | None, ...] = ("512MB", "1GB", "2GB", "4GB", None)


ISOLATE_ABOVE_ARTICLES = 100_000  # past this, the aggregates are written by a fresh process
# Aggregates whose two-thread attempt within 512 MB fails at scale (measured at 1M articles: coverage
# after 8 s, agency_articles after 50 s of a 200 s publish; both fit at 100k): from ONE_THREAD_FROM
# articles on they start with one thread instead of paying for the failed attempt first.
ONE_THREAD_FIRST = frozenset({"coverage", "agency_articles"})
ONE_THREAD_FROM = 500_000


def write_aggregates(snapshot: Path, articles: int) -> None:
    """``build_aggregates``, in a fresh process for a big snapshot: DuckDB's budget then comes on top of
    an interpreter's ~150 MB, not on top of the publishing process's resident set (~0.5 KB an article
    of the build's own state: 1.1 GB in all at 1M articles, 0.76 GB in a fresh process)."""
    if articles <= ISOLATE_ABOVE_ARTICLES:
        build_aggregates(snapshot, articles)
        return
    fresh_processes("pipelines.publish.aggregates", [[str(snapshot), articles]], 1)


def build_aggregates(snapshot: Path | str, articles: int = 0) -> None:
    """Write the aggregate tables of ``snapshot``, within as small a DuckDB memory budget as works.

    The sorts of article_facts and agency_articles hold every row (3.7 GB at 1M articles without a
    cap). Capped, DuckDB spills sorts and joins to disk, but not every operator can spill; so a
    budget that proves too small is doubled and the table written again, rather than failing a build.
    """
    snapshot = Path(snapshot)
    out = snapshot / "aggregates"
    out.mkdir(parents=True, exist_ok=True)
    # each budget with two threads, then with one: two threads' hash tables need twice the memory
    # (coverage at 1M articles, 4.5M groups: 512 MB fails with two threads and works with one, 15 s)
    attempts = [(limit, threads) for limit in AGGREGATE_MEMORY for threads in (2, 1)]
    for stem, agg in AGGREGATES.items():
        tried = attempts[1:] if stem in ONE_THREAD_FIRST and articles >= ONE_THREAD_FROM else attempts
        for i, (limit, threads) in enumerate(tried):
            try:
                _write_aggregate(snapshot, agg, limit, threads)
                break
            except duckdb.OutOfMemoryException:
                if i == len(tried) - 1:
                    raise
                what = "one thread" if threads == 2 else "more memory"
                print(f"aggregates: {stem} needs more than {limit} of memory with {threads} thread(s); retrying with {what}", file=sys.stderr)
        check_parquet(agg.table, out / f"{stem}.parquet")


def _write_aggregate(snapshot: Path, agg: Aggregate, memory_limit: str | None, threads: int = 2) -> None:
    art = (snapshot / "articles").as_posix() + "/*.parquet"
    men = (snapshot / "agency_mentions").as_posix() + "/*.parquet"
    spill = snapshot / ".duckdb-spill"
    con = duckdb.connect()
    try:
        con.execute(f"SET threads TO {int(threads)}")
        con.execute("SET preserve_insertion_order = true")
        con.execute("SET enable_progress_bar = false")
        if memory_limit is not None:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{spill.as_posix()}'")
        con.execute(f"CREATE VIEW a AS SELECT * FROM read_parquet('{art}', filename = true, file_row_number = true)")
        con.execute(f"CREATE VIEW m AS SELECT * FROM read_parquet('{men}')")
        target = (snapshot / "aggregates" / f"{agg.table.name}.parquet").as_posix()
        con.execute(f"COPY ({agg.select()}) TO '{target}' (FORMAT PARQUET, COMPRESSION ZSTD, ROW_GROUP_SIZE 122880)")
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


if __name__ == "__main__":  # a fresh process of write_aggregates
    serve_jobs(build_aggregates)
