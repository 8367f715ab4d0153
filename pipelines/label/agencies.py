"""Agency (organ) mentions in an article body, canonicalised: 兰州中院 -> 兰州市中级人民法院.

Candidates come from one Aho-Corasick automaton over the organ patterns of ``data/agencies.toml``
(plus their level-prefixed forms 省高院 / 市中院 / 县委). Each candidate is then resolved by a small
deterministic step: bind it to the place name right before it (from the gazetteer scan of the same
body), else read a level character (省/市/县) or an unbound surface against the article's region
label, then fill the canonical-name template. Mentions inside 《…》 (cited documents such as
《最高人民法院关于…》) are not counted.
"""

from __future__ import annotations

import re
import tomllib
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ahocorasick_rs

from pipelines.label.gazetteer import COUNTRY, MUNICIPALITIES, NATIONAL_CODE, PLACE, Division, Hit, follows_foreign_guo
from pipelines.label.spans import BookTitles

if TYPE_CHECKING:
    from pipelines.label.gazetteer import Gazetteer

_MEMO_MAX = 200_000  # entries of AgencyRules.memo before it starts over (bounded memory)
_MAX_SHORT_FORMS = 64  # （以下简称…） forms remembered per article: every later match tries each of them
LEVEL_RANK = {"province": 0, "prefecture": 1, "county": 2}
_ABBR = re.compile(r"[（(]\s*(?:以下)?简称[：:“\"]?([\u4e00-\u9fff]{2,10})[”\"]?\s*[）)]")
# Characters that end the free-text prefix of a 派出所 name (民警在城关派出所 -> 城关); the prefix only
# counts when such a character (or punctuation) ends it within a few characters (not 迅速指令派出所).
_PREFIX_STOP = set("的在和与及到向由经被将了是等对从为把给往于即今后前请让称其该原任至赶去回进入来找送押带令报附、，。；：,.;:!?！？（）()《》“”\"' \n\t")
_NUMERALS = frozenset("0123456789〇零一二三四五六七八九十")  # before a one-character short form: a date (16日外交部)


@dataclass(frozen=True, slots=True)
class NameRule:
    level: str
    template: str


@dataclass(frozen=True, slots=True)
class Organ:
    id: str
    type: str
    names: dict[str, NameRule]
    jurisdiction: str | None = None
    unbound: bool = False
    canon: Mapping[str, str] | None = None
    parent: str | None = None
    parent_required: bool = False
    sub_unit: bool = False
    reject_after: tuple[str, ...] = ()
    city_of_municipality: bool = False  # 北京金融法院 is the city's court (110100), not the province's
    county_only: bool = False  # a sub-unit that needs a county-level jurisdiction (镇人民政府)
    prefix_named: bool = False  # named after an area the gazetteer lacks (祁连山林区法院)
    fields: tuple[str, ...] = ()  # 卫生 of 县卫生部门 and of 徐闻县公安、卫生等部门


@dataclass(frozen=True, slots=True)
class NationalOrgan:
    name: str
    type: str
    level: str


@dataclass(frozen=True, slots=True)
class Pattern:
    surface: str
    organ: Organ | None = None
    level_char: str | None = None  # the 省 of 省高院
    core: str = ""  # surface without the level character
    national: NationalOrgan | None = None


@dataclass(frozen=True, slots=True)
class _Mention:
    name: str
    type: str
    level: str
    region_code: str | None
    surface: str
    offset: int
    end: int


