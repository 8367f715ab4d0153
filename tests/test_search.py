"""The full-text search index: exact on the real corpus, incremental, tied to its snapshot, and the query language."""

from __future__ import annotations

import json
import os
import shutil
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, SAMPLE, record_fresh_processes, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import queries as Q
from dashboard.safe import Span, highlight_html
from dashboard.search import Clause, ParsedQuery, QueryError, parse_query, snippet
from pipelines.publish import search_index as SI
from pipelines.schema import SEARCH_SEP, trigram_key

CORPUS = ROOT.parent / "shared" / "corpus"


def _connect(ds: Path) -> Q.Db:
    return Q.connect(ds / "articles", ds / "agency_mentions", ds / "rejects", ds / "aggregates", search=ds / "search")


@pytest.fixture(scope="module")
def corpus_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CORPUS.is_dir():
        pytest.skip("the real corpus (shared/corpus) is not here")
    ds = tmp_path_factory.mktemp("search") / "corpus"
    run_cli("build", "--input", str(CORPUS), "--dataset", str(ds), "--no-progress", timeout=900)
    return ds


@pytest.fixture(scope="module")
def corpus(corpus_dataset: Path) -> tuple[Q.Db, pd.DataFrame]:
    db = _connect(corpus_dataset)
    assert db.search is not None, "the build publishes an index that belongs to its snapshot"
    texts = db.query("SELECT f.file_row_number AS row, coalesce(a.title, '') AS title, coalesce(a.body, '') AS body FROM articles a JOIN facts f USING (article_id)")
    return db, texts.sort_values("row").reset_index(drop=True)


def _scan(texts: pd.DataFrame, term: str, title_only: bool = False) -> list[int]:
    hit = texts["title"].str.contains(term, regex=False)
    if not title_only:
        hit |= texts["body"].str.contains(term, regex=False)
    return texts.loc[hit, "row"].astype(int).tolist()


@st.composite
def real_substrings(draw: st.DrawFn, texts: pd.DataFrame) -> str:
    i = draw(st.integers(0, len(texts) - 1))
    field = draw(st.sampled_from(["title", "body"]))
    text = texts.iloc[i][field]
    if len(text) < 2:
        text = texts.iloc[i]["body"] or "法院"
    n = draw(st.integers(2, min(12, len(text))))
    start = draw(st.integers(0, len(text) - n))
    return text[start : start + n].strip() or "法院"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_index_hits_are_the_substring_scan_on_the_real_corpus(corpus: tuple[Q.Db, pd.DataFrame], data: st.DataObject) -> None:
    db, texts = corpus
    term = data.draw(real_substrings(texts))
    if len(term) < 2 or any(ch.isspace() for ch in term) or '"' in term or term.startswith("-") or term in ("OR", "|"):
        term = f'"{term}"' if len(term) >= 2 and '"' not in term else "法院"
    title_only = data.draw(st.booleans())
    raw = term.strip('"') if term.startswith('"') else term
    got = db.search.term_rows(raw, title_only).tolist()  # type: ignore[union-attr]
    assert got == _scan(texts, raw, title_only), raw
    if any(unicodedata.category(ch) == "Cc" for ch in raw):
        return  # a search box cannot hold a newline; the index itself was checked above
    res = Q.search_hits(db, term, title_only)
    assert res.error is None and res.hits is not None
    assert res.hits.column("row").to_pylist() == _scan(texts, raw, title_only)


@pytest.mark.parametrize("term", ["法院", "人民法院", "甘肃省", "失信被执行人", "执行", "兰州市中级人民法院", "新华社", "记者", "公司", "2008", "中国", "习近平"])
def test_named_terms_match_the_scan(corpus: tuple[Q.Db, pd.DataFrame], term: str) -> None:
    db, texts = corpus
    assert db.search.term_rows(term).tolist() == _scan(texts, term)  # type: ignore[union-attr]
    assert db.search.term_rows(term, True).tolist() == _scan(texts, term, True)  # type: ignore[union-attr]


