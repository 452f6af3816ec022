"""Read the template's three tables from the token stream.

The stream keeps the order "row label, its values, next row label, ..." in every layout, so each
table is read by walking the template's rows in order: a label token moves to the row it names,
and the values after it belong to that row. A row with fewer values than columns never gets
numbers guessed into the wrong cells: the lost cell is placed by the positions of the other rows
(tab layouts), or by the identities when exactly one placement satisfies them, else the whole row
is unreadable; a lost cell's value is inferred only when an identity pins it down."""
from __future__ import annotations

import re
from collections import Counter
from difflib import SequenceMatcher
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Optional

from review.extract.digitsplit import appeal_cells, joined, place_rows, split_free, why_not
from review.extract.layouts import next_part, part4_row
from review.extract.tokens import Tok
from review.identities import Equation, application_equations, holds, solve
from review.models import AppealCell, ApplicationCell, CellState, DisclosureCell, TableSpan
from review.templates import Block, Column, Template, template, templates
from review.text import Exact, is_integral, norm, to_wan

_BLOCK = re.compile(r"第二十条第\(?([一二三四五六七八九十]+)\)?项")
_CN_NUM = {"一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9", "十": "10"}
_HEADING = re.compile(r"^[一二三四五六七八九十][、.]")
_T3_END = ("勾稽关系", "申请人情况", "本年新收")


@dataclass
class RowRead:
    key: str
    label: Tok
    vals: list[Tok] = field(default_factory=list)
    overflow: int = 0
    block: Optional[str] = None
    extra: bool = False
    loose: bool = False  # the label matched the template's by order and similarity, not by its key words
    after: list[Tok] = field(default_factory=list)  # a real table row: every cell after the label, in place


# ----------------------------------------------------------------------------- helpers

def _value_cell(tok: Tok, col: Column) -> tuple[CellState, Optional[Exact], Optional[Tok], Optional[str]]:
    if tok.kind == "num":
        value = tok.num.value
        if col.kind == "amount":
            value = to_wan(value, tok.num.unit)
        return CellState.number, value, tok, None
    if tok.kind == "na":
        return CellState.na, None, tok, None
    if tok.kind == "blank":
        return CellState.blank, None, tok, None
    return CellState.unreadable, None, tok, "单元格无法识别"


def _grid_after(label: Tok, line_toks: list[Tok], copies: set) -> list[Tok]:
    """The cells after a label on a real table row, span copies left out."""
    return [t for t in line_toks if t.col is not None and t.col > label.col and (t.line, t.col) not in copies]


def _grid_values(label: Tok, after: list[Tok], n: int, next_line: list[Tok]) -> list[Tok]:
    """A label on a real table row: its values are the cells after it on that row (right-aligned),
    each where it stands, so an empty cell is blank in its own column. Nothing when another label
    follows on the row before any value (a group label beside its first sub-row's label), or when
    the row is empty and the next row carries its values under an empty label (a row cut by a page
    break)."""
    after = [t for t in after if t.n != label.n]  # the label written again in the cells it spans
    first_value = next((i for i, t in enumerate(after) if t.is_value), None)
    if any(t.kind == "text" and t.label_like() and not t.placeholder()
           for t in after[: first_value if first_value is not None else len(after)]):
        return []
    if first_value is None:
        if len(after) < n or any(t.kind != "blank" for t in after):
            return []
        continued = next_line and any(t.is_value for t in next_line) and not any(
            t.kind == "text" and t.label_like() for t in next_line)
        if continued:
            return []
    return after[-n:] if len(after) > n else after


