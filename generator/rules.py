"""Cross-object rules: what hand-written canaries break and no single-object schema can see.

Each rule has a stable ID, a severity and (for the hazards) a link; every finding names the file, the
object and the field. The rules look at one *set* of objects at a time: what is applied to one cluster
(one rendered environment, or the files given to `validate`).

  GG1xx  Rollout <-> VirtualService <-> DestinationRule wiring
  GG2xx  TSB direct mode: `istio.io/rev`, the tenancy annotations, the Tenant/Workspace/Group they name
  GG3xx  analysis: templates and args, the SkyWalking query, the success condition, metric limits
  GG4xx  canary steps
  GG5xx  GitOps hazards reported in Argo Rollouts' issue tracker (warnings)
  GG6xx  Argo CD Applications
  IST0101, IST0109, IST0130  `istioctl analyze` checks, reimplemented for files
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from . import expr_check, skywalking_query
from .errors import Finding
from .model import ROLLOUTS_ANNOTATION_MANAGED_BY
from .skywalking import SCALED_BY_10000, SERVICE_NAME_ARG
from .validate import GO_DURATION, LoadedObject, locate
from .yamlio import PathTuple

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    title: str
    link: str = ""


RULES = {
    rule.id: rule
    for rule in (
        Rule("GG101", ERROR, "the Rollout's VirtualService exists"),
        Rule(
            "GG102",
            ERROR,
            "the Rollout's route exists in the VirtualService, or the VirtualService has one route",
        ),
        Rule("GG103", ERROR, "the Rollout's DestinationRule exists"),
        Rule("GG104", ERROR, "the DestinationRule defines the canary and stable subsets"),
        Rule("GG105", ERROR, "subset labels agree with canaryMetadata/stableMetadata and the selector"),
        Rule(
            "GG106",
            ERROR,
            "the route sends to both subsets of the DestinationRule's host, weights summing to 100",
        ),
        Rule("GG201", ERROR, "direct-mode Istio objects carry the label istio.io/rev: tsb"),
        Rule(
            "GG202",
            ERROR,
            "direct-mode Istio objects carry the tsb.tetrate.io organization, tenant, workspace "
            "and one group annotation",
        ),
        Rule("GG203", ERROR, "the tenancy annotations name a Tenant, Workspace and Group of the same set"),
        Rule("GG204", ERROR, "the Group is in configMode DIRECT and selects the object's namespace"),
        Rule("GG301", ERROR, "every analysis templateName exists"),
        Rule("GG302", ERROR, "every template arg without a value is supplied"),
        Rule(
            "GG303",
            ERROR,
            "the service-name arg is subset|service|namespace|cluster|env with the canary subset",
        ),
        Rule("GG304", ERROR, "the SkyWalking query is valid against the SkyWalking query protocol"),
        Rule("GG305", ERROR, "the successCondition reads only what the query returns"),
        Rule("GG306", ERROR, "the successCondition is a well-formed expression over `result`"),
        Rule("GG307", ERROR, "metric limits and durations Argo Rollouts checks only in the cluster"),
        Rule("GG308", WARNING, "the condition fails on a minute without traffic"),
        Rule("GG309", WARNING, "the condition passes when there was no traffic at all"),
        Rule("GG401", ERROR, "canary weights strictly increase within 0..100"),
        Rule("GG402", ERROR, "analysis startingStep is inside the steps"),
        Rule("GG403", ERROR, "pause durations are valid"),
        Rule(
            "GG501",
            WARNING,
            "replicas set while an HPA scales the Rollout",
            "https://github.com/argoproj/argo-rollouts/issues/3565",
        ),
        Rule(
            "GG502",
            WARNING,
            "workloadRef.scaleDown leaves double capacity",
            "https://github.com/argoproj/argo-rollouts/issues/4935",
        ),
        Rule(
            "GG503",
            WARNING,
            "workloadRef.scaleDown can leave the Deployment at zero",
            "https://github.com/argoproj/argo-rollouts/issues/3855",
        ),
        Rule("GG601", ERROR, "an Application's source path exists in the tree"),
        Rule("GG602", ERROR, "the Application syncing a canary ignores what Argo Rollouts mutates"),
        Rule("IST0101", ERROR, "a referenced subset or gateway is not defined"),
        Rule("IST0109", ERROR, "two VirtualServices claim the same host"),
        Rule("IST0130", ERROR, "a route rule can never match"),
    )
}

TSB_ANNOTATION = "tsb.tetrate.io/"
GROUP_ANNOTATIONS = {
    "trafficGroup": "traffic.tsb.tetrate.io",
    "securityGroup": "security.tsb.tetrate.io",
    "gatewayGroup": "gateway.tsb.tetrate.io",
    "istioInternalGroup": "istiointernal.tsb.tetrate.io",
}


# ---- the set of objects -------------------------------------------------------------------------------


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _get(obj: Any, *path: str | int) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(obj, list) or not -len(obj) <= part < len(obj):
                return None
        elif not isinstance(obj, Mapping):
            return None
        obj = obj[part] if isinstance(part, int) else obj.get(part)
    return obj


def _map(obj: Any, *path: str | int) -> Mapping[str, Any]:
    """The mapping at `path`, or {} when it is missing or not a mapping: rules run on hand-written files
    whose schema errors are reported separately, and must not trip over them."""
    found = _get(obj, *path)
    return found if isinstance(found, Mapping) else {}


def _list(obj: Any, *path: str | int) -> list[Any]:
    """The list at `path`, or [] when it is missing or not a list (see `_map`)."""
    found = _get(obj, *path)
    return found if isinstance(found, list) else []


def _group(obj: Mapping[str, Any]) -> str:
    return str(obj.get("apiVersion", "")).rpartition("/")[0]


@dataclass(frozen=True)
class Item:
    """One object of the set, and where it sits in the GitOps repo (for Application paths), if known."""

    loaded: LoadedObject
    repo_path: str | None = None

    @property
    def obj(self) -> Mapping[str, Any]:
        return self.loaded.obj

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str(_meta(self.obj).get("name", ""))

    @property
    def namespace(self) -> str:
        """ "" when not set: hand-written files often leave it to the Argo CD destination."""
        return str(_meta(self.obj).get("namespace") or "")


class ObjectSet:
    def __init__(self, items: Sequence[Item], path_exists: Callable[[str], bool] | None = None) -> None:
        self.items = list(items)
        self.path_exists = path_exists
        self._by_key: dict[tuple[str, str, str], list[Item]] = defaultdict(list)
        self._by_kind: dict[str, list[Item]] = defaultdict(list)
        for item in self.items:
            self._by_key[(item.kind, item.namespace, item.name)].append(item)
            self._by_kind[item.kind].append(item)

    def of_kind(self, kind: str) -> list[Item]:
        return self._by_kind.get(kind, [])

    def find(self, kind: str, namespace: str, name: str) -> Item | None:
        found = self._by_key.get((kind, namespace, name))
        return found[0] if found else None

    def named(self, kind: str, name: str, group: str | None = None) -> list[Item]:
        return [i for i in self.of_kind(kind) if i.name == name and (group is None or _group(i.obj) == group)]


def _finding(rule_id: str, item: Item, path: PathTuple, message: str, severity: str | None = None) -> Finding:
    rule = RULES[rule_id]
    return Finding(
        rule=rule_id,
        severity=severity or rule.severity,
        location=locate(item.loaded, path),
        message=message,
        obj=item.loaded.label,
        link=rule.link,
    )


def check(items: Sequence[Item], path_exists: Callable[[str], bool] | None = None) -> list[Finding]:
    """Every rule over one set of objects; findings sorted by file and position."""
    objects = ObjectSet(items, path_exists)
    findings: list[Finding] = []
    for rule_group in (_rollout_wiring, _direct_mode, _analysis, _steps, _hazards, _applications, _istio):
        findings.extend(rule_group(objects))
    return sorted(findings, key=lambda f: (f.location, f.rule, f.message))


# ---- GG1xx: Rollout wiring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Canary:
    rollout: Item
    vs_name: str
    routes: list[str]
    dr_name: str
    canary: str
    stable: str


def _istio_canaries(objects: ObjectSet) -> Iterator[_Canary]:
    for rollout in objects.of_kind("Rollout"):
        istio = _get(rollout.obj, "spec", "strategy", "canary", "trafficRouting", "istio")
        if not isinstance(istio, Mapping):
            continue
        vs = istio.get("virtualService") or {}
        dr = istio.get("destinationRule") or {}
        if (
            not isinstance(vs, Mapping)
            or not isinstance(dr, Mapping)
            or not vs.get("name")
            or not dr.get("name")
        ):
            continue  # host-level splitting or the schema's business: subset rules do not apply
        routes: list[Any] = vs["routes"] if isinstance(vs.get("routes"), list) else []
        yield _Canary(
            rollout,
            str(vs["name"]),
            [str(r) for r in routes],
            str(dr["name"]),
            str(dr.get("canarySubsetName", "")),
            str(dr.get("stableSubsetName", "")),
        )


def _rollout_wiring(objects: ObjectSet) -> Iterator[Finding]:
    istio_path = ("spec", "strategy", "canary", "trafficRouting", "istio")
    for c in _istio_canaries(objects):
        rollout = c.rollout
        vs = objects.find("VirtualService", rollout.namespace, c.vs_name)
        dr = objects.find("DestinationRule", rollout.namespace, c.dr_name)
        if vs is None:
            yield _finding(
                "GG101",
                rollout,
                (*istio_path, "virtualService", "name"),
                f"no VirtualService '{c.vs_name}' in {_where(rollout)}",
            )
        if dr is None:
            yield _finding(
                "GG103",
                rollout,
                (*istio_path, "destinationRule", "name"),
                f"no DestinationRule '{c.dr_name}' in {_where(rollout)}",
            )
        if dr is not None:
            yield from _subsets(c, dr, istio_path)
        if vs is not None:
            yield from _routes(c, vs, dr, istio_path)


def _where(item: Item) -> str:
    return f"namespace '{item.namespace}'" if item.namespace else "the same set (no namespace set)"


def _subsets(c: _Canary, dr: Item, istio_path: PathTuple) -> Iterator[Finding]:
    subsets = _list(dr.obj, "spec", "subsets")
    by_name = {str(s.get("name")): (i, s) for i, s in enumerate(subsets) if isinstance(s, Mapping)}
    selector = _map(c.rollout.obj, "spec", "selector", "matchLabels")
    for role in ("canary", "stable"):
        pod_labels = _map(c.rollout.obj, "spec", "strategy", "canary", f"{role}Metadata", "labels")
        for key, value in sorted(pod_labels.items()):
            if key in selector and selector[key] != value:
                yield _finding(
                    "GG105",
                    c.rollout,
                    ("spec", "selector", "matchLabels", key),
                    f"the selector requires {key}={selector[key]} but {role}Metadata labels {role} pods "
                    f"{key}={value}: the Rollout would not select its own {role} pods",
                )
    for role, subset_name in (("canary", c.canary), ("stable", c.stable)):
        if subset_name not in by_name:
            yield _finding(
                "GG104",
                c.rollout,
                (*istio_path, "destinationRule", f"{role}SubsetName"),
                f"DestinationRule '{dr.name}' has no subset '{subset_name}'"
                f" (it has: {', '.join(map(str, by_name)) or 'none'})",
            )
            continue
        index, subset = by_name[subset_name]
        labels = _map(subset, "labels")
        pod_labels = _map(c.rollout.obj, "spec", "strategy", "canary", f"{role}Metadata", "labels")
        for key, value in sorted(labels.items()):
            if key in pod_labels and pod_labels[key] != value:
                yield _finding(
                    "GG105",
                    dr,
                    ("spec", "subsets", index, "labels", key),
                    f"subset '{subset_name}' selects {key}={value} but the Rollout's {role}Metadata "
                    f"labels {role} pods {key}={pod_labels[key]}",
                )
            elif key not in pod_labels and key in selector and selector[key] != value:
                yield _finding(
                    "GG105",
                    dr,
                    ("spec", "subsets", index, "labels", key),
                    f"subset '{subset_name}' selects {key}={value} but the Rollout selects "
                    f"{key}={selector[key]}",
                )
            elif key not in pod_labels and key not in selector:
                yield _finding(
                    "GG105",
                    c.rollout,
                    ("spec", "strategy", "canary", f"{role}Metadata", "labels"),
                    f"{role}Metadata does not set the label '{key}' that subset '{subset_name}' of "
                    f"DestinationRule '{dr.name}' selects: {role} pods would not be in the subset",
                )
    if c.canary in by_name and c.stable in by_name:
        canary_labels = _map(by_name[c.canary][1], "labels")
        stable_labels = _map(by_name[c.stable][1], "labels")
        if canary_labels == stable_labels:
            yield _finding(
                "GG105",
                dr,
                ("spec", "subsets", by_name[c.canary][0], "labels"),
                f"subsets '{c.canary}' and '{c.stable}' select the same pods",
            )


def _routes(c: _Canary, vs: Item, dr: Item | None, istio_path: PathTuple) -> Iterator[Finding]:
    http = _list(vs.obj, "spec", "http")
    named = {str(r["name"]): i for i, r in enumerate(http) if isinstance(r, Mapping) and r.get("name")}
    if c.routes:
        indexes = []
        for position, route in enumerate(c.routes):
            if route not in named:
                yield _finding(
                    "GG102",
                    c.rollout,
                    (*istio_path, "virtualService", "routes", position),
                    f"VirtualService '{vs.name}' has no http route named '{route}'"
                    f" (named routes: {', '.join(map(str, named)) or 'none'})",
                )
            else:
                indexes.append(named[route])
    elif len(http) == 1:
        indexes = [0]
    else:
        yield _finding(
            "GG102",
            c.rollout,
            (*istio_path, "virtualService"),
            f"VirtualService '{vs.name}' has {len(http)} http routes and the Rollout lists none in "
            "`routes`: Argo Rollouts needs the route names",
        )
        return
    host = _get(dr.obj, "spec", "host") if dr is not None else None
    for index in indexes:
        destinations = _list(http, index, "route")
        subsets: dict[Any, int] = {}
        total = 0
        for position, destination in enumerate(destinations):
            if not isinstance(destination, Mapping):
                continue
            subsets[str(_get(destination, "destination", "subset"))] = position
            total += destination.get("weight", 0) if isinstance(destination.get("weight", 0), int) else 0
            dest_host = _get(destination, "destination", "host")
            if host is not None and dest_host is not None and not _same_host(dest_host, host, vs.namespace):
                yield _finding(
                    "GG106",
                    vs,
                    ("spec", "http", index, "route", position, "destination", "host"),
                    f"route sends to host '{dest_host}' but DestinationRule '{dr.name if dr else ''}' "
                    f"is for host '{host}'",
                )
        missing = [s for s in (c.stable, c.canary) if s not in subsets]
        if missing:
            yield _finding(
                "GG106",
                vs,
                ("spec", "http", index, "route"),
                f"route does not send to subset(s) {', '.join(missing)} of the Rollout '{c.rollout.name}'",
            )
        if destinations and total != 100:
            yield _finding(
                "GG106", vs, ("spec", "http", index, "route"), f"route weights sum to {total}, not 100"
            )


def _fqdn(host: Any, namespace: str) -> str:
    name = str(host)
    if "." in name or name.startswith("*"):
        return name
    return f"{name}.{namespace or 'default'}.svc.cluster.local"


def _same_host(a: str, b: str, namespace: str) -> bool:
    return _fqdn(a, namespace) == _fqdn(b, namespace)


# ---- GG2xx: TSB direct mode ---------------------------------------------------------------------------


def _direct_mode(objects: ObjectSet) -> Iterator[Finding]:
    for item in objects.items:
        if _group(item.obj) != "networking.istio.io":
            continue
        labels = _map(_meta(item.obj), "labels")
        annotations = _map(_meta(item.obj), "annotations")
        if labels.get("istio.io/rev") != "tsb":
            found = labels.get("istio.io/rev")
            yield _finding(
                "GG201",
                item,
                ("metadata", "labels") if labels else ("metadata",),
                'missing label istio.io/rev: "tsb"'
                if found is None
                else f"label istio.io/rev is '{found}', not 'tsb'",
            )
        missing = [
            k for k in ("organization", "tenant", "workspace") if not annotations.get(TSB_ANNOTATION + k)
        ]
        groups = [k for k in GROUP_ANNOTATIONS if annotations.get(TSB_ANNOTATION + k)]
        annotations_path: PathTuple = ("metadata", "annotations") if annotations else ("metadata",)
        if missing:
            yield _finding(
                "GG202",
                item,
                annotations_path,
                f"missing annotation(s) {', '.join(TSB_ANNOTATION + k for k in missing)}",
            )
        if len(groups) != 1:
            yield _finding(
                "GG202",
                item,
                annotations_path,
                "expected exactly one group annotation (tsb.tetrate.io/trafficGroup, securityGroup, "
                f"gatewayGroup or istioInternalGroup), found {len(groups)}",
            )
        if missing or len(groups) != 1:
            continue
        if item.kind == "Gateway" and groups[0] != "gatewayGroup":
            yield _finding(
                "GG202",
                item,
                ("metadata", "annotations", TSB_ANNOTATION + groups[0]),
                "a Gateway belongs to a gateway group (tsb.tetrate.io/gatewayGroup)",
            )
        yield from _tenancy_references(objects, item, annotations, groups[0])


def _tenancy_references(
    objects: ObjectSet, item: Item, annotations: Mapping[str, str], group_key: str
) -> Iterator[Finding]:
    tenant, workspace = annotations[TSB_ANNOTATION + "tenant"], annotations[TSB_ANNOTATION + "workspace"]
    group_name = annotations[TSB_ANNOTATION + group_key]
    path = ("metadata", "annotations")
    if not objects.named("Tenant", tenant, "tsb.tetrate.io"):
        yield _finding("GG203", item, (*path, TSB_ANNOTATION + "tenant"), f"no Tenant '{tenant}' in the set")
    workspaces = objects.named("Workspace", workspace, "tsb.tetrate.io")
    if not workspaces:
        yield _finding(
            "GG203", item, (*path, TSB_ANNOTATION + "workspace"), f"no Workspace '{workspace}' in the set"
        )
    elif (_map(_meta(workspaces[0].obj), "annotations")).get(TSB_ANNOTATION + "tenant") != tenant:
        yield _finding(
            "GG203",
            item,
            (*path, TSB_ANNOTATION + "workspace"),
            f"Workspace '{workspace}' does not belong to tenant '{tenant}'",
        )
    api_group = GROUP_ANNOTATIONS[group_key]
    groups = objects.named("Group", group_name, api_group)
    if not groups:
        yield _finding(
            "GG203",
            item,
            (*path, TSB_ANNOTATION + group_key),
            f"no Group '{group_name}' ({api_group}) in the set",
        )
        return
    group = groups[0]
    group_annotations = _map(_meta(group.obj), "annotations")
    if group_annotations.get(TSB_ANNOTATION + "workspace") != workspace:
        yield _finding(
            "GG203",
            item,
            (*path, TSB_ANNOTATION + group_key),
            f"Group '{group_name}' belongs to workspace "
            f"'{group_annotations.get(TSB_ANNOTATION + 'workspace')}', not '{workspace}'",
        )
    if _get(group.obj, "spec", "configMode") != "DIRECT":
        yield _finding(
            "GG204",
            item,
            (*path, TSB_ANNOTATION + group_key),
            f"Group '{group_name}' is not in configMode DIRECT: TSB ignores direct-mode objects in it",
        )
    names = _list(group.obj, "spec", "namespaceSelector", "names")
    if item.namespace and not any(_selects(selector, item.namespace) for selector in names):
        yield _finding(
            "GG204",
            item,
            ("metadata", "namespace"),
            f"Group '{group_name}' selects {', '.join(map(str, names)) or 'no namespace'}, "
            f"not namespace '{item.namespace}'",
        )


def _selects(selector: Any, namespace: str) -> bool:
    """`cluster/namespace` with `*` wildcards and `prefix*` namespaces; the cluster is not known here."""
    if not isinstance(selector, str) or "/" not in selector:
        return False
    pattern = selector.split("/", 1)[1]
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return namespace.startswith(pattern[:-1])
    return pattern == namespace


# ---- GG3xx: analysis ----------------------------------------------------------------------------------


def _analysis(objects: ObjectSet) -> Iterator[Finding]:
    for rollout in objects.of_kind("Rollout"):
        yield from _template_references(objects, rollout)
    for template in [*objects.of_kind("AnalysisTemplate"), *objects.of_kind("ClusterAnalysisTemplate")]:
        yield from _template_metrics(template)


def _analysis_blocks(rollout: Item) -> Iterator[tuple[PathTuple, Mapping[str, Any]]]:
    canary = _map(rollout.obj, "spec", "strategy", "canary")
    if isinstance(canary.get("analysis"), Mapping):
        yield ("spec", "strategy", "canary", "analysis"), canary["analysis"]
    for index, step in enumerate(_list(canary, "steps")):
        if isinstance(step, Mapping) and isinstance(step.get("analysis"), Mapping):
            yield ("spec", "strategy", "canary", "steps", index, "analysis"), step["analysis"]


def _template_references(objects: ObjectSet, rollout: Item) -> Iterator[Finding]:
    canary_subset = _get(
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
            str(a.get("name")): (i, a) for i, a in enumerate(_list(block, "args")) if isinstance(a, Mapping)
        }
        for index, ref in enumerate(_list(block, "templates")):
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
                yield _finding(
                    "GG301",
                    rollout,
                    (*path, "templates", index, "templateName"),
                    f"no {kind} '{name}'" + ("" if kind.startswith("Cluster") else f" in {_where(rollout)}"),
                )
                continue
            for arg in _list(found[0].obj, "spec", "args"):
                if (
                    isinstance(arg, Mapping)
                    and "value" not in arg
                    and "valueFrom" not in arg
                    and str(arg.get("name")) not in supplied
                ):
                    yield _finding(
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
        yield _finding(
            "GG303",
            rollout,
            path,
            f"service-name {value!r} is not subset|service|namespace|cluster|env"
            " (TSB's SkyWalking service name; '-' for no env)",
        )
        return
    if canary_subset and parts[0] != canary_subset:
        yield _finding(
            "GG303",
            rollout,
            path,
            f"service-name measures subset '{parts[0]}', but the canary subset is "
            f"'{canary_subset}': the analysis would judge the wrong pods",
        )
    if rollout.namespace and parts[2] != rollout.namespace:
        yield _finding(
            "GG303",
            rollout,
            path,
            f"service-name names namespace '{parts[2]}', but the Rollout is in '{rollout.namespace}'",
        )


def _template_metrics(template: Item) -> Iterator[Finding]:
    declared = {str(a.get("name")) for a in _list(template.obj, "spec", "args") if isinstance(a, Mapping)}
    for index, metric in enumerate(_list(template.obj, "spec", "metrics")):
        if not isinstance(metric, Mapping):
            continue
        path: PathTuple = ("spec", "metrics", index)
        yield from _metric_limits(template, path, metric)
        skywalking = _get(metric, "provider", "skywalking")
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
        yield _finding(
            "GG307", template, (*path, "count"), f"count {count} must be >= failureLimit {failure}"
        )
    if count and inconclusive is not None and count < inconclusive:
        yield _finding(
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
        yield _finding(
            "GG307",
            template,
            (*path, "count"),
            f"count {count} must be >= failureLimit + consecutiveSuccessLimit ({failure + success})",
        )
    if count and count > 1 and not metric.get("interval"):
        yield _finding("GG307", template, path, "interval must be set when count > 1")
    if failure is not None and failure < 0 and not success:
        yield _finding(
            "GG307",
            template,
            (*path, "failureLimit"),
            "failureLimit is disabled (-1) and there is no consecutiveSuccessLimit: nothing can conclude",
        )
    for key in ("interval", "initialDelay"):
        value = metric.get(key)
        if value is not None and not (isinstance(value, str) and GO_DURATION.match(value)):
            yield _finding(
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
        yield _finding(
            "GG307",
            template,
            (*path, "interval"),
            f"the provider interval (the query window) {interval!r} must be a Go duration such as 3m;"
            " the provider cannot be built without it",
        )
    address = provider.get("address")
    if isinstance(address, str) and address.rstrip("/").endswith("/graphql"):
        yield _finding(
            "GG307", template, (*path, "address"), "address ends in /graphql; the provider appends it"
        )
    query = provider.get("query")
    if not isinstance(query, str):
        return
    for problem in query_problems:
        where = f" (query line {problem.line}, column {problem.column})" if problem.line else ""
        yield _finding("GG304", template, (*path, "query"), problem.message + where)
    for name in skywalking_query.placeholders(query):
        if name not in declared:
            yield _finding(
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
        yield _finding("GG306", template, path, f"{problem.message} (column {problem.column})")
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
                yield _finding(
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
            yield _finding(
                "GG308",
                template,
                path,
                "a minute without traffic reads as 0 (isEmptyValue: true) and "
                "fails this condition; request isEmptyValue and filter those points out",
            )
    if reads_points and "all(" in condition.replace(" ", "") and "len(" not in condition:
        yield _finding(
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


# ---- GG4xx: steps -------------------------------------------------------------------------------------


def _pause_seconds(duration: Any) -> int | None:
    """Argo Rollouts' RolloutPause.DurationSeconds: an int, a numeric string, or a Go duration."""
    if isinstance(duration, bool):
        return None
    if isinstance(duration, int):
        return duration
    if isinstance(duration, str):
        if re.fullmatch(r"[-+]?\d+", duration):
            return int(duration)
        if GO_DURATION.match(duration):
            return 0
    return None


