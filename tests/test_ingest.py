"""Tests of review.ingest: text, HTML, DOCX and PDF to numbered lines and expanded grids."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import docx
import pdfplumber
import pytest
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

from review.ingest import load
from review.ingest.pdf import _join_split_tables, _Line, _reflow, _Table
from review.models import IngestError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SEED_001 = FIXTURES / "001_7db3595534c35dc9.txt"
FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))


# --------------------------------------------------------------------------- text

@pytest.mark.parametrize(
    "name, count",
    [
        ("000_96a21a1bd07d0629.txt", 221),
        ("001_7db3595534c35dc9.txt", 468),
        ("002_f86e26e747344a50.txt", 359),
        ("003_8eaa2870e78a4cb1.txt", 84),
        ("004_0c9827e6b67986f5.txt", 317),
        ("pingtan_2019_county_cells.txt", 328),
        ("pingtan_2021_county_pipe.txt", 71),
        ("pingtan_2022_county_tsv.txt", 75),
    ],
)
def test_text_fixtures_keep_every_line(name, count):
    path = FIXTURES / name
    doc = load(path)
    assert (doc.kind, doc.encoding, doc.source) == ("txt", "utf-8", str(path))
    assert len(doc.lines) == count
    # Line n of the file is lines[n-1], untouched (tabs, " |" suffixes, leading blanks).
    assert doc.lines == path.read_text(encoding="utf-8").splitlines()
    assert doc.tables == [] and doc.grid_lines == []


def test_text_keeps_tabs_and_pipes():
    tsv = load(FIXTURES / "000_96a21a1bd07d0629.txt")
    assert tsv.lines[170] == "一、本年新收政府信息公开申请数量\t\t0\t0\t0\t0\t0\t0\t0\t"
    assert tsv.lines[:2] == ["", ""]
    web = load(FIXTURES / "002_f86e26e747344a50.txt")
    assert web.lines[0] == "来源: | 鄂州市行政审批局 | 发布日期: | 2021年01月24日 |"


def test_text_gb18030_copy_reads_the_same(tmp_path):
    original = load(SEED_001)
    copy = tmp_path / "seed_gbk.txt"
    copy.write_bytes(SEED_001.read_text(encoding="utf-8").encode("gb18030"))
    doc = load(copy)
    assert doc.encoding == "gb18030"
    assert doc.lines == original.lines
    assert doc.sha256 != original.sha256


def test_text_bom_crlf_and_lone_cr(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + "第一行\r\n第二行\r\n\r\n第四行\r第五行\t|".encode("utf-8"))
    doc = load(path)
    assert doc.encoding == "utf-8-sig"
    assert doc.lines == ["第一行", "第二行", "", "第四行", "第五行\t|"]


def test_text_utf16_and_bytes_without_name():
    doc = load("一、总体情况\n二、主动公开\n".encode("utf-16"), name="report.md")
    assert (doc.kind, doc.encoding, doc.lines) == ("md", "utf-16", ["一、总体情况", "二、主动公开"])
    sniffed = load("甲\n乙".encode("utf-8"))
    assert (sniffed.kind, sniffed.source, sniffed.lines) == ("txt", "<bytes>", ["甲", "乙"])


# --------------------------------------------------------------------------- html

HTML = """<!DOCTYPE html>
<html><head><meta charset="gbk"><title>只在标题里的字</title>
<style>td { color: red }</style><script>var x = "脚本";</script></head>
<body>
<div class="nav">首页 &gt; 政务公开</div>
<h1>某某局2021年政府信息公开工作年度报告</h1>
<p>一、总体情况<br>本年度<b>依申请</b>公开办件7件。</p>
<table border="1">
  <tr><th rowspan="2">信息内容</th><th colspan="3">申请人情况</th></tr>
  <tr><td>自然人</td><td colspan="2">法人或其他组织</td></tr>
  <tr><td>商业
      企业</td><td>1</td><td>2</td><td rowspan="5">3</td></tr>
  <tr><td>其他<table><tr><td>内表</td><td>9</td></tr></table></td><td>4</td><td>5</td></tr>
