"""Relabel throughput: how long a user waits after editing a label data file.

    python bench/bench_relabel.py                      # 100,000 page-text articles
    python bench/bench_relabel.py --n 20000 --repeat 3

Builds a resampled corpus (bench/make_corpus.py) once, with a private copy of the label data files,
then times ``python -m pipelines relabel`` after two kinds of edit, ``--repeat`` times each:

  * taxonomy edit (``topics.toml``): only topics are recomputed; region and agency labels are kept
    from the labelled parts (the place half of the label hash is unchanged);
  * place edit (``region_rules.toml``): every label is recomputed from the stored parsed articles.

Each edit appends a TOML comment, which changes the file's hash (so the labels are recomputed) but
not the labels. It prints the median seconds and articles per second of each, and the build's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pipelines", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench_relabel"))
    ap.add_argument("--corpus", type=Path, help="an existing input folder to use instead of generating one")
    args = ap.parse_args()

    work = args.workdir
    shutil.rmtree(work / "dataset", ignore_errors=True)
    shutil.rmtree(work / "data", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    corpus = args.corpus or work / f"corpus_{args.n}"
    if not corpus.exists():
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_corpus.py"), "--n", str(args.n), "--out", str(corpus)], check=True)
    data = work / "data"
    shutil.copytree(ROOT / "pipelines" / "data", data)
    env = {**os.environ, "PIPELINES_DATA_DIR": str(data)}
    ds = work / "dataset"
    workers = ["--workers", str(args.workers)]
    build = _run(["build", "--input", str(corpus), "--dataset", str(ds), *workers], env)
    import pyarrow.dataset as pads

    n = pads.dataset(ds / "articles", format="parquet").count_rows()
    print(f"{n:,} articles, {args.workers} workers, {os.cpu_count()} cores")
    print(f"  build            {build:8.1f} s  {n / build:9,.0f} articles/s")
    for label, file in (("taxonomy edit", "topics.toml"), ("place edit", "gazetteer/region_rules.toml")):
        times = []
        for i in range(args.repeat):
            with (data / file).open("a", encoding="utf-8") as fh:
                fh.write(f"\n# bench_relabel edit {time.time_ns()} {i}\n")
            times.append(_run(["relabel", "--dataset", str(ds), *workers], env))
        t = statistics.median(times)
        print(f"  relabel, {label:14s} {t:6.1f} s  {n / t:9,.0f} articles/s   (median of {len(times)})")


if __name__ == "__main__":
    main()