def _steps(objects: ObjectSet) -> Iterator[Finding]:
    for rollout in objects.of_kind("Rollout"):
        canary = _get(rollout.obj, "spec", "strategy", "canary")
        if not isinstance(canary, Mapping):
            continue
        steps = _list(canary, "steps")
        base: PathTuple = ("spec", "strategy", "canary", "steps")
        previous: int | None = None
        for index, step in enumerate(steps):
            if not isinstance(step, Mapping):
                continue
            weight = step.get("setWeight")
            if isinstance(weight, int) and not isinstance(weight, bool):
                if not 0 <= weight <= 100:
                    yield _finding(
                        "GG401", rollout, (*base, index, "setWeight"), f"weight {weight} is outside 0..100"
                    )
                elif previous is not None and weight <= previous:
                    yield _finding(
                        "GG401",
                        rollout,
                        (*base, index, "setWeight"),
                        f"weight {weight} does not increase on the previous {previous}",
                    )
                previous = weight
            pause = step.get("pause")
            if isinstance(pause, Mapping) and "duration" in pause:
                seconds = _pause_seconds(pause["duration"])
                if seconds is None or seconds < 0:
                    yield _finding(
                        "GG403",
                        rollout,
                        (*base, index, "pause", "duration"),
                        f"pause duration {pause['duration']!r} is not seconds or a duration like 30s, "
                        "10m, 1h",
                    )
        starting = _get(canary, "analysis", "startingStep")
        if isinstance(starting, int) and not 0 <= starting < max(len(steps), 1):
            yield _finding(
                "GG402",
                rollout,
                ("spec", "strategy", "canary", "analysis", "startingStep"),
                f"startingStep {starting} is outside the {len(steps)} steps",
            )


