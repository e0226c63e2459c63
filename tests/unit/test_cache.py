"""The render cache only ever saves time: renders with it are byte for byte renders without it.

Random edits to a generated fleet (seeded, so a failure reproduces) are rendered both ways, whole and
one service at a time; trees and findings must be identical. A service rendered alone is checked against
the rules of its whole environment filtered to its files: what the cache keeps of the other services is
enough for every rule. Deleting or damaging the cache changes nothing but the time taken.
"""

from __future__ import annotations

import importlib.util
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from generator.cache import RenderCache
from generator.checks import check_render
from generator.errors import InputError
from generator.render import Rendered, render_environments
from generator.report import format_findings
from generator.validate import BuiltinValidator

_FLEET = Path(__file__).resolve().parent / "test_fleet.py"
_spec = importlib.util.spec_from_file_location("fleet_generator", _FLEET)
assert _spec is not None and _spec.loader is not None
fleet = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fleet)

VALIDATOR = BuiltinValidator()


def make_config(folder: Path, services: int, seed: int) -> Path:
    rng = random.Random(seed)
    (folder / "services").mkdir(parents=True)
    (folder / "environments").mkdir()
    for number in range(services):
        name = f"svc-{number:03d}"
        (folder / "services" / f"{name}.yaml").write_text(fleet.service(name, rng))
    mqe = sorted(p.stem for p in (folder / "services").glob("*.yaml") if "queryStyle: mqe" in p.read_text())
    old_style = "services:\n" + "".join(
        f"  {n}:\n    analysis: {{queryStyle: readMetricsValues}}\n" for n in mqe
    )
    for env in fleet.ENVIRONMENTS:
        (folder / "environments" / f"{env}.yaml").write_text(
            fleet.environment(env) + (old_style if env == "staging" and mqe else "")
        )
    return folder


def outcome(config: Path, cache: RenderCache | None, services: tuple[str, ...] = ()) -> tuple[Any, ...]:
    """Everything a render shows: the files it would write, and its findings; or its error."""
    try:
        rendered = render_environments(config, services=services, cache=cache)
    except InputError as exc:
        return ("error", str(exc))
    result = check_render(rendered, VALIDATOR, "out")
    return ("ok", files(rendered), format_findings(result.findings, "json", result.checked))


def files(rendered: Rendered) -> dict[str, str]:
    return {m.path: m.text for m in rendered.selected}


def whole_then_filtered(config: Path, service: str) -> tuple[Any, ...]:
    """The reference for a one-service render: the whole environment rendered and checked, without a
    cache, then cut down to that service's files."""
    try:
        rendered = render_environments(config)
    except InputError as exc:
        return ("error", str(exc))
    result = check_render(rendered, VALIDATOR, "out")
    mine = {m.path for m in rendered.selected if m.service == service}
    shown = [f for f in result.findings if f.location.path.removeprefix("out/") in mine]
    return (
        "ok",
        {p: t for p, t in files(rendered).items() if p in mine},
        format_findings(shown, "json", len(mine)),
    )


def edit(config: Path, rng: random.Random) -> str:
    """One random, plausible edit; returns what it did."""
    specs = sorted((config / "services").glob("*.yaml"))
    spec = rng.choice(specs)
    text = spec.read_text()
    choice = rng.randrange(9)
    if choice == 0 and "replicas:" in text:
        spec.write_text(re.sub(r"replicas: \d+", f"replicas: {rng.randint(1, 9)}", text))
    elif choice == 1:
        spec.write_text(text.replace("namespace: payments\n", "namespace: payments-batch\n", 1))
    elif choice == 2 and "window: 2m" in text:
        spec.write_text(text.replace("window: 2m", "window: 1m"))  # a new warning (GG311)
    elif choice == 3:
        other = rng.choice(specs).stem
        spec.write_text(text + f"mesh:\n  host: {other}\n" if "mesh:" not in text else text)  # IST0109?
    elif choice == 4:
        env = rng.choice(sorted((config / "environments").glob("*.yaml")))
        env.write_text(
            env.read_text().replace("trafficGroup: payments-traffic", "trafficGroup: payments-mesh")
        )
    elif choice == 5:
        name = f"svc-new-{rng.randrange(1000):03d}"
        (config / "services" / f"{name}.yaml").write_text(fleet.service(name, rng))
    elif choice == 6 and len(specs) > 3:
        spec.unlink()
        for env in (config / "environments").glob("*.yaml"):  # and its overrides
            env.write_text(re.sub(rf"  {spec.stem}:\n    analysis: .*\n", "", env.read_text()))
    elif choice == 7:
        spec.write_text(text.replace("failureLimit: 1", "failureLimit: -3"))  # an error: undone next round
    else:
        env = rng.choice(sorted((config / "environments").glob("*.yaml")))
        env.write_text(
            env.read_text().replace("namespace: payments\n", "namespace: payments\n  replicas: 2\n")
        )
    return f"{choice} on {spec.name}"


