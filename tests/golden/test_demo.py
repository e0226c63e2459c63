"""The bundled example reproduces the hand-written tsb-gitops-demo, object by object, field by field.

The only differences allowed are the deliberate improvements listed in the README ("Differences from the
tsb-gitops-demo"); each is asserted here exactly, so any other drift fails.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.render import Manifest, render_all
from generator.tree import plan_render

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tests" / "fixtures" / "demo" / "argo"
DEMO_FILES = [
    DEMO.parent / "application" / "namespace.yaml",
    DEMO.parent / "application" / "bookinfo.yaml",
    DEMO / "tsb" / "conf.yaml",
    DEMO / "rollout" / "rollout.yaml",
    DEMO / "rollout" / "analysis.yaml",
]

SAFER_APDEX = (
    "len(filter(result.service_apdex.values.values, {!.isEmptyValue})) >= 2"
    " && all(filter(result.service_apdex.values.values, {!.isEmptyValue}), {asFloat(.value) >= 9900})"
)


def demo_objects() -> list[dict[str, Any]]:
    objects = []
    for path in DEMO_FILES:
        for document in yaml.safe_load_all(path.read_text()):
            if document is not None:  # bookinfo.yaml ends with a `---`
                objects.extend(document["items"] if document["kind"] == "List" else [document])
    return objects


def identity(obj: Any) -> tuple[str, str, str]:
    return (obj["apiVersion"], obj["kind"], obj["metadata"]["name"])


def differences(expected: Any, actual: Any, path: str = "") -> dict[str, tuple[Any, Any]]:
    """Every leaf path where the two differ: {path: (expected, actual)}; a missing side is `<absent>`."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found: dict[str, tuple[Any, Any]] = {}
        for key in sorted(set(expected) | set(actual)):
            sub = f"{path}.{key}" if path else key
            found.update(differences(expected.get(key, "<absent>"), actual.get(key, "<absent>"), sub))
        return found
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        found = {}
        for index, (e, a) in enumerate(zip(expected, actual, strict=True)):
            found.update(differences(e, a, f"{path}[{index}]"))
        return found
    return {} if expected == actual else {path: (expected, actual)}


def normalize_query(query: str) -> str:
    return re.sub(r"\s+", " ", query).strip()


@pytest.fixture(scope="module")
def rendered() -> dict[tuple[str, str, str], Manifest]:
    return {identity(m.obj): m for m in render_all(ROOT, envs=["demo"])}


def test_every_demo_object_is_rendered(rendered: dict[tuple[str, str, str], Manifest]) -> None:
    demo = {identity(o) for o in demo_objects()}
    assert len(demo) == 30  # 18 mesh, tenancy and canary objects; 12 of the workload
    assert demo <= set(rendered), sorted(demo - set(rendered))


def test_only_argo_cd_applications_are_added(rendered: dict[tuple[str, str, str], Manifest]) -> None:
    added = set(rendered) - {identity(o) for o in demo_objects()}
    assert {kind for _, kind, _ in added} == {"Application"}
    assert {name for _, _, name in added} == {
        "demo-root",
        "demo-namespaces",
        "demo-tsb",
        "demo-gateways",
        "demo-reviews",
        "demo-productpage",
        "demo-ratings",
        "demo-details",
    }


@pytest.mark.parametrize("demo_object", demo_objects(), ids=lambda o: "/".join(identity(o)[1:]))
def test_field_by_field(demo_object: dict[str, Any], rendered: dict[tuple[str, str, str], Manifest]) -> None:
    actual = rendered[identity(demo_object)].obj
    found = differences(demo_object, actual)

    kind, name = demo_object["kind"], demo_object["metadata"]["name"]
    if kind == "Namespace":
        # 5. Argo CD neither prunes the namespace nor deletes it with its Application.
        assert found.pop("metadata.annotations") == (
            "<absent>",
            {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"},
        )
    else:
        # 1. Explicit namespace: the demo relies on the Argo CD destination namespace.
        assert found.pop("metadata.namespace") == ("<absent>", "bookinfo")
    if (kind, name) == ("VirtualService", "reviews"):
        # 2. The canary route is named, so the Rollout can list it in `routes`.
        assert found.pop("spec.http[0].name") == ("<absent>", "primary")
    if kind == "Rollout":
        assert found.pop("spec.strategy.canary.trafficRouting.istio.virtualService.routes") == (
            "<absent>",
            ["primary"],
        )
    if kind == "AnalysisTemplate":
        # 3. The safer Apdex condition: minutes without traffic are left out, and at least 2 must have it.
        demo_condition, condition = found.pop("spec.metrics[0].successCondition")
        assert demo_condition == "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})"
        assert condition == SAFER_APDEX
        demo_query, query = found.pop("spec.metrics[0].provider.skywalking.query")
        assert normalize_query(query.replace(" isEmptyValue", "")) == normalize_query(demo_query)
    assert found == {}


def test_rendered_example_is_committed_byte_for_byte(golden: Any) -> None:
    """rendered/ in the repo is exactly what `make render` writes (`make golden` refreshes it)."""
    for manifest in render_all(ROOT):
        golden(ROOT / "rendered" / manifest.path, manifest.text)


def test_rendered_example_is_up_to_date_with_its_index() -> None:
    """`gitops-gen render --check` passes on the repo's own rendered/, ownership index included."""
    plan = plan_render(ROOT, ROOT / "rendered")
    assert not plan.has_changes and not plan.index_changed, plan.touched
