"""Fixtures the end-to-end tests share: the GitOps repository a publish pushes to."""

from __future__ import annotations

import subprocess
from pathlib import Path

import git as gitpython
import pytest


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository with one commit on main, as a hosting service would hold it."""
    bare = tmp_path / "remote.git"
    gitpython.Repo.init(bare, bare=True, initial_branch="main").close()
    seed = tmp_path / "seed"
    _git(tmp_path, "clone", "-q", str(bare), str(seed))
    (seed / "README.md").write_text("The GitOps repository\n")
    _git(seed, "add", "-A")
    _git(seed, "commit", "-q", "-m", "initial")
    _git(seed, "push", "-q", "origin", "main")
    return bare
