"""Which fields an Argo CD `ignoreDifferences` entry covers, decided on paths, not on substrings (GG602).

Argo CD v3.5.1 `util/argo/normalizers/diff_normalizer.go`: each `jqPathExpressions` item runs as gojq
`del(<expr>)`, each `jsonPointers` item as an RFC 6902 `remove` op; an entry applies to an object when
`glob.Match(group)`, `glob.Match(kind)`, and `name` / `namespace` are empty or equal (`Normalize`).
Deleting a field also deletes what is under it, so an entry covers a field when its path is a prefix of
the field's path position by position, where `[]` (every item) covers any item and a concrete index
covers only itself. Argo Rollouts rewrites *every* destination weight of the routes it manages, so
`.spec.http[0].route[0].weight` (or the pointer `/spec/http/0/route/0/weight`) covers one of them only.

The jq forms parsed are the path expressions Argo CD users write: `.a.b`, `.a[]`, `.a[0]`, `.a["k"]`,
`."k"`, `.["k"]`, `.a.[]`, an optional `?` after any step, and `p | q` of two such paths. Anything else
(`select(...)`, `..`, slices) is not understood: it covers nothing here, and the message says so.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..model import ROLLOUTS_ANNOTATION_MANAGED_BY

EVERY = "[]"  # a path step meaning every item of a list
Step = str | int  # a key, an index, or EVERY
Path = tuple[Step, ...]
ROLLOUTS_HASH_LABEL = "rollouts-pod-template-hash"  # v1alpha1.DefaultRolloutUniqueLabelKey


@dataclass(frozen=True)
class Mutation:
    """A field Argo Rollouts rewrites during a rollout, what to call it, and the entry that ignores it."""

    path: Path
    what: str
    remedy: str


def rollouts_mutations(kind: str, istio: Mapping[str, Any] | None = None) -> list[Mutation]:
    """What Argo Rollouts (v1.9.1 `rollout/trafficrouting/istio/istio.go`) rewrites in an object of this
    kind used for subset-level splitting: `reconcileVirtualService` sets the weight of every destination
    of the managed http (and, when the Rollout lists `tlsRoutes`/`tcpRoutes`, tls/tcp) routes;
    `UpdateHash` sets the `rollouts-pod-template-hash` label of the subsets, and the DestinationRule gets
    the managed-by annotation. `istio` is the Rollout's `trafficRouting.istio`."""
    if kind == "VirtualService":
        vs = istio.get("virtualService") if istio is not None else None
        vs = vs if isinstance(vs, Mapping) else {}
        found = [
            Mutation(
                ("spec", "http", EVERY, "route", EVERY, "weight"),
                "the route weights",
                "jqPathExpressions: .spec.http[].route[].weight",
            )
        ]
        for key, section in (("tlsRoutes", "tls"), ("tcpRoutes", "tcp")):
            if vs.get(key):
                found.append(
                    Mutation(
                        ("spec", section, EVERY, "route", EVERY, "weight"),
                        f"the {section} route weights",
                        f"jqPathExpressions: .spec.{section}[].route[].weight",
                    )
                )
        return found
    if kind == "Deployment":
        # rollout/scale_utils.go scaleDeployment sets spec.replicas of the workloadRef's Deployment:
        # to 0 once the Rollout is healthy (scaleDown: onsuccess, rollout/sync.go) or step by step as its
        # pods become ready (progressively, rollout/replicaset.go reconcileNewReplicaSet).
        return [
            Mutation(
                ("spec", "replicas"),
                "the Deployment's replicas (workloadRef.scaleDown)",
                "jsonPointers: /spec/replicas",
            )
        ]
    if kind == "DestinationRule":
        return [
            Mutation(
                ("spec", "subsets", EVERY, "labels", ROLLOUTS_HASH_LABEL),
                f"the subsets' {ROLLOUTS_HASH_LABEL} label",
                f'jqPathExpressions: .spec.subsets[].labels["{ROLLOUTS_HASH_LABEL}"]',
            ),
            Mutation(
                ("metadata", "annotations", ROLLOUTS_ANNOTATION_MANAGED_BY),
                f"the {ROLLOUTS_ANNOTATION_MANAGED_BY} annotation",
                "jsonPointers: /metadata/annotations/" + ROLLOUTS_ANNOTATION_MANAGED_BY.replace("/", "~1"),
            ),
        ]
    return []


def applies(entry: Mapping[str, Any], group: str, kind: str, name: str, namespace: str) -> bool:
    """Whether an ignoreDifferences entry applies to the object (Argo CD's `Normalize`). An unset group
    is "", which matches only the core group; fnmatch stands in for gobwas/glob (`*`, `?`, `[...]`)."""

    def text(key: str) -> str:
        value = entry.get(key)
        return value if isinstance(value, str) else ""

    return (
        fnmatch.fnmatchcase(group, text("group"))
        and fnmatch.fnmatchcase(kind, text("kind"))
        and text("name") in ("", name)
        and text("namespace") in ("", namespace)
    )


