"""Batch review speed: `review batch` over N reports on 1 and on 2 worker processes, with peak memory.

    python bench/bench_batch.py [--reports 1000]

Reports are the 8 fixtures/*.txt made distinct (a copy number on the last line, so every file has its own
sha256 and is really reviewed). Each run starts from an empty output folder in a fresh process (the CLI),
timed from outside; peak memory per process (the main process, the largest worker) and in total (the largest
sum over the process tree at one moment), sampled every 10 ms with psutil (bench/_proc.py).
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


def timed_run(inputs: Path, out: Path, workers: int):
    """The run (bench/_proc.py Run: seconds, peak MiB of the main process, of the largest worker, in total)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from _proc import run_sampled
    r = run_sampled([sys.executable, "-m", "review.cli", "batch", str(inputs), "--out", str(out),
                     "--workers", str(workers)], cwd=str(ROOT))
    if r.returncode != 0:
        raise SystemExit(f"review batch failed: {r.stderr[-2000:]}")
    return r


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
        print(f"{'workers':>8} {'seconds':>8} {'reports/s':>10}   peak resident memory")
        for workers in (1, 2):
            out = work / f"out{workers}"
            r = timed_run(work / "in", out, workers)
            print(f"{workers:>8} {r.seconds:>8.1f} {args.reports / r.seconds:>10.0f}   main {r.peak_main_mib:.0f} MiB, "
                  f"largest worker {r.peak_child_mib:.0f} MiB ({r.children} processes), total {r.peak_total_mib:.0f} MiB")
            shutil.rmtree(out)
        out = work / "again"
        timed_run(work / "in", out, 2)
        seconds = timed_run(work / "in", out, 2).seconds
        print(f"rerun over a finished output folder (everything skipped): {seconds:.1f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
