"""Answer an AnalysisTemplate's GraphQL query as a SkyWalking OAP would, from canned values per minute.

`gitops-gen test` needs the response body the provider would get for a window of known values; the tests of
`analysis try` need an OAP to ask. Both run the query itself with graphql-core against the shipped query
protocol of the environment's OAP release, so the body has exactly the shape the query selects (aliases,
fields, nulls) and a query the release rejects is rejected here too. Only the values are canned.

What the OAP puts in a response, read from apache/skywalking (v9.5.0 .. v10.4.0 unless said otherwise):
- a MINUTE duration has one point per minute from `start` to `end`, both included
  (DurationUtils.getDurationPoints): a 3m window is 4 points;
- readMetricsValues: one KVInt per point, in time order (IMetricsQueryDAO.Util.sortValues); a minute without
  data is `value: 0` (the default value), with `isEmptyValue: true` since 9.5.0; `id` is
  `<time bucket>_<entity id>` (PointOfTime.id), the service's entity id `base64(name).1` for a normal
  service (IDManager.ServiceID.buildId); `label` is null for a metric without labels;
- execExpression (MQE): `type: TIME_SERIES_VALUES`, one MQEValues with one MQEValue per point whose `id` is
  the time bucket (MQEVisitorBase: "use timeBucket as id here"); `value` is null for an empty minute and
  otherwise the number as java.text.DecimalFormat without grouping prints it: at most three decimals,
  rounded half-even, no trailing zeros (MetricsExpressionQuery.execExpression).
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from generator.skywalking import DEFAULT_OAP_VERSION, has_empty_value, protocol_release

# A minute of a metric: SkyWalking's stored value, or None for a minute without traffic.
Minute = int | float | None

# The provider's time format for MINUTE steps (Go layout "2006-01-02 1504"), and the OAP's time bucket.
DURATION_FORMAT = "%Y-%m-%d %H%M"
TIME_BUCKET_FORMAT = "%Y%m%d%H%M"


@dataclass(frozen=True)
class FieldRequest:
    """One root field of the query, as the OAP receives it."""

    alias: str  # the key of the field in `data`: its alias, or its name
    field: str  # readMetricsValues, execExpression, ...
    metric: str  # condition.name, or the MQE expression
    service: str  # entity.serviceName
    points: tuple[str, ...]  # the time buckets of the duration, yyyyMMddHHmm


class OapError(Exception):
    """The OAP could not answer: the GraphQL `errors` message, as SkyWalking would send it."""


def duration(end: datetime, window_seconds: float) -> dict[str, str]:
    """The `duration` variable the provider sends: from `end` minus the window to `end`, by the minute.

    (metricproviders/skywalking: start = now - interval, end = now, formatted "2006-01-02 1504", step MINUTE.)
    """
    start = end - timedelta(seconds=window_seconds)
    return {"start": start.strftime(DURATION_FORMAT), "end": end.strftime(DURATION_FORMAT), "step": "MINUTE"}


def points(duration_variable: Mapping[str, Any]) -> tuple[str, ...]:
    """The time buckets of a MINUTE duration, start and end included."""
    start = datetime.strptime(str(duration_variable["start"]), DURATION_FORMAT)
    end = datetime.strptime(str(duration_variable["end"]), DURATION_FORMAT)
    buckets = []
    moment = start
    while moment <= end:
        buckets.append(moment.strftime(TIME_BUCKET_FORMAT))
        moment += timedelta(minutes=1)
    return tuple(buckets)


def window_points(window_seconds: float) -> tuple[int, ...]:
    """How many minutes a window of that width can hold: both ends are cut to the minute, so a window of
    whole minutes always holds one more point than its minutes, any other width one of two counts."""
    whole, rest = divmod(int(window_seconds), 60)
    return (whole + 1,) if rest == 0 else (whole + 1, whole + 2)


def mqe_value(value: float) -> str:
    """A number as the OAP writes an MQE value: DecimalFormat with grouping off (pattern #,##0.###)."""
    text = format(Decimal(float(value)).quantize(Decimal("0.001"), ROUND_HALF_EVEN), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _service_id(name: str) -> str:
    return base64.b64encode(name.encode("utf-8")).decode("ascii") + ".1"


def _metrics_values(request: FieldRequest, minutes: Sequence[Minute], empty_flag: bool) -> dict[str, Any]:
    entity = _service_id(request.service)
    values = []
    for point, minute in zip(request.points, minutes, strict=True):
        if minute is not None and not float(minute).is_integer():
            raise ValueError(f"readMetricsValues returns whole numbers (KVInt.value is a Long), not {minute}")
        value: dict[str, Any] = {"id": f"{point}_{entity}", "value": 0 if minute is None else int(minute)}
        if empty_flag:
            value["isEmptyValue"] = minute is None
        values.append(value)
    return {"label": None, "values": {"values": values}}


def _expression_result(request: FieldRequest, minutes: Sequence[Minute]) -> dict[str, Any]:
    values = [
        {"id": point, "value": None if minute is None else mqe_value(minute), "owner": None, "traceID": None}
        for point, minute in zip(request.points, minutes, strict=True)
    ]
    return {
        "type": "TIME_SERIES_VALUES",
        "results": [{"metric": {"labels": _selector_labels(request.metric)}, "values": values}],
        "error": None,
        "debuggingTrace": None,
    }


def _selector_labels(expression: str) -> list[dict[str, str]]:
    """The labels of an expression's `{name='value'}` selector, as written."""
    if "{" not in expression or not expression.endswith("}"):
        return []
    labels = []
    for pair in expression[expression.index("{") + 1 : -1].split(","):
        key, _, value = pair.partition("=")
        labels.append({"key": key.strip(), "value": value.strip().strip("'\"")})
    return labels


Series = Callable[[FieldRequest], Sequence[Minute]]


def respond(
    query: str,
    variables: Mapping[str, Any],
    series: Series,
    oap_version: str = DEFAULT_OAP_VERSION,
) -> dict[str, Any]:
    """The JSON body the OAP answers the query with (`{"data": ...}`, or `{"errors": [...]}` for a query the
    release rejects, as graphql-java reports it). `series` gives the minutes of each root field; it may
    raise OapError for a GraphQL error, ValueError for minutes the field cannot return.
    """
    from graphql import execute_sync

    from generator.skywalking_query import _schema

    release = protocol_release(oap_version)
    schema = _schema(release)
    document, problems = _checked(query, release)
    if problems:  # the OAP answers a query it cannot run with errors entries, so do we
        return {"errors": [{"message": problem} for problem in problems]}
    empty_flag = has_empty_value(oap_version)

    def resolve(root: Any, info: Any, **args: Any) -> Any:
        condition = args.get("condition") or {}
        entity = args.get("entity") or condition.get("entity") or {}
        request = FieldRequest(
            alias=info.path.key,
            field=info.field_name,
            metric=str(args.get("expression") or condition.get("name") or ""),
            service=str(entity.get("serviceName") or ""),
            points=points(args["duration"]) if "duration" in args else (),
        )
        minutes = series(request)
        if info.field_name == "readMetricsValues":
            return _metrics_values(request, minutes, empty_flag)
        if info.field_name == "execExpression":
            return _expression_result(request, minutes)
        raise OapError(f"the simulated OAP answers readMetricsValues and execExpression, not {request.field}")

    result = execute_sync(
        schema, document, variable_values=dict(variables), field_resolver=_root_resolver(resolve)
    )
    if result.errors:
        for error in result.errors:
            if isinstance(error.original_error, ValueError):  # minutes the field cannot return
                raise error.original_error
        return {"errors": [{"message": error.message} for error in result.errors], "data": result.data}
    return {"data": result.data}


@functools.lru_cache(maxsize=1024)
def _checked(query: str, release: str) -> tuple[Any, tuple[str, ...]]:
    """The parsed query and why the release refuses it; once per query (a test runs a query many times)."""
    from graphql import GraphQLSyntaxError, parse, validate

    from generator.skywalking_query import _schema

    try:
        document = parse(query)
    except GraphQLSyntaxError as syntax:
        return None, (syntax.message,)
    return document, tuple(problem.message for problem in validate(_schema(release), document))


@functools.cache
def _default_resolver() -> Callable[..., Any]:
    from graphql import default_field_resolver

    return default_field_resolver


def _root_resolver(resolve: Callable[..., Any]) -> Callable[..., Any]:
    """Root fields go to `resolve`; nested ones read the dicts it built."""

    def field_resolver(source: Any, info: Any, **args: Any) -> Any:
        if info.parent_type is info.schema.query_type:
            return resolve(source, info, **args)
        return _default_resolver()(source, info, **args)

    return field_resolver
