"""Provenance: how cl100k_base.tiktoken and o200k_base.tiktoken in this folder were made.

tiktoken downloads its vocabularies from openaipublic.blob.core.windows.net at first use, which fails offline.
The MIT-licensed package quicktok-v1 (0.4.0, https://github.com/dmatth1/quicktok; its NOTICE says the cl100k and
o200k vocabularies are derived from OpenAI's MIT-licensed tiktoken) ships the same merge ranks in a binary form:

    <u32 count> then, per token in rank order: <u16 byte length> <token bytes> <u32 rank>   (little endian)

This script rewrites them in tiktoken's text format ("<base64 token> <rank>\\n" per token, rank order) and checks
the sha256 that tiktoken's own registry (tiktoken_ext/openai_public.py) expects, so the written files are
byte-identical to OpenAI's official ones. Run once (needs quicktok-v1 installed, no network):

    python review/llm/vocab/make_vocab.py
"""
from __future__ import annotations

import base64
import hashlib
import struct
import sys
from pathlib import Path

# Expected sha256 values, copied from tiktoken 0.14.0 tiktoken_ext/openai_public.py.
EXPECTED = {
    "cl100k_base": ("cl100k", "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"),
    "o200k_base": ("o200k", "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"),
}


def read_quicktok_vocab(path: Path) -> list[tuple[bytes, int]]:
    data = path.read_bytes()
    (count,) = struct.unpack_from("<I", data, 0)
    pos, out = 4, []
    for _ in range(count):
        (n,) = struct.unpack_from("<H", data, pos)
        pos += 2
        token = data[pos:pos + n]
        pos += n
        (rank,) = struct.unpack_from("<I", data, pos)
        pos += 4
        out.append((token, rank))
    if pos != len(data):
        raise ValueError(f"{path}: {len(data) - pos} trailing bytes")
    out.sort(key=lambda tr: tr[1])
    if [r for _, r in out] != list(range(len(out))):
        raise ValueError(f"{path}: ranks are not 0..{len(out) - 1}")
    return out


def to_tiktoken_text(tokens: list[tuple[bytes, int]]) -> bytes:
    return b"".join(base64.b64encode(tok) + b" " + str(rank).encode() + b"\n" for tok, rank in tokens)


def main() -> int:
    import quicktok

    src_dir = Path(quicktok.__file__).parent / "data"
    out_dir = Path(__file__).resolve().parent
    ok = True
    for name, (qt_name, expected) in EXPECTED.items():
        text = to_tiktoken_text(read_quicktok_vocab(src_dir / f"{qt_name}.vocab"))
        digest = hashlib.sha256(text).hexdigest()
        match = digest == expected
        ok &= match
        print(f"{name}: {len(text)} bytes sha256={digest} {'OK' if match else 'MISMATCH (not written)'}")
        if match:
            (out_dir / f"{name}.tiktoken").write_bytes(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
