"""pr_body: a canary's plan change says what it does to the earliest full promotion and rollback."""

from __future__ import annotations

import copy
from pathlib import Path

from generator.canary_plan import diff_plans
from generator.pr_body import BodyInput, render_body
from generator.render import render_all

ROOT = Path(__file__).resolve().parents[2]


def body(changes: list[tuple[str, object]]) -> str:
    return render_body(
        BodyInput(
            title="t",
            source=None,
            dirty=False,
            target_branch="main",
            branch="b",
            path="rendered",
            groups=[],
            canary=changes,  # type: ignore[arg-type]
            validation="passed",
            diffs=[],
        )
    )


def demo_objects() -> list[dict]:
    return [copy.deepcopy(dict(m.obj)) for m in render_all(ROOT) if m.env == "demo"]


def test_the_line_leads_with_the_times() -> None:
    old = demo_objects()
    new = demo_objects()
    for obj in new:
        if obj["kind"] == "Rollout":
            obj["spec"]["strategy"]["canary"]["steps"][-1] = {"pause": {"duration": "20m"}}
        if obj["kind"] == "AnalysisTemplate":
            obj["spec"]["metrics"][0]["failureLimit"] = 1
    changes = [("prod", change) for change in diff_plans(old, new)]
    assert (
        "- **reviews/prod**: full promotion 30m -> 45m, earliest rollback 25m -> 15m, "
        "step 10 pause 5m -> 20m, failureLimit 3 -> 1\n"
    ) in body(changes)


def test_an_added_canary_says_its_times_after_its_steps() -> None:
    changes = [("demo", change) for change in diff_plans([], demo_objects())]
    line = next(line for line in body(changes).splitlines() if line.startswith("- **reviews/demo**"))
    assert line.startswith("- **reviews/demo**: canary added: steps 10% (10m), 20% (5m)")
    assert line.endswith(", full promotion 30m, earliest rollback 25m")


def test_no_time_change_no_time_words() -> None:
    old = demo_objects()
    new = demo_objects()
    for obj in new:
        if obj["kind"] == "Rollout":
            obj["spec"]["strategy"]["canary"]["steps"][0] = {"setWeight": 5}
    (change,) = diff_plans(old, new)
    assert change.timing == ()
    assert "- **reviews/demo**: step 1 weight 10% -> 5%\n" in body([("demo", change)])
