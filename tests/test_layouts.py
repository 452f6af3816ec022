"""Text layouts that converters and OCR make (issue 9, items 4 and 5), read from real files.

The real WPS PDF and the seeds' generated PDFs are made into text with poppler's `pdftotext -layout`
and plain `pdftotext`, and the text is reviewed: every gold cell right, or the table reported
unreadable — never a wrong number, never a false error. Then the separators between the numbers of
every table row are deleted: a row's cells come out right where exactly one split satisfies the
identities (an oracle in this file counts the splits by brute force, independently of
review/extract/digitsplit.py), unreadable otherwise, never a false error.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

import fixturegen as fg
from goldcheck import GOLD, _matches, cell_mismatches, forbidden_findings, missing_findings
from review import check
from review.extract.digitsplit import splits
from review.extract.layouts import view
from review.ingest import load

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "fixtures"
GOLD_REPORTS = json.loads((Path(__file__).parent / "data" / "gold_reports.json").read_text(encoding="utf-8"))
HUAIAN = "huaian_city_2024.pdf"
SEEDS = sorted(GOLD)
needs_poppler = pytest.mark.skipif(not fg.have_pdftotext(),
                                   reason="pdftotext (poppler-utils) is not installed: .ci/run installs it")


def review_text(text: str, name: str = "converted.txt") -> dict:
    return check(text.encode("utf-8"), name=name).model_dump(mode="json")


def index(res: dict) -> dict:
    t = res["tables"]
    out = {("applications", c["row"], c["column"]): c for c in t["applications"]}
    out.update({("appeals", c["group"], c["column"]): c for c in t["appeals"]})
    out.update({("disclosure", c["item"], c["column"]): c for c in t["disclosure"]})
    return out


def gold_cells(name: str) -> dict:
    """{(table, row, column): value} for a seed (every cell) or the real PDF (the hand-read ones)."""
    if name in GOLD:
        g = GOLD[name]
        return {(table, row, col): v for table in ("disclosure", "applications", "appeals")
                for row, cols in g[table].items() for col, v in cols.items()}
    return {(t, r, c): v for t, r, c, v in GOLD_REPORTS[name]["cells"]}


def wrong_numbers(name: str, res: dict) -> list:
    """Cells that state a number other than the gold's: the one thing a reading must never do."""
    idx, bad = index(res), []
    for key, v in gold_cells(name).items():
        c = idx.get(key)
        if c is None or c["state"] in ("unreadable", "blank", "na"):
            continue
        if v is None or c["value"] is None or abs(c["value"] - v) > 1e-9:
            if not (v is None and c["state"] in ("unreadable", "inferred")):
                bad.append((key, v, c["state"], c["value"]))
    return bad


def unreported(name: str, res: dict) -> list:
    """Gold cells not read right whose table the review does not flag (unreadable, inferred or missing
    cells must come with a finding on that table)."""
    idx = index(res)
    flagged = {f.get("table") for f in res["findings"] if f["status"] == "fail"}
    out = []
    for key, v in gold_cells(name).items():
        c = idx.get(key)
        right = c is not None and c["state"] == "number" and v is not None and abs(c["value"] - v) < 1e-9
        if not right and v is not None and key[0] not in flagged:
            out.append(key)
    return out


def false_errors(name: str, res: dict) -> list:
    """Error findings the gold does not call for: a seed's errors must be among its must_find, the real
    PDF has none."""
    errs = [f for f in res["findings"] if f["status"] == "fail" and f["severity"] == "error"]
    if name in GOLD:
        return [f"{f['rule']}: {f['message']}" for f in errs if not any(_matches(f, w) for w in GOLD[name]["must_find"])]
    return [f"{f['rule']}: {f['message']}" for f in errs]


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("pdf")
    paths = {seed: fg.render(seed, "pdf", out) for seed in SEEDS}
    paths[HUAIAN] = FIX / HUAIAN
    return paths


