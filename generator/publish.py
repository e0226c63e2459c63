"""Publish a render into the GitOps repository: one commit on the branch (or a pull-request branch), pushed
when asked, retried when someone else pushed first.

The steps, each of which can stop the run before the repository is touched:
  1. render every selected environment and service, and validate the result (errors: Findings, exit 1);
  2. resolve the target: `--repo`, `--branch`, `--path`, else the environments' `gitops.repoURL`, `branch`
     and `path`, which must agree (exit 2 otherwise);
  3. open the repository: a local working clone is used in place; a URL (or a bare repository) is cloned
     into a temporary folder, deleted at the end (and by the next run, when this one was killed: see
     `scratch_folder`); credentials in the URL never reach the disk (see `gitops.Credential`);
  4. in a local clone, check what git needs before anything is written (`clone.check`: no other publish,
     no lock file of git's, no merge in progress) and refuse (exit 2) when a file gitops-gen owns (listed
     in the ownership index, or the index itself) has uncommitted changes that are not a killed publish's
     unfinished work (`clone.recover_clone` redoes that); other dirty files are left alone and never
     committed;
  5. record in the clone's journal what it is about to write (`clone.JOURNAL_FILE`), write the tree
     (tree.plan_tree + apply_plan), `git add` exactly the owned, written and deleted files, and commit
     only those (`git commit --only`), only when they changed: never an empty commit;
  6. with `push`, push without force; a rejected push fetches the branch, moves the local branch onto the
     new tip (our commit is regenerable; a local clone's own unpushed commits are never dropped), writes
     the tree again there and retries, at most `retries` times (then ToolError, exit 3). Once it is done,
     the journal is removed.

Pull-request mode (`pr_branch`) commits to `gitops-gen/<config commit>` instead, started from the target
branch's tip (or from that branch's own tip when an earlier run created it), and describes the change
against the target branch (`pr_body`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import posixpath
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import git

from . import clone, gitops
from .checks import check_render, validator_for
from .diff import GroupChanges, canary_changes, summarize
from .errors import Findings, GeneratorError, Location, Problem, ToolError
from .gitops import Git, Identity, Source
from .model import resolve_environment
from .pr_body import BodyInput, render_body
from .render import Manifest, Rendered, render_environments
from .report import format_findings, summary
from .spec import ENVIRONMENTS_DIR, environment_names, load_environment, select
from .tree import (
    INDEX_NAME,
    LEGACY_INDEX_NAME,
    Scope,
    TreeError,
    TreePlan,
    apply_plan,
    plan_tree,
    refuse_links,
)

PR_PREFIX = "gitops-gen/"
SCRATCH_PREFIX = "gitops-gen-publish-"
_SCRATCH_MARK = ".locked"  # present once the folder's flock is held
_SUBJECT_WIDTH = 72
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^(?:[^@/:\s]+@)?[^@/:\s]+:(?!//)")


@dataclass(frozen=True)
class PublishOptions:
    config_dir: Path
    envs: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    repo: str | None = None  # a local working clone or a URL; default: the environments' gitops.repoURL
    branch: str | None = None  # default: gitops.branch
    path: str | None = None  # default: gitops.path
    push: bool = False
    pr_branch: bool = False
    author: Identity | None = None
    committer: Identity | None = None
    message: str | None = None  # replaces the first lines of the commit message
    validator: str | None = "auto"  # auto | kubeconform | builtin; None: no validation
    strict: bool = False  # validation warnings stop the publish too
    retries: int = 5  # retries after a rejected push
    retry_delay: float = 1.0  # seconds; the n-th retry waits n times this
    timeout: float = gitops.DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Target:
    repo: str
    branch: str
    path: str


@dataclass(frozen=True)
class PublishResult:
    repo: str  # credentials redacted
    target_branch: str
    branch: str  # the branch committed to: the target branch, or the pull-request branch
    path: str
    changed: bool  # a commit was made
    commit: str | None
    pushed: bool
    attempts: int
    title: str
    groups: tuple[GroupChanges, ...]
    validation: str
    body: str | None  # the pull-request description, when something changed
    notes: tuple[str, ...] = ()


# ---- before the repository ----------------------------------------------------------------------------


def _clean_path(path: str) -> str:
    normal = posixpath.normpath(path.strip())
    if path.startswith("/") or normal == ".." or normal.startswith("../") or normal.split("/")[0] == ".git":
        raise GeneratorError(f"--path {path!r}: expected a folder inside the repository, such as 'rendered'")
    return normal


def resolve_target(
    config_dir: Path, envs: Sequence[str], repo: str | None, branch: str | None, path: str | None
) -> Target:
    """The flags, else the selected environments' gitops settings, which must then agree."""
    names = select(
        environment_names(config_dir), envs, "environment", lambda n: f"{ENVIRONMENTS_DIR}/{n}.yaml"
    )
    settings = [resolve_environment(name, load_environment(config_dir, name)) for name in names]
    values = {}
    problems = []
    for option, given, attribute, key in (
        ("--repo", repo, "repo_url", "repoURL"),
        ("--branch", branch, "branch", "branch"),
        ("--path", path, "path", "path"),
    ):
        if given is not None:
            values[attribute] = given
            continue
        found = {getattr(env, attribute) for env in settings}
        if len(found) == 1:
            values[attribute] = found.pop()
            continue
        which = ", ".join(f"{env.name}: {gitops.redact(getattr(env, attribute))}" for env in settings)
        problems.append(
            Problem(
                Location(ENVIRONMENTS_DIR + "/", field=f"gitops.{key}"),
                f"the environments publish to different places ({which})",
                f"pass {option}, or publish them one at a time with --env",
            )
        )
    if problems:
        raise GeneratorError(problems)
    return Target(values["repo_url"], values["branch"], _clean_path(values["path"]))


