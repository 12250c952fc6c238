"""`HostSlots`: a counting semaphore shared by every worker process of one machine.

The hash gate keeps attackers' password hashes from crowding out real users' inside one
process, but `bastion serve --workers N` runs N processes on the same cores: each one admitting
its share of unknown-device hashes still fills every core, and a returning user's hash then
competes with all of them for CPU. Hashes for unknown devices therefore also take one of a
machine-wide number of slots (fewer than the cores), so that at least one core stays free for
known devices and for everything else the server does.

The slots are lock files in the data directory, held with `flock`: the kernel releases a slot
when its holder dies, so a crashed worker never leaks one. A lock belongs to its open file,
so two `HostSlots` in one process exclude each other just as two processes do.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from bastion.errors import ConfigError

#: How often a waiter looks for a free slot. Only the waiter at the head of each process's
#: line polls, so this costs a few system calls a second, not one per queued attempt.
POLL_SECONDS = 0.005


def default_host_slots(cores: int | None = None) -> int:
    """All cores but one for unknown devices (one on a single-core machine)."""
    cores = cores if cores is not None else _cores()
    return max(1, cores - 1)


class HostSlots:
    def __init__(self, directory: Path, slots: int) -> None:
        if slots < 1:
            raise ConfigError("A machine-wide hash budget needs at least one slot.")
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.slots = slots
        self._paths = [directory / f"hash-slot-{i}.lock" for i in range(slots)]

    @contextlib.contextmanager
    def hold(self, deadline: float) -> Iterator[bool]:
        """Hold a slot until the block ends; yields False if none freed before `deadline`
        (a `time.monotonic()` value: load shedding inside the server, not a user's time)."""
        fd = self._acquire(deadline)
        try:
            yield fd is not None
        finally:
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def _acquire(self, deadline: float) -> int | None:
        start = os.getpid() % self.slots  # spread first tries across the files
        while True:
            for i in range(self.slots):
                path = self._paths[(start + i) % self.slots]
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                except BaseException:
                    os.close(fd)
                    raise
                return fd
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL_SECONDS)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1
