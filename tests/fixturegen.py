"""Render the five seed reports in other document formats, for the extractor's tests.

Each output keeps the seed's own narrative lines (title, headings, paragraphs, 发布日期 line,
signature, footer) and replaces each of the seed's table regions (hand-chosen line ranges in
TABLE_RANGES) by tables rendered from the hand-read gold values, in the national template's
layout and words.

This module deliberately imports nothing from the `review` package: the fixtures it makes are
an independent check of the extractor. The template labels are hard-coded here from
/work/shared/domain.md.

Formats:
  html  - a full HTML page, <p> paragraphs, <table border=1> with real rowspan/colspan
  docx  - python-docx paragraphs and tables, merged cells made with cell.merge
  pdf   - reportlab platypus, CID font STSong-Light, TableStyle GRID + SPAN
  tabs  - plain text, one table row per line, cells separated by tabs
  cells - plain text, one non-empty cell per line
  pipes - markdown pipe tables, merged labels joined into one label cell
"""

from __future__ import annotations

import html as html_lib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Union
from xml.sax.saxutils import escape as xml_escape

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"
GOLD_PATH = Path(__file__).resolve().parent / "data" / "gold_seeds.json"

SEEDS: list[str] = [
    "000_96a21a1bd07d0629.txt",
    "001_7db3595534c35dc9.txt",
    "002_f86e26e747344a50.txt",
    "003_8eaa2870e78a4cb1.txt",
    "004_0c9827e6b67986f5.txt",
]
FORMATS: list[str] = ["html", "docx", "pdf", "tabs", "cells", "pipes"]

# File suffix per format.
SUFFIX = {"html": ".html", "docx": ".docx", "pdf": ".pdf",
          "tabs": ".tabs.txt", "cells": ".cells.txt", "pipes": ".pipes.txt"}

# The seeds' table regions, read by hand: 1-based, inclusive line ranges of the 表二 region
# (all 第二十条 blocks), the 表三 table lines and the 表四 table lines. Narrative lines between
# the tables are outside these ranges and are kept.
TABLE_RANGES: dict[str, dict[str, tuple[int, int]]] = {
    "000_96a21a1bd07d0629.txt": {"disclosure": (143, 162), "applications": (168, 195),
                                 "appeals": (203, 205)},
    "001_7db3595534c35dc9.txt": {"disclosure": (33, 75), "applications": (80, 365),
                                 "appeals": (371, 434)},
    "002_f86e26e747344a50.txt": {"disclosure": (32, 86), "applications": (89, 311),
                                 "appeals": (314, 350)},
    "003_8eaa2870e78a4cb1.txt": {"disclosure": (21, 38), "applications": (42, 67),
                                 "appeals": (71, 74)},
    "004_0c9827e6b67986f5.txt": {"disclosure": (15, 69), "applications": (71, 268),
                                 "appeals": (271, 304)},
}

# A null gold cell (unreadable in the source) is rendered as this glyph.
NULL_GLYPH = "■"

# ---------------------------------------------------------------------------------------------
# Template words (national templates, 国办公开办函〔2019〕60号 and 〔2021〕30号)
# ---------------------------------------------------------------------------------------------

# 表二: (block title, template rows, columns) per format.
DISCLOSURE_BLOCKS: dict[str, list[tuple[str, list[str], list[str]]]] = {
    "2019": [
        ("第二十条第（一）项", ["规章", "规范性文件"],
         ["本年新制作数量", "本年新公开数量", "对外公开总数量"]),
        ("第二十条第（五）项", ["行政许可", "其他对外管理服务事项"],
         ["上一年项目数量", "本年增/减", "处理决定数量"]),
        ("第二十条第（六）项", ["行政处罚", "行政强制"],
         ["上一年项目数量", "本年增/减", "处理决定数量"]),
        ("第二十条第（八）项", ["行政事业性收费"], ["上一年项目数量", "本年增/减"]),
        ("第二十条第（九）项", ["政府集中采购"], ["采购项目数量", "采购总金额"]),
    ],
    "2021": [
        ("第二十条第（一）项", ["规章", "行政规范性文件"],
         ["本年制发件数", "本年废止件数", "现行有效件数"]),
        ("第二十条第（五）项", ["行政许可"], ["本年处理决定数量"]),
        ("第二十条第（六）项", ["行政处罚", "行政强制"], ["本年处理决定数量"]),
        ("第二十条第（八）项", ["行政事业性收费"], ["本年收费金额（单位：万元）"]),
    ],
}
DISCLOSURE_HEAD = "信息内容"
# Columns whose values carry a unit in the rendered cell.
UNIT_SUFFIX = {"采购总金额": "万元"}

