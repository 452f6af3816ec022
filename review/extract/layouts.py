"""Text layouts that converters and OCR produce, normalised before tokenization.

`view(doc)` yields (line number, text) pairs that the tokenizer reads in place of the document's
lines. The line number is always the ORIGINAL line's, so every cell still points at the line the
reviewer sees in the file; one original line may yield several pairs (one per cell) and a label
wrapped over several lines is yielded once, joined, at the line where it starts.

What is normalised (everything else passes through unchanged, so tab, pipe and one-cell-per-line
texts read exactly as before):

- page-number lines ("-4-", "— 4 —", "第 4 页") are dropped: inside a table they would otherwise
  land between a row's values;
- space-aligned rows (`pdftotext -layout`, OCR with aligned columns): a line whose cells are
  separated by runs of two or more spaces and that holds a number is split into one pair per cell.
  Cells are never placed by their character column (converters shift columns with the width of
  the CJK text before them): a row with fewer numbers than columns stays short and the table
  reader places it by the identities or calls it unreadable;
- wrapped row labels of such tables: a label cut over several lines (its first line above the
  numbers, the rest on the numbers' line or below) is joined back into one label;
- a label with its numbers written straight after it ("（七）总计14710000148"): the digit run is
  split off as a cell of its own (review/extract/digitsplit.py decides whether and how it splits
  into the row's cells);
- tab and pipe rows (PDF→Markdown, OCR Markdown): a header row of 表三's column names repeated inside
  the table is dropped, and a label cut in two around its numbers' row is joined back;
- a table written column by column (all row labels, then each column's cells) is put back row by
  row when the counts make it certain, else its cells are dropped (the rows read as unreadable).

`needs_layout` is the shape test that keeps all of this off texts that need none of it (about
0.1-0.2 ms a report). `next_part` and `part4_row` help the table reader find a table's region in
such texts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Optional

from review.models import Document
from review.text import is_na, norm, parse_number

_PAGE_NO = re.compile(
    r"^[\s\f]*(?:[-—–－－_]+\s*\d{1,4}\s*[-—–－－_]+|第\s*\d{1,4}\s*页(?:\s*[,，/、]?\s*共\s*\d{1,4}\s*页)?"
    r"|\d{1,4}\s*/\s*\d{1,4})[\s\f]*$")
# A run of two or more spaces (ASCII, ideographic, no-break) separates aligned cells.
_RUN = re.compile(r"[ \u3000\xa0]{2,}")
# Enumerators that start a row label: 一、 （一） (一) 1. 1、 1．
_ENUM = re.compile(r"^(?:[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[）)]|\d{1,2}\s*[、.．,，](?!\d))")
# Words that open something else than a label's continuation.
_NOT_CONTINUATION = ("第二十条", "信息内容", "申请人情况", "勾稽关系", "法人或其他组织")
# A label with a digit run written straight after it, no separator: "（七）总计14710000148".
_LABEL_DIGITS = re.compile(r"^(?P<label>[^\t|]{1,40}?[\u4e00-\u9fff）)”」】])(?P<digits>\d+(?:\.\d+)?(?:万元|元|件)?)$")
_PLACEHOLDER = set("■□�?？*＊●○#")
_X_TOLERANCE = 3  # characters: a continuation starts within this of the label it continues
_CONTINUATION_GAP = 2  # lines: how far below its numbers a label's last piece may stand
_PIECE = 20  # characters: a longer line is prose, never a piece of a wrapped cell label
_ZONE = 4  # lines: how far from a space-aligned row a line may be to be read as part of its table


def _value_like(cell: str) -> bool:
    """A number, a not-applicable mark or a short garbled glyph where a number should be."""
    if parse_number(cell) is not None or is_na(cell):
        return True
    s = cell.replace(" ", "")
    if parse_number(s) is not None:
        return True
    return len(s) <= 3 and (any(c in _PLACEHOLDER for c in s) or not any("\u4e00" <= c <= "\u9fff" for c in s)) \
        and not _ENUM.match(s) and not _PAGE_NO.match(s)


def _glue(a: str, b: str) -> str:
    if not a:
        return b
    if not b:
        return a
    ascii_edge = a[-1].isascii() and a[-1].isalnum() and b[0].isascii() and b[0].isalnum()
    return a + (" " if ascii_edge else "") + b


@dataclass
class _Out:
    line: int
    text: str


@dataclass
class _Cell:
    x: int
    text: str


@dataclass
class _Line:
    no: int
    cells: list[_Cell]
    first_value: Optional[int]  # index of the first value-like cell, None for a text line


def _aligned(raw: str, need_value: bool = True) -> Optional[list[_Cell]]:
    """The cells of a space-aligned row, or None when the line is not one (no run of spaces between
    two cells, or, with `need_value`, no number among them)."""
    body = raw.rstrip()
    if not _RUN.search(body.lstrip()):
        return None
    cells = []
    start = 0
    for piece in _RUN.split(body):
        idx = body.find(piece, start) if piece else start
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            cells.extend(_peel(_Cell(idx + lead, piece.strip())))
        start = idx + len(piece)
    if len(cells) < 2 or (need_value and not any(_value_like(c.text) for c in cells)):
        return None
    return cells


def _peel(cell: _Cell, short: bool = False) -> list[_Cell]:
    """Numbers a single space away from the cell's text are cells of their own: converters keep one
    space where a long label comes close to the first number ("…信息公开 1"). With `short` (a line
    that is one cell), only when the text before the numbers is label-sized."""
    pair = _split_label_digits(cell.text)
    if pair:  # a label with its numbers' digits written straight after it
        return [_Cell(cell.x, pair[0]), _Cell(cell.x + len(pair[0]), pair[1])]
    if " " not in cell.text:
        return [cell]
    parts = cell.text.split(" ")
    tail: list[_Cell] = []
    end = len(cell.text)
    while len(parts) > 1 and parts[-1] and parse_number(parts[-1]) is not None:
        p = parts.pop()
        end -= len(p)
        tail.insert(0, _Cell(cell.x + end, p))
        end -= 1
    if not tail:
        return [cell]
    head = " ".join(parts)
    if short and len(head) > 40:
        return [cell]
    if parse_number(head) is not None:
        return [_Cell(cell.x, head), *tail]
    if not ("\u4e00" <= head[-1] <= "\u9fff" or head[-1] in "）)”」】"):
        return [cell]  # "2024 年 3" and the like: not a label beside its numbers
    return [_Cell(cell.x, head), *tail]


def _split_label_digits(text: str) -> Optional[tuple[str, str]]:
    if not text or not (text[-1].isdigit() or text[-1] in "元件"):
        return None
    m = _LABEL_DIGITS.match(text)
    if not m:
        return None
    return m.group("label"), m.group("digits")


# ----------------------------------------------------------------------------- tab and pipe rows

_LABEL_ONLY = re.compile(r"^\s*\|?\s*[^|\t\s][^|\t]*?(?:\s*[|\t]\s*)+$")  # "| label | | |", "label\t\t"
_GENERIC = re.compile(r"^(?:项目|数据\d{1,2}|列\d{1,2}|栏目\d{0,2}|column\d{1,2})$", re.I)


@lru_cache(maxsize=1)
def _column_words() -> frozenset[str]:
    from review.templates import templates
    words = {"申请人情况", "法人或其他组织"}
    for t in templates():
        words.update(norm(c.name) for c in t.applications.columns)
    return frozenset(words)


def _split_row(raw: str) -> list[str]:
    if "\t" in raw:
        return [c.strip() for c in raw.split("\t")]
    s = raw.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|"):
        s = s[:-1]
    return [c.strip() for c in s.split("|")]


def _header_row(cells: list[str]) -> bool:
    """A row of 表三's column names (or OCR's generic 数据1 …) and nothing else."""
    full = [norm(c) for c in cells if c]
    words = _column_words()
    return len(full) >= 3 and all(c in words or _GENERIC.match(c) for c in full) and any(c in words for c in full)


def _numbers_row(cells: list[str]) -> bool:
    """A row whose label cell is empty and that holds numbers."""
    return len(cells) > 1 and not cells[0] and any(_value_like(c) for c in cells[1:] if c)


def _delimited(lines: list[str]) -> dict[int, Optional[str]]:
    """Tab and pipe rows to rewrite: {line index: new text, or None to drop the line}.
    - a spurious header row inside 表三 (OCR repeats the column names at a page break, sometimes in the
      wrong cells: “总计” where “其他” stands) is dropped: its words would name rows;
    - a row label cut in two by a converter, its numbers on a row of their own between the pieces
      (“| 其他对外管 | | |” / “| | 42 | -6 | 3440 |” / “| 理服务事项 | | |”), is joined back into the first
      piece's row."""
    out: dict[int, Optional[str]] = {}
    started = False  # past 表三's first row: header rows from here on are repeats
    rows: list[Optional[list[str]]] = []
    for raw in lines:
        if ("|" in raw or "\t" in raw) and not _PIPE_RULE.match(raw):
            rows.append(_split_row(raw))
        else:
            rows.append(None if raw.strip() else [])
    for k, cells in enumerate(rows):
        if cells is None or not cells:
            if cells is None and "本年新收" in lines[k]:
                started = True
            continue
        if "本年新收" in lines[k]:
            started = True
        if started and _header_row(cells):
            out[k] = None
            continue
        # the second piece of a wrapped label: label-only row, right after an empty-label numbers row
        # that follows a label-only row, and not itself followed by a numbers row of its own
        if not _LABEL_ONLY.match(lines[k]) or _ENUM.match(cells[0]) or any(w in cells[0] for w in _NOT_CONTINUATION):
            continue
        prev = _prev_row(rows, k)
        head = _prev_row(rows, prev) if prev is not None else None
        if prev is None or head is None or not _numbers_row(rows[prev]) or not _LABEL_ONLY.match(lines[head]):
            continue
        nxt = _next_row(rows, k)
        if nxt is not None and _numbers_row(rows[nxt]):
            continue  # the next row's label, its numbers below it
        text = out.get(head) or lines[head]
        first = rows[head][0]
        out[head] = text.replace(first, _glue(first, cells[0]), 1)
        out[k] = None
    return out


