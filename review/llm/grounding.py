"""The grounding guard: every number a model states is checked against what THAT call was given — the
cells, the excerpt lines, the finding, the retrieved passages — never against the whole report.

A number in an answer is
  - copied: it is one of the given numbers (amounts may be converted exactly between 元, 万元 and 亿元);
  - derived: it follows from two given quantities by +, −, ×, ÷, or is a percentage of them, rounded as written
    (29−23=6, 23÷29=79.3%); it is accepted and labelled with how it was derived;
  - misattributed: the words right before it name a table cell ("自然人本年新收30件") whose value is another
    number — even if the number itself appears somewhere in the material;
  - invented: none of the above.
Misattributed and invented numbers are "unsupported": listed with their sentence and marked 【未核实】 in the text.
Years, dates, line numbers, article and document numbers are references, not evidence: a year in the material
never supports a quantity, and a line number never does.

Citations (〔第N行〕, 〔来源K〕) to lines or sources the model was not given are removed (as paper-qa strips
citations the model did not ground); a kept one can be expanded with the cited line's text.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Iterable, Optional

from pydantic import BaseModel, Field

MARK = "【未核实】"
# A number as written in Chinese prose: 29, 1,234, 326.780865, 3.5%, -115 (not the digits inside a word or a code)
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])[-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?(?![A-Za-z_])|"
                     r"(?<![A-Za-z0-9_.])[-−]?\d+(?:\.\d+)?%?(?![A-Za-z_\d])")
_CITATION = re.compile(r"〔(?:第\s*(\d+)\s*行|来源\s*(\d+))〕")
_AMOUNT_UNIT = re.compile(r"^\s*(亿元|万元|元)")
_AMOUNT_FACTORS = {"元": 1e-4, "万元": 1.0, "亿元": 1e4}  # to 万元
# what follows a number that makes it a reference, not a quantity
_REF_AFTER = re.compile(r"^\s*(?:行|条|款|项规定|号|部分|版|章|节|页)")
_REF_BEFORE = re.compile(r"(?:第|〔|\[|No\.?|编号|序号|附件)\s*$")
_DATE = re.compile(r"\d{4}\s*[-./年]\s*\d{1,2}\s*[-./月]\s*\d{1,2}\s*日?|\d{1,2}\s*月\s*\d{1,2}\s*日")


class Unsupported(BaseModel):
    text: str  # the number as written
    value: float
    sentence: str  # the sentence it appears in
    reason: str = "invented"  # invented | misattributed
    detail: Optional[str] = None  # e.g. "单元格 一/自然人 为 29"


class Derived(BaseModel):
    text: str
    value: float
    sentence: str
    how: str  # e.g. "29 − 23"


class Grounding(BaseModel):
    """The guard's verdict on one model text."""

    numbers: int = 0
    copied: int = 0
    derived: list[Derived] = Field(default_factory=list)
    unsupported: list[Unsupported] = Field(default_factory=list)
    stripped_citations: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unsupported

    def extend(self, other: "Grounding") -> "Grounding":
        self.numbers += other.numbers
        self.copied += other.copied
        self.derived += other.derived
        self.unsupported += other.unsupported
        self.stripped_citations += other.stripped_citations
        return self


def _value(s: str) -> Optional[float]:
    s = s.replace(",", "").replace("−", "-").rstrip("%")
    try:
        return float(s)
    except ValueError:
        return None


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "")


def numbers_in(text: str) -> list[tuple[str, float, int]]:
    """(as written, value, position) of every number in `text` (NFKC: full-width digits count)."""
    t = _nfkc(text)
    out = []
    for m in _NUMBER.finditer(t):
        v = _value(m.group(0))
        if v is not None:
            out.append((m.group(0), v, m.start()))
    return out


def _date_spans(t: str) -> list[tuple[int, int]]:
    return [m.span() for m in _DATE.finditer(t)]


def _date_key(text: str) -> tuple:
    """(year or None, month, day) of a date however written: 2021-01-31, 2021年1月31日, 1月31日."""
    n = [int(x) for x in re.findall(r"\d+", text)]
    return (n[0], n[1], n[2]) if len(n) >= 3 else (None, n[0], n[1])