# 表三 header words.
APPLICATIONS_CORNER = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
APPLICANTS = "申请人情况"
NATURAL_PERSON = "自然人"
LEGAL_PERSONS = "法人或其他组织"
ORG_COLUMNS = ["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]
TOTAL = "总计"
APPLICATION_COLUMNS = [NATURAL_PERSON, *ORG_COLUMNS, TOTAL]

# 表三 rows: (row code, label path). The label path gives the merged label cells:
# its first element is the level-1 label, and so on; the last label spans the remaining
# label columns.
_R3 = "三、本年度办理结果"
_R33 = "（三）不予公开"
_R34 = "（四）无法提供"
_R35 = "（五）不予处理"
_R36 = "（六）其他处理"
_ROWS_HEAD = [
    ("一", ("一、本年新收政府信息公开申请数量",)),
    ("二", ("二、上年结转政府信息公开申请数量",)),
    ("三.一", (_R3, "（一）予以公开")),
    ("三.二", (_R3, "（二）部分公开（区分处理的，只计这一情形，不计其他情形）")),
    ("三.三.1", (_R3, _R33, "1.属于国家秘密")),
    ("三.三.2", (_R3, _R33, "2.其他法律行政法规禁止公开")),
    ("三.三.3", (_R3, _R33, "3.危及“三安全一稳定”")),
    ("三.三.4", (_R3, _R33, "4.保护第三方合法权益")),
    ("三.三.5", (_R3, _R33, "5.属于三类内部事务信息")),
    ("三.三.6", (_R3, _R33, "6.属于四类过程性信息")),
    ("三.三.7", (_R3, _R33, "7.属于行政执法案卷")),
    ("三.三.8", (_R3, _R33, "8.属于行政查询事项")),
    ("三.四.1", (_R3, _R34, "1.本机关不掌握相关政府信息")),
    ("三.四.2", (_R3, _R34, "2.没有现成信息需要另行制作")),
    ("三.四.3", (_R3, _R34, "3.补正后申请内容仍不明确")),
    ("三.五.1", (_R3, _R35, "1.信访举报投诉类申请")),
    ("三.五.2", (_R3, _R35, "2.重复申请")),
    ("三.五.3", (_R3, _R35, "3.要求提供公开出版物")),
    ("三.五.4", (_R3, _R35, "4.无正当理由大量反复申请")),
    ("三.五.5", (_R3, _R35, "5.要求行政机关确认或重新出具已获取信息")),
]
_ROWS_OTHER = {
    "2019": [("三.六", (_R3, _R36))],
    "2021": [
        ("三.六.1", (_R3, _R36, "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请")),
        ("三.六.2", (_R3, _R36, "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请")),
        ("三.六.3", (_R3, _R36, "3.其他")),
    ],
}
_ROWS_TAIL = [
    ("三.七", (_R3, "（七）总计")),
    ("四", ("四、结转下年度继续办理",)),
]
APPLICATION_LABEL_COLS = 3


def application_rows(fmt: str) -> list[tuple[str, tuple[str, ...]]]:
    """The 表三 rows (code, label path) of the 2019 or 2021 format."""
    return _ROWS_HEAD + _ROWS_OTHER[fmt] + _ROWS_TAIL


# 表四 words.
APPEAL_GROUPS = ["行政复议", "未经复议直接起诉", "复议后起诉"]
LITIGATION = "行政诉讼"
APPEAL_RESULTS = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]

# ---------------------------------------------------------------------------------------------
# Table model: a grid with merged cells
# ---------------------------------------------------------------------------------------------


@dataclass
class Cell:
    """An origin cell: the top-left position of a (possibly merged) cell."""
    text: str
    row: int
    col: int
    rowspan: int = 1
    colspan: int = 1


@dataclass
class Table:
    """A table as a grid of origin cells.

    caption_rows: leading full-width title rows (the 表二 block title);
    header_rows: column-header rows after the caption;
    label_cols: leading row-label columns.
    """
    name: str
    nrows: int
    ncols: int
    caption_rows: int = 0
    header_rows: int = 0
    label_cols: int = 0
    cells: list[Cell] = field(default_factory=list)

    def put(self, row: int, col: int, text: str, rowspan: int = 1, colspan: int = 1) -> None:
        self.cells.append(Cell(text, row, col, rowspan, colspan))

    def origins(self) -> list[list[Cell | None]]:
        """grid[r][c] = the cell whose origin is (r, c), else None."""
        grid: list[list[Cell | None]] = [[None] * self.ncols for _ in range(self.nrows)]
        for cell in self.cells:
            grid[cell.row][cell.col] = cell
        return grid

    def covered(self) -> set[tuple[int, int]]:
        """Positions covered by a merged cell, other than its origin."""
        out = set()
        for cell in self.cells:
            for r in range(cell.row, cell.row + cell.rowspan):
                for c in range(cell.col, cell.col + cell.colspan):
                    if (r, c) != (cell.row, cell.col):
                        out.add((r, c))
        return out

    def cover_texts(self) -> list[list[str]]:
        """grid[r][c] = text of the cell covering (r, c), '' if none."""
        grid = [[""] * self.ncols for _ in range(self.nrows)]
        for cell in self.cells:
            for r in range(cell.row, cell.row + cell.rowspan):
                for c in range(cell.col, cell.col + cell.colspan):
                    grid[r][c] = cell.text
        return grid


