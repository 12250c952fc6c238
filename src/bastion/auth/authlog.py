"""An auth log whose sign-in lines are exactly Odoo's, so stock fail2ban filters and CrowdSec's
`crowdsecurity/odoo` collection protect a Bastion server unchanged.

One line per event, in Odoo's log format (`%(asctime)s %(pid)s %(levelname)s %(dbname)s
%(name)s: %(message)s`) with the messages of Odoo's `res_users._login`, e.g. (one line):

    2022-04-05 14:40:34,644 1 INFO odoo odoo.addons.base.models.res_users: Login failed
    for db:odoo login:toto@mail.fr from 172.19.0.1

Time zone: Odoo writes the server's local time without an offset. We write UTC unless the
constructor is given another zone, so a log is the same on every machine; tell the reader so
(fail2ban `logtimezone = UTC`; CrowdSec already reads zone-less timestamps as UTC).

Threat: the login is attacker-chosen. A login holding a newline would forge a second line, and
one holding a space (`x from 203.0.113.9`) would move the address the parsers read, making
fail2ban or CrowdSec ban an innocent address. Every character outside printable ASCII, every
space and every backslash is escaped (`\\x20`, `\\n`...), so a field never contains whitespace
and the address is always the real client's, last on the line.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from bastion.auth.network import normalize_ip
from bastion.errors import ConfigError, ValidationError

#: Odoo's logger for `res.users`; the name the parsers look for.
LOGGER = "odoo.addons.base.models.res_users"
LEVEL = "INFO"
FAILED = "Login failed for db:{db} login:{login} from {ip}"
SUCCEEDED = "Login successful for db:{db} login:{login} from {ip}"

#: Longest login (in characters, before escaping) written in full; longer ones are cut and
#: marked with `\...`, a sequence escaping never produces. Bounds a line at about 2.6 KB.
MAX_FIELD = 256
_TRUNCATED = "\\..."
#: Shown for an empty login: stock filters want `login:\S+`, so an empty field would let an
#: attacker's failures slip past them.
_EMPTY = '""'
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
_FILE_MODE = 0o600
_DIR_MODE = 0o700


def escape_field(value: str) -> str:
    """`value` with no whitespace, control or non-ASCII character left: safe as one log field.

    Printable ASCII other than the backslash is kept (emails and usual logins read as they
    are); anything else becomes `\\n`, `\\r`, `\\t`, `\\\\`, `\\xNN`, `\\uNNNN` or `\\UNNNNNNNN`.
    Escaping is one-to-one, so distinct logins stay distinct (CrowdSec counts distinct users).
    """
    if not isinstance(value, str):
        raise ValidationError("A login must be a text.")
    if not value:
        return _EMPTY
    cut = len(value) > MAX_FIELD
    out: list[str] = []
    for ch in value[:MAX_FIELD] if cut else value:
        code = ord(ch)
        if 0x21 <= code <= 0x7E and ch != "\\":
            out.append(ch)
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    if cut:
        out.append(_TRUNCATED)
    return "".join(out)


def format_timestamp(at: datetime, tz: tzinfo = UTC) -> str:
    """`2022-04-05 14:40:34,644`: Python logging's default `asctime`, milliseconds truncated."""
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise ValidationError("The time of an auth event must be a timezone-aware datetime.")
    local = at.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M:%S},{local.microsecond // 1000:03d}"


def format_line(
    message: str, db: str, login: str, ip: str, at: datetime, *, pid: int, tz: tzinfo = UTC
) -> str:
    """One complete log line (with its newline) for `message` (FAILED or SUCCEEDED)."""
    if message not in (FAILED, SUCCEEDED):
        raise ValidationError("Unknown auth log message.")
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise ValidationError("A process id must be a positive whole number.")
    dbname = escape_field(db)
    # The address is parsed, not copied: a forged value cannot reach the line, and an
    # IPv4-mapped IPv6 peer is written as its IPv4 address, which is what a firewall bans.
    text = message.format(db=dbname, login=escape_field(login), ip=normalize_ip(ip))
    return f"{format_timestamp(at, tz)} {pid} {LEVEL} {dbname} {LOGGER}: {text}\n"


class OdooAuthLog:
    """Appends Odoo-format sign-in lines to `path`, safe across threads and worker processes.

    Each event is one `write(2)` on a descriptor opened with `O_APPEND`, so lines from several
    workers never interleave; the file is opened per event, so log rotation needs no signal.
    A missing file is created readable by its owner only (logins are personal data).
    """

    def __init__(self, path: Path, *, pid: int | None = None, tz: tzinfo = UTC) -> None:
        if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0):
            raise ConfigError("The auth log's process id must be a positive whole number.")
        self.path = Path(path)
        if self.path.is_dir():
            raise ConfigError(f"The auth log {str(self.path)!r} is a directory, not a file.")
        self._pid = pid
        self._tz = tz

    def failed(self, db: str, login: str, ip: str, at: datetime) -> None:
        """Record a failed sign-in of `login` on tenant `db` from address `ip`."""
        self._append(FAILED, db, login, ip, at)

    def succeeded(self, db: str, login: str, ip: str, at: datetime) -> None:
        """Record a successful sign-in of `login` on tenant `db` from address `ip`."""
        self._append(SUCCEEDED, db, login, ip, at)

    def __repr__(self) -> str:
        return f"OdooAuthLog({str(self.path)!r})"

    def _append(self, message: str, db: str, login: str, ip: str, at: datetime) -> None:
        pid = self._pid if self._pid is not None else os.getpid()
        data = format_line(message, db, login, ip, at, pid=pid, tz=self._tz).encode("ascii")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=_DIR_MODE)
            fd = os.open(
                self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, _FILE_MODE
            )
            try:
                written = os.write(fd, data)
                while written < len(data):  # a regular file writes in full unless the disk is
                    written += os.write(fd, data[written:])  # full; finish rather than lose it
            finally:
                os.close(fd)
        except OSError as exc:
            raise ConfigError(
                f"The auth log {str(self.path)!r} cannot be written ({exc.strerror})."
            ) from None
