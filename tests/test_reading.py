"""Reading real published reports right, kind by kind (issue: PDFs, saved web pages, labels as reports
write them). Each test starts from a real report — the WPS PDF, the saved page, the seeds — and makes the
variant the kind describes, so it holds for reports not seen here: cells right or unreadable, never a
false error."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fixturegen as fg
from goldcheck import GOLD, cell_mismatches, forbidden_findings, missing_findings
from review import check
from review.agency import same_agency
from review.ingest import load

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "fixtures"
GOLD_REPORTS = json.loads((Path(__file__).parent / "data" / "gold_reports.json").read_text(encoding="utf-8"))
REAL = [name for name in GOLD_REPORTS if not name.startswith("_")]
P2022 = "pingtan_2022_county_tsv.txt"


def review_bytes(body: str, name: str = "variant.txt"):
    return check(body.encode("utf-8"), name=name)


def fails(result, rule: str | None = None, severity: str | None = None):
    return [f for f in result.findings if f.status == "fail" and (rule is None or f.rule == rule)
            and (severity is None or f.severity.value == severity)]


def errors(result):
    return fails(result, severity="error")


def cells_of(result) -> dict:
    t = result.tables
    out = {("applications", c.row, c.column): (c.state.value, c.value) for c in t.applications}
    out.update({("appeals", c.group, c.column): (c.state.value, c.value) for c in t.appeals})
    out.update({("disclosure", c.item, c.column): (c.state.value, c.value) for c in t.disclosure})
    return out


def pdf_as_text(name: str) -> str:
    """The real PDF's rows as the ingester reads them (cells joined by tabs): a real table layout to edit."""
    return "\n".join(load(FIX / name).lines)


# --------------------------------------------------------------------------- the real files, through the CLI

