"""China's administrative divisions, outlets, countries and the region rules, loaded once.

Everything comes from data files under ``pipelines/data`` (see ``data_files()``); nothing here lists
place names. All names, aliases, former names, country names, national-organ markers and blockers
go into ONE Aho-Corasick automaton (leftmost-longest), so an article is scanned in a single pass and
a longer surface hides the shorter names inside it (昆士兰州 hides 兰州, 兰州军区 hides 兰州).

``load_gazetteer()`` is cached per data directory; ``Gazetteer.scan`` remembers its last input so
that region and agency labelling of the same body share one scan. That one-entry cache makes a
Gazetteer unsafe to share between threads; worker processes should each call ``load_gazetteer()``
(about 0.15 s) rather than receive a pickled instance.
"""

from __future__ import annotations

import csv
import functools
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

import ahocorasick_rs

from pipelines.errors import DataFileError

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
GAZ_SUBDIR = "gazetteer"

PLACE = "place"
COUNTRY = "country"
NATIONAL = "national"
BLOCKER = "blocker"
FOOTER = "footer"

NATIONAL_CODE = "000000"
MUNICIPALITIES = frozenset({"110000", "120000", "310000", "500000"})


def follows_foreign_guo(body: str, start: int) -> bool:
    """马国卫生部 / 美国司法部 / 该国外交部: an organ named right after 国 (not 我国, 中国, 全国, 本国, 祖国)
    belongs to another country (``start`` > 0). Shared by the region and agency rules."""
    return body[start - 1] == "国" and (start < 2 or body[start - 2] not in "我中全本祖")

_URL_TOKEN = re.compile(r"[a-z]+")
_LEVEL_SUFFIX = frozenset("省市县区州旗盟")


@dataclass(frozen=True, slots=True)
class Division:
    code: str
    level: str  # province | prefecture | county
    name: str
    short_names: tuple[str, ...]
    context_names: tuple[str, ...]
    parent_code: str | None
    province_code: str
    prefecture_code: str | None
    pinyin: str
    lng: float | None
    lat: float | None


@dataclass(frozen=True, slots=True)
class Target:
    """One meaning of a surface: a division code (places) or an ISO 3166 code (countries)."""

    code: str
    context: bool  # counts only with supporting evidence or a following admin/organ word
    alias: bool  # a short form (榆中), weaker than the official name (榆中县)


@dataclass(frozen=True, slots=True)
class Entry:
    surface: str
    kind: str  # place | country | national | blocker | footer
    targets: tuple[Target, ...] = ()
    weight: float = 0.0  # national markers only
    filtered: bool = False  # place/country: subject to the follow / left-context filters
    has_context: bool = False  # some target is context-only


def _entry(surface: str, kind: str, targets: tuple[Target, ...] = (), weight: float = 0.0) -> Entry:
    return Entry(surface, kind, targets, weight, kind in (PLACE, COUNTRY), kind == PLACE and any(t.context for t in targets))


class Hit(NamedTuple):
    start: int
    end: int
    entry: Entry
    follow_ok: bool  # followed by an admin/organ word (白银市委, 城关法院): context names count


_new_hit = tuple.__new__  # builds a Hit without the Python-level NamedTuple.__new__ (hot loop)


@dataclass(frozen=True, slots=True)
class Outlet:
    name: str
    code: str
    level: str  # national | province | prefecture | county


@dataclass(frozen=True, slots=True)
class Country:
    iso2: str
    name: str


