"""Evaluate an Argo Rollouts successCondition/failureCondition, and classify a SkyWalking measurement.

`evaluate(condition, result, rollouts_version)` runs a condition over the provider's data the way the
analysis controller does (utils/evaluate/evaluate.go EvalCondition): it compiles with expr_check (a
condition that does not compile is an error), then walks expr_check's syntax tree with the runtime
semantics of expr (vm/runtime of expr-lang/expr v1.17.8 for Argo Rollouts v1.10 / master, of
antonmedv/expr v1.15.5 for v1.9). `classify(body, success, failure, rollouts_version)` is what the
SkyWalking provider and `EvaluateResult` record for one HTTP response body: Successful, Failed,
Inconclusive or Error. tests/differential/test_expr_eval_differential.py compares both with the real
code (`rollouts-eval`, ../shared/tools/README.md).

Values are decoded JSON as Go sees it: every JSON number is a float64 (a Python float), literals of the
condition keep expr's int (a Python int). What expr's runtime does, and this module with it:
- a field of a map that is not there is nil; a field or an index of nil is an error ("cannot fetch x
  from <nil>"), unless a `?.` earlier in the same chain makes the whole chain nil;
- int op int is an int, int op float a float, `/` and `**` always a float, `%` only takes ints;
  `==` compares numbers by value, other values of different types are unequal (never an error), maps
  (and, on v1.9, arrays) like Go's reflect.DeepEqual, where 1 and 1.0 differ; `<` and friends take two
  numbers or two strings, anything else (nil included) is an error;
- `&&`, `||`, `!`, `?:` and predicates need booleans (an error otherwise); `&&`/`||` short-circuit;
- contains/startsWith/endsWith/matches need strings; with a nil operand v1.10 gives false, v1.9 an error;
- Argo Rollouts' isNil(x) and default(x, d) ignore x (after evaluating it): isNil is whether the whole
  result is nil, default is d when the whole result is nil, else the whole result (evaluate.go
  isNilFunc/defaultFunc), so `default(result.x, 0) > 1` compares a map and is an error.

- `?.` makes the rest of a chain of `.field`s nil, but a `[...]` after it ends the chain (the reference
  binaries: result.x?.y.z is nil when x is nil, result.x?.y[0] an error);
- expr's optimizer changes outcomes, so its rewrites are followed: constant folding of && / || (`x ||
  true` is true without running x), filterLen and, on v1.17, countAny/countThreshold (count(x, p) >= N
  stops at the N-th match), filterFirst/filterLast (filter(x, p)[0] stops at the first match),
  filterMap (map(filter(x, p), q) is one loop), predicateCombination on v1.17 (all(x, p) && all(x, q)
  is all(x, p && q)); findLast's stray `true` on the VM stack (both releases) is modelled too;
- the checker makes int literals given for a float64 parameter floats (isNaN(1)), v1.15's parser drops a
  `not` after an operand of a tighter operator (`-1 not in [1]` is `-1 in [1]`: expr_check's parser).

Not supported (UnsupportedExpression): expr builtins other than len, abs, all, any, none, one, filter,
map, count and Argo Rollouts' six functions; method calls; `#acc`; time values; on v1.9, #index in
the mapping of map(filter(..)); filter(..)[-1] inside a predicate. Regular expressions are Python's, not
RE2 (the same for ordinary patterns).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from functools import partial
from typing import Any, Literal

from generator import expr_check
from generator.expr_check import (
    _Array,
    _Binary,
    _Call,
    _Closure,
    _Conditional,
    _Index,
    _Let,
    _Literal,
    _Map,
    _Member,
    _MethodCall,
    _Name,
    _Node,
    _Pointer,
    _Sequence,
    _Slice,
    _Unary,
)

Phase = Literal["Successful", "Failed", "Inconclusive", "Error"]
PHASES: tuple[Phase, ...] = ("Successful", "Failed", "Inconclusive", "Error")

_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


class EvalError(Exception):
    """The condition failed at run time (or did not compile): the controller records an Error."""


class UnsupportedExpression(Exception):
    """The condition uses something this evaluator does not implement; its outcome is unknown."""


@dataclass(frozen=True)
class Measurement:
    """How the controller records one measurement: its phase, and the error text for an Error."""

    phase: Phase
    message: str = ""


class _NilChain(Exception):
    """A `?.` met nil: the whole member chain is nil."""


# --- Go's view of values ----------------------------------------------------------------------------------


def go_type(value: Any) -> str:
    """The Go type name expr's messages use for a decoded value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _wrap(value: int) -> int:
    """Go's int64 overflow: wrap around."""
    return ((value - _INT_MIN) % 2**64) + _INT_MIN


def _deep_equal(a: Any, b: Any) -> bool:
    """reflect.DeepEqual over decoded values: the types must match exactly (1 and 1.0 differ)."""
    if go_type(a) != go_type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _equal(a: Any, b: Any, v17: bool) -> bool:
    """runtime.Equal: numbers by value, strings, bools; arrays element by element on v1.17; else DeepEqual."""
    if _is_number(a) and _is_number(b):
        return float(a) == float(b) if isinstance(a, float) or isinstance(b, float) else bool(a == b)
    if v17 and isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y, v17) for x, y in zip(a, b, strict=True))
    return _deep_equal(a, b)


