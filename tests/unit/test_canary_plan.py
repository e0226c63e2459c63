"""canary_plan: the meaning of a change to Rollouts and AnalysisTemplates, in a reviewer's words."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from generator.canary_plan import Step, diff_plans, plans, schedule, short_image
from generator.render import render_all

APDEX = (
    "len(filter(result.service_apdex.values.values, {!.isEmptyValue})) >= 2"
    " && all(filter(result.service_apdex.values.values, {!.isEmptyValue}), {asFloat(.value) >= 9900})"
)
STEPS = [
    {"setWeight": 10},
    {"pause": {"duration": "10m"}},
    {"setWeight": 20},
    {"pause": {"duration": "5m"}},
    {"setWeight": 40},
    {"pause": {}},
]


def rollout(
    name: str = "reviews",
    steps: list[dict[str, Any]] | None = None,
    templates: list[str] | None = None,
    starting_step: int | None = 2,
    replicas: int | None = 5,
    namespace: str = "bookinfo",
    analysis: bool = True,
) -> dict[str, Any]:
    canary: dict[str, Any] = {"steps": copy.deepcopy(STEPS if steps is None else steps)}
    if analysis:
        canary["analysis"] = {
            "templates": [{"templateName": t} for t in (templates or ["apdex"])],
            "args": [{"name": "service-name", "value": f"canary|{name}|{namespace}|c|-"}],
        }
        if starting_step is not None:
            canary["analysis"]["startingStep"] = starting_step
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "workloadRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "strategy": {"canary": canary},
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": f"{name}-rollout", "namespace": namespace},
        "spec": spec,
    }


def metric(
    name: str = "apdex",
    condition: str = APDEX,
    interval: str = "5m",
    window: str = "3m",
    failure_limit: int = 3,
    query: str = "query { q }",
    address: str = "http://oap:12800",
) -> dict[str, Any]:
    return {
        "name": name,
        "interval": interval,
        "successCondition": condition,
        "failureLimit": failure_limit,
        "provider": {"skywalking": {"interval": window, "address": address, "query": query}},
    }


def template(
    name: str = "apdex",
    metrics: list[dict[str, Any]] | None = None,
    namespace: str = "bookinfo",
    kind: str = "AnalysisTemplate",
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if kind == "AnalysisTemplate":
        metadata["namespace"] = namespace
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": kind,
        "metadata": metadata,
        "spec": {
            "args": [{"name": "service-name"}],
            "metrics": metrics if metrics is not None else [metric()],
        },
    }


def changes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    return [str(change) for change in diff_plans(old, new)]


def only(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> tuple[str, ...]:
    (change,) = diff_plans(old, new)
    return change.changes


# ---- steps --------------------------------------------------------------------------------------------


def test_identical_objects_have_no_change() -> None:
    assert diff_plans([rollout(), template()], [rollout(), template()]) == []


def test_a_weight_change_names_the_step_1_based() -> None:
    new = rollout()
    new["spec"]["strategy"]["canary"]["steps"][0] = {"setWeight": 5}
    assert only([rollout(), template()], [new, template()]) == ("step 1 weight 10% -> 5%",)


def test_a_pause_change_and_a_manual_pause() -> None:
    new = rollout()
    steps = new["spec"]["strategy"]["canary"]["steps"]
    steps[1] = {"pause": {"duration": "15m"}}
    steps[3] = {"pause": {}}
    steps[5] = {"pause": {"duration": "1h"}}
    assert only([rollout(), template()], [new, template()]) == (
        "step 2 pause 10m -> 15m",
        "step 4 pause 5m -> manual",
        "step 6 pause manual -> 1h",
    )


def test_the_example_of_the_issue() -> None:
    """reviews/prod: step 1 weight 10% -> 5%, Apdex threshold 0.99 -> 0.995, pause 10m -> 15m."""
    new = rollout()
    new["spec"]["strategy"]["canary"]["steps"][0] = {"setWeight": 5}
    new["spec"]["strategy"]["canary"]["steps"][1] = {"pause": {"duration": "15m"}}
    stricter = template(metrics=[metric(condition=APDEX.replace("9900", "9950"))])
    (change,) = diff_plans([rollout(), template()], [new, stricter])
    assert str(change) == (
        "reviews: step 1 weight 10% -> 5%, step 2 pause 10m -> 15m, Apdex threshold 0.99 -> 0.995"
    )
    assert (change.namespace, change.service, change.rollout, change.status) == (
        "bookinfo",
        "reviews",
        "reviews-rollout",
        "changed",
    )


def test_a_different_number_of_steps_shows_both_schedules() -> None:
    new = rollout(steps=[{"setWeight": 5}, {"pause": {"duration": "10m"}}, {"setWeight": 50}])
    assert only([rollout(), template()], [new, template()]) == (
        "steps 10% (10m), 20% (5m), 40% (manual) -> 5% (10m), 50% (6 -> 3 steps)",
    )


def test_same_count_but_other_kinds_shows_both_schedules() -> None:
    new = rollout(
        steps=[
            {"setWeight": 10},
            {"setWeight": 15},
            {"pause": {"duration": "5m"}},
            {"setWeight": 20},
            {"setWeight": 40},
            {"pause": {}},
        ]
    )
    assert only([rollout(), template()], [new, template()]) == (
        "steps 10% (10m), 20% (5m), 40% (manual) -> 10%, 15% (5m), 20%, 40% (manual)",
    )


def test_other_step_kinds_are_compared_as_json() -> None:
    old = rollout(steps=[{"setWeight": 10}, {"setCanaryScale": {"replicas": 1}}])
    new = rollout(steps=[{"setWeight": 10}, {"setCanaryScale": {"replicas": 2}}])
    assert only([old, template()], [new, template()]) == (
        'step 2 {"setCanaryScale":{"replicas":1}} -> {"setCanaryScale":{"replicas":2}}',
    )


def test_schedule_pairs_weights_with_their_pauses() -> None:
    steps = (
        Step("pause", "1m"),
        Step("weight", 10),
        Step("pause", "5m"),
        Step("weight", 50),
        Step("pause"),
        Step("weight", 100),
    )
    assert schedule(steps) == "pause 1m, 10% (5m), 50% (manual), 100%"
    assert schedule(()) == "(none)"


def test_a_bare_string_pause_and_an_empty_duration_read_as_written() -> None:
    (plan,) = plans([rollout(steps=[{"pause": "30s"}, {"pause": {"duration": ""}}], analysis=False)]).values()
    assert plan.steps == (Step("pause", "30s"), Step("pause", None))


# ---- replicas, workload, whole canaries ---------------------------------------------------------------


def test_replicas_and_scale_down() -> None:
    new = rollout(replicas=None)
    new["spec"]["workloadRef"]["scaleDown"] = "onsuccess"
    assert only([rollout(), template()], [new, template()]) == (
        "replicas 5 -> unset",
        "scaleDown default -> onsuccess",
    )


def test_a_new_canary_is_described_whole() -> None:
    (change,) = diff_plans([], [rollout(), template()])
    assert change.status == "added"
    assert change.changes == (
        "canary added: steps 10% (10m), 20% (5m), 40% (manual); analysis apdex from step 3: "
        "Apdex >= 0.99 every 5m over 3m, failureLimit 3",
    )


def test_a_removed_canary() -> None:
    (change,) = diff_plans([rollout(), template()], [template()])
    assert (change.status, change.changes) == ("removed", ("canary removed",))


def test_a_renamed_rollout_of_the_same_workload_is_a_change() -> None:
    new = rollout()
    new["metadata"]["name"] = "reviews"
    assert only([rollout(), template()], [new, template()]) == ("Rollout reviews-rollout -> reviews",)


def test_rollouts_are_matched_per_namespace_and_sorted() -> None:
    old = [
        rollout("b"),
        rollout("a"),
        rollout("a", namespace="other"),
        template(),
        template(namespace="other"),
    ]
    new = copy.deepcopy(old)
    for obj in new[:3]:
        obj["spec"]["replicas"] = 6
    assert [(c.namespace, c.service) for c in diff_plans(old, new)] == [
        ("bookinfo", "a"),
        ("bookinfo", "b"),
        ("other", "a"),
    ]


def test_other_objects_and_blue_green_rollouts_are_ignored() -> None:
    blue_green = rollout("bg")
    blue_green["spec"]["strategy"] = {"blueGreen": {"activeService": "bg"}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "reviews"}}
    assert diff_plans([], [blue_green, service]) == []
    assert plans([blue_green, service]) == {}


# ---- analysis -----------------------------------------------------------------------------------------


def test_starting_step_is_said_as_a_step_number() -> None:
    assert only([rollout(), template()], [rollout(starting_step=3), template()]) == (
        "analysis starts at step 3 -> step 4",
    )
    assert only([rollout(), template()], [rollout(starting_step=None), template()]) == (
        "analysis starts at step 3 -> the start",
    )


def test_a_renamed_template() -> None:
    new = [rollout(templates=["reviews-analysis"]), template("reviews-analysis")]
    assert only([rollout(), template()], new) == ("analysis template apdex -> reviews-analysis",)


def test_interval_window_failure_limit_and_address() -> None:
    new = template(metrics=[metric(interval="1m", window="5m", failure_limit=1, address="http://oap2:12800")])
    assert only([rollout(), template()], [rollout(), new]) == (
        "analysis interval 5m -> 1m",
        "window 3m -> 5m",
        "failureLimit 3 -> 1",
        "OAP address http://oap:12800 -> http://oap2:12800",
    )


def test_a_setting_changed_on_one_metric_of_several_names_it() -> None:
    sla = "len(filter(result.service_sla.values.values, {!.isEmptyValue})) >= 2 && all(filter(result.service_sla.values.values, {!.isEmptyValue}), {asFloat(.value) >= 9990})"
    old = template(metrics=[metric(), metric("sla", sla)])
    new = template(metrics=[metric(), metric("sla", sla, interval="1m")])
    assert only([rollout(), old], [rollout(), new]) == ("sla interval 5m -> 1m",)
    both = template(metrics=[metric(interval="1m"), metric("sla", sla, interval="1m")])
    assert only([rollout(), old], [rollout(), both]) == ("analysis interval 5m -> 1m",)


def test_sla_thresholds_are_fractions_too() -> None:
    sla = "len(filter(result.service_sla.values.values, {!.isEmptyValue})) >= 2 && all(filter(result.service_sla.values.values, {!.isEmptyValue}), {asFloat(.value) >= 9990})"
    old = template(metrics=[metric("sla", sla)])
    new = template(metrics=[metric("sla", sla.replace("9990", "9999"))])
    assert only([rollout(), old], [rollout(), new]) == ("SLA threshold 0.999 -> 0.9999",)


def test_the_demo_condition_and_mqe_conditions_are_read_back() -> None:
    demo = "all(result.service_apdex.values.values, {asFloat(.value) >= 9900})"
    mqe = (
        "len(result.service_apdex.results) == 1 && len(filter(result.service_apdex.results[0].values, "
        "{.value != nil})) >= 3 && all(filter(result.service_apdex.results[0].values, {.value != nil}), "
        "{asFloat(.value) >= 9800})"
    )
    (plan,) = plans([rollout(), template(metrics=[metric(condition=demo)])]).values()
    assert plan.analysis is not None
    assert (plan.analysis.metrics[0].minimum, plan.analysis.metrics[0].min_points) == ((">=", 0.99), None)
    (plan,) = plans([rollout(), template(metrics=[metric(condition=mqe)])]).values()
    assert plan.analysis is not None
    assert (plan.analysis.metrics[0].minimum, plan.analysis.metrics[0].min_points) == ((">=", 0.98), 3)
    assert only(
        [rollout(), template(metrics=[metric(condition=demo)])],
        [rollout(), template(metrics=[metric(condition=mqe)])],
    ) == (
        "Apdex threshold 0.99 -> 0.98",
        "Apdex min data points unset -> 3",
    )


def test_response_time_maximum_and_min_data_points() -> None:
    rt = "len(filter(result.service_resp_time.values.values, {!.isEmptyValue})) >= 2 && all(filter(result.service_resp_time.values.values, {!.isEmptyValue}), {asFloat(.value) <= 500})"
    old = template(metrics=[metric(), metric("latency", rt)])
    new = template(
        metrics=[metric(), metric("latency", rt.replace("<= 500", "<= 300").replace(">= 2", ">= 4"))]
    )
    assert only([rollout(), old], [rollout(), new]) == (
        "latency max 500 -> 300",
        "latency min data points 2 -> 4",
    )


def test_an_operator_change_is_shown() -> None:
    new = template(metrics=[metric(condition=APDEX.replace(">= 9900", "> 9900"))])
    assert only([rollout(), template()], [rollout(), new]) == ("Apdex threshold >= 0.99 -> > 0.99",)


def test_a_custom_condition_is_quoted_short() -> None:
    custom = "result.service_apdex.values.values[0].value == 10000 && true && true && true && true && true"
    (change,) = diff_plans([rollout(), template()], [rollout(), template(metrics=[metric(condition=custom)])])
    assert change.changes[0] == "Apdex threshold >= 0.99 -> none"
    assert change.changes[1] == "Apdex min data points 2 -> unset"
    assert change.changes[2].startswith("apdex successCondition -> result.service_apdex.values.values[0]")
    assert change.changes[2].endswith("…") and len(change.changes[2]) < 100


def test_a_query_change_alone() -> None:
    new = template(metrics=[metric(query="query { other }")])
    assert only([rollout(), template()], [rollout(), new]) == ("apdex query changed",)


def test_metrics_added_and_removed() -> None:
    rt = "len(filter(result.service_resp_time.values.values, {!.isEmptyValue})) >= 2 && all(filter(result.service_resp_time.values.values, {!.isEmptyValue}), {asFloat(.value) <= 500})"
    new = template(metrics=[metric("latency", rt)])
    assert only([rollout(), template()], [rollout(), new]) == (
        "metric latency added (latency <= 500)",
        "metric apdex removed",
    )


def test_analysis_added_and_removed() -> None:
    without = rollout(analysis=False)
    assert only([without], [rollout(), template()]) == (
        "analysis apdex from step 3: Apdex >= 0.99 every 5m over 3m, failureLimit 3 added",
    )
    assert only([rollout(), template()], [without]) == ("analysis removed",)


def test_a_missing_template_is_said() -> None:
    (change,) = diff_plans([], [rollout()])
    assert change.changes == (
        "canary added: steps 10% (10m), 20% (5m), 40% (manual); analysis apdex from step 3 "
        "(template apdex not found)",
    )
    assert only([rollout(), template()], [rollout()]) == ("metric apdex removed", "template apdex not found")


def test_templates_of_another_namespace_do_not_count() -> None:
    (change,) = diff_plans([], [rollout(), template(namespace="elsewhere")])
    assert "(template apdex not found)" in change.changes[0]


def test_cluster_templates() -> None:
    new = rollout()
    new["spec"]["strategy"]["canary"]["analysis"]["templates"] = [
        {"templateName": "apdex", "clusterScope": True}
    ]
    cluster = template(
        kind="ClusterAnalysisTemplate", metrics=[metric(condition=APDEX.replace("9900", "9950"))]
    )
    assert only([rollout(), template()], [new, cluster]) == (
        "analysis template apdex -> apdex (cluster)",
        "Apdex threshold 0.99 -> 0.995",
    )


# ---- on real renders ----------------------------------------------------------------------------------


def objects(config: Path) -> list[Any]:
    return [m.obj for m in render_all(config)]


@pytest.mark.parametrize("style", ["readMetricsValues", "mqe"])
def test_on_rendered_objects(example_config: Path, style: str) -> None:
    spec = example_config / "services/reviews.yaml"
    spec.write_text(spec.read_text().replace("  window: 3m\n", f"  window: 3m\n  queryStyle: {style}\n"))
    before = objects(example_config)
    text = spec.read_text()
    steps = text[text.index("  steps:\n") : text.index("analysis:")]
    spec.write_text(text.replace(steps, "  weights: [5, 25, 50]\n  pause: 15m\n"))
    env = example_config / "environments/demo.yaml"
    env.write_text(
        env.read_text()
        + "services:\n  reviews:\n    replicas: null\n    analysis: {apdex: {threshold: 0.995}, startingStep: 4}\n"
    )
    after = objects(example_config)
    (change,) = diff_plans(before, after)
    assert str(change) == (
        "reviews: replicas 5 -> unset, steps 10% (10m), 20% (5m), 40% (5m), 60% (5m), 80% (5m) -> "
        "5% (15m), 25% (15m), 50% (15m) (10 -> 6 steps), analysis starts at step 3 -> step 5, "
        "Apdex threshold 0.99 -> 0.995"
    )


def test_hand_edited_old_objects_never_crash_the_plan_diff(type_swaps: Any) -> None:
    """The old side comes from the GitOps repo, where anyone may have edited a file: a wrongly typed
    field must not crash the pull-request description after the commit is made (found by random type
    swaps once)."""
    from generator.validate import load_manifests

    root = Path(__file__).resolve().parents[2]
    base = [o.obj for o in load_manifests([root / "rendered"])]
    canary = {"Rollout", "AnalysisTemplate"}
    for objects in type_swaps(base, 400, lambda o: o["kind"] in canary):
        for change in diff_plans(objects, base) + diff_plans(base, objects):
            assert str(change)


# ---- releases: a Deployment's pod template changes -------------------------------------------------------


def _demo_objects() -> list[dict[str, Any]]:
    return [copy.deepcopy(dict(m.obj)) for m in render_all(Path(__file__).resolve().parents[2], ["demo"])]


def _deployment(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == name)


def test_a_new_image_of_a_canary_says_what_the_canary_will_do() -> None:
    old, new = _demo_objects(), _demo_objects()
    container = _deployment(new, "reviews")["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "docker.io/istio/examples-bookinfo-reviews-v2:1.16.4"
    (change,) = diff_plans(old, new)
    assert (change.service, change.status) == ("reviews", "changed")
    assert change.changes == (
        "image examples-bookinfo-reviews-v1:1.16.4 -> v2:1.16.4",
        "canary 10% -> 80% in 5 steps, analysis Apdex >= 0.99, full promotion no sooner than 30m",
    )


def test_a_change_outside_the_pod_template_starts_no_canary() -> None:
    old, new = _demo_objects(), _demo_objects()
    _deployment(new, "reviews")["spec"]["replicas"] = 0
    (change,) = diff_plans(old, new)
    assert change.changes == ("will not start a canary (the pod template is unchanged)",)


def test_a_canary_without_analysis_is_marked() -> None:
    old, new = _demo_objects(), _demo_objects()
    for objects in (old, new):
        rollout = next(o for o in objects if o["kind"] == "Rollout")
        del rollout["spec"]["strategy"]["canary"]["analysis"]
    _deployment(new, "reviews")["spec"]["template"]["spec"]["containers"][0]["image"] = "reviews:2"
    (change,) = diff_plans(old, new)
    assert change.changes[-1] == "starts a canary without an analysis: nothing rolls a bad version back"
    assert change.changes[1].startswith("canary 10% -> 80% in 5 steps, full promotion no sooner than 30m")


def test_a_deployment_without_a_rollout_rolls_out_at_once() -> None:
    old, new = _demo_objects(), _demo_objects()
    _deployment(new, "ratings-v1")["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "docker.io/istio/examples-bookinfo-ratings-v2:1.16.4"
    )
    (change,) = diff_plans(old, new)
    assert (change.service, change.status) == ("ratings-v1", "released")
    assert change.changes == (
        "image examples-bookinfo-ratings-v1:1.16.4 -> v2:1.16.4",
        "rolls out at once: no Rollout references this Deployment (no canary)",
    )


@pytest.mark.parametrize(
    ("old", "new", "shown"),
    [
        ("docker.io/istio/a-v1:1.16.4", "docker.io/istio/a-v2:1.16.4", ("a-v1:1.16.4", "v2:1.16.4")),
        ("app:1.2.3", "app:1.2.4", ("app:1.2.3", "1.2.4")),
        (
            "reg.example.com/team/app:1",
            "other.example.com/team/app:1",
            ("reg.example.com/team/app:1", "other.example.com/team/app:1"),
        ),
        ("app:1", "app@sha256:" + "a" * 64, ("app:1", "app@sha256:" + "a" * 64)),
    ],
)
def test_images_are_shown_short(old: str, new: str, shown: tuple[str, str]) -> None:
    assert short_image(old, new) == shown
