"""The resolved model: what one service looks like in one environment, every default filled in.

Resolution also makes the checks a schema cannot express (weights strictly increasing, a startingStep
inside the steps, a gateway that exists, ...), each pointing at the layer the bad value came from.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .environments import Merged, apply_defaults, layer_location, merge_layers, service_layers
from .errors import Location, Problem, raise_if_any
from .expr_check import DEFAULT_ROLLOUTS_VERSION, dialect_for
from .skywalking import (
    DEFAULT_OAP_VERSION,
    QUERY_STYLES,
    SCALED_BY_10000,
    MetricCheck,
    fraction_hint,
    is_labeled,
    parse_oap_version,
    service_name,
    style_problem,
)
from .spec import AdoptedObject, SourceFile, schema_file, without_removals

ROLLOUTS_ANNOTATION_MANAGED_BY = "argo-rollouts.argoproj.io/managed-by-rollouts"


@dataclass(frozen=True)
class Versions:
    """The releases an environment runs: the SkyWalking OAP decides the query and the protocol GG304 checks
    it against, Argo Rollouts the expression language conditions are compiled with (GG306)."""

    oap: str = DEFAULT_OAP_VERSION
    rollouts: str = DEFAULT_ROLLOUTS_VERSION


@dataclass(frozen=True)
class Tenancy:
    organization: str
    tenant: str
    workspace: str
    traffic_group: str | None = None
    security_group: str | None = None
    gateway_group: str | None = None

    def annotations(self, group_kind: str) -> dict[str, str]:
        """The four `tsb.tetrate.io/*` annotations every direct-mode Istio object needs."""
        group = {"trafficGroup": self.traffic_group, "gatewayGroup": self.gateway_group}[group_kind]
        return {
            "tsb.tetrate.io/organization": self.organization,
            "tsb.tetrate.io/tenant": self.tenant,
            "tsb.tetrate.io/workspace": self.workspace,
            f"tsb.tetrate.io/{group_kind}": group or "",
        }


@dataclass(frozen=True)
class Step:
    weight: int | None = None
    pause: str | None = None  # a duration, or "" for a pause that waits for manual promotion

    def to_argo(self) -> dict[str, Any]:
        if self.weight is not None:
            return {"setWeight": self.weight}
        return {"pause": {"duration": self.pause} if self.pause else {}}


@dataclass(frozen=True)
class Analysis:
    template_name: str
    interval: str
    window: str
    failure_limit: int
    min_points: int
    style: str
    address: str
    starting_step: int | None
    checks: tuple[MetricCheck, ...]


@dataclass(frozen=True)
class Canary:
    rollout_name: str
    stable_subset: str
    canary_subset: str
    version_label: str
    steps: tuple[Step, ...]
    replicas: int | None
    workload: Mapping[str, str]
    analysis: Analysis | None


@dataclass(frozen=True)
class Subset:
    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class Ingress:
    virtual_service: str
    gateway: str
    hosts: tuple[str, ...]
    paths: tuple[Mapping[str, str], ...]


@dataclass(frozen=True)
class Retry:
    """Argo CD `syncPolicy.retry`."""

    limit: int
    backoff_duration: str
    backoff_factor: int
    backoff_max: str


@dataclass(frozen=True)
class ArgoApp:
    project: str
    repo_url: str
    target_revision: str
    server: str  # where the workloads go; the Application objects themselves live on the hub
    automated: bool
    prune: bool
    self_heal: bool
    retry: Retry
    finalizer: bool
    respect_ignore_differences: bool


@dataclass(frozen=True)
class Workload:
    """The Deployment, ServiceAccount and Kubernetes Service gitops-gen renders for a service (`workload`)."""

    name: str  # the Deployment's
    labels: Mapping[str, str]  # of the Deployment, its selector and its pods: the service's selector first
    pod_labels: Mapping[str, str]  # the pods' own, besides `labels`
    replicas: int
    service_account: str | None
    service_name: str  # the Kubernetes Service's
    service_ports: tuple[Mapping[str, Any], ...]  # as Kubernetes writes them; none: no Service
    containers: tuple[Mapping[str, Any], ...]  # as Kubernetes writes them, in the spec's order
    volumes: tuple[Any, ...]
    # `workload.manifests`: the objects of services/<name>/, the Deployment's images set, written instead
    adopted: tuple[Mapping[str, Any], ...] = ()


# The workloadRef.scaleDown values with which Argo Rollouts scales the Deployment
# (v1alpha1.ScaleDownOnSuccess, ScaleDownProgressively; `never` leaves it alone).
SCALING_DOWN = ("onsuccess", "progressively")

# The fields of a container in the order Kubernetes documents them (and `kubectl get -o yaml` prints them).
CONTAINER_FIELDS = (
    "image", "imagePullPolicy", "command", "args", "env", "ports", "resources", "livenessProbe",
    "readinessProbe", "startupProbe", "volumeMounts", "securityContext",
)  # fmt: skip


@dataclass(frozen=True)
class Service:
    name: str
    namespace: str
    env: str
    cluster: str
    selector: Mapping[str, str]
    host: str
    port: int | None
    route_name: str
    own_virtual_service: bool
    subsets: tuple[Subset, ...]
    default_subset: str
    canary: Canary | None
    ingress: Ingress | None
    tenancy: Tenancy
    argocd: ArgoApp
    source: str  # services/<name>.yaml
    workload: Workload | None = None
    acknowledged: Mapping[str, str] = field(default_factory=dict)  # warning rule ID -> why it is accepted

    def skywalking_service_name(self) -> str:
        assert self.canary is not None
        return service_name(self.canary.canary_subset, self.name, self.namespace, self.cluster)


def _items_of(obj: Any, *path: str) -> list[Any]:
    for key in path:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj if isinstance(obj, list) else []


def _container_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A spec's container as Kubernetes writes it: env a list of {name, value}, ports {containerPort}."""
    out: dict[str, Any] = {}
    for key in CONTAINER_FIELDS:
        if key not in fields:
            continue
        value = fields[key]
        if key == "env":
            value = [{"name": k, "value": v} for k, v in value.items()]
        elif key == "ports":
            value = [p if isinstance(p, Mapping) else {"containerPort": p} for p in value]
        out[key] = value
    return out


