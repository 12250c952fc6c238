"""Domain parsing without a database: malformed domains are refused with a message naming the
problem; valid ones become the expected tree (prefix notation, implicit AND, constants)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.core import domain as dom
from bastion.core.domain import FALSE, TRUE, And, Const, Leaf, Not, Or
from bastion.errors import ValidationError

A = ("name", "=", "a")
B = ("qty", ">", 1)
C = ("state", "in", ["draft"])

LA = Leaf("name", "=", "a")
LB = Leaf("qty", ">", 1)
LC = Leaf("state", "in", ("draft",))


def refused(domain: Any) -> str:
    with pytest.raises(ValidationError) as info:
        dom.parse(domain)
    return info.value.message


# -- malformed domains ------------------------------------------------------------------------


@pytest.mark.parametrize("domain", ["[('name', '=', 1)]", {"name": 1}, 42, b"[]", 1.5, True])
def test_domain_that_is_not_a_list_is_refused(domain: Any) -> None:
    assert "must be a list" in refused(domain)


@pytest.mark.parametrize(
    "item",
    [("name", "="), ("name",), (), ("name", "=", 1, 2), ["name", "=", "a", "b", "c"]],
    ids=["two", "one", "empty", "four", "five"],
)
def test_leaf_with_wrong_arity_is_refused(item: Any) -> None:
    message = refused([item])
    assert "Domain item 0" in message
    assert "(field, operator, value)" in message


@pytest.mark.parametrize("item", ["AND", "or", "&&", "", "name", 7, None, {"a": 1}])
def test_item_that_is_neither_operator_nor_leaf_is_refused(item: Any) -> None:
    message = refused([A, item])
    assert "Domain item 1" in message


def test_nested_list_of_leaves_is_refused() -> None:
    assert "Domain item 0" in refused([[A]])


@pytest.mark.parametrize(
    "operator",
    ["==", "<>", "=?", "not like", "not ilike", "any", "is", "between", "", " =", "= ", None, 1],
)
def test_unknown_operator_is_refused(operator: Any) -> None:
    message = refused([("name", operator, "a")])
    assert "unknown operator" in message


@pytest.mark.parametrize("operator", ["LIKE", "Ilike", "IN", "Not In", "CHILD_OF", "=LIKE"])
def test_operator_in_other_case_is_refused(operator: str) -> None:
    # the contract lists the operators in lower case; 'LIKE' is not one of them
    value: Any = ["a"] if operator.lower() in ("in", "not in", "child_of") else "a"
    assert "unknown operator" in refused([("name", operator, value)])


@pytest.mark.parametrize(
    "path",
    [
        "name; DROP",
        "name; DROP TABLE res_partner; --",
        "a..b",
        ".name",
        "name.",
        "Name",
        "NAME",
        "na me",
        "name ",
        " name",
        "1name",
        "n\u00e0me",
        "name\x00",
        "name)",
        "name--",
        'name"',
        "a.b.c.d.e.f.g.h.i",  # nine segments
        "",
        "*",
    ],
)
def test_bad_field_path_is_refused(path: str) -> None:
    assert "invalid field name" in refused([(path, "=", 1)])


@pytest.mark.parametrize("path", [1, 0, True, False, None, 2.0, ("name",), b"name"])
def test_field_path_that_is_not_text_is_refused(path: Any) -> None:
    # (1, '=', 1) and (0, '=', 1) are constants; any other non-text path is refused
    assert "invalid field name" in refused([(path, "=", 2)])


def test_booleans_are_not_the_constant_leaves() -> None:
    assert "invalid field name" in refused([(True, "=", 1)])
    assert "invalid field name" in refused([(False, "=", 1)])


def test_too_many_items_are_refused() -> None:
    domain = [A] * (dom.MAX_DOMAIN_ITEMS + 1)
    assert f"at most {dom.MAX_DOMAIN_ITEMS}" in refused(domain)


def test_domain_at_the_item_limit_parses() -> None:
    node = dom.parse([A] * dom.MAX_DOMAIN_ITEMS)
    assert isinstance(node, And)
    assert len(node.children) == dom.MAX_DOMAIN_ITEMS


@pytest.mark.parametrize(
    "domain",
    [["&"], ["&", A], ["|", A], ["|"], [A, "&"], ["&", "&", A, B], ["|", "&", A, B]],
)
def test_binary_operator_lacking_operands_is_refused(domain: list[Any]) -> None:
    assert "lacks two operands" in refused(domain)


@pytest.mark.parametrize("domain", [["!"], [A, "!"], ["&", A, "!"]])
def test_not_lacking_its_operand_is_refused(domain: list[Any]) -> None:
    assert "lacks an operand" in refused(domain)


@pytest.mark.parametrize(
    "operator", ["=", "!=", "<", ">", "<=", ">=", "like", "ilike", "=like", "=ilike"]
)
@pytest.mark.parametrize("value", [[1, 2], ("a",), []])
def test_list_value_for_single_value_operator_is_refused(operator: str, value: Any) -> None:
    message = refused([("name", operator, value)])
    assert f"'{operator}' takes a single value" in message


@pytest.mark.parametrize("operator", ["in", "not in"])
@pytest.mark.parametrize("value", [1, "a", None, False, {1, 2}, {"a": 1}, range(3)])
def test_scalar_value_for_in_is_refused(operator: str, value: Any) -> None:
    assert f"'{operator}' takes a list" in refused([("state", operator, value)])


def test_in_with_too_many_values_is_refused() -> None:
    values = list(range(dom.MAX_IN_VALUES + 1))
    assert f"more than {dom.MAX_IN_VALUES}" in refused([("id", "in", values)])


def test_error_names_the_position_of_the_bad_item() -> None:
    assert "Domain item 3" in refused(["|", A, B, ("bad path", "=", 1)])


def test_error_message_truncates_huge_values() -> None:
    message = refused([("x" * 10_000 + ";", "=", 1)])
    assert len(message) < 200


# -- valid domains ----------------------------------------------------------------------------


@pytest.mark.parametrize("domain", [None, False, [], ()])
def test_empty_domain_is_true(domain: Any) -> None:
    assert dom.parse(domain) == TRUE


def test_single_leaf_parses_to_leaf() -> None:
    assert dom.parse([A]) == LA


def test_leaf_given_as_list_parses_like_tuple() -> None:
    assert dom.parse([["name", "=", "a"]]) == LA


def test_list_values_become_tuples() -> None:
    assert dom.parse([C]) == LC
    assert dom.parse([("parent_id", "child_of", [1, 2])]) == Leaf("parent_id", "child_of", (1, 2))


def test_child_of_takes_a_single_id_too() -> None:
    assert dom.parse([("parent_id", "child_of", 3)]) == Leaf("parent_id", "child_of", 3)


def test_implicit_and_keeps_order() -> None:
    assert dom.parse([A, B, C]) == And((LA, LB, LC))


def test_prefix_or_binds_the_next_two_terms() -> None:
    assert dom.parse(["|", A, B, C]) == And((Or((LA, LB)), LC))


def test_prefix_operators_nest() -> None:
    node = dom.parse(["&", "|", A, B, "!", C])
    assert node == And((Or((LA, LB)), Not(LC)))


def test_not_of_or() -> None:
    assert dom.parse(["!", "|", A, B]) == Not(Or((LA, LB)))


def test_double_not_cancels_out() -> None:
    # leaves are two-valued, so '!' '!' x is exactly x; collapsing keeps '!' chains shallow
    assert dom.parse(["!", "!", A]) == LA
    assert dom.parse(["!", "!", "!", A]) == Not(LA)


def test_long_or_and_and_chains_stay_flat() -> None:
    leaves = [A] * 100
    assert dom.parse(["|"] * 99 + leaves) == Or(tuple([LA] * 100))
    assert dom.parse(["&"] * 99 + leaves) == And(tuple([LA] * 100))


def test_deeply_alternating_nesting_is_refused() -> None:
    domain: list[object] = []
    for level in range(dom.MAX_DEPTH + 1):
        domain += ["|" if level % 2 else "&", A]
    domain.append(A)
    assert f"at most {dom.MAX_DEPTH} levels" in refused(domain)


def test_constant_leaves() -> None:
    assert dom.parse([(1, "=", 1)]) == TRUE
    assert dom.parse([(0, "=", 1)]) == FALSE
    assert dom.parse([[1, "=", 1]]) == TRUE
    assert dom.parse(["|", (0, "=", 1), A]) == Or((FALSE, LA))


@pytest.mark.parametrize(
    "operator",
    [
        "=",
        "!=",
        "<",
        ">",
        "<=",
        ">=",
        "in",
        "not in",
        "like",
        "ilike",
        "=like",
        "=ilike",
        "child_of",
    ],
)
def test_every_operator_of_the_contract_parses(operator: str) -> None:
    value: Any = [1] if operator in ("in", "not in") else 1
    node = dom.parse([("qty", operator, value)])
    assert isinstance(node, Leaf)
    assert node.operator == operator


@pytest.mark.parametrize(
    "path", ["name", "_x", "partner_id.name", "a1.b_2.c3", "a.b.c.d.e.f.g.h", "x__y"]
)
def test_valid_paths_parse(path: str) -> None:
    assert dom.parse([(path, "=", 1)]) == Leaf(path, "=", 1)


@pytest.mark.parametrize("value", [None, False, True, 0, "", "a'b", "%_\\", 1.5, "\u202e"])
def test_values_are_kept_as_data(value: Any) -> None:
    node = dom.parse([("name", "=", value)])
    assert isinstance(node, Leaf)
    assert node.value is value or node.value == value


def test_not_in_with_empty_list_parses() -> None:
    assert dom.parse([("id", "not in", [])]) == Leaf("id", "not in", ())


def test_parse_does_not_mutate_its_input() -> None:
    domain = ["|", ("id", "in", [1, 2]), ("name", "=", "x")]
    before = copy.deepcopy(domain)
    dom.parse(domain)
    assert domain == before


# -- helpers ----------------------------------------------------------------------------------


def test_and_drops_true_and_collapses_false() -> None:
    assert dom.and_([TRUE, LA]) == LA
    assert dom.and_([LA, FALSE, LB]) == FALSE
    assert dom.and_([]) == TRUE
    assert dom.and_([LA, LB]) == And((LA, LB))


def test_or_drops_false_and_collapses_true() -> None:
    assert dom.or_([FALSE, LA]) == LA
    assert dom.or_([LA, TRUE]) == TRUE
    assert dom.or_([]) == FALSE
    assert dom.or_([LA, LB]) == Or((LA, LB))


def test_mentions_looks_at_the_head_of_every_leaf() -> None:
    node = dom.parse(["|", ("name", "=", "a"), "!", ("active", "=", False)])
    assert dom.mentions(node, "active")
    assert not dom.mentions(dom.parse([("parent_id.active", "=", True)]), "active")
    assert not dom.mentions(dom.parse([("activex", "=", True)]), "active")
    assert not dom.mentions(TRUE, "active")


# -- property: any well-formed prefix domain parses to a tree with the same leaves -----------

leaves = st.builds(
    lambda f, v: (f, "=", v),
    st.sampled_from(["name", "qty", "partner_id.name"]),
    st.integers(-5, 5),
)


@st.composite
def prefix_domains(draw: st.DrawFn, depth: int = 3) -> list[Any]:
    if depth == 0 or draw(st.booleans()):
        return [draw(leaves)]
    op = draw(st.sampled_from(["&", "|", "!"]))
    if op == "!":
        return ["!", *draw(prefix_domains(depth - 1))]
    return [op, *draw(prefix_domains(depth - 1)), *draw(prefix_domains(depth - 1))]


def _leaf_count(node: Any) -> int:
    if isinstance(node, Leaf):
        return 1
    if isinstance(node, And | Or):
        return sum(_leaf_count(c) for c in node.children)
    if isinstance(node, Not):
        return _leaf_count(node.child)
    assert isinstance(node, Const)
    return 0


@given(st.lists(prefix_domains(), min_size=1, max_size=4))
def test_well_formed_domains_parse_and_keep_every_leaf(parts: list[list[Any]]) -> None:
    domain = [item for part in parts for item in part]
    node = dom.parse(domain)
    assert _leaf_count(node) == sum(1 for item in domain if isinstance(item, tuple))
    if len(parts) > 1:
        assert isinstance(node, And)
        assert len(node.children) == len(parts)


@given(st.lists(prefix_domains(), min_size=1, max_size=3), st.sampled_from(["&", "|", "!"]))
def test_dangling_operator_at_the_end_is_refused(parts: list[list[Any]], op: str) -> None:
    domain = [item for part in parts for item in part] + [op]
    with pytest.raises(ValidationError):
        dom.parse(domain)
