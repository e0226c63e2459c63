"""`make bench` at N = 10: the bench runs every row end to end and writes its table (not a figure: one
run on a shared machine). And the synthetic fleet it times is the same bytes for the same seed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # bench/ is not installed
from bench.fleet import write_fleet  # noqa: E402


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*.yaml"))}


def test_the_fleet_is_deterministic_and_mixed(tmp_path: Path) -> None:
    specs = write_fleet(tmp_path / "a", 200)
    write_fleet(tmp_path / "b", 200)
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert list(specs) == [f"svc-{i:04d}" for i in range(200)]
    mesh = sum("mesh:" in text for text in specs.values())
    assert 0.12 < mesh / 200 < 0.28  # about 20 % mesh-only
    assert 0 < sum("ingress:" in text for text in specs.values()) < 30
    for needle in ("queryStyle: mqe", "weights: [", "setWeight", "service_percentile", "service_sla"):
        assert any(needle in text for text in specs.values()), needle
    staging = (tmp_path / "a/environments/staging.yaml").read_text()
    prod = (tmp_path / "a/environments/prod.yaml").read_text()
    assert "queryStyle: readMetricsValues" in staging  # OAP 9.4.0 has no MQE
    assert "replicas: null" in prod and "failureLimit: null" in prod


@pytest.mark.slow
def test_the_bench_runs_every_row_at_n_10(tmp_path: Path) -> None:
    gitops_gen = Path(sys.executable).parent / "gitops-gen"
    if not gitops_gen.exists():
        pytest.skip(f"{gitops_gen} is not installed (run `make .venv/.installed`)")
    results = tmp_path / "RESULTS.md"
    argv = [sys.executable, str(ROOT / "scripts/bench.py"), "--sizes", "10", "--runs", "1", "--warmup", "0"]
    argv += ["--out", str(results), "--gitops-gen", str(gitops_gen)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    text = results.read_text()
    assert text.split("\n## ", 1)[1] in done.stdout  # the table printed is the table written
    for field in ("date", "machine", "python", "commit", "kubeconform"):
        assert re.search(rf"^- {field}: \S", text, re.M), field
    assert re.search(r"^## N = 10 services x 3 environments: (\d+) manifests", text, re.M)
    rows = re.findall(r"^\| (\d) \| (.+?) \| ([\d.]+ (?:s|MB)) \|.*\| (yes|\*\*no\*\*|n/a) \|$", text, re.M)
    assert [number for number, *_ in rows] == ["1", "2", "3", "4", "5", "6"], text
    per_manifest = re.search(
        r"^\| 3 \| `render --no-cache` into an empty folder \| .*? \| ([\d.]+) ms \|", text, re.M
    )
    assert per_manifest and float(per_manifest.group(1)) > 0
    assert "↳ baseline A: plain jinja2 render + write" in text
    assert "↳ baseline B: A + PyYAML C-loader parse-back, C-dumper emit" in text
    if shutil.which("kubeconform") or (ROOT.parent / "shared/tools/bin/kubeconform").exists():
        assert "↳ kubeconform -strict -summary, same folder" in text
    else:
        assert "kubeconform not found" in text
