"""YAML in and out.

User files (specs, environment files) are read as ruamel.yaml's round-trip loader reads them (YAML 1.2,
the line and column of every key and item, so every error can point at the exact spot), but through
PyYAML's C composer (`load_source_text`): several times faster, with ruamel re-parsing a file only where
the C path cannot decide (tags, merge keys, directives, duplicate keys, a syntax error) so that data,
positions and messages stay exactly ruamel's. Manifests are read C-fast (validate.py) and located on demand
from their text (LazyNode), with the same answers. Writing manifests goes through one emitter, PyYAML's (C
when available): ruamel's emitter is ~10x slower and output needs no comments.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

from .errors import InputError, Location, Problem

if TYPE_CHECKING:  # ruamel is imported only when a file needs it (start-up time)
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

PathTuple = tuple[str | int, ...]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"


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
    from ruamel.yaml import YAML

    reader = YAML(typ="rt")
    reader.allow_duplicate_keys = False
    return reader


def read_text(path: Path, shown: str) -> str:
    """A file's text; a missing or unreadable file, or one that is not UTF-8, is an InputError naming it
    (and, for a byte that is not UTF-8, its line and column)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError([Problem(Location(shown), "file not found")]) from None
    except IsADirectoryError:
        raise InputError([Problem(Location(shown), "a folder, where a YAML file was expected")]) from None
    except OSError as exc:
        raise InputError([Problem(Location(shown), f"cannot read file: {exc.strerror or exc}")]) from None
    return decode_utf8(data, shown)


# A byte-order mark of UTF-16 or UTF-32 (YAML allows them; Kubernetes tools and git diffs do not read them).
_WIDE_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32",
    b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16",
    b"\xfe\xff": "UTF-16",
}
# What YAML 1.2 lets a stream hold (its `c-printable`, section 5.1): no C0 control but tab and line
# breaks, no DEL, no C1 control but NEL, no surrogate, no U+FFFE/U+FFFF.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def decode_utf8(data: bytes, shown: str) -> str:
    """`data` as text, or an InputError at the first byte that is not UTF-8 or character YAML refuses."""
    for bom, encoding in _WIDE_BOMS.items():
        if data.startswith(bom):
            raise InputError(
                [
                    Problem(
                        Location(shown, 1, 1),
                        f"the file is {encoding} (it starts with a {encoding} byte-order mark)",
                        "save it as UTF-8",
                    )
                ]
            )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8")
        line, column = _line_column(before, len(before))
        raise InputError(
            [
                Problem(
                    Location(shown, line, column),
                    f"byte 0x{data[exc.start]:02x} is not UTF-8",
                    "save the file as UTF-8",
                )
            ]
        ) from None
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line, column = _line_column(text, bad.start())
        raise InputError(
            [
                Problem(
                    Location(shown, line, column),
                    f"character U+{ord(bad.group()):04X} is not allowed in YAML"
                    + (" (a NUL byte)" if bad.group() == "\0" else ""),
                    "remove it: YAML files hold printable text only",
                )
            ]
        )
    return text


