"""PDF reading against its floor, `pdftotext -layout` (poppler-utils), on the same files.

    python bench/bench_pdf.py [--repeat 5]

Files: fixtures/huaian_city_2024.pdf (a real 6-page WPS PDF) and the five seeds rendered to PDF by
tests/fixturegen.py (reportlab). For each file, interleaved, --repeat times: `pdftotext -layout FILE /dev/null`
(a process, start-up included), `review.ingest.pdf.read` with the PDFium engine (the default) and with the
pdfminer reference (as the reader worked before), and the whole `review.check` (read, extract, rules).
Reported: median milliseconds and the ratios to pdftotext; pages/s. The tables of both engines are checked equal.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from review import check  # noqa: E402
from review.ingest import pdf  # noqa: E402


def timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if not shutil.which("pdftotext"):
        raise SystemExit("pdftotext is missing: apt-get install poppler-utils")
    import fixturegen
    work = Path(tempfile.mkdtemp(prefix="bench_pdf_"))
    files = [ROOT / "fixtures" / "huaian_city_2024.pdf"] + [fixturegen.render(s, "pdf", work) for s in fixturegen.SEEDS]
    print(f"bench_pdf {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: load {os.getloadavg()[0]:.1f}")
    print(f"{'file':<28} {'pages':>5} {'pdftotext ms':>12} {'pdfium ms':>9} {'x':>5} {'pdfminer ms':>11} {'x':>5} "
          f"{'check ms':>8} {'x':>5}")
    tot = {"floor": 0.0, "fast": 0.0, "ref": 0.0, "check": 0.0}
    pages_total = 0
    for f in files:
        data = f.read_bytes()
        fast, ref = pdf.read(data, f.name), pdf.read(data, f.name, engine="pdfminer")
        assert [(g.rows, g.spans, g.page) for g in fast.tables] == [(g.rows, g.spans, g.page) for g in ref.tables]
        t = {k: [] for k in tot}
        for _ in range(args.repeat):
            t["floor"].append(timed(lambda: subprocess.run(["pdftotext", "-layout", str(f), "/dev/null"], check=True)))
            t["fast"].append(timed(lambda: pdf.read(data, f.name)))
            t["ref"].append(timed(lambda: pdf.read(data, f.name, engine="pdfminer")))
            t["check"].append(timed(lambda: check(data, name=f.name)))
        m = {k: statistics.median(v) for k, v in t.items()}
        for k in tot:
            tot[k] += m[k]
        pages_total += fast.pages
        print(f"{f.name:<28} {fast.pages:>5} {m['floor'] * 1000:>12.1f} {m['fast'] * 1000:>9.1f} "
              f"{m['fast'] / m['floor']:>5.1f} {m['ref'] * 1000:>11.1f} {m['ref'] / m['floor']:>5.1f} "
              f"{m['check'] * 1000:>8.1f} {m['check'] / m['floor']:>5.1f}", flush=True)
    print(f"{'all ' + str(len(files)):<28} {pages_total:>5} {tot['floor'] * 1000:>12.1f} {tot['fast'] * 1000:>9.1f} "
          f"{tot['fast'] / tot['floor']:>5.1f} {tot['ref'] * 1000:>11.1f} {tot['ref'] / tot['floor']:>5.1f} "
          f"{tot['check'] * 1000:>8.1f} {tot['check'] / tot['floor']:>5.1f}")
    print(f"pages/s: pdfium {pages_total / tot['fast']:.1f}, pdfminer {pages_total / tot['ref']:.1f}, "
          f"pdftotext {pages_total / tot['floor']:.1f}; load after {os.getloadavg()[0]:.1f}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
