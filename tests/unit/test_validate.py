"""generator/validate.py: loading manifests with positions, the builtin validator, kubeconform (recorded
output, fake binaries for the failure modes, the real one when installed)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from generator.errors import Finding, InputError, ToolError
from generator.validate import (
    BuiltinValidator,
    KubeconformError,
    KubeconformOutputError,
    KubeconformValidator,
    LoadedObject,
    default_schema_dir,
    load_manifests,
    load_text,
    make_validator,
    parse_kubeconform_output,
)

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
DEMO = FIXTURES / "demo"
RECORDED = FIXTURES / "kubeconform"
# The input of the recorded reports, by the absolute name gitops-gen gives kubeconform.
RECORDED_NAME = str(RECORDED / "manifests.yaml")

ROLLOUT = (DEMO / "argo" / "rollout" / "rollout.yaml").read_text(encoding="utf-8")
CONF = (DEMO / "argo" / "tsb" / "conf.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def builtin() -> BuiltinValidator:
    return BuiltinValidator()


def validate_text(validator: BuiltinValidator, text: str, name: str = "m.yaml") -> list[Finding]:
    return validator.validate_objects(load_text(text, name))


def line_of(text: str, needle: str) -> int:
    """1-based line of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def summary(findings: list[Finding]) -> list[tuple[str, str, int, str]]:
    return [(f.rule, f.location.field, f.location.line, f.obj) for f in findings]


