"""What a set of changed files affects: the part of the config a pre-commit hook has to check.

pre-commit passes the hook the files of the commit (`pass_filenames`). The inputs of a render are the
service specs and the environment files (the tool's own templates and schemas come with the tool), and
what a render wrote lives in the output tree:

- `services/<name>.yaml`: that service, in every environment, and the environments' own objects (its
  namespace and tenancy are in their Namespaces, Workspace and Groups); so does a file of its adopted
  workload, `services/<name>/*.yaml`;
- `environments/<env>.yaml`: that environment, every service in it;
- a file in the output tree: the service it belongs to, or (for an environment's own objects, or the
  index) its environment;
- anything else (a README, CI files): nothing.

A removed spec is not passed by pre-commit; `render --check` with no files (CI, `make`) checks everything.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .spec import ENVIRONMENTS_DIR, SERVICES_DIR
from .tree import path_owner


@dataclass(frozen=True)
class Selection:
    """`--env` and `--service` of one render: empty means all."""

    envs: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    with_environments: bool = False  # with services: their environments' own objects too


def affected(config_dir: Path, out_dir: Path, files: Iterable[Path]) -> list[Selection]:
    """The renders that check everything the files affect (none when they affect nothing)."""
    services: set[str] = set()
    envs: set[str] = set()
    config, out = config_dir.resolve(), out_dir.resolve()
    for file in files:
        path = file.resolve()
        if path.is_relative_to(out):
            relative = path.relative_to(out).as_posix()
            if "/" not in relative:  # the index: every environment
                return [Selection()]
            env, service = path_owner(relative)
            (services.add(service) if service else envs.add(env))
        elif path.is_relative_to(config) and path.suffix in (".yaml", ".yml"):
            parts = path.relative_to(config).parts
            if len(parts) == 2 and parts[0] == SERVICES_DIR:
                services.add(path.stem)
            elif len(parts) == 3 and parts[0] == SERVICES_DIR:  # its adopted manifests (workload.manifests)
                services.add(parts[1])
            elif len(parts) == 2 and parts[0] == ENVIRONMENTS_DIR:
                envs.add(path.stem)
    known_services = {p.stem for p in (config / SERVICES_DIR).glob("*.y*ml")}
    known_envs = {p.stem for p in (config / ENVIRONMENTS_DIR).glob("*.y*ml")}
    if not services <= known_services or not envs <= known_envs:
        return [Selection()]  # a file of something removed: only a whole render says what to prune
    selections = []
    if envs:
        selections.append(Selection(envs=tuple(sorted(envs))))
    if services:  # a service's namespace or tenancy shapes its environments' own objects
        selections.append(Selection(services=tuple(sorted(services)), with_environments=True))
    return selections
