"""The command line: parses options, calls the library, prints, exits. No logic of its own.

Each command imports what it needs when it runs: `gitops-gen --help` or a usage error loads click and
this module only (not jsonschema, graphql-core, jinja2, GitPython or the rules), so hooks start fast.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import importlib
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import click

if TYPE_CHECKING:
    from .cache import RenderCache
    from .changes import Selection
    from .checks import CheckResult
    from .uptodate import Transcript

F = TypeVar("F", bound=Callable[..., Any])


def _attribute(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module, __package__), name)


class _Deferred:
    """A default from another module, imported only when a command runs or its help shows it: click
    calls a callable default, and shows `str()` of one that is not a function."""

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name

    def __call__(self) -> str:
        return str(_attribute(self.module, self.name))

    def __str__(self) -> str:
        return self()


class _DeferredChoices(Sequence[str]):
    """`click.Choice`'s values from another module, imported when the option is first checked or shown."""

    def __init__(self, module: str, name: str) -> None:
        self.module = module
        self.name = name

    @functools.cached_property
    def values(self) -> tuple[str, ...]:
        return tuple(_attribute(self.module, self.name))

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        return self.values[index]

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)


class _DeferredChoice(click.Choice):  # type: ignore[type-arg]
    def __init__(self, choices: _DeferredChoices) -> None:
        super().__init__((), case_sensitive=True)
        self._deferred = choices

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        return self._deferred.values

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        pass  # click.Choice.__init__ sets it; the deferred values stand


EXIT_CODES = """\b
Exit codes:
  0  ok
  1  findings: invalid output, a broken rule, drift under --check, a missed analysis test
  2  bad input or usage: a spec, an environment file, a test file, a flag
  3  could not run: a tool missing, crashing or timing out, a push that kept failing,
     an OAP that cannot be asked, a condition the evaluator lacks"""


class _Terminated(SystemExit):
    """Raised by the SIGTERM handler of `terminated_unwinds`."""


@contextlib.contextmanager
def terminated_unwinds() -> Iterator[None]:
    """SIGTERM (a cancelled CI job, a timeout's first signal) raises an exception in the main thread, as
    Ctrl-C raises KeyboardInterrupt, so that `finally` blocks run on the way out: publish's temporary
    clone is removed. Then the process exits at once with 143: GitPython's timer thread for a network
    command (non-daemon, not cancelled when its wait is interrupted) would hold the exit back for up to
    its timeout. SIGKILL cannot be caught: the next publish sweeps what such a run leaves."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def unwind(signum: int, frame: object) -> None:
        raise _Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, unwind)
    try:
        yield
    except _Terminated as exc:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(exc.code or 1))
    finally:
        signal.signal(signal.SIGTERM, previous)


def reports_errors(command: F) -> F:
    """User mistakes print one line per problem to stderr and exit with the error's code; no traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .errors import GeneratorError

        try:
            return command(*args, **kwargs)
        except GeneratorError as exc:
            click.echo(f"gitops-gen: {exc}" if not exc.problems else str(exc), err=True)
            sys.exit(exc.exit_code)

    return wrapper  # type: ignore[return-value]


config_option = click.option(
    "--config",
    "config_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Config repo holding services/ and environments/.",
)


envs_option = click.option(
    "--env", "envs", multiple=True, metavar="ENV", help="Only this environment (repeatable)."
)
services_option = click.option(
    "--service", "services", multiple=True, metavar="NAME", help="Only this service (repeatable)."
)
out_option = click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder.  [default: <config>/rendered]",
)
validator_option = click.option(
    "--validator",
    type=click.Choice(["auto", "kubeconform", "builtin"]),
    default="auto",
    show_default=True,
    help="Schema validator: kubeconform via subprocess, or the builtin one on the same schemas "
    "(auto: kubeconform when it is on PATH).",
)