@dataclass(frozen=True)
class Gateway:
    name: str
    namespace: str
    ingress_gateway: str
    service_type: str
    servers: tuple[Mapping[str, Any], ...]
    tenancy: Tenancy


@dataclass(frozen=True)
class Environment:
    name: str
    cluster: str
    repo_url: str
    branch: str
    path: str
    argocd_namespace: str
    hub_server: str  # the cluster Argo CD runs in: the root Application's destination
    argocd: ArgoApp
    skywalking_address: str
    tenancy_namespace: str | None
    gateways: tuple[Gateway, ...]
    namespace_labels: Mapping[str, str] | None  # None: namespaces are created by someone else
    oap_version: str  # SkyWalking OAP release: decides the query and the condition
    rollouts_version: str  # Argo Rollouts release: decides the expression language of conditions
    source: str
    acknowledged: Mapping[str, str] = field(default_factory=dict)  # of the environment's own objects

    @property
    def versions(self) -> Versions:
        return Versions(self.oap_version, self.rollouts_version)


# ---- resolution ---------------------------------------------------------------------------------------


def _tenancy(values: Mapping[str, Any]) -> Tenancy:
    return Tenancy(
        organization=values.get("organization", ""),
        tenant=values.get("tenant", ""),
        workspace=values.get("workspace", ""),
        traffic_group=values.get("trafficGroup"),
        security_group=values.get("securityGroup"),
        gateway_group=values.get("gatewayGroup"),
    )


def _argo_app(values: Mapping[str, Any], target_revision: str) -> ArgoApp:
    """An Application's settings; the schema defaults are filled in already."""
    policy = values.get("syncPolicy", {})
    retry = values["retry"]
    backoff = retry["backoff"]
    return ArgoApp(
        project=values["project"],
        repo_url=values.get("repoURL", ""),
        target_revision=target_revision,
        server=values["server"],
        automated=policy["automated"],
        prune=policy["prune"],
        self_heal=policy["selfHeal"],
        retry=Retry(retry["limit"], backoff["duration"], backoff["factor"], backoff["maxDuration"]),
        finalizer=values["finalizer"],
        respect_ignore_differences=values["respectIgnoreDifferences"],
    )


