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

import functools
import json
import marshal
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import RenderCache, combined_key, decode_value, encode_value, entry_key, tool_fingerprint
from .errors import Findings, GeneratorError, InputError, Location, Problem, ToolError, raise_if_any
from .model import (
    ROLLOUTS_ANNOTATION_MANAGED_BY,
    SCALING_DOWN,
    ArgoApp,
    Environment,
    Gateway,
    Retry,
    Service,
    Versions,
    Workload,
    resolve_environment,
    resolve_service,
    unknown_overrides,
)
from .model import Tenancy as TenancyNames
from .pool import can_fork, cores
from .resources import data_dir
from .skywalking import SERVICE_NAME_ARG, query, success_condition
from .spec import (
    ENVIRONMENTS_DIR,
    SERVICES_DIR,
    SourceFile,
    environment_names,
    load_environment,
    load_service,
    select,
    spec_files,
    workload_files,
)
from .yamlio import MAX_INPUT_BYTES, dump_manifest, parse_documents

if TYPE_CHECKING:  # jinja2 is imported when something is rendered: a warm cache renders nothing (~40 ms)
    import jinja2

DIRECT_MODE_LABELS = {"istio.io/rev": "tsb"}
# Only what is out of sync is applied: a VirtualService whose only difference is the weights Argo Rollouts
# set (ignored, see `ignore_differences`) is left alone when another object of the Application syncs.
SYNC_OPTIONS = ("ApplyOutOfSyncOnly=true",)
RESPECT_IGNORE_DIFFERENCES = "RespectIgnoreDifferences=true"
# Deleting an Application with this finalizer deletes the resources it deployed (Argo CD's
# "foreground" cascade, docs/operator-manual/declarative-setup.md): a service removed from the config
# takes its Rollout and mesh objects with it instead of leaving them running unmanaged.
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
# Argo CD neither prunes nor, when its Application is deleted, deletes an object with this annotation
# (user-guide/sync-options.md, "No Prune Resources" and "No Resource Deletion"): a namespace outlives the
# last service gitops-gen renders into it, and keeps whatever else runs there.
KEEP_NAMESPACE = {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}
MANAGED_BY = {"app.kubernetes.io/managed-by": "gitops-gen"}


@dataclass(frozen=True, slots=True)  # slots: a fleet holds 15,000 of each of these
class Manifest:
    """One rendered object: where it goes, the object itself, and its exact file content."""

    path: str  # relative to the output root, '/'-separated
    obj: Mapping[str, Any]
    text: str
    env: str
    service: str | None = None  # None for environment-level objects
    source: str = ""  # the spec or environment file it came from
    gitops_path: str = ""  # the environment's folder in the GitOps repo: the file is at gitops_path/path
    acknowledged: tuple[tuple[str, str], ...] = ()  # warnings accepted on this object: (rule ID, reason)

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


@functools.cache
def _templates() -> jinja2.Environment:
    """Compiled once per process; jinja2 caches each compiled template inside the environment.

    Sandboxed, though no value ever becomes template source (every one enters through `tojson`): should a
    template one day evaluate one, it reaches no `_` attribute, no function or frame internals and no
    unsafe callable (SecurityError). Immutable rather than plain sandboxed: the templates only read, and
    what they read is the model itself, which later templates and the render cache read after them, so
    `.update()`, `.append()` and the like on a dict or list are refused too. Measured: a third more
    template time than jinja2.Environment (~50 us a manifest; SandboxedEnvironment ~10 us), a few per cent
    of a fleet render."""
    import jinja2
    import jinja2.sandbox

    environment = jinja2.sandbox.ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=False,
    )
    environment.filters["tojson"] = _tojson
    return environment


def _tojson(value: Any) -> str:
    """A value as the YAML flow scalar, sequence or mapping that reads back as exactly that value: JSON
    (which YAML reads as such), ASCII only, so no character of a value is a line break, a comment, an
    indicator or a tag to the YAML reader.

    jinja2's own `tojson` to the byte (sorted keys; `<`, `>`, `&` and `'` escaped, which YAML reads
    back), but for characters beyond U+FFFF: JSON writes one as a UTF-16 surrogate pair, `\\ud83d\\ude00`,
    which libyaml refuses ("invalid Unicode character escape code") and PyYAML's Python reader turns
    into two lone surrogates; YAML has its own 32-bit escape, `\\U0001f600`."""
    text = (
        json.dumps(value, sort_keys=True, default=_not_json)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
    )
    return _SURROGATE_PAIR.sub(_one_escape, text) if "\\ud" in text else text


def _not_json(value: Any) -> Any:
    """What json.dumps cannot encode. An Undefined (a missing attribute, or one the sandbox refused)
    raises its own error (UndefinedError, SecurityError) rather than "not JSON serializable": both are
    template errors, which `_render` reports with the template's name."""
    import jinja2

    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    raise jinja2.TemplateRuntimeError(f"tojson: a {type(value).__name__} is not a JSON value")


