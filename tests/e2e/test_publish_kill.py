"""`publish --repo <local clone> --push` killed with SIGKILL at each step and at random moments: the next
publish finishes the work (exit 0, the remote holds the whole new render), git's repositories stay sound
(`git fsck --full --strict`), no lock file is left; a stale `index.lock` or a human's edit is refused with
nothing written. Also the temporary clones of URL-mode runs: removed on every exit path, and those of
killed runs by the next run.

Kill points are exact: a `git` wrapper first on PATH pauses before a chosen subcommand (add, commit,
push), and hooks (`core.hooksPath`), a clean filter and a reference-transaction hook, given to the
killed run only through GIT_CONFIG_* variables, pause inside git while it holds its locks. The test
kills the run's whole process group then, as a CI job's cancellation does. The remote's receive-pack runs
in a session of its own (`setsid`), as a server's would: killing the client does not kill the server.
gitops-gen itself has no test hooks.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import git as gitpython
import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.clone import JOURNAL_FILE
from generator.publish import SCRATCH_PREFIX
from generator.tree import apply_plan, plan_render

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
# To measure: KILL_TEST_REPEAT=n runs every kill point n times and n times as many random kills (`pytest -s`
# prints where the random kills landed)
REPEAT = int(os.environ.get("KILL_TEST_REPEAT", "1"))
# copies of the reviews spec beside the example's four; KILL_TEST_SERVICES=300 for a fleet's publish
SERVICES = int(os.environ.get("KILL_TEST_SERVICES", "6"))
RANDOM_KILLS = 22 * REPEAT
REAL_GIT = shutil.which("git") or "git"

WRAPPER = """#!/bin/sh
# git, paused before the subcommand $PAUSE_BEFORE (once: $PAUSE_MARK) until the test kills it
if [ -n "$PAUSE_BEFORE" ] && [ "$1" = "$PAUSE_BEFORE" ] && [ ! -e "$PAUSE_MARK" ]; then
    : > "$PAUSE_MARK"
    sleep 60
fi
export WRAPPED_GIT_COMMAND="$1"
exec {real} "$@"
"""
# inside git: pause once when run by the subcommand $PAUSE_IN (its locks are held by then)
PAUSE = """[ "$WRAPPED_GIT_COMMAND" = "$PAUSE_IN" ] && [ ! -e "$PAUSE_MARK" ] && { : > "$PAUSE_MARK"; sleep 60; }"""
HOOKS = {
    "pre-commit": f"#!/bin/sh\n{PAUSE}\nexit 0\n",
    "pre-push": f"#!/bin/sh\ncat > /dev/null\n{PAUSE}\nexit 0\n",
    # ref locks are held from "prepared" on
    "reference-transaction": f'#!/bin/sh\ncat > /dev/null\n[ "$1" = prepared ] && {PAUSE}\nexit 0\n',
}
FILTER = f"#!/bin/sh\n{PAUSE}\nexec cat\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run([REAL_GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def write_service(config: Path, number: int) -> None:
    name = f"svc{number:03d}"
    reviews = (ROOT / "services/reviews.yaml").read_text()
    text = (
        reviews.replace("name: reviews", f"name: {name}")
        .replace("templateName: apdex", f"templateName: {name}")
        .replace("serviceAccount: bookinfo-reviews", f"serviceAccount: {name}")
    )
    (config / "services" / f"{name}.yaml").write_text(text)


def change(config: Path, step: int) -> None:
    """A new render: every copy's replicas change, one service comes, one goes."""
    for spec in sorted((config / "services").glob("svc*.yaml")):
        text = spec.read_text()
        spec.write_text(text.replace(f"replicas: {step + 4}", f"replicas: {step + 5}"))
    write_service(config, 100 + step)
    old = config / "services" / f"svc{100 + step - 1:03d}.yaml"
    if old.exists():
        old.unlink()


