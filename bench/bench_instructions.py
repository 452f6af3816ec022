"""Instructions per text report: a figure this shared VM cannot make noisy (needs valgrind: apt-get install valgrind).

    python bench/bench_instructions.py [--reports 80] [--against GIT_REV]

Wall-clock figures on this 2-vCPU VM move by ±15% with what other sessions run. The number of instructions a
review executes does not: valgrind's cachegrind counts them (exactly, at about 50× the run time). For each
measured code the script runs a child Python twice under cachegrind, reviewing W and W + N of the varied text
reports bench/bench_cli.py makes (W = 8 warm-up reports, so start-up and the first compile of each regular
expression are in both and cancel), and reports (I(W + N) − I(W)) / N:

- floor: a plain tokenizer over the same files (read, decode, split into lines and whitespace tokens, one small
  JSON object per file), the floor bench/bench_cli.py uses;
- review: `review.check(path)` and the result's JSON (`model_dump_json`), what `review check --json` does per file;
- start-up: `import review.cli` against `python -c pass` (one run each).

With --against REV the same is measured for another commit (checked out into a temporary git worktree and run
with that code), so an optimisation is shown as a ratio in one run. Instructions are not time (cache misses,
branch mispredictions), but on the same machine and the same Python they move together closely.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

WARM = 8

CHILD = r"""
import sys
root, folder, mode, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, root)
from pathlib import Path
files = sorted(Path(folder).iterdir())[:n]
if mode == "floor":
    import json
    for p in files:
        text = p.read_bytes().decode("utf-8")
        json.dumps({"source": str(p), "lines": len(text.splitlines()), "tokens": len(text.split())})
else:
    from review import check
    for p in files:
        check(str(p)).model_dump_json()
"""


def instructions(args: list[str], env: dict) -> int:
    p = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                        sys.executable, *args], capture_output=True, text=True, env=env)
    m = re.search(r"I\s+refs:\s+([\d,]+)", p.stderr)
    if p.returncode != 0 or not m:
        raise SystemExit(f"valgrind failed ({p.returncode}): {p.stderr[-1500:]}")
    return int(m.group(1).replace(",", ""))


def per_report(root: Path, folder: Path, mode: str, n: int, env: dict) -> float:
    child = ["-c", CHILD, str(root), str(folder), mode]
    return (instructions([*child, str(WARM + n)], env) - instructions([*child, str(WARM)], env)) / n


def startup(root: Path, env: dict) -> tuple[int, int]:
    e = dict(env, PYTHONPATH=str(root))
    return instructions(["-c", "import review.cli"], e), instructions(["-c", "pass"], e)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reports", type=int, default=80, help="reports counted after the warm-up (default 80)")
    ap.add_argument("--against", metavar="GIT_REV", help="also measure this commit, as a ratio")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        print("valgrind is not installed (apt-get install valgrind): nothing measured", file=sys.stderr)
        return 2
    from bench_cli import make_inputs

    work = Path(tempfile.mkdtemp(prefix="bench_instr_"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    roots = [("this checkout", ROOT)]
    try:
        folder = work / "in"
        make_inputs(folder, WARM + args.reports)
        if args.against:
            wt = work / "against"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(wt), args.against],
                           check=True, capture_output=True)
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(wt / "review")], capture_output=True)
            roots.append((f"commit {args.against}", wt))
        floor = per_report(ROOT, folder, "floor", args.reports, env)
        print(f"bench_instructions: {args.reports} varied text reports (after {WARM} warm-up), valgrind cachegrind")
        print(f"{'code':<28} {'instr./report':>14} {'x floor':>8} {'start-up instr.':>16} {'x python -c pass':>17}")
        print(f"{'floor (read+split+json)':<28} {floor:>14,.0f} {1.0:>8.1f}")
        first = None
        for name, root in roots:
            rev = per_report(root, folder, "review", args.reports, env)
            up, bare = startup(root, env)
            first = first or rev
            print(f"{name:<28} {rev:>14,.0f} {rev / floor:>8.1f} {up:>16,} {up / bare:>17.1f}")
        if len(roots) > 1:
            print(f"this checkout / {roots[1][0]}: {first / rev:.2f} of the instructions per report")
    finally:
        if args.against:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(work / "against")],
                           capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
