"""Rendering: no value can change a manifest's structure; output is parsed back and deterministic."""

from pathlib import Path

import pytest
import yaml

from generator.errors import Findings, InputError
from generator.render import _parse_one, render_all

HOSTILE = "reviews\nkind: Secret\n---\napiVersion: v1\nkind: Secret"


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def test_a_value_holding_a_newline_and_kind_secret_stays_one_scalar(example_config: Path) -> None:
    # A regex path and a condition are free text; names are not (a DNS-1123 name takes no newline).
    page = example_config / "services" / "productpage.yaml"
    write(page, page.read_text().replace("- prefix: /static", f"- regex: {yaml.safe_dump(HOSTILE).strip()}"))
    spec = example_config / "services" / "reviews.yaml"
    write(
        spec,
        spec.read_text().replace("threshold: 0.99", f"successCondition: {yaml.safe_dump(HOSTILE).strip()}"),
    )
    manifests = render_all(example_config)
    kinds = {m.kind for m in manifests}
    assert "Secret" not in kinds
    for manifest in manifests:
        documents = list(yaml.safe_load_all(manifest.text))
        assert len(documents) == 1
        assert documents[0] == manifest.obj
    ingress = next(m for m in manifests if m.kind == "VirtualService" and m.name == "bookinfo")
    assert {"uri": {"regex": HOSTILE}} in [m for route in ingress.obj["spec"]["http"] for m in route["match"]]
    template = next(m for m in manifests if m.kind == "AnalysisTemplate")
    assert template.obj["spec"]["metrics"][0]["successCondition"] == HOSTILE


def test_quotes_and_braces_in_values_are_encoded(example_config: Path) -> None:
    spec = example_config / "services" / "reviews.yaml"
    write(spec, spec.read_text().replace("threshold: 0.99", "successCondition: 'bo\"ok}{{ args.x }}'"))
    manifests = render_all(example_config)
    template = next(m for m in manifests if m.kind == "AnalysisTemplate")
    assert template.obj["spec"]["metrics"][0]["successCondition"] == 'bo"ok}{{ args.x }}'


