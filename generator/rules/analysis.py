"""GG3xx: analysis: templates and args, the SkyWalking query, the success condition, metric limits."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from .. import expr_check, skywalking_query
from ..errors import Finding
from ..skywalking import SCALED_BY_10000, SERVICE_NAME_ARG
from ..validate import GO_DURATION
from ..yamlio import PathTuple
from .objects import (
    Item,
    ObjectSet,
    finding,
    get,
    list_at,
    map_at,
    where,
)


def check(objects: ObjectSet) -> Iterator[Finding]:
    for rollout in objects.of_kind("Rollout"):
        yield from _template_references(objects, rollout)
    for template in [*objects.of_kind("AnalysisTemplate"), *objects.of_kind("ClusterAnalysisTemplate")]:
        yield from _template_metrics(template)


def _analysis_blocks(rollout: Item) -> Iterator[tuple[PathTuple, Mapping[str, Any]]]:
    canary = map_at(rollout.obj, "spec", "strategy", "canary")
    if isinstance(canary.get("analysis"), Mapping):
        yield ("spec", "strategy", "canary", "analysis"), canary["analysis"]
    for index, step in enumerate(list_at(canary, "steps")):
        if isinstance(step, Mapping) and isinstance(step.get("analysis"), Mapping):
            yield ("spec", "strategy", "canary", "steps", index, "analysis"), step["analysis"]


def _template_references(objects: ObjectSet, rollout: Item) -> Iterator[Finding]:
    canary_subset = get(
        rollout.obj,
        "spec",
        "strategy",
        "canary",
        "trafficRouting",
        "istio",
        "destinationRule",
        "canarySubsetName",
    )
    for path, block in _analysis_blocks(rollout):
        supplied = {
            str(a.get("name")): (i, a) for i, a in enumerate(list_at(block, "args")) if isinstance(a, Mapping)
        }
        for index, ref in enumerate(list_at(block, "templates")):
            name = ref.get("templateName") if isinstance(ref, Mapping) else None
            if not isinstance(name, str) or not name:
                continue
            kind = "ClusterAnalysisTemplate" if ref.get("clusterScope") else "AnalysisTemplate"
            found = (
                objects.named(kind, name)
                if kind == "ClusterAnalysisTemplate"
                else ([t] if (t := objects.find(kind, rollout.namespace, name)) else [])
            )
            if not found:
                yield finding(
                    "GG301",
                    rollout,
                    (*path, "templates", index, "templateName"),
                    f"no {kind} '{name}'" + ("" if kind.startswith("Cluster") else f" in {where(rollout)}"),
                )
                continue
            for arg in list_at(found[0].obj, "spec", "args"):
                if (
                    isinstance(arg, Mapping)
                    and "value" not in arg
                    and "valueFrom" not in arg
                    and str(arg.get("name")) not in supplied
                ):
                    yield finding(
                        "GG302",
                        rollout,
                        (*path, "args"),
                        f"template '{name}' needs arg '{arg.get('name')}', which is not supplied",
                    )
        if SERVICE_NAME_ARG in supplied:
            index, arg = supplied[SERVICE_NAME_ARG]
            yield from _service_name(
                rollout, (*path, "args", index, "value"), arg.get("value"), canary_subset
            )


def _service_name(rollout: Item, path: PathTuple, value: Any, canary_subset: Any) -> Iterator[Finding]:
    parts = value.split("|") if isinstance(value, str) else []
    if len(parts) != 5 or not all(parts):
        yield finding(
            "GG303",
            rollout,
            path,
            f"service-name {value!r} is not subset|service|namespace|cluster|env"
            " (TSB's SkyWalking service name; '-' for no env)",
        )
        return
    if canary_subset and parts[0] != canary_subset:
        yield finding(
            "GG303",
            rollout,
            path,
            f"service-name measures subset '{parts[0]}', but the canary subset is "
            f"'{canary_subset}': the analysis would judge the wrong pods",
        )
    if rollout.namespace and parts[2] != rollout.namespace:
        yield finding(
            "GG303",
            rollout,
            path,
            f"service-name names namespace '{parts[2]}', but the Rollout is in '{rollout.namespace}'",
        )


def _template_metrics(template: Item) -> Iterator[Finding]:
    declared = {str(a.get("name")) for a in list_at(template.obj, "spec", "args") if isinstance(a, Mapping)}
    for index, metric in enumerate(list_at(template.obj, "spec", "metrics")):
        if not isinstance(metric, Mapping):
            continue
        path: PathTuple = ("spec", "metrics", index)
        yield from _metric_limits(template, path, metric)
        skywalking = get(metric, "provider", "skywalking")
        if not isinstance(skywalking, Mapping):
            continue
        query = skywalking.get("query")
        problems = _query_problems(query) if isinstance(query, str) else []
        yield from _skywalking(template, (*path, "provider", "skywalking"), skywalking, declared, problems)
        # An invalid query's result shape is unknown: GG304 says so, GG305 would only repeat it.
        paths = _query_paths(query) if isinstance(query, str) and not problems else set()
        for key in ("successCondition", "failureCondition"):
            condition = metric.get(key)
            if isinstance(condition, str):
                yield from _condition(template, (*path, key), condition, paths, key == "successCondition")


def _metric_limits(template: Item, path: PathTuple, metric: Mapping[str, Any]) -> Iterator[Finding]:
    """The checks of Argo Rollouts' ValidateMetric, which only run in the cluster."""

    def number(key: str, default: int) -> int | None:
        value = metric.get(key, default)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    count, failure, inconclusive = (
        number("count", 0),
        number("failureLimit", 0),
        number("inconclusiveLimit", 0),
    )
    success = number("consecutiveSuccessLimit", 0)
    if count and failure is not None and count < failure:
        yield finding("GG307", template, (*path, "count"), f"count {count} must be >= failureLimit {failure}")
    if count and inconclusive is not None and count < inconclusive:
        yield finding(
            "GG307", template, (*path, "count"), f"count {count} must be >= inconclusiveLimit {inconclusive}"
        )
    if (
        count
        and failure
        and success
        and "failureLimit" in metric
        and "consecutiveSuccessLimit" in metric
        and count < failure + success
    ):
        yield finding(
            "GG307",
            template,
            (*path, "count"),
            f"count {count} must be >= failureLimit + consecutiveSuccessLimit ({failure + success})",
        )
    if count and count > 1 and not metric.get("interval"):
        yield finding("GG307", template, path, "interval must be set when count > 1")
    if failure is not None and failure < 0 and not success:
        yield finding(
            "GG307",
            template,
            (*path, "failureLimit"),
            "failureLimit is disabled (-1) and there is no consecutiveSuccessLimit: nothing can conclude",
        )
    for key in ("interval", "initialDelay"):
        value = metric.get(key)
        if value is not None and not (isinstance(value, str) and GO_DURATION.match(value)):
            yield finding(
                "GG307", template, (*path, key), f"{key} {value!r} is not a Go duration (30s, 5m, 1h)"
            )


