"""No shell anywhere (issue 9, deliverable 4): every program gitops-gen, its scripts and its bench run
gets its arguments as a list, so no value from a spec, an environment or a path is ever parsed by a shell.

An AST scan of every .py under generator/, scripts/ and bench/: no call passes `shell=` anything but
False (subprocess, GitPython's `execute`, anything else that takes it); no os.system, os.popen,
subprocess.getoutput/getstatusoutput or asyncio.create_subprocess_shell; and the command of each
subprocess.run/Popen/call/check_call/check_output is a list or tuple: a literal, a comprehension, list()
or tuple() of something, a list literal plus more, a name bound only to those (or a parameter annotated as
a sequence), or the result of a function of the scanned code annotated to return one. The scanner is
checked first on snippets that must fail and snippets that must pass.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("generator", "scripts", "bench")

RUNNERS = {f"subprocess.{name}" for name in ("run", "Popen", "call", "check_call", "check_output")}
SHELL_ONLY = {
    "os.system",
    "os.popen",
    "subprocess.getoutput",
    "subprocess.getstatusoutput",
    "asyncio.create_subprocess_shell",
}
SEQUENCE_TYPES = {"list", "tuple", "Sequence", "MutableSequence", "List", "Tuple"}
SEQUENCE_BUILDERS = {"list", "tuple", "sorted"}


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> what it is: `import subprocess as sp` gives sp -> subprocess, `from os import
    system` gives system -> os.system."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _is_sequence_annotation(node: ast.expr | None) -> bool:
    if node is None:
        return False
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return False
    if isinstance(node, ast.Subscript):
        node = node.value
    if isinstance(node, ast.Attribute):
        return node.attr in SEQUENCE_TYPES
    return isinstance(node, ast.Name) and node.id in SEQUENCE_TYPES


class Scanner:
    """The shell checks over a set of modules: {display name: source}."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.trees = {name: ast.parse(source, name) for name, source in sources.items()}
        # Functions of the scanned code by name -> whether each definition returns a list or tuple.
        self.returns: dict[str, list[bool]] = {}
        for tree in self.trees.values():
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    self.returns.setdefault(node.name, []).append(_is_sequence_annotation(node.returns))

    def problems(self) -> list[str]:
        found = []
        for name, tree in self.trees.items():
            found += [f"{name}:{line}: {what}" for line, what in self._module(tree)]
        return found

    def _module(self, tree: ast.Module) -> Iterator[tuple[int, str]]:
        aliases = _aliases(tree)
        for scope in [
            tree,
            *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)),
        ]:
            for call in self._calls_in(scope):
                yield from self._call(call, scope, aliases)

    @staticmethod
    def _calls_in(scope: ast.AST) -> Iterator[ast.Call]:
        """The calls directly in `scope`: not those of a function defined inside it (its own scope)."""
        stack = list(ast.iter_child_nodes(scope))
        while stack:
            node = stack.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                if isinstance(node, ast.Lambda):
                    stack.extend(ast.iter_child_nodes(node))
                continue
            if isinstance(node, ast.Call):
                yield node
            stack.extend(ast.iter_child_nodes(node))

    def _call(self, call: ast.Call, scope: ast.AST, aliases: dict[str, str]) -> Iterator[tuple[int, str]]:
        callee = _dotted(call.func, aliases)
        for keyword in call.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                yield call.lineno, f"{callee or 'a call'}(shell={ast.unparse(keyword.value)})"
        if callee in SHELL_ONLY:
            yield call.lineno, f"{callee}() runs its command through a shell"
        if callee in RUNNERS:
            command = (
                call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "args"), None)
            )
            if command is None or not self._is_argv(command, scope, set()):
                shown = ast.unparse(command) if command is not None else "nothing"
                yield call.lineno, f"{callee}({shown}): the command is not a list or tuple"

    def _is_argv(self, node: ast.expr, scope: ast.AST, seen: set[str]) -> bool:
        if isinstance(node, ast.List | ast.Tuple | ast.ListComp):
            return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # [...] + more is a list or an error
            return isinstance(node.left, ast.List | ast.Tuple) or isinstance(node.right, ast.List | ast.Tuple)
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in SEQUENCE_BUILDERS:
                return True
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            returns = self.returns.get(name or "", [])
            return bool(returns) and all(returns)
        if isinstance(node, ast.Name):
            return self._name_is_argv(node.id, scope, seen)
        return False

    def _name_is_argv(self, name: str, scope: ast.AST, seen: set[str]) -> bool:
        """Every binding of `name` in `scope` is a list or tuple (a name bound nowhere there is not)."""
        if name in seen:
            return True  # `argv = argv + [...]`: the other bindings decide
        seen = {*seen, name}
        bindings: list[bool] = []
        if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = scope.args
            for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                if argument.arg == name:
                    bindings.append(_is_sequence_annotation(argument.annotation))
        stack = list(ast.iter_child_nodes(scope))
        while stack:
            node = stack.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
                continue
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id == name:
                        bindings.append(self._is_argv(node.value, scope, seen))
                    elif isinstance(target, ast.Tuple | ast.List) and any(
                        isinstance(t, ast.Name) and t.id == name for t in target.elts
                    ):
                        bindings.append(False)  # unpacked: not followed
            elif (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and node.target.id == name
            ):
                bindings.append(
                    _is_sequence_annotation(node.annotation)
                    or (node.value is not None and self._is_argv(node.value, scope, seen))
                )
            elif (
                isinstance(node, ast.AugAssign)
                and isinstance(node.target, ast.Name)
                and node.target.id == name
            ):
                bindings.append(isinstance(node.op, ast.Add) and self._is_argv(node.value, scope, seen))
            elif isinstance(node, ast.For | ast.With | ast.NamedExpr):
                targets = (
                    [node.target]
                    if isinstance(node, ast.For | ast.NamedExpr)
                    else [item.optional_vars for item in node.items if item.optional_vars is not None]
                )
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    bindings.append(False)
            stack.extend(ast.iter_child_nodes(node))
        return bool(bindings) and all(bindings)


