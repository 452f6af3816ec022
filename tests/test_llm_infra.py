"""LLM infrastructure: config, ChatOpenAI against a local stub server, offline tokens, the cache, prompt files.

Offline: the only server is tests/llmstub.py on 127.0.0.1.
"""
from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import openai
import pytest
import tiktoken
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ValidationError

from llmstub import LLMStub
from review.llm import tokens
from review.llm.cache import LLMCache
from review.llm.config import LLMConfig, LLMConfigError, make_chat_model
from review.llm.prompts import Prompt, PromptError, list_prompts, load_prompt, parse_prompt

ENV_VARS = ("OPENAI_BASE_URL", "OPENAI_API_KEY", "REVIEW_LLM_MODEL", "REVIEW_LLM_TIMEOUT", "REVIEW_LLM_RETRIES",
            "OPENAI_API_BASE", "LANGSMITH_GATEWAY")
REPORT_TITLE = "政府信息公开工作年度报告"


@pytest.fixture
def clean_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def stub_config(stub: LLMStub, **kw) -> LLMConfig:
    return LLMConfig(**{"base_url": stub.base_url, "model": "stub-model", "timeout": 10, "max_retries": 0, **kw})


# ====================================================================== config

def test_config_unset_is_offline(clean_env):
    cfg = LLMConfig.from_env()
    assert (cfg.base_url, cfg.api_key, cfg.model) == (None, None, None)
    assert cfg.timeout == 60 and cfg.max_retries == 2
    assert not cfg.configured
    assert cfg.status() == "未配置大模型（离线模式：解释和草稿由规则模板生成）"
    assert make_chat_model(cfg) is None
    assert make_chat_model() is None  # reads the (empty) environment


def test_config_empty_values_count_as_unset(clean_env):
    clean_env.setenv("OPENAI_BASE_URL", "  ")
    clean_env.setenv("OPENAI_API_KEY", "")
    assert not LLMConfig.from_env().configured


def test_config_custom_server(clean_env):
    clean_env.setenv("OPENAI_BASE_URL", "http://10.0.0.5:8000/v1")
    clean_env.setenv("REVIEW_LLM_MODEL", "qwen2.5-72b-instruct")
    clean_env.setenv("REVIEW_LLM_TIMEOUT", "30")
    clean_env.setenv("REVIEW_LLM_RETRIES", "4")
    cfg = LLMConfig.from_env()
    assert cfg.configured
    assert (cfg.timeout, cfg.max_retries, cfg.api_key) == (30.0, 4, None)
    assert cfg.status() == "大模型：qwen2.5-72b-instruct @ http://10.0.0.5:8000/v1"


def test_config_custom_server_without_model_is_not_configured(clean_env):
    clean_env.setenv("OPENAI_BASE_URL", "http://10.0.0.5:8000/v1")
    clean_env.setenv("OPENAI_API_KEY", "sk-test")
    cfg = LLMConfig.from_env()
    assert cfg.model is None and not cfg.configured
    assert "REVIEW_LLM_MODEL" in cfg.status() and cfg.status().startswith("未配置大模型")
    assert make_chat_model(cfg) is None


def test_config_openai_key_only_defaults_model(clean_env):
    clean_env.setenv("OPENAI_API_KEY", "sk-secret-value")
    cfg = LLMConfig.from_env()
    assert cfg.configured and cfg.model == "gpt-4o-mini"
    assert cfg.status() == "大模型：gpt-4o-mini @ https://api.openai.com/v1"
    assert "sk-secret-value" not in repr(cfg) and "sk-secret-value" not in str(cfg)
    llm = make_chat_model(cfg)  # constructing never touches the network
    assert llm.openai_api_base == "https://api.openai.com/v1"
    assert llm.model_name == "gpt-4o-mini" and llm.temperature == 0


@pytest.mark.parametrize("name,value", [("REVIEW_LLM_TIMEOUT", "abc"), ("REVIEW_LLM_TIMEOUT", "-1"),
                                        ("REVIEW_LLM_RETRIES", "1.5"), ("REVIEW_LLM_RETRIES", "-2")])
def test_config_bad_numbers(clean_env, name, value):
    clean_env.setenv(name, value)
    with pytest.raises(LLMConfigError) as e:
        LLMConfig.from_env()
    assert name in e.value.zh and name in e.value.en