def _collect(rows: list[RowRead], toks: list[Tok], start: int, end: int, n: int, match, copies: set,
             stop_after: Optional[str] = None) -> int:
    """Walk toks[start:end]; `match(tok, current)` returns a RowRead for a label naming a next row.
    Returns the index where reading stopped."""
    by_line: dict[int, list[Tok]] = {}
    for t in toks[start:end]:
        if t.grid:
            by_line.setdefault(t.line, []).append(t)
    cur: Optional[RowRead] = None
    i = start
    while i < end:
        t = toks[i]
        if t.kind == "blank":
            i += 1  # an empty cell: layout in text, and in a real table only read by position
            continue
        if t.kind == "text":
            new = match(t, cur) if t.label_like() else None
            if new is not None:
                cur = new
                rows.append(cur)
                if t.grid:
                    cur.after = _grid_after(t, by_line.get(t.line, []), copies)
                    cur.vals = _grid_values(t, cur.after, n, by_line.get(t.line + 1, []))
                    if cur.vals:
                        # skip the rest of this grid row: its cells were taken positionally
                        while i + 1 < end and toks[i + 1].line == t.line:
                            i += 1
            elif cur is not None and cur.vals and t.placeholder() and len(cur.vals) < n:
                cur.vals.append(t)
            elif cur is not None and stop_after and cur.key == stop_after and cur.vals:
                return i
        elif t.is_value and cur is not None and not (t.grid and cur.label.grid and cur.vals):
            if len(cur.vals) < n:
                cur.vals.append(t)
            else:
                cur.overflow += 1
            if stop_after and cur.key == stop_after and len(cur.vals) >= n:
                return i + 1
        i += 1
    return end


def _ref_positions(rows: list[RowRead], n: int) -> Optional[tuple[int, ...]]:
    """The most common column positions of complete rows whose values share one line."""
    seen = Counter()
    for r in rows:
        if len(r.vals) == n and len({v.line for v in r.vals}) == 1 and all(v.col is not None for v in r.vals):
            seen[tuple(v.col for v in r.vals)] += 1
    return seen.most_common(1)[0][0] if seen else None


def _place_by_position(r: RowRead, ref: Optional[tuple[int, ...]]) -> Optional[list[Optional[Tok]]]:
    if ref is None or not r.vals or len({v.line for v in r.vals}) != 1 or any(v.col is None for v in r.vals):
        return None
    slots: list[Optional[Tok]] = [None] * len(ref)
    for v in r.vals:
        if v.col not in ref:
            return None
        slots[ref.index(v.col)] = v
    return slots


# ----------------------------------------------------------------------------- format

@lru_cache(maxsize=None)
def _markers(fmt: str) -> re.Pattern:
    from review.templates import template
    return re.compile("|".join(re.escape(m) for m in template(fmt).markers))


def detect_format(toks: list[Tok]) -> Optional[str]:
    """The template whose column labels (and 2021's 六 sub-rows) the report's cells name most often."""
    score = {t.format: 0 for t in templates()}
    for tok in toks:
        if tok.kind != "text" or len(tok.n) > 80:
            continue
        for fmt in score:
            if _markers(fmt).search(tok.n):
                score[fmt] += 1
    best = max(score, key=score.get)
    if score[best] == 0:
        return None
    return best


# ----------------------------------------------------------------------------- 表三

def _find_t3(toks: list[Tok], t: Template) -> Optional[int]:
    first = t.applications.rows[0]
    for i, tok in enumerate(toks):
        if tok.label_like() and any(k in tok.n for k in first.keys):
            return i
    return None


# Enumerators as reports write them: "1、" "1．" "1," for "1."; "（一）" stays "(一)" after NFKC.
_ENUM_SEP = re.compile(r"^(\d{1,2})[、,，．:：]")
_ENUM = re.compile(r"^(?:\([一二三四五六七八九十]+\)|[一二三四五六七八九十]+、|\d{1,2}\.)")
_LOOSE_WINDOW = 3  # a loosely matched label may name one of the next three rows of the template
_LOOSE_MIN = 0.75  # SequenceMatcher ratio between the label and the template's, enumerators aside
_LOOSE_MARGIN = 0.15  # ... and clearly better than the next candidate


def canon_label(n: str) -> str:
    """A normalised label with its enumerator written the template's way ("1、其他" -> "1.其他")."""
    return _ENUM_SEP.sub(r"\1.", n)


def _enum_number(n: str) -> Optional[str]:
    m = re.match(r"^(\d{1,2})\.", n)
    return m.group(1) if m else None


