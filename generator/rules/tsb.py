"""GG2xx: TSB direct mode: `istio.io/rev`, the tenancy annotations, the Tenant/Workspace/Group they name."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import Finding
from ..yamlio import PathTuple
from .objects import (
    Item,
    ObjectSet,
    api_group,
    finding,
    get,
    list_at,
    map_at,
    meta,
)

TSB_ANNOTATION = "tsb.tetrate.io/"
GROUP_ANNOTATIONS = {
    "trafficGroup": "traffic.tsb.tetrate.io",
    "securityGroup": "security.tsb.tetrate.io",
    "gatewayGroup": "gateway.tsb.tetrate.io",
    "istioInternalGroup": "istiointernal.tsb.tetrate.io",
}


def check(objects: ObjectSet) -> Iterator[Finding]:
    for item in objects.subjects:
        if api_group(item.obj) != "networking.istio.io":
            continue
        labels = map_at(meta(item.obj), "labels")
        annotations = map_at(meta(item.obj), "annotations")
        if labels.get("istio.io/rev") != "tsb":
            found = labels.get("istio.io/rev")
            yield finding(
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
            yield finding(
                "GG202",
                item,
                annotations_path,
                f"missing annotation(s) {', '.join(TSB_ANNOTATION + k for k in missing)}",
            )
        if len(groups) != 1:
            yield finding(
                "GG202",
                item,
                annotations_path,
                "expected exactly one group annotation (tsb.tetrate.io/trafficGroup, securityGroup, "
                f"gatewayGroup or istioInternalGroup), found {len(groups)}",
            )
        if missing or len(groups) != 1:
            continue
        if item.kind == "Gateway" and groups[0] != "gatewayGroup":
            yield finding(
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
        yield finding("GG203", item, (*path, TSB_ANNOTATION + "tenant"), f"no Tenant '{tenant}' in the set")
    workspaces = objects.named("Workspace", workspace, "tsb.tetrate.io")
    if not workspaces:
        yield finding(
            "GG203", item, (*path, TSB_ANNOTATION + "workspace"), f"no Workspace '{workspace}' in the set"
        )
    elif (map_at(meta(workspaces[0].obj), "annotations")).get(TSB_ANNOTATION + "tenant") != tenant:
        yield finding(
            "GG203",
            item,
            (*path, TSB_ANNOTATION + "workspace"),
            f"Workspace '{workspace}' does not belong to tenant '{tenant}'",
        )
    api_group = GROUP_ANNOTATIONS[group_key]
    groups = objects.named("Group", group_name, api_group)
    if not groups:
        yield finding(
            "GG203",
            item,
            (*path, TSB_ANNOTATION + group_key),
            f"no Group '{group_name}' ({api_group}) in the set",
        )
        return
    group = groups[0]
    group_annotations = map_at(meta(group.obj), "annotations")
    if group_annotations.get(TSB_ANNOTATION + "workspace") != workspace:
        yield finding(
            "GG203",
            item,
            (*path, TSB_ANNOTATION + group_key),
            f"Group '{group_name}' belongs to workspace "
            f"'{group_annotations.get(TSB_ANNOTATION + 'workspace')}', not '{workspace}'",
        )
    if get(group.obj, "spec", "configMode") != "DIRECT":
        yield finding(
            "GG204",
            item,
            (*path, TSB_ANNOTATION + group_key),
            f"Group '{group_name}' is not in configMode DIRECT: TSB ignores direct-mode objects in it",
        )
    names = list_at(group.obj, "spec", "namespaceSelector", "names")
    if item.namespace and not any(_selects(selector, item.namespace) for selector in names):
        yield finding(
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
