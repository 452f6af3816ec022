"""A batch holding two years of one agency (平潭 2021 and 2022, re-typed layouts) checks them against each other:
after review.batch_years.cross_year the 2022 report's cross-year findings are assessed (not 无法判断), in the
batch's JSON, its summary row and the sign-off queue's counts."""
import json
import shutil

from review import batch, check
from review.batch_years import cross_year
from review.signoff import SignoffDB

from test_ui import ROOT

Y2021 = ROOT / "fixtures" / "pingtan_2021_county_pipe.txt"
Y2022 = ROOT / "fixtures" / "pingtan_2022_county_tsv.txt"
CROSS = {"carryover", "rollforward-current"}


def cross(findings) -> dict:
    return {f["rule"]: f["status"] for f in findings if f["rule"] in CROSS}


def test_years_in_one_batch_checked_against_each_other(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    for f in (Y2021, Y2022):
        shutil.copy(f, inbox / f.name)
    out = tmp_path / "out"
    with SignoffDB(f"sqlite:///{tmp_path / 's.sqlite'}") as db:
        rep = batch.run([inbox], out, workers=1, db=db)
        sha22 = check(Y2022).sha256
        before = cross(batch.load_result(out, sha22)["findings"])
        assert before and set(before.values()) == {"not_assessable"}  # alone, each file cannot be compared
        done = cross_year(out, rep.items, db)
        assert done == [sha22]  # 2021 has no earlier year in the batch
        after = cross(batch.load_result(out, sha22)["findings"])
        assert "not_assessable" not in after.values(), after  # assessed: passed (no finding) or failed
        # the same result through the history argument of the API: nothing special-cased in the batch
        with_history = check(Y2022, history=__import__("review.history", fromlist=["FolderHistory"])
                             .FolderHistory([Y2021]))
        assert cross([f.model_dump(mode="json") for f in with_history.findings]) == after
        row = next(json.loads(l) for l in reversed((out / "index.jsonl").read_text("utf-8").splitlines())
                   if json.loads(l)["sha256"] == sha22)
        reg = next(r for r in db.reports() if r.sha256 == sha22)
        assert (reg.errors, reg.warnings) == (row["errors"], row["warnings"])