# ====================================================================== ChatOpenAI against the stub

def test_invoke_returns_stub_text(llm_stub):
    llm_stub.reply("这是一条审核解释。")
    llm = make_chat_model(stub_config(llm_stub))
    msg = llm.invoke([SystemMessage("你是审核助手"), HumanMessage(REPORT_TITLE)])
    assert msg.content == "这是一条审核解释。"
    assert msg.usage_metadata["output_tokens"] == len("这是一条审核解释。")
    (req,) = llm_stub.chat_requests
    body = req["json"]
    assert req["path"] == "/v1/chat/completions"
    assert body["model"] == "stub-model" and body["temperature"] == 0 and body["stream"] is False
    assert body["messages"] == [{"role": "system", "content": "你是审核助手"}, {"role": "user", "content": REPORT_TITLE}]
    assert req["headers"]["authorization"] == "Bearer not-needed"  # placeholder key for servers without auth


def test_api_key_is_sent(llm_stub):
    make_chat_model(stub_config(llm_stub, api_key="sk-local")).invoke("hi")
    assert llm_stub.last_request["headers"]["authorization"] == "Bearer sk-local"


def test_default_reply_when_queue_empty(llm_stub):
    llm_stub.default = "默认回答"
    assert make_chat_model(stub_config(llm_stub)).invoke("hi").content == "默认回答"


def test_stream_yields_chunks_in_order(llm_stub):
    llm_stub.reply(["政府", "信息", "公开", "年报"])
    llm = make_chat_model(stub_config(llm_stub), streaming=True)
    pieces = [c.content for c in llm.stream("hi") if c.content]
    assert pieces == ["政府", "信息", "公开", "年报"]
    body = llm_stub.last_request["json"]
    assert body["stream"] is True and "stream_options" not in body  # langchain's default for custom servers


def test_stream_with_usage(llm_stub):
    llm_stub.reply("一二三四五六七八九", usage=(11, 9))
    llm = make_chat_model(stub_config(llm_stub), streaming=True, stream_usage=True)
    chunks = list(llm.stream("hi"))
    assert "".join(c.content for c in chunks) == "一二三四五六七八九"
    assert [c.content for c in chunks if c.content] == ["一二三四", "五六七八", "九"]  # chunk_size 4
    usage = [c.usage_metadata for c in chunks if c.usage_metadata]
    assert usage == [{"input_tokens": 11, "output_tokens": 9, "total_tokens": 20,
                      "input_token_details": {}, "output_token_details": {}}]
    assert llm_stub.last_request["json"]["stream_options"] == {"include_usage": True}


def test_invoke_on_streaming_model_aggregates(llm_stub):
    llm_stub.reply(["审核", "完成"])
    assert make_chat_model(stub_config(llm_stub), streaming=True).invoke("hi").content == "审核完成"


class Explanation(BaseModel):
    explanation: str
    confidence: int = 0


def test_structured_output_json_schema(llm_stub):
    llm_stub.reply_json({"explanation": "表三第一行与第七行不一致", "confidence": 2})
    llm = make_chat_model(stub_config(llm_stub)).with_structured_output(Explanation, method="json_schema")
    result = llm.invoke("解释")
    assert result == Explanation(explanation="表三第一行与第七行不一致", confidence=2)
    body = llm_stub.last_request["json"]
    # What langchain-openai 1.7.3 sends: response_format json_schema built by openai's strict converter.
    assert body["response_format"]["type"] == "json_schema"
    js = body["response_format"]["json_schema"]
    assert js["name"] == "Explanation" and js["strict"] is True
    assert js["schema"]["additionalProperties"] is False
    assert js["schema"]["required"] == ["explanation", "confidence"]
    assert "tools" not in body and body["stream"] is False


def test_structured_output_is_json_schema_by_default(llm_stub):
    llm_stub.reply_json({"explanation": "好"})
    assert make_chat_model(stub_config(llm_stub)).with_structured_output(Explanation).invoke("x").explanation == "好"
    assert "response_format" in llm_stub.last_request["json"]


