"""Go durations as Argo Rollouts reads them: `time.ParseDuration`, with its error texts.

Argo Rollouts parses a metric's `interval`/`initialDelay` (`DurationString.Duration`, v1.9.1
pkg/apis/rollouts/v1alpha1/analysis_types.go) and a pause `duration` given with a unit
(`RolloutPause.DurationSeconds`, pkg/apis/rollouts/v1alpha1/types.go) with Go's `time.ParseDuration`.
This is a port of it (Go src/time/format.go, `ParseDuration`), so that our messages quote the error
the controller would log, e.g. `time: unknown unit "d" in duration "1d"`.
"""

from __future__ import annotations

import re
from typing import Any

_NANOSECONDS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}
_MAX = (1 << 63) - 1  # time.Duration is an int64 of nanoseconds
_NUMBER = re.compile(r"(\d*)(?:\.(\d*))?")
_UNIT = re.compile(r"[^0-9.]*")


def parse_go_duration(text: str) -> tuple[int | None, str | None]:
    """(nanoseconds, None), or (None, Go's error text) as `time.ParseDuration` returns them."""
    invalid = f"time: invalid duration {_quote(text)}"
    rest, negative = text, False
    if rest[:1] in ("-", "+"):
        negative, rest = rest[0] == "-", rest[1:]
    if rest == "0":  # Go's special case: a bare 0 needs no unit
        return 0, None
    if not rest:
        return None, invalid
    total = 0
    while rest:
        if not (rest[0] == "." or (rest[0].isascii() and rest[0].isdigit())):
            return None, invalid
        number = _NUMBER.match(rest)
        assert number is not None  # the pattern matches the empty string
        whole, fraction = number.group(1), number.group(2)
        if not whole and not fraction:  # no digits, e.g. ".s"
            return None, invalid
        rest = rest[number.end() :]
        unit = _UNIT.match(rest)
        assert unit is not None
        if not unit.group():
            return None, f"time: missing unit in duration {_quote(text)}"
        rest = rest[unit.end() :]
        scale = _NANOSECONDS.get(unit.group())
        if scale is None:
            return None, f"time: unknown unit {_quote(unit.group())} in duration {_quote(text)}"
        value = int(whole or "0") * scale
        if fraction:
            value += int(fraction) * scale // 10 ** len(fraction)
        total += value
        if total > _MAX + (1 if negative else 0):
            return None, invalid
    return (-total if negative else total), None


def go_duration_seconds(value: Any) -> float | None:
    """Seconds of a Go duration string, or None when it is not one."""
    if not isinstance(value, str):
        return None
    nanoseconds, _ = parse_go_duration(value)
    return None if nanoseconds is None else nanoseconds / 1e9


def pause_seconds(duration: Any) -> int | None:
    """Argo Rollouts' `RolloutPause.DurationSeconds` (v1.9.1 pkg/apis/rollouts/v1alpha1/types.go): an int
    is seconds; a string is seconds if `strconv.ParseInt` reads it, else a Go duration truncated to whole
    seconds; anything else (upstream: -1) is None."""
    if isinstance(duration, bool):
        return None
    if isinstance(duration, int):
        return duration
    if not isinstance(duration, str):
        return None
    if re.fullmatch(r"[-+]?[0-9]+", duration):
        return int(duration)
    nanoseconds, _ = parse_go_duration(duration)
    return None if nanoseconds is None else int(nanoseconds / 1e9)


def show_seconds(seconds: float) -> str:
    """`30m`, `1h5m`, `90s` -> `1m30s`: a duration as a reviewer writes it."""
    whole = round(seconds)
    sign, whole = ("-", -whole) if whole < 0 else ("", whole)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = "".join(f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)
    return sign + (text or "0s")


def _quote(text: str) -> str:
    """Go's time.quote: the text in double quotes, `"` and `\\` escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
