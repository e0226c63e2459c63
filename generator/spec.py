"""Load service specs and environment files, and check them against their JSON schemas.

Every problem points at file:line:column and the field path; all problems of a run are reported
together, sorted by position.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .errors import InputError, Location, Problem, raise_if_any
from .limits import DNS_LABEL_MAX, FORMATS, NAME_HINT, name_problem
from .resources import data_dir
from .skywalking import fraction_hint
from .yamlio import (
    PathTuple,
    check_bounds,
    format_field,
    load_source_file,
    parse_documents,
    position,
    read_text,
    syntax_problem,
)

if TYPE_CHECKING:  # jsonschema is imported when a file is checked: a warm cache checks none (~50 ms)
    import jsonschema
    from jsonschema.exceptions import ValidationError

SERVICES_DIR = "services"
# Each environment renders Applications `<env>-root`, `<env>-namespaces`, `<env>-tsb` and `<env>-gateways`
# of its own; a service of one of these names would render an Application of the same name.
RESERVED_SERVICE_NAMES = ("root", "namespaces", "tsb", "gateways")
ENVIRONMENTS_DIR = "environments"
# Every value a layer may set also takes null in the schemas (what editors check): an explicit null is the
# merge rule's "remove the value below", never a value. The loaders drop it before checking
# (`without_removals`), so messages never offer null as what was expected.
NULL_SCHEMA = {"type": "null"}


@dataclass(frozen=True)
class AdoptedObject:
    """One object of a service's own workload manifests (`services/<name>/*.yaml`)."""

    display: str  # services/<name>/<file>
    obj: dict[str, Any]


@dataclass(frozen=True)
class SourceFile:
    """A loaded YAML file: its positions (`yamlio.Loaded.node`) and its data as plain Python values; for a
    spec, the objects of its workload folder too."""

    display: str
    node: Any
    data: Any
    adopted: tuple[AdoptedObject, ...] = ()

    def locate(self, path: PathTuple, prefix: PathTuple = (), at_key: bool = False) -> Location:
        found = position(self.node, prefix + path, at_key)
        line, column = found if found else (1, 1)
        return Location(self.display, line, column, format_field(path))


# ---- schemas ------------------------------------------------------------------------------------------


@cache  # read once per process: every service of every environment is filled from it
def schema_file(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((data_dir("schemas") / "spec" / name).read_text(encoding="utf-8"))
    return loaded


@cache
def _validator(name: str, pointer: str = "") -> jsonschema.protocols.Validator:
    """Compiled once per process: schema checking runs for every file of every render."""
    import jsonschema
    from referencing import Registry, Resource

    service = schema_file("service.schema.json")
    registry: Registry = Registry().with_resources(
        [
            ("service.schema.json", Resource.from_contents(service)),
            ("environment.schema.json", Resource.from_contents(schema_file("environment.schema.json"))),
        ]
    )
    schema = schema_file(name)
    if pointer:
        schema = {"$ref": f"{name}#{pointer}"}
    base = jsonschema.validators.validator_for(service)
    # An integer is an int: JSON Schema counts 5.0 (and YAML's `1e3`) as one, but a Rollout's int32 field
    # does not take `5.0`, and the message belongs at the spec, not at the rendered file.
    integers = base.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
    )
    cls = jsonschema.validators.extend(base, type_checker=integers)  # type: ignore[no-untyped-call]
    validator: jsonschema.protocols.Validator = cls(
        schema, registry=registry, format_checker=_format_checker()
    )
    return validator


@cache
def _format_checker() -> jsonschema.FormatChecker:
    """The schemas' own formats (`go-duration`, `repo-url`, ...), each a check in `limits`; the reason
    it gives becomes the message (`_describe`)."""
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    for name, problem_of in FORMATS.items():

        def check(value: object, problem_of: Callable[[str], str | None] = problem_of) -> bool:
            problem = problem_of(value) if isinstance(value, str) else None
            if problem:
                raise ValueError(problem)
            return True

        checker.checks(name, raises=ValueError)(check)
    return checker


def service_validator(partial: bool = False) -> jsonschema.protocols.Validator:
    """The whole-spec validator, or (partial) the one for environment `defaults` and overrides."""
    return _validator("service.schema.json", "/$defs/service" if partial else "")


def environment_validator() -> jsonschema.protocols.Validator:
    return _validator("environment.schema.json")


def analysis_test_validator() -> jsonschema.protocols.Validator:
    return _validator("analysis-test.schema.json")


