"""Batch review: many reports (files, folders, zip archives), in parallel, resumable, with a summary.

Output folder layout (`--out DIR`):
    reports/<sha256>.json   one per distinct report: the contract's JSON object (written atomically when done)
    index.jsonl             one small line per report done (its summary row): what resuming and summaries read
    summary.csv, summary.xlsx   a row per input file: agency, year, format, errors, warnings, the top findings
    region.json, region.csv     checks across the batch (same agency and year in different versions; a
                                government's 表三 totals beside the sum of its departments')
    run.log                     one line per event, appended (a log, not an output to compare)
    inputs/                     files taken out of zip archives (safely: no path leaves this folder)

Resumable: a report whose sha256 already has a JSON written under the same rules version is not reviewed
again, so an interrupted run (Ctrl-C, kill) loses nothing it had written and goes on where it stopped;
the summary is rebuilt from the per-report JSON, so a resumed run ends with the same outputs as an
uninterrupted one.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import stat
import time
import zipfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Optional, Union

from review.agency import agency_key
from review.api import SUPPORTED, expand
from review.models import ReviewError
from review.rules import RULES_VERSION

# Zip archives from outside are checked before anything is written: a path may not leave inputs/,
# and the archive may not expand beyond these limits (a zip bomb is refused whole).
ZIP_MAX_TOTAL = 2 * 1024 ** 3  # bytes uncompressed
ZIP_MAX_FILES = 20_000
ZIP_MAX_RATIO = 200  # uncompressed / compressed, per member


@dataclass
class Item:
    """One input file of the batch."""

    name: str  # as the user gave it (for a zip member: archive.zip!member/path)
    path: Path
    sha256: str = ""


@dataclass
class BatchReport:
    items: list[Item]
    reviewed: int = 0  # reviewed in this run
    skipped: int = 0  # already done before (resumed)
    failed: int = 0  # could not be read
    seconds: float = 0.0
    out: Optional[Path] = None
    region: dict = field(default_factory=dict)


class BatchInputError(ReviewError):
    pass


# ---------------------------------------------------------------------------------------------- inputs

def _safe_member(name: str) -> Optional[PurePosixPath]:
    """The member's path inside inputs/, or None if it would leave it (absolute, '..', drive letters)."""
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or any(part in ("..", "") for part in p.parts[:-1]) or ".." in p.parts or ":" in p.parts[0]:
        return None
    return p


