"""Throughput of topic classification over the development corpus.

Usage::

    .venv/bin/python bench/bench_topics.py [--corpus /work/shared/corpus] [--taxonomy PATH] [--repeat 5] [--dump out.tsv]

Articles are loaded once (with a small, self-contained loader: this measures ``Taxonomy.classify``,
not the readers), then ``classify(title, body)`` is timed over all of them ``--repeat`` times in a
single process (= one core). Prints articles/s overall and for bodies of 2-5 KB (UTF-8 bytes), the
size the target (>= 10,000 articles/s per core) is stated for. ``--dump`` writes one line per article
(path, title, assigned topics, evidence) for eyeballing precision. Rates use CPU time of this single-threaded
process, i.e. throughput per core; the wall-clock rate is printed too.
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

from pipelines.label.topics import Taxonomy, load_taxonomy

DEFAULT_CORPUS = Path("/work/shared/corpus")
_XML_FIELD = re.compile(r"<(contenttitle|content)>(.*?)</\1>", re.S)


def _read_xml(path: Path) -> tuple[str, str]:
    raw = path.read_bytes()
    enc = "gb18030" if "tensite" in path.name else "utf-8"
    text = raw.decode(enc, errors="replace")
    fields = dict(_XML_FIELD.findall(text))
    return fields.get("contenttitle", ""), fields.get("content", "")


def _read_html(path: Path) -> tuple[str, str]:
    import trafilatura  # only needed for the few HTML files

    doc = trafilatura.bare_extraction(path.read_bytes(), with_metadata=True)
    if doc is None:
        return "", ""
    d = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    return d.get("title") or "", d.get("text") or ""


def iter_corpus(root: Path = DEFAULT_CORPUS) -> Iterator[tuple[str, str, str]]:
    """Yield (relative path, title, body) for every article-like file under ``root``."""
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name in {"README.md", "SOURCES.tsv", "PAGES_LEADS.tsv"}:
            continue
        rel = path.relative_to(root).as_posix()
        suffix = path.suffix.lower()
        if suffix == ".txt":
            yield rel, "", path.read_bytes().decode("utf-8-sig", errors="replace")
        elif suffix == ".xml":
            yield rel, *_read_xml(path)
        elif suffix == ".jsonl":
            for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines()):
                if line.strip():
                    rec = json.loads(line)
                    yield f"{rel}#{i}", rec.get("title") or "", rec.get("content") or ""
        elif suffix in {".html", ".htm", ".jsp"}:
            yield rel, *_read_html(path)


def bench(tax: Taxonomy, articles: list[tuple[str, str, str]], repeat: int) -> tuple[list[float], list[float]]:
    """Articles per second of CPU time (= per core; robust to other load on a shared machine) and
    per second of wall-clock time, one value per repetition."""
    cpu_rates, wall_rates = [], []
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        for _, title, body in articles:
            tax.classify(title, body)
        cpu_rates.append(len(articles) / max(time.process_time() - c0, 1e-9))
        wall_rates.append(len(articles) / (time.perf_counter() - w0))
    return cpu_rates, wall_rates


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--taxonomy", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--dump", type=Path, default=None, help="write path, title, topics and evidence per article (TSV)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    tax = load_taxonomy(args.taxonomy)
    build_s = time.perf_counter() - t0
    articles = list(iter_corpus(args.corpus))
    if not articles:
        print(f"no articles under {args.corpus}", file=sys.stderr)
        return 1
    mid = [a for a in articles if 2000 <= len(a[2].encode("utf-8")) <= 5000]
    sizes = [len(a[2].encode("utf-8")) for a in articles]

    print(f"taxonomy: {len(tax.ids)} topics, {tax.n_patterns} patterns, built in {build_s * 1000:.1f} ms")
    print(f"corpus: {len(articles)} articles, median body {statistics.median(sizes):.0f} B; {len(mid)} with 2-5 KB bodies")
    for label, subset in (("all", articles), ("2-5 KB", mid)):
        if not subset:
            continue
        cpu, wall = bench(tax, subset, args.repeat)
        print(
            f"classify [{label}]: {max(cpu):,.0f} articles/s per core (best of {args.repeat}, CPU time; median {statistics.median(cpu):,.0f}); "
            f"wall clock best {max(wall):,.0f}/s"
        )

    counts: Counter[str] = Counter()
    none = 0
    rows = []
    for rel, title, body in articles:
        topics, evidence = tax.classify(title, body)
        counts.update(topics)
        none += not topics
        if args.dump:
            ev = "; ".join(f"{e['topic']}={e['score']:.1f}[{','.join(e['terms'][:6])}]" for e in evidence)
            rows.append(f"{rel}\t{title[:40]}\t{','.join(topics)}\t{ev}")
    print("topic counts: " + ", ".join(f"{t}={counts[t]}" for t in tax.ids) + f", (none)={none}")
    if args.dump:
        args.dump.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
