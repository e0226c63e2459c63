"""The command line: help everywhere, documented exit codes, render writes the layout."""

from pathlib import Path

from click.testing import CliRunner

from generator.cli import cli


def test_help_on_every_command() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    assert "Exit codes:" in top.output
    commands = [[name] for name in cli.commands]  # type: ignore[attr-defined]
    commands += [["analysis", name] for name in cli.commands["analysis"].commands]  # type: ignore[attr-defined]
    for command in commands:
        result = runner.invoke(cli, [*command, "--help"])
        assert result.exit_code == 0, command
        if command != ["analysis"]:  # a group: its commands take the options
            assert "--config" in result.output, command


def test_render_writes_the_example_and_is_idempotent(example_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    first = runner.invoke(
        cli, ["render", "--config", str(example_config), "--out", str(out)], catch_exceptions=False
    )
    assert first.exit_code == 0
    assert (out / "demo/services/bookinfo/reviews/rollout.yaml").is_file()
    texts = {p: p.read_bytes() for p in out.rglob("*.yaml")}
    second = runner.invoke(
        cli, ["render", "--config", str(example_config), "--out", str(out)], catch_exceptions=False
    )
    assert second.exit_code == 0
    assert {p: p.read_bytes() for p in out.rglob("*.yaml")} == texts


def test_out_defaults_to_config_rendered(example_config: Path) -> None:
    result = CliRunner().invoke(cli, ["render", "--config", str(example_config)], catch_exceptions=False)
    assert result.exit_code == 0
    assert (example_config / "rendered/demo/argocd/root.yaml").is_file()
