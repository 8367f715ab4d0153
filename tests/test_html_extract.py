"""HTML bodies on real pages: the lexbor text-density extractor keeps the story and drops page furniture.

Pages are real files from the development corpus (sample/ and eval/articles/html/, with provenance in
their SOURCES.tsv); tests/golden/html_bodies.json holds their full parsed bodies, read line by line when
recorded (regenerate: python tests/golden/regenerate_html.py, then review the diff).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import ROOT, SAMPLE
from selectolax.lexbor import LexborHTMLParser

from pipelines.parse import html as html_mod
from pipelines.parse.html import parse_html
from pipelines.parse.html_extract import extract_main_text
from pipelines.read.decode import decode_bytes

GOLDEN = Path(__file__).parent / "golden" / "html_bodies.json"
GNE = ROOT / "eval" / "articles" / "html" / "gne"
# page furniture that trafilatura left in these bodies before (recommendation lists, comment widgets,
# share bars, copyright footers, editor credits)
FURNITURE = re.compile(
    r"版权所有|copyright|all rights reserved|推荐新闻|热点新闻|态度原创|网友评论|新闻评论|加载更多|举报电话|举报邮箱|责任编辑|"
    r"新浪新闻公众号|收藏文章|表情删除后|您的浏览器|邮政编码|电子信箱|全国招投标领域年度聚焦",
    re.I,
)


def _page(path: Path) -> str:
    return decode_bytes(path.read_bytes()).text


@pytest.mark.parametrize("rel", sorted(json.loads(GOLDEN.read_text(encoding="utf-8"))))
def test_golden_html_bodies(rel: str) -> None:
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))[rel]
    got = parse_html(_page(ROOT / rel))
    assert got["body"] == want["body"]
    assert got["title"] == want["title"]
    assert (got["published_at"].isoformat() if got["published_at"] else None) == want["published_at"]
    assert got["published_at_source"] == want["published_at_source"]
    assert got["outlet"] == want["outlet"]


@pytest.mark.parametrize(
    ("path", "first", "last"),
    [
        (GNE / "gne_163_5.html", "(原标题:民警电话遭停机", "在已有技术手段下尽量避免误伤。"),
        (GNE / "gne_sina_5.html", "原标题:快讯!陈同佳刑满出狱", "说完这些话后,陈同佳上车离开了现场。"),
        (GNE / "gne_xinhuanet_1.html", "新华社巴黎12月9日电", "总理菲利普将于11日宣布退休制度改革的总体架构。"),
        (GNE / "gne_gsc_1.html", "5月10-12日,2019年中国人文地理学术年会", "充分展示了人文地理学的最新研究成果和学科发展盛况。"),
        (GNE / "gne_vis_021news_1.html", "意外总是猝不及防", "东山精密的资产负债比率仍然高达%,"),
        (SAMPLE / "html/likgjava_eb/eb_sqzx_ff8080812f588033012f66a1445c04bd.jsp", "今年的第一茬春茶", "侨兴荣获甘肃省著名商标。"),
    ],
)
def test_story_kept_furniture_dropped(path: Path, first: str, last: str) -> None:
    body = parse_html(_page(path))["body"]
    assert first in body.split("\n")[0]
    assert body.rstrip().endswith(last)
    leaked = [line for line in body.split("\n") if FURNITURE.search(line)]
    assert leaked == []


def test_old_extractor_leaked_what_the_new_one_drops() -> None:
    """The furniture test above can fail: trafilatura's body for the same page holds these lines."""
    page = _page(GNE / "gne_sina_5.html")
    old = parse_html(page, extractor="trafilatura")["body"]
    assert any(FURNITURE.search(line) for line in old.split("\n"))
    assert not any(FURNITURE.search(line) for line in parse_html(page)["body"].split("\n"))


def test_related_list_inside_article_container_is_dropped() -> None:
    """A list of links inside the article's own <div> (sohu-style '相关新闻') is cut by link density."""
    page = _page(SAMPLE / "html/likgjava_eb/eb_sqzx_ff8080812f588033012f66a1445c04bd.jsp")
    lines = extract_main_text(LexborHTMLParser(page), page).lines
    assert not any("全国招投标领域年度聚焦" in line for line in lines)
    assert any("明前茶" in line for line in lines)


def test_nested_paragraphs_all_kept() -> None:
    """'<p><p>…</p><p>…</p></p>' on the likgjava CMS: every paragraph of the story, not just the densest."""
    body = parse_html(_page(SAMPLE / "html/likgjava_eb/eb_cgxqzx_ff8080813090cbdd013090ecf7a800f2.jsp"))["body"]
    paras = body.split("\n")
    assert paras[0].startswith("省食品药品监督管理局日前印发")
    assert paras[-1].startswith("方案要求,各级食品药品监管部门要全面落实问责制")
    assert len(paras) == 3


def test_real_pages_take_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """No second parse with trafilatura for pages whose main text the DOM pass finds with confidence."""

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("trafilatura called")

    monkeypatch.setattr(html_mod, "_trafilatura", boom)
    for path in sorted(GNE.glob("*.html")) + sorted((SAMPLE / "html").rglob("*.*")):
        if path.name == "SOURCES.tsv":
            continue
        assert parse_html(_page(path))["body"], path


def test_doubtful_page_falls_back_to_trafilatura(monkeypatch: pytest.MonkeyPatch) -> None:
    """A page without prose in the DOM pass is doubtful; trafilatura's text is then used if it has more."""
    page = (ROOT / "tests" / "adversarial" / "no_content.html").read_text(encoding="utf-8")
    got = extract_main_text(LexborHTMLParser(page), page)
    assert got.doubtful and got.lines == []
    calls: list[str] = []

    class Doc:
        text = "兰州中院昨日召开执行工作会议,部署下一阶段工作。"
        title = date = url = None

    def fake(html: str, url: str | None = None) -> Doc:
        calls.append(html)
        return Doc()

    monkeypatch.setattr(html_mod, "_trafilatura", fake)
    assert parse_html(page)["body"] == Doc.text
    assert calls == [page]


def test_dates_from_the_page_not_the_extractor() -> None:
    """Dates trafilatura guessed at midnight now come from the page, with their time."""
    assert parse_html(_page(GNE / "gne_baijiahao_2.html"))["published_at"].isoformat() == "2019-09-30T22:46:13"  # meta dateUpdate
    rec = parse_html(_page(GNE / "gne_thepaper_2.html"))
    assert (rec["published_at"].isoformat(), rec["published_at_source"]) == ("2019-08-13T14:07:00", "page_text")
    assert rec["body"].split("\n")[0].startswith("本文原标题")  # headline, date line and font-size switches dropped


def test_headline_repeated_in_body_does_not_hide_the_date() -> None:
    """The date under the <h1> is found although the headline's words come back in the body (rfind lands there)."""
    page = (
        "<html><head><title>植入性医疗器械购用混乱_张掖日报</title></head><body><h1>植入性医疗器械购用混乱</h1>"
        "<div class=info>2022-06-03 23:59 来源:张掖日报</div><div class=article><p>随着医疗技术进步,植入性医疗器械在临床使用中不断增多。</p>"
        "<p>植入性医疗器械购用混乱带有普遍性,已经成为危及患者健康和影响医疗行业发展的突出问题。</p></div></body></html>"
    )
    rec = parse_html(page)
    assert rec["published_at"].isoformat() == "2022-06-03T23:59:00"
    assert rec["published_at_source"] == "page_text"
