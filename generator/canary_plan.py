"""What a change means for a canary release, in the words a reviewer uses.

A textual diff of a Rollout shows `- setWeight: 10` / `+ setWeight: 5` somewhere in 60 lines; a reviewer
wants "step 1 weight 10% -> 5%, Apdex threshold 0.99 -> 0.995". `diff_plans` compares the Rollouts and
AnalysisTemplates of one cluster (one environment) before and after a render and says, per Rollout, what
changed in its plan: the steps (weights, pauses, manual pauses, their number), the background analysis
(template, starting step, and per metric the interval, the provider's look-back window, failureLimit, the
success condition's thresholds and minimum data points, the OAP address, the query), replicas and the
workload's scaleDown, and Rollouts that appear or disappear.

Step numbers are 1-based positions in `spec.strategy.canary.steps` ("step 1" is the first step), and so
is the step the analysis starts at (`startingStep: 2` is "step 3"). Apdex and SLA thresholds are read
back from SkyWalking's x10000 integers (`>= 9900` is 0.99). Pure functions over plain objects: nothing
here reads files or knows about environments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .skywalking import SCALED_BY_10000

ROLLOUT = ("argoproj.io", "Rollout")
TEMPLATE_KINDS = ("AnalysisTemplate", "ClusterAnalysisTemplate")
_ADDED, _REMOVED, _CHANGED, _RELEASED = "added", "removed", "changed", "released"

_BOUND = re.compile(r"asFloat\(\s*\.value\s*\)\s*(>=|<=|>|<)\s*(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)")
_MIN_POINTS = re.compile(r"len\(\s*filter\((?:[^()]|\([^()]*\))*\)\s*\)\s*>=\s*([0-9]+)")
_ALIAS = re.compile(r"result\.([A-Za-z_][A-Za-z0-9_]*)")
_SHORT = 60


# ---- the plan of one Rollout --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One canary step: `weight` (an int), `pause` (a duration, or None for a manual pause), or `other`
    (any other step, kept as compact JSON so that a change to it is still seen)."""

    kind: str
    value: Any = None

    def __str__(self) -> str:
        if self.kind == "weight":
            return f"{_number(self.value)}%"
        if self.kind == "pause":
            return _pause(self.value)
        return str(self.value)


@dataclass(frozen=True)
class Metric:
    """One analysis metric, with what its success condition says when gitops-gen (or the demo) wrote it."""

    name: str
    interval: str | None
    window: str | None  # the provider's look-back (`provider.skywalking.interval`)
    failure_limit: Any
    condition: str | None
    address: str | None
    query: str | None
    provider: str  # "skywalking", or the other provider's key
    alias: str | None  # `result.<alias>` the condition reads (the SkyWalking metric)
    minimum: tuple[str, float] | None  # (operator, value) with scaled metrics divided by 10000
    maximum: tuple[str, float] | None
    min_points: int | None

    @property
    def scaled(self) -> bool:
        return self.alias in SCALED_BY_10000

    @property
    def label(self) -> str:
        """How a reviewer calls it: `Apdex`, `SLA`, or the metric's name."""
        if self.alias == "service_apdex":
            return "Apdex"
        if self.alias is not None and self.alias.endswith("_sla"):
            return "SLA"
        return self.name

    def summary(self) -> str:
        """`Apdex >= 0.99`, `p99 <= 500`: the thresholds, or the condition itself when it is not parsed."""
        bounds = [
            f"{self.label} {b[0]} {_number(b[1])}" for b in (self.minimum, self.maximum) if b is not None
        ]
        if bounds:
            return " and ".join(bounds)
        return f"{self.name}: {_short(self.condition or '(no condition)')}"


@dataclass(frozen=True)
class Analysis:
    templates: tuple[str, ...]
    starting_step: int | None
    metrics: tuple[Metric, ...]
    missing: tuple[str, ...]  # templates referenced but not among the objects


@dataclass(frozen=True)
class Plan:
    """A Rollout's canary plan: what `diff_plans` compares."""

    namespace: str
    service: str  # the workload's name (or the Rollout's when it has no workloadRef)
    rollout: str
    replicas: Any
    scale_down: str | None
    steps: tuple[Step, ...]
    analysis: Analysis | None

    def summary(self) -> str:
        """The whole plan on one line, for a canary that appears."""
        text = f"steps {schedule(self.steps)}"
        if self.analysis is not None:
            text += f"; {_describe_analysis(self.analysis)}"
        return text


