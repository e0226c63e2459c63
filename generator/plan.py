"""`gitops-gen plan`: the timeline Argo Rollouts follows for each canary, from the rendered objects.

For each canary Rollout: every step with the time it starts and the canary's weight, where the clock
stops (a manual pause, `pause: {}`, or a step that takes as long as it takes: an inline analysis, an
experiment), when the background analysis starts (`startingStep`) and when each metric measures, the
earliest time a failing canary is rolled back, the earliest full promotion, and the new version's share of
the traffic over time. Times are seconds from the start of the rollout.

The clock and the failure arithmetic are GG310's (`rules/timing.py`, which cites Argo Rollouts v1.9.1):
instant steps take 0s, a timed pause its duration; a metric's first measurement is `initialDelay` after
the analysis starts, the next ones `interval` apart (at most `count`), and it fails the run at its
`failureLimit + 1`-th failed measurement; metrics in `dryRun` never fail it. The earliest rollback is the
earliest such failure over the metrics; it stops a bad canary only when it comes before full promotion
(the same strict `<` GG310 applies). Scaling pods takes time too: the real rollout is later, never earlier.

Pure functions over plain objects; `format_text`, `to_json` and `to_svg` are the three outputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .canary_plan import ROLLOUT, _kind, plans
from .rules.durations import show_seconds
from .rules.metric_spec import int_value, validate_metric
from .rules.objects import Item, ObjectSet, list_at, map_at
from .rules.timing import _dry_run, _is_dry_run, _metric_failure, _templates, step_durations
from .validate import LoadedObject

JSON_VERSION = 1
MAX_MEASUREMENTS = 100  # per metric: an interval of 1s over a 24h pause would list 86,400
_CANNOT_FAIL = ("no metric can fail the run", "the templates have no metric")


@dataclass(frozen=True)
class StepTime:
    """One canary step. `start` is None once the clock has stopped before it; `duration` is None for a
    step of unknown length (a manual pause, an inline analysis, an experiment)."""

    index: int  # 0-based, as `startingStep` counts
    kind: str  # "setWeight", "pause", "manual" (a pause without duration), or the step's key
    start: float | None
    duration: float | None
    weight: int | None  # the canary's weight during this step (after it, for setWeight)
    detail: str  # `10%`, `10m`, `manual`, ...


@dataclass(frozen=True)
class MetricTimes:
    """When one metric measures and when it can fail the run. `first` and `fails_after` count from the
    analysis' start; `measurements` are times from the rollout's start (empty while that is unknown)."""

    name: str
    first: float | None  # initialDelay (0 without); None when the numbers are only known in the cluster
    interval: float | None  # None: measured once
    count: int | None  # None or 0: unbounded (with an interval)
    failure_limit: int | None
    fails_after: float | None  # None: it cannot fail the run (or it is not known when)
    dry_run: bool
    measurements: tuple[float, ...]
    truncated: bool  # more than MAX_MEASUREMENTS before the end of the timeline
    why: str  # why it cannot fail, or why its times are not known ("" otherwise)


@dataclass(frozen=True)
class AnalysisTimes:
    starting_step: int | None
    start: float | None  # None: after the clock stopped, never, or not known
    status: (
        str  # "runs", "after-stop" (starts after a manual pause), "never" (startingStep beyond), "unknown"
    )
    templates: tuple[str, ...]
    metrics: tuple[MetricTimes, ...]
    earliest_rollback: float | None  # from the rollout's start
    rollback_metric: str | None
    why: str  # when earliest_rollback is None: why


@dataclass(frozen=True)
class Timeline:
    namespace: str
    service: str
    rollout: str
    steps: tuple[StepTime, ...]
    stop: StepTime | None  # the step where the clock stops (None: it runs to full promotion)
    promotion: float | None  # the earliest full promotion; None after a stop
    analysis: AnalysisTimes | None
    traffic: tuple[tuple[float, int], ...]  # (from this time, the new version's share in %)

    @property
    def end(self) -> float:
        """The last time the timeline knows: full promotion, or where the clock stops."""
        if self.promotion is not None:
            return self.promotion
        return self.stop.start if self.stop is not None and self.stop.start is not None else 0.0

    @property
    def rollback_in_time(self) -> bool | None:
        """Whether the earliest rollback comes before full promotion (None: no rollback, or no promotion
        time to compare with, where a manual pause waits as long as it takes)."""
        rollback = self.analysis.earliest_rollback if self.analysis else None
        if rollback is None or self.promotion is None:
            return None
        return rollback < self.promotion


# ---- the timeline -------------------------------------------------------------------------------------


def _step_kind(raw: Any, duration: float | None) -> tuple[str, str]:
    if not isinstance(raw, Mapping) or len(raw) != 1:
        return "unknown", json.dumps(raw, sort_keys=True, default=str)
    key, value = next(iter(raw.items()))
    if key == "setWeight":
        return "setWeight", f"{value}%"
    if key == "pause":
        timed = isinstance(value, Mapping) and value.get("duration") is not None
        if not timed:
            return "manual", "manual"
        return "pause", show_seconds(duration) if duration is not None else str(value.get("duration"))
    return str(key), ""


def _steps(raw_steps: Sequence[Any]) -> tuple[tuple[StepTime, ...], StepTime | None, float | None]:
    durations = step_durations(raw_steps)
    steps: list[StepTime] = []
    clock: float | None = 0.0
    weight: int | None = 0
    stop = None
    for index, (raw, duration) in enumerate(zip(raw_steps, durations, strict=True)):
        kind, detail = _step_kind(raw, duration)
        if kind == "setWeight":
            value = raw["setWeight"]
            weight = value if isinstance(value, int) and not isinstance(value, bool) else None
        step = StepTime(index, kind, clock, duration, weight, detail)
        steps.append(step)
        if clock is not None and duration is None:
            stop = step
        clock = None if clock is None or duration is None else clock + duration
    return tuple(steps), stop, clock


def _traffic(steps: Sequence[StepTime], promotion: float | None) -> tuple[tuple[float, int], ...]:
    points: list[tuple[float, int]] = [(0.0, 0)]
    for step in steps:
        if step.start is None or step.kind != "setWeight" or step.weight is None:
            continue
        if points[-1][0] == step.start:
            points[-1] = (step.start, step.weight)
        else:
            points.append((step.start, step.weight))
    if promotion is not None:
        if points[-1][0] == promotion:
            points[-1] = (promotion, 100)
        else:
            points.append((promotion, 100))
    return tuple(points)


def _measurements(
    start: float, first: float, interval: float | None, count: int | None, horizon: float, inclusive: bool
) -> tuple[tuple[float, ...], bool]:
    limit = count if count else (1 if interval is None else None)  # Metric.EffectiveCount
    times: list[float] = []
    k = 0
    while limit is None or k < limit:
        at = start + first + k * (interval or 0.0)
        if at > horizon or (at == horizon and not inclusive):
            break
        if len(times) == MAX_MEASUREMENTS:
            return tuple(times), True
        times.append(at)
        if not interval or interval <= 0:
            break
        k += 1
    return tuple(times), False


def _analysis(
    objects: ObjectSet,
    rollout: Item,
    raw: Mapping[str, Any],
    steps: Sequence[StepTime],
    promotion: float | None,
) -> AnalysisTimes:
    starting = raw.get("startingStep", 0)
    valid = isinstance(starting, int) and not isinstance(starting, bool) and starting >= 0
    refs = list_at(raw, "templates")
    names = tuple(str(r.get("templateName", "?")) for r in refs if isinstance(r, Mapping))
    if not valid:
        return AnalysisTimes(None, None, "unknown", names, (), None, None, "startingStep is not a number")
    if starting >= len(steps):
        why = f"startingStep {starting} is beyond the {len(steps)} steps: the analysis never starts"
        return AnalysisTimes(starting, None, "never", names, (), None, None, why)
    start = steps[starting].start
    status = "runs" if start is not None else "after-stop"
    templates = _templates(objects, rollout, refs)
    if templates is None:
        return AnalysisTimes(starting, start, status, names, (), None, None, "a template is not found")
    dry = _dry_run(raw)
    stop = next((s for s in steps if s.start is not None and s.duration is None), None)
    metrics: list[MetricTimes] = []
    unknown = False
    for template in templates:
        template_dry = dry + _dry_run(map_at(template.obj, "spec"))
        for metric in list_at(template.obj, "spec", "metrics"):
            if not isinstance(metric, Mapping):
                continue
            name = str(metric.get("name", "?"))
            is_dry = _is_dry_run(name, template_dry)
            failure = _metric_failure(metric) if validate_metric(metric) is None else None
            if failure is None:
                unknown = unknown or not is_dry
                why = "its numbers are only known in the cluster, or Argo Rollouts rejects it (GG307)"
                metrics.append(MetricTimes(name, None, None, None, None, None, is_dry, (), False, why))
                continue
            count = int_value(metric, "count")
            limit = int_value(metric, "failureLimit")
            fails = None if is_dry else failure.at
            why = "dryRun: it never fails the run" if is_dry else failure.why
            times: tuple[float, ...] = ()
            truncated = False
            if start is not None:
                # Up to full promotion (a measurement then is too late); after a stop, up to the stop and
                # on to the metric's earliest failure, since the analysis goes on measuring while paused.
                if promotion is not None:
                    horizon, inclusive = promotion, False
                else:
                    end = stop.start if stop is not None and stop.start is not None else start
                    horizon, inclusive = max(end, start + fails if fails is not None else end), True
                times, truncated = _measurements(
                    start, failure.delay, failure.every, count, horizon, inclusive
                )
            metrics.append(
                MetricTimes(
                    name, failure.delay, failure.every, count, limit, fails, is_dry, times, truncated, why
                )
            )
    failing = [m for m in metrics if m.fails_after is not None]
    if unknown:
        return AnalysisTimes(
            starting, start, status, names, tuple(metrics), None, None, "a metric's times are not known here"
        )
    if not failing:
        why = _CANNOT_FAIL[0] if metrics else _CANNOT_FAIL[1]
        return AnalysisTimes(starting, start, status, names, tuple(metrics), None, None, why)
    first = min(failing, key=lambda m: (m.fails_after, m.name))
    assert first.fails_after is not None
    if start is None:
        why = "the analysis starts after the clock stops"
        return AnalysisTimes(starting, None, status, names, tuple(metrics), None, first.name, why)
    return AnalysisTimes(
        starting, start, status, names, tuple(metrics), start + first.fails_after, first.name, ""
    )


def timelines(objects: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Timeline]:
    """The timeline of every canary Rollout among the objects of one cluster, by (namespace, service), as
    `canary_plan.plans` finds them."""
    objects = list(objects)
    found = plans(objects)
    items = [Item(LoadedObject("", 1, dict(obj))) for obj in objects]
    object_set = ObjectSet(items)
    result: dict[tuple[str, str], Timeline] = {}
    for item in items:
        if _kind(item.obj) != ROLLOUT:
            continue
        canary = map_at(item.obj, "spec", "strategy", "canary")
        key = (item.namespace, str(map_at(item.obj, "spec", "workloadRef").get("name") or item.name))
        plan = found.get(key)
        if not canary or plan is None:
            continue
        steps, stop, promotion = _steps(list_at(canary, "steps"))
        raw_analysis = map_at(canary, "analysis")
        analysis = _analysis(object_set, item, raw_analysis, steps, promotion) if raw_analysis else None
        result[key] = Timeline(
            plan.namespace,
            plan.service,
            plan.rollout,
            steps,
            stop,
            promotion,
            analysis,
            _traffic(steps, promotion),
        )
    return result


def plan_render(
    config_dir: Path, envs: Sequence[str] = (), services: Sequence[str] = ()
) -> list[tuple[str, Timeline]]:
    """Render the chosen environments and services in memory (as `diff` does: what `render` would write)
    and return their canaries' timelines, by environment, namespace and service."""
    from .render import render_all

    manifests = render_all(config_dir, envs, services)
    found: list[tuple[str, Timeline]] = []
    for env in sorted({m.env for m in manifests}):
        by_key = timelines(m.obj for m in manifests if m.env == env)
        found.extend((env, by_key[key]) for key in sorted(by_key))
    return found


