"""Go's time.ParseDuration and Argo Rollouts' pause seconds, as ported in generator/rules/durations.py."""

from __future__ import annotations

import pytest

from generator.rules.durations import parse_go_duration, pause_seconds, show_seconds


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("0", 0),
        ("-0", 0),
        ("5m", 300 * 10**9),
        ("1h30m", 5400 * 10**9),
        ("1.5m", 90 * 10**9),
        (".5s", 5 * 10**8),
        ("5.s", 5 * 10**9),
        ("-2s", -2 * 10**9),
        ("+1ms", 10**6),
        ("3µs", 3000),
        ("3μs", 3000),
    ],
)
def test_valid_durations(text: str, nanoseconds: int) -> None:
    assert parse_go_duration(text) == (nanoseconds, None)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", 'time: invalid duration ""'),
        ("m", 'time: invalid duration "m"'),
        (".s", 'time: invalid duration ".s"'),
        ("5", 'time: missing unit in duration "5"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("3000000h", 'time: invalid duration "3000000h"'),  # beyond int64 nanoseconds
    ],
)
def test_invalid_durations_give_gos_error(text: str, error: str) -> None:
    assert parse_go_duration(text) == (None, error)


def test_pause_seconds_as_rollout_pause_duration_seconds() -> None:
    assert [pause_seconds(v) for v in (30, "30", "10m", "1.9s", "-5m", "soon", True, None)] == [
        30,
        30,
        600,
        1,
        -300,
        None,
        None,
        None,
    ]


def test_show_seconds() -> None:
    assert [show_seconds(s) for s in (0, 90, 1500, 3600, 3725)] == ["0s", "1m30s", "25m", "1h", "1h2m5s"]
