"""The bad-input corpus: broken and hostile files, built by this script, each read in its own subprocess with a
time limit and a memory cap, every outcome classified and compared with what it must be.

    python tests/badcorpus.py               build the corpus in a temporary folder, run it, print the table
    python tests/badcorpus.py --out DIR     keep the corpus in DIR
    python tests/badcorpus.py --probe PATH  (internal) read one file, print the outcome as JSON

Outcomes: "clean error" (refused with a Chinese and English message, as it must be), "read right" (reviewed, and
what was read is right), "wrong" (a result where a refusal was due, a refusal where a result was due, or a result
that is wrong), "over the limits" (took over SLOW_SECONDS or over SLOW_RSS_MB of memory, or ran out of the memory
cap), "hang" (killed at TIMEOUT seconds), "traceback" (an exception other than a clean IngestError).
tests/test_reliability_corpus.py runs it and asserts every outcome; docs/reliability.md has the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIX = ROOT / "fixtures"
SEED = FIX / "002_f86e26e747344a50.txt"

TIMEOUT = 30.0  # seconds: a probe still running is a hang
SLOW_SECONDS = 10.0  # over this, or
SLOW_RSS_MB = 1024.0  # over this peak memory, a file is "over the limits" even if it ended well
RSS_CAP_MB = 3072  # address-space cap of a probe (RLIMIT_AS): a bomb fails there, not on the machine

Check = Callable[[dict], Optional[str]]  # the probe's outcome -> None when right, else why it is wrong


@dataclass
class Case:
    name: str  # file name in the corpus folder
    what: str  # what the input is
    expect: str  # "error" | "read" | "either" (a clean refusal and a result are both right)
    check: Optional[Check] = None  # for a result: is what was read right?
    error_has: tuple[str, ...] = ()  # fragments the refusal must contain (any of them)


@dataclass
class Outcome:
    case: Case
    verdict: str
    seconds: float
    rss_mb: float
    detail: str = ""
    probe: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ the probe

def probe(path: str) -> dict:
    """Read and review one file in this process; the outcome as a dict (run in a subprocess)."""
    t0 = time.perf_counter()
    from review.api import review_document
    from review.ingest import load
    from review.models import IngestError
    t_import = time.perf_counter() - t0
    out: dict = {}
    t1 = time.perf_counter()
    try:
        doc = load(path)
        _, result = review_document(doc)
        out = {"outcome": "result", "encoding": doc.encoding, "first_line": next((x for x in doc.lines if x.strip()), ""),
               "result": json.loads(result.model_dump_json())}
    except IngestError as e:
        out = {"outcome": "error", "message": e.message, "limit": getattr(e, "limit", None)}
    out["seconds"] = round(time.perf_counter() - t1, 3)
    out["import_seconds"] = round(t_import, 3)
    out["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def _cap_memory() -> None:
    cap = RSS_CAP_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def run_case(case: Case, folder: Path) -> Outcome:
    path = folder / case.name
    cmd = [sys.executable, str(Path(__file__).resolve()), "--probe", str(path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, preexec_fn=_cap_memory, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return Outcome(case, "hang", time.perf_counter() - t0, 0.0, f"killed after {TIMEOUT:g} s")
    wall = time.perf_counter() - t0
    stderr = p.stderr.decode("utf-8", "replace")
    if p.returncode != 0 or "Traceback" in stderr:
        if "MemoryError" in stderr or p.returncode < 0:
            return Outcome(case, "over the limits", wall, RSS_CAP_MB, stderr.strip().splitlines()[-1:] and
                           stderr.strip().splitlines()[-1] or f"signal {-p.returncode}")
        return Outcome(case, "traceback", wall, 0.0, stderr.strip()[-400:])
    try:
        got = json.loads(p.stdout.decode("utf-8"))
    except ValueError:
        return Outcome(case, "traceback", wall, 0.0, "no outcome printed: " + stderr[-300:])
    return classify(case, got)


def classify(case: Case, got: dict) -> Outcome:
    seconds, rss = got["seconds"], got["rss_mb"]
    if seconds > SLOW_SECONDS or rss > SLOW_RSS_MB:
        return Outcome(case, "over the limits", seconds, rss, f"{seconds} s, {rss} MB", got)
    if got["outcome"] == "error":
        msg = got["message"]
        bilingual = any("\u4e00" <= c <= "\u9fff" for c in msg) and " / " in msg and any(c.isascii() and c.isalpha() for c in msg)
        if case.expect == "read":
            return Outcome(case, "wrong", seconds, rss, "refused a readable file: " + msg, got)
        if not bilingual:
            return Outcome(case, "wrong", seconds, rss, "refusal not in Chinese and English: " + msg, got)
        if case.error_has and not any(h in msg for h in case.error_has):
            return Outcome(case, "wrong", seconds, rss, f"refusal does not say {case.error_has}: {msg}", got)
        return Outcome(case, "clean error", seconds, rss, msg, got)
    if case.expect == "error":
        return Outcome(case, "wrong", seconds, rss, "reviewed a file that must be refused", got)
    why = case.check(got) if case.check else None
    if why:
        return Outcome(case, "wrong", seconds, rss, why, got)
    return Outcome(case, "read right", seconds, rss, "", got)


# ------------------------------------------------------------------------------------------------ checks

def _reference() -> dict:
    from review import check
    return json.loads(check(SEED).model_dump_json())


def same_as_seed(ref: dict) -> Check:
    """Read exactly as the UTF-8 seed: the same three tables, the same findings."""
    def check(got: dict) -> Optional[str]:
        r = got["result"]
        if r["tables"] != ref["tables"]:
            return "tables differ from the UTF-8 seed's"
        if [(f["fingerprint"], f["status"]) for f in r["findings"]] != [(f["fingerprint"], f["status"]) for f in ref["findings"]]:
            return "findings differ from the UTF-8 seed's"
        return None
    return check


def _apps(result: dict) -> dict:
    return {(c["row"], c["column"]): (c["state"], c["value"]) for c in result["tables"]["applications"]}


def same_applications(ref: dict) -> Check:
    """表三 read with the seed's values (a rendered PDF/DOCX/HTML of the seed: line numbers differ)."""
    want = _apps(ref)

    def check(got: dict) -> Optional[str]:
        have = _apps(got["result"])
        bad = [k for k in want if have.get(k) != want[k]]
        return f"表三 differs at {bad[:3]}" if bad else None
    return check


