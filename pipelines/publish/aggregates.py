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
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb

# DuckDB's memory budgets for one aggregate table, tried in turn (None: DuckDB's default, 80% of RAM)
AGGREGATE_MEMORY: tuple[str | None, ...] = ("512MB", "1GB", "2GB", "4GB", None)


def key(list_sql: str) -> str:
    """SQL for a list as one delimited string, '|a|b|' (sorted; '|' inside values becomes '¦').

    Filtering ``contains(topic_key, '|courts|')`` is ~10x faster than ``list_contains(topics, ...)``
    on Parquet (a plain, mostly dictionary-encoded string instead of a nested list).
    """
    return f"('|' || array_to_string(list_sort(list_transform({list_sql}, lambda v: replace(v, '|', '¦'))), '|') || '|')"


def key_of(value: str) -> str:
    """The search string matching ``value`` in a ``key`` column."""
    return "|" + value.replace("|", "¦") + "|"


COVERAGE_SQL = """
WITH base AS (
  SELECT CAST(timezone('Asia/Shanghai', published_at) AS DATE) AS day,
         province_code, prefecture_code, county_code, scope,
         outlet, site, duplicate_of IS NULL AS is_original, topics
  FROM a
)
SELECT day, province_code, prefecture_code, county_code, scope, outlet, site, is_original,
       '*' AS topic, count(*)::INTEGER AS articles
FROM base GROUP BY ALL
UNION ALL
SELECT day, province_code, prefecture_code, county_code, scope, outlet, site, is_original,
       topic, count(*)::INTEGER AS articles
FROM (SELECT *, unnest(topics) AS topic FROM base)
GROUP BY day, province_code, prefecture_code, county_code, scope, outlet, site, is_original, topic
ORDER BY day, province_code, prefecture_code, county_code, topic
"""

AGENCY_DAILY_SQL = """
SELECT CAST(timezone('Asia/Shanghai', a.published_at) AS DATE) AS day,
       m.name, m.type, m.level, m.region_code,
       a.province_code, a.prefecture_code, a.county_code,
       a.duplicate_of IS NULL AS is_original,
       count(DISTINCT m.article_id)::INTEGER AS articles, count(*)::INTEGER AS mentions
FROM m JOIN a USING (article_id)
GROUP BY ALL
ORDER BY day, m.name
"""

AGENCY_ARTICLES_SQL = f"""
WITH per AS (
  SELECT article_id, name, any_value(type) AS type, any_value(level) AS level,
         any_value(region_code) AS region_code, count(*)::INTEGER AS mentions,
         list_sort(list_distinct(list(surface))) AS surfaces
  FROM m GROUP BY article_id, name
)
SELECT per.article_id, CAST(timezone('Asia/Shanghai', a.published_at) AS DATE) AS day,
       per.name, per.type, per.level, per.region_code, per.mentions, per.surfaces,
       row_number() OVER (PARTITION BY per.article_id, per.type, per.level ORDER BY per.name) = 1 AS first_of_type_level,
       a.province_code, a.prefecture_code, a.county_code, a.outlet, a.site,
       a.duplicate_of IS NULL AS is_original, coalesce(a.topics, []) AS topics, left(a.title, 300) AS title,
       {key('coalesce(a.topics, [])')} AS topic_key
FROM per JOIN a USING (article_id)
ORDER BY day DESC NULLS LAST, per.name, per.article_id
"""

ARTICLE_FACTS_SQL = f"""
WITH ag AS (
  SELECT article_id, list_sort(list_distinct(list(name))) AS agency_names,
         list_sort(list_distinct(list(type))) AS agency_types
  FROM m GROUP BY article_id
)
SELECT a.article_id, CAST(timezone('Asia/Shanghai', a.published_at) AS DATE) AS day,
       a.province_code, a.prefecture_code, a.county_code, a.outlet, a.site,
       a.duplicate_of IS NULL AS is_original,
       coalesce(a.topics, []) AS topics, coalesce(a.quality_flags, []) AS quality_flags,
       coalesce(ag.agency_types, []) AS agency_types, coalesce(ag.agency_names, []) AS agency_names,
       left(a.title, 300) AS title,
       parse_filename(a.filename) AS part, a.file_row_number AS part_row,
       {key('coalesce(a.topics, [])')} AS topic_key, {key('coalesce(a.quality_flags, [])')} AS flag_key,
       {key('coalesce(ag.agency_types, [])')} AS agency_type_key, {key('coalesce(ag.agency_names, [])')} AS agency_key
FROM a LEFT JOIN ag USING (article_id)
ORDER BY day DESC NULLS LAST, a.article_id
"""

# file stem -> SELECT over the views ``a`` and ``m``
AGGREGATES: dict[str, str] = {
    "coverage": COVERAGE_SQL,
    "agency_daily": AGENCY_DAILY_SQL,
    "article_facts": ARTICLE_FACTS_SQL,
    "agency_articles": AGENCY_ARTICLES_SQL,
}


def build_aggregates(snapshot: Path) -> None:
    """Write the aggregate tables of ``snapshot``, within as small a DuckDB memory budget as works.

    The sorts of article_facts and agency_articles hold every row (3.7 GB at 1M articles without a
    cap). Capped, DuckDB spills sorts and joins to disk, but not every operator can spill; so a
    budget that proves too small is doubled and the table written again, rather than failing a build.
    """
    out = snapshot / "aggregates"
    out.mkdir(parents=True, exist_ok=True)
    # each budget with two threads, then with one: two threads' hash tables need twice the memory
    # (coverage at 1M articles, 4.5M groups: 512 MB fails with two threads and works with one, 15 s)
    attempts = [(limit, threads) for limit in AGGREGATE_MEMORY for threads in (2, 1)]
    for stem, sql in AGGREGATES.items():
        for i, (limit, threads) in enumerate(attempts):
            try:
                _write_aggregate(snapshot, stem, sql, limit, threads)
                break
            except duckdb.OutOfMemoryException:
                if i == len(attempts) - 1:
                    raise
                what = "one thread" if threads == 2 else "more memory"
                print(f"aggregates: {stem} needs more than {limit} of memory with {threads} thread(s); retrying with {what}", file=sys.stderr)


def _write_aggregate(snapshot: Path, stem: str, sql: str, memory_limit: str | None, threads: int = 2) -> None:
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
        target = (snapshot / "aggregates" / f"{stem}.parquet").as_posix()
        con.execute(f"COPY ({sql}) TO '{target}' (FORMAT PARQUET, COMPRESSION ZSTD, ROW_GROUP_SIZE 122880)")
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
