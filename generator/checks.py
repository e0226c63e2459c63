"""Validation as the commands use it: schemas (kubeconform or the builtin validator) plus the
cross-object rules, over rendered manifests in memory or over files on disk.

Rules look at one set at a time, what is applied to one cluster: each environment of a gitops-gen output
folder (one with an ownership index) is its own set; every other file given belongs to one shared set.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import RenderCache, combined_key, finding_from_json, findings_to_json, tool_fingerprint
from .errors import Finding, InputError, Location, Problem
from .expr_check import dialect_for
from .model import Versions
from .pool import can_fork, processes_for_equal_tasks
from .render import Manifest, Rendered
from .skywalking import parse_oap_version
from .tree import Index, index_file, read_index
from .validate import LoadedObject, Validator, load_file, make_validator, manifest_files
from .yamlio import LazyNode

if TYPE_CHECKING:
    from . import rules


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

    @property
    def open_warnings(self) -> int:
        """Warnings nobody acknowledged: what `--strict` fails on."""
        return sum(1 for f in self.findings if f.severity != "error" and not f.acknowledged)

    def failed(self, strict: bool = False) -> bool:
        return bool(self.errors or (strict and self.open_warnings))


def _sorted(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (f.location, f.rule, f.message)))


# ---- rendered manifests -------------------------------------------------------------------------------


def check_manifests(
    manifests: Sequence[Manifest],
    validator: Validator,
    display_root: str,
    versions: Mapping[str, Versions] | None = None,
    context: Sequence[Manifest] = (),
    cache: RenderCache | None = None,
    cache_keys: Mapping[str, str] | None = None,
) -> CheckResult:
    """Validate a render before it is written. Findings name `<display_root>/<path>` and the spec or
    environment file the object was rendered from (the file itself is not written yet).

    `context` holds what the rules need of services outside the render (checked against, never validated
    or reported on). With a `cache` and the cache entry of each manifest (`cache_keys`), schema findings
    are kept per service entry and rule findings per environment, each under a key of all they depend on.
    """
    keys = cache_keys or {}
    loaded = _Loaded()
    schema = _schema_findings(manifests, validator, cache, keys, loaded)
    by_env: dict[str, list[Manifest]] = defaultdict(list)
    # In path order, context included, as in a render of everything: some rules report on the second
    # of two objects (IST0109), so the order decides which object a finding is on.
    for manifest in sorted((*manifests, *context), key=lambda m: m.path):
        by_env[manifest.env].append(manifest)
    findings = list(schema)
    for env, members in sorted(by_env.items()):
        findings.extend(_rule_findings(members, (versions or {}).get(env), cache, keys, loaded))
    sources = {m.path: m.source for m in manifests if m.source}
    acknowledged = {m.path: dict(m.acknowledged) for m in manifests if m.acknowledged}
    shown = [
        replace(
            f,
            location=replace(
                f.location,
                path=posixpath.join(display_root, f.location.path) if display_root else f.location.path,
            ),
            message=f"{f.message} [rendered from {sources[f.location.path]}]"
            if f.location.path in sources
            else f.message,
        )
        for f in _acknowledge(findings, acknowledged)
    ]
    return CheckResult(_sorted(shown), len(manifests))


def _loaded(manifest: Manifest) -> LoadedObject:
    # Positions come from PyYAML's C composer (ruamel would be ~10x slower), and only on demand.
    node = LazyNode(manifest.text) if manifest.text else None
    return LoadedObject(manifest.path, 1, dict(manifest.obj), node)


class _Loaded(dict[int, LoadedObject]):
    """Each manifest as the validators and rules take it, made once for both (15,000 of them); by the
    manifest's identity, as the manifests outlive the check."""

    def of(self, manifest: Manifest) -> LoadedObject:
        found = self.get(id(manifest))
        if found is None:
            found = self[id(manifest)] = _loaded(manifest)
        return found


