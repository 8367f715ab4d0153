"""Dashboard entry point.

    streamlit run app.py                       # reads ./dataset (next to this file)
    streamlit run app.py -- --dataset DIR      # any dataset built by `python -m pipelines build`

Only routing lives here: the pages are scripts in dashboard/pages/, data access is dashboard/data.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import streamlit as st

APP_DIR = Path(__file__).resolve().parent
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

from dashboard import data, ui  # noqa: E402
from dashboard.i18n import tr  # noqa: E402

PAGES = (  # url path, script, title key, icon
    ("overview", "dashboard/pages/overview.py", "page_overview", ":material/dashboard:"),
    ("trends", "dashboard/pages/trends.py", "page_trends", ":material/trending_up:"),
    ("map", "dashboard/pages/map.py", "page_map", ":material/map:"),
    ("agencies", "dashboard/pages/agencies.py", "page_agencies", ":material/account_balance:"),
    ("articles", "dashboard/pages/articles.py", "page_articles", ":material/article:"),
    ("quality", "dashboard/pages/quality.py", "page_quality", ":material/fact_check:"),
)


def dataset_root(argv: list[str]) -> Path:
    parser = argparse.ArgumentParser(prog="streamlit run app.py --", add_help=False)
    parser.add_argument("--dataset", type=Path, default=None)
    args, _ = parser.parse_known_args(argv)
    return args.dataset if args.dataset is not None else APP_DIR / "dataset"


def _icon() -> Any:
    """A small local favicon (a named icon would be fetched from Google's font CDN)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((1, 1, 31, 31), radius=6, fill=(31, 119, 180, 255))
    draw.rectangle((8, 20, 24, 24), fill=(255, 255, 255, 255))
    draw.rectangle((10, 9, 13, 19), fill=(255, 255, 255, 255))
    draw.rectangle((19, 9, 22, 19), fill=(255, 255, 255, 255))
    draw.polygon([(6, 9), (16, 4), (26, 9)], fill=(255, 255, 255, 255))
    return img


def main() -> None:
    root = dataset_root(sys.argv[1:])
    st.set_page_config(page_title="Gansu news · 甘肃新闻", page_icon=_icon(), layout="wide")
    ui.begin_run()
    try:
        lang = ui.language()
        pages = [
            st.Page(str(APP_DIR / script), title=tr(title, lang), icon=icon, url_path=slug, default=slug == "overview")
            for slug, script, title, icon in PAGES
        ]
        page = st.navigation(pages)
        ds = data.open_dataset(root)
        if isinstance(ds, data.Problem):
            ui.problem_page(ds, lang)
            return
        with ui.guard(root, lang):
            st.session_state["_ctx"] = ui.sidebar(ds, lang, page.url_path)
            page.run()
    finally:
        ui.sync_url()


main()
