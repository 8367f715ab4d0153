"""Command line: ``python -m pipelines build|relabel|validate|evaluate``.

Every failure is one line on stderr (what, where, what to do) and a documented exit code;
``--verbose`` adds the traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines import INTERRUPTED_UNCHANGED, __version__
from pipelines.errors import EXIT_DATASET, EXIT_INTERRUPTED, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, DatasetError, InputError, PipelineError, UsageError

if TYPE_CHECKING:
    from pipelines.build import BuildOptions


def _size(text: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    t = text.strip().lower().rstrip("b")
    try:
        return int(float(t[:-1]) * units[t[-1]]) if t and t[-1] in units else int(t)
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use bytes or 10M, 2G)") from None


def _place(text: str) -> Path | str:
    """A folder path, or an fsspec URL (s3://, gs://, file://) kept as text: Path would fold its '//'."""
    from pipelines.read.remote import is_url

    return text if is_url(text) else Path(text)


def _add_build_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", type=_place, default=Path("dataset"), help="dataset folder or URL (s3://bucket/prefix) to write (default: dataset)")
    p.add_argument("--work-dir", type=Path, help="with a URL --dataset: the local work store (default: a cache folder named after the URL)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes to use (default: all cores)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-wait", action="store_true", help="exit instead of waiting when another build holds the lock")
    p.add_argument("--engine", choices=["local", "dask"], default="local", help="local process pool (default) or a Dask cluster")
    p.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786); without it --engine dask starts a LocalCluster")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description="Build a Parquet dataset of Chinese local news from scraped files.")
    parser.add_argument("--version", action="version", version=f"pipelines {__version__}")
    parser.add_argument("--verbose", action="store_true", help="print tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="read new or changed files under --input and publish the dataset")
    b.add_argument("--input", type=_place, required=True, help="folder or URL (s3://bucket/prefix) of scraped files (walked recursively)")
    _add_build_args(b)
    b.add_argument("--prune", action="store_true", help="drop rows of files no longer in --input")
    b.add_argument("--max-file-bytes", type=_size, default="256M", help="reject files larger than this (default 256M)")
    b.add_argument("--max-decompressed-bytes", type=_size, default="1G", help="gzip/WARC inflate limit per file (default 1G)")
    b.add_argument("--max-records-per-file", type=int, default=1_000_000, help="records read from one file (default 1000000)")
    b.add_argument("--file-time-budget", type=float, default=120.0, help="seconds allowed per document: a one-article file or one record (default 120; 0 = none)")
    b.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help="print tracebacks on errors")

    r = sub.add_parser("relabel", help="recompute labels of the published articles without re-reading inputs")
    _add_build_args(r)
    r.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS)

    v = sub.add_parser("validate", help="check a dataset: types, keys, codes, topic ids, accounting")
    v.add_argument("--dataset", type=Path, default=Path("dataset"), help="the dataset folder to check (default: dataset)")
    v.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS)

    e = sub.add_parser("evaluate", help="score the labels on the hand-labelled evaluation set")
    e.add_argument("--eval-dir", type=Path, default=Path(__file__).resolve().parent.parent / "eval", help="the evaluation set (default: the repository's eval/)")
    e.add_argument("--write", action="store_true", help="also write eval/RESULTS.md")
    e.add_argument("--errors", action="store_true", help="also list every disagreement with the hand labels")
    e.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, _on_interrupt) if in_main_thread else None
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        snapshot = sys.modules.get("pipelines.publish.snapshot")
        remote = sys.modules.get("pipelines.read.remote")
        # a URL dataset is published by its upload, after the local work store's swap
        to_url = remote is not None and remote.is_url(str(getattr(args, "dataset", "")))
        if snapshot is not None and snapshot.published_in_this_process() is not None and not to_url:
            print("interrupted after the new dataset was published (it is complete); the next build removes leftover files", file=sys.stderr)
        else:
            print(INTERRUPTED_UNCHANGED, file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        verbose = getattr(args, "verbose", False)
        if verbose:
            traceback.print_exc()
        code, message = _explain(exc, args)
        hint = "" if verbose or isinstance(exc, PipelineError) else " (rerun with --verbose for the traceback)"
        print(f"error: {message}{hint}", file=sys.stderr)
        return code
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)


