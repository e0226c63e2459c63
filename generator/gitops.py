"""Git for `publish`: clone, stage, commit, push, and the retry after a rejected push.

Everything runs the git CLI through GitPython (`repo.git.<command>(...)`), never `repo.index.*`, which
writes its own index and allows empty commits. A failing command becomes a `ToolError` (exit code 3)
that shows the command, its exit status and its output, with credentials removed.

Credentials: a URL such as `https://user:token@host/repo.git` may reach us from a flag or an environment
file. They never reach the disk: git is given the URL without its user-info (a clone writes its URL into
`.git/config`, where a killed run would leave it), and the user name and password reach only the git
processes that talk to the remote, in their environment, through a credential helper (`Credential`).
`redact` removes the user-info part of every URL in a text, and the literal secrets of the URLs we were
given (also percent-decoded) wherever they appear, and is applied to every message, exception text and
log line this module produces, error paths included (GitPython's GitCommandError carries the command
line).

Environment: git obeys dozens of `GIT_*` variables, and a command started from a git hook or `git rebase
-x` inherits `GIT_DIR`, `GIT_INDEX_FILE` and `GIT_WORK_TREE` of *another* repository: a commit would land
there. `git_environment` removes every inherited `GIT_*` variable except `KEPT_VARIABLES` (pre-commit's
`no_git_env` list: how to run git and reach remotes; plus the author/committer variables, so that CI can
set the bot's identity, and the variables choosing which config files git reads, which hold identity and
credential helpers). Tracing variables (`GIT_TRACE*`, `GIT_CURL_VERBOSE`) go: they print credentials.
`GIT_TERMINAL_PROMPT=0` is set unless given, so a push never hangs on a password prompt.
"""

from __future__ import annotations

import contextlib
import os
import re
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git

from .errors import GeneratorError, ToolError

KEPT_VARIABLES = frozenset(
    {
        # pre-commit's no_git_env: how to run git and reach remotes, never which repository
        "GIT_EXEC_PATH",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSH_VARIANT",
        "GIT_SSL_CAINFO",
        "GIT_SSL_NO_VERIFY",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_ALLOW_PROTOCOL",
        "GIT_ASKPASS",
        "GIT_CONFIG_COUNT",
        "GIT_TERMINAL_PROMPT",
        # identity: the usual way CI names a bot; --author/--committer override them
        "GIT_AUTHOR_NAME",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_DATE",
        "GIT_COMMITTER_NAME",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_DATE",
        # which config files git reads (identity, credential helpers), never a repository
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_SYSTEM",
        "GIT_CONFIG_NOSYSTEM",
    }
)
_KEPT_PATTERN = re.compile(r"GIT_CONFIG_(KEY|VALUE)_[0-9]+")
DEFAULT_TIMEOUT = 300.0  # seconds, for clone, fetch and push

_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s@'\"<>]+)@")
_IDENTITY = re.compile(r"^\s*(?P<name>[^<>]*?)\s*<(?P<email>[^<>\s]+)>\s*$")


# ---- credentials --------------------------------------------------------------------------------------


def secrets_of(url: str) -> tuple[str, ...]:
    """The secrets in a URL's user-info, raw and percent-decoded: the password, or a user name standing
    alone in an http(s) URL (`https://<token>@host/...`, how GitHub tokens are often given)."""
    match = _USERINFO.search(url)
    if match is None:
        return ()
    user, colon, password = match.group("userinfo").partition(":")
    secret = password if colon else (user if match.group("scheme").lower().startswith("http") else "")
    # Redacting "x" everywhere would mangle every message: such a secret is no secret. A user name alone
    # is taken for a token unless it is a short word (`https://git@host/...` must not turn every "git" of
    # a message into "***"); tokens are long or hold digits (GitHub's `ghp_` + 36, GitLab's 26).
    if len(secret) < 3 or (not colon and len(secret) < 12 and secret.isalpha()):
        return ()
    return tuple(sorted({secret, urllib.parse.unquote(secret)}, key=len, reverse=True))


