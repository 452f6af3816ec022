"""Pydantic models: the shared language between ingest, extract, rules, the CLI and the UI.

Data flows one way: bytes -> Document (ingest) -> Report (extract) -> findings (rules) -> ReviewResult.
"""
from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Annotated, Optional, Union

from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer, WithJsonSchema


class ReviewError(Exception):
    """An error a user can act on. `message` is bilingual: Chinese first, then English."""

    def __init__(self, zh: str, en: str, source: str | None = None):
        self.zh, self.en, self.source = zh, en, source
        prefix = f"{source}: " if source else ""
        super().__init__(f"{prefix}{zh} / {en}")

    @property
    def message(self) -> str:
        return str(self)


class IngestError(ReviewError):
    """A file could not be read (unsupported type, corrupt, wrong encoding, empty...)."""


# --------------------------------------------------------------------------- ingest

class Grid(BaseModel):
    """A real table found in the file (HTML, DOCX or PDF), merged cells expanded.

    `rows[r][c]` is the cell text; a cell covered by a colspan/rowspan holds the same text as the
    cell that spans it, and `spans[r][c]` is False for such copies (True where the cell starts).
    `line` is the number (1-based) of the first row's line in Document.lines; row r is on line `line + r`.
    """

    rows: list[list[str]]
    spans: list[list[bool]] = Field(default_factory=list)
    line: int
    page: Optional[int] = None


class Document(BaseModel):
    """A file read into text lines (1-based line numbers: lines[0] is line 1) and real tables.

    Every ingester renders a real table's rows as lines in document order, cells joined by a tab,
    with span copies left empty, so the extractor reads every format through one path; the grids
    are kept in `tables` and the line numbers of grid rows in `grid_lines`.
    """

    source: str
    sha256: str
    kind: str  # txt | md | html | docx | pdf
    lines: list[str]
    tables: list[Grid] = Field(default_factory=list)
    grid_lines: list[int] = Field(default_factory=list)
    encoding: Optional[str] = None
    pages: Optional[int] = None


# --------------------------------------------------------------------------- extract

class CellState(str, Enum):
    number = "number"
    blank = "blank"
    na = "na"
    unreadable = "unreadable"
    inferred = "inferred"


def _json_number(v: Decimal) -> Union[int, float]:
    """A Decimal in the JSON output: a JSON number, never a string. A whole number is written as an integer (exact
    at any size); a fraction as the nearest double (17 significant digits are more than any report writes)."""
    if v.is_finite() and v == v.to_integral_value():
        return int(v)
    return float(v)


def _exact_in(v):
    """Numbers read back (JSON, Python) stay exact: a float goes through its shortest repr to a Decimal."""
    if isinstance(v, float):
        return Decimal(repr(v))
    return v


# Exact numbers (review.text.parse_number): int for whole numbers, Decimal for those written with a decimal point;
# in JSON both are numbers.
ExactDecimal = Annotated[Decimal, PlainSerializer(_json_number, return_type=Union[int, float], when_used="json"),
                        WithJsonSchema({"type": "number"})]
Number = Annotated[Union[int, ExactDecimal], BeforeValidator(_exact_in)]


class Cell(BaseModel):
    column: str
    value: Optional[Number] = None
    state: CellState
    line: Optional[int] = None
    raw: Optional[str] = None
    note: Optional[str] = None


class DisclosureCell(Cell):
    item: str
    block: str
    label: Optional[str] = None  # the report's own row label when it differs from the template's
    extra: bool = False  # a local row the national template does not have


class ApplicationCell(Cell):
    row: str
    label: Optional[str] = None  # the report's own row label when it was matched loosely
    loose: bool = False  # matched by the template's order and similarity, not by its key words


class AppealCell(Cell):
    group: str


class Tables(BaseModel):
    disclosure: list[DisclosureCell] = Field(default_factory=list)
    applications: list[ApplicationCell] = Field(default_factory=list)
    appeals: list[AppealCell] = Field(default_factory=list)


class Section(BaseModel):
    number: int
    title: str  # the template's title of the part
    heading: str = ""  # the heading as the report writes it
    line: int
    end_line: int
    text: str = ""


class Meta(BaseModel):
    agency: Optional[str] = None
    year: Optional[int] = None
    format: Optional[str] = None
    published: Optional[str] = None
    title: Optional[str] = None
    title_line: Optional[int] = None
    year_source: Optional[str] = None  # title | period | body
    published_source: Optional[str] = None  # 发布日期 | signature
    published_line: Optional[int] = None
    period: Optional[str] = None  # the statistical period as written
    period_year: Optional[int] = None
    signature: Optional[str] = None
    agency_source: Optional[str] = None  # title | 来源 | signature
    agency_kind: Optional[str] = None  # government | department | None


class TableSpan(BaseModel):
    table: str
    start: int
    end: int


class Report(BaseModel):
    """What the extractor read from a Document: the template's tables, the six parts, the meta."""

    source: str
    sha256: str
    lines: list[str]
    meta: Meta
    sections: list[Section] = Field(default_factory=list)
    tables: Tables = Field(default_factory=Tables)
    # {"table","row"/"item","block"}; a 表三 group filled as one row instead of its sub-rows also has
    # "collapsed": the sub-row codes it stands for
    missing_rows: list[dict] = Field(default_factory=list)
    spans: list[TableSpan] = Field(default_factory=list)
    # tables that are there (their labels were found) but whose cells could not be read:
    # {"table", "line", "reason"}
    unread_tables: list[dict] = Field(default_factory=list)


# --------------------------------------------------------------------------- rules

class Severity(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"


class Evidence(BaseModel):
    ref: str  # e.g. "applications 一/自然人" or "line 31"
    value: Optional[Union[Number, str]] = None
    state: Optional[str] = None
    line: Optional[int] = None


class Finding(BaseModel):
    rule: str
    severity: Severity
    message: str
    title: str = ""
    status: str = "fail"  # fail | not_assessable
    table: Optional[str] = None
    cells: list[dict[str, str]] = Field(default_factory=list)
    section: Optional[int] = None
    line: Optional[int] = None
    evidence: list[Evidence] = Field(default_factory=list)
    fingerprint: str = ""


class RuleInfo(BaseModel):
    id: str
    severity: Severity
    title: str
    basis: str
    description: str = ""


class ReviewResult(BaseModel):
    """The result of reviewing one report: the JSON object of the CLI contract."""

    source: str
    sha256: str
    meta: Meta
    sections: list[Section]
    tables: Tables
    findings: list[Finding]
    rules_version: str = ""
    error: Optional[str] = None  # set when the file could not be read

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.error and f.status == "fail"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == Severity.warning and f.status == "fail"]
