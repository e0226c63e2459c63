"""docs/errors.md, the error catalogue, checked against the code both ways, so that neither can drift.

- From the code to the catalogue: an AST scan of generator/**/*.py finds every message the code words
  (the message of `Problem(...)`, the text given to the exceptions of errors.py and tree.py, what the
  `*_problem` checks of limits.py and `_describe` return, ...: `MESSAGE_ARGUMENT`, `EXCEPTIONS`, `RETURNS`
  and `RAISES` say which). Each becomes samples, a `{...}` of an f-string left open (HOLE), and every
  sample must match a catalogue template of the exit code the code gives it, a placeholder standing only
  where the code leaves the text open. A message that is no literal must be in `DYNAMIC`, saying why its
  text is checked anyway.
- From the catalogue to the code: every template matches some sample (no stale entry); click's messages
  and the rules table are checked otherwise (`UNSCANNED_SECTIONS`).
- Rules: the rules table lists every rule of `RULES` with its severity and title, every rule a
  `finding("<ID>", ...)` reports, and the file names no other rule-like ID.
- The bad-input corpus (tests/corpus/cases.py): every line an exit-2 case prints, its `file:line:column:
  field: ` prefix and its ` (hint)` removed, matches an exit-2 template.
"""

from __future__ import annotations

import ast
import itertools
import os
import re
import shutil
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from generator.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "docs" / "errors.md"

# ---- the catalogue ----------------------------------------------------------------------------------------

# A placeholder: `<size>`, `<apiVersion>`, `<did you mean>`: words in angle brackets, starting lower-case.
PLACEHOLDER = re.compile(r"<[a-z][A-Za-z0-9 _'./-]*>")
HOLE = "\x00"  # in a sample of the code: a `{...}` of an f-string, or a part the scanner cannot spell out
RULE_ID = re.compile(r"\b(?:GG\d{3}|IST\d{4})\b")
# Not gitops-gen's words (click's: the corpus checks them), or checked by ID (the rules).
UNSCANNED_SECTIONS = ("Command line", "Cross-object rules")


@dataclass(frozen=True)
class Entry:
    section: str
    template: str
    exit: int
    cause: str
    fix: str
    line: int  # of docs/errors.md

    def __str__(self) -> str:
        return f"docs/errors.md:{self.line}: `{self.template}`"


@dataclass(frozen=True)
class RuleRow:
    rule: str
    severity: str
    title: str
    line: int


def _cells(row: str) -> list[str]:
    """A Markdown table row's cells; `\\|` is a `|` inside a cell."""
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def _code(cell: str) -> str | None:
    """The text of a cell that is one code span: `` `text` ``, or ``` `` text `` ``` when the text holds a
    backtick; None for anything else."""
    if len(cell) > 4 and cell.startswith("``") and cell.endswith("``"):
        inner = cell[2:-2]
        return inner[1:-1] if inner.startswith(" ") and inner.endswith(" ") else inner
    if len(cell) > 2 and cell.startswith("`") and cell.endswith("`") and "`" not in cell[1:-1]:
        return cell[1:-1]
    return None


def read_catalogue(text: str) -> tuple[list[Entry], list[RuleRow]]:
    """The message tables (`| message | exit | cause | fix |`, one per `## ` section) and the rules table
    (`| rule | severity | title | cause | fix |`)."""
    entries: list[Entry] = []
    rules: list[RuleRow] = []
    section, header = "", ""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("## "):
            section, header = line[3:].strip(), ""
        elif not line.startswith("|"):
            header = ""
        elif not header:
            header = _cells(line)[0]
        elif not set(line) <= set("|-: "):  # not the row under the header
            cells = _cells(line)
            where = f"docs/errors.md:{number}: {line}"
            if header == "message":
                template = _code(cells[0])
                assert template is not None and len(cells) == 4 and cells[1] in ("1", "2", "3"), where
                entries.append(Entry(section, template, int(cells[1]), cells[2], cells[3], number))
            elif header == "rule":
                rule = _code(cells[0])
                assert rule is not None and len(cells) == 5, where
                rules.append(RuleRow(rule, cells[1], cells[2], number))
    return entries, rules


