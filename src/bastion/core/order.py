"""Parse an Odoo order clause ("name desc, id") into SQLAlchemy order-by terms.

Each term must name a stored, sortable field the user may read; nothing of the text reaches SQL.
Empty values sort last ascending and first descending, on both backends.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from bastion.core.relational import Many2one
from bastion.errors import ValidationError

if TYPE_CHECKING:
    from bastion.core.access import AccessPolicy
    from bastion.core.model import Model

TERM = re.compile(r"\s*([a-z_][a-z0-9_]*)(?:\s+(asc|desc))?\s*", re.IGNORECASE)
MAX_TERMS = 8


def parse_order(model: type[Model], order: str | None, policy: AccessPolicy) -> list[Any]:
    text = model._order if order is None or order == "" else order
    if not isinstance(text, str) or len(text) > 400:
        raise ValidationError("An order must be text such as 'name desc, id'.")
    terms: list[Any] = []
    seen: set[str] = set()
    for part in text.split(","):
        match = TERM.fullmatch(part)
        if match is None:
            raise ValidationError(
                f"Invalid order term {part.strip()[:60]!r}: use 'field [asc|desc]'."
            )
        name, direction = match.group(1), (match.group(2) or "asc").lower()
        f = model._fields.get(name)
        if f is None:
            raise ValidationError(f"Cannot order '{model._name}' by unknown field '{name}'.")
        if (
            not f.store
            or (f.relational and not isinstance(f, Many2one))
            or f.type in ("json", "password")
        ):
            raise ValidationError(f"Cannot order '{model._name}' by field '{name}'.")
        policy.check_field(f, "read")
        if name in seen:
            continue
        seen.add(name)
        col = model._table.c[name]
        terms.append(col.asc().nulls_last() if direction == "asc" else col.desc().nulls_first())
    if len(terms) > MAX_TERMS:
        raise ValidationError(f"An order may name at most {MAX_TERMS} fields.")
    if "id" not in seen:
        terms.append(model._table.c.id.asc())
    return terms
