"""Byte plumbing for the readers: a file read in chunks, streaming gunzip, UTF-16 transcoding.

Nothing here holds a whole file. A reader pulls bytes through a ``Stream`` (peek, read, readline,
skip, push back); a ``Stream`` pulls chunks from a source: the file itself (``FileBytes``, which
hashes what it reads and notices a file that grows past its limit), a ``Gunzip`` over another
stream (which counts inflated bytes as they come and stops a gzip bomb at the limit, and can
skip a damaged gzip member to the next one), or a ``Transcoder`` (UTF-16 → UTF-8).

A source returns ``b""`` at its end. ``Gunzip`` in resync mode also returns ``b""`` at damage
(the end of a *segment*); ``next_segment`` moves past it.
"""

from __future__ import annotations

import codecs
import hashlib
import zlib
from collections.abc import Callable
from typing import IO, Protocol

from pipelines.read.errors import Reject

CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b\x08"
RESCAN_WINDOW = 16 << 20  # raw bytes of one gzip member kept to rescan for the next member after damage


class ChunkSource(Protocol):
    def read_chunk(self) -> bytes: ...


class FileBytes:
    """Chunks of an open binary file; hashes them and refuses to read past ``max_bytes``."""

    def __init__(self, fh: IO[bytes], max_bytes: int, hasher: hashlib._Hash | None = None, on_progress: Callable[[], None] | None = None,
                 size_hint: int | None = None) -> None:
        self.fh = fh
        # a small file is read in one call of its own size (+1 to see the end), not into a 1 MiB buffer
        self.next_read = min(CHUNK, size_hint + 1) if size_hint is not None and size_hint >= 0 else CHUNK
        self.max_bytes = max_bytes
        self.hasher = hasher
        self.count = 0
        self.on_progress = on_progress
        self._since_progress = 0
        self.ended = False

    def read_chunk(self) -> bytes:
        if self.ended:
            return b""
        data = self.fh.read(self.next_read)
        self.next_read = CHUNK
        if not data:
            self.ended = True
            return b""
        self._took(data)
        if self.count > self.max_bytes:
            raise Reject("file_too_large", f"the file grew past --max-file-bytes ({self.max_bytes} bytes) while it was read")
        return data

    def drain(self) -> None:
        """Read (and hash) the rest of the file without keeping it: the hash covers every byte."""
        while not self.ended:
            data = self.fh.read(CHUNK)
            if not data:
                self.ended = True
                break
            self._took(data)

    def _took(self, data: bytes) -> None:
        """Count and hash bytes read from the file; report progress every 32 chunks."""
        self.count += len(data)
        if self.hasher is not None:
            self.hasher.update(data)
        if self.on_progress is not None:
            self._since_progress += len(data)
            if self._since_progress >= 32 * CHUNK:
                self._since_progress = 0
                self.on_progress()


class BytesSource:
    """An in-memory byte string as a chunk source (``read_bytes``)."""

    def __init__(self, data: bytes) -> None:
        self.view = memoryview(data)
        self.pos = 0

    def read_chunk(self) -> bytes:
        if self.pos >= len(self.view):
            return b""
        out = bytes(self.view[self.pos : self.pos + CHUNK])
        self.pos += len(out)
        return out


