"""Template-aware extraction: Document -> Report (tables with cell states and lines, parts, meta)."""
from __future__ import annotations

from review.extract.meta import extract_meta
from review.extract.parts import find_sections
from review.extract.tables import detect_format, read_applications, read_appeals, read_disclosure, t3_start
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
    apps, missing_rows, apps_span = read_applications(toks, t, copies)
    end2 = t3_start(toks, t)
    disc, missing_items, disc_span = read_disclosure(toks, t, end2, copies)
    start4 = next((i for i, tok in enumerate(toks) if apps_span and tok.line > apps_span.end), len(toks))
    appeals, appeals_span = read_appeals(toks, t, start4, len(toks), copies)
    missing = ([{"table": "applications", "row": r} for r in missing_rows]
               + [{"table": "disclosure", "block": b, "item": i} for b, i in missing_items])
    spans = [s for s in (disc_span, apps_span, appeals_span) if s]
    return Tables(disclosure=disc, applications=apps, appeals=appeals), missing, spans


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
                  tables=tables, missing_rows=missing, spans=spans)
