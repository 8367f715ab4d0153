"""Every table the pipeline publishes, declared once.

Each column has its Arrow type and a one-line description. The Parquet writer stores the
descriptions as field metadata; the data dictionary, ``datapackage.json``, ``validate`` and the
dashboard's labels are all generated from these declarations, so nothing else may restate them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

TIMEZONE = "Asia/Shanghai"

# Closed vocabularies. Kept here (not in label code) because validate and the dashboard check them.
SOURCE_FORMATS = ("page_text", "plain_text", "court_digest", "html", "jsonl", "json", "csv", "sogou_xml", "warc", "wet")
SCOPES = ("local", "national", "foreign", "none")
AGENCY_TYPES = (
    "court",
    "procuratorate",
    "public_security",
    "justice",
    "political_legal",
    "discipline",
    "party",
    "government",
    "congress",
)
AGENCY_LEVELS = ("supreme", "high", "intermediate", "basic", "special", "national", "provincial", "prefectural", "county")


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str
    nullable: bool = True
    # Short human label for the dashboard, in (Chinese, English).
    label: tuple[str, str] | None = None

    def field(self) -> pa.Field:
        return pa.field(self.name, self.type, nullable=self.nullable, metadata={"description": self.description})


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    column_index: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_index", {c.name: c for c in self.columns})

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([c.field() for c in self.columns], metadata={"table": self.name, "description": self.description})

    def __getitem__(self, name: str) -> Column:
        return self.column_index[name]

    def subset(self, *names: str) -> tuple[str, ...]:
        """``names``, each checked to be a column of this table (a reader's list of the columns it needs
        fails at import, naming the column, when a column is renamed or dropped here)."""
        unknown = [n for n in names if n not in self.column_index]
        if unknown:
            raise SchemaError(f"{self.name} has no columns {unknown} (see pipelines/schema.py)")
        return names

    def from_records(self, records: Sequence[Mapping[str, Any]]) -> pa.Table:
        """Build a table from dicts; missing keys become nulls, unknown keys are an error."""
        names = set(self.names)
        for rec in records:
            extra = set(rec) - names
            if extra:
                raise KeyError(f"{self.name}: unknown columns {sorted(extra)}")
        arrays = [pa.array([rec.get(c.name) for rec in records], type=c.type) for c in self.columns]
        return pa.Table.from_arrays(arrays, schema=self.arrow_schema())

    def conform(self, table: pa.Table) -> pa.Table:
        """Return ``table`` with exactly this schema: column order, types, descriptions.

        Missing nullable columns are filled with nulls; a missing non-nullable column, a column that
        cannot be cast, or a null in a non-nullable column raises ``SchemaError``.
        """
        out = []
        for col in self.columns:
            if col.name in table.column_names:
                arr = table.column(col.name)
                if arr.type != col.type:
                    try:
                        arr = arr.cast(col.type)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                        raise SchemaError(f"{self.name}.{col.name}: cannot cast {arr.type} to {col.type}: {exc}") from exc
            elif col.nullable:
                arr = pa.nulls(table.num_rows, type=col.type)
            else:
                raise SchemaError(f"{self.name}: missing required column {col.name}")
            if not col.nullable and arr.null_count:
                raise SchemaError(f"{self.name}.{col.name}: {arr.null_count} nulls in a required column")
            out.append(arr)
        return pa.Table.from_arrays(out, schema=self.arrow_schema())

    def empty(self) -> pa.Table:
        return self.arrow_schema().empty_table()

    def enforce(self, table: pa.Table) -> pa.Table:
        """``table`` exactly as this table is declared, or ``SchemaError``: the check of every Parquet write.

        In the spirit of PUDL's ``enforce_schema``: the declared columns in the declared order, with
        their types and descriptions. A column of another type is cast only where the cast loses
        nothing (see ``_lossless``; values that do not fit fail it). Unlike ``conform``, which reads
        older files, nothing is made up: a missing column, an undeclared one, a type that needs a
        lossy cast and a null in a required column are errors naming the table and the column.
        """
        schema = self.arrow_schema()
        if table.schema.equals(schema, check_metadata=True):
            return table  # what every writer of the pipeline hands in: no copy, no cast
        undeclared = [n for n in table.column_names if n not in self.column_index]
        if undeclared:
            raise SchemaError(f"{self.name}: columns {undeclared} are not declared in pipelines/schema.py")
        out = []
        for col in self.columns:
            if col.name not in table.column_names:
                raise SchemaError(f"{self.name}.{col.name}: missing (declared {col.type})")
            arr = table.column(col.name)
            if arr.type != col.type:
                arr = _lossless(arr, col.type, f"{self.name}.{col.name}")
            if not col.nullable and arr.null_count:
                raise SchemaError(f"{self.name}.{col.name}: {arr.null_count} nulls in a required column")
            out.append(arr)
        return pa.Table.from_arrays(out, schema=schema)

    def check(self, schema: pa.Schema, where: str) -> None:
        """Raise ``SchemaError`` unless ``schema`` (a written file's, e.g. from ``pq.read_schema``) has this
        table's columns, in the declared order, with the declared types.

        For files this pipeline does not write through ``enforce`` (the aggregates, which DuckDB writes).
        A list's item name is not compared (Parquet gives ``list<item: T>`` back as ``list<element: T>``),
        nor is nullability: DuckDB marks a column required from what it knows of the input, so that
        differs between datasets (``pipelines.store.check_parquet`` checks the null counts instead).
        """
        have, want = schema.names, self.names
        if have != want:
            missing = [n for n in want if n not in have]
            undeclared = [n for n in have if n not in self.column_index]
            detail = f"missing {missing}" if missing else f"undeclared {undeclared}" if undeclared else f"order {have}"
            raise SchemaError(f"{where}: columns are not {self.name} as declared in pipelines/schema.py ({detail})")
        for col in self.columns:
            written = schema.field(col.name).type
            if written != col.type:
                raise SchemaError(f"{where}: {self.name}.{col.name} is {written}, declared {col.type}")


class SchemaError(ValueError):
    pass


def _family(type_: pa.DataType) -> str | None:
    """What a scalar type's values are, whatever their width: a cast within a family keeps their meaning."""
    t = pa.types
    for name, test in (("integer", t.is_integer), ("text", t.is_string), ("text", t.is_large_string),
                       ("bytes", t.is_binary), ("bytes", t.is_large_binary), ("boolean", t.is_boolean)):
        if test(type_):
            return name
    return None


def _same_kind(have: pa.DataType, want: pa.DataType) -> bool:
    """A cast from ``have`` to ``want`` keeps every value's meaning (only a width or a nesting name changes)."""
    t = pa.types
    if have == want or t.is_null(have):
        return True
    if t.is_dictionary(have):
        return _same_kind(have.value_type, want)
    if t.is_timestamp(want):  # a naive or other-zone timestamp would be read as another instant
        return t.is_timestamp(have) and have.tz == want.tz
    if t.is_list(want) or t.is_large_list(want):  # Parquet gives list<item: T> back as list<element: T>
        return (t.is_list(have) or t.is_large_list(have)) and _same_kind(have.value_type, want.value_type)
    if t.is_struct(want):
        return (t.is_struct(have) and [f.name for f in have] == [f.name for f in want]
                and all(_same_kind(h.type, w.type) for h, w in zip(have, want, strict=True)))
    if t.is_floating(want):  # a narrower float rounds: only widening (an integer that does not fit fails the cast)
        return t.is_floating(have) and have.bit_width <= want.bit_width
    return _family(want) is not None and _family(have) == _family(want)


def _lossless(column: pa.ChunkedArray, want: pa.DataType, where: str) -> pa.ChunkedArray:
    """``column`` cast to ``want`` where no value changes: the same kind of type, and values that fit."""
    if not _same_kind(column.type, want):
        raise SchemaError(f"{where}: is {column.type}, declared {want}")
    try:
        cast = column.cast(want, safe=True)  # safe: an integer that overflows or a time cut to a coarser unit fails
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"{where}: cannot cast {column.type} to {want} without losing values: {exc}") from exc
    return cast


