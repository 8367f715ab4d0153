"""Every SQL query the dashboard runs: pure functions of a ``Db`` and ``Filters``.

No caching and no Streamlit here (``dashboard.data`` caches these; ``bench/bench_dashboard.py``
times them uncached). User values only ever reach DuckDB as parameters (``?``); the only text
formatted into SQL is this module's own column names and the dataset paths given on the command
line (quoted).

Sources, smallest first:

* ``coverage`` (aggregate) answers date / region / topic / outlet / site / unique filters;
* ``facts`` (aggregate ``article_facts``, one slim row per article) answers the same plus agency
  type, organ and search hits, with exact distinct-article counts;
* ``agency_articles`` (aggregate, one row per article and organ) serves the Agencies page;
* ``articles`` / ``mentions`` / ``rejects`` (the published tables) are read only for full-text
  search, article lists, one article's view, exports and the reject summary.

Search hits are a one-column Arrow table (``row``: rows of ``facts``, i.e. its ``file_row_number``),
registered as ``hits`` on the cursor. They come from the published search index
(``dashboard.search``) or, for a dataset without one and for one-character terms, from a scan.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from dashboard.filters import Filters
from dashboard.search import ParsedQuery, QueryError, SearchIndex, combine, parse_query
from pipelines.schema import AGENCY_MENTIONS, AGGREGATES, ARTICLES, REJECTS, key_of

PERIODS = ("day", "week", "month", "year")
REGION_COLUMNS = ("province_code", "prefecture_code", "county_code")
DIMENSIONS = frozenset({"topic", "agency_type", "outlet", "site", *REGION_COLUMNS})
AGG_VIEWS = {"coverage": "coverage", "agency_daily": "agency_daily", "article_facts": "facts", "agency_articles": "agency_articles"}
EXPORT_LIMIT = 100_000
PART_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.parquet$")
# columns of each aggregate, as declared; a file without them (older build) is re-derived
AGG_COLUMNS = {stem: set(agg.table.names) for stem, agg in AGGREGATES.items()}


def period_expr(period: str, col: str = "day") -> str:
    if period == "day":
        return col
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}")
    return f"CAST(date_trunc('{period}', {col}) AS DATE)"


def _quote(path: Path) -> str:
    return "'" + path.as_posix().replace("'", "''") + "'"


@dataclass
class Db:
    """A DuckDB connection with the dataset's views; ``query`` is safe to call from many threads."""

    con: duckdb.DuckDBPyConnection
    derived: tuple[str, ...] = ()  # aggregate tables computed on the fly (missing, unreadable or outdated files)
    articles_dir: Path | None = None
    mentions_dir: Path | None = None
    search: SearchIndex | None = None  # the published index, when it belongs to this snapshot
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def part_file(self, folder: Path | None, part: object) -> Path | None:
        """``folder/part`` when ``part`` is a plain Parquet file name that exists there (never a path)."""
        if folder is None or not isinstance(part, str) or not PART_RE.match(part):
            return None
        path = folder / part
        return path if path.is_file() else None

    def query(self, sql: str, params: Sequence[Any] = (), hits: pa.Table | None = None) -> pd.DataFrame:
        with self._lock:
            cur = self.con.cursor()
        try:
            if hits is not None:
                cur.register("hits", hits)
            return cur.execute(sql, list(params)).df()
        finally:
            cur.close()

    def arrow(self, sql: str, params: Sequence[Any] = (), hits: pa.Table | None = None) -> pa.Table:
        with self._lock:
            cur = self.con.cursor()
        try:
            if hits is not None:
                cur.register("hits", hits)
            return cur.sql(sql, params=list(params)).to_arrow_table()
        finally:
            cur.close()

    def close(self) -> None:
        self.con.close()


