"""Argo Rollouts' `ValidateMetric`, ported check by check, for GG307.

The controller runs it on every metric of an AnalysisRun after the args are resolved (v1.9.1
`analysis/analysis.go`, `reconcileAnalysisRun`: `analysisutil.ValidateMetrics(resolvedMetrics)`), and an
invalid metric ends the run in phase Error with "Analysis spec invalid: metrics[i]: <error>". Nothing
checks it earlier: not the CRD schema, not Argo CD. So a template mistake surfaces only mid-rollout.

Source: github.com/argoproj/argo-rollouts `utils/analysis/factory.go`, func `ValidateMetric`, at v1.9.1
(b6bd3bc); identical on master (9f8d111, the v1.10 line) and at v1.10.0-rc1 (`git diff v1.9.1 master --
utils/analysis/factory.go` is empty), so there is no version switch. Like upstream, only the first failing
check is reported; the messages are upstream's `fmt.Errorf` texts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .durations import parse_go_duration

# The fields of v1alpha1.MetricProvider (pkg/apis/rollouts/v1alpha1/analysis_types.go), each counted by
# ValidateMetric; `plugin` counts once per plugin named in it.
PROVIDERS = (
    "prometheus",
    "job",
    "web",
    "wavefront",
    "kayenta",
    "datadog",
    "newRelic",
    "cloudWatch",
    "graphite",
    "influxdb",
    "skywalking",
)
_ATOI = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class MetricError:
    """Upstream's error for one metric, and the field (under the metric) it is about."""

    field: tuple[str, ...]
    message: str


class _Unknown(Exception):
    """A value only the cluster knows (an `{{ args.x }}` placeholder) or of a type the schema rejects."""


def _int_value(metric: Mapping[str, Any], key: str) -> int:
    """`intstr.IntOrString.IntValue()` of an optional field, 0 when unset (as ValidateMetric defaults
    it): an int as is; a string through `strconv.Atoi`, which gives 0 for anything that is not a
    number."""
    value = metric.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Unknown(key)
    if isinstance(value, int):
        return value
    if "{{" in value:
        raise _Unknown(key)
    return int(value) if _ATOI.fullmatch(value) else 0


def _duration_string(metric: Mapping[str, Any], key: str) -> str:
    value = metric.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or "{{" in value:
        raise _Unknown(key)
    return value


def validate_metric(metric: Mapping[str, Any]) -> MetricError | None:
    """The first error `ValidateMetric` returns for this metric, or None. A check that needs a value
    only the cluster knows (an arg placeholder, or a wrongly typed field the schema reports) is skipped,
    and so is every later check that depends on it."""
    for check in _CHECKS:
        try:
            error = check(metric)
        except _Unknown:
            continue
        if error is not None:
            return error
    return None


# Each check below is one `if` of ValidateMetric, in upstream's order.


def _consecutive_success_negative(metric: Mapping[str, Any]) -> MetricError | None:
    if _int_value(metric, "consecutiveSuccessLimit") < 0:
        return MetricError(("consecutiveSuccessLimit",), "consecutiveSuccessLimit must be >= 0")
    return None


def _failure_limit_below_minus_one(metric: Mapping[str, Any]) -> MetricError | None:
    if _int_value(metric, "failureLimit") < -1:
        return MetricError(("failureLimit",), "failureLimit must be >= 0, or -1 to be disabled")
    return None


def _both_disabled(metric: Mapping[str, Any]) -> MetricError | None:
    # "if consecutiveSuccessLimit is disabled (set to 0), AND failureLimit is disabled (set to -1)"
    if _int_value(metric, "consecutiveSuccessLimit") == 0 and _int_value(metric, "failureLimit") == -1:
        return MetricError(
            ("failureLimit",), "failureLimit and consecutiveSuccessLimit cannot both be disabled"
        )
    return None


def _inconclusive_negative(metric: Mapping[str, Any]) -> MetricError | None:
    if _int_value(metric, "inconclusiveLimit") < 0:
        return MetricError(("inconclusiveLimit",), "inconclusiveLimit must be >= 0")
    return None


def _consecutive_error_negative(metric: Mapping[str, Any]) -> MetricError | None:
    # Upstream reads it only when set (`metric.ConsecutiveErrorLimit != nil`); unset means 0 here too.
    if _int_value(metric, "consecutiveErrorLimit") < 0:
        return MetricError(("consecutiveErrorLimit",), "consecutiveErrorLimit must be >= 0")
    return None


def _count_limits(metric: Mapping[str, Any]) -> MetricError | None:
    count = _int_value(metric, "count")
    if count <= 0:
        return None
    success = _int_value(metric, "consecutiveSuccessLimit")
    failure = _int_value(metric, "failureLimit")
    if success >= 0 and failure >= 0:
        if count < failure + success:
            return MetricError(
                ("count",),
                f"count ({count}) must be >= failureLimit + consecutiveSuccessLimit "
                f"({failure} + {success}) if both >= 0",
            )
    elif success >= 0 and failure < 0 and count < success:
        return MetricError(("count",), "count must be >= consecutiveSuccessLimit")
    if count < _int_value(metric, "inconclusiveLimit"):
        return MetricError(("count",), "count must be >= inconclusiveLimit")
    return None


def _interval_required(metric: Mapping[str, Any]) -> MetricError | None:
    if _int_value(metric, "count") > 1 and _duration_string(metric, "interval") == "":
        return MetricError(("count",), "interval must be specified when count > 1")
    return None


def _interval_parses(metric: Mapping[str, Any]) -> MetricError | None:
    interval = _duration_string(metric, "interval")
    if interval != "":
        _, error = parse_go_duration(interval)
        if error is not None:
            return MetricError(("interval",), f"invalid interval string: {error}")
    return None


def _initial_delay_parses(metric: Mapping[str, Any]) -> MetricError | None:
    delay = _duration_string(metric, "initialDelay")
    if delay != "":
        _, error = parse_go_duration(delay)
        if error is not None:
            # sic: upstream calls it startDelay in this message
            return MetricError(("initialDelay",), f"invalid startDelay string: {error}")
    return None


def _one_provider(metric: Mapping[str, Any]) -> MetricError | None:
    provider = metric.get("provider")
    provider = provider if isinstance(provider, Mapping) else {}
    count = sum(1 for key in PROVIDERS if provider.get(key) is not None)
    plugins = provider.get("plugin")
    if isinstance(plugins, Mapping):
        count += len(plugins)
    if count == 0:
        return MetricError(("provider",), "no provider specified")
    if count > 1:
        return MetricError(("provider",), "multiple providers specified")
    return None


_CHECKS = (
    _consecutive_success_negative,
    _failure_limit_below_minus_one,
    _both_disabled,
    _inconclusive_negative,
    _consecutive_error_negative,
    _count_limits,
    _interval_required,
    _interval_parses,
    _initial_delay_parses,
    _one_provider,
)


def int_value(metric: Mapping[str, Any], key: str) -> int | None:
    """`IntValue()` of an IntOrString field as the controller reads it (0 when unset), or None when only
    the cluster knows it."""
    try:
        return _int_value(metric, key)
    except _Unknown:
        return None
