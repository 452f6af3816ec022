"""Shared pieces of the ingesters: text decoding, cell-text cleaning, grid expansion and the
line/table accumulator every ingester fills."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from review.models import Grid, IngestError

# Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)

_CJK_RANGES = (
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3400, 0x4DBF),  # extension A
    (0x4E00, 0x9FFF),  # unified ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFF00, 0xFFEF),  # full-width forms
    (0x20000, 0x3FFFF),  # extensions B and later
)
_CJK_PUNCT = set("“”‘’—…·")
_WS = re.compile(r"\s+")


def is_cjk(ch: str) -> bool:
    code = ord(ch)
    return ch in _CJK_PUNCT or any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def wrap_glue(a: str, b: str) -> str:
    """What joins the last char `a` of a wrapped line to the first char `b` of the next one:
    nothing next to CJK text or inside a number broken by the wrap, else a space."""
    if is_cjk(a) or is_cjk(b) or ((a.isdigit() or a in ".,") and b.isdigit()):
        return ""
    return " "


def clean(text: str, wrapped: bool = False) -> str:
    """Strip, then collapse every internal whitespace run (tabs and newlines included): removed
    between two CJK characters, else one space. With `wrapped`, a newline is a soft line wrap
    (PDF cells) and is glued by `wrap_glue`, so a number broken by the wrap comes back whole."""
    text = text.strip()

    def collapse(m: re.Match) -> str:
        a, b = text[m.start() - 1], text[m.end()]
        if is_cjk(a) and is_cjk(b):
            return ""
        if wrapped and "\n" in m.group():
            return wrap_glue(a, b)
        return " "

    return _WS.sub(collapse, text)


def decode(data: bytes, name: str) -> tuple[str, str]:
    """Decode text bytes: a BOM; UTF-16 without a BOM (its zero bytes); strict UTF-8; then GB18030 or Big5, whichever
    reads as common characters (see review.ingest.text.guess_cjk). A text no encoding reads plausibly is refused
    ("无法确定编码"), never reviewed as garbled text."""
    from .text import guess_cjk, guess_utf16

    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), codec
            except UnicodeDecodeError:
                break
    utf16 = guess_utf16(data)
    if utf16 is not None:
        return utf16
    if b"\x00" in data:
        raise IngestError(
            "文件含有二进制内容，不是文本文件：请确认文件类型，或另存为 .txt（UTF-8 编码）",
            "The file holds binary data and is not text: check its type or save it as UTF-8 .txt",
            source=name,
        )
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    found = guess_cjk(data)
    if found is None:
        # UTF-8 with a few broken bytes (a file cut inside a character, one bad byte): the damage is marked with
        # U+FFFD where it is (a cell there reads as unreadable), the rest is read as written
        text = data.decode("utf-8", errors="replace")
        if text.count("\ufffd") <= max(1, len(text) // 1000):
            return text, "utf-8 (damaged)"
    if found is None:
        raise IngestError(
            "无法确定编码：文件不是 UTF-8、GB18030/GBK、Big5 或 UTF-16 编码的可读文字，"
            "请另存为 UTF-8 编码的文本后再提交",
            "Cannot determine the text encoding (not readable as UTF-8, GB18030/GBK, Big5 or UTF-16): "
            "save it as UTF-8 text and try again",
            source=name,
        )
    return found


# A cell placed in a table: (row, column, rows spanned, columns spanned, text).
Placed = tuple[int, int, int, int, str]


def make_grid(
    placed: list[Placed], n_rows: int, n_cols: int
) -> tuple[list[list[str]], list[list[bool]]]:
    """Expand placed cells into a full n_rows x n_cols grid: every covered position holds the
    spanning cell's text; spans are True at a cell's origin (and at positions no cell covers)."""
    rows = [[""] * n_cols for _ in range(n_rows)]
    spans = [[True] * n_cols for _ in range(n_rows)]
    for r0, c0, n_r, n_c, text in placed:
        for r in range(r0, min(r0 + n_r, n_rows)):
            for c in range(c0, min(c0 + n_c, n_cols)):
                rows[r][c] = text
                spans[r][c] = (r, c) == (r0, c0)
    return rows, spans


@dataclass
class Parsed:
    """What an ingester read: lines in document order, with real tables rendered as lines."""

    lines: list[str] = field(default_factory=list)
    tables: list[Grid] = field(default_factory=list)
    grid_lines: list[int] = field(default_factory=list)
    encoding: Optional[str] = None
    pages: Optional[int] = None

    def add_line(self, text: str) -> None:
        self.lines.append(text)

    def add_grid(self, rows: list[list[str]], spans: list[list[bool]], page: Optional[int] = None) -> None:
        """Render each grid row as one line, cells joined by tabs, span copies left empty."""
        if not rows:
            return
        first = len(self.lines) + 1
        for r, (row, origin) in enumerate(zip(rows, spans)):
            self.lines.append("\t".join(text if keep else "" for text, keep in zip(row, origin)))
            self.grid_lines.append(first + r)
        self.tables.append(Grid(rows=rows, spans=spans, line=first, page=page))