def connect(
    articles: Path, mentions: Path, rejects: Path, aggregates: Path | None, *, threads: int | None = None, materialize: bool = False, search: Path | None = None
) -> Db:
    """Open an in-memory DuckDB with views over the dataset's Parquet files.

    An aggregate whose file is missing or unreadable is derived from the articles with the same SQL
    the build uses (``pipelines.publish.aggregates``), and reported in ``Db.derived``. With
    ``materialize`` the aggregates are loaded into memory tables (faster scans, more memory).
    ``search`` is the dataset's ``search/`` folder: its index is used when it was published with
    this snapshot's article_facts (else searches scan the text).
    """
    con = duckdb.connect(":memory:")
    con.execute("SET enable_object_cache = true")  # keep Parquet footers between queries
    if threads:
        con.execute(f"SET threads TO {int(threads)}")
    for name, folder, table in (("articles", articles, ARTICLES), ("mentions", mentions, AGENCY_MENTIONS), ("rejects", rejects, REJECTS)):
        if any(folder.glob("*.parquet")):
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_quote(folder)} || '/*.parquet', union_by_name = true)")
        else:
            con.register("_empty", table.empty())
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM _empty")
            con.unregister("_empty")
    if any(articles.glob("*.parquet")):
        con.execute(f"CREATE VIEW a AS SELECT * FROM read_parquet({_quote(articles)} || '/*.parquet', union_by_name = true, filename = true, file_row_number = true)")
    else:
        con.execute("CREATE VIEW a AS SELECT *, NULL::VARCHAR AS filename, NULL::BIGINT AS file_row_number FROM articles")
    con.execute("CREATE VIEW m AS SELECT * FROM mentions")
    derived: list[str] = []
    for stem, view in AGG_VIEWS.items():
        path = aggregates / f"{stem}.parquet" if aggregates else None
        ok = False
        if path is not None and path.is_file():
            try:
                names = set(pq.read_schema(path).names)
                ok = AGG_COLUMNS[stem] <= names
            except (OSError, pa.ArrowException):
                ok = False
        if ok and path is not None:
            source = f"SELECT * FROM read_parquet({_quote(path)}, file_row_number = true)"
        else:
            derived.append(stem)
            # row numbers in the order the build writes the file (article_facts: newest first)
            order = "ORDER BY day DESC NULLS LAST, article_id" if stem == "article_facts" else ""
            source = f"SELECT *, (row_number() OVER ({order}) - 1)::BIGINT AS file_row_number FROM ({AGGREGATES[stem].select()})"
        kind = "TABLE" if materialize or not ok else "VIEW"
        con.execute(f"CREATE {kind} {view} AS {source}")
    index = None
    if search is not None and aggregates is not None and "article_facts" not in derived and search.is_dir():
        index = SearchIndex.open(search, aggregates / "article_facts.parquet")
    return Db(con, tuple(derived), articles, mentions, index)


# --- WHERE clauses --------------------------------------------------------------------------------


