"""The SkyWalking query and condition: scaling, empty minutes, minimum data points, MQE."""

from pathlib import Path

import pytest

from generator.errors import InputError
from generator.render import render_all
from generator.skywalking import MetricCheck, query, service_name, success_condition

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
    spec = config / "services" / "reviews.yaml"
    spec.write_text(spec.read_text() + text)


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


def test_sla_bounds_are_fractions(example_config: Path) -> None:
    add_to_analysis(example_config, "  metrics:\n    - {name: sla, metric: service_sla, min: 9950}\n")
    with pytest.raises(
        InputError, match=r"service_sla bounds are fractions, got 9950 \(write 0.995 for 9950\)"
    ):
        render_all(example_config)


def test_address_must_not_end_in_graphql(example_config: Path) -> None:
    add_to_analysis(example_config, "  address: http://oap:12800/graphql\n")
    with pytest.raises(InputError, match="appends /graphql itself"):
        render_all(example_config)
