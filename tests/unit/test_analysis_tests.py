"""`gitops-gen test` over a config of three environments that differ where the analysis does: the OAP
release (9.4 has no isEmptyValue), the query style (MQE), the Argo Rollouts release, an extra metric."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from generator import analysis_tests as at
from generator.errors import InputError

ROOT = Path(__file__).resolve().parents[2]

PROD_OVERRIDES = """\
argoRollouts:
  version: v1.10
services:
  reviews:
    analysis:
      queryStyle: mqe
      metrics:
        - name: p99-latency
          metric: service_percentile
          percentile: 99
          max: 300
"""


@pytest.fixture
def fleet_config(example_config: Path) -> Path:
    demo = (example_config / "environments/demo.yaml").read_text()
    legacy = demo.replace("cluster: cp-cluster-1", "cluster: legacy-cluster").replace(
        "  address: http://oap.istio-system:12800",
        '  address: http://oap.istio-system:12800\n  version: "9.4.0"',
    )
    prod = demo.replace("cluster: cp-cluster-1", "cluster: prod-cluster") + PROD_OVERRIDES
    (example_config / "environments/legacy.yaml").write_text(legacy)
    (example_config / "environments/prod.yaml").write_text(prod)
    (example_config / "analysis-tests").mkdir()
    return example_config


def write_tests(config: Path, text: str, name: str = "reviews.yaml") -> Path:
    path = config / "analysis-tests" / name
    path.write_text(textwrap.dedent(text))
    return path


def outcomes(report: at.Report) -> dict[tuple[str, str, str], str]:
    return {(o.case, o.env, o.metric): o.got.phase if o.got else "unsupported" for o in report.outcomes}


def test_the_bundled_tests_pass_in_every_environment(fleet_config: Path) -> None:
    (fleet_config / "analysis-tests").rmdir()
    (fleet_config / "analysis-tests").symlink_to(ROOT / "analysis-tests")
    report = at.run(fleet_config)
    assert report.files == 1 and report.cases == 7
    assert len(report.outcomes) == 21 and not report.findings and not report.unsupported
    assert {o.env for o in report.outcomes} == {"demo", "legacy", "prod"}


def test_each_environment_is_measured_with_its_own_query_and_language(fleet_config: Path) -> None:
    rendered = at.render_environments(fleet_config, (), ["reviews"])
    metrics = {
        env: at.metrics_under_test(rendered.manifests, "reviews", env, v.oap, v.rollouts)
        for env, v in rendered.versions.items()
    }
    assert sorted(metrics["prod"]) == ["apdex", "p99-latency"] and sorted(metrics["demo"]) == ["apdex"]
    assert "isEmptyValue" in metrics["demo"]["apdex"].query
    assert "isEmptyValue" not in metrics["legacy"]["apdex"].query  # 9.4: an empty minute is a bare 0
    assert "execExpression" in metrics["prod"]["apdex"].query
    assert metrics["prod"]["apdex"].rollouts_version == "v1.10"
    # The Rollout's argument is filled in, as Argo Rollouts does before the provider runs.
    assert '"canary|reviews|bookinfo|cp-cluster-1|-"' in metrics["demo"]["apdex"].query
    assert metrics["demo"]["apdex"].window_seconds == 180


def test_a_true_zero_looks_like_a_quiet_minute_before_9_5(fleet_config: Path) -> None:
    write_tests(
        fleet_config,
        """\
        service: reviews
        cases:
          - name: two minutes of every request frustrated
            metrics:
              apdex: [0, 0, 9990, 9990]
            expect: Failed
        """,
    )
    report = at.run(fleet_config)
    # Only readMetricsValues before 9.5 reads a real Apdex of 0 as no traffic (README, "The analysis
    # condition"); 9.5's isEmptyValue and MQE's null tell them apart.
    assert outcomes(report) == {
        ("two minutes of every request frustrated", "demo", "apdex"): "Failed",
        ("two minutes of every request frustrated", "prod", "apdex"): "Failed",
        ("two minutes of every request frustrated", "legacy", "apdex"): "Successful",
    }
    (finding,) = report.findings
    assert finding.env == "legacy" and finding.location.line == 3 and finding.location.column == 5


def test_a_metric_of_one_environment_runs_there_only(fleet_config: Path) -> None:
    write_tests(
        fleet_config,
        """\
        service: reviews
        cases:
          - name: slow minutes fail the latency check
            metrics:
              p99-latency: [250, 280, null, 320]
            expect: Failed
          - name: fast minutes pass it
            metrics:
              p99-latency: [250, 280, null, 300]
            expect: Successful
        """,
    )
    report = at.run(fleet_config)
    assert {o.env for o in report.outcomes} == {"prod"}
    assert not report.findings and len(report.outcomes) == 2


def test_a_missed_case_says_what_the_condition_saw(fleet_config: Path) -> None:
    write_tests(
        fleet_config,
        """\
        service: reviews
        env: demo
        cases:
          - name: a slow minute
            metrics:
              apdex: [9950, 9800, 9990, 9970]
            expect: Successful
        """,
    )
    report = at.run(fleet_config)
    (finding,) = report.findings
    assert finding.got is not None and finding.got.phase == "Failed"
    text = at.format_outcome(finding)
    assert text.startswith(
        "analysis-tests/reviews.yaml:4:5: a slow minute (apdex in demo): expected Successful"
    )
    assert "minutes: [9950, 9800, 9990, 9970]" in text
    assert "successCondition -> false" in text
    assert "len(filter(result.service_apdex.values.values, {!.isEmptyValue})) >= 2  ->  true" in text
    assert '{"value": 9800, "isEmptyValue": false}' in text


def test_an_error_phase_is_what_a_failing_condition_records(fleet_config: Path) -> None:
    env = fleet_config / "environments/demo.yaml"
    env.write_text(
        env.read_text()
        + "services:\n  reviews:\n    analysis:\n      apdex:\n        successCondition: "
        + "asFloat(result.service_apdex.values.values[4].value) >= 9900\n"
    )
    write_tests(
        fleet_config,
        """\
        service: reviews
        env: demo
        cases:
          - name: the fifth point of a 4-point window is out of range
            metrics:
              apdex: [9950, 9990, 9990, 9970]
            expect: Error
        """,
    )
    report = at.run(fleet_config)
    (outcome,) = report.outcomes
    assert outcome.passed and outcome.got is not None
    assert "index out of range" in outcome.got.message


def test_a_condition_the_evaluator_lacks_is_not_guessed(fleet_config: Path) -> None:
    env = fleet_config / "environments/prod.yaml"
    env.write_text(
        env.read_text().replace(
            "      queryStyle: mqe\n",
            "      queryStyle: mqe\n      apdex:\n        successCondition: "
            "sum(result.service_apdex.results[0].values, {asFloat(.value)}) > 0\n",
        )
    )
    write_tests(
        fleet_config,
        """\
        service: reviews
        env: prod
        cases:
          - name: sum is expr's, not gitops-gen's
            metrics:
              apdex: [9950, 9990, 9990, 9970]
            expect: Successful
        """,
    )
    report = at.run(fleet_config)
    (outcome,) = report.unsupported
    assert "sum" in outcome.unsupported and not report.findings


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("service: reviwes\n", "2:10: service: unknown service 'reviwes' (did you mean 'reviews'?)"),
        ("service: reviews\nenv: stage\n", "3:6: env: unknown environment 'stage'"),
        ("service: details\n", "2:10: service: details has no SkyWalking analysis in any environment"),
        (
            "service: reviews\nenv: demo\n",
            "",  # the cases below name p99-latency, which demo's template lacks
        ),
    ],
)
def test_a_test_file_naming_what_the_render_lacks_is_refused(
    fleet_config: Path, text: str, message: str
) -> None:
    cases = "cases:\n  - name: a\n    metrics:\n      p99-latency: [1, 2, 3, 4]\n    expect: Successful\n"
    write_tests(fleet_config, "# header\n" + text + cases)
    with pytest.raises(InputError) as raised:
        at.run(fleet_config)
    (problem,) = raised.value.problems
    expected = message or (
        "7:7: cases[0].metrics.p99-latency: the AnalysisTemplate apdex has no metric 'p99-latency' "
        "(its metrics: apdex)"
    )
    assert str(problem).startswith(f"analysis-tests/reviews.yaml:{expected}")


@pytest.mark.parametrize(
    ("minutes", "message"),
    [
        (
            "[9950, 9990, 9970]",
            "6:14: cases[0].metrics.apdex: 3 minute(s) given; the 3m window of apdex in demo holds 4",
        ),
        (
            "[0.995, 9990, 9970, 9990]",
            "6:15: cases[0].metrics.apdex[0]: expected a whole number, got 0.995 "
            "(SkyWalking stores service_apdex x10000: 0.995 is 9950)",
        ),
        (
            "[9950, yes, 9970, 9990]",  # YAML 1.2: a string
            '6:21: cases[0].metrics.apdex[1]: expected number, got string "yes" (SkyWalking\'s value',
        ),
    ],
)
def test_minutes_the_query_cannot_return_are_refused(fleet_config: Path, minutes: str, message: str) -> None:
    write_tests(
        fleet_config,
        f"service: reviews\nenv: demo\ncases:\n  - name: a\n    metrics:\n      apdex: {minutes}\n"
        "    expect: Successful\n",
    )
    with pytest.raises(InputError) as raised:
        at.run(fleet_config)
    assert str(raised.value.problems[0]).startswith(f"analysis-tests/reviews.yaml:{message}")


def test_mqe_takes_fractions_where_read_metrics_values_takes_whole_numbers(fleet_config: Path) -> None:
    write_tests(
        fleet_config,
        """\
        service: reviews
        env: prod
        cases:
          - name: a latency of 299.5 ms is under 300
            metrics:
              p99-latency: [299.5, 250.25, 280.125, null]
            expect: Successful
        """,
    )
    assert not at.run(fleet_config).findings
