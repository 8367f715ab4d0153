"""Speed and quality of HTML main-text extractors on real and resampled pages.

Usage::

    .venv/bin/python bench/bench_html_extract.py [DIR ...] [--limit 400] [--repeat 3]

Defaults: the real pages of the development corpus (``/work/shared/corpus/html``, real sites with
lying charsets; the same files as ``eval/articles/html``) and, if present, a resampled corpus made by
``bench/make_corpus.py --format html`` (``/tmp/bench_build/corpus_html_2000``). Pages are decoded once
with the pipeline's decoder; then each candidate runs over all of them ``--repeat`` times in this one
process. Speed is CPU time of this process (= per core): docs/s over the whole set (median of the
repeats) and the median milliseconds per page.

Quality is measured against trafilatura (the previous default), which is no gold standard: it leaks
page furniture on several real pages. So three figures are printed per candidate:

- ``F1 vs traf``: F1 of character bigrams (multiset, NFKC, whitespace dropped) against trafilatura's text;
- ``missing``: paragraphs of trafilatura's text that read as prose (>= 30 chars with a full stop or
  comma) and that the candidate lacks (less than 80% of their bigrams found);
- ``leaks``: lines of page furniture in the output (copyright, 相关新闻, 责任编辑, share bars ... see
  ``FURNITURE``), counted over all pages: lower is better, whatever trafilatura did.

Candidates: ``trafilatura`` (bare_extraction with metadata, as parse_html called it), ``traf-fast``
(extract without metadata or fallbacks), ``resiliparse`` (extract_plain_text main_content, if
installed), ``lexbor-density`` (pipelines.parse.html_extract, DOM parse included), and the whole
``parse_html`` with each body extractor (metadata, dates and the body clean-up included).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trafilatura
from selectolax.lexbor import LexborHTMLParser

from pipelines.parse.html import parse_html
from pipelines.parse.html_extract import extract_main_text
from pipelines.parse.text import nfkc
from pipelines.read.decode import decode_bytes

DEFAULT_DIRS = [Path("/work/shared/corpus/html"), Path("/tmp/bench_build/corpus_html_2000")]
FURNITURE = re.compile(
    r"版权所有|copyright|all rights reserved|相关新闻|相关阅读|推荐新闻|热点新闻|为您推荐|精彩推荐|责任编辑|分享到|上一篇|下一篇|"
    r"网友评论|加载更多|举报电话|举报邮箱|打印本页|关闭窗口|扫描.*二维码|当前位置|现在位置",
    re.I,
)
_PROSE = re.compile(r"[。，,！？]")


def _extractors() -> dict[str, Callable[[str], str]]:
    out: dict[str, Callable[[str], str]] = {
        "trafilatura": lambda h: getattr(
            trafilatura.bare_extraction(h, with_metadata=True, include_comments=False, include_tables=False), "text", None
        )
        or "",
        "traf-fast": lambda h: trafilatura.extract(h, fast=True, include_comments=False, include_tables=False) or "",
    }
    try:
        from resiliparse.extract.html2text import extract_plain_text
    except ImportError:
        print("(resiliparse not installed: skipped)")
    else:
        out["resiliparse"] = lambda h: extract_plain_text(h, main_content=True, alt_texts=False, links=False, list_bullets=False)
    out["lexbor-density"] = lambda h: "\n".join(extract_main_text(LexborHTMLParser(h)).lines)
    out["parse_html(fast)"] = lambda h: parse_html(h)["body"]
    out["parse_html(traf)"] = lambda h: parse_html(h, extractor="trafilatura")["body"]
    return out


def _bigrams(text: str) -> Counter[str]:
    s = "".join(nfkc(text).split())  # parse_html's bodies are NFKC-normalised, the extractors' raw
    return Counter(s[i : i + 2] for i in range(len(s) - 1))


def _f1(ref: Counter[str], got: Counter[str]) -> float:
    if not ref and not got:
        return 1.0
    common = sum((ref & got).values())
    if not common:
        return 0.0
    p, r = common / sum(got.values()), common / sum(ref.values())
    return 2 * p * r / (p + r)


def _missing(ref_text: str, got: Counter[str]) -> int:
    n = 0
    for para in ref_text.split("\n"):
        para = para.strip()
        if len(para) >= 30 and _PROSE.search(para):
            want = _bigrams(para)
            if sum((want & got).values()) < 0.8 * sum(want.values()):
                n += 1
    return n


def _leaks(text: str) -> int:
    return sum(1 for line in text.split("\n") if FURNITURE.search(line))


def _pages(folder: Path, limit: int) -> list[str]:
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in (".html", ".htm", ".jsp", ".shtml"))[:limit]
    return [decode_bytes(p.read_bytes()).text for p in paths]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="*", type=Path, default=DEFAULT_DIRS)
    ap.add_argument("--limit", type=int, default=400, help="pages per folder")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    extractors = _extractors()
    for folder in args.dirs:
        if not folder.exists():
            print(f"{folder}: missing, skipped")
            continue
        pages = _pages(folder, args.limit)
        print(f"\n{folder}: {len(pages)} pages, {sum(map(len, pages)) // max(len(pages), 1):,} chars each on average")
        print(f"{'extractor':<18} {'docs/s/core':>11} {'median ms':>9} {'F1 vs traf':>10} {'missing':>8} {'leaks':>6} {'chars':>9}")
        reference = [extractors["trafilatura"](h) for h in pages]
        ref_grams = [_bigrams(t) for t in reference]
        for name, fn in extractors.items():
            rates, medians = [], []
            outputs: list[str] = []
            for _ in range(args.repeat):
                per_doc = []
                outputs = []
                for h in pages:
                    t0 = time.process_time()
                    outputs.append(fn(h))
                    per_doc.append(time.process_time() - t0)
                rates.append(len(pages) / max(sum(per_doc), 1e-9))
                medians.append(statistics.median(per_doc) * 1000)
            grams = [_bigrams(t) for t in outputs]
            f1 = statistics.mean(_f1(r, g) for r, g in zip(ref_grams, grams, strict=True))
            missing = sum(_missing(r, g) for r, g in zip(reference, grams, strict=True))
            leaks = sum(_leaks(t) for t in outputs)
            chars = sum(map(len, outputs)) // max(len(outputs), 1)
            print(f"{name:<18} {statistics.median(rates):>11,.0f} {statistics.median(medians):>9.2f} {f1:>10.3f} {missing:>8} {leaks:>6} {chars:>9,}")


if __name__ == "__main__":
    main()
