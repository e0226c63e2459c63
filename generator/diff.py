"""What a render would change, object by object, grouped per environment and service.

Used by `gitops-gen diff` (text or JSON) and meant for anything else that describes a `TreePlan`, such as
a pull-request body. Objects written by this render are described from their `Manifest`; a file about to
be removed is parsed for its kind and name, and its environment and service come from the path layout
(`tree.path_owner`).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Any

from .canary_plan import PlanChange, diff_plans
from .tree import TreePlan, path_owner
from .yamlio import parse_documents

DIFF_FORMAT = 1
CHANGES = ("added", "changed", "removed")
_MARKS = {"added": "+", "changed": "~", "removed": "-"}


@dataclass(frozen=True)
class ObjectChange:
    """One object (one file) that a render adds, changes or removes."""

    change: str  # "added" | "changed" | "removed"
    path: str
    env: str
    service: str | None  # None for environment-level objects
    kind: str
    name: str
    namespace: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "namespace": self.namespace, "path": self.path}


@dataclass(frozen=True)
class GroupChanges:
    """The changes of one environment's own objects (service None) or of one service in one environment."""

    env: str
    service: str | None
    added: tuple[ObjectChange, ...] = ()
    changed: tuple[ObjectChange, ...] = ()
    removed: tuple[ObjectChange, ...] = ()

    @property
    def label(self) -> str:
        return self.env if self.service is None else f"{self.env}/{self.service}"

    def counts(self) -> str:
        """`1 added, 2 changed` (changes that did not happen are left out)."""
        return ", ".join(f"{len(getattr(self, c))} {c}" for c in CHANGES if getattr(self, c))


def _removed_object(plan: TreePlan, path: str) -> tuple[str, str, str | None]:
    """(kind, name, namespace) of a file about to be deleted; the file name stands in if it does not parse."""
    fallback = ("?", posixpath.splitext(posixpath.basename(path))[0], None)
    try:
        documents = parse_documents(plan.old_text(path) or "")
    except Exception:  # a hand-edited file may be anything; describing it must not fail the run
        return fallback
    if len(documents) != 1 or not isinstance(documents[0], dict):
        return fallback
    metadata = documents[0].get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    namespace = metadata.get("namespace")
    return (
        str(documents[0].get("kind", "?")),
        str(metadata.get("name", fallback[1])),
        None if namespace is None else str(namespace),
    )


def object_changes(plan: TreePlan) -> tuple[ObjectChange, ...]:
    """Every added, changed and removed object, sorted by path."""
    changes = []
    for change in CHANGES:
        for path in getattr(plan, change):
            manifest = plan.manifests.get(path) if change != "removed" else None
            if manifest is not None:
                changes.append(
                    ObjectChange(
                        change,
                        path,
                        manifest.env,
                        manifest.service,
                        manifest.kind,
                        manifest.name,
                        manifest.namespace,
                    )
                )
            else:
                env, service = path_owner(path)
                kind, name, namespace = _removed_object(plan, path)
                changes.append(ObjectChange(change, path, env, service, kind, name, namespace))
    return tuple(sorted(changes, key=lambda c: c.path))


def _group_order(item: tuple[tuple[str, str | None], Any]) -> tuple[str, bool, str]:
    (env, service), _ = item
    return env, service is not None, service or ""


def summarize(plan: TreePlan) -> tuple[GroupChanges, ...]:
    """The changes grouped per environment, then per service; an environment's own objects come first."""
    groups: dict[tuple[str, str | None], dict[str, list[ObjectChange]]] = {}
    for change in object_changes(plan):
        group = groups.setdefault((change.env, change.service), {c: [] for c in CHANGES})
        group[change.change].append(change)
    return tuple(
        GroupChanges(env, service, **{c: tuple(items) for c, items in changes.items()})
        for (env, service), changes in sorted(groups.items(), key=_group_order)
    )


def totals(plan: TreePlan) -> dict[str, int]:
    return {
        "added": len(plan.added),
        "changed": len(plan.changed),
        "removed": len(plan.removed),
        "unchanged": len(plan.unchanged),
    }


def _objects(plan: TreePlan, env: str) -> tuple[list[Any], list[Any]]:
    """The objects of one environment before and after the plan (what canary_plan compares: Rollouts,
    templates and Deployments; unparseable old files are skipped)."""
    new = [m.obj for m in plan.manifests.values() if m.env == env]
    unchanged = set(plan.unchanged)
    old = [m.obj for p, m in plan.manifests.items() if m.env == env and p in unchanged]
    for path in (*plan.changed, *plan.removed):
        if path_owner(path)[0] != env:
            continue
        try:
            old.extend(d for d in parse_documents(plan.old_text(path) or "") if isinstance(d, dict))
        except Exception:  # a hand-edited file may be anything; describing it must not fail the run
            continue
    return old, new


def canary_changes(plan: TreePlan) -> list[tuple[str, PlanChange]]:
    """What the plan does to each canary and release, in words (`canary_plan.diff_plans`), by environment."""
    envs = sorted({path_owner(path)[0] for path in plan.touched})
    changes = []
    for env in envs:
        old, new = _objects(plan, env)
        changes += [(env, change) for change in diff_plans(old, new)]
    return changes


def change_words(change: PlanChange) -> str:
    """`image ... -> ..., canary 10% -> 80% in 5 steps, ...`: a canary that appears first, then its times;
    otherwise the times first, what a reviewer weighs."""
    phrases = (
        (*change.changes, *change.timing) if change.status == "added" else (*change.timing, *change.changes)
    )
    return ", ".join(phrases)


def format_text(plan: TreePlan) -> str:
    """The summary (one block per environment/service, one line per object), then the unified diff."""
    if not plan.has_changes:
        return f"no changes: {len(plan.unchanged)} files up to date\n"
    lines = []
    for group in summarize(plan):
        lines.append(f"{group.label}: {group.counts()}")
        for change in (*group.added, *group.changed, *group.removed):
            lines.append(f"  {_MARKS[change.change]} {change.kind}/{change.name}  ({change.path})")
    count = totals(plan)
    done = ", ".join(f"{count[c]} {c}" for c in CHANGES if count[c])
    lines.append(f"{len(plan.touched)} files would change: {done}; {count['unchanged']} unchanged")
    words = canary_changes(plan)
    if words:
        lines.append("")
        lines.extend(f"{change.service}/{env}: {change_words(change)}" for env, change in words)
    return "\n".join(lines) + "\n\n" + plan.unified_diff()


def to_document(plan: TreePlan) -> dict[str, Any]:
    """The summary and per-file diffs as plain data (see `to_json`)."""
    return {
        "format": DIFF_FORMAT,
        "changed": plan.has_changes,
        "totals": totals(plan),
        "groups": [
            {
                "env": group.env,
                "service": group.service,
                **{c: [change.as_dict() for change in getattr(group, c)] for c in CHANGES},
            }
            for group in summarize(plan)
        ],
        "canaries": [
            {
                "env": env,
                "namespace": change.namespace,
                "service": change.service,
                "rollout": change.rollout or None,
                "status": change.status,
                "changes": list(change.changes),
                "timing": list(change.timing),
            }
            for env, change in canary_changes(plan)
        ],
        "files": [
            {"path": change.path, "change": change.change, "diff": plan.file_diff(change.path)}
            for change in object_changes(plan)
        ],
    }


def to_json(plan: TreePlan) -> str:
    """A stable JSON document: sorted keys, lists in path order, no absolute paths or timestamps."""
    return json.dumps(to_document(plan), indent=2, sort_keys=True) + "\n"
