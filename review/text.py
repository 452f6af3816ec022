"""Text normalisation and number reading. Never invents a number: a token is a number only when it
is one whole number (with optional sign, thousands separators, stray spaces around the decimal
point, and a unit); anything else is text, not-applicable, blank or unreadable."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from dataclasses import dataclass
from decimal import Context, Decimal
from typing import Optional, Union

# Chinese typographic characters NFKC leaves alone but reports use interchangeably.
_EXTRA = str.maketrans({"〔": "[", "〕": "]", "【": "[", "】": "]", "－": "-", "—": "-", "–": "-", "−": "-",
                        "、": "、", "．": ".", "。": "。", "﹒": "."})


# NFKC maps the full-width ASCII forms (U+FF01..U+FF5E) and the ideographic space one to one onto ASCII; mapping
# them first with one regex leaves most Chinese text already normalised, which unicodedata.is_normalized confirms in
# a fast scan: a whole report normalises 6x faster than through unicodedata.normalize. The result is exactly NFKC
# (tests/test_text.py compares both on every code point and on every fixture).
_FULL_WIDTH = re.compile("[\uff01-\uff5e\u3000]")
_EXTRA_PAIRS = tuple((chr(k), v) for k, v in _EXTRA.items() if chr(k) != v)


def _half(m: re.Match) -> str:
    c = m.group()
    return " " if c == "\u3000" else chr(ord(c) - 0xFEE0)


def nfkc(s: str) -> str:
    """unicodedata.normalize("NFKC", s) followed by the _EXTRA substitutions, fast for Chinese text."""
    if s.isascii():
        return s
    if _FULL_WIDTH.search(s):
        s = _FULL_WIDTH.sub(_half, s)
    if not unicodedata.is_normalized("NFKC", s):
        s = unicodedata.normalize("NFKC", s)
    for a, b in _EXTRA_PAIRS:  # no replacement is itself replaced: the same as str.translate
        if a in s:
            s = s.replace(a, b)
    return s


def norm_text(s: str) -> str:
    """NFKC (full-width digits, brackets and letters to ASCII), no whitespace at all. Not cached: for whole texts."""
    return "".join(nfkc(s).split())  # str.split() and re's \s are the same Unicode whitespace


# The caches below are LRU and small: the template's labels, small numbers and a report's own lines stay hot, one-off
# prose falls out, and a run of any length keeps a flat memory (bench/bench_cli.py --plateau). Emptying them instead
# (as review.api did every 100 files, and a worker every 8) cost a run on two workers 15% more CPU time.
@lru_cache(maxsize=4096)
def norm(s: str) -> str:
    """norm_text, cached: cells, labels and lines come back again and again."""
    return norm_text(s)


def norm_keep_space(s: str) -> str:
    return " ".join(nfkc(s).split())


NA_TOKENS = {"/", "-", "--", "---", "无", "不适用", "n/a", "na", "不涉及", "\\", "／", "——", "-/-", "×"}
UNITS = {"件": 1, "条": 1, "个": 1, "项": 1, "起": 1, "次": 1, "宗": 1, "人次": 1,
         "元": Decimal("0.0001"), "万元": 1, "亿元": 10_000, "万": 1, "亿": 10_000}
# Numbers are exact from the text to the identities: a count is an int, a number written with a decimal point is a
# Decimal that keeps the digits as written (its exponent is the written precision), never a binary float.
Exact = Union[int, Decimal]
# Arithmetic on exact numbers: wide enough that no sum or unit conversion of 40-character numbers rounds.
EXACT = Context(prec=100)
_NUM = re.compile(
    r"^(?P<sign>[+-]?)(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?P<unit>人次|万元|亿元|件|条|个|项|起|次|宗|元|万|亿)?$")
# Spaces OCR leaves beside a decimal point or separator: "1756. 58" -> "1756.58".
_SEP_SPACE = re.compile(r"(?<=\d)\s*([.,])\s*(?=\d)")
_UNIT_SPACE = re.compile(r"(?<=\d)\s+(?=(?:人次|万元|亿元|件|条|个|项|起|次|宗|元|万|亿)$)")


@dataclass(frozen=True)
class Num:
    value: Exact
    unit: Optional[str]
    raw: str


@lru_cache(maxsize=2048)
def parse_number(raw: str) -> Optional[Num]:
    """The number a cell states, or None if it is not exactly one number."""
    if raw.isdigit() and raw.isascii():
        return Num(int(raw), None, raw)
    if len(raw) > 40 or not any(c.isdigit() for c in raw):
        return None
    s = nfkc(raw).strip().replace("\xa0", " ")
    if not s:
        return None
    s = _SEP_SPACE.sub(r"\1", s)
    s = _UNIT_SPACE.sub("", s)
    m = _NUM.match(s)
    if not m:
        return None
    text = m.group("num").replace(",", "")
    value: Exact = Decimal(text) if "." in text else int(text)
    if m.group("sign") == "-":
        value = -value
    return Num(value, m.group("unit"), raw)


def is_na(raw: str) -> bool:
    return norm(raw).lower() in NA_TOKENS


def to_wan(value: Union[Exact, float], unit: Optional[str]) -> Exact:
    """An amount in 万元, given the unit written beside it (none: already 万元), exactly: 75394432.52元 is
    Decimal("7539.443252"), whose exponent still says how precisely it was written."""
    factor = UNITS.get(unit or "万元", 1)
    if isinstance(value, float):  # a caller's float: through its shortest repr, never its binary expansion
        value = Decimal(repr(value))
    if factor == 1:
        return value
    return EXACT.multiply(value if isinstance(value, Decimal) else Decimal(value), factor)


def is_integral(value) -> bool:
    """True for a whole number, however it is typed (int, Decimal("5.0"), 5.0)."""
    if isinstance(value, int):
        return True
    if isinstance(value, Decimal):
        return value.is_finite() and value == value.to_integral_value()
    return float(value).is_integer()


def half_width(value) -> Decimal:
    """How far the true value may lie from the written one (Calculations 1.1): an integer is exact (counts are
    whole numbers); a Decimal written with d decimals stands for [v - 0.5·10^-d, v + 0.5·10^-d]."""
    if isinstance(value, Decimal) and value.is_finite():
        exp = value.as_tuple().exponent
        if exp < 0:
            return Decimal((0, (5,), exp - 1))
    return Decimal(0)


_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def cn_year(s: str) -> Optional[int]:
    """'二〇二〇' -> 2020."""
    if len(s) == 4 and all(c in _CN_DIGITS for c in s):
        return int("".join(str(_CN_DIGITS[c]) for c in s))
    return None
