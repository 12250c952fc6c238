"""Signed checkpoints: the newest (seq, hash) of a chain, kept in a file outside the database.

Anyone who can write the database can cut the newest entries and fix the head row; they cannot
forge the HMAC on the checkpoint, which names an entry that must still be there.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bastion.audit.chain import canonical_json
from bastion.crypto.signing import Signer
from bastion.errors import IntegrityError, VerificationError

_FILE_MODE = 0o600
_DIR_MODE = 0o700
_MAX_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A chain position vouched for by the checkpoint key."""

    tenant: str
    seq: int
    hash: str

    def message(self) -> bytes:
        """The signed bytes: canonical JSON of the three fields."""
        text = canonical_json({"hash": self.hash, "seq": self.seq, "tenant": self.tenant})
        return text.encode("utf-8")


def read_checkpoint(path: Path, signer: Signer) -> Checkpoint | None:
    """The checkpoint at `path`, None if there is none; `IntegrityError` if it is not genuine."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_MAX_BYTES)
    except FileNotFoundError:
        return None
    forged = IntegrityError(
        f"The audit checkpoint {path} is forged or corrupt: its signature does not verify."
    )
    try:
        data = json.loads(raw)
        checkpoint = Checkpoint(tenant=data["tenant"], seq=data["seq"], hash=data["hash"])
        signature = data["signature"]
    except (ValueError, TypeError, KeyError):
        raise forged from None
    if not (
        isinstance(checkpoint.tenant, str)
        and type(checkpoint.seq) is int
        and isinstance(checkpoint.hash, str)
        and isinstance(signature, str)
    ):
        raise forged
    try:
        signer.verify(checkpoint.message(), signature)
    except VerificationError:
        raise forged from None
    return checkpoint


def write_checkpoint(path: Path, checkpoint: Checkpoint, signer: Signer) -> None:
    """Replace the checkpoint at `path` atomically (temporary file, then rename); mode 0600.

    Hold `locked(path)` around it: the temporary file name is fixed.
    """
    record = {
        "hash": checkpoint.hash,
        "seq": checkpoint.seq,
        "signature": signer.sign(checkpoint.message()),
        "tenant": checkpoint.tenant,
    }
    line = (canonical_json(record) + "\n").encode("utf-8")
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, _FILE_MODE)
    try:
        os.fchmod(fd, _FILE_MODE)
        os.write(fd, line)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path`'s lock file, so writers of one checkpoint take turns."""
    path.parent.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, _FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
