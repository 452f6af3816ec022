"""Numbers the words restate, against the table cells they restate.

The words of a report (its lines outside the table spans) restate table figures: "全市共受理政府信息公开申请
3119 件", "政府信息公开行政诉讼 46 件，其中结果维持 25 件", "制发行政规范性文件62件", "行政事业性收费共
326780865元". This module is a catalogue of such claim KINDS. Each kind says

- which phrasings state the figure (regular expressions over the normalised line, "N" being the number);
- which quantity of the tables it restates (`readings`: a cell, or a sum of cells — 不予公开 is the sum of the
  （三） sub-rows, 行政诉讼 the sum of both litigation groups); the words agree when they equal ANY reading;
- which other quantities the same words may mean in another scope (`others`: 收到 counted with 上年结转,
  行政诉讼 of one group only): equal to one of those is a warning that quotes both, not an error.

A sentence sets a SUBJECT (申请, 行政复议, 行政诉讼) that the figures after it in the same sentence refine:
"答复 3050 件" after "受理政府信息公开申请 3119 件", "其中结果维持 72 件" after "行政复议 351 件",
"涉及自然人72件" after a 申请 count (the same rows, another column).

Counts compare exactly; amounts (元/万元/亿元) and percentages with the rounding their written digits allow.
A reading whose cells are blank, "/", unreadable or missing cannot refute the words: no error, at most
"无法判断". Words about another year, about a change ("同比增加…"), or approximate ("约""余") are not claims.
Words that may count another scope (全市/全区…, 各部门, 代表…, 备案) give a warning, never an error."""
from __future__ import annotations

import re
from decimal import Decimal
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Callable, Optional

from review.models import CellState, Evidence
from review.rules.base import Context, Rule, evidence_of, fmt_value, num_text, rule
from review.text import half_width, norm, to_wan

Key = tuple[str, str]
N = r"(?P<num>\d[\d,]*(?:\.\d+)?)"
LEAD = r"(?:共计|合计|总计|累计|总数|数量|共有|共|为|是|达到|达|计|有|了|的)*"
YEAR = r"(?:本年度|本年|全年|年内|当年|今年|\d{4}年(?:度)?)?"
CNT = r"(?P<unit>件|起|宗)"  # cases; 个/项/条 count items or documents, not decisions or requests
MONEY = r"(?P<unit>亿元|万元|元)"
APP = r"(?:政府信息公开|依申请公开|信息公开|公开)?(?:的|类)?申请"
# who applied, between the verb and a named 申请: “受理公民、法人和其他组织提出的政府信息公开申请 29 件”
WHO = r"[^，,。;；:：\d]{0,20}?"
APP_NAMED = r"(?:政府信息公开|依申请公开)(?:的|类)?申请"
KINDS_OF_APP = r"(?:各类|有关|相关|依法)?"
_VERB_IN = "收到|受理|接收|接到|新收|收"
_VERB_DO = "办理|处理"
_NONE = r"(?:无(?!法|正当)|未发生|未收到|未出现|没有|未有|不存在)"
_VERB_DONE = "办结|答复|办复|回复|作出答复|予以答复|完成办理|办理完毕"

# a scope other than the table's: the region's, several bodies', one body's on another's behalf, 备案
_SCOPE = re.compile(r"全市|全区|全县|全省|全州|全旗|全盟|全镇|各级|各部门|各单位|各地|全系统|系统内|汇总|代表|备案|报备")
_CHANGE = re.compile(r"(?:同比|较上年|比上年|较去年|比去年|环比)|(?:增加|增长|减少|下降|上升|提高)$")
_OTHER_YEAR_WORDS = re.compile(r"上年|去年|上一年|前年|往年|历年|累计至今")
_YEAR_IN = re.compile(r"((?:19|20)\d{2})年")
_APPROX_BEFORE = ("约", "近", "超过", "逾", "超", "将近", "大约")
_APPROX_AFTER = ("余", "多", "以上", "左右")
_SENTENCE = re.compile(r"[^。；;!！?？]+[。；;!！?？]?")


# ------------------------------------------------------------------------------------------------ quantities

@dataclass(frozen=True)
class Quantity:
    """A figure of the tables: the sum of some cells (all must be numbers). `name` as a reviewer reads it."""
    name: str
    table: str
    keys: tuple[Key, ...]
    alternatives: tuple[tuple[Key, ...], ...] = ()  # other addresses of the same figure (2019/2021 names)
    per_column: str = "{name}“{col}”列"  # the name of the same rows in another column
    unit: str = "件"
    named_by: tuple[str, ...] = ()  # words in the sentence that say the figure is this one (“含上年结转”)

    def in_columns(self, label: str, columns: tuple[str, ...]) -> "Quantity":
        """The same rows (groups) in other columns, summed: 本年新收 of 自然人, 行政诉讼 结果维持."""
        keys = tuple((k[0], c) for k in self.keys for c in columns)
        return Quantity(self.per_column.format(name=self.name, col=label), self.table, keys,
                        per_column=self.per_column, unit=self.unit, named_by=self.named_by)


def _cells(ctx: Context, table: str, keys: tuple[Key, ...]) -> list:
    if table == "applications":
        index = ctx.applications()
        return [index.get(k) for k in keys]
    if table == "appeals":
        index = ctx.appeals()
        return [index.get(k) for k in keys]
    return [ctx.disclosure(*k) for k in keys]


