"""Layering a service's values: environment base < `defaults` < service spec < `services.<name>`.

The merge rule: maps merge key by key, lists replace, an explicit null removes the value (so a schema
default, if any, applies again). Each merged value can be traced back to the file, line and column of
the layer it came from, so errors found after the merge still point at the right spot.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import Location
from .spec import NULL_SCHEMA, SourceFile, schema_file
from .yamlio import PathTuple, format_field, has_path, position


def merge(base: Any, override: Any) -> Any:
    """Maps merge, lists and scalars replace, None removes. Neither input is modified."""
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = {k: copy.deepcopy(v) for k, v in base.items()}
        for key, value in override.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = merge(merged[key], value)
            else:
                merged[key] = _without_nulls(value)
        return merged
    return _without_nulls(override)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return copy.deepcopy(value)


@dataclass(frozen=True)
class Layer:
    """Values from one place of one file. Value path P is found in the file at `prefix + P[strip:]`."""

    source: SourceFile
    data: Mapping[str, Any]
    prefix: PathTuple = ()
    strip: int = 0

    def file_path(self, path: PathTuple) -> PathTuple:
        return self.prefix + path[self.strip :]


@dataclass(frozen=True)
class Merged:
    """A service's merged values and the layers they came from (lowest first)."""

    data: dict[str, Any]
    layers: tuple[Layer, ...] = field(default=())

    def locate(self, path: PathTuple) -> Location:
        """Where the value at `path` was written: the highest layer holding all of it, else the deepest
        partial match (a default filled in under a map the user wrote), else the top of the spec."""
        best: tuple[int, Layer] | None = None
        for layer in reversed(self.layers):
            if has_path(layer.data, path):
                return layer_location(layer, path)
            depth = _matched_depth(layer.data, path)
            if depth and (best is None or depth > best[0]):
                best = (depth, layer)
        if best is not None:
            depth, layer = best
            where = layer_location(layer, path[:depth], at_key=True)
            return Location(where.path, where.line, where.column, format_field(path))
        spec = self.layers[-1] if self.layers else None
        for layer in self.layers:
            if layer.prefix == () and layer.strip == 0 and layer.source.display.startswith("services/"):
                spec = layer
        display = spec.source.display if spec else ""
        return Location(display, 1, 1, format_field(path))


def _matched_depth(data: Any, path: PathTuple) -> int:
    depth = 0
    for i in range(1, len(path) + 1):
        if not has_path(data, path[:i]):
            break
        depth = i
    return depth


def layer_location(layer: Layer, path: PathTuple, at_key: bool = False) -> Location:
    found = position(layer.source.node, layer.file_path(path), at_key)
    line, column = found if found else (1, 1)
    return Location(layer.source.display, line, column, format_field(path))


def merge_layers(layers: Sequence[Layer]) -> Merged:
    data: dict[str, Any] = {}
    for layer in layers:
        data = merge(data, layer.data)
    return Merged(data, tuple(layers))


def service_layers(env: SourceFile, spec: SourceFile, name: str) -> list[Layer]:
    """The layers of one service in one environment, lowest first."""
    env_data: Mapping[str, Any] = env.data
    layers: list[Layer] = []
    if "tsb" in env_data:
        tsb = {k: v for k, v in env_data["tsb"].items() if k != "tenancyNamespace"}
        layers.append(Layer(env, {"tsb": tsb}))
    if "argocd" in env_data:
        # Where Argo CD itself runs is the environment's business, not an Application's.
        argocd = {k: v for k, v in env_data["argocd"].items() if k not in ("namespace", "hubServer")}
        layers.append(Layer(env, {"argocd": argocd}))
    gitops = env_data.get("gitops", {})
    repo = {k: gitops[k] for k in ("repoURL",) if k in gitops}
    if repo:
        layers.append(Layer(env, {"argocd": repo}, prefix=("gitops",), strip=1))
    if isinstance(env_data.get("defaults"), Mapping):
        layers.append(Layer(env, env_data["defaults"], prefix=("defaults",)))
    layers.append(Layer(spec, spec.data))
    override = env_data.get("services", {}).get(name)
    if isinstance(override, Mapping):
        layers.append(Layer(env, override, prefix=("services", name)))
    return layers


def apply_defaults(schema: Mapping[str, Any], data: Any, root: Mapping[str, Any] | None = None) -> Any:
    """Fill in the schema's `default`s inside the objects present in `data`. An object the user left out
    is created only where the schema gives it a default itself (`argocd: {default: {}}`), so
    `analysis.interval` gets its default only when there is an `analysis`."""
    root = root if root is not None else schema
    schema, root = _resolve(schema, root)
    if isinstance(data, dict):
        for key, sub in schema.get("properties", {}).items():
            sub, sub_root = _resolve(sub, root)
            if key not in data and "default" in sub:
                data[key] = copy.deepcopy(sub["default"])
            if key in data:
                apply_defaults(sub, data[key], sub_root)
    elif isinstance(data, list) and isinstance(schema.get("items"), Mapping):
        for item in data:
            apply_defaults(schema["items"], item, root)
    return data


def _resolve(
    schema: Mapping[str, Any], root: Mapping[str, Any]
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """Follow `$ref`s, local (`#/$defs/...`) or into another spec schema (`service.schema.json#/...`);
    other keywords beside the `$ref` are kept. Returns the schema and the document it is in."""
    while True:
        schema = _without_null_branch(schema)
        if not isinstance(schema.get("$ref"), str):
            break
        document, _, pointer = schema["$ref"].partition("#")
        if document:
            root = schema_file(document)
        target: Any = root
        for part in pointer.lstrip("/").split("/") if pointer.strip("/") else ():
            target = target[part]
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest}
    return schema, root


def _without_null_branch(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """`anyOf: [X, {type: null}]` (a value a layer may remove) is X, for finding defaults and properties."""
    branches = schema.get("anyOf")
    if isinstance(branches, list) and NULL_SCHEMA in branches and len(branches) == 2:
        (kept,) = (b for b in branches if b != NULL_SCHEMA)
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        return {**kept, **rest}
    return schema
