"""The bad-input corpus: every case is a mutation of the bundled example (a config repo with a rendered
tree, a GitOps repo beside it), the command to run, the exit code it must give and a fragment of its
message. tests/corpus/test_corpus.py runs them all and checks that nothing anywhere changed.

Two kinds of cases:
- written by hand (`HAND_WRITTEN`), by category: YAML, encodings, names and paths, numbers and durations,
  credentials, file-system situations, each command's flags;
- generated from the two spec schemas (`schema_cases`): every field of a service spec and of an
  environment file gets a wrong type and, where the schema bounds it, a value out of range, an empty one
  and one too long.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = "services/reviews.yaml"
PAGE = "services/productpage.yaml"
ENV = "environments/demo.yaml"

Mutation = Callable[[Path], None]  # edits the case's folder: cfg/ (the config repo), gitops.git, outside/


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    mutate: Mutation
    code: int
    expect: str  # a fragment of what the command prints (stderr, then stdout)
    command: tuple[str, ...] = ("render", "--config", "{cfg}", "--cache-dir", "{root}/cache")
    located: bool = False  # the first line is `file:line:column: ...`
    needs: str = ""  # "tmpfs": a small tmpfs mounted at the output folder (root only)
    fsize: int = 0  # RLIMIT_FSIZE for the command (run as a subprocess then)
    unreadable: bool = False  # chmod means something: run as nobody when the tests run as root


# ---- mutations ------------------------------------------------------------------------------------------


def edit(relative: str, old: str, new: str, count: int = 1) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / "cfg" / relative
        text = path.read_text(encoding="utf-8")
        assert old in text, (relative, old)
        path.write_text(text.replace(old, new, count), encoding="utf-8")

    return mutate


def write(relative: str, content: str | bytes) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / "cfg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")

    return mutate


def append(relative: str, text: str) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / "cfg" / relative
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")

    return mutate


def transform(relative: str, change: Callable[[bytes], bytes]) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / "cfg" / relative
        path.write_bytes(change(path.read_bytes()))

    return mutate


def set_value(relative: str, path: tuple[str | int, ...], value: Any) -> Mutation:
    """Set `path` in the file's data to `value` (creating maps and first list items on the way); the file
    is written back as plain YAML (its comments go)."""

    def mutate(root: Path) -> None:
        file = root / "cfg" / relative
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        node: Any = data
        for part, following in zip(path, (*path[1:], None), strict=True):
            if following is None:
                break
            if isinstance(node, list):
                while len(node) <= int(part):
                    node.append([] if isinstance(following, int) else {})
                if not isinstance(node[int(part)], dict | list):
                    node[int(part)] = [] if isinstance(following, int) else {}
                node = node[int(part)]
            else:
                if not isinstance(node.get(part), dict | list):
                    node[part] = [] if isinstance(following, int) else {}
                node = node[part]
        last = path[-1]
        if isinstance(node, list):
            while len(node) <= int(last):
                node.append(None)
            node[int(last)] = value
        else:
            node[last] = value
        file.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(root: Path) -> None:
        for mutation in mutations:
            mutation(root)

    return mutate


def remove(relative: str) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / "cfg" / relative
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()

    return mutate


def symlink(relative: str, target: str) -> Mutation:
    """`relative` (in cfg/) becomes a link to `target`: `{root}` is the case's folder."""

    def mutate(root: Path) -> None:
        path = root / "cfg" / relative
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        path.symlink_to(target.replace("{root}", str(root)))

    return mutate


def move_out(relative: str) -> Mutation:
    """Move a folder of cfg/ to outside/ and leave a link to it in its place."""

    def mutate(root: Path) -> None:
        path = root / "cfg" / relative
        outside = root / "outside" / path.name
        shutil.move(path, outside)
        path.symlink_to(outside)

    return mutate


def chmod(relative: str, mode: int) -> Mutation:
    return lambda root: (root / "cfg" / relative).chmod(mode)


def make_fifo(relative: str) -> Mutation:
    return lambda root: os.mkfifo(root / "cfg" / relative)


def make_dir(relative: str) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / "cfg" / relative
        if path.exists():
            path.unlink()
        path.mkdir(parents=True)

    return mutate


def rename(relative: str, new: str) -> Mutation:
    return lambda root: (root / "cfg" / relative).rename(root / "cfg" / new)


def gitops_clone(change: Callable[[Path], None], push: bool) -> Mutation:
    """Clone the GitOps repo to work/, `change` it there and commit (and push it back, as a pull request
    someone merged would)."""

    def mutate(root: Path) -> None:
        def git(*args: str) -> None:
            subprocess.run(["git", *args], cwd=root / "work", check=True, capture_output=True)

        subprocess.run(
            ["git", "clone", "-q", str(root / "gitops.git"), str(root / "work")],
            check=True,
            capture_output=True,
        )
        change(root)
        git("add", "-A")
        git("-c", "user.name=x", "-c", "user.email=x@x", "commit", "-q", "-m", "a link")
        if push:
            git("push", "-q", "origin", "HEAD")

    return mutate


def link_in_clone(relative: str, target: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / "work" / relative
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        path.symlink_to(target.replace("{root}", str(root)))

    return change


def nothing(root: Path) -> None:
    del root


# ---- hand-written cases -----------------------------------------------------------------------------------

RENDER = Case.__dataclass_fields__["command"].default
CHECK = (*RENDER, "--check")
VALIDATE = ("validate", "--validator", "builtin", "--no-cache", "{cfg}/rendered")
DIFF = ("diff", "--config", "{cfg}")
PUBLISH = ("publish", "--config", "{cfg}", "--repo", "{root}/gitops.git", "--push")


def _billion_laughs() -> str:
    text = 'lol: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for level in range(1, 9):
        text += f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]\n"
    return text