@dataclass
class Value:
    q: Quantity
    keys: tuple[Key, ...]
    cells: list  # None for a cell the table does not have
    value: Optional[float]  # None unless every cell is a number

    @property
    def present(self) -> bool:
        return any(c is not None for c in self.cells)

    @property
    def refs(self) -> list[dict]:
        field_name = {"disclosure": "item", "applications": "row", "appeals": "group"}[self.q.table]
        return [{field_name: k[0], "column": k[1]} for k in self.keys]

    @property
    def shown(self) -> str:
        if self.value is not None:
            parts = [c.value for c in self.cells]
            sum_text = f"（{' + '.join(num_text(v) for v in parts)}）" if 1 < len(parts) <= 6 else ""
            return f"{self.q.name}为 {num_text(self.value)} {self.q.unit}{sum_text}"
        bad = next((c for c in self.cells if c is None or c.state != CellState.number), None)
        return f"{self.q.name}{fmt_value(bad)}"

    @property
    def expr(self) -> str:
        """“74 + 1 = 75 件”, or “75 件”."""
        parts = [num_text(c.value) for c in self.cells]
        head = " + ".join(parts) + " = " if 1 < len(parts) <= 6 else ""
        return f"{head}{num_text(self.value)} {self.q.unit}"

    def evidence(self) -> list[Evidence]:
        return [evidence_of(c, f"{k[0]}/{k[1]}") for k, c in zip(self.keys, self.cells) if c is not None]


def value_of(ctx: Context, q: Quantity) -> Value:
    """The quantity's value: the first of its addresses the table has; None when any cell is not a number."""
    options = (q.keys,) + q.alternatives
    for keys in options:
        cells = _cells(ctx, q.table, keys)
        if any(c is not None for c in cells) or keys is options[-1]:
            break
    if keys != q.keys:  # another address: e.g. the single （六） row instead of its sub-rows
        q = replace(q, name=q.name.replace("各项之和", ""))
    # an inferred cell was not written in the report: the words are not checked against it
    usable = all(c is not None and c.state == CellState.number for c in cells)
    total = sum(c.value for c in cells) if usable else None
    return Value(q, keys, cells, total)


def _app(code: str, name: str, column: str = "总计") -> Quantity:
    return Quantity(name, "applications", ((code, column),))


def _app_sum(codes: tuple[str, ...], name: str) -> Quantity:
    return Quantity(name, "applications", tuple((c, "总计") for c in codes))


def _leaves(ctx: Context, prefix: str) -> tuple[str, ...]:
    """The template's leaf rows under a 表三 row (（三）不予公开 → 三.三.1 … 三.三.8; 2019 （六） → 三.六)."""
    t = ctx.template
    if t is None:
        return ()
    return tuple(r.code for r in t.applications.leaf_rows if r.code == prefix or r.code.startswith(prefix + "."))


def _disc(item_names: tuple[str, ...], columns: tuple[str, ...], name: str, unit: str = "件") -> Quantity:
    opts = [((i, c),) for i in item_names for c in columns]
    return Quantity(name, "disclosure", opts[0], tuple(opts[1:]), unit=unit)


NEW = _app("一", "表三“一、本年新收政府信息公开申请数量”")
CARRIED_IN = _app("二", "表三“二、上年结转政府信息公开申请数量”")
NEW_AND_CARRIED = Quantity("表三“本年新收”加“上年结转”", "applications", (("一", "总计"), ("二", "总计")),
                           named_by=("含上年", "包括上年", "含上一年", "包括上一年", "加上年", "连同上年"))
DONE = _app("三.七", "表三“（七）总计”（本年度办理结果）")
CARRIED_OUT = _app("四", "表三“四、结转下年度继续办理”")
REVIEW = Quantity("表四“行政复议”总计", "appeals", (("行政复议", "总计"),), per_column="表四“行政复议”“{col}”")
SUIT_DIRECT = Quantity("表四“行政诉讼 未经复议直接起诉”总计", "appeals", (("未经复议直接起诉", "总计"),),
                       per_column="表四“行政诉讼 未经复议直接起诉”“{col}”")
SUIT_AFTER = Quantity("表四“行政诉讼 复议后起诉”总计", "appeals", (("复议后起诉", "总计"),),
                      per_column="表四“行政诉讼 复议后起诉”“{col}”")
SUITS = Quantity("表四“行政诉讼”两组（未经复议直接起诉、复议后起诉）总计之和", "appeals",
                 (("未经复议直接起诉", "总计"), ("复议后起诉", "总计")),
                 per_column="表四“行政诉讼”两组（未经复议直接起诉、复议后起诉）“{col}”之和")
REVIEW_AND_SUITS = Quantity("表四行政复议、行政诉讼三组总计之和", "appeals",
                            (("行政复议", "总计"), ("未经复议直接起诉", "总计"), ("复议后起诉", "总计")))
_DECISIONS = ("本年处理决定数量", "处理决定数量")
_NORMS = ("行政规范性文件", "规范性文件")


