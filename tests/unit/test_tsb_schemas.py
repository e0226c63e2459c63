"""The hand-written TSB schemas (schemas/kubernetes/*tetrate.io/): they accept every field the TSB API has, still
reject typos, wrong types and bad enum values, and name a source for each field (schemas/kubernetes/TSB-SOURCES.md).

Each check runs through the builtin validator and, when it is there, the real kubeconform v0.7.0 (the reference
binary in ../shared/tools/bin, or on PATH).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from generator.validate import BuiltinValidator, KubeconformValidator, load_manifests, load_text

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas" / "kubernetes"
SOURCES = SCHEMAS / "TSB-SOURCES.md"
DEMO_TSB = ROOT / "tests" / "fixtures" / "demo" / "argo" / "tsb" / "conf.yaml"
TSB_FILES = sorted(p for p in SCHEMAS.rglob("*.json") if p.parent.name.endswith("tetrate.io"))


def _kubeconform() -> str | None:
    shipped = ROOT.parent / "shared" / "tools" / "bin" / "kubeconform"
    return str(shipped) if shipped.is_file() else shutil.which("kubeconform")


KUBECONFORM = _kubeconform()
needs_kubeconform = pytest.mark.skipif(
    KUBECONFORM is None, reason="kubeconform v0.7.0 is neither in ../shared/tools/bin nor on PATH"
)

ANNOTATIONS = """\
  annotations:
    tsb.tetrate.io/organization: tetrate
    tsb.tetrate.io/tenant: dev
    tsb.tetrate.io/workspace: bookinfo-ws
"""

# One object per kind with every field the schema knows. Values follow the upstream examples where there is
# one: the Tenant of terraform-provider-tsb@66dbc5b examples/resources/tsb_tenant/resource.tf, the Workspace
# of docs.tetrate.io refs/tsb/v2/workspace (`c1/ns1`, `c2/*`) with the `profiles` of
# tetratelabs/tetrate-service-bridge-sandbox (a Workspace attaching a workspace Profile), the Groups of
# docs.tetrate.io refs/tsb/traffic/v2/traffic_group (`*/ns1`, `configMode: BRIDGED`).
FULL: dict[str, str] = {
    "Tenant": """\
apiVersion: tsb.tetrate.io/v2
kind: Tenant
metadata:
  name: tenantone
  annotations:
    tsb.tetrate.io/organization: tetrate
spec:
  displayName: Tenant One
  description: I'm a tenant
  securityDomain: organizations/tetrate/securitydomains/production
  deletionProtectionEnabled: true
  profiles:
  - organizations/tetrate/profiles/mtls-required
  configGenerationMetadata:
    labels:
      team: one
    annotations:
      my.org.environment: dev
  fqn: organizations/tetrate/tenants/tenantone
  etag: '"abc123"'
""",
    "Workspace": """\
apiVersion: tsb.tetrate.io/v2
kind: Workspace
metadata:
  name: bookinfo-ws
  annotations:
    tsb.tetrate.io/organization: tetrate
    tsb.tetrate.io/tenant: dev
spec:
  displayName: bookinfo-ws
  description: the bookinfo namespaces
  namespaceSelector:
    names:
    - c1/ns1
    - c2/*
    - '*/bookinfo'
    - c1/ns-*
  privileged: false
  isolationBoundary: global
  securityDomain: organizations/tetrate/securitydomains/dev
  deletionProtectionEnabled: false
  profiles:
  - organizations/tetrate/tenants/dev/workspaces/bookinfo-ws/profiles/jwt-required-defaults
  configGenerationMetadata:
    annotations:
      my.org.environment: dev
  fqn: organizations/tetrate/tenants/dev/workspaces/bookinfo-ws
  etag: '"abc123"'
""",
    "traffic.Group": f"""\
apiVersion: traffic.tsb.tetrate.io/v2
kind: Group
metadata:
  name: t1
{ANNOTATIONS}spec:
  displayName: t1
  description: resilience settings
  namespaceSelector:
    names: ['*/ns1', '*/ns2', '*/ns3']
  configMode: BRIDGED
  deletionProtectionEnabled: true
  profiles: [organizations/tetrate/profiles/defaults]
  configGenerationMetadata:
    labels: {{team: t1}}
  fqn: organizations/tetrate/tenants/dev/workspaces/bookinfo-ws/trafficgroups/t1
  etag: x
