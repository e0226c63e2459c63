"""GG309: where a success condition's `all()` can be vacuously true.

`all(list, pred)` (and `none(list, pred)`) over an empty list is true in expr-lang, so a condition that
is only `all(...)` passes a canary that had no traffic at all, *if the list can be empty*.

The list of a `readMetricsValues` result cannot: the OAP answers a MINUTE-step Duration with one point
per minute bucket of the window, and a minute without data is a point `{value: 0, isEmptyValue: true}`
(apache/skywalking v10.4.0: every storage DAO's `readMetricsValues`, e.g.
`oap-server/server-storage-plugin/storage-elasticsearch-plugin/.../MetricsQueryEsDAO.java`, builds one id
per `duration.assembleDurationPoints()` and ends with `IMetricsQueryDAO.Util.sortValues(values, ids,
defaultValue)`, which adds `new KVInt(id, defaultValue, true)` (`IntValues.findValue`) for every id with
no row). MQE's `execExpression` does the same per bucket, with a null `value` for an empty one. So
`all(result.m.values.values, {...})` is never vacuous (it fails on empty minutes instead: GG308).

What can be empty is a list the condition makes smaller: `filter(...)` (e.g. dropping `isEmptyValue`
points, or `.value != nil`), a slice, or `map`/`sort`/... of one of those. GG309 fires on an `all()` or
`none()` over such a list that is a top-level conjunct of the condition, unless another top-level conjunct
requires a minimum size of the same list: `len(L) >= n` / `len(L) > n` / `count(L, ...) >= n` with n >= 1
(resp. n >= 0 for `>`).

The expression tree is expr_check's parser (the same one GG306 runs).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .. import expr_check as ec

# Functions whose result is as long as their first argument: empty when it is.
_SAME_LENGTH = frozenset({"map", "sort", "sortBy", "reverse", "uniq", "flatten", "concat"})
_VACUOUS = frozenset({"all", "none"})
_AND = frozenset({"&&", "and"})
_SIZE = frozenset({"len", "count"})


def vacuous_columns(condition: str, rollouts_version: str = ec.DEFAULT_ROLLOUTS_VERSION) -> list[int]:
    """1-based columns of each `all()`/`none()` that passes when its list is empty and nothing requires
    the list to hold a point. A condition that does not parse gives [] (GG306 reports it)."""
    try:
        # expr_check owns the parser (GG306 runs it); its tree is read here, not changed.
        tree = ec.parse(condition, rollouts_version)
    except ec.ConditionSyntaxError:
        return []
    bindings: dict[str, ec._Node] = {}
    while isinstance(tree, ec._Let):  # `let pts = filter(...); all(pts, ...)`
        bindings[tree.name] = _resolve(tree.value, bindings)
        tree = tree.body
    conjuncts = list(_conjuncts(tree))
    guarded = {_shape(_resolve(g, bindings)) for c in conjuncts if (g := _guarded_list(c)) is not None}
    columns = []
    for node in conjuncts:
        if isinstance(node, ec._Call) and node.name in _VACUOUS and node.args:
            collection = _resolve(node.args[0], bindings)
            if _can_be_empty(collection, bindings) and _shape(collection) not in guarded:
                columns.append(node.pos + 1)
    return columns


def _conjuncts(node: ec._Node) -> Iterator[ec._Node]:
    if isinstance(node, ec._Binary) and node.operator in _AND:
        yield from _conjuncts(node.left)
        yield from _conjuncts(node.right)
    else:
        yield node


def _resolve(node: ec._Node, bindings: Mapping[str, ec._Node]) -> ec._Node:
    if isinstance(node, ec._Name) and node.name in bindings:
        return bindings[node.name]
    return node


def _can_be_empty(node: ec._Node, bindings: Mapping[str, ec._Node]) -> bool:
    node = _resolve(node, bindings)
    if isinstance(node, ec._Call):
        if node.name == "filter":
            return True
        if node.name in _SAME_LENGTH and node.args:
            return _can_be_empty(node.args[0], bindings)
        return False
    if isinstance(node, ec._Slice):
        return True
    if isinstance(node, ec._Conditional):
        return _can_be_empty(node.then, bindings) or _can_be_empty(node.otherwise, bindings)
    if isinstance(node, ec._Array):
        return not node.items
    return False  # a path into `result`: SkyWalking fills every minute of the window


def _guarded_list(node: ec._Node) -> ec._Node | None:
    """The list L when `node` is `len(L) >= n` (n >= 1), `len(L) > n` (n >= 0), or the same with
    `count(L, pred)` or with the sides swapped (`n <= len(L)`)."""
    if not isinstance(node, ec._Binary):
        return None
    flipped = {"<=": ">=", "<": ">"}
    left, operator, right = node.left, node.operator, node.right
    if operator in flipped:
        left, operator, right = right, flipped[operator], left
    if operator not in (">=", ">") or not isinstance(right, ec._Literal):
        return None
    bound = right.value
    if isinstance(bound, bool) or not isinstance(bound, int | float):
        return None
    if (operator == ">=" and bound < 1) or (operator == ">" and bound < 0):
        return None
    if isinstance(left, ec._Call) and left.name in _SIZE and left.args:
        return left.args[0]
    return None


def _shape(node: Any) -> Any:
    """The node without positions, so that two spellings of the same list compare equal."""
    if isinstance(node, ec._Node):
        fields = vars(node)
        return (type(node).__name__, *(_shape(v) for k, v in sorted(fields.items()) if k != "pos"))
    if isinstance(node, tuple):
        return tuple(_shape(v) for v in node)
    return node
