"""The service layer the UI's tabs call: opening the data folder, the assistant, the sign-off database and the
users (Services); the batch folders, the queue's filters and orders, what a server folder may be. The tabs hold
no review logic: findings come from review.api / review.llm.service, decisions go to review.signoff."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

from review.api import SUPPORTED
from review.models import ReviewError

FIXTURES = Path(__file__).resolve().parent.parent.parent / "fixtures"


class Refused(Exception):
    """Something the reviewer can put right (no report open, no name, a missing comment...): shown as a warning,
    and nothing on the page changes, so nothing typed is lost."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------------------------------- services

class _ThreadStore:
    """The prior-report store, opened once per thread (its SQLite catalog connection is per thread)."""

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()

    def _get(self):
        store = getattr(self._local, "store", None)
        if store is None:
            from review.store import Store
            store = self._local.store = Store(self.path, create=False)
        return store

    def __getattr__(self, name: str):
        return getattr(self._get(), name)

    def __len__(self) -> int:
        return len(self._get())


def _store_exists(data: Path) -> bool:
    """Whether a prior-report store has been built for this data folder — a catalog.sqlite there, or the
    catalog on the team database ($REVIEW_DB_URL) — without creating one."""
    from review.store import Store
    store = Store.open_existing(data)
    if store is None:
        return False
    store.close()
    return True


_DENSE_FILLERS: dict[str, Any] = {}  # data folder -> the background thread embedding its new passages


def fill_dense_later(data: Path) -> None:
    """Embed imported passages in the background (the store is searchable at once by its lexical vectors);
    one thread per data folder at a time."""
    from review.store import Store
    key = str(data)
    running = _DENSE_FILLERS.get(key)
    if running is not None and running.is_alive():
        return
    store = Store(data, create=False)
    if not store.has_dense:
        store.close()
        return
    _DENSE_FILLERS[key] = store.fill_dense_in_background(workers=1)


def users_at(data_dir: Optional[os.PathLike] = None, users_file: Optional[os.PathLike] = None):
    """The users file: --users FILE, else $REVIEW_USERS_FILE, else users.json in the data folder."""
    from review.store import default_data_dir
    from review.users import ENV_FILE, Users
    data = Path(data_dir).expanduser() if data_dir else default_data_dir()
    return Users(users_file or os.environ.get(ENV_FILE, "").strip() or data / "users.json")


