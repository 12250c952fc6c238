"""Message digests for integrity (not for passwords: see `bastion.crypto.passwords`)."""

from __future__ import annotations

import hashlib


def sha256_hex(data: bytes) -> str:
    """Return the SHA-256 digest of `data` as 64 lowercase hex characters."""
    return hashlib.sha256(data).hexdigest()
