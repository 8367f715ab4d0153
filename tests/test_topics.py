"""Topic taxonomy and classifier (pipelines/label/topics.py, pipelines/data/topics.toml).

Real texts come from tests/data (copies of shared/corpus files, provenance in
tests/data/corpus/SOURCES.tsv, and the user's seed page in tests/data/seed).
"""

from __future__ import annotations

import json
import math
import pickle
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.label.topics import DEFAULT_PATH, Taxonomy, TaxonomyError, load_taxonomy, taxonomy_hash
from pipelines.schema import ARTICLES

DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "corpus"
SEED = DATA / "seed" / "000_0728b4a53c9668bd.txt"

REQUIRED_IDS = {
    "judicial_enforcement",
    "courts",
    "procuratorate",
    "policing",
    "anti_corruption",
    "disasters_accidents",
    "health",
    "food_drug_safety",
    "economy_business",
    "agriculture_rural",
    "education",
    "environment",
    "transport",
    "culture_tourism",
    "sports",
    "military",
    "science_technology",
    "governance",
    "society",
}


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return load_taxonomy()


def seed_story() -> tuple[str, str]:
    """Title and story body of the seed page (the story ends at the line 新闻推荐)."""
    lines = SEED.read_text(encoding="utf-8").splitlines()
    story = lines[: lines.index("新闻推荐")]
    title = "坚决打赢基本解决执行难这场硬仗省高院领导督导检查全市两级法院“百日会战”情况"
    assert title in story
    start = next(i for i, line in enumerate(story) if line.startswith("【本报讯】"))
    return title, "\n".join(story[start:])


def read_corpus(rel: str) -> tuple[str, str]:
    """(title, body) of a copied corpus file, decoded the way its format needs."""
    path = CORPUS / rel
    if path.suffix == ".txt":
        return "", path.read_bytes().decode("utf-8-sig", errors="replace")
    if path.suffix == ".xml":
        enc = "gb18030" if "tensite" in path.name else "utf-8"
        text = path.read_bytes().decode(enc, errors="replace")
        fields = dict(re.findall(r"<(contenttitle|content)>(.*?)</\1>", text, re.S))
        return fields.get("contenttitle", ""), fields.get("content", "")
    if path.suffix == ".jsonl":
        rec = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
        return rec["title"], rec["content"]
    if path.suffix == ".jsp":
        html = path.read_text(encoding="utf-8", errors="replace")
        title = re.search(r"<h1[^>]*>([^<]*)", html)
        body = re.sub(r"<[^>]+>", "\n", re.sub(r"(?s)<(script|style)[^>]*>.*?</\1>", "", html))
        return (title.group(1) if title else ""), body
    raise AssertionError(f"no reader for {rel}")


