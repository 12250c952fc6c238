"""The long-lived device cookie: `<id>.<mac>`, where the MAC binds the id to this server.

Threat: with a bare random id, a client could present any id it learnt or guessed (another
person's known device, say, to pass as them and skip a second factor, or to tie its requests to
someone else's history). The MAC (HMAC under the server's auth key, purpose "device") means an
id is only accepted if this server issued it; anything else is a new device, never the claimed
one. The id part is what the rest of the code sees (`state["device_id"]`) and stores digested.
"""

from __future__ import annotations

from bastion.crypto.random import token_urlsafe
from bastion.crypto.signing import Signer
from bastion.errors import VerificationError

#: The Signer purpose of device cookie MACs (a MAC made for another purpose never verifies).
DEVICE_PURPOSE = "device"
DEVICE_ID_BYTES = 32
_MIN_ID, _MAX_ID = 20, 100
_MAX_VALUE = 200


class DeviceCookies:
    """Issues and reads device cookie values with one signer."""

    __slots__ = ("_signer",)

    def __init__(self, signer: Signer) -> None:
        if signer.purpose != DEVICE_PURPOSE:
            raise ValueError(f"The device cookie signer's purpose must be {DEVICE_PURPOSE!r}.")
        self._signer = signer

    def new(self) -> tuple[str, str]:
        """A fresh device: (id, cookie value)."""
        device_id = token_urlsafe(DEVICE_ID_BYTES)
        return device_id, self.value(device_id)

    def value(self, device_id: str) -> str:
        """The cookie value carrying `device_id`."""
        if not _sane(device_id):
            raise ValueError("Not a device id.")
        return f"{device_id}.{self._signer.sign(device_id.encode('ascii'))}"

    def read(self, value: str | None) -> str | None:
        """The device id a cookie value carries, or None if it is missing, malformed, or its MAC
        does not verify (forged, tampered, or from before device cookies were signed)."""
        if not isinstance(value, str) or len(value) > _MAX_VALUE or value.count(".") != 1:
            return None
        device_id, mac = value.split(".")
        if not _sane(device_id):
            return None
        try:
            self._signer.verify(device_id.encode("ascii"), mac)
        except VerificationError:
            return None
        return device_id


def _sane(value: str) -> bool:
    return (
        _MIN_ID <= len(value) <= _MAX_ID
        and value.isascii()
        and value.replace("-", "").replace("_", "").isalnum()
    )
