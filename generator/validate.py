"""Schema validation of Kubernetes manifests, rendered or hand-written.

Two validators answer the same question with the same schemas,
`schemas/kubernetes/<group>/<kind>_<version>.json` (kubeconform's CRDs-catalog layout, made by
`scripts/crd2schema.py`, plus the hand-written TSB ones):

* `BuiltinValidator`: jsonschema in-process; every problem points at the line and column of the field.
* `KubeconformValidator`: the `kubeconform` binary, offline (`-schema-location` is our folder only, never
  `default`), as a second opinion that reads YAML the way Kubernetes does.

They agree on what is checked: a kind whose schema is missing is a `SCHEMA-MISSING` error unless
`ignore_missing`, except the built-in Kubernetes API groups (core `v1`, `apps/v1`, ...; BUILTIN_API_GROUPS),
for which no schema is shipped: those are skipped without a finding (kubeconform gets them as `-skip`).

Manifests are read as YAML 1.1, as Kubernetes reads them (`on`/`yes` are booleans, `0123` is octal): with
PyYAML's C parser and KubernetesResolver's rules, or, for what that reading could take differently (a
duplicate key, a merge key, an alias, a tag, a syntax error), with ruamel's round-trip loader, whose
reading and messages are the reference. A finding's line:column is computed from the text when there is
a finding (yamlio.LazyNode). jsonschema-rs tells valid objects from invalid ones; jsonschema words the
errors of the invalid ones.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import functools
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

import jsonschema_rs
import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from yaml.events import (
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from .errors import Finding, InputError, Location, Problem, ToolError

if TYPE_CHECKING:  # jsonschema is imported when a schema is compiled: a warm cache needs none (~50 ms)
    from jsonschema import FormatChecker
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator as SchemaValidator
from .resources import data_dir
from .yamlio import LazyNode, PathTuple, check_bounds, decode_utf8, format_field, position, syntax_problem

# Kubernetes' own API groups ("" is core `v1`). No schema is shipped for them: objects of these groups are
# skipped by both validators (unless a schema file for the kind exists), never reported as missing.
BUILTIN_API_GROUPS = frozenset(
    {
        "",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "apiregistration.k8s.io",
        "apps",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "autoscaling",
        "batch",
        "certificates.k8s.io",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "events.k8s.io",
        "flowcontrol.apiserver.k8s.io",
        "internal.apiserver.k8s.io",
        "networking.k8s.io",
        "node.k8s.io",
        "policy",
        "rbac.authorization.k8s.io",
        "resource.k8s.io",
        "scheduling.k8s.io",
        "storage.k8s.io",
        "storagemigration.k8s.io",
    }
)

# kubeconform's template variables: Group = apiVersion before "/", ResourceKind = kind lower-cased,
# ResourceAPIVersion = apiVersion after "/".
KUBECONFORM_LAYOUT = "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
DEFAULT_TIMEOUT = 120.0

_GROUP_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_VERSION_RE = re.compile(r"^v[0-9]+[a-z0-9]*$")
_KIND_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")

# Formats both validators check. kubeconform v0.7.0 asserts formats (draft 4) and registers `duration` as a
# Go duration; `date-time` is RFC 3339. Everything else (int32, int64, double, byte) is not checked.
GO_DURATION = re.compile(r"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@functools.cache
def format_checker() -> FormatChecker:
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    checker.checks("duration")(_is_duration)
    checker.checks("date-time")(_is_date_time)
    return checker


def _is_duration(value: object) -> bool:
    return not isinstance(value, str) or bool(GO_DURATION.match(value))


def _is_date_time(value: object) -> bool:
    """RFC 3339 as kubeconform v0.7.0 checks it: santhosh-tekuri/jsonschema v6.0.1 format.go
    `validateDateTime` (a real calendar date, hours <= 23, a leap second only at 23:59 UTC)."""
    if not isinstance(value, str):
        return True
    if len(value) < 20 or value[10] not in "tT" or not _is_date(value[:10]):
        return False
    return _is_time(value[11:])


def _is_date(text: str) -> bool:
    # Go's time.Parse("2006-01-02", ...): exactly 4-2-2 digits, a day that exists (year 0 is a leap year)
    if not _DATE.match(text):
        return False
    year, month, day = (int(part) for part in text.split("-"))
    try:
        datetime.date(year or 2000, month, day)
    except ValueError:
        return False
    return True


def _go_atoi(token: str) -> int | None:
    return int(token) if re.fullmatch(r"[+-]?[0-9]+", token) else None


def _is_time(text: str) -> bool:
    if len(text) < 9 or text[2] != ":" or text[5] != ":":
        return False
    hms = [_go_atoi(t) for t in text[:8].split(":", 2)]
    if any(v is None or v < 0 for v in hms) or len(hms) != 3:
        return False
    hours, minutes, seconds = (v or 0 for v in hms)
    if hours > 23 or minutes > 59 or seconds > 60:
        return False
    rest = text[8:]
    if rest.startswith("."):
        digits = len(rest[1:]) - len(rest[1:].lstrip("0123456789"))
        if digits == 0:
            return False
        rest = rest[1 + digits :]
    if rest not in ("z", "Z"):
        if len(rest) != 6 or rest[0] not in "+-" or rest[3] != ":":
            return False
        zone = [_go_atoi(t) for t in rest[1:].split(":", 1)]
        if any(v is None or v < 0 for v in zone):
            return False
        zone_hours, zone_minutes = (v or 0 for v in zone)
        if zone_hours > 23 or zone_minutes > 59:
            return False
        sign = -1 if rest[0] == "+" else 1
        total = (hours * 60 + minutes) + sign * (zone_hours * 60 + zone_minutes)
        total += 24 * 60 if total < 0 else 0
        hours, minutes = total // 60, total % 60
    return seconds < 60 or (hours == 23 and minutes == 59)


# ---- loading ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadedObject:
    """One Kubernetes object and where it came from.

    `line` is where the object starts (1-based); `node` finds the position of any field: a LazyNode over
    the file's text, a ruamel round-trip node (a file read the slow way), or None for an object made in
    memory (findings then point at `line`).
    """

    path: str
    line: int
    obj: dict[str, Any]
    node: Any | None = None

    @property
    def label(self) -> str:
        """`Kind/name`, as findings name the object."""
        metadata = self.obj.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        return f"{self.obj.get('kind') or '?'}/{name or '?'}"


_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class KubernetesResolver(VersionedResolver):
    """Plain scalars resolved as Kubernetes' go-yaml v2 does: YAML 1.1 (`on`, `yes`, `n` are booleans,
    `0123` is octal) in every document of a file, without YAML 1.1's base-60 numbers (`1:20` stays a string).

    Setting `YAML.version = (1, 1)` is not enough: ruamel applies it to the first document only.
    """

    @property
    def processing_version(self) -> tuple[int, int]:
        return (1, 1)

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)
        if kind is ScalarNode and ":" in value and str(tag) in _NUMBER_TAGS:
            return self.DEFAULT_SCALAR_TAG
        return tag


def _reader() -> YAML:
    reader = YAML(typ="rt")
    reader.Resolver = KubernetesResolver
    reader.allow_duplicate_keys = False
    return reader


def _plain_key(key: Any) -> str:
    if isinstance(key, bool):  # a YAML 1.1 `on:` key; sigs.k8s.io/yaml turns it into "true"
        return "true" if key else "false"
    return str(key)


def _plain(node: Any) -> Any:
    """Round-trip nodes -> the JSON-like value Kubernetes would see."""
    if isinstance(node, Mapping):
        return {_plain_key(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, datetime.date):  # go-yaml hands an unquoted timestamp to Kubernetes as a string
        return node.isoformat()
    return node


def _start(node: Any) -> tuple[int, int]:
    """Where an object starts: a ruamel node (files), or a PyYAML node (rendered output)."""
    mark = getattr(node, "start_mark", None)
    if mark is not None:
        return (mark.line + 1, mark.column + 1)
    lc = getattr(node, "lc", None)
    if lc is None or lc.line is None:
        return (1, 0)
    return (lc.line + 1, (lc.col or 0) + 1)


def load_text(text: str, path: str) -> list[LoadedObject]:
    """Every object of a multi-document YAML text, `kind: List` items expanded (as kubeconform does).

    Read with PyYAML's C parser and KubernetesResolver's own rules (`_fast_documents`); a text that
    reading might take differently from ruamel's round-trip loader (a duplicate key, a merge key, an
    alias, a timestamp, a tag, a syntax error, ...) is read by ruamel, whose reading and messages are the
    reference. Positions are computed from the text only for the objects that get a finding.
    """
    try:
        return _objects(_fast_documents(text), path)
    except _SlowPath:
        # ruamel builds what it reads, aliases expanded, recursively: bounded first
        check_bounds(text, path, MAX_MANIFEST_DEPTH, MAX_MANIFEST_VALUES)
    try:
        documents = list(_reader().load_all(text))
    except MarkedYAMLError as exc:
        raise InputError([syntax_problem(exc, path)]) from None
    return _objects([(_plain(d), d, None) for d in documents], path)


def _objects(documents: Sequence[tuple[Any, Any, Any]], path: str) -> list[LoadedObject]:
    """(plain value, position source, start) of each document -> its objects; a document that is not a
    mapping is a problem. The position source is a ruamel node, or the text for a LazyNode."""
    objects: list[LoadedObject] = []
    problems: list[Problem] = []
    for number, (document, source, start) in enumerate(documents):
        if document is None:
            continue
        items = _list_items(document)
        entries = [((), document, source, start)] if items is None else items
        for index, (prefix, value, node_source, node_start) in enumerate(entries):
            if items is not None and isinstance(source, CommentedMap):
                node: Any = source["items"][index]
            elif isinstance(source, str):
                node = LazyNode(source, number, prefix, node_start)
            else:
                node = node_source
            line, column = _start(node)
            if isinstance(value, dict):
                objects.append(LoadedObject(path, line, value, node))
            else:
                found = "a list" if isinstance(value, list) else f"a {type(value).__name__} value"
                problems.append(
                    Problem(Location(path, line, column), f"expected a Kubernetes object, found {found}")
                )
    if problems:
        raise InputError(problems)
    return objects


def _list_items(document: Any) -> list[tuple[PathTuple, Any, Any, Any]] | None:
    """(prefix, value, source, start) of the items of a `kind: List` document, or None for another."""
    if isinstance(document, dict) and str(document.get("kind", "")).lower() == "list":
        items = document.get("items")
        if isinstance(items, list):
            return [(("items", index), item, None, None) for index, item in enumerate(items)]
        if items is None:
            return []
    return None


# ---- the C-fast reading -----------------------------------------------------------------------------

_CLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR, _SEQ, _MAP = "tag:yaml.org,2002:str", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"
# KubernetesResolver's implicit resolvers, YAML 1.1 (first character -> [(tag, regexp)]): ruamel's own
# table, so a plain scalar gets the same tag either way.
_K8S_RESOLVERS: dict[Any, list[tuple[str, Any]]] = KubernetesResolver().versioned_resolver
_BOOLS = {
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "true": True,
    "false": False,
    "on": True,
    "off": False,
}


class _SlowPath(Exception):
    """This text must be read by ruamel (see `load_text`)."""


def _plain_tag(value: str) -> str:
    for tag, regexp in _K8S_RESOLVERS.get(value[0] if value else "", ()):
        if regexp.match(value):
            # KubernetesResolver: no YAML 1.1 base-60 numbers, `1:20` stays a string
            return _STR if ":" in value and tag in _NUMBER_TAGS else str(tag)
    return _STR


# Deeper than this, the fast reading leaves the text to ruamel, after `check_bounds` refuses it: a
# manifest may nest MAX_MANIFEST_DEPTH (below) deep, whichever way it is read.
_FAST_DEPTH = 200


def _fast_documents(text: str) -> list[tuple[Any, Any, Any]]:
    """(plain value, text, start) of each document, or _SlowPath.

    Values are built straight from libyaml's parse events (PyYAML's C parser), with KubernetesResolver's
    tags for plain scalars: no node tree and no resolver call per node, a tenth faster than composing.
    Whatever ruamel's round-trip reading might take differently goes to ruamel: a tag written in the text
    (`!!str 12`: ruamel keeps a TaggedScalar), an alias, a key that is not a string or comes twice, a
    timestamp or a merge key, a tab, a syntax error."""
    if "\t" in text:  # ruamel refuses a tab where libyaml takes it as a space (`a:\tb`)
        raise _SlowPath("tab")
    parser: Any = _CLoader(text)  # its C parser alone: get_event
    documents: list[tuple[Any, Any, Any]] = []
    stack: list[list[Any]] = []  # [the open map or list, the key read for a map's next value or _NO_KEY]
    tags: dict[str, str] = {}  # plain scalar -> its tag: keys and values repeat a lot
    root: Any = None
    start: tuple[int, int] | None = None
    try:
        while True:
            event = parser.get_event()
            kind = type(event)
            if kind is ScalarEvent:
                if event.tag is not None and event.tag != "!":
                    raise _SlowPath("tag")
                if start is None:
                    start = (event.start_mark.line, event.start_mark.column)
                plain = event.implicit[0]  # else quoted, or tagged `!`: a string
                item = _scalar(event.value, _plain_scalar_tag(tags, event.value) if plain else _STR)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if event.tag is not None and event.tag != "!":
                    raise _SlowPath("tag")
                if start is None:
                    start = (event.start_mark.line, event.start_mark.column)
                if len(stack) >= _FAST_DEPTH:
                    raise _SlowPath("deep")
                stack.append([{} if kind is MappingStartEvent else [], _NO_KEY])
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                item = stack.pop()[0]
            elif kind is DocumentStartEvent:
                root, start = None, None
                continue
            elif kind is DocumentEndEvent:
                documents.append((root, text, start))
                continue
            elif kind is StreamEndEvent:
                break
            elif kind is StreamStartEvent:
                continue
            else:  # an alias: ruamel's reading decides
                raise _SlowPath("alias")
            if not stack:
                root = item
                continue
            top = stack[-1]
            if type(top[0]) is list:
                top[0].append(item)
            elif top[1] is _NO_KEY:
                if isinstance(item, bool):
                    item = "true" if item else "false"  # `_plain_key`
                if not isinstance(item, str) or item in top[0]:  # a duplicate: ruamel's error says where
                    raise _SlowPath("key")
                top[1] = item
            else:
                top[0][top[1]] = item
                top[1] = _NO_KEY
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
        raise _SlowPath from exc
    finally:
        parser.dispose()
    return documents


_NO_KEY = object()


def _plain_scalar_tag(tags: dict[str, str], value: str) -> str:
    tag = tags.get(value)
    if tag is None:
        tag = tags[value] = _plain_tag(value)
    return tag


def _scalar(value: str, tag: str) -> Any:
    """A scalar -> the value `_plain` makes of ruamel's reading, for the tags read alike; any other tag
    raises _SlowPath."""
    if tag == _STR:
        return value
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return _BOOLS[value.lower()]
    if tag == "tag:yaml.org,2002:int":
        return _int(value)
    if tag == "tag:yaml.org,2002:float":
        return _float(value)
    raise _SlowPath(tag)  # timestamp, merge `<<`, `=`, binary


def _int(text: str) -> int:
    """ruamel's RoundTripConstructor.construct_yaml_int (0.19) for YAML 1.1, base 60 excluded."""
    digits = text.replace("_", "")
    sign = -1 if digits[0] == "-" else 1
    digits = digits[1:] if digits[0] in "+-" else digits
    for prefix, base in (("0b", 2), ("0x", 16), ("0o", 8)):
        if digits.startswith(prefix):
            return sign * int(digits[2:], base)
    if len(digits) > 1 and digits[0] == "0":
        return sign * int(digits, 8)
    return sign * int(digits)


