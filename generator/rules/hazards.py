"""GG5xx: GitOps hazards reported in Argo Rollouts' issue tracker (warnings)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..errors import Finding
from ..yamlio import PathTuple
from .objects import (
    ObjectSet,
    finding,
    get,
    map_at,
)


def check(objects: ObjectSet) -> Iterator[Finding]:
    hpa_targets = {
        (hpa.namespace, get(hpa.obj, "spec", "scaleTargetRef", "name"))
        for hpa in objects.of_kind("HorizontalPodAutoscaler")
        if get(hpa.obj, "spec", "scaleTargetRef", "kind") == "Rollout"
    }
    for rollout in objects.of_kind("Rollout"):
        if "replicas" in map_at(rollout.obj, "spec") and (rollout.namespace, rollout.name) in hpa_targets:
            yield finding(
                "GG501",
                rollout,
                ("spec", "replicas"),
                "an HPA scales this Rollout and git sets replicas: each Argo CD sync resets the scale "
                "(and can drop the stable ReplicaSet mid-canary); remove replicas",
            )
        ref = get(rollout.obj, "spec", "workloadRef")
        if not isinstance(ref, Mapping) or ref.get("kind", "Deployment") != "Deployment":
            continue
        scale_down = ref.get("scaleDown", "never")
        path: PathTuple = (
            ("spec", "workloadRef", "scaleDown") if "scaleDown" in ref else ("spec", "workloadRef")
        )
        if scale_down == "never":
            yield finding(
                "GG502",
                rollout,
                path,
                f"the Deployment '{ref.get('name')}' keeps running beside the Rollout's pods (double "
                "capacity, and it still receives traffic until scaled to 0 in git)",
            )
        else:
            yield finding(
                "GG503",
                rollout,
                path,
                f"scaleDown: {scale_down} sets the Deployment '{ref.get('name')}' to 0 replicas: an Argo "
                "CD sync of the Deployment scales it back up (double capacity), and removing the Rollout "
                "leaves it at 0 (an outage); set replicas: 0 on the Deployment in git instead",
            )
