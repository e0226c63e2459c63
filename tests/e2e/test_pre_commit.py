"""The hooks in .pre-commit-hooks.yaml, run by the real pre-commit from this checkout (`try-repo`), in a
temp config repo: a stale manifest fails the check, a fresh render passes it.

pre-commit installs gitops-gen into an environment of its own; nothing may download at test time, so pip
is pointed at the wheelhouse `make test` fills when it sets up the venv (`.venv/wheelhouse`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WHEELHOUSE = Path(sys.prefix) / "wheelhouse"


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def config_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "config"
    for folder in ("services", "environments", "analysis-tests"):
        shutil.copytree(ROOT / folder, repo / folder)
    git(repo, "init", "-q")
    render = subprocess.run(
        [sys.executable, "-m", "generator", "render", "--config", str(repo)], capture_output=True, text=True
    )
    assert render.returncode == 0, render.stderr
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "config and rendered manifests")
    return repo


def try_hook(repo: Path, hook: str, home: Path) -> subprocess.CompletedProcess[str]:
    assert WHEELHOUSE.is_dir(), f"{WHEELHOUSE} is missing: `make test` fills it when it sets up the venv"
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(home),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), hook, "--all-files"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_check_hook_fails_on_a_stale_manifest_and_passes_after_render(
    config_repo: Path, tmp_path: Path
) -> None:
    home = tmp_path / "pre-commit-home"
    fresh = try_hook(config_repo, "gitops-gen-check", home)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "Passed" in fresh.stdout

    spec = config_repo / "services" / "reviews.yaml"
    spec.write_text(spec.read_text().replace("replicas: 5", "replicas: 7"))
    git(config_repo, "add", "-A")
    stale = try_hook(config_repo, "gitops-gen-check", home)
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "Failed" in stale.stdout
    assert "-  replicas: 5\n+  replicas: 7" in stale.stdout

    subprocess.run(
        [sys.executable, "-m", "generator", "render", "--config", str(config_repo)],
        check=True,
        capture_output=True,
    )
    git(config_repo, "add", "-A")
    again = try_hook(config_repo, "gitops-gen-check", home)
    assert again.returncode == 0, again.stdout + again.stderr


@pytest.mark.slow
def test_validate_hook(config_repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "pre-commit-home"
    clean = try_hook(config_repo, "gitops-gen-validate", home)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    rollout = config_repo / "rendered/demo/services/bookinfo/reviews/rollout.yaml"
    rollout.write_text(rollout.read_text().replace("- setWeight: 20", "- setWeight: 5"))
    git(config_repo, "add", "-A")
    broken = try_hook(config_repo, "gitops-gen-validate", home)
    assert broken.returncode == 1
    assert "GG401 error" in broken.stdout


@pytest.mark.slow
def test_analysis_test_hook(config_repo: Path, tmp_path: Path) -> None:
    home = tmp_path / "pre-commit-home"
    passing = try_hook(config_repo, "gitops-gen-test", home)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    # A threshold raised to 0.999 fails the case whose minutes are 0.995 and above.
    spec = config_repo / "services/reviews.yaml"
    spec.write_text(spec.read_text().replace("threshold: 0.99", "threshold: 0.999"))
    git(config_repo, "add", "-A")
    failing = try_hook(config_repo, "gitops-gen-test", home)
    assert failing.returncode == 1, failing.stdout + failing.stderr
    assert (
        "analysis-tests/reviews.yaml:7:5: a healthy canary passes (apdex in demo): expected Successful, got Failed"
        in (failing.stdout)
    )