def _results(prefix: str, label: str) -> Callable[[Context], list[Quantity]]:
    def readings(ctx: Context) -> list[Quantity]:
        codes = _leaves(ctx, prefix)
        if not codes:
            return []
        name = f"表三“{label}”" + ("各项之和" if len(codes) > 1 else "")
        # a group the report filled as one row (2021's （六） written as in the 2019 format) stands for its parts
        alt = (((prefix, "总计"),),) if len(codes) > 1 else ()
        return [Quantity(name, "applications", tuple((c, "总计") for c in codes), alt)]
    return readings


# ------------------------------------------------------------------------------------------------ claim kinds

@dataclass(frozen=True)
class Kind:
    """One kind of figure the words restate. `readings`: the table quantities the words may restate (equal to
    any: agree). `others`: quantities the same words may mean in another scope (equal to one: a warning).
    `subject`: the subject the claim sets for the rest of its sentence (申请, 复议, 诉讼); `needs`: the subject
    a follow-up claim (“答复 3050 件”, “其中结果维持 72 件”) refines, its readings derived from the subject's."""
    id: str
    what: str
    patterns: tuple[re.Pattern, ...]
    readings: Callable[[Context], list[Quantity]]
    others: Callable[[Context], list[Quantity]] = lambda ctx: []
    amount: bool = False
    subject: Optional[str] = None
    needs: Optional[str] = None
    column: Optional[tuple[str, tuple[str, ...]]] = None  # (name, columns) of a follow-up on another column
    exact_part: bool = False  # a 其中/涉及 before the figure names this exact part (else: maybe a subset of it)
    percent: bool = False  # a share (占 N%) may follow, of the results total
    keywords: tuple[str, ...] = ()
    zero: bool = False  # the words say there was none (“未发生…行政复议”): the figure is 0


def _p(*patterns: str) -> tuple[re.Pattern, ...]:
    return tuple(re.compile(p) for p in patterns)


def _fixed(*qs: Quantity) -> Callable[[Context], list[Quantity]]:
    return lambda ctx: list(qs)


def _tail(verbs: str) -> str:
    """A follow-up verb with its figure, after the subject in the same sentence: “答复 3050 件”."""
    return rf"(?:{verbs})(?:了)?{LEAD}{N}{CNT}"


