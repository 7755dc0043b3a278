"""The file services one okno process holds: the blob store, signed links and the upload limit."""

from __future__ import annotations

from dataclasses import dataclass

from okno.config import Settings
from okno.files.links import FileLinks
from okno.kit.blobs import BlobStore


@dataclass(frozen=True)
class FileStorage:
    blobs: BlobStore
    links: FileLinks
    max_upload_bytes: int


def file_storage(settings: Settings) -> FileStorage:
    return FileStorage(
        blobs=BlobStore(settings.resolved_files_dir()),
        links=FileLinks(
            secrets=tuple(settings.fernet_keys()),
            public_url=settings.public_url,
            ttl_seconds=settings.file_link_ttl_hours * 3600,
        ),
        max_upload_bytes=settings.max_upload_bytes,
    )
