"""Build the committed gazetteer CSVs from the raw division tables in ``/work/shared/gazetteer``.

Usage::

    .venv/bin/python pipelines/data/gazetteer/build_gazetteer.py [--src /work/shared/gazetteer] [--out DIR]

Inputs (see PROVENANCE.md here): modood_2023 (current codes and names, 统计用区划代码 2023),
areacity_2023 (pinyin), cpca_0.5.5 (centroids; pre-2018, so matched by code and then by name, and
used to find renamed units). ``alias_rules.csv`` (hand-kept, in this folder) marks short names that
are also common words. Outputs, all in this folder:

* ``divisions.csv``  one row per province / prefecture / county-level unit of China.
* ``former_names.csv``  names of units that were renamed or re-coded since the cpca snapshot.
* ``ethnic_groups.csv``  the 56 officially recognised ethnic groups (used to shorten 自治 names
  and, at run time, to stop e.g. 东乡族 from reading as 东乡).

The script is deterministic: re-running it on the same inputs gives byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SRC = Path("/work/shared/gazetteer")

LEVEL_RANK = {"province": 0, "prefecture": 1, "county": 2}
# modood pseudo-prefectures: 市辖区/县 of the four municipalities, 省直辖县级行政区划 groups.
MUNICIPALITY_GROUPS = {"市辖区", "县"}
DIRECT_GROUPS = {"省直辖县级行政区划", "自治区直辖县级行政区划"}
# Suffixes stripped to get a short name, longest first per level.
SUFFIXES = {
    "province": ("特别行政区", "自治区", "省", "市"),
    "prefecture": ("自治州", "地区", "盟", "市"),
    "county": ("自治县", "自治旗", "林区", "特区", "新区", "县", "区", "市", "旗"),
}
# NBS statistical units (开发区, 新区 …) with codes xx7x: keep the row, generate no short name.
NON_GB_RE = re.compile(r"^\d{4}7\d$")
# Generic names too vague to become a former-name alias.
GENERIC_NAMES = {"城区", "郊区", "矿区", "市辖区", "南郊区", "北郊区", "市中区", "新区"}


@dataclass
class Row:
    code: str
    level: str
    name: str
    parent_code: str
    province_code: str
    prefecture_code: str
    short_names: list[str] = field(default_factory=list)
    context_names: list[str] = field(default_factory=list)
    pinyin: str = ""
    lng: str = ""
    lat: str = ""


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def load_ethnic(src: Path) -> list[str]:
    lines = (src / "cpca_0.5.5" / "56_nations.csv").read_text(encoding="utf-8-sig").split()
    return [x.strip() for x in lines if x.strip()]


def stem_of(name: str, level: str, ethnic: list[str]) -> tuple[str, str]:
    """(stem, suffix) of a division name; ethnic names are stripped only from 自治 units."""
    for suf in SUFFIXES[level]:
        if name.endswith(suf) and len(name) > len(suf):
            stem = name[: -len(suf)]
            if suf.startswith("自治"):
                stem = strip_ethnic(stem, ethnic)
            return stem, suf
    return name, ""


def strip_ethnic(stem: str, ethnic: list[str]) -> str:
    # 积石山保安族东乡族撒拉族 -> 积石山; 伊犁哈萨克 -> 伊犁 (族 is often dropped in names).
    forms = sorted({e for e in ethnic} | {e[:-1] for e in ethnic if len(e) >= 3}, key=len, reverse=True)
    changed = True
    while changed:
        changed = False
        for e in forms:
            if stem.endswith(e) and (len(stem) - len(e) >= 2 or (e.endswith("族") and len(stem) == len(e))):
                stem = stem[: -len(e)]
                changed = True
                break
    return stem


def build_rows(src: Path, ethnic: list[str]) -> tuple[list[Row], dict[str, Row]]:
    mod = src / "modood_2023"
    rows: dict[str, Row] = {}
    provinces = read_csv(mod / "provinces.csv")
    for p in provinces:
        code = p["code"] + "0000"
        rows[code] = Row(code, "province", p["name"], "", code, "")
    # Hong Kong, Macao, Taiwan: province rows only (GB/T 2260 codes 81/82/71; sub-units have no GB codes).
    hmt = json.loads((mod / "HK-MO-TW.json").read_text(encoding="utf-8"))
    area_rows = read_csv(src / "areacity_2023" / "ok_data_level3.csv")
    ac_by_full = {r["ext_name"]: r for r in area_rows if r["deep"] == "0"}
    for name in hmt:
        r = ac_by_full[name]
        code = r["ext_id"][:6]
        rows[code] = Row(code, "province", name, "", code, "")

    city_name: dict[str, str] = {}
    for c in read_csv(mod / "cities.csv"):
        city_name[c["code"]] = c["name"]
        pcode = c["provinceCode"] + "0000"
        if c["name"] in DIRECT_GROUPS:
            continue
        code = c["code"] + "00"
        # Municipalities: 市辖区/县 groups become a prefecture row named after the city itself.
        name = rows[pcode].name if c["name"] in MUNICIPALITY_GROUPS else c["name"]
        rows[code] = Row(code, "prefecture", name, pcode, pcode, code)

    for a in read_csv(mod / "areas.csv"):
        pcode = a["provinceCode"] + "0000"
        group = a["cityCode"]
        if city_name[group] in DIRECT_GROUPS:
            parent, pref = pcode, ""
        else:
            parent = pref = group + "00"
            # 不设区的地级市 (东莞, 中山, 儋州, 嘉峪关) repeat themselves as a county row: drop it.
            if a["code"] == pref or a["name"] == rows[pref].name:
                continue
        rows[a["code"]] = Row(a["code"], "county", a["name"], parent, pcode, pref)
    ordered = sorted(rows.values(), key=lambda r: r.code)
    return ordered, rows


def add_pinyin(rows: dict[str, Row], src: Path) -> None:
    for r in read_csv(src / "areacity_2023" / "ok_data_level3.csv"):
        code = r["ext_id"][:6]
        if code in rows and not rows[code].pinyin:
            rows[code].pinyin = r["pinyin"]


def add_coords(rows: dict[str, Row], src: Path, former: dict[str, str]) -> None:
    cp = read_csv(src / "cpca_0.5.5" / "adcodes.csv")
    by_code = {r["adcode"][:6]: r for r in cp if r["longitude"]}
    by_prov_name = {(r["adcode"][:2], r["name"]): r for r in cp if r["longitude"]}
    for row in rows.values():
        hit = by_code.get(row.code)
        if hit is None or hit["name"] not in (row.name, "市辖区", "县"):
            # Code reused or unit renamed: fall back to the same name, then a former name, in the province.
            hit = by_prov_name.get((row.code[:2], row.name))
            if hit is None and row.code in former:
                hit = by_prov_name.get((row.code[:2], former[row.code]))
        if hit is None and row.level == "prefecture" and row.code[:2] in {"11", "12", "31", "50"}:
            hit = by_code.get(row.province_code)
        if hit is not None:
            row.lng, row.lat = hit["longitude"], hit["latitude"]


def find_former_names(rows: dict[str, Row], src: Path, ethnic: list[str]) -> list[dict[str, str]]:
    """Units in cpca (pre-2018) whose code is gone or whose name changed, matched to a current unit by stem."""
    cp = read_csv(src / "cpca_0.5.5" / "adcodes.csv")
    current_by_stem: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for row in rows.values():
        if row.level == "province":
            continue
        stem, _ = stem_of(row.name, row.level, ethnic)
        current_by_stem[(row.code[:2], stem)].append(row)
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for r in sorted(cp, key=lambda r: r["adcode"]):
        code, name = r["adcode"][:6], r["name"]
        if name in GENERIC_NAMES or name in MUNICIPALITY_GROUPS or name in DIRECT_GROUPS or code.endswith("0000"):
            continue
        level = "prefecture" if code.endswith("00") else "county"
        cur = rows.get(code)
        if cur is not None and cur.name == name:
            continue
        stem, _ = stem_of(name, level, ethnic)
        cands = current_by_stem.get((code[:2], stem), [])
        if level == "county":
            cands = [c for c in cands if c.level == "county"]  # 邯郸县 is not 邯郸市
        else:
            # A former prefecture may now be a prefecture (那曲地区 -> 那曲市) or a county (莱芜市 -> 莱芜区).
            cands = [c for c in cands if c.level == "prefecture"] or cands
        # Prefer a match in the same prefecture.
        same_pref = [c for c in cands if c.code[:4] == code[:4]]
        pick = same_pref or cands
        if len(pick) != 1:
            continue
        target = pick[0]
        if target.name == name or (name, target.code) in seen:
            continue
        seen.add((name, target.code))
        evidence = "same code, new name" if cur is target else "cpca code gone; same name stem in modood"
        out.append(
            {
                "former_name": name,
                "former_code": code,
                "code": target.code,
                "current_name": target.name,
                "province_code": target.province_code,
                "evidence": evidence,
            }
        )
    return out


def load_alias_rules(path: Path) -> dict[str, str]:
    return {r["surface"]: r["action"] for r in read_csv(path)}


def add_aliases(rows: list[Row], ethnic: list[str], rules: dict[str, str]) -> None:
    proposals: dict[str, list[tuple[Row, int]]] = defaultdict(list)
    for row in rows:
        if NON_GB_RE.match(row.code) or row.name in MUNICIPALITY_GROUPS:
            continue
        if row.level == "prefecture" and row.code[:2] in {"11", "12", "31", "50"}:
            continue  # municipality groups: the province row carries 北京/上海 …
        stem, suf = stem_of(row.name, row.level, ethnic)
        names: list[str] = []
        if not stem:
            # 东乡族自治县: the unit is named after the group -> 东乡县 (and 东乡, context only).
            base = strip_ethnic(row.name[: -len(suf)], []) if suf else row.name
            base = base[:-1] if base.endswith("族") else base
            names = [base + suf[-1]] if suf else []
            if len(base) >= 2:
                names.append(base)
        elif len(stem) >= 2 and stem != row.name:
            names.append(stem)
            if suf in ("自治州",):
                names.insert(0, stem + "州")
            elif suf in ("自治县",):
                names.insert(0, stem + "县")
            elif suf == "自治旗":
                names.insert(0, stem + "旗")
        for rank, n in enumerate(names):
            if n != row.name:
                proposals[n].append((row, rank))
    full_names: dict[str, int] = {}
    for row in rows:
        full_names[row.name] = min(full_names.get(row.name, 9), LEVEL_RANK[row.level])
    top = {alias: min(LEVEL_RANK[o.level] for o, _ in owners) for alias, owners in proposals.items()}
    picked: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for alias, owners in proposals.items():
        if alias in full_names and full_names[alias] <= top[alias]:
            continue  # an alias never shadows a real name at the same or a higher level
        action = rules.get(alias, "short")
        if action == "drop":
            continue
        for o, rank in owners:
            if LEVEL_RANK[o.level] == top[alias]:  # 临夏 belongs to 临夏州, not 临夏市/临夏县
                picked[o.code].append((rank, alias, action))
    for row in rows:
        # Keep each row's aliases in the order they were generated (临夏州 before 临夏).
        for _, alias, action in sorted(picked.get(row.code, [])):
            (row.context_names if action == "context" else row.short_names).append(alias)
        if rules.get(row.name) == "context":
            row.context_names.insert(0, row.name)  # the full name itself is a generic word (城区)


def write_csv(path: Path, header: list[str], records: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(records)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC)
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args(argv)
    src, out = args.src, args.out
    out.mkdir(parents=True, exist_ok=True)

    ethnic = load_ethnic(src)
    rows, by_code = build_rows(src, ethnic)
    add_pinyin(by_code, src)
    former = find_former_names(by_code, src, ethnic)
    former_by_code = {}
    for f in former:
        former_by_code.setdefault(f["code"], f["former_name"])
    add_coords(by_code, src, former_by_code)
    add_aliases(rows, ethnic, load_alias_rules(HERE / "alias_rules.csv"))

    write_csv(
        out / "divisions.csv",
        ["code", "level", "name", "short_names", "context_names", "parent_code", "province_code", "prefecture_code", "pinyin", "lng", "lat"],
        [
            [
                r.code,
                r.level,
                r.name,
                "|".join(r.short_names),
                "|".join(r.context_names),
                r.parent_code,
                r.province_code,
                r.prefecture_code,
                r.pinyin,
                r.lng,
                r.lat,
            ]
            for r in rows
        ],
    )
    write_csv(
        out / "former_names.csv",
        ["former_name", "former_code", "code", "current_name", "province_code", "evidence"],
        [[f["former_name"], f["former_code"], f["code"], f["current_name"], f["province_code"], f["evidence"]] for f in former],
    )
    write_csv(out / "ethnic_groups.csv", ["name"], [[e] for e in ethnic])
    lic = out / "licenses"
    lic.mkdir(exist_ok=True)
    for sub in ("modood_2023", "areacity_2023", "cpca_0.5.5"):
        shutil.copyfile(src / sub / "LICENSE", lic / f"LICENSE.{sub}")
    counts = defaultdict(int)
    for r in rows:
        counts[r.level] += 1
    print(f"divisions.csv: {len(rows)} rows {dict(counts)}; former_names.csv: {len(former)} rows")


if __name__ == "__main__":
    main()
