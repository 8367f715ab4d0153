"""The dashboard through Streamlit's AppTest: every page, every filter, URL state, bad datasets.

Expected numbers are computed here from the dataset's Parquet files with pandas (independently of
the dashboard's DuckDB queries). The datasets are built with the real CLI (conftest fixtures).
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import HOSTILE_SCRIPT_TITLE
from streamlit.testing.v1 import AppTest

from dashboard import queries as Q
from dashboard.filters import Filters
from dashboard.i18n import tr

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
PAGES = ("overview", "trends", "map", "agencies", "articles", "quality")
TITLES = {"overview": "page_overview", "trends": "page_trends", "map": "page_map", "agencies": "page_agencies", "articles": "page_articles", "quality": "page_quality"}
FIX = "python -m pipelines build --input DIR --dataset"

pytestmark = pytest.mark.timeout(300)


# --- helpers -------------------------------------------------------------------------------------


def make_app(ds: Path, monkeypatch: pytest.MonkeyPatch, query: dict[str, str] | None = None) -> AppTest:
    monkeypatch.setattr(sys, "argv", ["app.py", "--dataset", str(ds)])
    at = AppTest.from_file(str(APP), default_timeout=60)
    if query:
        at.query_params.update(query)
    return at


def goto(at: AppTest, page: str) -> AppTest:
    """Switch to a page (after a first run) and rerun."""
    at.switch_page(f"dashboard/pages/{page}.py")
    return at.run()


def clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return values[-1]


def matching(at: AppTest, lang: str = "zh") -> int:
    return int(metric(at, tr("matching", lang)).replace(",", ""))


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    for d in at.dataframe:
        if column in d.value.columns:
            return d.value
    raise AssertionError(f"no table with column {column!r}")


@pytest.fixture(scope="module")
def arts(sample_dataset: Path) -> pd.DataFrame:
    df = pq.read_table(sample_dataset / "articles").to_pandas()
    df["day"] = df["published_at"].dt.tz_convert("Asia/Shanghai").dt.date
    return df


@pytest.fixture(scope="module")
def mentions(sample_dataset: Path) -> pd.DataFrame:
    return pq.read_table(sample_dataset / "agency_mentions").to_pandas()


def expected(df: pd.DataFrame, mentions: pd.DataFrame | None = None, **f: Any) -> int:
    """Count of articles under filters, computed with pandas from the articles table."""
    m = pd.Series(True, index=df.index)
    if f.get("unique", True):
        m &= df["duplicate_of"].isna()
    for col in ("province_code", "prefecture_code", "county_code", "outlet", "site"):
        if f.get(col):
            m &= df[col] == f[col]
    if f.get("topic"):
        m &= df["topics"].map(lambda ts: ts is not None and f["topic"] in list(ts))
    if f.get("date_from"):
        m &= df["day"].map(lambda d: d is not None and not pd.isna(d) and d >= f["date_from"])
    if f.get("date_to"):
        m &= df["day"].map(lambda d: d is not None and not pd.isna(d) and d <= f["date_to"])
    if f.get("agency_type") or f.get("organ"):
        assert mentions is not None
        sel = mentions
        if f.get("agency_type"):
            sel = sel[sel["type"] == f["agency_type"]]
        if f.get("organ"):
            sel = sel[sel["name"] == f["organ"]]
        m &= df["article_id"].isin(set(sel["article_id"]))
    if f.get("search"):
        for term in f["search"].split():
            m &= df["title"].fillna("").str.contains(term, regex=False) | df["body"].fillna("").str.contains(term, regex=False)
    return int(m.sum())


# --- every page, both languages ------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, page: str, lang: str) -> None:
    at = make_app(sample_dataset, monkeypatch, {"lang": lang} if lang == "en" else None).run()
    goto(at, page)
    clean(at)
    assert at.title[0].value == tr(TITLES[page], lang)
    # the sidebar filters are on every page
    for key in ("w_dates", "w_prov", "w_topic", "w_atype", "w_organ", "w_outlet", "w_site", "w_q", "w_unique"):
        assert at.session_state[key] is not None or key in ("w_prov", "w_topic", "w_atype", "w_organ", "w_outlet", "w_site")


def test_overview_numbers(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame) -> None:
    at = make_app(sample_dataset, monkeypatch).run()
    clean(at)
    n = len(arts)
    assert metric(at, tr("ov_articles", "zh")) == f"{n:,}"
    assert metric(at, tr("ov_unique", "zh")) == f"{int(arts['duplicate_of'].isna().sum()):,}"
    assert metric(at, tr("ov_outlets", "zh")) == f"{arts['outlet'].nunique():,}"
    assert metric(at, tr("ov_known_date", "zh")) == f"{arts['day'].notna().sum() / n:.1%}"
    assert metric(at, tr("ov_known_region", "zh")) == f"{arts['province_code'].notna().sum() / n:.1%}"
    lo, hi = min(d for d in arts["day"] if not pd.isna(d)), max(d for d in arts["day"] if not pd.isna(d))
    assert metric(at, tr("ov_span", "zh")) == f"{lo} – {hi}"
    assert matching(at) == expected(arts)
    manifest = frame_with(at, tr("field", "zh"))
    assert "finished_at" in manifest[tr("field", "zh")].tolist()


# --- trends --------------------------------------------------------------------------------------


def test_trends_default_view_is_court_enforcement_in_gansu_by_month(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame) -> None:
    at = goto(make_app(sample_dataset, monkeypatch).run(), "trends")
    clean(at)
    assert at.session_state["w_topic"] == "judicial_enforcement"
    assert at.session_state["w_prov"] == "620000"
    assert at.query_params["topic"] == ["judicial_enforcement"] or at.query_params["topic"] == "judicial_enforcement"
    assert at.radio(key="p_by").value == "region" and at.radio(key="p_period").value == "month"
    table = frame_with(at, tr("series", "zh"))
    sel = arts[arts["duplicate_of"].isna() & (arts["province_code"] == "620000") & arts["prefecture_code"].notna() & arts["day"].notna()]
    sel = sel[sel["topics"].map(lambda t: "judicial_enforcement" in list(t))]
    assert len(sel) > 0, "the sample should hold Gansu court-enforcement stories"
    assert int(table[tr("articles", "zh")].sum()) == len(sel)
    by_pref = sel.groupby("prefecture_code").size()
    got = table.groupby(tr("series", "zh"))[tr("articles", "zh")].sum()
    assert sorted(got.tolist()) == sorted(by_pref.tolist())
    # the default applies once: clearing the filters sticks when coming back
    at.button(key="w_reset").click().run()
    goto(at, "overview")
    goto(at, "trends")
    assert at.session_state["w_topic"] is None


@pytest.mark.parametrize("by", ["region", "topic", "agency_type"])
@pytest.mark.parametrize("measure", ["count", "share"])
def test_trends_breakdowns_and_measures(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame, by: str, measure: str) -> None:
    at = make_app(sample_dataset, monkeypatch, {"by": by, "measure": measure, "period": "year", "copies": "1"}).run()
    goto(at, "trends")
    clean(at)
    assert at.radio(key="p_by").value == by and at.radio(key="p_measure").value == measure
    table = frame_with(at, tr("series", "zh"))
    shares = table[tr("share", "zh")].dropna()
    assert ((shares >= 0) & (shares <= 1)).all()
    dated = arts[arts["day"].notna()]
    if by == "topic":
        assert int(table[tr("articles", "zh")].sum()) == int(dated["topics"].map(len).sum())
        # the denominator of a topic share is all coverage in the period
        per_year = dated.groupby(dated["day"].map(lambda d: d.year)).size()
        totals = table.groupby(table[tr("period", "zh")].map(lambda d: d.year))[tr("total", "zh")].max()
        assert {y: int(v) for y, v in totals.items()} == {y: int(per_year.get(y, 0)) for y in totals.index}
    if by == "region":
        assert int(table[tr("articles", "zh")].sum()) == int(dated["province_code"].notna().sum())
    if by == "agency_type":
        types = dated["agencies"].map(lambda a: len({x["type"] for x in a}) if a is not None else 0)
        assert int(table[tr("articles", "zh")].sum()) == int(types.sum()) > 0
    for period in ("day", "week", "month"):
        at.radio(key="p_period").set_value(period).run()
        clean(at)


# --- every sidebar filter --------------------------------------------------------------------------


def _most_common(s: pd.Series) -> Any:
    return s.dropna().value_counts().index[0]


FILTER_CASES = ["province", "prefecture", "county", "topic", "agency_type", "organ", "outlet", "site", "search", "copies", "dates"]


@pytest.mark.parametrize("case", FILTER_CASES)
def test_each_filter_matches_pandas_and_lands_in_the_url(
    sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame, mentions: pd.DataFrame, case: str
) -> None:
    at = make_app(sample_dataset, monkeypatch).run()
    clean(at)
    total = matching(at)
    f: dict[str, Any] = {}
    if case in ("province", "prefecture", "county"):
        with_county = arts[arts["county_code"].notna()].iloc[0]
        at.selectbox(key="w_prov").set_value(with_county["province_code"]).run()
        f["province_code"], param = with_county["province_code"], ("prov", with_county["province_code"])
        if case in ("prefecture", "county"):
            at.selectbox(key="w_pref").set_value(with_county["prefecture_code"]).run()
            f["prefecture_code"], param = with_county["prefecture_code"], ("pref", with_county["prefecture_code"])
        if case == "county":
            at.selectbox(key="w_county").set_value(with_county["county_code"]).run()
            f["county_code"], param = with_county["county_code"], ("county", with_county["county_code"])
    elif case == "topic":
        topic = _most_common(arts["topics"].explode())
        at.selectbox(key="w_topic").set_value(topic).run()
        f["topic"], param = topic, ("topic", topic)
    elif case == "agency_type":
        atype = _most_common(mentions["type"])
        at.selectbox(key="w_atype").set_value(atype).run()
        f["agency_type"], param = atype, ("atype", atype)
    elif case == "organ":
        organ = _most_common(mentions["name"])
        at.selectbox(key="w_organ").set_value(organ).run()
        f["organ"], param = organ, ("organ", organ)
    elif case in ("outlet", "site"):
        value = _most_common(arts[case])
        at.selectbox(key=f"w_{case}").set_value(value).run()
        f[case], param = value, (case, value)
    elif case == "search":
        at.text_input(key="w_q").input("法院").run()
        f["search"], param = "法院", ("q", "法院")
    elif case == "copies":
        at.toggle(key="w_unique").set_value(False).run()
        f["unique"], param = False, ("copies", "1")
    else:
        d_from, d_to = dt.date(2010, 1, 1), dt.date(2019, 12, 31)
        at.date_input(key="w_dates").set_value((d_from, d_to)).run()
        f["date_from"], f["date_to"], param = d_from, d_to, ("from", "2010-01-01")
    clean(at)
    want = expected(arts, mentions, **f)
    assert matching(at) == want
    assert 0 < want and (want < total or case == "copies")
    qp = at.query_params[param[0]]
    assert param[1] in (qp if isinstance(qp, list) else [qp])
    # every page renders under the filter, and the article list agrees
    for page in PAGES:
        goto(at, page)
        clean(at)
        if page == "articles":
            cap = " ".join(c.value for c in at.caption)
            assert f"{want:,}" in cap


def test_filters_combine(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame, mentions: pd.DataFrame) -> None:
    at = make_app(sample_dataset, monkeypatch, {"prov": "620000", "atype": "court", "q": "法院"}).run()
    clean(at)
    assert matching(at) == expected(arts, mentions, province_code="620000", agency_type="court", search="法院")


def test_reset_clears_every_filter(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame) -> None:
    at = make_app(sample_dataset, monkeypatch, {"prov": "620000", "topic": "courts", "copies": "1", "q": "法院"}).run()
    assert matching(at) < len(arts)
    at.button(key="w_reset").click().run()
    clean(at)
    assert matching(at) == expected(arts)
    assert not any(k in at.query_params for k in ("prov", "topic", "copies", "q"))


# --- URL state -----------------------------------------------------------------------------------


def test_url_restores_a_shared_view(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame) -> None:
    at = make_app(sample_dataset, monkeypatch, {"prov": "620000", "topic": "courts", "copies": "1", "lang": "en", "by": "topic", "period": "year"}).run()
    clean(at)
    assert at.session_state["w_prov"] == "620000" and at.session_state["w_topic"] == "courts" and at.session_state["w_unique"] is False
    assert at.title[0].value == "Overview"
    assert matching(at, "en") == expected(arts, province_code="620000", topic="courts", unique=False)
    goto(at, "trends")
    clean(at)
    assert at.radio(key="p_by").value == "topic" and at.radio(key="p_period").value == "year"
    assert at.query_params["by"] in ("topic", ["topic"])


def test_url_values_are_validated_not_trusted(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame) -> None:
    hostile = {
        "prov": "../../etc/passwd",
        "pref": "999999",
        "topic": "<script>alert(1)</script>",
        "atype": "'; DROP TABLE articles; --",
        "organ": "/etc/passwd",
        "outlet": "../../../../etc/shadow",
        "site": "x' OR '1'='1",
        "from": "2020-13-45",
        "to": "not-a-date",
        "article": "../../.store/lock",
        "by": "rm -rf",
        "lang": "xx",
        "q": "x" * 5000,
    }
    at = make_app(sample_dataset, monkeypatch, hostile).run()
    clean(at)
    for key in ("w_prov", "w_topic", "w_atype", "w_organ", "w_outlet", "w_site"):
        assert at.session_state[key] is None
    assert len(at.session_state["w_q"]) <= 200
    assert at.title[0].value == tr("page_overview", "zh")
    goto(at, "articles")
    clean(at)
    assert "article" not in at.query_params
    at.text_input(key="w_q").input("").run()
    clean(at)
    assert at.session_state["_article"] is None
    assert "article" not in at.query_params
    goto(at, "trends")
    clean(at)
    assert at.radio(key="p_by").value == "region"


# --- map -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["gansu_prefectures", "gansu_counties", "china_provinces"])
def test_map_levels_count_what_pandas_counts(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame, level: str) -> None:
    at = make_app(sample_dataset, monkeypatch, {"level": level}).run()
    goto(at, "map")
    clean(at)
    assert len(at.get("plotly_chart")) == 1
    table = frame_with(at, tr("code", "zh")).set_index(tr("code", "zh"))[tr("articles", "zh")]
    u = arts[arts["duplicate_of"].isna()]
    if level == "china_provinces":
        want = u.groupby("province_code").size()
    elif level == "gansu_prefectures":
        want = u[u["province_code"] == "620000"].groupby("prefecture_code").size()
    else:
        g = u[u["province_code"] == "620000"]
        want = g.groupby("county_code").size()
    for code, n in want.items():
        if code in table.index:
            assert int(table[code]) == int(n), code
    assert int(table.sum()) == int(sum(n for c, n in want.items() if c in table.index))


def test_map_selection_sets_the_region_filter_everywhere(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame) -> None:
    at = goto(make_app(sample_dataset, monkeypatch).run(), "map")
    code = _most_common(arts.loc[arts["province_code"] == "620000", "prefecture_code"])
    at.selectbox(key="map_pick_gansu_prefectures").set_value(code).run()
    clean(at)
    assert at.session_state["w_prov"] == "620000" and at.session_state["w_pref"] == code
    assert at.query_params["pref"] in (code, [code])
    goto(at, "overview")
    assert matching(at) == expected(arts, province_code="620000", prefecture_code=code)


# --- agencies ------------------------------------------------------------------------------------


def test_agencies_ranking_and_organ_section(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame, mentions: pd.DataFrame) -> None:
    at = goto(make_app(sample_dataset, monkeypatch).run(), "agencies")
    clean(at)
    rank = frame_with(at, tr("mentions", "zh"))
    originals = set(arts.loc[arts["duplicate_of"].isna(), "article_id"])
    m = mentions[mentions["article_id"].isin(originals)]
    want = m.groupby("name")["article_id"].nunique().sort_values(ascending=False)
    top = rank.iloc[0]
    assert int(top[tr("articles", "zh")]) == int(want.iloc[0])
    assert int(top[tr("mentions", "zh")]) == int((m["name"] == top[tr("organ", "zh")]).sum())
    assert len(at.get("plotly_chart")) >= 2
    organ = at.selectbox(key="p_ag_organ").value
    at.button(key="ag_filter_btn").click().run()
    clean(at)
    assert at.session_state["w_organ"] == organ
    goto(at, "overview")
    assert matching(at) == expected(arts, mentions, organ=organ)


# --- articles --------------------------------------------------------------------------------------


def test_article_list_and_view_with_evidence(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame, mentions: pd.DataFrame) -> None:
    at = goto(make_app(sample_dataset, monkeypatch).run(), "articles")
    clean(at)
    listed = frame_with(at, tr("area", "zh"))
    assert len(listed) == expected(arts)
    with_agency = mentions["article_id"].iloc[0]
    at.selectbox(key="ar_pick").set_value(with_agency).run()
    clean(at)
    assert at.query_params["article"] in (with_agency, [with_agency])
    row = arts.set_index("article_id").loc[with_agency]
    bodies = [h.value for h in at.html if 'class="article-body"' in h.value]
    assert len(bodies) == 1
    body_html = bodies[0]
    assert 'class="ev-agency"' in body_html
    surface = mentions.loc[mentions["article_id"] == with_agency, "surface"].iloc[0]
    assert f">{surface}</mark>" in body_html or surface in body_html
    heads = [h.value for h in at.html if "<h3" in h.value]
    assert heads and (row["title"] or "—")[:20] in heads[0]
    # sort orders and the close button
    for sort in ("oldest", "title", "outlet", "newest"):
        at.radio(key="p_sort").set_value(sort).run()
        clean(at)
    at.button(key="ar_close").click().run()
    assert "article" not in at.query_params


def test_article_opens_from_the_url(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame) -> None:
    aid = arts["article_id"].iloc[-1]
    at = goto(make_app(sample_dataset, monkeypatch, {"article": aid}).run(), "articles")
    clean(at)
    assert at.session_state["_article"] == aid
    assert any('class="article-body"' in h.value for h in at.html) or (arts.set_index("article_id").loc[aid, "body"] or "") == ""


# --- data quality ----------------------------------------------------------------------------------


def test_quality_page_numbers(sample_dataset: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame) -> None:
    at = goto(make_app(sample_dataset, monkeypatch).run(), "quality")
    clean(at)
    u = arts[arts["duplicate_of"].isna()]
    assert metric(at, tr("dq_no_date", "zh")) == f"{int(u['day'].isna().sum()):,}"
    assert metric(at, tr("dq_no_region", "zh")) == f"{int(u['province_code'].isna().sum()):,}"
    table = frame_with(at, tr("dq_no_region", "zh"))
    assert int(table[tr("articles", "zh")].sum()) == len(u)


# --- the data layer ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(sample_dataset: Path) -> Iterator[Q.Db]:
    d = Q.connect(sample_dataset / "articles", sample_dataset / "agency_mentions", sample_dataset / "rejects", sample_dataset / "aggregates")
    yield d
    d.close()


@pytest.mark.parametrize(
    "f",
    [Filters(), Filters(unique=False), Filters(province="620000"), Filters(topic="courts"), Filters(province="620000", topic="judicial_enforcement", date_from=dt.date(2015, 1, 1))],
)
def test_coverage_and_article_index_agree(db: Q.Db, f: Filters) -> None:
    for by, period in (((), None), (("topic",), None), (("prefecture_code",), "month"), (("outlet",), "year")):
        a = Q.counts(db, f, by, period)
        b = Q.counts(db, f, by, period, force_facts=True)
        key = [c for c in a.columns if c != "articles"]
        if key:
            a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False)


def test_exports_hold_the_filtered_articles(db: Q.Db, arts: pd.DataFrame) -> None:
    f = Filters(province="620000")
    table = Q.export_table(db, f)
    assert table.num_rows == expected(arts, province_code="620000")
    back = pq.read_table(io.BytesIO(Q.to_parquet_bytes(table)))
    assert back.schema.names == table.schema.names and back.num_rows == table.num_rows
    csv = pd.read_csv(io.BytesIO(Q.to_csv_bytes(table)), encoding="utf-8-sig")
    assert len(csv) == table.num_rows and csv["article_id"].tolist() == table.column("article_id").to_pylist()


def test_queries_reject_unknown_names(db: Q.Db) -> None:
    with pytest.raises(ValueError):
        Q.counts(db, Filters(), ("title; DROP TABLE x",))
    with pytest.raises(ValueError):
        Q.article_page(db, Filters(), sort="day; DROP")
    with pytest.raises(ValueError):
        Q.period_expr("fortnight")
    assert db.part_file(db.articles_dir, "../../etc/passwd") is None
    assert db.part_file(db.articles_dir, "/etc/passwd") is None


# --- missing, empty and broken datasets -----------------------------------------------------------


def _problem_page(at: AppTest, root: Path) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert at.error, "expected a clear error message"
    codes = [c.value for c in at.code]
    assert any(FIX in c and str(root) in c for c in codes), codes


def _copy(ds: Path, dst: Path) -> Path:
    shutil.copytree(ds.resolve() / ".store" / "current", dst, symlinks=False)
    return dst


def test_no_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "nowhere"
    at = make_app(root, monkeypatch).run()
    _problem_page(at, root)
    assert tr("err_no_dataset", "zh") in at.error[0].value


def test_folder_that_is_not_a_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = make_app(tmp_path, monkeypatch).run()
    _problem_page(at, tmp_path)
    assert tr("err_not_dataset", "zh") in at.error[0].value


def test_empty_dataset_built_by_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import run_cli

    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "empty.txt").write_bytes(b"")
    ds = tmp_path / "ds"
    run_cli("build", "--input", str(inp), "--dataset", str(ds), "--workers", "1", "--no-progress")
    at = make_app(ds, monkeypatch).run()
    _problem_page(at, ds)
    assert tr("err_empty", "zh") in at.error[0].value
    assert "empty_file" in frame_with(at, tr("reason", "zh"))[tr("reason", "zh")].tolist()


@pytest.mark.parametrize("damage", ["corrupt_articles", "truncated_articles", "missing_rejects", "missing_articles", "old_schema"])
def test_broken_dataset(sample_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    ds = _copy(sample_dataset, tmp_path / "ds")
    part = sorted((ds / "articles").glob("*.parquet"))[0]
    if damage == "corrupt_articles":
        part.write_bytes(b"this is not parquet" * 100)
    elif damage == "truncated_articles":
        part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    elif damage == "missing_rejects":
        shutil.rmtree(ds / "rejects")
    elif damage == "missing_articles":
        shutil.rmtree(ds / "articles")
    else:
        t = pq.read_table(part).drop_columns(["topics"])
        pq.write_table(t, part)
    for page in ("overview", "map"):
        at = make_app(ds, monkeypatch).run()
        goto(at, page)
        _problem_page(at, ds)
        assert tr("err_broken", "zh") in at.error[0].value


def test_corrupt_aggregate_is_derived_and_reported(sample_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arts: pd.DataFrame) -> None:
    ds = _copy(sample_dataset, tmp_path / "ds")
    (ds / "aggregates" / "coverage.parquet").write_bytes(b"garbage")
    (ds / "aggregates" / "article_facts.parquet").unlink()
    at = make_app(ds, monkeypatch).run()
    clean(at)
    assert matching(at) == expected(arts)
    goto(at, "quality")
    clean(at)
    assert any("coverage.parquet" in c.value and "article_facts.parquet" in c.value for c in at.code)


# --- hostile text -----------------------------------------------------------------------------------


def test_hostile_text_never_reaches_markdown(hostile_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arts = pq.read_table(hostile_dataset / "articles").to_pandas()
    sid = arts.loc[arts["title"] == HOSTILE_SCRIPT_TITLE, "article_id"].iloc[0]
    for page in PAGES:
        at = make_app(hostile_dataset, monkeypatch, {"article": sid} if page == "articles" else None).run()
        goto(at, page)
        clean(at)
        for el in [*at.markdown, *at.caption, *at.info, *at.warning, *at.subheader, *at.title]:
            text = el.value
            assert "window.__pwned" not in text and "javascript:" not in text and "<script" not in text, (page, text[:200])
        for h in at.html:
            assert "<script" not in h.value and "<img" not in h.value and 'href="javascript' not in h.value.lower()
        if page == "articles":
            assert any("&lt;script&gt;window.__pwned=1&lt;/script&gt;" in h.value for h in at.html)
            assert not at.link_button  # javascript: URL: no link
            assert any("javascript:alert(1)" in c.value for c in at.code)  # shown as inert text


@pytest.mark.parametrize("derived", [False, True])
def test_article_page_orders_and_pages(sample_dataset: Path, tmp_path: Path, arts: pd.DataFrame, derived: bool) -> None:
    agg = None if derived else sample_dataset / "aggregates"
    d = Q.connect(sample_dataset / "articles", sample_dataset / "agency_mentions", sample_dataset / "rejects", agg)
    try:
        u = arts[arts["duplicate_of"].isna()].copy()
        u["has_day"] = u["day"].notna()
        want_newest = u.assign(d=u["day"].map(lambda x: x.toordinal() if not pd.isna(x) else 0)).sort_values(["has_day", "d", "article_id"], ascending=[False, False, True])
        want_oldest = u.assign(d=u["day"].map(lambda x: x.toordinal() if not pd.isna(x) else 0)).sort_values(["has_day", "d", "article_id"], ascending=[False, True, True])
        got = pd.concat([Q.article_page(d, Filters(), "newest", 7, off) for off in range(0, len(u), 7)])
        assert got["article_id"].tolist() == want_newest["article_id"].tolist()
        got = pd.concat([Q.article_page(d, Filters(), "oldest", 9, off) for off in range(0, len(u), 9)])
        assert got["article_id"].tolist() == want_oldest["article_id"].tolist()
        titles = Q.article_page(d, Filters(), "title", 1000, 0)["title"].dropna().tolist()
        assert titles == sorted(titles)
    finally:
        d.close()


def test_agency_type_level_counts_distinct_articles(db: Q.Db, arts: pd.DataFrame, mentions: pd.DataFrame) -> None:
    originals = set(arts.loc[arts["duplicate_of"].isna(), "article_id"])
    m = mentions[mentions["article_id"].isin(originals)].assign(level=lambda d: d["level"].fillna("?"))
    organ = m["name"].value_counts().index[0]
    for f, sel in ((Filters(), m), (Filters(agency_type="court"), m[m["type"] == "court"]), (Filters(organ=organ), m[m["name"] == organ])):
        ranking, tl = Q.agency_overview(db, f, 1000)
        want = sel.groupby(["type", "level"])["article_id"].nunique()
        got = tl.assign(level=tl["level"].fillna("?")).set_index(["type", "level"])["articles"]
        assert got.sort_index().to_dict() == want.sort_index().to_dict()
        assert ranking.set_index("name")["articles"].to_dict() == sel.groupby("name")["article_id"].nunique().to_dict()