def _fails(result: dict, rule: str, **where) -> list:
    return [f for f in result["findings"] if f["rule"] == rule and f["status"] == "fail"
            and all(any(c.get(k) == v for c in f["cells"]) for k, v in where.items())]


def finds(rule: str, **where) -> Check:
    def check(got: dict) -> Optional[str]:
        return None if _fails(got["result"], rule, **where) else f"missed {rule} {where}"
    return check


def no_false_error(col: str) -> Check:
    """An unreadable cell in column `col` of row 一: the identities through it are not assessable, not errors."""
    def check(got: dict) -> Optional[str]:
        r = got["result"]
        cell = next((c for c in r["tables"]["applications"] if c["row"] == "一" and c["column"] == col), None)
        if cell is None or cell["state"] not in ("unreadable", "inferred"):
            return f"一/{col} is {cell and cell['state']}, not unreadable"
        bad = _fails(r, "applications-row-total", row="一") + _fails(r, "applications-balance", column=col)
        return f"false error through an unreadable cell: {bad[0]['message']}" if bad else None
    return check


def all_of(*checks: Check) -> Check:
    def check(got: dict) -> Optional[str]:
        return next((w for c in checks for w in [c(got)] if w), None)
    return check


def encoding_is(codec: str, first_line: str) -> Check:
    def check(got: dict) -> Optional[str]:
        if got.get("encoding") != codec or got.get("first_line") != first_line:
            return f"read as {got.get('encoding')}: {got.get('first_line')[:30]!r}"
        return None
    return check