KINDS: list[Kind] = [
    # ------------------------------------------------------------------ 表三: applications
    Kind("申请.收到", "收到的申请",
         _p(rf"(?:{_VERB_IN})(?:了)?{YEAR}{LEAD}{KINDS_OF_APP}{APP}(?:事项|件数|数量|总数)?{LEAD}{N}{CNT}",
            rf"(?:{_VERB_IN})(?:了)?{WHO}{APP_NAMED}(?:事项|件数|数量|总数)?{LEAD}{N}{CNT}",
            rf"(?:{_VERB_IN})(?:了)?{YEAR}{LEAD}{N}{CNT}(?:的)?{KINDS_OF_APP}{APP}"),
         _fixed(NEW), _fixed(NEW_AND_CARRIED, DONE), subject="申请",
         keywords=("申请",)),
    Kind("申请.办结", "办结（答复）的申请",
         _p(rf"(?:{_VERB_DONE})(?:了)?{YEAR}{LEAD}{KINDS_OF_APP}{APP}(?:事项|件数|数量|总数)?{LEAD}{N}{CNT}",
            rf"(?:{_VERB_DONE})(?:了)?{WHO}{APP_NAMED}(?:事项|件数|数量|总数)?{LEAD}{N}{CNT}",
            rf"(?:{_VERB_DONE})(?:了)?{YEAR}{LEAD}{N}{CNT}(?:的)?{KINDS_OF_APP}{APP}"),
         _fixed(DONE), _fixed(NEW, NEW_AND_CARRIED), subject="申请", keywords=("申请",)),
    Kind("申请.办理", "办理的申请",
         _p(rf"(?:{_VERB_DO})(?:了)?{YEAR}{LEAD}{KINDS_OF_APP}{APP}(?:事项|件数|数量|总数)?{LEAD}{N}{CNT}",
            rf"(?:{_VERB_DO})(?:了)?{WHO}{APP_NAMED}(?:事项|件数|数量|总数)?{LEAD}{N}{CNT}",
            rf"(?:{_VERB_DO})(?:了)?{YEAR}{LEAD}{N}{CNT}(?:的)?{KINDS_OF_APP}{APP}",
            rf"(?:依申请公开|政府信息公开申请)(?:申请|办件|事项|件)?{LEAD}{N}{CNT}"),
         _fixed(NEW, DONE, NEW_AND_CARRIED), subject="申请", keywords=("申请",)),
    Kind("申请.上年结转", "上年结转的申请",
         _p(rf"上(?:一)?年(?:度)?结转(?:过来|来)?(?:的)?{KINDS_OF_APP}(?:{APP})?{LEAD}{N}{CNT}",
            rf"{N}{CNT}(?:申请)?(?:为|系|是)?上(?:一)?年(?:度)?结转"),
         _fixed(CARRIED_IN), exact_part=True, keywords=("结转",)),
    Kind("申请.结转下年", "结转下年度的申请",
         _p(rf"(?:结转|顺延|转入|延续|转)(?:至|到)?下(?:一)?年(?:度)?(?:继续)?(?:办理|答复|处理)?(?:的)?(?:{APP})?{LEAD}{N}{CNT}",
            rf"{N}{CNT}(?:申请)?(?:需)?(?:结转|顺延|转入|延续|转)(?:至|到)?下(?:一)?年(?:度)?",
            rf"{N}{CNT}(?:申请)?(?:需)?(?:结转|顺延|转入|延续)(?:至|到)(?P<next>\d{{4}})年"),
         _fixed(CARRIED_OUT), exact_part=True, keywords=("下年", "下一年", "结转", "顺延", "转入", "延续")),
    Kind("申请.公开合计", "予以公开和部分公开",
         _p(rf"(?<!不)予以公开(?:或|和|及|与|、|或者)(?:予以)?部分公开(?:的)?(?:申请)?{LEAD}{N}{CNT}"),
         _fixed(_app_sum(("三.一", "三.二"), "表三“（一）予以公开”与“（二）部分公开”之和")), exact_part=True,
         keywords=("部分公开",)),
    Kind("申请.予以公开", "予以公开", _p(rf"(?<!不)予以公开(?:的)?(?:申请)?{LEAD}{N}{CNT}", rf"{N}{CNT}(?:申请)?予以公开"),
         _results("三.一", "（一）予以公开"), exact_part=True, percent=True, keywords=("予以公开",)),
    Kind("申请.部分公开", "部分公开", _p(rf"部分公开(?:的)?(?:申请)?{LEAD}{N}{CNT}", rf"{N}{CNT}(?:申请)?(?:予以)?部分公开"),
         _results("三.二", "（二）部分公开"), exact_part=True, percent=True, keywords=("部分公开",)),
    Kind("申请.不予公开", "不予公开", _p(rf"不予(?:以)?公开(?:的)?(?:申请)?{LEAD}{N}{CNT}", rf"{N}{CNT}(?:申请)?不予(?:以)?公开"),
         _results("三.三", "（三）不予公开"), exact_part=True, percent=True, keywords=("不予",)),
    Kind("申请.无法提供", "无法提供", _p(rf"无法提供(?:的)?(?:申请)?{LEAD}{N}{CNT}", rf"{N}{CNT}(?:申请)?(?:因.{{0,8}})?无法提供"),
         _results("三.四", "（四）无法提供"), exact_part=True, percent=True, keywords=("无法提供",)),
    Kind("申请.不予处理", "不予处理", _p(rf"不予处理(?:的)?(?:申请)?{LEAD}{N}{CNT}", rf"{N}{CNT}(?:申请)?不予处理"),
         _results("三.五", "（五）不予处理"), exact_part=True, percent=True, keywords=("不予处理",)),
    Kind("申请.其他处理", "其他处理", _p(rf"其他处理(?:的)?(?:申请)?{LEAD}{N}{CNT}"),
         _results("三.六", "（六）其他处理"), exact_part=True, percent=True, keywords=("其他处理",)),
    # follow-ups on the 申请 subject: the figure after it in the same sentence
    Kind("申请.办结", "办结（答复）的申请", _p(_tail(_VERB_DONE)), _fixed(DONE), _fixed(NEW, NEW_AND_CARRIED),
         needs="申请", exact_part=True),
    Kind("申请.自然人", "自然人的申请", _p(rf"(?<!非)自然人(?:申请|提出的?申请)?{LEAD}{N}{CNT}"), _fixed(), needs="申请",
         column=("自然人", ("自然人",)), exact_part=True),
    Kind("申请.法人", "法人或其他组织的申请", _p(rf"法人(?:或|和|及)?(?:其他组织|其他社会组织)?(?:申请|提出的?申请)?{LEAD}{N}{CNT}"),
         _fixed(), needs="申请", exact_part=True,
         column=("法人或其他组织", ("商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"))),
    Kind("申请.商业企业", "商业企业的申请", _p(rf"商业企业(?:申请|提出的?申请)?{LEAD}{N}{CNT}"), _fixed(), needs="申请",
         column=("商业企业", ("商业企业",)), exact_part=True),
    # ------------------------------------------------------------------ 表四: appeals
    Kind("复议诉讼.无", "没有行政复议、行政诉讼",
         _p(rf"{_NONE}[^。;,，]{{0,24}}?行政复议(?:案件)?(?:、|和|及|与|或|或者)[^。;,，]{{0,6}}?行政诉讼"),
         _fixed(REVIEW_AND_SUITS), zero=True, keywords=("行政复议",)),
    Kind("复议.无", "没有行政复议", _p(rf"{_NONE}[^。;,，、]{{0,24}}?行政复议(?!.{{0,3}}(?:、|和|及|与|或)[^。;,，]{{0,6}}?行政诉讼)"),
         _fixed(REVIEW), zero=True, keywords=("行政复议",)),
    Kind("诉讼.无", "没有行政诉讼", _p(rf"{_NONE}[^。;,，、]{{0,24}}?行政诉讼"), _fixed(SUITS), zero=True,
         keywords=("行政诉讼",)),
    Kind("复议诉讼.合计", "行政复议和行政诉讼",
         _p(rf"行政复议(?:案件)?(?:、|和|及|与|或|或者)(?:提起|被提起)?行政诉讼(?:的)?(?:案件|办件)?{LEAD}{N}{CNT}"),
         _fixed(REVIEW_AND_SUITS), keywords=("行政复议",)),
    Kind("复议", "行政复议",
         _p(rf"行政复议(?:案件|申请)?{LEAD}{N}{CNT}", rf"{N}{CNT}(?:政府信息公开)?行政复议"),
         _fixed(REVIEW), subject="复议", keywords=("行政复议",)),
    Kind("诉讼", "行政诉讼",
         _p(rf"行政诉讼(?:案件)?{LEAD}{N}{CNT}", rf"{N}{CNT}(?:政府信息公开)?行政诉讼"),
         _fixed(SUITS), _fixed(SUIT_DIRECT, SUIT_AFTER), subject="诉讼", keywords=("行政诉讼",)),
    *[Kind(f"复议诉讼.{col}", col, _p(rf"{pat}(?:的)?{LEAD}{N}{CNT}"), _fixed(), needs="复议|诉讼",
           column=(col, (col,)), exact_part=True)
      for col, pat in (("结果维持", "(?:结果)?维持"), ("结果纠正", "(?:结果)?纠正"), ("其他结果", "其他结果"),
                       ("尚未审结", "(?:尚)?未审结"))],
    # ------------------------------------------------------------------ 表二: disclosure
    Kind("行政许可", "行政许可",
         _p(rf"行政许可(?:决定|办件|处理决定|事项办件|类办件|事项|案件|件)?{LEAD}{N}{CNT}"),
         _fixed(_disc(("行政许可",), _DECISIONS, "表二“行政许可”处理决定数量")), keywords=("行政许可",)),
    Kind("行政处罚", "行政处罚",
         _p(rf"行政处罚(?:决定|案件|处理决定|办件|件)?{LEAD}{N}{CNT}"),
         _fixed(_disc(("行政处罚",), _DECISIONS, "表二“行政处罚”处理决定数量")), keywords=("行政处罚",)),
    Kind("行政强制", "行政强制",
         _p(rf"行政强制(?:决定|措施|执行|案件|处理决定|办件|件)?{LEAD}{N}{CNT}"),
         _fixed(_disc(("行政强制",), _DECISIONS, "表二“行政强制”处理决定数量")), keywords=("行政强制",)),
    Kind("规范性文件.制发", "制发的规范性文件",
         _p(rf"(?:制发|印发|出台|制定|新制作|新制发)(?:了)?(?:的)?{YEAR}(?:的)?(?:各类)?(?:行政)?规范性文件{LEAD}{N}{CNT}",
            rf"(?:制发|印发|出台|制定|新制作|新制发)(?:了)?{LEAD}{N}{CNT}(?:行政)?规范性文件"),
         _fixed(_disc(_NORMS, ("本年制发件数", "本年新制作数量"), "表二“行政规范性文件”本年制发件数")),
         subject="规范性文件", keywords=("规范性文件",)),
    Kind("规范性文件.废止", "废止的规范性文件",
         _p(rf"废止(?:了)?(?:的)?(?:各类)?(?:行政)?规范性文件{LEAD}{N}{CNT}", rf"废止(?:了)?{LEAD}{N}{CNT}(?:行政)?规范性文件"),
         _fixed(_disc(_NORMS, ("本年废止件数",), "表二“行政规范性文件”本年废止件数")), subject="规范性文件",
         keywords=("规范性文件",)),
    Kind("规范性文件.现行有效", "现行有效的规范性文件",
         _p(rf"现行有效(?:的)?(?:各类)?(?:行政)?规范性文件{LEAD}{N}{CNT}", rf"现行有效(?:的)?{LEAD}{N}{CNT}(?:行政)?规范性文件"),
         _fixed(_disc(_NORMS, ("现行有效件数",), "表二“行政规范性文件”现行有效件数")), subject="规范性文件",
         keywords=("规范性文件",)),
    # follow-ups on a 规范性文件 figure: “制发行政规范性文件69件，废止3件，现行有效665件”
    Kind("规范性文件.废止", "废止的规范性文件", _p(rf"废止(?:了)?{LEAD}{N}{CNT}"),
         _fixed(_disc(_NORMS, ("本年废止件数",), "表二“行政规范性文件”本年废止件数")), needs="规范性文件", exact_part=True),
    Kind("规范性文件.现行有效", "现行有效的规范性文件", _p(rf"现行有效(?:的)?{LEAD}{N}{CNT}"),
         _fixed(_disc(_NORMS, ("现行有效件数",), "表二“行政规范性文件”现行有效件数")), needs="规范性文件", exact_part=True),
    Kind("规章.制发", "制发的规章",
         _p(rf"(?:制发|印发|出台|制定)(?:了)?(?:的)?{YEAR}(?:政府)?规章{LEAD}{N}{CNT}"),
         _fixed(_disc(("规章",), ("本年制发件数", "本年新制作数量"), "表二“规章”本年制发件数")), keywords=("规章",)),
    Kind("行政事业性收费", "行政事业性收费",
         _p(rf"行政事业性收费(?:金额|总额|收入)?{LEAD}{N}{MONEY}"),
         _fixed(_disc(("行政事业性收费",), ("本年收费金额（单位：万元）",), "表二“行政事业性收费”本年收费金额",
                      "万元")),
         amount=True, keywords=("行政事业性收费",)),
    Kind("政府集中采购", "政府集中采购金额",
         _p(rf"政府集中采购[^。；,，]{{0,8}}?(?:金额|总额|总金额){LEAD}{N}{MONEY}"),
         _fixed(_disc(("政府集中采购",), ("采购总金额",), "表二“政府集中采购”采购总金额", "万元")), amount=True,
         keywords=("政府集中采购",)),
]

