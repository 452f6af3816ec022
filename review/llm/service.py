"""The LLM layer: explain a finding, draft part 五, chat about a report — grounded, budgeted, cached,
and working offline. Cells and values always come from the deterministic review; a model only supplies words.

Every answer that leaves this module is already checked and marked, so every output (JSON, CLI, chat, the UI,
batch files, memos) carries the same marks:
- each number is checked against what THAT call was given (review.llm.grounding): copied and derived numbers
  pass (derived ones are listed with how), misattributed and invented ones are marked 【未核实】 in the text and
  listed with their sentence in `unsupported_numbers`;
- citations to lines or sources the model was not given are removed; kept ones are listed with the cited text;
- an answer that denies a rule's finding (also in soft words) is replaced by the offline answer;
- report text is passed as data in <<< >>> blocks it cannot close (review.llm.safety);
- calls fail well (review.llm.calls): nothing empty is cached, the first timeout takes the rest of the run
  offline, servers without json_schema work, and every answer records the prompt id/version and the model.

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

from review.llm import tokens
from review.llm.cache import LLMCache
from review.llm.calls import Caller, CallFailed, failure_note
from review.llm.config import LLMConfig, make_chat_model
from review.llm.draft import materials as draft_materials, offline_items, sanitize
from review.llm.grounding import (Grounding, Material, cells_of, check_numbers, citations_in, cited_line, mark,
                                  strip_citations, verify_line_citations)
from review.llm.offline import GUIDE, answer_cells, cells_for_question, explain_offline
from review.llm.prompts import load_prompt
from review.llm.safety import as_data, denial
from review.llm.schemas import ChatAnswer, DraftItem, DraftText, Explanation, ExplanationText, Part5Draft
from review.models import Finding, Report, ReviewResult
from review.rules import REGISTRY
from review.rules.crossyear import PART5_LIMIT, _grams, repetition

log = logging.getLogger(__name__)
_CN = "一二三四五六"
_SENTENCE_END = re.compile(r"[。！？!?\n；]")
_PART_WORDS = {1: ("总体情况",), 2: ("主动公开", "表二"), 3: ("依申请", "申请", "表三"), 4: ("复议", "诉讼", "表四"),
               5: ("问题", "改进", "措施", "第五部分"), 6: ("信息处理费", "其他需要报告", "第六部分")}


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
        self._cache = cache
        self.store = store  # review.store.Store, for retrieved prior passages
        self.history = history if history is not None else store  # for the agency's earlier reports
        self.caller = Caller(self.cfg, lambda: self.cache)

    # ------------------------------------------------------------------ plumbing

    @property
    def cache(self) -> LLMCache:
        if self._cache is None:
            self._cache = LLMCache()
        return self._cache

    @property
    def online(self) -> bool:
        return self.cfg.configured

    @property
    def model(self):
        """A langchain ChatOpenAI for this configuration (None offline); the service itself calls the openai
        client directly (review.llm.calls)."""
        return make_chat_model(self.cfg)

    def status(self) -> str:
        return self.cfg.status()

    def run_note(self) -> Optional[str]:
        """Why the model is not asked any more in this run (after a timeout or refused connection), or None."""
        return self.caller.down

    def review(self, source: Union[str, os.PathLike, bytes], name: Optional[str] = None) -> Reviewed:
        from review.api import review_document
        from review.ingest import load
        report, result = review_document(load(source, name), self.history)
        return Reviewed(report, result)

    # ------------------------------------------------------------------ explain

    def explain(self, rv: Reviewed, finding: Finding) -> Explanation:
        offline = explain_offline(rv.result, finding)
        if not self.online:
            return offline
        rule = REGISTRY.get(finding.rule)
        m = rv.result.meta
        excerpt, given = _excerpt(rv.report, finding)
        values = dict(agency=m.agency or "（机关未写明）", year=m.year or "", format=m.format or "?", source=rv.result.source,
                      rule=finding.rule, rule_title=rule.title if rule else "", basis=rule.basis if rule else "",
                      severity={"error": "错误", "warning": "警告", "info": "提示"}[finding.severity.value],
                      message=as_data(finding.message),
                      cells="\n".join(f"- {c.ref}：{c.value if c.value is not None else '（无数值）'}"
                                      f"（{c.state or ''}{'，第 %d 行' % c.line if c.line else ''}）" for c in offline.cells)
                      or "（无）",
                      hints="\n".join(f"- {c}" for c in offline.causes), excerpt=as_data(excerpt))
        prompt = load_prompt("explain")
        try:
            answer, trace = self.caller.structured(prompt, values, ExplanationText)
        except CallFailed as e:
            return offline.model_copy(update={"note": f"{e.note}，已改用离线解释"})
        words = "\n".join([answer.summary, *answer.causes, *answer.corrections])
        allowed = "\n".join([offline.summary, *offline.causes, *offline.corrections])
        phrase = denial(words, allowed)
        if finding.status == "fail" and finding.severity.value != "info" and phrase:
            return offline.model_copy(update={
                "note": f"大模型的回答与这条规则发现相矛盾（“{phrase}”），已弃用，改用离线解释",
                "prompt_id": trace.prompt_id, "prompt_version": trace.prompt_version})
        material = (Material(cells_of(rv.result))
                    .add_values([c.value for c in offline.cells])
                    .add_values([e.value for e in finding.evidence])
                    .add_text(finding.message, quantities=True)
                    .add_text("\n".join(offline.causes))
                    .add_text(excerpt)
                    .add_text(values["basis"])
                    .add_years(*_years(m)))
        checked = _Checker(material, given, 0, rv.report.lines)
        summary = checked.text(answer.summary)
        causes = [checked.text(x) for x in answer.causes]
        corrections = [checked.text(x) for x in answer.corrections]
        g = checked.grounding
        return Explanation(fingerprint=finding.fingerprint, rule=finding.rule, severity=finding.severity.value,
                           summary=summary, cells=offline.cells, causes=causes, corrections=corrections, mode="llm",
                           model=trace.model, prompt_id=trace.prompt_id, prompt_version=trace.prompt_version,
                           unsupported_numbers=g.unsupported, derived_numbers=g.derived,
                           citations=checked.kept, stripped_citations=g.stripped_citations)

    def explain_all(self, rv: Reviewed, include_not_assessable: bool = False) -> list[Explanation]:
        return [self.explain(rv, f) for f in rv.result.findings
                if f.status == "fail" or include_not_assessable]

    # ------------------------------------------------------------------ draft

    def draft(self, rv: Reviewed) -> Part5Draft:
        m = rv.result.meta
        mats, prior = draft_materials(rv.result, rv.report.lines, self.history, self.store)
        problems, measures, plan = offline_items(rv.result, rv.report.lines, mats, prior)
        others = [x.ref.agency for x in mats if x.role == "other" and x.ref.agency]
        if self.store is not None and hasattr(self.store, "list"):  # any agency the store knows, not only those used
            from review.agency import same_agency
            try:
                others += [r.agency for r in self.store.list()
                           if r.agency and not (m.agency and same_agency(r.agency, m.agency))]
            except Exception:  # noqa: BLE001 - a broken store must not stop a draft
                pass
        draft = Part5Draft(source=rv.result.source, agency=m.agency, year=m.year, problems=problems,
                           measures=measures, plan=plan, materials=[x.ref for x in mats], mode="offline",
                           note="未配置大模型：草稿由年报自身内容、上年承诺和检索到的同类材料按模板拼成，请审核人员修改")
        if self.online:
            draft = self._draft_llm(rv, mats, prior, draft, others)
        draft = _clean_draft(draft, others, m.agency)
        draft = self._source_repetition(draft, mats)
        return self._with_repetition(rv, draft, prior)

    def _draft_llm(self, rv: Reviewed, mats, prior, offline: Part5Draft, others: list[str]) -> Part5Draft:
        m = rv.result.meta
        budget = _budget()
        each = max(budget // max(len(mats), 1), 200)
        listing = "\n".join(f"[{i}] {tokens.truncate(as_data(x.text), each)}" for i, x in enumerate(mats, 1))
        prompt = load_prompt("draft")
        try:
            answer, trace = self.caller.structured(prompt, dict(agency=m.agency or "本机关", year=m.year or "",
                                                                next_year=(m.year + 1) if m.year else "",
                                                                materials=listing), DraftText)
        except CallFailed as e:
            return offline.model_copy(update={"note": f"{e.note}，已改用离线草稿"})
        material = Material(cells_of(rv.result)).add_text("\n".join(x.text for x in mats), quantities=True)
        material.add_years(*_years(m), (m.year or 0) + 1)
        if prior is not None:
            material.add_years(prior.meta.year)
        checked = _Checker(material, set(), len(mats), rv.report.lines)
        dropped = 0

        def items(xs) -> list[DraftItem]:
            # keep only sources the model was given (paper-qa style): an item with none left is dropped
            nonlocal dropped
            out = []
            for x in xs:
                refs = [mats[i - 1].ref for i in x.sources if 1 <= i <= len(mats)]
                if not refs or not x.text.strip():
                    dropped += 1
                    continue
                text = sanitize(re.sub(r"〔来源\s*\d+〕|\[\d+\]", "", x.text), others, m.agency)
                out.append(DraftItem(text=checked.text(text), sources=refs))
            return out

        problems, measures, plan = items(answer.problems), items(answer.measures), items(answer.plan)
        # the review's own findings are at most one problem: the rest of (一) is the agency's year
        quality = [it for it in problems if all(s.kind == "finding" for s in it.sources)]
        problems = [it for it in problems if it not in quality[1:]]
        dropped += len(quality[1:])
        # 改进情况 must account for every promise of last year: one the model left out is added from the offline draft
        if prior is not None:
            for off in offline.measures:
                phrase = re.search(r"上年提出“(.+?)”", off.text)
                if phrase and not any(phrase.group(1)[:8] in it.text for it in measures):
                    measures.append(off)
        note = None
        if dropped:
            note = f"已删除 {dropped} 条没有依据（引用了未提供的材料编号）的条目"
        g = checked.grounding
        return offline.model_copy(update=dict(
            problems=problems or offline.problems, measures=measures or offline.measures, plan=plan or offline.plan,
            mode="llm", model=trace.model, prompt_id=trace.prompt_id, prompt_version=trace.prompt_version,
            note=note, unsupported_numbers=g.unsupported, derived_numbers=g.derived,
            stripped_citations=g.stripped_citations))

    def _source_repetition(self, draft: Part5Draft, mats) -> Part5Draft:
        """The repetition check against every passage of another agency used: an item that copies one over 50%
        is replaced by the draft's own words for its topic."""
        rows = []
        items_all = [*draft.problems, *draft.measures, *draft.plan]
        for x in mats:
            if x.role != "other":
                continue
            passage = x.text.split("：", 1)[1]
            share, _ = repetition(draft.text(), passage)
            worst = 0.0
            for it in items_all:
                if len(_grams(it.text)) < 8:
                    continue  # too short to be a copy (the repetition rule's own sentence threshold)
                s, _ = repetition(it.text, passage)
                if s > PART5_LIMIT:
                    it.text = "（此条与其他机关材料雷同，已删除，请机关结合本机关实际撰写）"
                    it.sources = [x.ref]
                worst = max(worst, s)
            rows.append({"source": x.ref.label(), "share": round(share, 3), "max_item_share": round(worst, 3)})
        return draft.model_copy(update={"source_repetition": rows})

    def _with_repetition(self, rv: Reviewed, draft: Part5Draft, prior: Optional[ReviewResult]) -> Part5Draft:
        """Run the part 五 repetition rule on the draft against the agency's latest earlier part 五."""
        if prior is None:
            return draft
        five = next((s for s in prior.sections if s.number == 5), None)
        if five is None:
            return draft
        share, repeated = repetition(draft.text(), five.text)
        return draft.model_copy(update=dict(repetition=round(share, 3), repetition_year=prior.meta.year,
                                            repeated_sentences=repeated, repetition_warning=share > PART5_LIMIT))

    # ------------------------------------------------------------------ chat

    def chat(self, rv: Reviewed) -> "ChatSession":
        return ChatSession(self, rv)


