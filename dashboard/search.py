"""Full-text search: the query language, the published trigram index, snippets.

Query language (what users type into the search box)::

    失信 限高            both terms (AND)
    "兰州 中院"          an exact phrase (spaces included)
    法院 -广告           法院 and not 广告
    限高 OR 限制消费     either term (OR binds tighter than AND: a OR b c = (a OR b) AND c)

Terms are NFKC-normalised (the text is) and matched as exact substrings, in titles and bodies or in
titles only. A term of one character cannot use the index (the index holds trigrams); it is found by
scanning the text, and the caller says so. A malformed query gives a ``QueryError`` with a message
key, never an exception past ``parse_query``.

The index (``pipelines.schema.SEARCH_*``, written by ``pipelines/publish/search_index.py``) answers
a term of two characters from the key range of the trigrams that start with them, and a longer term
by joining the trigrams that cover it at their relative offsets, so every answer is exact.
"""

from __future__ import annotations

import json
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.schema import NGRAM_BITS, SEARCH_SEP, trigram_key

MAX_ATOMS = 8
DROPPED = ("Cc", "Cs")  # control characters and lone surrogates; private-use characters are searchable text
SEARCH_FORMAT = 1
SNIPPET_CONTEXT = 30
MARK_OPEN, MARK_CLOSE = "⟦", "⟧"


@dataclass(frozen=True)
class Clause:
    """Terms of which at least one must occur (``negated``: the one term must not occur)."""

    terms: tuple[str, ...]
    negated: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    clauses: tuple[Clause, ...]

    @property
    def positive_terms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for c in self.clauses if not c.negated for t in c.terms))

    @property
    def short_terms(self) -> tuple[str, ...]:
        """Terms of one character (answered by a scan)."""
        return tuple(dict.fromkeys(t for c in self.clauses for t in c.terms if len(t) < 2))


@dataclass(frozen=True)
class QueryError:
    key: str  # an i18n key naming what is wrong


def _tokens(text: str) -> list[tuple[str, bool]] | QueryError:
    """(token, quoted) pairs; a quoted token is a phrase, kept with its spaces."""
    out: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        neg = ""
        if ch == "-" and i + 1 < n and text[i + 1] == '"':
            neg, i = "-", i + 1
            ch = '"'
        if ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                return QueryError("search_err_quote")
            phrase = text[i + 1 : end]
            if not phrase.strip():
                return QueryError("search_err_empty_phrase")
            out.append((neg + phrase, True))
            i = end + 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] != '"':
            j += 1
        out.append((text[i:j], False))
        i = j
    return out


def parse_query(text: str) -> ParsedQuery | QueryError | None:
    """The query typed by a user; None when it is empty."""
    text = unicodedata.normalize("NFKC", "".join(ch for ch in text if unicodedata.category(ch) not in DROPPED))
    tokens = _tokens(text)
    if isinstance(tokens, QueryError):
        return tokens
    clauses: list[Clause] = []
    pending_or = False
    for tok, quoted in tokens:
        if not quoted and tok in ("OR", "|"):
            if not clauses or pending_or or clauses[-1].negated:
                return QueryError("search_err_or")
            pending_or = True
            continue
        negated = tok.startswith("-")
        term = tok[1:] if negated else tok
        if not term:
            return QueryError("search_err_dash")
        if negated and pending_or:
            return QueryError("search_err_neg_or")
        if pending_or:
            clauses[-1] = Clause((*clauses[-1].terms, term))
            pending_or = False
        else:
            clauses.append(Clause((term,), negated))
    if pending_or:
        return QueryError("search_err_or")
    if not clauses:
        return None
    if sum(len(c.terms) for c in clauses) > MAX_ATOMS:
        return QueryError("search_err_too_many")
    return ParsedQuery(tuple(clauses))


def combine(q: ParsedQuery, rows_of: dict[str, np.ndarray], universe: int) -> np.ndarray:
    """Facts rows matching ``q`` given each term's rows (sorted, unique); ``universe`` = number of rows."""
    result: np.ndarray | None = None
    for c in (c for c in q.clauses if not c.negated):
        rows = rows_of[c.terms[0]]
        for t in c.terms[1:]:
            rows = np.union1d(rows, rows_of[t])
        result = rows if result is None else np.intersect1d(result, rows, assume_unique=True)
    if result is None:
        result = np.arange(universe, dtype=np.int64)
    for c in (c for c in q.clauses if c.negated):
        result = np.setdiff1d(result, rows_of[c.terms[0]], assume_unique=True)
    return result.astype(np.int64, copy=False)


def _cover(n: int) -> list[int]:
    """Offsets of trigrams that together cover a term of ``n`` >= 3 characters."""
    offs = list(range(0, n - 2, 3))
    if offs[-1] + 3 < n:
        offs.append(n - 3)
    return offs