# An escaped backslash is matched as a whole, so that `\\ud83d` in the JSON (a backslash, then the text
# `ud83d`) is never read as an escape.
_SURROGATE_PAIR = re.compile(r"\\\\|\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def _one_escape(match: re.Match[str]) -> str:
    if match.group(1) is None:  # an escaped backslash
        return match.group(0)
    high, low = int(match.group(1), 16) - 0xD800, int(match.group(2), 16) - 0xDC00
    return f"\\U{0x10000 + (high << 10) + low:08x}"


@dataclass(frozen=True)
class Origin:
    """Which environment and service a manifest belongs to, and the file it came from."""

    env: str
    service: str | None
    source: str
    gitops_path: str = ""
    acknowledged: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of_environment(cls, env: Environment) -> Origin:
        return cls(env.name, None, env.source, env.path, tuple(sorted(env.acknowledged.items())))

    @classmethod
    def of_service(cls, service: Service, env: Environment) -> Origin:
        acknowledged = tuple(sorted(service.acknowledged.items()))
        return cls(env.name, service.name, service.source, env.path, acknowledged)


def _render(
    template: str, expected: tuple[str, str, str], path: str, origin: Origin, **context: Any
) -> Manifest:
    import jinja2

    try:
        text = _templates().get_template(template).render(**context)
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f"templates/{template}" + (f":{line}" if line else "")
        raise ToolError(f"{where}: template error: {exc}") from None
    obj = _parse_one(text, template, expected)
    text = dump_manifest(obj)
    return Manifest(
        path, obj, text, origin.env, origin.service, origin.source, origin.gitops_path, origin.acknowledged
    )


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
    retry: dict[str, Any]
    finalizers: list[str] = field(default_factory=list)
    sync_options: list[str] = field(default_factory=lambda: list(SYNC_OPTIONS))
    ignore_differences: list[dict[str, Any]] = field(default_factory=list)
    recurse: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


def _retry(argo: ArgoApp) -> dict[str, Any]:
    retry = argo.retry
    return {
        "limit": retry.limit,
        "backoff": {
            "duration": retry.backoff_duration,
            "factor": retry.backoff_factor,
            "maxDuration": retry.backoff_max,
        },
    }


def service_dir(service: Service) -> str:
    return f"{service.env}/services/{service.namespace}/{service.name}"


def _render_workload(
    service: Service, workload: Workload, folder: str, origin: Origin, context: dict[str, Any]
) -> list[Manifest]:
    """The Deployment, and the ServiceAccount and Kubernetes Service when the spec asks for them. The
    labels are the bookinfo sample's (istio/istio samples/bookinfo/platform/kube/bookinfo.yaml): `app` and
    `service` on the Service, `account` on the ServiceAccount. An adopted workload's objects are written
    as they are, one file each."""
    if workload.adopted:
        return [
            Manifest(
                f"{folder}/{obj['kind'].lower()}-{obj['metadata']['name']}.yaml",
                obj,
                dump_manifest(obj),
                origin.env,
                origin.service,
                origin.source,
                origin.gitops_path,
                origin.acknowledged,
            )
            for obj in workload.adopted
        ]
    manifests = [
        _render(
            "deployment.yaml.j2",
            ("apps/v1", "Deployment", workload.name),
            f"{folder}/deployment.yaml",
            origin,
            **context,
            workload=workload,
            pod_labels={**workload.labels, **workload.pod_labels},
        )
    ]
    if workload.service_account:
        manifests.append(
            _render(
                "serviceaccount.yaml.j2",
                ("v1", "ServiceAccount", workload.service_account),
                f"{folder}/serviceaccount.yaml",
                origin,
                **context,
                workload=workload,
            )
        )
    if workload.service_ports:
        manifests.append(
            _render(
                "service.yaml.j2",
                ("v1", "Service", workload.service_name),
                f"{folder}/service.yaml",
                origin,
                **context,
                workload=workload,
                service_labels={**service.selector, "service": workload.service_name},
            )
        )
    return manifests


def render_service(service: Service, env: Environment) -> list[Manifest]:
    folder = service_dir(service)
    origin = Origin.of_service(service, env)
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
                    "query": query(check, analysis.style, env.oap_version),
                    "condition": success_condition(
                        check, analysis.style, analysis.min_points, env.oap_version
                    ),
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
    workload = service.workload
    if workload is not None:
        manifests.extend(_render_workload(service, workload, folder, origin, context))
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
                gateway_ref=_gateway_ref(service, env),
            )
        )
    manifests.append(_application(_service_app(service, env), env, origin))
    return manifests


def _gateway_ref(service: Service, env: Environment) -> str:
    """How the ingress VirtualService names its Gateway: Istio reads a bare name as one in the
    VirtualService's own namespace, so a Gateway elsewhere is `<namespace>/<name>`."""
    assert service.ingress is not None
    name = service.ingress.gateway
    namespace = next((g.namespace for g in env.gateways if g.name == name), service.namespace)
    return name if namespace == service.namespace else f"{namespace}/{name}"


def ignore_differences(service: Service) -> list[dict[str, Any]]:
    """Exactly what Argo Rollouts mutates at run time, so Argo CD self-heal never reverts a rollout:
    the VirtualService route weights, the DestinationRule subset label and managed-by annotation, and
    the replicas of the rendered Deployment when `workloadRef.scaleDown` scales it."""
    if service.canary is None:
        return []
    pointer = "/metadata/annotations/" + ROLLOUTS_ANNOTATION_MANAGED_BY.replace("~", "~0").replace("/", "~1")
    deployment = []
    if service.workload is not None and service.canary.workload.get("scaleDown") in SCALING_DOWN:
        deployment.append(
            {
                "group": "apps",
                "kind": "Deployment",
                "name": service.workload.name,
                "namespace": service.namespace,
                "jsonPointers": ["/spec/replicas"],
            }
        )
    return [
        *deployment,
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
    sync_options = list(SYNC_OPTIONS)
    if service.canary is not None and argo.respect_ignore_differences:
        sync_options.append(RESPECT_IGNORE_DIFFERENCES)
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
        retry=_retry(argo),
        finalizers=[RESOURCES_FINALIZER] if argo.finalizer else [],
        sync_options=sync_options,
        ignore_differences=ignore_differences(service),
        labels={**MANAGED_BY, "gitops-gen/environment": env.name},
    )


