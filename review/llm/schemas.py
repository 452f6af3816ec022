"""Typed contexts and answers of the LLM layer (explain, draft, chat). Cells and values always come from
the deterministic review; a model only supplies words, and every number in its words is checked."""
from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import BaseModel, Field

from review.llm.grounding import Derived, Unsupported

Mode = Literal["llm", "offline"]


class CellRef(BaseModel):
    ref: str  # e.g. "一/自然人" or "第 31 行"
    value: Optional[Union[int, float, str]] = None
    state: Optional[str] = None
    line: Optional[int] = None


class ExplanationText(BaseModel):
    """What the model is asked to return for one finding (JSON schema structured output)."""

    summary: str = Field(description="用通俗的中文说明错在哪里（一到三句），只使用给定的数字")
    causes: list[str] = Field(description="可能的原因，每条一句")
    corrections: list[str] = Field(description="机关应如何更正，每条一句")


class Explanation(BaseModel):
    fingerprint: str
    rule: str
    severity: str
    summary: str
    cells: list[CellRef]
    causes: list[str]
    corrections: list[str]
    mode: Mode
    model: Optional[str] = None
    note: Optional[str] = None  # e.g. why the offline answer was used
    # numbers not found in what the model was given (marked 【未核实】 in the text fields), with their sentence
    unsupported_numbers: list[Unsupported] = Field(default_factory=list)
    derived_numbers: list[Derived] = Field(default_factory=list)  # accepted: derived from given numbers
    citations: list[str] = Field(default_factory=list)  # kept citations, each with the cited line's text
    stripped_citations: list[str] = Field(default_factory=list)  # removed: lines the model was not given
    prompt_id: Optional[str] = None
    prompt_version: Optional[str] = None


class SourceRef(BaseModel):
    kind: Literal["finding", "prior", "report"]
    agency: Optional[str] = None
    year: Optional[int] = None
    part: Optional[int] = None
    source: Optional[str] = None
    line: Optional[int] = None
    fingerprint: Optional[str] = None
    quote: Optional[str] = None  # the start of the cited text, so a kept citation shows what it cites

    def label(self) -> str:
        if self.kind == "finding":
            return f"审核发现 {self.fingerprint}"
        part = f"第{'一二三四五六'[self.part - 1]}部分" if self.part else ""
        where = f"第{self.line}行" if self.line and self.kind == "report" else ""
        return f"{self.agency or ''}{self.year or ''}年报{part}{where}" + (f"：“{_short(self.quote)}”" if self.quote else "")


def _short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "…"


class DraftItem(BaseModel):
    text: str
    sources: list[SourceRef] = Field(default_factory=list)


class DraftItemText(BaseModel):
    text: str = Field(description="一条内容，一到两句")
    sources: list[int] = Field(default_factory=list, description="依据的材料编号（见“材料”列表），至少一个；"
                                                                  "没有依据的条目会被删除")


class DraftText(BaseModel):
    """What the model is asked to return for a part 五 draft."""

    problems: list[DraftItemText] = Field(description="存在的主要问题")
    measures: list[DraftItemText] = Field(description="改进情况和措施")
    plan: list[DraftItemText] = Field(description="下一年度工作计划")


class Part5Draft(BaseModel):
    source: str
    agency: Optional[str]
    year: Optional[int]
    problems: list[DraftItem]
    measures: list[DraftItem]
    plan: list[DraftItem]
    materials: list[SourceRef] = Field(default_factory=list)
    repetition: Optional[float] = None  # share repeated from the agency's last part 五 (None: no earlier report)
    repetition_year: Optional[int] = None
    repeated_sentences: list[str] = Field(default_factory=list)
    repetition_warning: bool = False
    mode: Mode
    model: Optional[str] = None
    note: Optional[str] = None
    unsupported_numbers: list[Unsupported] = Field(default_factory=list)
    derived_numbers: list[Derived] = Field(default_factory=list)
    stripped_citations: list[str] = Field(default_factory=list)
    # the repetition check against every passage of another agency used: {"source", "share"}
    source_repetition: list[dict] = Field(default_factory=list)
    prompt_id: Optional[str] = None
    prompt_version: Optional[str] = None

    def text(self) -> str:
        def block(title: str, items: list[DraftItem]) -> str:
            return title + "\n" + "\n".join(f"{i}. {it.text}" for i, it in enumerate(items, 1))
        return "\n\n".join([block("（一）存在的主要问题", self.problems), block("（二）改进情况", self.measures),
                            block("（三）下一年度工作计划", self.plan)])


class ChatAnswer(BaseModel):
    text: str
    mode: Mode
    model: Optional[str] = None
    citations: list[str] = Field(default_factory=list)
    stripped_citations: list[str] = Field(default_factory=list)
    unsupported_numbers: list[Unsupported] = Field(default_factory=list)
    derived_numbers: list[Derived] = Field(default_factory=list)
    prompt_tokens: int = 0
    note: Optional[str] = None
    prompt_id: Optional[str] = None
    prompt_version: Optional[str] = None