def entry_paths(entries: Sequence[Mapping[str, Any]]) -> tuple[list[Path], list[str]]:
    """The paths the entries delete, and the expressions that could not be read."""
    paths: list[Path] = []
    unreadable: list[str] = []
    for entry in entries:
        for pointer in _strings(entry.get("jsonPointers")):
            parsed = parse_json_pointer(pointer)
            if parsed is None:
                unreadable.append(pointer)
            else:
                paths.append(parsed)
        for expression in _strings(entry.get("jqPathExpressions")):
            found = parse_jq_path(expression)
            if found is None:
                unreadable.append(expression)
            else:
                paths.append(found)
    return paths, unreadable


def covered(paths: Sequence[Path], field: Path) -> bool:
    """Whether deleting any of `paths` deletes every instance of `field`."""
    return any(_covers(path, field) for path in paths)


def _covers(path: Path, field: Path) -> bool:
    if len(path) > len(field):
        return False
    for mine, theirs in zip(path, field, strict=False):
        if mine == EVERY:
            if not (theirs == EVERY or isinstance(theirs, int)):
                return False
        elif mine != theirs:
            return False
    return True


def parse_json_pointer(pointer: str) -> Path | None:
    """RFC 6901: `/a/b~1c/0` -> ("a", "b/c", 0). A number is an index (or a key that looks like one:
    either way it is one concrete step, never every item)."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        return None
    steps: list[Step] = []
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        steps.append(int(token) if re.fullmatch(r"0|[1-9][0-9]*", token) else token)
    return tuple(steps)


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INDEX = re.compile(r"-?[0-9]+")


def parse_jq_path(expression: str) -> Path | None:
    """A jq path expression of the forms listed in the module docstring, or None."""
    steps: list[Step] = []
    for part in _split_pipes(expression):
        parsed = _parse_simple_path(part.strip())
        if parsed is None:
            return None
        steps.extend(parsed)
    return tuple(steps)


def _split_pipes(expression: str) -> list[str]:
    parts, depth, quoted, start = [], 0, False, 0
    i = 0
    while i < len(expression):
        c = expression[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(expression[start:i])
            start = i + 1
        i += 1
    parts.append(expression[start:])
    return parts


def _parse_simple_path(text: str) -> list[Step] | None:
    if not text.startswith("."):
        return None
    steps: list[Step] = []
    i = 0
    if text == ".":
        return steps
    while i < len(text):
        if text[i] == ".":
            i += 1
            if i < len(text) and text[i] == ".":
                return None  # `..` (recursive descent)
            if i < len(text) and text[i] == '"':
                key, i = _string(text, i)
                if key is None:
                    return None
                steps.append(key)
            elif i < len(text) and text[i] == "[":
                continue  # `.[...]` / `.a.[]`: the bracket is read below
            else:
                match = _IDENT.match(text, i)
                if match is None:
                    return None
                steps.append(match.group())
                i = match.end()
        elif text[i] == "[":
            close = _bracket(text, i)
            if close is None:
                return None
            inner = text[i + 1 : close].strip()
            if inner == "":
                steps.append(EVERY)
            elif _INDEX.fullmatch(inner):
                steps.append(int(inner))
            elif inner.startswith('"'):
                key, end = _string(inner, 0)
                if key is None or end != len(inner):
                    return None
                steps.append(key)
            else:
                return None  # slices, expressions
            i = close + 1
        elif text[i] == "?":
            i += 1  # `?` only suppresses errors: the path is the same
        elif text[i].isspace():
            i += 1
        else:
            return None
        if i < len(text) and text[i] not in ".[? \t":
            return None
    return steps


def _string(text: str, start: int) -> tuple[str | None, int]:
    """A JSON-style double-quoted string at `start`: (its value, the index after it)."""
    i = start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            try:
                return str(json.loads(text[start : i + 1])), i + 1
            except ValueError:
                return None, i + 1
        i += 1
    return None, len(text)


def _bracket(text: str, start: int) -> int | None:
    i = start + 1
    while i < len(text):
        if text[i] == '"':
            _, i = _string(text, i)
            continue
        if text[i] == "]":
            return i
        i += 1
    return None


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def show(path: Path) -> str:
    """A path as jq writes it: `.spec.http[].route[0].weight`."""
    text = ""
    for step in path:
        if step == EVERY:
            text += "[]"
        elif isinstance(step, int):
            text += f"[{step}]"
        elif _IDENT.fullmatch(step):
            text += f".{step}"
        else:
            text += f"[{json.dumps(step)}]"
    return text or "."