no_validate_option = click.option(
    "--no-validate", is_flag=True, help="Skip the schema and cross-object checks."
)
cache_option = click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where renders of unchanged services are kept (deleting it only costs time).  "
    "[default: $XDG_CACHE_HOME/gitops-gen/<hash of the config folder>, ~/.cache when unset]",
)
no_cache_option = click.option("--no-cache", is_flag=True, help="Render and validate everything afresh.")


def _cache(config_dir: Path, cache_dir: Path | None, no_cache: bool) -> RenderCache | None:
    from .cache import RenderCache, default_folder

    return None if no_cache else RenderCache(cache_dir or default_folder(config_dir))


@click.group(epilog=EXIT_CODES)
@click.version_option(package_name="gitops-gen")
def cli() -> None:
    """Render canary releases (Argo Rollouts, SkyWalking, TSB, Argo CD) from one spec per service."""


@cli.command(epilog=EXIT_CODES)
@config_option
@envs_option
@services_option
@out_option
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 with a unified diff if --out is not up to date."
)
@validator_option
@no_validate_option
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1, nothing written).")
@cache_option
@no_cache_option
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@reports_errors
def render(
    config_dir: Path,
    envs: tuple[str, ...],
    services: tuple[str, ...],
    out_dir: Path | None,
    check: bool,
    validator: str,
    no_validate: bool,
    strict: bool,
    cache_dir: Path | None,
    no_cache: bool,
    files: tuple[Path, ...],
) -> None:
    """Render the manifests of every (or the given) environment and service into --out.

    Everything is validated first (schemas and cross-object rules, as `validate` does): with an error,
    nothing is written. Files gitops-gen wrote earlier that no spec produces any more are deleted (only
    those of the given environments and services); files it did not write are never touched.

    FILES are changed files (as the pre-commit hook passes them): only what they affect is rendered or
    checked, a spec's service in every environment, an environment file's environment."""
    from .errors import Findings, GeneratorError
    from .uptodate import Transcript, record_key, replay

    out = out_dir or config_dir / "rendered"
    if files and (envs or services):
        raise GeneratorError("give changed FILES or --env/--service, not both")
    cache = _cache(config_dir, cache_dir, no_cache)
    arguments = [str(config_dir), str(out_dir or ""), *envs, "--", *services, "--", *map(str, files)]
    arguments += [f"{check} {validator} {no_validate} {strict}"]
    key = None
    if cache is not None:  # the same run on the same inputs and tree passed before: say what it said
        key = record_key(config_dir, arguments, validator)
        if key is not None and replay(cache, key):
            return
    from .changes import Selection, affected

    selections = affected(config_dir, out, files) if files else [Selection(envs, services)]
    if not selections:
        click.echo("gitops-gen: none of the files is a spec, an environment or a rendered file", err=True)
        return
    transcript = Transcript()
    stale = [
        problem
        for selection in selections
        if (
            problem := _render_one(
                config_dir,
                out_dir,
                selection,
                files,
                check,
                validator,
                no_validate,
                strict,
                cache,
                transcript,
            )
        )
    ]
    if stale:
        raise Findings("\n".join(stale))
    # Only if the inputs are still those the key was made of: an edit during the render would otherwise
    # file this render's output under inputs it did not read.
    if cache is not None and key is not None and record_key(config_dir, arguments, validator) == key:
        transcript.store(cache, key)


