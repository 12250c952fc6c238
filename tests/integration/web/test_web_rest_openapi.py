"""The OpenAPI document of the REST API, and schemathesis driving the API from it.

The document is the calling key's view of the tenant: the models it may read, the fields its
user's groups show. Schemathesis generates requests from it (valid ones, then invalid ones)
and checks every answer: never a 5xx, and always a status, content type, headers and body that
the document itself promises.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import schemathesis.checks
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_site import RestSite, rest_app, rest_site
from schemathesis import GenerationMode
from schemathesis.python import asgi

#: Examples per operation (54 operations as the sales manager sees the demo tenant). Bounded
#: and derandomized: the same requests on every run, about 25 s of CPU.
POSITIVE_EXAMPLES = 8
NEGATIVE_EXAMPLES = 3


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestSite]:
    with rest_site(tmp_path_factory.mktemp("rest"), "sqlite") as made:
        yield made


def document(site: RestSite, key: str) -> dict[str, Any]:
    response = site.request("GET", "/api/v1/openapi.json", key)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def manager_doc(site: RestSite) -> dict[str, Any]:
    return document(site, site.key("salesmanager"))


def test_document_is_valid_openapi_3_1(manager_doc: dict[str, Any]) -> None:
    assert manager_doc["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(manager_doc).validate()  # against the OpenAPI meta-schema


def test_document_needs_a_key(site: RestSite) -> None:
    response = site.request("GET", "/api/v1/openapi.json")
    assert response.status_code == 401 and "paths" not in response.text


def test_document_lists_the_models_the_key_may_read(manager_doc: dict[str, Any]) -> None:
    paths = manager_doc["paths"]
    for model in ("res.partner", "sale.order", "sale.order.line", "product.product"):
        assert set(paths[f"/api/v1/{model}"]) == {"get", "post"}
        assert set(paths[f"/api/v1/{model}/{{id}}"]) == {
            "parameters",
            "get",
            "patch",
            "put",
            "delete",
        }
    assert manager_doc["security"] == [{"bearer": []}]
    assert manager_doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_document_leaves_out_models_the_user_may_not_read(manager_doc: dict[str, Any]) -> None:
    assert "/api/v1/ir.rule" not in manager_doc["paths"]
    assert "ir.model.access" not in manager_doc["components"]["schemas"]


def test_document_of_a_scoped_key_lists_only_its_models(site: RestSite) -> None:
    doc = document(site, site.key("salesmanager", models=("res.partner",)))
    models = {p.split("/")[3] for p in doc["paths"]} - {"openapi.json"}
    assert models == {"res.partner"}


def test_document_shows_private_fields_to_hr_officers(site: RestSite) -> None:
    doc = document(site, site.key("hr"))
    assert "salary" in doc["components"]["schemas"]["hr.employee"]["properties"]
    assert "salary" in doc["components"]["schemas"]["hr.employee.update"]["properties"]


def test_document_hides_private_fields_from_others(manager_doc: dict[str, Any]) -> None:
    schemas = manager_doc["components"]["schemas"]
    for name in ("hr.employee", "hr.employee.create", "hr.employee.update"):
        assert "salary" not in schemas[name]["properties"]
        assert "bank_account" not in schemas[name]["properties"]


def test_every_operation_documents_its_errors(manager_doc: dict[str, Any]) -> None:
    for path, item in manager_doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            codes = set(operation["responses"])
            assert {"401", "404", "429"} <= codes, (path, method)
            if method in ("post", "patch", "put"):
                assert {"400", "403", "413", "415", "422"} <= codes, (path, method)
    replies = manager_doc["components"]["responses"]
    assert replies["Unauthorized"]["headers"]["WWW-Authenticate"]["required"] is True
    assert replies["TooManyRequests"]["headers"]["Retry-After"]["required"] is True


def test_schemas_follow_the_field_types(manager_doc: dict[str, Any]) -> None:
    schemas = manager_doc["components"]["schemas"]
    order, create, update = (
        schemas[n] for n in ("sale.order", "sale.order.create", "sale.order.update")
    )
    props = order["properties"]
    assert props["state"]["enum"][:4] == ["draft", "sent", "sale", "cancel"]
    assert props["partner_id"]["oneOf"][0]["type"] == "array"  # [id, name] when read
    assert props["order_line"] == {**props["order_line"], "type": "array"}
    assert props["amount_total"]["type"] == ["number", "null"]
    assert props["validity_date"]["format"] == "date"
    assert "pattern" in props["date_order"]
    assert create["properties"]["partner_id"]["type"] == "integer"  # an id when written
    # required without a default: asked for on create; filled by the server: not asked for
    assert create["required"] == ["partner_id"]
    for schema in (create, update):
        assert "amount_total" not in schema["properties"]  # read-only
        assert "id" not in schema["properties"] and "create_date" not in schema["properties"]
        assert schema["additionalProperties"] is False
    assert "required" not in update


def test_password_is_write_only(manager_doc: dict[str, Any]) -> None:
    schemas = manager_doc["components"]["schemas"]
    assert "password" not in schemas["res.users"]["properties"]
    assert schemas["res.users.update"]["properties"]["password"]["writeOnly"] is True


# -- schemathesis -------------------------------------------------------------------------


def with_known_ids(site: RestSite, key: str, operation: Any, mode: GenerationMode) -> Any:
    """Cases of `operation`; for a record path, about half of the valid ones name a record the
    key can read (random ids are almost never one), so reads, updates and deletes that
    succeed are exercised too."""
    cases = operation.as_strategy(generation_mode=mode)
    if mode is not GenerationMode.POSITIVE or not operation.path.endswith("{id}"):
        return cases
    model = operation.path.split("/")[3]
    listed = site.request("GET", f"/api/v1/{model}?fields=id&limit=40", key).json()["records"]
    ids = [r["id"] for r in listed]

    def aim(pair: tuple[Any, int | None]) -> Any:
        case, rid = pair
        if rid is not None:
            case.path_parameters["id"] = rid
        return case

    return st.tuples(cases, st.one_of(st.sampled_from(ids), st.none())).map(aim)


CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]


def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(site: RestSite) -> None:
    key = site.key("salesmanager")
    auth = {"authorization": f"bearer {key}"}
    app = rest_app(site.settings, site.clock)
    try:
        # Loaded over HTTP from the app itself: the published document is what is tested.
        schema = schemathesis.openapi.from_asgi(
            "/api/v1/openapi.json", app, headers={**auth, "host": "localhost"}
        )
        failures: list[str] = []
        statuses: dict[int, int] = {}
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 40
        for mode, examples in (
            (GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
            (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
        ):
            for operation in operations:

                @settings(
                    max_examples=examples,
                    derandomize=True,
                    database=None,
                    deadline=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=with_known_ids(site, key, operation, mode))
                def run(case: Any) -> None:
                    response = case.call(base_url="http://localhost", headers=auth)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    case.validate_response(response, checks=CHECKS, headers=auth)

                try:
                    run()
                except Exception as exc:  # gather them all: one report names every operation
                    failures.append(f"{mode.value} {operation.label}: {str(exc)[:2000]}")
        assert not failures, "\n\n".join(failures)
        assert not any(status >= 500 for status in statuses)
        # The run reached the records, not only the refusals.
        assert statuses.get(200, 0) > 50 and statuses.get(201, 0) > 5, statuses
        assert statuses.get(204, 0) > 10 and statuses.get(422, 0) > 10, statuses
    finally:
        asgi.shutdown_lifespans()