def _float(text: str) -> float:
    """ruamel's construct_yaml_float for YAML 1.1 (base 60 excluded): `.inf`, `.nan`, else float()."""
    digits = text.replace("_", "").lower()
    sign = -1.0 if digits[0] == "-" else 1.0
    digits = digits[1:] if digits[0] in "+-" else digits
    if digits == ".inf":
        return sign * float("inf")
    if digits == ".nan":
        return float("nan")
    if "e" in digits and "." not in digits.split("e")[0]:
        raise _SlowPath("1e5")  # ruamel warns (MantissaNoDotYAML1_1Warning) as it reads it
    return sign * float(digits)


def manifest_files(paths: Sequence[Path]) -> list[Path]:
    """Files as given, and every *.yaml / *.yml under the given folders (sorted by their path below the
    folder, recursively; os.walk and strings, as pathlib's rglob costs a second at 15,000 files)."""
    files: list[Path] = []
    missing: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = []
            top = str(path)

            def unreadable(error: OSError) -> None:  # rglob skipped such a folder without a word
                missing.append(
                    Problem(Location(str(error.filename)), f"cannot read folder: {error.strerror}")
                )

            for root, _, names in os.walk(top, onerror=unreadable):  # not into symlinked folders, as rglob
                below = os.path.relpath(root, top).replace(os.sep, "/")
                prefix = "" if below == "." else below + "/"
                for name in names:  # `Path.suffix`: `.yaml` alone is a name without one
                    if os.path.splitext(name)[1] in (".yaml", ".yml") and os.path.isfile(f"{root}/{name}"):
                        found.append(prefix + name)
            files.extend(path / relative for relative in sorted(found))
        elif path.is_file():
            files.append(path)
        else:
            missing.append(Problem(Location(str(path)), "no such file or directory"))
    if missing:
        raise InputError(missing)
    return files


