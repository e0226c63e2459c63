"""Every user mistake: one message per problem with file:line:column and field path, exit 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli


def render(config: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["render", "--config", str(config), *args])
    return result.exit_code, result.stdout, result.stderr


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


CASES = {
    "yaml syntax error": (
        "services/reviews.yaml",
        "replicas: 5",
        "replicas: [5",
        "services/reviews.yaml:6:7: YAML syntax error: while parsing a flow sequence: expected ',' or ']'",
    ),
    "unknown key with did-you-mean": (
        "services/reviews.yaml",
        "  failureLimit: 3",
        "  failureLimt: 3",
        "services/reviews.yaml:23:3: analysis.failureLimt: unknown key 'failureLimt' (did you mean 'failureLimit'?)",
    ),
    "wrong type": (
        "services/reviews.yaml",
        "replicas: 5",
        "replicas: five",
        'services/reviews.yaml:5:11: replicas: expected integer, got string "five"',
    ),
    "invalid duration": (
        "services/reviews.yaml",
        "pause: 10m",
        "pause: 10 minutes",
        'services/reviews.yaml:9:14: canary.steps[1].pause: invalid value "10 minutes" '
        "(a duration such as 30s, 10m, 1h or 1h30m)",
    ),
    "weights not strictly increasing": (
        "services/reviews.yaml",
        "setWeight: 20",
        "setWeight: 90",
        "services/reviews.yaml:12:18: canary.steps[4].setWeight: weight 40 does not increase on the previous 90 "
        "(canary weights must be strictly increasing)",
    ),
    "weight above 100": (
        "services/reviews.yaml",
        "setWeight: 80",
        "setWeight: 120",
        "services/reviews.yaml:16:18: canary.steps[8].setWeight: expected a number <= 100, got 120",
    ),
    "override for an unknown service": (
        "environments/demo.yaml",
        "defaults:",
        "services:\n  reveiws:\n    replicas: 2\ndefaults:",
        "environments/demo.yaml:24:3: services.reveiws: override for unknown service 'reveiws' "
        "(did you mean 'reviews'?)",
    ),
    "wrong type in an environment override": (
        "environments/demo.yaml",
        "defaults:",
        "services:\n  reviews:\n    replicas: lots\ndefaults:",
        'environments/demo.yaml:25:15: services.reviews.replicas: expected integer, got string "lots"',
    ),
    "startingStep outside the steps": (
        "services/reviews.yaml",
        "startingStep: 2",
        "startingStep: 10",
        "services/reviews.yaml:20:17: analysis.startingStep: step 10 does not exist (the canary has steps 0 to 9)",
    ),
    "ingress to an unknown gateway": (
        "services/productpage.yaml",
        "gateway: bookinfo-gateway",
        "gateway: bookinfo-gw",
        "services/productpage.yaml:13:12: ingress.gateway: no gateway 'bookinfo-gw' in environment 'demo' "
        "(gateways: bookinfo-gateway)",
    ),
    "duplicate key": (
        "services/reviews.yaml",
        "replicas: 5",
        "replicas: 5\nreplicas: 6",
        "services/reviews.yaml:6:1: YAML syntax error: while constructing a mapping: found duplicate key",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_reported_at_its_spot_and_nothing_is_written(example_config: Path, case: str) -> None:
    file, old, new, expected = CASES[case]
    edit(example_config / file, old, new)
    out = example_config / "rendered"
    code, _, stderr = render(example_config)
    assert code == 2
    assert expected in stderr
    assert "Traceback" not in stderr
    assert not out.exists()


def test_bad_input_leaves_an_existing_tree_untouched(example_config: Path) -> None:
    assert render(example_config)[0] == 0
    out = example_config / "rendered"
    before = snapshot(out)
    edit(example_config / "services/reviews.yaml", "setWeight: 20", "setWeight: 5")
    assert render(example_config)[0] == 2
    assert snapshot(out) == before


def test_missing_environment_file(example_config: Path) -> None:
    code, _, stderr = render(example_config, "--env", "prod")
    assert code == 2
    assert "environments/prod.yaml: environment file not found (known: demo)" in stderr


def test_unknown_service_has_a_did_you_mean(example_config: Path) -> None:
    code, _, stderr = render(example_config, "--service", "reveiws")
    assert code == 2
    assert "services/reveiws.yaml: service file not found (did you mean 'reviews'?)" in stderr


def test_all_problems_of_a_file_are_reported_together_in_order(example_config: Path) -> None:
    spec = example_config / "services/reviews.yaml"
    edit(spec, "replicas: 5", "replicas: five")
    edit(spec, "  failureLimit: 3", "  failureLimt: 3")
    code, _, stderr = render(example_config)
    lines = stderr.strip().splitlines()
    assert code == 2
    assert [line.split(":")[1] for line in lines] == ["5", "23"]


def test_missing_services_folder(tmp_path: Path) -> None:
    code, _, stderr = render(tmp_path)
    assert code == 2
    assert "services: folder not found" in stderr


def test_usage_error_exits_2(example_config: Path) -> None:
    code, _, stderr = render(example_config, "--no-such-flag")
    assert code == 2
    assert "No such option" in stderr


@pytest.mark.parametrize("name", ["tsb", "root", "gateways"])
def test_reserved_service_names(example_config: Path, name: str) -> None:
    (example_config / "services" / f"{name}.yaml").write_text(f"name: {name}\nnamespace: bookinfo\n")
    code, _, stderr = render(example_config)
    assert code == 2
    assert f'services/{name}.yaml:1:7: name: the service name "{name}" is reserved' in stderr


def test_selector_must_not_pin_the_version_label(example_config: Path) -> None:
    edit(
        example_config / "services/reviews.yaml",
        "replicas: 5",
        "replicas: 5\nselector: {app: reviews, version: stable}",
    )
    code, _, stderr = render(example_config)
    assert code == 2
    assert "services/reviews.yaml:6:35: selector.version: the selector pins 'version'" in stderr


def test_version_label_must_be_a_label_name(example_config: Path) -> None:
    edit(example_config / "services/reviews.yaml", "canary:\n", "canary:\n  versionLabel: my version\n")
    code, _, stderr = render(example_config)
    assert code == 2
    assert 'canary.versionLabel: invalid value "my version" (a Kubernetes label name' in stderr


# ---- bounded resources: a file no spec needs is refused before a YAML library builds it ---------------


def _billion_laughs() -> str:
    text = 'lol: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for level in range(1, 9):
        text += f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]\n"
    return text


BOUNDS = {
    "alias bomb in a spec": (
        "services/reviews.yaml",
        _billion_laughs(),
        "services/reviews.yaml:",
        "more than 100,000 values once its YAML aliases are expanded",
    ),
    "alias bomb in an environment file": (
        "environments/demo.yaml",
        _billion_laughs(),
        "environments/demo.yaml:",
        "more than 100,000 values once its YAML aliases are expanded",
    ),
    "10,000 nested flow lists": (
        "services/reviews.yaml",
        "x: " + "[" * 10_000 + "]" * 10_000 + "\n",
        "services/reviews.yaml:",
        "maps and lists nested more than 64 deep",
    ),
    "100 nested flow maps": (
        "services/reviews.yaml",
        "x: " + "{a: " * 100 + "1" + "}" * 100 + "\n",
        "services/reviews.yaml:",
        "maps and lists nested more than 64 deep",
    ),
    "1,000 nested block mappings": (  # 10,000 would be 50 MB of indentation: refused for its size
        "services/reviews.yaml",
        "".join(f"{' ' * depth}k:\n" for depth in range(1_000)),
        "services/reviews.yaml:",
        "maps and lists nested more than 64 deep",
    ),
    "a 50 MB comment": (
        "services/reviews.yaml",
        "#" + "x" * (50 << 20) + "\n",
        "services/reviews.yaml:1:1: file is ",
        "bytes, more than the 1,048,576 a spec or environment file may have (split it",
    ),
}


@pytest.mark.parametrize("case", sorted(BOUNDS))
def test_a_file_out_of_bounds_is_refused_at_once(example_config: Path, case: str) -> None:
    file, appended, where, message = BOUNDS[case]
    path = example_config / file
    path.write_text(path.read_text() + appended)
    before = snapshot(example_config)
    code, _, stderr = render(example_config)
    assert code == 2, stderr
    assert "Traceback" not in stderr
    line = next(line for line in stderr.splitlines() if message in line)
    assert line.startswith(where), line
    assert snapshot(example_config) == before
