"""A cache of what each service renders to in each environment, so that work is proportional to the change.

A render of one service (the pre-commit path), or of a config whose inputs did not change, must not
resolve, render and validate the thousands of services around it. Every (environment, service) pair is
stored under a key that hashes *every* input of its render: the service spec's bytes, the environment
file's bytes, and the tool itself (its version, templates and schemas). An entry holds

- the facts other parts of the render need about the service: its namespace, TSB tenancy, whether it
  has an ingress, and the identity of every object it renders (environment-level objects, the
  uniqueness check and the cross-object rules read these, not the objects);
- its manifests, exactly as rendered;
- the schema findings of those manifests, per validator (a schema verdict depends on the object alone).

Whole-environment rule findings are cached too, keyed by the keys of everything in the environment.

The cache lives outside the config repo (`default_folder`) and only ever saves time: a missing,
unreadable, corrupt or foreign entry is a miss (the entry is
rendered again and rewritten), entries are written atomically (temp file + rename), and nothing that fails
to resolve is cached. Its folder holds a `.gitignore` of `*` and a CACHEDIR.TAG, so git and backup tools
leave it alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from .errors import Finding, Location
from .resources import data_dir

# What an entry holds; another value is a miss (2: an environment's index holds each service's key).
CACHE_FORMAT = 2


def default_folder(config_dir: Path) -> Path:
    """`$XDG_CACHE_HOME/gitops-gen/<hash of the config folder>` (`~/.cache/...` by default): outside the
    config repo, so that no commit or pull request can put entries in it (an entry's manifests are written
    as they are: a cache a pull request could fill would be a way to write anything)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = hashlib.sha256(str(config_dir.resolve()).encode()).hexdigest()[:20]
    return Path(base) / "gitops-gen" / folder


_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# gitops-gen's render cache: safe to delete.\n"


@functools.cache
def tool_fingerprint() -> str:
    """What the tool itself brings to a render: the name, size and modification time of every file of its
    code, templates and schemas. Not its version: an editable install keeps it while they change, and a
    new release brings new files. Their stat, not their bytes, and no package metadata look-up (100 ms):
    this runs on every pre-commit."""
    digest = hashlib.sha256(f"gitops-gen cache {CACHE_FORMAT}\n".encode())
    package = Path(__file__).resolve().parent
    for folder in (package, data_dir("templates"), data_dir("schemas")):
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(names):
                info = os.stat(os.path.join(root, name))
                relative = os.path.relpath(os.path.join(root, name), folder)
                digest.update(f"{relative}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def entry_key(env_bytes: bytes, spec_bytes: bytes) -> str:
    digest = hashlib.sha256(tool_fingerprint().encode())
    for part in (env_bytes, spec_bytes):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def combined_key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class RenderCache:
    """Entries on disk under `folder`; every failure to read or write one is a miss, never an error."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._ready = False
        self._read: dict[tuple[str, str], dict[str, Any]] = {}  # parts already decoded by this process

    def _path(self, key: str, part: str) -> Path:
        return self.folder / key[:2] / f"{key}.{part}.json"

    def get(self, key: str, part: str = "facts") -> dict[str, Any] | None:
        """The `part` of an entry (entries are split so that a reader decodes only what it needs); a part
        is decoded once per process."""
        if (key, part) in self._read:
            return self._read[(key, part)]
        try:
            # orjson reads what json.dumps wrote ~3x faster, and refuses what it would read differently
            # (NaN, integers beyond 64 bits, lone surrogates): such an entry is a miss, never a wrong hit.
            document = orjson.loads(self._path(key, part).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(document, dict) or document.get("format") != CACHE_FORMAT:
            return None
        if document.get("key") != key or not isinstance(document.get("value"), dict):
            return None
        value: dict[str, Any] = document["value"]
        self._read[(key, part)] = value
        return value

    def remember(self, key: str, value: Mapping[str, Any], part: str = "facts") -> None:
        """What another process just `put` there: no need to read it back."""
        self._read[(key, part)] = dict(value)

    def put(self, key: str, value: Mapping[str, Any], part: str = "facts") -> None:
        self._read[(key, part)] = dict(value)
        path = self._path(key, part)
        try:
            self._prepare()
            path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps({"format": CACHE_FORMAT, "key": key, "value": value}, separators=(",", ":"))
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        except (OSError, TypeError, ValueError):
            return  # a cache that cannot be written only costs time

    def _prepare(self) -> None:
        if self._ready:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, text in ((".gitignore", "*\n"), ("CACHEDIR.TAG", _TAG)):
            if not (self.folder / name).exists():
                (self.folder / name).write_text(text, encoding="utf-8")
        self._ready = True


# ---- results of pure functions, across processes ------------------------------------------------------

_memo_cache: RenderCache | None = None


def use_for_results(cache: RenderCache | None) -> None:
    """Keep the results of `recall`/`remember` callers in `cache` (None: in this process only). A render
    sets it before it runs the rules: checking one query against one SkyWalking protocol builds that
    protocol's GraphQL schema first (~0.25 s), which a pre-commit check should pay once, not every time."""
    global _memo_cache
    _memo_cache = cache


def _memo_key(function: str, arguments: Iterable[str]) -> str:
    return combined_key("result", tool_fingerprint(), function, *arguments)


def recall(function: str, *arguments: str) -> Any:
    """What `function(*arguments)` returned before (JSON, as `remember` stored it), or None."""
    if _memo_cache is None:
        return None
    value = _memo_cache.get(_memo_key(function, arguments), "result")
    return None if value is None else value.get("result")


def remember(function: str, arguments: Iterable[str], result: Any) -> None:
    if _memo_cache is not None:
        _memo_cache.put(_memo_key(function, arguments), {"result": result}, "result")


def encode_value(value: Any) -> Any:
    """A tree of frozen dataclasses, tuples, dicts and scalars as JSON, every type kept: `decode_value`
    gives back an equal value (the callers check that before they store one)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"@": type(value).__name__, "fields": fields}
    if isinstance(value, tuple):
        return {"@": "tuple", "items": [encode_value(v) for v in value]}
    if isinstance(value, Mapping):
        return {"@": "dict", "items": [[encode_value(k), encode_value(v)] for k, v in value.items()]}
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    return value


def decode_value(data: Any, classes: Mapping[str, type]) -> Any:
    """The inverse of `encode_value`; only the dataclasses in `classes` are made (a damaged entry raises
    KeyError, TypeError or ValueError: a miss)."""
    if isinstance(data, list):
        return [decode_value(v, classes) for v in data]
    if not isinstance(data, dict):
        return data
    kind = data["@"]
    if kind == "tuple":
        return tuple(decode_value(v, classes) for v in data["items"])
    if kind == "dict":
        return {decode_value(k, classes): decode_value(v, classes) for k, v in data["items"]}
    return classes[kind](**{name: decode_value(v, classes) for name, v in data["fields"].items()})


def finding_to_json(finding: Finding) -> dict[str, Any]:
    where = finding.location
    return {
        "rule": finding.rule,
        "severity": finding.severity,
        "location": [where.path, where.line, where.column, where.field],
        "message": finding.message,
        "obj": finding.obj,
        "link": finding.link,
    }


def finding_from_json(data: Mapping[str, Any]) -> Finding:
    path, line, column, field_path = data["location"]
    return Finding(
        rule=data["rule"],
        severity=data["severity"],
        location=Location(path, line, column, field_path),
        message=data["message"],
        obj=data["obj"],
        link=data["link"],
    )


def findings_to_json(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    return [finding_to_json(f) for f in findings]
