"""Every Parquet file is written through ``pipelines.store.TableWriter``, which makes it match its declared table.

The tables written here are the rows of a real build of the bundled sample, altered one way at a time.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, SAMPLE, run_cli

from pipelines.schema import AGENCY_MENTIONS, ARTICLES, DUPLICATES, INPUT_MANIFEST, PARSED, REJECTS, Column, SchemaError, Table
from pipelines.store import PartWriter, write_parquet


@pytest.fixture(scope="module")
def articles(sample_dataset: Path) -> pa.Table:
    return pq.read_table(sample_dataset / "articles")


def _replace(table: pa.Table, name: str, column: pa.Array | pa.ChunkedArray) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, column)


def _refused(declared: Table, table: pa.Table, path: Path, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        write_parquet(declared, table, path)
    assert list(path.parent.iterdir()) == [], "a refused write leaves no file, not even a temporary one"


def test_a_missing_column_is_refused_naming_table_and_column(articles: pa.Table, tmp_path: Path) -> None:
    _refused(ARTICLES, articles.drop_columns(["content_hash"]), tmp_path / "a.parquet", r"^articles\.content_hash: missing \(declared string\)$")
    # a nullable column is not made up either: conform() fills it for old files, a write must not
    _refused(ARTICLES, articles.drop_columns(["outlet"]), tmp_path / "a.parquet", r"^articles\.outlet: missing")


def test_a_mistyped_column_is_refused_naming_table_column_and_types(articles: pa.Table, tmp_path: Path) -> None:
    as_text = pc.cast(articles["body_chars"], pa.string())
    _refused(ARTICLES, _replace(articles, "body_chars", as_text), tmp_path / "a.parquet", r"^articles\.body_chars: is string, declared int32$")
    # a naive time would be read as another instant in Asia/Shanghai: not a safe cast
    naive = pc.cast(articles["published_at"], pa.timestamp("ms"))
    _refused(ARTICLES, _replace(articles, "published_at", naive), tmp_path / "a.parquet", r"^articles\.published_at: is timestamp\[ms\], declared")
    # a narrower float rounds: float64 is refused for a float32 column, float32 for a float64 one is widened
    wide = _replace(articles, "region_confidence", pc.cast(articles["region_confidence"], pa.float64()))
    _refused(ARTICLES, wide, tmp_path / "a.parquet", r"^articles\.region_confidence: is double, declared float$")
    ratio = Table("ratios", "", (Column("share", pa.float64(), ""),))
    write_parquet(ratio, articles.select(["region_confidence"]).rename_columns(["share"]), tmp_path / "r.parquet")
    assert pq.read_table(tmp_path / "r.parquet")["share"].to_pylist() == articles["region_confidence"].to_pylist()


def test_values_that_do_not_fit_and_nulls_in_required_columns_are_refused(articles: pa.Table, tmp_path: Path) -> None:
    rows = pa.table({"article_id": articles["article_id"].slice(0, 2), "duplicate_of": pa.array([None, "x"], pa.string())})
    _refused(DUPLICATES, rows, tmp_path / "d.parquet", r"^duplicates\.duplicate_of: 1 nulls in a required column$")
    big = _replace(articles, "body_chars", pc.add(pc.cast(articles["body_chars"], pa.int64()), 2**40))
    _refused(ARTICLES, big, tmp_path / "a.parquet", r"^articles\.body_chars: cannot cast int64 to int32 without losing values")
    _refused(ARTICLES, articles.append_column("extra", pa.nulls(articles.num_rows)), tmp_path / "a.parquet", r"^articles: columns \['extra'\] are not declared")


def test_safe_casts_give_the_declared_schema_exactly(articles: pa.Table, tmp_path: Path) -> None:
    # columns shuffled, a wider integer, a dictionary-encoded text column, lists as Parquet gives them back
    shuffled = articles.select(list(reversed(articles.column_names)))
    shuffled = _replace(shuffled, "body_chars", pc.cast(articles["body_chars"], pa.int64()))
    shuffled = _replace(shuffled, "source_format", pc.dictionary_encode(articles["source_format"]))
    assert str(shuffled.schema.field("breadcrumb").type) == "list<element: string>"
    path = tmp_path / "a.parquet"
    write_parquet(ARTICLES, shuffled, path)
    back = pq.read_table(path)
    assert ARTICLES.enforce(back).schema.equals(ARTICLES.arrow_schema(), check_metadata=True)
    assert back.column_names == ARTICLES.names
    assert back.select(ARTICLES.names).equals(articles), "the values are those written"


def test_part_writer_streams_row_groups_through_the_same_check(articles: pa.Table, tmp_path: Path) -> None:
    rows = articles.select(PARSED.names).slice(0, 5).to_pylist()
    out = PartWriter(PARSED, tmp_path / "p.parquet", flush_rows=2)
    for row in rows:
        out.add(row)
    out.close()
    written = pq.ParquetFile(tmp_path / "p.parquet")
    assert written.metadata.num_row_groups == 3
    assert written.read().to_pylist() == rows
    assert written.schema_arrow.metadata == PARSED.arrow_schema().metadata


def _shape(schema: pa.Schema) -> list[tuple[str, str, bool, dict[bytes, bytes] | None]]:
    """Name, type, nullability and description of each column (a list's item is called 'element' once read back)."""
    return [(f.name, str(f.type).replace("<element:", "<item:"), f.nullable, f.metadata) for f in schema]


@pytest.fixture(scope="module")
def rebuilt_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """The sample plus a reprint of one of its pages (a duplicate mark), built; then one file removed and
    the folder built again with --prune, so that parts are also rewritten without a file's rows."""
    root = tmp_path_factory.mktemp("rebuilt")
    inp, ds = root / "in", root / "dataset"
    shutil.copytree(SAMPLE, inp)
    pages = sorted(p for p in inp.rglob("*.txt") if p.parent.name != "seed")
    (inp / "reprint").mkdir()
    shutil.copy2(pages[0], inp / "reprint" / pages[0].name)
    run_cli("build", "--input", str(inp), "--dataset", str(ds), "--workers", "2")
    first = {p.name for p in (ds / ".store" / "parts").glob("*.parsed.parquet")}
    pages[1].unlink()
    run_cli("build", "--input", str(inp), "--dataset", str(ds), "--workers", "2", "--prune")
    return ds, first


def test_every_file_of_a_real_build_has_its_declared_schema(rebuilt_dataset: tuple[Path, set[str]]) -> None:
    dataset, first_parts = rebuilt_dataset
    store = dataset / ".store"
    files: dict[Table, list[Path]] = {
        ARTICLES: sorted((dataset / "articles").glob("*.parquet")),
        AGENCY_MENTIONS: sorted((dataset / "agency_mentions").glob("*.parquet")),
        REJECTS: sorted((store / "parts").glob("*.rejects.parquet")),
        INPUT_MANIFEST: [store / "current" / "inputs.parquet"],
        PARSED: sorted((store / "parts").glob("*.parsed.parquet")),
        DUPLICATES: sorted((store / "parts").glob("*.dups.parquet")),
    }
    assert {p.name for p in files[PARSED]} - first_parts, "the --prune build rewrote a part without the removed file's rows"
    for declared, paths in files.items():
        assert paths, f"the build wrote no {declared.name} file"
        for path in paths:
            schema = pq.read_schema(path)
            assert _shape(schema) == _shape(declared.arrow_schema()), f"{path.relative_to(dataset)} is not {declared.name} as declared"
            assert schema.metadata == declared.arrow_schema().metadata, path
    dups = pq.read_table(files[DUPLICATES])
    assert dups.num_rows == 1, "the reprint is marked as the duplicate of the page it copies"


# --- no Parquet is written around the check ---------------------------------------------------------

# Writes that do not go through TableWriter yet, each with why. A line of this list that no longer
# matches a call fails the test too, so the list shrinks as callers are moved.
UNCHECKED_WRITES = {
    # a user's download of a query result, not a table of the dataset
    ("dashboard/queries.py", "pq.write_table"): 1,
    # the dashboard test writes a deliberately foreign part file
    ("tests/test_dashboard_apptest.py", "pq.write_table"): 1,
    # aggregates that drift from their declarations, written to show check_parquet refuses them
    ("tests/test_schema_writes.py", "pq.write_table"): 3,
    # bench/stages.py times Parquet encoding into memory
    ("bench/stages.py", "pq.write_table"): 2,
}
WRITERS = ("write_table", "ParquetWriter", "write_dataset", "to_parquet")


def _parquet_writes(path: Path) -> list[str]:
    """Calls in ``path`` that write Parquet without TableWriter, as 'owner.name' (e.g. 'pq.write_table')."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITERS:
            owner = node.func.value
            found.append(f"{owner.id if isinstance(owner, ast.Name) else ast.unparse(owner)}.{node.func.attr}")
    return found


def test_no_parquet_write_goes_around_the_declared_schemas() -> None:
    seen: dict[tuple[str, str], int] = {}
    for folder in ("pipelines", "dashboard", "bench", "tests", "scripts"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "pipelines/store.py":
                continue  # TableWriter itself
            for call in _parquet_writes(path):
                seen[(rel, call)] = seen.get((rel, call), 0) + 1
    assert seen == UNCHECKED_WRITES, "write through pipelines.store.write_parquet / TableWriter with the table declared in schema.py"


# --- aggregates: written by DuckDB, checked against their declarations -------------------------------


def test_every_aggregate_of_a_real_build_is_its_declared_table(sample_dataset: Path) -> None:
    from pipelines.schema import AGGREGATE_TABLES
    from pipelines.store import check_parquet

    written = sorted(p.stem for p in (sample_dataset / "aggregates").glob("*.parquet"))
    assert written == sorted(AGGREGATE_TABLES)
    for stem, declared in AGGREGATE_TABLES.items():
        check_parquet(declared, sample_dataset / "aggregates" / f"{stem}.parquet")
        got = pq.read_table(sample_dataset / "aggregates" / f"{stem}.parquet")
        assert got.num_rows > 0 and got.column_names == declared.names


def test_an_aggregate_that_drifts_from_its_declaration_is_refused(sample_dataset: Path, tmp_path: Path) -> None:
    from pipelines.schema import AGGREGATE_TABLES
    from pipelines.store import check_parquet

    declared = AGGREGATE_TABLES["coverage"]
    coverage = pq.read_table(sample_dataset / "aggregates" / "coverage.parquet")
    widened = _replace(coverage, "articles", pc.cast(coverage["articles"], pa.int64()))
    pq.write_table(widened, tmp_path / "coverage.parquet")
    with pytest.raises(SchemaError, match=r"coverage\.articles is int64, declared int32"):
        check_parquet(declared, tmp_path / "coverage.parquet")
    pq.write_table(coverage.drop_columns(["topic"]), tmp_path / "coverage.parquet")
    with pytest.raises(SchemaError, match=r"missing \['topic'\]"):
        check_parquet(declared, tmp_path / "coverage.parquet")
    nulls = _replace(coverage, "articles", pa.nulls(coverage.num_rows, pa.int32()))
    pq.write_table(nulls, tmp_path / "coverage.parquet")
    with pytest.raises(SchemaError, match=r"coverage\.articles: \d+ nulls in a required column"):
        check_parquet(declared, tmp_path / "coverage.parquet")


def test_a_readers_column_list_naming_an_undeclared_column_fails_at_once() -> None:
    from dashboard.data import REQUIRED_COLUMNS

    assert set(REQUIRED_COLUMNS) <= set(ARTICLES.names)
    with pytest.raises(SchemaError, match=r"articles has no columns \['headline'\]"):
        ARTICLES.subset("title", "headline")


def test_datapackage_describes_every_aggregate_from_its_declaration(sample_dataset: Path) -> None:
    import json

    from pipelines.schema import AGGREGATE_TABLES

    package = json.loads((sample_dataset / "datapackage.json").read_text(encoding="utf-8"))
    resources = {r["name"]: r for r in package["resources"]}
    for stem, declared in AGGREGATE_TABLES.items():
        fields = resources[f"aggregates_{stem}"]["schema"]["fields"]
        assert [f["name"] for f in fields] == declared.names
        assert all(f.get("description") for f in fields)
