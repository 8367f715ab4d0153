"""The label stage as a whole: region, agencies and topics for a table of parsed articles.

It reads only the parsed table (never the raw inputs), so a changed gazetteer, outlet list or
taxonomy relabels existing articles. ``label_hash`` fingerprints every data file that can change
a label, and the store keys labelled parts by it.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines import __version__
from pipelines.label.agencies import find_agencies
from pipelines.label.gazetteer import data_files as gazetteer_files
from pipelines.label.gazetteer import load_gazetteer
from pipelines.label.region import resolve_region
from pipelines.label.topics import load_taxonomy
from pipelines.schema import AGENCY_MENTIONS, ARTICLES, LABEL_COLUMNS

DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
LABEL_CODE = sorted(Path(__file__).resolve().parent.glob("*.py"))


def data_dir() -> Path:
    """The label data files in use: ``pipelines/data``, or a copy named by ``PIPELINES_DATA_DIR``."""
    return Path(os.environ.get("PIPELINES_DATA_DIR") or DEFAULT_DATA_DIR)


def label_data_files() -> list[Path]:
    files = {Path(p).resolve() for p in gazetteer_files(data_dir())}
    files.add((data_dir() / "topics.toml").resolve())
    return sorted(files)


@lru_cache(maxsize=1)
def label_hash() -> str:
    """Fingerprint of everything that decides labels: data files, label code, pipeline version."""
    h = hashlib.sha256(__version__.encode())
    for path in [*label_data_files(), *LABEL_CODE]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


class Labeller:
    def __init__(self) -> None:
        self.gaz = load_gazetteer(data_dir())
        self.taxonomy = load_taxonomy(data_dir() / "topics.toml")

    def label_row(self, article: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        region = resolve_region(article, self.gaz)
        agencies, mentions = find_agencies(article, region, self.gaz)
        topics, evidence = self.taxonomy.classify(article.get("title") or "", article.get("body") or "")
        labels = {k: region.get(k) for k in LABEL_COLUMNS if k in region}
        labels["agencies"] = agencies
        labels["topics"] = topics
        labels["topic_evidence"] = evidence
        return labels, mentions

    def label_table(self, parsed: pa.Table, duplicate_of: dict[str, str] | None = None) -> tuple[pa.Table, pa.Table]:
        """Parsed table → (articles table, agency_mentions table), both conformed to the schema."""
        cols = ["article_id", "title", "body", "breadcrumb", "outlet", "url", "site", "source_format"]
        view = parsed.select(cols).to_pylist()
        label_cols: dict[str, list[Any]] = {k: [] for k in LABEL_COLUMNS}
        mention_rows: list[dict[str, Any]] = []
        for art in view:
            labels, mentions = self.label_row(art)
            for k in LABEL_COLUMNS:
                label_cols[k].append(labels.get(k))
            for m in mentions:
                mention_rows.append({"article_id": art["article_id"], **{k: m.get(k) for k in AGENCY_MENTIONS.names if k != "article_id"}})
        table = parsed
        for k in LABEL_COLUMNS:
            table = table.append_column(ARTICLES[k].field(), pa.array(label_cols[k], type=ARTICLES[k].type))
        dups = duplicate_of or {}
        table = table.append_column(ARTICLES["duplicate_of"].field(), pa.array([dups.get(a["article_id"]) for a in view], type=pa.string()))
        mentions_table = AGENCY_MENTIONS.from_records(mention_rows) if mention_rows else AGENCY_MENTIONS.empty()
        return ARTICLES.conform(table), mentions_table


@lru_cache(maxsize=1)
def get_labeller() -> Labeller:
    return Labeller()
