"""Benchmark the deterministic review (`review check`'s work: load + extract + rules) on one core.

    python bench/bench_check.py [--reports 1000] [--pdf-reports 100] [--office-reports 50]
                                [--trace-reports 200] [--repeat 3] [--profile N] [--keep DIR]

Single process, no threads, no network. Inputs are written to a temporary folder first (not
timed); each timed loop then reads every file from disk and reviews it with `review.check(path)`.

1. Text: the 8 fixtures/*.txt made into N reports. Each copy is varied so that the caches in
   review/ (lru_cache on norm() and parse_number()) cannot make it trivially cheap: the agency
   name becomes "测试{i}区行政审批局" wherever it occurs, numbers with a unit (件/条/个/...) in the
   narrative paragraphs are shifted, and each remaining prose paragraph gets one space after a
   comma (norm() removes it, the cache key changes). Table lines are left byte-for-byte intact.
   Pass A times the reviews --repeat times (median reported; results dropped after use, as
   `review check` streams them) and takes RSS; pass B (separate: tracemalloc slows Python
   allocation about 3x) runs the first --trace-reports files under tracemalloc with the results
   kept; pass C times load / extract / rules / result model apart on all N files; pass D reviews
   N unvaried copies (same bytes repeated) to show what the caches are worth. The process is
   pinned to one CPU (sched_setaffinity) for the whole run.
2. PDF: the five seeds rendered to PDF by tests/fixturegen.py (reportlab), copied to --pdf-reports
   files (copies are fine: pdfplumber's layout analysis is the cost and is not cached).
3. HTML and DOCX: the five seeds rendered by tests/fixturegen.py, --office-reports files each,
   the agency name varied per copy the same way as for text.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import os
import platform
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import psutil  # noqa: E402

from review import check  # noqa: E402
from review.extract import extract  # noqa: E402
from review.ingest import load  # noqa: E402
from review.models import ReviewResult  # noqa: E402
from review.rules import RULES_VERSION, run as run_rules  # noqa: E402
import review.text as review_text  # noqa: E402

FIXTURES = sorted((ROOT / "fixtures").glob("*.txt"))
PROC = psutil.Process()

# ----------------------------------------------------------------------------------------- machine


def machine() -> dict:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "mem_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }


def code_version() -> str:
    """git HEAD of the checkout and whether review/ has uncommitted changes (read-only git calls)."""
    import subprocess

    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "review"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes in review/' if dirty else ''}"


def rss_mb() -> float:
    return PROC.memory_info().rss / 2**20


def maxrss_mb() -> float:
    # Linux: ru_maxrss is in KiB (whole process, high-water mark since start)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------- variation

_UNIT_NUM = re.compile(r"(?<![\d.])(\d{1,5})(?=\s*(?:件|条|个|次|项|篇|期|场|批次|人次|余|家|份|名))")
_COMMA = re.compile(r"[，,]")


def is_prose(line: str) -> bool:
    """A narrative paragraph (not a table line): long, no tab/pipe cells, has sentence punctuation."""
    s = line.strip()
    return (len(s) >= 40 and "\t" not in line and not s.startswith("|")
            and any(p in s for p in "，。,；"))


def vary_text(text: str, agency: Optional[str], i: int) -> str:
    """Copy i of a report: new agency name, shifted narrative numbers; table lines untouched."""
    new_agency = f"测试{i}区行政审批局"
    out = []
    for line in text.split("\n"):
        orig = line
        if agency and agency in line:
            line = line.replace(agency, new_agency)
        if is_prose(line):
            line = _UNIT_NUM.sub(lambda m: str(int(m.group(1)) + 1 + i % 97), line)
            if line == orig:
                commas = [m.end() for m in _COMMA.finditer(line)]
                if commas:
                    k = commas[i % len(commas)]
                    line = line[:k] + " " + line[k:]
        out.append(line)
    return "\n".join(out)


def fixture_agencies() -> dict[Path, Optional[str]]:
    """The agency name the extractor reads from each fixture (untimed; used only to vary copies)."""
    return {f: check(str(f)).meta.agency for f in FIXTURES}


# ----------------------------------------------------------------------------------------- timing


def timed_loop(paths: list[str], keep: bool = False) -> tuple[float, float, list]:
    """Review every path with review.check; wall seconds (perf_counter), CPU seconds
    (process_time) and per report (findings, errors). Like `review check`, each result is
    dropped after use unless keep=True (then the results are returned as the third item)."""
    gc.collect()
    out = []
    c0, t0 = time.process_time(), time.perf_counter()
    for p in paths:
        r = check(p)
        out.append(r if keep else (len(r.findings), len(r.errors)))
    return time.perf_counter() - t0, time.process_time() - c0, out


def stage_loop(paths: list[str]) -> dict[str, float]:
    """load / extract / rules / result model timed apart: the same calls review.check makes
    (review.api.review_document), one by one."""
    t_load = t_extract = t_rules = t_result = 0.0
    gc.collect()
    for p in paths:
        t0 = time.perf_counter()
        doc = load(p)
        t1 = time.perf_counter()
        report = extract(doc)
        t2 = time.perf_counter()
        findings = run_rules(report)
        t3 = time.perf_counter()
        ReviewResult(source=doc.source, sha256=doc.sha256, meta=report.meta, sections=report.sections,
                     tables=report.tables, findings=findings, rules_version=RULES_VERSION)
        t4 = time.perf_counter()
        t_load += t1 - t0
        t_extract += t2 - t1
        t_rules += t3 - t2
        t_result += t4 - t3
    return {"load": t_load, "extract": t_extract, "rules": t_rules, "result model": t_result}


def traced_loop(paths: list[str]) -> tuple[float, float, float]:
    """Reviewing paths under tracemalloc, results kept: seconds, traced peak (MiB) and memory
    still held by the kept results at the end (MiB)."""
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    results = []
    t0 = time.perf_counter()
    for p in paths:
        results.append(check(p))
    dt = time.perf_counter() - t0
    gc.collect()
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del results
    return dt, (peak - base) / 2**20, (cur - base) / 2**20


def per_report_peak(paths: list[str]) -> float:
    """Largest tracemalloc peak (MiB) of reviewing one report, result dropped after each."""
    worst = 0.0
    tracemalloc.start()
    for p in paths:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        check(p)
        _, peak = tracemalloc.get_traced_memory()
        worst = max(worst, (peak - base) / 2**20)
    tracemalloc.stop()
    return worst


def cache_info() -> str:
    n, p = review_text.norm.cache_info(), review_text.parse_number.cache_info()
    return (f"norm() cache {n.hits} hits / {n.misses} misses, "
            f"parse_number() cache {p.hits} hits / {p.misses} misses")


def clear_caches() -> None:
    from review.extract import tokens

    review_text.norm.cache_clear()
    review_text.parse_number.cache_clear()
    tokens._pieces.cache_clear()


# ------------------------------------------------------------------------------------------ parts


def say(*a) -> None:
    print(*a, flush=True)


def bench_text(work: Path, n: int, n_trace: int, repeat: int, rows: list, notes: list) -> None:
    say(f"\n== 1. Text: {n} reports from {len(FIXTURES)} fixtures ==")
    agencies = fixture_agencies()  # also warms imports and compiled regexes
    originals = {f: f.read_text(encoding="utf-8") for f in FIXTURES}
    base_results = {f: check(str(f)) for f in FIXTURES}

    tdir = work / "text"
    tdir.mkdir()
    paths = []
    for i in range(n):
        f = FIXTURES[i % len(FIXTURES)]
        p = tdir / f"{i:05d}_{f.stem}.txt"
        p.write_text(vary_text(originals[f], agencies[f], i), encoding="utf-8")
        paths.append(str(p))
    sizes = [os.path.getsize(p) for p in paths]

    # sanity (untimed): the variation keeps every table as the original reads it
    for f, p in zip(FIXTURES, paths[: len(FIXTURES)]):
        a, b = base_results[f], check(p)
        if a.tables.model_dump() != b.tables.model_dump():
            notes.append(f"WARNING: variation changed the tables of {f.name}")
    lines = [ln for p in paths for ln in Path(p).read_text(encoding="utf-8").split("\n") if ln.strip()]
    distinct = len(set(lines))
    say(f"written to {tdir}: {len(paths)} files, {sum(sizes) / 2**20:.1f} MiB, "
        f"{distinct} distinct non-empty lines of {len(lines)} ({distinct / len(lines):.0%})")

    # Pass A: the timed run, `repeat` times (fresh caches each time, as a new process would have
    # them after one warm-up); results dropped as `review check` does.
    runs = []
    for _ in range(repeat):
        clear_caches()
        check(str(FIXTURES[0]))  # warm-up: one original report (imports, regexes, template labels)
        rss0 = rss_mb()
        dt, cpu, summ = timed_loop(paths)
        rss1 = rss_mb()
        runs.append(dt)
        say(f"pass A run {len(runs)}: {n} reports in {dt:.2f} s (CPU {cpu:.2f} s) = {n / dt:.0f} reports/s, "
            f"{dt / n * 1000:.2f} ms/report; RSS {rss0:.0f} -> {rss1:.0f} MiB")
    peak_rss = maxrss_mb()
    dt = statistics.median(runs)
    nfind = [f for f, _ in summ]
    nerr = sum(e for _, e in summ)
    say(f"pass A median: {n / dt:.0f} reports/s ({dt / n * 1000:.2f} ms/report); best {n / min(runs):.0f}, "
        f"worst {n / max(runs):.0f}")
    say(f"  mean size {statistics.mean(sizes) / 1024:.1f} KiB (min {min(sizes) / 1024:.1f}, "
        f"max {max(sizes) / 1024:.1f}); findings/report mean {statistics.mean(nfind):.1f}, "
        f"error findings total {nerr}")
    say(f"  process peak RSS after pass A (ru_maxrss) {peak_rss:.0f} MiB")
    say(f"  last run: {cache_info()}")
    rows.append((f"text (varied), median of {repeat}", n, dt, n / dt, statistics.mean(sizes) / 1024, None, None))
    text_stats = {"rss0": rss0, "rss1": rss1, "peak": peak_rss, "runs": runs}
    gc.collect()

    # Pass B: tracemalloc, on a subset, separate pass (tracemalloc slows Python allocation a lot)
    sub = paths[:n_trace]
    tdt, tpeak, held = traced_loop(sub)
    worst_one = per_report_peak(sub[: len(FIXTURES) * 3])
    say(f"pass B (tracemalloc, {len(sub)} reports, results kept): {tdt:.2f} s "
        f"({len(sub) / tdt:.0f} reports/s under tracing), traced peak {tpeak:.1f} MiB, "
        f"held by the kept results {held:.1f} MiB = {held * 1024 / len(sub):.0f} KiB/result; "
        f"one report with its result dropped: peak at most {worst_one:.2f} MiB")
    text_stats.update(trace_n=len(sub), trace_peak=tpeak, one_peak=worst_one, trace_rate=len(sub) / tdt,
                      held_kib=held * 1024 / len(sub))

    # Pass C: stages timed apart (caches cleared again, as in pass A)
    clear_caches()
    check(str(FIXTURES[0]))
    st = stage_loop(paths)
    tot = sum(st.values())
    say("pass C (stages apart): " + ", ".join(
        f"{k} {v:.2f} s ({v / tot:.0%}, {v / n * 1000:.2f} ms/report)" for k, v in st.items()))
    text_stats["stages"] = st

    # Pass D: unvaried copies (same bytes repeated), fresh caches
    udir = work / "text_same"
    udir.mkdir()
    upaths = []
    for i in range(n):
        f = FIXTURES[i % len(FIXTURES)]
        p = udir / f"{i:05d}_{f.stem}.txt"
        shutil.copyfile(f, p)
        upaths.append(str(p))
    clear_caches()
    check(str(FIXTURES[0]))
    udt, _, _ = timed_loop(upaths)
    say(f"pass D (unvaried copies, for comparison): {n / udt:.0f} reports/s "
        f"({udt:.2f} s); {cache_info()}")
    rows.append(("text (unvaried copies)", n, udt, n / udt, statistics.mean(sizes) / 1024, None, None))
    shutil.rmtree(udir)
    bench_text.stats = text_stats


def profile_text(work: Path, n: int) -> None:
    import cProfile
    import io
    import pstats

    paths = sorted(str(p) for p in (work / "text").glob("*.txt"))[:n]
    clear_caches()
    check(str(FIXTURES[0]))
    prof = cProfile.Profile()
    prof.enable()
    for p in paths:
        check(p)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(15)
    say(f"\n== cProfile: {len(paths)} varied text reports, top 15 by tottime ==")
    say("\n".join(ln for ln in buf.getvalue().splitlines() if ln.strip())[:6000])


def render_seeds(fmt: str, out: Path) -> list[Path]:
    import fixturegen

    return [fixturegen.render(seed, fmt, out) for seed in fixturegen.SEEDS]


def seed_agencies(paths: list[Path]) -> list[Optional[str]]:
    return [check(str(p)).meta.agency for p in paths]


def vary_docx(src: Path, dst: Path, agency: Optional[str], new: str) -> None:
    """Copy a .docx replacing the agency name in word/document.xml (runs are whole paragraphs)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if agency and item.filename == "word/document.xml":
                data = data.decode("utf-8").replace(agency, new).encode("utf-8")
            zout.writestr(item, data)