def _kind(t: str, raw: str, pos: int, dates: list[tuple[int, int]]) -> str:
    """quantity | year | date | ref (line, article, document number, list marker)."""
    end = pos + len(raw)
    if any(a <= pos < b for a, b in dates):
        return "date"
    after, before = t[end:end + 4], t[max(0, pos - 4):pos]
    if before.rstrip().endswith(("〔", "[")) and after.lstrip().startswith(("〕", "]")):
        return "ref"  # a document number's year: 国办公开办函〔2021〕30号
    if re.fullmatch(r"(19|20)\d\d", raw) and (after.lstrip().startswith(("年", "〕", "]", "）", ")")) or
                                              before.rstrip().endswith(("〔", "[", "（", "("))):
        return "year"
    if _REF_AFTER.match(after) or _REF_BEFORE.search(before):
        return "ref"
    # a list marker: "1." / "1、" / "(1)" at the start of a line or item
    line_start = t.rfind("\n", 0, pos) + 1
    if not t[line_start:pos].strip() and re.match(r"^(?:[.、．)）]|\s)", after) and "%" not in raw:
        if re.match(r"^[.、．)）]", after) and not re.match(r"^\.\d", t[end:end + 2]):
            return "ref"
    if re.match(r"^[、)）]", after) and before.endswith(("（", "(")):
        return "ref"
    return "quantity"


# ---------------------------------------------------------------------------------------------- cells

class CellFact(BaseModel):
    """A table cell as the attribution check knows it: its labels and value (None: no number)."""

    table: str
    row: str  # 表三 row code, 表四 group, 表二 item
    column: str
    value: Optional[float] = None
    line: Optional[int] = None

    @property
    def ref(self) -> str:
        return f"{self.row}/{self.column}"


# Words naming 表三 rows (by code) and columns, 表四 groups and columns. Longest first when matching.
_APP_ROWS = {"本年新收": "一", "新收": "一", "上年结转": "二", "予以公开": "三.一", "部分公开": "三.二",
             "不予公开": "三.三", "无法提供": "三.四", "不予处理": "三.五", "其他处理": "三.六",
             "办理结果总计": "三.七", "办理结果": "三.七", "办结": "三.七", "结转下年": "四", "结转下年度": "四"}
_APP_COLS = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计")
_APPEAL_GROUPS = {"行政复议": "行政复议", "复议": "行政复议", "未经复议直接起诉": "未经复议直接起诉",
                  "直接起诉": "未经复议直接起诉", "复议后起诉": "复议后起诉"}
_APPEAL_COLS = ("结果维持", "结果纠正", "其他结果", "尚未审结", "总计")
_FILLER = re.compile(r"(?:共计|合计|累计|总数|共|计|为|是|有|达到|达|数量|的|申请数|申请|件数|政府信息公开|栏|列|行|中|均|\s|：|:)$")
_COMPARE = re.compile(r"(多|少|相差|差|增加|减少|增长|下降|超出|超过|比|较|占|约|差额|不足|以上|以下|之和|合计为?$)")


def cells_of(result) -> list[CellFact]:
    """The cells of a review result (表二, 表三, 表四) as CellFacts."""
    out: list[CellFact] = []
    t = result.tables
    for c in t.applications:
        out.append(CellFact(table="applications", row=c.row, column=c.column, line=c.line,
                            value=c.value if c.state.value in ("number", "inferred") else None))
    for c in t.appeals:
        out.append(CellFact(table="appeals", row=c.group, column=c.column, line=c.line,
                            value=c.value if c.state.value in ("number", "inferred") else None))
    for c in t.disclosure:
        out.append(CellFact(table="disclosure", row=c.item, column=c.column, line=c.line,
                            value=c.value if c.state.value in ("number", "inferred") else None))
    return out


def _labels_before(prefix: str) -> tuple[list[str], bool]:
    """Labels (row/column words) directly before a number: walk back over labels and filler words only."""
    found: list[str] = []
    labels = sorted([*_APP_ROWS, *_APP_COLS, *_APPEAL_GROUPS, *_APPEAL_COLS], key=len, reverse=True)
    s = prefix
    for _ in range(12):
        m = _FILLER.search(s)
        if m and m.group(0):
            s = s[:m.start()]
            continue
        hit = next((w for w in labels if s.endswith(w)), None)
        if hit:
            found.append(hit)
            s = s[:-len(hit)]
            continue
        break
    return found, bool(_COMPARE.search(prefix[-6:]))


