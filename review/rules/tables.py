"""Rules on the three tables: identities, cell values and states, missing and extra rows."""
from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

from review.identities import Equation, appeal_equations, application_equations, holds
from review.models import CellState
from review.templates import template
from review.present import group_label, row_label
from review.rules.base import Context, Rule, evidence_of, fmt_value, num_text, rule
from review.text import is_integral

TABLE_ZH = {"disclosure": "表二（主动公开）", "applications": "表三（依申请公开）", "appeals": "表四（复议诉讼）"}
_NUMERIC = (CellState.number,)


def _key_ref(table: str, key: tuple[str, str]) -> dict:
    return {_ROW_FIELD[table]: key[0], "column": key[1]}


# 表三's four balance rows, short, where a message adds them up
_SHORT_ROWS = {"一": "本年新收", "二": "上年结转", "三.七": "（七）总计", "四": "结转下年度继续办理"}


def _term(table: str, eq: Equation, k: tuple[str, str], short: bool = True) -> str:
    """One cell of an equation, named by what varies in it: the row (a column's equation) or the column."""
    if len({x[1] for x in eq.cells}) == 1:  # one column: cells differ by row (表三) or group
        if table == "applications":
            return (_SHORT_ROWS.get(k[0]) if short else None) or row_label(k[0])
        return group_label(k[0])
    return k[1]


def _side(table: str, eq: Equation, side, cells) -> str:
    return " + ".join(f"{_term(table, eq, k)} {fmt_value(cells.get(k))}" for k in side)


def _where(table: str, eq: Equation) -> str:
    """“表三（依申请公开）“自然人”” for a column, “…“（一）予以公开”行” for a row, “表四（复议诉讼）“行政复议”” for a group."""
    if table == "appeals":
        return f"{TABLE_ZH[table]}“{group_label(eq.along)}”"
    if len({x[1] for x in eq.cells}) == 1:
        return f"{TABLE_ZH[table]}“{eq.along}”"
    return f"{TABLE_ZH[table]}“{row_label(eq.along)}”行"


def _title(eq: Equation) -> str:
    if eq.title:
        return eq.title
    total = eq.lhs[0][1] if len(eq.lhs) == 1 else "总计"
    return f"{'、'.join(k[1] for k in eq.rhs)}之和等于{total}"


def _identity_findings(r: Rule, table: str, eqs: list[Equation], cells: dict, values: dict):
    for eq in eqs:
        if not any(k in cells for k in eq.cells):
            continue  # the table or this part of it was not found: reported by table rules
        ok = holds(eq, values)
        if ok:
            continue
        refs = [_key_ref(table, k) for k in eq.cells]
        ev = [evidence_of(cells[k], f"{k[0]}/{k[1]}") for k in eq.cells if k in cells]
        line = next((cells[k].line for k in eq.cells if k in cells), None)
        where, title = _where(table, eq), _title(eq)
        if ok is None:
            bad = [k for k in eq.cells if values.get(k) is None]
            what = "、".join(f"{_term(table, eq, k, short=False)} {fmt_value(cells.get(k))}" for k in bad[:4])
            more = f"等 {len(bad)} 个单元格" if len(bad) > 4 else ""
            yield r.finding(f"{where}无法核对“{title}”：{what}{more}不是可用的数字。", key=f"{eq.along}",
                            status="not_assessable", table=table, cells=refs, line=line, evidence=ev)
        elif not ok:
            lhs = sum(values[k] for k in eq.lhs)
            rhs = sum(values[k] for k in eq.rhs)
            right = f"{_side(table, eq, eq.rhs, cells)}，合计" if len(eq.rhs) <= 7 else "各项合计"
            yield r.finding(f"{where}不符合“{title}”：{_side(table, eq, eq.lhs, cells)}"
                            f"{'，合计 ' + num_text(lhs) if len(eq.lhs) > 1 else ''}；"
                            f"{right} {num_text(rhs)}，相差 {num_text(abs(lhs - rhs))}。",
                            key=f"{eq.along}", table=table, cells=refs, line=line, evidence=ev)


def _identity_rule(ident_id: str, table: str):
    def check(r: Rule, ctx: Context):
        t = ctx.template
        if t is None:
            return
        cells = ctx.applications() if table == "applications" else ctx.appeals()
        values = ctx.memo(("values", table), lambda: {k: c.value for k, c in cells.items() if c.state in _NUMERIC})
        eqs = (application_equations(t, frozenset(k[0] for k in cells)) if table == "applications"
               else appeal_equations(t))
        yield from _identity_findings(r, table, [e for e in eqs if e.identity == ident_id], cells, values)
    return check