def extract_zip(archive: Path, dest: Path) -> list[Item]:
    """The supported files of a zip archive, extracted under dest/<archive stem>/. Refused whole, with
    nothing written, if any member would leave that folder or the archive is a zip bomb."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise BatchInputError(f"无法打开压缩包 {archive.name}（{e}）：请确认是 zip 格式且未损坏",
                              f"Cannot open the zip archive {archive.name} ({e}): check it is a valid zip",
                              str(archive)) from e
    with zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        total = 0
        for m in members:
            if _safe_member(m.filename) is None:
                raise BatchInputError(f"压缩包 {archive.name} 含有越出目录的路径“{m.filename}”，已拒绝整个压缩包，未写出任何文件",
                                      f"The archive {archive.name} has a path leaving its folder ({m.filename!r}): "
                                      f"refused whole, nothing written", str(archive))
            if (m.external_attr >> 16) and stat.S_ISLNK(m.external_attr >> 16):
                raise BatchInputError(f"压缩包 {archive.name} 含有符号链接“{m.filename}”，已拒绝",
                                      f"The archive {archive.name} has a symbolic link ({m.filename!r}): refused",
                                      str(archive))
            total += m.file_size
            ratio = m.file_size / max(m.compress_size, 1)
            if ratio > ZIP_MAX_RATIO and m.file_size > 10 * 1024 ** 2:
                raise BatchInputError(f"压缩包 {archive.name} 中“{m.filename}”压缩比异常（{ratio:.0f} 倍），疑似压缩炸弹，已拒绝",
                                      f"The archive {archive.name} looks like a zip bomb ({m.filename!r} expands "
                                      f"{ratio:.0f}x): refused", str(archive))
        if len(members) > ZIP_MAX_FILES or total > ZIP_MAX_TOTAL:
            raise BatchInputError(f"压缩包 {archive.name} 解压后过大（{len(members)} 个文件，{total / 1024 ** 2:.0f} MB），已拒绝；请分批提交",
                                  f"The archive {archive.name} expands too far ({len(members)} files, "
                                  f"{total / 1024 ** 2:.0f} MB): refused; submit it in parts", str(archive))
        base = dest / archive.stem
        items = []
        for m in members:
            rel = _safe_member(m.filename)
            if rel.suffix.lower() not in SUPPORTED or rel.name.upper().startswith("README") or rel.name.startswith("."):
                continue
            target = base.joinpath(*rel.parts)
            if base.resolve() not in target.resolve().parents:
                raise BatchInputError(f"压缩包 {archive.name} 的路径“{m.filename}”越出目录，已拒绝",
                                      f"Path {m.filename!r} leaves the folder: refused", str(archive))
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(m) as src, open(target, "wb") as dst:
                left = m.file_size + 1  # never write more than the header promised (a lying header is a bomb too)
                while chunk := src.read(1 << 20):
                    left -= len(chunk)
                    if left < 0:
                        raise BatchInputError(f"压缩包 {archive.name} 中“{m.filename}”的实际大小与声明不符，已拒绝",
                                              f"{m.filename!r} is larger than its header says: refused", str(archive))
                    dst.write(chunk)
            items.append(Item(name=f"{archive.name}!{m.filename}", path=target))
        return items


def collect(paths: Iterable[Union[str, os.PathLike]], out: Path) -> list[Item]:
    """Files, folders (their supported files) and zip archives, in the order given."""
    items: list[Item] = []
    for p in paths:
        p = Path(p)
        if p.is_file() and p.suffix.lower() == ".zip":
            items += extract_zip(p, out / "inputs")
        elif p.is_dir():
            inside_out = out.resolve()
            for f in expand([p]):
                if inside_out not in Path(f).resolve().parents:  # never re-read the batch's own output
                    items.append(Item(name=f, path=Path(f)))
            for z in sorted(p.rglob("*.zip")):
                if inside_out not in z.resolve().parents:
                    items += extract_zip(z, out / "inputs")
        else:
            items.append(Item(name=str(p), path=p))
    return items


# ---------------------------------------------------------------------------------------------- the run

def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_index(out: Path) -> dict[str, dict]:
    """sha256 -> summary row of every report done under the current rules version (and whose JSON is there)."""
    rows: dict[str, dict] = {}
    p = out / "index.jsonl"
    if p.exists():
        for line in p.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line torn by a kill: that report is reviewed again
            if row.get("rules_version") == RULES_VERSION and (out / "reports" / f"{row['sha256']}.json").exists():
                rows[row["sha256"]] = row
    return rows


def _row(result, sha: str) -> dict:
    """What the summary and the region checks need of one report, kept small."""
    fails = [f for f in result.findings if f.status == "fail" and f.severity.value != "info"]
    m = result.meta
    totals = {c.row: (c.value if c.state.value == "number" else None)
              for c in result.tables.applications if c.column == "总计" and c.row in _ROWS}
    return {"sha256": sha, "rules_version": RULES_VERSION, "error": result.error,
            "agency": m.agency, "year": m.year, "format": m.format, "published": m.published,
            "agency_kind": m.agency_kind, "errors": sum(f.severity.value == "error" for f in fails),
            "warnings": sum(f.severity.value == "warning" for f in fails),
            "top": [f.message for f in fails[:3]], "t3_totals": totals}


def review_one(path: str, name: str, out: str) -> dict:
    """Worker: review one file and write its JSON. Returns a short row for the log."""
    from review.api import check, failed
    from review.models import IngestError
    t0 = time.perf_counter()
    try:
        result = check(path, name=name)
    except IngestError as e:
        result = failed(name, e)
    sha = result.sha256 or _sha(Path(path))
    data = result.model_dump(mode="json")
    data["sha256"] = sha
    _write_atomic(Path(out) / "reports" / f"{sha}.json", json.dumps(data, ensure_ascii=False))
    return {**_row(result, sha), "name": name, "seconds": round(time.perf_counter() - t0, 3)}


def run(paths: Iterable[Union[str, os.PathLike]], out: Union[str, os.PathLike], workers: Optional[int] = None,
        progress: Optional[Callable[[int, int, dict], None]] = None, db=None) -> BatchReport:
    """Review every report under `paths` into `out`; `progress(done, total, row)` after each report.
    With a sign-off database (review.signoff.SignoffDB), every report is registered in its queue and the
    summary shows each report's sign-off status."""
    out = Path(out)
    (out / "reports").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    items = collect(paths, out)
    for it in items:
        it.sha256 = _sha(it.path) if it.path.exists() else ""
    report = BatchReport(items=items, out=out)
    done_before = read_index(out)
    todo: dict[str, Item] = {}
    for it in items:
        if it.sha256 in done_before:
            continue
        todo.setdefault(it.sha256 or it.name, it)  # the same bytes twice are reviewed once
    report.skipped = len({it.sha256 for it in items if it.sha256} - set(todo))
    log = open(out / "run.log", "a", encoding="utf-8")
    index = open(out / "index.jsonl", "a", encoding="utf-8")
    _log(log, f"start rules_version={RULES_VERSION} inputs={len(items)} to_review={len(todo)} skipped={report.skipped}")
    done = len(items) - len(todo)
    workers = workers or os.cpu_count() or 1
    try:
        if workers == 1:
            for it in todo.values():
                row = review_one(str(it.path), it.name, str(out))
                done += 1
                _record(report, log, index, row)
                if progress:
                    progress(done, len(items), row)
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                pending = {pool.submit(review_one, str(it.path), it.name, str(out)) for it in todo.values()}
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        row = fut.result()
                        done += 1
                        _record(report, log, index, row)
                        if progress:
                            progress(done, len(items), row)
    except KeyboardInterrupt:
        _log(log, "interrupted: what was written is kept; run the same command again to continue")
        raise
    finally:
        index.close()
    if db is not None:
        register(items, out, db)
    report.region = write_summaries(items, out, db)
    report.seconds = time.perf_counter() - t0
    _log(log, f"end reviewed={report.reviewed} failed={report.failed} seconds={report.seconds:.1f}")
    log.close()
    return report