_STR = pa.string()
_STRS = pa.list_(pa.string())

EVIDENCE = pa.struct(
    [
        pa.field("signal", _STR),  # breadcrumb | outlet | dateline | title | body | url
        pa.field("surface", _STR),  # the text that fired
        pa.field("code", _STR),  # GB/T 2260 code it resolved to
        pa.field("offset", pa.int32()),  # character offset in body (null when not in body)
    ]
)
AGENCY = pa.struct(
    [
        pa.field("name", _STR),
        pa.field("type", _STR),
        pa.field("level", _STR),
        pa.field("region_code", _STR),
        pa.field("mentions", _STRS),
    ]
)
TOPIC_EVIDENCE = pa.struct([pa.field("topic", _STR), pa.field("terms", _STRS), pa.field("score", pa.float32())])


ARTICLES = Table(
    name="articles",
    description="One row per article read from the input: metadata, cleaned body and region/agency/topic labels.",
    primary_key=("article_id",),
    columns=(
        Column("article_id", _STR, "Stable id: first 16 hex digits of SHA-256 over source_file and source_record.", False, ("文章ID", "Article id")),
        Column("source_file", _STR, "Path of the input file relative to --input, POSIX separators.", False, ("源文件", "Source file")),
        Column("source_record", _STR, "Record index or WARC record id inside a multi-record file; null for one-article files.", True, ("记录", "Record")),
        Column("source_format", _STR, "Reader that produced the row: " + ", ".join(SOURCE_FORMATS) + ".", False, ("格式", "Format")),
        Column("content_hash", _STR, "SHA-256 (hex, 32 digits) of the normalised title and body; equal hashes mean identical stories.", False, ("内容哈希", "Content hash")),
        Column("url", _STR, "Canonical URL of the page when known.", True, ("链接", "URL")),
        Column("site", _STR, "Host site the page was scraped from, without www./m. (e.g. yybnet.net).", True, ("网站", "Site")),
        Column("outlet", _STR, "Original publisher named by the page (e.g. 兰州日报), distinct from the host site.", True, ("媒体", "Outlet")),
        Column("title", _STR, "Headline, NFKC-normalised.", True, ("标题", "Title")),
        Column("published_at", pa.timestamp("ms", tz=TIMEZONE), "Publication time in Asia/Shanghai; midnight when only the date is known; null when unknown.", True, ("发布时间", "Published")),
        Column("published_at_source", _STR, "Signal that gave published_at: source_line, date_line, meta, record_field, url_path, body, warc_date.", True, ("时间来源", "Date source")),
        Column("breadcrumb", _STRS, "Site breadcrumb trail without the site root and the final 正文 (e.g. [甘肃, 兰州市, 兰州新闻]).", True, ("面包屑", "Breadcrumb")),
        Column("byline", _STRS, "Reporters named in the byline.", True, ("记者", "Byline")),
        Column("body", _STR, "The story alone: navigation, breadcrumbs, recommendations, comments, sidebars and footers removed.", True, ("正文", "Body")),
        Column("body_chars", pa.int32(), "Number of characters in body.", False, ("字数", "Characters")),
        Column("quality_flags", _STRS, "Quality flags: empty_body (title only), no_title, no_date, truncated (stored body cut at 20M characters), label_truncated (labels decided on the first max_body_chars of data/label_budget.toml), mojibake.", True, ("质量标记", "Quality flags")),
        Column("simhash", pa.int64(), "64-bit SimHash of the body's character 4-grams (signed); near-duplicates differ in few bits.", True, ("指纹", "SimHash")),
        Column("duplicate_of", _STR, "article_id of the first-seen copy when this row is an exact or near duplicate; null for originals.", True, ("重复于", "Duplicate of")),
        Column("scope", _STR, "Geographic scope of the story: local, national, foreign or none.", True, ("范围", "Scope")),
        Column("province_code", _STR, "GB/T 2260 code of the province the story is about (e.g. 620000).", True, ("省代码", "Province code")),
        Column("prefecture_code", _STR, "GB/T 2260 code of the prefecture the story is about (e.g. 620100); null if not supported by evidence.", True, ("市代码", "Prefecture code")),
        Column("county_code", _STR, "GB/T 2260 code of the county the story is about (e.g. 620102); null if not supported by evidence.", True, ("县代码", "County code")),
        Column("province", _STR, "Full name of the province (e.g. 甘肃省).", True, ("省", "Province")),
        Column("prefecture", _STR, "Full name of the prefecture (e.g. 兰州市).", True, ("市", "Prefecture")),
        Column("county", _STR, "Full name of the county (e.g. 城关区).", True, ("县", "County")),
        Column("region_confidence", pa.float32(), "Confidence in the whole region label (scope and every code), 0-1; eval/RESULTS.md shows how often labels at each confidence were right.", True, ("地区置信度", "Region confidence")),
        Column("region_evidence", pa.list_(EVIDENCE), "Signals that decided the region: signal, surface text, code, body offset.", True, ("地区依据", "Region evidence")),
        Column("agencies", pa.list_(AGENCY), "Agencies named in the body, canonicalised: name, type, level, region_code, surface mentions.", True, ("机构", "Agencies")),
        Column("topics", _STRS, "Topic ids from the taxonomy (multi-label).", True, ("主题", "Topics")),
        Column("topic_evidence", pa.list_(TOPIC_EVIDENCE), "Per topic, the taxonomy terms that fired and the score.", True, ("主题依据", "Topic evidence")),
    ),
)