def _schema_findings(
    manifests: Sequence[Manifest],
    validator: Validator,
    cache: RenderCache | None,
    keys: Mapping[str, str],
    loaded: _Loaded,
) -> list[Finding]:
    """Schema findings (paths relative to the output root): from the cache entry of each service that has
    them for this validator (beside its manifests), the rest validated in one batch and stored back."""
    found: list[Finding] = []
    entries: dict[str, dict[str, Any]] = {}
    todo: list[Manifest] = []
    for manifest in manifests:
        key = keys.get(manifest.path)
        entry = None
        if cache is not None and key is not None:
            if key not in entries:  # the part the render read its manifests from: no second read
                entries[key] = cache.get(key, "manifests") or {}
            entry = entries[key].get("schema", {}).get(validator.name)
        if isinstance(entry, dict) and manifest.path in entry:
            found.extend(finding_from_json(f) for f in entry[manifest.path])
        else:
            todo.append(manifest)
    fresh = list(validator.validate_objects([loaded.of(m) for m in todo])) if todo else []
    found.extend(fresh)
    if cache is not None and todo:
        by_path: dict[str, list[Finding]] = defaultdict(list)
        for finding in fresh:
            by_path[finding.location.path].append(finding)
        touched: set[str] = set()
        for manifest in todo:
            key = keys.get(manifest.path)
            if key is None or not entries.get(key):
                continue
            stored = entries[key].setdefault("schema", {}).setdefault(validator.name, {})
            stored[manifest.path] = findings_to_json(by_path.get(manifest.path, []))
            touched.add(key)
        for key in sorted(touched):
            cache.put(key, entries[key], "manifests")
    return found


def _rule_findings(
    members: Sequence[Manifest],
    versions: Versions | None,
    cache: RenderCache | None,
    keys: Mapping[str, str],
    loaded: _Loaded,
) -> list[Finding]:
    """The cross-object rules over one environment (paths relative to the output root); with a cache,
    kept under a key of every object of the set: the cache entries of its services, the text of the rest."""
    set_key = None
    if cache is not None:
        parts = [tool_fingerprint(), repr(versions)]
        for m in sorted(members, key=lambda m: (m.path, bool(m.text))):
            kind = "object" if m.text else "context"
            parts.append(f"{kind} {m.path} {keys.get(m.path) or hashlib.sha256(m.text.encode()).hexdigest()}")
        set_key = combined_key(*parts)
        cached = cache.get(set_key)
        if cached is not None and isinstance(cached.get("findings"), list):
            try:
                return [finding_from_json(f) for f in cached["findings"]]
            except (KeyError, TypeError, ValueError):
                pass
    repo_files = {posixpath.join(m.gitops_path, m.path) for m in members}
    from . import rules  # the rules (and graphql-core) are imported only when they run
    from .cache import use_for_results

    use_for_results(cache)

    items = [rules.Item(loaded.of(m), posixpath.join(m.gitops_path, m.path), not m.text) for m in members]
    context = {m.path for m in members if not m.text}
    found = [
        f
        for f in rules.check(items, _tree_of(repo_files).__contains__, versions)
        if f.location.path not in context
    ]
    if cache is not None and set_key is not None:
        cache.put(set_key, {"findings": findings_to_json(found)})
    return found


def _acknowledge(findings: Iterable[Finding], acknowledged: Mapping[str, Mapping[str, str]]) -> list[Finding]:
    """Mark the warnings a spec or environment acknowledges (by the file they are in), with the reason."""
    return [
        replace(f, acknowledged=reason)
        if f.severity == "warning" and (reason := acknowledged.get(f.location.path, {}).get(f.rule))
        else f
        for f in findings
    ]


def _display(root: str, manifest: Manifest) -> str:
    return posixpath.join(root, manifest.path) if root else manifest.path


def _tree_of(files: Iterable[str]) -> set[str]:
    """Every file and every folder above one: what an Application's source.path may name."""
    tree = set(files)
    for file in files:
        parts = file.split("/")
        tree.update("/".join(parts[:depth]) for depth in range(1, len(parts)))
    return tree


