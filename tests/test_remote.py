"""Inputs and datasets at fsspec URLs: a real S3 protocol server (moto, on localhost) and file:// URLs.

Every build runs through the real CLI; the rows must equal a local build of the same files, a rerun
must publish nothing, and the published dataset must never be seen half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import SAMPLE, run_cli

from pipelines import load
from pipelines.publish import remote as publish_remote
from pipelines.read.remote import is_url, modification_stamp, walk_remote
from pipelines.read.walk import walk_inputs

KEYS = {"articles": ["article_id"], "agency_mentions": ["article_id", "offset", "name"], "rejects": ["source_file", "reason", "source_record"]}


def table(dataset: str | Path, name: str) -> pd.DataFrame:
    """A table of a dataset folder or URL, in key order (part names, and so file order, depend on mtimes)."""
    df = publish_remote.read_table(dataset, name).to_pandas() if is_url(str(dataset)) else pd.read_parquet(Path(dataset) / name)
    return df.sort_values(KEYS[name], na_position="first").reset_index(drop=True)


def assert_same_rows(a: str | Path, b: str | Path) -> None:
    for name in KEYS:
        pd.testing.assert_frame_equal(table(a, name), table(b, name), obj=f"{name} of {a} vs {b}")


# --- the S3 server -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """moto's S3 server on a free localhost port; AWS_* variables point s3fs (here and in the CLI) at it."""
    pytest.importorskip("s3fs")
    pytest.importorskip("moto.server")
    import s3fs

    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        s3fs.S3FileSystem.clear_instance_cache()
        fs = s3fs.S3FileSystem()
        fs.mkdir("crawl")
        fs.mkdir("pub")
        fs.put(str(SAMPLE), "crawl/in", recursive=True)
        yield fs
    finally:
        server.terminate()
        server.wait(timeout=10)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        s3fs.S3FileSystem.clear_instance_cache()


def test_s3_walk_matches_local_walk(s3: Any) -> None:
    remote = list(walk_remote("s3://crawl/in"))
    local = list(walk_inputs(SAMPLE))
    assert [(f.rel, f.size, f.problem) for f in remote] == [(f.rel, f.size, f.problem) for f in local]
    assert all(f.path.startswith("s3://crawl/in/") and f.mtime_ns > 10**18 for f in remote)  # LastModified, in ns
    assert [f.rel for f in walk_remote("s3://crawl/nothing-here")] == []
    gone = list(walk_remote("s3://no-such-bucket/x"))
    assert len(gone) == 1 and gone[0].problem == "read_error" and gone[0].rel == "."


