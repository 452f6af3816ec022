"""Plain text and Markdown: decode, normalise line ends, keep every line as it is.

Encodings (see _common.decode): a BOM; UTF-16 without a BOM, told by where its zero bytes fall; strict UTF-8; then
GB18030 and Big5, each judged by how much of what it decodes is common characters — the wrong one of the two reads
the other's bytes as rare characters. Nothing plausible: "无法确定编码", never garbled text reviewed as a report.
"""
from __future__ import annotations

from typing import Optional

from ._common import Parsed, decode

# The share of a decoding's non-ASCII characters that must be common ones for it to be believed.
PLAUSIBLE = 0.9
_SAMPLE = 1 << 16  # characters looked at: enough to decide, bounded time on a large file


def read(data: bytes, name: str) -> Parsed:
    """Line n of the file is lines[n-1]: nothing is stripped or dropped. A final line end does
    not open an extra empty line (the count `wc -l` gives, plus a last unterminated line)."""
    text, encoding = decode(data, name)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return Parsed(lines=lines, encoding=encoding)


def _common_gb(ch: str) -> bool:
    """In GB2312 (the 6,763 common simplified characters, CJK punctuation and full-width forms)."""
    try:
        ch.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


def _common_big5(ch: str) -> bool:
    """In Big5's symbols or its level-1 (常用字, lead bytes 0xA1-0xC6) characters."""
    try:
        return ch.encode("big5")[0] <= 0xC6
    except UnicodeEncodeError:
        return False


_COMMON = {"gb18030": _common_gb, "big5": _common_big5}


def plausibility(text: str, codec: str) -> float:
    """The share of non-ASCII, non-space characters of `text` that are common in `codec` (1.0 with none)."""
    judge = _COMMON[codec]
    wide = [c for c in text[:_SAMPLE] if ord(c) > 127 and not c.isspace()]
    if not wide:
        return 1.0
    return sum(1 for c in wide if judge(c)) / len(wide)


def guess_cjk(data: bytes) -> Optional[tuple[str, str]]:
    """(text, codec) for GB18030 or Big5, whichever decodes strictly into common characters; None if neither."""
    best = None
    for codec in ("gb18030", "big5"):  # in this order: a tie goes to GB18030, the usual case here
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        score = plausibility(text, codec)
        if score >= PLAUSIBLE and (best is None or score > best[0]):
            best = (score, text, codec)
    return (best[1], best[2]) if best else None


def guess_utf16(data: bytes) -> Optional[tuple[str, str]]:
    """(text, codec) for UTF-16 without a BOM: the zero bytes of its ASCII characters (digits, spaces, line ends)
    fall on odd offsets (little-endian) or even ones (big-endian), and the text decodes into printable
    characters. None otherwise."""
    if len(data) < 4 or len(data) % 2:
        return None
    sample = data[:_SAMPLE * 2]
    pairs = len(sample) // 2
    zero_even = sample[0::2].count(0)
    zero_odd = sample[1::2].count(0)
    # (a CJK character can have a zero byte too, U+4E00 一: the other side must be far fewer, not none)
    if zero_odd >= 0.1 * pairs and zero_even * 4 < zero_odd:
        codec = "utf-16-le"
    elif zero_even >= 0.1 * pairs and zero_odd * 4 < zero_even:
        codec = "utf-16-be"
    else:
        return None
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    head = text[:_SAMPLE]
    printable = sum(1 for c in head if c.isprintable() or c in "\n\r\t")
    wide = [c for c in head if ord(c) > 127 and not c.isspace()]
    common = sum(1 for c in wide if _common_gb(c) or _common_big5(c))
    if printable < 0.99 * len(head) or (wide and common < PLAUSIBLE * len(wide)):
        return None
    return text, codec
