"""Releasing an image, and promoting it from one environment to the next: edits of the config files.

`release` sets `workload.containers.<container>.image` of one service, in the spec (every environment
without an image of its own) or in environments' `services.<name>` overrides; `promote` copies what was
released to one environment (its own override's images, nothing else) to another, as Kargo moves freight
from stage to stage. Both only plan edits (`plan_release`, `plan_promote`: every problem located, exit 2,
nothing read twice); `check_edits` renders and validates the config as the edits would leave it, from a
temporary copy, before `write_edits` puts the edited files in place (temp file + os.replace each): a
release whose render or validation fails leaves every file as it was.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .canary_plan import short_image
from .environments import merge_layers, service_layers
from .errors import Findings, InputError, Location, Problem, raise_if_any
from .limits import image_problem
from .render import Manifest, Rendered, render_environments
from .spec import (
    ENVIRONMENTS_DIR,
    SERVICES_DIR,
    SourceFile,
    environment_names,
    load_environment,
    load_service,
    select,
    spec_files,
)
from .tree import Scope, WriteReport, apply_plan, plan_tree
from .yaml_edit import EditError, set_scalar
from .yamlio import format_field, position


@dataclass(frozen=True)
class Edit:
    """The new text of one config file, and where the image now is in it."""

    file: str  # relative to the config folder: services/<name>.yaml or environments/<env>.yaml
    old: str
    new: str
    env: str | None  # None: the spec
    container: str
    image: str
    line: int
    column: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.old.splitlines(True), self.new.splitlines(True), f"a/{self.file}", f"b/{self.file}"
            )
        )


@dataclass(frozen=True)
class ImageChange:
    """A container image that differs between two renders of one service in one environment."""

    env: str
    service: str
    container: str
    old: str | None  # None: the Deployment or the container is new
    new: str | None  # None: gone
    several: bool = False  # the Deployment has other containers: name this one
    where: str = ""  # the file and line the new image was written at, when known

    def __str__(self) -> str:
        old, new = short_images(self.old, self.new)
        what = f"container {self.container} image" if self.several else "image"
        text = f"{self.service}/{self.env}: {what} {old} -> {new}"
        return f"{text} ({self.where})" if self.where else text


def short_images(old: str | None, new: str | None) -> tuple[str, str]:
    """Both images as the pull request says them (`canary_plan.short_image`), `none` for no image."""
    if old is None or new is None:
        return old or "none", new or "none"
    return short_image(old, new)


def _deployment_images(manifests: Iterable[Manifest]) -> dict[tuple[str, str], dict[str, str]]:
    found: dict[tuple[str, str], dict[str, str]] = {}
    for manifest in manifests:
        if manifest.kind != "Deployment" or manifest.service is None:
            continue
        pod: Any = manifest.obj.get("spec", {}).get("template", {}).get("spec", {})
        images = found.setdefault((manifest.env, manifest.service), {})
        for container in pod.get("containers") or ():
            images[str(container.get("name"))] = str(container.get("image"))
    return found


def image_changes(old_manifests: Iterable[Manifest], new_manifests: Iterable[Manifest]) -> list[ImageChange]:
    """The container images of the rendered Deployments that differ, per environment, service and
    container, sorted so."""
    old, new = _deployment_images(old_manifests), _deployment_images(new_manifests)
    changes = []
    for env, service in sorted(old.keys() | new.keys()):
        before, after = old.get((env, service), {}), new.get((env, service), {})
        several = len(after or before) > 1
        for container in sorted(before.keys() | after.keys()):
            if before.get(container) != after.get(container):
                changes.append(
                    ImageChange(env, service, container, before.get(container), after.get(container), several)
                )
    return changes


# ---- planning -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    config_dir: Path
    service: str
    spec: SourceFile
    spec_file: str
    envs: Mapping[str, SourceFile]  # the environments named, loaded


def _image_path(service: str, container: str, env: str | None) -> tuple[str, ...]:
    inner = ("workload", "containers", container, "image")
    return inner if env is None else ("services", service, *inner)


def _load(config_dir: Path, service: str, envs: Sequence[str]) -> _Config:
    """The service's spec and the named environments, every unknown name and bad file said at once."""
    problems: list[Problem] = []
    files: dict[str, Path] = {}
    try:
        files = spec_files(config_dir)
        select(files, [service], "service", lambda n: f"{SERVICES_DIR}/{n}.yaml")
    except InputError as exc:
        problems.extend(exc.problems)
    names: list[str] = []
    try:
        names = select(
            environment_names(config_dir), envs, "environment", lambda n: f"{ENVIRONMENTS_DIR}/{n}.yaml"
        )
    except InputError as exc:
        problems.extend(exc.problems)
    raise_if_any(problems)
    spec: SourceFile | None = None
    try:
        spec = load_service(files[service])
    except InputError as exc:
        problems.extend(exc.problems)
    loaded = {}
    for name in names:
        try:
            loaded[name] = load_environment(config_dir, name)
        except InputError as exc:
            problems.extend(exc.problems)
    raise_if_any(problems)
    assert spec is not None
    return _Config(config_dir, service, spec, f"{SERVICES_DIR}/{files[service].name}", loaded)