def test_structured_output_function_calling(llm_stub):
    llm_stub.reply_tool_call("Explanation", {"explanation": "工具调用", "confidence": 1})
    llm = make_chat_model(stub_config(llm_stub)).with_structured_output(Explanation, method="function_calling")
    assert llm.invoke("x") == Explanation(explanation="工具调用", confidence=1)
    body = llm_stub.last_request["json"]
    assert body["tools"][0]["function"]["name"] == "Explanation" and "response_format" not in body


def test_structured_output_broken_json_raises(llm_stub):
    llm_stub.reply_raw('{"explanation": "没写完')
    llm = make_chat_model(stub_config(llm_stub)).with_structured_output(Explanation, method="json_schema")
    with pytest.raises(ValidationError) as e:  # pydantic's json_invalid (a ValueError)
        llm.invoke("x")
    assert e.value.errors()[0]["type"] == "json_invalid"


def test_structured_output_wrong_shape_raises(llm_stub):
    llm_stub.reply_json({"confidence": "high"})
    llm = make_chat_model(stub_config(llm_stub)).with_structured_output(Explanation, method="json_schema")
    with pytest.raises(ValidationError):
        llm.invoke("x")


def test_structured_output_parse_error_escapes_include_raw(llm_stub):
    """With a Pydantic class the openai SDK parses inside the model call (chat.completions.parse), so a parse
    error is raised by the call itself: include_raw=True does not turn it into parsing_error."""
    llm_stub.reply_raw("不是JSON")
    llm = make_chat_model(stub_config(llm_stub)).with_structured_output(
        Explanation, method="json_schema", include_raw=True)
    with pytest.raises(ValidationError):
        llm.invoke("x")


def test_structured_output_dict_schema_is_lenient(llm_stub):
    """With a JSON-schema dict langchain's JsonOutputParser parses, and it accepts truncated JSON: a reason to
    prefer Pydantic classes (strict) in the layer above."""
    schema = {"name": "Explanation", "schema": Explanation.model_json_schema(), "strict": False}
    llm = make_chat_model(stub_config(llm_stub)).with_structured_output(schema, method="json_schema",
                                                                        include_raw=True)
    llm_stub.reply_raw('{"explanation": "没写完')
    assert llm.invoke("x")["parsed"] == {"explanation": "没写完"}
    llm_stub.reply_raw("不是JSON")
    out = llm.invoke("x")
    assert out["parsed"] is None and out["parsing_error"] is not None and out["raw"].content == "不是JSON"
    assert llm_stub.last_request["json"]["response_format"] == {"type": "json_schema", "json_schema": schema}


def test_timeout_raises_quickly(llm_stub):
    llm_stub.delay(5)
    llm = make_chat_model(stub_config(llm_stub, timeout=1, max_retries=0))
    start = time.monotonic()
    with pytest.raises(openai.APITimeoutError):  # langchain-openai raises its subclass OpenAITimeoutError
        llm.invoke("x")
    assert time.monotonic() - start < 3
    assert len(llm_stub.chat_requests) == 1


def test_timeout_is_retried_by_the_client(llm_stub):
    llm_stub.delay(5).reply("第二次成功")
    llm = make_chat_model(stub_config(llm_stub, timeout=1, max_retries=1))
    assert llm.invoke("x").content == "第二次成功"
    reqs = llm_stub.chat_requests
    assert len(reqs) == 2 and reqs[1]["headers"]["x-stainless-retry-count"] == "1"


def test_server_error_without_and_with_retry(llm_stub):
    llm_stub.fail(500, "boom")
    with pytest.raises(openai.InternalServerError):
        make_chat_model(stub_config(llm_stub)).invoke("x")
    llm_stub.fail(503).reply("恢复")
    assert make_chat_model(stub_config(llm_stub, max_retries=1)).invoke("x").content == "恢复"


def test_client_error_not_retried(llm_stub):
    llm_stub.fail(401, "bad key").reply("never")
    with pytest.raises(openai.AuthenticationError):
        make_chat_model(stub_config(llm_stub, max_retries=2)).invoke("x")
    assert len(llm_stub.chat_requests) == 1


