"""Publish the dataset to an fsspec URL (``--dataset s3://bucket/gansu``) so that it is never seen half-written.

Object stores have no atomic rename and no links, so the local design (parts, snapshots of links,
one ``os.replace``) cannot run on them directly. Instead:

1. the build runs unchanged into a local **work store** (``--work-dir``; by default a cache folder
   named after the URL, see ``default_work_dir``), which holds the parsed parts that make the next
   build incremental;
2. every file of the new snapshot and of the work store is uploaded once under a name made of its
   SHA-256 (``URL/objects/<sha256>.<ext>``): an object, once there, never changes, and a file already
   uploaded by an earlier build is not sent again;
3. the snapshot's manifest (which object is which file) is written to ``URL/snapshots/<id>.json`` and
   then, last, to ``URL/current.json`` in one PUT (atomic on S3 and GCS: a reader gets the old or
   the new object whole). A build killed before that leaves ``current.json`` on the last complete
   snapshot; the objects it uploaded are reused by the next build, or collected.

Layout at the URL::

    current.json              the manifest of the published snapshot (written last)
    snapshots/<id>.json       the manifest of each snapshot still kept (the current and the previous)
    objects/<sha256>.parquet  immutable files: article, mention and reject parts, aggregates, docs,
                              and the work store's parsed parts (for a builder on another machine)

Readers follow ``current.json``: ``pipelines.load.articles("s3://bucket/gansu")`` (and the other
helpers of ``pipelines.load``), ``table_urls(url, "articles")`` for the list of Parquet objects to hand
to dask/duckdb/pyarrow, or ``read_table(url, "articles")``. ``pd.read_parquet(url + "/articles")``
is deliberately *not* offered: a plain prefix of part files would be seen half-replaced by a reader
listing it while a build replaces parts, which is exactly what this design avoids.

One builder per dataset URL at a time: builds on one machine share the work store's lock; a build
that finds ``current.json`` moved by another machine during its run refuses to overwrite it (and a
builder starting from a stale or empty work store first downloads the published state). Objects
are only collected when no kept manifest names them and they are older than ``GC_GRACE_SECONDS``,
so the uploads of a build running elsewhere are not pulled from under it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.read.remote import filesystem, is_url
from pipelines.store import Store, StoreError

if TYPE_CHECKING:
    from pipelines.build import BuildOptions, BuildSummary

FORMAT = "gansu-news-remote/1"
POINTER = "current.json"
GC_GRACE_SECONDS = 3600.0  # unreferenced objects younger than this may belong to a build still running elsewhere
STATE = "remote.json"  # in the work store's .store: which published snapshot the work store was last in step with


def default_work_dir(url: str) -> Path:
    """``$XDG_CACHE_HOME/gansu-news/remote/<readable url>-<hash>``: one work store per dataset URL."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", url.split("://", 1)[-1]).strip("_")[:80]
    return base / "gansu-news" / "remote" / f"{readable}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"