def _line_column(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of `text[index]`."""
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def load_file(path: Path, display: str | None = None) -> Any:
    """Load one YAML document with positions; a syntax error becomes an InputError at its line."""
    shown = display or str(path)
    return load_text(read_text(path, shown), shown)


def syntax_problem(exc: MarkedYAMLError | yaml.MarkedYAMLError, display: str) -> Problem:
    """A ruamel (or PyYAML) parse error as one located problem."""
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    what = ": ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
    hint = "a key may appear only once in a mapping" if "duplicate key" in what else ""
    return Problem(Location(display, line, column), f"YAML syntax error: {what}", hint)


def load_text(text: str, display: str) -> Any:
    """The reference reader: ruamel's round-trip node of the one document of `text` (None if empty)."""
    from ruamel.yaml.error import MarkedYAMLError

    try:
        documents = list(_new_reader().load_all(text))
    except MarkedYAMLError as exc:
        raise InputError([syntax_problem(exc, display)]) from None
    documents = [d for d in documents if d is not None]
    if len(documents) > 1:
        raise InputError([Problem(Location(display, 1, 1), "expected one YAML document, found several")])
    return documents[0] if documents else None


# ---- input through the C composer ----------------------------------------------------------------------


class Loaded(NamedTuple):
    """One user file: plain data (dicts, lists, str, int, float, bool, None) and where each part is.

    `node` is a `SourceMarks` from the C path or, where ruamel decided, ruamel's round-trip node;
    `position` reads both the same way.
    """

    data: Any
    node: Any


class MapMarks(dict[Any, tuple[int, int, int, int, Any]]):
    """A mapping's positions: key (as ruamel constructs it) -> (key line, key column, value line, value
    column, the value's own marks or None), 1-based: what ruamel's `lc.key()`/`lc.value()` give, + 1
    (negated where ruamel may differ, see `SourceMarks`)."""

    __slots__ = ()


class SeqMarks(list[tuple[int, int, Any]]):
    """A sequence's positions: (line, column, the item's own marks or None) per item, 1-based."""

    __slots__ = ()


class SourceMarks:
    """The C path's positions of one file. libyaml places an empty value (`key:`, `[a, , b]`) elsewhere
    than ruamel does (ruamel puts it at the next token); such marks are stored negated, and a position
    that ends on one is asked of ruamel, re-parsing the file then (once): only when a problem is there."""

    __slots__ = ("_ruamel", "display", "text", "tree")

    def __init__(self, text: str, display: str, tree: MapMarks | SeqMarks | None) -> None:
        self.text = text
        self.display = display
        self.tree = tree
        self._ruamel: Any = None

    def position(self, path: PathTuple, at_key: bool) -> tuple[int, int] | None:
        found = _marks_position(self.tree, path, at_key)
        if found is None or found[0] > 0:
            return found
        try:
            if self._ruamel is None:
                self._ruamel = load_text(self.text, self.display)
            return position(self._ruamel, path, at_key)
        except InputError:  # ruamel read this file before the C path did: not expected to happen
            return (-found[0], -found[1])


class _Undecided(Exception):
    """Something the C path does not reproduce exactly: ruamel reads the file instead."""


# The resolver's answers are only markers here: values are resolved below with YAML 1.2's rules, and a
# node whose tag is anything else was tagged explicitly in the file.
_PLAIN = "gitops-gen:plain"
_QUOTED = "gitops-gen:quoted"
_MAP = "gitops-gen:map"
_SEQ = "gitops-gen:seq"


class _Composer(_Loader):  # type: ignore[misc, valid-type]
    """PyYAML's C composer (nodes with start marks for every key, value and item), untyped."""

    def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            # libyaml reports a scalar tagged `!` as plain-implicit; such a scalar starts at its `!`,
            # which `_scalar` checks in the text.
            return _PLAIN if implicit[0] else _QUOTED
        if not implicit:  # a collection tagged `!`
            return "!"
        return _MAP if kind is yaml.MappingNode else _SEQ


_BOOL, _INT, _FLOAT, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("bool", "int", "float", "null"))
# ruamel.yaml 0.19.1's YAML 1.2 implicit resolvers, in its order (ruamel/yaml/resolver.py,
# `implicit_resolvers` entries for (1, 2)); a value is matched against those listed for its first
# character. tests/unit/test_yamlio.py compares this table with the installed ruamel's.
RESOLVERS_1_2: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$", re.X), "tTfF"),
    (
        _FLOAT,
        re.compile(
            r"""^(?:
         [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
            re.X,
        ),
        "-+0123456789.",
    ),
    (
        _INT,
        re.compile(
            r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0o?[0-7_]+
        |[-+]?[0-9_]+
        |[-+]?0x[0-9a-fA-F_]+)$""",
            re.X,
        ),
        "-+0123456789",
    ),
    ("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), "<"),
    (
        _NULL,
        re.compile(
            r"""^(?: ~
        |null|Null|NULL
        | )$""",
            re.X,
        ),
        "~nN",  # and the empty value
    ),
    (
        "tag:yaml.org,2002:timestamp",
        re.compile(
            r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
        (?:[Tt]|[ \t]+)[0-9][0-9]?
        :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
            re.X,
        ),
        "0123456789",
    ),
    ("tag:yaml.org,2002:value", re.compile(r"^(?:=)$"), "="),
)
_BY_FIRST: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _tag, _regexp, _first in RESOLVERS_1_2:
    for _char in _first:
        _BY_FIRST.setdefault(_char, []).append((_tag, _regexp))