def load_manifests(paths: Sequence[Path]) -> list[LoadedObject]:
    """All objects in the given files and folders; every unreadable or malformed file is one InputError."""
    objects: list[LoadedObject] = []
    problems: list[Problem] = []
    for file in manifest_files(paths):
        try:
            objects.extend(load_file(file))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return objects


# What a manifest file may be: hand-written files come from anyone who can open a pull request. The
# largest object etcd stores is 1.5 MiB; the deepest upstream CRD we ship nests 38 levels (the
# AnalysisTemplate's); a "billion laughs" of aliases is a few hundred bytes.
MAX_MANIFEST_BYTES = 32 << 20
MAX_MANIFEST_DEPTH = 200
MAX_MANIFEST_VALUES = 2_000_000


def load_file(file: Path) -> list[LoadedObject]:
    """The objects of one file; InputError if it cannot be read or parsed, or is beyond the bounds."""
    shown = str(file)
    try:
        size = file.stat().st_size
    except OSError:
        size = 0  # the read says why
    if size > MAX_MANIFEST_BYTES:
        message = f"file is {size:,} bytes, more than the {MAX_MANIFEST_BYTES:,} a manifest file may have"
        raise InputError([Problem(Location(shown, 1, 1), message, "split it into several files")])
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError([Problem(Location(shown), f"cannot read file: {exc.strerror or exc}")]) from None
    return load_text(decode_utf8(data, shown), shown)


# ---- schemas ----------------------------------------------------------------------------------------


def default_schema_dir() -> Path:
    """The shipped schemas in kubeconform's layout (inside the wheel, or the checkout's schemas/)."""
    return data_dir("schemas") / "kubernetes"