def check_render(rendered: Rendered, validator: Validator, display_root: str) -> CheckResult:
    """Validate a render. The rules look at whole environments (a service refers to the Tenant, Groups
    and Applications around it); with a `--service` selection only the findings on the selected
    services' files are kept."""
    whole = check_manifests(
        rendered.manifests,
        validator,
        display_root,
        rendered.versions,
        rendered.context,
        rendered.cache,
        rendered.cache_keys,
    )
    if not rendered.services:
        return whole
    selected = rendered.selected
    shown = {_display(display_root, m) for m in selected}
    return CheckResult(tuple(f for f in whole.findings if f.location.path in shown), len(selected))


# ---- files on disk ------------------------------------------------------------------------------------


def check_paths(
    paths: Sequence[Path],
    validator: Validator,
    versions: Versions | None = None,
    jobs: int | None = None,
    cache: RenderCache | None = None,
) -> CheckResult:
    """Validate hand-written or rendered files and folders (schemas, then the rules of each set, for the
    given SkyWalking and Argo Rollouts releases).

    Each set (an environment of a gitops-gen tree, or the files of one repository) is loaded, validated
    and checked on its own, so the sets of a fleet's tree run side by side in forked processes (`jobs`;
    by default one per set while they are at most twice the cores, see pool.py); the findings are the
    same, sorted the same. With a `cache`, a SkyWalking query's verdict on a release is kept there
    (checking one builds the release's GraphQL schema first, in each process)."""
    from .cache import use_for_results

    use_for_results(cache)  # before the workers fork: they inherit it
    files = manifest_files(paths)
    # The gitops-gen trees among the paths, and their indexes, read once for both uses.
    trees = {p.resolve(): read_index(p) for p in paths if p.is_dir() and index_file(p) is not None}
    placed: dict[str, tuple[Path, str]] = {}
    sets = _sets(paths, [str(f) for f in files], trees, placed)
    results = _run_sets(sets, validator, versions, jobs)
    problems = [problem for result in results for problem in result.problems]
    if problems:
        order = {str(f): n for n, f in enumerate(files)}
        raise InputError(sorted(problems, key=lambda p: order.get(p.location.path, len(order))))
    loaded = [path for result in results for path in result.loaded]
    if not loaded:  # a wrong folder must not pass as "0 objects, no errors"
        raise InputError(
            [
                Problem(
                    Location(str(p)), "no Kubernetes objects found", "give YAML files or folders holding them"
                )
                for p in paths
            ]
        )
    findings = [finding for result in results for finding in result.findings]
    acknowledged = _acknowledged_in_trees(trees, loaded, placed)
    return CheckResult(_sorted(_acknowledge(findings, acknowledged)), len(loaded))


@dataclass(frozen=True)
class _Set:
    """Files the rules look at together, each with its path in the GitOps repo (None: unknown), and how
    to tell whether a repo path exists (an Application's source.path): below `root`, or in a gitops-gen
    tree at `root` that sits at `repo_root` of the GitOps repo."""

    files: tuple[tuple[str, str | None], ...]
    root: Path
    repo_root: str | None = None

    def path_exists(self) -> Callable[[str], bool]:
        if self.repo_root is None:
            return _exists_under(self.root)
        return _exists_in_tree(self.root, self.repo_root)


@dataclass(frozen=True)
class _SetResult:
    findings: tuple[Finding, ...]
    loaded: tuple[str, ...]  # the file of each object
    problems: tuple[Problem, ...]  # files that could not be read or parsed


