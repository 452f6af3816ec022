"""Compare a review result (the contract's JSON object) with the hand-read gold of a seed."""
from __future__ import annotations

import json
from pathlib import Path

GOLD = json.loads((Path(__file__).parent / "data" / "gold_seeds.json").read_text(encoding="utf-8"))
INFERRED_OR_UNREADABLE = {"unreadable", "inferred"}


def cell_mismatches(gold: dict, res: dict) -> list[str]:
    """Every gold cell and meta value must come out; a null gold cell must be unreadable or inferred."""
    bad = []
    for k, v in gold["meta"].items():
        if res["meta"][k] != v:
            bad.append(f"meta.{k}: got {res['meta'][k]!r}, gold {v!r}")
    tables = res["tables"]
    index = {
        "disclosure": {(c["item"], c["column"]): c for c in tables["disclosure"]},
        "applications": {(c["row"], c["column"]): c for c in tables["applications"]},
        "appeals": {(c["group"], c["column"]): c for c in tables["appeals"]},
    }
    wanted = [("disclosure", gold["disclosure"]), ("applications", gold["applications"]), ("appeals", gold["appeals"])]
    for table, rows in wanted:
        for row, cols in rows.items():
            for col, v in cols.items():
                c = index[table].get((row, col))
                if c is None:
                    bad.append(f"{table} {row}/{col}: missing, gold {v!r}")
                elif v is None:
                    if c["state"] not in INFERRED_OR_UNREADABLE:
                        bad.append(f"{table} {row}/{col}: state {c['state']} value {c['value']!r}, gold null")
                elif c["state"] != "number" or abs(c["value"] - v) > 1e-9:
                    bad.append(f"{table} {row}/{col}: got {c['value']!r} ({c['state']}), gold {v!r}")
    extra = {c["item"]: c for c in tables["disclosure"] if c.get("extra")}
    for item, cols in gold.get("disclosure_extra", {}).items():
        for col, v in cols.items():
            got = [c for c in tables["disclosure"] if c.get("extra") and c["item"].startswith(item) and c["column"] == col]
            if not got or got[0]["value"] != v:
                bad.append(f"extra row {item}/{col}: got {got[0]['value'] if got else None!r}, gold {v!r}")
    for item in gold.get("disclosure_missing", []):
        if (item, next(iter(gold["disclosure"].get(item, {"": 0})))) in index["disclosure"]:
            bad.append(f"disclosure row {item} should be missing")
    del extra
    return bad


def _matches(finding: dict, want: dict) -> bool:
    if finding["status"] != "fail" or finding["severity"] != want["severity"]:
        return False
    if "table" in want and finding.get("table") != want["table"]:
        return False
    if "section" in want:
        if want["section"] is None:
            return finding.get("section") is None and finding.get("table") is None
        if finding.get("section") != want["section"]:
            return False
    for field in ("column", "item", "row"):
        if field in want:
            values = {c.get(field) for c in finding.get("cells", [])}
            if want[field] not in values:
                return False
            if field == "column" and values != {want[field]}:
                return False  # a column identity finding is about that one column
    return True


def missing_findings(gold: dict, res: dict) -> list[str]:
    return [w["about"] for w in gold["must_find"] if not any(_matches(f, w) for f in res["findings"])]


# must_not_find, written as prose in the gold, as predicates over one finding
MUST_NOT = {
    "any error-severity finding":
        lambda f: f["severity"] == "error" and f["status"] == "fail",
    "an error on the applications table (it balances: 7 + 0 = 7 + 0)":
        lambda f: f["severity"] == "error" and f["status"] == "fail" and f.get("table") == "applications",
    "an error on the 总计 column (29 = 29)":
        lambda f: f["severity"] == "error" and f["status"] == "fail" and f.get("table") == "applications"
        and {c.get("column") for c in f["cells"]} == {"总计"},
    "a balance error in column 自然人 or 总计 caused by the unreadable cell":
        lambda f: f["severity"] == "error" and f["status"] == "fail" and f.get("table") == "applications"
        and bool({c.get("column") for c in f["cells"]} & {"自然人", "总计"}),
}


def forbidden_findings(gold: dict, res: dict) -> list[str]:
    out = []
    for text in gold["must_not_find"]:
        pred = MUST_NOT[text]
        out += [f"{text}: {f['rule']} {f['message']}" for f in res["findings"] if pred(f)]
    return out
