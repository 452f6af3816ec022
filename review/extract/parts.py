"""The six parts, found by their headings (numbered or not, with the variants real reports use)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from review.models import Section
from review.templates import parts
from review.text import norm

_NUMBERED = re.compile(r"^([一二三四五六七八九十])[、.]")
_CN = "一二三四五六七八九十"


@dataclass
class Candidate:
    line: int
    number: int  # the part it names
    written: Optional[int]  # the numeral written before it, if any
    title: str


def _clean(line: str) -> str:
    return norm(line).strip("|#*")


def candidates(lines: list[str], table_lines: set[int]) -> list[Candidate]:
    out = []
    ps = parts()
    for i, raw in enumerate(lines, 1):
        if i in table_lines or "\t" in raw.strip() or len(raw) > 90:
            continue
        n = _clean(raw)
        if not (3 <= len(n) <= 45):
            continue
        m = _NUMBERED.match(n)
        written = _CN.index(m.group(1)) + 1 if m else None
        body = n[m.end():] if m else n
        for p in ps:
            if not any(k in body for k in p.keys):
                continue
            title = norm(p.title)
            if m:
                ok = len(body) <= len(title) + 12
            else:
                # an unnumbered heading must look like the whole title, not a sub-heading or a table label
                ok = (not body.startswith(("(", "第")) and not body[0].isdigit()
                      and len(title) * 0.6 <= len(body) <= len(title) + 6)
            if ok:
                out.append(Candidate(i, p.number, written, raw.strip().strip("|").strip()))
                break
    return out


def find_sections(lines: list[str], table_lines: set[int]) -> list[Section]:
    """Take, for each part in order, its first heading after the previous part's heading."""
    cands = candidates(lines, table_lines)
    chosen: list[Candidate] = []
    after = 0
    for number in range(1, 7):
        pick = next((c for c in cands if c.number == number and c.line > after), None)
        if pick:
            chosen.append(pick)
            after = pick.line
    titles = {p.number: p.title for p in parts()}
    out = []
    for k, c in enumerate(chosen):
        end = chosen[k + 1].line - 1 if k + 1 < len(chosen) else len(lines)
        # the part's words: its lines outside the tables
        text = "\n".join(l.strip() for i, l in enumerate(lines[c.line:end], c.line + 1)
                         if l.strip() and i not in table_lines)
        out.append(Section(number=c.number, title=titles[c.number], heading=c.title, line=c.line, end_line=end,
                           text=text))
    return out