def _hand_written() -> Iterator[Case]:
    def case(category: str, id: str, mutate: Mutation, code: int, expect: str, **kw: Any) -> Case:
        return Case(f"{category}: {id}", category, mutate, code, expect, **kw)

    # -- YAML ---------------------------------------------------------------------------------------------
    yml = "yaml"
    located = {"located": True}
    yield case(
        yml,
        "unclosed flow list",
        edit(SPEC, "replicas: 5", "replicas: [5"),
        2,
        "services/reviews.yaml:6:7: YAML syntax error",
        **located,
    )
    yield case(
        yml, "unclosed quote", edit(SPEC, "replicas: 5", "replicas: '5"), 2, "YAML syntax error", **located
    )
    yield case(
        yml,
        "bad indentation",
        edit(SPEC, "  failureLimit: 3", "   failureLimit: 3"),
        2,
        "YAML syntax error",
        **located,
    )
    yield case(
        yml,
        "tab indentation",
        edit(SPEC, "  failureLimit: 3", "\tfailureLimit: 3"),
        2,
        "services/reviews.yaml:23:1: YAML syntax error: while scanning for the next token: found character '\\t'",
        **located,
    )
    yield case(
        yml,
        "duplicate key",
        edit(SPEC, "replicas: 5", "replicas: 5\nreplicas: 6"),
        2,
        "found duplicate key",
        **located,
    )
    yield case(
        yml,
        "duplicate key in an environment",
        edit(ENV, "cluster: cp-cluster-1", "cluster: a\ncluster: b"),
        2,
        "environments/demo.yaml:4:1: YAML syntax error: while constructing a mapping: found duplicate key",
        **located,
    )
    yield case(
        yml,
        "two documents",
        append(SPEC, "---\nname: other\n"),
        2,
        "services/reviews.yaml:1:1: expected one YAML document, found several",
        **located,
    )
    yield case(
        yml,
        "a document after an empty one",
        append(ENV, "---\ncluster: x\n"),
        2,
        "expected one YAML document, found several",
        **located,
    )
    yield case(
        yml,
        "undefined alias",
        edit(SPEC, "replicas: 5", "replicas: *nope"),
        2,
        "found undefined alias 'nope'",
        **located,
    )
    yield case(
        yml,
        "duplicate anchor",
        edit(SPEC, "replicas: 5", "a: &x 1\nb: &x 2\nreplicas: 5"),
        2,
        "services/reviews.yaml:6:4: anchor &x is defined twice (first on line 5)",
        **located,
    )
    yield case(
        yml,
        "anchor and alias of an unknown key",
        edit(SPEC, "replicas: 5", "base: &b 5\nreplicas: *b"),
        2,
        "services/reviews.yaml:5:1: base: unknown key 'base'",
        **located,
    )
    yield case(
        yml,
        "merge key bringing an unknown key",
        edit(SPEC, "replicas: 5", "x: &b {replicas: 5}\n<<: *b"),
        2,
        "x: unknown key 'x'",
        **located,
    )
    yield case(
        yml,
        "merge key of a wrong type",
        edit(SPEC, "analysis:\n", "analysis:\n  <<: {minDataPoints: lots}\n"),
        2,
        'analysis.minDataPoints: expected integer, got string "lots"',
        **located,
    )
    # ruamel reads an alias inside its own anchor as null
    yield case(
        yml,
        "recursive alias",
        edit(SPEC, "  steps:\n", "  steps: &a [*a]\n  x:\n"),
        2,
        "canary.steps[0]: expected object, got null",
        **located,
    )
    yield case(
        yml,
        "python object tag",
        edit(SPEC, "replicas: 5", "replicas: !!python/object:os.system 5"),
        2,
        "services/reviews.yaml:5:11: replicas: YAML tag !!python/object:os.system is not allowed",
        **located,
    )
    yield case(
        yml,
        "python object tag on a map",
        edit(SPEC, "canary:\n", "canary: !!python/object/new:os.system\n"),
        2,
        "YAML tag !!python/object/new:os.system is not allowed",
        **located,
    )
    yield case(
        yml,
        "custom tag",
        edit(ENV, "cluster: cp-cluster-1", "cluster: !Ref cp-cluster-1"),
        2,
        "environments/demo.yaml:3:10: cluster: YAML tag !Ref is not allowed",
        **located,
    )
    yield case(
        yml,
        "binary",
        edit(SPEC, "replicas: 5", "replicas: !!binary NQ=="),
        2,
        "replicas: binary or set YAML is not allowed",
        **located,
    )
    yield case(
        yml,
        "set",
        edit(SPEC, "replicas: 5", "replicas: !!set {5}"),
        2,
        "binary or set YAML is not allowed",
        **located,
    )
    yield case(
        yml,
        "complex key",
        edit(SPEC, "replicas: 5", "? [replicas]\n: 5"),
        2,
        "a complex key (a list or map as key) is not allowed",
        **located,
    )
    yield case(
        yml,
        "integer key in a selector",
        edit(SPEC, "replicas: 5", "replicas: 5\nselector: {1: reviews}"),
        2,
        "services/reviews.yaml:6:12: selector.1: key 1 is read as an integer, not as a string (quote it: '1':)",
        **located,
    )
    yield case(
        yml,
        "boolean key in labels",
        edit(ENV, "defaults:", "namespaces:\n  labels: {true: x}\ndefaults:"),
        2,
        "namespaces.labels.true: key true is read as a boolean",
        **located,
    )
    yield case(
        yml,
        "null key",
        edit(SPEC, "replicas: 5", "replicas: 5\nselector: {~: x}"),
        2,
        "selector.null: key null is read as null",
        **located,
    )
    yield case(
        yml,
        "timestamp where a string belongs",
        edit(ENV, "cluster: cp-cluster-1", "cluster: 2024-01-01"),
        2,
        "cluster: expected string, got date",
        **located,
    )
    yield case(
        yml,
        "not a number",
        edit(SPEC, "threshold: 0.99", "threshold: .nan"),
        2,
        "services/reviews.yaml:25:16: analysis.apdex.threshold: nan is not a number any field takes",
        **located,
    )
    yield case(
        yml,
        "infinity",
        edit(SPEC, "threshold: 0.99", "threshold: .inf"),
        2,
        "analysis.apdex.threshold: inf is not a number any field takes",
        **located,
    )
    yield case(
        yml,
        "negative infinity in a metric",
        edit(
            SPEC,
            "  apdex:\n    threshold: 0.99",
            "  metrics:\n    - {name: x, metric: service_sla, min: -.inf}",
        ),
        2,
        "analysis.metrics[0].min: -inf is not a number any field takes",
        **located,
    )
    yield case(
        yml,
        "NUL escape in a value",
        edit(SPEC, "threshold: 0.99", 'threshold: 0.99\n    successCondition: "a\\0b"'),
        2,
        "analysis.apdex.successCondition: the value holds the control character U+0000",
        **located,
    )
    yield case(
        yml,
        "bell escape in a key",
        edit(SPEC, "replicas: 5", 'replicas: 5\nselector: {"\\a": x}'),
        2,
        "the value holds the control character U+0007",
        **located,
    )
    yield case(
        yml,
        "%YAML 1.1 directive",
        write(SPEC, "%YAML 1.1\n---\nname: reviews\nnamespace: bookinfo\nreplicas: yes\n"),
        2,
        "replicas: expected integer, got boolean true",
        **located,
    )
    yield case(
        yml,
        "alias bomb in a spec",
        append(SPEC, _billion_laughs()),
        2,
        "more than 100,000 values once its YAML aliases are expanded",
        **located,
    )
    yield case(
        yml,
        "alias bomb in an environment file",
        append(ENV, _billion_laughs()),
        2,
        "environments/demo.yaml:",
        **located,
    )
    yield case(
        yml,
        "10,000 nested flow lists",
        edit(SPEC, "replicas: 5", "replicas: " + "[" * 10_000 + "]" * 10_000),
        2,
        "services/reviews.yaml:5:",
        **located,
    )
    yield case(
        yml,
        "10,000 nested flow maps",
        edit(SPEC, "replicas: 5", "replicas: " + "{a: " * 10_000 + "1" + "}" * 10_000),
        2,
        "maps and lists nested more than 64 deep",
        **located,
    )
    yield case(
        yml,
        "10,000 nested block maps (50 MB of indentation)",
        append(ENV, "".join(f"{' ' * i}k{i}:\n" for i in range(10_000)) + " " * 10_000 + "x: 1\n"),
        2,
        "environments/demo.yaml:1:1: file is 50,074,596 bytes, more than the 1,048,576",
        **located,
    )
    yield case(
        yml,
        "1,000 nested block maps",
        append(ENV, "".join(f"{' ' * i}k{i}:\n" for i in range(1_000)) + " " * 1_000 + "x: 1\n"),
        2,
        "maps and lists nested more than 64 deep",
        **located,
    )
    yield case(
        yml,
        "a 50 MB comment",
        append(SPEC, "# " + "x" * 50_000_000 + "\n"),
        2,
        "services/reviews.yaml:1:1: file is 50,00",
        **located,
    )
    yield case(
        yml,
        "a 2 MB environment file",
        append(ENV, "# " + "x" * 2_000_000 + "\n"),
        2,
        "more than the 1,048,576 a spec or environment file may have",
        **located,
    )
    yield case(
        yml,
        "empty spec",
        write(SPEC, ""),
        2,
        "services/reviews.yaml:1:1: expected a mapping (a service spec)",
        **located,
    )
    yield case(
        yml, "only comments", write(SPEC, "# nothing\n"), 2, "expected a mapping (a service spec)", **located
    )
    yield case(
        yml,
        "a list as spec",
        write(SPEC, "- name: reviews\n"),
        2,
        "expected a mapping (a service spec)",
        **located,
    )
    yield case(
        yml,
        "a string as environment",
        write(ENV, "demo\n"),
        2,
        "environments/demo.yaml:1:1: expected a mapping (an environment file)",
        **located,
    )
    yield case(
        yml,
        "a 1 MB success condition",
        edit(SPEC, "threshold: 0.99", "successCondition: '" + "a" * 900_000 + "'"),
        2,
        "analysis.apdex.successCondition: expected at most 10000 character(s)",
        **located,
    )

    # -- encodings ------------------------------------------------------------------------------------------
    enc = "encoding"
    yield case(
        enc,
        "a byte that is not UTF-8",
        transform(SPEC, lambda b: b.replace(b"bookinfo", b"book\xffinfo")),
        2,
        "services/reviews.yaml:4:16: byte 0xff is not UTF-8 (save the file as UTF-8)",
        **located,
    )
    yield case(
        enc,
        "Latin-1 é",
        transform(ENV, lambda b: b.replace(b"tetrate\n", b"t\xe9trate\n")),
        2,
        "environments/demo.yaml:10:18: byte 0xe9 is not UTF-8",
        **located,
    )
    yield case(
        enc,
        "a truncated UTF-8 sequence at the end",
        transform(SPEC, lambda b: b + b"# \xe2\x82"),
        2,
        "is not UTF-8",
        **located,
    )
    yield case(
        enc,
        "UTF-16 LE with BOM",
        transform(SPEC, lambda b: b.decode().encode("utf-16")),
        2,
        "services/reviews.yaml:1:1: the file is UTF-16 (it starts with a UTF-16 byte-order mark) (save it as UTF-8)",
        **located,
    )
    yield case(
        enc,
        "UTF-16 BE with BOM",
        transform(ENV, lambda b: b"\xfe\xff" + b.decode().encode("utf-16-be")),
        2,
        "environments/demo.yaml:1:1: the file is UTF-16",
        **located,
    )
    yield case(
        enc,
        "UTF-32 with BOM",
        transform(SPEC, lambda b: b.decode().encode("utf-32")),
        2,
        "the file is UTF-32",
        **located,
    )
    yield case(
        enc,
        "UTF-16 without BOM",
        transform(SPEC, lambda b: b.decode().encode("utf-16-le")),
        2,
        "services/reviews.yaml:1:2: character U+0000 is not allowed in YAML (a NUL byte)",
        **located,
    )
    yield case(
        enc,
        "a raw NUL byte",
        transform(SPEC, lambda b: b.replace(b"bookinfo", b"book\x00info")),
        2,
        "services/reviews.yaml:4:16: character U+0000 is not allowed in YAML (a NUL byte)",
        **located,
    )
    yield case(
        enc,
        "a DEL character",
        transform(ENV, lambda b: b.replace(b"tetrate\n", b"tetrate\x7f\n")),
        2,
        "character U+007F is not allowed in YAML",
        **located,
    )
    yield case(
        enc,
        "a C1 control",
        transform(SPEC, lambda b: b.replace(b"reviews ships", "reviews\u0090ships".encode())),
        2,
        "character U+0090 is not allowed in YAML",
        **located,
    )
    yield case(
        enc,
        "an escape character",
        transform(SPEC, lambda b: b.replace(b"namespace: bookinfo", b"namespace: book\x1binfo")),
        2,
        "character U+001B is not allowed in YAML",
        **located,
    )

    # -- nulls: a null removes a value a lower layer set, so it is a mistake only where nothing may be
    # removed (a required key, a list item, a key that says which one)
    null = "nulls"
    for relative, path, expect in (
        (SPEC, ("name",), "services/reviews.yaml:1:1: name: null removes the required key 'name'"),
        (
            SPEC,
            ("namespace",),
            "services/reviews.yaml:2:1: namespace: null removes the required key 'namespace'",
        ),
        (SPEC, ("canary", "steps", 0), "canary.steps[0]: expected object, got null"),
        (
            SPEC,
            ("canary", "steps", 0, "setWeight"),
            "services/reviews.yaml:6:16: canary.steps[0].setWeight: expected integer, got null",
        ),
        (PAGE, ("ingress", "hosts", 0), "ingress.hosts[0]: expected string, got null"),
        (PAGE, ("mesh", "subsets", 0, "name"), "mesh.subsets[0].name: expected string, got null"),
        (ENV, ("cluster",), "environments/demo.yaml:1:10: cluster: expected string, got null"),
        (ENV, ("gitops", "repoURL"), "gitops.repoURL: expected string, got null"),
        (ENV, ("gateways", 0, "name"), "gateways[0].name: expected string, got null"),
        (
            ENV,
            ("gateways", 0, "servers", 0, "port"),
            "gateways[0].servers[0].port: expected integer, got null",
        ),
        (
            ENV,
            ("gateways", 0, "servers", 0, "hosts", 0),
            "gateways[0].servers[0].hosts[0]: expected string, got null",
        ),
        (ENV, ("gitops",), "gitops: expected object, got null"),
    ):
        yield case(
            null,
            f"{relative} {'.'.join(map(str, path))}: null",
            set_value(relative, path, None),
            2,
            expect,
            **located,
        )

    for id, mutation, expect in (
        (
            "a misspelt key set to null",
            edit(SPEC, "  failureLimit: 3", "  failureLimt: null"),
            "analysis.failureLimt: unknown key 'failureLimt' (did you mean 'failureLimit'?)",
        ),
        (
            "a misspelt key set to null in defaults",
            edit(ENV, "defaults:", "defaults:\n  replics: null"),
            "defaults.replics: unknown key 'replics'",
        ),
        (
            "a misspelt key set to null in an override",
            edit(ENV, "defaults:", "services:\n  reviews:\n    replics: null\ndefaults:"),
            "services.reviews.replics: unknown key 'replics'",
        ),
        (
            "a null in a list item",
            edit(
                SPEC,
                "  apdex:\n    threshold: 0.99",
                "  metrics:\n    - {name: sla, metric: service_sla, min: 0.99, max: null}",
            ),
            "analysis.metrics[0].max: expected number, got null",
        ),
        (
            "a null beside a step's weight",
            edit(SPEC, "- setWeight: 10", "- {setWeight: 10, pause: null}"),
            "canary.steps[0]: expected exactly one key, got pause, setWeight",
        ),
        (
            "an unknown rule acknowledged with null",
            edit(SPEC, "acknowledge:", "acknowledge:\n  GG9: null"),
            'acknowledge.GG9: invalid key "GG9"',
        ),
    ):
        yield case(null, id, mutation, 2, expect, **located)

    # -- names and paths ----------------------------------------------------------------------------------
    nam = "names"
    yield case(
        nam,
        "environment file ..yaml",
        lambda r: shutil.copy(r / "cfg" / ENV, r / "cfg/environments/..yaml"),
        2,
        "environments/..yaml: the environment's name is its file's name, and '.' is not a DNS-1123 label",
    )
    yield case(
        nam,
        "environment file ...yaml",
        lambda r: shutil.copy(r / "cfg" / ENV, r / "cfg/environments/...yaml"),
        2,
        "environments/...yaml: the environment's name is its file's name, and '..' is not a DNS-1123 label",
    )
    yield case(
        nam,
        "environment .yaml",
        lambda r: shutil.copy(r / "cfg" / ENV, r / "cfg/environments/.yaml"),
        2,
        "'.yaml' is not a DNS-1123 label",
    )
    for bad in ("Demo", "de mo", "démo", "-demo", "demo-", "de_mo", "d" * 64):
        yield case(
            nam,
            f"environment named {bad[:20]!r}",
            rename(ENV, f"environments/{bad}.yaml"),
            2,
            "the environment's name is its file's name",
        )
    yield case(
        nam,
        "environment of 200 characters",
        rename(ENV, f"environments/{'d' * 200}.yaml"),
        2,
        "is 200 characters, more than a DNS-1123 label may have (63)",
    )
    for field_, value in (
        ("tenant", "../../../x"),
        ("organization", "Tetrate"),
        ("workspace", "a/b"),
        ("trafficGroup", "x" * 254),
        ("securityGroup", ".hidden"),
        ("gatewayGroup", "a..b"),
    ):
        yield case(
            nam,
            f"tsb.{field_} {value[:12]!r}",
            set_value(ENV, ("tsb", field_), value),
            2,
            f"tsb.{field_}: ",
            **located,
        )
    yield case(
        nam,
        "tenancyNamespace with a slash",
        edit(ENV, "tsb:\n", "tsb:\n  tenancyNamespace: ../x\n"),
        2,
        'tsb.tenancyNamespace: invalid value "../x"',
        **located,
    )
    yield case(
        nam,
        "service name with upper case",
        both(edit(SPEC, "name: reviews", "name: Reviews"), rename(SPEC, "services/Reviews.yaml")),
        2,
        'services/Reviews.yaml:3:7: name: invalid value "Reviews"',
        **located,
    )
    yield case(
        nam,
        "service name of 64 characters",
        both(edit(SPEC, "name: reviews", f"name: {'r' * 64}"), rename(SPEC, f"services/{'r' * 64}.yaml")),
        2,
        "name: expected at most 63 character(s)",
        **located,
    )
    yield case(
        nam,
        "service name differs from its file",
        edit(SPEC, "name: reviews", "name: ratings-v2"),
        2,
        'services/reviews.yaml:3:7: name: name "ratings-v2" differs from the file name reviews.yaml',
        **located,
    )
    yield case(
        nam,
        "reserved service name",
        write("services/tsb.yaml", "name: tsb\nnamespace: bookinfo\n"),
        2,
        'services/tsb.yaml:1:7: name: the service name "tsb" is reserved',
        **located,
    )
    yield case(
        nam,
        "namespace with a dot",
        edit(SPEC, "namespace: bookinfo", "namespace: book.info"),
        2,
        'namespace: invalid value "book.info"',
        **located,
    )
    yield case(
        nam,
        "namespace null in an override",
        edit(ENV, "defaults:", "services:\n  reviews:\n    namespace: null\ndefaults:"),
        2,
        "environments/demo.yaml:25:16: namespace: null removes the required key 'namespace'",
        **located,
    )
    yield case(
        nam,
        "name null in an override",
        edit(ENV, "defaults:", "services:\n  reviews:\n    name: null\ndefaults:"),
        2,
        "environments/demo.yaml:25:11: name: null removes the required key 'name'",
        **located,
    )
    yield case(
        nam,
        "an override renames the service",
        edit(ENV, "defaults:", "services:\n  reviews:\n    name: other\ndefaults:"),
        2,
        "name: renames the service 'reviews' to 'other'",
        **located,
    )
    yield case(
        nam,
        "override for an unknown service",
        edit(ENV, "defaults:", "services:\n  reveiws:\n    replicas: 2\ndefaults:"),
        2,
        "services.reveiws: override for unknown service 'reveiws' (did you mean 'reviews'?)",
        **located,
    )
    yield case(
        nam,
        "override key that is no name",
        edit(ENV, "defaults:", "services:\n  Re/views:\n    replicas: 2\ndefaults:"),
        2,
        'services.Re/views: invalid key "Re/views"',
        **located,
    )
    yield case(
        nam,
        "rollout name with a slash",
        edit(SPEC, "canary:\n", "canary:\n  rolloutName: a/b\n"),
        2,
        'canary.rolloutName: invalid value "a/b"',
        **located,
    )
    yield case(
        nam,
        "rolloutName of 254 characters",
        edit(SPEC, "canary:\n", f"canary:\n  rolloutName: {'r' * 254}\n"),
        2,
        "canary.rolloutName: expected at most 253 character(s)",
        **located,
    )
    yield case(
        nam,
        "templateName of 254 characters",
        edit(SPEC, "templateName: apdex", f"templateName: {'a' * 254}"),
        2,
        "analysis.templateName: expected at most 253 character(s)",
        **located,
    )
    yield case(
        nam,
        "gateway name with upper case",
        edit(ENV, "  - name: bookinfo-gateway", "  - name: Bookinfo"),
        2,
        'gateways[0].name: invalid value "Bookinfo"',
        **located,
    )
    yield case(
        nam,
        "ingress to an unknown gateway",
        edit(PAGE, "gateway: bookinfo-gateway", "gateway: bookinfo-gw"),
        2,
        "services/productpage.yaml:13:12: ingress.gateway: no gateway 'bookinfo-gw' in environment 'demo'",
        **located,
    )
    yield case(
        nam,
        "subset name with a dot",
        edit(PAGE, "    - name: v1", "    - name: v.1"),
        2,
        'mesh.subsets[0].name: invalid value "v.1"',
        **located,
    )
    yield case(
        nam,
        "label value of 64 characters",
        edit(PAGE, "labels: {version: v1}", f"labels: {{version: {'v' * 64}}}"),
        2,
        "mesh.subsets[0].labels.version: expected at most 63 character(s)",
        **located,
    )
    yield case(
        nam,
        "label key with a space",
        edit(PAGE, "labels: {version: v1}", "labels: {'my version': v1}"),
        2,
        "mesh.subsets[0].labels.my version: invalid key",
        **located,
    )
    yield case(
        nam,
        "version label that is no label",
        edit(SPEC, "canary:\n", "canary:\n  versionLabel: my version\n"),
        2,
        'canary.versionLabel: invalid value "my version"',
        **located,
    )
    yield case(
        nam,
        "selector pins the version label",
        edit(SPEC, "replicas: 5", "replicas: 5\nselector: {app: reviews, version: stable}"),
        2,
        "services/reviews.yaml:6:35: selector.version: the selector pins 'version'",
        **located,
    )
    yield case(
        nam,
        "gitops.path ../../etc",
        edit(ENV, "path: rendered", "path: ../../etc"),
        2,
        "environments/demo.yaml:6:9: gitops.path: '../../etc' has an empty, '.' or '..' part",
        **located,
    )
    yield case(
        nam, "gitops.path absolute", edit(ENV, "path: rendered", "path: /etc"), 2, "gitops.path: ", **located
    )
    yield case(
        nam,
        "gitops.path with a backslash",
        edit(ENV, "path: rendered", "path: 'a\\b'"),
        2,
        "gitops.path: 'a\\\\b' holds a space, a backslash or a control character",
        **located,
    )
    yield case(
        nam,
        "gitops.path a/./b",
        edit(ENV, "path: rendered", "path: a/./b"),
        2,
        "has an empty, '.' or '..' part",
        **located,
    )
    yield case(
        nam,
        "gitops.branch starting with -",
        edit(ENV, "path: rendered", "path: rendered\n  branch: '--upload-pack=touch /tmp/x'"),
        2,
        "gitops.branch: '--upload-pack=touch /tmp/x' starts with '-' (git would read it as an option)",
        **located,
    )
    yield case(
        nam,
        "gitops.branch with ..",
        edit(ENV, "path: rendered", "path: rendered\n  branch: a..b"),
        2,
        "gitops.branch: 'a..b' is not a branch name git accepts",
        **located,
    )
    yield case(
        nam,
        "gitops.branch ending in .lock",
        edit(ENV, "path: rendered", "path: rendered\n  branch: main.lock"),
        2,
        "is not a branch name git accepts",
        **located,
    )
    yield case(
        nam,
        "targetRevision other than the branch",
        edit(ENV, "path: rendered", "path: rendered\n  targetRevision: HEAD"),
        2,
        "gitops.targetRevision: targetRevision 'HEAD' is not the branch 'main'",
        **located,
    )
    yield case(
        nam,
        "ingress host with a space",
        edit(PAGE, "hosts: [bookinfo.tetrate.com]", "hosts: ['bookinfo tetrate.com']"),
        2,
        "ingress.hosts[0]: domain name 'bookinfo tetrate.com' invalid (label 'bookinfo tetrate' invalid)",
        **located,
    )
    yield case(
        nam,
        "ingress host with a wildcard inside",
        edit(PAGE, "hosts: [bookinfo.tetrate.com]", "hosts: ['a.*.com']"),
        2,
        "ingress.hosts[0]: domain name 'a.*.com' invalid (label '*' invalid)",
        **located,
    )
    yield case(
        nam,
        "ingress host all-numeric top level",
        edit(PAGE, "hosts: [bookinfo.tetrate.com]", "hosts: ['10.0.0.1']"),
        2,
        "top level domain '1' cannot be all-numeric",
        **located,
    )
    yield case(
        nam,
        "gateway host ../x",
        edit(ENV, "hosts: [bookinfo.tetrate.com]", "hosts: ['../x']"),
        2,
        "gateways[0].servers[0].hosts[0]: '../x': the namespace '..' before '/' is not '*', '.' or a namespace name",
        **located,
    )
    yield case(
        nam,
        "argocd.server without a scheme",
        edit(SPEC, "replicas: 5", "replicas: 5\nargocd: {server: kubernetes.default.svc}"),
        2,
        "argocd.server: 'kubernetes.default.svc' is not an http(s) URL of a cluster's API server",
        **located,
    )
    yield case(
        nam,
        "argocd.hubServer with a newline",
        edit(ENV, "defaults:", 'argocd:\n  hubServer: "https://a\\nkind: Secret"\ndefaults:'),
        2,
        "argocd.hubServer: 'https://a\\nkind: Secret' holds a space or a control character",
        **located,
    )
    yield case(
        nam,
        "workloadRef.apiVersion with a space",
        edit(SPEC, "replicas: 5", "replicas: 5\nworkloadRef: {apiVersion: apps v1}"),
        2,
        'workloadRef.apiVersion: invalid value "apps v1" (group/version, e.g. apps/v1)',
        **located,
    )
    yield case(
        nam,
        "prefix path with a space",
        edit(PAGE, "- prefix: /static", "- prefix: /sta tic"),
        2,
        'ingress.paths[1].prefix: invalid value "/sta tic"',
        **located,
    )
    yield case(
        nam,
        "exact path without a slash",
        edit(PAGE, "- exact: /login", "- exact: login"),
        2,
        'ingress.paths[2].exact: invalid value "login"',
        **located,
    )

    # -- numbers and durations ----------------------------------------------------------------------------
    num = "numbers"
    for value, expect in (
        ("2147483648", "expected a number <= 2147483647, got 2147483648"),
        ("1" + "0" * 30, "expected a number <= 2147483647"),
        ("-1", "expected a number >= 0, got -1"),
        ("1e3", "expected integer, got number 1000.0"),
        ("5.0", "expected integer, got number 5.0"),
        ("five", 'expected integer, got string "five"'),
        ("yes", 'expected integer, got string "yes"'),
        ("0x7fffffffffffffff", "expected a number <= 2147483647"),
    ):
        yield case(
            num,
            f"replicas {value[:12]}",
            edit(SPEC, "replicas: 5", f"replicas: {value}"),
            2,
            f"replicas: {expect}",
            **located,
        )
    yield case(
        num,
        "failureLimit beyond int32",
        edit(SPEC, "failureLimit: 3", "failureLimit: 99999999999"),
        2,
        "analysis.failureLimit: expected a number <= 2147483647",
        **located,
    )
    yield case(
        num,
        "startingStep beyond the steps",
        edit(SPEC, "startingStep: 2", "startingStep: 10"),
        2,
        "analysis.startingStep: step 10 does not exist (the canary has steps 0 to 9)",
        **located,
    )
    yield case(
        num,
        "weight above 100",
        edit(SPEC, "setWeight: 80", "setWeight: 120"),
        2,
        "services/reviews.yaml:16:18: canary.steps[8].setWeight: expected a number <= 100, got 120",
        **located,
    )
    yield case(
        num,
        "weight 10.5",
        edit(SPEC, "setWeight: 10", "setWeight: 10.5"),
        2,
        "expected integer, got number 10.5",
        **located,
    )
    yield case(
        num,
        "weight true",
        edit(SPEC, "setWeight: 10", "setWeight: true"),
        2,
        "expected integer, got boolean true",
        **located,
    )
    yield case(
        num,
        "weights not increasing",
        edit(SPEC, "setWeight: 20", "setWeight: 90"),
        2,
        "canary.steps[4].setWeight: weight 40 does not increase on the previous 90",
        **located,
    )
    yield case(
        num,
        "threshold above 1",
        edit(SPEC, "threshold: 0.99", "threshold: 99"),
        2,
        "analysis.apdex.threshold: expected a number <= 1, got 99",
        **located,
    )
    yield case(
        num,
        "threshold 0",
        edit(SPEC, "threshold: 0.99", "threshold: 0"),
        2,
        "expected a number > 0, got 0",
        **located,
    )
    yield case(
        num,
        "port 0",
        edit(ENV, "port: 80", "port: 0"),
        2,
        "gateways[0].servers[0].port: expected a number >= 1, got 0",
        **located,
    )
    yield case(
        num, "port 65536", edit(ENV, "port: 80", "port: 65536"), 2, "expected a number <= 65535", **located
    )
    yield case(
        num,
        "retry limit beyond int64",
        edit(SPEC, "replicas: 5", "replicas: 5\nargocd: {retry: {limit: 9223372036854775808}}"),
        2,
        "argocd.retry.limit: expected a number <= 9223372036854775807",
        **located,
    )
    for value, expect in (
        ("0s", "0s is no time at all: a duration must be longer than 0"),
        ("3000000h", "3000000h is longer than Go's largest duration (2562047h47m16s)"),
        (
            "700000h",
            "700000h is longer than a pause may be (596523h14m7s: Argo Rollouts reads a pause as int32 seconds)",
        ),
        ("10 minutes", 'invalid value "10 minutes"'),
        ("1d", 'invalid value "1d"'),
        ("-5m", 'invalid value "-5m"'),
    ):
        yield case(
            num,
            f"pause {value}",
            edit(SPEC, "pause: 10m", f"pause: {value}"),
            2,
            f"canary.steps[1].pause: {expect}",
            **located,
        )
    yield case(
        num,
        "pause duration 0s in a map",
        edit(SPEC, "pause: 10m", "pause: {duration: 0s}"),
        2,
        "canary.steps[1].pause.duration: 0s is no time at all",
        **located,
    )
    for key, old in (("interval", "interval: 5m"), ("window", "window: 3m")):
        yield case(
            num,
            f"analysis {key} 0s",
            edit(SPEC, old, f"{key}: 0s"),
            2,
            f"analysis.{key}: 0s is no time at all",
            **located,
        )
        yield case(
            num,
            f"analysis {key} beyond Go's range",
            edit(SPEC, old, f"{key}: 9999999999h"),
            2,
            f"analysis.{key}: 9999999999h is longer than Go's largest duration",
            **located,
        )
    yield case(
        num,
        "backoff duration 0s",
        edit(SPEC, "replicas: 5", "replicas: 5\nargocd: {retry: {backoff: {duration: 0s}}}"),
        2,
        "argocd.retry.backoff.duration: 0s is no time at all",
        **located,
    )

    # -- credentials and URLs -------------------------------------------------------------------------------
    url = "credentials"
    repo = "https://github.com/tetrateio/tsb-gitops-demo.git"
    yield case(
        url,
        "token in gitops.repoURL",
        edit(ENV, repo, "https://user:TOKEN123@github.com/tetrateio/tsb-gitops-demo.git"),
        2,
        "environments/demo.yaml:5:12: gitops.repoURL: https://***@github.com/tetrateio/tsb-gitops-demo.git holds credentials",
        **located,
    )
    yield case(
        url,
        "token as user in gitops.repoURL",
        edit(ENV, repo, "https://ghp_TOKEN123@github.com/x.git"),
        2,
        "https://***@github.com/x.git holds credentials",
        **located,
    )
    yield case(
        url,
        "token in an ssh URL",
        edit(ENV, repo, "ssh://git:TOKEN123@github.com/x.git"),
        2,
        "gitops.repoURL: ssh://***@github.com/x.git holds credentials",
        **located,
    )
    yield case(
        url,
        "token in a service's argocd.repoURL",
        edit(SPEC, "replicas: 5", "replicas: 5\nargocd: {repoURL: 'https://u:TOKEN123@h/x.git'}"),
        2,
        "argocd.repoURL: https://***@h/x.git holds credentials",
        **located,
    )
    yield case(
        url,
        "token in skywalking.address",
        edit(ENV, "http://oap", "http://u:TOKEN123@oap"),
        2,
        "skywalking.address: http://***@oap.istio-system:12800 holds credentials",
        **located,
    )
    yield case(
        url,
        "token in analysis.address",
        edit(SPEC, "interval: 5m", "interval: 5m\n  address: http://u:TOKEN123@oap:12800"),
        2,
        "analysis.address: http://***@oap:12800 holds credentials",
        **located,
    )
    yield case(
        url,
        "ext:: transport",
        edit(ENV, repo, "'ext::sh -c touch% /tmp/pwned'"),
        2,
        "gitops.repoURL: 'ext::sh -c touch% /tmp/pwned' holds a space or a control character",
        **located,
    )
    yield case(
        url,
        "file:// repoURL",
        edit(ENV, repo, "file:///etc"),
        2,
        "scheme file:// is not one Argo CD clones",
        **located,
    )
    yield case(
        url, "repoURL starting with -", edit(ENV, repo, "'-uhttps://x'"), 2, "starts with '-'", **located
    )
    yield case(
        url, "repoURL with no host", edit(ENV, repo, "'https:///x.git'"), 2, "names no host", **located
    )
    yield case(
        url, "repoURL that is no URL", edit(ENV, repo, "not-a-url"), 2, "is not a repository URL", **located
    )
    yield case(
        url,
        "skywalking.address ending in /graphql",
        edit(ENV, "http://oap.istio-system:12800", "http://oap.istio-system:12800/graphql"),
        2,
        "skywalking.address: address 'http://oap.istio-system:12800/graphql' ends in /graphql",
        **located,
    )

    # -- file-system situations ---------------------------------------------------------------------------
    fs = "file system"
    yield case(
        fs,
        "a spec that is a link outside the config repo",
        both(
            lambda r: shutil.copy(r / "cfg" / SPEC, r / "outside/reviews.yaml"),
            symlink(SPEC, "{root}/outside/reviews.yaml"),
        ),
        2,
        "services/reviews.yaml: a symbolic link to ",
    )
    yield case(
        fs,
        "an environment that is a link outside",
        both(
            lambda r: shutil.copy(r / "cfg" / ENV, r / "outside/demo.yaml"),
            symlink(ENV, "{root}/outside/demo.yaml"),
        ),
        2,
        "outside the config folder",
    )
    yield case(
        fs,
        "a spec linking to /etc/passwd",
        symlink("services/passwd.yaml", "/etc/passwd"),
        2,
        "services/passwd.yaml: a symbolic link to /etc/passwd, outside the config folder",
    )
    yield case(
        fs,
        "a dangling link",
        symlink("services/gone.yaml", "{root}/nowhere.yaml"),
        2,
        "services/gone.yaml: a symbolic link to nothing",
    )
    yield case(
        fs,
        "a folder named like a spec",
        make_dir("services/extra.yaml"),
        2,
        "services/extra.yaml: a folder, where a YAML file was expected",
    )
    yield case(
        fs,
        "a pipe named like a spec",
        make_fifo("services/pipe.yaml"),
        2,
        "services/pipe.yaml: not a regular file",
    )
    yield case(
        fs,
        "services/ is a file",
        both(remove("services"), write("services", "x")),
        2,
        "services: folder not found",
    )
    yield case(fs, "no services folder", remove("services"), 2, "services: folder not found")
    yield case(fs, "no environments folder", remove("environments"), 2, "no environment")
    yield case(
        fs,
        "a folder of the tree is a link outside",
        both(move_out("rendered/demo/services/bookinfo/reviews"), edit(SPEC, "replicas: 5", "replicas: 6")),
        2,
        "rendered/demo/services/bookinfo/reviews: is a symbolic link: gitops-gen reads and writes nothing through a link",
    )
    yield case(
        fs,
        "an environment folder of the tree is a link",
        move_out("rendered/demo"),
        2,
        "rendered/demo: is a symbolic link",
    )
    yield case(
        fs,
        "a file of the tree is a link to /etc/passwd",
        symlink("rendered/demo/services/bookinfo/ratings/destinationrule.yaml", "/etc/passwd"),
        2,
        "ratings/destinationrule.yaml: is a symbolic link",
    )
    yield case(
        fs,
        "a link in the tree under --check",
        symlink("rendered/demo/services/bookinfo/ratings/destinationrule.yaml", "/etc/passwd"),
        2,
        "is a symbolic link",
        command=CHECK,
    )
    yield case(
        fs,
        "a link in the tree under diff",
        symlink("rendered/demo/services/bookinfo/ratings/destinationrule.yaml", "/etc/passwd"),
        2,
        "is a symbolic link",
        command=DIFF,
    )
    yield case(
        fs,
        "a removed service's folder is a link",
        both(move_out("rendered/demo/services/bookinfo/ratings"), remove("services/ratings.yaml")),
        2,
        "rendered/demo/services/bookinfo/ratings: is a symbolic link",
    )
    yield case(
        fs,
        "the index is a link",
        symlink("rendered/.gitops-gen.index", "{root}/outside/index"),
        2,
        "rendered/.gitops-gen.index: is a symbolic link",
    )
    yield case(
        fs,
        "a hand-edited rendered file",
        edit("rendered/demo/services/bookinfo/reviews/rollout.yaml", "replicas: 5", "replicas: 9"),
        1,
        "rollout.yaml",
        command=CHECK,
    )
    yield case(
        fs,
        "a folder where a rendered file belongs",
        both(
            make_dir("rendered/demo/services/bookinfo/reviews/rollout.yaml"),
            write("rendered/demo/services/bookinfo/reviews/rollout.yaml/x", "x"),
        ),
        2,
        "rollout.yaml: is a folder where gitops-gen writes a file",
    )
    yield case(
        fs, "a damaged index", write("rendered/.gitops-gen.index", "{not json"), 2, ".gitops-gen.index"
    )
    yield case(
        fs,
        "--out is a file",
        write("out-file", "x"),
        2,
        "out-file",
        command=(*RENDER, "--out", "{cfg}/out-file"),
    )
    yield case(
        fs,
        "a full output folder (64 KiB tmpfs)",
        nothing,
        3,
        "cannot write",
        needs="tmpfs",
        command=(*RENDER, "--out", "{root}/small", "--no-cache"),
    )
    yield case(
        fs,
        "a read-only output folder",
        nothing,
        3,
        "cannot write",
        needs="tmpfs-ro",
        command=(*RENDER, "--out", "{root}/small", "--no-cache"),
    )
    yield case(
        fs,
        "a file-size limit (ulimit -f)",
        edit(SPEC, "replicas: 5", "replicas: 6"),
        3,
        "cannot write",
        fsize=512,
        command=(*RENDER, "--no-cache"),
    )

    yield case(
        fs,
        "publish into a clone whose tree folder is a link outside",
        both(
            gitops_clone(link_in_clone("rendered", "{root}/outside"), push=False),
            edit(SPEC, "replicas: 5", "replicas: 6"),
        ),
        2,
        "rendered: is a symbolic link",
        command=("publish", "--config", "{cfg}", "--repo", "{root}/work"),
    )
    yield case(
        fs,
        "publish to a repo whose tree folder is a committed link",
        both(
            gitops_clone(link_in_clone("rendered", "{root}/outside"), push=True),
            edit(SPEC, "replicas: 5", "replicas: 6"),
        ),
        2,
        "rendered: is a symbolic link",
        command=PUBLISH,
    )
    yield case(
        fs,
        "publish to a repo with a committed link inside the tree",
        both(
            gitops_clone(link_in_clone("rendered/demo/services", "{root}/outside"), push=True),
            edit(SPEC, "replicas: 5", "replicas: 6"),
        ),
        2,
        "rendered/demo/services: is a symbolic link",
        command=PUBLISH,
    )
    yield case(
        fs,
        "publish to a repo with a committed link to /etc/passwd",
        both(
            gitops_clone(
                link_in_clone("rendered/demo/services/bookinfo/reviews/rollout.yaml", "/etc/passwd"),
                push=True,
            ),
            edit(SPEC, "replicas: 5", "replicas: 6"),
        ),
        2,
        "rollout.yaml: is a symbolic link",
        command=PUBLISH,
    )

    unreadable = {"unreadable": True}
    yield case(
        fs,
        "an unreadable spec",
        chmod(SPEC, 0o000),
        2,
        "services/reviews.yaml: cannot read file: Permission denied",
        **unreadable,
    )
    yield case(
        fs,
        "an unreadable environment file",
        chmod(ENV, 0o000),
        2,
        "environments/demo.yaml: cannot read file: Permission denied",
        **unreadable,
    )
    yield case(fs, "an unreadable services folder", chmod("services", 0o000), 2, "services", **unreadable)
    yield case(
        fs,
        "an unreadable rendered file",
        both(
            chmod("rendered/demo/services/bookinfo/reviews/rollout.yaml", 0o000),
            edit(SPEC, "replicas: 5", "replicas: 6"),
        ),
        2,
        "rollout.yaml: cannot read",
        **unreadable,
    )
    yield case(
        fs,
        "a read-only folder of the tree",
        both(
            chmod("rendered/demo/services/bookinfo/reviews", 0o555), edit(SPEC, "replicas: 5", "replicas: 6")
        ),
        3,
        "reviews: cannot write (permission denied or read-only); nothing was changed",
        **unreadable,
    )
    yield case(
        fs,
        "an unreadable folder under validate",
        chmod("rendered/demo/services", 0o000),
        2,
        "rendered/demo/services: cannot read folder: Permission denied",
        command=VALIDATE,
        **unreadable,
    )
    yield case(
        fs,
        "an unreadable manifest under validate",
        chmod("rendered/demo/services/bookinfo/reviews/rollout.yaml", 0o000),
        2,
        "rollout.yaml: cannot read file: Permission denied",
        command=VALIDATE,
        **unreadable,
    )

    # -- each command's flags ------------------------------------------------------------------------------
    cmd = "flags"
    yield case(
        cmd,
        "render --env of no environment",
        nothing,
        2,
        "environments/prod.yaml: environment file not found (known: demo)",
        command=(*RENDER, "--env", "prod"),
    )
    yield case(
        cmd,
        "render --service of no service",
        nothing,
        2,
        "services/reveiws.yaml: service file not found (did you mean 'reviews'?)",
        command=(*RENDER, "--service", "reveiws"),
    )
    yield case(
        cmd,
        "render --service ../x",
        nothing,
        2,
        "service file not found",
        command=(*RENDER, "--service", "../x"),
    )
    yield case(
        cmd,
        "render --env ../x",
        nothing,
        2,
        "environment file not found",
        command=(*RENDER, "--env", "../../x"),
    )
    yield case(
        cmd,
        "render --validator bogus",
        nothing,
        2,
        "Invalid value for '--validator'",
        command=(*RENDER, "--validator", "bogus"),
    )
    yield case(
        cmd,
        "render --no-such-flag",
        nothing,
        2,
        "No such option '--no-such-flag'",
        command=(*RENDER, "--no-such-flag"),
    )
    yield case(
        cmd,
        "render --config of no folder",
        nothing,
        2,
        "services: folder not found",
        command=("render", "--config", "{root}/nowhere"),
    )
    yield case(
        cmd,
        "render --config that is a file",
        write("file", "x"),
        2,
        "is a file",
        command=("render", "--config", "{cfg}/file"),
    )
    yield case(
        cmd,
        "render --check with a bad spec",
        edit(SPEC, "replicas: 5", "replicas: x"),
        2,
        "replicas: expected integer",
        command=CHECK,
        located=True,
    )
    yield case(
        cmd,
        "render --strict with a warning",
        edit(SPEC, '  GG311: "the demo\'s 3m window, measured every 5m"\n', ""),
        1,
        "GG311 warning",
        command=(*RENDER, "--strict"),
    )
    yield case(
        cmd,
        "render acknowledging an error",
        edit(SPEC, "  GG502:", "  GG101: x\n  GG502:"),
        2,
        "acknowledge.GG101: GG101 (the Rollout's VirtualService exists) is an error",
        located=True,
    )
    yield case(
        cmd,
        "render acknowledging no rule",
        edit(SPEC, "  GG502:", "  GG999: x\n  GG502:"),
        2,
        "no rule GG999",
        located=True,
    )
    yield case(
        cmd,
        "validate a missing path",
        nothing,
        2,
        "nowhere",
        command=("validate", "--validator", "builtin", "{root}/nowhere"),
    )
    yield case(
        cmd,
        "validate --output bogus",
        nothing,
        2,
        "Invalid value for '--output'",
        command=("validate", "--output", "bogus", "{cfg}/rendered"),
    )
    yield case(cmd, "validate --oap-version 10", nothing, 2, "10", command=(*VALIDATE, "--oap-version", "10"))
    yield case(
        cmd,
        "validate --rollouts-version bogus",
        nothing,
        2,
        "bogus",
        command=(*VALIDATE, "--rollouts-version", "bogus"),
    )
    yield case(
        cmd,
        "validate a manifest that is not UTF-8",
        transform(
            "rendered/demo/services/bookinfo/reviews/rollout.yaml",
            lambda b: b.replace(b"reviews", b"rev\xffiews", 1),
        ),
        2,
        "rollout.yaml:4:12: byte 0xff is not UTF-8",
        command=VALIDATE,
    )
    yield case(
        cmd,
        "validate a manifest with a YAML error",
        append("rendered/demo/services/bookinfo/reviews/rollout.yaml", "x: [\n"),
        2,
        "rollout.yaml:63:1: YAML syntax error",
        command=VALIDATE,
    )
    yield case(
        cmd,
        "validate a manifest with an alias bomb",
        write("rendered/bomb.yaml", _billion_laughs()),
        2,
        "bomb.yaml:7:25: more than 2,000,000 values once its YAML aliases are expanded",
        command=VALIDATE,
    )
    yield case(
        cmd,
        "validate a manifest nested 1,000 deep",
        write("rendered/deep.yaml", "a: " + "[" * 1000 + "]" * 1000 + "\n"),
        2,
        "deep.yaml:1:",
        command=VALIDATE,
    )
    yield case(
        cmd,
        "validate a 40 MB manifest",
        write("rendered/big.yaml", "# " + "x" * 40_000_000 + "\n"),
        2,
        "big.yaml:1:1: file is 40,000,003 bytes, more than the 33,554,432 a manifest file may have",
        command=VALIDATE,
    )
    yield case(
        cmd,
        "validate a manifest with a NUL byte",
        write("rendered/nul.yaml", "apiVersion: v1\nkind: Con\x00fig\n"),
        2,
        "nul.yaml:2:10: character U+0000 is not allowed in YAML",
        command=VALIDATE,
    )
    yield case(
        cmd,
        "validate a UTF-16 manifest",
        write("rendered/wide.yaml", "apiVersion: v1\n".encode("utf-16")),
        2,
        "wide.yaml:1:1: the file is UTF-16",
        command=VALIDATE,
    )
    yield case(
        cmd,
        "validate a broken Rollout",
        edit("rendered/demo/services/bookinfo/reviews/rollout.yaml", "replicas: 5", "replicas: five"),
        1,
        "rollout.yaml",
        command=VALIDATE,
    )
    yield case(
        cmd,
        "diff --output bogus",
        nothing,
        2,
        "Invalid value for '--output'",
        command=(*DIFF, "--output", "bogus"),
    )
    yield case(
        cmd,
        "diff --env of no environment",
        nothing,
        2,
        "environment file not found",
        command=(*DIFF, "--env", "prod"),
    )
    yield case(
        cmd,
        "diff with a bad spec",
        edit(SPEC, "replicas: 5", "replicas: x"),
        2,
        "replicas: expected integer",
        command=DIFF,
        located=True,
    )
    yield case(
        cmd,
        "publish with a bad spec",
        edit(SPEC, "replicas: 5", "replicas: x"),
        2,
        "replicas: expected integer",
        command=PUBLISH,
        located=True,
    )
    yield case(
        cmd,
        "publish with a token in repoURL",
        edit(ENV, repo, "https://u:TOKEN123@github.com/x.git"),
        2,
        "holds credentials",
        command=("publish", "--config", "{cfg}", "--push"),
        located=True,
    )
    yield case(
        cmd,
        "publish --repo of nothing",
        edit(SPEC, "replicas: 5", "replicas: 6"),
        2,
        "no such folder, and not a URL",
        command=("publish", "--config", "{cfg}", "--repo", "{root}/nowhere"),
    )
    yield case(
        cmd,
        "publish --branch starting with -",
        edit(SPEC, "replicas: 5", "replicas: 6"),
        2,
        "--branch",
        command=(*PUBLISH, "--branch", "--upload-pack=x"),
    )
    yield case(
        cmd,
        "publish --branch a..b",
        edit(SPEC, "replicas: 5", "replicas: 6"),
        2,
        "a..b",
        command=(*PUBLISH, "--branch", "a..b"),
    )
    yield case(
        cmd,
        "publish --path ../x",
        edit(SPEC, "replicas: 5", "replicas: 6"),
        2,
        "--path",
        command=(*PUBLISH, "--path", "../x"),
    )
    yield case(
        cmd,
        "publish --path /etc",
        edit(SPEC, "replicas: 5", "replicas: 6"),
        2,
        "--path",
        command=(*PUBLISH, "--path", "/etc"),
    )
    yield case(
        cmd,
        "publish --author without an email",
        nothing,
        2,
        "--author 'bot': expected 'Name <email>'",
        command=(*PUBLISH, "--author", "bot"),
    )
    yield case(
        cmd,
        "publish --committer without a name",
        nothing,
        2,
        "--committer",
        command=(*PUBLISH, "--committer", "<x@y>"),
    )
    yield case(cmd, "publish --retries -1", nothing, 2, "--retries", command=(*PUBLISH, "--retries", "-1"))
    yield case(
        cmd,
        "publish --message-file of nothing",
        nothing,
        2,
        "--message-file",
        command=(*PUBLISH, "--message-file", "{root}/nowhere"),
    )
    yield case(
        cmd,
        "publish --message-file that is not UTF-8",
        lambda r: (r / "msg").write_bytes(b"\xff"),
        2,
        "--message-file",
        command=(*PUBLISH, "--message-file", "{root}/msg"),
    )
    yield case(
        cmd,
        "publish --strict with a warning",
        edit(SPEC, '  GG311: "the demo\'s 3m window, measured every 5m"\n', ""),
        1,
        "GG311 warning",
        command=(*PUBLISH, "--strict"),
    )