_PIPE_RULE = re.compile(r"^[\s|:\-]*$")
_EMPTY_FIRST = re.compile(r"^(?:\t|\s*\|\s*\|)")  # "\t1\t2", "| | 1 | 2 |"
_HEADER_HINTS = re.compile("总计|自然人|数据|商业企业")


def _prev_row(rows, k: int) -> Optional[int]:
    for j in range(k - 1, -1, -1):
        if rows[j] is None:
            return None
        if rows[j]:
            return j
    return None


def _next_row(rows, k: int) -> Optional[int]:
    for j in range(k + 1, len(rows)):
        if rows[j] is None:
            return None
        if rows[j]:
            return j
    return None


# ----------------------------------------------------------------------------- column-by-column dumps

_LEVELS = (re.compile(r"^[一二三四五六七八九十]+[、.．]"), re.compile(r"^[（(][一二三四五六七八九十]+[）)]"),
           re.compile(r"^\d{1,2}\s*[、.．](?!\d)"))
_ANY_LEVEL = re.compile("|".join(rx.pattern for rx in _LEVELS))
_MIN_LABELS = 8  # a run of this many row labels with no value between them opens a column dump


def _level(text: str) -> Optional[int]:
    return next((k for k, rx in enumerate(_LEVELS) if rx.match(text)), None)


