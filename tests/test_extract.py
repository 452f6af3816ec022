"""The extractor on edited real reports: a row short of a value, a row with too many, units, layouts.
Never invent a number: a lost cell is placed only when positions or identities decide it uniquely."""
from __future__ import annotations

from pathlib import Path

from decimal import Decimal

import pytest

from review import check
from review.text import is_na, parse_number, to_wan

FIX = Path(__file__).parent.parent / "fixtures"
S004 = "004_0c9827e6b67986f5.txt"


def lines_of(name: str) -> list[str]:
    return (FIX / name).read_text(encoding="utf-8").split("\n")


def review_lines(lines: list[str], name: str = "edited.txt"):
    return check("\n".join(lines).encode("utf-8"), name=name)


def cells(res, row: str) -> dict:
    return {c.column: c for c in res.tables.applications if c.row == row}


def errors(res):
    return [f for f in res.errors]


def test_one_cell_per_line_row_short_of_a_value_is_placed_by_identities():
    lines = lines_of(S004)
    assert lines[98:105] == ["90", "0", "0", "0", "0", "0", "90"]  # 三.一, lines 99-105
    del lines[98]  # the 自然人 value is lost
    res = review_lines(lines)
    row = cells(res, "三.一")
    assert row["自然人"].state.value == "inferred" and row["自然人"].value == 90
    assert [row[c].value for c in ("商业企业", "其他", "总计")] == [0, 0, 90]
    assert errors(res) == []
    assert any(f.rule == "cell-unreadable" and f.cells == [{"row": "三.一", "column": "自然人"}] for f in res.findings)


def test_short_row_that_identities_cannot_place_is_unreadable_not_guessed():
    lines = lines_of(S004)
    assert lines[106:113] == ["0"] * 7  # 三.二, lines 107-113
    del lines[106]
    res = review_lines(lines)
    row = cells(res, "三.二")
    # six zeros for seven columns: any cell may be the lost one, so none is read as a number;
    # each column's （七）总计 then pins its cell, so each is inferred (0), marked as such
    assert {c.state.value for c in row.values()} == {"inferred"}
    assert {c.value for c in row.values()} == {0}
    assert all(c.note and "推得" in c.note for c in row.values())
    assert errors(res) == []
    na = [f for f in res.findings if f.rule == "applications-results-total" and f.status == "not_assessable"]
    assert len(na) == 7  # every column's check uses an inferred cell: not assessable, never a false error


def test_row_with_more_numbers_than_columns_is_unreadable():
    lines = lines_of(S004)
    lines.insert(105, "7")  # an eighth number after 三.一's seven
    res = review_lines(lines)
    assert all(c.state.value in ("unreadable", "inferred") for c in cells(res, "三.一").values())
    assert errors(res) == []


def test_tab_layout_short_row_is_placed_by_positions():
    res = check(FIX / "003_8eaa2870e78a4cb1.txt")
    row = cells(res, "三.一")
    assert row["自然人"].state.value == "inferred" and row["自然人"].value == 2
    assert row["总计"].state.value == "number" and row["总计"].value == 2 and row["总计"].line == 47


def test_amounts_in_yuan_are_reported_in_wan():
    res = check(FIX / "pingtan_2019_county_cells.txt")
    c = next(c for c in res.tables.disclosure if c.column == "采购总金额")
    assert c.value == Decimal("7539.443252") and c.raw == "75394432.52元"  # exact, not a binary float


def test_cells_keep_their_source_lines():
    res = check(FIX / "002_f86e26e747344a50.txt")
    c = cells(res, "一")["自然人"]
    assert (c.value, c.line, c.raw) == (29, 103, "29")


@pytest.mark.parametrize("raw,value,unit", [
    ("1756. 58 万元", Decimal("1756.58"), "万元"), ("１２", 12, None), ("1,234", 1234, None), ("-115", -115, None),
    ("  7\xa0", 7, None), ("75394432.52元", Decimal("75394432.52"), "元"), ("20", 20, None), ("3件", 3, "件"),
    ("9007199254740993.0", Decimal("9007199254740993.0"), None),
])
def test_parse_number(raw, value, unit):
    n = parse_number(raw)
    assert n is not None and n.value == value and n.unit == unit


@pytest.mark.parametrize("raw", ["20 30", "2 0", "3.危及", "", "1,2", "十二", "0 |"])
def test_not_one_number(raw):
    assert parse_number(raw) is None


@pytest.mark.parametrize("raw", ["/", "-", "—", "无", "不适用", "N/A"])
def test_not_applicable(raw):
    assert is_na(raw) and parse_number(raw) is None


def test_units():
    assert to_wan(326780865, "元") == Decimal("32678.0865")
    assert to_wan(Decimal("1.5"), "亿元") == 15000
    assert to_wan(Decimal("326.780865"), None) == Decimal("326.780865")
    assert to_wan(1.5, "亿元") == 15000  # a float is taken by its shortest repr


def test_gb18030_file_reviews_like_utf8(tmp_path):
    p = tmp_path / "gbk.txt"
    p.write_bytes((FIX / "002_f86e26e747344a50.txt").read_text(encoding="utf-8").encode("gb18030"))
    a, b = check(p), check(FIX / "002_f86e26e747344a50.txt")
    assert a.tables == b.tables and [f.fingerprint for f in a.findings] == [f.fingerprint for f in b.findings]
