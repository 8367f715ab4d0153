"""Ctrl-C during ``build``: it stops within seconds whatever is queued or being parsed, exits 130 with
one line, leaves no worker or reader process behind, keeps the published dataset, and a rerun gives
the same dataset as an uninterrupted build.

The build runs as users run it, and gets a real SIGINT from outside at a moment chosen by watching
it: its process tree (the worker has forked its reader) or the part files it has written so far.
The build used to wait for the tasks in flight, and an earlier attempt at killing its workers hung
at exit (the interpreter joined the pool's manager thread, still waiting for a task): both fail the
time limit here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, run_cli
from test_cli_errors import documented_exit_codes

pytestmark = [pytest.mark.timeout(300), pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree in /proc")]

STOP_WITHIN = 15.0  # seconds from SIGINT to exit; stopping takes well under 1 s, the rest is margin for a loaded CI machine
MESSAGE = "interrupted: the published dataset is unchanged"
N_FILES = 600  # three parse batches of up to 256 files, so tasks are queued behind the one running
TABLES = ("articles", "rejects", "agency_mentions")

Proc = tuple[int, str]  # pid and start time: a pid reused by an unrelated process is not mistaken for ours


def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (state first), or None when the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(pid: int) -> set[Proc]:
    """Every process below ``pid``: the build's workers and the readers they forked."""
    out: set[Proc] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                kids = Path(f"/proc/{parent}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for kid in map(int, kids):
                if (st := _stat(kid)) is not None:
                    out.add((kid, st[19]))  # field 22: start time in clock ticks since boot
                    todo.append(kid)
    return out


def running(proc: Proc) -> bool:
    """Still there and not a zombie (a killed orphan waits as a zombie until its new parent reaps it)."""
    st = _stat(proc[0])
    return st is not None and st[19] == proc[1] and st[0] not in ("Z", "X")


def interrupt_build(inp: Path, ds: Path, workers: int, when: Callable[[set[Proc]], bool], budget: str = "120") -> tuple[int, str, float, set[Proc]]:
    """Run ``build``, send SIGINT as soon as ``when(processes seen so far)`` holds; return (exit code, stderr,
    seconds from SIGINT to exit, every process seen below the build)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "build", "--input", str(inp), "--dataset", str(ds), "--workers", str(workers), "--no-progress",
         "--file-time-budget", budget],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen: set[Proc] = set()
    deadline = time.monotonic() + 120
    try:
        while proc.poll() is None:
            seen |= descendants(proc.pid)
            if when(seen):
                break
            assert time.monotonic() < deadline, "the build never reached the moment to interrupt it"
            time.sleep(0.01)
        assert proc.poll() is None, f"the build ended (exit {proc.returncode}) before it could be interrupted: {proc.stderr.read() if proc.stderr else ''}"
        seen |= descendants(proc.pid)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        try:
            _out, err = proc.communicate(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the build was still running {STOP_WITHIN:.0f} s after Ctrl-C")
        return proc.returncode, err, time.monotonic() - sent, seen
    finally:
        if proc.poll() is None:
            for p in descendants(proc.pid):
                os.kill(p[0], signal.SIGKILL)
            proc.kill()
            proc.communicate()


def assert_stopped_cleanly(code: int, err: str, seen: set[Proc]) -> None:
    assert code == 130, err
    assert err.strip().splitlines()[-1].startswith(MESSAGE), err
    assert "Traceback" not in err, err
    assert 130 in documented_exit_codes()
    time.sleep(0.5)  # SIGKILL is delivered at once, but let a loaded machine schedule the deaths
    assert seen, "no worker was seen: the interrupt came too early to test anything"
    left = [p for p in seen if running(p)]
    assert not left, f"processes left running after the build exited: {left}"


def tables(ds: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for name in TABLES:
        df = pd.read_parquet(ds / name)
        out[name] = df.sort_values(list(df.columns[:2])).reset_index(drop=True)
    return out


def assert_same_dataset(got: Path, want: Path) -> None:
    a, b = tables(got), tables(want)
    for name in TABLES:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)


def parts(ds: Path, pattern: str) -> int:
    return len(list((ds / ".store").glob(pattern)))


@pytest.fixture(scope="module")
def many_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """N_FILES small page-text articles made of real text, and their dataset built without interruption."""
    base = tmp_path_factory.mktemp("many")
    inp = base / "in"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_corpus.py"), "--n", str(N_FILES), "--format", "page_text", "--out", str(inp)],
                   check=True, capture_output=True, cwd=ROOT)
    ref = base / "reference"
    run_cli("build", "--input", str(inp), "--dataset", str(ref), "--workers", "2", "--no-progress")
    return inp, ref


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_while_a_page_takes_minutes_stops_at_once_and_keeps_the_dataset(tmp_path: Path, workers: int) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "a.txt").write_text("2021-03-05\n兰州市中级人民法院召开执行工作推进会。", encoding="utf-8")
    ds = tmp_path / "ds"
    run_cli("build", "--input", str(inp), "--dataset", str(ds), "--no-progress")
    before = tables(ds)
    snapshot = (ds / ".store" / "current").resolve()
    # a page the HTML parser needs over five minutes for; with a 300 s budget, waiting for it would take that long
    (inp / "slow.html").write_text("<html><body><select>" + "<option>兰州</option>" * 120_000 + "</select></body></html>", encoding="utf-8")

    def reading(seen: set[Proc]) -> bool:  # the worker has forked its reader, which is parsing the page
        return len(seen) > workers

    code, err, took, seen = interrupt_build(inp, ds, workers, reading, budget="300")
    assert_stopped_cleanly(code, err, seen)
    assert took < STOP_WITHIN
    assert (ds / ".store" / "current").resolve() == snapshot
    for name, df in tables(ds).items():
        pd.testing.assert_frame_equal(df, before[name], obj=name)
    run_cli("validate", "--dataset", str(ds))
    # the lock was released: a build that refuses to wait goes through (nothing new once the page is gone)
    (inp / "slow.html").unlink()
    again = run_cli("build", "--input", str(inp), "--dataset", str(ds), "--no-wait", "--no-progress")
    assert "nothing new" in again.stdout


# each phase once, with one worker and with two: every combination costs a full rerun of the build
@pytest.mark.parametrize(("phase", "workers"), [("parse", 1), ("label", 2)])
def test_ctrl_c_with_work_queued_then_rerun_equals_an_uninterrupted_build(tmp_path: Path, many_files: tuple[Path, Path], phase: str, workers: int) -> None:
    inp, reference = many_files
    ds = tmp_path / "ds"
    batches = -(-N_FILES // 256)

    def moment(seen: set[Proc]) -> bool:
        parsed = parts(ds, "parts/*.parsed.parquet")
        if phase == "parse":  # the first batch is parsed; the others are queued or being read
            return parsed >= 1
        # every batch is parsed, labelling is under way with parts still to label
        return parsed == batches and parts(ds, "published/*.articles.parquet") < batches

    code, err, took, seen = interrupt_build(inp, ds, workers, moment)
    assert_stopped_cleanly(code, err, seen)
    assert took < STOP_WITHIN
    assert not (ds / ".store" / "current").exists()  # nothing was published
    again = run_cli("build", "--input", str(inp), "--dataset", str(ds), "--workers", str(workers), "--no-wait", "--no-progress")
    assert f"{N_FILES} read" in again.stdout
    assert_same_dataset(ds, reference)
    assert not list((ds / ".store").rglob("*.tmp")), "temporary files of the killed tasks were left behind"
    run_cli("validate", "--dataset", str(ds))
    shutil.rmtree(ds)


@pytest.mark.parametrize("point", ["before_swap", "after_swap"])
def test_ctrl_c_just_before_or_after_the_swap_says_which_dataset_is_published(tmp_path: Path, point: str) -> None:
    from conftest import SAMPLE

    ds = tmp_path / "ds"
    proc = run_cli("build", "--input", str(SAMPLE), "--dataset", str(ds), "--workers", "1", "--no-progress", check=False, env={"PIPELINES_FAILPOINT": f"{point}:SIGINT"})
    assert proc.returncode == 130, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr
    if point == "before_swap":
        assert last.startswith(MESSAGE) and not (ds / "articles").exists()
    else:  # published and complete: it validates, and the next build finds nothing to do
        assert last.startswith("interrupted after the new dataset was published (it is complete)"), last
        run_cli("validate", "--dataset", str(ds))
        again = run_cli("build", "--input", str(SAMPLE), "--dataset", str(ds), "--workers", "1", "--no-progress")
        assert "nothing new" in again.stdout + again.stderr
