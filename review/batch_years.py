"""Years inside one batch checked against each other: after a batch run, each report that has an earlier year of
the same agency in the same batch is reviewed again with the batch's own reports as its history, so the
cross-year rules (上年结转 = 上年结转下年度, 现行有效件数 roll-forward, part 五 repetition) are assessed.

Additive to review.batch (whose run reviews each file alone, in parallel): it rewrites reports/<sha>.json and
appends the new index row (the last row of a sha wins), re-registers the report in the sign-off queue, and
rebuilds the summaries.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional

from review.agency import same_agency
from review.models import IngestError, ReviewResult


class BatchHistory:
    """The batch's own review results as a History (review.history)."""

    def __init__(self, results: list[ReviewResult], extra=None):
        self.results, self.extra = results, extra  # extra: another History (the store), consulted too

    def reports_of(self, agency: str) -> list[ReviewResult]:
        own = [r for r in self.results if r.meta.agency and same_agency(r.meta.agency, agency)]
        shas = {r.sha256 for r in own}
        more = [r for r in (self.extra.reports_of(agency) if self.extra is not None else []) if r.sha256 not in shas]
        return own + more


def cross_year(out: Path, items: list, db=None, progress: Optional[Callable[[int, int], None]] = None,
               history=None) -> list[str]:
    """Re-review the batch's reports that have an earlier year of their agency in the batch (or in `history`,
    e.g. the store); their sha256."""
    from review.api import check
    from review.batch import _row, _write_atomic, load_result, read_index, write_summaries
    from review.history import find_prior
    out = Path(out)
    index = read_index(out)
    results: dict[str, ReviewResult] = {}
    for sha, row in index.items():
        data = load_result(out, sha)
        if data and not row.get("error") and not data.get("error"):
            results[sha] = ReviewResult.model_validate(data)
    history = BatchHistory(list(results.values()), history)
    todo = [(sha, r) for sha, r in results.items() if find_prior(history, r.meta, sha)[1] is not None]
    path_of = {it.sha256: it for it in items if it.sha256}
    done = []
    with open(out / "index.jsonl", "a", encoding="utf-8") as idx:
        for n, (sha, _) in enumerate(todo, 1):
            it = path_of.get(sha)
            if it is None or not Path(it.path).is_file():
                continue
            try:
                new = check(it.path, name=it.name, history=history)
            except IngestError:
                continue
            if new.sha256 != sha:  # the file changed since the run: leave its result as it was
                continue
            _write_atomic(out / "reports" / f"{sha}.json", json.dumps(new.model_dump(mode="json"), ensure_ascii=False))
            idx.write(json.dumps(_row(new, sha), ensure_ascii=False) + "\n")
            idx.flush()
            if db is not None:
                db.register(new)
            done.append(sha)
            if progress:
                progress(n, len(todo))
    if done:
        write_summaries(items, out, db)
    return done