def fake_kubeconform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, shell: bool = False
) -> Path:
    """A `kubeconform` first on PATH: a shell script, or a Python one (run by this interpreter)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / "kubeconform"
    exe.write_text(f"#!{'/bin/sh' if shell else sys.executable}\n{script}", encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return exe


# ---- loading ----------------------------------------------------------------------------------------


def test_load_manifests_expands_lists_and_records_lines() -> None:
    objects = load_manifests([DEMO / "argo"])
    assert len(objects) == 17
    assert [o.label for o in objects[:2]] == ["AnalysisTemplate/apdex", "Rollout/reviews-rollout"]
    tenant = next(o for o in objects if o.obj["kind"] == "Tenant")
    assert tenant.path == str(DEMO / "argo" / "tsb" / "conf.yaml")
    assert tenant.line == line_of(CONF, "kind: Tenant") - 1  # the item starts at its `- apiVersion:` line
    assert tenant.node is not None
    assert all(isinstance(o.obj, dict) and "items" not in o.obj for o in objects)


def test_load_manifests_walks_folders_sorted_and_skips_other_files(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "two.yml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\n")
    (tmp_path / "a.yaml").write_text("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n---\n")
    (tmp_path / "notes.txt").write_text("kind: nothing")
    assert [o.label for o in load_manifests([tmp_path])] == ["ConfigMap/one", "ConfigMap/two"]


def test_yaml_syntax_error_is_an_input_error_with_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n")
    with pytest.raises(InputError) as caught:
        load_manifests([bad])
    assert caught.value.exit_code == 2
    (problem,) = caught.value.problems
    assert problem.location.path == str(bad)
    assert problem.location.line >= 4 and problem.location.column > 0
    assert "YAML syntax error" in problem.message


def test_duplicate_key_and_non_object_documents_are_input_errors() -> None:
    with pytest.raises(InputError, match="a key may appear only once"):
        load_text("kind: A\nkind: B\n", "dup.yaml")
    with pytest.raises(InputError, match="expected a Kubernetes object, found a list"):
        load_text("- a\n- b\n", "list.yaml")


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        load_manifests([tmp_path / "nope.yaml"])


def test_manifests_are_read_as_kubernetes_reads_them() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
        "data: {a: on, b: 'on', c: 1:20, d: 0123, e: 2024-01-01}\n"
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: d}\ndata: {a: yes}\n"
    )
    first, second = load_text(text, "m.yaml")
    assert first.obj["data"] == {"a": True, "b": "on", "c": "1:20", "d": 83, "e": "2024-01-01"}
    assert second.obj["data"] == {"a": True}  # YAML 1.1 in every document, not only the first


# ---- the builtin validator --------------------------------------------------------------------------


def test_demo_fixtures_are_clean(builtin: BuiltinValidator) -> None:
    objects = load_manifests([DEMO])
    assert len(objects) == 30  # 17 under argo/, 13 plain Kubernetes objects under application/
    assert builtin.validate_objects(objects) == []


def test_unknown_field_in_rollout_with_did_you_mean(builtin: BuiltinValidator) -> None:
    text = ROLLOUT.replace("      steps:", "      stepz:")
    (finding,) = validate_text(builtin, text, "rollout.yaml")
    assert finding.rule == "SCHEMA" and finding.severity == "error"
    assert finding.obj == "Rollout/reviews-rollout"
    assert finding.location.field == "spec.strategy.canary.stepz"
    assert (finding.location.line, finding.location.column) == (line_of(text, "stepz:"), 7)
    assert finding.message == 'unknown field "stepz" (did you mean "steps"?)'
    assert str(finding).startswith(f"rollout.yaml:{line_of(text, 'stepz:')}:7: SCHEMA error: Rollout/")


def test_wrong_type(builtin: BuiltinValidator) -> None:
    text = ROLLOUT.replace("replicas: 5", 'replicas: "five"')
    (finding,) = validate_text(builtin, text)
    assert finding.location.field == "spec.replicas"
    assert finding.location.line == line_of(text, "replicas:")
    assert finding.message == 'expected integer, got string "five"'


def test_int_or_string_and_nested_positions(builtin: BuiltinValidator) -> None:
    text = ROLLOUT.replace("- pause: {duration: 10m}", "- pause: {duration: true}")
    (finding,) = validate_text(builtin, text)
    assert finding.location.field == "spec.strategy.canary.steps[1].pause.duration"
    assert finding.location.line == line_of(text, "duration: true")
    assert finding.message == "expected string or integer, got boolean true"


def test_unknown_top_level_key_and_misspelled_spec(builtin: BuiltinValidator) -> None:
    text = ROLLOUT.replace("\nspec:", "\nsepc:")
    findings = validate_text(builtin, text)
    assert [(f.location.field, f.message) for f in findings] == [
        ("spec", 'missing required field "spec"'),
        ("sepc", 'unknown field "sepc" (did you mean "spec"?)'),
    ]
    extra = validate_text(builtin, ROLLOUT + "replicas: 3\n")  # a spec field written at the top level
    assert [f.location.field for f in extra] == ["replicas"]
    assert "allowed: apiVersion, kind, metadata, spec, status" in extra[0].message


def test_wrong_api_version_or_kind_case(builtin: BuiltinValidator) -> None:
    text = ROLLOUT.replace("kind: Rollout", "kind: rollout")  # found (file names are lower case), then wrong
    (finding,) = validate_text(builtin, text)
    assert finding.location.field == "kind"
    assert finding.message == 'expected one of "Rollout"; got "rollout"'


def test_missing_tsb_required_fields(builtin: BuiltinValidator) -> None:
    workspace = (
        "apiVersion: tsb.tetrate.io/v2\nkind: Workspace\nmetadata:\n  name: ws\nspec:\n  displayName: ws\n"
    )
    (finding,) = validate_text(builtin, workspace)
    assert (finding.location.field, finding.message) == (
        "spec.namespaceSelector",
        'missing required field "namespaceSelector"',
    )
    assert finding.location.line == 5  # the `spec:` that lacks it
    empty = workspace + "  namespaceSelector:\n    names: []\n"
    assert [f.message for f in validate_text(builtin, empty)] == ["expected at least 1 item(s), got 0"]
    no_cluster = workspace + "  namespaceSelector:\n    names: [bookinfo]\n"
    (bad,) = validate_text(builtin, no_cluster)
    assert bad.location.field == "spec.namespaceSelector.names[0]"
    assert "does not match the pattern" in bad.message
    wildcards = workspace + "  namespaceSelector:\n    names: ['*/bookinfo', 'cp-cluster-1/ns-*']\n"
    assert validate_text(builtin, wildcards) == []


def test_tsb_group_config_mode_and_ingress_gateway_service_type(builtin: BuiltinValidator) -> None:
    text = CONF.replace("configMode: DIRECT", "configMode: direct", 1).replace(
        "type: LoadBalancer", "type: LoadBalancr"
    )
    findings = validate_text(builtin, text)
    assert [(f.obj, f.location.field) for f in findings] == [
        ("Group/bookinfo-gateway", "spec.configMode"),
        ("IngressGateway/tsb-gateway-bookinfo", "spec.kubeSpec.service.type"),
    ]
    assert findings[0].message == 'expected one of "BRIDGED", "DIRECT"; got "direct"'


def test_label_values_must_be_strings(builtin: BuiltinValidator) -> None:
    text = CONF.replace("istio.io/rev: tsb", "istio.io/rev: on", 1)  # YAML 1.1: a boolean
    (finding,) = validate_text(builtin, text)
    assert finding.location.field == "metadata.labels.istio.io/rev"
    assert finding.message == "expected string, got boolean true"


def test_istio_mutually_exclusive_fields(builtin: BuiltinValidator) -> None:
    text = CONF.replace("exact: /productpage", "exact: /productpage\n          prefix: /p")
    (finding,) = validate_text(builtin, text)
    assert finding.obj == "VirtualService/bookinfo"
    assert finding.location.field == "spec.http[0].match[0].uri"
    assert finding.message == "set at most one of: exact, prefix, regex"


def test_missing_schema_is_an_error_unless_ignored(builtin: BuiltinValidator) -> None:
    text = CONF.replace("kind: VirtualService", "kind: VirtualServce", 1)
    (finding,) = validate_text(builtin, text)
    assert finding.rule == "SCHEMA-MISSING"
    assert finding.obj == "VirtualServce/bookinfo"
    assert finding.location.line == line_of(text, "kind: VirtualServce") - 1
    assert 'did you mean apiVersion "networking.istio.io/v1alpha3" kind "VirtualService"?' in finding.message
    assert BuiltinValidator(ignore_missing=True).validate_objects(load_text(text, "m.yaml")) == []


def test_builtin_kubernetes_kinds_are_skipped_without_finding(builtin: BuiltinValidator) -> None:
    # a kind of a built-in group with no shipped schema (CronJob, a DaemonSet) is skipped as before
    nonsense = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x}\nspec: {whatever: 1}\n"
    assert validate_text(builtin, nonsense) == []
    daemonset = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: x}\nspec: {replicas: 'x'}\n"
    assert validate_text(builtin, daemonset) == []
    assert not builtin.store.has_schema("batch/v1", "CronJob")
    validator = KubeconformValidator("kubeconform")
    objects = load_text(nonsense + "---\n" + daemonset + "---\n" + NAMESPACE, "m.yaml")
    assert validator.skip_list(objects) == ["apps/v1/DaemonSet", "batch/v1/CronJob"]  # not v1/Namespace


NAMESPACE = (
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bookinfo\n  labels: {istio-injection: enabled}\n"
)
CORE_KINDS = [
    ("v1", "Namespace"),
    ("v1", "Service"),
    ("v1", "ServiceAccount"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("apps/v1", "Deployment"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
]


@pytest.mark.parametrize(("api_version", "kind"), CORE_KINDS)
def test_core_kinds_have_a_shipped_schema(builtin: BuiltinValidator, api_version: str, kind: str) -> None:
    schema = builtin.store.schema(api_version, kind)
    assert schema is not None and schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    group, _, version = api_version.rpartition("/")
    assert schema["x-kubernetes-group-version-kind"] == [{"group": group, "kind": kind, "version": version}]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["kind"]["enum"] == [kind]


def test_core_kinds_are_validated(builtin: BuiltinValidator) -> None:
    objects = load_manifests([DEMO / "application"])
    assert {(o.obj["apiVersion"], o.obj["kind"]) for o in objects} == {
        ("v1", "Namespace"), ("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "ServiceAccount"),
    }  # fmt: skip
    assert builtin.validate_objects(objects) == []
    assert all(builtin.store.validator(o.obj["apiVersion"], o.obj["kind"]) is not None for o in objects)
    # the rendered Namespace of the bundled example, and what `kubectl get -o yaml` adds to one
    assert builtin.validate_paths([ROOT / "rendered" / "demo" / "namespaces"]) == []
    dumped = (
        NAMESPACE.replace("metadata:\n", "metadata:\n  creationTimestamp: null\n") + "spec: {}\nstatus: {}\n"
    )
    assert validate_text(builtin, dumped) == []
    (bad,) = validate_text(builtin, NAMESPACE + "  annotations: {a: 1}\n")
    assert (bad.rule, bad.location.field, bad.location.line) == ("SCHEMA", "metadata.annotations.a", 6)
    assert bad.message == "expected string or null, got integer 1"


def test_not_a_kubernetes_object(builtin: BuiltinValidator) -> None:
    (finding,) = validate_text(builtin, "metadata: {name: x}\n")
    assert finding.rule == "SCHEMA" and "apiVersion and kind" in finding.message


def test_rendered_objects_without_positions(builtin: BuiltinValidator) -> None:
    rendered = LoadedObject(
        path="rendered/bookinfo/reviews/rollout.yaml",
        line=1,
        obj={
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "r"},
            "spec": {"replicas": -1.5},
        },
    )
    (finding,) = builtin.validate_objects([rendered])
    assert finding.location.path == "rendered/bookinfo/reviews/rollout.yaml"
    assert (finding.location.line, finding.location.field) == (1, "spec.replicas")
    assert finding.message == "expected integer, got number -1.5"


def test_findings_sorted_by_position(builtin: BuiltinValidator) -> None:
    text = ROLLOUT.replace("replicas: 5", "replicas: x").replace("startingStep: 2", "startingStep: y")
    findings = validate_text(builtin, text)
    assert [f.location.field for f in findings] == [
        "spec.replicas",
        "spec.strategy.canary.analysis.startingStep",
    ]


# ---- kubeconform: recorded output -------------------------------------------------------------------


def recorded_objects(name: str = "manifests.yaml") -> list[LoadedObject]:
    return load_text((RECORDED / name).read_text(encoding="utf-8"), str(RECORDED / name))


def recorded(name: str) -> str:
    """A report from scripts/record_kubeconform_fixtures.py, with this checkout where it wrote `<root>`."""
    return (RECORDED / name).read_text(encoding="utf-8").replace("<root>", json.dumps(str(ROOT))[1:-1])


def test_parse_recorded_invalid_report() -> None:
    stdout = recorded("invalid.json")
    findings = parse_kubeconform_output(stdout, recorded_objects(), schema_dir=default_schema_dir())
    text = (RECORDED / "manifests.yaml").read_text(encoding="utf-8")
    assert [(f.rule, f.obj, f.location.field, f.location.line) for f in findings] == [
        ("SCHEMA", "Rollout/reviews-rollout", "spec.replicas", line_of(text, "replicas:")),
        ("SCHEMA", "Rollout/reviews-rollout", "spec.strategy.canary.stepz", line_of(text, "stepz:")),
        (
            "SCHEMA",
            "Workspace/bookinfo-ws",
            "spec.namespaceSelector.names",
            line_of(text, "namespaceSelector:"),
        ),
        ("SCHEMA-MISSING", "VirtualServce/reviews", "", line_of(text, "kind: VirtualServce") - 1),
    ]
    assert all(f.location.path == RECORDED_NAME for f in findings)
    # kubeconform v0.7.0 prints `got string, want integer`: worded as the builtin validator words it
    assert findings[0].message == 'expected integer, got string "five"'
    assert findings[1].message == 'unknown field "stepz" (did you mean "steps"?)'
    assert findings[2].message == 'missing required field "names"'
    assert findings[3].message.startswith(
        'no schema for apiVersion "networking.istio.io/v1alpha3" kind "VirtualServce"'
    )


@pytest.mark.parametrize(
    ("report", "manifests"), [("invalid.json", "manifests.yaml"), ("messages.json", "messages.yaml")]
)
def test_builtin_and_recorded_kubeconform_agree(
    builtin: BuiltinValidator, report: str, manifests: str
) -> None:
    objects = recorded_objects(manifests)
    theirs = parse_kubeconform_output(recorded(report), objects, schema_dir=default_schema_dir())
    ours = builtin.validate_objects(objects)
    assert len(ours) >= 4
    assert [str(f) for f in theirs] == [str(f) for f in ours]  # same place, field and words


def test_parse_recorded_messages_report() -> None:
    """Every kind of message kubeconform v0.7.0 prints, including problems it lists only in `msg` (under
    a `validation failed` cause) and a oneOf of types, gets the builtin validator's field and words."""
    report = json.loads(recorded("messages.json"))
    types = next(r for r in report["resources"] if r["name"] == "types")
    assert {"path": "/spec/strategy/canary", "msg": "validation failed"} in types["validationErrors"]
    findings = parse_kubeconform_output(recorded("messages.json"), recorded_objects("messages.yaml"))
    assert [(f.obj, f.location.field, f.message) for f in findings if f.obj == "Rollout/types"] == [
        ("Rollout/types", "spec.replicas", "expected integer, got number 1.5"),
        ("Rollout/types", "spec.strategy.canary.zzz", 'unknown field "zzz"'),
        ("Rollout/types", "spec.strategy.canary.yyy", 'unknown field "yyy"'),
        ("Rollout/types", "spec.strategy.canary.steps[0].setWeight", 'expected integer, got string "10"'),
        (
            "Rollout/types",
            "spec.strategy.canary.steps[1].pause.duration",
            "expected string or integer, got boolean true",
        ),
    ]
    assert len(findings) == 14 and all(f.rule == "SCHEMA" for f in findings)


