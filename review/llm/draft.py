"""Part 五 as the agency's own narrative, in the template's three beats:

(一) 存在的主要问题 — the problems of its disclosure work that year, from the report's own parts (its part 五, low or
     unusual figures in 表二–表四: no applications, many 不予公开, 复议纠正), the review's data-quality findings as at
     most one item;
(二) 改进情况 — what became of each measure promised in last year's part 五 (from the store or a history folder;
     "未找到上年年报" otherwise);
(三) 下一年度工作计划 — measures for the problems, drawing on other agencies' part 五 of the same or earlier years
     (filtered by relevance, part and year) by topic only: never copied, no other agency's name or "我局" carried
     over, and the repetition check runs against every passage used.

Each item lists its sources. This module builds the materials and the offline draft; the service asks a model to
write the same structure from the same materials and checks what comes back.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from review.llm.schemas import DraftItem, SourceRef
from review.models import ReviewResult
from review.rules.base import num_text
from review.text import norm

_CN = "一二三四五六"
_ENUM = re.compile(r"^\s*(?:[一二三四五六七八九十]+是|[（(][一二三四五六七八九十\d]+[)）]|\d+[.、．]|[一二三四五六七八九十]+、)\s*")
_PROBLEM = re.compile(r"问题|不足|不够|有待|欠缺|单一|薄弱|滞后|不到位|不高|不强|不深|有限|难以|较少|不全面|不及时|不规范")
_MEASURE = re.compile(r"加强|完善|建立|推进|提升|丰富|健全|拓宽|拓展|强化|深化|优化|规范|加大|提高|落实|开展|扩大|坚持")
_MEASURE_HEAD = re.compile(r"(改进措施|改进情况|整改措施|下一步|将采取|采取以下措施|工作计划|下年度|改进举措|"
                           r"针对(?:上述|以上|存在|这些)|我(?:们|局|区|市|县|委|办)将)")
_INTRO = re.compile(r"(存在(?:着)?(?:一些|以下|如下)?(?:的)?(?:主要)?(?:问题|不足)|取得了?(?:一定|明显|新)|主要(?:是|有|表现在|体现在))"
                    r"[^。；]*[:：，,]?$")
_SELF = re.compile(r"我(?:局|委|办|厅|区|县|市|府|中心|院|署|部|镇|乡|街道)")

# Topics a part 五 measure is about, and the measure this draft writes for it (its own words).
TOPICS: list[tuple[str, tuple[str, ...], str]] = [
    ("政策解读", ("政策解读", "解读"), "围绕本机关出台的重要政策文件同步开展解读，综合运用图表图解、问答等形式，提高解读的针对性和可读性"),
    ("重点领域信息公开", ("重点领域", "重大项目", "财政预决算", "民生"), "梳理本机关职责范围内的重点领域信息，明确公开内容、责任人和时限，及时更新"),
    ("意见征集和决策公开", ("意见征集", "征求意见", "预公开", "重大行政决策", "决策"), "对涉及群众切身利益的决策事项事先公开征求意见，并公开意见采纳情况"),
    ("公开渠道和平台", ("政务新媒体", "政府网站", "渠道", "载体", "平台", "专栏", "专区"), "用好政府网站信息公开专栏和政务新媒体，及时发布、集中展示本机关公开信息"),
    ("依申请公开办理", ("依申请", "申请办理", "答复", "告知书"), "规范依申请公开登记、办理、答复流程，建立办件台账，按时限逐件答复并留存记录"),
    ("队伍和培训", ("培训", "队伍", "业务能力", "学习"), "组织政务公开工作人员学习《条例》和年报格式要求，提升业务能力"),
    ("公开目录和制度", ("目录", "制度", "机制", "审查", "保密"), "完善信息发布审查和公开目录动态更新机制，做到应公开尽公开"),
    ("年报编制", ("年报", "统计", "数据"), "年报表格数据由专人按勾稽关系复核，正文数字与表格逐项核对后再发布"),
]


@dataclass
class Material:
    ref: SourceRef
    text: str  # what the model is given (already stripped of other agencies' names)
    role: str  # own5 | figures | findings | promise | other


def _sentences(text: str) -> list[str]:
    # a line broken inside a sentence (long line, no closing punctuation) is joined to the next
    text = re.sub(r"(?<=[^。；;！？：:\n]{20})\n(?=\S)", "", text or "")
    out = []
    for x in re.split(r"(?<=[。；;！？])|\n", text):
        x = (x or "").strip()
        if x:
            out.append(x)
    return out


def _clean(sentence: str) -> str:
    s = _ENUM.sub("", sentence.strip())
    s = re.sub(r"^[（(][一二三四五六][)）][^：:。]{0,12}[：:]", "", s)
    s = re.sub(r"^[^：:。，]{0,14}(?:存在的主要问题|改进措施|改进情况|问题和不足|以下措施加以改进)[^：:。]{0,6}[：:]", "", s)
    return _ENUM.sub("", s).strip()


def split_part5(text: str) -> tuple[list[str], list[str]]:
    """(problem sentences, measure sentences) of a part 五 text: measures after the 改进/下一步 heading."""
    m = _MEASURE_HEAD.search(text or "")
    head, tail = (text[:m.start()], text[m.start():]) if m else (text or "", "")
    problems = []
    for s in _sentences(head):
        s = re.split(r"主要(?:是|有|表现在|体现在)[:：]", s)[-1]
        for piece in re.split(r"(?=[一二三四五六七八九十]是)|(?=\d+[.、．])", s):
            c = _clean(piece)
            if len(c) < 6 or not _PROBLEM.search(c) or _INTRO.search(c) or c.endswith(("：", ":")):
                continue
            if len(c) < 20 and not re.search(r"[，。；,;]", c):
                continue  # a heading ("存在的主要问题")
            problems.append(c)
    measures = []
    for s in _sentences(tail):
        for piece in re.split(r"(?=[一二三四五六七八九十]是)|(?=(?<![\d.])\d+[.、．])", s):
            c = _clean(piece)
            if len(c) >= 6 and _MEASURE.search(c) and not _PROBLEM.search(c[:8]):
                measures.append(c)
    return problems, measures


def promise_phrase(measure: str) -> str:
    """The short name of a promised measure: its first clause ("丰富政策解读形式")."""
    first = re.split(r"[，,；;。：:]", measure, maxsplit=1)[0].strip()
    return first[:24]


def _grams(text: str, n: int = 2) -> set[str]:
    t = norm(text)
    t = re.sub(r"[^\u4e00-\u9fff]", "", t)
    stop = {"进一步", "工作", "公开", "信息", "政府", "政务"}
    return {t[i:i + n] for i in range(len(t) - n + 1)} - stop


def follow_up(promise: str, result: ReviewResult, lines: list[str]) -> Optional[tuple[int, str]]:
    """A sentence of this year's report (outside part 五, which promises again) that speaks to a promised
    measure: one naming the measure's topic, the one sharing most words with it."""
    phrase = promise_phrase(promise)
    topics = topics_of(phrase) or topics_of(promise)
    if not topics:
        return None
    keys = next(k for name, k, _ in TOPICS if name == topics[0])
    want = _grams(promise)
    five = next((s for s in result.sections if s.number == 5), None)
    best, best_score = None, 0.0
    for i, line in enumerate(lines, 1):
        if five and five.line <= i <= five.end_line:
            continue
        for sentence in re.split(r"(?<=[。；;])", line):
            sentence = sentence.strip()
            hits = sum(1 for k in keys if k in sentence)
            if len(sentence) < 8 or not hits:
                continue
            score = hits + len(want & _grams(sentence)) / max(len(want), 1)
            if score > best_score:
                best, best_score = (i, _ENUM.sub("", sentence)), score
    return best


