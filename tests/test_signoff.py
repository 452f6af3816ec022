"""The sign-off record (review.signoff) and the users file (review.users).

Every SignoffDB test runs on a real SQLite file in tmp_path, and again on PostgreSQL when
$REVIEW_TEST_PG_URL names a database (e.g. postgresql+psycopg://root@/review_test?host=/var/run/postgresql,
as .ci/run sets it up): each PostgreSQL test gets a schema of its own, dropped afterwards.
"""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from review import check
from review.models import ReviewError
from review.signoff import STATUS_ZH, Decision, ReportRow, SignoffDB
from review.users import Users, check_bind, users_main

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "fixtures" / "002_f86e26e747344a50.txt"
PG_URL = os.environ.get("REVIEW_TEST_PG_URL", "").strip()
CJK = re.compile(r"[\u4e00-\u9fff]")

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="REVIEW_TEST_PG_URL is not set (no PostgreSQL server for the tests)"))]


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'signoff.sqlite'}"
        return
    schema = f"signoff_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db(db_url):
    d = SignoffDB(db_url)
    yield d
    d.close()


@pytest.fixture(scope="module")
def result():
    return check(str(FIXTURE))


def _failing(result):
    return [f for f in result.findings if f.status == "fail"]


def _subprocess_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


# --------------------------------------------------------------------------- register / record / read

def test_register_counts_failing_errors_and_warnings_and_is_not_a_decision(db, result):
    row = db.register(result)
    assert isinstance(row, ReportRow)
    assert row.sha256 == result.sha256 and row.source == result.source
    assert (row.agency, row.year, row.format) == (result.meta.agency, result.meta.year, result.meta.format)
    assert row.errors == len(result.errors) and row.warnings == len(result.warnings)
    assert row.errors > 0  # the fixture has errors, so the count is tested for real
    assert row.status == "pending"
    assert db.decisions() == [] and db.status(result.sha256) == "pending"
    datetime.fromisoformat(row.registered_at)

    again = db.register(result)  # re-registering the same version: one row, first registration time kept
    assert again.registered_at == row.registered_at
    assert [r.sha256 for r in db.reports()] == [result.sha256]
    assert [r.sha256 for r in db.reports("pending")] == [result.sha256]
    assert db.reports("approved") == []


def test_record_returns_the_stored_decision(db, result):
    db.register(result)
    f = _failing(result)[0]
    dec = db.record(reviewer=" 张三 ", report_sha256=result.sha256, source=result.source, kind="finding",
                    action="confirm", fingerprint=f.fingerprint, payload={"说明": "数据有误", "n": 3})
    assert isinstance(dec, Decision) and dec.id >= 1
    assert dec.reviewer == "张三" and dec.kind == "finding" and dec.action == "confirm"
    assert dec.fingerprint == f.fingerprint and dec.payload == {"说明": "数据有误", "n": 3}
    at = datetime.fromisoformat(dec.at)
    assert at.utcoffset().total_seconds() == 0 and abs((datetime.now(timezone.utc) - at).total_seconds()) < 60
    assert db.decisions(result.sha256) == [dec]
    assert db.decisions() == [dec]
    assert db.decisions("0" * 64) == []
    cur = db.current(result.sha256)
    assert cur == {"findings": {f.fingerprint: dec}, "report": None, "draft": None}
    assert db.status(result.sha256) == "pending"  # a finding decision does not sign the report off

    ok = db.record(reviewer="李四", report_sha256=result.sha256, source=result.source, kind="report",
                   action="approve")
    assert ok.id > dec.id
    assert db.status(result.sha256) == "approved"
    assert db.current(result.sha256)["report"] == ok
    assert [r.status for r in db.reports()] == ["approved"]
    assert STATUS_ZH[db.status(result.sha256)] == "已通过"


