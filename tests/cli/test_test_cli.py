"""`gitops-gen test` on the command line: exit 0, 1, 2 and 3, one line per input problem, nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from generator.cli import cli

ROOT = Path(__file__).resolve().parents[2]
CASE = "cases:\n  - name: a slow minute\n    metrics:\n      apdex: {minutes}\n    expect: {expect}\n"


def run(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["test", "--config", str(config), *args])
    assert "Traceback" not in result.output, result.output
    return result


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def with_tests(config: Path, text: str) -> Path:
    folder = config / "analysis-tests"
    folder.mkdir(exist_ok=True)
    (folder / "reviews.yaml").write_text(text)
    return config


def test_the_bundled_example_passes() -> None:
    result = run(ROOT)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == "gitops-gen test: 7 case(s) in 1 file(s), 7 measurement(s): all as expected\n"


def test_verbose_lists_every_case() -> None:
    result = run(ROOT, "--verbose")
    assert result.stdout.splitlines()[0] == (
        "analysis-tests/reviews.yaml:7:5: ok: a healthy canary passes (apdex in demo): Successful"
    )
    assert len(result.stdout.splitlines()) == 7


def test_a_missed_case_is_a_finding(example_config: Path) -> None:
    with_tests(
        example_config,
        "service: reviews\n" + CASE.format(minutes="[9950, 9800, 9990, 9970]", expect="Successful"),
    )
    before = snapshot(example_config)
    result = run(example_config)
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "analysis-tests/reviews.yaml:3:5: a slow minute (apdex in demo): expected Successful, got Failed\n"
        "  minutes: [9950, 9800, 9990, 9970]\n  successCondition -> false\n"
    )
    assert "1 did not get the expected phase" in result.stderr
    assert snapshot(example_config) == before


def test_named_files_and_folders_are_run(example_config: Path, tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (folder / "quiet.yaml").write_text(
        "service: reviews\n" + CASE.format(minutes="[null, null, null, null]", expect="Failed")
    )
    shutil.copy(ROOT / "analysis-tests/reviews.yaml", folder / "reviews.yml")
    result = run(example_config, str(folder), str(ROOT / "analysis-tests/reviews.yaml"))
    assert result.exit_code == 0, result.output
    assert "15 case(s) in 3 file(s), 15 measurement(s)" in result.stderr


def test_bad_test_files_are_input_errors(example_config: Path) -> None:
    with_tests(
        example_config,
        "service: reviews\nenv: demo\n"
        + CASE.format(minutes="[9950, 9800]", expect="Succesful")
        + "  - name: a slow minute\n    metrics: {apdx: [1, 2, 3, 4]}\n    expect: Failed\n",
    )
    before = snapshot(example_config)
    result = run(example_config)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        'analysis-tests/reviews.yaml:7:13: cases[0].expect: expected one of "Successful", "Failed", '
        '"Inconclusive", "Error"; got "Succesful"',
        "analysis-tests/reviews.yaml:8:11: cases[1].name: a second case named 'a slow minute' "
        "(cases[0] has that name; give each case its own)",
    ]
    assert snapshot(example_config) == before


def test_problems_against_the_render_come_together(example_config: Path) -> None:
    with_tests(
        example_config,
        "service: reviews\nenv: demo\n"
        + CASE.format(minutes="[9950, 9800]", expect="Failed")
        + "  - name: another\n    metrics: {apdx: [1, 2, 3, 4]}\n    expect: Failed\n",
    )
    result = run(example_config)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "analysis-tests/reviews.yaml:6:14: cases[0].metrics.apdex: 2 minute(s) given; the 3m window of apdex "
        "in demo holds 4 (from the first minute to the last, both counted) (one value per minute, null for a "
        "minute without traffic)",
        "analysis-tests/reviews.yaml:9:15: cases[1].metrics.apdx: the AnalysisTemplate apdex has no metric "
        "'apdx' (did you mean 'apdex'?)",
    ]


def test_no_tests_folder_is_said(example_config: Path) -> None:
    result = run(example_config)
    assert result.exit_code == 2
    assert result.stderr.startswith("analysis-tests: folder not found (--config ")


def test_a_condition_the_evaluator_lacks_exits_3(example_config: Path) -> None:
    env = example_config / "environments/demo.yaml"
    env.write_text(
        env.read_text()
        + "argoRollouts:\n  version: v1.10\nservices:\n  reviews:\n    analysis:\n      apdex:\n"
        + "        successCondition: sum(result.service_apdex.values.values, {.value}) > 0\n"
    )
    with_tests(
        example_config, "service: reviews\n" + CASE.format(minutes="[1, 2, 3, 4]", expect="Successful")
    )
    result = run(example_config)
    assert result.exit_code == 3
    assert result.stdout.startswith(
        "analysis-tests/reviews.yaml:3:5: a slow minute (apdex in demo): cannot be evaluated"
    )
    assert "1 could not be evaluated" in result.stderr
