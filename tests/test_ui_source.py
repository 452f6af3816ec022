"""The source beside the finding, in a real browser: selecting a finding of a PDF shows its page with the cell's
box drawn and the text around its line highlighted; a "第 N 行" citation in the explanation opens the same view at
that line; a cell of the real WPS PDF (淮安 2024) clicked in the tables is boxed on its page; a text report shows
its line highlighted. The screenshot of the
PDF view is written to docs/screenshot-source.png (shown in README.md) when REVIEW_UPDATE_SCREENSHOT=1."""
import os
import tempfile
from pathlib import Path

import pytest

from test_ui import FIXTURE, ROOT, App, browser, cell, expect, open_page, page, upload  # noqa: F401

PDF = ROOT / "fixtures" / "huaian_city_2024.pdf"
SCREENSHOT = (ROOT / "docs" / "screenshot-source.png" if os.environ.get("REVIEW_UPDATE_SCREENSHOT") == "1"
              else Path(tempfile.gettempdir()) / "review-screenshot-source.png")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    a = App(tmp_path_factory.mktemp("source") / "data")
    yield a
    a.stop()


def page_image_shown(page) -> None:
    """The page image is loaded (it is lazy: scrolled to first)."""
    page.locator("#nb-src-page").scroll_into_view_if_needed()
    page.wait_for_function("() => { const i = document.querySelector('#nb-src-page img');"
                           " return i && i.complete && i.naturalWidth > 500; }", timeout=30_000)
    expect(page.locator("#nb-src-page img")).to_be_visible()


def test_pdf_finding_shows_page_with_box(app, page, tmp_path):
    """A finding of a PDF (seed 002 rendered as a PDF with real tables): its cell boxed on its page; a "第 N 行"
    citation in the explanation opens the same view at that line."""
    import fixturegen
    from review import check
    pdf = fixturegen.render("002_f86e26e747344a50.txt", "pdf", tmp_path)
    result = check(pdf)
    f = next(f for f in result.findings if f.rule == "applications-balance" and "“自然人”" in f.message)
    c = next(c for c in result.tables.applications if c.row == f.cells[0]["row"] and c.column == "自然人")
    open_page(page, app)
    page.locator("#nb-upload input[type=file]").set_input_files(str(pdf))
    expect(page.locator("#nb-meta")).to_contain_text("鄂州市", timeout=120_000)
    cell(page, "“自然人”不符合").click()
    caption = page.locator("#nb-src-caption-text")
    expect(caption).to_contain_text("红框为单元格所在位置", timeout=60_000)
    expect(caption).to_contain_text(f"原文第 {c.line} 行")
    page_image_shown(page)
    expect(page.locator("#nb-src-text .sel")).to_have_attribute("data-line", str(c.line))
    cite = page.locator("#nb-explanation a.nb-cite").first
    expect(cite).to_be_visible()
    n = cite.inner_text().replace("第", "").replace("行", "").strip()
    cite.click()
    expect(page.locator("#nb-src-box .nb-meta")).to_contain_text(f"原文第 {n} 行")
    expect(page.locator("#nb-src-text .sel")).to_have_attribute("data-line", n)
    expect(caption).to_contain_text(f"原文第 {n} 行")


def test_real_pdf_cell_boxed_on_its_page(app, page):
    """The real WPS PDF (淮安 2024): a 表三 cell clicked in the tables shows its page with the cell's box."""
    from urllib.parse import quote
    open_page(page, app)
    page.locator("#nb-upload input[type=file]").set_input_files(str(PDF))
    expect(page.locator("#nb-meta")).to_contain_text("淮安市", timeout=120_000)
    ref = quote("applications|三.七|自然人", safe="")
    page.locator(f"#nb-table-applications a.nb-cellref[href='#nb-cell-{ref}']").click()
    caption = page.locator("#nb-src-caption-text")
    expect(caption).to_contain_text("PDF 第 5 页", timeout=60_000)
    expect(caption).to_contain_text("红框为单元格所在位置")
    page_image_shown(page)
    sel = page.locator("#nb-src-text .sel")
    expect(sel).to_contain_text("（七）总计")
    expect(sel).to_contain_text("2932")
    page.wait_for_timeout(500)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.locator("#nb-src-acc").screenshot(path=str(SCREENSHOT))


def test_text_finding_shows_its_line(app, page):
    open_page(page, app)
    upload(page, FIXTURE)
    from review import check
    result = check(FIXTURE)
    f = next(f for f in result.findings if f.rule == "applications-balance" and "“自然人”" in f.message)
    line = next(c.line for c in result.tables.applications if c.row == f.cells[0]["row"] and c.column == "自然人")
    cell(page, "“自然人”不符合").click()
    sel = page.locator("#nb-src-text .sel")
    expect(sel).to_have_attribute("data-line", str(line))
    expect(page.locator("#nb-src-box .nb-meta")).to_contain_text(f"原文第 {line} 行")
    assert page.locator("#nb-src-page img").count() == 0 or not page.locator("#nb-src-page img").is_visible()