def expected(config: Path, out: Path) -> dict[str, bytes]:
    if out.exists():
        shutil.rmtree(out)
    apply_plan(plan_render(config, out))
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def remote_tree(remote: Path) -> dict[str, bytes]:
    data = subprocess.run(
        [REAL_GIT, "archive", "main", "rendered"], cwd=remote, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        return {
            m.name.removeprefix("rendered/"): archive.extractfile(m).read()  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile()
        }


def locks(repo: Path) -> list[str]:
    """git's lock files, once a `git gc --auto` a commit started in the background is done (it holds
    gc.log.lock, and others, while it runs; with hundreds of services each publish adds enough objects)."""
    git_dir = repo / ".git" if (repo / ".git").is_dir() else repo
    deadline = time.monotonic() + 120
    while (git_dir / "gc.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    found = []
    for folder, dirs, names in os.walk(repo):
        dirs[:] = [d for d in dirs if d != "objects"]  # loose objects: thousands of files, no locks
        found += [os.path.join(folder, n) for n in names if n.endswith(".lock")]
    return sorted(found)


def fsck(repo: Path) -> None:
    result = subprocess.run(
        [REAL_GIT, "fsck", "--full", "--strict", "--no-dangling"], cwd=repo, capture_output=True, text=True
    )
    assert result.returncode == 0 and "error" not in result.stderr, result.stderr


@dataclass(frozen=True)
class Ran:
    returncode: int
    stderr: str


class Setup:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.config = base / "config"
        for folder in ("services", "environments"):
            shutil.copytree(ROOT / folder, self.config / folder)
        for number in range(1, SERVICES + 1):
            write_service(self.config, number)
        self.remote = base / "remote.git"
        gitpython.Repo.init(self.remote, bare=True, initial_branch="main").close()
        self.clone = base / "clone"
        git(base, "clone", "-q", str(self.remote), str(self.clone))
        (self.clone / "README.md").write_text("The GitOps repository\n")
        git(self.clone, "add", "README.md")
        git(self.clone, "commit", "-q", "-m", "initial")
        git(self.clone, "push", "-q", "origin", "main")
        # the server's side of a push lives on when the client is killed, as on a hosting service
        git(self.clone, "config", "remote.origin.receivepack", "setsid git-receive-pack")
        self.bin = base / "bin"
        self.bin.mkdir()
        (self.bin / "git").write_text(WRAPPER.format(real=REAL_GIT))
        (self.bin / "git").chmod(0o755)
        self.hooks = base / "hooks"
        self.hooks.mkdir()
        for name, text in HOOKS.items():
            (self.hooks / name).write_text(text)
            (self.hooks / name).chmod(0o755)
        (base / "filter").write_text(FILTER)
        (base / "filter").chmod(0o755)
        (base / "attributes").write_text("*.yaml filter=pause\n.gitops-gen.index filter=pause\n")
        self.tmp = base / "tmp"  # TMPDIR of every run: the temporary clones are counted here
        self.tmp.mkdir()
        self.step = 0

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
            "TMPDIR": str(self.tmp),
            "PAUSE_MARK": str(self.base / "paused"),
            **extra,
        }

    def start(self, *args: str, **extra: str) -> subprocess.Popen[bytes]:
        (self.base / "paused").unlink(missing_ok=True)
        command = [sys.executable, "-c", "from generator.cli import main; main()", "publish"]
        return subprocess.Popen(
            [*command, "--config", str(self.config), "--no-validate", *args],
            env=self.env(**extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, killed as a whole
        )

    def publish(self, *args: str) -> Ran:
        """The next publish, in this process (a fresh interpreter for each would double the test's time),
        with the temporary folders in `tmp` as the killed runs have them."""
        with mock.patch.object(tempfile, "tempdir", str(self.tmp)):
            result = CliRunner().invoke(
                cli, ["publish", "--config", str(self.config), "--no-validate", *args], catch_exceptions=False
            )
        return Ran(result.exit_code, result.stderr)

    def local(self, *extra: str) -> tuple[str, ...]:
        return ("--repo", str(self.clone), "--push", *extra)

    def next_render(self) -> dict[str, bytes]:
        self.step += 1
        change(self.config, self.step)
        return expected(self.config, self.base / "expected")


def kill_when_paused(process: subprocess.Popen[bytes], mark: Path, what: str = "") -> None:
    deadline = time.monotonic() + 60
    while not mark.exists():
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the run ended before the kill point (exit {process.returncode}): {err.decode()}")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"{what}: the kill point was never reached: {process.communicate()[1].decode()}")
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)


def assert_recovered(setup: Setup, render: dict[str, bytes], what: str) -> str:
    result = setup.publish(*setup.local())
    assert result.returncode == 0, f"{what}: {result.stderr}"
    assert remote_tree(setup.remote) == render, what
    assert git(setup.clone, "status", "--porcelain", "--", "rendered") == "", what
    assert git(setup.clone, "rev-parse", "HEAD") == git(setup.remote, "rev-parse", "main"), what
    assert not (setup.clone / ".git" / JOURNAL_FILE).exists(), what
    for repo in (setup.clone, setup.remote):
        fsck(repo)
        assert locks(repo) == [], what
    return result.stderr


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    made = Setup(tmp_path)
    made.next_render()
    assert made.publish(*made.local()).returncode == 0
    return made


# The kill points: (name, variables of the killed run). Configuration by environment reaches the killed
# run's git only: the next publish runs plain.
def _config(*pairs: tuple[str, str]) -> dict[str, str]:
    env = {"GIT_CONFIG_COUNT": str(len(pairs))}
    for number, (key, value) in enumerate(pairs):
        env |= {f"GIT_CONFIG_KEY_{number}": key, f"GIT_CONFIG_VALUE_{number}": value}
    return env


def kill_points(setup: Setup) -> dict[str, dict[str, str]]:
    hooks = _config(("core.hooksPath", str(setup.hooks)))
    filtered = _config(
        ("core.attributesFile", str(setup.base / "attributes")),
        ("filter.pause.clean", str(setup.base / "filter")),
    )
    return {
        "the tree written, before git add": {"PAUSE_BEFORE": "add"},
        "inside git add (index.lock held)": {"PAUSE_IN": "add", **filtered},
        "before git commit": {"PAUSE_BEFORE": "commit"},
        "inside git commit (index locks held)": {"PAUSE_IN": "commit", **hooks},
        "git commit updating the branch (ref locks held)": {"PAUSE_IN": "commit", **hooks, "HOOK": "ref"},
        "before git push": {"PAUSE_BEFORE": "push"},
        "inside git push": {"PAUSE_IN": "push", **hooks},
    }


def test_a_publish_killed_at_each_step_is_finished_by_the_next(setup: Setup) -> None:
    recovered: Counter[str] = Counter()
    for name, env in [item for item in kill_points(setup).items() for _ in range(REPEAT)]:
        env = dict(env)
        ref = env.pop("HOOK", "") == "ref"  # the reference-transaction hook pauses, not pre-commit
        (setup.hooks / "reference-transaction").chmod(0o755 if ref else 0o644)
        (setup.hooks / "pre-commit").chmod(0o644 if ref else 0o755)
        render = setup.next_render()
        process = setup.start(*setup.local(), **env)
        kill_when_paused(process, setup.base / "paused", name)
        assert (setup.clone / ".git" / JOURNAL_FILE).exists(), name
        assert remote_tree(setup.remote) != render, name
        if name.startswith(("inside git add", "inside git commit", "git commit updating")):
            assert locks(setup.clone / ".git"), f"{name}: git holds its locks there"
        assert_recovered(setup, render, name)
        recovered[name] += 1
    print("\nkill runs per step, all recovered:", dict(recovered))
    assert sum(recovered.values()) == len(kill_points(setup)) * REPEAT


def landed(setup: Setup, render: dict[str, bytes]) -> str:
    """Where a kill landed, from what it left."""
    journal = (setup.clone / ".git" / JOURNAL_FILE).exists()
    dirty = git(setup.clone, "status", "--porcelain", "--untracked-files=all", "--", "rendered")
    ahead = git(setup.clone, "rev-parse", "HEAD") != git(setup.remote, "rev-parse", "main")
    if not journal:
        where = "done" if remote_tree(setup.remote) == render else "before the journal"
    elif dirty:
        where = "tree written (or being written), not committed"
    elif ahead:
        where = "committed, not pushed"
    else:
        where = "journal written, tree not yet (or pushed, journal not yet removed)"
    return where + (" + git's lock files" if locks(setup.clone / ".git") else "")


def test_a_publish_killed_at_random_moments_is_finished_by_the_next(setup: Setup) -> None:
    # one run measures how long the part worth killing lasts: from the journal to its removal
    setup.next_render()
    started = time.monotonic()
    process = setup.start(*setup.local())
    journal = setup.clone / ".git" / JOURNAL_FILE
    while not journal.exists() and process.poll() is None:
        time.sleep(0.001)
    began = time.monotonic()
    while journal.exists() and process.poll() is None:  # removed once the push is done
        time.sleep(0.001)
    window, whole = time.monotonic() - began, time.monotonic() - started
    process.communicate(timeout=120)
    assert process.returncode == 0
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    for attempt in range(RANDOM_KILLS):
        render = setup.next_render()
        process = setup.start(*setup.local())
        if attempt % 5 == 0:  # any moment of the run, the render included
            time.sleep(rng.uniform(0, whole))
        else:
            while not journal.exists() and process.poll() is None:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, window))
        with contextlib.suppress(ProcessLookupError):  # it may have finished
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate(timeout=60)
        where = landed(setup, render)
        assert_recovered(setup, render, f"random kill {attempt} ({where}; seed {seed})")
        outcomes[where] += 1
    print(f"\n{RANDOM_KILLS} random kills (seed {seed}), all recovered:", dict(outcomes))


