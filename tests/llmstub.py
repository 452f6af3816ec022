"""A real OpenAI-compatible HTTP server on 127.0.0.1 for tests (no network, no model).

    with LLMStub() as stub:
        stub.reply("你好")                      # the next call answers "你好"
        llm = ChatOpenAI(base_url=stub.base_url, api_key="x", model="stub-model")

Endpoints: POST /v1/chat/completions (JSON, or SSE when "stream": true, with a usage chunk when
stream_options.include_usage), POST /v1/embeddings (deterministic hash-based vectors, float or base64),
GET /v1/models.

Each queued entry answers exactly ONE HTTP call (a retry is another call); when the queue is empty the call gets
`stub.default` (a text reply). Entries:
    reply(text | [chunks], delay=0, usage=None)  text answer; a list gives the exact SSE chunks when streaming
                                                 (a plain string streams in pieces of `chunk_size` characters)
    reply_json(obj)     message.content = json.dumps(obj) (what with_structured_output(method="json_schema") parses)
    reply_raw(text)     message.content = text exactly (e.g. broken JSON)
    reply_tool_call(name, arguments)   an assistant tool call (with_structured_output(method="function_calling"))
    delay(seconds)      this call waits `seconds` before answering with the default reply (timeout tests)
    fail(status=500, message=...)      an OpenAI-shaped error answer
    refuse_response_format(types)      answer HTTP 400 to any request whose response_format type is in `types`
                                       (a server with only json_object, like DeepSeek, or none at all)
When the queue is empty and `respond_with(fn)` was set, the call gets `fn(body)` (a text) instead of the default:
`GroundingModel` (below) is such a function — a model that copies, derives, invents and misattributes numbers
and cites lines it was not given, recording what it planted in `stub.planted` for tests and the benchmark.
`stub.requests` records every request: {"method", "path", "json" (parsed body or None), "headers" (lower-case)}.

pytest: `from llmstub import llm_stub` in conftest.py registers the `llm_stub` fixture.
"""
from __future__ import annotations

import base64
import hashlib
import json
import struct
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

import pytest

