"""A closed-loop HTTP/1.1 load generator: N keep-alive connections, each sending the same request
again as soon as the previous answer has arrived, in a process of its own.

Written on asyncio streams rather than an HTTP client library so that it costs little CPU: on a
two-core machine the load generator competes with the server it measures, and its own CPU use
is reported with every run. An answer counts only if its status is 200 and its body is, byte for
byte, the body expected (the benchmark checked that body before); anything else is an error.

The parent sends ("run", port, request, expected, concurrency, lead_in, seconds) and receives
"measuring" when the measured window opens, "measured" when it closes, then a dict of results;
("stop",) ends the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing.connection
import time
from dataclasses import dataclass, field
from typing import Any

CONNECT_TIMEOUT = 30.0
STAGGER = 0.05  # seconds between opening two connections
REQUEST_TIMEOUT = 60.0


def http_request(host: str, port: int, path: str, body: bytes) -> bytes:
    """A JSON POST as a script's HTTP client sends it (no cookies: RPC clients keep none)."""
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "User-Agent: bench-rpc/1\r\n"
        "Accept: application/json\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """Send one request, read its answer: (status, body). Content-Length framing only (both
    servers send it for these answers); anything else is an error."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        raise ValueError("no Content-Length in the answer")
    end = lower.find(b"\r\n", at + 2)
    length = int(lower[at + 17 : end])
    body = await reader.readexactly(length)
    if b"connection: close" in lower:
        raise ConnectionResetError("the server closed the connection")
    return status, body


@dataclass
class Window:
    measure_from: float = 0.0
    end: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    late: int = 0  # answers after the window closed (not counted)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def connect(port: int, request: bytes, expected: bytes) -> tuple[Any, Any]:
    """One connection, checked with one exchange."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, limit=1 << 22), CONNECT_TIMEOUT
    )
    status, body = await asyncio.wait_for(exchange(reader, writer, request), REQUEST_TIMEOUT)
    if status != 200 or body != expected:
        raise RuntimeError(f"the first answer on a new connection is wrong ({status})")
    return reader, writer


async def loop_one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes, expected: bytes,
    window: Window,
) -> None:  # fmt: skip
    clock = time.monotonic
    while True:
        began = clock()
        if began >= window.end:
            return
        try:
            status, body = await asyncio.wait_for(
                exchange(reader, writer, request), REQUEST_TIMEOUT
            )
        except (OSError, ValueError, asyncio.IncompleteReadError, TimeoutError) as exc:
            window.error(type(exc).__name__)
            return
        done = clock()
        if done > window.end:
            window.late += 1
        elif done >= window.measure_from:
            if status != 200:
                window.error(f"HTTP {status}")
            elif body != expected:
                window.error("different body")
            else:
                window.latencies.append(done - began)


async def run(
    conn: multiprocessing.connection.Connection, command: tuple[Any, ...]
) -> dict[str, Any]:
    _, port, request, expected, concurrency, lead_in, seconds = command
    # The connections open one by one, each starting its loop at once: the workers of the
    # server share one listening socket, and a worker busy with the earlier connections'
    # calls is less likely to accept the next one. Opened all at once or while the server
    # is idle, they mostly went to one worker, and the other core stayed idle.
    window = Window(measure_from=float("inf"), end=float("inf"))
    connections = []
    tasks = []
    for _ in range(concurrency):
        reader, writer = await connect(port, request, expected)
        connections.append((reader, writer))
        tasks.append(asyncio.create_task(loop_one(reader, writer, request, expected, window)))
        await asyncio.sleep(STAGGER)
    now = time.monotonic()
    window.measure_from, window.end = now + lead_in, now + lead_in + seconds
    await asyncio.sleep(max(0.0, window.measure_from - time.monotonic()))
    conn.send("measuring")
    cpu_before, wall_before = time.process_time(), time.monotonic()
    await asyncio.sleep(max(0.0, window.end - time.monotonic()))
    cpu, wall = time.process_time() - cpu_before, time.monotonic() - wall_before
    conn.send("measured")
    await asyncio.gather(*tasks)
    for _, writer in connections:
        writer.close()
    for _, writer in connections:
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    # Throughput: answers that arrived inside the window, per second of it.
    return {
        "requests": len(window.latencies),
        "seconds": seconds,
        "latencies": window.latencies,
        "errors": window.errors,
        "client_cores": cpu / wall if wall else 0.0,
    }


def main(conn: multiprocessing.connection.Connection) -> None:
    """The load generator's process: serve commands until ("stop",)."""
    while True:
        command = conn.recv()
        if command[0] == "stop":
            return
        try:
            conn.send(asyncio.run(run(conn, command)))
        except Exception as exc:  # the parent reports it and stops
            conn.send({"failed": f"{type(exc).__name__}: {exc}"})
