"""A wheel carries templates/ and schemas/: installed into a fresh venv, it renders from another directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_installed_wheel_renders_the_example_from_elsewhere(tmp_path: Path, example_config: Path) -> None:
    wheelhouse = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheelhouse),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    wheel = next(wheelhouse.glob("gitops_gen-*.whl"))

    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=False)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(fresh), "platbase": str(fresh)}))
    # The dependencies come from this test's environment (nothing may download at test time); the
    # checkout's own `generator` is not on this path, only the wheel's.
    deps = Path(sysconfig.get_path("purelib"))
    (site / "deps.pth").write_text(f"{deps}\n")
    python = fresh / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import generator.resources as r; print(r.data_dir('templates'))"],
        check=True,
        capture_output=True,
        text=True,
        cwd=elsewhere,
    )
    assert "site-packages/generator/_data/templates" in where.stdout

    out = tmp_path / "out"
    result = subprocess.run(
        [str(fresh / "bin" / "gitops-gen"), "render", "--config", str(example_config), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=elsewhere,
    )
    assert result.returncode == 0, result.stderr
    rendered = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    expected = sorted(
        p.relative_to(ROOT / "rendered").as_posix() for p in (ROOT / "rendered").rglob("*.yaml")
    )
    assert rendered == expected
    for name in rendered:
        assert (out / name).read_bytes() == (ROOT / "rendered" / name).read_bytes(), name
    shutil.rmtree(fresh)
