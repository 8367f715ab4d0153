"""The real app in a real browser: `streamlit run app.py -- --dataset DIR` + headless Chromium.

Checks that every page renders its charts and tables with the numbers pandas computes from the
Parquet files, that the map draws offline from the app's own static files, and that hostile
scraped text stays inert. Screenshots go to tests/screenshots/ (git-ignored).

Skipped only when /usr/bin/chromium is missing and CI is not "true" (in CI they must run).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import HOSTILE_MARKDOWN_TITLE, HOSTILE_OUTLET, HOSTILE_SCRIPT_TITLE

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "tests" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOAD_TIMEOUT_MS = 45_000

if not CHROMIUM.exists() and os.environ.get("CI") != "true":
    pytest.skip("/usr/bin/chromium not installed (install: apt-get install -y chromium fonts-noto-cjk)", allow_module_level=True)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


# --- the server and the browser ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, dataset: Path, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log, "w")  # closed in stop()
        cmd = [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.port", str(self.port), "--server.address", "127.0.0.1", "--server.headless", "true",
            "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
            "--", "--dataset", str(dataset),
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}; see {log}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"streamlit did not start within 60 s; see {log}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(sample_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(sample_dataset, tmp_path_factory.mktemp("logs") / "streamlit.log")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def hostile_server(hostile_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = Server(hostile_dataset, tmp_path_factory.mktemp("logs") / "streamlit-hostile.log")
    yield s
    s.stop()


class Tab:
    """One browser page that records dialogs, failed requests and requests to other hosts."""

    def __init__(self, browser: Any, base: str) -> None:
        self.base = base
        self.ctx = browser.new_context(viewport={"width": 1400, "height": 2200}, locale="zh-CN")
        self.page = self.ctx.new_page()
        self.dialogs: list[str] = []
        self.external: list[str] = []
        self.failed: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("request", lambda r: self.external.append(r.url) if not r.url.startswith(base) and not r.url.startswith("data:") else None)
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 and "/_stcore/" not in r.url else None)

    def open(self, path: str, ready: str = '[data-testid="stMainBlockContainer"] h1') -> Any:
        self.page.goto(self.base + path, wait_until="domcontentloaded")
        self.page.wait_for_selector(ready, timeout=LOAD_TIMEOUT_MS)
        self.settle()
        return self.page

    def settle(self) -> None:
        """Wait until the script run is over (no 'running' status) and skeletons are gone."""
        self.page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidget\"]') && !document.querySelector('[data-testid=\"stSkeleton\"]')",
            timeout=LOAD_TIMEOUT_MS,
        )

    def plots(self, n: int) -> list[list[dict[str, Any]]]:
        """Trace data of the page's Plotly charts, after at least ``n`` are drawn."""
        self.page.wait_for_function(
            f"() => {{ const g = document.querySelectorAll('.js-plotly-plot'); return g.length >= {n} && Array.from(g).every(x => x.data && x.querySelector('.main-svg')); }}",
            timeout=LOAD_TIMEOUT_MS,
        )
        return self.page.evaluate(
            "() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(g => g.data.map(t => ({type: t.type, name: t.name, x: t.x, y: t.y, z: t.z, locations: t.locations})))"
        )

    def metrics(self) -> dict[str, str]:
        return self.page.evaluate(
            """() => Object.fromEntries(Array.from(document.querySelectorAll('[data-testid="stMetric"]')).map(m => [
                m.querySelector('[data-testid="stMetricLabel"]').innerText.trim(), m.querySelector('[data-testid="stMetricValue"]').innerText.trim()]))"""
        )

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.ctx.close()


@pytest.fixture(scope="module")
def arts(sample_dataset: Path) -> pd.DataFrame:
    df = pq.read_table(sample_dataset / "articles").to_pandas()
    df["day"] = df["published_at"].dt.tz_convert("Asia/Shanghai").dt.date
    return df[df["duplicate_of"].isna()]


# --- every page with the sample dataset --------------------------------------------------------------


