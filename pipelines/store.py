"""The dataset folder: immutable parts under .store, snapshots of them, and one atomic swap.

Layout::

    <dataset>/articles        -> .store/current/articles        (fixed links, made once)
    <dataset>/rejects         -> .store/current/rejects
    <dataset>/agency_mentions -> .store/current/agency_mentions
    <dataset>/aggregates      -> .store/current/aggregates
    <dataset>/search          -> .store/current/search     (the full-text index of this snapshot)
    <dataset>/datapackage.json, README.md, manifest.json -> .store/current/...
    <dataset>/.store/current  -> snapshots/<id>                (swapped with os.replace: atomic)
    <dataset>/.store/parts/    parsed, rejects and dups parts, one set per input batch
    <dataset>/.store/published/ labelled article and mention parts, keyed by part and label hash
    <dataset>/.store/lock       POSIX-locked (lockf) for the whole build: builds never interleave; the
                                lock belongs to the build process, so forked workers never inherit it

Readers follow ``current`` and so see either the old snapshot or the new one, never a mix; a
build killed at any point leaves ``current`` pointing at the last complete snapshot.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.errors import DatasetError
from pipelines.schema import DUPLICATES, PARSED, REJECTS, SchemaError, Table

PUBLIC_ENTRIES = ("articles", "rejects", "agency_mentions", "aggregates", "search", "datapackage.json", "README.md", "manifest.json")


class StoreError(DatasetError):
    """The dataset folder cannot be made, written, locked or read."""


def stable_digest(*parts: str) -> str:
    """A short content address (part ids: the same files in the same state give the same id)."""
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


class Store:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.meta = self.root / ".store"
        self.parts = self.meta / "parts"
        self.published = self.meta / "published"
        self.snapshots = self.meta / "snapshots"
        self.current_link = self.meta / "current"

    # --- setup and locking -------------------------------------------------------------------
    def ensure(self) -> None:
        try:
            for d in (self.root, self.meta, self.parts, self.published, self.snapshots):
                d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create dataset folder {self.root}: {exc.strerror}",
                             "--dataset must be a folder path you can write (not a file, nor inside one)") from exc
        if not os.access(self.root, os.W_OK):
            raise StoreError(f"dataset folder {self.root} is not writable", "fix its permissions or pass another --dataset")

    @contextlib.contextmanager
    def lock(self, wait: bool = True, timeout: float | None = None) -> Iterator[None]:
        """Hold the build lock; a second build waits (printing why) or fails with a clear message."""
        self.ensure()
        fh = open(self.meta / "lock", "a+")
        try:
            try:
                fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if not wait:
                    raise StoreError(f"another build is running on {self.root}; retry when it finishes") from exc
                print(f"waiting: another build holds the lock on {self.root}", file=sys.stderr, flush=True)
                start = time.monotonic()
                while True:
                    try:
                        fcntl.lockf(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except OSError:
                        if timeout is not None and time.monotonic() - start > timeout:
                            raise StoreError(f"gave up after {timeout:.0f}s waiting for the build lock on {self.root}") from None
                        time.sleep(0.2)
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
            yield
        finally:
            fcntl.lockf(fh, fcntl.LOCK_UN)
            fh.close()

    # --- reading the current snapshot -----------------------------------------------------------
    def current(self) -> Path | None:
        if not self.current_link.is_symlink() and not self.current_link.exists():
            return None
        target = self.current_link.resolve()
        return target if target.is_dir() else None

    # --- writing ------------------------------------------------------------------------------
    def new_snapshot(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        path = self.snapshots / f"{stamp}-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
        path.mkdir(parents=True)
        return path

    @staticmethod
    def link_into(src: Path, dest: Path) -> None:
        """Hard-link an immutable part into a snapshot (copy where links are impossible)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dest)
        except OSError:
            shutil.copy2(src, dest)

    def swap(self, snapshot: Path) -> Path | None:
        """Make ``snapshot`` current in one atomic rename, and make the public links exist.

        Returns the snapshot that was current before (None for a first build).
        """
        previous = self.current()
        for d in snapshot.rglob("*"):
            if d.is_file():
                with open(d, "rb") as fh:
                    os.fsync(fh.fileno())
        tmp = self.meta / f".current.{os.getpid()}.tmp"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(os.path.relpath(snapshot, self.meta), tmp)
        os.replace(tmp, self.current_link)
        dirfd = os.open(self.meta, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)
        for name in PUBLIC_ENTRIES:
            link = self.root / name
            target = os.path.join(".store", "current", name)
            if link.is_symlink() and os.readlink(link) == target:
                continue
            if link.exists() and not link.is_symlink():
                raise StoreError(f"{link} exists and is not a link made by this pipeline; move it away")
            tmp_link = self.root / f".{name}.{os.getpid()}.tmp"
            if tmp_link.is_symlink():
                tmp_link.unlink()
            os.symlink(target, tmp_link)
            os.replace(tmp_link, link)
        return previous

    def collect_garbage(self, keep_files: set[str], previous: Path | None = None) -> None:
        """Drop snapshots other than the current and the ``previous`` one, and part files not in ``keep_files``.

        ``previous`` is what ``swap`` replaced: a reader may still be reading it. It is passed, not
        guessed from names, because the newest older folder can be the half-made snapshot of a
        killed build. Without it the newest older snapshot is kept.
        """
        current = self.current()
        snaps = sorted(p for p in self.snapshots.iterdir() if p.is_dir())
        keep = {current} if current else set()
        older = [s for s in snaps if s != current]
        if previous is not None:
            keep.add(previous)
        elif older:
            keep.add(older[-1])
        for snap in snaps:
            if snap not in keep:
                shutil.rmtree(snap, ignore_errors=True)
        for folder in (self.parts, self.published):
            for f in folder.iterdir():
                if f.name not in keep_files:
                    f.unlink(missing_ok=True)


