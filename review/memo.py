"""The review memo sent back to an agency: its findings, the reviewers' decisions and the approved draft
of part 五, as Markdown and as DOCX. Built from a review result (the contract's JSON object) and the
sign-off record; nothing here decides a finding."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from review.present import location
from review.signoff import STATUS_ZH, SignoffDB

_SEV = {"error": "错误", "warning": "警告", "info": "提示"}
_ACTION = {("finding", "confirm"): "确认", ("finding", "dismiss"): "驳回", ("report", "approve"): "通过",
           ("report", "return"): "退回修改", ("draft", "approve"): "采用", ("draft", "reject"): "不采用"}


def _where(f: dict) -> str:
    return location(f.get("table"), f.get("cells", []), f.get("section"), f.get("line"))


ENV_TZ = "REVIEW_TIMEZONE"  # e.g. Asia/Shanghai; default: the machine's local time zone


def local_time(iso: str, tz: Optional[str] = None) -> str:
    """An ISO time (UTC in the record) in the configured or local time zone, "YYYY-MM-DD HH:MM:SS"."""
    import os
    from datetime import datetime
    name = tz or os.environ.get(ENV_TZ, "").strip()
    try:
        t = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso or ""
    zone = None
    if name:
        try:
            from zoneinfo import ZoneInfo
            zone = ZoneInfo(name)
        except Exception:  # an unknown zone name: the machine's local time
            zone = None
    return t.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def open_errors(findings, current: dict) -> list[str]:
    """The fingerprints of the failing errors a reviewer has not dismissed (the review decided which fail; this
    only reads the decisions). `findings`: Finding objects or the contract's dicts."""
    decided = (current or {}).get("findings", {})
    out = []
    for f in findings:
        get = f.get if isinstance(f, dict) else (lambda k, f=f: getattr(f, k))
        sev = get("severity")
        sev = getattr(sev, "value", sev)
        if get("status") == "fail" and sev == "error":
            d = decided.get(get("fingerprint"))
            if d is None or d.action != "dismiss":
                out.append(get("fingerprint"))
    return out


def signoff_summary(result: Optional[dict], db, sha: str) -> dict:
    """The sign-off columns of the batch summary: 审核人, 审核时间 (local time zone), 结论, 意见, 未更正错误."""
    if db is None or not sha:
        return {}
    cur = db.current(sha)
    rep = cur["report"]
    n_open = len(open_errors(result["findings"], cur)) if result else ""
    out = {"审核人": rep.reviewer if rep else "", "审核时间": local_time(rep.at) if rep else "",
           "结论": STATUS_ZH[db.status(sha)], "意见": rep.comment if rep else "", "未更正错误": n_open}
    if rep and rep.action == "approve" and (rep.payload or {}).get("open_errors"):
        out["结论"] = approved_with_open_errors(int(rep.payload["open_errors"]))
    return out


def approved_with_open_errors(n: int) -> str:
    """The conclusion's words when a reviewer approved a report with n errors still open."""
    return f"已通过（在 {n} 项错误未更正的情况下通过，经审核人确认）"


def memo_sections(result: dict, db: Optional[SignoffDB]) -> dict:
    """The memo's content, shared by the Markdown and DOCX renderings."""
    sha = result["sha256"]
    current = db.current(sha) if db else {"findings": {}, "report": None, "draft": None}
    status = STATUS_ZH[db.status(sha)] if db else STATUS_ZH["pending"]
    findings = []
    for f in result["findings"]:
        if f["status"] != "fail" or f["severity"] == "info":
            continue
        d = current["findings"].get(f["fingerprint"])
        if d and d.action == "dismiss":
            continue  # dismissed by a reviewer: not sent back (it stays in the decision record below)
        findings.append({"severity": _SEV[f["severity"]], "message": f["message"], "where": _where(f),
                         "decision": _ACTION[("finding", d.action)] if d else "未复核",
                         "comment": d.comment if d else ""})
    decisions = [{"at": local_time(d.at), "reviewer": d.reviewer,
                  "what": _ACTION.get((d.kind, d.action), d.action) + {"finding": "发现", "report": "报告",
                                                                        "draft": "草稿"}[d.kind],
                  "fingerprint": d.fingerprint or "", "comment": d.comment}
                 for d in (db.decisions(sha) if db else [])]
    draft = current["draft"]
    m = result["meta"]
    text = draft.payload.get("text") if draft and draft.action == "approve" else None
    rep = current["report"]
    open_errors = int((rep.payload or {}).get("open_errors") or 0) if rep and rep.action == "approve" else 0
    if open_errors:  # approved although errors were still open: said wherever the conclusion is
        status = approved_with_open_errors(open_errors)
    return {"title": f"{m.get('agency') or '（机关未写明）'}{m.get('year') or ''}年度政府信息公开工作年度报告审核意见",
            "meta": m, "source": result["source"], "sha256": sha, "status": status,
            "report_comment": rep.comment if rep else "", "open_errors": open_errors,
            "findings": findings, "decisions": decisions,
            "draft": text, "unverified": unverified_sentences(text or "")}


