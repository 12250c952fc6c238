"""Secret key files: created once with safe permissions, refused when anyone else could read them.

A key file holds one line of standard base64. It is created atomically: the key is written to a
private temporary file that is then hard-linked to its final name, which fails if the name
exists, so two processes starting together agree on one key and none ever reads a partial file.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import secrets
import stat
from pathlib import Path

from bastion.errors import ConfigError

_FILE_MODE = 0o600
_DIR_MODE = 0o700
_MIN_KEY_BYTES = 16
_MAX_FILE_BYTES = 4096


def load_or_create_key(path: Path, nbytes: int = 32) -> bytes:
    """Return the `nbytes`-long key stored at `path`, creating it first if it does not exist."""
    if nbytes < _MIN_KEY_BYTES:
        raise ValueError(f"A key must be at least {_MIN_KEY_BYTES} bytes long.")
    path = Path(path)
    if not path.exists():
        _make_dirs(path.parent)
        _create(path, secrets.token_bytes(nbytes))
    return _load(path, nbytes)


def _make_dirs(directory: Path) -> None:
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for created in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(created, _DIR_MODE)
            os.chmod(created, _DIR_MODE)  # mkdir() applies the umask: set the mode exactly


def _create(path: Path, key: bytes) -> None:
    line = base64.b64encode(key) + b"\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, _FILE_MODE)
    try:
        os.fchmod(fd, _FILE_MODE)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link() is atomic and refuses an existing name: the loser of a race keeps the winner's key.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _load(path: Path, nbytes: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise ConfigError(f"The key file {path} cannot be read ({exc.strerror}).") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"The key file {path} is not a regular file.")
        if info.st_mode & 0o077:
            # Threat: another local user reading the key, or replacing it with one they know.
            raise ConfigError(
                f"The key file {path} is readable or writable by group or others; "
                "run `chmod 600` on it."
            )
        if info.st_uid != os.getuid():
            raise ConfigError(f"The key file {path} belongs to another user.")
        raw = os.read(fd, _MAX_FILE_BYTES)
    finally:
        os.close(fd)
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != nbytes:
        raise ConfigError(
            f"The key file {path} does not hold a {nbytes}-byte key in base64 on one line."
        )
    return key
