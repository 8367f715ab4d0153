"""Data access for the pages: dataset checks, one cached DuckDB connection, cached queries.

``open_dataset(root)`` returns a ``Dataset`` or a ``Problem`` (missing, not a dataset, empty,
broken) that the app turns into a page with the command that fixes it. Every query function here
is a cached wrapper of ``dashboard.queries``; the cache key includes ``Dataset.key``, which changes
when a build swaps in a new snapshot, so a rebuild is picked up on the next rerun.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import streamlit as st

from dashboard import queries as Q
from dashboard.filters import FilterOptions, Filters
from dashboard.labels import Regions, load_topics
from pipelines.schema import ARTICLES

ProblemKind = Literal["missing", "not_dataset", "empty", "broken"]
REQUIRED_FOLDERS = ("articles", "rejects", "agency_mentions")
# articles columns the dashboard reads (a dataset written by an older schema lacks some); checked
# against the schema at import, so a column renamed there fails here at once
REQUIRED_COLUMNS = ARTICLES.subset(
    "article_id", "title", "body", "published_at", "outlet", "site", "url", "duplicate_of", "quality_flags",
    "province_code", "prefecture_code", "county_code", "province", "prefecture", "county",
    "region_evidence", "agencies", "topics", "topic_evidence",
)  # fmt: skip
DATA_ERRORS = (duckdb.Error, OSError, pa.ArrowException, ValueError)


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    root: Path
    detail: str = ""


@dataclass
class Dataset:
    root: Path
    key: str
    db: Q.Db
    manifest: dict[str, Any] = field(default_factory=dict)


def _parquet_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.parquet") if p.is_file())


def dataset_key(root: Path) -> str:
    """Changes whenever the published files change (a build swaps ``current``)."""
    parts = []
    for name in (*REQUIRED_FOLDERS, "aggregates", "search"):
        folder = root / name
        parts.append(f"{name}={os.path.realpath(folder)}")
        if folder.is_dir():
            for p in _parquet_files(folder):
                st_ = p.stat()
                parts.append(f"{p.name}:{st_.st_size}:{st_.st_mtime_ns}")
    man = root / "manifest.json"
    if man.is_file():
        parts.append(f"manifest:{man.stat().st_mtime_ns}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def check_dataset(root: Path) -> Problem | None:
    """What is wrong with the dataset folder, or None when it can be shown."""
    if not root.exists():
        return Problem("missing", root)
    if not root.is_dir():
        return Problem("not_dataset", root, "not a folder")
    missing = [n for n in REQUIRED_FOLDERS if not (root / n).is_dir()]
    if missing:
        if len(missing) == len(REQUIRED_FOLDERS) and not (root / ".store").exists():
            return Problem("not_dataset", root, ", ".join(f"{n}/" for n in missing))
        return Problem("broken", root, "missing folders: " + ", ".join(f"{n}/" for n in missing))
    files = _parquet_files(root / "articles")
    if not files:
        return Problem("empty", root, "articles/ has no Parquet files")
    rows = 0
    for folder in REQUIRED_FOLDERS:
        for p in _parquet_files(root / folder):
            try:
                meta = pq.read_metadata(p)
            except (OSError, pa.ArrowException) as exc:
                return Problem("broken", root, f"{folder}/{p.name}: {type(exc).__name__}: {str(exc)[:300]}")
            if folder == "articles":
                rows += meta.num_rows
                names = set(meta.schema.to_arrow_schema().names)
                lacking = [c for c in REQUIRED_COLUMNS if c not in names]
                if lacking:
                    return Problem("broken", root, f"articles/{p.name} lacks columns {', '.join(lacking)} (written by another pipeline version)")
    if rows == 0:
        return Problem("empty", root, "0 articles")
    return None


def reject_summary(root: Path) -> list[tuple[str, int]]:
    """(reason, count) of the rejects, read directly (for the empty-dataset page); [] when unreadable."""
    counts: dict[str, int] = {}
    try:
        for p in _parquet_files(root / "rejects"):
            for r in pq.read_table(p, columns=["reason"]).column("reason").to_pylist():
                counts[str(r)] = counts.get(str(r), 0) + 1
    except (OSError, pa.ArrowException, KeyError):
        return []
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _read_manifest(root: Path) -> dict[str, Any]:
    try:
        data = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@st.cache_resource(show_spinner=False, max_entries=4)
def _connect(root: str, key: str) -> Q.Db:
    r = Path(root)
    agg = r / "aggregates"
    return Q.connect(r / "articles", r / "agency_mentions", r / "rejects", agg if agg.is_dir() else None, search=r / "search")


@st.cache_data(show_spinner=False, max_entries=8)
def _check(root: str, key: str) -> Problem | None:
    return check_dataset(Path(root))


def open_dataset(root: Path) -> Dataset | Problem:
    """The dataset at ``root``, or the problem that stops it from being shown."""
    root = root.expanduser()
    try:
        if not root.exists() or not root.is_dir():
            return check_dataset(root) or Problem("missing", root)
        key = dataset_key(root)
        problem = _check(str(root.resolve()), key)
        if problem is not None:
            return Problem(problem.kind, root, problem.detail)
        db = _connect(str(root.resolve()), key)
        # a quick probe: reading the facts and articles views catches corrupt data pages early
        db.query("SELECT count(*) FROM facts")
    except DATA_ERRORS as exc:
        return Problem("broken", root, f"{type(exc).__name__}: {str(exc)[:500]}")
    return Dataset(root, key, db, _read_manifest(root))


# --- cached queries -------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False, max_entries=16)
def _hits(_ds: Dataset, key: str, search: str, title_only: bool) -> Q.SearchResult:
    return Q.search_hits(_ds.db, search, title_only)


def search_result(ds: Dataset, f: Filters) -> Q.SearchResult | None:
    """The search box's answer: hits, notes (scan, no index) or the query's error; None without a query."""
    return _hits(ds, ds.key, f.search, f.title_only) if f.search else None


def hits(ds: Dataset, f: Filters) -> pa.Table | None:
    res = search_result(ds, f)
    return None if res is None else res.hits


def has_index(ds: Dataset) -> bool:
    return ds.db.search is not None


@st.cache_data(show_spinner=False, max_entries=64)
def _snippets(_ds: Dataset, key: str, rows: tuple[int, ...], search: str, title_only: bool) -> dict[int, str]:
    return Q.snippets(_ds.db, rows, search, title_only)


def snippets(ds: Dataset, rows: Sequence[int], f: Filters) -> dict[int, str]:
    """Facts row -> snippet with the first match of the search (plain text, match between ⟦ ⟧)."""
    return _snippets(ds, ds.key, tuple(int(r) for r in rows), f.search, f.title_only) if f.search else {}


@st.cache_data(show_spinner=False, max_entries=512)
def _counts(_ds: Dataset, key: str, f: Filters, by: tuple[str, ...], period: str | None) -> pd.DataFrame:
    return Q.counts(_ds.db, f, by, period, hits(_ds, f))


def counts(ds: Dataset, f: Filters, by: Sequence[str] = (), period: str | None = None) -> pd.DataFrame:
    return _counts(ds, ds.key, f, tuple(by), period)


def total(ds: Dataset, f: Filters) -> int:
    return int(counts(ds, f)["articles"].iloc[0])


@st.cache_data(show_spinner=False, max_entries=128)
def _summary(_ds: Dataset, key: str, f: Filters) -> dict[str, Any]:
    return Q.summary(_ds.db, f, hits(_ds, f))


def summary(ds: Dataset, f: Filters) -> dict[str, Any]:
    return _summary(ds, ds.key, f)


@st.cache_data(show_spinner=False, max_entries=8)
def _dataset_summary(_ds: Dataset, key: str) -> tuple[dict[str, Any], int]:
    return Q.summary(_ds.db, Filters(unique=False)), int(Q.counts(_ds.db, Filters())["articles"].iloc[0])


def dataset_summary(ds: Dataset) -> tuple[dict[str, Any], int]:
    """(headline numbers of all rows, number of unique stories): the whole dataset, no filters."""
    return _dataset_summary(ds, ds.key)


@st.cache_data(show_spinner=False, max_entries=128)
def _agency_overview(_ds: Dataset, key: str, f: Filters, limit: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    return Q.agency_overview(_ds.db, f, limit, hits(_ds, f))


def agency_overview(ds: Dataset, f: Filters, limit: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(most-mentioned organs, articles by agency type and level)."""
    return _agency_overview(ds, ds.key, f, limit)


