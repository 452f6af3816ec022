"""review.text's fast NFKC path must give exactly what unicodedata.normalize and the old substitutions gave."""
from __future__ import annotations

import random
import re
import unicodedata
from pathlib import Path

from review.ingest import load
from review.text import _EXTRA, nfkc, norm, norm_keep_space, norm_text

_WS = re.compile(r"\s+")
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def reference_norm(s: str) -> str:  # the definition (review/text.py before the fast path)
    return _WS.sub("", unicodedata.normalize("NFKC", s).translate(_EXTRA))


def reference_keep_space(s: str) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", s).translate(_EXTRA)).strip()


def test_every_code_point_after_full_width_forms():
    bad = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        s = "Ａ" + c + "１" + c + "　" + c  # after a full-width form it may compose with it under NFKC
        if norm_text(s) != reference_norm(s) or nfkc(s) != unicodedata.normalize("NFKC", s).translate(_EXTRA):
            bad.append((hex(cp), s))
    assert not bad, bad[:20]


def test_random_mixtures_and_whitespace():
    rnd = random.Random(7)
    pool = ("，。、（）：；！？　 \t\n\xa0\u2003１２３ＡＢｃ〔〕【】－—–−．﹒①⑴㈠" "é\u0301\u0308e\u0327" "年报政府信息公开"
            "\uff5e\uff5f\uff01\u3001\u3002")
    for _ in range(20000):
        s = "".join(rnd.choice(pool) for _ in range(rnd.randint(0, 30)))
        assert norm_text(s) == reference_norm(s), repr(s)
        assert norm_keep_space(s) == reference_keep_space(s), repr(s)


def test_every_fixture_line_and_whole_text():
    for p in sorted(FIXTURES.iterdir()):
        if p.name == "README.md":
            continue
        doc = load(str(p))
        for line in doc.lines:
            assert norm(line) == reference_norm(line)
            assert norm_keep_space(line) == reference_keep_space(line)
        whole = "\n".join(doc.lines)
        assert norm_text(whole) == reference_norm(whole)
