"""Templates are no way in (issue 9, deliverable 4): a hostile value in a field a user may fill with text
comes out of a real render as that same plain string, at the same place, and nothing else changes.

Each render of the bundled example (services/ + environments/) puts one hostile value in fields of its
specs and is compared, parsed, with a render of the same example where each of those fields holds a plain
marker: the two trees must be the same files, each one YAML document (read by PyYAML and, where a value
landed, by ruamel too), and equal once each marker is replaced by the hostile value. So no value added a
key, an item, a document or an object (no Secret), changed a type ("null", "yes", "0o17" stay strings), or
was evaluated as a jinja2 expression ("49"). The fields, read off schemas/spec/*.schema.json:

- FREE, strings with no pattern, format or enum (and the ingress paths, whose pattern asks only for a
  leading '/'): they must take every printable hostile value;
- CONSTRAINED, whose format still lets unusual text through (URLs, a branch, a path, hosts, label values):
  each value is refused with exit 2 at its place, or comes out whole;
- names (DNS labels and subdomains): hostile text is refused with exit 2; so are control characters,
  in any field.

Then the encoding filter itself, and the sandbox the templates run in.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
import pytest
import yaml
from click.testing import CliRunner
from jinja2.exceptions import SecurityError
from jinja2.utils import htmlsafe_json_dumps
from ruamel.yaml import YAML

from generator.cli import cli
from generator.render import _templates, _tojson

ROOT = Path(__file__).resolve().parents[2]

HOSTILE = [
    "{{ 7*7 }}",
    "{{7*7}}",
    "{% for x in range(3) %}x{% endfor %}",
    "{%for%}",
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{self}}",
    "{#",
    "\nkind: Secret\n",
    "x\n---\napiVersion: v1\nkind: Secret",
    "x\r\n---\r\napiVersion: v1\r\nkind: Secret\r\n",
    "x\n...\n%YAML 1.1\n---\nkind: Secret",
    "!!python/object:os.system",
    "!!python/object/apply:os.system ['id']",
    "!Secret x",
    "&a",
    "*a",
    "&a [*a, *a]",
    "#comment",
    "x #comment",
    ": ",
    "a: b",
    "- x",
    "- kind: Secret",
    "? x",
    "[x, {kind: Secret}]",
    "{kind: Secret}",
    "|\n  kind: Secret",
    "> x",
    "'",
    '"',
    "'\"'\"",
    "\\",
    "\\n\\\\ud83d\\u0041\\x41",
    "@x `x` % x",
    "---",
    "...",
    "~",
    "null",
    "yes",
    "on",
    "0o17",
    "1e3",
    "0x1F",
    ".inf",
    "2026-01-01",
    "12:30:00",
    "  leading and trailing  ",
    "\ttab",
    "x\n",
    "\n\n",
    "a\n  b\n c",
    "üñíçødé ĸ ǅ 中文 العربية",
    "😀 𝕏 \U0010fffd",
    "\x85 \u2028 \u2029 \ufeff \u200b \ufffd",
    "x\x85kind: Secret",
    "x\u2028kind: Secret",
]
IDS = [json.dumps(h)[1:-1][:40] for h in HOSTILE]

# The C0 and C1 controls but tab and line breaks, and DEL: no field takes them (yamlio.value_problem),
# so they never reach a template. The input refuses them, at their place, with exit 2.
CONTROL = ["\x01", "\x07\x08", "\x0b\x0c", "\x0e", "\x1b[31m", "\x1f", "\x7f", "\x9b"]

# Where a value goes: (the file under the config, the key path inside it, the value for a text). Every
# value is `prefix + text + suffix`, so replacing a marker by a text in the output gives that text's.
Field = tuple[str, tuple[str | int, ...], Callable[[str], Any]]

# The fields that take free text (schemas/spec/*.schema.json: strings with no pattern, format or enum).
# They must take every printable value.
FREE: dict[str, Field] = {
    "apdex-condition": ("services/reviews.yaml", ("analysis", "apdex"), lambda v: {"successCondition": v}),
    "metric-condition": (
        "services/reviews.yaml",
        ("analysis", "metrics"),
        lambda v: [{"name": "errors", "metric": "service_sla", "successCondition": v}],
    ),
    "ack-reason": ("services/reviews.yaml", ("acknowledge", "GG502"), lambda v: v),
    "regex-path": ("services/productpage.yaml", ("ingress", "paths", 5), lambda v: {"regex": v}),
    "container-env": (
        "services/details.yaml",
        ("workload", "containers", "details", "env"),
        lambda v: {"X": v},
    ),
    "container-command": (
        "services/details.yaml",
        ("workload", "containers", "details", "command"),
        lambda v: [v],
    ),
    "container-args": ("services/ratings.yaml", ("workload", "containers", "ratings", "args"), lambda v: [v]),
}

# The fields whose format or pattern still lets some unusual text through (URLs, a branch, hosts, label
# values): each hostile value is refused (exit 2, located) or comes out whole. ACCEPTED holds, for each,
# a value it must take, so that the test cannot pass by refusing everything.
CONSTRAINED: dict[str, Field] = {
    "workload-api": ("services/reviews.yaml", ("workloadRef",), lambda v: {"apiVersion": f"{v}/v1"}),
    "svc-server": ("services/details.yaml", ("argocd",), lambda v: {"server": f"https://{v}"}),
    "exact-path": ("services/productpage.yaml", ("ingress", "paths", 0), lambda v: {"exact": f"/{v}"}),
    "prefix-path": ("services/productpage.yaml", ("ingress", "paths", 1), lambda v: {"prefix": f"/{v}"}),
    "env-server": ("environments/demo.yaml", ("argocd", "server"), lambda v: f"https://{v}"),
    "env-hub": ("environments/demo.yaml", ("argocd", "hubServer"), lambda v: f"https://{v}"),
    "svc-repo": ("services/ratings.yaml", ("argocd",), lambda v: {"repoURL": f"https://git.example.com/{v}"}),
    "selector": ("services/reviews.yaml", ("selector",), lambda v: {"app": "reviews", "tier": v}),
    "subset-label": ("services/details.yaml", ("mesh", "subsets", 0, "labels"), lambda v: {"version": v}),
    "ingress-host": (
        "services/productpage.yaml",
        ("ingress", "hosts"),
        lambda v: [v, "bookinfo.tetrate.com"],
    ),
    "env-repo": (
        "environments/demo.yaml",
        ("gitops", "repoURL"),
        lambda v: f"https://git.example.com/{v}.git",
    ),
    "env-branch": ("environments/demo.yaml", ("gitops", "branch"), lambda v: f"release/{v}"),
    "env-path": ("environments/demo.yaml", ("gitops", "path"), lambda v: f"rendered/{v}"),
    "env-oap": ("environments/demo.yaml", ("skywalking", "address"), lambda v: f"http://oap:12800/{v}"),
    "gateway-host": ("environments/demo.yaml", ("gateways", 0, "servers", 0, "hosts"), lambda v: [f"*/{v}"]),
    "namespace-label": ("environments/demo.yaml", ("namespaces", "labels"), lambda v: {"team": v}),
}
ACCEPTED = {
    "workload-api": "x--y.z9",
    "svc-server": "{{7*7}}/&a?x='\"#y",
    "exact-path": "{{7*7}}/&a/*a/#x'\"",
    "prefix-path": "{%for%}/!!str/?a=1",
    "env-server": "h:8443/{%x%}",
    "env-hub": "h/*a/&b/!!python/object",
    "svc-repo": "{{7*7}}/&a/*a/!!python/object:os.system#x",
    "selector": "0o17",
    "subset-label": "yes",
    "ingress-host": "null",
    "env-repo": "{%for%}/'\"",
    "env-branch": "&a#x{{7}}",
    "env-path": "{{7*7}}/&a/#x/'\"/!!str",
    "env-oap": "{{''.__class__}}?q='\"&a=*a#x",
    "gateway-host": "2026-01-01",
    "namespace-label": "1e3",
}


def marker(field: str) -> str:
    return f"marker-{field}"


# ---- writing inputs and reading outputs ------------------------------------------------------------

_UNSAFE_RAW = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def as_yaml(data: Any) -> str:
    """`data` as a YAML file: JSON (which YAML reads), printable characters as they are, astral ones too
    (JSON would write a surrogate pair), everything a YAML reader would not take raw as an escape."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    text = _UNSAFE_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    assert yaml.load(text, Loader=yaml.CSafeLoader) == data  # the input says what it means to
    return text + "\n"


