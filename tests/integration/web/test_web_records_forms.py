"""How the records UI reads `fields_get` and posted text: columns, filters, values, changes.

No database: these are the pure parts behind the pages (`bastion.web.records.views/forms`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from bastion.web.records.forms import FormError, changes, field_named, for_create, parse, raw_of
from bastion.web.records.listing import ListQuery
from bastion.web.records.views import FieldView, ModelView, display

ORDER_FIELDS: dict[str, dict[str, Any]] = {
    "id": {"type": "integer", "string": "ID", "store": True, "sortable": True},
    "name": {"type": "char", "string": "Reference", "required": True, "sortable": True},
    "partner_id": {
        "type": "many2one", "string": "Customer", "relation": "res.partner", "required": True,
        "sortable": True,
    },
    "note": {"type": "text", "string": "Notes", "sortable": True},
    "state": {
        "type": "selection", "string": "Status", "sortable": True,
        "selection": [["draft", "Quotation"], ["sale", "Sales order"]],
    },
    "paid": {"type": "boolean", "string": "Paid", "sortable": True},
    "active": {"type": "boolean", "string": "Active", "sortable": True},
    "amount": {"type": "monetary", "string": "Total", "readonly": True, "sortable": True},
    "line_ids": {"type": "one2many", "string": "Lines", "relation": "x.line", "sortable": False},
    "create_date": {"type": "datetime", "string": "Created on", "sortable": True},
}  # fmt: skip
VIEW = ModelView.build("x.order", "Order", ORDER_FIELDS, "name")


def field(name: str) -> FieldView:
    found = VIEW.get(name)
    assert found is not None
    return found


def test_columns_start_with_the_name_and_skip_text_relations_and_server_fields() -> None:
    names = [f.name for f in VIEW.columns()]
    assert names[0] == "name"
    assert {"partner_id", "state", "amount", "paid"} <= set(names)
    assert not {"note", "line_ids", "create_date", "id", "active"} & set(names)


def test_a_name_field_the_user_cannot_read_is_not_the_records_name() -> None:
    hidden = {k: v for k, v in ORDER_FIELDS.items() if k != "name"}
    assert ModelView.build("x.order", "Order", hidden, "name").rec_name is None


def test_filters_are_selections_and_booleans_with_active_last() -> None:
    assert [f.name for f in VIEW.filters()] == ["state", "paid", "active"]


def test_server_fields_and_x2many_are_never_editable() -> None:
    editable = {f.name for f in VIEW.editable}
    assert editable == {"name", "partner_id", "note", "state", "paid", "active"}


def test_list_query_keeps_only_known_fields_and_choices() -> None:
    query = ListQuery.parse(
        VIEW,
        {"q": " acme ", "f_state": "sale", "f_paid": "0", "f_amount": "5", "sort": "note",
         "desc": "1", "page": "3"},
    )  # fmt: skip
    assert query.domain(VIEW) == [
        ("name", "ilike", "acme"),
        ("state", "=", "sale"),
        ("paid", "=", False),
    ]
    assert query.order() == "note desc" and query.offset() == 160
    assert (
        query.url("x.order", page=1)
        == "/web/records/x.order?q=acme&f_state=sale&f_paid=0&sort=note&desc=1"
    )


def test_list_query_drops_unknown_values() -> None:
    query = ListQuery.parse(
        VIEW, {"f_state": "bogus", "sort": "line_ids", "page": "-4", "f_secret": "1"}
    )
    assert query.domain(VIEW) == [] and query.order() is None and query.page == 1


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("name", "  Acme  ", "Acme"),
        ("name", "   ", None),
        ("note", "line 1\nline 2 ", "line 1\nline 2 "),
        ("partner_id", "12", 12),
        ("partner_id", "", None),
        ("paid", "1", True),
        ("paid", "", False),
        ("state", "sale", "sale"),
    ],
)
def test_posted_text_becomes_the_orm_value(name: str, raw: str, value: object) -> None:
    assert parse(field(name), raw) == value


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        ("integer", "42", 42),
        ("float", "2.5", 2.5),
        ("monetary", "1,250.50", Decimal("1250.50")),
        ("datetime", "2026-03-02T09:30", "2026-03-02 09:30:00"),
        ("datetime", "2026-03-02T09:30:15", "2026-03-02 09:30:15"),
        ("date", "2026-03-02", "2026-03-02"),
    ],
)
def test_typed_text_becomes_the_orm_value(kind: str, raw: str, value: object) -> None:
    assert parse(FieldView("x", "X", kind), raw) == value


@pytest.mark.parametrize(
    ("kind", "raw"),
    [("integer", "4.5"), ("float", "many"), ("monetary", "12 EUR"), ("datetime", "tomorrow"),
     ("many2one", "12; drop"), ("many2one", "-3")],
)  # fmt: skip
def test_text_that_is_not_of_the_fields_type_is_refused(kind: str, raw: str) -> None:
    with pytest.raises(FormError, match=r"^X: "):
        parse(FieldView("x", "X", kind), raw)


def test_stored_values_show_as_input_text_and_back() -> None:
    when = dt.datetime(2026, 3, 2, 9, 30, 0)
    assert raw_of(FieldView("d", "D", "datetime"), when) == "2026-03-02T09:30:00"
    assert raw_of(field("partner_id"), (7, "Acme")) == "7"
    assert raw_of(field("partner_id"), (7, None)) == "7"
    assert raw_of(field("paid"), False) == ""
    assert raw_of(FieldView("f", "F", "float"), 3.0) == "3"


def test_only_changed_fields_are_written() -> None:
    record = {"name": "S001", "partner_id": (7, "Acme"), "note": None, "paid": True}
    fields = [field("name"), field("partner_id"), field("note"), field("paid")]
    raw = {"name": "S001", "partner_id": "7", "note": "", "paid": ""}
    assert changes(fields, raw, record) == {"paid": False}


def test_a_new_record_leaves_empty_fields_to_the_models_defaults() -> None:
    fields = [field("name"), field("state"), field("paid")]
    assert for_create(fields, {"name": "", "state": "", "paid": ""}) == {"paid": False}


def test_display_shows_labels_names_and_restricted_relations() -> None:
    assert display(field("state"), "sale") == "Sales order"
    assert display(field("partner_id"), (7, None)) == "Restricted record"
    assert display(field("paid"), None) == "No"
    assert display(field("amount"), Decimal("1234.5")) == "1,234.50"


def test_the_field_a_validation_message_names_is_found() -> None:
    assert field_named("Field 'name' of 'res.partner' is required.") == "name"
    assert field_named("You are not allowed to write.") is None
