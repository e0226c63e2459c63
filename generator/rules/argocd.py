"""GG6xx: Argo CD Applications."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from ..errors import Finding
from ..model import SCALING_DOWN
from ..yamlio import PathTuple
from . import ignore_paths as ip
from .ignore_paths import applies, covered, entry_paths, rollouts_mutations
from .objects import (
    Item,
    ObjectSet,
    api_group,
    finding,
    get,
    istio_canaries,
    list_at,
    map_at,
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
    owners = AppIndex(apps)
    for item, kind, istio in managed:
        owner = owners.owner(item)
        if owner is None:
            continue
        yield from _ignore_differences(owner, item, kind, istio)


def _mutated_by_rollouts(objects: ObjectSet) -> Iterator[tuple[Item, str, Mapping[str, Any]]]:
    for c in istio_canaries(objects):
        istio = map_at(c.rollout.obj, "spec", "strategy", "canary", "trafficRouting", "istio")
        for kind, name in (("VirtualService", c.vs_name), ("DestinationRule", c.dr_name)):
            item = objects.find(kind, c.rollout.namespace, name)
            if item is not None:
                yield item, kind, istio
    for rollout in objects.of_kind("Rollout"):
        ref = map_at(rollout.obj, "spec", "workloadRef")
        if ref.get("kind", "Deployment") == "Deployment" and ref.get("scaleDown") in SCALING_DOWN:
            item = objects.find("Deployment", rollout.namespace, str(ref.get("name")))
            if item is not None:
                yield item, "Deployment", {}


def _partial_cover(paths: Sequence[ip.Path], needed: Sequence[ip.Mutation]) -> list[str]:
    """`.spec.http[0].route[0].weight covers only some of .spec.http[].route[].weight` for an entry that
    names the field at concrete indexes."""
    notes = []
    for mutation in needed:
        for p in paths:
            if len(p) == len(mutation.path) and ip.covered([_widen(p)], mutation.path):
                notes.append(f"{ip.show(p)} covers only some of {ip.show(mutation.path)}")
    return notes


def _widen(path: ip.Path) -> ip.Path:
    return tuple(ip.EVERY if isinstance(step, int) else step for step in path)


class AppIndex:
    """Which Application deploys a file: the first one (in set order) whose `spec.source.path` is the
    file's folder, or an ancestor of it with `directory.recurse: true`.

    Argo CD's directory source reads the files of `path`, and of its sub-folders only with `recurse`
    (argo-cd v3.5.1 reposerver/repository/repository.go `getPotentiallyValidManifests`: `if path !=
    appPath && !recurse { return filepath.SkipDir }`). Indexed once per set by path, so looking up every
    VirtualService and DestinationRule costs one dict probe per folder level, not a scan of every
    Application.
    """

    def __init__(self, apps: Iterable[Item]) -> None:
        self._exact: dict[str, tuple[int, Item]] = {}
        self._recursive: dict[str, tuple[int, Item]] = {}
        for order, app in enumerate(apps):
            path = get(app.obj, "spec", "source", "path")
            if not isinstance(path, str):
                continue
            key = path.strip("/")
            self._exact.setdefault(key, (order, app))  # the first one wins, as in a scan
            if get(app.obj, "spec", "source", "directory", "recurse") is True:
                self._recursive.setdefault(key, (order, app))

    def owner(self, item: Item) -> Item | None:
        if item.repo_path is None:
            return None
        folder = item.repo_path.rpartition("/")[0]
        candidates = [found] if (found := self._exact.get(folder)) else []
        # every proper ancestor `a` of the folder: those for which folder.startswith(a + "/")
        candidates += [
            found
            for index, char in enumerate(folder)
            if char == "/" and (found := self._recursive.get(folder[:index]))
        ]
        return min(candidates, key=lambda c: c[0])[1] if candidates else None


def _ignore_differences(app: Item, item: Item, kind: str, istio: Mapping[str, Any]) -> Iterator[Finding]:
    entries = [e for e in list_at(app.obj, "spec", "ignoreDifferences") if isinstance(e, Mapping)]
    # The live object's namespace: its own, or the Application's destination namespace.
    namespace = item.namespace or str(get(app.obj, "spec", "destination", "namespace") or "")
    matching = [e for e in entries if applies(e, api_group(item.obj), kind, item.name, namespace)]
    paths, unreadable = entry_paths(matching)
    needed = [m for m in rollouts_mutations(kind, istio) if not covered(paths, m.path)]
    path: PathTuple = ("spec", "ignoreDifferences") if entries else ("spec",)
    if needed:
        partial = _partial_cover(paths, needed)
        notes = "".join(f"; {p}" for p in partial)
        if unreadable:
            notes += '; gitops-gen reads only plain paths (.a.b[], .a[0], .a["k"]) and did not read ' + (
                ", ".join(repr(u) for u in unreadable)
            )
        yield finding(
            "GG602",
            app,
            path,
            f"Argo Rollouts changes {' and '.join(m.what for m in needed)} of {kind} '{item.name}' "
            "during a rollout; without ignoreDifferences covering them, self-heal reverts them "
            f"mid-rollout{notes} (add {'; '.join(m.remedy for m in needed)}). Ignored, they are still "
            "applied from Git when a Git change to this object is synced, and Argo Rollouts sets them "
            "again at once; the sync option RespectIgnoreDifferences=true would keep them, at the cost "
            "of every Git edit to the arrays they sit in (GG603)",
        )
    options = list_at(app.obj, "spec", "syncPolicy", "syncOptions")
    if "RespectIgnoreDifferences=true" in options:
        frozen = sorted({ip.show(array) for array in map(_array_of, paths) if array is not None})
        if frozen:
            yield finding(
                "GG603",
                app,
                ("spec", "syncPolicy", "syncOptions", options.index("RespectIgnoreDifferences=true")),
                f"with RespectIgnoreDifferences=true Argo CD copies the live {', '.join(frozen)} of {kind} "
                f"'{item.name}' over Git's before applying it: a JSON merge patch replaces an array whole "
                "(argo-cd v3.5.1 controller/sync.go normalizeTargetResources), so a route, retry, timeout "
                "or subset added or changed in Git never reaches the cluster and the Application stays "
                "OutOfSync. Without the option, such an edit is applied with Git's weights and Argo "
                "Rollouts sets them again at once (argocd.respectIgnoreDifferences: false, the default)",
            )


def _array_of(path: ip.Path) -> ip.Path | None:
    """The array an ignored path runs through (`.spec.http` of `.spec.http[].route[].weight`): the live
    copy of all of it replaces Git's when the ignored fields are respected on sync."""
    for depth, step in enumerate(path):
        if step == ip.EVERY or isinstance(step, int):
            return path[:depth]
    return None