def test_every_page_in_chromium(browser: Any, server: Server, arts: pd.DataFrame, sample_dataset: Path) -> None:
    tab = Tab(browser, server.url)
    try:
        # Overview: headline numbers and the topic chart
        tab.open("/?lang=en")
        m = tab.metrics()
        assert m["Articles matching filters"] == f"{len(arts):,}"
        assert m["Outlets"] == f"{arts['outlet'].nunique():,}"
        plots = tab.plots(2)
        topic_bars = plots[1]
        want = arts["topics"].explode().dropna().value_counts()
        got = {y: x for tr in topic_bars for x, y in zip(tr["x"], tr["y"], strict=True)}
        assert sorted(got.values(), reverse=True) == [float(v) for v in want.tolist()]
        tab.shot("overview")

        # Trends: the default view (court enforcement across Gansu prefectures by month)
        page = tab.open("/trends?lang=en")
        page.wait_for_function("() => location.search.includes('topic=judicial_enforcement')", timeout=LOAD_TIMEOUT_MS)
        assert "prov=620000" in page.url
        lines = [t for t in tab.plots(1)[0] if t["name"] != "Spikes"]
        je = arts[(arts["province_code"] == "620000") & arts["prefecture_code"].notna() & arts["day"].notna()]
        je = je[je["topics"].map(lambda t: "judicial_enforcement" in list(t))]
        assert len(lines) == je["prefecture_code"].nunique()
        assert sum(sum(v for v in t["y"] if v) for t in lines) == len(je)
        tab.shot("trends")

        # Map: the Gansu prefectures drawn from the app's own static GeoJSON, offline
        page = tab.open("/map?lang=en")
        chart = tab.plots(1)[0][0]
        page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .choroplethlayer path').length >= 14", timeout=LOAD_TIMEOUT_MS)
        gansu = arts[arts["province_code"] == "620000"].groupby("prefecture_code").size()
        z = dict(zip([loc[3:] for loc in chart["locations"]], chart["z"], strict=True))
        for code, n in gansu.items():
            assert z[code] == n, code
        assert sum(z.values()) == gansu.sum()
        tab.shot("map")
        # clicking an area makes it the region filter of every view
        target = gansu.index[0]
        point = page.evaluate(
            """(loc) => {
                const gd = document.querySelector('.js-plotly-plot');
                const i = gd.data[0].locations.indexOf(loc);
                const path = gd.querySelectorAll('.choroplethlayer .trace')[0].querySelectorAll('path.choroplethlocation')[i];
                const b = path.getBBox(), m = path.getScreenCTM();
                for (let fy = 0.5, k = 0; k < 400; k++) {
                    const fx = (k % 20 + 0.5) / 20; fy = (Math.floor(k / 20) + 0.5) / 20;
                    const pt = new DOMPoint(b.x + fx * b.width, b.y + fy * b.height);
                    if (path.isPointInFill(pt)) { const s = pt.matrixTransform(m); return [s.x, s.y]; }
                }
                return null;
            }""",
            "156" + target,
        )
        assert point is not None
        page.mouse.click(point[0], point[1])
        page.wait_for_function("(code) => location.search.includes('pref=' + code)", arg=target, timeout=LOAD_TIMEOUT_MS)
        tab.settle()
        assert "prov=620000" in page.url

        # Agencies: the ranking chart's top organ
        tab.open("/agencies?lang=en")
        men = pq.read_table(sample_dataset / "agency_mentions").to_pandas()
        men = men[men["article_id"].isin(set(arts["article_id"]))]
        top = men.groupby("name")["article_id"].nunique().sort_values(ascending=False)
        ranking = tab.plots(1)[0]
        values = {y: x for tr in ranking for x, y in zip(tr["x"], tr["y"], strict=True)}
        assert values[top.index[0]] == top.iloc[0]
        tab.shot("agencies")

        # Articles: the list count and one article with highlighted evidence
        aid = men["article_id"].value_counts().index[0]
        page = tab.open(f"/articles?lang=en&article={aid}", ready=".article-body")
        assert f"{len(arts):,} articles" in page.inner_text('[data-testid="stMainBlockContainer"]')
        assert page.locator(".article-body mark.ev-agency").count() >= 1
        assert page.locator('[data-testid="stDataFrame"]').count() >= 2
        tab.shot("articles")

        # Data quality: the no-date / no-region counts
        tab.open("/quality?lang=en")
        m = tab.metrics()
        assert m["No date"] == f"{int(arts['day'].isna().sum()):,}"
        assert m["No region"] == f"{int(arts['province_code'].isna().sum()):,}"
        tab.plots(1)
        tab.shot("quality")

        assert not tab.failed, tab.failed
        assert not tab.external, f"requests left the app: {tab.external[:5]}"
        assert not tab.dialogs
    finally:
        tab.close()