@st.cache_data(show_spinner=False, max_entries=128)
def _organ_articles(_ds: Dataset, key: str, f: Filters, organ: str, limit: int) -> pd.DataFrame:
    return Q.organ_articles(_ds.db, f, organ, limit, hits(_ds, f))


def organ_articles(ds: Dataset, f: Filters, organ: str, limit: int = 50) -> pd.DataFrame:
    return _organ_articles(ds, ds.key, f, organ, limit)


@st.cache_data(show_spinner=False, max_entries=128)
def _agency_trend(_ds: Dataset, key: str, f: Filters, names: tuple[str, ...], period: str) -> pd.DataFrame:
    return Q.agency_trend(_ds.db, f, names, period, hits(_ds, f))


def agency_trend(ds: Dataset, f: Filters, names: Sequence[str], period: str) -> pd.DataFrame:
    return _agency_trend(ds, ds.key, f, tuple(names), period)


@st.cache_data(show_spinner=False, max_entries=64)
def _organ_info(_ds: Dataset, key: str, name: str) -> dict[str, Any] | None:
    return Q.organ_info(_ds.db, name)


def organ_info(ds: Dataset, name: str) -> dict[str, Any] | None:
    return _organ_info(ds, ds.key, name)


@st.cache_data(show_spinner=False, max_entries=128)
def _article_page(_ds: Dataset, key: str, f: Filters, sort: str, limit: int, offset: int) -> pd.DataFrame:
    return Q.article_page(_ds.db, f, sort, limit, offset, hits(_ds, f))


