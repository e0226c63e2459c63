"""The local working clone `publish` writes into: what must hold before anything is written, the journal
that tells gitops-gen's own unfinished work from a human's edit, and the recovery of a killed publish.

A publish into a clone writes the tree, then runs `git add`, `git commit` and maybe `git push`; a kill -9
(a job timeout, a cancelled CI run) can land anywhere in that. So:

1. Before anything is written (`check`): no other publish holds the clone (an flock on its git folder,
   which the kernel drops when the process dies); no lock file of git's (`index.lock`, `HEAD.lock`, a
   branch's `.lock`; not `gc.log.lock`, which a background `git gc --auto` holds while it runs) unless a
   killed publish left it (below); no merge, rebase or cherry-pick going on; and every file gitops-gen
   owns is clean, or dirty only in ways gitops-gen itself made it.
2. The journal, `<git dir>/JOURNAL_FILE` (written atomically and fsynced before the tree is written, and
   again before each step that moves the branch), records for each owned path it is about to write the
   blob id of the content (or `deleted`), the commits whose content is also its own (the base commit,
   and on a retry the tip it moves onto), the commits it made (`made`), and the run (pid, process group,
   when it started). It is removed once the commit (and the push, when asked) is done.
3. The next publish (`recover_clone`) takes a dirty owned file for gitops-gen's unfinished work when
   both its working-tree content and its index entry are states gitops-gen produced: the journal's blob,
   or the file in HEAD or in one of the journal's commits (absent counts as a state). Anything else is a
   human edit: refused (exit 2), never overwritten. Unfinished work is put back to HEAD and done again;
   lock files the killed run's git left (made since the journal was written, no process of that run is
   left, and no `git gc` runs: a detached one is in a session of its own) are removed. The commits a
   `--push` publish made and had not pushed are pushed by the next `--push`, and when the remote moved
   meanwhile, moved onto its tip as its own commits are (they are regenerable); a human's local commits
   still stop it (exit 3).

The blob ids are those of the raw bytes (`git hash-object --no-filters`): in a clone whose attributes
filter the rendered files (`eol`, a clean filter), the index holds other ids, and a killed publish's
files are refused as edits (exit 2) rather than taken for its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import socket
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import gitops
from .errors import GeneratorError, Location, Problem, ToolError
from .gitops import Git
from .tree import INDEX_NAME, LEGACY_INDEX_NAME, fsync_dir, read_index, recover, refuse_links

JOURNAL_FILE = "gitops-gen-publish.json"
JOURNAL_FORMAT = 1
DELETED = "deleted"
_SLACK_NS = 1_000_000_000  # file-system clocks tick coarser than time.time_ns(): a lock made right after
# the journal may carry an mtime a little before it
_SKIPPED = frozenset({"objects", "modules", "worktrees"})  # no index or ref locks of this work tree there
# A detached `git gc --auto` (which a commit may start) holds gc.log.lock while it runs: it blocks nothing
# publish does, and it is not a killed run's to remove.
_GC_LOG_LOCK = "gc.log.lock"
_GC_PID_AGE = 12 * 3600  # git gc's own limit for a gc.pid of another host
_IN_PROGRESS = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "rebase-merge", "rebase-apply")


@dataclass(frozen=True)
class Run:
    """The publish that wrote a journal: enough to tell whether any process of it is left."""

    pid: int
    pgid: int
    started: str | None  # the process's start time (/proc/<pid>/stat), None where there is no /proc
    since: int  # time.time_ns() just before the journal was first written

    @staticmethod
    def this() -> Run:
        return Run(os.getpid(), os.getpgrp(), _start_time(os.getpid()), time.time_ns())


@dataclass(frozen=True)
class Journal:
    path: str  # the target folder in the repository
    branch: str
    base: str | None  # HEAD when the journal was written (None: no commit yet)
    commits: tuple[str, ...]  # commits whose files are gitops-gen's own states too
    made: tuple[str, ...]  # commits publish made that may not be pushed yet: its own, regenerable
    files: Mapping[str, str]  # repository path -> blob id of what is written, or DELETED
    run: Run

    def to_bytes(self) -> bytes:
        doc = {
            "format": JOURNAL_FORMAT,
            "note": "A publish of gitops-gen in progress, or killed: the next publish finishes it.",
            "path": self.path,
            "branch": self.branch,
            "base": self.base,
            "commits": list(self.commits),
            "made": list(self.made),
            "files": dict(sorted(self.files.items())),
            "run": dataclasses.asdict(self.run),
        }
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


@dataclass(frozen=True)
class Clone:
    """A local working clone, checked (`check`) and held for one publish."""

    git: Git
    root: Path
    git_dir: Path  # this work tree's (index, HEAD)
    common_dir: Path  # the repository's (refs, objects): the same folder unless a `git worktree`
    display: str
    run: Run

    @property
    def journal_path(self) -> Path:
        return self.git_dir / JOURNAL_FILE

    def write_journal(self, journal: Journal) -> None:
        """Atomically (a fixed temporary name, so a kill leaves at most one), durably."""
        temporary = self.git_dir / (JOURNAL_FILE + ".new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            data = memoryview(journal.to_bytes())
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.journal_path)
        fsync_dir(self.git_dir)

    def remove_journal(self) -> None:
        for name in (JOURNAL_FILE, JOURNAL_FILE + ".new"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.git_dir / name)
        fsync_dir(self.git_dir)

    def journal(
        self,
        path: str,
        branch: str,
        files: Mapping[str, str],
        made: Iterable[str],
        commits: Iterable[str | None] = (),
    ) -> Journal:
        base = gitops.rev(self.git, "HEAD")
        kept = tuple(dict.fromkeys(c for c in (base, *commits) if c))
        return Journal(path, branch, base, kept, tuple(dict.fromkeys(made)), dict(files), self.run)


# ---- holding the clone --------------------------------------------------------------------------------


@contextlib.contextmanager
def held(g: Git, root: Path, display: str) -> Iterator[Clone]:
    """The clone, with an exclusive flock on its git folder for the whole publish (no lock file: the
    kernel drops the lock however the process dies)."""
    git_dir, common = (
        Path(line) for line in g.out("rev-parse", "--absolute-git-dir", "--git-common-dir").split("\n")[:2]
    )
    common = common if common.is_absolute() else (root / common).resolve()
    fd = os.open(git_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ToolError(
                f"{display}: another gitops-gen publish is running in this clone; nothing was written, "
                "run again when it is done"
            ) from None
        yield Clone(g, root, git_dir, common, display, Run.this())
    finally:
        os.close(fd)


# ---- reading the journal ------------------------------------------------------------------------------


def read_journal(clone: Clone) -> Journal | None:
    where = clone.journal_path
    try:
        doc: Any = json.loads(where.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise GeneratorError(
            f"{where}: cannot read the journal of an interrupted publish ({exc}); remove it, check the "
            "files gitops-gen owns (git status), and publish again"
        ) from None
    try:
        run = doc["run"]
        journal = Journal(
            str(doc["path"]),
            str(doc["branch"]),
            None if doc["base"] is None else str(doc["base"]),
            tuple(str(c) for c in doc["commits"]),
            tuple(str(c) for c in doc["made"]),
            {str(p): str(b) for p, b in doc["files"].items()},
            Run(int(run["pid"]), int(run["pgid"]), run["started"], int(run["since"])),
        )
        ok = doc["format"] == JOURNAL_FORMAT and (
            journal.run.started is None or isinstance(journal.run.started, str)
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        ok = False
    if not ok:
        raise GeneratorError(
            f"{where}: not a gitops-gen publish journal (format {JOURNAL_FORMAT}); it was written by "
            "another version or edited: remove it, check the files gitops-gen owns (git status), and "
            "publish again"
        )
    return journal


# ---- is anything of that run left? --------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name (which may hold spaces and parentheses): field 3 onwards."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read().decode("ascii", errors="replace")
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def _start_time(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None


def _left_of(run: Run) -> bool:
    """Whether a process of the run may still be running: itself, or a git it started (they share its
    process group). Unsure (no /proc, another user's process) counts as yes."""
    if run.started is not None and _start_time(run.pid) == run.started:
        return True
    if not Path("/proc/self/stat").exists():
        if run.pgid == os.getpgrp():
            return True
        try:
            os.killpg(run.pgid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True
        return True
    mine = set()  # this process and its parents (a shell running both publishes is in the same group)
    pid = os.getpid()
    while pid > 1 and pid not in mine:
        mine.add(pid)
        fields = _stat_fields(pid)
        pid = int(fields[1]) if fields else 0
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit() or int(entry.name) in mine:
                continue
            fields = _stat_fields(int(entry.name))
            if fields and len(fields) > 2 and fields[2] == str(run.pgid) and fields[0] != "Z":
                return True
    return False


# ---- what git needs -----------------------------------------------------------------------------------


def lock_files(clone: Clone) -> list[Path]:
    """git's lock files in the clone's git folders (not in objects/, submodules or other work trees)."""
    found: set[Path] = set()
    for top in {clone.git_dir, clone.common_dir}:
        for folder, dirs, names in os.walk(top):
            if Path(folder) == top:
                dirs[:] = [d for d in dirs if d not in _SKIPPED]
            found.update(Path(folder) / n for n in names if n.endswith(".lock") and n != _GC_LOG_LOCK)
    return sorted(found)


def _gc_running(clone: Clone) -> bool:
    """Whether a `git gc` runs in the repository, as gc itself tells (its gc.pid: "<pid> <host>")."""
    where = clone.common_dir / "gc.pid"
    try:
        pid, _, host = where.read_text(encoding="utf-8", errors="replace").strip().partition(" ")
        age = time.time() - where.stat().st_mtime
    except OSError:
        return False
    if host != socket.gethostname() or not pid.isdigit():
        return age < _GC_PID_AGE
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _stale(clone: Clone, journal: Journal | None, locks: list[Path]) -> list[Path]:
    """The locks a killed publish's git left: made since its journal, and nothing of that run is left."""
    if journal is None or not locks or _left_of(journal.run) or _gc_running(clone):
        return []
    stale = []
    for lock in locks:
        with contextlib.suppress(FileNotFoundError):
            if lock.stat().st_mtime_ns >= journal.run.since - _SLACK_NS:
                stale.append(lock)
    return stale


@dataclass(frozen=True)
class _Entry:
    path: str
    code: str
    worktree: str | None
    index: str | None


@dataclass(frozen=True)
class Check:
    """What `check` found, for `recover` to act on."""

    journal: Journal | None
    stale_locks: tuple[Path, ...]
    unfinished: tuple[str, ...]  # owned paths holding a killed publish's unfinished work


def check(clone: Clone, path: str) -> Check:
    """Everything git needs before the tree is written (module docstring, 1); reads only."""
    g = clone.git
    journal = read_journal(clone)
    locks = lock_files(clone)
    stale = _stale(clone, journal, locks)
    live = [lock for lock in locks if lock not in stale]
    if live:
        raise ToolError(
            f"{live[0]}: another git may be running in {clone.display}, or one was killed and left this "
            "lock file; nothing was written. If no git is running, remove it and publish again"
        )
    for name in _IN_PROGRESS:
        if (clone.git_dir / name).exists():
            raise GeneratorError(
                f"{clone.display}: a merge, rebase, cherry-pick or revert is in progress ({name}); "
                "nothing was written. Finish or abort it, then publish again"
            )
    refuse_links(clone.root, path)  # before its index is read
    owned = {
        _repo_path(path, p) for p in (*read_index(clone.root / path).owned, INDEX_NAME, LEGACY_INDEX_NAME)
    }
    if journal is not None:
        owned.update(journal.files)
    dirty = [entry for entry in gitops.status(g, path) if entry.path in owned]
    entries = _entries(clone, path, [e.path for e in dirty], {e.path: e.code for e in dirty})
    theirs, ours = [], []
    allowed = _allowed(clone, path, journal, [e.path for e in entries])
    for entry in entries:
        states = allowed.get(entry.path, set())
        if journal is not None and entry.worktree in states and entry.index in states:
            ours.append(entry.path)
        else:
            theirs.append(entry)
    if theirs:
        raise GeneratorError(
            [
                Problem(
                    Location(str(clone.root / entry.path)),
                    f"has uncommitted changes (git status '{entry.code}'), and gitops-gen owns this file",
                    "commit, stash or discard them, then publish again; nothing was written",
                )
                for entry in theirs
            ]
        )
    return Check(journal, tuple(stale), tuple(ours))


def _repo_path(path: str, relative: str) -> str:
    return relative if path == "." else f"{path}/{relative}"


def object_format(g: Git) -> str:
    result = g.run("rev-parse", "--show-object-format", check=False)
    return result.stdout.strip() if result.status == 0 and result.stdout.strip() else "sha1"


def blob_id(data: bytes, algorithm: str) -> str:
    """`git hash-object --no-filters` of these bytes."""
    digest = hashlib.new(algorithm)
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


_FOREIGN = "foreign"  # a state no publish makes: an unmerged entry, a link, a folder


def _entries(clone: Clone, path: str, paths: list[str], codes: Mapping[str, str]) -> list[_Entry]:
    """Each dirty path with the blob ids of its working-tree file and its index entry (None: absent)."""
    if not paths:
        return []
    algorithm = object_format(clone.git)
    index: dict[str, str] = {}
    raw = clone.git.run("ls-files", "-s", "-z", "--", path, env=gitops.LITERAL).stdout
    for record in filter(None, raw.split("\0")):
        info, _, name = record.partition("\t")
        mode, blob, stage = info.split()
        index[name] = blob if stage == "0" and mode != "120000" else _FOREIGN
    entries = []
    for name in sorted(set(paths)):
        file = clone.root / name
        entries.append(_Entry(name, codes.get(name, "??"), _worktree_blob(file, algorithm), index.get(name)))
    return entries


def _worktree_blob(file: Path, algorithm: str) -> str | None:
    """The blob id of a working-tree file, None when there is none, _FOREIGN for a link, a folder or a
    file that cannot be read (states no publish makes)."""
    try:
        info = file.lstat()
    except FileNotFoundError:
        return None
    except OSError:
        return _FOREIGN
    if not stat.S_ISREG(info.st_mode):
        return _FOREIGN
    try:
        return blob_id(file.read_bytes(), algorithm)
    except OSError:
        return _FOREIGN


def _tree_blobs(g: Git, commit: str, path: str) -> dict[str, str]:
    raw = g.run("ls-tree", "-r", "-z", "--full-tree", commit, "--", path, env=gitops.LITERAL).stdout
    blobs = {}
    for record in filter(None, raw.split("\0")):
        info, _, name = record.partition("\t")
        mode, kind, blob = info.split()
        if kind == "blob" and mode != "120000":
            blobs[name] = blob
    return blobs


def _allowed(
    clone: Clone, path: str, journal: Journal | None, paths: list[str]
) -> dict[str, set[str | None]]:
    """For each path, the states gitops-gen itself produces (None: no file)."""
    if journal is None or not paths:
        return {}
    commits = [c for c in (gitops.rev(clone.git, "HEAD"), *journal.commits) if c]
    trees = [_tree_blobs(clone.git, c, path) for c in dict.fromkeys(commits)]
    allowed: dict[str, set[str | None]] = {}
    for name in paths:
        recorded = journal.files.get(name)
        states: set[str | None] = {tree.get(name) for tree in trees}
        if not trees:
            states.add(None)  # no commit yet: absent is the base state
        if recorded is not None:
            states.add(None if recorded == DELETED else recorded)
        allowed[name] = states
    return allowed


# ---- recovering ---------------------------------------------------------------------------------------


def recover_clone(clone: Clone, path: str, found: Check, scratch: Path) -> list[str]:
    """Undo a killed publish's unfinished work (after `check` passed): remove the lock files its git
    left, finish its tree write (tree.recover), and put the files it left dirty back to HEAD. Returns
    notes for the user."""
    notes = []
    for lock in found.stale_locks:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
    if found.journal is not None:  # this run's now (after the old locks are gone, which its time would not
        # cover): were it killed while recovering, the next one tells its git's locks and states
        clone.write_journal(dataclasses.replace(found.journal, run=clone.run))
    if found.stale_locks:
        notes.append(
            f"removed {len(found.stale_locks)} lock file(s) left in {clone.display} by a killed publish: "
            + ", ".join(
                str(lock.relative_to(clone.root)) if lock.is_relative_to(clone.root) else str(lock)
                for lock in found.stale_locks
            )
        )
    if found.journal is None:
        return notes
    recover(clone.root / path)  # a tree write it was killed in: finished, so that every file is settled
    again = check(clone, path)  # the files the tree write just settled join the unfinished ones
    if again.unfinished:
        _restore(clone, path, again.unfinished, scratch)
        notes.append(
            f"{len(again.unfinished)} file(s) an interrupted publish left uncommitted in {clone.display} "
            "were put back to HEAD and are published again"
        )
    return notes


def _restore(clone: Clone, path: str, paths: Iterable[str], scratch: Path) -> None:
    g = clone.git
    head = gitops.rev(g, "HEAD")
    in_head = set(_tree_blobs(g, head, path)) if head else set()
    back = sorted(p for p in paths if p in in_head)
    gone = sorted(p for p in paths if p not in in_head)
    listing = scratch / "restore.pathspec"
    if back:
        listing.write_bytes(b"".join(p.encode("utf-8") + b"\0" for p in back))
        g.run(
            "checkout", "HEAD", f"--pathspec-from-file={listing}", "--pathspec-file-nul", env=gitops.LITERAL
        )
    if gone:
        listing.write_bytes(b"".join(p.encode("utf-8") + b"\0" for p in gone))
        g.run(
            "rm",
            "--cached",
            "--quiet",
            "--ignore-unmatch",
            f"--pathspec-from-file={listing}",
            "--pathspec-file-nul",
            env=gitops.LITERAL,
        )
        top = clone.root / path
        for name in gone:
            file = clone.root / name
            with contextlib.suppress(FileNotFoundError):
                os.unlink(file)
            folder = file.parent
            while folder != top and top in folder.parents:
                try:
                    os.rmdir(folder)
                except OSError as exc:
                    if exc.errno != errno.ENOENT:
                        break
                folder = folder.parent


def planned_files(
    path: str, written: Mapping[str, bytes], deleted: Iterable[str], algorithm: str
) -> dict[str, str]:
    """The journal's `files`: repository path -> blob id of what is about to be written, or DELETED."""
    files = {_repo_path(path, p): blob_id(data, algorithm) for p, data in written.items()}
    files.update({_repo_path(path, p): DELETED for p in deleted})
    return files