def write_taxonomy(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """
threshold = 3.0
[[topic]]
id = "sports"
label_zh = "体育"
label_en = "Sports"
definition = { en = "Sport.", zh = "体育。" }
[topic.terms]
"足球" = 2.0
"比赛" = 1.0
"""


# --- the shipped taxonomy ------------------------------------------------------------------------


def test_shipped_taxonomy_has_the_required_topics_and_is_clean(tax: Taxonomy) -> None:
    assert REQUIRED_IDS <= set(tax.ids)
    assert len(tax.ids) == len(set(tax.ids))
    assert tax.lint() == []
    for lang in ("zh", "en"):
        labels = tax.labels(lang)
        assert set(labels) == set(tax.ids) and all(labels.values())
    assert tax.labels("zh")["judicial_enforcement"] != tax.labels("en")["judicial_enforcement"]
    assert re.fullmatch(r"[0-9a-f]{64}", tax.taxonomy_hash())
    assert tax.taxonomy_hash() == taxonomy_hash() == taxonomy_hash(DEFAULT_PATH)


def test_labels_rejects_unknown_language(tax: Taxonomy) -> None:
    with pytest.raises(ValueError, match="lang"):
        tax.labels("fr")


# --- the seed page and the 执行 traps ------------------------------------------------------------


def test_seed_story_is_judicial_enforcement_and_courts(tax: Taxonomy) -> None:
    title, body = seed_story()
    topics, evidence = tax.classify(title, body)
    assert topics[:2] == ["judicial_enforcement", "courts"]
    ev = {e["topic"]: e for e in evidence}
    assert [e["topic"] for e in evidence] == topics
    assert {"执行难", "失信被执行人", "执行法官"} <= set(ev["judicial_enforcement"]["terms"])
    assert "法院" in ev["courts"]["terms"]
    assert ev["judicial_enforcement"]["score"] > ev["courts"]["score"] > 3.0
    # the body alone, without the headline, still gets both
    assert {"judicial_enforcement", "courts"} <= set(tax.classify("", body)[0])


@pytest.mark.parametrize(
    "text",
    [
        "部队接到命令后立即执行任务，各级政府要认真执行政策。",
        "各部门坚决执行命令，提高执行力，严格执行政策，确保执行任务圆满完成。",
        "公司执行董事、执行主席和执行长出席；本次航班执行率达到99%，扭转了执行局面。",
        "会议要求法院干部提高执行力、认真执行政策，保质保量执行任务。",  # court context, still no enforcement
        "警方依法查封了涉案场所，冻结了嫌疑人的银行账户并扣押赃款。",  # seizure without a court
    ],
    ids=["task-policy", "order-ability", "titles-flights-situation", "court-context", "police-seizure"],
)
def test_execute_task_and_policy_are_not_judicial_enforcement(tax: Taxonomy, text: str) -> None:
    assert "judicial_enforcement" not in tax.classify("", text)[0]
    score = next((s for s in tax.scores("", text) if s.topic == "judicial_enforcement"), None)
    assert score is None or "执行" not in score.terms or "查封" in text


def test_exclusion_hides_only_the_occurrence_it_covers(tax: Taxonomy) -> None:
    # 执行局面 is not the 执行局 (enforcement bureau); the real 执行局 a few characters later counts.
    text = "为扭转执行局面，县法院执行局对失信被执行人依法采取限制高消费措施。"
    topics, evidence = tax.classify("", text)
    assert "judicial_enforcement" in topics
    terms = next(e["terms"] for e in evidence if e["topic"] == "judicial_enforcement")
    assert "执行局" in terms and "失信被执行人" in terms
    # a longer term hides the shorter one inside it: 被执行人 is not counted again inside 失信被执行人
    assert "被执行人" not in terms
    only_phrase = tax.scores("", "为扭转执行局面而努力。")
    assert all("执行局" not in s.terms for s in only_phrase)


def test_enforcement_requires_a_court_phrase(tax: Taxonomy) -> None:
    weak = "依法查封冻结划拨财产，查封房产，冻结存款，划拨资金，变卖车辆，拍卖土地使用权。"
    assert "judicial_enforcement" not in tax.classify("", weak)[0]
    assert "judicial_enforcement" in tax.classify("", "法院执行干警" + weak)[0]


# --- real corpus files ---------------------------------------------------------------------------


CORPUS_EXPECTATIONS = [
    # (file, topics that must be assigned, topics that must not be)
    ("txt/cec_raw/cec_043.txt", {"disasters_accidents"}, {"judicial_enforcement", "sports"}),  # 兰州 building fire
    ("txt/cec_raw/cec_022.txt", {"disasters_accidents"}, {"economy_business"}),  # earthquake
    ("txt/cec_raw/cec_010.txt", {"disasters_accidents", "food_drug_safety"}, {"courts"}),  # school food poisoning
    ("txt/cec_raw/cec_003.txt", {"disasters_accidents"}, {"policing"}),  # cyclist killed by a mixer truck
    ("txt/court_cases/case_exec_023.txt", {"judicial_enforcement", "courts"}, {"sports", "education"}),  # 天水 拒执 warning
    ("txt/court_cases/case_exec_053.txt", {"judicial_enforcement", "courts"}, {"economy_business"}),  # 永昌 执行和解
    ("txt/court_cases/case_civil_064.txt", {"courts", "agriculture_rural"}, {"judicial_enforcement"}),  # seed-variety dispute
    ("txt/court_cases/case_crim_002.txt", {"courts", "procuratorate"}, {"judicial_enforcement"}),
    ("txt/sogouc_sample/sogouc_C000014_12.txt", {"sports"}, {"economy_business", "judicial_enforcement"}),  # NBA
    ("txt/sogouc_sample/sogouc_C000020_19.txt", {"education"}, {"sports"}),  # gaokao applications
    ("txt/sogouc_sample/sogouc_C000024_11.txt", {"military"}, {"policing"}),  # tank company commander
    ("txt/sogouc_sample/sogouc_C000008_14.txt", {"economy_business"}, {"health"}),  # online payment market
    ("txt/sogouc_sample/sogouc_C000016_17.txt", {"culture_tourism"}, {"courts"}),  # golden-week tourism
    ("txt/sogouc_sample/sogouc_C000013_19.txt", {"health"}, {"sports"}),  # chronic disease report
    ("jsonl/xinmin/xinmin_2022-04-01_02.jsonl", {"health"}, {"sports"}),  # Shanghai covid numbers
    ("jsonl/xinmin/xinmin_2022-04-02_23.jsonl", {"sports"}, {"health"}),  # World Cup draw
    ("html/likgjava_eb/eb_cgxqzx_ff8080813090cbdd013090ecf7a800f2.jsp", {"food_drug_safety"}, {"sports"}),  # 甘肃 瘦肉精
    ("html/likgjava_eb/eb_sqzx_ff8080812f4e78d5012f51c1fedf016b.jsp", {"transport", "economy_business"}, {"health"}),  # 甘肃 highway bonds
    ("xml/sogoucs/sogou_tensite_102.xml", {"disasters_accidents"}, {"sports"}),  # GB18030: 渠江 flood
    ("xml/sogoucs/sogou_tensite_119.xml", {"policing"}, {"judicial_enforcement"}),  # GB18030: fraud ring busted
    ("xml/sogoucs/sogou_sohusite_177.xml", {"environment"}, {"courts"}),  # Shanghai PM2.5
    # min_share_of: an enforcement digest names banks and loans, a trial names crimes and police
    ("txt/court_cases/case_exec_047.txt", {"judicial_enforcement", "courts"}, {"economy_business"}),  # Guiyang interest
    ("txt/court_cases/case_exec_023.txt", {"judicial_enforcement"}, {"policing"}),  # 拒执 warning, 移送公安机关
    ("txt/court_cases/case_civil_055.txt", {"courts", "economy_business"}, {"judicial_enforcement"}),  # bills dispute
    ("txt/court_cases/case_crim_005.txt", {"courts", "policing"}, {"economy_business"}),  # murder, police work central
    ("txt/court_cases/case_admin_098.txt", {"courts", "procuratorate"}, {"society"}),  # 民政 inside 人民政府
    ("xml/sogoucs/sogou_sohusite_013.xml", {"society", "health"}, {"courts"}),  # AIDS anti-discrimination contest
]


@pytest.mark.parametrize(("rel", "must", "must_not"), CORPUS_EXPECTATIONS, ids=[c[0].rsplit("/", 1)[-1] for c in CORPUS_EXPECTATIONS])
def test_real_corpus_files_get_expected_topics(tax: Taxonomy, rel: str, must: set[str], must_not: set[str]) -> None:
    title, body = read_corpus(rel)
    assert body.strip(), rel
    topics, evidence = tax.classify(title, body)
    assert must <= set(topics), (rel, topics, evidence)
    assert not (must_not & set(topics)), (rel, topics, evidence)


def test_every_copied_corpus_file_has_provenance() -> None:
    lines = (CORPUS / "SOURCES.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0].split("\t")[:3] == ["file", "repository", "path"]
    listed = {line.split("\t")[0].removeprefix("corpus/") for line in lines[1:]}
    for rel, _, _ in CORPUS_EXPECTATIONS:
        assert (CORPUS / rel).is_file() and rel in listed, rel


# --- scoring rules ---------------------------------------------------------------------------------


def test_scoring_damps_repeats_and_weights_titles(tmp_path: Path) -> None:
    tax = load_taxonomy(write_taxonomy(tmp_path / "t.toml", MINIMAL))
    one = tax.scores("", "足球")[0]
    assert one.score == pytest.approx(2.0) and not one.assigned
    five = tax.scores("", "足球" * 5)[0]
    assert five.score == pytest.approx(round(2.0 * (1 + math.log(5)), 3)) and five.assigned
    titled = tax.scores("足球", "")[0]
    assert titled.score == pytest.approx(4.0)  # default title_weight 2
    both = tax.scores("足球", "足球比赛")[0]
    assert both.score == pytest.approx(round(2.0 * (1 + math.log(2)) * 2 + 1.0, 3))
    assert both.terms == ("足球", "比赛")
    topics, evidence = tax.classify("足球", "足球比赛")
    assert topics == ["sports"] and evidence == [{"topic": "sports", "terms": ["足球", "比赛"], "score": both.score}]


def test_line_breaks_do_not_split_terms(tax: Taxonomy) -> None:
    wrapped = "申请执行人向甘肃省永昌县人民法院申请强制执\n行，法院立案执\r\n行，被执行人拒不履行。"
    ev = dict((e["topic"], e["terms"]) for e in tax.classify("", wrapped)[1])
    assert "申请强制执行" in ev["judicial_enforcement"]


def test_ascii_terms_match_whole_words_and_full_width(tax: Taxonomy) -> None:
    assert "sports" in tax.classify("NBA总决赛", "")[0]
    assert "sports" in tax.classify("ＮＢＡ总决赛", "")[0]
    assert "sports" not in tax.classify("WNBAX", "")[0]
    assert not any(s.topic == "economy_business" for s in tax.scores("", "OPCPIX 5G5G"))
    cpi = next(s for s in tax.scores("", "５月ＣＰＩ同比上涨３％") if s.topic == "economy_business")
    assert "CPI" in cpi.terms


def test_baiyin_city_is_not_silver(tax: Taxonomy) -> None:
    city = "白银市中级人民法院、白银区人民政府和白银高新区管委会召开会议。"
    assert all("白银" not in s.terms for s in tax.scores("", city))
    metal = tax.classify("国际白银价格大涨", "现货白银价格上涨，白银期货成交活跃。")
    assert "economy_business" in metal[0]


def test_long_bodies_need_more_evidence(tmp_path: Path) -> None:
    text = MINIMAL.replace("threshold = 3.0", "threshold = 3.0\nlength_norm_chars = 100")
    tax = load_taxonomy(write_taxonomy(tmp_path / "t.toml", text))
    assert tax.classify("", "足球比赛" + "。" * 50)[0] == ["sports"]
    assert tax.classify("", "足球比赛" + "。" * 2000)[0] == []  # threshold x ~4.5


def test_evidence_fits_the_articles_schema(tax: Taxonomy) -> None:
    title, body = seed_story()
    topics, evidence = tax.classify(title, body)
    table = pa.table(
        {"topics": [topics, []], "topic_evidence": [evidence, []]},
        schema=pa.schema([ARTICLES["topics"].field(), ARTICLES["topic_evidence"].field()]),
    )
    assert table.column("topics").to_pylist()[0] == topics


@settings(max_examples=300, deadline=None)
@given(title=st.text(max_size=60), body=st.text(max_size=600))
def test_classify_never_raises(tax: Taxonomy, title: str, body: str) -> None:
    topics, evidence = tax.classify(title, body)
    assert [e["topic"] for e in evidence] == topics
    assert set(topics) <= set(tax.ids)
    assert all(e["score"] > 0 and e["terms"] for e in evidence)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.sampled_from(["执行", "执行难", "法院", "执行任务", "失信被执行人", "ＣＰＩ", "NBA", "\n", "白银市", "的", "A"]), max_size=40))