def sanitize(text: str, others: list[str], own: Optional[str]) -> str:
    """No other agency's name and no "我局"-style self-reference from a source in the draft."""
    out = text
    for name in sorted({o for o in others if o and (not own or norm(o) != norm(own))}, key=len, reverse=True):
        out = out.replace(name, "本机关")
        short = re.sub(r"^.{1,8}?(?:省|市|区|县)", "", name)
        if len(short) >= 4 and short != name and not (own and short in own):
            out = out.replace(short, "本机关")
    return _SELF.sub("本机关", out)


def topics_of(text: str) -> list[str]:
    return [name for name, keys, _ in TOPICS if any(k in text for k in keys)]


def figures(result: ReviewResult) -> list[tuple[str, int, Optional[int]]]:
    """Low or unusual figures in 表二–表四: (a problem sentence stating the cells, sort weight, line)."""
    apps = {(c.row, c.column): c for c in result.tables.applications if c.state.value == "number"}
    appeals = {(c.group, c.column): c for c in result.tables.appeals if c.state.value == "number"}
    out: list[tuple[str, int, Optional[int]]] = []
    new = apps.get(("一", "总计"))
    done = apps.get(("三.七", "总计"))
    if new is not None and new.value == 0:
        out.append(("全年未收到政府信息公开申请（表三“本年新收”总计为 0），依申请公开渠道的知晓度和便利度有待提高。", 2, new.line))
    if done is not None and done.value:
        refused = sum(c.value for (r, col), c in apps.items() if col == "总计" and r.startswith("三.三."))
        cannot = sum(c.value for (r, col), c in apps.items() if col == "总计" and r.startswith("三.四."))
        if refused and refused * 3 >= done.value:
            out.append((f"依申请公开办理结果中不予公开 {num_text(refused)} 件，占办结总数 {num_text(done.value)} 件的"
                        f"比例较高，不予公开的理由和答复的规范性需要加强。", 3, done.line))
        if cannot and cannot * 2 >= done.value:
            out.append((f"办理结果中“无法提供”{num_text(cannot)} 件，占办结总数 {num_text(done.value)} 件的一半以上，"
                        f"信息管理和检索能力有待提高。", 2, done.line))
    fixed = [c for (g, col), c in appeals.items() if col == "结果纠正" and c.value]
    if fixed:
        n = sum(c.value for c in fixed)
        out.append((f"因政府信息公开被行政复议或诉讼后结果被纠正 {num_text(n)} 件，依申请答复的合法性和规范性有待提高。",
                    4, fixed[0].line))
    for c in result.tables.disclosure:
        if c.state.value == "number" and c.column in ("本年制发件数", "本年新制作数量") and c.item in (
                "行政规范性文件", "规范性文件") and c.value == 0:
            out.append((f"本年{c.item}制发数量为 0，主动公开的内容以常规信息为主，深度和广度有待拓展。", 1, c.line))
            break
    return sorted(out, key=lambda x: -x[1])


