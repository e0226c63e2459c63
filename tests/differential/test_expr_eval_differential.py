"""expr_eval against the real controller code: the same measurement phase, per Argo Rollouts release.

`rollouts-eval BODY.json` (../shared/tools/README.md) classifies one SkyWalking response body the way the
analysis controller does: `rollouts-eval` is master (9f8d111) over expr-lang/expr v1.17.8 (our "v1.10"),
`rollouts-eval-v1.9.1` is v1.9.1 over antonmedv/expr v1.15.5 (our "v1.9"). The cases, all generated
deterministically: the conditions gitops-gen renders (skywalking.success_condition for each query style,
OAP generation, bound and minimum point count) and variations of them, paired with SkyWalking-shaped
bodies (healthy, quiet and empty minutes, regressions, string and null values, missing fields, GraphQL
errors, `data: null`); and every hand-written condition of conditions.txt over a few bodies. The phase
must agree; for an Error only that it is one (the texts are expr's and Go's).

The binaries are found on PATH (the Makefile puts ../shared/tools/bin there); without them the test skips.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from generator import expr_eval, skywalking
from generator.skywalking import MetricCheck

HERE = Path(__file__).resolve().parent
BINARIES = {"v1.9": "rollouts-eval-v1.9.1", "v1.10": "rollouts-eval"}
SEED = 20261201


@dataclass(frozen=True)
class Case:
    success: str | None
    failure: str | None
    body: str  # a key of the bodies


# --- bodies -----------------------------------------------------------------------------------------------


def _point(value: Any, empty: bool | None = False) -> dict[str, Any]:
    point: dict[str, Any] = {"id": "minute", "value": value}
    if empty is not None:
        point["isEmptyValue"] = empty
    return point


def _read_metrics(points: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {"label": None, "values": {"values": points}}


def _mqe(values: list[Any] | None, results: int = 1, error: str | None = None) -> dict[str, Any]:
    series = [{"metric": {"labels": []}, "values": [{"id": "m", "value": v} for v in values or []]}]
    return {
        "type": "TIME_SERIES_VALUES",
        "error": error,
        "results": series * results if values is not None else [],
    }


def _series(kind: str) -> list[dict[str, Any]] | None:
    """readMetricsValues points of a window, by what happened in it."""
    if kind == "healthy":
        return [_point(9950), _point(9980), _point(9990)]
    if kind == "quiet":
        return [_point(0, True), _point(9960), _point(0, True), _point(9970), _point(9999)]
    if kind == "no-traffic":
        return [_point(0, True), _point(0, True), _point(0, True)]
    if kind == "regression":
        return [_point(9950), _point(8000), _point(9990)]
    if kind == "one-point":
        return [_point(9950)]
    if kind == "strings":
        return [_point("9950"), _point("9980"), _point("9990")]
    if kind == "bad-string":
        return [_point("9950"), _point("n/a"), _point("9990")]
    if kind == "nulls":
        return [_point(None), _point(9950), _point(None, True), _point(9990)]
    if kind == "no-empty-flag":
        return [_point(9950, None), _point(0, None), _point(9990, None), _point(9970, None)]
    if kind == "latency":
        return [_point(120), _point(180), _point(0, True), _point(260)]
    if kind == "fractions":
        return [_point(99.5), _point(99.9), _point(100.0)]
    if kind == "bools":
        return [_point(True), _point(9950)]
    if kind == "flag-as-string":
        return [{"value": 9950, "isEmptyValue": "false"}, {"value": 9990, "isEmptyValue": "false"}]
    if kind == "late-bad-flag":  # count(..) >= 2 stops before the third point on v1.10
        return [_point(9950), _point(9960), {"value": 9970, "isEmptyValue": "x"}]
    if kind == "early-bad-flag":
        return [{"value": 9970, "isEmptyValue": "x"}, _point(9950), _point(9960)]
    if kind == "late-bad-value":
        return [_point(9950), _point(9960), _point("abc")]
    if kind == "empty-list":
        return []
    if kind == "values-null":
        return None
    raise AssertionError(kind)


SERIES = (
    "healthy", "quiet", "no-traffic", "regression", "one-point", "strings", "bad-string", "nulls",
    "no-empty-flag", "latency", "fractions", "bools", "flag-as-string", "late-bad-flag", "early-bad-flag",
    "late-bad-value", "empty-list", "values-null",
)  # fmt: skip
MQE_VALUES: dict[str, list[Any] | None] = {
    "mqe-healthy": ["9950", "9980", "9990"],
    "mqe-quiet": [None, "9960", None, "9970"],
    "mqe-empty": [None, None, None],
    "mqe-regression": ["9950", "8000", "9990"],
    "mqe-numbers": [9950, 9980, 9990],
    "mqe-latency": ["120", "310", None],
    "mqe-bad": ["9950", "NaN", "abc"],
    "mqe-no-results": None,
}
ALIASES = ("service_apdex", "service_sla", "service_resp_time", "service_percentile")


def bodies() -> dict[str, dict[str, Any] | str]:
    """Every body by name; each carries the same window under every alias the conditions read."""
    out: dict[str, dict[str, Any] | str] = {}
    for kind in SERIES:
        window = _read_metrics(_series(kind))
        out[kind] = {"data": {alias: window for alias in (*ALIASES, "a", "apdex", "sla", "rt")}}
    for name, values in MQE_VALUES.items():
        window = _mqe(values)
        out[name] = {"data": {alias: window for alias in (*ALIASES, "a", "apdex", "sla", "rt")}}
    out["mqe-two-results"] = {"data": {alias: _mqe(["9950"], results=2) for alias in ALIASES}}
    out["mqe-error"] = {"data": {alias: _mqe(None, error="Expression: unknown metric") for alias in ALIASES}}
    out["alias-missing"] = {"data": {}}
    out["alias-null"] = {"data": dict.fromkeys(ALIASES)}
    out["label-and-null-values"] = {"data": {alias: {"label": None, "values": None} for alias in ALIASES}}
    out["data-null"] = {"data": None}
    out["no-data"] = {}
    out["graphql-error"] = {"errors": [{"message": "Duration is invalid", "locations": []}], "data": None}
    out["graphql-error-with-data"] = {
        "errors": [{"message": "partial"}],
        "data": {alias: _read_metrics(_series("healthy")) for alias in ALIASES},
    }
    out["errors-empty"] = {
        "errors": [],
        "data": {alias: _read_metrics(_series("healthy")) for alias in ALIASES},
    }
    out["not-json"] = "<html>502 Bad Gateway</html>"
    out["trailing"] = json.dumps(out["healthy"]) + "\n<!-- proxy -->"
    out["huge-number"] = '{"data": {"service_apdex": {"values": {"values": [{"value": 1e400}]}}}}'
    out["data-scalar"] = {"data": 9950}
    out["errors-not-a-list"] = {"errors": "unavailable", "data": out["healthy"]["data"]}
    return out


# --- conditions -------------------------------------------------------------------------------------------


def rendered() -> list[str]:
    """What gitops-gen renders, for each style, OAP generation, bound and minimum point count."""
    checks = [
        MetricCheck("apdex", "service_apdex", minimum=0.99),
        MetricCheck("sla", "service_sla", minimum=0.995, maximum=1.0),
        MetricCheck("latency", "service_resp_time", maximum=250),
        MetricCheck("latency-range", "service_resp_time", minimum=0.5, maximum=300.5),
        MetricCheck("p99", "service_percentile", maximum=300, percentile=99),
    ]
    out = []
    for check in checks:
        for min_points in (1, 2, 3):
            for oap in ("9.4.0", "10.4.0"):
                if not skywalking.is_labeled(check.metric):
                    out.append(skywalking.success_condition(check, "read", min_points, oap))
                if skywalking.has_empty_value(oap):  # MQE and isEmptyValue both came with 9.5
                    out.append(skywalking.success_condition(check, "mqe", min_points, oap))
    return list(dict.fromkeys(out))


# Typical hand-written conditions and variations of the rendered ones; {A} is the alias.
TEMPLATES = (
    "all(result.{A}.values.values, {{asFloat(.value) >= 9900}})",
    "all(result.{A}.values.values, {{.value >= 9900}})",
    "all(result.{A}.values.values, {{asInt(.value) >= 9900}})",
    "any(result.{A}.values.values, {{asFloat(.value) < 9000}})",
    "none(result.{A}.values.values, {{.isEmptyValue == false && asFloat(.value) < 9000}})",
    "one(result.{A}.values.values, {{.value > 9985}})",
    "count(result.{A}.values.values, {{!.isEmptyValue}}) >= 2",
    "len(result.{A}.values.values) > 0 && result.{A}.values.values[0].value >= 9900",
    "result.{A}.values.values[-1].value >= 9900",
    "result.{A}?.values?.values == nil || all(result.{A}.values.values, {{.value == nil || .value >= 9900}})",
    "result.{A}.values?.values[0]?.value > 0",
    "len(map(result.{A}.values.values, {{.value}})) == 3",
    "9950 in map(result.{A}.values.values, {{.value}})",
    "map(result.{A}.values.values, {{.value}}) == [9950, 9980, 9990]",
    "filter(result.{A}.values.values, {{.value > 0}}) == filter(result.{A}.values.values, {{!.isEmptyValue}})",
    "all(filter(result.{A}.values.values, {{!.isEmptyValue}}), {{asFloat(.value) / 100 >= 99}})",
    "all(result.{A}.values.values, {{.isEmptyValue || asFloat(.value) >= 9900}})",
    "all(result.{A}.values.values, {{.isEmptyValue ? true : asFloat(.value) >= 9900}})",
    "all(result.{A}.values.values, {{not .isEmptyValue and .value >= 9900 or .isEmptyValue}})",
    "all(result.{A}.values.values, {{!isNaN(asFloat(.value)) && !isInf(asFloat(.value))}})",
    "all(result.{A}.values.values, {{(.value ?? 0) >= 0}})",
    "isNil(result.{A}) || len(result.{A}.values.values) >= 1",
    "default(result.{A}, nil) != nil",
    "len(result.{A}.results) == 1 && all(result.{A}.results[0].values, {{.value == nil || asFloat(.value) >= 9900}})",
    "len(result.{A}.results) >= 1 && any(result.{A}.results[0].values, {{asFloat(.value) > 300}})",
    "all(result.{A}.results, {{all(.values, {{.value == nil || asFloat(.value) <= 250}})}})",
    "result.{A}.error == nil && len(result.{A}.results) > 0",
    "result.{A}.results[0].values[0].value == '9950'",
    "result.{A}.results[0].values[0].value > 9900",
    "result.{A}.results[0].values[0].value startsWith '99'",
    "result.{A}.results[0].values[0].value matches '^99[0-9]{{2}}$'",
    "result.{A}.type == 'TIME_SERIES_VALUES'",
    "result.{A}.label == nil",
    "len(result.{A}.label ?? 'héllo') == 5",
    "asFloat(result.{A}.values.values[0].value) * 2 > 19000 % 7",
    "result.{A}.values.values[0].value + 1 > 9950",
    "result.{A}.values.values[0].value % 2 == 0",
    "len(result.{A}.values.values[1:]) >= 2",
    "all(result.{A}.values.values[:2], {{.value >= 9900}})",
    "result.{A}.values.values[0].isEmptyValue",
    # what expr's optimizer rewrites: constant folding, filterLen/countAny/countThreshold, filterFirst,
    # filterLast, filterMap, predicateCombination
    "result.{A}.values.values[0].value > 1 || true",
    "result.zz.yy && false",
    "true && result.{A}.values.values[0].value > 9900",
    "!(1 == 2) && (result.zz.yy || 'a' == 'a')",
    "len(filter(result.{A}.values.values, {{!.isEmptyValue}})) > 1",
    "len(filter(result.{A}.values.values, {{!.isEmptyValue}})) > 0",
    "len(filter(result.{A}.values.values, {{!.isEmptyValue}})) >= 1",
    "count(result.{A}.values.values, {{asFloat(.value) > 9000}}) < 2",
    "count(result.{A}.values.values, {{asFloat(.value) > 9000}}) <= 1",
    "filter(result.{A}.values.values, {{!.isEmptyValue}})[0].value >= 9900",
    "filter(result.{A}.values.values, {{!.isEmptyValue}})[-1].value >= 9900",
    "filter(result.{A}.values.values, {{asFloat(.value) > 9955}})[0].value >= 9900",
    "map(filter(result.{A}.values.values, {{.value != nil}}), {{asFloat(.value)}})[0] > 0",
    "all(result.{A}.values.values, {{!.isEmptyValue}}) && all(result.{A}.values.values, {{asFloat(.value) > 9900}})",
    "any(result.{A}.values.values, {{asFloat(.value) < 9000}}) || any(result.{A}.values.values, {{.isEmptyValue}})",
    "none(result.{A}.values.values, {{.isEmptyValue}}) && none(result.{A}.values.values, {{asFloat(.value) < 9000}})",
    "all(result.{A}, {{true}}) && len(result.{A}) > 0",
    "{{x: 1, (result.{A}.label ?? 'k'): 2}}.x == 1",
    "result.{A}.values.values[0].value",
)


def templated() -> list[str]:
    return [
        template.format(A=alias)
        for template in TEMPLATES
        for alias in ("service_apdex", "service_percentile")
    ]


# --- random well-typed conditions over the bodies' shapes ----------------------------------------------


class _Typed:
    """Conditions built from typed parts, so most get past the compiler and many evaluate to a bool."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def points(self, depth: int) -> str:
        base = self.pick(
            "result.a.values.values", "result.a.results[0].values", "result.a?.values?.values",
            "result.a.values.values[1:]", "result.a.values.values[:2]",
        )  # fmt: skip
        if depth > 0 and self.rng.random() < 0.4:
            return f"filter({self.points(depth - 1)}, {{{self.item_bool(depth - 1)}}})"
        return base

    def item_number(self, depth: int) -> str:
        return self.pick("asFloat(.value)", "asInt(.value)", ".value", "asFloat(#.value)", "#index", "9950")

    def item_bool(self, depth: int) -> str:
        choice = self.rng.randrange(6)
        if choice == 0 or depth <= 0:
            return self.pick(
                "!.isEmptyValue", ".isEmptyValue", ".value != nil", ".value == nil", ".value > 0"
            )
        if choice == 1:
            return f"{self.item_number(depth)} {self.pick('>=', '<=', '>', '<', '==', '!=')} {self.literal()}"
        if choice == 2:
            return f"{self.item_bool(depth - 1)} {self.pick('&&', '||', 'and', 'or')} {self.item_bool(depth - 1)}"
        if choice == 3:
            return f"{self.pick('!', 'not ')}({self.item_bool(depth - 1)})"
        if choice == 4:
            return f"isNaN(asFloat(.value)) || {self.item_bool(depth - 1)}"
        return f"(.value ?? 0) {self.pick('>=', '<')} {self.literal()}"

    def literal(self) -> str:
        return self.pick("0", "1", "9900", "9950.5", "250", "-1", "1e4", "10000")

    def number(self, depth: int) -> str:
        choice = self.rng.randrange(6)
        if choice == 0 or depth <= 0:
            return self.pick(
                self.literal(), "result.a.values.values[0].value", "asFloat(result.a.results[0].values[0].value)",
                "result.a.values.values[-1].value",
            )  # fmt: skip
        if choice == 1:
            return f"len({self.points(depth - 1)})"
        if choice == 2:
            return f"count({self.points(depth - 1)}, {{{self.item_bool(depth - 1)}}})"
        if choice == 3:
            return f"({self.number(depth - 1)} {self.pick('+', '-', '*', '/', '%', '**')} {self.number(depth - 1)})"
        if choice == 4:
            return f"{self.pick('asFloat', 'asInt', 'abs')}({self.number(depth - 1)})"
        return (
            f"map({self.points(depth - 1)}, {{{self.item_number(depth - 1)}}})[{self.pick('0', '-1', '1')}]"
        )

    def boolean(self, depth: int) -> str:
        choice = self.rng.randrange(8)
        if choice == 0 or depth <= 0:
            return f"{self.number(depth - 1)} {self.pick('>=', '<=', '>', '<', '==', '!=')} {self.number(depth - 1)}"
        if choice == 1:
            name = self.pick("all", "any", "none", "one")
            return f"{name}({self.points(depth - 1)}, {{{self.item_bool(depth - 1)}}})"
        if choice == 2:
            return f"{self.boolean(depth - 1)} {self.pick('&&', '||', 'and', 'or')} {self.boolean(depth - 1)}"
        if choice == 3:
            return f"!({self.boolean(depth - 1)})"
        if choice == 4:
            # Strings only after a path: `len(x) in ['a']` does not compile (cannot use int as type
            # string in array), which expr_check does not see.
            if self.rng.random() < 0.5:
                needle, haystack = self.number(depth - 1), self.pick("[9950, 9980]", "[1, 2]")
            else:
                needle = self.pick("result.a.type", "result.a.results[0].values[0].value", "result.a.label")
                haystack = self.pick("['9950', '120']", "['TIME_SERIES_VALUES']", "[9950, 9980]")
            return f"{needle} {self.pick('in', 'not in')} {haystack}"
        if choice == 5:
            return f"{self.boolean(depth - 1)} ? {self.boolean(depth - 1)} : {self.boolean(depth - 1)}"
        if choice == 6:
            path = self.pick(
                "result.a.label", "result.a.type", "result.a.error", "result.a.results[0].values[0].value"
            )
            return (
                f"{path} {self.pick('==', '!=')} {self.pick('nil', repr('9950'), repr('TIME_SERIES_VALUES'))}"
            )
        return f"{self.pick('isNaN', 'isInf')}({self.number(depth - 1)})"


