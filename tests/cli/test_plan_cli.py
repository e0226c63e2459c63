"""`gitops-gen plan`: the bundled example's timeline as text, JSON and SVG; nothing is written."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner, Result

from generator.cli import cli


def plan(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["plan", "--config", str(config), *args])
    assert "Traceback" not in result.stderr
    return result


def test_text(example_config: Path) -> None:
    result = plan(example_config)
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert text.startswith(
        "demo/reviews: Rollout bookinfo/reviews-rollout\n        0s  step 1  setWeight 10%\n"
    )
    assert "       10m  step 3  setWeight 20%  <- analysis starts (startingStep 2)\n" in text
    assert "       30m  full promotion: 100%\n" in text
    assert "measures every 5m, at 10m, 15m, 20m, 25m; fails the run at its 4th failed measurement" in text
    assert "  earliest rollback: 25m (5m before full promotion)\n" in text
    assert "  full promotion: no sooner than 30m\n" in text
    assert not (example_config / "rendered").exists()  # in memory: nothing is written


def test_json(example_config: Path) -> None:
    result = plan(example_config, "--output", "json", "--env", "demo", "--service", "reviews")
    assert result.exit_code == 0, result.stderr
    (canary,) = json.loads(result.stdout)["canaries"]
    assert (canary["environment"], canary["service"], canary["full_promotion"]) == ("demo", "reviews", 1800)
    assert canary["analysis"]["start"] == 600
    assert canary["analysis"]["metrics"][0]["interval"] == 300
    assert canary["analysis"]["earliest_rollback"] == 1500
    assert [p["weight"] for p in canary["traffic"]] == [10, 20, 40, 60, 80, 100]


def test_svg(example_config: Path) -> None:
    result = plan(example_config, "--output", "svg")
    assert result.exit_code == 0, result.stderr
    root = ET.fromstring(result.stdout)
    marks = [e.get("data-seconds") for e in root.iter() if e.get("class") == "measurement"]
    assert marks == ["600", "900", "1200", "1500"]
    assert [e.get("data-seconds") for e in root.iter() if e.get("class") == "rollback"] == ["1500"]


def test_a_mesh_only_service_has_no_canary(example_config: Path) -> None:
    result = plan(example_config, "--service", "ratings")
    assert (result.exit_code, result.stdout) == (0, "no canary Rollout in the selection\n")


def test_unknown_service_is_exit_2(example_config: Path) -> None:
    result = plan(example_config, "--service", "reveiws")
    assert result.exit_code == 2
    assert "reveiws" in result.stderr


def test_help_imports_none_of_the_heavy_libraries() -> None:
    probe = (
        "import sys\nfrom generator.cli import main\nsys.argv = ['gitops-gen', 'plan', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'jsonschema', 'graphql', 'jinja2', 'git', 'ruamel', 'referencing'} or m == 'generator.plan'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
