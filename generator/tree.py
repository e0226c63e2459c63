"""Plan and write the rendered tree.

`plan_tree` compares what a render produces with the output folder and returns a `TreePlan` (files added,
changed, removed, unchanged, with old and new texts); it writes nothing, so `render --check`, `diff` and
the publisher share it. `apply_plan` writes a plan; `plan_render` renders a config and plans in one call.

Ownership: `INDEX_NAME` in the output root lists, sorted, the relative paths gitops-gen wrote. A render
overwrites or deletes only those files; a file it would write that exists but is not in the index stops
the run (`NotOwned`), unless its bytes are already exactly what gitops-gen would write: such a file is
adopted into the index without being touched (this is how a tree rendered before the index existed
migrates). Deletion is limited to the render's `Scope`: a `--service`/`--env` render only prunes files of
those services/environments, so a partial render never deletes the rest of the tree.

Atomicity ("a crash leaves the old tree or the new one"): a write-ahead journal, not a directory swap.
A swap (`<out>.new` renamed over `<out>`) would have to copy or move files we do not own (the output root
may be a folder inside a git repo, or the repo itself), would rewrite every unchanged file, and renames a
folder that editors and shells may be sitting in. The journal touches only the files that change:
  1. stage every new or changed file, the new index and the journal in `<out>/STAGING_NAME/`, then make
     them durable with one sync (below);
  2. rename the journal to `<out>/JOURNAL_NAME` and fsync `<out>`: the commit point. Before it, the tree
     on disk is the old tree; after it, the journal says how to finish the new one;
  3. move each staged file into place (`os.replace`), delete pruned files and the folders they leave
     empty, then make all of that durable with one sync;
  4. delete the journal, then the staging folder.
`recover` (run first by every write, under the same lock) rolls a journal forward, idempotently: a staged
file still there is moved into place, a pruned file still there is deleted. Staging without a journal is
an interrupted step 1: it is deleted and the old tree stands. Readers (`plan_tree`) never write: they see
the tree as it will be once a pending journal is rolled forward. Writers hold `flock` on the output folder.
Identical files are never rewritten, so their mtimes stay.

Durability (a power loss, not only a kill, leaves the old tree or the new one): the syncs of steps 1 and 3
cost O(1) system calls whatever the number of files. Where `syncfs(2)` can be trusted (Linux >= 5.8, which
reports writeback errors from it, on a local file system whose sync commits everything: `_Syncer`), each
is a single `syncfs` of the output folder's file system: every staged file and the journal are on disk
before the journal is renamed into place, so a committed journal only ever names durable data; every move
and deletion is on disk before the journal is deleted. Elsewhere each staged file is fsynced as it is
written and each touched folder at the sync, as before.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import fcntl
import functools
import json
import os
import posixpath
import re
import shutil
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from .errors import GeneratorError, Location, Problem
from .render import Manifest, render_all
from .spec import RESERVED_SERVICE_NAMES

# No `.json`/`.yaml` suffix on the bookkeeping files: kubeconform and Argo CD read every *.json, *.yaml and
# *.yml file of a folder they are given (hidden ones too) as manifests, and a user's own
# `kubeconform rendered/` must pass.
INDEX_NAME = ".gitops-gen.index"
LEGACY_INDEX_NAME = ".gitops-gen.json"  # format 1, read once and replaced by INDEX_NAME on the next write
JOURNAL_NAME = ".gitops-gen.journal"
STAGING_NAME = ".gitops-gen.staging"
INDEX_FORMAT = 2
JOURNAL_FORMAT = 1
_RESERVED = (INDEX_NAME, LEGACY_INDEX_NAME, JOURNAL_NAME, STAGING_NAME)
_NOT_OURS_HINT = (
    "move or delete it and render again; gitops-gen only overwrites files listed in " + INDEX_NAME
)


class TreeError(GeneratorError):
    """The output folder cannot be used as it is: a file we do not own is in the way, a broken index."""


class NotOwned(TreeError):
    """A file the render would write exists, differs, and gitops-gen did not write it."""


class LinkInTree(Exception):
    """A symbolic link where the tree holds a file or a folder: reading or writing through it could reach
    anything outside the tree (a link committed to the GitOps repo, made by hand in --out)."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def _link_problem(out_dir: Path, link: str) -> Problem:
    return Problem(
        Location(str(out_dir / link)),
        "is a symbolic link: gitops-gen reads and writes nothing through a link in its tree",
        "replace the link with the folder or file itself, or remove it, and render again",
    )