# ---- in words -----------------------------------------------------------------------------------------


def _at(seconds: float | None) -> str:
    return "unknown" if seconds is None else show_seconds(seconds)


def promotion_text(timeline: Timeline) -> str:
    """`30m`, or `manual` when a manual pause (or a step of unknown length) comes first."""
    if timeline.promotion is not None:
        return show_seconds(timeline.promotion)
    return "manual" if timeline.stop is not None and timeline.stop.kind == "manual" else "unknown"


def rollback_text(timeline: Timeline) -> str:
    """`25m`, `35m (after full promotion)`, `none` (no analysis, or none that can fail) or `unknown`."""
    analysis = timeline.analysis
    if analysis is None:
        return "none"
    if analysis.earliest_rollback is None:
        cannot = analysis.status == "never" or analysis.why in _CANNOT_FAIL
        return "none" if cannot else "unknown"
    text = show_seconds(analysis.earliest_rollback)
    return text if timeline.rollback_in_time is not False else f"{text} (after full promotion)"


def time_changes(old: Timeline | None, new: Timeline | None) -> tuple[str, ...]:
    """`full promotion 30m -> 45m`, `earliest rollback 25m -> 15m`: what a plan change does to the times
    (nothing when they stay the same; the new times for a canary that appears)."""
    if new is None:
        return ()
    if old is None:
        return (f"full promotion {promotion_text(new)}", f"earliest rollback {rollback_text(new)}")
    changes = []
    if promotion_text(old) != promotion_text(new):
        changes.append(f"full promotion {promotion_text(old)} -> {promotion_text(new)}")
    if rollback_text(old) != rollback_text(new):
        changes.append(f"earliest rollback {rollback_text(old)} -> {rollback_text(new)}")
    return tuple(changes)


