"""Rules on the title, the year, the format and the publication date."""
from __future__ import annotations

import re
from datetime import date

from review.models import Evidence
from review.rules.base import Context, Rule, rule
from review.templates import expected_format
from review.text import norm

_REGION = re.compile(r"[\u4e00-\u9fff](省|市|区|县|州|旗|盟|镇|乡|街道|自治区|特别行政区)")
_NATIONAL = ("国家", "中国", "中华人民共和国", "国务院", "全国")
# Column labels the 2019 template glosses with a year: "上一年项目数量（指 2019 年事项数）", "处理决定数量（指 2020 年办件量）"
_YEAR_NOTE = re.compile(r"(上一年[^()。；]{0,8}|本年[^()。；]{0,8}|处理决定数量|采购项目数量|采购总金额)\(指(20\d{2})年")


@rule("title-agency", "warning", "标题应写明发布机关全称（含地区）", "年报格式：标题写明机关名称和年度")
def title_agency(r: Rule, ctx: Context):
    """The title names the agency and the year; an agency without its region (e.g. “区行政审批局”) is ambiguous."""
    m = ctx.meta
    if m.title is None:
        where = {"来源": "网页来源栏", "signature": "落款"}.get(m.agency_source or "", "")
        who = f"（从{where}读出机关：{m.agency}）" if m.agency else ""
        yield r.finding(f"未找到年报标题，标题应写明发布机关和年度{who}。", key="no-title",
                        evidence=[Evidence(ref="meta.agency", value=m.agency)])
        return
    if m.year_source != "title":
        yield r.finding(f"标题“{m.title}”没有写明年度。", key="no-year", line=m.title_line)
    agency = m.agency or ""
    if not agency:
        yield r.finding(f"标题“{m.title}”没有写明发布机关。", key="no-agency", line=m.title_line)
    elif not _REGION.search(agency) and not agency.startswith(_NATIONAL):
        yield r.finding(f"标题中的机关名称“{agency}”没有写明所属地区（如“某某市某某区”），无法确定是哪一机关。",
                        key="no-region", line=m.title_line, evidence=[Evidence(ref="meta.agency", value=agency)])


@rule("year-consistency", "error", "标题、统计期限和正文的年度应一致", "年报格式：统计期限为本年度1月1日至12月31日")
def year_consistency(r: Rule, ctx: Context):
    """The title's year, the statistical period and the years the tables' headers name must agree."""
    m = ctx.meta
    if m.year is None:
        yield r.finding("无法确定年报所属年度：标题、统计期限和正文都没有写明。", key="unknown", status="not_assessable")
        return
    if m.period_year and m.period_year != m.year:
        yield r.finding(f"统计期限“{m.period}”的年度 {m.period_year} 与年报年度 {m.year} 不一致。", key="period",
                        evidence=[Evidence(ref="meta.year", value=m.year), Evidence(ref="meta.period", value=m.period)])
    for i, line in enumerate(ctx.report.lines, 1):
        if "指" not in line or "年" not in line:
            continue
        for label, y in _YEAR_NOTE.findall(norm(line)):
            want = m.year - 1 if label.startswith("上一年") else m.year
            if int(y) != want:
                yield r.finding(f"第 {i} 行“{label}”注明指 {y} 年，而 {m.year} 年度年报中应指 {want} 年。",
                                key=f"note|{label}|{y}", line=i, severity="warning")


@rule("format-year", "error", "年报格式应与年度相符：2021年及以后用2021年格式", "国办公开办函〔2021〕30号")
def format_year(r: Rule, ctx: Context):
    """Reports for 2019 and 2020 use the 2019 format; reports for 2021 onwards the 2021 format."""
    m = ctx.meta
    want = expected_format(m.year)
    if m.format is None or want is None:
        yield r.finding("无法判断格式与年度是否相符（未识别出表格格式或年度）。", key="unknown", status="not_assessable")
        return
    if m.format != want:
        sev = "error" if want == "2021" else "warning"
        yield r.finding(f"{m.year}年度年报应使用{want}年格式，但表格使用的是{m.format}年格式。", key="mismatch",
                        severity=sev, evidence=[Evidence(ref="meta.format", value=m.format),
                                                Evidence(ref="meta.year", value=m.year)])


@rule("publication-deadline", "error", "发布日期应在《条例》第四十九条规定的期限内",
      "《条例》第四十九条：部门1月31日前，本级政府3月31日前")
def publication_deadline(r: Rule, ctx: Context):
    """Departments publish last year's report by 1月31日, governments by 3月31日."""
    m = ctx.meta
    if not m.published or not m.year:
        yield r.finding("未找到发布日期（发布日期或落款日期），无法核对是否按期发布。", key="unknown", status="not_assessable")
        return
    pub = date.fromisoformat(m.published)
    dept, gov = date(m.year + 1, 1, 31), date(m.year + 1, 3, 31)
    ev = [Evidence(ref="meta.published", value=m.published, line=m.published_line)]
    if pub <= date(m.year, 12, 31):
        yield r.finding(f"发布日期 {m.published} 早于 {m.year} 年度结束，日期可能有误。", key="early", severity="warning",
                        line=m.published_line, evidence=ev)
    elif m.agency_kind == "government" and pub > gov:
        yield r.finding(f"本级政府年报应于 {gov.isoformat()} 前发布，实际发布日期 {m.published}，逾期。", key="late",
                        line=m.published_line, evidence=ev)
    elif m.agency_kind == "department" and pub > dept:
        yield r.finding(f"政府部门年报应于 {dept.isoformat()} 前发布，实际发布日期 {m.published}，逾期。", key="late",
                        line=m.published_line, evidence=ev)
    elif m.agency_kind is None and pub > dept:
        sev = "error" if pub > gov else "warning"
        yield r.finding(f"发布日期 {m.published}：若为政府部门已逾期（{dept.isoformat()}前），"
                        f"若为本级政府{'也已逾期' if pub > gov else '则未逾期'}（{gov.isoformat()}前）。机关类型无法确定。",
                        key="late", severity=sev, line=m.published_line, evidence=ev)
