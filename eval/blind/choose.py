"""Choose the blind evaluation set: real articles of ../shared/corpus not in eval/articles.

    python eval/blind/choose.py            (writes eval/blind/articles.tsv)

Chosen by rule, before anyone read them: the articles the pipeline emits from the corpus (one per
file, or per record of a multi-record file), minus every file already in ``eval/articles``, sampled
per corpus folder with a fixed seed (all court digests and Xinmin records, which are few; a share of
the rest), then dealt alternately into ``dev`` (rules may be developed on it) and ``unseen`` (only
ever scored). The texts are not copied: the set names files of ``../shared/corpus`` by path.
"""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CORPUS = ROOT.parent / "shared" / "corpus"
OUT = Path(__file__).resolve().parent / "articles.tsv"
SEED = 13
TAKE = {"txt/court_cases": None, "jsonl/xinmin": None, "txt/sogouc_sample": 40, "txt/cec_raw": 110, "xml/sogoucs": 135}


def main() -> None:
    import pandas as pd

    from pipelines.build import BuildOptions, run_build

    seen = {p.relative_to(ROOT / "eval" / "articles").as_posix() for p in (ROOT / "eval" / "articles").rglob("*") if p.is_file()}
    with tempfile.TemporaryDirectory() as tmp:
        run_build(BuildOptions(input=CORPUS, dataset=Path(tmp) / "ds", workers=2, progress=False))
        arts = pd.read_parquet(Path(tmp) / "ds" / "articles", columns=["source_file", "source_record"])
    arts = arts[~arts["source_file"].isin(seen)].sort_values(["source_file", "source_record"], na_position="first")
    rng = random.Random(SEED)
    rows = []
    for folder, take in TAKE.items():
        group = [tuple(r) for r in arts[arts["source_file"].str.startswith(folder + "/")].itertuples(index=False)]
        chosen = group if take is None else rng.sample(group, min(take, len(group)))
        rng.shuffle(chosen)
        rows += [(f, r, "dev" if i % 2 == 0 else "unseen") for i, (f, r) in enumerate(chosen)]
    rows.sort()
    with OUT.open("w", encoding="utf-8") as fh:
        fh.write("id\tsplit\tsource_file\tsource_record\n")
        for i, (f, r, split) in enumerate(rows, 1):
            fh.write(f"b{i:03d}\t{split}\t{f}\t{'' if r is None or r != r else r}\n")
    print(f"wrote {len(rows)} articles to {OUT}")


if __name__ == "__main__":
    main()
