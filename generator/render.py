"""Render the resolved model into manifests: one jinja2 template per kind, each output parsed back and
checked to be exactly the one object it should be before anything is written.

Output layout (relative to --out), one object per file:
  <env>/argocd/root.yaml                               app-of-apps; apply once by hand
  <env>/argocd/apps/<app>.yaml                         one Application per service, plus tsb and gateways
  <env>/tsb/<kind>-<name>.yaml                         Tenant, Workspace, traffic/security/gateway Groups
  <env>/gateways/<namespace>/<gateway>/<kind>.yaml     Gateway, IngressGateway
  <env>/services/<namespace>/<service>/<kind>.yaml     Rollout, AnalysisTemplate, DestinationRule,
                                                       VirtualService, ingress-virtualservice
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from .errors import Findings, GeneratorError, InputError, Location, Problem, ToolError, raise_if_any
from .model import (
    ROLLOUTS_ANNOTATION_MANAGED_BY,
    Environment,
    Gateway,
    Service,
    resolve_environment,
    resolve_service,
    unknown_overrides,
)
from .resources import data_dir
from .skywalking import SERVICE_NAME_ARG, query, success_condition
from .spec import ENVIRONMENTS_DIR, SERVICES_DIR, environment_names, load_environment, load_services, select
from .yamlio import dump_manifest, parse_documents

DIRECT_MODE_LABELS = {"istio.io/rev": "tsb"}
SYNC_OPTIONS = ("ApplyOutOfSyncOnly=true", "RespectIgnoreDifferences=true")
MANAGED_BY = {"app.kubernetes.io/managed-by": "gitops-gen"}


@dataclass(frozen=True)
class Manifest:
    """One rendered object: where it goes, the object itself, and its exact file content."""

    path: str  # relative to the output root, '/'-separated
    obj: Mapping[str, Any]
    text: str
    env: str
    service: str | None = None  # None for environment-level objects
    source: str = ""  # the spec or environment file it came from
    gitops_path: str = ""  # the environment's folder in the GitOps repo: the file is at gitops_path/path

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        namespace = self.obj["metadata"].get("namespace")
        return str(namespace) if namespace is not None else None


# ---- templates ----------------------------------------------------------------------------------------


@cache
def _templates() -> jinja2.Environment:
    """Compiled once per process; jinja2 caches each compiled template inside the environment."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=False,
    )


@dataclass(frozen=True)
class Origin:
    """Which environment and service a manifest belongs to, and the file it came from."""

    env: str
    service: str | None
    source: str
    gitops_path: str = ""


def _render(
    template: str, expected: tuple[str, str, str], path: str, origin: Origin, **context: Any
) -> Manifest:
    try:
        text = _templates().get_template(template).render(**context)
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f"templates/{template}" + (f":{line}" if line else "")
        raise ToolError(f"{where}: template error: {exc}") from None
    obj = _parse_one(text, template, expected)
    text = dump_manifest(obj)
    return Manifest(path, obj, text, origin.env, origin.service, origin.source, origin.gitops_path)


def _parse_one(text: str, template: str, expected: tuple[str, str, str]) -> dict[str, Any]:
    """The rendered text must be exactly one object of the expected apiVersion, kind and name."""
    api_version, kind, name = expected
    try:
        documents = parse_documents(text)
    except Exception as exc:  # any YAML error here is a template bug, never a user's
        raise Findings(f"templates/{template}: rendered {kind} {name!r} is not valid YAML: {exc}") from None
    if (
        len(documents) != 1
        or not isinstance(documents[0], dict)
        or documents[0].get("apiVersion") != api_version
        or documents[0].get("kind") != kind
        or not isinstance(documents[0].get("metadata"), dict)
        or documents[0]["metadata"].get("name") != name
    ):
        raise Findings(f"templates/{template}: rendered output is not exactly one {kind} named {name!r}")
    return documents[0]


# ---- per service --------------------------------------------------------------------------------------