# ---- cases generated from the schemas ----------------------------------------------------------------------


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "schemas/spec" / name).read_text(encoding="utf-8"))
    return loaded


def _resolve(node: dict[str, Any], document: str) -> tuple[dict[str, Any], str]:
    while "$ref" in node:
        target_doc, _, pointer = node["$ref"].partition("#")
        document = target_doc or document
        target: Any = _schema(document)
        for part in pointer.strip("/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    for combinator in ("anyOf", "oneOf"):
        if combinator in node:
            branches = [b for b in node[combinator] if b != {"type": "null"}]
            first, document = _resolve(branches[0], document)
            node = {**first, **{k: v for k, v in node.items() if k != combinator}}
    return node, document


# A key to use below a map whose keys are free (labels, acknowledge, ...).
_FREE_KEYS = {"acknowledge": "GG502", "services": "reviews"}


def _leaves(
    node: dict[str, Any], document: str, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], dict[str, Any]]]:
    types = _types(node)
    node, document = _resolve(node, document)
    node = {**node, "x-types": types}
    types = node.get("type")
    types = [types] if isinstance(types, str) else [t for t in (types or []) if t != "null"]
    if "object" in types and "properties" in node:
        for key, sub in node["properties"].items():
            if key == "$schema":
                continue
            yield from _leaves(sub, document, (*path, key))
        return
    if "object" in types and isinstance(node.get("additionalProperties"), dict):
        key = _FREE_KEYS.get(str(path[-1]) if path else "", "app")
        yield from _leaves(node["additionalProperties"], document, (*path, key))
        return
    if "array" in types and isinstance(node.get("items"), dict):
        yield path, node  # the list itself: a wrong type
        yield from _leaves(node["items"], document, (*path, 0))
        return
    yield path, node


