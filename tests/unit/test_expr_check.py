"""The successCondition/failureCondition check: expr syntax, names, functions, and the result paths read."""

from __future__ import annotations

import pytest

from generator.expr_check import (
    DEFAULT_ROLLOUTS_VERSION,
    FUNCTIONS,
    LIST_ITEM,
    ROLLOUTS_VERSIONS,
    ExprProblem,
    check_condition,
    dialect_for,
    result_paths,
)

# tetrateio/tsb-gitops-demo argo/rollout/analysis.yaml (c56fd5d), spec.metrics[0].successCondition
DEMO = "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})"
# Ignore minutes without traffic, but ask for at least two real data points.
FILTERED = (
    "len(filter(result.a.values.values, {!.isEmptyValue})) >= 2"
    " && all(filter(result.a.values.values, {!.isEmptyValue}), {asFloat(.value) >= 9900})"
)
# execExpression (MQE) returns results[].values[].value as strings, null when a minute has no data.
MQE = "all(result.a.results, {all(.values, {.value == nil || asFloat(.value) >= 9900})})"


@pytest.mark.parametrize(
    "condition",
    [
        DEMO,
        FILTERED,
        MQE,
        "result.a.values.values[0].value >= 9900",
        "result['a'].values?.values[-1].value > 0",
        "len(result.a.values.values[1:]) > 2 and len(result.a.values.values[:2]) == 2",
        "any(result.a.values.values, # .value < 100) or none(result.a.values.values, {.isEmptyValue})",
        "count(result.a.values.values, .value > 0) > 1",
        "mean(map(result.a.values.values, {asFloat(.value)})) >= 9900.5e-0",
        "reduce(result.a.values.values, #acc + #.value, 0) > 0 && all(map(result.a.values.values, #index), # >= 0)",
        "sortBy(result.a.values.values, 'value', 'desc')[0].value > 1_000",
        "result.a.values.values | filter(!.isEmptyValue) | all(asFloat(.value) >= 9900)",
        "let points = result.a.values.values; len(points) > 0 && all(points, {.value > 0})",
        "result.a.label == nil ? true : result.a.label startsWith 'p'",
        "result.a.label ?: 'none' not in ['x', \"y\"]",
        "(result.a.label ?? 'x') matches '^p[0-9]+$' and not (result.a.label endsWith 'x')",
        "isNaN(asFloat(result.a)) || isInf(asFloat(result.a)) || isNil(result) || default(result, 1) == 1",
        "asInt(result.a) in 1..10 && abs(-2 ** 3 ^ 2) > 0x1F && 5 % 7 == 5",
        "{a: 1, 'b': [1, 2,], (1 + 1): 3}.a == 1 && $env.result != nil",
        "result.a.values.values[0].value not in [1, 2] // a comment\n && /* another */ true",
    ],
)
def test_valid_conditions(condition: str) -> None:
    assert check_condition(condition) == []
    assert check_condition(condition, "v1.10") == []


# Argo Rollouts master / v1.10 compiles with expr v1.17.8, which has these; v1.9.1's expr v1.15.5 has not.
V1_10_ONLY = {
    "count(result.a.values.values) > 1": "count() needs at least 2 arguments: a list and a predicate",
    "sum(result.a.values.values, .value) > 0": "'.value' only works inside a predicate",
    "sortBy(result.a.values.values, .value, 'desc')[0].value > 1": "'.value' only works inside a predicate",
    "result.a == `z`": "a `raw string` needs Argo Rollouts v1.10 (expr v1.17.8); v1.9 compiles with expr v1.15.5",
    "if true { true } else { false }": "'if ... { } else { }' needs Argo Rollouts v1.10 (expr v1.17.8)",
    "0b101 % 0o7 == 5": "the number '0b101' needs Argo Rollouts v1.10 (expr v1.17.8)",
    "::len(result.a) > 0": "'::name()' needs Argo Rollouts v1.10",
    "len(result.a,) > 0": "a trailing ',' in a call needs Argo Rollouts v1.10",
    "let x = 1; x > 0; true": "';' between expressions needs Argo Rollouts v1.10",
    "result.a?.[0] == nil": "'?.[...]' needs Argo Rollouts v1.10",
    "1 < len(result) < 3": "invalid operation: < (mismatched types bool and int)",
    "len(reverse(result.a)) > 0": "reverse() needs Argo Rollouts v1.10 (expr v1.17.8); v1.9 compiles with expr v1.15.5, which has no reverse()",
}


