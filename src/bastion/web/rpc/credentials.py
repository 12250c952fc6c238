"""Passwords that verified recently for an RPC caller, so that the next call skips Argon2.

Odoo's RPC sends the password with every call and Bastion checks it on every call, as Odoo
does. One Argon2id verification costs 45 to 70 ms of CPU, so a script calling in a loop would
keep the server busy hashing. Odoo caches that check too (`res.users._check_uid_passwd`).

Each worker keeps, for a few minutes, a keyed digest of (tenant, user id, client address,
password): HMAC-SHA256 under a random key made when the process starts and never stored, so
what is kept is useless without the process's memory. Mapped to it: the tenant's access stamp
read before the password verified, the login, and when the entry expires. An entry is made only
by a full check (the sign-in flow: throttle, risk engine, hash, second-factor rules) that
succeeded from that address; it then stands for that address the way a session cookie stands
for a browser that signed in, and is checked on every call like one:

- The throttle is consulted first, as before any hash. A blocked caller takes the full path,
  which refuses it: guessing cannot go on past a block by watching for the one success.
- The access stamp (`bastion.core.access_cache`) must be the one read before the password
  verified. Any write to the users table (password set, user disabled, login renamed), to a
  user's groups or to a group's MFA requirement replaces it, from any process, so the next call
  takes the full path and sees the change.
- The user must still have no second factor (read on every call: those tables are not
  stamped); with one, the full path refuses the password as before.
- The risk engine's word before the password is asked again once `RISK_EVERY` seconds have
  passed since it last allowed this caller, as the session guard re-assesses a signed-in
  browser's address once a minute (`web/risk_guard.py`): an address it bans or a defensive
  mode it enters stops kept passwords within a minute, from any process. Between two asks,
  the login throttle (every call) still stops an address that keeps guessing.
- A wrong password never matches a kept digest, so it always costs a hash and counts as a
  failure; another address never matches either, so it gets the full flow, risk engine
  included. API keys (a fast hash already) are never kept.

What a kept entry does not repeat, for the same user, password and address within `ttl`: the
hash, the risk engine's assessment after the password and its learning, and (within
`RISK_EVERY`) its assessment before the password.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass

from bastion.crypto.digest import keyed_digest
from bastion.crypto.random import token_bytes

PURPOSE = "rpc verified password"
#: Seconds a verified password is kept at most, and how many are kept per process.
DEFAULT_TTL = 600.0
DEFAULT_SIZE = 4096
#: Seconds a kept password goes without the risk engine's "before" verdict (the session guard's
#: re-assessment interval for a signed-in browser).
RISK_EVERY = 60.0


@dataclass(frozen=True, slots=True)
class Verified:
    """A password that verified: under which access stamp, as which login, until when, and
    when the risk engine last allowed the caller."""

    stamp: str
    login: str
    expires: float
    assessed: float

    def __repr__(self) -> str:
        return f"Verified(login={self.login!r}, expires={self.expires}, assessed={self.assessed})"

    def assessment_due(self, now: float) -> bool:
        """True when the risk engine must be asked again (see `RISK_EVERY`); a clock that went
        back counts as due."""
        return not (self.assessed <= now < self.assessed + RISK_EVERY)


class VerifiedPasswords:
    """The verified passwords of one process (thread-safe, bounded, least recently used out)."""

    def __init__(self, *, ttl: float = DEFAULT_TTL, size: int = DEFAULT_SIZE) -> None:
        if ttl <= 0 or size < 1:
            raise ValueError("The time to keep and the size must be positive.")
        self._key = token_bytes(32)
        self._ttl = ttl
        self._size = size
        self._entries: OrderedDict[str, Verified] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"VerifiedPasswords({len(self._entries)} kept)"

    def __len__(self) -> int:
        return len(self._entries)

    def _digest(self, tenant: str, uid: int, ip: str, password: str) -> str:
        # Tenant names, ids and addresses hold no NUL: the fields cannot run into each other.
        return keyed_digest(self._key, PURPOSE, f"{tenant}\x00{uid}\x00{ip}\x00{password}")

    def lookup(self, tenant: str, uid: int, ip: str, password: str, now: float) -> Verified | None:
        """The entry of this password, if it verified for `uid` from `ip` and has not expired."""
        digest = self._digest(tenant, uid, ip, password)
        with self._lock:
            found = self._entries.get(digest)
            if found is None:
                return None
            if now >= found.expires:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return found

    def remember(
        self, tenant: str, uid: int, ip: str, password: str, *, stamp: str, login: str, now: float
    ) -> None:
        """Keep a password that has just verified from `ip` (`stamp`: read before the check)."""
        digest = self._digest(tenant, uid, ip, password)
        with self._lock:
            self._entries[digest] = Verified(stamp, login, now + self._ttl, now)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def assessed(self, tenant: str, uid: int, ip: str, password: str, now: float) -> None:
        """The risk engine allowed this kept password's caller at `now` (nothing if gone)."""
        digest = self._digest(tenant, uid, ip, password)
        with self._lock:
            found = self._entries.get(digest)
            if found is not None:
                self._entries[digest] = dataclasses.replace(found, assessed=now)

    def forget(self, tenant: str, uid: int, ip: str, password: str) -> None:
        with self._lock:
            self._entries.pop(self._digest(tenant, uid, ip, password), None)
