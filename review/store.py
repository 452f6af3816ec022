"""The prior-report store: a data folder holding
- catalog.sqlite: one row per stored report (agency, year, format, source, sha256) with its whole review
  result (tables, parts, meta) as JSON, so a later check can read last year's cells; and
- chroma/: persistent Chroma collections of the reports' passages (review.chunking) with their metadata:
  "passages" embedded with the store's dense model and "passages_lex" with character n-grams. The default
  spec "hybrid" keeps both and fuses their rankings (reciprocal rank fusion): by the retrieval set in
  tests/data/retrieval_set.json it finds more than either alone (docs/performance.md). The spec is
  recorded in the catalog at creation; dense vectors are cached by text, so repeated passages (the same
  paragraph in many reports or years) are embedded once.

Re-indexing the same file changes nothing; a new version of the same agency and year replaces the old one.
The catalog alone answers "this agency's report for year t-1" (no Chroma, no embedding model), so
`review check` consults it cheaply; Chroma opens only for indexing, removal and similarity search.
"""
from __future__ import annotations

import os
import sqlite3
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable, Optional, Union

from pydantic import BaseModel

from review.agency import agency_key, same_agency
from review.chunking import Chunk, chunks
from review.models import ReviewError, ReviewResult

DENSE, LEXICAL = "passages", "passages_lex"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
  sha256 TEXT PRIMARY KEY, agency_key TEXT NOT NULL, agency TEXT, year INTEGER, format TEXT, source TEXT,
  passages INTEGER, indexed_at TEXT, result TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS reports_agency_year ON reports (agency_key, year);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS passages (id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, agency_key TEXT NOT NULL,
  year INTEGER, part INTEGER);
