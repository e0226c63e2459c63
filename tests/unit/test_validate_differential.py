"""The builtin validator against the real kubeconform (v0.7.0, the reference for what it checks): the same
objects must come out valid or invalid alike, over the rendered example, the bad-manifest corpus and a few
hundred schema-guided mutations of rendered objects. Also: a user's plain kubeconform run over a rendered
tree. Skipped, saying why, where kubeconform is not on PATH (`make test` puts ../shared/tools/bin there)."""

from __future__ import annotations

import copy
import random
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.errors import Finding
from generator.validate import (
    KUBECONFORM_LAYOUT,
    BuiltinValidator,
    KubeconformValidator,
    LoadedObject,
    SchemaStore,
    default_schema_dir,
    load_manifests,
)

ROOT = Path(__file__).resolve().parent.parent.parent
KUBECONFORM = shutil.which("kubeconform")
pytestmark = pytest.mark.skipif(
    KUBECONFORM is None,
    reason="kubeconform is not on PATH (`make test` adds ../shared/tools/bin when that folder exists)",
)


@pytest.fixture(scope="module")
def builtin() -> BuiltinValidator:
    return BuiltinValidator()


@pytest.fixture(scope="module")
def real() -> KubeconformValidator:
    assert KUBECONFORM is not None
    return KubeconformValidator(KUBECONFORM, timeout=60)


def invalid_objects(findings: Sequence[Finding]) -> dict[tuple[str, str], list[str]]:
    """(file, Kind/name) of every object with a finding -> its findings, as text."""
    found: dict[tuple[str, str], list[str]] = {}
    for finding in findings:
        found.setdefault((finding.location.path, finding.obj), []).append(str(finding))
    return found


def disagreements(ours: Sequence[Finding], theirs: Sequence[Finding]) -> list[str]:
    builtin, kubeconform = invalid_objects(ours), invalid_objects(theirs)
    return [
        f"{path} {label}: builtin {builtin.get((path, label), 'valid')}, "
        f"kubeconform {kubeconform.get((path, label), 'valid')}"
        for path, label in sorted(set(builtin) ^ set(kubeconform))
    ]


# ---- (a) the rendered example, (b) the bad-manifest corpus -------------------------------------------


def test_rendered_example_is_valid_for_both(builtin: BuiltinValidator, real: KubeconformValidator) -> None:
    objects = load_manifests([ROOT / "rendered"])
    assert len(objects) >= 20
    assert builtin.validate_objects(objects) == []
    assert real.validate_paths([ROOT / "rendered"]) == []


def test_bad_corpus_same_verdict_per_object(builtin: BuiltinValidator, real: KubeconformValidator) -> None:
    corpus = sorted(p for p in (ROOT / "tests" / "fixtures" / "bad").iterdir() if p.is_dir())
    assert len(corpus) >= 40
    ours = builtin.validate_paths(corpus)
    theirs = real.validate_paths(corpus)
    assert disagreements(ours, theirs) == []
    # The schema-level cases are among them, and both say the same thing about them.
    schema_cases = [c.name for c in corpus if "SCHEMA" in (c / "EXPECT").read_text().split()]
    assert schema_cases and {f.location.path.split("/bad/")[1].split("/")[0] for f in theirs} == set(
        schema_cases
    )
    assert [str(f) for f in theirs] == [str(f) for f in ours]


# ---- core Kubernetes kinds (schemas/kubernetes/CORE-SOURCES.md) -------------------------------------

BOOKINFO = (ROOT / "tests" / "fixtures" / "demo" / "application" / "bookinfo.yaml").read_text(
    encoding="utf-8"
)
# (case, change to bookinfo.yaml, [(field, message)] both must report, on the changed line)
CORE_CASES = [
    ("replicas-string", ("  replicas: 1\n", '  replicas: "3"\n'),
     [("spec.replicas", 'expected integer or null, got string "3"')]),
    ("container-unknown-field", ("        imagePullPolicy: IfNotPresent\n",
                                 "        imagePullPolicy: IfNotPresent\n        imagePullPolicyy: Always\n"),
     [("spec.template.spec.containers[0].imagePullPolicyy",
       'unknown field "imagePullPolicyy" (did you mean "imagePullPolicy"?)')]),
    ("service-port-string", ("  - port: 9080\n", "  - port: http\n"),
     [("spec.ports[0].port", 'expected integer, got string "http"')]),
]  # fmt: skip