@dataclass
class Services:
    """What the app works with: the assistant (review, explain, draft, chat), the sign-off DB, the users."""

    assistant: Any
    db: Any
    users: Any
    data_dir: Path
    history_note: str = ""
    require_login: bool = False
    fixtures: list[Path] = field(default_factory=list)
    batch_roots: list[Path] = field(default_factory=list)  # --batch-root: more server folders a batch may read

    @classmethod
    def create(cls, data_dir: Optional[os.PathLike] = None, db_url: Optional[str] = None,
               users_file: Optional[os.PathLike] = None, history_dirs: Sequence[str] = (), users=None,
               batch_roots: Sequence[str] = ()) -> "Services":
        """Open everything the app needs; raises ReviewError (Chinese + English) when something cannot be opened."""
        from review.history import FolderHistory
        from review.llm.cache import LLMCache
        from review.llm.service import Assistant
        from review.signoff import SignoffDB
        from review.store import default_data_dir
        data = Path(data_dir).expanduser() if data_dir else default_data_dir()
        url = db_url or os.environ.get("REVIEW_DB_URL", "").strip() or f"sqlite:///{data / 'signoff.sqlite'}"
        users = users if users is not None else users_at(data_dir, users_file)
        require_login = users.configured  # a damaged users file raises here: never "no users" by accident
        store = _ThreadStore(data) if _store_exists(data) else None
        if history_dirs:
            for d in history_dirs:
                if not Path(d).exists():
                    raise ReviewError(f"往年年报文件夹不存在：{d}", f"history folder not found: {d}")
            history, note = FolderHistory(list(history_dirs)), "往年年报：" + "、".join(history_dirs)
        elif store is not None:
            history, note = store, f"历史库：{data}（{len(store)} 篇）"
        else:
            history, note = None, "未建历史库（跨年度检查显示“无法判断”；可用 review index 建库）"
        for d in batch_roots:
            if not Path(d).expanduser().is_dir():
                raise ReviewError(f"批量审核允许的文件夹不存在：{d}", f"batch root folder not found: {d}")
        assistant = Assistant(cache=LLMCache(data / "llm_cache.sqlite"), store=store, history=history)
        db = SignoffDB(url)
        fixtures = sorted(p for p in FIXTURES.glob("*") if p.is_file() and p.suffix.lower() in SUPPORTED
                          and not p.name.upper().startswith("README")) if FIXTURES.is_dir() else []
        return cls(assistant=assistant, db=db, users=users, data_dir=data, history_note=note,
                   require_login=require_login, fixtures=fixtures,
                   batch_roots=[Path(d).expanduser().resolve() for d in batch_roots])

    def allowed_roots(self) -> list[Path]:
        """The server folders a batch may read: the data folder, the fixtures folder and the --batch-root ones."""
        roots = [self.data_dir, FIXTURES, *self.batch_roots]
        return list(dict.fromkeys(Path(r).expanduser().resolve() for r in roots))

    def db_label(self) -> str:
        try:
            import sqlalchemy as sa
            url = sa.make_url(self.db.url)
            if url.get_backend_name() == "sqlite":
                return f"{url.database}（SQLite）"
            return url.render_as_string(hide_password=True)
        except Exception:
            return "（未知）"

    def reviewer_label(self, name: str, short: bool = False) -> str:
        """张三（zhangsan） for a user with a display name (short: 张三); the name as recorded otherwise."""
        if not self.require_login:
            return name
        try:
            shown = self.users.display(name)
        except ReviewError:
            return name
        return name if shown == name else (shown if short else f"{shown}（{name}）")



# ------------------------------------------------------------------------------------------- batch review

QUEUE_HEADERS = ["状态", "机关", "年度", "格式", "错误", "警告", "文件", "编号"]
BATCH_SUFFIXES = (*SUPPORTED, ".zip")
SCOPES = ("只看本批", "全部")
STATUS_FILTERS = {"全部": None, "待审核": "pending", "已通过": "approved", "退回修改": "returned"}
SORTS = {  # the queue's orders; each ends on the registration time so that ties keep the input order
    "登记时间": lambda r: (r.registered_at, r.sha256),
    "错误多的在前": lambda r: (-r.errors, -r.warnings, r.registered_at),
    "待审核在前": lambda r: (r.status != "pending", -r.errors, r.registered_at),
    "机关": lambda r: (r.agency is None, r.agency or "", r.year or 0, r.registered_at),
    "年度": lambda r: (r.year is None, r.year or 0, r.agency or "", r.registered_at),
}
_BATCH_NAME = re.compile(r"^\d{8}-\d{6}(?:-\d{1,3})?$")  # <data>/batches/<name>: never a path from the page


@dataclass
class QueueView:
    """What the queue lists and in what order (the 批量审核 tab's controls)."""

    scope: str = SCOPES[0]
    status: str = "全部"
    no_errors: bool = False
    text: str = ""
    sort: str = "登记时间"


def short_source(source: str) -> str:
    """The file name a reviewer recognises: 'archive.zip!member/path' for a zip member, else the base name."""
    if "!" in source:
        archive, member = source.split("!", 1)
        return f"{Path(archive).name}!{member}"
    return Path(source).name or source


