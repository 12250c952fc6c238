"""A list page's query: search text, filters, sort and page, read from the URL and written back.

Only names the user's `fields_get` lists become part of a domain or an order, and filter
values are checked against the field's own choices: the URL cannot reach a hidden field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlencode

from bastion.web.records.views import ModelView

PAGE_SIZE = 80
MAX_SEARCH = 200
FILTER_PREFIX = "f_"
BOOLEAN_CHOICES = (("1", "Yes"), ("0", "No"))


@dataclass(frozen=True, slots=True)
class ListQuery:
    q: str = ""
    filters: dict[str, str] = field(default_factory=dict)
    sort: str | None = None
    desc: bool = False
    page: int = 1

    @classmethod
    def parse(cls, view: ModelView, params: Mapping[str, str]) -> ListQuery:
        q = (params.get("q") or "").strip()[:MAX_SEARCH] if view.rec_name else ""
        filters: dict[str, str] = {}
        for f in view.filters():
            value = params.get(FILTER_PREFIX + f.name) or ""
            if value in {key for key, _ in choices(f.type, f.selection)}:
                filters[f.name] = value
        sort = params.get("sort") or None
        column = view.get(sort) if sort else None
        if column is None or not column.sortable:
            sort = None
        try:
            page = max(1, int(params.get("page") or 1))
        except ValueError:
            page = 1
        return cls(q, filters, sort, sort is not None and params.get("desc") == "1", page)

    def domain(self, view: ModelView) -> list[Any]:
        leaves: list[Any] = []
        if self.q and view.rec_name:
            leaves.append((view.rec_name, "ilike", self.q))
        for name, value in self.filters.items():
            f = view.get(name)
            if f is not None and f.type == "boolean":
                leaves.append((name, "=", value == "1"))
            elif f is not None:
                leaves.append((name, "=", value))
        return leaves

    def order(self) -> str | None:
        if self.sort is None:
            return None
        return f"{self.sort} {'desc' if self.desc else 'asc'}"

    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def params(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.q:
            out["q"] = self.q
        out.update({FILTER_PREFIX + k: v for k, v in self.filters.items()})
        if self.sort:
            out["sort"] = self.sort
            if self.desc:
                out["desc"] = "1"
        if self.page > 1:
            out["page"] = str(self.page)
        return out

    def url(self, model: str, **changes: Any) -> str:
        query = replace(self, **changes).params()
        base = list_url(model)
        return f"{base}?{urlencode(query)}" if query else base

    def sort_url(self, model: str, name: str) -> str:
        """Sort by `name`; the same column again turns the order around. Back to page 1."""
        desc = self.sort == name and not self.desc
        return self.url(model, sort=name, desc=desc, page=1)


def choices(kind: str, selection: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return BOOLEAN_CHOICES if kind == "boolean" else selection


def list_url(model: str) -> str:
    return f"/web/records/{quote(model, safe='.')}"


def pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))