class AgencyRules:
    """Parsed ``agencies.toml`` with its automaton."""

    def __init__(
        self,
        patterns: list[Pattern],
        level_chars: dict[str, str],
        bare_reject: str,
        path: Path,
        issuer_follow: tuple[str, ...] = (),
        foreign_shorts: str = "",
    ) -> None:
        self.patterns = patterns
        self.issuer_follow = issuer_follow  # what follows an organ cited as a document's issuer
        self.foreign_shorts = frozenset(foreign_shorts)  # one-character country names before a national organ
        # field name (卫生) -> the organ a department of that field folds into, longest names first
        fields = {f: p.organ for p in patterns if p.organ is not None for f in p.organ.fields}
        self.fields: list[tuple[str, Organ]] = sorted(fields.items(), key=lambda kv: -len(kv[0]))
        self.level_chars = level_chars
        self.bare_reject = frozenset(bare_reject)
        self.path = path
        # (id(organ), code, place, surface) -> (division at the organ's level, (name, level)); the
        # organs are kept alive by ``patterns``, so their ids stay theirs.
        self.memo: dict[tuple[int, str, str, str], tuple[Division | None, tuple[str, str] | None]] = {}
        self.ac = ahocorasick_rs.AhoCorasick(
            [p.surface for p in patterns],
            matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
            implementation=ahocorasick_rs.Implementation.DFA,
        )

    @classmethod
    def load(cls, path: Path) -> AgencyRules:
        with path.open("rb") as f:
            raw: dict[str, Any] = tomllib.load(f)
        level_chars: dict[str, str] = dict(raw.get("level_chars", {}))
        by_surface: dict[str, Pattern] = {}
        for o in raw.get("organ", []):
            names = {k: NameRule(v["level"], v["name"]) for k, v in o.get("names", {}).items()}
            organ = Organ(
                id=o["id"],
                type=o["type"],
                names=names,
                jurisdiction=o.get("jurisdiction"),
                unbound=bool(o.get("unbound", False)),
                canon=o.get("canon"),
                parent=o.get("parent"),
                parent_required=bool(o.get("parent_required", False)),
                sub_unit=bool(o.get("sub_unit", False)),
                reject_after=tuple(o.get("reject_after", ())),
                city_of_municipality=bool(o.get("city_of_municipality", False)),
                county_only=bool(o.get("county_only", False)),
                prefix_named=bool(o.get("prefix_named", False)),
                fields=tuple(o.get("fields", ())),
            )
            # a field names its department: 卫生 -> 卫生部门 (after a place or a level character)
            for s in [*o.get("surfaces", ()), *(f + "部门" for f in organ.fields)]:
                if not o.get("bare_only"):
                    by_surface.setdefault(s, Pattern(s, organ, None, s))
                for ch in o.get("bare", ()):
                    by_surface.setdefault(ch + s, Pattern(ch + s, organ, ch, s))
        for n in raw.get("national", []):
            nat = NationalOrgan(n["name"], n["type"], n["level"])
            for s in n["surfaces"]:
                by_surface[s] = Pattern(s, None, None, s, nat)
        for s in raw.get("blockers", {}).get("surfaces", []):
            by_surface[s] = Pattern(s)  # no organ, no national: a blocker
        issuer = tuple(str(x) for x in raw.get("issuer", {}).get("followed_by", ()))
        shorts = str(raw.get("foreign", {}).get("short_forms", ""))
        return cls(list(by_surface.values()), level_chars, str(raw.get("bare_reject_before", "")), path, issuer, shorts)


@lru_cache(maxsize=4)
def _rules_at(path: str) -> AgencyRules:
    return AgencyRules.load(Path(path))


def agency_rules(gaz: Gazetteer) -> AgencyRules:
    """The agency rules beside ``gaz``'s data files (``agencies.toml``), parsed once per process."""
    return _rules_at(str(gaz.data_dir / "agencies.toml"))


