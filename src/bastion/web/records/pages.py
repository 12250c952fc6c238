"""The work behind each records page, run in a worker thread: ORM calls in, page data out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from bastion.errors import BastionError, UserError, ValidationError
from bastion.web.records.forms import FormError, changes, for_create, posted_raw
from bastion.web.records.formview import (
    FormPage,
    build_form,
    editable_fields,
    record_url,
    relation_link,
    static_defaults,
)
from bastion.web.records.listing import PAGE_SIZE, ListQuery, choices, list_url, pages
from bastion.web.records.orm import RecordsOrm
from bastion.web.records.views import FieldView, ModelView, display, record_title


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    link: str | None = None


@dataclass(frozen=True, slots=True)
class Filter:
    field: FieldView
    choices: tuple[tuple[str, str], ...]
    value: str


@dataclass(slots=True)
class ListPage:
    view: ModelView
    query: ListQuery
    columns: tuple[FieldView, ...]
    filters: list[Filter]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)
    total: int = 0
    can_create: bool = False
    error: str | None = None

    @property
    def url(self) -> str:
        return list_url(self.view.model)

    @property
    def pages(self) -> int:
        return pages(self.total)

    @property
    def first(self) -> int:
        return min(self.total, self.query.offset() + 1)

    @property
    def last(self) -> int:
        return min(self.total, self.query.offset() + PAGE_SIZE)

    def page_url(self, page: int) -> str:
        return self.query.url(self.view.model, page=page)

    def sort_url(self, name: str) -> str:
        return self.query.sort_url(self.view.model, name)


@dataclass(frozen=True, slots=True)
class Refused:
    """A save the ORM or the form refused: the form to show again, and why."""

    form: FormPage
    error: BastionError | FormError


def list_page(orm: RecordsOrm, model: str, params: Mapping[str, str]) -> ListPage:
    view = orm.view(model)  # AccessError without read access
    query = ListQuery.parse(view, params)
    columns = view.columns()
    filters = [
        Filter(f, choices(f.type, f.selection), query.filters.get(f.name, ""))
        for f in view.filters()
    ]
    listing = ListPage(view, query, columns, filters, can_create=orm.can(model, "create"))
    domain = query.domain(view)
    try:
        listing.total = int(orm.call(model, "search_count", domain))
        if query.page > pages(listing.total):
            listing.query = query = replace(query, page=pages(listing.total))
        records = orm.call(
            model,
            "search_read",
            domain,
            [c.name for c in columns],
            offset=query.offset(),
            limit=PAGE_SIZE,
            order=query.order(),
        )
    except ValidationError as exc:  # a search text the domain refuses (a lone backslash)
        listing.error, listing.total = exc.message, 0
        return listing
    for record in records:
        url = record_url(model, int(record["id"]))
        cells = [_cell(c, record.get(c.name)) for c in columns]
        listing.rows.append((url, cells))
    return listing


def _cell(f: FieldView, value: Any) -> Cell:
    return Cell(display(f, value), relation_link(f, value))


def existing_form(orm: RecordsOrm, model: str, record_id: int) -> FormPage:
    view = orm.view(model)
    record = orm.read_one(view, record_id)
    return build_form(orm, view, orm.rights(model), record)


def new_form(orm: RecordsOrm, model: str) -> FormPage:
    orm.call(model, "check_access_rights", "create")  # the ORM's own refusal, as a 403 page
    view = orm.view(model)
    return build_form(orm, view, orm.rights(model), None, defaults=static_defaults(orm, view))


def save(orm: RecordsOrm, model: str, record_id: int, posted: Mapping[str, Any]) -> str | Refused:
    """Write what changed; the record's URL, or the form to show again."""
    view = orm.view(model)
    record = orm.read_one(view, record_id)
    rights = orm.rights(model)
    fields = [f for f in editable_fields(orm, view, rights, new=False) if f.name in posted]
    raw = posted_raw(fields, posted)
    try:
        vals = changes(fields, raw, record)
        # Called even when nothing changed: the ORM checks the write right and record rules.
        orm.call(model, "write", [record_id], vals)
    except (FormError, ValidationError, UserError) as exc:
        return Refused(build_form(orm, view, rights, record, raw), exc)
    return record_url(model, record_id)


def create(orm: RecordsOrm, model: str, posted: Mapping[str, Any]) -> str | Refused:
    view = orm.view(model)
    rights = orm.rights(model)
    fields = [f for f in editable_fields(orm, view, rights, new=True) if f.name in posted]
    raw = posted_raw(fields, posted)
    try:
        new_id = orm.call(model, "create", for_create(fields, raw))
    except (FormError, ValidationError, UserError) as exc:
        return Refused(build_form(orm, view, rights, None, raw), exc)
    return record_url(model, int(new_id))


def delete_page(orm: RecordsOrm, model: str, record_id: int) -> FormPage:
    view = orm.view(model)
    record = orm.read_one(view, record_id)
    orm.call(model, "check_access_rights", "unlink")  # the ORM's own refusal, as a 403 page
    return FormPage(view, orm.rights(model), record_id, record_title(view, record))


def delete(orm: RecordsOrm, model: str, record_id: int) -> str:
    orm.call(model, "unlink", [record_id])
    return list_url(model)
