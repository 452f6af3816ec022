"""The part 五 draft as the agency's own narrative, in the template's three beats, offline and with a model:
last year's promises followed up, other agencies' passages used but never copied, no other agency's name."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import pytest

from llmstub import GroundingModel
from review import check
from review.history import FolderHistory
from review.llm.cache import LLMCache
from review.llm.config import LLMConfig
from review.llm.service import Assistant
from review.rules.crossyear import _grams, repetition
from review.store import Store

ROOT = Path(__file__).parent.parent
FIX = ROOT / "fixtures"
REPORTS = sorted(p for p in FIX.iterdir() if p.suffix in (".txt", ".html", ".pdf"))
P2021, P2022 = FIX / "pingtan_2021_county_pipe.txt", FIX / "pingtan_2022_county_tsv.txt"
BEATS = ("（一）存在的主要问题", "（二）改进情况", "（三）下一年度工作计划")
# the measures 平潭's 2021 report promised (its part 五, read by hand)
PROMISED_2021 = ("丰富政策解读形式", "加强重点政务信息管理", "拓宽公开载体和渠道")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("store"), embeddings="ngram")
    s.index_paths(REPORTS)
    yield s
    s.close()


def assistant(tmp_path, stub=None, **kw) -> Assistant:
    cfg = (LLMConfig(base_url=stub.base_url, api_key="k", model="stub-model", timeout=20, max_retries=0)
           if stub else LLMConfig())
    return Assistant(cfg=cfg, cache=LLMCache(tmp_path / "cache.sqlite"), **kw)


def check_structure(d) -> None:
    text = d.text()
    assert [text.find(b) for b in BEATS] == sorted(text.find(b) for b in BEATS) and text.find(BEATS[0]) == 0
    assert d.problems and d.measures and d.plan
    assert sum(1 for it in d.problems if any(s.kind == "finding" for s in it.sources)) <= 1
    for it in [*d.problems, *d.plan]:
        assert it.sources or it.text.startswith("（"), it.text  # every item lists its sources (or says it has none)


@lru_cache(maxsize=None)
def _checked(p: Path):
    return check(p)


def other_passages(agency: str, own: Path) -> list[tuple[str, str]]:
    """Every paragraph of every other agency's part 五 among the fixtures: a superset of what a draft may use."""
    from review.agency import same_agency
    out = []
    for p in REPORTS:
        r = _checked(p)
        if p == own or (r.meta.agency and agency and same_agency(r.meta.agency, agency)):
            continue
        five = next((s for s in r.sections if s.number == 5), None)
        for para in (five.text.split("\n") if five else []):
            if len(para.strip()) >= 20:
                out.append((r.meta.agency or "", para))
    return out


def agency_names(agency: str) -> set[str]:
    from review.agency import same_agency
    names = {_checked(p).meta.agency for p in REPORTS}
    return {n for n in names if n and len(n) >= 4 and not (agency and same_agency(n, agency)) and n not in agency}


def assert_not_copied(d, agency: str, own: Path) -> None:
    text = d.text()
    assert "我局" not in text
    for name in agency_names(agency):
        assert name not in text, name
    for other, para in other_passages(agency, own):
        for it in [*d.problems, *d.measures, *d.plan]:
            if len(_grams(it.text)) < 8:
                continue  # "加强政策解读。" is too short to be anyone's copy (the repetition rule's threshold)
            share, _ = repetition(it.text, para)
            assert share <= 0.5, (other, it.text, para[:60])
        assert repetition(text, para)[0] <= 0.5


# ------------------------------------------------------------------------------------------ every fixture

@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.name)
def test_offline_draft_for_every_fixture(tmp_path, store, path):
    a = assistant(tmp_path, store=store)
    rv = a.review(path)
    d = a.draft(rv)
    assert d.mode == "offline"
    check_structure(d)
    assert_not_copied(d, rv.result.meta.agency or "", path)


@pytest.mark.parametrize("path", REPORTS, ids=lambda p: p.name)
def test_model_draft_for_every_fixture(tmp_path, store, llm_stub, path):
    llm_stub.respond_with(GroundingModel(llm_stub))
    a = assistant(tmp_path, llm_stub, store=store)
    rv = a.review(path)
    d = a.draft(rv)
    assert d.mode == "llm" and d.prompt_id == "draft"
    check_structure(d)
    assert_not_copied(d, rv.result.meta.agency or "", path)


