"""Sanity checks of the generated fixtures (tests/fixturegen.py).

These tests do not use the `review` package: they check the generator against the seeds and the
gold directly.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import fixturegen as fg

TEXT_FORMATS = ["tabs", "cells", "pipes"]
SEED_LINES = {seed: (fg.FIXTURES_DIR / seed).read_text(encoding="utf-8").split("\n")
              for seed in fg.SEEDS}


def title_line(seed: str) -> str:
    """The seed's first non-empty line (its title, or its 来源/发布日期 line)."""
    return next(line.strip() for line in SEED_LINES[seed] if line.strip())


def gold_values(seed: str) -> list[str]:
    """Every gold cell value of the seed, formatted as the generator writes it."""
    gold = fg.load_gold()[seed]
    out = []
    for section in ("disclosure", "disclosure_extra", "applications", "appeals"):
        for row in gold.get(section, {}).values():
            out.extend(fg.format_cell(column, value) for column, value in row.items())
    return out


def expected_table_count(seed: str) -> int:
    fmt = fg.load_gold()[seed]["meta"]["format"]
    return len(fg.DISCLOSURE_BLOCKS[fmt]) + 2


def text_tokens(text: str) -> set[str]:
    """Cells of a plain-text rendering: split on lines, tabs and pipes."""
    return {tok.strip() for tok in re.split(r"[\n\t|]", text) if tok.strip()}


# --- the generator's own data --------------------------------------------------------------------


def test_format_number():
    assert fg.format_number(47305) == "47305"
    assert fg.format_number(-115) == "-115"
    assert fg.format_number(326.780865) == "326.780865"
    assert fg.format_number(345.22) == "345.22"
    assert fg.format_number(0.0) == "0"
    assert fg.format_number(None) == fg.NULL_GLYPH
    assert fg.format_cell("采购总金额", 345.22) == "345.22万元"
    assert fg.format_cell("本年收费金额（单位：万元）", 326.780865) == "326.780865"


@pytest.mark.parametrize("seed", fg.SEEDS)
def test_table_ranges_cover_tables_only(seed):
    lines = SEED_LINES[seed]
    ranges = sorted(fg.TABLE_RANGES[seed].values())
    for (first, last), nxt in zip(ranges, ranges[1:] + [(len(lines) + 1, None)]):
        assert 1 <= first <= last < nxt[0]
        assert lines[first - 1].strip() and lines[last - 1].strip()
        assert re.search(r"\d", lines[last - 1]), "a table region ends with its last number"
        inside = "\n".join(lines[first - 1:last])
        # Section headings stay outside the table regions.
        assert "收到和处理政府信息公开申请情况" not in inside
        assert "行政复议、行政诉讼情况" not in inside
    first, last = fg.TABLE_RANGES[seed]["disclosure"]
    assert "信息内容" in "\n".join(lines[first - 1:last])


# --- every (seed, format) ----------------------------------------------------------------------


def test_every_seed_and_format_renders(generated):
    assert set(generated) == {(s, f) for s in fg.SEEDS for f in fg.FORMATS}
    for (seed, fmt), path in generated.items():
        assert path.is_file() and path.stat().st_size > 0
        assert path.name.startswith(Path(seed).stem)
    assert generated[("002_f86e26e747344a50.txt", "html")].name == "002_f86e26e747344a50.html"


# --- plain-text formats ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", TEXT_FORMATS)
@pytest.mark.parametrize("seed", fg.SEEDS)
def test_text_formats_keep_narrative_and_gold_numbers(generated, seed, fmt):
    text = generated[(seed, fmt)].read_text(encoding="utf-8")
    assert title_line(seed) in text
    tokens = text_tokens(text)
    missing = [v for v in gold_values(seed) if v not in tokens]
    assert not missing, f"gold values not rendered as cells: {missing}"
    # Every narrative line outside the table ranges is kept verbatim and in order.
    skipped = {n for a, b in fg.TABLE_RANGES[seed].values() for n in range(a, b + 1)}
    narrative = [line for n, line in enumerate(SEED_LINES[seed], 1)
                 if n not in skipped and line.strip()]
    out_lines = iter(text.split("\n"))
    for line in narrative:
        assert any(out == line for out in out_lines), f"narrative line lost: {line[:40]}"


def test_text_formats_specific_values(generated):
    tabs = generated[("000_96a21a1bd07d0629.txt", "tabs")].read_text(encoding="utf-8")
    assert "行政许可\t678\t201\t47305" in tabs
    assert "其他对外管理服务事项\t133\t-115\t1336" in tabs
    assert "政府集中采购\t61\t345.22万元" in tabs
    assert "其他主动公开文件\t45\t45\t216" in tabs
    cells = generated[("001_7db3595534c35dc9.txt", "cells")].read_text(encoding="utf-8")
    assert "326780865元" in cells  # the narrative's figure, unchanged
    assert "\n326.780865\n" in cells
    # Seed 003's 行政事业性收费 has no 本年增/减 in the gold: the empty cell is omitted.
    cells3 = generated[("003_8eaa2870e78a4cb1.txt", "cells")].read_text(encoding="utf-8")
    assert "\n行政事业性收费\n0\n第二十条第（九）项\n" in cells3
    assert "\n（一）予以公开\n■\n0\n" in cells3
    # Seed 002's 规章 row is missing from the report, and so from the rendering.
    pipes2 = generated[("002_f86e26e747344a50.txt", "pipes")].read_text(encoding="utf-8")
    assert "| 规章 |" not in pipes2
    assert "| 规范性文件 | 0 | 0 | 0 |" in pipes2