def refuse_links(root: Path, relative: str) -> None:
    """NotOwned when a folder on the way from `root` to `root/relative` is a symbolic link: the tree of a
    GitOps repo goes into that repo, never through a link it holds to a folder elsewhere."""
    folder = root
    for part in Path(relative).parts:
        folder = folder / part
        if folder.is_symlink():
            raise NotOwned([_link_problem(root, str(folder.relative_to(root)))])


class OutputBusy(GeneratorError):
    """Another gitops-gen is writing the folder, or it changed between planning and writing."""

    exit_code: ClassVar[int] = 3


class WriteFailed(GeneratorError):
    """The operating system refused a write (permissions, disk full)."""

    exit_code: ClassVar[int] = 3


# ---- layout and scope ---------------------------------------------------------------------------------


def path_owner(path: str) -> tuple[str, str | None]:
    """(environment, service or None) of an output path, from the layout documented in render.py.

    `<env>/argocd/apps/<env>-<service>.yaml` belongs to the service, except the environment's own
    Applications (`<env>-tsb`, ...: RESERVED_SERVICE_NAMES, which no service may take).
    """
    parts = path.split("/")
    env = parts[0]
    if len(parts) == 5 and parts[1] == "services":
        return env, parts[3]
    if len(parts) == 4 and parts[1:3] == ["argocd", "apps"] and parts[3].endswith(".yaml"):
        app = parts[3].removesuffix(".yaml")
        if app.startswith(f"{env}-") and app[len(env) + 1 :] not in RESERVED_SERVICE_NAMES:
            return env, app[len(env) + 1 :]
    return env, None


@dataclass(frozen=True)
class Scope:
    """The part of the tree a render is responsible for: owned files in scope that it no longer produces
    are pruned. Empty `envs` means every environment; empty `services` means everything of the chosen
    environments, environment-level objects included; otherwise only the files of those services, and with
    `with_environments` the environment-level objects too (they depend on every service: a spec's new
    namespace changes the Workspace that selects it)."""

    envs: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    with_environments: bool = False

    @classmethod
    def of(cls, envs: Iterable[str], services: Iterable[str]) -> Scope:
        return cls(tuple(sorted(set(envs))), tuple(sorted(set(services))))

    def covers(self, path: str) -> bool:
        if (
            self.services
            and not any(name in path for name in self.services)
            and not (self.with_environments and "/services/" not in path)
        ):
            return False  # cheap: a one-service render asks this of every file of the tree
        env, service = path_owner(path)
        if self.envs and env not in self.envs:
            return False
        return not self.services or service in self.services or (self.with_environments and service is None)


# ---- reading the tree ---------------------------------------------------------------------------------


def _is_safe(path: str) -> bool:
    """A relative '/'-separated path inside the output root that is not one of our own bookkeeping files:
    no empty, `.` or `..` part (string tests, not a split: every plan checks the 15,000 paths of a fleet's
    index)."""
    framed = f"/{path}/"
    return (
        bool(path)
        and "\\" not in path
        and "//" not in framed
        and "/./" not in framed
        and "/../" not in framed
        and path.split("/", 1)[0] not in _RESERVED
    )


@dataclass(frozen=True)
class _Journal:
    replace: tuple[tuple[str, str], ...]  # (staged file name, target path); the index may be a target
    remove: tuple[str, ...]

    def to_text(self) -> str:
        doc = {
            "format": JOURNAL_FORMAT,
            "replace": [list(r) for r in self.replace],
            "remove": list(self.remove),
        }
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def _read_journal(out_dir: Path) -> _Journal | None:
    path = out_dir / JOURNAL_NAME
    try:
        doc: Any = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise TreeError(f"{path}: cannot read the journal of an interrupted render: {exc}") from None
    try:
        replace = tuple((str(blob), str(target)) for blob, target in doc["replace"])
        remove = tuple(str(p) for p in doc["remove"])
        ok = (
            doc["format"] == JOURNAL_FORMAT
            and all(
                re.fullmatch(r"[0-9]+", blob) and (target == INDEX_NAME or _is_safe(target))
                for blob, target in replace
            )
            and all(p == LEGACY_INDEX_NAME or _is_safe(p) for p in remove)
        )
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise TreeError(
            f"{path}: not a gitops-gen journal (format {JOURNAL_FORMAT}); it was written by "
            f"another version or edited: remove it and {STAGING_NAME}/ and check the folder"
        )
    return _Journal(replace, remove)