def _less(operator: str, a: Any, b: Any) -> bool:
    if _is_number(a) and _is_number(b):
        if isinstance(a, float) or isinstance(b, float):
            a, b = float(a), float(b)
    elif not (isinstance(a, str) and isinstance(b, str)):
        raise EvalError(f"invalid operation: {go_type(a)} {operator} {go_type(b)}")
    if operator == "<":
        return bool(a < b)
    if operator == ">":
        return bool(a > b)
    if operator == "<=":
        return bool(a <= b)
    return bool(a >= b)


def _float_div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if math.isnan(a) or a == 0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _pow(a: float, b: float) -> float:
    try:
        return float(math.pow(a, b))
    except OverflowError:
        return math.inf
    except ValueError:
        if a == 0 and b < 0:
            return math.inf
        return math.nan


def _arithmetic(operator: str, a: Any, b: Any) -> Any:
    if operator == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if not (_is_number(a) and _is_number(b)):
        raise EvalError(f"invalid operation: {go_type(a)} {operator} {go_type(b)}")
    if operator == "/":
        return _float_div(float(a), float(b))
    if operator in ("**", "^"):
        return _pow(float(a), float(b))
    if operator == "%":
        if not (isinstance(a, int) and isinstance(b, int)):
            raise EvalError(f"invalid operation: {go_type(a)} % {go_type(b)}")
        if b == 0:
            raise EvalError("integer divide by zero")
        remainder = abs(a) % abs(b)  # Go truncates: the sign of the dividend
        return -remainder if a < 0 else remainder
    both_int = isinstance(a, int) and isinstance(b, int)
    if operator == "+":
        value = a + b
    elif operator == "-":
        value = a - b
    else:
        value = a * b
    return _wrap(value) if both_int else float(value)


def _to_int(value: Any) -> int:
    """runtime.ToInt, for indexes and ranges."""
    if isinstance(value, bool) or not _is_number(value):
        raise EvalError(f"invalid operation: int({go_type(value)})")
    return _go_float_to_int(value) if isinstance(value, float) else int(value)


def _go_float_to_int(value: float) -> int:
    # int64(f) on amd64: NaN and out-of-range give the minimum int64.
    if math.isnan(value) or not _INT_MIN <= value < 2**63:
        return _INT_MIN
    return int(value)


# strconv.ParseFloat: a decimal (`_` between digits is accepted, as the reference binaries show) or a
# hexadecimal with a p exponent; inf, infinity (signed or not) and nan in any case.
_DIGITS = r"[0-9](?:_?[0-9])*"
_GO_DECIMAL = re.compile(rf"[+-]?(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?")
_GO_HEX = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F_]*\.?[0-9a-fA-F_]*)[pP][+-]?[0-9]+")
_GO_SPECIAL = re.compile(r"([+-]?)(inf|infinity)|nan", re.IGNORECASE)