@pytest.fixture(scope="module")
def real_results() -> dict:
    p = subprocess.run([sys.executable, "-m", "review.cli", "check", "--json", *[str(FIX / n) for n in REAL]],
                       capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode in (0, 1), p.stderr
    return dict(zip(REAL, json.loads(p.stdout)))


@pytest.mark.parametrize("name", REAL)
def test_real_file_gold_cells(name, real_results):
    gold, res = GOLD_REPORTS[name], real_results[name]
    index = {("applications", c["row"], c["column"]): c for c in res["tables"]["applications"]}
    index.update({("appeals", c["group"], c["column"]): c for c in res["tables"]["appeals"]})
    index.update({("disclosure", c["item"], c["column"]): c for c in res["tables"]["disclosure"]})
    bad = []
    for table, row, column, value in gold["cells"]:
        c = index.get((table, row, column))
        if c is None or c["state"] != "number" or abs(c["value"] - value) > 1e-9:
            bad.append((table, row, column, value, c and (c["state"], c["value"])))
    assert bad == []
    assert res["meta"]["year"] == gold["year"] and res["meta"]["format"] == gold["format"]


@pytest.mark.parametrize("name", REAL)
def test_real_file_no_false_error(name, real_results):
    gold, res = GOLD_REPORTS[name], real_results[name]
    wrong = [f for f in res["findings"] if f["status"] == "fail" and f["severity"] == "error"
             and (f.get("table") in gold["no_false_error_on"]
                  or ("words" in gold["no_false_error_on"] and f["rule"] == "words-vs-tables"))]
    assert wrong == []


def test_saved_page_meta_from_title_not_breadcrumb(real_results):
    meta = real_results["pingtan_2024_page.html"]["meta"]
    assert same_agency(meta["agency"], GOLD_REPORTS["pingtan_2024_page.html"]["agency"]), meta["agency"]
    assert meta["published"] == "2025-03-10"


# --------------------------------------------------------------------------- 1. （六）其他处理 as one row

def _collapse_other(body: str, rows: tuple[int, int, int], label_cells: str) -> tuple[str, list[int]]:
    """Replace the three 2021 （六） sub-rows (line numbers) by one row of their sums."""
    lines = body.split("\n")
    vals = [[int(x) for x in lines[i - 1].split("\t")[-7:]] for i in rows]
    sums = [sum(col) for col in zip(*vals)]
    lines[rows[0] - 1] = label_cells + "\t".join(map(str, sums))
    del lines[rows[1] - 1: rows[2]]
    return "\n".join(lines), sums


@pytest.mark.parametrize("case", ["tsv", "pdf-grid"])
def test_2021_report_with_single_other_row(case):
    if case == "tsv":
        body, sums = _collapse_other((FIX / P2022).read_text(encoding="utf-8"), (58, 59, 60), "（六）其他处理\t")
    else:
        body, sums = _collapse_other(pdf_as_text("huaian_city_2024.pdf"), (63, 64, 65), "\t（六）其他处理\t\t")
    res = review_bytes(body)
    got = {c.column: c.value for c in res.tables.applications if c.row == "三.六"}
    assert list(got.values()) == sums
    assert not any(c.row.startswith("三.六.") for c in res.tables.applications)
    missing = fails(res, "table-row-missing")
    assert len(missing) == 1 and "只填了一行" in missing[0].message and "3.其他" in missing[0].message
    assert [f for f in res.findings if f.rule == "applications-results-total" and f.status == "not_assessable"] == []
    assert errors(res) == []
    # the identity is really checked with it: a wrong （六） total is found
    bad = body.replace("\t".join(map(str, sums)), "\t".join(map(str, sums[:-1] + [sums[-1] + 1])))
    res = review_bytes(bad)
    assert {f.rule for f in errors(res)} >= {"applications-results-total", "applications-row-total"}


# --------------------------------------------------------------------------- 2. labels as reports write them

def _leaf_label_lines(body: str) -> list[tuple[int, str]]:
    """(line index, label) of the 表三 sub-row labels of a tab layout: '1.xxx' cells."""
    out = []
    for i, line in enumerate(body.split("\n")):
        for cell in line.split("\t"):
            if re.match(r"^\d[.、]\S{4,}$", cell) and line.count("\t") >= 6:
                out.append((i, cell))
    return out


def _variants(label: str) -> dict[str, str]:
    num, body = label[0], label[2:]
    mid = len(body) // 2
    return {
        "enumeration comma": f"{num}、{body}",
        "space inside": f"{num}.{body[:mid]} {body[mid:]}",
        "dropped character": f"{num}.{body[:mid]}{body[mid + 1:]}" if len(body) >= 6 else None,
        "typo": f"{num}.{body[:mid]}止{body[mid + 1:]}" if len(body) >= 6 else None,
    }


@pytest.mark.parametrize("source", [P2022, "huaian_city_2024.pdf"])
def test_row_labels_with_typos_spaces_and_enumeration_commas(source):
    body = pdf_as_text(source) if source.endswith(".pdf") else (FIX / source).read_text(encoding="utf-8")
    want = cells_of(review_bytes(body))
    labels = _leaf_label_lines(body)
    assert len(labels) >= 15
    tried = 0
    for i, label in labels:
        for kind, new in _variants(label).items():
            if new is None:
                continue
            lines = body.split("\n")
            lines[i] = lines[i].replace(label, new, 1)
            res = review_bytes("\n".join(lines))
            assert errors(res) == [], (kind, new)
            got = cells_of(res)
            assert {k: v for k, v in got.items() if k[0] == "applications"} == \
                   {k: v for k, v in want.items() if k[0] == "applications"}, (kind, new)
            tried += 1
    assert tried >= 40


def test_loosely_matched_row_says_so():
    body = (FIX / P2022).read_text(encoding="utf-8")
    assert "2.其他法律行政法规禁止公开" in body
    res = review_bytes(body.replace("2.其他法律行政法规禁止公开", "2.其他法律行政法止公开"))
    cells = [c for c in res.tables.applications if c.row == "三.三.2"]
    assert cells and all(c.loose and c.label == "2.其他法律行政法止公开" for c in cells)
    info = fails(res, "table-label-variant")
    assert [f.cells for f in info] == [[{"row": "三.三.2"}]] and "法止公开" in info[0].message
    assert fails(review_bytes(body), "table-label-variant") == []


def test_label_far_from_any_row_is_not_forced():
    """A label that resembles no row near its place is not matched: the row is missing, not mis-filled."""
    body = (FIX / P2022).read_text(encoding="utf-8")
    res = review_bytes(body.replace("2.其他法律行政法规禁止公开", "2.另有规定事项"))
    assert not any(c.row == "三.三.2" for c in res.tables.applications)
    assert errors(res) == []


# --------------------------------------------------------------------------- 3. whole saved web pages

@pytest.mark.parametrize("seed", fg.SEEDS)
def test_seed_as_saved_web_page(seed, generated, tmp_path):
    gold = GOLD[seed]
    html = generated[(seed, "html")].read_text(encoding="utf-8")
    page = fg.saved_page(html, gold["meta"].get("agency") or "", gold["meta"].get("published") or "")
    assert page.count("<script") == 2 and "&nbsp;" in page
    res = review_bytes(page, name=f"{seed}.html").model_dump(mode="json")
    assert cell_mismatches(gold, res) == []
    assert missing_findings(gold, res) == []
    assert forbidden_findings(gold, res) == []


@pytest.mark.parametrize("seed", fg.SEEDS)
def test_seed_with_merged_labels_repeated_on_every_row(seed):
    """Pages that write a row-spanning label again on each row (no rowspan/colspan) read the same."""
    gold = GOLD[seed]
    page = fg.render_html(fg.document_blocks(seed), repeat_merged=True)
    assert "rowspan" not in page and "colspan" not in page
    res = review_bytes(page, name=f"{seed}.html").model_dump(mode="json")
    assert cell_mismatches(gold, res) == []
    assert missing_findings(gold, res) == []
    assert forbidden_findings(gold, res) == []


def test_saved_page_scripts_and_chrome_are_not_read():
    page = (FIX / "pingtan_2024_page.html").read_text(encoding="utf-8")
    doc = load(FIX / "pingtan_2024_page.html")
    assert "<script" in page and not any("function" in line or "var " in line for line in doc.lines)


# --------------------------------------------------------------------------- 6. real grids: cells where they stand

def _blank_row(page: str, label: str) -> str:
    """Empty every value cell of the 表三 row labelled `label` in the saved page."""
    start = page.index(label)
    tr_end = page.index("</tr>", start)
    row = page[start:tr_end]
    emptied = re.sub(r"(<td[^>]*>)(.*?)(</td>)", lambda m: m.group(1) + "&nbsp;" + m.group(3), row, flags=re.S)
    return page[:start] + emptied + page[tr_end:]


def test_empty_grid_row_is_blank_where_it_stands():
    page = (FIX / "pingtan_2024_page.html").read_text(encoding="utf-8")
    res = review_bytes(_blank_row(page, "属于国家秘密"), name="blank-row.html")
    row = [c for c in res.tables.applications if c.row == "三.三.1"]
    assert len(row) == 7 and {c.state.value for c in row} == {"blank"}
    others = [c for c in res.tables.applications if c.row != "三.三.1"]
    assert {c.state.value for c in others} == {"number"}
    assert errors(res) == []
    assert fails(res, "cell-unreadable") == [] and fails(res, "cell-blank")


def test_block_with_fewer_columns_read_by_its_header_row():
    """第二十条第（五）项 has one value column in a four-column table: with the colspan taken away (cells
    written one by one, the others empty), values are read under the block's own header cells."""
    page = (FIX / "pingtan_2024_page.html").read_text(encoding="utf-8")
    want = cells_of(review_bytes(page, name="page.html"))
    unspanned, n = re.subn(r'<td([^>]*?)\s*colspan="3"([^>]*)>(.*?)</td>',
                           lambda m: f"<td{m.group(1)}{m.group(2)}>{m.group(3)}</td><td></td><td></td>",
                           page, flags=re.S)
    assert n >= 6
    res = review_bytes(unspanned, name="unspanned.html")
    got = cells_of(res)
    assert {k: v for k, v in got.items() if k[0] == "disclosure"} == \
           {k: v for k, v in want.items() if k[0] == "disclosure"}
    assert fails(res, "cell-unreadable") == [] and errors(res) == []


# --------------------------------------------------------------------------- 7. there but unreadable vs absent

def test_table_there_but_unreadable_is_a_warning_not_missing():
    body = (FIX / P2022).read_text(encoding="utf-8")
    lines = body.split("\n")
    first = next(i for i, l in enumerate(lines) if "本年新收" in l and "\t" in l)
    lines[first] = re.sub(r"^[^\t]*", "■■■■■■", lines[first])  # OCR lost the first row's label
    res = review_bytes("\n".join(lines))
    assert res.tables.applications == [] and len(res.tables.appeals) == 15
    assert fails(res, "table-missing") == []
    warn = fails(res, "table-unreadable")
    assert [f.table for f in warn] == ["applications"] and "表三格式无法识别" in warn[0].message
    assert errors(res) == []


def test_table_really_absent_is_an_error():
    body = (FIX / P2022).read_text(encoding="utf-8")
    lines = body.split("\n")
    start = next(i for i, l in enumerate(lines) if l.startswith("三、收到和处理"))
    end = next(i for i, l in enumerate(lines) if l.startswith("四、政府信息公开行政"))
    res = review_bytes("\n".join(lines[:start] + lines[end:]))
    missing = fails(res, "table-missing")
    assert [f.table for f in missing] == ["applications"] and "缺少表三" in missing[0].message
    assert fails(res, "table-unreadable") == []


# --------------------------------------------------------------------------- errors planted into real reports

ALL_FIXTURES = sorted(p.name for p in FIX.iterdir() if p.suffix in (".txt", ".html", ".pdf"))


def _as_text(name: str) -> str:
    """The fixture as the text the reader sees (a real table's rows joined by tabs): one form to edit."""
    return "\n".join(load(FIX / name).lines)


def _plant(body: str, cell, row_cells: list) -> str | None:
    """The body with the cell's number changed by +1 where it stands, or None when that place is not
    certain. `row_cells`: the cells of the same row in column order; on a line holding one row's values
    left to right, the cell is the k-th standalone occurrence of its number, k counted among them."""
    lines = body.split("\n")
    raw = (cell.raw or "").strip()
    if not re.fullmatch(r"\d+", raw):
        return None
    same = [c for c in row_cells if c.line == cell.line and (c.raw or "").strip() == raw]
    pattern = re.compile(rf"(?<![\d.]){raw}(?![\d.])")
    spots = list(pattern.finditer(lines[cell.line - 1]))
    if len(spots) != len(same):
        return None  # the number also stands elsewhere on the line
    m = spots[same.index(cell)]
    line = lines[cell.line - 1]
    lines[cell.line - 1] = line[:m.start()] + str(int(raw) + 1) + line[m.end():]
    return "\n".join(lines)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_errors_planted_into_real_reports_are_found(name):
    """A count changed by one in any 表三/表四 cell whose identities can be checked is found, on the cell."""
    from review.identities import appeal_equations, application_equations
    from review.templates import template
    body = _as_text(name)
    base = review_bytes(body)
    t = template(base.meta.format)
    apps = {(c.row, c.column): c for c in base.tables.applications}
    appeals = {(c.group, c.column): c for c in base.tables.appeals}
    eqs = ([(e, "applications") for e in application_equations(t, frozenset(k[0] for k in apps))]
           + [(e, "appeals") for e in appeal_equations(t)])
    planted = found = 0
    for table, cells in (("applications", apps), ("appeals", appeals)):
        for key, cell in cells.items():
            mine = [e for e, tb in eqs if tb == table and key in e.cells]
            checkable = [e for e in mine if all(k in cells and cells[k].state.value == "number" for k in e.cells)]
            if cell.state.value != "number" or not checkable:
                continue
            edited = _plant(body, cell, [c for k, c in cells.items() if k[0] == key[0]])
            if edited is None:
                continue
            planted += 1
            field = "row" if table == "applications" else "group"
            res = review_bytes(edited)
            if any(f.table == table and {field: key[0], "column": key[1]} in f.cells for f in errors(res)):
                found += 1
    print(f"{name}: {found} of {planted} planted errors found")
    assert planted >= 10, planted
    assert found == planted, f"{found} of {planted} planted errors found"