def bench_office(work: Path, fmt: str, n: int, rows: list) -> None:
    say(f"\n== 3. {fmt.upper()}: {n} reports from the 5 seeds (tests/fixturegen.py) ==")
    seeds = render_seeds(fmt, work / f"{fmt}_seeds")
    ags = seed_agencies(seeds)  # also the warm-up for this reader
    d = work / fmt
    d.mkdir()
    paths = []
    for i in range(n):
        k = i % len(seeds)
        p = d / f"{i:05d}_{seeds[k].name}"
        new = f"测试{i}区行政审批局"
        if fmt == "html":
            text = seeds[k].read_text(encoding="utf-8")
            p.write_text(text.replace(ags[k], new) if ags[k] else text, encoding="utf-8")
        else:
            vary_docx(seeds[k], p, ags[k], new)
        paths.append(str(p))
    sizes = [os.path.getsize(p) for p in paths]
    dt, _, _ = timed_loop(paths)
    st = stage_loop(seeds)
    tot = sum(st.values())
    say(f"{n} files in {dt:.2f} s = {n / dt:.0f} reports/s ({dt / n * 1000:.1f} ms/report), "
        f"mean file {statistics.mean(sizes) / 1024:.1f} KiB")
    say("  stages (5 seeds): " + ", ".join(f"{k} {v / tot:.0%}" for k, v in st.items()))
    rows.append((fmt, n, dt, n / dt, statistics.mean(sizes) / 1024, None, None))