class Stream:
    """Buffered pull reader over a chunk source, with push-back. Memory: what the caller asks for."""

    def __init__(self, src: ChunkSource) -> None:
        self.src = src
        self.buf = bytearray()
        self.pos = 0
        self.eof = False
        self.offset = 0  # bytes handed out (consumed) so far, minus pushed-back bytes

    def _fill(self, n: int) -> bool:
        """Make ``n`` bytes available if the source has them; False at the end."""
        while len(self.buf) - self.pos < n:
            if self.eof:
                return False
            chunk = self.src.read_chunk()
            if not chunk:
                self.eof = True
                return False
            if self.pos and self.pos > len(self.buf) // 2:
                del self.buf[: self.pos]
                self.pos = 0
            self.buf += chunk
        return True

    def available(self) -> int:
        return len(self.buf) - self.pos

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return bytes(self.buf[self.pos : self.pos + n])

    def read(self, n: int) -> bytes:
        self._fill(n)
        out = bytes(self.buf[self.pos : self.pos + n])
        self.pos += len(out)
        self.offset += len(out)
        return out

    def read_chunk(self) -> bytes:
        """Whatever is buffered, or the next chunk: lets a Stream feed another Stream or Gunzip."""
        if self.available() == 0 and not self._fill(1):
            return b""
        out = bytes(self.buf[self.pos :])
        self.offset += len(out)
        self.buf.clear()
        self.pos = 0
        return out

    def unread(self, data: bytes) -> None:
        if not data:
            return
        self.buf[self.pos : self.pos] = data
        self.offset -= len(data)

    def at_end(self) -> bool:
        return self.available() == 0 and not self._fill(1)

    def resume(self) -> None:
        """Read on after the source ended a segment (``Gunzip.next_segment``)."""
        self.eof = False

    def skip(self, n: int) -> int:
        """Discard up to ``n`` bytes without holding them; returns how many were skipped."""
        done = 0
        while done < n:
            if self.available() == 0 and not self._fill(1):
                break
            take = min(n - done, self.available())
            self.pos += take
            self.offset += take
            done += take
        return done

    def read_upto(self, n: int) -> bytes | bytearray:
        """Read up to ``n`` bytes, stopping early only at the end; a whole buffer is handed over, not copied."""
        self._fill(n)
        if self.pos == 0 and len(self.buf) <= n:
            out = self.buf
            self.buf = bytearray()
            self.offset += len(out)
            return out
        return self.read(n)

    def readline(self, limit: int) -> tuple[bytes, bool]:
        """One line including its b"\\n"; (first ``limit`` bytes, True) for a longer line, the rest skipped."""
        scanned = 0
        while True:
            idx = self.buf.find(b"\n", self.pos + scanned)
            if idx >= 0:
                n = idx + 1 - self.pos
                if n <= limit:
                    return self.read(n), False
                head = bytes(self.buf[self.pos : self.pos + limit])
                self.pos += n
                self.offset += n
                return head, True
            scanned = self.available()
            if scanned > limit:
                head = bytes(self.buf[self.pos : self.pos + limit])
                self.offset += scanned
                self.pos = len(self.buf)
                self._skip_line_rest()
                return head, True
            if not self._fill(scanned + 1):
                return self.read(self.available()), False

    def _skip_line_rest(self) -> None:
        while True:
            if self.available() == 0 and not self._fill(1):
                return
            idx = self.buf.find(b"\n", self.pos)
            if idx >= 0:
                self.offset += idx + 1 - self.pos
                self.pos = idx + 1
                return
            self.offset += self.available()
            self.pos = len(self.buf)

    def find_skip(self, needle: bytes) -> int:
        """Skip to the next occurrence of ``needle`` (left unread); returns bytes skipped, or -1 at the end."""
        skipped = 0
        while True:
            idx = self.buf.find(needle, self.pos)
            if idx >= 0:
                skipped += idx - self.pos
                self.offset += idx - self.pos
                self.pos = idx
                return skipped
            keep = len(needle) - 1
            drop = max(0, self.available() - keep)
            self.pos += drop
            self.offset += drop
            skipped += drop
            if not self._fill(self.available() + 1):
                skipped += self.available()
                self.offset += self.available()
                self.pos = len(self.buf)
                return -1

    def read_until(self, needle: bytes, limit: int) -> tuple[bytes, bool, bool]:
        """Bytes before the next ``needle`` (needle left unread).

        Returns (data, found, too_long); a run longer than ``limit`` returns its first ``limit``
        bytes with too_long=True and is skipped up to the needle without being held.
        """
        scanned = 0
        while True:
            idx = self.buf.find(needle, self.pos + max(0, scanned - len(needle) + 1))
            if idx >= 0 and idx - self.pos <= limit:
                return self.read(idx - self.pos), True, False
            if idx >= 0 or self.available() > limit:
                head = bytes(self.buf[self.pos : self.pos + limit])
                found = self.find_skip(needle) >= 0
                return head, found, True
            scanned = self.available()
            if not self._fill(scanned + 1):
                return self.read(self.available()), False, False