def is_builtin_api(api_version: str) -> bool:
    """True for Kubernetes' own API groups (`v1`, `apps/v1`, `batch/v1`, `networking.k8s.io/v1`, ...)."""
    return api_version.rpartition("/")[0] in BUILTIN_API_GROUPS


# A kind as Kubernetes names them (CamelCase letters and digits). Only such kinds of the built-in groups
# are skipped: kubeconform's `-skip` list is comma-separated, so a kind holding a comma cannot be in it,
# and no such kind exists to skip.
_KIND = re.compile(r"[A-Za-z][A-Za-z0-9]*")


def skips_builtin(api_version: str, kind: str) -> bool:
    """Whether an object without a shipped schema is skipped by both validators, not reported missing."""
    return is_builtin_api(api_version) and _KIND.fullmatch(kind) is not None


class SchemaStore:
    """Finds, reads and compiles (once) the schema of an (apiVersion, kind)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._validators: dict[tuple[str, str], SchemaValidator | None] = {}
        self._fast: dict[tuple[str, str], jsonschema_rs.Validator | None] = {}
        self._known: list[tuple[str, str]] | None = None

    def path_for(self, api_version: str, kind: str) -> Path | None:
        """The schema file kubeconform would look for, or None if the names cannot form a safe path."""
        group, _, version = api_version.rpartition("/")
        group = group or version  # kubeconform's {{.Group}} for core "v1" is "v1"
        if not (_GROUP_RE.match(group) and _VERSION_RE.match(version) and _KIND_RE.match(kind)):
            return None
        return self.root / group / f"{kind.lower()}_{version}.json"

    def schema(self, api_version: str, kind: str) -> dict[str, Any] | None:
        path = self.path_for(api_version, kind)
        if path is None or not path.is_file():
            return None
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ToolError(f"{path}: cannot read schema: {exc}") from None
        return loaded if isinstance(loaded, dict) else None

    def validator(self, api_version: str, kind: str) -> SchemaValidator | None:
        key = (api_version, kind)
        if key not in self._validators:
            schema = self.schema(api_version, kind)
            compiled: SchemaValidator | None = None
            if schema is not None:
                # The draft comes from the schema's $schema; all shipped ones say draft 4, which is also
                # what kubeconform assumes without one.
                from jsonschema import Draft4Validator
                from jsonschema.validators import validator_for

                cls = validator_for(schema, default=Draft4Validator)
                compiled = cls(schema, format_checker=format_checker())
            self._validators[key] = compiled
        return self._validators[key]

    def fast_validator(self, api_version: str, kind: str) -> jsonschema_rs.Validator | None:
        """jsonschema-rs compiled from the same schema, to tell valid objects from invalid ones fast; only
        the ones it rejects go to jsonschema (`validator`), whose errors are what users read. None where
        jsonschema-rs cannot stand in for jsonschema (a draft it does not have, a schema it rejects)."""
        key = (api_version, kind)
        if key not in self._fast:
            validator = self.validator(api_version, kind)
            self._fast[key] = None if validator is None else _fast_validator(validator)
        return self._fast[key]

    def has_schema(self, api_version: str, kind: str) -> bool:
        path = self.path_for(api_version, kind)
        return path is not None and path.is_file()

    def known(self) -> list[tuple[str, str]]:
        """(apiVersion, Kind) of every shipped schema (read only when a lookup misses)."""
        if self._known is None:
            known: set[tuple[str, str]] = set()
            for path in sorted(self.root.rglob("*.json")):
                try:
                    gvks = json.loads(path.read_text(encoding="utf-8")).get(
                        "x-kubernetes-group-version-kind", []
                    )
                except (OSError, ValueError, AttributeError):
                    continue
                for gvk in gvks if isinstance(gvks, list) else []:
                    group, version, kind = gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")
                    known.add((f"{group}/{version}" if group else version, kind))
            self._known = sorted(known)
        return self._known

    def missing_message(self, api_version: str, kind: str) -> str:
        text = f'no schema for apiVersion "{api_version}" kind "{kind}"'
        candidates = {f"{a} {k}": (a, k) for a, k in self.known()}
        close = difflib.get_close_matches(f"{api_version} {kind}", list(candidates), n=1, cutoff=0.8)
        if close:
            api, knd = candidates[close[0]]
            text += f' (did you mean apiVersion "{api}" kind "{knd}"?)'
        return text


@functools.cache
def _rs_drafts() -> dict[type[Any], type[jsonschema_rs.Validator]]:
    import jsonschema

    return {
        jsonschema.Draft4Validator: jsonschema_rs.Draft4Validator,
        jsonschema.Draft6Validator: jsonschema_rs.Draft6Validator,
        jsonschema.Draft7Validator: jsonschema_rs.Draft7Validator,
        jsonschema.Draft201909Validator: jsonschema_rs.Draft201909Validator,
        jsonschema.Draft202012Validator: jsonschema_rs.Draft202012Validator,
    }


def _formats_in(schema: Any) -> set[str]:
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            if isinstance(node.get("format"), str):
                found.add(node["format"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _fast_validator(validator: SchemaValidator) -> jsonschema_rs.Validator | None:
    """The jsonschema-rs twin of a compiled jsonschema validator: the same draft and the same formats.

    format_checker() asserts only `duration` and `date-time`, with our functions; jsonschema-rs would assert
    its own idea of every format it knows (`email`, `ipv4`, ... and its own `date-time`), so every format
    the schema names is registered: ours for those two, accept-anything for the rest. Unknown keywords
    (`x-kubernetes-*`) are ignored by both. tests/unit/test_validate_fast.py checks the verdicts agree.
    """
    rs_class = _rs_drafts().get(type(validator))
    schema = validator.schema
    if rs_class is None or not isinstance(schema, dict):
        return None
    checks = {"duration": _is_duration, "date-time": _is_date_time}
    formats = {name: checks.get(name, _any_format) for name in _formats_in(schema)}
    try:
        return rs_class(schema, formats=formats, validate_formats=True, offline=True)
    except (ValueError, jsonschema_rs.ReferencingError):  # jsonschema alone decides for this schema
        return None


def _any_format(value: object) -> bool:
    return True


# ---- findings ---------------------------------------------------------------------------------------


class SchemaProblem(NamedTuple):
    """One problem inside an object: where (`at_key`: point at the key, e.g. an unknown field) and what."""

    path: PathTuple
    message: str
    at_key: bool = False


def locate(target: LoadedObject, path: PathTuple, at_key: bool = False) -> Location:
    """The file, line and column of a field of an object (its start when the field is not there)."""
    found = position(target.node, path, at_key=at_key) if target.node is not None and path else None
    if found is None:
        line, column = _start(target.node) if target.node is not None else (target.line, 0)
        found = (line or target.line, column)
    return Location(target.path, found[0], found[1], format_field(path))


def _schema_finding(
    target: LoadedObject, path: PathTuple, message: str, rule: str = "SCHEMA", at_key: bool = False
) -> Finding:
    location = locate(target, path, at_key)
    return Finding(rule=rule, severity="error", location=location, message=message, obj=target.label)


def _sort(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.location, f.rule, f.message))


def _show(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _got(value: Any) -> str:
    kind = _json_type(value)
    return kind if kind in ("object", "array", "null") else f"{kind} {_show(value)}"


def _either(types: Any) -> str:
    names = [str(t) for t in types] if isinstance(types, list) else [str(types)]
    return " or ".join(names)


def unknown_field_message(name: str, known: Sequence[str]) -> str:
    """`unknown field "stepz" (did you mean "steps"?)`; lists the allowed fields when none is close."""
    text = f'unknown field "{name}"'
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    if not close:
        lowered = {k.lower(): k for k in known}
        close = [lowered[name.lower()]] if name.lower() in lowered else []
    if close:
        return text + f' (did you mean "{close[0]}"?)'
    if known and len(known) <= 12:
        return text + f" (allowed: {', '.join(sorted(known))})"
    return text


def _extra_keys(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    known = schema.get("properties", {}) or {}
    patterns = list((schema.get("patternProperties", {}) or {}).keys())
    return [k for k in instance if k not in known and not any(re.search(p, k) for p in patterns)]


def worded(keyword: str, path: PathTuple, instance: Any, expected: Any) -> str | None:
    """The message for a failed `keyword` (its schema value `expected`) on `instance`, worded the same for
    both validators; None for a keyword worded elsewhere."""
    if keyword == "type":
        return f"expected {_either(expected)}, got {_got(instance)}"
    if keyword == "enum" and isinstance(expected, list):
        return f"expected one of {', '.join(_show(v) for v in expected)}; got {_show(instance)}"
    if keyword == "pattern" and path == ("metadata", "name"):
        return (
            f"{_show(instance)} is not a valid name (lower-case letters, digits, '-' and '.'; "
            "starting and ending with a letter or digit)"
        )
    if keyword == "pattern":
        return f"{_show(instance)} does not match the pattern {expected}"
    if keyword == "format":
        hint = " (a Go duration such as 30s, 5m or 1h)" if expected == "duration" else ""
        return f"{_show(instance)} is not a valid {expected}{hint}"
    if keyword in ("minItems", "maxItems") and isinstance(instance, list):
        bound = "at least" if keyword == "minItems" else "at most"
        return f"expected {bound} {expected} item(s), got {len(instance)}"
    if keyword in ("minLength", "maxLength") and isinstance(instance, str):
        bound = "at least" if keyword == "minLength" else "at most"
        return f"expected {bound} {expected} character(s), got {len(instance)}"
    if keyword in ("minimum", "maximum"):
        bound = ">=" if keyword == "minimum" else "<="
        return f"expected a number {bound} {expected}, got {_show(instance)}"
    return None


def _exclusive_message(branches: Any) -> str | None:
    """`oneOf` branches that each require one field (Istio's `exact`/`prefix`/`regex`) -> one message."""
    if not isinstance(branches, list):
        return None
    exclusive = sorted({n for b in branches if isinstance(b, Mapping) for n in b.get("required", [])})
    return f"set at most one of: {', '.join(exclusive)}" if exclusive else None


def describe_error(error: ValidationError) -> list[SchemaProblem]:
    """One jsonschema error -> (path in the object, message) pairs, worded for the user."""
    path: PathTuple = tuple(error.absolute_path)
    keyword, instance = error.validator, error.instance
    expected: Any = error.validator_value
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if keyword == "additionalProperties" and isinstance(instance, Mapping):
        known = list((schema.get("properties") or {}).keys())
        extra = _extra_keys(instance, schema)
        return [SchemaProblem((*path, k), unknown_field_message(k, known), at_key=True) for k in extra]
    if keyword == "required" and isinstance(instance, Mapping):
        return [
            SchemaProblem((*path, n), f'missing required field "{n}"') for n in expected if n not in instance
        ]
    if keyword in ("oneOf", "anyOf") and isinstance(expected, list):
        if all(isinstance(b, Mapping) and set(b) == {"type"} for b in expected):
            return [
                SchemaProblem(
                    path, f"expected {_either([b['type'] for b in expected])}, got {_got(instance)}"
                )
            ]
        if error.context:
            from jsonschema.exceptions import best_match

            return describe_error(best_match(error.context))
        exclusive = _exclusive_message(expected)
        if exclusive:
            return [SchemaProblem(path, exclusive)]
    text = worded(str(keyword), path, instance, expected)
    return [SchemaProblem(path, text if text is not None else error.message)]


def subschema(schema: Mapping[str, Any], path: PathTuple) -> Mapping[str, Any] | None:
    """The schema node that governs `path` (properties / items / additionalProperties only)."""
    node: Any = schema
    for part in path:
        if not isinstance(node, Mapping):
            return None
        if isinstance(part, int):
            node = node.get("items")
        else:
            properties = node.get("properties") or {}
            node = properties[part] if part in properties else node.get("additionalProperties")
    return node if isinstance(node, Mapping) else None


# ---- validators -------------------------------------------------------------------------------------


class Validator(Protocol):
    """What both validators offer: in-memory objects (the renderer) or files and folders (the CLI)."""

    @property
    def name(self) -> str: ...

    def validate_objects(self, objects: Sequence[LoadedObject]) -> list[Finding]: ...

    def validate_paths(self, paths: Sequence[Path]) -> list[Finding]: ...


class BuiltinValidator:
    """jsonschema against the shipped schemas; every finding points at the field's line and column."""

    def __init__(self, schema_dir: Path | None = None, *, ignore_missing: bool = False) -> None:
        self.store = SchemaStore(schema_dir or default_schema_dir())
        self.ignore_missing = ignore_missing

    @property
    def name(self) -> str:
        return "builtin"

    def validate_paths(self, paths: Sequence[Path]) -> list[Finding]:
        return self.validate_objects(load_manifests(paths))

    def validate_objects(self, objects: Sequence[LoadedObject]) -> list[Finding]:
        findings: list[Finding] = []
        for target in objects:
            findings.extend(self.validate_object(target))
        return _sort(findings)

    def validate_object(self, target: LoadedObject) -> list[Finding]:
        api_version, kind = target.obj.get("apiVersion"), target.obj.get("kind")
        if not (isinstance(api_version, str) and api_version and isinstance(kind, str) and kind):
            return [
                _schema_finding(
                    target, (), "not a Kubernetes object: apiVersion and kind must be non-empty strings"
                )
            ]
        validator = self.store.validator(api_version, kind)
        if validator is None:
            if self.ignore_missing or skips_builtin(api_version, kind):
                return []
            return [
                _schema_finding(target, (), self.store.missing_message(api_version, kind), "SCHEMA-MISSING")
            ]
        fast = self.store.fast_validator(api_version, kind)
        if fast is not None:
            try:
                if fast.is_valid(target.obj):
                    return []
            except (ValueError, TypeError, OverflowError):  # a value it cannot read: jsonschema decides
                pass
        # jsonschema reports a `required` list once per missing name, and describe_error names them all:
        # keep one finding each (an object without `destination` and `project` once said both twice).
        problems = dict.fromkeys(
            p for error in validator.iter_errors(target.obj) for p in describe_error(error)
        )
        return [_schema_finding(target, p.path, p.message, at_key=p.at_key) for p in problems]


class KubeconformError(ToolError):
    """kubeconform missing, timing out, crashing or printing something unreadable (exit code 3)."""

    def __init__(
        self,
        reason: str,
        command: Sequence[str] = (),
        returncode: int | None = None,
        stdout: str = "",
        stderr: str = "",
    ) -> None:
        self.reason = reason
        self.command = tuple(command)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        text = f"kubeconform {reason}"
        if command:
            text += f"\n  command: {shlex.join(command)}\n  return code: {returncode}"
            text += f"\n  stdout: {_clip(stdout) or '(empty)'}\n  stderr: {_clip(stderr) or '(empty)'}"
        super().__init__(text)


def _clip(text: str, limit: int = 4000) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit} more characters)"