def test_token_counting_on_the_model_is_offline(llm_stub):
    llm = make_chat_model(stub_config(llm_stub, model="gpt-4o-mini"))
    assert llm.get_num_tokens(REPORT_TITLE) == tokens.count(REPORT_TITLE, "o200k_base")
    # goes through tiktoken.get_encoding, pointed at the shipped vocabularies
    n = llm.get_num_tokens_from_messages([HumanMessage(REPORT_TITLE)])
    assert n > tokens.count(REPORT_TITLE)
    assert llm_stub.requests == []


def test_embeddings_endpoint(llm_stub):
    client = openai.OpenAI(base_url=llm_stub.base_url, api_key="x", max_retries=0)
    a = client.embeddings.create(model="emb", input=["政府信息", "公开"])  # the SDK asks for base64
    b = client.embeddings.create(model="emb", input="政府信息", encoding_format="float")
    assert [len(d.embedding) for d in a.data] == [16, 16]
    assert a.data[0].embedding == pytest.approx(b.data[0].embedding, abs=1e-6)
    assert a.data[0].embedding != pytest.approx(a.data[1].embedding)
    assert sum(v * v for v in b.data[0].embedding) == pytest.approx(1.0, abs=1e-6)
    assert llm_stub.requests[0]["json"]["encoding_format"] == "base64"


def test_stub_records_unknown_routes():
    with LLMStub() as stub:
        client = openai.OpenAI(base_url=stub.base_url, api_key="x", max_retries=0)
        assert [m.id for m in client.models.list()] == ["stub-model"]
        with pytest.raises(openai.NotFoundError):
            client.completions.create(model="m", prompt="x")
        assert [r["path"] for r in stub.requests] == ["/v1/models", "/v1/completions"]


# ====================================================================== tokens

def _official_params(name, monkeypatch):
    """What tiktoken_ext/openai_public.py would build, with the download replaced by a recorder."""
    from tiktoken_ext import openai_public

    seen = {}

    def fake_load(url, expected_hash=None):
        seen["url"], seen["hash"] = url, expected_hash
        return {}

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", fake_load)
    params = openai_public.ENCODING_CONSTRUCTORS[name]()
    return params, seen


@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base"])
def test_vocab_files_are_the_official_ones(name, monkeypatch):
    official, seen = _official_params(name, monkeypatch)
    data = tokens.vocab_path(name).read_bytes()
    assert seen["url"].endswith(f"/{name}.tiktoken")
    assert hashlib.sha256(data).hexdigest() == seen["hash"] == tokens.EXPECTED_SHA256[name]
    ours = tokens.encoding_params(name)
    assert ours["pat_str"] == official["pat_str"]
    assert ours["special_tokens"] == official["special_tokens"]


def test_harmony_params_match_official(monkeypatch):
    official, _ = _official_params("o200k_harmony", monkeypatch)
    ours = tokens.encoding_params("o200k_harmony")
    assert ours["special_tokens"] == official["special_tokens"] and ours["pat_str"] == official["pat_str"]


def test_counts_match_official_and_an_independent_tokenizer():
    import quicktok

    samples = [REPORT_TITLE, "2023年，本机关共收到政府信息公开申请 1,234 件（同比增长 12.5%）。",
               "Hello, world! 表三 三.（一） don't", "  \n\t混合 text ＆ 符号…"]
    for name, n_vocab in (("cl100k_base", 100277), ("o200k_base", 200019)):
        enc = tokens.encoding(name)
        assert enc.n_vocab == n_vocab
        qt = quicktok.get_encoding(name)
        for s in samples:
            assert enc.encode_ordinary(s) == list(qt.encode(s)), (name, s)
            assert tokens.count(s, name) == len(enc.encode_ordinary(s))
    assert tokens.count(REPORT_TITLE, "o200k_base") == len(quicktok.get_encoding("o200k_base").encode(REPORT_TITLE))
    assert tokens.encoding("o200k_base").encode_ordinary(REPORT_TITLE) == [45461, 18120, 42532, 22369, 66136, 65247]
    assert tokens.count(REPORT_TITLE, "cl100k_base") == 12
    # special-token text is counted as ordinary text, never rejected
    assert tokens.count("<|endoftext|>") == len(tokens.encoding().encode("<|endoftext|>", disallowed_special=()))


def test_tiktoken_registry_works_offline():
    tokens.install_offline_tiktoken()
    enc = tiktoken.get_encoding("cl100k_base")
    assert enc is tokens.encoding("cl100k_base")
    assert tiktoken.encoding_for_model("gpt-4o").name == "o200k_base"
    assert tiktoken.get_encoding("o200k_harmony").encode("<|start|>", allowed_special="all") == [200006]


