"""API keys: `<data_dir>/keys.json` holds only their sha256 hashes, never a key.

A leaked keys.json therefore grants nothing; the file is still 0600 because it names the
organisations. Writes go through a temporary file and os.replace so a crash mid-write
never leaves a truncated store that would lock everyone out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

PREFIX = "tf-"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    def __init__(self, data_dir: Path | str):
        self.path = Path(data_dir) / "keys.json"

    def _read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        data = json.loads(self.path.read_text(encoding="utf-8"))
        return list(data.get("keys", []))

    def _write(self, entries: list[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        # Created 0600 from the start: chmod after writing would leave a window.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"keys": entries}, handle, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def create(self, org: str) -> str:
        """A new key for `org`; the key itself is shown once and never stored."""
        if not org or not org.strip():
            raise ValueError("an organization name is required")
        key = PREFIX + secrets.token_urlsafe(32)
        entries = self._read()
        entries.append(
            {
                "id": key[: len(PREFIX) + 6],  # enough to tell keys apart in a listing
                "sha256": _digest(key),
                "org": org,
                "created": int(time.time()),
            }
        )
        self._write(entries)
        return key

    def org_of(self, key: str) -> str | None:
        """The organisation of a key, or None; every entry is compared in constant time."""
        digest = _digest(key)
        found: str | None = None
        for entry in self._read():
            if hmac.compare_digest(digest, str(entry.get("sha256", ""))):
                found = str(entry["org"])
        return found

    def __len__(self) -> int:
        return len(self._read())
