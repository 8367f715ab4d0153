"""Readers and parsers on real pages from the corpus (copied into sample/ with provenance)."""

from __future__ import annotations

import gzip
import io
import json
from datetime import datetime
from pathlib import Path

import pytest
from conftest import SAMPLE, SEED
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines.parse.dates import date_from_url, parse_date_line
from pipelines.parse.files import read_bytes
from pipelines.parse.finalize import finalize_article
from pipelines.parse.text import normalise_title
from pipelines.read.decode import decode_bytes

GOLDEN = Path(__file__).parent / "golden" / "sample_parse.json"


def read_one(path: Path) -> dict:
    res = read_bytes(path.read_bytes(), path.name)
    assert not res.rejects, res.rejects
    assert len(res.articles) == 1
    return finalize_article(res.articles[0], path.relative_to(SAMPLE).as_posix(), 10**7)


def test_seed_page_parses_exactly() -> None:
    row = read_one(SEED)
    assert row["source_format"] == "page_text"
    assert row["title"] == "坚决打赢基本解决执行难这场硬仗省高院领导督导检查全市两级法院“百日会战”情况"
    assert row["outlet"] == "兰州日报"
    assert row["site"] == "yybnet.net"
    assert row["published_at"].isoformat() == "2018-08-09T03:27:00+08:00"
    assert row["published_at_source"] == "source_line"
    assert row["breadcrumb"] == ["甘肃", "兰州市", "兰州新闻"]
    assert row["byline"] == ["张烁"]
    body = row["body"]
    assert body.startswith("【本报讯】")
    for boiler in ("全省首届急救护理技能大赛", "漳县检察院", "陇西", "文牧野", "新闻推荐", "永登新闻", "□", "张烁"):
        assert boiler not in body, boiler
    assert body.endswith("一定能打好这场攻坚战。")
    assert row["body_chars"] == len(body)


def test_seed_with_crlf_gbk_and_nbsp_variants_parse_the_same() -> None:
    text = SEED.read_text(encoding="utf-8")
    base = read_bytes(SEED.read_bytes(), "seed.txt").articles[0]
    variants = {
        "crlf": text.replace("\n", "\r\n").encode("utf-8"),
        "bom": b"\xef\xbb\xbf" + text.encode("utf-8"),
        "gb18030": text.encode("gb18030"),
        "nbsp_crumb": text.replace(" > ", "\xa0>\xa0").encode("utf-8"),
        "fullwidth_time": text.replace("2018-08-09 03:27", "２０１８-０８-０９ ０３：２７").encode("utf-8"),
    }
    for name, data in variants.items():
        got = read_bytes(data, "seed.txt").articles[0]
        for key in ("title", "outlet", "published_at", "breadcrumb", "byline", "body"):
            assert got[key] == base[key], (name, key)


def test_cec_date_line_and_crlf() -> None:
    row = read_one(SAMPLE / "txt/cec_raw/cec_008.txt")
    assert row["source_format"] == "plain_text"
    assert row["published_at"].isoformat() == "2008-05-12T16:25:00+08:00"
    assert "\r" not in row["body"]
    assert not row["body"].startswith("2008")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2008-4-15", datetime(2008, 4, 15)),
        ("2014年1月2日", datetime(2014, 1, 2)),
        ("2008年05月12日16:25", datetime(2008, 5, 12, 16, 25)),
        ("2006-8-14 9:34:32", datetime(2006, 8, 14, 9, 34, 32)),
        ("2014年1月2日14时左右", datetime(2014, 1, 2, 14)),
        ("2014年03月31日 11:22:07 星期一", datetime(2014, 3, 31, 11, 22, 7)),
        ("2005-12", datetime(2005, 12, 1)),
        ("今天天气很好", None),
        ("2008-13-45", None),
    ],
)
def test_date_lines(line: str, expected: datetime | None) -> None:
    assert parse_date_line(line) == expected


def test_court_digest_unwraps_lines_and_takes_case_title() -> None:
    row = read_one(SAMPLE / "txt/court_cases/case_exec_023.txt")
    assert row["source_format"] == "court_digest"
    # the heading as published: 案名——裁判要旨, both parts (the holding also opens the body)
    assert row["title"] == "天水恒某物业管理有限公司与明某黎执行实施案——对于被执行人存在以暴力方式拒不腾退等情形的,可以向其发出涉嫌拒不执行判决、裁定犯罪预告书"
    assert row["body"].startswith("对于被执行人存在以暴力方式")
    # PDF spaces between digits and CJK are gone, hard wraps joined
    assert " 年 " not in row["body"]
    assert "基本案情" in row["body"]
    paragraphs = row["body"].split("\n\n")
    assert max(len(p) for p in paragraphs) > 150  # wrapped lines were joined into paragraphs


def test_sogou_gb18030_record_date_from_url_and_fullwidth_digits() -> None:
    row = read_one(SAMPLE / "xml/sogoucs/sogou_tensite_003.xml")
    assert row["source_format"] == "sogou_xml"
    assert row["title"] == "#(关注夏收)(3)夫妻“麦客”忙麦收"
    assert row["published_at"].date().isoformat() == "2012-06-04"
    assert row["published_at_source"] == "url_path"
    assert "2012年6月4日" in row["body"]  # full-width digits folded by NFKC


