"""expr_eval on hand-picked cases; the outcomes were read from the rollouts-eval reference binaries."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from generator import expr_eval
from generator.expr_eval import EvalError, Measurement, UnsupportedExpression, classify, evaluate

VERSIONS = ("v1.9", "v1.10")
RESULT: dict[str, Any] = expr_eval.decode_json(
    json.dumps(
        {"a": {"x": 1.5, "s": "2.5", "n": None, "arr": [1, 2], "i": 3, "e": [], "m": {"value": 1}, "b": True}}
    )
)


def outcome(condition: str, version: str = "v1.10", result: Any = RESULT) -> bool | str:
    try:
        return evaluate(condition, result, version)
    except EvalError:
        return "error"


# condition -> the same outcome on both releases
BOTH = {
    # numbers: JSON numbers are float64, literals int; == and < compare them by value
    "result.a.x > 1": True,
    "result.a.i == 3": True,
    "result.a.i == 3.0": True,
    "1 == 1.0": True,
    "7 / 2 == 3.5": True,
    "3 % 2 == 1": True,
    "result.a.i % 2 == 1": "error",  # % takes ints only, and result.a.i is a float64
    "1 % 0 == 1": "error",
    "result.a.x / 0 > 1": True,  # +Inf
    "result.a.x ** 2 > 2": True,
    "-result.a.x < 0": True,
    "-result.a.s < 0": "error",
    # strings
    '"a" < "b"': True,
    "result.a.s > 1": "error",
    "result.a.s == 2.5": False,  # different types are unequal, not an error
    'result.a.x == "1.5"': False,
    'result.a.s + "x" == "2.5x"': True,
    "result.a.s + 1 == nil": "error",
    'result.a.s matches "^2"': True,
    'result.a.s matches "["': "error",
    'result.a.x contains "1"': "error",
    'result.a.s not contains "x"': True,
    # nil
    "result.a.n == nil": True,
    "result.a.n > 1": "error",
    "result.a.n != 0": True,
    "result.b.c == nil": "error",  # a field of nil
    "result.b?.c == nil": True,
    "result.b?.c.d == nil": True,  # ?. makes the whole chain nil
    "result.a.x?.y == nil": "error",  # a field of a float64
    "(result.a.n ?? 5) == 5": True,
    "(result.zz.yy ?? 5) == 5": "error",
    "(result.zz?.yy ?? 5) == 5": True,
    # indexes
    "result.a.arr[-1] == 2": True,
    "result.a.arr[5] == nil": "error",
    'result.a.arr["x"] == 2': "error",
    "result.a[1] == nil": "error",
    "result.a.arr[1.0] == 2": True,
    "len(result.a.arr[5:]) == 0": True,
    'result.a.s[1:] == ".5"': True,
    # booleans
    "result.a.x && true": "error",  # folded to result.a.x: expected bool
    "result.a || true": True,  # folded to true: result.a is never looked at
    "result.zz.yy && false": False,
    "!result.a.x": "error",
    "result.a.x ? true : false": "error",
    "false && result.zz.y": False,
    "true || result.zz.y": True,
    "not result.a.b == false": True,
    "result.a": "error",  # not a bool
    # in
    "1 in result.a.arr": True,
    '"x" in result.a': True,
    "nil in result.a": False,
    "1 in result.a": "error",
    "1 in result.a.x": "error",
    "1 in result.a.n": False,
    'result.a.x in ["a", "b"]': "error",  # optimizer inArray: a lookup in a map[string]struct{}
    'result.a.n not in ["a"]': True,
    '"2.5" in [result.a.s]': True,
    # builtins
    "len(result.a.n) == 0": "error",
    'len("abc") == 3': True,
    "all(result.a.n, {# > 0})": "error",
    "all(result.a.arr, {#})": "error",  # the predicate must be a bool
    "all(result.a.e, {#})": True,
    "any(result.a.e, {#})": False,
    "none(result.a.arr, {# > 5})": True,
    "one(result.a.arr, {# > 1})": True,
    "count(result.a.arr, {# > 1}) == 1": True,
    "map(result.a.arr, {# * 2})[1] == 4": True,
    "all(result.a.arr, {.x == nil})": "error",
    "all([result.a.m], {.zz == nil})": True,
    "all([result.a.m], {.zz.y == nil})": "error",
    "map(result.a, {1}) == nil": False,  # a map ranges len(map) times ...
    "all(result.a, {.value > 0})": "error",  # ... but its items cannot be read
    "filter(result.a.e, {true})[0] == nil": "error",  # find(), which throws like [0] would
    # Argo Rollouts' functions
    'asFloat("1e3") == 1000': True,
    'asFloat(" 1") == 1': "error",
    'asFloat("1_0") == 10': True,
    'asFloat("0x1p-2") == 0.25': True,
    'asFloat("inf") > 1': True,
    'isNaN(asFloat("nan"))': True,
    'asFloat("") == 0': "error",
    "asFloat(true) == 1": "error",
    "asFloat(result.a.n) > 0": "error",
    'asInt("+5") == 5': True,
    'asInt("1.5") == 1': "error",
    "asInt(2.9) == 2": True,
    "asInt(1e20) < 0": True,  # Go's int64() of an out-of-range float on amd64
    "isNaN(result.a.x)": False,
    "isNaN(1)": False,
    "isNaN(-1 + 2 * 3)": False,  # int literals for a float64 parameter are made floats ...
    "isInf(1 % 1)": "error",  # ... but not under %
    "isNaN(len(result.a))": "error",  # an int at run time is no float64
    "isNaN(result.a.s)": "error",
    "isNaN(result.a.n)": "error",
    "isInf(result.a.x / 0)": True,
    "isNil(result.a.n)": False,  # isNil ignores its argument: result is not nil
    "isNil(result.zz.yy)": "error",  # ... but evaluates it
    "default(result.a.n, 0) == 0": False,  # default(x, d) is the whole result when result is not nil
    "default(result.a.n, 0) == result": True,
    "{a: 1} == {a: 1}": True,
    "result.a.m == {value: 1}": False,  # DeepEqual: float64 1 is not int 1
    "{a: 1, (1 + 1): 3}.a == 1": "error",  # a map key must be a string
    # does not compile
    "result.a.n ?? 5 == 5": "error",
    "true == 1": "error",
    "unknown > 1": "error",
}
# condition -> (v1.9, v1.10): where antonmedv/expr v1.15.5 and expr-lang/expr v1.17.8 differ
DIFFERENT = {
    "result.a.arr == [1, 2]": (False, True),  # v1.17 compares arrays item by item
    "filter(result.a.arr, {# > 1}) == [2]": (False, True),
    "result.a.arr in [[1, 2]]": (False, True),
    'result.a.n contains "x"': ("error", False),  # v1.17: a nil operand gives false
    'result.a.n startsWith "x"': ("error", False),
    'result.a.n not contains "x"': ("error", True),
    "count(result.a.arr) == 2": ("error", "error"),
    'len("héllo") == 5': (
        False,
        True,
    ),  # v1.17 counts runes, v1.15 bytes  # v1.17 counts true items (not bools here)
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("condition", "expected"), list(BOTH.items()))
def test_same_on_both_releases(condition: str, expected: bool | str, version: str) -> None:
    assert outcome(condition, version) == expected


@pytest.mark.parametrize(("condition", "expected"), list(DIFFERENT.items()))
def test_release_differences(condition: str, expected: tuple[bool | str, bool | str]) -> None:
    assert (outcome(condition, "v1.9"), outcome(condition, "v1.10")) == expected


def test_count_threshold_stops_early_on_v1_10_only() -> None:
    # expr v1.17's optimizer: count(x, p) >= 2 stops at the second match, so the bad third point is
    # never read; v1.15 reads it and fails.
    points = [{"value": 1.0, "isEmptyValue": False}] * 2 + [{"value": 1.0, "isEmptyValue": "x"}]
    result = {"a": {"values": {"values": points}}}
    condition = "len(filter(result.a.values.values, {!.isEmptyValue})) >= 2"
    assert outcome(condition, "v1.10", result) is True
    assert outcome(condition, "v1.9", result) == "error"


def test_predicate_combination_on_v1_10_only() -> None:
    # all(x, p) && all(x, q) is all(x, p && q) on v1.17: q meets the string before p fails.
    points = [{"value": "abc", "ok": True}, {"value": 1.0, "ok": False}]
    result = {"a": points}
    condition = "all(result.a, {.ok == false}) && all(result.a, {asFloat(.value) > 0})"
    assert outcome(condition, "v1.9", result) is False
    assert outcome(condition, "v1.10", result) is False
    condition = "all(result.a, {.ok}) && all(result.a, {asFloat(.value) > 0})"
    assert outcome(condition, "v1.9", result) is False  # the first all() is false: the second never runs
    assert outcome(condition, "v1.10", result) == "error"  # item 0: .ok, then asFloat("abc")


def test_index_of_a_mapped_filter() -> None:
    # expr v1.17 does not fuse map(filter(x, p), q) when q reads #index; v1.15 does, and its #index
    # is then the original list's (and wrong again under [-1]): not modelled there.
    condition = "map(filter([1, 2, 3], {# > 1}), {#index}) == [0, 1]"
    assert outcome(condition, "v1.10") is True
    assert outcome("map(filter([1, 2, 3], {# > 1}), {#index + 0})[-1] == 1", "v1.10") is True
    with pytest.raises(UnsupportedExpression):
        evaluate(condition, RESULT, "v1.9")


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("-1 not in [1, 2]", (False, True)),  # v1.15 drops a `not` after an operand of a tighter operator
        ("1 + 1 not in [2]", (True, False)),
        ("1 == 2 not in [true]", (False, True)),
    ],
)
def test_dropped_not_on_v1_9(condition: str, expected: tuple[bool, bool]) -> None:
    assert (outcome(condition, "v1.9"), outcome(condition, "v1.10")) == expected


def test_values() -> None:
    assert expr_eval.evaluate_value("7 / 2", RESULT) == 3.5
    assert expr_eval.evaluate_value("1 + 2", RESULT) == 3
    assert isinstance(expr_eval.evaluate_value("result.a.i + 1", RESULT), float)
    assert expr_eval.evaluate_value("map(result.a.arr, {#index})", RESULT) == [0, 1]
    assert expr_eval.evaluate_value("let y = 2; y * 3", RESULT, "v1.10") == 6
    assert expr_eval.evaluate_value("result.a.s[0]", RESULT, "v1.10") == ord("2")  # a byte
    assert math.isnan(expr_eval.evaluate_value("result.a.x * 0 / 0", RESULT))


def test_unsupported_is_not_an_error() -> None:
    with pytest.raises(UnsupportedExpression):
        evaluate('upper("a") == "A"', RESULT)
    with pytest.raises(UnsupportedExpression):
        evaluate("reduce(result.a.arr, #acc + #, 0) == 3", RESULT)


def test_unknown_version() -> None:
    with pytest.raises(ValueError, match="unknown Argo Rollouts version"):
        evaluate("true", RESULT, "v2.0")


HEALTHY = {"data": {"service_apdex": {"values": {"values": [{"value": 9950, "isEmptyValue": False}] * 3}}}}
RENDERED = (
    "len(filter(result.service_apdex.values.values, {!.isEmptyValue})) >= 2 && "
    "all(filter(result.service_apdex.values.values, {!.isEmptyValue}), {asFloat(.value) >= 9900})"
)


@pytest.mark.parametrize("version", VERSIONS)
def test_classify(version: str) -> None:
    quiet = {"data": {"service_apdex": {"values": {"values": [{"value": 0, "isEmptyValue": True}] * 3}}}}
    assert classify(json.dumps(HEALTHY), RENDERED, None, version).phase == "Successful"
    assert classify(HEALTHY, RENDERED, None, version).phase == "Successful"  # a decoded body works too
    assert classify(json.dumps(quiet), RENDERED, None, version).phase == "Failed"
    # both conditions: neither true is Inconclusive, the failure condition wins over success
    never = "result.service_apdex == nil"
    assert classify(json.dumps(quiet), RENDERED, never, version).phase == "Inconclusive"
    assert classify(json.dumps(HEALTHY), RENDERED, "true", version).phase == "Failed"
    assert classify(json.dumps(HEALTHY), None, never, version).phase == "Successful"
    assert classify(json.dumps(HEALTHY), None, None, version).phase == "Successful"
    assert classify(json.dumps(HEALTHY), "", "", version).phase == "Successful"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data": None}, "no results returned from SkyWalking query"),
        ({}, "no results returned from SkyWalking query"),
        (
            {"errors": [{"message": "Duration is invalid"}], "data": HEALTHY["data"]},
            "graphql: Duration is invalid",
        ),
        ("<html>502</html>", "decoding response: "),
        ([1], "decoding response: "),
    ],
)
def test_classify_errors(body: Any, message: str) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    measured = classify(text, RENDERED)
    assert measured.phase == "Error"
    assert measured.message.startswith(message)


def test_decoding_like_go() -> None:
    assert classify('{"data": {"a": 1e400}}', "true").phase == "Error"  # out of float64's range
    assert classify('{"data": {"a": 1}} trailing', "result.a == 1").phase == "Successful"  # one value read
    assert classify(' {"data": 5}', "true").phase == "Successful"
    assert classify('{"data": false}', "true").phase == "Successful"  # only null data is no result
    assert classify('{"data": {"a": 1}, "errors": "x"}', "true").phase == "Error"
    assert classify('{"data": {"a": NaN}}', "true").phase == "Error"


def test_classify_error_names_the_condition() -> None:
    body = json.dumps({"data": {"a": 1}})
    assert classify(body, "result.b.c > 0") == Measurement(
        "Error", 'could not evaluate successCondition "result.b.c > 0": cannot fetch c from <nil>'
    )
    assert classify(body, "true", "result.a > 'x'").message.startswith("could not evaluate failureCondition")
    assert classify(body, "result.a >", None).phase == "Error"  # does not compile


@pytest.mark.parametrize("version", VERSIONS)
def test_optional_chain_ends_at_an_index(version: str) -> None:
    assert outcome("result.zz?.x.y == nil", version) is True
    assert outcome("result.zz?.x[0] == nil", version) == "error"
    assert outcome("result.zz?.x[0].y == nil", version) == "error"
    assert outcome("result.zz?.x[1:] == nil", version) == "error"
    assert outcome("result.a.arr[0]?.v == nil", version) == "error"  # a field of a float64


@pytest.mark.parametrize("version", VERSIONS)
def test_find_last_leaves_a_stray_value(version: str) -> None:
    # filter(x, p)[-1] is findLast, which leaves its predicate's true on expr's stack (both releases):
    # the next operation with several operands takes it as its first one.
    result = {"a": {"arr": [1.0, 2.0, 3.0]}}
    assert outcome("filter(result.a.arr, {# > 1})[-1] == 3", version, result) is True
    assert outcome("1 <= filter(result.a.arr, {# > 1})[-1]", version, result) == "error"  # true <= 3
    assert (
        outcome("any(result.a.arr, {# > 0}) == filter(result.a.arr, {# > 1})[-1]", version, result) is False
    )
    assert outcome("true == (1 <= filter(result.a.arr, {# > 1})[-1])", version, result) == "error"


def test_explain_shows_each_operand_and_the_list_a_predicate_went_over() -> None:
    condition = "len(filter(result.m.values, {.value > 0})) >= 2 && all(filter(result.m.values, {.value > 0}), {.value >= 9900})"
    result = {"m": {"values": [{"value": 9950.0}, {"value": 0.0}, {"value": 9800.0}]}}
    parts = expr_eval.explain(condition, result, "v1.9")
    assert [(p.text, p.value, p.depth) for p in parts] == [
        ("len(filter(result.m.values, {.value > 0})) >= 2", "true", 0),
        ("all(filter(result.m.values, {.value > 0}), {.value >= 9900})", "false", 0),
        ("filter(result.m.values, {.value > 0})", '[{"value": 9950}, {"value": 9800}]', 1),
    ]


def test_explain_keeps_a_parenthesised_chain_whole_and_shows_errors() -> None:
    parts = expr_eval.explain('(1 > 2 && true) || result.x.y > "(" or (2 > 1)', {"x": None}, "v1.10")
    assert [(p.text, p.value) for p in parts] == [
        ("(1 > 2 && true)", "false"),
        ('result.x.y > "("', "error: cannot fetch y from <nil>"),
        ("(2 > 1)", "true"),
    ]
    assert [p.text for p in expr_eval.explain("(1 > 2 || true)", {}, "v1.10")] == ["(1 > 2 || true)"]
    assert expr_eval.explain("1 +", {}, "v1.10") == []
