"""Region resolution: the seed page, real corpus snippets and the known traps.

Real texts live in tests/data (seed page given by the user; corpus files listed in
tests/data/corpus/SOURCES.tsv). Synthetic one-liners are used only for traps the corpus lacks.
"""

from __future__ import annotations

import csv
import html
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from pipelines.label.gazetteer import DATA_DIR, data_files, load_gazetteer
from pipelines.label.region import LABEL_KEYS, resolve_region
from pipelines.schema import ARTICLES, EVIDENCE, SCOPES

DATA = Path(__file__).resolve().parent / "data"
SEED = DATA / "seed" / "000_0728b4a53c9668bd.txt"
CORPUS = DATA / "corpus"
SIGNALS = {"breadcrumb", "outlet", "dateline", "title", "body", "url"}


@pytest.fixture(scope="module")
def gaz() -> Any:
    return load_gazetteer()


def seed_article(cut: bool = True) -> dict[str, Any]:
    """The seed page as the parser hands it over: story only (cut at 新闻推荐), header fields split out."""
    lines = SEED.read_text(encoding="utf-8").split("\n")
    crumbs = [c.strip() for c in lines[1].split(">")][1:-1]  # drop the site root and the final 正文
    title = lines[3].strip()
    source = next(ln for ln in lines if ln.startswith("来源:"))
    outlet = source.removeprefix("来源:").split()[0]
    text = "\n".join(lines)
    body = text[text.index("【本报讯】") :]
    if cut:
        body = body[: body.index("新闻推荐")].strip()
    return {
        "title": title,
        "body": body,
        "breadcrumb": crumbs,
        "outlet": outlet,
        "url": "https://www.yybnet.net/",
        "site": "yybnet.net",
        "source_format": "page_text",
    }


def corpus_text(rel: str) -> str:
    raw = (CORPUS / rel).read_bytes()
    return raw.decode("gb18030" if "tensite" in rel else "utf-8-sig")


def codes(ev: list[dict[str, Any]]) -> set[str]:
    return {e["code"] for e in ev}


def label(gaz: Any, body: str, **kw: Any) -> dict[str, Any]:
    return resolve_region({"title": kw.pop("title", ""), "body": body, **kw}, gaz)


# ----- the seed page ------------------------------------------------------------------------


def test_seed_resolves_to_lanzhou_without_county(gaz: Any) -> None:
    art = seed_article()
    assert art["breadcrumb"] == ["甘肃", "兰州市", "兰州新闻"] and art["outlet"] == "兰州日报"
    r = resolve_region(art, gaz)
    assert r["scope"] == "local"
    assert (r["province_code"], r["prefecture_code"], r["county_code"]) == ("620000", "620100", None)
    assert (r["province"], r["prefecture"], r["county"]) == ("甘肃省", "兰州市", None)
    assert r["region_confidence"] > 0.7
    signals = {e["signal"] for e in r["region_evidence"]}
    assert {"breadcrumb", "dateline", "outlet", "body"} <= signals
    dl = next(e for e in r["region_evidence"] if e["signal"] == "dateline")
    assert dl["surface"] == "本报讯" and dl["code"] == "620100"  # 【本报讯】 = the outlet's region


def test_seed_body_alone_still_lanzhou(gaz: Any) -> None:
    r = label(gaz, seed_article()["body"])
    assert (r["province_code"], r["prefecture_code"], r["county_code"]) == ("620000", "620100", None)


def test_seed_boilerplate_does_not_add_a_county(gaz: Any) -> None:
    # The uncut page also mentions 漳县/陇西 in its recommendation box; the story still wins.
    r = resolve_region(seed_article(cut=False), gaz)
    assert (r["prefecture_code"], r["county_code"]) == ("620100", None)


def test_label_dict_shape_and_types(gaz: Any) -> None:
    r = resolve_region(seed_article(), gaz)
    assert tuple(r) == LABEL_KEYS
    assert r["scope"] in SCOPES
    for e in r["region_evidence"]:
        assert set(e) == {"signal", "surface", "code", "offset"} and e["signal"] in SIGNALS
    # The values fit the published Arrow types.
    pa.array([r["region_evidence"]], type=pa.list_(EVIDENCE))
    for key in LABEL_KEYS:
        pa.array([r[key]], type=ARTICLES[key].type)


