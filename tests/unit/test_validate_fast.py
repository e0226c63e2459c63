"""jsonschema-rs decides valid/invalid for the builtin validator, jsonschema explains the rejects: the
two must give the same verdict on every object, or a finding would go missing (jsonschema-rs says valid
where jsonschema finds an error) or cost time for nothing. Checked over the rendered example, the
bad-manifest corpus, the demo, kubeconform's recorded fixtures, a rendered fleet and the schema-guided
mutations of tests/unit/test_validate_differential.py; plus the features it must honour as jsonschema
does: draft 4, our `duration` and `date-time` formats only, `x-kubernetes-*` keywords ignored."""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from generator.render import render_all
from generator.validate import BuiltinValidator, LoadedObject, SchemaStore, load_manifests

ROOT = Path(__file__).resolve().parent.parent.parent


def _differential() -> ModuleType:
    """The mutation generator of the kubeconform differential test (that module is skipped without
    kubeconform; its helpers need nothing)."""
    path = Path(__file__).with_name("test_validate_differential.py")
    spec = importlib.util.spec_from_file_location("_validate_differential_helpers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def store() -> SchemaStore:
    return BuiltinValidator().store


def verdicts(store: SchemaStore, objects: Iterable[dict[str, Any]]) -> tuple[int, int, list[str]]:
    """(objects compared, invalid ones, disagreements) between jsonschema and jsonschema-rs."""
    compared = invalid = 0
    disagree = []
    for obj in objects:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not (isinstance(api_version, str) and isinstance(kind, str)):
            continue
        slow = store.validator(api_version, kind)
        if slow is None:
            continue
        fast = store.fast_validator(api_version, kind)
        assert fast is not None, f"{api_version} {kind}: jsonschema-rs could not compile the schema"
        expected = not any(True for _ in slow.iter_errors(obj))
        compared += 1
        invalid += not expected
        if fast.is_valid(obj) != expected:
            disagree.append(f"{kind}: jsonschema {'valid' if expected else 'invalid'} {obj}")
    return compared, invalid, disagree


def _files(*paths: Path) -> list[dict[str, Any]]:
    return [o.obj for o in load_manifests(list(paths))]


def test_every_shipped_schema_compiles_for_jsonschema_rs(store: SchemaStore) -> None:
    for path in sorted(store.root.rglob("*.json")):
        group, _, rest = path.relative_to(store.root).as_posix().partition("/")
        kind, _, version = rest.removesuffix(".json").partition("_")
        schema = store.schema(f"{group}/{version}", kind.capitalize())
        assert schema is not None and store.fast_validator(f"{group}/{version}", kind.capitalize()), path


def test_same_verdict_on_the_corpora(store: SchemaStore) -> None:
    bad = sorted(p for p in (ROOT / "tests" / "fixtures" / "bad").iterdir() if p.is_dir())
    objects = _files(ROOT / "rendered", ROOT / "tests/fixtures/demo", *bad)
    objects += _files(ROOT / "tests/fixtures/kubeconform/manifests.yaml")
    compared, invalid, disagree = verdicts(store, objects)
    assert disagree == []
    assert compared >= 80 and invalid >= 3


def test_same_verdict_on_the_mutations(store: SchemaStore) -> None:
    base = [
        o for o in load_manifests([ROOT / "rendered"]) if store.has_schema(o.obj["apiVersion"], o.obj["kind"])
    ]
    cases = [obj for _, obj in _differential().mutations(base, store)]
    compared, invalid, disagree = verdicts(store, cases)
    assert disagree == []
    assert compared >= 1000 and invalid >= 700 and compared - invalid >= 20


def test_same_verdict_on_a_rendered_fleet(store: SchemaStore, tmp_path: Path) -> None:
    fleet = _differential_fleet(tmp_path)
    compared, _, disagree = verdicts(store, [m.obj for m in render_all(fleet)])
    assert disagree == []
    assert compared >= 100


def _differential_fleet(tmp_path: Path) -> Path:
    spec = importlib.util.spec_from_file_location("_fleet_helpers", Path(__file__).with_name("test_fleet.py"))
    assert spec is not None and spec.loader is not None
    fleet = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fleet)
    rng = random.Random(11)
    (tmp_path / "services").mkdir()
    (tmp_path / "environments").mkdir()
    for n in range(12):
        (tmp_path / "services" / f"svc-{n:02d}.yaml").write_text(fleet.service(f"svc-{n:02d}", rng))
    for name in ("dev", "prod"):  # staging's OAP is too old for the MQE services
        (tmp_path / "environments" / f"{name}.yaml").write_text(fleet.environment(name))
    return tmp_path


# ---- the features it must honour as jsonschema does ------------------------------------------------


def _rollout() -> dict[str, Any]:
    (rollout,) = [o.obj for o in load_manifests([ROOT / "rendered"]) if o.obj["kind"] == "Rollout"]
    return rollout