def _column_dumps(lines: list[str]) -> list[tuple[int, int, list[_Out]]]:
    """Tables a converter wrote column by column (plain pdftotext of some PDFs): every row label first,
    then each column under its header word, its cells top to bottom. -> [(first line index, index after
    the dump, the rows as label-then-values)]. Read back only when it is certain: every column has a
    header word and the same number of cells, and that number is the number of leaf labels (a label
    followed by a deeper-numbered one — “（三）不予公开” before “1.属于国家秘密” — is a group and has no
    cells). Otherwise the labels are kept and the cells dropped: the rows read as unreadable, where left
    as they are the last label would take the first column's cells."""
    words = _column_words()
    found = []
    k, n = 0, len(lines)
    while k < n:
        s = lines[k].strip()
        if not s or "\t" in s or "|" in s or _level(s) is None:
            k += 1
            continue
        labels, j = [], k
        while j < n:
            t = lines[j].strip()
            if t and ("\t" in t or "|" in t or _value_like(t)):
                break
            if t:
                if norm(t) in words:
                    break
                labels.append((j, t))
            j += 1
        if len(labels) < _MIN_LABELS or sum(_level(t) is not None for _, t in labels) < len(labels) * 0.8:
            k = j if j > k else k + 1
            continue
        columns: list[list[tuple[int, str]]] = []
        while j < n:
            t = lines[j].strip()
            if not t or _PAGE_NO.match(t):
                j += 1
                continue
            if norm(t) in words and not _value_like(t):
                columns.append([])
                j += 1
                continue
            if columns and _value_like(t) and "\t" not in t and "|" not in t:
                columns[-1].append((j, t))
                j += 1
                continue
            break
        if len(columns) < 2:
            k = j if j > k else k + 1
            continue
        leaves = [i for i, (_, t) in enumerate(labels)
                  if not (i + 1 < len(labels) and _level(t) is not None and _level(labels[i + 1][1]) is not None
                          and _level(labels[i + 1][1]) > _level(t))]
        m = len(columns[0])
        # the table's labels start where exactly m leaves remain (a heading or a note may stand before them)
        first = max((a for a in range(len(labels)) if sum(1 for i in leaves if i >= a) == m), default=None)
        rows: list[_Out] = []
        if first is not None and m and all(len(c) == m for c in columns):
            for i, (j0, t) in enumerate(labels):
                rows.append(_Out(j0 + 1, t))
                if i >= first and i in leaves:
                    r = sum(1 for x in leaves if first <= x < i)
                    rows.extend(_Out(c[r][0] + 1, c[r][1]) for c in columns)
        else:
            # columns of different lengths, or not as many cells as rows: which cell is whose cannot be
            # known. The labels stay, the cells go: the rows are unreadable, never given another row's numbers
            rows = [_Out(j0 + 1, t) for j0, t in labels]
        found.append((k, j, rows))
        k = j
    return found


