"""The rule catalogue. `run(report)` applies every registered rule; `catalogue()` lists them."""
from __future__ import annotations

from typing import Optional

from review.models import Finding, Report, ReviewResult, RuleInfo
from review.rules import tables, words, parts, meta, crossyear, injection  # noqa: F401,I001  (registers the rules, in order)
from review.rules.base import REGISTRY, RULES_VERSION, Context, fingerprint

_ORDER = {"error": 0, "warning": 1, "info": 2}


def run(report: Report, previous: Optional[ReviewResult] = None, prior: Optional[ReviewResult] = None,
        history: bool = False, only: Optional[set[str]] = None) -> list[Finding]:
    """All rules on `report`. `previous`: the same agency's report for the year before; `prior`: its latest
    earlier report; `history`: whether a store or folder was consulted for them (else cross-year rules say so)."""
    ctx = Context(report=report, previous=previous, prior=prior or previous, history=history)
    out: list[Finding] = []
    for r in REGISTRY.values():
        if only and r.id not in only:
            continue
        out.extend(r.check(ctx))
    # failures before "not assessable", then by severity, then by place in the report
    out.sort(key=lambda f: (f.status != "fail", _ORDER[f.severity.value], f.line or 0))
    return out


def catalogue() -> list[RuleInfo]:
    return [r.info() for r in REGISTRY.values()]


__all__ = ["run", "catalogue", "REGISTRY", "RULES_VERSION", "fingerprint"]
