"""GG309: an all() is vacuous only over a list that can be empty and is not required to hold a point."""

from __future__ import annotations

import pytest

from generator.rules.vacuity import vacuous_columns

FILTERED = "filter(result.a.values.values, {!.isEmptyValue})"


@pytest.mark.parametrize(
    "condition",
    [
        "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})",  # the demo: one point a minute
        f"len({FILTERED}) >= 2 && all({FILTERED}, {{asFloat(.value) >= 9900}})",  # gitops-gen's
        f"len({FILTERED}) > 0 and all({FILTERED}, {{.value > 1}})",
        f"1 <= count({FILTERED}, {{true}}) && all({FILTERED}, {{.value > 1}})",
        f"let pts = {FILTERED}; len(pts) >= 3 && all(pts, {{.value > 1}})",
        f"any({FILTERED}, {{.value > 1}})",  # any() over nothing is false
        "all(result.a.values.values, {",  # a syntax error is GG306's
    ],
)
def test_not_vacuous(condition: str) -> None:
    assert vacuous_columns(condition) == []


@pytest.mark.parametrize(
    ("condition", "column"),
    [
        (f"all({FILTERED}, {{asFloat(.value) >= 9900}})", 1),
        (f"none({FILTERED}, {{.value < 1}})", 1),
        (f"len({FILTERED}) >= 0 && all({FILTERED}, {{.value > 1}})", 63),  # >= 0 requires nothing
        (f"len(result.b.values.values) >= 2 && all({FILTERED}, {{.value > 1}})", 37),  # another list
        (f"let pts = {FILTERED}; all(pts, {{.value > 1}})", 61),
        ("filter(result.a.results[0].values, {.value != nil}) | all({asFloat(.value) >= 1})", 55),
        (f"all(map({FILTERED}, {{.value}}), {{# > 1}})", 1),
    ],
)
def test_vacuous(condition: str, column: int) -> None:
    assert vacuous_columns(condition) == [column]
