"""GG310, GG311: when background analysis can fail, and which minutes it looks at.

Argo Rollouts v1.9.1 (identical on master for this):
- `rollout/analysis.go` `reconcileBackgroundAnalysisRun`: the background AnalysisRun is created once the
  Rollout reaches `analysis.startingStep` (`replicasetutil.BeforeStartingStep`), and none exists once the
  Rollout is fully promoted (`rolloututil.IsFullyPromoted`): a failure after the last step aborts nothing.
- `analysis/analysis.go` `generateMetricTasks`: the first measurement is taken as soon as the run starts,
  or `initialDelay` after it; the next one `interval` after the previous one finished; with no interval a
  metric is measured once (`Metric.EffectiveCount`), and never more than `count` times.
- `analysis/analysis.go` `assessMetricFailureInconclusiveOrError`: a metric fails when `failed >
  failureLimit` (a negative limit never fails it); one failed metric fails the run and the run's failure
  aborts the Rollout. Metrics in `dryRun` never fail it.
- The clock: a `setWeight` (and setCanaryScale/setHeaderRoute/setMirrorRoute) step takes no time here, a
  timed pause its `duration` (`RolloutPause.DurationSeconds`), and a manual pause (`pause: {}`), an inline
  analysis or an experiment an unknown time: after one of those there is no promotion deadline. Scaling
  pods takes time too, so the real promotion is later than computed: these warnings are about
  configurations that cannot work even when everything is fast.
- The SkyWalking provider asks for `[now - provider.skywalking.interval, now]`
  (`metricproviders/skywalking/skywalking.go`), so with a window shorter than `interval` the minutes
  between one window's end and the next window's start are never measured.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import Finding
from ..yamlio import PathTuple
from .durations import go_duration_seconds, pause_seconds, show_seconds
from .metric_spec import int_value, validate_metric
from .objects import Item, ObjectSet, finding, get, list_at, map_at

_INSTANT_STEPS = frozenset({"setWeight", "setCanaryScale", "setHeaderRoute", "setMirrorRoute"})


def check(objects: ObjectSet) -> Iterator[Finding]:
    for rollout in objects.of_kind("Rollout"):
        yield from _deadline(objects, rollout)
    for template in [*objects.of_kind("AnalysisTemplate"), *objects.of_kind("ClusterAnalysisTemplate")]:
        for index, metric in enumerate(list_at(template.obj, "spec", "metrics")):
            if isinstance(metric, Mapping):
                yield from _window(template, ("spec", "metrics", index), metric)


def step_durations(steps: Sequence[Any]) -> list[float | None]:
    """Seconds each canary step takes (0 for instant steps), None where the time is not known."""
    found: list[float | None] = []
    for step in steps:
        if not isinstance(step, Mapping) or len(step) != 1:
            found.append(None)
            continue
        key, value = next(iter(step.items()))
        if key in _INSTANT_STEPS:
            found.append(0.0)
        elif key == "pause":
            duration = value.get("duration") if isinstance(value, Mapping) else None
            seconds = pause_seconds(duration) if duration is not None else None
            found.append(float(seconds) if seconds is not None and seconds >= 0 else None)
        else:
            found.append(None)  # analysis, experiment, plugin: as long as they take
    return found


@dataclass(frozen=True)
class _Failure:
    """When one metric can fail the run, counted from the run's start; `at` None: it cannot fail."""

    metric: str
    at: float | None
    failures: int
    every: float | None
    delay: float
    why: str = ""


def _metric_failure(metric: Mapping[str, Any]) -> _Failure | None:
    """None when the metric's numbers are not known here (arg placeholders, wrong types)."""
    name = str(metric.get("name", "?"))
    limit, count = int_value(metric, "failureLimit"), int_value(metric, "count")
    interval_text, delay_text = metric.get("interval"), metric.get("initialDelay")
    interval = go_duration_seconds(interval_text) if interval_text else None
    delay = go_duration_seconds(delay_text) if delay_text else 0.0
    if limit is None or count is None or delay is None or (interval_text and interval is None):
        return None
    if limit < 0:
        return _Failure(name, None, 0, interval, delay, "failureLimit is negative (disabled)")
    failures = limit + 1
    measurements = count if count > 0 else (1 if interval is None else None)  # Metric.EffectiveCount
    if measurements is not None and measurements < failures:
        why = f"it is measured {measurements} time(s) and fails only after {failures} failed measurements"
        return _Failure(name, None, failures, interval, delay, why)
    return _Failure(name, delay + limit * (interval or 0.0), failures, interval, delay)


def _templates(objects: ObjectSet, rollout: Item, refs: Sequence[Any]) -> list[Item] | None:
    found = []
    for ref in refs:
        name = ref.get("templateName") if isinstance(ref, Mapping) else None
        if not isinstance(name, str):
            return None
        if ref.get("clusterScope"):
            items = objects.named("ClusterAnalysisTemplate", name)
            template = items[0] if items else None
        else:
            template = objects.find("AnalysisTemplate", rollout.namespace, name)
        if template is None:
            return None  # GG301 reports it
        found.append(template)
    return found


