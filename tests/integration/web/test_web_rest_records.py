"""REST on records: list, read, create, update and delete, each as the key's user and no more."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_site import RestSite, rest_site

LTD, GMBH = "Bastion Demo Ltd", "Bastion Demo GmbH"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RestSite]:
    with rest_site(tmp_path_factory.mktemp("rest"), str(request.param)) as made:
        yield made


@pytest.fixture(scope="module")
def manager(site: RestSite) -> str:
    """A read-write key of the sales manager of the first company."""
    return site.key("salesmanager")


def first(site: RestSite, model: str, domain: list[Any]) -> int:
    found = site.system(model, "search", domain, limit=1, order="id")
    assert found, (model, domain)
    return int(found[0])


def order_of(site: RestSite, company: str, state: str = "draft") -> int:
    return first(site, "sale.order", [("company_id.name", "=", company), ("state", "=", state)])


def partner_of(site: RestSite, company: str) -> int:
    return first(
        site, "res.partner", [("company_id.name", "=", company), ("is_company", "=", True)]
    )


def new_order(site: RestSite, key: str, **values: Any) -> int:
    body = {"partner_id": partner_of(site, LTD), **values}
    response = site.request("POST", "/api/v1/sale.order", key, json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


# -- list ---------------------------------------------------------------------------------


def test_list_returns_the_fields_asked_for(site: RestSite, manager: str) -> None:
    response = site.request("GET", "/api/v1/res.partner?fields=name,email&limit=3", manager)
    assert response.status_code == 200
    body = response.json()
    assert body["limit"] == 3 and body["offset"] == 0
    assert len(body["records"]) == 3
    assert all(set(r) == {"id", "name", "email"} for r in body["records"])


def test_list_without_fields_returns_every_readable_field(site: RestSite, manager: str) -> None:
    response = site.request("GET", "/api/v1/sale.order?limit=1", manager)
    record = response.json()["records"][0]
    assert {"name", "partner_id", "amount_total", "order_line", "date_order"} <= set(record)


def test_list_pages_with_offset_and_order(site: RestSite, manager: str) -> None:
    base = "/api/v1/res.partner?fields=name&order=name desc, id"
    every = [r["id"] for r in site.request("GET", base + "&limit=6", manager).json()["records"]]
    page = site.request("GET", base + "&limit=3&offset=3", manager).json()["records"]
    assert [r["id"] for r in page] == every[3:6]


def test_list_defaults_to_80_records(site: RestSite, manager: str) -> None:
    body = site.request("GET", "/api/v1/sale.order?fields=name", manager).json()
    assert body["limit"] == 80 and len(body["records"]) == 80


def test_list_filters_with_a_domain(site: RestSite, manager: str) -> None:
    oid = order_of(site, LTD)
    name = site.system("sale.order", "read", [oid], ["name"])[0]["name"]
    domain = f'[["name", "=", "{name}"]]'
    response = site.request("GET", "/api/v1/sale.order", manager, params={"domain": domain})
    assert [r["id"] for r in response.json()["records"]] == [oid]


def test_list_shows_only_the_companys_orders(site: RestSite, manager: str) -> None:
    response = site.request("GET", "/api/v1/sale.order?fields=company_id&limit=1000", manager)
    companies = {r["company_id"][1] for r in response.json()["records"]}
    assert companies == {LTD}


def test_list_of_a_salesperson_shows_only_their_own_orders(site: RestSite) -> None:
    key = site.key("sales")
    response = site.request("GET", "/api/v1/sale.order?fields=user_id&limit=1000", key)
    assert response.status_code == 200
    assert {r["user_id"][0] for r in response.json()["records"]} == {site.uid("sales")}


# -- read ---------------------------------------------------------------------------------


def test_get_returns_the_record_with_exact_amounts(site: RestSite, manager: str) -> None:
    oid = order_of(site, LTD)
    stored = site.system("sale.order", "read", [oid], ["amount_total", "date_order"])[0]
    response = site.request("GET", f"/api/v1/sale.order/{oid}", manager)
    assert response.status_code == 200
    record = response.json()
    assert record["id"] == oid
    assert f'"amount_total":{stored["amount_total"]:f}' in response.text  # digits, not a float
    assert record["date_order"] == stored["date_order"].strftime("%Y-%m-%d %H:%M:%S")
    assert isinstance(record["partner_id"], list) and len(record["partner_id"]) == 2


def test_get_with_fields_returns_only_those(site: RestSite, manager: str) -> None:
    oid = order_of(site, LTD)
    response = site.request("GET", f"/api/v1/sale.order/{oid}?fields=name,display_name", manager)
    assert set(response.json()) == {"id", "name", "display_name"}


def test_get_finds_an_archived_record(site: RestSite, manager: str) -> None:
    pid = site.system("res.partner", "create", {"name": "Archived Ltd", "active": False})
    response = site.request("GET", f"/api/v1/res.partner/{pid}", manager)
    assert response.status_code == 200 and response.json()["active"] is False


def test_get_of_a_missing_record_is_404(site: RestSite, manager: str) -> None:
    response = site.request("GET", "/api/v1/sale.order/2147483647", manager)
    assert response.status_code == 404
    assert response.json()["error"] == "missing"


# -- create, update, delete ---------------------------------------------------------------


def test_create_answers_201_with_the_id_and_its_location(site: RestSite, manager: str) -> None:
    response = site.request(
        "POST", "/api/v1/res.partner", manager, json={"name": "Created by REST", "city": "Leeds"}
    )
    assert response.status_code == 201
    pid = response.json()["id"]
    assert response.headers["location"] == f"/api/v1/res.partner/{pid}"
    record = site.request("GET", response.headers["location"], manager).json()
    assert (record["name"], record["city"]) == ("Created by REST", "Leeds")


def test_create_with_lines_uses_commands(site: RestSite, manager: str) -> None:
    product = first(site, "product.product", [])
    line = {"product_id": product, "product_uom_qty": 2}
    oid = new_order(site, manager, order_line=[[0, 0, line]])
    record = site.request("GET", f"/api/v1/sale.order/{oid}", manager).json()
    assert len(record["order_line"]) == 1
    assert record["user_id"][0] == site.uid("salesmanager")


def test_patch_changes_only_the_fields_sent(site: RestSite, manager: str) -> None:
    oid = new_order(site, manager, client_order_ref="PO-1", note="keep")
    response = site.request(
        "PATCH", f"/api/v1/sale.order/{oid}", manager, json={"client_order_ref": "PO-2"}
    )
    assert response.status_code == 204 and response.content == b""
    stored = site.system("sale.order", "read", [oid], ["client_order_ref", "note"])[0]
    assert (stored["client_order_ref"], stored["note"]) == ("PO-2", "keep")


def test_amounts_are_written_as_numbers_or_decimal_text_and_read_exactly(
    site: RestSite, manager: str
) -> None:
    for sent, shown in ((19.99, "19.99"), ("1234567890123.45", "1234567890123.45"), (7, "7.00")):
        response = site.request(
            "POST", "/api/v1/product.product", manager, json={"name": "Priced", "list_price": sent}
        )
        assert response.status_code == 201, response.text
        read = site.request("GET", response.headers["location"] + "?fields=list_price", manager)
        assert f'"list_price":{shown}' in read.text


def test_put_changes_the_record_like_patch(site: RestSite, manager: str) -> None:
    oid = new_order(site, manager)
    response = site.request("PUT", f"/api/v1/sale.order/{oid}", manager, json={"note": "put"})
    assert response.status_code == 204
    assert site.system("sale.order", "read", [oid], ["note"])[0]["note"] == "put"


def test_delete_removes_the_record(site: RestSite, manager: str) -> None:
    oid = new_order(site, manager)
    response = site.request("DELETE", f"/api/v1/sale.order/{oid}", manager)
    assert response.status_code == 204
    assert site.request("GET", f"/api/v1/sale.order/{oid}", manager).status_code == 404
    assert site.system("sale.order", "search", [("id", "=", oid)]) == []


def test_delete_refused_by_a_business_rule_is_409(site: RestSite, manager: str) -> None:
    oid = order_of(site, LTD, state="sale")
    response = site.request("DELETE", f"/api/v1/sale.order/{oid}", manager)
    assert response.status_code == 409 and response.json()["error"] == "user"
    assert site.system("sale.order", "search", [("id", "=", oid)]) == [oid]


def test_create_with_wrong_values_is_422_and_changes_nothing(site: RestSite, manager: str) -> None:
    before = site.system("res.partner", "search_count", [])
    for body in (
        {"name": 5},
        {"nope": 1},
        {"id": 7, "name": "x"},
        {"create_uid": 1},
        {"name": ""},
        {"email": "a\x00b", "name": "NUL"},
    ):
        response = site.request("POST", "/api/v1/res.partner", manager, json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"] == "validation"
    assert site.system("res.partner", "search_count", []) == before


def test_create_pointing_at_a_missing_record_is_422(site: RestSite, manager: str) -> None:
    response = site.request("POST", "/api/v1/sale.order", manager, json={"partner_id": 2**31 - 1})
    assert response.status_code == 422


# -- a read-only key ----------------------------------------------------------------------


def test_read_only_key_reads(site: RestSite) -> None:
    key = site.key("salesmanager", readonly=True)
    oid = order_of(site, LTD)
    assert site.request("GET", f"/api/v1/sale.order/{oid}", key).status_code == 200
    assert site.request("GET", "/api/v1/sale.order", key).status_code == 200


def test_read_only_key_cannot_create_update_or_delete(site: RestSite, manager: str) -> None:
    key = site.key("salesmanager", readonly=True)
    oid = new_order(site, manager, note="untouched")
    before = site.system("sale.order", "search_count", [])
    attempts = [
        ("POST", "/api/v1/sale.order", {"partner_id": partner_of(site, LTD)}),
        ("PATCH", f"/api/v1/sale.order/{oid}", {"note": "changed"}),
        ("PUT", f"/api/v1/sale.order/{oid}", {"note": "changed"}),
        ("DELETE", f"/api/v1/sale.order/{oid}", None),
    ]
    for method, path, body in attempts:
        response = site.request(method, path, key, json=body)
        assert response.status_code == 403, (method, response.text)
        assert response.json()["error"] == "access"
    assert site.system("sale.order", "search_count", []) == before
    assert site.system("sale.order", "read", [oid], ["note"])[0]["note"] == "untouched"


# -- a key scoped to some models ----------------------------------------------------------


def test_key_scoped_to_partners_reads_partners(site: RestSite) -> None:
    key = site.key("salesmanager", models=("res.partner",))
    assert site.request("GET", "/api/v1/res.partner?limit=1", key).status_code == 200


def test_key_scoped_to_partners_cannot_read_sale_orders(site: RestSite) -> None:
    key = site.key("salesmanager", models=("res.partner",))
    oid = order_of(site, LTD)
    for path in ("/api/v1/sale.order", f"/api/v1/sale.order/{oid}"):
        response = site.request("GET", path, key)
        assert response.status_code == 403
        assert response.json() == {
            "error": "access",
            "message": "This API key does not allow reading 'sale.order'.",
        }


# -- record rules: another company, another salesperson ----------------------------------


def test_order_of_the_managers_company_is_reachable(site: RestSite, manager: str) -> None:
    oid = order_of(site, LTD)
    assert site.request("GET", f"/api/v1/sale.order/{oid}", manager).status_code == 200
    response = site.request("PATCH", f"/api/v1/sale.order/{oid}", manager, json={"note": "ok"})
    assert response.status_code == 204


def test_order_of_another_company_is_not_found(site: RestSite, manager: str) -> None:
    oid = order_of(site, GMBH)
    before = site.system("sale.order", "read", [oid], ["note"])[0]["note"]
    for method, body in (("GET", None), ("PATCH", {"note": "x"}), ("DELETE", None)):
        response = site.request(method, f"/api/v1/sale.order/{oid}", manager, json=body)
        # Exactly the answer of a record that does not exist: its existence does not show.
        assert response.status_code == 404, method
        assert (
            response.json()
            == site.request(method, "/api/v1/sale.order/2147483647", manager, json=body).json()
        )
    assert site.system("sale.order", "read", [oid], ["note"])[0]["note"] == before
    assert site.system("sale.order", "search", [("id", "=", oid)]) == [oid]


def test_record_readable_but_not_writable_is_403(site: RestSite) -> None:
    key = site.key("accountant")  # reads every order of the company, changes none
    oid = order_of(site, LTD)
    assert site.request("GET", f"/api/v1/sale.order/{oid}", key).status_code == 200
    response = site.request("PATCH", f"/api/v1/sale.order/{oid}", key, json={"note": "no"})
    assert response.status_code == 403


# -- field groups -------------------------------------------------------------------------


def test_hr_officer_reads_private_fields(site: RestSite) -> None:
    key = site.key("hr")
    eid = first(site, "hr.employee", [("company_id.name", "=", LTD)])
    response = site.request("GET", f"/api/v1/hr.employee/{eid}", key)
    assert response.status_code == 200 and "salary" in response.json()


def test_others_do_not_see_private_fields(site: RestSite) -> None:
    key = site.key("employee")
    eid = first(site, "hr.employee", [("user_id.login", "=", "employee")])
    response = site.request("GET", f"/api/v1/hr.employee/{eid}", key)
    assert response.status_code == 200 and "salary" not in response.json()
    asked = site.request("GET", f"/api/v1/hr.employee/{eid}?fields=name,salary", key)
    assert asked.status_code == 403
    listed = site.request("GET", "/api/v1/hr.employee?order=salary desc", key)
    assert listed.status_code == 403
