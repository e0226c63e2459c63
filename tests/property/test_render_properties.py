"""Property-based tests of `gitops-gen render` (issue 9, deliverable 3).

1. Random valid configs (tests/property/strategies.py: several services and environments, overrides in
   `services:` and `defaults:`, step lists and the compact form, analysis, ingress, ...) render with exit
   0, the tree passes `validate --validator builtin`, and rendering again (into another folder, with a
   cold and then a warm render cache) gives byte-identical files.
2. Random mutations of valid configs (the bundled example and generated ones: type swaps, deletions,
   nulls, fields the schema knows added with odd values, 10k-character strings, unicode, huge and negative
   numbers, NaN and infinities) never raise, always exit 0, 1 or 2, exit 2 whenever a file breaks its JSON
   schema, leave the output tree as it was unless they exit 0 (and then `validate` passes it too), and
   never touch anything outside it.

Bounded and deterministic for CI: `derandomize=True`, no example database, a fixed `max_examples` per
property. Every example runs in its own temporary folder with `--no-cache` or a cache folder of its own,
in this process (click's CliRunner), with one process (GITOPS_GEN_JOBS=1: no forked workers).
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from generator.cli import cli

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/ is not a package
import strategies as gen

ROOT = Path(__file__).resolve().parents[2]
# Each render that writes makes its files durable (syncfs or fsync, tree.py): on a RAM file system that costs
# nothing, on the machine's disk it is most of an example's time.
SCRATCH = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

# The budget: about 15 s each on the 2-core CI machine (30 s for both; 50-70 s when it is busy).
# GITOPS_GEN_PROPERTY_SCALE=N runs N times as many examples (still derandomized): a longer search, by hand.
SCALE = max(1, int(os.environ.get("GITOPS_GEN_PROPERTY_SCALE", "1") or "1"))
VALID_EXAMPLES = 40 * SCALE
MUTATION_EXAMPLES = 150 * SCALE

BOUNDED = settings(
    deadline=None,  # renders take 50-300 ms; their speed is benchmarked elsewhere (make bench)
    derandomize=True,  # the same examples on every run: CI is deterministic
    database=None,  # and keeps no state between runs
    print_blob=False,
    # The autouse fixtures (an isolated git identity and cache home) are the same for every example;
    # each example makes its own temporary folder.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def gitops_gen(*args: str | Path) -> Result:
    return CliRunner(env={"GITOPS_GEN_JOBS": "1"}).invoke(cli, [str(a) for a in args])


def assert_no_crash(result: Result, what: str) -> None:
    """No exception but SystemExit escaped, no traceback printed, an exit code the README lists."""
    output = result.output + (result.stderr or "")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        trace = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else ""
        raise AssertionError(f"{what}: exception escaped: {result.exception!r}\n{trace}\n{output}")
    assert "Traceback" not in output, f"{what}: traceback printed\n{output}"
    assert result.exit_code in (0, 1, 2), f"{what}: exit {result.exit_code}\n{output}"


def snapshot(folder: Path, skip: Iterable[Path] = ()) -> dict[str, Any]:
    """Every file (bytes), folder and symlink below `folder`, except below the `skip` folders."""
    skipped = [s.resolve() for s in skip]
    found: dict[str, Any] = {}
    if not folder.exists():
        return found
    for path in sorted(folder.rglob("*")):
        resolved = path.resolve() if not path.is_symlink() else path.parent.resolve() / path.name
        if any(resolved == s or s in resolved.parents for s in skipped):
            continue
        relative = str(path.relative_to(folder))
        if path.is_symlink():
            found[relative] = ("symlink", str(path.readlink()))
        elif path.is_dir():
            found[relative] = "dir"
        else:
            found[relative] = path.read_bytes()
    return found


def note_config(config_dir: Path) -> None:
    """The input files, printed with a failing example: the reproducer."""
    for path in sorted(config_dir.glob("*/*.yaml")):
        text = path.read_text(encoding="utf-8")
        note(f"--- {path.relative_to(config_dir)}\n{text if len(text) < 4000 else text[:4000] + '...'}")


# ---- the schema oracle --------------------------------------------------------------------------------


@cache
def _validators() -> dict[str, Any]:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = {
        name: json.loads((ROOT / "schemas" / "spec" / name).read_text(encoding="utf-8"))
        for name in ("service.schema.json", "environment.schema.json")
    }
    registry: Registry[Any] = Registry().with_resources(
        [(name, Resource.from_contents(schema)) for name, schema in schemas.items()]
    )
    return {
        "services": Draft202012Validator(schemas["service.schema.json"], registry=registry),
        "environments": Draft202012Validator(schemas["environment.schema.json"], registry=registry),
    }


def _non_finite(data: Any) -> bool:
    """NaN and the infinities are no JSON numbers: no JSON schema can accept them as one."""
    if isinstance(data, float):
        return not math.isfinite(data)
    if isinstance(data, dict):
        return any(_non_finite(v) for v in data.values())
    if isinstance(data, list):
        return any(_non_finite(v) for v in data)
    return False


def _without_nulls(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _without_nulls(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_without_nulls(v) for v in data]
    return data


def _nulls_dropped(folder: str, data: Any) -> Any:
    """`data` as gitops-gen's loader checks it: without the null values of a spec, or of an environment's
    `tsb`, `argocd`, `defaults` and `services` (spec.py, `without_removals`)."""
    if not isinstance(data, dict):
        return data
    if folder == "services":
        return _without_nulls(data)
    dropped = dict(data)
    for layer in ("tsb", "argocd", "defaults"):
        if isinstance(dropped.get(layer), dict):
            dropped[layer] = _without_nulls(dropped[layer])
    if isinstance(dropped.get("services"), dict):
        dropped["services"] = {k: _without_nulls(v) for k, v in dropped["services"].items()}
    return dropped


def schema_breaches(config_dir: Path) -> tuple[list[str], list[str]]:
    """Which files break their JSON schema, read as the YAML 1.2 round-trip reader reads them: (those that
    break it, those that break it only with a null the schema refuses and the loader drops)."""
    breaches, null_only = [], []
    for folder, validator in _validators().items():
        for path in sorted((config_dir / folder).glob("*.yaml")):
            shown = f"{folder}/{path.name}"
            try:
                data = gen.load_yaml(path.read_text(encoding="utf-8"))
            except Exception as exc:  # not YAML at all: bad input too
                breaches.append(f"{shown}: {type(exc).__name__}")
                continue
            if _non_finite(data):
                breaches.append(f"{shown}: NaN or infinity")
                continue
            error = next(iter(validator.iter_errors(data)), None)
            if error is None:
                continue
            where = f"{shown}: {list(error.absolute_path)}: {error.message[:200]}"
            if next(iter(validator.iter_errors(_nulls_dropped(folder, data))), None) is None:
                null_only.append(where)
            else:
                breaches.append(where)
    return breaches, null_only


# ---- 1. valid configs ----------------------------------------------------------------------------------


@settings(BOUNDED, max_examples=VALID_EXAMPLES)
@given(config=gen.valid_configs())
def test_valid_configs_render_validate_and_render_identically(config: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        root = Path(tmp)
        config_dir = root / "config"
        gen.write_config(config_dir, config)
        note_config(config_dir)
        assert schema_breaches(config_dir) == ([], []), "the strategy drew an invalid config"
        common = ("--config", config_dir, "--validator", "builtin")

        first = gitops_gen("render", *common, "--out", root / "a", "--no-cache")
        assert_no_crash(first, "render")
        assert first.exit_code == 0, first.output
        tree = snapshot(root / "a")
        assert ".gitops-gen.index" in tree

        checked = gitops_gen(
            "validate", "--config", config_dir, "--validator", "builtin", "--no-cache", root / "a"
        )
        assert_no_crash(checked, "validate")
        assert checked.exit_code == 0, checked.output

        # Again, into another folder: with a cold render cache, then with the warm one.
        cold = gitops_gen("render", *common, "--out", root / "b", "--cache-dir", root / "cache")
        assert_no_crash(cold, "render, cold cache")
        assert cold.exit_code == 0, cold.output
        assert snapshot(root / "b") == tree
        warm = gitops_gen("render", *common, "--out", root / "c", "--cache-dir", root / "cache")
        assert_no_crash(warm, "render, warm cache")
        assert warm.exit_code == 0, warm.output
        assert snapshot(root / "c") == tree
        # And over itself: nothing to do, nothing changed.
        again = gitops_gen("render", *common, "--out", root / "a", "--cache-dir", root / "cache", "--check")
        assert_no_crash(again, "render --check")
        assert again.exit_code == 0, again.output
        assert snapshot(root / "a") == tree


# ---- 2. mutated configs --------------------------------------------------------------------------------

bases = st.one_of(st.builds(gen.bundled_example), gen.valid_configs())


@settings(BOUNDED, max_examples=MUTATION_EXAMPLES)
@given(case=gen.mutated_configs(bases), prerender=st.booleans(), use_cache=st.booleans())
def test_mutated_configs_fail_cleanly(
    case: tuple[Any, Any, list[str]], prerender: bool, use_cache: bool
) -> None:
    base, mutated, done = case
    for mutation in done:
        note(mutation)
    with tempfile.TemporaryDirectory(dir=SCRATCH) as tmp:
        root = Path(tmp)
        config_dir = root / "config"
        out = config_dir / "rendered"  # the default --out, inside the config folder
        cache_dir = root / "cache"
        outside = root / "outside"
        outside.mkdir()
        (outside / "keep.yaml").write_text("kind: NotOurs\n")
        cache_args = ("--cache-dir", cache_dir) if use_cache else ("--no-cache",)
        common = ("--config", config_dir, "--validator", "builtin", *cache_args)
        gen.write_config(config_dir, base)
        (config_dir / "README.md").write_text("the config repo's own file\n")
        if prerender:
            previous = gitops_gen("render", *common)
            assert previous.exit_code == 0, previous.output
            (out / "NOTES.md").write_text("hand-written, beside the rendered files\n")
        for folder in ("services", "environments"):
            for path in (config_dir / folder).glob("*.yaml"):
                path.unlink()
        gen.write_config(config_dir, mutated)
        note_config(config_dir)
        tree_before = snapshot(out)
        rest_before = snapshot(root, skip=[out, cache_dir])
        home_cache = Path(os.environ["XDG_CACHE_HOME"])  # the conftest's; --cache-dir or --no-cache: unused
        home_before = snapshot(home_cache)

        result = gitops_gen("render", *common)

        note(f"exit {result.exit_code}\n{result.output[-3000:]}")
        event(f"exit {result.exit_code}")
        assert_no_crash(result, "render")
        assert snapshot(root, skip=[out, cache_dir]) == rest_before, "a file outside the output tree changed"
        assert snapshot(home_cache) == home_before, "the default cache folder changed"
        if result.exit_code != 0:
            assert snapshot(out) == tree_before, f"exit {result.exit_code} but the output tree changed"
            assert out.exists() == bool(tree_before), "the output folder was created"
        elif prerender:
            assert (out / "NOTES.md").read_text() == "hand-written, beside the rendered files\n"
        breaches, null_only = schema_breaches(config_dir)
        if breaches or null_only:  # a null the schema refuses too (in a list item, an unknown key)
            refused = breaches or null_only
            assert result.exit_code == 2, f"exit {result.exit_code} on input its schema refuses: {refused}"
        if result.exit_code == 0:  # what render passed, validate passes too
            checked = gitops_gen(
                "validate", "--config", config_dir, "--validator", "builtin", "--no-cache", out
            )
            assert_no_crash(checked, "validate")
            assert checked.exit_code == 0, checked.output
