"""The records UI in a real browser: lists, search, pages, forms, the many2one picker, delete.

Signed in as the demo salesperson (own orders only; may create and change contacts but not
delete them) and the plain employee (no sales orders at all).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from conftest import Site

SALES = "sales"
EMPLOYEE = "employee"
DASH = "\u2013"  # the en dash between the first and last row numbers
CONTACTS = "/web/records/res.partner"
ROWS = '[data-testid="records-row"]'
SEARCH = "Northwind"


def _count(page: Page) -> str:
    return page.get_by_test_id("records-count").inner_text().strip()


def _pick(page: Page, field: str, text: str) -> str:
    """Find `text` with a many2one picker's search box and choose the first match."""
    page.get_by_test_id(f"picker-search-{field}").fill(text)
    select = page.get_by_test_id(f"picker-{field}")
    page.wait_for_function(
        "([el, text]) => el.getAttribute('data-loaded') === text && el.options.length > 1",
        arg=[select.element_handle(), text],
    )
    options = select.locator("option")
    for i in range(options.count()):
        label = options.nth(i).inner_text()
        if text.lower() in label.lower():
            select.select_option(label=label)
            return label
    raise AssertionError(f"the picker found nothing for {text!r}")


def test_records_salesperson_searches_pages_and_edits_a_contact(page: Page, site: Site) -> None:
    site.login(page, SALES)
    page.goto("/web")
    with page.expect_navigation():
        page.get_by_test_id("records-link").click()
    assert page.locator('a[data-model="sale.order"]').count() == 1
    with page.expect_navigation():
        page.locator('a[data-model="res.partner"]').click()
    assert site.path(page) == CONTACTS
    total = int(_count(page).split(" of ")[1])
    assert _count(page) == f"1{DASH}80 of {total}" and page.locator(ROWS).count() == 80

    with page.expect_navigation():
        page.get_by_test_id("records-next").click()
    assert _count(page) == f"81{DASH}160 of {total}"
    with page.expect_navigation():
        page.get_by_test_id("records-prev").click()
    assert _count(page).startswith(f"1{DASH}80")

    page.locator("input[name=q]").fill(SEARCH)
    with page.expect_navigation():
        page.get_by_test_id("records-search-submit").click()
    names = page.locator(f"{ROWS} td:first-child").all_inner_texts()
    assert names and all(SEARCH.lower() in n.lower() for n in names)
    assert int(_count(page).split(" of ")[1]) < total

    with page.expect_navigation():
        page.locator(f"{ROWS} td:first-child a").first.click()
    assert re.fullmatch(rf"{CONTACTS}/\d+", site.path(page)), page.url
    page.locator("input[name=function]").fill("Head of Records")
    site.submit(page, '[data-testid="record-form"]')
    assert page.get_by_test_id("flash").inner_text() == "Changes saved."
    assert page.locator("input[name=function]").input_value() == "Head of Records"
    # Contacts are not the salesperson's to delete: the button is not offered.
    assert page.get_by_test_id("record-delete").count() == 0


def test_records_salesperson_creates_a_contact_with_a_parent_company(
    page: Page, site: Site
) -> None:
    site.login(page, SALES)
    page.goto(CONTACTS)
    with page.expect_navigation():
        page.get_by_test_id("records-new").click()
    assert site.path(page) == f"{CONTACTS}/new"
    page.locator("input[name=name]").fill("Robin Records")
    page.locator("input[name=email]").fill("robin@records.example")
    parent = _pick(page, "parent_id", SEARCH)
    site.submit(page, '[data-testid="record-form"]')
    assert page.get_by_test_id("flash").inner_text() == "Record created."
    assert page.get_by_test_id("record-title").inner_text() == "Robin Records"
    chosen = page.get_by_test_id("picker-parent_id").locator("option:checked").inner_text()
    assert chosen == parent


def test_records_form_refused_keeps_what_was_typed(page: Page, site: Site) -> None:
    site.login(page, SALES)
    page.goto(f"{CONTACTS}/new")
    page.locator("input[name=city]").fill("Typed Town")
    site.submit(page, '[data-testid="record-form"]')  # no name: the ORM refuses it
    assert "is required" in site.error_text(page)
    assert page.locator("input[name=city]").input_value() == "Typed Town"


def test_records_salesperson_creates_and_deletes_a_quotation(page: Page, site: Site) -> None:
    site.login(page, SALES)
    page.goto("/web/records/sale.order/new")
    _pick(page, "partner_id", SEARCH)
    page.locator("input[name=client_order_ref]").fill("E2E-QUOTE")
    site.submit(page, '[data-testid="record-form"]')
    assert page.get_by_test_id("flash").inner_text() == "Record created."
    title = page.get_by_test_id("record-title").inner_text()
    assert re.fullmatch(r"S\d{5}", title), title

    with page.expect_navigation():
        page.get_by_test_id("record-delete").click()
    site.submit(page, '[data-testid="delete-form"]')
    assert site.path(page) == "/web/records/sale.order"
    assert page.get_by_test_id("flash").inner_text() == "Record deleted."
    page.locator("input[name=q]").fill(title)
    with page.expect_navigation():
        page.get_by_test_id("records-search-submit").click()
    assert page.locator(ROWS).count() == 0


def test_records_contact_delete_refused_for_a_salesperson(page: Page, site: Site) -> None:
    site.login(page, SALES)
    page.goto(CONTACTS)
    href = page.locator(f"{ROWS} td:first-child a").first.get_attribute("href")
    response = page.goto(f"{href}/delete")
    assert response is not None and response.status == 403
    assert "not allowed to unlink" in page.get_by_test_id("error-message").inner_text()


def test_records_plain_employee_does_not_see_the_sales_orders(page: Page, site: Site) -> None:
    site.login(page, EMPLOYEE)
    page.goto("/web/records")
    assert page.locator('a[data-model="res.partner"]').count() == 1
    assert page.locator('a[data-model="sale.order"]').count() == 0
    response = page.goto("/web/records/sale.order")
    assert response is not None and response.status == 403
    assert page.get_by_test_id("error-message").inner_text()
