"""XML-RPC through the app in-process: Odoo's fault codes, refused methods and types, hostile XML
(entity bombs, external entities, deep nesting, oversize) refused before anything runs."""

from __future__ import annotations

import xmlrpc.client
from pathlib import Path

import pytest

from support.rpc import PASSWORD, TENANT, RpcSite, demo_template, server_proxy

XML = {"content-type": "text/xml"}


@pytest.fixture
def site(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> RpcSite:
    return RpcSite.copy_of(demo_template(tmp_path_factory), tmp_path)


def call_xml(method: str, *params: object) -> bytes:
    return xmlrpc.client.dumps(params, method).encode()


def fault_of(body: bytes) -> xmlrpc.client.Fault:
    with pytest.raises(xmlrpc.client.Fault) as info:
        xmlrpc.client.loads(body)
    return info.value


def test_version_and_server_version_answer_without_credentials(site: RpcSite) -> None:
    with site.web() as web:
        assert server_proxy(web, "/xmlrpc/2/common").version()["server_version"] == "17.0"
        assert server_proxy(web, "/xmlrpc/2/db").server_version() == "17.0"


def test_authenticate_with_the_password_returns_the_uid(site: RpcSite) -> None:
    with site.web() as web:
        common = server_proxy(web, "/xmlrpc/2/common")
        assert common.authenticate(TENANT, "sales", PASSWORD, {}) == site.uid("sales")


def test_authenticate_with_a_wrong_password_returns_false(site: RpcSite) -> None:
    with site.web() as web:
        common = server_proxy(web, "/xmlrpc/2/common")
        assert common.authenticate(TENANT, "sales", "not the password at all", {}) is False


def test_password_of_an_account_that_must_use_a_second_factor_is_access_denied(
    site: RpcSite,
) -> None:
    with site.web() as web:
        common = server_proxy(web, "/xmlrpc/2/common")
        with pytest.raises(xmlrpc.client.Fault) as info:
            common.authenticate(TENANT, "admin", PASSWORD, {})
        assert info.value.faultCode == 3
        assert "API key" in info.value.faultString
        assert common.authenticate(TENANT, "admin", site.key("admin"), {}) == site.uid("admin")


def test_object_call_runs_as_the_user(site: RpcSite) -> None:
    uid = site.uid("sales")
    with site.web() as web:
        models = server_proxy(web, "/xmlrpc/2/object")
        orders = models.execute_kw(
            TENANT, uid, PASSWORD, "sale.order", "search_read", [[]], {"fields": ["user_id"]}
        )
        assert orders and {o["user_id"][0] for o in orders} == {uid}


def test_object_call_with_a_wrong_password_is_access_denied(site: RpcSite) -> None:
    with site.web() as web:
        models = server_proxy(web, "/xmlrpc/2/object")
        with pytest.raises(xmlrpc.client.Fault) as info:
            models.execute_kw(TENANT, site.uid("sales"), "wrong", "res.partner", "search", [[]])
        assert (info.value.faultCode, info.value.faultString) == (3, "Wrong login or password.")


def test_object_call_with_a_uid_that_is_not_the_keys_owner_is_access_denied(
    site: RpcSite,
) -> None:
    key = site.key("sales")
    with site.web() as web:
        models = server_proxy(web, "/xmlrpc/2/object")
        assert models.execute_kw(TENANT, site.uid("sales"), key, "res.partner", "search", [[]])
        with pytest.raises(xmlrpc.client.Fault) as info:
            models.execute_kw(TENANT, site.uid("hr"), key, "res.partner", "search", [[]])
        assert info.value.faultCode == 3


def test_object_call_with_an_unknown_uid_is_access_denied(site: RpcSite) -> None:
    with site.web() as web:
        models = server_proxy(web, "/xmlrpc/2/object")
        with pytest.raises(xmlrpc.client.Fault) as info:
            models.execute_kw(TENANT, 999_999, PASSWORD, "res.partner", "search", [[]])
        assert (info.value.faultCode, info.value.faultString) == (3, "Wrong login or password.")


@pytest.mark.parametrize(
    "method", ["_prepare_create", "rpc_methods", "__init__", "with_context", "action_confirm"]
)
def test_private_and_unlisted_methods_are_refused_with_access_error(
    site: RpcSite, method: str
) -> None:
    before = site.snapshot()
    with site.web() as web:
        models = server_proxy(web, "/xmlrpc/2/object")
        with pytest.raises(xmlrpc.client.Fault) as info:
            models.execute_kw(TENANT, site.uid("sales"), PASSWORD, "res.partner", method, [[1]])
        assert info.value.faultCode == 4
        assert "cannot be called remotely" in info.value.faultString
    assert site.snapshot() == before


def test_an_allow_listed_method_of_another_model_is_callable(site: RpcSite) -> None:
    """The twin of the refusal above: action_confirm is on sale.order's list."""
    key = site.key("admin")
    with site.web() as web:
        models = server_proxy(web, "/xmlrpc/2/object")
        uid = site.uid("admin")
        [order] = models.execute_kw(
            TENANT, uid, key, "sale.order", "search", [[["state", "=", "draft"]]], {"limit": 1}
        )
        models.execute_kw(TENANT, uid, key, "sale.order", "action_confirm", [[order]])
        [row] = models.execute_kw(TENANT, uid, key, "sale.order", "read", [[order], ["state"]])
        assert row["state"] != "draft"


@pytest.mark.parametrize(
    ("args", "kwargs", "words"),
    [
        ("not a list", {}, "arguments must be a list"),
        ([[]], ["not", "a", "dict"], "keyword arguments must be an object"),
        ([[]], {"limit": "ten"}, "limit"),
        ([[["name", "like"]]], {}, ""),
        ([[]], {"no_such_argument": 1}, "Wrong arguments"),
    ],
)
def test_wrong_types_are_a_validation_fault_and_change_nothing(
    site: RpcSite, args: object, kwargs: object, words: str
) -> None:
    before = site.snapshot()
    with site.web() as web:
        models = server_proxy(web, "/xmlrpc/2/object")
        with pytest.raises(xmlrpc.client.Fault) as info:
            models.execute_kw(
                TENANT, site.uid("sales"), PASSWORD, "res.partner", "search", args, kwargs
            )
        assert info.value.faultCode == 2
        assert words in info.value.faultString
        assert "Traceback" not in info.value.faultString
    assert site.snapshot() == before


def test_a_uid_that_is_not_a_number_is_a_validation_fault(site: RpcSite) -> None:
    with site.web() as web:
        models = server_proxy(web, "/xmlrpc/2/object")
        with pytest.raises(xmlrpc.client.Fault) as info:
            models.execute_kw(TENANT, "abc", PASSWORD, "res.partner", "search", [[]])
        assert info.value.faultCode == 2


def test_missing_record_is_a_missing_error_fault(site: RpcSite) -> None:
    key = site.key("admin")
    with site.web() as web:
        models = server_proxy(web, "/xmlrpc/2/object")
        with pytest.raises(xmlrpc.client.Fault) as info:
            models.execute_kw(TENANT, site.uid("admin"), key, "res.partner", "read", [[987_654]])
        assert info.value.faultCode == 2


def test_a_database_this_host_may_not_reach_is_access_denied(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    site = RpcSite.copy_of(demo_template(tmp_path_factory), tmp_path, dbfilter="^nothing$")
    with site.web() as web:
        common = server_proxy(web, "/xmlrpc/2/common")
        with pytest.raises(xmlrpc.client.Fault) as info:
            common.authenticate(TENANT, "sales", PASSWORD, {})
        assert info.value.faultCode == 3
        assert info.value.faultString == "This address serves no database of that name."


def test_an_unknown_database_is_access_denied(site: RpcSite) -> None:
    with site.web() as web:
        models = server_proxy(web, "/xmlrpc/2/object")
        with pytest.raises(xmlrpc.client.Fault) as info:
            models.execute_kw("nope", site.uid("sales"), PASSWORD, "res.partner", "search", [[]])
        assert info.value.faultCode == 3


def test_listing_databases_is_refused_by_default(site: RpcSite) -> None:
    with site.web() as web:
        with pytest.raises(xmlrpc.client.Fault) as info:
            server_proxy(web, "/xmlrpc/2/db").list()
        assert info.value.faultCode == 3


def test_listing_databases_answers_when_enabled(site: RpcSite) -> None:
    with site.web(list_db=True) as web:
        assert server_proxy(web, "/xmlrpc/2/db").list() == [TENANT]


@pytest.mark.parametrize("method", ["create_database", "drop", "dump", "change_admin_password"])
def test_database_management_is_refused(site: RpcSite, method: str) -> None:
    with site.web(list_db=True) as web:
        with pytest.raises(xmlrpc.client.Fault) as info:
            getattr(server_proxy(web, "/xmlrpc/2/db"), method)("admin", TENANT)
        assert info.value.faultCode == 3


def test_unknown_service_and_method_are_faults(site: RpcSite) -> None:
    with site.web() as web:
        for path, method in (("/xmlrpc/2/report", "render_report"), ("/xmlrpc/2/common", "x")):
            response = web.post(path, content=call_xml(method), headers=XML)
            assert response.status_code == 200
            assert fault_of(response.content).faultCode == 1


def test_legacy_endpoint_uses_odoo_string_fault_codes(site: RpcSite) -> None:
    with site.web() as web:
        models = server_proxy(web, "/xmlrpc/object")
        uid = site.uid("employee")
        with pytest.raises(xmlrpc.client.Fault) as info:
            models.execute_kw(TENANT, uid, PASSWORD, "sale.order", "search", [[]])
        assert str(info.value.faultCode).startswith("warning -- AccessError\n\n")
        with pytest.raises(xmlrpc.client.Fault) as info:
            models.execute_kw(TENANT, uid, "wrong", "sale.order", "search", [[]])
        assert info.value.faultCode == "AccessDenied"  # type: ignore[comparison-overlap]


def test_empty_values_come_back_as_false_and_dates_as_strings(site: RpcSite) -> None:
    uid = site.uid("sales")
    with site.web() as web:
        models = server_proxy(web, "/xmlrpc/2/object")
        [order] = models.execute_kw(
            TENANT, uid, PASSWORD, "sale.order", "search_read", [[]],
            {"fields": ["date_order", "validity_date", "note", "amount_total"], "limit": 1},
        )  # fmt: skip
        assert isinstance(order["date_order"], str) and len(order["date_order"]) == 19
        assert order["note"] is False or isinstance(order["note"], str)
        assert isinstance(order["amount_total"], float)


# -- hostile XML --------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<methodCall><methodName>execute_kw</methodName><params>
<param><value><string>demo</string></value></param>
<param><value><int>1</int></value></param>
<param><value><string>PASSWORD</string></value></param>
<param><value><string>res.partner</string></value></param>
<param><value><string>create</string></value></param>
<param><value><array><data><value><struct><member><name>name</name>
<value><string>&lol9;</string></value></member></struct></value></data></array></value></param>
</params></methodCall>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>execute_kw</methodName><params>
<param><value><string>demo</string></value></param>
<param><value><int>1</int></value></param>
<param><value><string>PASSWORD</string></value></param>
<param><value><string>res.partner</string></value></param>
<param><value><string>create</string></value></param>
<param><value><array><data><value><struct><member><name>name</name>
<value><string>&xxe;</string></value></member></struct></value></data></array></value></param>
</params></methodCall>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["bomb", "xxe"])
def test_entity_declarations_are_refused_and_change_nothing(site: RpcSite, body: bytes) -> None:
    body = body.replace(b"PASSWORD", PASSWORD.encode())
    before = site.snapshot()
    with site.web() as web:
        response = web.post("/xmlrpc/2/object", content=body, headers=XML)
    assert response.status_code == 400
    fault = fault_of(response.content)
    assert fault.faultCode == 1 and "document type declaration" in fault.faultString
    assert b"root:" not in response.content
    assert site.snapshot() == before


def test_the_same_call_without_entities_is_accepted(site: RpcSite) -> None:
    """The twin of the refusals above: a plain call of that shape creates the partner."""
    body = call_xml("execute_kw", TENANT, site.uid("sales"), PASSWORD, "res.partner", "create",
                    [{"name": "Plain"}])  # fmt: skip
    with site.web() as web:
        response = web.post("/xmlrpc/2/object", content=body, headers=XML)
    assert response.status_code == 200
    ((new_id,), _) = xmlrpc.client.loads(response.content)
    assert isinstance(new_id, int)


def nested_xml(depth: int) -> bytes:
    """A call whose one parameter is a list in a list in a list... `depth` times."""
    return (
        b"<methodCall><methodName>execute_kw</methodName><params><param><value>"
        + b"<array><data><value>" * depth
        + b"<int>1</int>"
        + b"</value></data></array>" * depth
        + b"</value></param></params></methodCall>"
    )


@pytest.mark.parametrize("depth", [41, 50_000])
def test_deep_nesting_is_refused_before_anything_runs(site: RpcSite, depth: int) -> None:
    with site.web() as web:
        response = web.post("/xmlrpc/2/object", content=nested_xml(depth), headers=XML)
    assert response.status_code == 400
    assert "deeper than 40" in fault_of(response.content).faultString


def test_nesting_within_the_limit_reaches_the_service(site: RpcSite) -> None:
    with site.web() as web:
        response = web.post("/xmlrpc/2/object", content=nested_xml(39), headers=XML)
    assert response.status_code == 200
    assert "takes (db, uid, password" in fault_of(response.content).faultString


def test_oversized_xml_is_refused(site: RpcSite) -> None:
    body = call_xml("version", "x" * (5 * 1024 * 1024))
    with site.web() as web:
        response = web.post("/xmlrpc/2/common", content=body, headers=XML)
    assert response.status_code == 413
    assert fault_of(response.content).faultCode == 1


@pytest.mark.parametrize(
    "body",
    [b"", b"not xml", b"<methodCall><methodName>x</methodName>", b"<a><b></a>",
     xmlrpc.client.dumps(xmlrpc.client.Fault(1, "x"), methodresponse=True).encode(),
     b"<methodCall><methodName>version</methodName><params><param><value><int>x</int>"
     b"</value></param></params></methodCall>"],
)  # fmt: skip
def test_a_body_that_is_not_an_xmlrpc_call_is_a_400_fault(site: RpcSite, body: bytes) -> None:
    with site.web() as web:
        response = web.post("/xmlrpc/2/common", content=body, headers=XML)
    assert response.status_code == 400
    fault = fault_of(response.content)
    assert fault.faultString == "The body is not an XML-RPC method call."
