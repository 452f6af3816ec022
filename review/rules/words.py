"""Numbers in the words against the table cells they restate (units normalised)."""
from __future__ import annotations

import re
from decimal import Decimal
from dataclasses import dataclass
from typing import Optional

from review.models import CellState, Evidence
from review.rules.base import Context, Rule, evidence_of, fmt_value, num_text, rule
from review.text import half_width, norm, to_wan

_LEAD = r"(?:共计|合计|总计|累计|共|为|达到|达)*"
_NUM = r"(?P<num>\d[\d,]*(?:\.\d+)?)"


@dataclass(frozen=True)
class Claim:
    topic: str
    pattern: re.Pattern
    table: str
    cells: tuple  # candidate cells: the words may restate any of them
    amount: bool = False
    severity: str = "error"


CLAIMS = [
    Claim("行政事业性收费", re.compile(rf"行政事业性收费(?:金额|总额|收入)?{_LEAD}{_NUM}(?P<unit>亿元|万元|元)"),
          "disclosure", (("行政事业性收费", "本年收费金额（单位：万元）"),), amount=True),
    Claim("行政许可", re.compile(rf"行政许可(?:决定|办件|处理决定|事项办件|类办件)?{_LEAD}{_NUM}(?P<unit>件)"),
          "disclosure", (("行政许可", "本年处理决定数量"), ("行政许可", "处理决定数量"))),
    Claim("行政处罚", re.compile(rf"行政处罚(?:决定|案件|处理决定)?{_LEAD}{_NUM}(?P<unit>件|起)"),
          "disclosure", (("行政处罚", "本年处理决定数量"), ("行政处罚", "处理决定数量"))),
    Claim("政府集中采购", re.compile(rf"政府集中采购[^。；,，]{{0,8}}?(?:金额|总额|总金额){_LEAD}{_NUM}(?P<unit>亿元|万元|元)"),
          "disclosure", (("政府集中采购", "采购总金额"),), amount=True),
    Claim("依申请公开", re.compile(rf"(?:依申请公开|政府信息公开申请)(?:申请|办件|事项)?{_LEAD}{_NUM}(?P<unit>件|起|条)"),
          "applications", (("一", "总计"), ("三.七", "总计")), severity="warning"),
]
_TOPIC_WORDS = ("行政事业性收费", "行政许可", "行政处罚", "政府集中采购", "公开申请", "依申请")
_SUBSET = ("其中", "涉及", "同比", "增长", "减少", "较上年", "去年")


def _precision(raw: str) -> Decimal:
    """Half a unit of the last digit written: the rounding a number written this way allows."""
    return Decimal((0, (5,), -(len(raw.split(".")[1]) if "." in raw else 0) - 1))


@rule("words-vs-tables", "error", "正文数字与表格数字一致（统一换算单位后）", "《条例》第五十条；年报内容应准确一致",
      "正文中复述表格的数字（如“处理行政许可37957件”“行政事业性收费共326780865元”“依申请公开办件7件”）"
      "与对应单元格比较，元/万元/亿元统一换算为万元，按各自的小数位数计入舍入误差。"
      "行政事业性收费（表二）与信息处理费（第六部分）是两回事，从不比较。")
def words_vs_tables(r: Rule, ctx: Context):
    table_lines = {i for s in ctx.report.spans for i in range(s.start, s.end + 1)}
    for i, line in enumerate(ctx.report.lines, 1):
        if i in table_lines or not any(k in line for k in _TOPIC_WORDS):
            continue
        n = norm(line)
        for claim in CLAIMS:
            for m in claim.pattern.finditer(n):
                if any(w in n[max(0, m.start() - 6): m.start()] for w in _SUBSET) or "处理费" in m.group(0):
                    continue
                f = _compare(r, ctx, claim, m, i)
                if f:
                    yield f


def _cell(ctx: Context, claim: Claim, key) -> Optional[object]:
    if claim.table == "disclosure":
        return ctx.disclosure(*key)
    return ctx.applications().get(key)


def _compare(r: Rule, ctx: Context, claim: Claim, m: re.Match, line: int):
    raw, unit = m.group("num").replace(",", ""), m.group("unit")
    said = Decimal(raw) if "." in raw else int(raw)  # exact, as written
    cells = [(k, c) for k in claim.cells for c in [_cell(ctx, claim, k)] if c is not None]
    if not cells:
        return None  # the table has no such cell (e.g. 2019 format has no fee amount): nothing is restated
    ref = {"item" if claim.table == "disclosure" else "row": cells[0][0][0], "column": cells[0][0][1]}
    key = f"{claim.topic}|{m.group(0)}"
    usable = [(k, c) for k, c in cells if c.state in (CellState.number, CellState.inferred)]
    ev_text = Evidence(ref=f"第 {line} 行", value=m.group(0), line=line)
    if not usable:
        c = cells[0][1]
        return r.finding(f"正文第 {line} 行“{m.group(0)}”对应的表格单元格{fmt_value(c)}，无法核对。", key=key,
                         status="not_assessable", table=claim.table, cells=[ref], line=line,
                         evidence=[ev_text] + [evidence_of(x, f"{k[0]}/{k[1]}") for k, x in cells])
    if claim.amount:
        said_wan = to_wan(said, unit)
        tol_text = to_wan(_precision(raw), unit)
        for k, c in usable:
            # the cell's own rounding: its written decimals (kept through unit conversion), or half a 万元
            tol_cell = half_width(c.value) if isinstance(c.value, Decimal) else Decimal("0.5")
            if abs(said_wan - c.value) <= tol_text + tol_cell:
                return None
        k, c = usable[0]
        ratio = said_wan / c.value if c.value else None
        times = f"，相差约 {num_text(round(ratio, 2))} 倍" if ratio and (ratio >= 9.5 or ratio <= 0.105) else ""
        return r.finding(f"正文第 {line} 行称“{m.group(0)}”（合 {num_text(said_wan)} 万元），"
                         f"表二“{k[0]}/{k[1]}”为 {num_text(c.value)} 万元{times}。", key=key, table=claim.table, cells=[ref],
                         line=line, severity=claim.severity,
                         evidence=[ev_text, evidence_of(c, f"{k[0]}/{k[1]}")])
    if any(said == c.value for _, c in usable):
        return None
    if claim.table == "applications":
        apps = ctx.applications()
        one, two = apps.get(("一", "总计")), apps.get(("二", "总计"))
        if one and two and one.value is not None and two.value is not None and one.value + two.value == said:
            return None
    shown = "；".join(f"“{k[0]}/{k[1]}”为 {fmt_value(c)}" for k, c in usable)
    return r.finding(f"正文第 {line} 行称“{m.group(0)}”，而表格中{shown}。", key=key, table=claim.table, cells=[ref],
                     line=line, severity=claim.severity,
                     evidence=[ev_text] + [evidence_of(c, f"{k[0]}/{k[1]}") for k, c in usable])