BAD = [
    ({"kind": "verdict", "action": "confirm", "fingerprint": "x"}, "未知"),
    ({"kind": "finding", "action": "approve", "fingerprint": "x"}, "不支持"),
    ({"kind": "report", "action": "dismiss"}, "不支持"),
    ({"kind": "draft", "action": "return"}, "不支持"),
    ({"kind": "finding", "action": "confirm", "reviewer": ""}, "审核人"),
    ({"kind": "finding", "action": "confirm", "fingerprint": "x", "reviewer": "   "}, "审核人"),
    ({"kind": "finding", "action": "confirm"}, "fingerprint"),
    ({"kind": "finding", "action": "dismiss", "fingerprint": "x"}, "理由"),
    ({"kind": "finding", "action": "dismiss", "fingerprint": "x", "comment": "  "}, "理由"),
    ({"kind": "report", "action": "return"}, "理由"),
    ({"kind": "report", "action": "approve", "report_sha256": ""}, "sha256"),
    ({"kind": "report", "action": "approve", "payload": {"x": object()}}, "JSON"),
]


@pytest.mark.parametrize("bad,needle", BAD)
def test_invalid_decisions_are_refused_in_chinese_and_nothing_is_written(db, result, bad, needle):
    args = {"reviewer": "张三", "report_sha256": result.sha256, "source": result.source, **bad}
    with pytest.raises(ReviewError) as e:
        db.record(**args)
    assert CJK.search(e.value.zh), e.value.zh
    assert needle in e.value.zh
    assert e.value.en and e.value.zh in str(e.value)
    assert db.decisions() == []


def test_dismiss_needs_a_reason_and_is_kept_with_it(db, result):
    f = _failing(result)[0]
    common = dict(reviewer="张三", report_sha256=result.sha256, source=result.source, fingerprint=f.fingerprint)
    with pytest.raises(ReviewError, match="驳回审核意见时必须填写理由"):
        db.record(kind="finding", action="dismiss", **common)
    dec = db.record(kind="finding", action="dismiss", comment="该项在附表中已说明", **common)
    assert dec.comment == "该项在附表中已说明"
    with pytest.raises(ReviewError, match="退回修改时必须填写理由"):
        db.record(reviewer="张三", report_sha256=result.sha256, source=result.source, kind="report", action="return")
    assert db.decisions() == [dec]


def test_latest_decision_wins_while_the_log_keeps_every_one(db, result):
    db.register(result)
    f, g = _failing(result)[:2]
    base = dict(report_sha256=result.sha256, source=result.source)
    d1 = db.record(reviewer="张三", kind="finding", action="confirm", fingerprint=f.fingerprint, **base)
    d2 = db.record(reviewer="李四", kind="finding", action="dismiss", fingerprint=f.fingerprint,
                   comment="口径不同，不构成错误", **base)
    d3 = db.record(reviewer="张三", kind="finding", action="confirm", fingerprint=g.fingerprint, **base)
    r1 = db.record(reviewer="张三", kind="report", action="return", comment="请修改表三", **base)
    assert db.status(result.sha256) == "returned"
    r2 = db.record(reviewer="李四", kind="report", action="approve", **base)
    a1 = db.record(reviewer="张三", kind="draft", action="approve", payload={"part": 5}, **base)
    a2 = db.record(reviewer="张三", kind="draft", action="reject", comment="措辞不当", **base)

    cur = db.current(result.sha256)
    assert cur["findings"] == {f.fingerprint: d2, g.fingerprint: d3}
    assert cur["report"] == r2 and cur["draft"] == a2
    assert db.status(result.sha256) == "approved"
    log = db.decisions(result.sha256)
    assert log == [d1, d2, d3, r1, r2, a1, a2]  # nothing overwritten, oldest first
    assert [d.id for d in log] == sorted({d.id for d in log})

    r3 = db.record(reviewer="王五", kind="report", action="return", comment="复核发现问题", **base)
    assert db.status(result.sha256) == "returned" and db.current(result.sha256)["report"] == r3
    assert [r.status for r in db.reports("returned")] == ["returned"]
    assert len(db.decisions()) == 8