def parse_go_float(text: str) -> float:
    """strconv.ParseFloat(text, 64), raising EvalError with Go's words when it fails."""
    special = _GO_SPECIAL.fullmatch(text)
    if special:
        if special.group(2) is None:
            return math.nan
        return -math.inf if special.group(1) == "-" else math.inf
    digits = text.replace("_", "")
    try:
        if _GO_DECIMAL.fullmatch(text):
            value = float(digits)
        elif _GO_HEX.fullmatch(text) and any(
            c in "0123456789abcdefABCDEF" for c in digits.lstrip("+-")[2:].split("p")[0].split("P")[0]
        ):
            value = float.fromhex(digits)
        else:
            raise ValueError(text)
    except (ValueError, OverflowError):
        raise EvalError(f'strconv.ParseFloat: parsing "{text}": invalid syntax') from None
    if math.isinf(value):
        raise EvalError(f'strconv.ParseFloat: parsing "{text}": value out of range')
    return value


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or value is None or not isinstance(value, int | float | str):
        raise EvalError(f"asInt() not supported on {go_type(value)} {_go_print(value)}")
    if isinstance(value, float):
        return _go_float_to_int(value)
    if isinstance(value, int):
        return value
    if not re.fullmatch(r"[+-]?[0-9]+", value):
        raise EvalError(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    number = int(value)
    if not _INT_MIN <= number <= _INT_MAX:
        raise EvalError(f'strconv.ParseInt: parsing "{value}": value out of range')
    return number


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or value is None or not isinstance(value, int | float | str):
        raise EvalError(f"asFloat() not supported on {go_type(value)} {_go_print(value)}")
    if isinstance(value, str):
        return parse_go_float(value)
    return float(value)


def _go_print(value: Any) -> str:
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- the evaluator ----------------------------------------------------------------------------------------


@dataclass
class _Env:
    result: Any
    v17: bool
    variables: dict[str, Any]
    items: list[tuple[Any, int]]  # the predicates' current items and indexes, innermost last


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise EvalError(f"interface conversion: interface {{}} is {_iface(value)}, not bool")
    return value


def _iface(value: Any) -> str:
    return "nil" if value is None else go_type(value)


def _fetch(obj: Any, key: Any) -> Any:
    """runtime.Fetch: a map's key (nil when absent), an array's or a string's index."""
    if obj is None:
        raise EvalError(f"cannot fetch {_go_print(key)} from <nil>")
    if isinstance(obj, dict):
        if key is not None and not isinstance(key, str):
            raise EvalError(
                f"reflect.Value.MapIndex: value of type {go_type(key)} is not assignable to type string"
            )
        return obj.get(key)
    if isinstance(obj, list | str):
        data: list[Any] | bytes = obj if isinstance(obj, list) else obj.encode()
        index = _to_int(key)
        if index < 0:
            index += len(data)
        if not 0 <= index < len(data):
            raise EvalError(f"index out of range: {_go_print(key)} (array length is {len(data)})")
        return data[index]  # a string's index is a byte, a uint8
    raise EvalError(f"cannot fetch {_go_print(key)} from {go_type(obj)}")


def _length(value: Any, v17: bool) -> int:
    if isinstance(value, str):
        return len(value) if v17 else len(value.encode())  # v1.17 counts runes, v1.15 bytes
    if isinstance(value, list | dict):
        return len(value)
    raise EvalError(f"invalid argument for len (type {go_type(value)})")


def _string_operator(operator: str, a: Any, b: Any, v17: bool) -> bool:
    if v17 and (a is None or b is None):
        return False
    for value in (a, b):
        if not isinstance(value, str):
            raise EvalError(f"interface conversion: interface {{}} is {_iface(value)}, not string")
    if operator == "contains":
        return b in a
    if operator == "startsWith":
        return bool(a.startswith(b))
    if operator == "endsWith":
        return bool(a.endswith(b))
    try:
        return re.search(b, a) is not None
    except re.error as error:
        raise EvalError(f"error parsing regexp: {error}") from None


def _in(needle: Any, haystack: Any, v17: bool) -> bool:
    if haystack is None:
        return False
    if isinstance(haystack, list):
        return any(_equal(needle, item, v17) for item in haystack)
    if isinstance(haystack, dict):
        if needle is None:
            return False
        if not isinstance(needle, str):
            raise EvalError(
                f"reflect.Value.MapIndex: value of type {go_type(needle)} is not assignable to type string"
            )
        return needle in haystack
    raise EvalError(f'operator "in" not defined on {go_type(haystack)}')


class _Evaluator:
    def __init__(self, env: _Env) -> None:
        self.env = env
        # Values expr's VM leaves on its stack by mistake: filter(x, p)[-1] (findLast, emitLoopBackwards)
        # leaves its predicate's `true` under its result. The next operation that pops several operands
        # takes it as the first of them, and the real first one stays behind in turn
        # (`1 <= filter(x, p)[-1]` compares true <= item: an error in both releases).
        self.garbage: list[Any] = []

    def operands(self, *thunks: Callable[[], Any]) -> list[Any]:
        """Evaluate operands in order as the VM pushes them; what an operation with that many pops gets."""
        stack: list[Any] = []
        for thunk in thunks:
            before = len(self.garbage)
            value = thunk()
            stack.extend(self.garbage[before:])
            del self.garbage[before:]
            stack.append(value)
        count = len(thunks)
        self.garbage.extend(stack[:-count] if count else stack)
        return stack[-count:] if count else []

    def run(self, node: _Node) -> Any:
        if isinstance(node, _Member | _Index | _Slice):
            try:
                return self.chain(node)
            except _NilChain:
                return None
        return self.value(node)

    def chain(self, node: _Node) -> Any:
        """A member chain: `?.` anywhere in it makes the whole chain nil when its object is nil."""
        if isinstance(node, _Member):
            obj = self.chain(node.obj)
            if obj is None and node.optional:
                raise _NilChain
            return _fetch(obj, node.name)
        if isinstance(node, _Index):
            position = _const_int(node.index)
            filtered = node.obj
            mapper = None
            if isinstance(filtered, _Call) and filtered.name == "map" and self.fuses(filtered.args):
                mapper, filtered = filtered.args[1], filtered.args[0]  # filterMap came first
            if position in (0, -1) and not node.optional and _is_call(filtered, "filter", 2):
                # optimizer filterFirst/filterLast: filter(x, p)[0] is find(x, p), stopping at the first
                # match (from the end for [-1]), an error when nothing matches; a map() over the filter
                # maps the found item only.
                assert isinstance(filtered, _Call)
                return self.find(filtered.args, position == -1, mapper)
            # A `[...]` ends the `?.` chain before it (the reference binaries: result.x?.y[0] is an error
            # when x is nil, result.x?.y.z is nil); `?.[...]` (v1.17) is part of it.
            obj = self.chain(node.obj) if node.optional else self.run(node.obj)
            if obj is None and node.optional:
                raise _NilChain
            index = node.index
            obj, key = self.operands(lambda: obj, lambda: self.run(index))
            return _fetch(obj, key)
        if isinstance(node, _Slice):
            return self.slice(self.run(node.obj), node)
        return self.value(node)

    def slice(self, obj: Any, node: _Slice) -> Any:
        if not isinstance(obj, list | str):
            raise EvalError(f"cannot slice {go_type(obj)}")
        data: list[Any] | bytes = obj if isinstance(obj, list) else obj.encode()
        size = len(data)
        start = 0 if node.start is None else _to_int(self.run(node.start))
        end = size if node.end is None else _to_int(self.run(node.end))
        start, end = (start + size if start < 0 else start), (end + size if end < 0 else end)
        start, end = max(0, min(start, size)), max(0, min(end, size))
        start = min(start, end)
        part = data[start:end]
        return part.decode(errors="replace") if isinstance(part, bytes) else part

    def value(self, node: _Node) -> Any:
        env = self.env
        match node:
            case _Literal(value=value):
                return value
            case _Name(name=name):
                if name in env.variables:
                    return env.variables[name]
                if name == expr_check.RESULT:
                    return env.result
                raise UnsupportedExpression(f"the name {name!r}")
            case _Pointer(name=name):
                if not env.items:
                    raise EvalError("'#' outside a predicate")
                item, index = env.items[-1]
                if name == "":
                    if isinstance(item, _MapSlot):  # ranging over a map: reading an item fails
                        raise EvalError("reflect: call of reflect.Value.Index on map Value")
                    return item
                if name == "index":
                    return index
                raise UnsupportedExpression(f"#{name}")
            case _Member() | _Index() | _Slice():
                return self.run(node)
            case _Unary(operator=operator, operand=operand):
                operand_value = self.run(operand)
                if operator in ("!", "not"):
                    return not _bool(operand_value)
                if not _is_number(operand_value):
                    if operator == "+":
                        return operand_value
                    raise EvalError(f"invalid operation: {operator} {go_type(operand_value)}")
                if operator == "-":
                    return _wrap(-operand_value) if isinstance(operand_value, int) else -operand_value
                return operand_value
            case _Binary():
                return self.binary(node)
            case _Conditional(condition=condition, then=then, otherwise=otherwise):
                return self.run(then) if _bool(self.run(condition)) else self.run(otherwise)
            case _Array(items=items):
                return self.operands(*(partial(self.run, item) for item in items))
            case _Map(entries=entries):
                thunks = [partial(f, n) for k, v in entries for f, n in ((self.map_key, k), (self.run, v))]
                flat = self.operands(*thunks)
                return dict(zip(flat[::2], flat[1::2], strict=True))
            case _Let(name=name, value=value, body=body):
                bound = self.run(value)
                saved = dict(env.variables)
                env.variables[name] = bound
                try:
                    return self.run(body)
                finally:
                    env.variables = saved
            case _Sequence(items=items):
                last: Any = None
                for item in items:
                    last = self.run(item)
                return last
            case _Call():
                return self.call(node)
            case _MethodCall(name=name):
                raise UnsupportedExpression(f"the method call .{name}()")
            case _Closure():
                raise EvalError("a predicate outside a call")
        raise UnsupportedExpression(type(node).__name__)

    def map_key(self, key: _Node) -> Any:
        if isinstance(key, _Literal) and _is_number(key.value):
            return str(key.value)  # the parser makes a number key a string
        value = self.run(key)
        if not isinstance(value, str):
            raise EvalError(f"interface conversion: interface {{}} is {_iface(value)}, not string")
        return value

    def binary(self, node: _Binary) -> Any:
        operator, v17 = node.operator, self.env.v17
        if operator in _BOOLEAN_OPERATORS:
            combined = _combined_predicate(node) if v17 else None
            if combined is not None:
                return self.run(combined)
            left, right = _const_bool(node.left), _const_bool(node.right)
            # optimizer fold: `true && x` and `x && true` are x, `x && false` is false (x is never run),
            # and the same for ||.
            neutral = operator in ("&&", "and")
            if left is neutral:
                return self.run(node.right)
            if right is neutral:
                return self.run(node.left)
            if left is (not neutral) or right is (not neutral):
                return not neutral
            if neutral:
                return self.run(node.right) if _bool(self.run(node.left)) else False
            return True if _bool(self.run(node.left)) else self.run(node.right)
        counted = _counted(node.left)
        if operator in _ORDERING and v17 and counted is not None:
            threshold = _count_threshold(operator, _const_int(node.right))
            if threshold is not None:
                return _less(operator, self.count(counted, threshold), _const_int(node.right))
        if operator == "??":
            left = self.run(node.left)
            return self.run(node.right) if left is None else left
        negated = operator.startswith("not ")
        operator = operator.removeprefix("not ")
        a, b = self.operands(partial(self.run, node.left), partial(self.run, node.right))
        result: Any
        if operator == "==":
            result = _equal(a, b, v17)
        elif operator == "!=":
            result = not _equal(a, b, v17)
        elif operator in ("<", ">", "<=", ">="):
            result = _less(operator, a, b)
        elif operator == "in" and _string_array(node.right):
            # optimizer inArray: `x in ["a", "b"]` looks x up in a map[string]struct{}
            result = _in(a, dict.fromkeys(b), v17)
        elif operator == "in":
            result = _in(a, b, v17)
        elif operator in ("contains", "startsWith", "endsWith", "matches"):
            result = _string_operator(operator, a, b, v17)
        elif operator in ("+", "-", "*", "/", "%", "**", "^"):
            result = _arithmetic(operator, a, b)
        elif operator == "..":
            low, high = _to_int(a), _to_int(b)
            result = list(range(low, high + 1))
        else:
            raise UnsupportedExpression(f"the operator {operator!r}")
        return (not _bool(result)) if negated else result

    def call(self, node: _Call) -> Any:
        name, args = node.name, node.args
        if name in _PREDICATE_CALLS:
            return self.predicate(name, args)
        if name not in _CALLS:
            raise UnsupportedExpression(f"the function {name}()")
        values = self.operands(*(partial(self.run, arg) for arg in args))
        if name == "len":
            return _length(values[0], self.env.v17)
        if name == "asInt":
            return _as_int(values[0])
        if name == "asFloat":
            return _as_float(values[0])
        if name in ("isNaN", "isInf"):
            number = values[0]
            if isinstance(number, int) and not isinstance(number, bool) and _int_arithmetic(args[0]):
                # checker traverseAndReplaceIntegerNodesWithFloatNodes: int literals, and + - * of
                # them, given for a float64 parameter are made floats.
                number = float(number)
            if not isinstance(number, float):
                raise EvalError(f"interface conversion: interface {{}} is {_iface(number)}, not float64")
            return math.isnan(number) if name == "isNaN" else math.isinf(number)
        if name == "isNil":
            return self.env.result is None
        if name == "default":
            return values[1] if self.env.result is None else self.env.result
        if name == "abs":
            if not _is_number(values[0]):
                raise EvalError(f"invalid argument for abs (type {go_type(values[0])})")
            return abs(values[0])
        raise UnsupportedExpression(f"the function {name}()")

    def items(self, node: _Node) -> list[Any]:
        collection = self.run(node)
        if isinstance(collection, dict):
            return [_MapSlot()] * len(collection)
        if isinstance(collection, str):
            return list(collection.encode())
        if not isinstance(collection, list):
            raise EvalError(f"reflect: call of reflect.Value.Len on {_zero(collection)} Value")
        return collection

    def closure(self, node: _Node) -> Callable[[Any, int], Any]:
        if not isinstance(node, _Closure):
            raise UnsupportedExpression("a predicate that is not a closure")

        def body(item: Any, index: int) -> Any:
            self.env.items.append((item, index))
            before = len(self.garbage)
            try:
                return self.run(node.body)
            finally:
                self.env.items.pop()
                if len(self.garbage) > before:
                    raise UnsupportedExpression(
                        "filter(..)[-1] inside a predicate (expr's stray stack value)"
                    )

        return body

    def find(self, args: tuple[_Node, ...], last: bool, mapper: _Node | None) -> Any:
        collection = self.items(args[0])
        body = self.closure(args[1])
        order = range(len(collection) - 1, -1, -1) if last else range(len(collection))
        for i in order:
            if _bool(body(collection[i], i)):
                if last:
                    self.garbage.append(True)
                return collection[i] if mapper is None else self.closure(mapper)(collection[i], i)
        raise EvalError("reflect: slice index out of range")

    def count(self, args: tuple[_Node, ...], threshold: int | None) -> int:
        collection = self.items(args[0])
        body = self.closure(args[1])
        found = 0
        for i, item in enumerate(collection):
            if _bool(body(item, i)):
                found += 1
                if found == threshold:
                    break
        return found

    def fuses(self, args: tuple[_Node, ...]) -> bool:
        """Whether the optimizer's filterMap makes map(filter(x, p), q) one loop: not when q reads #index
        on v1.17; v1.15 fuses it anyway and its #index is then the original list's, and wrong again under
        [-1]: not modelled."""
        if len(args) != 2 or not _is_call(args[0], "filter", 2):
            return False
        if _uses_index(args[1]):
            if self.env.v17:
                return False
            raise UnsupportedExpression("#index in map() over filter() on expr v1.15")
        return True

    def predicate(self, name: str, args: tuple[_Node, ...]) -> Any:
        if name == "map" and self.fuses(args):
            # optimizer filterMap: map(filter(x, p), q) is one loop, q right after p for each item.
            inner = args[0]
            assert isinstance(inner, _Call)
            keep, mapped = self.closure(inner.args[1]), self.closure(args[1])
            out: list[Any] = []
            for i, item in enumerate(self.items(inner.args[0])):
                if _bool(keep(item, i)):
                    out.append(mapped(item, len(out)))
            return out
        if name == "count" and len(args) == 2:
            return self.count(args, None)
        collection = self.items(args[0])
        body: Callable[[Any, int], Any]
        if len(args) > 1:
            body = self.closure(args[1])
        elif name == "count":

            def body(item: Any, index: int) -> Any:
                return item
        else:
            raise UnsupportedExpression(f"{name}() without a predicate")
        if name == "map":
            return [body(item, i) for i, item in enumerate(collection)]
        if name == "filter":
            return [item for i, item in enumerate(collection) if _bool(body(item, i))]
        if name == "count":
            return sum(1 for i, item in enumerate(collection) if _bool(body(item, i)))
        if name == "one":
            return sum(1 for i, item in enumerate(collection) if _bool(body(item, i))) == 1
        if name == "all":
            return all(_bool(body(item, i)) for i, item in enumerate(collection))
        if name == "any":
            return any(_bool(body(item, i)) for i, item in enumerate(collection))
        # none
        return not any(_bool(body(item, i)) for i, item in enumerate(collection))


_PREDICATE_CALLS = frozenset(("all", "any", "none", "one", "filter", "map", "count"))
_CALLS = frozenset(("len", "asInt", "asFloat", "isNaN", "isInf", "isNil", "default", "abs"))
_BOOLEAN_OPERATORS = frozenset(("&&", "and", "||", "or"))
_ORDERING = frozenset(("<", ">", "<=", ">="))


class _MapSlot:
    """An item of a map a predicate ranges over: expr loops len(map) times, but cannot read the items."""


def _zero(value: Any) -> str:
    return "zero" if value is None else go_type(value)


def _is_call(node: _Node, name: str, arity: int) -> bool:
    return isinstance(node, _Call) and node.name == name and len(node.args) == arity


def _counted(node: _Node) -> tuple[_Node, ...] | None:
    """The arguments of count(x, p), or of len(filter(x, p)), which the optimizer (filterLen) makes one."""
    if _is_call(node, "len", 1):
        assert isinstance(node, _Call)
        node = node.args[0]
        if not _is_call(node, "filter", 2):
            return None
    elif not _is_call(node, "count", 2):
        return None
    assert isinstance(node, _Call)
    return node.args


def _string_array(node: _Node) -> bool:
    items = node.items if isinstance(node, _Array) else ()
    return bool(items) and all(isinstance(i, _Literal) and isinstance(i.value, str) for i in items)


def _walk(node: Any) -> Iterator[_Node]:
    if isinstance(node, _Node):
        yield node
        for f in fields(node):
            yield from _walk(getattr(node, f.name))
    elif isinstance(node, tuple):
        for item in node:
            yield from _walk(item)


def _is_result(node: _Node) -> bool:
    return isinstance(node, _Name) and node.name == expr_check.RESULT


def _uses_index(node: Any) -> bool:
    if isinstance(node, _Pointer):
        return node.name == "index"
    if isinstance(node, _Node):
        return any(_uses_index(getattr(node, f.name)) for f in fields(node))
    if isinstance(node, tuple):
        return any(_uses_index(item) for item in node)
    return False


def _int_arithmetic(node: _Node) -> bool:
    if isinstance(node, _Literal):
        return isinstance(node.value, int) and not isinstance(node.value, bool)
    if isinstance(node, _Unary) and node.operator in ("-", "+"):
        return _int_arithmetic(node.operand)
    if isinstance(node, _Binary) and node.operator in ("+", "-", "*"):
        return _int_arithmetic(node.left) and _int_arithmetic(node.right)
    return False


def _const_int(node: _Node) -> int | None:
    """An integer literal, `-1` included (the optimizer folds the minus in first)."""
    if isinstance(node, _Literal) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, _Unary) and node.operator in ("-", "+"):
        inner = _const_int(node.operand)
        if inner is not None:
            return -inner if node.operator == "-" else inner
    return None


