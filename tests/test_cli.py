"""The command line of ../shared/contract.md, run as a user runs it: `review check`, exit statuses, docs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
FIX = ROOT / "fixtures"


def run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "review.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env)


def test_clean_report_exits_0_and_prints_chinese_summary():
    p = run("check", str(FIX / "000_96a21a1bd07d0629.txt"))
    assert p.returncode == 0, p.stderr
    assert "东西湖区行政审批局" in p.stdout and "错误 0 项" in p.stdout


def test_report_with_errors_exits_1_and_shows_them():
    p = run("check", str(FIX / "001_7db3595534c35dc9.txt"))
    assert p.returncode == 1
    assert "【错误】" in p.stdout and "words-vs-tables" in p.stdout and "100 倍" in p.stdout


def test_unreadable_input_exits_2_and_the_others_are_still_reviewed(tmp_path):
    bad = tmp_path / "scan.pdf"
    bad.write_bytes(b"not a pdf at all")
    p = run("check", "--json", str(bad), str(FIX / "004_0c9827e6b67986f5.txt"))
    assert p.returncode == 2
    out = json.loads(p.stdout)
    assert [Path(r["source"]).name for r in out] == ["scan.pdf", "004_0c9827e6b67986f5.txt"]
    assert out[0]["error"] and "scan.pdf" in p.stderr
    assert out[1]["error"] is None and out[1]["meta"]["agency"] == "区行政审批局"
    # the message says what went wrong in Chinese and English
    assert any("\u4e00" <= ch <= "\u9fff" for ch in out[0]["error"]) and "PDF" in out[0]["error"]


def test_json_shape_of_the_contract():
    p = run("check", "--json", str(FIX / "002_f86e26e747344a50.txt"))
    r = json.loads(p.stdout)[0]
    assert set(r) >= {"source", "sha256", "meta", "sections", "tables", "findings"}
    assert set(r["meta"]) >= {"agency", "year", "format", "published"}
    assert r["sections"][0]["number"] == 1 and r["sections"][0]["title"] == "总体情况" and r["sections"][0]["line"] == 2
    assert set(r["tables"]) == {"disclosure", "applications", "appeals"}
    a = r["tables"]["applications"][0]
    assert set(a) >= {"row", "column", "value", "state", "line"}
    f = r["findings"][0]
    assert set(f) >= {"rule", "severity", "message", "table", "cells", "section", "line", "fingerprint"}
    assert f["severity"] in ("error", "warning", "info")


def test_folder_argument_reviews_every_report_in_it():
    p = run("check", "--json", str(FIX))
    names = [Path(r["source"]).name for r in json.loads(p.stdout)]
    assert len(names) == len([p for p in FIX.iterdir() if p.suffix in (".txt", ".html", ".pdf", ".docx")]) == 10
    assert names == sorted(names)


def test_docs_rules_md_is_generated_from_the_registry():
    p = run("rules", "--markdown")
    assert p.returncode == 0
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == p.stdout, \
        "docs/rules.md is stale: run `review rules --markdown > docs/rules.md`"


def test_docs_schema_is_current():
    p = run("schema")
    assert json.loads((ROOT / "docs" / "review-result.schema.json").read_text(encoding="utf-8")) == json.loads(p.stdout), \
        "docs/review-result.schema.json is stale: run `review schema > docs/review-result.schema.json`"
