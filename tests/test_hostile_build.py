"""Nothing lost: the real CLI on hostile files mixed with real ones accounts for every file and record.

The adversarial corpus is ``tests/adversarial`` (its README lists each file's expected articles and
reject reasons); big, binary, bomb and filesystem cases are generated here at test time.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import ROOT, SAMPLE, run_cli
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines.parse.files import read_bytes
from pipelines.read.walk import walk_inputs

pytestmark = pytest.mark.timeout(600)

ADVERSARIAL = ROOT / "tests" / "adversarial"
STORY = "兰州市中级人民法院近日召开执行工作推进会，通报今年以来全市法院执行工作情况。会议要求加大对失信被执行人的惩戒力度。"
Expected = tuple[int, Counter[str]]


def readme_expectations() -> dict[str, Expected]:
    """The 'Files and expected outcomes' table of tests/adversarial/README.md."""
    text = (ADVERSARIAL / "README.md").read_text(encoding="utf-8")
    table = text.split("## Files and expected outcomes", 1)[1]
    out: dict[str, Expected] = {}
    for line in table.splitlines():
        m = re.match(r"^\| `([^`]+)` \| .* \| (\d+) \| ([^|]+) \|$", line)
        if not m:
            continue
        rejects: Counter[str] = Counter()
        for part in m.group(3).split(","):
            part = part.strip()
            if part and part != "—":
                reason, _, n = part.partition("×")
                rejects[reason.strip()] += int(n or 1)
        out[m.group(1)] = (int(m.group(2)), rejects)
    return out


def sample_expectations() -> dict[str, Expected]:
    """What the readers make of each real sample file, read in this process (the CLI must agree)."""
    out: dict[str, Expected] = {}
    for path in sorted(SAMPLE.rglob("*")):
        if path.is_file() and path.name not in ("SOURCES.tsv",):
            res = read_bytes(path.read_bytes(), path.name)
            out[f"sample/{path.relative_to(SAMPLE).as_posix()}"] = (len(res.articles), Counter(r["reason"] for r in res.rejects))
    return out


def bomb(gigabytes: float) -> bytes:
    member = gzip.compress(bytes(64 << 20), compresslevel=9, mtime=0)
    return member * int(gigabytes * 16)


def generate(gen: Path) -> dict[str, Expected]:
    """Big, binary, bomb and filesystem cases that are not committed; returns their expected outcome."""
    gen.mkdir()
    rng = random.Random(3)
    (gen / "bomb.txt.gz").write_bytes(bomb(4))
    (gen / "random.bin").write_bytes(rng.randbytes(5 << 20))
    (gen / "deep.html").write_bytes(b"<html><body>" + b"<div>" * 100_000 + STORY.encode() + b"</body></html>")
    (gen / "one_line.txt").write_bytes((STORY * (2 * 1024 * 1024 // len(STORY.encode()))).encode())
    # a keyword-stuffed page: one 12M-character line of one place name (labelling it was quadratic: hours)
    (gen / "repeated_name.txt").write_bytes(("甘肃兰州" * 3_000_000).encode())
    os.mkfifo(gen / "pipe")
    (gen / "loop").symlink_to(gen)
    (gen / "self").symlink_to(gen / "self")
    (gen / "dangling").symlink_to(gen / "nowhere")
    with open(os.path.join(os.fsencode(gen), b"caf\xe9.txt"), "wb") as fh:
        fh.write(f"2021-03-05\n{STORY}".encode())
    (gen / "empty_dir" / "empty_too").mkdir(parents=True)
    chain = gen / "chain"
    chain.mkdir()
    cwd = os.getcwd()
    try:
        os.chdir(chain)
        for _ in range(300):
            os.mkdir("d")
            os.chdir("d")
        Path("leaf.txt").write_text(f"2021-03-06\n{STORY}", encoding="utf-8")
    finally:
        os.chdir(cwd)
    none: Counter[str] = Counter()
    return {
        "generated/bomb.txt.gz": (0, Counter(["decompressed_too_large"])),
        "generated/random.bin": (0, Counter(["binary_file"])),
        "generated/deep.html": (0, Counter(["unparseable"])),
        "generated/one_line.txt": (1, none),
        "generated/repeated_name.txt": (1, none),
        "generated/pipe": (0, Counter(["read_error"])),
        "generated/loop": (0, Counter(["symlink_loop"])),
        "generated/self": (0, Counter(["symlink_loop"])),
        "generated/dangling": (0, Counter(["symlink_loop"])),
        "generated/caf\\xe9.txt": (1, none),
        "generated/chain/" + "d/" * 300 + "leaf.txt": (1, none),
    }


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str], dict[str, Expected]]:
    root = tmp_path_factory.mktemp("hostile_build")
    inp = root / "in"
    shutil.copytree(SAMPLE, inp / "sample")
    expected = {**sample_expectations()}
    (inp / "adversarial").mkdir()
    for name, exp in readme_expectations().items():
        shutil.copy(ADVERSARIAL / name, inp / "adversarial" / name)
        expected[f"adversarial/{name}"] = exp
    expected.update(generate(inp / "generated"))
    ds = root / "dataset"
    proc = run_cli("build", "--input", str(inp), "--dataset", str(ds), "--workers", "2", "--no-progress", timeout=300)
    return inp, ds, proc, expected


def test_every_adversarial_file_is_listed_in_the_readme() -> None:
    listed = set(readme_expectations())
    present = {p.name for p in ADVERSARIAL.iterdir() if p.is_file() and p.name not in ("README.md", "make_adversarial.py")}
    assert listed == present
    assert len(listed) >= 30


def test_hostile_build_accounts_for_every_file_and_record(hostile: tuple[Path, Path, subprocess.CompletedProcess[str], dict[str, Expected]]) -> None:
    inp, ds, proc, expected = hostile
    assert proc.returncode == 0
    walked = [f for f in walk_inputs(inp)]
    readable = {f.rel for f in walked if f.problem != "ignored"}
    assert f"files: {len(walked)} found" in proc.stdout
    articles = pd.read_parquet(ds / "articles", columns=["article_id", "source_file", "source_record"])
    rejects = pd.read_parquet(ds / "rejects")
    manifest = pq.read_table(ds / ".store" / "current" / "inputs.parquet").to_pandas()
    # every file the walk found is in the manifest, and in articles or rejects; nothing else is
    assert set(manifest["source_file"]) == readable
    assert set(articles["source_file"]) | set(rejects["source_file"]) == readable
    assert not any(rel.startswith("generated/empty_dir") for rel in readable)
    # every file gives exactly the articles and reject reasons expected of it (every record of a multi-record file)
    got_articles = Counter(articles["source_file"])
    got_rejects: dict[str, Counter[str]] = {}
    for sf, reason in zip(rejects["source_file"], rejects["reason"], strict=True):
        got_rejects.setdefault(sf, Counter())[reason] += 1
    assert set(expected) == readable
    wrong = {
        rel: {"expected": (n, dict(reasons)), "got": (got_articles.get(rel, 0), dict(got_rejects.get(rel, Counter())))}
        for rel, (n, reasons) in expected.items()
        if got_articles.get(rel, 0) != n or got_rejects.get(rel, Counter()) != reasons
    }
    assert not wrong, json.dumps(wrong, ensure_ascii=False, indent=1)
    # the manifest's per-file counts are the dataset's
    for row in manifest.itertuples():
        assert row.articles == got_articles.get(row.source_file, 0), row.source_file
        assert row.rejects == sum(got_rejects.get(row.source_file, Counter()).values()), row.source_file
    assert articles["article_id"].is_unique
    assert rejects["detail"].str.len().gt(0).all()
    assert f"articles: {len(articles)} added" in proc.stdout and f"rejects: {len(rejects)} added" in proc.stdout
    run_cli("validate", "--dataset", str(ds))


def test_a_repeated_name_page_is_labelled_within_its_budget(hostile: tuple[Path, Path, subprocess.CompletedProcess[str], dict[str, Expected]]) -> None:
    _, ds, proc, _ = hostile
    assert proc.returncode == 0
    arts = pd.read_parquet(ds / "articles", columns=["source_file", "body_chars", "quality_flags", "province_code", "prefecture_code"])
    row = arts[arts["source_file"] == "generated/repeated_name.txt"].iloc[0]
    assert row["body_chars"] == 12_000_000
    assert "label_truncated" in list(row["quality_flags"])
    assert (row["province_code"], row["prefecture_code"]) == ("620000", "620100")
    # only that page was over the budget
    flagged = arts[arts["quality_flags"].map(lambda f: "label_truncated" in list(f))]
    assert set(flagged["source_file"]) <= {"generated/repeated_name.txt", "generated/one_line.txt"}


def _warc_bytes(records: list[tuple[str, str, bytes]]) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=False)
    for url, ctype, payload in records:
        http = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(url, "response", payload=io.BytesIO(payload), http_headers=http))
    return buf.getvalue()


def test_each_limit_flag_trips_with_its_reason(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "big.txt").write_bytes(f"2021-03-05\n{STORY}\n".encode() * (6 * 1024 * 1024 // 180))  # 6 MB > --max-file-bytes 5M
    (inp / "bomb.txt.gz").write_bytes(gzip.compress(b"a" * (64 << 20), mtime=0))  # 64 MiB > --max-decompressed-bytes 1M
    (inp / "records.jsonl").write_text("".join(json.dumps({"title": f"第{i}条", "content": STORY}, ensure_ascii=False) + "\n" for i in range(10)), encoding="utf-8")
    # ~6 s of Python work in the HTML extractor here (50,000 tiny paragraphs, 0.9 MB), six times the
    # budget: the alarm interrupts it. (60,000 long paragraphs, ~1 s, once finished in time on CI.)
    (inp / "paragraphs.html").write_text("<html><body>" + "".join(f"<p>执行{i}</p>" for i in range(50_000)) + "</body></html>", encoding="utf-8")
    # quadratic inside the native HTML parser: the alarm cannot get in, only the hard deadline stops it
    (inp / "options.html").write_text("<html><head><title>下拉框</title></head><body><select>" + "<option>兰州</option>" * 100_000 + "</select></body></html>", encoding="utf-8")
    (inp / "ok.txt").write_text(f"2021-03-05\n{STORY}", encoding="utf-8")
    ds = tmp_path / "ds"
    proc = run_cli(
        "build", "--input", str(inp), "--dataset", str(ds), "--workers", "2", "--no-progress",
        "--max-file-bytes", "5M", "--max-decompressed-bytes", "1M", "--max-records-per-file", "4", "--file-time-budget", "1",
        timeout=240,
    )
    assert proc.returncode == 0
    rejects = pd.read_parquet(ds / "rejects")
    by_file = {sf: sorted(g["reason"]) for sf, g in rejects.groupby("source_file")}
    assert by_file == {
        "big.txt": ["file_too_large"],
        "bomb.txt.gz": ["decompressed_too_large"],
        "records.jsonl": ["too_many_records"],
        "options.html": ["timeout"],
        "paragraphs.html": ["timeout"],
    }
    details = dict(zip(rejects["source_file"], rejects["detail"], strict=True))
    assert "--max-file-bytes" in details["big.txt"]
    assert "--max-decompressed-bytes" in details["bomb.txt.gz"]
    assert "stopped after record 3" in details["records.jsonl"]
    assert "--file-time-budget 1 s (stuck in native code and stopped)" in details["options.html"]
    assert "--file-time-budget 1 s (interrupted)" in details["paragraphs.html"]
    articles = pd.read_parquet(ds / "articles")
    assert sorted(articles["source_file"]) == ["ok.txt"] + ["records.jsonl"] * 4
    run_cli("validate", "--dataset", str(ds))


RSS_WRAPPER = textwrap.dedent(
    """
    import resource, subprocess, sys
    proc = subprocess.run([sys.executable, "-m", "pipelines", *sys.argv[1:]], capture_output=True, text=True)
    sys.stderr.write(proc.stderr)
    print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
    """
)


def _build_peak_rss(inp: Path, ds: Path, *flags: str) -> tuple[int, int]:
    """(exit code, peak RSS in MiB of the build's largest process: CLI, pool worker or reader)."""
    out = subprocess.run(
        [sys.executable, "-c", RSS_WRAPPER, "build", "--input", str(inp), "--dataset", str(ds), "--workers", "1", "--no-progress", *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=True,
    )
    code, rss = out.stdout.split()
    return int(code), int(rss)


def test_200_mb_files_via_the_cli(tmp_path: Path) -> None:
    """A 200 MB file is refused as file_too_large under a lowered --max-file-bytes. Under the default
    limits a 200 MB WARC is streamed (all its records accounted for, memory not growing with the file)
    and a 200 MB one-article text file is refused as document_too_large without being held."""
    inp = tmp_path / "in"
    inp.mkdir()
    chunk = (f"{STORY}\n" * 6000).encode()
    with open(inp / "huge.txt", "wb") as fh:
        while fh.tell() < 200 << 20:
            fh.write(chunk)
    filler = random.Random(5).randbytes(1 << 20)
    with open(inp / "huge.warc", "wb") as fh:
        for i in range(200):
            fh.write(_warc_bytes([(f"http://img.example.cn/{i}.jpg", "image/jpeg", filler)]))
            if i % 50 == 0:
                page = f"<html><head><title>第{i}条</title></head><body><h1>第{i}条新闻：兰州中院执行</h1><p>{STORY}</p></body></html>"
                fh.write(_warc_bytes([(f"http://news.example.cn/{i}.html", "text/html; charset=utf-8", page.encode())]))
    small = tmp_path / "small"
    small.mkdir()
    (small / "ok.txt").write_text(f"2021-03-05\n{STORY}", encoding="utf-8")

    lowered = tmp_path / "ds_lowered"
    run_cli("build", "--input", str(inp), "--dataset", str(lowered), "--workers", "1", "--no-progress", "--max-file-bytes", "100M", timeout=300)
    rej = pd.read_parquet(lowered / "rejects")
    assert dict(zip(rej["source_file"], rej["reason"], strict=True)) == {"huge.txt": "file_too_large", "huge.warc": "file_too_large"}

    code, baseline = _build_peak_rss(small, tmp_path / "ds_small")
    assert code == 0
    code, peak = _build_peak_rss(inp, tmp_path / "ds_default")
    assert code == 0
    assert peak - baseline < 120, f"peak RSS {peak} MiB vs {baseline} MiB for a one-file build"
    rej = pd.read_parquet(tmp_path / "ds_default" / "rejects")
    assert Counter(zip(rej["source_file"], rej["reason"], strict=True)) == Counter({("huge.txt", "document_too_large"): 1, ("huge.warc", "not_article_record"): 200})
    arts = pd.read_parquet(tmp_path / "ds_default" / "articles")
    assert sorted(arts["url"]) == sorted(f"http://news.example.cn/{i}.html" for i in range(0, 200, 50))