__all__ = ["LLMStub", "llm_stub"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class LLMStub:
    def __init__(self, default: str = "好的。", *, chunk_size: int = 4, embedding_dim: int = 16,
                 model: str = "stub-model"):
        self.default = default
        self.chunk_size = chunk_size
        self.embedding_dim = embedding_dim
        self.model = model
        self.requests: list[dict] = []
        self.planted: list[dict] = []  # what a GroundingModel put in its answers
        self.responder = None  # fn(body) -> text, used when the queue is empty
        self.refused_formats: set[str] = set()
        self._queue: deque[dict] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "LLMStub":
        if self._server is None:
            stub = self

            class Handler(_Handler):
                owner = stub

            self._server = _Server(("127.0.0.1", 0), Handler)
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                            name="llmstub", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()  # wakes delayed handlers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "LLMStub":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._server is not None, "stub not started"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ------------------------------------------------------------------ programming

    def _push(self, entry: dict) -> "LLMStub":
        with self._lock:
            self._queue.append(entry)
        return self

    def reply(self, text: str | list[str], *, delay: float = 0, usage: tuple[int, int] | None = None) -> "LLMStub":
        chunks = list(text) if isinstance(text, list) else None
        content = "".join(text) if isinstance(text, list) else text
        return self._push({"kind": "text", "content": content, "chunks": chunks, "delay": delay, "usage": usage})

    def reply_json(self, obj: Any, **kw: Any) -> "LLMStub":
        return self.reply(json.dumps(obj, ensure_ascii=False), **kw)

    def reply_raw(self, text: str, **kw: Any) -> "LLMStub":
        return self.reply(text, **kw)

    def reply_tool_call(self, name: str, arguments: dict | str, *, delay: float = 0) -> "LLMStub":
        args = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
        return self._push({"kind": "tool", "name": name, "arguments": args, "delay": delay})

    def delay(self, seconds: float) -> "LLMStub":
        return self._push({"kind": "text", "content": None, "chunks": None, "delay": seconds, "usage": None})

    def fail(self, status: int = 500, message: str = "stub failure", *, delay: float = 0) -> "LLMStub":
        return self._push({"kind": "fail", "status": status, "message": message, "delay": delay})

    def respond_with(self, fn) -> "LLMStub":
        self.responder = fn
        return self

    def refuse_response_format(self, *types: str) -> "LLMStub":
        self.refused_formats = set(types)
        return self

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    # ------------------------------------------------------------------ inspection

    @property
    def chat_requests(self) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    @property
    def last_request(self) -> dict:
        with self._lock:
            return self.requests[-1]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queue.clear()

    # ------------------------------------------------------------------ internals used by the handler

    def _record(self, entry: dict) -> None:
        with self._lock:
            self.requests.append(entry)

    def _next(self) -> dict:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        return {"kind": "text", "content": None, "chunks": None, "delay": 0, "usage": None}


def _estimate_tokens(text: str) -> int:
    return len(text)  # crude and deterministic: one token per character


def _message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def embed_text(text: str, dim: int) -> list[float]:
    """Deterministic unit vector for `text` (sha256 stream → floats in [-1, 1], normalised)."""
    out: list[float] = []
    counter = 0
    while len(out) < dim:
        block = hashlib.sha256(f"{counter}:{text}".encode("utf-8")).digest()
        out.extend((b / 127.5) - 1.0 for b in block)
        counter += 1
    vec = out[:dim]
    norm = sum(v * v for v in vec) ** 0.5 or 1.0
    return [v / norm for v in vec]


class _Handler(BaseHTTPRequestHandler):
    owner: LLMStub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # ---------------------------------------------------------------- plumbing

    def _read_body(self) -> tuple[bytes, Any]:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return raw, parsed

    def _send_json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout)

    def _error(self, status: int, message: str, type_: str = "invalid_request_error") -> None:
        self._send_json(status, {"error": {"message": message, "type": type_, "param": None, "code": None}})

    def do_GET(self) -> None:
        self.owner._record({"method": "GET", "path": self.path, "json": None,
                            "headers": {k.lower(): v for k, v in self.headers.items()}})
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [
                {"id": self.owner.model, "object": "model", "created": 0, "owned_by": "llmstub"}]})
        else:
            self._error(404, f"no route GET {self.path}")

    def do_POST(self) -> None:
        _, body = self._read_body()
        self.owner._record({"method": "POST", "path": self.path, "json": body,
                            "headers": {k.lower(): v for k, v in self.headers.items()}})
        path = self.path.split("?", 1)[0].rstrip("/")
        if body is None or not isinstance(body, dict):
            self._error(400, "request body is not a JSON object")
        elif path.endswith("/chat/completions"):
            self._chat(body)
        elif path.endswith("/embeddings"):
            self._embeddings(body)
        else:
            self._error(404, f"no route POST {self.path}")

    # ---------------------------------------------------------------- chat

    def _chat(self, body: dict) -> None:
        rf = (body.get("response_format") or {}).get("type")
        if rf and rf in self.owner.refused_formats:
            self._error(400, f"response_format type {rf} is not supported by this model")
            return
        entry = self.owner._next()
        if entry["kind"] == "text" and entry["content"] is None and not entry.get("delay") and self.owner.responder:
            entry = {**entry, "content": self.owner.responder(body)}
        if entry.get("delay"):
            if self.owner._closing.wait(entry["delay"]):
                return
        if entry["kind"] == "fail":
            type_ = "server_error" if entry["status"] >= 500 else "invalid_request_error"
            self._error(entry["status"], entry["message"], type_)
            return
        model = body.get("model") or self.owner.model
        prompt_text = "".join(_message_text(m.get("content")) for m in body.get("messages") or [])
        cid = "chatcmpl-" + uuid.uuid4().hex[:24]
        created = int(time.time())
        if entry["kind"] == "tool":
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_" + uuid.uuid4().hex[:12], "type": "function",
                "function": {"name": entry["name"], "arguments": entry["arguments"]}}]}
            content, finish = entry["arguments"], "tool_calls"
        else:
            content = entry["content"] if entry["content"] is not None else self.owner.default
            message = {"role": "assistant", "content": content}
            finish = "stop"
        if entry.get("usage"):
            prompt_tokens, completion_tokens = entry["usage"]
        else:
            prompt_tokens, completion_tokens = _estimate_tokens(prompt_text), _estimate_tokens(content)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}

        if not body.get("stream"):
            self._send_json(200, {
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": usage,
            })
            return

        def chunk(delta: dict, finish_reason: Optional[str] = None) -> dict:
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}

        events: list[dict] = [chunk({"role": "assistant", "content": ""})]
        if entry["kind"] == "tool":
            tc = message["tool_calls"][0]
            events.append(chunk({"tool_calls": [{"index": 0, "id": tc["id"], "type": "function",
                                                 "function": {"name": tc["function"]["name"], "arguments": ""}}]}))
            events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": entry["arguments"]}}]}))
        else:
            pieces = entry.get("chunks")
            if pieces is None:
                n = max(1, self.owner.chunk_size)
                pieces = [content[i:i + n] for i in range(0, len(content), n)]
            events.extend(chunk({"content": p}) for p in pieces)
        events.append(chunk({}, finish))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                           "choices": [], "usage": usage})
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            for ev in events:
                self.wfile.write(b"data: " + json.dumps(ev, ensure_ascii=False).encode("utf-8") + b"\n\n")
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    # ---------------------------------------------------------------- embeddings

    def _embeddings(self, body: dict) -> None:
        inputs = body.get("input")
        if isinstance(inputs, (str, int)) or (isinstance(inputs, list) and inputs and isinstance(inputs[0], int)):
            inputs = [inputs]
        if not isinstance(inputs, list):
            self._error(400, "input must be a string or a list")
            return
        dim = int(body.get("dimensions") or self.owner.embedding_dim)
        as_base64 = body.get("encoding_format") == "base64"
        data, tokens = [], 0
        for i, item in enumerate(inputs):
            text = item if isinstance(item, str) else json.dumps(item)
            tokens += _estimate_tokens(text)
            vec = embed_text(text, dim)
            emb: Any = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode("ascii") if as_base64 else vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        self._send_json(200, {"object": "list", "data": data, "model": body.get("model") or self.owner.model,
                              "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


# ---------------------------------------------------------------------------------------------- a misbehaving model

_ROW_WORDS = {"一": "本年新收", "二": "上年结转", "三.一": "予以公开", "三.二": "部分公开", "三.七": "办理结果总计",
              "四": "结转下年"}
_COLUMNS = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计")
_INVENTED = (37, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103)
_INVENTED_PCT = (12.5, 13.7, 17.3, 26.9, 31.4, 42.6, 57.1, 68.2)


def _numbers(text: str) -> list[float]:
    import re
    text = re.sub(r"〔第\s*\d+\s*行〕|第\s*\d+\s*行|(?:19|20)\d\d\s*年|\d+\s*月\s*\d+\s*日|^\s*\[?\d+[.\]]\s", " ",
                  text, flags=re.M)
    return [float(x) for x in re.findall(r"(?<![A-Za-z0-9_.])\d+(?:\.\d+)?(?![A-Za-z0-9_])", text)]


class GroundingModel:
    """A model that answers every explain / draft / chat request with numbers of five kinds, from what the
    request gave it: copied (a given cell, with its labels), derived (a − b, b ÷ a as a percentage), a misstated
    cell ("30 for 29": the cell's value + 1 with the cell's labels), misattributed (a cell's value put on
    another column of the same row) and invented (37, 12.5%: the first of a list that no given number, sum,
    difference, product, quotient or percentage equals); and with one citation to a line it was given and one to
    a line it was not. Each answer's plan goes to `stub.planted`."""

    def __init__(self, stub: "LLMStub"):
        self.stub = stub

    def __call__(self, body: dict) -> str:
        import re
        msgs = body.get("messages") or []
        text = "\n".join(_message_text(m.get("content")) for m in msgs)
        kind = "draft" if "第五部分" in text and "problems" in text else \
            "explain" if "summary" in text and "corrections" in text else "chat"
        cells = [(r, c, float(v)) for r, c, v in re.findall(r"- (一|二|三\.一|三\.二|三\.七|四)/(\S+?)：(\d+)（", text)]
        # a balance finding names its rows as the template does: “本年新收 29 + 上年结转 0，…（七）总计 23 + …”
        balance_rows = {"本年新收": "一", "上年结转": "二", "（七）总计": "三.七", "结转下年度继续办理": "四"}
        for col, body_ in re.findall(r"“(\S+?)”不符合[^\n]*?(本年新收 \d+[^\n]*)", text):
            for words, v in re.findall(r"(本年新收|上年结转|（七）总计|结转下年度继续办理) (\d+)", body_):
                r = balance_rows[words]
                if (r, col, float(v)) not in cells:
                    cells.append((r, col, float(v)))
        cells = [x for x in cells if x[1] in _COLUMNS]
        given = {int(n): t for n, t in re.findall(r"〔第(\d+)行〕([^\n]*)", text)}
        given_lines = sorted(given)
        # everything any given number could be combined into (a superset of what the guard accepts as derived)
        present = set(_numbers(text)) | {v for _, _, v in cells}
        derivable: set = set()
        pcts: set = set()
        for a in present:
            for b in present:
                derivable |= {a + b, a - b, a * b}
                if b:
                    derivable.add(round(a / b, 1))
                    pcts |= {round(a / b * 100, 1), round((a - b) / b * 100, 1)}
        inv = next(x for x in (*_INVENTED, *range(101, 100000, 2)) if x not in present and x not in derivable)
        pct = next(x for x in (*_INVENTED_PCT, *(n / 10 for n in range(1001, 9999, 7)))
                   if x not in present and x not in pcts and round(x, 1) not in pcts)
        plan: list[dict] = []
        sentences: list[str] = []

        def say(sentence: str, *items: dict) -> None:
            sentences.append(sentence)
            plan.extend({**it, "sentence": sentence} for it in items)

        def line_with(v: float):
            return next((n for n in given_lines if v in _numbers(given[n])), None)

        if cells:
            r, c, v = cells[0]
            n = line_with(v)
            cite = f"〔第{n}行〕" if n else ""
            say(f"{c}{_ROW_WORDS[r]}{int(v)}件{cite}。", {"kind": "copied", "text": str(int(v)), "cell": f"{r}/{c}"},
                *([{"kind": "good_citation", "text": cite}] if cite else []))
            say(f"按另一种理解，{c}{_ROW_WORDS[r]}{int(v) + 1}件。",
                {"kind": "misstated", "text": str(int(v) + 1), "cell": f"{r}/{c}"})
            other = next(x for x in _COLUMNS if x != c)
            say(f"{other}{_ROW_WORDS[r]}{int(v)}件。", {"kind": "misattributed", "text": str(int(v)), "cell": f"{r}/{other}"})
        else:
            def plain(t: str) -> list[float]:  # a count as prose writes it: "…7件", not a year, a date or an article
                return [float(x) for x in re.findall(r"(?<![\d.])(\d{1,3})\s*件", t)]
            n = next((n for n in given_lines if plain(given[n])), None)
            if n:
                x = plain(given[n])[0]
                x = int(x) if float(x).is_integer() else x
                say(f"报告原文写有{x}〔第{n}行〕。", {"kind": "copied", "text": str(x)},
                    {"kind": "good_citation", "text": f"〔第{n}行〕"})
        pair = {v for _, _, v in cells if v not in (0, 1)}
        if len(pair) < 2:  # no two cells: two numbers of the finding(s) the request gave
            block = re.search(r"审核发现(?:：\n<<<\n|（[^\n]*：\n|的年报数据质量问题[^：]*：)(.*?)(?:\n\n|>>>|\n\[)", text, re.S)
            pair = {v for v in _numbers(block.group(1) if block else text) if v not in (0, 1) and v < 1e6}
        pair = sorted(pair, reverse=True)[:2] if len(pair) >= 2 else []
        if pair:
            a, b = pair
            d, p = int(a - b) if float(a - b).is_integer() else round(a - b, 4), f"{b / a * 100:.1f}%"
            say(f"两者相差{d}件，后者约为前者的{p}。", {"kind": "derived", "text": str(d)}, {"kind": "derived", "text": p})
        bad_line = (max(given_lines) if given_lines else 0) + 1000
        cited = {int(x["text"][2:-2]) for x in plan if x["kind"] == "good_citation"}
        wrong = next((n for n in given_lines if inv not in _numbers(given[n]) and n not in cited), None)
        wcite = f"〔第{wrong}行〕" if wrong else ""
        say(f"另有{inv}件申请尚待核实{wcite}。", {"kind": "invented", "text": str(inv)},
            *([{"kind": "wrong_citation", "text": wcite}] if wcite else []))
        say(f"其中不予公开的比例约为{pct}%〔第{bad_line}行〕。", {"kind": "invented", "text": f"{pct}%"},
            {"kind": "bad_citation", "text": f"〔第{bad_line}行〕"})
        self.stub.planted.append({"kind": kind, "plan": plan})
        if kind == "chat":
            return "".join(sentences)
        if kind == "explain":
            half = max(1, len(sentences) // 2)
            return json.dumps({"summary": "".join(sentences[:half]), "causes": sentences[half:-1] or ["登记口径不一致。"],
                               "corrections": [sentences[-1]]}, ensure_ascii=False)
        n = len(re.findall(r"^\[(\d+)\]", text, re.M))
        return json.dumps({"problems": [{"text": s, "sources": [1]} for s in sentences[:2]],
                           "measures": [{"text": s, "sources": [1]} for s in sentences[2:-1]] or
                                       [{"text": "加强政策解读。", "sources": [1]}],
                           "plan": [{"text": sentences[-1], "sources": [1]},
                                    {"text": "按时发布年报。", "sources": [n + 40]}]}, ensure_ascii=False)


@pytest.fixture
def llm_stub():
    """A started LLMStub; closed after the test."""
    with LLMStub() as stub:
        yield stub
