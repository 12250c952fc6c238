"""Where the Redis test server is, the rule for when it is down, and per-test key prefixes."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

CI = os.environ.get("CI", "").lower() == "true"
REDIS_URL = os.environ.get("BASTION_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_redis() -> redis.Redis:
    """A client of the test Redis; skip when it is down, except in CI where that is a failure."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=10)
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        if CI:
            pytest.fail("Redis (BASTION_TEST_REDIS_URL) is required under CI=true")
        pytest.skip("Redis (BASTION_TEST_REDIS_URL) is not reachable")
    return client


def unique_prefix(purpose: str = "test") -> str:
    """A key prefix no other test (or concurrent xdist worker) uses."""
    return f"bastion-test:{purpose}:{uuid.uuid4().hex}:"


def delete_prefix(client: redis.Redis, prefix: str) -> int:
    """Delete every key under `prefix` (a test's cleanup); return how many there were."""
    keys = list(client.scan_iter(match=prefix + "*", count=500))
    if keys:
        client.delete(*keys)
    return len(keys)
