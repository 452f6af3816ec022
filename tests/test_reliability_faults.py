"""The fault suite: injected faults the batch run, `review check` and the sign-off store must survive.

Each test injects one fault and asserts what must hold after it: a killed worker, a file over the time limit, two
batches on one output, the batch process killed (its workers must end too), missing/special/dangling inputs, FIFOs
and /dev/zero given to `review check`, eight processes opening a new sign-off database at once, a damaged or
read-only database, and tampering with the decision log. docs/reliability.md lists them with the figures.
"""
from __future__ import annotations

import csv
import json
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from review import batch
from review.models import ReviewError
from review.signoff import SignoffDB

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "fixtures"
TXT = [FIX / "002_f86e26e747344a50.txt", FIX / "004_0c9827e6b67986f5.txt"]
PG_URL = os.environ.get("REVIEW_TEST_PG_URL", "").strip()
REVIEW = [sys.executable, "-m", "review.cli"]


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory) -> list[Path]:
    """Slow but good inputs (a PDF takes a second or two to read): rendered seeds."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import fixturegen
    d = tmp_path_factory.mktemp("pdfs")
    return [fixturegen.render(seed, "pdf", d) for seed in fixturegen.SEEDS[:3]]


def _spawn(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([*REVIEW, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            start_new_session=True, **kw)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state and "\nState:\tX" not in state


def _summary(out: Path) -> list[dict]:
    with open(out / "summary.csv", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------------------------- batch

def _long_pdf(path: Path, pages: int = 12) -> Path:
    """A long report-like PDF (within the page limit) whose reading takes a few seconds: a worker to kill."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path), pagesize=A4)
    for page in range(pages):
        c.setFont("STSong-Light", 10)
        if page == 0:
            c.drawString(40, 815, "某某市某某局2020年政府信息公开工作年度报告")
        for i in range(60):
            c.drawString(40, 800 - 13 * i, f"第{page + 1}页第{i + 1}行：本机关依法做好政府信息公开工作，全年主动公开政府信息{i}条。")
        c.showPage()
    c.save()
    return path


