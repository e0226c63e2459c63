"""Synthetic config repos: a fleet of services in three environments on three clusters, deterministic.

Shared by the bench (scripts/bench.py, `make bench`) and tests/unit/test_fleet.py, so the fleet the tests
prove valid is the fleet the bench times. Standard library only: it writes YAML text, it never imports
the generator.

The environments: dev, staging and prod, each on its own cluster, with a hub Argo CD, a GitOps folder and
branch of their own, one shared TSB tenancy, an ingress gateway, and staging on an old SkyWalking OAP
(9.4.0: no MQE, so the services that use MQE are overridden back to readMetricsValues there).
"""

from __future__ import annotations

import random
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

HUB = "https://kubernetes.default.svc"
ENVIRONMENTS = {
    # name: (cluster, API server of that cluster as the hub Argo CD knows it, OAP release)
    "dev": ("dev-cluster", "https://dev.k8s.example.com", "10.4.0"),
    "staging": ("staging-cluster", "https://staging.k8s.example.com", "9.4.0"),
    "prod": ("prod-cluster", "https://prod.k8s.example.com", "10.2.0"),
}

# What a service spec can be, drawn with `rng.choice`: the unit test's even mix (its fleet of 41 services
# is pinned by the seed and this order), and the bench's, closer to a real fleet: ~20 % mesh-only, a few
# behind the ingress gateway, both query styles, extra metrics (SLA, response time, a p99 through MQE).
TEST_KINDS = ("steps", "compact", "mqe", "metrics", "mesh", "ingress")
BENCH_KINDS = (
    *["steps"] * 4,
    *["compact"] * 4,
    *["mqe"] * 3,
    *["metrics"] * 2,
    *["mqe-metrics"] * 2,
    *["mesh"] * 4,
    "ingress",
)

# Per-environment overrides the bench gives some canary services, nulls included (see the README,
# "How values are merged"): an HPA in prod, the compact form instead of the steps, a stricter Apdex, a
# failure limit back to its default.
PROD_OVERRIDES = (
    """\
    replicas: null
    analysis:
      apdex: {threshold: 0.995}
    canary:
      steps: null
      weights: [5, 25, 50]
      pause: 10m
""",
    """\
    replicas: 12
    analysis:
      interval: 1m
      failureLimit: null
""",
    """\
    analysis:
      minDataPoints: 3
""",
)
DEV_OVERRIDE = """\
    replicas: 1
"""


def environment(name: str) -> str:
    """The environment file of `name` (one of ENVIRONMENTS), without per-service overrides."""
    cluster, server, oap = ENVIRONMENTS[name]
    return textwrap.dedent(
        f"""\
        cluster: {cluster}
        gitops:
          repoURL: https://git.example.com/platform/gitops.git
          branch: release
          path: deploy/mesh
        skywalking:
          address: http://oap.istio-system:12800
          version: "{oap}"
        argocd:
          namespace: argo
          server: {server}
          project: mesh
        tsb:
          organization: acme
          tenant: payments
          workspace: payments-ws
          trafficGroup: payments-traffic
          securityGroup: payments-security
          gatewayGroup: payments-gateway
          tenancyNamespace: tsb-config
        gateways:
          - name: edge
            namespace: edge
            servers:
              - port: 443
                protocol: HTTPS
                hosts: [pay.example.com]
        defaults:
          namespace: payments
        """
    )


def service(name: str, rng: random.Random, kinds: Sequence[str] = TEST_KINDS) -> str:
    """One service spec of a kind drawn from `kinds`: mesh-only, behind the ingress, or a canary."""
    kind = rng.choice(kinds)
    lines = [f"name: {name}", f"namespace: {rng.choice(['payments', 'payments-batch'])}"]
    if kind == "mesh":
        return "\n".join([*lines, "mesh:", "  subsets:", "    - {name: v1, labels: {version: v1}}", ""])
    if kind == "ingress":
        lines += [
            "ingress:",
            "  gateway: edge",
            "  hosts: [pay.example.com]",
            f"  paths: [{{prefix: /{name}}}]",
        ]
    lines.append(f"replicas: {rng.randint(1, 9)}")
    if kind == "compact":
        lines += ["canary:", "  weights: [10, 30, 60]", "  pause: 5m"]
    else:
        lines += ["canary:", "  steps:"]
        lines += [f"    - {{setWeight: {w}}}\n    - {{pause: {p}m}}" for w, p in ((10, 10), (50, 5), (80, 5))]
    lines += ["analysis:", "  startingStep: 1", "  interval: 2m", "  window: 2m", "  failureLimit: 1"]
    if kind in ("mqe", "mqe-metrics"):
        lines.append("  queryStyle: mqe")
    if kind == "metrics":
        lines += ["  metrics:", "    - {name: latency, metric: service_resp_time, max: 400}"]
        lines += ["    - {name: sla, metric: service_sla, min: 0.995}"]
    if kind == "mqe-metrics":
        lines += ["  metrics:", "    - {name: sla, metric: service_sla, min: 0.995}"]
        lines += ["    - {name: latency, metric: service_resp_time, max: 400}"]
        lines += ["    - {name: p99-latency, metric: service_percentile, percentile: 99, max: 800}"]
    return "\n".join([*lines, ""])


def old_oap_overrides(specs: dict[str, str]) -> str:
    """The `services:` block an OAP without MQE (< 9.5) needs: readMetricsValues for every service that
    asks for MQE, and its metrics without the percentile (percentiles need MQE)."""
    lines = []
    for name, text in sorted(specs.items()):
        if "queryStyle: mqe" not in text:
            continue
        lines.append(f"  {name}:\n    analysis:\n      queryStyle: readMetricsValues\n")
        if "service_percentile" in text:
            metrics = [line for line in text.splitlines() if "metric: service_" in line]
            kept = [line for line in metrics if "percentile" not in line]
            lines.append("      metrics:\n" + "".join(f"    {line}\n" for line in kept))
    return "services:\n" + "".join(lines) if lines else ""


def service_names(count: int) -> list[str]:
    """svc-0000, svc-0001, ...: four digits, sorted as numbers."""
    return [f"svc-{i:04d}" for i in range(count)]


def write_fleet(config: Path, count: int, *, seed: int = 8) -> dict[str, str]:
    """A config repo of `count` services (BENCH_KINDS) in dev, staging and prod under `config`, the
    same bytes for the same `count` and `seed`; returns the service specs by name.

    Prod overrides about one canary service in four (the three PROD_OVERRIDES in turn), dev one in ten;
    staging overrides its MQE services back to readMetricsValues (old_oap_overrides)."""
    rng = random.Random(seed)
    specs = {name: service(name, rng, BENCH_KINDS) for name in service_names(count)}
    (config / "services").mkdir(parents=True)
    (config / "environments").mkdir()
    for name, text in specs.items():
        (config / "services" / f"{name}.yaml").write_text(text)
    canaries = [name for name, text in specs.items() if "canary:" in text]
    prod = [(name, PROD_OVERRIDES[i % len(PROD_OVERRIDES)]) for i, name in enumerate(canaries[::4])]
    dev = [(name, DEV_OVERRIDE) for name in canaries[1::10]]
    overrides = {
        "dev": _services_block(dev),
        "staging": old_oap_overrides(specs),
        "prod": _services_block(prod),
    }
    for env in ENVIRONMENTS:
        (config / "environments" / f"{env}.yaml").write_text(environment(env) + overrides[env])
    return specs


def _services_block(overrides: Iterable[tuple[str, str]]) -> str:
    body = "".join(f"  {name}:\n{text}" for name, text in overrides)
    return "services:\n" + body if body else ""