def _render_one(
    config_dir: Path,
    out_dir: Path | None,
    selection: Selection,
    files: tuple[Path, ...],
    check: bool,
    validator: str,
    no_validate: bool,
    strict: bool,
    cache: RenderCache | None,
    transcript: Transcript,
) -> str:
    """One render (or check); returns why the tree is out of date under --check, else ""."""
    from .checks import check_render, validator_for
    from .errors import Findings
    from .render import render_environments
    from .report import format_findings, summary
    from .tree import Scope, apply_plan, plan_tree

    envs, services = selection.envs, selection.services
    out = out_dir or config_dir / "rendered"
    rendered = render_environments(config_dir, envs, services, cache, selection.with_environments)
    scope = replace(Scope.of(envs, services), with_environments=selection.with_environments)
    plan = plan_tree(out, rendered.selected, scope)
    transcript.saw(out, ((path, m.text) for path, m in plan.manifests.items()))
    if plan.has_changes or plan.index_changed:
        transcript.up_to_date = False
    if not no_validate:
        result = check_render(rendered, validator_for(validator), str(out))
        transcript.say(format_findings(result.findings, "text", result.checked), err=True)
        if result.failed(strict):
            raise Findings(f"nothing written: {summary(result.findings, result.checked)}")
    if check:
        transcript.say(plan.unified_diff())
        if plan.has_changes:
            command = _render_command(config_dir, out_dir, envs, services, files)
            return (
                f"{out} is out of date: {len(plan.added)} added, {len(plan.changed)} changed, "
                f"{len(plan.removed)} removed (run `{command}` to update it)"
            )
        transcript.say(f"{out} is up to date ({len(plan.unchanged)} files)\n", err=True)
        return ""
    report = apply_plan(plan)
    transcript.say(
        f"rendered {len(plan.manifests)} manifests: {len(report.written)} written, "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged\n",
        err=True,
    )
    return ""


def _render_command(
    config_dir: Path,
    out_dir: Path | None,
    envs: tuple[str, ...],
    services: tuple[str, ...],
    files: tuple[Path, ...] = (),
) -> str:
    """The `render` that brings the tree up to date, with the options or the changed files of the check
    that failed (a spec's change reaches its environments' own objects, which `--service` leaves alone)."""
    argv = ["gitops-gen", "render"]
    if config_dir != Path("."):
        argv += ["--config", str(config_dir)]
    if out_dir is not None:
        argv += ["--out", str(out_dir)]
    if files:
        return shlex.join([*argv, *map(str, files)])
    for env in envs:
        argv += ["--env", env]
    for service in services:
        argv += ["--service", service]
    return shlex.join(argv)


@cli.command(epilog=EXIT_CODES)
@config_option
@envs_option
@services_option
@out_option
@click.option(
    "--output", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)
@reports_errors
def diff(
    config_dir: Path, envs: tuple[str, ...], services: tuple[str, ...], out_dir: Path | None, output: str
) -> None:
    """Show what `render` would change: added, changed and removed objects per environment and service,
    then a unified diff. Writes nothing and exits 0 even when there are changes (informational; use
    `render --check` to fail on drift)."""
    from .diff import format_text, to_json
    from .tree import plan_render

    plan = plan_render(config_dir, out_dir or config_dir / "rendered", envs, services)
    click.echo(to_json(plan) if output == "json" else format_text(plan), nl=False)


@cli.command(epilog=EXIT_CODES)
@config_option
@envs_option
@services_option
@click.option(
    "--output",
    type=click.Choice(["text", "json", "svg"]),
    default="text",
    show_default=True,
    help="text for people, json for tools (times in seconds), svg for a browser.",
)
@reports_errors
def plan(config_dir: Path, envs: tuple[str, ...], services: tuple[str, ...], output: str) -> None:
    """Show the timeline Argo Rollouts follows for each canary: every step with its weight and start,
    manual pauses, when the background analysis starts and measures, the earliest rollback of a failing
    canary and the earliest full promotion, from the objects a render would write (nothing is written)."""
    from .plan import format_text, plan_render, to_json

    found = plan_render(config_dir, envs, services)
    if output == "svg":
        from .plan_svg import to_svg

        click.echo(to_svg(found), nl=False)
    else:
        click.echo(to_json(found) if output == "json" else format_text(found), nl=False)


