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

import re
from dataclasses import dataclass

# Metrics SkyWalking stores as integer fractions x 10000 (OAL `apdex()` and `percent()`).
SCALED_BY_10000 = frozenset({"service_apdex", "service_sla", "endpoint_sla", "service_instance_sla"})
QUERY_STYLES = ("readMetricsValues", "mqe")
SERVICE_NAME_ARG = "service-name"


def service_name(subset: str, service: str, namespace: str, cluster: str) -> str:
    """TSB's SkyWalking service name, `subset|service|namespace|cluster|env` with `-` for no env."""
    return f"{subset}|{service}|{namespace}|{cluster}|-"


def fraction_hint(value: float) -> str:
    """What a number above 1 given where a fraction belongs most likely meant: a percentage (99.5 % is
    0.995) or SkyWalking's stored x10000 value (9950 is 0.995)."""
    if value <= 100:
        return f"a fraction: {value:g} % is {value / 100:g}"
    return f"a fraction: {value:g} is SkyWalking's stored x10000 value of {value / 10000:g}"


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


# --- the OAP version ----------------------------------------------------------------------------------------
#
# Facts read from apache/skywalking at each release tag, and from the query protocol (apache/
# skywalking-query-protocol, a submodule of skywalking at
# oap-server/server-query-plugin/query-graphql-plugin/src/main/resources/query-protocol; each skywalking tag
# vX.Y.Z points at the protocol commit tagged vX.Y.Z there):
# - `readMetricsValues(condition: MetricsCondition!, duration: Duration!): MetricsValues!`, `Entity.normal`
#   and `readLabeledMetricsValues(condition, labels: [String!]!, duration)` are in metrics-v2.graphqls from
#   v8.0.0 on, unchanged up to v10.4.0.
# - `Entity.scope` is `Scope!` (required) up to v9.3.0 and `Scope` ("Deprecated from 9.4.0") since v9.4.0, so
#   the readMetricsValues query always sends `scope: Service`.
# - `KVInt.isEmptyValue: Boolean!` and `execExpression` (MQE, metrics-v3.graphqls) first appear in v9.5.0.
#   MQE leaves `value` null for an empty minute in every release since (MetricsExpressionQuery.java sets it
#   only `if (!mqeValue.isEmptyValue())`, v9.5.0 .. v10.4.0).
# - MQE label selectors (oap-server/.../mqe-grammar MQEParser.g4, docs/en/api/metrics-query-expression.md):
#   v9.5.0 `service_percentile{label='0,1,2,3,4'}` (the one label is literally named `label`); v9.6.0, v9.7.0
#   `{_='...'}` (anonymous label `_`); both take the rank's index in PercentileMetrics.RANKS =
#   {50, 75, 90, 95, 99}.
#   Since v10.0.0 `{p='50,75,90,95,99'}` (percentile2, DataLabel.PERCENTILE_LABEL_NAME = "p").
#
# Supported: every release from 9.0 to 10.4 (any patch of those minors). 8.x ended with 8.9.1 in 2021 and
# versions after 10.4 have a protocol this copy does not know, so both are refused rather than guessed.
# The default is the newest upstream release: TSB bundles its own OAP build, whose version a user states in
# the environment; upstream's current protocol is the one a new installation gets.
DEFAULT_OAP_VERSION = "10.4.0"
OAP_VERSION_PATTERN = r"^[0-9]+\.[0-9]+\.[0-9]+$"
# The releases whose query protocol is shipped in schemas/skywalking-query-protocol/<release>/: every 9.x and
# 10.x minor, except that 9.7.0 serves 9.6.0's protocol (same submodule commit ee452f9) and 10.0.1 10.0.0's.
PROTOCOL_RELEASES = (
    "9.0.0", "9.1.0", "9.2.0", "9.3.0", "9.4.0", "9.5.0", "9.6.0",
    "10.0.0", "10.1.0", "10.2.0", "10.3.0", "10.4.0",
)  # fmt: skip
SUPPORTED_MINORS = (
    (9, 0), (9, 1), (9, 2), (9, 3), (9, 4), (9, 5), (9, 6), (9, 7),
    (10, 0), (10, 1), (10, 2), (10, 3), (10, 4),
)  # fmt: skip
EMPTY_VALUE_SINCE = (9, 5, 0)  # KVInt.isEmptyValue
MQE_SINCE = (9, 5, 0)  # execExpression
MQE_ANONYMOUS_LABEL_SINCE = (9, 6, 0)  # {_='4'} instead of {label='4'}
MQE_NAMED_LABELS_SINCE = (10, 0, 0)  # {p='99'}
PERCENTILE_RANKS = (50, 75, 90, 95, 99)