def _application(app: _AppSpec, env: Environment, origin: Origin) -> Manifest:
    path = (
        f"{env.name}/argocd/root.yaml"
        if app.name == f"{env.name}-root"
        else f"{env.name}/argocd/apps/{app.name}.yaml"
    )
    return _render(
        "application.yaml.j2",
        ("argoproj.io/v1alpha1", "Application", app.name),
        path,
        origin,
        app=app,
    )


# ---- per environment ----------------------------------------------------------------------------------


@dataclass
class _Scope:
    """A tenancy object: its name, annotations, the `cluster/namespace` names it selects (across every
    environment that shares it) and the namespaces it covers in each environment."""

    name: str
    annotations: dict[str, str]
    selector: set[str] = field(default_factory=set)
    namespaces: dict[str, set[str]] = field(default_factory=dict)  # environment -> namespaces

    def add(self, env: Environment, namespace: str) -> None:
        self.selector.add(f"{env.cluster}/{namespace}")
        self.namespaces.setdefault(env.name, set()).add(namespace)


@dataclass
class SharedTenancy:
    """The TSB tenancy objects of every environment, keyed by their identity on the management plane.

    Environments that share an organization, tenant, workspace or group share one TSB object: TSB's
    GitOps relay forwards each cluster's copy to the one management plane, where differing copies would
    overwrite each other. So each is rendered identically in every environment that uses it, selecting
    the `cluster/namespace` of all of them.
    """

    tenants: dict[tuple[str, str], _Scope] = field(default_factory=dict)
    workspaces: dict[tuple[str, str, str], _Scope] = field(default_factory=dict)
    groups: dict[tuple[str, str, str, str, str], _Scope] = field(default_factory=dict)

    def canonical(self) -> str:
        """All of it as text, the same for the same tenancy: part of the key of cached tenancy objects."""

        def scopes(table: Mapping[Any, _Scope]) -> list[Any]:
            return [
                [
                    list(key),
                    scope.name,
                    sorted(scope.annotations.items()),
                    sorted(scope.selector),
                    sorted((env, sorted(names)) for env, names in scope.namespaces.items()),
                ]
                for key, scope in sorted(table.items())
            ]

        return json.dumps([scopes(self.tenants), scopes(self.workspaces), scopes(self.groups)])

    def add_environment(self, env: Environment, services: Sequence[ServiceFacts]) -> None:
        for service in services:
            t = service.tenancy
            kinds = [("traffic", t.traffic_group), ("security", t.security_group)]
            if service.has_ingress:
                kinds.append(("gateway", t.gateway_group))
            self._add(env, t, service.namespace, kinds)
        for gateway in env.gateways:
            t = gateway.tenancy
            self._add(
                env, t, gateway.namespace, [("gateway", t.gateway_group), ("security", t.security_group)]
            )

    def _add(
        self, env: Environment, t: Any, namespace: str, group_kinds: Iterable[tuple[str, str | None]]
    ) -> None:
        org = {"tsb.tetrate.io/organization": t.organization}
        tenant = self.tenants.setdefault((t.organization, t.tenant), _Scope(t.tenant, org))
        tenant.add(env, namespace)
        workspace = self.workspaces.setdefault(
            (t.organization, t.tenant, t.workspace),
            _Scope(t.workspace, {**org, "tsb.tetrate.io/tenant": t.tenant}),
        )
        workspace.add(env, namespace)
        for kind, name in group_kinds:
            if name:
                annotations = {**workspace.annotations, "tsb.tetrate.io/workspace": t.workspace}
                key = (t.organization, t.tenant, t.workspace, kind, name)
                self.groups.setdefault(key, _Scope(name, annotations)).add(env, namespace)


def render_tenancy(env: Environment, tenancy: SharedTenancy) -> list[Manifest]:
    """Tenant, Workspace and DIRECT-mode Groups for everything the environment's services and gateways use."""
    tenants = sorted((s for s in tenancy.tenants.values() if env.name in s.namespaces), key=_by_name)
    workspaces = sorted((s for s in tenancy.workspaces.values() if env.name in s.namespaces), key=_by_name)
    groups = sorted(
        ((key[3], s) for key, s in tenancy.groups.items() if env.name in s.namespaces),
        key=lambda kv: (kv[0], kv[1].name, sorted(kv[1].annotations.items())),
    )
    if not tenants:
        return []
    namespace = _tenancy_namespace(env, workspaces)
    folder = f"{env.name}/tsb"
    origin = Origin.of_environment(env)
    manifests = []
    for scope in tenants:
        tenant = {
            "name": scope.name,
            "namespace": namespace,
            "annotations": scope.annotations,
            "display_name": scope.name,
        }
        manifests.append(
            _render(
                "tenant.yaml.j2",
                ("tsb.tetrate.io/v2", "Tenant", scope.name),
                f"{folder}/tenant-{scope.name}.yaml",
                origin,
                tenant=tenant,
            )
        )
    for scope in workspaces:
        workspace = {
            "name": scope.name,
            "namespace": namespace,
            "annotations": scope.annotations,
            "selector": sorted(scope.selector),
        }
        manifests.append(
            _render(
                "workspace.yaml.j2",
                ("tsb.tetrate.io/v2", "Workspace", scope.name),
                f"{folder}/workspace-{scope.name}.yaml",
                origin,
                workspace=workspace,
            )
        )
    for kind, scope in groups:
        group = {
            "api_version": f"{kind}.tsb.tetrate.io/v2",
            "name": scope.name,
            "namespace": namespace,
            "annotations": scope.annotations,
            "display_name": f"{scope.name}-group",  # the tsb-gitops-demo's convention
            "selector": sorted(scope.selector),
        }
        manifests.append(
            _render(
                "group.yaml.j2",
                (f"{kind}.tsb.tetrate.io/v2", "Group", scope.name),
                f"{folder}/{kind}group-{scope.name}.yaml",
                origin,
                group=group,
            )
        )
    return manifests