def queue_rows(reports: Iterable, view: QueueView, batch_shas: Optional[set] = None) -> list:
    """The sign-off DB's ReportRows the queue shows: filtered (scope, status, no errors, text) and sorted."""
    rows = list(reports)
    if view.scope == SCOPES[0]:
        rows = [r for r in rows if batch_shas and r.sha256 in batch_shas]
    status = STATUS_FILTERS.get(view.status)
    if status:
        rows = [r for r in rows if r.status == status]
    if view.no_errors:
        rows = [r for r in rows if r.errors == 0]
    text = (view.text or "").strip().casefold()
    if text:
        rows = [r for r in rows if text in (r.agency or "").casefold() or text in r.source.casefold()]
    return sorted(rows, key=SORTS.get(view.sort, SORTS["登记时间"]))



def batches_dir(data: Path) -> Path:
    return Path(data) / "batches"


def new_batch(data: Path) -> Path:
    """A new, empty batch output folder <data>/batches/<YYYYmmdd-HHMMSS[-n]>."""
    base = batches_dir(data)
    base.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for i in range(1000):
        p = base / (stamp if i == 0 else f"{stamp}-{i}")
        try:
            p.mkdir()
            return p
        except FileExistsError:
            continue
    raise Refused("无法创建批量审核输出文件夹，请稍后重试。")


def batch_folder(data: Path, name: Optional[str]) -> Optional[Path]:
    """The batch folder of a name chosen on the page (checked: only <data>/batches/<timestamp> with items.json)."""
    if not name or not _BATCH_NAME.match(str(name)):
        return None
    p = batches_dir(data) / name
    return p if (p / "items.json").is_file() else None


def batch_items(folder: Optional[Path]) -> list:
    """The inputs of a batch (review.batch.Item: name, path, sha256), [] if it cannot be read."""
    if folder is None:
        return []
    from review.batch import load_items
    try:
        return load_items(folder)
    except (ReviewError, OSError, ValueError, KeyError, TypeError):
        return []


def batch_choices(data: Path) -> list[tuple[str, str]]:
    """(label, name) of the batches run so far, newest first."""
    base = batches_dir(data)
    names = sorted((p.name for p in base.iterdir() if _BATCH_NAME.match(p.name)), reverse=True) if base.is_dir() else []
    out = []
    for name in names:
        folder = batch_folder(data, name)
        if folder is not None:
            when = datetime.strptime(name[:15], "%Y%m%d-%H%M%S").strftime("%Y-%m-%d %H:%M:%S")
            out.append((f"{when}{name[15:]}（{len(batch_items(folder))} 个文件）", name))
    return out


def inside(path: Path, roots: Sequence[Path]) -> bool:
    """Whether the path, symbolic links followed, is one of the roots or inside one."""
    try:
        real = Path(path).resolve()
    except (OSError, RuntimeError):
        return False
    return any(real == r or r in real.parents for r in roots)


def batch_folder_input(text: str, roots: Sequence[Path]) -> Optional[Path]:
    """The server folder typed on the page, if it is inside an allowed root and every report in it is too."""
    raw = (text or "").strip()
    if not raw:
        return None
    allowed = "；".join(str(r) for r in roots)
    if len(raw) > 1024:
        raise Refused("文件夹路径太长（超过 1024 个字符）：请检查填写的路径。")
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
           for c in raw):
        raise Refused("文件夹路径含有控制字符或不可见字符：请重新填写（只填写路径本身）。")
    if raw.startswith("~"):
        raise Refused(f"请填写服务器上文件夹的完整路径（以 / 开头，不用 ~）。可选的范围：{allowed}")
    p = Path(raw).expanduser()
    if not p.is_absolute():
        raise Refused(f"请填写服务器上文件夹的完整路径（以 / 开头）。可选的范围：{allowed}")
    if not inside(p, roots):
        raise Refused(f"不允许读取该文件夹：{raw}。批量审核只能读取以下文件夹及其子文件夹：{allowed}"
                      "（管理员可用 --batch-root 增加）。")
    if not p.is_dir():
        raise Refused(f"文件夹不存在：{raw}")
    from review.api import expand
    found = [Path(f) for f in expand([p])] + sorted(p.rglob("*.zip"))
    outside = next((f for f in found if not inside(f, roots)), None)
    if outside is not None:
        raise Refused(f"文件夹中的“{outside.relative_to(p)}”指向允许范围之外，已拒绝整个文件夹。")
    if not found:
        raise Refused(f"文件夹中没有可审核的文件（{'、'.join(s[1:] for s in BATCH_SUFFIXES)}）：{raw}")
    return p


