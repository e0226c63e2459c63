"""Hypothesis strategies for the property tests: valid config repos, and mutations of them.

A config is `{"services": {name: spec}, "environments": {env: data}}` of plain Python values; `write_config`
writes it as YAML (ruamel, YAML 1.2: the reader gitops-gen follows) and `read_config` reads it back as
ruamel's round-trip loader sees it, which is what the oracles judge.

`valid_configs()` draws only what service.schema.json, environment.schema.json and the README's "The spec
reference" / "How values are merged" say is valid, and what the model's documented checks accept (weights
strictly increasing, a startingStep inside the steps, a gateway that exists, MQE only on an OAP >= 9.5,
unique object names per cluster, ...). `mutated_configs()` then breaks such a config at random places.
"""

from __future__ import annotations

import copy
import io
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import event
from hypothesis import strategies as st
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]

# ---- reading and writing ------------------------------------------------------------------------------


def _writer() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = 4096
    return yaml


_WRITER = _writer()
_READER = YAML(typ="rt")


def dump_yaml(data: Any) -> str:
    stream = io.StringIO()
    _WRITER.dump(data, stream)
    return stream.getvalue()


def load_yaml(text: str) -> Any:
    return to_plain(_READER.load(text))


def to_plain(node: Any) -> Any:
    """ruamel's round-trip values as plain dict/list/str/int/float/bool/None. Not yamlio.to_plain: the
    oracle must see what the YAML says (`1:` stays an int key), not what gitops-gen makes of it."""
    if isinstance(node, dict):
        return {to_plain(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def write_config(config_dir: Path, config: dict[str, Any]) -> None:
    for folder in ("services", "environments"):
        (config_dir / folder).mkdir(parents=True, exist_ok=True)
        for name, data in config[folder].items():
            (config_dir / folder / f"{name}.yaml").write_text(dump_yaml(data), encoding="utf-8")


def read_config(config_dir: Path) -> dict[str, Any]:
    return {
        folder: {
            path.stem: load_yaml(path.read_text(encoding="utf-8"))
            for path in sorted((config_dir / folder).glob("*.yaml"))
        }
        for folder in ("services", "environments")
    }


def bundled_example() -> dict[str, Any]:
    """The bundled example (services/ and environments/ of the checkout), as data."""
    return read_config(ROOT)


# ---- valid configs ------------------------------------------------------------------------------------

SERVICE_NAMES = ("reviews", "ratings", "details", "productpage", "cart", "checkout", "search", "auth-v2")
ENV_NAMES = ("dev", "staging", "prod", "demo")
NAMESPACES = ("bookinfo", "shop", "payments-batch")
GATEWAY_NAMES = ("edge", "bookinfo-gateway")
HOSTS = ("bookinfo.tetrate.com", "pay.example.com", "shop.example.org")
# Every supported minor (9.0.x to 10.4.x), a patch release among them; None: the default (10.4.0).
OAP_VERSIONS = (None, "9.0.0", "9.2.0", "9.4.0", "9.5.0", "9.6.0", "9.7.0", "10.0.0", "10.2.1", "10.4.0")
ROLLOUTS_VERSIONS = (None, "v1.9", "v1.9.1", "1.9.1", "v1.10", "v1.10.0-rc1")
WARNING_RULES = ("GG308", "GG309", "GG310", "GG311", "GG501", "GG502", "GG503", "GG603")

dns_label = st.from_regex(r"\A[a-z]([-a-z0-9]{0,10}[a-z0-9])?\Z")
reason = st.sampled_from(["accepted on purpose", "the HPA owns replicas", "scaled down by hand", "ok ✓"])


@st.composite
def durations(draw: st.DrawFn, low: int = 1, high: int = 90) -> str:
    """A duration as the schema's pattern and Go's time.ParseDuration both take it: 30s, 10m, 1h30m."""
    unit = draw(st.sampled_from(["s", "m", "h"]))
    amount = draw(st.integers(low, high if unit != "h" else 3))
    text = f"{amount}{unit}"
    if unit == "h" and draw(st.booleans()):
        text += f"{draw(st.integers(1, 59))}m"
    return text


pauses = st.one_of(durations(), st.just({}), st.builds(lambda d: {"duration": d}, durations()))


@st.composite
def increasing_weights(draw: st.DrawFn, max_size: int = 5) -> list[int]:
    """Strictly increasing weights in 0..100 (GG401)."""
    weights = draw(st.lists(st.integers(0, 100), min_size=1, max_size=max_size, unique=True))
    return sorted(weights)


@st.composite
def canary_steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    """setWeight steps with increasing weights, with pauses between, before or after them."""
    steps: list[dict[str, Any]] = []
    for weight in draw(increasing_weights()):
        if draw(st.integers(0, 3)) == 0:
            steps.append({"pause": draw(pauses)})
        steps.append({"setWeight": weight})
        if draw(st.integers(0, 3)) > 0:
            steps.append({"pause": draw(pauses)})
    return steps


@st.composite
def canary_section(draw: st.DrawFn, compact: bool) -> dict[str, Any]:
    canary: dict[str, Any] = {}
    if compact:
        canary["weights"] = draw(increasing_weights())
        canary["pause"] = draw(pauses)
    else:
        canary["steps"] = draw(canary_steps())
    if draw(st.booleans()):
        stable, canary_subset = draw(st.lists(dns_label, min_size=2, max_size=2, unique=True))
        canary["stableSubset"], canary["canarySubset"] = stable, canary_subset
    if draw(st.integers(0, 4)) == 0:
        canary["versionLabel"] = draw(st.sampled_from(["version", "track", "app.kubernetes.io/version"]))
    return canary


@st.composite
def analysis_section(
    draw: st.DrawFn, name: str, step_count: int, mqe_ok: bool, template_name: str | None
) -> dict[str, Any]:
    analysis: dict[str, Any] = {}
    if template_name:
        analysis["templateName"] = template_name
    if draw(st.booleans()):
        analysis["startingStep"] = draw(st.integers(0, step_count - 1))  # GG402: inside the steps
    for key in ("interval", "window"):
        if draw(st.booleans()):
            analysis[key] = draw(durations(1, 10))
    if draw(st.booleans()):
        analysis["failureLimit"] = draw(st.integers(0, 5))
    if draw(st.booleans()):
        analysis["minDataPoints"] = draw(st.integers(1, 4))
    style = draw(st.sampled_from(["readMetricsValues", "mqe"] if mqe_ok else ["readMetricsValues"]))
    if style == "mqe" or draw(st.booleans()):
        analysis["queryStyle"] = style
    if draw(st.integers(0, 3)) == 0:
        analysis["address"] = draw(
            st.sampled_from(
                ["http://oap.istio-system:12800", "https://oap.example.com", "http://oap:12800/x"]
            )
        )
    if draw(st.booleans()):
        analysis["apdex"] = {"threshold": draw(st.sampled_from([0.5, 0.9, 0.99, 0.995, 1, 0.0001]))}
    metrics = []
    choices = ["sla", "resp", "cpm", *(["p99"] if style == "mqe" else [])]
    for kind in draw(st.lists(st.sampled_from(choices), max_size=3, unique=True)):
        if kind == "sla":
            metrics.append({"name": "sla", "metric": "service_sla", "min": draw(st.floats(0.5, 1))})
        elif kind == "resp":
            metrics.append(
                {"name": "latency", "metric": "service_resp_time", "max": draw(st.integers(1, 5000))}
            )
        elif kind == "cpm":
            metrics.append({"name": "traffic", "metric": "service_cpm", "min": draw(st.integers(1, 100))})
        else:
            percentile = draw(st.sampled_from([50, 75, 90, 95, 99]))
            metrics.append(
                {
                    "name": f"p{percentile}-latency",
                    "metric": "service_percentile",
                    "percentile": percentile,
                    "max": 800,
                }
            )
    if metrics:
        analysis["metrics"] = metrics
    return analysis


@st.composite
def service_spec(
    draw: st.DrawFn, name: str, kind: str, namespace: str, gateways: list[str], mqe_ok: bool
) -> dict[str, Any]:
    """One valid spec of `kind`: "mesh" (mesh-only), "canary", "compact" (weights + pause)."""
    spec: dict[str, Any] = {"name": name, "namespace": namespace}
    if draw(st.integers(0, 5)) == 0:
        spec["$schema"] = "../schemas/spec/service.schema.json"
    mesh: dict[str, Any] = {}
    if draw(st.booleans()):
        mesh["port"] = draw(st.integers(1, 65535))
    if draw(st.integers(0, 3)) == 0:  # unique per namespace: IST0109 otherwise
        mesh["host"] = draw(st.sampled_from([name, f"{name}.{namespace}.svc.cluster.local"]))
    ingress = bool(gateways) and draw(st.integers(0, 2)) == 0
    if kind == "mesh":
        if draw(st.booleans()):
            subsets = draw(st.lists(dns_label, min_size=1, max_size=3, unique=True))
            mesh["subsets"] = [{"name": s, "labels": {"version": s}} for s in subsets]
            if draw(st.booleans()):
                mesh["defaultSubset"] = draw(st.sampled_from(subsets))
        if ingress and draw(st.booleans()):
            mesh["virtualService"] = False  # reached only through the ingress, as productpage
        elif draw(st.integers(0, 3)) == 0:
            mesh["virtualService"] = True
    else:
        if draw(st.booleans()):
            mesh["routeName"] = draw(dns_label)
        canary = draw(canary_section(kind == "compact"))
        spec["canary"] = canary
        if draw(st.booleans()):
            canary["rolloutName"] = draw(st.sampled_from([f"{name}-rollout", f"{name}-canary", name]))
        label = canary.get("versionLabel", "version")
        if draw(st.integers(0, 3)) == 0:
            selector = {"app": name, "tier": draw(st.sampled_from(["web", "backend", "v1.2_x"]))}
            spec["selector"] = {k: v for k, v in selector.items() if k != label}
        if draw(st.booleans()):
            spec["replicas"] = draw(st.integers(0, 20))
        if draw(st.booleans()):
            kind_name = draw(st.sampled_from(["Deployment", "ReplicaSet", "PodTemplate"]))
            workload: dict[str, Any] = {
                "scaleDown": draw(st.sampled_from(["never", "onsuccess", "progressively"]))
            }
            if draw(st.booleans()):
                workload["kind"] = kind_name
                workload["apiVersion"] = "v1" if kind_name == "PodTemplate" else "apps/v1"
            if draw(st.booleans()):
                workload["name"] = draw(st.sampled_from([name, f"{name}.v1"]))
            spec["workloadRef"] = workload
        if draw(st.integers(0, 3)) > 0:
            step_count = len(canary["steps"]) if "steps" in canary else 2 * len(canary["weights"])
            template = draw(st.sampled_from([None, f"{name}-apdex", f"{name}.analysis"]))
            spec["analysis"] = draw(analysis_section(name, step_count, mqe_ok, template))
    if mesh:
        spec["mesh"] = mesh
    if ingress:
        paths = draw(
            st.lists(
                st.one_of(
                    st.builds(lambda p: {"exact": f"/{p}"}, dns_label),
                    st.builds(lambda p: {"prefix": f"/{p}"}, dns_label),
                    st.builds(lambda p: {"regex": f"^/{p}/[0-9]+$"}, dns_label),
                ),
                min_size=1,
                max_size=4,
                unique_by=lambda p: tuple(p.items()),  # a repeated match never matches (IST0130)
            )
        )
        spec["ingress"] = {
            "gateway": draw(st.sampled_from(gateways)),
            "hosts": draw(st.lists(st.sampled_from(HOSTS), min_size=1, max_size=2, unique=True)),
            "paths": paths,
        }
        if draw(st.booleans()):
            spec["ingress"]["virtualService"] = f"{name}-edge"  # never a service's own VirtualService name
    if draw(st.integers(0, 4)) == 0:
        spec["argocd"] = draw(service_argocd())
    if draw(st.integers(0, 4)) == 0:  # a group of its own, over the environment's tenancy
        spec["tsb"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "trafficGroup": st.just(f"{name}-traffic"),
                    "securityGroup": st.just(f"{name}-security"),
                    "gatewayGroup": st.just(f"{name}.gateway"),
                },
            )
        )
    if draw(st.integers(0, 4)) == 0:
        spec["acknowledge"] = draw(
            st.dictionaries(st.sampled_from(WARNING_RULES), reason, min_size=1, max_size=2)
        )
    return spec