def test_body_offsets_point_at_the_surface(gaz: Any) -> None:
    art = seed_article()
    r = resolve_region(art, gaz)
    body_ev = [e for e in r["region_evidence"] if e["signal"] == "body"]
    assert body_ev
    for e in body_ev:
        assert art["body"][e["offset"] : e["offset"] + len(e["surface"])] == e["surface"]


# ----- traps --------------------------------------------------------------------------------


def test_silver_is_not_baiyin(gaz: Any) -> None:
    text = "国际白银价格周三大幅上涨，白银期货主力合约收涨3%，现货白银报每盎司25美元。分析师认为白银后市仍将偏强。"
    r = label(gaz, text, title="白银创下年内新高")
    assert r["scope"] == "none" and r["province_code"] is None
    assert "620400" not in codes(r["region_evidence"])


def test_silver_in_a_gansu_paper_is_still_not_baiyin(gaz: Any) -> None:
    r = label(gaz, "受国际市场影响，白银价格和白银期货双双走高。", outlet="甘肃日报")
    assert r["province_code"] == "620000" and r["prefecture_code"] is None
    assert "620400" not in codes(r["region_evidence"])


def test_baiyin_city_with_context(gaz: Any) -> None:
    assert label(gaz, "白银市平川区近日召开会议，部署防汛工作。")["prefecture_code"] == "620400"
    # Bare 白银 counts when followed by an organ word or when Gansu is otherwise evidenced.
    assert label(gaz, "白银中院近日审结一起案件。")["prefecture_code"] == "620400"
    assert label(gaz, "甘肃省近日部署，在白银建设新材料基地，白银将成为重要增长极。")["prefecture_code"] == "620400"


def test_lanzhou_military_region_is_not_lanzhou(gaz: Any) -> None:
    # Real SogouC text: 在沈阳军区、兰州军区，来自士兵的建设… (a 新华网北京 national story).
    r = label(gaz, corpus_text("txt/sogouc_sample/sogouc_C000024_18.txt"))
    assert r["scope"] == "national" and r["province_code"] is None
    assert "620100" not in codes(r["region_evidence"])
    assert label(gaz, "记者从兰州军区总医院获悉，该院专家团队完成一例手术。")["scope"] == "none"


def test_queensland_is_not_lanzhou(gaz: Any) -> None:
    r = label(gaz, "在澳大利亚昆士兰州，当地时间周二发生山火，昆士兰州政府宣布进入紧急状态。")
    assert r["scope"] == "foreign" and r["province_code"] is None
    assert codes(r["region_evidence"]) == {"AU"}


def test_chengguan_lanzhou_vs_lhasa(gaz: Any) -> None:
    lz = label(gaz, "城关区法院近日开庭审理一起合同纠纷。兰州市城关区委书记到庭旁听。", title="城关区法院开庭")
    assert (lz["province_code"], lz["prefecture_code"], lz["county_code"]) == ("620000", "620100", "620102")
    ls = label(gaz, "拉萨市城关区人民法院近日召开会议，西藏自治区高级人民法院领导出席。城关区群众代表参加。")
    assert (ls["province_code"], ls["prefecture_code"], ls["county_code"]) == ("540000", "540100", "540102")


def test_county_name_shared_across_provinces(gaz: Any) -> None:
    # 东乡县: Gansu's 东乡族自治县 (622926) and Jiangxi's former 东乡县, now 抚州市东乡区 (361003).
    gs = label(gaz, "临夏州东乡县近日举办农民丰收节，东乡县群众载歌载舞。")
    assert (gs["prefecture_code"], gs["county_code"]) == ("622900", "622926")
    jx = label(gaz, "江西省抚州市东乡县近日举办农民丰收节，东乡县群众载歌载舞。")
    assert (jx["prefecture_code"], jx["county_code"]) == ("361000", "361003")
    # 金川: 金川区 (Jinchang, Gansu) vs 金川县 (Aba, Sichuan), both context-only short names.
    assert label(gaz, "金昌市近日召开会议，金川公安分局通报治安情况。")["county_code"] in (None, "620302")
    assert "513226" not in codes(label(gaz, "金昌市近日召开会议，金川公安分局通报治安情况。")["region_evidence"])


