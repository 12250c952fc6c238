"""Secrets encrypted at rest (AES-256-GCM), bound to a purpose and to the row that holds them.

`Sealer(keys, purpose)` seals with the first key and unseals with any, like `Signer`: put a new
key first, re-seal whatever `needs_reseal` flags, then drop the old key. The caller's `context`
(say b"uid:7") is authenticated with the ciphertext, so a sealed secret copied into another
user's row by someone who can write to the database does not unseal there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import struct
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bastion.errors import ConfigError, VerificationError

MIN_KEY_BYTES = 32
MAX_PLAINTEXT_BYTES = 16 * 1024
_VERSION = "v1"
_DERIVATION_LABEL = b"bastion.crypto.sealing:"
_KEY_ID_LABEL = b"bastion.crypto.sealing.key-id:"
_KEY_ID_BYTES = 4
# 96-bit random nonces: NIST SP 800-38D bounds them to 2**32 seals per key, far above our use.
_NONCE_BYTES = 12
_TAG_BYTES = 16
_MAX_TOKEN_CHARS = 16 + (_NONCE_BYTES + MAX_PLAINTEXT_BYTES + _TAG_BYTES) * 4 // 3 + 4
_FAILED = "The sealed value did not verify."


class Sealer:
    """Seals and unseals byte strings for one purpose with a ring of keys."""

    __slots__ = ("_keys", "_purpose")

    def __init__(self, keys: Sequence[bytes], purpose: str) -> None:
        if isinstance(keys, bytes | bytearray) or not keys:
            raise ConfigError("A sealer needs a non-empty list of keys.")
        if not purpose:
            raise ConfigError("A sealer needs a purpose.")
        for key in keys:
            if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
                raise ConfigError(f"Every sealing key must be at least {MIN_KEY_BYTES} bytes long.")
        self._purpose = purpose
        # A key per purpose: a value sealed for TOTP secrets never unseals as anything else.
        info = _DERIVATION_LABEL + purpose.encode("utf-8")
        self._keys = tuple(_derive(key, info) for key in keys)

    @property
    def purpose(self) -> str:
        return self._purpose

    def seal(self, plaintext: bytes, context: bytes) -> str:
        """Return `plaintext` encrypted and authenticated together with `context`, as ASCII."""
        if len(plaintext) > MAX_PLAINTEXT_BYTES:
            raise ValueError(f"A sealed value holds at most {MAX_PLAINTEXT_BYTES} bytes.")
        key_id, aead = self._keys[0]
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = aead.encrypt(nonce, plaintext, self._associated_data(context))
        return f"{_VERSION}.{key_id}.{_encode(nonce + sealed)}"

    def unseal(self, token: str, context: bytes) -> bytes:
        """Return the plaintext sealed in `token` for `context`; raise `VerificationError`.

        A tampered or truncated token, another context or purpose, and an unknown key all
        raise the same error.
        """
        associated_data = self._associated_data(context)
        key_id, blob = _parse(token)
        nonce, sealed = blob[:_NONCE_BYTES], blob[_NONCE_BYTES:]
        for candidate_id, aead in self._keys:
            # Key ids are public (they are in the token); several keys may share one by chance.
            if candidate_id != key_id:
                continue
            try:
                return aead.decrypt(nonce, sealed, associated_data)
            except InvalidTag:
                continue
        raise VerificationError(_FAILED)

    def needs_reseal(self, token: str) -> bool:
        """True unless `token` names the first key; it checks the header, not authenticity."""
        try:
            key_id, _ = _parse(token)
        except VerificationError:
            return True
        return key_id != self._keys[0][0]

    def reseal(self, token: str, context: bytes) -> str:
        """Unseal `token` and seal its plaintext again with the first key (key rotation)."""
        return self.seal(self.unseal(token, context), context)

    def _associated_data(self, context: bytes) -> bytes:
        if not isinstance(context, bytes) or not context:
            # An empty context would let a sealed value be moved between rows unnoticed.
            raise ValueError("A sealing context must be non-empty bytes, such as b'uid:7'.")
        purpose = self._purpose.encode("utf-8")
        # Length-prefixed, so no (purpose, context) pair can be read as another.
        return _VERSION.encode("ascii") + struct.pack(">I", len(purpose)) + purpose + context

    def __repr__(self) -> str:
        return f"Sealer(purpose={self._purpose!r}, keys={len(self._keys)})"


def _derive(key: bytes, info: bytes) -> tuple[str, AESGCM]:
    subkey = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)
    key_id = hashlib.sha256(_KEY_ID_LABEL + subkey).digest()[:_KEY_ID_BYTES].hex()
    return key_id, AESGCM(subkey)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _parse(token: str) -> tuple[str, bytes]:
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS or not token.isascii():
        raise VerificationError(_FAILED)
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        raise VerificationError(_FAILED)
    key_id, body = parts[1], parts[2]
    if len(key_id) != 2 * _KEY_ID_BYTES or any(c not in "0123456789abcdef" for c in key_id):
        raise VerificationError(_FAILED)
    try:
        blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise VerificationError(_FAILED) from None
    if len(blob) < _NONCE_BYTES + _TAG_BYTES or _encode(blob) != body:
        raise VerificationError(_FAILED)
    return key_id, blob