def template_pattern(template: str, strict: bool = False) -> re.Pattern[str]:
    """A template as a regular expression: its text literally, each `<placeholder>` any text; or, `strict`
    (for the code's samples), only what the code leaves open there (HOLEs) or the placeholder's own text
    (the code's `'Name <email>'`)."""
    parts = PLACEHOLDER.split(template)
    pattern = re.escape(parts[0])
    for name, part in zip(PLACEHOLDER.findall(template), parts[1:], strict=True):
        pattern += f"(?:{HOLE}+|{re.escape(name)})" if strict else "(?s:.*?)"
        pattern += re.escape(part)
    return re.compile(pattern)


class Matcher:
    def __init__(self, entries: list[Entry], strict: bool = False) -> None:
        self.patterns = [(entry, template_pattern(entry.template, strict)) for entry in entries]

    def matching(self, text: str) -> list[Entry]:
        return [entry for entry, pattern in self.patterns if pattern.fullmatch(text)]


@pytest.fixture(scope="module")
def catalogue() -> tuple[list[Entry], list[RuleRow]]:
    return read_catalogue(CATALOGUE.read_text(encoding="utf-8"))


# ---- the scanner ------------------------------------------------------------------------------------------

# Calls whose argument at `index` (or `message=`) is a message: (index, the exit code it ends in, the only
# file where the name means this; "": any). `at` and `problem` wrap Problem in yamlio.py and model.py;
# SchemaProblem and `_schema_finding` word the SCHEMA findings.
MESSAGE_ARGUMENT: dict[str, tuple[int, int, str]] = {
    "Problem": (1, 2, ""),
    "_out_of_bounds": (2, 2, "generator/yamlio.py"),
    "at": (0, 2, "generator/yamlio.py"),
    "problem": (1, 2, "generator/model.py"),
    "SchemaProblem": (1, 1, "generator/validate.py"),
    "_schema_finding": (2, 1, "generator/validate.py"),
}
# Exceptions given a text (a list holds Problems, scanned where each is made): exit code, and the words
# the text is shown after.
EXCEPTIONS: dict[str, tuple[int, str]] = {
    "GeneratorError": (2, ""),
    "InputError": (2, ""),
    "TreeError": (2, ""),
    "NotOwned": (2, ""),
    "Findings": (1, ""),
    "ToolError": (3, ""),
    "OutputBusy": (3, ""),
    "WriteFailed": (3, ""),
    "KubeconformError": (3, "kubeconform "),
}
# Functions whose answer is a message: (file, function; `*_problem`: every such name) -> (the element of a
# returned tuple that is the message, None: the value itself; the exit code it ends in).
RETURNS: dict[tuple[str, str], tuple[int | None, int]] = {
    ("generator/limits.py", "*_problem"): (None, 2),  # the spec schemas' formats
    ("generator/yamlio.py", "value_problem"): (0, 2),
    ("generator/yamlio.py", "key_problem"): (0, 2),
    ("generator/spec.py", "_describe"): (0, 2),
    ("generator/skywalking.py", "style_problem"): (None, 2),
    ("generator/rules/durations.py", "parse_go_duration"): (1, 2),  # Go's words, through duration_problem
    ("generator/validate.py", "worded"): (None, 1),
    ("generator/validate.py", "unknown_field_message"): (None, 1),
    ("generator/validate.py", "_exclusive_message"): (None, 1),
    ("generator/validate.py", "missing_message"): (None, 1),
    ("generator/cli.py", "_render_one"): (None, 1),  # why the tree is out of date under --check
}
# Functions whose ValueError's text becomes a Problem (`str(exc)`, in DYNAMIC).
RAISES = {("generator/skywalking.py", "parse_oap_version"), ("generator/expr_check.py", "dialect_for")}