def test_chengguan_real_fire_report(gaz: Any) -> None:
    # CEC: 城关区泰生大厦 fire with no city named; the ambiguity falls back to the Gansu prior.
    r = label(gaz, corpus_text("txt/cec_raw/cec_043.txt"))
    assert (r["province_code"], r["prefecture_code"], r["county_code"]) == ("620000", "620100", "620102")
    assert r["region_confidence"] < 0.6  # a tie-break, not strong evidence


def test_chengguan_town_elsewhere_is_not_a_district(gaz: Any) -> None:
    # CEC: 开封市通许县城关镇 (Henan) — 城关镇 must not read as 城关区.
    r = label(gaz, corpus_text("txt/cec_raw/cec_311.txt"))
    assert r["province_code"] == "410000"
    assert not codes(r["region_evidence"]) & {"620102", "540102"}


def test_street_names_are_not_places(gaz: Any) -> None:
    # Real 2011 page on Lanzhou's tea market: shops on 金昌路, 张掖路, 甘南路, 定西路 (Lanzhou streets).
    raw = (CORPUS / "html/likgjava_eb/eb_sqzx_ff8080812f588033012f66a1445c04bd.jsp").read_text(encoding="utf-8")
    title = re.search(r"<h1>(.*?)</h1>", raw).group(1)  # type: ignore[union-attr]
    start, end = raw.index("今年的第一茬春茶"), raw.index("侨兴荣获甘肃省著名商标。")
    body = html.unescape(re.sub(r"<[^>]+>", "\n", raw[start : end + 12]))
    r = label(gaz, body, title=title)
    assert (r["province_code"], r["prefecture_code"]) == ("620000", "620100")
    assert not codes(r["region_evidence"]) & {"620300", "620700", "623000", "621100"}


def test_he_zheng_in_hezhengfu_is_not_a_county(gaz: Any) -> None:
    # Real Sogou text: 党和政府审时度势 … must not read as 和政县 (622925).
    r = label(gaz, corpus_text("xml/sogoucs/sogou_tensite_030.xml"))
    assert "622925" not in codes(r["region_evidence"])
    assert label(gaz, "企业和政府共同努力，和政策一起发力。")["scope"] == "none"


def test_japan_in_dateline_digits(gaz: Any) -> None:
    r = label(gaz, "8月9日本报讯 日前，市委召开常委会，部署下半年工作。", outlet="天水日报")
    assert r["scope"] == "local" and r["prefecture_code"] == "620500"
    assert "JP" not in codes(r["region_evidence"])


def test_two_character_county_names_inside_words(gaz: Any) -> None:
    r = label(gaz, "该县被评为示范县，完成县城改造，信息县域共享，提高县级医院水平。")
    assert r["scope"] == "none", r  # not 范县 成县 息县 高县


# ----- signals ------------------------------------------------------------------------------


def test_xinhua_dateline_from_a_gansu_bureau(gaz: Any) -> None:
    r = label(gaz, "新华社兰州8月9日电（记者张三）记者从有关部门获悉，全省夏粮收购工作进展顺利。")
    assert r["scope"] == "local" and r["province_code"] == "620000"
    assert any(e["signal"] == "dateline" and e["surface"] == "兰州" for e in r["region_evidence"])


def test_xinhua_beijing_dateline_is_national(gaz: Any) -> None:
    r = label(gaz, "新华社北京5月9日电 国务院常务会议9日召开，部署全国安全生产工作。中共中央、国务院印发意见。", outlet="新华社")
    assert r["scope"] == "national" and r["province_code"] is None
    assert all(e["code"] == "000000" for e in r["region_evidence"])


def test_local_dateline_with_place(gaz: Any) -> None:
    r = label(gaz, "本报天水讯（记者李四）近日，当地举办农民丰收节。", outlet="甘肃日报")
    assert r["prefecture_code"] == "620500"


