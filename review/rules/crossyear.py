"""Rules across years: this year's report against the same agency's report of the year before
(carry-over, roll-forwards) and against its latest earlier report (copied text)."""
from __future__ import annotations

import re
from typing import Optional

from review.models import CellState, Evidence, ReviewResult
from review.rules.base import Context, Rule, fmt_value, num_text, rule
from review.text import norm

PART5_LIMIT = 0.5  # 宿迁's rule: over 50% of part 五 repeated from last year is copying
REPORT_LIMIT = 0.8  # national evaluators found whole reports 90% the same as the year before
NGRAM = 5
_PUNCT = re.compile(r"[\s，。、；：！？“”‘’（）《》【】,.;:!?()\"'\-—…·]")
_SENTENCE = re.compile(r"(?<=[。；！？!?;])|\n")


def _no_history(r: Rule, ctx: Context, what: str, year_before: bool = True):
    m = ctx.meta
    need = f" {m.year - 1} 年度" if (year_before and m.year) else "往年"
    how = "历史库中没有" if ctx.history else "未提供历史年报（`review index` 建库或 --history 指定文件夹），没有"
    return r.finding(f"{how}{m.agency or '该机关'}{need}年报，无法核对{what}。", key="no-history",
                     status="not_assessable")


def _cell(result: ReviewResult, table: str, row: str, column: str):
    if table == "applications":
        return next((c for c in result.tables.applications if c.row == row and c.column == column), None)
    return next((c for c in result.tables.disclosure if c.item == row and c.column == column and not c.extra), None)


def _num(c) -> Optional[float]:
    return c.value if c is not None and c.state == CellState.number else None


def _ev(c, ref: str, year: int) -> Evidence:
    return Evidence(ref=f"{year}年 {ref}", value=c.value if c else None, state=c.state.value if c else "missing",
                    line=c.line if c else None)


@rule("carryover", "error", "本年“上年结转”应等于上一年“结转下年度继续办理”",
      "年报格式 表三：二、上年结转政府信息公开申请数量 = 上一年 四、结转下年度继续办理")
def carryover(r: Rule, ctx: Context):
    """表三, every column: 二[t] = 四[t−1]. Both formats have these rows, so a format change does not matter."""
    prev, cur = ctx.previous, ctx.report
    if prev is None:
        yield _no_history(r, ctx, "上年结转")
        return
    if not prev.tables.applications or not cur.tables.applications:
        return
    y = ctx.meta.year
    for col in [c.column for c in cur.tables.applications if c.row == "二"]:
        now, before = _cell(ctx.report, "applications", "二", col), _cell(prev, "applications", "四", col)
        a, b = _num(now), _num(before)
        ev = [_ev(now, f"二/{col}", y), _ev(before, f"四/{col}", y - 1)]
        ref = [{"row": "二", "column": col}]
        if a is None or b is None:
            yield r.finding(f"表三“{col}”：本年上年结转{fmt_value(now)}、上一年结转下年度{fmt_value(before)}，无法核对。",
                            key=col, status="not_assessable", table="applications", cells=ref, evidence=ev)
        elif a != b:
            yield r.finding(f"表三“{col}”：本年“上年结转”为 {num_text(a)}，而 {y - 1} 年度年报“结转下年度继续办理”为 "
                            f"{num_text(b)}，应相等。", key=col, table="applications", cells=ref,
                            line=now.line if now else None, evidence=ev)


def _rollforward(r: Rule, ctx: Context, fmt: str, items: list[str], total: str, plus: str, minus: Optional[str],
                 prev_side: bool):
    """total[t] = total[t-1] + plus - minus, with plus/minus from t (2021) or t-1 (2019)."""
    prev = ctx.previous
    if ctx.meta.format != fmt:
        return  # this year's table has no such columns
    if prev is None:
        yield _no_history(r, ctx, f"“{total}”的滚动关系")
        return
    if prev.meta.format != fmt:
        return  # a format change: the two years do not both have these columns
    y = ctx.meta.year
    src = prev if prev_side else ctx.report
    for item in items:
        now = _cell(ctx.report, "disclosure", item, total)
        before = _cell(prev, "disclosure", item, total)
        p = _cell(src, "disclosure", item, plus)
        mi = _cell(src, "disclosure", item, minus) if minus else None
        cells = [now, before, p] + ([mi] if minus else [])
        if now is None and before is None:
            continue
        ev = [_ev(now, f"{item}/{total}", y), _ev(before, f"{item}/{total}", y - 1),
              _ev(p, f"{item}/{plus}", y - 1 if prev_side else y)]
        if minus:
            ev.append(_ev(mi, f"{item}/{minus}", y))
        ref = [{"item": item, "column": total}]
        if any(_num(c) is None for c in cells):
            yield r.finding(f"表二“{item}”：{total}的滚动关系所需单元格不全，无法核对。", key=item, status="not_assessable",
                            table="disclosure", cells=ref, evidence=ev)
            continue
        want = _num(before) + _num(p) - (_num(mi) if minus else 0)
        if abs(_num(now) - want) > 1e-9:
            how = (f"{y - 1}年{num_text(_num(before))} + 本年制发{num_text(_num(p))} − 本年废止{num_text(_num(mi))}"
                   if minus else f"{y - 1}年{num_text(_num(before))} + {y - 1}年本年增/减{num_text(_num(p))}")
            yield r.finding(f"表二“{item}/{total}”为 {num_text(_num(now))}，按上一年推算应为 {how} = {num_text(want)}"
                            f"（相差 {num_text(_num(now) - want)}；如有清理、修订请在正文说明）。", key=item,
                            table="disclosure", cells=ref, line=now.line if now else None, evidence=ev)