@pytest.fixture(scope="module")
def converted(pdfs) -> dict[tuple[str, str], str]:
    if not fg.have_pdftotext():
        pytest.skip("pdftotext (poppler-utils) is not installed: .ci/run installs it")
    return {(name, mode): fg.pdftotext(path, mode) for name, path in pdfs.items() for mode in fg.PDFTOTEXT_MODES}


ALL = SEEDS + [HUAIAN]


# --------------------------------------------------------------------------- pdftotext -layout and plain

@needs_poppler
@pytest.mark.parametrize("name", ALL)
def test_pdftotext_layout_reads_every_gold_cell(converted, name):
    """Space-aligned columns, wrapped labels, page numbers inside 表三: every gold cell right."""
    res = review_text(converted[(name, "layout")])
    if name in GOLD:
        assert cell_mismatches(GOLD[name], res) == []
        assert missing_findings(GOLD[name], res) == []
        assert forbidden_findings(GOLD[name], res) == []
    else:
        idx = index(res)
        assert [k for k, v in gold_cells(name).items()
                if idx.get(k, {}).get("state") != "number" or idx[k]["value"] != v] == []
        assert len(res["tables"]["applications"]) == 175 and len(res["tables"]["appeals"]) == 15
    assert false_errors(name, res) == []


@needs_poppler
@pytest.mark.parametrize("name", ALL)
def test_pdftotext_plain_right_or_unreadable_never_a_false_error(converted, name):
    """Plain pdftotext puts merged label cells after the rows they span and header cells between a
    row's values: what cannot be placed is unreadable (and flagged), never a wrong number or error."""
    res = review_text(converted[(name, "plain")])
    assert wrong_numbers(name, res) == []
    assert unreported(name, res) == []
    assert false_errors(name, res) == []
    if name in GOLD:
        assert forbidden_findings(GOLD[name], res) == []


@needs_poppler
def test_layout_cells_point_at_the_lines_of_the_converted_text(converted):
    """Provenance: a value's line is the line of the converted text that shows it, a wrapped label's
    the line where the label starts."""
    text = converted[(HUAIAN, "layout")]
    lines = text.split("\n")
    res = review_text(text)
    idx = index(res)
    for key in [("applications", "一", "总计"), ("applications", "三.六.1", "总计"), ("appeals", "行政复议", "总计")]:
        c = idx[key]
        assert str(int(c["value"])) in lines[c["line"] - 1].split(), (key, c["line"], lines[c["line"] - 1])
    # 三.六.1's label is wrapped over three lines, the numbers on the second: its values' line has them
    c = idx[("applications", "三.六.1", "自然人")]
    assert "67" in lines[c["line"] - 1] and "逾期不补" in lines[c["line"] - 2] + lines[c["line"] - 3]


# --------------------------------------------------------------------------- layouts: small real excerpts

HUAIAN_EXCERPT = """\
             8.属于行政查询事项         105         0        0        0        0    0   105

             1.本机关不掌握相关政府信息     746         12       0        0    10       1   769
      （四）无


-4-
     法提供       2.没有现成信息需要另行制作           11        0        0         0        0         0    11

               5.要求行政机关确认或重新出
                                        1         0        0         0        0         0    1
               具已获取信息


               1、申请人无正当理由逾期不补

               正、行政机关不再处理其政府信           67        3        0         0        1         0    71
               息公开申请

     （六）其
               2、申请人逾期未按收费通知要
     他处理
               求缴纳费用、行政机关不再处理           6         0        0         0        0         0    6
               其政府信息公开申请
"""


def _doc(text: str, kind: str = "txt"):
    return load(text.encode("utf-8"), name=f"x.{kind}")


