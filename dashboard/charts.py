"""Chart builders and the trend arithmetic: pure functions of DataFrames, no Streamlit.

Every string that can come from the data is passed through ``safe.plotly_text`` before it reaches
a figure (Plotly interprets some HTML in labels).

Spike rule (``spike_flags``): a period is a spike when its value is greater than the median of the
previous ``window`` (6) periods plus ``k`` (3) times their median absolute deviation (MAD), and the
period has at least ``min_count`` (3) articles. The MAD is floored at ``mad_floor`` (1 article for
counts, 1 percentage point for shares) so that a perfectly flat history does not turn every small
wobble into a spike. Periods with fewer than ``min_history`` (3) previous periods are never spikes.
Missing periods count as 0 articles (series are filled first).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from statistics import median
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.safe import plotly_text

SPIKE_WINDOW = 6
SPIKE_K = 3.0
SPIKE_MIN_COUNT = 3
SPIKE_MIN_HISTORY = 3
SPIKE_MAD_FLOOR = {"count": 1.0, "share": 0.01}
# ColorBrewer "Blues", light to dark (given as stops: plotly.js's named "Blues" runs the other way)
BLUES = [[0.0, "#f7fbff"], [0.125, "#deebf7"], [0.25, "#c6dbef"], [0.375, "#9ecae1"], [0.5, "#6baed6"], [0.625, "#4292c6"], [0.75, "#2171b5"], [0.875, "#08519c"], [1.0, "#08306b"]]
FREQ = {"day": "D", "week": "W-MON", "month": "MS", "year": "YS"}
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
)  # fmt: skip


def spike_flags(
    values: Sequence[float],
    counts: Sequence[float] | None = None,
    *,
    window: int = SPIKE_WINDOW,
    k: float = SPIKE_K,
    min_count: float = SPIKE_MIN_COUNT,
    min_history: int = SPIKE_MIN_HISTORY,
    mad_floor: float = 1.0,
) -> list[bool]:
    """Flags per period: value > median(prev window) + k·max(MAD(prev window), mad_floor) and count ≥ min_count."""
    vals = [float(v) if v is not None else math.nan for v in values]
    cnts = [float(c) for c in counts] if counts is not None else vals
    if len(cnts) != len(vals):
        raise ValueError("values and counts differ in length")
    flags: list[bool] = []
    for i, v in enumerate(vals):
        hist = [h for h in vals[max(0, i - window) : i] if not math.isnan(h)]
        if math.isnan(v) or len(hist) < min_history or not (cnts[i] >= min_count):
            flags.append(False)
            continue
        med = median(hist)
        mad = max(median(abs(h - med) for h in hist), mad_floor)
        flags.append(v > med + k * mad)
    return flags


def period_range(start: pd.Timestamp, end: pd.Timestamp, period: str) -> pd.DatetimeIndex:
    return pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq=FREQ[period])


def trend_table(
    num: pd.DataFrame,
    den: pd.DataFrame,
    period: str,
    *,
    series_col: str,
    den_by_series: bool,
    max_series: int = 15,
) -> pd.DataFrame:
    """Counts and shares per (period, series), zero-filled over the full period range, with spikes.

    ``num``: columns period, <series_col>, articles. ``den``: columns period, [<series_col>],
    articles (all coverage under the same filters minus the measured one). Returns columns
    period, series, count, total, share, spike; series ordered by their total count.
    """
    cols = ["period", "series", "count", "total", "share", "spike"]
    if num.empty:
        return pd.DataFrame({c: [] for c in cols})
    num = num.assign(period=pd.to_datetime(num["period"]))
    has_den = not den.empty
    den = den.assign(period=pd.to_datetime(den["period"])) if has_den else den
    starts = [num["period"].min()] + ([den["period"].min()] if has_den else [])
    ends = [num["period"].max()] + ([den["period"].max()] if has_den else [])
    idx = period_range(min(starts), max(ends), period)
    order = num.groupby(series_col)["articles"].sum().sort_values(ascending=False, kind="stable")
    keep = [s for s in order.index.tolist() if order[s] > 0][:max_series]
    if not keep:
        return pd.DataFrame({c: [] for c in cols})
    counts = num[num[series_col].isin(keep)].pivot_table(index="period", columns=series_col, values="articles", aggfunc="sum").reindex(index=idx, columns=keep).fillna(0)
    if not has_den:
        totals = pd.DataFrame(0, index=idx, columns=keep)
    elif den_by_series:
        totals = den[den[series_col].isin(keep)].pivot_table(index="period", columns=series_col, values="articles", aggfunc="sum").reindex(index=idx, columns=keep).fillna(0)
    else:
        per = den.groupby("period")["articles"].sum().reindex(idx, fill_value=0)
        totals = pd.DataFrame({k: per.to_numpy() for k in keep}, index=idx)
    c = counts.to_numpy(dtype=float).T.ravel()  # series-major: all periods of series 1, then series 2...
    t = totals.to_numpy(dtype=float).T.ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(t > 0, c / np.where(t > 0, t, 1), np.nan)
    out = pd.DataFrame(
        {
            "period": np.tile(idx.to_numpy(), len(keep)),
            "series": np.repeat(np.array(keep, dtype=object), len(idx)),
            "count": c.astype(np.int64),
            "total": t.astype(np.int64),
            "share": share,
            "spike": False,
        }
    )
    return out[cols]


def mark_spikes(table: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Set the ``spike`` column per series on the displayed measure (count or share), vectorised.

    Same rule as ``spike_flags`` (the readable reference; tests check that the two agree).
    """
    if table.empty:
        return table
    out = table.copy()
    ordered = out.assign(_s=pd.factorize(out["series"])[0]).sort_values(["_s", "period"], kind="stable")
    col = "count" if measure == "count" else "share"
    floor = SPIKE_MAD_FLOOR[measure]
    values = ordered[col].to_numpy(dtype=float)
    cnts = ordered["count"].to_numpy(dtype=float)
    groups = ordered["_s"].to_numpy()
    flags = np.zeros(len(ordered), dtype=bool)
    bounds = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1], True])
    for a, b in itertools.pairwise(bounds):
        v = values[a:b]
        n = len(v)
        if n <= SPIKE_MIN_HISTORY:
            continue
        padded = np.concatenate([np.full(SPIKE_WINDOW, np.nan), v])
        win = np.lib.stride_tricks.sliding_window_view(padded, SPIKE_WINDOW)[:n]  # the previous 6 values of each period
        hist_n = np.sum(~np.isnan(win), axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
            med = np.nanmedian(win, axis=1)
            mad = np.nanmedian(np.abs(win - med[:, None]), axis=1)
        mad = np.maximum(np.nan_to_num(mad, nan=floor), floor)
        ok = (hist_n >= SPIKE_MIN_HISTORY) & ~np.isnan(v) & (cnts[a:b] >= SPIKE_MIN_COUNT)
        with np.errstate(invalid="ignore"):
            flags[a:b] = ok & (v > med + SPIKE_K * mad)
    out.loc[ordered.index, "spike"] = flags
    out["spike"] = out["spike"].astype(bool)
    return out


def _figure(data: list[dict[str, Any]], layout: dict[str, Any]) -> go.Figure:
    """A figure from plain dicts, built without Plotly's per-property validation (≈10x faster).

    The dicts use only documented Plotly attributes; tests rebuild every figure with validation on.
    """
    return go.Figure(data=data, layout=layout, _validate=False)


def _margins() -> dict[str, int]:
    return {"l": 10, "r": 10, "t": 30, "b": 10}


def trend_figure(
    table: pd.DataFrame,
    *,
    measure: str,
    series_labels: Mapping[object, str],
    y_title: str,
    spike_label: str,
    height: int = 460,
) -> go.Figure:
    """Lines per series; spikes as red triangles. ``measure`` is 'count' or 'share'."""
    col = "count" if measure == "count" else "share"
    data: list[dict[str, Any]] = []
    for i, (s, sub) in enumerate(table.groupby("series", sort=False)):
        label = plotly_text(series_labels.get(s, str(s)))
        sub = sub.sort_values("period")
        data.append(
            {
                "type": "scatter",
                "x": np.datetime_as_string(sub["period"].to_numpy(), unit="D").tolist(),
                "y": [None if v != v else float(v) for v in sub[col].tolist()],
                "mode": "lines+markers" if len(sub) <= 60 else "lines",
                "name": label,
                "line": {"color": PALETTE[i % len(PALETTE)], "width": 2},
                "marker": {"size": 5},
                "customdata": [[int(a), int(b)] for a, b in zip(sub["count"], sub["total"], strict=True)],
                "hovertemplate": f"{label}<br>%{{x|%Y-%m-%d}}<br>%{{y}}<br>n=%{{customdata[0]}} / %{{customdata[1]}}<extra></extra>",
            }
        )
    spikes = table[table["spike"].astype(bool)] if not table.empty else table
    if not spikes.empty:
        data.append(
            {
                "type": "scatter",
                "x": np.datetime_as_string(spikes["period"].to_numpy(), unit="D").tolist(),
                "y": [float(v) for v in spikes[col].tolist()],
                "mode": "markers",
                "name": plotly_text(spike_label),
                "marker": {"symbol": "triangle-up", "size": 13, "color": "#d62728", "line": {"color": "white", "width": 1}},
                "text": [plotly_text(series_labels.get(s, str(s))) for s in spikes["series"]],
                "hovertemplate": "%{text}<br>%{x|%Y-%m-%d}: %{y}<extra>▲</extra>",
            }
        )
    yaxis: dict[str, Any] = {"title": {"text": plotly_text(y_title)}, "rangemode": "tozero"}
    if measure == "share":
        yaxis["tickformat"] = ".0%"
    layout = {
        "height": height,
        "margin": _margins(),
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        "showlegend": True,
        "hovermode": "closest",
        "xaxis": {"type": "date"},
        "yaxis": yaxis,
    }
    return _figure(data, layout)


def bar_figure(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    colors: Sequence[str] | None = None,
    color_names: Sequence[str] | None = None,
    color_order: Sequence[str] | None = None,
    x_title: str = "",
    horizontal: bool = True,
    height: int | None = None,
    percent: bool = False,
) -> go.Figure:
    """A bar chart of labelled values, first label at the top; optional colour groups (with legend)."""
    text_labels = [plotly_text(x, 60) for x in labels]
    groups: dict[str, list[int]] = {}
    if colors is None:
        groups[""] = list(range(len(labels)))
    else:
        for i, c in enumerate(colors):
            groups.setdefault(c, []).append(i)
    names = list(color_names) if color_names is not None else None
    order = list(color_order) if color_order is not None else list(groups)
    data: list[dict[str, Any]] = []
    for g, idx in groups.items():
        gi = order.index(g) if g in order else len(order) + list(groups).index(g)
        xs = [float(values[i]) for i in idx]
        ys = [text_labels[i] for i in idx]
        data.append(
            {
                "type": "bar",
                "x": xs if horizontal else ys,
                "y": ys if horizontal else xs,
                "orientation": "h" if horizontal else "v",
                "name": (plotly_text(names[idx[0]]) if names else plotly_text(g)) if g else "",
                "marker": {"color": PALETTE[gi % len(PALETTE)]},
                "showlegend": bool(g),
                "hovertemplate": "%{y}: %{x}<extra></extra>" if horizontal else "%{x}: %{y}<extra></extra>",
            }
        )
    cat_axis = {"categoryorder": "array", "automargin": True}
    val_axis: dict[str, Any] = {"title": {"text": plotly_text(x_title)}}
    if percent:
        val_axis["tickformat"] = ".0%"
    layout: dict[str, Any] = {
        "height": height or max(260, 26 * len(labels) + 80),
        "margin": _margins(),
        "barmode": "stack",
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    }
    if horizontal:
        layout["yaxis"] = {**cat_axis, "categoryarray": list(reversed(text_labels))}
        layout["xaxis"] = val_axis
    else:
        layout["xaxis"] = {**cat_axis, "categoryarray": text_labels}
        layout["yaxis"] = val_axis
    return _figure(data, layout)


def heatmap_figure(
    df: pd.DataFrame,
    *,
    x: str,
    y: str,
    z: str,
    y_labels: Mapping[object, str] | None = None,
    y_order: Sequence[object] | None = None,
    z_title: str = "",
    height: int | None = None,
) -> go.Figure:
    """Heatmap of z over (x, y); y categories in ``y_order`` (top first), labels escaped."""
    rows = list(y_order) if y_order is not None else sorted(df[y].dropna().unique().tolist())
    pivot = df.pivot_table(index=y, columns=x, values=z, aggfunc="sum", fill_value=0).reindex(rows, fill_value=0)
    labels = [plotly_text((y_labels or {}).get(r, str(r)), 40) for r in rows]
    data = [
        {
            "type": "heatmap",
            "z": pivot.to_numpy().tolist(),
            "x": [plotly_text(c, 40) for c in pivot.columns],
            "y": labels,
            "colorscale": BLUES,
            "colorbar": {"title": {"text": plotly_text(z_title)}},
            "hovertemplate": "%{y}<br>%{x}<br>%{z}<extra></extra>",
        }
    ]
    layout = {
        "height": height or max(300, 24 * len(rows) + 120),
        "margin": _margins(),
        "yaxis": {"autorange": "reversed", "automargin": True, "type": "category"},
        "xaxis": {"type": "category"},
    }
    return _figure(data, layout)


def choropleth_figure(
    codes: Sequence[str],
    values: Sequence[float],
    names: Sequence[str],
    *,
    geojson: str | dict[str, object],
    counts: Sequence[float] | None = None,
    measure: str = "count",
    value_title: str = "",
    selected: str | None = None,
    height: int = 560,
) -> go.Figure:
    """Areas coloured by value; matched on GeoJSON ``properties.gb`` = "156" + code.

    ``geojson`` may be a URL (the browser fetches it; keeps the figure small) or a dict. The base
    map is hidden and the view fits the areas. The selected area gets a thick red outline.
    """
    locs = ["156" + c for c in codes]
    data = [_choropleth_areas(codes, locs, values, names, geojson=geojson, counts=counts, measure=measure, value_title=value_title)]
    if selected and selected in codes:
        data.append(_choropleth_outline(locs[list(codes).index(selected)], geojson))
    layout = {
        "height": height,
        "margin": {"l": 0, "r": 0, "t": 10, "b": 0},
        "clickmode": "event+select",
        "dragmode": False,
        "geo": {"fitbounds": "locations", "visible": False, "projection": {"type": "mercator"}},
    }
    return _figure(data, layout)


def _choropleth_areas(
    codes: Sequence[str],
    locs: Sequence[str],
    values: Sequence[float],
    names: Sequence[str],
    *,
    geojson: str | dict[str, object],
    counts: Sequence[float] | None,
    measure: str,
    value_title: str,
) -> dict[str, Any]:
    """The coloured areas (names escaped; the hover shows the value and the article count)."""
    safe_names = [plotly_text(n, 40) for n in names]
    cnt = list(counts) if counts is not None else list(values)
    colorbar: dict[str, Any] = {"title": {"text": plotly_text(value_title)}}
    if measure == "share":
        colorbar["tickformat"] = ".0%"
    return {
        "type": "choropleth",
        "geojson": geojson,
        "featureidkey": "properties.gb",
        "locations": list(locs),
        "z": [float(v) for v in values],
        "text": safe_names,
        "customdata": [[c, int(n)] for c, n in zip(codes, cnt, strict=True)],
        "colorscale": BLUES,
        "zmin": 0,
        "marker": {"line": {"color": "#555", "width": 0.6}},
        "colorbar": colorbar,
        "hovertemplate": "%{text}<br>%{z" + (":.1%" if measure == "share" else "") + "}<br>n=%{customdata[1]}<extra></extra>",
        "name": "",
    }


def _choropleth_outline(loc: str, geojson: str | dict[str, object]) -> dict[str, Any]:
    """A transparent trace over the selected area that only draws its thick red outline."""
    return {
        "type": "choropleth",
        "geojson": geojson,
        "featureidkey": "properties.gb",
        "locations": [loc],
        "z": [1],
        "colorscale": [[0, "rgba(0,0,0,0)"], [1, "rgba(0,0,0,0)"]],
        "showscale": False,
        "marker": {"line": {"color": "#d62728", "width": 3}},
        "hoverinfo": "skip",
        "name": "",
    }
