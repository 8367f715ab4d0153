"""Read inputs from an fsspec URL (``s3://bucket/crawl``, ``gs://…``, ``file:///…``) instead of a local folder.

``walk_remote`` lists the prefix once (``fs.find(detail=True)``: one paged LIST on S3, no request per
file) and yields the same ``InputFile`` records as ``walk_inputs``, so the build decides what is new
or changed exactly as for a local folder. ``path`` holds the full URL, which each worker (a local
process or a Dask worker on another host) opens with ``open_remote``: credentials come from the
usual places of each filesystem (for S3 the AWS_* variables, ~/.aws, an instance role; for GCS
GOOGLE_APPLICATION_CREDENTIALS), and options from fsspec's ``FSSPEC_<PROTOCOL>_<OPTION>`` variables.

The modification stamp (``mtime_ns``): object stores have no mtime, so it is built from the listing:

* the object's last-modified time (S3 ``LastModified``, GCS ``updated``, local ``mtime``), in whole
  seconds × 10⁹, plus
* the ETag (S3) / md5Hash or generation (GCS) hashed to a number below 10⁹ in the nanosecond digits.

S3 and GCS stamp objects to the second, so the nanosecond digits are otherwise zero: filling them
from the ETag makes an object rewritten within the same second with the same size, but other
bytes, still read as changed. Without a time the stamp is the ETag number alone; without either it
is 0, and only a change of size is seen. An object rewritten with the same bytes gets a new time,
is re-read, and its rows are kept (its SHA-256 is unchanged), as for a touched local file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from pipelines.read.inputs import IGNORED_NAMES, InputFile

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_url(s: object) -> bool:
    """True for ``scheme://…`` strings (s3, gs, file, memory…). A Path or a plain path is never a URL."""
    return isinstance(s, str) and bool(_URL.match(s)) and len(s.split("://", 1)[0]) > 1  # C://x is a Windows drive


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem for ``url`` and the path inside it (protocol stripped)."""
    try:
        from fsspec.core import url_to_fs
    except ImportError as exc:  # pragma: no cover - fsspec comes with dask and pandas' extras
        raise OSError(f"reading {url} needs fsspec and the filesystem's package: pip install 'gansu-news-pipelines[remote]'") from exc
    try:
        return url_to_fs(url)
    except (ImportError, ValueError) as exc:
        # an unknown protocol or a missing driver (s3fs, gcsfs): say which package to install
        raise OSError(f"cannot open {url}: {exc}; pip install 'gansu-news-pipelines[remote]' (s3fs, gcsfs)") from exc


def _protocol(fs: Any) -> str:
    proto = fs.protocol
    return proto[0] if isinstance(proto, (tuple, list)) else proto


def _seconds(value: Any) -> int | None:
    """Whole seconds since the epoch of a listing's time (datetime, ISO text or a number)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return None
    return None


def modification_stamp(info: dict[str, Any]) -> int:
    """The ``mtime_ns`` of one listed object (see the module docstring): seconds × 10⁹ + ETag digits."""
    tag = next((str(info[k]) for k in ("ETag", "etag", "md5Hash", "generation", "content_md5") if info.get(k)), "")
    tag_ns = int(hashlib.sha256(tag.encode()).hexdigest()[:15], 16) % 10**9 if tag else 0
    secs = next((s for k in ("LastModified", "last_modified", "updated", "mtime") if (s := _seconds(info.get(k))) is not None), None)
    if secs is None:
        return tag_ns
    if not tag and isinstance(info.get("mtime"), float):
        return round(info["mtime"] * 1e9)  # a local file (file://): its own sub-second time, no ETag to add
    return secs * 10**9 + tag_ns


def input_problem(url: str) -> str | None:
    """Why ``--input URL`` cannot be built from (one line for the CLI), or None when it is a listable prefix."""
    try:
        fs, root = filesystem(url)
        if fs.isdir(root):
            return None
        if fs.isfile(root):
            return f"--input {url} is one object, not a prefix; pass the prefix (folder) that holds it"
        return f"input {url} does not exist (nothing is stored under that prefix); pass --input with your scraped files"
    except Exception as exc:
        return f"cannot list input {url}: {type(exc).__name__}: {' '.join(str(exc).split())}; check the URL and the credentials"[:500]


def walk_remote(url: str) -> Iterator[InputFile]:
    """Yield every object under the ``url`` prefix in sorted (byte) order, like ``walk_inputs``.

    A prefix that cannot be listed (no such bucket, no permission) is one ``read_error`` for ".",
    as for a local folder that cannot be listed; an empty prefix yields nothing.
    """
    url = url.rstrip("/")
    try:
        fs, root = filesystem(url)
        fs.invalidate_cache(root)  # a long-lived process (a notebook, a Dask client) must see objects added since its last listing
        listing: dict[str, dict[str, Any]] = fs.find(root, detail=True)
    except Exception as exc:  # botocore/gcsfs errors are not all OSErrors: each becomes a reject, never a crash
        yield InputFile(".", url, 0, 0, "read_error", f"cannot list {url}: {type(exc).__name__}: {exc}"[:500])
        return
    proto = _protocol(fs)
    root = root.rstrip("/")
    # sorted as the local walk goes (depth first, each folder by bytes): by path component, so "a/b" comes before
    # "a.txt" as folder "a" sorts before file "a.txt" ('.' < '/' would put it after in a flat sort)
    entries = sorted(((name, info) for name, info in listing.items() if info.get("type", "file") == "file" and not name.endswith("/")),
                     key=lambda e: [part.encode("utf-8", "surrogateescape") for part in e[0].split("/")])
    for name, info in entries:
        rel = name[len(root) + 1 :] if name.startswith(root + "/") else name.rsplit("/", 1)[-1]
        full = f"{proto}://{name}" if proto != "file" else f"file://{name}"
        size = int(info.get("size") or 0)
        stamp = modification_stamp(info)
        if proto == "file":  # the listing's float mtime drops nanoseconds: use the stat a local walk would, so the build is the same
            with contextlib.suppress(OSError):
                stamp = os.stat(name).st_mtime_ns
        base = rel.rsplit("/", 1)[-1]
        if base in IGNORED_NAMES or base.startswith("."):
            # provenance notes and hidden files, as in a local walk: listed in the run summary, not read
            yield InputFile(rel, full, size, stamp, "ignored", "provenance note or hidden file")
            continue
        yield InputFile(rel, full, size, stamp)


class _RemoteFile:
    """A binary file object over an fsspec file whose read errors are always OSErrors.

    The build turns an OSError while reading into a ``read_error`` reject; a botocore or HTTP error
    that is not an OSError would otherwise be reported as ``unparseable``, which is wrong.
    """

    def __init__(self, fh: Any, url: str) -> None:
        self.fh = fh
        self.url = url

    def read(self, n: int = -1) -> bytes:
        try:
            return self.fh.read(n)
        except OSError:
            raise
        except Exception as exc:
            raise OSError(f"reading {self.url}: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self.fh.close()

    def __enter__(self) -> _RemoteFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_remote(url: str) -> IO[bytes]:
    """Open an object for streaming reads (read-ahead in 4 MiB blocks: memory stays small for a 1 GB WARC)."""
    try:
        fs, path = filesystem(url)
        fh = fs.open(path, "rb", block_size=4 << 20, cache_type="readahead")
    except OSError:
        raise
    except Exception as exc:
        raise OSError(f"cannot open {url}: {type(exc).__name__}: {exc}") from exc
    return _RemoteFile(fh, url)  # type: ignore[return-value]