def _const_bool(node: _Node) -> bool | None:
    """What the optimizer's fold makes a boolean constant: literals, !c, c == c, and && / || of them."""
    if isinstance(node, _Literal) and isinstance(node.value, bool):
        return node.value
    if isinstance(node, _Unary) and node.operator in ("!", "not"):
        inner = _const_bool(node.operand)
        return None if inner is None else not inner
    if isinstance(node, _Binary) and node.operator == "==":
        for const in (_const_int, _const_str, _const_bool):
            a, b = const(node.left), const(node.right)
            if a is not None and b is not None:
                return bool(a == b)
        return None
    if isinstance(node, _Binary) and node.operator in _BOOLEAN_OPERATORS:
        a, b = _const_bool(node.left), _const_bool(node.right)
        neutral = node.operator in ("&&", "and")
        if a is neutral:
            return b
        if b is neutral:
            return a
        if a is (not neutral) or b is (not neutral):
            return not neutral
    return None


def _const_str(node: _Node) -> str | None:
    return node.value if isinstance(node, _Literal) and isinstance(node.value, str) else None


def _count_threshold(operator: str, bound: int | None) -> int | None:
    """optimizer countAny/countThreshold (expr v1.17): where count(x, p) compared with N stops early."""
    if bound is None or bound < 0:
        return None
    threshold = bound + 1 if operator in (">", "<=") else bound
    if operator in (">", ">=") and threshold == 1:
        return 1  # countAny: any(x, p)
    return threshold if threshold > 1 else None


