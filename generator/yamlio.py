"""YAML in and out.

Reading user files goes through ruamel.yaml's round-trip loader, which remembers the line and column of
every key and item, so every error can point at the exact spot. Manifests are read C-fast (validate.py)
and located on demand from their text (LazyNode), with the same answers. Writing manifests goes through one
emitter, PyYAML's (C when available): ruamel's emitter is ~10x slower and output needs no comments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from .errors import InputError, Location, Problem

PathTuple = tuple[str | int, ...]


def format_field(path: Sequence[str | int]) -> str:
    """`("canary", "steps", 1, "pause")` -> `canary.steps[1].pause`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _new_reader() -> YAML:
    reader = YAML(typ="rt")
    reader.allow_duplicate_keys = False
    return reader


def load_file(path: Path, display: str | None = None) -> Any:
    """Load one YAML document with positions; a syntax error becomes an InputError at its line."""
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError([Problem(Location(shown), "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Problem(Location(shown), f"cannot read file: {exc}")]) from None
    return load_text(text, shown)


def syntax_problem(exc: MarkedYAMLError, display: str) -> Problem:
    """A ruamel parse error as one located problem."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    what = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
    hint = "a key may appear only once in a mapping" if "duplicate key" in what else ""
    return Problem(Location(display, line, column), f"YAML syntax error: {what}", hint)


def load_text(text: str, display: str) -> Any:
    try:
        documents = list(_new_reader().load_all(text))
    except MarkedYAMLError as exc:
        raise InputError([syntax_problem(exc, display)]) from None
    documents = [d for d in documents if d is not None]
    if len(documents) > 1:
        raise InputError([Problem(Location(display, 1, 1), "expected one YAML document, found several")])
    return documents[0] if documents else None


def position(node: Any, path: PathTuple, at_key: bool = False) -> tuple[int, int] | None:
    """1-based (line, column) of the value at `path` inside a round-trip node (of its key, with
    `at_key`), or of its deepest parent's key when the path goes further than the node.

    Returns None when even the first step of the path is not in `node`.
    """
    if isinstance(node, LazyNode):
        return node.position(path, at_key)
    if isinstance(node, yaml.Node):
        return _node_position(node, path, at_key)
    found: tuple[int, int] | None = None
    current = node
    for index, part in enumerate(path):
        last = index == len(path) - 1
        if isinstance(current, CommentedMap) and isinstance(part, str) and part in current:
            line, column = current.lc.value(part) if last and not at_key else current.lc.key(part)
            found = (line + 1, column + 1)
            current = current[part]
        elif isinstance(current, CommentedSeq) and isinstance(part, int) and 0 <= part < len(current):
            line, column = current.lc.item(part)
            found = (line + 1, column + 1)
            current = current[part]
        else:
            break
    return found


def _node_position(node: yaml.Node, path: PathTuple, at_key: bool) -> tuple[int, int] | None:
    """`position` over PyYAML's composed nodes (C-fast, used for rendered output)."""
    found: tuple[int, int] | None = None
    current: yaml.Node | None = node
    for index, part in enumerate(path):
        last = index == len(path) - 1
        step: tuple[yaml.Node, yaml.Node] | None = None
        if isinstance(current, yaml.MappingNode) and isinstance(part, str):
            step = next(((k, v) for k, v in current.value if getattr(k, "value", None) == part), None)
        elif (
            isinstance(current, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(current.value)
        ):
            item = current.value[part]
            step = (item, item)
        if step is None:
            break
        mark = (step[0] if (at_key or not last) else step[1]).start_mark
        if mark is None:
            break
        found = (mark.line + 1, mark.column + 1)
        current = step[1]
    return found


class LazyNode:
    """The positions of one document (or one `kind: List` item, under `prefix`) of a YAML text, read only
    when a finding asks for one and never kept: most objects need none, and keeping the parsed trees of
    thousands of files alive made a whole fleet's validate spend its time in the garbage collector.

    Each question streams the text's parse events (C-fast, PyYAML's libyaml parser) to the field asked for
    and stops there: no node tree is built. `start` is where the object starts (0-based line, column),
    when the loader already knows it.
    """

    def __init__(
        self, text: str, document: int = 0, prefix: PathTuple = (), start: tuple[int, int] | None = None
    ) -> None:
        self.text = text
        self.document = document
        self.prefix = prefix
        self._start = start

    @property
    def node(self) -> yaml.Node | None:
        """The composed document (not cached; `position` does not need it)."""
        documents = list(yaml.compose_all(self.text, Loader=_Loader))
        node: yaml.Node | None = documents[self.document] if self.document < len(documents) else None
        for part in self.prefix:
            node = _child(node, part)
        return node

    @property
    def start_mark(self) -> Any:
        if self._start is None:
            self._start = _event_start(self.text, self.document, self.prefix)
        return None if self._start is None else _Mark(*self._start)

    def position(self, path: PathTuple, at_key: bool = False) -> tuple[int, int] | None:
        try:
            return _event_position(self.text, self.document, self.prefix, path, at_key)
        except _NeedsTree:  # an alias on the way: the composer resolves it to its anchor
            return _node_position(self.node, path, at_key) if self.node is not None else None


class _Mark(NamedTuple):
    line: int
    column: int


class _NeedsTree(Exception):
    """The path runs through an alias: only a composed tree knows where it leads."""


def _child(node: yaml.Node | None, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        return next((v for k, v in node.value if getattr(k, "value", None) == part), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item: yaml.Node = node.value[part]
        return item
    return None


def _skip(events: Iterator[yaml.Event], first: yaml.Event) -> None:
    """Consume the rest of the node that starts with `first`."""
    depth = 1 if isinstance(first, (yaml.MappingStartEvent, yaml.SequenceStartEvent)) else 0
    while depth:
        event = next(events)
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _document_root(events: Iterator[yaml.Event], document: int) -> yaml.Event | None:
    index = -1
    for event in events:
        if isinstance(event, yaml.DocumentStartEvent):
            index += 1
            root = next(events)
            if index == document:
                return root
            _skip(events, root)
    return None


def _step(
    events: Iterator[yaml.Event], current: yaml.Event, part: str | int
) -> tuple[yaml.Event, yaml.Event] | None:
    """(key or item event, value event) of `part` inside the node `current` starts, or None."""
    if isinstance(current, yaml.MappingStartEvent) and isinstance(part, str):
        while True:
            key = next(events)
            if isinstance(key, yaml.MappingEndEvent):
                return None
            if isinstance(key, yaml.AliasEvent):
                raise _NeedsTree
            value = next(events)
            if isinstance(key, yaml.ScalarEvent) and key.value == part:
                return key, value
            _skip(events, key)
            _skip(events, value)
    if isinstance(current, yaml.SequenceStartEvent) and isinstance(part, int) and part >= 0:
        index = 0
        while True:
            item = next(events)
            if isinstance(item, yaml.SequenceEndEvent):
                return None
            if index == part:
                return item, item
            _skip(events, item)
            index += 1
    return None


def _walk_to(events: Iterator[yaml.Event], document: int, prefix: PathTuple) -> yaml.Event | None:
    current = _document_root(events, document)
    for part in prefix:
        if current is None:
            return None
        if isinstance(current, yaml.AliasEvent):
            raise _NeedsTree
        found = _step(events, current, part)
        current = found[1] if found else None
    return current


def _event_start(text: str, document: int, prefix: PathTuple) -> tuple[int, int] | None:
    try:
        start = _walk_to(yaml.parse(text, Loader=_Loader), document, prefix)
    except _NeedsTree:
        return None
    mark = None if start is None else start.start_mark
    return None if mark is None else (mark.line, mark.column)


def _event_position(
    text: str, document: int, prefix: PathTuple, path: PathTuple, at_key: bool
) -> tuple[int, int] | None:
    """`_node_position` over the event stream: the same answers, with no tree built."""
    events = yaml.parse(text, Loader=_Loader)
    current = _walk_to(events, document, prefix)
    found: tuple[int, int] | None = None
    for index, part in enumerate(path):
        if current is None:
            break
        if isinstance(current, yaml.AliasEvent):
            raise _NeedsTree
        step = _step(events, current, part)
        if step is None:
            break
        last = index == len(path) - 1
        mark = (step[0] if (at_key or not last) else step[1]).start_mark
        if mark is None:
            break
        found = (mark.line + 1, mark.column + 1)
        current = step[1]
    return found


def has_path(node: Any, path: PathTuple) -> bool:
    current = node
    for part in path:
        in_map = isinstance(current, Mapping) and isinstance(part, str) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_map or in_list:
            current = current[part]
        else:
            return False
    return True


def to_plain(node: Any) -> Any:
    """Round-trip nodes -> plain dicts, lists and scalars (str subclasses such as ScalarString too)."""
    if isinstance(node, Mapping):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


# ---- output -----------------------------------------------------------------------------------------

_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"


class ManifestDumper(_Dumper):  # type: ignore[misc, valid-type]
    """PyYAML's emitter, made to quote every string a YAML 1.1 *or* 1.2 reader would not read as a string.

    PyYAML already quotes YAML 1.1 booleans and numbers (`yes`, `on`, `0123`); Kubernetes reads YAML 1.1,
    but other tools (yq, ruamel) read 1.2, whose octal `0o17` and `.Inf` spellings PyYAML would leave bare.
    """


ManifestDumper.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?0o[0-7]+|[-+]?0x[0-9a-fA-F]+)$"), list("-+0")
)
ManifestDumper.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar(_STR_TAG, data, style="|")
    return dumper.represent_scalar(_STR_TAG, data)


ManifestDumper.add_representer(str, _represent_str)


def dump_manifest(obj: Any) -> str:
    """The one emitter: block style, 2-space indent, key order as given, no line folding."""
    text: str = yaml.dump(
        obj,
        Dumper=ManifestDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=1 << 16,
        indent=2,
    )
    return text


def parse_documents(text: str) -> list[Any]:
    """Fast parse of rendered output (no positions needed: it came from our own templates)."""
    return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