def resolve_environment(name: str, source: SourceFile) -> Environment:
    data = copy.deepcopy(source.data)
    for layer in ("tsb", "argocd"):  # the lowest layers of every service: a null there removes the value
        if isinstance(data.get(layer), dict):
            data[layer] = without_removals(data[layer])
    data = apply_defaults(schema_file("environment.schema.json"), data)
    problems: list[Problem] = []
    tsb = data.get("tsb", {})
    gateways = []
    for index, raw in enumerate(data.get("gateways", [])):
        tenancy = _tenancy({**tsb, **(raw.get("tsb") or {})})  # `tsb: null`: the environment's
        if not tenancy.gateway_group:
            problems.append(
                Problem(
                    source.locate(("gateways", index, "name")),
                    "no TSB gateway group for this gateway",
                    "set tsb.gatewayGroup in the environment or in the gateway",
                )
            )
        missing = [k for k in ("organization", "tenant", "workspace") if not getattr(tenancy, k)]
        if missing:
            problems.append(
                Problem(
                    source.locate(("gateways", index, "name")),
                    f"no TSB {', '.join(missing)} for this gateway",
                    f"set tsb.{' and tsb.'.join(missing)} in the environment or in the gateway",
                )
            )
        gateways.append(
            Gateway(
                name=raw["name"],
                namespace=raw["namespace"],
                ingress_gateway=raw.get("ingressGateway") or f"tsb-gateway-{raw['namespace']}",
                service_type=raw["serviceType"],
                servers=tuple(raw["servers"]),
                tenancy=tenancy,
            )
        )
    seen: dict[str, int] = {}
    for index, gateway in enumerate(gateways):
        if gateway.name in seen:
            problems.append(
                Problem(
                    source.locate(("gateways", index, "name")),
                    f"gateway '{gateway.name}' is defined twice",
                    f"first at gateways[{seen[gateway.name]}]",
                )
            )
        seen.setdefault(gateway.name, index)
    gitops = data["gitops"]
    if gitops.get("targetRevision", gitops["branch"]) != gitops["branch"]:
        problems.append(
            Problem(
                source.locate(("gitops", "targetRevision")),
                f"targetRevision {gitops['targetRevision']!r} is not the branch {gitops['branch']!r}: "
                "Argo CD would sync another revision than the one `publish` commits to",
                "remove targetRevision: Applications follow gitops.branch",
            )
        )
    address = data["skywalking"]["address"]
    if address.rstrip("/").endswith("/graphql"):
        problems.append(
            Problem(
                source.locate(("skywalking", "address")),
                f"address {address!r} ends in /graphql",
                "give the OAP address only: the SkyWalking provider appends /graphql itself",
            )
        )
    oap_version = data["skywalking"]["version"]
    try:
        parse_oap_version(oap_version)
    except ValueError as exc:
        problems.append(Problem(source.locate(("skywalking", "version")), str(exc)))
    rollouts_version = data["argoRollouts"]["version"]
    try:
        dialect_for(rollouts_version)
    except ValueError as exc:
        problems.append(Problem(source.locate(("argoRollouts", "version")), str(exc)))
    acknowledged = data.get("acknowledge", {})
    problems += acknowledgement_problems(acknowledged, lambda rule: source.locate(("acknowledge", rule)))
    raise_if_any(problems)
    argocd = data["argocd"]
    namespaces = data["namespaces"]
    return Environment(
        name=name,
        cluster=data["cluster"],
        repo_url=gitops["repoURL"],
        branch=gitops["branch"],
        path=gitops["path"],
        argocd_namespace=argocd["namespace"],
        hub_server=argocd["hubServer"],
        argocd=_argo_app({**argocd, "repoURL": gitops["repoURL"]}, gitops["branch"]),
        skywalking_address=data["skywalking"]["address"],
        tenancy_namespace=tsb.get("tenancyNamespace"),
        gateways=tuple(gateways),
        namespace_labels=dict(namespaces["labels"]) if namespaces["create"] else None,
        oap_version=oap_version,
        rollouts_version=rollouts_version,
        source=source.display,
        acknowledged=dict(acknowledged),
    )


def resolve_service(env: Environment, env_source: SourceFile, spec: SourceFile) -> Service:
    """Merge the layers of one service in one environment and build its model, or raise every problem."""
    name = spec.data["name"]
    merged = merge_layers(service_layers(env_source, spec, name))
    raise_if_any(_identity_problems(merged, name))
    apply_defaults(schema_file("service.schema.json"), merged.data)
    resolver = _ServiceResolver(env, merged, spec.display, spec.adopted)
    service = resolver.build()
    raise_if_any(resolver.problems)
    return service