def _by_name(scope: _Scope) -> tuple[str, list[tuple[str, str]]]:
    return (scope.name, sorted(scope.annotations.items()))


def _tenancy_namespace(env: Environment, workspaces: Sequence[_Scope]) -> str:
    if env.tenancy_namespace:
        return env.tenancy_namespace
    namespaces = {ns for scope in workspaces for ns in scope.namespaces.get(env.name, ())}
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
    origin = Origin.of_environment(env)
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


def render_namespaces(env: Environment, namespaces: Iterable[str]) -> list[Manifest]:
    """A Namespace for each namespace the environment uses: nothing else creates them, and the first sync
    of every Application would fail without them. Never pruned nor deleted (KEEP_NAMESPACE)."""
    if env.namespace_labels is None:
        return []
    origin = Origin.of_environment(env)
    return [
        _render(
            "namespace.yaml.j2",
            ("v1", "Namespace", name),
            f"{env.name}/namespaces/{name}.yaml",
            origin,
            name=name,
            labels=dict(env.namespace_labels),
            annotations=KEEP_NAMESPACE,
        )
        for name in sorted(set(namespaces))
    ]


def render_environment_apps(
    env: Environment, has_gateways: bool, tenancy_namespace: str | None, has_namespaces: bool
) -> list[Manifest]:
    """The root app-of-apps, and the Applications of the namespaces, the TSB tenancy objects and the
    gateways.

    No sync waves: Argo CD has had no health check for `argoproj.io/Application` since 1.8, so a wave on a
    child Application orders only when the Application object is created, not when its sync is done. Each
    child retries instead (`syncPolicy.retry`): a direct-mode object that TSB rejects while its Group does
    not exist yet, or an object whose namespace is not there yet, succeeds on a later attempt.
    """
    argo = env.argocd
    labels = {**MANAGED_BY, "gitops-gen/environment": env.name}
    # The root syncs the child Application objects into Argo CD's own namespace, on the cluster Argo CD
    # runs in (the hub); the children deploy to the environment's cluster (`argocd.server`).
    root = _AppSpec(
        name=f"{env.name}-root",
        namespace=env.argocd_namespace,
        project=argo.project,
        repo_url=argo.repo_url,
        target_revision=argo.target_revision,
        path=posixpath.join(env.path, env.name, "argocd", "apps"),
        server=env.hub_server,
        destination_namespace=env.argocd_namespace,
        automated=argo.automated,
        prune=argo.prune,
        self_heal=argo.self_heal,
        retry=_retry(argo),
        labels=labels,
    )
    child = replace(root, server=argo.server, finalizers=[RESOURCES_FINALIZER] if argo.finalizer else [])

    def of_folder(folder: str, destination_namespace: str | None, recurse: bool = False) -> _AppSpec:
        """The child Application `<env>-<folder>` syncing `<env>/<folder>`."""
        return replace(
            child,
            name=f"{env.name}-{folder}",
            path=posixpath.join(env.path, env.name, folder),
            destination_namespace=destination_namespace,
            recurse=recurse,
        )

    apps = [root]
    if has_namespaces:
        apps.append(of_folder("namespaces", None))
    if tenancy_namespace is not None:
        apps.append(of_folder("tsb", tenancy_namespace))
    if has_gateways:
        apps.append(of_folder("gateways", None, recurse=True))
    return [_application(app, env, Origin.of_environment(env)) for app in apps]


