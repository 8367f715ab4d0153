"""Build-time aggregate tables, so dashboard queries touch small data.

coverage: one row per (day, region, topic, outlet, site, duplicate?) with an article count; topic
'*' counts all articles (the denominator for shares). agency_daily: one row per (day, agency,
region of the article, duplicate?) with article and mention counts.
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def build_aggregates(snapshot: Path) -> None:
    out = snapshot / "aggregates"
    out.mkdir(parents=True, exist_ok=True)
    art = (snapshot / "articles").as_posix() + "/*.parquet"
    men = (snapshot / "agency_mentions").as_posix() + "/*.parquet"
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute(f"CREATE VIEW a AS SELECT * FROM read_parquet('{art}')")
    con.execute(
        f"""
        COPY (
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
        ) TO '{(out / "coverage.parquet").as_posix()}' (FORMAT PARQUET, COMPRESSION ZSTD)
        """
    )
    con.execute(
        f"""
        COPY (
          SELECT CAST(timezone('Asia/Shanghai', a.published_at) AS DATE) AS day,
                 m.name, m.type, m.level, m.region_code,
                 a.province_code, a.prefecture_code, a.county_code,
                 a.duplicate_of IS NULL AS is_original,
                 count(DISTINCT m.article_id)::INTEGER AS articles, count(*)::INTEGER AS mentions
          FROM read_parquet('{men}') m JOIN a USING (article_id)
          GROUP BY ALL
          ORDER BY day, m.name
        ) TO '{(out / "agency_daily.parquet").as_posix()}' (FORMAT PARQUET, COMPRESSION ZSTD)
        """
    )
    con.close()
