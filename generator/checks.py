"""Validation as the commands use it: schemas (kubeconform or the builtin validator) plus the
cross-object rules, over rendered manifests in memory or over files on disk.

Rules look at one set at a time, what is applied to one cluster: each environment of a gitops-gen output
folder (one with an ownership index) is its own set; every other file given belongs to one shared set.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from . import rules
from .errors import Finding
from .render import Manifest, render_all
from .tree import INDEX_NAME
from .validate import LoadedObject, Validator, load_manifests, load_text, make_validator


@dataclass(frozen=True)
class CheckResult:
    findings: tuple[Finding, ...]
    checked: int  # objects

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return len(self.findings) - self.errors

    def failed(self, strict: bool = False) -> bool:
        return bool(self.errors or (strict and self.warnings))


def _sorted(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (f.location, f.rule, f.message)))


# ---- rendered manifests -------------------------------------------------------------------------------


def check_manifests(manifests: Sequence[Manifest], validator: Validator, display_root: str) -> CheckResult:
    """Validate a render before it is written. Findings name `<display_root>/<path>`.

    The fast path checks plain objects; only when something is found are the affected files parsed again
    with positions (ruamel is ~10x slower than the C loader, and a clean render is the common case).
    """
    findings = _check_rendered(manifests, validator, display_root, positions=False)
    if findings:
        flagged = {f.location.path for f in findings}
        affected = [m for m in manifests if _display(display_root, m) in flagged]
        findings = _check_rendered(manifests, validator, display_root, positions=True, only=affected)
        # The file is not written yet: say which spec or environment file to change.
        sources = {_display(display_root, m): m.source for m in manifests}
        findings = [
            replace(f, message=f"{f.message} [rendered from {sources[f.location.path]}]")
            if sources.get(f.location.path)
            else f
            for f in findings
        ]
    return CheckResult(_sorted(findings), len(manifests))


def _display(root: str, manifest: Manifest) -> str:
    return posixpath.join(root, manifest.path) if root else manifest.path


def _check_rendered(
    manifests: Sequence[Manifest],
    validator: Validator,
    root: str,
    positions: bool,
    only: Sequence[Manifest] = (),
) -> list[Finding]:
    relocate = {id(m) for m in only}
    by_env: dict[str, list[rules.Item]] = defaultdict(list)
    loaded_all: list[LoadedObject] = []
    repo_files: set[str] = set()
    for manifest in manifests:
        display = _display(root, manifest)
        if positions and id(manifest) in relocate:
            loaded = load_text(manifest.text, display)[0]
        else:
            loaded = LoadedObject(display, 1, dict(manifest.obj))
        loaded_all.append(loaded)
        repo_path = posixpath.join(manifest.gitops_path, manifest.path)
        repo_files.add(repo_path)
        by_env[manifest.env].append(rules.Item(loaded, repo_path))
    folders = {posixpath.dirname(p) for p in repo_files}
    known = repo_files | {"/".join(f.split("/")[:i]) for f in folders for i in range(1, f.count("/") + 2)}
    findings = list(validator.validate_objects(loaded_all))
    for items in by_env.values():
        findings.extend(rules.check(items, known.__contains__))
    return findings


def check_render(
    config_dir: Path,
    manifests: Sequence[Manifest],
    envs: Sequence[str],
    services: Sequence[str],
    validator: Validator,
    display_root: str,
) -> CheckResult:
    """Validate a render. A `--service` render lacks the environment's other objects (Tenant, Groups,
    ...) that the rules look up, so the whole environment is checked and only the findings on the
    selected services' files are kept."""
    if not services:
        return check_manifests(manifests, validator, display_root)
    whole = check_manifests(render_all(config_dir, envs), validator, display_root)
    selected = {_display(display_root, m) for m in manifests}
    return CheckResult(tuple(f for f in whole.findings if f.location.path in selected), len(manifests))


# ---- files on disk ------------------------------------------------------------------------------------


def check_paths(paths: Sequence[Path], validator: Validator) -> CheckResult:
    """Validate hand-written or rendered files and folders (schemas, then the rules of each set)."""
    objects = load_manifests(paths)
    findings = list(validator.validate_objects(objects))
    for items, exists in _sets(paths, objects):
        findings.extend(rules.check(items, exists))
    return CheckResult(_sorted(findings), len(objects))


def _repo_root(path: Path) -> Path:
    """The git work tree holding `path`, else the folder above it: Application paths are relative to it."""
    start = path.resolve() if path.is_dir() else path.resolve().parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start.parent


def _sets(
    paths: Sequence[Path], objects: Sequence[LoadedObject]
) -> list[tuple[list[rules.Item], Callable[[str], bool]]]:
    output_roots = [p.resolve() for p in paths if p.is_dir() and (p / INDEX_NAME).is_file()]
    groups: dict[tuple[Path, str], list[rules.Item]] = defaultdict(list)
    for loaded in objects:
        file = Path(loaded.path).resolve()
        out = next((r for r in output_roots if file.is_relative_to(r)), None)
        given = next(
            (p.resolve() for p in paths if file == p.resolve() or file.is_relative_to(p.resolve())), file
        )
        root = _repo_root(out or given)
        env = file.relative_to(out).parts[0] if out is not None else ""
        repo_path = file.relative_to(root).as_posix() if file.is_relative_to(root) else None
        groups[(root, env if out is not None else "")].append(rules.Item(loaded, repo_path))
    return [
        (items, _exists_under(root)) for (root, _), items in sorted(groups.items(), key=lambda kv: str(kv[0]))
    ]


def _exists_under(root: Path) -> Callable[[str], bool]:
    return lambda path: (root / path).exists()


def validator_for(name: str) -> Validator:
    if name not in ("auto", "kubeconform", "builtin"):
        raise ValueError(f"unknown validator {name!r}")
    return make_validator(name)  # type: ignore[arg-type]  # narrowed by the check above