def test_view_joins_wrapped_labels_and_drops_page_numbers():
    """The excerpt is pdftotext -layout of the real PDF's 表三 across its page break."""
    out = list(view(_doc(HUAIAN_EXCERPT)))
    texts = [t for _, t in out]
    assert "-4-" not in texts
    assert "（四）无法提供" in texts
    assert "5.要求行政机关确认或重新出具已获取信息" in texts
    assert "1、申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请" in texts
    assert "2、申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请" in texts
    assert "（六）其他处理" in texts
    # a label comes before its values, and keeps the line where it starts
    lines = HUAIAN_EXCERPT.split("\n")
    for label, first_value in [("5.要求行政机关确认或重新出具已获取信息", "1"),
                               ("1、申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", "67")]:
        k = texts.index(label)
        assert texts[k + 1] == first_value
        assert lines[out[k][0] - 1].strip().startswith(label[:6])
        assert first_value in lines[out[k + 1][0] - 1].split()


def test_view_leaves_other_layouts_alone():
    for name in ("000_96a21a1bd07d0629.txt", "001_7db3595534c35dc9.txt", "004_0c9827e6b67986f5.txt",
                 "pingtan_2021_county_pipe.txt"):
        doc = load(FIX / name)
        assert list(view(doc)) == list(enumerate(doc.lines, 1)), name


def test_view_keeps_prose_with_spaces_whole():
    text = "2024 年，全市共受理政府信息公开申请  3119 件，答复 3050 件。\n（一）主动公开情况。  2024 年"
    assert [t for _, t in view(_doc(text))] == text.split("\n")


def test_short_aligned_row_is_never_placed_by_its_character_columns():
    """A space-aligned row with a blank cell: the converter's character columns shift with the CJK text
    before them, so the blank's place is unknown — the row is placed by the identities or unreadable."""
    lines = fg.pdftotext(FIX / HUAIAN, "layout").split("\n") if fg.have_pdftotext() else None
    if lines is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    k = next(i for i, l in enumerate(lines) if l.strip().startswith("2.重复申请"))
    assert lines[k].split()[-7:] == ["25", "0", "0", "0", "0", "0", "25"]
    lines[k] = lines[k].replace("0         0        25", "          0        25", 1)  # 商业企业's 0 → blank
    res = review_text("\n".join(lines))
    row = {c["column"]: c for c in res["tables"]["applications"] if c["row"] == "三.五.2"}
    assert wrong_numbers(HUAIAN, res) == []
    placed = [c for c in row.values() if c["state"] == "number"]
    assert len(placed) in (0, 7)  # the identities place it (row total 25 = 25 + …) or the row is unreadable
    assert false_errors(HUAIAN, res) == []


# --------------------------------------------------------------------------- separators lost: the oracle

def _oracle_count(digits: str, sizes: list[int], totals: bool, limit: int = 2) -> int:
    """Brute force, independent of digitsplit: how many ways (up to `limit`) cut `digits` into groups of
    `sizes` cells, no leading zeros, each group's last cell the sum of the others (with `totals`).
    Every composition is tried; a group is checked as soon as it is complete."""
    n = sum(sizes)
    ends = set(itertools.accumulate(sizes))
    found = 0

    def rec(pos: int, cells: list[int], group_start: int) -> None:
        nonlocal found
        if found >= limit:
            return
        if len(cells) == n:
            found += pos == len(digits)
            return
        left = n - len(cells)
        for length in range(1, len(digits) - pos - (left - 1) + 1):
            piece = digits[pos:pos + length]
            if length > 1 and piece[0] == "0":
                break
            cells.append(int(piece))
            start = group_start
            if len(cells) in ends:
                ok = not totals or cells[-1] == sum(cells[group_start:-1])
                start = len(cells)
            else:
                ok = True
            if ok:
                rec(pos + length, cells, start)
            cells.pop()

    rec(0, [], 0)
    return found


def test_oracle_and_search_agree_on_examples():
    cases = [("14710000148", [7], True), ("20", [2], False), ("20", [2], True), ("000", [3], False),
             ("1011", [3], False), ("300153006143119", [7], True), ("11", [2], True), ("000000000000000", [5, 5, 5], True),
             ("72641783735113481262612116 20".replace(" ", ""), [5, 5, 5], True)]
    for digits, sizes, totals in cases:
        assert len(splits([digits], sizes, totals)) == _oracle_count(digits, sizes, totals), digits
    assert splits(["14710000148"], [7], True) == [[147, 1, 0, 0, 0, 0, 148]]
    assert splits(["20"], [2], False) == [[2, 0]]  # two cells, two digits: nothing else fits
    assert splits(["20"], [1, 1], False) == [[2, 0]]
    assert len(splits(["1011"], [3], False)) == 2  # 1|0|11 or 10|1|1: never guessed