@dataclass
class Where:
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    @property
    def sql(self) -> str:
        return ("WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


def _base(f: Filters, w: Where) -> None:
    """Filters every source has columns for: dates, region, outlet, site, originals only."""
    if f.date_from:
        w.add("day >= ?", f.date_from)
    if f.date_to:
        w.add("day <= ?", f.date_to)
    if f.county:
        w.add("county_code = ?", f.county)
    elif f.prefecture:
        w.add("prefecture_code = ?", f.prefecture)
    elif f.province:
        w.add("province_code = ?", f.province)
    if f.outlet:
        w.add("outlet = ?", f.outlet)
    if f.site:
        w.add("site = ?", f.site)
    if f.unique:
        w.add("is_original")


def _hits_clause(f: Filters, w: Where, hits: pa.Table | None, facts: bool = True) -> None:
    """Keep the search hits (a malformed query has no hits table and filters nothing)."""
    if f.search and hits is not None:
        if facts:
            w.add("file_row_number IN (SELECT row FROM hits)")
        else:
            w.add("article_id IN (SELECT article_id FROM facts WHERE file_row_number IN (SELECT row FROM hits))")


def facts_where(f: Filters, hits: pa.Table | None) -> Where:
    w = Where()
    _base(f, w)
    if f.topic:
        w.add("contains(topic_key, ?)", key_of(f.topic))
    if f.agency_type:
        w.add("contains(agency_type_key, ?)", key_of(f.agency_type))
    if f.organ:
        w.add("contains(agency_key, ?)", key_of(f.organ))
    _hits_clause(f, w, hits)
    return w


def agency_where(f: Filters, hits: pa.Table | None) -> Where:
    w = Where()
    _base(f, w)
    if f.topic:
        w.add("contains(topic_key, ?)", key_of(f.topic))
    if f.agency_type:
        w.add("type = ?", f.agency_type)
    if f.organ:
        w.add("name = ?", f.organ)
    _hits_clause(f, w, hits, facts=False)
    return w


def _check_dims(by: Sequence[str]) -> None:
    bad = [d for d in by if d not in DIMENSIONS]
    if bad:
        raise ValueError(f"unknown dimensions {bad}")
    if "topic" in by and "agency_type" in by:
        raise ValueError("cannot group by topic and agency_type together")


# --- counts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    """The answer to a search box: the hits (None when the query is malformed) and what to tell the user."""

    hits: pa.Table | None
    notes: tuple[str, ...] = ()  # i18n keys: how the answer was found (a scan, and why)
    error: str | None = None  # i18n key of what is wrong with the query

    @property
    def n(self) -> int:
        return 0 if self.hits is None else self.hits.num_rows


def _rows_table(rows: Any) -> pa.Table:
    return pa.table({"row": pa.array(rows, pa.int64())})


def scan_rows(db: Db, term: str, title_only: bool = False) -> Any:
    """Facts rows whose title (or body) contains ``term``, by scanning every text (no index)."""
    import numpy as np

    cond = "contains(coalesce(title, ''), ?)" + ("" if title_only else " OR contains(coalesce(body, ''), ?)")
    params = [term] if title_only else [term, term]
    sql = f"SELECT file_row_number AS row FROM facts WHERE article_id IN (SELECT article_id FROM articles WHERE {cond}) ORDER BY 1"
    return np.asarray(db.arrow(sql, params).column("row").to_numpy(), dtype=np.int64)


def search_hits(db: Db, text: str, title_only: bool = False) -> SearchResult:
    """The facts rows matching the query ``text`` (see ``dashboard.search`` for the language)."""
    parsed = parse_query(text)
    if isinstance(parsed, QueryError):
        return SearchResult(None, error=parsed.key)
    if parsed is None:
        return SearchResult(None)
    return _answer(db, parsed, title_only)


def _answer(db: Db, q: ParsedQuery, title_only: bool) -> SearchResult:
    notes: list[str] = []
    if db.search is None:
        notes.append("search_note_no_index")
    elif q.short_terms:
        notes.append("search_note_short")
    rows_of = {}
    for c in q.clauses:
        for t in c.terms:
            if t not in rows_of:
                use_index = db.search is not None and len(t) >= 2
                rows_of[t] = db.search.term_rows(t, title_only) if use_index else scan_rows(db, t, title_only)  # type: ignore[union-attr]
    universe = total_facts_rows(db)
    return SearchResult(_rows_table(combine(q, rows_of, universe)), tuple(notes))


def total_facts_rows(db: Db) -> int:
    return int(db.query("SELECT count(*) AS n FROM facts").iloc[0]["n"])


def snippets(db: Db, rows: Sequence[int], text: str, title_only: bool = False) -> dict[int, str]:
    """Facts row -> a snippet around the first match of the query's terms (index text, or the articles)."""
    from dashboard.search import snippet

    parsed = parse_query(text)
    if not isinstance(parsed, ParsedQuery) or not rows:
        return {}
    terms = parsed.positive_terms
    if db.search is not None:
        texts = db.search.texts([int(r) for r in rows])
    else:
        df = db.query(
            "SELECT f.file_row_number AS row, a.title, a.body FROM articles a JOIN facts f USING (article_id) WHERE list_contains(?, f.file_row_number)",
            [[int(r) for r in rows]],
        )
        texts = {int(r): (t or "", b or "") for r, t, b in zip(df["row"], df["title"], df["body"], strict=True)}
    return {r: snippet(t, b, terms, title_only) for r, (t, b) in texts.items()}


def counts(
    db: Db, f: Filters, by: Sequence[str] = (), period: str | None = None, hits: pa.Table | None = None, *, force_facts: bool = False
) -> pd.DataFrame:
    """Articles matching ``f``, grouped by ``period`` (column ``period``) and ``by`` dimensions.

    Returns columns [period?, *by, articles]. With ``by=()`` and no period: one row (0 when none).
    Rows with a null period are dropped when grouping by period. ``force_facts`` answers from the
    article index even when coverage could (tests check that both give the same numbers).
    """
    _check_dims(by)
    use_facts = force_facts or f.uses_articles_index or "agency_type" in by
    dims = list(by)
    select = ([f"{period_expr(period)} AS period"] if period else []) + dims
    group = "GROUP BY ALL" if select else ""
    if use_facts:
        w = facts_where(f, hits)
        if period:
            w.add("day IS NOT NULL")
        # a breakdown by a list column groups by its delimited key (few distinct values) and splits
        # the keys afterwards; the filtered value alone is shown (as coverage does)
        listed = next((d for d in by if d in KEY_COLUMNS), None)
        inner = [*([f"{period_expr(period)} AS period"] if period else []), *[KEY_COLUMNS[d] if d == listed else d for d in by]]
        sql = f"SELECT {', '.join([*inner, 'count(*)::BIGINT AS articles'])} FROM facts {w.sql} {'GROUP BY ALL' if inner else ''}"
        df = db.query(sql, w.params, hits)
        if listed:
            only = f.topic if listed == "topic" else f.agency_type
            df = _explode_key(df, KEY_COLUMNS[listed], listed, only)
        if not select:
            return df if not df.empty else pd.DataFrame({"articles": [0]})
        order = [c for c in ["period", *by] if c in df.columns]
        return df[[*order, "articles"]].sort_values(order, na_position="last").reset_index(drop=True)
    w = Where()
    _base(f, w)
    if "topic" in by:
        w.add("topic <> '*'")
        if f.topic:
            w.add("topic = ?", f.topic)
    else:
        w.add("topic = ?", f.topic or "*")
    if period:
        w.add("day IS NOT NULL")
    sql = f"SELECT {', '.join([*select, 'coalesce(sum(articles), 0)::BIGINT AS articles'])} FROM coverage {w.sql} {group}"
    params = w.params
    if select:
        sql += " ORDER BY " + ", ".join(str(i + 1) for i in range(len(select)))
    df = db.query(sql, params, hits)
    if not select and df.empty:
        df = pd.DataFrame({"articles": [0]})
    return df


KEY_COLUMNS = {"topic": "topic_key", "agency_type": "agency_type_key"}


def _explode_key(df: pd.DataFrame, key_col: str, dim: str, only: str | None = None) -> pd.DataFrame:
    """Rows grouped by a '|a|b|' key column -> rows per value (counts summed), optionally one value."""
    if df.empty:
        return df.drop(columns=key_col).assign(**{dim: pd.Series([], dtype=object)})
    parts = df[key_col].fillna("").str.strip("|").str.split("|")
    out = df.drop(columns=key_col).assign(**{dim: parts}).explode(dim)
    out = out[out[dim].notna() & (out[dim] != "")]
    out[dim] = out[dim].str.replace("¦", "|", regex=False)
    if only is not None:
        out = out[out[dim] == only]
    group = [c for c in out.columns if c != "articles"]
    return out.groupby(group, as_index=False, dropna=False)["articles"].sum()


def summary(db: Db, f: Filters, hits: pa.Table | None = None) -> dict[str, Any]:
    """Headline numbers: articles, outlets, sites, first/last day, with known date, with known region."""
    if f.uses_articles_index:
        w = facts_where(f, hits)
        n, src = "count(*)", "facts"
        known_day = "count(*) FILTER (WHERE day IS NOT NULL)"
        known_region = "count(*) FILTER (WHERE province_code IS NOT NULL)"
    else:
        w = Where()
        _base(f, w)
        w.add("topic = ?", f.topic or "*")
        n, src = "sum(articles)", "coverage"
        known_day = "sum(articles) FILTER (WHERE day IS NOT NULL)"
        known_region = "sum(articles) FILTER (WHERE province_code IS NOT NULL)"
    sql = f"""
        SELECT coalesce({n}, 0)::BIGINT AS articles, count(DISTINCT outlet) AS outlets, count(DISTINCT site) AS sites,
               min(day) AS first_day, max(day) AS last_day,
               coalesce({known_day}, 0)::BIGINT AS with_date, coalesce({known_region}, 0)::BIGINT AS with_region
        FROM {src} {w.sql}
    """
    row = db.query(sql, w.params, hits).iloc[0].to_dict()
    for k in ("first_day", "last_day"):
        v = row[k]
        row[k] = None if v is None or pd.isna(v) else pd.Timestamp(v).date()
    for k in ("articles", "outlets", "sites", "with_date", "with_region"):
        row[k] = int(row[k])
    return row


def region_level(f: Filters) -> str:
    """The region column a breakdown by region uses under ``f``: one level below the filter."""
    if f.prefecture or f.county:
        return "county_code"
    if f.province:
        return "prefecture_code"
    return "province_code"


# --- agencies -------------------------------------------------------------------------------------


def agency_overview(db: Db, f: Filters, limit: int = 30, hits: pa.Table | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(most-mentioned organs, articles by agency type and level) from agency_articles.

    agency_articles has one row per (article, organ), so count(*) per organ counts articles; per
    (type, level) an article is counted once through ``first_of_type_level`` (every filter keeps or
    drops all rows of an (article, type, level) together, except the organ filter, which leaves one
    row per article anyway).
    """
    w = agency_where(f, hits)
    ranking = db.query(
        f"""SELECT name, any_value(type) AS type, any_value(level) AS level, any_value(region_code) AS region_code,
                   count(*)::BIGINT AS articles, sum(mentions)::BIGINT AS mentions
            FROM agency_articles {w.sql} GROUP BY name ORDER BY articles DESC, mentions DESC, name LIMIT ?""",
        [*w.params, int(limit)],
        hits,
    )
    counted = "count(*)" if f.organ else "count(*) FILTER (WHERE first_of_type_level)"
    tl = db.query(
        f"""SELECT type, level, {counted}::BIGINT AS articles, sum(mentions)::BIGINT AS mentions
            FROM agency_articles {w.sql} GROUP BY ALL ORDER BY articles DESC, type, level""",
        w.params,
        hits,
    )
    return ranking, tl


def agency_ranking(db: Db, f: Filters, limit: int = 30, hits: pa.Table | None = None) -> pd.DataFrame:
    return agency_overview(db, f, limit, hits)[0]


def agency_type_level(db: Db, f: Filters, hits: pa.Table | None = None) -> pd.DataFrame:
    return agency_overview(db, f, 1, hits)[1]


def organ_articles(db: Db, f: Filters, organ: str, limit: int = 50, hits: pa.Table | None = None) -> pd.DataFrame:
    """The newest articles that mention ``organ`` under ``f`` (from agency_articles alone).

    agency_articles is written ordered by (day DESC NULLS LAST, name, article_id), so within one
    organ its row number is the newest-first order.
    """
    w = agency_where(replace(f, organ=organ), hits)
    cols = "article_id, title, day, outlet, site, province_code, prefecture_code, county_code, topics, is_original"
    return db.query(f"SELECT {cols} FROM agency_articles {w.sql} ORDER BY file_row_number LIMIT ?", [*w.params, int(limit)], hits)


def agency_trend(db: Db, f: Filters, names: Sequence[str], period: str, hits: pa.Table | None = None) -> pd.DataFrame:
    w = agency_where(f, hits)
    w.add("day IS NOT NULL")
    w.add("list_contains(?, name)", list(names))
    sql = f"""
        SELECT {period_expr(period)} AS period, name, count(*)::BIGINT AS articles
        FROM agency_articles {w.sql} GROUP BY ALL ORDER BY 1, 2
    """
    return db.query(sql, w.params, hits)


def organ_info(db: Db, name: str) -> dict[str, Any] | None:
    """One organ's totals over the whole dataset and the surface forms it was written as."""
    df = db.query(
        """SELECT name, any_value(type) AS type, any_value(level) AS level, any_value(region_code) AS region_code,
                  count(*)::BIGINT AS articles, sum(mentions)::BIGINT AS mentions,
                  list_sort(list_distinct(flatten(list(surfaces)))) AS surfaces
           FROM agency_articles WHERE name = ? GROUP BY name""",
        [name],
    )
    if df.empty:
        return None
    row = df.iloc[0].to_dict()
    row["articles"] = int(row["articles"])
    row["mentions"] = int(row["mentions"])
    row["surfaces"] = [str(x) for x in list(row["surfaces"] if row["surfaces"] is not None else [])[:50]]
    return row


# --- article lists --------------------------------------------------------------------------------

SORTS = {
    # the facts file is written in this order (day DESC NULLS LAST, article_id), so its row number
    # sorts the same way and needs no second scan
    "newest": "file_row_number",
    "oldest": "day ASC NULLS LAST, article_id",
    "outlet": "outlet ASC NULLS LAST, day DESC NULLS LAST, article_id",
    "title": "title ASC NULLS LAST, article_id",
}
LIST_COLUMNS = (
    "row", "article_id", "title", "day", "outlet", "site", "province_code", "prefecture_code", "county_code",
    "topics", "agency_names", "is_original",
)  # fmt: skip


def article_page(db: Db, f: Filters, sort: str = "newest", limit: int = 100, offset: int = 0, hits: pa.Table | None = None) -> pd.DataFrame:
    """One page of the filtered article list (from the facts index only; titles cut to 300 chars)."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    w = facts_where(f, hits)
    # two phases: sort only the keys, then read the display columns of the page's rows by row number
    # (the index is sorted by day, so a page's rows are close together and the range prunes row groups)
    keys = db.query(f"SELECT file_row_number FROM facts {w.sql} ORDER BY {SORTS[sort]} LIMIT ? OFFSET ?", [*w.params, int(limit), int(offset)], hits)
    rows = [int(x) for x in keys["file_row_number"].tolist()]
    if not rows:
        return pd.DataFrame({c: [] for c in LIST_COLUMNS})
    cols = ", ".join(c for c in LIST_COLUMNS if c != "row")
    df = db.query(
        f"SELECT file_row_number, file_row_number AS row, {cols} FROM facts WHERE file_row_number BETWEEN ? AND ? AND list_contains(?, file_row_number)",
        [min(rows), max(rows), rows],
    )
    order = {r: i for i, r in enumerate(rows)}
    df = df.assign(_o=df["file_row_number"].map(order)).sort_values("_o")
    return df[list(LIST_COLUMNS)].reset_index(drop=True)


def article(db: Db, article_id: str) -> dict[str, Any] | None:
    """The full row of one article: read from its own part file when the facts index knows it."""
    loc = db.query("SELECT part, part_row FROM facts WHERE article_id = ? LIMIT 1", [article_id])
    if loc.empty:
        return None
    path = db.part_file(db.articles_dir, loc.iloc[0]["part"])
    if path is not None:
        df = db.query("SELECT * FROM read_parquet(?) WHERE article_id = ? LIMIT 1", [path.as_posix(), article_id])
        if not df.empty:
            return df.iloc[0].to_dict()
    df = db.query("SELECT * FROM articles WHERE article_id = ? LIMIT 1", [article_id])
    return None if df.empty else df.iloc[0].to_dict()


def article_mentions(db: Db, article_id: str) -> pd.DataFrame:
    cols = 'name, type, level, region_code, surface, "offset"'
    loc = db.query("SELECT part FROM facts WHERE article_id = ? LIMIT 1", [article_id])
    path = db.part_file(db.mentions_dir, loc.iloc[0]["part"]) if not loc.empty else None
    if path is not None:
        return db.query(f'SELECT {cols} FROM read_parquet(?) WHERE article_id = ? ORDER BY "offset"', [path.as_posix(), article_id])
    return db.query(f'SELECT {cols} FROM mentions WHERE article_id = ? ORDER BY "offset"', [article_id])


def article_exists(db: Db, article_id: str) -> bool:
    return not db.query("SELECT 1 FROM facts WHERE article_id = ? LIMIT 1", [article_id]).empty


# --- data quality ---------------------------------------------------------------------------------


def rejects_by_reason(db: Db) -> pd.DataFrame:
    return db.query("SELECT reason, count(*)::BIGINT AS n, coalesce(sum(size_bytes), 0)::BIGINT AS bytes FROM rejects GROUP BY reason ORDER BY n DESC, reason")


def quality_summary(db: Db, f: Filters, hits: pa.Table | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(articles without date/region per outlet, articles per quality flag) in one scan of facts."""
    w = facts_where(f, hits)
    sql = f"""
        WITH sel AS MATERIALIZED (
          SELECT outlet, day IS NULL AS no_day, province_code IS NULL AS no_region, flag_key FROM facts {w.sql}
        )
        SELECT 'outlet' AS kind, outlet AS key, count(*)::BIGINT AS articles,
               count(*) FILTER (WHERE no_day)::BIGINT AS no_date, count(*) FILTER (WHERE no_region)::BIGINT AS no_region
        FROM sel GROUP BY outlet
        UNION ALL
        SELECT 'flag', flag_key, count(*)::BIGINT, NULL, NULL FROM sel GROUP BY flag_key
    """
    df = db.query(sql, w.params, hits)
    miss = df[df["kind"] == "outlet"].rename(columns={"key": "outlet"})[["outlet", "articles", "no_date", "no_region"]]
    miss = miss.assign(no_date=miss["no_date"].astype("int64"), no_region=miss["no_region"].astype("int64"))
    miss = miss.sort_values(["articles", "outlet"], ascending=[False, True], na_position="last").reset_index(drop=True)
    flags = _explode_key(df[df["kind"] == "flag"][["key", "articles"]], "key", "flag")
    flags = flags.sort_values(["articles", "flag"], ascending=[False, True]).reset_index(drop=True)
    return miss, flags


def missing_by_outlet(db: Db, f: Filters, hits: pa.Table | None = None) -> pd.DataFrame:
    return quality_summary(db, f, hits)[0]


def flag_counts(db: Db, f: Filters, hits: pa.Table | None = None) -> pd.DataFrame:
    return quality_summary(db, f, hits)[1]


# --- options for the filter widgets ---------------------------------------------------------------


def region_triples(db: Db) -> pd.DataFrame:
    return db.query("SELECT province_code, prefecture_code, county_code, count(*)::BIGINT AS n FROM facts GROUP BY ALL")


def region_names(db: Db, codes: Sequence[str] | None = None) -> pd.DataFrame:
    """(code, name) pairs as written in the articles, optionally only rows touching ``codes``."""
    sql = "SELECT DISTINCT province_code, province, prefecture_code, prefecture, county_code, county FROM articles WHERE province_code IS NOT NULL"
    if codes is None:
        return db.query(sql)
    c = list(codes)
    return db.query(sql + " AND (list_contains(?, province_code) OR list_contains(?, prefecture_code) OR list_contains(?, county_code))", [c, c, c])


def value_counts(db: Db, column: str) -> pd.DataFrame:
    if column not in ("outlet", "site"):
        raise ValueError(column)
    return db.query(f"SELECT {column} AS value, count(*)::BIGINT AS n FROM facts WHERE {column} IS NOT NULL GROUP BY 1 ORDER BY n DESC, value")


def organs(db: Db) -> pd.DataFrame:
    return db.query("SELECT name, any_value(type) AS type, count(*)::BIGINT AS n FROM agency_articles GROUP BY name ORDER BY n DESC, name")


def topics_present(db: Db) -> list[str]:
    return [str(x) for x in db.query("SELECT DISTINCT topic FROM coverage WHERE topic <> '*' ORDER BY 1")["topic"].tolist()]


def day_bounds(db: Db) -> tuple[dt.date | None, dt.date | None]:
    row = db.query("SELECT min(day) AS lo, max(day) AS hi FROM facts").iloc[0]
    lo = None if pd.isna(row["lo"]) else pd.Timestamp(row["lo"]).date()
    hi = None if pd.isna(row["hi"]) else pd.Timestamp(row["hi"]).date()
    return lo, hi


def total_articles(db: Db) -> int:
    return int(db.query("SELECT count(*) AS n FROM facts").iloc[0]["n"])


# --- export ---------------------------------------------------------------------------------------


def export_table(db: Db, f: Filters, hits: pa.Table | None = None, limit: int = EXPORT_LIMIT) -> pa.Table:
    """The filtered articles (all columns), newest first, at most ``limit`` rows."""
    w = facts_where(f, hits)
    sql = f"""
        SELECT ar.* FROM articles ar
        JOIN (SELECT article_id, day FROM facts {w.sql} ORDER BY day DESC NULLS LAST, article_id LIMIT ?) sel USING (article_id)
        ORDER BY sel.day DESC NULLS LAST, ar.article_id
    """
    return db.arrow(sql, [*w.params, int(limit)], hits)


def to_parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def to_csv_bytes(table: pa.Table) -> bytes:
    """CSV with nested columns as JSON text and times in ISO 8601 (UTF-8 with BOM for spreadsheets)."""
    df = table.to_pandas()
    for name in table.column_names:
        typ = table.schema.field(name).type
        if pa.types.is_list(typ) or pa.types.is_struct(typ):
            df[name] = [None if v is None else json.dumps(_plain(v), ensure_ascii=False) for v in table.column(name).to_pylist()]
        elif pa.types.is_timestamp(typ):
            df[name] = [None if v is None else v.isoformat() for v in table.column(name).to_pylist()]
        if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_list(typ) or pa.types.is_struct(typ):
            df[name] = [_defuse_formula(v) for v in df[name]]
    return ("\ufeff" + df.to_csv(index=False)).encode("utf-8")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defuse_formula(value: object) -> object:
    """Scraped text opened in a spreadsheet must not run as a formula: prefix such cells with '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, float) and v != v:
        return None
    return v
