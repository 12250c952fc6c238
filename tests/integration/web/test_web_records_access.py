"""The records UI applies model access, record rules and field groups of the signed-in user.

Every allowed case has its denied twin, on the demo roles: salesperson (own orders only),
sales manager (every order of the company), accountant (reads orders, changes none), HR
officer (private employee fields), plain employee.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from records_site import RecordsSite, count_on, demo_source, ids_on

from support.web_client import WebClient, csrf_of


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_source(tmp_path_factory.mktemp("records-access"))


@pytest.fixture
def site(source: Path, tmp_path: Path) -> Iterator[RecordsSite]:
    yield RecordsSite.copy_of(source, tmp_path / "var")


def _orders_of(site: RecordsSite, login: str | None, company: int = 1) -> set[int]:
    domain: list[object] = [("company_id", "=", company)]
    if login is not None:
        domain.append(("user_id", "=", site.uid(login)))
    with site.system() as env:
        return set(env["sale.order"].search(domain))


def _all_ids(web: WebClient, model: str) -> list[int]:
    """Every id a list shows, page after page."""
    ids: list[int] = []
    page = 1
    while True:
        answer = web.get(f"/web/records/{model}?page={page}")
        assert answer.status_code == 200
        found = ids_on(answer, model)
        ids += found
        if 'rel="next"' not in answer.text:
            return ids
        page += 1


# -- the menu -----------------------------------------------------------------------------------


def test_menu_offers_sales_orders_to_a_salesperson(site: RecordsSite) -> None:
    with site.client("sales") as web:
        menu = web.get("/web/records")
        assert menu.status_code == 200
        assert 'href="/web/records/sale.order"' in menu.text
        assert 'href="/web/records/res.partner"' in menu.text


def test_menu_hides_sales_orders_from_a_plain_employee(site: RecordsSite) -> None:
    with site.client("employee") as web:
        menu = web.get("/web/records")
        assert menu.status_code == 200
        assert 'href="/web/records/sale.order"' not in menu.text
        assert 'href="/web/records/sale.order.line"' not in menu.text
        assert 'href="/web/records/ir.rule"' not in menu.text
        assert 'href="/web/records/res.partner"' in menu.text


def test_home_links_to_the_records_menu(site: RecordsSite) -> None:
    with site.client("employee") as web:
        assert 'href="/web/records"' in web.get("/web").text


# -- record rules on lists and forms ----------------------------------------------------------


def test_order_list_shows_a_salesperson_only_their_own_orders(site: RecordsSite) -> None:
    own = _orders_of(site, "sales")
    assert own and own != _orders_of(site, None)
    with site.client("sales") as web:
        shown = _all_ids(web, "sale.order")
    assert sorted(shown) == sorted(own)


def test_order_list_shows_the_manager_every_order_of_the_company(site: RecordsSite) -> None:
    every = _orders_of(site, None)
    with site.client("salesmanager") as web:
        shown = _all_ids(web, "sale.order")
        assert count_on(web.get("/web/records/sale.order")).endswith(f"of {len(every)}")
    assert sorted(shown) == sorted(every)


def test_order_of_another_salesperson_is_refused_with_a_403_page(site: RecordsSite) -> None:
    other = min(
        _orders_of(site, "salesmanager") or _orders_of(site, None) - _orders_of(site, "sales")
    )
    with site.client("sales") as web:
        answer = web.get(f"/web/records/sale.order/{other}", headers={"accept": "text/html"})
    assert answer.status_code == 403
    assert "Access denied" in answer.text
    assert "record rule restricts them" in answer.text
    assert "Traceback" not in answer.text


def test_own_order_opens_for_the_salesperson(site: RecordsSite) -> None:
    own = min(_orders_of(site, "sales"))
    with site.client("sales") as web:
        answer = web.get(f"/web/records/sale.order/{own}")
    assert answer.status_code == 200
    assert 'data-testid="record-form"' in answer.text


def test_missing_record_is_a_404_page(site: RecordsSite) -> None:
    with site.client("sales") as web:
        answer = web.get("/web/records/sale.order/999999")
        unknown = web.get("/web/records/no.such.model")
    assert answer.status_code == 404 and "does not exist" in answer.text
    assert unknown.status_code == 404 and "There is no model named" in unknown.text


# -- field groups ---------------------------------------------------------------------------------


def _employee_of(site: RecordsSite, login: str) -> int:
    uid = site.uid(login)
    with site.system() as env:
        found: list[int] = env["hr.employee"].search([("user_id", "=", uid)])
    return found[0]


PRIVATE = ("salary", "bank_account", "identification_id", "private_email", "birthday")


def test_private_employee_fields_are_not_rendered_for_a_plain_employee(site: RecordsSite) -> None:
    own = _employee_of(site, "employee")
    with site.system() as env:
        (secret,) = env["hr.employee"].read([own], ["bank_account", "private_email"])
    with site.client("employee") as web:
        form = web.get(f"/web/records/hr.employee/{own}")
        listing = web.get("/web/records/hr.employee")
    assert form.status_code == 200
    for name in PRIVATE:
        assert f'data-field="{name}"' not in form.text
    assert "Monthly salary" not in form.text and "Bank account" not in form.text
    assert secret["bank_account"] not in form.text
    assert secret["private_email"] not in form.text
    assert "Monthly salary" not in listing.text


def test_private_employee_fields_are_rendered_for_an_hr_officer(site: RecordsSite) -> None:
    own = _employee_of(site, "employee")
    with site.system() as env:
        (secret,) = env["hr.employee"].read([own], ["bank_account"])
    with site.client("hr") as web:
        form = web.get(f"/web/records/hr.employee/{own}")
    assert form.status_code == 200
    for name in PRIVATE:
        assert f'data-field="{name}"' in form.text
    assert secret["bank_account"] in form.text


def test_plain_employee_cannot_open_a_colleagues_employee_record(site: RecordsSite) -> None:
    colleague = _employee_of(site, "sales")
    with site.client("employee") as web:
        assert web.get(f"/web/records/hr.employee/{colleague}").status_code == 403


def test_sorting_by_a_hidden_field_is_ignored(site: RecordsSite) -> None:
    with site.client("employee") as web:
        hidden = web.get("/web/records/hr.employee?sort=salary&desc=1")
    with site.client("hr") as web:
        allowed = web.get("/web/records/hr.employee?sort=salary&desc=1")
    assert hidden.status_code == 200 and 'data-sort="salary"' not in hidden.text
    assert allowed.status_code == 200 and 'aria-sort="descending"' in allowed.text


# -- create, edit, delete by role ------------------------------------------------------------


def _token(page_text: str) -> str:
    return csrf_of(page_text)


def test_sales_manager_creates_a_product(site: RecordsSite) -> None:
    with site.client("salesmanager") as web:
        answer = web.form(
            "/web/records/product.product/new",
            "/web/records/product.product/new",
            {"name": "Records UI Widget", "list_price": "12.50", "type": "consu", "sale_ok": "1"},
        )
    assert answer.status_code == 200 and "Record created." in answer.text
    with site.system() as env:
        (made,) = env["product.product"].search_read(
            [("name", "=", "Records UI Widget")], ["list_price", "create_uid"]
        )
    assert str(made["list_price"]) == "12.50"
    assert made["create_uid"][0] == site.uid("salesmanager")


def test_plain_employee_is_refused_creating_a_product(site: RecordsSite) -> None:
    with site.client("employee") as web:
        form = web.get("/web/records/product.product/new")
        token = _token(web.get("/web/records/product.product").text)
        posted = web.post(
            "/web/records/product.product/new",
            {"csrf_token": token, "name": "Records UI Widget", "type": "consu"},
        )
        listing = web.get("/web/records/product.product")
    assert form.status_code == 403 and "not allowed to create" in form.text
    assert posted.status_code == 403 and "not allowed to create" in posted.text
    assert 'data-testid="records-new"' not in listing.text
    with site.system() as env:
        assert not env["product.product"].search([("name", "=", "Records UI Widget")])


def test_salesperson_edits_their_own_order(site: RecordsSite) -> None:
    own = min(_orders_of(site, "sales"))
    url = f"/web/records/sale.order/{own}"
    with site.client("sales") as web:
        answer = web.form(url, url, {"client_order_ref": "PO-RECORDS-UI"})
    assert answer.status_code == 200 and "Changes saved." in answer.text
    assert 'value="PO-RECORDS-UI"' in answer.text
    with site.system() as env:
        (order,) = env["sale.order"].read([own], ["client_order_ref", "partner_id"])
    assert order["client_order_ref"] == "PO-RECORDS-UI"
    assert order["partner_id"]  # fields not posted are left alone


def test_accountant_is_refused_editing_an_order(site: RecordsSite) -> None:
    own = min(_orders_of(site, "sales"))
    url = f"/web/records/sale.order/{own}"
    with site.client("accountant") as web:
        page = web.get(url)
        answer = web.post(url, {"csrf_token": _token(page.text), "client_order_ref": "PO-HACK"})
    assert page.status_code == 200
    assert 'data-testid="record-view"' in page.text and "<input id=" not in page.text
    assert answer.status_code == 403 and "not allowed to write" in answer.text
    with site.system() as env:
        (order,) = env["sale.order"].read([own], ["client_order_ref"])
    assert order["client_order_ref"] != "PO-HACK"


def test_salesperson_is_refused_editing_another_salespersons_order(site: RecordsSite) -> None:
    other = min(_orders_of(site, None) - _orders_of(site, "sales"))
    own = min(_orders_of(site, "sales"))
    with site.client("sales") as web:
        token = _token(web.get(f"/web/records/sale.order/{own}").text)
        answer = web.post(
            f"/web/records/sale.order/{other}", {"csrf_token": token, "client_order_ref": "X"}
        )
    assert answer.status_code == 403
    with site.system() as env:
        (order,) = env["sale.order"].read([other], ["client_order_ref"])
    assert order["client_order_ref"] != "X"


def test_sales_manager_deletes_a_product(site: RecordsSite) -> None:
    with site.system() as env:
        product = env["product.product"].create({"name": "Doomed product"})
    url = f"/web/records/product.product/{product}"
    with site.client("salesmanager") as web:
        page = web.get(url)
        confirm = web.get(f"{url}/delete")
        answer = web.post(f"{url}/delete", {"csrf_token": _token(confirm.text)})
    assert 'data-testid="record-delete"' in page.text
    assert confirm.status_code == 200 and "Doomed product" in confirm.text
    assert answer.status_code == 200 and "Record deleted." in answer.text
    assert answer.url.path == "/web/records/product.product"
    with site.system() as env:
        assert not env["product.product"].search([("id", "=", product)])


def test_salesperson_is_refused_deleting_a_product(site: RecordsSite) -> None:
    with site.system() as env:
        product = env["product.product"].create({"name": "Kept product"})
    url = f"/web/records/product.product/{product}"
    with site.client("sales") as web:
        page = web.get(url)
        confirm = web.get(f"{url}/delete")
        answer = web.post(f"{url}/delete", {"csrf_token": _token(page.text)})
    assert 'data-testid="record-delete"' not in page.text
    assert confirm.status_code == 403
    assert answer.status_code == 403 and "not allowed to unlink" in answer.text
    with site.system() as env:
        assert env["product.product"].search([("id", "=", product)])


def test_confirmed_order_delete_is_refused_with_the_reason(site: RecordsSite) -> None:
    uid = site.uid("sales")
    with site.system() as env:
        (order,) = env["sale.order"].search(
            [("user_id", "=", uid), ("state", "=", "sale")], limit=1
        )
    url = f"/web/records/sale.order/{order}"
    with site.client("sales") as web:
        answer = web.post(f"{url}/delete", {"csrf_token": _token(web.get(url).text)})
    assert answer.status_code == 400 and 'data-testid="error-message"' in answer.text
    with site.system() as env:
        assert env["sale.order"].search([("id", "=", order)])


# -- every page of every model, for every kind of user: a page or a clear refusal -------------


def _open_admin_without_mfa(site: RecordsSite) -> None:
    """Let the administrator in without enrolling (its group asks for a second factor)."""
    with site.system() as env:
        groups = env["res.groups"].search([("mfa_required", "=", True)])
        env["res.groups"].write(groups, {"mfa_required": False})


@pytest.mark.parametrize("login", ["root", "sales", "employee", "hr", "accountant"])
def test_every_model_page_answers_with_a_page_or_a_clear_refusal(
    site: RecordsSite, login: str
) -> None:
    _open_admin_without_mfa(site)
    with site.client(login) as web:
        menu = web.get("/web/records")
        models = re.findall(r'data-model="([a-z0-9_.]+)"', menu.text)
        assert models
        for model in models:
            listing = web.get(f"/web/records/{model}")
            assert listing.status_code == 200, (model, listing.text[-500:])
            new = web.get(f"/web/records/{model}/new")
            assert new.status_code in {200, 403}, (model, new.status_code)
            ids = ids_on(listing, model)
            if ids:
                form = web.get(f"/web/records/{model}/{ids[0]}")
                assert form.status_code == 200, (model, form.text[-500:])
