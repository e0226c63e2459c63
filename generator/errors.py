"""Errors the user sees, and the exit codes they map to.

Exit codes (documented in the README, tested in tests/cli/):
  0  ok
  1  findings: invalid output, a cross-object rule, drift under --check, a missed analysis test case
  2  bad input or usage: a spec, an environment file, a test file, a flag
  3  could not run: a tool missing, crashing or timing out, a push that failed after its retries, an OAP
     that cannot be asked, a condition the analysis test evaluator does not implement
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, order=True, slots=True)
class Location:
    """Where a problem is: 1-based line and column, `field` as a dotted path like `canary.steps[1].pause`."""

    path: str
    line: int = 0
    column: int = 0
    field: str = ""

    def __str__(self) -> str:
        where = self.path
        if self.line:
            where += f":{self.line}:{self.column or 1}"
        return where


@dataclass(frozen=True)
class Problem:
    """One user mistake: where it is, what was expected, and a hint when there is one.

    `subject` names what the problem was found for (`reviews in demo`); the same mistake found for many
    subjects, say a value every environment merges in, is reported once, naming them all."""

    location: Location
    message: str
    hint: str = ""
    subject: str = ""

    def __str__(self) -> str:
        text = f"{self.location}: "
        if self.location.field:
            text += f"{self.location.field}: "
        text += self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


def merge_repeats(problems: Iterable[Problem]) -> list[Problem]:
    """One problem per place and message: repeats found for several subjects become one that names them."""
    groups: dict[tuple[Location, str, str], list[Problem]] = {}
    for problem in problems:
        groups.setdefault((problem.location, problem.message, problem.hint), []).append(problem)
    merged = []
    for (location, message, hint), repeats in groups.items():
        subjects = sorted({p.subject for p in repeats if p.subject})
        if len(subjects) > 1:
            message = f"{message} [for {_names(subjects)}]"
        merged.append(Problem(location, message, hint, subjects[0] if len(subjects) == 1 else ""))
    return merged


def _names(subjects: Sequence[str]) -> str:
    """`reviews in demo, reviews in prod` -> `reviews in demo and prod`; else listed as they are."""
    services = {s.partition(" in ")[0] for s in subjects}
    envs = {s.partition(" in ")[2] for s in subjects}
    if len(services) == 1 and all(" in " in s for s in subjects):
        return f"{next(iter(services))} in environments {', '.join(sorted(envs))}"
    if len(envs) == 1 and all(" in " in s for s in subjects):
        return f"services {', '.join(sorted(services))} in {next(iter(envs))}"
    return ", ".join(subjects)


class GeneratorError(Exception):
    """Bad input: a spec, an environment file, a flag. Nothing has been written."""

    exit_code: ClassVar[int] = 2

    def __init__(self, problems: Sequence[Problem] | str) -> None:
        if isinstance(problems, str):
            self.problems: tuple[Problem, ...] = ()
            text = problems
        else:
            self.problems = tuple(sorted(merge_repeats(problems), key=lambda p: (p.location, p.message)))
            text = "\n".join(str(p) for p in self.problems)
        super().__init__(text)


class InputError(GeneratorError):
    """A spec or environment file is wrong."""


class Findings(GeneratorError):
    """The output breaks a schema or a cross-object rule, or the tree on disk has drifted."""

    exit_code = 1


class ToolError(GeneratorError):
    """An external tool (kubeconform, git) is missing, crashed, timed out, or a push kept failing."""

    exit_code = 3


def raise_if_any(problems: Iterable[Problem]) -> None:
    """Raise one InputError holding every problem, so the user sees them all at once."""
    collected = list(problems)
    if collected:
        raise InputError(collected)


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem found in manifests (rendered or hand-written): a schema violation or a broken rule.

    `rule` is a stable ID (`SCHEMA`, `GG101`, `IST0101`, ...); errors fail the run, warnings only under
    --strict.
    """

    rule: str
    severity: str  # "error" | "warning"
    location: Location
    message: str
    obj: str = ""  # "Kind/name" of the object concerned
    link: str = ""
    acknowledged: str = ""  # why a warning is accepted (the spec's `acknowledge`): it never fails a run

    def __str__(self) -> str:
        severity = self.severity
        if self.acknowledged:
            severity += f" (acknowledged: {self.acknowledged})"
        text = f"{self.location}: {self.rule} {severity}: "
        if self.obj:
            text += f"{self.obj}: "
        if self.location.field:
            text += f"{self.location.field}: "
        text += self.message
        if self.link:
            text += f" (see {self.link})"
        return text