# ---- everything ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """A render of whole environments, and the part of it a `--service` selection asked for.

    Environments are always rendered whole: the tenancy objects depend on every service, and validating
    a selected service needs the Tenant, Groups and Applications it refers to.
    """

    manifests: tuple[Manifest, ...]  # the environment-level objects and the selected services', by path
    services: tuple[str, ...] = ()  # the selection; empty: everything
    versions: Mapping[str, Versions] = field(default_factory=dict)  # of each environment
    # What the cross-object rules need of the services around the selection (see _CONTEXT_FIELDS):
    # checked against, never validated, reported on or written.
    context: tuple[Manifest, ...] = ()
    cache_keys: Mapping[str, str] = field(default_factory=dict)  # manifest path -> its service's cache entry
    cache: RenderCache | None = None
    with_environments: bool = False  # the selection covers the environment-level objects too

    @property
    def selected(self) -> list[Manifest]:
        """What the selection covers: with services, their objects (and, `with_environments`, the
        environment-level ones)."""
        if not self.services:
            return list(self.manifests)
        return [
            m
            for m in self.manifests
            if m.service in self.services or (self.with_environments and m.service is None)
        ]


def render_all(config_dir: Path, envs: Iterable[str] = (), services: Iterable[str] = ()) -> list[Manifest]:
    """Load, check and render the selected environments and services; sorted by path.

    With `services` given, only those services' objects are returned (no environment-level objects).
    """
    return render_environments(config_dir, envs, services).selected


def render_environments(
    config_dir: Path,
    envs: Iterable[str] = (),
    services: Iterable[str] = (),
    cache: RenderCache | None = None,
    with_environments: bool = False,
) -> Rendered:
    """Load, check and render the selected environments and services (an unknown name is an error).

    Every environment is resolved, because TSB tenancy objects are shared by the environments that name
    them and a namespace of one cluster is created by one environment only; the selected environments'
    own objects are rendered, and the selected services' (all, without a selection). With a `cache`, a
    service whose spec, environment file and tool are unchanged is not loaded, resolved or rendered again:
    its facts and manifests come from the cache, byte for byte what a render would produce.
    """
    envs, services = tuple(envs), tuple(services)
    problems: list[Problem] = []
    files: dict[str, Path] = {}
    env_names: list[str] = []
    chosen: list[str] = []
    try:
        files = spec_files(config_dir)
        chosen = select(files, services, "service", lambda n: f"{SERVICES_DIR}/{n}.yaml")
    except InputError as exc:
        problems.extend(exc.problems)
    try:
        env_names = select(
            environment_names(config_dir), envs, "environment", lambda n: f"{ENVIRONMENTS_DIR}/{n}.yaml"
        )
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
    specs = _Specs(files)
    resolved: dict[str, tuple[Environment, dict[str, _ServiceRender]]] = {}
    for env_name in environment_names(config_dir):
        wanted = (lambda name: not services or name in chosen) if env_name in env_names else None
        try:
            resolved[env_name] = _resolve_environment(env_name, config_dir, specs, cache, wanted)
        except InputError as exc:
            problems.extend(exc.problems)
    problems.extend(specs.problems)
    raise_if_any(problems)
    tenancy = SharedTenancy()
    for env, renders in resolved.values():
        tenancy.add_environment(env, [r.facts for r in renders.values()])
    namespace_owners: dict[tuple[str, str], str] = {}  # (cluster, namespace) -> the environment creating it
    for env_name, (env, renders) in sorted(resolved.items()):
        try:
            for namespace in _namespaces_used(env, [r.facts for r in renders.values()], tenancy):
                namespace_owners.setdefault((env.cluster, namespace), env_name)
        except InputError as exc:
            problems.extend(exc.problems)
    raise_if_any(problems)
    selection = tuple(chosen) if services else ()
    manifests: list[Manifest] = []
    context: list[Manifest] = []
    objects: list[ObjectRef] = []
    keys: dict[str, str] = {}
    for env_name in env_names:
        env, renders = resolved[env_name]
        owned_namespaces = [ns for (cluster, ns), owner in namespace_owners.items() if owner == env_name]
        env_objects, env_key = _environment_objects(env, tenancy, owned_namespaces, cache)
        if env_key is not None:
            keys.update(dict.fromkeys((m.path for m in env_objects), env_key))
        manifests += env_objects
        objects += [ObjectRef.of(m) for m in env_objects]
        for name, service_render in renders.items():
            objects += service_render.facts.objects
            if not selection or name in selection:
                manifests += service_render.manifests(env)
                if service_render.key:
                    keys.update(
                        dict.fromkeys((m.path for m in service_render.manifests(env)), service_render.key)
                    )
            else:
                context += service_render.context(env)
                if service_render.key:
                    keys.update(
                        dict.fromkeys((p for p, _ in service_render.facts.context), service_render.key)
                    )
    _check_unique(objects, {name: env.cluster for name, (env, _) in resolved.items()})
    versions = {name: resolved[name][0].versions for name in env_names}
    return Rendered(
        tuple(sorted(manifests, key=lambda m: m.path)),
        selection,
        versions,
        tuple(sorted(context, key=lambda m: m.path)),
        keys,
        cache,
        with_environments,
    )


class StaleCache(Exception):
    """A cache entry's facts were read but its manifests are gone or damaged: render without the cache."""


class _Specs:
    """The service specs, read and schema-checked only when a service is not in the cache; each once."""

    def __init__(self, files: Mapping[str, Path]) -> None:
        self.files = files
        self.problems: list[Problem] = []
        self._loaded: dict[str, SourceFile | None] = {}
        self._bytes: dict[str, bytes | None] = {}

    def bytes_of(self, name: str) -> bytes | None:
        """The service's inputs as bytes (its cache key is made of them): the spec, then the name and bytes
        of each file of its workload folder; None for a file `load` refuses to read."""
        if name not in self._bytes:
            try:
                path = self.files[name]
                too_big = path.stat().st_size > MAX_INPUT_BYTES
                data = None if too_big else path.read_bytes()
                if data is not None:
                    for file in workload_files(path):
                        data += b"\0" + file.name.encode() + b"\0" + file.read_bytes()
                self._bytes[name] = data
            except (OSError, InputError):
                self._bytes[name] = None  # `load` says why
        return self._bytes[name]

    def load(self, name: str) -> SourceFile | None:
        if name not in self._loaded:
            try:
                self._loaded[name] = load_service(self.files[name])
            except InputError as exc:
                self._loaded[name] = None
                self.problems.extend(exc.problems)
        return self._loaded[name]


