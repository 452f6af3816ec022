"""The review UI in a real browser: `python ui.py` in a subprocess, driven by headless Chromium (Debian's
/usr/bin/chromium through the pip package playwright; .ci/run installs it with apt-get).

What a reviewer does is done through the page (upload, click a finding, dismiss it with a comment, approve the
report) and then checked in the sign-off database with review.signoff.SignoffDB: exactly those decisions, on
the report version (sha256) and findings (fingerprints) that review.check gives. Also: the decisions are shown
again after a restart, report text is shown as text (no script runs), a non-loopback bind without users is
refused, and with users the page asks for login and records the logged-in name.
"""
import os
import tempfile
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian chromium is not installed (/usr/bin/chromium): .ci/run installs it with "
                "`apt-get install chromium fonts-wqy-microhei`", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="the playwright package is not installed (pip install -e '.[test]')")

from review import check  # noqa: E402
from review.signoff import SignoffDB  # noqa: E402
from review.users import Users  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "002_f86e26e747344a50.txt"
# The review page's screenshot: written to docs/ (shown in README.md) when REVIEW_UPDATE_SCREENSHOT=1,
# else to a temporary file, so that a test run leaves the checkout as it was.
SCREENSHOT = (ROOT / "docs" / "screenshot-review.png" if os.environ.get("REVIEW_UPDATE_SCREENSHOT") == "1"
              else Path(tempfile.gettempdir()) / "review-screenshot-review.png")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
REVIEWER = "张三"
DISMISS_COMMENT = "规章本年度未制发，机关已说明，此行缺失不影响统计"
APPROVE_COMMENT = "表三不平衡已告知机关，同意发布"
expect = sync_api.expect


# ------------------------------------------------------------------------------------------- helpers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "REVIEW_LLM_")) and k not in ("REVIEW_DB_URL", "REVIEW_USERS_FILE",
                                                                          "REVIEW_DATA_DIR")}
    env.update(GRADIO_ANALYTICS_ENABLED="False", GRADIO_TEMP_DIR=str(tmp / "gradio-tmp"), PYTHONUNBUFFERED="1")
    return env


class App:
    """`python ui.py --port P --data D --db sqlite:///D/signoff.sqlite [extra]` in a subprocess."""

    def __init__(self, data: Path, *extra: str):
        self.data, self.port = data, free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.db_url = f"sqlite:///{data / 'signoff.sqlite'}"
        data.mkdir(parents=True, exist_ok=True)
        self.log = data / f"ui-{self.port}.log"
        self._out = open(self.log, "wb")
        cmd = [sys.executable, str(ROOT / "ui.py"), "--port", str(self.port), "--data", str(data), "--db", self.db_url,
               *extra]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=app_env(data), stdout=self._out, stderr=subprocess.STDOUT)
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                log = self.log.read_text(errors="replace")
                raise AssertionError(f"ui.py exited with {self.proc.returncode}:\n{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"ui.py did not listen within 90 s:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._out.close()


@pytest.fixture(scope="module")
def browser():
    pw = sync_api.sync_playwright().start()
    b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()
    pw.stop()


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ui-data")


@pytest.fixture(scope="module")
def app(data):
    a = App(data)
    yield a
    a.stop()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    p = context.new_page()
    p.set_default_timeout(30_000)
    yield p
    context.close()


def open_page(page, app: App) -> None:
    page.goto(app.url, wait_until="load")
    page.wait_for_selector("#nb-upload")


def upload(page, path: Path) -> None:
    page.locator("#nb-upload input[type=file]").set_input_files(str(path))
    expect(page.locator("#nb-meta")).to_contain_text(path.name, timeout=60_000)


def cell(page, text: str):
    """A cell of the findings table (gr.Dataframe renders its rows as div[role=gridcell])."""
    return page.locator("#nb-findings [role=gridcell]").filter(has_text=text).first


def finding_fp(result, rule: str, text: str) -> str:
    return next(f.fingerprint for f in result.findings if f.rule == rule and text in f.message)


# ------------------------------------------------------------------------------------------- tests

def test_non_loopback_without_users_is_refused(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "ui.py"), "--host", "0.0.0.0", "--port", str(free_port()),
                           "--data", str(tmp_path / "d")], cwd=ROOT, env=app_env(tmp_path), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "未配置用户" in proc.stderr and "0.0.0.0" in proc.stderr
    assert not (tmp_path / "d" / "signoff.sqlite").exists()  # refused before anything was opened