def test_classify_never_raises_on_term_soup(tax: Taxonomy, parts: list[str]) -> None:
    text = "".join(parts)
    tax.classify(text[:10], text)
    tax.scores(text, text)


def test_classify_handles_odd_input(tax: Taxonomy) -> None:
    assert tax.classify("", "") == ([], [])
    assert tax.classify(None, None) == ([], [])
    assert tax.classify("\ud800法院", "执行难\udfff\x00法院") is not None  # lone surrogates, NUL


def test_taxonomy_survives_pickling_for_worker_processes(tax: Taxonomy) -> None:
    title, body = seed_story()
    copy = pickle.loads(pickle.dumps(tax))
    assert copy.classify(title, body) == tax.classify(title, body)
    assert copy.taxonomy_hash() == tax.taxonomy_hash() and copy.ids == tax.ids


def test_scores_lists_unassigned_topics_too(tax: Taxonomy) -> None:
    scores = {s.topic: s for s in tax.scores("", "查封冻结财产，冻结存款。")}
    assert "judicial_enforcement" in scores and not scores["judicial_enforcement"].assigned


# --- editing and validation ------------------------------------------------------------------------


def test_editing_a_copy_changes_labels_and_hash(tmp_path: Path, tax: Taxonomy) -> None:
    copy = tmp_path / "topics.toml"
    shutil.copyfile(DEFAULT_PATH, copy)
    text = "一场冰壶友谊赛在兰州举行。"
    assert "sports" not in tax.classify("", text)[0]
    edited = copy.read_text(encoding="utf-8")
    edited = edited.replace('label_en = "Sports"', 'label_en = "Sport & fitness"')
    edited = edited.replace('"滑雪" = 1.5', '"滑雪" = 1.5\n"冰壶" = 3.0')
    copy.write_text(edited, encoding="utf-8")
    new = load_taxonomy(copy)
    assert new.labels("en")["sports"] == "Sport & fitness"
    assert "sports" in new.classify("", text)[0]
    assert new.taxonomy_hash() != tax.taxonomy_hash() == taxonomy_hash()
    assert taxonomy_hash(copy) == new.taxonomy_hash()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t + t[t.index("[[topic]]") :], r"duplicate topic id 'sports'"),
        (lambda t: t.replace('label_zh = "体育"', 'label_zh = ""'), r"topic 'sports'\.label_zh: must be a non-empty string"),
        (lambda t: t.replace('"足球" = 2.0', '"足球" = -1'), r"topic 'sports'\.terms\['足球'\]: must be a positive number"),
        (lambda t: t.replace('"足球" = 2.0', '"足球" = 0'), r"terms\['足球'\]: must be a positive number"),
        (lambda t: t.replace('"足球" = 2.0', '"足球" = "high"'), r"terms\['足球'\]"),
        (lambda t: t.replace('id = "sports"', 'id = "Sports!"'), r"'Sports!' must be lower-case"),
        (lambda t: t.replace('label_en = "Sports"\n', 'label_en = "Sports"\nexlude = ["x"]\n'), r"topic #1 \('sports'\): unknown key\(s\) \['exlude'\]"),
        (lambda t: t.replace('label_en = "Sports"\n', 'label_en = "Sports"\nexclude = ["足球"]\n'), r"\['足球'\] listed both as term and in exclude"),
        (lambda t: t.replace('definition = { en = "Sport.", zh = "体育。" }', 'definition = "Sport."'), r"topic 'sports'\.definition"),
        (lambda t: t.replace('label_en = "Sports"\n', ""), r"missing required key 'label_en'"),
        (lambda t: t.replace("threshold = 3.0", "threshold = 0"), r"threshold: must be a positive number"),
        (lambda t: t.replace("threshold = 3.0", "min_share = 2"), r"min_share"),
        (lambda t: t.replace("[[topic]]", "[[topics]]"), r"unknown top-level key"),
        (lambda t: t.replace('"足球" = 2.0', '"足球" = 2.0\n"足球" = 1.0'), r"not valid UTF-8 TOML"),
        (lambda t: t.replace('"足球" = 2.0\n"比赛" = 1.0', ""), r"topic 'sports'\.terms: must be a non-empty table"),
    ],
    ids=[
        "duplicate-id",
        "empty-label",
        "negative-weight",
        "zero-weight",
        "string-weight",
        "bad-id",
        "unknown-key",
        "term-also-excluded",
        "definition-not-table",
        "missing-label",
        "zero-threshold",
        "bad-min-share",
        "misspelt-topic-table",
        "duplicate-term-key",
        "no-terms",
    ],
)
def test_invalid_taxonomy_raises_a_clear_error(tmp_path: Path, edit: Callable[[str], str], message: str) -> None:
    path = write_taxonomy(tmp_path / "bad.toml", edit(MINIMAL))
    with pytest.raises(TaxonomyError, match=message):
        load_taxonomy(path)