@dataclass
class _AppSpec:
    """Values of one Argo CD Application, as the template wants them."""

    name: str
    namespace: str
    project: str
    repo_url: str
    target_revision: str
    path: str
    server: str
    destination_namespace: str | None
    automated: bool
    prune: bool
    self_heal: bool
    sync_options: list[str] = field(default_factory=lambda: list(SYNC_OPTIONS))
    ignore_differences: list[dict[str, Any]] = field(default_factory=list)
    recurse: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


def service_dir(service: Service) -> str:
    return f"{service.env}/services/{service.namespace}/{service.name}"


def render_service(service: Service, env: Environment) -> list[Manifest]:
    folder = service_dir(service)
    origin = Origin(env.name, service.name, service.source, env.path)
    context: dict[str, Any] = {
        "service": service,
        "canary": service.canary,
        "direct_mode_labels": DIRECT_MODE_LABELS,
        "service_name_arg": SERVICE_NAME_ARG,
        "ingress": None,
    }
    manifests = []
    canary = service.canary
    if canary is not None:
        analysis = canary.analysis
        steps = [step.to_argo() for step in canary.steps]
        manifests.append(
            _render(
                "rollout.yaml.j2",
                ("argoproj.io/v1alpha1", "Rollout", canary.rollout_name),
                f"{folder}/rollout.yaml",
                origin,
                **context,
                analysis=analysis,
                steps=steps,
                skywalking_service_name=service.skywalking_service_name(),
            )
        )
        if analysis is not None:
            metrics = [
                {
                    "name": check.name,
                    "query": query(check, analysis.style),
                    "condition": success_condition(check, analysis.style, analysis.min_points),
                }
                for check in analysis.checks
            ]
            manifests.append(
                _render(
                    "analysistemplate.yaml.j2",
                    ("argoproj.io/v1alpha1", "AnalysisTemplate", analysis.template_name),
                    f"{folder}/analysistemplate.yaml",
                    origin,
                    **context,
                    analysis=analysis,
                    metrics=metrics,
                )
            )
        subsets = [
            {"name": subset, "labels": {**service.selector, canary.version_label: subset}}
            for subset in (canary.stable_subset, canary.canary_subset)
        ]
    else:
        subsets = [{"name": s.name, "labels": dict(s.labels)} for s in service.subsets]
    manifests.append(
        _render(
            "destinationrule.yaml.j2",
            ("networking.istio.io/v1alpha3", "DestinationRule", service.name),
            f"{folder}/destinationrule.yaml",
            origin,
            **context,
            subsets=subsets,
        )
    )
    if service.own_virtual_service:
        manifests.append(
            _render(
                "virtualservice.yaml.j2",
                ("networking.istio.io/v1alpha3", "VirtualService", service.name),
                f"{folder}/virtualservice.yaml",
                origin,
                **context,
            )
        )
    if service.ingress is not None:
        manifests.append(
            _render(
                "virtualservice.yaml.j2",
                ("networking.istio.io/v1alpha3", "VirtualService", service.ingress.virtual_service),
                f"{folder}/ingress-virtualservice.yaml",
                origin,
                **{**context, "ingress": service.ingress},
            )
        )
    manifests.append(_application(_service_app(service, env), env, service.name, service.source))
    return manifests


def ignore_differences(service: Service) -> list[dict[str, Any]]:
    """Exactly what Argo Rollouts mutates at run time, so Argo CD self-heal never reverts a rollout:
    the VirtualService route weights, and the DestinationRule subset label and managed-by annotation."""
    if service.canary is None:
        return []
    pointer = "/metadata/annotations/" + ROLLOUTS_ANNOTATION_MANAGED_BY.replace("~", "~0").replace("/", "~1")
    return [
        {
            "group": "networking.istio.io",
            "kind": "VirtualService",
            "name": service.name,
            "namespace": service.namespace,
            "jqPathExpressions": [".spec.http[].route[].weight"],
        },
        {
            "group": "networking.istio.io",
            "kind": "DestinationRule",
            "name": service.name,
            "namespace": service.namespace,
            "jqPathExpressions": ['.spec.subsets[].labels["rollouts-pod-template-hash"]'],
            "jsonPointers": [pointer],
        },
    ]


