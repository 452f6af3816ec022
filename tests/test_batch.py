"""Batch review: a thousand reports, killed halfway and resumed, zip archives (hostile ones refused),
region checks across the batch, summaries."""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from review import batch

ROOT = Path(__file__).parent.parent
FIX = ROOT / "fixtures"
N_FIX = len([p for p in FIX.iterdir() if p.suffix in (".txt", ".html", ".pdf", ".docx")])  # reports in fixtures/


def variants(folder: Path, n: int) -> Path:
    """n distinct reports made from the fixtures (a copy number added to the last line)."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(FIX.glob("*.txt"))
    for i in range(n):
        src = sources[i % len(sources)]
        (folder / f"{i:04d}_{src.name}").write_text(src.read_text(encoding="utf-8") + f"\n（副本 {i}）\n",
                                                    encoding="utf-8")
    return folder


def cli(*args, stdout_to=subprocess.PIPE):
    """`review batch ...` in its own process group (so a test can kill it with its workers). Read its
    output with communicate(): a full pipe would block it."""
    return subprocess.Popen([sys.executable, "-m", "review.cli", "batch", *args], cwd=ROOT, stdout=stdout_to,
                            stderr=subprocess.DEVNULL if stdout_to is subprocess.DEVNULL else subprocess.PIPE,
                            text=True, start_new_session=True)


def outputs(out: Path) -> dict:
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted((out / "reports").glob("*.json"))}
    files["summary.csv"] = (out / "summary.csv").read_text(encoding="utf-8-sig")
    files["region.json"] = (out / "region.json").read_text(encoding="utf-8")
    return files


@pytest.fixture(scope="module")
def thousand(tmp_path_factory) -> Path:
    return variants(tmp_path_factory.mktemp("in") / "reports", 1000)


def test_killed_run_resumed_equals_an_uninterrupted_run(thousand, tmp_path):
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    p = cli(str(thousand), "--out", str(whole), "--workers", "2")
    stdout, stderr = p.communicate(timeout=600)
    assert p.returncode == 0, stderr
    assert "1000/1000" in stdout  # the progress display ran to the end

    p = cli(str(thousand), "--out", str(resumed), "--workers", "2", stdout_to=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(list((resumed / "reports").glob("*.json"))) < 300:
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL)  # kill -9, workers included
    p.wait()
    halfway = len(list((resumed / "reports").glob("*.json")))
    assert 300 <= halfway < 1000
    p = cli(str(thousand), "--out", str(resumed), "--workers", "2")
    _, stderr = p.communicate(timeout=600)
    assert p.returncode == 0, stderr

    assert outputs(resumed) == outputs(whole)
    reviewed = [line.split()[2] for line in (resumed / "run.log").read_text(encoding="utf-8").splitlines()
                if line.split()[1] == "reviewed"]
    assert len(reviewed) == len(set(reviewed))  # no report done twice
    assert len(set(reviewed)) >= 1000 - halfway
    rows = list(csv.DictReader(io.StringIO((whole / "summary.csv").read_text(encoding="utf-8-sig"))))
    assert len(rows) == 1000 and all(r["sha256"] for r in rows)


def test_rerun_reviews_nothing_again(tmp_path):
    rep = batch.run([FIX], tmp_path / "o", workers=1)
    assert rep.reviewed == N_FIX and rep.skipped == 0
    again = batch.run([FIX], tmp_path / "o", workers=1)
    assert again.reviewed == 0 and again.skipped == N_FIX


def test_zip_archives_are_reviewed(tmp_path):
    z = tmp_path / "region.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(FIX.glob("00*.txt")):
            zf.write(p, f"2020/{p.name}")
        zf.writestr("README.md", "not a report")
    rep = batch.run([z], tmp_path / "o", workers=1)
    assert [Path(i.name).name for i in rep.items] == [p.name for p in sorted(FIX.glob("00*.txt"))]
    assert all(i.path.is_relative_to(tmp_path / "o" / "inputs") for i in rep.items)
    assert rep.reviewed == 5


def test_zip_with_a_path_leaving_the_folder_is_refused(tmp_path):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("ok.txt", (FIX / "004_0c9827e6b67986f5.txt").read_text(encoding="utf-8"))
        zf.writestr("../../x.txt", "escaped")
    out = tmp_path / "deep" / "out"
    with pytest.raises(batch.BatchInputError) as e:  # nothing else to review: the batch is refused whole
        batch.run([z], out)
    assert "越出目录" in e.value.message and "../../x.txt" in e.value.message
    rep = batch.run([z, FIX / "004_0c9827e6b67986f5.txt"], out)  # with other inputs: listed, the rest reviewed
    assert "越出目录" in rep.items[0].error and rep.unreadable == 1 and rep.reviewed == 1
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != z]
    assert written == [] or all(out in p.parents for p in written)
    assert not (tmp_path / "x.txt").exists() and not (tmp_path / "deep" / "x.txt").exists()
    assert not list((out / "inputs").rglob("*.txt")) if (out / "inputs").exists() else True


def test_zip_bomb_is_refused(tmp_path):
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("report.txt", b"0" * (60 * 1024 ** 2))  # 60 MB of zeros: a few dozen KB compressed
    assert z.stat().st_size < 1024 ** 2
    rep = batch.run([z, FIX / "004_0c9827e6b67986f5.txt"], tmp_path / "o")
    assert "压缩炸弹" in rep.items[0].error and rep.unreadable == 1 and rep.reviewed == 1
    assert not list((tmp_path / "o").rglob("*.txt"))


def test_cli_refuses_a_hostile_zip_with_a_clear_message(tmp_path):
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("/etc/passwd-copy.txt", "x")
    p = cli(str(z), "--out", str(tmp_path / "o"))
    _, stderr = p.communicate(timeout=60)
    assert p.returncode == 2 and "越出目录" in stderr


def test_region_checks(tmp_path):
    inp = tmp_path / "in"
    inp.mkdir()
    body = (FIX / "pingtan_2022_county_tsv.txt").read_text(encoding="utf-8")
    (inp / "a.txt").write_text(body, encoding="utf-8")
    (inp / "b.txt").write_text(body.replace("14571条", "14572条"), encoding="utf-8")  # changed after publication
    dept = (FIX / "001_7db3595534c35dc9.txt").read_text(encoding="utf-8").replace("硚口区行政审批局2021年度",
                                                                                 "平潭综合实验区行政审批局2022年度")
    (inp / "dept.txt").write_text(dept, encoding="utf-8")
    rep = batch.run([inp], tmp_path / "o", workers=1)
    versions = rep.region["versions"]
    assert len(versions) == 1 and versions[0]["year"] == 2022 and len(versions[0]["files"]) == 2
    totals = {r["行"]: r for r in rep.region["totals"] if r["政府"] == "平潭综合实验区"}
    assert totals["一"]["政府表三总计"] == 74 and totals["一"]["所属部门合计"] == 7 and totals["一"]["部门数"] == 1
    rows = list(csv.DictReader(io.StringIO((tmp_path / "o" / "region.csv").read_text(encoding="utf-8-sig"))))
    assert len(rows) == 8  # 一, 二, 三.七, 四 for each of the two versions of the government's report
    assert {Path(r["文件"]).name for r in rows} == {"a.txt", "b.txt"}
    assert {r["部门"] for r in rows} == {"平潭综合实验区行政审批局"}


def test_summary_xlsx_has_a_row_per_report(tmp_path):
    from openpyxl import load_workbook
    batch.run([FIX], tmp_path / "o", workers=1)
    ws = load_workbook(tmp_path / "o" / "summary.xlsx").active
    rows = list(ws.values)
    assert rows[0][:3] == ("文件", "机关", "年度") and len(rows) == N_FIX + 1
    by_file = {Path(r[0]).name: r for r in rows[1:]}
    assert by_file["002_f86e26e747344a50.txt"][5] == 3  # errors
    assert "自然人" in by_file["002_f86e26e747344a50.txt"][7]


def test_explain_and_draft_pass_offline(tmp_path, monkeypatch):
    for k in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "REVIEW_LLM_MODEL"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path / "data"))
    rep = batch.run([FIX / "002_f86e26e747344a50.txt"], tmp_path / "o", workers=1)
    info = batch.run_llm(rep.items, rep.out, explain=True, draft=True)
    assert info["jobs"] == 2 and "未配置大模型" in info["llm"]
    sha = rep.items[0].sha256
    ex = json.loads((rep.out / "explanations" / f"{sha}.json").read_text(encoding="utf-8"))
    assert len(ex["explanations"]) == 5 and ex["explanations"][0]["mode"] == "offline"
    assert batch.run_llm(rep.items, rep.out, explain=True, draft=True)["jobs"] == 0


def test_export_summary_and_memos_with_the_decisions(tmp_path):
    from docx import Document

    from review.signoff import SignoffDB
    db = SignoffDB(f"sqlite:///{tmp_path / 'signoff.sqlite'}")
    out = tmp_path / "o"
    batch.run([FIX / "002_f86e26e747344a50.txt", FIX / "004_0c9827e6b67986f5.txt"], out, workers=1, db=db)
    assert {r.status for r in db.reports()} == {"pending"} and len(db.reports()) == 2
    r002 = json.loads(next(p for p in (out / "reports").glob("*.json")
                           if "鄂州" in p.read_text(encoding="utf-8")).read_text(encoding="utf-8"))
    missing_row = next(f for f in r002["findings"] if f["rule"] == "table-row-missing")
    common = dict(reviewer="张三", report_sha256=r002["sha256"], source=r002["source"])
    db.record(kind="finding", action="dismiss", fingerprint=missing_row["fingerprint"], comment="本单位无规章制定权", **common)
    db.record(kind="draft", action="approve", payload={"text": "（一）存在的主要问题\n1. 依申请公开登记口径不一致。"}, **common)
    db.record(kind="report", action="return", comment="请更正表三后重新发布", **common)

    written = batch.export(out, db)
    rows = {Path(r["文件"]).name: r for r in
            csv.DictReader(io.StringIO((out / "summary.csv").read_text(encoding="utf-8-sig")))}
    assert rows["002_f86e26e747344a50.txt"]["状态"] == "退回修改" and rows["004_0c9827e6b67986f5.txt"]["状态"] == "待审核"
    md = next(p for p in written if p.suffix == ".md" and "鄂州" in p.name).read_text(encoding="utf-8")
    assert "审核结论：退回修改（请更正表三后重新发布）" in md
    assert "缺少“规章”行" not in md.split("## 二")[0]  # dismissed: not sent back
    assert "依申请公开登记口径不一致" in md and "本单位无规章制定权" in md and "张三" in md
    docx = next(p for p in written if p.suffix == ".docx" and "鄂州" in p.name)
    text = "\n".join(p.text for p in Document(docx).paragraphs)
    assert "审核意见" in text and "依申请公开登记口径不一致" in text