def without_removals(layer: Any) -> Any:
    """A layer as the schema sees it: an explicit null is a merge directive ("remove the value below"),
    valid for any key, so it is left out of the check. A top-level `replicas: null` stays null either
    way (no replicas field). A list replaces the one below whole, so a null inside it removes nothing:
    it stays, and the schema says whether it may be there (`metrics: [{max: null}]` may not)."""
    if isinstance(layer, dict):
        return {k: without_removals(v) for k, v in layer.items() if v is not None}
    return layer


def _leaf_errors(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf, pick the branch error that best explains the mistake (not 'is not of type object')."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        branches = [e for e in error.context if e.schema != NULL_SCHEMA] or list(error.context)
        candidates = [e for e in branches if e.validator != "type"] or branches
        from jsonschema.exceptions import best_match

        chosen = best_match(candidates)
        return _leaf_errors(chosen) if chosen is not None else error
    return error


def _describe(error: ValidationError) -> tuple[str, str, PathTuple]:
    """(message, hint, extra path) for one schema error, in the user's terms."""
    validator = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    instance: Any = error.instance  # typed `Any | Unset` by the stubs; always set on a reported error
    hint = str(schema.get("x-hint", ""))
    if validator == "additionalProperties" and isinstance(instance, dict):
        known = sorted(schema.get("properties", {}))
        extra = sorted(k for k in instance if k not in schema.get("properties", {}))
        key = extra[0] if extra else ""
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(known)}"
        return f"unknown key '{key}'", hint, (key,)
    if validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else str(error.message)
        return f"missing required key '{missing}'", hint, ()
    if validator == "type":
        expected = error.validator_value
        if isinstance(expected, list):
            expected = [t for t in expected if t != "null"]
        expected_text = " or ".join(expected) if isinstance(expected, list) else str(expected)
        got = "null" if instance is None else f"{_type_name(instance)} {_show(instance)}"
        return f"expected {expected_text}, got {got}", hint, ()
    if validator == "enum":
        values: Any = error.validator_value
        allowed = [v for v in values if v is not None]
        options = ", ".join(_show(v) for v in allowed)
        return f"expected one of {options}; got {_show(instance)}", hint, ()
    if validator == "const":
        return f"expected {_show(error.validator_value)}; got {_show(instance)}", hint, ()
    if validator == "format":
        return str(error.cause or error.message), hint, ()
    if validator == "pattern":
        return f"invalid value {_show(instance)}", hint or f"must match {error.validator_value}", ()
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        sign = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[validator]
        if schema.get("x-fraction") and isinstance(instance, int | float) and instance > 1:
            hint = fraction_hint(instance)
        return f"expected a number {sign} {error.validator_value}, got {_show(instance)}", hint, ()
    if validator in ("minItems", "maxItems"):
        sign = "at least" if validator == "minItems" else "at most"
        return f"expected {sign} {error.validator_value} item(s)", hint, ()
    if validator in ("minProperties", "maxProperties"):
        if error.validator_value == 1 and validator == "maxProperties":
            return f"expected exactly one key, got {', '.join(sorted(map(str, instance)))}", hint, ()
        if validator == "minProperties" and schema.get("maxProperties") != 1:
            return f"expected at least {error.validator_value} key(s), got {len(instance)}", hint, ()
        if validator == "maxProperties":
            return f"expected at most {error.validator_value} key(s), got {len(instance)}", hint, ()
        return "expected exactly one key, got none", hint, ()
    if validator in ("minLength", "maxLength"):
        sign = "at least" if validator == "minLength" else "at most"
        return f"expected {sign} {error.validator_value} character(s), got {_show(instance)}", hint, ()
    if validator == "propertyNames":
        return f"invalid key {_show(instance)}", hint, ()
    return str(error.message), hint, ()


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        dict: "mapping",
        list: "list",
    }.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def layer_problems(
    validator: jsonschema.protocols.Validator, source: SourceFile, raw: Any, data: Any
) -> list[Problem]:
    """The schema errors of a file whose layers were stripped of their removals (`data`, from `raw`).
    A null cannot hide a key the schema does not know (`failureLimt: null`), so the raw file is asked
    about its keys when the stripped one passed."""
    problems = schema_problems(validator, source, data)
    if not problems and data != raw:
        problems = schema_problems(validator, source, raw, only=("additionalProperties", "propertyNames"))
    return problems