def _service_app(service: Service, env: Environment) -> _AppSpec:
    argo = service.argocd
    return _AppSpec(
        name=f"{env.name}-{service.name}",
        namespace=env.argocd_namespace,
        project=argo.project,
        repo_url=argo.repo_url,
        target_revision=argo.target_revision,
        path=posixpath.join(env.path, service_dir(service)),
        server=argo.server,
        destination_namespace=service.namespace,
        automated=argo.automated,
        prune=argo.prune,
        self_heal=argo.self_heal,
        ignore_differences=ignore_differences(service),
        labels={**MANAGED_BY, "gitops-gen/environment": env.name},
    )


def _application(app: _AppSpec, env: Environment, service: str | None, source: str) -> Manifest:
    path = (
        f"{env.name}/argocd/root.yaml"
        if app.name == f"{env.name}-root"
        else f"{env.name}/argocd/apps/{app.name}.yaml"
    )
    return _render(
        "application.yaml.j2",
        ("argoproj.io/v1alpha1", "Application", app.name),
        path,
        Origin(env.name, service, source, env.path),
        app=app,
    )


# ---- per environment ----------------------------------------------------------------------------------


@dataclass
class _Scope:
    """A tenancy object and the `cluster/namespace` names it selects."""

    name: str
    annotations: dict[str, str]
    namespaces: set[str] = field(default_factory=set)


def render_tenancy(env: Environment, services: Sequence[Service]) -> list[Manifest]:
    """Tenant, Workspace and DIRECT-mode Groups for everything the environment's services and gateways use."""
    tenants: dict[str, _Scope] = {}
    workspaces: dict[str, _Scope] = {}
    groups: dict[tuple[str, str], _Scope] = {}

    def add(tenancy: Any, namespace: str, group_kinds: Iterable[tuple[str, str | None]]) -> None:
        org = {"tsb.tetrate.io/organization": tenancy.organization}
        tenants.setdefault(tenancy.tenant, _Scope(tenancy.tenant, org))
        workspace = workspaces.setdefault(
            tenancy.workspace, _Scope(tenancy.workspace, {**org, "tsb.tetrate.io/tenant": tenancy.tenant})
        )
        workspace.namespaces.add(namespace)
        for kind, name in group_kinds:
            if name:
                annotations = {**workspace.annotations, "tsb.tetrate.io/workspace": tenancy.workspace}
                groups.setdefault((kind, name), _Scope(name, annotations)).namespaces.add(namespace)

    for service in services:
        t = service.tenancy
        kinds = [("traffic", t.traffic_group), ("security", t.security_group)]
        if service.ingress is not None:
            kinds.append(("gateway", t.gateway_group))
        add(t, service.namespace, kinds)
    for gateway in env.gateways:
        t = gateway.tenancy
        add(t, gateway.namespace, [("gateway", t.gateway_group), ("security", t.security_group)])

    namespace = _tenancy_namespace(env, workspaces)
    folder = f"{env.name}/tsb"
    origin = Origin(env.name, None, env.source, env.path)
    manifests = []
    for name, scope in sorted(tenants.items()):
        tenant = {
            "name": name,
            "namespace": namespace,
            "annotations": scope.annotations,
            "display_name": name,
        }
        manifests.append(
            _render(
                "tenant.yaml.j2",
                ("tsb.tetrate.io/v2", "Tenant", name),
                f"{folder}/tenant-{name}.yaml",
                origin,
                tenant=tenant,
            )
        )
    for name, scope in sorted(workspaces.items()):
        workspace = {
            "name": name,
            "namespace": namespace,
            "annotations": scope.annotations,
            "selector": _selector(env, scope),
        }
        manifests.append(
            _render(
                "workspace.yaml.j2",
                ("tsb.tetrate.io/v2", "Workspace", name),
                f"{folder}/workspace-{name}.yaml",
                origin,
                workspace=workspace,
            )
        )
    for (kind, name), scope in sorted(groups.items()):
        group = {
            "api_version": f"{kind}.tsb.tetrate.io/v2",
            "name": name,
            "namespace": namespace,
            "annotations": scope.annotations,
            "display_name": f"{name}-group",  # the tsb-gitops-demo's convention
            "selector": _selector(env, scope),
        }
        manifests.append(
            _render(
                "group.yaml.j2",
                (f"{kind}.tsb.tetrate.io/v2", "Group", name),
                f"{folder}/{kind}group-{name}.yaml",
                origin,
                group=group,
            )
        )
    return manifests