# ---- GG5xx: GitOps hazards ----------------------------------------------------------------------------


def _hazards(objects: ObjectSet) -> Iterator[Finding]:
    hpa_targets = {
        (hpa.namespace, _get(hpa.obj, "spec", "scaleTargetRef", "name"))
        for hpa in objects.of_kind("HorizontalPodAutoscaler")
        if _get(hpa.obj, "spec", "scaleTargetRef", "kind") == "Rollout"
    }
    for rollout in objects.of_kind("Rollout"):
        if "replicas" in _map(rollout.obj, "spec") and (rollout.namespace, rollout.name) in hpa_targets:
            yield _finding(
                "GG501",
                rollout,
                ("spec", "replicas"),
                "an HPA scales this Rollout and git sets replicas: each Argo CD sync resets the scale "
                "(and can drop the stable ReplicaSet mid-canary); remove replicas",
            )
        ref = _get(rollout.obj, "spec", "workloadRef")
        if not isinstance(ref, Mapping) or ref.get("kind", "Deployment") != "Deployment":
            continue
        scale_down = ref.get("scaleDown", "never")
        path: PathTuple = (
            ("spec", "workloadRef", "scaleDown") if "scaleDown" in ref else ("spec", "workloadRef")
        )
        if scale_down == "never":
            yield _finding(
                "GG502",
                rollout,
                path,
                f"the Deployment '{ref.get('name')}' keeps running beside the Rollout's pods (double "
                "capacity, and it still receives traffic until scaled to 0 in git)",
            )
        else:
            yield _finding(
                "GG503",
                rollout,
                path,
                f"scaleDown: {scale_down} sets the Deployment '{ref.get('name')}' to 0 replicas: an Argo "
                "CD sync of the Deployment scales it back up (double capacity), and removing the Rollout "
                "leaves it at 0 (an outage); set replicas: 0 on the Deployment in git instead",
            )


