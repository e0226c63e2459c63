"""checks.py: the string-speed path helpers answer as pathlib does; a pool checks what one process does."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from generator.checks import _inside, _resolver, _sets, check_paths, pool_size
from generator.errors import InputError
from generator.render import render_all
from generator.tree import apply_plan, plan_tree, read_index
from generator.validate import BuiltinValidator, manifest_files

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # bench/ is not installed: the fleet generator the bench times too
from bench.fleet import write_fleet  # noqa: E402


def test_resolver_is_path_resolve_with_symlinks_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "tree" / "env").mkdir(parents=True)
    (tmp_path / "tree" / "env" / "a.yaml").write_text("x: 1\n")
    (tmp_path / "link").symlink_to(tmp_path / "tree")
    (tmp_path / "tree" / "b.yaml").symlink_to(tmp_path / "tree" / "env" / "a.yaml")
    resolve = _resolver()
    files = [
        tmp_path / "tree" / "env" / "a.yaml",
        tmp_path / "link" / "env" / "a.yaml",
        tmp_path / "tree" / "b.yaml",
        tmp_path / "tree" / "env" / ".." / "b.yaml",
        tmp_path / "missing.yaml",
    ]
    for file in files:
        assert resolve(str(file)) == str(file.resolve()), file
    relative = os.path.relpath(files[0])
    assert resolve(relative) == str(Path(relative).resolve())


def test_inside_is_is_relative_to_and_relative_to() -> None:
    roots = [Path("/work/out"), Path("/work/out/dev"), Path("/")]
    inside = _inside(roots)
    for file in ("/work/out/dev/a.yaml", "/work/outside/a.yaml", "/work/out", "/a.yaml", "/work/out2/x"):
        path = Path(file)
        expected = next(((r, path.relative_to(r).as_posix()) for r in roots if path.is_relative_to(r)), None)
        assert inside(str(path)) == expected, file


# ---- the sets of a tree, checked side by side -----------------------------------------------------------


@pytest.fixture(scope="module")
def fleet_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rendered fleet big enough for `validate` to use a pool (100 services x 3 environments)."""
    config = tmp_path_factory.mktemp("pool-fleet")
    write_fleet(config, 100)
    out = config / "rendered"
    apply_plan(plan_tree(out, render_all(config)))
    return out


def test_a_pool_of_processes_finds_what_one_process_finds(fleet_tree: Path) -> None:
    validator = BuiltinValidator()
    sets = _sets(
        [fleet_tree], [str(f) for f in manifest_files([fleet_tree])], {fleet_tree: read_index(fleet_tree)}
    )
    # one set per environment of the tree (each sits at the fleet's gitops.path)
    assert [s.files[0][0].split("/rendered/")[1].split("/")[0] for s in sets] == ["dev", "prod", "staging"]
    assert {s.repo_root for s in sets} == {"deploy/mesh"}
    if pool_size(sets, validator, jobs=2) != 2:
        pytest.skip("no fork start method here, or a thread is running: validate checks in one process")
    alone = check_paths([fleet_tree], validator, jobs=1)
    pooled = check_paths([fleet_tree], validator, jobs=2)
    assert alone.checked == pooled.checked > 1000
    assert [str(f) for f in alone.findings] == [str(f) for f in pooled.findings]
    assert {f.rule for f in pooled.findings} >= {"GG308", "GG502"}  # warnings of the fleet, from both


def test_a_bad_file_in_a_pool_is_the_same_located_error(fleet_tree: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(fleet_tree, tree)
    broken = next(iter(sorted((tree / "staging").rglob("rollout.yaml"))))
    broken.write_text("kind: Rollout\nspec: [unclosed\n")
    errors = []
    for jobs in (1, 2):
        with pytest.raises(InputError) as caught:
            check_paths([tree], BuiltinValidator(), jobs=jobs)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert f"{broken}:3:1" in errors[0] or f"{broken}:2:" in errors[0], errors[0]


def test_manifest_files_are_what_rglob_finds_in_path_order(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yml", ".yaml", "c.txt", "d/e.yaml", "d/.hidden.yaml", "d/f/g.yml", "Z.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("a: 1\n")
    (tmp_path / "link").symlink_to(tmp_path / "d")  # a folder link: not followed
    (tmp_path / "file-link.yaml").symlink_to(tmp_path / "a.yaml")  # a file link: a file
    (tmp_path / "folder.yaml").mkdir()
    found = [p for p in tmp_path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    assert manifest_files([tmp_path]) == sorted(found, key=lambda p: p.relative_to(tmp_path).as_posix())
    assert len(manifest_files([tmp_path])) == 7


def test_an_unreadable_folder_is_an_error_not_skipped(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads a folder whatever its mode: no unreadable folder can be made here")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "a.yaml").write_text("a: 1\n")
    (tmp_path / "locked").chmod(0)
    try:
        with pytest.raises(InputError) as caught:
            manifest_files([tmp_path])
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert f"{tmp_path / 'locked'}: cannot read folder: Permission denied" in str(caught.value)