def schema_problems(
    validator: jsonschema.protocols.Validator,
    source: SourceFile,
    data: Any,
    prefix: PathTuple = (),
    only: tuple[str, ...] = (),
) -> list[Problem]:
    """Every schema error of `data` (found at `prefix` inside `source`), as located problems; with `only`,
    those of these validators alone."""
    problems = []
    for error in validator.iter_errors(data):
        leaf = _leaf_errors(error)
        if only and leaf.validator not in only and not set(only) & set(map(str, leaf.absolute_schema_path)):
            continue
        message, hint, extra = _describe(leaf)
        path = tuple(leaf.absolute_path) + extra
        # jsonschema checks a key against `propertyNames` as an instance of its own, at the map's path.
        is_key = leaf.validator == "propertyNames" or "propertyNames" in leaf.absolute_schema_path
        if is_key:
            path = (*leaf.absolute_path, str(leaf.instance))
            message = f"invalid key {_show(leaf.instance)}"
        at_key = is_key or leaf.validator in ("additionalProperties", "required")
        if leaf.validator == "required":
            missing = message.split("'")[1]
            if _is_null_in(source.data, (*prefix, *path, missing)):  # removed by a null, not left out
                path, message = (*path, missing), f"null removes the required key '{missing}'"
                hint = hint or "give it a value"
        problems.append(Problem(source.locate(path, prefix, at_key), message, hint))
    return problems


def _is_null_in(data: Any, path: PathTuple) -> bool:
    """True when `path` leads to an explicit null in `data`."""
    for part in path[:-1]:
        if isinstance(data, dict) and isinstance(part, str):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return False
    return isinstance(data, dict) and path[-1] in data and data[path[-1]] is None


# ---- loading ------------------------------------------------------------------------------------------


def load_source(path: Path, display: str) -> SourceFile:
    """A spec or environment file through the C composer, read as ruamel's round-trip loader reads it."""
    data, node = load_source_file(path, display)
    return SourceFile(display, node, data)


def _yaml_files(folder: Path) -> Iterator[Path]:
    """The YAML files of services/ or environments/, sorted. Anything else with a YAML name there is a
    mistake said at once: a folder, a pipe, a link to nothing or to a file outside the config folder (a
    pull request must not make a hook read the runner's files), an environment whose name (the file's)
    no Kubernetes object could carry."""
    # scandir knows each entry's type without a stat: this lists a thousand specs on every pre-commit.
    try:
        with os.scandir(folder) as entries:
            candidates = sorted(
                (e for e in entries if e.name.endswith((".yaml", ".yml"))), key=lambda e: e.name
            )
    except OSError as exc:
        raise InputError(
            [Problem(Location(folder.name), f"cannot read the folder: {exc.strerror or exc}")]
        ) from None
    problems = []
    root: str | None = None
    for entry in candidates:
        display = Location(f"{folder.name}/{entry.name}")
        if entry.is_symlink():
            root = root or os.path.realpath(folder.parent)
            target = os.path.realpath(entry.path)
            if not os.path.exists(target):
                problems.append(
                    Problem(display, "a symbolic link to nothing", "remove it, or restore its target")
                )
                continue
            if os.path.commonpath([root, target]) != root:
                problems.append(
                    Problem(
                        display,
                        f"a symbolic link to {target}, outside the config folder",
                        "copy the file into the config folder: gitops-gen reads nothing outside it",
                    )
                )
                continue
        if entry.is_dir():
            problems.append(Problem(display, "a folder, where a YAML file was expected", "move it elsewhere"))
        elif not entry.is_file():
            problems.append(Problem(display, "not a regular file", "replace it with a YAML file"))
        elif folder.name == ENVIRONMENTS_DIR and (reason := name_problem(Path(entry.name).stem)):
            problems.append(
                Problem(
                    display,
                    f"the environment's name is its file's name, and {reason}",
                    f"rename the file: {NAME_HINT}, at most {DNS_LABEL_MAX} characters",
                )
            )
    raise_if_any(problems)
    yield from (folder / entry.name for entry in candidates)


def spec_files(config_dir: Path) -> dict[str, Path]:
    """Every services/*.yaml by service name (the file's stem), unread."""
    folder = config_dir / SERVICES_DIR
    if not folder.is_dir():
        raise InputError(
            [
                Problem(
                    Location(SERVICES_DIR),
                    "folder not found",
                    f"--config {config_dir} holds no {SERVICES_DIR}/",
                )
            ]
        )
    return {path.stem: path for path in _yaml_files(folder)}


def workload_files(spec: Path) -> list[Path]:
    """The YAML files of the spec's workload folder (`services/<name>/`, beside `services/<name>.yaml`)."""
    folder = spec.parent / spec.stem
    return list(_yaml_files(folder)) if folder.is_dir() else []