class _AtomicParquet:
    """A Parquet file that appears whole or not at all: written under a temporary name, fsync'ed, renamed."""

    def __init__(self, path: Path, schema: pa.Schema, row_group_size: int = 64 * 1024, **options: Any) -> None:
        self.path = path
        self.schema = schema
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.writer: pq.ParquetWriter | None = None
        self.row_group_size = row_group_size
        self.options = {"compression": "zstd", **options}  # ParquetWriter's (encodings of a search index)

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.tmp, self.schema, **self.options)
        self.writer.write_table(table, row_group_size=self.row_group_size)

    def close(self) -> None:
        if self.writer is None:
            self.write(self.schema.empty_table())  # a file with no rows still has its columns
        assert self.writer is not None
        self.writer.close()
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.tmp.unlink(missing_ok=True)


class TableWriter:
    """The one way the pipeline writes Parquet: each piece is first made to match its declared table.

    ``declared.enforce`` (pipelines/schema.py) puts the columns in their declared order and types (with
    their descriptions as field metadata) or raises ``SchemaError`` naming the table and the column; the
    file is written atomically. Pieces become row groups as they come, so a part is written in bounded
    memory; ``write_parquet`` writes a whole table at once.
    """

    def __init__(self, declared: Table, path: Path, row_group_size: int = 64 * 1024, **options: Any) -> None:
        self.declared = declared
        self.file = _AtomicParquet(path, declared.arrow_schema(), row_group_size, **options)

    def write(self, table: pa.Table) -> None:
        self.file.write(self.declared.enforce(table))

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.file.abort()  # nothing half-written is left under the real name


def write_parquet(declared: Table, table: pa.Table, path: Path, row_group_size: int = 64 * 1024, **options: Any) -> None:
    """Write ``table`` to ``path`` as the table ``declared`` in pipelines/schema.py (see ``TableWriter``)."""
    with TableWriter(declared, path, row_group_size, **options) as out:
        out.write(table)


def check_parquet(declared: Table, path: Path) -> None:
    """Raise ``SchemaError`` unless the Parquet file ``path`` is the table ``declared``: the check of a file
    written without ``TableWriter`` (the aggregates, which DuckDB writes), from its footer alone.

    Its columns must be the declared ones in the declared order with the declared types
    (``Table.check``), and a column declared required must hold no null (the row groups' null counts;
    a nested column's count also counts empty lists, so only flat columns are checked).
    """
    meta = pq.read_metadata(path)
    where = path.name
    declared.check(meta.schema.to_arrow_schema(), where)
    flat = {meta.schema.column(i).path: i for i in range(meta.num_columns)}
    for col in declared.columns:
        if col.nullable or col.name not in flat:
            continue
        for rg in range(meta.num_row_groups):
            stats = meta.row_group(rg).column(flat[col.name]).statistics
            if stats is not None and stats.has_null_count and stats.null_count:
                raise SchemaError(f"{where}: {declared.name}.{col.name}: {stats.null_count} nulls in a required column")


class PartWriter:
    """Write a part file in row groups as rows arrive (bounded memory), through a ``TableWriter``."""

    def __init__(self, table: Table, path: Path, flush_rows: int = 20_000, flush_chars: int = 64 << 20) -> None:
        self.table = table
        self.path = path
        self.out = TableWriter(table, path)
        self.rows: list[dict[str, Any]] = []
        self.chars = 0
        self.flush_rows = flush_rows
        self.flush_chars = flush_chars

    def add(self, row: dict[str, Any], chars: int = 0) -> None:
        self.rows.append(row)
        self.chars += chars
        if len(self.rows) >= self.flush_rows or self.chars >= self.flush_chars:
            self._flush()

    def _flush(self) -> None:
        if not self.rows:
            return
        self.out.write(self.table.from_records(self.rows))
        self.rows = []
        self.chars = 0

    def close(self) -> None:
        self._flush()
        self.out.close()


# the work store's part files of each kind, and the table each is declared as
PART_TABLES: dict[str, Table] = {"parsed": PARSED, "rejects": REJECTS, "dups": DUPLICATES}


def drop_files_from_part(store: Store, pid: str, drop: set[str], new_id: bool = False) -> str:
    """Rewrite a part's parsed/rejects/dups files without the rows of ``drop`` files."""
    target = stable_digest(pid, "minus", *sorted(drop)) if new_id else pid
    for kind, declared in PART_TABLES.items():
        src = store.parts / f"{pid}.{kind}.parquet"
        if not src.exists():
            continue
        table = pq.read_table(src)
        if kind == "dups":
            parsed = pq.read_table(store.parts / f"{target}.parsed.parquet", columns=["article_id"]) if new_id else None
            if parsed is not None:
                table = table.filter(pc.is_in(table.column("article_id"), parsed.column("article_id")))
        else:
            table = table.filter(pc.invert(pc.is_in(table.column("source_file"), pa.array(sorted(drop)))))
        write_parquet(declared, table, store.parts / f"{target}.{kind}.parquet")
    return target