rule("applications-balance", "error", "表三各列：第一项加第二项之和等于第三项加第四项之和",
     "年报格式 表三 勾稽关系（国办公开办函〔2019〕60号、〔2021〕30号）",
     "每一列（自然人、各类法人或其他组织、总计）：本年新收 + 上年结转 = 本年度办理结果（七）总计 + 结转下年度继续办理。"
     )(_identity_rule("applications-balance", "applications"))
rule("applications-results-total", "error", "表三各列：（七）总计等于本年度办理结果各项之和",
     "年报格式 表三（国办公开办函〔2019〕60号、〔2021〕30号）",
     "每一列：（七）总计 = 予以公开 + 部分公开 + 不予公开各项 + 无法提供各项 + 不予处理各项 + 其他处理（各项）。"
     )(_identity_rule("applications-results-total", "applications"))
rule("applications-row-total", "error", "表三各行：总计等于各类申请人之和",
     "年报格式 表三（国办公开办函〔2019〕60号、〔2021〕30号）",
     "每一行：总计 = 自然人 + 商业企业 + 科研机构 + 社会公益组织 + 法律服务机构 + 其他。"
     )(_identity_rule("applications-row-total", "applications"))
rule("appeals-group-total", "error", "表四：结果维持、结果纠正、其他结果、尚未审结之和等于总计",
     "年报格式 表四（国办公开办函〔2019〕60号、〔2021〕30号）",
     "行政复议、未经复议直接起诉、复议后起诉三组，每组四项之和等于该组总计。"
     )(_identity_rule("appeals-group-total", "appeals"))


_ROW_FIELD = {"disclosure": "item", "applications": "row", "appeals": "group"}


def _cells_in(ctx: Context, *states: CellState) -> list:
    """(table, cell, its row/item/group) for every cell in one of `states`, in table order."""
    by = ctx.cells_by_state()
    found = [x for s in states for x in by.get(s, ())]
    if len(states) > 1:
        found.sort(key=lambda x: x[0])  # the tables' own order, the states interleaved as they stand
    return [x[1:] for x in found]


def _ref(table: str, c, row: str) -> dict:
    return {_ROW_FIELD[table]: row, "column": c.column}


@lru_cache(maxsize=None)
def _column_kinds(fmt: str) -> dict[str, str]:
    return {c.name: c.kind for b in template(fmt).disclosure.blocks for c in b.columns}


def _column_kind(ctx: Context, table: str, column: str) -> str:
    if table != "disclosure" or ctx.meta.format is None:
        return "count"
    return _column_kinds(ctx.meta.format).get(column, "count")


@rule("count-invalid", "error", "件数为非负整数，金额不为负数",
      "年报格式 表二至表四（件数以“件”“个”计；本年增/减可为负数）")
def count_invalid(r: Rule, ctx: Context):
    """A count must be a whole number and not negative; 本年增/减 may be negative; amounts (万元) may have decimals."""
    for table, c, row in _cells_in(ctx, CellState.number):
        v = c.value
        if type(v) is int and v >= 0:  # a non-negative whole number is right in every column (the common case)
            continue
        kind = _column_kind(ctx, table, c.column)
        bad = None
        if kind in ("count", "delta") and not is_integral(v):
            bad = "件数应为整数"
        elif kind in ("count", "amount") and v < 0:
            bad = "不应为负数"
        if bad:
            yield r.finding(f"{TABLE_ZH[table]}“{_row_name(table, row)}”行“{c.column}”列为 {c.raw or v}：{bad}。", key=f"{table}|{row}|{c.column}",
                            table=table, cells=[_ref(table, c, row)], line=c.line,
                            evidence=[evidence_of(c, f"{row}/{c.column}")])


def _row_name(table: str, row: str) -> str:
    return row_label(row) if table == "applications" else group_label(row) if table == "appeals" else row


def _row_text_of(found: list, one_inferred: bool, show_notes: bool):
    """A row of a cell finding with what the reviewer needs beside it: the inferred value, the reason."""
    def row_text(row: str, name: str) -> str:
        cs = [c for r_, c in found if r_ == row]
        extra = [f"由勾稽关系推得 {num_text(c.value)}" for c in cs if c.state == CellState.inferred and one_inferred]
        if show_notes:
            extra += sorted({c.note for c in cs if c.note and c.state != CellState.inferred})
        return name + (f"（{'；'.join(extra)}）" if extra else "")
    return row_text