# ---- GG6xx: Argo CD Applications ----------------------------------------------------------------------


def _applications(objects: ObjectSet) -> Iterator[Finding]:
    apps = objects.of_kind("Application")
    for app in apps:
        path = _get(app.obj, "spec", "source", "path")
        if isinstance(path, str) and objects.path_exists is not None and not objects.path_exists(path):
            yield _finding(
                "GG601", app, ("spec", "source", "path"), f"path '{path}' does not exist in the tree"
            )
    managed = _mutated_by_rollouts(objects)
    for item, kind in managed:
        owner = _owning_app(apps, item)
        if owner is None:
            continue
        yield from _ignore_differences(owner, item, kind)


def _mutated_by_rollouts(objects: ObjectSet) -> Iterator[tuple[Item, str]]:
    for c in _istio_canaries(objects):
        for kind, name in (("VirtualService", c.vs_name), ("DestinationRule", c.dr_name)):
            item = objects.find(kind, c.rollout.namespace, name)
            if item is not None:
                yield item, kind


def _owning_app(apps: Iterable[Item], item: Item) -> Item | None:
    if item.repo_path is None:
        return None
    folder = item.repo_path.rpartition("/")[0]
    for app in apps:
        path = _get(app.obj, "spec", "source", "path")
        recurse = _get(app.obj, "spec", "source", "directory", "recurse") is True
        if isinstance(path, str) and (
            folder == path.strip("/") or (recurse and folder.startswith(path.strip("/") + "/"))
        ):
            return app
    return None