def _check_set(files: _Set, validator: Validator, versions: Versions | None) -> _SetResult:
    from . import rules

    objects: list[LoadedObject] = []
    items: list[rules.Item] = []
    problems: list[Problem] = []
    for file, repo_path in files.files:
        try:
            loaded = load_file(Path(file))
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        objects += loaded
        items += [rules.Item(o, repo_path) for o in loaded]
    if problems:
        return _SetResult((), (), tuple(problems))
    findings = [*validator.validate_objects(objects), *rules.check(items, files.path_exists(), versions)]
    return _SetResult(tuple(findings), tuple(o.path for o in objects), ())


# What a worker of the pool checks: set by _run_sets before the workers fork, so nothing is pickled but
# the index of a set and its result.
_POOL_JOB: tuple[Sequence[_Set], Validator, Versions | None] | None = None


def _check_set_in_worker(index: int) -> _SetResult | None:
    assert _POOL_JOB is not None
    sets, validator, versions = _POOL_JOB
    try:
        return _check_set(sets[index], validator, versions)
    except BaseException:  # the parent checks the set again and raises it itself
        return None


def _run_sets(
    sets: Sequence[_Set], validator: Validator, versions: Versions | None, jobs: int | None
) -> list[_SetResult]:
    """Every set, in a pool of forked processes where that pays: more than one set, more than one core, a
    validator that runs in this process (kubeconform runs its own workers), and no thread that a fork
    could copy mid-lock (then one process does it all)."""
    global _POOL_JOB
    jobs = pool_size(sets, validator, jobs)
    if jobs < 2:
        return [_check_set(s, validator, versions) for s in sets]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    _POOL_JOB = (sets, validator, versions)
    # Largest sets first: with three environments on two cores, the small ones share the second.
    order = sorted(range(len(sets)), key=lambda n: -len(sets[n].files))
    done: dict[int, _SetResult | None]
    try:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
            done = dict(zip(order, pool.map(_check_set_in_worker, order), strict=True))
    except (OSError, BrokenProcessPool):  # no fork, or a worker killed (OOM): all of it here
        done = {}
    finally:
        _POOL_JOB = None
    results = []
    for number, files in enumerate(sets):
        result = done.get(number)
        # a set whose worker failed is checked here, where its error (if it is one) is raised as it is
        results.append(result if result is not None else _check_set(files, validator, versions))
    return results


# Below this, forking and collecting the results costs more than the second core gives.
_FILES_WORTH_A_POOL = 400


def pool_size(sets: Sequence[_Set], validator: Validator, jobs: int | None = None) -> int:
    """How many processes check `sets` (1: this one alone)."""
    jobs = min(jobs, len(sets)) if jobs else processes_for_equal_tasks(len(sets))
    big_enough = sum(len(s.files) for s in sets) >= _FILES_WORTH_A_POOL
    return jobs if big_enough and can_fork() and validator.name == "builtin" else 1


def _acknowledged_in_trees(
    trees: Mapping[Path, Index], files: Iterable[str], placed: Mapping[str, tuple[Path, str]]
) -> dict[str, Mapping[str, str]]:
    """The acknowledgements the gitops-gen trees recorded, by file as findings name it (`placed`: where
    `_sets` found each file of a tree)."""
    found: dict[str, Mapping[str, str]] = {}
    for file in set(files):
        under = placed.get(file)
        if under is not None and (acks := trees[under[0]].acknowledged_at(under[1])):
            found[file] = acks
    return found


def _inside(roots: Sequence[Path]) -> Callable[[str], tuple[Path, str] | None]:
    """(the first root holding a resolved file, its path below it in POSIX form), or None:
    `file.is_relative_to(root)` and `file.relative_to(root).as_posix()` as a string prefix test (pathlib
    costs as much as validating an object)."""
    prefixes = [(os.path.normcase(os.path.join(str(root), "")), root) for root in roots]

    def inside(file: str) -> tuple[Path, str] | None:
        folded = os.path.normcase(file)
        for prefix, root in prefixes:
            if folded.startswith(prefix):
                return root, file[len(prefix) :].replace(os.sep, "/")
            if folded == prefix[:-1]:
                return root, "."
        return None

    return inside


