"""scripts/k8s2schema.py: the conversion on a tiny OpenAPI document, and the committed core schemas being
what it writes (same form, the same kinds)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from jsonschema import Draft4Validator

ROOT = Path(__file__).resolve().parent.parent.parent
SCHEMAS = ROOT / "schemas" / "kubernetes"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("k8s2schema", ROOT / "scripts" / "k8s2schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


k8s2schema = _load_script()

META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
TINY: dict[str, Any] = {
    "io.k8s.api.demo.v1.Thing": {
        "description": "A thing.",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"$ref": f"#/definitions/{META}", "description": "goes away with the $ref"},
            "spec": {
                "properties": {
                    "port": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"},
                    "replicas": {"format": "int32", "type": "integer"},
                    "cpu": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"},
                    "names": {"items": {"type": "string"}, "type": "array"},
                },
                "required": ["replicas"],
                "type": "object",
            },
        },
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": "demo", "kind": "Thing", "version": "v1"}],
    },
    META: {"description": "ObjectMeta.", "properties": {"name": {"type": "string"}}, "type": "object"},
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"format": "int-or-string", "type": "string"},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
}


def test_conversion_of_a_tiny_document() -> None:
    schema = k8s2schema.make_schema(TINY, "io.k8s.api.demo.v1.Thing")
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["apiVersion"] == {"type": ["string", "null"], "enum": ["demo/v1"]}
    assert props["kind"] == {"type": ["string", "null"], "enum": ["Thing"]}
    assert props["metadata"] == {
        "description": "ObjectMeta.",
        "properties": {"name": {"type": ["string", "null"]}},
        "type": ["object", "null"],
        "additionalProperties": False,
    }
    spec = props["spec"]["properties"]
    assert spec["port"] == {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    assert spec["cpu"] == {"oneOf": [{"type": "string"}, {"type": "number"}]}
    assert spec["replicas"] == {"format": "int32", "type": "integer"}  # required: no null
    assert spec["names"] == {"items": {"type": ["string", "null"]}, "type": ["array", "null"]}
    assert TINY[META]["properties"]["name"] == {"type": "string"}  # the input is left alone
    validator = Draft4Validator(schema)
    ok = {"apiVersion": "demo/v1", "kind": "Thing", "metadata": {"name": "x", "creationTimestamp": None}}
    assert [e.message for e in validator.iter_errors(ok)] == [
        "Additional properties are not allowed ('creationTimestamp' was unexpected)"
    ]
    assert validator.is_valid({"spec": {"replicas": 1, "port": "http", "cpu": 0.5}})
    assert not validator.is_valid({"spec": {"replicas": None}})


def test_committed_core_schemas_are_the_scripts_form() -> None:
    """Every file of KINDS exists, is written as render_json writes it, and names its own kind."""
    for name, relative in k8s2schema.KINDS.items():
        path = SCHEMAS / relative
        text = path.read_text(encoding="utf-8")
        schema = json.loads(text)
        assert k8s2schema.render_json(schema) == text, relative
        (gvk,) = schema["x-kubernetes-group-version-kind"]
        assert gvk["kind"] == name.rsplit(".", 1)[1]
        group = gvk["group"] or gvk["version"]
        assert relative == f"{group}/{gvk['kind'].lower()}_{gvk['version']}.json"
        assert "$ref" not in text  # stand-alone: nothing to fetch


def test_check_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = tmp_path / "swagger.json"
    document.write_text(json.dumps({"definitions": TINY}), encoding="utf-8")
    out = tmp_path / "out"
    kinds = {"io.k8s.api.demo.v1.Thing": "demo/thing_v1.json"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(k8s2schema, "KINDS", kinds)
        assert k8s2schema.main([str(document), "--out", str(out), "--check"]) == 1
        assert not out.exists()
        assert k8s2schema.main([str(document), "--out", str(out)]) == 0
        assert k8s2schema.main([str(document), "--out", str(out), "--check"]) == 0
    assert "out of date: demo/thing_v1.json" in capsys.readouterr().out
