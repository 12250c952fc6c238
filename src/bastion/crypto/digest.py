"""Message digests for integrity and constant-time comparison (passwords: see `.passwords`)."""

from __future__ import annotations

import hashlib
import hmac

MIN_KEY_BYTES = 32
_KEYED_LABEL = b"bastion.crypto.digest:"


def sha256_hex(data: bytes) -> str:
    """Return the SHA-256 digest of `data` as 64 lowercase hex characters."""
    return hashlib.sha256(data).hexdigest()


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    """True if `a` equals `b`, in time that does not depend on where they differ.

    Text is compared as its UTF-8 bytes (lone surrogates kept, so hostile input never raises).
    Threat: a byte-by-byte `==` on a secret (a CSRF token,
    a token hash) lets an attacker recover it one character at a time from response timings.
    """
    left = a.encode("utf-8", "surrogatepass") if isinstance(a, str) else a
    right = b.encode("utf-8", "surrogatepass") if isinstance(b, str) else b
    return hmac.compare_digest(left, right)


def keyed_digest(key: bytes, purpose: str, value: str) -> str:
    """Return HMAC-SHA256 of `value` under `key`, labelled with `purpose`, as 64 hex characters.

    For storing low-entropy secrets (recovery codes, one-time codes): a plain hash of a short
    code is reversed by trying every code; with a key kept outside the database, a stolen table
    is useless. The purpose label keeps a digest made for one use from matching in another.
    """
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise ValueError(f"A digest key must be at least {MIN_KEY_BYTES} bytes long.")
    if not purpose or "\x00" in purpose:
        raise ValueError("A digest purpose must be non-empty text without NUL characters.")
    # The NUL separator cannot occur in the purpose, so (purpose, value) pairs never collide.
    message = (
        _KEYED_LABEL + purpose.encode("utf-8") + b"\x00" + value.encode("utf-8", "surrogatepass")
    )
    return hmac.new(key, message, hashlib.sha256).hexdigest()