# ---------------------------------------------------------------------------------------------
# Gold values and number formatting
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def load_gold() -> dict:
    return json.loads(GOLD_PATH.read_text(encoding="utf-8"))


def format_number(value) -> str:
    """Write a gold value plainly: 47305, -115, 326.780865, 345.22; None -> the null glyph."""
    if value is None:
        return NULL_GLYPH
    if isinstance(value, bool):
        raise TypeError(f"unexpected boolean cell value {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        text = repr(value)
        if "e" in text.lower():
            text = f"{value:.12f}".rstrip("0").rstrip(".")
        return text
    return str(value)


def format_cell(column: str, value) -> str:
    """A table cell for a gold value, with the column's unit where the template writes one."""
    text = format_number(value)
    if value is not None and column in UNIT_SUFFIX:
        text += UNIT_SUFFIX[column]
    return text


# ---------------------------------------------------------------------------------------------
# Tables built from the gold
# ---------------------------------------------------------------------------------------------


def disclosure_rows(gold: dict) -> list[tuple[str, list[str], list[tuple[str, dict]]]]:
    """The 表二 blocks (title, columns, rows) to render for one seed.

    Template rows present in the gold come first, in template order; rows listed in
    disclosure_missing are dropped; local rows (disclosure_extra, and gold items that are not
    template rows of this format) follow the template rows of the first block whose columns
    hold all of their columns.
    """
    fmt = gold["meta"]["format"]
    blocks = DISCLOSURE_BLOCKS[fmt]
    present = gold.get("disclosure", {})
    missing = set(gold.get("disclosure_missing", []))
    template_items = {item for _, items, _ in blocks for item in items}
    leftovers = [(item, vals) for item, vals in present.items() if item not in template_items]
    leftovers += list(gold.get("disclosure_extra", {}).items())

    out = []
    placed: set[str] = set()
    for title, items, columns in blocks:
        rows = [(item, present[item]) for item in items if item in present and item not in missing]
        for item, vals in leftovers:
            if item not in placed and item not in missing and set(vals) <= set(columns):
                rows.append((item, vals))
                placed.add(item)
        # A column no row of the block has is absent from the source table (seed 003's 第（八）项
        # prints only 上一年项目数量): leave it out of the header too, as the source does.
        if rows:
            columns = [c for c in columns if any(c in vals for _, vals in rows)]
        out.append((title, columns, rows))
    unplaced = [item for item, _ in leftovers if item not in placed and item not in missing]
    if unplaced:
        raise ValueError(f"no 表二 block fits the local rows {unplaced}")
    return out


def disclosure_table(title: str, columns: list[str], rows: list[tuple[str, dict]]) -> Table:
    """One 表二 block: a full-width title row, the header row, one row per item."""
    ncols = 1 + len(columns)
    table = Table(name=title, nrows=2 + len(rows), ncols=ncols,
                  caption_rows=1, header_rows=1, label_cols=1)
    table.put(0, 0, title, colspan=ncols)
    table.put(1, 0, DISCLOSURE_HEAD)
    for c, column in enumerate(columns, start=1):
        table.put(1, c, column)
    for r, (item, values) in enumerate(rows, start=2):
        table.put(r, 0, item)
        for c, column in enumerate(columns, start=1):
            # A column absent from the gold item is left empty (not the null glyph).
            if column in values:
                table.put(r, c, format_cell(column, values[column]))
    return table


def place_label_paths(table: Table, paths: list[tuple[str, ...]], first_row: int,
                      width: int) -> None:
    """Place row labels as merged cells: equal consecutive prefixes merge vertically, and
    each path's last label spans the remaining label columns."""
    n = len(paths)
    for level in range(width):
        r = 0
        while r < n:
            path = paths[r]
            if len(path) <= level:
                r += 1
                continue
            key = path[:level + 1]
            end = r
            while end + 1 < n and paths[end + 1][:level + 1] == key:
                end += 1
            colspan = width - level if len(path) == level + 1 else 1
            table.put(first_row + r, level, path[level], rowspan=end - r + 1, colspan=colspan)
            r = end + 1


def applications_table(gold: dict) -> Table:
    """表三 in the template's layout: a three-row merged header, three label columns."""
    rows = application_rows(gold["meta"]["format"])
    values = gold.get("applications", {})
    lc = APPLICATION_LABEL_COLS
    header = 3
    table = Table(name="表三", nrows=header + len(rows), ncols=lc + len(APPLICATION_COLUMNS),
                  header_rows=header, label_cols=lc)
    # Header: corner | 申请人情况 / 自然人 (rowspan 2), 法人或其他组织 (colspan 5), 总计 (rowspan 2).
    table.put(0, 0, APPLICATIONS_CORNER, rowspan=header, colspan=lc)
    table.put(0, lc, APPLICANTS, colspan=len(APPLICATION_COLUMNS))
    table.put(1, lc, NATURAL_PERSON, rowspan=2)
    table.put(1, lc + 1, LEGAL_PERSONS, colspan=len(ORG_COLUMNS))
    table.put(1, lc + 1 + len(ORG_COLUMNS), TOTAL, rowspan=2)
    for i, column in enumerate(ORG_COLUMNS):
        table.put(2, lc + 1 + i, column)
    # Body.
    place_label_paths(table, [path for _, path in rows], header, lc)
    for r, (code, _) in enumerate(rows, start=header):
        row_values = values.get(code, {})
        for c, column in enumerate(APPLICATION_COLUMNS, start=lc):
            table.put(r, c, format_cell(column, row_values.get(column)))
    return table


def appeals_table(gold: dict) -> Table:
    """表四: 行政复议 | 行政诉讼 / results (rowspan 2) | 未经复议直接起诉 | 复议后起诉 / results."""
    values = gold.get("appeals", {})
    k = len(APPEAL_RESULTS)
    table = Table(name="表四", nrows=4, ncols=3 * k, header_rows=3)
    table.put(0, 0, APPEAL_GROUPS[0], colspan=k)
    table.put(0, k, LITIGATION, colspan=2 * k)
    for i, result in enumerate(APPEAL_RESULTS):
        table.put(1, i, result, rowspan=2)
    table.put(1, k, APPEAL_GROUPS[1], colspan=k)
    table.put(1, 2 * k, APPEAL_GROUPS[2], colspan=k)
    for g in (1, 2):
        for i, result in enumerate(APPEAL_RESULTS):
            table.put(2, g * k + i, result)
    for g, group in enumerate(APPEAL_GROUPS):
        group_values = values.get(group, {})
        for i, result in enumerate(APPEAL_RESULTS):
            table.put(3, g * k + i, format_cell(result, group_values.get(result)))
    return table


def region_tables(gold: dict, region: str) -> list[Table]:
    """The tables that replace one table region of a seed."""
    if region == "disclosure":
        return [disclosure_table(*block) for block in disclosure_rows(gold)]
    if region == "applications":
        return [applications_table(gold)]
    if region == "appeals":
        return [appeals_table(gold)]
    raise ValueError(region)


# ---------------------------------------------------------------------------------------------
# The document: narrative lines with table regions replaced
# ---------------------------------------------------------------------------------------------

Block = Union[str, list[Table]]


def document_blocks(seed: str) -> list[Block]:
    """The seed's lines outside its table ranges (verbatim), with a list of tables in place of
    each table region."""
    lines = (FIXTURES_DIR / seed).read_text(encoding="utf-8").split("\n")
    gold = load_gold()[seed]
    starts = {}
    skipped = set()
    for region, (first, last) in TABLE_RANGES[seed].items():
        starts[first] = region
        skipped.update(range(first, last + 1))
    out: list[Block] = []
    for number, line in enumerate(lines, start=1):
        if number in starts:
            out.append(region_tables(gold, starts[number]))
        if number not in skipped:
            out.append(line)
    return out


def narrative_lines(blocks: list[Block]) -> list[str]:
    """Non-empty narrative lines, stripped (for formats with real paragraphs)."""
    return [b.strip() for b in blocks if isinstance(b, str) and b.strip()]


# ---------------------------------------------------------------------------------------------
# Plain-text formats
# ---------------------------------------------------------------------------------------------


def tabs_lines(table: Table) -> list[str]:
    """One row per line, cells separated by tabs; a merged cell's text in its first cell."""
    grid = table.origins()
    return ["\t".join(cell.text if cell else "" for cell in row) for row in grid]


def cells_lines(table: Table) -> list[str]:
    """One non-empty cell per line, row by row."""
    return [cell.text for row in table.origins() for cell in row if cell and cell.text]


def join_labels(texts: list[str]) -> str:
    """Join the labels of merged cells, dropping repeats of the same merged label."""
    out: list[str] = []
    for text in texts:
        if text and (not out or out[-1] != text):
            out.append(text)
    return " ".join(out)


def pipe_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def pipes_lines(table: Table) -> list[str]:
    """Markdown pipe table: caption rows as one-cell rows, the header rows flattened into one
    row (merged labels joined per column), a separator, then body rows whose label columns are
    joined into one row label."""
    cover = table.cover_texts()
    lc = table.label_cols
    out = [pipe_row([join_labels(cover[r])]) for r in range(table.caption_rows)]
    head = range(table.caption_rows, table.caption_rows + table.header_rows)
    body = range(table.caption_rows + table.header_rows, table.nrows)

    def flatten(columns: range) -> list[str]:
        return [join_labels([cover[r][c] for r in head]) for c in columns]

    header = ([join_labels(flatten(range(lc)))] if lc else []) + flatten(range(lc, table.ncols))
    width = len(header)
    out.append(pipe_row(header))
    out.append("|" + "---|" * width)
    for r in body:
        label = [join_labels(cover[r][:lc])] if lc else []
        out.append(pipe_row(label + cover[r][lc:]))
    return out


TEXT_TABLE_RENDERERS = {"tabs": tabs_lines, "cells": cells_lines, "pipes": pipes_lines}


def render_text(blocks: list[Block], fmt: str) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, str):
            lines.append(block)
            continue
        for i, table in enumerate(block):
            if fmt == "pipes" and i:
                lines.append("")  # keep consecutive markdown tables apart
            lines.extend(TEXT_TABLE_RENDERERS[fmt](table))
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------