def _rows_listed(table: str, rows, row_text) -> str:
    """Rows as a reviewer reads them; sub-rows of one 表三 group under it once:
    “（三）不予公开 1.属于国家秘密、2.其他法律行政法规禁止公开；（七）总计”."""
    parts: list[tuple[str, list[str]]] = []  # (group label or "", items)
    for row in rows:
        if table == "applications" and row.count(".") == 2:
            group, sub = row_label(row.rsplit(".", 1)[0]), row_text(row, row_label(row).split(" ", 1)[-1])
        else:
            group, sub = "", row_text(row, _row_name(table, row))
        if parts and parts[-1][0] == group:
            parts[-1][1].append(sub)
        else:
            parts.append((group, [sub]))
    return "；".join((f"{g} " if g else "") + "、".join(items) for g, items in parts)


def _template_rows(ctx: Context, table: str) -> int:
    t = ctx.template
    if t is None:
        return 0
    if table == "applications":
        return len(t.applications.leaf_rows)
    return len(t.appeals.groups) if table == "appeals" else 0


def _state_rule(state: CellState, describe: str, advice: str):
    """One finding per table and column (columns with the very same rows share one), listing the rows."""
    def check(r: Rule, ctx: Context):
        by_column: dict[tuple[str, str], list] = defaultdict(list)
        states = (state, CellState.inferred) if state == CellState.unreadable else (state,)
        for table, c, row in _cells_in(ctx, *states):
            by_column[(table, c.column)].append((row, c))
        groups: dict[tuple, list[str]] = defaultdict(list)  # (table, rows) -> columns
        for (table, column), found in by_column.items():
            groups[(table, tuple(row for row, _ in found))].append(column)
        for (table, rows), columns in groups.items():
            found = [(row, c) for col in columns for row, c in by_column[(table, col)]]
            notes = {c.note for _, c in found if c.note}
            one_note = len(notes) == 1 and all(c.note for _, c in found) and not any(
                c.state == CellState.inferred for _, c in found)

            row_text = _row_text_of(found, one_inferred=len(columns) == 1, show_notes=not one_note)
            cols = "”“".join(columns)
            whole = _template_rows(ctx, table)
            listed = _rows_listed(table, rows, row_text)
            count = f"全部 {len(rows)} 行" if whole and len(rows) == whole else f"{len(rows)} 行"
            why = f"（{notes.pop()}）" if one_note else ""
            yield r.finding(f"{TABLE_ZH[table]}“{cols}”{'列' if len(columns) == 1 else '各列'}有 {count}"
                            f"{describe}{why}：{listed}。{advice}",
                            key=f"{table}|{'、'.join(columns)}", table=table,
                            cells=[_ref(table, c, row) for row, c in found], line=found[0][1].line,
                            evidence=[evidence_of(c, f"{row}/{c.column}") for row, c in found])
    return check


rule("cell-unreadable", "warning", "表格单元格无法识别", "《条例》第五十条（年报内容应准确）",
     "原文数字少于列数、或单元格为乱码：该单元格报告为“无法识别”，依赖它的勾稽核对标记为“无法判断”，不报错误；"
     "只有勾稽关系能唯一确定时才给出推得值，并标明“推得”。"
     )(_state_rule(CellState.unreadable, "无法识别", "依赖这些单元格的核对无法判断，请对照原件核实。"))
rule("cell-blank", "warning", "表格单元格空白（空白不等于0）", "年报格式：各项数据应填写，没有的填 0",
     "空白单元格不按 0 计算；依赖它的核对标记为“无法判断”。"
     )(_state_rule(CellState.blank, "为空白", "空白不等于 0，请机关补填（没有的应填 0）。"))
rule("cell-na", "info", "表格单元格填写“/”“-”“无”等", "年报格式：各项数据应填写，没有的填 0",
     "“/”“-”“无”等表示不适用，不按 0 计算；依赖它的核对标记为“无法判断”。"
     )(_state_rule(CellState.na, "填写为“/”“-”“无”等不适用符号", "不按 0 计算；如确无数据，应填 0。"))


_TABLE_SHORT = {"disclosure": "表二", "applications": "表三", "appeals": "表四"}


@rule("table-missing", "error", "缺少年报格式规定的表格", "《条例》第五十条；年报格式 表二、表三、表四")
def table_missing(r: Rule, ctx: Context):
    """A report must contain the template's 表二 (主动公开), 表三 (依申请公开) and 表四 (复议诉讼). Only a table of
    which nothing is found is missing; a table that is there but cannot be read is `table-unreadable`."""
    tables = ctx.report.tables
    unread = {u["table"] for u in ctx.report.unread_tables}
    for name in ("disclosure", "applications", "appeals"):
        if not getattr(tables, name) and name not in unread:
            yield r.finding(f"缺少{_TABLE_SHORT[name]}：全文未找到{TABLE_ZH[name]}的表头或行名。"
                            f"请核对原件是否缺表，或表格是否为图片。", key=name, table=name)


