"""GG3xx: analysis: templates and args, the SkyWalking query, the success condition, metric limits."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from .. import expr_check
from ..cache import recall, remember
from ..errors import Finding
from ..model import Versions
from ..skywalking import SCALED_BY_10000, SERVICE_NAME_ARG, QueryProblem, has_empty_value, placeholders
from ..validate import GO_DURATION
from ..yamlio import PathTuple
from . import vacuity
from .metric_spec import validate_metric
from .objects import (
    Item,
    ObjectSet,
    api_group,
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
        yield from _template_metrics(template, objects.versions)


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
                objects, rollout, (*path, "args", index, "value"), arg.get("value"), canary_subset
            )


def _service_name(
    objects: ObjectSet, rollout: Item, path: PathTuple, value: Any, canary_subset: Any
) -> Iterator[Finding]:
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
    # The cluster: TSB names clusters only in Workspace/Group namespaceSelectors (`cluster/namespace`).
    # A hand-written Rollout often leaves its namespace to the Argo CD destination: then the
    # service-name's own namespace is the one looked up.
    namespace = rollout.namespace or parts[2]
    clusters = _tsb_clusters(objects, namespace)
    if clusters and parts[3] not in clusters:
        yield finding(
            "GG303",
            rollout,
            path,
            f"service-name names cluster '{parts[3]}', but the TSB workspace/group selectors of namespace "
            f"'{namespace}' name cluster(s) {', '.join(sorted(clusters))}: SkyWalking would have no "
            "such service and the analysis would measure nothing",
        )
    # The service: the DestinationRule's host, when it is a Kubernetes service name (short, or
    # <name>.<namespace>[.svc[.cluster.local]]); a ServiceEntry host says nothing about the name.
    service = _routed_service(objects, rollout)
    if service is not None and parts[1] != service:
        yield finding(
            "GG303",
            rollout,
            path,
            f"service-name names service '{parts[1]}', but the canary's DestinationRule routes to "
            f"service '{service}'",
        )


def _tsb_clusters(objects: ObjectSet, namespace: str) -> set[str] | None:
    """The clusters the set's TSB Workspace and Group selectors name for `namespace`; None when none of
    them selects it, or one selects it on every cluster (`*/...`)."""
    clusters: set[str] = set()
    for kind in ("Workspace", "Group"):
        for item in objects.of_kind(kind):
            if not api_group(item.obj).endswith("tsb.tetrate.io"):
                continue
            for selector in list_at(item.obj, "spec", "namespaceSelector", "names"):
                if not isinstance(selector, str) or "/" not in selector:
                    continue
                cluster, pattern = selector.split("/", 1)
                if (
                    pattern == "*"
                    or pattern == namespace
                    or (pattern.endswith("*") and namespace.startswith(pattern[:-1]))
                ):
                    if cluster == "*":
                        return None
                    clusters.add(cluster)
    return clusters or None


def _routed_service(objects: ObjectSet, rollout: Item) -> str | None:
    name = get(
        rollout.obj, "spec", "strategy", "canary", "trafficRouting", "istio", "destinationRule", "name"
    )
    dr = objects.find("DestinationRule", rollout.namespace, name) if isinstance(name, str) else None
    host = get(dr.obj, "spec", "host") if dr is not None else None
    if not isinstance(host, str) or not host or host.startswith("*"):
        return None
    labels = host.split(".")
    if len(labels) == 1 or host.endswith(".svc.cluster.local") or labels[2:] in ([], ["svc"]):
        return labels[0]
    return None


def _template_metrics(template: Item, versions: Versions) -> Iterator[Finding]:
    declared = {str(a.get("name")) for a in list_at(template.obj, "spec", "args") if isinstance(a, Mapping)}
    for index, metric in enumerate(list_at(template.obj, "spec", "metrics")):
        if not isinstance(metric, Mapping):
            continue
        path: PathTuple = ("spec", "metrics", index)
        yield from _metric_limits(template, path, metric, index)
        skywalking = get(metric, "provider", "skywalking")
        if not isinstance(skywalking, Mapping):
            continue
        query = skywalking.get("query")
        problems = _query_problems(query, versions.oap) if isinstance(query, str) else []
        yield from _skywalking(template, (*path, "provider", "skywalking"), skywalking, declared, problems)
        # An invalid query's result shape is unknown: GG304 says so, GG305 would only repeat it.
        paths = _query_paths(query, versions.oap) if isinstance(query, str) and not problems else set()
        for key in ("successCondition", "failureCondition"):
            condition = metric.get(key)
            if isinstance(condition, str):
                yield from _condition(
                    template, (*path, key), condition, paths, key == "successCondition", versions
                )


def _metric_limits(
    template: Item, path: PathTuple, metric: Mapping[str, Any], index: int
) -> Iterator[Finding]:
    """GG307: what Argo Rollouts' ValidateMetric would reject (see metric_spec.py), in its words."""
    error = validate_metric(metric)
    if error is None:
        return
    at = (*path, *error.field) if error.field[0] in metric else path
    yield finding(
        "GG307",
        template,
        at,
        f"{error.message} (Argo Rollouts checks this only when the AnalysisRun starts, and ends it in "
        f"Error: 'Analysis spec invalid: metrics[{index}]: {error.message}')",
    )