def _selector(env: Environment, scope: _Scope) -> list[str]:
    return [f"{env.cluster}/{namespace}" for namespace in sorted(scope.namespaces)]


def _tenancy_namespace(env: Environment, workspaces: Mapping[str, _Scope]) -> str:
    if env.tenancy_namespace:
        return env.tenancy_namespace
    namespaces = {ns for scope in workspaces.values() for ns in scope.namespaces}
    if len(namespaces) == 1:
        return next(iter(namespaces))
    raise InputError(
        [
            Problem(
                Location(env.source, 1, 1, "tsb.tenancyNamespace"),
                f"the workspaces span namespaces {', '.join(sorted(namespaces)) or '(none)'}",
                "set tsb.tenancyNamespace: the namespace the TSB Tenant/Workspace/Groups go in",
            )
        ]
    )


def render_gateway(gateway: Gateway, env: Environment) -> list[Manifest]:
    folder = f"{env.name}/gateways/{gateway.namespace}/{gateway.name}"
    origin = Origin(env.name, None, env.source, env.path)
    return [
        _render(
            "gateway.yaml.j2",
            ("networking.istio.io/v1alpha3", "Gateway", gateway.name),
            f"{folder}/gateway.yaml",
            origin,
            gateway=gateway,
            direct_mode_labels=DIRECT_MODE_LABELS,
        ),
        _render(
            "ingressgateway.yaml.j2",
            ("install.tetrate.io/v1alpha1", "IngressGateway", gateway.ingress_gateway),
            f"{folder}/ingressgateway.yaml",
            origin,
            gateway=gateway,
        ),
    ]


def render_environment_apps(
    env: Environment, has_gateways: bool, tenancy_namespace: str | None
) -> list[Manifest]:
    """The root app-of-apps, and the Applications for the TSB tenancy objects and the gateways.

    Sync waves put tenancy first: TSB rejects direct-mode objects whose Group does not exist yet.
    """
    argo = env.argocd
    root = _AppSpec(
        name=f"{env.name}-root",
        namespace=env.argocd_namespace,
        project=argo.project,
        repo_url=argo.repo_url,
        target_revision=argo.target_revision,
        path=posixpath.join(env.path, env.name, "argocd", "apps"),
        server=argo.server,
        destination_namespace=env.argocd_namespace,
        automated=argo.automated,
        prune=argo.prune,
        self_heal=argo.self_heal,
        labels={**MANAGED_BY, "gitops-gen/environment": env.name},
    )
    apps = [root]
    if tenancy_namespace is not None:
        apps.append(
            replace(
                root,
                name=f"{env.name}-tsb",
                path=posixpath.join(env.path, env.name, "tsb"),
                destination_namespace=tenancy_namespace,
                annotations={"argocd.argoproj.io/sync-wave": "-2"},
            )
        )
    if has_gateways:
        apps.append(
            replace(
                root,
                name=f"{env.name}-gateways",
                path=posixpath.join(env.path, env.name, "gateways"),
                destination_namespace=None,
                recurse=True,
                annotations={"argocd.argoproj.io/sync-wave": "-1"},
            )
        )
    return [_application(app, env, None, env.source) for app in apps]


