"""A `render` or `render --check` that already passed, answered from its record.

pre-commit runs `render --check` on every commit and CI on every push, and most of the time nothing it
reads has changed since it last passed. A run that found the tree up to date (exit 0, nothing written)
leaves a record in the render cache: its output, and the hash of every file of the tree it compared. The
record's key hashes everything else the run depends on: the tool (code, templates, schemas), the
command's arguments, the kubeconform binary it would run, and every file and folder below `services/`
and `environments/` (names, types and bytes: a superset of what a render reads, so any change there is
a new key).

A later run with the same key replays the record only if the tree still holds exactly those files, with
the same index and no interrupted write (journal or staging folder): then a render would compare the
same render with the same files and say the same thing. Anything else, or a missing, damaged or foreign
record, runs the render. Importing this module costs no more than the CLI's own (no YAML, jinja2 or
jsonschema): that is the point.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache import RenderCache, tool_fingerprint

# The names and the bound the render uses (spec.py, tree.py, yamlio.py); tests/unit/test_uptodate.py
# checks they agree (those modules import YAML and jinja2 libraries: a replay imports neither).
INPUT_FOLDERS = ("services", "environments")
INDEX_NAME = ".gitops-gen.index"
TREE_BOOKKEEPING = (".gitops-gen.json", ".gitops-gen.journal", ".gitops-gen.staging")
RECORD_PART = "passed"
MAX_INPUT_BYTES = 1 << 20


def record_key(config_dir: Path, arguments: Sequence[str], validator: str) -> str | None:
    """The key of a run of these arguments on the config's current inputs; None if they cannot be read
    (the render says why)."""
    digest = hashlib.sha256(f"{tool_fingerprint()}\n{json.dumps(list(arguments))}\n".encode())
    if validator in ("auto", "kubeconform"):
        binary = shutil.which("kubeconform")
        if binary is not None:  # its findings are its version's: the binary itself is an input
            info = os.stat(binary)
            digest.update(f"kubeconform {binary} {info.st_size} {info.st_mtime_ns}\n".encode())
    try:
        for folder in INPUT_FOLDERS:
            _hash_folder(digest, os.path.join(str(config_dir), folder), folder)
    except OSError:
        return None
    return digest.hexdigest()


def _hash_folder(digest: Any, path: str, name: str) -> None:
    with os.scandir(path) as scan:
        entries = sorted(scan, key=lambda e: e.name)
    digest.update(f"folder {name} {len(entries)}\n".encode())
    for entry in entries:
        relative = f"{name}/{entry.name}"
        if entry.is_dir():
            _hash_folder(digest, entry.path, relative)
        elif not entry.is_file():  # a pipe or a device (opening a pipe would wait forever): its name
            digest.update(f"other {relative}\n".encode())
        elif (info := entry.stat()).st_size > MAX_INPUT_BYTES:  # never read: the render refuses it
            digest.update(f"large {relative} {info.st_size} {info.st_mtime_ns}\n".encode())
        else:
            with open(entry.path, "rb") as handle:
                data = handle.read()
            digest.update(f"file {relative} {len(data)}\n".encode())
            digest.update(data)


def _file_hash(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return "unreadable"


@dataclass
class Transcript:
    """What a run prints, in order, and the tree files it compared: the record it leaves if it passed."""

    output: list[tuple[bool, str]] = field(default_factory=list)  # (to stderr, text)
    compared: dict[str, dict[str, str]] = field(default_factory=dict)  # tree -> path -> text
    up_to_date: bool = True  # False once a run wrote, or found the tree out of date

    def say(self, text: str, err: bool = False) -> None:
        import click

        click.echo(text, nl=False, err=err)
        self.output.append((err, text))

    def saw(self, out_dir: Path, texts: Iterable[tuple[str, str]]) -> None:
        self.compared.setdefault(str(out_dir), {}).update(texts)

    def store(self, cache: RenderCache, key: str) -> None:
        if not self.up_to_date:
            return
        trees = {
            tree: {
                "index": _file_hash(os.path.join(tree, INDEX_NAME)),
                "files": {path: hashlib.sha256(text.encode()).hexdigest() for path, text in files.items()},
            }
            for tree, files in self.compared.items()
        }
        cache.put(key, {"output": [[err, text] for err, text in self.output], "trees": trees}, RECORD_PART)


def replay(cache: RenderCache, key: str) -> bool:
    """Print the recorded output and return True if the record holds and every tree it compared is
    unchanged; else print nothing and return False."""
    record = cache.get(key, RECORD_PART)
    if record is None:
        return False
    try:
        output = [(bool(err), str(text)) for err, text in record["output"]]
        trees = record["trees"]
        for tree, expected in trees.items():
            if any(os.path.lexists(os.path.join(tree, name)) for name in TREE_BOOKKEEPING):
                return False  # an interrupted write, or an index to migrate: the render handles it
            if _file_hash(os.path.join(tree, INDEX_NAME)) != expected["index"]:
                return False
            for path, digest in expected["files"].items():
                if _file_hash(os.path.join(tree, path)) != digest:
                    return False
    except (KeyError, TypeError, ValueError, AttributeError):
        return False  # a damaged record is a miss
    import click

    for err, text in output:
        click.echo(text, nl=False, err=err)
    return True
