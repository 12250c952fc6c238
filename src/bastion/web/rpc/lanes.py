"""`KeptReadLane`: the few worker threads on which calls that cannot wait on anyone run.

Each API call runs in a worker thread (its database work blocks). anyio's default pool lets
40 run at once per process; for calls that only compute, those threads do nothing but take
the GIL from each other. With at most two at a time a worker served about 6% more
`search_read` calls and their p99 fell from 52 to 28 ms (bench/rpc.py, docs/benchmarks.md).

One small pool for every call would be a gift to an attacker, though: a wrong password
waits in the hash gate's line (`auth.admission`) inside its thread, so a flood of them would
hold every slot and stall the real callers. So the small pool is a lane of its own, taken
only by the calls that cannot be kept waiting by anyone else's: a read (`READ_METHODS`)
whose password this process has verified for that user from that address and kept
(`credentials.VerifiedPasswords`): it computes no hash and waits in no line. (It may still
write: a denial to the audit trail, the risk engine's once-a-minute look at the caller.)
A guess never gets there (the password is part of what is kept), and everything else (sign
in, first calls, writes, API keys, wrong passwords) runs on the default pool, where the lane's
calls do not count either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread

from bastion.web.rpc.credentials import VerifiedPasswords
from bastion.web.rpc.dispatch import READ_METHODS
from bastion.web.rpc.services import model_method

T = TypeVar("T")

#: Threads of the lane per process on SQLite: two, so that one call's database step (the GIL
#: released) overlaps the other's Python.
LANE_THREADS = 2
#: On PostgreSQL every statement also waits for a round trip, the GIL free all the while:
#: more calls at once overlap those waits (a guess for a database on another machine; what
#: bench/rpc.py measures is SQLite).
LANE_THREADS_POSTGRESQL = 8


def lane_threads(database_url: str | None) -> int:
    """The lane's threads for a server whose tenants live in `database_url` (None: SQLite)."""
    return LANE_THREADS if database_url is None else LANE_THREADS_POSTGRESQL


class KeptReadLane:
    """Runs a call in a worker thread: in the lane if `takes` says so, else on the default
    pool. One per process (each worker builds its own app)."""

    def __init__(self, passwords: VerifiedPasswords | None, threads: int = LANE_THREADS) -> None:
        if threads < 1:
            raise ValueError("The lane needs at least one thread.")
        self.passwords = passwords
        self.threads = threads
        self._limiter: CapacityLimiter | None = None

    def __repr__(self) -> str:
        return f"KeptReadLane(threads={self.threads})"

    def takes(
        self, service: object, method: object, params: Sequence[Any], *, ip: str, now: datetime
    ) -> bool:
        """Whether `call_service(service, method, params)` from `ip` is a read with a password
        kept for its user and address (an in-memory lookup: no I/O)."""
        if self.passwords is None or model_method(service, method, params) not in READ_METHODS:
            return False
        db, uid, password = params[:3]
        if not (isinstance(db, str) and isinstance(password, str)):
            return False
        if isinstance(uid, bool) or not isinstance(uid, int):
            return False
        found = self.passwords.lookup(db, uid, ip, password, now.timestamp())
        return found is not None

    async def run(self, func: Callable[[], T], *, lane: bool) -> T:
        """`func()` in a worker thread, in the lane when `lane`."""
        return await to_thread.run_sync(func, limiter=self._lane() if lane else None)

    def _lane(self) -> CapacityLimiter:
        # Made on first use, inside the event loop (anyio needs one running to make it).
        if self._limiter is None:
            self._limiter = CapacityLimiter(self.threads)
        return self._limiter
