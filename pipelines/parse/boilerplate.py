"""Cut page furniture (recommendations, comments, rankings) from a story, driven by a data file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from pipelines.parse.datafile import load_toml, string_lists

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "boilerplate.toml"
_CJK_NAME = r"[\u4e00-\u9fff·]{2,4}"


@dataclass(frozen=True)
class Boilerplate:
    stop_lines: frozenset[str]
    drop_lines: frozenset[str]
    byline_marks: tuple[str, ...]
    reporter_words: tuple[str, ...]

    def is_stop_line(self, line: str) -> bool:
        line = line.strip()
        if line in self.stop_lines:
            return True
        if not self._may_stop(line):
            return False
        for sep in (":", "：", "(", "（"):
            idx = line.find(sep)
            if idx >= 0 and line[:idx].strip() in self.stop_lines:  # a head shorter than the line
                return True
        return False

    @cached_property
    def _stop_initials(self) -> frozenset[str] | None:
        """First characters of the stop lines; None when an empty stop line makes any line a candidate."""
        return None if "" in self.stop_lines else frozenset(s[0] for s in self.stop_lines)

    def _may_stop(self, stripped: str) -> bool:
        """False when ``stripped`` cannot be a stop line: a non-empty head starts where the line does."""
        initials = self._stop_initials
        return initials is None or stripped[:1] in initials

    def cut(self, lines: list[str]) -> tuple[list[str], list[str]]:
        """Split lines into (story, trailing boilerplate) at the first stop line."""
        initials = self._stop_initials
        for i, line in enumerate(lines):
            # (the cheap test of the first character first: this runs on every line of every article)
            if (initials is None or line.lstrip()[:1] in initials) and self.is_stop_line(line):
                return lines[:i], lines[i:]
        return lines, []

    def drop(self, lines: list[str]) -> list[str]:
        return [ln for ln in lines if ln.strip() not in self.drop_lines]

    @property
    def reporter_re(self) -> re.Pattern[str]:
        return _reporter_re(self.reporter_words)

    def split_glued_byline(self, paragraph: str) -> tuple[str, str | None]:
        """'...攻坚战。□兰州日报全媒体记者张烁' → ('...攻坚战。', '兰州日报全媒体记者张烁')."""
        for mark in self.byline_marks:
            idx = paragraph.rfind(mark)
            if idx >= 0:
                tail = paragraph[idx + len(mark) :].strip()
                if tail and len(tail) <= 60 and self.reporter_re.search(tail):
                    return paragraph[:idx].rstrip(), tail
        return paragraph, None

    def reporters(self, byline: str) -> list[str]:
        """Reporter names in a byline string, in order, without duplicates."""
        names: list[str] = []
        for m in self.reporter_re.finditer(byline):
            for name in re.split(r"[\s、,，/]+", m.group("names")):
                name = name.strip()
                if 2 <= len(name) <= 4 and name not in names:
                    names.append(name)
        return names


@lru_cache(maxsize=8)
def _reporter_re(words: tuple[str, ...]) -> re.Pattern[str]:
    alt = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?:{alt})\s*[:：]?\s*(?P<names>{_CJK_NAME}(?:\s*[、,，/ ]\s*{_CJK_NAME})*)")


@lru_cache(maxsize=4)
def load_boilerplate(path: Path = DATA_FILE) -> Boilerplate:
    lists = string_lists(load_toml(path), path, ("stop_lines", "drop_lines", "byline_marks", "reporter_words"))
    return Boilerplate(
        stop_lines=frozenset(lists["stop_lines"]),
        drop_lines=frozenset(lists["drop_lines"]),
        byline_marks=lists["byline_marks"],
        reporter_words=lists["reporter_words"],
    )