@pytest.mark.parametrize("seed", [1, 2])
def test_random_edits_render_the_same_with_and_without_the_cache(tmp_path: Path, seed: int) -> None:
    config = make_config(tmp_path / "config", services=8, seed=seed)
    cache = RenderCache(tmp_path / "cache")
    rng = random.Random(seed)
    assert outcome(config, cache) == outcome(config, None)  # cold
    seen = set()
    for _ in range(7):
        done = edit(config, rng)
        expected = outcome(config, None)
        seen.add(expected[0])
        assert outcome(config, cache) == expected, done
        if expected[0] == "error":  # back to a config that renders, for the next edit
            for spec in (config / "services").glob("*.yaml"):
                spec.write_text(spec.read_text().replace("failureLimit: -3", "failureLimit: 1"))
            continue
        names = sorted(p.stem for p in (config / "services").glob("*.yaml"))
        one = rng.choice(names)
        assert outcome(config, cache, (one,)) == whole_then_filtered(config, one), (done, one)
        assert outcome(config, None, (one,)) == whole_then_filtered(config, one), (done, one)
    assert "ok" in seen


def test_a_deleted_or_damaged_cache_only_costs_time(tmp_path: Path) -> None:
    config = make_config(tmp_path / "config", services=6, seed=4)
    folder = tmp_path / "cache"
    expected = outcome(config, None)
    assert outcome(config, RenderCache(folder)) == expected
    entries = sorted(p for p in folder.rglob("*.json"))
    assert entries
    for number, path in enumerate(entries):  # truncated, not JSON, another key, another format
        damage = [b"", b"{not json", b'{"format": 1, "key": "x", "value": {}}', b'{"format": 99}']
        path.write_bytes(damage[number % len(damage)])
    assert outcome(config, RenderCache(folder)) == expected
    assert outcome(config, RenderCache(folder)) == expected  # rewritten whole
    shutil.rmtree(folder)
    assert outcome(config, RenderCache(folder)) == expected
    assert (folder / ".gitignore").read_text() == "*\n"


def test_an_unwritable_cache_is_no_error(tmp_path: Path) -> None:
    config = make_config(tmp_path / "config", services=3, seed=5)
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder would be")
    assert outcome(config, RenderCache(blocker)) == outcome(config, None)


def test_an_unchanged_config_is_not_rendered_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = make_config(tmp_path / "config", services=5, seed=6)
    cache = RenderCache(tmp_path / "cache")
    render_environments(config, cache=cache)
    from generator import render

    def fail(*args: Any) -> None:
        raise AssertionError("rendered again")

    expected = files(render_environments(config))
    monkeypatch.setattr(render, "render_service", fail)
    monkeypatch.setattr(render, "load_service", fail)
    assert files(render_environments(config, cache=cache)) == expected  # neither loads nor renders a service


def test_the_default_cache_is_outside_the_config_repo(tmp_path: Path) -> None:
    """No commit or pull request can put entries into it (they are written out as they are)."""
    from generator.cache import default_folder

    config = tmp_path / "config"
    folder = default_folder(config)
    assert not folder.resolve().is_relative_to(config.resolve())
    assert folder == default_folder(config / ".." / "config")  # one folder per config repo
    assert folder != default_folder(tmp_path / "other")