def _log(log, text: str) -> None:
    log.write(f"{datetime.now(timezone.utc).isoformat(timespec='seconds')} {text}\n")
    log.flush()


def _record(report: BatchReport, log, index, row: dict) -> None:
    index.write(json.dumps({k: v for k, v in row.items() if k not in ("name", "seconds")}, ensure_ascii=False) + "\n")
    index.flush()
    report.reviewed += 1
    if row["error"]:
        report.failed += 1
        _log(log, f"unreadable {row['sha256']} {row['name']}: {row['error']}")
    else:
        _log(log, f"reviewed {row['sha256']} {row['name']} errors={row['errors']} warnings={row['warnings']} "
                  f"seconds={row['seconds']}")


# ---------------------------------------------------------------------------------------------- summaries

SUMMARY_COLUMNS = ["文件", "机关", "年度", "格式", "发布日期", "错误", "警告", "主要问题", "状态", "sha256"]


def load_result(out: Path, sha: str) -> Optional[dict]:
    p = out / "reports" / f"{sha}.json"
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else None


def summary_rows(items: list[Item], index: dict[str, dict], status: Optional[Callable[[str], str]] = None) -> list[dict]:
    rows = []
    for it in items:
        r = index.get(it.sha256)
        if r is None:
            rows.append({"文件": it.name, "状态": "无法读取", "sha256": it.sha256})
            continue
        rows.append({"文件": it.name, "机关": r["agency"] or "", "年度": r["year"] or "", "格式": r["format"] or "",
                     "发布日期": r["published"] or "", "错误": r["errors"], "警告": r["warnings"],
                     "主要问题": r["error"] or "；".join(r["top"]),
                     "状态": "无法读取" if r["error"] else (status(it.sha256) if status else "待审核"),
                     "sha256": it.sha256})
    return rows


