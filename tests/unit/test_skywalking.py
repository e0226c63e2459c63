"""The SkyWalking query and condition: scaling, empty minutes, minimum data points, MQE, OAP versions."""

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from generator.errors import InputError
from generator.render import render_all
from generator.skywalking import (
    DEFAULT_OAP_VERSION,
    OAP_VERSION_PATTERN,
    PROTOCOL_RELEASES,
    QUERY_STYLES,
    MetricCheck,
    has_empty_value,
    mqe_expression,
    parse_oap_version,
    protocol_release,
    query,
    service_name,
    style_problem,
    success_condition,
)
from generator.skywalking_query import LIST_ITEM, check_query, result_paths

APDEX = MetricCheck("apdex", "service_apdex", minimum=0.99)


def test_service_name_is_tsb_convention() -> None:
    assert (
        service_name("canary", "reviews", "bookinfo", "cp-cluster-1")
        == "canary|reviews|bookinfo|cp-cluster-1|-"
    )


def test_apdex_fraction_is_scaled_by_10000() -> None:
    assert ">= 9900" in success_condition(APDEX, "readMetricsValues", 2)
    assert ">= 9950" in success_condition(
        MetricCheck("a", "service_apdex", minimum=0.995), "readMetricsValues", 2
    )


def test_unscaled_metrics_keep_their_units() -> None:
    latency = MetricCheck("latency", "service_resp_time", maximum=250)
    assert "asFloat(.value) <= 250" in success_condition(latency, "readMetricsValues", 1)
    assert "<= 12.5" in success_condition(MetricCheck("x", "service_cpm", maximum=12.5), "mqe", 1)


def test_default_condition_skips_empty_minutes_and_needs_enough_points() -> None:
    condition = success_condition(APDEX, "readMetricsValues", 3)
    assert condition == (
        "len(filter(result.service_apdex.values.values, {!.isEmptyValue})) >= 3"
        " && all(filter(result.service_apdex.values.values, {!.isEmptyValue}), {asFloat(.value) >= 9900})"
    )
    assert "isEmptyValue" in query(APDEX, "readMetricsValues")


def test_mqe_condition_leaves_out_null_values() -> None:
    condition = success_condition(APDEX, "mqe", 2)
    assert "{.value != nil}" in condition and "len(result.service_apdex.results) == 1" in condition
    text = query(MetricCheck("p99", "service_percentile", maximum=500, percentile=99), "mqe")
    assert "execExpression(" in text and "expression: \"service_percentile{p='99'}\"" in text
    assert "$duration: Duration!" in text and "{{ args.service-name }}" in text


def test_a_custom_condition_is_used_verbatim() -> None:
    custom = MetricCheck("apdex", "service_apdex", condition="true")
    assert success_condition(custom, "mqe", 5) == "true"


def test_min_and_max_together() -> None:
    both = MetricCheck("sla", "service_sla", minimum=0.99, maximum=1)
    assert "{asFloat(.value) >= 9900 && asFloat(.value) <= 10000}" in success_condition(both, "mqe", 1)


def add_to_analysis(config: Path, text: str) -> None:
    """Lines added at the end of the spec's `analysis` section (its last before `acknowledge`)."""
    spec = config / "services" / "reviews.yaml"
    spec.write_text(spec.read_text().replace("\nacknowledge:", "\n" + text.rstrip("\n") + "\nacknowledge:"))


def test_more_metrics_render_one_template_metric_each(example_config: Path) -> None:
    add_to_analysis(
        example_config,
        "  queryStyle: mqe\n  metrics:\n"
        "    - {name: sla, metric: service_sla, min: 0.995}\n"
        "    - {name: p99-latency, metric: service_percentile, percentile: 99, max: 400}\n",
    )
    template = next(m for m in render_all(example_config) if m.kind == "AnalysisTemplate")
    metrics = template.obj["spec"]["metrics"]
    assert [m["name"] for m in metrics] == ["apdex", "sla", "p99-latency"]
    assert ">= 9950" in metrics[1]["successCondition"]
    assert "<= 400" in metrics[2]["successCondition"]
    assert all("execExpression" in m["provider"]["skywalking"]["query"] for m in metrics)


def test_percentile_needs_mqe(example_config: Path) -> None:
    add_to_analysis(
        example_config,
        "  metrics:\n    - {name: p99, metric: service_percentile, percentile: 99, max: 400}\n",
    )
    with pytest.raises(
        InputError, match=r"analysis.metrics\[0\].metric: service_percentile is a labeled metric"
    ):
        render_all(example_config)


