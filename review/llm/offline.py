"""Offline mode: explanations from per-rule templates filled with the finding's real values, so every
rule that fires has a useful Chinese explanation with no model at all."""
from __future__ import annotations

import re
from typing import Optional

from review.llm.schemas import CellRef, Explanation
from review.models import Finding, ReviewResult
from review.rules.base import num_text

# rule -> (likely causes, what the agency should correct)
GUIDE: dict[str, tuple[list[str], list[str]]] = {
    "applications-balance": (
        ["“本年新收”与“办理结果”两处对申请人类型的登记口径不一致（如把企业的申请记在自然人名下）",
         "漏填、多填了某一项办理结果，或上年结转、结转下年度未如实填写",
         "表格计算后又改动了个别单元格而未同步合计"],
        ["按申请登记台账逐件核对申请人类型和办理结果，使每一列满足“第一项＋第二项＝第三项＋第四项”",
         "更正后重新核对本行“总计”及（七）总计"]),
    "applications-results-total": (
        ["（七）总计不是按各项办理结果逐项相加得出的", "某项办理结果漏计或重复计入"],
        ["按各项办理结果重新合计（七）总计，或更正相应分项"]),
    "applications-row-total": (
        ["“总计”列不是按各类申请人相加得出的", "某类申请人的数字填错或填在了相邻列"],
        ["按自然人及各类法人或其他组织重新合计本行“总计”"]),
    "appeals-group-total": (
        ["表四“总计”与结果维持、结果纠正、其他结果、尚未审结之和不符", "案件结果分类填错"],
        ["按复议、诉讼案件台账核对结果分类并重新合计"]),
    "count-invalid": (
        ["件数栏填入了小数或负数（可能是把金额、比例填进了件数栏）"],
        ["件数应为非负整数；金额应填入金额栏并注明单位"]),
    "cell-unreadable": (
        ["原件中该单元格缺失、模糊或为乱码（扫描、转换或排版造成）"],
        ["对照原件或机关核实该单元格；必要时请机关重新发布清晰版本"]),
    "cell-blank": (
        ["单元格留空（空白不等于 0）"],
        ["请机关补填；没有发生的事项应填 0"]),
    "cell-na": (
        ["单元格填写了“/”“-”“无”等，表示不适用"],
        ["格式要求填写数字，没有发生的事项应填 0"]),
    "table-missing": (
        ["年报缺少格式规定的表格，或表格为图片、无法识别"],
        ["按年报格式补充该表；表格请以文字表格发布，不要只放图片"]),
    "table-row-missing": (
        ["表格删去了格式规定的行（可能因为该项为 0 而省略）"],
        ["按年报格式补全该行，没有的填 0"]),
    "table-row-extra": (["机关按本地要求增加了格式之外的行"], ["无需更正；如上级未要求，可不加此行"]),
    "table-label-variant": (["行名沿用了旧格式或本地叫法"], ["按现行格式的行名填写"]),
    "words-vs-tables": (
        ["正文与表格的数字不是同一口径或同一单位（元、万元、亿元）", "正文或表格中有一处笔误、漏改"],
        ["核实正确数字后统一正文与表格，金额写明单位（表二为万元）"]),
    "parts-missing": (["年报漏写了《条例》第五十条规定的部分"], ["补写该部分；没有内容的也应写明“无”或相关情况"]),
    "parts-order": (["各部分的编号或顺序与格式不符"], ["按格式的一至六部分顺序和编号排列"]),
    "part5-content": (
        ["第五部分空泛或只写“无”，没有写明具体问题和改进措施"],
        ["写明本年度存在的具体问题、已采取的改进措施和下一步安排"]),
    "part6-fee": (["2021 年格式要求在第六部分报告信息处理费收取情况，年报未写"],
                  ["补充信息处理费收取情况；未收取的写明“未收取信息处理费”"]),
    "title-agency": (["标题未写明发布机关全称或所属地区"], ["标题写明“某某市某某区某某局××年政府信息公开工作年度报告”"]),
    "year-consistency": (["标题、统计期限或表头注明的年度与年报年度不一致，可能沿用了往年模板"],
                         ["统一改为本年度，并检查正文中“本年”所指年度"]),
    "format-year": (["沿用了旧的年报格式"], ["2021 年及以后年度使用国办公开办函〔2021〕30号格式重新制表"]),
    "publication-deadline": (["年报发布晚于《条例》第四十九条规定的期限，或发布日期有误"],
                             ["按期发布；如日期有误请更正发布日期"]),
    "carryover": (["本年“上年结转”与上一年年报“结转下年度继续办理”不一致：统计口径变化或某一年数字有误"],
                  ["核对两个年度的台账，更正有误的一方，并在正文说明口径变化"]),
    "rollforward-current": (["现行有效件数未按上年件数加本年制发、减本年废止推算：可能有清理、修订，也可能填错"],
                            ["核实现行有效件数；如有集中清理、修订，在正文说明"]),
    "rollforward-items": (["上一年项目数量未按上一年年报推算：事项清单调整或填错"], ["核实项目数量，必要时在正文说明调整情况"]),
    "part5-repeated": (["第五部分照搬往年文字，未反映本年度实际"], ["根据本年度实际情况重写存在的问题和改进措施"]),
    "report-repeated": (["全文大面积沿用往年年报"], ["按本年度实际情况重新编写年报"]),
}