class KubeconformOutputError(ValueError):
    """kubeconform's stdout is not the JSON report we asked for."""


class KubeconformValidator:
    """The kubeconform binary against the shipped schemas only: it never reaches the network."""

    def __init__(
        self,
        executable: str,
        schema_dir: Path | None = None,
        *,
        ignore_missing: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.executable = executable
        self.store = SchemaStore(schema_dir or default_schema_dir())
        self.ignore_missing = ignore_missing
        self.timeout = timeout

    @property
    def name(self) -> str:
        return "kubeconform"

    def command(self, files: Sequence[str], skip: Sequence[str] = ()) -> list[str]:
        # No `-schema-location default`: only our folder is searched, so nothing is downloaded.
        argv = [self.executable, "-strict", "-summary", "-output", "json"]
        argv += ["-schema-location", f"{self.store.root.resolve()}/{KUBECONFORM_LAYOUT}"]
        if skip:
            argv += ["-skip", ",".join(skip)]
        if self.ignore_missing:
            argv.append("-ignore-missing-schemas")
        return argv + list(files)

    def skip_list(self, objects: Sequence[LoadedObject]) -> list[str]:
        """`apiVersion/Kind` (kubeconform's GVK form) of built-in kinds that have no shipped schema."""
        skip = set()
        for target in objects:
            api_version, kind = target.obj.get("apiVersion"), target.obj.get("kind")
            if (
                isinstance(api_version, str)
                and isinstance(kind, str)
                and skips_builtin(api_version, kind)
                and not self.store.has_schema(api_version, kind)
            ):
                skip.add(f"{api_version}/{kind}")
        return sorted(skip)

    def validate_paths(self, paths: Sequence[Path]) -> list[Finding]:
        """kubeconform reads the files themselves (so it sees exactly what `kubectl apply` would)."""
        objects = load_manifests(paths)  # positions for the findings, and the -skip list
        files = list(dict.fromkeys(os.path.abspath(o.path) for o in objects))
        if not files:
            return []
        return self._run(self.command(files, self.skip_list(objects)), objects)

    def validate_objects(self, objects: Sequence[LoadedObject]) -> list[Finding]:
        """In-memory objects are written one per file into a temporary folder first."""
        if not objects:
            return []
        try:
            with tempfile.TemporaryDirectory(prefix="gitops-gen-kubeconform-") as tmp:
                staged: list[LoadedObject] = []
                for index, target in enumerate(objects):
                    file = Path(tmp) / f"{index:05d}.yaml"
                    text = json.dumps(target.obj, ensure_ascii=False)  # JSON is YAML
                    file.write_text(text, encoding="utf-8")
                    staged.append(replace(target, path=str(file)))
                findings = self._run(self.command([o.path for o in staged], self.skip_list(objects)), staged)
        except OSError as exc:  # a full or read-only temporary folder, a file-size limit
            raise ToolError(
                f"cannot write kubeconform's input to {tempfile.gettempdir()}: {exc.strerror or exc}"
            ) from None
        original = {s.path: o.path for s, o in zip(staged, objects, strict=True)}
        return _sort(
            [
                replace(f, location=replace(f.location, path=original.get(f.location.path, f.location.path)))
                for f in findings
            ]
        )

    def _run(self, argv: list[str], objects: Sequence[LoadedObject]) -> list[Finding]:
        returncode, stdout, stderr = run_command(argv, self.timeout)
        if returncode not in (0, 1):
            raise KubeconformError(f"crashed (exit code {returncode})", argv, returncode, stdout, stderr)
        try:
            findings = parse_kubeconform_output(stdout, objects, schema_dir=self.store.root)
        except KubeconformOutputError as exc:
            raise KubeconformError(
                f"printed unreadable output ({exc})", argv, returncode, stdout, stderr
            ) from None
        if returncode == 1 and not findings:
            raise KubeconformError(
                "failed (exit code 1) without reporting a problem", argv, returncode, stdout, stderr
            )
        return findings


def run_command(argv: Sequence[str], timeout: float) -> tuple[int, str, str]:
    """Run a tool with a deadline; the whole process group is killed on timeout. Raises KubeconformError."""
    try:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,  # its own process group, so a timeout also ends anything it started
        )
    except OSError as exc:
        raise KubeconformError(f"could not be started: {exc}", argv) from None
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):  # it may have just exited on its own
            os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        raise KubeconformError(f"timed out after {timeout:g}s", argv, None, stdout, stderr) from None
    return process.returncode, stdout, stderr