# ------------------------------------------------------------------------------------------------ building

def _seed_with_row_one(cells: list[str]) -> str:
    """The seed with 表三 row 一's seven cells (自然人 … 总计) replaced."""
    lines = SEED.read_text(encoding="utf-8").split("\n")
    i = next(n for n, line in enumerate(lines) if line.startswith("一、本年新收"))
    for j, text in enumerate(cells):
        lines[i + 1 + j] = f"{text} |"
    return "\n".join(lines)


TRAD = ("2020年度政府資訊公開工作年度報告\n一、總體情況\n本機關依照《中華人民共和國政府資訊公開條例》規定，"
        "認真做好政府資訊公開工作。\n二、主動公開政府資訊情況\n本年共收到政府資訊公開申請29件，已辦結23件。\n")


def _docx_bytes(document_xml: str, level: int = 6) -> bytes:
    """A minimal DOCX package around `document_xml` (the body's inner XML)."""
    import io
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    ct = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        z.writestr("word/document.xml", f'<?xml version="1.0" encoding="UTF-8"?><w:document {ns}><w:body>{document_xml}</w:body></w:document>')
    return buf.getvalue()


def _docx_streamed(path: Path, head: str, unit: str, count: int, tail: str) -> None:
    """A DOCX whose document.xml repeats `unit` `count` times, written in chunks (bounded memory)."""
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    base = _docx_bytes("")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with zipfile.ZipFile(__import__("io").BytesIO(base)) as src:
            for m in src.infolist():
                if m.filename != "word/document.xml":
                    z.writestr(m.filename, src.read(m))
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(f'<?xml version="1.0" encoding="UTF-8"?><w:document {ns}><w:body>{head}'.encode())
            chunk = (unit * 10_000).encode()
            for _ in range(count // 10_000):
                f.write(chunk)
            f.write(f"{tail}</w:body></w:document>".encode())


def _p(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def _replace_in_docx(src: Path, dst: Path, old: str, new: str, count: int = 1) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for m in zin.infolist():
            data = zin.read(m)
            if m.filename == "word/document.xml":
                text = data.decode("utf-8")
                assert old in text, old
                data = text.replace(old, new, count).encode("utf-8")
            zout.writestr(m, data)


def _pdf_pages(path: Path, pages: int, text: bool = True, encrypt: Optional[str] = None) -> None:
    from reportlab.pdfgen import canvas
    c = canvas.Canvas(str(path), encrypt=encrypt, invariant=1)
    if text:
        from fixturegen import pdf_styles, PDF_FONT
        pdf_styles()
    for n in range(pages):
        if text:
            c.setFont(PDF_FONT, 12)
            c.drawString(72, 720, f"第{n + 1}页 政府信息公开工作年度报告")
        else:
            c.rect(72, 72, 400, 600, fill=1)
        c.showPage()
    c.save()


def _pdf_dense(path: Path, rows: int, per_row: int) -> None:
    """One page of tiny text: `rows` lines of `per_row` characters."""
    from reportlab.pdfgen import canvas
    c = canvas.Canvas(str(path), invariant=1)
    c.setFont("Helvetica", 2)
    for y in range(rows):
        c.drawString(10, 820 - y * 2, "1 " * (per_row // 2))
    c.showPage()
    c.save()


def build(folder: Path) -> list[Case]:
    """Write every corpus file into `folder`; the cases, in order."""
    import fixturegen
    folder.mkdir(parents=True, exist_ok=True)
    ref = _reference()
    seed_text = SEED.read_text(encoding="utf-8")
    rnd = random.Random(12)
    cases: list[Case] = []

    def add(name: str, data, what: str, expect: str, check: Optional[Check] = None, error_has=()):
        if data is not None:
            (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        cases.append(Case(name, what, expect, check, tuple(error_has)))

    same = same_as_seed(ref)
    # --- odd file names and encodings of a good report: read exactly as the seed
    for name, what in [("年报 （2020） 副本.txt", "Chinese, spaces, full-width brackets"),
                       ("-leading-dash.txt", "a name starting with a dash"),
                       ("semi;$(echo x)`id`'q\".txt", "shell metacharacters"),
                       ("new\nline.txt", "a newline in the name"),
                       ("x" * 240 + ".txt", "a 244-byte name"),
                       ("UPPER.TXT", "upper-case extension"),
                       ("no_extension", "no extension (sniffed)"),
                       (".hidden.txt", "a hidden file")]:
        add(name, seed_text, what, "read", same)
    add("gb18030.txt", seed_text.encode("gb18030"), "GB18030", "read", same)
    add("utf8_bom.txt", seed_text.encode("utf-8-sig"), "UTF-8 with BOM", "read", same)
    add("utf16_bom.txt", seed_text.encode("utf-16"), "UTF-16 with BOM", "read", same)
    add("utf16le_nobom.txt", seed_text.encode("utf-16-le"), "UTF-16LE without BOM", "read",
        all_of(same, encoding_is("utf-16-le", seed_text.split("\n")[0])))
    add("utf16be_nobom.txt", seed_text.encode("utf-16-be"), "UTF-16BE without BOM", "read",
        all_of(same, encoding_is("utf-16-be", seed_text.split("\n")[0])))
    add("crlf.txt", seed_text.replace("\n", "\r\n"), "CRLF line ends", "read", same)
    add("utf8_cut_char.txt", seed_text.encode("utf-8") + "政".encode("utf-8")[:2], "UTF-8 cut inside its last character",
        "read", same)
    add("big5.txt", TRAD.encode("big5"), "Big5 (traditional Chinese)", "read", encoding_is("big5", TRAD.split("\n")[0]))
    add("big5_cp950.txt", TRAD.encode("cp950"), "CP950 (Big5 as Windows writes it)", "read",
        encoding_is("big5", TRAD.split("\n")[0]))
    # --- empty, junk, wrong types
    add("empty.txt", b"", "empty (0 bytes)", "error", error_has=("为空",))
    add("empty.pdf", b"", "empty PDF (0 bytes)", "error", error_has=("为空",))
    add("blank.txt", " \n\t\n\u3000\n", "only whitespace", "error", error_has=("没有文字",))
    add("junk.txt", bytes(rnd.randrange(1, 256) for _ in range(20000)), "random bytes, no zero byte", "error",
        error_has=("无法确定编码", "二进制"))
    add("junk_nul.txt", bytes(rnd.randrange(0, 256) for _ in range(20000)), "random bytes", "error",
        error_has=("二进制", "无法确定编码"))
    add("gbk_as_big5_mix.txt", "政府信息公开".encode("gbk") + "政府資訊公開".encode("big5") * 3 + bytes([0x81, 0x30]) * 50,
        "GBK and Big5 bytes mixed, torn", "error", error_has=("无法确定编码",))
    add("junk.pdf", bytes(rnd.randrange(0, 256) for _ in range(5000)), "random bytes named .pdf", "error")
    add("junk.docx", bytes(rnd.randrange(0, 256) for _ in range(5000)), "random bytes named .docx", "error")
    add("junk.html", bytes(rnd.randrange(1, 256) for _ in range(5000)), "random bytes named .html", "error")
    add("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000), "old Word (OLE)", "error", error_has=("旧版",))
    add("encrypted.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000), "password-protected DOCX (OLE)", "error",
        error_has=("加密",))
    add("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(2000), "an image", "error", error_has=("图片",))
    add("header_only.pdf", b"%PDF-1.7\n", "a PDF header only", "error")
    add("zip_not_docx.docx", _zip_of({"a.txt": b"hello"}), "a zip without word/document.xml", "error",
        error_has=("document.xml",))
    # --- PDF
    good_pdf = fixturegen.render(SEED.name, "pdf", folder / "_src")
    add("good.pdf", good_pdf.read_bytes(), "the seed rendered as PDF (control)", "read", same_applications(ref))
    data = good_pdf.read_bytes()
    add("truncated.pdf", data[: len(data) // 2], "the PDF cut in half", "either")
    add("truncated_tail.pdf", data[:-2000], "the PDF without its last 2 KB (xref)", "either")
    _pdf_pages(folder / "encrypted.pdf", 2, encrypt="secret")
    add("encrypted.pdf", None, "password-protected PDF", "error", error_has=("加密", "密码"))
    _pdf_pages(folder / "image_only.pdf", 3, text=False)
    add("image_only.pdf", None, "pages with shapes only (no text layer)", "error", error_has=("没有可提取的文字",))
    _pdf_pages(folder / "pages300.pdf", 300)
    add("pages300.pdf", None, "300 pages", "error", error_has=("REVIEW_MAX_PAGES",))
    _pdf_dense(folder / "dense_page.pdf", 400, 300)
    add("dense_page.pdf", None, "one page showing 120,000 characters", "error", error_has=("REVIEW_MAX_PAGE_CHARS",))
    _pdf_dense(folder / "dense_10k.pdf", 50, 100)
    add("dense_10k.pdf", None, "one page of 10,000 characters", "read")
    # --- DOCX
    good_docx = fixturegen.render(SEED.name, "docx", folder / "_src")
    add("good.docx", good_docx.read_bytes(), "the seed rendered as DOCX (control)", "read", same_applications(ref))
    data = good_docx.read_bytes()
    add("truncated.docx", data[: len(data) // 2], "the DOCX cut in half", "error")
    _replace_in_docx(good_docx, folder / "gridspan_bomb.docx", "<w:tcPr>", '<w:tcPr><w:gridSpan w:val="1000000000"/>')
    add("gridspan_bomb.docx", None, "a cell with gridSpan=10^9", "either")
    _replace_in_docx(good_docx, folder / "gridspan_all.docx", "<w:tcPr>", '<w:tcPr><w:gridSpan w:val="999999999"/>', -1)
    add("gridspan_all.docx", None, "every cell with gridSpan≈10^9", "either")
    _replace_in_docx(good_docx, folder / "gridbefore_bomb.docx", "<w:tr>",
                     '<w:tr><w:trPr><w:gridBefore w:val="2000000000"/></w:trPr>', -1)
    add("gridbefore_bomb.docx", None, "rows with gridBefore=2·10^9", "either")
    _docx_streamed(folder / "paragraph_bomb.docx", "", "<w:p/>", 5_000_000, "")
    add("paragraph_bomb.docx", None, "5 million empty paragraphs (30 MB of XML in a small zip)", "error",
        error_has=("REVIEW_MAX_ZIP_RATIO", "REVIEW_MAX_UNZIPPED_MB"))
    rows = "".join("<w:tr>" + "<w:tc><w:p><w:r><w:t>%d</w:t></w:r></w:p></w:tc>" % i * 8 + "</w:tr>"
                   for i in range(30000))
    (folder / "table_rows.docx").write_bytes(_docx_bytes(_p("表格") + f"<w:tbl>{rows}</w:tbl>", level=1))
    add("table_rows.docx", None, "a table of 30,000 rows × 8 columns", "error",
        error_has=("REVIEW_MAX_TABLE_CELLS", "REVIEW_MAX_LINES", "REVIEW_MAX_ZIP_RATIO"))
    nest = "<w:tbl><w:tr><w:tc>" * 400 + _p("深") + "</w:tc></w:tr></w:tbl>" * 400
    (folder / "nested_tables.docx").write_bytes(_docx_bytes(_p("嵌套") + nest))
    add("nested_tables.docx", None, "tables nested 400 deep", "either")
    many = "".join(_p(f"第{i}段：政府信息公开。") for i in range(250_000))
    (folder / "many_paragraphs.docx").write_bytes(_docx_bytes(many, level=1))
    add("many_paragraphs.docx", None, "250,000 paragraphs", "error", error_has=("REVIEW_MAX_LINES", "REVIEW_MAX_ZIP_RATIO"))
    # --- HTML
    good_html = fixturegen.render(SEED.name, "html", folder / "_src")
    add("good.html", good_html.read_bytes(), "the seed rendered as HTML (control)", "read", same_applications(ref))
    cells = '<td colspan="1000">x</td>' * 110_000
    add("colspan_bomb.html", f"<html><body><table><tr>{cells}</tr></table></body></html>", "colspan bomb (2.8 MB)",
        "error", error_has=("REVIEW_MAX_TABLE_CELLS",))
    rows = '<tr><td rowspan="65534" colspan="1000">x</td></tr>' * 2000
    add("rowspan_bomb.html", f"<html><body><table>{rows}</table></body></html>", "rowspan × colspan bomb",
        "error", error_has=("REVIEW_MAX_TABLE_CELLS",))
    add("deep_divs.html", "<html><body>" + "<div>" * 100_000 + "深" + "</div>" * 100_000 + "</body></html>",
        "100,000 nested divs", "error", error_has=("REVIEW_MAX_DEPTH",))
    add("deep_tables.html", "<html><body>" + "<table><tr><td>" * 3000 + "x" + "</td></tr></table>" * 3000 + "</body></html>",
        "3,000 nested tables", "error", error_has=("REVIEW_MAX_DEPTH",))
    big_rows = "".join(f"<tr>{'<td>1</td>' * 7}</tr>" for _ in range(40_000))
    add("big_table.html", f"<html><body><table>{big_rows}</table></body></html>", "a table of 40,000 × 7", "error",
        error_has=("REVIEW_MAX_TABLE_CELLS",))
    add("html_big5_meta.html", f'<html><head><meta charset="big5"></head><body><p>{TRAD}</p></body></html>'.encode("big5"),
        "HTML declaring Big5", "read")
    # --- text extremes
    add("one_long_line.txt", "政府信息公开" * 2_000_000, "one 12 M-character line", "error",
        error_has=("REVIEW_MAX_LINE_CHARS",))
    add("many_lines.txt", "1\n" * 300_000, "300,000 lines", "error", error_has=("REVIEW_MAX_LINES",))
    add("many_elements.html", "<html><body>" + "<span>政</span>" * 120_000 + "</body></html>", "120,000 elements",
        "error", error_has=("REVIEW_MAX_ELEMENTS",))
    with open(folder / "sparse_huge.txt", "wb") as f:
        f.truncate(150 * 1024 * 1024)  # sparse: 150 MB by its size, nothing on disk
    add("sparse_huge.txt", None, "a 150 MB file (sparse)", "error", error_has=("REVIEW_MAX_FILE_MB",))
    # --- numbers (the seed's 表三 row 一 is 29 0 0 0 0 0 29)
    big = "9007199254740993.0"
    add("num_beyond_double.txt", _seed_with_row_one([big, "0", "0", "0", "0", "0", "9007199254740992"]),
        "9007199254740993.0 against a total of …992: a real row-total mismatch", "read", finds("applications-row-total", row="一"))
    forty = "1" * 40
    add("num_40_digits_ok.txt", _seed_with_row_one([forty, "0", "0", "0", "0", "0", forty]), "40-digit counts that add up",
        "read", lambda g: (f"false row-total error: {_fails(g['result'], 'applications-row-total', row='一')[0]['message']}"
                           if _fails(g["result"], "applications-row-total", row="一") else None))
    add("num_1000_digits.txt", _seed_with_row_one(["9" * 1000, "0", "0", "0", "0", "0", "29"]), "a 1,000-digit cell",
        "read", no_false_error("自然人"))
    for name, raw in [("num_scientific.txt", "2.9e1"), ("num_nan.txt", "NaN"), ("num_inf.txt", "inf"),
                      ("num_split_digits.txt", "2 9"), ("num_hex.txt", "0x1D")]:
        add(name, _seed_with_row_one([raw, "0", "0", "0", "0", "0", "29"]), f"the cell written {raw!r}", "read",
            no_false_error("自然人"))
    add("num_fullwidth.txt", _seed_with_row_one(["２９", "０", "0", "0", "0", "0", "29"]), "full-width digits", "read",
        lambda g: None if _apps(g["result"])[("一", "自然人")] == ("number", 29) else "２９ not read as 29")
    add("num_negative.txt", _seed_with_row_one(["-29", "0", "0", "0", "0", "0", "-29"]), "a negative count", "read",
        finds("count-invalid", row="一"))
    add("num_decimal_count.txt", _seed_with_row_one(["29.5", "0", "0", "0", "0", "0", "29.5"]), "a count with decimals",
        "read", finds("count-invalid", row="一"))
    # --- special files
    special = folder / "special"
    special.mkdir(exist_ok=True)
    fifo = special / "fifo.txt"
    if not fifo.exists():
        os.mkfifo(fifo)
    add("special/fifo.txt", None, "a FIFO (named pipe)", "error", error_has=("命名管道",))
    for name, target in [("special/zero.txt", "/dev/zero"), ("special/urandom.pdf", "/dev/urandom"),
                         ("special/dangling.txt", str(folder / "no-such-file.txt"))]:
        if not os.path.lexists(folder / name):
            os.symlink(target, folder / name)
    add("special/zero.txt", None, "a link to /dev/zero", "error", error_has=("设备",))
    add("special/urandom.pdf", None, "a link to /dev/urandom", "error", error_has=("设备",))
    add("special/dangling.txt", None, "a dangling symbolic link", "error", error_has=("符号链接",))
    (special / "folder.txt").mkdir(exist_ok=True)
    add("special/folder.txt", None, "a folder named .txt", "error", error_has=("文件夹",))
    add("special/missing.txt", None, "a path that does not exist", "error", error_has=("找不到",))
    return cases


def _zip_of(files: dict[str, bytes]) -> bytes:
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for k, v in files.items():
            z.writestr(k, v)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ the run

VERDICTS = ("clean error", "read right", "wrong", "over the limits", "hang", "traceback")


def run_corpus(folder: Path, jobs: int = 2) -> list[Outcome]:
    cases = build(folder)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda c: run_case(c, folder), cases))


def totals(outcomes: list[Outcome]) -> dict[str, int]:
    out = {"inputs tried": len(outcomes)}
    for v in VERDICTS:
        out[v] = sum(o.verdict == v for o in outcomes)
    return out


def report(outcomes: list[Outcome]) -> str:
    lines = [f"{'input':44} {'expect':7} {'verdict':16} {'s':>6} {'MB':>6}  detail"]
    for o in outcomes:
        name = o.case.name.replace("\n", "\\n")
        name = name if len(name) <= 44 else name[:41] + "..."
        lines.append(f"{name:44} {o.case.expect:7} {o.verdict:16} {o.seconds:6.2f} {o.rss_mb:6.0f}  "
                     f"{o.detail.splitlines()[0][:90] if o.detail else ''}")
    t = totals(outcomes)
    lines.append("")
    lines.append(" / ".join(f"{k}: {v}" for k, v in t.items()))
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probe")
    ap.add_argument("--out")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args(argv)
    if args.probe:
        sys.stdout.write(json.dumps(probe(args.probe), ensure_ascii=False))
        return 0
    sys.path.insert(0, str(HERE))
    if args.out:
        outcomes = run_corpus(Path(args.out), args.jobs)
    else:
        with tempfile.TemporaryDirectory() as d:
            outcomes = run_corpus(Path(d), args.jobs)
    print(report(outcomes))
    t = totals(outcomes)
    return 1 if any(t[v] for v in ("wrong", "over the limits", "hang", "traceback")) else 0


if __name__ == "__main__":
    sys.exit(main())
