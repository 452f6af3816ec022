"""Passages for retrieval: one per part, and per paragraph group for long parts, with their metadata."""
from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel

from review.agency import agency_key
from review.models import ReviewResult

MAX_CHARS = 600  # a part longer than this is split at paragraph boundaries
TARGET_CHARS = 400  # short paragraphs are grouped up to about this size


class Chunk(BaseModel):
    id: str
    text: str
    part: int
    paragraph: int  # 0 for a whole part, else the 1-based group number within the part
    agency: str  # normalised agency key (see review.agency)
    agency_name: str
    year: int
    format: str
    source: str
    sha256: str
    line: int  # first line of the passage in the report


def _paragraphs(text: str) -> list[str]:
    paras = [p.strip() for p in re.split(r"\n+", text) if p.strip()]
    groups: list[str] = []
    for p in paras:
        if groups and len(groups[-1]) + len(p) <= TARGET_CHARS:
            groups[-1] += "\n" + p
        else:
            groups.append(p)
    return groups


def chunks(result: ReviewResult) -> list[Chunk]:
    m = result.meta
    out: list[Chunk] = []
    for s in result.sections:
        if not s.text.strip():
            continue
        pieces = [s.text] if len(s.text) <= MAX_CHARS else _paragraphs(s.text)
        for k, text in enumerate(pieces):
            paragraph = 0 if len(pieces) == 1 else k + 1
            cid = hashlib.sha1(f"{result.sha256}|{s.number}|{paragraph}".encode()).hexdigest()[:20]
            out.append(Chunk(id=cid, text=text, part=s.number, paragraph=paragraph, agency=agency_key(m.agency or ""),
                             agency_name=m.agency or "", year=m.year or 0, format=m.format or "", source=result.source,
                             sha256=result.sha256, line=s.line))
    return out
