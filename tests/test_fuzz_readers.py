"""Hostile input, reader by reader: fuzzed and mutated bytes, broken encodings, bombs, huge files, bad folders.

Every case must end as articles and rejects with a precise reason: never an exception, a hang or
unbounded memory. Hypothesis runs are derandomized and bounded so the suite is repeatable and
quick (well under three minutes on two cores).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, SAMPLE, SEED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

import pipelines.parse.files as files_mod
import pipelines.read.isolate as isolate_mod
import pipelines.read.walk as walk_mod
from pipelines.parse.files import FileResult, read_bytes, read_one, read_path
from pipelines.parse.finalize import finalize_article
from pipelines.parse.phase import parse_batch
from pipelines.parse.text import normalise_title
from pipelines.read.decode import decode_bytes
from pipelines.read.errors import REASONS
from pipelines.read.limits import Limits
from pipelines.read.walk import InputFile, walk_inputs
from pipelines.schema import SOURCE_FORMATS

pytestmark = pytest.mark.timeout(300)

def fuzz(examples: int) -> settings:
    """Seeded (derandomized) and bounded: the same examples on every run, no database, no deadline."""
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
STORY = "兰州市中级人民法院近日召开执行工作推进会，通报今年以来全市法院执行工作情况。会议要求加大对失信被执行人的惩戒力度。"
NAMES = ["a.txt", "a.html", "a.json", "a.jsonl", "a.csv", "a.xml", "a.warc", "a.warc.gz", "a.warc.wet.gz", "a.txt.gz", "a.bin", "noext"]


# --- invariants ---------------------------------------------------------------------------------


def check(res: FileResult) -> FileResult:
    """What every read must satisfy, whatever the input."""
    assert res.articles or res.rejects, "a file must produce an article or a reject"
    for rej in res.rejects:
        assert rej["reason"] in REASONS, rej
        assert isinstance(rej["detail"], str) and rej["detail"], rej
        rej["detail"].encode("utf-8")
    for rec in res.articles:
        assert rec["source_format"] in SOURCE_FORMATS, rec["source_format"]
        assert rec.get("title") or rec.get("body")
        row = finalize_article(dict(rec), "f", 10**6)
        for key, value in row.items():
            if isinstance(value, str):
                value.encode("utf-8"), key  # storable in Parquet
            elif isinstance(value, list):
                for v in value:
                    v.encode("utf-8")
    return res


def reasons(res: FileResult) -> list[str]:
    return [r["reason"] for r in res.rejects]


def warc(records: list[tuple[str, bytes, str]], gz: bool = True, rtype: str = "response", ctype: str = "text/html; charset=utf-8") -> tuple[bytes, list[int]]:
    """(url, payload, status) → WARC bytes and the offset of each record (plus the end)."""
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=gz)
    offsets = []
    for url, payload, status in records:
        offsets.append(buf.tell())
        if rtype == "response":
            http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            rec = writer.create_warc_record(url, "response", payload=io.BytesIO(payload), http_headers=http)
        else:
            rec = writer.create_warc_record(url, rtype, payload=io.BytesIO(payload), warc_content_type="text/plain")
        writer.write_record(rec)
    offsets.append(buf.tell())
    return buf.getvalue(), offsets


def page(i: int) -> bytes:
    return f"<html><head><title>第{i}条新闻</title></head><body><h1>第{i}条新闻：兰州中院执行</h1><p>{STORY}</p></body></html>".encode()


def seeds() -> dict[str, bytes]:
    """One valid file per format, the starting point for structure mutations."""
    wgz, _ = warc([(f"http://a.cn/{i}", page(i), "200 OK") for i in range(3)])
    wplain, _ = warc([(f"http://a.cn/{i}", page(i), "200 OK") for i in range(3)], gz=False)
    wet, _ = warc([(f"http://a.cn/{i}", f"2021-03-0{i + 1}\n{STORY}".encode(), "") for i in range(3)], rtype="conversion")
    recs = [{"title": f"标题{i}", "content": STORY, "url": f"http://a.cn/{i}", "date": "2021-03-05"} for i in range(4)]
    return {
        "page.txt": SEED.read_bytes(),
        "plain.txt": (SAMPLE / "txt/cec_raw/cec_008.txt").read_bytes(),
        "digest.txt": (SAMPLE / "txt/court_cases/case_exec_023.txt").read_bytes(),
        "page.html": page(1) * 3,
        "a.jsonl": "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs).encode(),
        "a.json": json.dumps(recs, ensure_ascii=False).encode(),
        "a.csv": ("title,content,url\n" + "".join(f"标题{i},{STORY},http://a.cn/{i}\n" for i in range(4))).encode("gb18030"),
        "a.xml": (SAMPLE / "xml/sogoucs/sogou_tensite_003.xml").read_bytes(),
        "a.warc.gz": wgz,
        "a.warc": wplain,
        "a.warc.wet.gz": wet,
        "a.txt.gz": gzip.compress(SEED.read_bytes(), mtime=0),
        "a.jsonl.gz": gzip.compress("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs).encode(), mtime=0),
    }


SEEDS = seeds()

MUTATION = st.tuples(
    st.sampled_from(["flip", "delete", "insert", "duplicate", "truncate", "nul", "splice"]),
    st.floats(0, 1),
    st.integers(1, 64),
    st.binary(min_size=1, max_size=16),
)


def mutate(data: bytes, ops: list[tuple[str, float, int, bytes]]) -> bytes:
    b = bytearray(data)
    for op, where, n, extra in ops:
        i = int(where * len(b)) if b else 0
        if op == "flip" and b:
            for j in range(i, min(len(b), i + n)):
                b[j] ^= extra[j % len(extra)] or 0x55
        elif op == "delete":
            del b[i : i + n]
        elif op == "insert":
            b[i:i] = extra * (1 + n // len(extra))
        elif op == "duplicate":
            b[i:i] = b[i : i + n * 8]
        elif op == "truncate":
            del b[i:]
        elif op == "nul":
            b[i:i] = bytes(n)
        elif op == "splice":
            other = SEEDS[sorted(SEEDS)[n % len(SEEDS)]]
            b[i:i] = other[: n * 16]
    return bytes(b)


# --- arbitrary and mutated bytes ------------------------------------------------------------------


@fuzz(400)
@given(st.binary(max_size=3000), st.sampled_from(NAMES))
def test_arbitrary_bytes_never_crash(data: bytes, name: str) -> None:
    check(read_bytes(data, name))


@fuzz(300)
@given(st.sampled_from(sorted(SEEDS)), st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_structure_of_every_format_never_crashes(seed: str, ops: list[tuple[str, float, int, bytes]]) -> None:
    check(read_bytes(mutate(SEEDS[seed], ops), seed))


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_every_truncation_point_of_every_format(seed: str) -> None:
    data = SEEDS[seed]
    for cut in sorted({0, 1, 2, 3, 9, 10, 11, len(data) // 7, len(data) // 3, len(data) // 2, len(data) - 9, len(data) - 1}):
        res = check(read_bytes(data[:cut], seed))
        if seed.endswith(".gz") and cut >= 3:
            try:
                gzip.decompress(data[:cut])  # a cut at a member boundary leaves a complete gzip file
            except (OSError, EOFError, zlib.error):
                assert "corrupt_archive" in reasons(res), (cut, res.rejects)


# --- encodings --------------------------------------------------------------------------------------

CJK_TEXT = st.text(alphabet=st.sampled_from("兰州市中级人民法院执行难甘肃天水，。：“”（）0123456789abc \n"), min_size=1, max_size=300)


@fuzz(200)
@given(CJK_TEXT, st.sampled_from(["utf-8", "gb18030", "utf-16", "utf-8-sig"]), st.integers(0, 12))
def test_truncated_multibyte_sequences(text: str, encoding: str, cut: int) -> None:
    data = ("2021-03-05\n" + STORY + text).encode(encoding)
    res = check(read_bytes(data[: len(data) - cut], "a.txt"))
    if encoding in ("utf-8", "gb18030") and cut <= 3:
        assert len(res.articles) == 1
        assert STORY[:20] in res.articles[0]["body"]  # a cut last character never garbles the rest


@fuzz(80)
@given(st.lists(st.tuples(CJK_TEXT, st.sampled_from(["utf-8", "gb18030"])), min_size=2, max_size=8))
def test_mixed_encodings_in_one_jsonl_file_decode_record_by_record(rows: list[tuple[str, str]]) -> None:
    lines = [json.dumps({"title": f"标题{i}{t.strip()[:10]}", "content": STORY + t}, ensure_ascii=False).encode(enc) for i, (t, enc) in enumerate(rows)]
    res = check(read_bytes(b"\n".join(lines), "mixed.jsonl"))
    assert [a["title"] for a in res.articles] == [normalise_title(json.loads(ln.decode(enc))["title"]) for ln, (_t, enc) in zip(lines, rows, strict=True)]
    assert not any("mojibake" in (a.get("quality_flags") or []) for a in res.articles)


def test_mixed_encodings_in_one_text_file_decode_line_by_line() -> None:
    data = "地方网 > 甘肃 > 天水市 > 正文\n\n秦州法院审结拒执案\n\n".encode() + f"来源:天水日报 2021-04-01 10:00\n\n{STORY}\n".encode("gb18030")
    (art,) = check(read_bytes(data, "mixed.txt")).articles
    assert art["title"] == "秦州法院审结拒执案" and art["outlet"] == "天水日报" and art["body"].startswith("兰州市中级人民法院")
    # a pure GB18030 file with a short line that happens to be valid UTF-8 stays GB18030
    gb = ("一\n" + STORY * 3).encode("gb18030")
    assert decode_bytes(gb).encoding == "gb18030" and decode_bytes(gb).text.startswith("一\n")


def test_nul_bytes() -> None:
    text = ("2021-03-05\n" + STORY * 4).encode()
    few = text[:50] + b"\x00" + text[50:]
    (art,) = check(read_bytes(few, "a.txt")).articles
    assert "\x00" not in art["body"]
    assert reasons(check(read_bytes(text.replace("。".encode(), b"\x00\x00\x00"), "a.txt"))) == ["binary_file"]
    ok = b'{"title": "ok", "content": "' + STORY.encode() + b'"}\n'
    res = check(read_bytes(b'{"title": "a\x00b", "content": "x"}\n' + ok * 3, "a.jsonl"))
    assert [a["title"] for a in res.articles] == ["ok"] * 3 and reasons(res) == ["bad_record"]  # a raw NUL is invalid JSON
    res = check(read_bytes(b"title,content\na\x00,b\n" + f"c,{STORY}\n".encode() * 3, "a.csv"))
    assert len(res.articles) + len(res.rejects) == 4 and len(res.articles) >= 3


# --- structured records: wrong types, ragged rows, every record accounted for ---------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**40), 10**40) | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(["title", "content", "url", "date", "author", "x"]), children, max_size=5),
    max_leaves=12,
)


@fuzz(200)
@given(st.lists(JSON_VALUES, max_size=8))
def test_json_with_wrong_types_accounts_for_every_record(records: list[Any]) -> None:
    data = json.dumps(records, ensure_ascii=False).encode()
    res = check(read_bytes(data, "a.json"))
    if records and not (len(records) == 1 and isinstance(records[0], dict)):
        assert len(res.articles) + len(res.rejects) == len(records)
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    res = check(read_bytes(("\n".join(lines) + "\n").encode(), "a.jsonl"))
    if lines:
        assert len(res.articles) + len(res.rejects) == len(lines)


@fuzz(150)
@given(st.lists(st.one_of(st.just("valid"), st.just("blank"), st.just("broken"), st.just("deep"), st.just("bigint"), st.just("surrogate"), st.just("list")), max_size=12))
def test_jsonl_every_line_is_an_article_or_a_reject(kinds: list[str]) -> None:
    make = {
        "valid": lambda i: json.dumps({"title": f"标题{i}", "content": STORY}, ensure_ascii=False),
        "blank": lambda i: "   ",
        "broken": lambda i: '{"title": "x", ',
        "deep": lambda i: "[" * 3000 + "]" * 3000,
        "bigint": lambda i: '{"title": "x", "content": ' + "7" * 6000 + "}",
        "surrogate": lambda i: '{"title": "\\udc80 坏", "content": "正文\\ud800"}',
        "list": lambda i: "[1, 2]",
    }
    data = "\n".join(make[k](i) for i, k in enumerate(kinds)).encode()
    res = check(read_bytes(data, "a.jsonl")) if kinds else None
    if res is not None and any(k != "blank" for k in kinds):
        assert len(res.articles) + len(res.rejects) == sum(k != "blank" for k in kinds)
        assert len(res.articles) == sum(k in ("valid", "surrogate") for k in kinds)


@fuzz(150)
@given(st.lists(st.lists(st.text(alphabet=st.sampled_from('兰州a,"\n '), max_size=6), min_size=0, max_size=5), max_size=10))
def test_csv_ragged_rows_never_crash_and_good_rows_survive(rows: list[list[str]]) -> None:
    good = f"标题,{STORY},http://a.cn/1"
    body = "\n".join(",".join(r) for r in rows)
    data = f"title,content,url\n{good}\n{body}\n{good}\n".encode()
    res = check(read_bytes(data, "a.csv"))
    assert sum(a["title"] == "标题" for a in res.articles) >= 1  # rows before any damage are kept


def test_csv_long_field_and_unclosed_quote() -> None:
    big = "兰" * 300_000  # over the csv module's default 128 KiB field limit
    res = check(read_bytes(f"title,content\n长,{big}\n短,正文\n".encode(), "a.csv"))
    assert [a["title"] for a in res.articles] == ["长", "短"]
    res = check(read_bytes('title,content\n好,正文\n"没闭合,正文\n'.encode(), "a.csv"))
    assert [a["title"] for a in res.articles] == ["好"] and len(res.rejects) == 1


# --- gzip and WARC: damage, truncation, bombs ---------------------------------------------------


@fuzz(60)
@given(st.integers(3, 7), st.data(), st.booleans(), st.sampled_from(["zero", "flip", "garbage", "cut_length", "drop_bytes"]))
def test_warc_with_one_bad_record_keeps_all_its_good_records(n: int, data: st.DataObject, gz: bool, damage: str) -> None:
    urls = [f"http://news.example.cn/{i}.html" for i in range(n)]
    raw, offs = warc([(u, page(i), "200 OK") for i, u in enumerate(urls)], gz=gz)
    bad = data.draw(st.integers(0, n - 1))
    start, end = offs[bad], offs[bad + 1]
    rec = bytearray(raw[start:end])
    pos = int(data.draw(st.floats(0, 1)) * (len(rec) - 41))  # a fraction: record ids and dates make lengths vary
    if damage == "zero":
        rec[pos : pos + 40] = bytes(40)
    elif damage == "flip":
        rec[pos] ^= 0xFF
    elif damage == "garbage":
        rec[pos:pos] = b"\x1f\x8b garbage \r\n\r\nWARC/ nonsense"
    elif damage == "drop_bytes":
        del rec[pos : pos + 40]
    elif damage == "cut_length" and not gz:
        rec = bytearray(bytes(rec).replace(b"Content-Length: ", b"Content-Length: 1", 1))
    res = check(read_bytes(raw[:start] + bytes(rec) + raw[end:], "crawl.warc.gz" if gz else "crawl.warc"))
    got = {a["url"] for a in res.articles}
    assert set(urls) - {urls[bad]} <= got, (damage, bad, res.rejects)
    assert len(res.articles) + len(res.rejects) >= n  # the bad record is an article or a reject


def test_truncated_gzip_keeps_the_records_before_the_damage() -> None:
    lines = [json.dumps({"title": f"记录{i}", "content": STORY + str(i) * 50}, ensure_ascii=False) for i in range(200)]
    whole = gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)
    for frac in (0.2, 0.5, 0.9):
        res = check(read_bytes(whole[: int(len(whole) * frac)], "a.jsonl.gz"))
        titles = [a["title"] for a in res.articles]
        assert titles == [f"记录{i}" for i in range(len(titles))] and titles  # a prefix, nothing invented
        assert reasons(res) == ["corrupt_archive"]
        assert "records before the damage" in res.rejects[0]["detail"]


def bomb(gigabytes: float) -> bytes:
    """A small multi-member gzip of zeros that inflates to ``gigabytes``."""
    member = gzip.compress(bytes(64 << 20), compresslevel=9, mtime=0)
    return member * int(gigabytes * 16)


def test_gzip_bomb_is_refused_at_default_limits_without_inflating_into_memory() -> None:
    data = bomb(4)  # ~4 MB that inflate to 4 GiB, far past the 1 GiB default
    assert len(data) < 8 << 20
    tracemalloc.start()
    try:
        started = time.monotonic()
        res = check(read_bytes(data, "bomb.txt.gz"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert reasons(res) == ["decompressed_too_large"]
    assert peak < 32 << 20, f"peak {peak >> 20} MiB"
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("bomb.txt.gz", b"\xe5\x85\xb0" * (20 << 20)),  # text: one document
        ("bomb.jsonl.gz", (b'{"title": "x", "content": "' + b"y" * 8000 + b'"}\n') * 4000),  # records: streamed, kept up to the limit
        ("bomb.csv.gz", b"title,content\n" + (b"a," + b"b" * 8000 + b"\n") * 4000),
        ("bomb.xml.gz", (b"<doc><contenttitle>x</contenttitle><content>" + b"y" * 8000 + b"</content></doc>") * 4000),
    ],
)
def test_gzip_bombs_of_each_format_stop_at_the_limit_with_bounded_memory(name: str, payload: bytes) -> None:
    limit = 8 << 20
    data = gzip.compress(payload, compresslevel=9, mtime=0)
    tracemalloc.start()
    try:
        n_items = 0
        for _kind, _item in files_mod.iter_source(files_mod.BytesSource(data), name, Limits(max_decompressed_bytes=limit), size=len(data)):
            n_items += 1
            last = _item
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert last["reason"] == "decompressed_too_large", last
    assert peak < 3 * limit + (16 << 20), f"peak {peak >> 20} MiB"


def test_warc_record_bomb_is_refused_and_the_next_record_read() -> None:
    # a response whose HTTP body is gzip-encoded and inflates to 2 GiB
    body = bomb(2)
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Content-Encoding", "gzip")], protocol="HTTP/1.1")
    writer.write_record(writer.create_warc_record("http://a.cn/bomb", "response", payload=io.BytesIO(body), http_headers=http))
    good, _ = warc([("http://a.cn/ok", page(1), "200 OK")])
    tracemalloc.start()
    try:
        res = check(read_bytes(buf.getvalue() + good, "x.warc.gz", Limits(max_document_bytes=8 << 20)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [a["url"] for a in res.articles] == ["http://a.cn/ok"]
    assert reasons(res) == ["document_too_large"]
    assert peak < 64 << 20, f"peak {peak >> 20} MiB"


def test_nested_gzip_and_gzip_quine_depth() -> None:
    doc = json.dumps([{"title": "三层", "content": STORY}], ensure_ascii=False).encode()
    assert len(check(read_bytes(gzip.compress(gzip.compress(gzip.compress(doc))), "a.json.gz.gz.gz")).articles) == 1
    deep = doc
    for _ in range(5):
        deep = gzip.compress(deep)
    assert reasons(check(read_bytes(deep, "a.gz"))) == ["unparseable"]


def test_corrupt_gzip_reasons() -> None:
    z = bytearray(gzip.compress(SEED.read_bytes() * 4, mtime=0))
    z[60:80] = bytes(20)
    assert reasons(check(read_bytes(bytes(z), "a.txt.gz"))) == ["corrupt_archive"]
    assert reasons(check(read_bytes(b"\x1f\x8bnot gzip at all" * 9, "a.gz"))) == ["corrupt_archive"]
    assert reasons(check(read_bytes(gzip.compress(b""), "a.txt.gz"))) == ["empty_file"]
    padded = gzip.compress(SEED.read_bytes()) + bytes(512)  # zero padding after the last member is fine
    assert len(check(read_bytes(padded, "a.txt.gz")).articles) == 1


# --- size: a 10 MB line, big documents, a 200 MB file --------------------------------------------


def test_ten_megabyte_single_line_in_each_format() -> None:
    line = ("兰州市中级人民法院执行局" * (10 * 1024 * 1024 // 36 + 1)).encode()[: 10 * 1024 * 1024]
    line = line[: len(line) - len(line) % 3]
    started = time.monotonic()
    (art,) = check(read_bytes(line, "one_line.txt")).articles
    assert art["body"].startswith("兰州市")
    res = check(read_bytes(b'{"title": "long", "content": "' + line + b'"}\n{"title": "next", "content": "x"}\n', "a.jsonl"))
    assert [a["title"] for a in res.articles] == ["long", "next"]
    res = check(read_bytes(b"title,content\nlong," + line + b"\nnext,x\n", "a.csv"))
    assert [a["title"] for a in res.articles] == ["long", "next"]
    assert time.monotonic() - started < 60


def test_document_over_the_document_limit_is_refused_record_by_record() -> None:
    limits = Limits(max_document_bytes=1 << 20)
    big = b"x" * (2 << 20)
    assert reasons(check(read_bytes(b"2021-01-01\n" + big, "a.txt", limits))) == ["document_too_large"]
    res = check(read_bytes(b'{"title": "a", "content": "' + big + b'"}\n{"title": "b", "content": "c"}\n', "a.jsonl", limits))
    assert [a["title"] for a in res.articles] == ["b"] and reasons(res) == ["document_too_large"]
    # a JSON array over the limit is streamed element by element
    arr = json.dumps([{"title": f"t{i}", "content": "正文" * 2000} for i in range(200)], ensure_ascii=False).encode()
    res = check(read_bytes(arr, "a.json", limits))
    assert [a["title"] for a in res.articles] == [f"t{i}" for i in range(200)]
    res = check(read_bytes(arr[: len(arr) // 2], "a.json", limits))
    assert res.articles and reasons(res) == ["bad_record"]
    assert reasons(check(read_bytes(b'{"a": "' + big + b'"}', "a.json", limits))) == ["document_too_large"]


MEMORY_PROBE = textwrap.dedent(
    """
    import hashlib, os, resource, sys
    from pipelines.parse.files import read_file
    from pipelines.read.limits import Limits
    from pipelines.read.walk import InputFile
    path = sys.argv[1]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    counts = {}
    def emit(item):
        key = item[0] if item[0] == "article" else item[1]["reason"]
        counts[key] = counts.get(key, 0) + 1
    st = os.stat(path)
    sha = read_file(InputFile(os.path.basename(path), path, st.st_size, st.st_mtime_ns), Limits(), emit)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(counts, (after - before) // 1024, sha)
    """
)


def _probe(path: Path) -> tuple[dict[str, int], int, str]:
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(path)], cwd=ROOT, capture_output=True, text=True, timeout=240, check=True).stdout.split()
    counts = eval(" ".join(out[:-2]))  # a dict literal printed by the probe
    return counts, int(out[-2]), out[-1]


def test_200_mb_files_under_default_limits_stream_in_bounded_memory(tmp_path: Path) -> None:
    """Decision: a multi-record file (WARC here) is streamed record by record: every record is read and
    the reader's memory does not grow with the file. A one-article file that big is not an article: it
    is refused as document_too_large without being read (file_too_large needs --max-file-bytes; see
    test_hostile_build)."""
    import hashlib

    warc_path = tmp_path / "big.warc"
    sha = hashlib.sha256()
    with open(warc_path, "wb") as fh:
        filler = bytes(random.Random(1).randrange(256) for _ in range(1 << 20))
        for i in range(200):  # 200 one-MiB image records, with an article every 50
            data, _ = warc([(f"http://img.example.cn/{i}.png", filler, "200 OK")], gz=False, ctype="image/png")
            if i % 50 == 0:
                data += warc([(f"http://news.example.cn/{i}.html", page(i), "200 OK")], gz=False)[0]
            fh.write(data)
            sha.update(data)
    assert warc_path.stat().st_size > 200 << 20
    counts, grew_mib, got_sha = _probe(warc_path)
    assert counts == {"article": 4, "not_article_record": 200}, counts
    assert grew_mib < 64, f"reader memory grew {grew_mib} MiB on a {warc_path.stat().st_size >> 20} MiB file"
    assert got_sha == sha.hexdigest()  # the manifest hash covers every byte

    text_path = tmp_path / "big.txt"
    with open(text_path, "wb") as fh:
        for _ in range(200):
            fh.write(("兰州" * 174763).encode()[: 1 << 20])
    counts, grew_mib, _ = _probe(text_path)
    assert counts == {"document_too_large": 1}
    assert grew_mib < 32


# --- HTML and parser pathologies ------------------------------------------------------------------


def test_deeply_nested_and_unclosed_html() -> None:
    started = time.monotonic()
    res = check(read_bytes(b"<html><body>" + b"<div>" * 100_000 + STORY.encode() + b"</body></html>", "deep.html"))
    assert reasons(res) == ["unparseable"] and "nested 100000 deep" in res.rejects[0]["detail"]
    assert time.monotonic() - started < 10
    for html in (
        b"<html><body><div class=\"" + b"a" * 200_000,
        b"<html><body><!--" + STORY.encode() * 100,
        b"<html><body>" + b"<span><b><i><font>" * 20_000 + STORY.encode(),
        b"<html><body><script>" + b"x" * 100_000,
        b"<html><head><title>" + "标题".encode() * 50_000 + b"<body><p>" + STORY.encode(),
        b"<html><body>" + b"<table><tr><td>" * 5_000 + STORY.encode(),
    ):
        check(read_bytes(html, "x.html"))
    assert time.monotonic() - started < 60


def test_court_digest_without_full_stops_is_linear() -> None:
    text = ("关键词\n执行\n基本案情\n" + "申请执行人某公司申请执行\n" * 200_000).encode()
    started = time.monotonic()
    (art,) = check(read_bytes(text, "d.txt")).articles
    assert time.monotonic() - started < 20  # was quadratic: minutes for this input
    assert art["source_format"] == "court_digest"


@fuzz(60)
@given(st.sampled_from(["a›", "地方网 > ", "来源:", "记者 张三 ", "2021年1月", "&nbsp;", "<doc>", "<content>", "关键词\n", "【", "-", "□记者"]), st.integers(1000, 20000))
def test_repeated_tokens_parse_in_linear_time(token: str, n: int) -> None:
    started = time.monotonic()
    for name in ("a.txt", "a.xml"):
        check(read_bytes((token * n).encode("gb18030" if name == "a.xml" else "utf-8"), name))
    assert time.monotonic() - started < 10


# --- time budget: soft (Python code) and hard (native code) ---------------------------------------


def _file(tmp_path: Path, name: str, data: bytes) -> InputFile:
    p = tmp_path / name
    p.write_bytes(data)
    st_ = p.stat()
    return InputFile(name, str(p), st_.st_size, st_.st_mtime_ns)


def test_soft_time_budget_interrupts_python_code_and_keeps_earlier_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = files_mod.parse_record

    def slow(record: Any) -> dict[str, Any]:
        if isinstance(record, dict) and record.get("title") == "hang":
            while True:
                pass
        return real(record)

    monkeypatch.setattr(files_mod, "parse_record", slow)
    f = _file(tmp_path, "a.jsonl", b'{"title": "one", "content": "x"}\n{"title": "two", "content": "y"}\n{"title": "hang", "content": "z"}\n{"title": "four"}\n')
    started = time.monotonic()
    res, sha = read_one(f, Limits(file_time_budget=0.5))
    assert time.monotonic() - started < 5
    assert [a["title"] for a in res.articles] == ["one", "two"]
    assert reasons(res) == ["timeout"] and "the 2 records before it are kept" in res.rejects[0]["detail"]
    assert sha  # the file is hashed even though reading stopped


def test_hard_deadline_kills_a_reader_stuck_in_native_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = files_mod.parse_plain_text

    def stuck(text: str) -> dict[str, Any]:
        if "STUCK" in text:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})  # like native code: the alarm cannot get in
            while True:
                pass
        if "CRASH" in text:
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(text)

    monkeypatch.setattr(files_mod, "parse_plain_text", stuck)
    files = [
        _file(tmp_path, "1.txt", ("2021-01-01\n" + STORY).encode()),
        _file(tmp_path, "2.txt", b"2021-01-01\nSTUCK"),
        _file(tmp_path, "3.txt", b"2021-01-01\nCRASH"),
        _file(tmp_path, "4.txt", ("2021-01-02\n" + STORY).encode()),
    ]
    isolate_mod.stop_reader()  # a fresh reader process, forked with the patched parser
    started = time.monotonic()
    try:
        out = parse_batch(files, Limits(file_time_budget=0.5), str(tmp_path), "part")
    finally:
        isolate_mod.stop_reader()
    assert time.monotonic() - started < 15
    import pyarrow.parquet as pq

    rejects = pq.read_table(tmp_path / "part.rejects.parquet").to_pylist()
    assert [(r["source_file"], r["reason"]) for r in rejects] == [("2.txt", "timeout"), ("3.txt", "reader_crashed")]
    assert "stuck in native code" in rejects[0]["detail"] and "signal 11" in rejects[1]["detail"]
    assert [(f.rel, f.articles, f.rejects) for f in out.files] == [("1.txt", 1, 0), ("2.txt", 0, 1), ("3.txt", 0, 1), ("4.txt", 1, 0)]


# --- the walk and the read: links, names, FIFOs, permissions, vanishing and growing files ---------


def _remove_chain(top: Path) -> None:
    """Remove a chain of nested ``d`` folders without recursion."""
    cwd = os.getcwd()
    try:
        os.chdir(top)
        depth = 0
        while os.path.isdir("d"):
            os.chdir("d")
            depth += 1
        for name in os.listdir("."):
            os.unlink(name)
        for _ in range(depth):
            os.chdir("..")
            os.rmdir("d")
    finally:
        os.chdir(cwd)


def test_walk_symlink_loops_dangling_links_fifo_and_deep_folders(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "story.txt").write_text("2021-01-01\n" + STORY, encoding="utf-8")
    (root / "a" / "b" / "loop").symlink_to(root / "a")
    (root / "self").symlink_to(root / "self")
    (root / "dangling").symlink_to(root / "nowhere")
    (root / "twin").symlink_to(root / "a" / "b")
    os.mkfifo(root / "pipe")
    (root / "empty_dir" / "deeper").mkdir(parents=True)
    deep = root / "deep"
    deep.mkdir()
    cwd = os.getcwd()
    try:
        os.chdir(deep)
        for _ in range(1200):  # deeper than Python's recursion limit
            os.mkdir("d")
            os.chdir("d")
        Path("leaf.txt").write_text("2021-01-01\n" + STORY, encoding="utf-8")
    finally:
        os.chdir(cwd)
    try:
        got = {f.rel: (f.problem, f.detail) for f in walk_inputs(root)}
    finally:
        _remove_chain(deep)  # shutil.rmtree (and pytest's cleanup) would recurse past Python's limit
    assert got["a/b/story.txt"] == (None, "")
    assert got["a/b/loop"][0] == "symlink_loop" and "loop" in got["a/b/loop"][1]
    assert got["self"][0] == "symlink_loop" and got["dangling"][0] == "symlink_loop"
    assert got["twin"][0] == "symlink_loop" and "already walked" in got["twin"][1]
    assert got["pipe"][0] == "read_error" and "not a regular file" in got["pipe"][1]
    assert ("deep/" + "d/" * 1200 + "leaf.txt") in got
    assert not any(rel.startswith("empty_dir") for rel in got)
    res, _ = read_one(next(f for f in walk_inputs(root) if f.rel == "pipe"), Limits())
    assert reasons(res) == ["read_error"]


def test_names_that_are_not_utf8_are_read_under_an_escaped_name(tmp_path: Path) -> None:
    root = tmp_path / "in"
    root.mkdir()
    bad = os.path.join(os.fsencode(root), b"caf\xe9.txt")
    with open(bad, "wb") as fh:
        fh.write(("2021-01-01\n" + STORY).encode())
    (root / "caf\\xe9.txt").write_text("2021-01-02\n" + STORY, encoding="utf-8")  # spelled like the escape
    walked = list(walk_inputs(root))
    rels = [f.rel for f in walked]
    assert len(set(rels)) == len(rels) == 2
    ok = [f for f in walked if not f.problem]
    clash = [f for f in walked if f.problem]
    assert len(ok) == 1 and len(clash) == 1 and "rename it" in clash[0].detail
    res, sha = read_one(ok[0], Limits())
    assert len(res.articles) == 1 and sha
    for f in walked:
        f.rel.encode("utf-8")


def test_unreadable_vanished_growing_and_replaced_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = _file(tmp_path, "a.txt", ("2021-01-01\n" + STORY).encode())
    # vanished between the walk and the read
    gone = InputFile("gone.txt", str(tmp_path / "gone.txt"), 10, 0)
    res, sha = read_one(gone, Limits())
    assert reasons(res) == ["read_error"] and "vanished" in res.rejects[0]["detail"] and sha == ""
    # grew past --max-file-bytes after the walk measured it
    (tmp_path / "a.txt").write_bytes(b"x" * 5000)
    res, _ = read_one(f, Limits(max_file_bytes=4096))
    assert reasons(res) == ["file_too_large"] and "grew" in res.rejects[0]["detail"]
    # replaced by a FIFO after the walk: refused without blocking
    os.unlink(tmp_path / "a.txt")
    os.mkfifo(tmp_path / "a.txt")
    started = time.monotonic()
    res, _ = read_one(f, Limits())
    assert reasons(res) == ["read_error"] and time.monotonic() - started < 5
    # permission denied: chmod 000 stops a normal user; root reads anyway, so the open is made to fail too
    locked = _file(tmp_path, "locked.txt", ("2021-01-01\n" + STORY).encode())
    os.chmod(locked.path, 0)
    try:
        if os.geteuid() != 0:
            res, _ = read_one(locked, Limits())
            assert reasons(res) == ["read_error"] and "permission denied" in res.rejects[0]["detail"]

        def denied(path: str) -> Any:
            raise PermissionError(13, "Permission denied", path)

        monkeypatch.setattr(files_mod, "open_input", denied)
        res, _ = read_one(locked, Limits())
        assert reasons(res) == ["read_error"] and "permission denied" in res.rejects[0]["detail"]
    finally:
        os.chmod(locked.path, 0o644)


def test_entry_vanishing_during_the_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "in"
    root.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (root / name).write_text("2021-01-01\n" + STORY, encoding="utf-8")
    real_scandir = os.scandir

    @contextlib.contextmanager
    def listing_then_unlink(path: Any) -> Iterator[list[os.DirEntry[str]]]:
        # the folder is listed, then b.txt is deleted before the walk gets to stat it
        with real_scandir(path) as it:
            entries = list(it)
        if os.fspath(path) == str(root):
            (root / "b.txt").unlink()
        yield entries

    monkeypatch.setattr(walk_mod.os, "scandir", listing_then_unlink)
    got = {f.rel: (f.problem, f.detail) for f in walk_inputs(root)}
    monkeypatch.undo()
    assert got["a.txt"] == (None, "") and got["c.txt"] == (None, "")
    assert got["b.txt"] == ("read_error", "cannot stat: vanished during the walk")


def test_read_path_streams_from_disk(tmp_path: Path) -> None:
    data, _ = warc([(f"http://a.cn/{i}", page(i), "200 OK") for i in range(3)])
    p = tmp_path / "x.warc.gz"
    p.write_bytes(data)
    res = check(read_path(str(p), p.name))
    assert len(res.articles) == 3
    assert reasons(read_path(str(tmp_path / "missing"), "missing")) == ["read_error"]


def test_zlib_stream_without_gzip_header_is_not_mistaken() -> None:
    check(read_bytes(zlib.compress(SEED.read_bytes()), "a.txt.gz"))


# --- the byte plumbing itself, with chunk boundaries everywhere -----------------------------------


class _Chunks:
    """A chunk source that hands out ``data`` in the given chunk sizes (then the rest in 5-byte chunks)."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data, self.pos, self.sizes = data, 0, list(sizes)

    def read_chunk(self) -> bytes:
        n = self.sizes.pop(0) if self.sizes else 5
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out


@fuzz(300)
@given(st.binary(max_size=400).map(lambda b: b.replace(b"\r", b"")), st.lists(st.integers(1, 40), max_size=30), st.integers(1, 50))
def test_stream_readline_matches_split_at_any_chunking(data: bytes, sizes: list[int], limit: int) -> None:
    from pipelines.read.stream import Stream

    s = Stream(_Chunks(data, sizes))
    got = []
    while True:
        line, too_long = s.readline(limit)
        if not line:
            break
        got.append((line, too_long))
    want = []
    rest = data
    while rest:
        idx = rest.find(b"\n")
        line = rest[: idx + 1] if idx >= 0 else rest
        rest = rest[len(line) :]
        want.append((line[:limit], True) if len(line) > limit else (line, False))
    assert got == want
    assert s.offset == len(data)


@fuzz(300)
@given(st.binary(max_size=300), st.sampled_from([b"<doc>", b"\nWARC/", b"ab"]), st.lists(st.integers(1, 30), max_size=30), st.integers(1, 80))
def test_stream_read_until_and_find_skip_at_any_chunking(data: bytes, needle: bytes, sizes: list[int], limit: int) -> None:
    from pipelines.read.stream import Stream

    s = Stream(_Chunks(data, sizes))
    got, found, too_long = s.read_until(needle, limit)
    idx = data.find(needle)
    if idx < 0:
        assert not found
        assert (got, too_long) == ((data[:limit], True) if len(data) > limit else (data, False))
    else:
        assert found
        assert (got, too_long) == ((data[:limit], True) if idx > limit else (data[:idx], False))
        assert s.peek(len(needle)) == needle and s.offset == idx
    s2 = Stream(_Chunks(data, sizes))
    skipped = s2.find_skip(needle)
    assert skipped == (idx if idx >= 0 else -1)


@fuzz(150)
@given(st.lists(st.binary(max_size=3000), min_size=1, max_size=5), st.lists(st.integers(1, 200), max_size=40))
def test_gunzip_of_many_members_at_any_chunking(members: list[bytes], sizes: list[int]) -> None:
    from pipelines.read.stream import Gunzip, Stream

    data = b"".join(gzip.compress(m, mtime=0) for m in members)
    gz = Gunzip(Stream(_Chunks(data, sizes)), limit=1 << 20)
    out = Stream(gz).read_upto(1 << 20)
    assert bytes(out) == b"".join(members) and not gz.damage
