"""The string-speed path helpers of checks.py answer as pathlib does."""

from __future__ import annotations

import os
from pathlib import Path

from generator.checks import _inside, _resolver


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
        assert resolve(str(file)) == file.resolve(), file
    relative = os.path.relpath(files[0])
    assert resolve(relative) == Path(relative).resolve()


def test_inside_is_is_relative_to_and_relative_to() -> None:
    roots = [Path("/work/out"), Path("/work/out/dev"), Path("/")]
    inside = _inside(roots)
    for file in ("/work/out/dev/a.yaml", "/work/outside/a.yaml", "/work/out", "/a.yaml", "/work/out2/x"):
        path = Path(file)
        expected = next(((r, path.relative_to(r).as_posix()) for r in roots if path.is_relative_to(r)), None)
        assert inside(path) == expected, file
