"""Interface strings in Chinese and English.

Column labels come from ``pipelines.schema`` (``Column.label``) and topic labels from the taxonomy;
this module holds only the dashboard's own words. ``tr(key, lang)`` returns the string; a missing
key is a programming error and raises ``KeyError`` (tests render every page in both languages).
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

STRINGS: dict[str, tuple[str, str]] = {
    # app and navigation
    "app_title": ("甘肃法院与政府新闻", "Gansu courts & government news"),
    "page_overview": ("概览", "Overview"),
    "page_trends": ("趋势", "Trends"),
    "page_map": ("地图", "Map"),
    "page_agencies": ("机构", "Agencies"),
    "page_articles": ("文章", "Articles"),
    "page_quality": ("数据质量", "Data quality"),
    "language": ("语言 / Language", "语言 / Language"),
    # sidebar filters
    "filters": ("筛选", "Filters"),
    "date_range": ("日期范围", "Date range"),
    "province": ("省", "Province"),
    "prefecture": ("市（地区）", "Prefecture"),
    "county": ("县（区）", "County"),
    "topic": ("主题", "Topic"),
    "agency_type": ("机构类型", "Agency type"),
    "organ": ("机构", "Organ"),
    "outlet": ("媒体", "Outlet"),
    "site": ("网站", "Site"),
    "search": ("全文搜索（标题/正文）", "Full-text search (title/body)"),
    "search_help": (
        "空格分隔的词须全部出现（与）；\"精确短语\"；-词 排除；A OR B 任一即可。按原文逐字匹配（区分大小写），两个字及以上走索引。",
        'Space-separated terms must all occur (AND); "exact phrase"; -term excludes; A OR B matches either. Exact substring match (case-sensitive); terms of two or more characters use the index.',
    ),
    "search_in": ("搜索范围", "Search in"),
    "search_in_all": ("标题和正文", "Title and body"),
    "search_in_title": ("仅标题", "Title only"),
    "search_note_short": ("单字词无法用索引，已逐篇扫描全文（较慢）。", "One-character terms cannot use the index: every text was scanned (slow)."),
    "search_note_no_index": (
        "此数据集没有搜索索引（由旧版构建）：已逐篇扫描全文（较慢）。重新运行 build 即可生成索引。",
        "This dataset has no search index (built by older code): every text was scanned (slow). Rerun build to index it.",
    ),
    "search_err_quote": ("搜索语法有误：引号未闭合。搜索未生效。", "Search not applied: a quote is not closed."),
    "search_err_empty_phrase": ("搜索语法有误：引号中没有内容。搜索未生效。", "Search not applied: an empty phrase \"\"."),
    "search_err_or": ("搜索语法有误：OR 两侧都需要词。搜索未生效。", "Search not applied: OR needs a term on each side."),
    "search_err_dash": ("搜索语法有误：减号后需要紧跟要排除的词。搜索未生效。", "Search not applied: a minus sign needs the term to exclude right after it."),
    "search_err_neg_or": ("搜索语法有误：OR 不能连接排除词（-词）。搜索未生效。", "Search not applied: OR cannot join an excluded term (-term)."),
    "search_err_too_many": ("搜索语法有误：最多 8 个词。搜索未生效。", "Search not applied: at most 8 terms."),
    "snippet": ("匹配片段", "Match"),
    "ar_ev_search": ("搜索词", "Search term"),
    "searching": ("正在搜索…", "Searching…"),
    "search_hits": ("{n:,} 篇文章（含转载）符合搜索", "{n:,} articles (copies included) match the search"),
    "unique": ("只计独立报道（不计重复转载）", "Count unique stories (not copies)"),
    "unique_help": (
        "开：只计 duplicate_of 为空的原始报道；关：计入所有转载副本。",
        "On: only rows whose duplicate_of is empty (first-seen copies); off: every copy.",
    ),
    "all": ("（全部）", "(all)"),
    "reset": ("清除筛选", "Clear filters"),
    "download": ("下载筛选结果", "Download filtered articles"),
    "download_csv": ("CSV", "CSV"),
    "download_parquet": ("Parquet", "Parquet"),
    "download_note": (
        "按日期从新到旧最多 {n:,} 篇；完整数据见数据集文件。",
        "Newest first, at most {n:,} articles; the dataset files hold everything.",
    ),
    "share_link": ("筛选条件保存在网址中，可复制网址分享当前视图。", "Filters live in the URL: copy it to share this view."),
    # generic
    "articles": ("文章数", "Articles"),
    "share": ("占比", "Share"),
    "count": ("数量", "Count"),
    "mentions": ("提及次数", "Mentions"),
    "period": ("时间", "Period"),
    "unknown": ("未知", "unknown"),
    "none_match": ("没有符合当前筛选条件的文章。", "No articles match the current filters."),
    "matching": ("符合筛选的文章", "Articles matching filters"),
    "showing_top": ("显示最多的 {n} 项（共 {total} 项）", "Showing the {n} largest of {total}"),
    # overview
    "ov_dataset": ("整个数据集", "Whole dataset"),
    "ov_filtered": ("当前筛选", "Current filters"),
    "ov_articles": ("文章", "Articles"),
    "ov_unique": ("独立报道", "Unique stories"),
    "ov_outlets": ("媒体数", "Outlets"),
    "ov_sites": ("网站数", "Sites"),
    "ov_span": ("日期跨度", "Date span"),
    "ov_known_date": ("有日期的比例", "Share with known date"),
    "ov_known_region": ("有地区的比例", "Share with known region"),
    "ov_build": ("最近一次构建", "Latest build"),
    "ov_build_fields": ("构建信息", "Build details"),
    "ov_per_month": ("每月文章数（当前筛选）", "Articles per month (current filters)"),
    "ov_topics": ("主题分布（当前筛选）", "Topics (current filters)"),
    "ov_no_manifest": ("数据集中没有 manifest.json。", "The dataset has no manifest.json."),
    # trends
    "tr_by": ("分组", "Break down by"),
    "tr_by_topic": ("主题", "Topic"),
    "tr_by_region": ("地区", "Region"),
    "tr_by_agency_type": ("机构类型", "Agency type"),
    "tr_period": ("时间粒度", "Period"),
    "day": ("日", "Day"),
    "week": ("周", "Week"),
    "month": ("月", "Month"),
    "year": ("年", "Year"),
    "tr_measure": ("指标", "Measure"),
    "tr_count": ("文章数", "Article count"),
    "tr_share": ("占全部报道的比例", "Share of all coverage"),
    "tr_default": (
        "默认视图：甘肃各市（州）“执行难与法院执行”报道，按月。可在侧栏修改或清除筛选。",
        "Default view: court-enforcement coverage across Gansu's prefectures, by month. Change or clear the filters in the sidebar.",
    ),
    "tr_share_note": (
        "占比 = 该系列文章数 ÷ 同一时间、同一地区（按地区分组时）在相同日期/地区/媒体/网站/去重筛选下的全部文章数（coverage 中 topic='*' 的行）；分母不含主题、机构和搜索筛选。",
        "Share = the series' articles ÷ all articles in the same period (and the same region, when broken down by region) under the same date/region/outlet/site/unique filters (the topic '*' rows of coverage); the denominator ignores the topic, agency and search filters.",
    ),
    "tr_spike_note": (
        "▲ 峰值：数值高于前 6 个时段的中位数 + 3×MAD（中位数绝对偏差，至少按 1 篇或 1 个百分点计），且该时段至少 {min} 篇；至少需要 3 个前序时段。",
        "▲ spike: the value exceeds the median of the previous 6 periods + 3×MAD (median absolute deviation, at least 1 article or 1 percentage point) and the period has at least {min} articles; needs at least 3 previous periods.",
    ),
    "tr_spikes": ("峰值", "Spikes"),
    "tr_region_unknown": (
        "{n:,} 篇文章没有该级地区，未计入各地区曲线。",
        "{n:,} matching articles have no region at this level and are not in any region's line.",
    ),
    "tr_table": ("数据表", "Data table"),
    "series": ("系列", "Series"),
    "total": ("全部报道", "All coverage"),
    # map
    "mp_level": ("地图", "Map"),
    "mp_gansu_prefectures": ("甘肃各市（州）", "Gansu prefectures"),
    "mp_gansu_counties": ("甘肃各县（区）", "Gansu counties"),
    "mp_china_provinces": ("全国各省", "China's provinces"),
    "mp_select": ("选择地区（设为筛选条件）", "Select an area (sets the region filter)"),
    "mp_selected": ("已选地区", "Selected area"),
    "mp_note": (
        "地图显示本级各地区的分布：忽略本级及更细一级的地区筛选，其余筛选照常适用。点击地图上的地区或使用下拉框即可设为地区筛选。",
        "The map shows the distribution across its areas: region filters at its own level or finer are ignored, all other filters apply. Click an area, or use the select box, to make it the region filter.",
    ),
    "mp_no_static": (
        "服务器未开启静态文件服务，地图底图无法加载。请在仓库根目录运行：",
        "Static file serving is off, so the map's boundaries cannot load. Run the app from the repository root:",
    ),
    "area": ("地区", "Area"),
    "code": ("代码", "Code"),
    # agencies
    "ag_top": ("被提及最多的机构", "Most-mentioned organs"),
    "ag_type_level": ("按类型与级别", "By type and level"),
    "ag_over_time": ("随时间变化（前 {n} 个机构）", "Over time (top {n} organs)"),
    "ag_organ": ("机构详情", "Organ details"),
    "ag_pick": ("选择机构", "Choose an organ"),
    "ag_filter_by": ("在所有视图中按此机构筛选", "Filter every view by this organ"),
    "ag_articles": ("提及该机构的文章", "Articles mentioning this organ"),
    "ag_none": (
        "当前数据集或筛选中没有机构提及（机构标注可能尚未生成）。",
        "No agency mentions in this dataset or filter (agency labels may not have been produced yet).",
    ),
    "level": ("级别", "Level"),
    "jurisdiction": ("辖区", "Jurisdiction"),
    # articles
    "ar_sort": ("排序", "Sort"),
    "ar_newest": ("最新在前", "Newest first"),
    "ar_oldest": ("最早在前", "Oldest first"),
    "ar_title": ("标题 A→Z", "Title A→Z"),
    "ar_outlet": ("媒体 A→Z", "Outlet A→Z"),
    "ar_page": ("页码", "Page"),
    "ar_found": ("共 {n:,} 篇，第 {a:,}–{b:,} 篇", "{n:,} articles; showing {a:,}–{b:,}"),
    "ar_open": ("打开文章", "Open article"),
    "ar_pick_hint": ("在表格中选中一行，或从下拉框中选择文章。", "Select a row in the table, or pick an article from the list."),
    "ar_detail": ("文章详情", "Article"),
    "ar_source": ("打开原文链接", "Open the source page"),
    "ar_no_link": ("原文链接不是 http(s) 地址，不显示为链接：", "The source URL is not http(s), so it is not shown as a link:"),
    "ar_body": ("正文（高亮为标注依据）", "Body (evidence highlighted)"),
    "ar_legend": ("图例", "Legend"),
    "ar_ev_region": ("地区依据", "Region evidence"),
    "ar_ev_agency": ("机构提及", "Agency mentions"),
    "ar_ev_topic": ("主题依据", "Topic evidence"),
    "ar_truncated": ("正文过长，只显示前 {n:,} 个字符。", "The body is long; showing the first {n:,} characters."),
    "ar_not_found": ("找不到这篇文章（可能已被重新构建移除）。", "This article is not in the dataset (a rebuild may have removed it)."),
    "ar_empty_body": ("（正文为空）", "(empty body)"),
    "ar_close": ("关闭文章", "Close article"),
    "signal": ("信号", "Signal"),
    "surface": ("原文", "Surface"),
    "offset": ("位置", "Offset"),
    "terms": ("命中词", "Terms"),
    "score": ("得分", "Score"),
    "field": ("字段", "Field"),
    "value": ("值", "Value"),
    # data quality
    "dq_rejects": ("被拒文件/记录（按原因）", "Rejected files/records by reason"),
    "dq_rejects_note": ("被拒记录没有日期、地区等信息，不受筛选影响。", "Rejects have no date or region, so the filters do not apply to them."),
    "dq_no_rejects": ("没有被拒的文件或记录。", "No rejected files or records."),
    "dq_missing": ("缺少日期或地区的文章（按媒体）", "Articles without date or region (by outlet)"),
    "dq_missing_note": (
        "日期筛选会排除无日期文章，地区筛选会排除无地区文章，所以相应比例在这些筛选下为 0。",
        "A date filter excludes undated articles and a region filter excludes articles without a region, so those shares are 0 under such filters.",
    ),
    "dq_no_date": ("无日期", "No date"),
    "dq_no_region": ("无地区", "No region"),
    "dq_coverage": ("各媒体每月文章数", "Coverage by outlet and month"),
    "dq_flags": ("质量标记", "Quality flags"),
    "dq_derived": (
        "数据集缺少以下汇总表，已从文章表临时计算（较慢）。重新构建可生成：",
        "The dataset lacks these aggregate tables; they were derived from the articles on the fly (slower). Rebuild to create them:",
    ),
    "reason": ("原因", "Reason"),
    "bytes": ("字节", "Bytes"),
    # errors
    "err_title": ("无法显示数据集", "Cannot show the dataset"),
    "err_fix": ("修复方法：在仓库根目录运行", "To fix it, run from the repository root"),
    "err_no_dataset": ("找不到数据集文件夹：", "No dataset folder at:"),
    "err_not_dataset": ("该文件夹不是数据集，缺少：", "This folder is not a dataset; it lacks:"),
    "err_empty": ("数据集中没有任何文章：", "The dataset has no articles:"),
    "err_broken": ("数据集已损坏，无法读取：", "The dataset is broken and cannot be read:"),
    "err_unexpected": ("页面出错了。已记录在服务器日志中；请重试或重新构建数据集。", "This page hit an error. It is logged on the server; retry, or rebuild the dataset."),
    "err_input_hint": ("DIR 为存放抓取文件的文件夹。", "DIR is the folder with your scraped files."),
}

AGENCY_TYPE_LABELS: dict[str, tuple[str, str]] = {
    "court": ("法院", "Court"),
    "procuratorate": ("检察院", "Procuratorate"),
    "public_security": ("公安", "Public security"),
    "justice": ("司法行政", "Justice administration"),
    "political_legal": ("政法委", "Political-legal committee"),
    "discipline": ("纪检监察", "Discipline inspection"),
    "party": ("党委", "Party committee"),
    "government": ("政府", "Government"),
    "congress": ("人大", "People's congress"),
}

AGENCY_LEVEL_LABELS: dict[str, tuple[str, str]] = {
    "supreme": ("最高", "Supreme"),
    "high": ("高级", "High"),
    "intermediate": ("中级", "Intermediate"),
    "basic": ("基层", "Basic"),
    "special": ("专门", "Special"),
    "national": ("国家级", "National"),
    "provincial": ("省级", "Provincial"),
    "prefectural": ("市级", "Prefectural"),
    "county": ("县级", "County"),
}


def tr(key: str, lang: Lang, **fmt: object) -> str:
    zh, en = STRINGS[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text


def pick(pair: tuple[str, str] | None, lang: Lang, fallback: str = "") -> str:
    if not pair:
        return fallback
    return pair[0] if lang == "zh" else pair[1]
