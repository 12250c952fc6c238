"""Time as a parameter: the `Clock` protocol and its system and fixed implementations, and the
benchmark-only `FileClock` (`clock_from_environment`)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from bastion.errors import ConfigError

log = logging.getLogger(__name__)

#: Bench only (bench/detection): a file whose content is the server's time. Honoured only with
#: `FAKE_CLOCK_ACK_ENV` set to exactly `FAKE_CLOCK_ACK`; anything else refuses to start.
FAKE_CLOCK_FILE_ENV = "BASTION_FAKE_CLOCK_FILE"
FAKE_CLOCK_ACK_ENV = "BASTION_FAKE_CLOCK_ACK"
FAKE_CLOCK_ACK = "benchmark only: this server's time is not real"


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock for tests: it says what it was set to and moves only when told."""

    def __init__(self, at: dt.datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


class FileClock:
    """Benchmark only: the time is what a file says, so that a detection benchmark can replay
    weeks of simulated sign-ins through a real server in minutes.

    The file holds `<epoch seconds>` (a frozen clock) or `<epoch seconds> <real epoch anchor>`
    (a clock running at real speed from that moment). It is read at every call; the writer
    replaces it atomically. Never used unless `clock_from_environment` is given both variables.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def now(self) -> dt.datetime:
        parts = self.path.read_text("ascii").split()
        at = float(parts[0])
        if len(parts) > 1:
            at += time.time() - float(parts[1])
        return dt.datetime.fromtimestamp(at, dt.UTC)


def clock_from_environment(environ: Mapping[str, str] | None = None) -> Clock:
    """The system clock, unless the benchmark-only `FileClock` is asked for explicitly.

    Threat: a server whose time can be set from outside keeps expired sessions and codes alive.
    `BASTION_FAKE_CLOCK_FILE` alone is an error (the server refuses to start), never a silent
    fake clock; with the acknowledgement as well, every worker logs a warning at start-up.
    """
    env = os.environ if environ is None else environ
    path = env.get(FAKE_CLOCK_FILE_ENV, "")
    if not path:
        return SystemClock()
    if env.get(FAKE_CLOCK_ACK_ENV) != FAKE_CLOCK_ACK:
        raise ConfigError(
            f"{FAKE_CLOCK_FILE_ENV} is for benchmarks only; it needs {FAKE_CLOCK_ACK_ENV} "
            "set as bench/detection sets it. Unset it to run a real server."
        )
    clock = FileClock(Path(path))
    clock.now()  # a missing or malformed file fails at start-up, not in a request
    log.warning("FAKE CLOCK: this server's time comes from %s (benchmark only).", path)
    return clock
