"""Calls that fail well: nothing empty or failed is cached; after the first timeout or refused connection the
rest of the run goes offline at once with one note; servers with only json_object or no structured output
work; every answer records the prompt id and version and the model."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai  # noqa: F401  (imported up front: the in-process timings below measure calls, not imports)
import pytest

from review.llm.cache import LLMCache
from review.llm.calls import parse_answer
from review.llm.config import LLMConfig
from review.llm.schemas import DraftText, ExplanationText
from review.llm.service import Assistant

ROOT = Path(__file__).parent.parent
S002 = ROOT / "fixtures" / "002_f86e26e747344a50.txt"
GOOD = {"summary": "自然人列本年新收29件，办理结果23件，相差6件。", "causes": ["申请人类型登记不一致"],
        "corrections": ["按台账核对后更正表三"]}


def make(base_url: str, tmp_path: Path, timeout: float = 20) -> Assistant:
    cfg = LLMConfig(base_url=base_url, api_key="k", model="stub-model", timeout=timeout, max_retries=0)
    return Assistant(cfg=cfg, cache=LLMCache(tmp_path / "cache.sqlite"))


def balance(rv):
    return next(f for f in rv.result.findings if f.rule == "applications-balance" and f.cells[0]["column"] == "自然人")


# ------------------------------------------------------------------------------------------ never cached

@pytest.mark.parametrize("bad", [{"summary": "", "causes": [], "corrections": []}, None])
def test_empty_or_failed_answers_are_never_cached(llm_stub, tmp_path, bad):
    a = make(llm_stub.base_url, tmp_path)
    rv = a.review(S002)
    if bad is None:
        llm_stub.fail(500, "boom")
    else:
        llm_stub.reply_json(bad)
    e = a.explain(rv, balance(rv))
    assert e.mode == "offline" and ("空的回答" in e.note or "HTTP 500" in e.note)
    assert len(a.cache) == 0
    llm_stub.reply_json(GOOD)
    sent = len(llm_stub.chat_requests)
    e = a.explain(rv, balance(rv))
    assert len(llm_stub.chat_requests) == sent + 1 and e.mode == "llm"  # asked again, not replayed


def test_an_empty_chat_answer_is_not_cached(llm_stub, tmp_path):
    a = make(llm_stub.base_url, tmp_path)
    rv = a.review(S002)
    llm_stub.reply("")
    session = a.chat(rv)
    text = "".join(session.ask("自然人列为什么不平？"))
    assert session.last.mode == "offline" and "空的回答" in session.last.note and "相差 6" in text
    llm_stub.reply("自然人列本年新收29件。")
    again = a.chat(rv)
    "".join(again.ask("自然人列为什么不平？"))
    assert again.last.mode == "llm" and again.last.text == "自然人列本年新收29件。"


# ------------------------------------------------------------------------------------------ the breaker

def test_after_a_timeout_the_rest_of_the_run_is_offline_at_once(llm_stub, tmp_path):
    for _ in range(10):
        llm_stub.delay(30)
    a = make(llm_stub.base_url, tmp_path, timeout=2)
    rv = a.review(S002)
    start = time.monotonic()
    out = a.explain_all(rv)
    took = time.monotonic() - start
    assert len(out) >= 4 and took < 2 * 2  # within twice the timeout, whatever the number of findings
    assert len(llm_stub.chat_requests) == 1
    assert all(e.mode == "offline" for e in out)
    assert "超时" in out[0].note and "不再请求大模型" in out[0].note
    assert all("见第一条说明" in e.note for e in out[1:])  # one note, the others point at it
    d = a.draft(rv)  # the rest of the run: drafts and chat too
    assert d.mode == "offline" and len(llm_stub.chat_requests) == 1


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_connection_takes_the_run_offline(tmp_path):
    a = make(f"http://127.0.0.1:{_closed_port()}/v1", tmp_path, timeout=5)
    rv = a.review(S002)
    start = time.monotonic()
    out = a.explain_all(rv)
    assert time.monotonic() - start < 5
    assert "连不上" in out[0].note and all(e.mode == "offline" for e in out)
    session = a.chat(rv)
    text = "".join(session.ask("本年新收申请多少件？"))
    assert session.last.mode == "offline" and "29" in text


def test_cli_explain_all_against_a_server_that_never_answers(llm_stub, tmp_path):
    """`review explain --all` ends within twice the timeout. The interpreter's start, the imports and the review
    itself are measured in the same test as a floor (the same command against a port that refuses at once, which
    takes the same path minus the wait): on a loaded machine they alone can take several seconds."""
    for _ in range(10):
        llm_stub.delay(120)
    timeout = 6
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_") and k != "REVIEW_LLM_MODEL"}
    env.update(OPENAI_API_KEY="k", REVIEW_LLM_MODEL="stub-model", REVIEW_LLM_TIMEOUT=str(timeout),
               REVIEW_DATA_DIR=str(tmp_path))

    def run(base_url: str) -> tuple[float, subprocess.CompletedProcess]:
        start = time.monotonic()
        p = subprocess.run([sys.executable, "-m", "review.cli", "explain", "--all", "--no-store", str(S002)],
                           capture_output=True, text=True, cwd=ROOT, env={**env, "OPENAI_BASE_URL": base_url},
                           timeout=180)
        return time.monotonic() - start, p

    floor, p = run(f"http://127.0.0.1:{_closed_port()}/v1")
    assert p.returncode == 0 and p.stdout.count("连不上") == 1, p.stderr
    took, p = run(llm_stub.base_url)
    assert p.returncode == 0, p.stderr
    print(f"explain --all: {took:.1f} s against a silent server, {floor:.1f} s floor, timeout {timeout} s")
    assert took - floor < 2 * timeout, f"took {took:.1f}s, floor {floor:.1f}s"
    assert len(llm_stub.chat_requests) == 1
    assert p.stdout.count("超时") == 1  # one note for the run


# ------------------------------------------------------------------------------------------ structured output

@pytest.mark.parametrize("refused,expected", [(("json_schema",), {"type": "json_object"}),
                                              (("json_schema", "json_object"), None)])
def test_servers_without_json_schema_still_work(llm_stub, tmp_path, refused, expected):
    llm_stub.refuse_response_format(*refused)
    a = make(llm_stub.base_url, tmp_path)
    rv = a.review(S002)
    llm_stub.reply("好的，结果如下：\n```json\n" + __import__("json").dumps(GOOD, ensure_ascii=False) + "\n```")
    e = a.explain(rv, balance(rv))
    assert e.mode == "llm" and e.summary == GOOD["summary"], e.note
    last = llm_stub.chat_requests[-1]["json"]
    assert last.get("response_format") == expected
    assert "JSON Schema" in last["messages"][0]["content"]  # the prompt itself describes the JSON
    # the next call goes straight to the mode that worked
    llm_stub.reply_json(GOOD)
    sent = len(llm_stub.chat_requests)
    a.explain(rv, next(f for f in rv.result.findings if f.status == "fail" and f is not balance(rv)))
    assert len(llm_stub.chat_requests) == sent + 1


def test_the_tolerant_parser():
    assert parse_answer('<think>…</think>{"summary": "好", "causes": "一条", "corrections": []}',
                        ExplanationText).causes == ["一条"]
    d = parse_answer('结果：{"problems": [{"text": "甲", "sources": "1, 3"}], "measures": ["乙"], "plan": []}', DraftText)
    assert d.problems[0].sources == [1, 3] and d.measures[0].text == "乙" and d.measures[0].sources == []
    with pytest.raises(ValueError):
        parse_answer("没有 JSON", ExplanationText)


# ------------------------------------------------------------------------------------------ traceability

def test_every_answer_records_prompt_and_model(llm_stub, tmp_path):
    a = make(llm_stub.base_url, tmp_path)
    rv = a.review(S002)
    llm_stub.reply_json(GOOD)
    e = a.explain(rv, balance(rv))
    llm_stub.reply_json({"problems": [{"text": "政策解读形式单一。", "sources": [1]}],
                         "measures": [{"text": "未找到上年年报。", "sources": [1]}],
                         "plan": [{"text": "丰富政策解读形式。", "sources": [1]}]})
    d = a.draft(rv)
    llm_stub.reply("自然人列本年新收29件。")
    session = a.chat(rv)
    "".join(session.ask("自然人列为什么不平？"))
    for answer, pid in ((e, "explain"), (d, "draft"), (session.last, "chat")):
        assert answer.mode == "llm" and answer.model == "stub-model"
        assert answer.prompt_id == pid and answer.prompt_version