def test_formats_are_ours_date_time_as_kubeconform_checks_it(store: SchemaStore) -> None:
    rollout = _rollout()
    dates = _differential().DATE_TIMES
    for value, valid in [(d, n < 8) for n, d in enumerate(dates)]:  # its first 8 are the valid ones
        obj = {**rollout, "status": {"pauseConditions": [{"reason": "CanaryPauseStep", "startTime": value}]}}
        compared, invalid, disagree = verdicts(store, [obj])
        assert (compared, disagree) == (1, []), value
        assert invalid == (not valid), value


def test_duration_and_unknown_formats_and_x_kubernetes_keywords(tmp_path: Path) -> None:
    group = tmp_path / "example.com"
    group.mkdir()
    (group / "widget_v1.json").write_text(
        """{"$schema": "http://json-schema.org/draft-04/schema#", "type": "object",
            "x-kubernetes-validations": [{"rule": "false", "message": "never"}],
            "properties": {
              "wait": {"type": "string", "format": "duration"},
              "mail": {"type": "string", "format": "email"},
              "size": {"type": "integer", "format": "int32", "x-kubernetes-int-or-string": true},
              "when": {"type": "string", "format": "date-time"},
              "count": {"type": "integer", "maximum": 5, "exclusiveMaximum": true}}}"""
    )
    store = SchemaStore(tmp_path)
    base = {"apiVersion": "example.com/v1", "kind": "Widget"}
    cases = [
        ({"wait": "1h30m", "mail": "not an address", "size": 2**40}, True),  # formats we do not check
        ({"wait": "90 minutes"}, False),
        ({"wait": "1.5h", "when": "2026-01-01T00:00:00Z"}, True),
        ({"when": "2026-01-01"}, False),
        ({"count": 4}, True),
        ({"count": 5}, False),  # draft 4's boolean exclusiveMaximum
        ({"count": 4.0}, False),  # draft 4: 4.0 is a number, not an integer
        ({"size": "25%"}, False),  # x-kubernetes-int-or-string is not a keyword of either
    ]
    for fields, valid in cases:
        compared, invalid, disagree = verdicts(store, [{**base, **fields}])
        assert (compared, disagree, invalid) == (1, [], int(not valid)), fields


def test_an_object_jsonschema_rs_cannot_read_goes_to_jsonschema(tmp_path: Path) -> None:
    rollout = _rollout()
    odd = {**rollout, "metadata": {**rollout["metadata"], "annotations": {"a": b"bytes"}}}
    findings = BuiltinValidator().validate_objects([LoadedObject("odd.yaml", 1, odd)])
    assert [f.location.field for f in findings] == ["metadata.annotations.a"]


# ---- the C-fast reading: the same values and positions as ruamel's round-trip reading ---------------

SCALARS = [
    "on", "off", "On", "OFF", "yes", "No", "y", "n", "Y", "true", "False", "TRUE", "~", "null", "Null", "",
    "0123", "-0123", "0o17", "0x1F", "0b101", "1_000", "+12", "-0", "08", "09.5", "1:20", "1:20.5", "190:20:30",
    "1.5", "-1.5e3", "1e5", ".5", "-.5", "+.inf", "-.Inf", ".nan", "1.", "1_0.5", "0.1e-3", "_", "1__2",
    "'quoted'", '"0123"', "'on'", "a: b", "x y", "- 3", "2026-01-01", "=", "!!str 12", "!!int '7'",
    "0x_1F", "! 12", "12e", "+.5", "1.2.3", "0o", "0b", "1e+5", "3.14e+2", "-.inf", ".NaN", "0.", "00", "+0x10",
]  # fmt: skip


def _both(text: str) -> tuple[Any, Any]:
    """(ruamel's reading as `_plain` makes it, or its error; the fast reading, or "slow")."""
    from generator.validate import _fast_documents, _plain, _reader, _start

    try:
        slow: Any = [(_plain(d), _start(d) if d is not None else None) for d in _reader().load_all(text)]
    except Exception as exc:  # a syntax error, a duplicate key: the fast path must not accept those
        slow = f"error {type(exc).__name__}"
    try:
        fast: Any = [(value, (start[0] + 1, start[1] + 1)) for value, _, start in _fast_documents(text)]
    except Exception as exc:
        assert type(exc).__name__ == "_SlowPath", exc
        fast = "slow"
    return slow, fast


def _same(slow: Any, fast: Any) -> bool:
    if fast == "slow":
        return True
    if isinstance(slow, str):  # ruamel refused what the fast reading took
        return False
    # ruamel's start of a scalar document is (1, 0); only mappings are objects, so compare values there
    slow_values = [v for v, _ in slow] if isinstance(slow, list) else slow
    fast_values = [v for v, _ in fast]
    nan = repr(slow_values) == repr(fast_values) and "nan" in repr(fast_values)
    maps = [s for (v, s) in slow if isinstance(v, dict)] == [s for (v, s) in fast if isinstance(v, dict)]
    return (slow_values == fast_values or nan) and maps