def article_page(ds: Dataset, f: Filters, sort: str, limit: int, offset: int) -> pd.DataFrame:
    return _article_page(ds, ds.key, f, sort, limit, offset)


@st.cache_data(show_spinner=False, max_entries=32)
def _article(_ds: Dataset, key: str, article_id: str) -> tuple[dict[str, Any] | None, pd.DataFrame]:
    return Q.article(_ds.db, article_id), Q.article_mentions(_ds.db, article_id)


def article(ds: Dataset, article_id: str) -> tuple[dict[str, Any] | None, pd.DataFrame]:
    return _article(ds, ds.key, article_id)


@st.cache_data(show_spinner=False, max_entries=8)
def _rejects(_ds: Dataset, key: str) -> pd.DataFrame:
    return Q.rejects_by_reason(_ds.db)


def rejects_by_reason(ds: Dataset) -> pd.DataFrame:
    return _rejects(ds, ds.key)


@st.cache_data(show_spinner=False, max_entries=64)
def _quality(_ds: Dataset, key: str, f: Filters) -> tuple[pd.DataFrame, pd.DataFrame]:
    return Q.quality_summary(_ds.db, f, hits(_ds, f))


def quality_summary(ds: Dataset, f: Filters) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(articles without date or region per outlet, articles per quality flag)."""
    return _quality(ds, ds.key, f)


def export_bytes(ds: Dataset, f: Filters, fmt: Literal["csv", "parquet"]) -> bytes:
    """Not cached: runs only when a download button is clicked (deferred data)."""
    table = Q.export_table(ds.db, f, hits(ds, f))
    return Q.to_csv_bytes(table) if fmt == "csv" else Q.to_parquet_bytes(table)


# --- labels and filter options ---------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def topic_labels() -> dict[str, tuple[str, str]]:
    return load_topics()


@st.cache_resource(show_spinner=False, max_entries=4)
def _regions(_ds: Dataset, key: str) -> Regions:
    """The gazetteer's names; the articles are read only for codes the gazetteer lacks."""
    regions = Regions.load()
    tri = Q.region_triples(_ds.db)
    codes = {str(c) for col in ("province_code", "prefecture_code", "county_code") for c in tri[col].dropna().tolist()}
    missing = sorted(c for c in codes if c not in regions.by_code)
    if missing:
        names = Q.region_names(_ds.db, missing)
        for code_col, name_col in (("province_code", "province"), ("prefecture_code", "prefecture"), ("county_code", "county")):
            regions.add_names(zip(names[code_col].tolist(), names[name_col].tolist(), strict=True))
    return regions