# git runs a helper starting with "!" as a shell snippet, the operation (get, store, erase) appended
# (gitcredentials(7), "Custom helpers"). This one answers `get` from its own environment and ignores
# `store` and `erase`, so the secret is never handed to a helper that keeps it.
_HELPER = (
    '!f() { test "$1" = get || return 0; '
    'printf \'username=%s\\npassword=%s\\n\' "$GITOPS_GEN_GIT_USERNAME" "$GITOPS_GEN_GIT_PASSWORD"; }; f'
)
_HTTP_USERINFO = re.compile(
    r"^(?P<scheme>https?://)(?P<userinfo>[^/@]*)@(?P<rest>(?P<host>[^/?#]*).*)$", re.I
)
_ANY_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<userinfo>[^/@]*)@")


@dataclass(frozen=True)
class Credential:
    """The user-info of an http(s) URL, percent-decoded as git decodes it (`%40` is `@`; `+` stays `+`).

    It reaches git through environment variables of each process that talks to the remote, never a file:
    GIT_CONFIG_COUNT/GIT_CONFIG_KEY_<n>/GIT_CONFIG_VALUE_<n> (git-config(1), ENVIRONMENT) add, after the
    user's own settings, an empty `credential.helper`, which resets the list of helpers (git-config(1),
    `credential.helper`: "If the helper is set to the empty string, this resets the helper list to
    empty"), then `_HELPER`, scoped to the URL's scheme, host and port. So a helper the user configured
    can neither answer first with other credentials nor be asked to `store` these (`store` would write
    them to ~/.git-credentials), and a redirect to another host is not given them. URLs without
    user-info are left to the user's helpers as usual."""

    scope: str  # scheme://host[:port], the URL the helper is configured for
    username: str
    password: str  # empty for `https://<token>@host/...`, as pressing Enter at git's prompt gives

    def env(self, inherited: Mapping[str, str]) -> dict[str, str]:
        """The variables that give one git process these credentials, after the inherited
        GIT_CONFIG_KEY_<n>/GIT_CONFIG_VALUE_<n> settings (kept, see KEPT_VARIABLES)."""
        count = inherited.get("GIT_CONFIG_COUNT", "").strip() or "0"
        if not count.isdigit():
            raise GeneratorError(f"GIT_CONFIG_COUNT={count!r}: expected a number, as git does")
        n = int(count)
        return {
            "GIT_CONFIG_COUNT": str(n + 2),
            f"GIT_CONFIG_KEY_{n}": "credential.helper",
            f"GIT_CONFIG_VALUE_{n}": "",
            f"GIT_CONFIG_KEY_{n + 1}": f"credential.{self.scope}.helper",
            f"GIT_CONFIG_VALUE_{n + 1}": _HELPER,
            "GITOPS_GEN_GIT_USERNAME": self.username,
            "GITOPS_GEN_GIT_PASSWORD": self.password,
        }