def stage_uploads(files: Optional[Sequence], dest: Path) -> list[Path]:
    """Copy the uploaded files into the batch folder (it keeps its inputs); refuse unsupported types."""
    files = [Path(f) for f in files or []]
    bad = [f.name for f in files if f.suffix.lower() not in BATCH_SUFFIXES]
    if bad:
        raise Refused(f"不支持的文件类型：{'、'.join(bad)}（支持：{'、'.join(s[1:] for s in BATCH_SUFFIXES)}）")
    out = []
    for f in files:
        dest.mkdir(parents=True, exist_ok=True)
        target, n = dest / f.name, 1
        while target.exists():
            target, n = dest / f"{f.stem}-{n}{f.suffix}", n + 1
        shutil.copyfile(f, target)
        out.append(target)
    return out


def report_bytes(services: Services, sha: str, first: Optional[str]) -> tuple[bytes, str]:
    """A registered report's bytes and name, read back from a batch's saved inputs (the chosen batch first)."""
    names = [first] + [n for _, n in batch_choices(services.data_dir) if n != first]
    roots = services.allowed_roots()
    for name in names:
        for it in batch_items(batch_folder(services.data_dir, name)):
            if it.sha256 != sha or not inside(it.path, roots) or not it.path.is_file():
                continue
            data = it.path.read_bytes()
            if hashlib.sha256(data).hexdigest() == sha:  # the same version that was reviewed and decided
                return data, it.name
    raise Refused("找不到这篇年报的原文件（不在任何批次中，或已被移走、修改）：请在“单篇审核”中重新上传。")


