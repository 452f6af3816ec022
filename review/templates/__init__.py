"""The two national templates and the six parts, as data (JSON files beside this module)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, Field

from review.text import norm

HERE = Path(__file__).parent


class Column(BaseModel):
    name: str
    kind: str = "count"  # count | delta (may be negative) | amount (万元, decimals)
    keys: list[str] = Field(default_factory=list)
    unit: Optional[str] = None


class Item(BaseModel):
    name: str
    keys: list[str]


class Block(BaseModel):
    id: str
    label: str
    columns: list[Column]
    items: list[Item]


class Row(BaseModel):
    code: str
    label: str
    keys: list[str]
    exact: list[str] = Field(default_factory=list)
    group: bool = False
    # A group row that a report may fill as one row instead of its sub-rows (2021's （六）其他处理 written
    # as in the 2019 format): its values then stand for the sum of `parts`.
    may_total: bool = False
    parts: list[str] = Field(default_factory=list)


class Identity(BaseModel):
    id: str
    per: str  # column | row | group
    lhs: list[str] = Field(default_factory=list)
    rhs: list[str] = Field(default_factory=list)
    total: Optional[str] = None
    parts: list[str] = Field(default_factory=list)
    title: str = ""


class Group(BaseModel):
    name: str
    keys: list[str]


class Disclosure(BaseModel):
    blocks: list[Block]


class Applications(BaseModel):
    columns: list[Column]
    rows: list[Row]
    identities: list[Identity]

    @property
    def leaf_rows(self) -> list[Row]:
        return [r for r in self.rows if not r.group]

    def row(self, code: str) -> Optional[Row]:
        return next((r for r in self.rows if r.code == code), None)


class Appeals(BaseModel):
    groups: list[Group]
    columns: list[Column]
    anchors: list[str]
    identities: list[Identity]


class Template(BaseModel):
    format: str
    document: str
    years: list[Optional[int]]
    markers: list[str]
    disclosure: Disclosure
    applications: Applications
    appeals: Appeals

    def block(self, block_id: str) -> Block:
        return next(b for b in self.disclosure.blocks if b.id == block_id)


class Part(BaseModel):
    number: int
    title: str
    keys: list[str]


def _normalise_keys(obj):
    """Keys are matched against normalised text, so store them normalised."""
    if isinstance(obj, dict):
        return {k: ([norm(x) for x in v] if k in ("keys", "exact", "markers", "anchors") else _normalise_keys(v))
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [_normalise_keys(x) for x in obj]
    return obj


@lru_cache(maxsize=None)
def template(fmt: str) -> Template:
    data = json.loads((HERE / f"format_{fmt}.json").read_text(encoding="utf-8"))
    return Template.model_validate(_normalise_keys(data))


FORMATS = ("2019", "2021")


def templates() -> list[Template]:
    return [template(f) for f in FORMATS]


def expected_format(year: int | None) -> str | None:
    """The format a report for `year` must use: 2019 format for 2019-2020, 2021 format from 2021."""
    if year is None:
        return None
    return "2019" if year <= 2020 else "2021"


@lru_cache(maxsize=None)
def parts() -> list[Part]:
    data = json.loads((HERE / "sections.json").read_text(encoding="utf-8"))
    return [Part.model_validate(p) for p in _normalise_keys(data)["parts"]]
