"""Boundary files for the Map page (served from ``static/geo`` by Streamlit's static file serving).

The browser loads the GeoJSON itself from the URLs below (relative to the page, so they work under a
``server.baseUrlPath`` too); the server reads only the feature codes and names, once.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"
GEO_DIR = STATIC / "geo"
STATIC_URL = "app/static/"
TOPOJSON_URL = STATIC_URL + "geo/plotly_topojson/"
FILES = {
    "gansu_prefectures": "tianditu_gansu_prefectures.geojson",
    "gansu_counties": "tianditu_gansu_counties.geojson",
    "china_provinces": "tianditu_china_provinces.geojson",
}
# prefecture-level cities without county-level divisions: drawn as one unit on the county map
CITIES_WITHOUT_COUNTIES = frozenset({"620200"})


def url(level: str) -> str:
    return STATIC_URL + "geo/" + FILES[level]


@lru_cache(maxsize=8)
def features(level: str) -> tuple[tuple[str, str], ...]:
    """(GB/T 2260 code, name) of every area of the level's file; () when the file is missing or bad."""
    try:
        doc = json.loads((GEO_DIR / FILES[level]).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError):
        return ()
    out: list[tuple[str, str]] = []
    for feat in doc.get("features", []) if isinstance(doc, dict) else []:
        props = feat.get("properties") or {}
        gb = str(props.get("gb") or "")
        if len(gb) == 9 and gb.startswith("156") and gb[3:].isdigit():
            out.append((gb[3:], str(props.get("name") or gb[3:])))
    return tuple(sorted(out))
