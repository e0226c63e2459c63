"""`gitops-gen publish` with real git: a bare repository as the remote, local clones, file:// URLs, a
hook that rejects pushes, two publishers racing. No mocks."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import git as gitpython
import pytest
from click.testing import CliRunner, Result

from generator.cli import cli
from generator.pr_body import LIMIT

pytestmark = pytest.mark.slow

REVIEWS = "demo/services/bookinfo/reviews"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def publish(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(
        cli, ["publish", "--config", str(config), "--validator", "builtin", *args], catch_exceptions=False
    )
    assert "Traceback" not in result.output
    return result


def outputs(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in text.splitlines()
        if line.split("=", 1)[0] in ("changed", "commit", "branch", "base", "pushed", "title")
    )


def subjects(repo: Path, ref: str = "main") -> list[str]:
    return git(repo, "log", "--format=%s", ref).splitlines()


def files(repo: Path, ref: str = "main") -> set[str]:
    return set(git(repo, "ls-tree", "-r", "--name-only", ref).splitlines())


def show(repo: Path, ref: str, path: str) -> str:
    return git(repo, "show", f"{ref}:{path}")


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def config(example_config: Path) -> Path:
    """The bundled example as a config repository with one commit."""
    git(example_config, "init", "-q", "-b", "main")
    commit_all(example_config, "config")
    return example_config


def clone(remote: Path, dest: Path) -> Path:
    git(remote.parent, "clone", "-q", str(remote), str(dest))
    return dest


# ---- committing ---------------------------------------------------------------------------------------


def test_publish_into_a_local_clone_commits_only_the_owned_files(
    config: Path, remote: Path, tmp_path: Path
) -> None:
    work = clone(remote, tmp_path / "clone")
    (work / "notes.txt").write_text("my notes, untracked\n")
    (work / "README.md").write_text("edited, not staged\n")
    (work / "docs").mkdir()
    (work / "docs" / "staged.md").write_text("staged by the user\n")
    git(work, "add", "docs/staged.md")
    (work / "rendered").mkdir()
    (work / "rendered" / "NOTES.md").write_text("a file of mine in the rendered folder\n")

    result = publish(config, "--repo", str(work))

    assert result.exit_code == 0, result.stderr
    out = outputs(result.stdout)
    assert out["changed"] == "true" and out["pushed"] == "false" and out["branch"] == "main"
    assert out["commit"] == git(work, "rev-parse", "HEAD").strip()
    committed = set(git(work, "show", "--name-only", "--format=", "HEAD").split())
    assert committed == {
        p for p in files(work, "HEAD") if p.startswith("rendered/") and p != "rendered/NOTES.md"
    }
    assert "rendered/.gitops-gen.index" in committed
    assert f"rendered/{REVIEWS}/rollout.yaml" in committed
    assert not any(p.startswith(("docs/", "notes.txt", "README")) for p in committed)
    assert "rendered/NOTES.md" not in committed
    assert sorted(git(work, "status", "--porcelain").splitlines()) == [
        " M README.md",
        "?? notes.txt",
        "?? rendered/NOTES.md",
        "A  docs/staged.md",
    ]
    assert subjects(remote) == ["initial"]  # no --push

    sha = git(config, "rev-parse", "HEAD").strip()
    message = git(work, "log", "-1", "--format=%B")
    assert message.startswith("gitops-gen: demo, demo/details, demo/productpage and 2 more\n\n")
    assert f"Rendered from config commit {sha}.\n" in message
    assert "- demo/reviews: 8 added\n" in message
    assert message.rstrip().endswith(f"Gitops-Gen-Source: {sha}")
    assert git(work, "log", "-1", "--format=%an <%ae>|%cn <%ce>").strip() == (
        "Test User <test@example.com>|Test User <test@example.com>"
    )
    assert "committed" in result.stderr and "not pushed" in result.stderr


def test_publish_from_a_url_pushes_and_a_rerun_does_nothing(config: Path, remote: Path) -> None:
    first = publish(config, "--repo", remote.as_uri(), "--push")
    assert first.exit_code == 0, first.stderr
    assert outputs(first.stdout)["pushed"] == "true"
    assert len(subjects(remote)) == 2
    assert (
        show(remote, "main", f"rendered/{REVIEWS}/rollout.yaml")
        == (Path(__file__).resolve().parents[2] / "rendered" / REVIEWS / "rollout.yaml").read_text()
    )
    tip = git(remote, "rev-parse", "main")

    again = publish(config, "--repo", remote.as_uri(), "--push")
    assert again.exit_code == 0, again.stderr
    assert outputs(again.stdout) == {
        "changed": "false",
        "commit": "",
        "branch": "main",
        "base": "main",
        "pushed": "false",
        "title": "",
    }
    assert "no changes" in again.stderr
    assert git(remote, "rev-parse", "main") == tip


def test_a_change_commits_only_what_changed_and_says_so(config: Path, remote: Path) -> None:
    assert publish(config, "--repo", remote.as_uri(), "--push").exit_code == 0
    spec = config / "services/reviews.yaml"
    spec.write_text(spec.read_text().replace("replicas: 5", "replicas: 6"))  # not committed: dirty
    result = publish(config, "--repo", remote.as_uri(), "--push")
    assert result.exit_code == 0, result.stderr
    assert set(git(remote, "show", "--name-only", "--format=", "main").split()) == {
        f"rendered/{REVIEWS}/rollout.yaml"
    }
    message = git(remote, "log", "-1", "--format=%B", "main")
    sha = git(config, "rev-parse", "HEAD").strip()
    assert message.startswith("gitops-gen: demo/reviews\n")
    assert f"Rendered from config commit {sha} with uncommitted changes." in message
    assert "- demo/reviews: 1 changed" in message
    assert f"Gitops-Gen-Source: {sha}-dirty" in message


def test_author_committer_and_message_file(config: Path, remote: Path, tmp_path: Path) -> None:
    message = tmp_path / "message.txt"
    message.write_text("Release 42\n\nApproved by the on-call.\n")
    result = publish(
        config,
        "--repo",
        remote.as_uri(),
        "--push",
        "--author",
        "Deploy Bot <bot@example.com>",
        "--committer",
        "CI <ci@example.com>",
        "--message-file",
        str(message),
    )
    assert result.exit_code == 0, result.stderr
    assert git(remote, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "main").strip() == (
        "Deploy Bot <bot@example.com>|CI <ci@example.com>"
    )
    body = git(remote, "log", "-1", "--format=%B", "main")
    assert body.startswith("Release 42\n\nApproved by the on-call.\n\nRendered from config commit ")
    assert "Gitops-Gen-Source: " in body


def test_an_empty_remote_gets_its_first_commit(config: Path, tmp_path: Path) -> None:
    bare = tmp_path / "empty.git"
    gitpython.Repo.init(bare, bare=True, initial_branch="main").close()
    result = publish(config, "--repo", bare.as_uri(), "--push")
    assert result.exit_code == 0, result.stderr
    assert subjects(bare) == ["gitops-gen: demo, demo/details, demo/productpage and 2 more"]
    assert all(p.startswith("rendered/") for p in files(bare))


def test_a_dirty_owned_file_is_refused(config: Path, remote: Path, tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "clone")
    assert publish(config, "--repo", str(work)).exit_code == 0
    head = git(work, "rev-parse", "HEAD")
    rollout = work / "rendered" / REVIEWS / "rollout.yaml"
    rollout.write_text(rollout.read_text() + "# tuned by hand\n")
    spec = config / "services/reviews.yaml"
    spec.write_text(spec.read_text().replace("replicas: 5", "replicas: 6"))
    commit_all(config, "six replicas")

    result = publish(config, "--repo", str(work))

    assert result.exit_code == 2
    assert (
        f"{rollout}: has uncommitted changes (git status ' M'), and gitops-gen owns this file"
        in result.stderr
    )
    assert "nothing was written" in result.stderr
    assert git(work, "rev-parse", "HEAD") == head
    assert rollout.read_text().endswith("# tuned by hand\n")
    assert "replicas: 6" not in rollout.read_text()


def test_inherited_git_variables_do_not_redirect_the_commit(
    config: Path, remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when run from a hook of the config repository: GIT_DIR and friends point there."""
    work = clone(remote, tmp_path / "clone")
    config_head = git(config, "rev-parse", "HEAD")
    with monkeypatch.context() as env:
        env.setenv("GIT_DIR", str(config / ".git"))
        env.setenv("GIT_WORK_TREE", str(config))
        env.setenv("GIT_INDEX_FILE", str(config / ".git" / "index"))
        result = publish(config, "--repo", str(work))
    assert result.exit_code == 0, result.stderr
    assert subjects(work, "HEAD")[0].startswith("gitops-gen: ")
    assert git(config, "rev-parse", "HEAD") == config_head
    assert git(config, "status", "--porcelain") == ""