def test_query_language_on_the_corpus(corpus: tuple[Q.Db, pd.DataFrame]) -> None:
    db, texts = corpus
    a, b, c = set(_scan(texts, "法院")), set(_scan(texts, "甘肃")), set(_scan(texts, "执行"))
    assert a and b and c and a & b and a - c

    def rows(text: str, title_only: bool = False) -> set[int]:
        res = Q.search_hits(db, text, title_only)
        assert res.error is None, (text, res.error)
        return set(res.hits.column("row").to_pylist())  # type: ignore[union-attr]

    assert rows("法院 甘肃") == a & b
    assert rows("法院 OR 甘肃") == a | b
    assert rows("法院 -执行") == a - c
    assert rows("法院 OR 甘肃 -执行") == (a | b) - c
    assert rows("-执行") == set(texts["row"]) - c
    assert rows('"人民 法院"') == set(_scan(texts, "人民 法院"))
    single = Q.search_hits(db, "院")
    assert "search_note_short" in single.notes and set(single.hits.column("row").to_pylist()) == set(_scan(texts, "院"))  # type: ignore[union-attr]
    assert rows("法院", title_only=True) == set(_scan(texts, "法院", True))
    # full-width input is folded like the text (NFKC)
    assert rows("２００８") == set(_scan(texts, "2008"))


def test_snippets_mark_the_match(corpus: tuple[Q.Db, pd.DataFrame]) -> None:
    db, texts = corpus
    rows = _scan(texts, "人民法院")[:5]
    snips = Q.snippets(db, rows, "人民法院")
    assert set(snips) == set(rows)
    assert all("⟦人民法院⟧" in s for s in snips.values())
    assert snippet("标题", "前文<b>人民法院</b>后文", ("人民法院",)) == "标题"[:0] + "前文<b>⟦人民法院⟧</b>后文"


@pytest.mark.parametrize(
    ("text", "err"),
    [('"失信', "search_err_quote"), ('""', "search_err_empty_phrase"), ("OR 法院", "search_err_or"), ("法院 OR", "search_err_or"),
     ("法院 OR OR 甘肃", "search_err_or"), ("法院 -", "search_err_dash"), ("法院 OR -甘肃", "search_err_neg_or"),
     ("a1 a2 a3 a4 a5 a6 a7 a8 a9", "search_err_too_many")],
)  # fmt: skip
def test_malformed_queries_get_a_message(text: str, err: str) -> None:
    assert parse_query(text) == QueryError(err)


def test_query_parse() -> None:
    assert parse_query("  ") is None
    assert parse_query('失信 "限制 消费" -广告 限高 OR 限消') == ParsedQuery(
        (Clause(("失信",)), Clause(("限制 消费",)), Clause(("广告",), negated=True), Clause(("限高", "限消")))
    )
    assert parse_query('-"兰州 新闻"') == ParsedQuery((Clause(("兰州 新闻",), negated=True),))


@given(st.lists(st.sampled_from([*'法院 "-|甘肃\t', "OR", " OR "]), max_size=30).map("".join))
def test_any_query_parses_or_gets_a_message(text: str) -> None:
    out = parse_query(text)
    assert out is None or isinstance(out, ParsedQuery | QueryError)


def test_highlight_escapes_then_marks() -> None:
    html = highlight_html("<script>法院</script>", [Span(8, 10, "search", "q")], tag="h3")
    assert "<script>" not in html and "&lt;script&gt;" in html and '<mark class="ev-search"' in html


# --- building: incremental, no-op, relabel, snapshot ---------------------------------------------------


def _files(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in folder.glob("*.parquet")}