def _dry_run(block: Mapping[str, Any]) -> list[str]:
    return [
        str(d["metricName"])
        for d in list_at(block, "dryRun")
        if isinstance(d, Mapping) and d.get("metricName")
    ]


def _is_dry_run(name: str, patterns: Sequence[str]) -> bool:
    # utils/analysis/helpers.go GetDryRunMetrics: `regexp.MatchString(metricName, metric.Name)`, an
    # unanchored search
    for pattern in patterns:
        try:
            if re.search(pattern, name):
                return True
        except re.error:
            continue
    return False


def _deadline(objects: ObjectSet, rollout: Item) -> Iterator[Finding]:
    canary = map_at(rollout.obj, "spec", "strategy", "canary")
    analysis = map_at(canary, "analysis")
    steps = list_at(canary, "steps")
    if not analysis or not steps:
        return
    starting = analysis.get("startingStep", 0)
    if isinstance(starting, bool) or not isinstance(starting, int) or not 0 <= starting < len(steps):
        return  # GG402 reports it
    templates = _templates(objects, rollout, list_at(analysis, "templates"))
    if not templates:
        return
    durations = step_durations(steps)
    remaining = durations[starting:]
    if any(d is None for d in remaining):
        return  # a manual pause (or an inline analysis, an experiment) stops the clock: no deadline
    before = durations[:starting]
    start = sum(d for d in before if d is not None) if None not in before else None
    promotion = sum(d for d in remaining if d is not None)
    dry = _dry_run(analysis)
    failures: list[_Failure] = []
    for template in templates:
        template_dry = dry + _dry_run(map_at(template.obj, "spec"))
        for metric in list_at(template.obj, "spec", "metrics"):
            if not isinstance(metric, Mapping) or _is_dry_run(str(metric.get("name")), template_dry):
                continue
            failure = _metric_failure(metric) if validate_metric(metric) is None else None
            if failure is None:
                return  # numbers only the cluster knows, or a metric GG307 rejects: no verdict
            failures.append(failure)
    if not failures:
        return
    possible = [f for f in failures if f.at is not None]
    path: PathTuple = ("spec", "strategy", "canary", "analysis")
    if "startingStep" in analysis:
        path = (*path, "startingStep")
    origin = 0.0 if start is None else start

    def at(seconds: float) -> str:
        return show_seconds(origin + seconds)

    begins = (
        f"analysis starts at {at(0)} (startingStep {starting})"
        if start is not None
        else f"analysis starts at startingStep {starting}, after a manual pause (times below count from it)"
    )
    if not possible:
        reasons = "; ".join(f"metric '{f.metric}': {f.why}" for f in failures)
        yield finding(
            "GG310",
            rollout,
            path,
            f"{begins}, but no metric can ever fail it ({reasons}): the analysis cannot abort the rollout",
        )
        return
    first = min(possible, key=lambda f: (f.at, f.metric))
    assert first.at is not None
    if first.at < promotion:
        return
    cadence = f"measures every {show_seconds(first.every)}" if first.every else "measures once"
    delay = f" after an initialDelay of {show_seconds(first.delay)}" if first.delay else ""
    yield finding(
        "GG310",
        rollout,
        path,
        f"{begins}, {cadence}{delay}, and fails at the earliest after {first.failures} failed "
        f"measurement(s) of '{first.metric}' (failureLimit {first.failures - 1}) at {at(first.at)}, "
        f"but the rollout is fully promoted at {at(promotion)} (the end of step {len(steps)}): the "
        "analysis cannot abort it; lower failureLimit or interval, start the analysis earlier, or "
        "lengthen the pauses",
    )


def _window(template: Item, path: PathTuple, metric: Mapping[str, Any]) -> Iterator[Finding]:
    window_text = get(metric, "provider", "skywalking", "interval")
    interval_text = metric.get("interval")
    window, interval = go_duration_seconds(window_text), go_duration_seconds(interval_text)
    if window is None or interval is None or window <= 0 or window >= interval:
        return
    gap = interval - window
    minutes = f"minutes 0-{gap / 60:g}" if gap % 60 == 0 else f"the first {show_seconds(gap)}"
    yield finding(
        "GG311",
        template,
        (*path, "provider", "skywalking", "interval"),
        f"each measurement looks back {show_seconds(window)} (provider.skywalking.interval) but "
        f"measurements are {show_seconds(interval)} apart (interval): {minutes} after each measurement "
        f"({show_seconds(gap)} of every {show_seconds(interval)}) are never measured; set "
        f"provider.skywalking.interval to {interval_text} or more",
    )