def _on_interrupt(signum: int, frame: object) -> None:
    """The first Ctrl-C stops the build; later ones are ignored so that they cannot cut its cleanup short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _explain(exc: BaseException, args: argparse.Namespace) -> tuple[int, str]:
    """One line for a failure: what went wrong, where, and what to do; and its exit code."""
    from concurrent.futures.process import BrokenProcessPool

    dataset = getattr(args, "dataset", None)
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, PipelineError):
        return exc.exit_code, exc.line()
    if isinstance(exc, BrokenProcessPool):
        return 1, f"a worker process died during the build (out of memory?); the published dataset in {dataset} is unchanged; rerun with fewer --workers"
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return EXIT_DATASET, f"cannot write the dataset in {dataset}{where}: {exc.strerror or text}; free disk space or fix permissions, then rerun (the published dataset is unchanged)"
    return 1, f"unexpected {type(exc).__name__}: {text}; please report it with the --verbose traceback"


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in ("build", "relabel"):
        return _build(args)
    if args.command == "validate":
        return _validate(args)
    if args.command == "evaluate":
        from pipelines.evaluate import run_evaluation

        return run_evaluation(args.eval_dir, write=args.write, show_errors=args.errors)
    return EXIT_USAGE


def _build(args: argparse.Namespace) -> int:
    """``build`` and ``relabel``: run the build (to a URL through its local work store) and print its summary."""
    from pipelines.build import run_build
    from pipelines.read.remote import is_url

    opts = _build_options(args)
    if is_url(args.dataset):
        from pipelines.publish.remote import build_remote

        summary = build_remote(opts, args.dataset, run_build, args.work_dir)
    else:
        summary = run_build(opts)
    for line in summary.lines():
        print(line)
    return EXIT_OK


def _build_options(args: argparse.Namespace) -> BuildOptions:
    """The build's options from the command line, once each argument is known to make sense."""
    from pipelines.build import BuildOptions
    from pipelines.read.limits import Limits

    if args.command == "build":
        _check_input(args.input)
        limits = Limits(args.max_file_bytes, args.max_decompressed_bytes, args.max_records_per_file, args.file_time_budget)
        input_dir = args.input
    else:
        _check_published(args.dataset)
        input_dir = Path(".")
        limits = Limits()
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    for flag, value, least in (("--max-file-bytes", limits.max_file_bytes, 1), ("--max-decompressed-bytes", limits.max_decompressed_bytes, 1),
                               ("--max-records-per-file", limits.max_records_per_file, 1), ("--file-time-budget", limits.file_time_budget, 0)):
        if value < least:
            raise UsageError(f"{flag} must be at least {least} (got {value:g})")
    return BuildOptions(
        input=input_dir,
        dataset=args.dataset,
        workers=args.workers,
        limits=limits,
        prune=getattr(args, "prune", False),
        progress=not args.no_progress and sys.stderr.isatty(),
        wait_for_lock=not args.no_wait,
        relabel_only=args.command == "relabel",
        engine=args.engine,
        scheduler=args.scheduler,
    )


def _check_input(place: Path | str) -> None:
    """--input must be a readable folder (or a URL that can be listed)."""
    from pipelines.read.remote import input_problem, is_url

    if is_url(place):
        if problem := input_problem(place):
            raise InputError(problem)
        return
    folder = Path(place)
    if not folder.exists():
        raise InputError(f"input folder {place} does not exist", "pass --input DIR with your scraped files")
    if not folder.is_dir():
        raise InputError(f"--input {place} is a file, not a folder", "put it in a folder and pass that")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise InputError(f"input folder {place} is not readable", "check its permissions")


def _check_published(dataset: Path | str) -> None:
    """``relabel`` needs a dataset that was built (a URL's is found by the remote build)."""
    from pipelines.read.remote import is_url
    from pipelines.store import Store

    if not is_url(dataset) and Store(dataset).current() is None:
        raise DatasetError(f"no published dataset in {dataset}", f"run build --input DIR --dataset {dataset} first")


def _validate(args: argparse.Namespace) -> int:
    from pipelines.validate import validate_dataset

    problems = validate_dataset(args.dataset)
    if problems:
        print(f"{len(problems)} problem(s) in {args.dataset}:")
        for p in problems:
            print(f"  - {p}")
        return EXIT_PROBLEMS
    print(f"ok: {args.dataset} is valid")
    return EXIT_OK
