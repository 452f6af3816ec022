"""The sign-off record: who decided what, when, on which report version and on which finding.

Every decision is appended to an audit log (table `decisions`) and never updated or deleted: this module has
no method that could. "The latest decision wins" is computed when reading, so the log keeps every earlier
decision beside the one in force. Decisions are keyed by the report's sha256 and the finding's fingerprint:
re-running the review gives the same fingerprints, so decisions survive it, and a new version of a report
(new bytes, new sha256) starts pending while the old version's record stays.

The table `reports` holds one row per reviewed report version (what the batch queue lists); registering a
report is not a decision.

Tamper-evident: every decision row carries `prev_hash` and `hash` = sha256(prev_hash + the row's canonical JSON),
a chain over the log in id order (`verify()`, `review audit verify`): a row changed, removed or inserted behind
the API breaks the chain at that row. Where the database has triggers (SQLite, PostgreSQL) UPDATE and DELETE on
`decisions` are refused outright. The chain covers the columns in CHAINED (a None value is left out, so a column
added later — NULL in the older rows — keeps every older row verifiable; add new decision fields to CHAINED).

Setup is safe when many processes open a new database at once (CREATE ... IF NOT EXISTS, retried), and a damaged,
foreign or read-only database gives a message naming the file and what to do, never a driver traceback.

Storage is SQLAlchemy Core: SQLite in WAL mode with a busy timeout by default
(<data dir>/signoff.sqlite, see review.store.default_data_dir), or any SQLAlchemy URL, e.g.
`postgresql+psycopg://user:password@host/dbname` (pip install 'nianbao-review[postgres]') so that a team
shares one record. Writes are single short transactions (one INSERT, or one upsert), retried while SQLite
reports "database is locked", so concurrent reviewers (threads or processes) lose nothing.

    db = SignoffDB()                       # $REVIEW_DB_URL, else the SQLite file in the data folder
    db.register(result)                    # result: ReviewResult
    db.record(reviewer="张三", report_sha256=result.sha256, source=result.source,
              kind="finding", action="dismiss", fingerprint=f.fingerprint, comment="表格数据已核实")
    db.current(result.sha256)["findings"]  # {fingerprint: latest Decision}
    db.status(result.sha256)               # pending | approved | returned
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal, Optional, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect, sqlite as sqlite_dialect
from pydantic import BaseModel, Field

from review.models import ReviewError, ReviewResult
from review.store import default_data_dir

FINDING_ACTIONS = ("confirm", "dismiss")  # 确认 / 驳回
REPORT_ACTIONS = ("approve", "return")  # 通过 / 退回修改
DRAFT_ACTIONS = ("approve", "reject")  # 草稿 采用 / 不采用
STATUS_ZH = {"pending": "待审核", "approved": "已通过", "returned": "退回修改"}

KINDS: dict[str, tuple[str, ...]] = {"finding": FINDING_ACTIONS, "report": REPORT_ACTIONS, "draft": DRAFT_ACTIONS}
KIND_ZH = {"finding": "审核意见", "report": "报告", "draft": "草稿"}
ACTION_ZH = {
    "finding": {"confirm": "确认", "dismiss": "驳回"},
    "report": {"approve": "通过", "return": "退回修改"},
    "draft": {"approve": "采用", "reject": "不采用"},
}
# Decisions that must say why: a dismissed finding and a report sent back for changes.
NEEDS_COMMENT = {("finding", "dismiss"), ("report", "return")}

ENV_URL = "REVIEW_DB_URL"
_LOCK_RETRIES = 60  # with SQLite's busy timeout on top: a writer waits minutes before giving up

T = TypeVar("T")


class Decision(BaseModel):
    id: int
    at: str  # ISO 8601 UTC, e.g. "2026-11-22T06:30:00.123456+00:00"
    reviewer: str
    report_sha256: str
    source: str
    kind: Literal["finding", "report", "draft"]
    action: str
    fingerprint: Optional[str] = None
    comment: str = ""
    payload: dict = Field(default_factory=dict)


class ReportRow(BaseModel):
    """A reviewed report version known to the sign-off record (the batch queue's row)."""

    sha256: str
    source: str
    agency: Optional[str]
    year: Optional[int]
    format: Optional[str]
    errors: int
    warnings: int
    registered_at: str
    status: str  # pending | approved | returned (from the latest report decision)


_metadata = sa.MetaData()
reports_table = sa.Table(
    "reports", _metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("agency", sa.Text),
    sa.Column("year", sa.Integer),
    sa.Column("format", sa.Text),
    sa.Column("errors", sa.Integer, nullable=False),
    sa.Column("warnings", sa.Integer, nullable=False),
    sa.Column("registered_at", sa.Text, nullable=False),
)
decisions_table = sa.Table(
    "decisions", _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("reviewer", sa.Text, nullable=False),
    sa.Column("report_sha256", sa.String(64), nullable=False, index=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("fingerprint", sa.Text, index=True),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64)),  # the hash chain (see the module docstring)
    sa.Column("hash", sa.String(64)),
    sqlite_autoincrement=True,  # ids are never reused, even in principle
)

