"""Where the PostgreSQL test server is, and the rule for when it is down."""

from __future__ import annotations

import os
import socket

import pytest

CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get(
    "BASTION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def require_postgres() -> str:
    """The PostgreSQL URL; skip when it is down, except in CI where that is a failure."""
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return PG_URL
    except OSError:
        if CI:
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required under CI=true")
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
