"""Chart builders, the spike rule, trend arithmetic, safe rendering and URL filter parsing (no Streamlit)."""

from __future__ import annotations

import datetime as dt
import html
import math

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import charts
from dashboard.filters import FilterOptions, Filters, from_query, to_query
from dashboard.safe import Span, highlight_html, http_url, locate, plotly_text, resolve_spans

# --- spike rule ------------------------------------------------------------------------------------


def test_flat_series_has_no_spikes() -> None:
    assert charts.spike_flags([5] * 20) == [False] * 20


def test_jump_after_flat_history_is_a_spike() -> None:
    values = [4, 5, 4, 5, 4, 5, 30, 5]
    flags = charts.spike_flags(values)
    assert flags == [False, False, False, False, False, False, True, False]


def test_spike_needs_at_least_min_count_articles() -> None:
    # a zero history: threshold 0 + 3 x floor(1) = 3; 4 is a spike only if min_count allows it
    assert charts.spike_flags([0, 0, 0, 0, 0, 0, 3]) == [False] * 7
    assert charts.spike_flags([0, 0, 0, 0, 0, 0, 4])[-1] is True
    assert charts.spike_flags([0, 0, 0, 0, 0, 0, 4], min_count=5)[-1] is False


def test_mad_floor_keeps_small_wobbles_quiet() -> None:
    assert charts.spike_flags([4, 4, 4, 5, 4, 6, 5]) == [False] * 7
    assert charts.spike_flags([4, 4, 4, 5], mad_floor=0.0)[-1] is True  # the unfloored rule would flag it


def test_spike_needs_history() -> None:
    # a big value in the third period has only two previous periods: never a spike
    assert charts.spike_flags([0, 0, 50]) == [False, False, False]
    assert charts.spike_flags([0, 0, 0, 50])[-1] is True


def test_spike_uses_only_the_previous_window() -> None:
    # an old burst (more than 6 periods back) does not inflate the baseline
    values = [100, 100, 100, 1, 1, 1, 1, 1, 1, 20]
    assert charts.spike_flags(values)[-1] is True
    # inside the window the burst raises median/MAD and hides a moderate value
    assert charts.spike_flags([1, 1, 1, 100, 100, 100, 20])[-1] is False


def test_spike_threshold_is_median_plus_three_mad() -> None:
    hist = [10, 12, 14, 10, 12, 14]  # median 12, MAD 2 -> threshold 18
    assert charts.spike_flags([*hist, 18])[-1] is False
    assert charts.spike_flags([*hist, 18.5])[-1] is True


def test_spike_on_shares_uses_counts_for_the_minimum() -> None:
    shares = [0.01] * 6 + [0.5]
    assert charts.spike_flags(shares, [1] * 6 + [2], mad_floor=0.01)[-1] is False
    assert charts.spike_flags(shares, [1] * 6 + [3], mad_floor=0.01)[-1] is True
    assert charts.spike_flags(shares, [1] * 6 + [3])[-1] is False  # a floor of 1 is meant for counts


def test_spike_ignores_nan_history_and_nan_values() -> None:
    nan = math.nan
    assert charts.spike_flags([nan, 1, 1, 1, 9]) == [False, False, False, False, True]
    assert charts.spike_flags([1, 1, 1, nan]) == [False] * 4
    with pytest.raises(ValueError):
        charts.spike_flags([1, 2], [1])


# --- trend table -----------------------------------------------------------------------------------


def _num() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": pd.to_datetime(["2020-01-01", "2020-03-01", "2020-01-01", "2020-04-01"]),
            "region": ["620100", "620100", "620500", "620500"],
            "articles": [2, 4, 1, 6],
        }
    )