@pytest.mark.parametrize(
    ("written", "hint"),
    [
        ("99.5", "a fraction: 99.5 % is 0.995"),
        ("9950", "a fraction: 9950 is SkyWalking's stored x10000 value of 0.995"),
    ],
)
def test_sla_bounds_are_fractions(example_config: Path, written: str, hint: str) -> None:
    add_to_analysis(example_config, f"  metrics:\n    - {{name: sla, metric: service_sla, min: {written}}}\n")
    with pytest.raises(InputError) as caught:
        render_all(example_config)
    assert str(caught.value) == (
        f"services/reviews.yaml:27:45: analysis.metrics[0].min: service_sla bounds are fractions, got "
        f"{written} ({hint})"
    )


def test_an_apdex_threshold_in_percent_gets_the_fraction_as_hint(example_config: Path) -> None:
    spec = example_config / "services/reviews.yaml"
    spec.write_text(spec.read_text().replace("threshold: 0.99", "threshold: 99"))
    with pytest.raises(InputError) as caught:
        render_all(example_config)
    assert str(caught.value) == (
        "services/reviews.yaml:25:16: analysis.apdex.threshold: expected a number <= 1, got 99 "
        "(a fraction: 99 % is 0.99)"
    )


def test_address_must_not_end_in_graphql(example_config: Path) -> None:
    add_to_analysis(example_config, "  address: http://oap:12800/graphql\n")
    with pytest.raises(InputError, match="appends /graphql itself"):
        render_all(example_config)


# --- the OAP version ----------------------------------------------------------------------------------------

SUPPORTED = [*PROTOCOL_RELEASES, "9.7.0", "10.0.1", "10.4.3"]
LATENCY = MetricCheck("latency", "service_resp_time", maximum=400)
P99 = MetricCheck("p99", "service_percentile", maximum=400, percentile=99)


def cases() -> list[tuple[str, str, MetricCheck]]:
    """Every (version, style, metric) gitops-gen renders: MQE from 9.5 on, percentiles through MQE only."""
    found = []
    for version in SUPPORTED:
        for style in QUERY_STYLES:
            for check in (APDEX, LATENCY, P99):
                if style_problem(style, check, version) is None:
                    found.append((version, style, check))
    return found


def test_every_supported_version_renders_something() -> None:
    by_version = {version: {(s, c.metric) for v, s, c in cases() if v == version} for version in SUPPORTED}
    assert by_version["9.4.0"] == {
        ("readMetricsValues", "service_apdex"),
        ("readMetricsValues", "service_resp_time"),
    }
    assert len(by_version["9.5.0"]) == len(by_version["10.4.0"]) == 5


@pytest.mark.parametrize(("version", "style", "check"), cases(), ids=str)
def test_the_rendered_query_validates_against_that_release(
    version: str, style: str, check: MetricCheck
) -> None:
    assert check_query(query(check, style, version), version) == []


def test_the_default_query_fails_on_94_and_says_since_when() -> None:
    problems = check_query(query(APDEX, "readMetricsValues"), "9.4.0")
    assert [p.message for p in problems] == [
        "Cannot query field 'isEmptyValue' on type 'KVInt'. (SkyWalking 9.4.0; isEmptyValue exists since 9.5.0)"
    ]
    assert check_query(query(APDEX, "mqe"), "9.4.0")[0].message == (
        "Cannot query field 'execExpression' on type 'Query'. (SkyWalking 9.4.0; execExpression exists since 9.5.0)"
    )
    assert query(APDEX, "readMetricsValues") == query(APDEX, "readMetricsValues", DEFAULT_OAP_VERSION)


def test_entity_scope_is_required_before_94() -> None:
    text = query(APDEX, "readMetricsValues", "9.3.0").replace("scope: Service, ", "")
    (problem,) = check_query(text, "9.3.0")
    assert "required field 'scope'" in problem.message
    assert problem.message.endswith("(SkyWalking 9.3.0; Entity.scope is optional since 9.4.0)")
    assert check_query(text, "9.4.0") == []