class Gunzip:
    """Streaming, bounded gunzip of every member of a gzip stream.

    Inflated bytes are counted as they stream; past ``limit`` a ``decompressed_too_large`` Reject
    is raised, so a bomb never inflates further than the limit and is never held in memory.
    Damage (corrupt data, garbage between members, a cut stream) ends the current *segment*:
    ``read_chunk`` returns b"" and ``damage`` says what happened. With ``resync``, ``next_segment``
    skips to the next gzip member header (WARC files are one member per record, so the records
    after a damaged one survive); without it the damage is final.
    """

    def __init__(self, raw: Stream, limit: int, resync: bool = False) -> None:
        self.raw = raw
        self.limit = limit
        self.resync = resync
        self.out = 0
        self.members = 0
        self.damage: list[str] = []
        self.damaged = False  # inside a damaged span (segment ended)
        self.finished = False  # the compressed input is used up
        self._d: zlib._Decompress | None = None
        self._member_start = 0
        self._member_raw = bytearray()  # raw bytes read for the current member (for rescanning)
        self._keep_raw = True

    # --- member handling --------------------------------------------------------------------
    def _start_member(self) -> bool:
        """Position at a member header; False (and maybe damage) when there is none."""
        while True:
            head = self.raw.peek(3)
            if not head:
                self.finished = True
                return False
            if head == GZIP_MAGIC:
                break
            if head.strip(b"\0") == b"" and self._only_zeros_left():
                self.finished = True  # zero padding after the last member (tape blocks, some writers)
                return False
            if self.members == 0:
                self._mark_damage(f"not a gzip stream at byte {self.raw.offset}")
            else:
                self._mark_damage(f"{self._junk_len()} bytes of garbage after gzip member {self.members} at byte {self.raw.offset}")
            return False
        self._d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.members += 1
        self._member_start = self.raw.offset
        self._member_raw = bytearray()
        self._keep_raw = self.resync
        return True

    def _only_zeros_left(self) -> bool:
        while True:
            data = self.raw.peek(CHUNK)
            if not data:
                return True
            if data.strip(b"\0"):
                return False
            self.raw.skip(len(data))

    def _junk_len(self) -> int:
        data = self.raw.peek(4096)
        idx = data.find(GZIP_MAGIC)
        return idx if idx >= 0 else len(data)

    def _mark_damage(self, msg: str, rescan: bytes = b"") -> None:
        """End the segment; with resync, push back the damaged member (after its first byte) to rescan it."""
        if not self.damaged:
            self.damage.append(msg)
        self.damaged = True
        if self.resync and self._d is not None:
            self.raw.unread(bytes(self._member_raw[1:]) if self._keep_raw else rescan)
        self._d = None
        self._member_raw = bytearray()

    def next_segment(self) -> bool:
        """After damage, find the next gzip member; True when reading can go on."""
        if not self.damaged or not self.resync or self.finished:
            return False
        # skip at least one byte so a damaged header is not found again
        if self.raw.peek(3) == GZIP_MAGIC:
            self.raw.skip(1)
        if self.raw.find_skip(GZIP_MAGIC) < 0:
            self.finished = True
            return False
        self.damaged = False
        return True

    # --- the source interface -----------------------------------------------------------------
    def read_chunk(self) -> bytes:
        while True:
            if self.damaged or self.finished:
                return b""
            if self._d is None and not self._start_member():
                return b""
            assert self._d is not None
            data = self._d.unconsumed_tail
            if not data:
                data = self.raw.read_chunk()
                if not data:
                    self._mark_damage(f"gzip stream is truncated in member {self.members} (started at byte {self._member_start})")
                    if not self.resync:
                        self.finished = True
                    return b""
                if self._keep_raw:
                    self._member_raw += data
                    if len(self._member_raw) > RESCAN_WINDOW:
                        self._keep_raw = False
                        self._member_raw = bytearray()
            try:
                out = self._d.decompress(data, CHUNK)
            except zlib.error as exc:
                self._mark_damage(f"gzip member {self.members} (at byte {self._member_start}) is corrupt: {exc}", rescan=data)
                return b""
            if self._d.eof:
                unused = self._d.unused_data
                if self._keep_raw and unused:
                    del self._member_raw[len(self._member_raw) - len(unused) :]
                self.raw.unread(unused)
                self._d = None
            if out:
                self.out += len(out)
                if self.out > self.limit:
                    raise Reject("decompressed_too_large", f"inflates past --max-decompressed-bytes ({self.limit} bytes); stopped there (gzip bomb guard)")
                return out

    def drain(self) -> None:
        """Inflate the rest without keeping it, so a bomb trips the limit (bounded memory)."""
        while self.read_chunk():
            pass


class Transcoder:
    """UTF-16 (with BOM) → UTF-8 chunks, so byte-level readers work on one encoding."""

    def __init__(self, raw: Stream, encoding: str) -> None:
        self.raw = raw
        self.dec = codecs.getincrementaldecoder(encoding)(errors="replace")
        self.done = False

    def read_chunk(self) -> bytes:
        while not self.done:
            data = self.raw.read_chunk()
            final = not data
            text = self.dec.decode(data, final=final)
            if final:
                self.done = True
            if text:
                return text.encode("utf-8", "replace")
        return b""
