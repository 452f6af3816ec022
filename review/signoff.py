"""The sign-off record: who decided what, when, on which report version and on which finding.

Every decision is appended to an audit log (table `decisions`) and never updated or deleted: this module has
no method that could. "The latest decision wins" is computed when reading, so the log keeps every earlier
decision beside the one in force. Decisions are keyed by the report's sha256 and the finding's fingerprint:
re-running the review gives the same fingerprints, so decisions survive it, and a new version of a report
(new bytes, new sha256) starts pending while the old version's record stays.

The table `reports` holds one row per reviewed report version (what the batch queue lists); registering a
report is not a decision.

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
    sqlite_autoincrement=True,  # ids are never reused, even in principle
)


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

    def _create_tables(self, parsed: sa.URL) -> None:
        last: Optional[BaseException] = None
        for attempt in range(8):
            try:
                _metadata.create_all(self._engine, checkfirst=True)
                return
            except sa.exc.OperationalError as e:
                if not _is_locked(e):
                    self._engine.dispose()
                    raise ReviewError(f"无法打开审核记录数据库：{_safe_url(parsed)}",
                                      f"cannot open the sign-off database {_safe_url(parsed)}: {e.orig}") from e
                last = e
            except (sa.exc.IntegrityError, sa.exc.ProgrammingError) as e:
                # Another process created the tables between our check and our CREATE: check again.
                last = e
            time.sleep(0.05 * (attempt + 1))
        self._engine.dispose()
        raise ReviewError(f"无法创建审核记录数据表：{_safe_url(parsed)}",
                          f"cannot create the sign-off tables in {_safe_url(parsed)}: {last}")

    def _write(self, fn: Callable[[sa.Connection], T]) -> T:
        """Run `fn` in one short transaction; retry while SQLite says the database is locked."""
        for attempt in range(_LOCK_RETRIES):
            try:
                with self._engine.begin() as conn:
                    return fn(conn)
            except sa.exc.OperationalError as e:
                if not _is_locked(e) or attempt == _LOCK_RETRIES - 1:
                    raise ReviewError("审核记录数据库暂时无法写入，请稍后重试",
                                      f"the sign-off database could not be written: {e.orig}") from e
                time.sleep(min(0.5, 0.01 * (attempt + 1)) * (0.5 + random.random()))
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
        with self._engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
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

        def insert(conn: sa.Connection) -> int:
            values["at"] = _now()  # the time the row is written (a retry after a lock wait gets a later one)
            return conn.execute(sa.insert(decisions_table).values(**values)).inserted_primary_key[0]

        new_id = self._write(insert)
        return Decision(id=int(new_id), **{**values, "payload": json.loads(payload_text)})

    def decisions(self, report_sha256: str | None = None) -> list[Decision]:
        """The audit log, oldest first: of one report version, or of all if None."""
        d = decisions_table
        q = sa.select(d).order_by(d.c.id)
        if report_sha256 is not None:
            q = q.where(d.c.report_sha256 == report_sha256)
        with self._engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
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
        with self._engine.connect() as conn:
            return _status(conn.execute(q).scalar())

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
