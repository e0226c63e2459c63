"""The spec schemas: every field documented (editors complete from it), and valid as JSON Schema."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from generator.resources import data_dir

SPEC_SCHEMAS = sorted((data_dir("schemas") / "spec").glob("*.schema.json"))


def properties(schema: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, subschema) declared under a `properties` anywhere in the schema."""
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            yield f"{path}.{name}", sub
        for key, sub in schema.items():
            yield from properties(sub, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, sub in enumerate(schema):
            yield from properties(sub, f"{path}[{index}]")


@pytest.mark.parametrize("path", SPEC_SCHEMAS, ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    schema = json.loads(path.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", SPEC_SCHEMAS, ids=lambda p: p.name)
def test_every_field_has_a_description(path: Path) -> None:
    schema = json.loads(path.read_text())
    undocumented = [name for name, sub in properties(schema) if not sub.get("description")]
    assert undocumented == []


def test_example_specs_point_editors_at_the_schema() -> None:
    root = Path(__file__).resolve().parents[2]
    for spec in sorted((root / "services").glob("*.yaml")):
        assert spec.read_text().startswith(
            "# yaml-language-server: $schema=../schemas/spec/service.schema.json\n"
        )


def test_reviews_spec_is_short() -> None:
    """The canary is a few lines; the workload, which the demo spells out as Kubernetes objects (its
    Deployment, Service and ServiceAccount of reviews in application/bookinfo.yaml), fewer than those."""
    root = Path(__file__).resolve().parents[2]
    text = (root / "services" / "reviews.yaml").read_text()
    start = text.index("\nworkload:")
    canary = [line for line in text[:start].splitlines() if line.strip()]
    workload = [line for line in text[start:].splitlines() if line.strip()]
    demo = (root / "tests/fixtures/demo/application/bookinfo.yaml").read_text()
    reviews = demo[demo.index("# Reviews service") : demo.index("# Productpage services")]
    demo_lines = [line for line in reviews.splitlines() if line.strip() and not line.startswith("#")]
    assert 20 <= len(canary) <= 30
    assert len(workload) < len(demo_lines) / 2


def _registry() -> Any:
    from referencing import Registry, Resource

    return Registry().with_resources(
        (path.name, Resource.from_contents(json.loads(path.read_text()))) for path in SPEC_SCHEMAS
    )


def _layer_properties(document: str, pointer: str, seen: set[str]) -> Iterator[str]:
    """JSON pointers (`doc#/...`) of every property a merge layer may set, following objects and $refs
    (not list items: a list replaces whole, so a null inside one is not a merge directive)."""
    schemas = {path.name: json.loads(path.read_text()) for path in SPEC_SCHEMAS}
    node: Any = schemas[document]
    for part in pointer.strip("/").split("/") if pointer.strip("/") else ():
        node = node[part]
    for branch in [node, *node.get("anyOf", [])]:
        if "$ref" in branch:
            target_doc, _, target = branch["$ref"].partition("#")
            key = f"{target_doc or document}#{target}"
            if key not in seen:
                seen.add(key)
                yield from _layer_properties(target_doc or document, target, seen)
    for name in node.get("properties", {}):
        if name != "$schema":
            yield f"{document}#{pointer}/properties/{name}"
            yield from _layer_properties(document, f"{pointer}/properties/{name}", seen)
    if isinstance(node.get("additionalProperties"), dict):
        yield f"{document}#{pointer}/additionalProperties"


def test_null_is_valid_wherever_a_layer_may_remove_a_value() -> None:
    """The merge rule lets every layer remove a value with an explicit null: an editor checking a file
    against the schema must accept it (the README's prod example has `replicas: null`, `steps: null`)."""
    seen: set[str] = set()
    pointers = [
        *_layer_properties("service.schema.json", "/$defs/service", seen),
        *_layer_properties("environment.schema.json", "/properties/tsb", seen),
        *_layer_properties("environment.schema.json", "/properties/argocd", seen),
    ]
    assert len(pointers) > 80
    registry = _registry()
    rejected = [
        pointer
        for pointer in dict.fromkeys(pointers)
        if not jsonschema.Draft202012Validator({"$ref": pointer}, registry=registry).is_valid(None)
    ]
    assert rejected == []
