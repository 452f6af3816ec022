"""The rule registry: each rule has an id, a severity, a one-line title, the clause it rests on,
and a function of the extracted report (and, for cross-year rules, last year's) yielding findings."""
from __future__ import annotations

import hashlib
from decimal import Decimal
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

from review.models import (AppealCell, ApplicationCell, Cell, CellState, DisclosureCell, Evidence, Finding, Report,
                           ReviewResult, RuleInfo, Severity)
from review.templates import Template, template

# Bump when a rule changes what it finds: batch runs redo reports reviewed under another version.
RULES_VERSION = "4"  # 3: text-instruction (instructions hidden in a report); 4: words catalogue, grouped cell findings


@dataclass
class Context:
    report: Report
    # For cross-year rules: the same agency's report for the year before (`previous`), and its latest
    # earlier report of any year (`prior`: for repetition, which needs no adjacent year). None: not available.
    previous: Optional[ReviewResult] = None
    prior: Optional[ReviewResult] = None
    history: bool = False  # whether any history (a store or a folder) was consulted
    _index: dict = field(default_factory=dict)

    @property
    def meta(self):
        return self.report.meta

    @property
    def template(self) -> Optional[Template]:
        return template(self.meta.format) if self.meta.format else None

    def applications(self) -> dict[tuple[str, str], ApplicationCell]:
        if "apps" not in self._index:
            self._index["apps"] = {(c.row, c.column): c for c in self.report.tables.applications}
        return self._index["apps"]

    def appeals(self) -> dict[tuple[str, str], AppealCell]:
        if "appeals" not in self._index:
            self._index["appeals"] = {(c.group, c.column): c for c in self.report.tables.appeals}
        return self._index["appeals"]

    def memo(self, key, make: Callable[[], Any]) -> Any:
        """`make()` once per report for `key`: what several rules derive from the same cells."""
        if key not in self._index:
            self._index[key] = make()
        return self._index[key]

    def cells_by_state(self) -> dict:
        """{state: [(position, table, cell, its row/item/group), ...]} over the three tables, in order (built
        once: four rules walk every cell)."""
        if "states" not in self._index:
            by: dict = {}
            t = self.report.tables
            n = 0
            for table, cells, fld in (("disclosure", t.disclosure, "item"), ("applications", t.applications, "row"),
                                      ("appeals", t.appeals, "group")):
                for c in cells:
                    by.setdefault(c.state, []).append((n, table, c, getattr(c, fld)))
                    n += 1
            self._index["states"] = by
        return self._index["states"]

    def disclosure(self, item: str, column: str) -> Optional[DisclosureCell]:
        return next((c for c in self.report.tables.disclosure if c.item == item and c.column == column), None)

    def section(self, number: int):
        return next((s for s in self.report.sections if s.number == number), None)


Check = Callable[[Context], Iterable[Finding]]


@dataclass
class Rule:
    id: str
    severity: Severity
    title: str
    basis: str
    check: Check
    description: str = ""

    def info(self) -> RuleInfo:
        return RuleInfo(id=self.id, severity=self.severity, title=self.title, basis=self.basis,
                        description=self.description)

    def finding(self, message: str, key: str, *, severity: Optional[Severity] = None, status: str = "fail",
                table: Optional[str] = None, cells: Optional[list[dict]] = None, section: Optional[int] = None,
                line: Optional[int] = None, evidence: Optional[list[Evidence]] = None) -> Finding:
        """A finding of this rule. `key` tells this finding from the rule's others on the same report
        (a column, a row, a part): with the rule id it makes the fingerprint, stable across runs."""
        sev = severity or (Severity.info if status == "not_assessable" else self.severity)
        return Finding(rule=self.id, severity=sev, title=self.title, message=message, status=status, table=table,
                       cells=cells or [], section=section, line=line, evidence=evidence or [],
                       fingerprint=fingerprint(self.id, key))


def fingerprint(rule_id: str, key: str) -> str:
    return hashlib.sha1(f"{rule_id}|{key}".encode("utf-8")).hexdigest()[:16]


REGISTRY: dict[str, Rule] = {}


def rule(id: str, severity: str, title: str, basis: str, description: str = ""):
    def deco(fn: Callable[[Rule, Context], Iterable[Finding]]):
        if id in REGISTRY:
            raise ValueError(f"duplicate rule id {id}")
        r = Rule(id, Severity(severity), title, basis, check=lambda ctx, fn=fn: fn(REGISTRY[id], ctx),
                 description=description or (fn.__doc__ or "").strip())
        REGISTRY[id] = r
        return fn

    return deco


def fmt_value(c: Optional[Cell]) -> str:
    """A cell as a reviewer reads it: the number, or what the cell holds instead."""
    if c is None:
        return "（缺）"
    if c.state in (CellState.number, CellState.inferred):
        return num_text(c.value) + ("（推得）" if c.state == CellState.inferred else "")
    return {"blank": "（空白）", "na": "（不适用）", "unreadable": "（无法识别）"}[c.state.value]


def num_text(v) -> str:
    """A number as written in a message: integers plainly, decimals without trailing zeros."""
    if isinstance(v, Decimal):  # exact: every written digit, no exponent form
        text = format(v, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    if isinstance(v, float):
        return f"{v:.6f}".rstrip("0").rstrip(".") if not v.is_integer() else str(int(v))
    return str(v)


def evidence_of(c: Cell, ref: str) -> Evidence:
    return Evidence(ref=ref, value=c.value if c.value is not None else None, state=c.state.value, line=c.line)
