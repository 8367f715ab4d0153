"""Throughput of region + agency labelling over the development corpus.

Usage::

    .venv/bin/python bench/bench_label_region.py [--corpus /work/shared/corpus] [--repeat 5] [--dump out.tsv]

Articles are loaded once with a small, self-contained loader (this measures ``resolve_region`` +
``find_agencies``, not the readers; HTML is reduced to its text with lxml, no boilerplate removal),
then both functions are timed over all of them ``--repeat`` times in one process, in CPU time
(= per core, robust to other load on a shared machine).
Prints articles/s overall and for bodies of 2-5 KB (UTF-8 bytes), the size the target
(>= 5,000 articles/s per core) is stated for. ``--dump`` writes one line per article (path, scope,
codes, confidence, evidence, agencies) for eyeballing.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.label.agencies import agency_rules, find_agencies
from pipelines.label.gazetteer import load_gazetteer
from pipelines.label.region import resolve_region

DEFAULT_CORPUS = Path("/work/shared/corpus")
_XML_FIELD = re.compile(r"<(url|contenttitle|content)>(.*?)</\1>", re.S)
_SKIP = {"README.md", "SOURCES.tsv", "PAGES_LEADS.tsv"}


def _read_html(raw: bytes) -> tuple[str, str]:
    import trafilatura  # only needed for the few HTML files; strips navigation like the real parser

    doc = trafilatura.bare_extraction(raw, with_metadata=True)
    if doc is None:
        return "", ""
    d = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    return d.get("title") or "", d.get("text") or ""


def iter_corpus(root: Path = DEFAULT_CORPUS) -> Iterator[tuple[str, dict[str, object]]]:
    """Yield (relative path, article dict) for every article-like file under ``root``."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name in _SKIP:
            continue
        rel = path.relative_to(root).as_posix()
        suffix = path.suffix.lower()
        raw = path.read_bytes()
        if suffix == ".txt":
            yield rel, {"title": "", "body": raw.decode("utf-8-sig", errors="replace")}
        elif suffix == ".xml":
            text = raw.decode("gb18030" if "tensite" in path.name else "utf-8", errors="replace")
            f = dict(_XML_FIELD.findall(text))
            yield rel, {"title": f.get("contenttitle", ""), "body": f.get("content", ""), "url": f.get("url", "")}
        elif suffix == ".jsonl":
            for i, line in enumerate(raw.decode("utf-8").splitlines()):
                if line.strip():
                    rec = json.loads(line)
                    yield f"{rel}#{i}", {"title": rec.get("title") or "", "body": rec.get("content") or "", "url": rec.get("url"), "outlet": "新民晚报"}
        else:
            title, body = _read_html(raw)
            yield rel, {"title": title, "body": body}


def label(article: dict[str, object], gaz: object) -> tuple[dict[str, object], list[dict[str, object]]]:
    region = resolve_region(article, gaz)  # type: ignore[arg-type]
    agencies, _ = find_agencies(article, region, gaz)  # type: ignore[arg-type]
    return region, agencies


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dump", type=Path)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    gaz = load_gazetteer()
    _ = agency_rules(gaz)
    print(f"gazetteer + agency rules loaded in {time.perf_counter() - t0:.3f}s")
    docs = list(iter_corpus(args.corpus))
    arts = [a for _, a in docs]
    sizes = [len(str(a["body"]).encode("utf-8")) for a in arts]
    mid = [a for a, n in zip(arts, sizes, strict=True) if 2000 <= n <= 5000]
    print(f"{len(arts)} articles, median body {statistics.median(sizes) / 1000:.1f} KB; {len(mid)} with 2-5 KB bodies")

    for name, batch in (("all", arts), ("2-5 KB", mid)):
        if not batch:
            continue
        best = float("inf")
        for _ in range(args.repeat):
            t = time.process_time()
            for a in batch:
                label(a, gaz)
            best = min(best, time.process_time() - t)
        best = max(best, 1e-9)
        print(f"{name:>7}: {len(batch) / best:,.0f} articles/s per core ({best / len(batch) * 1e6:.0f} us/article, best of {args.repeat})")

    scopes: Counter[str] = Counter()
    rows = []
    for rel, a in docs:
        region, agencies = label(a, gaz)
        scopes[str(region["scope"])] += 1
        ev = ";".join(f"{e['signal']}:{e['surface']}>{e['code']}" for e in region["region_evidence"])  # type: ignore[union-attr]
        ag = ";".join(f"{x['name']}({x['level']})" for x in agencies)
        rows.append(
            "\t".join(
                [rel, str(region["scope"]), str(region["province"]), str(region["prefecture"]), str(region["county"]), str(region["region_confidence"]), ev, ag]
            )
        )
    print("scopes:", dict(scopes))
    if args.dump:
        args.dump.write_text("path\tscope\tprovince\tprefecture\tcounty\tconfidence\tevidence\tagencies\n" + "\n".join(rows) + "\n", encoding="utf-8")
        print(f"wrote {args.dump}")


if __name__ == "__main__":
    main()
