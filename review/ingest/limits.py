"""Limits at ingest: a hostile or broken file is refused fast, with bounded memory, and a message in Chinese and
English saying which limit it passed and how to change it.

Every limit is read from the environment when a file is read, so a service can be configured without code:

    REVIEW_MAX_FILE_MB        100     size of one input file
    REVIEW_MAX_UNZIPPED_MB    100     DOCX: everything in the package, decompressed
    REVIEW_MAX_XML_MB         20      DOCX: one XML part (word/document.xml...), decompressed
    REVIEW_MAX_ZIP_RATIO      200     DOCX: decompressed / compressed size of one member (over 1 MB)
    REVIEW_MAX_TABLE_CELLS    20000   cells of one table, merged cells expanded (HTML: of the whole page)
    REVIEW_MAX_SPAN           1000    a colspan / rowspan / gridSpan value (larger values are clamped to it)
    REVIEW_MAX_DEPTH          200     nesting depth of HTML div/table elements
    REVIEW_MAX_ELEMENTS       50000   HTML elements of one page
    REVIEW_MAX_PAGES          200     PDF pages
    REVIEW_MAX_PAGE_CHARS     20000   characters on one PDF page (a dense page of text has some 2,500)
    REVIEW_MAX_LINES          20000   text lines (paragraphs, table rows) of one file
    REVIEW_MAX_LINE_CHARS     100000  characters of one line (a paragraph is a few thousand)
    REVIEW_MAX_SECONDS        60      time to read one file

A national-template report is some 30 pages, 1,000-3,000 lines and tables of at most 25 × 10 cells: the
defaults leave a wide margin and keep the worst file inside a few seconds and a few hundred MB.

The readers call these at narrow points (the zip directory before anything is decompressed, a table's size
before its grid is built, the page count before pages are read, a deadline between pages and blocks).
"""
from __future__ import annotations

import contextvars
import os
import re
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Iterator, Optional

from review.models import IngestError

_MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_file_mb: float = 100
    max_unzipped_mb: float = 100
    max_xml_mb: float = 20
    max_zip_ratio: float = 200
    max_table_cells: int = 20_000
    max_span: int = 1000
    max_depth: int = 200
    max_elements: int = 50_000
    max_pages: int = 200
    max_page_chars: int = 20_000
    max_lines: int = 20_000
    max_line_chars: int = 100_000
    max_seconds: float = 60

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * _MB)


ENV = {f.name: "REVIEW_" + f.name.upper() for f in fields(Limits)}


_PINNED: contextvars.ContextVar[Optional[Limits]] = contextvars.ContextVar("review_limits", default=None)


@contextmanager
def pinned():
    """Read the limits once for the work inside (one file's review asks for them at every step)."""
    token = _PINNED.set(current())
    try:
        yield
    finally:
        _PINNED.reset(token)


def current() -> Limits:
    """The limits in force: the defaults, overridden by REVIEW_MAX_* environment variables (bad values ignored)."""
    lim = _PINNED.get()
    if lim is not None:
        return lim
    kw = {}
    for f in fields(Limits):
        raw = os.environ.get(ENV[f.name], "").strip()
        if raw:
            try:
                value = float(raw)
            except ValueError:
                continue
            if value > 0:
                kw[f.name] = int(value) if f.type in (int, "int") else value
    return Limits(**kw)


class LimitError(IngestError):
    """A file over one of the limits. `limit` is the Limits field it passed."""

    def __init__(self, zh: str, en: str, limit: str, source: Optional[str] = None):
        self.limit = limit
        super().__init__(zh, en, source)

    def with_source(self, source: str) -> "LimitError":
        if self.source:
            return self
        return LimitError(self.zh, self.en, self.limit, source)


def over(limit: str, what_zh: str, what_en: str, value, cap) -> LimitError:
    env = ENV[limit]
    return LimitError(f"{what_zh}（{value}）超过上限 {cap}，已拒绝读取：文件可能已损坏或为恶意构造；"
                      f"如确为正常年报，请拆分文件或调高环境变量 {env}",
                      f"{what_en} ({value}) is over the limit of {cap}: the file was refused (it may be corrupt "
                      f"or hostile); if it is a genuine report, split it or raise {env}", limit)


# ---------------------------------------------------------------------------------------------- checks

def check_size(size: int) -> None:
    lim = current()
    if size > lim.max_file_bytes:
        raise over("max_file_mb", "文件大小", "The file size", f"{size / _MB:.1f} MB", f"{lim.max_file_mb:g} MB")


def check_zip(infos) -> None:
    """A DOCX package's members (zipfile.ZipInfo), from its directory, before anything is decompressed. The
    directory's sizes bound what zipfile will decompress (it stops at file_size and checks the CRC)."""
    lim = current()
    total = 0
    for m in infos:
        total += m.file_size
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > _MB and ratio > lim.max_zip_ratio:
            raise over("max_zip_ratio", f"压缩包成员“{m.filename[:60]}”的压缩比", f"The compression ratio of "
                       f"member {m.filename[:60]!r}", f"{ratio:.0f}", f"{lim.max_zip_ratio:g}")
        if m.filename.lower().endswith((".xml", ".rels")) and m.file_size > lim.max_xml_mb * _MB:
            raise over("max_xml_mb", f"压缩包成员“{m.filename[:60]}”解压后的大小", f"The decompressed size of member "
                       f"{m.filename[:60]!r}", f"{m.file_size / _MB:.0f} MB", f"{lim.max_xml_mb:g} MB")
        if total > lim.max_unzipped_mb * _MB:
            raise over("max_unzipped_mb", "解压后的大小", "The decompressed size", f"> {total / _MB:.0f} MB",
                       f"{lim.max_unzipped_mb:g} MB")