class _Resolver:
    """Per-article state: the body, its place hits and the article's region codes."""

    def __init__(self, body: str, region: Mapping[str, Any] | None, gaz: Gazetteer) -> None:
        region = region or {}
        self.body = body
        self.gaz = gaz
        self.divs = gaz.divisions
        self.province = region.get("province_code") or None
        self.prefecture = region.get("prefecture_code") or None
        self.county = region.get("county_code") or None
        self.hits = hits = gaz.scan(body)  # the region stage's scan of the same body (cached)
        self.place_end: dict[int, Hit] = {h.end: h for h in hits if h.entry.kind == PLACE}
        self._blocked: list[tuple[int, int]] | None = None
        self._country_ends: set[int] | None = None
        self.books = BookTitles(body)

    # ----- places --------------------------------------------------------------------------

    def chain(self, hit: Hit) -> list[Hit]:
        """Places written right before ``hit`` (甘肃省兰州市|城关区), innermost first."""
        out = [hit]
        while len(out) < 4:
            prev = self.place_end.get(out[-1].start)
            if prev is None:
                break
            out.append(prev)
        return out

    def pick(self, chain: list[Hit]) -> str | None:
        """Code of the innermost place, disambiguated by the outer places, then by the article region."""
        targets = [t.code for t in chain[0].entry.targets]
        if len(targets) == 1:
            return targets[0]
        outer = {t.code for h in chain[1:] for t in h.entry.targets}
        for code in targets:
            d = self.divs[code]
            if d.province_code in outer or (d.prefecture_code and d.prefecture_code in outer):
                return code
        for ref in (self.county, self.prefecture, self.province):
            if ref is None:
                continue
            for code in targets:
                d = self.divs[code]
                if ref in (d.code, d.prefecture_code, d.province_code):
                    return code
        return None

    def article_code(self, level: str, level_char: str | None) -> str | None:
        if level == "province":
            return self.province
        if level == "prefecture":
            if level_char == "市" and self.county and self.divs[self.county].name.endswith("市"):
                return self.county  # 市委 in a 玉门市 story is 玉门市委
            if self.prefecture:
                return self.prefecture
            return self.province if self.province in MUNICIPALITIES else None
        return self.county

    def most_specific(self) -> str | None:
        return self.county or self.prefecture or self.province

    # ----- naming --------------------------------------------------------------------------

    def at_level(self, code: str, organ: Organ) -> Division | None:
        """The division at the organ's jurisdiction level (中院 of 城关区 -> 兰州市)."""
        d = self.divs.get(code)
        if d is None:
            return None
        want = organ.jurisdiction
        if want is None or want == d.level:
            pass
        elif want == "prefecture" and d.level == "county" and not d.prefecture_code:
            pass  # 石河子市 / 济源市 sit directly under their province: their 中级人民法院 is theirs
        elif LEVEL_RANK[want] < LEVEL_RANK[d.level]:
            up = d.province_code if want == "province" else d.prefecture_code
            d = self.divs.get(up) if up else None
        elif d.code in MUNICIPALITIES and want == "prefecture":
            d = self.divs.get(d.code[:2] + "0100")
        else:
            return None
        if d is None:
            return None
        if organ.city_of_municipality and d.code in MUNICIPALITIES:
            return self.divs.get(d.code[:2] + "0100")  # 北京知识产权法院, 上海海事法院: the city's court
        # 北京市委 / 北京市公安局 are provincial organs: lift municipality groups to the city itself.
        if d.level == "prefecture" and d.province_code in MUNICIPALITIES and organ.jurisdiction != "prefecture" and not organ.city_of_municipality:
            d = self.divs[d.province_code]
        return d

    def region_name(self, d: Division) -> str:
        if d.level != "county" or not d.prefecture_code or not d.name.endswith("区"):
            return d.name
        pref = self.divs[d.prefecture_code]
        # 兰州新区 already carries the city; 白银区 does not (白银市白银区).
        for short in pref.short_names + pref.context_names:
            if d.name.startswith(short) and len(d.name) > len(short) + 1:
                return d.name
        return pref.name + d.name

    def name(self, organ: Organ, d: Division, place: str, surface: str, parent: str = "", prefix: str = "") -> tuple[str, str] | None:
        key = d.level
        is_district = d.level == "county" and d.prefecture_code is not None and d.name.endswith("区")
        rule = (organ.names.get("district") if is_district else None) or organ.names.get(key) or organ.names.get("any")
        if rule is None and organ.jurisdiction == "prefecture" and d.level == "county" and not d.prefecture_code:
            rule = organ.names.get("prefecture")  # 石河子市中级人民法院: a county-level city directly under Xinjiang
        if rule is None:
            return None
        pref = self.divs.get(d.prefecture_code) if d.prefecture_code else None
        # 城关区 -> 城关, 浦东新区 -> 浦东 (its short name) for 兰州市公安局城关分局-style names.
        stem = next((a for a in d.short_names + d.context_names if len(a) >= 2 and d.name.startswith(a)), None)
        stem = stem or (d.name[:-1] if d.name[-1] in "区县市旗" else d.name)
        canon = (organ.canon or {}).get(surface, surface)
        text = rule.template.format(
            region=self.region_name(d),
            prefecture=pref.name if pref else "",
            county_stem=stem,
            place=place,
            surface=surface,
            canon=canon,
            parent=parent,
            prefix=prefix,
        )
        return text, rule.level

    # ----- helpers -------------------------------------------------------------------------

    def after_country(self, pos: int) -> bool:
        """A country's name (countries.csv, from the gazetteer scan) ends at ``pos``."""
        ends = self._country_ends
        if ends is None:  # built on first use: few articles name a national organ
            ends = self._country_ends = {h.end for h in self.hits if h.entry.kind == COUNTRY}
        return pos in ends

    def in_book_title(self, pos: int) -> bool:
        return self.books.inside(pos)

    def overlaps_blocker(self, s: int, e: int) -> bool:
        blocked = self._blocked
        if blocked is None:  # built on first use: most articles never ask
            blocked = self._blocked = [(h.start, h.end) for h in self.hits if h.entry.kind != PLACE]
        # blockers do not overlap each other (one leftmost-longest scan) and come in text order, so
        # the only candidate is the last one starting before e
        k = bisect_left(blocked, (e,)) - 1
        if k < 0 or s >= blocked[k][1]:
            return False
        # a blocker inside the match is part of a longer reading (区|卫生部门 holds the blocker 卫生部门,
        # which only says it is not the ministry 卫生部); one that reaches outside it blocks (社区委员会)
        return not (s <= blocked[k][0] and blocked[k][1] <= e)

    def placed_prefix(self, s: int, limit: int = 4) -> tuple[Hit, str] | None:
        """A place written a few characters before ``s`` and the free text between them:
        甘肃省民乐县|某|派出所, 黄岩区|北洋镇|派出所, 岷县|茶埠|镇人民政府."""
        for k in range(limit + 1):
            h = self.place_end.get(s - k)
            if h is not None:
                gap = self.body[s - k : s]
                if all("\u4e00" <= c <= "\u9fff" and (c not in _PREFIX_STOP or c == "和") for c in gap):  # 和平镇
                    return h, gap
                return None
        return None

    def free_prefix(self, s: int, limit: int = 5) -> str:
        """Town/street name before 派出所: CJK characters back to a stop character, else ''."""
        i = s
        while i > 0:
            ch = self.body[i - 1]
            if ch in _PREFIX_STOP or not ("\u4e00" <= ch <= "\u9fff"):
                return self.body[i:s]
            if s - i >= limit:
                return ""
            i -= 1
        return self.body[i:s]