def needs_layout(lines: list[str]) -> bool:
    """The fast shape test: does any line need more than passing through? Whole-text substring tests
    (C speed) decide which of the per-line tests can apply at all."""
    text = "\n".join(lines)
    # tab or pipe rows: a repeated 表三 header, generic OCR headers, a label's piece under its numbers
    delimited = ("\t" in text or "|" in text) and (
        text.count("自然人") > 1 or "数据1" in text or "\n\t" in text or "| |" in text or "|  |" in text)
    # a column-by-column dump puts a column's header word on a line of its own
    dump = "\n自然人\n" in text or "\n自然人 \n" in text
    aligned = "  " in text or "\u3000" in text
    started = False
    candidate = False  # a tab or pipe row that may be a repeated header or a label's second piece
    prev: list[str] = []  # the tab or pipe rows just before this one, nearest last
    run = 0  # enumerated labels in a row, no value between them: a column-by-column dump may follow
    for raw in lines:
        if "\t" in raw or "|" in raw:
            if not delimited:
                continue
            if not started:
                started = "本年新收" in raw
            elif not candidate:
                if (len(prev) == 2 and _EMPTY_FIRST.match(prev[1]) and _LABEL_ONLY.match(raw)
                        and _LABEL_ONLY.match(prev[0]) and _numbers_row(_split_row(prev[1]))):
                    candidate = True
                elif _HEADER_HINTS.search(raw) and _header_row(_split_row(raw)):
                    candidate = True
            prev = [prev[-1], raw] if prev else [raw]
            continue
        s = raw.strip()
        if not s:
            continue
        prev = []
        if dump:
            if s[0] in "一二三四五六七八九十（(0123456789-":
                run = run + 1 if _ANY_LEVEL.match(s) else (0 if s[0].isdigit() or s[0] == "-" else run)
            elif run >= _MIN_LABELS and len(s) <= 8 and norm(s) in _column_words():
                if _column_dumps(lines):
                    return True
                run = 0
        last = s[-1]
        if (last.isdigit() or last in "-—–－_页元件") and not s.isdigit():
            if _PAGE_NO.match(s) or _split_label_digits(s):
                return True
            # a label and its numbers one space apart (OCR): "（一）予以公开 90 0 0 0 0 0 90"
            if " " in s and len(s) <= 100 and len(_peel(_Cell(0, s), short=True)) > 2:
                return True
        if aligned and ("  " in s or "\u3000" in s) and _aligned(raw) is not None:
            return True
    return candidate and bool(_delimited(lines))