class _View:
    """The output tree as a reader should see it: the files on disk, with a pending journal applied."""

    def __init__(self, out_dir: Path) -> None:
        if out_dir.exists() and not out_dir.is_dir():
            raise TreeError(f"{out_dir}: the output folder is a file")
        self.out_dir = out_dir
        self._root = str(out_dir)  # plain string joins: a fleet's plan reads 15,000 files
        self.pending: dict[str, bytes | None] = {}
        self._folders: dict[str, bool] = {}  # folder -> no link on the way to it
        journal = _read_journal(out_dir)
        if journal is not None:
            for blob, target in journal.replace:
                staged = self._read(out_dir / STAGING_NAME / blob)
                if staged is not None:  # else already moved into place
                    self.pending[target] = staged
            self.pending.update(dict.fromkeys(journal.remove))

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None if there is none. A folder in the way raises IsADirectoryError, a
        symbolic link (the file or a folder above it) LinkInTree."""
        if path in self.pending:
            return self.pending[path]
        folder = path.rpartition("/")[0]
        if folder and not self._real_folder(folder):
            raise LinkInTree(self._first_link(folder))
        try:
            fd = os.open(os.path.join(self._root, path), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link
                raise LinkInTree(path) from None
            if exc.errno == errno.EISDIR:
                raise IsADirectoryError(exc.errno, exc.strerror, exc.filename) from None
            if exc.errno == errno.ENOTDIR:
                return None
            raise TreeError(f"{os.path.join(self._root, path)}: cannot read: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            return handle.read()

    def _real_folder(self, folder: str) -> bool:
        """No part of `folder` (below the root) is a symbolic link; each folder is asked once per plan."""
        known = self._folders.get(folder)
        if known is None:
            parent = folder.rpartition("/")[0]
            try:
                is_link = os.path.islink(os.path.join(self._root, folder))
            except OSError:
                is_link = False
            known = not is_link and (not parent or self._real_folder(parent))
            self._folders[folder] = known
        return known

    def _first_link(self, folder: str) -> str:
        parts = folder.split("/")
        for depth in range(1, len(parts) + 1):
            candidate = "/".join(parts[:depth])
            if os.path.islink(os.path.join(self._root, candidate)):
                return candidate
        return folder

    @staticmethod
    def _read(path: Path | str) -> bytes | None:
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except IsADirectoryError:
            raise
        except OSError as exc:
            raise TreeError(f"{path}: cannot read: {exc.strerror}") from None


@dataclass(frozen=True)
class Index:
    """The ownership index: the files gitops-gen wrote; where each environment's files sit in the GitOps
    repo (its `gitops.path`), so that Application paths resolve against the tree whatever folder it was
    rendered into; and the warnings the specs acknowledge, so that `validate` of the tree honours them."""

    owned: tuple[str, ...] = ()
    repo_paths: Mapping[str, str] = field(default_factory=dict)  # environment -> gitops.path
    # `<env>` (its own objects) or `<env>/<service>` -> {rule ID: why it is accepted}
    acknowledged: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def repo_path(self, path: str) -> str | None:
        """Where an output path sits in the GitOps repo, or None when its environment is not recorded."""
        root = self.repo_paths.get(path.split("/")[0])
        return None if root is None else posixpath.join(root, path)

    def acknowledged_at(self, path: str) -> Mapping[str, str]:
        """The warnings acknowledged for the objects of an output path."""
        return self.acknowledged.get(owner_key(*path_owner(path)), {})


def owner_key(env: str, service: str | None) -> str:
    return env if service is None else f"{env}/{service}"


def index_text(
    owned: Iterable[str],
    repo_paths: Mapping[str, str] | None = None,
    acknowledged: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """The index file's exact content: deterministic bytes, no timestamps or versions."""
    doc: dict[str, Any] = {
        "format": INDEX_FORMAT,
        "note": "Files written by gitops-gen: it may overwrite or delete these, and no others. Do not edit.",
        "owned": sorted(set(owned)),
        "repoPaths": dict(sorted((repo_paths or {}).items())),
    }
    if acknowledged:
        doc["acknowledged"] = {key: dict(sorted(acks.items())) for key, acks in sorted(acknowledged.items())}
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def index_file(out_dir: Path) -> Path | None:
    """The index of `out_dir` (the legacy name when only that exists), or None when there is none."""
    for name in (INDEX_NAME, LEGACY_INDEX_NAME):
        if (out_dir / name).is_file():
            return out_dir / name
    return None


