"""The one Python API the CLI, the UI and batch runs use. I/O stays at the edges: `load` reads
bytes, everything after it is a pure function of the Document.

    from review import check
    result = check("fixtures/002_f86e26e747344a50.txt")      # or check(data, name="x.pdf")
    result.errors, result.findings, result.tables.applications
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator, Optional, Union

from review.extract import extract
from review.history import History, find_prior
from review.ingest import load
from review.models import Document, IngestError, Meta, Report, ReviewResult
from review.rules import RULES_VERSION, run

Source = Union[str, os.PathLike, bytes]
SUPPORTED = (".txt", ".md", ".html", ".htm", ".pdf", ".docx")


def review_document(doc: Document, history: Optional[History] = None) -> tuple[Report, ReviewResult]:
    """Extract and check one document; cross-year rules use `history` (a Store or FolderHistory) if given."""
    report = extract(doc)
    previous, prior = find_prior(history, report.meta, doc.sha256)
    findings = run(report, previous=previous, prior=prior, history=history is not None)
    result = ReviewResult(source=doc.source, sha256=doc.sha256, meta=report.meta, sections=report.sections,
                          tables=report.tables, findings=findings, rules_version=RULES_VERSION)
    return report, result


def check(source: Source, name: Optional[str] = None, history: Optional[History] = None) -> ReviewResult:
    """Review one report. Raises IngestError (Chinese and English message) if it cannot be read.
    `history`: where to find the agency's earlier reports for the cross-year rules (a Store, a FolderHistory)."""
    return review_document(load(source, name), history)[1]


def failed(source: str, error: IngestError) -> ReviewResult:
    """The result for a file that could not be read: no tables, no findings, the reason in `error`."""
    return ReviewResult(source=source, sha256="", meta=Meta(), sections=[], findings=[], tables={},
                        rules_version=RULES_VERSION, error=error.message)


def expand(paths: Iterable[Union[str, os.PathLike]]) -> Iterator[str]:
    """Files as given; folders give their supported files, sorted (a folder's README is not a report)."""
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                if f.is_file() and f.suffix.lower() in SUPPORTED and not f.name.upper().startswith("README"):
                    yield str(f)
        else:
            yield str(p)


def check_paths(paths: Iterable[Union[str, os.PathLike]], history: Optional[History] = None) -> Iterator[ReviewResult]:
    """Review each file in order; a file that cannot be read gives a result with `error` set."""
    for p in expand(paths):
        try:
            yield check(p, history=history)
        except IngestError as e:
            yield failed(p, e)
