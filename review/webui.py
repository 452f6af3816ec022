"""The review UI: a Gradio app in Chinese over the Python API (review.llm.service.Assistant for the review,
explanations, chat and drafts; review.signoff.SignoffDB for every decision; review.users.Users for login).

    python ui.py [--host 127.0.0.1] [--port 7860] [--users FILE] [--db URL] [--data DIR] [--history DIR ...]
                 [--batch-root DIR ...]
    review ui ...                      (the same options)

A thin shell: it never decides a finding. It shows what the review found (tables with the cells failing
findings point at highlighted, the findings, their explanations), and records what the reviewer decides
(确认/驳回 a finding, 采用/不采用 a part 五 draft, 通过/退回修改 the report) in the sign-off database,
whose audit log the page shows. Everything the report says is HTML-escaped before it reaches the page.

The 批量审核 tab runs review.batch over uploaded files, zip archives or a server folder (only inside the data
folder, the fixtures folder or a --batch-root folder) into <data>/batches/<timestamp>/, registers the reports
in the same sign-off database, lists them as a queue (filters, sorting), opens one in the single view, records
通过/退回修改 singly or 批量通过 for the error-free ones (one decision each), and exports the summary and memos.

Without users the app serves the loopback address only and asks for a 审核人 name before any decision;
with users (--users FILE or $REVIEW_USERS_FILE, else <data>/users.json) it requires login and records the
logged-in name. Binding a non-loopback address with no users is refused (exit status 2).
"""
import os

# Gradio looks up analytics hosts at import and launch unless told not to: set before gradio is imported.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import argparse
import functools
import hashlib
import html
import multiprocessing
import re
import shutil
import sys
import tempfile
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable, Optional, Sequence

from review.api import SUPPORTED
from review.models import Finding, ReviewError, ReviewResult
from review.present import location

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
_SEV_ZH = {"error": "错误", "warning": "警告", "info": "提示"}
_SEV_ORDER = {"error": 0, "warning": 1, "info": 2}
_TABLE_TITLE = {"disclosure": "表二　主动公开政府信息情况", "applications": "表三　收到和处理政府信息公开申请情况",
                "appeals": "表四　政府信息公开行政复议、行政诉讼情况"}
_STATE_ZH = {"number": "数字", "blank": "空白", "na": "不适用", "unreadable": "无法识别", "inferred": "推得"}
FINDING_ACTIONS = {"确认": "confirm", "驳回": "dismiss"}
REPORT_ACTIONS = {"通过": "approve", "退回修改": "return"}
_ACTION_ZH = {("finding", "confirm"): "确认", ("finding", "dismiss"): "驳回", ("report", "approve"): "通过",
              ("report", "return"): "退回修改", ("draft", "approve"): "采用", ("draft", "reject"): "不采用"}
_KIND_ZH = {"finding": "审核发现", "report": "审核结论", "draft": "第五部分草稿"}
_STATUS_ZH = {"pending": "待审核", "approved": "已通过", "returned": "退回修改"}
FINDING_HEADERS = ["级别", "规则", "问题", "位置", "当前决定", "编号"]
NO_REPORT = "请先上传年报，或从示例年报中选择一篇。"

CSS = """
.gradio-container, .gradio-container * { font-family: "Source Sans Pro", "PingFang SC", "Microsoft YaHei",
  "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; }
.nb-status { font-size: 13px; color: #555; }
.nb-meta { font-size: 15px; line-height: 1.8; }
.nb-meta b { color: #333; }
.nb-badge { display: inline-block; padding: 0 8px; border-radius: 4px; font-weight: 600; }
.nb-badge.pending { background: #eef2ff; color: #3730a3; }
.nb-badge.approved { background: #dcfce7; color: #166534; }
.nb-badge.returned { background: #fee2e2; color: #991b1b; }
.nb-err { color: #b91c1c; font-weight: 600; } .nb-warn { color: #b45309; font-weight: 600; }
.nb-muted { color: #6b7280; }
table.nb-table { border-collapse: collapse; margin: 6px 0 14px 0; font-size: 13px; }
table.nb-table th, table.nb-table td { border: 1px solid #cbd5e1; padding: 3px 7px; text-align: center; }
table.nb-table th { background: #f1f5f9; font-weight: 600; }
table.nb-table td.pad { border-style: hidden; background: transparent; }
table.nb-table td.lbl { text-align: left; background: #f8fafc; max-width: 300px; }
table.nb-table tr.grp td.lbl { font-weight: 600; }
table.nb-table td.st-blank { background: #f3f4f6; color: #6b7280; font-style: italic; }
table.nb-table td.st-na { background: #f5f5f4; color: #57534e; font-style: italic; }
table.nb-table td.st-unreadable { background: #fff7ed; color: #c2410c; border: 2px dashed #f97316; }
table.nb-table td.st-inferred { background: #eff6ff; color: #1d4ed8; font-style: italic; }
table.nb-table td.st-missing { background: #fafafa; color: #9ca3af; font-style: italic; }
table.nb-table td.hl-warning { background: #fef3c7; box-shadow: inset 0 0 0 2px #f59e0b; }
table.nb-table td.hl-error { background: #fee2e2; color: #991b1b; font-weight: 700;
  box-shadow: inset 0 0 0 2px #dc2626; }
table.nb-table td.hl-selected { outline: 3px solid #2563eb; outline-offset: -3px; }
.nb-legend span { display: inline-block; margin-right: 10px; padding: 0 6px; border: 1px solid #cbd5e1;
  font-size: 12px; }
.nb-expl { font-size: 14px; line-height: 1.7; }
.nb-expl h4 { margin: 0 0 4px 0; }
mark.nb-unverified { background: #fde68a; color: #92400e; font-weight: 700; padding: 0 2px; }
.nb-note { font-size: 13px; color: #6b7280; border-left: 3px solid #cbd5e1; padding-left: 8px; margin-top: 6px; }
.nb-lines { max-height: 520px; overflow: auto; font-family: monospace; font-size: 13px; white-space: pre-wrap;
  border: 1px solid #e5e7eb; padding: 6px; }
.nb-lines .ln { color: #9ca3af; display: inline-block; width: 3.5em; text-align: right; margin-right: 8px;
  user-select: none; }
.nb-lines > div { padding-left: 4.3em; text-indent: -4.3em; }
.nb-lines .hit { background: #fee2e2; }
table.nb-log { border-collapse: collapse; font-size: 13px; width: 100%; }
table.nb-log th, table.nb-log td { border: 1px solid #e5e7eb; padding: 3px 6px; text-align: left; vertical-align: top; }
table.nb-log th { background: #f1f5f9; }
.nb-rep-bad { color: #b91c1c; font-weight: 700; } .nb-rep-ok { color: #166534; font-weight: 600; }
"""


class Refused(Exception):
    """Something the reviewer can put right (no report open, no name, a missing comment...): shown as a warning,
    and nothing on the page changes, so nothing typed is lost."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def esc(value: Any) -> str:
    """HTML-escape anything shown in the page (report text included)."""
    return html.escape("" if value is None else str(value), quote=True)


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
        store = _ThreadStore(data) if (data / "catalog.sqlite").exists() else None
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

    def status_line(self) -> str:
        return (f"<div class='nb-status'>{esc(self.assistant.status())}　｜　数据目录：{esc(self.data_dir)}"
                f"　｜　审核记录库：{esc(self.db_label())}　｜　{esc(self.history_note)}"
                f"　｜　{'已启用登录' if self.require_login else '单用户模式（仅本机访问）'}</div>")

    def reviewer_label(self, name: str, short: bool = False) -> str:
        """张三（zhangsan） for a user with a display name (short: 张三); the name as recorded otherwise."""
        if not self.require_login:
            return name
        try:
            shown = self.users.display(name)
        except ReviewError:
            return name
        return name if shown == name else (shown if short else f"{shown}（{name}）")


# ------------------------------------------------------------------------------------------- formatting

def severity_zh(f: Finding) -> str:
    return "无法判断" if f.status == "not_assessable" else _SEV_ZH[f.severity.value]


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Failing findings first (errors, warnings, info), then those that could not be assessed."""
    return sorted(findings, key=lambda f: (f.status != "fail", _SEV_ORDER[f.severity.value]))


def where(f: Finding) -> str:
    return location(f.table, f.cells, f.section, f.line) or "全文"


def rule_title(f: Finding) -> str:
    if f.title:
        return f.title
    from review.rules import REGISTRY
    rule = REGISTRY.get(f.rule)
    return rule.title if rule else f.rule


def decision_text(dec, services: Optional[Services] = None) -> str:
    if dec is None:
        return "未处理"
    who = services.reviewer_label(dec.reviewer, short=True) if services else dec.reviewer
    return f"{_ACTION_ZH.get((dec.kind, dec.action), dec.action)}（{who}）"