def snapshot(repo: Path) -> dict[str, bytes]:
    """Every file of the work tree and of .git, but the objects (which a refused run may not add to)."""
    return {
        p.relative_to(repo).as_posix(): p.read_bytes()
        for p in sorted(repo.rglob("*"))
        if p.is_file() and "objects" not in p.relative_to(repo).parts
    }


def test_a_stale_index_lock_leaves_the_clone_untouched(setup: Setup) -> None:
    setup.next_render()
    lock = setup.clone / ".git" / "index.lock"
    lock.write_bytes(b"")
    before = snapshot(setup.clone)
    result = setup.publish(*setup.local())
    assert result.returncode == 3, result.stderr
    assert f"{lock}: another git may be running in {setup.clone}" in result.stderr
    assert "If no git is running, remove it and publish again" in result.stderr
    assert snapshot(setup.clone) == before
    lock.unlink()
    assert_recovered(setup, expected(setup.config, setup.base / "expected"), "after the lock is gone")


def test_a_background_gc_is_left_alone(setup: Setup) -> None:
    """A detached `git gc --auto` (started by a commit) holds gc.log.lock: publish goes on beside it, and
    a lock a killed run seems to have left is not taken from a gc that may hold it."""
    gc_pid, gc_log = setup.clone / ".git" / "gc.pid", setup.clone / ".git" / "gc.log.lock"
    gc_pid.write_text(f"{os.getpid()} {socket.gethostname()}")  # a live process: a running gc
    gc_log.write_bytes(b"")
    render = setup.next_render()
    result = setup.publish(*setup.local())
    assert result.returncode == 0, result.stderr
    assert remote_tree(setup.remote) == render and gc_log.exists()

    render = setup.next_render()
    process = setup.start(*setup.local(), PAUSE_BEFORE="commit")
    kill_when_paused(process, setup.base / "paused", "before git commit")
    (setup.clone / ".git" / "index.lock").write_bytes(b"")  # as if the gc's: made after the journal
    assert setup.publish(*setup.local()).returncode == 3
    gc_pid.unlink()  # the gc is done
    gc_log.unlink()
    assert_recovered(setup, render, "once the gc is done")