def _hits(r, c: str) -> bool:
    if r.exact:  # "3.其他": the bare word 其他 names a row only as the whole label
        return c in r.exact or any(c.endswith(k) for k in r.keys)
    return any(k in c for k in r.keys)


@lru_cache(maxsize=None)
def _label_parts(label: str) -> tuple[Optional[str], str]:
    """(enumerator number, body) of a template label, normalised."""
    c = canon_label(norm(label))
    return _enum_number(c), _ENUM.sub("", c)


@lru_cache(maxsize=4096)
def _loose(fmt: str, start: int, c: str):
    """The row among the next few of the template whose label this one resembles, if exactly one does:
    a typo or a dropped character ("2.其他法律行政法止公开") must not lose the row. (Cached: header cells and
    group labels come back in every report.)"""
    rows = template(fmt).applications.rows
    body = _ENUM.sub("", c)
    if len(body) < 4:
        return None
    num = _enum_number(c)
    scored = []
    for r in [r for r in rows[start:] if not r.group][:_LOOSE_WINDOW]:
        rnum, rbody = _label_parts(r.label)
        if num is not None and rnum not in (None, num):
            continue
        scored.append((SequenceMatcher(None, body, rbody).ratio(), r))
    scored.sort(key=lambda x: -x[0])
    if not scored or scored[0][0] < _LOOSE_MIN:
        return None
    if len(scored) > 1 and scored[0][0] - scored[1][0] < _LOOSE_MARGIN:
        return None
    return scored[0][1]


def _row_matcher(t: Template):
    rows = t.applications.rows
    index = {r.code: i for i, r in enumerate(rows)}

    def match(tok: Tok, cur: Optional[RowRead]) -> Optional[RowRead]:
        start = index[cur.key] + 1 if cur else 0
        c = canon_label(tok.n)
        for r in rows[start:]:
            if r.group:
                # group labels (三、本年度办理结果, （三）不予公开) carry no values, except a group a report
                # may fill as one row (2021's （六）其他处理 written as in the 2019 format)
                if r.may_total and any(k in c for k in r.keys) and not any(
                        _hits(p, c) for p in rows if p.code in r.parts):
                    return RowRead(r.code, tok)
                continue
            if _hits(r, c):
                return RowRead(r.code, tok)
        r = _loose(t.format, start, c)
        return RowRead(r.code, tok, loose=True) if r is not None else None

    return match


def read_applications(toks: list[Tok], t: Template, copies: set):
    """-> (cells, missing row codes, span, collapsed group codes)"""
    start = _find_t3(toks, t)
    cols = [c.name for c in t.applications.columns]
    if start is None:
        return [], [], None, []
    rows: list[RowRead] = []
    end = _collect(rows, toks, start, next_part(toks, start), len(cols), _row_matcher(t), copies, stop_after="四")
    got = {r.key: r for r in rows}
    # a group filled as one row stands for its sub-rows only when none of them is there
    collapsed = [g.code for g in t.applications.rows if g.may_total and g.code in got and got[g.code].vals
                 and not any(p in got for p in g.parts)]
    for g in t.applications.rows:
        if g.group and g.code in got and g.code not in collapsed:
            del got[g.code]
    part_of = {p: g.code for g in t.applications.rows if g.code in collapsed for p in g.parts}
    leaf_codes = [r.code for r in t.applications.rows
                  if (not r.group and r.code not in part_of) or r.code in collapsed]
    missing = [c for c in leaf_codes if c not in got]
    values: dict = {}
    placed: dict[str, list] = {}
    ref = _ref_positions(rows, len(cols))
    short: list[RowRead] = []
    for code in leaf_codes:
        r = got.get(code)
        if r is None:
            continue
        if r.overflow:
            placed[code] = [(CellState.unreadable, None, None, f"本行数字多于 {len(cols)} 列，无法确定对应关系")] * len(cols)
            continue
        if len(r.vals) == len(cols):
            slots = list(r.vals)
        else:
            slots = None if joined(r.vals, len(cols)) else _place_by_position(r, ref)
            if slots is None:
                short.append(r)
                continue
        placed[code] = [(_value_cell(v, t.applications.columns[j]) if v is not None
                         else (CellState.unreadable, None, None, "本行缺少此单元格（数字少于列数）"))
                        for j, v in enumerate(slots)]
    for code, cells in placed.items():
        for j, c in enumerate(cells):
            values[(code, cols[j])] = c[1] if c[0] == CellState.number else None

    eqs = application_equations(t, frozenset(got))
    placed.update(place_rows(short, cols, eqs, values))  # rows whose separators were lost
    for r in short:
        if r.key in placed:
            continue
        placed[r.key] = _place_by_identities(r, cols, t, eqs, values)
        for j, c in enumerate(placed[r.key]):
            values[(r.key, cols[j])] = c[1] if c[0] == CellState.number else None

    _infer(placed, cols, eqs, values)

    out: list[ApplicationCell] = []
    for code in leaf_codes:
        if code not in placed:
            continue
        r = got[code]
        for j, (state, value, tok, note) in enumerate(placed[code]):
            line = tok.line if tok is not None else r.label.line
            out.append(ApplicationCell(row=code, column=cols[j], value=value, state=state, line=line,
                                       raw=tok.text if tok is not None else None, note=note,
                                       label=r.label.text if r.loose else None, loose=r.loose))
    span = TableSpan(table="applications", start=toks[start].line, end=toks[min(end, len(toks)) - 1].line)
    return out, missing, span, collapsed


