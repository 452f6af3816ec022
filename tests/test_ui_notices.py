"""Everything a reviewer reads in notices is Chinese: Gradio's toast headers ("Info", "Warning", "Error"), its
own upload errors (wrong type, too large), the page's refusals and confirmations, and the notices' hover labels.
The test collects the visible text of every notice (file names, file types and ids aside) and finds no English
word in it, and no Python exception name."""
import re

import pytest

from test_ui import FIXTURE, App, browser, expect, open_page, page, upload  # noqa: F401  (fixtures: browser, page)

EXCEPTIONS = re.compile(r"\b\w*(Error|Exception|Traceback)\b")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    a = App(tmp_path_factory.mktemp("notices") / "data", "--max-upload-mb", "1")
    yield a
    a.stop()


def english_words(text: str, names: list[str]) -> list[str]:
    for n in names:
        text = text.replace(n, " ")
    text = re.sub(r"(?<=\d) ?[KMG]B\b", " ", text)  # sizes: 1.0 MB
    text = re.sub(r"\.[A-Za-z0-9]{1,5}\b", " ", text)  # file types: .txt, .pdf...
    text = re.sub(r"\b[0-9a-f]{8,64}\b", " ", text)  # ids (fingerprints, sha256)
    return re.findall(r"[A-Za-z]{2,}", text)


def notices(page) -> list[tuple[str, list[str]]]:
    """(visible text, hover labels) of every notice on the page."""
    out = []
    for t in page.locator("[data-testid=toast-body]").all():
        labels = t.evaluate("e => [...e.querySelectorAll('[aria-label],[title]')]"
                            ".map(x => (x.getAttribute('aria-label') || '') + ' ' + (x.getAttribute('title') || ''))")
        out.append((t.inner_text(), labels))
    return out


def test_notices_and_upload_errors_are_chinese(app, page, tmp_path):
    exe = tmp_path / "evil.exe"
    exe.write_bytes(b"MZ\x00\x01")
    big = tmp_path / "big.txt"
    big.write_text("一" * 800_000, encoding="utf-8")  # 2.4 MB: over the 1 MB limit
    names = [exe.name, big.name, FIXTURE.name]
    open_page(page, app)
    seen = []

    def collect(expected: str) -> None:
        expect(page.locator("[data-testid=toast-body]").filter(has_text=expected).first).to_be_visible(timeout=30_000)
        page.wait_for_timeout(300)  # the translation runs as the notice appears
        seen.extend(notices(page))
        for close in page.locator("[data-testid=toast-close]").all():
            if close.is_visible():
                close.click()
        expect(page.locator("[data-testid=toast-body]")).to_have_count(0)

    page.locator("#nb-upload input[type=file]").set_input_files(str(exe))  # Gradio's own check
    collect("不支持的文件类型")
    page.locator("#nb-upload input[type=file]").set_input_files(str(big))  # over the upload limit
    collect("文件超过允许的大小")
    page.locator("#nb-finding-save").click()  # a refusal of the page: no report open
    collect("请先上传年报")
    upload(page, FIXTURE)
    page.locator("#nb-reviewer input").fill("张三")
    page.locator("#nb-findings [role=gridcell]").filter(has_text="“自然人”不符合").first.click()
    expect(page.locator("#nb-explanation")).to_contain_text("一/自然人")
    page.locator("#nb-finding-save").click()  # a confirmation
    collect("已保存")

    texts = [t for t, _ in seen]
    assert any("请注意" in t for t in texts) and any("提示" in t for t in texts), texts
    for text, labels in seen:
        assert not english_words(text, names), text
        assert not EXCEPTIONS.search(text), text
        for label in labels:
            assert not english_words(label, names), label
