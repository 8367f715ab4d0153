"""Rewrite tests/golden/sample_parse.json from the current parser. Review the diff before committing."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_readers import SAMPLE, _snapshot

from pipelines.parse.files import read_bytes
from pipelines.parse.finalize import finalize_article

out = {}
for path in sorted(SAMPLE.rglob("*")):
    if path.is_file() and path.name != "SOURCES.tsv":
        for rec in read_bytes(path.read_bytes(), path.name).articles:
            out[f"{path.relative_to(SAMPLE).as_posix()}#{rec.get('source_record')}"] = _snapshot(finalize_article(rec, path.name, 10**7))
(Path(__file__).parent / "sample_parse.json").write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"{len(out)} records written")
