"""Self-documentation generated from the one schema: datapackage.json and the dataset card."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines.read.errors import REASONS
from pipelines.schema import AGGREGATE_TABLES, SEARCH_TABLES, TABLES, Table, describe

CARD_TEMPLATE = Path(__file__).resolve().parent / "card_template.md"


def frictionless_type(t: pa.DataType) -> str:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "number"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_timestamp(t):
        return "datetime"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_list(t) or pa.types.is_struct(t):
        return "array" if pa.types.is_list(t) else "object"
    return "any"


def table_schema(table: Table) -> dict[str, Any]:
    fields = []
    for c in table.columns:
        f: dict[str, Any] = {"name": c.name, "type": frictionless_type(c.type), "description": c.description, "arrowType": str(c.type)}
        if not c.nullable:
            f["constraints"] = {"required": True}
        fields.append(f)
    schema: dict[str, Any] = {"fields": fields}
    if table.primary_key:
        schema["primaryKey"] = list(table.primary_key)
    return schema


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


SEARCH_FILES = {"search_postings": "*.postings.parquet", "search_docs": "*.docs.parquet", "search_rows": "rows.parquet"}


def _table_files(snapshot: Path) -> list[tuple[str, Table, str, list[Path]]]:
    """(resource name, table, folder, files) of every published table, the search index's included."""
    out = [(name, table, name, sorted((snapshot / name).glob("*.parquet"))) for name, table in TABLES.items()]
    out += [(name, SEARCH_TABLES[name], "search", sorted((snapshot / "search").glob(pattern))) for name, pattern in SEARCH_FILES.items()]
    return out


def datapackage(snapshot: Path, run: dict[str, Any]) -> dict[str, Any]:
    resources = []
    for name, table, folder, files in _table_files(snapshot):
        if folder == "search" and not files:
            continue
        resources.append(
            {
                "name": name,
                "description": table.description,
                "path": [f"{folder}/{f.name}" for f in files],
                "format": "parquet",
                "mediatype": "application/vnd.apache.parquet",
                "bytes": sum(f.stat().st_size for f in files),
                "files": [{"path": f"{folder}/{f.name}", "bytes": f.stat().st_size, "hash": "sha256:" + file_sha256(f)} for f in files],
                "schema": table_schema(table),
            }
        )
    for f in sorted((snapshot / "aggregates").glob("*.parquet")):
        resource: dict[str, Any] = {
            "name": f"aggregates_{f.stem}",
            "path": f"aggregates/{f.name}",
            "format": "parquet",
            "bytes": f.stat().st_size,
            "hash": "sha256:" + file_sha256(f),
        }
        if f.stem in AGGREGATE_TABLES:
            resource |= {"description": AGGREGATE_TABLES[f.stem].description, "schema": table_schema(AGGREGATE_TABLES[f.stem])}
        resources.append(resource)
    return {
        "profile": "data-package",
        "name": "gansu-local-news",
        "title": "Chinese local news on courts and government (Gansu first)",
        "version": run.get("pipeline_version"),
        "created": run.get("finished_at"),
        "licenses": [{"name": "see-sources", "title": "Each source's licence; see README.md (Sources and licences)"}],
        "resources": resources,
    }


def data_dictionary() -> str:
    return (
        describe(TABLES.values())
        + "\n#### Aggregate tables (`aggregates/<name>.parquet`, derived from the tables above for the dashboard)\n\n"
        + describe(AGGREGATE_TABLES.values())
        + "\n#### The full-text search index (`search/`)\n\n"
        + describe(SEARCH_TABLES.values())
    )


def search_card(manifest: dict[str, Any]) -> str:
    """The dataset card's paragraph on this build's search index (its size and what it took)."""
    segs = manifest.get("segments", [])
    postings = sum(int(s.get("postings", 0)) for s in segs)
    return (
        f"This build's index: {len(segs)} segment(s), {manifest.get('indexed_docs', 0):,} articles, "
        f"{postings:,} trigram postings, {manifest.get('bytes', 0) / 2**20:,.1f} MiB; "
        f"{manifest.get('new_docs', 0):,} articles indexed by this build in {manifest.get('seconds', 0):.1f} s."
    )


def reject_reasons_table() -> str:
    return "\n".join(["| reason | meaning |", "|---|---|", *(f"| `{k}` | {v} |" for k, v in REASONS.items())])


def dataset_card(run: dict[str, Any], extra: dict[str, str] | None = None) -> str:
    template = CARD_TEMPLATE.read_text(encoding="utf-8")
    values = {
        "data_dictionary": data_dictionary(),
        "reject_reasons": reject_reasons_table(),
        "run_manifest": "```json\n" + json.dumps(run, ensure_ascii=False, indent=2, default=str) + "\n```",
        **(extra or {}),
    }
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", value)
    return template


DICTIONARY_FILE = Path(__file__).resolve().parents[2] / "docs" / "DATA_DICTIONARY.md"


def dictionary_markdown() -> str:
    return (
        "# Data dictionary\n\n*Generated from `pipelines/schema.py`; regenerate with `python -m pipelines.publish.docs`. "
        "A test fails when it drifts.*\n\n" + data_dictionary() + "\n## Reject reasons\n\n" + reject_reasons_table() + "\n"
    )


if __name__ == "__main__":
    DICTIONARY_FILE.write_text(dictionary_markdown(), encoding="utf-8")
    print(f"wrote {DICTIONARY_FILE}")