def _skywalking(
    template: Item,
    path: PathTuple,
    provider: Mapping[str, Any],
    declared: set[Any],
    query_problems: Sequence[skywalking_query.QueryProblem],
) -> Iterator[Finding]:
    interval = provider.get("interval")
    if not isinstance(interval, str) or not GO_DURATION.match(interval) or interval in ("0", "+0", "-0"):
        yield finding(
            "GG307",
            template,
            (*path, "interval"),
            f"the provider interval (the query window) {interval!r} must be a Go duration such as 3m;"
            " the provider cannot be built without it",
        )
    address = provider.get("address")
    if isinstance(address, str) and address.rstrip("/").endswith("/graphql"):
        yield finding(
            "GG307", template, (*path, "address"), "address ends in /graphql; the provider appends it"
        )
    query = provider.get("query")
    if not isinstance(query, str):
        return
    for problem in query_problems:
        where = f" (query line {problem.line}, column {problem.column})" if problem.line else ""
        yield finding("GG304", template, (*path, "query"), problem.message + where)
    for name in skywalking_query.placeholders(query):
        if name not in declared:
            yield finding(
                "GG302",
                template,
                (*path, "query"),
                f"the query uses {{{{ args.{name} }}}} but the template declares no arg '{name}'",
            )


def _condition(
    template: Item,
    path: PathTuple,
    condition: str,
    query_paths: AbstractSet[tuple[str, ...]],
    is_success: bool,
) -> Iterator[Finding]:
    problems = _condition_problems(condition)
    for problem in problems:
        yield finding("GG306", template, path, f"{problem.message} (column {problem.column})")
    if problems:
        return
    read = _condition_paths(condition)
    if query_paths:
        reported: set[str] = set()
        for result_path, column in read:
            if result_path not in query_paths and result_path[:1] and result_path[0] not in reported:
                reported.add(result_path[0])
                alias = result_path[0] if result_path else ""
                known = sorted({p[0] for p in query_paths})
                what = (
                    f"result.{'.'.join(result_path)}"
                    if alias in known
                    else f"alias '{alias}' (the query returns {', '.join(known)})"
                )
                yield finding(
                    "GG305",
                    template,
                    path,
                    f"reads {what}, which the query does not return (column {column})",
                )
    if not is_success:
        return
    reads_points = [p for p, _ in read if p[-1:] == ("value",) and ("values" in p or "results" in p)]
    if reads_points and "isEmptyValue" not in condition and "nil" not in condition:
        metric = next(iter(p[0] for p, _ in read), "")
        if any(m in metric for m in SCALED_BY_10000) or "apdex" in metric:
            yield finding(
                "GG308",
                template,
                path,
                "a minute without traffic reads as 0 (isEmptyValue: true) and "
                "fails this condition; request isEmptyValue and filter those points out",
            )
    if reads_points and "all(" in condition.replace(" ", "") and "len(" not in condition:
        yield finding(
            "GG309",
            template,
            path,
            "all() over no points is true: with no traffic in the window "
            "the canary passes; require a minimum number of points with len(...)",
        )


# Hundreds of services share a handful of query and condition texts (arguments are filled in by Argo
# Rollouts, not here): parse and validate each text once.
@functools.lru_cache(maxsize=512)
def _query_problems(query: str) -> tuple[skywalking_query.QueryProblem, ...]:
    return tuple(skywalking_query.check_query(query))


@functools.lru_cache(maxsize=512)
def _query_paths(query: str) -> frozenset[tuple[str, ...]]:
    return frozenset(skywalking_query.result_paths(query))


@functools.lru_cache(maxsize=512)
def _condition_problems(condition: str) -> tuple[expr_check.ExprProblem, ...]:
    return tuple(expr_check.check_condition(condition))


@functools.lru_cache(maxsize=512)
def _condition_paths(condition: str) -> tuple[tuple[tuple[str, ...], int], ...]:
    return tuple(expr_check.result_paths(condition))