def test_round_trip():
    text = "一、总体情况\n（一）主动公开政府信息：本年新制发规范性文件 3 件。\r\n😀 emoji ok"
    for name in ("cl100k_base", "o200k_base"):
        enc = tokens.encoding(name)
        assert enc.decode(enc.encode(text)) == text


def test_encoding_for_model():
    cases = {"gpt-4o-mini": "o200k_base", "gpt-4.1": "o200k_base", "o3-mini": "o200k_base", "gpt-5": "o200k_base",
             "openai/gpt-4o": "o200k_base", "gpt-4-turbo": "cl100k_base", "gpt-3.5-turbo": "cl100k_base",
             "qwen2.5-72b-instruct": "o200k_base", "deepseek-chat": "o200k_base", None: "o200k_base",
             "gpt-oss-20b": "o200k_harmony"}
    for model, name in cases.items():
        assert tokens.encoding_name_for_model(model) == name, model
        assert tokens.encoding_for_model(model).name == name


def test_count_messages():
    dicts = [{"role": "system", "content": "你是审核助手"}, {"role": "user", "content": REPORT_TITLE}]
    expected = tokens.count("你是审核助手") + tokens.count(REPORT_TITLE) + 2 * tokens.MESSAGE_OVERHEAD
    assert tokens.count_messages(dicts) == expected
    assert tokens.count_messages([SystemMessage("你是审核助手"), HumanMessage(REPORT_TITLE)]) == expected
    assert tokens.count_messages([AIMessage(content=[{"type": "text", "text": REPORT_TITLE}])]) == \
        tokens.count(REPORT_TITLE) + tokens.MESSAGE_OVERHEAD
    assert tokens.count_messages([]) == 0


def test_truncate_never_exceeds_budget():
    text = ("本机关2023年共收到政府信息公开申请 128 件，其中自然人申请 120 件😀；" * 20) + "结束"
    for name in ("cl100k_base", "o200k_base"):
        total = tokens.count(text, name)
        for budget in list(range(0, 40)) + [total - 1, total, total + 5]:
            cut = tokens.truncate(text, budget, name)
            assert tokens.count(cut, name) <= max(budget, 0)
            assert text.startswith(cut)
            assert "\ufffd" not in cut
        assert tokens.truncate(text, total, name) == text
        assert len(tokens.truncate(text, 50, name)) > len(tokens.truncate(text, 10, name)) > 0


def test_unknown_encoding_is_a_clear_error():
    with pytest.raises(tokens.VocabError) as e:
        tokens.encoding("p50k_base")
    assert "p50k_base" in e.value.zh and "p50k_base" in e.value.en


# ====================================================================== cache

KEY = dict(model="m", prompt_id="explain", prompt_version="1", prompt_sha="abc", payload={"rule": "r1", "cells": [1]})


def test_cache_key_changes(tmp_path):
    cache = LLMCache(tmp_path / "c.sqlite")
    base = cache.key(**KEY)
    assert len(base) == 64 and base == cache.key(**KEY)
    assert cache.key(**{**KEY, "payload": {"cells": [1], "rule": "r1"}}) == base  # key order does not matter
    for change in ({"model": "m2"}, {"prompt_id": "draft"}, {"prompt_version": "2"}, {"prompt_sha": "abd"},
                   {"payload": {"rule": "r1", "cells": [2]}}, {"payload": {"rule": "r1", "cells": [1], "x": None}}):
        assert cache.key(**{**KEY, **change}) != base, change


def test_cache_key_accepts_pydantic_payload(tmp_path):
    cache = LLMCache(tmp_path / "c.sqlite")
    assert cache.key(**{**KEY, "payload": {"e": Explanation(explanation="x")}}) == \
        cache.key(**{**KEY, "payload": {"e": {"explanation": "x", "confidence": 0}}})
    with pytest.raises(TypeError):
        cache.key(**{**KEY, "payload": {"o": object()}})