def test_decisions_survive_a_re_review(db_url, result):
    db = SignoffDB(db_url)
    db.register(result)
    decided = {}
    for i, f in enumerate(_failing(result)):
        action = "dismiss" if i % 2 else "confirm"
        decided[f.fingerprint] = db.record(reviewer="张三", report_sha256=result.sha256, source=result.source,
                                           kind="finding", action=action, fingerprint=f.fingerprint,
                                           comment="已核实" if action == "dismiss" else "")
    assert len(decided) >= 2
    db.close()

    again = check(str(FIXTURE))  # the review run afresh: same bytes, same fingerprints
    assert again.sha256 == result.sha256
    db = SignoffDB(db_url)
    db.register(again)
    cur = db.current(again.sha256)["findings"]
    assert {f.fingerprint for f in _failing(again)} == set(cur)
    assert {fp: d.action for fp, d in cur.items()} == {fp: d.action for fp, d in decided.items()}
    assert len(db.reports()) == 1
    db.close()


def test_a_new_report_version_starts_pending_and_the_old_record_stays(db, result):
    db.register(result)
    base = dict(reviewer="张三", source=result.source)
    f = _failing(result)[0]
    db.record(report_sha256=result.sha256, kind="finding", action="confirm", fingerprint=f.fingerprint, **base)
    db.record(report_sha256=result.sha256, kind="report", action="return", comment="表格数据有误", **base)

    data = FIXTURE.read_bytes() + "\n（本报告已按审核意见修改。）\n".encode("utf-8")
    new = check(data, name=FIXTURE.name)
    assert new.sha256 != result.sha256
    row = db.register(new)
    assert row.status == "pending" and db.status(new.sha256) == "pending"
    assert db.current(new.sha256) == {"findings": {}, "report": None, "draft": None}
    assert db.status(result.sha256) == "returned"
    assert len(db.decisions(result.sha256)) == 2 and db.decisions(new.sha256) == []
    assert {r.sha256: r.status for r in db.reports()} == {result.sha256: "returned", new.sha256: "pending"}
    assert [r.sha256 for r in db.reports("pending")] == [new.sha256]


def test_a_new_process_reads_the_same_record(db_url, result):
    db = SignoffDB(db_url)
    db.register(result)
    f = _failing(result)[0]
    mine = db.record(reviewer="张三", report_sha256=result.sha256, source=result.source, kind="finding",
                     action="dismiss", fingerprint=f.fingerprint, comment="不适用", payload={"k": "值"})
    db.close()

    code = (
        "import json, sys\n"
        "from review.signoff import SignoffDB\n"
        "db = SignoffDB(sys.argv[1])\n"
        "out = {'log': [d.model_dump() for d in db.decisions(sys.argv[2])], 'status': db.status(sys.argv[2]),\n"
        "       'reports': [r.sha256 for r in db.reports()]}\n"
        "db.record(reviewer='李四', report_sha256=sys.argv[2], source='x', kind='report', action='approve')\n"
        "print(json.dumps(out, ensure_ascii=False))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, db_url, result.sha256], capture_output=True, text=True,
                          env=_subprocess_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert [Decision(**d) for d in seen["log"]] == [mine]
    assert seen["status"] == "pending" and seen["reports"] == [result.sha256]

    db = SignoffDB(db_url)  # and what the other process wrote is here after it has exited
    assert db.status(result.sha256) == "approved"
    assert [d.reviewer for d in db.decisions(result.sha256)] == ["张三", "李四"]
    db.close()


_WORKER = """
import sys, time
from review.signoff import SignoffDB
url, sha, name, n, start = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
db = SignoffDB(url)
time.sleep(max(0.0, start - time.time()))
for i in range(n):
    db.record(reviewer=name, report_sha256=sha, source="concurrent.txt", kind="finding",
              action="dismiss" if i % 2 else "confirm", fingerprint=f"fp{i % 7}", comment=f"{name}#{i}")
db.close()
"""


def test_concurrent_writers_in_processes_and_threads_lose_nothing(db_url, result):
    db = SignoffDB(db_url)
    db.register(result)
    sha = result.sha256
    if db_url.startswith("sqlite"):
        with sa.create_engine(db_url).connect() as conn:
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar().lower() == "wal"
    start = time.time() + 3.0  # everyone waits for the same moment, then writes as fast as it can
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, db_url, sha, f"进程{p}", "50", str(start)],
                              env=_subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for p in range(2)]
    errors: list[BaseException] = []

    def thread_work(t: int, target: SignoffDB) -> None:
        try:
            time.sleep(max(0.0, start - time.time()))
            for i in range(25):
                target.record(reviewer=f"线程{t}", report_sha256=sha, source="concurrent.txt", kind="finding",
                              action="dismiss" if i % 2 else "confirm", fingerprint=f"fp{i % 7}",
                              comment=f"线程{t}#{i}")
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    # Two threads share one SignoffDB (as the UI server does); two have one each.
    own = [SignoffDB(db_url), SignoffDB(db_url)]
    targets = [db, db, own[0], own[1]]
    threads = [threading.Thread(target=thread_work, args=(t, targets[t])) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert not errors, errors
    for o in own:
        o.close()

    log = db.decisions(sha)
    assert len(log) == 2 * 50 + 4 * 25
    assert len({d.id for d in log}) == len(log)
    expected = {f"进程{p}#{i}" for p in range(2) for i in range(50)} | {f"线程{t}#{i}" for t in range(4) for i in range(25)}
    assert {d.comment for d in log} == expected
    assert all(d.reviewer == d.comment.split("#")[0] for d in log)
    # each writer's own decisions are in its order in the log
    for who in [f"进程{p}" for p in range(2)] + [f"线程{t}" for t in range(4)]:
        mine = [int(d.comment.split("#")[1]) for d in log if d.reviewer == who]
        assert mine == sorted(mine)
    assert set(db.current(sha)["findings"]) == {f"fp{k}" for k in range(7)}
    db.close()


def test_default_url_comes_from_the_environment_or_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("REVIEW_DB_URL", raising=False)
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path / "data"))
    db = SignoffDB()
    assert db.url == f"sqlite:///{tmp_path / 'data' / 'signoff.sqlite'}"
    assert (tmp_path / "data" / "signoff.sqlite").exists()
    db.close()

    other = tmp_path / "elsewhere" / "team.sqlite"
    monkeypatch.setenv("REVIEW_DB_URL", f"sqlite:///{other}")
    db = SignoffDB()
    assert db.url == f"sqlite:///{other}" and other.exists()
    db.close()