class RemoteDataset:
    """The published side at ``url``: manifests and content-addressed objects."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.fs, root = filesystem(self.url)
        self.root = root.rstrip("/")

    def path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def full_url(self, key: str) -> str:
        proto = self.fs.protocol[0] if isinstance(self.fs.protocol, (tuple, list)) else self.fs.protocol
        return f"{proto}://{self.path(key)}"

    def read_pointer(self) -> dict[str, Any] | None:
        try:
            data = self.fs.cat_file(self.path(POINTER))
        except FileNotFoundError:
            return None
        manifest = json.loads(data)
        if manifest.get("format") != FORMAT:
            raise StoreError(f"{self.url}/{POINTER} is not a dataset manifest this pipeline wrote (format {manifest.get('format')!r})")
        return manifest

    def write_json(self, key: str, doc: dict[str, Any]) -> None:
        """One object, whole or not at all: a single PUT on object stores, temp + rename on a local disk."""
        data = (json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8")
        target = self.path(key)
        if "file" in (self.fs.protocol if isinstance(self.fs.protocol, (tuple, list)) else (self.fs.protocol,)):
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            tmp = f"{target}.{os.getpid()}.tmp"
            self.fs.pipe_file(tmp, data)
            os.replace(tmp, target)  # LocalFileSystem paths are plain paths
        else:
            self.fs.pipe_file(target, data)

    def listing(self, prefix: str) -> dict[str, dict[str, Any]]:
        self.fs.invalidate_cache(self.path(prefix))  # a long-lived process's listing cache may predate other builds' uploads
        try:
            found: dict[str, dict[str, Any]] = self.fs.find(self.path(prefix), detail=True)
        except FileNotFoundError:
            return {}
        return {name[len(self.root) + 1 :]: info for name, info in found.items() if info.get("type", "file") == "file"}


# --- hashing local files (hard links share one hash) ------------------------------------------------


class _Hashes:
    """SHA-256 of local files, remembered across runs by (device, inode, size, mtime) in the work store."""

    def __init__(self, cache_file: Path) -> None:
        self.file = cache_file
        try:
            self.known: dict[str, str] = json.loads(cache_file.read_text())
        except (OSError, ValueError):
            self.known = {}
        self.used: dict[str, str] = {}

    def sha(self, path: Path) -> str:
        st = path.stat()
        key = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
        digest = self.used.get(key) or self.known.get(key)
        if digest is None:
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            digest = h.hexdigest()
        self.used[key] = digest
        return digest

    def save(self) -> None:
        tmp = self.file.with_name(f".{self.file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.used))  # only the files still live: the cache never grows without bound
        os.replace(tmp, self.file)


def _object_key(sha: str, name: str) -> str:
    ext = name.rsplit(".", 1)[-1] if "." in name else "bin"
    return f"objects/{sha}.{ext}"


def _local_files(store: Store, snapshot: Path) -> dict[str, Path]:
    """Every file to publish: the snapshot's (``snapshot/…``) and the work store's live parts (``store/…``)."""
    files: dict[str, Path] = {}
    for p in sorted(snapshot.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            files["snapshot/" + p.relative_to(snapshot).as_posix()] = p
    for folder in (store.parts, store.published):
        for p in sorted(folder.iterdir()):
            if p.is_file() and not p.name.startswith("."):
                files[f"store/{folder.name}/{p.name}"] = p
    return files


# --- the three steps: catch up, build, mirror -------------------------------------------------------


def _state(store: Store) -> dict[str, Any]:
    try:
        return json.loads((store.meta / STATE).read_text())
    except (OSError, ValueError):
        return {}


def _save_state(store: Store, url: str, snapshot: str | None) -> None:
    tmp = store.meta / f".{STATE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"url": url, "synced": snapshot}))
    os.replace(tmp, store.meta / STATE)


def catch_up(store: Store, remote: RemoteDataset) -> bool:
    """Make the work store hold the published snapshot when it is not the one it last published or fetched.

    True when files were downloaded. A fresh cache (another machine, a wiped disk) thus continues
    incrementally from what is published instead of re-reading every input.
    """
    manifest = remote.read_pointer()
    state = _state(store)
    current = store.current()
    if manifest is None or state.get("synced") == manifest["snapshot"]:
        return False
    if current is not None and current.name == manifest["snapshot"]:
        _save_state(store, remote.url, manifest["snapshot"])
        return False
    snap_dir = store.snapshots / manifest["snapshot"]
    if snap_dir.exists():
        shutil.rmtree(snap_dir)  # a half-made copy from an interrupted catch-up
    wanted = [(e["object"], store.meta / name, e["size"], e["sha256"]) for name, e in manifest["store"].items()]
    wanted += [(e["object"], snap_dir / name, e["size"], e["sha256"]) for name, e in manifest["files"].items()]
    hashes = _Hashes(store.meta / "sha256-cache.json")
    have: dict[str, Path] = {}  # object → a local file that already holds it (kept parts of a stale work store)
    for key, dest, size, sha in wanted:
        if key not in have and dest.is_file() and dest.stat().st_size == size and hashes.sha(dest) == sha:
            have[key] = dest
    tmp_of: dict[str, Path] = {}
    for key, dest, _size, _sha in wanted:
        if key not in have and key not in tmp_of:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp_of[key] = dest.with_name(f".{dest.name}.{os.getpid()}.download")
    if tmp_of:
        keys = sorted(tmp_of)
        remote.fs.get([remote.path(k) for k in keys], [str(tmp_of[k]) for k in keys])  # concurrent on s3fs/gcsfs
    sizes = {key: size for key, _d, size, _s in wanted}
    for key, tmp in tmp_of.items():
        if not tmp.is_file() or tmp.stat().st_size != sizes[key]:
            raise StoreError(f"downloading {remote.url}/{key}: not the {sizes[key]} bytes its manifest says; rerun")
    for key, dest, _size, _sha in wanted:
        if key in have:
            if have[key] != dest:
                dest.unlink(missing_ok=True)
                Store.link_into(have[key], dest)  # the same bytes under another name: a hard link, as a local build makes
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp_of[key], dest)
        have[key] = dest
    hashes.save()
    previous = store.swap(snap_dir)
    store.collect_garbage({name.split("/", 1)[1] for name in manifest["store"]}, previous)
    _save_state(store, remote.url, manifest["snapshot"])
    return True


def mirror(store: Store, remote: RemoteDataset, on_upload: Callable[[int, int], None] | None = None) -> bool:
    """Upload the work store's current snapshot and point ``current.json`` at it; True when published.

    Objects already at the URL (same SHA-256, same size) are not sent again; ``current.json`` is
    written last, after every object it names is in place.
    """
    snapshot = store.current()
    if snapshot is None:
        return False
    published = remote.read_pointer()
    state = _state(store)
    if published is not None and published["snapshot"] == snapshot.name:
        _save_state(store, remote.url, snapshot.name)
        return False
    if published is not None and state.get("synced") != published["snapshot"]:
        raise StoreError(f"{remote.url} was published by another build ({published['snapshot']}) while this one ran; "
                         "rerun to build on top of it")
    hashes = _Hashes(store.meta / "sha256-cache.json")
    entries: dict[str, dict[str, Any]] = {}
    local = _local_files(store, snapshot)
    for name, path in local.items():
        sha = hashes.sha(path)
        entries[name] = {"object": _object_key(sha, path.name), "size": path.stat().st_size, "sha256": sha}
    present = {k: int(info.get("size") or 0) for k, info in remote.listing("objects").items()}
    todo: dict[str, tuple[Path, int]] = {}
    for name, e in entries.items():
        if present.get(e["object"]) != e["size"]:  # missing, or cut short by an interrupted upload to a plain disk
            todo[e["object"]] = (local[name], e["size"])
    if todo:
        remote.fs.makedirs(remote.path("objects"), exist_ok=True)
        keys = sorted(todo)
        remote.fs.put([str(todo[k][0]) for k in keys], [remote.path(k) for k in keys])  # concurrent on s3fs/gcsfs
        after = {k: int(info.get("size") or 0) for k, info in remote.listing("objects").items()}
        short = [k for k in keys if after.get(k) != todo[k][1]]
        if short:
            raise StoreError(f"upload to {remote.url} incomplete ({len(short)} objects missing or short, e.g. {short[0]}); "
                             "the published dataset is unchanged; rerun")
    if on_upload is not None:
        on_upload(len(todo), sum(size for _p, size in todo.values()))
    manifest = _manifest(snapshot, entries)
    remote.write_json(f"snapshots/{snapshot.name}.json", manifest)
    again = remote.read_pointer()  # narrow the window in which another machine's publish would be lost
    if (again or {}).get("snapshot") != (published or {}).get("snapshot"):
        raise StoreError(f"{remote.url} was published by another build while this one uploaded; rerun to build on top of it")
    remote.write_json(POINTER, manifest)
    _save_state(store, remote.url, snapshot.name)
    hashes.save()
    collect_remote_garbage(remote, keep=[manifest, *([published] if published else [])])
    return True


def _manifest(snapshot: Path, entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    files = {k.split("/", 1)[1]: v for k, v in entries.items() if k.startswith("snapshot/")}
    tables: dict[str, list[str]] = {}
    for name in sorted(files):
        if "/" in name:  # articles/part-….parquet, aggregates/….parquet: the order a folder read would use
            tables.setdefault(name.split("/", 1)[0], []).append(files[name]["object"])
    try:
        run = json.loads((snapshot / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        run = {}
    return {
        "format": FORMAT,
        "snapshot": snapshot.name,
        "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run": run,
        "tables": tables,  # table → its Parquet objects, in order (paths relative to the dataset URL)
        "files": files,  # every file of the snapshot as it is laid out locally → its object
        "store": {k.split("/", 1)[1]: v for k, v in entries.items() if k.startswith("store/")},  # the work store's parts
    }


def collect_remote_garbage(remote: RemoteDataset, keep: list[dict[str, Any]], grace: float | None = None) -> int:
    """Delete objects and snapshot manifests that no kept manifest names and that are older than the grace time."""
    grace = GC_GRACE_SECONDS if grace is None else grace
    live = {e["object"] for m in keep for section in ("files", "store") for e in m[section].values()}
    live |= {f"snapshots/{m['snapshot']}.json" for m in keep}
    now = time.time()
    doomed = []
    for prefix in ("objects", "snapshots"):
        for key, info in remote.listing(prefix).items():
            if key in live:
                continue
            stamp = info.get("LastModified") or info.get("updated") or info.get("mtime")
            when = stamp.timestamp() if isinstance(stamp, datetime) else float(stamp) if isinstance(stamp, (int, float)) else None
            if when is not None and now - when < grace:
                continue
            doomed.append(remote.path(key))
    if doomed:
        remote.fs.rm(doomed)
    return len(doomed)


def build_remote(opts: BuildOptions, url: str, run: Callable[[BuildOptions], BuildSummary], work_dir: Path | None = None) -> BuildSummary:
    """``build``/``relabel`` with ``--dataset URL``: catch up from the URL, build locally with ``run``
    (``pipelines.build.run_build``), mirror up."""
    if not is_url(url):
        raise StoreError(f"{url} is not a URL")
    remote = RemoteDataset(url)
    store = Store(work_dir or default_work_dir(url))
    store.ensure()
    # the work store's lock is a POSIX lock, owned by this process: taking it again inside run_build
    # would succeed and its release would drop ours, so each step takes it on its own
    with store.lock(wait=opts.wait_for_lock):
        catch_up(store, remote)
        if opts.relabel_only and store.current() is None:
            raise StoreError(f"no published dataset at {url}; run build --input DIR --dataset {url} first")
    summary = run(replace(opts, dataset=store.root))
    with store.lock(wait=opts.wait_for_lock):
        if mirror(store, remote):
            summary.published = True
            summary.snapshot = store.current().name if store.current() else summary.snapshot
    return summary


# --- reading ----------------------------------------------------------------------------------------


def table_urls(url: str, table: str) -> list[str]:
    """The Parquet objects of ``table`` (articles, rejects, agency_mentions, aggregates) in the published snapshot."""
    remote = RemoteDataset(url)
    manifest = remote.read_pointer()
    if manifest is None:
        raise FileNotFoundError(f"no published dataset at {url} ({POINTER} not found)")
    if table.startswith("aggregates/"):
        entry = manifest["files"].get(table if table.endswith(".parquet") else f"{table}.parquet")
        if entry is None:
            raise FileNotFoundError(f"no {table} in the snapshot published at {url}")
        return [remote.full_url(entry["object"])]
    return [remote.full_url(k) for k in manifest["tables"].get(table, [])]


def read_table(url: str, table: str, columns: list[str] | None = None) -> pa.Table:
    """One table of the published snapshot, as ``pq.read_table`` of the local folder would give it."""
    from pipelines import schema

    urls = table_urls(url, table)
    if not urls:
        known = {"articles": schema.ARTICLES, "rejects": schema.REJECTS, "agency_mentions": schema.AGENCY_MENTIONS}
        empty = known[table].arrow_schema().empty_table() if table in known else pa.table({})
        return empty.select(columns) if columns else empty
    fs, _ = filesystem(urls[0])
    paths = [filesystem(u)[1] for u in urls]
    fs.invalidate_cache(paths[0].rsplit("/", 1)[0])  # objects new since this process last listed them must be found
    return pq.read_table(paths, filesystem=fs, columns=columns)