CREATE INDEX IF NOT EXISTS passages_agency_year ON passages (agency_key, year);
CREATE INDEX IF NOT EXISTS passages_part_year ON passages (part, year);
"""


def default_data_dir() -> Path:
    """$REVIEW_DATA_DIR, else $XDG_DATA_HOME/nianbao-review, else ~/.local/share/nianbao-review."""
    if os.environ.get("REVIEW_DATA_DIR"):
        return Path(os.environ["REVIEW_DATA_DIR"]).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "nianbao-review"


class StoredReport(BaseModel):
    sha256: str
    agency: Optional[str]
    agency_key: str
    year: Optional[int]
    format: Optional[str]
    source: str
    passages: int
    indexed_at: str


class Passage(BaseModel):
    """A retrieved passage, with where it comes from (for citations)."""

    text: str
    agency: str
    year: int
    part: int
    paragraph: int
    source: str
    sha256: str
    line: int
    score: float


class IndexOutcome(BaseModel):
    source: str
    status: str  # added | unchanged | replaced | error
    agency: Optional[str] = None
    year: Optional[int] = None
    passages: int = 0
    replaced: list[str] = []
    message: str = ""


class Store:
    """Open (or create) the store in `path` (default: default_data_dir())."""

    def __init__(self, path: Union[str, os.PathLike, None] = None, embeddings: Optional[str] = None,
                 create: bool = True):
        self.path = Path(path) if path else default_data_dir()
        if not create and not (self.path / "catalog.sqlite").exists():
            raise ReviewError(f"历史库不存在：{self.path}。请先用 `review index 文件…` 建库",
                              f"No store at {self.path}: build one with `review index FILES...`")
        self.path.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path / "catalog.sqlite", timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)
        self.spec = self._spec(embeddings)
        self._backfill_passages()

    @classmethod
    def open_existing(cls, path: Union[str, os.PathLike, None] = None) -> Optional["Store"]:
        """The store if one has been built there, else None (for `review check`, which never creates one)."""
        p = Path(path) if path else default_data_dir()
        return cls(p, create=False) if (p / "catalog.sqlite").exists() else None

    def for_worker(self) -> "Store":
        """The same store opened anew, for a worker process (an SQLite connection must not cross a fork)."""
        return type(self)(self.path, create=False)

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ settings

    def _spec(self, wanted: Optional[str]) -> str:
        row = self.db.execute("SELECT value FROM settings WHERE key='embeddings'").fetchone()
        if row is None:
            from review.embeddings import default_spec
            spec = wanted or default_spec()
            with self.db:
                self.db.execute("INSERT INTO settings VALUES ('embeddings', ?)", (spec,))
            return spec
        if wanted and wanted != row[0]:
            raise ReviewError(f"该历史库用“{row[0]}”向量建成，不能改用“{wanted}”。请换一个数据目录，或删除后重新建库",
                              f"This store was built with embeddings '{row[0]}', not '{wanted}': use another data "
                              f"folder, or delete it and index again")
        return row[0]

    def _backfill_passages(self) -> None:
        """Stores built before the passages table existed: fill it from the stored results."""
        if self.db.execute("SELECT 1 FROM passages LIMIT 1").fetchone() or not len(self):
            return
        rows = [(c.id, c.sha256, c.agency, c.year, c.part)
                for (res,) in self.db.execute("SELECT result FROM reports")
                for c in chunks(ReviewResult.model_validate_json(res))]
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO passages VALUES (?,?,?,?,?)", rows)

    # ------------------------------------------------------------------ chroma

    @cached_property
    def _client(self):
        import chromadb
        from chromadb.config import Settings
        return chromadb.PersistentClient(path=str(self.path / "chroma"),
                                         settings=Settings(anonymized_telemetry=False, allow_reset=False))

    def _collection(self, name: str, spec: str):
        from review.embeddings import ChromaEmbeddingFunction
        return self._client.get_or_create_collection(name, embedding_function=ChromaEmbeddingFunction(spec),
                                                     metadata={"hnsw:space": "cosine"})

    @cached_property
    def collections(self) -> dict[str, tuple[object, str]]:
        """name -> (collection, embedder spec): the dense one unless the spec is "ngram", the lexical one
        unless the spec is a dense model alone."""
        from review.embeddings import dense_spec, is_hybrid
        out = {}
        if self.spec != "ngram":
            dense = dense_spec(self.spec)
            out[DENSE] = (self._collection(DENSE, dense), dense)
        if self.spec == "ngram" or is_hybrid(self.spec):
            out[LEXICAL] = (self._collection(LEXICAL, "ngram"), "ngram")
        return out

    def _vectors(self, spec: str, texts: list[str]):
        """Embeddings of `texts`, from the cache where this text was embedded before."""
        import hashlib

        import numpy as np

        from review.embeddings import get_embedder
        keys = [hashlib.sha1(f"{spec}|{t}".encode()).hexdigest() for t in texts]
        have = {}
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            q = f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})"
            have.update({k: np.frombuffer(v, dtype=np.float32) for k, v in self.db.execute(q, part)})
        todo = [(k, t) for k, t in zip(keys, texts) if k not in have]
        if todo:
            vecs = get_embedder(spec).embed_documents([t for _, t in todo])
            fresh = {k: np.asarray(v, dtype=np.float32) for (k, _), v in zip(todo, vecs)}
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                    [(k, v.tobytes()) for k, v in fresh.items()])
            have.update(fresh)
        return [have[k] for k in keys]

    # ------------------------------------------------------------------ writing

    def index_result(self, result: ReviewResult) -> IndexOutcome:
        """Store one reviewed report: unchanged if its bytes are already stored; replaces an older version
        of the same agency and year."""
        m = result.meta
        out = IndexOutcome(source=result.source, status="added", agency=m.agency, year=m.year)
        if result.error:
            out.status, out.message = "error", result.error
            return out
        if self.db.execute("SELECT 1 FROM reports WHERE sha256=?", (result.sha256,)).fetchone():
            out.status = "unchanged"
            return out
        key = agency_key(m.agency or "")
        old = []
        if key and m.year:
            old = [r[0] for r in self.db.execute("SELECT sha256 FROM reports WHERE agency_key=? AND year=?",
                                                  (key, m.year))]
        passages = chunks(result)
        if old:
            self._delete(old)
            out.status, out.replaced = "replaced", old
        if passages:
            texts = [c.text for c in passages]
            for coll, spec in self.collections.values():
                coll.upsert(ids=[c.id for c in passages], documents=texts, metadatas=[_meta(c) for c in passages],
                            embeddings=self._vectors(spec, texts))
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO passages VALUES (?,?,?,?,?)",
                                [(c.id, c.sha256, c.agency, c.year, c.part) for c in passages])
            self.db.execute("INSERT INTO reports VALUES (?,?,?,?,?,?,?,?,?)",
                            (result.sha256, key, m.agency, m.year, m.format, result.source, len(passages),
                             datetime.now(timezone.utc).isoformat(timespec="seconds"), result.model_dump_json()))
        out.passages = len(passages)
        return out

    def index_paths(self, paths: Iterable[Union[str, os.PathLike]],
                    progress: Optional[Callable[[IndexOutcome], None]] = None) -> list[IndexOutcome]:
        from review.api import check_paths
        outcomes = []
        for result in check_paths(paths):
            o = self.index_result(result)
            outcomes.append(o)
            if progress:
                progress(o)
        return outcomes

    def _delete(self, shas: list[str]) -> None:
        for sha in shas:
            for coll, _ in self.collections.values():
                coll.delete(where={"sha256": sha})
        with self.db:
            self.db.executemany("DELETE FROM reports WHERE sha256=?", [(s,) for s in shas])
            self.db.executemany("DELETE FROM passages WHERE sha256=?", [(s,) for s in shas])

    def remove(self, agency: Optional[str] = None, year: Optional[int] = None,
               sha256: Optional[str] = None) -> list[StoredReport]:
        """Delete the stored reports that match every criterion given (at least one is required)."""
        if not (agency or year or sha256):
            raise ReviewError("请指定要删除的机关、年度或 sha256", "Say which agency, year or sha256 to remove")
        gone = [r for r in self.list()
                if (not agency or same_agency(r.agency or "", agency))
                and (not year or r.year == year) and (not sha256 or r.sha256.startswith(sha256))]
        if gone:
            self._delete([r.sha256 for r in gone])
        return gone

    # ------------------------------------------------------------------ reading

    def list(self) -> list[StoredReport]:
        rows = self.db.execute("SELECT sha256, agency, agency_key, year, format, source, passages, indexed_at "
                               "FROM reports ORDER BY agency_key, year")
        names = ("sha256", "agency", "agency_key", "year", "format", "source", "passages", "indexed_at")
        return [StoredReport(**dict(zip(names, r))) for r in rows]

    def __len__(self) -> int:
        return self.db.execute("SELECT count(*) FROM reports").fetchone()[0]

    def reports_of(self, agency: str) -> list[ReviewResult]:
        """Every stored report of this agency (History protocol, used by the cross-year rules)."""
        key = agency_key(agency)
        rows = self.db.execute("SELECT agency, result FROM reports WHERE agency_key=? OR ? LIKE '%' || agency_key "
                               "OR agency_key LIKE '%' || ?", (key, key, key))
        return [ReviewResult.model_validate_json(res) for name, res in rows if same_agency(name or "", agency)]

    def report(self, agency: str, year: int) -> Optional[ReviewResult]:
        """This agency's stored report for `year` (e.g. year t-1 for the report under review)."""
        return next((r for r in self.reports_of(agency) if r.meta.year == year), None)

    def _candidates(self, part, agency, years, exclude_sha256, exclude_agency) -> Optional[list[str]]:
        """The passage ids the filters allow, or None when there is no filter."""
        conds, args = [], []
        if part:
            conds.append("part = ?")
            args.append(part)
        if agency:
            conds.append("agency_key = ?")
            args.append(agency_key(agency))
        if exclude_agency:
            conds.append("agency_key != ?")
            args.append(agency_key(exclude_agency))
        lo, hi = years or (None, None)
        if lo:
            conds.append("year >= ?")
            args.append(lo)
        if hi:
            conds.append("year <= ?")
            args.append(hi)
        if exclude_sha256:
            conds.append("sha256 != ?")
            args.append(exclude_sha256)
        if not conds:
            return None
        return [r[0] for r in self.db.execute(f"SELECT id FROM passages WHERE {' AND '.join(conds)}", args)]

    def similar(self, text: str, k: int = 5, part: Optional[int] = None, agency: Optional[str] = None,
                years: Optional[tuple[Optional[int], Optional[int]]] = None, exclude_sha256: Optional[str] = None,
                exclude_agency: Optional[str] = None) -> list[Passage]:
        """Passages similar to `text`, filtered by part, agency, a year range (inclusive; None = open) and
        excluding a report (the one under review) or an agency."""
        if not len(self):
            return []
        from review.embeddings import rrf
        # The filters are resolved in the catalog (indexed SQL) and handed to Chroma as candidate ids: Chroma's
        # own metadata filter costs more the more rows a condition matches (docs/performance.md).
        candidates = self._candidates(part, agency, years, exclude_sha256, exclude_agency)
        if candidates == []:
            return []
        n = max(k * 4, 20) if candidates is None else min(max(k * 4, 20), len(candidates))
        rankings, passages = [], {}
        for coll, _ in self.collections.values():
            res = coll.query(query_texts=[text], n_results=n, ids=candidates,
                             include=["documents", "metadatas", "distances"])
            ids = res["ids"][0]
            rankings.append(ids)
            for pid, d, m, dist in zip(ids, res["documents"][0], res["metadatas"][0], res["distances"][0]):
                if pid not in passages:
                    fields = {f: m[f] for f in ("part", "paragraph", "source", "sha256", "line", "year")}
                    passages[pid] = Passage(text=d, score=round(1 - dist, 4), agency=m["agency_name"], **fields)
        order = rrf(rankings) if len(rankings) > 1 else rankings[0]
        return [passages[pid] for pid in order[:k]]


def _meta(c: Chunk) -> dict:
    return {"agency": c.agency, "agency_name": c.agency_name, "year": c.year, "format": c.format, "part": c.part,
            "paragraph": c.paragraph, "source": c.source, "sha256": c.sha256, "line": c.line}




def open_for_check(data: Union[str, os.PathLike, None], history_dirs: list[str], use_store: bool = True):
    """The history `review check` consults: the folders given, else the store if one was built."""
    from review.history import FolderHistory
    if history_dirs:
        return FolderHistory(history_dirs)
    if use_store:
        return Store.open_existing(data)
    return None


__all__ = ["Store", "Passage", "StoredReport", "IndexOutcome", "default_data_dir", "open_for_check"]
