"""Setting one scalar of a YAML file in place, every other line left as it was.

ruamel.yaml's round-trip composer says where each node of the file is (its start and end, its style, its
anchor); the edit is then a splice of the text at those places: the scalar's own characters replaced when
the key exists, else new lines for the missing keys after the last line of the deepest map that exists,
nested in block style at the file's own indentation. Dumping the round-trip data instead would also keep
comments and order, but ruamel re-indents sequences to one setting, re-wraps long lines and re-spaces
flow maps: lines nobody edited would change in the pull request. The result is loaded again and must
hold exactly the old data with the one value changed (else the splice is a bug: EditError).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import Location, Problem
from .yamlio import format_field

# The resolvers a plain scalar must read back as a string in: YAML 1.2 (ruamel) and 1.1 (Kubernetes, PyYAML).
_STR_TAG = "tag:yaml.org,2002:str"
_PLAIN_UNSAFE = set(",[]{}#&*!|>'\"%@`")


class EditError(Exception):
    """The file cannot be edited at that path; `problem` says where and why (an InputError's Problem)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True)
class Edited:
    text: str
    line: int  # 1-based line of the value in the new text
    column: int
    old: str | None  # the value the path held (None: the path did not exist)


def _compose(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="rt").compose(text)


def _load(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(text)


def scalar_text(value: str) -> str:
    """`value` as a scalar that reads back as this string under YAML 1.1 and 1.2: plain when it can be."""
    from ruamel.yaml.nodes import ScalarNode
    from ruamel.yaml.resolver import VersionedResolver

    plain = (
        value != ""
        and value == value.strip()
        and not (set(value) & _PLAIN_UNSAFE)
        and ": " not in value
        and not value.endswith(":")
        and value[0] not in "-?:"
        and "\n" not in value
        and all(
            VersionedResolver(version=version).resolve(ScalarNode, value, (True, False)) == _STR_TAG
            for version in ((1, 1), (1, 2))
        )
    )
    return value if plain else "'" + value.replace("'", "''") + "'"


def _is_null(node: Any) -> bool:
    return type(node).__name__ == "ScalarNode" and node.tag == "tag:yaml.org,2002:null"


def _child(node: Any, key: str) -> Any:
    if type(node).__name__ != "MappingNode":
        return None
    for key_node, value_node in node.value:
        if type(key_node).__name__ == "ScalarNode" and key_node.value == key:
            return key_node, value_node
    return None


def _last_end(node: Any) -> int:
    """Where the last character of a block node's content is: the end of its last scalar or flow node."""
    kind = type(node).__name__
    if kind == "MappingNode" and not node.flow_style and node.value:
        return _last_end(node.value[-1][1])
    if kind == "SequenceNode" and not node.flow_style and node.value:
        return _last_end(node.value[-1])
    return int(node.end_mark.index)


def _indent_step(root: Any) -> int:
    """The file's indentation: how far the first nested block map is from its parent's keys (2 if none)."""
    pending = [root]
    while pending:
        node = pending.pop(0)
        if type(node).__name__ != "MappingNode" or node.flow_style:
            continue
        for key_node, value_node in node.value:
            if type(value_node).__name__ == "MappingNode" and not value_node.flow_style and value_node.value:
                step = value_node.value[0][0].start_mark.column - key_node.start_mark.column
                if step > 0:
                    return int(step)
            pending.append(value_node)
    return 2


def _line_end(text: str, index: int) -> int:
    """The index just after the line holding `index` (its newline included; the end of a last line)."""
    if index > 0 and text[index - 1] == "\n":  # a block scalar's end is the start of the next line
        return index
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _set_in(data: Any, path: Sequence[str], value: str) -> Any:
    data = copy.deepcopy(data) if data is not None else {}
    node = data
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value
    return data


def set_scalar(text: str, path: Sequence[str], value: str, display: str) -> Edited:
    """`text` with the string at `path` (map keys) set to `value`; raises EditError when a node on the way
    is no map, is an alias or an anchor (editing it would change other places), or the value is no plain
    one-line scalar."""
    root = _compose(text)
    if root is None:
        root_text = "".join(
            f"{'  ' * depth}{scalar_text(key)}:{'' if depth < len(path) - 1 else ' ' + scalar_text(value)}\n"
            for depth, key in enumerate(path)
        )
        new = text + ("" if not text or text.endswith("\n") else "\n") + root_text
        return _checked(text, new, path, value, new.rindex(scalar_text(value)), None, display)
    node, depth = root, 0
    key_node = None
    while depth < len(path):
        where = _where(text, node, path[:depth], display)
        if type(node).__name__ != "MappingNode":
            if _is_null(node) and key_node is not None:
                break
            raise EditError(Problem(where, "expected a map here, to set " + format_field(list(path))))
        if node.anchor is not None:
            raise EditError(
                Problem(where, "this map has an anchor: editing it would change every alias of it",
                        "set the value by hand")
            )  # fmt: skip
        found = _child(node, path[depth])
        if found is None:
            break
        key_node, node = found
        depth += 1
    if depth == len(path):
        where = _where(text, node, path, display)
        if type(node).__name__ != "ScalarNode" or node.style in ("|", ">"):
            raise EditError(Problem(where, "expected a one-line string here"))
        if node.anchor is not None or text[node.start_mark.index] == "*":
            raise EditError(Problem(where, "the value is an anchor or an alias", "set the value by hand"))
        start, end = node.start_mark.index, node.end_mark.index
        replacement = scalar_text(value)
        if node.style == '"':
            replacement = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        elif node.style == "'":
            replacement = "'" + value.replace("'", "''") + "'"
        new = text[:start] + replacement + text[end:]
        return _checked(text, new, path, value, start, str(node.value), display)
    missing = path[depth:]
    if type(node).__name__ == "MappingNode" and node.flow_style:
        # `reviews: {replicas: 3}`: the new keys go inside the braces, in flow style, on that line.
        inner = scalar_text(value)
        for key in reversed(missing[1:]):
            inner = f"{{{scalar_text(key)}: {inner}}}"
        addition = f"{scalar_text(missing[0])}: {inner}"
        close = text.rindex("}", 0, node.end_mark.index)
        before = text[node.start_mark.index + 1 : close].strip()
        insert = (", " if before else "") + addition
        new = text[:close].rstrip(" ") + insert + text[close:]
        return _checked(text, new, path, value, close + insert.rindex(scalar_text(value)), None, display)
    step = _indent_step(root)
    if type(node).__name__ == "MappingNode" and node.value:
        column = node.value[0][0].start_mark.column
        at = _line_end(text, _last_end(node))
    else:  # the empty value of an existing key (`services:`), or the top of the file
        assert key_node is not None
        column = key_node.start_mark.column + step
        if node.end_mark.index > node.start_mark.index:  # `~` or `null`: the key gets a block instead
            raise EditError(
                Problem(_where(text, node, path[:depth], display), "is null here",
                        "remove the null, or set the value by hand")
            )  # fmt: skip
        at = _line_end(text, key_node.end_mark.index)
    newline = "\r\n" if "\r\n" in text else "\n"  # the file's own line ends
    lines = []
    for offset, key in enumerate(missing):
        indent = " " * (column + step * offset)
        last = offset == len(missing) - 1
        lines.append(f"{indent}{scalar_text(key)}:{' ' + scalar_text(value) if last else ''}{newline}")
    prefix = "" if at == 0 or text[at - 1] == "\n" else newline
    addition = prefix + "".join(lines)
    new = text[:at] + addition + text[at:]
    value_at = at + len(addition) - len(newline) - len(scalar_text(value))
    return _checked(text, new, path, value, value_at, None, display)


def _where(text: str, node: Any, path: Sequence[str], display: str) -> Location:
    line, column = _position(text, node.start_mark.index)
    return Location(display, line, column, format_field(list(path)))


def _checked(
    old: str, new: str, path: Sequence[str], value: str, index: int, previous: str | None, display: str
) -> Edited:
    expected = _set_in(_load(old), path, value)
    if _load(new) != expected:  # a bug, never the user's: say which file and path
        raise AssertionError(f"editing {display} at {format_field(list(path))} changed more than that value")
    line, column = _position(new, index)
    return Edited(new, line, column, previous)
