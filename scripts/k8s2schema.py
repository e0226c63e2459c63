#!/usr/bin/env python3
"""Make the core Kubernetes schemas (schemas/kubernetes/{v1,apps,autoscaling,policy}/) from the
OpenAPI v2 document of one Kubernetes release (`api/openapi-spec/swagger.json`; a `_definitions.json`
of github.com/yannh/kubernetes-json-schema, which is that document's `definitions`, works too).

    python scripts/k8s2schema.py SWAGGER.json          # (re)write the files of KINDS
    python scripts/k8s2schema.py SWAGGER.json --check  # exit 1 if a committed file differs

Nothing here downloads: the document is a file (schemas/kubernetes/CORE-SOURCES.md says where to get
it). The files are what yannh/kubernetes-json-schema publishes as `<version>-standalone-strict/
<kind>-<group>-<version>.json` (kubeconform's default schema source), made the way its openapi2jsonschema
run (`--expanded --kubernetes --stand-alone --strict`) makes them:
* `IntOrString` becomes `oneOf: [string, integer]`, `Quantity` `oneOf: [string, number]` (tools take
  `cpu: 1`, the API server too);
* `apiVersion` and `kind` get a one-element `enum` from `x-kubernetes-group-version-kind`;
* every `$ref` is replaced by the definition it names (the `$ref`'s own `description` goes with it);
* every object with `properties` is closed (`additionalProperties: false`), the root too;
* a field that its object does not require also admits `null` (`type: [T, "null"]`), as kubeconform's
  files do, so `creationTimestamp: null` from `kubectl ... -o yaml` passes.
Differences, on purpose: `$schema` is draft-04 (the published files say `http://json-schema.org/schema#`,
which jsonschema does not know; kubeconform compiles both as draft 4), and keys are sorted, so that a
rerun over the same document writes the same bytes.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "schemas" / "kubernetes"
DRAFT4 = "http://json-schema.org/draft-04/schema#"
PREFIX = "#/definitions/"

# definition -> its file under schemas/kubernetes/, in kubeconform's layout
# ({{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json; core v1's Group is "v1")
KINDS = {
    "io.k8s.api.core.v1.Namespace": "v1/namespace_v1.json",
    "io.k8s.api.core.v1.Service": "v1/service_v1.json",
    "io.k8s.api.core.v1.ServiceAccount": "v1/serviceaccount_v1.json",
    "io.k8s.api.core.v1.ConfigMap": "v1/configmap_v1.json",
    "io.k8s.api.core.v1.Secret": "v1/secret_v1.json",
    "io.k8s.api.apps.v1.Deployment": "apps/deployment_v1.json",
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler": "autoscaling/horizontalpodautoscaler_v2.json",
    "io.k8s.api.policy.v1.PodDisruptionBudget": "policy/poddisruptionbudget_v1.json",
}

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def prepare(definitions: dict[str, Any]) -> dict[str, Any]:
    """openapi2jsonschema's --kubernetes --expanded changes to the shared definitions."""
    defs = copy.deepcopy(definitions)
    defs[INT_OR_STRING] = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    defs[QUANTITY] = {"oneOf": [{"type": "string"}, {"type": "number"}]}
    for definition in defs.values():
        properties = definition.get("properties", {})
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            for name, value in (("apiVersion", api_version), ("kind", gvk["kind"])):
                if name in properties:
                    enum = properties[name].setdefault("enum", [])
                    if value not in enum:
                        enum.append(value)
    return defs


def inline(node: Any, defs: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Every `$ref` replaced by a copy of its definition (jsonref's replace_refs, made plain)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.removeprefix(PREFIX)
            if name in seen:  # JSONSchemaProps only; none of KINDS reaches it
                raise ValueError(f"recursive $ref {ref} under {' > '.join(seen)}")
            return inline(defs[name], defs, (*seen, name))
        return {key: inline(value, defs, seen) for key, value in node.items()}
    if isinstance(node, list):
        return [inline(item, defs, seen) for item in node]
    return node


def _nullable(schema: dict[str, Any]) -> None:
    kind = schema.get("type")
    if isinstance(kind, str) and kind != "null":
        schema["type"] = [kind, "null"]


def strict(node: Any, optional: bool = False) -> Any:
    """Close every object with `properties`; an optional field's, an item's or a map value's `type` also
    admits null (kubeconform's files: openapi2jsonschema's additional_properties and
    allow_null_optional_fields)."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = dict(node)
    if "properties" in out:
        out.setdefault("additionalProperties", False)
        required = set(out.get("required", []))
        out["properties"] = {
            name: strict(value, optional=name not in required) for name, value in out["properties"].items()
        }
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = strict(out[key], optional=True)
    for key in ("oneOf", "anyOf", "allOf"):
        if isinstance(out.get(key), list):
            out[key] = strict(out[key])
    if optional:
        _nullable(out)
    return out


def make_schema(definitions: dict[str, Any], name: str) -> dict[str, Any]:
    defs = prepare(definitions)
    schema = strict(inline(defs[name], defs))
    schema.setdefault("type", "object")
    schema["$schema"] = DRAFT4
    return schema


def render_json(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def load_definitions(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    definitions = document.get("definitions")
    if not isinstance(definitions, dict):
        raise SystemExit(f"{path}: no `definitions` (expected a swagger.json or a _definitions.json)")
    return definitions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("swagger", type=Path, help="swagger.json (or _definitions.json) of one release")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs")
    args = parser.parse_args(argv)
    definitions = load_definitions(args.swagger)
    stale = []
    for name, relative in KINDS.items():
        text = render_json(make_schema(definitions, name))
        path = args.out / relative
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(relative)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for relative in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {relative}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