def test_a_killed_worker_marks_its_file_unreadable_and_the_run_goes_on(pdfs, tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    _long_pdf(inp / "a_long.pdf")  # sorted first: the first worker reads it, long enough to be seen and killed
    for p in pdfs:
        (inp / f"b_{p.name}").write_bytes(p.read_bytes())
    for p in TXT:
        (inp / p.name).write_bytes(p.read_bytes())
    out = tmp_path / "out"
    proc = _spawn("batch", str(inp), "--out", str(out), "--workers", "1")
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline and proc.poll() is None:
        for child in _children(proc.pid):
            time.sleep(0.2)  # a worker that still lives after this is reading the long PDF
            if _alive(child):
                os.kill(child, signal.SIGKILL)  # the fault: a worker dies (OOM killer, a crash)
                killed = child
                break
        time.sleep(0.02)
    _, stderr = proc.communicate(timeout=180)
    assert killed is not None, "no worker was seen"
    assert "Traceback" not in stderr and "BrokenProcessPool" not in stderr
    rows = _summary(out)
    assert len(rows) == 6
    dead = [r for r in rows if r["状态"] == "无法读取"]
    assert len(dead) == 1 and "异常退出" in dead[0]["主要问题"] and "signal 9" in dead[0]["主要问题"]
    assert all(r["机关"] for r in rows if r["状态"] != "无法读取")  # the other four were reviewed
    assert proc.returncode == 2


def test_a_file_over_the_time_limit_is_stopped_and_resumed_runs_still_say_so(tmp_path, monkeypatch):
    stuck = tmp_path / "stuck.txt"
    stuck.write_bytes(TXT[1].read_bytes())
    real = batch.review_one

    def review_one(path, name, out):  # the fault: a reader stuck on this file (the forked worker inherits it)
        if name.endswith("stuck.txt"):
            time.sleep(120)
        return real(path, name, out)
    monkeypatch.setattr(batch, "review_one", review_one)
    out = tmp_path / "out"
    t0 = time.monotonic()
    rep = batch.run([stuck, TXT[0]], out, workers=2, timeout=2.0)
    assert time.monotonic() - t0 < 60
    slow, fast = rep.items
    rows = {r["文件"]: r for r in _summary(out)}
    assert rows[str(slow.path)]["状态"] == "无法读取" and "超时" in rows[str(slow.path)]["主要问题"]
    assert rows[str(fast.path)]["状态"] != "无法读取" and rep.unreadable == 1
    again = batch.run([stuck, TXT[0]], out, workers=2, timeout=2.0)
    assert again.reviewed == 0 and again.unreadable == 1  # resumed: nothing redone, still unreadable
    p = subprocess.run([*REVIEW, "batch", str(stuck), str(TXT[0]), "--out", str(out)], capture_output=True,
                       text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and "无法读取" in p.stdout


def test_a_worker_over_its_memory_cap_fails_its_file_not_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv(batch.ENV_WORKER_MB, "32")  # growth allowed beyond what the worker inherited
    real = batch.review_one
    hog = tmp_path / "hog.txt"
    hog.write_bytes(TXT[1].read_bytes())

    def review_one(path, name, out):  # the fault: a reader that takes 256 MiB on this file (the worker inherits it)
        if name.endswith("hog.txt"):
            blocks = [bytearray(2**20) for _ in range(256)]
            del blocks
        return real(path, name, out)
    monkeypatch.setattr(batch, "review_one", review_one)
    t0 = time.monotonic()
    rep = batch.run([hog, TXT[0]], tmp_path / "out", workers=2, timeout=60)
    assert time.monotonic() - t0 < 60 and rep.unreadable == 1
    rows = {Path(r["文件"]).name: r for r in _summary(tmp_path / "out")}
    assert rows["hog.txt"]["状态"] == "无法读取"
    assert "MemoryError" in rows["hog.txt"]["主要问题"] or "异常退出" in rows["hog.txt"]["主要问题"]
    assert rows[TXT[0].name]["状态"] != "无法读取"  # the other file, in the same run, is reviewed


def test_a_held_output_folder_is_refused_naming_the_holder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with batch.OutputLock(out):  # this test process is "the other run"
        p = subprocess.run([*REVIEW, "batch", str(TXT[0]), "--out", str(out)], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
        assert p.returncode == 2 and f"进程 {os.getpid()}" in p.stderr and "Traceback" not in p.stderr
        assert not (out / "index.jsonl").exists()  # it wrote nothing
    p = subprocess.run([*REVIEW, "batch", str(TXT[0]), "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert p.returncode in (0, 1)  # released: the next run goes ahead


def test_two_batches_on_one_output_the_second_says_who_holds_it(pdfs, tmp_path):
    out = tmp_path / "out"
    first = _spawn("batch", *map(str, pdfs), *map(str, TXT), str(FIX), "--out", str(out), "--workers", "1")
    lock = out / batch.LOCK_NAME
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (lock.exists() and lock.read_text(encoding="utf-8").strip()):
        time.sleep(0.05)
    t0 = time.monotonic()
    second = subprocess.run([*REVIEW, "batch", *map(str, pdfs), *map(str, TXT), "--out", str(out)],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert second.returncode == 2 and time.monotonic() - t0 < 30
    assert f"进程 {first.pid}" in second.stderr and "开始于" in second.stderr and "Traceback" not in second.stderr
    first.communicate(timeout=300)
    assert first.returncode in (0, 1)
    index = [json.loads(x)["sha256"] for x in (out / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(index) == len(set(index)) == len(pdfs) + len(list(FIX.glob("*.*"))) - 1  # each reviewed once (no README)
    third = subprocess.run([*REVIEW, "batch", *map(str, TXT), "--out", str(out)], capture_output=True, text=True,
                           cwd=ROOT, timeout=120)
    assert third.returncode in (0, 1)  # the lock went with the first run


def test_workers_end_with_their_parent(pdfs, tmp_path):
    proc = _spawn("batch", *map(str, pdfs), "--out", str(tmp_path / "out"), "--workers", "2")
    deadline = time.monotonic() + 60
    kids: list[int] = []
    while not kids and time.monotonic() < deadline and proc.poll() is None:
        kids = [k for k in _children(proc.pid) if _alive(k)]
        time.sleep(0.02)
    assert kids, "no worker was seen"
    os.kill(proc.pid, signal.SIGKILL)  # only the parent: the workers are not signalled by the test
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_alive(k) for k in kids):
        time.sleep(0.05)
    assert not any(_alive(k) for k in kids)


def test_missing_special_dangling_and_refused_inputs_are_listed_and_the_rest_reviewed(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    os.mkfifo(d / "pipe.txt")
    os.symlink("/dev/zero", d / "zero.txt")
    os.symlink(tmp_path / "gone.txt", d / "dangling.pdf")
    (d / "good.txt").write_bytes(TXT[0].read_bytes())
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../x.txt", "escaped")
    out = tmp_path / "out"
    t0 = time.monotonic()
    p = subprocess.run([*REVIEW, "batch", str(d), str(tmp_path / "missing.txt"), str(evil), "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert time.monotonic() - t0 < 100 and p.returncode == 2 and "Traceback" not in p.stderr
    rows = {Path(r["文件"]).name: r for r in _summary(out)}
    assert "命名管道" in rows["pipe.txt"]["主要问题"] and "设备" in rows["zero.txt"]["主要问题"]
    assert "符号链接" in rows["dangling.pdf"]["主要问题"] and "找不到" in rows["missing.txt"]["主要问题"]
    assert "越出目录" in rows["evil.zip"]["主要问题"]
    assert rows["good.txt"]["状态"] == "待审核" and rows["good.txt"]["机关"]
    assert sum(r["状态"] == "无法读取" for r in rows.values()) == 5


def test_review_check_never_hangs_on_a_fifo_or_dev_zero(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    os.symlink("/dev/zero", tmp_path / "zero.txt")
    t0 = time.monotonic()
    p = subprocess.run([*REVIEW, "check", "--json", str(tmp_path / "pipe.txt"), str(tmp_path / "zero.txt"),
                        str(TXT[0])], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert time.monotonic() - t0 < 30 and p.returncode == 2
    results = json.loads(p.stdout)
    assert [bool(r["error"]) for r in results] == [True, True, False]
    assert "命名管道" in results[0]["error"] and "设备" in results[1]["error"] and "Traceback" not in p.stderr


# ----------------------------------------------------------------------------------------------- sign-off

def _open_and_record(url: str, n: int, barrier, errors) -> None:
    try:
        barrier.wait(30)
        with SignoffDB(url) as db:
            db.record(reviewer=f"审核员{n}", report_sha256="a" * 64, source="x.txt", kind="report", action="approve")
    except Exception as e:  # noqa: BLE001 - reported to the test
        errors.put(f"{n}: {type(e).__name__}: {e}")


def _eight_at_once(url: str) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier, errors = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_open_and_record, args=(url, n, barrier, errors)) for n in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    assert not failures and all(p.exitcode == 0 for p in procs), failures
    with SignoffDB(url) as db:
        audit = db.verify()
        assert audit.ok and audit.rows == 8 and audit.triggers  # one chain, no fork


def test_eight_processes_open_a_new_sqlite_database_at_once(tmp_path):
    for round_ in range(3):
        _eight_at_once(f"sqlite:///{tmp_path / f'new{round_}.sqlite'}")


@pytest.mark.skipif(not PG_URL, reason="REVIEW_TEST_PG_URL is not set (no PostgreSQL server for the tests)")
def test_eight_processes_open_a_new_postgresql_schema_at_once():
    import uuid
    schema = f"reliability_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        url_text = url.render_as_string(hide_password=False)
        _eight_at_once(url_text)
        with SignoffDB(url_text) as db, db._engine.connect() as conn:
            for stmt in ("UPDATE decisions SET reviewer = 'x'", "DELETE FROM decisions", "TRUNCATE decisions"):
                with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                    conn.execute(sa.text(stmt))
                conn.rollback()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_a_damaged_database_is_named_with_what_to_do(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ReviewError) as e:
        SignoffDB(f"sqlite:///{junk}")
    assert str(junk) in e.value.message and "备份" in e.value.message and "损坏" in e.value.message
    # a real database torn in half: its header is there, its pages are not
    torn = tmp_path / "torn.sqlite"
    with SignoffDB(f"sqlite:///{torn}") as db:
        for i in range(300):
            db.record(reviewer="张三", report_sha256=f"{i:064d}", source="x" * 200, kind="report", action="approve")
    with sqlite3.connect(torn) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = torn.read_bytes()
    torn.write_bytes(data[: len(data) // 3])
    with pytest.raises(ReviewError) as e:
        with SignoffDB(f"sqlite:///{torn}") as db:
            db.decisions()
    assert str(torn) in e.value.message
    for bad in (junk, torn):
        p = subprocess.run([*REVIEW, "audit", "verify", "--db", f"sqlite:///{bad}"], capture_output=True, text=True,
                           cwd=ROOT, timeout=60)
        assert p.returncode == 2 and str(bad) in p.stderr and "Traceback" not in p.stderr
    missing = tmp_path / "typo.sqlite"
    p = subprocess.run([*REVIEW, "audit", "verify", "--db", f"sqlite:///{missing}"], capture_output=True, text=True,
                       cwd=ROOT, timeout=60)
    assert p.returncode == 2 and "找不到" in p.stderr and not missing.exists()  # verifying creates nothing


def test_a_read_only_database_reads_and_refuses_writes_plainly(tmp_path):
    path = tmp_path / "s.sqlite"
    with SignoffDB(f"sqlite:///{path}") as db:
        db.record(reviewer="张三", report_sha256="a" * 64, source="x", kind="report", action="approve")
    with sqlite3.connect(path) as c:
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    ro = f"sqlite:///file:{path}?mode=ro&uri=true"
    with SignoffDB(ro) as db:
        assert len(db.decisions()) == 1 and db.verify().ok  # reading works
        with pytest.raises(ReviewError) as e:
            db.record(reviewer="李四", report_sha256="a" * 64, source="x", kind="report", action="approve")
        assert "只读" in e.value.message and str(path) in e.value.message


def test_tampering_is_refused_and_what_gets_through_is_detected(tmp_path):
    path = tmp_path / "s.sqlite"
    url = f"sqlite:///{path}"
    with SignoffDB(url) as db:
        for i in range(5):
            db.record(reviewer="张三", report_sha256="a" * 64, source="x", kind="finding", action="dismiss",
                      fingerprint=f"f{i}", comment="已核实")
        assert db.verify().ok
    c = sqlite3.connect(path)
    for stmt in ("UPDATE decisions SET comment = '改' WHERE id = 2", "DELETE FROM decisions WHERE id = 3"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            c.execute(stmt)
    # someone with the file drops the triggers and edits anyway: the chain shows where
    c.execute("DROP TRIGGER decisions_no_update")
    c.execute("DROP TRIGGER decisions_no_delete")
    c.execute("UPDATE decisions SET comment = '改' WHERE id = 2")
    c.execute("DELETE FROM decisions WHERE id = 4")
    c.commit()
    c.close()
    with SignoffDB(url) as db:
        audit = db.verify()
    assert not audit.ok and {b["id"] for b in audit.breaks} == {2, 5}
    p = subprocess.run([*REVIEW, "audit", "verify", "--db", url], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert p.returncode == 1 and "第 2 条" in p.stderr and "第 5 条" in p.stderr


def test_an_older_database_is_chained_on_upgrade(tmp_path):
    path = tmp_path / "old.sqlite"
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, reviewer TEXT NOT NULL,"
              " report_sha256 VARCHAR(64) NOT NULL, source TEXT NOT NULL, kind VARCHAR(16) NOT NULL,"
              " action VARCHAR(16) NOT NULL, fingerprint TEXT, comment TEXT NOT NULL, payload TEXT NOT NULL)")
    c.execute("INSERT INTO decisions (at, reviewer, report_sha256, source, kind, action, comment, payload) VALUES "
              "('2026-01-01T00:00:00+00:00', '张三', ?, 'x', 'report', 'approve', '', '{}')", ("a" * 64,))
    c.commit()
    c.close()
    with SignoffDB(f"sqlite:///{path}") as db:
        db.record(reviewer="李四", report_sha256="a" * 64, source="x", kind="report", action="approve")
        audit = db.verify()
    assert audit.ok and audit.rows == 2 and audit.unchained == 0
