"""REST requests that are refused: no key, malformed parameters, hostile bodies, unknown names.

Each gets a 4xx with `{"error", "message"}` and nothing else (never a traceback), and changes
nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from rest_site import PASSWORDS, RestSite, rest_app, rest_site

from support.web_client import WebClient


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RestSite]:
    with rest_site(tmp_path_factory.mktemp("rest"), str(request.param)) as made:
        yield made


@pytest.fixture(scope="module")
def key(site: RestSite) -> str:
    return site.key("salesmanager")


def refused(response: httpx.Response, status: int, error: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"}, body
    assert "Traceback" not in response.text and 'File "' not in response.text
    if error is not None:
        assert body["error"] == error, body


def partners(site: RestSite) -> int:
    return int(site.system("res.partner", "search_count", []))


# -- who is calling -----------------------------------------------------------------------


def test_call_without_a_key_is_401_with_a_bearer_challenge(site: RestSite) -> None:
    for path in (
        "/api/v1/res.partner",
        "/api/v1/res.partner/1",
        "/api/v1/openapi.json",
        "/api/v1/no.such.model",
    ):
        response = site.request("GET", path)
        refused(response, 401, "verification")
        assert response.headers["www-authenticate"] == 'Bearer realm="bastion"'


def test_call_with_a_valid_key_is_answered(site: RestSite, key: str) -> None:
    assert site.request("GET", "/api/v1/res.partner?limit=1", key).status_code == 200


def test_call_with_a_wrong_key_or_scheme_is_401(site: RestSite, key: str) -> None:
    wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    for header in (f"bearer {wrong}", f"Basic {key}", "bearer", key, "bearer bst_x"):
        response = site.web.request("GET", "/api/v1/res.partner", headers={"authorization": header})
        refused(response, 401, "verification")
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_signed_in_browser_session_does_not_reach_the_api(site: RestSite) -> None:
    """The API takes no cookie: a page on another site cannot use a signed-in browser."""
    with WebClient(rest_app(site.settings, site.clock)) as browser:
        signed_in = browser.form(
            "/web/login", "/web/login", {"login": "sales", "password": PASSWORDS["sales"]}
        )
        assert signed_in.status_code == 200 and browser.cookies.get("session_id")
        before = partners(site)
        created = browser.post("/api/v1/res.partner", json={"name": "Forged"})
        refused(created, 401, "verification")
        refused(browser.get("/api/v1/res.partner"), 401, "verification")
    assert partners(site) == before


def test_key_guesses_from_one_address_are_throttled(site: RestSite) -> None:
    app = rest_app(site.settings, site.clock)
    with WebClient(app, peer="203.0.113.77") as web:
        guesses = [{"authorization": f"bearer bst_{'a' * 10}_{i:032d}"} for i in range(12)]
        statuses = [web.get("/api/v1/res.partner", headers=h).status_code for h in guesses]
        assert statuses[0] == 401 and statuses[-1] == 429
        last = web.get("/api/v1/res.partner", headers={"authorization": "bearer bst_nope"})
    refused(last, 429, "rate_limit")
    assert int(last.headers["retry-after"]) >= 1


def test_database_named_in_the_header_is_used(site: RestSite, key: str) -> None:
    headers = {"x-odoo-database": site.tenant.name}
    assert site.request("GET", "/api/v1/res.partner", key, headers=headers).status_code == 200


def test_unknown_database_in_the_header_is_refused_like_a_wrong_key(
    site: RestSite, key: str
) -> None:
    response = site.request("GET", "/api/v1/res.partner", key, headers={"x-odoo-database": "nope"})
    refused(response, 401, "verification")


# -- addresses ----------------------------------------------------------------------------


def test_unknown_model_is_404(site: RestSite, key: str) -> None:
    for path in (
        "/api/v1/no.such.model",
        "/api/v1/no.such.model/1",
        "/api/v1/Res.Partner",
        "/api/v1/res..partner",
        "/api/v1/res.partner%00",
    ):
        refused(site.request("GET", path, key), 404, "not_found")


def test_record_id_that_is_not_a_positive_32_bit_number_is_404(site: RestSite, key: str) -> None:
    for rid in ("0", "-1", "abc", "1.0", "01", "2147483648", "99999999999999999999", "1e3"):
        for method in ("GET", "PATCH", "DELETE"):
            body = {"name": "x"} if method == "PATCH" else None
            response = site.request(method, f"/api/v1/res.partner/{rid}", key, json=body)
            refused(response, 404)


def test_model_outside_the_users_rights_is_403(site: RestSite, key: str) -> None:
    refused(site.request("GET", "/api/v1/ir.rule", key), 403, "access")


# -- query parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "domain=not json",
        "domain={}",
        'domain="name"',
        'domain=[["name", "~", "x"]]',
        'domain=[["nope", "=", 1]]',
        'domain=[["name", "=", "x"], "&"]',
        'domain=[["name", "in", "x"]]',
        "domain=" + "[" * 100 + "]" * 100,
        "fields=name;drop",
        "fields=nope",
        "fields=password",
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=ten",
        "limit=1.5",
        "limit=99999999999999999999",
        "offset=-1",
        "offset=2147483648",
        "order=name; drop table res_partner",
        "order=nope desc",
        "order=child_ids",
        "limit=1&limit=2",
    ],
)
def test_malformed_query_is_400(site: RestSite, key: str, query: str) -> None:
    response = site.request("GET", f"/api/v1/res.partner?{query}", key)
    assert response.status_code in (400, 403), response.text
    refused(response, response.status_code)
    if "password" not in query:
        assert response.status_code == 400


def test_malformed_query_on_one_record_is_400(site: RestSite, key: str) -> None:
    refused(site.request("GET", "/api/v1/res.partner/1?fields=no,such", key), 400)


# -- bodies -------------------------------------------------------------------------------


def post(
    site: RestSite, key: str, content: bytes, kind: str = "application/json"
) -> httpx.Response:
    return site.request(
        "POST", "/api/v1/res.partner", key, content=content, headers={"content-type": kind}
    )


def test_body_other_than_json_is_415(site: RestSite, key: str) -> None:
    before = partners(site)
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""):
        refused(post(site, key, b'{"name": "x"}', kind), 415, "unsupported_media_type")
    refused(site.request("PATCH", "/api/v1/res.partner/1", key, content=b"{}"), 415)
    assert partners(site) == before


def test_json_with_a_charset_is_accepted(site: RestSite, key: str) -> None:
    response = post(site, key, b'{"name": "Charset Ltd"}', "application/json; charset=utf-8")
    assert response.status_code == 201


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"not json",
        b'{"name": NaN}',
        b'{"name": 1e400}',
        b'["name"]',
        b'"name"',
        b"null",
        b'{"name": "\\ud800"}',
        b'{"name": "\xff\xfe"}',
        b'{"a": ' * 5000 + b"1" + b"}" * 5000,
        b'{"comment": ' + b"[" * 60 + b"]" * 60 + b"}",
    ],
    ids=[
        "empty",
        "cut",
        "text",
        "nan",
        "infinite",
        "list",
        "string",
        "null",
        "surrogate",
        "bad-utf8",
        "deep-5000",
        "deep-60",
    ],
)
def test_hostile_json_body_is_400_and_changes_nothing(
    site: RestSite, key: str, content: bytes
) -> None:
    before = partners(site)
    refused(post(site, key, content), 400)
    assert partners(site) == before


HUGE_IDS = [
    {"name": "Huge", "parent_id": 2**63 - 1},
    {"name": "Huge", "parent_id": 2**31},
    {"name": "Huge", "category_id": [[4, 2**40]]},
    {"name": "Huge", "category_id": [2**40]},
]


@pytest.mark.parametrize("body", HUGE_IDS)
def test_ids_past_32_bits_are_422_and_change_nothing(
    request: pytest.FixtureRequest, site: RestSite, key: str, body: dict[str, object]
) -> None:
    before = partners(site)
    refused(site.request("POST", "/api/v1/res.partner", key, json=body), 422)
    assert partners(site) == before


@pytest.mark.parametrize(
    "domain",
    [
        '[["id", "=", 1099511627776]]',
        '[["parent_id", "in", [1099511627776]]]',
        '[["id", "child_of", 1099511627776]]',
        '[["category_id", "=", 1099511627776]]',
    ],
)
def test_ids_past_32_bits_in_a_domain_are_refused_or_match_nothing(
    request: pytest.FixtureRequest, site: RestSite, key: str, domain: str
) -> None:
    response = site.request("GET", "/api/v1/res.partner", key, params={"domain": domain})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert response.json()["records"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Huge", "parent_id": 10**30},
        {"name": "Huge", "parent_id": -1},
        {"name": "NUL\x00"},
        {"name": "x" * 100_000, "comment": 5},
        {"name": "Types", "is_company": "yes"},
        {"name": "Types", "child_ids": "everything"},
        {"name": "Types", "category_id": [[6, 0, "x"]]},
        {"name": "Types", "category_id": [[99]]},
    ],
)
def test_hostile_values_are_422_and_change_nothing(
    site: RestSite, key: str, body: dict[str, object]
) -> None:
    before = partners(site)
    response = site.request("POST", "/api/v1/res.partner", key, json=body)
    refused(response, 422)
    assert partners(site) == before


def test_huge_numbers_in_an_update_are_refused(
    request: pytest.FixtureRequest, site: RestSite, key: str
) -> None:
    pid = site.system("res.partner", "create", {"name": "Target"})
    for body in ({"parent_id": 2**40}, {"parent_id": 10**30}, {"category_id": [[4, 2**33]]}):
        refused(site.request("PATCH", f"/api/v1/res.partner/{pid}", key, json=body), 422)
    after = site.system("res.partner", "read", [pid], ["parent_id", "category_id"])[0]
    assert after["parent_id"] is None and after["category_id"] == []
    # Unlinking a record that is not linked is nothing to refuse (Odoo's command 3 too).
    response = site.request(
        "PATCH", f"/api/v1/res.partner/{pid}", key, json={"category_id": [[3, 2**33]]}
    )
    assert response.status_code == 204


def test_body_over_the_size_limit_is_413(site: RestSite, key: str) -> None:
    content = b'{"name": "' + b"x" * (site.settings.max_body_bytes + 10) + b'"}'
    response = post(site, key, content)
    assert response.status_code == 413


def test_wrong_method_is_405(site: RestSite, key: str) -> None:
    response = site.request("POST", "/api/v1/res.partner/1", key, json={})
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {"GET", "PATCH", "DELETE"}
