"""Model calls that fail well.

- Structured answers work with any OpenAI-compatible server: `json_schema` first; a server that refuses it
  (HTTP 400) is asked with `json_object` (DeepSeek), then with no response_format at all. The prompt always
  describes the JSON, and a tolerant parser reads it (code fences, text around the object, a string where a
  list is wanted).
- Empty or failed answers are never cached.
- After the first timeout or refused connection the rest of the run goes offline at once (a circuit breaker
  with one note), so `review explain --all` against a server that never answers ends within about one timeout.
  Status errors 429/5xx are retried (REVIEW_LLM_RETRIES) with a short backoff; timeouts are not retried.
- Every answer carries the prompt's id and version and the model (`Trace`), so signed-off text can be traced.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from typing import Any, Iterator, Optional

from pydantic import BaseModel, ValidationError

from review.llm import tokens
from review.llm.cache import LLMCache
from review.llm.config import PLACEHOLDER_API_KEY, LLMConfig
from review.llm.prompts import Prompt

log = logging.getLogger(__name__)

JSON_MODES = ("json_schema", "json_object", "none")


class Trace(BaseModel):
    prompt_id: str
    prompt_version: str
    model: Optional[str] = None


class CallFailed(Exception):
    """A model call gave no usable answer; `note` says why in Chinese."""

    def __init__(self, note: str):
        super().__init__(note)
        self.note = note


# ---------------------------------------------------------------------------------------------- parsing

def _json_text(text: str) -> str:
    t = re.sub(r"<think>.*?</think>", "", text or "", flags=re.S).strip()
    fence = re.search(r"```(?:json|JSON)?\s*(.*?)```", t, re.S)
    if fence:
        t = fence.group(1).strip()
    start = t.find("{")
    if start < 0:
        raise ValueError("回答中没有 JSON 对象")
    depth, in_str, esc = 0, False, False
    for i in range(start, len(t)):
        ch = t[i]
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return t[start:i + 1]
    raise ValueError("回答中的 JSON 对象不完整")


def _coerce(value: Any, schema: type[BaseModel]) -> Any:
    """Lenient shapes: a string where a list is wanted becomes a one-item list; "1,2" sources become [1, 2]."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for name, field in schema.model_fields.items():
        if name not in out:
            continue
        ann = str(field.annotation)
        v = out[name]
        if ann.startswith("list") and isinstance(v, str):
            out[name] = [x for x in re.findall(r"\d+", v)] if "int" in ann else [v]
        if ann.startswith("list[") and isinstance(out[name], list):
            inner = getattr(field.annotation, "__args__", [None])[0]
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                out[name] = [_coerce({"text": x} if isinstance(x, str) else x, inner) for x in out[name]]
            elif inner is int:
                out[name] = [int(x) for x in out[name] if str(x).strip().lstrip("[").rstrip("]").isdigit()
                             or isinstance(x, int)]
    return out


def parse_answer(text: str, schema: type[BaseModel]) -> BaseModel:
    """The schema from a model's text, tolerantly; ValueError with a Chinese reason when it cannot be read."""
    try:
        data = json.loads(_json_text(text))
    except json.JSONDecodeError as e:
        raise ValueError(f"JSON 无法解析（{e.msg}）") from None
    try:
        return schema.model_validate(_coerce(data, schema))
    except ValidationError as e:
        raise ValueError(f"JSON 字段不符合约定（{e.errors()[0].get('loc')}：{e.errors()[0].get('msg')}）") from None


def json_instruction(schema: type[BaseModel]) -> str:
    """The JSON the model must return, described in the prompt (for servers without structured output)."""
    props = schema.model_json_schema()
    return ("\n\n只输出一个 JSON 对象（json），不要输出其他文字。JSON Schema：\n"
            + json.dumps(props, ensure_ascii=False, separators=(",", ":")))


def _empty(parsed: BaseModel) -> bool:
    values = [v for v in parsed.model_dump().values()]
    return all((not v) if not isinstance(v, str) else not v.strip() for v in values)


# ---------------------------------------------------------------------------------------------- failures