""",
    "security.Group": f"""\
apiVersion: security.tsb.tetrate.io/v2
kind: Group
metadata:
  name: s1
{ANNOTATIONS}spec:
  displayName: s1
  description: mesh policies
  namespaceSelector:
    names: ['*/ns1']
  configMode: DIRECT
  securityDomain: organizations/tetrate/securitydomains/dev
  deletionProtectionEnabled: false
  profiles: []
  configGenerationMetadata: {{}}
  fqn: organizations/tetrate/tenants/dev/workspaces/bookinfo-ws/securitygroups/s1
  etag: x
""",
    "gateway.Group": f"""\
apiVersion: gateway.tsb.tetrate.io/v2
kind: Group
metadata:
  name: g1
{ANNOTATIONS}spec:
  displayName: g1
  description: ingress
  namespaceSelector:
    names: ['*/*']
  configMode: BRIDGED
  deletionProtectionEnabled: false
  profiles: [organizations/tetrate/profiles/gateway-defaults]
  configGenerationMetadata:
    annotations: {{a: b}}
  fqn: organizations/tetrate/tenants/dev/workspaces/bookinfo-ws/gatewaygroups/g1
  etag: x
""",
    "istiointernal.Group": f"""\
apiVersion: istiointernal.tsb.tetrate.io/v2
kind: Group
metadata:
  name: httpbin-internal-gp
{ANNOTATIONS}spec:
  displayName: httpbin-internal-gp
  description: ServiceEntry for httpbin.org
  namespaceSelector:
    names: [gke-jimmy-us-west1-1/httpbin]
  deletionProtectionEnabled: false
  configGenerationMetadata:
    labels: {{a: b}}
  fqn: organizations/tetrate/tenants/dev/workspaces/bookinfo-ws/istiointernalgroups/httpbin-internal-gp
  etag: x
""",
    # docs.tetrate.io howto "cluster external addresses" (IngressGateway install CR): the spec is left open, so
    # the fields this schema does not type (deployment, ports, ...) pass.
    "IngressGateway": """\
apiVersion: install.tetrate.io/v1alpha1
kind: IngressGateway
metadata:
  name: bookinfo
  namespace: bookinfo
spec:
  kubeSpec:
    deployment:
      hpaSpec:
        minReplicas: 1
      replicaCount: 1
    service:
      annotations:
        xcp.tetrate.io/cluster-external-addresses: 10.10.10.10,20.20.20.20
      ports:
      - name: http2
        port: 80
        targetPort: 8080
      type: NodePort