def _same(a: Any, b: Any) -> bool:
    """Syntax trees equal but for positions (expr compares the two nodes' String())."""
    if isinstance(a, _Node) and isinstance(b, _Node):
        if type(a) is not type(b):
            return False
        names = [f.name for f in fields(a) if f.name != "pos"]
        return all(_same(getattr(a, n), getattr(b, n)) for n in names)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(type(a) is type(b) and a == b)


def _combined_predicate(node: _Binary) -> _Node | None:
    """optimizer predicateCombination (expr v1.17): all(x, p) && all(x, q) is all(x, p && q), any(..)
    || any(..) is any(x, p || q), none(..) && none(..) is none(x, p || q)."""
    left, right = node.left, node.right
    if not (isinstance(left, _Call) and isinstance(right, _Call) and left.name == right.name):
        return None
    if len(left.args) != 2 or len(right.args) != 2 or not _same(left.args[0], right.args[0]):
        return None
    conjunction = node.operator in ("&&", "and")
    if left.name in ("all", "none") and conjunction:
        operator = node.operator if left.name == "all" else {"&&": "||", "and": "or"}[node.operator]
    elif left.name == "any" and not conjunction:
        operator = node.operator
    else:
        return None
    p, q = left.args[1], right.args[1]
    if not (isinstance(p, _Closure) and isinstance(q, _Closure)):
        return None
    body = _Binary(node.pos, operator, p.body, q.body)
    return _Call(left.pos, left.name, (left.args[0], _Closure(p.pos, body)))