def _place_by_identities(r: RowRead, cols: list[str], t: Template, eqs: list[Equation], values: dict):
    """A row one value short, positions unknown: keep the placement the identities accept, if unique."""
    n = len(cols)
    unreadable = [(CellState.unreadable, None, None, "本行数字少于列数，无法确定缺失的单元格")] * n
    if len(r.vals) != n - 1 or any(v.kind != "num" for v in r.vals):
        return unreadable
    mine = [e for e in eqs if any(k[0] == r.key for k in e.cells)]
    good = []
    for gap in range(n):
        slots = r.vals[:gap] + [None] + r.vals[gap:]
        trial = dict(values)
        for j, v in enumerate(slots):
            trial[(r.key, cols[j])] = v.num.value if v is not None else None
        # fill the gap when an identity pins it, then every identity must hold
        for e in mine:
            s = solve(e, trial)
            if s and s[0] == (r.key, cols[gap]):
                trial[s[0]] = s[1]
                break
        if all(holds(e, trial) is not False for e in mine) and trial.get((r.key, cols[gap])) is not None:
            good.append(slots)
    if len(good) != 1:
        return unreadable
    return [(_value_cell(v, t.applications.columns[j]) if v is not None
             else (CellState.unreadable, None, None, "本行缺少此单元格（数字少于列数），位置由勾稽关系确定"))
            for j, v in enumerate(good[0])]


def _infer(placed: dict, cols: list[str], eqs: list[Equation], values: dict) -> None:
    """An unreadable cell that an identity pins to one non-negative integer gets it, marked inferred."""
    for code, cells in placed.items():
        for j, (state, value, tok, note) in enumerate(cells):
            if state != CellState.unreadable:
                continue
            key = (code, cols[j])
            found = {s[1] for e in eqs if key in e.cells for s in [solve(e, values)] if s and s[0] == key}
            if len(found) == 1:
                v = found.pop()
                if v >= 0 and is_integral(v):
                    cells[j] = (CellState.inferred, int(v), tok,
                                f"原文无法识别；由勾稽关系推得 {int(v)}")
                    # inferred values are not fed back: no chain of guesses


# ----------------------------------------------------------------------------- 表二

def _item_index(t: Template) -> list[tuple[str, Block]]:
    out = []
    for b in t.disclosure.blocks:
        for item in b.items:
            for k in item.keys:
                out.append((k, b, item.name))
    out.sort(key=lambda x: -len(x[0]))  # the longest key first: 行政规范性文件 before 规范性文件
    return out


