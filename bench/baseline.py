"""The bench's baselines, run as whole processes like gitops-gen itself:

    python bench/baseline.py CONTEXTS.json TEMPLATES OUT            # A: plain jinja2 render + write
    python bench/baseline.py --parse-back CONTEXTS.json TEMPLATES OUT  # B: A + PyYAML C load and C dump

CONTEXTS.json (written by scripts/bench.py from one real render) holds, for every manifest gitops-gen
renders, the template, the variables it was rendered with (as plain data) and the file's path. This
renders the same templates with the same jinja2 settings on the same data and writes each result to
OUT/<path>: the floor any template generator pays, with no spec reading, no merge, no checks and no
atomic tree. B parses each document back with the C loader and emits it with the C dumper first, as a
generator that normalises its output would. Imports only jinja2 (and PyYAML for B), never the generator.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

import jinja2


class Plain:
    """An object of the generator's model as plain data: its attributes, and the one-string-argument
    method calls the templates make, with their recorded results."""

    __slots__ = ("_attrs", "_calls")

    def __init__(self, attrs: Mapping[str, Any], calls: Mapping[str, Mapping[str, Any]]) -> None:
        self._attrs = attrs
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        if name in self._calls:
            results = self._calls[name]
            return lambda arg: results[arg]
        try:
            return self._attrs[name]
        except KeyError:
            raise AttributeError(name) from None


def decode(document: dict[str, Any]) -> Any:
    """json object_hook: {"$obj": {...}, "$calls": {...}} is a Plain, anything else stays a dict."""
    if "$obj" in document:
        return Plain(document["$obj"], document.get("$calls", {}))
    return document


def environment(templates: str) -> jinja2.Environment:
    """gitops-gen's own jinja2 settings (generator/render.py::_templates)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=False,
    )


def main(argv: list[str]) -> int:
    parse_back = argv[:1] == ["--parse-back"]
    contexts_file, templates, out = argv[1:] if parse_back else argv
    with open(contexts_file, encoding="utf-8") as stream:
        records = json.load(stream, object_hook=decode)
    env = environment(templates)
    emit: Callable[[str], str] = lambda text: text  # noqa: E731
    if parse_back:
        import yaml

        def emit(text: str) -> str:
            obj = yaml.load(text, Loader=yaml.CSafeLoader)
            return str(yaml.dump(obj, Dumper=yaml.CSafeDumper, sort_keys=False))

    folders: set[str] = set()
    for record in records:
        text = emit(env.get_template(record["template"]).render(**record["context"]))
        path = os.path.join(out, record["path"])
        folder = os.path.dirname(path)
        if folder not in folders:
            os.makedirs(folder, exist_ok=True)
            folders.add(folder)
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