def test_title_outweighs_body(gaz: Any) -> None:
    r = label(gaz, "活动期间，来自兰州的专家作了讲座。", title="天水麦积区举办苹果采摘节")
    assert (r["prefecture_code"], r["county_code"]) == ("620500", "620503")


def test_breadcrumb_and_outlet_without_body_places(gaz: Any) -> None:
    r = label(gaz, "近日，全市开展了安全生产大检查。", breadcrumb=["甘肃", "酒泉"], outlet="酒泉日报")
    assert (r["province_code"], r["prefecture_code"]) == ("620000", "620900")


def test_court_case_number(gaz: Any) -> None:
    r = label(gaz, corpus_text("txt/court_cases/case_exec_035.txt"))
    assert (r["province_code"], r["prefecture_code"]) == ("620000", "620100")
    assert any(e["surface"].startswith("（2023）甘") for e in r["region_evidence"])


def test_former_name_maps_to_current_code(gaz: Any) -> None:
    r = label(gaz, "本报记者走访了华亭县。华亭县委、县政府高度重视煤炭产业转型。")
    assert (r["prefecture_code"], r["county_code"]) == ("620800", "620881")
    assert r["county"] == "华亭市"


def test_municipality(gaz: Any) -> None:
    r = label(gaz, "北京市海淀区人民法院近日审理此案。海淀区检察院提起公诉，海淀区公安分局配合。")
    assert (r["province_code"], r["prefecture_code"], r["county_code"]) == ("110000", "110100", "110108")
    r = label(gaz, "北京市召开会议部署工作。")
    assert (r["province_code"], r["prefecture_code"], r["county_code"]) == ("110000", "110100", None)


def test_prefecture_implies_province_and_province_only_story(gaz: Any) -> None:
    r = label(gaz, "甘肃省近日出台意见，兰州、天水、酒泉、张掖、武威等地将率先试点，全省推广。")
    assert (r["province_code"], r["prefecture_code"]) == ("620000", None)


def test_no_place_is_none(gaz: Any) -> None:
    r = label(gaz, "专家提醒，春季气候多变，市民应注意适时增减衣物，预防感冒。")
    assert r["scope"] == "none" and r["region_confidence"] is None and r["region_evidence"] == []


def test_empty_article(gaz: Any) -> None:
    assert resolve_region({}, gaz)["scope"] == "none"


# ----- gazetteer data -----------------------------------------------------------------------


def test_gazetteer_is_cached_and_lists_its_files(gaz: Any) -> None:
    assert load_gazetteer() is gaz
    files = data_files()
    assert all(p.exists() for p in files)
    names = {p.name for p in files}
    assert {"divisions.csv", "former_names.csv", "outlets.csv", "countries.csv", "agencies.toml", "region_rules.toml"} <= names


def test_divisions_cover_china(gaz: Any) -> None:
    divs = gaz.divisions
    levels = [d.level for d in divs.values()]
    assert levels.count("province") == 34  # 31 + HK, MO, TW
    gansu_prefs = [d for d in divs.values() if d.level == "prefecture" and d.province_code == "620000"]
    assert len(gansu_prefs) == 14
    assert divs["622900"].short_names == ("临夏州", "临夏")
    assert "城关" not in divs["620102"].short_names and "城关" in divs["620102"].context_names
    assert "白银" in divs["620400"].context_names
    assert divs["110101"].parent_code == "110100" and divs["110100"].name == "北京市"
    assert divs["419001"].prefecture_code is None  # 济源: directly under Henan
    assert divs["620881"].name == "华亭市" and divs["620881"].lat is not None
    assert gaz.lookup("华亭县").targets[0].code == "620881"


def test_former_names_file_has_huating() -> None:
    with (DATA_DIR / "gazetteer" / "former_names.csv").open(encoding="utf-8") as f:
        rows = {r["former_name"]: r for r in csv.DictReader(f)}
    assert rows["华亭县"]["code"] == "620881"


def test_outlets_file(gaz: Any) -> None:
    assert gaz.outlet("兰州日报").code == "620100"
    assert gaz.outlet("甘肃日报").code == "620000"
    assert gaz.outlet("新华社").level == "national"
    assert gaz.outlet("每日甘肃网-科技鑫报").code == "620000"


