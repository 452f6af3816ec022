"""Cross-year rules on the 平潭综合实验区 series (2019, 2021, 2022): this year against last year's report."""
from __future__ import annotations

from pathlib import Path

import pytest

from review import check
from review.history import FolderHistory

FIX = Path(__file__).parent.parent / "fixtures"
P2019, P2021, P2022 = (FIX / "pingtan_2019_county_cells.txt", FIX / "pingtan_2021_county_pipe.txt",
                       FIX / "pingtan_2022_county_tsv.txt")
CROSS = {"carryover", "rollforward-current", "rollforward-items", "part5-repeated", "report-repeated"}


def write(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return p


def edit(path: Path, old: str, new: str) -> str:
    body = path.read_text(encoding="utf-8")
    assert old in body, old
    return body.replace(old, new)


def cross(result, status: str = "fail"):
    return [f for f in result.findings if f.rule in CROSS and f.status == status]


def as_2020(tmp_path: Path) -> Path:
    """The 2019 report relabelled as the 2020 report (2019 format), to stand before the 2021 report."""
    body = P2019.read_text(encoding="utf-8").replace("2019年政府信息公开工作年度报告", "2020年政府信息公开工作年度报告")
    body = body.replace("自2019年1月1日起至2019年12月31日", "自2020年1月1日起至2020年12月31日")
    return write(tmp_path, "pingtan_2020.txt", body)


def test_2022_against_2021_holds():
    res = check(P2022, history=FolderHistory([P2021]))
    assert cross(res) == [] and cross(res, "not_assessable") == []
    assert res.meta.year == 2022


def test_no_history_is_not_assessable_not_an_error():
    res = check(P2022)
    na = {f.rule for f in cross(res, "not_assessable")}
    assert na == CROSS - {"rollforward-items"} and cross(res) == []  # a 2021-format table has no 上一年项目数量


def test_edited_carryover_is_found(tmp_path):
    body = edit(P2022, "二、上年结转政府信息公开申请数量\t1\t0\t0\t0\t0\t0\t1", "二、上年结转政府信息公开申请数量\t2\t0\t0\t0\t0\t0\t2")
    res = check(write(tmp_path, "p2022.txt", body), history=FolderHistory([P2021]))
    got = [f for f in cross(res) if f.rule == "carryover"]
    assert sorted(f.cells[0]["column"] for f in got) == ["总计", "自然人"]
    assert all(f.severity.value == "error" and "2021" in f.message for f in got)
    ev = {e.ref: e.value for e in got[0].evidence}
    assert ev["2022年 二/自然人"] == 2 and ev["2021年 四/自然人"] == 1


def test_edited_current_count_is_found(tmp_path):
    body = edit(P2022, "行政规范性文件\t88\t55\t698", "行政规范性文件\t88\t55\t700")
    res = check(write(tmp_path, "p2022.txt", body), history=FolderHistory([P2021]))
    got = [f for f in cross(res) if f.rule == "rollforward-current"]
    assert len(got) == 1 and got[0].severity.value == "warning"
    assert got[0].cells == [{"item": "行政规范性文件", "column": "现行有效件数"}]
    assert "665" in got[0].message and "698" in got[0].message


def test_2019_to_2021_format_change_gives_no_false_finding(tmp_path):
    h = FolderHistory([as_2020(tmp_path)])
    res = check(P2021, history=h)
    assert cross(res) == []
    # the carry-over, which both formats have, was really compared (not skipped)
    assert not [f for f in res.findings if f.rule == "carryover"]
    # and with the real 2019 report only, 2020 is missing: not assessable, no finding
    res = check(P2021, history=FolderHistory([P2019]))
    assert cross(res) == []
    assert {f.rule for f in cross(res, "not_assessable")} == {"carryover", "rollforward-current"}


def test_2019_format_item_rollforward(tmp_path):
    later = as_2020(tmp_path)
    res = check(later, history=FolderHistory([P2019]))
    assert [f for f in cross(res) if f.rule == "rollforward-items"] == []
    broken = edit(later, "行政许可\n396\n", "行政许可\n400\n")
    res = check(write(tmp_path, "broken2020.txt", broken), history=FolderHistory([P2019]))
    got = [f for f in cross(res) if f.rule == "rollforward-items"]
    assert len(got) == 1 and got[0].cells == [{"item": "行政许可", "column": "上一年项目数量"}]
    assert "396" in got[0].message


def _part5(path: Path) -> str:
    return next(s.text for s in check(path).sections if s.number == 5)


def _with_part5(path: Path, new_part5: str) -> str:
    lines = path.read_text(encoding="utf-8").split("\n")
    r = check(path)
    five, six = (next(s for s in r.sections if s.number == n) for n in (5, 6))
    return "\n".join(lines[: five.line] + new_part5.split("\n") + [""] + lines[six.line - 1:])


@pytest.mark.parametrize("light_edits", [False, True])
def test_part5_copied_from_last_year_is_found(tmp_path, light_edits):
    copied = _part5(P2021)
    if light_edits:
        copied = (copied.replace("一是", "第一，").replace("二是", "第二，").replace("政务公开", "政务公开工作")
                  .replace("有待提高", "仍需提高"))
    p = write(tmp_path, "p2022.txt", _with_part5(P2022, copied))
    res = check(p, history=FolderHistory([P2021]))
    got = [f for f in cross(res) if f.rule == "part5-repeated"]
    assert len(got) == 1 and got[0].section == 5 and got[0].evidence
    share = int(got[0].message.split("重复 ")[1].split("%")[0])
    assert share > 50
    assert all(e.line and e.line > 69 for e in got[0].evidence)  # the repeated sentences, located in this year's text


def test_real_reports_are_not_copies():
    for path, hist in ((P2022, [P2021]), (P2021, [P2019])):
        res = check(path, history=FolderHistory(hist))
        assert not [f for f in cross(res) if f.rule in ("part5-repeated", "report-repeated")]


def test_whole_report_copied_is_found(tmp_path):
    body = P2021.read_text(encoding="utf-8").replace("2021年度政府信息公开工作年度报告", "2022年度政府信息公开工作年度报告")
    res = check(write(tmp_path, "copy2022.txt", body), history=FolderHistory([P2021]))
    assert {f.rule for f in cross(res)} >= {"report-repeated", "part5-repeated"}


def test_agency_written_differently_is_one_agency(tmp_path):
    body = P2021.read_text(encoding="utf-8").replace("平潭综合实验区2021年度", "平潭综合实验区管委会办公室2021年度")
    res = check(P2022, history=FolderHistory([write(tmp_path, "office2021.txt", body)]))
    assert not cross(res, "not_assessable")
