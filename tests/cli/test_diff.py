"""`gitops-gen diff`: what a render would change, as text or JSON; informational, so it exits 0."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from generator.cli import cli


def diff(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["diff", "--config", str(config), *args])
    assert "Traceback" not in result.stderr
    return result


def render(config: Path) -> None:
    result = CliRunner().invoke(cli, ["render", "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0


def files(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def changed_config(config: Path) -> None:
    render(config)
    spec = config / "services/reviews.yaml"
    spec.write_text(spec.read_text().replace("replicas: 5", "replicas: 6"))
    (config / "services/details.yaml").unlink()


def test_diff_summarizes_then_diffs_and_exits_0(example_config: Path) -> None:
    changed_config(example_config)
    before = files(example_config / "rendered")
    result = diff(example_config)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        "demo/details: 6 removed\n"
        "  - Application/demo-details  (demo/argocd/apps/demo-details.yaml)\n"
        "  - Deployment/details-v1  (demo/services/bookinfo/details/deployment.yaml)\n"
        "  - DestinationRule/details  (demo/services/bookinfo/details/destinationrule.yaml)\n"
        "  - Service/details  (demo/services/bookinfo/details/service.yaml)\n"
        "  - ServiceAccount/bookinfo-details  (demo/services/bookinfo/details/serviceaccount.yaml)\n"
        "  - VirtualService/details  (demo/services/bookinfo/details/virtualservice.yaml)\n"
        "demo/reviews: 1 changed\n"
        "  ~ Rollout/reviews-rollout  (demo/services/bookinfo/reviews/rollout.yaml)\n"
        "7 files would change: 1 changed, 6 removed; 31 unchanged\n"
        "\n"
        "reviews/demo: replicas 5 -> 6\n"
        "\n"
        "--- a/demo/argocd/apps/demo-details.yaml\n+++ /dev/null\n"
    )
    assert "-  replicas: 5\n+  replicas: 6\n" in result.stdout
    assert files(example_config / "rendered") == before


def test_diff_json(example_config: Path) -> None:
    changed_config(example_config)
    result = diff(example_config, "--output", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert result.stdout == json.dumps(document, indent=2, sort_keys=True) + "\n"
    assert document["totals"] == {"added": 0, "changed": 1, "removed": 6, "unchanged": 31}
    assert [(g["env"], g["service"]) for g in document["groups"]] == [
        ("demo", "details"),
        ("demo", "reviews"),
    ]
    assert document["groups"][1]["changed"] == [
        {
            "kind": "Rollout",
            "name": "reviews-rollout",
            "namespace": "bookinfo",
            "path": "demo/services/bookinfo/reviews/rollout.yaml",
        }
    ]
    assert [f["change"] for f in document["files"]] == ["removed"] * 6 + ["changed"]
    assert diff(example_config, "--output", "json").stdout == result.stdout


def test_diff_of_an_up_to_date_tree(example_config: Path) -> None:
    render(example_config)
    result = diff(example_config)
    assert (result.exit_code, result.stdout) == (0, "no changes: 38 files up to date\n")
    assert json.loads(diff(example_config, "--output", "json").stdout)["changed"] is False


def test_diff_honours_service_env_and_out(example_config: Path, tmp_path: Path) -> None:
    changed_config(example_config)
    result = diff(example_config, "--service", "reviews", "--env", "demo")
    assert result.exit_code == 0
    assert result.stdout.startswith("demo/reviews: 1 changed\n")
    assert "details" not in result.stdout  # out of scope: not pruned by a --service reviews render
    out = tmp_path / "elsewhere"
    result = diff(example_config, "--out", str(out), "--service", "reviews")
    assert result.stdout.startswith("demo/reviews: 8 added\n")
    assert not out.exists()


def test_diff_reports_bad_input_like_render(example_config: Path) -> None:
    result = diff(example_config, "--service", "reveiws")
    assert result.exit_code == 2
    assert "did you mean 'reviews'?" in result.stderr
    assert diff(example_config, "--output", "yaml").exit_code == 2


def test_diff_help_says_it_exits_0() -> None:
    result = CliRunner().invoke(cli, ["diff", "--help"])
    assert result.exit_code == 0
    assert "exits 0 even when there are changes" in " ".join(result.stdout.split())


def test_a_release_is_said_in_words(example_config: Path) -> None:
    render(example_config)
    spec = example_config / "services/reviews.yaml"
    spec.write_text(spec.read_text().replace("reviews-v1:1.16.4", "reviews-v2:1.16.4"))
    result = diff(example_config)
    assert result.exit_code == 0, result.stderr
    summary = result.stdout.split("\n\n")[1]
    assert summary == (
        "reviews/demo: image examples-bookinfo-reviews-v1:1.16.4 -> v2:1.16.4, canary 10% -> 80% in 5 steps, "
        "analysis Apdex >= 0.99, full promotion no sooner than 30m"
    )
    document = json.loads(diff(example_config, "--output", "json").stdout)
    (canary,) = document["canaries"]
    assert canary["env"] == "demo" and canary["service"] == "reviews" and canary["status"] == "changed"
    assert canary["changes"][0] == "image examples-bookinfo-reviews-v1:1.16.4 -> v2:1.16.4"
