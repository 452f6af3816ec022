"""One agency, however its name is written: 平潭综合实验区 and 平潭综合实验区管委会办公室 are one agency
(a government's report is issued by its office); 武汉市硚口区行政审批局 and 硚口区行政审批局 are one agency."""
from __future__ import annotations

import re

from review.text import norm

# The office that issues a government's report stands for the government.
_ISSUER = re.compile(r"(党工委管委会办公室|管委会办公室|管理委员会办公室|人民政府办公室|人民政府办公厅|政府办公室|政府办公厅|"
                     r"人民政府|管委会|管理委员会)$")
_REGION = re.compile(r"^[\u4e00-\u9fff]{1,10}?(?:省|自治区|市|州|盟|地区)")


def agency_key(name: str) -> str:
    n = norm(name or "")
    return _ISSUER.sub("", n) or n


def same_agency(a: str, b: str) -> bool:
    """Equal keys, or one is the other with a higher region in front (武汉市 + 硚口区行政审批局)."""
    ka, kb = agency_key(a), agency_key(b)
    if not ka or not kb:
        return False
    if ka == kb:
        return True
    short, long_ = sorted((ka, kb), key=len)
    if not long_.endswith(short) or len(short) < 4:
        return False
    return bool(_REGION.fullmatch(long_[: len(long_) - len(short)]))