@pytest.mark.parametrize("seed", fg.SEEDS)
def test_tabs_and_pipes_table_widths(generated, seed):
    tabs = generated[(seed, "tabs")].read_text(encoding="utf-8").split("\n")
    rows = [line for line in tabs if line.startswith(("一、本年新收", "四、结转下年度"))]
    assert len(rows) == 2 and all(len(r.split("\t")) == 10 for r in rows)
    pipes = generated[(seed, "pipes")].read_text(encoding="utf-8").split("\n")
    body = [line for line in pipes if line.startswith("| 三、本年度办理结果 ")]
    expected_rows = 20 if fg.load_gold()[seed]["meta"]["format"] == "2019" else 22
    assert len(body) == expected_rows
    assert all(line.count("|") == 9 for line in body)
    assert "| 三、本年度办理结果 （三）不予公开 1.属于国家秘密 |" in "\n".join(pipes)
    header = pipes.index(next(line for line in pipes if line.startswith("| 行政复议 ")))
    assert pipes[header + 1] == "|" + "---|" * 15


# --- HTML --------------------------------------------------------------------------------------


class _TableGrid(HTMLParser):
    """Collects each table's rows as lists of (rowspan, colspan, text)."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag == "td":
            self._cell = [int(attrs.get("rowspan", 1)), int(attrs.get("colspan", 1)), ""]
            self.tables[-1][-1].append(self._cell)

    def handle_endtag(self, tag):
        if tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[2] += data


def html_widths(rows) -> list[int]:
    """The number of grid positions each row fills, rowspans included."""
    taken: dict[tuple[int, int], bool] = {}
    widths = []
    for r, row in enumerate(rows):
        c = 0
        for rowspan, colspan, _ in row:
            while (r, c) in taken:
                c += 1
            for dr in range(rowspan):
                for dc in range(colspan):
                    taken[(r + dr, c + dc)] = True
            c += colspan
        widths.append(sum(1 for (rr, _) in taken if rr == r))
    return widths


@pytest.mark.parametrize("seed", fg.SEEDS)
def test_html_tables(generated, seed):
    page = generated[(seed, "html")].read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in page
    assert "rowspan=" in page and "colspan=" in page
    assert f"<p>{title_line(seed)}" in page.replace("&quot;", '"').replace("&amp;", "&")
    parser = _TableGrid()
    parser.feed(page)
    assert len(parser.tables) == expected_table_count(seed)
    for rows in parser.tables:
        widths = html_widths(rows)
        assert len(set(widths)) == 1, f"ragged table: {widths}"
    applications = parser.tables[-2]
    assert [cell[:2] for cell in applications[0]] == [[3, 3], [1, 7]]
    assert applications[5][0][2] == "三、本年度办理结果"


# --- DOCX --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", fg.SEEDS)
def test_docx_tables_and_merges(generated, seed):
    import docx

    document = docx.Document(str(generated[(seed, "docx")]))
    text = "\n".join(p.text for p in document.paragraphs)
    assert title_line(seed).replace("\t", "") in text
    tables = document.tables
    assert len(tables) == expected_table_count(seed)
    applications, appeals = tables[-2], tables[-1]
    # The corner cell is merged over 3 x 3 grid cells, 申请人情况 over 7 columns.
    assert applications.cell(0, 0)._tc is applications.cell(2, 2)._tc
    assert applications.cell(0, 0).text == fg.APPLICATIONS_CORNER
    assert applications.cell(0, 3)._tc is applications.cell(0, 9)._tc
    # 三、本年度办理结果 is merged vertically over the 三 rows.
    n3 = 20 if fg.load_gold()[seed]["meta"]["format"] == "2019" else 22
    assert applications.cell(5, 0)._tc is applications.cell(5 + n3 - 1, 0)._tc
    assert applications.cell(5, 0).text == "三、本年度办理结果"
    assert appeals.cell(0, 5)._tc is appeals.cell(0, 14)._tc
    assert appeals.cell(1, 0)._tc is appeals.cell(2, 0)._tc
    cells = {c.text for t in tables for row in t.rows for c in row.cells}
    assert set(gold_values(seed)) <= cells


# --- PDF ---------------------------------------------------------------------------------------


def _squash(text) -> str:
    return "".join((text or "").split())


def application_pages(path: Path) -> tuple[set[int], set[int]]:
    """Pages whose tables hold 表三's first header cell, and its last row."""
    import pdfplumber

    first, last = set(), set()
    with pdfplumber.open(str(path)) as pdf:
        for number, page in enumerate(pdf.pages):
            for table in page.extract_tables():
                cells = {_squash(c) for row in table for c in row}
                if "申请人情况" in cells:
                    first.add(number)
                if "四、结转下年度继续办理" in cells:
                    last.add(number)
    return first, last


@pytest.mark.parametrize("seed", fg.SEEDS)
def test_pdf_text(generated, seed):
    import pdfplumber

    with pdfplumber.open(str(generated[(seed, "pdf")])) as pdf:
        text = "\n".join(page.extract_text() or "" for page in pdf.pages)
    assert "一、总体情况" in text
    squashed = _squash(text)
    for value in ("345.22万元",) if seed.startswith("000") else ():
        assert value in squashed


def test_pdf_applications_table_split_across_pages(generated):
    split = []
    for seed in fg.SEEDS:
        first, last = application_pages(generated[(seed, "pdf")])
        assert len(first) == 1 and len(last) == 1, (seed, first, last)
        if last == {next(iter(first)) + 1}:
            split.append(seed)
    assert split, "no seed's 表三 is split across a page break"
