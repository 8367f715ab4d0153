"""Build a scale corpus of N articles by resampling and recombining the real articles in the repo.

Every generated article is made of real text: a title from one real article, body paragraphs from
real articles (the bundled sample and the evaluation set, ~180 real texts), a real outlet and a
real Gansu breadcrumb, and a date drawn from 2008-2024. Nothing is invented, but the combinations
are; use it to measure speed and memory, never accuracy.

    python bench/make_corpus.py --n 1000000 --format page_text --out /tmp/scale_pt
    python bench/make_corpus.py --n 100000 --format html --out /tmp/scale_html
    python bench/make_corpus.py --n 100000 --format warc --out /tmp/scale_warc   (1,000 records per .warc.gz)

Files are spread over folders of 1,000 files each.
"""

from __future__ import annotations

import argparse
import gzip
import html
import io
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.parse.files import read_bytes  # noqa: E402
from pipelines.parse.finalize import finalize_article  # noqa: E402

BREADCRUMBS = [
    ("甘肃", "兰州市", "兰州新闻"), ("甘肃", "天水市", "天水新闻"), ("甘肃", "白银市", "白银新闻"), ("甘肃", "酒泉市", "酒泉新闻"),
    ("甘肃", "张掖市", "张掖新闻"), ("甘肃", "武威市", "武威新闻"), ("甘肃", "定西市", "定西新闻"), ("甘肃", "陇南市", "陇南新闻"),
    ("甘肃", "平凉市", "平凉新闻"), ("甘肃", "庆阳市", "庆阳新闻"), ("甘肃", "临夏州", "临夏新闻"), ("甘肃", "甘南州", "甘南新闻"),
    ("甘肃", "金昌市", "金昌新闻"), ("甘肃", "嘉峪关市", "嘉峪关新闻"), ("四川", "成都市", "成都新闻"), ("上海", "上海市", "上海新闻"),
]
OUTLETS = ["兰州日报", "甘肃日报", "兰州晚报", "天水日报", "白银日报", "酒泉日报", "张掖日报", "每日甘肃网", "西部商报", "新华社", "人民日报", "新民晚报"]


def real_texts() -> list[tuple[str, list[str]]]:
    out = []
    for folder in (ROOT / "sample", ROOT / "eval" / "articles"):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix != ".tsv" and path.name != "README.md":
                for rec in read_bytes(path.read_bytes(), path.name).articles:
                    row = finalize_article(rec, path.name, 10**7)
                    paras = [p for p in row["body"].split("\n\n") if len(p) > 20]
                    if paras:
                        out.append((row["title"] or paras[0][:30], paras))
    return out


def compose(rng: random.Random, texts: list[tuple[str, list[str]]], target_chars: int = 5000) -> tuple[str, list[str]]:
    title, paras = rng.choice(texts)
    body = list(paras)
    while sum(map(len, body)) < target_chars * rng.uniform(0.3, 1.0):
        body += rng.choice(texts)[1][: rng.randint(1, 3)]
    return title, body


def page_text(rng: random.Random, title: str, body: list[str], crumb: tuple[str, ...], outlet: str, when: str) -> str:
    nav = " ".join(f"{c[:-1] if c.endswith(('市', '州')) else c}新闻" for c in crumb[1:2]) + " 永登新闻 皋兰新闻"
    return (
        f"{nav}\n地方网 > {' > '.join(crumb)} > 正文\n\n{title}\n\n来源:{outlet} {when}\xa0\xa0 https://www.yybnet.net/\n\n"
        + "\n\n".join(body) + f"□{outlet}记者张烁\n\n新闻推荐\n\n全省首届急救护理技能大赛收官\n\n频道推荐\n  • 近日,漳县检察院联合漳县公安局城关派\n"
    )


def html_page(title: str, body: list[str], outlet: str, when: str, url: str) -> str:
    paras = "".join(f"<p>{html.escape(p)}</p>\n" for p in body)
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(title)}_{outlet}</title>'
        f'<link rel="canonical" href="{url}"></head><body><div class="nav"><a href="/">首页</a> &gt; <a href="/gs/">甘肃</a></div>'
        f'<h1>{html.escape(title)}</h1><div class="info">{when} 来源:{outlet}</div><div class="article">{paras}</div>'
        '<div class="related"><h3>相关新闻</h3><ul><li><a href="/x">漳县检察院联合漳县公安局</a></li></ul></div>'
        "<footer>版权所有 © 地方网</footer></body></html>"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--format", choices=["page_text", "html", "warc"], default="page_text")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=2260)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    texts = real_texts()
    start = time.monotonic()
    args.out.mkdir(parents=True, exist_ok=True)
    per_warc = 1000
    warc_buf: list[tuple[str, bytes]] = []
    for i in range(args.n):
        title, body = compose(rng, texts)
        crumb = rng.choice(BREADCRUMBS)
        outlet = rng.choice(OUTLETS)
        when = f"{rng.randint(2008, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
        folder = args.out / f"{i // 1000:05d}"
        if i % 1000 == 0:
            folder.mkdir(exist_ok=True)
        url = f"https://www.yybnet.net/gansu/news/{i}.html"
        if args.format == "page_text":
            (folder / f"{i:08d}.txt").write_text(page_text(rng, title, body, crumb, outlet, when), encoding="utf-8")
        elif args.format == "html":
            (folder / f"{i:08d}.html").write_text(html_page(title, body, outlet, when, url), encoding="utf-8")
        else:
            warc_buf.append((url, html_page(title, body, outlet, when, url).encode("utf-8")))
            if len(warc_buf) == per_warc or i == args.n - 1:
                write_warc(args.out / f"{i // per_warc:05d}.warc.gz", warc_buf)
                warc_buf = []
        if (i + 1) % 100_000 == 0:
            print(f"{i + 1} articles, {time.monotonic() - start:.0f} s", file=sys.stderr)
    print(f"wrote {args.n} {args.format} articles to {args.out} in {time.monotonic() - start:.0f} s")


def write_warc(path: Path, pages: list[tuple[str, bytes]]) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for url, payload in pages:
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(payload), http_headers=headers))
    path.write_bytes(buf.getvalue())
    _ = gzip


if __name__ == "__main__":
    main()
