"""The OpenAPI 3.1 document of the REST API, as the calling key sees the tenant.

It is built per call from the registry of the tenant's installed modules and `fields_get` run
as the caller: models outside the key's scope or the user's read rights are left out, and so
are fields outside the user's groups (exactly what `fields_get` hides). Publishing it needs a
valid key, like every other REST route: it names what the key can reach, nothing more.
"""

from __future__ import annotations

from typing import Any

from bastion.auth.apiauth import ApiIdentity
from bastion.core.tenant import Tenant
from bastion.web.rest import params
from bastion.web.rest.schemas import ID, Schema, model_schemas
from bastion.web.rpc.dispatch import execute_kw

PREFIX = "/api/v1"
Document = dict[str, Any]


def describe(tenant: Tenant, identity: ApiIdentity) -> dict[str, dict[str, dict[str, Any]]]:
    """`fields_get` of each model the caller may read (blocking: run it in a thread)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    scope = identity.scope
    for name in sorted(tenant.registry.models):
        if scope is not None and not scope.allows(name, write=False):
            continue
        # Asked first, without raising: a refused fields_get would write an access denial to
        # the audit trail for every model, each time someone reads the document.
        if not execute_kw(
            tenant, identity, name, "check_access_rights", ["read"], {"raise_exception": False}
        ):
            continue
        out[name] = execute_kw(tenant, identity, name, "fields_get")
    return out


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _reply(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _json(schema: Schema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


ERRORS = {
    "BadRequest": (400, "The request is malformed (a parameter, or the body is not JSON)."),
    "Unauthorized": (401, "No API key, or one that is invalid, expired or revoked."),
    "Forbidden": (403, "The key's scope or the user's rights do not allow this."),
    "NotFound": (404, "No such model, or no such record the user may see."),
    "Conflict": (409, "A business rule refuses the change in the record's current state."),
    "PayloadTooLarge": (413, "The body is larger than the server accepts."),
    "UnsupportedMediaType": (415, "The body must be sent as application/json."),
    "Unprocessable": (422, "The values were refused: a field, a type or a related record."),
    "TooManyRequests": (429, "Too many failed attempts from this address: wait and retry."),
}
READ_ERRORS = ("BadRequest", "Unauthorized", "Forbidden", "NotFound", "TooManyRequests")
WRITE_ERRORS = (
    *READ_ERRORS,
    "Conflict",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "Unprocessable",
)


def _responses() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (status, text) in ERRORS.items():
        reply: dict[str, Any] = {"description": text, "content": _json(_ref("Error"))}
        if status == 401:
            reply["headers"] = {
                "WWW-Authenticate": {"required": True, "schema": {"type": "string"}}
            }
        if status == 429:
            reply["headers"] = {"Retry-After": {"required": True, "schema": {"type": "integer"}}}
        out[name] = reply
    return out


def _errors(names: tuple[str, ...]) -> dict[str, Any]:
    return {str(ERRORS[n][0]): _reply(n) for n in names}


def _fields_param(described: dict[str, Any]) -> dict[str, Any]:
    names = sorted({*described, "display_name"})
    return {
        "name": "fields",
        "in": "query",
        "required": False,
        "description": "The fields to return, separated by commas (default: every field).",
        "style": "form",
        "explode": False,
        "schema": {
            "type": "array",
            "items": {"type": "string", "enum": names},
            "uniqueItems": True,
        },
    }


def _list_params(described: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": "domain",
            "in": "query",
            "required": False,
            "description": 'An Odoo domain as JSON text, e.g. [["name", "ilike", "acme"]].',
            "schema": {"type": "string"},
        },
        _fields_param(described),
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": params.MAX_LIMIT,
                "default": params.DEFAULT_LIMIT,
            },
        },
        {
            "name": "offset",
            "in": "query",
            "required": False,
            "schema": {
                "type": "integer",
                "minimum": 0,
                "maximum": params.MAX_OFFSET,
                "default": 0,
            },
        },
        {
            "name": "order",
            "in": "query",
            "required": False,
            "description": "Sort order such as 'name desc, id'.",
            "schema": {"type": "string", "maxLength": params.MAX_ORDER},
        },
    ]


def _operations(model: str, label: str, described: dict[str, Any]) -> dict[str, Any]:
    """The two paths of one model: its collection and its records."""
    slug = model.replace(".", "_")
    record_id = {"name": "id", "in": "path", "required": True, "schema": ID}
    body = {
        "required": True,
        "content": _json(_ref(f"{model}.create")),
    }
    changes = {"required": True, "content": _json(_ref(f"{model}.update"))}
    listing = {
        "type": "object",
        "required": ["records", "offset", "limit"],
        "properties": {
            "records": {"type": "array", "items": _ref(model)},
            "offset": {"type": "integer"},
            "limit": {"type": "integer"},
        },
    }
    none = {"description": "Done."}
    return {
        f"{PREFIX}/{model}": {
            "get": {
                "operationId": f"list_{slug}",
                "summary": f"Search {label} records",
                "tags": [model],
                "parameters": _list_params(described),
                "responses": {
                    "200": {"description": "The records found.", "content": _json(listing)},
                    **_errors(READ_ERRORS),
                },
            },
            "post": {
                "operationId": f"create_{slug}",
                "summary": f"Create a {label} record",
                "tags": [model],
                "requestBody": body,
                "responses": {
                    "201": {
                        "description": "Created.",
                        "headers": {"Location": {"required": True, "schema": {"type": "string"}}},
                        "content": _json(_ref("Created")),
                    },
                    **_errors(WRITE_ERRORS),
                },
            },
        },
        f"{PREFIX}/{model}/{{id}}": {
            "parameters": [record_id],
            "get": {
                "operationId": f"get_{slug}",
                "summary": f"Read a {label} record",
                "tags": [model],
                "parameters": [_fields_param(described)],
                "responses": {
                    "200": {"description": "The record.", "content": _json(_ref(model))},
                    **_errors(READ_ERRORS),
                },
            },
            "patch": {
                "operationId": f"update_{slug}",
                "summary": f"Change a {label} record",
                "tags": [model],
                "requestBody": changes,
                "responses": {"204": none, **_errors(WRITE_ERRORS)},
            },
            "put": {
                "operationId": f"replace_{slug}",
                "summary": f"Change a {label} record (same as PATCH: fields left out stay)",
                "tags": [model],
                "requestBody": changes,
                "responses": {"204": none, **_errors(WRITE_ERRORS)},
            },
            "delete": {
                "operationId": f"delete_{slug}",
                "summary": f"Delete a {label} record",
                "tags": [model],
                "responses": {"204": none, **_errors((*READ_ERRORS, "Conflict"))},
            },
        },
    }


def document(
    tenant: Tenant, described: dict[str, dict[str, dict[str, Any]]], version: str
) -> Document:
    """The OpenAPI document for the models in `described` (see `describe`)."""
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {
                "error": {"type": "string", "description": "A stable code, e.g. 'access'."},
                "message": {"type": "string", "description": "One sentence for a person."},
            },
        },
        "Created": {"type": "object", "required": ["id"], "properties": {"id": ID}},
    }
    paths: dict[str, Any] = {
        f"{PREFIX}/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document, as the calling key sees the database",
                "responses": {
                    "200": {"description": "OpenAPI 3.1.", "content": _json({"type": "object"})},
                    **_errors(("Unauthorized", "NotFound", "TooManyRequests")),
                },
            }
        }
    }
    tags = []
    for model, fields in described.items():
        cls = tenant.registry[model]
        record, create, update = model_schemas(cls, fields)
        schemas[model] = record
        schemas[f"{model}.create"] = create
        schemas[f"{model}.update"] = update
        label = cls._description or model
        tags.append({"name": model, "description": label})
        paths.update(_operations(model, label, fields))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"Bastion REST API: {tenant.name}",
            "version": version,
            "description": (
                "Records of the installed modules. Every call acts as the API key's user, "
                "within the key's scope, with the user's access rights and record rules."
            ),
        },
        "security": [{"bearer": []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from 'My security'.",
                }
            },
            "schemas": schemas,
            "responses": _responses(),
        },
    }
