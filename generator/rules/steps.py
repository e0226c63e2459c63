"""GG4xx: canary steps."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..errors import Finding
from ..yamlio import PathTuple
from .durations import pause_seconds
from .objects import (
    ObjectSet,
    finding,
    get,
    list_at,
)


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
                seconds = pause_seconds(pause["duration"])
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