def test_review_dismiss_approve_recorded(app, page):
    result = check(FIXTURE)
    natural = finding_fp(result, "applications-balance", "“自然人”")
    rules_row = finding_fp(result, "table-row-missing", "规章")

    open_page(page, app)
    expect(page.locator("#nb-status")).to_contain_text("未配置大模型")
    upload(page, FIXTURE)
    findings = page.locator("#nb-findings .virtual-body")
    expect(findings).to_contain_text("自然人")
    expect(findings).to_contain_text("不符合")
    expect(page.locator("#nb-meta")).to_contain_text("鄂州市行政审批局")
    expect(page.locator("#nb-meta")).to_contain_text("待审核")
    # the failing cells of 表三 are highlighted
    expect(page.locator("#nb-table-applications td.hl-error").first).to_be_visible()

    # select the 自然人 balance error: its explanation (offline) and its cells outlined
    cell(page, "“自然人”不符合").click()
    explanation = page.locator("#nb-explanation")
    expect(explanation).to_contain_text("可能原因")
    expect(explanation).to_contain_text("一/自然人")
    expect(explanation).to_contain_text("离线解释")
    expect(page.locator("#nb-table-applications td.hl-selected")).to_have_count(4)

    # dismiss the 规章 missing-row warning with a comment; no name yet: refused, nothing recorded
    cell(page, "缺少“规章”行").click()
    expect(explanation).to_contain_text("table-row-missing")
    expect(page.locator("#nb-finding-current")).to_contain_text("未处理")
    page.locator("#nb-finding-action label").filter(has_text="驳回").click()
    page.locator("#nb-finding-comment textarea").fill(DISMISS_COMMENT)
    page.locator("#nb-finding-save").click()
    expect(page.get_by_text("请先在页面上方“审核人”一栏填写您的姓名").first).to_be_visible()
    page.locator("#nb-reviewer input").fill(REVIEWER)
    page.locator("#nb-finding-save").click()
    expect(findings).to_contain_text(f"驳回（{REVIEWER}）")
    expect(page.locator("#nb-finding-current")).to_contain_text(DISMISS_COMMENT)

    # approve the report
    page.get_by_role("tab", name="审核结论与记录").click()
    page.locator("#nb-report-action label").filter(has_text="通过").click()
    page.locator("#nb-report-comment textarea").fill(APPROVE_COMMENT)
    page.locator("#nb-report-save").click()
    # errors are still open (the 自然人 balance was not dismissed): 通过 asks for an explicit confirmation
    open_errors = [f.fingerprint for f in result.errors if f.fingerprint != rules_row]
    expect(page.locator("#nb-confirm-open")).to_contain_text(f"还有 {len(open_errors)} 项错误未处理")
    expect(page.locator("#nb-meta")).to_contain_text("待审核")
    page.locator("#nb-report-comment textarea").fill("")
    page.locator("#nb-report-yes").click()  # confirmed without a comment: refused
    expect(page.get_by_text("必须填写意见").first).to_be_visible()
    page.locator("#nb-report-comment textarea").fill(APPROVE_COMMENT)
    page.locator("#nb-report-yes").click()
    expect(page.locator("#nb-meta")).to_contain_text("已通过")
    audit = page.locator("#nb-audit")
    expect(audit).to_contain_text(APPROVE_COMMENT)
    expect(audit).to_contain_text(DISMISS_COMMENT)
    expect(audit).to_contain_text(rules_row)

    # the screenshot for the docs: the findings, the explanation and the highlighted 表三
    page.get_by_role("tab", name="单篇审核").click()
    cell(page, "“自然人”不符合").click()
    expect(page.locator("#nb-table-applications td.hl-selected")).to_have_count(4)
    expect(explanation).to_contain_text("一/自然人")
    for close in page.locator("[data-testid=toast-close]").all():  # the 已保存 notices would cover the page
        if close.is_visible():
            close.click()
    expect(page.locator("[data-testid=toast-body]")).to_have_count(0)
    page.wait_for_timeout(300)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # exactly those decisions, on this version of the report and these findings
    db = SignoffDB(app.db_url)
    decisions = db.decisions(result.sha256)
    got = [(d.kind, d.action, d.fingerprint, d.comment, d.reviewer) for d in decisions]
    assert got == [("finding", "dismiss", rules_row, DISMISS_COMMENT, REVIEWER),
                   ("report", "approve", None, APPROVE_COMMENT, REVIEWER)]
    assert decisions[-1].payload["open_errors"] == len(open_errors) > 0
    assert sorted(decisions[-1].payload["open_error_fingerprints"]) == sorted(open_errors)
    # the memo says it was approved with those errors open
    from review.memo import to_markdown
    memo = to_markdown(result.model_dump(mode="json"), db)
    assert f"在 {len(open_errors)} 项错误未更正的情况下通过" in memo, memo
    assert all(d.report_sha256 == result.sha256 and d.source.endswith(FIXTURE.name) for d in decisions)
    assert db.decisions() == decisions  # nothing recorded elsewhere
    assert natural not in db.current(result.sha256)["findings"]
    assert db.status(result.sha256) == "approved"
    assert [r.sha256 for r in db.reports()] == [result.sha256]
    db.close()