_BY_FIRST[""] = [(_NULL, RESOLVERS_1_2[4][1])]


def resolve_plain(value: str) -> str:
    """The YAML 1.2 tag ruamel's round-trip loader gives a plain scalar (`yes`, `on` are strings)."""
    for tag, regexp in _BY_FIRST.get(value[:1], ()):
        if regexp.match(value):
            return tag
    return _STR_TAG


def construct_plain(value: str) -> Any:
    """A plain scalar's value, as ruamel's RoundTripConstructor builds it for YAML 1.2 and `to_plain`
    then reduces it (ruamel/yaml/constructor.py 0.19.1: `construct_yaml_int`, `construct_yaml_float`,
    `construct_yaml_sbool`, `construct_yaml_null`). A timestamp, merge key or `=` is left to ruamel."""
    tag = resolve_plain(value)
    if tag == _STR_TAG:
        return value
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return value.lower() == "true"
    digits = value.replace("_", "")
    sign = -1 if digits[0] == "-" else 1
    if digits[0] in "+-":
        digits = digits[1:]
    if tag == _INT:
        if digits[:2] in ("0b", "0x", "0o"):
            if len(digits) < 3:  # ruamel fails on `0b_` with an IndexError: let it
                raise _Undecided(value)
            return sign * int(digits[2:], {"0b": 2, "0x": 16, "0o": 8}[digits[:2]])
        return sign * int(digits)  # `0123` is 123 in YAML 1.2; `_` fails in int() as in ruamel
    if tag == _FLOAT:
        lowered = digits.lower()
        if lowered == ".inf":
            return sign * float("inf")
        if lowered == ".nan":
            return float("nan")
        return sign * float(lowered)
    raise _Undecided(value)


def load_source_text(text: str, display: str) -> Loaded:
    """The one document of a user file as plain data with positions: the same data, positions and errors
    as `to_plain(load_text(...))` with ruamel's round-trip loader, through PyYAML's C composer. Any file
    the C path cannot read exactly as ruamel would (tags, merge keys, `%` directives, duplicate keys,
    recursive aliases, a syntax error, ...) is read by ruamel itself."""
    try:
        documents = _compose_plain(text, display)
    except (_Undecided, yaml.YAMLError, ValueError, IndexError, RecursionError):
        node = load_text(text, display)
        problem = _unplain_problem(node, node, (), display)
        if problem:
            raise InputError([problem]) from None
        return Loaded(to_plain(node), node)
    loaded = [d for d in documents if d.data is not None]
    if len(loaded) > 1:
        raise InputError([Problem(Location(display, 1, 1), "expected one YAML document, found several")])
    return loaded[0] if loaded else Loaded(None, None)


# ---- what a value in a spec may be -------------------------------------------------------------------
# A spec holds strings, integers, finite numbers, booleans, null, lists and maps with string keys. YAML
# can say more (tags, `.nan`, `1:` keys, `"\0"` escapes); each is refused at its place, by both readers.