def regions(ds: Dataset) -> Regions:
    return _regions(ds, ds.key)


@dataclass(frozen=True)
class Options:
    """Filter choices (most frequent first) and the validation sets derived from them."""

    valid: FilterOptions
    provinces: tuple[str, ...]
    prefectures: dict[str, tuple[str, ...]]  # province -> its prefectures in the data
    counties: dict[str, tuple[str, ...]]  # prefecture -> its counties in the data
    topics: tuple[str, ...]
    organs: tuple[tuple[str, str], ...]  # (name, type), most mentioned first
    outlets: tuple[str, ...]
    sites: tuple[str, ...]
    min_day: dt.date | None
    max_day: dt.date | None


def _ordered(df: pd.DataFrame, col: str) -> tuple[str, ...]:
    sub = df[df[col].notna()].groupby(col, as_index=False)["n"].sum().sort_values(["n", col], ascending=[False, True])
    return tuple(str(x) for x in sub[col].tolist())


@st.cache_data(show_spinner=False, max_entries=4)
def _options(_ds: Dataset, key: str) -> Options:
    db = _ds.db
    tri = Q.region_triples(db)
    provinces = _ordered(tri, "province_code")
    prefectures: dict[str, tuple[str, ...]] = {}
    pref_parent: dict[str, str] = {}
    for prov, sub in tri[tri["prefecture_code"].notna() & tri["province_code"].notna()].groupby("province_code"):
        prefectures[str(prov)] = _ordered(sub, "prefecture_code")
        for p in prefectures[str(prov)]:
            pref_parent.setdefault(p, str(prov))
    counties: dict[str, tuple[str, ...]] = {}
    county_parent: dict[str, str] = {}
    for pref, sub in tri[tri["county_code"].notna() & tri["prefecture_code"].notna()].groupby("prefecture_code"):
        counties[str(pref)] = _ordered(sub, "county_code")
        for c in counties[str(pref)]:
            county_parent.setdefault(c, str(pref))
    taxonomy = list(topic_labels())
    present = Q.topics_present(db)
    topics = tuple(dict.fromkeys([*taxonomy, *present]))
    org = Q.organs(db)
    organs = tuple((str(n), str(t)) for n, t in zip(org["name"].tolist(), org["type"].tolist(), strict=True))
    outlets = tuple(str(x) for x in Q.value_counts(db, "outlet")["value"].tolist())
    sites = tuple(str(x) for x in Q.value_counts(db, "site")["value"].tolist())
    lo, hi = Q.day_bounds(db)
    valid = FilterOptions(
        provinces=frozenset(provinces),
        prefecture_parent=pref_parent,
        county_parent=county_parent,
        topics=frozenset(topics),
        organs=frozenset(n for n, _ in organs),
        outlets=frozenset(outlets),
        sites=frozenset(sites),
        min_day=lo,
        max_day=hi,
    )
    return Options(valid, provinces, prefectures, counties, topics, organs, outlets, sites, lo, hi)


def options(ds: Dataset) -> Options:
    return _options(ds, ds.key)


def article_exists(ds: Dataset, article_id: str) -> bool:
    return Q.article_exists(ds.db, article_id)


def clear_filter_caches(search: bool = False) -> None:
    """Forget every cached result that depends on the filters (benchmarks: time the uncached path)."""
    for fn in (_counts, _summary, _agency_overview, _organ_articles, _agency_trend, _article_page, _quality, _snippets):
        fn.clear()
    if search:
        _hits.clear()