@dataclass(frozen=True, slots=True)
class RegionWeights:
    """Evidence weights per signal (``[weights]`` of region_rules.toml; the file documents each)."""

    breadcrumb: float  # site section trail (甘肃 > 兰州市 > 兰州新闻) is strong
    outlet: float  # home region of a local outlet (兰州日报 -> 620100)
    outlet_national: float  # a national outlet (新华社) nudges towards scope=national
    outlet_subregion: float  # outlet/URL evidence counts this much towards the prefecture/county (full for the province)
    dateline: float  # 本报兰州讯, 新华社兰州8月9日电; 【本报讯】 resolves to the outlet's region
    title: float  # each distinct place in the headline
    body_first: float  # first mention of a place in the body
    body_repeat: float  # each further mention
    body_cap: float  # per place, all body mentions together
    lead_factor: float  # mentions in the first `lead_chars` characters of the body weigh more
    lead_chars: float
    url: float  # host (outlets.csv hosts) or pinyin in the URL
    case_number: float  # court case number （2020）甘0503民初2444号 -> 620503
    alias_county: float  # short county names (榆中, 皋兰) are weaker than full names
    foreign: float  # each country mention (title mentions x title/body_first)
    national_cap: float  # cap on the summed national markers
    national_repeat: float  # each repeat of a weak national marker adds this share of its weight (up to 2x)
    party_factor: float  # a place naming an anonymised party (甘肃某公司, 海南甲公司; see [party]) counts this much
    list_factor: float  # an item of an enumeration (江苏南京、湖北武汉、甘肃兰州…) counts this much
    list_min_items: float  # ... when the list has at least this many items
    route_factor: float  # a place that is only a route's end (由西安开往乌鲁木齐的列车) counts this much
    county_confidence: float  # region_confidence of a label that goes down to a county is multiplied by this: on the


@dataclass(frozen=True, slots=True)
class RegionThresholds:
    """Decision thresholds (``[thresholds]`` of region_rules.toml; the file documents each)."""

    min_local: float  # below this the top province is not an answer: a lone passing mention (1.0) is not
    min_foreign: float
    min_national: float
    min_national_alone: float  # ... when no place at all is named: one marker of China as a whole (全国, 我国, 中国) is enough
    many_countries: float  # with at least this many countries named, foreign needs one of them to hold
    country_share: float  # this share of the foreign evidence (else the text only strolls abroad)
    outlet_only_max_chars: float  # a longer body whose only evidence is its outlet/URL is not local
    province_share: float  # top province must hold this share of all local evidence ...
    many_provinces: float  # ... else, with at least this many provinces, the story is national
    prefecture_share: float  # top prefecture must hold this share of all its province's evidence,
    prefecture_share_sub: float  # this share of the evidence for the province's prefectures,
    prefecture_margin: float  # beat the runner-up prefecture by this factor
    prefecture_min: float  # and have at least this much evidence
    county_share: float  # the same for the top county within its prefecture
    county_share_sub: float
    county_margin: float
    county_min: float  # (one title mention, or >= 2 body mentions)
    context_province_min: float  # a context-only name (白银, 城关) needs this much support in its province


def _typed(cls: type, raw: Any, where: str) -> Any:
    """``cls`` from a TOML table of numbers: every field present, no unknown key, each a number."""
    if not isinstance(raw, dict):
        raise DataFileError(f"{where}: must be a table")
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(raw) - set(names))
    missing = [n for n in names if n not in raw]
    if unknown or missing:
        raise DataFileError(f"{where}: " + "; ".join(filter(None, [unknown and f"unknown key(s) {unknown}", missing and f"missing key(s) {missing}"])))
    for n in names:
        v = raw[n]
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise DataFileError(f"{where}.{n}: must be a non-negative number, got {v!r}")
    return cls(**{n: float(raw[n]) for n in names})


@dataclass(frozen=True)
class RegionRules:
    weights: RegionWeights
    thresholds: RegionThresholds
    prior_province: str | None
    follow_reject: dict[str, tuple[str, ...]]  # first char -> words
    follow_reject_for: dict[str, tuple[str, ...]]  # surface -> extra reject words
    follow_except: tuple[str, ...]
    follow_accept: dict[str, tuple[str, ...]]
    left_reject: dict[str, str]
    national_capital: frozenset[str]
    breadcrumb_scope: dict[str, str]
    case_abbr: dict[str, str]
    party_marks: str  # 甘肃某公司 / 茌平某某公司: the place names an anonymised party, not the story's locality
    party_letters: str  # 海南甲公司 / 甘肃乙公司 (a letter, then one of party_after)
    party_after: tuple[str, ...]
    party_direct: tuple[str, ...]  # 上海公司: a company named by its home place alone
    party_first: frozenset[str]  # first characters of all the party forms (a fast pre-check)
    route_from: frozenset[str]  # 从 / 由: a route's start ([route])
    route_to: tuple[str, ...]  # 开往 / 驶向: a route's end
    national_same: dict[
        str, str
    ]  # national marker -> the organ it names (最高法 -> 最高人民法院): counted once  # lines with these (版权所有, Powered By) are site furniture


