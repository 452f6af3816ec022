"""What a reviewer reads: 表三 rows and 表四 groups named as the template names them, 表四 identities named
with their columns, and blank/unreadable/"/" cells reported once per table and column with the rows listed."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from review import check
from review.present import row_label

ROOT = Path(__file__).parent.parent
FIX = ROOT / "fixtures"
PIPE = "pingtan_2021_county_pipe.txt"  # 表三 as markdown pipe rows: | label | 自然人 | … | 总计 |
REPORTS = sorted(p for p in FIX.iterdir() if p.suffix in (".txt", ".html", ".pdf"))
CODE = re.compile(r"(?<![\d.])三\.[一二三四五六七](?:\.\d)?(?![\d])")


def text(name: str) -> str:
    return (FIX / name).read_text(encoding="utf-8")


def review_text(body: str, name: str = "edited.txt"):
    return check(body.encode("utf-8"), name=name)


def fired(result, rule: str, status: str = "fail"):
    return [f for f in result.findings if f.rule == rule and f.status == status]


def t3_rows(body: str) -> list[str]:
    return [ln for ln in body.split("\n") if ln.startswith("| ") and ln.count("|") == 9 and "自然人" not in ln]


def set_column(body: str, index: int, rows: list[str], value: str = "/") -> str:
    """Write `value` into the index-th value cell (0 = 自然人) of these pipe rows."""
    for row in rows:
        cells = row.split("|")
        cells[2 + index] = f" {value} "
        body = body.replace(row, "|".join(cells), 1)
    return body


def test_template_row_names():
    assert row_label("三.三.2") == "（三）不予公开 2.其他法律行政法规禁止公开"
    assert row_label("三.二") == "（二）部分公开"
    assert row_label("一") == "一、本年新收政府信息公开申请数量"
    assert row_label("三.六") == "（六）其他处理" and row_label("三.六.3") == "（六）其他处理 3.其他"
    assert row_label("三.七") == "（七）总计" and row_label("四") == "四、结转下年度继续办理"


def test_cells_of_one_column_are_one_finding_listing_the_rows():
    body = text(PIPE)
    rows = t3_rows(body)
    assert len(rows) == 25
    res = review_text(set_column(body, 0, rows[2:20]))  # “/” in 18 rows of 自然人, （一） … （五）5
    got = fired(res, "cell-na")
    assert len(got) == 1
    f = got[0]
    assert f.table == "applications" and len(f.cells) == 18 and {c["column"] for c in f.cells} == {"自然人"}
    assert f.message.startswith("表三（依申请公开）“自然人”列有 18 行填写为“/”“-”“无”等不适用符号：（一）予以公开、"
                                "（二）部分公开；（三）不予公开 1.属于国家秘密、2.其他法律行政法规禁止公开、")
    assert "；（五）不予处理 1.信访举报投诉类申请、2.重复申请、" in f.message  # a group named once
    assert "、5.要求行政机关确认或重新出具已获取信息。不按 0 计算" in f.message
    assert not CODE.search(f.message)
    # no false error: the identities that need these cells are 无法判断
    assert [x for x in res.findings if x.severity.value == "error"] == []
    assert fired(res, "applications-results-total", "not_assessable")


def test_empty_cells_of_one_column_are_one_finding():
    """Empty pipe cells: blank, or unreadable with a value the identities pin down — one finding either way."""
    body = text(PIPE)
    rows = t3_rows(body)
    res = review_text(set_column(body, 0, rows[2:5], ""))
    got = fired(res, "cell-blank") + fired(res, "cell-unreadable")
    assert len(got) == 1 and len(got[0].cells) == 3 and "“自然人”列有 3 行" in got[0].message
    assert "（一）予以公开" in got[0].message and not CODE.search(got[0].message)
    assert [x for x in res.findings if x.severity.value == "error"] == []


def test_a_whole_row_is_one_finding_for_all_columns():
    body = text(PIPE)
    row = next(r for r in t3_rows(body) if "2.重复申请" in r)
    blanked = body.replace(row, "| 三、本年度办理结果 （五）不予处理 2.重复申请 | / | / | / | / | / | / | / |")
    got = fired(review_text(blanked), "cell-na")
    assert len(got) == 1 and len(got[0].cells) == 7
    assert got[0].message.startswith("表三（依申请公开）“自然人”“商业企业”“科研机构”“社会公益组织”“法律服务机构”“其他”“总计”"
                                     "各列有 1 行填写为“/”“-”“无”等不适用符号：（五）不予处理 2.重复申请。")


def test_grouped_findings_have_their_own_stable_fingerprints():
    body = text(PIPE)
    rows = t3_rows(body)
    edited = set_column(set_column(body, 0, rows[2:6]), 6, rows[10:12])  # 自然人 4 rows, 总计 2 other rows
    a, b = fired(review_text(edited), "cell-na"), fired(review_text(edited), "cell-na")
    assert [f.fingerprint for f in a] == [f.fingerprint for f in b]
    assert len({f.fingerprint for f in a}) == 2
    # the finding on 自然人 keeps its fingerprint when another of its rows gets “/” too (a reviewer's decision
    # follows the column)
    more = fired(review_text(set_column(edited, 0, rows[6:7])), "cell-na")
    by_col = {f.cells[0]["column"]: f.fingerprint for f in more}
    assert by_col["自然人"] == next(f.fingerprint for f in a if f.cells[0]["column"] == "自然人")


def test_unreadable_cell_names_its_row_and_the_inferred_value():
    [f] = [f for f in fired(check(FIX / "003_8eaa2870e78a4cb1.txt"), "cell-unreadable") if f.table == "applications"]
    assert f.message.startswith("表三（依申请公开）“自然人”列有 1 行无法识别：（一）予以公开（由勾稽关系推得 2）。")
    assert f.cells == [{"row": "三.一", "column": "自然人"}]  # the JSON contract keeps the codes


def test_appeals_identity_names_the_group_the_columns_and_the_identity():
    res = review_text(text(PIPE).replace("| 1 | 0 | 2 | 0 | 3 | 12 |", "| 1 | 0 | 2 | 0 | 4 | 12 |"))
    [f] = fired(res, "appeals-group-total")
    assert f.message == ("表四（复议诉讼）“行政复议”不符合“结果维持、结果纠正、其他结果、尚未审结之和等于总计”："
                         "总计 4；结果维持 1 + 结果纠正 0 + 其他结果 2 + 尚未审结 0，合计 3，相差 1。")
    res = review_text(text(PIPE).replace("| 12 | 0 | 0 | 0 | 12 |", "| 12 | 0 | 0 | 0 | 13 |"))
    [f] = fired(res, "appeals-group-total")
    assert f.message.startswith("表四（复议诉讼）“行政诉讼 未经复议直接起诉”不符合“结果维持、")
    assert f.cells[0] == {"group": "未经复议直接起诉", "column": "总计"}


def test_applications_identities_name_rows_and_columns():
    res = check(FIX / "002_f86e26e747344a50.txt")
    f = next(f for f in fired(res, "applications-balance") if f.cells[0]["column"] == "自然人")
    assert f.message == ("表三（依申请公开）“自然人”不符合“第一项加第二项之和，等于第三项加第四项之和”："
                         "本年新收 29 + 上年结转 0，合计 29；（七）总计 23 + 结转下年度继续办理 0，合计 23，相差 6。")
    body = text(PIPE).replace("| 三、本年度办理结果 （一）予以公开 | 27 |", "| 三、本年度办理结果 （一）予以公开 | 28 |")
    [f] = fired(review_text(body), "applications-row-total")
    assert f.message == ("表三（依申请公开）“（一）予以公开”行不符合“总计等于各类申请人之和”：总计 30；自然人 28 + 商业企业 0 + "
                         "科研机构 0 + 社会公益组织 2 + 法律服务机构 0 + 其他 1，合计 31，相差 1。")


def test_no_internal_codes_and_no_empty_names_in_any_message():
    for path in REPORTS:
        for f in check(path).findings:
            assert not CODE.search(f.message), (path.name, f.message)
            assert "“”" not in f.message, (path.name, f.message)


def test_cli_text_reads_with_template_names():
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    p = subprocess.run([sys.executable, "-m", "review.cli", "check", "--verbose", str(FIX / "huaian_city_2024.pdf"),
                        str(FIX / "003_8eaa2870e78a4cb1.txt")], capture_output=True, text=True, cwd=ROOT, env=env)
    assert p.returncode == 1, p.stderr
    assert not CODE.search(p.stdout), p.stdout
    assert "“”" not in p.stdout
    assert "表三 （一）予以公开/自然人" in p.stdout  # the location line names the row too
    j = subprocess.run([sys.executable, "-m", "review.cli", "check", "--json", str(FIX / "003_8eaa2870e78a4cb1.txt")],
                       capture_output=True, text=True, cwd=ROOT, env=env)
    cells = [f["cells"] for f in json.loads(j.stdout)[0]["findings"] if f["rule"] == "cell-unreadable"]
    assert [{"row": "三.一", "column": "自然人"}] in cells  # the JSON keeps the contract's codes
