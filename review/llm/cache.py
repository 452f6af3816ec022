"""A SQLite cache of LLM answers and a ledger of token usage: the same request is never paid for twice.

The key is the sha256 of a canonical JSON of (model, prompt id, prompt version, prompt file sha256, payload), so a
changed prompt (its version or any byte of its file) or a changed model or payload never reuses an old answer.

Thread- and process-safe: every operation opens its own short-lived connection (cheap next to an LLM call) on a
WAL-mode database with a busy timeout, so threads, the CLI and the web UI can share one file.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from contextlib import closing, contextmanager
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Iterator, Optional

from pydantic import BaseModel

KEY_SCHEMA = 1  # bump to invalidate every stored answer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    response TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    model TEXT NOT NULL,
    prompt_id TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached INTEGER NOT NULL
);
"""


def _json_default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False, default=_json_default))
    if isinstance(obj, (Path, datetime, date)):
        return str(obj)
    if isinstance(obj, tuple):
        return list(obj)
    raise TypeError(f"cannot make a cache key from {type(obj).__name__}: {obj!r}")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def default_cache_path() -> Path:
    from review.store import default_data_dir

    return default_data_dir() / "llm_cache.sqlite"


class LLMCache:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"LLMCache({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as con:
            con.row_factory = sqlite3.Row
            with con:  # one transaction, committed on success
                yield con

    # ------------------------------------------------------------------ answers

    def key(self, *, model: str, prompt_id: str, prompt_version: str, prompt_sha: str, payload: dict) -> str:
        """sha256 (hex) of the canonical JSON of everything that determines the answer."""
        blob = canonical_json({
            "schema": KEY_SCHEMA,
            "model": model,
            "prompt_id": prompt_id,
            "prompt_version": str(prompt_version),
            "prompt_sha": prompt_sha,
            "payload": payload,
        })
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def get(self, key: str) -> Optional[dict]:
        """The stored response dict, or None."""
        with self._connect() as con:
            row = con.execute("SELECT response FROM responses WHERE key = ?", (key,)).fetchone()
        return json.loads(row["response"]) if row else None

    def put(self, key: str, response: dict, *, model: str, prompt_id: str,
            prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        """Store (or replace) the response for `key`. Does not record usage: call record_usage for each call."""
        text = json.dumps(response, ensure_ascii=False, default=_json_default)
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO responses (key, model, prompt_id, response, prompt_tokens, completion_tokens,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, model, prompt_id, text, int(prompt_tokens or 0), int(completion_tokens or 0), time.time()),
            )

    def __len__(self) -> int:
        with self._connect() as con:
            return con.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    # ------------------------------------------------------------------ usage ledger

    def record_usage(self, *, model: str, prompt_id: str, prompt_tokens: int = 0, completion_tokens: int = 0,
                     cached: bool = False) -> None:
        """One row per call, cache hits included (record them with cached=True and 0 tokens)."""
        with self._connect() as con:
            con.execute(
                "INSERT INTO usage (ts, model, prompt_id, prompt_tokens, completion_tokens, cached)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (time.time(), model, prompt_id, int(prompt_tokens or 0), int(completion_tokens or 0), int(cached)),
            )

    def usage(self) -> list[dict]:
        """Every usage row, oldest first: {id, ts, model, prompt_id, prompt_tokens, completion_tokens, cached}."""
        with self._connect() as con:
            rows = con.execute("SELECT * FROM usage ORDER BY id").fetchall()
        return [{**dict(r), "cached": bool(r["cached"])} for r in rows]

    def totals(self) -> dict:
        """{calls, cache_hits, prompt_tokens, completion_tokens, total_tokens, by_model: {model: {same keys}}}."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT model, COUNT(*) AS calls, COALESCE(SUM(cached), 0) AS cache_hits,"
                " COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,"
                " COALESCE(SUM(completion_tokens), 0) AS completion_tokens"
                " FROM usage GROUP BY model ORDER BY model"
            ).fetchall()
        by_model = {}
        total = {"calls": 0, "cache_hits": 0, "prompt_tokens": 0, "completion_tokens": 0}
        for r in rows:
            entry = {k: int(r[k]) for k in total}
            entry["total_tokens"] = entry["prompt_tokens"] + entry["completion_tokens"]
            by_model[r["model"]] = entry
            for k in total:
                total[k] += entry[k]
        total["total_tokens"] = total["prompt_tokens"] + total["completion_tokens"]
        return {**total, "by_model": by_model}
