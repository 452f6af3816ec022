"""How well the grounding guard catches what a misbehaving model writes.

Against the OpenAI-compatible stub on 127.0.0.1 (tests/llmstub.py) answering as `GroundingModel`: a model that
copies cells, derives numbers from them (a − b, b ÷ a %), misstates a cell (30 for 29), puts a cell's value on
another column, invents numbers (37, 12.5%) and cites a line it was not given. For every fixture it asks for an
explanation of every finding, a part 五 draft and a chat answer, and counts, per kind of number, how many the
reviewer sees marked 【未核实】, accepted, removed or kept.

    .venv/bin/python bench/bench_grounding.py            # the table; exit status 1 if any check failed

Citations: bad ones cite a line the model was not given, wrong ones a given line that does not hold the number
the sentence states; both must be removed, good ones (the line holds the number) kept.
A number planted as misattributed counts only where the report's real cell differs from it (otherwise it is
no misattribution). The counts are deterministic (no timing); tests/test_llm_grounding.py asserts them.
"""
from __future__ import annotations

import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from llmstub import GroundingModel, LLMStub  # noqa: E402
from review.llm.cache import LLMCache  # noqa: E402
from review.llm.config import LLMConfig  # noqa: E402
from review.llm.grounding import MARK  # noqa: E402
from review.llm.service import Assistant  # noqa: E402

FIXTURES = sorted(p for p in (ROOT / "fixtures").iterdir() if p.suffix in (".txt", ".html", ".pdf"))
_CITE = re.compile(r"〔(?:第\s*\d+\s*行|来源\s*\d+)〕")


def _bare(s: str) -> str:
    return _CITE.sub("", s.replace(MARK, "")).strip()


def _find(sentence: str, output: str) -> str | None:
    """The output's version of a planted sentence (marks and citations as the reviewer sees them)."""
    want = _bare(sentence)
    for piece in re.split(r"(?<=[。！？])|\n", output):
        if piece and _bare(re.sub(r"^\d+\.\s*", "", piece.strip())) == want:
            return piece
    return None


def judge(plan: list[dict], output: str, stripped: list[str], truth: dict) -> Counter:
    """Count, per kind, what became of each planted item in one answer's output text."""
    c: Counter = Counter()
    for item in plan:
        kind, text = item["kind"], item["text"]
        seen = _find(item["sentence"], output)
        if kind in ("invented", "misstated", "misattributed"):
            if kind == "misattributed" and truth.get(item["cell"]) == float(text.rstrip("%")):
                continue  # the other cell happens to hold that value: not a misattribution
            c[f"{kind}"] += 1
            if seen is None:
                c[f"{kind}_dropped"] += 1  # not shown at all (e.g. the offline answer replaced it): never unmarked
            elif f"{text}{MARK}" in seen:
                c[f"{kind}_marked"] += 1
            else:
                c[f"{kind}_UNMARKED"] += 1
        elif kind in ("derived", "copied"):
            if seen is None:
                continue
            c[kind] += 1
            c[f"{kind}_accepted" if f"{text}{MARK}" not in seen else f"{kind}_MARKED"] += 1
        elif kind in ("bad_citation", "wrong_citation"):
            c[kind] += 1
            c[f"{kind}_removed" if text not in output and text in stripped else f"{kind}_KEPT"] += 1
        elif kind == "good_citation" and seen is not None:
            c["good_citation"] += 1
            c["good_citation_kept" if text in output else "good_citation_REMOVED"] += 1
    return c


def _truth(rv) -> dict:
    return {f"{c.row}/{c.column}": (float(c.value) if c.value is not None else None)
            for c in rv.result.tables.applications}


def measure(fixtures=FIXTURES, modes=("explain", "draft", "chat")) -> dict:
    """{mode: Counter} over the fixtures."""
    out = {m: Counter() for m in modes}
    with LLMStub() as stub, tempfile.TemporaryDirectory() as tmp:
        stub.respond_with(GroundingModel(stub))
        cfg = LLMConfig(base_url=stub.base_url, api_key="k", model="stub-model", timeout=20, max_retries=0)
        for path in fixtures:
            a = Assistant(cfg=cfg, cache=LLMCache(Path(tmp) / f"{path.stem}.sqlite"))
            rv = a.review(path)
            truth = _truth(rv)
            if "explain" in modes:
                for f in rv.result.findings:
                    if f.status != "fail":
                        continue
                    n = len(stub.planted)
                    e = a.explain(rv, f)
                    if len(stub.planted) == n:
                        continue
                    text = "\n".join([e.summary, *e.causes, *e.corrections])
                    out["explain"] += judge(stub.planted[-1]["plan"], text, e.stripped_citations, truth)
                    out["explain"]["answers"] += 1
            if "draft" in modes:
                n = len(stub.planted)
                d = a.draft(rv)
                if len(stub.planted) > n:
                    out["draft"] += judge(stub.planted[-1]["plan"], d.text(), d.stripped_citations, truth)
                    out["draft"]["answers"] += 1
            if "chat" in modes:
                session = a.chat(rv)
                n = len(stub.planted)
                list(session.ask("本年新收申请的数字有什么问题？"))
                if len(stub.planted) > n:
                    last = session.last
                    out["chat"] += judge(stub.planted[-1]["plan"], last.text, last.stripped_citations, truth)
                    out["chat"]["answers"] += 1
    return out


def failures(counts: dict) -> list[str]:
    bad = []
    for mode, c in counts.items():
        if not c["answers"]:
            bad.append(f"{mode}: no answer from the stub model at all")
        for k, v in c.items():
            if v and k.endswith(("_UNMARKED", "_MARKED", "_KEPT", "_REMOVED")):
                bad.append(f"{mode}: {k} = {v}")
    return bad


def main() -> int:
    counts = measure()
    kinds = ["invented", "misstated", "misattributed", "derived", "copied", "bad_citation", "wrong_citation",
             "good_citation"]
    print(f"{'mode':8} {'answers':>7}  " + "  ".join(f"{k:>14}" for k in kinds))  # noqa: E501
    for mode, c in counts.items():
        cells = []
        for k in kinds:
            ok = c[f"{k}_marked"] if k in ("invented", "misstated", "misattributed") else \
                c[f"{k}_accepted"] if k in ("derived", "copied") else \
                c[f"{k}_removed"] if k in ("bad_citation", "wrong_citation") else c[f"{k}_kept"]
            extra = c[f"{k}_dropped"]
            cells.append(f"{ok}/{c[k]}" + (f"+{extra}d" if extra else ""))
        print(f"{mode:8} {c['answers']:>7}  " + "  ".join(f"{x:>14}" for x in cells))
    print("invented/misstated/misattributed: marked/planted (+d: the whole answer was replaced by the offline one);"
          " derived/copied: accepted/planted; bad citations (line not given) and wrong ones (the cited line lacks the"
          " number): removed/planted; good citations: kept/planted")
    bad = failures(counts)
    for b in bad:
        print("FAILED", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