def test_index_is_incremental_and_belongs_to_its_snapshot(tmp_path: Path) -> None:
    src = tmp_path / "in"
    shutil.copytree(SAMPLE, src)
    later = sorted(p for p in src.rglob("*.txt"))[-5:]
    held = tmp_path / "held"
    held.mkdir()
    for p in later:
        shutil.move(p, held / p.name)
    ds = tmp_path / "ds"
    run_cli("build", "--input", str(src), "--dataset", str(ds), "--no-progress")
    first = json.loads((ds / "search" / "manifest.json").read_text())
    assert first["new_docs"] == first["indexed_docs"] == pq.read_metadata(ds / "aggregates" / "article_facts.parquet").num_rows
    before = _files(ds / "search")
    # a no-op rerun publishes nothing and rebuilds nothing
    out = run_cli("build", "--input", str(src), "--dataset", str(ds), "--no-progress")
    assert "nothing new" in out.stdout and _files(ds / "search") == before
    # new files: only their articles are indexed, the old segment is the same file (a hard link)
    for p in later:
        shutil.copy2(held / p.name, src / "seed" / p.name)
    run_cli("build", "--input", str(src), "--dataset", str(ds), "--no-progress")
    second = json.loads((ds / "search" / "manifest.json").read_text())
    facts = pq.read_metadata(ds / "aggregates" / "article_facts.parquet").num_rows
    assert second["indexed_docs"] == facts and 0 < second["new_docs"] < facts
    seg0 = first["segments"][0]["id"]
    assert _files(ds / "search")[f"{seg0}.postings.parquet"] == before[f"{seg0}.postings.parquet"]
    db = _connect(ds)
    texts = db.query("SELECT f.file_row_number AS row, coalesce(a.title, '') AS title, coalesce(a.body, '') AS body FROM articles a JOIN facts f USING (article_id)")
    for term in ("法院", "甘肃省", "人民法院"):
        assert db.search.term_rows(term).tolist() == sorted(_scan(texts, term))  # type: ignore[union-attr]
    # relabelling (a changed taxonomy) changes no text: nothing is indexed again, rows are mapped anew
    data = tmp_path / "data"
    shutil.copytree(ROOT / "pipelines" / "data", data)
    toml = (data / "topics.toml").read_text(encoding="utf-8")
    (data / "topics.toml").write_text(toml.replace('id = "judicial_enforcement"\n', 'id = "judicial_enforcement"\nthreshold = 1000000.0\n'), encoding="utf-8")
    out = run_cli("relabel", "--dataset", str(ds), "--no-progress", env={"PIPELINES_DATA_DIR": str(data)})
    assert "relabelled" in out.stdout, out.stdout
    third = json.loads((ds / "search" / "manifest.json").read_text())
    assert third["new_docs"] == 0 and third["indexed_docs"] == facts
    assert _files(ds / "search")[f"{seg0}.postings.parquet"] == before[f"{seg0}.postings.parquet"]


def test_a_dataset_without_index_or_with_a_stale_one_scans(tmp_path: Path, sample_dataset: Path) -> None:
    ds = tmp_path / "old"
    for name in ("articles", "agency_mentions", "rejects", "aggregates", "search"):
        shutil.copytree(sample_dataset / name, ds / name)
    want = _connect(ds)
    assert want.search is not None
    expected = Q.search_hits(want, "法院 OR 甘肃").hits.column("row").to_pylist()  # type: ignore[union-attr]
    # an index that does not belong to this snapshot's facts is not used
    man = json.loads((ds / "search" / "manifest.json").read_text())
    (ds / "search" / "manifest.json").write_text(json.dumps({**man, "facts_bytes": man["facts_bytes"] + 1}))
    stale = _connect(ds)
    assert stale.search is None
    # nor is a missing one (a dataset built by older code): the scan answers, with a note
    shutil.rmtree(ds / "search")
    old = _connect(ds)
    res = Q.search_hits(old, "法院 OR 甘肃")
    assert old.search is None and "search_note_no_index" in res.notes
    assert res.hits.column("row").to_pylist() == expected  # type: ignore[union-attr]


def test_killed_publish_keeps_the_published_index(tmp_path: Path, sample_dataset: Path) -> None:
    ds = tmp_path / "ds"
    run_cli("build", "--input", str(SAMPLE), "--dataset", str(ds), "--no-progress")
    snap = os.path.realpath(ds / "search")
    man = (ds / "search" / "manifest.json").read_text()
    extra = tmp_path / "extra"
    shutil.copytree(SAMPLE, extra)
    (extra / "seed" / "new.txt").write_text("2024-01-02\n兰州新区法院公开审理一起失信被执行人拒不履行判决案。\n", encoding="utf-8")
    out = run_cli("build", "--input", str(extra), "--dataset", str(ds), "--no-progress", check=False, env={"PIPELINES_FAILPOINT": "before_swap"})
    assert out.returncode != 0
    assert os.path.realpath(ds / "search") == snap and (ds / "search" / "manifest.json").read_text() == man
    assert _connect(ds).search is not None
    run_cli("build", "--input", str(extra), "--dataset", str(ds), "--no-progress")
    db = _connect(ds)
    new = db.query("SELECT f.file_row_number AS row FROM articles a JOIN facts f USING (article_id) WHERE a.source_file = 'seed/new.txt'")["row"].tolist()
    assert len(new) == 1 and new[0] in db.search.term_rows("兰州新区法院").tolist()  # type: ignore[union-attr]