def find_agencies(article: Mapping[str, Any], region: Mapping[str, Any] | None, gaz: Gazetteer) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Agencies named in ``article['body']``.

    Returns ``(agencies, mentions)``: ``agencies`` is the value of the ``agencies`` column (one struct
    per canonical agency: name, type, level, region_code, mentions = distinct surfaces in order) and
    ``mentions`` the rows of the ``agency_mentions`` table without ``article_id`` (name, type, level,
    region_code, surface, offset). ``region`` is the dict returned by ``resolve_region``.
    """
    agencies, mentions = find_mentions(article.get("body") or "", region, gaz)
    return agencies, [dict(zip(MENTION_FIELDS, m, strict=True)) for m in mentions]


MENTION_FIELDS = ("name", "type", "level", "region_code", "surface", "offset")


def find_mentions(body: str, region: Mapping[str, Any] | None, gaz: Gazetteer) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """``find_agencies`` for a body, with the mentions as tuples in ``MENTION_FIELDS`` order (what
    the label stage turns into columns, without building a dict per mention)."""
    if not body:
        return [], []
    rules = agency_rules(gaz)
    matches = rules.ac.find_matches_as_indexes(body)
    has_department_list = bool(rules.fields) and "部门" in body  # 徐闻县公安、卫生等部门 holds no organ pattern
    if not matches and not has_department_list:
        return [], []
    r = _Resolver(body, region, gaz)
    out: list[_Mention] = []
    # 新疆生产建设兵团第四师中级人民法院（以下简称四师中院）: the short form defined right after an organ
    # is that organ, wherever it recurs (not the article's own 中院).
    defs = _abbreviations(body)
    def_starts = [d[0] for d in defs]
    short: dict[str, _Mention] = {}
    patterns = rules.patterns
    issuer_follow = rules.issuer_follow
    for idx, s, e in matches:
        pat = patterns[idx]
        if pat.organ is None and pat.national is None:
            continue  # blocker
        if r.in_book_title(s) or (issuer_follow and body.startswith(issuer_follow, e)):
            continue  # inside a cited title, or the issuer of the document cited next
        if defs:
            k = bisect_right(def_starts, s) - 1  # definitions do not overlap: only the last one before s can hold it
            d = defs[k] if k >= 0 and s < defs[k][1] else None
            if d is not None:
                if out and 0 <= d[0] - out[-1].end <= 1 and (d[2] in short or len(short) < _MAX_SHORT_FORMS):
                    short[d[2]] = out[-1]
                continue  # the definition itself is no new mention
            ab = next((a for a in short if len(a) >= e - s and body.startswith(a, e - len(a))), None)
            if ab is not None:
                m0 = short[ab]
                out.append(_Mention(m0.name, m0.type, m0.level, m0.region_code, ab, e - len(ab), e))
                continue
        if pat.national is not None:
            if s > 1 and follows_foreign_guo(body, s):
                continue  # 美国最高法院, 美国司法部, 该国国务院: another country's organ
            if s and (r.after_country(s) or (body[s - 1] in rules.foreign_shorts and not (s > 1 and body[s - 2] in _NUMERALS))):
                continue  # 叙利亚外交部, 叙外交部 (not 16日外交部): another country's organ
            n = pat.national
            out.append(_Mention(n.name, n.type, n.level, NATIONAL_CODE, pat.surface, s, e))
            continue
        m = _resolve(pat, s, e, r, rules, out)
        if m is not None:
            out.append(m)
    if has_department_list:
        listed = _department_lists(body, r, rules)
        if listed:
            out = sorted(out + listed, key=lambda m: m.offset)
    return _group(out), [(m.name, m.type, m.level, m.region_code, m.surface, m.offset) for m in out]


_LIST_ENDS = ("等部门", "等有关部门", "等相关部门")
_MAX_LISTED = 10


def _department_lists(body: str, r: _Resolver, rules: AgencyRules) -> list[_Mention]:
    """Departments named by their fields in a list after a place: 徐闻县公安、卫生等部门 is 徐闻县's public
    security bureau and (its health bureau folded into) its government; 市公安、安监、卫生等部门 the
    article's own city's. Every item must be a field of ``agencies.toml`` and the first must follow a
    place or a level character (当地公安、消防等部门 and 组织卫生、消防等部门 name no place: no organ).
    Each list is read back from its 等部门 over at most ``_MAX_LISTED`` items: linear in the body."""
    out: list[_Mention] = []
    k = body.find("部门")
    while k >= 0:
        end = next((k + 2 - len(w) for w in _LIST_ENDS if body.startswith(w, k + 2 - len(w))), -1)
        if end >= 0:
            out.extend(_read_list(body, end, r, rules))
        k = body.find("部门", k + 2)
    return out


def _read_list(body: str, end: int, r: _Resolver, rules: AgencyRules) -> list[_Mention]:
    """The mentions of the field list ending at ``end`` (where its 等 stands), first item first."""
    items: list[tuple[int, str, Organ]] = []
    pos = end
    while len(items) < _MAX_LISTED:
        got = next(((f, o) for f, o in rules.fields if body.startswith(f, pos - len(f))), None)
        if got is None:
            break
        pos -= len(got[0])
        items.append((pos, *got))
        if pos == 0 or body[pos - 1] != "、":
            break
        pos -= 1
    if not items:
        return []
    items.reverse()
    s0, field0, organ0 = items[0]
    if s0 in r.place_end:  # 徐闻县|公安、…
        first = _resolve(Pattern(field0, organ0, None, field0), s0, s0 + len(field0), r, rules, [])
    elif s0 > 0 and body[s0 - 1] in rules.level_chars:  # 市|公安、…
        pat = Pattern(body[s0 - 1] + field0, organ0, body[s0 - 1], field0)
        first = _resolve(pat, s0 - 1, s0 + len(field0), r, rules, [])
    else:
        return []
    if first is None or first.region_code is None:
        return []
    out = [first]
    for s, field, organ in items[1:]:
        d = r.at_level(first.region_code, organ)
        named = r.name(organ, d, "", field) if d is not None else None
        if d is not None and named is not None:
            out.append(_Mention(named[0], organ.type, named[1], d.code, field, s, s + len(field)))
    return out


def _abbreviations(body: str) -> list[tuple[int, int, str]]:
    """(start, end, short form) of each （以下简称…） in ``body``.

    Every match holds 简称 after only [（(], whitespace and 以下, so the search starts just before
    the first 简称 instead of testing the bracket class at every character of the body."""
    k = body.find("简称")
    if k < 0:
        return []
    while k > 0 and (body[k - 1] in "以下" or body[k - 1].isspace()):  # what \s and 以下 may cover
        k -= 1
    return [(m.start(), m.end(), m.group(1)) for m in _ABBR.finditer(body, max(k - 1, 0))]


def _far_from_story(hit: Hit, r: _Resolver) -> bool:
    """The place ``hit`` is outside the prefecture of a story whose region is a county."""
    if r.county is None:
        return False
    story = r.divs[r.county].prefecture_code
    return all(r.divs[t.code].prefecture_code != story for t in hit.entry.targets if t.code in r.divs)


# _resolve runs for every organ match: the place before it, a parent organ, a level character, in
# that order of precedence; kept as one function so the order reads in one place (the sub-unit and
# naming steps are split out).
def _resolve(pat: Pattern, s: int, e: int, r: _Resolver, rules: AgencyRules, out: list[_Mention]) -> _Mention | None:
    organ = pat.organ
    assert organ is not None
    body = r.body
    if organ.reject_after and any(body.startswith(w, e) for w in organ.reject_after):
        return None
    # 1. A place written right before the organ; a level-prefixed pattern may share its last
    #    character with the place (兰州市|市中院, 榆中县|县委).
    hit: Hit | None = None
    core_start = s
    if pat.level_char is not None:
        h = r.place_end.get(s + 1)
        if h is not None and h.start <= s and h.entry.surface.endswith(pat.level_char):
            hit, core_start = h, s + 1
    if hit is None:
        h = r.place_end.get(s)
        if h is not None:
            hit = h
    start = hit.start if hit is not None else s
    # 2. A parent organ right before (兰州市公安局|城关分局, 漳县公安局|城关|派出所).
    parent: _Mention | None = None
    prefix = ""
    if organ.parent and out and out[-1].type == organ.parent:
        prev = out[-1]
        gap = body[prev.end : start]
        if gap == "" or (organ.sub_unit and 0 < len(gap) <= 6 and all("\u4e00" <= c <= "\u9fff" for c in gap)):
            parent, prefix = prev, gap
    if organ.parent_required and parent is None:
        return None

    if organ.sub_unit:
        return _resolve_sub_unit(pat, s, e, r, out, parent, prefix, start)

    if hit is not None:
        chain = r.chain(hit)
        start = chain[-1].start  # the surface includes the outer places (北京市海淀区人民法院)
        code = _pick_under(hit, parent.region_code, r) if parent is not None else None
        code = code or r.pick(chain)
        if code is None:
            return None
        place = body[hit.start : core_start]
        surface_core = body[core_start:e]
    elif parent is not None:
        code, place, surface_core = parent.region_code, "", body[s:e]
    elif organ.prefix_named:
        # 甘肃省祁连山林区法院 / 祁连山林区人民检察院: an area the gazetteer lacks. The organ sits in the
        # article's prefecture (or province), unless a place written before it says otherwise.
        placed = r.placed_prefix(s)
        outer = None
        if placed is not None and placed[1]:
            chain = r.chain(placed[0])
            outer, start = r.pick(chain), chain[-1].start
        else:
            prefix = r.free_prefix(s)
            if len(prefix) < 2:
                return None
            start = s - len(prefix)
        code = r.prefecture or r.province
        if outer is not None and (code is None or r.divs[code].province_code != r.divs[outer].province_code):
            code = outer
        place, surface_core = body[start:s], pat.core
    else:
        # 3. No place: a level character (省高院) or an unbound surface (政法委) names the article's own organ.
        if s > 0 and body[s - 1] in rules.bare_reject:
            return None
        if r.overlaps_blocker(s, e):
            return None
        if pat.level_char is not None:
            code = _same_level_as_previous(pat.level_char, s, r, out) or r.article_code(rules.level_chars[pat.level_char], pat.level_char)
        elif organ.unbound:
            code = r.article_code(organ.jurisdiction, None) if organ.jurisdiction else r.most_specific()
        else:
            return None
        place, surface_core = "", pat.core
    if code is None:
        return None
    # at_level and name depend only on the gazetteer and their arguments: remember them per process
    # (the same few organs of the same few places recur in article after article).
    cache = rules.memo
    key = (id(organ), code, place, surface_core)
    got = cache.get(key)
    if got is None:
        if len(cache) > _MEMO_MAX:
            cache.clear()
        d = r.at_level(code, organ)
        got = cache[key] = (d, r.name(organ, d, place, surface_core) if d is not None else None)
    d, named = got
    if d is None:
        return None
    if named is None:
        return None
    if parent is not None:
        out.pop()
        start = parent.offset
    name, level = named
    return _Mention(name, organ.type, level, d.code, body[start:e], start, e)


def _resolve_sub_unit(pat: Pattern, s: int, e: int, r: _Resolver, out: list[_Mention], parent: _Mention | None, prefix: str, start: int) -> _Mention | None:
    """A unit named by its own place under a county (派出所, 镇人民政府, 街道办事处): its county from the
    place written before it, its parent organ, or the story's region."""
    organ = pat.organ
    assert organ is not None
    body = r.body
    d: Division | None = None
    if parent is None:
        placed = r.placed_prefix(s, 3 if organ.county_only else 4)  # a town's name: 茶埠, 北洋镇
        if placed is not None and organ.county_only and placed[1] and _far_from_story(placed[0], r):
            placed = None  # 合阳城街道办 in a 合川 story: a town named like a far county is the story's own town
        if placed is not None and (placed[1] or organ.county_only):
            # 民乐县某派出所 / 岷县茶埠镇人民政府: the place names the unit's county
            h, prefix = placed
            chain = r.chain(h)
            code = r.pick(chain)
            d = r.at_level(code, organ) if code else None
            parent_name = body[h.start : h.end]
            start = chain[-1].start
        else:
            prefix = r.free_prefix(s)
            if len(prefix) < 2:
                return None
            if organ.county_only and len(prefix) > 3:
                prefix = prefix[-2:]  # 联合安海|镇政府: a town's name is short
            start = s - len(prefix)  # the evidence includes the town's name
            code = r.most_specific()
            d = r.divs.get(code) if code else None
            parent_name = ""
    else:
        code = parent.region_code
        d = r.divs.get(code) if code else None
        parent_name = parent.name
    if organ.county_only:
        if d is None or d.level != "county":
            return None
        parent_name = parent_name or r.region_name(d)
    rule = organ.names.get("any")
    if rule is None:
        return None
    name = rule.template.format(parent=parent_name, prefix=prefix, surface=pat.surface)
    if parent is not None:
        out.pop()
        start = parent.offset
    return _Mention(name, organ.type, rule.level, d.code if d else None, body[start:e], start, e)


def _same_level_as_previous(level_char: str, s: int, r: _Resolver, out: list[_Mention]) -> str | None:
    """云阳县委县政府 / 北京市委、市政府: a bare 县政府 right after an organ of the same place takes its code."""
    if not out:
        return None
    prev = out[-1]
    gap = r.body[prev.end : s]
    if len(gap) > 1 or (gap and gap not in "、和与及") or not prev.region_code or level_char not in prev.surface:
        return None
    return prev.region_code


def _pick_under(hit: Hit, parent_code: str | None, r: _Resolver) -> str | None:
    if not parent_code:
        return None
    for t in hit.entry.targets:
        d = r.divs[t.code]
        if parent_code in (d.prefecture_code, d.province_code):
            return t.code
    return None


def _group(mentions: list[_Mention]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str, str, str | None], dict[str, Any]] = {}
    surfaces: dict[tuple[str, str, str, str | None], dict[str, None]] = {}  # distinct surfaces in order (a set test per mention)
    for m in mentions:
        key = (m.name, m.type, m.level, m.region_code)
        g = groups.get(key)
        if g is None:
            groups[key] = {"name": m.name, "type": m.type, "level": m.level, "region_code": m.region_code, "mentions": []}
            surfaces[key] = {m.surface: None}
        else:
            surfaces[key].setdefault(m.surface)
    for key, g in groups.items():
        g["mentions"] = list(surfaces[key])
    return list(groups.values())
