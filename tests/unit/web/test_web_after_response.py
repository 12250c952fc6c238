"""`after_response`: work the client need not wait for runs once the response is sent, in a
worker thread; its failure is logged and never reaches the client."""

from __future__ import annotations

import logging
import threading
from typing import Any

import anyio
import pytest
from starlette.background import BackgroundTask
from starlette.responses import PlainTextResponse, Response

from bastion.web.routing_auth import after_response


def _serve(response: Response) -> list[str]:
    """Send `response` through a bare ASGI call; the events in the order they happened."""
    events: list[str] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            events.append("sent")

    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""}
    anyio.run(response, scope, receive, send)
    return events


def test_work_runs_after_the_response_in_a_worker_thread() -> None:
    events: list[str] = []
    threads: list[threading.Thread] = []

    def work(what: str) -> None:
        threads.append(threading.current_thread())
        events.append(what)

    response = after_response(PlainTextResponse("ok"), work, "learnt")
    events[:0] = _serve(response)
    assert events == ["sent", "learnt"]
    assert threads[0] is not threading.main_thread()


def test_a_response_without_it_does_nothing_after() -> None:
    # Twin: the same response without after_response sends and stops there.
    assert _serve(PlainTextResponse("ok")) == ["sent"]


def test_failing_work_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("state unreachable")

    with caplog.at_level(logging.ERROR, logger="bastion.web.routing_auth"):
        assert _serve(after_response(PlainTextResponse("ok"), broken)) == ["sent"]
    assert "Work after the response failed: broken" in caplog.text


def test_earlier_background_work_still_runs_first() -> None:
    order: list[str] = []
    response = PlainTextResponse("ok", background=BackgroundTask(order.append, "first"))
    after_response(response, order.append, "second")
    _serve(response)
    assert order == ["first", "second"]