# The messages that are no literal, by (file, function, the expression as written; each branch of an `or`
# or an `... if ... else ...` on its own), and why each is checked anyway.
_RAISED = "the ValueError of a RAISES function, scanned there"
_KUBECONFORM = "kubeconform's words for a problem gitops-gen does not word: shown as it printed them"
DYNAMIC = {
    ("generator/errors.py", "merge_repeats", "message"): (
        "a Problem made elsewhere, again, ` [for <subjects>]` appended (docs/errors.md says so)"
    ),
    ("generator/checks.py", "versions_of", "exc"): _RAISED,
    ("generator/model.py", "resolve_environment", "exc"): _RAISED,
    (
        "generator/spec.py",
        "_describe",
        "error.cause",
    ): "a format's reason: a `*_problem` of limits.py (RETURNS)",
    ("generator/spec.py", "_describe", "error.message"): (
        "jsonschema's words, for a keyword `_describe` does not word: the spec schemas use none"
    ),
    ("generator/validate.py", "describe_error", "error.message"): (
        "jsonschema's words, for a keyword `worded` does not word: the shipped schemas use none"
    ),
    ("generator/validate.py", "_kubeconform_problems", "message"): _KUBECONFORM,
    ("generator/validate.py", "_invalid", "resource.get('msg')"): _KUBECONFORM,
    ("generator/validate.py", "parse_kubeconform_output", "message"): _KUBECONFORM,
    ("generator/validate.py", "validate_object", "p.message"): "a SchemaProblem's, scanned where it is made",
    ("generator/validate.py", "parse_kubeconform_output", "p.message"): (
        "a SchemaProblem's, scanned where it is made"
    ),
    ("generator/cli.py", "render", "'\\n'.join(stale)"): "what `_render_one` returns (RETURNS)",
}


@dataclass(frozen=True)
class Site:
    """One place the code words a message."""

    path: str
    line: int
    function: str
    source: str  # the message as written
    exit: int
    samples: tuple[str, ...] | None  # None: no literal; (): another message function's answer

    def __str__(self) -> str:
        return f"{self.path}:{self.line} ({self.function}): {self.source}"


