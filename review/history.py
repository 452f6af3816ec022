"""Where last year's report comes from: the store (review.store) or a folder of reports (--history DIR)."""
from __future__ import annotations

import os
from typing import Iterable, Optional, Protocol, Union

from review.agency import same_agency
from review.models import Meta, ReviewResult


class History(Protocol):
    def reports_of(self, agency: str) -> list[ReviewResult]:
        """Every report of this agency (however its name is written) the history holds."""


def find_prior(history: Optional[History], meta: Meta, sha256: str) -> tuple[Optional[ReviewResult], Optional[ReviewResult]]:
    """(the report of the year before, the latest earlier report) of the same agency, or None."""
    if history is None or not meta.agency or not meta.year:
        return None, None
    earlier = [r for r in history.reports_of(meta.agency)
               if r.sha256 != sha256 and r.meta.year and r.meta.year < meta.year]
    if not earlier:
        return None, None
    latest = max(earlier, key=lambda r: r.meta.year)
    previous = latest if latest.meta.year == meta.year - 1 else None
    return previous, latest


class FolderHistory:
    """The reports in a folder (and its subfolders), reviewed once when first asked for."""

    def __init__(self, paths: Union[str, os.PathLike, Iterable[Union[str, os.PathLike]]]):
        self.paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        self._results: Optional[list[ReviewResult]] = None

    def _all(self) -> list[ReviewResult]:
        if self._results is None:
            from review.api import check_paths
            self._results = [r for r in check_paths(self.paths) if not r.error]
        return self._results

    def reports_of(self, agency: str) -> list[ReviewResult]:
        return [r for r in self._all() if r.meta.agency and same_agency(r.meta.agency, agency)]
