"""The LLM layer: explain a finding, draft part 五, chat about a report — grounded, budgeted, cached,
and working offline. Cells and values always come from the deterministic review; a model only
supplies words, every number in them is checked (review.llm.grounding), and the report's own text is
passed as data inside a delimited block, never as instructions.

    from review.llm.service import Assistant
    a = Assistant()                      # LLM from OPENAI_BASE_URL / OPENAI_API_KEY / REVIEW_LLM_MODEL, else offline
    reviewed = a.review("fixtures/002_f86e26e747344a50.txt")
    a.explain(reviewed, reviewed.result.findings[0]);  a.draft(reviewed);  a.chat(reviewed).ask("为什么自然人列不平？")
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import Iterator, Optional, Union

from pydantic import BaseModel

from review.llm import tokens
from review.llm.cache import LLMCache
from review.llm.config import LLMConfig, make_chat_model
from review.llm.grounding import Sources, check_numbers, strip_citations
from review.llm.offline import GUIDE, explain_offline
from review.llm.prompts import load_prompt
from review.llm.schemas import (ChatAnswer, DraftItem, DraftText, Explanation, ExplanationText, Part5Draft,
                                SourceRef)
from review.models import Finding, Report, ReviewResult
from review.rules import REGISTRY
from review.rules.crossyear import PART5_LIMIT, repetition

log = logging.getLogger(__name__)
_DENIAL = re.compile(r"(无问题|没有问题|不存在问题|未发现问题|数据无误|完全正确|不存在错误)")
_CN = "一二三四五六"


@dataclass
class Reviewed:
    """A report as the LLM layer sees it: the extraction (with its text lines) and the review result."""

    report: Report
    result: ReviewResult

    @property
    def fails(self) -> list[Finding]:
        return [f for f in self.result.findings if f.status == "fail" and f.severity.value != "info"]


def _budget() -> int:
    return int(os.environ.get("REVIEW_LLM_CONTEXT_TOKENS", "6000"))


class Assistant:
    def __init__(self, cfg: Optional[LLMConfig] = None, cache: Optional[LLMCache] = None, store=None,
                 history=None):
        self.cfg = cfg or LLMConfig.from_env()
        self.model = make_chat_model(self.cfg)
        self._cache = cache
        self.store = store  # review.store.Store, for retrieved prior passages
        self.history = history if history is not None else store  # for the agency's earlier reports

    # ------------------------------------------------------------------ plumbing

    @property
    def cache(self) -> LLMCache:
        if self._cache is None:
            self._cache = LLMCache()
        return self._cache

    @property
    def online(self) -> bool:
        return self.model is not None

    def status(self) -> str:
        return self.cfg.status()

    def review(self, source: Union[str, os.PathLike, bytes], name: Optional[str] = None) -> Reviewed:
        from review.api import review_document
        from review.ingest import load
        report, result = review_document(load(source, name), self.history)
        return Reviewed(report, result)

    def _structured(self, prompt_id: str, values: dict, schema: type[BaseModel]) -> tuple[Optional[BaseModel], Optional[str]]:
        """Ask the model for `schema`; (answer, None) or (None, why it failed). Cached by prompt and inputs."""
        prompt = load_prompt(prompt_id)
        messages = prompt.render(**values)
        key = self.cache.key(model=self.cfg.model or "", prompt_id=prompt.id, prompt_version=prompt.version,
                             prompt_sha=prompt.sha, payload={"messages": messages, "schema": schema.__name__})
        hit = self.cache.get(key)
        if hit is not None:
            self.cache.record_usage(model=self.cfg.model or "", prompt_id=prompt.id, cached=True)
            return schema.model_validate(hit["parsed"]), None
        try:
            runnable = self.model.with_structured_output(schema, method="json_schema", include_raw=True)
            out = runnable.invoke(messages)
        except Exception as e:  # timeouts, HTTP errors, broken JSON: the offline answer is used instead
            return None, _failure(e)
        parsed, raw = out.get("parsed"), out.get("raw")
        if parsed is None:
            return None, _failure(out.get("parsing_error") or ValueError("empty answer"))
        usage = getattr(raw, "usage_metadata", None) or {}
        p_tok = usage.get("input_tokens") or tokens.count_messages(messages)
        c_tok = usage.get("output_tokens") or tokens.count(parsed.model_dump_json())
        self.cache.put(key, {"parsed": parsed.model_dump()}, model=self.cfg.model or "", prompt_id=prompt.id,
                       prompt_tokens=p_tok, completion_tokens=c_tok)
        self.cache.record_usage(model=self.cfg.model or "", prompt_id=prompt.id, prompt_tokens=p_tok,
                                completion_tokens=c_tok, cached=False)
        return parsed, None

    # ------------------------------------------------------------------ explain

    def explain(self, rv: Reviewed, finding: Finding) -> Explanation:
        offline = explain_offline(rv.result, finding)
        if not self.online:
            return offline
        rule = REGISTRY.get(finding.rule)
        m = rv.result.meta
        values = dict(agency=m.agency or "（机关未写明）", year=m.year or "", format=m.format or "?", source=rv.result.source,
                      rule=finding.rule, rule_title=rule.title if rule else "", basis=rule.basis if rule else "",
                      severity={"error": "错误", "warning": "警告", "info": "提示"}[finding.severity.value],
                      message=finding.message,
                      cells="\n".join(f"- {c.ref}：{c.value if c.value is not None else '（无数值）'}"
                                      f"（{c.state or ''}{'，第 %d 行' % c.line if c.line else ''}）" for c in offline.cells)
                      or "（无）",
                      hints="\n".join(f"- {c}" for c in offline.causes), excerpt=_excerpt(rv.report, finding))
        answer, why = self._structured("explain", values, ExplanationText)
        if answer is None:
            return offline.model_copy(update={"note": f"{why}，已改用离线解释"})
        if finding.status == "fail" and _DENIAL.search(answer.summary):
            return offline.model_copy(update={"note": "大模型的回答否认了这条规则发现，已弃用，改用离线解释"})
        words = "\n".join([answer.summary, *answer.causes, *answer.corrections])
        grounding = check_numbers(words, Sources().add_result(rv.result, rv.report.lines))
        return Explanation(fingerprint=finding.fingerprint, rule=finding.rule, severity=finding.severity.value,
                           summary=answer.summary, cells=offline.cells, causes=answer.causes,
                           corrections=answer.corrections, mode="llm", model=self.cfg.model,
                           unsupported_numbers=grounding.unsupported)

    def explain_all(self, rv: Reviewed, include_not_assessable: bool = False) -> list[Explanation]:
        return [self.explain(rv, f) for f in rv.result.findings
                if f.status == "fail" or include_not_assessable]

    # ------------------------------------------------------------------ draft

    def _materials(self, rv: Reviewed) -> list[tuple[SourceRef, str]]:
        """Numbered materials for a part 五 draft: this year's findings, the agency's earlier part 五,
        similar agencies' part 五, and this report's own part 五."""
        m = rv.result.meta
        out: list[tuple[SourceRef, str]] = []
        for f in rv.fails[:12]:
            out.append((SourceRef(kind="finding", fingerprint=f.fingerprint), f"审核发现：{f.message}"))
        if self.history is not None and m.agency:
            earlier = sorted((r for r in self.history.reports_of(m.agency)
                              if r.meta.year and m.year and r.meta.year < m.year), key=lambda r: -r.meta.year)
            for r in earlier[:2]:
                five = next((s for s in r.sections if s.number == 5), None)
                if five:
                    out.append((SourceRef(kind="prior", agency=r.meta.agency, year=r.meta.year, part=5,
                                          source=r.source, line=five.line), f"本机关往年第五部分：{five.text}"))
        if self.store is not None:
            query = "；".join(f.title for f in rv.fails[:6]) or "政府信息公开工作存在的问题及改进措施"
            for p in self.store.similar(query, k=3, part=5, exclude_agency=m.agency or None,
                                        exclude_sha256=rv.result.sha256):
                out.append((SourceRef(kind="prior", agency=p.agency, year=p.year, part=5, source=p.source, line=p.line),
                            f"其他机关第五部分：{p.text}"))
        own = next((s for s in rv.result.sections if s.number == 5), None)
        if own and own.text.strip():
            out.append((SourceRef(kind="report", agency=m.agency, year=m.year, part=5, source=rv.result.source,
                                  line=own.line), f"本年报第五部分原文：{own.text}"))
        return out

    def draft(self, rv: Reviewed) -> Part5Draft:
        mats = self._materials(rv)
        draft = _offline_draft(rv, mats)
        if self.online:
            budget = _budget()
            each = max(budget // max(len(mats), 1), 200)
            listing = "\n".join(f"[{i}] {tokens.truncate(text, each)}" for i, (_, text) in enumerate(mats, 1))
            m = rv.result.meta
            answer, why = self._structured("draft", dict(agency=m.agency or "本机关", year=m.year or "",
                                                         materials=listing), DraftText)
            if answer is None:
                draft.note = f"{why}，已改用离线草稿"
            else:
                def items(xs) -> list[DraftItem]:
                    # keep only sources the model was given (paper-qa style): an item with none left is dropped
                    out = []
                    for x in xs:
                        refs = [mats[i - 1][0] for i in x.sources if 1 <= i <= len(mats)]
                        if refs:
                            out.append(DraftItem(text=x.text, sources=refs))
                    return out
                draft = draft.model_copy(update=dict(problems=items(answer.problems), measures=items(answer.measures),
                                                     plan=items(answer.plan), mode="llm", model=self.cfg.model,
                                                     note=None))
                grounding = check_numbers(draft.text(), Sources().add_result(rv.result, rv.report.lines)
                                          .add_text("\n".join(t for _, t in mats)))
                draft.unsupported_numbers = grounding.unsupported
        return self._with_repetition(rv, draft)

    def _with_repetition(self, rv: Reviewed, draft: Part5Draft) -> Part5Draft:
        """Run the part 五 repetition rule on the draft against the agency's latest earlier part 五."""
        m = rv.result.meta
        if self.history is None or not m.agency:
            return draft
        earlier = [r for r in self.history.reports_of(m.agency) if r.meta.year and m.year and r.meta.year < m.year]
        if not earlier:
            return draft
        prior = max(earlier, key=lambda r: r.meta.year)
        five = next((s for s in prior.sections if s.number == 5), None)
        if five is None:
            return draft
        share, repeated = repetition(draft.text(), five.text)
        return draft.model_copy(update=dict(repetition=round(share, 3), repetition_year=prior.meta.year,
                                            repeated_sentences=repeated, repetition_warning=share > PART5_LIMIT))

    # ------------------------------------------------------------------ chat

    def chat(self, rv: Reviewed) -> "ChatSession":
        return ChatSession(self, rv)


