"""The bad-input corpus (tests/corpus/cases.py): each case gives its exit code and message, never a
traceback, and changes nothing: not the config repo (its files and its .git), not the rendered tree in
it, not the GitOps repo, not a folder outside."""

from __future__ import annotations

import hashlib
import os
import re
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/ is not a package
from cases import CASES, ROOT, Case

from generator.cli import cli

CACHES = ("cache", "xdg")  # --cache-dir, and $XDG_CACHE_HOME for the commands without one
LOCATED = re.compile(r"^[^\s:]+:\d+:\d+: ", re.M)


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("corpus") / "template")


def build_template(root: Path) -> Path:
    """A config repo with its rendered tree committed, a GitOps repo the tree was published to, a render
    cache, and a folder outside them all."""
    cfg = root / "cfg"
    for folder in ("services", "environments"):
        shutil.copytree(ROOT / folder, cfg / folder)
    (root / "outside").mkdir()
    (root / "outside" / "keep.txt").write_text("not gitops-gen's\n")
    env = _env(root)
    result = CliRunner().invoke(
        cli, ["render", "--config", str(cfg), "--cache-dir", str(root / "cache")], env=env
    )
    assert result.exit_code == 0, result.output
    _git("init", "-q", "-b", "main", cwd=cfg)
    _git("add", "-A", cwd=cfg)
    _git("commit", "-q", "-m", "config", cwd=cfg)
    _git("init", "-q", "--bare", "-b", "main", str(root / "gitops.git"), cwd=root)
    result = CliRunner().invoke(
        cli, ["publish", "--config", str(cfg), "--repo", str(root / "gitops.git"), "--push"], env=env
    )
    assert result.exit_code == 0, result.output
    return root


def _env(root: Path) -> dict[str, str]:
    return {"XDG_CACHE_HOME": str(root / "xdg"), "GIT_TERMINAL_PROMPT": "0"}


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry below `root`: its type, mode and content (a link: its target), links not followed."""
    entries: dict[str, tuple[str, int, str]] = {}
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            path = os.path.join(folder, name)
            info = os.lstat(path)
            relative = os.path.relpath(path, root)
            if stat.S_ISLNK(info.st_mode):
                entries[relative] = ("link", 0, os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                entries[relative] = ("dir", info.st_mode, "")
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    entries[relative] = ("file", info.st_mode, hashlib.sha256(handle.read()).hexdigest())
            else:
                entries[relative] = ("other", info.st_mode, "")
    return entries


@pytest.fixture
def case_root(template: Path, tmp_path: Path) -> Iterator[Path]:
    # pytest's own folders are root's alone (0700): a case run as nobody gets one anybody can enter
    tmp_path = Path(tempfile.mkdtemp(prefix="gitops-gen-corpus-"))
    tmp_path.chmod(0o755)
    root = tmp_path / "case"
    shutil.copytree(template, root, symlinks=True)
    yield root
    subprocess.run(["umount", str(root / "small")], capture_output=True, check=False)
    shutil.rmtree(tmp_path, ignore_errors=True)


def _mount_small(root: Path, read_only: bool) -> None:
    small = root / "small"
    small.mkdir()
    if os.geteuid() != 0:
        if read_only:
            small.chmod(0o555)
            return
        pytest.skip("a full folder needs a small tmpfs, which only root can mount here")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    if read_only:
        subprocess.run(["mount", "-o", "remount,ro", str(small)], check=True, capture_output=True)


NOBODY = 65534


def _as_nobody(root: Path) -> list[str]:
    """The prefix that runs a command as `nobody` (root reads and writes any file whatever its mode, so an
    unreadable file needs another user), with the case's folder made theirs; [] when not root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("an unreadable file needs another user than root, and setpriv is not installed")
    prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
    probe = subprocess.run(
        [*prefix, sys.executable, "-c", "import generator"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot run this Python: {probe.stderr.decode().strip()[-200:]}")
    for folder in (root, *root.parents):  # nobody must reach the folder
        if folder.stat().st_mode & 0o001 == 0:
            pytest.skip(f"nobody cannot enter {folder}")
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", str(root)], check=True)
    return prefix


def run(case: Case, root: Path) -> tuple[int, str]:
    args = [part.replace("{root}", str(root)).replace("{cfg}", str(root / "cfg")) for part in case.command]
    user = _as_nobody(root) if case.unreadable else []
    if case.fsize or case.unreadable:  # the limit or the user must hold for the command alone
        limit = case.fsize

        def limited() -> None:
            if limit:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        done = subprocess.run(
            [*user, sys.executable, "-m", "generator", *args],
            env={**os.environ, **_env(root)},
            capture_output=True,
            text=True,
            preexec_fn=limited,
            timeout=120,
            check=False,
        )
        return done.returncode, done.stderr + done.stdout
    result = CliRunner().invoke(cli, args, env=_env(root))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(
            f"{case.id}: {type(result.exception).__name__}: {result.exception}"
        ) from result.exception
    return result.exit_code, result.stderr + result.stdout


def check(case: Case, root: Path) -> None:
    """Run one case in its copy of the template; AssertionError says what went wrong."""
    case.mutate(root)
    if case.needs:
        _mount_small(root, read_only=case.needs == "tmpfs-ro")
    before = snapshot(root)
    code, output = run(case, root)
    assert "Traceback" not in output, output
    assert code == case.code, f"exit {code}, not {case.code}: {output}"
    assert case.expect in output, f"{case.expect!r} not in: {output}"
    if case.located:
        assert LOCATED.match(output), f"not located: {output}"
    after = snapshot(root)
    # The render cache (content-addressed, outside every repository) may gain what the run learnt of the
    # services that did render; nothing else may change.
    changed = sorted(
        k for k in before.keys() | after.keys() if before.get(k) != after.get(k) and not k.startswith(CACHES)
    )
    assert not changed, f"changed: {changed[:10]}"


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_bad_input(case_id: str, case_root: Path) -> None:
    check(CASES[case_id], case_root)


def test_the_corpus_covers_each_category() -> None:
    counts: dict[str, int] = {}
    for case in CASES.values():
        counts[case.category] = counts.get(case.category, 0) + 1
    assert len(CASES) >= 150
    assert {"yaml", "encoding", "names", "numbers", "credentials", "file system", "flags"} <= counts.keys()