""",
}


def objects_of(text: str) -> list[Any]:
    return load_text(text, "tsb.yaml")


def builtin_fields(builtin: BuiltinValidator, text: str) -> list[tuple[str, str]]:
    return [(f.location.field, f.message) for f in builtin.validate_objects(objects_of(text))]


@pytest.fixture(scope="module")
def builtin() -> BuiltinValidator:
    return BuiltinValidator()


@pytest.fixture(scope="module")
def kubeconform() -> KubeconformValidator:
    assert KUBECONFORM is not None
    return KubeconformValidator(KUBECONFORM, timeout=60)


def test_every_tsb_kind_has_a_full_example() -> None:
    kinds = set()
    for path in TSB_FILES:
        gvk = json.loads(path.read_text(encoding="utf-8"))["x-kubernetes-group-version-kind"][0]
        kinds.add(gvk["kind"] if gvk["kind"] != "Group" else gvk["group"].split(".")[0] + ".Group")
    assert kinds == set(FULL)


@pytest.mark.parametrize("kind", sorted(FULL))
def test_full_example_uses_every_spec_field_and_is_valid(builtin: BuiltinValidator, kind: str) -> None:
    (obj,) = objects_of(FULL[kind])
    schema = builtin.store.validator(obj.obj["apiVersion"], obj.obj["kind"])
    assert schema is not None
    spec_schema = schema.schema["properties"]["spec"]
    if spec_schema.get("additionalProperties") is False:  # closed: the example sets every field
        assert set(obj.obj["spec"]) == set(spec_schema["properties"]), kind
    assert builtin.validate_objects([obj]) == []


@needs_kubeconform
@pytest.mark.parametrize("kind", sorted(FULL))
def test_full_example_is_valid_for_kubeconform(kubeconform: KubeconformValidator, kind: str) -> None:
    assert kubeconform.validate_objects(objects_of(FULL[kind])) == []


def test_demo_tsb_objects_are_valid(builtin: BuiltinValidator) -> None:
    objects = load_manifests([DEMO_TSB])
    tsb = [o for o in objects if "tetrate.io" in o.obj["apiVersion"]]
    assert len(tsb) == 6  # Tenant, Workspace, 3 Groups, IngressGateway
    assert builtin.validate_objects(objects) == []


@needs_kubeconform
def test_demo_tsb_objects_are_valid_for_kubeconform(kubeconform: KubeconformValidator) -> None:
    assert kubeconform.validate_paths([DEMO_TSB]) == []


# (kind, replace this, with that, expected (field, message) findings of the builtin validator)
BAD: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    ("Tenant", "  profiles:", "  profile:", [("spec.profile", "unknown field")]),
    (
        "Tenant",
        "deletionProtectionEnabled: true",
        "deletionProtectionEnabled: 'true'",
        [("spec.deletionProtectionEnabled", "expected boolean, got string")],
    ),
    (
        "Tenant",
        "  - organizations/tetrate/profiles/mtls-required",
        "    organizations/tetrate/profiles/x",
        [("spec.profiles", "expected array, got string")],
    ),
    (
        "Tenant",
        "      team: one",
        "      team: 1",
        [("spec.configGenerationMetadata.labels.team", "expected string")],
    ),
    ("Tenant", "    labels:", "    label:", [("spec.configGenerationMetadata.label", "unknown field")]),
    (
        "Workspace",
        "  namespaceSelector:",
        "  namespaceSelecter:",
        [
            ("spec.namespaceSelector", 'missing required field "namespaceSelector"'),
            (
                "spec.namespaceSelecter",
                'unknown field "namespaceSelecter" (did you mean "namespaceSelector"?)',
            ),
        ],
    ),
    (
        "Workspace",
        "privileged: false",
        "privileged: {value: true}",
        [("spec.privileged", "expected boolean, got object")],
    ),
    (
        "Workspace",
        "    - c2/*",
        "    - c2",
        [("spec.namespaceSelector.names[1]", "does not match the pattern")],
    ),
    (
        "Workspace",
        "isolationBoundary: global",
        "isolationBoundary: [global]",
        [("spec.isolationBoundary", "expected string, got array")],
    ),
    (
        "traffic.Group",
        "configMode: BRIDGED",
        "configMode: HYBRID",
        [("spec.configMode", 'expected one of "BRIDGED", "DIRECT"; got "HYBRID"')],
    ),
    (
        "traffic.Group",
        "  description:",
        "  securityDomain: x\n  description:",
        [("spec.securityDomain", "unknown field")],
    ),  # only security groups have one
    (
        "security.Group",
        "    names: ['*/ns1']",
        "    names: []",
        [("spec.namespaceSelector.names", "expected at least 1 item(s), got 0")],
    ),
    ("gateway.Group", "configMode: BRIDGED", "configmode: BRIDGED", [("spec.configmode", "unknown field")]),
    (
        "istiointernal.Group",
        "  description:",
        "  configMode: DIRECT\n  description:",
        [("spec.configMode", "unknown field")],
    ),  # DIRECT-only: the message has no configMode
    (
        "IngressGateway",
        "type: NodePort",
        "type: LoadBalancr",
        [("spec.kubeSpec.service.type", "expected one of")],
    ),
    (
        "IngressGateway",
        "  kubeSpec:",
        "  kubeSpec: LoadBalancer\n  kubeSpecOld:",
        [("spec.kubeSpec", "expected object, got string")],
    ),
]


def _check_bad(found: list[tuple[str, str]], expected: list[tuple[str, str]]) -> None:
    assert [field for field, _ in found] == [field for field, _ in expected]
    for (_, message), (_, part) in zip(found, expected, strict=True):
        assert part in message


@pytest.mark.parametrize(("kind", "old", "new", "expected"), BAD, ids=[f"{b[0]}:{b[2][:24]}" for b in BAD])
def test_mistakes_are_rejected(
    builtin: BuiltinValidator, kind: str, old: str, new: str, expected: list[tuple[str, str]]
) -> None:
    assert old in FULL[kind]
    _check_bad(builtin_fields(builtin, FULL[kind].replace(old, new, 1)), expected)


@needs_kubeconform
@pytest.mark.parametrize(("kind", "old", "new", "expected"), BAD, ids=[f"{b[0]}:{b[2][:24]}" for b in BAD])
def test_mistakes_are_rejected_by_kubeconform(
    kubeconform: KubeconformValidator,
    builtin: BuiltinValidator,
    kind: str,
    old: str,
    new: str,
    expected: list[tuple[str, str]],
) -> None:
    """The real kubeconform finds the same problems, at the same field and line (its own wording)."""
    objects = objects_of(FULL[kind].replace(old, new, 1))
    theirs = [(f.location.field, f.location.line) for f in kubeconform.validate_objects(objects)]
    ours = [(f.location.field, f.location.line) for f in builtin.validate_objects(objects)]
    assert [field for field, _ in theirs] == [field for field, _ in expected]
    assert theirs == ours


@pytest.mark.parametrize("value", ["x", "7", "{a: 1}", "[1, 2]"])
def test_fqn_and_etag_are_left_open(builtin: BuiltinValidator, value: str) -> None:
    """Fields of the proto message whose JSON type no source publishes: any value, never a guessed shape."""
    text = (
        FULL["Tenant"]
        .replace("  etag: '\"abc123\"'", f"  etag: {value}")
        .replace("  fqn: organizations/tetrate/tenants/tenantone", f"  fqn: {value}")
    )
    assert builtin.validate_objects(objects_of(text)) == []


def test_minimal_objects_are_valid(builtin: BuiltinValidator) -> None:
    """What the docs show as minimal: a Tenant without spec, `spec: {}` for an IngressGateway."""
    text = (
        "apiVersion: tsb.tetrate.io/v2\nkind: Tenant\nmetadata:\n  name: mycompany\n---\n"
        "apiVersion: install.tetrate.io/v1alpha1\nkind: IngressGateway\nmetadata:\n  name: bookinfo\n"
        "  namespace: bookinfo\nspec: {}\n"
    )
    assert builtin.validate_objects(objects_of(text)) == []


# ---- every field names its source -------------------------------------------------------------------


def spec_fields(schema: Mapping[str, Any], prefix: str = "spec") -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield prefix, schema
    for name, sub in sorted(schema.get("properties", {}).items()):
        yield from spec_fields(sub, f"{prefix}.{name}")
    items = schema.get("items")
    if isinstance(items, Mapping) and "properties" in items:
        yield from spec_fields(items, f"{prefix}[]")


def kind_label(schema: Mapping[str, Any]) -> str:
    gvk = schema["x-kubernetes-group-version-kind"][0]
    return f"{gvk['group']}/{gvk['version']} {gvk['kind']}"


def test_every_field_has_a_source_and_a_row_in_tsb_sources() -> None:
    rows = set()
    for line in SOURCES.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[1].startswith("`spec"):
            rows.add((cells[0], cells[1].strip("`")))
    expected = set()
    for path in TSB_FILES:
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert "Version described:" in schema["x-gitops-gen-source"], path
        for field, sub in spec_fields(schema["properties"]["spec"]):
            assert sub.get("x-gitops-gen-source"), f"{path.name}: {field} has no source"
            expected.add((kind_label(schema), field))
    assert rows == expected


def test_sources_are_cited_as_urls_or_pinned_repositories() -> None:
    for path in TSB_FILES:
        schema = json.loads(path.read_text(encoding="utf-8"))
        for field, sub in spec_fields(schema["properties"]["spec"]):
            source = sub["x-gitops-gen-source"]
            assert re.search(r"https://\S+|github\.com/[\w.-]+/[\w.-]+@[0-9a-f]{7}", source), (path, field)