def _nearest(source: SourceFile, path: tuple[str, ...]) -> tuple[int, int]:
    """Where the deepest part of `path` that the file holds is (1, 1: none of it)."""
    for depth in range(len(path), 0, -1):
        found = position(source.node, path[:depth])
        if found is not None:
            return found
    return 1, 1


def _containers(data: Mapping[str, Any]) -> dict[str, Any]:
    workload = data.get("workload")
    containers = workload.get("containers") if isinstance(workload, Mapping) else None
    return dict(containers) if isinstance(containers, Mapping) else {}


def _merged_containers(config: _Config, env: str | None) -> dict[str, Any]:
    if env is None:
        return _containers(config.spec.data)
    return _containers(merge_layers(service_layers(config.envs[env], config.spec, config.service)).data)


def _container_problem(
    config: _Config, env: str | None, containers: Mapping[str, Any], wanted: str | None
) -> Problem | None:
    where = config.spec.locate(("workload", "containers") if "workload" in config.spec.data else ())
    scope = f" in {env}" if env else ""
    if not containers:
        return Problem(
            Location(where.path, where.line, where.column, "workload.containers"),
            f"{config.service} has no containers{scope}",
            "add a workload section with containers.<name>.image to the spec",
        )
    known = ", ".join(sorted(containers))
    if wanted is None and len(containers) > 1:
        return Problem(
            where, f"{config.service} has several containers{scope} ({known})", "say which: --container"
        )
    if wanted is not None and wanted not in containers:
        close = difflib.get_close_matches(wanted, containers, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"containers: {known}"
        return Problem(where, f"{config.service} has no container '{wanted}'{scope}", hint)
    return None


def _edit(
    config: _Config, env: str | None, container: str, image: str, texts: dict[str, str]
) -> Edit | Problem:
    file = config.spec_file if env is None else f"{ENVIRONMENTS_DIR}/{env}.yaml"
    path = config.config_dir / file
    if path.is_symlink():
        return Problem(Location(file), "is a symbolic link: release edits files in place", "edit its target")
    old = texts.get(file)
    if old is None:
        old = texts[file] = path.read_bytes().decode("utf-8")  # as it is: "\r\n" stays
    try:
        edited = set_scalar(old, _image_path(config.service, container, env), image, file)
    except EditError as exc:
        return exc.problem
    texts[file] = edited.text
    return Edit(file, old, edited.text, env, container, image, edited.line, edited.column)


def _combine(edits: Sequence[Edit]) -> list[Edit]:
    """One edit per file (several containers of one file: the last text holds them all), unchanged
    files left out."""
    by_file: dict[str, Edit] = {}
    for edit in edits:
        first = by_file.get(edit.file)
        by_file[edit.file] = edit if first is None else Edit(
            edit.file, first.old, edit.new, edit.env, edit.container, edit.image, edit.line, edit.column
        )  # fmt: skip
    return [edit for edit in by_file.values() if edit.new != edit.old]


def plan_release(
    config_dir: Path, service: str, image: str, container: str | None = None, envs: Sequence[str] = ()
) -> list[Edit]:
    """The edits setting `service`'s image: in the spec without `envs`, else in each environment's
    `services.<service>` override. The container defaults to the only one (of the merged spec in each
    environment). Raises InputError (exit 2) with every problem located; reads only."""
    problems = []
    reason = image_problem(image)
    try:
        config = _load(config_dir, service, envs)
    except InputError as exc:
        if reason:
            problems.append(Problem(Location("IMAGE"), reason, "the image given to release"))
        raise InputError([*exc.problems, *problems]) from None
    targets: list[str | None] = [*sorted(set(envs))] if envs else [None]
    chosen: dict[str | None, str] = {}
    for env in targets:
        containers = _merged_containers(config, env)
        problem = _container_problem(config, env, containers, container)
        if problem is not None:
            problems.append(problem)
        else:
            chosen[env] = container or next(iter(containers))
    if reason:
        env = targets[0]
        file = config.spec_file if env is None else f"{ENVIRONMENTS_DIR}/{env}.yaml"
        source = config.spec if env is None else config.envs[env]
        line, column = _nearest(source, _image_path(service, chosen.get(env) or container or "", env))
        problems.append(Problem(Location(file, line, column, "IMAGE"), reason))
    raise_if_any(problems)
    texts: dict[str, str] = {}
    edits = []
    for env, name in chosen.items():
        made = _edit(config, env, name, image, texts)
        if isinstance(made, Problem):
            problems.append(made)
        else:
            edits.append(made)
    raise_if_any(problems)
    return _combine(edits)


def released_images(config: _Config, env: str) -> dict[str, str]:
    """The images of `env`'s own override of the service: what was released to it."""
    override = (config.envs[env].data.get("services") or {}).get(config.service)
    containers = _containers(override) if isinstance(override, Mapping) else {}
    return {
        name: fields["image"]
        for name, fields in containers.items()
        if isinstance(fields, Mapping) and isinstance(fields.get("image"), str)
    }


def plan_promote(config_dir: Path, service: str, source: str, target: str) -> list[Edit]:
    """The edits copying the images released to `source` (its own `services.<service>.workload.containers
    .*.image`) into `target`'s override. Raises InputError (exit 2) when `source` has none (its images
    come from the spec), for the same environment twice, or a container `target` lacks; reads only."""
    if source == target:
        raise InputError(
            [
                Problem(
                    Location(f"{ENVIRONMENTS_DIR}/{target}.yaml"), "--from and --to name the same environment"
                )
            ]
        )
    config = _load(config_dir, service, [source, target])
    images = released_images(config, source)
    if not images:
        line, column = _nearest(config.envs[source], ("services", service, "workload", "containers"))
        field = format_field(["services", service, "workload", "containers"])
        raise InputError(
            [
                Problem(
                    Location(f"{ENVIRONMENTS_DIR}/{source}.yaml", line, column, field),
                    f"{service} has no release of its own in {source}: its image comes from the spec",
                    f"release one there first: gitops-gen release {service} IMAGE --env {source}",
                )
            ]
        )
    containers = _merged_containers(config, target)
    problems = [
        problem
        for name in sorted(images)
        if (problem := _container_problem(config, target, containers, name)) is not None
    ]
    raise_if_any(problems)
    texts: dict[str, str] = {}
    edits = []
    for name in sorted(images):
        made = _edit(config, target, name, images[name], texts)
        if isinstance(made, Problem):
            problems.append(made)
        else:
            edits.append(made)
    raise_if_any(problems)
    return _combine(edits)


# ---- checking and writing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """The render of the config as the edits leave it, and the images it changes."""

    rendered: Rendered
    changes: tuple[ImageChange, ...]


def _where_of(edits: Sequence[Edit], service: str) -> dict[tuple[str | None, str], str]:
    return {(edit.env, edit.container): edit.where for edit in edits}


def check_edits(config_dir: Path, service: str, edits: Sequence[Edit]) -> Checked:
    """Render every environment from a temporary copy of the config with the edits applied (InputError
    when the edited config does not render); the config folder is only read.

    Both renders use the config's render cache: its entries are keyed by the bytes of a service's spec
    and environment file (and the tool), not by the folder, so the copy's unchanged services are hits and
    what the copy renders anew is what the render after the edit would."""
    from .cache import RenderCache, default_folder

    cache = RenderCache(default_folder(config_dir))
    before = render_environments(config_dir, (), [service], cache=cache).selected
    with tempfile.TemporaryDirectory(prefix="gitops-gen-release-") as scratch:
        copy = Path(scratch) / "config"
        for folder in (SERVICES_DIR, ENVIRONMENTS_DIR):
            if (config_dir / folder).is_dir():
                shutil.copytree(config_dir / folder, copy / folder, symlinks=True)
        for edit in edits:
            (copy / edit.file).write_text(edit.new, encoding="utf-8")
        rendered = render_environments(copy, cache=cache)
    where = _where_of(edits, service)
    changes = []
    for change in image_changes(before, (m for m in rendered.manifests if m.service == service)):
        found = where.get((change.env, change.container)) or where.get((None, change.container), "")
        changes.append(
            ImageChange(
                change.env, change.service, change.container, change.old, change.new, change.several, found
            )
        )
    return Checked(rendered, tuple(changes))


@dataclass(frozen=True)
class Released:
    """What a release or promotion did: the render's findings (text), the images changed, the tree."""

    changes: tuple[ImageChange, ...]
    findings: str
    manifests: int
    report: WriteReport


def finish(
    config_dir: Path, service: str, edits: Sequence[Edit], out_dir: Path, validator: str | None, strict: bool
) -> Released:
    """Render the edited config (check_edits), validate it as `render` does (`validator` None: not), plan
    the tree; only then replace the edited files (write_edits) and write the tree. Raises InputError
    (exit 2) for a config that does not render once edited or a file in the tree that is not ours,
    Findings (1) for an invalid render: with either, no file has been written."""
    from .checks import check_render, validator_for
    from .report import format_findings, summary

    checked = check_edits(config_dir, service, edits)
    findings = ""
    if validator is not None:
        result = check_render(checked.rendered, validator_for(validator), str(out_dir))
        findings = format_findings(result.findings, "text", result.checked)
        if result.failed(strict):
            raise Findings(
                f"nothing written: {summary(result.findings, result.checked)}\n{findings.rstrip()}"
            )
    plan = plan_tree(out_dir, checked.rendered.selected, Scope())
    write_edits(config_dir, edits)
    return Released(checked.changes, findings, len(plan.manifests), apply_plan(plan))


def write_edits(config_dir: Path, edits: Sequence[Edit]) -> None:
    """Each edited file replaced whole (temp file in its folder, fsync, os.replace), its mode kept."""
    for edit in edits:
        path = config_dir / edit.file
        mode = path.stat().st_mode & 0o7777
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(edit.new)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
