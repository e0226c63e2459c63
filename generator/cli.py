"""The command line: parses options, calls the library, prints, exits. No logic of its own."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .errors import GeneratorError
from .render import render_all
from .tree import write_tree

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES = """\b
Exit codes:
  0  ok
  1  findings: invalid output, a broken rule, drift under --check
  2  bad input or usage: a spec, an environment file, a flag
  3  could not run: a tool missing, crashing or timing out, a push that kept failing"""


def reports_errors(command: F) -> F:
    """User mistakes print one line per problem to stderr and exit with the error's code; no traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
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


@click.group(epilog=EXIT_CODES)
@click.version_option(package_name="gitops-gen")
def cli() -> None:
    """Render canary releases (Argo Rollouts, SkyWalking, TSB, Argo CD) from one spec per service."""


@cli.command(epilog=EXIT_CODES)
@config_option
@click.option(
    "--env", "envs", multiple=True, metavar="ENV", help="Render only this environment (repeatable)."
)
@click.option(
    "--service", "services", multiple=True, metavar="NAME", help="Render only this service (repeatable)."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder.  [default: <config>/rendered]",
)
@reports_errors
def render(config_dir: Path, envs: tuple[str, ...], services: tuple[str, ...], out_dir: Path | None) -> None:
    """Render the manifests of every (or the given) environment and service into --out."""
    manifests = render_all(config_dir, envs, services)
    report = write_tree(out_dir or config_dir / "rendered", manifests)
    click.echo(
        f"rendered {len(manifests)} manifests: {len(report.written)} written, "
        f"{len(report.unchanged)} unchanged",
        err=True,
    )


def main() -> None:
    cli(prog_name="gitops-gen")
