"""Acknowledged warnings: shown with their reason, never failing `--strict`; only warnings, only known rules."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner, Result

from generator.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    return result


def render(config: Path, *args: str) -> Result:
    return run("render", "--config", str(config), "--validator", "builtin", *args)


def drop_acknowledgements(spec: Path) -> None:
    """Remove the `acknowledge:` block (up to the next top-level key)."""
    text = spec.read_text()
    start = text.index("acknowledge:")
    following = re.compile(r"^\S", re.M).search(text, text.index("\n", start) + 1)
    spec.write_text(text[:start] + (text[following.start() :] if following else ""))


def test_the_bundled_example_acknowledges_its_two_warnings(example_config: Path) -> None:
    result = render(example_config, "--strict")
    assert result.exit_code == 0, result.stderr
    assert (
        "GG502 warning (acknowledged: the demo leaves the Deployment running; scale it to 0" in result.stderr
    )
    assert "GG311 warning (acknowledged: the demo's 3m window, measured every 5m)" in result.stderr


def test_without_the_acknowledgement_strict_fails_and_writes_nothing(example_config: Path) -> None:
    drop_acknowledgements(example_config / "services/reviews.yaml")
    result = render(example_config, "--strict")
    assert result.exit_code == 1
    assert "nothing written: 38 objects checked: 0 error(s), 2 warning(s)" in result.stderr
    assert not (example_config / "rendered").exists()
    assert render(example_config).exit_code == 0  # without --strict warnings pass


def test_validate_of_a_rendered_tree_honours_the_acknowledgements_it_recorded(example_config: Path) -> None:
    assert render(example_config).exit_code == 0
    out = example_config / "rendered"
    result = run("validate", str(out), "--strict", "--validator", "builtin")
    assert result.exit_code == 0, result.output
    assert "2 warning(s) (2 acknowledged)" in result.stderr
    drop_acknowledgements(example_config / "services/reviews.yaml")
    assert render(example_config).exit_code == 0
    assert run("validate", str(out), "--strict", "--validator", "builtin").exit_code == 1


def test_the_hand_written_demo_has_nobody_to_acknowledge_its_warnings() -> None:
    demo = ROOT / "tests/fixtures/demo/argo"
    assert run("validate", str(demo), "--strict", "--validator", "builtin").exit_code == 1


def test_an_unknown_rule_is_a_located_error(example_config: Path) -> None:
    spec = example_config / "services/reviews.yaml"
    spec.write_text(spec.read_text().replace("  GG311:", "  GG3111:"))
    result = render(example_config)
    assert result.exit_code == 2
    assert result.stderr.startswith("services/reviews.yaml:")
    assert 'acknowledge.GG3111: invalid key "GG3111"' in result.stderr


def test_a_rule_that_does_not_exist_gets_a_did_you_mean(example_config: Path) -> None:
    spec = example_config / "services/reviews.yaml"
    spec.write_text(spec.read_text().replace("  GG311:", "  GG399:"))
    result = render(example_config)
    assert result.exit_code == 2
    assert "acknowledge.GG399: no rule GG399 (did you mean 'GG309'?)" in result.stderr
    assert not (example_config / "rendered").exists()


def test_an_error_cannot_be_acknowledged(example_config: Path) -> None:
    env = example_config / "environments/demo.yaml"
    env.write_text(env.read_text() + "acknowledge:\n  GG101: we know\n")
    result = render(example_config)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "environments/demo.yaml:26:10: acknowledge.GG101: GG101 (the Rollout's VirtualService exists) is an "
        "error, and only warnings can be acknowledged (fix what it reports)"
    )