def value_problem(value: Any) -> tuple[str, str] | None:
    """(message, hint) when a scalar is nothing a spec field takes; None when it may be one."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return f"{value} is not a number any field takes", "write a finite number"
    if isinstance(value, str) and (bad := _NOT_PRINTABLE.search(value)):
        return (
            f"the value holds the control character U+{ord(bad.group()):04X}",
            "remove it: no field takes control characters",
        )
    return None


def key_problem(key: Any) -> tuple[str, str] | None:
    """(message, hint) when a mapping key is not a string (YAML reads `1:`, `true:`, `null:` as others)."""
    if isinstance(key, str):
        return value_problem(key)
    shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
    return f"key {shown} is read as {_kind(key)}, not as a string", f"quote it: '{shown}':"


def _part(part: Any) -> str:
    """A key as a field path shows it: `selector.1`, `a.true`."""
    return part if isinstance(part, str) else "null" if part is None else str(part).lower()


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number"}
    return next((n for t, n in names.items() if isinstance(value, t)), f"a {type(value).__name__}")


_PLAIN_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}


def _unplain_problem(root: Any, node: Any, path: PathTuple, display: str) -> Problem | None:
    """The first place of a round-trip node that is no plain value (see `value_problem`), an explicit tag
    other than YAML's own (`!!python/object`, `!Ref`), or binary, set or complex-key YAML."""

    def at(message: str, hint: str, where: tuple[Any, ...] = path, at_key: bool = False) -> Problem:
        found = position(root, where, at_key) or (1, 1)  # `where` holds the keys as ruamel built them
        return Problem(
            Location(
                display,
                found[0],
                found[1],
                format_field(
                    tuple(
                        p if isinstance(p, int) and i < len(path) else _part(p) for i, p in enumerate(where)
                    )
                ),
            ),
            message,
            hint,
        )

    tag = getattr(getattr(node, "tag", None), "value", None)
    if tag and tag not in _PLAIN_TAGS:
        shown = tag.replace("tag:yaml.org,2002:", "!!")
        return at(
            f"YAML tag {shown} is not allowed",
            "remove the tag: a spec holds strings, numbers, booleans, lists and maps",
        )
    if isinstance(node, Mapping):
        for key, value in node.items():
            if isinstance(key, tuple | list | Mapping):
                return at("a complex key (a list or map as key) is not allowed", "use a string key")
            problem = key_problem(key)
            if problem:
                return at(*problem, (*path, key), at_key=True)
            found = _unplain_problem(root, value, (*path, str(key)), display)
            if found:
                return found
        return None
    if isinstance(node, list):
        for index, item in enumerate(node):
            found = _unplain_problem(root, item, (*path, index), display)
            if found:
                return found
        return None
    if isinstance(node, bytes | AbstractSet):
        return at("binary or set YAML is not allowed", "write the value as a string or a list")
    problem = value_problem(node)
    return at(*problem) if problem else None


def load_source_file(path: Path, display: str | None = None) -> Loaded:
    """`load_source_text` of a file within the input bounds (size, nesting, alias expansion); an
    unreadable file is an InputError, as with `load_file`."""
    shown = display or str(path)
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # read_text says why
    if size > MAX_INPUT_BYTES:
        raise InputError(
            [
                Problem(
                    Location(shown, 1, 1),
                    f"file is {size:,} bytes, more than the {MAX_INPUT_BYTES:,} a spec or environment "
                    "file may have",
                    "split it, or remove what it does not need: a pasted log, a large comment",
                )
            ]
        )
    text = read_text(path, shown)
    check_bounds(text, shown)
    return load_source_text(text, shown)


# What a spec or an environment file may be. A pre-commit hook and a bot with push rights read whatever
# a pull request brings: a file over these bounds is refused with one located message before any YAML
# library builds it (a "billion laughs" of nested aliases is a few hundred bytes that expand to 10^9
# values). A thousand services with overrides in one environment file take about 150 KB.
MAX_INPUT_BYTES = 1 << 20
MAX_DEPTH = 64  # maps and lists inside each other; the deepest spec field is 6 levels down
MAX_VALUES = 100_000  # scalars, maps and lists once aliases are expanded