# The subjects a follow-up kind needs; every subject kind comes before the follow-ups that need it, so a sentence
# in which no subject was claimed yet skips the follow-ups' patterns.
_NEEDS = {k.needs: frozenset(k.needs.split("|")) for k in KINDS if k.needs}
assert all(any(s.subject in _NEEDS[k.needs] for s in KINDS[:i]) for i, k in enumerate(KINDS) if k.needs)
_KEYWORDS = tuple(sorted({k for kind in KINDS for k in kind.keywords}))
_KEYWORD = re.compile("|".join(map(re.escape, _KEYWORDS)))
_DIGIT_OR_NONE = re.compile(rf"\d|{_NONE}")
_PERCENT = re.compile(r"^[^。；;，,\d]{0,2}[，,]?(?:占|比例为|占比为?|比例)[^。；;\d%]{0,12}?(?P<pct>\d+(?:\.\d+)?)[%％]")


# ------------------------------------------------------------------------------------------------ the rule

@dataclass
class Claim:
    kind: Kind
    match: re.Match
    sentence: str  # the normalised sentence
    start: int  # the match's offset in the sentence
    line: int
    readings: list[Quantity] = field(default_factory=list)
    others: list[Quantity] = field(default_factory=list)
    subject: Optional["Claim"] = None  # for a follow-up: the claim it refines
    other_matched: Optional[int] = None  # set when the words equal others[i]: they count in that scope

    @property
    def text(self) -> str:
        return self.match.group(0)

    @property
    def said(self):
        """The figure exactly as written: an int, or a Decimal keeping its written decimals."""
        if self.kind.zero:
            return 0
        raw = self.match.group("num").replace(",", "")
        return Decimal(raw) if "." in raw else int(raw)

    @property
    def unit(self) -> Optional[str]:
        return None if self.kind.zero else self.match.group("unit")