def test_trend_table_fills_missing_periods_with_zero() -> None:
    den = pd.DataFrame({"period": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01"]), "articles": [10, 5, 8, 12]})
    t = charts.trend_table(_num(), den, "month", series_col="region", den_by_series=False)
    lz = t[t["series"] == "620100"].sort_values("period")
    assert lz["count"].tolist() == [2, 0, 4, 0]
    assert lz["total"].tolist() == [10, 5, 8, 12]
    assert lz["share"].tolist() == pytest.approx([0.2, 0.0, 0.5, 0.0])
    # series ordered by total count: 620500 (7) before 620100 (6)
    assert t["series"].drop_duplicates().tolist() == ["620500", "620100"]


def test_trend_table_denominator_per_series() -> None:
    den = pd.DataFrame(
        {
            "period": pd.to_datetime(["2020-01-01", "2020-03-01", "2020-01-01", "2020-04-01"]),
            "region": ["620100", "620100", "620500", "620500"],
            "articles": [4, 4, 2, 6],
        }
    )
    t = charts.trend_table(_num(), den, "month", series_col="region", den_by_series=True)
    tz = t[t["series"] == "620500"].sort_values("period")
    assert tz["total"].tolist() == [2, 0, 0, 6]
    assert tz["share"].iloc[0] == pytest.approx(0.5)
    assert math.isnan(tz["share"].iloc[1])  # no coverage at all: share undefined, not 0
    assert tz["share"].iloc[3] == pytest.approx(1.0)


def test_trend_table_weeks_and_max_series() -> None:
    num = pd.DataFrame({"period": pd.to_datetime(["2024-01-01", "2024-01-15"] * 3), "s": ["a", "a", "b", "b", "c", "c"], "articles": [5, 5, 3, 3, 1, 1]})
    t = charts.trend_table(num, pd.DataFrame(), "week", series_col="s", den_by_series=False, max_series=2)
    assert sorted(t["series"].unique()) == ["a", "b"]
    assert len(t[t["series"] == "a"]) == 3  # 1, 8, 15 January (Mondays)


def test_mark_spikes_per_series() -> None:
    periods = pd.date_range("2020-01-01", periods=8, freq="MS")
    num = pd.DataFrame({"period": list(periods) * 2, "s": ["x"] * 8 + ["y"] * 8, "articles": [2] * 7 + [20] + [2] * 8})
    t = charts.mark_spikes(charts.trend_table(num, pd.DataFrame(), "month", series_col="s", den_by_series=False), "count")
    assert t[t["spike"]]["series"].tolist() == ["x"]
    assert t[t["spike"]]["period"].tolist() == [periods[-1]]


# --- figures (each is rebuilt with Plotly's validation to prove the specs are valid) ---------------


def _valid(fig: go.Figure) -> dict[str, object]:
    return go.Figure(fig.to_dict()).to_dict()


def test_trend_figure_lines_and_spike_markers() -> None:
    periods = pd.date_range("2020-01-01", periods=8, freq="MS")
    num = pd.DataFrame({"period": periods, "s": "<script>x</script>", "articles": [2] * 7 + [20]})
    t = charts.mark_spikes(charts.trend_table(num, pd.DataFrame(), "month", series_col="s", den_by_series=False), "count")
    fig = charts.trend_figure(t, measure="count", series_labels={}, y_title="Articles", spike_label="Spikes")
    d = _valid(fig)
    assert len(d["data"]) == 2
    line, spikes = d["data"]
    assert list(line["y"]) == [2.0] * 7 + [20.0]
    assert line["name"] == "&lt;script&gt;x&lt;/script&gt;"
    assert list(spikes["y"]) == [20.0]
    assert spikes["marker"]["symbol"] == "triangle-up"


def test_trend_figure_share_axis_is_percent() -> None:
    num = pd.DataFrame({"period": pd.to_datetime(["2020-01-01"]), "s": ["a"], "articles": [1]})
    den = pd.DataFrame({"period": pd.to_datetime(["2020-01-01"]), "articles": [4]})
    t = charts.mark_spikes(charts.trend_table(num, den, "month", series_col="s", den_by_series=False), "share")
    d = _valid(charts.trend_figure(t, measure="share", series_labels={"a": "A"}, y_title="Share", spike_label="S"))
    assert d["layout"]["yaxis"]["tickformat"] == ".0%"
    assert list(d["data"][0]["y"]) == [0.25]


def test_bar_figure_escapes_labels_and_keeps_order() -> None:
    fig = charts.bar_figure(["<a href='javascript:alert(1)'>x</a>", "b"], [3, 1], colors=["court", "party"], color_names=["法院", "党委"], color_order=["party", "court"])
    d = _valid(fig)
    ys = [y for tr in d["data"] for y in tr["y"]]
    assert "&lt;a href='javascript:alert(1)'&gt;x&lt;/a&gt;" in ys
    assert not any("<a" in y for y in ys)
    assert d["layout"]["yaxis"]["categoryarray"][-1].startswith("&lt;a")  # first label drawn at the top
    assert [tr["name"] for tr in d["data"]] == ["法院", "党委"]
    assert d["data"][1]["marker"]["color"] == charts.PALETTE[0]  # colour follows color_order, not appearance


def test_heatmap_figure() -> None:
    df = pd.DataFrame({"m": ["2020-01", "2020-02", "2020-01"], "o": ["A", "A", "<b>B</b>"], "n": [1, 2, 3]})
    d = _valid(charts.heatmap_figure(df, x="m", y="o", z="n", y_order=["<b>B</b>", "A"]))
    assert list(d["data"][0]["y"]) == ["&lt;b&gt;B&lt;/b&gt;", "A"]
    assert [list(r) for r in d["data"][0]["z"]] == [[3, 0], [1, 2]]


def test_choropleth_figure_offline_settings() -> None:
    fig = charts.choropleth_figure(["620100", "620200"], [5, 0], ["兰州市", "<i>嘉峪关</i>"], geojson="app/static/geo/x.geojson", selected="620200")
    d = _valid(fig)
    main, outline = d["data"]
    assert list(main["locations"]) == ["156620100", "156620200"]
    assert main["featureidkey"] == "properties.gb"
    assert main["geojson"] == "app/static/geo/x.geojson"
    assert list(main["text"]) == ["兰州市", "&lt;i&gt;嘉峪关&lt;/i&gt;"]
    assert list(outline["locations"]) == ["156620200"]
    assert d["layout"]["geo"]["fitbounds"] == "locations"
    assert d["layout"]["geo"]["visible"] is False


# --- safe rendering --------------------------------------------------------------------------------


def test_highlight_html_escapes_everything_but_its_own_marks() -> None:
    text = '<script>alert(1)</script> 兰州中院 <img src=x onerror="y"> **md**'
    i = text.index("兰州中院")
    out = highlight_html(text, [Span(i, i + 4, "agency", 'note "<b>"')])
    assert "<script>" not in out and "<img" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert '<mark class="ev-agency"' in out and ">兰州中院</mark>" in out
    assert 'title="note &quot;&lt;b&gt;&quot;"' in out
    assert out.count("<mark") == 1
    assert html.unescape(out.replace("</mark>", "").split(">", 1)[1]).find("**md**") > 0


def test_resolve_spans_drops_overlaps_by_priority() -> None:
    spans = [Span(0, 4, "topic", "t"), Span(0, 4, "agency", "a"), Span(2, 6, "region", "r"), Span(10, 12, "topic", "t2"), Span(-1, 3, "topic", "bad")]
    kept = resolve_spans(spans, 11)
    assert [(s.start, s.kind) for s in kept] == [(0, "agency")]  # 10..12 runs past the end


def test_locate_prefers_the_recorded_offset() -> None:
    text = "法院 法院 法院"
    assert locate(text, "法院", 3) == [3]
    assert locate(text, "法院", 1) == [0, 3, 6]  # offset does not match: every occurrence
    assert locate(text, "", 0) == []


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://example.org/a", True),
        ("https://example.org/a?b=1", True),
        ("HTTPS://EXAMPLE.ORG", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        (" javascript:alert(1)", False),
        ("data:text/html,<script>x</script>", False),
        ("//evil.example/x", False),
        ("http:///nohost", False),
        ("https://exa mple.org", False),
        ("https://example.org/\nx", False),
        ("ftp://example.org", False),
        (None, False),
        ("", False),
    ],
)
def test_http_url(url: str | None, ok: bool) -> None:
    assert (http_url(url) is not None) is ok


def test_plotly_text_truncates_and_escapes() -> None:
    s = plotly_text("<b>" + "x" * 500, 20)
    assert s.startswith("&lt;b&gt;") and s.endswith("…") and len(html.unescape(s)) == 20


# --- URL filters -----------------------------------------------------------------------------------

OPTS = FilterOptions(
    provinces=frozenset({"620000", "110000"}),
    prefecture_parent={"620100": "620000", "620700": "620000"},
    county_parent={"620722": "620700"},
    topics=frozenset({"courts", "judicial_enforcement"}),
    organs=frozenset({"兰州市中级人民法院"}),
    outlets=frozenset({"兰州日报"}),
    sites=frozenset({"yybnet.net"}),
    min_day=dt.date(2000, 1, 1),
    max_day=dt.date(2024, 1, 1),
)


def test_round_trip_through_the_url() -> None:
    f = Filters(dt.date(2020, 1, 1), dt.date(2021, 6, 30), "620000", "620700", "620722", "courts", "court", "兰州市中级人民法院", "兰州日报", "yybnet.net", "法院 执行", False)
    assert from_query(to_query(f), OPTS) == f
    assert to_query(Filters()) == {}


def test_unknown_or_malformed_values_are_ignored() -> None:
    q = {
        "prov": "../../etc/passwd",
        "pref": "999999",
        "county": "62072",
        "topic": "<script>",
        "atype": "court; DROP TABLE x",
        "organ": "不存在的机构",
        "outlet": "/etc/passwd",
        "site": "evil.example",
        "from": "2020-13-45",
        "to": "yesterday",
        "copies": "yes",
    }
    assert from_query(q, OPTS) == Filters()


def test_parents_follow_the_finest_valid_region() -> None:
    assert from_query({"county": "620722"}, OPTS) == Filters(province="620000", prefecture="620700", county="620722")
    assert from_query({"prov": "110000", "pref": "620100"}, OPTS) == Filters(province="620000", prefecture="620100")


def test_search_is_bounded_and_printable() -> None:
    f = from_query({"q": "法院\x00" + "x" * 1000}, OPTS)
    assert len(f.search) <= 200 and "\x00" not in f.search
    assert Filters(search="a b a c").terms == ("a", "b", "c")


def test_reversed_dates_are_swapped_and_lists_take_the_last_value() -> None:
    f = from_query({"from": "2022-01-01", "to": "2021-01-01", "topic": ["x", "courts"]}, OPTS)
    assert (f.date_from, f.date_to, f.topic) == (dt.date(2021, 1, 1), dt.date(2022, 1, 1), "courts")


def test_vectorised_spikes_match_the_reference_rule() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    periods = pd.date_range("2015-01-01", periods=60, freq="MS")
    rows = []
    for s in ("a", "b", "c"):
        base = rng.poisson(rng.integers(0, 8), len(periods))
        base[rng.integers(0, len(periods), 4)] += rng.integers(5, 40, 4)
        rows += [{"period": p, "s": s, "articles": int(v)} for p, v in zip(periods, base, strict=True) if v]
    num = pd.DataFrame(rows)
    den = pd.DataFrame({"period": periods, "articles": rng.integers(40, 60, len(periods))})
    for measure in ("count", "share"):
        t = charts.mark_spikes(charts.trend_table(num, den, "month", series_col="s", den_by_series=False), measure)
        assert t["spike"].any()
        for _, sub in t.groupby("series"):
            sub = sub.sort_values("period")
            col = "count" if measure == "count" else "share"
            want = charts.spike_flags(sub[col].tolist(), sub["count"].tolist(), mad_floor=charts.SPIKE_MAD_FLOOR[measure])
            assert sub["spike"].tolist() == want


# --- labels ------------------------------------------------------------------------------------------


def test_region_labels_fall_back_gracefully(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dashboard.labels import Regions, load_topics

    assert Regions.load(tmp_path / "missing.csv").label("620100", "en") == "620100"
    csv = tmp_path / "divisions.csv"
    csv.write_text("code,level,name,parent_code\n620100,prefecture,兰州市,620000\n", encoding="utf-8")
    r = Regions.load(csv)  # no pinyin column
    assert r.label("620100", "zh") == "兰州市" and r.label("620100", "en") == "兰州市"
    csv.write_text("code,level,name,parent_code,pinyin\n620100,prefecture,兰州市,620000,lan zhou\n", encoding="utf-8")
    r = Regions.load(csv)
    assert r.label("620100", "en") == "Lanzhou 兰州市" and r.label(None, "en") == "unknown"
    r.add_names([("629999", "某地"), ("620100", "别名")])
    assert r.label("629999", "zh") == "某地" and r.label("620100", "zh") == "兰州市"
    bad = tmp_path / "topics.toml"
    bad.write_text("[[topic]\nbroken", encoding="utf-8")
    assert load_topics(bad) == {}
    assert "judicial_enforcement" in load_topics()


def test_csv_export_defuses_spreadsheet_formulas() -> None:
    import pyarrow as pa

    from dashboard.queries import to_csv_bytes

    table = pa.table({"title": ["=HYPERLINK(\"http://evil\")", "+1", "兰州中院", None], "n": [1, 2, 3, 4]})
    text = to_csv_bytes(table).decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'+1" in text
    assert "\n兰州中院," in text  # ordinary text untouched