def unverified_sentences(text: str) -> list[str]:
    """The sentences of a draft that carry a 【未核实】 mark (numbers nobody could check), to list in the memo."""
    from review.llm.grounding import marked_sentences
    return marked_sentences(text)


def _unverified_note(sentences: list[str]) -> str:
    return (f"注意：参考稿中有 {len(sentences)} 句含标注【未核实】的数字（在材料中找不到依据），"
            f"采用前必须逐一核实或删除：" + "；".join(f"“{x}”" for x in sentences))


def to_markdown(result: dict, db: Optional[SignoffDB]) -> str:
    s = memo_sections(result, db)
    m = s["meta"]
    out = [f"# {s['title']}", "",
           f"- 机关：{m.get('agency') or '（未写明）'}；年度：{m.get('year') or '（未知）'}；格式：{m.get('format') or '（未识别）'}年格式；"
           f"发布日期：{m.get('published') or '（未找到）'}",
           f"- 文件：{s['source']}（sha256 {s['sha256'][:16]}）", f"- 审核结论：{s['status']}"
           + (f"（{s['report_comment']}）" if s["report_comment"] else ""), "", "## 一、需要更正的问题", ""]
    if s["findings"]:
        for i, f in enumerate(s["findings"], 1):
            out.append(f"{i}. 【{f['severity']}】{f['message']}" + (f"（{f['where']}）" if f["where"] else ""))
    else:
        out.append("未发现需要更正的问题。")
    out += ["", "## 二、第五部分“存在的主要问题及改进情况”参考稿", ""]
    out.append(s["draft"] if s["draft"] else "（未采用草稿）")
    if s["unverified"]:
        out += ["", "> " + _unverified_note(s["unverified"])]
    out += ["", "## 三、审核记录", "", "| 时间 | 审核人 | 决定 | 审核发现编号 | 意见 |", "|---|---|---|---|---|"]
    for d in s["decisions"]:
        out.append(f"| {d['at']} | {d['reviewer']} | {d['what']} | {d['fingerprint']} | {d['comment']} |")
    if not s["decisions"]:
        out.append("| | | （尚无审核决定） | | |")
    return "\n".join(out) + "\n"


def to_docx(result: dict, db: Optional[SignoffDB], path: Path) -> Path:
    from docx import Document
    from docx.oxml.ns import qn

    s = memo_sections(result, db)
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "宋体"
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    doc.add_heading(s["title"], level=1)
    m = s["meta"]
    doc.add_paragraph(f"机关：{m.get('agency') or '（未写明）'}；年度：{m.get('year') or '（未知）'}；"
                      f"发布日期：{m.get('published') or '（未找到）'}；审核结论：{s['status']}"
                      + (f"（{s['report_comment']}）" if s["report_comment"] else ""))
    doc.add_heading("一、需要更正的问题", level=2)
    for f in s["findings"] or [{"severity": "", "message": "未发现需要更正的问题。", "where": ""}]:
        lead = f"【{f['severity']}】" if f["severity"] else ""
        doc.add_paragraph(lead + f["message"] + (f"（{f['where']}）" if f["where"] else ""), style="List Number")
    doc.add_heading("二、第五部分“存在的主要问题及改进情况”参考稿", level=2)
    for para in (s["draft"] or "（未采用草稿）").split("\n"):
        doc.add_paragraph(para)
    if s["unverified"]:
        doc.add_paragraph(_unverified_note(s["unverified"]))
    doc.add_heading("三、审核记录", level=2)
    table = doc.add_table(rows=1, cols=5)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ("时间", "审核人", "决定", "审核发现编号", "意见")):
        cell.text = text
    for d in s["decisions"]:
        for cell, text in zip(table.add_row().cells, (d["at"], d["reviewer"], d["what"], d["fingerprint"], d["comment"])):
            cell.text = text
    doc.save(path)
    return path


def write_memos(out: Path, results: list[dict], db: Optional[SignoffDB]) -> list[Path]:
    """A Markdown and a DOCX memo per report under out/memos/."""
    folder = out / "memos"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for r in results:
        stem = f"{(r['meta'].get('agency') or 'report')}_{r['meta'].get('year') or ''}_{r['sha256'][:8]}"
        md = folder / f"{stem}.md"
        md.write_text(to_markdown(r, db), encoding="utf-8")
        written += [md, to_docx(r, db, folder / f"{stem}.docx")]
    return written