def test_core_kinds_valid_for_both(builtin: BuiltinValidator, real: KubeconformValidator) -> None:
    """bookinfo's Deployments, Services and ServiceAccounts (targetPort, containerPort: int32 and
    int-or-string fields) and the rendered Namespace are checked, not skipped, and pass both."""
    paths = [ROOT / "tests" / "fixtures" / "demo" / "application", ROOT / "rendered" / "demo" / "namespaces"]
    objects = load_manifests(paths)
    kinds = {(o.obj["apiVersion"], o.obj["kind"]) for o in objects}
    assert {("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "Namespace")} <= kinds
    assert all(builtin.store.has_schema(a, k) for a, k in kinds)
    assert real.skip_list(objects) == []
    assert builtin.validate_paths(paths) == [] and real.validate_paths(paths) == []


@pytest.mark.parametrize(("case", "change", "expected"), CORE_CASES, ids=[c[0] for c in CORE_CASES])
def test_core_kinds_invalid_for_both(
    tmp_path: Path,
    builtin: BuiltinValidator,
    real: KubeconformValidator,
    case: str,
    change: tuple[str, str],
    expected: list[tuple[str, str]],
) -> None:
    old, new = change
    assert old in BOOKINFO
    text = BOOKINFO.replace(old, new, 1)
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    ours, theirs = builtin.validate_paths([path]), real.validate_paths([path])
    line = text[: text.index(new)].count("\n") + 1 + new.count("\n") - 1
    assert [(f.rule, f.location.field, f.message) for f in ours] == [("SCHEMA", *e) for e in expected]
    assert all(f.location.path == str(path) and f.location.line == line for f in ours)
    assert [str(f) for f in theirs] == [str(f) for f in ours]


# ---- (c) mutations ------------------------------------------------------------------------------------

UNKNOWN = "zzUnknownField"
BAD_DURATIONS: list[Any] = ["10 minutes", "5", "1d", "-", 300]
INT_OR_STRING: list[Any] = [True, 1.5, [], {"a": 1}, None]
DURATION_NAMES = ("duration", "interval", "timeout", "initialDelay", "perTryTimeout", "baseEjectionTime")


def _other_type(schema: Mapping[str, Any], value: Any, rng: random.Random) -> Any:
    declared = schema.get("type")
    choices: list[Any] = []
    if declared != "string":
        choices.append("not-a-" + str(declared))
    if declared not in ("integer", "number"):
        choices.append(7)
    if declared != "boolean":
        choices.append(True)
    if declared != "array":
        choices.append(["x"])
    if declared != "object":
        choices.append({"k": "v"})
    if declared == "integer":
        choices.append(2.5)
    return rng.choice(choices) if choices else value


def _walk(
    value: Any, schema: Mapping[str, Any] | None, path: tuple[Any, ...] = ()
) -> Iterator[tuple[tuple[Any, ...], Any, Mapping[str, Any]]]:
    """(path, value, schema) of every value under a schema node (properties, items, additionalProperties)."""
    if not isinstance(schema, Mapping):
        return
    yield path, value, schema
    if isinstance(value, Mapping):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            sub = properties.get(key, extra if isinstance(extra, Mapping) else None)
            yield from _walk(child, sub, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _walk(child, schema.get("items"), (*path, index))


def _set(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = obj
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def _delete(obj: dict[str, Any], path: tuple[Any, ...]) -> None:
    target: Any = obj
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]


def mutations(base: Sequence[LoadedObject], store: SchemaStore) -> Iterator[tuple[str, dict[str, Any]]]:
    """(what was changed, mutated object) for every kind of mutation at every place it applies."""
    rng = random.Random(20261201)  # seeded: a failure reproduces
    for target in base:
        schema = store.schema(target.obj["apiVersion"], target.obj["kind"])
        assert schema is not None, target.label
        for path, value, node in _walk(target.obj, schema):
            where = f"{target.label} {'.'.join(map(str, path)) or '<root>'}"
            if path and path[-1] in ("apiVersion",) and len(path) == 1:
                continue  # another apiVersion is another schema (or none): not this object's mutation
            if node.get("x-kubernetes-int-or-string"):
                for bad in INT_OR_STRING:
                    yield f"{where} int-or-string={bad!r}", _changed(target.obj, path, bad)
                yield f"{where} int-or-string=25%", _changed(target.obj, path, "25%")
            elif "type" in node and path:
                yield f"{where} wrong type", _changed(target.obj, path, _other_type(node, value, rng))
            if isinstance(node.get("enum"), list) and path:
                for bad in ("Bogus", str(value).lower(), str(value).upper()):
                    if bad not in node["enum"]:
                        yield f"{where} enum={bad!r}", _changed(target.obj, path, bad)
            if path and path[-1] in DURATION_NAMES:
                for bad in BAD_DURATIONS:
                    yield f"{where} duration={bad!r}", _changed(target.obj, path, bad)
            if isinstance(value, Mapping):
                yield f"{where} +{UNKNOWN}", _changed(target.obj, (*path, UNKNOWN), "x")
                for name in node.get("required") or []:
                    if name in value:
                        mutated = copy.deepcopy(target.obj)
                        _delete(mutated, (*path, name))
                        yield f"{where} -{name}", mutated


def _changed(obj: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    mutated = copy.deepcopy(obj)
    _set(mutated, path, copy.deepcopy(value))
    return mutated


def test_mutations_same_verdict_per_object(builtin: BuiltinValidator, real: KubeconformValidator) -> None:
    base = [
        o
        for o in load_manifests([ROOT / "rendered"])
        if builtin.store.has_schema(o.obj["apiVersion"], o.obj["kind"])
    ]
    # Objects of one kind share most mutations (six Applications): one of each (kind, field, change).
    unique = {
        (name.split("/")[0], name.split(" ", 1)[1]): (name, obj)
        for name, obj in mutations(base, builtin.store)
    }
    cases = list(unique.values())
    objects = [LoadedObject(f"mutation-{n:04d}.yaml", 1, obj) for n, (_, obj) in enumerate(cases)]
    ours, theirs = builtin.validate_objects(objects), real.validate_objects(objects)
    what = {o.path: name for o, (name, _) in zip(objects, cases, strict=True)}
    assert [f"{what[line.split(' ')[0]]}: {line}" for line in disagreements(ours, theirs)] == []
    invalid = {f.location.path for f in theirs}
    assert len(objects) >= 400 and len(invalid) >= 300  # hundreds of objects, most of them really invalid
    assert len(objects) - len(invalid) >= 10  # and some mutations the schemas allow (both agree on those)


# kubeconform v0.7.0 asserts `date-time` (draft 4; santhosh-tekuri/jsonschema v6.0.1 format.go).
DATE_TIMES = [
    "2026-01-01T00:00:00Z", "2026-01-01t00:00:00z", "2026-01-01T00:00:00.123+05:30", "2024-02-29T00:00:00Z",
    "2016-12-31T23:59:60Z", "2016-12-31T18:59:60-05:00", "0000-02-29T00:00:00Z", "2026-01-01T+1:00:00Z",
    "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-01-01T24:00:00Z",
    "2026-01-01T00:60:00Z", "2026-01-01T12:00:60Z", "2026-01-01 00:00:00Z", "2026-01-01T00:00:00",
    "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+0530", "2026-01-01T00:00:00+24:00", "2026-1-01T00:00:00Z",
    "+1:00:00", "2026-01-01T00:00:00+05:60", "2026-01-01T00:00:00.5", "",
]  # fmt: skip


def test_date_times_same_verdict(builtin: BuiltinValidator, real: KubeconformValidator) -> None:
    (rollout,) = [o for o in load_manifests([ROOT / "rendered"]) if o.obj["kind"] == "Rollout"]
    objects = [
        LoadedObject(
            f"date-{n:02d}.yaml",
            1,
            {
                **rollout.obj,
                "status": {"pauseConditions": [{"reason": "CanaryPauseStep", "startTime": value}]},
            },
        )
        for n, value in enumerate(DATE_TIMES)
    ]
    ours, theirs = builtin.validate_objects(objects), real.validate_objects(objects)
    assert disagreements(ours, theirs) == []
    valid = [DATE_TIMES[n] for n, o in enumerate(objects) if o.path not in {f.location.path for f in theirs}]
    assert valid == DATE_TIMES[:8]  # `T+1:00:00`: Go's strconv.Atoi takes a sign, as v6 does


# ---- a user's own kubeconform run over a rendered tree ----------------------------------------------


def _render(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    args = ["render", "--config", str(ROOT), "--out", str(out), "--validator", "builtin"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def _user_run(tree: Path) -> subprocess.CompletedProcess[str]:
    assert KUBECONFORM is not None
    location = f"{default_schema_dir()}/{KUBECONFORM_LAYOUT}"
    # Kubernetes' own kinds (the Namespaces) are found in our folder too: no `-schema-location default`
    # (a download) and no `-skip` is needed.
    argv = [KUBECONFORM, "-strict", "-summary", "-schema-location", location]
    argv.append(str(tree))
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_user_kubeconform_over_rendered_tree_passes(tmp_path: Path) -> None:
    """A user's own `kubeconform -strict rendered/` passes: the bookkeeping files (index, journal) have no
    .json/.yaml suffix, so kubeconform does not read them as manifests."""
    done = _user_run(_render(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
