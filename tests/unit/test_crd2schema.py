"""scripts/crd2schema.py: the conversion on a tiny CRD, and the committed schemas being up to date."""

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
    spec = importlib.util.spec_from_file_location("crd2schema", ROOT / "scripts" / "crd2schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


crd2schema = _load_script()

TINY_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.io
spec:
  group: example.io
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            required: [size]
            properties:
              size:
                anyOf: [{type: integer}, {type: string}]
                x-kubernetes-int-or-string: true
              legacy: {format: int-or-string}
              labels:
                type: object
                additionalProperties: {type: string}
              free:
                type: object
                x-kubernetes-preserve-unknown-fields: true
                properties:
                  known: {type: string}
              ratio: {type: number, nullable: true}
              parts:
                type: array
                items:
                  type: object
                  properties:
                    name: {type: string}
              choice:
                type: object
                properties:
                  a: {type: string}
                  b: {type: string}
                oneOf:
                - properties: {a: {type: string}}
                  required: [a]
                - required: [b]
  - name: v2
    served: true
    storage: false
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
"""


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    crds = tmp_path_factory.mktemp("crds")
    (crds / "widget-crd.yaml").write_text(TINY_CRD, encoding="utf-8")
    return {name: json.loads(text) for name, text in crd2schema.generate(crds).items()}


def test_one_file_per_version_with_a_schema(converted: dict[str, dict[str, Any]]) -> None:
    assert sorted(converted) == ["example.io/widget_v1.json", "example.io/widget_v1beta1.json"]


def test_root_is_closed_and_pinned(converted: dict[str, dict[str, Any]]) -> None:
    schema = converted["example.io/widget_v1.json"]
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["apiVersion", "kind", "metadata"]
    assert schema["properties"]["apiVersion"] == {"type": "string", "enum": ["example.io/v1"]}
    assert schema["properties"]["kind"] == {"type": "string", "enum": ["Widget"]}
    assert schema["properties"]["metadata"]["additionalProperties"] is True
    assert schema["properties"]["metadata"]["required"] == ["name"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "example.io", "kind": "Widget", "version": "v1"}
    ]
    assert schema["x-gitops-gen-source"].startswith(crd2schema.GENERATED_MARK)
    assert "widget-crd.yaml" in schema["x-gitops-gen-source"]
    Draft4Validator.check_schema(schema)


def test_nested_objects_closed_except_preserve_unknown_and_branches(
    converted: dict[str, dict[str, Any]],
) -> None:
    spec = converted["example.io/widget_v1.json"]["properties"]["spec"]
    assert spec["additionalProperties"] is False
    props = spec["properties"]
    assert props["labels"]["additionalProperties"] == {"type": "string"}  # a map stays a map
    assert "additionalProperties" not in props["free"]  # x-kubernetes-preserve-unknown-fields stays open
    assert props["parts"]["items"]["additionalProperties"] is False
    assert props["choice"]["additionalProperties"] is False
    assert "additionalProperties" not in props["choice"]["oneOf"][0]  # a oneOf branch names only some fields


def test_int_or_string_and_nullable(converted: dict[str, dict[str, Any]]) -> None:
    props = converted["example.io/widget_v1.json"]["properties"]["spec"]["properties"]
    expected = [{"type": "string"}, {"type": "integer"}]
    assert props["size"] == {"oneOf": expected, "x-kubernetes-int-or-string": True}
    assert props["legacy"] == {"oneOf": expected}
    assert props["ratio"]["type"] == ["number", "null"]


def test_converted_schema_validates_as_intended(converted: dict[str, dict[str, Any]]) -> None:
    validator = Draft4Validator(converted["example.io/widget_v1.json"])
    good = {
        "apiVersion": "example.io/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "uid": "anything goes here"},
        "spec": {"size": "10Gi", "free": {"known": "k", "unknown": 1}, "ratio": None, "choice": {"b": "x"}},
    }
    assert list(validator.iter_errors(good)) == []
    bad = dict(good, apiVersion="example.io/v2", extra=1, spec={"size": True, "sise": 1})
    messages = sorted(e.validator for e in validator.iter_errors(bad))
    assert messages == ["additionalProperties", "additionalProperties", "enum", "oneOf"]


def test_output_is_deterministic_and_idempotent(tmp_path: Path) -> None:
    crds = tmp_path / "crds"
    crds.mkdir()
    (crds / "widget-crd.yaml").write_text(TINY_CRD, encoding="utf-8")
    out = tmp_path / "out"
    (out / "hand").mkdir(parents=True)
    (out / "hand" / "thing_v1.json").write_text('{"x-gitops-gen-source": "hand-written"}\n')
    stale = out / "example.io" / "gadget_v1.json"
    stale.parent.mkdir()
    stale.write_text(json.dumps({"x-gitops-gen-source": crd2schema.GENERATED_MARK + " from x"}))
    args = ["--crds", str(crds), "--out", str(out)]
    assert crd2schema.main([*args, "--check"]) == 1
    assert crd2schema.main(args) == 0
    first = {p: p.read_bytes() for p in sorted(out.rglob("*.json"))}
    assert (
        not stale.exists() and (out / "hand" / "thing_v1.json").exists()
    )  # stale removed, hand-written kept
    text = (out / "example.io" / "widget_v1.json").read_text()
    assert text.endswith("}\n") and text.startswith('{\n  "$schema"')  # sorted keys, indent 2
    assert crd2schema.main([*args, "--check"]) == 0
    assert crd2schema.main(args) == 0
    assert {p: p.read_bytes() for p in sorted(out.rglob("*.json"))} == first


def test_committed_schemas_are_up_to_date_with_committed_crds() -> None:
    """`python scripts/crd2schema.py` (make schemas) would change nothing."""
    expected = crd2schema.generate(ROOT / "schemas" / "crds")
    assert len(expected) == 12
    for relative, text in expected.items():
        committed = SCHEMAS / relative
        assert committed.is_file(), f"{relative} missing: run `python scripts/crd2schema.py`"
        assert committed.read_text(encoding="utf-8") == text, f"{relative} out of date: run the script"
    assert set(crd2schema.generated_files(SCHEMAS)) == set(expected), "stale generated schemas"


def test_every_shipped_schema_is_valid_draft4_with_a_source_note() -> None:
    files = sorted(SCHEMAS.rglob("*.json"))
    tsb = {p.relative_to(SCHEMAS).as_posix() for p in files if "tetrate.io" in p.parent.name}
    assert tsb == {
        "tsb.tetrate.io/tenant_v2.json",
        "tsb.tetrate.io/workspace_v2.json",
        "traffic.tsb.tetrate.io/group_v2.json",
        "security.tsb.tetrate.io/group_v2.json",
        "gateway.tsb.tetrate.io/group_v2.json",
        "istiointernal.tsb.tetrate.io/group_v2.json",
        "install.tetrate.io/ingressgateway_v1alpha1.json",
    }
    for path in files:
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft4Validator.check_schema(schema)
        assert schema["$schema"] == "http://json-schema.org/draft-04/schema#", path
        assert schema.get("x-gitops-gen-source"), path
        if "tetrate.io" in path.parent.name:
            assert schema["description"].startswith("Hand-written from TSB API reference facts"), path