def test_build_from_s3_input_equals_local_build(s3: Any, sample_dataset: Path, tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    first = run_cli("build", "--input", "s3://crawl/in", "--dataset", str(ds), "--workers", "2", "--no-progress")
    assert "41 found" in first.stdout, first.stdout
    assert_same_rows(ds, sample_dataset)
    again = run_cli("build", "--input", "s3://crawl/in", "--dataset", str(ds), "--no-progress")
    assert "0 read" in again.stdout and "nothing new" in again.stdout, again.stdout


def test_build_into_s3_dataset_is_incremental_and_never_half_written(s3: Any, sample_dataset: Path, tmp_path: Path) -> None:
    url = "s3://pub/gansu"
    work = tmp_path / "work"
    run_cli("build", "--input", "s3://crawl/in", "--dataset", url, "--work-dir", str(work), "--workers", "2", "--no-progress")
    assert_same_rows(url, sample_dataset)
    pointer = json.loads(s3.cat_file("pub/gansu/current.json"))
    assert set(pointer["tables"]) >= {"articles", "agency_mentions", "rejects", "aggregates"}
    assert len(load.articles(url)) == len(pd.read_parquet(sample_dataset / "articles"))
    objects = sorted(s3.find("pub/gansu/objects"))

    # rerun: nothing read, nothing uploaded, the same snapshot published
    again = run_cli("build", "--input", "s3://crawl/in", "--dataset", url, "--work-dir", str(work), "--no-progress")
    assert "0 read" in again.stdout and "nothing new" in again.stdout, again.stdout
    assert sorted(s3.find("pub/gansu/objects")) == objects
    assert json.loads(s3.cat_file("pub/gansu/current.json"))["snapshot"] == pointer["snapshot"]

    # an object rewritten at once with other bytes of the same size: S3 times are whole seconds, the ETag tells
    rel = next(p.relative_to(SAMPLE).as_posix() for p in sorted(SAMPLE.rglob("*.txt")) if "法院".encode() in p.read_bytes())
    data = s3.cat_file(f"crawl/in/{rel}")
    changed = data.replace("法院".encode(), "检察".encode(), 1)
    assert changed != data and len(changed) == len(data)
    s3.pipe_file(f"crawl/in/{rel}", changed)
    third = run_cli("build", "--input", "s3://crawl/in", "--dataset", url, "--work-dir", str(work), "--no-progress")
    assert "1 read" in third.stdout, third.stdout
    newer = json.loads(s3.cat_file("pub/gansu/current.json"))
    assert newer["snapshot"] != pointer["snapshot"]
    assert s3.exists(f"pub/gansu/snapshots/{pointer['snapshot']}.json")  # the previous snapshot stays readable
    arts = load.articles(url)
    row = arts.loc[arts["source_file"] == rel].iloc[0]
    assert "检察" in row["title"] + row["body"]

    # another machine (an empty work store) continues from what is published: nothing re-read or re-sent
    fresh = run_cli("build", "--input", "s3://crawl/in", "--dataset", url, "--work-dir", str(tmp_path / "other"), "--no-progress")
    assert "0 read" in fresh.stdout and "nothing new" in fresh.stdout, fresh.stdout
    assert json.loads(s3.cat_file("pub/gansu/current.json"))["snapshot"] == newer["snapshot"]
    assert_same_rows(tmp_path / "other", url)
    s3.pipe_file(f"crawl/in/{rel}", data)


def test_cli_rejects_missing_s3_input_in_one_line(s3: Any, tmp_path: Path) -> None:
    proc = run_cli("build", "--input", "s3://crawl/missing", "--dataset", str(tmp_path / "ds"), check=False)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.count("\n") == 1 and "s3://crawl/missing" in proc.stderr and "does not exist" in proc.stderr


# --- file:// URLs (no server needed) ---------------------------------------------------------------


def test_file_urls_build_the_same_dataset(sample_dataset: Path, tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    url = f"file://{tmp_path}/pub"
    run_cli("build", "--input", f"file://{SAMPLE}", "--dataset", url, "--work-dir", str(tmp_path / "work"), "--workers", "2", "--no-progress")
    for name in KEYS:  # same files, same stat mtimes, same parts: identical in row order too
        got = publish_remote.read_table(url, name).to_pandas()
        pd.testing.assert_frame_equal(got, pd.read_parquet(sample_dataset / name), obj=name)
    assert len(load.unique_stories(url)) == len(load.unique_stories(sample_dataset))
    assert len(load.articles_with_mentions(url)) == len(load.articles_with_mentions(sample_dataset))


def test_file_url_walk_equals_local_walk(tmp_path: Path) -> None:
    """Same records in the same order (the order fixes batches and so which copy of a story is the original)."""
    pytest.importorskip("fsspec")
    for rel in ("a/b.txt", "a.txt", "a-b.txt", "a/c/d.txt", "b/README.md", "b/.hidden", "z.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel, encoding="utf-8")
    local = [(f.rel, f.size, f.mtime_ns, f.problem) for f in walk_inputs(tmp_path)]
    remote = [(f.rel, f.size, f.mtime_ns, f.problem) for f in walk_remote(f"file://{tmp_path}")]
    assert remote == local
    assert [r[0] for r in local][:4] == ["a/b.txt", "a/c/d.txt", "a-b.txt", "a.txt"]


def test_interrupted_upload_leaves_the_published_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upload that dies half-way never moves current.json; the next build finishes the work; old objects are collected."""
    pytest.importorskip("fsspec")
    from pipelines.build import BuildOptions, run_build

    src = tmp_path / "in"
    shutil.copytree(SAMPLE / "txt", src / "txt")
    url = f"file://{tmp_path}/pub"
    work = tmp_path / "work"

    def opts() -> BuildOptions:
        return BuildOptions(input=src, dataset=Path(), workers=1, progress=False)

    publish_remote.build_remote(opts(), url, run_build, work)
    before = publish_remote.read_table(url, "articles").to_pandas()
    snap0 = json.loads((tmp_path / "pub" / "current.json").read_text())["snapshot"]

    victim = sorted((src / "txt").rglob("*.txt"))[0]
    victim.write_text(victim.read_text(encoding="utf-8") + "\n兰州市中级人民法院执行局补充报道。\n", encoding="utf-8")
    fs = publish_remote.RemoteDataset(url).fs  # fsspec caches filesystems: the build gets this same object
    real_put = fs.put

    class Dying(Exception):
        pass

    def half_put(lpaths: list[str], rpaths: list[str], **kw: Any) -> None:
        real_put(lpaths[: len(lpaths) // 2], rpaths[: len(rpaths) // 2], **kw)
        raise Dying("the connection dropped")

    monkeypatch.setattr(fs, "put", half_put)
    with pytest.raises(Dying):
        publish_remote.build_remote(opts(), url, run_build, work)
    monkeypatch.undo()
    assert json.loads((tmp_path / "pub" / "current.json").read_text())["snapshot"] == snap0
    pd.testing.assert_frame_equal(publish_remote.read_table(url, "articles").to_pandas(), before)

    publish_remote.build_remote(opts(), url, run_build, work)  # the local build is done: only the upload is finished
    after = json.loads((tmp_path / "pub" / "current.json").read_text())
    assert after["snapshot"] != snap0
    body = publish_remote.read_table(url, "articles").to_pandas().set_index("source_file")["body"]
    assert "补充报道" in body[victim.relative_to(src).as_posix()]

    # objects of neither the current nor the previous snapshot are collected (once past the grace time)
    removed = publish_remote.collect_remote_garbage(publish_remote.RemoteDataset(url), keep=[after], grace=0)
    assert removed > 0
    assert_same_rows(url, work)


def test_modification_stamp_uses_time_and_etag() -> None:
    from datetime import UTC, datetime

    t = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    a = modification_stamp({"LastModified": t, "ETag": '"aaa"'})
    b = modification_stamp({"LastModified": t, "ETag": '"bbb"'})
    assert a // 10**9 == b // 10**9 == int(t.timestamp()) and a != b
    assert modification_stamp({"updated": "2024-05-01T12:00:00Z", "md5Hash": "x"}) // 10**9 == int(t.timestamp())
    assert modification_stamp({}) == 0
