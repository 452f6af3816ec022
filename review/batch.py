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

Robust: every file is reviewed in its own forked worker process with a time limit ($REVIEW_BATCH_TIMEOUT, default
120 s) and a cap on how far its address space may grow ($REVIEW_BATCH_WORKER_MB, default 4096); a worker that dies or runs out of time
marks that file unreadable and the run goes on. Missing paths, special files (FIFOs, devices, links to them),
dangling links and refused zip archives are listed as unreadable with the reason; the rest is reviewed. Workers
end with their parent (PR_SET_PDEATHSIG). One run at a time per output folder: `.batch.lock` (an flock, released
by the kernel when its holder dies) says which run holds it.
"""
from __future__ import annotations

import csv
import fcntl
import hashlib
import json
import multiprocessing
import os
import signal
import socket
import stat
import sys
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Optional, Union

from review.agency import agency_key
from review.api import SUPPORTED
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
    error: str = ""  # why it cannot be read at all (missing, a special file, a refused zip): not given to a worker
    refusal: Optional["BatchInputError"] = field(default=None, repr=False)  # a zip archive refused whole


@dataclass
class BatchReport:
    items: list[Item]
    reviewed: int = 0  # reviewed in this run
    skipped: int = 0  # already done before (resumed)
    failed: int = 0  # could not be read (in this run)
    unreadable: int = 0  # inputs the summary lists as unreadable (this run and earlier ones): exit status 2
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


def unreadable_reason(path: Path) -> str:
    """Why `path` cannot be read as a file, without opening it ("" when it is a regular file). Never blocks: a
    FIFO, a device or a link to one is told by its type."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return (f"符号链接指向的文件不存在（{os.readlink(path)}） / the symbolic link points to a missing file "
                    f"({os.readlink(path)})")
        return "找不到文件：请检查路径是否正确 / file not found: check the path"
    except OSError as e:
        return f"无法读取（{e.strerror or e}）：请检查权限或链接 / cannot be read ({e.strerror or e}): check permissions or links"
    if stat.S_ISREG(st.st_mode):
        return ""
    if stat.S_ISFIFO(st.st_mode):
        return "这不是普通文件，而是命名管道（FIFO），未读取 / not a regular file but a named pipe (FIFO): not read"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return "这不是普通文件，而是设备文件，未读取 / not a regular file but a device: not read"
    if stat.S_ISDIR(st.st_mode):
        return ""
    return "这不是普通文件（套接字等特殊文件），未读取 / not a regular file (a socket or other special file): not read"


def _zip_items(z: Path, dest: Path) -> list[Item]:
    try:
        return extract_zip(z, dest)
    except BatchInputError as e:  # refused whole: listed as unreadable, the other inputs go on
        return [Item(name=str(z), path=z, error=e.message, refusal=e)]


def _walk(folder: Path, out: Path) -> list[Item]:
    """A folder's supported files and zip archives, sorted; entries of a supported name that are not regular files
    (FIFOs, devices, dangling links) are listed as unreadable with the reason."""
    inside_out = out.resolve()
    items: list[Item] = []
    zips: list[Path] = []
    for f in sorted(folder.rglob("*")):
        suffix = f.suffix.lower()
        if (suffix not in SUPPORTED and suffix != ".zip") or f.name.upper().startswith("README"):
            continue
        try:
            if inside_out in f.resolve().parents:  # never re-read the batch's own output
                continue
        except (OSError, RuntimeError):  # a link loop
            items.append(Item(name=str(f), path=f, error="符号链接循环，无法读取 / a symbolic link loop: cannot be read"))
            continue
        reason = unreadable_reason(f)
        if not reason and f.is_dir():
            continue
        if suffix == ".zip" and not reason:
            zips.append(f)
        else:
            items.append(Item(name=str(f), path=f, error=reason))
    for z in zips:
        items += _zip_items(z, out / "inputs")
    return items