# The decision fields the hash chain covers, in no particular order (the JSON is key-sorted).
CHAINED = ("id", "at", "reviewer", "report_sha256", "source", "kind", "action", "fingerprint", "comment", "payload")
GENESIS = "0" * 64
_PG_CHAIN_LOCK = 7_341_221_905  # pg_advisory_xact_lock key: one chain append at a time

_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions "
        "BEGIN SELECT RAISE(ABORT, 'decisions are append-only: UPDATE refused'); END",
        "CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions "
        "BEGIN SELECT RAISE(ABORT, 'decisions are append-only: DELETE refused'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION review_decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'decisions are append-only: % refused', TG_OP; END $$",
        "CREATE OR REPLACE TRIGGER decisions_no_update BEFORE UPDATE OR DELETE ON decisions "
        "FOR EACH ROW EXECUTE FUNCTION review_decisions_append_only()",
        "CREATE OR REPLACE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions "
        "FOR EACH STATEMENT EXECUTE FUNCTION review_decisions_append_only()",
    ],
}


def chain_hash(prev_hash: str, row: dict) -> str:
    """The hash of one decision row given the previous row's hash."""
    doc = {k: row[k] for k in CHAINED if row.get(k) is not None}
    text = json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + "\n" + text).encode("utf-8")).hexdigest()


class AuditReport(BaseModel):
    """What `verify()` found: ok, the rows checked, the head of the chain, and every break (id and why)."""

    ok: bool
    rows: int
    head: str
    unchained: int = 0  # rows written before the chain existed and not yet chained (none after an upgrade)
    breaks: list[dict] = Field(default_factory=list)
    triggers: bool = False


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def default_url() -> str:
    """$REVIEW_DB_URL, else the SQLite file signoff.sqlite in the data folder."""
    env = os.environ.get(ENV_URL, "").strip()
    if env:
        return env
    return f"sqlite:///{default_data_dir() / 'signoff.sqlite'}"


def _is_locked(e: BaseException) -> bool:
    text = str(getattr(e, "orig", e)).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