def finding_rows(result: ReviewResult, current: dict, services: Optional[Services] = None) -> list[list[str]]:
    decided = current.get("findings", {}) if current else {}
    return [[severity_zh(f), rule_title(f), f.message, where(f), decision_text(decided.get(f.fingerprint), services),
             f.fingerprint] for f in ordered(result.findings)]


def finding_choices(result: ReviewResult) -> list[tuple[str, str]]:
    out = []
    for f in ordered(result.findings):
        msg = f.message if len(f.message) <= 48 else f.message[:47] + "…"
        out.append((f"【{severity_zh(f)}】{where(f)}：{msg}", f.fingerprint))
    return out


def local_time(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return iso or ""


def meta_html(result: ReviewResult, status: str, name: str) -> str:
    m = result.meta
    badge = f"<span class='nb-badge {esc(status)}'>{esc(_STATUS_ZH.get(status, status))}</span>"
    fmt = f"{m.format}年格式" if m.format else "（未识别）"
    errors, warnings = len(result.errors), len(result.warnings)
    na = sum(1 for f in result.findings if f.status == "not_assessable")
    return (f"<div class='nb-meta'><b>文件：</b>{esc(name)}　<b>审核状态：</b>{badge}<br>"
            f"<b>机关：</b>{esc(m.agency or '（未写明）')}　<b>年度：</b>{esc(m.year or '（未知）')}"
            f"　<b>格式：</b>{esc(fmt)}　<b>发布日期：</b>{esc(m.published or '（未找到）')}<br>"
            f"<span class='nb-err'>错误 {errors} 项</span>　<span class='nb-warn'>警告 {warnings} 项</span>"
            f"　<span class='nb-muted'>无法判断 {na} 项　版本（sha256）：{esc(result.sha256[:16])}…</span></div>")


# --------------------------------------------------------------------- tables

def _template(fmt: Optional[str]):
    if not fmt:
        return None
    try:
        from review.templates import template
        return template(fmt)
    except Exception:
        return None


def _marks(result: ReviewResult, selected: Optional[str]) -> tuple[dict[str, list], dict[str, list[dict]]]:
    """Per table: (cell selector, severity) of failing error/warning findings; and the selected finding's cells."""
    marks: dict[str, list[tuple[dict, str]]] = {}
    chosen: dict[str, list[dict]] = {}
    for f in result.findings:
        if not f.table:
            continue
        if f.status == "fail" and f.severity.value in ("error", "warning"):
            marks.setdefault(f.table, []).extend((c, f.severity.value) for c in f.cells)
        if selected and f.fingerprint == selected:
            chosen.setdefault(f.table, []).extend(f.cells)
    return marks, chosen


def _matches(selector: dict, attrs: dict) -> bool:
    return bool(selector) and all(attrs.get(k) == v for k, v in selector.items())


def _cell_td(cell, attrs: dict, marks: list, chosen: list) -> str:
    classes = []
    if cell is None:
        classes.append("st-missing")
        text, tip = "—", "报告中没有这个单元格"
    else:
        state = cell.state.value
        classes.append(f"st-{state}")
        value = cell.value
        if isinstance(value, float) and value.is_integer() and state != "inferred":
            value = int(value) if abs(value) < 1e15 else value
        if state == "number":
            text = str(value)
        elif state == "inferred":
            text = f"{value}（推得）" if value is not None else "推得"
        else:
            text = _STATE_ZH[state]
        tip = f"状态：{_STATE_ZH[state]}"
        if cell.line:
            tip += f"；第 {cell.line} 行"
        if cell.raw not in (None, ""):
            tip += f"；原文：{cell.raw}"
        if cell.note:
            tip += f"；{cell.note}"
    _highlight(classes, attrs, marks, chosen)
    return f"<td class='{' '.join(classes)}' title='{esc(tip)}'>{esc(text)}</td>"


def _highlight(classes: list[str], attrs: dict, marks: list, chosen: list) -> None:
    """Add the classes for the findings that point at this cell: red for errors, yellow for warnings,
    an outline for the selected finding."""
    sev = {s for sel, s in marks if _matches(sel, attrs)}
    if "error" in sev:
        classes.append("hl-error")
    elif "warning" in sev:
        classes.append("hl-warning")
    if any(_matches(sel, attrs) for sel in chosen):
        classes.append("hl-selected")


def _label_td(text: str, attrs: dict, marks: list, chosen: list, extra: str = "") -> str:
    classes = ["lbl"]
    # a selector naming only the row (e.g. a missing row {"item": "规章"}) marks the row label too
    _highlight(classes, attrs, marks, chosen)
    return f"<td class='{' '.join(classes)}'>{esc(text)}{extra}</td>"


def _ordered_names(template_names: list[str], seen: Iterable[str]) -> list[str]:
    out = list(template_names)
    for n in seen:
        if n not in out:
            out.append(n)
    return out


def _disclosure_html(result: ReviewResult, tpl, marks: list, chosen: list) -> str:
    cells = result.tables.disclosure
    blocks: list[tuple[str, list[str], list[str]]] = []
    if tpl is not None:
        for b in tpl.disclosure.blocks:
            blocks.append((b.label, [c.name for c in b.columns], [i.name for i in b.items]))
    for c in cells:  # blocks the template does not know (should not happen) keep their cells visible
        if not any(c.block == b[0] for b in blocks):
            blocks.append((c.block, [], []))
    rows_html = []
    width = max((len(_ordered_names(cols, (c.column for c in cells if c.block == label))) for label, cols, _ in blocks),
                default=1)
    for label, columns, items in blocks:
        mine = [c for c in cells if c.block == label]
        columns = _ordered_names(columns, (c.column for c in mine))
        items = _ordered_names(items, (c.item for c in mine))
        # blocks have different columns: narrower ones are padded with borderless cells
        pad = f"<td class='pad' colspan='{width - len(columns)}'></td>" if width > len(columns) else ""
        rows_html.append(f"<tr><th colspan='{len(columns) + 1}'>{esc(label)}</th>{pad}</tr>")
        if not mine and not any(_matches(sel, {"item": i}) for i in items for sel, _ in marks):
            rows_html.append(f"<tr><td class='st-missing' colspan='{len(columns) + 1}'>（报告中没有这一部分）</td>{pad}</tr>")
            continue
        rows_html.append("<tr><th>信息内容</th>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + pad + "</tr>")
        for item in items:
            by_col = {c.column: c for c in mine if c.item == item}
            first = next(iter(by_col.values()), None)
            note = ""
            if first is None:
                note = "<span class='nb-muted'>（缺少此行）</span>"
            elif first.extra:
                note = "<span class='nb-muted'>（本地增加的行）</span>"
            elif first.label and first.label != item:
                note = f"<span class='nb-muted'>（报告写作“{esc(first.label)}”）</span>"
            tds = [_label_td(item, {"item": item}, marks, chosen, note)]
            for col in columns:
                tds.append(_cell_td(by_col.get(col), {"item": item, "column": col}, marks, chosen))
            rows_html.append("<tr>" + "".join(tds) + pad + "</tr>")
    return "<table class='nb-table' id='nb-table-disclosure'>" + "".join(rows_html) + "</table>"


def _applications_html(result: ReviewResult, tpl, marks: list, chosen: list) -> str:
    cells = result.tables.applications
    rows = [(r.code, r.label, r.group) for r in tpl.applications.rows] if tpl is not None else []
    for c in cells:
        if not any(c.row == r[0] for r in rows):
            rows.append((c.row, c.row, False))
    columns = _ordered_names([c.name for c in tpl.applications.columns] if tpl is not None else [],
                             (c.column for c in cells))
    head = "<tr><th>申请人情况</th>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>"
    body = []
    for code, label, group in rows:
        if group:
            body.append(f"<tr class='grp'><td class='lbl' colspan='{len(columns) + 1}'>{esc(label)}</td></tr>")
            continue
        by_col = {c.column: c for c in cells if c.row == code}
        tds = [_label_td(label, {"row": code}, marks, chosen)]
        tds += [_cell_td(by_col.get(col), {"row": code, "column": col}, marks, chosen) for col in columns]
        body.append("<tr>" + "".join(tds) + "</tr>")
    return "<table class='nb-table' id='nb-table-applications'>" + head + "".join(body) + "</table>"


def _appeals_html(result: ReviewResult, tpl, marks: list, chosen: list) -> str:
    cells = result.tables.appeals
    groups = _ordered_names([g.name for g in tpl.appeals.groups] if tpl is not None else [], (c.group for c in cells))
    columns = _ordered_names([c.name for c in tpl.appeals.columns] if tpl is not None else [],
                             (c.column for c in cells))
    head = "<tr><th>类别</th>" + "".join(f"<th>{esc(c)}</th>" for c in columns) + "</tr>"
    body = []
    for g in groups:
        by_col = {c.column: c for c in cells if c.group == g}
        label = g if g == "行政复议" else f"行政诉讼：{g}"
        tds = [_label_td(label, {"group": g}, marks, chosen)]
        tds += [_cell_td(by_col.get(col), {"group": g, "column": col}, marks, chosen) for col in columns]
        body.append("<tr>" + "".join(tds) + "</tr>")
    return "<table class='nb-table' id='nb-table-appeals'>" + head + "".join(body) + "</table>"


LEGEND = ("<div class='nb-legend'>图例：<span class='hl-error' style='background:#fee2e2'>错误涉及的单元格</span>"
          "<span style='background:#fef3c7'>警告涉及的单元格</span><span style='outline:2px solid #2563eb'>当前选中的发现</span>"
          "<span style='background:#f3f4f6;font-style:italic'>空白</span><span style='font-style:italic'>不适用</span>"
          "<span style='border:2px dashed #f97316'>无法识别</span><span style='color:#1d4ed8'>推得</span>"
          "（鼠标停在单元格上可看到原文和行号）</div>")


def tables_html(result: ReviewResult, selected: Optional[str] = None) -> str:
    """表二、表三、表四 as HTML tables, the cells of failing findings highlighted, cell states visible."""
    tpl = _template(result.meta.format)
    t = result.tables
    if not (t.disclosure or t.applications or t.appeals):
        return "<p class='nb-muted'>未识别到年报格式规定的统计表格（见审核发现）。</p>"
    marks, chosen = _marks(result, selected)
    parts = [LEGEND]
    for key, fn in (("disclosure", _disclosure_html), ("applications", _applications_html), ("appeals", _appeals_html)):
        parts.append(f"<h4 id='nb-h-{key}'>{esc(_TABLE_TITLE[key])}</h4>")
        if not getattr(t, key):
            parts.append("<p class='nb-muted'>（报告中未识别到此表）</p>")
            continue
        parts.append(fn(result, tpl, marks.get(key, []), chosen.get(key, [])))
    return "<div class='nb-tables'>" + "".join(parts) + "</div>"


def lines_html(lines: list[str], result: ReviewResult) -> str:
    """The report's text, numbered, escaped; lines failing findings point at are highlighted."""
    hits = set()
    for f in result.findings:
        if f.status == "fail":
            hits.add(f.line)
            hits.update(e.line for e in f.evidence)
    rows = []
    for n, line in enumerate(lines, 1):
        cls = " class='hit'" if n in hits else ""
        rows.append(f"<div{cls}><span class='ln'>{n}</span>{esc(line)}</div>")
    heads = "　".join(f"{esc(s.heading or s.title)}（第 {s.line} 行）" for s in result.sections)
    return (f"<p class='nb-muted'>识别到的部分：{heads or '（无）'}</p>"
            f"<div class='nb-lines' id='nb-lines'>{''.join(rows)}</div>")


# --------------------------------------------------------------------- LLM answers

def marked(text: str, unsupported) -> str:
    """Escaped text with each unsupported number marked 123【未核实】 (highlighted)."""
    from review.llm.grounding import Grounding, mark
    out = esc(mark(text, Grounding(unsupported=list(unsupported)))) if unsupported else esc(text)
    return re.sub(r"([-−]?[\d][\d,.]*%?)【未核实】", r"<mark class='nb-unverified'>\1【未核实】</mark>", out)


def _unique(xs: Iterable) -> list:
    return list(dict.fromkeys(xs))


def _unsupported_note(unsupported) -> str:
    if not unsupported:
        return ""
    items = "；".join(_unique(f"{esc(u.text)}（{esc(u.sentence[:40])}）" for u in unsupported))
    return (f"<div class='nb-note' style='border-color:#f59e0b;color:#92400e'>以下数字在报告和审核结果中找不到依据，"
            f"已标注【未核实】，请勿直接采用：{items}</div>")


def explanation_html(finding: Finding, expl) -> str:
    from review.rules import REGISTRY
    rule = REGISTRY.get(finding.rule)
    un = expl.unsupported_numbers
    cells = "".join(f"<tr><td>{esc(c.ref)}</td><td>{esc(c.value if c.value is not None else '（无数值）')}</td>"
                    f"<td>{esc(_STATE_ZH.get(c.state or '', c.state or ''))}</td>"
                    f"<td>{esc(f'第 {c.line} 行' if c.line else '')}</td></tr>" for c in expl.cells)
    cells_html = (f"<table class='nb-log'><tr><th>单元格</th><th>数值</th><th>状态</th><th>位置</th></tr>{cells}</table>"
                  if cells else "")
    causes = "".join(f"<li>{marked(c, un)}</li>" for c in expl.causes)
    fixes = "".join(f"<li>{marked(c, un)}</li>" for c in expl.corrections)
    if expl.mode == "llm":
        note = f"由大模型 {esc(expl.model or '')} 撰写；其中的数字已与报告逐一核对"
        note += f"；{esc(expl.note)}" if expl.note else ""
    else:
        note = "离线解释：" + esc(expl.note or "未使用大模型，由规则模板和报告中的数值生成")
    basis = f"<div class='nb-muted'>依据：{esc(rule.basis)}</div>" if rule and rule.basis else ""
    return (f"<div class='nb-expl' id='nb-expl'><h4>【{esc(severity_zh(finding))}】{esc(rule_title(finding))}"
            f" <span class='nb-muted'>（{esc(finding.rule)}，编号 {esc(finding.fingerprint)}）</span></h4>{basis}"
            f"<p>{esc(finding.message)}</p>"
            + (f"<p><b>说明：</b>{marked(expl.summary, un)}</p>"
               if expl.summary.strip() != finding.message.strip() else "")
            + cells_html
            + (f"<b>可能原因</b><ul>{causes}</ul>" if causes else "")
            + (f"<b>更正建议</b><ul>{fixes}</ul>" if fixes else "")
            + _unsupported_note(un) + f"<div class='nb-note'>{note}</div></div>")


def draft_sources_html(draft) -> str:
    out = []
    for title, items in (("（一）存在的主要问题", draft.problems), ("（二）改进情况", draft.measures),
                         ("（三）下一年度工作计划", draft.plan)):
        lis = []
        for i, it in enumerate(items, 1):
            src = "；".join(s.label() for s in it.sources) or "无（模板文字）"
            lis.append(f"<li>{marked(it.text, draft.unsupported_numbers)}<br><span class='nb-muted'>依据：{esc(src)}"
                       f"</span></li>")
        out.append(f"<b>{esc(title)}</b><ol>{''.join(lis)}</ol>")
    if draft.mode == "llm":
        how = f"由大模型 {esc(draft.model or '')} 撰写" + (f"；{esc(draft.note)}" if draft.note else "")
    else:
        how = "离线草稿：" + esc(draft.note or "未使用大模型，由审核发现和往年材料拼成，请审核人员修改")
    note = f"<div class='nb-note'>{how}</div>"
    return ("<div class='nb-expl' id='nb-draft-sources'>" + "".join(out) + _unsupported_note(draft.unsupported_numbers)
            + note + "</div>")


def repetition_html(draft) -> str:
    if draft.repetition is None:
        return ("<div id='nb-repetition' class='nb-muted'>没有本机关往年的年报，未做重复检查"
                "（可用 review index 建历史库，或用 --history 指定往年年报文件夹）。</div>")
    pct = f"{draft.repetition:.0%}"
    if draft.repetition_warning:
        sents = "".join(f"<li>{esc(s)}</li>" for s in draft.repeated_sentences[:8])
        return (f"<div id='nb-repetition' class='nb-rep-bad'>与{esc(draft.repetition_year)}年第五部分重复 {pct}，"
                f"超过 50%，请改写。</div>" + (f"<ul class='nb-muted'>{sents}</ul>" if sents else ""))
    return f"<div id='nb-repetition' class='nb-rep-ok'>与{esc(draft.repetition_year)}年第五部分重复 {pct}</div>"


def chat_note_html(answer) -> str:
    if answer is None:
        return ""
    parts = []
    if answer.mode == "offline":
        parts.append("【离线模式】" + esc(answer.note or "未使用大模型，根据审核发现和表格数值回答"))
    else:
        parts.append(f"由大模型 {esc(answer.model or '')} 回答" + (f"；{esc(answer.note)}" if answer.note else ""))
    if answer.citations:
        parts.append("引用：" + "、".join(esc(c) for c in _unique(answer.citations)))
    if answer.stripped_citations:
        parts.append("已删除没有依据的引用：" + "、".join(esc(c) for c in _unique(answer.stripped_citations)))
    note = f"<div class='nb-note' id='nb-chat-note'>{'；'.join(parts)}</div>"
    return note + _unsupported_note(answer.unsupported_numbers)


# --------------------------------------------------------------------- sign-off record

def current_html(current: dict, result: ReviewResult, services: Optional[Services] = None) -> str:
    rep, dr = current.get("report"), current.get("draft")
    findings = current.get("findings", {})
    by_fp = {f.fingerprint: f for f in result.findings}
    rows = []
    if rep:
        rows.append(f"<li><b>审核结论：</b>{esc(decision_text(rep, services))}，{esc(local_time(rep.at))}"
                    f"{('，意见：' + esc(rep.comment)) if rep.comment else ''}</li>")
    else:
        rows.append("<li><b>审核结论：</b>待审核</li>")
    if dr:
        rows.append(f"<li><b>第五部分草稿：</b>{esc(decision_text(dr, services))}，{esc(local_time(dr.at))}</li>")
    decided = [f for f in ordered(result.findings) if f.fingerprint in findings]
    if decided:
        items = []
        for f in decided:
            dec = findings[f.fingerprint]
            why = f"　意见：{esc(dec.comment)}" if dec.comment else ""
            items.append(f"<li>{esc(decision_text(dec, services))}：{esc(where(f))} {esc(f.message[:40])}"
                         f"{'…' if len(f.message) > 40 else ''}{why}</li>")
        items = "".join(items)
        rows.append(f"<li><b>审核发现：</b>已处理 {len(decided)} / {len(result.findings)} 条<ul>{items}</ul></li>")
    else:
        rows.append(f"<li><b>审核发现：</b>已处理 0 / {len(result.findings)} 条</li>")
    orphans = [fp for fp in findings if fp not in by_fp]
    if orphans:
        rows.append(f"<li class='nb-muted'>另有 {len(orphans)} 条决定针对的审核发现本次未再出现（规则已更新）</li>")
    return "<ul id='nb-current'>" + "".join(rows) + "</ul>"


def audit_html(decisions: list, result: ReviewResult, services: Optional[Services] = None) -> str:
    if not decisions:
        return "<p class='nb-muted' id='nb-audit'>本报告（此版本）还没有审核记录。</p>"
    by_fp = {f.fingerprint: f for f in result.findings}
    rows = []
    for d in decisions:
        what = ""
        if d.fingerprint:
            f = by_fp.get(d.fingerprint)
            what = f"{d.fingerprint}" + (f"（{where(f)}）" if f else "")
        who = services.reviewer_label(d.reviewer) if services else d.reviewer
        action = _ACTION_ZH.get((d.kind, d.action), d.action)
        rows.append(f"<tr><td>{esc(local_time(d.at))}</td><td>{esc(who)}</td>"
                    f"<td>{esc(_KIND_ZH.get(d.kind, d.kind))}</td><td>{esc(action)}</td><td>{esc(what)}</td>"
                    f"<td>{esc(d.comment)}</td></tr>")
    return ("<table class='nb-log' id='nb-audit'><tr><th>时间</th><th>审核人</th><th>对象</th><th>决定</th>"
            "<th>审核发现编号</th><th>意见</th></tr>" + "".join(reversed(rows)) + "</table>"
            "<p class='nb-muted'>最新的记录在最上面；记录只增不改。</p>")


# ------------------------------------------------------------------------------------------- batch review

QUEUE_HEADERS = ["状态", "机关", "年度", "格式", "错误", "警告", "文件", "编号"]
BATCH_SUFFIXES = (*SUPPORTED, ".zip")
SCOPES = ("只看本批", "全部")
STATUS_FILTERS = {"全部": None, "待审核": "pending", "已通过": "approved", "退回修改": "returned"}
SORTS = {  # the queue's orders; each ends on the registration time so that ties keep the input order
    "登记时间": lambda r: (r.registered_at, r.sha256),
    "错误多的在前": lambda r: (-r.errors, -r.warnings, r.registered_at),
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


def queue_table(rows: list) -> list[list]:
    return [[_STATUS_ZH.get(r.status, r.status), r.agency or "（未写明）", r.year or "",
             f"{r.format}年格式" if r.format else "", r.errors, r.warnings, short_source(r.source), r.sha256[:12]]
            for r in rows]


def report_label(r) -> str:
    return f"{r.agency or '（机关未写明）'} {r.year or ''}年度 — {short_source(r.source)}（{r.sha256[:8]}）"


def queue_info(rows: list, batch: Optional[Path], items: list) -> str:
    counts = {s: sum(r.status == s for r in rows) for s in _STATUS_ZH}
    if batch is None:
        where_ = "尚未选择批次"
    else:
        shas = {it.sha256 for it in items if it.sha256}
        where_ = f"批次 {esc(batch.name)}：{len(items)} 个文件（{len(shas)} 篇不同的年报）"
    return (f"<div class='nb-meta' id='nb-q-info'>{where_}。<b>列表中 {len(rows)} 篇</b>："
            + "，".join(f"{_STATUS_ZH[s]} {n}" for s, n in counts.items())
            + f"；其中无错误 {sum(r.errors == 0 for r in rows)} 篇。</div>")


def selected_html(row, current: Optional[dict], services: Optional[Services] = None) -> str:
    if row is None:
        return "<p class='nb-muted' id='nb-q-selected'>在上表中点击一行，或在下拉框中选择一篇年报。</p>"
    rep = (current or {}).get("report")
    last = (f"<br>最近的审核结论：{esc(decision_text(rep, services))}，{esc(local_time(rep.at))}"
            f"{('，意见：' + esc(rep.comment)) if rep.comment else ''}") if rep else ""
    return (f"<div class='nb-meta' id='nb-q-selected'><b>已选：</b>{esc(row.agency or '（机关未写明）')}"
            f" {esc(row.year or '')}年度　<span class='nb-badge {esc(row.status)}'>{esc(_STATUS_ZH[row.status])}"
            f"</span>　<span class='nb-err'>错误 {row.errors} 项</span>　<span class='nb-warn'>警告 {row.warnings} 项"
            f"</span><br><span class='nb-muted'>文件：{esc(short_source(row.source))}　编号：{esc(row.sha256[:16])}…"
            f"</span>{last}</div>")


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
    memos = dest / f"memos-{folder.name}.zip"
    with zipfile.ZipFile(memos, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in written:
            if p.parent.name == "memos":
                zf.write(p, f"memos/{p.name}")
    out.append(str(memos))
    return out


# ------------------------------------------------------------------------------------------- the 批量审核 tab

def batch_layout(gr, services: Services) -> SimpleNamespace:
    """The 批量审核 tab's components (built inside its gr.Tab)."""
    roots = "；".join(str(r) for r in services.allowed_roots())
    choices = batch_choices(services.data_dir)
    ui = SimpleNamespace()
    gr.HTML("<p class='nb-muted'>一次审核多篇年报：上传多个文件或 zip 压缩包，或填写服务器上的文件夹。审核结果登记到与"
            "单篇审核相同的审核记录库，每一项审核结论都记入同一审核记录。</p>")
    with gr.Row(equal_height=False):
        ui.files = gr.File(label="上传多篇年报或 zip 压缩包（txt、md、html、htm、pdf、docx、zip）", file_count="multiple",
                           file_types=list(BATCH_SUFFIXES), type="filepath", elem_id="nb-batch-files", scale=3,
                           height=140)
        with gr.Column(scale=2):
            ui.folder = gr.Textbox(label="或填写服务器上的文件夹（完整路径）", max_lines=1, elem_id="nb-batch-folder",
                                   placeholder=str(services.data_dir), info=f"只能是以下文件夹之内：{roots}")
            ui.run = gr.Button("开始批量审核", variant="primary", elem_id="nb-batch-run")
    ui.result = gr.HTML("", elem_id="nb-batch-result")
    with gr.Row(equal_height=True):
        ui.batch = gr.Dropdown(label="批次（导出以本批次为准）", choices=choices, value=choices[0][1] if choices else None,
                               elem_id="nb-batch-pick", scale=3, interactive=True)
        ui.scope = gr.Radio(list(SCOPES), value=SCOPES[0], label="范围", elem_id="nb-q-scope", scale=2)
        ui.refresh = gr.Button("刷新队列", elem_id="nb-q-refresh", scale=1)
    with gr.Row(equal_height=True):
        ui.status = gr.Dropdown(list(STATUS_FILTERS), value="全部", label="状态", elem_id="nb-q-status", scale=1)
        ui.noerr = gr.Checkbox(label="只看无错误", value=False, elem_id="nb-q-noerr", scale=1)
        ui.text = gr.Textbox(label="按机关或文件名筛选", max_lines=1, elem_id="nb-q-text", scale=2)
        ui.sort = gr.Dropdown(list(SORTS), value="登记时间", label="排序", elem_id="nb-q-sort", scale=1)
    ui.info = gr.HTML("", elem_id="nb-q-info-box")
    ui.table = gr.Dataframe(value=[], headers=QUEUE_HEADERS, datatype=["str"] * 4 + ["number"] * 2 + ["str"] * 2,
                            interactive=False, wrap=True, label="审核队列（点击一行选中）", elem_id="nb-queue",
                            max_height=480)
    ui.rows = gr.State([])  # the full sha256 of the rows shown, in order
    ui.bulk = gr.State(None)  # the sha256 a 批量通过 is waiting to be confirmed for
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            ui.pick = gr.Dropdown(label="选中的年报", choices=[], value=None, elem_id="nb-q-pick", interactive=True)
            ui.selected = gr.HTML(selected_html(None, None), elem_id="nb-q-selected-box")
            ui.open = gr.Button("打开审核（在“单篇审核”中查看审核发现）", elem_id="nb-q-open")
        with gr.Column(scale=3):
            ui.action = gr.Radio(list(REPORT_ACTIONS), value="通过", label="审核结论", elem_id="nb-q-action")
            ui.comment = gr.Textbox(label="意见（退回修改时必填；批量通过时记入每一篇）", lines=2, elem_id="nb-q-comment")
            with gr.Row():
                ui.save = gr.Button("提交审核结论（选中的一篇）", variant="primary", elem_id="nb-q-save")
                ui.bulk_ask = gr.Button("批量通过当前列表中无错误的年报…", elem_id="nb-q-bulk")
            with gr.Group(visible=False, elem_id="nb-q-confirm") as ui.confirm:
                ui.confirm_text = gr.HTML("")
                with gr.Row():
                    ui.yes = gr.Button("确认批量通过", variant="stop", elem_id="nb-q-yes")
                    ui.no = gr.Button("取消", elem_id="nb-q-no")
    with gr.Row(equal_height=False):
        ui.export = gr.Button("导出本批次的汇总表和审核意见书", elem_id="nb-q-export", scale=1)
        ui.downloads = gr.File(label="下载：汇总表（XLSX、CSV）、审核意见书（Markdown 和 DOCX，zip）", file_count="multiple",
                               interactive=False, elem_id="nb-q-files", scale=3, height=150)
    return ui


def wire_batch(gr, services: Services, ui: SimpleNamespace, app: SimpleNamespace) -> None:
    """The 批量审核 tab's handlers. `app` carries what the single view shares: guarded, warn, reviewer_of,
    record, review_bytes, refreshed, opened_outputs, single_outputs, state, reviewer, tabs, tab, demo."""
    from review import batch
    db, data = services.db, services.data_dir
    guarded = app.guarded
    qin = [ui.batch, ui.pick, ui.scope, ui.status, ui.noerr, ui.text, ui.sort]
    qout = [ui.table, ui.rows, ui.pick, ui.info, ui.selected, ui.confirm, ui.bulk]

    def shown(name, view: QueueView) -> tuple[list, Optional[Path], list]:
        folder = batch_folder(data, name)
        items = batch_items(folder)
        return queue_rows(db.reports(), view, {it.sha256 for it in items if it.sha256}), folder, items

    def queue_out(name, pick, view: QueueView) -> dict:
        rows, folder, items = shown(name, view)
        row = next((r for r in rows if r.sha256 == pick), None)
        return {ui.table: queue_table(rows), ui.rows: [r.sha256 for r in rows],
                ui.pick: gr.update(choices=[(report_label(r), r.sha256) for r in rows], value=row and row.sha256),
                ui.info: queue_info(rows, folder, items),
                ui.selected: selected_html(row, db.current(row.sha256) if row else None, services),
                ui.confirm: gr.update(visible=False), ui.bulk: None}

    def single_view(st, shas) -> dict:
        """The single view's record, when the report open there was just decided from the queue."""
        return app.refreshed(st) if st and st["rv"].result.sha256 in shas else {}

    def on_queue(name, pick, scope, status, noerr, text, sort):
        return queue_out(name, pick, QueueView(scope, status, noerr, text, sort))

    for trigger in (ui.batch.change, ui.scope.change, ui.status.change, ui.noerr.change, ui.sort.change,
                    ui.refresh.click, app.tab.select):
        trigger(on_queue, inputs=qin, outputs=qout)
    ui.text.change(on_queue, inputs=qin, outputs=qout, trigger_mode="always_last")

    def on_load(pick, scope, status, noerr, text, sort):
        choices = batch_choices(data)
        name = choices[0][1] if choices else None
        view = QueueView(scope, status, noerr, text, sort)
        return {ui.batch: gr.update(choices=choices, value=name), **queue_out(name, pick, view)}

    app.demo.load(on_load, inputs=qin[1:], outputs=[ui.batch, *qout])

    @guarded
    def on_run(files, folder_text, scope, status, noerr, text, sort, progress=gr.Progress()):
        folder = batch_folder_input(folder_text, services.allowed_roots())
        if not files and folder is None:
            raise Refused("请先上传年报文件或 zip 压缩包，或填写服务器上的文件夹路径，再开始批量审核。")
        out = new_batch(data)
        progress(0, desc="正在读取输入…")
        try:
            inputs = stage_uploads(files, out / "uploads") + ([folder] if folder else [])
            rep = batch.run(inputs, out, progress=lambda done, total, _row: progress(
                (done, total), desc=f"正在审核：已完成 {done} / {total} 篇", unit="篇"), db=db)
        except (batch.BatchInputError, Refused) as e:  # a hostile zip, a wrong file type: as if nothing happened
            shutil.rmtree(out, ignore_errors=True)
            raise Refused(e.zh if isinstance(e, ReviewError) else e.message) from None
        except ReviewError as e:
            raise Refused(f"批量审核未完成：{e.zh}（已完成的结果保存在 {out}，可重新运行）") from None
        except OSError as e:  # a file that cannot be copied or read, a full disk
            shutil.rmtree(out, ignore_errors=True)
            raise Refused(f"批量审核未完成：文件无法读取或写入（{e}），请检查后重试。") from None
        if not rep.items:
            shutil.rmtree(out, ignore_errors=True)
            raise Refused("没有找到可审核的文件（txt、md、html、htm、pdf、docx，或其中含有这些文件的 zip）。")
        gr.Info(f"批量审核完成：{len(rep.items)} 个文件，用时 {rep.seconds:.0f} 秒。", title="完成")
        view = QueueView(SCOPES[0], status, noerr, text, sort)
        return {ui.files: None, ui.scope: SCOPES[0],
                ui.batch: gr.update(choices=batch_choices(data), value=out.name),
                ui.result: (f"<div class='nb-meta' id='nb-batch-done'>批次 {esc(out.name)} 完成：{len(rep.items)} 个文件，"
                            f"审核 {rep.reviewed} 篇，其中无法读取 {rep.failed} 个（见导出的汇总表）；"
                            f"用时 {rep.seconds:.1f} 秒。</div>"),
                **queue_out(out.name, None, view)}

    ui.run.click(on_run, inputs=[ui.files, ui.folder, *qin[2:]],
                 outputs=[ui.files, ui.scope, ui.batch, ui.result, *qout])

    def on_row(rows, evt: gr.SelectData):
        row = evt.row_value
        short = row[-1] if row and len(row) == len(QUEUE_HEADERS) else None
        if short is None and isinstance(evt.index, (list, tuple)) and 0 <= evt.index[0] < len(rows or []):
            return rows[evt.index[0]]
        return next((s for s in rows or [] if short and s.startswith(str(short))), gr.skip())

    ui.table.select(on_row, inputs=[ui.rows], outputs=[ui.pick])

    def on_pick(pick):
        row = next((r for r in db.reports() if r.sha256 == pick), None) if pick else None
        return selected_html(row, db.current(pick) if row else None, services)

    ui.pick.change(on_pick, inputs=[ui.pick], outputs=[ui.selected])

    @guarded
    def on_open(pick, name, progress=gr.Progress()):
        if not pick:
            raise Refused("请先在审核队列中选中一篇年报。")
        content, source = report_bytes(services, pick, name)
        out = app.review_bytes(content, source, progress)
        out[app.tabs] = gr.Tabs(selected="review")
        return out

    ui.open.click(on_open, inputs=[ui.pick, ui.batch], outputs=[*app.opened_outputs, app.tabs])

    @guarded
    def on_save(action, comment, who_name, st, name, pick, scope, status, noerr, text, sort, request: gr.Request):
        row = next((r for r in db.reports() if r.sha256 == pick), None) if pick else None
        if row is None:
            raise Refused("请先在审核队列中选中一篇年报。")
        who = app.reviewer_of(who_name, request)
        if action not in REPORT_ACTIONS:
            raise Refused("请选择“通过”或“退回修改”。")
        dec = app.record(reviewer=who, report_sha256=row.sha256, source=row.source, kind="report",
                         action=REPORT_ACTIONS[action], comment=comment or "")
        gr.Info(f"已保存审核结论：{action}（{row.agency or short_source(row.source)}，审核人 {who}，记录号 {dec.id}）",
                title="已保存")
        view = QueueView(scope, status, noerr, text, sort)
        return {**queue_out(name, pick, view), ui.comment: "", **single_view(st, {row.sha256})}

    ui.save.click(on_save, inputs=[ui.action, ui.comment, app.reviewer, app.state, *qin],
                  outputs=[*qout, ui.comment, *app.single_outputs])

    @guarded
    def on_bulk_ask(who_name, name, pick, scope, status, noerr, text, sort, request: gr.Request):
        app.reviewer_of(who_name, request)  # the name is asked for before anything is proposed
        rows, _, _ = shown(name, QueueView(scope, status, noerr, text, sort))
        ok = [r for r in rows if r.errors == 0 and r.status == "pending"]
        if not ok:
            raise Refused("当前列表中没有“待审核”且无错误的年报，无需批量通过。")
        with_errors = sum(r.errors > 0 for r in rows)
        decided = sum(r.errors == 0 and r.status != "pending" for r in rows)
        text = (f"<div class='nb-meta' id='nb-q-confirm-text'>将把当前列表中 <b>{len(ok)} 篇</b>无错误、待审核的年报"
                f"逐篇记录为“已通过”（每篇一条审核记录，意见相同）。列表中有错误的 {with_errors} 篇不会被批量通过；"
                f"已有审核结论的 {decided} 篇不再重复记录。请确认。</div>")
        return {ui.confirm: gr.update(visible=True), ui.confirm_text: text, ui.bulk: [r.sha256 for r in ok],
                ui.yes: gr.update(value=f"确认批量通过（{len(ok)} 篇）")}

    ui.bulk_ask.click(on_bulk_ask, inputs=[app.reviewer, *qin], outputs=[ui.confirm, ui.confirm_text, ui.bulk, ui.yes])

    @guarded
    def on_bulk_yes(shas, comment, who_name, st, name, pick, scope, status, noerr, text, sort, request: gr.Request):
        if not shas:
            raise Refused("请先点击“批量通过当前列表中无错误的年报…”。")
        who = app.reviewer_of(who_name, request)
        by_sha = {r.sha256: r for r in db.reports()}
        todo = [by_sha[s] for s in shas if s in by_sha and by_sha[s].errors == 0 and by_sha[s].status == "pending"]
        done = []
        for r in todo:  # each report gets its own decision in the audit log
            try:
                app.record(reviewer=who, report_sha256=r.sha256, source=r.source, kind="report", action="approve",
                           comment=comment or "")
            except Refused as e:
                app.warn(f"批量通过在记录第 {len(done) + 1} 篇时中断（已记录 {len(done)} 篇）：{e.message}")
                break
            done.append(r.sha256)
        if done:
            gap = f"；{len(shas) - len(todo)} 篇在确认前已有结论或已不符合条件，未记录" if len(todo) < len(shas) else ""
            gr.Info(f"已批量通过 {len(done)} 篇无错误的年报（审核人 {who}）{gap}。", title="已保存")
        view = QueueView(scope, status, noerr, text, sort)
        return {**queue_out(name, pick, view), ui.comment: "", **single_view(st, set(done))}

    ui.yes.click(on_bulk_yes, inputs=[ui.bulk, ui.comment, app.reviewer, app.state, *qin],
                 outputs=[*qout, ui.comment, *app.single_outputs])
    ui.no.click(lambda: (gr.update(visible=False), None), inputs=None, outputs=[ui.confirm, ui.bulk])

    @guarded
    def on_export(name, progress=gr.Progress()):
        folder = batch_folder(data, name)
        if folder is None:
            raise Refused("请先选择一个批次（或先运行批量审核），再导出。")
        progress(0.1, desc="正在导出汇总表和审核意见书…")
        try:
            files = export_files(folder, db)
        except (ReviewError, OSError) as e:
            raise Refused(f"导出失败：{getattr(e, 'zh', e)}") from None
        gr.Info(f"已导出批次 {folder.name} 的汇总表和审核意见书，请在下方下载。", title="已导出")
        return files

    ui.export.click(on_export, inputs=[ui.batch], outputs=[ui.downloads])


# ------------------------------------------------------------------------------------------- the app

def build_app(services: Services):
    """The Gradio Blocks of the review page (not launched)."""
    import gradio as gr

    a, db = services.assistant, services.db

    def warn(message: str) -> None:
        gr.Warning(message, duration=20)

    def guarded(fn):
        """Run a handler; when it is refused, say why and change nothing on the page."""
        @functools.wraps(fn)
        def run(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Refused as e:
                warn(e.message)
                return gr.skip()
        return run

    def need_report(state) -> dict:
        if not state:
            raise Refused(NO_REPORT)
        return state

    def reviewer_of(name: str, request: gr.Request) -> str:
        if services.require_login:
            user = getattr(request, "username", None) if request is not None else None
            if not user:
                raise Refused("未登录：请刷新页面重新登录后再保存决定。")
            return user
        name = (name or "").strip()
        if not name:
            raise Refused("请先在页面上方“审核人”一栏填写您的姓名，再保存决定。")
        return name

    def record(**kw):
        try:
            return db.record(**kw)
        except ReviewError as e:
            raise Refused(f"未保存：{e.zh}") from None

    with gr.Blocks(title="年报审核") as demo:
        state = gr.State(None)  # {"rv": Reviewed, "name": str}
        chat_state = gr.State(None)  # {"sha256": str, "history": [...]}: the LLM-side conversation

        gr.HTML("<h2 style='margin:4px 0'>政府信息公开工作年度报告审核</h2>")
        gr.HTML(services.status_line(), elem_id="nb-status")
        with gr.Row(equal_height=False):
            upload = gr.File(label="上传年报（txt、md、html、htm、pdf、docx）", file_types=list(SUPPORTED),
                             type="filepath", elem_id="nb-upload", scale=3, height=120)
            with gr.Column(scale=2):
                fixture = gr.Dropdown(label="或打开示例年报（fixtures 文件夹）", elem_id="nb-fixture",
                                      choices=[p.name for p in services.fixtures], value=None,
                                      visible=bool(services.fixtures), interactive=True)
                if services.require_login:
                    who = gr.HTML("", elem_id="nb-who")
                    reviewer = gr.Textbox(visible=False)
                else:
                    who = None
                    reviewer = gr.Textbox(label="审核人（必填，保存决定时记录）", placeholder="请填写您的姓名",
                                          elem_id="nb-reviewer", max_lines=1)
        meta = gr.HTML(f"<p class='nb-muted'>{NO_REPORT}</p>", elem_id="nb-meta")

        with gr.Tabs(elem_id="nb-tabs") as tabs:
            with gr.Tab("单篇审核", id="review", elem_id="nb-tab-review"):
                findings = gr.Dataframe(value=[], headers=FINDING_HEADERS, datatype="str", interactive=False,
                                        wrap=True, label="审核发现（点击一行查看解释；错误在前）", elem_id="nb-findings",
                                        column_widths=["7%", "20%", "43%", "14%", "9%", "7%"], max_height=640)
                chosen = gr.Dropdown(label="选中的审核发现", choices=[], value=None, elem_id="nb-chosen",
                                     interactive=True)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        explanation = gr.HTML("<p class='nb-muted'>在上表中点击一条审核发现，这里显示它的解释。</p>",
                                              elem_id="nb-explanation")
                    with gr.Column(scale=2):
                        gr.HTML("<b>对选中的审核发现作出决定</b>")
                        f_current = gr.HTML("", elem_id="nb-finding-current")
                        f_action = gr.Radio(list(FINDING_ACTIONS), value="确认", label="决定",
                                            elem_id="nb-finding-action")
                        f_comment = gr.Textbox(label="意见（驳回时必填）", lines=2, elem_id="nb-finding-comment")
                        f_save = gr.Button("保存此条决定", variant="primary", elem_id="nb-finding-save")
                with gr.Accordion("统计表格（表二、表三、表四）", open=True):
                    tables = gr.HTML("", elem_id="nb-tables")
                with gr.Accordion("年报原文（带行号）", open=False, elem_id="nb-lines-acc"):
                    lines = gr.HTML("", elem_id="nb-lines-box")

            with gr.Tab("对话", id="chat", elem_id="nb-tab-chat"):
                chatbot = gr.Chatbot(label="就本篇年报提问", height=420, elem_id="nb-chatbot", render_markdown=True,
                                     sanitize_html=True, feedback_options=None, buttons=["copy", "copy_all"],
                                     placeholder="例如：为什么自然人列不平？表三哪些数字需要核实？")
                with gr.Row():
                    question = gr.Textbox(show_label=False, placeholder="输入问题，回车发送", scale=5,
                                          elem_id="nb-question", max_lines=3)
                    ask = gr.Button("发送", variant="primary", scale=1, elem_id="nb-ask")
                    clear = gr.Button("清空对话", scale=1, elem_id="nb-clear")
                chat_note = gr.HTML("", elem_id="nb-chat-note-box")

            with gr.Tab("第五部分草稿", id="draft", elem_id="nb-tab-draft"):
                gr.HTML("<p class='nb-muted'>根据审核发现和往年材料起草年报第五部分（存在的主要问题及改进情况），"
                        "请审核人员修改后决定是否采用。</p>")
                make_draft = gr.Button("生成第五部分草稿", elem_id="nb-make-draft")
                draft_prev = gr.HTML("", elem_id="nb-draft-prev")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        draft_text = gr.Textbox(label="草稿（可直接修改）", lines=16, elem_id="nb-draft-text",
                                                interactive=True)
                        draft_rep = gr.HTML("", elem_id="nb-draft-rep")
                    with gr.Column(scale=2):
                        draft_src = gr.HTML("", elem_id="nb-draft-src")
                d_comment = gr.Textbox(label="意见（可选）", lines=1, elem_id="nb-draft-comment")
                with gr.Row():
                    d_accept = gr.Button("采用", variant="primary", elem_id="nb-draft-accept")
                    d_reject = gr.Button("不采用", elem_id="nb-draft-reject")

            with gr.Tab("审核结论与记录", id="signoff", elem_id="nb-tab-signoff"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2):
                        gr.HTML("<b>对本篇年报作出审核结论</b>")
                        r_action = gr.Radio(list(REPORT_ACTIONS), value="通过", label="结论", elem_id="nb-report-action")
                        r_comment = gr.Textbox(label="意见（退回修改时必填）", lines=3, elem_id="nb-report-comment")
                        r_save = gr.Button("提交审核结论", variant="primary", elem_id="nb-report-save")
                    with gr.Column(scale=3):
                        gr.HTML("<b>当前决定</b>")
                        current = gr.HTML("", elem_id="nb-current-box")
                gr.HTML("<b>审核记录（本报告此版本）</b>")
                audit = gr.HTML("", elem_id="nb-audit-box")

            with gr.Tab("批量审核", id="batch", elem_id="nb-tab-batch") as batch_tab:
                batch_ui = batch_layout(gr, services)

        # ------------------------------------------------------------------ handlers

        def refreshed(st) -> dict:
            """What changes after a decision: the findings' 当前决定, the status, the record."""
            rv = st["rv"]
            sha = rv.result.sha256
            cur = db.current(sha)
            return {findings: finding_rows(rv.result, cur, services),
                    meta: meta_html(rv.result, db.status(sha), st["name"]),
                    current: current_html(cur, rv.result, services),
                    audit: audit_html(db.decisions(sha), rv.result, services)}

        def opened(rv, name: str) -> dict:
            try:
                db.register(rv.result)
            except ReviewError as e:
                raise Refused(f"审核已完成，但无法登记到审核记录库：{e.zh}。请检查 --db 设置后重试。") from None
            st = {"rv": rv, "name": name}
            cur = db.current(rv.result.sha256)
            out = refreshed(st)
            prev_draft = cur.get("draft")
            out.update({
                upload: None, state: st, chat_state: {"sha256": rv.result.sha256, "history": []}, chatbot: [],
                chat_note: "",
                chosen: gr.update(choices=finding_choices(rv.result), value=None), f_current: "",
                explanation: "<p class='nb-muted'>在上表中点击一条审核发现，这里显示它的解释。</p>",
                tables: tables_html(rv.result), lines: lines_html(rv.report.lines, rv.result),
                f_comment: "", r_comment: "", d_comment: "", draft_src: "", draft_rep: "",
                draft_text: (prev_draft.payload.get("text", "") if prev_draft else ""),
                draft_prev: (f"<div class='nb-note'>下面是此前保存的草稿（{esc(decision_text(prev_draft, services))}，"
                             f"{esc(local_time(prev_draft.at))}）。</div>" if prev_draft else ""),
            })
            return out

        def review_bytes(data: bytes, name: str, progress) -> dict:
            progress(0.05, desc="正在读取并审核年报（PDF 可能需要几十秒）…")
            try:
                rv = a.review(data, name)
            except ReviewError as e:
                raise Refused(f"无法审核“{name}”：{e.zh}") from None
            progress(0.9, desc="正在登记…")
            return opened(rv, name)

        def on_upload(path, progress=gr.Progress()):
            if not path:
                return gr.skip()
            p = Path(path)
            try:
                return review_bytes(p.read_bytes(), p.name, progress)
            except OSError as e:
                warn(f"上传的文件无法读取（{e}）：请重新上传。")
            except Refused as e:
                warn(e.message)
            return {upload: None}  # the report shown before stays; the upload box is ready for another file

        @guarded
        def on_fixture(name, progress=gr.Progress()):
            if not name:
                return gr.skip()
            p = next((f for f in services.fixtures if f.name == name), None)
            if p is None:
                raise Refused(f"示例年报不存在：{name}")
            return review_bytes(p.read_bytes(), f"fixtures/{p.name}", progress)

        opened_outputs = [f_current, upload, state, chat_state, chatbot, chat_note, chosen, explanation, tables,
                          lines, f_comment, r_comment, d_comment, draft_src, draft_rep, draft_text, draft_prev,
                          findings, meta, current, audit]
        upload.upload(on_upload, inputs=[upload], outputs=opened_outputs)
        fixture.input(on_fixture, inputs=[fixture], outputs=opened_outputs)

        def on_select(st, evt: gr.SelectData):
            if not st:
                return gr.skip()
            row = evt.row_value
            if not row and isinstance(evt.index, (list, tuple)):
                rows = ordered(st["rv"].result.findings)
                i = evt.index[0]
                row = [None] * 5 + [rows[i].fingerprint] if 0 <= i < len(rows) else None
            if not row or len(row) < len(FINDING_HEADERS):
                return gr.skip()
            return row[len(FINDING_HEADERS) - 1]

        findings.select(on_select, inputs=[state], outputs=[chosen])

        def finding_current(sha: str, fp: Optional[str]) -> str:
            if not fp:
                return ""
            dec = db.current(sha)["findings"].get(fp)
            if dec is None:
                return "<div class='nb-muted'>当前决定：未处理</div>"
            return (f"<div>当前决定：<b>{esc(decision_text(dec, services))}</b>，{esc(local_time(dec.at))}"
                    f"{('，意见：' + esc(dec.comment)) if dec.comment else ''}</div>")

        @guarded
        def on_chosen(fp, st, progress=gr.Progress()):
            if not st or not fp:
                return {explanation: "<p class='nb-muted'>在上表中点击一条审核发现，这里显示它的解释。</p>",
                        tables: tables_html(st["rv"].result) if st else "", f_current: ""}
            rv = st["rv"]
            f = next((x for x in rv.result.findings if x.fingerprint == fp), None)
            if f is None:
                raise Refused("这条审核发现不属于当前打开的年报，请重新选择。")
            progress(0.1, desc="正在生成解释…")
            try:
                expl = a.explain(rv, f)
            except ReviewError as e:
                raise Refused(f"无法生成解释：{e.zh}") from None
            dec = db.current(rv.result.sha256)["findings"].get(fp)
            action = next((zh for zh, en in FINDING_ACTIONS.items() if dec and dec.action == en), "确认")
            return {explanation: explanation_html(f, expl), tables: tables_html(rv.result, fp),
                    f_current: finding_current(rv.result.sha256, fp), f_action: action}

        chosen.change(on_chosen, inputs=[chosen, state], outputs=[explanation, tables, f_current, f_action])

        @guarded
        def on_finding_save(fp, action, comment, name, st, request: gr.Request):
            st = need_report(st)
            if not fp:
                raise Refused("请先在审核发现表中点击选中一条，再保存决定。")
            rv = st["rv"]
            if not any(f.fingerprint == fp for f in rv.result.findings):
                raise Refused("这条审核发现不属于当前打开的年报，请重新选择。")
            who = reviewer_of(name, request)
            if action not in FINDING_ACTIONS:
                raise Refused("请选择“确认”或“驳回”。")
            dec = record(reviewer=who, report_sha256=rv.result.sha256, source=rv.result.source, kind="finding",
                         action=FINDING_ACTIONS[action], fingerprint=fp, comment=comment or "")
            gr.Info(f"已保存：{action}（编号 {fp}，审核人 {who}，记录号 {dec.id}）", title="已保存")
            out = refreshed(st)
            out[f_comment] = ""
            out[f_current] = finding_current(rv.result.sha256, fp)
            return out

        f_save.click(on_finding_save, inputs=[chosen, f_action, f_comment, reviewer, state],
                     outputs=[findings, meta, current, audit, f_comment, f_current])

        @guarded
        def on_report_save(action, comment, name, st, request: gr.Request):
            st = need_report(st)
            who = reviewer_of(name, request)
            if action not in REPORT_ACTIONS:
                raise Refused("请选择“通过”或“退回修改”。")
            rv = st["rv"]
            dec = record(reviewer=who, report_sha256=rv.result.sha256, source=rv.result.source, kind="report",
                         action=REPORT_ACTIONS[action], comment=comment or "")
            gr.Info(f"已保存审核结论：{action}（审核人 {who}，记录号 {dec.id}）", title="已保存")
            out = refreshed(st)
            out[r_comment] = ""
            return out

        r_save.click(on_report_save, inputs=[r_action, r_comment, reviewer, state],
                     outputs=[findings, meta, current, audit, r_comment])

        @guarded
        def on_draft(st, progress=gr.Progress()):
            st = need_report(st)
            progress(0.1, desc="正在起草第五部分…")
            try:
                d = a.draft(st["rv"])
            except ReviewError as e:
                raise Refused(f"无法生成草稿：{e.zh}") from None
            return {draft_text: d.text(), draft_src: draft_sources_html(d), draft_rep: repetition_html(d),
                    draft_prev: ""}

        make_draft.click(on_draft, inputs=[state], outputs=[draft_text, draft_src, draft_rep, draft_prev])

        def draft_decision(action: str):
            @guarded
            def handler(text, comment, name, st, request: gr.Request):
                st = need_report(st)
                if not (text or "").strip():
                    raise Refused("草稿为空：请先生成草稿或填写内容。")
                who = reviewer_of(name, request)
                rv = st["rv"]
                dec = record(reviewer=who, report_sha256=rv.result.sha256, source=rv.result.source, kind="draft",
                             action=action, comment=comment or "", payload={"text": text})
                gr.Info(f"已保存：草稿{_ACTION_ZH[('draft', action)]}（审核人 {who}，记录号 {dec.id}）", title="已保存")
                out = refreshed(st)
                out[d_comment] = ""
                return out
            return handler

        for button, action in ((d_accept, "approve"), (d_reject, "reject")):
            button.click(draft_decision(action), inputs=[draft_text, d_comment, reviewer, state],
                         outputs=[findings, meta, current, audit, d_comment])

        def on_ask(q, history, st, cst):
            q = (q or "").strip()
            if not st or not q:
                warn(NO_REPORT if not st else "请输入问题。")
                yield gr.skip()
                return
            rv = st["rv"]
            if not cst or cst.get("sha256") != rv.result.sha256:
                cst = {"sha256": rv.result.sha256, "history": []}
            session = a.chat(rv)
            session.history = list(cst["history"])
            history = list(history or []) + [{"role": "user", "content": esc(q)},
                                             {"role": "assistant", "content": "……"}]
            yield history, "", "<div class='nb-note'>正在回答…</div>", cst
            text = ""
            try:
                for chunk in session.ask(q):
                    text += chunk
                    history[-1] = {"role": "assistant", "content": esc(text)}
                    yield history, "", gr.skip(), gr.skip()
            except ReviewError as e:
                history[-1] = {"role": "assistant", "content": esc(f"（回答失败：{e.zh}）")}
                yield history, "", f"<div class='nb-note'>回答失败：{esc(e.zh)}，请稍后重试。</div>", cst
                return
            last = session.last
            if last is not None:
                history[-1] = {"role": "assistant", "content": marked(last.text, last.unsupported_numbers)}
            yield history, "", chat_note_html(last), {"sha256": rv.result.sha256, "history": session.history}

        for trigger in (ask.click, question.submit):
            trigger(on_ask, inputs=[question, chatbot, state, chat_state],
                    outputs=[chatbot, question, chat_note, chat_state])
        chatbot.clear(lambda st: ("", {"sha256": st["rv"].result.sha256, "history": []} if st else None),
                      inputs=[state], outputs=[chat_note, chat_state])
        clear.click(lambda st: ([], "", {"sha256": st["rv"].result.sha256, "history": []} if st else None),
                    inputs=[state], outputs=[chatbot, chat_note, chat_state])

        wire_batch(gr, services, batch_ui, SimpleNamespace(
            guarded=guarded, warn=warn, reviewer_of=reviewer_of, record=record, review_bytes=review_bytes,
            refreshed=refreshed, opened_outputs=opened_outputs, single_outputs=[findings, meta, current, audit],
            state=state, reviewer=reviewer, tabs=tabs, tab=batch_tab, demo=demo))

        if who is not None:
            def on_load(request: gr.Request):
                user = getattr(request, "username", None) or ""
                return (f"<div class='nb-meta'>审核人：<b>{esc(services.reviewer_label(user))}</b>"
                        f"　<a href='./logout'>退出登录</a></div>")
            demo.load(on_load, inputs=None, outputs=[who])
    return demo


# ------------------------------------------------------------------------------------------- main

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="review ui", description="启动年报审核界面（浏览器访问）")
    p.add_argument("--host", default="127.0.0.1", help="监听地址（默认 127.0.0.1，仅本机；对外服务须先配置用户）")
    p.add_argument("--port", type=int, default=7860, help="端口（默认 7860）")
    p.add_argument("--users", metavar="FILE", help="用户文件（默认 $REVIEW_USERS_FILE 或数据目录下的 users.json）；"
                                                   "有用户时须登录")
    p.add_argument("--db", metavar="URL", help="审核记录数据库（默认 $REVIEW_DB_URL 或数据目录下的 signoff.sqlite），"
                                               "如 postgresql+psycopg://user:pass@host/db")
    p.add_argument("--data", metavar="DIR", help="数据目录：历史库、审核记录、缓存（默认 $REVIEW_DATA_DIR 或 "
                                                 "~/.local/share/nianbao-review）")
    p.add_argument("--history", metavar="DIR", action="append", default=[],
                   help="往年年报文件夹（可重复；代替历史库用于跨年度检查）")
    p.add_argument("--batch-root", metavar="DIR", action="append", default=[],
                   help="批量审核时允许审核人填写的服务器文件夹（可重复；数据目录和示例年报文件夹总是允许）")
    return p


def main(argv: Optional[list[str]] = None) -> int:
    """`python ui.py` / `review ui`: start the app; exit status 2 when it must not or cannot start."""
    args = _parser().parse_args(argv)
    try:
        from review.users import check_bind
        users = users_at(args.data, args.users)
        check_bind(args.host, users)  # before anything is opened or created
        services = Services.create(args.data, args.db, history_dirs=args.history, users=users,
                                   batch_roots=args.batch_root)
    except ReviewError as e:
        print(f"无法启动审核界面：{e.message}", file=sys.stderr)
        sys.exit(2)
    try:  # batch runs start worker processes from this threaded server: never fork its threads
        multiprocessing.set_start_method("forkserver")
    except (RuntimeError, ValueError):
        pass
    demo = build_app(services)
    demo.queue(default_concurrency_limit=4)
    def verify(name: str, password: str) -> bool:
        try:
            return services.users.verify(name, password)
        except ReviewError as e:  # the users file was damaged while the app ran: nobody gets in, and we say why
            print(f"登录失败：{e.message}", file=sys.stderr, flush=True)
            return False

    auth = verify if services.require_login else None
    try:
        demo.launch(server_name=args.host, server_port=args.port, auth=auth,
                    auth_message="请使用审核系统账号登录（账号由管理员用 review users add 添加）",
                    css=CSS, footer_links=[], ssr_mode=False, show_error=True, quiet=True,
                    max_file_size="100mb", pwa=False, mcp_server=False, inbrowser=False, prevent_thread_lock=True)
    except OSError as e:
        print(f"无法启动审核界面：端口 {args.port} 不可用（{e}）。请用 --port 换一个端口。", file=sys.stderr)
        sys.exit(2)
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    print(f"年报审核界面已启动：http://{host}:{args.port}　{services.assistant.status()}"
          f"　审核记录库：{services.db_label()}　（按 Ctrl+C 停止）", flush=True)
    demo.block_thread()
    return 0


if __name__ == "__main__":  # pragma: no cover
    main()