def export_files(folder: Path, db) -> list[str]:
    """batch.export (summary with sign-off status, memos), copied for download: summary .xlsx/.csv, memos .zip."""
    from review.batch import export
    written = export(folder, db)
    dest = Path(tempfile.mkdtemp(prefix="nb-export-"))  # gradio serves files from the temp folder only
    out = []
    for suffix in (".xlsx", ".csv"):
        target = dest / f"summary-{folder.name}{suffix}"
        shutil.copyfile(folder / f"summary{suffix}", target)
        out.append(str(target))
    if (folder / "region.csv").is_file():  # checks across the batch (a government beside its departments)
        target = dest / f"region-{folder.name}.csv"
        shutil.copyfile(folder / "region.csv", target)
        out.append(str(target))
    memos = dest / f"memos-{folder.name}.zip"
    with zipfile.ZipFile(memos, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in written:
            if p.parent.name == "memos":
                zf.write(p, f"memos/{p.name}")
    out.append(str(memos))
    return out




# ------------------------------------------------------------------------------------------- the open report

def os_reason(e: OSError) -> str:
    """An OSError in Chinese words (no Python exception names on the page)."""
    import errno
    reasons = {errno.ENOENT: "文件不存在", errno.EACCES: "没有读取权限", errno.EPERM: "没有权限",
               errno.ENOSPC: "磁盘空间不足", errno.EISDIR: "这是一个文件夹", errno.ENOTDIR: "路径不是文件夹",
               errno.ENAMETOOLONG: "路径太长", errno.EADDRINUSE: "端口已被占用", errno.EROFS: "文件系统只读"}
    return reasons.get(getattr(e, "errno", None), "系统无法完成读写")


def review(services: "Services", data: bytes, name: str):
    """Review the bytes of one report (history from the store or --history folders) with the assistant."""
    try:
        return services.assistant.review(data, name)
    except ReviewError as e:
        raise Refused(f"无法审核“{name}”：{e.zh}") from None


def open_report(services: "Services", rv, name: str, data: Optional[bytes] = None) -> dict:
    """Register the reviewed report in the sign-off queue; the page's state for it."""
    try:
        services.db.register(rv.result)
    except ReviewError as e:
        raise Refused(f"审核已完成，但无法登记到审核记录库：{e.zh}。请检查 --db 设置后重试。") from None
    save_result(services, rv.result)
    st = {"rv": rv, "name": name}
    if name.lower().endswith(".pdf"):  # kept for the page view (review.ui.source)
        st["pdf"] = data
    return st


def reviewer(services: "Services", typed: str, username: Optional[str]) -> str:
    """Who decides: with users, the logged-in user (who must still be in the users file); else the typed name."""
    if services.require_login:
        if not username:
            raise Refused("未登录：请刷新页面重新登录后再保存决定。")
        try:
            known = username in services.users.names()
        except ReviewError as e:
            raise Refused(f"用户文件无法读取（{e.zh}）：决定未保存，请联系管理员。") from None
        if not known:
            raise Refused("您的账号已被管理员删除或停用：决定未保存。请重新登录。")
        return username
    name = (typed or "").strip()
    if not name:
        raise Refused("请先在页面上方“审核人”一栏填写您的姓名，再保存决定。")
    return name


def record(services: "Services", **kw):
    """Append one decision to the sign-off record."""
    try:
        return services.db.record(**kw)
    except ReviewError as e:
        raise Refused(f"未保存：{e.zh}") from None


# ------------------------------------------------------------------------------------------- conclusions

class NeedsConfirmation(Refused):
    """通过 asked for a report with errors still open: the page asks the reviewer to confirm, with a comment."""

    def __init__(self, open_errors: int):
        super().__init__(f"本报告还有 {open_errors} 项错误未处理（未驳回）。如确需通过，请填写意见并确认“在错误未更正的情况下通过”。")
        self.open_errors = open_errors


from review.memo import open_errors  # noqa: E402  (the fingerprints of errors not dismissed)


def conclude(services: "Services", *, who: str, sha256: str, source: str, action: str, comment: str,
             findings: Optional[Iterable] = None, errors_if_unknown: int = 0, confirm_open_errors: bool = False):
    """Record 通过 (approve) or 退回修改 (return) for one report version. 通过 with errors still open needs
    confirm_open_errors and a comment, and is recorded with payload {"open_errors": N, "open_error_fingerprints"}.
    `findings`: the report's findings when known; else `errors_if_unknown` errors count as open."""
    if action not in ("approve", "return"):
        raise Refused("请选择“通过”或“退回修改”。")
    comment = (comment or "").strip()
    if action == "return" and not comment:
        raise Refused("退回修改时必须填写意见（可从“常用意见”中选一条）。")
    payload: dict = {}
    if action == "approve":
        cur = services.db.current(sha256)
        fps = open_errors(findings, cur) if findings is not None else []
        n = len(fps) if findings is not None else errors_if_unknown
        if n:
            if not confirm_open_errors:
                raise NeedsConfirmation(n)
            if not comment:
                raise Refused(f"在 {n} 项错误未更正的情况下通过，必须填写意见（说明为何仍予通过）。")
            payload = {"open_errors": n, "open_error_fingerprints": fps, "confirmed": True}
    return record(services, reviewer=who, report_sha256=sha256, source=source, kind="report", action=action,
                  comment=comment, payload=payload)


def stored_result(services: "Services", batch_name: Optional[str], sha: str) -> Optional[dict]:
    """A report's review result (the contract's JSON) as its batch wrote it: the chosen batch first."""
    from review.batch import load_result
    names = [batch_name] + [n for _, n in batch_choices(services.data_dir) if n != batch_name]
    for name in names:
        folder = batch_folder(services.data_dir, name)
        if folder is None:
            continue
        try:
            r = load_result(folder, sha)
        except (OSError, ValueError):
            continue
        if r and not r.get("error"):
            return r
    return None


# ------------------------------------------------------------------------------------------- 常用意见

DEFAULT_COMMENTS = [
    "表格数据不平衡，请核对后更正。",
    "正文表述与表格数据不一致，请核对更正。",
    "缺少规定的部分或表格行，请按国办模板补齐。",
    "第五部分问题和改进措施不具体，请补充。",
    "经核实，数据无误，同意发布。",
]


def comments_path(services: "Services") -> Path:
    return Path(services.data_dir) / "comments.json"


def stock_comments(services: "Services") -> list[str]:
    """The team's stock comments (常用意见), from <data>/comments.json; the defaults until someone edits them."""
    import json
    try:
        data = json.loads(comments_path(services).read_text(encoding="utf-8"))
        comments = [str(c).strip() for c in data.get("comments", []) if str(c).strip()]
        return comments or list(DEFAULT_COMMENTS)
    except (OSError, ValueError, AttributeError):
        return list(DEFAULT_COMMENTS)


def save_stock_comments(services: "Services", text: str) -> list[str]:
    """Save the stock comments edited on the page (one a line, at most 9 used by the number keys)."""
    import json
    comments = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not comments:
        raise Refused("常用意见不能为空：每行填写一条。")
    if any(len(c) > 500 for c in comments):
        raise Refused("每条常用意见不超过 500 字。")
    path = comments_path(services)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": 1, "comments": comments}, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise Refused(f"常用意见未保存：{os_reason(e)}（{path}）。") from None
    return comments


# ------------------------------------------------------------------------------------------- batch runs

class RunGuard:
    """One run at a time of a long action (a batch, a bulk approval): a second click while one runs is refused,
    so a double click gives one batch."""

    def __init__(self, busy_message: str):
        self._lock = threading.Lock()
        self.busy_message = busy_message

    def __enter__(self):
        if not self._lock.acquire(blocking=False):
            raise Refused(self.busy_message)
        return self

    def __exit__(self, *exc) -> None:
        self._lock.release()


TEXT_LIMIT = 5 * 1024 * 1024  # bytes of text above which an input is called abnormal
TEXT_SUFFIXES = (".txt", ".md", ".html", ".htm")


def unreadable(folder: Optional[Path], items: list) -> list[tuple[str, str]]:
    """(file, reason) of a batch's inputs that could not be read: missing, or refused by the reader."""
    if folder is None:
        return []
    from review.batch import read_index
    try:
        index = read_index(folder)
    except (OSError, ValueError):
        index = {}
    out = []
    for it in items:
        row = index.get(it.sha256) if it.sha256 else None
        if not it.sha256:
            out.append((it.name, "文件不存在或无法打开"))
        elif row is None:
            out.append((it.name, "未完成审核（批次被中断？重新运行可继续）"))
        elif row.get("error"):
            out.append((it.name, str(row["error"])))
    return out


def abnormal(items: list) -> list[tuple[str, str]]:
    """(file, why) of inputs a reviewer should look at before trusting the results: the same bytes given twice,
    over 5 MB of text, or text that is mostly one passage repeated."""
    out: list[tuple[str, str]] = []
    first: dict[str, str] = {}
    for it in items:
        if it.sha256 and it.sha256 in first:
            out.append((it.name, f"与“{short_source(first[it.sha256])}”内容完全相同（重复提交）"))
            continue
        if it.sha256:
            first[it.sha256] = it.name
        path = Path(it.path)
        if path.suffix.lower() not in TEXT_SUFFIXES:
            continue
        try:
            size = path.stat().st_size
            with open(path, "rb") as f:
                head = f.read(TEXT_LIMIT + 1)
        except OSError:
            continue
        if size > TEXT_LIMIT:
            out.append((it.name, f"文本超过 5 MB（{size / 1048576:.1f} MB），远大于一篇年报，请确认是否放错文件"))
            continue
        lines = [ln.strip() for ln in head.decode("utf-8", "ignore").splitlines() if len(ln.strip()) >= 8]
        if len(lines) >= 200 and len(set(lines)) / len(lines) < 0.3:
            out.append((it.name, f"内容大量重复（{len(lines)} 行中只有 {len(set(lines))} 行不同），请确认文件是否完整正确"))
    return out


# ------------------------------------------------------------------------------------------- versions

def results_dir(services: "Services") -> Path:
    return Path(services.data_dir) / "results"


def save_result(services: "Services", result) -> None:
    """Keep the review result of every version opened (<data>/results/<sha256>.json): later versions of the same
    report are compared with it."""
    path = results_dir(services) / f"{result.sha256}.json"
    if path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(result.model_dump_json(), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # the comparison with later versions is then unavailable, nothing else


def result_of(services: "Services", sha: str) -> Optional[dict]:
    import json
    p = results_dir(services) / f"{sha}.json"
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return stored_result(services, None, sha)


def _cell_values(result: dict) -> dict:
    out = {}
    for table, key in (("disclosure", "item"), ("applications", "row"), ("appeals", "group")):
        for c in (result.get("tables") or {}).get(table, []) or []:
            out[(table, c.get(key), c.get("column"))] = c.get("raw") if c.get("value") is None else c.get("value")
    return out


def earlier_versions(services: "Services", result) -> list[dict]:
    """The other versions (other bytes) of this report — same agency, same year — registered before, newest
    first: their conclusion and comment, and what changed (cells; findings fixed or new) since each."""
    from review.agency import same_agency
    m = result.meta
    if not m.agency or not m.year:
        return []
    now = result.model_dump(mode="json")
    now_fails = {f["fingerprint"]: f for f in now["findings"] if f["status"] == "fail" and f["severity"] != "info"}
    now_cells = _cell_values(now)
    out = []
    for row in services.db.reports():
        if row.sha256 == result.sha256 or row.year != m.year or not row.agency or not same_agency(row.agency, m.agency):
            continue
        cur = services.db.current(row.sha256)
        old = result_of(services, row.sha256)
        item = {"sha256": row.sha256, "source": row.source, "registered_at": row.registered_at, "status": row.status,
                "report": cur["report"], "finding_decisions": len(cur["findings"]), "known": old is not None}
        if old is not None:
            old_fails = {f["fingerprint"]: f for f in old["findings"] if f["status"] == "fail" and f["severity"] != "info"}
            item["fixed"] = [old_fails[fp] for fp in old_fails if fp not in now_fails]
            item["new"] = [now_fails[fp] for fp in now_fails if fp not in old_fails]
            old_cells = _cell_values(old)
            item["cells"] = [(k, old_cells.get(k), now_cells.get(k)) for k in dict.fromkeys([*old_cells, *now_cells])
                             if old_cells.get(k) != now_cells.get(k)]
        out.append(item)
    return sorted(out, key=lambda v: v["registered_at"], reverse=True)


# ------------------------------------------------------------------------------------------- 历史年报

def import_history(services: "Services", paths: list[str], progress=None) -> list:
    """Index earlier reports into the store in the data folder; from then on the assistant (single view) and
    batches find the agency's earlier years there (unless --history folders were given at start)."""
    from review.store import Store
    store = Store(services.data_dir)  # created if missing
    outcomes = []
    try:
        for i, p in enumerate(paths, 1):
            outcomes += store.index_paths([p])
            if progress:
                progress(i, len(paths))
    finally:
        close = getattr(store, "close", None)
        if close:
            close()
    a = services.assistant
    if not isinstance(a.history, type(None)) and not isinstance(a.history, _ThreadStore):
        return outcomes  # --history folders were given: they stay the history
    if not isinstance(a.store, _ThreadStore):
        ts = _ThreadStore(services.data_dir)
        a.store, a.history = ts, ts
    services.history_note = f"历史库：{services.data_dir}"
    fill_dense_later(services.data_dir)
    return outcomes