def _resolve_environment(
    env_name: str,
    config_dir: Path,
    specs: _Specs,
    cache: RenderCache | None,
    wanted: Callable[[str], bool] | None,
) -> tuple[Environment, dict[str, _ServiceRender]]:
    """The environment and its services: from the cache where their inputs are unchanged (with their
    manifests only for the `wanted` ones, which this render writes), else loaded, resolved and rendered."""
    env_path = config_dir / ENVIRONMENTS_DIR / f"{env_name}.yaml"
    try:
        too_big = env_path.stat().st_size > MAX_INPUT_BYTES
        env_bytes: bytes | None = None if too_big else env_path.read_bytes()
    except OSError:
        env_bytes = None  # load_environment says why
    env, env_source = None, None
    if cache is not None and env_bytes is not None:
        env = _cached_environment(cache, _environment_key(env_name, env_bytes, specs.files))
    if env is None:
        env_source = load_environment(config_dir, env_name)
        raise_if_any(unknown_overrides(env_source, specs.files))
        env = resolve_environment(env_name, env_source)
        if cache is not None and env_bytes is not None:
            _store_environment(cache, _environment_key(env_name, env_bytes, specs.files), env)
    env_bytes = env_bytes if env_bytes is not None else env_path.read_bytes()
    renders: dict[str, _ServiceRender] = {}
    problems: list[Problem] = []
    keys = {name: entry_key(env_bytes, b) for name in specs.files if (b := specs.bytes_of(name)) is not None}
    # The facts of every service of the environment in one file, each under the key of its inputs: an
    # unchanged environment is one read, and a changed spec one more (its own entry), not one per service.
    index_key = combined_key("environment index", env_name)
    index = cache.get(index_key, "environment") if cache is not None else None
    indexed = index.get("services") if index is not None else None
    indexed = indexed if isinstance(indexed, dict) else {}
    index_stale = False
    misses: list[str] = []
    for name in sorted(specs.files):
        key = keys.get(name)
        cached = None
        entry = indexed.get(name)
        if isinstance(entry, dict) and key is not None and entry.get("key") == key:
            cached = entry.get("facts")
        else:
            index_stale = True
            cached = cache.get(key) if cache is not None and key is not None else None
        if cached is not None and cache is not None:
            try:
                hit = _ServiceRender.from_cache(key, cached, cache)
                if wanted is not None and wanted(name):
                    hit.records  # noqa: B018  # read now: a damaged or missing part is a miss
                renders[name] = hit
                continue
            except (KeyError, TypeError, ValueError, StaleCache):
                index_stale = True  # a damaged entry is a miss
        if specs.load(name) is not None:  # else its problems are in specs.problems, once for all
            misses.append(name)
    if misses and env_source is None:  # the environment came from the cache: these bytes passed
        env_source = load_environment(config_dir, env_name, known_valid=True)
    if misses:
        assert env_source is not None
        job = _Misses(env, env_source, specs, keys, cache)
        renders.update(job.render(misses, problems))
        renders = dict(sorted(renders.items()))
    raise_if_any(problems)
    if (
        cache is not None
        and (index_stale or len(indexed) != len(renders))
        and len(renders) == len(specs.files)
    ):
        services = {n: {"key": r.key, "facts": r.to_cache()} for n, r in renders.items()}
        cache.put(index_key, {"services": services}, "environment")
    return env, renders


@dataclass
class _Misses:
    """Rendering the services of one environment that the cache does not have: in this process, or in a
    pool of forked ones (one per core) when there are enough of them to pay for it. Either way each
    service's render is the same and lands in the cache; a worker that fails leaves its batch to this
    process, which then fails (or not) exactly as a render without a pool does."""

    env: Environment
    env_source: SourceFile
    specs: _Specs
    keys: Mapping[str, str]
    cache: RenderCache | None

    def render(self, names: Sequence[str], problems: list[Problem]) -> dict[str, _ServiceRender]:
        batches = [list(names[i : i + _BATCH]) for i in range(0, len(names), _BATCH)]
        workers = min(cores(), len(batches)) if len(names) >= _SERVICES_WORTH_A_POOL else 1
        if workers < 2 or not can_fork():
            return self._render_here(names, problems)
        global _POOL_JOB
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        _POOL_JOB = self
        results: list[tuple[bytes, list[Problem]] | None]
        try:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                results = list(pool.map(_render_batch_in_worker, batches))
        except (OSError, BrokenProcessPool):  # no fork, or a worker killed (OOM): all of it here
            results = [None] * len(batches)
        finally:
            _POOL_JOB = None
        renders: dict[str, _ServiceRender] = {}
        for batch, result in zip(batches, results, strict=True):
            if result is None:  # the worker failed: render here, and fail (or not) here
                renders.update(self._render_here(batch, problems))
                continue
            made, batch_problems = result
            problems.extend(batch_problems)
            for name, facts, records in marshal.loads(made):
                key = self.keys.get(name)
                renders[name] = _ServiceRender.made_elsewhere(key, facts, records, self.cache)
        return renders

    def _render_here(self, names: Sequence[str], problems: list[Problem]) -> dict[str, _ServiceRender]:
        renders = {}
        for name in names:
            spec = self.specs.load(name)
            assert spec is not None  # loaded by the caller
            try:
                service = resolve_service(self.env, self.env_source, spec)
            except GeneratorError as exc:
                problems.extend(replace(p, subject=f"{name} in {self.env.name}") for p in exc.problems)
                continue
            key = self.keys.get(name)
            service_render = _ServiceRender.of(key, service, render_service(service, self.env))
            if self.cache is not None and key is not None:
                self.cache.put(key, {"manifests": service_render.records}, "manifests")
                self.cache.put(key, service_render.to_cache())  # last: facts name an entry that is whole
            renders[name] = service_render
        return renders


# Services per task of the pool (small enough to keep both cores busy to the end), and the fewest
# misses worth forking for.
_BATCH = 25
_SERVICES_WORTH_A_POOL = 100
_POOL_JOB: _Misses | None = None


def _render_batch_in_worker(names: list[str]) -> tuple[bytes, list[Problem]] | None:
    """A batch rendered in a worker: its renders as marshal bytes (marshal keeps the parse-back's
    interned strings interned in the parent, pickle would not), and its problems; None if anything
    failed."""
    assert _POOL_JOB is not None
    try:
        problems: list[Problem] = []
        renders = _POOL_JOB._render_here(names, problems)
        return marshal.dumps([(name, r.to_cache(), r.records) for name, r in renders.items()]), problems
    except BaseException:  # the parent renders the batch again and reports it itself
        return None