class ChatSession:
    """One conversation about one report: history kept, context rebuilt per question under a token budget."""

    def __init__(self, assistant: Assistant, rv: Reviewed):
        self.a, self.rv = assistant, rv
        self.history: list[dict] = []
        self.last: Optional[ChatAnswer] = None

    def _context(self, question: str) -> tuple[dict, set[int], list]:
        rv, budget = self.rv, _budget()
        m = rv.result.meta
        findings = "\n".join(f"- [{f.fingerprint}] {f.message}" + (f"〔第{f.line}行〕" if f.line else "")
                             for f in rv.result.findings if f.status == "fail") or "（无）"
        findings = tokens.truncate(findings, budget * 3 // 10)
        lines = _relevant_lines(rv, question)
        excerpt, given = [], set()
        left = budget * 45 // 100
        for n in lines:
            row = f"〔第{n}行〕{rv.report.lines[n - 1].strip()}"
            cost = tokens.count(row)
            if cost > left:
                break
            excerpt.append(row)
            given.add(n)
            left -= cost
        hits = []
        if self.a.store is not None:
            hits = self.a.store.similar(question, k=4, exclude_sha256=rv.result.sha256)
        src, left = [], budget * 25 // 100
        for k, h in enumerate(hits, 1):
            row = f"〔来源{k}〕{h.agency}{h.year}年报第{_CN[h.part - 1]}部分：{h.text}"
            row = tokens.truncate(row, max(left, 0))
            left -= tokens.count(row)
            src.append(row)
        values = dict(agency=m.agency or "", year=m.year or "", findings=findings, excerpt="\n".join(excerpt) or "（无）",
                      sources="\n".join(src) or "（无）", question=question)
        return values, given, hits

    def ask(self, question: str) -> Iterator[str]:
        """Stream the answer's text; afterwards `self.last` holds the whole ChatAnswer (citations checked)."""
        values, given, hits = self._context(question)
        if not self.a.online:
            text = _offline_chat(self.rv, question)
            self.last = ChatAnswer(text=text, mode="offline", note="未配置大模型：根据审核发现和表格数值回答")
            self.history += [{"role": "user", "content": question}, {"role": "assistant", "content": text}]
            yield text
            return
        prompt = load_prompt("chat")
        system, user = prompt.render(**values)
        messages = [system, *self.history[-8:], user]
        key = self.a.cache.key(model=self.a.cfg.model or "", prompt_id=prompt.id, prompt_version=prompt.version,
                               prompt_sha=prompt.sha, payload={"messages": messages})
        hit = self.a.cache.get(key)
        p_tok = tokens.count_messages(messages)
        if hit is not None:
            self.a.cache.record_usage(model=self.a.cfg.model or "", prompt_id=prompt.id, cached=True)
            text, note = hit["text"], None
            yield text
        else:
            parts, note = [], None
            usage = {}
            try:
                model = make_chat_model(self.a.cfg, streaming=True, stream_usage=True)
                for chunk in model.stream(messages):
                    if chunk.content:
                        parts.append(chunk.content)
                        yield chunk.content
                    usage = getattr(chunk, "usage_metadata", None) or usage
            except Exception as e:
                note = f"{_failure(e)}；以下根据审核发现回答"
                fallback = _offline_chat(self.rv, question)
                yield ("\n" if parts else "") + f"（{note}）\n" + fallback
                parts = [fallback]
            text = "".join(parts)
            if note is None:
                c_tok = usage.get("output_tokens") or tokens.count(text)
                p_tok = usage.get("input_tokens") or p_tok
                self.a.cache.put(key, {"text": text}, model=self.a.cfg.model or "", prompt_id=prompt.id,
                                 prompt_tokens=p_tok, completion_tokens=c_tok)
                self.a.cache.record_usage(model=self.a.cfg.model or "", prompt_id=prompt.id, prompt_tokens=p_tok,
                                          completion_tokens=c_tok, cached=False)
        clean, stripped = strip_citations(text, given, len(hits))
        sources = Sources().add_result(self.rv.result, self.rv.report.lines).add_text("\n".join(h.text for h in hits))
        grounding = check_numbers(clean, sources)
        cites = re.findall(r"〔(?:第\s*\d+\s*行|来源\s*\d+)〕", clean)
        self.last = ChatAnswer(text=clean, mode="llm" if note is None else "offline", model=self.a.cfg.model,
                               citations=cites, stripped_citations=stripped, unsupported_numbers=grounding.unsupported,
                               prompt_tokens=p_tok, note=note)
        self.history += [{"role": "user", "content": question}, {"role": "assistant", "content": clean}]


# ---------------------------------------------------------------------------------------------- helpers

def _is_status_error(e: BaseException) -> bool:
    import openai
    return isinstance(e, openai.APIStatusError)


def _failure(e: BaseException) -> str:
    name = type(e).__name__
    detail = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
    if "Timeout" in name:
        what = "大模型请求超时"
    elif "Connection" in name:
        what = "连不上大模型服务"
    elif "Validation" in name or "JSON" in name or "Parse" in name or "parsing" in detail.lower():
        what = "大模型返回的内容不是约定的 JSON 格式"
    elif _is_status_error(e):
        what = f"大模型服务返回错误（HTTP {e.status_code}）"
    else:
        what = "大模型调用失败"
    log.warning("LLM call failed: %s: %s", name, detail)
    return f"{what}（{name}{'：' + detail if detail else ''}）"


def _excerpt(report: Report, finding: Finding, around: int = 2) -> str:
    """The report lines a finding points at (its line and its evidence lines), numbered."""
    wanted = {finding.line} | {e.line for e in finding.evidence}
    wanted.discard(None)
    if finding.section:
        s = next((s for s in report.sections if s.number == finding.section), None)
        if s:
            wanted |= set(range(s.line, min(s.line + 6, s.end_line + 1)))
    keep = sorted({n for w in wanted for n in range(w - around, w + around + 1) if 1 <= n <= len(report.lines)})
    rows = [f"〔第{n}行〕{report.lines[n - 1].strip()}" for n in keep if report.lines[n - 1].strip()]
    return tokens.truncate("\n".join(rows), 1200) or "（无相关行）"


def _relevant_lines(rv: Reviewed, question: str) -> list[int]:
    """Report lines worth showing for a question: the findings' lines first, then lines sharing words with it."""
    out: list[int] = []
    for f in rv.result.findings:
        for n in [f.line, *(e.line for e in f.evidence)]:
            if n and n not in out:
                out.append(n)
    grams = {question[i:i + 2] for i in range(len(question) - 1)} - {"什么", "为什", "怎么", "这个", "是否", "哪些"}
    scored = []
    for n, line in enumerate(rv.report.lines, 1):
        if n in out or not line.strip():
            continue
        score = sum(1 for g in grams if g in line)
        if score >= 2:
            scored.append((-score, n))
    out += [n for _, n in sorted(scored)[:40]]
    return out


def _offline_draft(rv: Reviewed, mats: list[tuple[SourceRef, str]]) -> Part5Draft:
    """A draft assembled from the findings and the retrieved prior passages, with no model."""
    m = rv.result.meta
    by_rule: dict[str, list[Finding]] = {}
    for f in rv.fails:
        by_rule.setdefault(f.rule, []).append(f)
    ref = {s.fingerprint: s for s, _ in mats if s.kind == "finding"}
    problems, measures, plan = [], [], []
    for rule_id, fs in by_rule.items():
        title = REGISTRY[rule_id].title if rule_id in REGISTRY else rule_id
        sources = [ref[f.fingerprint] for f in fs if f.fingerprint in ref]
        more = f"等 {len(fs)} 处" if len(fs) > 1 else ""
        problems.append(DraftItem(text=f"{_PROBLEM_LEAD.get(rule_id.split('-')[0], '年报编制审核把关不严')}："
                                       f"{fs[0].message.rstrip('。')}{more}（{title}）。", sources=sources))
        fixes = GUIDE.get(rule_id, ([], ["对照原件核实并更正"]))[1]
        measures.append(DraftItem(text=fixes[0] + "。", sources=sources))
    if not problems:
        problems.append(DraftItem(text="本年度年报经审核未发现表格、格式方面的问题；请结合本机关政府信息公开工作实际，写明存在的具体不足。"))
    others = [(s, t) for s, t in mats if s.kind == "prior" and t.startswith("其他机关")]
    for s, t in others[:2]:
        for sentence in _measure_sentences(t.split("：", 1)[1]):
            measures.append(DraftItem(text=f"参考{s.agency}{s.year}年做法：{sentence}", sources=[s]))
    if not measures:  # nothing found wrong and nothing retrieved: start from the report's own measures
        own = [(s, t) for s, t in mats if s.kind == "report"]
        for s, t in own:
            measures += [DraftItem(text=x, sources=[s]) for x in _measure_sentences(t.split("：", 1)[1], 3)]
    if not measures:
        measures.append(DraftItem(text="请结合本机关实际写明已采取的改进措施。"))
    families = {r.split("-")[0] for r in by_rule}
    if families & {"applications", "appeals", "count", "cell", "table", "words"}:
        plan.append(DraftItem(text="建立依申请公开和复议诉讼登记台账，年报表格数据由专人按勾稽关系复核后再发布。"))
    if families & {"parts", "part5", "part6", "title", "format", "year"}:
        plan.append(DraftItem(text="对照国办年报格式逐项编写年报，发布前开展内容和格式审查。"))
    if "publication" in families:
        plan.append(DraftItem(text="按《条例》第四十九条规定的时限发布年度报告。"))
    if families & {"carryover", "rollforward", "report", "part5"}:
        plan.append(DraftItem(text="结合本年度实际工作编写问题和改进措施，不沿用往年表述，并跟进上一年度承诺事项的落实。"))
    if not plan:
        plan.append(DraftItem(text="持续做好政府信息主动公开和依申请公开工作，按时编制发布年度报告。"))
    return Part5Draft(source=rv.result.source, agency=m.agency, year=m.year, problems=problems, measures=measures,
                      plan=plan, materials=[s for s, _ in mats], mode="offline",
                      note="未配置大模型：草稿由审核发现和检索到的往年材料拼成，请审核人员修改")


_PROBLEM_LEAD = {"applications": "依申请公开数据统计不准确", "appeals": "复议诉讼数据统计不准确",
                 "words": "年报正文与表格数据不一致", "cell": "年报表格填写不规范", "table": "年报表格不完整",
                 "count": "年报表格填写不规范", "parts": "年报内容不完整", "part5": "年报内容不完整",
                 "part6": "年报内容不完整", "title": "年报规范性不足", "year": "年报规范性不足", "format": "年报规范性不足",
                 "publication": "年报未按期发布", "carryover": "跨年度数据衔接不一致", "rollforward": "跨年度数据衔接不一致",
                 "report": "年报内容沿用往年"}


def _measure_sentences(text: str, n: int = 1) -> list[str]:
    """The first improvement sentences of a part 五 text (after its 改进/措施 heading, if it has one)."""
    start = min((i for i in (text.find(w) for w in ("改进措施", "改进情况", "措施", "下一步", "将采取")) if i >= 0),
                default=0)
    out = []
    for x in re.split(r"(?<=[。；])|\n", text[start:]):
        x = (x or "").strip()
        if re.search(r"加强|完善|建立|推进|提升|丰富|健全", x) and not re.search(r"有待|不足|不够|欠缺", x):
            out.append(re.sub(r"^[（(][一二三四五六][)）][^：:]{0,8}[：:]", "", x))
            if len(out) == n:
                break
    return out


def _offline_chat(rv: Reviewed, question: str) -> str:
    """An answer from the structured findings and cells: the findings the question names, else all of them."""
    grams = {question[i:i + 3] for i in range(len(question) - 2)}
    fails = [f for f in rv.result.findings if f.status == "fail"]
    chosen = [f for f in fails if any(g in f.message or g in f.title for g in grams)] or fails
    if not chosen:
        return "（未配置大模型）本年报审核未发现错误或警告。"
    out = ["（未配置大模型，以下根据审核发现和表格数值回答）"]
    for f in chosen[:8]:
        where = f"〔第{f.line}行〕" if f.line else ""
        out.append(f"- {f.message}{where}")
        cells = "；".join(f"{e.ref}={e.value}" for e in f.evidence[:7] if e.value is not None)
        if cells:
            out.append(f"  相关单元格：{cells}")
        out.append(f"  可能原因：{explain_offline(rv.result, f).causes[0]}")
    return "\n".join(out)