def html_table(table: Table) -> str:
    grid = table.origins()
    covered = table.covered()
    rows = []
    for r in range(table.nrows):
        tds = []
        for c in range(table.ncols):
            if (r, c) in covered:
                continue
            cell = grid[r][c]
            if cell is None:
                tds.append("<td></td>")
                continue
            attrs = ""
            if cell.rowspan > 1:
                attrs += f' rowspan="{cell.rowspan}"'
            if cell.colspan > 1:
                attrs += f' colspan="{cell.colspan}"'
            tds.append(f"<td{attrs}>{html_lib.escape(cell.text)}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return "<table border=1>\n" + "\n".join(rows) + "\n</table>"


def unmerged(table: Table) -> Table:
    """The table with every merged cell written out in each position it covers, as pages do that repeat a
    row-spanning label on every row instead of using rowspan/colspan."""
    flat = Table(table.name, table.nrows, table.ncols, table.caption_rows, table.header_rows, table.label_cols)
    for r, row in enumerate(table.cover_texts()):
        for c, text in enumerate(row):
            flat.put(r, c, text)
    return flat


def render_html(blocks: list[Block], repeat_merged: bool = False) -> str:
    title = next(iter(narrative_lines(blocks)), "")
    body = []
    for block in blocks:
        if isinstance(block, str):
            if block.strip():
                body.append(f"<p>{html_lib.escape(block.strip())}</p>")
        else:
            body.extend(html_table(unmerged(table) if repeat_merged else table) for table in block)
    return ("<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html_lib.escape(title)}</title>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


# ---------------------------------------------------------------------------------------------
# DOCX
# ---------------------------------------------------------------------------------------------


def docx_set_east_asian_font(document, name: str = "宋体") -> None:
    """Make the Normal style use a CJK font (Word shows Chinese text with it)."""
    from docx.oxml.ns import qn

    style = document.styles["Normal"]
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), name)