def test_strict_validation_stops_before_the_repository(config: Path, remote: Path) -> None:
    spec = config / "services/reviews.yaml"
    spec.write_text(spec.read_text().split("acknowledge:")[0])  # the example acknowledges its warnings
    commit_all(config, "warnings are not acknowledged")
    result = publish(config, "--repo", remote.as_uri(), "--push", "--strict")
    assert result.exit_code == 1
    assert "nothing published" in result.stderr and "GG502" in result.stderr
    assert subjects(remote) == ["initial"]


# ---- pushing: races, rejections, credentials ----------------------------------------------------------


def test_two_publishers_racing_both_land(config: Path, remote: Path, tmp_path: Path) -> None:
    """A pushes first; B's clone is stale, so its first push is rejected: B fetches, writes its tree again
    on A's commit and pushes. Both changes are in the remote."""
    demo = (config / "environments/demo.yaml").read_text()
    (config / "environments/prod.yaml").write_text(demo.replace("cp-cluster-1", "cp-cluster-2"))
    commit_all(config, "a prod environment")
    assert publish(config, "--repo", remote.as_uri(), "--push").exit_code == 0
    config_a, config_b = tmp_path / "config-a", tmp_path / "config-b"
    shutil.copytree(config, config_a)
    shutil.copytree(config, config_b)
    with (config_a / "environments/demo.yaml").open("a") as env:
        env.write("services:\n  reviews:\n    replicas: 7\n")
    with (config_b / "environments/prod.yaml").open("a") as env:
        env.write("services:\n  reviews:\n    replicas: 9\n")
    commit_all(config_a, "demo: 7 replicas")
    commit_all(config_b, "prod: 9 replicas")
    clone_a, clone_b = clone(remote, tmp_path / "clone-a"), clone(remote, tmp_path / "clone-b")

    a = publish(config_a, "--env", "demo", "--repo", str(clone_a), "--push")
    b = publish(config_b, "--env", "prod", "--repo", str(clone_b), "--push", "--retry-delay", "0")

    assert a.exit_code == 0, a.stderr
    assert b.exit_code == 0, b.stderr
    assert "push rejected" in b.stderr
    assert outputs(b.stdout)["pushed"] == "true"
    assert subjects(remote)[:2] == ["gitops-gen: prod/reviews", "gitops-gen: demo/reviews"]
    assert git(remote, "rev-parse", "main~1").strip() == outputs(a.stdout)["commit"]
    assert "replicas: 7" in show(remote, "main", f"rendered/{REVIEWS}/rollout.yaml")
    assert "replicas: 9" in show(remote, "main", "rendered/prod/services/bookinfo/reviews/rollout.yaml")
    assert git(clone_b, "rev-parse", "HEAD") == git(remote, "rev-parse", "main")