Version = tuple[int, int, int]


def parse_oap_version(text: str) -> Version:
    """`"10.4.0"` -> (10, 4, 0); ValueError saying what is wrong for junk or an unsupported release."""
    if not isinstance(text, str) or not re.fullmatch(OAP_VERSION_PATTERN, text):
        raise ValueError(
            f"SkyWalking version {text!r} is not MAJOR.MINOR.PATCH (e.g. {DEFAULT_OAP_VERSION!r})"
        )
    major, minor, patch = (int(part) for part in text.split("."))
    if (major, minor) not in SUPPORTED_MINORS:
        raise ValueError(
            f"SkyWalking {text} is not supported: gitops-gen knows the query protocol of "
            f"{_minor_text(SUPPORTED_MINORS[0])}.x to {_minor_text(SUPPORTED_MINORS[-1])}.x "
            f"(the newest is {DEFAULT_OAP_VERSION})"
        )
    return major, minor, patch


def _minor_text(minor: tuple[int, int]) -> str:
    return f"{minor[0]}.{minor[1]}"


def _version_text(version: Version) -> str:
    return ".".join(map(str, version))


def protocol_release(oap_version: str) -> str:
    """The shipped protocol folder serving an OAP version: the newest release not newer than it."""
    version = parse_oap_version(oap_version)
    return max((r for r in PROTOCOL_RELEASES if _parse(r) <= version), key=_parse)


def _parse(release: str) -> Version:
    major, minor, patch = (int(part) for part in release.split("."))
    return major, minor, patch


def has_empty_value(oap_version: str) -> bool:
    """Whether readMetricsValues can tell an empty minute (`isEmptyValue`) from a real 0."""
    return parse_oap_version(oap_version) >= EMPTY_VALUE_SINCE


def style_problem(style: str, check: MetricCheck, oap_version: str) -> str | None:
    """Why this query style cannot read this metric from this OAP, or None when it can."""
    version = parse_oap_version(oap_version)
    if style == "mqe" and version < MQE_SINCE:
        return (
            f"queryStyle mqe needs SkyWalking >= {_version_text(MQE_SINCE)} (execExpression); "
            f"this environment says {oap_version}"
        )
    if style != "mqe" and is_labeled(check.metric) and check.condition is None:
        where = (
            "set analysis.queryStyle: mqe"
            if version >= MQE_SINCE
            else f"MQE needs SkyWalking >= {_version_text(MQE_SINCE)}; this environment says {oap_version}"
        )
        return (
            f"{check.metric} is a labeled metric: readMetricsValues reads one value per minute, "
            f"percentiles are read only through MQE here ({where})"
        )
    if check.percentile is not None and check.percentile not in PERCENTILE_RANKS:
        return f"SkyWalking computes the percentiles {', '.join(map(str, PERCENTILE_RANKS))} only"
    return None


def mqe_expression(check: MetricCheck, oap_version: str = DEFAULT_OAP_VERSION) -> str:
    """The MQE expression for the metric, with the label selector this OAP version's grammar accepts."""
    if check.percentile is None:
        return check.metric
    version = parse_oap_version(oap_version)
    if version >= MQE_NAMED_LABELS_SINCE:
        return f"{check.metric}{{p='{check.percentile}'}}"
    # Before 10.0 the label value is the index of the rank in PercentileMetrics.RANKS.
    index = PERCENTILE_RANKS.index(check.percentile)
    name = "_" if version >= MQE_ANONYMOUS_LABEL_SINCE else "label"
    return f"{check.metric}{{{name}='{index}'}}"