def docx_table(document, table: Table) -> None:
    t = document.add_table(rows=table.nrows, cols=table.ncols)
    t.style = "Table Grid"
    # One snapshot of the (still regular) grid: table.cell() rebuilds it on every call.
    grid = t._cells
    ncols = table.ncols
    # Write the text first: merging keeps the origin's text and skips the empty covered cells.
    for cell in table.cells:
        grid[cell.row * ncols + cell.col].text = cell.text
    for cell in table.cells:
        if cell.rowspan > 1 or cell.colspan > 1:
            last_row = cell.row + cell.rowspan - 1
            last_col = cell.col + cell.colspan - 1
            grid[cell.row * ncols + cell.col].merge(grid[last_row * ncols + last_col])


def render_docx(blocks: list[Block], path: Path) -> None:
    import docx

    document = docx.Document()
    docx_set_east_asian_font(document)
    for block in blocks:
        if isinstance(block, str):
            if block.strip():
                document.add_paragraph(block.strip())
        else:
            for table in block:
                docx_table(document, table)
                document.add_paragraph("")  # Word needs a paragraph between tables
    document.save(str(path))


# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------

PDF_FONT = "STSong-Light"


@lru_cache(maxsize=1)
def pdf_styles() -> dict:
    """Register the CID font once and build the paragraph styles."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(PDF_FONT))
    body = ParagraphStyle("body", fontName=PDF_FONT, fontSize=10.5, leading=16,
                          wordWrap="CJK", spaceAfter=4)
    cell = ParagraphStyle("cell", fontName=PDF_FONT, fontSize=8, leading=10, wordWrap="CJK")
    return {"body": body, "cell": cell}


def pdf_column_widths(table: Table, width: float) -> list[float]:
    """Label columns wider than number columns; 表三's three label columns in fixed shares."""
    if table.label_cols == 3:
        labels = [0.12 * width, 0.14 * width, 0.26 * width]
    elif table.label_cols == 1:
        labels = [0.28 * width]
    else:
        labels = []
    rest = (width - sum(labels)) / (table.ncols - len(labels))
    return labels + [rest] * (table.ncols - len(labels))