def test_parse_verbose_and_valid_reports() -> None:
    invalid = parse_kubeconform_output(recorded("invalid.json"), recorded_objects())
    verbose = parse_kubeconform_output(recorded("verbose.json"), recorded_objects())
    assert verbose == invalid  # valid and skipped entries add nothing
    assert {r["status"] for r in json.loads(recorded("verbose.json"))["resources"]} == {
        "statusInvalid",
        "statusValid",
        "statusError",
        "statusSkipped",
    }
    assert parse_kubeconform_output(recorded("valid.json"), load_manifests([DEMO / "argo"])) == []
    assert json.loads(recorded("valid.json"))["summary"]["valid"] == 17


def test_parse_without_validation_errors_or_known_file() -> None:
    report = {
        "resources": [
            {"filename": "elsewhere.yaml", "kind": "Rollout", "name": "r", "version": "argoproj.io/v1alpha1",
             "status": "statusInvalid", "msg": "problem validating schema"},
            {"filename": "elsewhere.yaml", "kind": "Rollout", "name": "r", "version": "argoproj.io/v1alpha1",
             "status": "statusError", "msg": "error unmarshalling resource: duplicate key"},
        ]
    }  # fmt: skip
    findings = parse_kubeconform_output(json.dumps(report), [])
    assert [(f.location.path, f.location.line, f.obj, f.message) for f in findings] == [
        ("elsewhere.yaml", 0, "Rollout/r", "error unmarshalling resource: duplicate key"),
        ("elsewhere.yaml", 0, "Rollout/r", "problem validating schema"),
    ]


