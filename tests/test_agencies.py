"""Agency mentions: canonical names, types, levels and jurisdictions, on the seed page, real corpus
snippets and synthetic one-liners for context resolution and traps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from pipelines.label.agencies import find_agencies
from pipelines.label.gazetteer import load_gazetteer
from pipelines.label.region import resolve_region
from pipelines.schema import AGENCY, AGENCY_LEVELS, AGENCY_MENTIONS, AGENCY_TYPES

DATA = Path(__file__).resolve().parent / "data"
SEED = DATA / "seed" / "000_0728b4a53c9668bd.txt"
CORPUS = DATA / "corpus"


@pytest.fixture(scope="module")
def gaz() -> Any:
    return load_gazetteer()


def seed_article(cut: bool = True) -> dict[str, Any]:
    """The seed page as the parser hands it over (same helper as in test_region.py)."""
    lines = SEED.read_text(encoding="utf-8").split("\n")
    crumbs = [c.strip() for c in lines[1].split(">")][1:-1]
    source = next(ln for ln in lines if ln.startswith("来源:"))
    text = "\n".join(lines)
    body = text[text.index("【本报讯】") :]
    if cut:
        body = body[: body.index("新闻推荐")].strip()
    return {"title": lines[3].strip(), "body": body, "breadcrumb": crumbs, "outlet": source.removeprefix("来源:").split()[0]}


def corpus_text(rel: str) -> str:
    return (CORPUS / rel).read_bytes().decode("utf-8-sig")


def run(gaz: Any, body: str, **kw: Any) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    art = {"title": kw.pop("title", ""), "body": body, **kw}
    region = resolve_region(art, gaz)
    agencies, mentions = find_agencies(art, region, gaz)
    return region, agencies, mentions


def by_name(agencies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in agencies}


def key(a: dict[str, Any]) -> tuple[str, str, str | None]:
    return a["type"], a["level"], a["region_code"]


# ----- the seed page ------------------------------------------------------------------------


def test_seed_agencies(gaz: Any) -> None:
    art = seed_article()
    region = resolve_region(art, gaz)
    agencies, mentions = find_agencies(art, region, gaz)
    got = by_name(agencies)
    assert key(got["甘肃省高级人民法院"]) == ("court", "high", "620000")
    assert "省高院" in got["甘肃省高级人民法院"]["mentions"]
    assert key(got["兰州市中级人民法院"]) == ("court", "intermediate", "620100")
    assert {"兰州中院", "中院"} <= set(got["兰州市中级人民法院"]["mentions"])  # 我们中院 -> the article's city
    assert key(got["最高人民法院"]) == ("court", "supreme", "000000")
    assert key(got["中共兰州市委员会"]) == ("party", "prefectural", "620100")
    assert key(got["中共兰州市委政法委员会"]) == ("political_legal", "prefectural", "620100")
    # Nothing from the recommendation box (漳县检察院 …) and no generic 全省法院 / 全市法院 / 各县区法院.
    assert not any("漳县" in a["name"] for a in agencies)
    surfaces = {m["surface"] for m in mentions}
    assert not surfaces & {"省法院", "市法院", "区法院", "法院"}
    assert len(agencies) == 5


def test_seed_boilerplate_would_add_zhangxian(gaz: Any) -> None:
    # Shows why the body must be cut at 新闻推荐: the uncut page names 漳县检察院 in its sidebar.
    art = seed_article(cut=False)
    agencies, _ = find_agencies(art, resolve_region(art, gaz), gaz)
    assert "漳县人民检察院" in by_name(agencies)


def test_mention_rows_fit_the_schema(gaz: Any) -> None:
    art = seed_article()
    agencies, mentions = find_agencies(art, resolve_region(art, gaz), gaz)
    pa.array(agencies, type=AGENCY)
    rows = [{"article_id": "0" * 16, **m} for m in mentions]
    table = AGENCY_MENTIONS.conform(AGENCY_MENTIONS.from_records(rows))
    assert table.num_rows == len(mentions) > 5
    for m in mentions:
        assert m["type"] in AGENCY_TYPES and m["level"] in AGENCY_LEVELS
        assert art["body"][m["offset"] : m["offset"] + len(m["surface"])] == m["surface"]
    assert sum(len(a["mentions"]) for a in agencies) <= len(mentions)


# ----- context resolution -------------------------------------------------------------------


def test_bare_organs_take_the_article_region(gaz: Any) -> None:
    _, agencies, _ = run(gaz, "兰州市近日召开会议。市委、市政府主要领导出席，省高院、市中院负责人列席。", breadcrumb=["甘肃", "兰州市"])
    got = by_name(agencies)
    assert key(got["中共兰州市委员会"]) == ("party", "prefectural", "620100")
    assert key(got["兰州市人民政府"]) == ("government", "prefectural", "620100")
    assert key(got["甘肃省高级人民法院"]) == ("court", "high", "620000")
    assert key(got["兰州市中级人民法院"]) == ("court", "intermediate", "620100")


def test_county_level_bare_organs(gaz: Any) -> None:
    _, agencies, _ = run(gaz, "榆中县委书记在县政府会议上强调，县法院和县检察院要加强协作。", breadcrumb=["甘肃", "兰州市", "榆中新闻"])
    got = by_name(agencies)
    assert key(got["中共榆中县委员会"]) == ("party", "county", "620123")
    assert key(got["榆中县人民政府"]) == ("government", "county", "620123")
    assert key(got["榆中县人民法院"]) == ("court", "basic", "620123")
    assert key(got["榆中县人民检察院"]) == ("procuratorate", "basic", "620123")  # not 和县 (Anhui)


def test_chengguan_court_lanzhou_vs_lhasa(gaz: Any) -> None:
    _, lz, _ = run(gaz, "城关区法院近日开庭审理一起合同纠纷，兰州中院派员旁听。", breadcrumb=["甘肃", "兰州市"])
    assert key(by_name(lz)["兰州市城关区人民法院"]) == ("court", "basic", "620102")
    _, ls, _ = run(gaz, "拉萨市城关区法院近日召开会议，西藏自治区高级人民法院领导出席。")
    got = by_name(ls)
    assert key(got["拉萨市城关区人民法院"]) == ("court", "basic", "540102")
    assert key(got["西藏自治区高级人民法院"]) == ("court", "high", "540000")


def test_place_bound_names(gaz: Any) -> None:
    body = "甘肃省兰州市中级人民法院、兰州市城关区人民法院、永登县人民法院、临夏州中院和甘肃省人民检察院联合发布典型案例。"
    _, agencies, mentions = run(gaz, body)
    got = by_name(agencies)
    assert key(got["兰州市中级人民法院"]) == ("court", "intermediate", "620100")
    assert key(got["兰州市城关区人民法院"]) == ("court", "basic", "620102")
    assert key(got["永登县人民法院"]) == ("court", "basic", "620121")  # counties are not prefixed
    assert key(got["临夏回族自治州中级人民法院"]) == ("court", "intermediate", "622900")
    assert key(got["甘肃省人民检察院"]) == ("procuratorate", "high", "620000")
    assert mentions[0]["surface"] == "甘肃省兰州市中级人民法院" and mentions[0]["offset"] == 0


def test_special_courts(gaz: Any) -> None:
    _, agencies, _ = run(gaz, "兰州铁路运输中级法院和甘肃矿区人民法院近日签署协议。")
    got = by_name(agencies)
    assert key(got["兰州铁路运输中级法院"]) == ("court", "special", "620100")
    assert key(got["甘肃矿区人民法院"]) == ("court", "special", "620000")


def test_police_units_fold_into_their_parent(gaz: Any) -> None:
    _, agencies, mentions = run(gaz, "近日，漳县检察院联合漳县公安局城关派出所开展普法宣传。兰州市公安局城关分局、兰州市公安局交警支队配合。")
    got = by_name(agencies)
    assert key(got["漳县人民检察院"]) == ("procuratorate", "basic", "621125")
    assert key(got["漳县公安局城关派出所"]) == ("public_security", "county", "621125")
    assert key(got["兰州市公安局城关分局"]) == ("public_security", "county", "620102")
    assert key(got["兰州市公安局交通警察支队"]) == ("public_security", "prefectural", "620100")
    assert "漳县公安局" not in got and "兰州市公安局" not in got  # parents are folded into the sub-unit
    assert {m["surface"] for m in mentions} >= {"漳县公安局城关派出所", "兰州市公安局城关分局"}


def test_other_organ_types(gaz: Any) -> None:
    body = "甘肃省司法厅、兰州市司法局、甘肃省公安厅、天水市纪委监委、甘肃省人大常委会、兰州市人大负责人出席。"
    _, agencies, _ = run(gaz, body)
    got = by_name(agencies)
    assert key(got["甘肃省司法厅"]) == ("justice", "provincial", "620000")
    assert key(got["兰州市司法局"]) == ("justice", "prefectural", "620100")
    assert key(got["甘肃省公安厅"]) == ("public_security", "provincial", "620000")
    assert key(got["天水市纪委监委"]) == ("discipline", "prefectural", "620500")
    assert key(got["甘肃省人民代表大会常务委员会"]) == ("congress", "provincial", "620000")
    assert key(got["兰州市人民代表大会"]) == ("congress", "prefectural", "620100")


def test_national_organs(gaz: Any) -> None:
    _, agencies, _ = run(gaz, "最高法、最高检、公安部、司法部联合发布意见。中央政法委、中央纪委国家监委和全国人大常委会有关负责人出席。")
    got = by_name(agencies)
    assert key(got["最高人民法院"]) == ("court", "supreme", "000000")
    assert key(got["最高人民检察院"]) == ("procuratorate", "supreme", "000000")
    assert key(got["公安部"]) == ("public_security", "national", "000000")
    assert key(got["司法部"]) == ("justice", "national", "000000")
    assert key(got["中共中央政法委员会"]) == ("political_legal", "national", "000000")
    assert key(got["中央纪委国家监委"]) == ("discipline", "national", "000000")
    assert key(got["全国人民代表大会常务委员会"]) == ("congress", "national", "000000")


def test_municipality_organs(gaz: Any) -> None:
    _, agencies, _ = run(gaz, "北京市第一中级人民法院二审。北京市委、北京市海淀区人民法院高度重视。")
    got = by_name(agencies)
    assert key(got["北京市第一中级人民法院"]) == ("court", "intermediate", "110100")
    assert key(got["中共北京市委员会"]) == ("party", "provincial", "110000")  # a municipality's 市委 is provincial
    assert key(got["北京市海淀区人民法院"]) == ("court", "basic", "110108")


def test_former_name_canonicalises_to_current_unit(gaz: Any) -> None:
    _, agencies, _ = run(gaz, "华亭县人民法院近日审结一起案件。")
    assert key(by_name(agencies)["华亭市人民法院"]) == ("court", "basic", "620881")


# ----- traps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "全省法院、全市法院、各县区法院和两级法院都要加强执行工作。",
        "兰州军区法院近日开庭。",
        "社区委员会换届选举顺利完成。",
        "公安部门提醒市民注意防范电信诈骗。",
        "该案依据《最高人民法院关于审理民间借贷案件适用法律若干问题的规定》处理。",
        "超市委托第三方检测，结果合格。",
    ],
)
def test_generic_or_cited_organs_are_not_agencies(gaz: Any, body: str) -> None:
    _, agencies, mentions = run(gaz, body, breadcrumb=["甘肃", "兰州市"])
    assert agencies == [] and mentions == []


def test_bare_organ_without_region_is_dropped(gaz: Any) -> None:
    _, agencies, _ = run(gaz, "省高院和市中院负责人出席了会议。")
    assert agencies == []


# ----- real corpus --------------------------------------------------------------------------


def test_real_court_digest(gaz: Any) -> None:
    _, agencies, _ = run(gaz, corpus_text("txt/court_cases/case_exec_035.txt"))
    got = by_name(agencies)
    assert key(got["兰州铁路运输法院"]) == ("court", "special", "620100")
    assert key(got["兰州市城关区人民法院"]) == ("court", "basic", "620102")
    assert "最高人民法院" not in got  # only cited as 《最高人民法院关于…》 there


def test_real_fire_report(gaz: Any) -> None:
    _, agencies, _ = run(gaz, corpus_text("txt/cec_raw/cec_043.txt"))
    got = by_name(agencies)
    assert key(got["兰州市人民政府"]) == ("government", "prefectural", "620100")
    assert key(got["兰州市城关区人民政府"]) == ("government", "county", "620102")


def test_test_data_is_present() -> None:
    assert (CORPUS / "SOURCES.tsv").exists()
    assert Path(CORPUS / "txt/court_cases/case_exec_035.txt").exists()


# ----- error-analysis fixes (eval set, 2nd round) --------------------------------------------


def joined(rel: str) -> str:
    """A PDF-wrapped court digest as the parser hands it over (lines joined)."""
    return corpus_text(rel).replace("\n", "")


def test_sar_government(gaz: Any) -> None:
    _, agencies, _ = run(gaz, corpus_text("txt/cec_raw/cec_261.txt"))
    assert key(by_name(agencies)["澳门特别行政区政府"]) == ("government", "provincial", "820000")


def test_bare_government_after_its_party_committee(gaz: Any) -> None:
    # 云阳县委县政府高度重视 (CEC, Chongqing): the bare 县政府 is 云阳县's, whatever the article's county.
    _, agencies, _ = run(gaz, corpus_text("txt/cec_raw/cec_106.txt"))
    assert key(by_name(agencies)["云阳县人民政府"]) == ("government", "county", "500235")


def test_township_government_and_police_station_take_the_county_before_them(gaz: Any) -> None:
    # 被告甘肃省岷县茶埠镇人民政府 (administrative public-interest suit): a township folds into its county.
    _, agencies, _ = run(gaz, joined("txt/court_cases/case_admin_098.txt"))
    govs = [a for a in agencies if a["type"] == "government"]
    assert [key(a) for a in govs] == [("government", "county", "621126")]
    assert govs[0]["name"] == "岷县茶埠镇人民政府"
    # 甘肃省民乐县某派出所 (anonymised) and 黄岩区北洋镇派出所 (CEC).
    _, agencies, _ = run(gaz, joined("txt/court_cases/case_crim_002.txt"))
    assert ("public_security", "county", "620722") in {key(a) for a in agencies}
    _, agencies, _ = run(gaz, corpus_text("txt/cec_raw/cec_236.txt"))
    assert key(by_name(agencies)["黄岩区北洋镇派出所"]) == ("public_security", "county", "331003")
    # 和平 (a town's name) is not read as the conjunction 和.
    assert key(by_name(run(gaz, "榆中县和平镇政府组织群众转移。")[1])["榆中县和平镇政府"]) == ("government", "county", "620123")
    # A town government with no county known is dropped rather than guessed.
    assert run(gaz, "镇政府工作人员赶到现场。")[1] == []


def test_anonymised_court(gaz: Any) -> None:
    # 某法院 in a Gansu state-compensation case: a basic court of the article's region.
    _, agencies, _ = run(gaz, joined("txt/court_cases/case_compens_015.txt"))
    keys = {key(a) for a in agencies}
    assert ("court", "basic", "620000") in keys and ("court", "high", "620000") in keys


def test_development_zone_and_municipal_special_courts(gaz: Any) -> None:
    # 广东省湛江市湛江经济技术开发区人民法院（以下简称湛江开发区法院）: no GB/T code of its own.
    text = joined("txt/court_cases/case_exec_016.txt")
    part = text[text.index("海南省高级人民法院（以下简称海南高院）") :]
    _, agencies, _ = run(gaz, part)
    keys = {key(a) for a in agencies}
    assert {("court", "basic", "440800"), ("court", "intermediate", "440800"), ("court", "high", "460000")} <= keys
    # 北京知识产权法院 is the city's court (110100), like 兰州铁路运输法院 (620100).
    _, agencies, _ = run(gaz, joined("txt/court_cases/case_admin_096.txt"))
    assert key(by_name(agencies)["北京知识产权法院"]) == ("court", "special", "110100")


def test_forest_district_courts(gaz: Any) -> None:
    # 甘肃省洮河林区法院 (Gannan) and 甘肃省祁连山林区法院 (named after a range; the case is in Zhangye).
    _, agencies, _ = run(gaz, joined("txt/court_cases/case_crim_006.txt"))
    assert ("court", "special", "623000") in {key(a) for a in agencies}
    _, agencies, _ = run(gaz, joined("txt/court_cases/case_crim_008.txt"))
    keys = {key(a) for a in agencies}
    assert ("court", "special", "620700") in keys and ("procuratorate", "special", "620700") in keys


def test_bingtuan_division_courts_and_defined_short_forms(gaz: Any) -> None:
    # 新疆生产建设兵团第八师中级人民法院: the 8th Division shares 石河子市's code (659001).
    text = joined("txt/court_cases/case_crim_001.txt")
    _, agencies, _ = run(gaz, text[text.index("刘某林等销售伪劣种子案") :])
    assert ("court", "intermediate", "659001") in {key(a) for a in agencies}
    # 第四师中级人民法院（以下简称四师中院）… 向四师中院申请: the short form is that court, not the
    # article's own 中院 (Yining is named elsewhere in the case).
    text = joined("txt/court_cases/case_exec_039.txt")
    _, agencies, mentions = run(gaz, text[text.index("某典当公司与某房地产公司") : text.index("济南某某公司与茌平某某公司")])
    courts = {key(a) for a in agencies if a["type"] == "court" and a["level"] == "intermediate"}
    assert courts == {("court", "intermediate", "659008")}
    assert "四师中院" in {m["surface"] for m in mentions}


def test_fire_brigades_and_forest_police(gaz: Any) -> None:
    _, agencies, _ = run(gaz, corpus_text("txt/cec_raw/cec_215.txt"))
    assert key(by_name(agencies)["汕头市公安消防支队"]) == ("public_security", "prefectural", "440500")
    _, agencies, _ = run(gaz, corpus_text("txt/cec_raw/cec_018.txt"))
    assert key(by_name(agencies)["大理市森林公安局"]) == ("public_security", "county", "532901")


def test_other_countries_organs_are_not_national_organs(gaz: Any) -> None:
    _, agencies, _ = run(gaz, "美国最高法院周一裁定，美国司法部和该国国务院表示尊重。我国最高人民法院也发布了意见。")
    assert [a["name"] for a in agencies] == ["最高人民法院"]


def test_departments_named_by_their_field_after_a_place(gaz: Any) -> None:
    # cec_161: a county's 公安 and 卫生 departments in one list -> its public security bureau and its government
    _, agencies, _ = run(gaz, "前日下午，湛江市徐闻县下桥镇糖厂小学发生一起严重食物中毒事件。徐闻县公安、卫生等部门已展开调查。")
    assert {key(a) for a in agencies} == {("public_security", "county", "440825"), ("government", "county", "440825")}
    assert by_name(agencies)["徐闻县公安局"]["mentions"] == ["徐闻县公安"]
    # a level character stands for the story's own place; each field folds into its organ once
    _, agencies, _ = run(gaz, "兰州市城关区一处民房起火。市公安、安监、卫生等部门赶赴现场，一位区卫生部门工作人员说。")
    assert {key(a) for a in agencies} == {
        ("public_security", "prefectural", "620100"),
        ("government", "prefectural", "620100"),
        ("government", "county", "620102"),
    }
    # a field's department after a place, alone; the fire service by the place's level
    _, agencies, _ = run(gaz, "黄金周期间，肇庆旅游部门介绍，鼎湖山游客如织。陕西消防部门提醒游客注意防火。")
    assert {a["name"] for a in agencies} == {"肇庆市人民政府", "陕西省公安消防总队"}


def test_field_lists_without_a_place_name_no_organ(gaz: Any) -> None:
    # 当地 / 组织 / 会同 name no place; 卫生部门 alone is neither an organ nor the ministry 卫生部
    body = "兰州市城关区发生火灾。当地公安、消防、卫生等部门赶到。会同工商、质监、食药、商务等部门检查。卫生部门称。"
    _, agencies, _ = run(gaz, body)
    assert agencies == []
    # a list whose items are not all fields stops at the first that is not (医院): only the organs named in full
    _, agencies, _ = run(gaz, "宁城县委、县政府、公安局、卫生局、医院等部门")
    assert {a["name"] for a in agencies} == {"中共宁城县委员会", "宁城县人民政府"}


def test_organs_of_countries_named_before_them_are_not_chinas(gaz: Any) -> None:
    """A country's name (countries.csv) or its one-character short form right before a national organ
    makes it that country's; a short form after a numeral is a date. Sentences from real reports
    (xml/sogoucs, a 新华社 wire on Syria; a 外交部 briefing)."""
    _, agencies, _ = run(gaz, "叙外交部发言人马克迪西说，反政府武装发动袭击。叙利亚外交部16日发表声明，摩洛哥外交部以叙利亚局势为由驱逐大使。")
    assert agencies == []
    _, agencies, _ = run(gaz, "美司法部、俄国防部相继表态。")
    assert agencies == []
    _, agencies, _ = run(gaz, "16日外交部发言人表示，中方对此表示关切。")
    assert [key(a) for a in agencies] == [("government", "national", "000000")]


def test_an_organ_cited_as_a_documents_issuer_is_not_an_actor(gaz: Any) -> None:
    """最高人民法院《关于…》 and 最高人民法院在《…》中 cite a document by its issuer (real court digest,
    txt/court_cases/case_civil_079.txt); the same organ acting in the story is still listed."""
    cited = "根据最高人民法院《关于审理侵犯植物新品种权纠纷案件具体应用法律问题的若干规定》第二条，最高人民法院在《关于审理专利纠纷案件的规定》中也明确了此点。"
    _, agencies, _ = run(gaz, cited)
    assert agencies == []
    _, agencies, _ = run(gaz, cited + "此后，最高人民法院发布指导性案例。")
    assert [key(a) for a in agencies] == [("court", "supreme", "000000")]