def test_sogou_corruption_is_flagged_not_dropped() -> None:
    row = read_one(SAMPLE / "xml/sogoucs/sogou_tensite_004.xml")
    assert "mojibake" in row["quality_flags"]
    assert row["body_chars"] > 500


def test_sogou_title_only_record_is_kept_and_flagged() -> None:
    row = read_one(SAMPLE / "xml/sogoucs/sogou_sohusite_104.xml")
    assert row["title"].startswith("王健林")
    assert row["body"] == ""
    assert "empty_body" in row["quality_flags"]


def test_html_declared_utf8_but_gb2312_bytes() -> None:
    path = SAMPLE / "html/trafilatura/archive.org.he.xinhuanet.com.25340717.html"
    assert decode_bytes(path.read_bytes()).encoding == "gb18030"
    row = read_one(path)
    assert row["title"] == "话剧《约定无期限》河北各市巡演结束"
    assert row["published_at"].date().isoformat() == "2012-06-04"
    assert "信守15年" in row["body"]


def test_html_cms_page_date_and_title() -> None:
    row = read_one(SAMPLE / "html/likgjava_eb/eb_zhaotoubiaozt_ff80808132b9d8400132e13e33d603bb.jsp")
    assert row["title"] == "甘肃省政府调查天定公路坑槽病害"
    assert row["published_at"].date().isoformat() == "2011-10-08"
    assert row["outlet"] is None  # the page's 来源 label is empty; '分享到' is not an outlet
    assert "分享到" not in row["body"]


def test_html_outlet_from_source_label() -> None:
    row = read_one(SAMPLE / "html/trafilatura/xinhuanet.com.c_1125597921.html")
    assert row["outlet"] == "半月谈"
    assert row["published_at"].date().isoformat() == "2020-02-19"


def test_jsonl_record_fields_and_site_outlet() -> None:
    row = read_one(SAMPLE / "jsonl/xinmin/xinmin_2022-04-01_05.jsonl")
    assert row["source_format"] == "jsonl"
    assert row["title"] == "“揽事民警”跨江配药"
    assert row["outlet"] == "新民晚报"
    assert row["site"] == "paper.xinmin.cn"
    assert row["source_record"] == "0"
    assert row["published_at"].date().isoformat() == "2022-04-01"


def test_trailing_url_in_fullwidth_parentheses() -> None:
    row = read_one(SAMPLE / "txt/yybnet/yybnet_m_chengdu_201807_7713943.txt")
    assert row["url"] == "https://m.yybnet.net/chengdu/news/201807/7713943.html"
    assert row["site"] == "yybnet.net"
    assert "https://" not in row["body"]


def test_url_path_dates() -> None:
    assert date_from_url("http://news.sohu.com/20120607/n344998325.shtml") == datetime(2012, 6, 7)
    assert date_from_url("http://example.com/about") is None


def _warc(records: list[tuple[str, str, bytes, str]]) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for url, ctype, payload, status in records:
        headers = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(payload), http_headers=headers))
    return buf.getvalue()


def test_warc_built_from_corpus_pages_one_article_per_response() -> None:
    pages = [
        ("http://www.banyuetan.org/jmcs/detail/20200102/1.html", SAMPLE / "html/trafilatura/banyuetan.org.1000200033136171577956287380194268_1.html"),
        ("http://he.xinhuanet.com/x.htm", SAMPLE / "html/trafilatura/archive.org.he.xinhuanet.com.25340717.html"),
    ]
    data = _warc(
        [(url, "text/html; charset=utf-8", p.read_bytes(), "200 OK") for url, p in pages]
        + [("http://x/img.png", "image/png", b"\x89PNG....", "200 OK"), ("http://x/404", "text/html", b"<html>gone</html>", "404 Not Found")]
    )
    res = read_bytes(data, "crawl.warc.gz")
    assert [a["url"] for a in res.articles] == [u for u, _ in pages]
    assert res.articles[0]["title"] == "益阳:“数字”是优长"
    assert res.articles[1]["title"] == "话剧《约定无期限》河北各市巡演结束"  # gb2312 bytes despite the utf-8 header
    assert all(a["source_record"].startswith("<urn:uuid:") for a in res.articles)
    assert sorted(r["reason"] for r in res.rejects) == ["not_article_record", "not_article_record"]


