"""Tokens the LLM layer sends for "explain every finding + draft part 五", against pasting the whole report.

    python bench/bench_llm_tokens.py [--no-history] [--json]

For each fixtures/*.txt (the 8 real reports) the script reviews the report, then runs the LLM layer
(`Assistant.explain_all` + `Assistant.draft`) against tests/llmstub.py, a real OpenAI-compatible HTTP server on
127.0.0.1 (no network, no model). Every run gets a FRESH LLMCache in a temporary folder, so nothing is a cache hit.

The stub answers each structured request with a valid JSON object of the right schema, queued before the call
(the stub's `default` is a fixed text reply, not a callable): for an explanation an `ExplanationText` made of the
finding's own message and the offline template's causes/corrections; for the draft a `DraftText` made of the
offline draft's items with their material numbers. So the completion side is a stand-in of realistic length,
not a model's answer; the prompt side is exactly what the layer sends.

Counted:
- prompt tokens: `review.llm.tokens.count_messages(request["messages"])` (o200k_base, +4 per message) of every
  chat request the stub recorded: explanations and the draft separately. The JSON schema that
  `with_structured_output(method="json_schema")` sends in `response_format` is counted apart ("schema").
- completion tokens: `tokens.count()` (o200k_base) of each queued reply.
- ledger: what `a.cache.totals()` recorded. The layer records the server's `usage` when it gives one; the stub's
  usage is 1 token per character, so the ledger's prompt figure is characters, not o200k tokens.
- whole report: `count_messages([system of prompts/explain.md, the full file text])`, one prompt. The naive
  alternative needs one such prompt per explained finding plus one for the draft: (findings + 1) × that
  (a lower bound: the finding itself and the answer format would come on top).
- ratio: naive total ÷ our prompt tokens; explanations only: (findings × whole-report prompt) ÷ our explanation
  prompt tokens, i.e. how much larger one whole-report prompt is than our mean explanation prompt.

Then every report is run once more with the cache warm (the same cache file, a new Assistant): it must send
0 requests and add 0 tokens to the ledger (only cache-hit rows).

By default the agency's earlier reports come from a FolderHistory over the 8 fixtures (as `review explain
--history fixtures/` would), so the 平潭 2021/2022 drafts also carry the earlier years' part 五; --no-history
turns that off. No retrieval store is used (no other agencies' part 五 in the draft materials).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import glob
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from llmstub import LLMStub  # noqa: E402

from review.history import FolderHistory  # noqa: E402
from review.llm import tokens  # noqa: E402
from review.llm.cache import LLMCache  # noqa: E402
from review.llm.config import LLMConfig  # noqa: E402
from review.llm.offline import explain_offline  # noqa: E402
from review.llm.prompts import load_prompt  # noqa: E402
from review.llm.draft import materials as draft_materials, offline_items  # noqa: E402
from review.llm.service import Assistant  # noqa: E402

ENC = "o200k_base"


def explanation_reply(rv, finding) -> dict:
    off = explain_offline(rv.result, finding)
    return {"summary": finding.message, "causes": off.causes[:3] or ["数据登记不一致"],
            "corrections": off.corrections[:3] or ["对照原件核实并更正"]}


def _materials(a: Assistant, rv):
    return draft_materials(rv.result, rv.report.lines, a.history, a.store)


def draft_reply(a: Assistant, rv) -> dict:
    mats, prior = _materials(a, rv)
    problems, measures, plan = offline_items(rv.result, rv.report.lines, mats, prior)
    index = {json.dumps(m.ref.model_dump(), sort_keys=True): i for i, m in enumerate(mats, 1)}

    def items(xs):
        out = []
        for x in xs[:5]:
            nums = sorted({index[k] for k in (json.dumps(s.model_dump(), sort_keys=True) for s in x.sources)
                           if k in index}) or [1]
            out.append({"text": x.text, "sources": nums})
        return out
    return {"problems": items(problems), "measures": items(measures), "plan": items(plan)}


def chat_requests(stub: LLMStub, start: int) -> list[dict]:
    return [r for r in stub.requests[start:] if r["path"].endswith("/chat/completions")]


def prompt_tokens(reqs: list[dict]) -> int:
    return sum(tokens.count_messages(r["json"]["messages"], ENC) for r in reqs)


def schema_tokens(reqs: list[dict]) -> int:
    return sum(tokens.count(json.dumps(r["json"].get("response_format") or {}, ensure_ascii=False), ENC)
               for r in reqs)


def run_report(path: Path, stub: LLMStub, cfg: LLMConfig, history, cache_path: Path) -> dict:
    a = Assistant(cfg=cfg, cache=LLMCache(cache_path), history=history)
    rv = a.review(path)
    fails = [f for f in rv.result.findings if f.status == "fail"]  # what explain_all explains

    start = len(stub.requests)
    replies = [explanation_reply(rv, f) for f in fails]
    for r in replies:
        stub.reply_json(r)
    t0 = time.perf_counter()
    exps = a.explain_all(rv)
    t_exp = time.perf_counter() - t0
    exp_reqs = chat_requests(stub, start)
    assert stub.pending() == 0, f"{path.name}: {stub.pending()} queued explanation replies unused"
    assert len(exp_reqs) == len(fails) == len(exps), (path.name, len(exp_reqs), len(fails), len(exps))
    bad = [e.note for e in exps if e.mode != "llm"]
    assert not bad, f"{path.name}: explanations fell back offline: {bad[:2]}"

    start = len(stub.requests)
    d_reply = draft_reply(a, rv)
    stub.reply_json(d_reply)
    t0 = time.perf_counter()
    draft = a.draft(rv)
    t_draft = time.perf_counter() - t0
    draft_reqs = chat_requests(stub, start)
    assert stub.pending() == 0 and len(draft_reqs) == 1, (path.name, stub.pending(), len(draft_reqs))
    assert draft.mode == "llm", f"{path.name}: draft fell back offline: {draft.note}"

    ledger = a.cache.totals()
    text = path.read_text(encoding="utf-8")
    system = load_prompt("explain").system
    whole = tokens.count_messages([{"role": "system", "content": system}, {"role": "user", "content": text}], ENC)
    exp_p = prompt_tokens(exp_reqs)
    draft_p = prompt_tokens(draft_reqs)
    return dict(
        report=path.name, chars=len(text), findings=len(fails), materials=len(_materials(a, rv)[0]),
        explain_prompt=exp_p, draft_prompt=draft_p, prompt=exp_p + draft_p,
        explain_max=max((tokens.count_messages(r["json"]["messages"], ENC) for r in exp_reqs), default=0),
        explain_mean=exp_p / len(exp_reqs) if exp_reqs else 0.0,
        schema=schema_tokens(exp_reqs + draft_reqs),
        completion=sum(tokens.count(json.dumps(r, ensure_ascii=False), ENC) for r in [*replies, d_reply]),
        requests=len(exp_reqs) + len(draft_reqs),
        ledger_calls=ledger["calls"], ledger_hits=ledger["cache_hits"], ledger_prompt=ledger["prompt_tokens"],
        ledger_completion=ledger["completion_tokens"],
        whole=whole, naive_prompts=len(fails) + 1, naive=whole * (len(fails) + 1),
        seconds=t_exp + t_draft,
    )


def run_warm(path: Path, stub: LLMStub, cfg: LLMConfig, history, cache_path: Path) -> dict:
    cache = LLMCache(cache_path)
    before = cache.totals()
    a = Assistant(cfg=cfg, cache=cache, history=history)
    rv = a.review(path)
    start = len(stub.requests)
    exps = a.explain_all(rv)
    draft = a.draft(rv)
    reqs = len(chat_requests(stub, start))
    after = cache.totals()
    assert all(e.mode == "llm" for e in exps) and draft.mode == "llm", path.name
    return dict(report=path.name, requests=reqs, calls=after["calls"] - before["calls"],
                hits=after["cache_hits"] - before["cache_hits"],
                new_prompt=after["prompt_tokens"] - before["prompt_tokens"],
                new_completion=after["completion_tokens"] - before["completion_tokens"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-history", action="store_true", help="no FolderHistory (no earlier part 五 in drafts)")
    ap.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = ap.parse_args()

    paths = [Path(p) for p in sorted(glob.glob(str(ROOT / "fixtures" / "*.txt")))]
    history = None if args.no_history else FolderHistory(paths)
    print(f"# bench_llm_tokens  {_dt.date.today().isoformat()}  Python {platform.python_version()}  "
          f"encoding {ENC}  history={'none' if history is None else 'FolderHistory(fixtures/*.txt)'}")
    rows, warm = [], []
    with LLMStub() as stub, tempfile.TemporaryDirectory(prefix="bench_llm_tokens_") as tmp:
        cfg = LLMConfig(base_url=stub.base_url, api_key="bench-key", model="stub-model", timeout=30, max_retries=0)
        for i, p in enumerate(paths):
            cache_path = Path(tmp) / f"cache_{i}.sqlite"  # fresh per report
            rows.append(run_report(p, stub, cfg, history, cache_path))
        for i, p in enumerate(paths):
            warm.append(run_warm(p, stub, cfg, history, Path(tmp) / f"cache_{i}.sqlite"))

    print()
    print("| report | findings explained | prompt tokens: explanations + draft = ours | completion tokens | "
          "whole report, one prompt | naive: prompts × whole = total | ratio naive/ours | explanations only: naive/ours |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        per = f"{r['whole'] / r['explain_mean']:.1f}×" if r["explain_mean"] else "–"
        print(f"| `{r['report']}` | {r['findings']} | {r['explain_prompt']:,} + {r['draft_prompt']:,} = "
              f"**{r['prompt']:,}** | {r['completion']:,} | {r['whole']:,} | {r['naive_prompts']} × {r['whole']:,} = "
              f"{r['naive']:,} | **{r['naive'] / r['prompt']:.1f}×** | {per} |")
    tot = {k: sum(r[k] for r in rows) for k in ("findings", "explain_prompt", "draft_prompt", "prompt", "completion",
                                                 "whole", "naive_prompts", "naive", "requests", "schema",
                                                 "ledger_calls", "ledger_hits", "ledger_prompt",
                                                 "ledger_completion", "seconds")}
    mean_exp = tot["explain_prompt"] / tot["findings"] if tot["findings"] else 0
    naive_exp = sum(r["whole"] * r["findings"] for r in rows)
    print(f"| **all 8** | {tot['findings']} | {tot['explain_prompt']:,} + {tot['draft_prompt']:,} = "
          f"**{tot['prompt']:,}** | {tot['completion']:,} | {tot['whole']:,} | {tot['naive_prompts']} prompts = "
          f"{tot['naive']:,} | **{tot['naive'] / tot['prompt']:.1f}×** | "
          f"{naive_exp / tot['explain_prompt']:.1f}× |")
    print()
    print(f"requests sent (cold): {tot['requests']} ({tot['findings']} explanations + {len(rows)} drafts); "
          f"mean explanation prompt {mean_exp:.0f} tokens, largest "
          f"{max(r['explain_max'] for r in rows):,}; mean draft prompt {tot['draft_prompt'] / len(rows):.0f}; "
          f"mean whole-report prompt {tot['whole'] / len(rows):.0f}")
    print(f"response_format JSON schema sent with the requests (not in the prompt counts above): "
          f"{tot['schema']:,} tokens in all, {tot['schema'] / tot['requests']:.0f} per request")
    print(f"ledger a.cache.totals() (cold, summed): calls {tot['ledger_calls']}, cache_hits {tot['ledger_hits']}, "
          f"prompt_tokens {tot['ledger_prompt']:,}, completion_tokens {tot['ledger_completion']:,}  "
          f"(the stub's usage = 1 per character; o200k counts above: {tot['prompt']:,} / {tot['completion']:,}, "
          f"{tot['ledger_prompt'] / tot['prompt']:.2f} characters per prompt token)")
    print(f"LLM-layer wall time (cold, loopback stub, explanations + drafts): {tot['seconds']:.1f} s")
    print()
    w = {k: sum(r[k] for r in warm) for k in ("requests", "calls", "hits", "new_prompt", "new_completion")}
    print(f"warm cache (second run, same cache files): requests sent {w['requests']}, ledger rows {w['calls']} "
          f"(cache hits {w['hits']}), new prompt tokens {w['new_prompt']}, new completion tokens {w['new_completion']}")
    assert w["requests"] == 0 and w["new_prompt"] == 0 and w["new_completion"] == 0 and w["hits"] == w["calls"]
    if args.json:
        print(json.dumps({"cold": rows, "warm": warm}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
