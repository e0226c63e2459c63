"""validate and render's validation: exit codes, severities, output formats, nothing written on errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from generator.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def break_condition(config: Path) -> None:
    spec = config / "services" / "reviews.yaml"
    spec.write_text(
        spec.read_text().replace(
            "    threshold: 0.99",
            '    successCondition: "all(result.service_apdx.values.values, {asFloat(.value) >= 9900})"',
        )
    )


def test_render_validates_before_writing(example_config: Path) -> None:
    break_condition(example_config)
    code, _, stderr = run("render", "--config", str(example_config))
    assert code == 1
    assert (
        "analysistemplate.yaml:12:23: GG305 error: AnalysisTemplate/apdex: spec.metrics[0].successCondition: "
        "reads alias 'service_apdx'" in stderr
    )
    assert "[rendered from services/reviews.yaml]" in stderr
    assert "nothing written" in stderr
    assert not (example_config / "rendered").exists()


def test_no_validate_writes_anyway(example_config: Path) -> None:
    break_condition(example_config)
    code, _, _ = run("render", "--config", str(example_config), "--no-validate")
    assert code == 0
    assert (example_config / "rendered/demo/services/bookinfo/reviews/analysistemplate.yaml").is_file()


def test_warnings_pass_unless_strict(example_config: Path) -> None:
    spec = example_config / "services/reviews.yaml"
    spec.write_text(spec.read_text().split("acknowledge:")[0])  # the example acknowledges its warnings
    code, _, stderr = run("render", "--config", str(example_config))
    assert code == 0 and "GG502 warning" in stderr
    shutil.rmtree(example_config / "rendered")
    code, _, stderr = run("render", "--config", str(example_config), "--strict")
    assert code == 1 and not (example_config / "rendered").exists()


def test_service_render_is_checked_against_its_whole_environment(example_config: Path) -> None:
    code, _, stderr = run("render", "--config", str(example_config), "--service", "ratings")
    assert code == 0, stderr
    assert "GG203" not in stderr  # the Tenant and Groups are found although not rendered
    assert "GG502" not in stderr  # a finding on another service is not this render's business


def test_validate_hand_written_demo_exits_0_with_warnings() -> None:
    code, stdout, stderr = run("validate", str(ROOT / "tests/fixtures/demo/argo"))
    assert code == 0
    assert stdout.count("warning") == 3
    assert "17 objects checked: 0 error(s), 3 warning(s)" in stderr
    code, _, _ = run("validate", "--strict", str(ROOT / "tests/fixtures/demo/argo"))
    assert code == 1


def test_validate_reports_errors_with_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "rollout.yaml"
    bad.write_text(
        (ROOT / "rendered/demo/services/bookinfo/reviews/rollout.yaml")
        .read_text()
        .replace("steps:", "stepz:")
    )
    code, stdout, _ = run("validate", str(bad))
    assert code == 1
    assert (
        f"{bad}:46:7: SCHEMA error: Rollout/reviews-rollout: spec.strategy.canary.stepz: unknown field"
        in stdout
    )


def test_json_output(tmp_path: Path) -> None:
    code, stdout, _ = run("validate", "--output", "json", str(ROOT / "tests/fixtures/demo/argo"))
    document = json.loads(stdout)
    assert code == 0
    assert document["summary"] == {"errors": 0, "objects": 17, "warnings": 3}
    assert {f["rule"] for f in document["findings"]} == {"GG308", "GG311", "GG502"}
    assert all(f["line"] > 0 and f["file"].endswith(".yaml") for f in document["findings"])


def test_junit_output() -> None:
    code, stdout, _ = run("validate", "--output", "junit", "--strict", str(ROOT / "tests/fixtures/demo/argo"))
    suite = ElementTree.fromstring(stdout)
    assert code == 1
    assert suite.tag == "testsuite" and suite.get("failures") == "0"
    assert len(suite.findall("testcase")) == 2  # analysis.yaml and rollout.yaml


def test_junit_counts_errors_as_failures(tmp_path: Path) -> None:
    bad = tmp_path / "rollout.yaml"
    bad.write_text(
        (ROOT / "rendered/demo/services/bookinfo/reviews/rollout.yaml")
        .read_text()
        .replace("replicas: 5", "replicas: five")
    )
    _, stdout, _ = run("validate", "--output", "junit", str(bad))
    suite = ElementTree.fromstring(stdout)
    assert int(suite.get("failures") or 0) >= 1
    assert any(f.get("type") == "SCHEMA" for f in suite.iter("failure"))


def test_asking_for_a_missing_kubeconform_exits_3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no kubeconform
    code, _, stderr = run("validate", "--validator", "kubeconform", str(ROOT / "tests/fixtures/demo/argo"))
    assert code == 3
    assert "kubeconform" in stderr and "Traceback" not in stderr


def test_yaml_error_in_a_validated_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "x.yaml"
    bad.write_text("kind: [\n")
    code, _, stderr = run("validate", str(bad))
    assert code == 2
    assert f"{bad}:2:1: YAML syntax error" in stderr


def test_a_folder_without_manifests_is_not_a_pass(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no yaml here\n")
    code, _, stderr = run("validate", str(tmp_path))
    assert code == 2
    assert f"{tmp_path}: no Kubernetes objects found" in stderr