def split_credentials(url: str) -> tuple[str, Credential | None]:
    """`url` without user-info, and the credentials it held. Only http(s) URLs carry credentials (git asks
    credential helpers for those alone); a password in another URL (`ssh://user:pw@host/...`) is refused,
    since ssh would not use it and the clone would write it to disk. A user name stays in such URLs."""
    match = _HTTP_USERINFO.match(url)
    if match is None:
        other = _ANY_USERINFO.match(url)
        if other is not None and ":" in other.group("userinfo"):
            raise GeneratorError(
                f"{redact(url)}: {other.group('scheme')} does not use a password from the URL, and the clone "
                "would write it to disk; give credentials in an http(s) URL, or use an SSH key"
            )
        return url, None
    user, colon, password = match.group("userinfo").partition(":")
    # git's credential_from_url: %XX only (never `+`), on bytes; surrogateescape carries any byte through
    # to the environment of git
    user, password = (urllib.parse.unquote(v, errors="surrogateescape") for v in (user, password))
    if any(c in user + password for c in "\n\r\0"):
        raise GeneratorError(
            f"{redact(url)}: the user name or password holds a line break or NUL, which git's credential "
            "protocol cannot carry (git refuses such URLs too)"
        )
    scheme = match.group("scheme")
    return scheme + match.group("rest"), Credential(
        f"{scheme}{match.group('host')}", user, password if colon else ""
    )


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without credentials: the user-info of every URL becomes `***`, and each known secret (see
    `secrets_of`) is replaced wherever it appears."""
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}***@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


# ---- environment --------------------------------------------------------------------------------------


def kept(name: str) -> bool:
    return not name.startswith("GIT_") or name in KEPT_VARIABLES or bool(_KEPT_PATTERN.fullmatch(name))


@contextlib.contextmanager
def git_environment() -> Iterator[None]:
    """Run the body with the inherited `GIT_*` variables removed (see the module docstring).

    This changes `os.environ` for the duration and restores it after, because GitPython reads the
    process environment itself (`Repo()` reads GIT_DIR, GIT_WORK_TREE, GIT_OBJECT_DIRECTORY; every
    command starts from a copy of `os.environ`), so a per-command `env` could add variables but never
    remove one. Not thread-safe, like anything that changes the environment."""
    removed = {name: value for name, value in os.environ.items() if not kept(name)}
    added_prompt = "GIT_TERMINAL_PROMPT" not in os.environ
    try:
        for name in removed:
            del os.environ[name]
        if added_prompt:
            os.environ["GIT_TERMINAL_PROMPT"] = "0"
        yield
    finally:
        if added_prompt:
            os.environ.pop("GIT_TERMINAL_PROMPT", None)
        os.environ.update(removed)


# ---- identity -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    name: str
    email: str

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


def parse_identity(text: str, option: str) -> Identity:
    """`Name <email>`, as git writes it; anything else is a usage error naming the option."""
    match = _IDENTITY.match(text)
    if match is None or not match.group("name"):
        raise GeneratorError(f"{option} {text!r}: expected 'Name <email>'")
    return Identity(match.group("name"), match.group("email"))


# ---- running git --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    status: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Git:
    """git in one folder (a repository, or the folder a clone goes into); failures are ToolErrors with
    credentials redacted."""

    folder: Path
    secrets: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    credential: Credential | None = field(default=None, repr=False)  # given to `network` commands only
    _git: Any = field(default=None, compare=False, repr=False)

    @staticmethod
    def at(
        folder: Path,
        secrets: Sequence[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
        credential: Credential | None = None,
    ) -> Git:
        return Git(folder, tuple(secrets), timeout, credential, git.Git(str(folder)))

    def redact(self, text: str) -> str:
        return redact(text, self.secrets)

    def run(
        self,
        command: str,
        *args: str,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        network: bool = False,
    ) -> Result:
        """`git <command> <args>`; raises ToolError on a non-zero exit unless `check` is False.
        `network` commands are killed after `timeout` seconds, and get the credentials: no other git
        process sees them."""
        runner = getattr(self._git, command.replace("-", "_"))
        # A `status` in the user's config repo must not rewrite its index to refresh stat data: reading a
        # repository changes nothing in it (git(1), GIT_OPTIONAL_LOCKS / --no-optional-locks).
        variables = {"GIT_OPTIONAL_LOCKS": "0", **(env or {})}
        if network and self.credential is not None:
            variables |= self.credential.env(os.environ)
        try:
            status, stdout, stderr = runner(
                *args,
                with_exceptions=False,
                with_extended_output=True,
                env=variables,
                kill_after_timeout=self.timeout if network else None,
            )
        except git.GitCommandNotFound as exc:  # no git at all
            raise ToolError(f"git is not installed or not on PATH: {self.redact(str(exc))}") from None
        except git.GitError as exc:  # a GitPython failure before or around the process
            raise ToolError(self.redact(f"git {command}: {exc}")) from None
        result = Result(int(status), str(stdout), str(stderr))
        if check and result.status != 0:
            raise self.failure(command, args, result)
        return result

    def failure(self, command: str, args: Sequence[str], result: Result, what: str = "") -> ToolError:
        """A ToolError showing the command, its status and output (pre-commit's CalledProcessError)."""
        shown = " ".join(["git", command, *args])
        lines = [f"{what}: " if what else "", f"`{shown}` failed (exit {result.status})"]
        text = "".join(lines)
        for name, output in (("stdout", result.stdout), ("stderr", result.stderr)):
            if output.strip():
                text += f"\n{name}:\n" + "\n".join(f"    {line}" for line in output.strip().splitlines())
        return ToolError(self.redact(text))

    def out(self, command: str, *args: str, network: bool = False) -> str:
        return self.run(command, *args, network=network).stdout

    def ok(self, command: str, *args: str) -> bool:
        return self.run(command, *args, check=False).status == 0


# ---- repositories -------------------------------------------------------------------------------------


def is_work_tree(folder: Path) -> bool:
    """True for the top folder of a non-bare repository."""
    try:
        repo = git.Repo(str(folder))
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return False
    try:
        return not repo.bare and Path(str(repo.working_tree_dir)).resolve() == folder.resolve()
    finally:
        repo.close()


def is_bare(folder: Path) -> bool:
    try:
        repo = git.Repo(str(folder))
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return False
    try:
        return bool(repo.bare)
    finally:
        repo.close()


def clone(url: str, dest: Path, secrets: Sequence[str] = (), timeout: float = DEFAULT_TIMEOUT) -> Git:
    """Clone without checking anything out (the caller checks out the branch it needs). The clone's
    remote is `url` without user-info; its credentials go with each fetch and push (`Credential`)."""
    bare, credential = split_credentials(url)
    parent = Git.at(dest.parent, secrets, timeout, credential)
    args = ("--no-checkout", "--no-tags", "--", bare, str(dest))
    result = parent.run("clone", *args, check=False, network=True)
    if result.status != 0:
        raise parent.failure("clone", args, result, f"cannot clone {redact(url, secrets)}")
    return Git.at(dest, secrets, timeout, credential)


def current_branch(g: Git) -> str | None:
    """The branch HEAD is on (also when it has no commit yet); None when detached."""
    result = g.run("symbolic-ref", "-q", "--short", "HEAD", check=False)
    return result.stdout.strip() or None if result.status == 0 else None


def rev(g: Git, ref: str) -> str | None:
    """The commit a ref names, or None when it does not exist."""
    result = g.run("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
    return result.stdout.strip() or None if result.status == 0 else None


def is_ancestor(g: Git, ancestor: str, descendant: str) -> bool:
    return g.ok("merge-base", "--is-ancestor", ancestor, descendant)


def remotes(g: Git) -> list[str]:
    return g.out("remote").split()


def remote_of(g: Git, branch: str) -> str | None:
    """The remote `branch` pushes to: its configured remote, else `origin`, else the only remote."""
    configured = g.run("config", "--get", f"branch.{branch}.remote", check=False).stdout.strip()
    names = remotes(g)
    if configured and configured in names:
        return configured
    if "origin" in names:
        return "origin"
    return names[0] if len(names) == 1 else None


def fetch_branch(g: Git, remote: str, branch: str) -> str | None:
    """Fetch `branch` into refs/remotes/<remote>/<branch>; its commit, or None when the remote lacks it."""
    listed = g.out("ls-remote", "--heads", remote, f"refs/heads/{branch}", network=True)
    tracking = f"refs/remotes/{remote}/{branch}"
    if not listed.strip():
        if rev(g, tracking) is not None:
            g.run("update-ref", "-d", tracking)  # gone on the remote
        return None
    g.run("fetch", "--no-tags", remote, f"+refs/heads/{branch}:{tracking}", network=True)
    return rev(g, tracking)


@dataclass(frozen=True)
class Status:
    """One `git status --porcelain` entry: the two status letters and the path (the new one of a rename)."""

    code: str
    path: str


def status(g: Git, pathspec: str) -> list[Status]:
    """Uncommitted changes under `pathspec`: staged, unstaged and untracked (each untracked file listed)."""
    raw = g.out("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", pathspec)
    entries = []
    fields = iter(raw.split("\0"))
    for entry in fields:
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if "R" in code or "C" in code:
            original = next(fields, "")
            entries.append(Status(code, original))
        entries.append(Status(code, path))
    return entries


def tracked(g: Git, pathspec: str) -> set[str]:
    return {p for p in g.out("ls-files", "-z", "--", pathspec).split("\0") if p}


def staged(g: Git, pathspec: str) -> set[str]:
    """Paths whose staged content differs from HEAD (all staged paths on an unborn branch)."""
    return {
        p
        for p in g.out("diff", "--cached", "--name-only", "--no-renames", "-z", "--", pathspec).split("\0")
        if p
    }


LITERAL = {"GIT_LITERAL_PATHSPECS": "1"}  # our paths are file names, never patterns


def stage(g: Git, paths: Sequence[str], scratch: Path) -> None:
    """`git add -A` exactly these paths (new, changed or deleted files), nothing else."""
    if not paths:
        return
    listing = scratch / "stage.pathspec"
    listing.write_bytes(b"".join(p.encode("utf-8") + b"\0" for p in paths))
    g.run("add", "-A", f"--pathspec-from-file={listing}", "--pathspec-file-nul", env=LITERAL)


def commit(
    g: Git,
    message: str,
    paths: Sequence[str],
    scratch: Path,
    identity_env: Mapping[str, str],
) -> str:
    """Commit only `paths` (`git commit --only`: other staged changes stay staged and out of the commit);
    returns the new commit."""
    listing = scratch / "commit.pathspec"
    listing.write_bytes(b"".join(p.encode("utf-8") + b"\0" for p in paths))
    message_file = scratch / "message.txt"
    message_file.write_text(message, encoding="utf-8")
    g.run(
        "commit",
        "--quiet",
        "--only",
        f"--file={message_file}",
        f"--pathspec-from-file={listing}",
        "--pathspec-file-nul",
        env={**LITERAL, **identity_env},
    )
    head = rev(g, "HEAD")
    assert head is not None
    return head


def identity_env(g: Git, author: Identity | None, committer: Identity | None) -> dict[str, str]:
    """The variables that give a commit its author and committer: the flags, else git's own identity
    (GIT_AUTHOR_*/GIT_COMMITTER_* or user.name/user.email), else the author as committer too. A missing
    identity is a usage error, found before anything is written."""
    env: dict[str, str] = {}
    if author is not None:
        env |= {"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email}
    if committer is not None:
        env |= {"GIT_COMMITTER_NAME": committer.name, "GIT_COMMITTER_EMAIL": committer.email}
    if author is None and g.run("var", "GIT_AUTHOR_IDENT", env=env, check=False).status != 0:
        raise GeneratorError(
            "no author identity for the commit: pass --author 'Name <email>', or set user.name and "
            "user.email (or GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL)"
        )
    if committer is None and g.run("var", "GIT_COMMITTER_IDENT", env=env, check=False).status != 0:
        if author is None:
            raise GeneratorError(
                "no committer identity for the commit: pass --committer 'Name <email>', or set user.name "
                "and user.email (or GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL)"
            )
        env |= {"GIT_COMMITTER_NAME": author.name, "GIT_COMMITTER_EMAIL": author.email}
    return env


@dataclass(frozen=True)
class PushOutcome:
    pushed: bool
    reason: str = ""  # why the remote rejected the update


def push(g: Git, remote: str, branch: str) -> PushOutcome:
    """Push HEAD to `branch` on `remote`, never forced. A rejected update (the branch moved, a hook or a
    protection declined) is an outcome the caller may retry; any other failure is a ToolError."""
    args = ("--porcelain", remote, f"HEAD:refs/heads/{branch}")
    result = g.run("push", *args, check=False, network=True)
    if result.status == 0:
        return PushOutcome(True)
    rejected = [line for line in result.stdout.splitlines() if line.startswith("!")]
    if rejected:
        reason = rejected[0].split("\t")[-1]
        remote_lines = [line for line in result.stderr.splitlines() if line.startswith("remote:")]
        return PushOutcome(False, g.redact(" ".join([reason, *remote_lines]).strip()))
    raise g.failure("push", args, result, f"cannot push to {remote}")


def reset_keep(g: Git, commit_: str) -> None:
    """Move the branch and the files git tracks to `commit_`, keeping uncommitted changes of other files
    (`git reset --keep` refuses when one of those would be overwritten)."""
    g.run("reset", "--quiet", "--keep", commit_)


# ---- the config repository ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """The commit of the config repository a render came from."""

    sha: str
    dirty: bool  # uncommitted changes to services/ or environments/

    @property
    def short(self) -> str:
        return self.sha[:12]

    @property
    def label(self) -> str:
        return f"{self.sha}-dirty" if self.dirty else self.sha


def source_commit(config_dir: Path, inputs: Sequence[str] = ("services", "environments")) -> Source | None:
    """HEAD of the git repository holding `config_dir`, and whether its inputs have uncommitted changes;
    None when the folder is not in a repository or it has no commit yet."""
    try:
        repo = git.Repo(str(config_dir), search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    try:
        if repo.bare or repo.working_tree_dir is None:
            return None
        root = Path(str(repo.working_tree_dir)).resolve()
        g = Git.at(root)
        head = rev(g, "HEAD")
        if head is None:
            return None
        prefix = config_dir.resolve().relative_to(root).as_posix()
        pathspecs = [f"{prefix}/{name}" if prefix != "." else name for name in inputs]
        changes = g.out("status", "--porcelain", "--untracked-files=all", "--", *pathspecs)
        return Source(head, bool(changes.strip()))
    finally:
        repo.close()
