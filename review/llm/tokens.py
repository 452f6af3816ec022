"""Token counting that works offline.

tiktoken downloads its vocabularies at first use, which fails on these machines and on reviewers' intranets. This
package ships cl100k_base.tiktoken and o200k_base.tiktoken in review/llm/vocab/ (made from the MIT package
quicktok-v1 by vocab/make_vocab.py); their sha256 equals what tiktoken's own registry expects, so they are
byte-identical to OpenAI's official files and every count here equals tiktoken's official count.

`install_offline_tiktoken()` also points tiktoken's registry at these files, so that any library calling
`tiktoken.get_encoding("cl100k_base" | "o200k_base" | "o200k_harmony")` (langchain-openai's `get_num_tokens*`,
for one) works offline in this process. `encoding()` calls it, and so does `review.llm.config.make_chat_model`.
"""
from __future__ import annotations

import hashlib
import threading
from base64 import b64decode
from pathlib import Path
from typing import Any, Iterable

import tiktoken

from review.models import ReviewError

VOCAB_DIR = Path(__file__).resolve().parent / "vocab"

# The sha256 tiktoken 0.14.0 expects for each file (tiktoken_ext/openai_public.py).
EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

# Patterns and special tokens copied from tiktoken_ext/openai_public.py (tests check they still match).
CL100K_PAT_STR = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|"""
    r"""\s+(?!\S)|\s"""
)
O200K_PAT_STR = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
CL100K_SPECIAL = {ENDOFTEXT: 100257, FIM_PREFIX: 100258, FIM_MIDDLE: 100259, FIM_SUFFIX: 100260, ENDOFPROMPT: 100276}
O200K_SPECIAL = {ENDOFTEXT: 199999, ENDOFPROMPT: 200018}

ENCODINGS = ("cl100k_base", "o200k_base", "o200k_harmony")
DEFAULT_ENCODING = "o200k_base"
MESSAGE_OVERHEAD = 4  # tokens per chat message (role, separators): an estimate, good enough for budgeting

_lock = threading.RLock()
_ranks: dict[str, dict[bytes, int]] = {}
_own: dict[str, tiktoken.Encoding] = {}
_installed = False


class VocabError(ReviewError):
    """A shipped vocabulary file is missing or damaged."""


def vocab_path(name: str) -> Path:
    return VOCAB_DIR / f"{name}.tiktoken"


def load_ranks(name: str) -> dict[bytes, int]:
    """Merge ranks of `name` ("cl100k_base" or "o200k_base") from the shipped file, sha256-checked, cached.

    Same parsing as tiktoken.load.load_tiktoken_bpe; read directly so that nothing is copied into tiktoken's
    download cache ($TIKTOKEN_CACHE_DIR or /tmp/data-gym-cache), which may be read-only.
    """
    with _lock:
        if name in _ranks:
            return _ranks[name]
        if name not in EXPECTED_SHA256:
            raise VocabError(f"没有随程序提供词表 {name}", f"no vocabulary {name} is shipped", str(VOCAB_DIR))
        path = vocab_path(name)
        try:
            data = path.read_bytes()
        except OSError as e:
            raise VocabError(f"找不到词表文件（{e.strerror}），请重新安装本程序",
                             f"vocabulary file missing ({e.strerror}); reinstall the package", str(path)) from e
        digest = hashlib.sha256(data).hexdigest()
        if digest != EXPECTED_SHA256[name]:
            raise VocabError(f"词表文件已损坏（sha256 {digest[:12]}… 与预期不符），请重新安装本程序",
                             f"vocabulary file damaged (sha256 {digest[:12]}… is not the expected one); "
                             "reinstall the package", str(path))
        ranks = {}
        for line in data.splitlines():
            if line:
                token, rank = line.split()
                ranks[b64decode(token)] = int(rank)
        _ranks[name] = ranks
        return ranks


def encoding_params(name: str) -> dict[str, Any]:
    """Keyword arguments for tiktoken.Encoding, as tiktoken_ext/openai_public.py builds them, from shipped files."""
    if name == "cl100k_base":
        return {"name": name, "pat_str": CL100K_PAT_STR, "mergeable_ranks": load_ranks(name),
                "special_tokens": dict(CL100K_SPECIAL)}
    if name == "o200k_base":
        return {"name": name, "pat_str": O200K_PAT_STR, "mergeable_ranks": load_ranks(name),
                "special_tokens": dict(O200K_SPECIAL)}
    if name == "o200k_harmony":  # same ranks as o200k_base, more special tokens (gpt-oss)
        special = {
            **O200K_SPECIAL,
            "<|startoftext|>": 199998, "<|endoftext|>": 199999,
            "<|reserved_200000|>": 200000, "<|reserved_200001|>": 200001,
            "<|return|>": 200002, "<|constrain|>": 200003, "<|reserved_200004|>": 200004,
            "<|channel|>": 200005, "<|start|>": 200006, "<|end|>": 200007, "<|message|>": 200008,
            "<|reserved_200009|>": 200009, "<|reserved_200010|>": 200010, "<|reserved_200011|>": 200011,
            "<|call|>": 200012,
        } | {f"<|reserved_{i}|>": i for i in range(200013, 201088)}
        return {"name": name, "pat_str": O200K_PAT_STR, "mergeable_ranks": load_ranks("o200k_base"),
                "special_tokens": special}
    raise VocabError(f"不支持的分词编码 {name}（可用：{', '.join(ENCODINGS)}）",
                     f"unsupported encoding {name} (available: {', '.join(ENCODINGS)})")


def install_offline_tiktoken() -> bool:
    """Make tiktoken.get_encoding() build cl100k_base / o200k_base / o200k_harmony from the shipped files.

    Replaces those entries of tiktoken's constructor registry (never touching the network); idempotent; returns
    False if tiktoken's registry internals are not as expected (then only this module's functions are offline).
    """
    global _installed
    with _lock:
        if _installed:
            return True
        try:
            import tiktoken.registry as reg

            with reg._lock:
                if reg.ENCODING_CONSTRUCTORS is None:
                    reg._find_constructors()
                for name in ENCODINGS:
                    reg.ENCODING_CONSTRUCTORS[name] = (lambda n=name: encoding_params(n))
        except Exception:  # pragma: no cover - only if tiktoken changes its internals
            return False
        _installed = True
        return True


def encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """The tiktoken Encoding `name`, built from the shipped vocabulary (cached; never downloads)."""
    if name not in ENCODINGS:
        encoding_params(name)  # raises the bilingual error
    if install_offline_tiktoken():
        return tiktoken.get_encoding(name)  # tiktoken's registry caches it
    with _lock:  # pragma: no cover - fallback if the registry could not be patched
        if name not in _own:
            _own[name] = tiktoken.Encoding(**encoding_params(name))
        return _own[name]


def encoding_name_for_model(model: str | None) -> str:
    """gpt-4o / gpt-4.1 / gpt-4.5 / gpt-5 / o-series → o200k_base; gpt-oss → o200k_harmony; gpt-4 / gpt-3.5 / older
    embeddings → cl100k_base; anything else (qwen, deepseek, glm…) → o200k_base as an estimate."""
    m = (model or "").strip().lower().rsplit("/", 1)[-1]
    if m.startswith("gpt-oss"):
        return "o200k_harmony"
    if m.startswith(("gpt-4o", "chatgpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "gpt-6", "o1", "o3", "o4")):
        return "o200k_base"
    if m.startswith(("gpt-4", "gpt-3.5", "gpt-35", "text-embedding-ada-002", "text-embedding-3")):
        return "cl100k_base"
    return DEFAULT_ENCODING


def encoding_for_model(model: str | None) -> tiktoken.Encoding:
    return encoding(encoding_name_for_model(model))


def count(text: str, name: str = DEFAULT_ENCODING) -> int:
    """Number of tokens in `text` (special-token strings such as <|endoftext|> count as ordinary text)."""
    return len(encoding(name).encode_ordinary(text or ""))


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Iterable):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
        return "".join(parts)
    return str(content)


def count_messages(messages: Iterable[Any], name: str = DEFAULT_ENCODING) -> int:
    """Tokens of chat messages (dicts with "content", or langchain BaseMessages): content tokens plus
    MESSAGE_OVERHEAD per message. An estimate for budgeting, not the server's exact bill."""
    enc = encoding(name)
    total = 0
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else getattr(m, "content", m)
        total += len(enc.encode_ordinary(_content_text(content))) + MESSAGE_OVERHEAD
    return total


def truncate(text: str, max_tokens: int, name: str = DEFAULT_ENCODING) -> str:
    """The longest prefix of `text` (cut at a character boundary) whose token count is at most `max_tokens`."""
    if max_tokens <= 0 or not text:
        return ""
    enc = encoding(name)
    tokens = enc.encode_ordinary(text)
    if len(tokens) <= max_tokens:
        return text
    n = max_tokens
    while n > 0:
        # An incomplete UTF-8 sequence at the cut is dropped; re-encoding a prefix can in rare cases need more
        # tokens than the cut, so check and shorten until it fits.
        candidate = enc.decode_bytes(tokens[:n]).decode("utf-8", errors="ignore")
        if len(enc.encode_ordinary(candidate)) <= max_tokens:
            return candidate
        n -= 1
    return ""