def _resolver() -> Callable[[str], str]:
    """`str(Path(file).resolve())`, with each folder resolved once: a fleet's 15,000 files sit in a few
    thousand folders, and resolving walks (lstat) every component of the path."""
    folders: dict[str, str] = {}

    def resolve(file: str) -> str:
        if os.path.islink(file):
            return str(Path(file).resolve())
        folder, name = os.path.split(file)
        real = folders.get(folder)
        if real is None:
            real = folders[folder] = str(Path(folder or ".").resolve())
        return os.path.join(real, name)

    return resolve


def _repo_root(path: Path) -> Path:
    """The git work tree holding `path`, else the folder above it: Application paths are relative to it."""
    start = path.resolve() if path.is_dir() else path.resolve().parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start.parent


def _sets(
    paths: Sequence[Path],
    files: Sequence[str],
    output_roots: Mapping[Path, Index],
    placed: dict[str, tuple[Path, str]] | None = None,
) -> list[_Set]:
    """The files grouped into the sets the rules look at together, in a stable order; `placed` gets the
    tree and the path inside it of every file of a gitops-gen tree."""
    given = [p.resolve() for p in paths]
    roots: dict[Path, Path] = {}  # the path given -> its repository root, looked up once
    groups: dict[tuple[Path, str], list[tuple[str, str | None]]] = defaultdict(list)
    in_tree: dict[tuple[Path, str], str] = {}
    resolve = _resolver()
    inside = _inside(list(output_roots))
    for name in files:
        resolved = resolve(name)
        under = inside(resolved)
        out = under[0] if under is not None else None
        if under is not None:
            if placed is not None:
                placed[name] = under
            # A gitops-gen tree: its index says where each environment sits in the GitOps repo, so
            # Application paths resolve whatever folder the tree was rendered or checked out into.
            out, relative = under
            env = relative.split("/")[0]
            repo_root = output_roots[out].repo_paths.get(env)
            if repo_root is not None:
                groups[(out, env)].append((name, posixpath.join(repo_root, relative)))
                in_tree[(out, env)] = repo_root
                continue
        file = Path(resolved)
        base = out or next((p for p in given if file.is_relative_to(p)), file)
        if base not in roots:
            roots[base] = _repo_root(base)
        root = roots[base]
        env = file.relative_to(out).parts[0] if out is not None else ""
        repo_path = file.relative_to(root).as_posix() if file.is_relative_to(root) else None
        groups[(root, env)].append((name, repo_path))
    return [
        _Set(tuple(members), key[0], in_tree.get(key))
        for key, members in sorted(groups.items(), key=lambda kv: str(kv[0]))
    ]


def _exists_under(root: Path) -> Callable[[str], bool]:
    return lambda path: (root / path).exists()


def _exists_in_tree(out: Path, repo_root: str) -> Callable[[str], bool]:
    """Whether a GitOps-repo path names a file or folder of the tree at `out`, which sits at `repo_root`."""
    prefix = repo_root.strip("/") + "/"

    def exists(path: str) -> bool:
        path = path.strip("/")
        return path == prefix[:-1] or (path.startswith(prefix) and (out / path[len(prefix) :]).exists())

    return exists


def versions_of(oap_version: str, rollouts_version: str) -> Versions:
    """The releases given on the command line, checked: a bad one is a usage error."""
    problems = []
    for flag, parse, value in (
        ("--oap-version", parse_oap_version, oap_version),
        ("--rollouts-version", dialect_for, rollouts_version),
    ):
        try:
            parse(value)
        except ValueError as exc:
            problems.append(Problem(Location(flag), str(exc)))
    if problems:
        raise InputError(problems)
    return Versions(oap_version, rollouts_version)


def validator_for(name: str) -> Validator:
    if name not in ("auto", "kubeconform", "builtin"):
        raise ValueError(f"unknown validator {name!r}")
    return make_validator(name)  # type: ignore[arg-type]  # narrowed by the check above