def read_index(out_dir: Path) -> Index:
    """The index of `out_dir` (empty without one; TreeError for a damaged one)."""
    found = index_file(out_dir)
    if found is None:
        return Index()
    try:
        data = found.read_bytes()
    except OSError as exc:
        raise TreeError(f"{found}: cannot read gitops-gen's ownership index: {exc.strerror}") from None
    return _parse_index(data, found)


def _parse_index(data: bytes, where: Path) -> Index:
    try:
        doc: Any = json.loads(data)
        owned = doc["owned"]
        repo_paths = doc.get("repoPaths", {}) if doc["format"] == 2 else {}
        acknowledged = doc.get("acknowledged", {}) if doc["format"] == 2 else {}
        ok = (
            doc["format"] in (1, 2)
            and isinstance(owned, list)
            and all(isinstance(p, str) and _is_safe(p) for p in owned)
            and isinstance(repo_paths, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in repo_paths.items())
            and isinstance(acknowledged, dict)
            and all(
                isinstance(acks, dict) and all(isinstance(v, str) for v in acks.values())
                for acks in acknowledged.values()
            )
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        ok = False
    if not ok:
        raise TreeError(
            [
                Problem(
                    Location(str(where)),
                    f"not a gitops-gen ownership index (format {INDEX_FORMAT})",
                    "restore it (e.g. with `git checkout`); gitops-gen will not write here without it",
                )
            ]
        )
    return Index(tuple(sorted(set(owned))), dict(sorted(repo_paths.items())), acknowledged)


# ---- planning -----------------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class TreePlan:
    """What writing `manifests` into `out_dir` would change. Paths are relative, '/'-separated, sorted."""

    out_dir: Path
    scope: Scope
    manifests: Mapping[str, Manifest]  # every file the render produces, by path
    added: tuple[str, ...]  # produced, not on disk
    changed: tuple[str, ...]  # produced, on disk (owned) with other bytes
    removed: tuple[str, ...]  # owned, in scope, no longer produced: will be deleted
    unchanged: tuple[str, ...]  # produced, on disk byte for byte: left alone
    adopted: tuple[str, ...]  # unchanged files that were not in the index yet: they join it
    old_texts: Mapping[str, str]  # on-disk text of the changed and removed files
    old_index: str | None  # the index file as it is (None: no index yet)
    owned: tuple[str, ...]  # the index after the write
    repo_paths: Mapping[str, str] = field(default_factory=dict)  # the index after the write
    acknowledged: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # the index after the write
    legacy_index: bool = False  # the index is still under LEGACY_INDEX_NAME: the write replaces it

    @property
    def has_changes(self) -> bool:
        """Files differ (the index alone does not count: it is bookkeeping, not output)."""
        return bool(self.added or self.changed or self.removed)

    @property
    def index_changed(self) -> bool:
        return self.legacy_index or self.old_index != self.new_index

    @property
    def new_index(self) -> str:
        return index_text(self.owned, self.repo_paths, self.acknowledged)

    @property
    def index_path(self) -> str:
        """The index file as it is on disk now."""
        return LEGACY_INDEX_NAME if self.legacy_index else INDEX_NAME

    @property
    def touched(self) -> tuple[str, ...]:
        """Every path that is added, changed or removed, sorted."""
        return tuple(sorted((*self.added, *self.changed, *self.removed)))

    def old_text(self, path: str) -> str | None:
        return self.old_texts.get(path)

    def new_text(self, path: str) -> str | None:
        manifest = self.manifests.get(path)
        return manifest.text if manifest is not None else None

    def file_diff(self, path: str, folder: str = "") -> str:
        """A unified diff of one path, `patch -p1` style (`/dev/null` for an added or removed file);
        `folder` prefixes the names, as a pull request in the GitOps repo shows them (`a/rendered/...`)."""
        old, new = self.old_text(path), self.new_text(path)
        if old == new:
            return ""
        name = f"{folder.rstrip('/')}/{path}" if folder else path
        lines = difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            (new or "").splitlines(keepends=True),
            "/dev/null" if old is None else f"a/{name}",
            "/dev/null" if new is None else f"b/{name}",
        )
        return "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
        )

    def unified_diff(self) -> str:
        return "".join(self.file_diff(path) for path in self.touched)


