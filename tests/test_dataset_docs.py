"""The dataset documents itself from the one schema; these tests fail when docs drift from it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from conftest import ROOT, SAMPLE, run_cli

from pipelines.load import articles_with_mentions, unique_stories
from pipelines.publish.docs import DICTIONARY_FILE, dictionary_markdown, frictionless_type
from pipelines.schema import TABLES


def test_committed_data_dictionary_matches_schema() -> None:
    assert DICTIONARY_FILE.read_text(encoding="utf-8") == dictionary_markdown(), "run: python -m pipelines.publish.docs"


def test_datapackage_matches_schema_and_files(sample_dataset: Path) -> None:
    pkg = json.loads((sample_dataset / "datapackage.json").read_text(encoding="utf-8"))
    resources = {r["name"]: r for r in pkg["resources"]}
    for name, table in TABLES.items():
        res = resources[name]
        fields = res["schema"]["fields"]
        assert [f["name"] for f in fields] == table.names
        for f, col in zip(fields, table.columns, strict=True):
            assert f["description"] == col.description
            assert f["type"] == frictionless_type(col.type)
        for entry in res["files"]:
            path = sample_dataset / entry["path"]
            assert path.stat().st_size == entry["bytes"]
            import hashlib

            assert entry["hash"] == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        # every Parquet file carries the schema's descriptions
        for entry in res["files"]:
            schema = pq.read_schema(sample_dataset / entry["path"])
            for col in table.columns:
                assert schema.field(col.name).metadata[b"description"].decode() == col.description


def test_card_lists_every_field_and_how_to_load(sample_dataset: Path) -> None:
    card = (sample_dataset / "README.md").read_text(encoding="utf-8")
    for table in TABLES.values():
        for col in table.columns:
            assert f"| `{col.name}` | `{col.type}` | {col.description} |" in card
    assert 'pd.read_parquet("dataset/articles")' in card
    assert "read_parquet('dataset/articles/*.parquet')" in card  # DuckDB example
    manifest = json.loads((sample_dataset / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["label_hash"] and manifest["articles"] == len(pd.read_parquet(sample_dataset / "articles"))
    assert set(manifest["label_data"]) >= {"topics.toml", "divisions.csv", "outlets.csv"}


def test_load_helpers(sample_dataset: Path) -> None:
    arts = pd.read_parquet(sample_dataset / "articles")
    uniq = unique_stories(sample_dataset)
    assert len(uniq) == arts["duplicate_of"].isna().sum()
    joined = articles_with_mentions(sample_dataset)
    mentions = pd.read_parquet(sample_dataset / "agency_mentions")
    assert len(joined) == len(mentions)
    assert set(joined["article_id"]) <= set(arts["article_id"])
    assert {"title", "prefecture", "name", "surface"} <= set(joined.columns)


def test_changed_taxonomy_relabels_without_rereading(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "pipelines" / "data", data)
    env = {"PIPELINES_DATA_DIR": str(data)}
    ds = tmp_path / "ds"
    run_cli("build", "--input", str(SAMPLE), "--dataset", str(ds), env=env)
    before = pd.read_parquet(ds / "articles").set_index("source_file")
    seed = "seed/000_0728b4a53c9668bd.txt"
    assert "judicial_enforcement" in list(before.loc[seed, "topics"])
    # a user makes judicial enforcement unreachable in their copy of the taxonomy
    toml = (data / "topics.toml").read_text(encoding="utf-8")
    marker = 'id = "judicial_enforcement"\n'
    assert marker in toml
    (data / "topics.toml").write_text(toml.replace(marker, marker + "threshold = 1000000.0\n"), encoding="utf-8")
    out = run_cli("build", "--input", str(SAMPLE), "--dataset", str(ds), env=env)
    assert "0 read" in out.stdout and "relabelled" in out.stdout, out.stdout
    after = pd.read_parquet(ds / "articles").set_index("source_file")
    assert "judicial_enforcement" not in list(after.loc[seed, "topics"])
    assert after.loc[seed, "title"] == before.loc[seed, "title"]
    # and the explicit command does the same from the stored parsed articles
    (data / "topics.toml").write_text(toml, encoding="utf-8")
    run_cli("relabel", "--dataset", str(ds), env=env)
    again = pd.read_parquet(ds / "articles").set_index("source_file")
    assert "judicial_enforcement" in list(again.loc[seed, "topics"])
    run_cli("validate", "--dataset", str(ds), env=env)


def test_taxonomy_edit_relabels_topics_only_and_matches_a_fresh_build(tmp_path: Path) -> None:
    """After a taxonomy edit only topics are recomputed; the dataset equals one built from scratch."""
    data = tmp_path / "data"
    shutil.copytree(ROOT / "pipelines" / "data", data)
    env = {"PIPELINES_DATA_DIR": str(data)}
    corpus = ROOT.parent / "shared" / "corpus" / "txt" / "yybnet"
    inp = corpus if corpus.is_dir() else SAMPLE
    run_cli("build", "--input", str(inp), "--dataset", str(tmp_path / "ds"), env=env)
    toml = (data / "topics.toml").read_text(encoding="utf-8")
    marker = 'id = "judicial_enforcement"\n'
    (data / "topics.toml").write_text(toml.replace(marker, marker + "threshold = 1.0\n"), encoding="utf-8")
    out = run_cli("relabel", "--dataset", str(tmp_path / "ds"), env=env)
    assert "topics only" in out.stdout, out.stdout
    run_cli("build", "--input", str(inp), "--dataset", str(tmp_path / "fresh"), env=env)
    key = ["source_file", "source_record"]
    relabelled = pd.read_parquet(tmp_path / "ds" / "articles").sort_values(key).reset_index(drop=True)
    fresh = pd.read_parquet(tmp_path / "fresh" / "articles").sort_values(key).reset_index(drop=True)
    assert relabelled["topics"].map(len).sum() > 0
    pd.testing.assert_frame_equal(relabelled, fresh)
    m = [pd.read_parquet(tmp_path / d / "agency_mentions").sort_values(["article_id", "offset"]).reset_index(drop=True) for d in ("ds", "fresh")]
    pd.testing.assert_frame_equal(*m)