def _nearest(text: str, words: dict) -> Optional[str]:
    """The value of the word of `words` that ends last in `text` (the longest of those ending there)."""
    best = None
    for w, v in words.items():
        at = text.rfind(w)
        if at >= 0:
            key = (at + len(w), len(w))
            if best is None or key > best[0]:
                best = (key, v)
    return best[1] if best else None


def attribute(sentence_prefix: str, sentence_before: str, cells: list[CellFact]) -> Optional[CellFact]:
    """The cell the words right before a number name, if they name exactly one."""
    if not cells:
        return None
    labels, comparing = _labels_before(sentence_prefix)
    if comparing or not labels:
        return None
    row = next((_APP_ROWS[w] for w in labels if w in _APP_ROWS), None)
    col = next((w for w in labels if w in _APP_COLS), None)
    group = next((_APPEAL_GROUPS[w] for w in labels if w in _APPEAL_GROUPS), None)
    acol = next((w for w in labels if w in _APPEAL_COLS), None)
    if group or (acol and acol != "总计" and not row):
        if not group:
            group = _nearest(sentence_before, _APPEAL_GROUPS)
        if group and acol:
            return next((c for c in cells if c.table == "appeals" and c.row == group and c.column == acol), None)
        return None
    if row is None and col is None:
        return None
    if row is None:  # "本年新收申请中，自然人29件": the row named last before it in the sentence
        row = _nearest(sentence_before, _APP_ROWS)
    if col is None:
        col = _nearest(sentence_before, {c: c for c in _APP_COLS}) or "总计"
    if row is None:
        return None
    return next((c for c in cells if c.table == "applications" and c.row == row and c.column == col), None)


# ---------------------------------------------------------------------------------------------- material

class Material:
    """What one model call was given: the numbers it may state (copied or derived) and the years it saw.

    `quantities` (cells, a finding's own numbers) may be combined into derived numbers; other numbers in
    the material (excerpt lines, passages) may only be copied. `cells` (usually the whole report's) are used to
    catch a number put on the wrong cell, never to support one that was not given.
    """

    def __init__(self, cells: Optional[list[CellFact]] = None) -> None:
        self.values: set[float] = set()
        self.quantities: list[float] = []
        self.years: set[int] = set()
        self.dates: set[tuple] = set()
        self.cells: list[CellFact] = list(cells or [])

    # building ------------------------------------------------------------------------------
    def add_text(self, text: str, quantities: bool = False) -> "Material":
        t = _nfkc(text)
        t = _CITATION.sub(" ", t)
        dates = _date_spans(t)
        for m in _DATE.finditer(t):
            d = _date_key(m.group(0))
            self.dates |= {d, (None, d[1], d[2])}
        for raw, v, pos in numbers_in(t):
            kind = _kind(t, raw, pos, dates)
            if kind == "year":
                self.years.add(int(v))
            elif kind == "quantity":
                self._add(v, quantities)
        return self

    def add_values(self, values: Iterable, quantities: bool = True) -> "Material":
        for v in values:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                self._add(float(v), quantities)
        return self

    def add_years(self, *years: Optional[int]) -> "Material":
        self.years.update(y for y in years if y)
        return self

    def _add(self, v: float, quantity: bool) -> None:
        self.values.add(round(v, 6))
        self.values.add(round(abs(v), 6))
        if quantity and v not in self.quantities and len(self.quantities) < 80:
            self.quantities.append(v)

    # checking ------------------------------------------------------------------------------
    def copied(self, v: float, unit: Optional[str]) -> bool:
        if round(v, 6) in self.values:
            return True
        if unit:  # an amount: an exact conversion between 元, 万元, 亿元 (never one that rounds to 0)
            for k in (1e4, 1e-4, 1e8, 1e-8):
                target = v * k
                if any(_close(target, s) for s in self.values if s):
                    return True
        return False

    def derive(self, raw: str, v: float, percent: bool, unit: Optional[str]) -> Optional[str]:
        """How `v` (as written in `raw`) follows from two given quantities, or None."""
        q = [x for x in self.quantities if x not in (0, 1)]
        tol = _tolerance(raw)
        conv = [1.0] if not unit else [1.0, 1e4, 1e-4, 1e8, 1e-8]
        for i, a in enumerate(q):
            for j, b in enumerate(q):
                if i == j:
                    continue
                if percent:
                    cands = [(a / b * 100, f"{_n(a)} ÷ {_n(b)}"), ((a - b) / b * 100, f"({_n(a)} − {_n(b)}) ÷ {_n(b)}")]
                else:
                    cands = [(a - b, f"{_n(a)} − {_n(b)}"), (a / b, f"{_n(a)} ÷ {_n(b)}")]
                    if i < j:
                        cands += [(a + b, f"{_n(a)} + {_n(b)}"), (a * b, f"{_n(a)} × {_n(b)}")]
                for x, how in cands:
                    for k in conv:
                        if abs(x * k - v) <= tol and not (x == 0 and v != 0):
                            return how + ("" if k == 1 else "（换算单位）")
        if unit and "." in raw:  # an amount rounded as written: 3.27亿元 for 32678.0865万元
            for s in self.values:
                for k in (1e4, 1e-4, 1e8, 1e-8):
                    if s and abs(s / k - v) <= tol:
                        return f"{_n(s)} 换算并四舍五入"
        return None

    def year_ok(self, y: int) -> bool:
        return y in self.years