@pytest.mark.skipif(not Path("/work/shared/gazetteer/modood_2023").exists(), reason="raw division tables not available")
def test_build_script_reproduces_committed_csvs(tmp_path: Path) -> None:
    script = DATA_DIR / "gazetteer" / "build_gazetteer.py"
    subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True, capture_output=True)
    for name in ("divisions.csv", "former_names.csv", "ethnic_groups.csv"):
        assert (tmp_path / name).read_bytes() == (DATA_DIR / "gazetteer" / name).read_bytes(), name


# ----- error-analysis fixes (eval set, 2nd round) --------------------------------------------


def corpus_article(rel: str, **kw: Any) -> dict[str, Any]:
    """A copied corpus file as the parser hands it over: jsonl/xml records with their title (and the
    Xinmin outlet/URL), PDF-wrapped court digests joined into one line, HTML reduced to its text."""
    path = CORPUS / rel
    if path.suffix == ".jsonl":
        rec = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
        art = {"title": rec["title"], "body": rec["content"], "outlet": "新民晚报", "url": "https://paper.xinmin.cn/html/xmwb/"}
    elif path.suffix == ".xml":
        text = corpus_text(rel)
        fields = dict(re.findall(r"<(url|contenttitle|content)>(.*?)</\1>", text, re.S))
        art = {"title": fields.get("contenttitle", ""), "body": fields.get("content", ""), "url": fields.get("url", "")}
    elif path.suffix == ".html":
        raw = path.read_text(encoding="utf-8")
        raw = re.sub(r"(?s)<(script|style)[^>]*>.*?</\1>", "", raw)
        text = re.sub(r"<(?:p|div|br|h\d|li)\b[^>]*>", "\n", raw)
        art = {"title": "", "body": html.unescape(re.sub(r"<[^>]+>", "", text))}
    else:
        text = corpus_text(rel)
        art = {"title": "", "body": text.replace("\n", "") if "court_cases" in rel else text}
    art.update(kw)
    return art


def region(r: dict[str, Any]) -> tuple[Any, ...]:
    return r["scope"], r["province_code"], r["prefecture_code"], r["county_code"]


def test_anonymised_parties_do_not_outweigh_the_court(gaz: Any) -> None:
    # 海南甲公司 / 海南丁公司 (parties, many times) vs 湖北省高级人民法院 (the executing court).
    r = resolve_region(corpus_article("txt/court_cases/case_exec_041.txt"), gaz)
    assert region(r)[:2] == ("local", "420000")
    # 瑞金市某公司 and 某银行瑞金支行 are parties: the Ganzhou court's case has no county.
    r = resolve_region(corpus_article("txt/court_cases/case_exec_043.txt"), gaz)
    assert region(r) == ("local", "360000", "360700", None)
    # 某村 is a place, not a party: 甘肃省民勤县某村 still names the county.
    assert label(gaz, "被告人张某在甘肃省民勤县某村杀害三人。")["county_code"] == "620621"


def test_party_abbreviation_and_national_organ_named_twice(gaz: Any) -> None:
    # 上海某信息科技有限公司（以下简称上海公司）… ; 最高人民法院 + （2021）最高法民终… are one organ, and the
    # benchmark rate 中国人民银行同期… is no national marker: the Gansu High Court case stays local.
    r = resolve_region(corpus_article("txt/court_cases/case_civil_055.txt"), gaz)
    assert region(r)[:2] == ("local", "620000")
    assert not any(e["surface"] == "中国人民银行" for e in r["region_evidence"])


def test_long_text_with_only_outlet_evidence_is_not_local(gaz: Any) -> None:
    # A 新民晚报 essay on tea that names no place: the Shanghai paper alone does not make it local.
    assert resolve_region(corpus_article("jsonl/xinmin/xinmin_2022-04-02_25.jsonl"), gaz)["scope"] == "none"
    # A short brief keeps its outlet's region (test_silver_in_a_gansu_paper_is_still_not_baiyin).