def set_value(data: Any, path: tuple[str | int, ...], value: Any) -> None:
    node = data
    for part in path[:-1]:
        node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
    last = path[-1]
    if isinstance(last, int) and isinstance(node, list) and last == len(node):
        node.append(value)
    else:
        node[last] = value


def set_fields(config: Path, fields: dict[str, Field], values: dict[str, str]) -> None:
    """Each of `fields` set to the text `values` gives it, or to its marker; each file written once."""
    by_file: dict[str, list[tuple[tuple[str | int, ...], Any]]] = {}
    for field, (file, path, build) in fields.items():
        by_file.setdefault(file, []).append((path, build(values.get(field, marker(field)))))
    for file, changes in by_file.items():
        data = yaml.load((config / file).read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        for path, value in changes:
            set_value(data, path, value)
        (config / file).write_text(as_yaml(data), encoding="utf-8")


def copy_example(folder: Path) -> Path:
    for name in ("services", "environments"):
        shutil.copytree(ROOT / name, folder / name)
    # reviews' workloadRef takes a hostile apiVersion below: as a workload the user manages (one gitops-gen
    # renders is an apps/v1 Deployment), so its `workload` section (the spec's last) goes.
    spec = folder / "services/reviews.yaml"
    text = spec.read_text()
    spec.write_text(text[: text.index("\nworkload:") + 1])
    return folder


def render(config: Path, out: Path) -> tuple[int, str]:
    """`gitops-gen render`, without the rules: what they think of a hostile condition or host (GG306 calls
    `{{ 7*7 }}` no expression) is not the point, the render is. The input is still checked (exit 2)."""
    argv = ["render", "--config", str(config), "--out", str(out), "--no-cache", "--no-validate"]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    return result.exit_code, result.stderr


def read_tree(out: Path, also_by_ruamel: Collection[str] = ()) -> dict[str, Any]:
    """Every written file, parsed: each manifest must be one YAML document, the index is JSON. Those
    named in `also_by_ruamel` must read the same to ruamel (YAML 1.2) as to PyYAML (YAML 1.1)."""
    tree: dict[str, Any] = {}
    for file in sorted(p for p in out.rglob("*") if p.is_file()):
        name = file.relative_to(out).as_posix()
        text = file.read_text(encoding="utf-8")
        if not name.endswith(".yaml"):
            tree[name] = json.loads(text)
            continue
        documents = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
        assert len(documents) == 1, f"{name}: {len(documents)} documents"
        if name in also_by_ruamel:
            assert list(YAML(typ="safe", pure=True).load_all(io.StringIO(text))) == documents, name
        tree[name] = documents[0]
    return tree


def replaced(value: Any, markers: dict[str, str]) -> Any:
    """`value` with every marker, wherever it stands in a key or a string, replaced."""
    if isinstance(value, dict):
        return {replaced(k, markers): replaced(v, markers) for k, v in value.items()}
    if isinstance(value, list):
        return [replaced(v, markers) for v in value]
    if isinstance(value, str):
        for mark, text in markers.items():
            value = value.replace(mark, text)
    return value


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, str):
        yield value