def materials(result: ReviewResult, lines: list[str], history, store) -> tuple[list[Material], Optional[ReviewResult]]:
    """The numbered materials of a draft, and last year's report (None if not found)."""
    m = result.meta
    out: list[Material] = []
    own = next((s for s in result.sections if s.number == 5), None)
    if own and own.text.strip():
        out.append(Material(SourceRef(kind="report", agency=m.agency, year=m.year, part=5, source=result.source,
                                      line=own.line, quote=own.text[:80]),
                            f"本年报第五部分原文（第{own.line}行起）：{own.text}", "own5"))
    for text, _, line in figures(result)[:3]:
        out.append(Material(SourceRef(kind="report", agency=m.agency, year=m.year, source=result.source, line=line,
                                      quote=(lines[line - 1].strip()[:80] if line and line <= len(lines) else None)),
                            f"本年报表格数据：{text}", "figures"))
    fails = [f for f in result.findings if f.status == "fail" and f.severity.value == "error"]
    if fails:
        out.append(Material(SourceRef(kind="finding", fingerprint=fails[0].fingerprint, quote=fails[0].message[:80]),
                            "审核发现的年报数据质量问题（最多写成一条）：" + "；".join(f.message for f in fails[:4]),
                            "findings"))
    prior = None
    if history is not None and m.agency and m.year:
        earlier = sorted((r for r in history.reports_of(m.agency)
                          if r.sha256 != result.sha256 and r.meta.year and r.meta.year < m.year),
                         key=lambda r: -r.meta.year)
        prior = earlier[0] if earlier else None
    if prior is not None:
        five = next((s for s in prior.sections if s.number == 5), None)
        for measure in (split_part5(five.text)[1] if five else [])[:6]:
            out.append(Material(SourceRef(kind="prior", agency=prior.meta.agency, year=prior.meta.year, part=5,
                                          source=prior.source, line=five.line, quote=measure[:80]),
                                f"上年（{prior.meta.year}年）年报承诺的改进措施：{measure}", "promise"))
    if store is not None:
        own_problems = split_part5(own.text)[0] if own else []
        query = "；".join(own_problems[:3]) or "政府信息公开工作存在的问题及改进措施"
        try:
            hits = store.similar(query, k=3, part=5, years=(None, m.year), exclude_agency=m.agency or None,
                                 exclude_sha256=result.sha256)
        except Exception:  # noqa: BLE001 - a broken store must not stop a draft
            hits = []
        names = [h.agency for h in hits]
        for h in hits:
            out.append(Material(SourceRef(kind="prior", agency=h.agency, year=h.year, part=5, source=h.source,
                                          line=h.line, quote=sanitize(h.text[:80], names, m.agency)),
                                f"其他机关（{h.year}年）第五部分的做法（只可借鉴思路，不得照抄）："
                                f"{sanitize(h.text, names, m.agency)}", "other"))
    return out, prior