@pytest.mark.parametrize(
    "stdout",
    ["", "Summary: 1 resource found", "[]", '{"resources": {}}', '{"resources": [{"status": "INVALID"}]}'],
)
def test_parse_rejects_unexpected_output(stdout: str) -> None:
    with pytest.raises(KubeconformOutputError):
        parse_kubeconform_output(stdout, [])


# ---- kubeconform: the subprocess --------------------------------------------------------------------


def test_make_validator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no kubeconform here
    assert isinstance(make_validator("builtin"), BuiltinValidator)
    assert isinstance(make_validator("auto"), BuiltinValidator)
    with pytest.raises(ToolError) as caught:
        make_validator("kubeconform")
    assert caught.value.exit_code == 3
    assert "kubeconform is not on PATH" in str(caught.value)


def test_auto_picks_kubeconform_when_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exe = fake_kubeconform(tmp_path, monkeypatch, "")
    validator = make_validator("auto", timeout=5)
    assert isinstance(validator, KubeconformValidator)
    assert validator.executable == str(exe) and validator.timeout == 5


def test_command_is_offline_strict_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args_file = tmp_path / "argv.json"
    script = f"import json, sys\njson.dump(sys.argv[1:], open({str(args_file)!r}, 'w'))\n"
    script += "print(json.dumps({'resources': [], 'summary': {}}))\n"
    fake_kubeconform(tmp_path, monkeypatch, script)
    validator = make_validator("kubeconform")
    assert validator.validate_paths([DEMO]) == []
    argv = json.loads(args_file.read_text())
    layout = f"{default_schema_dir().resolve()}/{{{{.Group}}}}/{{{{.ResourceKind}}}}_{{{{.ResourceAPIVersion}}}}.json"
    # every built-in kind of the demo (Deployment, Namespace, Service, ServiceAccount) has a shipped
    # schema now (CORE-SOURCES.md): nothing is skipped
    assert argv[:6] == ["-strict", "-summary", "-output", "json", "-schema-location", layout]
    assert "-skip" not in argv and "default" not in argv and "-ignore-missing-schemas" not in argv
    assert argv[6:] == sorted({str((DEMO / p).resolve()) for p in (
        "application/bookinfo.yaml", "application/namespace.yaml", "argo/rollout/analysis.yaml",
        "argo/rollout/rollout.yaml", "argo/tsb/conf.yaml")})  # fmt: skip