def check_bounds(text: str, display: str, max_depth: int = MAX_DEPTH, max_values: int = MAX_VALUES) -> None:
    """Refuse a text nested deeper than `max_depth` or expanding to more than `max_values` values, from
    libyaml's parse events alone (no tree is built, so the check is as cheap as a parse). A text libyaml
    cannot parse is left to the loader, whose message says why."""
    sizes: dict[str, int] = {}  # anchor -> the number of values it stands for
    open_: list[list[Any]] = []  # per open map or list: [its values so far, its anchor]
    anchored: dict[str, int] = {}  # anchor -> the line it is defined on
    try:
        for event in yaml.parse(text, Loader=_Loader):
            anchor = getattr(event, "anchor", None)
            if anchor and not isinstance(event, yaml.AliasEvent):
                if anchor in anchored:
                    _out_of_bounds(
                        display,
                        event,
                        f"anchor &{anchor} is defined twice (first on line {anchored[anchor]})",
                        "give each anchor its own name: an alias would mean whichever came last",
                    )
                anchored[anchor] = event.start_mark.line + 1 if event.start_mark else 0
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                if len(open_) >= max_depth:
                    _out_of_bounds(display, event, f"maps and lists nested more than {max_depth} deep")
                open_.append([0, event.anchor])
                continue
            if isinstance(event, yaml.ScalarEvent):
                count = 1
                if event.anchor:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.AliasEvent):
                count = sizes.get(event.anchor or "", 1)  # of an open collection: the loader decides
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                count, anchor = open_.pop()
                count += 1
                if anchor:
                    sizes[anchor] = count
            else:
                continue
            if open_:
                open_[-1][0] += count
            if (open_ and open_[-1][0] > max_values) or count > max_values:
                _out_of_bounds(
                    display,
                    event,
                    f"more than {max_values:,} values once its YAML aliases are expanded",
                    "no spec, environment or manifest file needs aliases this large: write the values "
                    "out, or use fewer levels of aliases of aliases",
                )
    except yaml.MarkedYAMLError as exc:
        # libyaml stops at its own nesting limit (1,000) while scanning ahead of the events read here
        if "maximum nesting depth" in str(exc.problem) and exc.problem_mark is not None:
            _out_of_bounds(display, exc, f"maps and lists nested more than {max_depth} deep")
        return  # any other syntax error: the loader's message says where and why
    except yaml.YAMLError:
        return


def _out_of_bounds(display: str, where: Any, message: str, hint: str = "") -> None:
    """`where`: a parse event, or a YAML error (at its problem mark)."""
    mark = getattr(where, "problem_mark", None) or where.start_mark
    raise InputError([Problem(Location(display, mark.line + 1, mark.column + 1), message, hint)])


def _compose_plain(text: str, display: str) -> list[Loaded]:
    if text.startswith("%") or "\n%" in text or "\r%" in text:
        raise _Undecided("a directive (%YAML 1.1 changes how ruamel resolves values)")
    if "\t" in text:  # ruamel 0.19.1 rejects a tab inside a plain scalar (`a: x<TAB>y`), libyaml does not
        raise _Undecided("a tab")
    builder = _Builder(text)
    documents = []
    for node in yaml.compose_all(text, Loader=_Composer):
        data, tree = builder.build(node)
        documents.append(Loaded(data, SourceMarks(text, display, tree)))
    return documents


