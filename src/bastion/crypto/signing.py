"""Purpose-bound HMAC-SHA256 signatures with key rotation.

`Signer(keys, purpose)` signs with the first key and verifies with any of them, so a new key
can be put first while signatures made with the old one stay valid until it is dropped. Each
key is first turned into a per-purpose key, so a signature made for one purpose (a checkpoint,
say) never verifies for another (a password-reset link): that answers token confusion attacks.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence

from bastion.errors import ConfigError, VerificationError

MIN_KEY_BYTES = 32
_DERIVATION_LABEL = b"bastion.crypto.signing:"
_MAC_BYTES = 32


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """The raw HMAC-SHA256 primitive (RFC 2104); prefer `Signer`: it adds purpose and rotation."""
    return hmac.digest(key, data, "sha256")


class Signer:
    """Signs and verifies byte strings for one purpose with a ring of keys."""

    __slots__ = ("_keys", "_purpose")

    def __init__(self, keys: Sequence[bytes], purpose: str) -> None:
        if isinstance(keys, bytes | bytearray) or not keys:
            raise ConfigError("A signer needs a non-empty list of keys.")
        if not purpose:
            raise ConfigError("A signer needs a purpose.")
        for key in keys:
            if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
                raise ConfigError(f"Every signing key must be at least {MIN_KEY_BYTES} bytes long.")
        self._purpose = purpose
        label = _DERIVATION_LABEL + purpose.encode("utf-8")
        self._keys = tuple(hmac_sha256(key, label) for key in keys)

    @property
    def purpose(self) -> str:
        return self._purpose

    def sign(self, data: bytes) -> str:
        """Return the signature of `data` as unpadded URL-safe base64 (43 characters)."""
        return _encode(hmac_sha256(self._keys[0], data))

    def verify(self, data: bytes, signature: str) -> None:
        """Return if `signature` is valid for `data` under any key; raise `VerificationError`."""
        mac = _decode(signature)
        valid = False
        for key in self._keys:
            # Constant-time comparison, and every key is tried, so timing reveals nothing.
            valid |= hmac.compare_digest(hmac_sha256(key, data), mac)
        if not valid:
            raise VerificationError("The signature did not verify.")

    def __repr__(self) -> str:
        return f"Signer(purpose={self._purpose!r}, keys={len(self._keys)})"


def _encode(mac: bytes) -> str:
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def _decode(signature: str) -> bytes:
    if not isinstance(signature, str) or len(signature) != 43 or not signature.isascii():
        raise VerificationError("The signature did not verify.")
    try:
        mac = base64.urlsafe_b64decode(signature + "=")
    except (binascii.Error, ValueError):
        raise VerificationError("The signature did not verify.") from None
    if len(mac) != _MAC_BYTES or _encode(mac) != signature:
        raise VerificationError("The signature did not verify.")
    return mac
