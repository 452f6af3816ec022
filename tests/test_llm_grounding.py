"""Grounding per claim: every number a model writes is checked against what THAT call was given, and an
unsupported one is marked 【未核实】 in every output form (JSON, CLI text, chat, batch files, memos)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmstub import GroundingModel
from review import check
from review.llm.cache import LLMCache
from review.llm.config import LLMConfig
from review.llm.grounding import MARK, Grounding, Material, cells_of, check_numbers, mark, marked_sentences
from review.llm.service import Assistant

ROOT = Path(__file__).parent.parent
S002 = ROOT / "fixtures" / "002_f86e26e747344a50.txt"


@pytest.fixture(scope="module")
def r002():
    return check(S002)


def material_of_balance(result) -> Material:
    """What an explanation of 002's 自然人 balance finding is given: its cells and its message."""
    f = next(f for f in result.findings if f.rule == "applications-balance" and f.cells[0]["column"] == "自然人")
    return (Material(cells_of(result)).add_values([e.value for e in f.evidence])
            .add_text(f.message, quantities=True).add_years(result.meta.year))


# ------------------------------------------------------------------------------------------- the verdicts

def test_copied_and_derived_numbers_pass_and_derived_ones_are_labelled(r002):
    g = check_numbers("自然人本年新收29件，办理结果23件，相差6件，占79.3%，两者合计52件。", material_of_balance(r002))
    assert g.unsupported == []
    assert {(d.text, d.how) for d in g.derived} == {("79.3%", "23 ÷ 29"), ("52", "29 + 23")}


@pytest.mark.parametrize("text,number,reason", [
    ("自然人本年新收30件。", "30", "misattributed"),     # 30 for 29: the named cell says 29
    ("商业企业本年新收29件。", "29", "misattributed"),   # 29 is in the material, but not for this cell
    ("另有37件尚未登记。", "37", "invented"),
    ("不予公开的比例为12.5%。", "12.5%", "invented"),
    ("另有3件。", "3", "invented"),                    # small numbers are not "supported" by the 0 every report has
])
def test_invented_and_misattributed_numbers_are_caught(r002, text, number, reason):
    g = check_numbers(text, material_of_balance(r002))
    assert [(u.text, u.reason) for u in g.unsupported] == [(number, reason)]
    assert f"{number}{MARK}" in mark(text, g)


def test_the_unit_factor_bug_is_gone():
    """The old guard multiplied by 1e-8 and rounded to 6 places: every number below 50 became 0, which
    every report has. Now only exact conversions between 元, 万元 and 亿元 count, and only for amounts."""
    m = Material().add_values([0, 326.780865])
    assert check_numbers("共30件。", m).unsupported[0].text == "30"
    assert check_numbers("收费3267808.65元。", m).unsupported == []     # 元 → 万元, exact
    assert check_numbers("收费约0.0327亿元。", m).unsupported == []     # 亿元, rounded as written
    assert check_numbers("收费326780865元。", m).unsupported[0].text == "326780865"  # seed 001's factor of 100
    assert check_numbers("共3267808.65件。", m).unsupported[0].text == "3267808.65"  # a count is not converted


def test_years_and_line_numbers_are_not_evidence(r002):
    m = Material().add_text("〔第103行〕自然人 29；2020年")
    g = check_numbers("共103件，2020年。", m)
    assert [u.text for u in g.unsupported] == ["103"]  # a line number never supports a quantity
    assert check_numbers("共2020件。", m).unsupported[0].text == "2020"  # nor does a year
    assert check_numbers("2019年的情况。", m).unsupported[0].text == "2019"  # a year not given is not evidence


def test_grounding_is_per_call_not_the_whole_report(r002):
    """A number elsewhere in the report does not support a claim in an answer about one finding."""
    m = material_of_balance(r002)
    other = next(c.value for c in r002.tables.disclosure if c.value and c.value not in (29, 23, 6))
    assert check_numbers(f"另有{other}件。", m).unsupported


def test_mark_is_idempotent_and_lists_sentences():
    g = Grounding(unsupported=[{"text": "37", "value": 37, "sentence": "另有37件。"}])
    once = mark("共29件。另有37件。", g)
    assert once == "共29件。另有37【未核实】件。" and mark(once, g) == once
    assert marked_sentences(once) == ["另有37【未核实】件。"]