def test_in_memory_objects_are_staged_and_mapped_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fake reports `spec.replicas` of every file it is given as invalid.
    script = """import json, sys
files = [a for a in sys.argv[1:] if a.endswith(".yaml")]
resources = []
for f in files:
    obj = json.load(open(f))
    resources.append({"filename": f, "kind": obj["kind"], "name": obj["metadata"]["name"],
                      "version": obj["apiVersion"], "status": "statusInvalid", "msg": "x",
                      "validationErrors": [{"path": "/spec/replicas", "msg": "expected integer, but got string"}]})
print(json.dumps({"resources": resources, "summary": {}}, indent=2))
sys.exit(1)
"""
    fake_kubeconform(tmp_path, monkeypatch, script)
    objects = load_text(ROLLOUT.replace("replicas: 5", "replicas: five"), "rendered/rollout.yaml")
    (finding,) = make_validator("kubeconform").validate_objects(objects)
    assert finding.location.path == "rendered/rollout.yaml"
    assert (finding.location.field, finding.location.line) == ("spec.replicas", line_of(ROLLOUT, "replicas:"))


def test_kubeconform_missing_is_a_tool_error(tmp_path: Path) -> None:
    validator = KubeconformValidator(str(tmp_path / "no-such-kubeconform"))
    with pytest.raises(ToolError) as caught:
        validator.validate_paths([DEMO / "argo"])
    assert caught.value.exit_code == 3
    assert "could not be started" in str(caught.value)


