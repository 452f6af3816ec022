"""The chromadb (1.5) embedding function over review.embeddings (imported lazily from there: chromadb is heavy).

`review.embeddings.ChromaEmbeddingFunction` is this class; importing either module registers it with chromadb
under the name "nianbao-review", so a persisted collection reopens in a new process."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from review.embeddings import CHROMA_NAME, Embedder, dense_spec, get_embedder, resolve_spec


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
