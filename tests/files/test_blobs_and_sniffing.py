"""The blob store and content sniffing on their own (no database)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from okno.files.links import FileLinks
from okno.files.sniffing import safe_filename, sniff
from okno.kit.blobs import BlobMissing, BlobStore
from okno.kit.errors import Invalid
from tests.files.helpers import tiny_pdf, tiny_png


def test_blobs_are_content_addressed_written_once_and_leave_no_temporary_files(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "files")
    first = store.put(b"hello")
    again = store.put(b"hello")
    digest = hashlib.sha256(b"hello").hexdigest()
    assert first == again and first.sha256 == digest and first.key == f"{digest[:2]}/{digest[2:4]}/{digest}"
    assert store.read(first.key) == b"hello" and store.exists(first.key)
    assert [p.name for p in (tmp_path / "files").rglob("*") if p.is_file()] == [digest]
    with pytest.raises(BlobMissing):
        store.read("00/00/" + "0" * 64)
    with pytest.raises(BlobMissing):
        store.read("../../etc/passwd")


def test_another_process_on_the_same_folder_reads_the_file(tmp_path: Path) -> None:
    blob = BlobStore(tmp_path).put(tiny_pdf())
    script = "import sys; from pathlib import Path; from okno.kit.blobs import BlobStore; sys.stdout.buffer.write(BlobStore(Path(sys.argv[1])).read(sys.argv[2]))"
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path), blob.key], capture_output=True, check=True)
    assert out.stdout == tiny_pdf()


@pytest.mark.parametrize(
    ("data", "name", "declared", "content_type", "kind"),
    [
        (tiny_png(), "photo.png", "image/png", "image/png", "image"),
        (tiny_png(), "scan", None, "image/png", "image"),  # no extension: the bytes decide
        (tiny_pdf(), "договор.pdf", "application/pdf", "application/pdf", "file"),
        ("строка;другая\n".encode(), "table.csv", None, "text/csv", "file"),
        ("просто текст".encode(), "note", "application/octet-stream", "text/plain", "file"),
        (bytes(range(256)) * 4, "blob.bin", None, "application/octet-stream", "file"),
    ],
)
def test_content_types_come_from_the_bytes(data: bytes, name: str, declared: str | None, content_type: str, kind: str) -> None:
    found = sniff(data, name, declared)
    assert (found.content_type, found.kind) == (content_type, kind)


@pytest.mark.parametrize(
    ("data", "name", "reason"),
    [
        (b"MZ" + b"\0" * 300, "invoice.pdf", "executable"),
        (b"\x7fELF" + b"\0" * 300, "tool", "executable"),
        (b"<html>not a picture</html>", "cat.jpg", "image/jpeg"),
        (tiny_pdf(), "cat.png", "application/pdf"),
    ],
)
def test_executables_and_files_that_lie_about_their_kind_are_refused(data: bytes, name: str, reason: str) -> None:
    with pytest.raises(Invalid, match=reason):
        sniff(data, name, None)


def test_file_names_lose_paths_and_control_characters() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\Users\\anna\\отчёт.pdf") == "отчёт.pdf"
    assert safe_filename("a\x00b\nc.txt") == "abc.txt"
    assert safe_filename("") == safe_filename("...") == "file"
    assert len(safe_filename("x" * 500 + ".pdf")) == 200 and safe_filename("x" * 500 + ".pdf").endswith(".pdf")


def test_signed_links_expire_and_survive_a_key_rotation() -> None:
    old = FileLinks(secrets=("old-key",), public_url="https://okno.example", ttl_seconds=60)
    url = old.url_for(7, "ab" * 32, now=1_000_000)
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    assert url.startswith("https://okno.example/files/7?")
    rotated = FileLinks(secrets=("new-key", "old-key"), public_url="", ttl_seconds=60)
    assert rotated.verify(7, "ab" * 32, int(query["expires"]), query["sig"], now=1_000_010)
    assert not rotated.verify(8, "ab" * 32, int(query["expires"]), query["sig"], now=1_000_010)  # another file
    assert not rotated.verify(7, "ab" * 32, int(query["expires"]), query["sig"], now=1_000_061)  # expired
    assert not FileLinks(("new-key",), "", 60).verify(7, "ab" * 32, int(query["expires"]), query["sig"], now=1_000_010)
