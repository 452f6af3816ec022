"""Report text is data, never instructions.

- `as_data`: report text and retrieved passages go to the model inside <<< >>> blocks; the angle brackets in the
  data are turned into full-width ones, so no report can close the block (or open a fake <system> tag).
- `denial`: an answer that contradicts a rule's finding — in plain words (无问题) or soft ones (无需更正, 已核实,
  口径调整, 建议直接通过, 无任何问题) — is found here; the service then gives the offline answer instead.
"""
from __future__ import annotations

import re
from typing import Optional

_DENIAL = re.compile(
    r"(无需(?:更正|修改|整改|调整|处理)|不需要?(?:更正|修改|整改)|无须(?:更正|修改)|不必(?:更正|修改)|"
    r"已(?:经)?核实(?:无误)?|核实无误|经核实|数据(?:准确|无误|正确)|准确无误|完全正确|"
    r"(?:统计)?口径(?:调整|变化|不同)所致|属(?:于)?(?:统计)?口径调整|口径调整|"
    r"(?:建议)?直接(?:通过|放行)|予以通过|可以通过|"
    r"无任何问题|没有任何问题|无问题|没有问题|不存在(?:问题|错误|差异)|未发现(?:问题|错误)|"
    r"并无(?:问题|错误)|不是错误|并非错误|不构成错误|属正常|符合勾稽关系|是平衡的)")
# words that, just before a denial phrase, turn it around ("并非无需更正", "不能认为已核实")
_NEGATED = re.compile(r"(并非|不能认为|不应认为|不能说|不是|并不|未)$")


def as_data(text: str) -> str:
    """Text safe to put between <<< and >>>: angle brackets become full-width."""
    return (text or "").replace("<", "＜").replace(">", "＞")


def denial(text: str, allowed: str = "") -> Optional[str]:
    """The phrase by which `text` denies a finding, or None. Phrases that occur in `allowed` (the rule's own
    offline advice, e.g. an info finding whose advice is 无需更正) do not count."""
    for m in _DENIAL.finditer(text or ""):
        phrase = m.group(0)
        if allowed and phrase in allowed:
            continue
        if _NEGATED.search(text[max(0, m.start() - 5):m.start()]):
            continue
        return phrase
    return None