@rule("table-unreadable", "warning", "表格在原文中，但格式无法识别", "《条例》第五十条；年报格式 表二、表三、表四")
def table_unreadable(r: Rule, ctx: Context):
    """A table whose labels are found but whose cells cannot be placed: named, with why; every check that needs
    it cannot be assessed (无法判断) — never a false error and never "缺少"."""
    for u in ctx.report.unread_tables:
        name = u["table"]
        yield r.finding(f"{_TABLE_SHORT[name]}格式无法识别：{u['reason']}（第 {u['line']} 行起）。"
                        f"依赖{_TABLE_SHORT[name]}的核对均无法判断，请对照原件核实。",
                        key=name, table=name, line=u["line"])


@rule("table-row-missing", "warning", "表格缺少年报格式规定的行", "年报格式 表二、表三（国办公开办函〔2019〕60号、〔2021〕30号）")
def table_row_missing(r: Rule, ctx: Context):
    """Every template row must be in the table, even when its values are 0."""
    present = {"disclosure": bool(ctx.report.tables.disclosure), "applications": bool(ctx.report.tables.applications)}
    for m in ctx.report.missing_rows:
        table = m["table"]
        if not present.get(table):
            continue  # the whole table is missing: one finding from table-missing
        if table == "disclosure":
            yield r.finding(f"{TABLE_ZH[table]}{m['block']}缺少“{m['item']}”行。", key=f"{table}|{m['item']}",
                            table=table, cells=[{"item": m["item"]}])
        elif m.get("collapsed"):
            t = ctx.template
            group = t.applications.row(m["row"]) if t else None
            parts = "；".join(p.label for p in t.applications.rows if p.code in m["collapsed"]) if t else ""
            yield r.finding(f"{TABLE_ZH[table]}“{group.label if group else m['row']}”只填了一行，缺少"
                            f"{ctx.meta.format or ''}年格式的 {len(m['collapsed'])} 个分项（{parts}）；"
                            f"已按该行合计读取，（七）总计照常核对。",
                            key=f"{table}|{m['row']}|collapsed", table=table, cells=[{"row": m["row"]}])
        else:
            yield r.finding(f"{TABLE_ZH[table]}缺少“{row_label(m['row'])}”行（没有的也应列出并填 0）。",
                            key=f"{table}|{m['row']}", table=table,
                            cells=[{"row": m["row"]}])


@rule("table-row-extra", "info", "表二有年报格式之外的本地行（已保留并标注）", "年报格式 表二")
def table_row_extra(r: Rule, ctx: Context):
    """Local variants add rows to 表二 (e.g. 其他主动公开文件): they are kept, marked, and not checked."""
    seen = set()
    for c in ctx.report.tables.disclosure:
        if c.extra and c.item not in seen:
            seen.add(c.item)
            yield r.finding(f"{TABLE_ZH['disclosure']}{c.block}有格式之外的行“{c.item[:30]}”，已保留，不参与核对。",
                            key=c.item, table="disclosure", cells=[{"item": c.item}], line=c.line)


@rule("table-label-variant", "info", "表格行名与年报格式不同", "年报格式 表二、表三（2021年格式表二为“行政规范性文件”）")
def table_label_variant(r: Rule, ctx: Context):
    """A row written with an older or local name (规范性文件 in a 2021-format table) is read as the template row;
    a 表三 row label with a typo or a dropped character is matched by the template's order and similarity, and
    says so."""
    seen = set()
    for c in ctx.report.tables.disclosure:
        if c.label and not c.extra and c.item not in seen and c.label.split("（")[0].split("(")[0] != c.item:
            seen.add(c.item)
            yield r.finding(f"{TABLE_ZH['disclosure']}行名写作“{c.label[:20]}”，按格式中的“{c.item}”读取。",
                            key=c.item, table="disclosure", cells=[{"item": c.item}], line=c.line)
    t = ctx.template
    for c in ctx.report.tables.applications:
        if c.loose and c.row not in seen and t is not None:
            seen.add(c.row)
            row = t.applications.row(c.row)
            yield r.finding(f"{TABLE_ZH['applications']}行名写作“{(c.label or '')[:30]}”，与格式中的“{row.label if row else c.row}”"
                            f"不完全一致，按表格顺序和文字相似度对应到该行，请核对。",
                            key=c.row, table="applications", cells=[{"row": c.row}], line=c.line)