@pytest.mark.parametrize("condition", list(V1_10_ONLY))
def test_conditions_only_v1_10_compiles(condition: str) -> None:
    assert check_condition(condition, "v1.10") == []
    problems = check_condition(condition, "v1.9")
    assert len(problems) == 1 and V1_10_ONLY[condition] in problems[0].message


def test_versions_and_their_expr() -> None:
    assert ROLLOUTS_VERSIONS == ("v1.9", "v1.10") and DEFAULT_ROLLOUTS_VERSION == "v1.9"
    assert dialect_for("v1.9.1").expr_version == "v1.15.5"
    assert dialect_for("1.9").expr_module == "github.com/antonmedv/expr"
    assert dialect_for("v1.10.0-rc1").expr_version == "v1.17.8"
    with pytest.raises(
        ValueError, match=r"unknown Argo Rollouts version 'v1.8': expected one of v1.9, v1.10"
    ):
        dialect_for("v1.8")
    with pytest.raises(ValueError, match="unknown Argo Rollouts version"):
        check_condition("true", "latest")


def test_not_before_any_operator_only_in_v1_9() -> None:
    # expr v1.15.5 read `a not == b` as not(a == b); v1.17 allows `not` only before in/matches/...
    assert check_condition("true not == false", "v1.9") == []
    assert check_condition("true not == false", "v1.10") != []