def _metric_line(metric: MetricTimes) -> str:
    if metric.first is None:
        return f"metric '{metric.name}': times unknown ({metric.why})"
    cadence = f"every {show_seconds(metric.interval)}" if metric.interval else "once"
    if metric.count and metric.interval:
        cadence += f", {metric.count} times"
    delay = f" after an initialDelay of {show_seconds(metric.first)}" if metric.first else ""
    text = f"metric '{metric.name}': measures {cadence}{delay}"
    if metric.measurements:
        shown = ", ".join(show_seconds(t) for t in metric.measurements)
        text += f", at {shown}{', ...' if metric.truncated else ''}"
    if metric.fails_after is not None:
        text += (
            f"; fails the run at its {_ordinal((metric.failure_limit or 0) + 1)} failed measurement "
            f"(failureLimit {metric.failure_limit}), "
            f"{show_seconds(metric.fails_after)} after the analysis starts"
        )
    elif metric.why:
        text += f"; {metric.why}"
    return text


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _step_line(step: StepTime, timeline: Timeline) -> str:
    what = {"setWeight": "setWeight", "pause": "pause", "manual": "pause"}.get(step.kind, step.kind)
    text = f"step {step.index + 1}  {what} {step.detail}".rstrip()
    if step.kind == "manual" and step is timeline.stop:
        text += ": waits for a manual promotion (the timeline stops here)"
    elif step is timeline.stop:
        text += ": takes as long as it takes (the timeline stops here)"
    analysis = timeline.analysis
    if analysis is not None and analysis.starting_step == step.index:
        text += f"  <- analysis starts (startingStep {step.index})"
    return text