def test_scalars_read_as_ruamel_reads_them_for_kubernetes() -> None:
    for scalar in SCALARS:
        for text in (f"v: {scalar}\n", f"- {scalar}\n", f"{scalar}: v\n", f"---\na: 1\n---\nv: {scalar}\n"):
            slow, fast = _both(text)
            assert _same(slow, fast), f"{text!r}: ruamel {slow}, fast {fast}"
    # the ones Kubernetes reads differently from YAML 1.2, read fast (not left to ruamel)
    for text, value in (("v: on\n", True), ("v: 0123\n", 83), ("v: 1:20\n", "1:20"), ("v: n\n", False)):
        assert _both(text)[1] == [({"v": value}, (1, 1))]


def test_what_reads_differently_goes_to_ruamel() -> None:
    for text in (
        "a: 1\na: 2\n",  # a duplicate key: ruamel's error
        "on: 1\ntrue: 2\n",
        "base: &b {x: 1}\nmore:\n  <<: *b\n",  # merge key
        "a: &x [1]\nb: *x\n",  # alias
        "t: 2026-01-01T00:00:00Z\n",  # timestamp
        "v: !custom x\n",
        "v: !!str 12\n",  # ruamel keeps a TaggedScalar
        "v: !!map {a: 1}\n",
        "1: one\n",  # a key that is not a string
        "a: [1\n",  # a syntax error: ruamel's message
        "a:\tb\n",  # ruamel refuses the tab, libyaml would not
    ):
        assert _both(text)[1] == "slow", text


def _yaml_files() -> list[Path]:
    folders = [ROOT / name for name in ("rendered", "tests/fixtures", "examples", "services", "environments")]
    return sorted(p for f in folders for p in f.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


ODD_TEXTS = [
    "\ufeffa: 1\n", "%YAML 1.2\n---\na: 0123\n", "%YAML 1.1\n---\na: on\n", "a: 1\n...\n---\nb: 2\n",
    'a: "\\x41\\u00e9\\N"\n', "a: |\n  x\n   y\n", "a: >-\n  x\n  y\n", "k: v # c\n", "? complex\n: v\n",
    "a: [1, {b: c}]\n", "- a\n- b\n", 'a: "multi\n  line"\n', "a: 'it''s'\n", '"quoted key": 1\n',
    "a: null\nb:\n", "a: -\n", "a: b: c\n", "a: @x\n", "a: `x`\n", "&k a: 1\n", "a: 'x'y\n",
    "a: \x07\n", "a: x\x85y\n", "a: x\u2028y\n", "%YAML 1.3\n---\na: 1\n", "a:\n  - b\n  c: d\n",
    "a: 'x\n\n  y'\n", "a: !!binary aGk=\n", "? [a]\n: 1\n", "a: {b: 1, b: 2}\n", "- &a x\n- *a\n",
]  # fmt: skip


def test_odd_texts_read_alike_or_go_to_ruamel() -> None:
    for text in ODD_TEXTS:
        slow, fast = _both(text)
        assert _same(slow, fast), f"{text!r}: ruamel {slow}, fast {fast}"


def test_every_yaml_file_of_the_project_reads_alike() -> None:
    files = _yaml_files()
    assert len(files) >= 80
    fast = 0
    for file in files:
        slow, quick = _both(file.read_text(encoding="utf-8"))
        assert _same(slow, quick), file
        fast += quick != "slow"
    assert fast >= len(files) * 0.9  # nearly all of them on the fast path


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


def test_positions_of_every_field_are_ruamels() -> None:
    from generator.validate import _reader, load_text
    from generator.yamlio import position

    checked = 0
    for file in _yaml_files():
        text = file.read_text(encoding="utf-8")
        try:
            objects = load_text(text, str(file))
            ruamel = list(_reader().load_all(text))
        except Exception:
            continue  # a bad-input fixture: its messages are tested where it is used
        nodes = [
            item
            for d in ruamel
            if d is not None
            for item in (d["items"] if str(d.get("kind", "")).lower() == "list" else [d])
        ]
        assert len(nodes) == len(objects), file
        for loaded, node in zip(objects, nodes, strict=True):
            assert loaded.line == node.lc.line + 1, file
            for path in [*_paths(loaded.obj), ("missing",), (*(_paths(loaded.obj) or [()])[-1], "deeper")]:
                for at_key in (False, True):
                    assert position(loaded.node, path, at_key) == position(node, path, at_key), (file, path)
                    checked += 1
    assert checked >= 5_000