def bench_pdf(work: Path, n: int, rows: list) -> None:
    say(f"\n== 2. PDF: {n} files from the 5 seeds (tests/fixturegen.py, reportlab) ==")
    t0 = time.perf_counter()
    seeds = render_seeds("pdf", work / "pdf_seeds")
    say(f"rendered 5 PDFs in {time.perf_counter() - t0:.1f} s (not counted)")
    pages = {}
    for s in seeds:
        pages[s.name] = load(str(s)).pages  # also the warm-up (pdfplumber import)
    say("pages per seed: " + ", ".join(f"{k} {v}" for k, v in pages.items()))
    d = work / "pdf"
    d.mkdir()
    paths, npages = [], 0
    for i in range(n):
        s = seeds[i % len(seeds)]
        p = d / f"{i:05d}_{s.name}"
        shutil.copyfile(s, p)
        paths.append(str(p))
        npages += pages[s.name] or 0
    sizes = [os.path.getsize(p) for p in paths]
    dt, _, _ = timed_loop(paths)
    st = stage_loop(seeds)
    tot = sum(st.values())
    say(f"{n} PDFs ({npages} pages) in {dt:.2f} s = {n / dt:.2f} PDFs/s, {npages / dt:.1f} pages/s "
        f"({dt / n * 1000:.0f} ms/PDF, {dt / npages * 1000:.0f} ms/page)")
    say("  stages (5 seeds): " + ", ".join(f"{k} {v:.2f} s ({v / tot:.0%})" for k, v in st.items()))
    rows.append(("pdf", n, dt, n / dt, statistics.mean(sizes) / 1024, npages, npages / dt))