def validate(options: PublishOptions, rendered: Rendered, path: str) -> str:
    """One line saying what was checked (as `render` checks: schemas and cross-object rules); errors, and
    warnings under `strict`, stop the publish before the repository is touched (Findings, exit 1)."""
    if options.validator is None:
        return "not run (--no-validate)"
    checker = validator_for(options.validator)
    result = check_render(rendered, checker, path)
    if result.failed(options.strict):
        text = format_findings(result.findings, "text", result.checked).rstrip("\n")
        raise Findings(f"nothing published: {summary(result.findings, result.checked)}\n{text}")
    line = f"passed: {result.checked} objects, schemas ({checker.name}) and cross-object rules"
    if result.warnings:
        line += f", {result.warnings} warning(s):\n" + "\n".join(f"- {f}" for f in result.findings)
    return line


def pr_branch_name(source: Source | None, envs: Sequence[str] = (), services: Sequence[str] = ()) -> str:
    """`gitops-gen/<12 hex of the config commit>`, `-dirty` for uncommitted changes, then the selected
    environments and services: the same inputs always name the same branch."""
    if source is None:
        raise GeneratorError(
            "--pr-branch names the branch after the config repository's commit, but the config folder "
            "is not in a git repository with a commit"
        )
    name = PR_PREFIX + source.short + ("-dirty" if source.dirty else "")
    for selected in (sorted(set(envs)), sorted(set(services))):
        if selected:
            name += "-" + "-".join(re.sub(r"[^A-Za-z0-9._]+", "_", item) for item in selected)
    return name


# ---- the temporary folder -----------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_folder(root: Path) -> Iterator[Path]:
    """A new private folder in `root` for the clone and git's input files, removed at the end.

    The run holds an exclusive flock on the folder itself (as tree._locked does) while it lives; the
    kernel drops it when the process dies, however it dies, and the descriptor is not inherited by git
    (PEP 446), so a git left running by a killed run does not hold it either. `_SCRATCH_MARK` is written
    only once the lock is held: `sweep_scratch` leaves a folder without it alone, so it can never take a
    folder that is being set up for one that was abandoned (a run killed before the mark leaves an empty
    folder, which stays)."""
    folder = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=root))
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # uncontended: no sweep takes a folder without the mark
        (folder / _SCRATCH_MARK).touch()
        yield folder
    finally:
        _remove(folder)
        os.close(fd)