# ------------------------------------------------------------------------------------------- every output form

@pytest.fixture
def grounding_stub(llm_stub):
    llm_stub.respond_with(GroundingModel(llm_stub))
    return llm_stub


def _env(stub, tmp_path):
    base = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_") and k != "REVIEW_LLM_MODEL"}
    return {**base, "OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "k", "REVIEW_LLM_MODEL": "stub-model",
            "REVIEW_DATA_DIR": str(tmp_path / "data"), "REVIEW_LLM_TIMEOUT": "20"}


def _cli(args, env, stdin=None):
    return subprocess.run([sys.executable, "-m", "review.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, input=stdin, timeout=300)


def test_json_and_cli_text_carry_the_marks(grounding_stub, tmp_path):
    env = _env(grounding_stub, tmp_path)
    p = _cli(["explain", "--json", "--no-store", str(S002)], env)
    assert p.returncode == 0, p.stderr
    exps = json.loads(p.stdout)["explanations"]
    first = exps[0]
    text = "\n".join([first["summary"], *first["causes"], *first["corrections"]])
    invented = [x["text"] for x in grounding_stub.planted[0]["plan"] if x["kind"] == "invented"]
    assert len(invented) == 2 and invented[1].endswith("%")
    assert "30【未核实】" in text and all(f"{x}【未核实】" in text for x in invented)
    assert {u["text"] for u in first["unsupported_numbers"]} >= {"30", *invented}
    assert all(u["sentence"] for u in first["unsupported_numbers"])
    assert first["prompt_id"] == "explain" and first["prompt_version"] and first["model"] == "stub-model"
    assert first["stripped_citations"] and not any(c in text for c in first["stripped_citations"])
    p = _cli(["explain", "--no-store", str(S002)], env)
    assert "30【未核实】" in p.stdout and "【未核实】的数字" in p.stdout and "已删除 " in p.stdout
    assert not any(c in p.stdout for e in exps for c in e["stripped_citations"])  # a removed one is never printed


def test_chat_shows_only_checked_sentences(grounding_stub, tmp_path):
    a = Assistant(cfg=LLMConfig(base_url=grounding_stub.base_url, api_key="k", model="stub-model", max_retries=0),
                  cache=LLMCache(tmp_path / "c.sqlite"))
    session = a.chat(a.review(S002))
    pieces = list(session.ask("自然人列为什么不平？"))
    plan = grounding_stub.planted[-1]["plan"]
    bad = next(x["text"] for x in plan if x["kind"] == "bad_citation")
    assert len(pieces) >= 3  # streamed sentence by sentence
    invented = [x["text"] for x in plan if x["kind"] == "invented"]
    for piece in pieces:  # every piece the reviewer sees is already checked
        assert bad not in piece
        for x in invented:
            assert x not in piece or f"{x}【未核实】" in piece
    assert "30【未核实】" in session.last.text and bad in session.last.stripped_citations
    assert session.last.citations and session.last.citations[0].startswith("〔第")
    assert len(session.last.citations[0]) > len("〔第92行〕")  # a kept citation shows the cited line's text
    p = _cli(["chat", "--no-store", str(S002)], _env(grounding_stub, tmp_path), stdin="自然人列为什么不平？\n\n")
    assert "30【未核实】" in p.stdout and "【未核实的数字】" in p.stdout and bad not in p.stdout


def test_batch_files_and_memos_carry_the_marks(grounding_stub, tmp_path):
    env = _env(grounding_stub, tmp_path)
    out = tmp_path / "out"
    p = _cli(["batch", str(S002), "--out", str(out), "--explain", "--draft", "--workers", "1"], env)
    assert p.returncode in (0, 1), p.stderr
    exp = json.loads(next((out / "explanations").glob("*.json")).read_text(encoding="utf-8"))
    assert any("30【未核实】" in e["summary"] for e in exp["explanations"])
    draft = json.loads(next((out / "drafts").glob("*.json")).read_text(encoding="utf-8"))
    assert "【未核实】" in draft["text"] and draft["draft"]["unsupported_numbers"]
    # the reviewer approves the draft as generated: the memo carries the marks and lists the sentences
    from review.memo import to_markdown
    from review.signoff import SignoffDB
    result = json.loads(next((out / "reports").glob("*.json")).read_text(encoding="utf-8"))
    db = SignoffDB(f"sqlite:///{tmp_path / 'signoff.sqlite'}")
    db.record(reviewer="张三", report_sha256=result["sha256"], source=result["source"], kind="draft",
              action="approve", payload={"text": draft["text"]})
    memo = to_markdown(result, db)
    assert "30【未核实】" in memo and "含标注【未核实】的数字" in memo


# ------------------------------------------------------------------------------------------- the benchmark

def test_bench_grounding_counts():
    spec = importlib.util.spec_from_file_location("bench_grounding", ROOT / "bench" / "bench_grounding.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    counts = bench.measure()
    assert bench.failures(counts) == []
    for mode in ("explain", "draft", "chat"):
        c = counts[mode]
        assert c["answers"] >= 10
        assert c["invented_marked"] == c["invented"] >= 20
        assert c["misstated_marked"] == c["misstated"] >= 1
        assert c["misattributed_marked"] == c["misattributed"] >= 1
        assert c["derived_accepted"] == c["derived"] >= 2
        assert c["bad_citation_removed"] == c["bad_citation"] >= 10
        if mode != "draft":  # a draft is given no report lines, so every line citation in it is a bad one
            assert c["wrong_citation_removed"] == c["wrong_citation"] >= 8
            assert c["good_citation_kept"] == c["good_citation"] >= 4


def test_a_citation_to_a_line_without_the_number_is_removed():
    from review.llm.grounding import verify_line_citations
    lines = ["依申请公开信息29条。", "全年主动公开信息150余条。"]
    assert verify_line_citations("共29件〔第1行〕。", lines) == ("共29件〔第1行〕。", [])
    assert verify_line_citations("共29件〔第2行〕。", lines) == ("共29件。", ["〔第2行〕"])
    assert verify_line_citations("主动公开做得较好〔第2行〕。", lines)[1] == []  # no number: nothing to verify


def test_dates_and_document_numbers():
    m = Material().add_text("应于2021-01-31前发布；依据国办公开办函〔2021〕30号").add_years(2020)
    assert check_numbers("应在2021年1月31日前发布。", m).unsupported == []  # the same date, written otherwise
    assert check_numbers("应在1月31日前发布。", m).unsupported == []
    assert check_numbers("应在2021年3月31日前发布。", m).unsupported[0].detail.startswith("材料中没有这个日期")
    assert check_numbers("按国办公开办函〔2019〕60号格式。", m).unsupported == []  # a document number is a reference


def test_explanations_may_name_the_format_year(llm_stub, tmp_path):
    a = Assistant(cfg=LLMConfig(base_url=llm_stub.base_url, api_key="k", model="stub-model", max_retries=0),
                  cache=LLMCache(tmp_path / "c.sqlite"))
    rv = a.review(S002)  # a 2020 report in the 2019 format
    f = next(f for f in rv.result.findings if f.rule == "applications-balance")
    llm_stub.reply_json({"summary": "按2019年格式，2020年的表三第一项加第二项应等于第三项加第四项。",
                         "causes": ["2018年的数据混入。"], "corrections": ["更正。"]})
    e = a.explain(rv, f)
    assert [u.text for u in e.unsupported_numbers] == ["2018"]


@pytest.mark.parametrize("text,bad", [
    ("本年新收记为自然人29件，办理结果中商业企业3件、其他3件。", []),  # each number on the row named nearest before it
    ("表三中自然人一栏，本年新收29件、上年结转0件，而办理结果总计23件、结转下年度0件。", []),
    ("本年新收申请中，自然人29件，商业企业3件。", ["3"]),  # 一/商业企业 is 0: 3 is 三.七's
])
def test_attribution_follows_the_nearest_labels(r002, text, bad):
    m = Material(cells_of(r002)).add_values([29, 0, 23, 3])
    assert [u.text for u in check_numbers(text, m).unsupported] == bad


def test_full_width_numbers_are_checked_and_marked_as_written():
    t = "共３７件，占１２．５％，自然人本年新收２９件。"
    g = check_numbers(t, Material().add_values([29]))
    assert [u.text for u in g.unsupported] == ["３７", "１２．５％"]
    assert mark(t, g) == "共３７【未核实】件，占１２．５％【未核实】，自然人本年新收２９件。"