def test_warc_truncated_keeps_records_before_the_damage() -> None:
    page = (SAMPLE / "html/trafilatura/banyuetan.org.1000200033136171577956287380194268_1.html").read_bytes()
    data = _warc([("http://a/1", "text/html", page, "200 OK"), ("http://a/2", "text/html", page, "200 OK")])
    one = _warc([("http://a/1", "text/html", page, "200 OK")])
    damaged = data[: len(one) + (len(data) - len(one)) // 2]  # second record cut mid-payload
    res = read_bytes(damaged, "cut.warc.gz")
    assert len(res.articles) == 1
    assert [r["reason"] for r in res.rejects] == ["corrupt_archive"]


def test_wet_conversion_records() -> None:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    text = (SAMPLE / "txt/cec_raw/cec_063.txt").read_bytes()
    writer.write_record(writer.create_warc_record("http://news.example.cn/2007/a.html", "conversion", payload=io.BytesIO(text), warc_content_type="text/plain"))
    res = read_bytes(buf.getvalue(), "x.warc.wet.gz")
    assert len(res.articles) == 1
    assert res.articles[0]["source_format"] == "wet"
    assert res.articles[0]["published_at"].year == 2007


def test_json_array_csv_and_gzip_json() -> None:
    recs = [{"标题": "兰州中院召开执行工作会议", "正文": "本报兰州讯 兰州中院昨日召开会议。", "链接": "https://www.lzbs.com.cn/a.html", "发布时间": "2019-03-04 10:00"}]
    res = read_bytes(json.dumps(recs, ensure_ascii=False).encode(), "a.json")
    assert res.articles[0]["title"] == "兰州中院召开执行工作会议"
    assert res.articles[0]["published_at"] == datetime(2019, 3, 4, 10, 0)
    assert res.articles[0]["outlet"] == "兰州日报"
    csv_bytes = "title,content,url,date\n一,正文一,http://a.cn/1,2020-01-02\n二,正文二\n".encode("gb18030")
    res = read_bytes(csv_bytes, "b.csv")
    assert [a["title"] for a in res.articles] == ["一"]
    assert [r["reason"] for r in res.rejects] == ["bad_record"]  # ragged row recorded, not dropped
    res = read_bytes(gzip.compress(json.dumps(recs, ensure_ascii=False).encode()), "a.json.gz")
    assert len(res.articles) == 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty_file"),
        (b"   \n\n ", "empty_file"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "binary_file"),
        (b'{"title": 1, "content": {"a": 2}}\n', "bad_record"),
        (b"[1, 2", "bad_record"),
        (gzip.compress(b"x")[:-6], "corrupt_archive"),
    ],
)
def test_bad_input_becomes_a_reject_with_reason(data: bytes, reason: str) -> None:
    res = read_bytes(data, "bad.json" if data.startswith((b"{", b"[")) else "bad.bin")
    assert not res.articles
    assert [r["reason"] for r in res.rejects] == [reason]


def test_gzip_bomb_is_refused_without_inflating() -> None:
    from pipelines.read.limits import Limits

    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))
    res = read_bytes(bomb, "bomb.txt.gz", Limits(max_decompressed_bytes=1024 * 1024))
    assert [r["reason"] for r in res.rejects] == ["decompressed_too_large"]


def _snapshot(row: dict) -> dict:
    body = row["body"]
    return {
        "source_format": row["source_format"],
        "title": row["title"],
        "outlet": row["outlet"],
        "site": row["site"],
        "url": row["url"],
        "published_at": row["published_at"].isoformat() if row["published_at"] else None,
        "published_at_source": row["published_at_source"],
        "breadcrumb": row["breadcrumb"],
        "byline": row["byline"],
        "body_chars": row["body_chars"],
        "body_head": body[:40],
        "body_tail": body[-40:],
        "quality_flags": row["quality_flags"],
    }


def test_golden_sample_parses() -> None:
    """Every bundled sample file parses as recorded in tests/golden (regenerate: python tests/golden/regenerate.py)."""
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    got = {}
    for path in sorted(SAMPLE.rglob("*")):
        if path.is_file() and path.name != "SOURCES.tsv":
            res = read_bytes(path.read_bytes(), path.name)
            for rec in res.articles:
                got[f"{path.relative_to(SAMPLE).as_posix()}#{rec.get('source_record')}"] = _snapshot(finalize_article(rec, path.name, 10**7))
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == expected[key], key


def test_slice_with_several_case_digests_gives_one_article_per_case() -> None:
    path = SAMPLE.parent / "eval" / "articles" / "txt" / "court_cases" / "case_exec_016.txt"
    res = read_bytes(path.read_bytes(), path.name)
    assert [a["source_record"] for a in res.articles] == ["0", "1", "2"]
    assert [normalise_title(a["title"]).split("——")[0] for a in res.articles] == [
        "某某公司与溧阳某某公司等国内非涉外仲裁纠纷执行复议案",
        "攀枝花市某建设投资经营有限责任公司与攀枝花市某机械化施工有限公司执行复议案",
        "乙公司申请执行复议案",
    ]
    # the holding stays in the title, without the case database's entry number the PDF wrapped into it
    assert normalise_title(res.articles[2]["title"]) == "乙公司申请执行复议案——确认到期债权的生效文书进入再审且裁定中止执行的,依据该生效文书所做限期履行通知书应当中止执行"
    # nothing dropped: every case's key sentence survives in some article
    text = "".join(a["body"] for a in res.articles)
    assert "攀枝花" in text and "到期债权" in text