# The dataclasses a cached Environment is made of (cache.decode_value makes no others).
_ENVIRONMENT_CLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (Environment, ArgoApp, Gateway, TenancyNames, Retry)
}


def _environment_key(env_name: str, env_bytes: bytes, spec_names: Iterable[str]) -> str:
    """An environment resolves the same from the same file, tool and set of spec names (an override of a
    service that has no spec is an error)."""
    return combined_key(
        "resolved environment",
        entry_key(env_bytes, env_name.encode()),
        *sorted(spec_names),
    )


def _cached_environment(cache: RenderCache, key: str) -> Environment | None:
    """The resolved environment, if this tool resolved the same file before (loading and checking it
    against the schema is most of a warm pre-commit check)."""
    value = cache.get(key, "resolved")
    if value is None:
        return None
    try:
        env = decode_value(value["environment"], _ENVIRONMENT_CLASSES)
    except (KeyError, TypeError, ValueError):
        return None
    return env if isinstance(env, Environment) else None


def _store_environment(cache: RenderCache, key: str, env: Environment) -> None:
    encoded = encode_value(env)
    if decode_value(encoded, _ENVIRONMENT_CLASSES) == env:  # else some value JSON cannot keep exactly
        cache.put(key, {"environment": encoded}, "resolved")


def _namespaces_used(env: Environment, services: Sequence[ServiceFacts], tenancy: SharedTenancy) -> set[str]:
    used = {s.namespace for s in services} | {g.namespace for g in env.gateways}
    workspaces = [s for s in tenancy.workspaces.values() if env.name in s.namespaces]
    if workspaces:
        used.add(_tenancy_namespace(env, workspaces))
    return used


def _environment_objects(
    env: Environment, tenancy: SharedTenancy, namespaces: Iterable[str], cache: RenderCache | None
) -> tuple[list[Manifest], str | None]:
    """The environment's own objects and the key of their cache entry: from the cache when the
    environment, the tenancy shared by every environment and the namespaces it creates are unchanged
    (nothing else goes into them), else rendered and stored."""
    namespaces = sorted(namespaces)
    if cache is None:
        return _render_environment(env, tenancy, namespaces), None
    key = combined_key(
        "environment objects",
        tool_fingerprint(),
        json.dumps(encode_value(env), sort_keys=True, default=repr),  # a YAML date in a gateway: its repr
        tenancy.canonical(),
        *namespaces,
    )
    value = cache.get(key, "manifests")
    records = value.get("manifests") if value is not None else None
    if isinstance(records, list):
        try:
            return _manifests_of(records, env, None), key
        except (KeyError, TypeError, ValueError):
            pass  # a damaged entry is a miss
    manifests = _render_environment(env, tenancy, namespaces)
    cache.put(key, {"manifests": _records_of(manifests)}, "manifests")
    return manifests, key


def _render_environment(
    env: Environment, tenancy: SharedTenancy, namespaces: Iterable[str]
) -> list[Manifest]:
    """The environment's own objects: tenancy, gateways, namespaces and its Applications."""
    manifests = render_tenancy(env, tenancy)
    tenancy_namespace = manifests[0].namespace if manifests else None
    for gateway in env.gateways:
        manifests += render_gateway(gateway, env)
    namespace_objects = render_namespaces(env, namespaces)
    manifests += namespace_objects
    manifests += render_environment_apps(env, bool(env.gateways), tenancy_namespace, bool(namespace_objects))
    return manifests


# ---- what a render of one service leaves behind -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """A rendered object's identity in its cluster, and where it came from (for the uniqueness check)."""

    env: str
    group: str
    kind: str
    namespace: str | None
    name: str
    path: str
    source: str

    @classmethod
    def of(cls, manifest: Manifest) -> ObjectRef:
        group = str(manifest.obj["apiVersion"]).split("/")[0]
        return cls(
            manifest.env,
            group,
            manifest.kind,
            manifest.namespace,
            manifest.name,
            manifest.path,
            manifest.source,
        )


@dataclass(frozen=True)
class ServiceFacts:
    """What the rest of a render needs of one service in one environment: the environment-level objects
    (its namespace, tenancy and ingress), and the uniqueness check (the identity of each object)."""

    name: str
    namespace: str
    tenancy: TenancyNames
    has_ingress: bool
    objects: tuple[ObjectRef, ...]
    context: tuple[tuple[str, dict[str, Any]], ...]  # (path, what the rules need) of its mesh objects


