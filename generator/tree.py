"""Write the rendered tree: everything is rendered and checked before the first write; identical files
are left alone; each changed file is replaced atomically (temp file in the same folder, fsync, rename)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .render import Manifest


@dataclass(frozen=True)
class WriteReport:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_tree(out_dir: Path, manifests: Sequence[Manifest]) -> WriteReport:
    written, unchanged = [], []
    for manifest in manifests:
        target = out_dir / manifest.path
        try:
            if target.read_text(encoding="utf-8") == manifest.text:
                unchanged.append(manifest.path)
                continue
        except (FileNotFoundError, UnicodeDecodeError):
            pass
        write_atomic(target, manifest.text)
        written.append(manifest.path)
    return WriteReport(tuple(written), tuple(unchanged))
