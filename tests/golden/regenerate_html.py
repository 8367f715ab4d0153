"""Rewrite tests/golden/html_bodies.json: full parse_html output for a few real pages (sample/ and eval/articles/html).

Review the diff before committing: these bodies were read line by line when recorded (story kept, page furniture gone).
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from pipelines.parse.html import parse_html  # noqa: E402
from pipelines.read.decode import decode_bytes  # noqa: E402

PAGES = [
    "eval/articles/html/gne/gne_163_5.html",
    "eval/articles/html/gne/gne_sina_5.html",
    "eval/articles/html/gne/gne_xinhuanet_1.html",
    "sample/html/likgjava_eb/eb_cgxqzx_ff8080813090cbdd013090ecf7a800f2.jsp",
    "sample/html/trafilatura/archive.org.he.xinhuanet.com.25340717.html",
]

out = {}
for rel in PAGES:
    rec = parse_html(decode_bytes((ROOT / rel).read_bytes()).text)
    out[rel] = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in rec.items() if k in ("title", "published_at", "published_at_source", "outlet", "body", "byline")}
(Path(__file__).parent / "html_bodies.json").write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"{len(out)} pages written")
