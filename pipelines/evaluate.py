"""``evaluate``: score the pipeline's labels on the hand-labelled evaluation set in ``eval/``.

The set is real articles copied with provenance into ``eval/articles`` and labelled by reading them
(``eval/labels/*.jsonl``). The pipeline builds them with the real CLI code path into a temporary
dataset; each field is compared with the hand labels. A well-known baseline, cpca (address
recognition: first province/prefecture named in the text), is scored on the same articles.
"""

from __future__ import annotations

import itertools
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

CORE_AGENCY_TYPES = ("court", "procuratorate", "public_security")


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: set[Any], pred: set[Any]) -> None:
        self.tp += len(gold & pred)
        self.fp += len(pred - gold)
        self.fn += len(gold - pred)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_gold(eval_dir: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((eval_dir / "labels").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return pd.DataFrame(rows)


def build_predictions(eval_dir: Path) -> pd.DataFrame:
    from pipelines.build import BuildOptions, run_build

    with tempfile.TemporaryDirectory(prefix="eval-") as tmp:
        run_build(BuildOptions(input=eval_dir / "articles", dataset=Path(tmp) / "ds", workers=2, progress=False))
        return pd.read_parquet(Path(tmp) / "ds" / "articles")


def _agency_keys(agencies: Any, types: tuple[str, ...] | None = None) -> set[tuple[str, str, str]]:
    out = set()
    for a in list(agencies) if agencies is not None else []:
        if types is None or a["type"] in types:
            out.add((a["type"], a["level"], a.get("region_code") or ""))
    return out


def _cpca_baseline(texts: list[str]) -> pd.DataFrame:
    import cpca

    df = cpca.transform(texts)
    prov_codes = {}
    out = []
    for _, row in df.iterrows():
        adcode = row.get("adcode")
        code = str(adcode)[:6] if adcode and str(adcode) not in ("None", "nan") else None
        province = (code[:2] + "0000") if code else None
        prefecture = (code[:4] + "00") if code and code[2:4] != "00" else None
        out.append({"province_code": province, "prefecture_code": prefecture})
        prov_codes[province] = prov_codes.get(province, 0) + 1
    return pd.DataFrame(out)


def score(gold: pd.DataFrame, pred: pd.DataFrame) -> dict[str, Any]:
    """Each field's accuracy (or precision/recall) on the gold articles, the cpca baseline's, and the disagreements."""
    merged = _merge_predictions(gold, pred)
    res: dict[str, Any] = {"articles": len(gold), "missing_predictions": int(merged["article_id"].isna().sum())}
    res.update(_region_scores(merged))
    res.update(_agency_scores(merged))
    res.update(_topic_scores(merged))
    if "title_gold" in merged.columns:
        res["title_accuracy"] = float((merged["title_gold"].map(_title_key) == merged["title"].map(_title_key)).mean())
    res["region_exact"] = _region_exact(merged)
    res["region_confidence"] = merged["region_confidence"].fillna(0.0).astype(float).tolist()
    res.update(_date_scores(merged))
    res["errors"] = _errors(merged)
    return res


def _merge_predictions(gold: pd.DataFrame, pred: pd.DataFrame) -> pd.DataFrame:
    """Gold rows beside the article predicted for each (gold columns suffixed ``_gold``; none where no article came out)."""
    # A gold row names a record (source_record) for multi-record files, e.g. a slice of the case
    # database holding several digests; without one it refers to the file's only/first record.
    gold = gold.copy()
    if "source_record" not in gold.columns:
        gold["source_record"] = None
    gold["key"] = gold["source_file"] + "#" + gold["source_record"].map(lambda r: "" if _none(r) is None else str(r))
    pred = pred.copy()
    first = pred.sort_values(["source_file", "source_record"]).drop_duplicates("source_file").assign(
        key=lambda d: d["source_file"] + "#"
    )
    pred["key"] = pred["source_file"] + "#" + pred["source_record"].fillna("")
    pred = pd.concat([pred[pred["source_record"].notna()], first]).drop_duplicates("key")
    return gold.merge(pred.drop(columns=["source_file", "source_record"]), on="key", how="left", suffixes=("_gold", ""))


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a.fillna("") == b.fillna("")).astype(float)


def _region_scores(merged: pd.DataFrame) -> dict[str, Any]:
    """Scope on every article; codes on the local ones with a known province; the cpca baseline on the same."""
    res: dict[str, Any] = {"scope_accuracy": float((merged["scope_gold"] == merged["scope"]).mean())}
    local = merged[(merged["scope_gold"] == "local") & merged["province_code_gold"].notna()]
    res["local_articles"] = len(local)
    res["province_accuracy"] = float(_same(local["province_code_gold"], local["province_code"]).mean())
    res["prefecture_accuracy"] = float(_same(local["prefecture_code_gold"], local["prefecture_code"]).mean())
    res["county_accuracy"] = float(_same(local["county_code_gold"], local["county_code"]).mean())
    # baseline on the same local articles
    texts = [f"{t or ''} {b or ''}"[:2000] for t, b in zip(local["title"], local["body"], strict=True)]
    base = _cpca_baseline(texts) if texts else pd.DataFrame(columns=["province_code", "prefecture_code"])
    res["baseline_province_accuracy"] = float(_same(local["province_code_gold"].reset_index(drop=True), base["province_code"]).mean())
    res["baseline_prefecture_accuracy"] = float(_same(local["prefecture_code_gold"].reset_index(drop=True), base["prefecture_code"]).mean())
    all_texts = [f"{t or ''} {b or ''}"[:2000] for t, b in zip(merged["title"], merged["body"], strict=True)]
    base_all = _cpca_baseline(all_texts)
    base_scope = base_all["province_code"].map(lambda c: "local" if c else "none")
    res["baseline_scope_accuracy"] = float((merged["scope_gold"].reset_index(drop=True) == base_scope).mean())
    return res


def _agency_scores(merged: pd.DataFrame) -> dict[str, Any]:
    """Agencies matched on (type, level, jurisdiction): all types, the core three, and per type."""
    overall, core = PRF(), PRF()
    by_type: dict[str, PRF] = {}
    for g, p in zip(merged["agencies_gold"], merged["agencies"], strict=True):
        overall.add(_agency_keys(g), _agency_keys(p))
        core.add(_agency_keys(g, CORE_AGENCY_TYPES), _agency_keys(p, CORE_AGENCY_TYPES))
        for t in {k[0] for k in _agency_keys(g) | _agency_keys(p)}:
            by_type.setdefault(t, PRF()).add(_agency_keys(g, (t,)), _agency_keys(p, (t,)))
    return {"agency_all": overall, "agency_core": core, "agency_by_type": dict(sorted(by_type.items()))}


def _topic_scores(merged: pd.DataFrame) -> dict[str, Any]:
    """Topics: micro average, per topic, and the macro-F1 of topics with 3+ gold items."""
    topics: dict[str, PRF] = {}
    micro = PRF()
    for g, p in zip(merged["topics_gold"], merged["topics"], strict=True):
        gs, ps = set(g or []), set(list(p) if p is not None else [])
        micro.add(gs, ps)
        for t in gs | ps:
            topics.setdefault(t, PRF()).add({t} & gs, {t} & ps)
    macro = [m.f1 for m in topics.values() if m.tp + m.fn >= 3]
    return {"topic_micro": micro, "topics": dict(sorted(topics.items())), "topic_macro": sum(macro) / len(macro) if macro else 1.0}


def _date_scores(merged: pd.DataFrame) -> dict[str, float]:
    """The publication date where the gold states one, and a null date where it states none."""
    dated = merged[merged["published_date"].notna()]
    pred_dates = dated["published_at"].map(lambda x: x.strftime("%Y-%m-%d") if pd.notna(x) else None)
    undated = merged[merged["published_date"].isna()]
    return {
        "date_accuracy": float((pred_dates == dated["published_date"]).mean()) if len(dated) else 1.0,
        "date_null_accuracy": float(undated["published_at"].isna().mean()) if len(undated) else 1.0,
    }


def _title_key(value: Any) -> str:
    """A title as compared: NFKC, without whitespace ('' for none)."""
    import unicodedata

    value = _none(value)
    return "".join(unicodedata.normalize("NFKC", str(value)).split()) if value else ""


def _region_exact(merged: pd.DataFrame) -> list[bool]:
    """Per article: scope and all three codes as the gold label has them."""
    out = []
    for _, r in merged.iterrows():
        cols = ("province_code", "prefecture_code", "county_code")
        out.append((r["scope_gold"], *(_none(r[f"{c}_gold"]) for c in cols)) == (r["scope"], *(_none(r[c]) for c in cols)))
    return out


def _none(value: Any) -> Any:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def _errors(merged: pd.DataFrame) -> list[str]:
    """Per-article disagreements, for error analysis (``evaluate --errors``)."""
    out = []
    for _, r in merged.iterrows():
        sf = r["source_file"]
        cols = ("province_code", "prefecture_code", "county_code")
        gold_region = (r["scope_gold"], *(_none(r[f"{c}_gold"]) for c in cols))
        pred_region = (r["scope"], *(_none(r[c]) for c in cols))
        if gold_region != pred_region:
            out.append(f"region   {sf}: gold {gold_region} pred {pred_region}")
        if "title_gold" in r and _title_key(r["title_gold"]) != _title_key(r["title"]):
            out.append(f"title    {sf}: gold {_none(r['title_gold'])!r} pred {_none(r['title'])!r}")
        g, p = _agency_keys(r["agencies_gold"]), _agency_keys(r["agencies"])
        if g != p:
            out.append(f"agencies {sf}: missing {sorted(g - p)} extra {sorted(p - g)}")
        gt, pt = set(r["topics_gold"] or []), set(list(r["topics"]) if r["topics"] is not None else [])
        if gt != pt:
            out.append(f"topics   {sf}: missing {sorted(gt - pt)} extra {sorted(pt - gt)}")
    return out


def format_report(res: dict[str, Any]) -> str:
    lines = [
        "## Accuracy on the hand-labelled evaluation set",
        "",
        f"{res['articles']} real articles from the development corpus and the seed page, labelled by reading them",
        f"(`eval/labels/*.jsonl`, texts in `eval/articles/` with provenance). {res['local_articles']} are local stories with a known province.",
        "These articles were also used while developing the pipeline, so the figures are optimistic; the",
        "held-out set is scored separately by the project maintainers.",
        "",
        "| field | pipeline | baseline (cpca 0.5.5) |",
        "|---|---|---|",
        f"| title exact | {res.get('title_accuracy', float('nan')):.3f} | – |",
        f"| scope accuracy (all) | {res['scope_accuracy']:.3f} | {res['baseline_scope_accuracy']:.3f} |",
        f"| province accuracy (local) | {res['province_accuracy']:.3f} | {res['baseline_province_accuracy']:.3f} |",
        f"| prefecture accuracy (local) | {res['prefecture_accuracy']:.3f} | {res['baseline_prefecture_accuracy']:.3f} |",
        f"| county accuracy (local) | {res['county_accuracy']:.3f} | – |",
        f"| publication date exact (where stated) | {res['date_accuracy']:.3f} | – |",
        f"| date left null (where none stated) | {res['date_null_accuracy']:.3f} | – |",
        "",
        "Agencies are matched on (type, level, jurisdiction code): all three must be right.",
        "",
        "| agencies | precision | recall | F1 |",
        "|---|---|---|---|",
        f"| courts + procuratorates + public security | {res['agency_core'].precision:.3f} | {res['agency_core'].recall:.3f} | {res['agency_core'].f1:.3f} |",
        f"| all types | {res['agency_all'].precision:.3f} | {res['agency_all'].recall:.3f} | {res['agency_all'].f1:.3f} |",
        *(f"| {t} | {m.precision:.3f} | {m.recall:.3f} | {m.f1:.3f} |" for t, m in res["agency_by_type"].items()),
        "",
        "| topic | precision | recall | F1 | gold count |",
        "|---|---|---|---|---|",
        f"| **micro average** | {res['topic_micro'].precision:.3f} | {res['topic_micro'].recall:.3f} | {res['topic_micro'].f1:.3f} | {res['topic_micro'].tp + res['topic_micro'].fn} |",
        *(f"| {t} | {m.precision:.3f} | {m.recall:.3f} | {m.f1:.3f} | {m.tp + m.fn} |" for t, m in res["topics"].items()),
        "",
    ]
    return "\n".join(lines)


def run_evaluation(eval_dir: Path, write: bool = False, show_errors: bool = False) -> int:
    """Print the accuracy report (and with ``show_errors`` every disagreement); 1 if articles are missing."""
    gold = load_gold(eval_dir)
    if gold.empty:
        print(f"error: no labels in {eval_dir}/labels/*.jsonl", file=sys.stderr)
        return 1
    pred = build_predictions(eval_dir)
    res = score(gold, pred)
    report = format_report(res)
    print(report)
    if show_errors:
        print("\n".join(res["errors"]))
    blind_report, blind_missing, dev_errors = evaluate_blind(eval_dir)
    print(blind_report)
    if show_errors:
        print("### Disagreements on the blind set's dev half\n\n" + "\n".join(dev_errors))
    if res["missing_predictions"] or blind_missing:
        print("error: some labelled articles produced no article", file=sys.stderr)
        return 1
    if write:
        (eval_dir / "RESULTS.md").write_text(report + "\n" + blind_report, encoding="utf-8")
    return 0


# --- the blind set (eval/blind) ---------------------------------------------------------------------

SPLITS = ("dev", "unseen")
CONFIDENCE_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0001)


