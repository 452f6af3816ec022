"""Words against tables (rule words-vs-tables) on every real fixture.

- The real narratives: every sentence that restates a table figure is found, and where the words agree with the
  tables there is no finding (淮安 2024: 3119 / 3050 / 34 / 103, 复议 351 = 72+64+178+37, 诉讼 46 = 25+5+9+7
  adding BOTH litigation groups; 平潭 2024: 办理申请218件, 制发行政规范性文件62件). The real contradictions are
  found (硚口 2021: 收费 100×; 平潭 2022: “收到申请75件” against 本年新收 74).
- Planted contradictions: each real restating sentence with its number changed (+1, ×10, another unit), the
  file re-reviewed from its bytes (the PDF: its extracted report; and its `pdftotext` text where that reads
  the cells), and the finding asserted.
- Generated phrasings (with/without 本年/共/全年, spaces around the number, 件/起, number before the noun) for
  every claim kind, written with the table's own figure (silent) and a wrong one (found), on every fixture.
The expected figures are computed here from the extracted cells, independently of the rule's own catalogue.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Optional

import pytest

from review import check
from review.extract import extract
from review.ingest import load
from review.models import Report
from review.rules import run
from review.rules.base import Context
from review.rules.words import KINDS, claims
from review.templates import template
from review.text import norm

FIX = Path(__file__).parent.parent / "fixtures"
TEXTS = sorted(p.name for p in FIX.glob("*.txt"))
ALL = TEXTS + ["pingtan_2024_page.html", "huaian_city_2024.pdf"]
RULE = "words-vs-tables"
SCOPE_WORDS = ("全市", "全区", "全县", "全省", "各部门", "各单位", "代表", "备案", "其中", "涉及")


def words(result) -> list:
    return [f for f in result.findings if f.rule == RULE]


def fails(result) -> list:
    return [f for f in words(result) if f.status == "fail"]


@lru_cache(maxsize=None)
def report_of(name: str) -> Report:
    """The fixture as extracted (cached: callers copy it, never change it)."""
    return extract(load(FIX / name))


def review_report(report: Report) -> list:
    return [f for f in run(report, only={RULE}) if f.status == "fail"]


# ------------------------------------------------------------------------------------------ the table's figures

def figures(tables, fmt: Optional[str]) -> dict[str, Optional[float]]:
    """The figures words restate, computed from the cells (None: a cell is not a number)."""
    apps = {(c.row, c.column): c.value for c in tables.applications if c.state.value == "number"}
    appeals = {(c.group, c.column): c.value for c in tables.appeals if c.state.value == "number"}
    disc = {(c.item, c.column): c.value for c in tables.disclosure if c.state.value == "number"}

    def total(d, keys):
        vals = [d.get(k) for k in keys]
        return None if not vals or any(v is None for v in vals) else sum(vals)

    leaves = [r.code for r in template(fmt).applications.leaf_rows] if fmt else []

    def under(prefix):
        return total(apps, [(r, "总计") for r in leaves if r == prefix or r.startswith(prefix + ".")])

    def first(*keys):
        return next((disc[k] for k in keys if k in disc), None)

    suits = ("未经复议直接起诉", "复议后起诉")
    out = {
        "收到": apps.get(("一", "总计")), "上年结转": apps.get(("二", "总计")), "办结": apps.get(("三.七", "总计")),
        "结转下年": apps.get(("四", "总计")), "予以公开": apps.get(("三.一", "总计")),
        "部分公开": apps.get(("三.二", "总计")), "不予公开": under("三.三"), "无法提供": under("三.四"),
        "不予处理": under("三.五"), "其他处理": under("三.六"),
        "自然人": apps.get(("一", "自然人")), "商业企业": apps.get(("一", "商业企业")),
        "复议": appeals.get(("行政复议", "总计")), "诉讼": total(appeals, [(g, "总计") for g in suits]),
        "复议维持": appeals.get(("行政复议", "结果维持")), "诉讼纠正": total(appeals, [(g, "结果纠正") for g in suits]),
        "诉讼未审结": total(appeals, [(g, "尚未审结") for g in suits]),
        "许可": first(("行政许可", "本年处理决定数量"), ("行政许可", "处理决定数量")),
        "处罚": first(("行政处罚", "本年处理决定数量"), ("行政处罚", "处理决定数量")),
        "强制": first(("行政强制", "本年处理决定数量"), ("行政强制", "处理决定数量")),
        "制发": first(("行政规范性文件", "本年制发件数"), ("规范性文件", "本年新制作数量"),
                      ("规范性文件", "本年制发件数")),
        "废止": first(("行政规范性文件", "本年废止件数"), ("规范性文件", "本年废止件数")),
        "现行有效": first(("行政规范性文件", "现行有效件数"), ("规范性文件", "现行有效件数")),
        "收费": first(("行政事业性收费", "本年收费金额（单位：万元）")),
        "规章": first(("规章", "本年制发件数"), ("规章", "本年新制作数量")),
        "采购": first(("政府集中采购", "采购总金额")),
        "法人": total(apps, [("一", c) for c in ("商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")]),
    }
    out["公开合计"] = None if out["予以公开"] is None or out["部分公开"] is None else out["予以公开"] + out["部分公开"]
    out["收到加结转"] = None if out["收到"] is None or out["上年结转"] is None else out["收到"] + out["上年结转"]
    return out


def n(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.6f}".rstrip("0").rstrip(".")


# ------------------------------------------------------------------------------------------ the real narratives

# (fixture, the claims the words make that restate a table figure: kind id and the normalised words)
REAL_CLAIMS = {
    "001_7db3595534c35dc9.txt": [("行政许可", "行政许可37957件"), ("行政事业性收费", "行政事业性收费共326780865元"),
                                 ("申请.办理", "依申请公开办件7件"),
                                 ("复议诉讼.无", "无因政府信息公开工作被申请行政复议、提起行政诉讼")],
    "002_f86e26e747344a50.txt": [("申请.收到", "受理依申请公开申请29起"), ("复议诉讼.合计", "行政复议、行政诉讼案件为0件")],
    "pingtan_2021_county_pipe.txt": [("申请.收到", "收到70件申请"), ("申请.办结", "办结69件"),
                                     ("申请.结转下年", "1件结转下年度")],
    "pingtan_2022_county_tsv.txt": [("规范性文件.现行有效", "现行有效行政规范性文件698件"),
                                    ("规范性文件.制发", "制发的规范性文件88件"),
                                    ("申请.收到", "收到政府信息公开申请75件"), ("申请.自然人", "自然人72件"),
                                    ("申请.商业企业", "商业企业3件"), ("诉讼", "行政诉讼案件1件"), ("复议", "行政复议案件2件")],
    "pingtan_2024_page.html": [("申请.办理", "办理政府信息公开申请218件"), ("规范性文件.制发", "制发行政规范性文件62件")],
    "huaian_city_2024.pdf": [("申请.收到", "受理政府信息公开申请3119件"), ("申请.办结", "答复3050件"),
                             ("申请.上年结转", "上年度结转申请34件"), ("申请.结转下年", "103件顺延到下年度"),
                             ("复议", "行政复议351件"), ("复议诉讼.结果维持", "结果维持72件"),
                             ("复议诉讼.结果纠正", "结果纠正64件"), ("复议诉讼.其他结果", "其他结果178件"),
                             ("复议诉讼.尚未审结", "尚未审结37件"), ("诉讼", "行政诉讼46件"),
                             ("复议诉讼.结果维持", "结果维持25件"), ("复议诉讼.结果纠正", "结果纠正5件"),
                             ("复议诉讼.其他结果", "其他结果9件"), ("复议诉讼.尚未审结", "尚未审结7件")],
}


@pytest.mark.parametrize("name", ALL)
def test_every_restating_sentence_is_read(name):
    got = [(c.kind.id, c.text) for c in claims(Context(report=report_of(name)))]
    assert got == REAL_CLAIMS.get(name, [])


@pytest.mark.parametrize("name", ALL)
def test_real_words_that_agree_give_no_finding(name):
    res = check(FIX / name)
    got = {(f.severity.value, f.message.split("称“")[1].split("”")[0]) for f in words(res)}
    expected = {
        "001_7db3595534c35dc9.txt": {("error", "行政事业性收费共326780865元")},  # 100× the table: a real error
        # “收到申请75件，涉及自然人72件”: 本年新收 is 74 (71 自然人); 75 = 74 + 1 上年结转: another count, one
        # warning (自然人 72 = 71 + 1 counts in the same scope: said once, on the total)
        "pingtan_2022_county_tsv.txt": {("warning", "收到政府信息公开申请75件")},
    }.get(name, set())
    assert got == expected


def test_huaian_litigation_adds_both_groups():
    """“行政诉讼 46 件，其中结果维持 25 件…”: 26 + 20 and 13 + 12 — the words add both litigation groups."""
    f = figures(check(FIX / "huaian_city_2024.pdf").tables, "2021")
    assert (f["诉讼"], f["诉讼纠正"], f["诉讼未审结"]) == (46, 5, 7)


def test_the_real_contradictions_say_both_figures():
    [fee] = fails(check(FIX / "001_7db3595534c35dc9.txt"))
    assert fee.severity.value == "error" and "100 倍" in fee.message and "326.780865 万元" in fee.message
    assert fee.cells == [{"item": "行政事业性收费", "column": "本年收费金额（单位：万元）"}]
    got = fails(check(FIX / "pingtan_2022_county_tsv.txt"))
    received = next(f for f in got if "75件" in f.message)
    assert received.severity.value == "warning" and received.cells == [{"row": "一", "column": "总计"}]
    assert "74 件" in received.message and "74 + 1 = 75 件" in received.message


# ------------------------------------------------------------------------------------------ planting into real words

def _fuzzy(text: str, html: bool) -> re.Pattern:
    """The normalised words as they may stand in the file: any spaces (and, in HTML, tags) between characters,
    full-width punctuation; the number captured."""
    gap = r"(?:\s|&nbsp;|<[^>]*>)*" if html else r"\s*"
    alt = {",": "[,，]", "(": "[(（]", ")": "[)）]", ":": "[:：]", ";": "[;；]"}
    num = re.search(r"\d[\d,]*(?:\.\d+)?", text)
    parts = []
    for i, ch in enumerate(text):
        if i == num.start():
            parts.append(r"(?P<num>\d[\d,]*(?:\.\d+)?)")
        if num.start() <= i < num.end():
            continue
        parts.append(alt.get(ch, re.escape(ch)))
    return re.compile(gap.join(parts))


def _planted(value: float) -> list[tuple[str, float, bool]]:
    """(how, new value, must be an error): +1 may meet another count (e.g. 本年新收 + 上年结转), ×10 may not."""
    big = value * 10 if value else 10
    return [("+1", value + 1, False), ("×10", big, True)]


def _restating(name: str) -> list[tuple[str, str]]:
    return [(k, t) for k, t in REAL_CLAIMS.get(name, []) if not k.endswith("无")]


PLANT_CASES = [(name, kind, text) for name in ALL for kind, text in _restating(name)]


@pytest.mark.parametrize("name,kind,text", PLANT_CASES, ids=[f"{a}-{c}" for a, _, c in PLANT_CASES])
def test_planted_contradiction_in_real_words_is_found(name, kind, text):
    said = float(re.search(r"\d[\d,]*(?:\.\d+)?", text).group(0).replace(",", ""))
    for how, new, must_error in _planted(said):
        planted = text.replace(n(said), n(new), 1)
        if name.endswith(".pdf"):
            report = report_of(name)
            lines = list(report.lines)
            i = next(i for i, ln in enumerate(lines) if _fuzzy(text, False).search(ln))
            lines[i] = _fuzzy(text, False).sub(lambda m: m.group(0).replace(m.group("num"), n(new)), lines[i], 1)
            got = review_report(report.model_copy(update={"lines": lines}))
        else:
            path = FIX / name
            body = path.read_text(encoding="utf-8")
            pat = _fuzzy(text, name.endswith(".html"))
            assert len(pat.findall(body)) >= 1, text
            body = pat.sub(lambda m: m.group(0).replace(m.group("num"), n(new), 1), body, 1)
            got = fails(check(body.encode("utf-8"), name=name))
        mine = [f for f in got if f"“{planted}" in f.message or f"{planted}”" in f.message]
        assert mine, (how, planted, [f.message for f in got])
        line = norm(next(ln for ln in report_of(name).lines if _fuzzy(text, False).search(ln)))
        before = re.split(r"[。;!?]", line[:line.index(text)])[-1]
        scoped = any(w in before for w in SCOPE_WORDS)
        if must_error and not scoped:
            assert mine[0].severity.value == "error", mine[0].message


def test_fee_in_another_unit_is_found():
    body = (FIX / "001_7db3595534c35dc9.txt").read_text(encoding="utf-8")
    right = body.replace("326780865元", "326.780865万元")
    assert fails(check(right.encode(), name="a.txt")) == []
    assert fails(check(body.replace("326780865元", "3267808.65元").encode(), name="a.txt")) == []
    for wrong in ("326.780865元", "326.780865亿元", "3.2678万元"):
        [f] = fails(check(body.replace("326780865元", wrong).encode(), name="a.txt"))
        assert f.severity.value == "error" and wrong in f.message


# ------------------------------------------------------------------------------------------ generated phrasings

PREFIXES = ("", "本年", "全年", "共", "本年度共", "{year}年，本机关", "{year} 年，")
UNITS = ("件", "起")

# (figure, phrasing with {n}; the phrasing's own units) — {p} a prefix, {u} a unit; {m} another figure's value
PHRASINGS: list[tuple[str, str, tuple[str, ...]]] = [
    ("收到", "{p}收到政府信息公开申请{n}{u}", UNITS),
    ("收到", "{p}受理政府信息公开申请{n}{u}", UNITS),
    ("收到", "{p}受理依申请公开申请{n}{u}", UNITS),
    ("收到", "{p}收到{n}{u}政府信息公开申请", UNITS),
    ("收到", "{p}新收政府信息公开申请{n}{u}", UNITS),
    ("收到", "{p}受理公民、法人和其他组织提出的政府信息公开申请{n}{u}", UNITS),
    ("办结", "{p}依法答复群众提出的政府信息公开申请{n}{u}", UNITS),
    ("办结", "{p}办结政府信息公开申请{n}{u}", UNITS),
    ("办结", "{p}答复政府信息公开申请{n}{u}", UNITS),
    ("办结", "{p}受理政府信息公开申请{m收到}{u}，按时答复{n}{u}", UNITS),
    ("办结", "{p}共收到{m收到}{u}申请，依法依规办结{n}{u}", UNITS),
    ("上年结转", "上年结转政府信息公开申请{n}{u}", UNITS),
    ("上年结转", "另有上年度结转申请{n}{u}", UNITS),
    ("结转下年", "结转下年度继续办理{n}{u}", UNITS),
    ("结转下年", "{n}{u}结转下年度继续办理", UNITS),
    ("结转下年", "另有{n}{u}顺延到下年度答复", UNITS),
    ("结转下年", "另有{n}{u}结转至{next}年办理", UNITS),
    ("予以公开", "其中予以公开{n}{u}", UNITS),
    ("公开合计", "予以公开或部分公开{n}{u}", UNITS),
    ("收到加结转", "{p}收到政府信息公开申请{n}{u}（含上年结转{m上年结转}{u}）", UNITS),
    ("予以公开", "{n}{u}予以公开", UNITS),
    ("部分公开", "部分公开{n}{u}", UNITS),
    ("不予公开", "不予公开{n}{u}", UNITS),
    ("无法提供", "无法提供{n}{u}", UNITS),
    ("不予处理", "不予处理{n}{u}", UNITS),
    ("其他处理", "其他处理{n}{u}", UNITS),
    ("法人", "{p}收到政府信息公开申请{m收到}{u}，其中法人或其他组织{n}{u}", UNITS),
    ("自然人", "{p}收到政府信息公开申请{m收到}{u}，其中自然人{n}{u}", UNITS),
    ("商业企业", "{p}收到政府信息公开申请{m收到}{u}，涉及商业企业{n}{u}", UNITS),
    ("复议", "{p}政府信息公开行政复议{n}{u}", UNITS),
    ("复议", "被申请行政复议{n}{u}", UNITS),
    ("复议", "{p}发生行政复议案件{n}{u}", UNITS),
    ("复议维持", "{p}行政复议{m复议}{u}，其中结果维持{n}{u}", UNITS),
    ("诉讼", "{p}政府信息公开行政诉讼{n}{u}", UNITS),
    ("诉讼", "被提起行政诉讼{n}{u}", UNITS),
    ("诉讼", "{p}行政诉讼案件{n}{u}", UNITS),
    ("诉讼纠正", "{p}行政诉讼{m诉讼}{u}，其中结果纠正{n}{u}", UNITS),
    ("诉讼未审结", "行政诉讼{m诉讼}{u}，尚未审结{n}{u}", UNITS),
    ("许可", "{p}作出行政许可决定{n}{u}", ("件",)),
    ("许可", "{p}办理行政许可{n}{u}", ("件",)),
    ("处罚", "{p}作出行政处罚决定{n}{u}", ("件", "起")),
    ("处罚", "{p}行政处罚案件{n}{u}", ("件", "起")),
    ("强制", "{p}行政强制{n}{u}", ("件",)),
    ("制发", "{p}制发行政规范性文件{n}{u}", ("件",)),
    ("制发", "{p}制发规范性文件{n}{u}", ("件",)),
    ("制发", "{p}印发{n}{u}规范性文件", ("件",)),
    ("废止", "{p}废止行政规范性文件{n}{u}", ("件",)),
    ("现行有效", "现行有效行政规范性文件{n}{u}", ("件",)),
    ("废止", "{p}制发行政规范性文件{m制发}件，废止{n}{u}", ("件",)),
    ("现行有效", "{p}制发规范性文件{m制发}件，废止{m废止}件，现行有效{n}{u}", ("件",)),
    ("规章", "{p}制发规章{n}{u}", ("件",)),
    ("采购", "政府集中采购总金额{n万元}万元", ("",)),
    ("收费", "{p}行政事业性收费{n万元}万元", ("",)),
    ("收费", "{p}收取行政事业性收费共{n元}元", ("",)),
]
# Words that are not this year's figure: never a finding, whatever the number.
NOT_CLAIMS = [
    "上年收到政府信息公开申请{w}件", "{other}年受理政府信息公开申请{w}件", "受理申请同比增加{w}件",
    "受理政府信息公开申请约{w}件", "另有{w}件结转至{other}年办理", "受理政府信息公开申请{w}余件", "收取信息处理费{w}元",
    "收到行政复议申请后依法答复{w}件", "推进行政许可事项{w}个", "行政处罚信息{w}条", "受理群众来信来访申请{w}件", "办理人大代表建议和政协提案{w}件",
]


def _fill(template: str, value: float, f: dict, prefix: str, unit: str, spaced: bool, year: int) -> str:
    num = f" {n(value)} " if spaced else n(value)
    out = template.replace("{p}", prefix.replace("{year}", str(year))).replace("{u}", unit)
    out = out.replace("{next}", str(year + 1))
    for key, v in f.items():
        if "{m" + key + "}" in out and v is not None:
            out = out.replace("{m" + key + "}", n(v))
    out = out.replace("{n万元}", n(value)).replace("{n元}", n(round(value * 10000, 4)))
    return out.replace("{n}", num)


def _wrong(key: str, value: float, f: dict) -> float:
    """A figure no reading of the same words can have (not the table's, nor another count's)."""
    taken = {v for v in f.values() if v is not None}
    w = value * 10 + 7
    while w in taken:
        w += 1
    return w


def _sentences(name: str, right: bool) -> list[tuple[str, str]]:
    report = report_of(name)
    f = figures(report.tables, report.meta.format)
    year = report.meta.year or 2021
    out = []
    for key, phrasing, units in PHRASINGS:
        value = f.get(key)
        needs = re.findall(r"\{m(\w+?)\}", phrasing)
        if value is None or any(f.get(k) is None for k in needs):
            continue  # the table has no such figure (e.g. 2019 format: no fee amount, no 废止)
        if key in ("收费", "采购") and not value:
            continue
        for i, prefix in enumerate(PREFIXES if "{p}" in phrasing else ("",)):
            unit = units[i % len(units)]
            said = value if right else _wrong(key, value, f)
            out.append((key, _fill(phrasing, said, f, prefix, unit, spaced=bool(i % 2), year=year) + "。"))
    return out


def _with_lines(name: str, sentences: list[str]):
    """Review the fixture with these sentences as new lines of part 一: from its bytes (text), or its report.
    The findings the fixture's own words already give (硚口's fee) are left out."""
    got, after = _with_lines_all(name, sentences)
    before = {f.fingerprint for f in review_report(report_of(name))}
    return [f for f in got if f.fingerprint not in before], after


def _with_lines_all(name: str, sentences: list[str]):
    report = report_of(name)
    after = report.sections[0].line if report.sections else 1
    if name.endswith(".txt"):
        lines = (FIX / name).read_text(encoding="utf-8").split("\n")
        body = "\n".join(lines[:after] + sentences + lines[after:])
        return fails(check(body.encode("utf-8"), name=name)), after
    k = len(sentences)
    spans = [s.model_copy(update={"start": s.start + k, "end": s.end + k}) if s.start > after else s
             for s in report.spans]
    lines = report.lines[:after] + sentences + report.lines[after:]
    return review_report(report.model_copy(update={"lines": lines, "spans": spans})), after


@pytest.mark.parametrize("name", ALL)
def test_generated_phrasings_that_agree_are_silent(name):
    sentences = [s for _, s in _sentences(name, right=True)]
    assert len(sentences) > 20
    got, _ = _with_lines(name, sentences)
    assert [f.message for f in got] == []


@pytest.mark.parametrize("name", ALL)
def test_generated_phrasings_that_contradict_are_found(name):
    planted = _sentences(name, right=False)
    got, after = _with_lines(name, [s for _, s in planted])
    by_line = {}
    for f in got:
        by_line.setdefault(f.line, []).append(f)
    missed = [(key, s) for i, (key, s) in enumerate(planted, after + 1)
              if not any(f.severity.value == "error" for f in by_line.get(i, []))]
    assert missed == []
    kinds = {key for key, _ in planted}
    assert {"收到", "办结", "复议", "诉讼"} <= kinds


@pytest.mark.parametrize("name", ["pingtan_2021_county_pipe.txt", "huaian_city_2024.pdf", "001_7db3595534c35dc9.txt"])
def test_words_that_are_not_this_years_figure_are_silent(name):
    report = report_of(name)
    year = report.meta.year
    sentences = [t.replace("{w}", "98765").replace("{other}", str(year - 1)) + "。" for t in NOT_CLAIMS]
    got, _ = _with_lines(name, sentences)
    assert got == []


def test_scope_words_make_a_warning_quoting_both():
    name = "pingtan_2021_county_pipe.txt"  # 本年新收 70
    for sentence in ("全区共受理政府信息公开申请95件。", "代表区政府受理政府信息公开申请95件。",
                     "办理各类事项1000件，其中依申请公开办件95件。"):
        [f] = _with_lines(name, [sentence])[0]
        assert f.severity.value == "warning" and "95" in f.message and "70 件" in f.message, f.message
    [f] = _with_lines(name, ["本机关受理政府信息公开申请95件。"])[0]
    assert f.severity.value == "error"


def test_another_count_that_cannot_be_read_makes_a_warning_not_an_error():
    """“受理申请95件” against 本年新收 70, with 上年结转 “/”: 95 might be 70 + the carried-over — not an error."""
    name = "pingtan_2021_county_pipe.txt"
    body = (FIX / name).read_text(encoding="utf-8")
    row = "| 二、上年结转政府信息公开申请数量 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |"
    assert row in body
    edited = body.replace(row, row[: -len("| 0 |")] + "| / |") + "\n本年度受理政府信息公开申请95件。\n"
    [f] = [f for f in fails(check(edited.encode("utf-8"), name=name)) if "95件" in f.message]
    assert f.severity.value == "warning" and "70 件" in f.message and "（不适用）" in f.message


def test_other_handling_filled_as_one_row():
    """A 2021 report whose （六）其他处理 is one row (as in 2019): “其他处理 N 件” is checked against that row."""
    name = "pingtan_2021_county_pipe.txt"  # （六） 1 + 0 + 0
    body = (FIX / name).read_text(encoding="utf-8")
    six = [ln for ln in body.split("\n") if "（六）其他处理" in ln]
    assert len(six) == 3
    one = "| 三、本年度办理结果 （六）其他处理 | 1 | 0 | 0 | 0 | 0 | 0 | 1 |"
    body = body.replace(six[0], one).replace(six[1] + "\n", "").replace(six[2] + "\n", "")
    res = check((body + "\n本年度其他处理1件。\n本年度其他处理5件。\n").encode("utf-8"), name=name)
    [f] = fails(res)
    assert f.severity.value == "error" and "其他处理5件" in f.message and "“（六）其他处理”为 1 件" in f.message


def test_none_said_against_a_table_with_cases():
    name = "pingtan_2021_county_pipe.txt"  # 行政复议 3, 行政诉讼 12 + 0
    got, _ = _with_lines(name, ["本年度未发生政府信息公开行政复议案件。", "本年度没有因政府信息公开被提起行政诉讼的情况。",
                                "本年度无因政府信息公开工作被申请行政复议、提起行政诉讼的情况。"])
    assert [(f.severity.value, f.cells[0]["group"]) for f in got] == [
        ("error", "行政复议"), ("error", "未经复议直接起诉"), ("error", "行政复议")]
    assert "3 件" in got[0].message and "12 + 0" in got[1].message
    # on a table with no cases the same words are silent (硚口 2021 says so and its 表四 is all 0)
    assert _with_lines("001_7db3595534c35dc9.txt", ["本年度未发生政府信息公开行政复议案件。"])[0] == []


def test_shares_of_the_results():
    name = "pingtan_2021_county_pipe.txt"  # 予以公开 30 of 69 results (43.48%), of 70 new (42.86%)
    right = ["予以公开30件，占43.5%。", "予以公开30件，占比43.48%。", "予以公开30件，占42.9%。", "部分公开5件，占7.2%。"]
    assert _with_lines(name, right)[0] == []
    got, _ = _with_lines(name, ["予以公开30件，占53.5%。"])
    assert len(got) == 1 and "43.48%" in got[0].message and got[0].severity.value == "error"


def test_a_cell_that_is_not_a_number_is_never_an_error():
    """003: 表三 三.一/自然人 is unreadable; “予以公开 N 件” restates 三.一 总计 which is read: still checked;
    a blank 总计 cell: “无法判断” at most."""
    name = "pingtan_2021_county_pipe.txt"
    body = (FIX / name).read_text(encoding="utf-8")
    rows = [ln for ln in body.split("\n") if ln.startswith("| 一、本年新收")]
    assert len(rows) == 1 and rows[0].rstrip().endswith("| 70 |")
    blanked = body.replace(rows[0], rows[0].rstrip()[: -len("| 70 |")] + "|  |")
    res = check((blanked + "\n本年度受理政府信息公开申请95件。\n").encode("utf-8"), name=name)
    assert fails(res) == []
    assert any(f.status == "not_assessable" and "95件" in f.message for f in words(res))


def test_every_claim_kind_is_exercised_here():
    """A kind added to the catalogue needs its phrasings (silent with the table's figure, found with a wrong one)
    in this file: every kind must be among the claims read from the real words and the generated ones."""
    seen = set()
    for name in ALL:
        report = report_of(name)
        k = len(_sentences(name, right=True))
        extra = [s for _, s in _sentences(name, right=True)] + [
            "本年度未发生政府信息公开行政复议案件。", "本年度没有因政府信息公开被提起行政诉讼的情况。"]
        lines = report.lines + extra
        seen |= {c.kind.id for c in claims(Context(report=report.model_copy(update={"lines": lines})))}
        assert k
    assert sorted({k.id for k in KINDS} - seen) == []


@pytest.mark.parametrize("name", ALL)
def test_generated_shares_on_every_fixture(name):
    """“予以公开 N 件，占 X%” with the table's share (rounded to 1 or 2 places, or cut) is silent; X off by 7 is found."""
    f = figures(report_of(name).tables, report_of(name).meta.format)
    if not f["办结"]:
        pytest.skip("no results total to take a share of")
    right, wrong = [], []
    for key in ("予以公开", "部分公开", "不予公开", "无法提供"):
        if f[key] is None:
            continue
        share = 100 * f[key] / f["办结"]
        right += [f"{key}{n(f[key])}件，占{share:.1f}%。", f"{key} {n(f[key])} 件（占比 {share:.2f}%）。",
                  f"{key}{n(f[key])}件，占{int(share * 10) / 10:.1f}%。"]
        wrong.append(f"{key}{n(f[key])}件，占{share + 7:.1f}%。")
    assert _with_lines(name, right)[0] == []
    got, after = _with_lines(name, wrong)
    assert sorted(g.line - after for g in got) == list(range(1, len(wrong) + 1))
    assert all(g.severity.value == "error" and "%" in g.message for g in got)


def _wrap(line: str, width: int = 20) -> list[str]:
    """Hard-wrap like text made from a PDF: fixed width (narrower than real pages, ~30), a number never cut."""
    out, rest = [], line
    while len(rest) > width:
        cut = width
        while cut < len(rest) and rest[cut - 1].isdigit() and rest[cut].isdigit():
            cut += 1
        out.append(rest[:cut])
        rest = rest[cut:]
    return out + [rest]


@pytest.mark.parametrize("name", [n_ for n_ in TEXTS if REAL_CLAIMS.get(n_)])
def test_words_wrapped_over_lines_read_the_same(name):
    """Text made from a PDF wraps a paragraph at a fixed width (“答” / “复 3050 件”): the same figures are read,
    the same findings made, and a planted figure found."""
    lines = (FIX / name).read_text(encoding="utf-8").split("\n")
    report = report_of(name)
    # (a sentence right above a table is left whole: where the table starts is the reader's business, and it
    # takes a wrapped “…行政复议、行政诉讼案件为” as the 表四 heading)
    near_table = {s.start - d for s in report.spans for d in (1, 2)}
    wanted = {i for i, _ in enumerate(report.lines, 1) if i not in near_table
              and any(t in norm(report.lines[i - 1]) for _, t in REAL_CLAIMS[name])}
    wrapped = [piece for i, ln in enumerate(lines, 1) for piece in (_wrap(ln) if i in wanted else [ln])]
    assert len(wrapped) > len(lines)
    body = "\n".join(wrapped)
    got = [(c.kind.id, c.text) for c in claims(Context(report=extract(load(body.encode("utf-8"), name))))]
    assert got == REAL_CLAIMS[name]

    def said(result):
        return sorted((f.severity.value, f.message.split("称“")[1].split("”")[0]) for f in fails(result))
    assert said(check(body.encode("utf-8"), name=name)) == said(check(FIX / name))
    _, text = _restating(name)[0]
    num = re.search(r"\d+", text).group(0)
    planted = body.replace(num, str(int(num) * 10 + 3), 1) if body.count(num) == 1 else None
    if planted:
        assert len(fails(check(planted.encode("utf-8"), name=name))) == len(fails(check(FIX / name))) + 1


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed")
@pytest.mark.parametrize("layout", [True, False])
def test_words_of_the_real_pdf_made_into_text(tmp_path, layout):
    """`pdftotext` (with and without -layout) wraps 淮安's paragraphs: every figure is still read, and none is an
    error whatever the tables read there (cells it cannot read make “无法判断”, never an error)."""
    out = tmp_path / "huaian.txt"
    subprocess.run(["pdftotext", *(["-layout"] if layout else []), str(FIX / "huaian_city_2024.pdf"), str(out)],
                   check=True)
    body = out.read_bytes()
    got = [(c.kind.id, c.text) for c in claims(Context(report=extract(load(body, "huaian.txt"))))]
    assert got == REAL_CLAIMS["huaian_city_2024.pdf"]
    assert [f.message for f in fails(check(body, name="huaian.txt"))] == []


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) is not installed")
def test_planted_in_the_real_pdf_made_into_text(tmp_path):
    """淮安's PDF through plain `pdftotext` (its 表三 read there): each restated figure changed in the text — the
    words wrapped over lines — is found wherever the cells it restates are read, “无法判断” where they are not."""
    out = tmp_path / "huaian.txt"
    subprocess.run(["pdftotext", str(FIX / "huaian_city_2024.pdf"), str(out)], check=True)
    body = out.read_text(encoding="utf-8")
    base = words(check(body.encode("utf-8"), name="huaian.txt"))
    checked = 0
    for _, text in _restating("huaian_city_2024.pdf"):
        said = float(re.search(r"\d+", text).group(0))
        pat = _fuzzy(text, False)
        assert pat.search(body), text
        planted = pat.sub(lambda m, new=n(said * 10): m.group(0).replace(m.group("num"), new, 1), body, 1)
        got = [f for f in words(check(planted.encode("utf-8"), name="huaian.txt"))
               if text.replace(n(said), n(said * 10), 1) in f.message]
        assessable = not any(text in f.message and f.status == "not_assessable" for f in base)
        assert got, text
        assert got[0].status == ("fail" if assessable else "not_assessable"), got[0].message
        checked += assessable
    assert checked >= 3  # 3119, 3050, 103 at least: 表三 is read from this text (二 only inferred there)
