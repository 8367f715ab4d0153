"""Names for codes: columns (from the schema), topics (taxonomy), regions (gazetteer), agency types.

Everything here degrades gracefully: a missing or unreadable taxonomy or gazetteer file falls back
to the names found in the dataset, and finally to the raw code or id.
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dashboard.i18n import AGENCY_LEVEL_LABELS, AGENCY_TYPE_LABELS, Lang, pick, tr
from pipelines.schema import TABLES

REPO = Path(__file__).resolve().parent.parent
TOPICS_FILE = REPO / "pipelines" / "data" / "topics.toml"
DIVISIONS_FILE = REPO / "pipelines" / "data" / "gazetteer" / "divisions.csv"
GANSU = "620000"


def column_label(name: str, lang: Lang, table: str = "articles") -> str:
    """The schema's short label of a column (falls back to the column name)."""
    col = TABLES[table].column_index.get(name)
    return pick(col.label if col else None, lang, name)


def load_topics(path: Path = TOPICS_FILE) -> dict[str, tuple[str, str]]:
    """Topic id -> (label_zh, label_en), in taxonomy order; {} when the file is missing or bad."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}
    out: dict[str, tuple[str, str]] = {}
    for t in doc.get("topic", []) if isinstance(doc.get("topic"), list) else []:
        if isinstance(t, dict) and isinstance(t.get("id"), str):
            tid = t["id"]
            zh = t.get("label_zh") if isinstance(t.get("label_zh"), str) else tid
            en = t.get("label_en") if isinstance(t.get("label_en"), str) else tid
            out[tid] = (zh, en)
    return out


def _pinyin_name(pinyin: str) -> str:
    """'lan zhou' -> 'Lanzhou'; 'nei meng gu' -> 'Neimenggu'."""
    words = [w for w in pinyin.replace("'", " ").split() if w]
    return "".join(words).capitalize() if words else ""


@dataclass
class Region:
    code: str
    name: str
    level: str = ""
    parent: str | None = None
    pinyin: str = ""


@dataclass
class Regions:
    """GB/T 2260 code -> names, from the gazetteer, topped up with names seen in the data."""

    by_code: dict[str, Region] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = DIVISIONS_FILE) -> Regions:
        regions = cls()
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                for row in csv.DictReader(fh):
                    code = (row.get("code") or "").strip()
                    name = (row.get("name") or "").strip()
                    if len(code) == 6 and code.isdigit() and name:
                        parent = (row.get("parent_code") or "").strip() or None
                        regions.by_code[code] = Region(code, name, (row.get("level") or "").strip(), parent, _pinyin_name(row.get("pinyin") or ""))
        except (OSError, UnicodeDecodeError, csv.Error):
            pass
        return regions

    def add_names(self, pairs: Iterable[tuple[str | None, str | None]]) -> None:
        """Add (code, name) pairs seen in the data for codes the gazetteer lacks."""
        for code, name in pairs:
            if code and name and code not in self.by_code:
                self.by_code[code] = Region(code, name)

    def name(self, code: str | None) -> str | None:
        r = self.by_code.get(code or "")
        return r.name if r else None

    def label(self, code: str | None, lang: Lang) -> str:
        """Chinese: the full name; English: pinyin and the Chinese name (e.g. 'Lanzhou 兰州市')."""
        if not code:
            return tr("unknown", lang)
        r = self.by_code.get(code)
        if r is None:
            return code
        if lang == "zh" or not r.pinyin:
            return r.name
        return f"{r.pinyin} {r.name}"


def agency_type_label(t: str | None, lang: Lang) -> str:
    return pick(AGENCY_TYPE_LABELS.get(t or ""), lang, t or tr("unknown", lang))


def agency_level_label(level: str | None, lang: Lang) -> str:
    return pick(AGENCY_LEVEL_LABELS.get(level or ""), lang, level or tr("unknown", lang))


def topic_label(topics: Mapping[str, tuple[str, str]], tid: str | None, lang: Lang) -> str:
    if tid is None:
        return tr("unknown", lang)
    return pick(topics.get(tid), lang, tid)
