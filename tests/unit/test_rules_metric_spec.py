"""GG307: Argo Rollouts' ValidateMetric (utils/analysis/factory.go, v1.9.1 = master), every branch, with
upstream's error texts."""

from __future__ import annotations

from typing import Any

import pytest

from generator.rules.metric_spec import validate_metric

SKYWALKING = {"skywalking": {"address": "http://oap:12800", "query": "q", "interval": "3m"}}


def metric(**fields: Any) -> dict[str, Any]:
    return {"name": "m", "interval": "5m", "provider": SKYWALKING, **fields}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"consecutiveSuccessLimit": -1}, "consecutiveSuccessLimit", "consecutiveSuccessLimit must be >= 0"),
        ({"failureLimit": -2}, "failureLimit", "failureLimit must be >= 0, or -1 to be disabled"),
        (
            {"failureLimit": -1},
            "failureLimit",
            "failureLimit and consecutiveSuccessLimit cannot both be disabled",
        ),
        (
            {"failureLimit": "-1"},
            "failureLimit",
            "failureLimit and consecutiveSuccessLimit cannot both be disabled",
        ),
        ({"inconclusiveLimit": -1}, "inconclusiveLimit", "inconclusiveLimit must be >= 0"),
        ({"consecutiveErrorLimit": -1}, "consecutiveErrorLimit", "consecutiveErrorLimit must be >= 0"),
        # count vs failureLimit: also when consecutiveSuccessLimit is unset (0), "if both >= 0"
        (
            {"count": 2, "failureLimit": 3},
            "count",
            "count (2) must be >= failureLimit + consecutiveSuccessLimit (3 + 0) if both >= 0",
        ),
        (
            {"count": 4, "failureLimit": 2, "consecutiveSuccessLimit": 3},
            "count",
            "count (4) must be >= failureLimit + consecutiveSuccessLimit (2 + 3) if both >= 0",
        ),
        (
            {"count": 2, "failureLimit": -1, "consecutiveSuccessLimit": 3},
            "count",
            "count must be >= consecutiveSuccessLimit",
        ),
        ({"count": 2, "inconclusiveLimit": 3}, "count", "count must be >= inconclusiveLimit"),
        ({"count": "2", "inconclusiveLimit": "3"}, "count", "count must be >= inconclusiveLimit"),
        ({"count": 3, "interval": None}, "count", "interval must be specified when count > 1"),
        ({"interval": "5"}, "interval", 'invalid interval string: time: missing unit in duration "5"'),
        ({"interval": "1d"}, "interval", 'invalid interval string: time: unknown unit "d" in duration "1d"'),
        (
            {"interval": "5 m"},
            "interval",
            'invalid interval string: time: unknown unit " m" in duration "5 m"',
        ),
        (
            {"initialDelay": "soon"},
            "initialDelay",
            'invalid startDelay string: time: invalid duration "soon"',
        ),
        ({"provider": {}}, "provider", "no provider specified"),
        ({"provider": {"skywalkng": {}}}, "provider", "no provider specified"),
        (
            {"provider": {**SKYWALKING, "prometheus": {"query": "up"}}},
            "provider",
            "multiple providers specified",
        ),
        ({"provider": {**SKYWALKING, "plugin": {"a/b": {}}}}, "provider", "multiple providers specified"),
    ],
)
def test_each_check_reports_upstreams_error(fields: dict[str, Any], field: str, message: str) -> None:
    error = validate_metric({k: v for k, v in metric(**fields).items() if v is not None})
    assert error is not None
    assert (error.field, error.message) == ((field,), message)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"failureLimit": 3},  # the demo
        {"count": 3, "failureLimit": 3},  # count == failureLimit + 0
        {"count": 5, "failureLimit": 2, "consecutiveSuccessLimit": 3},
        {"count": 3, "failureLimit": -1, "consecutiveSuccessLimit": 3},
        {"failureLimit": -1, "consecutiveSuccessLimit": 2},  # only success decides: allowed
        {"count": 1, "interval": None},  # a single measurement needs no interval
        {"interval": "0"},  # Go's special case
        {"interval": "1h30m", "initialDelay": "1.5m"},
        {"count": "{{ args.count }}", "failureLimit": 3},  # resolved only in the cluster
        {"count": "abc"},  # IntValue() of a non-number is 0: upstream does not complain
        {"provider": {"plugin": {"argoproj-labs/sample": {}}}},
    ],
)
def test_valid_metrics_pass(fields: dict[str, Any]) -> None:
    assert validate_metric({k: v for k, v in metric(**fields).items() if v is not None}) is None


def test_only_the_first_error_is_reported_in_upstreams_order() -> None:
    error = validate_metric(metric(count=1, failureLimit=-2, consecutiveSuccessLimit=-1, provider={}))
    assert error is not None and error.message == "consecutiveSuccessLimit must be >= 0"


def test_a_placeholder_skips_only_the_checks_that_need_it() -> None:
    error = validate_metric(metric(count="{{ args.count }}", inconclusiveLimit=-1))
    assert error is not None and error.message == "inconclusiveLimit must be >= 0"
