"""The security suites' site: one tenant per backend and worker, with `security_models`'s
module, an internal user ('clerk') and a user without groups ('outsider'). Tests change it only
inside transactions that are rolled back."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from security_models import SECURITY_MODULE, Site

from bastion.bootstrap.tenants import create_tenant, drop_tenant
from bastion.bootstrap.users import add_user
from bastion.core.clock import FixedClock
from bastion.settings import Settings

PG_URL = os.environ.get(
    "BASTION_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = "correct horse battery staple"


def _postgres_url() -> str:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return PG_URL
    except OSError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required under CI=true")
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    url = _postgres_url() if request.param == "postgresql" else None
    settings = Settings(data_dir=tmp_path_factory.mktemp("security") / "var", database_url=url)
    name = f"bastion_test_{uuid.uuid4().hex[:12]}"
    tenant = create_tenant(
        settings,
        name,
        modules=("base", "sectest"),
        extra=(SECURITY_MODULE,),
        clock=FixedClock(dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)),
    )
    try:
        users = {
            "clerk": add_user(tenant, "clerk", PASSWORD, name="Clerk Kent"),
            "outsider": add_user(tenant, "outsider", PASSWORD, name="Odd Outsider", groups=()),
        }
        with tenant.system("security test notes") as env:
            partner = env["res.partner"].search([("name", "=", "Clerk Kent")])[0]
            notes = {
                "plain": env["test.note"].create({"name": "plain note", "n": 1}),
                "linked": env["test.note"].create(
                    {"name": "linked note", "user_id": users["clerk"], "partner_id": partner}
                ),
            }
        yield Site(request.param, tenant, users, notes)
    finally:
        tenant.dispose()
        drop_tenant(settings, name)
