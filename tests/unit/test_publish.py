"""publish: branch names, commit subjects and messages (the git side is in tests/e2e/test_publish.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from generator.diff import GroupChanges, ObjectChange
from generator.errors import GeneratorError
from generator.gitops import Source
from generator.publish import commit_message, pr_branch_name, subject

ROOT = Path(__file__).resolve().parents[2]
SHA = "0123456789abcdef0123456789abcdef01234567"


def group(env: str, service: str | None, added: int = 0, changed: int = 0) -> GroupChanges:
    def objects(kind: str, count: int) -> tuple[ObjectChange, ...]:
        return tuple(ObjectChange(kind, f"{env}/{i}", env, service, "Rollout", f"r{i}") for i in range(count))

    return GroupChanges(env, service, added=objects("added", added), changed=objects("changed", changed))


def test_pr_branch_names_are_deterministic() -> None:
    assert pr_branch_name(Source(SHA, False)) == "gitops-gen/0123456789ab"
    assert pr_branch_name(Source(SHA, False)) == pr_branch_name(Source(SHA, False))
    assert pr_branch_name(Source(SHA, True)) == "gitops-gen/0123456789ab-dirty"
    assert pr_branch_name(Source(SHA, False), ["prod", "demo", "prod"]) == "gitops-gen/0123456789ab-demo-prod"
    assert pr_branch_name(Source(SHA, False), [], ["re views"]) == "gitops-gen/0123456789ab-re_views"
    with pytest.raises(GeneratorError, match="not in a git repository"):
        pr_branch_name(None)


def test_subjects_stay_short() -> None:
    assert subject([group("demo", "reviews", changed=1)]) == "gitops-gen: demo/reviews"
    assert subject([]) == "gitops-gen: update the ownership index"
    many = [group("production", f"service-number-{i}", changed=1) for i in range(6)]
    text = subject(many)
    assert text == "gitops-gen: production/service-number-0 and 5 more"
    short = [group("demo", name, changed=1) for name in ("a", "b", "c", "d")]
    assert subject(short) == "gitops-gen: demo/a, demo/b, demo/c, demo/d"


def test_commit_message() -> None:
    groups = [group("demo", None, added=1), group("demo", "reviews", changed=2)]
    assert commit_message(groups, Source(SHA, True), None) == (
        "gitops-gen: demo, demo/reviews\n"
        "\n"
        f"Rendered from config commit {SHA} with uncommitted changes.\n"
        "\n"
        "- demo: 1 added\n"
        "- demo/reviews: 2 changed\n"
        "\n"
        f"Gitops-Gen-Source: {SHA}-dirty\n"
    )
    custom = commit_message(groups, None, "Release 7\n\nApproved.\n\n")
    assert custom.startswith("Release 7\n\nApproved.\n\nRendered from a config folder that is not in a git")
    assert "Gitops-Gen-Source" not in custom


def test_the_example_workflow_opens_a_pull_request_only_on_a_change() -> None:
    workflow = yaml.safe_load((ROOT / "examples/github-actions/publish.yaml").read_text())
    steps = workflow["jobs"]["publish"]["steps"]
    (publish,) = [step for step in steps if step.get("id") == "publish"]
    assert "gitops-gen publish --pr-branch --push --pr-body body.md" in publish["run"]
    assert '>> "$GITHUB_OUTPUT"' in publish["run"]
    opening = steps[-1]
    assert opening["if"] == "steps.publish.outputs.changed == 'true'"
    assert "gh pr create" in opening["run"] and "--body-file body.md" in opening["run"]
    assert "${{" not in opening["run"]  # outputs come in through env, never spliced into the script
    assert set(opening["env"]) == {"BRANCH", "BASE", "TITLE"}