def _n(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-12)


def _tolerance(raw: str) -> float:
    """Half a unit of the last digit written: '79.3' → 0.05, '6' → 1e-9 (integers must be exact)."""
    body = raw.rstrip("%").replace(",", "")
    if "." in body:
        return 0.5 * 10 ** -len(body.split(".")[1]) + 1e-9
    return 1e-9


# Kept for callers of the old name
Sources = Material


def _sentence_bounds(text: str, pos: int) -> tuple[int, int]:
    start = max(text.rfind(c, 0, pos) for c in "。！？\n；") + 1
    ends = [i for i in (text.find(c, pos) for c in "。！？\n；") if i != -1]
    return start, (min(ends) + 1 if ends else len(text))


def _sentence(text: str, pos: int) -> str:
    a, b = _sentence_bounds(text, pos)
    return text[a:b].strip()


def check_numbers(text: str, material: Material) -> Grounding:
    """Every number in `text` against `material`: copied, derived (labelled), misattributed or invented."""
    t0 = _nfkc(text)
    t = _CITATION.sub(lambda m: " " * len(m.group(0)), t0)  # same positions, citations are not claims
    if len(t0) == len(text):
        t0 = text  # sentences are quoted as written
    dates = _date_spans(t)
    seen_dates: set[int] = set()
    g = Grounding()
    for raw, v, pos in numbers_in(t):
        kind = _kind(t, raw, pos, dates)
        sentence = _sentence(t0, pos)
        if kind == "ref":
            continue
        # as written (full-width digits stay full-width), so the mark lands on it
        shown = text[pos:pos + len(raw)] if t0 is text else raw
        if kind == "date":
            a, b = next((a, b) for a, b in dates if a <= pos < b)
            if a in seen_dates:
                continue
            seen_dates.add(a)
            g.numbers += 1
            if _date_key(t[a:b]) in material.dates:
                g.copied += 1
            else:
                g.unsupported.append(Unsupported(text=shown, value=v, sentence=sentence, reason="invented",
                                                 detail=f"材料中没有这个日期（{t[a:b]}）"))
            continue
        g.numbers += 1
        if kind == "year":
            if material.year_ok(int(v)):
                g.copied += 1
            else:
                g.unsupported.append(Unsupported(text=shown, value=v, sentence=sentence, reason="invented",
                                                 detail="材料中没有这个年份"))
            continue
        end = pos + len(raw)
        um = _AMOUNT_UNIT.match(t[end:end + 4])
        unit = um.group(1) if um else None
        percent = raw.endswith("%")
        s_start, _ = _sentence_bounds(t, pos)
        cell = attribute(t[s_start:pos], t[s_start:pos], material.cells) if not percent else None
        if cell is not None:
            want = cell.value
            got = v * _AMOUNT_FACTORS[unit] if unit and cell.table == "disclosure" else v
            if want is not None and _close(got, float(want)):
                g.copied += 1
                continue
            if want is not None or cell.value is None:
                cell_value = "无数值" if want is None else _n(float(want))
                g.unsupported.append(Unsupported(text=shown, value=v, sentence=sentence, reason="misattributed",
                                                 detail=f"单元格 {cell.ref} 为 {cell_value}"
                                                        + (f"（第 {cell.line} 行）" if cell.line else "")))
                continue
        if not percent and material.copied(v, unit):
            g.copied += 1
            continue
        if percent and (round(v, 6) in material.values):
            g.copied += 1
            continue
        how = material.derive(raw, v, percent, unit)
        if how:
            g.derived.append(Derived(text=shown, value=v, sentence=sentence, how=how))
            continue
        g.unsupported.append(Unsupported(text=shown, value=v, sentence=sentence, reason="invented"))
    return g


