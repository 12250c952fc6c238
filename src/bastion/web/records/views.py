"""Views generated from `fields_get`: which fields a list shows, which a form edits, the filters.

Everything here works on what `fields_get` returned for the signed-in user, so a field the
user may not read (field groups) never reaches a view: it is not in the description at all.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

#: Fields the server sets: shown as record information, never edited.
MAGIC = ("id", "create_uid", "create_date", "write_uid", "write_date")
#: Types a form can edit (x2many, JSON and binary values are shown, not edited, for now).
EDITABLE = frozenset(
    {"char", "text", "integer", "float", "monetary", "boolean", "date", "datetime", "selection",
     "many2one"}
)  # fmt: skip
#: Types a list may show as a column.
LISTABLE = EDITABLE - {"text"}
X2MANY = frozenset({"one2many", "many2many"})
MAX_COLUMNS = 8
MAX_FILTERS = 6
RESTRICTED = "Restricted record"


@dataclass(frozen=True, slots=True)
class FieldView:
    """One field as the views use it, built from its `fields_get` entry."""

    name: str
    label: str
    type: str
    required: bool = False
    readonly: bool = False
    sortable: bool = False
    relation: str | None = None
    selection: tuple[tuple[str, str], ...] = ()
    size: int | None = None
    help: str = ""

    @classmethod
    def from_description(cls, name: str, desc: Mapping[str, Any]) -> FieldView:
        selection = tuple(
            (str(pair[0]), str(pair[1]))
            for pair in desc.get("selection") or ()
            if isinstance(pair, list | tuple) and len(pair) == 2
        )
        size = desc.get("size")
        return cls(
            name=name,
            label=str(desc.get("string") or name),
            type=str(desc.get("type") or "char"),
            required=bool(desc.get("required")),
            readonly=bool(desc.get("readonly")) or name in MAGIC,
            sortable=bool(desc.get("sortable")) and bool(desc.get("store", True)),
            relation=desc.get("relation") if isinstance(desc.get("relation"), str) else None,
            selection=selection,
            size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            help=str(desc.get("help") or ""),
        )

    @property
    def editable(self) -> bool:
        return not self.readonly and self.type in EDITABLE

    @property
    def x2many(self) -> bool:
        return self.type in X2MANY


@dataclass(frozen=True, slots=True)
class ModelView:
    """The fields of one model the user may read, in declaration order, and its name field."""

    model: str
    label: str
    fields: tuple[FieldView, ...]
    rec_name: str | None

    @classmethod
    def build(
        cls,
        model: str,
        label: str,
        described: Mapping[str, Mapping[str, Any]],
        rec_name: str | None,
    ) -> ModelView:
        views = tuple(FieldView.from_description(n, d) for n, d in described.items())
        # The name field only counts if this user may read it.
        readable = {v.name for v in views}
        return cls(model, label, views, rec_name if rec_name in readable else None)

    def get(self, name: str) -> FieldView | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def body(self) -> tuple[FieldView, ...]:
        """The form's main fields: everything but relations listed apart and server fields."""
        return tuple(f for f in self.fields if f.name not in MAGIC and not f.x2many)

    @property
    def relations(self) -> tuple[FieldView, ...]:
        return tuple(f for f in self.fields if f.x2many)

    @property
    def info(self) -> tuple[FieldView, ...]:
        return tuple(f for f in self.fields if f.name in MAGIC and f.name != "id")

    @property
    def editable(self) -> tuple[FieldView, ...]:
        return tuple(f for f in self.body if f.editable)

    def columns(self) -> tuple[FieldView, ...]:
        """The list's columns: the name first, then required, state-like and relation fields,
        in declaration order, at most `MAX_COLUMNS`."""

        def rank(f: FieldView) -> int:
            if f.name == self.rec_name:
                return 0
            if f.required:
                return 1
            if f.type in {"selection", "monetary"}:
                return 2
            return 3 if f.type == "many2one" else 4

        candidates = [
            f
            for f in self.fields
            if f.type in LISTABLE and f.name not in MAGIC and f.name != "active"
        ]
        order = {f.name: i for i, f in enumerate(candidates)}
        chosen = sorted(candidates, key=lambda f: (rank(f), order[f.name]))[:MAX_COLUMNS]
        first = [f for f in chosen if f.name == self.rec_name]
        rest = sorted((f for f in chosen if f.name != self.rec_name), key=lambda f: order[f.name])
        return (*first, *rest)

    def filters(self) -> tuple[FieldView, ...]:
        """Simple filters: selection and boolean fields (`active` last: it shows archives)."""
        found = [f for f in self.fields if f.type in {"selection", "boolean"} and f.sortable]
        found.sort(key=lambda f: f.name == "active")
        return tuple(found[:MAX_FILTERS])


def display(f: FieldView, value: Any) -> str:
    """A stored value as text for a list cell or a read-only form field."""
    if f.type == "boolean":
        return "Yes" if value else "No"
    if value is None or value is False:
        return ""
    if f.type == "many2one":
        return relation_name(value)
    if f.type == "selection":
        return dict(f.selection).get(str(value), str(value))
    if f.type == "monetary" and isinstance(value, Decimal | int | float):
        return f"{Decimal(str(value)):,.2f}"
    if f.type == "datetime" and isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, dt.date):
        return value.isoformat()
    if f.type == "json":
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if f.type == "binary":
        return "(file)"
    if isinstance(value, list | tuple):
        return f"{len(value)} record(s)"
    return str(value)


def relation_name(value: Any) -> str:
    """A many2one read as `(id, name)`; the name is None when the user may not read it."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return RESTRICTED if value[1] is None else str(value[1])
    return str(value)


def relation_id(value: Any) -> int | None:
    if isinstance(value, list | tuple) and value and isinstance(value[0], int):
        return value[0]
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def record_title(view: ModelView, record: Mapping[str, Any]) -> str:
    name = record.get(view.rec_name) if view.rec_name else None
    if isinstance(name, str) and name.strip():
        return name
    return f"{view.label} #{record.get('id')}"


def ids_of(value: Any) -> list[int]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [i for i in value if isinstance(i, int) and not isinstance(i, bool)]