def test_cache_round_trip_and_usage(tmp_path):
    path = tmp_path / "sub" / "c.sqlite"
    cache = LLMCache(path)
    k = cache.key(**KEY)
    assert cache.get(k) is None
    response = {"content": "解释：表三数据不平衡", "parsed": {"explanation": "x"}, "n": 1.5}
    cache.put(k, response, model="m", prompt_id="explain", prompt_tokens=120, completion_tokens=30)
    assert cache.get(k) == response and len(cache) == 1
    assert LLMCache(path).get(k) == response  # persisted
    cache.record_usage(model="m", prompt_id="explain", prompt_tokens=120, completion_tokens=30, cached=False)
    cache.record_usage(model="m", prompt_id="explain", prompt_tokens=0, completion_tokens=0, cached=True)
    cache.record_usage(model="m2", prompt_id="draft", prompt_tokens=10, completion_tokens=5, cached=False)
    rows = cache.usage()
    assert [(r["model"], r["prompt_tokens"], r["completion_tokens"], r["cached"]) for r in rows] == \
        [("m", 120, 30, False), ("m", 0, 0, True), ("m2", 10, 5, False)]
    assert all(r["ts"] > 0 for r in rows)
    totals = cache.totals()
    assert {k: totals[k] for k in ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "total_tokens")} == \
        {"calls": 3, "cache_hits": 1, "prompt_tokens": 130, "completion_tokens": 35, "total_tokens": 165}
    assert totals["by_model"]["m"]["calls"] == 2 and totals["by_model"]["m2"]["total_tokens"] == 15
    with open(path, "rb") as f:  # WAL mode
        assert f.read(100)[18:20] == b"\x02\x02"


def test_cache_empty_totals(tmp_path):
    t = LLMCache(tmp_path / "c.sqlite").totals()
    assert t == {"calls": 0, "cache_hits": 0, "prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
                 "by_model": {}}


def test_cache_default_path(tmp_path, monkeypatch):
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path / "data"))
    cache = LLMCache()
    assert cache.path == tmp_path / "data" / "llm_cache.sqlite" and cache.path.exists()


def test_cache_threads(tmp_path):
    cache = LLMCache(tmp_path / "c.sqlite")
    errors = []

    def work(i):
        try:
            for j in range(20):
                k = cache.key(**{**KEY, "payload": {"i": i, "j": j}})
                cache.put(k, {"i": i, "j": j}, model="m", prompt_id="p")
                cache.record_usage(model="m", prompt_id="p", prompt_tokens=1, completion_tokens=1)
                assert cache.get(k) == {"i": i, "j": j}
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(cache) == 120 and cache.totals()["calls"] == 120


def test_cache_hit_sends_no_request(llm_stub, tmp_path):
    """The pattern the layer above uses: look up, else call and store; usage recorded either way."""
    cache = LLMCache(tmp_path / "c.sqlite")
    llm = make_chat_model(stub_config(llm_stub))
    prompt = load_prompt("_example")
    llm_stub.reply("一句话解释", usage=(50, 5))

    def ask(message):
        values = {"agency": "某市政务服务数据管理局", "year": 2023, "message": message}
        key = cache.key(model="stub-model", prompt_id=prompt.id, prompt_version=prompt.version,
                        prompt_sha=prompt.sha, payload=values)
        hit = cache.get(key)
        if hit is not None:
            cache.record_usage(model="stub-model", prompt_id=prompt.id, prompt_tokens=0, completion_tokens=0,
                               cached=True)
            return hit["content"]
        msg = llm.invoke(prompt.render(**values))
        usage = msg.usage_metadata
        cache.put(key, {"content": msg.content}, model="stub-model", prompt_id=prompt.id,
                  prompt_tokens=usage["input_tokens"], completion_tokens=usage["output_tokens"])
        cache.record_usage(model="stub-model", prompt_id=prompt.id, prompt_tokens=usage["input_tokens"],
                           completion_tokens=usage["output_tokens"], cached=False)
        return msg.content

    assert ask("表三第一行合计不等于各项之和") == "一句话解释"
    assert ask("表三第一行合计不等于各项之和") == "一句话解释"
    assert len(llm_stub.chat_requests) == 1
    sent = llm_stub.chat_requests[0]["json"]["messages"]
    assert "某市政务服务数据管理局2023年" in sent[1]["content"] and "表三第一行" in sent[1]["content"]
    assert [(r["cached"], r["prompt_tokens"]) for r in cache.usage()] == [(False, 50), (True, 0)]
    ask("另一条发现")
    assert len(llm_stub.chat_requests) == 2