def test_a_model_that_copies_other_agencies_is_stopped(tmp_path, store, llm_stub):
    """The model pastes other agencies' sentences with their "我局" and names: none of it reaches the draft."""
    def copier(body):
        text = "\n".join(m["content"] for m in body["messages"])
        others = re.findall(r"^\[(\d+)\] 其他机关[^：]*：(.+)$", text, re.M)
        assert others, "the draft was given no passage of another agency"
        plan = [{"text": "我局" + t.split("。")[0] + "。", "sources": [int(k)]} for k, t in others]
        plan.append({"text": "学习鄂州市行政审批局的做法。", "sources": [int(others[0][0])]})
        return json.dumps({"problems": [{"text": "政策解读形式单一。", "sources": [1]}],
                           "measures": [{"text": "未找到上年年报。", "sources": [1]}], "plan": plan}, ensure_ascii=False)
    llm_stub.respond_with(copier)
    a = assistant(tmp_path, llm_stub, store=store)
    rv = a.review(FIX / "001_7db3595534c35dc9.txt")
    d = a.draft(rv)
    assert d.mode == "llm" and d.source_repetition
    assert_not_copied(d, rv.result.meta.agency, FIX / "001_7db3595534c35dc9.txt")
    assert any("雷同" in it.text for it in d.plan)


# ------------------------------------------------------------------------------------------ 改进情况

@pytest.mark.parametrize("where", ["store", "history"])
def test_last_years_promises_are_followed_up(tmp_path, store, llm_stub, where):
    kw = {"store": store} if where == "store" else {"history": FolderHistory([P2021])}
    for stub in (None, llm_stub):
        if stub:
            stub.respond_with(GroundingModel(stub))
        a = assistant(tmp_path / str(bool(stub)), stub, **kw)
        d = a.draft(a.review(P2022))
        improvements = "\n".join(it.text for it in d.measures)
        for promise in PROMISED_2021:
            assert promise in improvements, (d.mode, promise)
        assert d.repetition_year == 2021 and not d.repetition_warning
        assert any(s.year == 2021 for it in d.measures for s in it.sources)


def test_without_last_years_report_it_says_so(tmp_path):
    a = assistant(tmp_path)
    d = a.draft(a.review(P2021))
    assert "未找到上年年报" in d.measures[0].text


def test_problems_come_from_the_reports_own_parts(tmp_path):
    a = assistant(tmp_path)
    rv = a.review(P2022)
    d = a.draft(rv)
    problems = "\n".join(it.text for it in d.problems)
    assert "意见征集形式较为单一" in problems  # its own part 五
    corrected = sum(c.value for c in rv.result.tables.appeals if c.column == "结果纠正" and c.value)
    assert corrected and f"纠正 {corrected} 件" in problems  # an unusual figure of 表四
    assert "未找到年报标题" not in problems and "规范性不足" not in problems  # not the review's own findings


def test_a_model_draft_keeps_at_most_one_data_quality_problem(tmp_path, llm_stub):
    a = assistant(tmp_path, llm_stub)
    rv = a.review(FIX / "002_f86e26e747344a50.txt")
    mats = [m.kind for m in a.draft(rv).materials]  # offline: which number is the findings material
    k = mats.index("finding") + 1
    llm_stub.reply_json({"problems": [{"text": "表三自然人列不平。", "sources": [k]},
                                      {"text": "表三商业企业列不平。", "sources": [k]},
                                      {"text": "政务新媒体信息更新不及时。", "sources": [1]}],
                         "measures": [{"text": "未找到上年年报。", "sources": [1]}],
                         "plan": [{"text": "建立依申请公开台账。", "sources": [1]}]})
    d = a.draft(rv)
    assert d.mode == "llm" and [it.text for it in d.problems] == ["表三自然人列不平。", "政务新媒体信息更新不及时。"]


def test_sanitize_keeps_the_agencys_own_name():
    from review.llm.draft import sanitize
    out = sanitize("硚口区行政审批局加强学习；鄂州市行政审批局的做法；我局将", ["鄂州市行政审批局"], "硚口区行政审批局")
    assert out == "硚口区行政审批局加强学习；本机关的做法；本机关将"
