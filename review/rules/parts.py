"""Rules on the six parts (《条例》第五十条) and their content."""
from __future__ import annotations

import re

from review.rules.base import Context, Rule, rule
from review.templates import parts
from review.text import norm

_CN = "一二三四五六"
_NUMBERED = re.compile(r"^([一二三四五六七八九十])[、.]")
_PROBLEM_WORDS = ("问题", "不足", "差距", "薄弱", "短板", "有待", "不够", "欠缺", "滞后", "不到位")
_MEASURE_WORDS = ("改进", "措施", "整改", "下一步", "将进一步", "加强", "提升", "推进", "完善", "强化")
_EMPTY = re.compile(r"^(无|暂无|没有|无相关情况|本年度无)?[。.]?$")


@rule("parts-missing", "error", "年报缺少规定的部分", "《条例》第五十条；年报格式 一至六部分")
def parts_missing(r: Rule, ctx: Context):
    """All six parts: 总体情况, 主动公开, 收到和处理申请, 复议诉讼, 存在的主要问题及改进情况, 其他需要报告的事项."""
    have = {s.number for s in ctx.report.sections}
    for p in parts():
        if p.number not in have:
            yield r.finding(f"未找到第{_CN[p.number - 1]}部分“{p.title}”（《条例》第五十条要求）。", key=str(p.number),
                            section=p.number)


@rule("parts-order", "warning", "六个部分的顺序或编号与格式不符", "年报格式 一至六部分")
def parts_order(r: Rule, ctx: Context):
    """The parts must come in the template's order, each under its own numeral."""
    for s in ctx.report.sections:
        m = _NUMBERED.match(norm(s.heading))
        if m and m.group(1) != _CN[s.number - 1]:
            yield r.finding(f"第{_CN[s.number - 1]}部分“{s.heading}”的编号写作“{m.group(1)}”。",
                            key=f"number|{s.number}", section=s.number, line=s.line)
    numbers = [s.number for s in sorted(ctx.report.sections, key=lambda s: s.line)]
    if numbers != sorted(numbers):
        yield r.finding("各部分的顺序与格式不符：" + "、".join(_CN[n - 1] for n in numbers) + "。", key="order")


@rule("part5-content", "error", "第五部分应写明存在的主要问题和改进情况，不能为空或“无”",
      "《条例》第五十条第（四）项")
def part5_content(r: Rule, ctx: Context):
    """Part 五 must name the problems and the improvement measures; empty or “无” is an error, one side missing a warning."""
    s = ctx.section(5)
    if s is None:
        return  # reported by parts-missing
    text = norm(s.text)
    if _EMPTY.match(text):
        yield r.finding(f"第五部分“{s.heading}”内容为空或只写“无”。应写明存在的主要问题及改进情况。", key="empty",
                        section=5, line=s.line)
        return
    if not any(w in text for w in _PROBLEM_WORDS):
        yield r.finding("第五部分没有写明存在的问题（未见“问题”“不足”等表述）。", key="problems", section=5,
                        line=s.line, severity="warning")
    if not any(w in text for w in _MEASURE_WORDS):
        yield r.finding("第五部分没有写明改进措施（未见“改进”“措施”“加强”等表述）。", key="measures", section=5,
                        line=s.line, severity="warning")


@rule("part6-fee", "warning", "2021年格式：第六部分应报告信息处理费收取情况",
      "年报格式（国办公开办函〔2021〕30号）第六部分注：收取信息处理费情况在此处报告；国办函〔2020〕109号")
def part6_fee(r: Rule, ctx: Context):
    """From the 2021 format, part 六 states the 信息处理费 collected (or that none was)."""
    year = ctx.meta.year
    if ctx.meta.format != "2021" and not (year and year >= 2021):
        return
    s = ctx.section(6)
    if s is None:
        return  # reported by parts-missing
    if "处理费" not in norm(s.text):
        yield r.finding("第六部分未报告信息处理费收取情况（2021年格式要求在此报告，未收取也应写明）。", key="fee",
                        section=6, line=s.line)