def test_lint_reports_exclusions_that_cannot_matter(tmp_path: Path) -> None:
    text = MINIMAL.replace('label_en = "Sports"\n', 'label_en = "Sports"\nexclude = ["足球场外", "篮板"]\n')
    warnings = load_taxonomy(write_taxonomy(tmp_path / "t.toml", text)).lint()
    assert warnings == ["topic 'sports': exclude '篮板' contains none of its terms"]


def test_min_share_of_drops_a_topic_dwarfed_by_another(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + """
[[topic]]
id = "money"
label_zh = "钱"
label_en = "Money"
definition = { en = "Money.", zh = "钱。" }
min_share_of = { sports = 0.5 }
[topic.terms]
"银行" = 3.0
"""
    )
    tax = load_taxonomy(write_taxonomy(tmp_path / "t.toml", text))
    assert tax.classify("", "足球比赛足球比赛，足球足球，银行")[0] == ["sports"]  # money 3 < 0.5 x sports
    assert set(tax.classify("", "足球比赛，银行银行银行")[0]) == {"sports", "money"}
    assert {s.topic for s in tax.scores("", "足球比赛足球比赛，足球足球，银行")} == {"sports", "money"}
    with pytest.raises(TaxonomyError, match="unknown topic 'nope'"):
        load_taxonomy(write_taxonomy(tmp_path / "u.toml", text.replace("sports = 0.5", "nope = 0.5")))
    with pytest.raises(TaxonomyError, match="against itself"):
        load_taxonomy(write_taxonomy(tmp_path / "v.toml", text.replace("sports = 0.5", "money = 0.5")))
    with pytest.raises(TaxonomyError, match="positive"):
        load_taxonomy(write_taxonomy(tmp_path / "w.toml", text.replace("sports = 0.5", "sports = -1")))
    assert pickle.loads(pickle.dumps(tax)).classify("", "足球比赛足球比赛，足球足球，银行")[0] == ["sports"]


def test_missing_taxonomy_file_raises(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="cannot read taxonomy file"):
        load_taxonomy(tmp_path / "nope.toml")
    with pytest.raises(TaxonomyError, match="cannot read taxonomy file"):
        taxonomy_hash(tmp_path / "nope.toml")
