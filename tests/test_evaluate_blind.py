"""The blind set's bookkeeping: every listed article is labelled once per labeller, the halves are the
ones chosen before labelling, and the agreement and calibration arithmetic is right."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import ROOT

from pipelines.evaluate import SPLITS, _kappa, agreement, calibration, load_blind

EVAL = ROOT / "eval"


def test_the_blind_index_is_the_rule_s_choice() -> None:
    index = pd.read_csv(EVAL / "blind" / "articles.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert len(index) >= 300 and index["id"].is_unique
    assert set(index["split"]) == set(SPLITS)
    assert abs((index["split"] == "dev").sum() - (index["split"] == "unseen").sum()) <= len(index) // 20
    seen = {p.relative_to(EVAL / "articles").as_posix() for p in (EVAL / "articles").rglob("*") if p.is_file()}
    assert not set(index["source_file"]) & seen, "the blind set must not reuse the development set's files"


@pytest.mark.parametrize("labeller", ["first", "second", "gold"])
def test_labels_are_complete_and_use_the_vocabularies(labeller: str) -> None:
    from pipelines.schema import AGENCY_LEVELS, AGENCY_TYPES, SCOPES

    labels = load_blind(EVAL, labeller)
    if labels.empty:
        pytest.skip(f"no {labeller} labels yet")
    assert labels["id"].is_unique
    assert set(labels["scope"]) <= set(SCOPES)
    divisions = set(pd.read_csv(ROOT / "pipelines" / "data" / "gazetteer" / "divisions.csv", dtype=str)["code"]) | {"000000"}
    for row in labels.itertuples():
        for code in (row.province_code, row.prefecture_code, row.county_code):
            assert pd.isna(code) or code in divisions, (row.id, code)
        for a in row.agencies:
            assert a["type"] in AGENCY_TYPES and a["level"] in AGENCY_LEVELS and a["region_code"] in divisions, (row.id, a)
        if row.scope != "local":
            assert pd.isna(row.province_code), row.id


def test_agreement_kappa_and_calibration_arithmetic() -> None:
    assert _kappa(["local", "none"], ["local", "none"]) == 1.0
    assert _kappa(["local", "local", "none", "none"], ["local", "none", "local", "none"]) == 0.0
    rows = [{"id": "b1", "scope": "local", "province_code": "620000", "prefecture_code": None, "county_code": None, "title": "甲",
             "agencies": [{"type": "court", "level": "high", "region_code": "620000"}], "topics": ["courts"]},
            {"id": "b2", "scope": "none", "province_code": None, "prefecture_code": None, "county_code": None, "title": None,
             "agencies": [], "topics": []}]
    other = json.loads(json.dumps(rows))
    other[1]["topics"] = ["society"]
    got = agreement(pd.DataFrame(rows), pd.DataFrame(other))
    assert got["scope"] == 1.0 and got["agencies_f1"] == 1.0 and got["topics_f1"] == pytest.approx(2 / 3)
    table = calibration({"region_confidence": [0.1, 0.85, 0.9, 0.95], "region_exact": [False, True, True, False]})
    assert table[0] == ("0.0–0.2", 1, 0.0)
    assert table[-1] == ("≥ 0.8", 3, pytest.approx(2 / 3))