@dataclass
class _Segment:
    """One postings file, with the key range of each of its row groups (the file is sorted by key)."""

    file: pq.ParquetFile
    first_keys: np.ndarray  # smallest key of each row group
    last_keys: np.ndarray  # largest key of each row group
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def open(cls, path: Path) -> _Segment:
        pf = pq.ParquetFile(path)
        md = pf.metadata
        stats = [md.row_group(i).column(0).statistics for i in range(md.num_row_groups)]
        first = np.array([st.min if st is not None and st.has_min_max else np.iinfo(np.int64).min for st in stats], np.int64)
        last = np.array([st.max if st is not None and st.has_min_max else np.iinfo(np.int64).max for st in stats], np.int64)
        return cls(pf, first, last)

    def postings(self, lo: int, hi: int, offsets: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(doc, off) of the postings with ``lo <= key <= hi``, in (key, doc, off) order: only the row
        groups whose key range meets [lo, hi] are read (``off`` left unread and empty unless
        ``offsets``: a two-character term in titles and bodies needs only the docs)."""
        a = int(np.searchsorted(self.last_keys, lo, side="left"))
        b = int(np.searchsorted(self.first_keys, hi, side="right"))
        if a >= b:
            return _NO_POSTINGS
        with self.lock:  # a ParquetFile is not shared between threads mid-read
            t = self.file.read_row_groups(range(a, b), columns=["key", "doc", "off"] if offsets else ["key", "doc"])
        key = t.column("key").to_numpy()
        i, j = int(np.searchsorted(key, lo, side="left")), int(np.searchsorted(key, hi, side="right"))
        return t.column("doc").to_numpy()[i:j], t.column("off").to_numpy()[i:j] if offsets else _NO_POSTINGS[1]


_NO_POSTINGS = (np.empty(0, np.int64), np.empty(0, np.int32))


@dataclass
class SearchIndex:
    """The published index of one snapshot, opened read-only (thread-safe).

    A term's postings are read straight from the row groups whose key range holds it (the files are
    sorted by key; the ranges are read from the footers once, at open), so a term costs the postings
    it has, not a scan of every file's row-group statistics (0.8 s at 1M articles in 112 segments)."""

    root: Path
    segments: list[dict[str, object]]
    facts_row: np.ndarray  # doc - min doc -> facts row, -1 when not published
    doc_of_row: np.ndarray  # facts row -> doc, -1 when not indexed
    min_doc: int
    postings_files: list[_Segment]  # in doc order (a segment's docs follow the previous one's)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _docs_files: dict[str, tuple[pq.ParquetFile, np.ndarray]] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, search_dir: Path, facts: Path) -> SearchIndex | None:
        """The index in ``search_dir`` when it belongs to the snapshot's ``facts`` file, else None."""
        try:
            man = json.loads((search_dir / "manifest.json").read_text(encoding="utf-8"))
            if man.get("format") != SEARCH_FORMAT or man.get("facts_bytes") != facts.stat().st_size:
                return None
            if man.get("facts_rows") != pq.read_metadata(facts).num_rows:
                return None
            rows = pq.read_table(search_dir / "rows.parquet")
        except (OSError, ValueError, KeyError, AttributeError):
            return None
        segs = sorted(man.get("segments", []), key=lambda s: int(s["base"]))
        files = [search_dir / f"{s['id']}.postings.parquet" for s in segs]
        if not all(f.is_file() and (search_dir / f"{s['id']}.docs.parquet").is_file() for f, s in zip(files, segs, strict=True)):
            return None
        docs = rows.column("doc").to_numpy()
        frows = rows.column("facts_row").to_numpy()
        min_doc = int(docs.min()) if len(docs) else 0
        facts_row = np.full(int(docs.max()) - min_doc + 1 if len(docs) else 0, -1, np.int64)
        facts_row[docs - min_doc] = frows
        doc_of_row = np.full(int(man["facts_rows"]), -1, np.int64)
        doc_of_row[frows] = docs
        try:
            postings = [_Segment.open(f) for f in files]
        except (OSError, ValueError):
            return None
        return cls(search_dir, segs, facts_row, doc_of_row, min_doc, postings)

    def _key_postings(self, lo: int, hi: int, offsets: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(doc, off) of every posting with a key in [lo, hi], segment after segment (so, for one key,
        sorted by (doc, off))."""
        got = [seg.postings(lo, hi, offsets) for seg in self.postings_files]
        got = [g for g in got if len(g[0])]
        if not got:
            return _NO_POSTINGS
        return np.concatenate([g[0] for g in got]), np.concatenate([g[1] for g in got])

    def _term_docs(self, term: str, title_only: bool) -> np.ndarray:
        """Index doc numbers (not unique) of the articles holding ``term``: a two-character term is the
        key range of the trigrams it starts; a longer one joins the trigrams covering it at their
        offsets (as ``doc, start`` pairs, intersected smallest first)."""
        cps = [ord(ch) for ch in term]
        if len(cps) == 2:
            lo = trigram_key(cps[0], cps[1], 0)
            doc, off = self._key_postings(lo, lo + (1 << NGRAM_BITS) - 1, offsets=title_only)
            return doc[off < 0] if title_only else doc
        starts = []
        for i, k in enumerate(_cover(len(cps))):
            key = trigram_key(cps[k], cps[k + 1], cps[k + 2])
            doc, off = self._key_postings(key, key)
            if i == 0 and title_only:
                doc, off = doc[off < 0], off[off < 0]
            # (doc, start) as one sortable integer; a segment's postings of one key come sorted
            starts.append((doc.astype(np.int64) << 32) | (off.astype(np.int64) - k + (1 << 31)))
        starts.sort(key=len)
        common = starts[0]
        for other in starts[1:]:
            if not len(common):
                break
            # both unique: one (SIMD) sort of the two together beats a binary search per element
            common = np.intersect1d(common, other, assume_unique=True)
        return common >> 32

    def term_rows(self, term: str, title_only: bool = False) -> np.ndarray:
        """Sorted facts rows of the published articles whose title (or body) contains ``term`` (>= 2 chars)."""
        if len(term) < 2:
            raise ValueError("the index answers terms of two or more characters")
        if chr(SEARCH_SEP) in term or len(self.facts_row) == 0:
            return np.empty(0, np.int64)
        docs = self._term_docs(term, title_only) - self.min_doc
        docs = docs[(docs >= 0) & (docs < len(self.facts_row))]
        # distinct docs first (a common term has ~10 postings an article), sorted and unique in O(n)
        seen = np.zeros(len(self.facts_row), dtype=bool)
        seen[docs] = True
        rows = self.facts_row[np.flatnonzero(seen)]
        hit = np.zeros(len(self.doc_of_row), dtype=bool)
        hit[rows[rows >= 0]] = True
        return np.flatnonzero(hit).astype(np.int64)

    def texts(self, facts_rows: list[int]) -> dict[int, tuple[str, str]]:
        """(title, body) of the given facts rows, read from the segments' small row groups (only the
        rows asked for become Python strings)."""
        wanted: dict[tuple[str, int], list[tuple[int, int]]] = {}
        bases = [(int(s["base"]), int(s["docs"]), str(s["id"])) for s in self.segments]  # type: ignore[call-overload]
        for r in facts_rows:
            doc = int(self.doc_of_row[r]) if 0 <= r < len(self.doc_of_row) else -1
            for base, n, sid in bases:
                if base <= doc < base + n:
                    _, starts = self._docs_file(sid)
                    group = int(np.searchsorted(starts, doc - base, side="right")) - 1
                    wanted.setdefault((sid, group), []).append((r, doc - base - int(starts[group])))
                    break
        out: dict[int, tuple[str, str]] = {}
        for (sid, group), items in wanted.items():
            pf, starts = self._docs_file(sid)
            if not 0 <= group < len(starts) - 1:
                continue
            with self._lock:  # a ParquetFile is not shared between threads mid-read
                t = pf.read_row_group(group, columns=["title", "body"])
            items = [(r, i) for r, i in items if 0 <= i < t.num_rows]
            picked = t.take(pa.array([i for _, i in items], pa.int64()))
            for (r, _), title, body in zip(items, picked.column("title").to_pylist(), picked.column("body").to_pylist(), strict=True):
                out[r] = (title or "", body or "")
        return out

    def _docs_file(self, sid: str) -> tuple[pq.ParquetFile, np.ndarray]:
        """A segment's docs file and the first row of each of its row groups (plus the row count)."""
        with self._lock:
            got = self._docs_files.get(sid)
            if got is None:
                pf = pq.ParquetFile(self.root / f"{sid}.docs.parquet")
                sizes = [pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)]
                got = self._docs_files[sid] = (pf, np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]))
            return got


def snippet(title: str, body: str, terms: tuple[str, ...], title_only: bool = False) -> str:
    """The first match of any term with some context, the match between ⟦ ⟧ (plain text)."""
    for text in (title,) if title_only else (title, body):
        best = min(((text.find(t), t) for t in terms if t and text.find(t) >= 0), default=None)
        if best is None:
            continue
        pos, term = best
        lo, hi = max(0, pos - SNIPPET_CONTEXT), min(len(text), pos + len(term) + SNIPPET_CONTEXT)
        clip = (text[lo:pos] + MARK_OPEN + text[pos : pos + len(term)] + MARK_CLOSE + text[pos + len(term) : hi]).replace("\n", " ")
        return ("…" if lo > 0 else "") + clip + ("…" if hi < len(text) else "")
    return ""