@st.composite
def service_argocd(draw: st.DrawFn) -> dict[str, Any]:
    argocd: dict[str, Any] = {}
    if draw(st.booleans()):
        argocd["project"] = draw(st.sampled_from(["default", "mesh", "team-a"]))
    if draw(st.booleans()):
        argocd["syncPolicy"] = draw(
            st.fixed_dictionaries({}, optional={k: st.booleans() for k in ("automated", "prune", "selfHeal")})
        )
    if draw(st.booleans()):
        backoff = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "duration": durations(1, 30),
                    "factor": st.integers(1, 4),
                    "maxDuration": durations(1, 10),
                },
            )
        )
        argocd["retry"] = {"limit": draw(st.integers(-1, 20)), **({"backoff": backoff} if backoff else {})}
    if draw(st.booleans()):
        argocd["finalizer"] = draw(st.booleans())
    if draw(st.booleans()):
        argocd["respectIgnoreDifferences"] = draw(st.booleans())  # GG603 is a warning
    return argocd


@st.composite
def tsb_names(draw: st.DrawFn) -> dict[str, str]:
    """An environment's tenancy: DNS names, as the service schema's `tsb` requires of the same fields."""
    org = draw(st.sampled_from(["tetrate", "acme"]))
    tenant = draw(st.sampled_from(["bookinfo", "payments", "team.a"]))
    return {
        "organization": org,
        "tenant": tenant,
        "workspace": f"{tenant}-ws",
        "trafficGroup": f"{tenant}-traffic",
        "securityGroup": f"{tenant}-security",
        "gatewayGroup": f"{tenant}-gateway",
    }


