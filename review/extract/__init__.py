"""Template-aware extraction: Document -> Report (tables with cell states and lines, parts, meta)."""
from __future__ import annotations

from review.extract.meta import extract_meta
from review.extract.parts import find_sections
from review.extract.tables import (detect_format, read_applications, read_appeals, read_disclosure, t3_start,
                                   t4_start)
from review.extract.tokens import tokenize
from review.models import Document, Report, Tables
from review.templates import template


def _span_copies(doc: Document) -> set[tuple[int, int]]:
    """(line, column) of every cell that is only a copy of a merged cell."""
    out = set()
    for g in doc.tables:
        for r, flags in enumerate(g.spans):
            for c, origin in enumerate(flags):
                if not origin:
                    out.add((g.line + r, c))
    return out


def _read_tables(toks, fmt: str, copies):
    t = template(fmt)
    apps, missing_rows, apps_span, collapsed = read_applications(toks, t, copies)
    end2 = t3_start(toks, t)
    if not apps:  # no 表三 read: 表二's region still ends where 表四 begins
        first4 = t4_start(toks, t)
        end2 = min(end2, len(toks) if first4 is None else first4)
    disc, missing_items, disc_span = read_disclosure(toks, t, end2, copies)
    # 表四 follows 表三; when 表三 could not be read, it follows 表三's first sign or 表二's region
    start4 = (next((i for i, tok in enumerate(toks) if tok.line > apps_span.end), len(toks)) if apps_span
              else end2)
    appeals, appeals_span = read_appeals(toks, t, start4, len(toks), copies)
    missing = ([{"table": "applications", "row": r} for r in missing_rows]
               + [{"table": "applications", "row": g, "collapsed": t.applications.row(g).parts} for g in collapsed]
               + [{"table": "disclosure", "block": b, "item": i} for b, i in missing_items])
    spans = [s for s in (disc_span, apps_span, appeals_span) if s]
    return Tables(disclosure=disc, applications=apps, appeals=appeals), missing, spans


# Signs that a table is on the page even when none of its cells could be read: its column and row
# labels as the template words them (label-like cells only: prose mentions them too).
_SIGNS = {
    "disclosure": (("信息内容", "第二十条"), 2),
    "applications": (("申请人情况", "本年新收", "上年结转", "予以公开", "部分公开", "不予公开", "无法提供", "不予处理",
                      "结转下年度"), 3),
    "appeals": (("结果维持", "结果纠正", "其他结果", "尚未审结", "未经复议", "复议后起诉"), 3),
}
_WHY = {
    "disclosure": "找到表二的表头或行名，但读不出各行对应的数字",
    "applications": "找到表三的表头或行名，但读不出各行各列对应的数字",
    "appeals": "找到表四的表头，但读不出各组各列对应的数字",
}


def _unread_tables(toks, tables: Tables) -> list[dict]:
    """Tables whose labels are there but whose cells could not be read: {"table", "line", "reason"}.
    A table with no sign of itself at all is absent, which the rules report differently."""
    out = []
    for name, (words, need) in _SIGNS.items():
        if getattr(tables, name):
            continue
        seen: dict[str, int] = {}
        for tok in toks:
            if tok.kind == "text" and tok.label_like():
                for w in words:
                    if w in tok.n and w not in seen:
                        seen[w] = tok.line
        if len(seen) >= need:
            out.append({"table": name, "line": min(seen.values()), "reason": _WHY[name]})
    return out


def extract(doc: Document) -> Report:
    toks = tokenize(doc)
    copies = _span_copies(doc)
    fmt = detect_format(toks)
    if fmt:
        tables, missing, spans = _read_tables(toks, fmt, copies)
    else:
        # no column label says which format: read with both, keep the reading that finds more rows
        reads = [(_read_tables(toks, f, copies), f) for f in ("2021", "2019")]
        (tables, missing, spans), f = min(reads, key=lambda x: len(x[0][1]) - len(x[0][0].applications))
        fmt = f if (tables.applications or tables.disclosure) else None
    table_lines = {i for s in spans for i in range(s.start, s.end + 1)}
    sections = find_sections(doc.lines, table_lines)
    meta = extract_meta(doc.lines, sections, fmt if (tables.applications or tables.disclosure) else None)
    return Report(source=doc.source, sha256=doc.sha256, lines=doc.lines, meta=meta, sections=sections,
                  tables=tables, missing_rows=missing, spans=spans, unread_tables=_unread_tables(toks, tables))
