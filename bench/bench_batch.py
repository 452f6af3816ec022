"""Batch review speed: `review batch` over N reports on 1 and on 2 worker processes, with peak memory.

    python bench/bench_batch.py [--reports 1000]

Reports are the 8 fixtures/*.txt made distinct (a copy number on the last line, so every file has its own
sha256 and is really reviewed). Each run starts from an empty output folder in a fresh process (the CLI),
timed from outside; peak memory is the largest resident set of the main process and of any worker
(ru_maxrss of the children, read with os.wait4).
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_inputs(folder: Path, n: int) -> None:
    sources = sorted((ROOT / "fixtures").glob("*.txt"))
    folder.mkdir(parents=True)
    for i in range(n):
        src = sources[i % len(sources)]
        (folder / f"{i:05d}_{src.name}").write_text(src.read_text(encoding="utf-8") + f"\n（副本 {i}）\n",
                                                     encoding="utf-8")


def timed_run(inputs: Path, out: Path, workers: int) -> tuple[float, float]:
    """(seconds, peak RSS MiB of the run and its workers)."""
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "review.cli", "batch", str(inputs), "--out", str(out),
                          "--workers", str(workers)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    seconds = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"review batch failed: {p.stderr.read().decode()}")
    import resource
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, max(usage.ru_maxrss / 1024, children)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=1000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        make_inputs(work / "in", args.reports)
        size = sum(p.stat().st_size for p in (work / "in").iterdir()) / args.reports / 1024
        print(f"bench_batch {time.strftime('%Y-%m-%d %H:%M')}: {args.reports} reports, mean {size:.1f} KiB; "
              f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
        print(f"{'workers':>8} {'seconds':>8} {'reports/s':>10} {'peak RSS MiB':>13}")
        for workers in (1, 2):
            out = work / f"out{workers}"
            seconds, peak = timed_run(work / "in", out, workers)
            print(f"{workers:>8} {seconds:>8.1f} {args.reports / seconds:>10.0f} {peak:>13.0f}")
            shutil.rmtree(out)
        out = work / "again"
        timed_run(work / "in", out, 2)
        seconds, _ = timed_run(work / "in", out, 2)
        print(f"rerun over a finished output folder (everything skipped): {seconds:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