def test_types_the_compiler_checks() -> None:
    assert check_condition("len(result) + 'a' == nil") == [
        ExprProblem("invalid operation: + (mismatched types int and string)", 13)
    ]
    assert check_condition("all(result.a, {1})") == [
        ExprProblem("predicate should return boolean (got int)", 15)
    ]
    assert check_condition("map(result.a, #acc) == nil") == [
        ExprProblem("unknown pointer #acc (#acc exists only in reduce())", 15)
    ]
    assert check_condition("isNaN(nil)", "v1.9") == []
    assert check_condition("isNaN(nil)", "v1.10") == [
        ExprProblem("cannot use nil as argument (float) to call isNaN", 7)
    ]


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        (
            "all(result.a.values.values, {asFloat(.value) >= 9900}",
            ExprProblem("unclosed '(': expected ')' before the end", 4),
        ),
        (
            "all(result.a.values.values, {asFloat(.value) >= 9900)",
            ExprProblem("expected '}' to close the '{' at column 29, found ')'", 53),
        ),
        (
            "all(result.a.values.values, {asFloat(.value) >= 9900}))",
            ExprProblem("unbalanced ')': nothing to close", 55),
        ),
        ("result.a.values.values[0.value > 1", ExprProblem("bad number '0.v'", 24)),
        ("result.a.values.values[0 > 1", ExprProblem("unclosed '[': expected ']' before the end", 23)),
        ("[1, 2", ExprProblem("unclosed '[': expected ']' before the end", 1)),
        ("{a: 1", ExprProblem("unclosed '{': expected '}' before the end", 1)),
        ("result.x >", ExprProblem("expected a value after '>', found end of expression", 11)),
        ("result.x > 1 &&", ExprProblem("expected a value after '&&', found end of expression", 16)),
        ("result.x == 'abc", ExprProblem("unterminated string: ' without a closing '", 13)),
        ('result.x == "abc', ExprProblem('unterminated string: " without a closing "', 13)),
        ('result.x == "a\nbc"', ExprProblem('unterminated string: " without a closing "', 13)),
        (
            "result.x == `abc",
            ExprProblem(
                "a `raw string` needs Argo Rollouts v1.10 (expr v1.17.8); v1.9 compiles with expr v1.15.5", 13
            ),
        ),
        (r'result.x == "\q"', ExprProblem("invalid escape sequence '\\q' in a string", 14)),
        ("result.x /* no end", ExprProblem("unclosed comment: '/*' without '*/'", 10)),
        ("", ExprProblem("empty expression", 1)),
        ("result.x result.y", ExprProblem("unexpected 'result' (missing operator?)", 10)),
        ("result.x = 1", ExprProblem("'=' is not a comparison: use '=='", 10)),
        ("result.x & 1", ExprProblem("unexpected character '&' (did you mean '&&'?)", 10)),
        ("9900x < 1", ExprProblem("bad number '9900x'", 1)),
        (
            ".value > 1",
            ExprProblem("'.value' only works inside a predicate, e.g. all(result.x, {.value > 0})", 1),
        ),
        (
            "len({.value})",
            ExprProblem(
                "a map key must be a name, a quoted string, a number or (expression), found '.' "
                "({ .field ... } is a predicate only as an argument of all, any, filter, map, ...)",
                6,
            ),
        ),
        ("all(result.a)", ExprProblem("all() needs at least 2 arguments: a list and a predicate", 13)),
        ("map(result.a, {#idx})", ExprProblem("unknown pointer '#idx': use #, #index or #acc", 16)),
        (
            "result.a not 1",
            ExprProblem(
                "'not' after a value must be followed by in, matches, contains, startsWith or endsWith", 10
            ),
        ),
        ("result.a ?? 1 > 2", ExprProblem("'>' and '??' cannot be mixed: add parentheses", 15)),
        ("result.a ? 1", ExprProblem("expected ':' for the '?' at column 10", 13)),
        ("let = 1; true", ExprProblem("expected a variable name after 'let', found '='", 5)),
        ("let x = 1 x", ExprProblem("expected ';' after the value of 'let x'", 11)),
        (
            "if true { 1 }",
            ExprProblem(
                "'if ... { } else { }' needs Argo Rollouts v1.10 (expr v1.17.8); v1.9 compiles with expr v1.15.5",
                1,
            ),
        ),
        ("result.a | len", ExprProblem("expected '(' after 'len': a pipe needs a call, e.g. | len()", 15)),
        ("result.a.", ExprProblem("expected a field name after '.', found end of expression", 10)),
        ("and result", ExprProblem("expected a value, found 'and'", 1)),
    ],
)
def test_syntax_errors(condition: str, problem: ExprProblem) -> None:
    assert check_condition(condition) == [problem]


def test_unknown_function_suggests_the_closest() -> None:
    assert check_condition("all(result.a.values.values, {asFlaot(.value) >= 9900})") == [
        ExprProblem("unknown function 'asFlaot' (did you mean 'asFloat'?)", 30)
    ]


def test_unknown_function_without_a_close_match() -> None:
    assert check_condition("percentile(result.a, 99) > 1") == [
        ExprProblem("unknown function 'percentile'", 1)
    ]


def test_unknown_variable_suggests_result() -> None:
    assert check_condition("results.x > 1") == [
        ExprProblem(
            "unknown variable 'results': Argo Rollouts only provides 'result' (did you mean 'result'?)", 1
        )
    ]


def test_every_name_problem_is_reported_in_order() -> None:
    problems = check_condition("lenght(resutl.a) > 0 && value > 1 && let_x")
    assert [p.column for p in problems] == [1, 8, 25, 38]
    assert "did you mean 'len'?" in problems[0].message
    assert "did you mean 'result'?" in problems[1].message
    assert problems[2].message == "unknown variable 'value': Argo Rollouts only provides 'result'"


def test_let_bindings_are_variables_only_in_their_body() -> None:
    assert check_condition("let n = len(result.a); n > 1") == []
    assert check_condition("(let n = 1; n) > 0 && n > 0") == [
        ExprProblem("unknown variable 'n': Argo Rollouts only provides 'result'", 23)
    ]