def test_kubeconform_hanging_is_a_tool_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `sleep` is a child of the shell: the whole process group has to go, not only the script.
    fake_kubeconform(tmp_path, monkeypatch, "echo starting\nsleep 60\n", shell=True)
    validator = make_validator("kubeconform", timeout=0.5)
    with pytest.raises(KubeconformError) as caught:
        validator.validate_paths([DEMO / "argo"])
    error = caught.value
    assert error.exit_code == 3
    assert "timed out after 0.5s" in str(error)
    assert error.returncode is None and error.stdout.strip() == "starting"
    assert error.command[0].endswith("kubeconform") and "-strict" in error.command


def test_kubeconform_crashing_is_a_tool_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_kubeconform(tmp_path, monkeypatch, "echo garbage\necho 'panic: boom' >&2\nexit 2\n", shell=True)
    with pytest.raises(ToolError) as caught:
        make_validator("kubeconform").validate_paths([DEMO / "argo"])
    text = str(caught.value)
    assert caught.value.exit_code == 3
    assert "crashed (exit code 2)" in text and "command: " in text
    assert "return code: 2" in text and "stdout: garbage" in text and "stderr: panic: boom" in text


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("import sys\nprint('failed parsing command line')\nsys.exit(1)\n", "unreadable output"),
        ("import sys\nprint('{\"resources\": []}')\nsys.exit(1)\n", "without reporting a problem"),
    ],
)
def test_kubeconform_output_that_makes_no_sense_is_a_tool_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, reason: str
) -> None:
    fake_kubeconform(tmp_path, monkeypatch, script)
    with pytest.raises(ToolError, match=reason):
        make_validator("kubeconform").validate_paths([DEMO / "argo"])


