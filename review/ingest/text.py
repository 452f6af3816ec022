"""Plain text and Markdown: decode, normalise line ends, keep every line as it is."""
from __future__ import annotations

from ._common import Parsed, decode


def read(data: bytes, name: str) -> Parsed:
    """Line n of the file is lines[n-1]: nothing is stripped or dropped. A final line end does
    not open an extra empty line (the count `wc -l` gives, plus a last unterminated line)."""
    text, encoding = decode(data, name)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return Parsed(lines=lines, encoding=encoding)