def random_conditions(count: int) -> list[str]:
    typed = _Typed(random.Random(SEED + 1))
    return list(dict.fromkeys(typed.boolean(typed.rng.randrange(1, 4)) for _ in range(count)))


def hand_written() -> list[str]:
    lines = (HERE / "conditions.txt").read_text(encoding="utf-8").split("\n")
    return [line for line in lines if line and not line.startswith(";;")]


def cases() -> list[Case]:
    rng = random.Random(SEED)
    names = list(bodies())
    out: list[Case] = []
    generated = [*rendered(), *templated()]
    for condition in generated:
        out.extend(Case(condition, None, name) for name in names)
    # success + failure pairs, and failure alone: every outcome class, Inconclusive included.
    failures = [
        *generated,
        *(f"any(result.{alias}.values.values, {{asFloat(.value) < 5000}})" for alias in ALIASES),
        *(f"len(result.{alias}.results) > 1" for alias in ALIASES),
        "result.service_apdex == nil",
    ]
    for _ in range(500):
        success = rng.choice([*generated, ""])
        failure = rng.choice(failures)
        out.append(Case(success or None, failure, rng.choice(names)))
    for condition in random_conditions(500):
        out.extend(Case(condition, None, name) for name in rng.sample(names, 3))
    for condition in hand_written():
        out.extend(Case(condition, None, name) for name in rng.sample(names, 2))
    return list(dict.fromkeys(out))