def offline_items(result: ReviewResult, lines: list[str], mats: list[Material], prior: Optional[ReviewResult]
                  ) -> tuple[list[DraftItem], list[DraftItem], list[DraftItem]]:
    """The three beats from the materials, with no model."""
    m = result.meta
    problems: list[DraftItem] = []
    topics: list[tuple[str, list[SourceRef]]] = []
    for mat in mats:
        if mat.role == "own5":
            for p in split_part5(mat.text.split("：", 1)[1])[0][:3]:
                problems.append(DraftItem(text=_sentence_end(p), sources=[mat.ref.model_copy(update={"quote": p})]))
                topics += [(t, [mat.ref]) for t in topics_of(p)]
    for mat in mats:
        if mat.role == "figures":
            problems.append(DraftItem(text=mat.text.split("：", 1)[1], sources=[mat.ref]))
            topics.append(("依申请公开办理", [mat.ref]))
    finding = next((x for x in mats if x.role == "findings"), None)
    if finding is not None:
        n = sum(1 for f in result.findings if f.status == "fail" and f.severity.value == "error")
        problems.append(DraftItem(text=f"年报编制审核把关不严，表格数据和格式存在 {n} 处需要更正的问题"
                                       f"（见审核意见），数据统计和复核机制有待健全。", sources=[finding.ref]))
        topics.append(("年报编制", [finding.ref]))
    if not problems:
        problems.append(DraftItem(text="（年报第五部分未写明具体问题，表格数据也未见明显异常：请机关结合本年度政府信息公开"
                                       "工作实际，写明存在的具体问题。）"))

    measures: list[DraftItem] = []
    promises = [x for x in mats if x.role == "promise"]
    if prior is None:
        measures.append(DraftItem(text="未找到上年年报，无法逐项对照上年承诺的改进措施的落实情况（可用 review index "
                                       "建立历史库，或用 --history 指定往年年报）；请机关写明上年措施的落实情况。"))
    elif not promises:
        measures.append(DraftItem(text=f"上年（{prior.meta.year}年）年报第五部分未写明具体的改进措施，请机关写明本年度"
                                       f"采取的改进措施及成效。", sources=[]))
    for mat in promises:
        promise = mat.text.split("：", 1)[1]
        phrase = promise_phrase(promise)
        hit = follow_up(promise, result, lines)
        if hit:
            line, text = hit
            quote = _window(text, [k for name, keys, _ in TOPICS if name in (topics_of(phrase) or topics_of(promise))
                                   for k in keys])
            ref = SourceRef(kind="report", agency=m.agency, year=m.year, source=result.source, line=line, quote=quote)
            measures.append(DraftItem(text=f"上年提出“{phrase}”：本年报第 {line} 行写到“{quote}”，"
                                           f"请机关据此写明落实情况和成效。", sources=[mat.ref, ref]))
        else:
            measures.append(DraftItem(text=f"上年提出“{phrase}”：本年报未写明落实情况，请机关补充该项措施的"
                                           f"完成情况；未完成的说明原因。", sources=[mat.ref]))

    plan: list[DraftItem] = []
    used: set[str] = set()
    for topic, refs in topics:
        if topic in used:
            continue
        used.add(topic)
        plan.append(DraftItem(text=_plan_text(topic) + "。", sources=refs))
    for mat in mats:
        if mat.role != "other":
            continue
        for topic in topics_of(mat.text.split("：", 1)[1]):
            if topic not in used and len(plan) < 5:
                used.add(topic)
                plan.append(DraftItem(text=_plan_text(topic) + "（参考同类机关做法）。", sources=[mat.ref]))
                break
    if not plan:
        plan.append(DraftItem(text=_plan_text("公开目录和制度") + "。"))
    return problems, measures, plan


def _window(text: str, keys: list[str], n: int = 40) -> str:
    """About n characters of `text` around the first of `keys` it contains, with … where cut."""
    if len(text) <= n:
        return text
    at = min((text.find(k) for k in keys if k in text), default=0)
    start = max(0, min(at - n // 3, len(text) - n))
    return ("…" if start else "") + text[start:start + n] + ("…" if start + n < len(text) else "")


def _plan_text(topic: str) -> str:
    return next(t for name, _, t in TOPICS if name == topic)


def _sentence_end(s: str) -> str:
    s = s.strip().rstrip("；;，,")
    return s if s.endswith(("。", "！", "？")) else s + "。"
