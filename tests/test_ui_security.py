"""Who gets in (issue 12, item 6), against the real server (`python ui.py` in a subprocess, plain HTTP):
- a session stops working as soon as its user is removed from the users file (page, API, queue);
- wrong passwords are slowed, a name is locked after repeated failures (even the right password is then
  refused), and every attempt is logged;
- GRADIO_SHARE=true never opens a public tunnel;
- odd characters in the batch folder field are refused with a message, never a traceback;
- no route answers data (reports, users, files of the data folder) without a login.
"""
import os
import time
from pathlib import Path

import httpx
import pytest

from test_ui import FIXTURE, ROOT, App

from review import check
from review.signoff import SignoffDB
from review.users import Users

PASSWORD = "s3cret-pass"


@pytest.fixture()
def secured(tmp_path, monkeypatch):
    monkeypatch.setenv("REVIEW_LOGIN_FAIL_DELAY", "0.2")
    monkeypatch.setenv("REVIEW_LOGIN_MAX_FAILURES", "4")
    monkeypatch.setenv("REVIEW_LOGIN_LOCK_SECONDS", "60")
    users_file = tmp_path / "users.json"
    Users(users_file).add("lisi", PASSWORD, display="李四")
    Users(users_file).add("wangwu", PASSWORD, display="王五")
    data = tmp_path / "data"
    data.mkdir()
    with SignoffDB(f"sqlite:///{data / 'signoff.sqlite'}") as db:  # a report in the record: data to protect
        db.register(check(FIXTURE))
    app = App(data, "--users", str(users_file))
    app.users_file = users_file
    yield app
    app.stop()


def login(app: App, name: str, password: str) -> httpx.Client:
    c = httpx.Client(base_url=app.url, timeout=60)
    r = c.post("/login", data={"username": name, "password": password})
    c.last_status = r.status_code
    return c


def test_removed_user_session_stops_working(secured):
    c = login(secured, "lisi", PASSWORD)
    assert c.last_status == 200
    assert c.get("/config").status_code == 200
    assert c.get("/gradio_api/user").json() == "lisi"
    Users(secured.users_file).remove("lisi")  # the administrator removes the user while the session is open
    assert c.get("/config").status_code == 401
    assert c.get("/gradio_api/user").json() is None
    r = c.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x" * 11})
    assert r.status_code == 401  # nothing can be queued, so nothing can be recorded
    assert "会话已失效" in secured.log.read_text(errors="replace")
    # the other user's session is untouched
    other = login(secured, "wangwu", PASSWORD)
    assert other.last_status == 200 and other.get("/config").status_code == 200


def test_login_attempts_slowed_locked_and_logged(secured):
    times = []
    for _ in range(4):
        t0 = time.perf_counter()
        assert login(secured, "lisi", "wrong").last_status == 400
        times.append(time.perf_counter() - t0)
    assert times[-1] >= 0.2 * 2 ** 3 * 0.9, times  # each failure waits longer: 0.2, 0.4, 0.8, 1.6 s
    assert login(secured, "lisi", PASSWORD).last_status == 400  # locked: even the right password is refused
    assert login(secured, "wangwu", PASSWORD).last_status == 200  # another name is not locked
    log = (secured.data / "login.log").read_text(encoding="utf-8")
    assert log.count("密码错误（连续第") == 3 and "锁定 60 秒" in log and "已锁定" in log and "登录成功：'wangwu'" in log


def test_share_is_never_enabled(monkeypatch, tmp_path):
    """GRADIO_SHARE=true: the launch is asked for share=False (explicit, which Gradio obeys over the variable)."""
    import gradio as gr

    from review.ui import app as ui_app

    seen = {}

    class Stop(Exception):
        pass

    def fake_launch(self, **kw):
        seen.update(kw)
        raise Stop()

    monkeypatch.setenv("GRADIO_SHARE", "true")
    monkeypatch.setattr(gr.Blocks, "launch", fake_launch)
    with pytest.raises(Stop):
        ui_app.main(["--port", "0", "--data", str(tmp_path / "d")])
    assert seen["share"] is False


@pytest.mark.parametrize("typed", ["/tmp/a\x00b", "/tmp/a\nb", "/" + "a" * 5000, "~nosuchuser/x", "../../etc",
                                   "/tmp/\u202eevil", "C:\\Windows", "/tmp/%2e%2e/etc", "\ud800"])
def test_folder_field_odd_characters(typed, tmp_path):
    from review.ui.service import Refused, batch_folder_input
    with pytest.raises(Refused) as e:
        batch_folder_input(typed, [tmp_path])
    assert e.value.message and not any(w in e.value.message for w in ("Error", "Traceback"))


ROUTES_GET = ["/", "/config", "/gradio_api/info", "/gradio_api/openapi.json", "/gradio_api/app_id", "/gradio_api/token",
              "/gradio_api/user", "/gradio_api/runs", "/gradio_api/run-history/records", "/monitoring",
              "/monitoring/summary", "/gradio_api/vibe-code", "/manifest.json"]
# streams (answered by events until the client leaves): only the status and the first bytes are read
ROUTES_STREAM = ["/gradio_api/startup-events", "/gradio_api/upload_progress?upload_id=x",
                 "/gradio_api/heartbeat/abcdefghijk", "/gradio_api/queue/data?session_hash=abcdefghijk",
                 "/gradio_api/call/predict/1"]


def test_no_data_without_login(secured):
    data = secured.data
    secret_files = [data / "signoff.sqlite", data / "users.json", secured.users_file, Path(FIXTURE)]
    markers = ["鄂州市行政审批局", "lisi", "李四", "wangwu", check(FIXTURE).sha256, "scrypt$"]
    c = httpx.Client(base_url=secured.url, timeout=30)
    answers = {}
    for route in ROUTES_GET + [f"/gradio_api/file={p}" for p in secret_files] + \
            [f"/gradio_api/file/{p}" for p in secret_files] + [f"/file={p}" for p in secret_files]:
        r = c.get(route)
        answers[route] = r.status_code
        body = r.text
        for m in markers:
            assert m not in body, (route, r.status_code, m)
        if "file" in route:
            assert r.status_code in (401, 403, 404, 405), (route, r.status_code)
    for route in ROUTES_STREAM:
        with c.stream("GET", route, timeout=5) as r:
            answers[route] = r.status_code
            first = b""
            try:
                for chunk in r.iter_bytes():
                    first += chunk
                    if len(first) > 2000:
                        break
            except httpx.ReadTimeout:
                pass
            for m in markers:
                assert m.encode() not in first, (route, m)
    for route, body in [("/gradio_api/queue/join", {"data": [], "fn_index": 0, "session_hash": "abcdefghijk"}),
                        ("/gradio_api/run/predict", {"data": []}), ("/gradio_api/call/predict", {"data": []}),
                        ("/gradio_api/upload", None)]:
        r = c.post(route, json=body) if body is not None else c.post(route, files={"files": ("a.txt", b"x")})
        answers[route] = r.status_code
        assert r.status_code in (401, 403, 404, 405, 422), (route, r.status_code, r.text[:200])
        for m in markers:
            assert m not in r.text, (route, m)
    r = c.post("/gradio_api/reset", json={"event_id": "x"})  # cancels an event by its id: says nothing else
    assert r.status_code in (200, 401, 403, 404, 422) and not any(m in r.text for m in markers)
    assert answers["/config"] == 401 and answers["/gradio_api/info"] in (401, 403, 404), answers
