"""Start-up: help and usage errors load only click and the CLI module, never the heavy libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("jsonschema", "graphql", "jinja2", "git", "ruamel", "referencing")

PROBE = f"""
import json, sys
from generator.cli import main
sys.argv = ["gitops-gen", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
print(json.dumps({{"code": code, "heavy": heavy}}))
"""


def imported_by(*argv: str) -> tuple[int, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60, check=False
    )
    last = json.loads(result.stdout.strip().splitlines()[-1])
    return last["code"], last["heavy"]


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (("--help",), 0),
        (("render", "--help"), 0),
        (("validate", "--help"), 0),
        (("publish", "--help"), 0),
        (("--version",), 0),
        (("render", "--no-such-flag"), 2),
        (("validate", "--output", "xml"), 2),
        (("no-such-command",), 2),
    ],
)
def test_help_and_usage_errors_import_none_of_the_heavy_libraries(argv: tuple[str, ...], code: int) -> None:
    assert imported_by(*argv) == (code, [])


ROOT = Path(__file__).resolve().parents[2]


def test_a_command_that_runs_imports_what_it_needs() -> None:
    service = ROOT / "rendered" / "demo" / "services" / "bookinfo" / "reviews"
    code, heavy = imported_by("validate", "--validator", "builtin", str(service))
    assert code in (0, 1)  # it ran (findings or none), not a usage error
    # the probe sees real imports (an empty list above means something): compiling a schema takes
    # jsonschema, the rules graphql-core
    assert {"jsonschema", "graphql"} <= {m.split(".")[0] for m in heavy}
