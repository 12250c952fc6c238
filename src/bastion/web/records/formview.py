"""What a form page shows: one widget per field the user may read, editable where allowed.

The editable fields of a save are worked out the same way as those of the page, so a field
shown read-only (a many2one into a model the user cannot read, say) is never written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bastion.web.records.forms import raw_of
from bastion.web.records.listing import list_url
from bastion.web.records.orm import RecordsOrm, Rights
from bastion.web.records.views import (
    RESTRICTED,
    FieldView,
    ModelView,
    display,
    ids_of,
    record_title,
    relation_id,
    relation_name,
)

INPUT_TYPES = {
    "char": "text",
    "integer": "number",
    "float": "number",
    "monetary": "text",
    "date": "date",
    "datetime": "datetime-local",
}


@dataclass(frozen=True, slots=True)
class Widget:
    """One field on a form: `kind` picks the template's markup."""

    field: FieldView
    kind: str  # input, textarea, checkbox, select, picker, readonly
    raw: str = ""
    text: str = ""
    link: str | None = None
    choices: tuple[tuple[str, str], ...] = ()
    input_type: str = "text"


@dataclass(frozen=True, slots=True)
class Relation:
    field: FieldView
    names: tuple[tuple[int, str], ...]
    total: int
    readable: bool


@dataclass(slots=True)
class FormPage:
    """Everything `records/form.html` needs."""

    view: ModelView
    rights: Rights
    record_id: int | None
    title: str
    widgets: list[Widget] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    info: list[Widget] = field(default_factory=list)
    invalid: str | None = None

    @property
    def editing(self) -> bool:
        return self.rights.create if self.record_id is None else self.rights.write

    @property
    def list_url(self) -> str:
        return list_url(self.view.model)

    @property
    def url(self) -> str:
        suffix = "new" if self.record_id is None else str(self.record_id)
        return f"{self.list_url}/{suffix}"


def record_url(model: str, record_id: int) -> str:
    return f"{list_url(model)}/{record_id}"


def editable_fields(orm: RecordsOrm, view: ModelView, rights: Rights, new: bool) -> list[FieldView]:
    """The fields this user may change on this form (blocking: asks about related models)."""
    if not (rights.create if new else rights.write):
        return []
    readable: dict[str, bool] = {}
    out: list[FieldView] = []
    for f in view.editable:
        if f.type == "many2one":
            if f.relation is None:
                continue
            if f.relation not in readable:
                readable[f.relation] = orm.can(f.relation, "read")
            if not readable[f.relation]:
                continue  # one could only pick blind ids: shown read-only instead
        out.append(f)
    return out


def build_form(  # noqa: PLR0917 - the parts of a page, all needed
    orm: RecordsOrm,
    view: ModelView,
    rights: Rights,
    record: Mapping[str, Any] | None,
    raw: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> FormPage:
    """The page of `record` (None: a new one); `raw` holds posted text to show again."""
    new = record is None
    current: Mapping[str, Any] = record if record is not None else (defaults or {})
    title = f"New {view.label}" if new else record_title(view, current)
    rid = None if record is None else int(record["id"])
    page = FormPage(view, rights, rid, title)
    editable = {f.name for f in editable_fields(orm, view, rights, new)}
    for f in view.body:
        value = current.get(f.name)
        if f.name not in editable:
            if not new:
                page.widgets.append(_readonly(f, value))
            continue
        text = raw[f.name] if raw is not None and f.name in raw else raw_of(f, value)
        page.widgets.append(_editable(orm, f, text, value))
    if not new:
        for f in view.relations:
            ids = ids_of(current.get(f.name))
            readable = f.relation is not None and orm.can(f.relation, "read")
            names = orm.names_of(f.relation, ids) if readable and f.relation else []
            page.relations.append(Relation(f, tuple(names), len(ids), readable))
        page.info = [_readonly(f, current.get(f.name)) for f in view.info]
    return page


def relation_link(f: FieldView, value: Any) -> str | None:
    """The form of a many2one's target, when the user may read it (else no link)."""
    found = relation_id(value) if f.type == "many2one" else None
    if f.relation is None or found is None or relation_name(value) == RESTRICTED:
        return None
    return record_url(f.relation, found)


def _readonly(f: FieldView, value: Any) -> Widget:
    return Widget(f, "readonly", text=display(f, value), link=relation_link(f, value))


def _editable(orm: RecordsOrm, f: FieldView, text: str, value: Any) -> Widget:
    if f.type == "boolean":
        return Widget(f, "checkbox", raw=text)
    if f.type == "text":
        return Widget(f, "textarea", raw=text)
    if f.type == "selection":
        return Widget(f, "select", raw=text, choices=f.selection)
    if f.type == "many2one" and f.relation:
        chosen = int(text) if text.isdigit() else None
        current: list[tuple[int, str | None]] = []
        if chosen is not None:
            name = relation_name(value) if relation_id(value) == chosen else None
            if name is None or name == RESTRICTED:
                name = orm.name_of(f.relation, chosen)
            current.append((chosen, name))
        found = orm.picker_choices(f.relation, current) or []
        options = tuple((str(i), n) for i, n in found)
        return Widget(f, "picker", raw=text, choices=options)
    return Widget(f, "input", raw=text, input_type=INPUT_TYPES.get(f.type, "text"))


def static_defaults(orm: RecordsOrm, view: ModelView) -> dict[str, Any]:
    """Plain declared defaults to prefill a new record's form (computed ones apply on save)."""
    fields = orm.tenant.registry[view.model]._fields
    out: dict[str, Any] = {}
    for f in view.editable:
        declared = fields.get(f.name)
        default = getattr(declared, "default", None)
        if default is not None and not callable(default):
            out[f.name] = default
    return out