# ---- kubeconform's JSON report ----------------------------------------------------------------------

_ADDITIONAL = re.compile(r"additional ?propert(?:y|ies) ((?:'(?:[^'\\]|\\.)*'(?:, )?)+)", re.IGNORECASE)
_MISSING = re.compile(r"missing propert(?:y|ies):? ((?:'(?:[^'\\]|\\.)*'(?:, )?)+)", re.IGNORECASE)
_NO_SCHEMA = re.compile(r"could not find schema for (\S+)")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
_TREE_ENTRY = re.compile(r" ((?:  )*)- at '((?:[^'\\]|\\.)*)': ")
# santhosh-tekuri/jsonschema v6.0.1 kind/kind.go messages (what kubeconform v0.7.0 prints).
_TYPE = re.compile(r"^got (\w+), want (\w+(?: or \w+)*)$")
_COUNT = re.compile(r"^(minItems|maxItems|minLength|maxLength): got (\d+), want (\d+)$")
_BOUND = re.compile(r"^(minimum|maximum): got (\S+), want (\S+)$")
_ENUM = re.compile(r"^value must be ")
_PATTERN = re.compile(r"^'.*' does not match pattern '.*'$")
_FORMAT = re.compile(r"^.* is not valid ([\w-]+): ")
_SKIPPED_STATUSES = ("statusValid", "statusSkipped", "statusEmpty", "")