@rule("words-vs-tables", "error", "正文数字与表格数字一致（统一换算单位后）", "《条例》第五十条；年报内容应准确一致",
      "正文中复述表格的数字与对应单元格比较：收到/受理/办理/办结/答复的申请件数，上年结转、结转下年度，"
      "予以公开、部分公开、不予公开等办理结果及其占比，行政复议件数，行政诉讼件数（未经复议直接起诉与复议后起诉"
      "两组之和）及其中各项结果，表二的行政许可、行政处罚、行政强制件数，制发、废止、现行有效的（行政）规范性"
      "文件件数，行政事业性收费金额（元/万元/亿元统一换算为万元，按各自的小数位数计入舍入误差）。"
      "明显矛盾为错误；正文可能是另一统计口径（全市/全区、各部门汇总、代表他机关受理、备案等）时为警告并同时引用两者；"
      "对应单元格空白、不适用或无法识别时不报错（无法判断）。行政事业性收费（表二）与信息处理费（第六部分）"
      "是两回事，从不比较。")
def words_vs_tables(r: Rule, ctx: Context):
    for claim in claims(ctx):
        f = _compare(r, ctx, claim)
        if f:
            yield f
        if claim.kind.percent:
            f = _compare_percent(r, ctx, claim)
            if f:
                yield f


def claims(ctx: Context) -> list[Claim]:
    """Every figure the words restate, with the quantities of the tables each may mean."""
    out: list[Claim] = []
    for text, starts in _paragraphs(ctx):
        for sm in _SENTENCE.finditer(text):
            if not _DIGIT_OR_NONE.search(sm.group(0)):
                continue  # no figure, and no “未发生…”
            out.extend(_sentence_claims(ctx, sm.group(0), partial(_line_at, starts, sm.start())))
    return out


_HEADING = re.compile(r"^(?:[一二三四五六七八九十]+[、.]|[(（][一二三四五六七八九十\d]+[)）]|\d+[、.]|第[一二三四五六七八九十]+[部分章条])")


def _paragraphs(ctx: Context):
    """The words outside the tables, normalised, as paragraphs: a long line that does not end a sentence runs on
    into the next (text made from PDFs wraps “答” / “复 3050 件”); a short line (a title, a heading, a site's
    chrome) and a heading stand alone. Only paragraphs naming a kind's keyword are normalised and yielded.
    Yields (text, [(offset, line number)])."""
    table_lines = {i for s in ctx.report.spans for i in range(s.start, s.end + 1)}
    raws: list[str] = []
    ids: list[int] = []

    def flush():
        if raws and _KEYWORD.search("".join(raws)):  # the keywords are CJK: found before normalising
            text, starts = "", []
            for i, raw in zip(ids, raws):
                starts.append((len(text), i))
                text += norm(raw)
            yield text, starts
        raws.clear()
        ids.clear()

    for i, raw in enumerate(ctx.report.lines, 1):
        sq = "" if i in table_lines else "".join(raw.split())
        if raws and (not sq or _HEADING.match(sq)):
            yield from flush()
        if sq:
            raws.append(sq)
            ids.append(i)
        heading = _HEADING.match(sq) and len(sq) < 40  # a heading line stands alone
        if raws and (len(sq) < 10 or heading or sq[-1] in "。;；!！?？:：|｜" or len(raws) >= 12):
            yield from flush()
    yield from flush()