def _called(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _matches_name(pattern: str, name: str) -> bool:
    return name == pattern or (pattern.startswith("*") and name.endswith(pattern[1:]))


def _returns_message(path: str, function: str) -> tuple[int | None, int] | None:
    return next((a for (f, n), a in RETURNS.items() if f == path and _matches_name(n, function)), None)


def _is_message_function(name: str) -> bool:
    return any(_matches_name(n, name) for _, n in RETURNS)


_NOT_FOUND = object()


def _assigned(statement: ast.Assign | ast.AnnAssign, name: str) -> Any:
    """What an assignment gives `name`: an expression; _NOT_FOUND when it does not assign it; None when it
    unpacks it from something not written out. `a, b = x, y` gives each its own; `message, hint, extra =
    _describe(...)` the call (a message function's answer)."""
    targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
    value = statement.value
    for target in targets:
        if isinstance(target, ast.Name) and target.id == name:
            return value
        if isinstance(target, ast.Tuple | ast.List):
            names = [getattr(e, "id", None) for e in target.elts]
            if name not in names:
                continue
            if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(names):
                return value.elts[names.index(name)]
            if isinstance(value, ast.Call) and _is_message_function(_called(value.func)):
                return value
            return None
    return _NOT_FOUND


class _Module:
    """One parsed file, and what the names of a message hold where it is made."""

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        self.tree = ast.parse(text)
        self.parent: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node

    def function_of(self, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        while node in self.parent:
            node = self.parent[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
        return None

    def definitions(self, name: str, use: ast.AST) -> list[ast.expr] | None:
        """The values `name` may hold at `use`: the nearest assignment before it, in its block or an outer
        one, each `+=` after it appended, and what compound statements on the way assign; a walrus in an
        `if` test; a module constant. None: a parameter, a loop variable, or anything else."""
        found: list[ast.expr] = []
        node = use
        while node in self.parent:
            parent = self.parent[node]
            for field in ("test", "iter", "items", "value"):
                part = getattr(parent, field, None)
                if isinstance(part, ast.AST) and part is not node:
                    for inner in ast.walk(part):
                        if isinstance(inner, ast.NamedExpr) and inner.target.id == name:
                            return [*found, inner.value]
            if isinstance(parent, ast.For | ast.comprehension) and any(
                isinstance(t, ast.Name) and t.id == name for t in ast.walk(parent.target)
            ):
                return None
            for field in ("body", "orelse", "finalbody", "handlers"):
                block = getattr(parent, field, None)
                if isinstance(block, list) and node in block:
                    answer = self._in_block(name, block[: block.index(node)])
                    if answer is None:
                        return None
                    if answer is not _NOT_FOUND:
                        values, complete = answer
                        found += values
                        if complete:
                            return found
            if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                arguments = parent.args
                if any(
                    a.arg == name for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)
                ):
                    return None
                break
            node = parent
        if found:
            return found
        for statement in self.tree.body:
            if isinstance(statement, ast.Assign) and _assigned(statement, name) not in (None, _NOT_FOUND):
                return [statement.value]
        return None

    def _in_block(self, name: str, before: list[ast.stmt]) -> Any:
        """(values, complete) of the assignments to `name` in these statements, the last plain one completing
        the answer; _NOT_FOUND when there is none; None when one is not written out."""
        additions: list[ast.expr] = []
        nested: list[ast.expr] = []
        for statement in reversed(before):
            if isinstance(statement, ast.Assign | ast.AnnAssign):
                value = _assigned(statement, name)
                if value is None:
                    return None
                if value is not _NOT_FOUND:
                    return [value, *(ast.BinOp(value, ast.Add(), a) for a in additions), *nested], True
            elif isinstance(statement, ast.AugAssign) and getattr(statement.target, "id", None) == name:
                additions.append(statement.value)
            else:  # what the branches of a compound statement may assign
                for inner in ast.walk(statement):
                    if isinstance(inner, ast.AugAssign) and getattr(inner.target, "id", None) == name:
                        additions.append(inner.value)
                    elif isinstance(inner, ast.Assign):
                        value = _assigned(inner, name)
                        if value is None:
                            return None
                        if value is not _NOT_FOUND:
                            nested.append(value)
        return (nested, False) if nested else _NOT_FOUND

    def samples(self, node: ast.expr, depth: int = 0) -> list[str] | None:
        """Every text `node` can be, a HOLE for each part it does not spell out; [] for another message
        function's answer (scanned there) or None; None when it is no literal."""
        if depth > 8:
            return None
        if isinstance(node, ast.Constant):
            return [node.value] if isinstance(node.value, str) else [] if node.value is None else None
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    plain = value.conversion == -1 and value.format_spec is None
                    parts.append((self.samples(value.value, depth + 1) if plain else None) or [HOLE])
                else:
                    parts.append([str(getattr(value, "value", ""))])
            return ["".join(p) for p in itertools.product(*parts)]
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left = self.samples(node.left, depth + 1) or [HOLE]
            right = self.samples(node.right, depth + 1) or [HOLE]
            return [a + b for a, b in itertools.product(left, right)]
        if isinstance(node, ast.IfExp | ast.BoolOp | ast.Name):
            if isinstance(node, ast.Name):
                values = self.definitions(node.id, node)
            else:
                values = [node.body, node.orelse] if isinstance(node, ast.IfExp) else node.values
            if values is None:
                return None
            found: list[str] = []
            for value in values:
                got = self.samples(value, depth + 1)
                if got is None:
                    return None
                found += got
            return found
        if isinstance(node, ast.Starred):
            return self.samples(node.value, depth + 1)
        if isinstance(node, ast.Call):
            called = _called(node.func)
            if _is_message_function(called):
                return []
            if called == "redact" and node.args:
                return self.samples(node.args[0], depth + 1)
            if called == "join" and isinstance(node.func, ast.Attribute) and len(node.args) == 1:
                return self._joined(node.func.value, node.args[0], depth)
        return None

    def _joined(self, separator: ast.expr, items: ast.expr, depth: int) -> list[str] | None:
        """`"<separator>".join([...])` of a list written out."""
        if isinstance(items, ast.Name):
            values = self.definitions(items.id, items)
            items = values[0] if values and len(values) == 1 else items
        if not (isinstance(separator, ast.Constant) and isinstance(items, ast.List)):
            return None
        pieces = [
            [HOLE] if isinstance(e, ast.Starred) else (self.samples(e, depth + 1) or [HOLE])
            for e in items.elts
        ]
        return [str(separator.value).join(p) for p in itertools.product(*pieces)]

    def is_list(self, node: ast.expr) -> bool:
        """A list of Problems, not a text."""
        if isinstance(node, ast.List | ast.ListComp | ast.GeneratorExp | ast.Tuple):
            return True
        if isinstance(node, ast.Call) and _called(node.func) in ("list", "sorted", "tuple"):
            return True
        if isinstance(node, ast.Name):
            values = self.definitions(node.id, node)
            return bool(values) and all(self.is_list(v) for v in values)
        return False

    def wrapper_parameter(self, node: ast.expr) -> bool:
        """The message parameter of a wrapper that is itself in MESSAGE_ARGUMENT (its callers are scanned)."""
        function = self.function_of(node)
        spec = MESSAGE_ARGUMENT.get(function.name) if function is not None else None
        return (
            isinstance(node, ast.Name)
            and function is not None
            and spec is not None
            and spec[2] in ("", self.path)
            and any(a.arg == node.id for a in function.args.args)
        )


def _branches(node: ast.expr) -> list[ast.expr]:
    """A message's alternatives: each side of an `or`, each branch of an `... if ... else ...`, inside a
    `str(...)` too."""
    if isinstance(node, ast.Call) and _called(node.func) == "str" and len(node.args) == 1:
        return _branches(node.args[0])
    if isinstance(node, ast.BoolOp):
        return [b for value in node.values for b in _branches(value)]
    if isinstance(node, ast.IfExp):
        return [*_branches(node.body), *_branches(node.orelse)]
    return [node]


def scan_source(text: str, path: str) -> list[Site]:
    """Every message of one file (`path` as in the tables above: `generator/spec.py`)."""
    module = _Module(text, path)
    found: list[tuple[ast.expr, int, str]] = []  # (message, exit code, the words it is shown after)
    for node in ast.walk(module.tree):
        function = module.function_of(node)
        name = function.name if function is not None else ""
        if isinstance(node, ast.Call):
            called = _called(node.func)
            spec = MESSAGE_ARGUMENT.get(called)
            if spec is not None and spec[2] in ("", path):
                index, code, _ = spec
                given = [
                    *node.args[index : index + 1],
                    *(k.value for k in node.keywords if k.arg == "message"),
                ]
                found += [(a, code, "") for a in given if not module.wrapper_parameter(a)]
            elif called in EXCEPTIONS and node.args and not module.is_list(node.args[0]):
                found.append((node.args[0], *EXCEPTIONS[called]))
            elif called == "ValueError" and (path, name) in RAISES and node.args:
                found.append((node.args[0], 2, ""))
        elif isinstance(node, ast.Return) and node.value is not None:
            answer = _returns_message(path, name)
            if answer is not None:
                index, code = answer
                value = node.value
                if index is not None and isinstance(value, ast.Tuple):
                    value = value.elts[index]
                if not (isinstance(value, ast.Constant) and value.value in (None, "")):
                    found.append((value, code, ""))
    sites = []
    for message, code, prefix in found:
        function = module.function_of(message)
        for branch in _branches(message):
            samples = module.samples(branch)
            sites.append(
                Site(
                    path,
                    branch.lineno,
                    function.name if function is not None else "",
                    ast.unparse(branch),
                    code,
                    None if samples is None else tuple(dict.fromkeys(prefix + s for s in samples)),
                )
            )
    return sorted(sites, key=lambda s: (s.path, s.line))


def scan() -> list[Site]:
    sites: list[Site] = []
    for file in sorted((ROOT / "generator").rglob("*.py")):
        sites += scan_source(file.read_text(encoding="utf-8"), file.relative_to(ROOT).as_posix())
    return sites


@pytest.fixture(scope="module")
def sites() -> list[Site]:
    return scan()


def unmatched(sites: list[Site], entries: list[Entry]) -> list[str]:
    """Each sample (its first line: details such as a command's output follow on others) no template of the
    site's exit code matches, strictly."""
    matcher = Matcher(entries, strict=True)
    missing = []
    for site in sites:
        for sample in site.samples or ():
            first = sample.split("\n", 1)[0]
            if not any(entry.exit == site.exit for entry in matcher.matching(first)):
                missing.append(f"{site.path}:{site.line}: exit {site.exit}: {first.replace(HOLE, '{...}')!r}")
    return missing


# ---- the code and the catalogue -----------------------------------------------------------------------------


def test_the_catalogue_is_parsed(catalogue: tuple[list[Entry], list[RuleRow]]) -> None:
    entries, rules = catalogue
    assert len(entries) >= 150 and len(rules) == len(RULES)
    keys = [(e.template, e.exit) for e in entries]
    assert len(keys) == len(set(keys)), "a template is listed twice with the same exit code"
    for entry in entries:
        assert entry.cause and entry.fix, f"{entry}: say what causes it and how to fix it"


def test_every_message_of_the_code_is_in_the_catalogue(
    sites: list[Site], catalogue: tuple[list[Entry], list[RuleRow]]
) -> None:
    assert len(sites) >= 200
    missing = unmatched(sites, catalogue[0])
    assert not missing, "messages docs/errors.md does not list:\n" + "\n".join(missing)


def test_every_message_that_is_no_literal_is_accounted_for(sites: list[Site]) -> None:
    dynamic = {(site.path, site.function, site.source): site for site in sites if site.samples is None}
    unlisted = [str(site) for key, site in dynamic.items() if key not in DYNAMIC]
    assert not unlisted, "messages the scanner cannot read: write them out, or add them to DYNAMIC:\n" + (
        "\n".join(unlisted)
    )
    stale = sorted(set(DYNAMIC) - set(dynamic))
    assert not stale, f"DYNAMIC lists what the code no longer has: {stale}"


def test_every_catalogue_entry_is_in_the_code(
    sites: list[Site], catalogue: tuple[list[Entry], list[RuleRow]]
) -> None:
    samples = [(s.exit, sample.split("\n", 1)[0]) for s in sites for sample in s.samples or ()]
    stale = []
    for entry in catalogue[0]:
        if entry.section.startswith(UNSCANNED_SECTIONS):
            continue
        pattern = template_pattern(entry.template, strict=True)
        if not any(code == entry.exit and pattern.fullmatch(text) for code, text in samples):
            stale.append(str(entry))
    assert not stale, "catalogue entries no message of the code matches:\n" + "\n".join(stale)


def test_the_rules_table_is_the_rule_catalogue(catalogue: tuple[list[Entry], list[RuleRow]]) -> None:
    rules = {row.rule: row for row in catalogue[1]}
    assert len(rules) == len(catalogue[1]), "a rule is listed twice"
    assert sorted(rules) == sorted(RULES)
    for rule_id, rule in RULES.items():
        assert (rules[rule_id].severity, rules[rule_id].title) == (rule.severity, rule.title), rules[rule_id]
    mentioned = set(RULE_ID.findall(CATALOGUE.read_text(encoding="utf-8")))
    assert mentioned <= set(RULES), f"not rules: {sorted(mentioned - set(RULES))}"


def test_every_rule_the_code_reports_is_listed(catalogue: tuple[list[Entry], list[RuleRow]]) -> None:
    """`finding("GG101", ...)` in generator/rules/: the rules findings name, by their literal ID."""
    reported = set()
    for file in (ROOT / "generator" / "rules").glob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                value = node.args[0].value
                if isinstance(value, str) and RULE_ID.fullmatch(value):
                    reported.add(value)
    assert len(reported) >= 30
    assert reported <= {row.rule for row in catalogue[1]}


# ---- the checks fail when they should -------------------------------------------------------------------------

NEW_MESSAGE = """
def check(location):
    return Problem(location, "a brand new message", "a hint")
"""


def test_a_new_message_fails_the_check(catalogue: tuple[list[Entry], list[RuleRow]]) -> None:
    sites = scan_source(NEW_MESSAGE, "generator/example.py")
    assert unmatched(sites, catalogue[0]) == ["generator/example.py:3: exit 2: 'a brand new message'"]
    worded = scan_source(NEW_MESSAGE.replace('"a brand', 'f"{location} is a brand'), "generator/example.py")
    assert [site.samples for site in worded] == [(f"{HOLE} is a brand new message",)]
    assert unmatched(worded, catalogue[0])
    # a message that is no literal: test_every_message_that_is_no_literal_is_accounted_for fails
    opaque = scan_source(NEW_MESSAGE.replace('"a brand new message"', "describe(location)"), "generator/x.py")
    assert [site.samples for site in opaque] == [None]
    # a placeholder stands where the code leaves the text open, never for words of the code's own
    assert not unmatched(scan_source('Problem(x, f"{kind} file not found")', "generator/x.py"), catalogue[0])
    assert unmatched(scan_source('Problem(x, "service file not found")', "generator/x.py"), catalogue[0])


def test_a_removed_entry_fails_the_check(
    sites: list[Site], catalogue: tuple[list[Entry], list[RuleRow]]
) -> None:
    text = CATALOGUE.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| `anchor &<name> is defined twice"))
    entries, _ = read_catalogue(text.replace(row + "\n", ""))
    assert len(entries) == len(catalogue[0]) - 1
    missing = unmatched(sites, entries)
    assert len(missing) == 1 and "anchor &{...} is defined twice" in missing[0], missing


def test_the_scanner_reads_what_the_code_does() -> None:
    """The assignment before the use, `+=`, conditional parts, a message function's answer."""
    code = """
def worded(keyword, expected):
    if keyword == "a":
        bound = "at least" if keyword == "minItems" else "at most"
        return f"expected {bound} {expected} item(s)"
    if keyword == "b":
        bound = ">="
        return f"expected a number {bound} {expected}"
    if keyword == "c":
        return name_problem(expected) or "no name"
    text = f"unknown {keyword}"
    if expected:
        text += " (see the list)"
    return text
"""
    samples = [site.samples for site in scan_source(code, "generator/validate.py")]
    assert samples == [
        (f"expected at least {HOLE} item(s)", f"expected at most {HOLE} item(s)"),
        (f"expected a number >= {HOLE}",),
        (),
        ("no name",),
        (f"unknown {HOLE}", f"unknown {HOLE} (see the list)"),
    ]


# ---- the corpus -----------------------------------------------------------------------------------------------

_LOCATED = re.compile(r"^.*?:\d+:\d+: (.*)$")
_REPEATED = re.compile(r" \[for [^\[\]]*\]$")


def _without_hint(text: str) -> str | None:
    """`text` without a trailing ` (...)`, its parentheses balanced; None when it has none."""
    if not text.endswith(")"):
        return None
    depth = 0
    for index in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[index], 0)
        if depth == 0:
            return text[: index - 1] if index > 0 and text[index - 1] == " " else None
    return None


def message_candidates(line: str) -> list[str]:
    """What the message of an output line may be: the line without `gitops-gen: ` or `<file>: ` or
    `<file>:<line>:<column>: `, and without a `<field>: ` after it; each with and without a trailing
    ` (<hint>)` and ` [for <subjects>]`. Click's lines are messages as they are."""
    rest = m.group(1) if (m := _LOCATED.match(line)) else line.partition(": ")[2]
    heads = [line, rest, rest.partition(": ")[2]]
    candidates = []
    for head in filter(None, heads):
        for text in filter(None, (head, _without_hint(head))):
            candidates += [text, _REPEATED.sub("", text)]
    return list(dict.fromkeys(candidates))


def line_matches(line: str, matcher: Matcher) -> bool:
    return any(matcher.matching(text) for text in message_candidates(line))


def test_a_new_output_line_fails_the_check(catalogue: tuple[list[Entry], list[RuleRow]]) -> None:
    matcher = Matcher([entry for entry in catalogue[0] if entry.exit == 2])
    pause = 'services/reviews.yaml:9:14: canary.steps[1].pause: invalid value "10 minutes" (a duration such as 30s)'
    assert line_matches(pause, matcher)
    assert line_matches("services: folder not found (--config x holds no services/)", matcher)
    assert line_matches("gitops-gen: --repo /x: no such folder, and not a URL", matcher)
    assert line_matches(
        "environments/demo.yaml:7:3: name: null removes the required key 'name' [for a, b] (x)", matcher
    )
    assert not line_matches("services/reviews.yaml:1:1: name: a brand new message (a hint)", matcher)
    assert not line_matches("gitops-gen: a brand new message", matcher)


def _corpus() -> tuple[Any, Any]:
    sys.path.insert(0, str(ROOT / "tests" / "corpus"))  # tests/ is not a package
    import cases
    import test_corpus

    return cases, test_corpus


def _entry(info: os.stat_result) -> tuple[int, int, int, int]:
    """A file's mode, size, mtime and inode; a folder's or a link's mode."""
    if stat.S_ISREG(info.st_mode):
        return (info.st_mode, info.st_size, info.st_mtime_ns, info.st_ino)
    return (info.st_mode, 0, 0, 0)


def _state(root: Path) -> dict[str, tuple[int, int, int, int]]:
    """Every entry below `root`, links not followed."""
    found = {}
    folders = [""]
    while folders:
        folder = folders.pop()
        with os.scandir(os.path.join(root, folder)) as entries:
            for entry in entries:
                relative = f"{folder}/{entry.name}" if folder else entry.name
                found[relative] = _entry(entry.stat(follow_symlinks=False))
                if entry.is_dir(follow_symlinks=False):
                    folders.append(relative)
    return found


class _Copy:
    """One copy of the corpus template, put back after each case: what the case changed is undone from the
    template (a file copied again, a new file or folder deleted, a folder's mode set back); anything else
    (a link, a folder gone) takes a new copy. A copy takes a fifth of a second, undoing a case about a
    millisecond."""

    def __init__(self, template: Path, root: Path) -> None:
        self.template, self.root = template, root
        shutil.copytree(template, root, symlinks=True)
        self.clean = _state(root)

    def restore(self) -> None:
        now = _state(self.root)
        changed = sorted(p for p in now.keys() | self.clean.keys() if now.get(p) != self.clean.get(p))
        try:
            removed: list[str] = []
            for path in changed:  # sorted: a folder before what is in it
                before, after, target = self.clean.get(path), now.get(path), self.root / path
                if any(path.startswith(folder + "/") for folder in removed):
                    continue
                if before is None and after is not None and stat.S_ISDIR(after[0]):
                    shutil.rmtree(target)
                    removed.append(path)
                elif before is None:
                    os.unlink(target)
                elif stat.S_ISREG(before[0]) and (after is None or stat.S_ISREG(after[0])):
                    shutil.copy2(self.template / path, target)
                elif after is not None and stat.S_ISDIR(before[0]) and stat.S_ISDIR(after[0]):
                    os.chmod(target, stat.S_IMODE(before[0]))
                else:
                    raise OSError(f"{path}: neither a file nor a folder's mode")
        except OSError:
            shutil.rmtree(self.root)
            shutil.copytree(self.template, self.root, symlinks=True)
            self.clean = _state(self.root)
            return
        for path in changed:  # as the template has it again (a file copied anew has another inode)
            if path in self.clean:
                self.clean[path] = _entry(os.lstat(self.root / path))


def corpus_outputs(tmp_path: Path) -> Iterator[tuple[str, int, int, str]]:
    """(case, the exit code it expects, its exit code, its output) of every corpus case that runs
    in-process: all but those that mount a tmpfs, run under `ulimit -f` or as another user in a process
    of their own. They share one copy of the template (tests/corpus/test_corpus.py `build_template`,
    `run`), put back after each."""
    cases, runner = _corpus()
    copy = _Copy(runner.build_template(tmp_path / "template"), tmp_path / "case")
    for case_id, case in sorted(cases.CASES.items()):
        if case.needs or case.fsize or case.unreadable:
            continue
        case.mutate(copy.root)
        code, output = runner.run(case, copy.root)
        yield case_id, case.code, code, output
        copy.restore()


def test_every_line_the_corpus_prints_is_in_the_catalogue(
    tmp_path: Path, catalogue: tuple[list[Entry], list[RuleRow]]
) -> None:
    matcher = Matcher([entry for entry in catalogue[0] if entry.exit == 2])
    failures, wrong_code, runs = [], [], 0
    for case_id, expected, code, output in corpus_outputs(tmp_path):
        runs += 1
        if code != expected:  # the shared copy was not put back right, or tests/corpus fails too
            wrong_code.append(f"{case_id}: exit {code}, not {expected}")
        if code != 2:
            continue
        for line in output.splitlines():
            if line.strip() and not line_matches(line, matcher):
                failures.append(f"{case_id}: {line}")
    assert runs >= 400
    assert not wrong_code, "\n".join(wrong_code)
    assert not failures, "lines of the corpus no catalogue entry matches:\n" + "\n".join(failures)
