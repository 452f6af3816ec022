"""Each rule: a case on real data where it fires, and one where it must stay silent.
Cases edit a real fixture the smallest way that makes (or unmakes) the fault."""
from __future__ import annotations

from pathlib import Path

import pytest

from review import check
from review.rules import REGISTRY

FIX = Path(__file__).parent.parent / "fixtures"
S000, S001, S002, S003, S004 = (
    "000_96a21a1bd07d0629.txt", "001_7db3595534c35dc9.txt", "002_f86e26e747344a50.txt",
    "003_8eaa2870e78a4cb1.txt", "004_0c9827e6b67986f5.txt")
P2021, P2022 = "pingtan_2021_county_pipe.txt", "pingtan_2022_county_tsv.txt"


def text(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def review_text(body: str, name: str = "edited.txt"):
    return check(body.encode("utf-8"), name=name)


def set_line(name: str, line: int, new: str) -> str:
    lines = text(name).split("\n")
    lines[line - 1] = new
    return "\n".join(lines)


def fired(result, rule: str, status: str = "fail"):
    return [f for f in result.findings if f.rule == rule and f.status == status]


def edit(name: str, old: str, new: str, count: int = 1) -> str:
    body = text(name)
    assert old in body, old
    return body.replace(old, new, count)


# ---------------------------------------------------------------------------------------------------- table identities

def test_balance_fires_on_002_and_is_silent_on_004():
    got = fired(check(FIX / S002), "applications-balance")
    assert sorted(f.cells[0]["column"] for f in got) == ["其他", "商业企业", "自然人"]
    assert all(f.severity.value == "error" for f in got)
    assert "相差 6" in next(f.message for f in got if f.cells[0]["column"] == "自然人")
    assert fired(check(FIX / S004), "applications-balance") == []


def test_balance_fires_when_new_requests_edited():
    res = review_text(set_line(S004, 82, "91"))  # 一/自然人 90 -> 91
    assert [f.cells[0]["column"] for f in fired(res, "applications-balance")] == ["自然人"]
    assert [f.cells[0]["row"] for f in fired(res, "applications-row-total")] == ["一"]


def test_results_total_fires_when_a_result_is_edited():
    res = review_text(set_line(S004, 99, "89"))  # 三.一/自然人 90 -> 89
    got = fired(res, "applications-results-total")
    assert [f.cells[0]["column"] for f in got] == ["自然人"]
    assert fired(check(FIX / S004), "applications-results-total") == []


def test_row_total_fires_when_a_total_is_edited():
    res = review_text(set_line(S004, 88, "91"))  # 一/总计 90 -> 91
    assert [f.cells[0]["row"] for f in fired(res, "applications-row-total")] == ["一"]
    assert fired(check(FIX / S004), "applications-row-total") == []


def test_appeals_group_total():
    assert fired(check(FIX / P2021), "appeals-group-total") == []
    res = review_text(edit(P2021, "| 1 | 0 | 2 | 0 | 3 |", "| 1 | 0 | 2 | 0 | 4 |"))
    got = fired(res, "appeals-group-total")
    assert len(got) == 1 and got[0].cells[0]["group"] == "行政复议" and "相差 1" in got[0].message


# ---------------------------------------------------------------------------------------------------- cell states

def test_count_invalid():
    assert fired(check(FIX / S004), "count-invalid") == []
    res = review_text(set_line(S004, 36, "110.5"))  # 行政许可/上一年项目数量
    got = fired(res, "count-invalid")
    assert len(got) == 1 and got[0].cells == [{"item": "行政许可", "column": "上一年项目数量"}]
    # 本年增/减 may be negative: 004 has -16 and -6 and stays silent (checked above)


def test_unreadable_cell_is_reported_and_checks_not_assessable():
    res = check(FIX / S003)
    got = fired(res, "cell-unreadable")
    assert any(f.cells == [{"row": "三.一", "column": "自然人"}] for f in got)
    na = fired(res, "applications-results-total", "not_assessable")
    assert [f.cells[0]["column"] for f in na] == ["自然人"]
    assert fired(check(FIX / S004), "cell-unreadable") == []


def test_blank_cell_in_a_real_table(generated):
    html = Path(generated[(S004, "html")]).read_text(encoding="utf-8")
    assert html.count(">36896<") == 1
    res = review_text(html.replace(">36896<", "><"), name="blank.html")
    got = fired(res, "cell-blank")
    assert [f.cells for f in got] == [[{"item": "行政许可", "column": "处理决定数量"}]]
    cell = next(c for c in res.tables.disclosure if c.item == "行政许可" and c.column == "处理决定数量")
    assert cell.state.value == "blank" and cell.value is None
    assert fired(check(Path(generated[(S004, "html")])), "cell-blank") == []


def test_not_applicable_cell():
    lines = text(S004).split("\n")
    assert lines[289] == "0"  # line 290: 表四 行政复议/结果维持
    lines[289] = "/"
    res = review_text("\n".join(lines))
    assert [f.cells for f in fired(res, "cell-na")] == [[{"group": "行政复议", "column": "结果维持"}]]
    assert fired(res, "appeals-group-total", "not_assessable")[0].cells[0]["group"] == "行政复议"
    assert fired(res, "appeals-group-total") == []  # "/" is not 0: no false error either way
    assert fired(check(FIX / S004), "cell-na") == []


# ---------------------------------------------------------------------------------------------------- rows and tables

def test_table_missing():
    lines = text(S004).split("\n")
    body = "\n".join(lines[:270] + lines[304:])  # drop 表四 (lines 271-304)
    got = fired(review_text(body), "table-missing")
    assert [f.table for f in got] == ["appeals"]
    assert fired(check(FIX / S004), "table-missing") == []


def test_table_row_missing():
    got = fired(check(FIX / S002), "table-row-missing")
    assert [(f.table, f.cells) for f in got] == [("disclosure", [{"item": "规章"}])]
    assert fired(check(FIX / S004), "table-row-missing") == []


def test_table_row_extra_kept_and_marked():
    res = check(FIX / S000)
    got = fired(res, "table-row-extra")
    assert len(got) == 1 and got[0].cells[0]["item"].startswith("其他主动公开文件")
    extra = [c for c in res.tables.disclosure if c.extra]
    assert [c.value for c in extra] == [45, 45, 216]
    assert fired(check(FIX / S004), "table-row-extra") == []


def test_table_label_variant():
    assert fired(check(FIX / P2022), "table-label-variant") == []
    res = review_text(edit(P2022, "行政规范性文件\t88", "规范性文件\t88"))
    got = fired(res, "table-label-variant")
    assert len(got) == 1 and got[0].cells == [{"item": "行政规范性文件"}]
    cell = next(c for c in res.tables.disclosure if c.item == "行政规范性文件" and c.column == "现行有效件数")
    assert cell.value == 698 and cell.label == "规范性文件"


# ---------------------------------------------------------------------------------------------------- parts

def test_parts_missing():
    got = fired(check(FIX / S003), "parts-missing")
    assert [f.section for f in got] == [6] and got[0].severity.value == "error"
    assert fired(check(FIX / S004), "parts-missing") == []


def test_parts_order():
    res = review_text(edit(S004, "六、其他需要报告的事项", "七、其他需要报告的事项"))
    assert [f.section for f in fired(res, "parts-order")] == [6]
    assert fired(check(FIX / S004), "parts-order") == []


def test_part5_content():
    lines = text(S004).split("\n")
    body = "\n".join(lines[:306] + ["无"] + lines[310:])  # part 五 reduced to "无"
    got = fired(review_text(body), "part5-content")
    assert len(got) == 1 and got[0].severity.value == "error" and got[0].section == 5
    assert fired(check(FIX / S004), "part5-content") == []


def test_part6_fee_2021():
    assert fired(check(FIX / S001), "part6-fee") == []
    res = review_text(edit(S001, "3.2021年度我单位收取政府信息处理费为1600元。", ""))
    assert [f.section for f in fired(res, "part6-fee")] == [6]
    # 2019 format reports are not asked for it
    assert fired(check(FIX / S004), "part6-fee") == []


# ---------------------------------------------------------------------------------------------------- meta

def test_title_agency():
    assert fired(check(FIX / S000), "title-agency") == []
    region = fired(check(FIX / S004), "title-agency")
    assert len(region) == 1 and "区行政审批局" in region[0].message
    assert len(fired(check(FIX / S003), "title-agency")) == 1
    res = review_text(edit(S000, "东西湖区行政审批局 2020 年政府 信息公开工作年度报告", "东西湖区行政审批局政府信息公开工作年度报告"))
    got = fired(res, "title-agency")
    assert [f.fingerprint for f in got] and "没有写明年度" in got[0].message
    assert res.meta.agency == "东西湖区行政审批局" and res.meta.year == 2020 and res.meta.year_source == "period"


def test_year_consistency():
    assert fired(check(FIX / S000), "year-consistency") == []
    res = review_text(edit(S000, "统计期限为 2020 年", "统计期限为 2019 年"))
    got = fired(res, "year-consistency")
    assert len(got) == 1 and "2019" in got[0].message
    res = review_text(edit(S000, "（指 2020 年办件量）", "（指 2019 年办件量）"))
    assert any("2019" in f.message for f in fired(res, "year-consistency"))


def test_format_year():
    assert fired(check(FIX / S004), "format-year") == []
    res = review_text(edit(S004, "区行政审批局2020年", "区行政审批局2022年"))
    got = fired(res, "format-year")
    assert len(got) == 1 and got[0].severity.value == "error"


def test_publication_deadline():
    assert fired(check(FIX / S002), "publication-deadline") == []
    res = review_text(edit(S002, "2021年01月24日", "2021年02月24日"))
    got = fired(res, "publication-deadline")
    assert len(got) == 1 and "2021-01-31" in got[0].message
    # a government has until 3月31日
    assert fired(check(FIX / P2021), "publication-deadline") == []
    res = review_text(edit(P2021, "时间：2022-02-08", "时间：2022-04-08"))
    assert "2022-03-31" in fired(res, "publication-deadline")[0].message
    assert fired(check(FIX / S000), "publication-deadline", "not_assessable")


def test_words_vs_tables():
    got = fired(check(FIX / S001), "words-vs-tables")
    assert len(got) == 1 and got[0].severity.value == "error" and "100 倍" in got[0].message
    assert got[0].cells == [{"item": "行政事业性收费", "column": "本年收费金额（单位：万元）"}]
    assert fired(check(FIX / S002), "words-vs-tables") == []  # 29起 = 表三 一 总计 29
    res = review_text(edit(S002, "依申请公开申请29起", "依申请公开申请30起"))
    assert len(fired(res, "words-vs-tables")) == 1
    # the right unit in the words is no finding: 3267808.65元 = 326.780865万元
    res = review_text(edit(S001, "326780865元", "3267808.65元"))
    assert fired(res, "words-vs-tables") == []


def test_every_rule_has_a_test():
    source = "".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.glob("test_*.py"))
    untested = [rid for rid in REGISTRY if f'"{rid}"' not in source]
    assert untested == []


@pytest.mark.parametrize("rid", sorted(REGISTRY))
def test_rule_is_documented(rid):
    r = REGISTRY[rid]
    assert r.title and r.basis and r.severity