def write_table(rows: list[dict], columns: list[str], csv_path: Path, xlsx_path: Optional[Path] = None) -> None:
    with open(csv_path, "w", encoding="utf-8-sig", newline="") as f:  # BOM: Excel opens Chinese CSV right
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    if xlsx_path is not None:
        from openpyxl import Workbook
        from openpyxl.styles import Font
        wb = Workbook()
        ws = wb.active
        ws.title = "审核汇总"
        ws.append(columns)
        for c in ws[1]:
            c.font = Font(bold=True)
        for row in rows:
            ws.append([row.get(c, "") for c in columns])
        ws.freeze_panes = "A2"
        for col, width in zip("ABCDEFGHIJ", (40, 24, 8, 8, 12, 6, 6, 80, 10, 20)):
            ws.column_dimensions[col].width = width
        tmp = xlsx_path.with_suffix(".tmp.xlsx")
        wb.save(tmp)
        os.replace(tmp, xlsx_path)


def register(items: list[Item], out: Path, db) -> None:
    """Put the batch's reports into the sign-off queue (the UI's 批量审核 tab reads it)."""
    from review.models import ReviewResult
    for sha in dict.fromkeys(it.sha256 for it in items if it.sha256):
        r = load_result(out, sha)
        if r and not r.get("error"):
            db.register(ReviewResult.model_validate(r))


def write_summaries(items: list[Item], out: Path, db=None) -> dict:
    """summary.csv/.xlsx, region.json/.csv and items.json (the inputs in order) from the per-report JSON."""
    status = None
    if db is not None:
        from review.signoff import STATUS_ZH
        status = lambda sha: STATUS_ZH[db.status(sha)]  # noqa: E731
    _write_atomic(out / "items.json", json.dumps([{"name": it.name, "path": str(it.path), "sha256": it.sha256}
                                                  for it in items], ensure_ascii=False, indent=1))
    index = read_index(out)
    rows = summary_rows(items, index, status)
    write_table(rows, SUMMARY_COLUMNS, out / "summary.csv", out / "summary.xlsx")
    region = region_checks(items, index)
    _write_atomic(out / "region.json", json.dumps(region, ensure_ascii=False, indent=1))
    write_table(region["totals"], REGION_COLUMNS, out / "region.csv")
    return region


# ---------------------------------------------------------------------------------------------- region checks

_ROWS = ("一", "二", "三.七", "四")
REGION_COLUMNS = ["政府", "年度", "文件", "行", "政府表三总计", "所属部门合计", "部门数", "部门"]


def _gov_prefix(agency: str) -> str:
    """The region a government's name stands for: 'XX区人民政府' -> 'XX区'."""
    return agency_key(agency)


def region_checks(items: list[Item], index: dict[str, dict]) -> dict:
    """Across the batch: reports of one agency and year in different versions; a government's 表三 totals
    beside the sum of its departments' (information: a government's report covers its own office unless it says otherwise)."""
    results = {}
    for it in items:
        r = index.get(it.sha256)
        if r and not r["error"] and it.sha256 not in results:
            results[it.sha256] = (it.name, r)
    by_key: dict[tuple, list] = {}
    for sha, (name, r) in results.items():
        if r["agency"] and r["year"]:
            by_key.setdefault((agency_key(r["agency"]), r["year"]), []).append((name, sha))
    versions = [{"agency": k[0], "year": k[1], "files": [n for n, _ in v], "sha256": [s for _, s in v],
                 "message": f"{k[0]} {k[1]} 年度年报在本批中有 {len(v)} 个不同版本（发布后被修改，或不同网站的两份副本），请核对以哪一份为准。"}
                for k, v in sorted(by_key.items()) if len(v) > 1]
    totals = []
    govs = [(sha, name, r) for sha, (name, r) in results.items() if r["agency_kind"] == "government"]
    for sha, name, g in govs:
        prefix, year = _gov_prefix(g["agency"]), g["year"]
        depts = [r for s, (n, r) in results.items() if s != sha and r["year"] == year
                 and r["agency_kind"] == "department" and (r["agency"] or "").startswith(prefix)]
        if not depts:
            continue
        for row in _ROWS:
            own = g["t3_totals"].get(row)
            vals = [r["t3_totals"].get(row) for r in depts]
            totals.append({"政府": g["agency"], "年度": year, "文件": name, "行": row,
                           "政府表三总计": own if own is not None else "",
                           "所属部门合计": sum(vals) if all(v is not None for v in vals) else "",
                           "部门数": len(depts), "部门": "、".join(r["agency"] for r in depts)})
    return {"versions": versions, "totals": totals}