@st.composite
def environment(
    draw: st.DrawFn,
    env: str,
    cluster: str,
    oap: str | None,
    gateways: list[str],
    namespaces: list[str],
    services: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    data: dict[str, Any] = {"cluster": cluster}
    gitops: dict[str, Any] = {
        "repoURL": draw(st.sampled_from(["https://git.example.com/gitops.git", "git@h:o/r"]))
    }
    if draw(st.booleans()):
        gitops["branch"] = draw(st.sampled_from(["main", "release", "env/prod"]))
        if draw(st.booleans()):
            gitops["targetRevision"] = gitops["branch"]  # may be given with that value only
    if draw(st.booleans()):
        gitops["path"] = draw(st.sampled_from(["rendered", "deploy/mesh", "a", "clusters/x.y"]))
    data["gitops"] = gitops
    data["skywalking"] = {
        "address": draw(st.sampled_from(["http://oap.istio-system:12800", "https://oap:443/"]))
    }
    if oap is not None:
        data["skywalking"]["version"] = oap
    rollouts = draw(st.sampled_from(ROLLOUTS_VERSIONS))
    if rollouts is not None:
        data["argoRollouts"] = {"version": rollouts}
    if draw(st.booleans()):
        argocd = draw(service_argocd())
        if draw(st.booleans()):
            argocd["namespace"] = draw(st.sampled_from(["argocd", "argo"]))
        if draw(st.booleans()):
            argocd["server"] = f"https://{cluster}.k8s.example.com"
        if draw(st.booleans()):
            argocd["hubServer"] = "https://kubernetes.default.svc"
        data["argocd"] = argocd
    tsb: dict[str, Any] = draw(tsb_names())
    # The TSB objects go into tsb.tenancyNamespace, or the workspace's one namespace (README).
    used = sorted({*namespaces, *(["edge"] if gateways else [])})
    if len(used) > 1 or draw(st.booleans()):
        tsb["tenancyNamespace"] = draw(st.sampled_from(["tsb-config", *used]))
    data["tsb"] = tsb
    if gateways:
        data["gateways"] = []
        for index, name in enumerate(gateways):
            gateway: dict[str, Any] = {
                "name": name,
                "namespace": "edge",
                "ingressGateway": f"tsb-gateway-{index}",  # an IngressGateway per gateway
                "servers": [
                    {"port": port, "hosts": draw(st.lists(st.sampled_from(HOSTS), min_size=1, unique=True))}
                    for port in draw(
                        st.lists(st.sampled_from([80, 443, 8080]), min_size=1, max_size=2, unique=True)
                    )
                ],
            }
            for server in gateway["servers"]:
                if draw(st.booleans()):
                    server["protocol"] = draw(
                        st.sampled_from(["HTTP", "HTTPS", "HTTP2", "GRPC", "TCP", "TLS"])
                    )
            if draw(st.booleans()):
                gateway["serviceType"] = draw(st.sampled_from(["LoadBalancer", "NodePort", "ClusterIP"]))
            if draw(st.integers(0, 3)) == 0:
                gateway["tsb"] = {"gatewayGroup": f"{tsb['tenant']}-gateway"}
            data["gateways"].append(gateway)
    if draw(st.booleans()):
        data["namespaces"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "create": st.booleans(),
                    "labels": st.sampled_from([{"istio-injection": "enabled"}, {"team": "a", "x.io/y": "1"}]),
                },
            )
        )
    if draw(st.booleans()):
        data["defaults"] = draw(defaults_layer(namespaces[0]))
    overrides = {name: draw(override_layer(spec)) for name, spec in services.items() if draw(st.booleans())}
    if overrides:
        data["services"] = overrides
    if draw(st.integers(0, 4)) == 0:
        data["acknowledge"] = draw(
            st.dictionaries(st.sampled_from(WARNING_RULES), reason, min_size=1, max_size=2)
        )
    return data


