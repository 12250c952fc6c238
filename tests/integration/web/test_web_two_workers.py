"""Two `bastion serve` workers share one throttle: a brute-force run against one account, split
across both (a new connection per request), is stopped after as many failures as one worker
allows, with the counters in PostgreSQL, or in Redis when BASTION_REDIS_URL is set."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.live_server import PASSWORD, bastion, init_tenant, serve
from support.postgres import require_postgres
from support.redis import REDIS_URL, delete_prefix, require_redis
from support.web_client import DESKTOP_CHROME

pytestmark = pytest.mark.postgres

ACCOUNT_LIMIT = 5  # LoginThrottle's default: failures per account in the window
TARGET = "target"
WRONG = "a wrong guess at the password"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Tenant:
    name: str
    data_dir: Path
    database_url: str


@pytest.fixture
def tenant(tmp_path: Path) -> Iterator[Tenant]:
    """A fresh PostgreSQL tenant with the administrator and the attacked account."""
    url = require_postgres()
    name = f"bastion_test_{uuid.uuid4().hex[:12]}"
    data_dir = tmp_path / "var"
    init_tenant(data_dir, name, database_url=url)
    try:
        password_file = tmp_path / "password.txt"
        password_file.write_text(PASSWORD + "\n", "utf-8")
        bastion(
            data_dir, "users", "add", name, TARGET, "--password-file", str(password_file),
            database_url=url,
        )  # fmt: skip
        yield Tenant(name, data_dir, url)
    finally:
        bastion(data_dir, "drop", name, "--yes", database_url=url)


class Visitor:
    """A browser-like client that has loaded the login page; every request on a new connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        # Connection: close makes the server hang up after each answer, so the next request
        # is a new connection that either worker may accept.
        self.client = httpx.Client(
            base_url=url, headers={"connection": "close", "user-agent": DESKTOP_CHROME}, timeout=60
        )
        page = self.client.get("/web/login")
        assert page.status_code == 200, page.text[:500]
        match = _TOKEN.search(page.text)
        assert match is not None, "the login page has no CSRF token"
        self.token = match.group(1)

    def login(self, login: str, password: str) -> httpx.Response:
        form = {"login": login, "password": password, "csrf_token": self.token, "redirect": ""}
        return self.client.post("/web/login", data=form, headers={"origin": self.url})

    def close(self) -> None:
        self.client.close()


def _brute_force(url: str) -> list[httpx.Response]:
    """ACCOUNT_LIMIT + 2 wrong passwords for TARGET, each from a fresh visitor."""
    # Every visitor loads its page first, so the POSTs follow each other closely: the block
    # after the last allowed failure is short (the progressive delay starts at 2 s).
    visitors = [Visitor(url) for _ in range(ACCOUNT_LIMIT + 2)]
    try:
        return [visitor.login(TARGET, WRONG) for visitor in visitors]
    finally:
        for visitor in visitors:
            visitor.close()


def _assert_throttled_as_one_worker(url: str) -> None:
    answers = _brute_force(url)
    statuses = [answer.status_code for answer in answers]
    assert statuses == [401] * ACCOUNT_LIMIT + [429, 429], statuses
    for answer in answers[ACCOUNT_LIMIT:]:
        assert int(answer.headers["retry-after"]) >= 1
    # Twin: another account on the same workers still signs in (the block is the account's).
    other = Visitor(url)
    try:
        answer = other.login("admin", PASSWORD)
    finally:
        other.close()
    assert answer.status_code == 303, answer.text[:500]
    # Signed in: home, or "My security" where an administrator must enrol a second factor.
    assert answer.headers["location"].startswith(("/web?", "/web/security")) or (
        answer.headers["location"] == "/web"
    )


def test_throttle_shared_by_two_workers_on_postgres(tenant: Tenant) -> None:
    with serve(tenant.data_dir, workers=2, database_url=tenant.database_url) as server:
        _assert_throttled_as_one_worker(server.url)


def test_throttle_shared_by_two_workers_with_redis(tenant: Tenant) -> None:
    client = require_redis()
    try:
        with serve(
            tenant.data_dir, workers=2, database_url=tenant.database_url, redis_url=REDIS_URL
        ) as server:
            _assert_throttled_as_one_worker(server.url)
        # The counters were in Redis: the tenant's keys are there (then cleaned up).
        assert delete_prefix(client, f"bastion:{tenant.name}:") > 0
    finally:
        delete_prefix(client, f"bastion:{tenant.name}:")
        client.close()