def pdf_table(table: Table, width: float):
    from reportlab.lib import colors
    from reportlab.platypus import Paragraph
    from reportlab.platypus import Table as RLTable
    from reportlab.platypus import TableStyle

    style = pdf_styles()["cell"]
    data = [["" for _ in range(table.ncols)] for _ in range(table.nrows)]
    commands = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("FONTNAME", (0, 0), (-1, -1), PDF_FONT),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
    ]
    for cell in table.cells:
        if cell.text:
            data[cell.row][cell.col] = Paragraph(xml_escape(cell.text), style)
        if cell.rowspan > 1 or cell.colspan > 1:
            end = (cell.col + cell.colspan - 1, cell.row + cell.rowspan - 1)
            commands.append(("SPAN", (cell.col, cell.row), end))
    return RLTable(data, colWidths=pdf_column_widths(table, width), repeatRows=0,
                   style=TableStyle(commands), hAlign="LEFT")


def render_pdf(blocks: list[Block], path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = pdf_styles()
    doc = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm,
                            topMargin=20 * mm, bottomMargin=20 * mm, invariant=1)
    story = []
    for block in blocks:
        if isinstance(block, str):
            text = block.strip().replace("\t", " ")
            if text:
                story.append(Paragraph(xml_escape(text), styles["body"]))
        else:
            for table in block:
                story.append(pdf_table(table, doc.width))
                story.append(Spacer(1, 6))
    doc.build(story)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def output_path(seed: str, fmt: str, out_dir: Path) -> Path:
    return Path(out_dir) / (Path(seed).stem + SUFFIX[fmt])


