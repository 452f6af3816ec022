"""The grounding guard: every number an LLM states must be found in what it was given — the report's
extracted values, its text, the findings, the retrieved sources — or it is marked as unsupported,
never passed on silently. Citations to lines or sources the model was not given are stripped
(as paper-qa strips citations the model did not ground)."""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Optional

from pydantic import BaseModel, Field

from review.models import ReviewResult

# A number as written in Chinese prose: 29, 1,234, 326.780865, 3.5%, -115 (not the digits inside a date or a code)
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?|(?<![A-Za-z0-9_.])[-−]?\d+(?:\.\d+)?%?")
# Ordinals and list markers are not quantities: "1." at a line start, "第3行" is a citation handled apart
_CITATION = re.compile(r"〔(?:第\s*(\d+)\s*行|来源\s*(\d+))〕")
_UNIT_FACTORS = (1, 1e4, 1e-4, 1e8, 1e-8, 100, 0.01)  # 元/万元/亿元 and percent written either way


class Unsupported(BaseModel):
    text: str  # the number as written
    value: float
    sentence: str  # the sentence it appears in


class Grounding(BaseModel):
    """The guard's verdict on one LLM text."""

    numbers: int = 0
    unsupported: list[Unsupported] = Field(default_factory=list)
    stripped_citations: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unsupported


def _value(s: str) -> Optional[float]:
    s = s.replace(",", "").replace("−", "-").rstrip("%")
    try:
        return float(s)
    except ValueError:
        return None


def numbers_in(text: str) -> list[tuple[str, float, int]]:
    """(as written, value, position) of every number in `text` (NFKC: full-width digits count)."""
    t = unicodedata.normalize("NFKC", text)
    out = []
    for m in _NUMBER.finditer(t):
        v = _value(m.group(0))
        if v is not None:
            out.append((m.group(0), v, m.start()))
    return out


class Sources:
    """The numbers an LLM answer may state: collected from everything it was given."""

    def __init__(self) -> None:
        self.values: set[float] = set()

    def add_text(self, text: str) -> "Sources":
        for _, v, _ in numbers_in(text or ""):
            self._add(v)
        return self

    def add_values(self, values: Iterable) -> "Sources":
        for v in values:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self._add(float(v))
        return self

    def _add(self, v: float) -> None:
        self.values.add(round(v, 6))
        self.values.add(round(abs(v), 6))

    def add_result(self, result: ReviewResult, lines: Optional[list[str]] = None) -> "Sources":
        """The report: its cells, meta, parts, findings and (if given) every line of its text."""
        t = result.tables
        self.add_values(c.value for c in [*t.disclosure, *t.applications, *t.appeals])
        m = result.meta
        if m.year:
            self.add_values([m.year, m.year - 1, m.year + 1])
        for s in result.sections:
            self.add_text(s.text)
        for f in result.findings:
            self.add_text(f.message)
            self.add_values(e.value for e in f.evidence)
            if f.line:
                self._add(f.line)
        for text in lines or []:
            self.add_text(text)
        return self

    def supports(self, v: float) -> bool:
        return any(round(v * k, 6) in self.values for k in _UNIT_FACTORS)


def _sentence(text: str, pos: int) -> str:
    start = max(text.rfind(c, 0, pos) for c in "。！？\n") + 1
    ends = [i for i in (text.find(c, pos) for c in "。！？\n") if i != -1]
    return text[start: (min(ends) + 1 if ends else len(text))].strip()


def check_numbers(text: str, sources: Sources) -> Grounding:
    """Every number in `text` against the sources; list those not found (citation markers are not claims)."""
    text = _CITATION.sub("", text)
    found = numbers_in(text)
    bad = [Unsupported(text=s, value=v, sentence=_sentence(unicodedata.normalize("NFKC", text), p))
           for s, v, p in found if not sources.supports(v)]
    return Grounding(numbers=len(found), unsupported=bad)


def strip_citations(text: str, lines_given: set[int], sources_given: int) -> tuple[str, list[str]]:
    """Remove citations to report lines or retrieved sources that were not in the model's context."""
    stripped: list[str] = []

    def keep(m: re.Match) -> str:
        line, src = m.group(1), m.group(2)
        if (line and int(line) in lines_given) or (src and 1 <= int(src) <= sources_given):
            return m.group(0)
        stripped.append(m.group(0))
        return ""

    return _CITATION.sub(keep, text), stripped


def mark(text: str, grounding: Grounding) -> str:
    """The text with each unsupported number marked for the reviewer: 123 -> 123【未核实】."""
    out = text
    for u in sorted({u.text for u in grounding.unsupported}, key=len, reverse=True):
        out = re.sub(rf"(?<![\d.]){re.escape(u)}(?![\d.%])", f"{u}【未核实】", out)
    return out