@pytest.mark.parametrize("url,needle", [
    ("not a url", "地址无效"),
    ("nosuchdb+nodriver://x/y", "驱动"),
    ("sqlite://", "内存"),
])
def test_bad_database_urls_are_refused_in_chinese(url, needle):
    with pytest.raises(ReviewError) as e:
        SignoffDB(url)
    assert needle in e.value.zh


def test_reports_refuses_an_unknown_status(db):
    with pytest.raises(ReviewError, match="未知的审核状态"):
        db.reports("done")


def test_the_api_has_no_way_to_change_or_delete_a_decision():
    public = {n for n in dir(SignoffDB) if not n.startswith("_")}
    assert public == {"register", "record", "decisions", "current", "status", "reports", "close", "verify"}  # verify reads


# --------------------------------------------------------------------------- users

def test_users_add_verify_and_file_permissions(tmp_path):
    users = Users(tmp_path / "conf" / "users.json")
    assert not users.configured and users.names() == []
    assert not users.verify("zhangsan", "whatever")

    users.add("zhangsan", "正确的密码1", display="张三")
    users.add("lisi", "正确的密码1")
    assert users.configured and users.names() == ["lisi", "zhangsan"]
    assert users.verify("zhangsan", "正确的密码1")
    assert not users.verify("zhangsan", "正确的密码2")
    assert not users.verify("zhangsan", "")
    assert not users.verify("wangwu", "正确的密码1")
    assert users.display("zhangsan") == "张三" and users.display("lisi") == "lisi"

    mode = stat.S_IMODE(users.path.stat().st_mode)
    assert mode == 0o600, oct(mode)
    text = users.path.read_text(encoding="utf-8")
    assert "正确的密码1" not in text
    data = json.loads(text)["users"]
    a, b = data["zhangsan"]["password"], data["lisi"]["password"]
    assert a != b  # a random salt each
    scheme, n, r, p, salt, key = a.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2 ** 14), "8", "1")
    import base64
    assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(key)) >= 16

    users.add("zhangsan", "新密码")  # a new password; the display name stays
    assert users.verify("zhangsan", "新密码") and not users.verify("zhangsan", "正确的密码1")
    assert users.display("zhangsan") == "张三"
    assert stat.S_IMODE(users.path.stat().st_mode) == 0o600

    assert users.remove("lisi") and not users.remove("lisi")
    assert users.names() == ["zhangsan"] and not users.verify("lisi", "正确的密码1")
    assert [p.name for p in users.path.parent.iterdir()] == ["users.json"]  # no temp files left