def holding(tree: dict[str, Any], fields: Collection[str]) -> set[str]:
    """The files of `tree` in which a marker of `fields` stands."""
    return {name for name, obj in tree.items() if any(marker(f) in s for s in strings(obj) for f in fields)}


def kinds(tree: dict[str, Any]) -> dict[str, str]:
    return {name: obj["kind"] for name, obj in tree.items() if name.endswith(".yaml")}


# ---- the reference render ---------------------------------------------------------------------------

ALL = {**FREE, **CONSTRAINED}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The example with a marker in every field, rendered and parsed."""
    folder = tmp_path_factory.mktemp("reference")
    config = copy_example(folder / "config")
    set_fields(config, ALL, {})
    code, stderr = render(config, folder / "out")
    assert code == 0, stderr
    tree = read_tree(folder / "out")
    assert not [(a, b) for a in ALL for b in ALL if a != b and marker(a) in marker(b)]
    found = "\n".join(s for obj in tree.values() for s in strings(obj))
    for field in ALL:  # each one reaches the output: the tests below test something
        assert marker(field) in found, field
    return tree


def test_the_reference_is_the_example_but_for_its_markers(reference: dict[str, Any], tmp_path: Path) -> None:
    code, stderr = render(copy_example(tmp_path / "config"), tmp_path / "out")
    assert code == 0, stderr
    plain = read_tree(tmp_path / "out")
    assert sorted(plain) == sorted(reference)
    assert kinds(reference) == kinds(plain)
    assert "Secret" not in kinds(plain).values()


def assert_same_but_for(tree: dict[str, Any], reference: dict[str, Any], texts: dict[str, str]) -> None:
    """`tree` is `reference`, file for file and key for key, with each field's marker replaced by its text."""
    assert sorted(tree) == sorted(reference)  # the same files: no object more, none less
    assert kinds(tree) == kinds(reference)  # of the same kinds: no Secret
    expected = replaced(reference, {marker(field): text for field, text in texts.items()})
    for name in tree:
        assert tree[name] == expected[name], name


