"""The C path for specs and environment files (`yamlio.load_source_text`) against the reference, ruamel's
round-trip loader (`yamlio.load_text` + `to_plain`): the same data (types included), the same position
for every key, value and item (and for paths that go missing), or the same error.

The corpus: every YAML file of the project, the bundled specs with each mistake of
tests/cli/test_bad_input.py, a generated fleet (tests/unit/test_fleet.py's generator), and tricky YAML.
"""

from __future__ import annotations

import importlib.util
import math
import random
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from generator import yamlio
from generator.errors import InputError
from generator.yamlio import load_source_text, load_text, position, to_plain

ROOT = Path(__file__).resolve().parents[2]


def _module(relative: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_loader_corpus_{Path(relative).stem}", ROOT / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def canonical(value: Any) -> Any:
    """Data with its types spelled out: True is not 1, 1.0 is not 1, key order counts, nan equals nan."""
    if isinstance(value, dict):
        return ("map", [(type(k).__name__, k, canonical(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("seq", [canonical(v) for v in value])
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else repr(value))
    if value is None or isinstance(value, str | int):
        return (type(value).__name__, value)
    return (type(value).__name__, repr(value))  # ruamel's TaggedScalar, TimeStamp, ...


def paths(node: Any, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Every path into a ruamel node (keys as `to_plain` spells them), and one that goes missing below."""
    yield (*prefix, "no-such-key")
    yield (*prefix, 10_000)
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            yield (*prefix, str(key))
            yield from paths(value, (*prefix, str(key)))
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from paths(value, (*prefix, index))


def outcome(load: Any, text: str) -> tuple[str, Any, Any]:
    try:
        return ("ok", *load(text))
    except InputError as exc:
        return ("error", str(exc), None)
    except Exception as exc:  # what ruamel raises beyond its own errors must be raised the same way
        return ("exception", f"{type(exc).__name__}: {exc}", None)


def where(node: Any, path: tuple[str | int, ...], at_key: bool) -> Any:
    try:
        return position(node, path, at_key)
    except Exception as exc:  # ruamel's `lc` knows no merged key: the C path must fail the same way
        return type(exc).__name__


def reference(text: str) -> tuple[Any, Any]:
    """ruamel's reading, with gitops-gen's one policy on top: no tags, non-string keys or non-finite
    numbers (`yamlio._unplain_problem`, which both readers apply)."""
    node = load_text(text, "f.yaml")
    problem = yamlio._unplain_problem(node, node, (), "f.yaml")
    if problem:
        raise InputError([problem])
    return to_plain(node), node


def assert_same(text: str) -> str:
    """Both readers agree on `text`; returns which way the fast reader went ("c" or "ruamel")."""
    expected = outcome(reference, text)
    got = outcome(lambda t: load_source_text(t, "f.yaml"), text)
    assert got[0] == expected[0], (text, got[1], expected[1])
    if expected[0] != "ok":
        assert got[1] == expected[1], text
    else:
        assert canonical(got[1]) == canonical(expected[1]), text
        for path in paths(expected[2]):
            for at_key in (False, True):
                assert where(got[2], path, at_key) == where(expected[2], path, at_key), (text, path, at_key)
    try:
        yamlio._compose_plain(text, "f.yaml")
    except (yamlio._Undecided, yaml.YAMLError, ValueError, IndexError):
        return "ruamel"
    return "c"


# ---- the corpus --------------------------------------------------------------------------------------

PROJECT_FILES = sorted(
    p.relative_to(ROOT).as_posix()
    for p in ROOT.rglob("*.y*ml")
    if not {".venv", "rendered", ".git", "node_modules"} & set(p.relative_to(ROOT).parts)
)


@pytest.mark.parametrize("relative", PROJECT_FILES)
def test_project_files(relative: str) -> None:
    text = (ROOT / relative).read_text(encoding="utf-8")
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError:
        documents = []
    way = assert_same(text)
    if relative.startswith(("services/", "environments/", "examples/")) and len(documents) == 1:
        assert way == "c", relative  # the bundled specs must not need ruamel


BAD_INPUT = _module("tests/cli/test_bad_input.py").CASES


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bundled_specs_with_each_mistake_of_the_bad_input_tests(case: str) -> None:
    relative, old, new = BAD_INPUT[case][:3]
    text = (ROOT / relative).read_text(encoding="utf-8")
    assert old in text
    assert_same(text.replace(old, new, 1))


def test_a_generated_fleet() -> None:
    fleet = _module("tests/unit/test_fleet.py")
    rng = random.Random(11)
    for index in range(60):
        assert assert_same(fleet.service(f"svc-{index:03d}", rng)) == "c"
    for name in fleet.ENVIRONMENTS:
        assert assert_same(fleet.environment(name)) == "c"
    assert assert_same(fleet.environment("prod") + fleet.PROD_OVERRIDES) == "c"


# Read by the C path: these must come out exactly as ruamel reads them.
DECIDED = {
    "scalars 1.2": "a: yes\nb: on\nc: NO\nd: off\ne: y\nf: true\ng: False\nh: TRUE\ni: tRUE\n",
    "nulls": "a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: nULL\ng: ''\nh: \"~\"\n",
    "ints": "a: 0123\nb: 0o17\nc: 0x1F\nd: 0x1f\ne: 0b101\nf: -0o17\ng: +12\nh: 1_000\ni: 0\nj: -0\nk: 08\n"
    "l: 0X1F\nm: 0O17\nn: 12_\no: 0b2\np: 1:20\nq: 0x_1F\nr: 0o_7\n",
    "floats": "a: 1e3\nb: 1.5\ng: .5\nh: -1.5e-3\ni: 1.\nj: 1E3\n"
    "k: 1_0.5_0\nl: .5e+3\nm: .5e3\nn: +.5\np: 1.0e\nq: -0.0\nr: 6.8523015e+5\ns: .\n",
    "keys": "'q': e\n\"dq\": f\nyes: g\n'1': h\n",
    "empty values": "a:\nb:\n  c:\n  d:\ne: [a, ~]\nf:\n  -\n  - x\n  -\ng: {h: , i: }\n? j\nk: &x\nl: *x\n",
    "flow": "a: {b: 1, c: [x, 'y', \"z\", {d: e}], f: {}}\ng: []\nh: [ [1, 2], [3] ]\n",
    "block in flow styles": "a:\n- b\n-   c: 1\n    d: 2\n- - x\n  - y\n-\n- [1]\n",
    "nested": "a:\n  b:\n    c:\n      - d: 1\n        e:\n          f: g\n",
    "multi-line": "a: |\n  line 1\n   line 2\nb: >\n  folded\n  text\n\n  para\nc: |-\n  strip\n"
    "d: |+\n  keep\n\ne: >-\n  x\n  y\nf: plain\n  continued\n  lines\ng: 'single\n  quoted'\n"
    'h: "double\\n\\tescaped \\u00e9 \\x41"\ni: |2\n    indented\n',
    "unicode": "é: ñ\n😀: emoji 😀\nk: \"\\U0001F600\"\nzh: 中文\nx: 'it''s'\ncombining: é\n",
    "comments": "# head\na: 1 # tail\n# between\nb:  # after key\n  - x # item\n\n\n# end\n",
    "anchors and aliases": "base: &b\n  x: 1\n  y: [1, 2]\nuse: *b\nlist: &l [a, b]\nagain: *l\n"
    "scalar: &s hi\nref: *s\nseq:\n  - &m {k: v}\n  - *m\n",
    "anchored block collections": "a: &m\n  b: 1\nc: *m\nd:\n  - &s\n    x: 1\n  - *s\ne: &q\n  - 1\n"
    "f: *q\n&k key: v\nalias key:\n  *k : w\n",
    "document markers": "---\na: 1\n...\n",
    "empty documents around one": "---\n---\na: 1\n---\n...\n",
    "empty": "",
    "only comments": "# nothing\n",
    "scalar document": "just text\n",
    "top-level list": "- 1\n- two\n",
    "crlf": "a: 1\r\nb:\r\n  - x\r\n  - y\r\n",
    "long line": "a: " + "x" * 5000 + "\nb: 1\n",
    "colons and hashes": "url: http://x.example:80/a#b\ntime: 12:30\nhash: a#b\nq: 'a: b'\n",
    "indicators in plain": "a: -x\nb: ?y\nc: :z\nd: x-y\ne: x: y\n".replace("e: x: y\n", "e: 'x: y'\n"),
    "explicit key": "? a\n: 1\n? b\n",
    "bom": "\ufeffa: 1\nb: 2\n",
    "indented top": "  a: 1\n  b:\n    c: 2\n",
    "spec shape": "name: reviews\ncanary:\n  steps:\n    - setWeight: 10\n    - pause: 10m\n",
    "empty values in flow": "a: {b: , c: }\nd: [~, null, '']\n",
    "keys with spaces": "a b: 1\n'c d': 2\n",
    "bang in strings": "a: \"hi!\"\nb: 'x != y'\nc: ok!\nd: wow ! that\n",
    "ampersand in strings": "a: b&c\nb: 'x &y'\nc: \"&z\"\n",
    "numbers as strings": "a: '0123'\nb: \"1e3\"\nc: '.inf'\nd: 'true'\n",
}


@pytest.mark.parametrize("case", sorted(DECIDED))
def test_tricky_yaml_read_by_the_c_path(case: str) -> None:
    assert assert_same(DECIDED[case]) == "c", case


# ruamel decides (or fails): the outcome must still be ruamel's, message for message.
UNDECIDED = {
    "merge key": "base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n",
    "merge list": "a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n",
    "explicit str tag": "a: !!str 123\nb: !!int '7'\n",
    "non-specific tag": "a: ! 12\nb: ! 'x'\n",
    "custom tag": "a: !Ref x\nb: !Sub [1, 2]\nc: !Map {k: v}\n",
    "anchored tag": "a: &x !!str 1\nb: *x\n",
    "timestamp": "a: 2024-01-02\nb: 2001-12-14t21:59:43.10-05:00\n",
    "value key": "=: 1\n",
    "directive 1.1": "%YAML 1.1\n---\na: yes\nb: 0123\n",
    "directive 1.2": "%YAML 1.2\n---\na: yes\n",
    "duplicate key": "a: 1\nb: 2\na: 3\n",
    "duplicate nested key": "a:\n  b: 1\n  b: 2\n",
    "duplicate int keys": "1: a\n0x1: b\n",
    "duplicate bool and int": "1: a\ntrue: b\n",
    "duplicate quoted": "a: 1\n'a': 2\n",
    "float key": "1.5: a\n",
    "int key": "1: a\n",
    "hex key": "a:\n  0x10: b\n",
    "bool key": "x: 1\nfalse: c\n",
    "null key": "~: d\n",
    "negative key": "-1: h\n",
    "infinity": "a: [1, .inf]\n",
    "negative infinity": "a:\n  b: -.inf\n",
    "not a number": "a: .NaN\n",
    "negative nan": "o: -.nan\n",
    "nul escape": 'a: "x\\0y"\n',
    "bell escape in a key": '"\\a": 1\n',
    "complex key": "? [a, b]\n: 1\n",
    "flow syntax error": "a: [5\nb: 1\n",
    "bad indentation": "a:\n  b: 1\n c: 2\n",
    "tab indentation": "a:\n\tb: 1\n",
    "unclosed quote": "a: 'x\n",
    "undefined alias": "a: *nope\n",
    "several documents": "a: 1\n---\nb: 2\n",
    "error in a later document": "a: 1\n---\nb: [\n",
    "recursive alias": "a: &a\n  b: *a\n",
    "bad escape": 'a: "\\q"\n',
    "control character": "a: \x07\n",
    "mapping in plain": "a: b: c\n",
    "duplicate anchor": "a: &x 1\nb: &x 2\nc: *x\n",
    "underscore int": "a: _\n",
    "zero-b int": "a: 0b_\n",
    "tabs in values": "a: \"x\\ty\"\nb: 'tab\there'\nc: x\ty\n",
    "tab in a quoted value": "a: 'tab\there'\n",
    "line separator": "a: x\u2028y\nb: 1\n",
    "next line": "a: x\x85y\nb: 1\n",
}


@pytest.mark.parametrize("case", sorted(UNDECIDED))
def test_tricky_yaml_left_to_ruamel_comes_out_as_ruamel_reads_it(case: str) -> None:
    assert_same(UNDECIDED[case])