def test_result_and_let_bindings_are_not_functions() -> None:
    assert check_condition("result(1)") == [ExprProblem("'result' is not a function", 1)]
    assert check_condition("let f = 1; f(2)") == [ExprProblem("'f' is not a function", 12)]


def test_methods_do_not_exist_on_json_values() -> None:
    assert check_condition("result.a.values.len() > 0") == [
        ExprProblem("'len()' is called as a method, but result holds plain JSON values", 17, advisory=True)
    ]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("asFloat(result.a, 1) > 0", "asFloat() takes 1 argument, got 2"),
        ("isInf(1, 0)", "isInf() takes 1 argument, got 2"),
        ("default(result.a) > 0", "default() takes 2 arguments, got 1"),
    ],
)
def test_argo_functions_arity(condition: str, message: str) -> None:
    assert check_condition(condition) == [ExprProblem(message, 1)]


def test_is_nil_and_default_ignore_their_argument() -> None:
    # Argo Rollouts' isNil(x) / default(x, d) test the whole result, whatever x is.
    problems = check_condition("all(result.a.values.values, {isNil(.value) || default(.value, 0) > 1})")
    assert [p.message for p in problems] == [
        "isNil() ignores its first argument and is true only when result itself is nil (compare with nil instead)",
        "default() ignores its first argument and returns result itself (compare with nil instead)",
    ]


def test_known_functions_include_expr_builtins_and_argo_helpers() -> None:
    assert {"all", "filter", "len", "asInt", "asFloat", "isNaN", "isInf", "isNil", "default"} <= FUNCTIONS
    assert "asFlaot" not in FUNCTIONS


# --- result paths -----------------------------------------------------------------------------------------


def test_paths_of_the_demo_condition() -> None:
    assert result_paths(DEMO) == [
        (("service_apdex", "values", "values"), 5),
        (("service_apdex", "values", "values", LIST_ITEM, "value"), 50),
    ]


def test_paths_through_filter_keep_the_list_items() -> None:
    paths = [path for path, _ in result_paths(FILTERED)]
    assert paths == [
        ("a", "values", "values"),
        ("a", "values", "values", LIST_ITEM, "isEmptyValue"),
        ("a", "values", "values"),
        ("a", "values", "values", LIST_ITEM, "isEmptyValue"),
        ("a", "values", "values", LIST_ITEM, "value"),
    ]


def test_paths_of_nested_predicates() -> None:
    assert result_paths(MQE) == [
        (("a", "results"), 5),
        (("a", "results", LIST_ITEM, "values"), 28),
        (("a", "results", LIST_ITEM, "values", LIST_ITEM, "value"), 38),
        (("a", "results", LIST_ITEM, "values", LIST_ITEM, "value"), 63),
    ]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("result.a.values.values[0].value > 1", [("a", "values", "values", LIST_ITEM, "value")]),
        ("result['a']['b'] > 1", [("a", "b")]),
        ("result.a?.b > 1", [("a", "b")]),
        ("result.a.values[1:].x", [("a", "values", "x")]),
        ("first(result.a.values).value > 0", [("a", "values", LIST_ITEM, "value"), ("a", "values")]),
        ("result.a[result.i] > 0", [("a",), ("i",)]),
        ("let v = result.a.values; v[0].value > 0", [("a", "values"), ("a", "values", LIST_ITEM, "value")]),
        ("result.a.values | all(.value > 0)", [("a", "values"), ("a", "values", LIST_ITEM, "value")]),
        ("all(map(result.a, .b), {.c > 0})", [("a",), ("a", LIST_ITEM, "b")]),
        ("result.a ?: result.b", [("a",), ("b",)]),
        ("isNil(result)", []),
        ("let result = {}; result.a", []),
    ],
)
def test_paths(condition: str, expected: list[tuple[str, ...]]) -> None:
    assert [path for path, _ in result_paths(condition)] == expected


def test_a_condition_with_a_syntax_error_reads_nothing() -> None:
    assert result_paths("all(result.a, {.value > 1}") == []
