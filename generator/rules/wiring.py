"""GG1xx: Rollout <-> VirtualService <-> DestinationRule wiring."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import Finding
from ..yamlio import PathTuple
from .objects import (
    Canary,
    Item,
    ObjectSet,
    finding,
    get,
    istio_canaries,
    list_at,
    map_at,
    same_host,
    where,
)


def check(objects: ObjectSet) -> Iterator[Finding]:
    istio_path = ("spec", "strategy", "canary", "trafficRouting", "istio")
    for c in istio_canaries(objects):
        rollout = c.rollout
        vs = objects.find("VirtualService", rollout.namespace, c.vs_name)
        dr = objects.find("DestinationRule", rollout.namespace, c.dr_name)
        if vs is None:
            yield finding(
                "GG101",
                rollout,
                (*istio_path, "virtualService", "name"),
                f"no VirtualService '{c.vs_name}' in {where(rollout)}",
            )
        if dr is None:
            yield finding(
                "GG103",
                rollout,
                (*istio_path, "destinationRule", "name"),
                f"no DestinationRule '{c.dr_name}' in {where(rollout)}",
            )
        if dr is not None:
            yield from _subsets(c, dr, istio_path)
        if vs is not None:
            yield from _routes(c, vs, dr, istio_path)
    for rollout in objects.of_kind("Rollout"):
        yield from _workload(objects, rollout)


def _workload(objects: ObjectSet, rollout: Item) -> Iterator[Finding]:
    """GG107: the Deployment a Rollout's workloadRef names, where the Rollout's folder holds Deployments.

    Argo Rollouts takes the pod template from it (v1.9.1 rollout/templateref.go), then validates that
    template against the Rollout's selector with Kubernetes' ValidatePodTemplateSpecForReplicaSet
    (pkg/apis/rollouts/validation/validation.go ValidateRolloutSpec, once TemplateResolvedFromRef):
    "`selector` does not match template `labels`" leaves the Rollout degraded, with no pods.
    """
    ref = map_at(rollout.obj, "spec", "workloadRef")
    if not ref or ref.get("kind", "Deployment") != "Deployment":
        return
    name = str(ref.get("name"))
    deployment = objects.find("Deployment", rollout.namespace, name)
    if deployment is None:
        # Only where the Rollout's own folder holds Deployments: elsewhere the workload is the user's.
        folder = posixpath.dirname(rollout.loaded.path)
        deployments = [
            d
            for d in objects.of_kind("Deployment")
            if d.namespace == rollout.namespace and posixpath.dirname(d.loaded.path) == folder
        ]
        if deployments:
            yield finding(
                "GG107",
                rollout,
                ("spec", "workloadRef", "name"),
                f"no Deployment '{name}' in {where(rollout)} (it has: "
                f"{', '.join(sorted(d.name for d in deployments))})",
            )
        return
    if ref.get("apiVersion", "apps/v1") != deployment.obj.get("apiVersion"):
        yield finding(
            "GG107",
            rollout,
            ("spec", "workloadRef", "apiVersion"),
            f"workloadRef names apiVersion {ref.get('apiVersion')} but Deployment '{name}' is "
            f"{deployment.obj.get('apiVersion')}",
        )
    selector = map_at(rollout.obj, "spec", "selector", "matchLabels")
    template = map_at(deployment.obj, "spec", "template", "metadata", "labels")
    for key, value in sorted(selector.items()):
        if template.get(key) != value:
            found = f"{key}={template[key]}" if key in template else f"no label '{key}'"
            yield finding(
                "GG107",
                rollout,
                ("spec", "selector", "matchLabels", key),
                f"the selector requires {key}={value} but the pods of Deployment '{name}' have {found}: "
                "Argo Rollouts refuses the template it takes from the Deployment (`selector` does not "
                "match template `labels`)",
            )


def _subsets(c: Canary, dr: Item, istio_path: PathTuple) -> Iterator[Finding]:
    subsets = list_at(dr.obj, "spec", "subsets")
    by_name = {str(s.get("name")): (i, s) for i, s in enumerate(subsets) if isinstance(s, Mapping)}
    selector = map_at(c.rollout.obj, "spec", "selector", "matchLabels")
    for role in ("canary", "stable"):
        pod_labels = map_at(c.rollout.obj, "spec", "strategy", "canary", f"{role}Metadata", "labels")
        for key, value in sorted(pod_labels.items()):
            if key in selector and selector[key] != value:
                yield finding(
                    "GG105",
                    c.rollout,
                    ("spec", "selector", "matchLabels", key),
                    f"the selector requires {key}={selector[key]} but {role}Metadata labels {role} pods "
                    f"{key}={value}: the Rollout would not select its own {role} pods",
                )
    for role, subset_name in (("canary", c.canary), ("stable", c.stable)):
        if subset_name not in by_name:
            yield finding(
                "GG104",
                c.rollout,
                (*istio_path, "destinationRule", f"{role}SubsetName"),
                f"DestinationRule '{dr.name}' has no subset '{subset_name}'"
                f" (it has: {', '.join(map(str, by_name)) or 'none'})",
            )
            continue
        index, subset = by_name[subset_name]
        labels = map_at(subset, "labels")
        pod_labels = map_at(c.rollout.obj, "spec", "strategy", "canary", f"{role}Metadata", "labels")
        for key, value in sorted(labels.items()):
            if key in pod_labels and pod_labels[key] != value:
                yield finding(
                    "GG105",
                    dr,
                    ("spec", "subsets", index, "labels", key),
                    f"subset '{subset_name}' selects {key}={value} but the Rollout's {role}Metadata "
                    f"labels {role} pods {key}={pod_labels[key]}",
                )
            elif key not in pod_labels and key in selector and selector[key] != value:
                yield finding(
                    "GG105",
                    dr,
                    ("spec", "subsets", index, "labels", key),
                    f"subset '{subset_name}' selects {key}={value} but the Rollout selects "
                    f"{key}={selector[key]}",
                )
            elif key not in pod_labels and key not in selector:
                yield finding(
                    "GG105",
                    c.rollout,
                    ("spec", "strategy", "canary", f"{role}Metadata", "labels"),
                    f"{role}Metadata does not set the label '{key}' that subset '{subset_name}' of "
                    f"DestinationRule '{dr.name}' selects: {role} pods would not be in the subset",
                )
    if c.canary in by_name and c.stable in by_name:
        canary_labels = map_at(by_name[c.canary][1], "labels")
        stable_labels = map_at(by_name[c.stable][1], "labels")
        if canary_labels == stable_labels:
            yield finding(
                "GG105",
                dr,
                ("spec", "subsets", by_name[c.canary][0], "labels"),
                f"subsets '{c.canary}' and '{c.stable}' select the same pods",
            )


def _routes(c: Canary, vs: Item, dr: Item | None, istio_path: PathTuple) -> Iterator[Finding]:
    http = list_at(vs.obj, "spec", "http")
    named = {str(r["name"]): i for i, r in enumerate(http) if isinstance(r, Mapping) and r.get("name")}
    if c.routes:
        indexes = []
        for position, route in enumerate(c.routes):
            if route not in named:
                yield finding(
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
        yield finding(
            "GG102",
            c.rollout,
            (*istio_path, "virtualService"),
            f"VirtualService '{vs.name}' has {len(http)} http routes and the Rollout lists none in "
            "`routes`: Argo Rollouts needs the route names",
        )
        return
    host = get(dr.obj, "spec", "host") if dr is not None else None
    for index in indexes:
        destinations = list_at(http, index, "route")
        subsets: dict[Any, int] = {}
        total = 0
        for position, destination in enumerate(destinations):
            if not isinstance(destination, Mapping):
                continue
            subsets[str(get(destination, "destination", "subset"))] = position
            total += destination.get("weight", 0) if isinstance(destination.get("weight", 0), int) else 0
            dest_host = get(destination, "destination", "host")
            if host is not None and dest_host is not None and not same_host(dest_host, host, vs.namespace):
                yield finding(
                    "GG106",
                    vs,
                    ("spec", "http", index, "route", position, "destination", "host"),
                    f"route sends to host '{dest_host}' but DestinationRule '{dr.name if dr else ''}' "
                    f"is for host '{host}'",
                )
        missing = [s for s in (c.stable, c.canary) if s not in subsets]
        if missing:
            yield finding(
                "GG106",
                vs,
                ("spec", "http", index, "route"),
                f"route does not send to subset(s) {', '.join(missing)} of the Rollout '{c.rollout.name}'",
            )
        if destinations and total != 100:
            yield finding(
                "GG106", vs, ("spec", "http", index, "route"), f"route weights sum to {total}, not 100"
            )