def test_a_merge_in_progress_or_another_publish_leaves_the_clone_untouched(setup: Setup) -> None:
    setup.next_render()
    merge_head = setup.clone / ".git" / "MERGE_HEAD"
    merge_head.write_text(git(setup.clone, "rev-parse", "HEAD"))
    before = snapshot(setup.clone)
    result = setup.publish(*setup.local())
    assert result.returncode == 2, result.stderr
    assert (
        f"{setup.clone}: a merge, rebase, cherry-pick or revert is in progress (MERGE_HEAD)" in result.stderr
    )
    assert snapshot(setup.clone) == before
    merge_head.unlink()

    fd = os.open(setup.clone / ".git", os.O_RDONLY)  # what a running publish holds
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        before = snapshot(setup.clone)
        result = setup.publish(*setup.local())
    finally:
        os.close(fd)
    assert result.returncode == 3, result.stderr
    assert f"{setup.clone}: another gitops-gen publish is running in this clone" in result.stderr
    assert snapshot(setup.clone) == before


def test_a_human_edit_after_a_killed_publish_is_still_refused(setup: Setup) -> None:
    render = setup.next_render()
    process = setup.start(*setup.local(), PAUSE_BEFORE="add")
    kill_when_paused(process, setup.base / "paused", "before git add")
    rollout = setup.clone / "rendered/demo/services/bookinfo/svc001/rollout.yaml"
    rollout.write_text(rollout.read_text() + "# tuned by hand\n")
    before = snapshot(setup.clone)

    result = setup.publish(*setup.local())

    assert result.returncode == 2, result.stderr
    assert (
        f"{rollout}: has uncommitted changes (git status ' M'), and gitops-gen owns this file"
        in result.stderr
    )
    assert snapshot(setup.clone) == before
    git(setup.clone, "checkout", "--", str(rollout))  # the human drops the edit: the rest is redone
    assert "published again" in assert_recovered(setup, render, "after the edit is dropped")