# ---- everything ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A render of whole environments, and the part of it a `--service` selection asked for.

    Environments are always rendered whole: the tenancy objects depend on every service, and validating
    a selected service needs the Tenant, Groups and Applications it refers to.
    """

    manifests: tuple[Manifest, ...]  # every object of the selected environments, sorted by path
    services: tuple[str, ...] = ()  # the selection; empty: everything

    @property
    def selected(self) -> list[Manifest]:
        """What the selection covers: with services, only their objects (no environment-level ones)."""
        if not self.services:
            return list(self.manifests)
        return [m for m in self.manifests if m.service in self.services]


def render_all(config_dir: Path, envs: Iterable[str] = (), services: Iterable[str] = ()) -> list[Manifest]:
    """Load, check and render the selected environments and services; sorted by path.

    With `services` given, only those services' objects are returned (no environment-level objects).
    """
    return render_environments(config_dir, envs, services).selected


def render_environments(config_dir: Path, envs: Iterable[str] = (), services: Iterable[str] = ()) -> Rendered:
    """Load, check and render the selected environments whole; `services` only selects what is asked for
    (an unknown name is an error)."""
    envs, services = tuple(envs), tuple(services)
    specs = load_services(config_dir)
    problems: list[Problem] = []
    env_names: list[str] = []
    chosen: list[str] = []
    try:
        env_names = select(
            environment_names(config_dir), envs, "environment", lambda n: f"{ENVIRONMENTS_DIR}/{n}.yaml"
        )
    except InputError as exc:
        problems.extend(exc.problems)
    try:
        chosen = select(specs, services, "service", lambda n: f"{SERVICES_DIR}/{n}.yaml")
    except InputError as exc:
        problems.extend(exc.problems)
    raise_if_any(problems)
    if not env_names:
        raise InputError(
            [
                Problem(
                    Location(f"{ENVIRONMENTS_DIR}/"),
                    "no environment files",
                    f"add {ENVIRONMENTS_DIR}/<env>.yaml",
                )
            ]
        )
    manifests: list[Manifest] = []
    for env_name in env_names:
        try:
            manifests.extend(_render_environment(env_name, config_dir, specs))
        except InputError as exc:
            problems.extend(exc.problems)
    raise_if_any(problems)
    _check_unique(manifests)
    selection = tuple(chosen) if services else ()
    return Rendered(tuple(sorted(manifests, key=lambda m: m.path)), selection)


def _render_environment(env_name: str, config_dir: Path, specs: Mapping[str, Any]) -> list[Manifest]:
    env_source = load_environment(config_dir, env_name)
    raise_if_any(unknown_overrides(env_source, specs))
    env = resolve_environment(env_name, env_source)
    resolved: list[Service] = []
    problems: list[Problem] = []
    for name in sorted(specs):
        try:
            resolved.append(resolve_service(env, env_source, specs[name]))
        except GeneratorError as exc:
            problems.extend(exc.problems)
    raise_if_any(problems)
    manifests = [m for s in resolved for m in render_service(s, env)]
    tenancy = render_tenancy(env, resolved)
    tenancy_namespace = tenancy[0].namespace if tenancy else None
    manifests += tenancy
    for gateway in env.gateways:
        manifests += render_gateway(gateway, env)
    manifests += render_environment_apps(env, bool(env.gateways), tenancy_namespace)
    return manifests


_RENAME_HINTS = {
    "AnalysisTemplate": "give one of them another analysis.templateName",
    "Rollout": "give one of them another canary.rolloutName",
    "VirtualService": "give one of them another ingress.virtualService, or another service name",
}


def _check_unique(manifests: Sequence[Manifest]) -> None:
    """Two services must not render the same object (say two AnalysisTemplates `apdex` in one namespace)."""
    seen: dict[tuple[str, str, str, str | None, str], Manifest] = {}
    problems = []
    for manifest in manifests:
        group = str(manifest.obj["apiVersion"]).split("/")[0]
        key = (manifest.env, group, manifest.kind, manifest.namespace, manifest.name)
        first = seen.setdefault(key, manifest)
        if first is not manifest:
            problems.append(
                Problem(
                    Location(manifest.source or manifest.path, 1, 1),
                    f"{manifest.kind} '{manifest.name}' in environment '{manifest.env}' "
                    f"is also rendered from {first.source}",
                    _RENAME_HINTS.get(manifest.kind, "give one of them another name"),
                )
            )
    raise_if_any(problems)
