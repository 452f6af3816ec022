"""The one place that reads the LLM settings and makes the chat model.

Settings (environment, see ../shared/contract.md): OPENAI_BASE_URL (any OpenAI-compatible server: DeepSeek, Qwen,
vLLM, Ollama…), OPENAI_API_KEY, REVIEW_LLM_MODEL; also REVIEW_LLM_TIMEOUT (seconds per request, default 60) and
REVIEW_LLM_RETRIES (default 2). Empty values count as unset.

Offline first: the LLM is "configured" only when OPENAI_BASE_URL or OPENAI_API_KEY is set AND a model is known.
The model defaults to gpt-4o-mini only when OPENAI_API_KEY is set for OpenAI itself (no OPENAI_BASE_URL, or one
pointing at api.openai.com); a custom server without REVIEW_LLM_MODEL is not configured (its model name cannot be
guessed), and `status()` says so.

Retries: the openai client retries connection errors, timeouts, 408/409/429 and 5xx answers `max_retries` times
with exponential backoff (0.5 s, 1 s, 2 s … capped at 8 s, minus up to 25 % jitter; a server's Retry-After of up
to 60 s is honoured instead). So a call can take up to about (max_retries + 1) × timeout + backoff before it fails
with openai.APITimeoutError / APIConnectionError / APIStatusError (langchain-openai re-raises them as its
subclasses, e.g. OpenAITimeoutError). No extra retry layer is needed. A stream that breaks after it started is
not retried.

Nothing here downloads: no token counting happens on invoke/stream in langchain-openai 1.7.3 (tiktoken is used
only by get_token_ids / get_num_tokens / get_num_tokens_from_messages); those are pointed at the shipped
vocabularies (custom_get_token_ids + review.llm.tokens.install_offline_tiktoken), so they work offline too.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlparse

from pydantic import BaseModel, Field

from review.models import ReviewError

if TYPE_CHECKING:  # pragma: no cover
    from langchain_openai import ChatOpenAI

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENAI_DEFAULT_MODEL = "gpt-4o-mini"
# Servers without authentication (local vLLM, Ollama) still need a non-empty key for the openai client.
PLACEHOLDER_API_KEY = "not-needed"


class LLMConfigError(ReviewError):
    """An LLM setting has an unusable value."""


def _env(name: str) -> Optional[str]:
    value = os.environ.get(name, "").strip()
    return value or None


def _is_openai(base_url: Optional[str]) -> bool:
    return base_url is None or (urlparse(base_url).hostname or "").lower() == "api.openai.com"


class LLMConfig(BaseModel):
    base_url: Optional[str] = None
    api_key: Optional[str] = Field(default=None, repr=False)  # never printed
    model: Optional[str] = None
    timeout: float = 60
    max_retries: int = 2

    @classmethod
    def from_env(cls) -> "LLMConfig":
        base_url = _env("OPENAI_BASE_URL")
        api_key = _env("OPENAI_API_KEY")
        model = _env("REVIEW_LLM_MODEL")
        if model is None and api_key and _is_openai(base_url):
            model = OPENAI_DEFAULT_MODEL
        values: dict[str, Any] = {"base_url": base_url, "api_key": api_key, "model": model}
        raw = _env("REVIEW_LLM_TIMEOUT")
        if raw is not None:
            try:
                values["timeout"] = float(raw)
                if not values["timeout"] > 0:
                    raise ValueError
            except ValueError:
                raise LLMConfigError(f"REVIEW_LLM_TIMEOUT 应为正数（秒），现为 {raw!r}",
                                     f"REVIEW_LLM_TIMEOUT must be a positive number of seconds, got {raw!r}") from None
        raw = _env("REVIEW_LLM_RETRIES")
        if raw is not None:
            try:
                values["max_retries"] = int(raw)
                if values["max_retries"] < 0:
                    raise ValueError
            except ValueError:
                raise LLMConfigError(f"REVIEW_LLM_RETRIES 应为非负整数，现为 {raw!r}",
                                     f"REVIEW_LLM_RETRIES must be a non-negative integer, got {raw!r}") from None
        return cls(**values)

    @property
    def configured(self) -> bool:
        return bool((self.base_url or self.api_key) and self.model)

    @property
    def effective_base_url(self) -> Optional[str]:
        """The URL requests go to: base_url, or OpenAI's when only a key is set; None when not configured."""
        if not self.configured:
            return None
        return self.base_url or OPENAI_DEFAULT_BASE_URL

    def status(self) -> str:
        """One Chinese line for the CLI / UI saying which LLM (if any) is used."""
        if self.configured:
            return f"大模型：{self.model} @ {self.effective_base_url}"
        if self.base_url or self.api_key:
            return ("未配置大模型（已设置 OPENAI_BASE_URL/OPENAI_API_KEY，但缺少模型名 REVIEW_LLM_MODEL；"
                    "离线模式：解释和草稿由规则模板生成）")
        return "未配置大模型（离线模式：解释和草稿由规则模板生成）"


def make_chat_model(cfg: LLMConfig | None = None, streaming: bool = False, *,
                    stream_usage: bool | None = None, **kwargs: Any) -> "ChatOpenAI | None":
    """A ChatOpenAI for `cfg` (default: LLMConfig.from_env()), or None when no LLM is configured.

    temperature 0; the base URL is always passed explicitly (so OPENAI_API_BASE / LangSmith gateway variables
    cannot silently redirect requests). `stream_usage=True` asks the server for a usage chunk when streaming
    (stream_options.include_usage); langchain leaves it off by default for non-OpenAI servers, as some reject it.
    Extra keyword arguments go to ChatOpenAI.
    """
    cfg = cfg if cfg is not None else LLMConfig.from_env()
    if not cfg.configured:
        return None

    from langchain_openai import ChatOpenAI

    from review.llm import tokens

    tokens.install_offline_tiktoken()
    enc_name = tokens.encoding_name_for_model(cfg.model)

    def token_ids(text: str) -> list[int]:
        return tokens.encoding(enc_name).encode_ordinary(text)

    params: dict[str, Any] = dict(
        base_url=cfg.effective_base_url,
        api_key=cfg.api_key or PLACEHOLDER_API_KEY,
        model=cfg.model,
        timeout=cfg.timeout,
        max_retries=cfg.max_retries,
        temperature=0,
        streaming=streaming,
        custom_get_token_ids=token_ids,
    )
    if stream_usage is not None:
        params["stream_usage"] = stream_usage
    params.update(kwargs)
    return ChatOpenAI(**params)