def test_report_text_is_escaped(app, page, tmp_path):
    lines = FIXTURE.read_text(encoding="utf-8").split("\n")
    at = lines.index("(一)基本情况") + 1  # inside part 一
    evil = tmp_path / "xss_report.txt"
    evil.write_text("\n".join(lines[:at] + ["<script>window.__xss=1</script>"] + lines[at:]), encoding="utf-8")
    open_page(page, app)
    upload(page, evil)
    page.get_by_text("年报原文（带行号）").click()
    expect(page.locator("#nb-lines")).to_contain_text("<script>window.__xss=1</script>")
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#nb-lines script").count() == 0


def test_restart_shows_earlier_decisions(app, browser, data):
    """A new process on the same database shows the decisions made before (keyed by sha256 and fingerprint)."""
    result = check(FIXTURE)
    rules_row = finding_fp(result, "table-row-missing", "规章")
    db = SignoffDB(app.db_url)
    if not db.decisions(result.sha256):  # this test run alone: make the decisions the first test makes
        db.record(reviewer=REVIEWER, report_sha256=result.sha256, source=FIXTURE.name, kind="finding",
                  action="dismiss", fingerprint=rules_row, comment=DISMISS_COMMENT)
        db.record(reviewer=REVIEWER, report_sha256=result.sha256, source=FIXTURE.name, kind="report",
                  action="approve", comment=APPROVE_COMMENT)
    db.close()
    app.stop()
    again = App(data)
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        open_page(page, again)
        upload(page, FIXTURE)
        expect(page.locator("#nb-meta")).to_contain_text("已通过")
        row = page.locator("#nb-findings [role=row].virtual-row").filter(has_text="缺少“规章”行")
        expect(row).to_contain_text(f"驳回（{REVIEWER}）")
        expect(page.locator("#nb-findings .virtual-body")).to_contain_text("未处理")  # the others are still open
        cell(page, "缺少“规章”行").click()
        expect(page.locator("#nb-finding-current")).to_contain_text(DISMISS_COMMENT)
        expect(page.locator("#nb-finding-action input[type=radio]:checked")).to_have_value("驳回")
        page.get_by_role("tab", name="审核结论与记录").click()
        expect(page.locator("#nb-current")).to_contain_text(APPROVE_COMMENT)
        expect(page.locator("#nb-audit")).to_contain_text(DISMISS_COMMENT)
    finally:
        context.close()
        again.stop()


def test_login_records_the_user(browser, tmp_path):
    users_file = tmp_path / "users.json"
    Users(users_file).add("lisi", "s3cret-pass", display="李四")
    app = App(tmp_path / "data", "--users", str(users_file))
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(app.url, wait_until="load")
        password = page.locator("input[type=password]")
        expect(password).to_be_visible()
        assert page.locator("#nb-upload").count() == 0  # nothing of the app before login
        page.locator("input[type=text]").first.fill("lisi")
        password.fill("s3cret-pass")
        page.get_by_role("button", name="登录").click()
        page.wait_for_selector("#nb-upload")
        expect(page.locator("#nb-who")).to_contain_text("李四")
        assert page.locator("#nb-reviewer").count() == 0  # no name field: the login is the reviewer
        upload(page, FIXTURE)
        cell(page, "“自然人”不符合").click()
        expect(page.locator("#nb-explanation")).to_contain_text("一/自然人")
        page.locator("#nb-finding-action label").filter(has_text="确认").click()
        page.locator("#nb-finding-save").click()
        expect(page.locator("#nb-findings .virtual-body")).to_contain_text("确认（李四）")
    finally:
        context.close()
        app.stop()
    result = check(FIXTURE)
    db = SignoffDB(app.db_url)
    got = [(d.kind, d.action, d.fingerprint, d.reviewer) for d in db.decisions()]
    db.close()
    assert got == [("finding", "confirm", finding_fp(result, "applications-balance", "“自然人”"), "lisi")]