def view(doc: Document) -> Iterator[tuple[int, str]]:
    """(original line number, text) pairs for the tokenizer: see the module's docstring."""
    lines = doc.lines
    if doc.kind not in ("txt", "md") or not needs_layout(lines):
        yield from enumerate(lines, 1)
        return
    for out in _normalise(lines):
        yield out.line, out.text


def _parse(lines: list[str]) -> list[Optional[_Line]]:
    """Each line as cells, None for a line that passes through (tabs, pipes, blank)."""
    parsed: list[Optional[_Line]] = []
    for no, raw in enumerate(lines, 1):
        if "\t" in raw or "|" in raw or not raw.strip():
            parsed.append(None)
            continue
        cells = _aligned(raw)
        if cells is None and _RUN.search(raw.strip()):
            cells = _aligned(raw, need_value=False)  # a header row of an aligned table
        if cells is None:
            s = raw.strip()
            cells = [_Cell(len(raw) - len(raw.lstrip()), s)]
            if not _PAGE_NO.match(s) and len(s) <= 60:
                # a label with its digits after it, or one space before its number ("…信息公开 1000001")
                cells = _peel(cells[0], short=True)
        first = next((i for i, c in enumerate(cells) if _value_like(c.text)), None)
        parsed.append(_Line(no, cells, first))
    return parsed


def _normalise(lines: list[str]) -> list[_Out]:
    parsed = _parse(lines)
    out: list[_Out] = []
    open_at: dict[int, tuple[_Out, int]] = {}  # x -> (label waiting for its numbers, line it was last extended)
    last_row: Optional[tuple[_Out, int, int]] = None  # (label, x, line of its numbers)

    def find_open(x: int, no: int) -> Optional[int]:
        for ox, (_, seen) in open_at.items():
            if abs(ox - x) <= _X_TOLERANCE and no - seen <= 4:
                return ox
        return None

    def next_row_continues(k: int, x: int) -> bool:
        """Is the next non-blank line the numbers of a label starting at x (numbers alone, or
        numbers beside a piece of label that is no new label)?"""
        for nxt in parsed[k + 1:]:
            if nxt is None:
                continue
            if nxt.first_value is None and len(nxt.cells) == 1 and _PAGE_NO.match(nxt.cells[0].text):
                continue
            if nxt.first_value is None:
                return False
            if nxt.first_value == 0:
                return True
            lab = nxt.cells[nxt.first_value - 1]
            return abs(lab.x - x) <= _X_TOLERANCE and not _ENUM.match(lab.text)
        return False

    # labels are joined only near table rows (space-aligned, or a label with its digits written after it):
    # elsewhere a line is one cell as written
    aligned = [k for k, ln in enumerate(parsed) if ln is not None and ln.first_value is not None and len(ln.cells) > 1]
    near = [False] * len(parsed)
    for k in aligned:
        for j in range(max(0, k - _ZONE), min(len(parsed), k + _ZONE + 1)):
            near[j] = True

    rewrite = _delimited(lines)
    dumps = {b[0]: b for b in _column_dumps(lines)}
    skip_to = -1
    for k, ln in enumerate(parsed):
        if k < skip_to:
            continue
        if k in dumps:  # a table written column by column: back to one row after another
            _, skip_to, rows = dumps[k]
            out.extend(rows)
            continue
        if ln is None:
            text = rewrite.get(k, lines[k])
            if text is not None and text.strip():
                out.append(_Out(k + 1, text))
            continue
        no = ln.no
        if ln.first_value is None and len(ln.cells) == 1 and _PAGE_NO.match(ln.cells[0].text):
            continue  # a page number, inside a table or not
        if not near[k]:
            if len(ln.cells) == 1:
                out.append(_Out(no, lines[k]))
            else:  # a label and the digit run written after it
                out.extend(_Out(no, c.text) for c in ln.cells)
            continue
        if ln.first_value is None:
            if len(ln.cells) > 1:  # a header row: its cells are no labels waiting for numbers
                for c in ln.cells:
                    out.append(_Out(no, c.text))
                    open_at = {x: v for x, v in open_at.items() if abs(x - c.x) > _X_TOLERANCE}
                continue
            c = ln.cells[0]
            continuation = not _ENUM.match(c.text) and not any(w in c.text for w in _NOT_CONTINUATION) \
                and len(c.text) <= _PIECE
            if continuation and last_row is not None and abs(last_row[1] - c.x) <= _X_TOLERANCE \
                    and no - last_row[2] <= _CONTINUATION_GAP and not next_row_continues(k, c.x):
                last_row[0].text = _glue(last_row[0].text, c.text)  # the last piece of a wrapped label
                continue
            ox = find_open(c.x, no) if continuation else None
            if ox is not None:
                o, _ = open_at.pop(ox)
                o.text = _glue(o.text, c.text)
                open_at[c.x] = (o, no)
                continue
            o = _Out(no, c.text)
            out.append(o)
            open_at = {x: v for x, v in open_at.items() if abs(x - c.x) > _X_TOLERANCE}
            if not any(w in c.text for w in _NOT_CONTINUATION):
                open_at[c.x] = (o, no)
            continue
        # a row with numbers: pieces of labels, then its values
        labels = ln.cells[: ln.first_value]
        label: Optional[_Out] = None
        x = labels[-1].x if labels else None
        for j, c in enumerate(labels):
            ox = find_open(c.x, no) if not _ENUM.match(c.text) else None
            if ox is not None:
                o, _ = open_at.pop(ox)
                o.text = _glue(o.text, c.text)
            else:
                o = _Out(no, c.text)
                out.append(o)
            if j == len(labels) - 1:
                label = o
            else:
                open_at[c.x] = (o, no)
        if label is None and open_at:
            # numbers alone on their line: they belong to the label waiting just above
            ox, (label, _) = max(open_at.items(), key=lambda kv: (kv[1][1], kv[0]))
            del open_at[ox]
            x = ox
        if x is not None:
            open_at = {ox: v for ox, v in open_at.items() if abs(ox - x) > _X_TOLERANCE}
        for c in ln.cells[ln.first_value:]:
            out.append(_Out(no, c.text))
        last_row = (label, x, no) if label is not None else None
    return out