def span(value: int) -> int:
    """A colspan/rowspan/gridSpan clamped to the limit (no real table spans more; a bomb gets no memory)."""
    return max(0, min(value, current().max_span))


def check_table(rows: int, cols: int) -> None:
    lim = current()
    if rows * cols > lim.max_table_cells:
        raise over("max_table_cells", f"表格大小（{rows} 行 × {cols} 列）", f"The table size ({rows} rows x {cols} "
                   "columns)", f"{rows * cols} 个单元格 cells", lim.max_table_cells)


def check_cells(cells: int) -> None:
    """All table cells of a file, counted before any is read."""
    lim = current()
    if cells > lim.max_table_cells:
        raise over("max_table_cells", "表格单元格个数", "The number of table cells", cells, lim.max_table_cells)


class CellBudget:
    """Counts the grid positions a table's merged cells cover while they are placed: refused past the limit, so a
    span bomb is stopped after at most max_table_cells positions, not after gigabytes."""

    def __init__(self) -> None:
        self.left = current().max_table_cells

    def take(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            lim = current().max_table_cells
            raise over("max_table_cells", "表格合并单元格展开后的大小", "The table size with merged cells expanded",
                       f"> {lim}", lim)


def check_depth(depth: int) -> None:
    lim = current()
    if depth > lim.max_depth:
        raise over("max_depth", "元素嵌套层数", "The nesting depth", depth, lim.max_depth)


_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)(?=[\s>/])([^>]{0,2000})")
_COLSPAN = re.compile(r"colspan\s*=\s*[\"']?\s*(\d{1,12})", re.I)
_NESTING = {"div", "table"}  # containers pages close reliably (an unclosed <p> or <li> would overstate depth)


def check_markup(text: str) -> None:
    """HTML, before it is parsed into a tree (which costs time and memory per element): the number of elements,
    the table cells with their colspans, and the nesting depth of div/table elements."""
    lim = current()
    elements = cells = depth = deepest = 0
    for m in _TAG.finditer(text):
        closing, tag = m.group(1), m.group(2).lower()
        if closing:
            if tag in _NESTING:
                depth = max(0, depth - 1)
            continue
        elements += 1
        if tag in ("td", "th"):
            span_m = _COLSPAN.search(m.group(3))
            cells += max(1, min(int(span_m.group(1)), lim.max_span)) if span_m else 1
        elif tag in _NESTING and not m.group(3).rstrip().endswith("/"):
            depth += 1
            deepest = max(deepest, depth)
        if elements > lim.max_elements:
            raise over("max_elements", "网页元素个数", "The number of HTML elements", f"> {lim.max_elements}",
                       lim.max_elements)
        if cells > lim.max_table_cells:
            raise over("max_table_cells", "表格单元格个数（含合并单元格展开）", "The number of table cells (merged "
                       "cells expanded)", f"> {lim.max_table_cells}", lim.max_table_cells)
        if deepest > lim.max_depth:
            check_depth(deepest)


def check_pages(pages: int) -> None:
    lim = current()
    if pages > lim.max_pages:
        raise over("max_pages", "PDF 页数", "The page count", pages, lim.max_pages)


def check_page_chars(chars: int, page: int) -> None:
    lim = current()
    if chars > lim.max_page_chars:
        raise over("max_page_chars", f"PDF 第 {page} 页的字符数", f"The number of characters on page {page}", chars,
                   lim.max_page_chars)


def check_lines(lines: int, longest: int = 0) -> None:
    lim = current()
    if lines > lim.max_lines:
        raise over("max_lines", "文本行数（段落、表格行）", "The number of lines (paragraphs, table rows)", lines,
                   lim.max_lines)
    if longest > lim.max_line_chars:
        raise over("max_line_chars", "单行字数", "The length of one line", f"{longest} 字 characters",
                   lim.max_line_chars)


# ---------------------------------------------------------------------------------------------- time

_deadline: contextvars.ContextVar[Optional[float]] = contextvars.ContextVar("review_ingest_deadline", default=None)


def _timeout() -> LimitError:
    lim = current()
    return over("max_seconds", "读取用时", "The time to read the file", f"> {lim.max_seconds:g} s",
                f"{lim.max_seconds:g} s")


def tick() -> None:
    """Called between pages, blocks and rows: past the deadline, the file is refused."""
    end = _deadline.get()
    if end is not None and time.monotonic() > end:
        raise _timeout()


@contextmanager
def deadline() -> Iterator[None]:
    """The time limit for reading one file. Readers call tick(); in a process's main thread an interval timer also
    interrupts a reader stuck inside one long step (a library's own loop)."""
    seconds = current().max_seconds
    token = _deadline.set(time.monotonic() + seconds)
    use_alarm = (threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
                 and signal.getitimer(signal.ITIMER_REAL)[0] == 0)
    old = None
    if use_alarm:
        def on_alarm(signum, frame):
            raise _timeout()
        try:
            old = signal.signal(signal.SIGALRM, on_alarm)
            # and again every half second after that: a library that swallows the first one in its own
            # `except Exception` is interrupted again until the refusal gets out
            signal.setitimer(signal.ITIMER_REAL, seconds, 0.5)
        except (ValueError, OSError):
            use_alarm = False
    try:
        yield
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old if old is not None else signal.SIG_DFL)
        _deadline.reset(token)


def limit_in_chain(exc: BaseException) -> Optional[LimitError]:
    """A LimitError that a reader's generic error handling wrapped (raise ... from exc), if any."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, LimitError):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None