@functools.lru_cache(maxsize=4096)
def _compiled(condition: str, rollouts_version: str) -> tuple[str, _Node]:
    """Why the condition does not compile ("" when it does) and its tree; once per condition and release
    (a test file measures one condition many times)."""
    problems = [p for p in expr_check.check_condition(condition, rollouts_version) if not p.advisory]
    if problems:
        return f"does not compile: {problems[0].message} (column {problems[0].column})", _Literal(0, None)
    return "", expr_check.parse(condition, rollouts_version)


def evaluate_value(
    condition: str, result: Any, rollouts_version: str = expr_check.DEFAULT_ROLLOUTS_VERSION
) -> Any:
    """The value of the condition with `result` bound to the provider's data (decoded JSON).

    Raises EvalError when the condition does not compile or fails at run time, UnsupportedExpression
    when it uses what this evaluator does not implement, ValueError for an unknown rollouts_version.
    """
    dialect = expr_check.dialect_for(rollouts_version)
    problem, tree = _compiled(condition, rollouts_version)
    if problem:
        raise EvalError(problem)
    if not isinstance(result, dict) and result is not None:
        # expr_check types `result` as the map SkyWalking's data is; the compiler takes the type of the
        # value given, and a field of a float64 (or an index of one) does not compile.
        for node in _walk(tree):
            on_result = isinstance(node, _Member | _Index) and _is_result(node.obj)
            if on_result and (isinstance(node, _Member) or not isinstance(result, list | str)):
                raise EvalError(f"does not compile: type {go_type(result)} has no field or index")
    env = _Env(result, "strict_nil" in dialect.features, {}, [])
    try:
        return _Evaluator(env).run(tree)
    except RecursionError:
        raise UnsupportedExpression("a condition nested too deeply") from None