def load_workload(spec: Path) -> tuple[AdoptedObject, ...]:
    """The objects of the spec's workload folder, each a Kubernetes object (apiVersion, kind, name)."""
    problems: list[Problem] = []
    found: list[AdoptedObject] = []
    for path in workload_files(spec):
        display = f"{SERVICES_DIR}/{spec.stem}/{path.name}"
        text = read_text(path, display)
        check_bounds(text, display)
        try:
            documents = parse_documents(text)
        except yaml.MarkedYAMLError as exc:
            problems.append(syntax_problem(exc, display))
            continue
        for index, document in enumerate(documents, 1):
            metadata = document.get("metadata") if isinstance(document, dict) else None
            if not (
                isinstance(metadata, dict)
                and isinstance(metadata.get("name"), str)
                and isinstance(document.get("apiVersion"), str)
                and isinstance(document.get("kind"), str)
            ):
                problems.append(
                    Problem(
                        Location(display, 1, 1),
                        f"document {index} is not a Kubernetes object",
                        "each document needs apiVersion, kind and metadata.name",
                    )
                )
                continue
            found.append(AdoptedObject(display, document))
    raise_if_any(problems)
    return tuple(found)


def load_service(path: Path) -> SourceFile:
    """One service spec, schema-checked; its name must be the file's stem and not a reserved one."""
    display = f"{SERVICES_DIR}/{path.name}"
    source = load_source(path, display)
    if not isinstance(source.data, dict):
        raise InputError([Problem(Location(display, 1, 1), "expected a mapping (a service spec)")])
    problems = layer_problems(service_validator(), source, source.data, without_removals(source.data))
    name = source.data.get("name")
    if not problems and name in RESERVED_SERVICE_NAMES:
        problems.append(
            Problem(
                source.locate(("name",)),
                f"the service name {_show(name)} is reserved",
                f"the environment's own Applications are named <env>-{name}; rename the service",
            )
        )
    elif not problems and name != path.stem:
        problems.append(
            Problem(
                source.locate(("name",)),
                f"name {_show(name)} differs from the file name {path.name}",
                f"rename the file to {name}.yaml or the service to {path.stem}",
            )
        )
    raise_if_any(problems)
    return replace(source, adopted=load_workload(path))


def load_services(config_dir: Path) -> dict[str, SourceFile]:
    """Every services/*.yaml, schema-checked; keyed by service name (which must be the file's stem)."""
    sources: dict[str, SourceFile] = {}
    problems: list[Problem] = []
    for name, path in spec_files(config_dir).items():
        try:
            sources[name] = load_service(path)
        except InputError as exc:
            problems.extend(exc.problems)
    raise_if_any(problems)
    return sources


def environment_names(config_dir: Path) -> list[str]:
    folder = config_dir / ENVIRONMENTS_DIR
    return [p.stem for p in _yaml_files(folder)] if folder.is_dir() else []


def load_environment(config_dir: Path, name: str, known_valid: bool = False) -> SourceFile:
    """environments/<name>.yaml, schema-checked (its `defaults` and `services` as partial service specs)
    unless it is `known_valid` (the same bytes passed before)."""
    display = f"{ENVIRONMENTS_DIR}/{name}.yaml"
    path = config_dir / ENVIRONMENTS_DIR / f"{name}.yaml"
    if not path.is_file():
        known = environment_names(config_dir)
        close = difflib.get_close_matches(name, known, n=1)
        hint = (
            f"did you mean '{close[0]}'?"
            if close
            else (f"known environments: {', '.join(known)}" if known else f"create {display}")
        )
        raise InputError([Problem(Location(display), "environment file not found", hint)])
    source = load_source(path, display)
    if not isinstance(source.data, dict):
        raise InputError([Problem(Location(display, 1, 1), "expected a mapping (an environment file)")])
    data = dict(source.data)
    for layer in ("tsb", "argocd"):
        if isinstance(data.get(layer), dict):
            data[layer] = without_removals(data[layer])
    if isinstance(data.get("defaults"), dict):
        data["defaults"] = without_removals(data["defaults"])
    if isinstance(data.get("services"), dict):
        data["services"] = {name: without_removals(layer) for name, layer in data["services"].items()}
    if not known_valid:
        raise_if_any(layer_problems(environment_validator(), source, source.data, data))
    return source


def select(
    names: Iterable[str], wanted: Iterable[str], what: str, file_of: Callable[[str], str]
) -> list[str]:
    """The requested subset of `names` (all when none requested); an unknown name is a usage error."""
    available = sorted(names)
    chosen = sorted(set(wanted))
    if not chosen:
        return available
    problems = []
    for name in chosen:
        if name not in available:
            close = difflib.get_close_matches(name, available, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(available) or 'none'}"
            problems.append(Problem(Location(file_of(name)), f"{what} file not found", hint))
    raise_if_any(problems)
    return chosen
