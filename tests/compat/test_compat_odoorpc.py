"""odoorpc, unmodified, against a live server: it detects the version, signs in over /jsonrpc,
builds its models from fields_get, and reads and writes records within each role's rights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import odoorpc
import pytest
from compat_live import Live

from support.rpc_roles import ROLES, Role

ACCESS_ERROR = "odoo.exceptions.AccessError"


def connect(live: Live, login: str, secret: str | None = None) -> odoorpc.ODOO:
    odoo = odoorpc.ODOO("localhost", port=live.port)
    odoo.login(live.db, login, secret or live.password)
    return odoo


def test_odoorpc_detects_the_server_version(live: Live) -> None:
    odoo = odoorpc.ODOO("127.0.0.1", port=live.port)
    assert odoo.version == "17.0"


def test_odoorpc_signs_in_and_knows_the_user(live: Live) -> None:
    odoo = connect(live, "sales")
    assert odoo.env.uid == live.uid("sales")
    assert odoo.env.user.name == "Sarah Seller"


def test_odoorpc_wrong_password_is_refused(live: Live) -> None:
    odoo = odoorpc.ODOO("localhost", port=live.port)
    with pytest.raises(odoorpc.error.RPCError):
        odoo.login(live.db, "sales", "not the password at all")


def test_odoorpc_reads_creates_writes_and_deletes_partners(live: Live) -> None:
    odoo = connect(live, "admin", live.key("admin"))
    partners = odoo.env["res.partner"]
    rows = partners.search_read([("is_company", "=", True)], ["name", "email"], limit=3)
    assert len(rows) == 3 and {"id", "name", "email"} <= set(rows[0])
    new_id = partners.create({"name": "Made by odoorpc", "email": "odoorpc@example.com"})
    record = partners.browse(new_id)
    assert record.name == "Made by odoorpc"
    record.write({"name": "Changed by odoorpc"})
    assert partners.read([new_id], ["name"])[0]["name"] == "Changed by odoorpc"
    assert partners.search_count([("id", "=", new_id)]) == 1
    record.unlink()
    assert partners.search([("id", "=", new_id)]) == []


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_each_role_gets_its_rights_and_its_denied_twin_is_an_access_error(
    live: Live, role: Role
) -> None:
    odoo = connect(live, role.login)
    call: Callable[[str, str, list[Any], dict[str, Any]], Any] = odoo.execute_kw
    role.allowed(call, odoo.env.uid)
    with pytest.raises(odoorpc.error.RPCError) as info:
        role.denied(call, odoo.env.uid)
    assert info.value.info["data"]["name"] == ACCESS_ERROR
    assert info.value.info["data"]["debug"] == ""
