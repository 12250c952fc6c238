"""The security suites' site: one tenant per backend and worker, with `security_models`'s
module, an internal user ('clerk') and a user without groups ('outsider'). Tests change it only
inside transactions that are rolled back."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from security_models import SECURITY_MODULE, Site

from bastion.bootstrap.tenants import create_tenant, drop_tenant
from bastion.bootstrap.users import add_user
from bastion.core.clock import FixedClock
from bastion.settings import Settings
from support.postgres import require_postgres

PASSWORD = "correct horse battery staple"


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    url = require_postgres() if request.param == "postgresql" else None
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
