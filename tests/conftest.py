"""Shared fixtures: an isolated git identity, golden files, and a copy of the bundled example."""

from __future__ import annotations

import copy
import difflib
import random
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite golden files instead of comparing")


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Real git, but never the user's config, identity or clock."""
    home = tmp_path_factory.mktemp("home")
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))  # the render cache, never the user's
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test User")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
        monkeypatch.setenv(f"GIT_{role}_DATE", "2026-01-01T00:00:00Z")


@pytest.fixture
def example_config(tmp_path: Path) -> Path:
    """A writable copy of the bundled example config repo (services/ + environments/)."""
    config = tmp_path / "config"
    for folder in ("services", "environments"):
        shutil.copytree(ROOT / folder, config / folder)
    return config


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[Path, str], None]:
    """Compare text with a golden file; `pytest --update-golden` (make golden) rewrites it."""
    update = request.config.getoption("--update-golden")

    def check(path: Path, text: str) -> None:
        if update:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        expected = path.read_text(encoding="utf-8") if path.exists() else ""
        if text != expected:
            diff = "".join(
                difflib.unified_diff(expected.splitlines(True), text.splitlines(True), str(path), "actual")
            )
            pytest.fail(f"{path} differs; run `make golden` if intended:\n{diff}")

    return check


WRONG_TYPES: list[Any] = [None, 1, "x", [], {}, [1], {"a": 1}, True, -5, "10 minutes", [{"x": 1}]]


def _field_paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _field_paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            found += _field_paths(value, (*prefix, index))
    return found


@pytest.fixture
def type_swaps() -> Callable[..., Iterator[list[dict[str, Any]]]]:
    """`type_swaps(objects, rounds, pick=None)`: copies of `objects` with 1-3 fields (of the objects `pick`
    chooses) replaced by a value of another type each round; seeded, so a failure reproduces."""

    def swaps(
        objects: Sequence[dict[str, Any]], rounds: int, pick: Callable[[dict[str, Any]], bool] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        rng = random.Random(20261125)
        candidates = [i for i, o in enumerate(objects) if pick is None or pick(o)]
        for _ in range(rounds):
            mutated = copy.deepcopy(list(objects))
            for _ in range(rng.randint(1, 3)):
                target: Any = mutated[rng.choice(candidates)]
                path = rng.choice([p for p in _field_paths(target) if p])
                for part in path[:-1]:
                    target = target[part]
                target[path[-1]] = copy.deepcopy(rng.choice(WRONG_TYPES))
            yield mutated

    return swaps
