"""Compile a parsed domain into a parameterised SQLAlchemy condition for one model.

Field names are looked up in the model's definition and become `Column` objects; operators are
chosen from a fixed table; values are checked by their field and always bound as parameters.
Following a relation (`partner_id.name`, `line_ids.product_id`) only reaches related records the
acting user may read: the related model's rules are part of the subquery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from bastion.core import domain as dom
from bastion.core.fields import Boolean, Field, check_text
from bastion.core.relational import MAX_ID, Many2many, Many2one, One2many, _X2many
from bastion.errors import ValidationError

if TYPE_CHECKING:
    from bastion.core.access import AccessPolicy
    from bastion.core.model import Model
    from bastion.core.registry import Registry

MAX_DEPTH = 8
LIKE_OPS = frozenset({"like", "ilike", "=like", "=ilike"})
Cond = ColumnElement[bool]


class DomainCompiler:
    """Turns domain trees into SQL conditions on behalf of one access policy."""

    def __init__(self, registry: Registry, policy: AccessPolicy) -> None:
        self.registry = registry
        self.policy = policy

    # -- entry points ----------------------------------------------------------------------------

    def where(self, model: type[Model], node: dom.Node, depth: int = 0) -> Cond:
        if depth > MAX_DEPTH:
            raise ValidationError("The domain follows relations too deeply.")
        if isinstance(node, dom.Const):
            return sa.true() if node.value else sa.false()
        if isinstance(node, dom.And):
            return sa.and_(*(self.where(model, c, depth) for c in node.children))
        if isinstance(node, dom.Or):
            return sa.or_(*(self.where(model, c, depth) for c in node.children))
        if isinstance(node, dom.Not):
            return sa.not_(self.where(model, node.child, depth))
        return self._leaf(model, node, depth)

    def readable(self, model: type[Model], depth: int = 0) -> Cond:
        """The rows of `model` the user may read, for subqueries: none without model access,
        else those its read rules allow. A path into a closed model thus reveals nothing."""
        key = ("readable", model._name, depth)
        found: Cond | None = self.policy.memo.get(key)
        if found is not None:
            return found
        if not self.policy.model_allowed(model._name, "read"):
            cond: Cond = sa.false()
        else:
            node = self.policy.rule_domain(model._name, "read")
            cond = self.where(model, node, depth + 1)
        # Compiled from the policy alone (a refusal raises and is never kept): reusable.
        self.policy.memo[key] = cond
        return cond

    def rule_condition(self, model: type[Model], operation: str) -> Cond:
        """The user's `operation` rules on `model`, compiled (kept like `readable`)."""
        key = ("rule condition", model._name, operation)
        found: Cond | None = self.policy.memo.get(key)
        if found is None:
            found = self.where(model, self.policy.rule_domain(model._name, operation))
            self.policy.memo[key] = found
        return found

    def referenced(
        self, model: type[Model], node: dom.Node, depth: int = 0
    ) -> set[tuple[str, str]]:
        """Every (model, field) a condition depends on, following relations and their rules."""
        out: set[tuple[str, str]] = set()
        if depth > MAX_DEPTH:
            return out
        if isinstance(node, dom.And | dom.Or):
            for child in node.children:
                out |= self.referenced(model, child, depth)
        elif isinstance(node, dom.Not):
            out |= self.referenced(model, node.child, depth)
        elif isinstance(node, dom.Leaf):
            current = model
            for name in node.path.split("."):
                out.add((current._name, name))
                f = current._fields.get(name)
                comodel_name = getattr(f, "comodel", None)
                if comodel_name is None:
                    break
                current = self.registry[comodel_name]
                if isinstance(f, One2many):
                    out.add((current._name, f.inverse_name))
                rules = self.policy.rule_domain(current._name, "read")
                out |= self.referenced(current, rules, depth + 1)
            if node.operator == "child_of":
                out.add((current._name, current._parent_name))
        return out

    # -- leaves -----------------------------------------------------------------------------------

    def _field(self, model: type[Model], name: str) -> Field:
        f = model._fields.get(name)
        if f is None:
            raise ValidationError(f"Unknown field '{name}' on model '{model._name}'.")
        self.policy.check_field(f, "read")
        return f

    def _leaf(self, model: type[Model], leaf: dom.Leaf, depth: int) -> Cond:
        head, _, rest = leaf.path.partition(".")
        f = self._field(model, head)
        if rest:
            if not f.relational:
                raise ValidationError(
                    f"Field '{head}' of '{model._name}' is not a relation: cannot follow "
                    f"'{leaf.path}'."
                )
            comodel = self.registry[f.comodel]  # type: ignore[attr-defined]
            inner = sa.and_(
                self.where(comodel, dom.Leaf(rest, leaf.operator, leaf.value), depth + 1),
                self.readable(comodel, depth),
            )
            return self._related_in(model, f, sa.select(comodel._table.c.id).where(inner))
        id_tree = head == "id" and leaf.operator == "child_of"
        if (leaf.operator not in f.operators and not id_tree) or (not f.store and not f.relational):
            raise ValidationError(
                f"Operator '{leaf.operator}' cannot be used on field '{head}' of "
                f"'{model._name}' ({f.type})."
            )
        if isinstance(f, _X2many):
            return self._x2many(model, f, leaf, depth)
        col = model._table.c[head]
        if isinstance(f, Many2one):
            if leaf.operator in LIKE_OPS:
                return self._m2o_name(f, col, leaf, depth)
            if leaf.operator == "child_of":
                return _guarded_in(col, self._child_of(self.registry[f.comodel], leaf, depth))
        elif leaf.operator == "child_of":
            if head != "id":
                raise ValidationError(f"Operator 'child_of' needs a relation, not '{head}'.")
            return _guarded_in(col, self._child_of(model, leaf, depth))
        return self._scalar(f, col, leaf)

    def _value(self, f: Field, value: Any, leaf: dom.Leaf) -> Any:
        if value is None or value is False:
            return None
        if f.name == "id" or isinstance(f, Many2one):
            if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_ID:
                raise ValidationError(
                    f"Domain value for '{leaf.path}' must be a record id, not {value!r:.40}."
                )
            return value
        try:
            return f.to_db(value)
        except ValidationError as exc:
            raise ValidationError(f"Domain value for '{leaf.path}': {exc.message}") from None

    def _scalar(self, f: Field, col: Any, leaf: dom.Leaf) -> Cond:
        """A two-valued condition (never SQL NULL), so that '!' is an exact complement."""
        op, value = leaf.operator, leaf.value
        if op in LIKE_OPS:
            if not isinstance(value, str):
                raise ValidationError(f"Operator '{op}' on '{leaf.path}' needs a text value.")
            problem = check_text(value)
            if problem is None and (len(value) - len(value.rstrip("\\"))) % 2:
                problem = "ends with a lone escape character '\\'"
            if problem is not None:
                raise ValidationError(
                    f"Operator '{op}' on '{leaf.path}' needs a text value, which {problem}."
                )
            pattern = value if op.startswith("=") else f"%{value}%"
            if op in ("ilike", "=ilike"):
                match = sa.func.lower(col).like(sa.func.lower(sa.literal(pattern)), escape="\\")
            else:
                match = col.like(pattern, escape="\\")
            return sa.and_(col.is_not(None), match)
        if op in ("in", "not in"):
            values = value if isinstance(value, tuple) else (value,)
            positive = self._in_values(f, col, values, leaf)
            return positive if op == "in" else sa.not_(positive)
        if op in ("=", "!="):
            positive = self._in_values(f, col, (value,), leaf)
            return positive if op == "=" else sa.not_(positive)
        v = self._value(f, value, leaf)
        if v is None:
            raise ValidationError(f"Operator '{op}' on '{leaf.path}' needs a value, not False.")
        comparisons = {"<": col < v, ">": col > v, "<=": col <= v, ">=": col >= v}
        return sa.and_(col.is_not(None), comparisons[op])

    def _in_values(self, f: Field, col: Any, values: tuple[Any, ...], leaf: dom.Leaf) -> Cond:
        """Rows whose value is one of `values`; False/None stand for "not set"."""
        empty = any(v is None or v is False for v in values)
        checked = [self._value(f, v, leaf) for v in values if v is not None and v is not False]
        if isinstance(f, Boolean):
            # a boolean that is not set reads as False
            parts: list[Cond] = []
            if True in checked:
                parts.append(sa.and_(col.is_not(None), col == sa.true()))
            if empty:
                parts.append(sa.or_(col.is_(None), col == sa.false()))
            return sa.or_(*parts) if parts else sa.false()
        parts = []
        if checked:
            parts.append(
                sa.and_(
                    col.is_not(None), col.in_(checked) if len(checked) > 1 else col == checked[0]
                )
            )
        if empty:
            parts.append(col.is_(None))
        return sa.or_(*parts) if parts else sa.false()

    def _m2o_name(self, f: Many2one, col: Any, leaf: dom.Leaf, depth: int) -> Cond:
        comodel = self.registry[f.comodel]
        rec = comodel.rec_name()
        if rec is None:
            raise ValidationError(f"Records of '{f.comodel}' have no name to search.")
        inner = sa.and_(
            self.where(comodel, dom.Leaf(rec, leaf.operator, leaf.value), depth + 1),
            self.readable(comodel, depth),
        )
        return _guarded_in(col, sa.select(comodel._table.c.id).where(inner))

    def _child_of(self, model: type[Model], leaf: dom.Leaf, depth: int) -> sa.Select[Any]:
        parent = model._fields.get(model._parent_name)
        if not isinstance(parent, Many2one) or parent.comodel != model._name:
            raise ValidationError(f"Records of '{model._name}' have no hierarchy for 'child_of'.")
        values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
        ids = [self._value(model._fields["id"], v, leaf) for v in values]
        table = model._table
        # unnamed: a domain may hold several child_of leaves, each with its own tree
        tree = sa.select(table.c.id).where(table.c.id.in_(ids)).cte(recursive=True)
        child = table.alias()
        tree = tree.union(sa.select(child.c.id).where(child.c[model._parent_name] == tree.c.id))
        return sa.select(tree.c.id).where(
            tree.c.id.in_(sa.select(table.c.id).where(self.readable(model, depth)))
        )

    def _x2many(self, model: type[Model], f: _X2many, leaf: dom.Leaf, depth: int) -> Cond:
        op, value = leaf.operator, leaf.value
        values = value if isinstance(value, tuple) else (value,)
        if not values:  # 'in' nothing matches nothing; 'not in' nothing matches everything
            return sa.false() if op == "in" else sa.true()
        empty_test = all(v is False or v is None for v in values)
        comodel = self.registry[f.comodel]
        if empty_test:
            links = self._links(f, comodel, None, depth)
            has_any = model._table.c.id.in_(links)
            return sa.not_(has_any) if op in ("=", "in") else has_any
        ids = [self._value(comodel._fields["id"], v, leaf) for v in values if v is not False]
        linked: Cond = model._table.c.id.in_(self._links(f, comodel, ids, depth))
        if any(v is False or v is None for v in values):
            # False in the list also matches records linked to nothing
            unlinked = sa.not_(model._table.c.id.in_(self._links(f, comodel, None, depth)))
            linked = sa.or_(linked, unlinked)
        return linked if op in ("=", "in") else sa.not_(linked)

    def _links(
        self, f: _X2many, comodel: type[Model], ids: list[int] | None, depth: int
    ) -> sa.Select[Any]:
        """Parent ids linked through `f` to readable related records (optionally among `ids`)."""
        co = comodel._table
        readable = self.readable(comodel, depth)
        if isinstance(f, One2many):
            inverse = co.c[f.inverse_name]
            cond = sa.and_(inverse.is_not(None), readable)
            if ids is not None:
                cond = sa.and_(cond, co.c.id.in_(ids))
            return sa.select(inverse).where(cond)
        assert isinstance(f, Many2many)
        rel = self.registry.relations[f.relation]
        cond = rel.c[f.column2].in_(sa.select(co.c.id).where(readable))
        if ids is not None:
            cond = sa.and_(cond, rel.c[f.column2].in_(ids))
        return sa.select(rel.c[f.column1]).where(cond)

    def _related_in(self, model: type[Model], f: Field, sub: sa.Select[Any]) -> Cond:
        """Records of `model` whose relation `f` reaches one of the ids selected by `sub`."""
        if isinstance(f, Many2one):
            return _guarded_in(model._table.c[f.name], sub)
        if isinstance(f, One2many):
            co = self.registry[f.comodel]._table
            inverse = co.c[f.inverse_name]
            # children without a parent must not put a NULL in the list (NOT IN would fail)
            return model._table.c.id.in_(
                sa.select(inverse).where(inverse.is_not(None), co.c.id.in_(sub))
            )
        if isinstance(f, Many2many):
            rel = self.registry.relations[f.relation]
            return model._table.c.id.in_(
                sa.select(rel.c[f.column1]).where(rel.c[f.column2].in_(sub))
            )
        raise ValidationError(f"Field '{f.name}' cannot be followed.")


def _guarded_in(col: Any, sub: sa.Select[Any]) -> Cond:
    """`col IN (sub)` that is False, not NULL, when the column is empty."""
    return sa.and_(col.is_not(None), col.in_(sub))
