"""Text normalisation and number reading. Never invents a number: a token is a number only when it
is one whole number (with optional sign, thousands separators, stray spaces around the decimal
point, and a unit); anything else is text, not-applicable, blank or unreadable."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from dataclasses import dataclass
from typing import Optional, Union

_WS = re.compile(r"\s+")
# Chinese typographic characters NFKC leaves alone but reports use interchangeably.
_EXTRA = str.maketrans({"〔": "[", "〕": "]", "【": "[", "】": "]", "－": "-", "—": "-", "–": "-", "−": "-",
                        "、": "、", "．": ".", "。": "。", "﹒": "."})


@lru_cache(maxsize=1 << 16)
def norm(s: str) -> str:
    """NFKC (full-width digits, brackets and letters to ASCII), no whitespace at all."""
    if s.isascii():
        return _WS.sub("", s)
    return _WS.sub("", unicodedata.normalize("NFKC", s).translate(_EXTRA))


def norm_keep_space(s: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", s).translate(_EXTRA)).strip()


NA_TOKENS = {"/", "-", "--", "---", "无", "不适用", "n/a", "na", "不涉及", "\\", "／", "——", "-/-", "×"}
UNITS = {"件": 1, "条": 1, "个": 1, "项": 1, "起": 1, "次": 1, "宗": 1, "人次": 1,
         "元": 1e-4, "万元": 1, "亿元": 1e4, "万": 1, "亿": 1e4}
_NUM = re.compile(
    r"^(?P<sign>[+-]?)(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?P<unit>人次|万元|亿元|件|条|个|项|起|次|宗|元|万|亿)?$")
# Spaces OCR leaves beside a decimal point or separator: "1756. 58" -> "1756.58".
_SEP_SPACE = re.compile(r"(?<=\d)\s*([.,])\s*(?=\d)")
_UNIT_SPACE = re.compile(r"(?<=\d)\s+(?=(?:人次|万元|亿元|件|条|个|项|起|次|宗|元|万|亿)$)")


@dataclass(frozen=True)
class Num:
    value: Union[int, float]
    unit: Optional[str]
    raw: str


@lru_cache(maxsize=1 << 14)
def parse_number(raw: str) -> Optional[Num]:
    """The number a cell states, or None if it is not exactly one number."""
    if raw.isdigit() and raw.isascii():
        return Num(int(raw), None, raw)
    if len(raw) > 40 or not any(c.isdigit() for c in raw):
        return None
    s = unicodedata.normalize("NFKC", raw).translate(_EXTRA).strip().replace("\xa0", " ")
    if not s:
        return None
    s = _SEP_SPACE.sub(r"\1", s)
    s = _UNIT_SPACE.sub("", s)
    m = _NUM.match(s)
    if not m:
        return None
    text = m.group("num").replace(",", "")
    value: Union[int, float] = float(text) if "." in text else int(text)
    if m.group("sign") == "-":
        value = -value
    return Num(value, m.group("unit"), raw)


def is_na(raw: str) -> bool:
    return norm(raw).lower() in NA_TOKENS


def to_wan(value: Union[int, float], unit: Optional[str]) -> float:
    """An amount in 万元, given the unit written beside it (none: already 万元)."""
    factor = UNITS.get(unit or "万元", 1)
    return round(value * factor, 10)


_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def cn_year(s: str) -> Optional[int]:
    """'二〇二〇' -> 2020."""
    if len(s) == 4 and all(c in _CN_DIGITS for c in s):
        return int("".join(str(_CN_DIGITS[c]) for c in s))
    return None