@st.composite
def defaults_layer(draw: st.DrawFn, namespace: str) -> dict[str, Any]:
    """`defaults`: what every service of the environment starts from (a partial spec)."""
    return draw(
        st.fixed_dictionaries(
            {},
            optional={
                "namespace": st.just(namespace),
                "argocd": service_argocd(),
                "acknowledge": st.dictionaries(
                    st.sampled_from(WARNING_RULES), reason, min_size=1, max_size=2
                ),
                "workloadRef": st.builds(lambda s: {"scaleDown": s}, st.sampled_from(["never", "onsuccess"])),
            },
        )
    )


@st.composite
def override_layer(draw: st.DrawFn, spec: dict[str, Any]) -> dict[str, Any]:
    """`services.<name>`: the README's kinds of override, nulls included (a null removes the value)."""
    override: dict[str, Any] = {}
    canary = spec.get("canary")
    if canary is not None:
        if draw(st.booleans()):
            override["replicas"] = draw(st.none() | st.integers(0, 30))
        if draw(st.booleans()):
            if "steps" in canary:  # a list always replaces: the compact form instead of the steps
                override["canary"] = {
                    "steps": None,
                    "weights": draw(increasing_weights()),
                    "pause": draw(pauses),
                }
            else:
                override["canary"] = {"weights": None, "pause": None, "steps": draw(canary_steps())}
            analysis = spec.get("analysis", {})
            if "startingStep" in analysis:  # the steps changed: keep startingStep inside them (GG402)
                override["analysis"] = {"startingStep": None}
        if "analysis" in spec and draw(st.booleans()):
            analysis_override = override.setdefault("analysis", {})
            if draw(st.booleans()):
                analysis_override["apdex"] = {"threshold": draw(st.sampled_from([0.95, 0.995]))}
            if draw(st.booleans()):
                analysis_override["failureLimit"] = draw(st.none() | st.integers(0, 4))
            if draw(st.booleans()):
                analysis_override["interval"] = draw(st.none() | durations(1, 5))
            if draw(st.booleans()):
                analysis_override["metrics"] = None
    else:
        if draw(st.booleans()):
            override["mesh"] = {"port": draw(st.none() | st.integers(1, 65535))}
    if draw(st.booleans()):
        override["argocd"] = draw(service_argocd())
    if "acknowledge" in spec and draw(st.booleans()):
        override["acknowledge"] = None
    return override


