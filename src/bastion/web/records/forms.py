"""Form values: stored values as the text inputs show them, and posted text back to values.

The ORM checks every value again (types, sizes, required fields, selections); this module
only turns browser text into the Python values `create` and `write` expect, and says which
fields actually changed so that a save writes nothing the user did not touch.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from bastion.web.records.views import FieldView, relation_id

MAX_TEXT = 100_000
_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2})?(\.\d+)?", re.ASCII)
#: A ValidationError that names a field: `Field 'name' of 'res.partner' ...`.
_NAMED_FIELD = re.compile(r"^Field '([a-z_][a-z0-9_]*)' of ")


class FormError(Exception):
    """A posted value that cannot be read as its field's type (before the ORM sees it)."""

    def __init__(self, field: FieldView, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def raw_of(f: FieldView, value: Any) -> str:
    """What an input shows for a stored value (checkboxes: "1" when set, else "")."""
    if f.type == "boolean":
        return "1" if value else ""
    if value is None or value is False:
        return ""
    if f.type == "many2one":
        found = relation_id(value)
        return "" if found is None else str(found)
    if f.type == "datetime" and isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    if f.type == "float" and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def posted_raw(fields: Sequence[FieldView], form: Mapping[str, Any]) -> dict[str, str]:
    """The posted text of each editable field, as it will be shown again if saving fails."""
    out: dict[str, str] = {}
    for f in fields:
        value = form.get(f.name)
        text = value if isinstance(value, str) else ""
        if f.type == "boolean":
            text = "1" if text else ""
        out[f.name] = text[:MAX_TEXT].replace("\r\n", "\n")
    return out


def parse(f: FieldView, raw: str) -> Any:
    """The value to send to the ORM for the posted text `raw`; raise `FormError`."""
    if f.type == "boolean":
        return bool(raw)
    text = raw if f.type == "text" else raw.strip()
    if not text:
        return None
    if f.type in {"char", "text", "selection", "date"}:
        return text
    if f.type == "integer":
        try:
            return int(text)
        except ValueError:
            raise FormError(f, f"{f.label}: enter a whole number.") from None
    if f.type == "float":
        try:
            return float(text)
        except ValueError:
            raise FormError(f, f"{f.label}: enter a number.") from None
    if f.type == "monetary":
        try:
            return Decimal(text.replace(",", ""))
        except InvalidOperation:
            raise FormError(f, f"{f.label}: enter an amount such as 1250.00.") from None
    if f.type == "many2one":
        if not text.isdigit() or int(text) <= 0:
            raise FormError(f, f"{f.label}: choose a record from the list.")
        return int(text)
    if f.type == "datetime":
        match = _DATETIME.fullmatch(text)
        if match is None:
            raise FormError(f, f"{f.label}: enter a date and time (UTC).")
        return f"{match[1]} {match[2]}{match[3] or ':00'}"
    raise FormError(f, f"{f.label} cannot be changed here.")


def canonical(f: FieldView, value: Any) -> Any:
    """A stored value in the shape `parse` returns, to tell whether a field changed."""
    return parse(f, raw_of(f, value))


def values_of(fields: Sequence[FieldView], raw: Mapping[str, str]) -> dict[str, Any]:
    """Every editable field's value from the posted text (for a new record)."""
    return {f.name: parse(f, raw.get(f.name, "")) for f in fields}


def changes(
    fields: Sequence[FieldView], raw: Mapping[str, str], current: Mapping[str, Any]
) -> dict[str, Any]:
    """The fields whose posted value differs from the stored one, with their new values."""
    out: dict[str, Any] = {}
    for f in fields:
        new = parse(f, raw.get(f.name, ""))
        try:
            old = canonical(f, current.get(f.name))
        except FormError:
            old = object()  # a stored value the form cannot show: any posted value is a change
        if new != old:
            out[f.name] = new
    return out


def for_create(fields: Sequence[FieldView], raw: Mapping[str, str]) -> dict[str, Any]:
    """Values of a new record: empty fields are left out, so the model's defaults apply."""
    return {
        name: value
        for name, value in values_of(fields, raw).items()
        if value is not None or _is_boolean(fields, name)
    }


def _is_boolean(fields: Sequence[FieldView], name: str) -> bool:
    return any(f.name == name and f.type == "boolean" for f in fields)


def field_named(message: str) -> str | None:
    """The field a `ValidationError` message names, to mark that input as invalid."""
    match = _NAMED_FIELD.match(message)
    return match[1] if match else None