def _by_first_char(words: Iterable[str]) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for w in sorted(set(words), key=len, reverse=True):
        out.setdefault(w[0], []).append(w)
    return {k: tuple(v) for k, v in out.items()}


def _split(cell: str | None) -> tuple[str, ...]:
    return tuple(x for x in (cell or "").split("|") if x)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


class Gazetteer:
    """Divisions + outlets + countries + rules, with one automaton over every surface."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = Path(data_dir) if data_dir else DATA_DIR
        gdir = self.data_dir / GAZ_SUBDIR
        self._files = [
            gdir / "divisions.csv",
            gdir / "former_names.csv",
            gdir / "ethnic_groups.csv",
            gdir / "region_rules.toml",
            self.data_dir / "countries.csv",
            self.data_dir / "outlets.csv",
            self.data_dir / "agencies.toml",
        ]
        self.divisions: dict[str, Division] = {}
        for r in _read_csv(gdir / "divisions.csv"):
            self.divisions[r["code"]] = Division(
                code=r["code"],
                level=r["level"],
                name=r["name"],
                short_names=_split(r["short_names"]),
                context_names=_split(r["context_names"]),
                parent_code=r["parent_code"] or None,
                province_code=r["province_code"],
                prefecture_code=r["prefecture_code"] or None,
                pinyin=r["pinyin"],
                lng=float(r["lng"]) if r["lng"] else None,
                lat=float(r["lat"]) if r["lat"] else None,
            )
        with (gdir / "region_rules.toml").open("rb") as f:
            raw_rules: dict[str, Any] = tomllib.load(f)
        self.rules = self._parse_rules(raw_rules, str(gdir / "region_rules.toml"))
        self.countries: dict[str, Country] = {}
        self._entries: list[Entry] = []
        self._index: dict[str, Entry] = {}
        self._build_entries(gdir, raw_rules)
        self._ac = ahocorasick_rs.AhoCorasick(
            [e.surface for e in self._entries],
            matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
            implementation=ahocorasick_rs.Implementation.DFA,  # fastest scans on 2-5 KB bodies (bench_label_region)
        )
        self._max_surface = max(len(e.surface) for e in self._entries)
        # Per automaton pattern, what scan() asks of every hit, looked up once here instead of per
        # hit: (entry, filtered, per-name follow rejects, has_context, left-context reject chars).
        rules = self.rules
        self._scan_meta: list[tuple[Entry, bool, tuple[str, ...] | None, bool, str | None]] = [
            (e, e.filtered, rules.follow_reject_for.get(e.surface) or None, e.has_context, rules.left_reject.get(e.surface) or None) for e in self._entries
        ]
        self._load_outlets()
        self._pinyin = self._build_pinyin()
        self._last_text: str | None = None
        self._last_hits: list[Hit] = []
        self._last_footers: list[int] = []

    # ----- loading -------------------------------------------------------------------------

    @staticmethod
    def _parse_rules(raw: dict[str, Any], where: str = "region_rules.toml") -> RegionRules:
        follow = raw.get("follow", {})
        party = raw.get("party", {})
        return RegionRules(
            weights=_typed(RegionWeights, raw.get("weights"), f"{where} [weights]"),
            thresholds=_typed(RegionThresholds, raw.get("thresholds"), f"{where} [thresholds]"),
            prior_province=raw.get("prior", {}).get("province"),
            follow_reject=_by_first_char(follow.get("reject", [])),
            follow_reject_for={k: tuple(v) for k, v in follow.get("reject_for", {}).items()},
            follow_except=tuple(follow.get("except", [])),
            follow_accept=_by_first_char(follow.get("accept", [])),
            left_reject=dict(raw.get("left_reject", {})),
            national_capital=frozenset(raw.get("dateline", {}).get("national_capital", [])),
            breadcrumb_scope=dict(raw.get("breadcrumb_scope", {})),
            case_abbr=dict(raw.get("case_abbr", {})),
            party_marks=str(raw.get("party", {}).get("marks", "")),
            party_letters=str(raw.get("party", {}).get("letters", "")),
            party_after=tuple(raw.get("party", {}).get("after", [])),
            party_direct=tuple(raw.get("party", {}).get("direct", [])),
            party_first=frozenset(party.get("marks", "") + party.get("letters", "") + "".join(w[:1] for w in party.get("direct", []))),
            route_from=frozenset(raw.get("route", {}).get("from", [])),
            route_to=tuple(raw.get("route", {}).get("to", [])),
            national_same={a: canon for canon, aliases in raw.get("national", {}).get("same", {}).items() for a in aliases},
        )

    # _build_entries lists every source of surfaces in precedence order (divisions, former names,
    # hand-kept places, countries, national markers, blockers, footer markers): one list, read once.
    def _build_entries(self, gdir: Path, raw_rules: dict[str, Any]) -> None:
        places: dict[str, dict[str, Target]] = {}

        def add(surface: str, target: Target) -> None:
            if len(surface) < 2:
                return
            bucket = places.setdefault(surface, {})
            old = bucket.get(target.code)
            # Same code twice (name and former name): keep the stronger reading.
            if old is None or (old.context, old.alias) > (target.context, target.alias):
                bucket[target.code] = target

        for d in self.divisions.values():
            if d.level == "prefecture" and d.province_code in MUNICIPALITIES:
                continue  # 北京市 (110100, the 市辖区 group) is named like the city: the province row answers
            add(d.name, Target(d.code, d.name in d.context_names, False))
            for s in d.short_names:
                # 张家川县 / 临夏州 keep their level suffix and read like full names; 榆中 does not.
                add(s, Target(d.code, False, s[-1] not in _LEVEL_SUFFIX))
            for s in d.context_names:
                if s != d.name:
                    add(s, Target(d.code, True, True))
        for r in _read_csv(gdir / "former_names.csv"):
            if r["code"] in self.divisions:
                add(r["former_name"], Target(r["code"], False, False))
        # Hand-kept additions and demotions (region_rules.toml [places]); divisions.csv stays as built.
        extra = raw_rules.get("places", {})
        for s, code in extra.get("names", {}).items():
            if code in self.divisions:
                add(s, Target(code, False, False))
        for s, code in extra.get("context", {}).items():
            if code in self.divisions:
                add(s, Target(code, True, True))
        for s in extra.get("demote", []):
            # A short name that is mostly a common word (资源 in 国土资源): it counts only with support.
            bucket = places.get(s, {})
            for code in list(bucket):
                bucket[code] = Target(code, True, True)

        entries: dict[str, Entry] = {s: _entry(s, PLACE, tuple(sorted(b.values(), key=lambda t: t.code))) for s, b in places.items()}
        for r in _read_csv(self.data_dir / "countries.csv"):
            c = Country(r["iso2"], r["name"])
            self.countries[c.iso2] = c
            for s in (r["name"], *_split(r["aliases"])):
                if s not in entries:
                    entries[s] = _entry(s, COUNTRY, (Target(c.iso2, False, s != r["name"]),))
        nat = raw_rules.get("national", {})
        for key, markers in nat.items():  # each list of markers weighs its "<list>_weight"
            if not isinstance(markers, list):
                continue
            for s in markers:
                if s not in entries:
                    entries[s] = _entry(s, NATIONAL, (), float(nat.get(f"{key}_weight", 1.0)))
        blockers = list(raw_rules.get("blockers", {}).get("surfaces", []))
        # 卫生部门 / 公安部门 are local departments, not the ministries 卫生部 / 公安部 (national markers).
        blockers += [s + "门" for key in ("strong", "weak") for s in nat.get(key, []) if s.endswith("部")]
        blockers += [r["name"] for r in _read_csv(gdir / "ethnic_groups.csv")]
        for s in blockers:
            entries[s] = _entry(s, BLOCKER)  # explicit blockers override any other reading
        for s in raw_rules.get("footer", {}).get("markers", []):
            entries[s] = _entry(s, FOOTER)  # 版权所有 / Powered By: the line is site furniture
        self._entries = list(entries.values())
        self._index = entries

    def _load_outlets(self) -> None:
        self._outlets: dict[str, Outlet] = {}
        self._hosts: dict[str, Outlet] = {}
        self._host_memo: dict[str, Outlet | None] = {}
        for r in _read_csv(self.data_dir / "outlets.csv"):
            o = Outlet(r["outlet"], r["code"], r["level"])
            for s in (r["outlet"], *_split(r["aliases"])):
                self._outlets.setdefault(s, o)
            for h in _split(r["hosts"]):
                self._hosts[h.lower()] = o
        names = sorted(self._outlets)
        self._outlet_names = names
        self._outlet_by_index = [self._outlets[n] for n in names]
        self._outlet_ac = ahocorasick_rs.AhoCorasick(
            names, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest, implementation=ahocorasick_rs.Implementation.DFA
        )

    def _build_pinyin(self) -> dict[str, str]:
        # Provinces and prefectures whose joined pinyin is unique and long enough to mean something in a URL.
        seen: dict[str, list[str]] = {}
        for d in self.divisions.values():
            if d.level == "county" or not d.pinyin:
                continue
            if d.level == "prefecture" and d.province_code in MUNICIPALITIES:
                continue
            key = d.pinyin.replace(" ", "").lower()
            if len(key) >= 5:
                seen.setdefault(key, []).append(d.code)
        return {k: v[0] for k, v in seen.items() if len(v) == 1}

    # ----- queries -------------------------------------------------------------------------

    def data_files(self) -> list[Path]:
        """The data files this gazetteer (and the agency rules) were built from."""
        return list(self._files)

    def lookup(self, surface: str) -> Entry | None:
        return self._index.get(surface)

    def division(self, code: str | None) -> Division | None:
        return self.divisions.get(code) if code else None

    def scan(self, text: str, cache: bool = True) -> list[Hit]:
        """All non-overlapping, leftmost-longest hits in ``text`` (char offsets), after the
        follow/left-context filters. Blocker hits are kept so callers can see hidden spans."""
        if cache and text is self._last_text:
            return self._last_hits
        reject = self.rules.follow_reject
        accept = self.rules.follow_accept
        meta = self._scan_meta
        hits: list[Hit] = []
        footers: list[int] = []
        n = len(text)
        resume = 0
        for idx, s, e in self._ac.find_matches_as_indexes(text):
            if s < resume:
                continue  # inside a hit recovered after a per-name rejection
            entry, filtered, extra, has_context, left_chars = meta[idx]
            follow_ok = False
            if filtered:
                if e < n:
                    nxt = text[e]
                    if nxt in reject and self._follow_rejected(text, e):
                        continue
                    if extra and any(text.startswith(w, e) for w in extra):
                        # 从江|苏 is 从 + 江苏: the match hid a name starting one character later.
                        again = self._shifted_hit(text, s + 1)
                        if again is not None:
                            hits.append(again)
                            resume = again.end
                        continue
                    if has_context and nxt in accept:
                        follow_ok = any(text.startswith(w, e) for w in accept[nxt])
                if left_chars and s > 0 and text[s - 1] in left_chars:
                    continue
            elif entry.kind == FOOTER:
                footers.append(s)
                continue
            hits.append(_new_hit(Hit, (s, e, entry, follow_ok)))
        if cache:
            self._last_text, self._last_hits, self._last_footers = text, hits, footers
        return hits

    def footer_lines(self, text: str) -> list[tuple[int, int]]:
        """Lines of ``text`` holding a footer marker (版权所有, Powered By …): site furniture, whose
        places are no evidence. Uses the (cached) scan of ``text``."""
        if text is not self._last_text:
            self.scan(text)
        spans: list[tuple[int, int]] = []
        for i in self._last_footers:  # in text order: a marker on the line just found adds nothing
            if spans and i < spans[-1][1]:
                continue
            # the search back stops at the previous footer line's end (a newline), so it stays linear
            a = text.rfind("\n", spans[-1][1] if spans else 0, i) + 1
            b = text.find("\n", i)
            spans.append((a, len(text) if b < 0 else b))
        return spans

    def _shifted_hit(self, text: str, pos: int) -> Hit | None:
        """A hit starting exactly at ``pos`` (after the match covering it was rejected), filtered
        like any other; None if there is none. Rare, so it may be slow."""
        window = text[pos : pos + self._max_surface]
        for idx, s, e in self._ac.find_matches_as_indexes(window):
            if s != 0:
                return None
            entry = self._entries[idx]
            end = pos + e
            follow_ok = False
            if entry.filtered:
                if end < len(text):
                    if text[end] in self.rules.follow_reject and self._follow_rejected(text, end):
                        return None
                    extra = self.rules.follow_reject_for.get(entry.surface)
                    if extra and any(text.startswith(w, end) for w in extra):
                        return None
                    accept = self.rules.follow_accept.get(text[end])
                    if entry.has_context and accept:
                        follow_ok = any(text.startswith(w, end) for w in accept)
                if entry.surface in self.rules.left_reject and text[pos - 1] in self.rules.left_reject[entry.surface]:
                    return None
            return _new_hit(Hit, (pos, end, entry, follow_ok))
        return None

    def _follow_rejected(self, text: str, pos: int) -> bool:
        words = self.rules.follow_reject.get(text[pos])
        if not words:
            return False
        for w in words:
            if text.startswith(w, pos):
                return not any(text.startswith(x, pos) for x in self.rules.follow_except)
        return False

    def outlet(self, name: str | None) -> Outlet | None:
        """Outlet by exact name or alias, else the first known outlet named inside ``name``."""
        if not name:
            return None
        name = name.strip()
        hit = self._outlets.get(name)
        if hit is not None:
            return hit
        found = self._outlet_ac.find_matches_as_indexes(name)
        return self._outlets[self._outlet_names[found[0][0]]] if found else None

    def find_outlets(self, text: str) -> list[tuple[int, int, Outlet]]:
        by_index = self._outlet_by_index
        return [(s, e, by_index[i]) for i, s, e in self._outlet_ac.find_matches_as_indexes(text)]

    def outlet_for_host(self, host: str) -> Outlet | None:
        # A corpus has few distinct hosts: remember the answer per host (bounded, and a pure function).
        try:
            return self._host_memo[host]
        except KeyError:
            pass
        if len(self._host_memo) > 50_000:
            self._host_memo.clear()
        hit = self._host_memo[host] = self._outlet_for_host(host)
        return hit

    def _outlet_for_host(self, host: str) -> Outlet | None:
        host = host.lower().removeprefix("www.").removeprefix("m.")
        parts = host.split(".")
        for i in range(len(parts) - 1):
            hit = self._hosts.get(".".join(parts[i:]))
            if hit is not None:
                return hit
        return None

    def pinyin_codes(self, url: str) -> list[tuple[str, str]]:
        """(token, code) for URL tokens that spell a province/prefecture name in pinyin (gansu, lanzhou)."""
        out = []
        for tok in _URL_TOKEN.findall(url.lower()):
            code = self._pinyin.get(tok)
            if code is not None:
                out.append((tok, code))
        return out


@functools.lru_cache(maxsize=4)
def _load(data_dir: str) -> Gazetteer:
    return Gazetteer(Path(data_dir))


def load_gazetteer(data_dir: str | Path | None = None) -> Gazetteer:
    """The gazetteer for ``data_dir`` (default ``pipelines/data``), built once per process."""
    return _load(str(Path(data_dir).resolve() if data_dir else DATA_DIR))


def data_files(data_dir: str | Path | None = None) -> list[Path]:
    """Data files behind region and agency labels; hash them to detect label-affecting changes."""
    return load_gazetteer(data_dir).data_files()