def collect(paths: Iterable[Union[str, os.PathLike]], out: Path) -> list[Item]:
    """Files, folders (their supported files) and zip archives, in the order given. An input that cannot be read
    (missing, a special file, a refused zip) is an Item with `error` set, not an exception."""
    items: list[Item] = []
    for p in paths:
        p = Path(p)
        reason = unreadable_reason(p)
        if reason:
            items.append(Item(name=str(p), path=p, error=reason))
        elif p.is_dir():
            items += _walk(p, out)
        elif p.suffix.lower() == ".zip":
            items += _zip_items(p, out / "inputs")
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


ENV_TIMEOUT = "REVIEW_BATCH_TIMEOUT"  # seconds per file
ENV_WORKER_MB = "REVIEW_BATCH_WORKER_MB"  # address-space cap of a worker
LOCK_NAME = ".batch.lock"


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, "") or default)
    except ValueError:
        return default
    return value if value > 0 else default


class OutputLock:
    """One batch run per output folder: an exclusive flock on out/.batch.lock holding the run's pid, host, start
    time and command. The kernel releases it when the holder ends, however it ends (kill -9 included)."""

    def __init__(self, out: Path):
        self.path = out / LOCK_NAME
        self.fd: Optional[int] = None

    def __enter__(self) -> "OutputLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
            except ValueError:
                holder = {}
            os.close(fd)
            who = (f"进程 {holder.get('pid', '?')}（{holder.get('host', '?')}，开始于 {holder.get('started', '?')}）")
            who_en = (f"process {holder.get('pid', '?')} on {holder.get('host', '?')}, started "
                      f"{holder.get('started', '?')}")
            raise BatchInputError(f"输出目录 {self.path.parent} 正被另一次批量审核使用：{who}。请等它结束，或换一个 --out 目录",
                                  f"The output folder {self.path.parent} is in use by another batch run ({who_en}): "
                                  "wait for it to end or use another --out folder", str(self.path.parent))
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "argv": sys.argv[:8]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info, ensure_ascii=False).encode("utf-8"), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _die_with_parent(parent: int) -> None:
    """In a worker: be killed when the batch process ends, even by kill -9 (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent ended before the call above
        os._exit(1)


def _worker(conn, path: str, name: str, out: str, parent: int, memory_mb: float) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:  # the cap is on growth: a worker forked from a large process (the UI) keeps what it inherited
        import resource
        with open("/proc/self/statm") as f:
            inherited = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        cap = inherited + int(memory_mb * 1024 * 1024)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ImportError, ValueError, OSError):
        pass
    try:
        conn.send(("ok", review_one(path, name, out)))
    except BaseException as e:  # noqa: BLE001 - reported to the parent as this file's failure
        try:
            conn.send(("error", f"{type(e).__name__}: {e}"[:500]))
        except Exception:
            pass
    finally:
        conn.close()


def _failed_row(it: Item, out: Path, zh: str, en: str) -> dict:
    """The row (and report JSON, so a resumed run keeps it) of a file no worker could review."""
    from review.api import failed
    from review.models import IngestError
    result = failed(it.name, IngestError(zh, en, it.name))
    data = result.model_dump(mode="json")
    data["sha256"] = it.sha256
    _write_atomic(out / "reports" / f"{it.sha256}.json", json.dumps(data, ensure_ascii=False))
    return {**_row(result, it.sha256), "name": it.name, "seconds": 0.0}


def _run_workers(todo: list[Item], out: Path, workers: int, timeout: float, memory_mb: float, on_row) -> None:
    """Each file in its own forked process, at most `workers` at a time; a death or a timeout fails that file."""
    import review.api  # noqa: F401 - loaded once here, inherited by every forked worker
    from multiprocessing.connection import wait as mp_wait
    ctx = multiprocessing.get_context("fork")
    queue = list(todo)
    running: dict = {}  # conn -> (process, item, deadline)
    parent = os.getpid()
    try:
        while queue or running:
            while queue and len(running) < workers:
                it = queue.pop(0)
                here, there = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_worker, args=(there, str(it.path), it.name, str(out), parent, memory_mb),
                                   daemon=True)
                proc.start()
                there.close()
                running[here] = (proc, it, time.monotonic() + timeout)
            soonest = min(d for _, _, d in running.values())
            ready = mp_wait(list(running), timeout=max(0.0, soonest - time.monotonic()) + 0.05)
            for conn in list(running):
                proc, it, deadline = running[conn]
                row = None
                if conn in ready:
                    try:
                        kind, payload = conn.recv()
                    except (EOFError, OSError):  # the worker died before it could say anything
                        proc.join(5)
                        code = proc.exitcode
                        how = f"信号 {-code}" if code is not None and code < 0 else f"退出码 {code}"
                        how_en = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                        row = _failed_row(it, out, f"审核进程异常退出（{how}，可能内存不足或文件异常）：该文件未能审核，请检查文件后重试",
                                          f"the worker reviewing this file died ({how_en}; out of memory or a hostile "
                                          "file): not reviewed, check the file and try again")
                    else:
                        if kind == "ok":
                            row = payload
                        else:
                            row = _failed_row(it, out, f"审核时出错（{payload}）：该文件未能审核",
                                              f"reviewing this file failed ({payload})")
                elif time.monotonic() > deadline:
                    proc.kill()
                    row = _failed_row(it, out, f"审核超时（超过 {timeout:g} 秒），已停止：文件可能过大或异常；"
                                               f"可用环境变量 {ENV_TIMEOUT} 调整时限",
                                      f"reviewing this file took over {timeout:g} s and was stopped (too large or "
                                      f"hostile); {ENV_TIMEOUT} sets the limit")
                if row is not None:
                    del running[conn]
                    conn.close()
                    proc.join(5)
                    on_row(row)
    finally:
        for conn, (proc, _, _) in running.items():  # interrupted: no worker outlives the run
            proc.kill()
            proc.join(5)
            conn.close()


def run(paths: Iterable[Union[str, os.PathLike]], out: Union[str, os.PathLike], workers: Optional[int] = None,
        progress: Optional[Callable[[int, int, dict], None]] = None, db=None,
        timeout: Optional[float] = None) -> BatchReport:
    """Review every report under `paths` into `out`; `progress(done, total, row)` after each report.
    With a sign-off database (review.signoff.SignoffDB), every report is registered in its queue and the
    summary shows each report's sign-off status. `timeout`: seconds per file (default $REVIEW_BATCH_TIMEOUT or
    120). Raises BatchInputError when another run holds the output folder."""
    out = Path(out)
    (out / "reports").mkdir(parents=True, exist_ok=True)
    with OutputLock(out):
        return _run(paths, out, workers, progress, db, timeout)


def _run(paths, out: Path, workers, progress, db, timeout) -> BatchReport:
    t0 = time.perf_counter()
    items = collect(paths, out)
    refused = [it.refusal for it in items if it.refusal is not None]
    if refused and all(it.error for it in items):
        raise refused[0]  # nothing to review but a hostile archive: the batch is refused whole, as the archive is
    for it in items:
        if not it.error:
            it.error = unreadable_reason(it.path)  # checked again: never open a FIFO to hash it
        if not it.error:
            try:
                it.sha256 = _sha(it.path)
            except OSError as e:
                it.error = f"无法读取（{e.strerror or e}） / cannot be read ({e.strerror or e})"
    report = BatchReport(items=items, out=out)
    done_before = read_index(out)
    todo: dict[str, Item] = {}
    for it in items:
        if it.error or it.sha256 in done_before:
            continue
        todo.setdefault(it.sha256, it)  # the same bytes twice are reviewed once
    report.skipped = len({it.sha256 for it in items if it.sha256} - set(todo))
    log = open(out / "run.log", "a", encoding="utf-8")
    index = open(out / "index.jsonl", "a", encoding="utf-8")
    _log(log, f"start pid={os.getpid()} rules_version={RULES_VERSION} inputs={len(items)} to_review={len(todo)} "
              f"skipped={report.skipped}")
    for it in items:
        if it.error:
            _log(log, f"unreadable {it.name}: {it.error}")
    done = len(items) - len(todo)
    workers = workers or os.cpu_count() or 1
    timeout = timeout or _env_number(ENV_TIMEOUT, 120.0)

    def on_row(row: dict) -> None:
        nonlocal done
        done += 1
        _record(report, log, index, row)
        if progress:
            progress(done, len(items), row)
    try:
        _run_workers(list(todo.values()), out, workers, timeout, _env_number(ENV_WORKER_MB, 4096.0), on_row)
    except KeyboardInterrupt:
        _log(log, "interrupted: what was written is kept; run the same command again to continue")
        raise
    finally:
        index.close()
    if db is not None:
        register(items, out, db)
    report.region = write_summaries(items, out, db)
    report.unreadable = sum(r["状态"] == "无法读取" for r in summary_rows(items, read_index(out)))
    report.seconds = time.perf_counter() - t0
    _log(log, f"end reviewed={report.reviewed} failed={report.failed} unreadable={report.unreadable} "
              f"seconds={report.seconds:.1f}")
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

SIGNOFF_COLUMNS = ["审核人", "审核时间", "结论", "意见", "未更正错误"]  # with a sign-off database (review.memo)
SUMMARY_COLUMNS = ["文件", "机关", "年度", "格式", "发布日期", "错误", "警告", "主要问题", "状态", "sha256"]


def load_result(out: Path, sha: str) -> Optional[dict]:
    p = out / "reports" / f"{sha}.json"
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else None


def summary_rows(items: list[Item], index: dict[str, dict], status: Optional[Callable[[str], str]] = None,
                 signoff: Optional[Callable[[str], dict]] = None) -> list[dict]:
    """A row per input; `signoff(sha)` adds the sign-off columns (SIGNOFF_COLUMNS) when given."""
    rows = []
    for it in items:
        r = index.get(it.sha256) if not it.error else None
        if r is None:
            rows.append({"文件": it.name, "状态": "无法读取", "主要问题": it.error or "未能审核 / not reviewed",
                         "sha256": it.sha256})
            continue
        rows.append({"文件": it.name, "机关": r["agency"] or "", "年度": r["year"] or "", "格式": r["format"] or "",
                     "发布日期": r["published"] or "", "错误": r["errors"], "警告": r["warnings"],
                     "主要问题": r["error"] or "；".join(r["top"]),
                     "状态": "无法读取" if r["error"] else (status(it.sha256) if status else "待审核"),
                     "sha256": it.sha256, **(signoff(it.sha256) if signoff and not r["error"] else {})})
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
        ws.auto_filter.ref = ws.dimensions  # filters on every column
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
    _write_atomic(out / "items.json", json.dumps([{"name": it.name, "path": str(it.path), "sha256": it.sha256,
                                                   "error": it.error} for it in items], ensure_ascii=False, indent=1))
    index = read_index(out)
    signoff = None
    if db is not None:
        from review.memo import signoff_summary
        signoff = lambda sha: signoff_summary(load_result(out, sha), db, sha)  # noqa: E731
    rows = summary_rows(items, index, status, signoff)
    columns = SUMMARY_COLUMNS + (SIGNOFF_COLUMNS if db is not None else [])
    write_table(rows, columns, out / "summary.csv", out / "summary.xlsx")
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
    return [Item(name=i["name"], path=Path(i["path"]), sha256=i["sha256"], error=i.get("error", ""))
            for i in json.loads(p.read_text("utf-8"))]


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