@st.composite
def valid_configs(draw: st.DrawFn) -> dict[str, Any]:
    """A config repo of 1-4 services in 1-3 environments, each environment on its own cluster."""
    env_names = draw(st.lists(st.sampled_from(ENV_NAMES), min_size=1, max_size=3, unique=True))
    oaps = {env: draw(st.sampled_from(OAP_VERSIONS)) for env in env_names}
    # MQE needs an OAP >= 9.5 in every environment the service runs in.
    mqe_ok = all(v is None or tuple(map(int, v.split("."))) >= (9, 5, 0) for v in oaps.values())
    gateways = draw(st.lists(st.sampled_from(GATEWAY_NAMES), max_size=2, unique=True))
    names = draw(st.lists(st.sampled_from(SERVICE_NAMES), min_size=1, max_size=4, unique=True))
    services = {}
    for name in names:
        kind = draw(st.sampled_from(["mesh", "canary", "compact"]))
        namespace = draw(st.sampled_from(NAMESPACES))
        services[name] = draw(service_spec(name, kind, namespace, gateways, mqe_ok))
    namespaces = sorted({s["namespace"] for s in services.values()})
    environments = {
        env: draw(environment(env, f"{env}-cluster", oaps[env], gateways, namespaces, services))
        for env in env_names
    }
    event(f"{len(services)} service(s) in {len(environments)} environment(s)")
    for feature, present in (
        ("a compact canary", any("weights" in s.get("canary", {}) for s in services.values())),
        ("an analysis", any("analysis" in s for s in services.values())),
        ("an ingress", any("ingress" in s for s in services.values())),
        ("overrides", any("services" in e for e in environments.values())),
        ("defaults", any("defaults" in e for e in environments.values())),
    ):
        if present:
            event(f"with {feature}")
    return {"services": services, "environments": environments}


