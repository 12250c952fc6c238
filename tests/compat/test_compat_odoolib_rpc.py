"""odoo-client-lib, unmodified, against a live server over XML-RPC, JSON-RPC and /json/2."""

from __future__ import annotations

import gc
import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import odoolib
import pytest
from compat_live import Live
from odoolib.tools import JsonRPCException

from support.rpc_roles import ROLES, Role

PROTOCOLS = ("xmlrpc", "jsonrpc")
# odoo-client-lib opens a ServerProxy per call and never closes it: its sockets are left to
# the garbage collector (a warning about the library, not about the server).
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(autouse=True)
def collect_leaked_sockets() -> Iterator[None]:
    """Collect the library's sockets while this test's warning filters apply, not during
    whichever test the garbage collector happens to run in next."""
    yield
    gc.collect()


def connect(live: Live, protocol: str, login: str, secret: str | None = None) -> Any:
    return odoolib.get_connection(
        hostname="localhost",
        protocol=protocol,
        port=live.port,
        database=live.db,
        login=login,
        password=secret or live.password,
    )


def error_name(exc: BaseException) -> str:
    """The Odoo exception a failed call reports. odoo-client-lib speaks the historical
    /xmlrpc, whose fault codes are strings ("warning -- AccessError\n\n<message>")."""
    if isinstance(exc, xmlrpc.client.Fault):
        kind = str(exc.faultCode).removeprefix("warning -- ").split("\n")[0]
        return f"odoo.exceptions.{kind}"
    assert isinstance(exc, JsonRPCException)
    assert exc.error["data"]["debug"] == ""
    return str(exc.error["data"]["name"])


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_odoolib_signs_in_and_searches(live: Live, protocol: str) -> None:
    connection = connect(live, protocol, "sales")
    connection.check_login()
    assert connection.user_id == live.uid("sales")
    partners = connection.get_model("res.partner")
    rows = partners.search_read([("is_company", "=", True)], ["name", "email"], limit=3)
    assert len(rows) == 3 and set(rows[0]) == {"id", "name", "email"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_odoolib_wrong_password_fails_to_sign_in(live: Live, protocol: str) -> None:
    connection = connect(live, protocol, "sales", "not the password at all")
    with pytest.raises(odoolib.tools.AuthenticationError):
        connection.check_login()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_odoolib_creates_writes_and_deletes_with_an_api_key(live: Live, protocol: str) -> None:
    connection = connect(live, protocol, "admin", live.key("admin"))
    partners = connection.get_model("res.partner")
    new_id = partners.create({"name": f"Made over {protocol}"})
    assert partners.write([new_id], {"name": "Changed"}) is True
    assert partners.read(new_id, ["name"])["name"] == "Changed"
    assert partners.unlink([new_id]) is True
    assert partners.search_count([("id", "=", new_id)]) == 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("role", ROLES, ids=str)
def test_each_role_gets_its_rights_and_its_denied_twin_is_an_access_error(
    live: Live, role: Role, protocol: str
) -> None:
    connection = connect(live, protocol, role.login)
    connection.check_login()
    uid = connection.user_id

    def call(model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        return getattr(connection.get_model(model), method)(*args, **kwargs)

    role.allowed(call, uid)
    with pytest.raises((xmlrpc.client.Fault, JsonRPCException)) as info:
        role.denied(call, uid)
    assert error_name(info.value) == "odoo.exceptions.AccessError"


def test_odoolib_json2_reads_with_a_bearer_key(live: Live) -> None:
    connection = odoolib.get_connection(
        hostname="localhost",
        protocol="json2",
        port=live.port,
        database=live.db,
        password=live.key("accountant", readonly=True),
    )
    orders = connection.get_model("sale.order")
    rows = orders.search_read(domain=[], fields=["name", "state"], limit=4)
    assert len(rows) == 4 and set(rows[0]) == {"id", "name", "state"}


def test_odoolib_json2_readonly_key_cannot_write(live: Live) -> None:
    connection = odoolib.get_connection(
        hostname="localhost",
        protocol="json2",
        port=live.port,
        database=live.db,
        password=live.key("sales", readonly=True),
    )
    partners = connection.get_model("res.partner")
    with pytest.raises(ValueError, match="403"):
        partners.create(vals_list=[{"name": "Not allowed"}])