def _identity_problems(merged: Merged, name: str) -> list[Problem]:
    """A service is its name and namespace: no layer may remove them (`name: null`), nor rename it."""
    problems = []
    for key in ("name", "namespace"):
        removed_by = [layer for layer in merged.layers if key in layer.data and layer.data[key] is None]
        if key not in merged.data:
            if removed_by:
                where = layer_location(removed_by[-1], (key,))
                problems.append(
                    Problem(where, f"null removes the required key '{key}'", f"every service needs a {key}")
                )
            else:
                problems.append(
                    Problem(merged.locate((key,)), f"missing required key '{key}'", "set it in the spec")
                )
    if merged.data.get("name", name) != name:
        problems.append(
            Problem(
                merged.locate(("name",)),
                f"renames the service {name!r} to {merged.data['name']!r}",
                "a service's name is its spec file's name, the same in every environment",
            )
        )
    return problems


class _ServiceResolver:
    def __init__(
        self, env: Environment, merged: Merged, source: str, adopted: tuple[AdoptedObject, ...] = ()
    ) -> None:
        self.env = env
        self.merged = merged
        self.data = merged.data
        self.source = source
        self.adopted = adopted
        self.problems: list[Problem] = []

    def problem(self, path: tuple[str | int, ...], message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.merged.locate(path), message, hint))

    def build(self) -> Service:
        data = self.data
        name: str = data["name"]
        mesh = data.get("mesh", {})
        canary = self._canary() if "canary" in data else None
        if "analysis" in data and canary is None:
            self.problem(
                ("analysis",), "analysis needs a canary section", "add canary.steps, or remove analysis"
            )
        subsets = tuple(Subset(s["name"], s["labels"]) for s in mesh.get("subsets", []))
        if canary is not None and subsets:
            self.problem(
                ("mesh", "subsets"),
                "a canary service gets its subsets from canary.stableSubset/canarySubset",
                "remove mesh.subsets",
            )
        if canary is None and not subsets:
            subsets = (Subset("v1", {"version": "v1"}),)
        default_subset = mesh.get("defaultSubset") or (subsets[0].name if subsets else "")
        if canary is None and default_subset not in {s.name for s in subsets}:
            self.problem(
                ("mesh", "defaultSubset"),
                f"no subset named '{default_subset}'",
                f"subsets: {', '.join(s.name for s in subsets)}",
            )
        tenancy = _tenancy(data.get("tsb", {}))
        for key in ("organization", "tenant", "workspace", "trafficGroup"):
            if not data.get("tsb", {}).get(key):
                self.problem(
                    ("tsb", key),
                    f"no TSB {key} for this service",
                    f"set tsb.{key} in the environment ({self.env.source}) or the spec",
                )
        ingress = self._ingress(tenancy) if "ingress" in data else None
        acknowledged = data.get("acknowledge", {})
        for problem in acknowledgement_problems(
            acknowledged, lambda r: self.merged.locate(("acknowledge", r))
        ):
            self.problems.append(problem)
        argocd = _argo_app(data["argocd"], self.env.branch)
        if not argocd.repo_url:
            self.problem(("argocd", "repoURL"), "no GitOps repoURL", "set gitops.repoURL in the environment")
        selector = data.get("selector") or {"app": name}
        host = mesh.get("host") or name
        workload = None
        if (data.get("workload") or {}).get("manifests"):
            workload = self._adopted(canary)
        elif "workload" in data:
            workload = self._workload(canary, selector, host)
        if self.adopted and (workload is None or not workload.adopted):
            self.problem(
                ("workload",) if "workload" in data else ("name",),
                f"services/{name}/ holds the service's manifests, but the spec does not adopt them",
                "set workload.manifests: true, or move the folder away",
            )
        return Service(
            name=name,
            namespace=data["namespace"],
            env=self.env.name,
            cluster=self.env.cluster,
            selector=selector,
            host=host,
            port=mesh.get("port"),
            route_name=mesh.get("routeName", "primary"),
            own_virtual_service=mesh.get("virtualService", True),
            subsets=subsets,
            default_subset=default_subset,
            canary=canary,
            ingress=ingress,
            tenancy=tenancy,
            argocd=argocd,
            source=self.source,
            acknowledged=dict(acknowledged),
            workload=workload,
        )

    def _adopted(self, canary: Canary | None) -> Workload:
        """`workload.manifests`: the objects of services/<name>/ as they are, with the images the spec (or
        an environment) sets on the Deployment's containers, and the namespace where they give none."""
        raw = self.data["workload"]
        name = self.data["name"]
        for key in sorted(set(raw) - {"manifests", "name", "containers"}):
            self.problem(
                ("workload", key),
                f"with workload.manifests the Deployment is the one in services/{name}/",
                f"remove workload.{key}, or set it in the manifests",
            )
        objects = [copy.deepcopy(o.obj) for o in self.adopted]
        for obj in objects:
            obj["metadata"].setdefault("namespace", self.data["namespace"])
        deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
        wanted = canary.workload["name"] if canary is not None else raw.get("name")
        if wanted is None and len(deployments) == 1:
            wanted = next(iter(deployments))
        deployment = deployments.get(str(wanted)) if wanted is not None else None
        if not self.adopted:
            self.problem(
                ("workload", "manifests"), f"services/{name}/ holds no manifests", "add its YAML files"
            )
        elif deployment is None:
            self.problem(
                ("workload", "manifests"),
                f"services/{name}/ has no Deployment '{wanted}' (it has: "
                f"{', '.join(sorted(deployments)) or 'none'})",
                "the Rollout's workloadRef.name (or workload.name) names the Deployment",
            )
        containers = _items_of(deployment, "spec", "template", "spec", "containers") if deployment else []
        for container, fields in (raw.get("containers") or {}).items():
            extra = sorted(set(fields or {}) - {"image"})
            if extra:
                self.problem(
                    ("workload", "containers", container, extra[0]),
                    "with workload.manifests a container sets only its image",
                    "set the rest in the manifests",
                )
            matching = [c for c in containers if isinstance(c, dict) and c.get("name") == container]
            if deployment is not None and not matching:
                known = ", ".join(str(c.get("name")) for c in containers if isinstance(c, dict))
                self.problem(
                    ("workload", "containers", container),
                    f"the Deployment '{wanted}' of services/{name}/ has no container '{container}'",
                    f"its containers: {known or 'none'}",
                )
            for found in matching:
                if fields and "image" in fields:
                    found["image"] = fields["image"]
        return Workload(
            name=str(wanted),
            labels={},
            pod_labels={},
            replicas=0,
            service_account=None,
            service_name="",
            service_ports=(),
            containers=(),
            volumes=(),
            adopted=tuple(objects),
        )

    def _workload(self, canary: Canary | None, selector: Mapping[str, str], host: str) -> Workload:
        raw = self.data["workload"]
        name = raw.get("name")
        if canary is not None:
            ref = canary.workload
            if ref["kind"] != "Deployment" or ref["apiVersion"] != "apps/v1":
                self.problem(
                    ("workloadRef", "kind" if ref["kind"] != "Deployment" else "apiVersion"),
                    "gitops-gen renders the workload as an apps/v1 Deployment",
                    "remove workloadRef.kind and apiVersion, or the workload section",
                )
            if name is not None and name != ref["name"]:
                self.problem(
                    ("workload", "name"),
                    f"the Deployment is named '{name}' but the Rollout's workloadRef names '{ref['name']}'",
                    "set one of them: workloadRef.name defaults to workload.name",
                )
            name = ref["name"]
        containers = []
        for container, fields in (raw.get("containers") or {}).items():
            if not fields or "image" not in fields:
                self.problem(("workload", "containers", container), "a container needs an image")
                continue
            containers.append({"name": container, **_container_fields(fields)})
        if not containers:
            self.problem(
                ("workload", "containers"), "a workload needs containers", "add containers.<name>.image"
            )
        service = raw.get("service") or {}
        ports = tuple(
            {"port": p["port"], **({"name": p["name"]} if "name" in p else {}),
             **({"protocol": p["protocol"]} if "protocol" in p else {}),
             **({"targetPort": p["targetPort"]} if "targetPort" in p else {})}
            for p in service.get("ports") or ()
        )  # fmt: skip
        labels = {**selector, **(raw.get("labels") or {})}
        return Workload(
            name=name or self.data["name"],
            labels=labels,
            pod_labels=dict(raw.get("podLabels") or {}),
            replicas=raw.get("replicas", 1),
            service_account=raw.get("serviceAccount"),
            service_name=service.get("name") or (host if "." not in host else self.data["name"]),
            service_ports=ports,
            containers=tuple(containers),
            volumes=tuple(raw.get("volumes") or ()),
        )

    def _steps(self, canary: Mapping[str, Any]) -> tuple[Step, ...]:
        if "steps" in canary and ("weights" in canary or "pause" in canary):
            self.problem(
                ("canary", "weights" if "weights" in canary else "pause"),
                "give either canary.steps or the compact weights + pause, not both",
            )
            return ()
        if "steps" in canary:
            steps = []
            for raw in canary["steps"]:
                if "setWeight" in raw:
                    steps.append(Step(weight=raw["setWeight"]))
                else:
                    pause = raw["pause"]
                    steps.append(Step(pause=pause if isinstance(pause, str) else pause.get("duration", "")))
            weight_paths: list[tuple[str | int, ...]] = [
                ("canary", "steps", i, "setWeight") for i, s in enumerate(steps) if s.weight is not None
            ]
        elif "weights" in canary:
            pause = canary.get("pause", {})
            duration = pause if isinstance(pause, str) else pause.get("duration", "")
            steps = []
            for weight in canary["weights"]:
                steps.extend((Step(weight=weight), Step(pause=duration)))
            weight_paths = [("canary", "weights", i) for i in range(len(canary["weights"]))]
        else:
            self.problem(
                ("canary",), "a canary needs steps", "add canary.steps, or canary.weights and canary.pause"
            )
            return ()
        weights = [s.weight for s in steps if s.weight is not None]
        for index in range(1, len(weights)):
            previous, current = weights[index - 1], weights[index]
            if current is not None and previous is not None and current <= previous:
                self.problem(
                    weight_paths[index],
                    f"weight {current} does not increase on the previous {previous}",
                    "canary weights must be strictly increasing",
                )
        if not weights:
            self.problem(("canary",), "the steps never set a weight", "add setWeight steps")
        return tuple(steps)

    def _canary(self) -> Canary:
        data = self.data
        canary = data["canary"]
        steps = self._steps(canary)
        stable, canary_subset = canary["stableSubset"], canary["canarySubset"]
        if stable == canary_subset:
            self.problem(("canary", "canarySubset"), "the canary and stable subsets have the same name")
        label = canary["versionLabel"]
        if label in (data.get("selector") or {}):
            self.problem(
                ("selector", label),
                f"the selector pins '{label}', the label that tells canary from stable pods: "
                "the Rollout would not select its own canary pods",
                f"remove '{label}' from the selector",
            )
        workload = {"apiVersion": "apps/v1", "kind": "Deployment", **data.get("workloadRef", {})}
        workload.setdefault("name", data["name"])
        analysis = self._analysis(len(steps)) if "analysis" in data else None
        return Canary(
            rollout_name=canary.get("rolloutName") or f"{data['name']}-rollout",
            stable_subset=stable,
            canary_subset=canary_subset,
            version_label=canary["versionLabel"],
            steps=steps,
            replicas=data.get("replicas"),
            workload=workload,
            analysis=analysis,
        )

    def _analysis(self, step_count: int) -> Analysis:
        raw = self.data["analysis"]
        style = raw["queryStyle"]
        assert style in QUERY_STYLES
        starting = raw.get("startingStep")
        if starting is not None and step_count and starting >= step_count:
            self.problem(
                ("analysis", "startingStep"),
                f"step {starting} does not exist",
                f"the canary has steps 0 to {step_count - 1}",
            )
        apdex = raw.get("apdex", {"threshold": 0.99})
        checks = [
            MetricCheck(
                "apdex",
                "service_apdex",
                minimum=apdex.get("threshold", 0.99),
                condition=apdex.get("successCondition"),
            )
        ]
        # The style itself may not exist in this environment's OAP: said once, at the style.
        style_unsupported = style_problem(style, checks[0], self.env.oap_version)
        if style_unsupported:
            self.problem(
                ("analysis", "queryStyle"),
                style_unsupported,
                f"set skywalking.version in {self.env.source} if the OAP is newer, or use readMetricsValues",
            )
        names: dict[str, tuple[str | int, ...]] = {"apdex": ("analysis", "apdex")}
        for index, metric in enumerate(raw.get("metrics", [])):
            path: tuple[str | int, ...] = ("analysis", "metrics", index)
            check = MetricCheck(
                metric["name"],
                metric["metric"],
                metric.get("min"),
                metric.get("max"),
                metric.get("percentile"),
                metric.get("successCondition"),
            )
            if check.name in names:
                self.problem((*path, "name"), f"metric name '{check.name}' is used twice")
            names[check.name] = path
            if check.condition is None and check.minimum is None and check.maximum is None:
                self.problem(path, "a metric needs min, max or successCondition")
            if is_labeled(check.metric) and check.percentile is None and check.condition is None:
                self.problem(
                    (*path, "metric"), f"{check.metric} holds several percentiles", "set percentile: 99"
                )
            elif not style_unsupported and (problem := style_problem(style, check, self.env.oap_version)):
                self.problem((*path, "metric"), problem)
            if check.metric in SCALED_BY_10000:
                for bound_key in ("min", "max"):
                    value = metric.get(bound_key)
                    if value is not None and not 0 <= value <= 1:
                        self.problem(
                            (*path, bound_key),
                            f"{check.metric} bounds are fractions, got {value}",
                            fraction_hint(value) if value > 1 else "between 0 and 1",
                        )
            checks.append(check)
        address = raw.get("address") or self.env.skywalking_address
        # The environment's own address is checked once, where it is written (resolve_environment).
        if "address" in raw and address.rstrip("/").endswith("/graphql"):
            self.problem(
                ("analysis", "address"),
                f"address {address!r} ends in /graphql",
                "give the OAP address only: the SkyWalking provider appends /graphql itself",
            )
        return Analysis(
            template_name=raw.get("templateName") or f"{self.data['name']}-analysis",
            interval=raw["interval"],
            window=raw["window"],
            failure_limit=raw["failureLimit"],
            min_points=raw["minDataPoints"],
            style=style,
            address=address,
            starting_step=starting,
            checks=tuple(checks),
        )

    def _ingress(self, tenancy: Tenancy) -> Ingress | None:
        raw = self.data["ingress"]
        for key in ("gateway", "hosts", "paths"):
            if key not in raw:
                self.problem(("ingress", key), f"missing required key '{key}'")
        if any(key not in raw for key in ("gateway", "hosts", "paths")):
            return None
        known = [g.name for g in self.env.gateways]
        if raw["gateway"] not in known:
            self.problem(
                ("ingress", "gateway"),
                f"no gateway '{raw['gateway']}' in environment '{self.env.name}'",
                f"gateways: {', '.join(known)}" if known else f"add it to gateways in {self.env.source}",
            )
        if not tenancy.gateway_group:
            self.problem(
                ("tsb", "gatewayGroup"), "an ingress needs a TSB gateway group", "set tsb.gatewayGroup"
            )
        return Ingress(
            virtual_service=raw.get("virtualService") or f"{self.data['name']}-ingress",
            gateway=raw["gateway"],
            hosts=tuple(raw["hosts"]),
            paths=tuple(raw["paths"]),
        )