def scratch_folders(setup: Setup) -> list[Path]:
    return sorted(setup.tmp.glob(f"{SCRATCH_PREFIX}*"))


def test_temporary_clones_are_removed_on_every_exit_path(setup: Setup) -> None:
    url = ("--repo", setup.remote.as_uri(), "--push")
    render = setup.next_render()
    assert setup.publish(*url).returncode == 0 and scratch_folders(setup) == []
    assert remote_tree(setup.remote) == render
    failed = setup.publish(*url, "--branch", "no-such-branch")
    assert failed.returncode == 2 and scratch_folders(setup) == []
    for step in ("commit", "push"):  # each run sweeps what the killed one before it left
        render = setup.next_render()
        process = setup.start(*url, PAUSE_BEFORE=step)
        kill_when_paused(process, setup.base / "paused", step)
        assert len(scratch_folders(setup)) == 1, step
    result = setup.publish(*url)
    assert result.returncode == 0, result.stderr
    assert f"removed 1 temporary folder(s) left in {setup.tmp} by killed publish runs" in result.stderr
    assert scratch_folders(setup) == []
    assert remote_tree(setup.remote) == render


def test_a_terminated_publish_removes_its_temporary_clone(setup: Setup) -> None:
    """SIGTERM (a cancelled job, a timeout) unwinds the run as Ctrl-C does: its folder goes with it."""
    setup.next_render()
    process = setup.start("--repo", setup.remote.as_uri(), "--push", PAUSE_BEFORE="push")
    try:
        deadline = time.monotonic() + 60
        while not (setup.base / "paused").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        assert len(scratch_folders(setup)) == 1
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the paused git it left
        process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert scratch_folders(setup) == []


def move_remote(setup: Setup) -> str:
    """Someone else pushes to main: a commit the clone has not fetched."""
    other = setup.base / "other"
    if not other.exists():
        git(setup.base, "clone", "-q", str(setup.remote), str(other))
    git(other, "pull", "-q", "--ff-only")
    with (other / "README.md").open("a") as readme:
        readme.write("Another line, pushed by someone else\n")
    git(other, "commit", "-q", "-am", "someone else's change")
    git(other, "push", "-q", "origin", "main")
    return git(other, "rev-parse", "HEAD").strip()


@pytest.mark.parametrize("pause", ["push", "reset"])
def test_a_killed_publish_s_commit_goes_onto_a_remote_that_moved(setup: Setup, pause: str) -> None:
    """Killed before its push (the remote moves after), or while it moves onto the remote's new tip after
    a rejected push: its commit is its own, so the next publish moves it onto the tip, never exit 3."""
    render = setup.next_render()
    theirs = move_remote(setup) if pause == "reset" else None
    process = setup.start(*setup.local("--retry-delay", "0"), PAUSE_BEFORE=pause)
    kill_when_paused(process, setup.base / "paused", pause)
    theirs = theirs or move_remote(setup)
    assert remote_tree(setup.remote) != render

    stderr = assert_recovered(setup, render, f"killed before {pause}")

    assert "push rejected" in stderr
    assert git(setup.remote, "merge-base", "--is-ancestor", theirs, "main") == ""
    assert git(setup.clone, "log", "-1", "--format=%s").startswith("gitops-gen: ")


def test_a_publish_killed_while_it_recovers_is_finished_by_the_next(setup: Setup) -> None:
    render = setup.next_render()
    process = setup.start(*setup.local(), PAUSE_BEFORE="add")
    kill_when_paused(process, setup.base / "paused", "before git add")
    # the next one is killed as it puts the files back (`git checkout HEAD -- <paths>`)
    process = setup.start(*setup.local(), PAUSE_BEFORE="checkout")
    kill_when_paused(process, setup.base / "paused", "before git checkout")
    assert_recovered(setup, render, "after two kills")