def strip_citations(text: str, lines_given: set[int], sources_given: int) -> tuple[str, list[str]]:
    """Remove citations to report lines or retrieved sources that were not in the model's context."""
    stripped: list[str] = []

    def keep(m: re.Match) -> str:
        line, src = m.group(1), m.group(2)
        if (line and int(line) in lines_given) or (src and 1 <= int(src) <= sources_given):
            return m.group(0)
        stripped.append(m.group(0))
        return ""

    return _CITATION.sub(keep, text), stripped


def quantities_in(text: str) -> set[float]:
    """The values of the quantities a text states (not years, dates, line or document numbers)."""
    t = _CITATION.sub(lambda m: " " * len(m.group(0)), _nfkc(text))
    dates = _date_spans(t)
    return {round(v, 6) for raw, v, pos in numbers_in(t) if _kind(t, raw, pos, dates) == "quantity"}


def verify_line_citations(text: str, lines: list[str]) -> tuple[str, list[str]]:
    """Remove a line citation from a sentence whose numbers the cited line does not contain (a citation that
    points at the wrong line, as kotaemon and paper-qa check the quoted evidence). Sentences without numbers
    keep their citations."""
    removed: list[str] = []
    out = []
    for piece in re.split(r"(?<=[。！？!?；\n])", text):
        claims = quantities_in(piece)
        if claims:
            def keep(m: re.Match) -> str:
                n = int(m.group(1)) if m.group(1) else None
                if n is None or not (1 <= n <= len(lines)):
                    return m.group(0)
                if claims & quantities_in(lines[n - 1]) or claims & {round(x, 6) for x in
                                                                     (v for _, v, _ in numbers_in(lines[n - 1]))}:
                    return m.group(0)
                removed.append(m.group(0))
                return ""
            piece = _CITATION.sub(keep, piece)
        out.append(piece)
    return "".join(out), removed


def citations_in(text: str) -> list[str]:
    return [m.group(0) for m in _CITATION.finditer(text)]


def cited_line(citation: str) -> Optional[int]:
    m = _CITATION.fullmatch(citation)
    return int(m.group(1)) if m and m.group(1) else None


def mark(text: str, grounding: Grounding) -> str:
    """The text with each unsupported number marked for the reviewer: 123 -> 123【未核实】. Idempotent: a number
    already marked is not marked twice. Only the sentences the unsupported numbers were found in are touched
    when the number also appears elsewhere correctly."""
    out = text
    by_text: dict[str, set[str]] = {}
    for u in grounding.unsupported:
        by_text.setdefault(u.text, set()).add(u.sentence)
    for num in sorted(by_text, key=len, reverse=True):
        pat = re.compile(rf"(?<![\d.,]){re.escape(num)}(?![\d.%]|,\d)(?!{re.escape(MARK)})")
        keys = {_key(x) for x in by_text[num]}

        def sub(m: re.Match, src: str) -> str:
            a, b = _sentence_bounds(src, m.start())
            s = _key(src[a:b])
            if any(s == x or x in s or s in x for x in keys):
                return m.group(0) + MARK
            return m.group(0)

        src = out
        out = pat.sub(lambda m: sub(m, src), src)
    return out


def _key(sentence: str) -> str:
    return re.sub(r"\s|〔[^〕]*〕|" + re.escape(MARK), "", _nfkc(sentence))


def marked_sentences(text: str) -> list[str]:
    """The sentences of an (already marked) text that carry a 【未核实】 mark."""
    out = []
    for m in re.finditer(re.escape(MARK), text):
        s = _sentence(text, m.start()).strip()
        if s and s not in out:
            out.append(s)
    return out
