"""End-to-end build throughput, peak memory and no-op rerun time, beside the raw ceiling.

    python bench/bench_build.py                       # 1,000,000 page-text articles (+100,000 HTML and WARC)
    python bench/bench_build.py --n 100000 --formats page_text

For each format it generates a corpus with bench/make_corpus.py (real articles resampled and
recombined; see that file), then measures, in the same run:
  * raw ceiling: read + decode + one Aho-Corasick pass over the gazetteer's ~10k names, on all cores;
  * build: `python -m pipelines build` end to end (parse, dedupe, full labelling, Parquet, publish);
  * peak RSS: the largest resident set of any process of the build (main or worker);
  * rerun: the same build again with nothing changed (the no-op rerun);
  * per stage: CPU ms per article of read, decode, parse, scan, region, agencies, topics, dedupe and
    write on 3,000 of the corpus's files (bench/stages.py), to see where the time goes.
It prints a table; medians of --repeat runs where given. Figures depend on the machine: record
`nproc`, the CPU model and the disk with them.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from stages import print_table, stage_costs  # noqa: E402


def _ceiling_chunk(paths: list[str]) -> int:
    from pipelines.label.gazetteer import load_gazetteer
    from pipelines.read.decode import decode_bytes

    gaz = load_gazetteer()
    n = 0
    for p in paths:
        if ".warc" in p:
            from warcio.archiveiterator import ArchiveIterator

            with open(p, "rb") as fh:  # one article per response record, as the build counts them
                for record in ArchiveIterator(fh):
                    if record.rec_type == "response":
                        text = decode_bytes(record.content_stream().read()).text
                        gaz._ac.find_matches_as_indexes(text, overlapping=False)
                        n += 1
            continue
        with open(p, "rb") as fh:
            text = decode_bytes(fh.read()).text
        gaz._ac.find_matches_as_indexes(text, overlapping=False)  # the one multi-pattern pass
        n += 1
    return n


def raw_ceiling(folder: Path, workers: int) -> tuple[float, int]:
    paths = sorted(str(p) for p in folder.rglob("*") if p.is_file())
    chunks = [paths[i : i + 2000] for i in range(0, len(paths), 2000)]
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        n = sum(pool.map(_ceiling_chunk, chunks))
    return time.perf_counter() - start, n


def run_build(inp: Path, ds: Path, workers: int) -> tuple[float, float, str]:
    """Wall time, peak RSS (MiB) of the largest process of this build (main or worker), summary line.

    ``os.wait4`` gives the build's own rusage, whose ru_maxrss covers its waited-for workers too,
    so each build's peak is its own (RUSAGE_CHILDREN would carry the largest of all earlier runs).
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipelines", "build", "--input", str(inp), "--dataset", str(ds), "--workers", str(workers), "--no-progress"],
            cwd=ROOT, stdout=out, stderr=err, text=True,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"build failed:\n{err.read()}")
        return wall, usage.ru_maxrss / 1024, out.read().strip().splitlines()[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="page-text articles (default 1,000,000)")
    ap.add_argument("--n-other", type=int, default=100_000, help="HTML and WARC articles (default 100,000)")
    ap.add_argument("--formats", default="page_text,html,warc")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench_build"))
    ap.add_argument("--keep", action="store_true", help="keep the generated corpora for the next run")
    ap.add_argument("--reruns", type=int, default=3, help="no-op reruns to take the median of")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    stage_tables: list[tuple[str, int, dict[str, float]]] = []
    for fmt in args.formats.split(","):
        n = args.n if fmt == "page_text" else args.n_other
        corpus = args.workdir / f"corpus_{fmt}_{n}"
        if not corpus.exists():
            print(f"generating {n} {fmt} articles in {corpus} ...", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, str(ROOT / "bench" / "make_corpus.py"), "--n", str(n), "--format", fmt, "--out", str(corpus)], check=True)
        ceil_s, ceil_n = raw_ceiling(corpus, args.workers)
        stage_tables.append((fmt, *stage_costs(str(corpus), limit=3000, repeat=3)))
        ds = args.workdir / f"ds_{fmt}"
        shutil.rmtree(ds, ignore_errors=True)
        wall, rss, summary = run_build(corpus, ds, args.workers)
        reruns = [run_build(corpus, ds, args.workers)[0] for _ in range(args.reruns)]
        rows.append((fmt, n, ceil_n / ceil_s, n / wall, wall, rss, statistics.median(reruns), summary))
        if not args.keep:
            shutil.rmtree(corpus, ignore_errors=True)
        shutil.rmtree(ds, ignore_errors=True)
    print(f"\nmachine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, Python {platform.python_version()}, workers={args.workers}")
    print(f"{'format':<10} {'articles':>10} {'ceiling/s':>10} {'build/s':>9} {'ratio':>6} {'build s':>8} {'peak RSS MiB':>13} {'no-op rerun s':>14}")
    for fmt, n, ceil, rate, wall, rss, rerun, _summary in rows:
        print(f"{fmt:<10} {n:>10,} {ceil:>10,.0f} {rate:>9,.0f} {rate / ceil:>6.2f} {wall:>8.1f} {rss:>13,.0f} {rerun:>14.2f}")
    for fmt, n_staged, ms in stage_tables:
        print(f"\n{fmt}: ", end="")
        print_table(n_staged, ms)


if __name__ == "__main__":
    main()
