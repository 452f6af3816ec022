"""What reading converter and OCR text layouts costs (review/extract/layouts.py, digitsplit.py).

    python bench/bench_layouts.py [--rounds 5] [--n 40]

Single process, CPU time (time.process_time). Two measurements, each as a ratio to a floor run in the
same process, alternated round by round so machine load hits both sides alike:

1. The text fixtures (fixtures/*.txt, which need no normalising): `review.check` with the layout
   view as it is, against the same with the view replaced by the plain line enumeration — the cost of
   the shape test every text report pays.
2. Converted texts (pdftotext -layout of the real PDF, and the same with the separators between each
   row's numbers deleted), against the tab-separated text of the same seeds: what the normalising and
   the digit-run search cost when they do work. Skipped when pdftotext is not installed.

Timings on a shared machine are noisy: read the ratios, and re-measure on a quiet one.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import fixturegen as fg  # noqa: E402
import review.extract.tokens as tokens  # noqa: E402
from review import check  # noqa: E402


def _cpu_ms(items: list, n: int) -> float:
    t0 = time.process_time()
    for _ in range(n):
        for item in items:
            check(item) if isinstance(item, Path) else check(item[1], name=item[0])
    return (time.process_time() - t0) / n / len(items) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--n", type=int, default=40, help="passes over the inputs per timed run")
    args = ap.parse_args()

    fixtures = sorted((ROOT / "fixtures").glob("*.txt"))
    real_view = tokens.view

    def plain(doc):
        return enumerate(doc.lines, 1)

    _cpu_ms(fixtures, 2)  # warm the caches
    ratios = []
    for r in range(args.rounds):
        tokens.view = plain
        floor = _cpu_ms(fixtures, args.n)
        tokens.view = real_view
        with_view = _cpu_ms(fixtures, args.n)
        ratios.append(with_view / floor)
        print(f"1. round {r + 1}: text fixtures {with_view:.3f} ms/report with the layout view, "
              f"{floor:.3f} without (floor): ratio {with_view / floor:.3f}")
    print(f"1. median ratio {statistics.median(ratios):.3f} (1.000 = free); "
          f"{1000 / with_view:.0f} reports/s CPU in the last round")

    if not fg.have_pdftotext():
        print("2. skipped: pdftotext (poppler-utils) is not installed")
        return
    with tempfile.TemporaryDirectory() as tmp:
        seeds = fg.SEEDS
        tabs = [(f"{s}.tabs.txt", fg.render(s, "tabs", Path(tmp)).read_bytes()) for s in seeds]
        pdfs = [fg.render(s, "pdf", Path(tmp)) for s in seeds] + [ROOT / "fixtures" / "huaian_city_2024.pdf"]
        layout = [(f"{p.stem}.layout.txt", fg.pdftotext(p, "layout").encode()) for p in pdfs]
        lost = [(f"{p.stem}.lost.txt", fg.lose_separators(fg.pdftotext(p, "layout"), label_too=True).encode())
                for p in pdfs]
    _cpu_ms(tabs + layout + lost, 1)
    for r in range(args.rounds):
        floor = _cpu_ms(tabs, args.n // 4 or 1)
        lay = _cpu_ms(layout, args.n // 4 or 1)
        los = _cpu_ms(lost, args.n // 4 or 1)
        print(f"2. round {r + 1}: tab text {floor:.3f} ms/report (floor); pdftotext -layout {lay:.3f} "
              f"(ratio {lay / floor:.2f}); separators lost {los:.3f} (ratio {los / floor:.2f})")


if __name__ == "__main__":
    main()