def plan_tree(out_dir: Path, manifests: Sequence[Manifest], scope: Scope = Scope()) -> TreePlan:
    """Compare the render with the output folder; reads only. Raises NotOwned for files in the way."""
    by_path: dict[str, Manifest] = {}
    for manifest in manifests:
        if not _is_safe(manifest.path) or by_path.setdefault(manifest.path, manifest) is not manifest:
            raise ValueError(f"bad or duplicate manifest path {manifest.path!r}")  # a bug in render.py
    view = _View(out_dir)
    legacy = False
    try:
        index_bytes = view.read(INDEX_NAME)
        if index_bytes is None:
            index_bytes = view.read(LEGACY_INDEX_NAME)
            legacy = index_bytes is not None
    except IsADirectoryError:
        raise TreeError(f"{out_dir / INDEX_NAME}: is a folder, not gitops-gen's ownership index") from None
    except LinkInTree as link:
        raise NotOwned([_link_problem(out_dir, link.path)]) from None
    index_at = out_dir / (LEGACY_INDEX_NAME if legacy else INDEX_NAME)
    old_index = None if index_bytes is None else _decode(index_bytes)
    index = Index() if index_bytes is None else _parse_index(index_bytes, index_at)
    owned = index.owned
    owned_set = set(owned)

    added, changed, unchanged, adopted = [], [], [], []
    old_texts: dict[str, str] = {}
    conflicts = []
    links: set[str] = set()
    for path, manifest in sorted(by_path.items()):
        try:
            old = view.read(path)
        except LinkInTree as link:
            if link.path not in links:
                links.add(link.path)
                conflicts.append(_link_problem(out_dir, link.path))
            continue
        except IsADirectoryError:
            conflicts.append(
                Problem(
                    Location(str(out_dir / path)),
                    "is a folder where gitops-gen writes a file",
                    "move it away and render again",
                )
            )
            continue
        if old is None:
            blocker = _file_in_the_way(out_dir, path)
            if blocker:
                conflicts.append(
                    Problem(
                        Location(str(out_dir / blocker)),
                        "is a file where gitops-gen needs a folder",
                        "move it away and render again",
                    )
                )
            added.append(path)
        elif old == manifest.text.encode("utf-8"):
            unchanged.append(path)
            if path not in owned_set:
                adopted.append(path)
        elif path not in owned_set:
            conflicts.append(
                Problem(
                    Location(str(out_dir / path)),
                    "exists but was not written by gitops-gen; refusing to overwrite it",
                    _NOT_OURS_HINT,
                )
            )
        else:
            changed.append(path)
            old_texts[path] = _decode(old)
    if conflicts:
        raise NotOwned(conflicts)

    removed, dropped = [], set()
    for path in owned:
        if path in by_path or not scope.covers(path):
            continue
        dropped.add(path)  # gone from the index even if someone already deleted the file
        try:
            old = view.read(path)
        except IsADirectoryError:  # not a file any more: not ours to delete
            continue
        except LinkInTree as link:  # deleting through it could delete a file outside the tree
            raise NotOwned([_link_problem(out_dir, link.path)]) from None
        if old is not None:
            removed.append(path)
            old_texts[path] = _decode(old)
    new_owned = tuple(sorted((owned_set - dropped) | by_path.keys()))
    still_there = {path.split("/")[0] for path in new_owned}
    repo_paths = {env: root for env, root in index.repo_paths.items() if env in still_there}
    repo_paths.update({m.env: m.gitops_path for m in by_path.values()})
    rendered = {owner_key(m.env, m.service) for m in by_path.values()}
    # what the index says of files this render did not produce, kept while those files are still owned
    others = {key: acks for key, acks in index.acknowledged.items() if key not in rendered}
    remaining = {owner_key(*path_owner(path)) for path in new_owned} if others else set()
    acknowledged = {key: acks for key, acks in others.items() if key in remaining}
    acknowledged.update(
        {owner_key(m.env, m.service): dict(m.acknowledged) for m in by_path.values() if m.acknowledged}
    )
    return TreePlan(
        out_dir,
        scope,
        dict(sorted(by_path.items())),
        tuple(added),
        tuple(changed),
        tuple(removed),
        tuple(unchanged),
        tuple(adopted),
        old_texts,
        old_index,
        new_owned,
        repo_paths,
        acknowledged,
        legacy,
    )


