"""diff.py: what a render would change, per environment and service, as text and as stable JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.diff import format_text, object_changes, summarize, to_document, to_json
from generator.tree import TreePlan, apply_plan, plan_render


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture
def plan(example_config: Path) -> TreePlan:
    """The example rendered, then: reviews scaled, details deleted, a service `stars` added, a host renamed."""
    out = example_config / "rendered"
    apply_plan(plan_render(example_config, out))
    edit(example_config / "services/reviews.yaml", "replicas: 5", "replicas: 6")
    (example_config / "services/details.yaml").unlink()
    stars = (example_config / "services/ratings.yaml").read_text().replace("ratings", "stars")
    (example_config / "services/stars.yaml").write_text(stars)
    edit(
        example_config / "environments/demo.yaml",
        "hosts: [bookinfo.tetrate.com]",
        "hosts: [bookinfo.example.com]",
    )
    return plan_render(example_config, out)


def test_changes_are_described_per_object(plan: TreePlan) -> None:
    changes = {(c.change, c.env, c.service, c.kind, c.name) for c in object_changes(plan)}
    assert ("changed", "demo", "reviews", "Rollout", "reviews-rollout") in changes
    assert ("removed", "demo", "details", "DestinationRule", "details") in changes  # parsed from the old file
    assert ("removed", "demo", "details", "Application", "demo-details") in changes
    assert ("added", "demo", "stars", "DestinationRule", "stars") in changes
    assert [c.path for c in object_changes(plan)] == sorted(plan.touched)


def test_summary_groups_per_environment_then_service(plan: TreePlan) -> None:
    groups = summarize(plan)
    assert [g.label for g in groups] == ["demo", "demo/details", "demo/reviews", "demo/stars"]
    environment, details, reviews, stars = groups
    assert (environment.env, environment.service) == ("demo", None)
    assert [c.kind for c in environment.changed] == ["Gateway"]
    assert details.counts() == "6 removed"
    assert reviews.counts() == "1 changed"
    assert stars.counts() == "6 added"
    assert {c.kind for c in stars.added} == {
        "Application",
        "DestinationRule",
        "VirtualService",
        "Deployment",
        "Service",
        "ServiceAccount",
    }


def test_text_is_the_summary_then_the_unified_diff(plan: TreePlan) -> None:
    text = format_text(plan)
    summary, words, diff = text.split("\n\n", 2)
    assert words == "reviews/demo: replicas 5 -> 6"  # the plan in words (canary_plan)
    assert (
        "demo/reviews: 1 changed\n  ~ Rollout/reviews-rollout  (demo/services/bookinfo/reviews/rollout.yaml)"
        in (summary)
    )
    assert "  - DestinationRule/details  (demo/services/bookinfo/details/destinationrule.yaml)" in summary
    assert summary.startswith("demo: 1 changed\n  ~ Gateway/bookinfo-gateway  (demo/gateways/")
    assert summary.endswith(
        f"14 files would change: 6 added, 2 changed, 6 removed; {len(plan.unchanged)} unchanged"
    )
    assert diff == plan.unified_diff()
    assert "-  replicas: 5\n+  replicas: 6\n" in diff


def test_json_is_stable_and_complete(plan: TreePlan) -> None:
    text = to_json(plan)
    document = json.loads(text)
    assert text == json.dumps(document, indent=2, sort_keys=True) + "\n"
    assert text == to_json(plan)
    assert document == json.loads(json.dumps(to_document(plan)))
    assert document["format"] == 1
    assert document["changed"] is True
    assert document["totals"] == {
        "added": len(plan.added),
        "changed": len(plan.changed),
        "removed": len(plan.removed),
        "unchanged": len(plan.unchanged),
    }
    details = next(g for g in document["groups"] if g["service"] == "details")
    assert details["env"] == "demo"
    assert {
        "kind": "VirtualService",
        "name": "details",
        "namespace": "bookinfo",
        "path": "demo/services/bookinfo/details/virtualservice.yaml",
    } in details["removed"]
    files = {f["path"]: f for f in document["files"]}
    assert set(files) == set(plan.touched)
    rollout = files["demo/services/bookinfo/reviews/rollout.yaml"]
    assert rollout["change"] == "changed"
    assert rollout["diff"] == plan.file_diff("demo/services/bookinfo/reviews/rollout.yaml")
    assert str(plan.out_dir) not in text  # no machine-specific paths


def test_a_removed_file_that_does_not_parse_is_still_listed(example_config: Path) -> None:
    out = example_config / "rendered"
    apply_plan(plan_render(example_config, out))
    (out / "demo/services/bookinfo/details/virtualservice.yaml").write_text("{ not: yaml: [\n")
    (example_config / "services/details.yaml").unlink()
    plan = plan_render(example_config, out)
    broken = next(c for c in object_changes(plan) if c.path.endswith("details/virtualservice.yaml"))
    assert (broken.change, broken.kind, broken.name, broken.service) == (
        "removed",
        "?",
        "virtualservice",
        "details",
    )


def test_no_changes(example_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    apply_plan(plan_render(example_config, out))
    plan = plan_render(example_config, out)
    assert format_text(plan) == f"no changes: {len(plan.unchanged)} files up to date\n"
    document = to_document(plan)
    assert (document["changed"], document["groups"], document["files"]) == (False, [], [])


def test_environment_files_removed_with_their_environment(example_config: Path, tmp_path: Path) -> None:
    demo = (example_config / "environments/demo.yaml").read_text()
    (example_config / "environments/staging.yaml").write_text(demo.replace("cp-cluster-1", "cp-cluster-2"))
    out = tmp_path / "out"
    apply_plan(plan_render(example_config, out))
    (example_config / "environments/staging.yaml").unlink()
    groups = {g.label: g for g in summarize(plan_render(example_config, out))}
    # The TSB tenancy the two environments shared now selects demo's cluster only.
    assert {(c.kind, c.name) for c in groups["demo"].changed} == {
        ("Workspace", "bookinfo-ws"),
        ("Group", "bookinfo-traffic"),
        ("Group", "bookinfo-security"),
        ("Group", "bookinfo-gateway"),
    }
    assert set(groups) == {
        "demo",
        "staging",
        "staging/details",
        "staging/productpage",
        "staging/ratings",
        "staging/reviews",
    }
    assert {c.kind for c in groups["staging"].removed} == {
        "Application",
        "Namespace",
        "Tenant",
        "Workspace",
        "Group",
        "Gateway",
        "IngressGateway",
    }
