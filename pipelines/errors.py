"""Every user-facing failure as an exception class with its exit code, declared once.

The CLI turns a ``PipelineError`` into one line (its message, then its hint) and exits with the
class's code; the README's exit-code table is ``exit_code_table()`` (a test keeps the two equal).
"""

from __future__ import annotations

from typing import ClassVar

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_DATASET = 4
EXIT_DATA_FILE = 5
EXIT_INTERRUPTED = 130


class PipelineError(Exception):
    """A failure the user can act on: ``str(exc)`` says what went wrong, ``hint`` what to do."""

    exit_code: ClassVar[int] = EXIT_PROBLEMS
    meaning: ClassVar[str] = "an unexpected error (one line; `--verbose` for the traceback)"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def __reduce__(self) -> tuple[type[PipelineError], tuple[str, str]]:
        return (type(self), (str(self), self.hint))  # raised in a worker process: keep the hint

    def line(self) -> str:
        text = " ".join(str(self).split())
        return f"{text}; {self.hint}" if self.hint else text


class UsageError(PipelineError):
    exit_code = EXIT_USAGE
    meaning = "usage error (bad or missing arguments, or an optional extra that is not installed)"


class InputError(PipelineError):
    exit_code = EXIT_INPUT
    meaning = "the input folder is missing, not a folder, or unreadable"


class DatasetError(PipelineError):
    exit_code = EXIT_DATASET
    meaning = "the dataset folder cannot be written, is in use by another build (`--no-wait`), or is broken"


class DataFileError(PipelineError, ValueError):
    exit_code = EXIT_DATA_FILE
    meaning = "a label data file (gazetteer rules, agencies, topics, label budget) holds a bad value: the message names the file and the key"


ERRORS: tuple[type[PipelineError], ...] = (PipelineError, UsageError, InputError, DatasetError, DataFileError)

# Outcomes that are not exceptions of this module, in the same table.
OTHER_EXITS: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success"),
    (EXIT_PROBLEMS, "`validate` or `evaluate` found problems"),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C); the published dataset is unchanged"),
)


def exit_code_table() -> str:
    """The README's exit-code table, from the classes above."""
    rows: dict[int, list[str]] = {}
    for code, meaning in OTHER_EXITS:
        rows.setdefault(code, []).append(meaning)
    for cls in ERRORS:
        rows.setdefault(cls.exit_code, []).append(cls.meaning)
    lines = ["| code | meaning |", "|---|---|"]
    lines += [f"| {code} | {', or '.join(rows[code])} |" for code in sorted(rows)]
    return "\n".join(lines)