# --- the comparison ---------------------------------------------------------------------------------------


def _real(binary: str, case: Case, files: dict[str, Path]) -> str:
    argv = [binary]
    if case.success is not None:
        argv += ["--success", case.success]
    if case.failure is not None:
        argv += ["--failure", case.failure]
    argv.append(str(files[case.body]))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    out = done.stdout.strip()
    phase = out.split(":", 1)[0]
    assert phase in expr_eval.PHASES, (argv, done.returncode, done.stdout, done.stderr)
    return phase


def _ours(case: Case, body: dict[str, Any] | str, version: str) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    try:
        return expr_eval.classify(text, case.success, case.failure, version).phase
    except expr_eval.UnsupportedExpression:
        return "unsupported"


@pytest.mark.parametrize("version", list(BINARIES))
def test_same_phase_as_the_controller(version: str, tmp_path: Path) -> None:
    binary = shutil.which(BINARIES[version])
    if binary is None:
        pytest.skip(
            f"{BINARIES[version]} is not on PATH (CI gets it from ../shared/tools/bin via the Makefile)"
        )
    all_bodies = bodies()
    files = {}
    for name, body in all_bodies.items():
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(body if isinstance(body, str) else json.dumps(body), encoding="utf-8")
    corpus = cases()
    with ThreadPoolExecutor(max_workers=8) as pool:
        real = list(pool.map(lambda case: _real(binary, case, files), corpus))
    disagreements, unsupported = [], []
    for case, phase in zip(corpus, real, strict=True):
        ours = _ours(case, all_bodies[case.body], version)
        if ours == "unsupported":
            unsupported.append(case)
        elif ours != phase:
            disagreements.append(f"{case}: controller {phase}, expr_eval {ours}")
    assert len(corpus) > 1000
    assert {"Successful", "Failed", "Inconclusive", "Error"} <= set(real)  # every class is exercised
    # What gitops-gen renders, and the templates, are all supported; conditions.txt uses builtins
    # expr_eval lacks (upper, now, ...), the random ones #index in map(filter(..)) on v1.9.
    rendered_or_templated = {*rendered(), *templated()}
    assert not any({case.success, case.failure} & rendered_or_templated for case in unsupported)
    assert len(unsupported) < len(corpus) // 10, len(unsupported)
    assert disagreements == [], (
        f"{len(disagreements)} of {len(corpus) - len(unsupported)} disagree:\n"
        + "\n".join(disagreements[:60])
    )