def acknowledgement_problems(
    acknowledged: Mapping[str, str], locate: Callable[[str], Location]
) -> list[Problem]:
    """Only warnings can be acknowledged, and only those of rules that exist."""
    if not acknowledged:
        return []
    from .rules import RULES  # the rule catalogue, imported only when there is something to check

    problems = []
    for rule_id in acknowledged:
        rule = RULES.get(rule_id)
        if rule is None:
            close = difflib.get_close_matches(rule_id, list(RULES), n=1)
            hint = f"did you mean '{close[0]}'?" if close else "see the rules table in the README"
            problems.append(Problem(locate(rule_id), f"no rule {rule_id}", hint))
        elif rule.severity != "warning":
            problems.append(
                Problem(
                    locate(rule_id),
                    f"{rule_id} ({rule.title}) is an error, and only warnings can be acknowledged",
                    "fix what it reports",
                )
            )
    return problems


def unknown_overrides(env_source: SourceFile, services: Mapping[str, Any]) -> list[Problem]:
    """An override in `services.<name>` for a service that has no spec is a mistake, not a no-op."""
    problems = []
    for name in env_source.data.get("services", {}) or {}:
        if name not in services:
            close = difflib.get_close_matches(name, list(services), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"no services/{name}.yaml"
            location = env_source.locate(("services", name), at_key=True)
            problems.append(
                Problem(
                    Location(location.path, location.line, location.column, f"services.{name}"),
                    f"override for unknown service '{name}'",
                    hint,
                )
            )
    return problems
