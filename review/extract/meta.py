"""Meta: agency, year, publication date, statistical period, from the title, the header and the signature."""
from __future__ import annotations

import re
from collections import Counter
from typing import Optional

from review.models import Meta, Section
from review.text import cn_year, norm

_CN_SMALL = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_YEAR = r"(?:19|20)\d{2}|[〇零一二三四五六七八九]{4}"
_TITLE = re.compile(
    rf"^(?:关于)?(?P<agency>[\u4e00-\u9fff()·]{{2,40}}?)(?P<year>{_YEAR})年度?(?:的)?(?:政府)?信息公开(?:工作)?(?:年度)?(?:报告|年报)")
# A title that names no year: "XX局政府信息公开工作年度报告"
_TITLE_NO_YEAR = re.compile(r"^(?:关于)?(?P<agency>[\u4e00-\u9fff()·]{2,40}?)(?:政府)?信息公开(?:工作)?年度报告$")
_DATE = re.compile(rf"(?P<y>{_YEAR})(?:年|[-/.])(?P<m>\d{{1,2}}|[一二三四五六七八九十]{{1,2}})(?:月|[-/.])"
                   rf"(?P<d>\d{{1,2}}|[一二三四五六七八九十]{{1,3}})日?")
_PUB_LABEL = re.compile(r"(?:发布日期|发布时间|成文日期|发文日期|公开日期|时间)[:：]\|?")
_SOURCE = re.compile(r"来源[:：]\|?(?P<agency>[\u4e00-\u9fff()]{2,30}?)(?:\||$|发布|时间|日期)")
_PERIOD = re.compile(r"统计(?:期限|期|时限|周期|时间|区间)(?:为|是|:|自|从)*(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日(?:起)?"
                     r"(?:至|到|-)(?:(?P<y2>\d{4})年)?(?P<m2>\d{1,2})月(?P<d2>\d{1,2})日")
_AGENCY_END = re.compile(r"(局|委员会|委|办公室|办|政府|中心|院|署|厅|管委会|部|会|所|站|处|队)$")
_GOV = re.compile(r"(人民政府|政府办公室|政府办公厅|管委会|管理委员会|综合实验区|新区|开发区|高新区|经开区)$"
                  r"|^[\u4e00-\u9fff]{1,8}(?:省|市|区|县|州|旗|盟)$")
_BODY_YEAR = re.compile(r"(20\d{2})年")


def _cn_int(s: str) -> Optional[int]:
    if s.isdigit():
        return int(s)
    if s == "十":
        return 10
    if s.startswith("十"):
        return 10 + _CN_SMALL.get(s[1:], 0)
    if "十" in s:
        a, _, b = s.partition("十")
        return _CN_SMALL.get(a, 0) * 10 + (_CN_SMALL.get(b, 0) if b else 0)
    return _CN_SMALL.get(s)


def parse_date(s: str) -> Optional[str]:
    m = _DATE.search(s)
    if not m:
        return None
    y = int(m.group("y")) if m.group("y").isdigit() else cn_year(m.group("y"))
    mo, d = _cn_int(m.group("m")), _cn_int(m.group("d"))
    if not y or not mo or not d or not (1 <= mo <= 12 and 1 <= d <= 31):
        return None
    return f"{y:04d}-{mo:02d}-{d:02d}"


def _year(s: str) -> int:
    return int(s) if s.isdigit() else cn_year(s)


def find_title(lines: list[str], limit: int) -> tuple[Optional[str], Optional[int], Optional[re.Match]]:
    """The title among the lines before the first part (a title split over two lines is joined)."""
    nonempty = [(i, l) for i, l in enumerate(lines[:limit], 1) if l.strip()]
    for k, (i, line) in enumerate(nonempty):
        options = [norm(line).strip("|")]
        if k + 1 < len(nonempty):
            following = norm(nonempty[k + 1][1]).strip("|")
            # join only a title cut in two: a line that is a whole title itself (a saved page's breadcrumb
            # "政府信息公开年报" above the real title) is not the first half of it
            if not (len(following) <= 60 and _TITLE.match(following)):
                options.append(options[0] + following)
        for text in options:
            if len(text) > 60:
                continue
            m = _TITLE.match(text) or _TITLE_NO_YEAR.match(text)
            if m:
                return text, i, m
    return None, None, None


def _signature(lines: list[str], after: int) -> tuple[Optional[str], Optional[str], Optional[int]]:
    """The agency and date under the signature: a short agency line followed by a date line."""
    agency = date = None
    date_line = None
    tail = [(i, norm(l).strip("|")) for i, l in enumerate(lines, 1) if i > after and l.strip() and len(l) < 80]
    for k, (i, n) in enumerate(tail):
        if len(n) <= 20 and _DATE.fullmatch(n) and parse_date(n):
            date, date_line = parse_date(n), i
            prev = tail[k - 1][1] if k else ""
            if 2 <= len(prev) <= 30 and _AGENCY_END.search(prev):
                agency = prev
    return agency, date, date_line


def extract_meta(lines: list[str], sections: list[Section], fmt: Optional[str]) -> Meta:
    first = sections[0].line if sections else min(len(lines), 15)
    meta = Meta(format=fmt)
    title, title_line, m = find_title(lines, max(first, 1))
    if m:
        meta.title, meta.title_line = title, title_line
        agency = re.sub(r"(关于|的)$", "", m.group("agency"))
        meta.agency = agency or None
        meta.agency_source = "title" if agency else None
        if "year" in m.groupdict():
            meta.year, meta.year_source = _year(m.group("year")), "title"

    head = "".join(norm(l) for l in lines[: max(first - 1, 0)])
    pub = _PUB_LABEL.search(head)
    if pub and parse_date(head[pub.end(): pub.end() + 20]):
        meta.published, meta.published_source = parse_date(head[pub.end(): pub.end() + 20]), "发布日期"
        meta.published_line = next((i for i, l in enumerate(lines, 1) if _PUB_LABEL.search(norm(l))), None)
    last = sections[-1].line if sections else max(len(lines) - 30, 0)
    sig_agency, sig_date, sig_line = _signature(lines, last)
    meta.signature = sig_agency
    if meta.published is None and sig_date:
        meta.published, meta.published_source, meta.published_line = sig_date, "signature", sig_line

    if meta.agency is None:
        src = _SOURCE.search(head)
        meta.agency = src.group("agency") if src else sig_agency
        meta.agency_source = "来源" if src else ("signature" if sig_agency else None)

    opening = lines[: sections[1].line if len(sections) > 1 else 60]
    per = next((m for m in (_PERIOD.search(norm(l)) for l in opening if "统计" in l) if m), None)
    if per:
        meta.period = per.group(0)
        meta.period_year = int(per.group("y"))
    if meta.year is None and meta.period_year:
        meta.year, meta.year_source = meta.period_year, "period"
    if meta.year is None:
        body = sections[0].text if sections else "\n".join(lines[:80])
        years = Counter(int(y) for y in _BODY_YEAR.findall(norm(body)))
        if years:
            meta.year, meta.year_source = years.most_common(1)[0][0], "body"
    if meta.year is None and meta.published:
        meta.year, meta.year_source = int(meta.published[:4]) - 1, "published"
    name = meta.agency or sig_agency
    if name:
        meta.agency_kind = "government" if _GOV.search(name) else "department"
    return meta