def test_parse_back_rejects_two_documents_or_another_kind() -> None:
    expected = ("v1", "ConfigMap", "x")
    assert _parse_one("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "t", expected)
    with pytest.raises(Findings):
        _parse_one("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\nkind: Secret\n", "t", expected)
    with pytest.raises(Findings):
        _parse_one("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n", "t", expected)
    with pytest.raises(Findings):
        _parse_one("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n", "t", expected)


def test_output_is_byte_identical_across_runs(example_config: Path) -> None:
    first = [(m.path, m.text) for m in render_all(example_config)]
    second = [(m.path, m.text) for m in render_all(example_config)]
    assert first == second


def test_conventional_key_order(example_config: Path) -> None:
    for manifest in render_all(example_config):
        assert list(manifest.obj)[:3] == ["apiVersion", "kind", "metadata"], manifest.path
        assert manifest.text.startswith(f"apiVersion: {manifest.obj['apiVersion']}\nkind: {manifest.kind}\n")


def test_layout_is_one_object_per_file(example_config: Path) -> None:
    paths = [m.path for m in render_all(example_config)]
    assert len(paths) == len(set(paths))
    assert "demo/services/bookinfo/reviews/rollout.yaml" in paths
    assert "demo/argocd/root.yaml" in paths
    assert "demo/tsb/workspace-bookinfo-ws.yaml" in paths


def test_compact_steps_expand_to_weight_and_pause(example_config: Path) -> None:
    spec = example_config / "services" / "reviews.yaml"
    text = spec.read_text()
    start, end = text.index("  steps:"), text.index("analysis:")
    write(
        spec,
        text[:start]
        + "  weights: [5, 25, 50]\n  pause: {}\n"
        + text[end:].replace("startingStep: 2", "startingStep: 1"),
    )
    rollout = next(m for m in render_all(example_config) if m.kind == "Rollout")
    assert rollout.obj["spec"]["strategy"]["canary"]["steps"] == [
        {"setWeight": 5},
        {"pause": {}},
        {"setWeight": 25},
        {"pause": {}},
        {"setWeight": 50},
        {"pause": {}},
    ]


def test_service_selection_renders_only_that_service(example_config: Path) -> None:
    manifests = render_all(example_config, services=["ratings"])
    assert {m.service for m in manifests} == {"ratings"}
    assert {m.kind for m in manifests} == {
        "DestinationRule",
        "VirtualService",
        "Application",
        "Deployment",
        "Service",
        "ServiceAccount",
    }


def test_two_services_rendering_the_same_object_is_an_error(example_config: Path) -> None:
    spec = example_config / "services" / "reviews.yaml"
    write(
        example_config / "services" / "ratings.yaml",
        spec.read_text().replace("name: reviews", "name: ratings").replace("replicas: 5", "replicas: 2"),
    )
    with pytest.raises(
        InputError, match="AnalysisTemplate 'apdex' in environment 'demo' is also rendered from"
    ):
        render_all(example_config)


def test_environment_overrides_win_over_the_spec(example_config: Path) -> None:
    env = example_config / "environments" / "demo.yaml"
    write(
        env,
        env.read_text()
        + "services:\n  reviews:\n    replicas: null\n    analysis:\n      apdex: {threshold: 0.995}\n",
    )
    manifests = render_all(example_config)
    rollout = next(m for m in manifests if m.kind == "Rollout")
    assert "replicas" not in rollout.obj["spec"]
    template = next(m for m in manifests if m.kind == "AnalysisTemplate")
    metric = template.obj["spec"]["metrics"][0]
    assert ">= 9950" in metric["successCondition"]
    assert metric["interval"] == "5m"  # the rest of analysis still comes from the spec


def test_explicit_null_in_an_override_removes_without_a_schema_error(example_config: Path) -> None:
    env = example_config / "environments" / "demo.yaml"
    write(
        env,
        env.read_text()
        + "services:\n  reviews:\n    canary:\n      steps: null\n      weights: [5, 50]\n      pause: 2m\n"
        "    analysis:\n      startingStep: null\n",
    )
    rollout = next(m for m in render_all(example_config) if m.kind == "Rollout")
    canary = rollout.obj["spec"]["strategy"]["canary"]
    assert canary["steps"] == [
        {"setWeight": 5},
        {"pause": {"duration": "2m"}},
        {"setWeight": 50},
        {"pause": {"duration": "2m"}},
    ]
    assert "startingStep" not in canary["analysis"]


def test_null_in_the_spec_removes_an_environment_default(example_config: Path) -> None:
    env = example_config / "environments" / "demo.yaml"
    write(env, env.read_text().replace("defaults:\n", "defaults:\n  replicas: 3\n"))
    spec = example_config / "services" / "reviews.yaml"
    write(spec, spec.read_text().replace("replicas: 5", "replicas: null"))
    rollout = next(m for m in render_all(example_config) if m.kind == "Rollout")
    assert "replicas" not in rollout.obj["spec"]


def test_the_readme_merge_example(example_config: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    example = readme.split("For example, in `environments/prod.yaml`:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    env = example_config / "environments" / "demo.yaml"
    write(env, env.read_text() + example)
    manifests = render_all(example_config)
    rollout = next(m for m in manifests if m.kind == "Rollout").obj
    assert "replicas" not in rollout["spec"]
    assert [
        s.get("setWeight") for s in rollout["spec"]["strategy"]["canary"]["steps"] if "setWeight" in s
    ] == [5, 25, 50]
    template = next(m for m in manifests if m.kind == "AnalysisTemplate").obj
    assert ">= 9950" in template["spec"]["metrics"][0]["successCondition"]


def test_a_one_letter_yes_or_no_is_written_as_a_string(example_config: Path) -> None:
    """Kubernetes reads YAML 1.1 with go-yaml v2, where `y` and `n` are booleans (the property tests
    found a subset label `y` written bare)."""
    from generator.validate import load_text

    page = example_config / "services" / "productpage.yaml"
    write(page, page.read_text().replace("labels: {version: v1}", "labels: {version: y}"))
    rule = next(
        m for m in render_all(example_config) if m.kind == "DestinationRule" and m.name == "productpage"
    )
    assert "version: 'y'" in rule.text
    (loaded,) = load_text(rule.text, "destinationrule.yaml")
    assert loaded.obj["spec"]["subsets"][0]["labels"] == {"version": "y"}
