"""Ingest: a file (path or bytes) to a Document of numbered text lines and real tables.

    load(source, name=None) -> Document

Every failure is an IngestError with a Chinese and an English message naming the file, what went
wrong and what to do; no library exception escapes.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import stat
import zipfile
from io import BytesIO
from pathlib import Path
from typing import Callable, Union

from review.models import Document, IngestError

from . import limits
from ._common import Parsed

# kind -> the module whose read(data, name) reads it. Imported on first use, so reviewing text never loads
# pdfplumber, python-docx or BeautifulSoup (they cost ~0.3 s of start-up together).
_READER_MODULES = {"txt": "text", "md": "text", "html": "html", "docx": "docx", "pdf": "pdf"}


def _reader(kind: str) -> Callable[[bytes, str], Parsed]:
    return importlib.import_module(f"{__name__}.{_READER_MODULES[kind]}").read

_EXTENSIONS = {
    ".txt": "txt", ".text": "txt", ".md": "md", ".markdown": "md",
    ".html": "html", ".htm": "html", ".docx": "docx", ".pdf": "pdf",
}
_OLD_WORD = {".doc", ".wps", ".rtf"}
_IMAGES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"}
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"II*\x00", b"MM\x00*")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"


def load(source: Union[str, os.PathLike, bytes], name: str | None = None) -> Document:
    """Read a file into a Document. `source` is a path or the raw bytes; `name` is the name to
    show (default: the path as given) and, with its extension, picks the reader."""
    data, name = _read_source(source, name)
    if not data:
        raise IngestError(
            "文件为空（0 字节）：请检查是否选错了文件",
            "The file is empty (0 bytes): check that it is the right file",
            source=name,
        )
    kind = _kind(data, name)
    try:
        with limits.deadline():
            parsed = _reader(kind)(data, name)
        limits.check_lines(len(parsed.lines), max(map(len, parsed.lines), default=0))
    except Exception as exc:  # a library failed in a way the reader did not foresee
        over = limits.limit_in_chain(exc)  # a limit passed inside a reader's own error handling
        if over is not None:
            raise over.with_source(name) from None
        if isinstance(exc, IngestError):
            raise
        raise IngestError(
            f"无法读取该 {kind} 文件（{type(exc).__name__}: {exc}）：文件可能已损坏，请重新导出后再提交",
            f"Cannot read this {kind} file ({type(exc).__name__}: {exc}): "
            "it may be corrupt, export it again",
            source=name,
        ) from exc
    if not any(line.strip() for line in parsed.lines):
        raise _no_text(kind, name)
    return Document(
        source=name,
        sha256=hashlib.sha256(data).hexdigest(),
        kind=kind,
        lines=parsed.lines,
        tables=parsed.tables,
        grid_lines=parsed.grid_lines,
        encoding=parsed.encoding,
        pages=parsed.pages,
    )


def _read_source(source, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        try:
            limits.check_size(len(source))
        except limits.LimitError as e:
            raise e.with_source(name or "<bytes>") from None
        return bytes(source), name or "<bytes>"
    name = name or str(source)
    try:
        return _read_regular(Path(source), name), name
    except FileNotFoundError:
        if os.path.islink(source):
            raise IngestError(
                f"符号链接指向的文件不存在（{os.readlink(source)}）：请检查链接或改用原文件",
                f"The symbolic link points to a missing file ({os.readlink(source)}): fix the link or use the file",
                source=name,
            ) from None
        raise IngestError(
            "找不到文件：请检查路径是否正确", "File not found: check the path", source=name
        ) from None
    except IsADirectoryError:
        raise IngestError(
            "这是一个文件夹，不是文件：请选择报告文件",
            "This is a folder, not a file: choose the report file",
            source=name,
        ) from None
    except OSError as exc:
        raise IngestError(
            f"无法读取文件（{exc.strerror or exc}）：请检查文件权限",
            f"Cannot read the file ({exc.strerror or exc}): check its permissions",
            source=name,
        ) from None


def _read_regular(path: Path, name: str) -> bytes:
    """The bytes of a regular file, at most the size limit. The type is checked before opening, so a FIFO, a
    device (/dev/zero) or a socket is refused at once instead of blocking or reading forever."""
    st = os.stat(path)  # follows links: a link to /dev/zero is a device
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(str(path))
    if not stat.S_ISREG(st.st_mode):
        what = ("命名管道（FIFO）", "a named pipe (FIFO)") if stat.S_ISFIFO(st.st_mode) else \
            ("设备文件", "a device") if (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) else \
            ("套接字等特殊文件", "a socket or other special file")
        raise IngestError(f"这不是普通文件，而是{what[0]}：不能作为年报读取，请提交报告文件本身",
                          f"This is not a regular file but {what[1]}: it cannot be read as a report; "
                          "submit the report file itself", source=name)
    cap = limits.current().max_file_bytes
    try:
        limits.check_size(st.st_size)
        with open(path, "rb", opener=lambda p, f: os.open(p, f | os.O_NONBLOCK)) as f:
            # bounded: a file that grows while it is read is still refused. Asking for the size it has (not the
            # cap: f.read(n) allocates n bytes first, 50 MiB for every small file) and reading on if it grew.
            want = min(cap, st.st_size) + 1
            data = f.read(want)
            if len(data) == want and want <= cap:
                data += f.read(cap + 1 - len(data))
        limits.check_size(len(data))
    except limits.LimitError as e:
        raise e.with_source(name) from None
    return data


def _kind(data: bytes, name: str) -> str:
    """The reader for the file: a binary signature (PDF, DOCX) wins over the extension; a file
    without an extension is sniffed as HTML or else read as text."""
    ext = os.path.splitext(name)[1].lower()
    sniffed = _sniff(data)
    if sniffed in ("pdf", "docx"):
        return sniffed
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if ext in _OLD_WORD and sniffed == "html":  # web sites often serve HTML named .doc
        return "html"
    if not ext and sniffed in ("html", None):
        return sniffed or "txt"
    raise _unsupported(ext, sniffed, name)


def _sniff(data: bytes) -> str | None:
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(BytesIO(data)) as package:
                return "docx" if "word/document.xml" in package.namelist() else "zip"
        except zipfile.BadZipFile:
            return "zip"
    if data.startswith(_OLE_MAGIC):
        return "ole"
    if data.startswith(_IMAGE_MAGIC):
        return "image"
    head = data[:65536].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<") and any(t in head for t in (b"<html", b"<body", b"<table", b"<p")):
        return "html"
    return None


def _unsupported(ext: str, sniffed: str | None, name: str) -> IngestError:
    if ext in _OLD_WORD or sniffed == "ole":
        return IngestError(
            f"不支持旧版 Word/WPS 文件（{ext or '.doc'}）："
            "请用 Word 或 WPS 另存为 .docx 或 .pdf 后再提交",
            f"Old Word/WPS files ({ext or '.doc'}) are not supported: "
            "save it as .docx or .pdf in Word or WPS and try again",
            source=name,
        )
    if ext in _IMAGES or sniffed == "image":
        return IngestError(
            "不支持图片文件：请先做文字识别（OCR），或提交带文字层的 PDF、.docx 或 .txt",
            "Image files are not supported: run OCR on it first, "
            "or submit a PDF with a text layer, a .docx or a .txt",
            source=name,
        )
    return IngestError(
        f"不支持的文件类型（{ext or '无扩展名'}）：请另存为 .docx、.pdf、.html 或 .txt 后再提交",
        f"Unsupported file type ({ext or 'no extension'}): "
        "save it as .docx, .pdf, .html or .txt and try again",
        source=name,
    )


def _no_text(kind: str, name: str) -> IngestError:
    if kind == "pdf":
        return IngestError(
            "PDF 中没有可提取的文字（可能是扫描件或图片）：请先做文字识别（OCR）再提交",
            "The PDF has no text layer (probably scanned images): "
            "run OCR on it first and try again",
            source=name,
        )
    return IngestError(
        "文件中没有文字内容：请检查是否选错了文件",
        "The file has no text in it: check that it is the right file",
        source=name,
    )
