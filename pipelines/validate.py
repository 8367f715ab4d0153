"""``validate``: check a published dataset against the schema, the gazetteer, the taxonomy and its manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.schema import AGENCY_LEVELS, AGENCY_TYPES, SCOPES, SOURCE_FORMATS, TABLES, Table

MAX_LISTED = 20


def _read(dataset: Path, table: Table, problems: list[str]) -> pa.Table | None:
    folder = dataset / table.name
    if not folder.exists():
        problems.append(f"{table.name}: folder {folder} is missing")
        return None
    files = sorted(folder.glob("*.parquet"))
    parts = []
    for f in files:
        try:
            t = pq.read_table(f)
        except Exception as exc:
            problems.append(f"{table.name}/{f.name}: unreadable Parquet ({type(exc).__name__}: {exc})")
            continue
        expected = table.arrow_schema()
        for field in expected:
            if field.name not in t.column_names:
                problems.append(f"{table.name}/{f.name}: column {field.name} missing")
            elif t.schema.field(field.name).type != field.type:
                problems.append(f"{table.name}/{f.name}: column {field.name} is {t.schema.field(field.name).type}, schema says {field.type}")
        extra = set(t.column_names) - set(table.names)
        if extra:
            problems.append(f"{table.name}/{f.name}: columns not in the schema: {sorted(extra)}")
        try:
            parts.append(table.conform(t))
        except Exception as exc:
            problems.append(f"{table.name}/{f.name}: {exc}")
    return pa.concat_tables(parts) if parts else table.empty()


def _check_values(name: str, column: pa.ChunkedArray, allowed: set[str], problems: list[str]) -> None:
    values = set(pc.unique(column.drop_null()).to_pylist()) if len(column) else set()
    bad = sorted(v for v in values if v not in allowed)
    if bad:
        problems.append(f"{name}: values not allowed: {bad[:MAX_LISTED]}")


def validate_dataset(dataset: Path) -> list[str]:
    """Every problem found in the published dataset, one line each (none: it is valid)."""
    problems: list[str] = []
    dataset = Path(dataset)
    if not dataset.exists():
        return [f"dataset folder {dataset} does not exist; run python -m pipelines build --input DIR --dataset {dataset}"]
    tables = {name: _read(dataset, t, problems) for name, t in TABLES.items()}
    arts, men, rej = tables["articles"], tables["agency_mentions"], tables["rejects"]
    if arts is not None and arts.num_rows:
        _check_articles(arts, problems)
    if men is not None and men.num_rows:
        _check_mentions(men, arts, problems)
    if rej is not None and rej.num_rows:
        from pipelines.read.errors import REASONS

        _check_values("rejects.reason", rej.column("reason"), set(REASONS), problems)
    inputs_path = dataset / ".store" / "current" / "inputs.parquet"
    if inputs_path.exists() and arts is not None and rej is not None:
        _check_accounting(pq.read_table(inputs_path).to_pylist(), arts, rej, problems)
    elif not inputs_path.exists():
        problems.append("no input manifest (.store/current/inputs.parquet): cannot check accounting")
    manifest = dataset / "manifest.json"
    if manifest.exists():
        try:
            json.loads(manifest.read_text(encoding="utf-8"))
        except ValueError as exc:
            problems.append(f"manifest.json is not valid JSON: {exc}")
    return problems


def _check_articles(arts: pa.Table, problems: list[str]) -> None:
    """Unique ids; vocabularies, region codes and topic ids that exist; duplicates of real articles; body lengths."""
    ids = arts.column("article_id")
    if pc.count_distinct(ids).as_py() != arts.num_rows:
        problems.append(f"articles: article_id not unique ({arts.num_rows - pc.count_distinct(ids).as_py()} repeats)")
    _check_values("articles.source_format", arts.column("source_format"), set(SOURCE_FORMATS), problems)
    _check_values("articles.scope", arts.column("scope"), set(SCOPES), problems)
    try:
        from pipelines.label.gazetteer import load_gazetteer
        from pipelines.label.topics import load_taxonomy

        codes = set(load_gazetteer().divisions) | {"000000"}
        for col in ("province_code", "prefecture_code", "county_code"):
            _check_values(f"articles.{col}", arts.column(col), codes, problems)
        _check_values("articles.topics", pc.list_flatten(arts.column("topics")), set(load_taxonomy().ids), problems)
    except ImportError as exc:
        problems.append(f"cannot load gazetteer/taxonomy to check codes: {exc}")
    dup = arts.column("duplicate_of").drop_null()
    missing = set(dup.to_pylist()) - set(ids.to_pylist())
    if missing:
        problems.append(f"articles.duplicate_of: {len(missing)} ids that are not articles (e.g. {sorted(missing)[:3]})")
    chars = pc.utf8_length(pc.fill_null(arts.column("body"), ""))
    if not pc.all(pc.equal(chars, pc.cast(arts.column("body_chars"), pa.int64()))).as_py():
        problems.append("articles.body_chars does not match the body length")


def _check_mentions(men: pa.Table, arts: pa.Table | None, problems: list[str]) -> None:
    """Agency types and levels from the vocabulary, and every mention in an article that exists."""
    _check_values("agency_mentions.type", men.column("type"), set(AGENCY_TYPES), problems)
    _check_values("agency_mentions.level", men.column("level"), set(AGENCY_LEVELS), problems)
    if arts is not None:
        orphan = set(men.column("article_id").to_pylist()) - set(arts.column("article_id").to_pylist())
        if orphan:
            problems.append(f"agency_mentions: {len(orphan)} article_ids not in articles")


def _check_accounting(inputs: list[dict[str, Any]], arts: pa.Table, rej: pa.Table, problems: list[str]) -> None:
    """Every input in the manifest is in articles or rejects, with the manifest's counts, and nothing else is."""
    art_counts = _counts(arts.column("source_file"))
    rej_counts = _counts(rej.column("source_file"))
    bad = []
    for row in inputs:
        sf = row["source_file"]
        if art_counts.get(sf, 0) + rej_counts.get(sf, 0) == 0:
            bad.append(f"{sf}: in the input manifest but in neither articles nor rejects")
        elif art_counts.get(sf, 0) != (row["articles"] or 0) or rej_counts.get(sf, 0) != (row["rejects"] or 0):
            bad.append(f"{sf}: manifest says {row['articles']} articles/{row['rejects']} rejects, dataset has {art_counts.get(sf, 0)}/{rej_counts.get(sf, 0)}")
    problems += bad[:MAX_LISTED] + ([f"... and {len(bad) - MAX_LISTED} more accounting problems"] if len(bad) > MAX_LISTED else [])
    listed = {r["source_file"] for r in inputs}
    strays = (set(art_counts) | set(rej_counts)) - listed
    if strays:
        problems.append(f"{len(strays)} source files in the data but not in the input manifest (e.g. {sorted(strays)[:3]})")


def _counts(column: pa.ChunkedArray) -> dict[str, int]:
    vc = pc.value_counts(column)
    return {v["values"].as_py(): v["counts"].as_py() for v in vc}