# ---- mutations ----------------------------------------------------------------------------------------

LONG = 10_000
COMBINING = "e\u0301\u0302\u0303"
RTL = "\u202eabc\u202c \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627"
EMOJI = "🚀👩‍👩‍👧‍👦🏳️‍🌈"
CONTROL = "".join(chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r") + "\x7f\x85\u2028\u2029\ufeff"

# Any character but NUL (a file holding one is not text) and the surrogates (not encodable in UTF-8).
characters = st.characters(codec="utf-8", exclude_characters="\x00")
# Strings that become file names, object names, paths, URLs or template text somewhere.
path_like = st.sampled_from(
    [
        "../../../outside",
        "../x",
        "x/../../y",
        "/etc/passwd",
        "a/b",
        "..",
        ".",
        "~",
        "a\\b",
        "x/",
        "./x",
        "C:\\x",
    ]
)
nasty_text = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "a" * LONG,
            "é" * LONG,
            COMBINING,
            RTL,
            EMOJI,
            CONTROL,
            "x" + CONTROL + "y",
            "${HOME}",
            "{{ 7 * 7 }}",
            "{% raw %}",
            "null",
            "yes",
            "y",
            "n",
            "10 minutes",
            "0s",
            "1e3",
            "0o17",
            ".inf",
            "-",
            "---",
            "# not a comment",
            "'\"",
            "GG999",
            "GG101",
            "http://x/graphql",
            "ext::sh -c touch% /tmp/pwned",
            "--upload-pack=touch /tmp/pwned",
            "Ab",
            "a" * 64,
            "a." * 127 + "a",
        ]
    ),
    path_like,
    st.text(characters, max_size=40),
    st.text(characters, min_size=200, max_size=2000),
)
nasty_numbers = st.one_of(
    st.sampled_from([0, -1, -(2**63) - 1, 2**63, 2**64, 10**30, -(10**30), 101, 65536, 1.5, -0.0, 1e308]),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(),
    st.floats(),
)
scalars = st.one_of(st.none(), st.booleans(), nasty_numbers, nasty_text)
any_value = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(characters, max_size=8) | dns_label, inner, max_size=3)
    ),
    max_leaves=6,
)


