"""`review check --json` as a user runs it: a fresh process over N text reports, start-up included.

    python bench/bench_cli.py [--sizes 500 5000] [--repeat 3]

Inputs: the 8 fixtures/*.txt varied as bench/bench_check.py varies them (agency, narrative numbers, commas), so
no cache makes a copy free. For each size: the floor (a fresh Python process that reads every file, decodes it,
splits it into lines and whitespace tokens and writes a JSON array of the counts), then `review check --json
--no-store` with the default workers (the CPUs) and with --workers 1. Reported: wall seconds (median of
--repeat, each run timed alone), reports/s, the ratio to the floor, and peak memory per process and in total
(psutil, sampled every 10 ms in one more run: the sampler's own CPU use would slow a timed run on two cores). The output is checked: one JSON array, one object per file, in order.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _proc import run_sampled, run_timed  # noqa: E402

FLOOR = r"""
import json, sys
from pathlib import Path
out = []
for p in sorted(Path(sys.argv[1]).iterdir()):
    text = p.read_bytes().decode("utf-8")
    out.append({"source": str(p), "lines": len(text.splitlines()), "tokens": len(text.split())})
sys.stdout.write(json.dumps(out, ensure_ascii=False))
"""


def make_inputs(folder: Path, n: int) -> None:
    import bench_check as bc  # the same variation as the in-process benchmark
    agencies = bc.fixture_agencies()
    texts = {f: f.read_text(encoding="utf-8") for f in bc.FIXTURES}
    folder.mkdir(parents=True)
    for i in range(n):
        f = bc.FIXTURES[i % len(bc.FIXTURES)]
        (folder / f"r{i:05d}.txt").write_text(bc.vary_text(texts[f], agencies[f], i), encoding="utf-8")


PLATEAU = r"""
import json, resource, sys
from pathlib import Path
import psutil
from review.api import check_paths_rendered
from review import text
from review.extract import tokens
files = sorted(Path(sys.argv[1]).iterdir())
marks = {int(m) for m in sys.argv[2].split(",")}
proc = psutil.Process()
for i, line in enumerate(check_paths_rendered(files, render=lambda r: r.model_dump_json(), workers=1), 1):
    if i in marks:
        print(json.dumps({"reports": i, "rss_mib": round(proc.memory_info().rss / 2**20, 1),
                          "norm_cache": text.norm.cache_info().currsize,
                          "number_cache": text.parse_number.cache_info().currsize,
                          "cell_cache": tokens._pieces.cache_info().currsize}), flush=True)
"""


def plateau(folder: Path, n: int, env: dict) -> None:
    """Resident memory of one reviewing process after 100 ... n reports (results dropped as `review check` does):
    what grows is the bounded LRU caches (review/text.py's norm: 4,096 entries, parse_number: 2,048; the tokenizer's
    cell pieces: 4,096), then it stays."""
    import subprocess
    marks = [m for m in (100, 250, 500, 1000, 2000, 3000, 4000, 5000, 7500, 10000) if m <= n]
    p = subprocess.run([sys.executable, "-c", PLATEAU, str(folder), ",".join(map(str, marks))], cwd=ROOT, env=env,
                       capture_output=True, text=True, check=True)
    print("memory of one reviewing process (RSS MiB after N reports; the bounded caches' sizes):")
    for line in p.stdout.splitlines():
        d = json.loads(line)
        print(f"  {d['reports']:>6} reports: {d['rss_mib']:6.1f} MiB   norm cache {d['norm_cache']:>6}, "
              f"number cache {d['number_cache']:>6}, cell cache {d['cell_cache']:>6}")


def _spin(n: int) -> int:
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


def core_scaling(n: int = 4_000_000) -> float:
    """How much two processes get done against one, on a pure-Python loop: about 2.0 when the machine really gives
    this run two cores, less when the host shares them with others (then no command here can scale either)."""
    import multiprocessing
    t = time.perf_counter()
    _spin(n)
    one = time.perf_counter() - t
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_spin, args=(n,)) for _ in range(2)]
    t = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return 2 * one / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 5000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--plateau", type=int, default=0, metavar="N",
                    help="only: the memory of one reviewing process over N reports, at checkpoints")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_cli_"))
    env = {**os.environ, "REVIEW_DATA_DIR": str(work / "no-store")}
    print(f"bench_cli {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}; two processes on a pure-Python loop "
          f"do {core_scaling():.2f}x the work of one (2.0: two free cores)")
    print(f"{'files':>6} {'run':<22} {'seconds':>8} {'files/s':>8} {'x floor':>8} {'main MiB':>9} "
          f"{'worker MiB':>10} {'total MiB':>9}")
    try:
        if args.plateau:
            make_inputs(work / "plateau", args.plateau)
            plateau(work / "plateau", args.plateau, env)
            return 0
        for n in args.sizes:
            inputs = work / f"in{n}"
            make_inputs(inputs, n)
            runs = {"floor (read+split+json)": [sys.executable, "-c", FLOOR, str(inputs)],
                    "review check --json": [sys.executable, "-m", "review.cli", "check", "--json", "--no-store",
                                            str(inputs)],
                    "  --workers 1": [sys.executable, "-m", "review.cli", "check", "--json", "--no-store",
                                      "--workers", "1", str(inputs)]}
            floor = None
            for name, cmd in runs.items():
                results = []
                for _ in range(args.repeat):  # timed alone: a memory sampler would take CPU from the command
                    r = run_timed(cmd, cwd=str(ROOT), env=env, stdout_path=str(work / "out.json"))
                    if r.returncode not in (0, 1):
                        raise SystemExit(f"{name} failed ({r.returncode}): {r.stderr[-2000:]}")
                    results.append(r)
                out = json.loads((work / "out.json").read_text(encoding="utf-8"))
                assert len(out) == n and [Path(o["source"]).name for o in out] == sorted(
                    p.name for p in inputs.iterdir()), "the output is not one object per file in order"
                med = statistics.median(r.seconds for r in results)
                floor = floor or med
                peak = run_sampled(cmd, cwd=str(ROOT), env=env, stdout_path=str(work / "out.json"))  # memory
                print(f"{n:>6} {name:<22} {med:>8.2f} {n / med:>8.0f} {med / floor:>8.1f} {peak.peak_main_mib:>9.0f} "
                      f"{peak.peak_child_mib:>10.0f} {peak.peak_total_mib:>9.0f}   (runs: "
                      + ", ".join(f"{r.seconds:.2f}" for r in results) + ")", flush=True)
        print(f"load after: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
