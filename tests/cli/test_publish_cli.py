"""`gitops-gen publish`: usage errors exit 2 with one clear line, before any repository is written."""

from __future__ import annotations

import subprocess
from pathlib import Path

from click.testing import CliRunner, Result

from generator.cli import cli


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def publish(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["publish", "--config", str(config), "--validator", "builtin", *args])
    assert "Traceback" not in result.output
    return result


def repo(path: Path, branch: str = "main") -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", branch)
    (path / "README.md").write_text("x\n")
    git(path, "add", "README.md")
    git(path, "commit", "-q", "-m", "initial")
    return path


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(cli, ["publish", "--help"])
    assert result.exit_code == 0
    for option in (
        "--repo",
        "--branch",
        "--path",
        "--push",
        "--pr-branch",
        "--pr-body",
        "--author",
        "--committer",
        "--message-file",
        "--retries",
        "--retry-delay",
        "--no-validate",
        "--strict",
    ):
        assert option in result.stdout


def test_a_malformed_author_is_a_usage_error(example_config: Path, tmp_path: Path) -> None:
    result = publish(example_config, "--repo", str(tmp_path), "--author", "bot@example.com")
    assert result.exit_code == 2
    assert result.stderr == "gitops-gen: --author 'bot@example.com': expected 'Name <email>'\n"


def test_environments_publishing_to_different_repositories_need_repo(
    example_config: Path, tmp_path: Path
) -> None:
    demo = (example_config / "environments/demo.yaml").read_text()
    (example_config / "environments/prod.yaml").write_text(
        demo.replace(
            "https://github.com/tetrateio/tsb-gitops-demo.git", "https://git.example.com/prod.git"
        ).replace("cp-cluster-1", "cp-cluster-2")
    )
    result = publish(example_config)
    assert result.exit_code == 2
    assert result.stderr == (
        "environments/: gitops.repoURL: the environments publish to different places (demo: "
        "https://github.com/tetrateio/tsb-gitops-demo.git, prod: https://git.example.com/prod.git) "
        "(pass --repo, or publish them one at a time with --env)\n"
    )
    work = repo(tmp_path / "clone")
    assert publish(example_config, "--repo", str(work)).exit_code == 0
    assert publish(example_config, "--env", "prod", "--repo", str(tmp_path / "nowhere")).exit_code == 2


def test_a_repo_that_is_neither_a_folder_nor_a_url(example_config: Path, tmp_path: Path) -> None:
    result = publish(example_config, "--repo", str(tmp_path / "missing"))
    assert result.exit_code == 2
    assert result.stderr == f"gitops-gen: --repo {tmp_path / 'missing'}: no such folder, and not a URL\n"


def test_a_folder_inside_a_clone_is_not_the_clone(example_config: Path, tmp_path: Path) -> None:
    work = repo(tmp_path / "clone")
    (work / "sub").mkdir()
    result = publish(example_config, "--repo", str(work / "sub"))
    assert result.exit_code == 2
    assert "not the top folder of a git working clone" in result.stderr


def test_push_needs_a_remote(example_config: Path, tmp_path: Path) -> None:
    work = repo(tmp_path / "clone")
    result = publish(example_config, "--repo", str(work), "--push")
    assert result.exit_code == 2
    assert result.stderr == f"gitops-gen: --push: {work} has no remote to push to\n"
    assert git(work, "status", "--porcelain") == ""


def test_a_clone_on_another_branch_is_refused(example_config: Path, tmp_path: Path) -> None:
    work = repo(tmp_path / "clone", branch="feature")
    result = publish(example_config, "--repo", str(work))
    assert result.exit_code == 2
    assert "the clone is on branch 'feature', not on 'main'" in result.stderr
    assert publish(example_config, "--repo", str(work), "--branch", "feature").exit_code == 0


def test_a_path_outside_the_repository(example_config: Path, tmp_path: Path) -> None:
    result = publish(example_config, "--repo", str(tmp_path), "--path", "../elsewhere")
    assert result.exit_code == 2
    assert "--path '../elsewhere': expected a folder inside the repository" in result.stderr


def test_pr_branch_needs_the_config_in_git(example_config: Path, tmp_path: Path) -> None:
    work = repo(tmp_path / "clone")
    result = publish(example_config, "--repo", str(work), "--pr-branch")
    assert result.exit_code == 2
    assert "--pr-branch names the branch after the config repository's commit" in result.stderr
    assert git(work, "branch", "--list") == "* main\n"


def test_an_unreadable_message_file_is_a_usage_error(example_config: Path, tmp_path: Path) -> None:
    binary = tmp_path / "message.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    result = publish(example_config, "--repo", str(repo(tmp_path / "gitops")), "--message-file", str(binary))
    assert result.exit_code == 2
    assert f"--message-file {binary}: cannot read it" in result.stderr
    assert git(tmp_path / "gitops", "log", "--format=%s") == "initial\n"


def test_a_pr_body_in_a_missing_folder_is_refused_before_publishing(
    example_config: Path, tmp_path: Path
) -> None:
    target = repo(tmp_path / "gitops")
    result = publish(example_config, "--repo", str(target), "--pr-body", str(tmp_path / "nope" / "body.md"))
    assert result.exit_code == 2
    assert "the folder" in result.stderr and "does not exist" in result.stderr
    assert git(target, "log", "--format=%s") == "initial\n"
