"""`HashGate`: how many password hashes run at once, and who goes first when they queue.

Throttles cap what one address or network may try, but a stuffing campaign spread over
thousands of networks stays under every cap, and each attempt costs an Argon2id hash. Without
admission control those hashes queue with the real users' and sign-in slows to the attack's
pace. So the gate keeps two lanes:

- a device already known for that login (and a signed-in user re-entering a password) has
  `slots` hashes of its own per process and never waits behind an unknown device's hash;
- everyone else, attackers included, waits in a short, bounded line for one of `slots`
  process slots and, when `host` is given, one of the machine-wide `HostSlots` shared by all
  workers (fewer than the cores, so one core stays free for the first lane). An attempt that
  finds the line full or waits too long is turned away (429 with Retry-After).

Returning users then wait for at most the other known devices' hashes, whatever the flood; a
new device shares the attacker's line, which is the price of a flood.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator

from bastion.auth.hostslots import HostSlots
from bastion.errors import ConfigError, RateLimitError

BUSY = "The server is busy with sign-ins; try again in a few seconds."


def default_slots(workers: int = 1) -> int:
    """One process's share of the cores when `workers` processes serve on this machine."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class HashGate:
    def __init__(
        self,
        slots: int | None = None,
        *,
        host: HostSlots | None = None,
        max_waiting: int = 32,
        max_wait: float = 5.0,
    ) -> None:
        slots = slots if slots is not None else default_slots()
        if slots < 1 or max_waiting < 0 or max_wait <= 0:
            raise ConfigError("A hash gate needs at least one slot and a positive wait.")
        self.slots = slots
        self.host = host
        self.max_waiting = max_waiting
        self.max_wait = max_wait
        self._running = 0  # ordinary hashes holding a process slot
        self._priority_running = 0
        self._priority_waiting = 0
        self._waiting = 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def admit(self, *, priority: bool) -> Iterator[None]:
        """Hold a slot for one hash; raise `RateLimitError` if an ordinary attempt cannot get one.

        Waits are bounded by wall-clock time on purpose: this is load shedding inside one
        process, not a rule about the user's time (which always comes in as a parameter).
        """
        if priority:
            with self._priority_slot():
                yield
            return
        deadline = time.monotonic() + self.max_wait
        with self._ordinary_slot(deadline):
            if self.host is None:
                yield
                return
            with self.host.hold(deadline) as held:
                if not held:
                    raise RateLimitError(BUSY, retry_after=2)
                yield

    @contextlib.contextmanager
    def _priority_slot(self) -> Iterator[None]:
        with self._cond:
            self._priority_waiting += 1
            try:
                while self._priority_running >= self.slots:
                    self._cond.wait()
            finally:
                self._priority_waiting -= 1
            self._priority_running += 1
        try:
            yield
        finally:
            with self._cond:
                self._priority_running -= 1
                self._cond.notify_all()

    @contextlib.contextmanager
    def _ordinary_slot(self, deadline: float) -> Iterator[None]:
        with self._cond:
            if self._waiting >= self.max_waiting and not self._free_for_ordinary():
                raise RateLimitError(BUSY, retry_after=2)
            self._waiting += 1
            try:
                admitted = self._cond.wait_for(
                    self._free_for_ordinary, max(0.0, deadline - time.monotonic())
                )
            finally:
                self._waiting -= 1
            if not admitted:
                raise RateLimitError(BUSY, retry_after=2)
            self._running += 1
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def _free_for_ordinary(self) -> bool:
        return self._running < self.slots and self._priority_waiting == 0
