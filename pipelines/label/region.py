"""Region label of an article: scope, province / prefecture / county, confidence and evidence.

Signals, strongest first (weights in ``data/gazetteer/region_rules.toml``): breadcrumb, dateline
(本报兰州讯, 新华社兰州8月9日电, 【本报讯】 = the outlet's region), title mentions, outlet home region
(``data/outlets.csv``), court case numbers （2020）甘0503民初…, body mentions, URL. Every place
observation supports its code and all ancestors; the answer is read top-down: the best province,
then a prefecture only if it holds enough of that province's evidence, then a county likewise.

Traps handled by the gazetteer scan (longest match, blockers, follow/left context): 昆士兰州,
兰州军区, 兰州路 (a street elsewhere), 白银价格/白银期货 (silver), 9日本报讯 (not Japan).
Context-only names (白银, 城关, 安宁 …) count only when followed by an admin/organ word (白银市委,
城关法院) or when their province already has other evidence. Same-named places (城关区 in Lanzhou
and Lhasa) are decided by the rest of the article's evidence.

Weaker than they look (region_rules.toml): places naming an anonymised party in court digests
(甘肃某公司, 海南甲公司, 上海公司), items of an enumeration of different places (江苏南京、湖北武汉、…),
places on a footer line (Powered By 上海新闻网 … 版权所有), the outlet's / URL's home for the city.
Scope: a long text whose only evidence is its outlet is not local; a lone passing mention outside the
lead is not a locality; a headline place beats national organs cited in the body; with no usable
place, fewer national markers make a national story; foreign needs one country to dominate (or no
rival at all), and Chinese places named only in a dateline (中新网上海电 据外媒报道…) do not hold a
foreign story at home.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from pipelines.label.gazetteer import (
    COUNTRY,
    MUNICIPALITIES,
    NATIONAL,
    NATIONAL_CODE,
    PLACE,
    Gazetteer,
    RegionWeights,
    Target,
    follows_foreign_guo,
)
from pipelines.label.spans import BookTitles, footer_test
from pipelines.schema import REGION_COLUMNS

_LOCAL_DATELINE = re.compile(r"本(?:报|刊|台|网)(?:记者)?([\u4e00-\u9fff]{0,8}?)\s*(?:\d{1,2}月\s*\d{1,2}日)?\s*(?:电|讯)")
_SENT_FROM = re.compile(r"发自([\u4e00-\u9fff]{2,8})")  # 本报记者陈某 发自上海 / 特派记者发自东京
_AFTER_OUTLET = re.compile(r"(?:记者)?\s*([\u4e00-\u9fff]{0,10}?)\s*(?:\d{1,2}月\s*\d{1,2}日)?\s*(?:电|讯)")
# Two patterns with a literal first character: re searches those ~5x faster than a [（(] class.
_CASE_TAIL = r"\s*(?:19|20)\d{2}\s*[）)]\s*([\u4e00-\u9fff])\s*(\d{2})\s*(\d{2})?"
_CASE_NO = (("（", re.compile("（" + _CASE_TAIL)), ("(", re.compile(r"\(" + _CASE_TAIL)))
_LEAD = 120

LABEL_KEYS = REGION_COLUMNS  # the keys resolve_region returns: the schema's region columns


class Evidence(NamedTuple):
    """One piece of evidence for a scope: what signal, which words, the code they point to, where, how much."""

    signal: str  # breadcrumb | outlet | dateline | title | body | url
    surface: str
    code: str | None  # GB/T 2260 code, 000000 for national markers, ISO 3166 alpha-2 for countries
    offset: int | None  # body offset, or None outside the body
    weight: float


@dataclass(slots=True)
class _Obs:
    signal: str
    surface: str
    targets: tuple[Target, ...]
    offset: int | None
    weight: float
    strong: bool = False  # structural signal (breadcrumb/outlet/dateline/url): context names count
    follow_ok: bool = False


class _Tally:
    """Evidence totals per province / prefecture / county and who contributed them."""

    def __init__(self, gaz: Gazetteer) -> None:
        self.divs = gaz.divisions
        self.province_scores: dict[str, float] = defaultdict(float)
        self.prefecture_scores: dict[str, float] = defaultdict(float)
        self.county_scores: dict[str, float] = defaultdict(float)
        self.contrib: list[tuple[_Obs, str, float]] = []
        self.content: set[str] = set()  # provinces with evidence other than the outlet / URL
        self.at_home: set[str] = set()  # ... other than where the report was filed (dateline, outlet, URL)
        self.headline: set[str] = set()  # provinces named in the title

    def add(self, o: _Obs, t: Target, alias_county: float, home_sub: float = 1.0) -> None:
        d = self.divs[t.code]
        w = o.weight * (alias_county if t.alias and d.level == "county" else 1.0)
        prov = d.province_code
        self.province_scores[prov] += w
        sig = o.signal
        if sig != "outlet" and sig != "url":
            self.content.add(prov)
            if sig != "dateline":
                self.at_home.add(prov)
                if sig == "title":
                    self.headline.add(prov)
            ws = w
        else:
            # An outlet's (or URL's) home says less about the city than about the province: a
            # Guangzhou paper reports on Zhaoqing too.
            ws = w * home_sub
        if d.prefecture_code:
            self.prefecture_scores[d.prefecture_code] += ws
        if d.level == "county":
            self.county_scores[d.code] += ws
        self.contrib.append((o, d.code, w))

    def support(self, code: str) -> float:
        d = self.divs[code]
        s = self.province_scores.get(d.province_code, 0.0)
        if d.prefecture_code and d.level == "county":
            s += 2.0 * self.prefecture_scores.get(d.prefecture_code, 0.0)
        return s


def resolve_region(article: Mapping[str, Any], gaz: Gazetteer) -> dict[str, Any]:
    """Label columns scope, province_code … region_evidence for one article dict.

    ``article`` keys used: title, body, breadcrumb, outlet, url, site (all optional). Evidence
    structs are {signal, surface, code, offset}; ``code`` is a GB/T 2260 code, 000000 for national
    markers, or an ISO 3166 alpha-2 code for foreign ones; ``offset`` is a body offset or None.
    """
    weights = gaz.rules.weights
    title = article.get("title") or ""
    body = article.get("body") or ""
    obs: list[_Obs] = []
    nat_ev: list[Evidence] = []
    for_ev: list[Evidence] = []
    _breadcrumb_signals(article.get("breadcrumb") or (), gaz, obs, nat_ev, for_ev)
    outlet = _outlet_signals(article.get("outlet"), gaz, obs, nat_ev)
    _url_signals(article, gaz, obs, nat_ev, weights.url)
    dateline_end = _dateline(body[:_LEAD], outlet, gaz, obs, nat_ev, for_ev, weights)
    _title_signals(title, gaz, obs, nat_ev, for_ev)
    _body_signals(body, gaz, obs, nat_ev, for_ev, weights, dateline_end)
    _case_numbers(body, gaz, obs, weights.case_number)
    return _decide(_tally_observations(obs, gaz), nat_ev, for_ev, gaz, len(body))


def _breadcrumb_signals(crumbs: Any, gaz: Gazetteer, obs: list[_Obs], nat_ev: list[Evidence], for_ev: list[Evidence]) -> None:
    rules, weights = gaz.rules, gaz.rules.weights
    for crumb in crumbs:
        crumb = (crumb or "").strip()
        if not crumb:
            continue
        hint = rules.breadcrumb_scope.get(crumb)
        if hint == "national":
            nat_ev.append(Evidence("breadcrumb", crumb, NATIONAL_CODE, None, weights.breadcrumb))
            continue
        if hint == "foreign":
            for_ev.append(Evidence("breadcrumb", crumb, None, None, weights.breadcrumb))
            continue
        entry = gaz.lookup(crumb)
        if entry is None or entry.kind != PLACE:
            found = [h for h in gaz.scan(crumb, cache=False) if h.entry.kind == PLACE]
            entry = found[0].entry if found else None
        if entry is not None and entry.kind == PLACE:
            obs.append(_Obs("breadcrumb", entry.surface, entry.targets, None, weights.breadcrumb, strong=True))


def _outlet_signals(name: str | None, gaz: Gazetteer, obs: list[_Obs], nat_ev: list[Evidence]) -> Any:
    """The outlet's home as a strong observation (a national outlet's as a national marker); returns the outlet."""
    weights = gaz.rules.weights
    outlet = gaz.outlet(name)
    if outlet is not None:
        if outlet.level == "national":
            nat_ev.append(Evidence("outlet", outlet.name, NATIONAL_CODE, None, weights.outlet_national))
        else:
            obs.append(_Obs("outlet", outlet.name, (Target(outlet.code, False, False),), None, weights.outlet, strong=True))
    return outlet


def _title_signals(title: str, gaz: Gazetteer, obs: list[_Obs], nat_ev: list[Evidence], for_ev: list[Evidence]) -> None:
    """Each distinct place, country and national marker of the title, once."""
    rules, weights = gaz.rules, gaz.rules.weights
    seen: set[str] = set()
    for h in gaz.scan(title, cache=False) if title else ():
        e = h.entry
        if e.surface in seen:
            continue
        seen.add(e.surface)
        if e.kind == PLACE:
            f = _mention_factor(title, h.end, rules, weights) if h.end < len(title) and title[h.end] in rules.party_first else 1.0
            obs.append(_Obs("title", e.surface, e.targets, None, weights.title * min(f, 1.0), follow_ok=h.follow_ok))
        elif e.kind == COUNTRY:
            for_ev.append(Evidence("title", e.surface, e.targets[0].code, None, weights.title * weights.foreign))
        elif e.kind == NATIONAL:
            nat_ev.append(Evidence("title", e.surface, NATIONAL_CODE, None, e.weight * weights.title / weights.body_first))


def _tally_observations(obs: list[_Obs], gaz: Gazetteer) -> _Tally:
    """Sum the observations per division: unambiguous ones first, then each ambiguous one for its
    best-supported reading, then context-only surfaces where their province already has support."""
    rules, weights, thresholds = gaz.rules, gaz.rules.weights, gaz.rules.thresholds
    tally = _Tally(gaz)
    alias_w = weights.alias_county
    home_sub = weights.outlet_subregion
    ambiguous: list[tuple[_Obs, list[Target]]] = []
    context: list[_Obs] = []
    for o in obs:
        targets = o.targets
        if len(targets) == 1 and not targets[0].context:  # the common case
            tally.add(o, targets[0], alias_w, home_sub)
            continue
        usable = [t for t in targets if not t.context or o.strong or o.follow_ok]
        if not usable:
            context.append(o)
        elif len(usable) == 1:
            tally.add(o, usable[0], alias_w, home_sub)
        else:
            ambiguous.append((o, usable))
    for o, usable in ambiguous:
        t = _best(usable, tally, 0.0, rules.prior_province, gaz)
        if t is not None:
            tally.add(o, t, alias_w, home_sub)
    for o in context:
        t = _best(list(o.targets), tally, thresholds.context_province_min, None, gaz)
        if t is not None:
            tally.add(o, t, alias_w, home_sub)
    return tally


# ----- signal collectors ---------------------------------------------------------------------


def _url_signals(article: Mapping[str, Any], gaz: Gazetteer, obs: list[_Obs], nat_ev: list[Evidence], w: float) -> None:
    url = article.get("url") or ""
    hosts = []
    if url:
        try:
            hosts.append(urlsplit(url).hostname or "")
        except ValueError:
            pass
    if article.get("site"):
        hosts.append(str(article["site"]))
    seen: set[str] = set()
    for host in hosts:
        o = gaz.outlet_for_host(host) if host else None
        if o is None or o.name in seen:
            continue
        seen.add(o.name)
        if o.level == "national":
            nat_ev.append(Evidence("url", host, NATIONAL_CODE, None, w))
        else:
            obs.append(_Obs("url", host, (Target(o.code, False, False),), None, w, strong=True))
    if url:
        for tok, code in gaz.pinyin_codes(url)[:2]:
            obs.append(_Obs("url", tok, (Target(code, False, False),), None, w, strong=True))


def _place_token(token: str, gaz: Gazetteer) -> tuple[list[tuple[str, tuple[Target, ...]]], list[tuple[str, str]]]:
    """Places and countries named by a dateline token (兰州, 甘肃临夏, 华盛顿)."""
    places: list[tuple[str, tuple[Target, ...]]] = []
    countries: list[tuple[str, str]] = []
    entry = gaz.lookup(token)
    hits = [entry] if entry is not None else [h.entry for h in gaz.scan(token, cache=False)]
    for e in hits:
        if e.kind == PLACE:
            places.append((e.surface, e.targets))
        elif e.kind == COUNTRY:
            countries.append((e.surface, e.targets[0].code))
    return places, countries


def _dateline(
    lead: str,
    outlet: Any,
    gaz: Gazetteer,
    obs: list[_Obs],
    nat_ev: list[Evidence],
    for_ev: list[Evidence],
    weights: RegionWeights,
) -> int:
    """Adds dateline observations; returns the body offset where the dateline's place token ends
    (0 if none), so the same token is not counted again as a body mention."""
    end = _paper_dateline(lead, outlet, gaz, obs, for_ev, weights)
    end = max(end, _sent_from(lead, gaz, obs, for_ev, weights))
    return max(end, _outlet_datelines(lead, gaz, obs, nat_ev, for_ev, weights))


def _paper_dateline(lead: str, outlet: Any, gaz: Gazetteer, obs: list[_Obs], for_ev: list[Evidence], weights: RegionWeights) -> int:
    """本报兰州讯 / 【本报讯】 (the paper's own home when no place is written)."""
    m = _LOCAL_DATELINE.search(lead)
    if m is None:
        return 0
    token = m.group(1)
    if not token:
        if outlet is not None and outlet.level != "national":
            obs.append(_Obs("dateline", m.group(0), (Target(outlet.code, False, False),), m.start(), weights.dateline, strong=True))
        return 0
    places, countries = _place_token(token, gaz)
    for surface, targets in places:
        obs.append(_Obs("dateline", surface, targets, m.start(1), weights.dateline, strong=True))
    for surface, iso in countries:
        for_ev.append(Evidence("dateline", surface, iso, m.start(1), weights.dateline))
    return m.end(1) if places or countries else 0


def _sent_from(lead: str, gaz: Gazetteer, obs: list[_Obs], for_ev: list[Evidence], weights: RegionWeights) -> int:
    """本报记者陈某 发自上海: the place must open the token (not 发自内心地感谢兰州)."""
    m = _SENT_FROM.search(lead) if "发自" in lead else None
    if m is None:
        return 0
    hits = [h for h in gaz.scan(m.group(1), cache=False) if h.entry.kind in (PLACE, COUNTRY)]
    if not hits or hits[0].start != 0:
        return 0
    e0 = hits[0].entry
    if e0.kind == PLACE:
        obs.append(_Obs("dateline", e0.surface, e0.targets, m.start(1), weights.dateline, strong=True))
    else:
        for_ev.append(Evidence("dateline", e0.surface, e0.targets[0].code, m.start(1), weights.dateline))
    return m.start(1) + hits[0].end


def _outlet_datelines(lead: str, gaz: Gazetteer, obs: list[_Obs], nat_ev: list[Evidence], for_ev: list[Evidence], weights: RegionWeights) -> int:
    """新华社兰州8月9日电, 中新网甘肃临夏…电, 兰州晚报讯, 每日甘肃网-科技鑫报讯."""
    w = weights.dateline
    end = 0
    for s, e, o in gaz.find_outlets(lead):
        m2 = _AFTER_OUTLET.match(lead, e)
        if m2 is None:
            continue
        token = m2.group(1)
        if not token:
            if o.level == "national":
                nat_ev.append(Evidence("dateline", o.name, NATIONAL_CODE, s, weights.outlet_national))
            else:
                obs.append(_Obs("outlet", o.name, (Target(o.code, False, False),), s, weights.outlet, strong=True))
            continue
        places, countries = _place_token(token, gaz)
        for surface, targets in places:
            if o.level == "national" and surface in gaz.rules.national_capital:
                nat_ev.append(Evidence("dateline", o.name + surface, NATIONAL_CODE, s, w / 2))  # 新华社北京电: national news
            elif o.level == "national":
                # A national agency files from its provincial bureau (新华网成都电 on a 攀枝花 quake):
                # strong for the province, weak for the city itself.
                provs = tuple(dict.fromkeys(Target(gaz.divisions[t.code].province_code, False, False) for t in targets))
                obs.append(_Obs("dateline", surface, provs, m2.start(1), w, strong=True))
                obs.append(_Obs("dateline", surface, targets, m2.start(1), weights.body_first, strong=True))
            else:
                obs.append(_Obs("dateline", surface, targets, m2.start(1), w, strong=True))
        for surface, iso in countries:
            for_ev.append(Evidence("dateline", surface, iso, m2.start(1), w))
        if places or countries:
            end = max(end, m2.end(1))
        elif o.level != "national":
            obs.append(_Obs("outlet", o.name, (Target(o.code, False, False),), s, weights.outlet, strong=True))
    return end


_PARTY_WINDOW = re.compile(r"[\u4e00-\u9fff]*")
_ROUTE_GAP = re.compile(r"[^。，；：！？,;\n]{0,10}")


def _route_end(text: str, chain_start: int, end: int, rules: Any) -> bool:
    """Is the place ending at ``end`` (in a chain of places from ``chain_start``: 甘肃|兰州) only a
    route's end: right after 开往 (…开往乌鲁木齐), or right after 从/由 with 开往 a few characters on
    (由西安开往…, 从甘肃兰州驶往…)?"""
    if any(text.startswith(v, chain_start - len(v)) for v in rules.route_to):
        return True
    if chain_start > 0 and text[chain_start - 1] in rules.route_from:
        window = _ROUTE_GAP.match(text, end, end + 10)
        return window is not None and any(v in window.group(0) for v in rules.route_to)
    return False


def _mention_factor(text: str, end: int, rules: Any, weights: RegionWeights) -> float:
    """Weight factor of a place mention from what follows it: an anonymised party (甘肃某公司,
    海南甲公司, 上海公司) says little about where the story is."""
    if end >= len(text):
        return 1.0
    nxt = text[end]
    if nxt in rules.party_marks or nxt in rules.party_letters:
        # 某 / 甲 then a company word within a few characters: 北京某种业公司, 海南甲公司 (not 某村, 甲级)
        window = _PARTY_WINDOW.match(text, end + 1, end + 10)
        if window is not None and any(w in window.group(0) for w in rules.party_after):
            return weights.party_factor
    if rules.party_direct and any(text.startswith(w, end) for w in rules.party_direct):
        return weights.party_factor  # 上海公司 (以下简称上海公司)
    return 1.0


_LIST_GAP = re.compile(r"[^。，；：！？,;\n]{0,8}")


def _listed(hits: list[Any], body: str, min_items: int) -> set[int]:
    """Indices of hits that are items of an enumeration of different places (江苏南京、湖北武汉、甘肃
    兰州…; 北京大学、清华大学、浙江大学): a list of places is a list, not the story's locality.
    Adjacent hits (甘肃兰州) form one item; items are separated by 、 within a short gap. A list of
    one city's bodies (沈阳市体育局、沈阳市体育总会、沈阳晚报) is not one."""
    out: set[int] = set()
    run: list[int] = []
    seps = 0
    prev_end = -1
    for i, (s0, e0, _, _) in enumerate(hits):
        if run and s0 != prev_end:
            if s0 - prev_end <= 8 and "、" in (gap := body[prev_end:s0]) and _LIST_GAP.fullmatch(gap):
                seps += 1
            else:
                if seps:
                    if seps + 1 >= min_items:
                        _close_list(hits, run, min_items, out)
                    seps = 0
                run = []
        run.append(i)
        prev_end = e0
    if seps + 1 >= min_items:
        _close_list(hits, run, min_items, out)
    return out


def _close_list(hits: list[Any], run: list[int], min_items: int, out: set[int]) -> None:
    places = {hits[i].entry.targets[0].code if hits[i].entry.targets else hits[i].entry.surface for i in run}
    if len(places) >= min_items:
        out.update(run)


# _body_signals is one long loop on purpose: it runs for every place hit of every body, and split
# into helpers it would pay a call per hit (the label stage's hottest Python).
def _body_signals(
    body: str,
    gaz: Gazetteer,
    obs: list[_Obs],
    nat_ev: list[Evidence],
    for_ev: list[Evidence],
    weights: RegionWeights,
    skip_before: int = 0,
) -> None:
    if not body:
        return
    rules = gaz.rules
    lead_chars = int(weights.lead_chars)
    first, repeat, cap, lead_f = weights.body_first, weights.body_repeat, weights.body_cap, weights.lead_factor
    hits = gaz.scan(body)
    footers = gaz.footer_lines(body)
    min_items = int(weights.list_min_items)
    k = body.find("、") if len(hits) >= min_items else -1
    listed = _listed(hits, body, min_items) if k >= 0 and body.find("、", k + 1) >= 0 else ()
    list_f = weights.list_factor
    route_to = rules.route_to
    party_f = weights.party_factor
    party_first = rules.party_first
    n, nh = len(body), len(hits)
    # surface -> [first offset, weight, follow_ok, entry, party weight]; party mentions have their own
    # (lower) cap, so a party named thirty times still weighs less than one court.
    places: dict[str, list[Any]] = {}
    countries: dict[str, list[Any]] = {}
    seen_nat: dict[str, list[Any]] = {}
    nat_repeat = weights.national_repeat
    party_cap = cap * party_f
    books = BookTitles(body)  # 《…》: cited document titles
    in_footer = footer_test(footers)
    chain_memo: dict[int, float] = {}

    def chain_factor(i: int) -> float:
        """The party factor of the place chain 宁夏|吴忠|某… that hit ``i`` opens: the factor at the
        first link followed by a party mark. Each link is walked once per article (a page of one
        name repeated is one long chain: walking it from every link would be quadratic)."""
        got = chain_memo.get(i)
        if got is not None:
            return got
        links = [i]
        j, end, f = i + 1, hits[i][1], 1.0
        while j < nh and hits[j][0] == end and hits[j][2].kind == PLACE:
            if j in chain_memo:
                f = chain_memo[j]
                break
            links.append(j)
            end = hits[j][1]
            if end < n and body[end] in party_first:
                f = _mention_factor(body, end, rules, weights)
                break
            j += 1
        for k in links:
            chain_memo[k] = f
        return f

    # chain_first[i]: the hit opening the place chain that hit i ends (甘肃 of 从甘肃兰州驶往), for the
    # route rule; one forward pass, as walking back from every link is quadratic on a repeated name.
    chain_first = list(range(nh))
    if route_to:
        for j in range(1, nh):
            if hits[j - 1][1] == hits[j][0] and hits[j - 1][2].kind == PLACE:
                chain_first[j] = chain_first[j - 1]
    for i, (start, end, e, follow_ok) in enumerate(hits):
        kind = e.kind
        if start < skip_before and (kind == PLACE or kind == COUNTRY):
            continue  # the dateline's own place token
        if in_footer is not None and in_footer(start):
            continue
        if kind == PLACE:
            # An anonymised party name (甘肃某公司) also covers the places chained before it (宁夏吴忠某银行).
            f = 1.0
            if end < n and body[end] in party_first:
                f = _mention_factor(body, end, rules, weights)
            elif i + 1 < nh and hits[i + 1][0] == end:
                f = chain_factor(i)
            party = f == party_f
            if listed and i in listed:
                f *= list_f
            if route_to:
                if _route_end(body, hits[chain_first[i]][0], end, rules):
                    f *= weights.route_factor
            rec = places.get(e.surface)
            if rec is None:
                rec = places[e.surface] = [start, 0.0, follow_ok, e, 0.0]
                base = first * lead_f if start < lead_chars else first
            else:
                base = repeat
                if follow_ok:
                    rec[2] = True
            if party:
                w = rec[4] + base * f
                rec[4] = w if w < party_cap else party_cap
            else:
                w = rec[1] + base * f
                rec[1] = w if w < cap else cap
        elif kind == COUNTRY:
            f = list_f if listed and i in listed else 1.0
            rec = countries.get(e.surface)
            if rec is None:
                countries[e.surface] = [start, f * (first * lead_f if start < lead_chars else first) * weights.foreign, e.targets[0].code]
            else:
                rec[1] = min(cap, rec[1] + f * repeat * weights.foreign)
        elif kind == NATIONAL:
            if books.inside(start):
                continue  # cited document title: 《最高人民法院关于…》
            if start > 0 and ((i > 0 and hits[i - 1].end == start and hits[i - 1].entry.kind == COUNTRY) or follows_foreign_guo(body, start)):
                continue  # 美国国务院, 马国卫生部: another country's organ
            organ = rules.national_same.get(e.surface, e.surface)  # 最高法 = 最高人民法院: one organ
            rec = seen_nat.get(organ)
            if rec is None:
                seen_nat[organ] = [e.surface, start, e.weight, e.weight]
            elif rec[3] < 1.0:  # a weak marker's repeats add a little (我国 … 我国 … 我国), up to 2x
                rec[2] = min(2 * rec[3], rec[2] + nat_repeat * rec[3])
    for surface, off, w, _ in seen_nat.values():
        nat_ev.append(Evidence("body", surface, NATIONAL_CODE, off, w))
    for surface, (off, w, follow_ok, e, wp) in places.items():
        obs.append(_Obs("body", surface, e.targets, off, w + wp, False, follow_ok))
    for surface, (off, w, iso) in countries.items():
        for_ev.append(Evidence("body", surface, iso, off, w))


def _case_numbers(body: str, gaz: Gazetteer, obs: list[_Obs], w: float) -> None:
    abbr = gaz.rules.case_abbr
    seen: set[str] = set()
    found = [m for lit, rx in _CASE_NO if lit in body for m in rx.finditer(body)]
    for m in found:
        prov = abbr.get(m.group(1))
        if prov is None:
            continue
        d1, d2 = m.group(2), m.group(3)
        code = prov + "0000"
        if int(d1) < 70:  # 71+ are special courts (railway, maritime, IP …): province only
            for cand in ((prov + d1 + d2) if d2 else None, prov + d1 + "00"):
                if cand and cand in gaz.divisions:
                    code = cand
                    break
        if code in seen or code not in gaz.divisions:
            continue
        seen.add(code)
        obs.append(_Obs("body", m.group(0), (Target(code, False, False),), m.start(), w, strong=True))


# ----- decision ------------------------------------------------------------------------------


def _best(targets: list[Target], tally: _Tally, min_support: float, prior: str | None, gaz: Gazetteer) -> Target | None:
    scored = sorted(((tally.support(t.code), t) for t in targets), key=lambda x: -x[0])
    top = scored[0][0]
    if top > 0 and top >= min_support and (len(scored) == 1 or scored[1][0] < top):
        return scored[0][1]
    if top == 0 and prior is not None:
        in_prior = [t for t in targets if gaz.divisions[t.code].province_code == prior]
        if len(in_prior) == 1:
            return in_prior[0]
    return None


def _pick(scores: Mapping[str, float], codes: list[str], parent: float, share_all: float, share_sub: float, margin: float, minimum: float) -> str | None:
    """The top code if it dominates its siblings (share of their total, margin over the runner-up)
    and holds a fair share of all the parent's evidence (a passing 兰州 in a province-wide story
    does not make it a Lanzhou story)."""
    ranked = sorted(((scores.get(c, 0.0), c) for c in codes), reverse=True)
    if not ranked or ranked[0][0] <= 0:
        return None
    top, code = ranked[0]
    second = ranked[1][0] if len(ranked) > 1 else 0.0
    siblings = sum(x for x, _ in ranked)
    if top >= minimum and top >= share_all * parent and top >= share_sub * siblings and top >= margin * second:
        return code
    return None


# _decide reads top to bottom as the scope rules (foreign, national, none, local), each with the
# reason for it; most of its length is those comments.
def _decide(
    tally: _Tally,
    nat_ev: list[Evidence],
    for_ev: list[Evidence],
    gaz: Gazetteer,
    body_chars: int = 0,
) -> dict[str, Any]:
    weights, thresholds = gaz.rules.weights, gaz.rules.thresholds
    province_scores = tally.province_scores
    if province_scores and body_chars > thresholds.outlet_only_max_chars:
        # The outlet's (or URL's) home alone does not make a long text local: an essay or a feature
        # that names no place in its title, dateline or body has no locality. (A short brief from a
        # local paper often leaves its city implicit, so it keeps the outlet's region.)
        content = tally.content
        if len(content) < len(province_scores):
            province_scores = {p: v for p, v in province_scores.items() if p in content}
    nat = min(weights.national_cap, sum(e.weight for e in nat_ev))
    foreign: dict[str, float] = defaultdict(float)
    for ev in for_ev:
        foreign[ev.code or ""] += ev.weight
    for_total = sum(foreign.values())
    loc_total = sum(province_scores.values())
    top_prov, loc = max(province_scores.items(), key=lambda kv: kv[1]) if province_scores else (None, 0.0)
    share = loc / loc_total if loc_total else 0.0
    denom = loc_total + nat + for_total

    out: dict[str, Any] = dict.fromkeys(LABEL_KEYS)
    out["scope"] = "none"
    out["region_evidence"] = []
    # Foreign needs one country (or a few) to dominate: an essay that strolls through Berlin, Vienna,
    # Tokyo and Los Angeles, or Chinese tourists' destinations abroad, is not a story from abroad.
    # (Many countries with no rival evidence at all is still foreign: a World Cup draw.)
    one_country = len(foreign) < thresholds.many_countries or max(foreign.values()) >= thresholds.country_share * for_total
    # A correspondent's dateline (中新网上海5月4日电 据外媒报道，瑞典…) is where the report was filed, not
    # where the story is: Chinese places named only there do not hold a foreign story at home.
    # (The foreign place must lead the story: a Shanghai firm's profile filed from Shanghai that
    # compares itself with America later on stays in Shanghai.)
    loc_home = loc
    lead = weights.lead_chars
    if for_total and top_prov is not None and top_prov not in tally.at_home:
        if any(ev.signal == "title" or (ev.offset is not None and ev.offset < lead) for ev in for_ev):
            loc_home = 0.0
    if for_total >= thresholds.min_foreign and for_total > loc_home and for_total >= nat and (one_country or for_total > 2 * max(nat, loc_home)):
        out["scope"] = "foreign"
        out["region_confidence"] = _conf(for_total, denom)
        out["region_evidence"] = _ev_list(for_ev)
        return out
    # Many provinces, none dominant: a national story. Only provinces with a full mention count (three
    # poetic allusions to 西山, 金沙, 浮梁 in an essay do not make it national).
    dominant = share >= thresholds.province_share or sum(v >= weights.body_first for v in province_scores.values()) < thresholds.many_provinces
    # With no usable place, fewer national markers suffice (我国 … 全军: a PLA or nationwide story).
    nat_alone = loc < thresholds.min_local and nat >= thresholds.min_national_alone and nat > for_total
    # A headline place outweighs national organs cited in the body (乌鲁木齐一患者家属… with 卫生部's
    # notice quoted): the headline says where the story is.
    headline = top_prov in tally.headline and not any(e.signal == "title" for e in nat_ev)
    if top_prov is not None and loc >= thresholds.min_local and (loc >= nat or headline) and dominant:
        pass  # local, below
    elif nat >= thresholds.min_national or (loc > 0 and not dominant) or nat_alone:
        out["scope"] = "national"
        out["region_confidence"] = _conf(max(nat, loc_total - loc), denom)
        out["region_evidence"] = _ev_list(nat_ev)
        return out
    elif top_prov is None or loc < thresholds.min_local:
        return out

    assert top_prov is not None
    return _local_label(out, tally, top_prov, loc, denom, gaz)


def _local_label(out: dict[str, Any], tally: _Tally, top_prov: str, loc: float, denom: float, gaz: Gazetteer) -> dict[str, Any]:
    """A local label under ``top_prov``: its prefecture and county where the evidence picks them, the
    confidence in the whole label, and the evidence for it."""
    weights, thresholds = gaz.rules.weights, gaz.rules.thresholds
    divs = gaz.divisions
    out["scope"] = "local"
    out["province_code"] = top_prov
    out["province"] = divs[top_prov].name
    prefs = [c for c in tally.prefecture_scores if divs[c].province_code == top_prov]
    if top_prov in MUNICIPALITIES:
        # The city is the province: its districts hang under a 市辖区 group (110100; 重庆 also has 500200).
        pref = max(prefs, key=lambda c: tally.prefecture_scores[c]) if prefs else top_prov[:2] + "0100"
        county_parent = loc
        counties = [c for c in tally.county_scores if divs[c].province_code == top_prov]
    else:
        pref = _pick(tally.prefecture_scores, prefs, loc, thresholds.prefecture_share, thresholds.prefecture_share_sub, thresholds.prefecture_margin, thresholds.prefecture_min)
        county_parent = tally.prefecture_scores.get(pref, 0.0) if pref else loc
        counties = [c for c in tally.county_scores if (divs[c].prefecture_code == pref if pref else divs[c].province_code == top_prov and not divs[c].prefecture_code)]
    county = _pick(tally.county_scores, counties, county_parent, thresholds.county_share, thresholds.county_share_sub, thresholds.county_margin, thresholds.county_min)
    if county and top_prov in MUNICIPALITIES:
        pref = divs[county].prefecture_code
    if pref:
        out["prefecture_code"], out["prefecture"] = pref, divs[pref].name
    if county:
        out["county_code"], out["county"] = county, divs[county].name
    # The confidence is in the whole label: the province's certainty times how clearly the evidence
    # picks the prefecture and the county (or picks none of them) among their rivals.
    # A county is the level most often wrong (measured: data/gazetteer/region_rules.toml), so a label that
    # goes down to one weighs a little less.
    conf = _conf(loc, denom) * _certainty(tally.prefecture_scores, prefs, pref) * _certainty(tally.county_scores, counties, county)
    out["region_confidence"] = round(conf * (weights.county_confidence if county else 1.0), 3)
    chosen = {top_prov, pref, county}
    kept = []
    for o, code, w in tally.contrib:
        d = divs[code]
        if d.province_code == top_prov:
            # Evidence for the chosen codes first, then what else supported the province.
            on_path = code in chosen or (d.prefecture_code in chosen and d.prefecture_code is not None)
            kept.append(Evidence(o.signal, o.surface, code, o.offset, w * (2.0 if on_path else 1.0)))
    out["region_evidence"] = _ev_list(kept)
    return out


def _certainty(scores: Mapping[str, float], codes: list[str], chosen: str | None) -> float:
    """The chosen code's share of the evidence for ``codes``; with none chosen, the share the top one
    lacks (1.0 when no code has evidence: leaving the level empty is then certain)."""
    total = sum(scores.get(c, 0.0) for c in codes)
    if total <= 0:
        return 1.0
    if chosen is not None:
        return scores.get(chosen, 0.0) / total
    return 1.0 - max(scores.get(c, 0.0) for c in codes) / total


def _conf(score: float, denom: float) -> float:
    if denom <= 0:
        return 0.0
    return round((score / denom) * (1.0 - math.exp(-score / 3.0)), 3)


def _ev_list(items: list[Evidence], limit: int = 10) -> list[dict[str, Any]]:
    """The region_evidence column: the strongest distinct (signal, surface) pieces first."""
    seen: set[tuple[str, str]] = set()
    out: list[dict[str, Any]] = []
    for signal, surface, code, offset, _w in sorted(items, key=lambda x: -x.weight):
        if (signal, surface) in seen:
            continue
        seen.add((signal, surface))
        out.append({"signal": signal, "surface": surface, "code": code, "offset": offset})
        if len(out) >= limit:
            break
    return out