def _safe_url(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


class SignoffDB:
    """The audit log of review decisions and the register of reviewed reports. See the module docstring."""

    def __init__(self, url: str | None = None):
        self.url: str = url if url and url.strip() else default_url()
        try:
            parsed = sa.make_url(self.url)
        except sa.exc.ArgumentError as e:
            raise ReviewError(f"审核记录数据库地址无效：{self.url}",
                              f"invalid sign-off database URL: {self.url} ({e})") from e
        self._sqlite = parsed.get_backend_name() == "sqlite"
        self.read_only = False
        kwargs: dict[str, Any] = {}
        if self._sqlite:
            db = parsed.database
            if not db or db == ":memory:":
                # An in-memory database would be private to one connection and lost on exit.
                raise ReviewError("审核记录必须保存在文件或数据库服务器中，不能使用内存数据库",
                                  "the sign-off record needs a file or a database server, not an in-memory database")
            if not db.startswith("file:"):
                Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self._engine = sa.create_engine(parsed, **kwargs)
        except (sa.exc.NoSuchModuleError, ModuleNotFoundError, ImportError) as e:
            raise ReviewError(
                f"缺少连接该数据库所需的驱动：{_safe_url(parsed)}；PostgreSQL 请安装：pip install 'nianbao-review[postgres]'",
                f"no database driver for {_safe_url(parsed)}; for PostgreSQL: pip install 'nianbao-review[postgres]' ({e})"
            ) from e
        if self._sqlite:
            sa.event.listen(self._engine, "connect", _sqlite_pragmas)
        self._create_tables(parsed)

    # ----------------------------------------------------------------------------------------- setup

    def _where(self) -> str:
        """The database as a user names it: the SQLite file's path, or the URL without its password."""
        parsed = sa.make_url(self.url)
        if self._sqlite and parsed.database:
            return str(Path(parsed.database).expanduser())
        return _safe_url(parsed)

    def _broken(self, e: BaseException) -> ReviewError:
        """A damaged, foreign or unreachable database: what is wrong with which file, and what to do."""
        text = str(getattr(e, "orig", e))
        low = text.lower()
        where = self._where()
        if "readonly" in low or "read-only" in low or "read only" in low:
            return ReviewError(f"审核记录数据库是只读的：{where}。请检查该文件及其所在文件夹的写权限（或换一个 --db/数据文件夹）后重试",
                               f"the sign-off database is read-only: {where}. Give write permission on the file and "
                               f"its folder (or use another --db / data folder) and try again ({text})")
        if "not a database" in low or "malformed" in low or "corrupt" in low or "unsupported file format" in low:
            return ReviewError(f"审核记录数据库文件已损坏或不是数据库：{where}。请从备份恢复该文件；或将其移走（保留以便核查）后重新运行，"
                               f"程序会新建一个空的审核记录",
                               f"the sign-off database is damaged or not a database: {where}. Restore it from a backup, "
                               f"or move it aside (keep it for inspection) and run again to start an empty record ({text})")
        return ReviewError(f"无法打开审核记录数据库：{where}。请检查文件或数据库服务器是否可用、地址是否正确",
                           f"cannot open the sign-off database {where}: check the file or server and the URL ({text})")

    def _create_tables(self, parsed: sa.URL) -> None:
        """Tables, indexes, the hash-chain columns (added to an older database), and the append-only triggers.
        Every statement is IF NOT EXISTS and the whole setup is retried, so processes opening a new database at
        the same moment all succeed."""
        last: Optional[BaseException] = None
        for attempt in range(20):
            try:
                with self._engine.begin() as conn:
                    self._setup(conn)
                return
            except sa.exc.DatabaseError as e:
                text = str(getattr(e, "orig", e)).lower()
                if "already exists" in text or "deadlock" in text or _is_locked(e) or isinstance(e, (sa.exc.IntegrityError,
                                                                                 sa.exc.ProgrammingError)) \
                        and "does not exist" not in text and "syntax" not in text:
                    last = e  # another process is creating the same objects at this moment: look again
                elif "readonly" in text or "read-only" in text or "read only" in text:
                    if self._has_tables():
                        self.read_only = True  # reading works; a write will say plainly that it cannot
                        return
                    self._engine.dispose()
                    raise self._broken(e) from None
                else:
                    self._engine.dispose()
                    raise self._broken(e) from None
            time.sleep(0.02 * (attempt + 1) * (0.5 + random.random()))
        self._engine.dispose()
        raise ReviewError(f"无法创建审核记录数据表：{self._where()}，请稍后重试",
                          f"cannot create the sign-off tables in {self._where()}: {last}")

    def _has_tables(self) -> bool:
        try:
            return {"reports", "decisions"} <= set(sa.inspect(self._engine).get_table_names())
        except sa.exc.DBAPIError:
            return False

    def _setup(self, conn: sa.Connection) -> None:
        from sqlalchemy.schema import CreateIndex, CreateTable
        dialect = conn.dialect.name
        if dialect == "postgresql":  # concurrent DDL on the catalog deadlocks: one setup at a time
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK + 1})
        for table in _metadata.sorted_tables:
            conn.execute(CreateTable(table, if_not_exists=True))
            for index in table.indexes:
                conn.execute(CreateIndex(index, if_not_exists=True))
        have = {c["name"] for c in sa.inspect(conn).get_columns("decisions")}
        for col in ("prev_hash", "hash"):  # a database made before the chain: add the columns, chain its rows
            if col not in have:
                conn.execute(sa.text(f"ALTER TABLE decisions ADD COLUMN {col} VARCHAR(64)"))
        if not {"prev_hash", "hash"} <= have:
            self._chain_legacy(conn)
        for stmt in _TRIGGERS.get(dialect, []):
            conn.execute(sa.text(stmt))

    @staticmethod
    def _chain_legacy(conn: sa.Connection) -> None:
        """Chain rows written before the hash columns existed (once, before the triggers forbid UPDATE)."""
        d = decisions_table
        prev = GENESIS
        for m in conn.execute(sa.select(d).order_by(d.c.id)).mappings().all():
            if m["hash"] is None:
                h = chain_hash(prev, dict(m))
                conn.execute(sa.update(d).where(d.c.id == m["id"]).values(prev_hash=prev, hash=h))
                prev = h
            else:
                prev = m["hash"]

    def _read(self, fn: Callable[[sa.Connection], T]) -> T:
        """Run a query; a damaged database is a ReviewError naming the file, not a driver traceback."""
        try:
            with self._engine.connect() as conn:
                return fn(conn)
        except sa.exc.DatabaseError as e:
            raise self._broken(e) from None

    def _write(self, fn: Callable[[sa.Connection], T]) -> T:
        """Run `fn` in one short transaction; retry while SQLite says the database is locked."""
        for attempt in range(_LOCK_RETRIES):
            try:
                with self._engine.begin() as conn:
                    return fn(conn)
            except sa.exc.OperationalError as e:
                if _is_locked(e) and attempt == _LOCK_RETRIES - 1:
                    raise ReviewError(f"审核记录数据库暂时无法写入（被其他进程占用）：{self._where()}，请稍后重试",
                                      f"the sign-off database {self._where()} stayed locked: {e.orig}") from None
                if not _is_locked(e):
                    raise self._broken(e) from None
                time.sleep(min(0.5, 0.01 * (attempt + 1)) * (0.5 + random.random()))
            except sa.exc.IntegrityError:
                raise  # the caller decides (a concurrent first registration, an id taken at this moment)
            except sa.exc.DatabaseError as e:
                if "append-only" in str(getattr(e, "orig", e)):
                    raise
                raise self._broken(e) from None
        raise AssertionError("unreachable")

    # ----------------------------------------------------------------------------------------- reports

    def register(self, result: ReviewResult) -> ReportRow:
        """Add or refresh the report row of this version (by sha256). Not a decision: nothing is signed off.

        A re-review of the same bytes updates the counts and meta and keeps the first registration time."""
        if not result.sha256:
            raise ReviewError("该文件未能读取，无法登记审核", "the file could not be read: nothing to register",
                              source=result.source)
        row = {
            "sha256": result.sha256, "source": result.source, "agency": result.meta.agency,
            "year": result.meta.year, "format": result.meta.format,
            "errors": len(result.errors), "warnings": len(result.warnings), "registered_at": _now(),
        }
        changing = {k: v for k, v in row.items() if k not in ("sha256", "registered_at")}
        dialect = self._engine.dialect.name

        def upsert(conn: sa.Connection) -> None:
            if dialect in ("sqlite", "postgresql"):
                insert = sqlite_dialect.insert if dialect == "sqlite" else pg_dialect.insert
                stmt = insert(reports_table).values(**row)
                conn.execute(stmt.on_conflict_do_update(index_elements=["sha256"], set_=changing))
                return
            updated = conn.execute(sa.update(reports_table).where(reports_table.c.sha256 == row["sha256"])
                                   .values(**changing)).rowcount
            if not updated:
                conn.execute(sa.insert(reports_table).values(**row))

        for attempt in range(3):
            try:
                self._write(upsert)
                break
            except sa.exc.IntegrityError:  # a concurrent first registration on a generic database: update it
                if attempt == 2:
                    raise
        found = self._report_rows(sha256=result.sha256)
        return found[0]

    def _report_rows(self, sha256: str | None = None) -> list[ReportRow]:
        d = decisions_table
        latest = (sa.select(d.c.report_sha256, sa.func.max(d.c.id).label("id"))
                  .where(d.c.kind == "report").group_by(d.c.report_sha256).subquery())
        r = reports_table
        q = (sa.select(r, d.c.action)
             .select_from(r.outerjoin(latest, latest.c.report_sha256 == r.c.sha256)
                          .outerjoin(d, d.c.id == latest.c.id))
             .order_by(r.c.registered_at, r.c.sha256))
        if sha256 is not None:
            q = q.where(r.c.sha256 == sha256)
        rows = self._read(lambda conn: conn.execute(q).mappings().all())
        return [ReportRow(sha256=m["sha256"], source=m["source"], agency=m["agency"], year=m["year"],
                          format=m["format"], errors=m["errors"], warnings=m["warnings"],
                          registered_at=m["registered_at"], status=_status(m["action"])) for m in rows]

    def reports(self, status: str | None = None) -> list[ReportRow]:
        """The registered report versions, first registered first; only those with `status` if given."""
        if status is not None and status not in STATUS_ZH:
            raise ReviewError(f"未知的审核状态：{status}（可选：{'、'.join(STATUS_ZH)}）",
                              f"unknown status {status!r} (one of {', '.join(STATUS_ZH)})")
        rows = self._report_rows()
        return rows if status is None else [r for r in rows if r.status == status]

    # ----------------------------------------------------------------------------------------- decisions

    def record(self, *, reviewer: str, report_sha256: str, source: str, kind: str, action: str,
               fingerprint: str | None = None, comment: str = "", payload: dict | None = None) -> Decision:
        """Append one decision to the audit log and return it (with its id and time)."""
        reviewer = (reviewer or "").strip()
        comment = (comment or "").strip()
        fingerprint = (fingerprint or "").strip() or None
        if not reviewer:
            raise ReviewError("必须填写审核人", "a reviewer name is required")
        if not (report_sha256 or "").strip():
            raise ReviewError("缺少报告版本（sha256），无法记录审核意见", "the report's sha256 is required")
        if kind not in KINDS:
            raise ReviewError(f"未知的审核对象类型：{kind}（可选：finding 审核意见、report 报告、draft 草稿）",
                              f"unknown decision kind {kind!r} (one of {', '.join(KINDS)})")
        if action not in KINDS[kind]:
            allowed = "、".join(f"{a} {ACTION_ZH[kind][a]}" for a in KINDS[kind])
            raise ReviewError(f"{KIND_ZH[kind]}不支持操作：{action}（可选：{allowed}）",
                              f"unknown action {action!r} for kind {kind!r} (one of {', '.join(KINDS[kind])})")
        if kind == "finding" and not fingerprint:
            raise ReviewError("对审核意见的决定必须指明是哪一条意见（fingerprint）",
                              "a decision on a finding needs the finding's fingerprint")
        if (kind, action) in NEEDS_COMMENT and not comment:
            what = "驳回审核意见" if kind == "finding" else "退回修改"
            raise ReviewError(f"{what}时必须填写理由", f"a {kind} {action!r} needs a comment saying why")
        if not isinstance(payload or {}, dict):
            raise ReviewError("附加数据必须是字典（JSON 对象）", "the payload must be a dict")
        try:
            payload_text = json.dumps(payload or {}, ensure_ascii=False, sort_keys=True)
        except (TypeError, ValueError) as e:
            raise ReviewError("附加数据无法保存为 JSON", f"the payload is not JSON-serialisable: {e}") from e
        values = {"at": _now(), "reviewer": reviewer, "report_sha256": report_sha256.strip(),
                  "source": source or "", "kind": kind, "action": action, "fingerprint": fingerprint,
                  "comment": comment, "payload": payload_text}

        dialect = self._engine.dialect.name

        def insert(conn: sa.Connection) -> int:
            d = decisions_table
            if dialect == "postgresql":  # one append at a time, so two writers never fork the chain
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_CHAIN_LOCK})
                new_id = conn.execute(sa.text("SELECT nextval(pg_get_serial_sequence('decisions', 'id'))")).scalar()
            else:
                new_id = (conn.execute(sa.select(sa.func.max(d.c.id))).scalar() or 0) + 1
                if dialect == "sqlite":  # AUTOINCREMENT: never reuse an id, even one whose row is gone
                    seq = conn.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'decisions'")).scalar()
                    new_id = max(new_id, (seq or 0) + 1)
            prev = conn.execute(sa.select(d.c.hash).order_by(d.c.id.desc()).limit(1)).scalar() or GENESIS
            values["at"] = _now()  # the time the row is written (a retry after a lock wait gets a later one)
            row = {**values, "id": new_id}
            # the chain: the row is written once, with its hash over its own values and the previous row's hash
            conn.execute(sa.insert(d).values(**row, prev_hash=prev, hash=chain_hash(prev, row)))
            return new_id

        for attempt in range(_LOCK_RETRIES):
            try:
                new_id = self._write(insert)
                break
            except sa.exc.IntegrityError:  # another writer took the same id at this moment: take the next
                if attempt == _LOCK_RETRIES - 1:
                    raise ReviewError(f"审核记录数据库写入冲突，请重试：{self._where()}",
                                      f"the sign-off database kept refusing the new decision: {self._where()}") from None
                time.sleep(0.01 * (0.5 + random.random()))
        return Decision(id=int(new_id), **{**values, "payload": json.loads(payload_text)})

    # ----------------------------------------------------------------------------------------- audit

    def verify(self) -> AuditReport:
        """Check the hash chain over the whole decision log (and whether the append-only triggers are there)."""
        d = decisions_table

        def load(conn: sa.Connection):
            return conn.execute(sa.select(d).order_by(d.c.id)).mappings().all()
        rows = self._read(load)
        breaks: list[dict] = []
        prev = GENESIS
        unchained = 0
        chained_seen = False
        for m in rows:
            if m["hash"] is None and not chained_seen:
                unchained += 1
                continue
            chained_seen = True
            row = dict(m)
            if m["prev_hash"] != prev:
                breaks.append({"id": m["id"], "why": "上一条记录被删除、插入或改动（prev_hash 不符） / the previous row was "
                                                     "removed, inserted or changed (prev_hash does not match)"})
            if m["hash"] != chain_hash(m["prev_hash"] or GENESIS, row):
                breaks.append({"id": m["id"], "why": "本条记录的内容被改动（hash 不符） / this row was changed (hash does "
                                                     "not match)"})
            prev = m["hash"] or ""
        return AuditReport(ok=not breaks, rows=len(rows), head=prev if rows else GENESIS, unchained=unchained,
                           breaks=breaks, triggers=self._triggers_present())

    def _triggers_present(self) -> bool:
        dialect = self._engine.dialect.name
        if dialect == "sqlite":
            q = sa.text("SELECT count(*) FROM sqlite_master WHERE type='trigger' AND tbl_name='decisions'")
            return self._read(lambda c: c.execute(q).scalar()) >= 2
        if dialect == "postgresql":
            q = sa.text("SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                        "WHERE c.relname = 'decisions' AND c.relnamespace = to_regnamespace(current_schema()) "
                        "AND NOT t.tgisinternal")
            return self._read(lambda c: c.execute(q).scalar()) >= 2
        return False

    def decisions(self, report_sha256: str | None = None) -> list[Decision]:
        """The audit log, oldest first: of one report version, or of all if None."""
        d = decisions_table
        q = sa.select(d).order_by(d.c.id)
        if report_sha256 is not None:
            q = q.where(d.c.report_sha256 == report_sha256)
        rows = self._read(lambda conn: conn.execute(q).mappings().all())
        return [_decision(m) for m in rows]

    def current(self, report_sha256: str) -> dict:
        """The decisions in force: {"findings": {fingerprint: latest Decision}, "report": latest report
        Decision or None, "draft": latest draft Decision or None}."""
        findings: dict[str, Decision] = {}
        out: dict[str, Any] = {"findings": findings, "report": None, "draft": None}
        for dec in self.decisions(report_sha256):  # oldest first: later ones replace earlier ones
            if dec.kind == "finding":
                findings[dec.fingerprint or ""] = dec
            else:
                out[dec.kind] = dec
        return out

    def status(self, report_sha256: str) -> str:
        """pending | approved | returned, from the latest report decision on this version."""
        d = decisions_table
        q = (sa.select(d.c.action).where(d.c.report_sha256 == report_sha256, d.c.kind == "report")
             .order_by(d.c.id.desc()).limit(1))
        return _status(self._read(lambda conn: conn.execute(q).scalar()))

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> "SignoffDB":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SignoffDB({_safe_url(sa.make_url(self.url))!r})"


def _status(action: Optional[str]) -> str:
    return {"approve": "approved", "return": "returned"}.get(action or "", "pending")


def _decision(m) -> Decision:
    try:
        payload = json.loads(m["payload"] or "{}")
    except ValueError:
        payload = {"_raw": m["payload"]}
    return Decision(id=m["id"], at=m["at"], reviewer=m["reviewer"], report_sha256=m["report_sha256"],
                    source=m["source"], kind=m["kind"], action=m["action"], fingerprint=m["fingerprint"],
                    comment=m["comment"] or "", payload=payload if isinstance(payload, dict) else {"_raw": payload})


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA busy_timeout = 30000")
        for attempt in range(50):
            try:
                cur.execute("PRAGMA journal_mode = WAL")
                break
            except Exception as e:  # another connection is switching the new file to WAL at this moment
                if not _is_locked(e) or attempt == 49:
                    raise
                time.sleep(0.02 * (attempt + 1))
        cur.execute("PRAGMA foreign_keys = ON")
    finally:
        cur.close()