def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


def _find_object(
    resource: Mapping[str, Any], by_file: Mapping[str, list[LoadedObject]]
) -> LoadedObject | None:
    candidates = by_file.get(_norm(str(resource.get("filename", ""))), [])
    kind, name, version = resource.get("kind"), resource.get("name"), resource.get("version")
    for target in candidates:
        metadata = target.obj.get("metadata")
        target_name = metadata.get("name") if isinstance(metadata, Mapping) else None
        if target.obj.get("kind") == kind and target.obj.get("apiVersion") == version and target_name == name:
            return target
    same_kind = [t for t in candidates if t.obj.get("kind") == kind]
    if len(same_kind) == 1:
        return same_kind[0]
    return candidates[0] if len(candidates) == 1 else None


def _pointer_to_path(pointer: str, obj: Any) -> PathTuple:
    """`/spec/steps/1/pause` -> ("spec", "steps", 1, "pause"), list indexes told apart by the object."""
    if not pointer.strip("/"):
        return ()
    parts: list[str | int] = []
    current = obj
    for token in pointer.lstrip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(current, list) and token.isdigit():
            index = int(token)
            parts.append(index)
            current = current[index] if index < len(current) else None
        elif isinstance(current, Mapping):
            parts.append(token)
            current = current.get(token)
        else:
            parts.append(int(token) if token.isdigit() else token)
            current = None
    return tuple(parts)


def _strip_location(message: str) -> str:
    # kubeconform v0.7 may prefix a cause with where it is ("at '/spec/replicas': "); the field says that.
    return re.sub(r"^(?:-\s*)?at '[^']*':\s*", "", message.strip())


def _unquote(text: str) -> str:
    """A string quoted by santhosh-tekuri/jsonschema v6 `quote` (kind/kind.go: Go %q, then `\\'` for `'`)."""
    body = text.replace("\\'", "'").replace('"', '\\"')
    try:
        value = json.loads(f'"{body}"')
    except ValueError:
        return text
    return value if isinstance(value, str) else text


class _Cause(NamedTuple):
    """One entry of kubeconform's error tree: its depth (1 = a top-level cause), pointer and message."""

    depth: int
    pointer: str
    message: str