# ----------------------------------------------------------------------------- table regions

_PART_HEADING = re.compile(r"^[四五六][、.．]")


def next_part(toks, start: int) -> int:
    """The index of the first token after `start` that is the numbered heading of part 四, 五 or 六:
    a table's values never lie beyond it. Converters that read a table out of order (plain
    `pdftotext` puts a merged label cell after the rows it spans) leave a row label with no values
    of its own before the next part; its values must not be taken from the next part's table."""
    from review.templates import parts

    keys = [k for p in parts() if p.number >= 4 for k in p.keys]
    for i in range(start + 1, len(toks)):
        tok = toks[i]
        if tok.kind == "text" and not tok.grid and _PART_HEADING.match(tok.n) and len(tok.n) <= 45 \
                and any(k in tok.n for k in keys):
            return i
    return len(toks)


def part4_row(toks, start: int, end: int, n: int) -> Optional[int]:
    """表四 whose header cells say nothing (OCR's generic 数据1 … 数据15): the index of the first value of
    the one row of exactly n numbers that follows part 四's heading before any other text cell, if
    there is one. A row of that many numbers on one line under that heading is the table."""
    from review.templates import parts

    keys = [k for p in parts() if p.number == 4 for k in p.keys]
    h = next((i for i in range(start, end) if toks[i].kind == "text" and not toks[i].grid
              and _PART_HEADING.match(toks[i].n) and len(toks[i].n) <= 45 and any(k in toks[i].n for k in keys)),
             None)
    if h is None:
        return None
    first = next((i for i in range(h + 1, end) if toks[i].is_value), None)
    if first is None:
        return None
    line = toks[first].line
    row = [t for t in toks[first:end] if t.line == line]
    if len(row) != n or not all(t.is_value for t in row):
        return None
    between = [t for t in toks[h + 1:first] if t.kind == "text" and t.label_like()]
    if any(_PART_HEADING.match(t.n) or t.n.startswith(("五、", "六、")) for t in between):
        return None
    return first