def failure_note(e: BaseException) -> str:
    name = type(e).__name__
    detail = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
    status = getattr(e, "status_code", None)
    if "Timeout" in name:
        what = "大模型请求超时"
    elif "Connection" in name:
        what = "连不上大模型服务"
    elif isinstance(e, ValueError) or "Validation" in name or "JSON" in name or "Parse" in name:
        what = "大模型返回的内容不是约定的 JSON 格式"
    elif status:
        what = f"大模型服务返回错误（HTTP {status}）"
    else:
        what = "大模型调用失败"
    log.warning("LLM call failed: %s: %s", name, detail)
    return f"{what}（{name}{'：' + detail if detail else ''}）"


def _is_unreachable(e: BaseException) -> bool:
    import openai
    import httpx
    return isinstance(e, (openai.APITimeoutError, openai.APIConnectionError, httpx.TimeoutException,
                          httpx.ConnectError, TimeoutError, ConnectionError))


def _is_retryable(e: BaseException) -> bool:
    status = getattr(e, "status_code", None)
    return status is not None and (status == 429 or status >= 500)


def _refuses_format(e: BaseException) -> bool:
    status = getattr(e, "status_code", None)
    return status in (400, 404, 415, 422) and re.search(r"response_format|json_schema|json_object|structured|"
                                                         r"not supported|unsupported", str(e), re.I) is not None


# ---------------------------------------------------------------------------------------------- the caller

