"""GG4xx: canary steps."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import Finding
from ..validate import GO_DURATION
from ..yamlio import PathTuple
from .objects import (
    ObjectSet,
    finding,
    get,
    list_at,
)


def _pause_seconds(duration: Any) -> int | None:
    """Argo Rollouts' RolloutPause.DurationSeconds: an int, a numeric string, or a Go duration."""
    if isinstance(duration, bool):
        return None
    if isinstance(duration, int):
        return duration
    if isinstance(duration, str):
        if re.fullmatch(r"[-+]?\d+", duration):
            return int(duration)
        if GO_DURATION.match(duration):
            return 0
    return None


def check(objects: ObjectSet) -> Iterator[Finding]:
    for rollout in objects.of_kind("Rollout"):
        canary = get(rollout.obj, "spec", "strategy", "canary")
        if not isinstance(canary, Mapping):
            continue
        steps = list_at(canary, "steps")
        base: PathTuple = ("spec", "strategy", "canary", "steps")
        previous: int | None = None
        for index, step in enumerate(steps):
            if not isinstance(step, Mapping):
                continue
            weight = step.get("setWeight")
            if isinstance(weight, int) and not isinstance(weight, bool):
                if not 0 <= weight <= 100:
                    yield finding(
                        "GG401", rollout, (*base, index, "setWeight"), f"weight {weight} is outside 0..100"
                    )
                elif previous is not None and weight <= previous:
                    yield finding(
                        "GG401",
                        rollout,
                        (*base, index, "setWeight"),
                        f"weight {weight} does not increase on the previous {previous}",
                    )
                previous = weight
            pause = step.get("pause")
            if isinstance(pause, Mapping) and "duration" in pause:
                seconds = _pause_seconds(pause["duration"])
                if seconds is None or seconds < 0:
                    yield finding(
                        "GG403",
                        rollout,
                        (*base, index, "pause", "duration"),
                        f"pause duration {pause['duration']!r} is not seconds or a duration like 30s, "
                        "10m, 1h",
                    )
        starting = get(canary, "analysis", "startingStep")
        if isinstance(starting, int) and not 0 <= starting < max(len(steps), 1):
            yield finding(
                "GG402",
                rollout,
                ("spec", "strategy", "canary", "analysis", "startingStep"),
                f"startingStep {starting} is outside the {len(steps)} steps",
            )