def _ignore_differences(app: Item, item: Item, kind: str) -> Iterator[Finding]:
    entries = [e for e in _list(app.obj, "spec", "ignoreDifferences") if isinstance(e, Mapping)]
    matching = [
        e
        for e in entries
        if e.get("kind") == kind
        and e.get("name") in (None, item.name)
        and e.get("group", "networking.istio.io") == "networking.istio.io"
    ]
    jq = " ".join(str(x) for e in matching for x in _list(e, "jqPathExpressions"))
    pointers = " ".join(str(x) for e in matching for x in _list(e, "jsonPointers"))
    needed = []
    if kind == "VirtualService" and ".weight" not in jq and "/weight" not in pointers:
        needed.append("the route weights (jqPathExpressions: .spec.http[].route[].weight)")
    if kind == "DestinationRule":
        if "rollouts-pod-template-hash" not in jq and "/labels" not in pointers:
            needed.append("the subsets' rollouts-pod-template-hash label")
        if "managed-by-rollouts" not in pointers and "managed-by-rollouts" not in jq:
            needed.append(f"the {ROLLOUTS_ANNOTATION_MANAGED_BY} annotation")
    path: PathTuple = ("spec", "ignoreDifferences") if entries else ("spec",)
    if needed:
        yield _finding(
            "GG602",
            app,
            path,
            f"Argo Rollouts changes {' and '.join(needed)} of {kind} '{item.name}' "
            "during a rollout; without ignoreDifferences, self-heal reverts them mid-rollout",
        )