def evaluate(
    condition: str, result: Any, rollouts_version: str = expr_check.DEFAULT_ROLLOUTS_VERSION
) -> bool:
    """EvalCondition: the condition's boolean value; EvalError when it is no boolean or fails."""
    value = evaluate_value(condition, result, rollouts_version)
    if not isinstance(value, bool):
        raise EvalError(f"expected bool, but got {go_type(value)}")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character in JSON: {name}")


def _go_number(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"json: cannot unmarshal number {text} into Go value of type float64")
    return value


_DECODER = json.JSONDecoder(parse_int=_go_number, parse_float=_go_number, parse_constant=_reject_constant)


def decode_json(text: str | bytes) -> Any:
    """JSON as Go's json.Decoder decodes one value into interface{}: every number a float64 (one out of
    float64's range is an error), and what follows the first value is not read."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    start = len(text) - len(text.lstrip(" \t\n\r"))
    value, _ = _DECODER.raw_decode(text, start)
    return value


def evaluate_result(
    result: Any,
    success: str | None,
    failure: str | None,
    rollouts_version: str = expr_check.DEFAULT_ROLLOUTS_VERSION,
) -> Measurement:
    """EvaluateResult: the phase of a measurement whose data is `result` (decoded JSON)."""
    outcomes: dict[str, bool] = {}
    for kind, condition in (("successCondition", success), ("failureCondition", failure)):
        if condition:
            try:
                outcomes[kind] = evaluate(condition, result, rollouts_version)
            except EvalError as error:
                return Measurement("Error", f'could not evaluate {kind} "{condition}": {error}')
    succeeded = outcomes.get("successCondition", False)
    failed = outcomes.get("failureCondition", False)
    if not success and not failure:
        return Measurement("Successful")
    if success and not failure:
        failed = not succeeded
    elif failure and not success:
        succeeded = not failed
    if failed:
        return Measurement("Failed")
    if not succeeded:
        return Measurement("Inconclusive")
    return Measurement("Successful")


def classify(
    body: str | bytes | Mapping[str, Any],
    success: str | None,
    failure: str | None = None,
    rollouts_version: str = expr_check.DEFAULT_ROLLOUTS_VERSION,
) -> Measurement:
    """What the analysis controller records for one SkyWalking GraphQL response body.

    The SkyWalking provider (metricproviders/skywalking) runs the query with machinebox/graphql: a
    response with `errors` is an Error, so is one whose `data` is null or missing ("no results returned
    from SkyWalking query"); otherwise EvaluateResult decides. A Mapping body is taken as already decoded
    (its ints are made float64 as JSON decoding would).
    """
    try:
        decoded = decode_json(body) if isinstance(body, str | bytes) else decode_json(json.dumps(body))
    except ValueError as error:
        return Measurement("Error", f"decoding response: {error}")
    if not isinstance(decoded, dict):
        return Measurement("Error", f"decoding response: json: cannot unmarshal {go_type(decoded)}")
    errors = decoded.get("errors")
    if errors is not None and not isinstance(errors, list):
        return Measurement("Error", f"decoding response: json: cannot unmarshal {go_type(errors)}")
    if errors:
        first = errors[0]
        message = first.get("message") if isinstance(first, dict) else None
        return Measurement("Error", f"graphql: {message if isinstance(message, str) else ''}")
    data = decoded.get("data")
    if data is None:
        return Measurement("Error", "no results returned from SkyWalking query")
    return evaluate_result(data, success, failure, rollouts_version)


# --- what a condition saw ---------------------------------------------------------------------------------

_LOGICAL = ("&&", "||", "and", "or")
_PREDICATES = ("all", "any", "none", "one", "count", "filter", "map")
_SHOWN_CHARACTERS = 240


@dataclass(frozen=True)
class Part:
    """One piece of a condition and its value over a result, for saying why a condition came out as it
    did: the operands of its top-level `&&`/`||` chain, and the list each top-level predicate went over."""

    text: str
    value: str  # as JSON (`true`, `[{"value": 9950}]`), or `error: ...`
    depth: int  # 0: an operand of the condition; 1: the list a predicate of depth 0 went over


def explain(
    condition: str, result: Any, rollouts_version: str = expr_check.DEFAULT_ROLLOUTS_VERSION
) -> list[Part]:
    """The condition's top-level operands (the whole condition when it has none), each with its value."""
    try:
        tree = expr_check.parse(condition, rollouts_version)
    except Exception:  # a condition that does not parse has no parts; evaluate() says why
        return []
    parts: list[Part] = []
    for node, start, end in _operands(tree, condition, 0, len(condition)):
        parts.append(_part(condition[start:end].strip(), result, rollouts_version, 0))
        if isinstance(node, _Call) and node.name in _PREDICATES and len(node.args) == 2:
            opening = condition.find("(", node.pos) + 1
            comma = condition.rfind(",", opening, node.args[1].pos)
            if opening and comma > opening:
                parts.append(_part(condition[opening:comma].strip(), result, rollouts_version, 1))
    return parts


def _operands(node: _Node, text: str, start: int, end: int) -> list[tuple[_Node, int, int]]:
    """The operands of the chain of one logical operator at the top of `node` (spanning text[start:end]),
    with their spans; a parenthesised chain is one operand."""
    if not (isinstance(node, _Binary) and node.operator in _LOGICAL) or _parenthesised(text[start:end]):
        return [(node, start, end)]
    same = ("&&", "and") if node.operator in ("&&", "and") else ("||", "or")
    left = node.left
    if isinstance(left, _Binary) and left.operator in same:
        found = _operands(left, text, start, node.pos)
    else:
        found = [(left, start, node.pos)]
    return [*found, (node.right, node.pos + len(node.operator), end)]


def _parenthesised(text: str) -> bool:
    """Whether the whole text is one `( ... )` (string literals skipped)."""
    text = text.strip()
    if not text.startswith("("):
        return False
    depth, quote, escaped = 0, "", False
    for i, char in enumerate(text):
        if quote:
            escaped, quote = (not escaped and char == "\\"), ("" if char == quote and not escaped else quote)
            continue
        if char in "\"'`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i == len(text) - 1
    return False


def _part(text: str, result: Any, rollouts_version: str, depth: int) -> Part:
    try:
        shown = _json(evaluate_value(text, result, rollouts_version))
    except (EvalError, UnsupportedExpression) as error:
        shown = f"error: {error}"
    if len(shown) > _SHOWN_CHARACTERS:
        shown = shown[: _SHOWN_CHARACTERS - 3] + "..."
    return Part(text, shown, depth)


def _json(value: Any) -> str:
    """A value as Go's encoding/json writes it (a float64 of 9950 is `9950`)."""

    def go(value: Any) -> Any:
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
            return int(value)
        if isinstance(value, list):
            return [go(item) for item in value]
        if isinstance(value, dict):
            return {key: go(item) for key, item in value.items()}
        return value

    try:
        return json.dumps(go(value), separators=(", ", ": "), ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        return _go_print(value)