# ------------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=int, default=1000, help="text reports (default 1000)")
    ap.add_argument("--pdf-reports", type=int, default=100, help="PDF files (default 100)")
    ap.add_argument("--office-reports", type=int, default=50,
                    help="HTML files and DOCX files, each (default 50)")
    ap.add_argument("--trace-reports", type=int, default=200,
                    help="text reports in the tracemalloc pass (default 200)")
    ap.add_argument("--repeat", type=int, default=3, help="timed text runs; the median is reported (default 3)")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="also cProfile the review of the first N varied text reports, top 15 by tottime")
    ap.add_argument("--keep", type=Path, help="write the inputs here and keep them (default: temp, removed)")
    args = ap.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        try:  # one core, stated explicitly (the work is single-threaded anyway)
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        except OSError:
            pass

    m = machine()
    say(f"bench_check {_dt.datetime.now().isoformat(timespec='seconds')}")
    say(f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem_gb']} GiB RAM, Python {m['python']}, "
        f"{m['platform']}; pinned to 1 core")
    say(f"code: {code_version()}")

    t_all = time.perf_counter()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=args.keep))
    else:
        work = Path(tempfile.mkdtemp(prefix="bench_check_"))
    rows: list = []
    notes: list = []
    try:
        bench_text(work, args.reports, min(args.trace_reports, args.reports), args.repeat, rows, notes)
        if args.profile:
            profile_text(work, args.profile)
        if args.pdf_reports:
            bench_pdf(work, args.pdf_reports, rows)
        for fmt in ("html", "docx"):
            if args.office_reports:
                bench_office(work, fmt, args.office_reports, rows)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    ts = bench_text.stats
    say("\n== Summary (one core, review.check(path): read + load + extract + rules) ==")
    hdr = f"{'input':<30}{'files':>7}{'seconds':>9}{'files/s':>9}{'KiB/file':>10}{'pages':>7}{'pages/s':>9}"
    say(hdr)
    say("-" * len(hdr))
    for name, nf, dt, rate, kib, pages, prate in rows:
        say(f"{name:<30}{nf:>7}{dt:>9.2f}{rate:>9.1f}{kib:>10.1f}"
            f"{(pages if pages is not None else ''):>7}{(f'{prate:.1f}' if prate else ''):>9}")
    say("-" * len(hdr))
    st = ts["stages"]
    tot = sum(st.values())
    say("text stages (pass C): " + ", ".join(f"{k} {v / tot:.0%}" for k, v in st.items()))
    say("text runs (pass A): " + ", ".join(f"{args.reports / t:.0f}" for t in ts["runs"]) + " reports/s")
    say(f"memory, text pass A (results dropped): RSS {ts['rss0']:.0f} -> {ts['rss1']:.0f} MiB in the last run; "
        f"process peak RSS after pass A {ts['peak']:.0f} MiB (ru_maxrss)")
    say(f"memory, text pass B (tracemalloc, {ts['trace_n']} reports, results kept): traced peak "
        f"{ts['trace_peak']:.1f} MiB, {ts['held_kib']:.0f} KiB held per kept result; one report with its "
        f"result dropped peaks at {ts['one_peak']:.2f} MiB; tracemalloc slowed it to "
        f"{ts['trace_rate']:.0f} reports/s")
    say(f"peak RSS whole run (ru_maxrss, includes reportlab/pdfplumber): {maxrss_mb():.0f} MiB")
    say(f"machine: nproc {m['nproc']}, {m['cpu']}, Python {m['python']}")
    say(f"total wall time {time.perf_counter() - t_all:.0f} s")
    for n in notes:
        say(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