def scanned_sources() -> dict[str, str]:
    sources = {}
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            sources[path.relative_to(ROOT).as_posix()] = path.read_text(encoding="utf-8")
    return sources


# ---- the scanner, on snippets --------------------------------------------------------------------------

BAD = {
    "shell true": 'import subprocess\nsubprocess.run("ls", shell=True)\n',
    "shell true, list": 'import subprocess\nsubprocess.run(["ls"], shell=True)\n',
    "shell from a variable": "import subprocess\ndef f(x):\n    subprocess.run(['ls'], shell=x)\n",
    "string command": 'import subprocess\nsubprocess.check_output("ls -l")\n',
    "f-string command": 'import subprocess\ndef f(x):\n    subprocess.call(f"git {x}")\n',
    "joined command": 'import subprocess\ndef f(x):\n    subprocess.Popen(" ".join(x))\n',
    "name bound to a string": 'import subprocess\ncommand = "ls"\nsubprocess.run(command)\n',
    "name bound to a string once": (
        'import subprocess\ndef f(x):\n    c = ["ls"]\n    if x:\n        c = "ls " + x\n    subprocess.run(c)\n'
    ),
    "an unannotated parameter": "import subprocess\ndef f(command):\n    subprocess.run(command)\n",
    "a str parameter": "import subprocess\ndef f(command: str):\n    subprocess.run(command)\n",
    "args keyword": 'import subprocess as sp\nsp.call(args="ls")\n',
    "aliased import": 'from subprocess import Popen as P\nP("ls")\n',
    "a function returning a string": (
        'import subprocess\ndef cmd() -> str:\n    return "ls"\nsubprocess.run(cmd())\n'
    ),
    "no command": "import subprocess\nsubprocess.run()\n",
    "os.system": 'import os\nos.system("ls")\n',
    "os.popen": 'import os\nos.popen("ls").read()\n',
    "from os import system": 'from os import system\nsystem("ls")\n',
    "getoutput": 'import subprocess\nsubprocess.getoutput("ls")\n',
    "asyncio shell": 'import asyncio\nasync def f():\n    await asyncio.create_subprocess_shell("ls")\n',
    "GitPython shell": 'import git\ngit.Git(".").execute("git status", shell=True)\n',
    "in a nested function": (
        'import subprocess\ndef f():\n    def g():\n        subprocess.run("ls", shell=True)\n    return g\n'
    ),
    "in a lambda": 'import subprocess\nrun = lambda: subprocess.run("ls")\n',
}

GOOD = {
    "a list": 'import subprocess\nsubprocess.run(["ls", "-l"], check=True)\n',
    "a tuple, shell=False": 'import subprocess\nsubprocess.run(("ls",), shell=False)\n',
    "a list plus more": 'import subprocess\ndef f(x: list[str]):\n    subprocess.run(["git", *x] + x)\n',
    "a name bound to a list": 'import subprocess\ndef f(x):\n    argv = ["git", x]\n    argv += ["-v"]\n    subprocess.run(argv)\n',
    "list() of a parameter": "import subprocess\ndef f(argv):\n    subprocess.Popen(list(argv))\n",
    "a Sequence parameter": (
        "import subprocess\nfrom collections.abc import Sequence\n"
        "def f(argv: Sequence[str]):\n    subprocess.run(argv)\n"
    ),
    "a function returning a list": (
        'import subprocess\ndef cmd(x: str) -> list[str]:\n    return ["ls", x]\n'
        'def f():\n    argv = cmd("a")\n    subprocess.run(argv)\n'
    ),
    "os.path, not os.system": 'import os\nos.path.join("a", "b")\n',
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_the_scanner_finds_a_shell(name: str) -> None:
    assert Scanner({"bad.py": BAD[name]}).problems(), name


@pytest.mark.parametrize("name", sorted(GOOD))
def test_the_scanner_passes_a_list(name: str) -> None:
    assert Scanner({"good.py": GOOD[name]}).problems() == []


def test_the_scanner_names_the_file_line_and_call() -> None:
    assert Scanner({"bad.py": BAD["shell true"]}).problems() == [
        "bad.py:2: subprocess.run(shell=True)",
        "bad.py:2: subprocess.run('ls'): the command is not a list or tuple",
    ]


# ---- the code --------------------------------------------------------------------------------------------


def test_no_shell_in_the_generator_its_scripts_or_its_bench() -> None:
    sources = scanned_sources()
    assert "generator/validate.py" in sources and "scripts/bench.py" in sources
    assert Scanner(sources).problems() == []


def test_the_scan_sees_the_subprocess_calls_there_are() -> None:
    """Not vacuous: the scanned code does run programs, and the scanner checks each of those calls."""
    checked = []
    for name, tree in Scanner(scanned_sources()).trees.items():
        aliases = _aliases(tree)
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and _dotted(call.func, aliases) in RUNNERS:
                checked.append(f"{name}:{call.lineno}")
    assert any(c.startswith("generator/validate.py:") for c in checked)
    assert any(c.startswith("scripts/") for c in checked)