@rule("rollforward-current", "warning", "2021年格式：现行有效件数 ≈ 上一年现行有效件数 + 本年制发 − 本年废止",
      "年报格式（国办公开办函〔2021〕30号）表二 第二十条第（一）项")
def rollforward_current(r: Rule, ctx: Context):
    """A warning, not an error: revisions and clean-ups of documents legitimately break it."""
    yield from _rollforward(r, ctx, "2021", ["规章", "行政规范性文件"], "现行有效件数", "本年制发件数", "本年废止件数",
                            prev_side=False)


@rule("rollforward-items", "warning", "2019年格式：上一年项目数量 = 上一年的上一年项目数量 + 上一年的本年增/减",
      "年报格式（国办公开办函〔2019〕60号）表二 第二十条第（五）（六）（八）项")
def rollforward_items(r: Rule, ctx: Context):
    """The items counted at the start of this year follow from last year's count and last year's change."""
    yield from _rollforward(r, ctx, "2019", ["行政许可", "其他对外管理服务事项", "行政处罚", "行政强制", "行政事业性收费"],
                            "上一年项目数量", "本年增/减", None, prev_side=True)


def _grams(text: str) -> set[str]:
    t = _PUNCT.sub("", norm(text))
    return {t[i:i + NGRAM] for i in range(max(len(t) - NGRAM + 1, 0))}


def repetition(current: str, earlier: str) -> tuple[float, list[str]]:
    """Share of this text's character 5-grams found in the earlier text, and the sentences mostly repeated."""
    g_now, g_before = _grams(current), _grams(earlier)
    if not g_now:
        return 0.0, []
    share = len(g_now & g_before) / len(g_now)
    repeated = []
    for s in _SENTENCE.split(current):
        g = _grams(s)
        if len(g) >= 8 and len(g & g_before) / len(g) >= 0.6:
            repeated.append(s.strip())
    return share, repeated


def _line_of(ctx: Context, sentence: str) -> Optional[int]:
    probe = norm(sentence)[:12]
    return next((i for i, line in enumerate(ctx.report.lines, 1) if probe and probe in norm(line)), None)


@rule("part5-repeated", "warning", "第五部分不应照抄往年（重复超过50%）",
      "《条例》第四十七条（内容雷同、敷衍塞责）；宿迁市年报评估：第五部分与上年重复率超过50%扣分")
def part5_repeated(r: Rule, ctx: Context):
    """Character 5-gram overlap of part 五 with the same agency's latest earlier report; the repeated sentences are the evidence."""
    prior = ctx.prior
    if prior is None:
        yield _no_history(r, ctx, "第五部分是否照抄往年", year_before=False)
        return
    now = ctx.section(5)
    before = next((s for s in prior.sections if s.number == 5), None)
    if now is None or before is None or not now.text.strip():
        return
    share, repeated = repetition(now.text, before.text)
    if share > PART5_LIMIT:
        y = prior.meta.year
        located = [(s, _line_of(ctx, s)) for s in repeated[:8]]
        ev = [Evidence(ref=f"第 {line or now.line} 行（与{y}年重复）", value=s[:120], line=line) for s, line in located]
        yield r.finding(f"第五部分与 {y} 年度年报第五部分重复 {share:.0%}（超过 {PART5_LIMIT:.0%}），"
                        f"{len(repeated)} 句基本照抄，问题和改进措施应写本年度的实际情况。", key="part5", section=5,
                        line=now.line, evidence=ev)


@rule("report-repeated", "warning", "全文不应与往年年报大面积雷同",
      "《条例》第四十七条（内容雷同、敷衍塞责）")
def report_repeated(r: Rule, ctx: Context):
    """Character 5-gram overlap of all the words (tables excluded) with the same agency's latest earlier report."""
    prior = ctx.prior
    if prior is None:
        yield _no_history(r, ctx, "全文是否与往年雷同", year_before=False)
        return
    now = "\n".join(s.text for s in ctx.report.sections)
    before = "\n".join(s.text for s in prior.sections)
    share, _ = repetition(now, before)
    if share > REPORT_LIMIT:
        yield r.finding(f"全文文字与 {prior.meta.year} 年度年报重复 {share:.0%}（超过 {REPORT_LIMIT:.0%}），疑似套用往年年报。",
                        key="report", evidence=[Evidence(ref="重复比例", value=round(share, 3))])
