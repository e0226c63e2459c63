"""GG6xx: Argo CD Applications."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from ..errors import Finding
from ..model import ROLLOUTS_ANNOTATION_MANAGED_BY
from ..yamlio import PathTuple
from .objects import (
    Item,
    ObjectSet,
    finding,
    get,
    istio_canaries,
    list_at,
)


def check(objects: ObjectSet) -> Iterator[Finding]:
    apps = objects.of_kind("Application")
    for app in apps:
        path = get(app.obj, "spec", "source", "path")
        if isinstance(path, str) and objects.path_exists is not None and not objects.path_exists(path):
            yield finding(
                "GG601", app, ("spec", "source", "path"), f"path '{path}' does not exist in the tree"
            )
    managed = _mutated_by_rollouts(objects)
    for item, kind in managed:
        owner = _owning_app(apps, item)
        if owner is None:
            continue
        yield from _ignore_differences(owner, item, kind)


def _mutated_by_rollouts(objects: ObjectSet) -> Iterator[tuple[Item, str]]:
    for c in istio_canaries(objects):
        for kind, name in (("VirtualService", c.vs_name), ("DestinationRule", c.dr_name)):
            item = objects.find(kind, c.rollout.namespace, name)
            if item is not None:
                yield item, kind


def _owning_app(apps: Iterable[Item], item: Item) -> Item | None:
    if item.repo_path is None:
        return None
    folder = item.repo_path.rpartition("/")[0]
    for app in apps:
        path = get(app.obj, "spec", "source", "path")
        recurse = get(app.obj, "spec", "source", "directory", "recurse") is True
        if isinstance(path, str) and (
            folder == path.strip("/") or (recurse and folder.startswith(path.strip("/") + "/"))
        ):
            return app
    return None


def _ignore_differences(app: Item, item: Item, kind: str) -> Iterator[Finding]:
    entries = [e for e in list_at(app.obj, "spec", "ignoreDifferences") if isinstance(e, Mapping)]
    matching = [
        e
        for e in entries
        if e.get("kind") == kind
        and e.get("name") in (None, item.name)
        and e.get("group", "networking.istio.io") == "networking.istio.io"
    ]
    jq = " ".join(str(x) for e in matching for x in list_at(e, "jqPathExpressions"))
    pointers = " ".join(str(x) for e in matching for x in list_at(e, "jsonPointers"))
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
        yield finding(
            "GG602",
            app,
            path,
            f"Argo Rollouts changes {' and '.join(needed)} of {kind} '{item.name}' "
            "during a rollout; without ignoreDifferences, self-heal reverts them mid-rollout",
        )
    options = list_at(app.obj, "spec", "syncPolicy", "syncOptions")
    if entries and "RespectIgnoreDifferences=true" not in options:
        yield finding(
            "GG602",
            app,
            ("spec", "syncPolicy"),
            "ignoreDifferences only hides the diff: without the sync option RespectIgnoreDifferences=true "
            "a sync still overwrites the weights",
        )