# What the cross-object rules read of a service that is not being rendered: its DestinationRules' host
# and subset names (IST0101) and its VirtualServices' hosts and gateways (IST0109). Nothing else of
# another service changes a finding on the services that are.
def _destination_rule_context(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {"host": spec.get("host"), "subsets": [{"name": s.get("name")} for s in spec.get("subsets", [])]}


def _virtual_service_context(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {key: spec[key] for key in ("hosts", "gateways") if key in spec}


_CONTEXT_FIELDS = {"DestinationRule": _destination_rule_context, "VirtualService": _virtual_service_context}


def _context_object(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    project = _CONTEXT_FIELDS.get(str(obj.get("kind")))
    if project is None:
        return None
    metadata = {k: obj["metadata"][k] for k in ("name", "namespace") if k in obj["metadata"]}
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "metadata": metadata,
        "spec": project(obj["spec"]),
    }


@dataclass
class _ServiceRender:
    """One service in one environment: its facts, and its manifests, rendered now or read from the cache
    (then decoded only if this render needs them)."""

    key: str | None
    facts: ServiceFacts
    _records: list[dict[str, Any]] | None  # the manifests as cached: path, text, obj, source, acknowledged
    _manifests: list[Manifest] | None = None
    _cache: RenderCache | None = None

    @property
    def records(self) -> list[dict[str, Any]]:
        if self._records is None:
            value = self._cache.get(self.key, "manifests") if self._cache and self.key else None
            records = value.get("manifests") if value else None
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise StaleCache(self.key or "")
            self._records = records
        return self._records

    @classmethod
    def of(cls, key: str | None, service: Service, manifests: list[Manifest]) -> _ServiceRender:
        t = service.tenancy
        facts = ServiceFacts(
            service.name,
            service.namespace,
            t,
            service.ingress is not None,
            tuple(ObjectRef.of(m) for m in manifests),
            tuple((m.path, projected) for m in manifests if (projected := _context_object(m.obj))),
        )
        return cls(key, facts, _records_of(manifests), manifests)

    def manifests(self, env: Environment) -> list[Manifest]:
        if self._manifests is None:
            self._manifests = _manifests_of(self.records, env, self.facts.name)
        return self._manifests

    def context(self, env: Environment) -> list[Manifest]:
        """What the rules need of this service when it is not rendered (see _CONTEXT_FIELDS)."""
        name = self.facts.name
        return [Manifest(path, obj, "", env.name, name, "", env.path) for path, obj in self.facts.context]

    def to_cache(self) -> dict[str, Any]:
        t = self.facts.tenancy
        return {
            "name": self.facts.name,
            "namespace": self.facts.namespace,
            "tenancy": [
                t.organization,
                t.tenant,
                t.workspace,
                t.traffic_group,
                t.security_group,
                t.gateway_group,
            ],
            "hasIngress": self.facts.has_ingress,
            "objects": [
                [o.env, o.group, o.kind, o.namespace, o.name, o.path, o.source] for o in self.facts.objects
            ],
            "context": [list(c) for c in self.facts.context],
        }

    @classmethod
    def made_elsewhere(
        cls,
        key: str | None,
        facts: Mapping[str, Any],
        records: list[dict[str, Any]],
        cache: RenderCache | None,
    ) -> _ServiceRender:
        """A render a worker made (and cached): its facts and manifests as the cache keeps them."""
        if cache is not None and key is not None:
            cache.remember(key, {"manifests": records}, "manifests")  # the worker wrote it
        made = cls.from_cache(key, facts, cache)
        made._records = records
        return made

    @classmethod
    def from_cache(
        cls, key: str | None, value: Mapping[str, Any], cache: RenderCache | None
    ) -> _ServiceRender:
        facts = ServiceFacts(
            str(value["name"]),
            str(value["namespace"]),
            TenancyNames(*value["tenancy"]),
            bool(value["hasIngress"]),
            tuple(ObjectRef(*o) for o in value["objects"]),
            tuple((str(path), dict(obj)) for path, obj in value["context"]),
        )
        return cls(key, facts, None, None, cache)


def _records_of(manifests: Iterable[Manifest]) -> list[dict[str, Any]]:
    """Manifests as the cache keeps them."""
    return [
        {
            "path": m.path,
            "text": m.text,
            "obj": m.obj,
            "source": m.source,
            "acknowledged": [list(a) for a in m.acknowledged],
        }
        for m in manifests
    ]


def _manifests_of(
    records: Iterable[Mapping[str, Any]], env: Environment, service: str | None
) -> list[Manifest]:
    return [
        Manifest(
            r["path"],
            r["obj"],
            r["text"],
            env.name,
            service,
            r["source"],
            env.path,
            tuple((str(rule), str(why)) for rule, why in r["acknowledged"]),
        )
        for r in records
    ]


_RENAME_HINTS = {
    "AnalysisTemplate": "give one of them another analysis.templateName",
    "Rollout": "give one of them another canary.rolloutName",
    "VirtualService": "give one of them another ingress.virtualService, or another service name",
}


def _check_unique(objects: Sequence[ObjectRef], clusters: Mapping[str, str]) -> None:
    """No object may be rendered twice into one cluster: by two services (say two AnalysisTemplates `apdex`
    in one namespace), or by two environments on the same `cluster`, whose Applications would then both
    own it and overwrite each other (Applications are named after their environment and live on the hub)."""
    seen: dict[tuple[str, str, str, str | None, str], ObjectRef] = {}
    problems = []
    for ref in sorted(objects, key=lambda o: o.path):
        if ref.kind == "Application":
            continue
        cluster = clusters.get(ref.env, ref.env)
        first = seen.setdefault((cluster, ref.group, ref.kind, ref.namespace, ref.name), ref)
        if first is ref:
            continue
        if first.env == ref.env:
            problems.append(
                Problem(
                    Location(ref.source or ref.path, 1, 1),
                    f"{ref.kind} '{ref.name}' in environment '{ref.env}' is also rendered from "
                    f"{first.source}",
                    _RENAME_HINTS.get(ref.kind, "give one of them another name"),
                )
            )
        else:
            where = f" in namespace '{ref.namespace}'" if ref.namespace else ""
            problems.append(
                Problem(
                    Location(ref.source or ref.path, 1, 1),
                    f"{ref.kind} '{ref.name}'{where} is rendered by environments "
                    f"'{first.env}' and '{ref.env}', both on cluster '{cluster}': two Argo CD "
                    "Applications would own it",
                    "give one environment its own namespaces (or tsb.tenancyNamespace), or put them "
                    "on different clusters",
                )
            )
    raise_if_any(problems)