class _Builder:
    """Plain values and marks from composed nodes; `_Undecided` for anything ruamel should read."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.may_have_tags = "!" in text
        self.active: set[int] = set()  # the collections being built: an alias to one is a cycle

    def build(self, node: yaml.Node) -> Loaded:
        if isinstance(node, yaml.ScalarNode):
            return Loaded(self.scalar(node), None)
        if node.tag not in (_MAP, _SEQ):
            raise _Undecided(node.tag)
        if id(node) in self.active:
            raise _Undecided("a recursive alias")
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node)
            assert isinstance(node, yaml.SequenceNode)
            return self.sequence(node)
        finally:
            self.active.discard(id(node))

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _QUOTED:
            value: Any = node.value
        elif node.tag != _PLAIN or node.style:
            raise _Undecided(node.tag)
        elif self.may_have_tags and self.text[node.start_mark.index] in "!&":
            raise _Undecided("a tag on a plain scalar")
        else:
            value = construct_plain(node.value)
        unusual = not isinstance(value, str | int) or (isinstance(value, str) and not value.isprintable())
        if unusual and value_problem(value):
            # ruamel reads the file again and `_unplain_problem` says where, with the field's path
            raise _Undecided("no plain value")
        return value

    def mapping(self, node: yaml.MappingNode) -> Loaded:
        data: dict[str, Any] = {}
        marks = MapMarks()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Undecided("a complex key")
            key = self.scalar(key_node)
            if not isinstance(key, str) and key_problem(key):
                raise _Undecided("a key that is no string")
            if key in marks:  # ruamel words the duplicate key error
                raise _Undecided("a duplicate key")
            value, child = self.build(value_node)
            marks[key] = (*_mark(key_node), *_mark(value_node), child)
            data[str(key)] = value
        return Loaded(data, marks)

    def sequence(self, node: yaml.SequenceNode) -> Loaded:
        data: list[Any] = []
        marks = SeqMarks()
        for item in node.value:
            value, child = self.build(item)
            marks.append((*_mark(item), child))
            data.append(value)
        return Loaded(data, marks)


def _mark(node: yaml.Node) -> tuple[int, int]:
    """1-based line and column of a node; negated for an empty plain scalar (see `SourceMarks`)."""
    mark = node.start_mark
    if isinstance(node, yaml.ScalarNode) and not node.value and not node.style:
        return (-mark.line - 1, -mark.column - 1)
    return (mark.line + 1, mark.column + 1)


def _marks_position(marks: Any, path: PathTuple, at_key: bool) -> tuple[int, int] | None:
    """`position` over the C path's marks: the same walk as over ruamel's `lc`."""
    found: tuple[int, int] | None = None
    current = marks
    for index, part in enumerate(path):
        last = index == len(path) - 1
        if isinstance(current, MapMarks) and isinstance(part, str) and part in current:
            key_line, key_column, line, column, child = current[part]
            found = (line, column) if last and not at_key else (key_line, key_column)
        elif isinstance(current, SeqMarks) and isinstance(part, int) and 0 <= part < len(current):
            line, column, child = current[part]
            found = (line, column)
        else:
            break
        current = child
    return found


def position(node: Any, path: PathTuple, at_key: bool = False) -> tuple[int, int] | None:
    """1-based (line, column) of the value at `path` inside a round-trip node (of its key, with
    `at_key`), or of its deepest parent's key when the path goes further than the node.

    Returns None when even the first step of the path is not in `node`.
    """
    if isinstance(node, LazyNode):
        return node.position(path, at_key)
    if isinstance(node, yaml.Node):
        return _node_position(node, path, at_key)
    if isinstance(node, SourceMarks):
        return node.position(path, at_key)
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    found: tuple[int, int] | None = None
    current = node
    for index, part in enumerate(path):
        last = index == len(path) - 1
        if isinstance(current, CommentedMap) and part in current:
            try:
                line, column = current.lc.value(part) if last and not at_key else current.lc.key(part)
            except KeyError:  # a key a merge (`<<: *base`) brought in has no position: its map's is it
                break
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

    __slots__ = ("_start", "document", "prefix", "text")

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
    if type(node).__name__ == "TaggedScalar":  # `!!str 5`: the only tag `_unplain_problem` lets through
        return str(node.value)
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


# ---- output -----------------------------------------------------------------------------------------

_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class ManifestDumper(_Dumper):  # type: ignore[misc, valid-type]
    """PyYAML's emitter, made to quote every string a YAML 1.1 *or* 1.2 reader would not read as a string.

    PyYAML already quotes YAML 1.1 booleans and numbers (`yes`, `on`, `0123`); Kubernetes reads YAML 1.1,
    but other tools (yq, ruamel) read 1.2, whose octal `0o17` and `.Inf` spellings PyYAML would leave bare.
    """


# YAML 1.1 booleans PyYAML's resolver does not know: `y`, `Y`, `n`, `N`. Kubernetes reads manifests with
# go-yaml v2 (sigs.k8s.io/yaml), whose resolve table has them (gopkg.in/yaml.v2 resolve.go, `resolveMapList`:
# {true, "y"}, {true, "Y"}, {false, "n"}, {false, "N"}): a subset named `y` must be written `'y'`.
ManifestDumper.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))
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


class _InterningLoader(_Loader):  # type: ignore[misc, valid-type]
    """The C loader, with each short string interned: a fleet's 15,000 manifests repeat the same keys
    and names (`apiVersion`, `metadata`, a namespace) a million times, and one copy of each halves the
    memory their parsed objects take (86 MB -> 39 MB at 1,000 services x 3 environments)."""


def _interned_str(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    value = loader.construct_scalar(node)
    return sys.intern(value) if len(value) <= _INTERNED_LENGTH else value


_INTERNED_LENGTH = 100  # queries and conditions are longer, and each one is different
_InterningLoader.add_constructor(_STR_TAG, _interned_str)


def parse_documents(text: str) -> list[Any]:
    """Fast parse of rendered output (no positions needed: it came from our own templates)."""
    return [d for d in yaml.load_all(text, Loader=_InterningLoader) if d is not None]
