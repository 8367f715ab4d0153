"""The label stage as a whole: region, agencies and topics for a table of parsed articles.

It reads only the parsed table (never the raw inputs), so a changed gazetteer, outlet list or
taxonomy relabels existing articles. ``label_hash`` fingerprints every data file that can change
a label, and the store keys labelled parts by it.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipelines import __version__
from pipelines.errors import DataFileError
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
    files.add((data_dir() / BUDGET_FILE).resolve())
    return sorted(files)


BUDGET_FILE = "label_budget.toml"
TRUNCATED_FLAG = "label_truncated"


class LabelDataError(DataFileError):
    """A label data file holds a bad value; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class LabelBudget:
    """What one article may cost the label stage (``data/label_budget.toml``)."""

    max_body_chars: int  # labels are decided on this prefix of a longer body (flag label_truncated)

    @classmethod
    def load(cls, path: Path) -> LabelBudget:
        try:
            with path.open("rb") as f:
                raw = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise LabelDataError(f"{path}: {exc}") from exc
        value = raw.get("budget", {}).get("max_body_chars")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1000:
            raise LabelDataError(f"{path}: [budget] max_body_chars must be an integer of at least 1000, got {value!r}")
        return cls(max_body_chars=value)


TOPIC_CODE = Path(__file__).resolve().parent / "topics.py"
SHARED_CODE = {Path(__file__).resolve(), Path(__file__).resolve().parent / "phase.py"}  # orchestrate both halves


def _fingerprint(paths: list[Path]) -> str:
    h = hashlib.sha256(__version__.encode())
    for path in paths:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:8]


@lru_cache(maxsize=1)
def place_hash() -> str:
    """Fingerprint of what decides region and agency labels: the gazetteer's and agency rules'
    data files, the label budget, the label code other than topics.py, the pipeline version."""
    topics_file = (data_dir() / "topics.toml").resolve()
    files = [p for p in label_data_files() if p != topics_file]
    return _fingerprint([*files, *(p for p in LABEL_CODE if p != TOPIC_CODE)])


@lru_cache(maxsize=1)
def topic_hash() -> str:
    """Fingerprint of what decides topic labels: the taxonomy, the label budget, topics.py and the
    code that orchestrates labelling, the pipeline version."""
    budget = (data_dir() / BUDGET_FILE).resolve()
    return _fingerprint([(data_dir() / "topics.toml").resolve(), budget, TOPIC_CODE, *sorted(SHARED_CODE)])


@lru_cache(maxsize=1)
def label_hash() -> str:
    """Fingerprint of everything that decides labels, as ``<place hash>-<topic hash>``: a labelled part
    whose place half matches needs only its topics recomputed (a taxonomy edit)."""
    return f"{place_hash()}-{topic_hash()}"


def clear_hash_cache() -> None:
    for fn in (place_hash, topic_hash, label_hash):
        fn.cache_clear()


class Labeller:
    def __init__(self) -> None:
        self.gaz = load_gazetteer(data_dir())
        self.taxonomy = load_taxonomy(data_dir() / "topics.toml")
        self.budget = LabelBudget.load(data_dir() / BUDGET_FILE)

    def within_budget(self, body: str | None) -> str:
        """The part of ``body`` the labels are decided on (every label rule is linear in it)."""
        body = body or ""
        return body if len(body) <= self.budget.max_body_chars else body[: self.budget.max_body_chars]

    def label_row(self, article: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        article = {**article, "body": self.within_budget(article.get("body"))}
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
        limit = self.budget.max_body_chars
        truncated: list[int] = []
        for i, art in enumerate(view):
            body = art["body"]
            if body is not None and len(body) > limit:
                art["body"] = body[:limit]
                truncated.append(i)
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
        table = _flag_rows(parsed, truncated, TRUNCATED_FLAG) if truncated else parsed
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


    def relabel_topics(self, labelled: pa.Table, duplicate_of: dict[str, str] | None = None) -> pa.Table:
        """A labelled articles table with its topics recomputed (region and agency columns kept) and
        its duplicate marks refreshed: the relabel after a taxonomy edit."""
        limit = self.budget.max_body_chars
        titles = labelled.column("title").to_pylist()
        bodies = [b if b is None or len(b) <= limit else b[:limit] for b in labelled.column("body").to_pylist()]
        classify = self.taxonomy.classify
        topics_col, evidence_col = [], []
        for title, body in zip(titles, bodies, strict=True):
            topics, evidence = classify(title or "", body or "")
            topics_col.append(topics)
            evidence_col.append(evidence)
        dups = duplicate_of or {}
        ids = labelled.column("article_id").to_pylist()
        table = labelled
        for name, values in (("topics", topics_col), ("topic_evidence", evidence_col), ("duplicate_of", [dups.get(a) for a in ids])):
            i = table.schema.get_field_index(name)
            table = table.set_column(i, ARTICLES[name].field(), pa.array(values, type=ARTICLES[name].type))
        return ARTICLES.conform(table)


def _flag_rows(table: pa.Table, rows: list[int], flag: str) -> pa.Table:
    """``table`` with ``flag`` added to the quality_flags of ``rows`` (a few rows: a Python pass is fine)."""
    flags = table.column("quality_flags").to_pylist()
    for i in rows:
        flags[i] = [*(flags[i] or []), flag]
    i = table.schema.get_field_index("quality_flags")
    return table.set_column(i, table.schema.field(i), pa.array(flags, type=table.schema.field(i).type))


@lru_cache(maxsize=1)
def get_labeller() -> Labeller:
    return Labeller()