@dataclass(frozen=True)
class PlanChange:
    """What changed in one Rollout's plan; `changes` are short phrases in a stable order."""

    namespace: str
    service: str
    rollout: str
    status: str  # "added" | "removed" | "changed" | "released" (a Deployment without a Rollout)
    changes: tuple[str, ...]
    # What the change does to the times (`plan.time_changes`): "full promotion 30m -> 45m", ...
    timing: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.service}: {', '.join(self.changes)}"


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _scalar(value: Any) -> Any:
    """A value as the plan keeps it: scalars as they are, anything else (a hand-edited file may hold a
    list where a number belongs) as its text, so plans stay comparable and hashable."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _kind(obj: Mapping[str, Any]) -> tuple[str, str]:
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return group, str(obj.get("kind", ""))


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6g}"


def _pause(duration: Any) -> str:
    return "manual" if duration in (None, "") else _number(duration)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"


def _show(value: Any, unset: str = "unset") -> str:
    return unset if value is None else _number(value)


def _step(raw: Any) -> Step:
    if isinstance(raw, Mapping) and len(raw) == 1:
        if "setWeight" in raw:
            return Step("weight", _scalar(raw["setWeight"]))
        if "pause" in raw:
            pause = raw["pause"]
            duration = pause.get("duration") if isinstance(pause, Mapping) else pause
            return Step("pause", _scalar(duration) if duration not in ("", {}) else None)
    return Step("other", json.dumps(raw, sort_keys=True, separators=(",", ":")))


def schedule(steps: Sequence[Step]) -> str:
    """`10% (10m), 20% (5m), 40% (manual)`: each weight with the pause that follows it."""
    parts: list[str] = []
    index = 0
    while index < len(steps):
        step = steps[index]
        following = steps[index + 1] if index + 1 < len(steps) else None
        if step.kind == "weight" and following is not None and following.kind == "pause":
            parts.append(f"{step} ({following})")
            index += 2
            continue
        parts.append(f"pause {step}" if step.kind == "pause" else str(step))
        index += 1
    return ", ".join(parts) if parts else "(none)"


def _bound(condition: str, operators: tuple[str, str], scaled: bool) -> tuple[str, float] | None:
    for match in _BOUND.finditer(condition):
        operator, value = match.group(1), float(match.group(2))
        if operator in operators:
            return operator, round(value / 10000, 6) if scaled else value
    return None


def _metric(raw: Mapping[str, Any]) -> Metric:
    provider = _get(raw, "provider")
    provider_name = next(iter(provider), "?") if isinstance(provider, Mapping) and provider else "?"
    settings = provider.get(provider_name) if isinstance(provider, Mapping) else None
    settings = settings if isinstance(settings, Mapping) else {}
    condition = raw.get("successCondition")
    condition = condition if isinstance(condition, str) else None
    alias_match = _ALIAS.search(condition or "")
    alias = alias_match.group(1) if alias_match else None
    scaled = alias in SCALED_BY_10000
    points = _MIN_POINTS.search(condition or "")
    return Metric(
        name=str(raw.get("name", "?")),
        interval=_scalar(raw.get("interval")),
        window=_scalar(settings.get("interval")) if provider_name == "skywalking" else None,
        failure_limit=_scalar(raw.get("failureLimit")),
        condition=condition,
        address=_scalar(settings.get("address")),
        query=_scalar(settings.get("query")),
        provider=provider_name,
        alias=alias,
        minimum=_bound(condition or "", (">=", ">"), scaled),
        maximum=_bound(condition or "", ("<=", "<"), scaled),
        min_points=int(points.group(1)) if points else None,
    )


def _templates(objects: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str | None, str], Mapping[str, Any]]:
    """AnalysisTemplates by (kind, namespace, name); ClusterAnalysisTemplates have no namespace."""
    found: dict[tuple[str, str | None, str], Mapping[str, Any]] = {}
    for obj in objects:
        group, kind = _kind(obj)
        if group == "argoproj.io" and kind in TEMPLATE_KINDS:
            namespace = _scalar(_get(obj, "metadata", "namespace")) if kind == "AnalysisTemplate" else None
            found[(kind, namespace, str(_get(obj, "metadata", "name")))] = obj
    return found


def _analysis(
    raw: Any, namespace: str, templates: Mapping[tuple[str, str | None, str], Mapping[str, Any]]
) -> Analysis | None:
    if not isinstance(raw, Mapping):
        return None
    names: list[str] = []
    metrics: list[Metric] = []
    missing: list[str] = []
    for ref in _items(raw.get("templates")):
        if not isinstance(ref, Mapping):
            continue
        name = str(ref.get("templateName", "?"))
        cluster = bool(ref.get("clusterScope"))
        names.append(f"{name} (cluster)" if cluster else name)
        key = ("ClusterAnalysisTemplate", None, name) if cluster else ("AnalysisTemplate", namespace, name)
        template = templates.get(key)
        if template is None:
            missing.append(names[-1])
            continue
        for metric in _items(_get(template, "spec", "metrics")):
            if isinstance(metric, Mapping):
                metrics.append(_metric(metric))
    starting = raw.get("startingStep")
    return Analysis(
        tuple(names), starting if isinstance(starting, int) else None, tuple(metrics), tuple(missing)
    )


def plans(objects: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Plan]:
    """The plan of every canary Rollout among the objects of one cluster, by (namespace, service)."""
    objects = list(objects)
    templates = _templates(objects)
    found: dict[tuple[str, str], Plan] = {}
    for obj in objects:
        if _kind(obj) != ROLLOUT:
            continue
        canary = _get(obj, "spec", "strategy", "canary")
        if not isinstance(canary, Mapping):
            continue  # a blue-green Rollout has no canary plan
        namespace = str(_get(obj, "metadata", "namespace") or "")
        rollout = str(_get(obj, "metadata", "name") or "?")
        service = str(_get(obj, "spec", "workloadRef", "name") or rollout)
        scale_down = _get(obj, "spec", "workloadRef", "scaleDown")
        found[(namespace, service)] = Plan(
            namespace=namespace,
            service=service,
            rollout=rollout,
            replicas=_scalar(_get(obj, "spec", "replicas")),
            scale_down=None if scale_down is None else str(scale_down),
            steps=tuple(_step(s) for s in _items(canary.get("steps"))),
            analysis=_analysis(canary.get("analysis"), namespace, templates),
        )
    return found


# ---- describing plans and their changes ---------------------------------------------------------------


def _starts(step: int | None) -> str:
    return "the start" if step is None else f"step {step + 1}"


def _describe_analysis(analysis: Analysis) -> str:
    names = "+".join(analysis.templates) or "(no template)"
    text = f"analysis {names} from {_starts(analysis.starting_step)}"
    if analysis.metrics:
        text += ": " + ", ".join(m.summary() for m in analysis.metrics)
        intervals = {(m.interval, m.window) for m in analysis.metrics}
        if len(intervals) == 1:
            interval, window = next(iter(intervals))
            if interval is not None:
                text += f" every {interval}"
            if window is not None:
                text += f" over {window}"
        limits = {m.failure_limit for m in analysis.metrics}
        if len(limits) == 1 and None not in limits:
            text += f", failureLimit {_number(next(iter(limits)))}"
    if analysis.missing:
        text += f" (template {', '.join(analysis.missing)} not found)"
    return text


def _step_changes(old: Sequence[Step], new: Sequence[Step]) -> list[str]:
    if old == new:
        return []
    if len(old) == len(new) and all(a.kind == b.kind for a, b in zip(old, new, strict=True)):
        changes = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            if a != b:
                what = {"weight": " weight", "pause": " pause"}.get(a.kind, "")
                changes.append(f"step {index + 1}{what} {a} -> {b}")
        return changes
    text = f"steps {schedule(old)} -> {schedule(new)}"
    if len(old) != len(new):
        text += f" ({len(old)} -> {len(new)} steps)"
    return [text]


def _bound_change(label: str, old: tuple[str, float] | None, new: tuple[str, float] | None) -> str:
    def show(bound: tuple[str, float] | None, with_operator: bool) -> str:
        if bound is None:
            return "none"
        return f"{bound[0]} {_number(bound[1])}" if with_operator else _number(bound[1])

    with_operator = old is None or new is None or old[0] != new[0]
    return f"{label} {show(old, with_operator)} -> {show(new, with_operator)}"


def _metric_changes(old: Metric, new: Metric) -> list[str]:
    """Changes of one metric other than the shared settings (interval, window, failureLimit, address)."""
    changes = []
    if old.minimum != new.minimum:
        word = "threshold" if new.scaled or old.scaled else "min"
        changes.append(_bound_change(f"{new.label} {word}", old.minimum, new.minimum))
    if old.maximum != new.maximum:
        changes.append(_bound_change(f"{new.label} max", old.maximum, new.maximum))
    if old.min_points != new.min_points:
        changes.append(f"{new.label} min data points {_show(old.min_points)} -> {_show(new.min_points)}")
    parsed_same = (old.minimum, old.maximum, old.min_points, old.alias) == (
        new.minimum,
        new.maximum,
        new.min_points,
        new.alias,
    )
    if old.condition != new.condition and (parsed_same or (new.minimum is None and new.maximum is None)):
        changes.append(f"{new.name} successCondition -> {_short(new.condition or '(none)')}")
    if old.provider != new.provider:
        changes.append(f"{new.name} provider {old.provider} -> {new.provider}")
    elif old.query != new.query:
        changes.append(f"{new.name} query changed")
    return changes


_SHARED = (
    ("interval", "analysis interval"),
    ("window", "window"),
    ("failure_limit", "failureLimit"),
    ("address", "OAP address"),
)


def _analysis_changes(old: Analysis | None, new: Analysis | None) -> list[str]:
    if old == new:
        return []
    if new is None:
        return ["analysis removed"]
    if old is None:
        return [f"{_describe_analysis(new)} added"]
    changes = []
    if old.templates != new.templates:
        changes.append(f"analysis template {'+'.join(old.templates)} -> {'+'.join(new.templates)}")
    if old.starting_step != new.starting_step:
        changes.append(f"analysis starts at {_starts(old.starting_step)} -> {_starts(new.starting_step)}")
    old_metrics = {m.name: m for m in old.metrics}
    new_metrics = {m.name: m for m in new.metrics}
    common = [name for name in new_metrics if name in old_metrics]
    for attribute, label in _SHARED:
        pairs = {
            name: (getattr(old_metrics[name], attribute), getattr(new_metrics[name], attribute))
            for name in common
        }
        moved = {name: pair for name, pair in pairs.items() if pair[0] != pair[1]}
        if not moved:
            continue
        if len(moved) == len(common) and len(set(moved.values())) == 1:
            before, after = next(iter(moved.values()))
            changes.append(f"{label} {_show(before)} -> {_show(after)}")
            continue
        for name, (before, after) in moved.items():
            short_label = label.removeprefix("analysis ")
            changes.append(f"{name} {short_label} {_show(before)} -> {_show(after)}")
    for name in common:
        changes.extend(_metric_changes(old_metrics[name], new_metrics[name]))
    for name, metric in new_metrics.items():
        if name not in old_metrics:
            changes.append(f"metric {name} added ({metric.summary()})")
    for name in old_metrics:
        if name not in new_metrics:
            changes.append(f"metric {name} removed")
    for name in new.missing:
        if name not in old.missing:
            changes.append(f"template {name} not found")
    return changes


def _plan_changes(old: Plan, new: Plan) -> list[str]:
    changes = []
    if old.rollout != new.rollout:
        changes.append(f"Rollout {old.rollout} -> {new.rollout}")
    if old.replicas != new.replicas:
        changes.append(f"replicas {_show(old.replicas)} -> {_show(new.replicas)}")
    if old.scale_down != new.scale_down:
        changes.append(f"scaleDown {_show(old.scale_down, 'default')} -> {_show(new.scale_down, 'default')}")
    changes.extend(_step_changes(old.steps, new.steps))
    changes.extend(_analysis_changes(old.analysis, new.analysis))
    return changes


# ---- releases: a Deployment's pod template changes ------------------------------------------------------

DEPLOYMENT = ("apps", "Deployment")


def _deployments(objects: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {
        (str(_get(obj, "metadata", "namespace") or ""), str(_get(obj, "metadata", "name") or "")): obj
        for obj in objects
        if _kind(obj) == DEPLOYMENT
    }


def _images(deployment: Mapping[str, Any]) -> dict[str, str]:
    containers = _items(_get(deployment, "spec", "template", "spec", "containers"))
    return {str(c.get("name")): str(c.get("image")) for c in containers if isinstance(c, Mapping)}


def short_image(old: str, new: str) -> tuple[str, str]:
    """`docker.io/istio/examples-bookinfo-reviews-v1:1.16.4 -> ...-v2:1.16.4` as a reviewer reads it:
    `examples-bookinfo-reviews-v1:1.16.4` and `v2:1.16.4`. The registry path both share is left out, and
    of the new one what it shares with the old up to a `-`, `/` or `:`."""
    shared = 0
    for index, (a, b) in enumerate(zip(old, new, strict=False)):
        if a != b:
            break
        if a == "/":
            shared = index + 1
    old_short, new_short = old[shared:], new[shared:]
    cut = 0
    for index, (a, b) in enumerate(zip(old_short, new_short, strict=False)):
        if a != b:
            break
        if a in "-/:" and index + 1 < len(new_short):
            cut = index + 1
    return old_short, new_short[cut:] if cut and new_short[cut:] else new_short


def _brief(plan: Plan, promotion: str | None) -> str:
    """`canary 10% -> 80% in 5 steps, analysis Apdex >= 0.99, full promotion no sooner than 30m`."""
    weights = [step.value for step in plan.steps if step.kind == "weight"]
    text = "canary"
    if weights:
        text += f" {weights[0]}% -> {weights[-1]}% in {len(weights)} steps"
    if plan.analysis is not None and plan.analysis.metrics:
        text += ", analysis " + ", ".join(m.summary() for m in plan.analysis.metrics)
    if promotion == "manual":
        text += ", full promotion after a manual promotion"
    elif promotion is not None:
        text += f", full promotion no sooner than {promotion}"
    return text


def release_changes(
    old_objects: Iterable[Mapping[str, Any]], new_objects: Iterable[Mapping[str, Any]]
) -> dict[tuple[str, str], tuple[str, ...]]:
    """What each changed Deployment will do, by (namespace, Deployment): its new images, and whether Argo
    Rollouts starts a canary for it (a change of the pod template of a Rollout's workloadRef does; one
    outside the template does not; a Deployment no Rollout references rolls out at once)."""
    from .plan import promotion_text, timelines  # plan builds on this module

    old_objects, new_objects = list(old_objects), list(new_objects)
    before, after = _deployments(old_objects), _deployments(new_objects)
    rollouts, times = plans(new_objects), timelines(new_objects)
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    for key in sorted(before.keys() & after.keys()):
        old, new = before[key], after[key]
        if old == new:
            continue
        phrases = []
        old_images, new_images = _images(old), _images(new)
        for container in sorted(old_images.keys() & new_images.keys()):
            if old_images[container] != new_images[container]:
                was, now = short_image(old_images[container], new_images[container])
                label = f"image {was} -> {now}"
                phrases.append(label if len(new_images) == 1 else f"{container} {label}")
        plan = rollouts.get(key)
        template_changed = _get(old, "spec", "template") != _get(new, "spec", "template")
        if not template_changed:
            phrases.append("will not start a canary (the pod template is unchanged)")
        elif plan is None:
            phrases.append("rolls out at once: no Rollout references this Deployment (no canary)")
        else:
            timeline = times.get(key)
            phrases.append(_brief(plan, promotion_text(timeline) if timeline else None))
            if plan.analysis is None:
                phrases.append("starts a canary without an analysis: nothing rolls a bad version back")
        found[key] = tuple(phrases)
    return found


def diff_plans(
    old_objects: Iterable[Mapping[str, Any]], new_objects: Iterable[Mapping[str, Any]]
) -> list[PlanChange]:
    """The canary plans that differ between two sets of objects of one cluster, sorted by namespace and
    service. Rollouts are matched by namespace and workload (so renaming a Rollout is a change, not a
    removal and an addition); a changed Deployment says what it releases (`release_changes`), and other
    objects are ignored."""
    from .plan import time_changes, timelines  # plan builds on this module

    old_objects, new_objects = list(old_objects), list(new_objects)
    before, after = plans(old_objects), plans(new_objects)
    old_times, new_times = timelines(old_objects), timelines(new_objects)
    releases = release_changes(old_objects, new_objects)
    result = []
    for key in sorted(before.keys() | after.keys() | releases.keys()):
        old, new = before.get(key), after.get(key)
        release = releases.get(key, ())
        timing = time_changes(old_times.get(key), new_times.get(key))
        if old is None and new is not None:
            added = (f"canary added: {new.summary()}",)
            result.append(PlanChange(new.namespace, new.service, new.rollout, _ADDED, added, timing))
        elif new is None and old is not None:
            result.append(PlanChange(old.namespace, old.service, old.rollout, _REMOVED, ("canary removed",)))
        elif old is not None and new is not None:
            changes = (*release, *_plan_changes(old, new))
            if changes or timing:  # an initialDelay or count moves the times and nothing else here
                result.append(PlanChange(new.namespace, new.service, new.rollout, _CHANGED, changes, timing))
        else:  # a Deployment no Rollout references
            result.append(PlanChange(key[0], key[1], "", _RELEASED, release))
    return result
