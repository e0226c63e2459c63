"""`gitops-gen release` and `promote`: what they edit, print and render; every bad argument one located
line, exit 2, and the config folder (rendered tree included) byte for byte as it was."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from generator.cli import cli

V1 = "docker.io/istio/examples-bookinfo-reviews-v1:1.16.4"
V2 = "docker.io/istio/examples-bookinfo-reviews-v2:1.16.4"
DEPLOYMENT = "rendered/{env}/services/bookinfo/reviews/deployment.yaml"


def run(command: str, config: Path, *args: str, ok: bool = False) -> Result:
    result = CliRunner().invoke(
        cli, [command, *args, "--config", str(config), "--validator", "builtin"], catch_exceptions=not ok
    )
    assert "Traceback" not in result.output
    return result


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def image(config: Path, env: str) -> str:
    deployment = yaml.safe_load((config / DEPLOYMENT.format(env=env)).read_text())
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


@pytest.fixture
def config(example_config: Path) -> Path:
    """The example with a second environment, prod (its own cluster), rendered."""
    demo = (example_config / "environments" / "demo.yaml").read_text()
    (example_config / "environments" / "prod.yaml").write_text(demo.replace("cp-cluster-1", "cp-cluster-2"))
    result = CliRunner().invoke(cli, ["render", "--config", str(example_config), "--validator", "builtin"])
    assert result.exit_code == 0, result.output
    return example_config


def test_release_to_an_environment_adds_its_override_and_renders(config: Path) -> None:
    old = (config / "environments" / "prod.yaml").read_text()
    spec = (config / "services" / "reviews.yaml").read_bytes()
    result = run("release", config, "reviews", V2, "--env", "prod", ok=True)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "reviews/prod: image examples-bookinfo-reviews-v1:1.16.4 -> v2:1.16.4 (environments/prod.yaml:30)\n"
    )
    assert "edited environments/prod.yaml:30: reviews image " + V2 in result.stderr
    assert "rendered 76 manifests: 1 written, 0 removed, 75 unchanged" in result.stderr
    new = (config / "environments" / "prod.yaml").read_text()
    assert new.startswith(old) and new[len(old) :].count("\n") == 6  # only added lines
    assert (config / "services" / "reviews.yaml").read_bytes() == spec
    assert (image(config, "prod"), image(config, "demo")) == (V2, V1)
    again = run("release", config, "reviews", V2, "--env", "prod", ok=True)
    assert again.exit_code == 0 and again.stdout == ""
    assert "the config already holds this image; nothing edited" in again.stderr


def test_release_without_env_edits_the_spec_line(config: Path) -> None:
    old = (config / "services" / "reviews.yaml").read_text()
    result = run("release", config, "reviews", V2, ok=True)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"reviews/{env}: image examples-bookinfo-reviews-v1:1.16.4 -> v2:1.16.4 (services/reviews.yaml:37)"
        for env in ("demo", "prod")
    ]
    new = (config / "services" / "reviews.yaml").read_text()
    changed = [x for x in difflib.ndiff(old.splitlines(), new.splitlines()) if x[0] in "+-"]
    assert changed == [f"-       image: {V1}", f"+       image: {V2}"]
    assert image(config, "demo") == image(config, "prod") == V2


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["reviews", "docker.io/Istio/x:1"],
            "services/reviews.yaml:37:14: IMAGE: 'docker.io/Istio/x:1' is no image reference: the repository path "
            "must be lower case\n",
        ),
        (["reviewz", V2], "services/reviewz.yaml: service file not found (did you mean 'reviews'?)\n"),
        (
            ["reviews", V2, "--container", "web"],
            "services/reviews.yaml:36:5: workload.containers: reviews has no container 'web' "
            "(containers: reviews)\n",
        ),
        (
            ["reviews", V2, "--env", "stage"],
            "environments/stage.yaml: environment file not found (known: demo, prod)\n",
        ),
        (
            ["reviews", V2, "--push"],
            "gitops-gen: --push: publish flags, given without --publish\n",
        ),
    ],
)
def test_a_bad_argument_is_one_located_line_and_changes_nothing(
    config: Path, args: list[str], expected: str
) -> None:
    before = snapshot(config)
    result = run("release", config, *args)
    assert (result.exit_code, result.stderr, result.stdout) == (2, expected, "")
    assert snapshot(config) == before


def test_a_release_whose_validation_fails_changes_nothing(config: Path) -> None:
    prod = config / "environments" / "prod.yaml"
    # GG311 is acknowledged in the spec; under --strict the other warnings fail the release (exit 1).
    prod.write_text(prod.read_text() + "services:\n  reviews:\n    acknowledge: null\n")
    before = snapshot(config)
    result = run("release", config, "reviews", V2, "--env", "prod", "--strict")
    assert result.exit_code == 1, result.output
    assert "nothing written:" in result.stderr
    assert snapshot(config) == before


def test_a_release_whose_render_fails_changes_nothing(config: Path) -> None:
    prod = config / "environments" / "prod.yaml"
    prod.write_text(prod.read_text() + "services:\n  reviews:\n    workload:\n      name: other\n")
    before = snapshot(config)
    result = run("release", config, "reviews", V2, "--env", "prod")
    assert result.exit_code == 2, result.output
    assert "the Rollout's workloadRef names 'reviews'" in result.stderr
    assert snapshot(config) == before


def test_promote_moves_the_release_and_refuses_without_one(config: Path) -> None:
    before = snapshot(config)
    refused = run("promote", config, "reviews", "--from", "prod", "--to", "demo")
    assert refused.exit_code == 2
    assert refused.stderr == (
        "environments/prod.yaml:1:1: services.reviews.workload.containers: reviews has no release of its own "
        "in prod: its image comes from the spec (release one there first: gitops-gen release reviews IMAGE "
        "--env prod)\n"
    )
    assert snapshot(config) == before
    assert run("release", config, "reviews", V2, "--env", "prod", ok=True).exit_code == 0
    result = run("promote", config, "reviews", "--from", "prod", "--to", "demo", ok=True)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "reviews/demo: image examples-bookinfo-reviews-v1:1.16.4 -> v2:1.16.4 (environments/demo.yaml:30)\n"
    )
    assert image(config, "demo") == V2


def test_help_lists_the_publish_flags() -> None:
    for command in ("release", "promote"):
        result = CliRunner().invoke(cli, [command, "--help"])
        assert result.exit_code == 0
        for option in ("--publish", "--repo", "--pr-branch", "--pr-body", "--push", "--out", "--strict"):
            assert option in result.stdout