def test_twenty_is_not_two_and_zero_unless_forced():
    """"20" is split into 2 and 0 only where the row's cells and its total leave nothing else."""
    assert splits(["2000002"], [7], True) == [[2, 0, 0, 0, 0, 0, 2]]  # seven digits, seven cells
    assert splits(["200000020"], [7], True) == [[20, 0, 0, 0, 0, 0, 20]]  # "20" stays whole
    assert splits(["20000020"], [7], True) == []  # 2,0,…,0,20 does not add up; 20,0,…,20 needs nine digits
    assert splits(["2000000"], [7], True) == []


def test_column_identities_decide_between_splits():
    assert len(splits(["1211620"], [5], True)) == 2  # 12,1,1,6,20 or 1,2,11,6,20 (1,2,1,16,20 too)
    assert splits(["1211620"], [5], True, pins={0: 12}) == [[12, 1, 1, 6, 20]]


def test_search_is_bounded():
    import time
    t0 = time.perf_counter()
    assert len(splits(["1234567890" * 4], [7], True)) in (0, 2)
    assert splits(["9" * 41], [7], True) == []
    assert time.perf_counter() - t0 < 2


def _reference_rows(res: dict) -> dict:
    """{(table, row): [values]} of the unmodified text's reading, a row only when all its cells are numbers."""
    rows: dict = {}
    for c in res["tables"]["applications"]:
        rows.setdefault(("applications", c["row"]), []).append(c)
    for c in res["tables"]["appeals"]:
        rows.setdefault(("appeals", "表四"), []).append(c)
    for c in res["tables"]["disclosure"]:
        rows.setdefault(("disclosure", c["item"]), []).append(c)
    return rows


def _check_lost(name: str, before: dict, after: dict) -> list:
    """Compare the reading of a separator-lost text with the reading of the text it came from."""
    problems = []
    ref, got = _reference_rows(before), index(after)
    for (table, row), cells in ref.items():
        if not all(c["state"] == "number" and c["value"] is not None and float(c["value"]).is_integer()
                   and c["value"] >= 0 for c in cells):
            continue
        digits = "".join(str(int(c["value"])) for c in cells)
        if table == "applications":
            count = _oracle_count(digits, [len(cells)], True) if len(digits) <= 24 else None
        elif table == "appeals":
            count = _oracle_count(digits, [5, 5, 5], True)
        else:
            count = _oracle_count(digits, [len(cells)], False) if len(cells) > 1 else 1
        for c in cells:
            key = (table, c.get("row") or c.get("group") or c.get("item"), c["column"])
            g = got.get(key)
            if g is None:
                problems.append((key, "missing"))
            elif g["state"] == "number" and g["value"] != c["value"]:
                problems.append((key, "wrong", g["value"], c["value"]))
            elif count == 1 and g["state"] != "number":
                problems.append((key, "one split fits but not read", digits, g["state"], g.get("note")))
    return problems + [("wrong vs gold",) + tuple(w) for w in wrong_numbers(name, after)] + \
        [("false error", e) for e in false_errors(name, after)]