def _file_in_the_way(out_dir: Path, path: str) -> str | None:
    """The first parent folder of `path` that exists as a file (os.replace would fail there)."""
    parts = path.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        candidate = out_dir.joinpath(*parts[:depth])
        if not candidate.exists():
            return None
        if not candidate.is_dir():
            return "/".join(parts[:depth])
    return None


def plan_render(
    config_dir: Path, out_dir: Path, envs: Sequence[str] = (), services: Sequence[str] = ()
) -> TreePlan:
    """Render the chosen environments and services of a config repo and plan writing them into out_dir."""
    return plan_tree(out_dir, render_all(config_dir, envs, services), Scope.of(envs, services))


# ---- writing ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriteReport:
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]

    @property
    def written(self) -> tuple[str, ...]:
        return tuple(sorted((*self.added, *self.changed)))


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (a rename, a new file) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_new(path: Path, data: bytes, sync: bool) -> None:
    """Create `path` (it must not exist) holding `data`; fsync it when `sync`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


# Local file systems whose sync_fs commits every dirty inode and the journal, so that syncfs(2) gives "the
# same guarantees as fsync() called on every file in the filesystem" (sync(2), NOTES; Linux man-pages
# 6.03). Not FUSE (its syncfs writes pages back to the daemon without asking it to fsync, which FUSE_FSYNC
# does), nor network or unknown file systems: there each file is fsynced.
_SYNCFS_FILE_SYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "tmpfs"})


def _mount_types(mountinfo: str) -> dict[tuple[int, int], str]:
    """(major, minor) -> file system type, from /proc/self/mountinfo (proc(5)): field 3 is the device,
    the type follows the ` - ` separator."""
    types: dict[tuple[int, int], str] = {}
    for line in mountinfo.splitlines():
        fields, sep, rest = line.partition(" - ")
        parts = fields.split()
        if not sep or len(parts) < 3 or not rest:
            continue
        major, _, minor = parts[2].partition(":")
        if major.isdigit() and minor.isdigit():
            types.setdefault((int(major), int(minor)), rest.split()[0])
    return types


@functools.cache
def _syncfs_trusted(device: int) -> bool:
    """Whether one syncfs(2) makes every earlier write to file system `device` durable and reports it if
    one failed: Linux with syncfs in its libc, kernel 5.8 or later ("Since Linux 5.8, syncfs() will also
    report an error if one or more inodes failed to be written back since the last syncfs() call", sync(2),
    NOTES; kernel commit 735e4ae5ba28; before 5.8 it only fails with EBADF), and a file system from
    _SYNCFS_FILE_SYSTEMS."""
    release = re.match(r"(\d+)\.(\d+)", os.uname().release) if sys.platform == "linux" else None
    if release is None or (int(release[1]), int(release[2])) < (5, 8) or _libc_syncfs() is None:
        return False
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            types = _mount_types(handle.read())
    except OSError:
        return False
    return types.get((os.major(device), os.minor(device))) in _SYNCFS_FILE_SYSTEMS


@functools.cache
def _libc_syncfs() -> Any:
    import ctypes  # deferred: only a write needs it

    try:  # CDLL(None): the symbols already loaded, libc's among them (dlopen(3) of NULL)
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):  # a libc older than glibc 2.14 has no syncfs
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function


def _syncfs(fd: int) -> None:
    """syncfs(2): write back every dirty file and folder of fd's file system and wait for it."""
    if _libc_syncfs()(fd) != 0:
        import ctypes

        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


