"""plan: the timeline Argo Rollouts follows for a canary, its analysis and its earliest rollback."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from generator.canary_plan import diff_plans
from generator.plan import (
    Timeline,
    format_text,
    plan_render,
    rollback_text,
    time_changes,
    timelines,
    to_data,
    to_json,
)
from generator.plan_svg import to_svg
from generator.rules import timing
from generator.rules.objects import Item, ObjectSet
from generator.validate import LoadedObject

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"

DEMO_STEPS: list[Any] = [
    {"setWeight": 10},
    {"pause": {"duration": "10m"}},
    {"setWeight": 20},
    {"pause": {"duration": "5m"}},
    {"setWeight": 40},
    {"pause": {"duration": "5m"}},
    {"setWeight": 60},
    {"pause": {"duration": "5m"}},
    {"setWeight": 80},
    {"pause": {"duration": "5m"}},
]


def rollout(steps: list[Any] | None = None, analysis: dict[str, Any] | None = None) -> dict[str, Any]:
    canary: dict[str, Any] = {"steps": DEMO_STEPS if steps is None else steps}
    if analysis is not None:
        canary["analysis"] = analysis
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "reviews-rollout", "namespace": "bookinfo"},
        "spec": {
            "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "reviews"},
            "strategy": {"canary": canary},
        },
    }


def template(*metrics: dict[str, Any], dry_run: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"metrics": list(metrics)}
    if dry_run:
        spec["dryRun"] = [{"metricName": name} for name in dry_run]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "apdex", "namespace": "bookinfo"},
        "spec": spec,
    }


def metric(name: str = "apdex", **fields: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "name": name,
        "interval": "5m",
        "failureLimit": 3,
        "successCondition": "result.service_apdex.values.values[0].value >= 9900",
        "provider": {"skywalking": {"address": "http://oap:12800", "interval": "5m", "query": "q"}},
    }
    found.update(fields)
    return {k: v for k, v in found.items() if v is not None}


def analysis(starting_step: int | None = 2) -> dict[str, Any]:
    found: dict[str, Any] = {"templates": [{"templateName": "apdex"}]}
    if starting_step is not None:
        found["startingStep"] = starting_step
    return found


def timeline(*objects: dict[str, Any]) -> Timeline:
    (found,) = timelines(objects).values()
    return found


def test_the_demo_promotes_at_30m_and_rolls_back_at_the_4th_measurement() -> None:
    t = timeline(rollout(analysis=analysis()), template(metric()))
    assert [(s.index, s.kind, s.start, s.weight) for s in t.steps[:4]] == [
        (0, "setWeight", 0, 10),
        (1, "pause", 0, 10),
        (2, "setWeight", 600, 20),
        (3, "pause", 600, 20),
    ]
    assert t.promotion == 1800 and t.stop is None
    assert t.analysis is not None
    assert (t.analysis.start, t.analysis.status) == (600, "runs")
    (apdex,) = t.analysis.metrics
    assert apdex.measurements == (600, 900, 1200, 1500)  # the one at 30m comes with promotion: too late
    assert apdex.fails_after == 900  # failureLimit 3: the 4th failed measurement, 15m after the start
    assert t.analysis.earliest_rollback == 1500 and t.rollback_in_time is True
    assert t.traffic == ((0, 10), (600, 20), (900, 40), (1200, 60), (1500, 80), (1800, 100))


def test_a_manual_pause_stops_the_timeline() -> None:
    steps = [
        {"setWeight": 10},
        {"pause": {"duration": "5m"}},
        {"setWeight": 50},
        {"pause": {}},
        {"setWeight": 90},
    ]
    t = timeline(rollout(steps, analysis(starting_step=1)), template(metric(failureLimit=1)))
    assert t.stop is not None and (t.stop.index, t.stop.kind, t.stop.start) == (3, "manual", 300)
    assert t.promotion is None
    assert [s.start for s in t.steps] == [0, 0, 300, 300, None]
    assert t.traffic == ((0, 10), (300, 50))  # no 90%, no 100%: they wait for the promotion
    assert t.analysis is not None
    # The analysis goes on measuring while paused: its earliest failure is still a time.
    assert t.analysis.metrics[0].measurements == (0, 300)
    assert t.analysis.earliest_rollback == 300 and t.rollback_in_time is None
    text = format_text([("demo", t)])
    assert "step 4  pause manual: waits for a manual promotion (the timeline stops here)" in text
    assert "full promotion: manual (step 4 waits for a promotion from 5m)" in text
    assert to_data("demo", t)["full_promotion"] is None


def test_analysis_after_a_manual_pause_has_no_clock_time() -> None:
    steps = [{"setWeight": 10}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "5m"}}]
    t = timeline(rollout(steps, analysis(starting_step=2)), template(metric()))
    assert t.analysis is not None
    assert (t.analysis.status, t.analysis.start, t.analysis.earliest_rollback) == ("after-stop", None, None)
    assert t.analysis.metrics[0].fails_after == 900 and t.analysis.metrics[0].measurements == ()


def test_no_analysis() -> None:
    t = timeline(rollout(analysis=None))
    assert t.analysis is None and t.promotion == 1800
    assert "analysis: none" in format_text([("demo", t)])
    assert "earliest rollback: none" in format_text([("demo", t)])
    assert to_data("demo", t)["analysis"] is None


def test_starting_step_beyond_the_steps_never_starts() -> None:
    t = timeline(rollout(analysis=analysis(starting_step=10)), template(metric()))
    assert t.analysis is not None
    assert (t.analysis.status, t.analysis.start, t.analysis.earliest_rollback) == ("never", None, None)
    assert "never starts" in t.analysis.why


def test_starting_step_defaults_to_0() -> None:
    t = timeline(rollout(analysis=analysis(starting_step=None)), template(metric()))
    assert t.analysis is not None and t.analysis.start == 0 and t.analysis.earliest_rollback == 900


def test_initial_delay_and_count() -> None:
    t = timeline(rollout(analysis=analysis()), template(metric(initialDelay="2m", count=3, failureLimit=1)))
    assert t.analysis is not None
    (apdex,) = t.analysis.metrics
    assert apdex.first == 120 and apdex.count == 3
    assert apdex.measurements == (720, 1020, 1320)  # 10m + 2m, then every 5m, three times
    assert t.analysis.earliest_rollback == 1020  # the 2nd failed measurement


def test_a_rollback_after_promotion_is_too_late_as_gg310_says() -> None:
    t = timeline(rollout(analysis=analysis(starting_step=8)), template(metric()))
    assert t.analysis is not None and t.analysis.earliest_rollback == 1500 + 900
    assert t.rollback_in_time is False
    assert "the analysis cannot stop a bad canary (GG310)" in format_text([("demo", t)])
    assert to_data("demo", t)["rollback_before_promotion"] is False


def test_dry_run_and_unfailable_metrics_do_not_roll_back() -> None:
    dry = timeline(rollout(analysis=analysis()), template(metric(), dry_run=["apdex"]))
    assert dry.analysis is not None and dry.analysis.earliest_rollback is None
    assert dry.analysis.metrics[0].dry_run and dry.analysis.metrics[0].measurements == (600, 900, 1200, 1500)
    never = timeline(rollout(analysis=analysis()), template(metric(failureLimit=-1)))
    assert never.analysis is not None and never.analysis.earliest_rollback is None


def test_the_earliest_metric_decides() -> None:
    t = timeline(
        rollout(analysis=analysis()), template(metric(), metric("latency", interval="1m", failureLimit=0))
    )
    assert t.analysis is not None
    assert (t.analysis.earliest_rollback, t.analysis.rollback_metric) == (600, "latency")


def test_measurements_are_bounded() -> None:
    steps = [{"setWeight": 10}, {"pause": {"duration": "24h"}}]
    t = timeline(rollout(steps, analysis(starting_step=0)), template(metric(interval="1s")))
    assert t.analysis is not None
    assert len(t.analysis.metrics[0].measurements) == 100 and t.analysis.metrics[0].truncated


def test_unknown_numbers_give_no_rollback_time() -> None:
    t = timeline(rollout(analysis=analysis()), template(metric(failureLimit="{{args.limit}}")))
    assert t.analysis is not None and t.analysis.earliest_rollback is None
    assert "earliest rollback: unknown" in format_text([("demo", t)])


def test_garbage_is_described_not_a_crash() -> None:
    broken = rollout(steps=[{"setWeight": "x"}, "pause", {"pause": {"duration": "soon"}}, {"a": 1, "b": 2}])
    broken["spec"]["strategy"]["canary"]["analysis"] = {"templates": ["x"], "startingStep": True}
    t = timeline(broken, {"kind": "AnalysisTemplate", "metadata": []})
    assert t.promotion is None and t.stop is not None and t.stop.index == 1
    format_text([("demo", t)]), to_json([("demo", t)]), to_svg([("demo", t)])


def test_time_changes_in_words() -> None:
    demo = timeline(rollout(analysis=analysis()), template(metric()))
    longer = [*DEMO_STEPS[:-1], {"pause": {"duration": "20m"}}]
    slower = timeline(rollout(longer, analysis()), template(metric(failureLimit=1)))
    assert time_changes(demo, slower) == ("full promotion 30m -> 45m", "earliest rollback 25m -> 15m")
    assert time_changes(demo, demo) == ()
    assert time_changes(None, demo) == ("full promotion 30m", "earliest rollback 25m")


def test_diff_plans_carries_the_time_changes() -> None:
    old = [rollout(analysis=analysis()), template(metric())]
    new = [rollout(analysis=analysis()), template(metric(initialDelay="10m"))]
    # canary_plan does not follow initialDelay: the times alone make it a change
    (change,) = diff_plans(old, new)
    assert change.changes == () and change.timing == ("earliest rollback 25m -> 35m (after full promotion)",)


# ---- the bundled example, rendered in memory --------------------------------------------------------


def test_the_bundled_example() -> None:
    ((env, t),) = plan_render(ROOT)
    assert (env, t.service, t.promotion) == ("demo", "reviews", 1800)
    assert t.analysis is not None and (t.analysis.starting_step, t.analysis.start) == (2, 600)
    assert t.analysis.metrics[0].interval == 300
    assert t.analysis.earliest_rollback == 1500
    data = json.loads(to_json([(env, t)]))
    assert data["version"] == 1
    assert data["canaries"][0]["full_promotion"] == 1800
    assert data["canaries"][0]["analysis"]["metrics"][0]["measurements"] == [600, 900, 1200, 1500]


@pytest.mark.parametrize(
    ("starting_step", "fields"),
    [
        (2, {}),
        (8, {}),
        (0, {"failureLimit": 5}),
        (0, {"failureLimit": 6}),
        (4, {"initialDelay": "6m"}),
        (2, {"count": 2, "failureLimit": 1}),
        (2, {"count": 1, "failureLimit": 1}),
        (2, {"count": 2}),
        (2, {"failureLimit": "{{args.limit}}"}),
    ],
)
def test_gg310_warns_exactly_where_the_rollback_is_too_late(
    starting_step: int, fields: dict[str, Any]
) -> None:
    objects = [rollout(analysis=analysis(starting_step)), template(metric(**fields))]
    t = timeline(*objects)
    items = [Item(LoadedObject("x.yaml", 1, obj)) for obj in objects]
    warned = any(f.rule == "GG310" for f in timing.check(ObjectSet(items)))
    # too late, or nothing can fail: a warning; unknown numbers: neither says anything
    assert warned == (t.rollback_in_time is False or rollback_text(t) == "none")


# ---- SVG -----------------------------------------------------------------------------------------------


def test_svg_holds_the_staircase_and_the_markers() -> None:
    t = timeline(rollout(analysis=analysis()), template(metric()))
    text = to_svg([("demo", t)])
    assert text == to_svg([("demo", t)])  # deterministic
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    (line,) = root.iter(f"{SVG}polyline")
    assert line.get("class") == "traffic"
    points = [tuple(float(v) for v in p.split(",")) for p in (line.get("points") or "").split()]
    left, right, top, bottom = 56.0, 736.0, 88.0, 258.0  # the plot area of the first panel
    horizon = 1800 * 1.1

    def x(seconds: float) -> float:
        return round(left + seconds / horizon * (right - left), 1)

    def y(weight: float) -> float:
        return round(bottom - weight / 100 * (bottom - top), 1)

    expected = [(x(0), y(10))]
    for at, (before, after) in zip(
        (600, 900, 1200, 1500, 1800), ((10, 20), (20, 40), (40, 60), (60, 80), (80, 100)), strict=True
    ):
        expected += [(x(at), y(before)), (x(at), y(after))]
    expected.append((right, y(100)))
    assert points == expected
    circles = [c for c in root.iter(f"{SVG}circle") if c.get("class") == "measurement"]
    assert [c.get("data-seconds") for c in circles] == ["600", "900", "1200", "1500"]
    assert [float(c.get("cx") or 0) for c in circles] == [x(600), x(900), x(1200), x(1500)]
    marks = {e.get("class"): e for e in root.iter(f"{SVG}line") if e.get("data-seconds")}
    assert {k: v.get("data-seconds") for k, v in marks.items()} == {
        "analysis-start": "600",
        "rollback": "1500",
        "promotion": "1800",
    }
    assert float(marks["rollback"].get("x1") or 0) == x(1500)
    titles = [e.text for e in root.iter(f"{SVG}title")]
    assert "earliest rollback 25m" in titles and "apdex: measurement at 25m" in titles


def test_svg_of_a_manual_pause_marks_the_stop() -> None:
    steps = [{"setWeight": 10}, {"pause": {"duration": "5m"}}, {"setWeight": 50}, {"pause": {}}]
    root = ET.fromstring(to_svg([("demo", timeline(rollout(steps)))]))
    classes = [e.get("class") for e in root.iter() if e.get("data-seconds")]
    assert classes == ["stop"]
    assert not any(e.get("class") == "promotion" for e in root.iter())


def test_svg_and_text_without_canaries() -> None:
    assert ET.fromstring(to_svg([])).tag == f"{SVG}svg"
    assert format_text([]) == "no canary Rollout in the selection\n"
    assert json.loads(to_json([])) == {"version": 1, "canaries": []}
