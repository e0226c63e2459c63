"""GG310 / GG311: when background analysis can fail the rollout, and which minutes it measures."""

from __future__ import annotations

from typing import Any

from generator.errors import Finding
from generator.rules import Item, check
from generator.rules.timing import step_durations
from generator.validate import LoadedObject

DEMO_STEPS = [{"setWeight": 10}, {"pause": {"duration": "10m"}}, {"setWeight": 20}, {"pause": {"duration": "5m"}},
              {"setWeight": 40}, {"pause": {"duration": "5m"}}, {"setWeight": 60}, {"pause": {"duration": "5m"}},
              {"setWeight": 80}, {"pause": {"duration": "5m"}}]  # fmt: skip


def rollout(steps: list[Any] = DEMO_STEPS, starting: int | None = 2, **analysis: Any) -> dict[str, Any]:
    block: dict[str, Any] = {"templates": [{"templateName": "apdex"}], **analysis}
    if starting is not None:
        block["startingStep"] = starting
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r", "namespace": "ns"},
            "spec": {"strategy": {"canary": {"analysis": block, "steps": steps}}}}  # fmt: skip


def template(window: str = "5m", **metric: Any) -> dict[str, Any]:
    fields = {"name": "apdex", "interval": "5m", "failureLimit": 3, **metric}
    fields = {k: v for k, v in fields.items() if v is not None}
    fields["provider"] = {"skywalking": {"interval": window, "address": "http://oap:12800", "query": "q"}}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
            "metadata": {"name": "apdex", "namespace": "ns"}, "spec": {"metrics": [fields]}}  # fmt: skip


def findings(*objects: dict[str, Any], rule: str) -> list[Finding]:
    items = [Item(LoadedObject(f"{i}.yaml", 1, obj)) for i, obj in enumerate(objects)]
    return [f for f in check(items) if f.rule == rule]


def test_the_demo_can_fail_before_promotion() -> None:
    # starts at 10m, 4th failed measurement at 10 + 3*5 = 25m, promoted at 30m
    assert findings(rollout(), template(), rule="GG310") == []


def test_starting_late_fails_only_after_promotion() -> None:
    (found,) = findings(rollout(starting=6), template(), rule="GG310")
    assert found.message.startswith(
        "analysis starts at 20m (startingStep 6), measures every 5m, and fails at the earliest after 4 failed "
        "measurement(s) of 'apdex' (failureLimit 3) at 35m, but the rollout is fully promoted at 30m (the end "
        "of step 10)"
    )
    assert found.severity == "warning" and found.location.field.endswith("analysis.startingStep")


def test_initial_delay_and_equal_times() -> None:
    # 10m + 5m delay + 3 * 5m = 30m: not strictly before the promotion at 30m
    (found,) = findings(rollout(), template(initialDelay="5m"), rule="GG310")
    assert (
        "after an initialDelay of 5m" in found.message
        and "at 30m, but the rollout is fully promoted at 30m" in found.message
    )
    assert findings(rollout(), template(initialDelay="4m"), rule="GG310") == []  # 29m < 30m


def test_failure_limit_zero_fails_on_the_first_measurement() -> None:
    assert findings(rollout(starting=9), template(failureLimit=0), rule="GG310") == []  # 25m < 30m


def test_a_metric_that_can_never_fail() -> None:
    (found,) = findings(rollout(), template(interval=None, failureLimit=1), rule="GG310")
    assert "no metric can ever fail it" in found.message
    assert "measured 1 time(s) and fails only after 2 failed measurements" in found.message
    (found,) = findings(rollout(), template(failureLimit=-1, consecutiveSuccessLimit=2), rule="GG310")
    assert "failureLimit is negative (disabled)" in found.message


def test_manual_pause_stops_the_clock() -> None:
    late = template(failureLimit=9)  # 10m + 9 * 5m = 55m, after the promotion at 30m
    assert len(findings(rollout(), late, rule="GG310")) == 1
    steps = [*DEMO_STEPS[:5], {"pause": {}}, *DEMO_STEPS[6:]]  # a manual pause after the start
    assert findings(rollout(steps), late, rule="GG310") == []
    # a manual pause before the analysis starts leaves the deadline, counted from the analysis start
    steps = [{"setWeight": 10}, {"pause": {}}, *DEMO_STEPS[2:]]
    (found,) = findings(rollout(steps, starting=6), template(), rule="GG310")
    assert (
        "after a manual pause" in found.message
        and "at 15m, but the rollout is fully promoted at 10m" in found.message
    )


def test_dry_run_metrics_do_not_count() -> None:
    assert (
        findings(rollout(dryRun=[{"metricName": "apd.*"}]), template(), rule="GG310") == []
    )  # nothing to say
    both = template()
    both["spec"]["metrics"].append({**both["spec"]["metrics"][0], "name": "slow", "failureLimit": 9})
    assert findings(rollout(), both, rule="GG310") == []  # the earliest metric decides
    (found,) = findings(rollout(dryRun=[{"metricName": "apdex"}]), both, rule="GG310")
    assert "of 'slow' (failureLimit 9) at 55m" in found.message


def test_step_durations() -> None:
    steps = [{"setWeight": 5}, {"pause": {"duration": 90}}, {"pause": {"duration": "2m"}}, {"pause": {}},
             {"analysis": {"templates": []}}, {"setCanaryScale": {"replicas": 1}}, {"pause": {"duration": "x"}}]  # fmt: skip
    assert step_durations(steps) == [0.0, 90.0, 120.0, None, None, 0.0, None]


def test_window_shorter_than_interval() -> None:
    (found,) = findings(template(window="3m"), rule="GG311")
    assert found.message.startswith(
        "each measurement looks back 3m (provider.skywalking.interval) but measurements are 5m apart "
        "(interval): minutes 0-2 after each measurement (2m of every 5m) are never measured"
    )
    assert found.location.field == "spec.metrics[0].provider.skywalking.interval"
    (found,) = findings(template(window="90s", interval="2m"), rule="GG311")
    assert "the first 30s after each measurement" in found.message
    assert findings(template(window="5m"), rule="GG311") == []
    assert findings(template(window="10m"), rule="GG311") == []
