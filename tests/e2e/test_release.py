"""`gitops-gen release --publish` with real git: a bare repository as the remote, the pull-request branch
pushed, the description written; the config's edit is the one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from generator.cli import cli

pytestmark = pytest.mark.slow

V2 = "docker.io/istio/examples-bookinfo-reviews-v2:1.16.4"
DEPLOYMENT = "rendered/demo/services/bookinfo/reviews/deployment.yaml"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, [*args, "--validator", "builtin"], catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def outputs(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and " " not in line.split("=")[0]
    )


@pytest.fixture
def config(example_config: Path, remote: Path) -> Path:
    """The example, committed, its tree published to main already."""
    git(example_config, "init", "-q", "-b", "main")
    commit_all(example_config, "config")
    first = invoke("publish", "--config", str(example_config), "--repo", remote.as_uri(), "--push")
    assert first.exit_code == 0, first.stderr
    return example_config


def test_release_publish_opens_the_pull_request_branch(config: Path, remote: Path, tmp_path: Path) -> None:
    body = tmp_path / "body.md"
    result = invoke(
        "release", "reviews", V2, "--env", "demo", "--config", str(config),
        "--publish", "--repo", remote.as_uri(), "--pr-branch", "--push", "--pr-body", str(body),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "reviews/demo: image examples-bookinfo-reviews-v1:1.16.4 -> v2:1.16.4 (environments/demo.yaml:30)"
    )
    numstat = git(config, "diff", "--numstat").split()
    assert numstat == ["6", "0", "environments/demo.yaml"]  # only the override block, added
    out = outputs(result.stdout)
    sha = git(config, "rev-parse", "HEAD").strip()
    branch = f"gitops-gen/{sha[:12]}-dirty-demo-reviews"  # the edit is not committed to the config yet
    assert (out["changed"], out["pushed"], out["branch"], out["base"]) == ("true", "true", branch, "main")
    assert git(remote, "log", "--format=%s", "main").splitlines()[-1] == "initial"
    changed = git(remote, "diff", "--name-only", "main", branch).split()
    assert changed == [DEPLOYMENT]
    deployment = yaml.safe_load(git(remote, "show", f"{branch}:{DEPLOYMENT}"))
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == V2
    text = body.read_text()
    assert text.startswith("## gitops-gen: demo/reviews\n")
    assert f"+        image: {V2}" in text
    # The rendered tree of the config was written too, as `render` writes it.
    assert (
        yaml.safe_load((config / DEPLOYMENT).read_text())["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]
        == V2
    )


def test_a_bad_release_publishes_nothing(config: Path, remote: Path) -> None:
    tips = git(remote, "for-each-ref", "--format=%(objectname) %(refname)")
    result = invoke(
        "release", "reviews", "docker.io/Istio/x:1", "--config", str(config),
        "--publish", "--repo", remote.as_uri(), "--pr-branch", "--push",
    )  # fmt: skip
    assert result.exit_code == 2
    assert git(config, "status", "--porcelain") == ""
    assert git(remote, "for-each-ref", "--format=%(objectname) %(refname)") == tips