def _remove(folder: Path) -> None:
    """The mark last: a run killed while removing its folder leaves one the next sweep still takes.
    Errors are ignored for the same reason: what is left, the next sweep removes."""
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if entry.name == _SCRATCH_MARK:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
    shutil.rmtree(folder, ignore_errors=True)


def sweep_scratch(root: Path) -> list[Path]:
    """Remove the folders of publish runs that were killed (SIGKILL, the OOM killer, a cancelled CI job):
    each holds a clone, which must not pile up. A folder goes only when its lock can be taken, that is when
    no process holds it any more; folders of runs still going, of other users, without the mark, or that
    are not plain folders (a symlink planted in /tmp) are left alone. Returns the folders removed."""
    try:
        entries = [e for e in os.scandir(root) if e.name.startswith(SCRATCH_PREFIX)]
    except OSError:
        return []
    removed = []
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue  # gone meanwhile, or not ours to open
        try:
            try:
                os.stat(_SCRATCH_MARK, dir_fd=fd, follow_symlinks=False)
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                now, held = os.stat(entry.path, follow_symlinks=False), os.fstat(fd)
            except OSError:
                continue  # no mark (being set up, or not ours), its run is alive, or another sweep took it
            if (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):  # still the folder we locked
                _remove(Path(entry.path))
                removed.append(Path(entry.path))
        finally:
            os.close(fd)
    return removed


# ---- the repository -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Work:
    """The repository being published into."""

    git: Git
    root: Path
    remote: str | None
    temporary: bool  # a clone of our own: nothing in it belongs to anyone
    display: str  # for messages, credentials redacted
    held: clone.Clone | None = None  # a local working clone, held for this publish


@contextlib.contextmanager
def _open(spec: str, scratch: Path, timeout: float) -> Iterator[Work]:
    secrets = gitops.secrets_of(spec)
    display = gitops.redact(spec, secrets)
    folder = Path(spec).expanduser()
    if folder.is_dir() and not gitops.is_bare(folder):
        if not gitops.is_work_tree(folder):
            raise GeneratorError(f"--repo {display}: not the top folder of a git working clone")
        g = Git.at(folder.resolve(), secrets, timeout)
        branch = gitops.current_branch(g)
        remote = gitops.remote_of(g, branch) if branch else None
        with clone.held(g, folder.resolve(), display) as held:
            yield Work(g, folder.resolve(), remote, False, display, held)
        return
    if not folder.is_dir() and not _URL.match(spec):
        raise GeneratorError(f"--repo {display}: no such folder, and not a URL")
    url = str(folder.resolve()) if folder.is_dir() else spec
    g = gitops.clone(url, scratch / "repo", secrets, timeout)
    yield Work(g, scratch / "repo", "origin", True, display)


def _repo_path(path: str, relative: str) -> str:
    return posixpath.normpath(posixpath.join(path, relative))


def _prepare(work: Work, path: str, branch: str, scratch: Path, notes: list[str]) -> tuple[str, ...]:
    """In a local clone, before anything is written: check what git needs (exit 3 or 2, nothing changed,
    when it does not hold), redo what a killed publish left unfinished, and start the journal. Returns
    the commits a killed publish made and may not have pushed (its own: regenerable)."""
    held = work.held
    if held is None:
        return ()
    found = clone.check(held, path)
    notes += clone.recover_clone(held, path, found, scratch)
    made = found.journal.made if found.journal is not None else ()
    held.write_journal(held.journal(path, branch, {}, made))
    return made