# ====================================================================== prompts

def test_load_and_render_example():
    p = load_prompt("_example")
    assert isinstance(p, Prompt)
    assert (p.id, p.version) == ("_example", "1") and p.description.startswith("示例提示词")
    assert p.sha == hashlib.sha256(Path(p.path).read_bytes()).hexdigest()
    assert p.placeholders == {"agency", "year", "message"}
    msgs = p.render(agency="某县人民政府办公室", year=2022, message="缺少第六部分", unused="ignored")
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert msgs[0]["content"].startswith("你是政府信息公开工作年度报告的审核助手")
    assert "报告：某县人民政府办公室2022年政府信息公开工作年度报告" in msgs[1]["content"]
    assert '{"explanation": "…"}' in msgs[1]["content"]  # literal braces survive
    assert not msgs[1]["content"].endswith("\n") and "</user>" not in msgs[1]["content"]


def test_missing_placeholder_error():
    with pytest.raises(PromptError) as e:
        load_prompt("_example").render(agency="x", year=2022)
    assert "message" in e.value.zh and "message" in e.value.en and "_example" in str(e.value)


PROMPT_TEXT = """---
id: demo
version: {version}
description: 测试
---
<system>
系统 {{x}}
</system>
<user>
用户：{{name}}
</user>
"""


def test_prompts_dir_env_and_versions(tmp_path, monkeypatch):
    (tmp_path / "demo.md").write_text(PROMPT_TEXT.format(version=1), encoding="utf-8")
    monkeypatch.setenv("REVIEW_PROMPTS_DIR", str(tmp_path))
    p1 = load_prompt("demo")
    assert p1.render(x="甲", name="乙") == [{"role": "system", "content": "系统 甲"},
                                          {"role": "user", "content": "用户：乙"}]
    (tmp_path / "demo.md").write_text(PROMPT_TEXT.format(version=2), encoding="utf-8")
    p2 = load_prompt("demo")
    assert p2.version == "2" and p2.sha != p1.sha
    cache = LLMCache(tmp_path / "c.sqlite")
    keys = {cache.key(model="m", prompt_id=p.id, prompt_version=p.version, prompt_sha=p.sha, payload={})
            for p in (p1, p2)}
    assert len(keys) == 2
    (tmp_path / "_private.md").write_text(PROMPT_TEXT.format(version=1).replace("id: demo", "id: _private"),
                                          encoding="utf-8")
    assert [p.id for p in list_prompts()] == ["demo"]
    assert [p.id for p in list_prompts(include_examples=True)] == ["_private", "demo"]


def test_list_prompts_default_dir_hides_example():
    assert "_example" not in [p.id for p in list_prompts()]
    assert "_example" in [p.id for p in list_prompts(include_examples=True)]


@pytest.mark.parametrize("text,fragment", [
    ("no front matter", "front matter"),
    ("---\nversion: 1\n---\n<system>a</system><user>b</user>", "no id"),
    ("---\nid: demo\nversion: 1\n---\n<user>b</user>", "<system>"),
    ("---\nid: demo\nversion: 1\n---\n<system>a</system>\n<user>b</user>\n<user>c</user>", "<user>"),
])
def test_malformed_prompt_files(text, fragment):
    with pytest.raises(PromptError) as e:
        parse_prompt(text.encode("utf-8"), "x.md")
    assert fragment in e.value.en


def test_prompt_errors(tmp_path):
    with pytest.raises(PromptError) as e:
        load_prompt("nope", tmp_path)
    assert "nope" in e.value.zh
    (tmp_path / "other.md").write_text(PROMPT_TEXT.format(version=1), encoding="utf-8")
    with pytest.raises(PromptError) as e:
        load_prompt("other", tmp_path)  # declares id demo
    assert "demo" in e.value.en
    with pytest.raises(PromptError):
        load_prompt("../etc/passwd", tmp_path)
    bad = Prompt(id="b", version="1", system="{", user="", sha="0")
    with pytest.raises(PromptError) as e:
        bad.render()
    assert "{{" in e.value.zh
