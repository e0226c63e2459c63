"""A render or check that passed is answered from its record only while its inputs and tree are unchanged:
the same output as a render, and every change the render would see sends it back to the render."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from generator import spec, tree, uptodate, yamlio
from generator.cache import RenderCache
from generator.cli import cli


def run(config: Path, cache: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["render", "--config", str(config), "--cache-dir", str(cache), *args])
    assert "Traceback" not in result.output + result.stderr
    return result


def records(cache: Path) -> list[Path]:
    return sorted(cache.rglob(f"*.{uptodate.RECORD_PART}.json"))


def test_the_names_are_the_renders() -> None:
    assert uptodate.INPUT_FOLDERS == (spec.SERVICES_DIR, spec.ENVIRONMENTS_DIR)
    assert uptodate.INDEX_NAME == tree.INDEX_NAME
    assert uptodate.TREE_BOOKKEEPING == (tree.LEGACY_INDEX_NAME, tree.JOURNAL_NAME, tree.STAGING_NAME)
    assert uptodate.MAX_INPUT_BYTES == yamlio.MAX_INPUT_BYTES


@pytest.mark.parametrize(
    "args",
    [
        ("--check",),
        (),  # a render that found nothing to write
        ("--check", "--service", "reviews"),
        ("--check", "services/reviews.yaml"),  # the pre-commit hook's changed files
    ],
)
def test_a_replayed_run_says_what_the_render_said(
    example_config: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    cache = tmp_path / "cache"
    assert run(example_config, cache).exit_code == 0  # writes the tree: no record (it wrote)
    assert records(cache) == []
    args = tuple(str(example_config / a) if a.endswith(".yaml") else a for a in args)
    first = run(example_config, cache, *args)
    assert first.exit_code == 0, first.stderr
    assert len(records(cache)) == 1
    again = run(example_config, cache, *args)
    fresh = CliRunner().invoke(cli, ["render", "--config", str(example_config), "--no-cache", *args])
    for result in (again, fresh):
        assert (result.exit_code, result.stdout, result.stderr) == (0, first.stdout, first.stderr)


def _edit_rendered(config: Path) -> None:
    rollout = config / "rendered" / "demo" / "services" / "bookinfo" / "reviews" / "rollout.yaml"
    rollout.write_text(rollout.read_text() + "# edited by hand\n")


def _remove_rendered(config: Path) -> None:
    (config / "rendered" / "demo" / "services" / "bookinfo" / "reviews" / "rollout.yaml").unlink()


def _edit_index(config: Path) -> None:
    (config / "rendered" / tree.INDEX_NAME).write_text('{"format": 2}')  # damaged: the render refuses it


def _interrupted_write(config: Path) -> None:
    (config / "rendered" / tree.JOURNAL_NAME).write_text("{}")


def _edit_spec(config: Path) -> None:
    path = config / "services" / "reviews.yaml"
    text = path.read_text()
    assert "replicas: 5\n" in text
    path.write_text(text.replace("replicas: 5\n", "replicas: 6\n"))


def _new_spec(config: Path) -> None:
    (config / "services" / "stars.yaml").write_text("name: stars\nnamespace: bookinfo\n")


@pytest.mark.parametrize(
    "change",
    [_edit_rendered, _remove_rendered, _edit_index, _interrupted_write, _edit_spec, _new_spec],
)
def test_whatever_the_render_would_see_sends_the_run_back_to_it(
    example_config: Path, tmp_path: Path, change: Callable[[Path], None]
) -> None:
    cache = tmp_path / "cache"
    assert run(example_config, cache).exit_code == 0
    assert run(example_config, cache, "--check").exit_code == 0
    assert len(records(cache)) == 1
    change(example_config)
    replayed = run(example_config, cache, "--check")
    fresh = CliRunner().invoke(cli, ["render", "--config", str(example_config), "--no-cache", "--check"])
    assert replayed.exit_code != 0  # out of date, or a journal to finish first
    assert (replayed.exit_code, replayed.stdout, replayed.stderr) == (
        fresh.exit_code,
        fresh.stdout,
        fresh.stderr,
    )


def test_a_damaged_record_is_a_miss(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache")
    for value in ({"output": "x", "trees": {}}, {"output": [], "trees": {"t": {"files": []}}}, {"trees": 1}):
        cache.put("k" * 64, value, uptodate.RECORD_PART)
        cache._read.clear()
        assert uptodate.replay(cache, "k" * 64) is False
    (tmp_path / "cache" / "kk" / f"{'k' * 64}.{uptodate.RECORD_PART}.json").write_text("{not json")
    assert uptodate.replay(RenderCache(tmp_path / "cache"), "k" * 64) is False


def test_the_key_covers_every_file_below_the_inputs(example_config: Path) -> None:
    key = uptodate.record_key(example_config, ["render"], "builtin")
    (example_config / "services" / "notes").mkdir()
    nested = uptodate.record_key(example_config, ["render"], "builtin")
    (example_config / "services" / "notes" / "x.txt").write_text("x")
    assert len({key, nested, uptodate.record_key(example_config, ["render"], "builtin")}) == 3
    assert uptodate.record_key(example_config / "missing", ["render"], "builtin") is None


def test_a_pipe_or_an_oversized_file_among_the_inputs_is_not_read(
    example_config: Path, tmp_path: Path
) -> None:
    import os

    os.mkfifo(example_config / "services" / "notes.fifo")  # not a spec; opening it would block
    (example_config / "services" / "dump.txt").write_bytes(b"x" * (uptodate.MAX_INPUT_BYTES + 1))
    key = uptodate.record_key(example_config, ["render"], "builtin")
    assert key is not None
    cache = tmp_path / "cache"
    assert run(example_config, cache).exit_code == 0
    first = run(example_config, cache, "--check")
    assert first.exit_code == 0, first.stderr
    assert run(example_config, cache, "--check").stderr == first.stderr  # replayed
    big = example_config / "services" / "dump.txt"
    big.write_bytes(b"y" * (uptodate.MAX_INPUT_BYTES + 2))  # a new size: a new key
    assert uptodate.record_key(example_config, ["render"], "builtin") != key
