"""The template identities (勾稽关系) as concrete equations over cells.

Shared by the extractor (to place a cell a short row lost, and to infer a value an identity pins
down) and by the rules (to check them). A cell is addressed as (row, column) for 表三 and
(group, column) for 表四."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Optional

from review.templates import Template, template

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


def application_equations(t: Template) -> list[Equation]:
    return _application_equations(t.format)


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


def solve(eq: Equation, values: dict[Key, Optional[float]]) -> Optional[tuple[Key, float]]:
    """If exactly one cell of `eq` is unknown (None) and the rest are numbers, the value it must have."""
    unknown = [k for k in eq.cells if values.get(k) is None]
    if len(unknown) != 1:
        return None
    k = unknown[0]
    lhs = sum(values[x] for x in eq.lhs if x != k)
    rhs = sum(values[x] for x in eq.rhs if x != k)
    return k, (rhs - lhs) if k in eq.lhs else (lhs - rhs)


def holds(eq: Equation, values: dict[Key, Optional[float]]) -> Optional[bool]:
    """True/False when every cell is a number; None when some cell is not (not assessable)."""
    if any(values.get(k) is None for k in eq.cells):
        return None
    return abs(sum(values[k] for k in eq.lhs) - sum(values[k] for k in eq.rhs)) < 1e-9


def touching(eqs: Iterable[Equation], key: Key) -> list[Equation]:
    return [e for e in eqs if key in e.cells]
