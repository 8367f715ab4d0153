"""Map: Gansu's prefectures or counties, or China's provinces, coloured by count or share.

Clicking an area (or choosing it in the select box) makes it the region filter of every view.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import charts, geo
from dashboard import data as D
from dashboard.labels import GANSU
from dashboard.ui import Ctx, ctx, keep, page_choice, request_filters, text_table

LEVELS = ("gansu_prefectures", "gansu_counties", "china_provinces")
MEASURES = ("count", "share")


def _apply(level: str, code: str | None) -> None:
    request_filters(**_changes(level, code))


def _on_pick(level: str, key: str) -> None:
    code = st.session_state.get(key)
    st.session_state["_pending"] = {**st.session_state.get("_pending", {}), **_changes(level, code)}


def _changes(level: str, code: str | None) -> dict[str, str | None]:
    if level == "china_provinces":
        return {"province": code, "prefecture": None, "county": None}
    if level == "gansu_prefectures":
        return {"province": GANSU if code else None, "prefecture": code, "county": None}
    if code and code in geo.CITIES_WITHOUT_COUNTIES:
        return {"province": GANSU, "prefecture": code, "county": None}
    return {"province": GANSU if code else None, "prefecture": None, "county": code}


def _values(c: Ctx, level: str) -> tuple[pd.DataFrame, str | None]:
    f = c.f
    if level == "china_provinces":
        fm = f.without("region")
        selected = f.province
    elif level == "gansu_prefectures":
        fm = replace(f.without("region"), province=GANSU)
        selected = f.prefecture if f.province == GANSU else None
    else:
        pref = f.prefecture if f.province == GANSU and f.prefecture not in geo.CITIES_WITHOUT_COUNTIES else None
        fm = replace(f.without("region"), province=GANSU, prefecture=pref)
        selected = f.county or (f.prefecture if f.prefecture in geo.CITIES_WITHOUT_COUNTIES else None)
    base = fm.without("topic", "agency_type", "organ", "search")
    if level == "gansu_counties":
        num = D.counts(c.ds, fm, by=["prefecture_code", "county_code"])
        den = D.counts(c.ds, base, by=["prefecture_code", "county_code"])
        for df in (num, den):
            df["code"] = df["county_code"].where(df["county_code"].notna(), df["prefecture_code"].where(df["prefecture_code"].isin(geo.CITIES_WITHOUT_COUNTIES)))
    else:
        col = "province_code" if level == "china_provinces" else "prefecture_code"
        num = D.counts(c.ds, fm, by=[col]).rename(columns={col: "code"})
        den = D.counts(c.ds, base, by=[col]).rename(columns={col: "code"})
    n = num.dropna(subset=["code"]).groupby("code")["articles"].sum()
    t = den.dropna(subset=["code"]).groupby("code")["articles"].sum()
    feats = geo.features(level)
    out = pd.DataFrame({"code": [code for code, _ in feats], "geo_name": [name for _, name in feats]})
    out["articles"] = out["code"].map(n).fillna(0).astype(int)
    out["total"] = out["code"].map(t).fillna(0).astype(int)
    out["share"] = (out["articles"] / out["total"].where(out["total"] > 0)).fillna(0.0)
    return out, selected


def render(c: Ctx) -> None:
    st.title(c.t("page_map"))
    level, measure = _controls(c)
    if not st.get_option("server.enableStaticServing"):
        st.warning(c.t("mp_no_static"))
        st.code("cd <repository> && streamlit run app.py -- --dataset DIR", language="bash")

    table, selected = _values(c, level)
    table["name"] = [c.region(code) if c.regions.name(code) else name for code, name in zip(table["code"], table["geo_name"], strict=True)]
    _map_chart(c, table, level, measure, selected)
    st.caption(c.t("mp_note"))
    _area_picker(c, table, level, selected)
    _area_table(c, table)


def _controls(c: Ctx) -> tuple[str, str]:
    """Map level and measure: radios whose choice survives page switches and is in the URL."""
    level_labels = {lv: c.t("mp_" + lv) for lv in LEVELS}
    col1, col2 = st.columns([3, 2])
    level = col1.radio(c.t("mp_level"), LEVELS, key=page_choice("level", LEVELS, "gansu_prefectures"), format_func=level_labels.__getitem__, horizontal=True)
    keep("level", level, "gansu_prefectures")
    measure_labels = {"count": c.t("tr_count"), "share": c.t("tr_share")}
    measure = col2.radio(c.t("tr_measure"), MEASURES, key=page_choice("map_measure", MEASURES, "count"), format_func=measure_labels.__getitem__, horizontal=True)
    keep("map_measure", measure, "count")
    return level, measure


def _map_chart(c: Ctx, table: pd.DataFrame, level: str, measure: str, selected: str | None) -> None:
    """The choropleth; clicking an area other than the selected one makes it the region filter.

    The chart key carries a nonce that changes on each click, so the redrawn chart starts without a
    selection.
    """
    values = table["articles"] if measure == "count" else table["share"]
    fig = charts.choropleth_figure(
        table["code"].tolist(),
        values.tolist(),
        table["name"].tolist(),
        geojson=geo.url(level),
        counts=table["articles"].tolist(),
        measure=measure,
        value_title=c.t("articles") if measure == "count" else c.t("share"),
        selected=selected,
    )
    nonce = st.session_state.get("_map_nonce", 0)
    event = st.plotly_chart(
        fig,
        key=f"map_chart_{level}_{nonce}",
        on_select="rerun",
        selection_mode=("points",),
        config={"topojsonURL": geo.TOPOJSON_URL, "displaylogo": False, "scrollZoom": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]},
    )
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else getattr(getattr(event, "selection", None), "points", [])
    if points:
        loc = str(points[0].get("location") or "")
        code = loc[3:] if loc.startswith("156") and len(loc) == 9 else None
        if code and code != selected:
            st.session_state["_map_nonce"] = nonce + 1
            _apply(level, code)


def _area_picker(c: Ctx, table: pd.DataFrame, level: str, selected: str | None) -> None:
    """A select box of the areas with data (most articles first), set to the selected area each run."""
    pick_key = f"map_pick_{level}"
    with_data = table[table["total"] > 0].sort_values("articles", ascending=False)
    choices: list[str | None] = [None, *with_data["code"].tolist()]
    if selected not in choices:
        choices.append(selected)
    st.session_state[pick_key] = selected
    label_of = dict(zip(table["code"], table["name"], strict=True))
    st.selectbox(
        c.t("mp_select"),
        choices,
        key=pick_key,
        format_func=lambda x: c.t("all") if x is None else label_of.get(x, c.region(x)),
        on_change=_on_pick,
        args=(level, pick_key),
        placeholder=c.t("all"),
    )


def _area_table(c: Ctx, table: pd.DataFrame) -> None:
    shown = table.sort_values(["articles", "total"], ascending=False)
    text_table(
        pd.DataFrame(
            {
                c.t("area"): shown["name"],
                c.t("code"): shown["code"],
                c.t("articles"): shown["articles"],
                c.t("total"): shown["total"],
                c.t("share"): shown["share"],
            }
        ),
        key="map_table",
        column_config={c.t("share"): st.column_config.NumberColumn(format="percent")},
    )


render(ctx())