def format_text(found: Sequence[tuple[str, Timeline]]) -> str:
    """The timelines for people, one block per environment and canary."""
    if not found:
        return "no canary Rollout in the selection\n"
    blocks = []
    for env, timeline in found:
        lines = [f"{env}/{timeline.service}: Rollout {timeline.namespace}/{timeline.rollout}"]
        for step in timeline.steps:
            lines.append(f"  {_at(step.start):>8}  {_step_line(step, timeline)}")
        if timeline.promotion is not None:
            lines.append(f"  {show_seconds(timeline.promotion):>8}  full promotion: 100%")
        analysis = timeline.analysis
        if analysis is None:
            lines.append("  analysis: none (nothing can roll a bad canary back automatically)")
        else:
            names = "+".join(analysis.templates) or "(no template)"
            where = {
                "runs": f"from {_at(analysis.start)}",
                "after-stop": "after the manual promotion (times count from it)",
                "never": "never",
                "unknown": "at an unknown step",
            }[analysis.status]
            lines.append(f"  analysis {names}: starts {where} (startingStep {analysis.starting_step})")
            lines.extend(f"    {_metric_line(m)}" for m in analysis.metrics)
        rollback = rollback_text(timeline)
        if analysis is not None and analysis.earliest_rollback is not None and timeline.promotion is not None:
            gap = timeline.promotion - analysis.earliest_rollback
            relation = f"{show_seconds(abs(gap))} {'before' if gap > 0 else 'after'} full promotion"
            rollback = f"{show_seconds(analysis.earliest_rollback)} ({relation}"
            rollback += ")" if gap > 0 else "): the analysis cannot stop a bad canary (GG310))"
        elif analysis is not None and analysis.why and analysis.earliest_rollback is None:
            rollback += f" ({analysis.why})"
        lines.append(f"  earliest rollback: {rollback}")
        lines.append(f"  full promotion: {_promotion_words(timeline)}")
        traffic = ", ".join(f"{w}% from {show_seconds(t)}" for t, w in timeline.traffic)
        if timeline.promotion is None:
            traffic += " until promoted"
        lines.append(f"  traffic: {traffic}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _promotion_words(timeline: Timeline) -> str:
    if timeline.promotion is not None:
        return f"no sooner than {show_seconds(timeline.promotion)}"
    stop = timeline.stop
    assert stop is not None
    if stop.kind == "manual":
        return f"manual (step {stop.index + 1} waits for a promotion from {_at(stop.start)})"
    return f"unknown (step {stop.index + 1}, {stop.kind}, takes as long as it takes)"


def _json_number(seconds: float | None) -> int | float | None:
    if seconds is None:
        return None
    return int(seconds) if float(seconds).is_integer() else round(seconds, 3)


def to_data(env: str, timeline: Timeline) -> dict[str, Any]:
    """One canary's timeline as the JSON output holds it (README "Plan" documents every field)."""
    analysis = timeline.analysis
    return {
        "environment": env,
        "namespace": timeline.namespace,
        "service": timeline.service,
        "rollout": timeline.rollout,
        "steps": [
            {
                "index": s.index,
                "kind": s.kind,
                "start": _json_number(s.start),
                "duration": _json_number(s.duration),
                "weight": s.weight,
            }
            for s in timeline.steps
        ],
        "stop": None
        if timeline.stop is None
        else {
            "index": timeline.stop.index,
            "kind": timeline.stop.kind,
            "at": _json_number(timeline.stop.start),
        },
        "full_promotion": _json_number(timeline.promotion),
        "analysis": None
        if analysis is None
        else {
            "templates": list(analysis.templates),
            "starting_step": analysis.starting_step,
            "status": analysis.status,
            "start": _json_number(analysis.start),
            "metrics": [
                {
                    "name": m.name,
                    "first_measurement": _json_number(m.first),
                    "interval": _json_number(m.interval),
                    "count": m.count or None,
                    "failure_limit": m.failure_limit,
                    "fails_after": _json_number(m.fails_after),
                    "dry_run": m.dry_run,
                    "measurements": [_json_number(t) for t in m.measurements],
                    "measurements_truncated": m.truncated,
                    "note": m.why or None,
                }
                for m in analysis.metrics
            ],
            "earliest_rollback": _json_number(analysis.earliest_rollback),
            "rollback_metric": analysis.rollback_metric if analysis.earliest_rollback is not None else None,
            "note": analysis.why or None,
        },
        "rollback_before_promotion": timeline.rollback_in_time,
        "traffic": [{"from": _json_number(t), "weight": w} for t, w in timeline.traffic],
    }


def to_json(found: Sequence[tuple[str, Timeline]]) -> str:
    data = {"version": JSON_VERSION, "canaries": [to_data(env, t) for env, t in found]}
    return json.dumps(data, indent=2) + "\n"