def _stage_list(work: Work, path: str, plan: TreePlan) -> list[str]:
    """Exactly the files this publish owns, wrote or deleted, as repository paths git knows or can add."""
    wanted = {_repo_path(path, p) for p in (*plan.owned, *plan.removed, INDEX_NAME, LEGACY_INDEX_NAME)}
    known = gitops.tracked(work.git, path)
    return sorted(p for p in wanted if p in known or (work.root / p).is_file())


def _written(plan: TreePlan) -> dict[str, bytes]:
    written = {p: plan.manifests[p].text.encode("utf-8") for p in (*plan.added, *plan.changed)}
    if plan.index_changed:
        written[INDEX_NAME] = plan.new_index.encode("utf-8")
    return written


def _deleted(plan: TreePlan) -> tuple[str, ...]:
    return (*plan.removed, *((LEGACY_INDEX_NAME,) if plan.legacy_index else ()))


def _only_ours(work: Work, tip: str, made: Sequence[str]) -> bool:
    """Every commit of the local branch that the remote's tip lacks is one a publish made (and a kill kept
    from being pushed): moving the branch onto the tip drops nothing but regenerable commits."""
    if not made:
        return False
    return set(work.git.out("rev-list", f"{tip}..HEAD").split()) <= set(made)


def _ahead(work: Work, branch: str) -> bool:
    """A local clone's branch holds commits its remote lacks (an earlier publish without --push)."""
    if work.remote is None:
        return False
    head = gitops.rev(work.git, "HEAD")
    tracking = gitops.rev(work.git, f"refs/remotes/{work.remote}/{branch}")
    return (
        head is not None
        and head != tracking
        and (tracking is None or gitops.is_ancestor(work.git, tracking, head))
    )


# ---- messages and descriptions ------------------------------------------------------------------------


def subject(groups: Sequence[GroupChanges]) -> str:
    labels = [group.label for group in groups]
    if not labels:
        return "gitops-gen: update the ownership index"
    text = "gitops-gen: " + labels[0]
    for index, label in enumerate(labels[1:], start=1):
        rest = len(labels) - index
        more = f" and {rest - 1} more" if rest > 1 else ""
        if len(text) + len(", ") + len(label) + len(more) > _SUBJECT_WIDTH:
            return f"{text} and {rest} more"
        text += f", {label}"
    return text


def commit_message(groups: Sequence[GroupChanges], source: Source | None, extra: str | None) -> str:
    if source is None:
        origin = "Rendered from a config folder that is not in a git repository."
    else:
        origin = f"Rendered from config commit {source.sha}" + (
            " with uncommitted changes." if source.dirty else "."
        )
    lines = [extra.strip() if extra and extra.strip() else subject(groups), "", origin, ""]
    for group in groups:
        lines.append(f"- {group.label}: {group.counts()}")
    if not groups:
        lines.append("- the ownership index only")
    if source is not None:
        lines += ["", f"Gitops-Gen-Source: {source.label}"]
    return "\n".join(lines) + "\n"


def _plan_against(
    work: Work, commit: str, path: str, manifests: Sequence[Manifest], scope: Scope, scratch: Path
) -> TreePlan:
    """Plan the render against the tree of another commit (the target branch), written to a scratch folder
    from git's objects: the pull request's diff when the branch did not start there."""
    folder = scratch / "base"
    repo = git.Repo(str(work.root))
    try:
        try:
            tree = repo.commit(commit).tree / path if path != "." else repo.commit(commit).tree
        except KeyError:
            tree = None
        folder.mkdir()
        if tree is not None:
            for item in tree.traverse():
                if isinstance(item, git.Blob):
                    target = folder / posixpath.relpath(item.path, path if path != "." else "")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(item.data_stream.read())
    finally:
        repo.close()
    return plan_tree(folder, manifests, scope)


# ---- publishing ---------------------------------------------------------------------------------------


