"""The records UI's pages: search, filters, pagination, sort, forms that keep what was typed,
many2one pickers, CSRF and sign-in on every page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from records_site import ADMIN, RecordsSite, count_on, demo_source, ids_on

from support.web_client import csrf_of

DASH = "\u2013"  # the en dash between the first and last row numbers
CONTACTS = "/web/records/res.partner"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_source(tmp_path_factory.mktemp("records-pages"))


@pytest.fixture
def site(source: Path, tmp_path: Path) -> Iterator[RecordsSite]:
    yield RecordsSite.copy_of(source, tmp_path / "var")


def _names(page_text: str) -> list[str]:
    return re.findall(
        r'<tr data-testid="records-row">\s*<td><a href="[^"]+">([^<]*)</a>', page_text
    )


# -- sign-in ----------------------------------------------------------------------------------


def test_records_pages_send_a_visitor_to_sign_in(site: RecordsSite) -> None:
    with site.client() as web:
        answer = web.get(f"{CONTACTS}?q=acme")
    assert answer.url.path == "/web/login"
    assert answer.url.params["redirect"] == f"{CONTACTS}?q=acme"


def test_records_pages_open_for_a_signed_in_user(site: RecordsSite) -> None:
    with site.client("sales") as web:
        answer = web.get(f"{CONTACTS}?q=acme")
    assert answer.status_code == 200 and answer.url.path == CONTACTS


def test_records_pages_send_an_administrator_without_mfa_to_enrol(site: RecordsSite) -> None:
    with site.client(ADMIN) as web:
        answer = web.get(CONTACTS)
    assert answer.url.path == "/web/security"
    assert 'data-testid="records-table"' not in answer.text


def test_name_lookup_needs_a_session(site: RecordsSite) -> None:
    with site.client() as web:
        answer = web.get("/web/records/res.partner/names?q=a")
    assert answer.status_code == 401 and "results" not in answer.json()


# -- lists ----------------------------------------------------------------------------------------


def test_list_search_finds_contacts_by_name(site: RecordsSite) -> None:
    with site.client("sales") as web:
        found = web.get(f"{CONTACTS}?q=northwind")
    names = _names(found.text)
    assert names and all("northwind" in n.lower() for n in names)


def test_list_search_without_a_match_shows_no_rows(site: RecordsSite) -> None:
    with site.client("sales") as web:
        found = web.get(f"{CONTACTS}?q=no-such-contact-anywhere")
    assert _names(found.text) == []
    assert 'data-testid="records-empty"' in found.text


def test_list_search_with_a_lone_backslash_is_a_clear_400(site: RecordsSite) -> None:
    with site.client("sales") as web:
        found = web.get(f"{CONTACTS}?q=abc%5C")
    assert found.status_code == 400
    assert 'data-testid="error"' in found.text and "Traceback" not in found.text


def test_list_pages_hold_80_rows_without_overlap(site: RecordsSite) -> None:
    with site.client("sales") as web:
        first = web.get(CONTACTS)
        second = web.get(f"{CONTACTS}?page=2")
        beyond = web.get(f"{CONTACTS}?page=999")
        nonsense = web.get(f"{CONTACTS}?page=x")
    total = int(count_on(first).split(" of ")[1])
    assert total > 160
    one, two = ids_on(first, "res.partner"), ids_on(second, "res.partner")
    assert len(one) == len(two) == 80 and not set(one) & set(two)
    assert count_on(second) == f"81{DASH}160 of {total}"
    assert 'rel="prev"' in second.text and 'rel="prev"' not in first.text
    assert count_on(beyond).endswith(f"of {total}") and 'rel="next"' not in beyond.text
    assert ids_on(nonsense, "res.partner") == one


def test_list_sorts_by_a_column_and_back(site: RecordsSite) -> None:
    with site.client("sales") as web:
        up = _names(web.get(f"{CONTACTS}?sort=name").text)
        down = _names(web.get(f"{CONTACTS}?sort=name&desc=1").text)
    assert up == sorted(up) and down == sorted(down, reverse=True)
    assert up[0] != down[0]


def test_list_ignores_an_unknown_sort_field(site: RecordsSite) -> None:
    with site.client("sales") as web:
        plain = web.get(CONTACTS)
        odd = web.get(f"{CONTACTS}?sort=id;drop table res_partner")
    assert odd.status_code == 200
    assert ids_on(odd, "res.partner") == ids_on(plain, "res.partner")


def test_list_filters_on_a_boolean_field(site: RecordsSite) -> None:
    with site.client("sales") as web:
        companies = web.get(f"{CONTACTS}?f_is_company=1")
        people = web.get(f"{CONTACTS}?f_is_company=0")
    with site.system() as env:
        expected = set(env["res.partner"].search([("is_company", "=", True)]))
    shown = ids_on(companies, "res.partner")
    assert shown and set(shown) <= expected
    assert not set(ids_on(people, "res.partner")) & expected


def test_list_filters_on_a_selection_and_ignores_unknown_values(site: RecordsSite) -> None:
    with site.client("salesmanager") as web:
        drafts = web.get("/web/records/sale.order?f_state=draft")
        odd = web.get("/web/records/sale.order?f_state=bogus")
    assert '<option value="draft" selected>' in drafts.text
    with site.system() as env:
        expected = set(env["sale.order"].search([("state", "=", "draft")]))
    assert set(ids_on(drafts, "sale.order")) <= expected
    assert count_on(odd) != count_on(drafts)


# -- forms --------------------------------------------------------------------------------------


def _contact(site: RecordsSite, **vals: object) -> int:
    with site.system() as env:
        return int(env["res.partner"].create({"name": "Form Test Contact", **vals}))


def test_refused_save_shows_the_form_again_with_the_input_kept(site: RecordsSite) -> None:
    contact = _contact(site, city="Leeds")
    url = f"{CONTACTS}/{contact}"
    with site.client("sales") as web:
        answer = web.form(
            url, url, {"name": "", "city": "Typed City", "comment": "line 1\r\nline 2"}
        )
    assert answer.status_code == 400
    assert "is required" in answer.text
    assert 'value="Typed City"' in answer.text
    assert ">line 1\nline 2</textarea>" in answer.text
    assert re.search(r'data-field="name"[^>]*>', answer.text)
    assert 'class="field invalid" data-field="name"' in answer.text
    with site.system() as env:
        (row,) = env["res.partner"].read([contact], ["name", "city"])
    assert row == {"id": contact, "name": "Form Test Contact", "city": "Leeds"}


def test_accepted_save_changes_only_what_was_posted(site: RecordsSite) -> None:
    contact = _contact(site, city="Leeds", phone="+44 1")
    url = f"{CONTACTS}/{contact}"
    with site.client("sales") as web:
        answer = web.form(url, url, {"name": "Renamed Contact", "city": "York"})
    assert answer.status_code == 200 and "Changes saved." in answer.text
    with site.system() as env:
        (row,) = env["res.partner"].read([contact], ["name", "city", "phone"])
    assert (row["name"], row["city"], row["phone"]) == ("Renamed Contact", "York", "+44 1")


def test_a_number_field_with_text_is_refused_with_the_input_kept(site: RecordsSite) -> None:
    with site.system() as env:
        tag = env["res.partner.category"].create({"name": "Form tag", "color": 3})
    url = f"/web/records/res.partner.category/{tag}"
    with site.client("sales") as web:
        answer = web.form(url, url, {"name": "Form tag", "color": "three"})
        fine = web.form(url, url, {"name": "Form tag", "color": "4"})
    assert answer.status_code == 400 and "enter a whole number" in answer.text
    assert 'value="three"' in answer.text
    assert fine.status_code == 200
    with site.system() as env:
        assert env["res.partner.category"].read([tag], ["color"])[0]["color"] == 4


def test_create_with_a_many2one_picker_sets_the_relation(site: RecordsSite) -> None:
    with site.system() as env:
        (parent,) = env["res.partner"].search(
            [("is_company", "=", True), ("company_id", "=", 1)], limit=1
        )
    with site.client("sales") as web:
        form = web.get(f"{CONTACTS}/new")
        answer = web.post(
            f"{CONTACTS}/new",
            {"csrf_token": csrf_of(form.text), "name": "Picked Person", "parent_id": str(parent)},
        )
    assert 'data-testid="picker-parent_id"' in form.text
    assert f'<option value="{parent}"' in form.text
    assert answer.status_code == 200 and "Record created." in answer.text
    with site.system() as env:
        (made,) = env["res.partner"].search_read([("name", "=", "Picked Person")], ["parent_id"])
    assert made["parent_id"][0] == parent


def test_create_refused_keeps_the_picked_relation(site: RecordsSite) -> None:
    with site.system() as env:
        (parent,) = env["res.partner"].search(
            [("is_company", "=", True), ("company_id", "=", 1)], limit=1
        )
    with site.client("sales") as web:
        form = web.get(f"{CONTACTS}/new")
        answer = web.post(
            f"{CONTACTS}/new",
            {"csrf_token": csrf_of(form.text), "name": "", "parent_id": str(parent)},
        )
    assert answer.status_code == 400 and "is required" in answer.text
    assert f'<option value="{parent}" selected>' in answer.text


def test_save_keeps_a_relation_the_user_cannot_read(site: RecordsSite) -> None:
    with site.system() as env:
        (hidden,) = env["res.partner"].search([("company_id", "=", 2)], limit=1)
    contact = _contact(site, parent_id=hidden, company_id=1)
    url = f"{CONTACTS}/{contact}"
    with site.client("sales") as web:
        page = web.get(url)
        answer = web.form(url, url, {"name": "Still Linked", "parent_id": str(hidden)})
    assert "Restricted record" in page.text
    assert f'href="{CONTACTS}/{hidden}"' not in page.text
    assert answer.status_code == 200
    with site.system() as env:
        (row,) = env["res.partner"].read([contact], ["name", "parent_id"])
    assert row["name"] == "Still Linked" and row["parent_id"][0] == hidden


def test_picking_a_record_the_user_cannot_read_is_refused(site: RecordsSite) -> None:
    with site.system() as env:
        (hidden,) = env["res.partner"].search([("company_id", "=", 2)], limit=1)
    contact = _contact(site, company_id=1)
    url = f"{CONTACTS}/{contact}"
    with site.client("sales") as web:
        answer = web.form(url, url, {"name": "Form Test Contact", "parent_id": str(hidden)})
    assert answer.status_code == 403
    with site.system() as env:
        assert env["res.partner"].read([contact], ["parent_id"])[0]["parent_id"] is None


def test_one2many_is_listed_read_only_with_links(site: RecordsSite) -> None:
    with site.system() as env:
        (company,) = env["res.partner"].search(
            [("is_company", "=", True), ("child_ids", "!=", False), ("company_id", "=", 1)],
            limit=1,
        )
        children = env["res.partner"].search([("parent_id", "=", company)])
    with site.client("sales") as web:
        page = web.get(f"{CONTACTS}/{company}")
    assert 'data-testid="relation-child_ids"' in page.text
    assert f'href="{CONTACTS}/{children[0]}"' in page.text
    assert 'name="child_ids"' not in page.text


# -- the picker's name lookup --------------------------------------------------------------


def test_name_lookup_returns_matching_readable_names(site: RecordsSite) -> None:
    with site.client("sales") as web:
        answer = web.get("/web/records/res.partner/names?q=northwind")
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert results and all("northwind" in name.lower() for _, name in results)
    assert len(results) <= 80


def test_name_lookup_of_a_model_the_user_cannot_read_is_refused(site: RecordsSite) -> None:
    with site.client("employee") as web:
        answer = web.get("/web/records/sale.order/names?q=S")
    assert answer.status_code == 403 and "results" not in answer.json()


# -- CSRF ---------------------------------------------------------------------------------------


def test_save_without_a_csrf_token_is_refused(site: RecordsSite) -> None:
    contact = _contact(site)
    url = f"{CONTACTS}/{contact}"
    with site.client("sales") as web:
        web.get(url)
        answer = web.post(url, {"name": "Forged Name"})
        delete = web.post(f"{url}/delete", {})
    assert answer.status_code == 403 and delete.status_code == 403
    with site.system() as env:
        assert env["res.partner"].read([contact], ["name"])[0]["name"] == "Form Test Contact"


def test_save_with_a_forged_csrf_token_is_refused(site: RecordsSite) -> None:
    contact = _contact(site)
    url = f"{CONTACTS}/{contact}"
    with site.client("sales") as web:
        token = csrf_of(web.get(url).text)
        answer = web.post(url, {"name": "Forged Name", "csrf_token": "x" + token[1:]})
        honest = web.post(url, {"name": "Honest Name", "csrf_token": token})
    assert answer.status_code == 403
    assert honest.status_code == 200
    with site.system() as env:
        assert env["res.partner"].read([contact], ["name"])[0]["name"] == "Honest Name"


# -- what the pages are made of -------------------------------------------------------------

EVIL = '<script>alert("x")</script>'


def test_record_values_are_escaped_on_every_page(site: RecordsSite) -> None:
    contact = _contact(site, comment=EVIL, city=EVIL)
    with site.system() as env:
        env["res.partner"].write([contact], {"name": f"Evil {EVIL}"})
    with site.client("sales") as web:
        pages = [
            web.get(f"{CONTACTS}?q=Evil"),
            web.get(f"{CONTACTS}/{contact}"),
            web.get(f"{CONTACTS}/{contact}/delete"),
            web.get(f"{CONTACTS}/names?q=Evil"),
        ]
    for page in pages[:3]:
        assert page.status_code in {200, 403}
        assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert" in pages[0].text and "&lt;script&gt;alert" in pages[1].text
    assert pages[3].headers["content-type"] == "application/json"


def test_form_pages_load_only_our_script_with_the_response_nonce(site: RecordsSite) -> None:
    contact = _contact(site)
    with site.client("sales") as web:
        form = web.get(f"{CONTACTS}/{contact}")
        listing = web.get(CONTACTS)
    nonce = re.search(r"'nonce-([^']+)'", form.headers["content-security-policy"])
    assert nonce is not None
    scripts = re.findall(r"<script[^>]*>", form.text)
    assert scripts == [f'<script src="/web/static/records.js" nonce="{nonce[1]}" defer>']
    assert "</script>" in form.text and not re.search(r"<script[^>]*>[^<]+</script>", form.text)
    assert re.findall(r"<script[^>]*>", listing.text) == []
    assert not re.search(r"\son[a-z]+=|\sstyle=|javascript:", form.text + listing.text)


def test_every_post_form_of_the_records_pages_carries_the_csrf_token(site: RecordsSite) -> None:
    with site.system() as env:
        product = env["product.product"].create({"name": "Form-walk product"})
    url = f"/web/records/product.product/{product}"
    with site.client("salesmanager") as web:
        pages = [
            web.get(url),
            web.get(f"{url}/delete"),
            web.get("/web/records/product.product/new"),
        ]
    for page in pages:
        forms = re.findall(
            r'<form method="post"[^>]*>\s*<input type="hidden" name="(\w+)"', page.text
        )
        posts = page.text.count('<form method="post"')
        assert posts >= 2 and forms.count("csrf_token") == posts  # sign-out plus the page's own