# ---- free text ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", HOSTILE, ids=IDS)
def test_a_hostile_value_in_a_free_text_field_comes_out_as_the_same_plain_string(
    hostile: str, reference: dict[str, Any], tmp_path: Path
) -> None:
    config = copy_example(tmp_path / "config")
    set_fields(config, ALL, dict.fromkeys(FREE, hostile))
    code, stderr = render(config, tmp_path / "out")
    assert code == 0, stderr
    tree = read_tree(tmp_path / "out", holding(reference, FREE))
    assert_same_but_for(tree, reference, dict.fromkeys(FREE, hostile))

    # Spelled out: each field's value is the plain string, not jinja2's idea of it ("49", "xxx").
    metrics = tree["demo/services/bookinfo/reviews/analysistemplate.yaml"]["spec"]["metrics"]
    assert [m["successCondition"] for m in metrics] == [hostile, hostile]
    match = tree["demo/services/bookinfo/productpage/ingress-virtualservice.yaml"]["spec"]["http"][0]["match"]
    assert match[5] == {"uri": {"regex": hostile}}
    assert tree[".gitops-gen.index"]["acknowledged"]["demo/reviews"]["GG502"] == hostile
    everything = [s for obj in tree.values() for s in strings(obj)]
    if "7*7" in hostile:
        assert not any("49" in s for s in everything)
    if "range(3)" in hostile:
        assert not any("xxx" in s for s in everything)


@pytest.mark.parametrize("control", CONTROL, ids=[json.dumps(c)[1:-1] for c in CONTROL])
def test_a_control_character_is_refused_at_its_place(control: str, tmp_path: Path) -> None:
    config = copy_example(tmp_path / "config")
    set_fields(config, {"workload-api": CONSTRAINED["workload-api"]}, {"workload-api": f"apps{control}"})
    code, stderr = render(config, tmp_path / "out")
    assert code == 2, stderr
    assert re.match(r"services/reviews\.yaml:\d+:\d+: workloadRef\.apiVersion: .*control character", stderr)
    assert not (tmp_path / "out").exists()


# ---- constrained text ----------------------------------------------------------------------------------

# How a refusal of each constrained field names it: `<file>:<line>:<column>: <this>: ...`.
SHOWN = {
    "workload-api": "workloadRef.apiVersion",
    "svc-server": "argocd.server",
    "exact-path": "ingress.paths[0].exact",
    "prefix-path": "ingress.paths[1].prefix",
    "env-server": "argocd.server",
    "env-hub": "argocd.hubServer",
    "svc-repo": "argocd.repoURL",
    "selector": "selector.tier",
    "subset-label": "mesh.subsets[0].labels.version",
    "ingress-host": "ingress.hosts[0]",
    "env-repo": "gitops.repoURL",
    "env-branch": "gitops.branch",
    "env-path": "gitops.path",
    "env-oap": "skywalking.address",
    "gateway-host": "gateways[0].servers[0].hosts[0]",
    "namespace-label": "namespaces.labels.team",
}


def refused(stderr: str, fields: set[str]) -> set[str]:
    """The fields of `fields` an exit-2 message names at their place."""
    return {
        field
        for field in fields
        if re.search(
            rf"^{re.escape(CONSTRAINED[field][0])}:\d+:\d+: {re.escape(SHOWN[field])}: ", stderr, re.M
        )
    }


