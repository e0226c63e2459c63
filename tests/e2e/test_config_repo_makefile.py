"""The documented Makefile snippet for a config repo (examples/config-repo.mk) works as written."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def make(repo: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    command = f"{sys.executable} -m generator"
    return subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-f",
            str(ROOT / "examples/config-repo.mk"),
            f"GITOPS_GEN={command}",
            *targets,
        ],
        cwd=repo,
        capture_output=True,
        text=True,
    )


@pytest.mark.slow
def test_render_check_validate_diff(example_config: Path) -> None:
    stale = make(example_config, "check")
    assert stale.returncode != 0  # nothing rendered yet
    assert make(example_config, "render").returncode == 0
    for target in ("check", "validate", "diff"):
        result = make(example_config, target)
        assert result.returncode == 0, (target, result.stderr)
    spec = example_config / "services" / "ratings.yaml"
    spec.write_text(
        spec.read_text().replace("name: v1\n", "name: v2\n").replace("version: v1", "version: v2")
    )
    changed = make(example_config, "check")
    assert changed.returncode != 0
    assert "+  - name: v2" in changed.stdout
    shutil.rmtree(example_config / "rendered")
    shutil.copytree(ROOT / "analysis-tests", example_config / "analysis-tests")
    tested = make(example_config, "analysis-test")
    assert tested.returncode == 0, tested.stderr
    assert "7 case(s) in 1 file(s), 7 measurement(s): all as expected" in tested.stderr
