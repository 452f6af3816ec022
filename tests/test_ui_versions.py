"""A corrected resubmission is linked to its earlier version, in a real browser: 002 is returned (退回修改) with a
comment; the agency's corrected file (the 自然人 count of 表三 一 fixed) is uploaded; the page shows the earlier
退回修改 with its comment, the finding now fixed, and the cells that changed."""
import pytest

from test_ui import FIXTURE, REVIEWER, App, browser, expect, open_page, page, upload  # noqa: F401

from review import check
from review.signoff import SignoffDB

RETURN_COMMENT = "表三自然人一列不平衡，请核对“本年新收”后重新发布"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    a = App(tmp_path_factory.mktemp("versions") / "data")
    yield a
    a.stop()


def corrected(tmp_path):
    """002 with 表三 一 自然人 (and its 总计) written as 23: the 自然人 column then balances."""
    lines = FIXTURE.read_text(encoding="utf-8").split("\n")
    at = next(i for i, l in enumerate(lines) if l.startswith("一、本年新收"))
    assert lines[at + 1] == "29 |" and lines[at + 7] == "29 |", lines[at:at + 8]
    lines[at + 1] = lines[at + 7] = "23 |"
    path = tmp_path / "002_corrected.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_resubmission_shows_earlier_return_and_fixed(app, page, tmp_path):
    old = check(FIXTURE)
    natural = next(f for f in old.findings if f.rule == "applications-balance" and "“自然人”" in f.message)
    new_file = corrected(tmp_path)
    new = check(new_file)
    assert natural.fingerprint not in {f.fingerprint for f in new.findings if f.status == "fail"}

    open_page(page, app)
    page.locator("#nb-reviewer input").fill(REVIEWER)
    upload(page, FIXTURE)
    expect(page.locator("#nb-versions")).not_to_contain_text("此前的版本")
    page.get_by_role("tab", name="审核结论与记录").click()
    page.locator("#nb-report-action label").filter(has_text="退回修改").click()
    page.locator("#nb-report-comment textarea").fill(RETURN_COMMENT)
    page.locator("#nb-report-save").click()
    expect(page.locator("#nb-meta")).to_contain_text("退回修改")

    upload(page, new_file)
    versions = page.locator("#nb-versions")
    expect(versions).to_contain_text("此前的版本")
    expect(versions).to_contain_text("退回修改")
    expect(versions.locator(".nb-v-comment")).to_have_text(RETURN_COMMENT)
    expect(page.locator("#nb-v-fixed")).to_contain_text("“自然人”不符合")
    expect(versions).to_contain_text("一/自然人：29 → 23")
    expect(page.locator("#nb-meta")).to_contain_text("待审核")  # the new version starts pending
    with SignoffDB(app.db_url) as db:
        assert db.status(old.sha256) == "returned" and db.status(new.sha256) == "pending"