# ---------------------------------------------------------------------------------------------- optional LLM pass

def run_llm(items: list[Item], out: Path, explain: bool, draft: bool, concurrency: int = 2, assistant=None,
            progress: Optional[Callable[[int, int, dict], None]] = None) -> dict:
    """Explanations and/or part 五 drafts for the reviewed reports, at most `concurrency` LLM requests at a time.
    Written to explanations/<sha>.json and drafts/<sha>.json; a report already done is not asked again (and the
    LLM cache means a repeated request is never paid for twice)."""
    from concurrent.futures import ThreadPoolExecutor

    from review.llm.service import Assistant
    a = assistant or Assistant()
    jobs = []
    seen = set()
    for it in items:
        if not it.sha256 or it.sha256 in seen or not (out / "reports" / f"{it.sha256}.json").exists():
            continue
        seen.add(it.sha256)
        if explain and not (out / "explanations" / f"{it.sha256}.json").exists():
            jobs.append(("explanations", it))
        if draft and not (out / "drafts" / f"{it.sha256}.json").exists():
            jobs.append(("drafts", it))
    for kind in ("explanations", "drafts"):
        (out / kind).mkdir(exist_ok=True)

    def work(job):
        kind, it = job
        rv = a.review(it.path, name=it.name)
        if rv.result.error:
            return kind, it, None
        if kind == "explanations":
            data = {"llm": a.status(), "explanations": [e.model_dump(mode="json") for e in a.explain_all(rv)]}
        else:
            d = a.draft(rv)
            data = {"llm": a.status(), "draft": d.model_dump(mode="json"), "text": d.text()}
        _write_atomic(out / kind / f"{it.sha256}.json", json.dumps(data, ensure_ascii=False, indent=1))
        return kind, it, data

    done = 0
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        for kind, it, _ in pool.map(work, jobs):
            done += 1
            if progress:
                progress(done, len(jobs), {"name": it.name, "kind": kind})
    return {"jobs": len(jobs), "llm": a.status()}


def load_items(out: Path) -> list[Item]:
    """The inputs of the batch run in `out`, in order (for exports after the reviewers have decided)."""
    p = Path(out) / "items.json"
    if not p.exists():
        raise ReviewError(f"{out} 不是批量审核的输出目录（缺少 items.json）：请先运行 review batch … --out {out}",
                          f"{out} is not a batch output folder (no items.json): run review batch ... --out {out} first")
    return [Item(name=i["name"], path=Path(i["path"]), sha256=i["sha256"]) for i in json.loads(p.read_text("utf-8"))]


def export(out: Union[str, os.PathLike], db=None, memos: bool = True) -> list[Path]:
    """Rebuild the summary with the current sign-off status and write a memo per report (Markdown, DOCX)."""
    from review.memo import write_memos
    out = Path(out)
    items = load_items(out)
    write_summaries(items, out, db)
    written = [out / "summary.xlsx", out / "summary.csv"]
    if memos:
        results = [r for sha in dict.fromkeys(i.sha256 for i in items if i.sha256)
                   for r in [load_result(out, sha)] if r and not r.get("error")]
        written += write_memos(out, results, db)
    return written
