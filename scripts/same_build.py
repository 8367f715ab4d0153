"""Check that two builds of the same input published the same data, to the byte where it can be.

    .venv/bin/python scripts/same_build.py DATASET_A DATASET_B

For articles, agency_mentions, rejects (and the input manifest) it compares the Arrow schemas, field
descriptions included, and the rows sorted by the table's key; then the Parquet files byte for byte
under their (content-addressed) part names, and the work store's parsed, rejects and duplicate parts
byte for byte. Used to show that a refactoring changed no output: build the same folder with the code
before and after into two datasets and run this (scripts/same_build.sh does both builds and this).
Exit 1 on any difference.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.schema import AGENCY_MENTIONS, ARTICLES, INPUT_MANIFEST, REJECTS, Table

# the sort key of each table: its primary key, then every column, so rows tied on the key still line up
TABLES: tuple[tuple[Table, str], ...] = (
    (ARTICLES, "articles"),
    (AGENCY_MENTIONS, "agency_mentions"),
    (REJECTS, "rejects"),
    (INPUT_MANIFEST, "inputs.parquet"),
)


def _files(dataset: Path, entry: str) -> dict[str, Path]:
    place = dataset / ".store" / "current" / entry
    if place.is_file():
        return {place.name: place}
    return {p.name: p for p in sorted(place.glob("*.parquet"))}


def _sorted_rows(declared: Table, files: dict[str, Path]) -> pa.Table:
    tables = [pq.read_table(p) for p in files.values()]
    table = pa.concat_tables(tables) if tables else declared.empty()
    scalar = [c.name for c in declared.columns if not pa.types.is_nested(c.type)]
    keys = list(declared.primary_key) + [n for n in scalar if n not in declared.primary_key]
    return table.sort_by([(k, "ascending") for k in keys])


def compare(a: Path, b: Path) -> list[str]:
    problems: list[str] = []
    for declared, entry in TABLES:
        fa, fb = _files(a, entry), _files(b, entry)
        if sorted(fa) != sorted(fb):
            problems.append(f"{entry}: part files differ: only in A {sorted(set(fa) - set(fb))}, only in B {sorted(set(fb) - set(fa))}")
        ta, tb = _sorted_rows(declared, fa), _sorted_rows(declared, fb)
        if not ta.schema.equals(tb.schema, check_metadata=True):
            problems.append(f"{entry}: schemas differ:\n{ta.schema}\n---\n{tb.schema}")
        if not ta.equals(tb):
            problems.append(f"{entry}: rows differ ({ta.num_rows} vs {tb.num_rows} rows)")
        same_bytes = sum(fa[n].read_bytes() == fb[n].read_bytes() for n in set(fa) & set(fb))
        if same_bytes != len(fa) or len(fa) != len(fb):
            problems.append(f"{entry}: {len(fa) - same_bytes} of {len(fa)} Parquet files differ in their bytes")
        print(f"{entry}: {ta.num_rows} rows in {len(fa)} file(s); rows {'equal' if ta.equals(tb) else 'DIFFER'}, "
              f"{same_bytes} of {len(fa)} files byte-identical")
    problems += _compare_parts(a, b)
    return problems


def _compare_parts(a: Path, b: Path) -> list[str]:
    """The work store's parsed, rejects and duplicate parts (internal, but written by the same code)."""
    fa = {p.name: p for p in sorted((a / ".store" / "parts").glob("*.parquet"))}
    fb = {p.name: p for p in sorted((b / ".store" / "parts").glob("*.parquet"))}
    if sorted(fa) != sorted(fb):
        return [f".store/parts: part files differ: only in A {sorted(set(fa) - set(fb))}, only in B {sorted(set(fb) - set(fa))}"]
    differ = sorted(n for n in fa if fa[n].read_bytes() != fb[n].read_bytes())
    print(f".store/parts: {len(fa)} file(s), {len(fa) - len(differ)} byte-identical")
    return [f".store/parts: {n} differs in its bytes" for n in differ]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    problems = compare(Path(argv[0]), Path(argv[1]))
    for p in problems:
        print("DIFFERENT:", p)
    print("same" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