def test_users_refuses_bad_input_and_a_damaged_file(tmp_path):
    users = Users(tmp_path / "users.json")
    with pytest.raises(ReviewError, match="密码不能为空"):
        users.add("zhangsan", "")
    with pytest.raises(ReviewError, match="用户名"):
        users.add("zhang san", "pw")
    users.path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReviewError, match="用户文件格式错误"):
        users.configured  # a damaged file must never read as "no users" (that would open the app)


def test_users_default_path(tmp_path, monkeypatch):
    monkeypatch.setenv("REVIEW_USERS_FILE", str(tmp_path / "u.json"))
    assert Users().path == tmp_path / "u.json"
    monkeypatch.delenv("REVIEW_USERS_FILE")
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path / "data"))
    assert Users().path == tmp_path / "data" / "users.json"


def test_binding_beyond_loopback_needs_users(tmp_path):
    users = Users(tmp_path / "users.json")
    check_bind("127.0.0.1", users)
    check_bind("localhost", users)
    check_bind("::1", users)
    for host in ("0.0.0.0", "192.168.1.10", "::"):
        with pytest.raises(ReviewError, match="未配置用户"):
            check_bind(host, users)
    users.add("zhangsan", "pw")
    check_bind("0.0.0.0", users)


def test_users_cli_add_list_remove(tmp_path, monkeypatch, capsys):
    path = tmp_path / "users.json"
    monkeypatch.setenv("REVIEW_NEW_PASSWORD", "口令-2026")
    assert users_main(["list", "--users", str(path)]) == 0
    assert "未配置用户" in capsys.readouterr().out

    assert users_main(["add", "zhangsan", "--display", "张三", "--users", str(path)]) == 0
    assert "已添加用户：zhangsan（张三）" in capsys.readouterr().out
    assert Users(path).verify("zhangsan", "口令-2026")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    assert users_main(["--users", str(path), "add", "lisi"]) == 0  # --users before the subcommand works too
    capsys.readouterr()
    assert users_main(["list", "--users", str(path)]) == 0
    out = capsys.readouterr().out
    assert "zhangsan\t张三" in out and "lisi" in out

    assert users_main(["remove", "lisi", "--users", str(path)]) == 0
    assert "已删除用户：lisi" in capsys.readouterr().out
    assert users_main(["remove", "lisi", "--users", str(path)]) == 1
    assert "没有该用户" in capsys.readouterr().err
    assert Users(path).names() == ["zhangsan"]
    assert users_main(["frobnicate"]) == 2


def test_users_cli_reads_the_password_with_getpass(tmp_path, monkeypatch, capsys):
    import getpass
    path = tmp_path / "users.json"
    monkeypatch.delenv("REVIEW_NEW_PASSWORD", raising=False)
    answers = iter(["秘密口令", "秘密口令", "一个", "另一个"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    assert users_main(["add", "wangwu", "--users", str(path)]) == 0
    assert Users(path).verify("wangwu", "秘密口令")
    assert users_main(["add", "zhaoliu", "--users", str(path)]) == 1
    assert "两次输入的密码不一致" in capsys.readouterr().err
    assert Users(path).names() == ["wangwu"]

    def no_input(prompt=""):
        raise EOFError
    monkeypatch.setattr(getpass, "getpass", no_input)
    assert users_main(["add", "zhaoliu", "--users", str(path)]) == 1
    assert "REVIEW_NEW_PASSWORD" in capsys.readouterr().err