@pytest.mark.parametrize("hostile", HOSTILE, ids=IDS)
def test_a_constrained_field_refuses_a_hostile_value_at_its_place_or_keeps_it_whole(
    hostile: str, reference: dict[str, Any], tmp_path: Path
) -> None:
    """Every constrained field gets the value; each render that exits 2 must name, at their place, some
    of those still holding it, which get their marker back; the render that passes must be the reference
    with the value wherever a field kept it."""
    config = copy_example(tmp_path / "config")
    kept = set(CONSTRAINED)
    while True:
        set_fields(config, ALL, dict.fromkeys(kept, hostile))
        shutil.rmtree(tmp_path / "out", ignore_errors=True)
        code, stderr = render(config, tmp_path / "out")
        if code == 0:
            break
        assert code == 2, stderr
        assert not (tmp_path / "out").exists()
        named = refused(stderr, kept)
        assert named, f"exit 2 without naming any of {sorted(kept)}:\n{stderr}"
        kept -= named
    assert_same_but_for(read_tree(tmp_path / "out"), reference, dict.fromkeys(kept, hostile))


@pytest.mark.parametrize("field", sorted(CONSTRAINED))
def test_a_constrained_field_takes_unusual_text_and_keeps_it_whole(
    field: str, reference: dict[str, Any], tmp_path: Path
) -> None:
    config = copy_example(tmp_path / "config")
    set_fields(config, ALL, {field: ACCEPTED[field]})
    code, stderr = render(config, tmp_path / "out")
    assert code == 0, stderr
    tree = read_tree(tmp_path / "out", holding(reference, [field]))
    assert_same_but_for(tree, reference, {field: ACCEPTED[field]})


# ---- strict fields -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        ("services/reviews.yaml", "name: reviews", "name: '{{ 7*7 }}'"),
        ("services/details.yaml", "labels: {version: v1}", "labels: {version: 'x\\n---\\nkind: Secret'}"),
        ("services/reviews.yaml", "replicas: 5", "selector: {app: '{{ 7*7 }}'}"),
        ("environments/demo.yaml", "cluster: cp-cluster-1", "cluster: '!!python/object:os.system'"),
        ("environments/demo.yaml", "    namespace: bookinfo", "    namespace: '&a'"),
    ],
)
def test_a_strict_field_refuses_hostile_text(file: str, old: str, new: str, tmp_path: Path) -> None:
    config = copy_example(tmp_path / "config")
    text = (config / file).read_text(encoding="utf-8")
    assert old in text
    (config / file).write_text(text.replace(old, new, 1), encoding="utf-8")
    code, stderr = render(config, tmp_path / "out")
    assert code == 2, stderr
    assert f"{file}:" in stderr
    assert not (tmp_path / "out").exists()


# ---- the encoding filter and the sandbox ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [*HOSTILE, *CONTROL, {"b": "<&>'", "a": [1, 2.5, None, True]}, [], {}, 0, -1, None]
)
def test_tojson_reads_back_as_the_value_and_is_jinjas_own_below_u10000(value: Any) -> None:
    text = _tojson(value)
    assert text.isascii() and "\n" not in text
    for read in (lambda t: yaml.load(t, Loader=yaml.CSafeLoader), yaml.safe_load, YAML(typ="safe").load):
        assert read(f"key: {text}\n") == {"key": value}
        assert read(f"- {text}\n") == [value]
    if not any(ord(c) > 0xFFFF for c in strings_of(value)):
        assert text == htmlsafe_json_dumps(value, dumps=json.dumps, sort_keys=True)


def strings_of(value: Any) -> str:
    return "".join(strings(value))


def test_tojson_writes_an_astral_character_as_one_yaml_escape_but_leaves_an_escaped_backslash() -> None:
    assert _tojson("😀") == '"\\U0001f600"'
    assert _tojson("\\ud83d\\ude00") == '"\\\\ud83d\\\\ude00"'  # the text, backslashes and all
    assert _tojson("\\😀") == '"\\\\\\U0001f600"'


def test_the_templates_run_in_the_sandbox() -> None:
    environment = _templates()
    assert isinstance(environment, jinja2.sandbox.ImmutableSandboxedEnvironment)
    assert environment.undefined is jinja2.StrictUndefined
    escape = environment.from_string("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(SecurityError):
        escape.render()
    with pytest.raises(SecurityError):
        environment.from_string("{{ labels.update({'kind': 'Secret'}) }}").render(labels={})
    with pytest.raises(SecurityError):  # a `_` attribute, even the harmless, is not there for a template
        environment.from_string("{{ x.__class__ | tojson }}").render(x="")
    with pytest.raises(jinja2.UndefinedError):  # and a missing one is an error, not "null"
        environment.from_string("{{ x.missing | tojson }}").render(x="")
    assert environment.from_string("{{ x | tojson }}").render(x="{{ 7*7 }}") == '"{{ 7*7 }}"'
