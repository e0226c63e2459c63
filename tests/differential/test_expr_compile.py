"""expr_check against the real compilers: the same accept/reject verdict as Argo Rollouts, per release.

`rollouts-eval --compile-only` (../shared/tools/README.md) compiles a condition the way the Argo Rollouts
analysis controller does: `rollouts-eval` is master (9f8d111) over expr-lang/expr v1.17.8,
`rollouts-eval-v1.9.1` is v1.9.1 over antonmedv/expr v1.15.5. The corpus is conditions.txt (hand-written)
plus conditions generated here with a fixed seed: random ones from a small grammar and mutations of valid
ones (a token dropped or doubled, brackets swapped).
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from generator import expr_check

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BINARIES = {"v1.9": "rollouts-eval-v1.9.1", "v1.10": "rollouts-eval"}
# Any SkyWalking-shaped body: --compile-only only needs result's Go type (map[string]interface {}).
BODY = {"data": {"service_apdex": {"values": {"values": [{"value": 9950, "isEmptyValue": False}]}}}}
SEED = 20260101


def find_binary(name: str) -> Path | None:
    found = shutil.which(name)
    if found:
        return Path(found)
    shared = ROOT.parent / "shared" / "tools" / "bin" / name
    return shared if shared.is_file() else None


def hand_written() -> list[str]:
    lines = (HERE / "conditions.txt").read_text(encoding="utf-8").split("\n")
    return [line for line in lines if line and not line.startswith(";;")]


# --- generated conditions ---------------------------------------------------------------------------------

_PATHS = ("result.a", "result.a.values.values", "result['b']", "result.a?.b", "result.a.values[0].value")
_ATOMS = ("1", "9900", "2.5", "'x'", '"y"', "true", "false", "nil", "[1, 2]", "{a: 1}", "1..3", "`z`")
_FUNCTIONS = ("len", "asFloat", "asInt", "abs", "upper", "first", "max", "isNaN", "toJSON", "reverse", "uniq")
_PREDICATES = ("all", "any", "none", "one", "filter", "map", "count", "find", "sum", "sortBy", "reduce")
_OPERATORS = ("==", "!=", "<", ">=", "&&", "||", "and", "+", "-", "*", "/", "%", "**", "in", "not in",
              "contains", "startsWith", "matches", "??", "..")  # fmt: skip


def _expression(rng: random.Random, depth: int, in_predicate: bool) -> str:
    leaves = [*_PATHS, *_ATOMS] + ([".value", "#", "#index", "#.value"] if in_predicate else [])
    if depth <= 0:
        return rng.choice(leaves)
    choice = rng.randrange(9)
    sub = lambda: _expression(rng, depth - 1, in_predicate)  # noqa: E731
    if choice == 0:
        return rng.choice(leaves)
    if choice in (1, 2):
        return f"{sub()} {rng.choice(_OPERATORS)} {sub()}"
    if choice == 3:
        return f"{rng.choice(('!', 'not ', '-'))}{sub()}"
    if choice == 4:
        name = rng.choice(_FUNCTIONS)
        return f"{name}({', '.join(sub() for _ in range(rng.choice((0, 1, 1, 1, 2))))})"
    if choice == 5:
        name = rng.choice(_PREDICATES)
        body = _expression(rng, depth - 1, True)
        body = f"{{{body}}}" if rng.random() < 0.6 else body
        extra = ", 0" if name == "reduce" and rng.random() < 0.5 else ""
        return f"{name}({sub()}, {body}{extra})"
    if choice == 6:
        return f"({sub()})"
    if choice == 7:
        return f"{sub()} ? {sub()} : {sub()}"
    return f"{rng.choice(_PATHS)} | {rng.choice(('len()', 'filter(.value > 0)', 'count()', 'map(#)'))}"


_TOKEN = re.compile(
    r"\s+|`[^`]*`|'[^']*'|\"[^\"]*\"|[A-Za-z_$][\w$]*|\d[\w.]*|\?\?|\?\.|\.\.|[=!<>]=|&&|\|\||\*\*|."
)


def _mutations(rng: random.Random, condition: str, count: int) -> Iterator[str]:
    tokens = [t for t in _TOKEN.findall(condition) if t.strip()]
    swaps = {"(": "[", "[": "{", "{": "(", ")": "]", "]": "}", "}": ")"}
    for _ in range(count):
        mutated = list(tokens)
        i = rng.randrange(len(mutated))
        kind = rng.randrange(3)
        if kind == 0:
            del mutated[i]
        elif kind == 1:
            mutated.insert(i, mutated[i])
        else:
            brackets = [j for j, t in enumerate(mutated) if t in swaps] or [i]
            j = rng.choice(brackets)
            mutated[j] = swaps.get(mutated[j], mutated[j])
        yield " ".join(mutated)


def generated() -> list[str]:
    rng = random.Random(SEED)
    conditions = [_expression(rng, rng.randrange(1, 4), False) for _ in range(300)]
    valid_seeds = [line for line in hand_written() if expr_check.compiles(line, "v1.10")][:80]
    for condition in valid_seeds:
        conditions.extend(_mutations(rng, condition, 2))
    return list(dict.fromkeys(conditions))


# --- the comparison ---------------------------------------------------------------------------------------


def compile_all(binary: Path, conditions: list[str], body: Path) -> list[str]:
    def run(condition: str) -> str:
        argv = [str(binary), "--compile-only", "--success", condition, str(body)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        out = done.stdout.strip()
        assert out == "OK" or out.startswith("CompileError: "), (
            argv,
            done.returncode,
            done.stdout,
            done.stderr,
        )
        return out

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(run, conditions))


@pytest.mark.parametrize("version", list(BINARIES))
def test_same_verdict_as_the_real_compiler(version: str, tmp_path: Path) -> None:
    binary = find_binary(BINARIES[version])
    if binary is None:
        pytest.skip(f"{BINARIES[version]} not found in PATH or {ROOT.parent / 'shared/tools/bin'}")
    body = tmp_path / "body.json"
    body.write_text(json.dumps(BODY), encoding="utf-8")
    corpus = list(dict.fromkeys([*hand_written(), *generated()]))
    verdicts = compile_all(binary, corpus, body)
    disagreements = []
    for condition, verdict in zip(corpus, verdicts, strict=True):
        problems = expr_check.check_condition(condition, version)
        ours = not any(not p.advisory for p in problems)
        if ours != (verdict == "OK"):
            disagreements.append(f"{condition!r}: compiler {verdict[:90]!r}, expr_check {problems[:1]}")
    assert len(corpus) > 500
    assert "OK" in verdicts and any(v != "OK" for v in verdicts)  # the corpus has both kinds
    assert disagreements == [], f"{len(disagreements)} of {len(corpus)} disagree:\n" + "\n".join(
        disagreements
    )
