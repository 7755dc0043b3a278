"""Content-addressed file storage on disk: bytes are kept under their SHA-256, written atomically.

The store knows nothing of the database: ``okno.files`` keeps the metadata (``stored_files``).
Any process pointed at the same folder (the web server, ``okno worker``) reads the same files.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from okno.kit.private_files import FILE_MODE, private_dir


class BlobMissing(Exception):
    """No file under that key (deleted by hand, or another data folder)."""


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    key: str  # where the store keeps it, relative to its root


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def key_for(sha256: str) -> str:
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def put(self, data: bytes) -> StoredBlob:
        """Keeps ``data`` once: the same bytes stored twice share one file."""
        sha256 = hashlib.sha256(data).hexdigest()
        key = self.key_for(sha256)
        path = self.root / key
        if not path.exists():
            for folder in (self.root, path.parent.parent, path.parent):
                private_dir(folder)
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)  # atomic: a reader sees the whole file or none
        return StoredBlob(sha256=sha256, size=len(data), key=key)

    def read(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise BlobMissing(f"no stored file {key}") from None

    def delete(self, key: str) -> bool:
        """Removes the file under ``key`` (an erased customer's upload); False if it was gone."""
        try:
            self._path(key).unlink()
        except (FileNotFoundError, BlobMissing):
            return False
        return True

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise BlobMissing(f"{key!r} is outside the store")
        return path
