"""`gitops-gen test` over a generated fleet (bench/fleet.py: three environments on three clusters, OAP 10.4,
9.4 and 10.2, both query styles, SLA, latency and p99 metrics, per-environment overrides), with cases
written from the specs' meaning alone: a measurement passes when at least `minDataPoints` minutes had
traffic and every such minute is within the metric's bounds. The pipeline (rendered query, simulated OAP,
rendered condition, evaluator) must agree with that for every service, metric and environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from generator import analysis_tests as at
from generator.model import resolve_environment, resolve_service
from generator.rules.durations import go_duration_seconds
from generator.skywalking import SCALED_BY_10000, MetricCheck
from generator.skywalking_oap import window_points
from generator.spec import environment_names, load_environment, load_service, spec_files

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # bench/ is not installed: the fleet generator the bench times too
from bench.fleet import write_fleet  # noqa: E402

SERVICES = 45


def _bounds(check: MetricCheck) -> tuple[int | None, int | None]:
    """The bounds in SkyWalking's stored units (Apdex and SLA x10000), as whole numbers a Long can hold."""
    scale = 10000 if check.metric in SCALED_BY_10000 else 1
    low = None if check.minimum is None else round(check.minimum * scale)
    high = None if check.maximum is None else int(check.maximum * scale)
    return low, high


def _scenarios(check: MetricCheck, points: int, min_points: int) -> list[tuple[str, list[int | None], str]]:
    low, high = _bounds(check)
    good = low if low is not None else 1  # at the lower bound, or the smallest value with traffic
    if high is not None and low is None:
        good = high  # at the upper bound
    bad = (low - 1) if low is not None else (high + 1 if high is not None else None)
    found = [
        ("healthy", [good] * points),
        ("no traffic", [None] * points),
        ("just enough minutes", [good] * min_points + [None] * (points - min_points)),
        ("too few minutes", [good] * (min_points - 1) + [None] * (points - min_points + 1)),
    ]
    if bad is not None and bad > 0:  # before 9.5 a 0 reads as no traffic: keep regressions above it
        found.append(("one bad minute", [good] * (points - 1) + [bad]))
    cases = []
    for name, minutes in found:
        with_traffic = [m for m in minutes if m is not None]
        in_bounds = all((low is None or m >= low) and (high is None or m <= high) for m in with_traffic)
        expected = "Successful" if len(with_traffic) >= min_points and in_bounds else "Failed"
        cases.append((name, minutes, expected))
    return cases


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    config = tmp_path_factory.mktemp("fleet")
    write_fleet(config, SERVICES)
    (config / "analysis-tests").mkdir()
    specs = {name: load_service(path) for name, path in spec_files(config).items()}
    yaml = YAML()
    expected_measurements = 0
    for env_name in environment_names(config):
        env_source = load_environment(config, env_name)
        env = resolve_environment(env_name, env_source)
        for name, spec in specs.items():
            service = resolve_service(env, env_source, spec)
            analysis = service.canary.analysis if service.canary else None
            if analysis is None:
                continue
            (points,) = window_points(go_duration_seconds(analysis.window) or 0)
            cases = []
            for check in analysis.checks:
                for scenario, minutes, expected in _scenarios(check, points, analysis.min_points):
                    cases.append(
                        {
                            "name": f"{check.name}: {scenario}",
                            "metrics": {check.name: minutes},
                            "expect": expected,
                        }
                    )
            expected_measurements += len(cases)
            with (config / "analysis-tests" / f"{name}-{env_name}.yaml").open("w") as out:
                yaml.dump({"service": name, "env": env_name, "cases": cases}, out)
    return config, expected_measurements


def test_every_service_metric_and_environment_measures_as_its_spec_means(fleet: tuple[Path, int]) -> None:
    config, expected = fleet
    report = at.run(config)
    assert expected > 500 and len(report.outcomes) == expected
    assert {o.env for o in report.outcomes} == {"dev", "staging", "prod"}
    assert {o.metric for o in report.outcomes} >= {"apdex", "sla", "latency", "p99-latency"}
    assert not report.unsupported
    assert [at.format_outcome(o) for o in report.findings] == []
