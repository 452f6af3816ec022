"""Rows whose cell separators were lost: "（七）总计14710000148".

A converter or OCR that drops the spaces or tabs between a row's numbers leaves one digit run where
the row has several cells. The run is split into the row's cells only when the identities admit
exactly one split: every cell a whole number written without leading zeros ("0" itself aside), the
row's own identity (总计 = the sum of the applicant columns; a 表四 group's 总计 = the sum of its
results) holding, and — when the row's own identity leaves more than one split — the column
identities with the other rows' values as read. Otherwise the row is unreadable: never a guessed
split, and "20" is never 2 and 0 unless the identities leave nothing else.

`splits()` is the search (pure, bounded); `place_rows()` and `place_group_run()` apply it to 表三
rows and to 表四; `joined()` says whether a row's values look like a lost-separator run.
"""
from __future__ import annotations

from typing import Optional, Sequence

from review.extract.tokens import Tok
from review.identities import Equation, holds, solve
from review.models import AppealCell, CellState
from review.text import Num

MAX_CELL_DIGITS = 9  # a count cell has at most this many digits (up to 999,999,999)
MAX_RUN = 40  # longer runs are not searched: the row is unreadable
_LIMIT = 2  # the search stops at the second split: two are as good as many
MAX_STEPS = 10000  # search steps per row (a few ms); a row that needs more is unreadable


class _TooLong(Exception):
    pass


def _plain_digits(tok: Tok, unit_ok: bool = False) -> Optional[str]:
    """The digits of a bare digit run ("0000000"); with `unit_ok` also of one with a unit after it
    ("00万元": the unit is the last cell's)."""
    if tok.kind != "num" or tok.num is None or (tok.num.unit and not unit_ok):
        return None
    s = tok.text.strip()
    if tok.num.unit and s.endswith(tok.num.unit):
        s = s[: -len(tok.num.unit)].rstrip()
    return s if s.isascii() and s.isdigit() else None


def _runs(vals: Sequence[Tok]) -> list[Optional[str]]:
    return [_plain_digits(v, unit_ok=(k == len(vals) - 1)) for k, v in enumerate(vals)]


def joined(vals: Sequence[Tok], n: int) -> bool:
    """Do a row's values look like digit runs that hold its n cells with separators lost? Only
    when every value is a bare digit run, they are fewer than the columns but have enough digits
    for them, and nothing shows where the cells stand (one run, or runs one per line)."""
    if not 0 < len(vals) < n:
        return False
    digits = _runs(vals)
    if any(d is None for d in digits) or sum(len(d) for d in digits) < n:
        return False
    if sum(len(d) for d in digits) > MAX_RUN:
        return False
    return len(vals) == 1 or all(v.col is None for v in vals)


def splits(runs: Sequence[str], sizes: Sequence[int], totals: bool,
           pins: Optional[dict[int, int]] = None, limit: int = _LIMIT) -> list[list[int]]:
    """Every way (up to `limit`) to cut the digit runs, in order, into sum(sizes) cells: each cell
    within one run, no leading zeros, cells grouped by `sizes`; with `totals`, the last cell of each
    group equals the sum of the group's other cells; `pins` {cell index: value} fix cells."""
    s = "".join(runs)
    n = sum(sizes)
    pins = pins or {}
    if len(s) < n or len(s) > MAX_RUN or len(s) > n * MAX_CELL_DIGITS:
        return []
    run_of: list[int] = []
    for k, r in enumerate(runs):
        run_of.extend([k] * len(r))
    group_of, first_of = [], []
    acc = 0
    for g, size in enumerate(sizes):
        group_of.extend([g] * size)
        first_of.extend([acc] * size)
        acc += size
    last_total = n - 1 if totals else None
    out: list[list[int]] = []
    cells: list[int] = []

    def cell_ok(pos: int, length: int) -> bool:
        end = pos + length
        return end <= len(s) and run_of[pos] == run_of[end - 1] and (length == 1 or s[pos] != "0")

    def pin_ok(j: int, value: int) -> bool:
        return j not in pins or pins[j] == value

    budget = [MAX_STEPS]

    def dfs(pos: int, j: int, cap: Optional[int], stop: int) -> None:
        """Cells j.. from s[pos:]; the last group's parts end at `stop` and sum to at most `cap`."""
        if len(out) >= limit:
            return
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooLong
        if j == n:
            if pos == len(s):
                out.append(list(cells))
            return
        if j == last_total:  # chosen up front: it must be what the parts add up to
            if pos == stop and sum(cells[first_of[j]:j]) == cap:
                cells.append(cap)
                dfs(len(s), j + 1, None, len(s))
                cells.pop()
            return
        left = (stop if cap is not None else len(s)) - pos
        need = (last_total if cap is not None else n) - j
        # every part of the last group is at most what is left of its total: so are their lengths
        widest = len(str(cap - sum(cells[first_of[j]:j]))) if cap is not None else MAX_CELL_DIGITS
        if left < need or left > need * widest:
            return
        g = group_of[j]
        if totals and g == len(sizes) - 1 and cap is None and j == first_of[j]:
            # the last group's total is the end of the text: try each length, then its parts
            for length in range(1, min(MAX_CELL_DIGITS, len(s) - pos - (n - 1 - j)) + 1):
                tpos = len(s) - length
                if cell_ok(tpos, length) and pin_ok(n - 1, int(s[tpos:])):
                    dfs(pos, j, int(s[tpos:]), tpos)
            return
        if totals and j == first_of[j] + sizes[g] - 1:  # a group's total, written as the sum
            total = sum(cells[first_of[j]:j])
            text = str(total)
            if s.startswith(text, pos) and cell_ok(pos, len(text)) and pin_ok(j, total):
                cells.append(total)
                dfs(pos + len(text), j + 1, None, len(s))
                cells.pop()
            return
        running = sum(cells[first_of[j]:j]) if cap is not None else 0
        if cap is not None and j == last_total - 1:  # the last part is what is left of the total
            value = cap - running
            if str(value) == s[pos:stop] and cell_ok(pos, stop - pos) and pin_ok(j, value):
                cells.append(value)
                dfs(stop, j + 1, cap, stop)
                cells.pop()
            return
        for length in range(1, min(MAX_CELL_DIGITS, widest) + 1):
            if not cell_ok(pos, length):
                if pos + length > len(s) or (length > 1 and s[pos] == "0") or run_of[pos] != run_of[pos + length - 1]:
                    break
                continue
            value = int(s[pos:pos + length])
            if cap is not None and running + value > cap:
                break
            if not pin_ok(j, value):
                continue
            cells.append(value)
            dfs(pos + length, j + 1, cap, stop)
            cells.pop()

    try:
        dfs(0, 0, None, len(s))
    except _TooLong:
        return [[], []][:limit]  # too many ways to try: as good as several
    return out