REJECTS = Table(
    name="rejects",
    description="One row per input file or record that produced no article, with the reason.",
    primary_key=("source_file", "source_record"),
    columns=(
        Column("source_file", _STR, "Path of the input file relative to --input, POSIX separators.", False, ("源文件", "Source file")),
        Column("source_record", _STR, "Record index or WARC record id inside a multi-record file; null when the whole file is rejected.", True, ("记录", "Record")),
        Column("source_format", _STR, "Reader that was tried, when one was chosen.", True, ("格式", "Format")),
        Column("reason", _STR, "Reject reason code (see pipelines.read.errors.REASONS).", False, ("原因", "Reason")),
        Column("detail", _STR, "Human-readable detail: what was wrong and where.", True, ("详情", "Detail")),
        Column("size_bytes", pa.int64(), "Size of the file (or record) in bytes.", True, ("字节", "Bytes")),
    ),
)

AGENCY_MENTIONS = Table(
    name="agency_mentions",
    description="One row per agency mention in an article body (long form of articles.agencies).",
    primary_key=("article_id", "offset"),
    columns=(
        Column("article_id", _STR, "Article the mention is in.", False, ("文章ID", "Article id")),
        Column("name", _STR, "Canonical agency name (e.g. 兰州市中级人民法院).", False, ("机构", "Agency")),
        Column("type", _STR, "Agency type: " + ", ".join(AGENCY_TYPES) + ".", False, ("类型", "Type")),
        Column("level", _STR, "Agency level: " + ", ".join(AGENCY_LEVELS) + ".", True, ("级别", "Level")),
        Column("region_code", _STR, "GB/T 2260 code of the jurisdiction; 000000 for national organs.", True, ("辖区代码", "Jurisdiction code")),
        Column("surface", _STR, "Text as written in the body (e.g. 兰州中院).", False, ("原文", "Surface form")),
        Column("offset", pa.int32(), "Character offset of the mention in the body.", False, ("位置", "Offset")),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in (ARTICLES, REJECTS, AGENCY_MENTIONS)}

# --- the full-text search index ----------------------------------------------------------------------
# Published in ``search/`` beside the tables (``pipelines/publish/search_index.py`` writes it,
# ``dashboard/search.py`` reads it). Every title and body is indexed by its character trigrams with
# their positions, so a term of two or more characters is found without reading any text, and the
# positions make the answer exact (a match, never a candidate). Segments are immutable and shared by
# the snapshots that hold them; ``search/rows.parquet`` ties them to one snapshot's ``article_facts``.
SEARCH_SEP = 0  # code point written after a title and after a body: no n-gram spans two fields or two articles
NGRAM_BITS = 21  # bits per code point in a trigram key (Unicode needs 21)


def trigram_key(a: int, b: int, c: int) -> int:
    """The ``search_postings.key`` of the three code points a, b, c (keys sort as the strings do)."""
    return (a << (2 * NGRAM_BITS)) | (b << NGRAM_BITS) | c


SEARCH_POSTINGS = Table(
    name="search_postings",
    description="Search index, one row per character trigram of every title and body (a segment per file, sorted by key, doc, off).",
    primary_key=("key", "doc", "off"),
    columns=(
        Column("key", pa.int64(), f"The trigram's three Unicode code points, {NGRAM_BITS} bits each (see pipelines.schema.trigram_key); a third code point {SEARCH_SEP} marks the end of a title or body.", False),
        Column("doc", pa.int64(), "The article's number in the index (search_docs.doc).", False),
        Column("off", pa.int32(), "Character offset of the trigram from the start of the body; negative in the title (the title ends at -1).", False),
    ),
)
SEARCH_DOCS = Table(
    name="search_docs",
    description="Search index, one row per indexed article: its number, where it comes from and its text (for snippets and highlighting).",
    primary_key=("doc",),
    columns=(
        Column("doc", pa.int64(), "The article's number in the index, unique across the segments of a dataset.", False),
        Column("part", _STR, "Parsed part the article was read into (articles/part-<part>.parquet).", False),
        Column("article_id", _STR, "articles.article_id.", False),
        Column("title", _STR, "articles.title as indexed ('' when null)."),
        Column("body", _STR, "articles.body as indexed ('' when null)."),
    ),
)
SEARCH_ROWS = Table(
    name="search_rows",
    description="Search index of one snapshot: which row of aggregates/article_facts.parquet each live indexed article is (articles no longer published are absent).",
    primary_key=("doc",),
    columns=(
        Column("doc", pa.int64(), "search_docs.doc.", False),
        Column("facts_row", pa.int64(), "Row number of the article in aggregates/article_facts.parquet.", False),
    ),
)
SEARCH_TABLES: dict[str, Table] = {t.name: t for t in (SEARCH_POSTINGS, SEARCH_DOCS, SEARCH_ROWS)}

# Columns the label stage owns; the parse stage leaves them null.
REGION_COLUMNS = (
    "scope",
    "province_code",
    "prefecture_code",
    "county_code",
    "province",
    "prefecture",
    "county",
    "region_confidence",
    "region_evidence",
)
LABEL_COLUMNS = (
    *REGION_COLUMNS,
    "agencies",
    "topics",
    "topic_evidence",
)
PARSED_COLUMNS = tuple(n for n in ARTICLES.names if n not in LABEL_COLUMNS and n != "duplicate_of")
PARSED = Table(
    name="parsed",
    description="Internal stage table: articles before labelling (kept so a new gazetteer or taxonomy relabels without re-reading inputs).",
    primary_key=("article_id",),
    columns=tuple(ARTICLES[n] for n in PARSED_COLUMNS),
)

# Internal tables of the work store (.store): what a rerun must read, and the duplicate marks of a part.
INPUT_MANIFEST = Table(
    name="inputs",
    description="Internal: one row per input file the build has seen, with what reading it gave (the rerun plan's memory).",
    primary_key=("source_file",),
    columns=(
        Column("source_file", _STR, "Path of the input file relative to --input, POSIX separators.", False),
        Column("size", pa.int64(), "File size in bytes when it was read."),
        Column("mtime_ns", pa.int64(), "Modification time (ns) when it was read; size and mtime unchanged means not read again."),
        Column("sha256", _STR, "SHA-256 of the file's bytes ('' when it could not be read)."),
        Column("part_id", _STR, "The part holding this file's parsed rows and rejects."),
        Column("seq", pa.int64(), "Ingest order of the part (duplicates are decided in this order)."),
        Column("articles", pa.int32(), "Articles the file produced."),
        Column("rejects", pa.int32(), "Rejects the file produced."),
    ),
)
WALK = Table(
    name="walk",
    description="Internal: what the walk of --input found, one row per file that is not ignored, in walk order.",
    columns=(
        Column("rel", _STR, "Path relative to the input root.", False),
        Column("path", pa.binary(), "os.fsencode'd absolute path where it is not root/rel (a name with undecodable bytes is no valid string)."),
        Column("size", pa.int64(), "File size in bytes."),
        Column("mtime_ns", pa.int64(), "Modification time in ns."),
        Column("problem", _STR, "A reject reason found while walking (symlink loop, unreadable folder...)."),
        Column("detail", _STR, "Detail of the problem."),
        Column("order", pa.int64(), "Position in walk order."),
    ),
)
DUPLICATES = Table(
    name="duplicates",
    description="Internal: a part's duplicate marks, written by the dedupe phase and read when the part is labelled.",
    primary_key=("article_id",),
    columns=(
        Column("article_id", _STR, "The article that repeats an earlier one.", False),
        Column("duplicate_of", _STR, "The first-seen copy's article_id.", False),
    ),
)


def describe(tables: Iterable[Table] = TABLES.values()) -> str:
    """Markdown data dictionary for the given tables."""
    lines: list[str] = []
    for t in tables:
        lines += [f"### `{t.name}`", "", t.description, "", "| column | type | description |", "|---|---|---|"]
        lines += [f"| `{c.name}` | `{c.type}` | {c.description} |" for c in t.columns]
        lines.append("")
    return "\n".join(lines)


# --- aggregate tables -------------------------------------------------------------------------------
# Small tables derived at publish time from the published articles (view ``a``, with DuckDB's
# ``filename`` and ``file_row_number``) and agency mentions (view ``m``), each declared as a ``Table``
# with the SELECT that computes it: ``pipelines/publish/aggregates.py`` writes them (DuckDB ``COPY``
# of ``Aggregate.select()``, which casts the SELECT's columns to the declared types in the declared
# order), and the dashboard derives a missing one from an older dataset with the same SQL.


def key(list_sql: str) -> str:
    """SQL for a list as one delimited string, '|a|b|' (sorted; '|' inside values becomes '¦').

    Filtering ``contains(topic_key, '|courts|')`` is ~10x faster than ``list_contains(topics, ...)``
    on Parquet (a plain, mostly dictionary-encoded string instead of a nested list).
    """
    return f"('|' || array_to_string(list_sort(list_transform({list_sql}, lambda v: replace(v, '|', '¦'))), '|') || '|')"


def key_of(value: str) -> str:
    """The search string matching ``value`` in a ``key`` column."""
    return "|" + value.replace("|", "¦") + "|"


COVERAGE_SQL = """
WITH base AS (
  SELECT CAST(timezone('Asia/Shanghai', published_at) AS DATE) AS day,
         province_code, prefecture_code, county_code, scope,
         outlet, site, duplicate_of IS NULL AS is_original, topics
  FROM a
)
SELECT day, province_code, prefecture_code, county_code, scope, outlet, site, is_original,
       '*' AS topic, count(*)::INTEGER AS articles
FROM base GROUP BY ALL
UNION ALL
SELECT day, province_code, prefecture_code, county_code, scope, outlet, site, is_original,
       topic, count(*)::INTEGER AS articles
FROM (SELECT *, unnest(topics) AS topic FROM base)
GROUP BY day, province_code, prefecture_code, county_code, scope, outlet, site, is_original, topic
ORDER BY day, province_code, prefecture_code, county_code, topic
"""

AGENCY_DAILY_SQL = """
SELECT CAST(timezone('Asia/Shanghai', a.published_at) AS DATE) AS day,
       m.name, m.type, m.level, m.region_code,
       a.province_code, a.prefecture_code, a.county_code,
       a.duplicate_of IS NULL AS is_original,
       count(DISTINCT m.article_id)::INTEGER AS articles, count(*)::INTEGER AS mentions
FROM m JOIN a USING (article_id)
GROUP BY ALL
ORDER BY day, m.name
"""

AGENCY_ARTICLES_SQL = f"""
WITH per AS (
  SELECT article_id, name, any_value(type) AS type, any_value(level) AS level,
         any_value(region_code) AS region_code, count(*)::INTEGER AS mentions,
         list_sort(list_distinct(list(surface))) AS surfaces
  FROM m GROUP BY article_id, name
)
SELECT per.article_id, CAST(timezone('Asia/Shanghai', a.published_at) AS DATE) AS day,
       per.name, per.type, per.level, per.region_code, per.mentions, per.surfaces,
       row_number() OVER (PARTITION BY per.article_id, per.type, per.level ORDER BY per.name) = 1 AS first_of_type_level,
       a.province_code, a.prefecture_code, a.county_code, a.outlet, a.site,
       a.duplicate_of IS NULL AS is_original, coalesce(a.topics, []) AS topics, left(a.title, 300) AS title,
       {key("coalesce(a.topics, [])")} AS topic_key
FROM per JOIN a USING (article_id)
ORDER BY day DESC NULLS LAST, per.name, per.article_id
"""

ARTICLE_FACTS_SQL = f"""
WITH ag AS (
  SELECT article_id, list_sort(list_distinct(list(name))) AS agency_names,
         list_sort(list_distinct(list(type))) AS agency_types
  FROM m GROUP BY article_id
)
SELECT a.article_id, CAST(timezone('Asia/Shanghai', a.published_at) AS DATE) AS day,
       a.province_code, a.prefecture_code, a.county_code, a.outlet, a.site,
       a.duplicate_of IS NULL AS is_original,
       coalesce(a.topics, []) AS topics, coalesce(a.quality_flags, []) AS quality_flags,
       coalesce(ag.agency_types, []) AS agency_types, coalesce(ag.agency_names, []) AS agency_names,
       left(a.title, 300) AS title,
       parse_filename(a.filename) AS part, a.file_row_number AS part_row,
       {key("coalesce(a.topics, [])")} AS topic_key, {key("coalesce(a.quality_flags, [])")} AS flag_key,
       {key("coalesce(ag.agency_types, [])")} AS agency_type_key, {key("coalesce(ag.agency_names, [])")} AS agency_key
FROM a LEFT JOIN ag USING (article_id)
ORDER BY day DESC NULLS LAST, a.article_id
"""


def sql_type(type_: pa.DataType) -> str:
    """The DuckDB type that DuckDB writes to Parquet as the Arrow type ``type_`` (for the aggregates' CASTs)."""
    if pa.types.is_list(type_):
        return sql_type(type_.value_type) + "[]"
    for arrow, sql in _SQL_TYPES:
        if type_ == arrow:
            return sql
    raise SchemaError(f"no DuckDB type is declared for {type_}")


_SQL_TYPES = (
    (pa.string(), "VARCHAR"),
    (pa.bool_(), "BOOLEAN"),
    (pa.int32(), "INTEGER"),
    (pa.int64(), "BIGINT"),
    (pa.float32(), "FLOAT"),
    (pa.float64(), "DOUBLE"),
    (pa.date32(), "DATE"),
)


@dataclass(frozen=True)
class Aggregate:
    """An aggregate table: its declaration and the SELECT over the views ``a`` and ``m`` that computes it."""

    table: Table
    sql: str

    def select(self) -> str:
        """``sql`` with exactly the declared columns, in the declared order, cast to the declared types."""
        cols = ",\n       ".join(f'CAST("{c.name}" AS {sql_type(c.type)}) AS "{c.name}"' for c in self.table.columns)
        return f"SELECT {cols}\nFROM ({self.sql}) AS {self.table.name}"


# Columns several aggregates share (an aggregate row describes an article, or a group of articles).
_DAY = Column("day", pa.date32(), "Publication day in Asia/Shanghai (articles.published_at); null when unknown.")
_PROVINCE = Column("province_code", _STR, "articles.province_code: GB/T 2260 code of the province the story is about.")
_PREFECTURE = Column("prefecture_code", _STR, "articles.prefecture_code: GB/T 2260 code of the prefecture the story is about.")
_COUNTY = Column("county_code", _STR, "articles.county_code: GB/T 2260 code of the county the story is about.")
_OUTLET = Column("outlet", _STR, "articles.outlet: the original publisher named by the page.")
_SITE = Column("site", _STR, "articles.site: the host site the page was scraped from.")
_ORIGINAL = Column("is_original", pa.bool_(), "True for an original (articles.duplicate_of is null), false for a duplicate.", False)
_ARTICLE = Column("article_id", _STR, "articles.article_id.", False)
_TOPICS = Column("topics", _STRS, "articles.topics ([] when none).", False)
_TITLE = Column("title", _STR, "articles.title cut to 300 characters.")
_TOPIC_KEY = Column(
    "topic_key", _STR, "topics as one delimited string, sorted (see pipelines.schema.key): filtered with contains() much faster than a list.", False
)
_AGENCY = Column("name", _STR, "agency_mentions.name: the canonical agency name.", False)
_AGENCY_TYPE = Column("type", _STR, "agency_mentions.type: the agency type.", False)
_AGENCY_LEVEL = Column("level", _STR, "agency_mentions.level: the agency level.")
_AGENCY_REGION = Column("region_code", _STR, "agency_mentions.region_code: GB/T 2260 code of the agency's jurisdiction.")

COVERAGE = Table(
    name="coverage",
    description="Article counts per (day, region, scope, outlet, site, original?, topic); topic '*' counts all articles (the denominator for shares).",
    columns=(
        _DAY, _PROVINCE, _PREFECTURE, _COUNTY,
        Column("scope", _STR, "articles.scope: local, national, foreign or none."),
        _OUTLET, _SITE, _ORIGINAL,
        Column("topic", _STR, "A topic id of the articles counted, or '*' for all of them."),
        Column("articles", pa.int32(), "Number of articles in the group.", False),
    ),
)  # fmt: skip
AGENCY_DAILY = Table(
    name="agency_daily",
    description="Articles and mentions per (day, agency, region of the article, original?).",
    columns=(
        _DAY, _AGENCY, _AGENCY_TYPE, _AGENCY_LEVEL, _AGENCY_REGION, _PROVINCE, _PREFECTURE, _COUNTY, _ORIGINAL,
        Column("articles", pa.int32(), "Number of distinct articles that name the agency.", False),
        Column("mentions", pa.int32(), "Number of mentions of the agency in them.", False),
    ),
)  # fmt: skip
ARTICLE_FACTS = Table(
    name="article_facts",
    description="One slim row per article, newest first: its dimensions, topics, quality flags and agencies, and where its row is (for filters, exact counts and article lists).",
    primary_key=("article_id",),
    columns=(
        _ARTICLE, _DAY, _PROVINCE, _PREFECTURE, _COUNTY, _OUTLET, _SITE, _ORIGINAL, _TOPICS,
        Column("quality_flags", _STRS, "articles.quality_flags ([] when none).", False),
        Column("agency_types", _STRS, "Distinct types of the agencies the article names, sorted ([] when none).", False),
        Column("agency_names", _STRS, "Distinct canonical names of the agencies the article names, sorted ([] when none).", False),
        _TITLE,
        Column("part", _STR, "File name of the article's row under articles/ (and of its mentions under agency_mentions/).", False),
        Column("part_row", pa.int64(), "Row number of the article in that articles/ file.", False),
        _TOPIC_KEY,
        Column("flag_key", _STR, "quality_flags as one delimited string (see topic_key).", False),
        Column("agency_type_key", _STR, "agency_types as one delimited string (see topic_key).", False),
        Column("agency_key", _STR, "agency_names as one delimited string (see topic_key).", False),
    ),
)  # fmt: skip
AGENCY_ARTICLES = Table(
    name="agency_articles",
    description="One row per (article, agency it names), newest first, with the article's dimensions and title (an agency's article list needs no other table).",
    primary_key=("article_id", "name"),
    columns=(
        _ARTICLE, _DAY, _AGENCY,
        Column("type", _STR, "agency_mentions.type: the agency type.", False),
        _AGENCY_LEVEL, _AGENCY_REGION,
        Column("mentions", pa.int32(), "Number of mentions of the agency in the article.", False),
        Column("surfaces", _STRS, "Distinct surface forms the agency is written as in the article, sorted.", False),
        Column("first_of_type_level", pa.bool_(), "True on one row per (article, agency type, level), so articles per type and level are counted without DISTINCT.", False),
        _PROVINCE, _PREFECTURE, _COUNTY, _OUTLET, _SITE, _ORIGINAL, _TOPICS, _TITLE, _TOPIC_KEY,
    ),
)  # fmt: skip

# file stem (aggregates/<stem>.parquet) -> its declaration and SELECT, in the order the build writes them
AGGREGATES: dict[str, Aggregate] = {
    agg.table.name: agg
    for agg in (
        Aggregate(COVERAGE, COVERAGE_SQL),
        Aggregate(AGENCY_DAILY, AGENCY_DAILY_SQL),
        Aggregate(ARTICLE_FACTS, ARTICLE_FACTS_SQL),
        Aggregate(AGENCY_ARTICLES, AGENCY_ARTICLES_SQL),
    )
}
AGGREGATE_TABLES: dict[str, Table] = {stem: agg.table for stem, agg in AGGREGATES.items()}