class _Checker:
    """Checks pieces of one answer against one call's material; collects the verdicts."""

    def __init__(self, material: Material, lines_given: set[int], sources_given: int, lines: list[str],
                 sources: Optional[list[str]] = None):
        self.material, self.given, self.n_sources, self.lines = material, lines_given, sources_given, lines
        self.sources = sources or []
        self.grounding = Grounding()
        self.kept: list[str] = []

    def text(self, text: str) -> str:
        clean, stripped = strip_citations(text, self.given, self.n_sources)
        clean, wrong = verify_line_citations(clean, self.lines)
        g = check_numbers(clean, self.material)
        g.stripped_citations = stripped + wrong
        self.grounding.extend(g)
        for c in citations_in(clean):
            shown = self.show(c)
            if shown not in self.kept:
                self.kept.append(shown)
        return mark(clean, g)

    def show(self, citation: str) -> str:
        n = cited_line(citation)
        if n is not None and 1 <= n <= len(self.lines):
            return f"{citation}{self.lines[n - 1].strip()[:80]}"
        k = re.search(r"来源\s*(\d+)", citation)
        if k and 1 <= int(k.group(1)) <= len(self.sources):
            return f"{citation}{self.sources[int(k.group(1)) - 1][:80]}"
        return citation


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
        findings = tokens.truncate(as_data(findings), budget * 3 // 10)
        lines = _relevant_lines(rv, question)
        excerpt, given = _numbered_rows(rv.report.lines, lines, budget * 45 // 100, as_data)
        hits = []
        if self.a.store is not None:
            part = _part_of(question)
            try:
                hits = self.a.store.similar(question, k=4, part=part, years=(None, m.year),
                                            exclude_sha256=rv.result.sha256)
            except Exception:  # noqa: BLE001 - a broken store must not stop the chat
                hits = []
        src, left = [], budget * 25 // 100
        for k, h in enumerate(hits, 1):
            row = f"〔来源{k}〕{h.agency}{h.year}年报第{_CN[h.part - 1]}部分：{as_data(h.text)}"
            row = tokens.truncate(row, max(left, 0))
            left -= tokens.count(row)
            src.append(row)
        values = dict(agency=m.agency or "", year=m.year or "", findings=findings, excerpt="\n".join(excerpt) or "（无）",
                      sources="\n".join(src) or "（无）", question=question)
        return values, given, hits

    def _material(self, question: str, given: set[int], hits: list) -> Material:
        rv, m = self.rv, self.rv.result.meta
        mat = Material(cells_of(rv.result))
        fails = [f for f in rv.result.findings if f.status == "fail"]
        # quantities that may be combined: the findings' own numbers and the cells the question names;
        # every other given number (excerpt lines, passages) may only be copied
        for f in fails:
            mat.add_text(f.message, quantities=True).add_values([e.value for e in f.evidence])
        asked = {line for _, _, line in cells_for_question(rv.result, question)}
        t = rv.result.tables
        cells = [c for c in [*t.disclosure, *t.applications, *t.appeals] if c.line in given]
        mat.add_values([c.value for c in cells if c.line in asked])
        mat.add_values([c.value for c in cells], quantities=False)
        mat.add_text("\n".join(rv.report.lines[n - 1] for n in given))
        mat.add_text("\n".join(h.text for h in hits))
        return mat.add_years(*_years(m))

    def ask(self, question: str) -> Iterator[str]:
        """Stream the answer, one checked sentence at a time (numbers marked, bad citations removed, an answer
        that denies a finding replaced by the offline one); afterwards `self.last` holds the whole ChatAnswer."""
        values, given, hits = self._context(question)
        if not self.a.online:
            text = _offline_chat(self.rv, question)
            self.last = ChatAnswer(text=text, mode="offline", note="未配置大模型：根据审核发现和表格数值回答",
                                   citations=[_show_line(c, self.rv.report.lines)
                                              for c in dict.fromkeys(citations_in(text))])
            self.history += [{"role": "user", "content": question}, {"role": "assistant", "content": text}]
            yield text
            return
        prompt = load_prompt("chat")
        system, user = prompt.render(**values)
        messages = [system, *self.history[-8:], user]
        sources = [f"{h.agency}{h.year}年报第{_CN[h.part - 1]}部分：{h.text}" for h in hits]
        checker = _Checker(self._material(question, given, hits), given, len(hits), self.rv.report.lines, sources)
        fails = [f for f in self.rv.result.findings if f.status == "fail" and f.severity.value != "info"]
        allowed = "\n".join(x for f in fails for x in GUIDE.get(f.rule, ([], []))[1])
        state: dict = {}
        raw, shown, buf = [], [], ""
        note, denied = None, None
        try:
            for chunk in self.a.caller.stream(prompt, messages, state):
                raw.append(chunk)
                buf += chunk
                while True:
                    cut = _SENTENCE_END.search(buf)
                    if not cut:
                        break
                    sentence, buf = buf[:cut.end()], buf[cut.end():]
                    if fails and denial(sentence, allowed):
                        denied = denial(sentence, allowed)
                        break
                    out = checker.text(sentence)
                    shown.append(out)
                    yield out
                if denied:
                    break
            if buf and not denied:
                if fails and denial(buf, allowed):
                    denied = denial(buf, allowed)
                else:
                    out = checker.text(buf)
                    shown.append(out)
                    yield out
        except CallFailed as e:
            note = f"{e.note}；以下根据审核发现回答"
        text = "".join(shown)
        if denied:
            note = f"大模型的回答与规则发现相矛盾（“{denied}”），已弃用，以下根据审核发现回答"
        elif note is None and not text.strip():
            note = "大模型返回了空的回答（未缓存）；以下根据审核发现回答"
        if note is not None:
            fallback = _offline_chat(self.rv, question)
            yield ("\n" if shown else "") + f"（{note}）\n" + fallback
            text = (text + "\n" if shown and not denied else "") + fallback
            self.last = ChatAnswer(text=text, mode="offline", model=self.a.cfg.model, note=note,
                                   citations=[_show_line(c, self.rv.report.lines)
                                              for c in dict.fromkeys(citations_in(fallback))],
                                   unsupported_numbers=checker.grounding.unsupported if not denied else [],
                                   stripped_citations=checker.grounding.stripped_citations,
                                   prompt_id=prompt.id, prompt_version=prompt.version,
                                   prompt_tokens=tokens.count_messages(messages))
        else:
            self.a.caller.store(prompt, messages, "".join(raw), state)
            g = checker.grounding
            self.last = ChatAnswer(text=text, mode="llm", model=self.a.cfg.model, citations=checker.kept,
                                   stripped_citations=g.stripped_citations, unsupported_numbers=g.unsupported,
                                   derived_numbers=g.derived, prompt_tokens=tokens.count_messages(messages),
                                   prompt_id=prompt.id, prompt_version=prompt.version)
        self.history += [{"role": "user", "content": question}, {"role": "assistant", "content": self.last.text}]


# ---------------------------------------------------------------------------------------------- helpers

def _failure(e: BaseException) -> str:  # kept for callers of the old name
    return failure_note(e)


def _years(meta) -> list[int]:
    """The years an answer may name without them being in its material: the report's, the one before (上年),
    and the year of the template format it follows (2019年格式)."""
    out = [meta.year, meta.year - 1] if meta.year else []
    if meta.format and str(meta.format).isdigit():
        out.append(int(meta.format))
    return out


def _show_line(citation: str, lines: list[str]) -> str:
    n = cited_line(citation)
    if n is not None and 1 <= n <= len(lines):
        return f"{citation}{lines[n - 1].strip()[:80]}"
    return citation


def _part_of(question: str) -> Optional[int]:
    for part, words in _PART_WORDS.items():
        if any(w in question for w in words):
            return part
    return None


def _clean_draft(draft: Part5Draft, others: list[str], own: Optional[str]) -> Part5Draft:
    """No other agency's name and no "我局" in any item."""
    for it in [*draft.problems, *draft.measures, *draft.plan]:
        it.text = sanitize(it.text, others, own)
    return draft


def _excerpt(report: Report, finding: Finding, around: int = 2) -> tuple[str, set[int]]:
    """The report lines a finding points at (its line and its evidence lines), numbered; and their numbers."""
    wanted = {finding.line} | {e.line for e in finding.evidence}
    wanted.discard(None)
    if finding.section:
        s = next((s for s in report.sections if s.number == finding.section), None)
        if s:
            wanted |= set(range(s.line, min(s.line + 6, s.end_line + 1)))
    keep = sorted({n for w in wanted for n in range(w - around, w + around + 1) if 1 <= n <= len(report.lines)})
    rows, given = _numbered_rows(report.lines, [n for n in keep if report.lines[n - 1].strip()], 1200)
    return ("\n".join(rows) or "（无相关行）"), given


def _numbered_rows(lines: list[str], numbers, left: int, text=lambda s: s) -> tuple[list[str], set[int]]:
    """The lines `numbers` as "〔第N行〕…" rows, in order, while they fit in `left` tokens: (rows, the line
    numbers given). `text` shapes a line's text (escaping it as data)."""
    rows, given = [], set()
    for n in numbers:
        row = f"〔第{n}行〕{text(lines[n - 1].strip())}"
        cost = tokens.count(row)
        if cost > left:
            break
        rows.append(row)
        given.add(n)
        left -= cost
    return rows, given


def _relevant_lines(rv: Reviewed, question: str) -> list[int]:
    """Report lines worth showing for a question: the findings' lines first, then lines sharing words with it."""
    out: list[int] = []
    for f in rv.result.findings:
        for n in [f.line, *(e.line for e in f.evidence)]:
            if n and n not in out:
                out.append(n)
    grams = {question[i:i + 2] for i in range(len(question) - 1)} - {"什么", "为什", "怎么", "这个", "是否", "哪些", "多少"}
    scored = []
    for n, line in enumerate(rv.report.lines, 1):
        if n in out or not line.strip():
            continue
        score = sum(1 for g in grams if g in line)
        if score >= 2:
            scored.append((-score, n))
    out += [n for _, n in sorted(scored)[:40]]
    return out


def _offline_chat(rv: Reviewed, question: str) -> str:
    """An answer from the structured cells and findings: the cells the question names, the findings it names
    (else all of them when it names no cell)."""
    grams = {question[i:i + 3] for i in range(len(question) - 2)}
    fails = [f for f in rv.result.findings if f.status == "fail"]
    chosen = [f for f in fails if any(g in f.message or g in f.title for g in grams)]
    cells = answer_cells(rv.result, question)
    if not chosen and not cells:
        chosen = fails
    out = ["（未配置大模型或大模型不可用，以下根据表格数值和审核发现回答）"]
    if cells:
        out.append(cells)
    if chosen:
        out.append("相关的审核发现：")
    for f in chosen[:8]:
        where = f"〔第{f.line}行〕" if f.line else ""
        out.append(f"- {f.message}{where}")
        ev = "；".join(f"{e.ref}={e.value}" for e in f.evidence[:7] if e.value is not None)
        if ev:
            out.append(f"  相关单元格：{ev}")
        out.append(f"  可能原因：{explain_offline(rv.result, f).causes[0]}")
    if not chosen and not cells:
        out.append("本年报审核未发现错误或警告。")
    return "\n".join(out)