def query(check: MetricCheck, style: str, oap_version: str = DEFAULT_OAP_VERSION) -> str:
    """The GraphQL query for one metric; `{{ args.service-name }}` is filled in by Argo Rollouts.

    ValueError for an unsupported version or a style the version lacks (see `style_problem`).
    """
    problem = style_problem(style, check, oap_version)
    if problem is not None and style == "mqe":
        raise ValueError(problem)
    entity_name = '"{{ args.' + SERVICE_NAME_ARG + ' }}"'
    if style == "mqe":
        return (
            "query queryData($duration: Duration!) {\n"
            f"  {check.alias}: execExpression(\n"
            f'    expression: "{mqe_expression(check, oap_version)}",\n'
            f"    entity: {{ serviceName: {entity_name}, normal: true }},\n"
            "    duration: $duration) {\n"
            "      type error results { values { value } }\n"
            "    }\n"
            "}\n"
        )
    point = "value isEmptyValue" if has_empty_value(oap_version) else "value"
    # `scope` is required up to 9.3 and deprecated (sensed from the metric) since 9.4: always sending it
    # keeps one query valid on every supported release.
    return (
        "query queryData($duration: Duration!) {\n"
        f"  {check.alias}: readMetricsValues(\n"
        f'    condition: {{ name: "{check.metric}", entity: {{ scope: Service, serviceName: {entity_name},'
        " normal: true } },\n"
        "    duration: $duration) {\n"
        f"      label values {{ values {{ {point} }} }}\n"
        "    }\n"
        "}\n"
    )


def success_condition(
    check: MetricCheck, style: str, min_points: int, oap_version: str = DEFAULT_OAP_VERSION
) -> str:
    """Every minute with traffic meets the bounds, and at least `min_points` minutes had traffic.

    Minutes without traffic are left out (they read as 0, which would fail an Apdex check), and the
    minimum count keeps a window with no traffic at all from passing vacuously. How an empty minute is
    recognised depends on the OAP:
    - MQE (>= 9.5): its `value` is null;
    - readMetricsValues on >= 9.5: `isEmptyValue: true`;
    - readMetricsValues before 9.5: nothing marks it, it is just `value: 0`, so points with `value > 0` are
      the minutes with traffic. This cannot tell a minute without traffic from a minute whose value really
      is 0: an Apdex or SLA of 0 (every request frustrated or failed), an average latency under 1 ms, or a
      percentile of 0. Such minutes are skipped instead of failing the bounds. A canary that is that bad the
      whole window still fails (none of its minutes count, so fewer than `min_points` remain), but one that
      is totally broken in some minutes and healthy in at least `min_points` others passes.
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
        problem = style_problem(style, check, oap_version)
        if problem is not None:
            raise ValueError(problem)
        results = f"result.{check.alias}.results"
        points = f"filter({results}[0].values, {{.value != nil}})"
        return f"len({results}) == 1 && len({points}) >= {min_points} && all({points}, {{{predicate}}})"
    traffic = "!.isEmptyValue" if has_empty_value(oap_version) else ".value > 0"
    points = f"filter(result.{check.alias}.values.values, {{{traffic}}})"
    return f"len({points}) >= {min_points} && all({points}, {{{predicate}}})"


# ---- what checking a query gives (skywalking_query does the checking, with graphql-core) ----------

# Argo Rollouts (fasttemplate) treats every `{{ ... }}` in the metric as a tag and fails on any tag that is
# not a supplied argument; tags are trimmed of spaces, so `{{ args.service-name }}` is fine.
TEMPLATE_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
ARG_TAG = re.compile(r"\s*args\.([^\s{}]+)\s*")


@dataclass(frozen=True)
class QueryProblem:
    """One reason the query would fail; `line`/`column` are 1-based inside the query text, 0 if unknown."""

    message: str
    line: int = 0
    column: int = 0


def placeholders(query: str) -> list[str]:
    """Names of the arguments the query references as `{{ args.NAME }}`, in order, without repeats."""
    names: list[str] = []
    for match in TEMPLATE_TAG.finditer(query):
        arg = ARG_TAG.fullmatch(match.group(1))
        if arg and arg.group(1) not in names:
            names.append(arg.group(1))
    return names
