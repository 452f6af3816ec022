"""HTML the page shows: the findings, the tables with the cells findings point at, the report's lines, the
explanations and drafts (numbers the LLM service marked as unsupported highlighted), the sign-off record and the
queue. Pure functions of the review result and the sign-off record: nothing here decides a finding."""
from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Optional

from review.models import Finding, ReviewResult
from review.present import location
from review.ui.service import short_source

_SEV_ZH = {"error": "错误", "warning": "警告", "info": "提示"}
_SEV_ORDER = {"error": 0, "warning": 1, "info": 2}
_TABLE_TITLE = {"disclosure": "表二　主动公开政府信息情况", "applications": "表三　收到和处理政府信息公开申请情况",
                "appeals": "表四　政府信息公开行政复议、行政诉讼情况"}
_STATE_ZH = {"number": "数字", "blank": "空白", "na": "不适用", "unreadable": "无法识别", "inferred": "推得"}
FINDING_ACTIONS = {"确认": "confirm", "驳回": "dismiss"}
REPORT_ACTIONS = {"通过": "approve", "退回修改": "return"}
ACTION_ZH = {("finding", "confirm"): "确认", ("finding", "dismiss"): "驳回", ("report", "approve"): "通过",
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
.nb-lines .sel { background: #fde68a; outline: 2px solid #dc2626; }
.nb-src { max-height: 560px; }
a.nb-cite { color: #1d4ed8; text-decoration: underline dotted; cursor: pointer; }
a.nb-cellref { color: inherit; text-decoration: none; cursor: pointer; }
.nb-hidden { display: none !important; }
table.nb-log { border-collapse: collapse; font-size: 13px; width: 100%; }
table.nb-log th, table.nb-log td { border: 1px solid #e5e7eb; padding: 3px 6px; text-align: left; vertical-align: top; }
table.nb-log th { background: #f1f5f9; }
kbd { border: 1px solid #cbd5e1; border-bottom-width: 2px; border-radius: 3px; padding: 0 4px; font-size: 12px;
  background: #f8fafc; }
#nb-keys button { flex: 0 1 auto; }
.nb-rep-bad { color: #b91c1c; font-weight: 700; } .nb-rep-ok { color: #166534; font-weight: 600; }
"""


HEAD = r"""<script>
/* 年报审核: keyboard shortcuts of the review loop (review/ui/loop.py). A key clicks the visible button that
   shows it; in the comment box 1-9 (box empty) takes that stock comment, Esc cancels. */
(function () {
  const KEYS = {j: "nb-k-next", k: "nb-k-prev", c: "nb-k-confirm", x: "nb-k-dismiss", a: "nb-k-approve",
                r: "nb-k-return", n: "nb-k-nextrep", s: "nb-q-loop"};
  function press(id) {
    const el = document.getElementById(id);
    if (!el) return false;
    const b = el.tagName === "BUTTON" ? el : (el.querySelector("button") || el);
    if (!b.offsetParent || b.disabled) return false;
    b.click();
    return true;
  }
  function setValue(t, v) {
    const proto = t.tagName === "TEXTAREA" ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, "value").set.call(t, v);
    t.dispatchEvent(new Event("input", {bubbles: true}));
  }
  document.addEventListener("click", function (e) {  // a line citation opens the source view at that line
    const a = e.target.closest && e.target.closest("a[href^='#nb-line-'], a[href^='#nb-cell-']");
    if (!a) return;
    e.preventDefault();
    const box = document.querySelector("#nb-cite-line textarea, #nb-cite-line input");
    const href = a.getAttribute("href");
    const what = href.startsWith("#nb-cell-") ? "cell:" + decodeURIComponent(href.slice(9)) : href.slice(9);
    if (box) setValue(box, what + "|" + Date.now());
  }, true);
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const t = e.target;
    const typing = t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
    if (typing) {
      if (t.closest && t.closest("#nb-k-comment")) {
        if (e.key === "Escape") { press("nb-k-cancel"); e.preventDefault(); }
        else if (/^[1-9]$/.test(e.key) && !t.value) {
          const items = document.querySelectorAll("#nb-k-stock li");
          const item = items[Number(e.key) - 1];
          if (item) { setValue(t, item.textContent); e.preventDefault(); }
        }
      }
      return;
    }
    const box = document.querySelector("#nb-k-comment textarea, #nb-k-comment input");
    if (box && box.offsetParent) {  // the comment panel is open: its keys, wherever the focus is
      if (e.key === "Escape") { press("nb-k-cancel"); e.preventDefault(); return; }
      if (e.key === "Enter") { press("nb-k-submit"); e.preventDefault(); return; }
      if (/^[1-9]$/.test(e.key) && !box.value) {
        const item = document.querySelectorAll("#nb-k-stock li")[Number(e.key) - 1];
        if (item) { box.focus(); setValue(box, item.textContent); e.preventDefault(); return; }
      }
    }
    const id = KEYS[(e.key || "").toLowerCase()];
    if (id && press(id)) e.preventDefault();
  }, true);
})();
/* Notices in Chinese: Gradio 6 heads its toasts with the type ("Info", "Warning", "Error") whatever title is
   given, and writes its own upload errors in English. Rewrite those texts and the hover labels as they appear. */
(function () {
  const TITLES = {"Info": "提示", "Warning": "请注意", "Error": "出错", "Success": "完成"};
  const LABELS = {"Close": "关闭", "Copy": "复制", "Copied": "已复制", "Copy all": "全部复制", "Fullscreen": "全屏",
                  "Exit fullscreen": "退出全屏", "Exit full screen": "退出全屏", "Full screen": "全屏", "Clear": "清除",
                  "Download": "下载", "Remove": "移除", "Upload": "上传", "Undo": "撤销", "Retry": "重试",
                  "Like": "赞同", "Dislike": "不赞同", "Share": "分享", "Edit": "编辑", "Delete": "删除",
                  "Sort ascending": "升序", "Sort descending": "降序", "Search": "搜索", "Remove file": "移除文件",
                  "Clear all": "全部清除", "Loading...": "正在加载…", "Dropdown": "下拉框", "Textbox": "文本框",
                  "Checkbox": "复选框", "Radio": "单选", "Chatbot": "对话"};
  const MESSAGES = [
    [/^Invalid file types?: (.*)\. Only (.*) allowed\.?$/s, (m, f, t) => `不支持的文件类型：${f}。只能上传：${t}。`],
    [/File size exceeded maximum allowed size of (\d+) bytes\.?/, (m, n) =>
      `文件超过允许的大小（${(Number(n) / 1048576).toFixed(0)} MB）：请压缩、拆分后再上传，或请管理员调大上限。`],
    [/^File\(?s?\)? exceeds? the maximum allowed size of ([\d.]+) ?([KMGT]?)b:? ?(.*)$/is, (m, n, u, f) =>
      `文件超过允许的大小（${n} ${u.toUpperCase()}B）：${f}。请压缩、拆分后再上传，或请管理员调大上传上限。`],
    [/exceeds? (the )?max(imum)?( allowed)? (file )?size/i, () => "文件超过允许的大小：请压缩、拆分后再上传。"],
    [/^Connection errored out\.?$/i, () => "与服务器的连接中断：请检查服务是否在运行，然后刷新页面。"],
    [/^(Error|Unexpected error\.?)$/i, () => "操作未完成：程序内部出错（详细信息已写入服务器日志）。请重试。"],
    [/^Upload failed\.?$/i, () => "上传失败：请重新上传。"],
  ];
  function fixText(node) {
    const v = node.nodeValue;
    if (!v || !/[A-Za-z]/.test(v)) return;
    const trimmed = v.trim();
    const el = node.parentElement;
    if (el && el.classList && el.classList.contains("toast-title") && TITLES[trimmed]) {
      node.nodeValue = v.replace(trimmed, TITLES[trimmed]);
      return;
    }
    if (el && el.closest && el.closest("[data-testid=toast-text], .toast-body, .error, .upload-error")) {
      for (const [re, fn] of MESSAGES) {
        if (re.test(trimmed)) { node.nodeValue = trimmed.replace(re, fn); return; }
      }
    }
  }
  function fixAttrs(el) {
    for (const a of ["aria-label", "title", "placeholder"]) {
      const v = el.getAttribute && el.getAttribute(a);
      if (v && LABELS[v]) el.setAttribute(a, LABELS[v]);
    }
  }
  function walk(root) {
    if (root.nodeType === 3) { fixText(root); return; }
    if (root.nodeType !== 1) return;
    fixAttrs(root);
    const w = document.createTreeWalker(root, NodeFilter.SHOW_TEXT | NodeFilter.SHOW_ELEMENT);
    for (let n = w.nextNode(); n; n = w.nextNode()) { n.nodeType === 3 ? fixText(n) : fixAttrs(n); }
  }
  new MutationObserver(function (records) {
    for (const r of records) {
      if (r.type === "characterData") fixText(r.target);
      else if (r.type === "attributes") fixAttrs(r.target);
      else r.addedNodes.forEach(walk);
    }
  }).observe(document.documentElement, {subtree: true, childList: true, characterData: true, attributes: true,
                                        attributeFilter: ["aria-label", "title", "placeholder"]});
  document.addEventListener("DOMContentLoaded", () => walk(document.body));
})();
</script>"""


def esc(value: Any) -> str:
    """HTML-escape anything shown in the page (report text included)."""
    return html.escape("" if value is None else str(value), quote=True)



# ------------------------------------------------------------------------------------------- formatting

def status_html(services) -> str:
    """The line under the title: the LLM, the data folder, the sign-off database, the history, login or not."""
    return (f"<div class='nb-status'>{esc(services.assistant.status())}　｜　数据目录：{esc(services.data_dir)}"
            f"　｜　审核记录库：{esc(services.db_label())}　｜　{esc(services.history_note)}"
            f"　｜　{'已启用登录' if services.require_login else '单用户模式（仅本机访问）'}</div>")


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


def decision_text(dec, services: Any = None) -> str:
    if dec is None:
        return "未处理"
    who = services.reviewer_label(dec.reviewer, short=True) if services else dec.reviewer
    return f"{ACTION_ZH.get((dec.kind, dec.action), dec.action)}（{who}）"


def finding_rows(result: ReviewResult, current: dict, services: Any = None) -> list[list[str]]:
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
    body = esc(text)
    if cell is not None and cell.line:  # a click shows the cell in the original (the source view)
        from urllib.parse import quote
        table = "disclosure" if "item" in attrs else "applications" if "row" in attrs else "appeals"
        key = attrs.get("item") or attrs.get("row") or attrs.get("group")
        ref = quote(f"{table}|{key}|{attrs.get('column')}", safe="")
        body = f"<a class='nb-cellref' href='#nb-cell-{ref}'>{body}</a>"
    return f"<td class='{' '.join(classes)}' title='{esc(tip)}'>{body}</td>"


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
          "（鼠标停在单元格上可看到原文和行号；点击单元格在“原文对照”中显示它在原文中的位置）</div>")


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


def cite_links(html_text: str) -> str:
    """Line citations ("第 103 行") as links that open the source view at that line (see HEAD's script)."""
    return re.sub(r"第 ?(\d{1,6}) ?行", lambda m: f"<a href='#nb-line-{m.group(1)}' class='nb-cite'>{m.group(0)}</a>",
                  html_text)


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
        # a removed citation is never printed, only counted
        parts.append(f"已删除 {len(_unique(answer.stripped_citations))} 处没有依据的引用")
    note = f"<div class='nb-note' id='nb-chat-note'>{'；'.join(parts)}</div>"
    return note + _unsupported_note(answer.unsupported_numbers)


# --------------------------------------------------------------------- sign-off record

def current_html(current: dict, result: ReviewResult, services: Any = None) -> str:
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


def audit_html(decisions: list, result: ReviewResult, services: Any = None) -> str:
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
        action = ACTION_ZH.get((d.kind, d.action), d.action)
        rows.append(f"<tr><td>{esc(local_time(d.at))}</td><td>{esc(who)}</td>"
                    f"<td>{esc(_KIND_ZH.get(d.kind, d.kind))}</td><td>{esc(action)}</td><td>{esc(what)}</td>"
                    f"<td>{esc(d.comment)}</td></tr>")
    return ("<table class='nb-log' id='nb-audit'><tr><th>时间</th><th>审核人</th><th>对象</th><th>决定</th>"
            "<th>审核发现编号</th><th>意见</th></tr>" + "".join(reversed(rows)) + "</table>"
            "<p class='nb-muted'>最新的记录在最上面；记录只增不改。</p>")



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


def selected_html(row, current: Optional[dict], services: Any = None) -> str:
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




def _cell_ref(key) -> str:
    table, row, column = key
    return f"{_TABLE_TITLE.get(table, table).split('　')[0]} {row}/{column}"


def versions_html(versions: list, services: Any = None) -> str:
    """Earlier versions of the open report: their conclusion and comment, and what changed since."""
    if not versions:
        return "<div id='nb-versions'></div>"
    parts = []
    for v in versions:
        rep = v["report"]
        concl = (f"<b>{esc(decision_text(rep, services))}</b>，{esc(local_time(rep.at))}"
                 + (f"，意见：<span class='nb-v-comment'>{esc(rep.comment)}</span>" if rep.comment else "")
                 if rep else "尚无审核结论")
        lines = [f"<div><b>此前的版本</b>（{esc(short_source(v['source']))}，编号 {esc(v['sha256'][:12])}）："
                 f"<span class='nb-badge {esc(v['status'])}'>{esc(_STATUS_ZH.get(v['status'], v['status']))}</span>　{concl}"
                 f"；对审核发现的决定 {v['finding_decisions']} 条</div>"]
        if not v.get("known"):
            lines.append("<div class='nb-muted'>（此前版本的审核结果未保存，无法比较变化）</div>")
        else:
            fixed = "".join(f"<li>{esc(f['message'][:80])}</li>" for f in v["fixed"])
            new = "".join(f"<li>{esc(f['message'][:80])}</li>" for f in v["new"])
            cells = "；".join(f"{esc(_cell_ref(k))}：{esc(a)} → {esc(b)}" for k, a, b in v["cells"][:12])
            more = f" 等 {len(v['cells'])} 处" if len(v["cells"]) > 12 else ""
            lines.append(f"<div class='nb-rep-ok'>已更正的问题 {len(v['fixed'])} 项</div><ul id='nb-v-fixed'>{fixed}</ul>"
                         if v["fixed"] else "<div class='nb-muted'>此前的问题都还在（没有已更正的问题）</div>")
            if v["new"]:
                lines.append(f"<div class='nb-err'>新出现的问题 {len(v['new'])} 项</div><ul id='nb-v-new'>{new}</ul>")
            lines.append(f"<div class='nb-muted'>改动的单元格：{cells or '无'}{more}</div>")
        parts.append("<div class='nb-note' style='margin:6px 0'>" + "".join(lines) + "</div>")
    return "<div id='nb-versions' class='nb-meta'>" + "".join(parts) + "</div>"


def batch_notes_html(unreadable: list, abnormal: list) -> str:
    """The batch's inputs that could not be read (with the reason) and those that look abnormal."""
    parts = []
    if unreadable:
        rows = "".join(f"<tr><td>{esc(short_source(n))}</td><td>{esc(r)}</td></tr>" for n, r in unreadable)
        parts.append(f"<div class='nb-err'>无法读取的文件 {len(unreadable)} 个（未进入审核队列）：</div>"
                     f"<table class='nb-log' id='nb-q-unreadable'><tr><th>文件</th><th>原因</th></tr>{rows}</table>")
    if abnormal:
        rows = "".join(f"<tr><td>{esc(short_source(n))}</td><td>{esc(r)}</td></tr>" for n, r in abnormal)
        parts.append(f"<div class='nb-warn'>需要留意的输入 {len(abnormal)} 个：</div>"
                     f"<table class='nb-log' id='nb-q-abnormal'><tr><th>文件</th><th>情况</th></tr>{rows}</table>")
    return "<div id='nb-q-notes'>" + "".join(parts) + "</div>" if parts else "<div id='nb-q-notes'></div>"