# ---- kubeconform: the real binary ------------------------------------------------------------------

# `make test` puts ../shared/tools/bin (kubeconform v0.7.0, where CI has it) on PATH when it exists.
REAL_KUBECONFORM = shutil.which("kubeconform")
NO_KUBECONFORM = "kubeconform is not on PATH (`make test` adds ../shared/tools/bin when that folder exists)"


@pytest.mark.skipif(REAL_KUBECONFORM is None, reason=NO_KUBECONFORM)
def test_real_kubeconform_agrees_with_builtin(tmp_path: Path, builtin: BuiltinValidator) -> None:
    assert REAL_KUBECONFORM is not None
    real = KubeconformValidator(REAL_KUBECONFORM, timeout=60)
    assert real.validate_paths([DEMO]) == []
    manifests = tmp_path / "manifests.yaml"
    shutil.copy(RECORDED / "manifests.yaml", manifests)
    ours = builtin.validate_paths([manifests])
    theirs = real.validate_paths([manifests])
    assert [str(f) for f in theirs] == [str(f) for f in ours]
    assert len(ours) == 4
    assert os.path.exists(manifests)


def test_schemas_are_read_only_for_the_kinds_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    """Startup stays lazy with the core schemas shipped (the Deployment's is 650 kB): a file is read when an
    object of its kind is validated, and only then."""
    read: list[str] = []
    real_read_text = Path.read_text

    def recording(self: Path, *args: object, **kwargs: object) -> str:
        if default_schema_dir() in self.parents:
            read.append(self.relative_to(default_schema_dir()).as_posix())
        return real_read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", recording)
    validator = BuiltinValidator()
    assert read == []
    assert validate_text(validator, ROLLOUT) == []
    assert read == ["argoproj.io/rollout_v1alpha1.json"]
    assert validate_text(validator, NAMESPACE + "---\n" + NAMESPACE.replace("bookinfo", "other")) == []
    assert read == ["argoproj.io/rollout_v1alpha1.json", "v1/namespace_v1.json"]  # once per kind
