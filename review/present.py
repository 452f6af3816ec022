"""How a finding's place in the report is said to a reviewer, the same in the CLI, the UI and the memos."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional

TABLE_ZH = {"disclosure": "表二", "applications": "表三", "appeals": "表四"}
PART_ZH = "一二三四五六"
_NOTE = re.compile(r"（[^（）]*）$")


@lru_cache(maxsize=None)
def _row_labels() -> dict[str, str]:
    """表三 row codes to the template's words; a sub-row carries its group's: “（三）不予公开 2.其他法律行政法规禁止公开”.
    The codes mean the same rows in both formats (the 2019 format's single （六） row is 三.六)."""
    from review.templates import template  # the templates are data; imported late to keep this module light

    out: dict[str, str] = {}
    for fmt in ("2019", "2021"):
        rows = template(fmt).applications.rows
        labels = {r.code: r.label for r in rows}
        for r in rows:
            label = _NOTE.sub("", r.label) if _NOTE.sub("", r.label) else r.label  # （二）部分公开（区分处理的…）
            parent = r.code.rsplit(".", 1)[0] if r.code.count(".") == 2 else None
            if parent and parent in labels:
                label = f"{labels[parent]} {label}"
            out.setdefault(r.code, label)
    return out


def row_label(code: str) -> str:
    """A 表三 row as the template names it (“一、本年新收政府信息公开申请数量”, “（七）总计”,
    “（三）不予公开 2.其他法律行政法规禁止公开”); anything else unchanged."""
    return _row_labels().get(code, code)


def group_label(group: str) -> str:
    """A 表四 group as the table heads it: the two litigation groups sit under 行政诉讼."""
    return f"行政诉讼 {group}" if group in ("未经复议直接起诉", "复议后起诉") else group


def _named(c: dict) -> dict:
    return {k: row_label(v) if k == "row" else group_label(v) if k == "group" else v for k, v in c.items()}


def cells_text(cells: list[dict]) -> str:
    """“ 自然人列” when all cells share a column, “ （一）予以公开行” when they share a row, else the first few."""
    cells = [_named(c) for c in cells]
    if len(cells) > 1:
        for key, suffix in (("column", "列"), ("row", "行"), ("group", "")):
            values = {c.get(key) for c in cells}
            if len(values) == 1 and None not in values:
                return f" {values.pop()}{suffix}"
    shown = "、".join("/".join(c.values()) for c in cells[:3])
    return (f" {shown}" if shown else "") + ("…" if len(cells) > 3 else "")


def location(table: Optional[str], cells: list[dict], section: Optional[int], line: Optional[int]) -> str:
    """“表三 自然人列；第 103 行”, “第六部分”, or "" when the finding is about the whole report."""
    parts = []
    if table:
        parts.append(TABLE_ZH.get(table, table) + cells_text(cells))
    if section:
        parts.append(f"第{PART_ZH[section - 1]}部分")
    if line:
        parts.append(f"第 {line} 行")
    return "；".join(parts)
