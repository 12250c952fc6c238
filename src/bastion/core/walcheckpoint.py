"""SQLite's WAL checkpoints, off the request path.

SQLite copies its write-ahead log back into the database file (a checkpoint, which syncs both
files) inside whichever commit finds the log past 1000 pages: on a busy tenant about one
commit in a hundred then waits for the disk, 10 to 20 ms on a shared machine, where the
commit itself takes a tenth of a millisecond (bench/detection's engine latency: a sign-in's
p99 went from 17 ms to 4 ms without them).

Here every SQLite engine's connections raise that in-commit limit to `IN_COMMIT_PAGES` (a
safety net, should the background fall behind), and one daemon thread per process runs a
PASSIVE checkpoint (it never waits for readers or writers) of each engine whose log changed,
every `INTERVAL` seconds. Durability is unchanged or better: with `synchronous=NORMAL` a
commit reaches the disk at the next checkpoint, now at most about a second later.

An engine is checkpointed from its first connection until `dispose()` (which waits for a
checkpoint of it that is under way, so a restore that replaces the files after disposing
never races one); a later connection enrols it again.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

log = logging.getLogger(__name__)

#: Pages the log may reach before a commit checkpoints it itself (SQLite's default: 1000).
IN_COMMIT_PAGES = 20_000
#: Seconds between two passes of the background checkpointer.
INTERVAL = 1.0


class _Enrolled:
    __slots__ = ("engine", "lock", "seen", "wal")

    def __init__(self, engine: sa.Engine, wal: Path) -> None:
        self.engine = weakref.ref(engine)
        self.wal = wal
        self.lock = threading.Lock()  # held while checkpointing; `dispose` waits for it
        self.seen: tuple[int, int] | None = None  # the log's (mtime_ns, size) when last done


class DisposalPool(sa.pool.QueuePool):
    """A QueuePool that calls `on_dispose` callbacks when its engine is disposed of.

    `Engine.dispose()` replaces the pool by `recreate()`, whatever its `close` argument: the
    callbacks run there and move to the new pool. SQLAlchemy's `engine_disposed` event would
    say the same, but any connection event makes every statement of the engine go through
    the event machinery (a third of a small read's cost, bench/rpc.py)."""

    on_dispose: tuple[Callable[[], None], ...] = ()

    def recreate(self) -> DisposalPool:
        fresh = super().recreate()
        assert isinstance(fresh, DisposalPool)
        fresh.on_dispose = self.on_dispose
        for callback in self.on_dispose:
            callback()
        return fresh


class Checkpointer:
    """The process's background checkpointer (`CHECKPOINTER`); `run_once` is one pass."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._engines: dict[int, _Enrolled] = {}
        self._thread: threading.Thread | None = None
        self._pid = 0

    def watch(self, engine: sa.Engine, path: Path) -> None:
        """Checkpoint `engine` (a SQLite file at `path`) from its first connection on."""
        sa.event.listen(engine, "connect", lambda _conn, _rec: self._enrol(engine, path))
        pool = engine.pool
        if isinstance(pool, DisposalPool):
            ref = weakref.ref(engine)

            def disposed() -> None:
                found = ref()
                if found is not None:
                    self._forget(found)

            pool.on_dispose = (*pool.on_dispose, disposed)
        else:
            sa.event.listen(engine, "engine_disposed", self._forget)

    def _enrol(self, engine: sa.Engine, path: Path) -> None:
        with self._lock:
            if id(engine) not in self._engines:
                self._engines[id(engine)] = _Enrolled(engine, Path(f"{path}-wal"))
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()  # a forked child has no thread of its parent's
                self._thread = threading.Thread(
                    target=self._loop, name="sqlite-checkpoint", daemon=True
                )
                self._thread.start()

    def _forget(self, engine: sa.Engine) -> None:
        with self._lock:
            enrolled = self._engines.pop(id(engine), None)
        if enrolled is not None:
            with enrolled.lock:  # let a checkpoint under way finish before the files move
                pass

    def enrolled(self, engine: sa.Engine) -> bool:
        with self._lock:
            return id(engine) in self._engines

    def _loop(self) -> None:
        stop = threading.Event()
        while not stop.wait(self.interval):
            try:
                self.run_once()
            except Exception:  # never let the thread die: the in-commit limit is the net
                log.exception("The SQLite checkpoint pass failed.")

    def run_once(self) -> int:
        """Checkpoint every enrolled engine whose log changed since; return how many."""
        with self._lock:
            enrolled = list(self._engines.items())
        done = 0
        for key, entry in enrolled:
            engine = entry.engine()
            if engine is None:
                with self._lock:
                    self._engines.pop(key, None)
                continue
            with entry.lock:
                if self._engines.get(key) is entry and self._checkpoint(engine, entry):
                    done += 1
        return done

    def _checkpoint(self, engine: sa.Engine, entry: _Enrolled) -> bool:
        try:
            stat = entry.wal.stat()
        except OSError:  # no log (nothing written yet, or the files were removed)
            return False
        seen = (stat.st_mtime_ns, stat.st_size)
        if seen == entry.seen or stat.st_size == 0:
            return False
        raw = engine.raw_connection()
        try:
            driver: Any = raw.driver_connection  # autocommit: no BEGIN around the pragma
            driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            raw.close()
        entry.seen = seen
        return True


CHECKPOINTER = Checkpointer()


def on_connect(dbapi_conn: Any) -> None:
    """Raise the in-commit checkpoint limit on a new SQLite connection."""
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(f"PRAGMA wal_autocheckpoint={int(IN_COMMIT_PAGES)}")
    finally:
        cursor.close()
