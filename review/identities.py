"""The template identities (勾稽关系) as concrete equations over cells.

Shared by the extractor (to place a cell a short row lost, and to infer a value an identity pins
down) and by the rules (to check them). A cell is addressed as (row, column) for 表三 and
(group, column) for 表四."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import localcontext
from functools import lru_cache
from typing import Iterable, Optional

from review.templates import Template, template
from review.text import EXACT, Exact, half_width

Key = tuple[str, str]


@dataclass(frozen=True)
class Equation:
    identity: str  # the template identity id
    lhs: tuple[Key, ...]
    rhs: tuple[Key, ...]
    along: str  # the column, row or group the equation is about
    title: str = ""

    @property
    def cells(self) -> tuple[Key, ...]:
        return self.lhs + self.rhs


def application_equations(t: Template, rows: Optional[frozenset[str]] = None) -> list[Equation]:
    """The 表三 equations. With `rows` (the row codes the report has), a group row the report filled as
    one row instead of its sub-rows (2021's （六）其他处理 as a single row) stands for its parts."""
    eqs = _application_equations(t.format)
    totals = _collapsed(t, rows) if rows is not None else {}
    return _substitute(eqs, totals) if totals else eqs


def _collapsed(t: Template, rows: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """{group code: its parts} for each may-total group present as a row with none of its parts."""
    return {r.code: tuple(r.parts) for r in t.applications.rows
            if r.may_total and r.code in rows and not any(p in rows for p in r.parts)}


def _substitute(eqs: list[Equation], totals: dict[str, tuple[str, ...]]) -> list[Equation]:
    part_of = {p: g for g, parts in totals.items() for p in parts}
    out = []
    for e in eqs:
        def side(keys):
            seen, new = set(), []
            for k in keys:
                k2 = (part_of.get(k[0], k[0]), k[1])
                if k2 not in seen:
                    seen.add(k2)
                    new.append(k2)
            return tuple(new)
        if any(k[0] in part_of for k in e.cells):
            out.append(Equation(e.identity, side(e.lhs), side(e.rhs), e.along, e.title))
        elif e.along not in part_of:  # a row equation about a part that is not there
            out.append(e)
    for g in totals:  # the row total holds for the collapsed row too
        proto = next((e for e in eqs if e.along in totals[g]), None)
        if proto is not None:
            out.append(Equation(proto.identity, tuple((g, k[1]) for k in proto.lhs),
                                tuple((g, k[1]) for k in proto.rhs), g, proto.title))
    return out


def appeal_equations(t: Template) -> list[Equation]:
    return _appeal_equations(t.format)


@lru_cache(maxsize=None)
def _application_equations(fmt: str) -> list[Equation]:
    t = template(fmt)
    cols = [c.name for c in t.applications.columns]
    data_rows = [r.code for r in t.applications.rows if not r.group]
    out: list[Equation] = []
    for ident in t.applications.identities:
        if ident.per == "column":
            for c in cols:
                out.append(Equation(ident.id, tuple((r, c) for r in ident.lhs), tuple((r, c) for r in ident.rhs),
                                    c, ident.title))
        else:
            for r in data_rows:
                out.append(Equation(ident.id, tuple((r, c) for c in ident.lhs), tuple((r, c) for c in ident.rhs),
                                    r, ident.title))
    return out


@lru_cache(maxsize=None)
def _appeal_equations(fmt: str) -> list[Equation]:
    t = template(fmt)
    out = []
    for ident in t.appeals.identities:
        for g in t.appeals.groups:
            out.append(Equation(ident.id, ((g.name, ident.total),), tuple((g.name, p) for p in ident.parts),
                                g.name, ident.title))
    return out


def solve(eq: Equation, values: dict[Key, Optional[Exact]]) -> Optional[tuple[Key, Exact]]:
    """If exactly one cell of `eq` is unknown (None) and the rest are numbers, the value it must have (exact:
    ints and Decimals in, an int or a Decimal out)."""
    unknown = [k for k in eq.cells if values.get(k) is None]
    if len(unknown) != 1:
        return None
    k = unknown[0]
    if all(type(values[x]) is int for x in eq.cells if x != k):  # counts: plain integer arithmetic
        lhs = sum(values[x] for x in eq.lhs if x != k)
        rhs = sum(values[x] for x in eq.rhs if x != k)
        return k, (rhs - lhs) if k in eq.lhs else (lhs - rhs)
    with localcontext(EXACT):
        lhs = sum(values[x] for x in eq.lhs if x != k)
        rhs = sum(values[x] for x in eq.rhs if x != k)
        return k, (rhs - lhs) if k in eq.lhs else (lhs - rhs)


def holds(eq: Equation, values: dict[Key, Optional[Exact]]) -> Optional[bool]:
    """True/False when every cell is a number; None when some cell is not (not assessable).

    Exact arithmetic: counts (ints) must add up exactly. A number written with decimals stands for the interval
    its rounding allows (Arelle's Calculations 1.1): the equation fails only when no choice of values within
    those intervals reconciles the two sides, i.e. when |lhs - rhs| exceeds the sum of the half-widths."""
    vals = [values.get(k) for k in eq.cells]
    if any(v is None for v in vals):
        return None
    if all(type(v) is int for v in vals):  # counts: whole numbers, exact (the common case, kept fast)
        n = len(eq.lhs)
        return sum(vals[:n]) == sum(vals[n:])
    with localcontext(EXACT):
        gap = abs(sum(values[k] for k in eq.lhs) - sum(values[k] for k in eq.rhs))
        slack = sum(half_width(values[k]) for k in eq.cells)
        return gap <= slack


def touching(eqs: Iterable[Equation], key: Key) -> list[Equation]:
    return [e for e in eqs if key in e.cells]