def paths_of(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into `data` (the root `()` included), in document order."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths_of(value, (*prefix, index))
    return found


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def other_type(value: Any) -> st.SearchStrategy[Any]:
    """A value of another type than `value`: int <-> str <-> list <-> map <-> bool (and null, float)."""
    options: list[tuple[Callable[[Any], bool], st.SearchStrategy[Any]]] = [
        (lambda v: isinstance(v, bool), st.booleans()),
        (lambda v: isinstance(v, int) and not isinstance(v, bool), st.integers(-5, 200)),
        (lambda v: isinstance(v, float), st.floats(allow_nan=True)),
        (lambda v: isinstance(v, str), st.sampled_from(["5", "x", "true", "10m", "v1", "https://x"])),
        (lambda v: isinstance(v, list), st.lists(scalars, max_size=2)),
        (lambda v: isinstance(v, dict), st.dictionaries(dns_label, scalars, max_size=2)),
        (lambda v: v is None, st.none()),
    ]
    others = [strategy for is_type, strategy in options if not is_type(value)]
    # str(value) / [value] / {"k": value} keep the value and change only the type.
    if not isinstance(value, dict | list):
        others += [st.just(str(value)), st.just([value]), st.just({"value": value})]
    return st.one_of(others)


# Nulls and added fields twice as often: they are what a valid file most often grows.
MUTATIONS = (
    *("null", "add_field") * 2,
    *("type_swap", "delete", "unicode", "long_string", "number", "any", "extra_key"),
)

# ---- what the schemas allow where: for "add_field", a field the data does not have yet --------------------

_SCHEMAS = {
    name: json.loads((ROOT / "schemas" / "spec" / name).read_text(encoding="utf-8"))
    for name in ("service.schema.json", "environment.schema.json")
}
_ROOT_SCHEMA = {"services": "service.schema.json", "environments": "environment.schema.json"}


def _resolve(schema: Any, document: str) -> tuple[dict[str, Any], str]:
    """Follow `$ref`s (local or into the other schema file); pick the object branch of an anyOf/oneOf."""
    for _ in range(20):
        if not isinstance(schema, dict):
            return {}, document
        if isinstance(schema.get("$ref"), str):
            target_document, _, pointer = schema["$ref"].partition("#")
            document = target_document or document
            target: Any = _SCHEMAS[document]
            for part in pointer.strip("/").split("/") if pointer.strip("/") else ():
                target = target[part]
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            continue
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches and "properties" not in schema and "items" not in schema:
            rich = [
                b
                for b in branches
                if isinstance(b, dict) and ("$ref" in b or "properties" in b or "items" in b)
            ]
            if rich:
                schema = {**rich[0], **{k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}}
                continue
        return schema, document
    return {}, document


def schema_at(folder: str, path: tuple[Any, ...]) -> dict[str, Any]:
    """The schema of the value at `path` of a file of `folder` ({} where none is known)."""
    document = _ROOT_SCHEMA[folder]
    schema, document = _resolve(_SCHEMAS[document], document)
    for part in path:
        if isinstance(part, int):
            sub = schema.get("items", {})
        else:
            sub = schema.get("properties", {}).get(part, schema.get("additionalProperties", {}))
        schema, document = _resolve(sub, document)
    return schema


def addable_fields(folder: str, data: Any) -> list[tuple[tuple[Any, ...], str]]:
    """(path of a map, a property its schema knows that the map does not have), everywhere in `data`."""
    found = []
    for path in paths_of(data):
        value = _get(data, path)
        if isinstance(value, dict):
            found += [
                (path, key) for key in schema_at(folder, path).get("properties", {}) if key not in value
            ]
    return found


@st.composite
def mutate_once(draw: st.DrawFn, config: dict[str, Any]) -> str:
    """Apply one mutation in place to one file of `config`; returns what was done (for the failure note).

    Where and which mutation are picked evenly (a `random.Random` Hypothesis controls: `sampled_from`
    prefers the first elements, the file's root and its first keys, which break everything at once)."""
    pick = draw(st.randoms(use_true_random=False))
    folder = pick.choice(["environments", "services"])
    name = pick.choice(sorted(config[folder]))
    data = config[folder][name]
    kind = pick.choice(MUTATIONS)
    event(f"mutation {kind} in {folder}")
    if kind == "add_field":
        addable = addable_fields(folder, data)
        if addable:
            where, key = pick.choice(addable)
            known = sorted(schema_at(folder, (*where, key)).get("properties", {}))
            value = draw(
                st.one_of(
                    st.none(),
                    st.none(),
                    scalars,
                    any_value,
                    st.dictionaries(st.sampled_from(known) if known else dns_label, scalars, max_size=3),
                )
            )
            _get(data, where)[key] = value
            return f"{folder}/{name}.yaml {[*where, key]}: add_field -> {_shown(value)}"
        kind = "any"
    path = pick.choice(paths_of(data))
    old = _get(data, path)
    if kind == "delete" and path:
        new: Any = _DELETE
    elif kind == "type_swap" or (kind == "delete" and not path):
        new = draw(other_type(old))
    elif kind == "null":
        new = None
    elif kind == "long_string":
        new = draw(
            st.sampled_from(["a" * LONG, "ü" * LONG, f"{old}" * max(1, LONG // max(1, len(str(old))))])
        )
    elif kind == "unicode":
        new = draw(nasty_text)
        if isinstance(old, str) and draw(st.booleans()):
            new = old + new if draw(st.booleans()) else new + old
    elif kind == "number":
        new = draw(nasty_numbers)
    elif kind == "extra_key":
        if not isinstance(old, dict):
            new = draw(any_value)
        else:
            new = {**old, draw(st.text(characters, max_size=12) | dns_label): draw(any_value)}
    else:
        new = draw(any_value)
    if not path:
        config[folder][name] = new
    else:
        parent = _get(data, path[:-1])
        if new is _DELETE:
            del parent[path[-1]]
        else:
            parent[path[-1]] = new
    return (
        f"{folder}/{name}.yaml {list(path)}: {kind} -> {_shown(new if new is not _DELETE else '<deleted>')}"
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 80 else text[:77] + "..."


_DELETE = object()


@st.composite
def mutated_configs(
    draw: st.DrawFn, bases: st.SearchStrategy[dict[str, Any]]
) -> tuple[dict, dict, list[str]]:
    """(the valid base, a copy with 1-3 mutations, what was done)."""
    base = draw(bases)
    mutated = copy.deepcopy(base)
    done = [draw(mutate_once(mutated)) for _ in range(draw(st.integers(1, 3)))]
    return base, mutated, done
