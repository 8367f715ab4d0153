"""Regenerate the small adversarial input files in this folder (deterministic; review the diff).

    python tests/adversarial/make_adversarial.py

Big, binary and bomb cases (gzip bombs, 200 MB files, 100k nested <div>, FIFOs, link loops,
non-UTF-8 names) are generated at test time in tests/test_hostile_build.py, not committed here.
The expected outcome of every file is the table in README.md, which the integration test reads.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import zlib
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

HERE = Path(__file__).resolve().parent

STORY = (
    "兰州市中级人民法院近日召开执行工作推进会，通报今年以来全市法院执行工作情况。会议指出，"
    "全市两级法院要持续开展集中执行行动，加大对失信被执行人的惩戒力度，切实维护胜诉当事人的合法权益。"
)
STORY2 = "甘肃省天水市秦州区人民法院审结一起拒不执行判决、裁定案，被告人被依法判处有期徒刑一年。法院提醒，被执行人应当自觉履行生效法律文书确定的义务。"
PAGE_TEXT = f"地方网 > 甘肃 > 兰州市 > 兰州新闻 > 正文\n\n兰州中院召开执行工作推进会\n\n来源:兰州日报 2021-03-05 09:30   https://www.yybnet.net/\n\n{STORY}\n\n{STORY2}\n"


def html_page(title: str, body: str) -> str:
    return (
        f'<html><head><meta charset="utf-8"><title>{title}</title>'
        f'<meta name="publishdate" content="2021-03-05"></head><body><h1>{title}</h1>'
        f"<p>{body}</p><p>{body}</p></body></html>"
    )


def warc_records(records: list[tuple[str, str, str, bytes, str]], gz: bool) -> tuple[bytes, list[int]]:
    """(type, url, content type, payload, HTTP status) → WARC bytes and each record's start offset."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gz)
    offsets = []
    for rtype, url, ctype, payload, status in records:
        offsets.append(buf.tell())
        if rtype == "response":
            http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            rec = writer.create_warc_record(url, "response", payload=io.BytesIO(payload), http_headers=http)
        else:
            rec = writer.create_warc_record(url, rtype, payload=io.BytesIO(payload), warc_content_type=ctype)
        writer.write_record(rec)
    offsets.append(buf.tell())
    return buf.getvalue(), offsets


def three_pages() -> list[tuple[str, str, str, bytes, str]]:
    return [
        ("response", f"http://news.example.cn/2021/0305/{i}.html", "text/html; charset=utf-8", html_page(f"第{i}条新闻：兰州中院执行工作", STORY).encode(), "200 OK")
        for i in range(1, 4)
    ]


