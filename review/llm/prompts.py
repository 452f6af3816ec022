"""Prompts are versioned Chinese text files, prompts/<id>.md, not strings in code.

File format (UTF-8):

    ---
    id: explain
    version: 1
    description: 解释一条审核发现
    ---
    <system>
    …system text…
    </system>
    <user>
    …template with {placeholders}…
    </user>

Both blocks are str.format templates: {name} is replaced by render(name=...), literal braces are written {{ }}.
`id` must equal the file name. Bump `version` when the meaning changes; the cache key also includes the sha256 of
the whole file, so any edit at all stops old cached answers from being reused.

Where prompts are looked up: $REVIEW_PROMPTS_DIR if set; else the repository's prompts/ folder next to the review
package (a source checkout or editable install); else <sys.prefix>/share/nianbao-review/prompts (where a wheel
install puts them, see pyproject.toml data-files).
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel

from review.models import ReviewError

_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*\r?\n", re.S)


class PromptError(ReviewError):
    """A prompt file is missing or malformed, or a placeholder has no value."""


class _Values(dict):
    def __init__(self, prompt_id: str, values: dict[str, Any]):
        super().__init__(values)
        self.prompt_id = prompt_id

    def __missing__(self, key: str) -> Any:
        raise PromptError(f"提示词 {self.prompt_id} 的占位符 {{{key}}} 没有提供值",
                          f"prompt {self.prompt_id}: no value given for placeholder {{{key}}}")


class Prompt(BaseModel):
    id: str
    version: str
    description: str = ""
    system: str
    user: str
    sha: str  # sha256 (hex) of the file's bytes
    path: Optional[str] = None

    @property
    def placeholders(self) -> set[str]:
        """Top-level placeholder names used in system and user."""
        import string

        names = set()
        for text in (self.system, self.user):
            for _, field, _, _ in string.Formatter().parse(text):
                if field:
                    names.add(re.split(r"[.\[]", field, maxsplit=1)[0])
        return names

    def render(self, **values: Any) -> list[dict]:
        """[{"role": "system", "content": …}, {"role": "user", "content": …}]; PromptError for a missing value."""
        mapping = _Values(self.id, values)
        try:
            return [
                {"role": "system", "content": self.system.format_map(mapping)},
                {"role": "user", "content": self.user.format_map(mapping)},
            ]
        except (ValueError, IndexError, AttributeError) as e:
            raise PromptError(f"提示词 {self.id} 的模板有误（{e}）；字面的花括号要写成 {{{{ }}}}",
                              f"prompt {self.id}: bad template ({e}); write literal braces as {{{{ }}}}",
                              self.path) from e


def default_prompts_dir() -> Path:
    env = os.environ.get("REVIEW_PROMPTS_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    import review

    repo = Path(review.__file__).resolve().parent.parent / "prompts"
    if repo.is_dir():
        return repo
    installed = Path(sys.prefix) / "share" / "nianbao-review" / "prompts"
    if installed.is_dir():
        return installed
    return repo


def _block(text: str, tag: str, source: str) -> str:
    found = re.findall(rf"<{tag}>[ \t]*\r?\n?(.*?)</{tag}>", text, re.S)
    if len(found) != 1:
        raise PromptError(f"提示词文件应有且只有一个 <{tag}>…</{tag}> 块（找到 {len(found)} 个）",
                          f"a prompt file needs exactly one <{tag}>…</{tag}> block (found {len(found)})", source)
    return found[0].strip("\r\n")


def parse_prompt(data: bytes, source: str = "<prompt>") -> Prompt:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PromptError("提示词文件不是 UTF-8 编码", "the prompt file is not UTF-8", source) from e
    m = _FRONT.match(text)
    if not m:
        raise PromptError("提示词文件开头缺少 --- 包围的版本信息（id、version）",
                          "the prompt file does not start with a --- front matter block (id, version)", source)
    meta: dict[str, str] = {}
    for line in m.group(1).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise PromptError(f"版本信息行格式应为“键: 值”：{line!r}", f"front matter line is not 'key: value': {line!r}",
                              source)
        meta[key.strip()] = value.strip()
    for required in ("id", "version"):
        if not meta.get(required):
            raise PromptError(f"版本信息缺少 {required}", f"front matter has no {required}", source)
    body = text[m.end():]
    return Prompt(id=meta["id"], version=meta["version"], description=meta.get("description", ""),
                  system=_block(body, "system", source), user=_block(body, "user", source),
                  sha=hashlib.sha256(data).hexdigest(), path=source)


def load_prompt(id: str, directory: Path | str | None = None) -> Prompt:
    """Read prompts/<id>.md (fresh each call, so edits take effect and change the sha)."""
    folder = Path(directory) if directory is not None else default_prompts_dir()
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", id or ""):
        raise PromptError(f"提示词名称无效：{id!r}", f"invalid prompt id: {id!r}")
    path = folder / f"{id}.md"
    try:
        data = path.read_bytes()
    except OSError as e:
        available = ", ".join(sorted(p.stem for p in folder.glob("*.md"))) if folder.is_dir() else ""
        raise PromptError(f"找不到提示词 {id}（{folder}；现有：{available or '无'}）",
                          f"prompt {id} not found in {folder} (available: {available or 'none'})") from e
    prompt = parse_prompt(data, str(path))
    if prompt.id != id:
        raise PromptError(f"提示词文件名 {id}.md 与其中的 id {prompt.id} 不一致",
                          f"prompt file {id}.md declares id {prompt.id}", str(path))
    return prompt


def list_prompts(directory: Path | str | None = None, include_examples: bool = False) -> list[Prompt]:
    """Every prompt in the folder, by id. Files whose name starts with "_" (examples, test fixtures) are
    left out unless include_examples."""
    folder = Path(directory) if directory is not None else default_prompts_dir()
    if not folder.is_dir():
        return []
    return [load_prompt(p.stem, folder) for p in sorted(folder.glob("*.md"))
            if include_examples or not p.stem.startswith("_")]