# ---- IST: istioctl analyze, reimplemented ---------------------------------------------------------------


def _istio(objects: ObjectSet) -> Iterator[Finding]:
    subsets: dict[str, set[str]] = defaultdict(set)
    for dr in objects.of_kind("DestinationRule"):
        host = _get(dr.obj, "spec", "host")
        if isinstance(host, str):
            subsets[_fqdn(host, dr.namespace)].update(
                str(s.get("name")) for s in _list(dr.obj, "spec", "subsets") if isinstance(s, Mapping)
            )
    gateways = {(g.namespace, g.name) for g in objects.of_kind("Gateway")}
    claimed: dict[str, Item] = {}
    for vs in objects.of_kind("VirtualService"):
        http = _list(vs.obj, "spec", "http")
        for index, route in enumerate(http):
            for position, destination in enumerate(_list(route, "route")):
                host, subset = (
                    _get(destination, "destination", "host"),
                    _get(destination, "destination", "subset"),
                )
                if (
                    isinstance(host, str)
                    and subset
                    and str(subset) not in subsets.get(_fqdn(host, vs.namespace), set())
                ):
                    yield _finding(
                        "IST0101",
                        vs,
                        ("spec", "http", index, "route", position, "destination", "subset"),
                        f"subset '{subset}' of host '{host}' is not defined in any DestinationRule",
                    )
        vs_gateways = _list(vs.obj, "spec", "gateways")
        for position, gateway in enumerate(vs_gateways):
            if gateway == "mesh" or not isinstance(gateway, str):
                continue
            namespace, _, name = gateway.rpartition("/")
            if (namespace or vs.namespace, name) not in gateways:
                yield _finding(
                    "IST0101", vs, ("spec", "gateways", position), f"Gateway '{gateway}' is not defined"
                )
        if not vs_gateways or "mesh" in vs_gateways:
            for position, host in enumerate(_list(vs.obj, "spec", "hosts")):
                key = _fqdn(str(host), vs.namespace)
                first = claimed.setdefault(key, vs)
                if first is not vs:
                    yield _finding(
                        "IST0109",
                        vs,
                        ("spec", "hosts", position),
                        f"host '{host}' is also claimed by VirtualService '{first.name}' "
                        f"({first.loaded.path}); the mesh keeps only one of them",
                    )
        yield from _unreachable_routes(vs, http)


def _unreachable_routes(vs: Item, http: Sequence[Any]) -> Iterator[Finding]:
    seen_matches: list[Any] = []
    catch_all: int | None = None
    for index, route in enumerate(http):
        if not isinstance(route, Mapping):
            continue
        match = route.get("match")
        if catch_all is not None:
            yield _finding(
                "IST0130",
                vs,
                ("spec", "http", index),
                f"http route {index} can never match: route {catch_all} before it matches every request",
            )
            continue
        if not match:
            catch_all = index
        elif match in seen_matches:
            yield _finding(
                "IST0130",
                vs,
                ("spec", "http", index, "match"),
                f"http route {index} can never match: an earlier route has the same match",
            )
        else:
            seen_matches.append(match)
