"""What Argo CD applies when it syncs a canary's Application, reasoned from its own code.

Argo CD v3.5.1 `controller/sync.go`: with the sync option `RespectIgnoreDifferences=true`,
`normalizeTargetResources` rewrites each target before it is applied. For a custom resource (no Go type in
the client scheme, so no strategic-merge metadata) it does, in order:

    normalized := diff.Normalize(live, target, diffConfig)       // ignoreDifferences removed from both
    livePatch := jsonpatch.CreateMergePatch(normalizedLive, live)  // RFC 7386: a changed array is whole
    patched := jsonpatch.MergePatch(normalizedTarget, livePatch)
    restoreNonIgnoredFields(patched, target, normalizedTarget, normalizedLive)

Without the option the target is applied as it is in Git. The functions below port those few lines
(evanphx/json-patch's merge patch, and `restoreNonIgnoredFields` line by line), so the tests can show what
reaches the cluster with the Applications gitops-gen renders (argo-cd #17694: with the option, a route
added in Git to a VirtualService whose weights are ignored is dropped, because the live `spec.http` array
replaces Git's).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from generator.render import Manifest, render_all

# ---- the port ---------------------------------------------------------------------------------------------


def create_merge_patch(original: Any, modified: Any) -> dict[str, Any]:
    """evanphx/json-patch CreateMergePatch for two objects: keys to set, null for keys to remove; arrays and
    scalars that differ are replaced whole."""
    patch: dict[str, Any] = {}
    for key, value in modified.items():
        if key not in original:
            patch[key] = copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(original[key], dict):
            inner = create_merge_patch(original[key], value)
            if inner:
                patch[key] = inner
        elif value != original[key]:
            patch[key] = copy.deepcopy(value)
    for key in original:
        if key not in modified:
            patch[key] = None
    return patch


def merge_patch(document: Any, patch: Any) -> Any:
    """RFC 7386 MergePatch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(document) if isinstance(document, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def restore_non_ignored_fields(
    patched: dict[str, Any],
    original: dict[str, Any],
    normalized_target: dict[str, Any],
    normalized_live: dict[str, Any] | None,
) -> None:
    """argo-cd v3.5.1 controller/sync.go `restoreNonIgnoredFields`, line by line."""
    normalized_live = normalized_live or {}
    for key, original_value in original.items():
        in_patched, patched_value = key in patched, patched.get(key)
        in_normalized, normalized_value = key in normalized_target, normalized_target.get(key)
        if (
            in_patched
            and isinstance(patched_value, dict)
            and isinstance(original_value, dict)
            and isinstance(normalized_value, dict)
        ):
            live_value = normalized_live.get(key)
            restore_non_ignored_fields(
                patched_value,
                original_value,
                normalized_value,
                live_value if isinstance(live_value, dict) else None,
            )
            continue
        if (
            in_normalized
            and normalized_value == original_value
            and (not in_patched or patched_value != original_value)
        ):
            patched[key] = original_value
    for key in list(patched):
        if key not in original and key in normalized_live:
            del patched[key]


_STEP = re.compile(r'\.([A-Za-z_][A-Za-z0-9_-]*)|\[\]|\["([^"]*)"\]')


def delete_jq_path(obj: Any, expression: str) -> None:
    """`del(<expression>)` for the path forms gitops-gen renders: `.a.b`, `.a[]`, `.a["key"]`."""
    steps = [(m.group(1) or m.group(2)) if m.group(0) != "[]" else None for m in _STEP.finditer(expression)]
    assert "".join(m.group(0) for m in _STEP.finditer(expression)) == expression, expression
    _delete(obj, steps)


def _delete(obj: Any, steps: list[str | None]) -> None:
    head, rest = steps[0], steps[1:]
    if head is None:  # `[]`: every item (a bare `.a[]` at the end deletes nothing gitops-gen renders)
        for item in obj if isinstance(obj, list) and rest else []:
            _delete(item, rest)
        return
    if not isinstance(obj, dict) or head not in obj:
        return
    if rest:
        _delete(obj[head], rest)
    else:
        del obj[head]


def delete_json_pointer(obj: Any, pointer: str) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
    for part in parts[:-1]:
        obj = obj.get(part) if isinstance(obj, dict) else None
    if isinstance(obj, dict):
        obj.pop(parts[-1], None)


def normalize(obj: dict[str, Any], app: dict[str, Any]) -> dict[str, Any]:
    """diff.Normalize with the Application's ignoreDifferences, for one object."""
    normalized = copy.deepcopy(obj)
    group = obj["apiVersion"].rpartition("/")[0]
    for entry in app["spec"].get("ignoreDifferences", []):
        if (entry.get("group", ""), entry["kind"]) != (group, obj["kind"]):
            continue
        if entry.get("name", obj["metadata"]["name"]) != obj["metadata"]["name"]:
            continue
        for expression in entry.get("jqPathExpressions", []):
            delete_jq_path(normalized, expression)
        for pointer in entry.get("jsonPointers", []):
            delete_json_pointer(normalized, pointer)
    return normalized


def applied(target: dict[str, Any], live: dict[str, Any], app: dict[str, Any]) -> dict[str, Any]:
    """The object Argo CD applies for `target` (Git) when the cluster holds `live`."""
    if "RespectIgnoreDifferences=true" not in app["spec"]["syncPolicy"].get("syncOptions", []):
        return target
    normalized_target, normalized_live = normalize(target, app), normalize(live, app)
    live_patch = create_merge_patch(normalized_live, live)
    patched = merge_patch(normalized_target, live_patch)
    restore_non_ignored_fields(patched, target, normalized_target, normalized_live)
    return patched  # type: ignore[no-any-return]


def in_sync(target: dict[str, Any], live: dict[str, Any], app: dict[str, Any]) -> bool:
    """The diff Argo CD shows (and self-heal acts on) compares both sides normalized."""
    return normalize(target, app) == normalize(live, app)


# ---- the rendered canary ------------------------------------------------------------------------------------


def render(config: Path) -> dict[str, dict[str, Any]]:
    manifests: list[Manifest] = render_all(config, envs=["demo"], services=["reviews"])
    return {m.kind: dict(m.obj) for m in manifests}


def mid_rollout(virtual_service: dict[str, Any], weight: int) -> dict[str, Any]:
    """The live VirtualService while Argo Rollouts sends `weight` % to the canary."""
    live = copy.deepcopy(virtual_service)
    stable, canary = live["spec"]["http"][0]["route"]
    stable["weight"], canary["weight"] = 100 - weight, weight
    return live


def with_added_route(virtual_service: dict[str, Any]) -> dict[str, Any]:
    """Git after someone adds a route (and a timeout) in front of the canary route."""
    edited = copy.deepcopy(virtual_service)
    route = {"name": "api", "match": [{"uri": {"prefix": "/api"}}], "timeout": "2s"}
    route["route"] = copy.deepcopy(edited["spec"]["http"][0]["route"])
    edited["spec"]["http"].insert(0, route)
    return edited


def test_by_default_a_route_added_in_git_reaches_the_cluster(example_config: Path) -> None:
    objects = render(example_config)
    app, vs = objects["Application"], objects["VirtualService"]
    assert "RespectIgnoreDifferences=true" not in app["spec"]["syncPolicy"]["syncOptions"]
    live = mid_rollout(vs, 40)
    git = with_added_route(vs)
    assert not in_sync(git, live, app)  # the edit shows as OutOfSync, so it is synced
    result = applied(git, live, app)
    assert [route.get("name") for route in result["spec"]["http"]] == ["api", "primary"]
    assert result["spec"]["http"][0]["timeout"] == "2s"


def test_by_default_the_weights_alone_are_no_difference(example_config: Path) -> None:
    """Mid-rollout, Git's 100/0 against the live 60/40 is in sync: self-heal does not revert the weights,
    and with ApplyOutOfSyncOnly a sync of another object leaves the VirtualService alone."""
    objects = render(example_config)
    app, vs, dr = objects["Application"], objects["VirtualService"], objects["DestinationRule"]
    assert "ApplyOutOfSyncOnly=true" in app["spec"]["syncPolicy"]["syncOptions"]
    assert in_sync(vs, mid_rollout(vs, 40), app)
    live_dr = copy.deepcopy(dr)
    for subset in live_dr["spec"]["subsets"]:
        subset["labels"]["rollouts-pod-template-hash"] = "6d8f7c9b5"
    live_dr["metadata"]["annotations"]["argo-rollouts.argoproj.io/managed-by-rollouts"] = "reviews-rollout"
    assert in_sync(dr, live_dr, app)


def test_the_trade_off_of_a_git_edit_during_a_rollout(example_config: Path) -> None:
    """What the default costs: a Git edit to the VirtualService mid-rollout is applied with Git's weights,
    so the canary's share drops to 0 until Argo Rollouts sets it again on its next reconcile."""
    objects = render(example_config)
    app, vs = objects["Application"], objects["VirtualService"]
    result = applied(with_added_route(vs), mid_rollout(vs, 40), app)
    assert [d["weight"] for d in result["spec"]["http"][1]["route"]] == [100, 0]


def test_with_respect_ignore_differences_the_added_route_is_dropped(example_config: Path) -> None:
    """The alternative setting (the Argo Rollouts docs' recommendation) keeps the live weights through a
    sync, but the live `spec.http` array replaces Git's whole: the route never reaches the cluster."""
    spec = example_config / "services/reviews.yaml"
    spec.write_text(spec.read_text() + "argocd:\n  respectIgnoreDifferences: true\n")
    objects = render(example_config)
    app, vs = objects["Application"], objects["VirtualService"]
    assert "RespectIgnoreDifferences=true" in app["spec"]["syncPolicy"]["syncOptions"]
    live = mid_rollout(vs, 40)
    result = applied(with_added_route(vs), live, app)
    assert [route.get("name") for route in result["spec"]["http"]] == ["primary"]
    assert result["spec"]["http"] == live["spec"]["http"]  # weights kept: 60/40


@pytest.mark.parametrize(
    ("original", "modified", "patch"),
    [
        ({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2, 3]}, {"b": [1, 2, 3]}),
        ({"a": {"x": 1, "y": 2}}, {"a": {"x": 1}}, {"a": {"y": None}}),
        ({"a": {"x": 1}}, {"a": {"x": 1}}, {}),
    ],
)
def test_the_merge_patch_port_replaces_arrays_whole(
    original: dict[str, Any], modified: dict[str, Any], patch: dict[str, Any]
) -> None:
    assert create_merge_patch(original, modified) == patch
    assert merge_patch(original, patch) == modified