def _skywalking(
    template: Item,
    path: PathTuple,
    provider: Mapping[str, Any],
    declared: set[Any],
    query_problems: Sequence[QueryProblem],
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
    for name in placeholders(query):
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
    versions: Versions,
) -> Iterator[Finding]:
    problems = _condition_problems(condition, versions.rollouts)
    for problem in problems:
        yield finding("GG306", template, path, f"{problem.message} (column {problem.column})")
    if problems:
        return
    read = _condition_paths(condition, versions.rollouts)
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
            remedy = (
                "request isEmptyValue and filter those points out"
                if has_empty_value(versions.oap)
                else f"SkyWalking {versions.oap} has no isEmptyValue: count only points with .value > 0"
            )
            yield finding(
                "GG308",
                template,
                path,
                f"a minute without traffic reads as 0 and fails this condition; {remedy}",
            )
    for column in _vacuous_columns(condition, versions.rollouts):
        yield finding(
            "GG309",
            template,
            path,
            "all() over no points is true: this list can be empty (it is filtered), and with no "
            "traffic in the window the canary passes; require a minimum number of points with "
            f"len(...) >= n && ... (column {column})",
        )


# Hundreds of services share a handful of query and condition texts (arguments are filled in by Argo
# Rollouts, not here): parse and validate each text once per process. A query's verdict is also kept in
# the render cache (cache.recall): checking it builds the release's GraphQL schema, and imports
# graphql-core, which a warm pre-commit check of one changed spec should not pay again.
@functools.lru_cache(maxsize=512)
def _query_problems(query: str, oap: str) -> tuple[QueryProblem, ...]:
    known = recall("check_query", query, oap)
    if isinstance(known, list):
        try:
            return tuple(QueryProblem(str(m), int(line), int(column)) for m, line, column in known)
        except (TypeError, ValueError):
            pass  # a damaged entry is a miss
    from .. import skywalking_query

    problems = tuple(skywalking_query.check_query(query, oap))
    remember("check_query", (query, oap), [[p.message, p.line, p.column] for p in problems])
    return problems


@functools.lru_cache(maxsize=512)
def _query_paths(query: str, oap: str) -> frozenset[tuple[str, ...]]:
    known = recall("result_paths", query, oap)
    if isinstance(known, list) and all(
        isinstance(p, list) and all(isinstance(k, str) for k in p) for p in known
    ):
        return frozenset(tuple(p) for p in known)
    from .. import skywalking_query

    paths = frozenset(skywalking_query.result_paths(query, oap))
    remember("result_paths", (query, oap), sorted(list(p) for p in paths))
    return paths


@functools.lru_cache(maxsize=512)
def _condition_problems(condition: str, rollouts: str) -> tuple[expr_check.ExprProblem, ...]:
    return tuple(expr_check.check_condition(condition, rollouts))


@functools.lru_cache(maxsize=512)
def _vacuous_columns(condition: str, rollouts: str) -> tuple[int, ...]:
    return tuple(vacuity.vacuous_columns(condition, rollouts))


@functools.lru_cache(maxsize=512)
def _condition_paths(condition: str, rollouts: str) -> tuple[tuple[tuple[str, ...], int], ...]:
    return tuple(expr_check.result_paths(condition, rollouts))
