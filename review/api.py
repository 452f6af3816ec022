"""The one Python API the CLI, the UI and batch runs use. I/O stays at the edges: `load` reads
bytes, everything after it is a pure function of the Document.

    from review import check
    result = check("fixtures/002_f86e26e747344a50.txt")      # or check(data, name="x.pdf")
    result.errors, result.findings, result.tables.applications
"""
from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, Union

from review.extract import extract
from review.history import FolderHistory, History, find_prior
from review.ingest import limits, load
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
    with limits.pinned():
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


# --------------------------------------------------------------------------- parallel, in order

PARALLEL_MIN_FILES = 24  # below this, starting worker processes costs more than it saves
_CHUNK = 8  # files per task: fewer round trips between the processes

_worker_history: Optional[History] = None
_worker_render: Optional[Callable[[ReviewResult], Any]] = None


def _identity(result: ReviewResult) -> ReviewResult:
    return result


def _worker_init(history: Optional[History], render: Callable[[ReviewResult], Any]) -> None:
    global _worker_history, _worker_render
    # A store holds an SQLite connection, which must not cross a fork: each worker opens its own.
    reopen = getattr(history, "for_worker", None)
    _worker_history = reopen() if reopen else history
    _worker_render = render


def _worker_check(paths: list[str]) -> list[Any]:
    out = []
    for p in paths:
        try:
            res = check(p, history=_worker_history)
        except IngestError as e:
            res = failed(p, e)
        out.append(_worker_render(res))
    return out


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def check_paths_rendered(paths: Iterable[Union[str, os.PathLike]], history: Optional[History] = None,
                         render: Callable[[ReviewResult], Any] = _identity,
                         workers: Optional[int] = None) -> Iterator[Any]:
    """`render(result)` for each file, in the order of `check_paths`, reviewed by `workers` processes (default:
    the CPUs this process may use; 1 for fewer than PARALLEL_MIN_FILES files). `render` runs in the worker and
    should make the result small (e.g. its JSON text): only what it returns crosses between processes. At most a
    few chunks per worker are in flight, so memory stays flat however many files there are. Needs the fork
    start method (Linux); elsewhere it reviews in this process."""
    files = list(expand(paths))
    workers = default_workers() if workers is None else max(1, workers)
    if workers == 1 or len(files) < PARALLEL_MIN_FILES or not _can_fork():
        for res in check_paths(files, history=history):
            yield render(res)
        return
    import multiprocessing
    if isinstance(history, FolderHistory):
        history._all()  # review the earlier reports once, here; the workers inherit them
    ctx = multiprocessing.get_context("fork")
    pool = ctx.Pool(workers, initializer=_worker_init, initargs=(history, render))
    try:
        pending: deque = deque()
        chunks = (files[i:i + _CHUNK] for i in range(0, len(files), _CHUNK))
        for chunk in chunks:
            pending.append(pool.apply_async(_worker_check, (chunk,)))
            if len(pending) >= 3 * workers:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _can_fork() -> bool:
    import multiprocessing
    return "fork" in multiprocessing.get_all_start_methods()