</table>
<p>二、主动公开政府信息情况</p>
</body></html>
"""


def test_html_table_expanded_in_document_order():
    doc = load(HTML.encode("gbk"), name="report.html")
    assert (doc.kind, doc.encoding) == ("html", "gb18030")
    assert doc.lines == [
        "首页 > 政务公开",
        "某某局2021年政府信息公开工作年度报告",
        "一、总体情况",
        "本年度依申请公开办件7件。",
        "信息内容\t申请人情况\t\t",
        "\t自然人\t法人或其他组织\t",
        "商业企业\t1\t2\t3",
        "其他内表 9\t4\t5\t",
        "二、主动公开政府信息情况",
    ]
    assert doc.grid_lines == [5, 6, 7, 8]
    (grid,) = doc.tables
    assert grid.line == 5
    assert grid.rows == [
        ["信息内容", "申请人情况", "申请人情况", "申请人情况"],
        ["信息内容", "自然人", "法人或其他组织", "法人或其他组织"],
        ["商业企业", "1", "2", "3"],
        ["其他内表 9", "4", "5", "3"],  # the rowspan of 5 is clipped at the last row
    ]
    assert grid.spans == [
        [True, True, False, False],
        [False, True, True, False],
        [True, True, True, True],
        [True, True, True, False],
    ]
    assert all(doc.lines[n - 1] == "\t".join(c if s else "" for c, s in zip(row, span))
               for n, row, span in zip(doc.grid_lines, grid.rows, grid.spans))


def test_html_layout_table_is_read_as_flow():
    body = "".join(f"<p>第{i}段：本年度政府信息公开工作按照条例要求稳步推进，各项任务全面完成。</p>" for i in range(6))
    page = f"""<html><body><table><tr><td>导航</td><td>{body}
      <table border=1><tr><td>行政许可</td><td>37957</td></tr></table></td></tr></table></body></html>"""
    doc = load(page.encode("utf-8"), name="site.htm")
    assert doc.lines[0] == "导航"
    assert doc.lines[1].startswith("第0段：") and doc.lines[6].startswith("第5段：")
    assert doc.lines[7] == "行政许可\t37957"
    assert [(g.line, g.rows) for g in doc.tables] == [(8, [["行政许可", "37957"]])]


# --------------------------------------------------------------------------- docx

def _docx_bytes() -> bytes:
    document = docx.Document()
    document.add_paragraph("某某局2021年政府信息公开工作年度报告")
    broken = document.add_paragraph("第一行")
    broken.add_run().add_break()
    broken.add_run("第二行")
    table = document.add_table(rows=4, cols=4)
    table.cell(0, 0).merge(table.cell(1, 0)).text = "信息内容"
    table.cell(0, 1).merge(table.cell(0, 3)).text = "申请人情况"
    for c, text in enumerate(["自然人", "商业\n企业", "其他"], start=1):
        table.cell(1, c).text = text
    for r, label in ((2, "行政许可"), (3, "行政处罚")):
        table.cell(r, 0).text = label
        table.cell(r, 1).text = str(r - 1)
    table.cell(2, 2).merge(table.cell(3, 3)).text = "合计"
    document.add_paragraph("表后文字")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_paragraphs_and_merged_table_in_order(tmp_path):
    path = tmp_path / "report.docx"
    path.write_bytes(_docx_bytes())
    doc = load(path)
    assert doc.kind == "docx"
    assert doc.lines == [
        "某某局2021年政府信息公开工作年度报告",
        "第一行",
        "第二行",
        "信息内容\t申请人情况\t\t",
        "\t自然人\t商业企业\t其他",
        "行政许可\t1\t合计\t",
        "行政处罚\t2\t\t",
        "表后文字",
    ]
    (grid,) = doc.tables
    assert (grid.line, doc.grid_lines) == (4, [4, 5, 6, 7])
    assert grid.rows == [
        ["信息内容", "申请人情况", "申请人情况", "申请人情况"],
        ["信息内容", "自然人", "商业企业", "其他"],
        ["行政许可", "1", "合计", "合计"],
        ["行政处罚", "2", "合计", "合计"],
    ]
    assert grid.spans == [
        [True, True, False, False],
        [False, True, True, True],
        [True, True, True, False],
        [True, True, False, False],
    ]


# --------------------------------------------------------------------------- pdf

ZH = ParagraphStyle("zh", fontName=FONT, fontSize=12, leading=18, wordWrap="CJK")
INDENTED = ParagraphStyle("indented", parent=ZH, firstLineIndent=24)
RIGHT = ParagraphStyle("right", parent=ZH, alignment=TA_RIGHT)
# Line 1 is filled to the right margin and ends inside the number, as a wrapping PDF writer does.
WRAPPED = "我局深化重点领域信息公开，依法规范收费管理，全年共收取行政事业性收费3267<br/>80865元，比上年有所增长。"
LONG = "我局坚持以公开为常态、不公开为例外，聚焦群众关切，持续深化重点领域信息公开，" * 3
GRID = [("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("FONTNAME", (0, 0), (-1, -1), FONT)]
HEADER = [
    ["本列数据的勾稽关系", "申请人情况", "", "", ""],
    ["", "自然人", "法人或其他组织", "", "总计"],
    ["", "", "商业企业", "其他", ""],
    ["一、本年新收政府信息公开申请数量", "1", "2", "0", "3"],
]
LONG_ROWS = [["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"]] + [
    [f"第{i}项", str(i), str(2 * i), str(3 * i)] for i in range(1, 46)
]


def _page_number(c, doc):
    c.setFont(FONT, 9)
    c.drawCentredString(A4[0] / 2, 20, f"- {doc.page} -")


@pytest.fixture(scope="module")
def report_pdf(tmp_path_factory) -> Path:
    long_table = Table(LONG_ROWS)
    long_table.setStyle(TableStyle(GRID))
    header = Table(HEADER)
    header.setStyle(TableStyle(GRID + [
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("SPAN", (0, 0), (0, 2)), ("SPAN", (1, 0), (4, 0)), ("SPAN", (1, 1), (1, 2)),
        ("SPAN", (2, 1), (3, 1)), ("SPAN", (4, 1), (4, 2)),
    ]))
    story = [
        Paragraph("某某局2021年政府信息公开工作年度报告", ParagraphStyle("h", fontName=FONT, fontSize=16, leading=24)),
        Paragraph("一、总体情况", ZH),
        Paragraph(WRAPPED, ZH),
        Paragraph(LONG, INDENTED),
        Paragraph("第二段从缩进开始。", INDENTED),
        Paragraph("二、主动公开政府信息情况", ZH),
        long_table,
        Paragraph("三、收到和处理政府信息公开申请情况", ZH),
        header,
        Paragraph("某某局", RIGHT),
        Paragraph("2022年1月20日", RIGHT),
    ]
    path = tmp_path_factory.mktemp("pdf") / "report.pdf"
    SimpleDocTemplate(str(path), pagesize=A4).build(story, onFirstPage=_page_number, onLaterPages=_page_number)
    return path


def test_pdf_fixture_really_wraps_and_splits(report_pdf):
    """Preconditions: the raw PDF has the number cut by the wrap and the table on two pages."""
    with pdfplumber.open(report_pdf) as pdf:
        raw = pdf.pages[0].extract_text()
        assert "3267\n80865元" in raw
        assert len(pdf.pages) == 2
        assert [len(pdf.pages[1].find_tables()), len(pdf.pages[0].find_tables())] == [2, 1]


def test_pdf_text_reflowed_and_page_numbers_dropped(report_pdf):
    doc = load(report_pdf)
    assert (doc.kind, doc.pages) == ("pdf", 2)
    text_lines = [line for n, line in enumerate(doc.lines, 1) if n not in doc.grid_lines]
    assert text_lines == [
        "某某局2021年政府信息公开工作年度报告",
        "一、总体情况",
        "我局深化重点领域信息公开，依法规范收费管理，全年共收取行政事业性收费326780865元，比上年有所增长。",
        LONG,
        "第二段从缩进开始。",
        "二、主动公开政府信息情况",
        "三、收到和处理政府信息公开申请情况",
        "某某局",
        "2022年1月20日",
    ]


def test_pdf_table_split_across_pages_is_one_grid(report_pdf):
    doc = load(report_pdf)
    assert len(doc.tables) == 2
    long_grid = doc.tables[0]
    assert (long_grid.line, long_grid.page) == (7, 1)
    assert long_grid.rows == LONG_ROWS
    assert all(all(row) for row in long_grid.spans)
    assert doc.grid_lines[:46] == list(range(7, 53))
    assert doc.lines[6] == "信息内容\t本年制发件数\t本年废止件数\t现行有效件数"
    assert doc.lines[51] == "第45项\t45\t90\t135"
    assert doc.lines[52] == "三、收到和处理政府信息公开申请情况"


def test_pdf_merged_header_cells_expanded(report_pdf):
    grid = load(report_pdf).tables[1]
    assert (grid.line, grid.page) == (54, 2)
    assert grid.rows == [
        ["本列数据的勾稽关系", "申请人情况", "申请人情况", "申请人情况", "申请人情况"],
        ["本列数据的勾稽关系", "自然人", "法人或其他组织", "法人或其他组织", "总计"],
        ["本列数据的勾稽关系", "自然人", "商业企业", "其他", "总计"],
        ["一、本年新收政府信息公开申请数量", "1", "2", "0", "3"],
    ]
    assert grid.spans == [
        [True, True, False, False, False],
        [False, True, True, False, True],
        [False, False, True, True, False],
        [True, True, True, True, True],
    ]


def test_pdf_row_split_by_page_break_is_merged():
    def table(rows, page):
        return _Table([list(r) for r in rows], [[True] * len(r) for r in rows], page, page, 0.0)

    head = ["类别", "事项", "自然人", "总计"]
    first = table([head, ["（三）不予公开", "3.危及“三安全", "", ""]], 1)
    rest = table([head, ["", "一稳定”", "7", "7"], ["", "4.保护第三方合法权益", "1", "1"]], 2)
    (joined,) = _join_split_tables([[first], [rest]])
    assert joined.rows == [
        head,
        ["（三）不予公开", "3.危及“三安全一稳定”", "7", "7"],
        ["", "4.保护第三方合法权益", "1", "1"],
    ]
    assert joined.last_page == 2
    # A continuation row that opens a new numbered item is a row of its own, blank cells or not.
    blank = table([head, ["（三）不予公开", "3.危及“三安全一稳定”", "", ""]], 1)
    (kept,) = _join_split_tables([[blank], [table([["", "4.保护第三方合法权益", "1", "1"]], 2)]])
    assert [row[1] for row in kept.rows] == ["事项", "3.危及“三安全一稳定”", "4.保护第三方合法权益"]


def test_pdf_reflow_joins_prose_but_not_unruled_table_rows():
    def line(text, x0, x1, top):
        return _Line(text, x0, x1, top, 12.0, 595)

    stream = [
        line("全年共收取行政事业性收费3267", 72, 520, 100),  # wrapped inside the number
        line("80865元。", 72, 130, 118),
        line("行政许可 678 201 47305", 72, 520, 136),  # an unruled table row as wide as the text
        line("其他对外管理服务事项 133 -115 1336", 72, 400, 154),
        line("某某局", 460, 520, 172),  # right-aligned signature: starts far from the left margin
        line("2022年1月20日", 430, 520, 190),
    ]
    assert [e.text for e in _reflow(stream)] == [
        "全年共收取行政事业性收费326780865元。",
        "行政许可 678 201 47305",
        "其他对外管理服务事项 133 -115 1336",
        "某某局",
        "2022年1月20日",
    ]


# --------------------------------------------------------------------------- errors

def _assert_bilingual(exc: IngestError, name: str, zh: str, en: str):
    assert re.search(r"[\u4e00-\u9fff]", exc.zh) and zh in exc.zh
    assert re.search(r"[A-Za-z]{4,}", exc.en) and en in exc.en
    assert exc.source == name and name in str(exc)


def _pdf_with(draw) -> bytes:
    buffer = io.BytesIO()
    c = canvas.Canvas(buffer, encrypt="secret") if draw == "encrypted" else canvas.Canvas(buffer)
    c.setFont(FONT, 12)
    if draw == "encrypted":
        c.drawString(100, 700, "加密的报告")
    else:
        c.rect(100, 100, 200, 200)
    c.showPage()
    c.save()
    return buffer.getvalue()


def _zip_without_body() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "filename, data, zh, en",
    [
        ("empty.txt", b"", "为空", "empty"),
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), ".docx", "save it as .docx"),
        ("broken.pdf", bytes(range(256)) * 8, "损坏", "corrupt"),
        ("fake.docx", _zip_without_body(), "word/document.xml", "not a valid Word"),
        ("scan.pdf", _pdf_with("rectangle"), "OCR", "OCR"),
        ("locked.pdf", _pdf_with("encrypted"), "加密", "encrypted"),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "OCR", "Image files"),
        ("sheet.xls", b"\xd0\xcf\x11\xe0" + bytes(64), "另存为", "save it as"),
        ("binary.txt", b"abc\x00\x01\x02", "二进制", "binary"),
    ],
)
def test_errors_are_bilingual_and_name_the_file(tmp_path, filename, data, zh, en):
    path = tmp_path / filename
    path.write_bytes(data)
    with pytest.raises(IngestError) as caught:
        load(path)
    _assert_bilingual(caught.value, str(path), zh, en)


def test_missing_file_and_whitespace_only(tmp_path):
    with pytest.raises(IngestError) as missing:
        load(tmp_path / "nowhere.pdf")
    _assert_bilingual(missing.value, str(tmp_path / "nowhere.pdf"), "找不到文件", "not found")
    with pytest.raises(IngestError) as blank:
        load(b" \n\t\n", name="blank.txt")
    _assert_bilingual(blank.value, "blank.txt", "没有文字", "no text")


def test_content_sniffing_beats_a_wrong_name(report_pdf):
    doc = load(report_pdf.read_bytes(), name="report.txt")
    assert (doc.kind, doc.pages) == ("pdf", 2)
    html = load(b"  <html><body><p>\xe4\xb8\x80</p></body></html>", name="page.doc")
    assert (html.kind, html.lines) == ("html", ["一"])
    assert load(_docx_bytes()).kind == "docx"


def test_a_file_larger_than_its_stat_size_is_read_whole_and_still_capped(tmp_path, monkeypatch):
    """The reader asks for the size os.stat gave; a file that grew since (a copy still being written) is read on,
    up to the size limit, never past it."""
    import os as _os
    import review.ingest as ingest_mod
    from review.ingest import limits as lim

    p = tmp_path / "growing.txt"
    p.write_bytes(b"x" * 5000)
    real_stat = _os.stat

    class Shrunk:
        def __init__(self, st):
            self._st = st

        def __getattr__(self, k):
            return 10 if k == "st_size" else getattr(self._st, k)

    monkeypatch.setattr(ingest_mod.os, "stat", lambda path, *a, **kw: Shrunk(real_stat(path, *a, **kw)))
    assert len(ingest_mod._read_regular(p, "growing.txt")) == 5000
    monkeypatch.setenv("REVIEW_MAX_FILE_MB", str(2000 / 2**20))  # a cap of 2,000 bytes
    with pytest.raises(lim.LimitError):
        ingest_mod._read_regular(p, "growing.txt")