class _Syncer:
    """Makes a batch of changes below `root` durable at `sync()`: with one syncfs(2) where
    `_syncfs_trusted`, else (`batched` False) with an fsync(2) of each file as it is written and of each
    folder whose entries changed.

    The folder is opened before the changes: syncfs reports the writeback errors of the file system since
    the file was opened (the errseq cursor that commit 735e4ae5ba28 samples at open), so a failed write
    of ours cannot go unreported. A change on another file system (a pruned file below a mount point
    inside `root`) is not covered by root's syncfs: its folder is fsynced."""

    def __init__(self, root: Path) -> None:
        self.fd = os.open(root, os.O_RDONLY)
        try:
            self.device = os.fstat(self.fd).st_dev
            self.batched = _syncfs_trusted(self.device)
        except BaseException:
            os.close(self.fd)
            raise
        self.folders: set[Path] = set()  # fsynced at sync(): every touched one unless batched

    def __enter__(self) -> _Syncer:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def write(self, path: Path, data: bytes) -> None:
        """A new file, durable at sync()."""
        _write_new(path, data, not self.batched)
        self.changed(path.parent)

    def changed(self, folder: Path, device: int | None = None) -> None:
        """`folder`'s entries changed (a file was added, renamed in or deleted), on file system `device`
        (None: root's)."""
        if not self.batched or (device is not None and device != self.device):
            self.folders.add(folder)

    def sync(self) -> None:
        if self.batched:
            _syncfs(self.fd)
        for folder in sorted(self.folders):
            if folder.is_dir():
                fsync_dir(folder)


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """An exclusive flock on the output folder itself (no lock file to leave behind); the kernel drops it
    when the process dies, so a killed render never blocks the next one."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(out_dir, os.O_RDONLY)
    except OSError as exc:
        raise WriteFailed(f"{out_dir}: cannot create or open the output folder: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputBusy(
                f"{out_dir}: another gitops-gen is writing this folder; run again when it is done"
            ) from None
        yield
    finally:
        os.close(fd)  # releases the lock


def _prune_empty_folders(folder: Path, out_dir: Path) -> None:
    """Delete `folder` and its parents below out_dir while they are empty (after we deleted a file)."""
    while folder != out_dir and out_dir in folder.parents:
        try:
            os.rmdir(folder)
        except FileNotFoundError:
            pass  # removed by an interrupted run already
        except OSError:
            return  # not empty: someone else's files live here
        folder = folder.parent


def _roll_forward(out_dir: Path, journal: _Journal) -> None:
    """Finish a committed write. Idempotent: safe to run again after being interrupted at any point."""
    staging = out_dir / STAGING_NAME
    with _Syncer(out_dir) as syncer:
        syncer.changed(out_dir)
        for blob, target in journal.replace:
            source, destination = staging / blob, out_dir / target
            if source.exists():
                if not destination.parent.is_dir():
                    destination.parent.mkdir(parents=True)
                    for folder in destination.parent.parents:  # new folders: their parents changed
                        if folder == out_dir or out_dir not in folder.parents:
                            break
                        syncer.changed(folder)
                # rename(2) fails with EXDEV across mounts: a moved file is on staging's file system,
                # which is out_dir's, so out_dir's syncfs covers it
                os.replace(source, destination)
            syncer.changed(destination.parent)
        for path in journal.remove:
            doomed = out_dir / path
            try:
                device = os.lstat(doomed).st_dev
                os.unlink(doomed)
            except FileNotFoundError:
                device = None  # gone already (an interrupted run deleted it): synced as root's
            _prune_empty_folders(doomed.parent, out_dir)
            syncer.changed(_existing_ancestor(doomed.parent), device)
        syncer.sync()  # the moves and deletions are durable before the journal goes
    os.unlink(out_dir / JOURNAL_NAME)
    fsync_dir(out_dir)
    shutil.rmtree(staging, ignore_errors=True)


def _existing_ancestor(folder: Path) -> Path:
    """`folder` or its nearest parent that exists (after _prune_empty_folders)."""
    while not folder.is_dir() and folder.parent != folder:
        folder = folder.parent
    return folder


def _recover_locked(out_dir: Path) -> bool:
    try:
        journal = _read_journal(out_dir)
        if journal is not None:
            _roll_forward(out_dir, journal)
            return True
        staging = out_dir / STAGING_NAME
        if staging.exists():  # interrupted before the commit point: the old tree is intact
            shutil.rmtree(staging)
            return True
        return False
    except OSError as exc:
        raise WriteFailed(
            f"{out_dir}: cannot finish an interrupted render ({exc}); fix the cause and run again"
        ) from None


def recover(out_dir: Path) -> bool:
    """Finish (journal present) or undo (staging only) a write that a crash or kill interrupted.

    Every write calls it first; True when there was something to do."""
    if not out_dir.is_dir():
        return False
    with _locked(out_dir):
        return _recover_locked(out_dir)


def _check_current(plan: TreePlan) -> None:
    """The folder must still be what the plan saw: nobody edited it between planning and writing."""
    view = _View(plan.out_dir)
    expected: list[tuple[str, str | None]] = [(plan.index_path, plan.old_index)]
    expected += [(path, None) for path in plan.added]
    expected += [(path, plan.old_texts[path]) for path in (*plan.changed, *plan.removed)]
    expected += [(path, plan.manifests[path].text) for path in plan.unchanged]
    for path, text in expected:
        try:
            current = view.read(path)
        except (IsADirectoryError, LinkInTree):
            current = b"\0"  # a folder or a link: never equal to a text
        if (None if current is None else _decode(current)) != text:
            raise OutputBusy(
                f"{plan.out_dir / path}: changed while gitops-gen was rendering; nothing was "
                "written, run again"
            )


def apply_plan(plan: TreePlan) -> WriteReport:
    """Write a plan: all of it or (after a crash, once `recover` ran) none of it. Identical files are left
    alone. Raises OutputBusy if the folder changed since it was planned or another render holds it."""
    work = plan.has_changes or plan.index_changed
    if work or plan.out_dir.is_dir():
        with _locked(plan.out_dir):
            _recover_locked(plan.out_dir)
            if work:  # with nothing to write, an edit since the plan cannot be overwritten
                _check_current(plan)
                _write(plan)
    return WriteReport(plan.added, plan.changed, plan.removed, plan.unchanged)


def _refuse_unwritable(plan: TreePlan) -> None:
    """WriteFailed, before anything is written, when a folder the write changes cannot be written (its
    permissions, a read-only mount): found after the commit point, it would leave the write half-done
    for the next run to finish."""
    folders = {plan.out_dir}
    for path in (*plan.added, *plan.changed, *plan.removed):
        folder = (plan.out_dir / path).parent
        while not folder.is_dir() and folder != plan.out_dir:
            folder = folder.parent  # a folder to be made: its nearest parent that exists gets the entry
        folders.add(folder)
    for folder in sorted(folders):
        if not os.access(folder, os.W_OK | os.X_OK):
            raise WriteFailed(f"{folder}: cannot write (permission denied or read-only); nothing was changed")


def _write(plan: TreePlan) -> None:
    """Steps 1-4 of the module docstring; the caller holds the lock."""
    out_dir, staging = plan.out_dir, plan.out_dir / STAGING_NAME
    _refuse_unwritable(plan)
    try:
        staging.mkdir()
        with _Syncer(staging) as syncer:
            replace = []
            for number, path in enumerate((*plan.added, *plan.changed)):
                syncer.write(staging / str(number), plan.manifests[path].text.encode("utf-8"))
                replace.append((str(number), path))
            if plan.index_changed:
                blob = str(len(replace))
                syncer.write(staging / blob, plan.new_index.encode("utf-8"))
                replace.append((blob, INDEX_NAME))
            obsolete = (LEGACY_INDEX_NAME,) if plan.legacy_index else ()
            journal = _Journal(tuple(replace), (*plan.removed, *obsolete))
            syncer.write(staging / "journal", journal.to_text().encode("utf-8"))
            syncer.sync()  # every file the journal names is durable before it is committed
        os.replace(staging / "journal", out_dir / JOURNAL_NAME)  # the commit point
    except OSError as exc:
        with contextlib.suppress(OSError):
            shutil.rmtree(staging)
        raise WriteFailed(f"{out_dir}: cannot write ({exc}); nothing was changed") from None
    try:
        # fsync(2): the journal's directory entry is durable only once out_dir is fsynced; it must be
        # before any file moves, or a power loss could leave moved files and no journal
        fsync_dir(out_dir)
        _roll_forward(out_dir, journal)
    except OSError as exc:
        raise WriteFailed(
            f"{out_dir}: the write stopped half-way ({exc}); {JOURNAL_NAME} holds the rest: fix "
            "the cause and run `gitops-gen render` again to finish it"
        ) from None