def main() -> None:
    rng = random.Random(7)
    files: dict[str, bytes] = {}
    files["empty.txt"] = b""
    files["whitespace_only.txt"] = b"  \n\t\r\n   \n"
    files["bom_only.txt"] = b"\xef\xbb\xbf"
    files["binary.png"] = b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(2000))
    files["control_chars.txt"] = ("兰州" + "\x01\x02\x03\x04" * 50 + STORY).encode()
    text = PAGE_TEXT.encode()
    files["nul_sprinkled.txt"] = text[:200] + b"\x00" + text[200:400] + b"\x00" + text[400:]
    files["truncated_utf8.txt"] = PAGE_TEXT.rstrip().encode()[:-1]  # cut inside the last character
    files["truncated_gb18030.txt"] = PAGE_TEXT.rstrip().encode("gb18030")[:-1]
    files["mixed_encoding.txt"] = "地方网 > 甘肃 > 天水市 > 正文\n\n秦州法院审结拒执案\n\n".encode() + f"来源:天水日报 2021-04-01 10:00\n\n{STORY2}\n".encode("gb18030")
    files["old_mac_cr.txt"] = PAGE_TEXT.replace("\n", "\r").encode()
    files["undecodable.txt"] = b"\x80\xff\xfe\x80" * 300
    files["utf16_bom.txt"] = PAGE_TEXT.encode("utf-16")
    # a court digest whose paragraph never ends with 。: joining its lines used to be quadratic
    files["digest_no_full_stop.txt"] = ("【 】兰州某公司与张某执行实施案\n关键词\n执行\n基本案情\n" + "申请执行人兰州某公司申请执行\n" * 1500 + "裁判理由\n法院认为\n").encode()
    # JSON, JSON Lines, CSV with wrong types and broken syntax
    files["wrong_types.json"] = json.dumps(
        [
            {"title": "兰州中院召开执行工作推进会", "content": STORY, "url": "https://www.lzbs.com.cn/a/1.html", "date": "2021-03-05"},
            {"title": {"zh": "对象不是标题"}, "content": STORY},
            {"title": "正文是数字列表", "content": [1, 2, 3]},
            42,
            None,
            "一个字符串",
            {"url": "https://example.cn/x", "date": 10**30},
            {"title": "日期字段是对象", "content": STORY2, "date": {"y": 2021}},
        ],
        ensure_ascii=False,
    ).encode()
    files["top_level_string.json"] = b'"just a string, not a record"'
    files["invalid.json"] = b'[{"title": "\xe5\x85\xb0\xe5\xb7\x9e", "content": '
    jsonl = [
        json.dumps({"title": "第一条：兰州中院执行", "content": STORY}, ensure_ascii=False),
        "",
        '{"title": "没有闭合的对象", "content": ',
        json.dumps({"title": ["标题", "是", "列表"], "content": STORY2}, ensure_ascii=False),
        json.dumps({"title": "正文是对象", "content": {"a": 1}}, ensure_ascii=False),
        "[1, 2, 3]",
        "[" * 5000 + "]" * 5000,
        '{"title": "巨大整数", "content": ' + "9" * 5000 + "}",
        '{"title": "\\ud800 孤立代理项", "content": "正文\\udfff"}',
        '{"title": "NaN 日期", "content": "正文", "date": NaN}',
        json.dumps({"title": "最后一条：天水法院", "content": STORY2, "date": 1617238800}, ensure_ascii=False),
    ]
    files["wrong_types.jsonl"] = "\n".join(jsonl).encode() + b"\n"
    mixed = [json.dumps({"title": f"第{i}条", "content": STORY if i % 2 else STORY2}, ensure_ascii=False) for i in range(4)]
    files["mixed_encoding.jsonl"] = b"".join((line + "\n").encode("utf-8" if i % 2 else "gb18030") for i, line in enumerate(mixed))
    files["utf16.jsonl"] = "".join(line + "\n" for line in mixed).encode("utf-16")
    files["ragged.csv"] = (
        "title,content,url\n"
        f"兰州中院执行,{STORY},https://www.lzbs.com.cn/a/2.html\n"
        "只有一个字段\n"
        "太多,字段,在,这一行\n"
        "\n"
        f"天水法院,{STORY2},http://example.cn/t\n"
        '"引号没有闭合,正文,url\n'
    ).encode()
    files["header_only.csv"] = b"title,content,url\n"
    # SogouCS: one good doc, one undecodable, one empty, one cut at the end of the file
    good = f"<doc>\n<url>http://news.sohu.com/20120604/n1.shtml</url>\n<docno>1</docno>\n<contenttitle>兰州法院执行</contenttitle>\n<content>{STORY}</content>\n</doc>\n".encode("gb18030")
    files["sogou_damaged.xml"] = (
        good + b"<doc>\n<contenttitle>" + b"\x80\xff" * 100 + b"</contenttitle>\n<content>" + b"\xfe\x80" * 200 + b"</content>\n</doc>\n"
        + b"<doc>\n<url>http://x/</url>\n<contenttitle></contenttitle>\n<content></content>\n</doc>\n"
        + "<doc>\n<contenttitle>截断的记录</contenttitle>\n<content>正文没有结束".encode("gb18030")
    )
    # HTML without an article, and HTML that never closes anything
    files["no_content.html"] = b"<html><head><script>var a = 1;</script><style>p{}</style></head><body><script>x()</script></body></html>"
    files["unclosed.html"] = ('<html><head><title>没有闭合的页面</title></head><body><div class="a><p>' + STORY + "<div><span><b><!-- 注释没有结束 " + STORY2).encode()
    # gzip damage
    payload = "\n".join(json.dumps({"title": f"记录{i}", "content": STORY}, ensure_ascii=False) for i in range(40)).encode() + b"\n"
    whole = gzip.compress(payload, mtime=0)
    files["truncated.jsonl.gz"] = whole[: len(whole) * 2 // 3]
    z = bytearray(gzip.compress(PAGE_TEXT.encode() * 3, mtime=0))
    for i in range(40, 60):
        z[i] ^= 0x5A
    files["corrupt.txt.gz"] = bytes(z)
    files["not_really.gz"] = b"\x1f\x8b" + b"this is not a gzip stream at all " * 10
    files["nested.json.gz.gz"] = gzip.compress(gzip.compress(json.dumps([{"title": "两层压缩", "content": STORY}], ensure_ascii=False).encode(), mtime=0), mtime=0)
    # WARC: one corrupt gzip member among good ones; a wrong Content-Length; a cut file; non-article records
    data, offs = warc_records(three_pages(), gz=True)
    b = bytearray(data)
    mid = (offs[1] + offs[2]) // 2
    b[mid : mid + 40] = bytes(40)
    files["one_bad_member.warc.gz"] = bytes(b)
    data, offs = warc_records(three_pages(), gz=False)
    second = data[offs[1] : offs[2]]
    start = second.index(b"Content-Length: ") + len(b"Content-Length: ")
    end = second.index(b"\r\n", start)
    files["bad_length.warc"] = data[: offs[1]] + second[:start] + str(int(second[start:end]) - 200).encode() + second[end:] + data[offs[2] :]
    data, offs = warc_records(three_pages(), gz=True)
    files["truncated.warc.gz"] = data[: offs[1] + (offs[2] - offs[1]) // 2]
    data, _ = warc_records(
        [
            ("warcinfo", "", "application/warc-fields", b"software: test\r\n", ""),
            ("request", "http://news.example.cn/a.html", "application/http; msgtype=request", b"GET /a.html HTTP/1.1\r\nHost: news.example.cn\r\n\r\n", ""),
            ("response", "http://news.example.cn/gone.html", "text/html", b"<html>gone</html>", "404 Not Found"),
            ("response", "http://news.example.cn/logo.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(300), "200 OK"),
            ("metadata", "http://news.example.cn/a.html", "application/warc-fields", b"via: x\r\n", ""),
            ("response", "http://news.example.cn/a.html", "text/html; charset=utf-8", html_page("兰州中院执行工作推进会", STORY).encode(), "200 OK"),
        ],
        gz=True,
    )
    files["mixed_records.warc.gz"] = data
    data, _ = warc_records([("conversion", "http://news.example.cn/b.html", "text/plain", f"2021-03-06\n{STORY2}".encode(), "")], gz=True)
    files["damaged.warc.wet.gz"] = data + b"\x1f\x8b\x08" + zlib.compress(b"garbage")[:20]
    for name, content in sorted(files.items()):
        (HERE / name).write_bytes(content)
        print(f"{name}: {len(content)} bytes")


if __name__ == "__main__":
    main()
