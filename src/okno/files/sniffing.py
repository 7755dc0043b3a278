"""What a file really is: its content type read from its bytes, never only from its name."""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from dataclasses import dataclass

import filetype

from okno.kit.errors import Invalid

# pictures every messenger shows inline; any other type goes out as a document
INLINE_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
EXECUTABLES = frozenset({"application/x-msdownload", "application/x-executable", "application/x-mach-binary", "application/x-dex"})
ZIP_CONTAINERS = ("application/vnd.openxmlformats-officedocument.", "application/vnd.oasis.opendocument.", "application/epub+zip")
TEXT_TYPES = frozenset({"application/json", "application/xml", "application/csv"})
# kinds that a name's type claims and that the sniffer would have recognised in the bytes
SNIFFABLE_PREFIXES = ("image/", "audio/", "video/", "application/pdf", "application/zip")
MAX_NAME = 200


@dataclass(frozen=True)
class FileType:
    content_type: str
    kind: str  # "image" (shown inline) or "file" (a document)


def sniff(data: bytes, filename: str, declared: str | None) -> FileType:
    """The content type of ``data``, checked against what its name and the uploader claim.

    Refuses (422) executables and files whose bytes contradict their name: a ``.png`` that is no
    PNG is not passed on as an image."""
    claimed = mimetypes.guess_type(filename)[0] or _plain(declared)
    found = filetype.guess_mime(data)
    if found in EXECUTABLES:
        raise Invalid("%(filename)s: executable files are not accepted", filename=filename)
    if found is None:
        if claimed and claimed.startswith(SNIFFABLE_PREFIXES) and claimed != "image/svg+xml":
            raise Invalid("%(filename)s: the name says %(claimed)s, but the content is not that kind of file", filename=filename, claimed=claimed)
        content_type = _textual(data, claimed)
    elif found == "application/zip" and claimed and claimed.startswith(ZIP_CONTAINERS):
        content_type = claimed  # an office document is a zip inside
    else:
        if claimed and claimed.startswith("image/") and not found.startswith("image/"):
            raise Invalid("%(filename)s: the name says %(claimed)s, but the content is %(found)s", filename=filename, claimed=claimed, found=found)
        content_type = found
    return FileType(content_type=content_type, kind="image" if content_type in INLINE_IMAGES else "file")


def _textual(data: bytes, claimed: str | None) -> str:
    if b"\x00" in data[:8192]:
        return "application/octet-stream"
    try:
        data[:8192].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 8188:  # not just a character cut at the sample's end
            return "application/octet-stream"
    if claimed and (claimed.startswith("text/") or claimed in TEXT_TYPES):
        return claimed
    return "text/plain"


def _plain(declared: str | None) -> str | None:
    if not declared:
        return None
    value = declared.split(";", 1)[0].strip().lower()
    return value if re.fullmatch(r"[a-z0-9.+-]+/[a-z0-9.+-]+", value) and value != "application/octet-stream" else None


def safe_filename(name: str | None) -> str:
    """The last path part of ``name`` without control characters, at most 200 characters."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C").strip(" .")
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        base = (stem[: MAX_NAME - len(ext) - 1] + "." + ext) if dot and len(ext) < 16 else base[:MAX_NAME]
    return base or "file"
