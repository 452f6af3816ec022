"""The review loop in a real browser, keyboard only: a batch of 20 reports is signed off from the queue with key
presses (S to start; A 通过; R 退回修改 + a stock comment + Enter; C 确认 / X 驳回 findings; A on a report with
errors open asks for a comment and records the approval as such). Every decision is checked in the sign-off
database; the mean key presses per report are printed (the aim: at most 3 for a report without errors).
Also: the stock comments (常用意见) edited on the page are stored in the data folder and used by the number keys,
and the reviewer's name is remembered by the browser.
"""
import json
import re

import pytest

from test_ui import REVIEWER, ROOT, App, browser, expect, open_page, page  # noqa: F401  (fixtures: browser, page)

from review.signoff import SignoffDB  # noqa: E402

expect.set_options(timeout=30_000)  # a loaded machine answers slowly; every wait is for one visible change
FIXTURES = sorted((ROOT / "fixtures").glob("[0-9]*.txt")) + sorted((ROOT / "fixtures").glob("pingtan_*.txt"))
N_REPORTS = 20
STOCK = ["请核对表三各列合计后重新发布。", "数据已核实，予以通过。"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    data = tmp_path_factory.mktemp("loop") / "data"
    inbox = data / "inbox"  # inside the data folder: a folder the batch may read
    inbox.mkdir(parents=True)
    for k in range(N_REPORTS):  # 20 distinct versions (distinct bytes) of the real fixtures
        src = FIXTURES[k % len(FIXTURES)]
        text = src.read_text(encoding="utf-8")
        (inbox / f"{k:02d}_{src.name}").write_text(text + "\n" * (k // len(FIXTURES) + 1), encoding="utf-8")
    a = App(data)
    a.inbox = inbox
    yield a
    a.stop()


def prompted(page, text: str) -> None:
    """The comment panel asks for `text` and its box has the focus (keys now go to it)."""
    expect(page.locator("#nb-k-prompt-text")).to_contain_text(text)
    expect(page.locator("#nb-k-comment :is(textarea, input)")).to_be_focused()


def test_sign_off_20_reports_by_keyboard(app, page):
    open_page(page, app)
    page.locator("#nb-reviewer input").fill(REVIEWER)
    # the team's stock comments, edited on the page (stored in the data folder)
    page.get_by_role("tab", name="审核结论与记录").click()
    page.get_by_text("常用意见（全组共用").click()
    stock = page.locator("#nb-stock-text textarea")
    expect(stock).to_be_visible()  # the accordion has opened
    stock.fill("\n".join(STOCK))
    stock.blur()  # the page has taken the new text before the save is clicked
    expect(stock).to_have_value("\n".join(STOCK))
    page.locator("#nb-stock-save").click()
    expect(page.locator("[data-testid=toast-body]").filter(has_text="已保存常用意见 2 条").first).to_be_visible()
    assert json.loads((app.data / "comments.json").read_text(encoding="utf-8"))["comments"] == STOCK

    page.get_by_role("tab", name="批量审核").click()
    page.locator("#nb-batch-folder input").fill(str(app.inbox))
    page.locator("#nb-batch-run").click()
    expect(page.locator("#nb-batch-done")).to_contain_text(f"{N_REPORTS} 个文件", timeout=180_000)
    expect(page.locator("#nb-q-info")).to_contain_text(f"列表中 {N_REPORTS} 篇")

    page.locator("body").click(position={"x": 5, "y": 5})  # nothing focused: keys go to the page
    presses = {"total": 0}

    def key(k: str) -> None:
        page.keyboard.press(k)
        presses["total"] += 1

    key("s")
    loop = page.locator("#nb-loop")
    expect(loop).to_contain_text(f"第 1 / {N_REPORTS} 篇", timeout=60_000)
    per_report, plan = [], {}
    did_findings = False
    for i in range(N_REPORTS):
        expect(loop).to_contain_text(f"第 {i + 1} / {N_REPORTS} 篇", timeout=60_000)
        meta = page.locator("#nb-meta")
        expect(meta).to_contain_text("待审核")
        text = meta.inner_text()
        sha16 = re.search(r"版本（sha256）：([0-9a-f]{16})", text).group(1)
        errors = int(re.search(r"错误 (\d+) 项", text).group(1))
        before = presses["total"]
        if errors == 0:
            key("a")  # 通过: recorded, the next report opens
            plan[sha16] = ("approve", 0, None)
        elif not did_findings:
            # decide findings by keyboard: C confirms the selected (first) error and moves on; X asks for a reason
            expect(page.locator("#nb-finding-current")).to_contain_text("未处理")
            key("c")
            expect(page.locator("#nb-findings .virtual-body")).to_contain_text(f"确认（{REVIEWER}）")
            key("x")
            expect(page.locator("#nb-k-prompt-text")).to_contain_text("驳回")
            key("2")
            key("Enter")
            expect(page.locator("#nb-findings .virtual-body")).to_contain_text(f"驳回（{REVIEWER}）")
            key("r")  # 退回修改 with stock comment 1
            expect(page.locator("#nb-k-prompt-text")).to_contain_text("退回修改")
            key("1")
            key("Enter")
            plan[sha16] = ("return", None, STOCK[0])
            did_findings = True
        elif len([p for p in plan.values() if p[1]]) == 0:
            key("a")  # 通过 with errors open: the comment and the confirmation are asked for
            expect(page.locator("#nb-k-prompt-text")).to_contain_text(f"还有 {errors} 项错误未处理")
            key("Enter")  # an empty comment is refused
            expect(page.locator("[data-testid=toast-body]").filter(has_text="请填写意见").first).to_be_visible()
            key("2")
            key("Enter")
            plan[sha16] = ("approve", errors, STOCK[1])
        else:
            key("r")
            expect(page.locator("#nb-k-prompt-text")).to_contain_text("退回修改")
            key("1")
            key("Enter")
            plan[sha16] = ("return", None, STOCK[0])
        per_report.append((errors, presses["total"] - before))
    expect(loop).to_contain_text("逐篇审核完毕", timeout=60_000)

    with SignoffDB(app.db_url) as db:
        reports = {r.sha256[:16]: r for r in db.reports()}
        assert len(reports) == N_REPORTS and set(plan) == set(reports)
        for sha16, (action, open_n, comment) in plan.items():
            r = reports[sha16]
            concl = [d for d in db.decisions(r.sha256) if d.kind == "report"]
            assert len(concl) == 1 and concl[0].action == action and concl[0].reviewer == REVIEWER, (sha16, concl)
            if comment:
                assert concl[0].comment == comment
            if open_n:
                assert concl[0].payload["open_errors"] == open_n and concl[0].payload["confirmed"] is True
            else:
                assert not concl[0].payload.get("open_errors")
        findings = [d for d in db.decisions() if d.kind == "finding"]
        assert [(d.action, d.comment) for d in findings] == [("confirm", ""), ("dismiss", STOCK[1])]
    clean = [n for e, n in per_report if e == 0]
    with_errors = [n for e, n in per_report if e > 0]
    mean = sum(n for _, n in per_report) / len(per_report)
    print(f"\nkeyboard sign-off of {N_REPORTS} reports: {presses['total']} key presses in all (1 to start), "
          f"mean {mean:.2f} per report; without errors: {len(clean)} reports, mean "
          f"{sum(clean) / max(1, len(clean)):.2f}; with errors: {len(with_errors)} reports, mean "
          f"{sum(with_errors) / max(1, len(with_errors)):.2f}")
    assert clean and with_errors
    assert sum(clean) / len(clean) <= 3


def test_reviewer_name_remembered_by_the_browser(app, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    try:
        p = context.new_page()
        open_page(p, app)
        p.locator("#nb-reviewer input").fill("王五")
        p.wait_for_timeout(500)
        p.reload()
        p.wait_for_selector("#nb-upload")
        expect(p.locator("#nb-reviewer input")).to_have_value("王五")
    finally:
        context.close()