def _line_at(starts: list[tuple[int, int]], base: int, at: int) -> int:
    """The line of the character at `base + at` of a paragraph."""
    offset = base + at
    line = starts[0][1]
    for at, i in starts:
        if at > offset:
            break
        line = i
    return line


def _sentence_claims(ctx: Context, s: str, line_of: Callable[[int], int]) -> list[Claim]:
    found: list[Claim] = []
    taken: list[tuple[int, int]] = []
    subjects: set[str] = set()  # the subjects claimed so far in this sentence
    for kind in KINDS:
        if kind.needs is None:
            if kind.keywords and not any(k in s for k in kind.keywords):
                continue
        elif subjects.isdisjoint(_NEEDS[kind.needs]):
            continue  # a follow-up without its subject in the sentence is never a claim (see below)
        for pat in kind.patterns:
            for m in pat.finditer(s):
                a, b = (m.start(), m.end()) if kind.zero else (m.start("num"), m.end("num"))
                if any(x < b and a < y for x, y in taken) or not _is_claim(ctx, kind, s, m):
                    continue
                taken.append((a, b))
                found.append(Claim(kind, m, s, m.start(), line_of(m.start())))
                if kind.subject:
                    subjects.add(kind.subject)
    found.sort(key=lambda c: c.start)
    subject: Optional[Claim] = None
    out = []
    for c in found:
        if c.kind.needs:
            if subject is None or subject.kind.subject not in c.kind.needs.split("|"):
                continue
            c.subject = subject
            if c.kind.column:
                label, cols = c.kind.column
                c.readings = [q.in_columns(label, cols) for q in subject.readings]
                c.others = [q.in_columns(label, cols) for q in subject.others]
            else:
                c.readings, c.others = c.kind.readings(ctx), c.kind.others(ctx)
        else:
            c.readings, c.others = c.kind.readings(ctx), c.kind.others(ctx)
            if c.kind.subject:
                subject = c
        out.append(c)
    return out


def _is_claim(ctx: Context, kind: Kind, s: str, m: re.Match) -> bool:
    """Whether the figure states this year's total of the kind: not a change, a part, another year, a guess."""
    before = s[:m.start()]
    clause = re.split(r"[，,：:（(]", before)[-1]
    near = s[max(0, m.start() - 6):m.start()]
    if kind.zero:
        return not (_OTHER_YEAR_WORDS.search(clause + m.group(0)) or _CHANGE.search(near))
    if _CHANGE.search(near) or _CHANGE.search(s[max(0, m.start("num") - 4):m.start("num")]):
        return False
    if "处理费" in m.group(0):
        return False
    if kind.id != "申请.上年结转" and _OTHER_YEAR_WORDS.search(clause + s[m.start():m.start("num")]):
        return False
    years = _YEAR_IN.findall(before + s[m.start():m.start("num")])
    if years and ctx.meta.year and int(years[-1]) != ctx.meta.year:
        return False
    if m.groupdict().get("next") and int(m.group("next")) != (ctx.meta.year or 0) + 1:
        return False  # “结转至2022年” is 结转下年度 only in the 2021 report
    num_at = m.start("num")
    if any(s[:num_at].endswith(w) for w in _APPROX_BEFORE):
        return False
    after = s[m.end("num"):m.end("num") + 3]
    unit = m.group("unit")
    if any(after.startswith(w) or after[len(unit):].startswith(w) for w in _APPROX_AFTER):
        return False
    return True


def _scope_word(claim: Claim) -> Optional[str]:
    """A word saying the figure may count another scope: another body's, the region's, a subset (其中…)."""
    m = _SCOPE.search(claim.sentence[:claim.match.end()])
    if m:
        return m.group(0)
    near = claim.sentence[max(0, claim.start - 6):claim.start]
    if not claim.kind.exact_part:
        return next((w for w in ("其中", "涉及", "包括") if w in near), None)
    return None


def _ref(claim: Claim) -> Evidence:
    return Evidence(ref=f"第 {claim.line} 行", value=claim.text, line=claim.line)


def _equal(said, v: Value, claim: Claim, unit: Optional[str]) -> bool:
    """Counts exactly; amounts within the rounding both written figures allow (the cell's decimals, else half a
    万元), after converting the words' unit to 万元."""
    if claim.kind.amount:
        said_wan = to_wan(said, unit)
        tol = to_wan(_precision(claim.match.group("num")), unit)
        tol += sum((half_width(c.value) if isinstance(c.value, Decimal) else Decimal("0.5")) for c in v.cells)
        return abs(said_wan - v.value) <= tol
    return said == v.value


