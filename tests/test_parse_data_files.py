"""The parse stage's data files load as typed values, and a bad value names the file, the line and the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.errors import DataFileError
from pipelines.parse.boilerplate import DATA_FILE as BOILERPLATE
from pipelines.parse.boilerplate import load_boilerplate
from pipelines.parse.records import DATA_DIR, RecordFields, parse_record, record_fields, site_outlets


def _copy(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copy(DATA_DIR / name, dest)
    return dest


def test_the_shipped_files_load_as_typed_values() -> None:
    keys = record_fields()
    assert isinstance(keys, RecordFields)
    assert keys.title[0] == "title" and "contenttitle" in keys.title and "正文" in keys.body
    assert all(a == a.lower() for f in (keys.title, keys.body, keys.url, keys.date) for a in f)
    assert site_outlets()["paper.xinmin.cn"] == "新民晚报"
    bp = load_boilerplate()
    assert "相关新闻" in bp.stop_lines and "□" in bp.byline_marks
    # the aliases are what a record is read with: a CSV export's Chinese headers
    rec = parse_record({"标题": "兰州市中级人民法院召开执行工作会议", "正文": "兰州市中级人民法院召开执行工作会议。", "链接": "http://paper.xinmin.cn/a"})
    assert rec["title"].startswith("兰州市中级人民法院") and rec["outlet"] == "新民晚报"


def test_a_misspelt_key_names_file_line_and_key(tmp_path: Path) -> None:
    path = _copy(tmp_path, "record_fields.toml")
    text = path.read_text(encoding="utf-8").replace("\nbyline = ", "\nbylines = ")
    path.write_text(text, encoding="utf-8")
    line = text[: text.index("\nbylines = ")].count("\n") + 2
    with pytest.raises(DataFileError, match=rf"record_fields\.toml:{line}: bylines: unknown key"):
        record_fields(path)


def test_a_value_of_the_wrong_type_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "boilerplate.toml"
    text = BOILERPLATE.read_text(encoding="utf-8").replace('byline_marks = ["□", "■", "◎"]', 'byline_marks = "□"')
    assert text != BOILERPLATE.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    line = text[: text.index("byline_marks =")].count("\n") + 1
    # a string would have been taken as its characters, one marker each
    with pytest.raises(DataFileError, match=rf"boilerplate\.toml:{line}: byline_marks: must be a list of strings, got '□'"):
        load_boilerplate(path)
    path.write_text('stop_lines = ["相关新闻"\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"boilerplate\.toml: .*\(at end of document\)"):
        load_boilerplate(path)


def test_sites_csv_rows_are_checked(tmp_path: Path) -> None:
    path = _copy(tmp_path, "sites.csv")
    rows = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*rows, "paper.xinmin.cn,解放日报,"]) + "\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=rf"sites\.csv:{len(rows) + 1}: site: paper\.xinmin\.cn is listed again with another outlet"):
        site_outlets(path)
    path.write_text("host,outlet\nxinmin.cn,新民晚报\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"sites\.csv:1: the header must name the columns site and outlet"):
        site_outlets(path)
