"""Topic labels from a user-editable keyword taxonomy (``pipelines/data/topics.toml``).

All terms, exclusion phrases and ``requires_any`` phrases of all topics are compiled once into a
single Aho-Corasick automaton (``ahocorasick_rs``, DFA over UTF-8 bytes). Classifying an article is
one overlapping-match pass over title and body (joined by a NUL byte), followed by bookkeeping per
distinct matched pattern; there is no per-topic or per-term loop over the text.

API: ``load_taxonomy(path=None) -> Taxonomy``; ``Taxonomy.classify(title, body) -> (topics,
evidence)``; ``Taxonomy.scores(title, body)`` (all non-zero topics, for tuning); ``Taxonomy.ids``,
``Taxonomy.labels(lang)``, ``Taxonomy.definitions(lang)``, ``Taxonomy.lint()``;
``taxonomy_hash(path=None)`` / ``Taxonomy.taxonomy_hash()`` (SHA-256 of the file bytes, so a
changed file triggers relabelling).

Scoring (also documented at the top of the TOML file):

* an occurrence of a term is ignored when an occurrence of an exclusion phrase of the same topic
  (or a global exclusion) covers it, or when a longer term of the same topic covers it;
* ASCII terms (``CPI``, ``5G``) must not touch other ASCII letters/digits (whole-word match), and
  their full-width forms (``ＣＰＩ``) match too;
* ``contribution = weight * (1 + ln(n)) * (title_weight if the term occurs in the title else 1)``
  where ``n`` counts the term's remaining occurrences in title and body together;
* a topic's score is the sum of its terms' contributions; it is assigned when the score reaches its
  threshold and, if it has ``requires_any``, one of those phrases occurs outside exclusions;
* long bodies collect incidental terms, so when ``length_norm_chars`` is set every threshold is
  multiplied by ``sqrt(body chars / length_norm_chars)`` for bodies longer than that, and with
  ``min_share`` a topic must also score at least that fraction of the best topic's score.

Line breaks (``\\r``/``\\n``) are removed before matching so that PDF-wrapped text matches.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import itemgetter
from pathlib import Path
from typing import Any

import ahocorasick_rs

from pipelines.errors import DataFileError

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "topics.toml"

_ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_KEYS = {"version", "threshold", "title_weight", "length_norm_chars", "min_share", "exclude", "topic"}
_TOPIC_KEYS = {
    "id",
    "label_zh",
    "label_en",
    "definition",
    "terms",
    "title_weight",
    "threshold",
    "exclude",
    "requires_any",
    "min_share_of",
}
_REQUIRED_TOPIC_KEYS = ("id", "label_zh", "label_en", "definition", "terms")
_LANGS = ("zh", "en")


class TaxonomyError(DataFileError):
    """The taxonomy file is missing, unparsable or invalid; the message names the bad entry."""


@dataclass(frozen=True)
class Topic:
    id: str
    label_zh: str
    label_en: str
    definition_zh: str
    definition_en: str
    terms: Mapping[str, float]
    title_weight: float
    threshold: float
    exclude: tuple[str, ...]
    requires_any: tuple[str, ...]
    min_share_of: Mapping[str, float] = field(default_factory=dict)  # other topic id -> ratio

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en


@dataclass(frozen=True)
class TopicScore:
    """Score of one topic for one article (``Taxonomy.scores``)."""

    topic: str
    score: float
    terms: tuple[str, ...]  # terms that counted, highest contribution first
    assigned: bool


@dataclass(frozen=True)
class _Role:
    """One (topic, term) pair the automaton can report."""

    topic: int
    term: str
    weight: float  # 0 for a requires_any phrase that is not also a term
    required: bool  # member of the topic's requires_any


def taxonomy_hash(path: str | Path | None = None) -> str:
    """SHA-256 (hex) of the taxonomy file's bytes; a changed file means articles need relabelling."""
    p = Path(path) if path is not None else DEFAULT_PATH
    try:
        return hashlib.sha256(p.read_bytes()).hexdigest()
    except OSError as exc:
        raise TaxonomyError(f"cannot read taxonomy file {p}: {exc}") from exc


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Parse and validate a taxonomy TOML file (default: ``pipelines/data/topics.toml``)."""
    p = Path(path) if path is not None else DEFAULT_PATH
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise TaxonomyError(f"cannot read taxonomy file {p}: {exc}") from exc
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TaxonomyError(f"{p}: not valid UTF-8 TOML: {exc}") from exc
    return Taxonomy.from_dict(doc, source=str(p), sha256=hashlib.sha256(raw).hexdigest())


# ------------------------------------------------------------------------------------------------
# validation helpers


def _norm(term: str) -> str:
    return unicodedata.normalize("NFKC", term).strip()


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise TaxonomyError(f"{where}: must be a positive number, got {value!r}")
    return float(value)


def _nonempty_str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TaxonomyError(f"{where}: must be a non-empty string, got {value!r}")
    return value.strip()


def _phrases(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TaxonomyError(f"{where}: must be a list of strings, got {type(value).__name__}")
    out: list[str] = []
    for i, item in enumerate(value):
        s = _norm(_nonempty_str(item, f"{where}[{i}]"))
        if s not in out:
            out.append(s)
    return tuple(out)


def _parse_topic(entry: Any, index: int, default_threshold: float, default_title_weight: float, src: str) -> Topic:
    if not isinstance(entry, dict):
        raise TaxonomyError(f"{src}: topic #{index + 1} must be a table")
    name = entry.get("id")
    where = f"{src}: topic #{index + 1}" + (f" ({name!r})" if isinstance(name, str) else "")
    unknown = sorted(set(entry) - _TOPIC_KEYS)
    if unknown:
        raise TaxonomyError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(_TOPIC_KEYS)}")
    for key in _REQUIRED_TOPIC_KEYS:
        if key not in entry:
            raise TaxonomyError(f"{where}: missing required key {key!r}")
    tid = _nonempty_str(entry["id"], f"{where}.id")
    if not _ID_RE.match(tid):
        raise TaxonomyError(f"{where}.id: {tid!r} must be lower-case letters, digits and underscores")
    where = f"{src}: topic {tid!r}"
    label_zh = _nonempty_str(entry["label_zh"], f"{where}.label_zh")
    label_en = _nonempty_str(entry["label_en"], f"{where}.label_en")
    definition = entry["definition"]
    if not isinstance(definition, dict) or set(definition) != set(_LANGS):
        raise TaxonomyError(f"{where}.definition: must be a table with exactly the keys 'en' and 'zh'")
    def_en = _nonempty_str(definition["en"], f"{where}.definition.en")
    def_zh = _nonempty_str(definition["zh"], f"{where}.definition.zh")

    raw_terms = entry["terms"]
    if not isinstance(raw_terms, dict) or not raw_terms:
        raise TaxonomyError(f'{where}.terms: must be a non-empty table of "term" = weight')
    terms: dict[str, float] = {}
    for key, weight in raw_terms.items():
        term = _norm(key)
        if not term:
            raise TaxonomyError(f"{where}.terms: empty term")
        w = _positive(weight, f"{where}.terms[{key!r}]")
        if term in terms:
            raise TaxonomyError(f"{where}.terms: {key!r} duplicates another term after NFKC normalisation")
        terms[term] = w

    exclude = _phrases(entry.get("exclude", []), f"{where}.exclude")
    both = sorted(set(exclude) & set(terms))
    if both:
        raise TaxonomyError(f"{where}: {both} listed both as term and in exclude (the term could never count)")
    requires_any = _phrases(entry.get("requires_any", []), f"{where}.requires_any")
    title_weight = _positive(entry.get("title_weight", default_title_weight), f"{where}.title_weight")
    threshold = _positive(entry.get("threshold", default_threshold), f"{where}.threshold")
    raw_share = entry.get("min_share_of", {})
    if not isinstance(raw_share, dict):
        raise TaxonomyError(f'{where}.min_share_of: must be a table of "topic id" = ratio')
    share_of = {str(k): _positive(v, f"{where}.min_share_of[{k!r}]") for k, v in raw_share.items()}
    if tid in share_of:
        raise TaxonomyError(f"{where}.min_share_of: a topic cannot be measured against itself")
    return Topic(tid, label_zh, label_en, def_zh, def_en, terms, title_weight, threshold, exclude, requires_any, share_of)


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def _is_word_char(c: str) -> bool:
    """ASCII letter/digit or its full-width form: what an ASCII term must not touch."""
    o = ord(c)
    return (c.isascii() and c.isalnum()) or 0xFF10 <= o <= 0xFF19 or 0xFF21 <= o <= 0xFF3A or 0xFF41 <= o <= 0xFF5A


def _word_byte_before(data: bytes, s: int) -> bool:
    """Does the UTF-8 character ending at byte ``s`` count as a word character?"""
    if s <= 0:
        return False
    b = data[s - 1]
    if b < 0x80:
        return chr(b).isalnum()
    return s >= 3 and _is_word_char(data[s - 3 : s].decode("utf-8", "replace")[-1])


def _word_byte_after(data: bytes, e: int) -> bool:
    """Does the UTF-8 character starting at byte ``e`` count as a word character?"""
    if e >= len(data):
        return False
    b = data[e]
    if b < 0x80:
        return chr(b).isalnum()
    return _is_word_char(data[e : e + 3].decode("utf-8", "replace")[:1] or " ")


try:  # C helper behind collections.Counter, without Counter's per-call overhead
    from _collections import _count_elements
except ImportError:  # pragma: no cover - other Python implementations

    def _count_elements(mapping: dict[int, int], iterable: Iterable[int]) -> None:
        for x in iterable:
            mapping[x] = mapping.get(x, 0) + 1


_EXCLUDED = 1
_SHADOWED = 2
_first = itemgetter(0)
_second = itemgetter(1)
# 1 + ln(n) for the usual counts, computed once
_DAMP_N = 4096
_DAMP = [0.0] + [1.0 + math.log(n) for n in range(1, _DAMP_N)]


def _encode(text: str) -> bytes:
    """UTF-8 bytes with line breaks removed (PDF-wrapped text must still match)."""
    # Removed from the bytes, not the str: CR and LF never occur inside a multi-byte UTF-8 sequence,
    # bytes.replace is a memchr loop, and encode() reuses the UTF-8 copy that the gazetteer's scan
    # of the same body already made (a str.replace would make a new str to encode from scratch).
    data = text.encode("utf-8", "surrogatepass")
    if b"\n" in data or b"\r" in data:
        data = data.replace(b"\r", b"").replace(b"\n", b"")
    return data


# ------------------------------------------------------------------------------------------------


def _covers(automaton: Any, encoded: list[bytes], roles: list[_Role], excl_topics: dict[int, set[int]], canon_of: dict[int, int],
            pat_roles: list[list[int]]) -> dict[int, tuple[tuple[int, int, int, int], ...]]:
    # covers[q]: occurrences that an occurrence of pattern q hides, as (canonical p, byte offset
    # of p in q, topic, kind): kind _EXCLUDED when q is an exclusion of that topic (hides every
    # role of p there), _SHADOWED when q is a longer scoring term of that topic (hides p's
    # scoring role there). Found by running the automaton over each pattern.
    covers: dict[int, tuple[tuple[int, int, int, int], ...]] = {}
    for q, longer in enumerate(encoded):
        q_excl = excl_topics.get(q, set())
        q_scoring_topics = {roles[r].topic for r in pat_roles[canon_of.get(q, q)] if roles[r].weight > 0}
        found: set[tuple[int, int, int, int]] = set()
        for p, off, _ in automaton.find_matches_as_indexes(longer, overlapping=True):
            if p == q:
                continue
            cp = canon_of.get(p, p)
            for r in pat_roles[cp]:
                role = roles[r]
                if role.topic in q_excl:
                    found.add((cp, off, role.topic, _EXCLUDED))
                elif role.weight > 0 and role.topic in q_scoring_topics:
                    found.add((cp, off, role.topic, _SHADOWED))
        if found:
            covers[q] = tuple(sorted(found))
    return covers


class Taxonomy:
    """A validated taxonomy compiled into one Aho-Corasick automaton."""

    def __init__(
        self,
        topics: Sequence[Topic],
        *,
        global_exclude: Iterable[str] = (),
        threshold: float = 3.0,
        title_weight: float = 2.0,
        length_norm_chars: float = 0.0,
        min_share: float = 0.0,
        source: str = "<memory>",
        sha256: str = "",
    ) -> None:
        if not topics:
            raise TaxonomyError(f"{source}: no topics defined")
        seen: set[str] = set()
        for t in topics:
            if t.id in seen:
                raise TaxonomyError(f"{source}: duplicate topic id {t.id!r}")
            seen.add(t.id)
        for t in topics:
            for other in t.min_share_of:
                if other not in seen:
                    raise TaxonomyError(f"{source}: topic {t.id!r}: min_share_of names unknown topic {other!r}")
        self.topics: tuple[Topic, ...] = tuple(topics)
        self.global_exclude: tuple[str, ...] = tuple(dict.fromkeys(_norm(s) for s in global_exclude if _norm(s)))
        self.threshold = threshold
        self.title_weight = title_weight
        self.length_norm_chars = length_norm_chars
        self.min_share = min_share
        self.source = source
        self.sha256 = sha256
        self._compile()

    # The compiled automaton cannot be pickled; a copy sent to a worker process recompiles (~50 ms).
    def __getstate__(self) -> dict[str, Any]:
        return {
            "topics": self.topics,
            "global_exclude": self.global_exclude,
            "threshold": self.threshold,
            "title_weight": self.title_weight,
            "length_norm_chars": self.length_norm_chars,
            "min_share": self.min_share,
            "source": self.source,
            "sha256": self.sha256,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state.pop("topics"), **state)  # type: ignore[misc]

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str = "<memory>", sha256: str = "") -> Taxonomy:
        unknown = sorted(set(doc) - _TOP_KEYS)
        if unknown:
            raise TaxonomyError(f"{source}: unknown top-level key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
        threshold = _positive(doc.get("threshold", 3.0), f"{source}: threshold")
        title_weight = _positive(doc.get("title_weight", 2.0), f"{source}: title_weight")
        length_norm_chars = _positive(doc["length_norm_chars"], f"{source}: length_norm_chars") if "length_norm_chars" in doc else 0.0
        min_share = doc.get("min_share", 0.0)
        if isinstance(min_share, bool) or not isinstance(min_share, int | float) or not 0 <= min_share < 1:
            raise TaxonomyError(f"{source}: min_share: must be a number in [0, 1), got {min_share!r}")
        global_exclude = _phrases(doc.get("exclude", []), f"{source}: exclude")
        entries = doc.get("topic")
        if not isinstance(entries, list) or not entries:
            raise TaxonomyError(f"{source}: no topics: expected one or more [[topic]] tables")
        topics = [_parse_topic(e, i, threshold, title_weight, source) for i, e in enumerate(entries)]
        return cls(
            topics,
            global_exclude=global_exclude,
            threshold=threshold,
            title_weight=title_weight,
            length_norm_chars=length_norm_chars,
            min_share=float(min_share),
            source=source,
            sha256=sha256,
        )

    def _pattern_table(self) -> tuple[list[str], list[_Role], dict[int, set[int]], dict[int, int], list[list[int]]]:
        """Every term, exclusion and requires_any phrase as a pattern (with its full-width form for
        ASCII): (patterns, roles, exclusion pattern -> topics, variant -> canonical pattern,
        canonical pattern -> its roles)."""
        patterns: list[str] = []
        index: dict[str, int] = {}

        def pat(s: str) -> list[int]:
            out = []
            forms = [s, _fullwidth(s)] if any(c.isascii() and c.isalnum() for c in s) else [s]
            for form in dict.fromkeys(forms):
                if form not in index:
                    index[form] = len(patterns)
                    patterns.append(form)
                out.append(index[form])
            return out

        roles: list[_Role] = []
        role_pats: list[list[int]] = []
        for ti, t in enumerate(self.topics):
            req = set(t.requires_any)
            for term, w in t.terms.items():
                roles.append(_Role(ti, term, w, term in req))
                role_pats.append(pat(term))
            for phrase in t.requires_any:
                if phrase not in t.terms:
                    roles.append(_Role(ti, phrase, 0.0, True))
                    role_pats.append(pat(phrase))

        # exclusions: pattern -> topics it applies to
        n_topics = len(self.topics)
        excl_topics: dict[int, set[int]] = {}
        for ti, t in enumerate(self.topics):
            for phrase in t.exclude:
                for p in pat(phrase):
                    excl_topics.setdefault(p, set()).add(ti)
        for phrase in self.global_exclude:
            for p in pat(phrase):
                excl_topics.setdefault(p, set()).update(range(n_topics))

        # Fold full-width variants onto the pattern of the term as written: counts, evidence and
        # hiding all work on these canonical pattern ids.
        canon_of: dict[int, int] = {}
        for ps in role_pats:
            for p in ps[1:]:
                canon_of[p] = ps[0]
        pat_roles: list[list[int]] = [[] for _ in patterns]
        for r, ps in enumerate(role_pats):
            pat_roles[ps[0]].append(r)
        return patterns, roles, excl_topics, canon_of, pat_roles

    def _compile(self) -> None:
        patterns, roles, excl_topics, canon_of, pat_roles = self._pattern_table()
        # Matching runs on UTF-8 bytes (no character-offset bookkeeping); offsets are only compared
        # with each other, so byte offsets serve as well as character offsets.
        encoded = [pt.encode("utf-8") for pt in patterns]
        automaton = ahocorasick_rs.BytesAhoCorasick(encoded, matchkind=ahocorasick_rs.MATCHKIND_STANDARD, implementation=ahocorasick_rs.Implementation.DFA)
        covers = _covers(automaton, encoded, roles, excl_topics, canon_of, pat_roles)
        title_weights = [t.title_weight for t in self.topics]
        self._patterns = patterns
        self._canon_of = canon_of
        self._variants = frozenset(canon_of)
        # per canonical pattern: scoring roles as (topic, weight, weight * topic's title_weight)
        self._score_roles: list[tuple[tuple[int, float, float], ...]] = [
            tuple((roles[r].topic, roles[r].weight, roles[r].weight * title_weights[roles[r].topic]) for r in rs if roles[r].weight > 0) for rs in pat_roles
        ]
        # per canonical pattern: topics whose requires_any lists it
        self._req_roles: list[tuple[int, ...]] = [tuple(roles[r].topic for r in rs if roles[r].required) for rs in pat_roles]
        self._req_pats = frozenset(p for p, ts in enumerate(self._req_roles) if ts)
        self._covers = covers
        self._coverers = frozenset(covers)
        self._left_bound = frozenset(p for p, pt in enumerate(patterns) if _is_word_char(pt[0]))
        self._right_bound = frozenset(p for p, pt in enumerate(patterns) if _is_word_char(pt[-1]))
        self._bounded = self._left_bound | self._right_bound
        self._thresholds = [t.threshold for t in self.topics]
        self._needs_req = [bool(t.requires_any) for t in self.topics]
        pos = {t.id: i for i, t in enumerate(self.topics)}
        # (topic, other topic, ratio): topic is not assigned next to an assigned other topic when it
        # scores less than ratio x the other's score (money words in an enforcement digest).
        self._share_of = [(ti, pos[o], r) for ti, t in enumerate(self.topics) for o, r in t.min_share_of.items()]
        self._ids = [t.id for t in self.topics]
        self._automaton = automaton

    # -- public API -----------------------------------------------------------------------------

    @property
    def ids(self) -> list[str]:
        """Topic ids in taxonomy order."""
        return [t.id for t in self.topics]

    @property
    def n_patterns(self) -> int:
        """Number of patterns in the automaton (terms, exclusions, requires_any, full-width forms)."""
        return len(self._patterns)

    def labels(self, lang: str = "zh") -> dict[str, str]:
        """Topic id -> label in ``lang`` ('zh' or 'en')."""
        if lang not in _LANGS:
            raise ValueError(f"lang must be one of {_LANGS}, got {lang!r}")
        return {t.id: t.label(lang) for t in self.topics}

    def definitions(self, lang: str = "en") -> dict[str, str]:
        """Topic id -> one- or two-sentence definition in ``lang`` ('zh' or 'en')."""
        if lang not in _LANGS:
            raise ValueError(f"lang must be one of {_LANGS}, got {lang!r}")
        return {t.id: (t.definition_zh if lang == "zh" else t.definition_en) for t in self.topics}

    def taxonomy_hash(self) -> str:
        """SHA-256 of the file this taxonomy was loaded from ('' when built in memory)."""
        return self.sha256

    def classify(self, title: str | None, body: str | None) -> tuple[list[str], list[dict[str, Any]]]:
        """Return (topic ids by descending score, evidence) for the assigned topics.

        Evidence items are ``{"topic": id, "terms": [terms that counted], "score": float}``, in the
        same order as the topic ids (the shape of the ``topic_evidence`` column); ``terms`` are
        ordered by contribution, highest first.
        """
        topics: list[str] = []
        evidence: list[dict[str, Any]] = []
        for tid, score, terms, _ in self._evaluate(title, body, only_assigned=True):
            topics.append(tid)
            evidence.append({"topic": tid, "terms": terms, "score": score})
        return topics, evidence

    def scores(self, title: str | None, body: str | None) -> list[TopicScore]:
        """Every topic with a non-zero score, assigned or not, by descending score (for tuning)."""
        return [TopicScore(tid, score, tuple(terms), assigned) for tid, score, terms, assigned in self._evaluate(title, body, only_assigned=False)]

    # _evaluate and _tally run once per article over its matches; they stay whole because the
    # counting is done with C-level dict/Counter calls that helpers would wrap in Python calls.
    def _evaluate(self, title: str | None, body: str | None, *, only_assigned: bool) -> list[tuple[str, float, list[str], bool]]:
        """(topic id, score, terms by contribution, assigned) by descending score."""
        title_pp, body_pp, hidden, req = self._tally(title, body)
        if not title_pp and not body_pp:
            return []
        score_roles = self._score_roles
        hidden_pats = {key[0] for key in hidden} if hidden else ()
        totals = [0.0] * len(self.topics)
        contribs: list[tuple[int, float, int]] = []  # (topic, -contribution, pattern)
        append = contribs.append
        for p in title_pp.keys() | body_pp.keys() if title_pp else body_pp:
            roles = score_roles[p]
            if not roles:
                continue
            nb = body_pp.get(p, 0)
            nt = title_pp.get(p, 0) if title_pp else 0
            if p in hidden_pats:  # some occurrences are hidden for some topics
                for t, w, wt in roles:
                    b = nb - hidden.get((p, t, False), 0)
                    h = nt - hidden.get((p, t, True), 0)
                    n = b + h
                    if n > 0:
                        c = (wt if h > 0 else w) * (_DAMP[n] if n < _DAMP_N else 1.0 + math.log(n))
                        totals[t] += c
                        append((t, -c, p))
                continue
            n = nb + nt
            d = _DAMP[n] if n < _DAMP_N else 1.0 + math.log(n)
            for t, w, wt in roles:
                c = (wt if nt else w) * d
                totals[t] += c
                append((t, -c, p))
        # Long texts collect incidental terms: thresholds grow with sqrt(length / length_norm_chars),
        # and a topic must also reach min_share of the best topic's score.
        factor = 1.0
        if self.length_norm_chars and body and len(body) > self.length_norm_chars:
            factor = math.sqrt(len(body) / self.length_norm_chars)
        floor = self.min_share * max(totals)
        thresholds = self._thresholds
        if only_assigned:  # cheap pre-filter; the exact test (on rounded scores) follows
            candidates = [t for t, x in enumerate(totals) if x and x >= floor - 1e-3 and x >= thresholds[t] * factor - 1e-3]
        else:
            candidates = [t for t, x in enumerate(totals) if x]
        if not candidates:
            return []
        needs_req = self._needs_req
        keep: list[tuple[float, int, bool]] = []
        for t in candidates:
            score = round(totals[t], 3)
            assigned = score >= round(max(thresholds[t] * factor, floor), 3) and (not needs_req[t] or t in req)
            if assigned or not only_assigned:
                keep.append((-score, t, assigned))
        if self._share_of and keep:
            on = {t: -negscore for negscore, t, assigned in keep if assigned}
            drop = {t for t, o, r in self._share_of if t in on and o in on and on[t] < r * on[o]}
            if drop:
                keep = [(negscore, t, assigned and t not in drop) for negscore, t, assigned in keep]
                if only_assigned:
                    keep = [k for k in keep if k[2]]
        if not keep:
            return []
        keep.sort()
        patterns = self._patterns
        terms: dict[int, list[tuple[float, str]]] = {t: [] for _, t, _ in keep}
        for t, negc, p in contribs:
            if t in terms:
                terms[t].append((negc, patterns[p]))
        ids = self._ids
        return [(ids[t], -negscore, [term for _, term in sorted(terms[t])], assigned) for negscore, t, assigned in keep]

    def lint(self) -> list[str]:
        """Warnings about entries that can have no effect (an exclusion that contains none of the
        topic's terms, a requires_any phrase hidden by an exclusion). Not errors: editing is
        easier when a half-finished taxonomy still loads."""
        warnings: list[str] = []
        for t in self.topics:
            for phrase in t.exclude:
                if not any(term in phrase for term in t.terms) and not any(r in phrase for r in t.requires_any):
                    warnings.append(f"topic {t.id!r}: exclude {phrase!r} contains none of its terms")
            for phrase in t.requires_any:
                if phrase in t.exclude:
                    warnings.append(f"topic {t.id!r}: requires_any {phrase!r} is also excluded")
        for phrase in self.global_exclude:
            if not any(term in phrase for t in self.topics for term in t.terms):
                warnings.append(f"global exclude {phrase!r} contains no term of any topic")
        return warnings

    # -- matching -------------------------------------------------------------------------------

    # _tally stays whole for the reason given at _evaluate (one pass of C-level counting per article).
    def _tally(self, title: str | None, body: str | None) -> tuple[dict[int, int], dict[int, int], dict[tuple[int, int, bool], int], set[int]]:
        """Scan title and body in one pass (joined by a NUL byte, which no pattern contains, so no
        match straddles them). Returns occurrences per canonical pattern in the title and in the
        body, hidden occurrences per (pattern, topic, in title), and the topics whose
        requires_any is satisfied."""
        tb = _encode(title) if title else b""
        bb = _encode(body) if body else b""
        if tb and bb:
            data, title_end = tb + b"\x00" + bb, len(tb)
        else:
            data, title_end = (tb, len(tb)) if tb else (bb, 0)
        matches = self._automaton.find_matches_as_indexes(data, overlapping=True) if data else []
        if not matches:
            return {}, {}, {}, set()
        pats = list(map(_first, matches))
        present = set(pats)
        bounded = not self._bounded.isdisjoint(present)
        if bounded:
            matches = [m for m in matches if m[0] not in self._bounded or self._bounds_ok(data, m)]
            pats = list(map(_first, matches))
            present = set(pats)
        coverers = self._coverers
        covering = list(compress(matches, map(coverers.__contains__, pats))) if not coverers.isdisjoint(present) else None
        if not self._variants.isdisjoint(present):
            canon = self._canon_of
            pats = [canon.get(p, p) for p in pats]
            present = set(pats)
        # Matches come in order of their end, so the title's (all ending before the separator)
        # come first.
        k = bisect_left(matches, title_end, key=_second) if title_end else 0
        title_pp: dict[int, int] = {}
        body_pp: dict[int, int] = {}
        _count_elements(body_pp, pats)
        if k:  # move the title's matches (the first k) out of the body counts
            _count_elements(title_pp, pats[:k])
            for p, n in title_pp.items():
                body_pp[p] -= n
                if not body_pp[p]:
                    del body_pp[p]

        # Occurrences hidden by an exclusion phrase or a longer term of the same topic.
        hidden: dict[tuple[int, int, bool], int] = {}
        hidden_excl: dict[tuple[int, int, bool], int] = {}
        if covering:
            covers = self._covers
            excl: set[tuple[int, int, int]] = set()
            shadow: set[tuple[int, int, int]] = set()
            for q, s, _ in covering:
                for p, off, topic, kind in covers[q]:
                    (excl if kind == _EXCLUDED else shadow).add((p, s + off, topic))
            valid = None
            if bounded:  # a hidden occurrence must be one that passed the word-boundary check
                canon = self._canon_of
                valid = {(canon.get(m[0], m[0]), m[1]) for m in matches}
            for counts, group in ((hidden_excl, excl), (hidden, excl | shadow)):
                for p, pos, topic in group:
                    if valid is None or (p, pos) in valid:
                        key = (p, topic, pos < title_end)
                        counts[key] = counts.get(key, 0) + 1

        req_topics: set[int] = set()
        for p in self._req_pats.intersection(present):
            n = title_pp.get(p, 0) + body_pp.get(p, 0)
            for t in self._req_roles[p]:
                if not hidden_excl or n - hidden_excl.get((p, t, True), 0) - hidden_excl.get((p, t, False), 0) > 0:
                    req_topics.add(t)
        return title_pp, body_pp, hidden, req_topics

    def _bounds_ok(self, data: bytes, m: tuple[int, int, int]) -> bool:
        p, s, e = m
        if p in self._left_bound and _word_byte_before(data, s):
            return False
        return not (p in self._right_bound and _word_byte_after(data, e))