@pytest.mark.parametrize(
    ("version", "expression"),
    [
        ("9.5.0", "service_percentile{label='4'}"),
        ("9.6.0", "service_percentile{_='4'}"),
        ("9.7.0", "service_percentile{_='4'}"),
        ("10.0.0", "service_percentile{p='99'}"),
        ("10.4.0", "service_percentile{p='99'}"),
    ],
)
def test_mqe_label_syntax_per_version(version: str, expression: str) -> None:
    assert mqe_expression(P99, version) == expression
    assert f'expression: "{expression}"' in query(P99, "mqe", version)
    p50 = MetricCheck("p50", "service_percentile", maximum=100, percentile=50)
    assert mqe_expression(p50, version).endswith(
        "='50'}" if parse_oap_version(version) >= (10, 0, 0) else "='0'}"
    )


def test_style_problems() -> None:
    assert style_problem("mqe", APDEX, "9.4.0") == (
        "queryStyle mqe needs SkyWalking >= 9.5.0 (execExpression); this environment says 9.4.0"
    )
    assert style_problem("readMetricsValues", P99, "10.4.0") == (
        "service_percentile is a labeled metric: readMetricsValues reads one value per minute, "
        "percentiles are read only through MQE here (set analysis.queryStyle: mqe)"
    )
    assert "MQE needs SkyWalking >= 9.5.0; this environment says 9.2.0" in str(
        style_problem("readMetricsValues", P99, "9.2.0")
    )
    assert style_problem("readMetricsValues", APDEX, "9.0.0") is None
    with pytest.raises(ValueError, match=r"queryStyle mqe needs SkyWalking >= 9\.5\.0"):
        query(APDEX, "mqe", "9.4.0")
    with pytest.raises(ValueError, match=r"queryStyle mqe needs SkyWalking >= 9\.5\.0"):
        success_condition(APDEX, "mqe", 2, "9.4.0")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "8.9.1",
            "SkyWalking 8.9.1 is not supported: gitops-gen knows the query protocol of 9.0.x to 10.4.x",
        ),
        ("10.5.0", "SkyWalking 10.5.0 is not supported"),
        ("10.4", "SkyWalking version '10.4' is not MAJOR.MINOR.PATCH"),
        ("v10.4.0", "is not MAJOR.MINOR.PATCH"),
        ("10.4.0-SNAPSHOT", "is not MAJOR.MINOR.PATCH"),
        ("", "is not MAJOR.MINOR.PATCH"),
    ],
)
def test_unsupported_or_junk_versions_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_oap_version(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        check_query(query(APDEX, "readMetricsValues"), text)


def test_version_parsing_and_protocol_choice() -> None:
    assert parse_oap_version("10.4.0") == (10, 4, 0)
    assert re.fullmatch(OAP_VERSION_PATTERN, DEFAULT_OAP_VERSION)
    assert not re.fullmatch(OAP_VERSION_PATTERN, "10.4")
    assert protocol_release("9.7.0") == "9.6.0"
    assert protocol_release("10.0.1") == "10.0.0"
    assert protocol_release("10.4.2") == "10.4.0"
    assert protocol_release("9.0.0") == "9.0.0"
    assert all(parse_oap_version(release) for release in PROTOCOL_RELEASES)


def test_below_95_the_query_has_no_is_empty_value_and_the_condition_skips_zeros() -> None:
    assert "isEmptyValue" not in query(APDEX, "readMetricsValues", "9.4.0")
    assert success_condition(APDEX, "readMetricsValues", 2, "9.4.0") == (
        "len(filter(result.service_apdex.values.values, {.value > 0})) >= 2"
        " && all(filter(result.service_apdex.values.values, {.value > 0}), {asFloat(.value) >= 9900})"
    )


# --- the conditions, evaluated by the real Argo Rollouts evaluator -----------------------------------------

TOOLS = Path(__file__).resolve().parents[2].parent / "shared" / "tools" / "bin"


def evaluators() -> list[str]:
    """rollouts-eval of argo-rollouts master and of v1.9.1 (tools/README.md), from ../shared or PATH."""
    found = []
    for name in ("rollouts-eval", "rollouts-eval-v1.9.1"):
        path = TOOLS / name if (TOOLS / name).is_file() else shutil.which(name)
        if path is not None:
            found.append(str(path))
    return found


def evaluate(condition: str, body: dict[str, Any], tmp_path: Path) -> set[str]:
    """How each Argo Rollouts evaluator classifies the measurement (one answer when they agree)."""
    tools = evaluators()
    if not tools:
        pytest.skip(f"rollouts-eval not found in {TOOLS} or on PATH (see shared/tools/README.md)")
    file = tmp_path / "body.json"
    file.write_text(json.dumps(body), encoding="utf-8")
    answers = set()
    for tool in tools:
        run = subprocess.run(
            [tool, "--success", condition, str(file)], capture_output=True, text=True, timeout=30, check=False
        )
        answers.add(run.stdout.strip() or f"rc={run.returncode} {run.stderr.strip()}")
    return answers


EMPTY = None  # a minute without traffic
GOOD = {"service_apdex": 9950, "service_resp_time": 120, "service_percentile": 350}
BAD = {"service_apdex": 9000, "service_resp_time": 900, "service_percentile": 1200}
SCENARIOS = {
    "healthy": (["good"] * 4, "Successful"),
    "one empty minute": (["good", "empty", "good", "good"], "Successful"),
    "no traffic at all": (["empty"] * 4, "Failed"),
    "one bad minute": (["good", "good", "bad", "empty"], "Failed"),
    "too few minutes with traffic": (["empty", "good", "empty", "empty"], "Failed"),
}


def response(check: MetricCheck, style: str, version: str, minutes: list[str]) -> dict[str, Any]:
    """The OAP's GraphQL response for those minutes, in the shape of that version and query style."""
    values = {"good": GOOD[check.metric], "bad": BAD[check.metric], "empty": EMPTY}
    points: list[dict[str, Any]] = []
    for minute in minutes:
        value = values[minute]
        if style == "mqe":  # MQE values are strings, null when the minute is empty
            points.append({"value": None if value is None else str(value)})
        elif has_empty_value(version):
            points.append({"value": value or 0, "isEmptyValue": value is None})
        else:  # before 9.5 an empty minute is just 0
            points.append({"value": value or 0})
    if style == "mqe":
        data = {"type": "TIME_SERIES_VALUES", "error": None, "results": [{"values": points}]}
    else:
        data = {"label": None, "values": {"values": points}}
    return {"data": {check.alias: data}}


def json_paths(value: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    paths = {prefix} if prefix else set()
    if isinstance(value, dict):
        for key, item in value.items():
            paths |= json_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for item in value:
            paths |= json_paths(item, (*prefix, LIST_ITEM))
    return paths


@pytest.mark.parametrize(("version", "style", "check"), cases(), ids=str)
def test_conditions_agree_with_argo_rollouts(
    version: str, style: str, check: MetricCheck, tmp_path: Path
) -> None:
    condition = success_condition(check, style, 2, version)
    text = query(check, style, version)
    for scenario, (minutes, expected) in SCENARIOS.items():
        body = response(check, style, version, minutes)
        # The response has only fields the query asks for (the shape the condition is evaluated on).
        assert json_paths(body["data"]) <= result_paths(text, version), scenario
        assert evaluate(condition, body, tmp_path) == {expected}, scenario


@pytest.mark.parametrize("version", ["9.0.0", "9.4.0"])
def test_below_95_a_real_zero_looks_like_no_traffic(version: str, tmp_path: Path) -> None:
    """What the `.value > 0` style cannot tell apart (README, "The analysis condition")."""
    condition = success_condition(APDEX, "readMetricsValues", 2, version)
    zero = {"data": {"service_apdex": {"label": None, "values": {"values": [{"value": 0}] * 4}}}}
    # Every request frustrated the whole window: no minute counts, so it still fails.
    assert evaluate(condition, zero, tmp_path) == {"Failed"}
    # Frustrated in two minutes, healthy in two: the zeros are skipped and it passes.
    mixed = [{"value": 0}, {"value": 9950}, {"value": 0}, {"value": 9950}]
    assert evaluate(condition, {"data": {"service_apdex": {"values": {"values": mixed}}}}, tmp_path) == {
        "Successful"
    }
    # From 9.5 on the same minutes carry isEmptyValue: false and fail the bound.
    newer = success_condition(APDEX, "readMetricsValues", 2, "9.5.0")
    marked = [{"value": v["value"], "isEmptyValue": False} for v in mixed]
    assert evaluate(newer, {"data": {"service_apdex": {"values": {"values": marked}}}}, tmp_path) == {
        "Failed"
    }


def test_an_oap_error_is_an_error_not_a_pass(tmp_path: Path) -> None:
    # What an old OAP answers the new query with: the GraphQL error makes the measurement an Error.
    body = {
        "errors": [
            {
                "message": "Validation error of type FieldUndefined: Field 'isEmptyValue' in type 'KVInt' is undefined"
            }
        ]
    }
    answers = evaluate(success_condition(APDEX, "readMetricsValues", 2), body, tmp_path)
    assert all(answer.startswith("Error:") for answer in answers)