def _is_header(tok: Tok, t: Template) -> bool:
    if "信息内容" in tok.n or "第二十条" in tok.n:
        return True
    return any(k in tok.n for b in t.disclosure.blocks for c in b.columns for k in c.keys)


def read_disclosure(toks: list[Tok], t: Template, end: int, copies: set):
    """-> (cells, missing items [(block label, item)], span). `end`: where 表三 begins."""
    start = next((i for i, tok in enumerate(toks[:end])
                  if tok.label_like() and (_BLOCK.search(tok.n) or tok.n.startswith("信息内容"))), None)
    if start is None:
        return [], [], None
    items = _item_index(t)
    blocks = {b.id: b for b in t.disclosure.blocks}
    # headers: each block's column names in the order its header names them;
    # positions: where (which grid column) a real table's header row puts each of them
    state = {"block": None, "headers": {}, "positions": {}}

    def match(tok: Tok, cur: Optional[RowRead]) -> Optional[RowRead]:
        m = _BLOCK.search(tok.n)
        if m:
            state["block"] = "20." + _CN_NUM.get(m.group(1), m.group(1))
            return None
        if _is_header(tok, t):
            blk = state["block"]
            if blk in blocks:
                hdr = state["headers"].setdefault(blk, [])
                for c in blocks[blk].columns:
                    if any(k in tok.n for k in c.keys) and c.name not in hdr:
                        hdr.append(c.name)
                        if tok.grid and tok.col is not None and (tok.line, tok.col) not in copies:
                            state["positions"].setdefault(blk, {})[c.name] = tok.col
            return None
        for key, b, name in items:
            if tok.n.startswith(key):
                state["block"] = b.id
                if cur is not None and cur.key == name:
                    return None  # the label repeated (OCR): same row
                return RowRead(name, tok, block=b.id)
        if tok.placeholder() or len(tok.n) < 2:
            return None
        # a row label the template does not have (a local extra row): keep it, marked
        return RowRead(tok.text, tok, block=state["block"], extra=True)

    rows: list[RowRead] = []
    max_cols = max(len(b.columns) for b in t.disclosure.blocks)
    _collect(rows, toks, start, end, max_cols, match, copies)
    cells: list[DisclosureCell] = []
    seen: set[str] = set()
    for r in rows:
        b = blocks.get(r.block) if r.block else None
        if b is None or (r.extra and not r.vals) or r.key in seen:
            continue
        seen.add(r.key)
        cols = b.columns
        vals = r.vals
        slots: list[Optional[Tok]]
        by_position = _by_header_positions(r, cols, state["positions"].get(b.id, {}))
        if by_position is not None:
            slots = by_position
            vals = [v for v in slots if v is not None]
        elif len(vals) == len(cols):
            slots = list(vals)
        elif (pieces := split_free(vals, len(cols))) is not None:  # separators lost, one split only
            slots = pieces
            vals = pieces
        else:
            hdr = state["headers"].get(b.id, [])
            if 0 < len(vals) < len(cols) and len(hdr) == len(vals):
                slots = [vals[hdr.index(c.name)] if c.name in hdr else None for c in cols]
            else:
                slots = [None] * len(cols)
        label = r.label.text if not r.extra and r.label.n != norm(r.key) else None
        item_name = r.label.text if r.extra else r.key
        for c, v in zip(cols, slots):
            if v is None:
                note = ("表中缺少此列" if len(vals) < len(cols) and state["headers"].get(b.id)
                        else f"本行有 {len(vals)} 个数字，应为 {len(cols)} 个")
                cell = DisclosureCell(item=item_name, block=b.label, column=c.name, state=CellState.unreadable,
                                      line=r.label.line, note=note, extra=r.extra, label=label)
            else:
                st, value, tok, note = _value_cell(v, c)
                cell = DisclosureCell(item=item_name, block=b.label, column=c.name, state=st, value=value,
                                      line=tok.line, raw=tok.text, note=note, extra=r.extra, label=label)
            cells.append(cell)
    missing = [(b.label, item.name) for b in t.disclosure.blocks for item in b.items if item.name not in seen]
    read = [tok.line for r in rows if r.vals for tok in [r.label, *r.vals]]
    span = TableSpan(table="disclosure", start=toks[start].line, end=max(read, default=toks[start].line))
    return cells, missing, span


