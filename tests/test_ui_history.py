"""历史年报 in a real browser: 平潭 2021 imported from the page into the store; 平潭 2022 then opened in the single
view has its cross-year checks (上年结转, 现行有效件数) assessed instead of 无法判断."""
import pytest

from test_ui import ROOT, App, browser, expect, open_page, page, upload  # noqa: F401

Y2021 = ROOT / "fixtures" / "pingtan_2021_county_pipe.txt"
Y2022 = ROOT / "fixtures" / "pingtan_2022_county_tsv.txt"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    a = App(tmp_path_factory.mktemp("history") / "data")
    yield a
    a.stop()


def test_import_history_then_cross_year_assessed(app, page):
    open_page(page, app)
    upload(page, Y2022)
    body = page.locator("#nb-findings .virtual-body")
    expect(body).to_contain_text("无法核对上年结转")  # no history yet
    page.get_by_role("tab", name="历史年报").click()
    page.locator("#nb-h-files input[type=file]").set_input_files([str(Y2021)])
    expect(page.locator("#nb-h-files")).to_contain_text("pingtan_2021")
    page.locator("#nb-h-run").click()
    done = page.locator("#nb-h-done")
    expect(done).to_contain_text("已加入", timeout=120_000)
    expect(done).to_contain_text("2021")
    expect(page.locator("#nb-h-count")).to_contain_text("共 1 篇")
    page.get_by_role("tab", name="单篇审核").click()
    upload(page, Y2022)
    expect(page.locator("#nb-meta")).to_contain_text("2022")
    page.wait_for_timeout(500)
    expect(body).not_to_contain_text("无法核对上年结转")
    expect(body).not_to_contain_text("无法核对“现行有效件数”")