def _requester_mismatch(result: ReviewResult) -> str | None:
    """Seed 002's pattern: every column but 总计 is off, and the offs cancel out — the requester type was
    recorded differently under 本年新收 and under the results."""
    apps = {(c.row, c.column): c.value for c in result.tables.applications if c.state.value == "number"}
    cols = [c for (r, c) in apps if r == "一"]
    diffs = {}
    for col in cols:
        try:
            diffs[col] = apps[("一", col)] + apps[("二", col)] - apps[("三.七", col)] - apps[("四", col)]
        except KeyError:
            return None
    if diffs.get("总计", 1) != 0 or sum(v for c, v in diffs.items() if c != "总计") != 0:
        return None
    more = [f"{c}{num_text(apps[('一', c)])}件" for c, v in diffs.items() if c != "总计" and v > 0]
    less = [f"{c}{num_text(apps[('三.七', c)])}件" for c, v in diffs.items() if c != "总计" and v < 0]
    if not more or not less:
        return None
    return (f"全表合计是平衡的（总计列相符），但“本年新收”记为{'、'.join(more)}，办理结果（七）总计中却有"
            f"{'、'.join(less)}：同一批申请在两处按不同的申请人类型登记了。")


def explain_offline(result: ReviewResult, finding: Finding, note: str | None = None) -> Explanation:
    causes, corrections = GUIDE.get(finding.rule, (["见规则说明"], ["对照原件核实"]))
    causes = list(causes)
    if finding.rule == "applications-balance":
        pattern = _requester_mismatch(result)
        if pattern:
            causes.insert(0, pattern)
    cells = [CellRef(ref=e.ref, value=e.value, state=e.state, line=e.line) for e in finding.evidence]
    summary = finding.message
    if finding.status == "not_assessable":
        summary = "无法判断：" + finding.message
    return Explanation(fingerprint=finding.fingerprint, rule=finding.rule, severity=finding.severity.value,
                       summary=summary, cells=cells, causes=causes, corrections=list(corrections), mode="offline",
                       note=note or "未配置大模型：解释由规则模板和本报告的实际数值生成")


# ---------------------------------------------------------------------------------------------- questions about cells

_STATE_ZH = {"blank": "（空白）", "na": "（不适用）", "unreadable": "（无法识别）"}
_APP_COLUMNS = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计")


def _shown(c) -> str:
    if c.state.value in ("number", "inferred"):
        return num_text(c.value) + ("（推得）" if c.state.value == "inferred" else "")
    return _STATE_ZH.get(c.state.value, "（无数值）")


def cells_for_question(result: ReviewResult, question: str) -> list[tuple[str, str, Optional[int]]]:
    """The cells a question names, by the template's own row/item/group keys and column names:
    [(label, value as shown, line)]. Blank, "/" and unreadable cells are shown as such, never as 0."""
    from review.templates import template
    q = question.replace("（", "(").replace("）", ")")
    tpl = template(result.meta.format) if result.meta.format else None
    if tpl is None:
        return []
    out: list[tuple[str, str, Optional[int]]] = []
    cols = [c for c in _APP_COLUMNS if c in q and c != "总计"]
    if not cols and re.search(r"总计|合计|一共|总共|总数", q):
        cols = ["总计"]
    rows = [r for r in tpl.applications.rows if not r.group and any(k in q for k in r.keys)]
    for g in tpl.applications.rows:  # a group named ("不予公开"): its rows
        if g.group and g.code != "三" and any(k in q for k in g.keys):
            rows += [r for r in tpl.applications.rows if r.code.startswith(g.code + ".") and r not in rows]
    if "新收" in q and not any(r.code == "一" for r in rows):
        rows.insert(0, next(r for r in tpl.applications.rows if r.code == "一"))
    if rows:
        for r in rows[:8]:
            for c in result.tables.applications:
                if c.row == r.code and (not cols or c.column in cols or c.column == "总计"):
                    out.append((f"表三 {r.label} / {c.column}", _shown(c), c.line))
    groups = [g for g in tpl.appeals.groups if any(k in q for k in g.keys)]
    if not groups and ("复议" in q or "诉讼" in q):
        groups = list(tpl.appeals.groups)
    for g in groups:
        for c in result.tables.appeals:
            if c.group == g.name:
                out.append((f"表四 {g.name} / {c.column}", _shown(c), c.line))
    items = [i for b in tpl.disclosure.blocks for i in b.items if any(k in q for k in i.keys)]
    for it in items:
        for c in result.tables.disclosure:
            if c.item == it.name:
                out.append((f"表二 {it.name} / {c.column}", _shown(c), c.line))
    return out


def answer_cells(result: ReviewResult, question: str) -> Optional[str]:
    cells = cells_for_question(result, question)
    if not cells:
        return None
    rows = [f"- {label}：{value}" + (f"〔第{line}行〕" if line else "") for label, value, line in cells[:30]]
    return "\n".join(["表格中的相关单元格（数值取自年报原文，空白、“/”不当作 0）：", *rows])
