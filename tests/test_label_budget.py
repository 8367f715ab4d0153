"""Labelling cost is bounded: linear in the text read, and capped per article by data/label_budget.toml.

A page of one place name repeated (a tag cloud, a keyword-stuffed page) used to cost time quadratic in
its mentions (a 40,000-character body ~30 s); these tests pin the rules that made it so to their
linear forms and the budget to its flag.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.label.gazetteer import load_gazetteer
from pipelines.label.region import resolve_region
from pipelines.label.spans import BookTitles, footer_test
from pipelines.label.stage import DEFAULT_DATA_DIR, TRUNCATED_FLAG, LabelBudget, LabelDataError, Labeller
from pipelines.schema import PARSED

STORY = "兰州市中级人民法院近日召开执行工作推进会，通报今年以来全市法院执行工作情况。"


def _parsed(bodies: list[str]) -> pa.Table:
    rows = [
        {"article_id": f"a{i}", "source_file": f"f{i}.txt", "source_format": "plain_text", "content_hash": f"h{i}", "title": "测试",
         "body": b, "body_chars": len(b), "quality_flags": ["no_date"], "breadcrumb": [], "byline": [], "simhash": 0}
        for i, b in enumerate(bodies)
    ]
    return PARSED.from_records(rows)


@given(st.text(alphabet="《》甲乙\n", max_size=60), st.data())
def test_book_titles_answer_like_a_search_back(text: str, data: st.DataObject) -> None:
    books = BookTitles(text)
    for pos in range(len(text) + 1):
        assert books.inside(pos) == (text.rfind("《", 0, pos) > text.rfind("》", 0, pos))


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 20)), max_size=8), st.integers(0, 80))
def test_footer_spans_answer_like_a_scan(raw: list[tuple[int, int]], pos: int) -> None:
    spans = [(a, a + n) for a, n in raw]
    test = footer_test(spans)
    expected = any(a <= pos < b for a, b in spans)
    assert (test(pos) if test is not None else False) == expected


def test_chained_places_before_a_party_mark_still_weigh_as_a_party() -> None:
    """The chain 宁夏|吴忠|某银行 is walked once, and every link of it gets the party factor."""
    gaz = load_gazetteer()
    short = resolve_region({"title": "借款合同纠纷案", "body": "原告宁夏吴忠某银行诉被告。" + STORY}, gaz)
    assert short["prefecture_code"] == "620100"
    # 1,000 links, the party mark after the last: each link weighs as a party, and the court's city wins
    party = resolve_region({"title": "借款合同纠纷案", "body": "原告" + "宁夏吴忠" * 500 + "某银行诉被告。" + STORY * 3}, gaz)
    assert party["province_code"] == "620000", party["region_evidence"]
    plain = resolve_region({"title": "借款合同纠纷案", "body": "原告" + "宁夏吴忠" * 500 + "诉被告。" + STORY * 3}, gaz)
    assert plain["province_code"] == "640000", plain["region_evidence"]


def test_a_repeated_name_page_is_labelled_on_its_budget_and_flagged() -> None:
    lab = Labeller()
    limit = lab.budget.max_body_chars
    spam = "甘肃兰州" * (3 * limit // 4)  # 3x the budget
    articles, mentions = lab.label_table(_parsed([STORY, spam, "兰州中院" * (limit // 4) + STORY]), {})
    rows = articles.to_pylist()
    assert rows[0]["quality_flags"] == ["no_date"]
    assert rows[1]["quality_flags"] == ["no_date", TRUNCATED_FLAG]
    assert rows[1]["body"] == spam  # the stored body is not cut, only what the labels read
    assert (rows[1]["province_code"], rows[1]["prefecture_code"]) == ("620000", "620100")
    # the third body is exactly at the budget before its story: the story is past what is read
    assert TRUNCATED_FLAG in rows[2]["quality_flags"]
    offsets = [m["offset"] for m in mentions.to_pylist() if m["article_id"] == "a2"]
    assert offsets and max(offsets) < limit


def test_budget_file_is_validated(tmp_path: Path) -> None:
    assert LabelBudget.load(DEFAULT_DATA_DIR / "label_budget.toml").max_body_chars >= 100_000
    bad = tmp_path / "label_budget.toml"
    for text in ("[budget]\nmax_body_chars = 'lots'\n", "[budget]\nmax_body_chars = 10\n", "[budget\n"):
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(LabelDataError, match=r"label_budget\.toml"):
            LabelBudget.load(bad)


def test_budget_change_changes_the_label_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.label import stage

    data = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    monkeypatch.setenv("PIPELINES_DATA_DIR", str(data))
    stage.clear_hash_cache()
    before = stage.label_hash()
    (data / "label_budget.toml").write_text("[budget]\nmax_body_chars = 5000\n", encoding="utf-8")
    stage.clear_hash_cache()
    try:
        assert stage.label_hash() != before
        assert Labeller().budget.max_body_chars == 5000
    finally:
        monkeypatch.delenv("PIPELINES_DATA_DIR")
        stage.clear_hash_cache()


@pytest.mark.parametrize(("edit", "message"), [
    (("county_min = 1.0", "county_min = 'high'"), r"\[thresholds\]\.county_min: must be a non-negative number"),
    (("body_cap = 4.0", "body_cap = 4.0\nbody_kap = 2.0"), r"\[weights\]: unknown key\(s\) \['body_kap'\]"),
    (("lead_chars = 150\n", ""), r"\[weights\]: missing key\(s\) \['lead_chars'\]"),
])
def test_region_rules_are_typed_and_a_bad_value_names_file_and_key(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    from pipelines.errors import DataFileError
    from pipelines.label.gazetteer import Gazetteer

    data = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, data)
    rules = data / "gazetteer" / "region_rules.toml"
    text = rules.read_text(encoding="utf-8")
    assert edit[0] in text
    rules.write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(DataFileError, match=message) as err:
        Gazetteer(data)
    assert "region_rules.toml" in str(err.value)
    assert Gazetteer(DEFAULT_DATA_DIR).rules.thresholds.county_min == 1.0
