"""Each demo role's rights, as one table every client library is run against: what the role
may do (checked on the result), and its denied twin, which must fail with AccessError."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: (model, method, args, kwargs) -> result, through one client library; raises its error.
Call = Callable[[str, str, list[Any], dict[str, Any]], Any]


@dataclass(frozen=True)
class Role:
    login: str
    allowed: Callable[[Call, int], None]
    denied: Callable[[Call, int], Any]

    def __str__(self) -> str:
        return self.login


def _orders(call: Call) -> list[dict[str, Any]]:
    return call("sale.order", "search_read", [[]], {"fields": ["name", "user_id", "state"]})  # type: ignore[no-any-return]


def _sales_allowed(call: Call, uid: int) -> None:
    orders = _orders(call)
    assert orders, "a salesperson sees their own orders"
    assert {o["user_id"][0] for o in orders} == {uid}


def _manager_allowed(call: Call, uid: int) -> None:
    orders = _orders(call)
    assert len({o["user_id"][0] for o in orders if o["user_id"]}) > 1, "every salesperson's"


def _hr_allowed(call: Call, uid: int) -> None:
    rows = call("hr.employee", "search_read", [[]], {"fields": ["name", "salary"]})
    assert len(rows) > 1 and all("salary" in row for row in rows)


def _accountant_allowed(call: Call, uid: int) -> None:
    orders = _orders(call)
    assert len({o["user_id"][0] for o in orders if o["user_id"]}) > 1


def _accountant_denied(call: Call, uid: int) -> Any:
    order = _orders(call)[0]
    return call("sale.order", "write", [[order["id"]], {"client_order_ref": "changed"}], {})


def _employee_allowed(call: Call, uid: int) -> None:
    rows = call("hr.employee", "search_read", [[]], {"fields": ["name", "user_id"]})
    assert [row["user_id"][0] for row in rows] == [uid]


ROLES = (
    Role(
        "sales",
        _sales_allowed,
        lambda call, uid: call("hr.employee", "search_read", [[]], {"fields": ["salary"]}),
    ),
    Role(
        "salesmanager",
        _manager_allowed,
        lambda call, uid: call("res.company", "write", [[1], {"name": "Renamed"}], {}),
    ),
    Role("hr", _hr_allowed, lambda call, uid: call("sale.order", "search", [[]], {})),
    Role("accountant", _accountant_allowed, _accountant_denied),
    Role(
        "employee",
        _employee_allowed,
        lambda call, uid: call("sale.order", "search_read", [[]], {"fields": ["name"]}),
    ),
)