@cli.command(name="test", epilog=EXIT_CODES)
@config_option
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("-v", "--verbose", is_flag=True, help="Also list the cases that got their phase.")
@reports_errors
def test_analysis(config_dir: Path, paths: tuple[Path, ...], verbose: bool) -> None:
    """Run analysis unit tests (default: the YAML files of <config>/analysis-tests/): each case gives
    SkyWalking's value for every minute of a metric's window and the phase Argo Rollouts must record;
    gitops-gen answers the rendered query with those values and evaluates the conditions as the analysis
    controller would. A case that misses its phase is a finding (exit 1), shown with what the conditions
    saw; a condition the evaluator cannot run exits 3."""
    from .analysis_tests import format_outcome, format_passed, run, summary
    from .errors import Findings, ToolError

    report = run(config_dir, paths)
    for outcome in report.outcomes:
        if not outcome.passed:
            click.echo(format_outcome(outcome), nl=False)
        elif verbose:
            click.echo(format_passed(outcome), nl=False)
    click.echo(summary(report), err=True)
    if report.findings:
        sys.exit(Findings.exit_code)
    if report.unsupported:
        sys.exit(ToolError.exit_code)


@cli.group()
def analysis() -> None:
    """Ask a live SkyWalking what a canary's analysis would see."""


@analysis.command(name="try", epilog=EXIT_CODES)
@config_option
@click.option("--env", required=True, metavar="ENV", help="The environment whose render is asked for.")
@click.option("--service", required=True, metavar="NAME", help="The service whose analysis is tried.")
@click.option(
    "--oap",
    metavar="URL",
    default=None,
    help="The OAP to ask, e.g. http://localhost:12800 through a port-forward.  "
    "[default: the AnalysisTemplate's address]",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the OAP (the provider waits 30).",
)
@click.option(
    "--at", metavar="'YYYY-MM-DD HHMM'", default=None, help="End of the window.  [default: now, UTC]"
)
@reports_errors
def analysis_try(
    config_dir: Path, env: str, service: str, oap: str | None, timeout: float, at: str | None
) -> None:
    """Send the service's rendered SkyWalking queries to the OAP for the window the provider would ask
    for now, print what came back and the phase the measurement would get. A window in which every
    minute is empty is called out: the service name matches nothing, or the canary had no traffic.
    Exit 0 when every metric would be Successful, 1 when one would not, 3 when the OAP cannot be asked
    or refuses the query."""
    from .analysis_try import format_attempts, parse_at, try_analysis
    from .errors import Findings

    attempts = try_analysis(config_dir, env, service, oap, timeout, parse_at(at) if at else None)
    click.echo(format_attempts(env, service, attempts), nl=False)
    if any(attempt.measurement.phase != "Successful" for attempt in attempts):
        sys.exit(Findings.exit_code)


@cli.command(epilog=EXIT_CODES)
@config_option
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@validator_option
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
@click.option(
    "--output",
    type=_DeferredChoice(_DeferredChoices(".report", "FORMATS")),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--oap-version",
    default=_Deferred(".skywalking", "DEFAULT_OAP_VERSION"),
    show_default=True,
    metavar="X.Y.Z",
    help="SkyWalking OAP release the queries are checked against (GG304).",
)
@click.option(
    "--rollouts-version",
    default=_Deferred(".expr_check", "DEFAULT_ROLLOUTS_VERSION"),
    show_default=True,
    metavar="VERSION",
    help="Argo Rollouts release whose expression language conditions are checked in (GG306).",
)
@cache_option
@no_cache_option
@reports_errors
def validate(
    config_dir: Path,
    paths: tuple[Path, ...],
    validator: str,
    strict: bool,
    output: str,
    oap_version: str,
    rollouts_version: str,
    cache_dir: Path | None,
    no_cache: bool,
) -> None:
    """Validate manifests, rendered or hand-written: schemas from the real CRDs, then the cross-object
    rules (PATHS: files or folders; default: <config>/rendered). The render cache keeps what checking a
    SkyWalking query gives, nothing else: every file is read and checked each time."""
    from .checks import check_paths, validator_for, versions_of

    targets = list(paths) or [config_dir / "rendered"]
    versions = versions_of(oap_version, rollouts_version)
    cache = _cache(config_dir, cache_dir, no_cache)
    result = check_paths(targets, validator_for(validator), versions, cache=cache)
    _report(result, output, strict)


