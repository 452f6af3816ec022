"""`review check` at scale: streamed output (--json array written as it goes, --jsonl), ordered parallel
workers, and a start-up that loads only what the file types need."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
FIX = ROOT / "fixtures"
TEXTS = sorted(FIX.glob("*.txt"))


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "review.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env)


def _copies(folder: Path, n: int) -> Path:
    """n text reports (the fixtures over and over, each copy a file of its own), plus one unreadable file."""
    folder.mkdir()
    for i in range(n):
        shutil.copy(TEXTS[i % len(TEXTS)], folder / f"r{i:03d}.txt")
    (folder / "r015_empty.txt").write_bytes(b"")
    return folder


def test_json_and_jsonl_give_the_same_objects_in_order(tmp_path):
    inputs = _copies(tmp_path / "in", 12)
    a = run("check", "--json", "--no-store", "--workers", "1", str(inputs))
    b = run("check", "--jsonl", "--no-store", "--workers", "1", str(inputs))
    assert a.returncode == b.returncode == 2  # the empty file is unreadable; the others are still reviewed
    arr = json.loads(a.stdout)
    lines = [json.loads(line) for line in b.stdout.splitlines()]
    assert arr == lines and len(arr) == 13
    assert [Path(r["source"]).name for r in arr] == sorted(p.name for p in inputs.iterdir())
    empty = next(r for r in arr if r["source"].endswith("r015_empty.txt"))
    assert empty["error"] and "文件为空" in empty["error"] and "文件为空" in a.stderr
    # compact: one object per line of the array, no indentation
    assert a.stdout.startswith("[\n{") and a.stdout.rstrip().endswith("}\n]") and "\n " not in a.stdout


def test_empty_array_when_nothing_to_review(tmp_path):
    (tmp_path / "empty").mkdir()
    p = run("check", "--json", "--no-store", str(tmp_path / "empty"))
    assert p.returncode == 2 and json.loads(p.stdout) == [] and "没有找到" in p.stderr


def test_workers_give_the_same_output_in_the_same_order(tmp_path):
    inputs = _copies(tmp_path / "in", 40)  # above api.PARALLEL_MIN_FILES
    one = run("check", "--json", "--no-store", "--workers", "1", str(inputs))
    two = run("check", "--json", "--no-store", "--workers", "2", str(inputs))
    assert one.returncode == two.returncode == 2
    assert one.stdout == two.stdout
    human = run("check", "--no-store", "--workers", "2", str(inputs))
    assert human.stdout.count("错误 ") == 40 and "无法读取" in human.stdout


def test_workers_see_the_history_folder(tmp_path):
    """The cross-year rules run in the workers too: the same findings as one process."""
    history = tmp_path / "hist"
    history.mkdir()
    shutil.copy(FIX / "pingtan_2021_county_pipe.txt", history)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(30):
        shutil.copy(FIX / "pingtan_2022_county_tsv.txt", inputs / f"p{i:02d}.txt")
    one = run("check", "--json", "--history", str(history), "--workers", "1", str(inputs))
    two = run("check", "--json", "--history", str(history), "--workers", "2", str(inputs))
    assert one.stdout == two.stdout
    assert _cross_year_assessed(json.loads(two.stdout)[0])


def _cross_year_assessed(result: dict) -> bool:
    """The earlier report was found: carryover is not reported "无法判断" (it says nothing when it holds)."""
    return not any(f["rule"] == "carryover" and f["status"] == "not_assessable" for f in result["findings"])


def test_without_history_carryover_is_not_assessable():
    p = run("check", "--json", "--no-store", str(FIX / "pingtan_2022_county_tsv.txt"))
    assert not _cross_year_assessed(json.loads(p.stdout)[0])


def test_reviewing_text_loads_no_pdf_docx_html_or_store_library(tmp_path):
    """Start-up: a text review imports neither pdfplumber/pdfminer/pypdfium2, python-docx, BeautifulSoup, nor
    chromadb/langchain/gradio, even with a store in the data folder (the cross-year lookup reads its catalog)."""
    data = tmp_path / "data"
    from review.store import Store
    with Store(data, embeddings="ngram") as s:
        s.index_paths([FIX / "pingtan_2021_county_pipe.txt"])
    heavy = ["pdfplumber", "pdfminer", "pypdfium2", "docx", "bs4", "chromadb", "langchain_core", "gradio", "numpy",
             "sqlalchemy",
             "rich"]
    code = ("import sys, io, contextlib\n"
            "from review.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    rc = main(['check', '--json', '--data', {str(data)!r}, {str(FIX / 'pingtan_2022_county_tsv.txt')!r}])\n"
            f"print(rc, [m for m in {heavy!r} if m in sys.modules])\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    rc, loaded = p.stdout.split(" ", 1)
    assert rc in ("0", "1") and loaded.strip() == "[]", p.stdout
    # and the store was consulted: the cross-year rule ran against 2021
    out = run("check", "--json", "--data", str(data), str(FIX / "pingtan_2022_county_tsv.txt"))
    assert _cross_year_assessed(json.loads(out.stdout)[0])
