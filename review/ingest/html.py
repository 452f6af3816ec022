"""HTML: block elements give lines, tables give expanded grids (rowspan/colspan)."""
from __future__ import annotations

import codecs
import re

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag

from . import limits
from ._common import Parsed, Placed, clean, decode, make_grid

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_DROP = {"head", "title", "script", "style", "noscript", "template", "select"}
_BLOCKS = {
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
    "dialog", "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "li", "main", "menu",
    "nav", "ol", "p", "section", "summary", "ul",
    # table parts: blocks when a layout table is read as flow
    "table", "thead", "tbody", "tfoot", "tr", "td", "th",
}
_CONTAINERS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "table"}
_LAYOUT_CELL_CHARS = 200


def read(data: bytes, name: str) -> Parsed:
    text, encoding = _decode_html(data, name)
    limits.check_markup(text)  # elements, cells and depth: before the tree is built
    soup = BeautifulSoup(text, "lxml")
    out = Parsed(encoding=encoding)
    _Walker(out).run(soup)
    return out


def _decode_html(data: bytes, name: str) -> tuple[str, str]:
    """A declared <meta charset> wins when it decodes the bytes; else the text decoder's guess."""
    declared = _META_CHARSET.search(data[:4096])
    if declared and not data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        try:
            codec = codecs.lookup(declared.group(1).decode("ascii")).name
            codec = "gb18030" if codec in ("gb2312", "gbk") else codec
            return data.decode(codec), codec
        except (LookupError, UnicodeDecodeError):
            pass
    return decode(data, name)


class _Walker:
    """Walks the tree in document order, gathering inline text into the current line."""

    def __init__(self, out: Parsed):
        self.out = out
        self.buf: list[str] = []

    def flush(self) -> None:
        text = clean("".join(self.buf))
        self.buf = []
        if text:
            self.out.add_line(text)

    def run(self, node: Tag) -> None:
        self.walk(node)
        self.flush()

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, PreformattedString):  # comments, doctype, CDATA...
                continue
            if isinstance(child, NavigableString):
                self.buf.append(str(child))
            elif child.name in _DROP:
                continue
            elif child.name == "br":
                self.flush()
            elif child.name == "pre":
                self.flush()
                for line in child.get_text().split("\n"):
                    if line.strip():
                        self.out.add_line(line.rstrip())
            elif child.name == "table" and not _is_layout(child):
                self.flush()
                self._table(child)
            else:
                block = child.name in _BLOCKS
                if block:
                    self.flush()
                self.walk(child)
                if block:
                    self.flush()

    def _table(self, table: Tag) -> None:
        caption = table.find("caption")
        if caption is not None and caption.find_parent("table") is table:
            self.out.add_line(clean(caption.get_text(" ")))
        rows, spans = _grid(table)
        self.out.add_grid(rows, spans)


def _own(table: Tag, names: str | list[str]) -> list[Tag]:
    """Descendants named `names` that belong to `table` itself, not to a table nested in it."""
    return [t for t in table.find_all(names) if t.find_parent("table") is table]


def _is_layout(table: Tag) -> bool:
    """A table used for page layout: a cell holding long text in several blocks or a nested
    table. Such a table is read as ordinary flow, so the report is not squeezed into one cell."""
    for cell in _own(table, ["td", "th"]):
        blocks = cell.find_all(_CONTAINERS)
        if len(blocks) >= 3 and len(cell.get_text(strip=True)) > _LAYOUT_CELL_CHARS:
            return True
    return False


def _grid(table: Tag) -> tuple[list[list[str]], list[list[bool]]]:
    trs = _own(table, "tr")
    placed: list[Placed] = []
    taken: set[tuple[int, int]] = set()
    budget = limits.CellBudget()  # a span bomb is refused before `taken` grows past the table-size limit
    max_span = limits.current().max_span
    for r, tr in enumerate(trs):
        limits.tick()
        c = 0
        for cell in tr.find_all(["td", "th"], recursive=False):
            while (r, c) in taken:
                c += 1
            n_r = min(_span(cell.get("rowspan"), 65534) or len(trs) - r, len(trs) - r)  # rowspan=0: to the end
            n_c = _span(cell.get("colspan"), max_span) or 1
            budget.take(n_r * n_c)
            placed.append((r, c, n_r, n_c, _cell_text(cell)))
            taken.update((i, j) for i in range(r, min(r + n_r, len(trs))) for j in range(c, c + n_c))
            c += n_c
    n_cols = max((c + n_c for _, c, _, n_c, _ in placed), default=0)
    limits.check_table(len(trs), n_cols)
    return make_grid(placed, len(trs), n_cols)


def _span(value, limit: int) -> int:
    """The span attribute as an int in [0, limit]; missing or unreadable means 1."""
    match = re.match(r"\s*(\d+)", str(value)) if value is not None else None
    return min(int(match.group(1)), limit) if match else 1


def _cell_text(cell: Tag) -> str:
    """A cell's text with its blocks and nested tables read as lines, then collapsed."""
    inner = Parsed()
    _Walker(inner).run(cell)
    return clean("\n".join(inner.lines))
