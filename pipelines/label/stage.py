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
from pipelines.label.agencies import find_agencies, find_mentions
from pipelines.label.gazetteer import data_files as gazetteer_files
from pipelines.label.gazetteer import load_gazetteer
from pipelines.label.region import resolve_region
from pipelines.label.topics import load_taxonomy
from pipelines.schema import AGENCY_MENTIONS, ARTICLES, LABEL_COLUMNS, REGION_COLUMNS

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
        """Parsed table → (articles table, agency_mentions table), both conformed to the schema.

        Output columns are filled as plain lists, one append per value: no per-row label or mention
        dicts (they cost as much as some of the labelling itself)."""
        cols = ["article_id", "title", "body", "breadcrumb", "outlet", "url", "site"]
        view = parsed.select(cols).to_pylist()
        gaz, classify = self.gaz, self.taxonomy.classify
        region_lists = [[] for _ in REGION_COLUMNS]
        region_cols = list(zip(REGION_COLUMNS, region_lists, strict=True))
        agencies_col: list[Any] = []
        topics_col: list[Any] = []
        evidence_col: list[Any] = []
        m_ids: list[str] = []
        m_cols: tuple[list[Any], ...] = ([], [], [], [], [], [])  # name, type, level, region_code, surface, offset
        for art in view:
            region = resolve_region(art, gaz)
            for k, lst in region_cols:
                lst.append(region.get(k))
            agencies, mentions = find_mentions(art["body"] or "", region, gaz)
            agencies_col.append(agencies)
            if mentions:
                m_ids.extend([art["article_id"]] * len(mentions))
                for lst, values in zip(m_cols, zip(*mentions, strict=True), strict=False):
                    lst.extend(values)
            topics, evidence = classify(art["title"] or "", art["body"] or "")
            topics_col.append(topics)
            evidence_col.append(evidence)
        label_cols = dict(zip(REGION_COLUMNS, region_lists, strict=True))
        label_cols["agencies"] = agencies_col
        label_cols["topics"] = topics_col
        label_cols["topic_evidence"] = evidence_col
        table = parsed
        for k in LABEL_COLUMNS:
            table = table.append_column(ARTICLES[k].field(), pa.array(label_cols[k], type=ARTICLES[k].type))
        dups = duplicate_of or {}
        table = table.append_column(ARTICLES["duplicate_of"].field(), pa.array([dups.get(a["article_id"]) for a in view], type=pa.string()))
        if m_ids:
            arrays = [pa.array(values, type=c.type) for values, c in zip((m_ids, *m_cols), AGENCY_MENTIONS.columns, strict=True)]
            mentions_table = pa.Table.from_arrays(arrays, schema=AGENCY_MENTIONS.arrow_schema())
        else:
            mentions_table = AGENCY_MENTIONS.empty()
        return ARTICLES.conform(table), mentions_table


@lru_cache(maxsize=1)
def get_labeller() -> Labeller:
    return Labeller()