def _compare(r: Rule, ctx: Context, claim: Claim):
    readings = [value_of(ctx, q) for q in claim.readings]
    readings = [v for v in readings if v.present]
    if not readings:
        return None  # the table has no such cell (e.g. the 2019 format has no fee amount): nothing is restated
    unit = claim.unit
    said = claim.said
    usable = [v for v in readings if v.value is not None]
    if any(_equal(said, v, claim, unit) for v in usable):
        return None
    key = f"{claim.kind.id}|{claim.text}"  # the words restated: the same finding on the same report, run after run
    first = readings[0]
    quoted = f"正文第 {claim.line} 行称“{claim.text}”"
    if len(usable) < len(readings):
        bad = next(v for v in readings if v.value is None)
        return r.finding(f"{quoted}，对应的{bad.shown}，无法核对。", key=key, status="not_assessable",
                         table=first.q.table, cells=first.refs, line=claim.line,
                         evidence=[_ref(claim)] + [e for v in readings for e in v.evidence()])
    others = [value_of(ctx, q) for q in claim.others]
    i_other = next((i for i, v in enumerate(others) if v.value is not None and _equal(said, v, claim, unit)), None)
    same_other = None if i_other is None else others[i_other]
    if same_other is not None and any(w in claim.sentence for w in same_other.q.named_by):
        return None  # “收到申请75件（含上年结转1件）”: the words say which count they give
    claim.other_matched = i_other
    if i_other is not None and claim.kind.column and claim.subject and claim.subject.other_matched == i_other:
        return None  # “收到75件，涉及自然人72件”, both in the scope the subject's warning already names
    shown = "；".join(v.shown for v in usable)
    evidence = [_ref(claim)] + [e for v in usable for e in v.evidence()]
    if claim.kind.amount:
        v = usable[0]
        said_wan = to_wan(said, unit)
        ratio = said_wan / v.value if v.value else None
        times = f"，相差约 {num_text(round(ratio, 2))} 倍" if ratio and (ratio >= 9.5 or ratio <= 0.105) else ""
        msg = f"{quoted}（合 {num_text(said_wan)} 万元），而{v.q.name}为 {num_text(v.value)} 万元{times}。"
    else:
        msg = f"{quoted}，而{shown}，{'两者不一致' if len(usable) == 1 else '均与正文不一致'}。"
    scope = _scope_word(claim)
    if same_other is not None:
        evidence += same_other.evidence()
        msg = (f"{quoted}，而{shown}。正文的 {num_text(said)} 等于{same_other.q.name}（{same_other.expr}），"
               f"可能按另一口径统计。请核实正文所指，使正文与表格口径一致。")
        return r.finding(msg, key=key, severity="warning", table=first.q.table, cells=first.refs, line=claim.line,
                         evidence=evidence)
    unknown = next((v for v in others if v.present and v.value is None), None)
    if scope is None and unknown is not None:  # another count the words may mean cannot be read: not an error
        msg = msg.rstrip("。") + f"；正文也可能指{unknown.shown}，无法排除，请核实。"
        return r.finding(msg, key=key, severity="warning", table=first.q.table, cells=first.refs, line=claim.line,
                         evidence=evidence)
    if scope:
        msg = msg.rstrip("。") + f"；正文含“{scope}”，可能是另一统计口径，请核实。"
        return r.finding(msg, key=key, severity="warning", table=first.q.table, cells=first.refs, line=claim.line,
                         evidence=evidence)
    return r.finding(msg + "请核对正文或表格，改正有误的一方。", key=key, table=first.q.table, cells=first.refs,
                     line=claim.line, evidence=evidence)


def _compare_percent(r: Rule, ctx: Context, claim: Claim):
    """“予以公开30件，占42.9%”: the share of the results total (or of the new requests) the words state."""
    pm = _PERCENT.match(claim.sentence[claim.match.end():])
    if not pm:
        return None
    part = next((value_of(ctx, q) for q in claim.readings), None)
    bases = [value_of(ctx, q) for q in (DONE, NEW, NEW_AND_CARRIED)]
    if part is None or not part.present:
        return None
    pct_raw = pm.group("pct")
    pct = float(pct_raw)
    unit = 10 ** -(len(pct_raw.split(".")[1]) if "." in pct_raw else 0)
    key = f"{claim.kind.id}.占比|{claim.text}{pm.group(0)}"
    text = claim.text + pm.group(0)
    usable = [b for b in bases if b.value]
    if part.value is None or len(usable) < len([b for b in bases if b.present]):
        return r.finding(f"正文第 {claim.line} 行称“{text}”，对应的表格单元格不是可用的数字，无法核对占比。", key=key,
                         status="not_assessable", table="applications", cells=part.refs, line=claim.line,
                         evidence=[_ref(claim)] + part.evidence())
    for b in usable:
        share = 100 * float(part.value) / float(b.value)
        if pct - unit / 2 - 1e-9 <= share <= pct + unit + 1e-9:  # rounded or cut to the digits written
            return None
    b = usable[0] if usable else None
    if b is None:
        return None
    share = 100 * float(part.value) / float(b.value)
    return r.finding(f"正文第 {claim.line} 行称“{text}”，而按表三计算，{part.q.name} {num_text(part.value)} ÷ "
                     f"{b.q.name} {num_text(b.value)} = {share:.2f}%，两者不一致。请核对正文的百分比。", key=key,
                     table="applications", cells=part.refs + b.refs, line=claim.line,
                     evidence=[_ref(claim)] + part.evidence() + b.evidence())


def _precision(raw: str) -> Decimal:
    """Half a unit of the last digit written: the rounding a number written this way allows."""
    raw = raw.replace(",", "")
    return Decimal((0, (5,), -(len(raw.split(".")[1]) if "." in raw else 0) - 1))