def test_a_push_rejected_beyond_the_retries_fails_with_3(config: Path, remote: Path, tmp_path: Path) -> None:
    attempts = tmp_path / "attempts"
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\necho attempt >> '{attempts}'\necho 'main is frozen' >&2\nexit 1\n")
    hook.chmod(0o755)

    result = publish(config, "--repo", remote.as_uri(), "--push", "--retries", "2", "--retry-delay", "0")

    assert result.exit_code == 3
    assert attempts.read_text().count("attempt") == 3
    assert "the push to 'main' was rejected 3 times" in result.stderr
    assert "pre-receive hook declined" in result.stderr and "main is frozen" in result.stderr
    assert "never force-pushes" in result.stderr
    assert subjects(remote) == ["initial"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("where", ["flag", "environment file"])
@pytest.mark.parametrize("userinfo", ["deploy:s3cr3t-t0ken", "s3cr3t-t0ken"])
def test_credentials_never_appear(config: Path, where: str, userinfo: str) -> None:
    url = f"https://{userinfo}@127.0.0.1:{closed_port()}/org/gitops.git"
    args = ["--repo", url]
    if where == "environment file":
        env = config / "environments/demo.yaml"
        env.write_text(env.read_text().replace("https://github.com/tetrateio/tsb-gitops-demo.git", url))
        args = []
    result = publish(config, *args, "--push")
    assert "s3cr3t" not in result.output
    if where == "environment file":  # every Application would carry it into the GitOps repository
        assert result.exit_code == 2
        assert "gitops.repoURL: https://***@127.0.0.1:" in result.stderr
        assert "holds credentials" in result.stderr
        return
    assert result.exit_code == 3
    assert "cannot clone https://***@127.0.0.1:" in result.stderr
    # git is given the URL without them (they go in its environment): it cannot show them
    assert "`git clone --no-checkout --no-tags -- https://127.0.0.1:" in result.stderr


# ---- pull requests ------------------------------------------------------------------------------------


def test_pr_branch_is_named_after_the_config_commit_and_a_rerun_does_nothing(
    config: Path, remote: Path, tmp_path: Path
) -> None:
    body = tmp_path / "body.md"
    result = publish(config, "--repo", remote.as_uri(), "--pr-branch", "--push", "--pr-body", str(body))
    assert result.exit_code == 0, result.stderr
    sha = git(config, "rev-parse", "HEAD").strip()
    branch = f"gitops-gen/{sha[:12]}"
    out = outputs(result.stdout)
    assert (out["branch"], out["base"], out["changed"], out["pushed"]) == (branch, "main", "true", "true")
    assert subjects(remote) == ["initial"]  # the target branch is untouched
    assert git(remote, "rev-parse", f"{branch}~1") == git(remote, "rev-parse", "main")
    text = body.read_text()
    assert text.startswith("## gitops-gen: demo, demo/details, demo/productpage and 2 more\n")
    assert f"on `{branch}`, to merge into `main`" in text
    assert "| demo | reviews | 8 | 0 | 0 |" in text
    assert "- **reviews/demo**: canary added: steps 10% (10m), 20% (5m)" in text
    assert "```diff\n--- /dev/null\n+++ b/rendered/demo/argocd/apps/demo-details.yaml\n" in text
    assert "**Validation:** passed: 38 objects" in text

    body.unlink()
    tip = git(remote, "rev-parse", branch)
    again = publish(config, "--repo", remote.as_uri(), "--pr-branch", "--push", "--pr-body", str(body))
    assert again.exit_code == 0, again.stderr
    assert outputs(again.stdout)["changed"] == "false"
    assert not body.exists()
    assert git(remote, "rev-parse", branch) == tip


def test_pr_body_says_what_the_canary_change_means(config: Path, remote: Path, tmp_path: Path) -> None:
    assert publish(config, "--repo", remote.as_uri(), "--push").exit_code == 0
    spec = config / "services/reviews.yaml"
    spec.write_text(spec.read_text().replace("setWeight: 10", "setWeight: 5").replace("0.99", "0.995"))
    sha = commit_all(config, "reviews: a gentler start")

    result = publish(config, "--repo", remote.as_uri(), "--pr-branch", "--push", "--pr-body", "-")

    assert result.exit_code == 0, result.stderr
    assert outputs(result.stderr)["branch"] == f"gitops-gen/{sha[:12]}"  # the body has stdout
    text = result.stdout
    assert text.startswith("## gitops-gen: demo/reviews\n")
    assert "| demo | reviews | 0 | 2 | 0 |" in text
    assert "- **reviews/demo**: step 1 weight 10% -> 5%, Apdex threshold 0.99 -> 0.995\n" in text
    assert text.index("### Canary plan") < text.index("```diff")
    assert "-      - setWeight: 10\n+      - setWeight: 5\n" in text


def test_a_huge_pr_body_is_cut_under_the_limit(config: Path, remote: Path, tmp_path: Path) -> None:
    reviews = (config / "services/reviews.yaml").read_text()
    for index in range(12):
        name = f"reviews{index}"
        text = (
            reviews.replace("name: reviews", f"name: {name}")
            .replace("templateName: apdex", f"templateName: {name}")
            .replace("serviceAccount: bookinfo-reviews", f"serviceAccount: {name}")
        )
        (config / "services" / f"{name}.yaml").write_text(text)
    commit_all(config, "a dozen more canaries")
    body = tmp_path / "body.md"
    result = publish(config, "--repo", remote.as_uri(), "--pr-branch", "--pr-body", str(body))
    assert result.exit_code == 0, result.stderr
    text = body.read_text()
    assert len(text) <= LIMIT
    assert "**The diff is cut** to keep this description under 65,000 characters" in text
    assert all(f"| demo | reviews{i} | 8 | 0 | 0 |" in text for i in range(12))
    assert text.count("canary added") == 13


def test_an_existing_pr_branch_is_built_on_and_described_against_the_target(
    config: Path, remote: Path, tmp_path: Path
) -> None:
    """Same config commit, other uncommitted changes: the branch exists, so the new commit goes on top of
    it (never a force-push), and the description still compares with main."""
    spec = config / "services/reviews.yaml"
    original = spec.read_text()
    spec.write_text(original.replace("replicas: 5", "replicas: 6"))
    first = publish(config, "--repo", remote.as_uri(), "--pr-branch", "--push")
    branch = outputs(first.stdout)["branch"]
    assert branch.endswith("-dirty")
    tip = git(remote, "rev-parse", branch).strip()

    spec.write_text(original.replace("replicas: 5", "replicas: 7"))
    body = tmp_path / "body.md"
    second = publish(config, "--repo", remote.as_uri(), "--pr-branch", "--push", "--pr-body", str(body))

    assert second.exit_code == 0, second.stderr
    assert outputs(second.stdout)["branch"] == branch
    assert git(remote, "rev-parse", f"{branch}~1").strip() == tip
    assert set(git(remote, "show", "--name-only", "--format=", branch).split()) == {
        f"rendered/{REVIEWS}/rollout.yaml"
    }
    text = body.read_text()
    assert "| demo | reviews | 8 | 0 | 0 |" in text  # against main, which has no rendered tree yet
    assert "replicas 5 (" not in text and "canary added: steps 10% (10m)" in text
    assert "+  replicas: 7\n" in text


def test_pr_branch_in_a_local_clone(config: Path, remote: Path, tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "clone")
    result = publish(config, "--repo", str(work), "--pr-branch", "--push")
    assert result.exit_code == 0, result.stderr
    branch = outputs(result.stdout)["branch"]
    assert git(work, "branch", "--show-current").strip() == branch
    assert f"{work} is now on branch '{branch}'" in result.stderr
    assert git(remote, "rev-parse", branch) == git(work, "rev-parse", "HEAD")
    assert subjects(remote) == ["initial"]
