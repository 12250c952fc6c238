"""A software WebAuthn authenticator for tests: an EC P-256 key, "none" attestation, and
responses shaped like the browser's `PublicKeyCredential.toJSON()`."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP = 0x01  # user present
FLAG_UV = 0x04  # user verified
FLAG_AT = 0x40  # attested credential data included


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """One credential on one authenticator; `sign_count` moves by one per assertion."""

    def __init__(self, *, sign_count: int = 0, user_verified: bool = True) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.sign_count = sign_count
        self.user_verified = user_verified
        self.user_handle: bytes | None = None

    @property
    def id(self) -> str:
        return b64url(self.credential_id)

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def create(
        self,
        options_json: str,
        *,
        origin: str,
        rp_id: str | None = None,
        challenge: str | None = None,
    ) -> str:
        """Answer registration options as `navigator.credentials.create()` would."""
        options = json.loads(options_json)
        self.user_handle = unb64url(options["user"]["id"])
        client_data = self._client_data(
            "webauthn.create", options["challenge"] if challenge is None else challenge, origin
        )
        attested = (
            bytes(16)  # AAGUID: unknown model
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + self.cose_public_key()
        )
        flags = FLAG_UP | FLAG_AT | (FLAG_UV if self.user_verified else 0)
        auth_data = self._auth_data(rp_id or options["rp"]["id"], flags) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": self.id,
                "rawId": self.id,
                "type": "public-key",
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                    "transports": ["internal", "hybrid"],
                },
            }
        )

    def get(
        self,
        options_json: str,
        *,
        origin: str,
        rp_id: str | None = None,
        challenge: str | None = None,
        sign_count: int | None = None,
    ) -> str:
        """Answer authentication options as `navigator.credentials.get()` would."""
        options = json.loads(options_json)
        allowed = [c["id"] for c in options.get("allowCredentials", [])]
        if allowed and self.id not in allowed:
            raise LookupError("this authenticator holds none of the allowed credentials")
        if sign_count is None:
            self.sign_count += 1
            sign_count = self.sign_count
        client_data = self._client_data(
            "webauthn.get", options["challenge"] if challenge is None else challenge, origin
        )
        flags = FLAG_UP | (FLAG_UV if self.user_verified else 0)
        auth_data = self._auth_data(rp_id or options["rpId"], flags, sign_count)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": self.id,
                "rawId": self.id,
                "type": "public-key",
                "authenticatorAttachment": "platform",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": b64url(self.user_handle) if self.user_handle else None,
                },
            }
        )

    def _auth_data(self, rp_id: str, flags: int, sign_count: int | None = None) -> bytes:
        count = self.sign_count if sign_count is None else sign_count
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + count.to_bytes(4, "big")

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False},
            separators=(",", ":"),
        ).encode()


def tamper(credential_json: str, field: str, change: Any) -> str:
    """Return the credential with `response[field]` passed through `change` (bytes -> bytes)."""
    value: dict[str, Any] = json.loads(credential_json)
    raw = unb64url(value["response"][field])
    value["response"][field] = b64url(change(raw))
    return json.dumps(value)
