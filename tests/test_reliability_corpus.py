"""The bad-input corpus (tests/badcorpus.py) run file by file in subprocesses with a time limit and a memory cap,
every outcome asserted; and the ingest limits' own properties (configurable, fast, bounded)."""
from __future__ import annotations

import io
import sys
import time
import zipfile
from pathlib import Path

import pytest

from review.ingest import limits, load
from review.models import IngestError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import badcorpus  # noqa: E402

ALLOWED = {"error": {"clean error"}, "read": {"read right"}, "either": {"clean error", "read right"}}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    return badcorpus.run_corpus(tmp_path_factory.mktemp("corpus"))


def test_the_corpus_run_has_nothing_wrong_over_the_limits_hung_or_traced_back(outcomes):
    print("\n" + badcorpus.report(outcomes))
    t = badcorpus.totals(outcomes)
    assert t["inputs tried"] >= 70
    assert (t["wrong"], t["over the limits"], t["hang"], t["traceback"]) == (0, 0, 0, 0), badcorpus.report(outcomes)


def test_every_outcome_is_the_one_expected(outcomes):
    bad = [(o.case.name, o.case.expect, o.verdict, o.detail[:200]) for o in outcomes
           if o.verdict not in ALLOWED[o.case.expect]]
    assert not bad


def test_limit_refusals_are_fast(outcomes):
    """Files refused by a limit are refused before the expensive work (seconds measured inside the probe, on a
    shared machine: the bound is loose; docs/reliability.md has the figures)."""
    refused = [o for o in outcomes if o.probe.get("limit")]
    assert len(refused) >= 10
    slow = [(o.case.name, o.seconds) for o in refused if o.seconds > 2.0]
    assert not slow


# ------------------------------------------------------------------------------------------ the limits

def _docx_with(members: dict[str, bytes], compress=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        z.writestr("word/document.xml", b"<w:document/>")
        for k, v in members.items():
            z.writestr(k, v)
    return buf.getvalue()


def test_limits_are_configured_by_environment_variables(monkeypatch):
    assert limits.current().max_pages == 200
    monkeypatch.setenv("REVIEW_MAX_PAGES", "3")
    monkeypatch.setenv("REVIEW_MAX_LINES", "nonsense")  # a bad value is ignored, not fatal
    lim = limits.current()
    assert lim.max_pages == 3 and lim.max_lines == limits.Limits().max_lines
    monkeypatch.setenv("REVIEW_MAX_FILE_MB", "0.001")
    with pytest.raises(IngestError) as e:
        load(b"x" * 5000, name="a.txt")
    assert "REVIEW_MAX_FILE_MB" in e.value.message and "a.txt" in e.value.message


def test_a_docx_member_over_the_ratio_or_size_is_refused_before_decompressing(monkeypatch):
    bomb = _docx_with({"word/media/zeros.bin": bytes(30 * 1024 * 1024)})
    t0 = time.perf_counter()
    with pytest.raises(IngestError) as e:
        load(bomb, name="bomb.docx")
    assert time.perf_counter() - t0 < 1.0 and "REVIEW_MAX_ZIP_RATIO" in e.value.message
    monkeypatch.setenv("REVIEW_MAX_UNZIPPED_MB", "1")
    stored = _docx_with({"word/media/a.bin": bytes(2 * 1024 * 1024)}, compress=zipfile.ZIP_STORED)
    with pytest.raises(IngestError) as e:
        load(stored, name="big.docx")
    assert "REVIEW_MAX_UNZIPPED_MB" in e.value.message


def test_a_span_is_clamped_and_a_span_bomb_bounded():
    assert limits.span(10 ** 9) == limits.Limits().max_span and limits.span(-3) == 0
    budget = limits.CellBudget()
    budget.take(limits.Limits().max_table_cells)
    with pytest.raises(limits.LimitError):
        budget.take(1)


def test_the_time_limit_interrupts_a_reader(monkeypatch):
    monkeypatch.setenv("REVIEW_MAX_SECONDS", "0.2")
    t0 = time.perf_counter()
    with pytest.raises(limits.LimitError) as e:
        with limits.deadline():
            while True:  # a reader stuck in its own loop
                pass
    assert time.perf_counter() - t0 < 2 and "REVIEW_MAX_SECONDS" in e.value.message