def _report(result: CheckResult, output: str, strict: bool) -> None:
    from .errors import Findings
    from .report import format_findings, summary

    text = format_findings(result.findings, output, result.checked)
    click.echo(text, nl=False)
    click.echo(summary(result.findings, result.checked), err=True)
    if result.failed(strict):
        sys.exit(Findings.exit_code)


_PUBLISH_FLAGS = (
    click.option(
        "--repo",
        metavar="URL|PATH",
        help="GitOps repository: a local working clone (used in place) or a URL (cloned to a temporary "
        "folder).  [default: the environments' gitops.repoURL]",
    ),
    click.option("--branch", metavar="BRANCH", help="Branch to commit to.  [default: gitops.branch]"),
    click.option(
        "--path", metavar="PATH", help="Folder of the repository for the tree.  [default: gitops.path]"
    ),
    click.option(
        "--push", is_flag=True, help="Push the commit; a rejected push is fetched and redone, never forced."
    ),
    click.option(
        "--pr-branch",
        is_flag=True,
        help="Commit to gitops-gen/<config commit> (from the target branch's tip) instead, for a pull "
        "request.",
    ),
    click.option(
        "--pr-body",
        metavar="FILE",
        type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
        help="Write the pull-request description (markdown) to FILE, '-' for stdout; only when something "
        "changed.",
    ),
    click.option("--author", metavar="'NAME <EMAIL>'", help="Commit author.  [default: git's identity]"),
    click.option(
        "--committer", metavar="'NAME <EMAIL>'", help="Committer.  [default: git's identity, else --author]"
    ),
    click.option(
        "--message-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Commit message to use instead of the generated subject (the change list and source follow).",
    ),
    click.option(
        "--retries",
        type=click.IntRange(0, 100),
        default=5,
        show_default=True,
        help="Retries after a rejected push.",
    ),
    click.option(
        "--retry-delay",
        type=click.FloatRange(0),
        default=1.0,
        show_default=True,
        help="Seconds before the first retry; the n-th waits n times as long.",
    ),
)
_PUBLISH_NAMES = (
    "repo", "branch", "path", "push", "pr_branch", "pr_body", "author", "committer", "message_file",
    "retries", "retry_delay",
)  # fmt: skip


def publish_flags(command: F) -> F:
    """The options of `publish` saying where and how to commit, shared with `release` and `promote`."""
    for option in reversed(_PUBLISH_FLAGS):
        command = option(command)
    return command


def _publish_options(
    config_dir: Path,
    envs: tuple[str, ...],
    services: tuple[str, ...],
    flags: dict[str, Any],
    validator: str | None,
    strict: bool,
) -> Any:
    """PublishOptions from the flags; both files are checked first: a commit must not be pushed and then
    the description fail to be written."""
    from .errors import GeneratorError
    from .gitops import parse_identity
    from .publish import PublishOptions

    message = None
    message_file: Path | None = flags["message_file"]
    pr_body: Path | None = flags["pr_body"]
    if message_file is not None:
        try:
            message = message_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise GeneratorError(f"--message-file {message_file}: cannot read it ({exc})") from None
    if pr_body is not None and str(pr_body) != "-" and not pr_body.resolve().parent.is_dir():
        raise GeneratorError(f"--pr-body {pr_body}: the folder {pr_body.parent} does not exist")
    author, committer = flags["author"], flags["committer"]
    return PublishOptions(
        config_dir=config_dir,
        envs=envs,
        services=services,
        repo=flags["repo"],
        branch=flags["branch"],
        path=flags["path"],
        push=flags["push"],
        pr_branch=flags["pr_branch"],
        author=parse_identity(author, "--author") if author is not None else None,
        committer=parse_identity(committer, "--committer") if committer is not None else None,
        message=message,
        validator=validator,
        strict=strict,
        retries=flags["retries"],
        retry_delay=flags["retry_delay"],
    )