def _error_tree(msg: str) -> list[_Cause]:
    """The causes in kubeconform's `msg`, in order, or [] when it is not the tree we know.

    kubeconform v0.7.0 lists in `validationErrors` only the top-level causes of santhosh-tekuri/jsonschema
    v6's error (pkg/validator/validator.go, tag v0.7.0: `for _, ve := range e.Causes`), so several problems
    under one field come out as one `validation failed` there. `msg` has the whole tree (v6.0.1 output.go,
    `ValidationError.display`: per cause a newline, two spaces per level below the first, `- at '<pointer>':
    <message>`; kubeconform replaces the newlines by spaces). Quoted values escape `'`, so the markers are
    unambiguous.
    """
    marks = list(_TREE_ENTRY.finditer(msg))
    causes = []
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(msg)
        pointer = _unquote(mark.group(2))
        causes.append(_Cause(len(mark.group(1)) // 2 + 1, pointer, msg[mark.end() : end].strip()))
    return causes


def _leaves(causes: Sequence[_Cause]) -> list[tuple[str, str, list[_Cause]]]:
    """(pointer, message, children) of the causes worth reporting: the leaves, except that a failed oneOf /
    anyOf whose branches only disagree on the type is one cause (its children are those types)."""
    found: list[tuple[str, str, list[_Cause]]] = []
    index = 0
    while index < len(causes):
        cause = causes[index]
        end = index + 1
        while end < len(causes) and causes[end].depth > cause.depth:
            end += 1
        children = list(causes[index + 1 : end])
        direct = [c for c in children if c.depth == cause.depth + 1]
        types = bool(direct) and len(direct) == len(children) and all(_TYPE.match(c.message) for c in direct)
        if not children or (types and cause.message.startswith(("oneOf failed", "anyOf failed"))):
            found.append((cause.pointer, cause.message, children))
            index = end
        else:
            index += 1  # a grouping ("validation failed"): its children follow
    return found


def _at(obj: Any, path: PathTuple) -> Any:
    for part in path:
        if isinstance(obj, Mapping) and isinstance(part, str):
            obj = obj.get(part)
        elif isinstance(obj, list) and isinstance(part, int) and part < len(obj):
            obj = obj[part]
        else:
            return None
    return obj


def _kubeconform_problems(
    path: PathTuple, message: str, children: Sequence[_Cause], target: LoadedObject, schema: Any
) -> Iterator[SchemaProblem]:
    """One kubeconform cause -> problems worded as the builtin validator words them (kind/kind.go v6.0.1
    messages); an unknown message is shown as kubeconform printed it."""
    node = subschema(schema, path) if isinstance(schema, Mapping) else None
    instance = _at(target.obj, path)
    text: str | None = None
    if match := _ADDITIONAL.search(message):
        known = list((node.get("properties") or {}).keys()) if node is not None else []
        for name in _QUOTED.findall(match.group(1)):
            yield SchemaProblem((*path, _unquote(name)), unknown_field_message(_unquote(name), known), True)
        return
    if match := _MISSING.search(message):
        for name in _QUOTED.findall(match.group(1)):
            yield SchemaProblem((*path, _unquote(name)), f'missing required field "{_unquote(name)}"')
        return
    if children:  # oneOf / anyOf of types
        wanted = [w for c in children if (m := _TYPE.match(c.message)) for w in m.group(2).split(" or ")]
        text = worded("type", path, instance, list(dict.fromkeys(wanted)))
    elif match := _TYPE.match(message):
        wanted = match.group(2).split(" or ")
        declared = (node or {}).get("type")
        # kubeconform lists a `type: [integer, "null"]` as "null or integer": name them in the schema's order,
        # as jsonschema does
        if isinstance(declared, list) and sorted(map(str, declared)) == sorted(wanted):
            wanted = [str(t) for t in declared]
        text = worded("type", path, instance, wanted)
    elif match := _COUNT.match(message):
        text = worded(match.group(1), path, instance, int(match.group(3)))
    elif match := _BOUND.match(message):
        text = worded(match.group(1), path, instance, (node or {}).get(match.group(1), match.group(3)))
    elif _ENUM.match(message) and node is not None and isinstance(node.get("enum"), list):
        text = worded("enum", path, instance, node["enum"])
    elif _PATTERN.match(message) and node is not None and isinstance(node.get("pattern"), str):
        text = worded("pattern", path, instance, node["pattern"])
    elif match := _FORMAT.match(message):
        text = worded("format", path, instance, match.group(1))
    elif message.startswith("oneOf failed, subschemas") and node is not None:
        text = _exclusive_message(node.get("oneOf"))
    yield SchemaProblem(path, text or message)


def _invalid(
    resource: Mapping[str, Any], target: LoadedObject, store: SchemaStore | None
) -> Iterator[SchemaProblem]:
    errors = resource.get("validationErrors") or []
    if not isinstance(errors, list) or not errors:
        yield SchemaProblem((), str(resource.get("msg") or "invalid"))
        return
    schema = None
    if store is not None:
        api_version, kind = target.obj.get("apiVersion"), target.obj.get("kind")
        if isinstance(api_version, str) and isinstance(kind, str):
            schema = store.schema(api_version, kind)
    causes: list[tuple[str, str, list[_Cause]]] = []
    for error in errors:
        if not isinstance(error, Mapping):
            raise KubeconformOutputError("a validationErrors entry is not an object")
        causes.append((str(error.get("path", "")), _strip_location(str(error.get("msg", ""))), []))
    tree = _error_tree(str(resource.get("msg") or ""))
    if sum(1 for c in tree if c.depth == 1) == len(causes):  # the tree is what validationErrors lists
        causes = _leaves(tree)
    for pointer, message, children in causes:
        path = _pointer_to_path(pointer, target.obj)
        yield from _kubeconform_problems(path, message, children, target, schema)


def parse_kubeconform_output(
    stdout: str, objects: Sequence[LoadedObject], *, schema_dir: Path | None = None
) -> list[Finding]:
    """kubeconform's `-output json` report -> Findings on the objects it was given.

    Resources are matched to `objects` by file name (as passed to kubeconform, compared as absolute paths),
    then kind, apiVersion and name; `validationErrors[].path` (a JSON pointer) becomes the dotted field and,
    through the object's round-trip node, a line and column. With `schema_dir`, an unknown field gets the
    same did-you-mean as the builtin validator. Raises KubeconformOutputError on anything unexpected.
    """
    try:
        report = json.loads(stdout)
    except ValueError as exc:
        raise KubeconformOutputError(f"not JSON: {exc}") from None
    if not isinstance(report, dict) or not isinstance(report.get("resources"), list):
        raise KubeconformOutputError('no "resources" list')
    by_file: dict[str, list[LoadedObject]] = {}
    for target in objects:
        by_file.setdefault(_norm(target.path), []).append(target)
    store = SchemaStore(schema_dir) if schema_dir is not None else None
    findings: list[Finding] = []
    for resource in report["resources"]:
        if not isinstance(resource, dict):
            raise KubeconformOutputError("a resources entry is not an object")
        status = resource.get("status", "")
        if status in _SKIPPED_STATUSES:
            continue
        if status not in ("statusInvalid", "statusError"):
            raise KubeconformOutputError(f"unknown status {status!r}")
        found = _find_object(resource, by_file)
        target = found or LoadedObject(
            path=str(resource.get("filename", "")),
            line=0,
            obj={
                "kind": resource.get("kind"),
                "apiVersion": resource.get("version"),
                "metadata": {"name": resource.get("name")},
            },
        )
        message = str(resource.get("msg") or "")
        if status == "statusError":
            missing = _NO_SCHEMA.search(message)
            if missing:
                api_version, kind = str(resource.get("version", "")), str(resource.get("kind", ""))
                text = (
                    store.missing_message(api_version, kind)
                    if store
                    else f'no schema for apiVersion "{api_version}" kind "{kind}"'
                )
                findings.append(_schema_finding(target, (), text, "SCHEMA-MISSING"))
            else:
                findings.append(
                    _schema_finding(target, (), message or "kubeconform could not validate this object")
                )
            continue
        findings.extend(
            _schema_finding(target, p.path, p.message, at_key=p.at_key)
            for p in _invalid(resource, target, store)
        )
    return _sort(findings)


# ---- choosing ---------------------------------------------------------------------------------------


def make_validator(
    name: Literal["auto", "kubeconform", "builtin"] = "auto",
    *,
    schema_dir: Path | None = None,
    ignore_missing: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
) -> BuiltinValidator | KubeconformValidator:
    """`auto`: kubeconform when it is on PATH, else the builtin one. Asking for a missing kubeconform is a
    ToolError (exit code 3), never a silent fallback."""
    if name == "builtin":
        return BuiltinValidator(schema_dir, ignore_missing=ignore_missing)
    if name not in ("auto", "kubeconform"):
        raise ValueError(f"unknown validator {name!r}")
    executable = shutil.which("kubeconform")
    if executable is None:
        if name == "kubeconform":
            raise KubeconformError(
                "is not on PATH (install kubeconform v0.7.0, or use the builtin validator)"
            )
        return BuiltinValidator(schema_dir, ignore_missing=ignore_missing)
    return KubeconformValidator(executable, schema_dir, ignore_missing=ignore_missing, timeout=timeout)