@pytest.fixture(scope="module")
def tab_texts(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("tabs")
    return {seed: fg.render(seed, "tabs", out).read_text(encoding="utf-8") for seed in SEEDS}


@pytest.mark.parametrize("seed", SEEDS)
def test_separators_lost_in_tab_text(tab_texts, seed):
    """The seed's tables as tab rows, the tabs between each row's numbers deleted (the label's kept)."""
    text = tab_texts[seed]
    lost = fg.lose_separators(text)
    assert lost != text
    assert _check_lost(seed, review_text(text), review_text(lost)) == []


@needs_poppler
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("label_too", [False, True], ids=["numbers", "label-and-numbers"])
def test_separators_lost_in_pdftotext_layout(converted, name, label_too):
    """pdftotext -layout of the seeds' PDFs and of the real PDF, the spaces between each row's numbers
    deleted — and with `label_too` the label's as well ("（七）总计14710000148")."""
    text = converted[(name, "layout")]
    lost = fg.lose_separators(text, label_too=label_too)
    assert lost != text
    assert _check_lost(name, review_text(text), review_text(lost)) == []


@needs_poppler
def test_separator_lost_real_rows_are_split_where_unique(converted):
    """The real PDF's rows: most 表三 rows and 表四 split one way only; the test above checks them all,
    this one that the split really happens (a test that cannot fail is no test)."""
    lost = fg.lose_separators(converted[(HUAIAN, "layout")], label_too=True)
    assert "（七）总计2932530061430 50".replace(" ", "") in lost
    res = review_text(lost)
    idx = index(res)
    assert idx[("applications", "三.七", "总计")]["value"] == 3050
    assert "连写" in idx[("applications", "三.七", "总计")]["note"]
    numbers = sum(c["state"] == "number" for c in res["tables"]["applications"])
    assert numbers >= 150, numbers


# --------------------------------------------------------------------------- PDF→Markdown and OCR Markdown

@pytest.fixture(scope="module")
def pipe_texts(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("pipes")
    return {seed: fg.render(seed, "pipes", out).read_text(encoding="utf-8") for seed in SEEDS}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("wrap", [False, True], ids=["label-row-number-row", "label-cut-around-numbers"])
def test_markdown_with_label_rows_and_number_rows_separated(pipe_texts, seed, wrap):
    """PDF→Markdown converters put a row's label on a row of its own and its numbers on the next, and cut
    a long label around the numbers' row (“| 其他对外管 |” / “| | 42 | -6 | 3440 |” / “| 理服务事项 |”)."""
    text = fg.markdown_separated(pipe_texts[seed], wrap=wrap)
    assert text != pipe_texts[seed]
    res = review_text(text, "converted.md")
    assert cell_mismatches(GOLD[seed], res) == []
    assert missing_findings(GOLD[seed], res) == []
    assert false_errors(seed, res) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_ocr_markdown_generic_headers_spurious_header_row_and_page_number(pipe_texts, seed):
    """OCR Markdown: generic header cells (项目, 数据1 … 数据N) instead of the table's own, and inside 表三 a
    page-number line and a repeated header row with wrong labels (“总计” where “其他” stands). The header
    words never name a row; a block whose header alone said which columns it has is unreadable."""
    text = fg.ocr_markdown(pipe_texts[seed])
    assert "数据1" in text and "| 总计 | 其他 |" in text and "— 4 —" in text
    res = review_text(text, "ocr.md")
    assert wrong_numbers(seed, res) == []
    assert false_errors(seed, res) == []
    bad = [m for m in cell_mismatches(GOLD[seed], res) if not m.endswith(", gold 0") or "(unreadable)" not in m]
    assert [m for m in bad if "disclosure" not in m] == []  # 表三 and 表四 read whole
    assert len(res["tables"]["appeals"]) == 15 and all(c["state"] == "number" for c in res["tables"]["appeals"])


# --------------------------------------------------------------------------- tables written column by column

@pytest.mark.parametrize("seed", SEEDS)
def test_table_written_column_by_column(tab_texts, seed):
    """Some converters write a table column by column: every row label, then each column's header word
    and its cells top to bottom. Read back row by row when every column has one cell per leaf row."""
    text = fg.column_dump(tab_texts[seed])
    lines = text.split("\n")
    assert lines[lines.index("自然人") - 1] == "四、结转下年度继续办理"  # the labels, then the first column
    res = review_text(text)
    assert cell_mismatches(GOLD[seed], res) == []
    assert missing_findings(GOLD[seed], res) == []
    assert false_errors(seed, res) == []


@pytest.mark.parametrize("seed", SEEDS)
def test_column_by_column_with_a_cell_lost_is_unreadable_not_shifted(tab_texts, seed):
    """One cell of one column lost: which cell is whose cannot be known. Left as it is, the last label
    (四、结转下年度继续办理) would take the first column's first cells and raise a false row-total error."""
    lines = fg.column_dump(tab_texts[seed]).split("\n")
    del lines[lines.index("商业企业") + 3]
    res = review_text("\n".join(lines))
    assert [c for c in res["tables"]["applications"] if c["state"] == "number"] == []
    assert wrong_numbers(seed, res) == []
    assert false_errors(seed, res) == []
    assert any(f["rule"] in ("table-unreadable", "cell-unreadable") for f in res["findings"] if f["status"] == "fail")


@pytest.mark.parametrize("mark", ["— 4 —", "-4-", "第 4 页", "4/6"])
def test_page_number_line_between_a_rows_values(mark):
    """A page number printed between two of a row's values (seed 004 is one cell per line): dropped,
    the row reads whole; without that it would be an unreadable cell inside the row."""
    name = "004_0c9827e6b67986f5.txt"
    lines = (FIX / name).read_text(encoding="utf-8").split("\n")
    k = next(i for i, l in enumerate(lines) if l.strip() == "（一）予以公开")
    values = [i for i in range(k + 1, k + 12) if lines[i].strip().isdigit()][:7]
    assert len(values) == 7
    lines.insert(values[3], mark)
    res = review_text("\n".join(lines))
    assert cell_mismatches(GOLD[name], res) == []
    assert false_errors(name, res) == []


REAL_TEXTS = ["pingtan_2019_county_cells.txt", "pingtan_2021_county_pipe.txt", "pingtan_2022_county_tsv.txt"]


def _real_text(name: str) -> str:
    """A real report as text whose rows keep their cells apart: the text files as they are, the saved
    page as its ingested rows (a real table's cells joined by tabs)."""
    if name.endswith(".html"):
        return "\n".join(load(FIX / name).lines)
    return (FIX / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["pingtan_2024_page.html", *REAL_TEXTS])
def test_separators_lost_in_real_reports(name):
    """The other real reports: the saved page's table rows and the 平潭 texts (tabs, pipes), the
    separators between each row's numbers deleted. The unmodified text's reading is the reference (the
    gold tests check it); cells right where one split fits, else unreadable; no false error."""
    text = _real_text(name)
    lost = fg.lose_separators(text)
    if name.endswith("cells.txt"):
        assert lost == text  # one cell per line: no row has two numbers on a line to lose a separator
        return
    assert lost != text
    before, after = review_text(text), review_text(lost)
    problems = [p for p in _check_lost(HUAIAN, before, after) if p[0] not in ("wrong vs gold", "false error")]
    assert problems == []
    errors_before = {(f["rule"], f.get("table")) for f in before["findings"] if f["status"] == "fail"
                     and f["severity"] == "error"}
    assert [f["message"] for f in after["findings"] if f["status"] == "fail" and f["severity"] == "error"
            and (f["rule"], f.get("table")) not in errors_before] == []
    if name in GOLD_REPORTS:
        assert wrong_numbers(name, after) == []


@needs_poppler
@pytest.mark.parametrize("name", ALL)
def test_ocr_single_spaced_rows(converted, name):
    """OCR text: a row's label and numbers one space apart (“（一）予以公开 90 0 0 0 0 0 90”), indentation and
    alignment gone. Every gold cell right or flagged, never another number, never a false error; and the
    rows are read (a test that cannot fail is no test)."""
    text = fg.single_spaced(converted[(name, "layout")])
    res = review_text(text)
    assert wrong_numbers(name, res) == []
    assert unreported(name, res) == []
    assert false_errors(name, res) == []
    idx = index(res)
    gold = {k: v for k, v in gold_cells(name).items() if v is not None}
    right = sum(1 for k, v in gold.items() if idx.get(k, {}).get("state") == "number" and idx[k]["value"] == v)
    assert right >= 0.95 * len(gold), (right, len(gold))