def _by_header_positions(r: RowRead, cols: list[Column], positions: dict[str, int]) -> Optional[list[Optional[Tok]]]:
    """A real table row read by its block's own header row: each column's cell is the one under the
    header cell that names it, so a block with fewer value columns than the table (第二十条第（五）项's one
    column in a four-column table, with or without colspan) reads right and an empty cell is blank
    where it stands. None when the header did not place every column, or a value stands elsewhere."""
    if not r.label.grid or not r.after or any(c.name not in positions for c in cols):
        return None
    at = {tok.col: tok for tok in r.after}
    wanted = {positions[c.name] for c in cols}
    if any(tok.is_value for col, tok in at.items() if col not in wanted):
        return None
    slots = [at.get(positions[c.name]) for c in cols]
    if not any(v is not None and v.is_value for v in slots):
        return None
    return slots


def t3_start(toks: list[Tok], t: Template) -> int:
    """Where 表二's region ends: the first sign of 表三 (its note, header or first row)."""
    for i, tok in enumerate(toks):
        if tok.label_like() and any(k in tok.n for k in _T3_END):
            return i
    return len(toks)


# ----------------------------------------------------------------------------- 表四

def t4_start(toks: list[Tok], t: Template, start: int = 0, end: Optional[int] = None) -> Optional[int]:
    """The first cell of 表四 (a label naming one of its groups) in toks[start:end], if any."""
    return next((i for i in range(start, len(toks) if end is None else end)
                 if toks[i].label_like() and len(toks[i].n) <= 30 and not _HEADING.match(toks[i].n)
                 and any(a in toks[i].n for a in t.appeals.anchors)),
                None)


def read_appeals(toks: list[Tok], t: Template, start: int, end: int, copies: set):
    cols = [c.name for c in t.appeals.columns]
    groups = [g.name for g in t.appeals.groups]
    n = len(cols) * len(groups)
    anchor = t4_start(toks, t, start, end)
    if anchor is None:  # no label of its own (OCR's generic headers): its one row under part 四's heading
        anchor = part4_row(toks, start, end, n)
    if anchor is None:
        return [], None
    vals: list[Tok] = []
    i = anchor
    while i < end and len(vals) < n:
        tok = toks[i]
        if tok.is_value:
            if tok.grid:
                line = [x for x in toks[i:end] if x.line == tok.line and (x.line, x.col) not in copies]
                line = [x for x in line if x.is_value or x.kind == "blank" or x.placeholder()]
                vals.extend(line[: n - len(vals)])
                while i + 1 < end and toks[i + 1].line == tok.line:
                    i += 1
            else:
                vals.append(tok)
        elif vals and tok.placeholder():
            vals.append(tok)
        elif vals and tok.label_like() and not tok.grid:
            break
        i += 1
    out: list[AppealCell] = []
    split = appeal_cells(vals, groups, cols) if len(vals) < n else None
    if split is not None:  # separators lost: the group totals admit exactly one split
        return split, TableSpan(table="appeals", start=toks[anchor].line, end=vals[-1].line)
    if len(vals) != n:
        note = why_not(vals, len(groups), len(cols)) or f"表四读到 {len(vals)} 个数字，应为 {n} 个，无法确定对应关系"
        for g in groups:
            for c in cols:
                out.append(AppealCell(group=g, column=c, state=CellState.unreadable, line=toks[anchor].line, note=note))
        return out, TableSpan(table="appeals", start=toks[anchor].line, end=toks[max(i - 1, anchor)].line)
    k = 0
    for g in groups:
        for col in t.appeals.columns:
            st, value, tok, note = _value_cell(vals[k], col)
            out.append(AppealCell(group=g, column=col.name, state=st, value=value, line=tok.line, raw=tok.text,
                                  note=note))
            k += 1
    return out, TableSpan(table="appeals", start=toks[anchor].line, end=vals[-1].line)
