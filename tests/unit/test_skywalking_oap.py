"""The simulated OAP: the body it answers a rendered query with is what SkyWalking sends, in shape and value."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from generator import skywalking as sw
from generator import skywalking_oap as oap
from generator.skywalking_query import check_query

END = datetime(2030, 1, 1, 12, 0)
APDEX = sw.MetricCheck("apdex", "service_apdex", minimum=0.99)
P99 = sw.MetricCheck("p99", "service_percentile", maximum=300, percentile=99)
SERVICE = "canary|reviews|bookinfo|cp-cluster-1|-"


def answered(check: sw.MetricCheck, style: str, version: str, minutes: list[oap.Minute]) -> dict:
    query = sw.query(check, style, version).replace("{{ args.service-name }}", SERVICE)
    seen: list[oap.FieldRequest] = []

    def series(request: oap.FieldRequest) -> list[oap.Minute]:
        seen.append(request)
        return minutes

    body = oap.respond(query, {"duration": oap.duration(END, 180)}, series, version)
    assert len(seen) == 1 and seen[0].service == SERVICE
    return body


def test_a_window_holds_its_first_and_last_minute() -> None:
    # DurationUtils.getDurationPoints: start and end both included.
    window = oap.duration(END, 180)
    assert window == {"start": "2030-01-01 1157", "end": "2030-01-01 1200", "step": "MINUTE"}
    assert oap.points(window) == ("203001011157", "203001011158", "203001011159", "203001011200")
    assert oap.window_points(180) == (4,)
    assert oap.window_points(210) == (4, 5)  # 3m30s: both ends are cut to the minute
    assert oap.window_points(30) == (1, 2)


def test_read_metrics_values_since_9_5_marks_empty_minutes() -> None:
    body = answered(APDEX, "readMetricsValues", "10.4.0", [9950, None, 9990, 9970])
    values = body["data"]["service_apdex"]["values"]["values"]
    assert values == [
        {"value": 9950, "isEmptyValue": False},
        {"value": 0, "isEmptyValue": True},
        {"value": 9990, "isEmptyValue": False},
        {"value": 9970, "isEmptyValue": False},
    ]
    assert body["data"]["service_apdex"]["label"] is None


def test_read_metrics_values_before_9_5_has_only_a_zero() -> None:
    body = answered(APDEX, "readMetricsValues", "9.4.0", [9950, None, 9990, 9970])
    assert body["data"]["service_apdex"]["values"]["values"][1] == {"value": 0}


def test_a_field_the_query_selects_is_answered_as_the_oap_builds_it() -> None:
    query = (
        'query q($duration: Duration!) { m: readMetricsValues(condition: {name: "service_sla", '
        f'entity: {{scope: Service, serviceName: "{SERVICE}", normal: true}}}}, duration: $duration) '
        "{ values { values { id value } } } }"
    )
    body = oap.respond(query, {"duration": oap.duration(END, 60)}, lambda _: [10000, None])
    entity = base64.b64encode(SERVICE.encode()).decode() + ".1"  # IDManager.ServiceID.buildId
    assert body["data"]["m"]["values"]["values"] == [
        {"id": f"203001011159_{entity}", "value": 10000},
        {"id": f"203001011200_{entity}", "value": 0},
    ]


def test_mqe_values_are_strings_and_an_empty_minute_is_null() -> None:
    body = answered(APDEX, "mqe", "10.4.0", [9950, None, 9990.5, 12.3456])
    result = body["data"]["service_apdex"]
    assert result["type"] == "TIME_SERIES_VALUES" and result["error"] is None
    assert [v["value"] for v in result["results"][0]["values"]] == ["9950", None, "9990.5", "12.346"]


def test_mqe_labels_are_the_selector_of_the_release() -> None:
    query = (
        "query q($duration: Duration!) { p: execExpression(expression: \"service_percentile{p='99'}\", "
        f'entity: {{serviceName: "{SERVICE}", normal: true}}, duration: $duration) '
        "{ results { metric { labels { key value } } values { id value } } } }"
    )
    body = oap.respond(query, {"duration": oap.duration(END, 60)}, lambda _: [250, None])
    assert body["data"]["p"]["results"] == [
        {
            "metric": {"labels": [{"key": "p", "value": "99"}]},
            "values": [{"id": "203001011159", "value": "250"}, {"id": "203001011200", "value": None}],
        }
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        # java.text.DecimalFormat, grouping off: at most 3 decimals, half-even on the double's exact value.
        (9950.0, "9950"),
        (0.1, "0.1"),
        (12.3456, "12.346"),
        (0.0005, "0.001"),  # 0.0005 is 0.000500000000000000010... in binary: up
        (0.0015, "0.002"),
        (2.0625, "2.062"),  # exactly halfway: to even
        (1e20, "100000000000000000000"),
        (-1.5, "-1.5"),
        (-0.0001, "-0"),
    ],
)
def test_mqe_values_are_formatted_as_decimal_format(value: float, text: str) -> None:
    assert oap.mqe_value(value) == text


def test_a_fraction_where_a_long_belongs_is_refused() -> None:
    with pytest.raises(ValueError, match="whole numbers"):
        answered(APDEX, "readMetricsValues", "10.4.0", [0.995, 9990, 9990, 9990])


def test_a_query_the_release_rejects_gets_the_errors_the_oap_sends() -> None:
    query = sw.query(APDEX, "readMetricsValues", "10.4.0")
    assert check_query(query, "9.4.0")  # isEmptyValue is 9.5's
    body = oap.respond(query, {"duration": oap.duration(END, 180)}, lambda _: [1, 2, 3, 4], "9.4.0")
    assert "data" not in body
    assert body["errors"][0]["message"] == "Cannot query field 'isEmptyValue' on type 'KVInt'."
    assert oap.respond("query {", {}, lambda _: [])["errors"][0]["message"].startswith("Syntax Error")


@pytest.mark.parametrize("version", ["9.5.0", "9.7.0", "10.0.0", "10.4.0"])
def test_every_release_answers_the_percentile_query_it_renders(version: str) -> None:
    body = answered(P99, "mqe", version, [250, None, 280, 310])
    (field,) = body["data"].values()
    assert [v["value"] for v in field["results"][0]["values"]] == ["250", None, "280", "310"]