class Caller:
    """Model calls for one Assistant: cache, breaker, retries, JSON modes."""

    def __init__(self, cfg: LLMConfig, cache_factory):
        self.cfg = cfg
        self._cache_factory = cache_factory
        self._lock = threading.Lock()
        self.down: Optional[str] = None  # why the model is not asked any more in this run
        self._down_until = 0.0
        self.down_noted = False
        self._client = None
        env = os.environ.get("REVIEW_LLM_JSON_MODE", "").strip()
        self.json_mode = env if env in JSON_MODES else "json_schema"

    @property
    def cache(self) -> LLMCache:
        return self._cache_factory()

    def client(self):
        """The openai client (lighter to import than langchain-openai, which matters when a run must end within
        a timeout). No client-side retries: timeouts are not retried at all, 429/5xx by `_retrying`."""
        if self._client is None:
            import openai
            self._client = openai.OpenAI(base_url=self.cfg.effective_base_url,
                                         api_key=self.cfg.api_key or PLACEHOLDER_API_KEY,
                                         timeout=self.cfg.timeout, max_retries=0)
        return self._client

    # breaker ---------------------------------------------------------------------------------
    def check_up(self) -> None:
        with self._lock:
            if self.down and time.monotonic() < self._down_until:
                first = not self.down_noted
                self.down_noted = True
                raise CallFailed(self.down if first else "本次运行中大模型不可用（见第一条说明），直接使用离线结果")
            if self.down:
                self.down, self.down_noted = None, False

    def trip(self, e: BaseException) -> str:
        note = failure_note(e)
        with self._lock:
            if self.down is None:
                self.down = f"{note}；本次运行其余部分不再请求大模型，直接使用离线结果"
                # a long-running UI tries again later; a CLI run is over long before
                self._down_until = time.monotonic() + max(120.0, 4 * self.cfg.timeout)
                self.down_noted = True
                return self.down
        return note

    def _retrying(self, fn):
        delay = 0.5
        for attempt in range(self.cfg.max_retries + 1):
            try:
                return fn()
            except Exception as e:  # noqa: BLE001
                if _is_retryable(e) and attempt < self.cfg.max_retries:
                    time.sleep(delay)
                    delay = min(delay * 2, 4)
                    continue
                raise

    # structured ------------------------------------------------------------------------------
    def structured(self, prompt: Prompt, values: dict, schema: type[BaseModel]) -> tuple[BaseModel, Trace]:
        """Ask for `schema`; raises CallFailed (with a Chinese note) when no usable answer came."""
        trace = Trace(prompt_id=prompt.id, prompt_version=prompt.version, model=self.cfg.model)
        messages = prompt.render(**values)
        messages[0] = {**messages[0], "content": messages[0]["content"] + json_instruction(schema)}
        key = self.cache.key(model=self.cfg.model or "", prompt_id=prompt.id, prompt_version=prompt.version,
                             prompt_sha=prompt.sha, payload={"messages": messages, "schema": schema.__name__})
        hit = self.cache.get(key)
        if hit is not None and hit.get("parsed"):
            try:
                parsed = schema.model_validate(hit["parsed"])
                if not _empty(parsed):
                    self.cache.record_usage(model=self.cfg.model or "", prompt_id=prompt.id, cached=True)
                    return parsed, trace
            except ValidationError:
                pass
        self.check_up()
        client = self.client()
        last: Optional[BaseException] = None
        for mode in JSON_MODES[JSON_MODES.index(self.json_mode):]:
            kw: dict = {}
            if mode == "json_schema":
                kw["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": schema.__name__, "schema": schema.model_json_schema(), "strict": False}}
            elif mode == "json_object":
                kw["response_format"] = {"type": "json_object"}
            try:
                raw = self._retrying(lambda: client.chat.completions.create(
                    model=self.cfg.model, messages=messages, temperature=0, **kw))
            except Exception as e:  # noqa: BLE001
                if _is_unreachable(e):
                    raise CallFailed(self.trip(e)) from None
                if _refuses_format(e):
                    last = e
                    self.json_mode = JSON_MODES[min(JSON_MODES.index(mode) + 1, 2)]
                    continue
                raise CallFailed(failure_note(e)) from None
            text = (raw.choices[0].message.content or "") if raw.choices else ""
            if not text.strip():
                raise CallFailed("大模型返回了空的回答（未缓存）")
            try:
                parsed = parse_answer(text, schema)
            except ValueError as e:
                raise CallFailed(f"大模型返回的内容不是约定的 JSON 格式（{e}）") from None
            if _empty(parsed):
                raise CallFailed("大模型返回了空的回答（未缓存）")
            usage = raw.usage
            p_tok = (usage.prompt_tokens if usage else 0) or tokens.count_messages(messages)
            c_tok = (usage.completion_tokens if usage else 0) or tokens.count(text)
            self.cache.put(key, {"parsed": parsed.model_dump(), "trace": trace.model_dump()},
                           model=self.cfg.model or "", prompt_id=prompt.id, prompt_tokens=p_tok,
                           completion_tokens=c_tok)
            self.cache.record_usage(model=self.cfg.model or "", prompt_id=prompt.id, prompt_tokens=p_tok,
                                    completion_tokens=c_tok, cached=False)
            return parsed, trace
        raise CallFailed(f"大模型服务不支持结构化输出（{failure_note(last) if last else ''}）")

    # streaming text --------------------------------------------------------------------------
    def stream(self, prompt: Prompt, messages: list[dict], state: dict) -> Iterator[str]:
        """Yield text chunks (from the cache when the same request was answered before). Raises CallFailed.
        `state` receives the cache key and usage; call `store(prompt, messages, text, state)` once the whole
        text is known to be good."""
        key = self.cache.key(model=self.cfg.model or "", prompt_id=prompt.id, prompt_version=prompt.version,
                             prompt_sha=prompt.sha, payload={"messages": messages})
        state.update(key=key, usage={})
        hit = self.cache.get(key)
        if hit is not None and (hit.get("text") or "").strip():
            self.cache.record_usage(model=self.cfg.model or "", prompt_id=prompt.id, cached=True)
            state["key"] = None
            yield hit["text"]
            return
        self.check_up()
        try:
            stream = self._retrying(lambda: self.client().chat.completions.create(
                model=self.cfg.model, messages=messages, temperature=0, stream=True,
                stream_options={"include_usage": True}))
            for chunk in stream:
                if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
                if getattr(chunk, "usage", None):
                    state["usage"] = {"input_tokens": chunk.usage.prompt_tokens,
                                      "output_tokens": chunk.usage.completion_tokens}
        except Exception as e:  # noqa: BLE001
            raise CallFailed(self.trip(e) if _is_unreachable(e) else failure_note(e)) from None

    def store(self, prompt: Prompt, messages: list[dict], text: str, state: dict) -> None:
        """Cache a streamed answer (never an empty one) and record its usage."""
        if not state.get("key") or not text.strip():
            return
        usage = state.get("usage") or {}
        p_tok = usage.get("input_tokens") or tokens.count_messages(messages)
        c_tok = usage.get("output_tokens") or tokens.count(text)
        self.cache.put(state["key"], {"text": text}, model=self.cfg.model or "", prompt_id=prompt.id,
                       prompt_tokens=p_tok, completion_tokens=c_tok)
        self.cache.record_usage(model=self.cfg.model or "", prompt_id=prompt.id, prompt_tokens=p_tok,
                                completion_tokens=c_tok, cached=False)
        state["key"] = None