def _digit_tok(piece: str, src: Tok, last: bool = False) -> Tok:
    """A cell cut from a run; the run's unit, if any, is its last cell's."""
    unit = src.num.unit if last and src.num is not None else None
    text = piece + (unit or "")
    return Tok(text, text, src.line, None, False, Num(int(piece), unit, text), "num")


def _note(run: str, k: int) -> str:
    return f"原文数字连写为“{run}”，按勾稽关系只有一种拆分，本格为其中第 {k} 个数"


def place_rows(rows, cols: list[str], eqs: list[Equation], values: dict) -> dict[str, list]:
    """表三 rows read as lost-separator digit runs -> {row code: cells as (state, value, tok, note)}.
    A row split uniquely gets its numbers (and `values` learns them, so the next row can use the
    column identities); a row with several splits, or none, is unreadable with the reason. Rows
    whose values are not such runs are left out (the caller places them as before)."""
    n = len(cols)
    todo = {r.key: r for r in rows if joined(r.vals, n)}
    out: dict[str, list] = {}
    reasons: dict[str, str] = {}
    progress = True
    use_columns = False
    while todo and progress:
        progress = False
        for code, r in list(todo.items()):
            runs = _runs(r.vals)
            row_eqs = [e for e in eqs if e.along == code and all(k[0] == code for k in e.cells)]
            sizes, totals = _row_shape(row_eqs, cols)
            pins = _column_pins(code, cols, eqs, values) if use_columns else {}
            found = splits(runs, sizes, totals, pins)
            found = [c for c in found if all(holds(e, _trial(values, code, cols, c)) is not False for e in row_eqs)]
            if not found and len(r.vals) > 1:
                del todo[code]  # no split fits: perhaps cells lost rather than separators (the caller's case)
                continue
            if len(r.vals) == n - 1 and found and _gap_fits(r, code, cols, eqs, values):
                reasons[code] = "本行数字少于列数，既可能缺一格也可能是数字连写，无法确定"
                del todo[code]
                continue
            if len(found) == 1:
                run = "".join(runs)
                pieces = [str(v) for v in found[0]]
                src = r.vals[0]
                cells, pos = [], 0
                for j, piece in enumerate(pieces):
                    # the run the piece came from, for its line
                    acc = 0
                    for v, d in zip(r.vals, runs):
                        acc += len(d)
                        if pos < acc:
                            src = v
                            break
                    pos += len(piece)
                    cells.append((CellState.number, int(piece), _digit_tok(piece, src, last=j == len(pieces) - 1), _note(run, j + 1)))
                out[code] = cells
                for j, v in enumerate(found[0]):
                    values[(code, cols[j])] = v
                del todo[code]
                progress = True
            elif not found and not use_columns:
                reasons[code] = f"原文数字连写为“{''.join(runs)}”，没有一种拆分满足本行的勾稽关系，无法确定各格数字"
                del todo[code]
            else:
                reasons.setdefault(code, f"原文数字连写为“{''.join(runs)}”，按勾稽关系有不止一种拆分，无法确定各格数字")
        if not progress and not use_columns:
            use_columns, progress = True, True
    for code in list(todo) + [c for c in reasons if c not in out]:
        if code in out:
            continue
        note = reasons.get(code) or "本行数字连写，无法确定各格数字"
        out[code] = [(CellState.unreadable, None, None, note)] * n
    return out