def publish(options: PublishOptions) -> PublishResult:
    """Render, validate and publish (see the module docstring). Raises GeneratorError (exit 2) for bad
    input or a repository it must not write to, Findings (1) for an invalid render, ToolError (3) when
    git fails or the push keeps being rejected."""
    rendered = render_environments(options.config_dir, options.envs, options.services)
    manifests = rendered.selected
    target = resolve_target(options.config_dir, options.envs, options.repo, options.branch, options.path)
    validation = validate(options, rendered, target.path)
    with gitops.git_environment():
        source = gitops.source_commit(options.config_dir)
        pr = pr_branch_name(source, options.envs, options.services) if options.pr_branch else None
        root = Path(tempfile.gettempdir())
        swept = sweep_scratch(root)
        with scratch_folder(root) as scratch, _open(target.repo, scratch, options.timeout) as work:
            result = _publish(work, options, target, manifests, source, pr, validation, scratch)
    if not swept:
        return result
    note = f"removed {len(swept)} temporary folder(s) left in {root} by killed publish runs"
    return dataclasses.replace(result, notes=(note, *result.notes))


def _start(
    work: Work, target: Target, pr: str | None, scratch: Path, notes: list[str], made: list[str]
) -> tuple[str, str | None]:
    """Check out the branch to commit on; returns it and the commit the pull request is measured from
    (None outside pull-request mode). `made` gets the commits a killed publish made (`_prepare`)."""
    g, remote = work.git, work.remote
    if pr is None:
        branch = target.branch
        if work.temporary:
            tip = gitops.rev(g, f"refs/remotes/{remote}/{branch}")
            if tip is not None:
                g.run("checkout", "--quiet", "--no-track", "-B", branch, tip)
            elif g.out("for-each-ref", "--count=1", "refs/remotes").strip():
                raise GeneratorError(
                    f"{work.display}: no branch '{branch}' (check --branch or gitops.branch)"
                )
            else:  # an empty repository: the first commit starts the branch
                g.run("symbolic-ref", "HEAD", f"refs/heads/{branch}")
            return branch, None
        current = gitops.current_branch(g)
        if current != branch:
            raise GeneratorError(
                f"{work.display}: the clone is on {f'branch {current!r}' if current else 'a detached HEAD'}, "
                f"not on '{branch}' (check out '{branch}' first, or pass --branch {current or '<branch>'})"
            )
        made += _prepare(work, target.path, branch, scratch, notes)
        return branch, None
    made += _prepare(work, target.path, pr, scratch, notes)
    if remote is not None and not work.temporary:
        base = gitops.fetch_branch(g, remote, target.branch)
        start = gitops.fetch_branch(g, remote, pr) or base
    elif remote is not None:
        base = gitops.rev(g, f"refs/remotes/{remote}/{target.branch}")
        start = gitops.rev(g, f"refs/remotes/{remote}/{pr}") or base
    else:
        base = gitops.rev(g, f"refs/heads/{target.branch}")
        start = gitops.rev(g, f"refs/heads/{pr}") or base
    if base is None or start is None:
        raise GeneratorError(
            f"{work.display}: no branch '{target.branch}' for the pull request to merge into "
            "(check --branch or gitops.branch)"
        )
    g.run("checkout", "--quiet", "--no-track", "-B", pr, start)
    return pr, base


