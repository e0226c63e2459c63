"""The merge rule: maps merge, lists replace, an explicit null removes; and errors trace back to a layer."""

from pathlib import Path

from generator.environments import Layer, apply_defaults, merge, merge_layers
from generator.spec import SourceFile
from generator.yamlio import load_text, to_plain


def source(text: str, display: str) -> SourceFile:
    node = load_text(text, display)
    return SourceFile(display, node, to_plain(node))


def test_maps_merge_key_by_key() -> None:
    assert merge({"a": {"x": 1, "y": 2}}, {"a": {"y": 3, "z": 4}}) == {"a": {"x": 1, "y": 3, "z": 4}}


def test_lists_replace_not_append() -> None:
    assert merge({"steps": [1, 2, 3]}, {"steps": [9]}) == {"steps": [9]}


def test_explicit_null_removes() -> None:
    assert merge(
        {"replicas": 5, "tsb": {"securityGroup": "s", "tenant": "t"}},
        {"replicas": None, "tsb": {"securityGroup": None}},
    ) == {"tsb": {"tenant": "t"}}


def test_null_inside_a_new_map_is_dropped() -> None:
    assert merge({}, {"a": {"b": None, "c": 1}}) == {"a": {"c": 1}}


def test_scalars_and_types_replace() -> None:
    assert merge({"pause": {"duration": "5m"}}, {"pause": "10m"}) == {"pause": "10m"}
    assert merge({"pause": "10m"}, {"pause": {}}) == {"pause": {}}


def test_inputs_are_not_modified() -> None:
    base, override = {"a": {"b": [1]}}, {"a": {"c": 2}}
    merged = merge(base, override)
    merged["a"]["b"].append(5)
    assert base == {"a": {"b": [1]}} and override == {"a": {"c": 2}}


def test_locate_finds_the_highest_layer_holding_the_value() -> None:
    env = source(
        "defaults:\n  replicas: 2\nservices:\n  reviews:\n    replicas: 7\n", "environments/prod.yaml"
    )
    spec = source("name: reviews\nreplicas: 5\n", "services/reviews.yaml")
    merged = merge_layers(
        [
            Layer(env, env.data["defaults"], prefix=("defaults",)),
            Layer(spec, spec.data),
            Layer(env, env.data["services"]["reviews"], prefix=("services", "reviews")),
        ]
    )
    assert merged.data["replicas"] == 7
    where = merged.locate(("replicas",))
    assert (where.path, where.line, where.column, where.field) == (
        "environments/prod.yaml",
        5,
        15,
        "replicas",
    )
    name = merged.locate(("name",))
    assert (name.path, name.line) == ("services/reviews.yaml", 1)


def test_locate_a_default_points_at_its_parent() -> None:
    spec = source("name: reviews\nanalysis:\n  startingStep: 2\n", "services/reviews.yaml")
    merged = merge_layers([Layer(spec, spec.data)])
    where = merged.locate(("analysis", "interval"))
    assert (where.line, where.field) == (2, "analysis.interval")


def test_apply_defaults_fills_only_objects_that_exist() -> None:
    schema = {
        "$defs": {"d": {"type": "string", "default": "5m"}},
        "properties": {
            "analysis": {"type": "object", "properties": {"interval": {"$ref": "#/$defs/d"}}},
            "canary": {"type": "object", "properties": {"stableSubset": {"default": "stable"}}},
        },
    }
    assert apply_defaults(schema, {"analysis": {}}) == {"analysis": {"interval": "5m"}}


def test_example_environment_is_a_valid_layer(tmp_path: Path) -> None:
    from generator.spec import environment_validator, load_source

    root = Path(__file__).resolve().parents[2]
    env = load_source(root / "environments" / "demo.yaml", "environments/demo.yaml")
    assert list(environment_validator().iter_errors(env.data)) == []
