"""Simulated time: the clock file the server reads, and a scheduler that replays actors' steps in
time order, letting the steps that fall close together run at once.

Each actor is a coroutine that calls `await scheduler.wait(t, after=..., slack=...)` before each
request. The scheduler takes the earliest waiting step at simulated time T, gathers every other
step due before T + slack (the smallest slack among them: a flood from one address wants 0.5 s,
a person's morning sign-in tolerates minutes), writes T into the clock file and releases them all.
A released actor runs until its next `wait` or its end; only then does the next batch begin, so
the server never sees time go backwards, and a step marked `after=s` (a form submitted at least
some seconds after the page was served) never runs with a clock earlier than `s`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import os
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ClockFile:
    """Writes the server's time (`bastion.core.clock.FileClock` reads it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.now = 0.0

    def freeze(self, at: float) -> None:
        self.now = at
        self._write(f"{at:.6f}")

    def run_from(self, at: float) -> None:
        """From now on the server's clock runs at real speed from `at` (a real browser's turn)."""
        self.now = at
        self._write(f"{at:.6f} {time.time():.6f}")

    def stop(self) -> float:
        """Freeze where a running clock got to; return that time."""
        parts = self.path.read_text("ascii").split()
        at = float(parts[0]) + (time.time() - float(parts[1]) if len(parts) > 1 else 0.0)
        self.freeze(at)
        return at

    def _write(self, text: str) -> None:
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(text, "ascii")
        os.replace(temporary, self.path)


@dataclass(order=True)
class _Step:
    due: float
    seq: int
    after: float = field(compare=False)
    slack: float = field(compare=False)
    future: asyncio.Future[float] = field(compare=False)


class Scheduler:
    def __init__(self, clock: ClockFile, *, max_slack: float = 300.0) -> None:
        self.clock = clock
        self.max_slack = max_slack
        self._heap: list[_Step] = []
        self._seq = itertools.count()
        self._running = 0
        self._idle = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self.batches = 0
        self.errors: list[BaseException] = []

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Start an actor; it must `wait` before its first request."""
        self._running += 1
        task = asyncio.get_running_loop().create_task(coroutine)
        task.add_done_callback(self._done)
        self._tasks.append(task)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._running -= 1
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())  # type: ignore[arg-type]
        if self._running == 0:
            self._idle.set()

    async def wait(self, at: float, *, after: float = 0.0, slack: float = 300.0) -> float:
        """Sleep until simulated time `at` (not before `after`); return the server's time then.

        `slack`: how much earlier than `at` this step may run, to share a batch with others.
        """
        due = max(at, after, self.clock.now)
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, _Step(due, next(self._seq), after, slack, future))
        self._running -= 1
        if self._running == 0:
            self._idle.set()
        return await future

    async def run(self) -> None:
        """Release batches until every actor has finished."""
        while True:
            if self._running > 0:
                self._idle.clear()
                await self._idle.wait()
                continue
            if not self._heap:
                break
            stamp = max(self._heap[0].due, self.clock.now)
            batch: list[_Step] = []
            deferred: list[_Step] = []
            while self._heap and self._heap[0].due < stamp + self.max_slack:
                step = heapq.heappop(self._heap)
                if step.after > stamp or step.due - stamp > step.slack:
                    deferred.append(step)
                else:
                    batch.append(step)
            for step in deferred:
                heapq.heappush(self._heap, step)
            self.clock.freeze(stamp)
            self.batches += 1
            # Released actors count as running until they wait again or end.
            self._running += len(batch)
            for step in batch:
                step.future.set_result(stamp)
        if self.errors:
            raise self.errors[0]
