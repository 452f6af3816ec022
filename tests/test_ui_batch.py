"""The 批量审核 tab in a real browser (same app start and Chromium as tests/test_ui.py, whose helpers are reused).

A zip of the fixtures is uploaded and reviewed into a batch; one error-free report is approved from the queue and
opened in the single view; the exported summary says so; the sign-off database holds exactly that decision on the
sha256 review.check gives. 批量通过 with 只看无错误 records one decision per error-free pending report and none
for reports with errors. A zip with a path leaving its folder, and a server folder outside the allowed roots (or a
link inside one pointing out), are refused with a message and nothing is written.
"""
import io
import re
import zipfile
from pathlib import Path

import pytest

from test_ui import REVIEWER, ROOT, App, browser, expect, open_page, page  # noqa: F401  (fixtures: browser, page)

from review import check  # noqa: E402
from review.signoff import SignoffDB  # noqa: E402

FIXTURES = sorted((ROOT / "fixtures").glob("*.txt"))
CLEAN = ROOT / "fixtures" / "000_96a21a1bd07d0629.txt"  # 东西湖区行政审批局 2020: no errors
APPROVE_COMMENT = "数据核对无误，同意发布"
BULK_COMMENT = "批量核对：无错误，同意发布"


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("batch")
    extra = base / "extra-root"
    extra.mkdir()
    outside = base / "outside.txt"  # not under any allowed root
    outside.write_text("不应被读取", encoding="utf-8")
    (extra / "leak.txt").symlink_to(outside)
    return {"base": base, "data": base / "data", "extra": extra}


@pytest.fixture(scope="module")
def app(roots):
    a = App(roots["data"], "--batch-root", str(roots["extra"]))
    yield a
    a.stop()


def batch_tab(page, app: App) -> None:
    open_page(page, app)
    page.get_by_role("tab", name="批量审核").click()
    page.wait_for_selector("#nb-batch-run")


def run_batch(page, files=(), folder: str = "") -> None:
    if files:
        page.locator("#nb-batch-files input[type=file]").set_input_files([str(f) for f in files])
        expect(page.locator("#nb-batch-files")).to_contain_text(Path(files[0]).stem)  # shown as "stem .ext"
    if folder:
        page.locator("#nb-batch-folder input").fill(folder)
    page.locator("#nb-batch-run").click()


def warned(page, text: str) -> None:
    expect(page.locator("[data-testid=toast-body]").filter(has_text=text).first).to_be_visible(timeout=30_000)


def batches(app: App) -> list[str]:
    d = app.data / "batches"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


# ------------------------------------------------------------------------------------------- tests

def test_folder_outside_roots_is_refused(app, page, roots):
    batch_tab(page, app)
    run_batch(page, folder="/etc")
    warned(page, "不允许读取该文件夹：/etc")
    run_batch(page, folder=str(roots["extra"]))  # allowed, but its link points outside: refused whole
    warned(page, "“leak.txt”指向允许范围之外")
    assert batches(app) == []
    with SignoffDB(app.db_url) as db:
        assert db.reports() == []