def corpus_dir(eval_dir: Path) -> Path:
    """Where the blind set's texts are: ``../shared/corpus`` beside the repository (they are not copied in)."""
    return eval_dir.resolve().parent.parent / "shared" / "corpus"


def _labels(eval_dir: Path, labeller: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in sorted((eval_dir / "blind" / "labels" / labeller).glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def load_blind(eval_dir: Path, labeller: str = "gold") -> pd.DataFrame:
    """The blind set's labels, with their split. ``first`` and ``second`` are the two independent
    labellings as made; ``gold`` is each article's first labelling, or its only one where the other
    labeller did not finish (the agreement table counts only articles labelled twice)."""
    index = pd.read_csv(eval_dir / "blind" / "articles.tsv", sep="\t", dtype=str, keep_default_na=False)
    if labeller == "gold":
        first = _labels(eval_dir, "first")
        have = {r["id"] for r in first}
        rows = first + [r for r in _labels(eval_dir, "second") if r["id"] not in have]
    else:
        rows = _labels(eval_dir, labeller)
    if not rows:
        return pd.DataFrame()
    labels = pd.DataFrame(rows).drop(columns=["source_file", "source_record"], errors="ignore")
    return index.merge(labels, on="id", how="inner")


def build_blind_predictions(eval_dir: Path, corpus: Path, files: list[str]) -> pd.DataFrame:
    """Build the listed corpus files (copied to a temporary input folder, same relative paths) with the real pipeline."""
    import shutil

    from pipelines.build import BuildOptions, run_build

    with tempfile.TemporaryDirectory(prefix="eval-blind-") as tmp:
        inp = Path(tmp) / "in"
        for rel in sorted(set(files)):
            (inp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(corpus / rel, inp / rel)
        run_build(BuildOptions(input=inp, dataset=Path(tmp) / "ds", workers=2, progress=False))
        return pd.read_parquet(Path(tmp) / "ds" / "articles")


def agreement(first: pd.DataFrame, second: pd.DataFrame) -> dict[str, Any]:
    """How often two independent labellings of the same articles agree, field by field."""
    both = first.merge(second, on="id", suffixes=("_1", "_2"))
    out: dict[str, Any] = {"articles": len(both)}
    for f in ("scope", "province_code", "prefecture_code", "county_code"):
        out[f] = float((both[f + "_1"].map(_none).fillna("") == both[f + "_2"].map(_none).fillna("")).mean()) if len(both) else 0.0
    out["title"] = float((both["title_1"].map(_title_key) == both["title_2"].map(_title_key)).mean()) if len(both) else 0.0
    out["scope_kappa"] = _kappa(both["scope_1"].tolist(), both["scope_2"].tolist())
    agencies, topics = PRF(), PRF()
    for a1, a2, t1, t2 in zip(both["agencies_1"], both["agencies_2"], both["topics_1"], both["topics_2"], strict=True):
        agencies.add(_agency_keys(a1), _agency_keys(a2))
        topics.add(set(t1 or []), set(t2 or []))
    out["agencies_f1"], out["topics_f1"] = agencies.f1, topics.f1
    return out


def _kappa(a: list[Any], b: list[Any]) -> float:
    n = len(a)
    if not n:
        return 0.0
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    cats = set(a) | set(b)
    expected = sum((a.count(c) / n) * (b.count(c) / n) for c in cats)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def calibration(res: dict[str, Any]) -> list[tuple[str, int, float]]:
    """(confidence bin, articles, share whose region is exactly right)."""
    rows = []
    pairs = list(zip(res["region_confidence"], res["region_exact"], strict=True))
    for lo, hi in itertools.pairwise(CONFIDENCE_BINS):
        inside = [ok for c, ok in pairs if lo <= c < hi]
        rows.append((f"{lo:.1f}–{min(hi, 1.0):.1f}", len(inside), sum(inside) / len(inside) if inside else float("nan")))
    high = [ok for c, ok in pairs if c >= 0.8]
    rows.append(("≥ 0.8", len(high), sum(high) / len(high) if high else float("nan")))
    return rows


def format_blind(results: dict[str, dict[str, Any]], agree: dict[str, Any] | None) -> str:
    def f(name: str, key: str) -> str:
        return f"| {name} | " + " | ".join(f"{results[s][key]:.3f}" if s in results else "–" for s in SPLITS) + " |"

    def prf(name: str, key: str) -> str:
        return f"| {name} | " + " | ".join(f"{results[s][key].f1:.3f}" if s in results else "–" for s in SPLITS) + " |"

    def topic(name: str) -> str:
        cells = [f"{results[s]['topics'][name].f1:.3f}" if s in results and name in results[s]["topics"] else "–" for s in SPLITS]
        return f"| {name} F1 | " + " | ".join(cells) + " |"

    n = {s: results[s]["articles"] for s in results}
    lines = [
        "## Accuracy on the blind set (`eval/blind`)",
        "",
        f"{sum(n.values())} real articles of `../shared/corpus` that are not in `eval/articles`, chosen by a seeded rule",
        "(`eval/blind/choose.py`) before anyone read them, labelled by helpers who saw only `eval/LABELING.md`, and",
        "dealt into two halves: rules may be developed on `dev`; `unseen` is only ever scored.",
        "",
        f"| field | dev ({n.get('dev', 0)}) | unseen ({n.get('unseen', 0)}) |",
        "|---|---|---|",
        f("title exact", "title_accuracy"),
        f("publication date exact (where stated)", "date_accuracy"),
        f("scope", "scope_accuracy"),
        f("province (local)", "province_accuracy"),
        f("prefecture (local)", "prefecture_accuracy"),
        f("county (local)", "county_accuracy"),
        prf("agencies F1 (type + level + jurisdiction)", "agency_all"),
        prf("topics micro-F1", "topic_micro"),
        f("topics macro-F1 (topics with 3+ items)", "topic_macro"),
        topic("judicial_enforcement"),
        topic("courts"),
        "",
    ]
    if "unseen" in results:
        lines += ["Calibration of `region_confidence` on the unseen half (exactly right = scope and all three codes):", "",
                  "| confidence | articles | exactly right |", "|---|---|---|"]
        lines += [f"| {b} | {k} | {share:.3f} |" if k else f"| {b} | 0 | – |" for b, k, share in calibration(results["unseen"])]
        lines.append("")
    if agree:
        lines += [
            f"Agreement of two independent labellings of the same {agree['articles']} articles (`labels/first` and `labels/second`;",
            "the gold is the first labelling, or the only one; codes compared on every article, null included):",
            "",
            "| scope | scope κ | province | prefecture | county | agencies F1 | topics F1 | title |",
            "|---|---|---|---|---|---|---|---|",
            "| " + " | ".join(f"{agree[k]:.3f}" for k in ("scope", "scope_kappa", "province_code", "prefecture_code", "county_code", "agencies_f1", "topics_f1", "title")) + " |",
            "",
        ]
    return "\n".join(lines)


def evaluate_blind(eval_dir: Path) -> tuple[str, int, list[str]]:
    """The blind set's report, 1 if labelled articles produced no article, and the disagreements of the
    ``dev`` half only (the unseen half's are never shown, so no rule can be fitted to them). Without
    the corpus or labels the report says why and nothing is scored."""
    corpus = corpus_dir(eval_dir)
    gold = load_blind(eval_dir, "gold")
    if gold.empty or not corpus.is_dir():
        why = "no labels in eval/blind/labels" if gold.empty else f"the corpus is not at {corpus}"
        return f"(blind set not scored: {why})\n", 0, []
    pred = build_blind_predictions(eval_dir, corpus, gold["source_file"].tolist())
    results = {}
    missing = 0
    for split in SPLITS:
        part = gold[gold["split"] == split].drop(columns=["split", "id"])
        if len(part):
            results[split] = score(part, pred)
            missing += results[split]["missing_predictions"]
    first, second = load_blind(eval_dir, "first"), load_blind(eval_dir, "second")
    agree = agreement(first, second) if not first.empty and not second.empty else None
    return format_blind(results, agree), int(missing > 0), results["dev"]["errors"] if "dev" in results else []
