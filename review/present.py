"""How a finding's place in the report is said to a reviewer, the same in the CLI, the UI and the memos."""
from __future__ import annotations

from typing import Optional

TABLE_ZH = {"disclosure": "表二", "applications": "表三", "appeals": "表四"}
PART_ZH = "一二三四五六"


def cells_text(cells: list[dict]) -> str:
    """“ 自然人列” when all cells share a column, “ 三.一行” when they share a row, else the first few."""
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
