"""The duplicate index at scale: memory and cost per article as the corpus grows.

    python bench/bench_dedupe.py                  # 1,000,000 and 10,000,000 entries
    python bench/bench_dedupe.py --n 1000000

Feeds N synthetic articles (random 128-bit content hashes and SimHashes, every 50th an exact copy
of an earlier one, every 50th a near copy with 3 bits flipped) to ``DuplicateIndex`` as the build's
main process does, and prints, at each tenth of the way, the resident memory above the start (RSS,
from /proc) and the mean microseconds per ``add`` since the previous row. The index keeps recent
entries in memory and older ones in segment files on disk, so the memory column should stay flat.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines.dedupe import DuplicateIndex  # noqa: E402


def rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


def run(n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="bench-dedupe-") as tmp:
        idx = DuplicateIndex(Path(tmp))
        base, peak = rss_mib(), 0.0
        t = time.perf_counter()
        found = 0
        recent: list[tuple[str, int]] = []
        step = max(1, n // 10)
        print(f"{n:,} articles")
        print(f"  {'articles':>12} {'RSS above start':>16} {'us per add':>11} {'duplicates':>11}")
        for i in range(n):
            if i % 50 == 25 and recent:
                chash, sim = rng.choice(recent)  # an exact copy
            elif i % 50 == 49 and recent:
                chash, sim = f"{rng.getrandbits(128):032x}", rng.choice(recent)[1] ^ 0b10101  # a near copy
            else:
                chash, sim = f"{rng.getrandbits(128):032x}", rng.getrandbits(64) - 2**63
                if i % 97 == 0:
                    recent = [*recent, (chash, sim)][-1000:]
            found += idx.add(f"{i:016x}", chash, sim, 1000) is not None
            if (i + 1) % step == 0:
                now = time.perf_counter()
                peak = max(peak, rss_mib() - base)
                print(f"  {i + 1:>12,} {rss_mib() - base:>12.0f} MiB {(now - t) / step * 1e6:>11.1f} {found:>11,}", flush=True)
                t = now
        idx.close()
        print(f"  peak RSS above start: {peak:.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, action="append", help="articles (repeatable; default 1M and 10M)")
    args = ap.parse_args()
    for n in args.n or [1_000_000, 10_000_000]:
        run(n)


if __name__ == "__main__":
    main()
