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
    root = Path(__file__).resolve().parents[2]
    lines = [line for line in (root / "services" / "reviews.yaml").read_text().splitlines() if line.strip()]
    assert 20 <= len(lines) <= 30