def _run_publish(options: Any, pr_body: Path | None) -> None:
    """Publish, then say what happened: notes and a summary on stderr, the `key=value` lines on stdout
    (on stderr when the description goes to stdout)."""
    from .errors import ToolError
    from .publish import publish as publish_render

    with terminated_unwinds():
        result = publish_render(options)
    for note in result.notes:
        click.echo(f"gitops-gen: {note}", err=True)
    where = f"{result.repo} '{result.branch}' ({result.path}/)"
    if result.changed:
        done = "pushed" if result.pushed else "not pushed (no --push)"
        click.echo(f"committed {(result.commit or '')[:12]} to {where}, {done}: {result.title}", err=True)
    elif result.pushed:
        click.echo(f"no changes to commit; pushed earlier commits of {where}", err=True)
    else:
        click.echo(f"no changes: {where} already holds this render", err=True)
    to_stdout = pr_body is not None and str(pr_body) == "-"
    if result.body is not None and pr_body is not None:
        if to_stdout:
            click.echo(result.body, nl=False)
        else:
            try:
                pr_body.write_text(result.body, encoding="utf-8")
            except OSError as exc:  # published already: say so, and where the description could not go
                raise ToolError(
                    f"published, but the description could not be written to {pr_body}: {exc}"
                ) from None
    for key, value in (
        ("changed", str(result.changed).lower()),
        ("commit", result.commit or ""),
        ("branch", result.branch),
        ("base", result.target_branch),
        ("pushed", str(result.pushed).lower()),
        ("title", result.title),
    ):
        click.echo(f"{key}={value}", err=to_stdout)


@cli.command(epilog=EXIT_CODES)
@config_option
@envs_option
@services_option
@publish_flags
@validator_option
@no_validate_option
@click.option("--strict", is_flag=True, help="Validation warnings stop the publish too (exit 1).")
@reports_errors
def publish(
    config_dir: Path,
    envs: tuple[str, ...],
    services: tuple[str, ...],
    validator: str,
    no_validate: bool,
    strict: bool,
    **flags: Any,
) -> None:
    """Render, validate and commit the tree into the GitOps repository (only when it changed).

    Prints `changed=`, `commit=`, `branch=`, `base=`, `pushed=` and `title=` lines on stdout (on stderr
    when the description goes to stdout), ready for $GITHUB_OUTPUT."""
    # GitPython is imported only when publishing: the other commands stay fast to start.
    options = _publish_options(config_dir, envs, services, flags, None if no_validate else validator, strict)
    _run_publish(options, flags["pr_body"])


# ---- release and promote ------------------------------------------------------------------------------

_release_publish_option = click.option(
    "--publish",
    "publish_it",
    is_flag=True,
    help="Then commit the tree into the GitOps repository as `publish` does (with the flags below).",
)


def _finish_release(
    config_dir: Path,
    service: str,
    edits: Sequence[Any],
    out_dir: Path | None,
    validator: str,
    no_validate: bool,
    strict: bool,
    publish_it: bool,
    envs: tuple[str, ...],
    flags: dict[str, Any],
) -> None:
    """Render the edited config (from a temporary copy), validate it, then write the edited files, the
    tree, and publish: with a problem anywhere before the writes, nothing is written."""
    from .errors import GeneratorError
    from .release import finish

    given = [
        "--" + name.replace("_", "-")
        for name in _PUBLISH_NAMES
        if flags[name] not in (None, False) and name not in ("retries", "retry_delay")
    ]
    if given and not publish_it:
        raise GeneratorError(f"{', '.join(given)}: publish flags, given without --publish")
    chosen = None if no_validate else validator
    options = None
    if publish_it:  # its files are checked before anything is written
        options = _publish_options(config_dir, envs, (service,), flags, chosen, strict)
    released = finish(config_dir, service, edits, out_dir or config_dir / "rendered", chosen, strict)
    click.echo(released.findings, err=True, nl=False)
    for edit in edits:
        click.echo(f"edited {edit.where}: {edit.container} image {edit.image}", err=True)
    if not edits:
        click.echo("gitops-gen: the config already holds this image; nothing edited", err=True)
    to_stderr = flags["pr_body"] is not None and str(flags["pr_body"]) == "-"
    for change in released.changes:
        click.echo(str(change), err=to_stderr)
    if edits and not released.changes:
        click.echo(
            "gitops-gen: no rendered image changed (each environment has an image of its own)", err=True
        )
    report = released.report
    click.echo(
        f"rendered {released.manifests} manifests: {len(report.written)} written, "
        f"{len(report.removed)} removed, {len(report.unchanged)} unchanged",
        err=True,
    )
    if options is not None:
        _run_publish(options, flags["pr_body"])


