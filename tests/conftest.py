"""Shared fixtures: paths to the bundled real sample and a real build of it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample"
SEED = SAMPLE / "seed" / "000_0728b4a53c9668bd.txt"


def record_fresh_processes(monkeypatch: pytest.MonkeyPatch, module: object) -> list[str]:
    """Have ``module``'s ``fresh_processes`` record the module each call runs (and still run it)."""
    modules: list[str] = []
    real = module.fresh_processes  # type: ignore[attr-defined]

    def recording(name: str, jobs: object, workers: int) -> object:
        modules.append(name)
        return real(name, jobs, workers)

    monkeypatch.setattr(module, "fresh_processes", recording)
    return modules


def run_cli(*args: str, check: bool = True, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pipelines ARGS`` as users do."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"pipelines {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def sample_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample built once with the real CLI."""
    ds = tmp_path_factory.mktemp("sample") / "dataset"
    run_cli("build", "--input", str(SAMPLE), "--dataset", str(ds), "--workers", "2")
    return ds


# --- dashboard fixtures ------------------------------------------------------------------------------

# Scraped text that must stay inert in the dashboard: scripts, event handlers, javascript:/data: URLs,
# Markdown, and a 200 KB title. Built into a dataset with the real CLI (hostile_dataset).
HOSTILE_SCRIPT_TITLE = "<script>window.__pwned=1</script>兰州市中级人民法院执行局开展集中执行行动"
HOSTILE_IMG = '<img src=x onerror="window.__pwned=2">'
HOSTILE_MARKDOWN_TITLE = "# Markdown 标题 **加粗** [link](http://evil.example/) <img src=x onerror=window.__pwned=6>"
HOSTILE_OUTLET = '<b onmouseover="window.__pwned=3">兰州日报</b>'
HOSTILE_RECORDS = [
    {
        "title": HOSTILE_SCRIPT_TITLE,
        "content": "兰州市中级人民法院执行局近日开展集中执行行动。" + HOSTILE_IMG + "失信被执行人被依法拘留。**粗体** [点我](javascript:alert(1)) "
        '<a href="javascript:alert(3)">链接</a> 甘肃省兰州市城关区人民法院强制执行。',
        "url": "javascript:alert(1)",
        "date": "2023-05-01",
        "outlet": HOSTILE_OUTLET,
    },
    {
        "title": HOSTILE_MARKDOWN_TITLE,
        "content": "甘肃省天水市中级人民法院审结一起拒不执行判决、裁定案，被执行人被判刑。<script>window.__pwned=4</script> "
        "![img](http://evil.example/x.png) `code` | 表格 | 天水市人民检察院提起公诉。",
        "url": "data:text/html,<script>window.__pwned=5</script>",
        "date": "2023-06-02",
        "outlet": "[evil](javascript:alert(2))",
    },
    {
        "title": "超长标题" + "长" * 200_000,
        "content": "酒泉市中级人民法院执行局查封被执行人财产。甘肃省酒泉市法院强制执行案件。" * 20,
        "url": "https://example.org/news/1?<script>=1",
        "date": "2023-07-03",
        "outlet": "酒泉日报",
    },
    {
        "title": "普通新闻：张掖市甘州区人民法院执行兑现",
        "content": "张掖市甘州区人民法院执行局兑现执行款，被执行人履行义务。甘肃省张掖市。",
        "url": "http://example.org/ok",
        "date": "2023-07-04",
        "outlet": "张掖日报",
    },
]


@pytest.fixture(scope="session")
def hostile_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset whose titles, bodies, outlets and URLs are hostile, built with the real CLI."""
    import json

    root = tmp_path_factory.mktemp("hostile")
    inp = root / "input"
    inp.mkdir()
    with open(inp / "hostile.jsonl", "w", encoding="utf-8") as fh:
        for rec in HOSTILE_RECORDS:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    ds = root / "dataset"
    run_cli("build", "--input", str(inp), "--dataset", str(ds), "--workers", "1", "--no-progress")
    return ds