def _publish(
    work: Work,
    options: PublishOptions,
    target: Target,
    manifests: Sequence[Manifest],
    source: Source | None,
    pr: str | None,
    validation: str,
    scratch: Path,
) -> PublishResult:
    g = work.git
    if options.push and work.remote is None:
        raise GeneratorError(f"--push: {work.display} has no remote to push to")
    identity = gitops.identity_env(g, options.author, options.committer)
    notes: list[str] = []
    made: list[str] = []  # commits of gitops-gen's own on this branch, maybe not pushed: regenerable
    branch, pr_base = _start(work, target, pr, scratch, notes, made)
    original = gitops.rev(g, "HEAD")
    scope = Scope.of(options.envs, options.services)
    out_dir = work.root / target.path
    attempts, pushed = 0, False
    algorithm = clone.object_format(g) if work.held is not None else "sha1"
    files: dict[str, str] = {}
    while True:
        attempts += 1
        start = gitops.rev(g, "HEAD")
        refuse_links(work.root, target.path)  # a link committed to the repo could lead anywhere
        plan = plan_tree(out_dir, manifests, scope)
        if work.held is not None:  # what this run writes, recorded before it is written
            files = clone.planned_files(target.path, _written(plan), _deleted(plan), algorithm)
            work.held.write_journal(work.held.journal(target.path, branch, files, made))
        apply_plan(plan)
        paths = _stage_list(work, target.path, plan)
        gitops.stage(g, paths, scratch)
        changed = sorted(gitops.staged(g, target.path) & set(paths))
        groups = summarize(plan)
        commit = None
        if changed:
            message = commit_message(groups, source, options.message)
            commit = gitops.commit(g, message, changed, scratch, identity)
            if work.held is not None and options.push:  # a kill before the push leaves it ours
                made.append(commit)
                work.held.write_journal(work.held.journal(target.path, branch, files, made))
        if not options.push:
            break
        head = gitops.rev(g, "HEAD")
        if commit is None and (
            work.temporary or pr is not None or not (_ahead(work, branch) or head in made)
        ):
            break
        assert work.remote is not None
        outcome = gitops.push(g, work.remote, branch)
        if outcome.pushed:
            pushed = True
            break
        if attempts > options.retries:
            raise ToolError(
                f"{work.display}: the push to '{branch}' was rejected {attempts} times (last: "
                f"{outcome.reason}); nothing was pushed, and gitops-gen never force-pushes. Run it again, "
                "or check the branch's protection rules and hooks"
            )
        time.sleep(options.retry_delay * attempts)
        tip = gitops.fetch_branch(g, work.remote, branch)
        if tip is None:
            continue  # the branch is gone on the remote: the next push creates it
        if not (
            work.temporary
            or pr is not None
            or original is None
            or _only_ours(work, tip, made)
            or gitops.is_ancestor(g, original, tip)
        ):
            raise ToolError(
                f"{work.display}: the push to '{branch}' was rejected and {work.remote}/{branch} has "
                f"diverged from the local branch, which has commits the remote lacks; pull (rebase) and "
                "run again"
            )
        if work.held is not None:  # the files of both commits are this run's states while it moves
            work.held.write_journal(work.held.journal(target.path, branch, files, made, (tip,)))
        gitops.reset_keep(g, tip)
        notes.append(f"push rejected ({outcome.reason}); writing the tree again on {tip[:12]}")
    if work.held is not None:
        work.held.remove_journal()
    body, title = None, ""  # no title: nothing to describe
    if commit is not None:
        body_plan = plan
        if pr_base is not None and start != pr_base:
            try:
                body_plan = _plan_against(work, pr_base, target.path, manifests, scope, scratch)
            except TreeError:  # the target branch's tree is not ours to describe; say what it compares with
                notes.append(
                    f"the description compares with {(start or '')[:12]}, not with '{target.branch}'"
                )
        title = subject(summarize(body_plan))
        body = render_body(
            BodyInput(
                title=title,
                source=source.sha if source else None,
                dirty=bool(source and source.dirty),
                target_branch=target.branch,
                branch=branch,
                path=target.path,
                groups=summarize(body_plan),
                canary=canary_changes(body_plan),
                validation=validation,
                diffs=[(p, body_plan.file_diff(p, target.path)) for p in body_plan.touched],
            )
        )
    if pr is not None and not work.temporary:
        notes.append(f"{work.display} is now on branch '{pr}'")
    if work.temporary and commit is not None and not options.push:
        notes.append(
            f"{work.display} was cloned to a temporary folder: without --push the commit is discarded"
        )
    return PublishResult(
        repo=work.display,
        target_branch=target.branch,
        branch=branch,
        path=target.path,
        changed=commit is not None,
        commit=commit,
        pushed=pushed,
        attempts=attempts,
        title=title,
        groups=tuple(groups),
        validation=validation,
        body=body,
        notes=tuple(notes),
    )