def test_hostile_zip_is_refused(app, page, roots, tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.write(CLEAN, CLEAN.name)
        zf.writestr("../../x.txt", "escaped")
        zf.writestr("../../../../../../x.txt", "escaped")
    before = batches(app)
    batch_tab(page, app)
    run_batch(page, files=[evil])
    warned(page, "含有越出目录的路径“../../x.txt”，已拒绝整个压缩包")
    assert list(roots["base"].rglob("x.txt")) == [] and list(tmp_path.rglob("x.txt")) == []
    assert not (roots["base"].parent / "x.txt").exists()
    assert batches(app) == before  # the batch folder made for it was removed again
    with SignoffDB(app.db_url) as db:
        assert db.reports() == [] and db.decisions() == []
    expect(page.locator("#nb-q-info")).not_to_contain_text("列表中 1 篇")


def test_upload_zip_approve_one_export(app, page, tmp_path):
    archive = tmp_path / "fixtures.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in FIXTURES:
            zf.write(f, f.name)
    sha = check(CLEAN).sha256
    batch_tab(page, app)
    run_batch(page, files=[archive])
    info = page.locator("#nb-q-info")
    expect(info).to_contain_text("列表中 8 篇", timeout=90_000)
    expect(info).to_contain_text("待审核 8")
    expect(page.locator("#nb-queue [role=row].virtual-row")).to_have_count(8)

    # select the error-free 东西湖区 report and approve it from the queue
    page.locator("#nb-queue [role=gridcell]").filter(has_text="东西湖区行政审批局").first.click()
    selected = page.locator("#nb-q-selected")
    expect(selected).to_contain_text("东西湖区行政审批局")
    expect(selected).to_contain_text("错误 0 项")
    page.locator("#nb-reviewer input").fill(REVIEWER)
    page.locator("#nb-q-action label").filter(has_text="通过").click()
    page.locator("#nb-q-comment textarea").fill(APPROVE_COMMENT)
    page.locator("#nb-q-save").click()
    expect(info).to_contain_text("已通过 1")
    expect(page.locator("#nb-queue [role=row].virtual-row").filter(has_text="东西湖区行政审批局")).to_contain_text("已通过")
    expect(selected).to_contain_text(APPROVE_COMMENT)

    # export: the summary (downloaded) has a row per report, that one 已通过; the memos zip is offered too
    page.locator("#nb-q-export").click()
    files = page.locator("#nb-q-files")
    expect(files).to_contain_text("memos-")
    with page.expect_download() as dl:
        files.locator("a[download$='.xlsx']").click()
    path = tmp_path / "summary.xlsx"
    dl.value.save_as(path)
    from openpyxl import load_workbook
    ws = load_workbook(path).active
    rows = list(ws.iter_rows(values_only=True))
    head, body = list(rows[0]), rows[1:]
    assert len(body) == 8
    status = {r[head.index("sha256")]: r[head.index("状态")] for r in body}
    assert status[sha] == "已通过" and sorted(status.values()).count("已通过") == 1
    # what a supervisor needs: who, when (local time), the conclusion, the comment, the errors left open; filters
    mine = next(r for r in body if r[head.index("sha256")] == sha)
    got = {k: mine[head.index(k)] for k in ("审核人", "审核时间", "结论", "意见", "未更正错误")}
    assert got["审核人"] == REVIEWER and got["结论"] == "已通过" and got["意见"] == APPROVE_COMMENT
    assert got["未更正错误"] == 0 and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", got["审核时间"])
    assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1")
    expect(files).to_contain_text("region-")
    with page.expect_download() as dl:
        files.locator("a[download$='.zip']").click()
    memos = zipfile.ZipFile(io.BytesIO(Path(dl.value.path()).read_bytes())).namelist()
    assert any(n.endswith(".md") for n in memos) and any(n.endswith(".docx") for n in memos)
    with zipfile.ZipFile(io.BytesIO(Path(dl.value.path()).read_bytes())) as zf:
        for n in memos:
            if n.endswith(".md"):
                assert "指纹" not in zf.read(n).decode("utf-8"), n  # no internal words in what agencies read

    # open it in the single view: the same report version, its decision shown
    page.locator("#nb-q-open").click()
    expect(page.locator("#nb-meta")).to_contain_text("东西湖区行政审批局")
    expect(page.locator("#nb-meta")).to_contain_text("已通过")
    expect(page.get_by_role("tab", name="单篇审核")).to_have_attribute("aria-selected", "true")

    with SignoffDB(app.db_url) as db:
        got = [(d.report_sha256, d.kind, d.action, d.comment, d.reviewer) for d in db.decisions()]
        assert got == [(sha, "report", "approve", APPROVE_COMMENT, REVIEWER)]
        assert db.status(sha) == "approved" and len(db.reports()) == 8


def test_bulk_approve_only_error_free(app, page):
    batch_tab(page, app)
    run_batch(page, folder=str(ROOT / "fixtures"))  # the same reports, read from a server folder
    info = page.locator("#nb-q-info")
    from review.api import expand
    n = len(list(expand([ROOT / "fixtures"])))  # every supported file of the folder (txt, pdf, html...)
    expect(page.locator("#nb-batch-done")).to_contain_text(f"{n} 个文件", timeout=120_000)
    expect(info).to_contain_text(f"列表中 {n} 篇")
    with SignoffDB(app.db_url) as db:
        reports = db.reports()
        last_id = max((d.id for d in db.decisions()), default=0)
    clean = {r.sha256 for r in reports if r.errors == 0}
    pending_clean = {r.sha256 for r in reports if r.errors == 0 and r.status == "pending"}
    with_errors = {r.sha256 for r in reports if r.errors > 0}
    assert len(reports) == n and with_errors and pending_clean

    page.locator("#nb-q-noerr input").check()
    expect(info).to_contain_text(f"列表中 {len(clean)} 篇")
    expect(page.locator("#nb-queue [role=row].virtual-row")).to_have_count(len(clean))
    page.locator("#nb-reviewer input").fill(REVIEWER)
    page.locator("#nb-q-comment textarea").fill(BULK_COMMENT)
    page.locator("#nb-q-bulk").click()
    expect(page.locator("#nb-q-confirm-text")).to_contain_text(f"{len(pending_clean)} 篇")
    page.locator("#nb-q-yes").click()
    expect(info).to_contain_text(f"已通过 {len(clean)}")

    with SignoffDB(app.db_url) as db:
        new = [d for d in db.decisions() if d.id > last_id]
        assert sorted(d.report_sha256 for d in new) == sorted(pending_clean)  # one each, no more
        assert all((d.kind, d.action, d.comment, d.reviewer) == ("report", "approve", BULK_COMMENT, REVIEWER)
                   for d in new)
        assert not any(db.decisions(s) for s in with_errors)  # never bulk-approved
        assert all(db.status(s) == "approved" for s in clean)


def test_queue_filters_sorting_and_batch_names(tmp_path):
    """The queue's filters and orders, and batch names from the page never leave <data>/batches."""
    from review.signoff import ReportRow
    from review.ui.service import QueueView, batch_folder, queue_rows, short_source

    def row(sha, agency, year, errors, status, at, source="x.zip!a.txt"):
        return ReportRow(sha256=sha, source=source, agency=agency, year=year, format="2021", errors=errors,
                         warnings=0, registered_at=at, status=status)

    rows = [row("a1", "乙局", 2021, 2, "pending", "1"), row("b2", "甲局", 2020, 0, "approved", "2", "/srv/甲.txt"),
            row("c3", None, 2022, 0, "pending", "3"), row("d4", "丙局", None, 1, "returned", "4")]
    shas = lambda view, batch=None: [r.sha256 for r in queue_rows(rows, view, batch)]  # noqa: E731
    assert shas(QueueView(scope="全部")) == ["a1", "b2", "c3", "d4"]
    assert shas(QueueView()) == [] and shas(QueueView(), {"c3", "a1"}) == ["a1", "c3"]
    assert shas(QueueView(scope="全部", sort="错误多的在前")) == ["a1", "d4", "b2", "c3"]
    assert shas(QueueView(scope="全部", sort="年度")) == ["b2", "a1", "c3", "d4"]
    assert shas(QueueView(scope="全部", sort="机关"))[-1] == "c3"  # no agency: last
    assert shas(QueueView(scope="全部", status="待审核", no_errors=True)) == ["c3"]
    assert shas(QueueView(scope="全部", text="甲")) == ["b2"]
    assert short_source("/srv/in/x.zip!dir/a.txt") == "x.zip!dir/a.txt" and short_source("/srv/甲.txt") == "甲.txt"
    (tmp_path / "batches" / "20250101-120000").mkdir(parents=True)
    (tmp_path / "batches" / "20250101-120000" / "items.json").write_text("[]")
    assert batch_folder(tmp_path, "20250101-120000") == tmp_path / "batches" / "20250101-120000"
    for name in ("../../etc", "/etc", "20250101-120000/../..", "", None):
        assert batch_folder(tmp_path, name) is None


def test_double_click_one_batch_unreadable_and_abnormal_listed(app, page, roots):
    """A double click on 开始批量审核 gives one batch; files that cannot be read are listed with the reason; the
    same bytes twice, over 5 MB of text and mostly repeated text are flagged; one progress bar for the run."""
    odd = roots["data"] / "odd-inputs"
    odd.mkdir(parents=True, exist_ok=True)
    (odd / "a_clean.txt").write_bytes(CLEAN.read_bytes())
    (odd / "b_same_again.txt").write_bytes(CLEAN.read_bytes())  # the same bytes under another name
    (odd / "c_binary.txt").write_bytes(b"\x00\x01\x02\xff" * 200)  # unreadable: not text
    (odd / "d_repeated.txt").write_text("本机关认真贯彻落实政府信息公开条例有关规定。\n" * 400, encoding="utf-8")
    (odd / "e_huge.txt").write_text(("政府信息公开工作年度报告正文" * 40 + "\n") * 3200, encoding="utf-8")  # ~5.5 MB
    before = batches(app)
    batch_tab(page, app)
    page.locator("#nb-batch-folder input").fill(str(odd))
    page.locator("#nb-batch-run").dblclick()
    bars, where = 0, set()
    for _ in range(100):  # while it runs: at most one progress display on the page
        shown = page.evaluate("""() => [...new Set([...document.querySelectorAll('.progress-level, .progress-bar')]
            .filter(e => e.offsetParent).map(e => (e.closest('[id]') || {}).id))]""")
        n = len(shown)  # components showing a progress bar (gr.Progress)
        where |= set(shown)
        bars = max(bars, n)
        if page.locator("#nb-batch-done").count():
            break
        page.wait_for_timeout(100)
    expect(page.locator("#nb-batch-done")).to_contain_text("5 个文件", timeout=120_000)
    page.wait_for_timeout(1500)  # a second run, had it started, would have made its folder by now
    assert len(batches(app)) == len(before) + 1, (before, batches(app))
    assert bars <= 1, where  # one progress bar for the run, on its result line
    assert where <= {"nb-batch-result"}, where
    unreadable = page.locator("#nb-q-unreadable")
    expect(unreadable).to_contain_text("c_binary.txt")
    expect(unreadable).to_contain_text("二进制")
    abnormal = page.locator("#nb-q-abnormal")
    expect(abnormal).to_contain_text("b_same_again.txt")
    expect(abnormal).to_contain_text("重复提交")
    expect(abnormal).to_contain_text("d_repeated.txt")
    expect(abnormal).to_contain_text("大量重复")
    expect(abnormal).to_contain_text("e_huge.txt")
    expect(abnormal).to_contain_text("超过 5 MB")
    assert page.locator("#nb-q-abnormal").inner_text().count("a_clean.txt") <= 1  # named only as the first copy


def test_bulk_double_click_records_once(tmp_path):
    """Two bulk approvals at once (a double click): the guard lets one run; the second is refused."""
    import threading
    from review.ui.service import Refused, RunGuard
    guard, results, started = RunGuard("忙"), [], threading.Event()

    def first():
        with guard:
            started.set()
            threading.Event().wait(0.3)
            results.append("first")

    t = threading.Thread(target=first)
    t.start()
    started.wait()
    try:
        with guard:
            results.append("second")
    except Refused as e:
        results.append(e.message)
    t.join()
    assert results == ["忙", "first"]
    with guard:  # free again once the first is done
        pass
