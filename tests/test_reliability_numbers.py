"""Exact numbers from the text to the identities: ints and Decimals, never binary floats; sums with written
decimals checked by rounding intervals (Calculations 1.1); the JSON output keeps numbers as JSON numbers."""
from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from review import check
from review.identities import Equation, holds, solve
from review.models import Cell
from review.text import half_width, parse_number

FIX = Path(__file__).resolve().parent.parent / "fixtures"
SEED = FIX / "002_f86e26e747344a50.txt"  # 表三 one cell per line with " |": row 一 is 29 0 0 0 0 0 29


def _with_row_one(tmp_path, first: str, total: str) -> Path:
    lines = SEED.read_text(encoding="utf-8").split("\n")
    i = next(n for n, line in enumerate(lines) if line.startswith("一、本年新收"))
    assert lines[i + 1] == "29 |" and lines[i + 7] == "29 |"
    lines[i + 1], lines[i + 7] = f"{first} |", f"{total} |"
    p = tmp_path / "big.txt"
    p.write_text("\n".join(lines), encoding="utf-8")
    return p


def _row_total_fails(result, row: str) -> bool:
    return any(f.rule == "applications-row-total" and f.status == "fail" and any(c.get("row") == row for c in f.cells)
               for f in result.findings)


def test_a_number_beyond_double_precision_keeps_its_digits():
    n = parse_number("9007199254740993.0")
    assert n.value == Decimal("9007199254740993.0") and not isinstance(n.value, float)
    assert parse_number("9007199254740993").value == 9007199254740993


def test_a_real_row_total_mismatch_beyond_double_precision_is_found(tmp_path):
    # as binary floats 9007199254740993.0 == 9007199254740992: the mismatch of 1 would be lost
    bad = check(_with_row_one(tmp_path, "9007199254740993.0", "9007199254740992"))
    assert _row_total_fails(bad, "一")
    good = check(_with_row_one(tmp_path, "9007199254740993.0", "9007199254740993"))
    assert not _row_total_fails(good, "一")
    cell = next(c for c in bad.tables.applications if c.row == "一" and c.column == "自然人")
    assert cell.value == Decimal("9007199254740993.0")


def test_json_output_keeps_numbers_as_json_numbers(tmp_path):
    res = check(_with_row_one(tmp_path, "9007199254740993.0", "9007199254740993"))
    data = json.loads(res.model_dump_json())
    cell = next(c for c in data["tables"]["applications"] if c["row"] == "一" and c["column"] == "自然人")
    assert cell["value"] == 9007199254740993 and isinstance(cell["value"], int)
    assert Cell(column="x", state="number", value=Decimal("7539.443252")).model_dump(mode="json")["value"] == 7539.443252
    # read back (batch, store): exact again
    back = Cell.model_validate({"column": "x", "state": "number", "value": 7539.443252})
    assert back.value == Decimal("7539.443252")


def _eq(n_lhs: int, n_rhs: int) -> Equation:
    return Equation("t", tuple(("l", str(i)) for i in range(n_lhs)), tuple(("r", str(i)) for i in range(n_rhs)), "c")


def _vals(lhs, rhs):
    return {**{("l", str(i)): v for i, v in enumerate(lhs)}, **{("r", str(i)): v for i, v in enumerate(rhs)}}


def test_counts_add_up_exactly():
    eq = _eq(2, 1)
    assert holds(eq, _vals([1, 1], [2])) is True
    assert holds(eq, _vals([1, 1], [3])) is False  # whole numbers carry no rounding slack


def test_written_decimals_are_compared_with_rounding_intervals():
    eq = _eq(2, 1)
    D = Decimal
    # 1.2 + 2.3 written to one decimal: [3.4, 3.6] overlaps 3.6's [3.55, 3.65]: some rounding reconciles it
    assert holds(eq, _vals([D("1.2"), D("2.3")], [D("3.6")])) is True
    # to two decimals no rounding reconciles 1.23 + 2.35 = 3.58 with 3.60 (gap 0.02 > slack 0.015)
    assert holds(eq, _vals([D("1.23"), D("2.35")], [D("3.60")])) is False
    assert holds(eq, _vals([D("1.23"), D("2.35")], [D("3.58")])) is True
    assert half_width(D("3.60")) == D("0.005") and half_width(7) == 0


def test_solve_is_exact():
    eq = _eq(2, 1)
    vals = _vals([Decimal("9007199254740993.0"), None], [Decimal("9007199254740995.0")])
    key, v = solve(eq, vals)
    assert key == ("l", "1") and v == 2