def _row_shape(row_eqs: list[Equation], cols: list[str]) -> tuple[list[int], bool]:
    """One group of all columns; with a total when the row's identity makes the last column the sum
    of all the others."""
    n = len(cols)
    for e in row_eqs:
        if len(e.lhs) == 1 and e.lhs[0][1] == cols[-1] and sorted(k[1] for k in e.rhs) == sorted(cols[:-1]):
            return [n], True
    return [n], False


def _trial(values: dict, code: str, cols: list[str], cells: list[int]) -> dict:
    trial = dict(values)
    for j, v in enumerate(cells):
        trial[(code, cols[j])] = v
    return trial


def _column_pins(code: str, cols: list[str], eqs: list[Equation], values: dict) -> dict[int, int]:
    """{column index: value} for the cells of this row that a column identity pins down, the other
    rows' cells being known."""
    pins: dict[int, int] = {}
    for j, c in enumerate(cols):
        key = (code, c)
        trial = dict(values)
        trial[key] = None
        for e in eqs:
            if key not in e.cells or all(k[0] == code for k in e.cells):
                continue
            s = solve(e, trial)
            if s and s[0] == key and s[1] >= 0 and float(s[1]).is_integer():
                if j in pins and pins[j] != int(s[1]):
                    return {j: -1}  # the identities disagree: nothing fits
                pins[j] = int(s[1])
    return pins


def _gap_fits(r, code: str, cols: list[str], eqs: list[Equation], values: dict) -> bool:
    """Could the row instead be its n-1 numbers with one cell lost (the reading the caller tries
    otherwise)? True when some gap placement satisfies every identity it touches."""
    mine = [e for e in eqs if any(k[0] == code for k in e.cells)]
    for gap in range(len(cols)):
        slots = r.vals[:gap] + [None] + r.vals[gap:]
        trial = dict(values)
        for j, v in enumerate(slots):
            trial[(code, cols[j])] = v.num.value if v is not None else None
        for e in mine:
            s = solve(e, trial)
            if s and s[0] == (code, cols[gap]):
                trial[s[0]] = s[1]
                break
        if trial.get((code, cols[gap])) is not None and all(holds(e, trial) is not False for e in mine):
            return True
    return False


def why_not(vals: Sequence[Tok], n_groups: int, per_group: int) -> Optional[str]:
    """Why a lost-separator 表四 run was not split (None when the values are no such run)."""
    n = n_groups * per_group
    if not joined(vals, n):
        return None
    runs = _runs(vals)
    found = splits(runs, [per_group] * n_groups, True)
    run = "".join(runs)
    if not found:
        return f"原文数字连写为“{run}”，没有一种拆分满足各组总计等于各项之和，无法确定各格数字"
    return f"原文数字连写为“{run}”，按勾稽关系有不止一种拆分，无法确定各格数字"


def place_group_run(vals: Sequence[Tok], n_groups: int, per_group: int) -> Optional[tuple[list[int], list[Tok]]]:
    """表四 with separators lost: the runs split into n_groups groups of per_group cells, each group's
    last cell (总计) the sum of the others. -> (values, source token of each) when exactly one split
    fits, None otherwise (not such runs, or no split or several)."""
    n = n_groups * per_group
    if not joined(vals, n):
        return None
    runs = _runs(vals)
    found = splits(runs, [per_group] * n_groups, True)
    if len(found) != 1:
        return None
    return found[0], _sources(vals, runs, found[0])


def _sources(vals: Sequence[Tok], runs: list[str], split: Sequence[int]) -> list[Tok]:
    """The token each value of a split was cut from (the runs are the tokens' digits, in order)."""
    srcs, pos = [], 0
    for v in split:
        acc = 0
        for tok, d in zip(vals, runs):
            acc += len(d)
            if pos < acc:
                srcs.append(tok)
                break
        pos += len(str(v))
    return srcs


def split_free(vals: Sequence[Tok], n: int) -> Optional[list[Tok]]:
    """A row with no identity of its own (表二) whose separators were lost: its cells when the runs
    admit exactly one split into n cells (each cell one digit, in practice), else None."""
    if not joined(vals, n):
        return None
    runs = _runs(vals)
    found = splits(runs, [n], False)
    if len(found) != 1:
        return None
    return [_digit_tok(str(v), tok, last=i == n - 1)
            for i, (v, tok) in enumerate(zip(found[0], _sources(vals, runs, found[0])))]


def appeal_cells(vals: Sequence[Tok], groups: list[str], cols: list[str]) -> Optional[list[AppealCell]]:
    """表四 read from a lost-separator run: its 15 cells when exactly one split fits, else None."""
    split = place_group_run(vals, len(groups), len(cols))
    if split is None:
        return None
    run = "".join(_runs(vals))
    values, srcs = split
    out, k = [], 0
    for g in groups:
        for col in cols:
            out.append(AppealCell(group=g, column=col, state=CellState.number, value=values[k], line=srcs[k].line,
                                  raw=str(values[k]), note=f"原文数字连写为“{run}”，按勾稽关系只有一种拆分"))
            k += 1
    return out
