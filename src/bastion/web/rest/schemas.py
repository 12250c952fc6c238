"""JSON Schemas of one model's records, from its `fields_get` (the caller's view of it).

Three per model: the record as read, the values of a create (required fields listed), and the
values of an update (read-only fields left out of both, password fields write-only).
"""

from __future__ import annotations

from typing import Any

from bastion.core.fields import INT32_MAX, INT32_MIN, MAGIC_FIELDS, MONEY_LIMIT, Field
from bastion.core.model import Model

DATETIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"
#: An amount as text, for callers who keep money out of floats (below 10^15, like the field).
MONEY_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]+)?$"
ID = {"type": "integer", "minimum": 1, "maximum": INT32_MAX}
Schema = dict[str, Any]
#: Fields the server fills when a create leaves them out, whatever their declaration says.
SERVER_FILLED = frozenset({"company_id"})


def _nullable(schema: Schema) -> Schema:
    if "anyOf" in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    kind = schema.get("type")
    if isinstance(kind, str):
        schema = {**schema, "type": [kind, "null"]}
    if "enum" in schema:
        schema = {**schema, "enum": [*schema["enum"], None]}
    return schema


def _pair() -> Schema:
    return {
        "type": "array",
        # Not `prefixItems`: schemathesis 4 mistranslates it in response schemas.
        "items": {"type": ["integer", "string", "null"]},
        "minItems": 2,
        "maxItems": 2,
        "description": "[id, name]; name is null when the user may not read the record.",
    }


def read_value(desc: dict[str, Any]) -> Schema:
    """The schema of a value as `read` returns it (null when empty)."""
    kind = desc["type"]
    if kind == "boolean":
        return {"type": "boolean"}
    if kind in ("one2many", "many2many"):
        return {"type": "array", "items": {"type": "integer"}}
    if kind == "many2one":
        return {"oneOf": [_pair(), {"type": "null"}]}
    if kind == "json":
        return {}
    return _nullable(_scalar(desc, reading=True))


def _scalar(desc: dict[str, Any], *, reading: bool) -> Schema:
    kind = desc["type"]
    if kind in ("char", "text"):
        schema: Schema = {"type": "string"}
        if desc.get("size") and not reading:
            schema["maxLength"] = desc["size"]
        return schema
    if kind == "selection":
        return {"type": "string", "enum": [key for key, _ in desc.get("selection", [])]}
    if kind == "integer":
        return {"type": "integer", "minimum": INT32_MIN, "maximum": INT32_MAX}
    if kind == "float":
        return {"type": "number"}
    if kind == "monetary":
        if reading:
            return {"type": "number"}
        bound = int(MONEY_LIMIT)
        return {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": -bound, "exclusiveMaximum": bound},
                {"type": "string", "pattern": MONEY_PATTERN, "description": 'e.g. "12.50".'},
            ]
        }
    if kind == "date":
        return {"type": "string", "format": "date"}
    if kind == "datetime":
        return {
            "type": "string",
            "pattern": DATETIME_PATTERN,
            "description": "UTC, as YYYY-MM-DD HH:MM:SS.",
        }
    if kind == "binary":
        return {"type": "string", "contentEncoding": "base64"}
    if kind == "many2one":
        return dict(ID)
    return {}  # json, and any type this edge does not know: no promise about its shape


def _commands(desc: dict[str, Any]) -> Schema:
    """Odoo's x2many commands as JSON arrays; a many2many also takes a plain list of ids."""
    values = {"type": "object", "description": f"Values of a '{desc.get('relation')}' record."}

    def command(*items: Schema) -> Schema:
        size = len(items)
        return {"type": "array", "prefixItems": list(items), "minItems": size, "maxItems": size}

    zero = {"const": 0}
    commands = [
        command({"const": 0}, zero, values),
        command({"const": 1}, ID, values),
        command({"const": 2}, ID),
    ]
    if desc["type"] == "one2many":
        return {"type": "array", "items": {"oneOf": commands}}
    commands += [
        command({"const": 3}, ID),
        command({"const": 4}, ID),
        command({"const": 5}),
        command({"const": 6}, zero, {"type": "array", "items": ID}),
    ]
    return {
        "oneOf": [
            {"type": "array", "items": {"oneOf": commands}},
            {"type": "array", "items": ID, "minItems": 1, "description": "Replace the links."},
        ]
    }


def write_value(desc: dict[str, Any], *, required: bool) -> Schema:
    """The schema of a value a create or update may send."""
    kind = desc["type"]
    if kind in ("one2many", "many2many"):
        return _commands(desc)
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "json":
        return {}
    schema = _scalar(desc, reading=False)
    if required:
        if kind in ("char", "text"):
            schema["minLength"] = 1
        return schema
    return _nullable(schema)


def _documented(desc: dict[str, Any], schema: Schema) -> Schema:
    text = desc.get("string") or ""
    if desc.get("help"):
        text = f"{text}: {desc['help']}" if text else str(desc["help"])
    if text and "description" not in schema:
        schema = {**schema, "description": text}
    return schema


def _password(f: Field) -> Schema:
    return {
        "type": "string",
        "minLength": 1,
        "format": "password",
        "writeOnly": True,
        "description": f"{f.label} (write-only: never read back).",
    }


def model_schemas(
    cls: type[Model], described: dict[str, dict[str, Any]]
) -> tuple[Schema, Schema, Schema]:
    """(record, create values, update values) of model `cls` from its `fields_get`."""
    read_props: dict[str, Schema] = {}
    create_props: dict[str, Schema] = {}
    write_props: dict[str, Schema] = {}
    required: list[str] = []
    for name, desc in described.items():
        read_props[name] = _documented(desc, read_value(desc))
        if desc.get("readonly") or name in MAGIC_FIELDS:
            continue
        f = cls._fields.get(name)
        needed = bool(desc.get("required"))
        on_create = needed and name not in SERVER_FILLED and (f is None or f.default is None)
        if on_create:
            required.append(name)
        create_props[name] = _documented(desc, write_value(desc, required=needed))
        write_props[name] = _documented(desc, write_value(desc, required=needed))
    if "id" in read_props:
        read_props["id"] = {**ID, "description": "ID"}
    read_props["display_name"] = {"type": ["string", "null"], "description": "The record's name."}
    for name, f in cls._fields.items():
        # fields_get leaves passwords out (they are never read); they can still be set.
        if f.type == "password" and not f.groups and not f.readonly:
            create_props[name] = write_props[name] = _password(f)
    record: Schema = {
        "type": "object",
        "properties": read_props,
        "required": ["id"],
        "additionalProperties": False,
    }
    create: Schema = {"type": "object", "properties": create_props, "additionalProperties": False}
    if required:
        create["required"] = sorted(required)
    update: Schema = {"type": "object", "properties": write_props, "additionalProperties": False}
    return record, create, update