@cli.command(epilog=EXIT_CODES)
@click.argument("service")
@click.argument("image")
@click.option(
    "--container", metavar="NAME", help="The container to set.  [default: the service's only container]"
)
@click.option(
    "--env",
    "envs",
    multiple=True,
    metavar="ENV",
    help="Release to this environment, in its services.<service> override (repeatable).  "
    "[default: the spec, for every environment without an image of its own]",
)
@config_option
@out_option
@validator_option
@no_validate_option
@click.option("--strict", is_flag=True, help="Validation warnings stop the release too (exit 1).")
@_release_publish_option
@publish_flags
@reports_errors
def release(
    service: str,
    image: str,
    container: str | None,
    envs: tuple[str, ...],
    config_dir: Path,
    out_dir: Path | None,
    validator: str,
    no_validate: bool,
    strict: bool,
    publish_it: bool,
    **flags: Any,
) -> None:
    """Set SERVICE's container image to IMAGE, in the spec or (--env) in environments' overrides, editing
    the YAML in place (every other line as it was); then render and validate as `render` does and, with
    --publish, commit as `publish` does. A bad image, service, container or environment, or a render that
    fails: exit 2 (1 for findings), and no file is changed."""
    from .release import plan_release

    edits = plan_release(config_dir, service, image, container, envs)
    _finish_release(
        config_dir, service, edits, out_dir, validator, no_validate, strict, publish_it, envs, flags
    )


@cli.command(epilog=EXIT_CODES)
@click.argument("service")
@click.option("--from", "source", required=True, metavar="ENV", help="The environment released to.")
@click.option("--to", "target", required=True, metavar="ENV", help="The environment to promote to.")
@config_option
@out_option
@validator_option
@no_validate_option
@click.option("--strict", is_flag=True, help="Validation warnings stop the promotion too (exit 1).")
@_release_publish_option
@publish_flags
@reports_errors
def promote(
    service: str,
    source: str,
    target: str,
    config_dir: Path,
    out_dir: Path | None,
    validator: str,
    no_validate: bool,
    strict: bool,
    publish_it: bool,
    **flags: Any,
) -> None:
    """Copy what was released to --from (the images of its own services.<service> override, nothing
    else) into --to's override, then render, validate and (--publish) commit as `release` does. Exit 2
    when --from has no image of its own (it comes from the spec)."""
    from .release import plan_promote

    edits = plan_promote(config_dir, service, source, target)
    _finish_release(
        config_dir, service, edits, out_dir, validator, no_validate, strict, publish_it, (target,), flags
    )


def main() -> None:
    # A render builds some 10^6 small dicts and lists and frees almost none until it exits: at the default
    # threshold (700) CPython's cyclic collector keeps walking the growing heap, ~40 % of a warm render.
    # mypy sets the same for the same reason (mypy/build.py: "Run gc less frequently, as otherwise we can
    # spend a large fraction of cpu in gc", `gc.set_threshold(200 * 1000, 30, 30)`).
    gc.set_threshold(200_000, 30, 30)
    cli(prog_name="gitops-gen")