def test_sidebar_filter_updates_numbers_and_url(browser: Any, server: Server, arts: pd.DataFrame) -> None:
    tab = Tab(browser, server.url)
    try:
        want = f"{int((arts['province_code'] == '620000').sum()):,}"
        page = tab.open("/?lang=en")
        box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Province")
        box.click()
        page.get_by_role("option", name="Gansu 甘肃省").click()
        page.wait_for_function("() => location.search.includes('prov=620000')", timeout=LOAD_TIMEOUT_MS)
        page.wait_for_function(
            "(want) => Array.from(document.querySelectorAll('[data-testid=\"stMetricValue\"]')).some(e => e.innerText.trim() === want)",
            arg=want,
            timeout=LOAD_TIMEOUT_MS,
        )
        tab.settle()
        assert tab.metrics()["Articles matching filters"] == want
        # both download buttons hand over the filtered articles (the bytes are made on click)
        gansu = set(arts.loc[arts["province_code"] == "620000", "article_id"])
        got: dict[str, pd.DataFrame] = {}
        for fmt in ("csv", "parquet"):
            with page.expect_download(timeout=LOAD_TIMEOUT_MS) as dl:
                page.locator(f".st-key-dl_{fmt} button").click()
            assert dl.value.suggested_filename == f"articles.{fmt}"
            path = dl.value.path()
            got[fmt] = pd.read_csv(path, encoding="utf-8-sig") if fmt == "csv" else pq.read_table(path).to_pandas()
        for df in got.values():
            assert gansu <= set(df["article_id"]) and set(df["province_code"].astype(str)) == {"620000"}
        assert got["csv"]["article_id"].tolist() == got["parquet"]["article_id"].tolist()
        # the link restores the view in a fresh session
        url = page.url
        tab2 = Tab(tab.page.context.browser, server.url)
        try:
            tab2.open(url.replace(server.url, ""))
            assert tab2.metrics()["Articles matching filters"] == want
        finally:
            tab2.close()
    finally:
        tab.close()


# --- hostile text --------------------------------------------------------------------------------------