def _types(node: dict[str, Any]) -> set[str]:
    """Every type a field takes, across its oneOf/anyOf branches (null aside)."""
    found: set[str] = set()
    for branch in node.get("oneOf", node.get("anyOf", [node])):
        resolved, _ = _resolve(branch, "service.schema.json") if "$ref" in branch else (branch, "")
        kind = resolved.get("type", [])
        found |= {kind} if isinstance(kind, str) else set(kind)
    return found - {"null"} or {"object"}


def _wrong_type(types: set[str]) -> Any:
    """A value of none of `types`."""
    for value, kind in ((["x"], "array"), ({"a": 1}, "object"), (12345, "integer"), ("many", "string")):
        if kind not in types and not (kind == "integer" and "number" in types):
            return value
    raise AssertionError(types)


def _bad_values(node: dict[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """(kind, value, the start of the message after the field path) for one field."""
    types = node["x-types"]
    if "enum" in node:
        yield "not one of the values", "no-such-value", "expected one of"
    else:
        yield "wrong type", _wrong_type(types), "expected"
    if "maximum" in node and not node.get("x-fraction"):
        yield "above the maximum", node["maximum"] + 1, f"expected a number <= {node['maximum']}"
    if "minimum" in node:
        yield "below the minimum", node["minimum"] - 1, f"expected a number >= {node['minimum']}"
    if "exclusiveMinimum" in node:
        yield (
            "at the exclusive minimum",
            node["exclusiveMinimum"],
            f"expected a number > {node['exclusiveMinimum']}",
        )
    if "string" in types and "enum" not in node:
        if (
            node.get("minLength")
            or ("pattern" in node and not re.search(node["pattern"], ""))
            or "format" in node
        ):
            yield "empty", "", ""
        if "maxLength" in node:
            yield "too long", "a" * (node["maxLength"] + 1), ""
    if "array" in types and node.get("minItems"):
        yield "empty list", [], f"expected at least {node['minItems']} item(s)"


def _file_of(field_path: tuple[str | int, ...], schema: str) -> tuple[str, tuple[str | int, ...]]:
    """Which bundled file a field is tried in: ingress and mesh subsets live in productpage's spec."""
    if schema == "environment.schema.json":
        return ENV, field_path
    if (
        field_path[0] in ("ingress",)
        or field_path[:2] == ("mesh", "subsets")
        or field_path[:2] == ("mesh", "defaultSubset")
    ):
        return PAGE, field_path
    return SPEC, field_path


def _shown(path: tuple[str | int, ...]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def schema_cases() -> Iterator[Case]:
    seen: set[str] = set()
    for schema, root in (("service.schema.json", ("$defs", "service")), ("environment.schema.json", ())):
        node: Any = _schema(schema)
        for part in root:
            node = node[part]
        for field_path, leaf in _leaves(node, schema, ()):
            if schema == "environment.schema.json" and field_path[0] in ("defaults", "services"):
                continue  # the service schema again: its fields are tried in the spec
            relative, path = _file_of(field_path, schema)
            for kind, value, message in _bad_values(leaf):
                id = f"{'service' if relative != ENV else 'environment'} field {_shown(path)}: {kind}"
                if id in seen:
                    continue
                seen.add(id)
                expect = f"{_shown(path)}: {message}" if message else f"{_shown(path)}: "
                yield Case(
                    id,
                    f"schema: {'service' if relative != ENV else 'environment'}",
                    set_value(relative, path, value),
                    2,
                    expect,
                    located=True,
                )


HAND_WRITTEN = list(_hand_written())
CASES = {case.id: case for case in (*HAND_WRITTEN, *schema_cases())}
assert len(CASES) == len(HAND_WRITTEN) + len(list(schema_cases())), "two cases share an id"