def test_a_lone_passing_mention_is_not_a_locality(gaz: Any) -> None:
    # Career advice that names 台湾 once, deep in the text.
    assert label(gaz, corpus_text("txt/sogouc_sample/sogouc_C000008_18.txt"))["scope"] == "none"
    # ... but one mention in the lead is enough: 武昌雄楚大道 fire (CEC).
    assert region(label(gaz, corpus_text("txt/cec_raw/cec_207.txt")))[:3] == ("local", "420000", "420100")


def test_enumerations_of_places_weigh_little(gaz: Any) -> None:
    body = "近年来，先后在江苏南京、湖北武汉、甘肃兰州、湖南长沙、陕西西安、吉林长春、广东广州、吉林珲春等地成功举办了年会。"
    r = label(gaz, "本次年会在重庆举行，重庆市有关部门协办。" + body)
    assert region(r)[:2] == ("local", "500000")
    # A list of one city's bodies is no enumeration (SogouC: Go veterans' match in 沈阳).
    r = label(gaz, corpus_text("txt/sogouc_sample/sogouc_C000014_11.txt"))
    assert region(r)[:3] == ("local", "210000", "210100")


def test_more_countries_and_lead_mentions(gaz: Any) -> None:
    # Yemen and Indonesia were missing from countries.csv; a lead mention of a country counts like a place's.
    assert label(gaz, corpus_text("txt/cec_raw/cec_137.txt"))["scope"] == "foreign"
    assert label(gaz, corpus_text("txt/cec_raw/cec_151.txt"))["scope"] == "foreign"


def test_many_countries_with_a_national_dateline_is_national(gaz: Any) -> None:
    # 新华社北京电: Chinese tourists' destinations (韩国, 日本, 俄罗斯, 蒙古国) - a national story.
    assert label(gaz, corpus_text("txt/sogouc_sample/sogouc_C000016_11.txt"))["scope"] == "national"
    # A World Cup draw (many countries, nothing Chinese but the paper) is still foreign.
    r = resolve_region(corpus_article("jsonl/xinmin/xinmin_2022-04-02_23.jsonl"), gaz)
    assert r["scope"] == "foreign"


def test_national_stories_without_places(gaz: Any) -> None:
    # PBOC rate cut and 住建部: no place, strong national markers.
    assert resolve_region(corpus_article("xml/sogoucs/sogou_tensite_053.xml"), gaz)["scope"] == "national"
    # A PLA profile: 沈阳军区 (a military region, not Shenyang), 我国, 全军 - no usable place.
    r = label(gaz, corpus_text("txt/sogouc_sample/sogouc_C000024_11.txt"))
    assert r["scope"] == "national" and "210100" not in codes(r["region_evidence"])


def test_reporters_sent_from_dateline(gaz: Any) -> None:
    # 本报记者陈雪频 实习记者唐翔 发自上海 - a Shanghai company profile that compares itself with America.
    r = label(gaz, corpus_text("txt/sogouc_sample/sogouc_C000008_10.txt"))
    assert region(r)[:3] == ("local", "310000", "310100")
    assert any(e["signal"] == "dateline" for e in r["region_evidence"])
    # A foreign story filed from a Chinese city is still foreign (the place only says where it was filed).
    r = label(gaz, "新华社上海5月4日电 据外媒报道，瑞典东海岸一所仓库突发大火，导致仓库内的鲱鱼罐头发生爆炸。瑞典消防部门说无人受伤。")
    assert r["scope"] == "foreign"


def test_footer_lines_are_not_evidence(gaz: Any) -> None:
    # gne page: a stock story whose only place is the site footer 'Powered By 上海新闻网 … 版权所有'
    # (the parser keeps that line above the story).
    raw = (CORPUS / "html/gne/gne_vis_021news_1.html").read_text(encoding="utf-8")
    footer = re.search(r'(?s)<p class="copyright".*?</p>', raw).group(0)  # type: ignore[union-attr]
    story = re.search(r"(?s)<p[^>]*>日k线图.*?</p>", raw).group(0)  # type: ignore[union-attr]
    body = "\n".join(html.unescape(re.sub(r"<[^>]+>", "", part)).strip() for part in (footer, story))
    assert body.startswith("Powered By 上海新闻网") and "东山精密" in body
    assert label(gaz, body)["scope"] == "none"
    assert label(gaz, body.split("\n", 1)[1] + "\n" + body.split("\n", 1)[0] + " 上海")["scope"] == "none"