def test_index_rows_cover_facts(sample_dataset: Path) -> None:
    rows = pq.read_table(sample_dataset / "search" / "rows.parquet").to_pandas()
    n = pq.read_metadata(sample_dataset / "aggregates" / "article_facts.parquet").num_rows
    assert sorted(rows["facts_row"]) == list(range(n))
    assert np.all(np.diff(rows["doc"].to_numpy()) > 0)


def _reference_postings(titles: list[str], bodies: list[str], base: int) -> list[tuple[int, int, int]]:
    """Every (key, doc, off) of ``title SEP body SEP`` by the definition, sorted: what the index must hold."""
    sep = chr(SEARCH_SEP)
    rows = []
    for i, (title, body) in enumerate(zip(titles, bodies, strict=True)):
        text = title + sep + body + sep
        for j in range(len(text) - 2):
            if sep not in text[j : j + 2]:
                rows.append((trigram_key(*map(ord, text[j : j + 3])), base + i, j - len(title) - 1))
    return sorted(rows)


@pytest.mark.parametrize("path", ["one-pass", "two-digit radix", "argsort"])
def test_postings_are_every_trigram_sorted(tmp_path: Path, path: str) -> None:
    """Each of the three ways the segment builder sorts (chosen by how many bits the alphabet and the
    positions need) writes exactly the sorted trigrams of real text, articles that start mid-block
    and empty titles included."""
    files = sorted(p for p in CORPUS.rglob("*.txt"))[:40] if CORPUS.is_dir() else sorted(SAMPLE.rglob("*.txt"))[:40]
    bodies = [p.read_text(encoding="utf-8", errors="replace")[:3000] for p in files]
    titles = [b.split("\n", 1)[0][:40] if i % 3 else "" for i, b in enumerate(bodies)]
    bodies += ["a", "", "甘肃"]  # articles shorter than a trigram
    titles += ["", "", "兰"]
    text = SI._SegmentText.of(pa.array(titles, pa.string()), pa.array(bodies, pa.string()))
    _, _, b, p = SI._sorted_trigrams(text.cp)
    word_bits = {"one-pass": 64, "two-digit radix": 3 * b + p - 1, "argsort": 2 * b + p - 1}[path]
    n = SI._write_postings(text, 7, tmp_path / "x.postings.parquet", word_bits)
    got = pq.read_table(tmp_path / "x.postings.parquet")
    want = _reference_postings(titles, bodies, 7)
    assert n == len(want) == got.num_rows
    assert list(zip(*(got.column(c).to_pylist() for c in ("key", "doc", "off")), strict=True)) == want


def test_segments_built_by_fresh_processes_are_the_same(sample_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A big publish indexes in spawned workers (their memory is their own); the files are the ones
    the publishing process writes for a small publish."""
    snap = tmp_path / "snap"
    shutil.copytree((sample_dataset / ".store" / "current").resolve(), snap, symlinks=True)
    shutil.rmtree(snap / "search")
    parts = sorted(p.name.removeprefix("part-").removesuffix(".parquet") for p in (snap / "articles").glob("part-*.parquet"))
    monkeypatch.setattr(SI, "SEGMENT_CHARS", 10_000)  # several segments, so the pool has work for each worker
    monkeypatch.setattr(SI, "IN_PROCESS_CHARS", 0)
    modules = record_fresh_processes(monkeypatch, SI)
    pooled = SI.build_search_index(snap, None, parts, workers=2)
    assert modules == ["pipelines.publish.search_index"]
    monkeypatch.undo()
    monkeypatch.setattr(SI, "SEGMENT_CHARS", 10_000)
    again = tmp_path / "again"
    shutil.copytree(snap, again, symlinks=True)
    shutil.rmtree(again / "search")
    here = SI.build_search_index(again, None, parts, workers=2)
    assert len(pooled["segments"]) > 2 and pooled["segments"] == here["segments"]
    # a part bigger than a segment is cut by rows into segments that each fit (one article may not)
    assert len(parts) < len(here["segments"])
    assert all(seg["chars"] + 64 * seg["docs"] <= 10_000 or seg["docs"] == 1 for seg in here["segments"])
    for seg in here["segments"]:
        for kind in ("postings", "docs"):
            name = f"{seg['id']}.{kind}.parquet"
            assert pq.read_table(snap / "search" / name).equals(pq.read_table(again / "search" / name))