def test_hostile_text_is_inert(browser: Any, hostile_server: Server, hostile_dataset: Path) -> None:
    arts = pq.read_table(hostile_dataset / "articles").to_pandas()
    script_id = arts.loc[arts["title"] == HOSTILE_SCRIPT_TITLE, "article_id"].iloc[0]
    md_id = arts.loc[arts["title"] == HOSTILE_MARKDOWN_TITLE, "article_id"].iloc[0]
    long_id = arts.loc[arts["title"].str.len() > 100_000, "article_id"].iloc[0]
    tab = Tab(browser, hostile_server.url)
    check = """() => ({
        pwned: typeof window.__pwned === 'undefined' ? null : String(window.__pwned),
        jsLinks: document.querySelectorAll('a[href^="javascript:" i], a[href^="data:" i], [src^="javascript:" i]').length,
        handlers: document.querySelectorAll('[onerror], [onmouseover], [onclick], [onload]').length,
        badImgs: document.querySelectorAll('img[src="x"]').length,
        strongFromMarkdown: Array.from(document.querySelectorAll('strong, b')).filter(e => e.innerText.includes('加粗') || e.innerText.includes('粗体')).length,
    })"""
    try:
        pages = [
            ("/?lang=en", None),
            ("/trends?lang=en", None),
            ("/agencies?lang=en", None),
            ("/quality?lang=en", None),
            (f"/articles?lang=en&article={script_id}", ".article-body"),
            (f"/articles?lang=en&article={md_id}", ".article-body"),
            (f"/articles?lang=en&article={long_id}", ".article-body"),
        ]
        for path, ready in pages:
            page = tab.open(path, ready=ready or '[data-testid="stMainBlockContainer"] h1')
            page.wait_for_timeout(500)
            state = page.evaluate(check)
            assert state == {"pwned": None, "jsLinks": 0, "handlers": 0, "badImgs": 0, "strongFromMarkdown": 0}, (path, state)
            text = page.inner_text("body")
            if script_id in path:
                assert HOSTILE_SCRIPT_TITLE in text  # shown literally
                assert '<img src=x onerror="window.__pwned=2">' in text
                assert "javascript:alert(1)" in text  # the URL, as text, not a link
                tab.shot("hostile_article")
            if md_id in path:
                assert HOSTILE_MARKDOWN_TITLE in text
                assert "data:text/html,<script>window.__pwned=5</script>" in text
            if long_id in path:
                assert "超长标题长长长" in text
            if path.startswith("/quality"):
                svg_text = page.evaluate("() => Array.from(document.querySelectorAll('.js-plotly-plot text')).map(t => t.textContent).join('\\n')")
                assert HOSTILE_OUTLET[:30] in svg_text  # outlet label literal in the chart
        assert not tab.dialogs, tab.dialogs
        assert page.evaluate("() => typeof window.__pwned") == "undefined"
    finally:
        tab.close()


# --- full-text search --------------------------------------------------------------------------------


def search_in_browser(tab: Tab, term: str, mark: str | None = None) -> tuple[float, Any]:
    """Type ``term`` into the sidebar search on the Articles page; seconds until the hits and the table show.

    ``mark`` is the matched text the table's snippets must show (default: the term).
    """
    page = tab.open("/articles?lang=en")
    box = page.locator(".st-key-w_q input")
    box.fill(term)
    start = time.perf_counter()
    box.press("Enter")
    page.wait_for_function("() => /match the search/.test(document.querySelector('[data-testid=\"stSidebar\"]').innerText)", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_function(
        "(t) => Array.from(document.querySelectorAll('[data-testid=\"stDataFrame\"]')).some(d => d.textContent.includes('⟦' + t + '⟧'))",
        arg=mark or term,
        timeout=LOAD_TIMEOUT_MS,
    )
    return time.perf_counter() - start, page


def test_typing_a_search_term(browser: Any, server: Server, sample_dataset: Path) -> None:
    every = pq.read_table(sample_dataset / "articles").to_pandas()
    term = "人民法院"
    hit = every["title"].fillna("").str.contains(term, regex=False) | every["body"].fillna("").str.contains(term, regex=False)
    assert 0 < hit.sum() < len(every)
    tab = Tab(browser, server.url)
    try:
        seconds, page = search_in_browser(tab, term)
        page.wait_for_function("() => location.search.includes('q=')", timeout=LOAD_TIMEOUT_MS)
        tab.settle()
        sidebar = page.inner_text('[data-testid="stSidebar"]')
        assert f"{int(hit.sum()):,} articles (copies included) match the search" in sidebar
        unique = int((hit & every["duplicate_of"].isna()).sum())
        assert f"{unique:,} articles" in page.inner_text('[data-testid="stMainBlockContainer"]')
        assert seconds < 10, seconds  # the 1M figure is bench/bench_search.py's
        tab.shot("search")
        # the search goes with the link to every other page
        tab.open(page.url.replace(server.url, "").replace("/articles", "/"))
        assert tab.metrics()["Articles matching filters"] == f"{unique:,}"
        # a malformed query says so instead of failing
        page = tab.open("/articles?lang=en")
        page.locator(".st-key-w_q input").fill('"人民')
        page.locator(".st-key-w_q input").press("Enter")
        page.wait_for_function("() => /quote is not closed/.test(document.body.innerText)", timeout=LOAD_TIMEOUT_MS)
        assert not tab.failed, tab.failed
    finally:
        tab.close()
