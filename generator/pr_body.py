"""The pull-request description `publish --pr-body` writes, ready for `gh pr create --body-file`.

In this order, each section shorter than the one before it is important: what changed per environment
and service (a table), the validation result (one line), the canary plans in words (`canary_plan`, with
what each change does to the earliest full promotion and rollback, `plan`), then the unified diff in a
fenced block. GitHub refuses a description over 65,536 characters; the body is kept under `LIMIT` by
cutting the diff first (whole files while they fit, then part of the next one, with a note saying how
many files are shown and how to see the rest), then the canary section, and the table
only as a last resort, each cut said in the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .canary_plan import PlanChange
from .diff import GroupChanges, change_words

LIMIT = 65_000
_MIN_PARTIAL = 400  # characters of a file's diff worth showing when the whole of it does not fit


@dataclass(frozen=True)
class BodyInput:
    """Everything the description says. `source` is the config commit (None outside git), `dirty` whether
    it had uncommitted changes; `diffs` are (path, unified diff) per file, in order."""

    title: str
    source: str | None
    dirty: bool
    target_branch: str
    branch: str
    path: str
    groups: Sequence[GroupChanges]
    canary: Sequence[tuple[str, PlanChange]]  # (environment, change)
    validation: str
    diffs: Sequence[tuple[str, str]]


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks in the text, so the text cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _header(body: BodyInput) -> str:
    if body.source is None:
        origin = "a config folder that is not in a git repository"
    else:
        origin = f"config commit `{body.source}`" + (" **with uncommitted changes**" if body.dirty else "")
    where = f"`{body.branch}`"
    if body.branch != body.target_branch:
        where += f", to merge into `{body.target_branch}`"
    return f"## {body.title}\n\nRendered by gitops-gen from {origin} into `{body.path}/` on {where}.\n"


def _table(groups: Sequence[GroupChanges], limit: int) -> str:
    lines = [
        "| environment | service | added | changed | removed |",
        "|---|---|--:|--:|--:|",
    ]
    rows = [
        f"| {g.env} | {g.service or '*(environment)*'} | "
        f"{len(g.added)} | {len(g.changed)} | {len(g.removed)} |"
        for g in groups
    ]
    text = "\n".join(lines + rows) + "\n"
    if len(text) <= limit:
        return text
    shown: list[str] = []
    for row in rows:
        note = f"| … | *{len(rows) - len(shown)} more rows cut to fit the description* | | | |"
        if len("\n".join(lines + shown + [row, note])) + 1 > limit:
            break
        shown.append(row)
    note = f"| … | *{len(rows) - len(shown)} more rows cut to fit the description* | | | |"
    return "\n".join(lines + shown + [note]) + "\n"


def _canary(changes: Sequence[tuple[str, PlanChange]], limit: int) -> str:
    title = "### Canary plan\n\n"
    if not changes:
        return title + "No change to any canary plan.\n"
    items = [f"- **{change.service}/{env}**: {change_words(change)}" for env, change in changes]
    text = title + "\n".join(items) + "\n"
    if len(text) <= limit:
        return text
    shown: list[str] = []
    for item in items:
        note = f"- … {len(items) - len(shown) - 1} more cut to fit the description"
        if len(title) + len("\n".join([*shown, item, note])) + 1 > limit:
            break
        shown.append(item)
    return (
        title + "\n".join([*shown, f"- … {len(items) - len(shown)} more cut to fit the description"]) + "\n"
    )


def _diff(body: BodyInput, limit: int) -> str:
    """The diff section, cut to `limit` characters: whole files first, then the start of the next one."""
    title = "### Diff\n\n"
    if not body.diffs:
        return title + "No file changed.\n"
    everything = "".join(text for _, text in body.diffs)
    fence = _fence(everything)
    opening, closing = f"{fence}diff\n", f"{fence}\n"
    whole = title + opening + everything + closing
    if len(whole) <= limit:
        return whole
    total = len(body.diffs)
    how = f"`git diff {body.target_branch}...{body.branch} -- {body.path}`"

    def note(full: int, partial: bool) -> str:
        part = " and the beginning of 1 more" if partial else ""
        return (
            f"\n> **The diff is cut** to keep this description under {LIMIT:,} characters: {full} of "
            f"{total} files shown in full{part}. {how} shows all of it.\n"
        )

    reserve = len(title) + len(opening) + len(closing) + len(note(total, True))
    budget = limit - reserve
    shown, used, full, partial = [], 0, 0, False
    for _, text in body.diffs:
        if used + len(text) <= budget:
            shown.append(text)
            used += len(text)
            full += 1
            continue
        room = budget - used
        if room >= _MIN_PARTIAL:
            cut = text[:room].rpartition("\n")[0] + "\n"
            marker = "... (cut)\n"
            if len(cut) + len(marker) > room:
                cut = cut[: room - len(marker)].rpartition("\n")[0] + "\n"
            shown.append(cut + marker)
            partial = True
        break
    if not shown:
        return title + note(0, False).lstrip("\n")
    return title + opening + "".join(shown) + closing + note(full, partial)


def render_body(body: BodyInput, limit: int = LIMIT) -> str:
    """The description in markdown, at most `limit` characters."""
    header = _header(body) + "\n"
    validation = f"**Validation:** {body.validation}\n\n"
    table = _table(body.groups, max(0, limit - len(header) - len(validation) - 200))
    fixed = header + table + "\n" + validation
    canary = _canary(body.canary, max(0, limit - len(fixed) - 200)) + "\n"
    diff = _diff(body, limit - len(fixed) - len(canary))
    text = fixed + canary + diff
    return text if len(text) <= limit else text[: limit - 1] + "\n"