def render(seed: str, fmt: str, out_dir: Path) -> Path:
    """Render one seed in one format into out_dir; returns the file written."""
    if seed not in TABLE_RANGES:
        raise ValueError(f"unknown seed {seed!r}")
    if fmt not in SUFFIX:
        raise ValueError(f"unknown format {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = output_path(seed, fmt, out_dir)
    blocks = document_blocks(seed)
    if fmt == "html":
        path.write_text(render_html(blocks), encoding="utf-8")
    elif fmt == "docx":
        render_docx(blocks, path)
    elif fmt == "pdf":
        render_pdf(blocks, path)
    else:
        path.write_text(render_text(blocks, fmt) + "\n", encoding="utf-8")
    return path


def render_all(out_dir: Path) -> dict[tuple[str, str], Path]:
    """Render every seed in every format; returns {(seed, fmt): path}."""
    return {(seed, fmt): render(seed, fmt, out_dir) for seed in SEEDS for fmt in FORMATS}


# ---------------------------------------------------------------------------------------------
# Saved web pages: the generated HTML made to look like a whole page saved from a browser
# ---------------------------------------------------------------------------------------------

_TD = re.compile(r"<td(?P<attrs>[^>]*)>(?P<text>.*?)</td>", re.S)
_STYLE = ' style="padding: 0 4px;border-left:1px solid #000;border-top:1px solid #000"'
_SPAN_STYLE = ' style="font-family: 宋体;font-size: 12px"'

SITE_HEAD = """<div class="top"><ul><li><a href="/">首页</a></li><li>政务公开</li><li>解读回应</li><li>办事服务</li>
<li>互动交流</li></ul><div class="search">历史搜索：热门搜索：2021 年报 12345</div>
<script>var nav = "<table><tr><td>一、本年新收政府信息公开申请数量</td><td>999</td></tr></table>"; var n = 42;</script>
<style>.x td {{ padding: 4px }} /* 总计 100 */</style>
<div class="crumb">当前位置：首页 &gt; 政务公开 &gt; 政府信息公开 &gt; 政府信息公开年报</div></div>
<table class="meta"><tr><td>索引号：</td><td>000014348/2021-00012</td><td>发布机构：</td><td>{agency}</td></tr>
<tr><td>文号：</td><td>无</td><td>发布日期：</td><td>{published}</td></tr></table>
"""
SITE_FOOT = """<div class="foot"><p>主办单位：人民政府办公室 版权所有 &nbsp; 网站标识码 4201000014 &nbsp; 备案号 12345678号</p>
<script>document.write("<p>访问量 1234567</p>");</script></div>"""


def _split_label(text: str) -> str:
    """A label cell as saved pages write it: pieces in <p>/<span> with &nbsp; padding."""
    if len(text) < 6 or not re.search(r"[\u4e00-\u9fff]", text):
        return f"<p><span{_SPAN_STYLE}>&nbsp;{text}&nbsp;</span></p>"
    a, b = len(text) // 3, 2 * len(text) // 3
    parts = [text[:a], text[a:b], text[b:]]
    return "".join(f"<p style=\"text-align:center\">\n &nbsp; <span{_SPAN_STYLE}>{p}</span></p>" for p in parts)


def saved_page(html: str, agency: str, published: str, yuan_items: bool = True) -> str:
    """`html` (from render_html) as a whole saved page: site chrome with scripts and styles, a metadata
    table above the report, inline styles on every cell, labels split over several <p>/<span>, &nbsp; in
    empty cells, and amounts written in 元 inside their cells."""
    def cell(m: re.Match) -> str:
        text = m.group("text")
        attrs = m.group("attrs") + _STYLE
        if not text.strip():
            return f"<td{attrs}>&nbsp;</td>"
        if re.fullmatch(r"-?[\d.]+", text):
            return f"<td{attrs}><p><span{_SPAN_STYLE}>&nbsp;{text}&nbsp;</span></p></td>"
        m2 = re.fullmatch(r"(-?[\d.]+)万元", text)
        if m2 and yuan_items:  # the same amount in 元, as pages write it
            from decimal import Decimal
            yuan = (Decimal(m2.group(1)) * 10000).normalize()
            return f"<td{attrs}>{format(yuan, 'f')}元</td>"
        return f"<td{attrs}>{_split_label(text)}</td>"
    body = _TD.sub(cell, html)
    head = SITE_HEAD.format(agency=html_lib.escape(agency or ""), published=published or "")
    return body.replace("<body>\n", "<body>\n" + head, 1).replace("</body>", SITE_FOOT + "\n</body>", 1)


# ---------------------------------------------------------------------------------------------
# Text made from PDFs by converters, and text whose cell separators were lost
# ---------------------------------------------------------------------------------------------

PDFTOTEXT_MODES = ["layout", "plain"]


def have_pdftotext() -> bool:
    import shutil
    return shutil.which("pdftotext") is not None


def pdftotext(pdf: Path, mode: str) -> str:
    """The text poppler's `pdftotext` makes of a PDF: `layout` keeps columns aligned by runs of spaces
    (`pdftotext -layout`), `plain` writes text blocks in reading order (a table's cells one by one,
    merged label cells out of place)."""
    import subprocess
    args = ["pdftotext", "-enc", "UTF-8"] + (["-layout"] if mode == "layout" else []) + [str(pdf), "-"]
    return subprocess.run(args, capture_output=True, check=True, timeout=60).stdout.decode("utf-8")


_NUMBER_CELL = re.compile(r"^[+-]?\d[\d,]*(?:\.\d+)?(?:万元|元)?$")
_SPACE_RUN = re.compile(r"( {2,}|\t)")
_PIPE_SEP = re.compile(r"(\s*\|\s*)")


def lose_separators(text: str, label_too: bool = False) -> str:
    """The text with the separators between the numbers of each table row deleted, as converters
    and OCR lose them: "（七）总计\t147\t1\t0\t0\t0\t0\t148" -> "（七）总计\t14710000148" (with `label_too`,
    "（七）总计14710000148"). A row's cells are separated by tabs, by runs of two or more spaces or by
    pipes; an empty cell between two numbers keeps them apart (it is no separator)."""
    out = []
    for line in text.split("\n"):
        pipes = line.strip().startswith("|")
        parts = (_PIPE_SEP if pipes else _SPACE_RUN).split(line)  # cell, separator, cell, separator, ...
        cells, seps = parts[0::2], parts[1::2]
        if len(cells) < 2:
            out.append(line)
            continue
        numeric = [bool(_NUMBER_CELL.match(c.strip())) for c in cells]
        if sum(numeric) < 2 and not (label_too and any(numeric)):
            out.append(line)
            continue
        new = cells[0]
        for k, sep in enumerate(seps):
            a, b = cells[k], cells[k + 1]
            join = numeric[k] and numeric[k + 1] and a.strip() and b.strip()
            if label_too and numeric[k + 1] and not numeric[k] and a.strip() and not any(numeric[:k]):
                join = True
            new += ("" if join else sep) + (b.strip() if join else b)
        out.append(new)
    return "\n".join(out)


def _pipe_cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _pipe_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown_separated(text: str, wrap: bool = False) -> str:
    """Markdown pipe tables as PDF-to-Markdown converters write wrapped rows: each row's label on a row
    of its own (its value cells empty) and its numbers on the next row (its label cell empty); with
    `wrap`, the label is cut in two, the numbers' row between the two pieces."""
    out = []
    for line in text.split("\n"):
        if not line.startswith("|") or set(line) <= set("|-: "):
            out.append(line)
            continue
        cells = _pipe_cells(line)
        numeric = [bool(_NUMBER_CELL.match(c)) or c == NULL_GLYPH for c in cells[1:]]
        if len(cells) < 2 or _NUMBER_CELL.match(cells[0]) or not cells[0] or not any(numeric):
            out.append(line)
            continue
        empty = [""] * (len(cells) - 1)
        label = cells[0]
        leaf = label.split(" ")[-1]
        if wrap and len(leaf) >= 6:
            cut = len(label) - len(leaf) + len(leaf) * 3 // 5
            out += [_pipe_row([label[:cut], *empty]), _pipe_row(["", *cells[1:]]), _pipe_row([label[cut:], *empty])]
        else:
            out += [_pipe_row([label, *empty]), _pipe_row(["", *cells[1:]])]
    return "\n".join(out)


GENERIC_HEAD = "项目"
# A header row OCR repeats inside 表三 at a page break, with its labels in the wrong cells.
SPURIOUS_HEADER = ["申请人情况", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "总计", "其他"]


def ocr_markdown(text: str, page_number: str = "— 4 —") -> str:
    """Markdown as OCR tools write tables: generic header cells (项目, 数据1 … 数据N) instead of the
    table's own, and inside 表三, after its 4th data row, a page-number line and a spurious header row
    carrying wrong labels (the column names shifted: 总计 where 其他 stands)."""
    lines = text.split("\n")
    out = []
    in_t3 = False
    data_rows = 0
    for k, line in enumerate(lines):
        nxt = lines[k + 1] if k + 1 < len(lines) else ""
        if line.startswith("|") and nxt.startswith("|") and set(nxt) <= set("|-: "):
            n = len(_pipe_cells(line))
            in_t3 = "勾稽关系" in line or n == 8
            data_rows = 0
            out.append(_pipe_row([GENERIC_HEAD] + [f"数据{i}" for i in range(1, n)]))
            continue
        out.append(line)
        if in_t3 and line.startswith("|") and not set(line) <= set("|-: "):
            data_rows += 1
            if data_rows == 4:
                out += [page_number, _pipe_row(SPURIOUS_HEADER)]
        elif not line.startswith("|"):
            in_t3 = False
    return "\n".join(out)


def column_dump(tabs_text: str) -> str:
    """表三 of a tab rendering as some converters write a table, column by column: the corner note, every
    row label (group labels where they stand), then each column's header word followed by its cells
    from top to bottom, one per line."""
    lines = tabs_text.split("\n")
    start = next(k for k, l in enumerate(lines) if "勾稽关系" in l)
    k = start + 1
    while k < len(lines) and not lines[k].startswith("一、"):
        k += 1  # the header rows
    labels, values = [], [[] for _ in APPLICATION_COLUMNS]
    while k < len(lines) and "\t" in lines[k]:
        cells = lines[k].split("\t")
        label_cells, nums = cells[:APPLICATION_LABEL_COLS], cells[APPLICATION_LABEL_COLS:]
        labels += [c for c in label_cells if c]
        for j, v in enumerate(nums):
            values[j].append(v)
        k += 1
    body = [lines[start].split("\t")[0], *labels]
    for name, col in zip(APPLICATION_COLUMNS, values):
        body += [name, *col]
    return "\n".join(lines[:start] + body + lines[k:])


def single_spaced(text: str) -> str:
    """Text as OCR writes aligned rows: every run of spaces one space, no indentation — the cells of a
    row one space apart, nothing left of the columns' alignment."""
    return "\n".join(re.sub(r" {2,}", " ", line.strip()) for line in text.split("\n"))