def test_tv_channel_and_local_departments_are_not_places_or_ministries(gaz: Any) -> None:
    # 天津卫视 is a broadcaster, not Tianjin.
    assert resolve_region(corpus_article("xml/sogoucs/sogou_tensite_002.xml"), gaz)["scope"] == "none"
    # 政府民政部门 is a local department, not the ministry 民政部 (a national marker).
    r = resolve_region(corpus_article("xml/sogoucs/sogou_sohusite_027.xml"), gaz)
    assert r["scope"] != "national"
    # 区卫生部门 in a Guangzhou 天河区 food-poisoning story.
    assert region(label(gaz, corpus_text("txt/cec_raw/cec_163.txt")))[:3] == ("local", "440000", "440100")


def test_common_word_short_names_and_shifted_matches(gaz: Any) -> None:
    # 四轮朝天 is not 朝天区 (Guangyuan): the Beijing crash names no other place.
    assert label(gaz, corpus_text("txt/cec_raw/cec_301.txt"))["scope"] == "none"
    # 从江|苏 is 从 + 江苏, 都安|排 is 都 + 安排, 来安|徽 is 来 + 安徽.
    assert region(label(gaz, "他从江苏来到甘肃兰州打工，一切都安排好了。"))[:2] == ("local", "620000")
    assert "522633" not in codes(label(gaz, "他从江苏来到甘肃兰州打工。")["region_evidence"])
    assert "340000" in codes(label(gaz, "专家组从北京来安徽合肥调研。")["region_evidence"])
    # 祁连山 (a range) is not 祁连县 (Qinghai).
    r = resolve_region(corpus_article("txt/court_cases/case_crim_008.txt"), gaz)
    assert region(r)[:3] == ("local", "620000", "620700") and "632222" not in codes(r["region_evidence"])


def test_headline_place_beats_ministries_cited_in_the_body(gaz: Any) -> None:
    # 乌鲁木齐 in the headline; 公安部和卫生部 only as authors of a cited notice.
    r = resolve_region(corpus_article("xml/sogoucs/sogou_tensite_188.xml"), gaz)
    assert region(r)[:3] == ("local", "650000", "650100")


def test_outlet_home_weighs_less_for_the_city(gaz: Any) -> None:
    # 信息时报 (a Guangzhou paper) reports a death in 肇庆市四会.
    assert label(gaz, corpus_text("txt/cec_raw/cec_283.txt"))["prefecture_code"] == "441200"
    # 城市晚报讯: a Changchun paper's dateline gives the city of a fire at the Jilin drug institute.
    assert region(label(gaz, corpus_text("txt/cec_raw/cec_315.txt")))[:3] == ("local", "220000", "220100")


def test_other_countries_ministries_are_not_national_markers(gaz: Any) -> None:
    r = label(gaz, "马来西亚槟城监狱600多名囚犯食物中毒，成为马来西亚最大的集体食物中毒个案。马国卫生部表示，仍有50人尚未痊愈。")
    assert r["scope"] == "foreign"
    assert not any(e["code"] == "000000" for e in r["region_evidence"])


def test_ghana_and_the_verb_jia_before_na(gaz: Any) -> None:
    """加纳 (Ghana, with its capital 阿克拉) is a country; 参加纳税 / 增加纳入 are the verb 加 before 纳…
    (a 新华社 wire from Accra, txt/cec_raw/cec_049.txt)."""
    wire = "新华网阿克拉12月30日电(记者林晓蔚)加纳中部省30日中午发生一起3辆车相撞的严重交通事故,已确认14人死亡。"
    assert label(gaz, wire)["scope"] == "foreign"
    r = label(gaz, "兰州市民踊跃参加纳税人学校培训,税务部门增加纳入范围的企业。很多哥们也来了。")
    assert (r["scope"], r["province_code"]) == ("local", "620000")
    assert not any(e["code"] in ("GH", "TG") for e in r["region_evidence"])
