"""What the Argo Rollouts SkyWalking provider needs, encoded once: the GraphQL query and the condition.

Facts this relies on (shared/reference/NOTES.md sections 2 and 3):
- the provider POSTs `{"query": ..., "variables": {"duration": {start, end, step: MINUTE}}}` to
  `<address>/graphql`, so the query declares `$duration: Duration!` and nothing else;
- the GraphQL `data` object becomes `result`, keyed by the field's alias;
- `readMetricsValues` returns one point per minute, `value: 0, isEmptyValue: true` for a minute without
  traffic; MQE `execExpression` returns `value: null` for it, and values as strings;
- Apdex and SLA are stored x10000 (0.99 -> 9900).
"""

from __future__ import annotations

from dataclasses import dataclass

# Metrics SkyWalking stores as integer fractions x 10000 (OAL `apdex()` and `percent()`).
SCALED_BY_10000 = frozenset({"service_apdex", "service_sla", "endpoint_sla", "service_instance_sla"})
QUERY_STYLES = ("readMetricsValues", "mqe")
SERVICE_NAME_ARG = "service-name"


def service_name(subset: str, service: str, namespace: str, cluster: str) -> str:
    """TSB's SkyWalking service name, `subset|service|namespace|cluster|env` with `-` for no env."""
    return f"{subset}|{service}|{namespace}|{cluster}|-"


def is_labeled(metric: str) -> bool:
    return metric.endswith("_percentile")


@dataclass(frozen=True)
class MetricCheck:
    """One SkyWalking metric with the bounds every non-empty point of the window must meet."""

    name: str  # metric name in the AnalysisTemplate
    metric: str  # SkyWalking OAL metric, e.g. service_apdex
    minimum: float | None = None  # as the user wrote it (a fraction for scaled metrics)
    maximum: float | None = None
    percentile: int | None = None
    condition: str | None = None  # the user's own successCondition, used verbatim

    @property
    def alias(self) -> str:
        return self.metric


def _number(value: float, scaled: bool) -> str:
    if scaled:
        return str(round(value * 10000))
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def query(check: MetricCheck, style: str) -> str:
    """The GraphQL query for one metric; `{{ args.service-name }}` is filled in by Argo Rollouts."""
    entity_name = '"{{ args.' + SERVICE_NAME_ARG + ' }}"'
    if style == "mqe":
        expression = check.metric
        if check.percentile is not None:
            expression += f"{{p='{check.percentile}'}}"
        return (
            "query queryData($duration: Duration!) {\n"
            f"  {check.alias}: execExpression(\n"
            f'    expression: "{expression}",\n'
            f"    entity: {{ serviceName: {entity_name}, normal: true }},\n"
            "    duration: $duration) {\n"
            "      type error results { values { value } }\n"
            "    }\n"
            "}\n"
        )
    return (
        "query queryData($duration: Duration!) {\n"
        f"  {check.alias}: readMetricsValues(\n"
        f'    condition: {{ name: "{check.metric}", entity: {{ scope: Service, serviceName: {entity_name},'
        " normal: true } },\n"
        "    duration: $duration) {\n"
        "      label values { values { value isEmptyValue } }\n"
        "    }\n"
        "}\n"
    )


def success_condition(check: MetricCheck, style: str, min_points: int) -> str:
    """Every minute with traffic meets the bounds, and at least `min_points` minutes had traffic.

    Minutes without traffic are left out (they read as 0, which would fail an Apdex check), and the
    minimum count keeps a window with no traffic at all from passing vacuously.
    """
    if check.condition:
        return check.condition
    scaled = check.metric in SCALED_BY_10000
    bounds = []
    if check.minimum is not None:
        bounds.append(f"asFloat(.value) >= {_number(check.minimum, scaled)}")
    if check.maximum is not None:
        bounds.append(f"asFloat(.value) <= {_number(check.maximum, scaled)}")
    predicate = " && ".join(bounds)
    if style == "mqe":
        results = f"result.{check.alias}.results"
        points = f"filter({results}[0].values, {{.value != nil}})"
        return f"len({results}) == 1 && len({points}) >= {min_points} && all({points}, {{{predicate}}})"
    points = f"filter(result.{check.alias}.values.values, {{!.isEmptyValue}})"
    return f"len({points}) >= {min_points} && all({points}, {{{predicate}}})"
