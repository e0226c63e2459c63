"""A fleet, not the demo: generated config repos with several environments on several clusters, a hub
Argo CD, a GitOps folder and branch of their own, an old SkyWalking OAP in one environment, and the
README's prod overrides (nulls included). Everything renders, validates, and agrees across environments."""

from __future__ import annotations

import random
import re
import shutil
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from generator.checks import check_paths, check_render
from generator.errors import InputError
from generator.render import render_all, render_environments
from generator.resources import data_dir
from generator.tree import apply_plan, plan_tree
from generator.validate import BuiltinValidator

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # bench/ is not installed: the fleet generator the bench times too
from bench.fleet import ENVIRONMENTS, HUB, environment, old_oap_overrides, service  # noqa: E402

README = (ROOT / "README.md").read_text()
PROD_OVERRIDES = README.split("For example, in `environments/prod.yaml`:\n\n```yaml\n", 1)[1].split("```", 1)[
    0
]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = tmp_path_factory.mktemp("fleet")
    rng = random.Random(7)
    (config / "services").mkdir()
    (config / "environments").mkdir()
    specs = {f"svc-{i:03d}": service(f"svc-{i:03d}", rng) for i in range(40)}
    specs["reviews"] = (
        (ROOT / "services/reviews.yaml").read_text().replace("namespace: bookinfo", "namespace: payments")
    )
    for name, text in specs.items():
        (config / "services" / f"{name}.yaml").write_text(text)
    # staging's OAP (9.4.0) has no MQE: the services that use it read their metrics the old way there.
    old_style = old_oap_overrides(specs)
    assert "queryStyle: readMetricsValues" in old_style
    for name in ENVIRONMENTS:
        text = environment(name) + {"prod": PROD_OVERRIDES, "staging": old_style}.get(name, "")
        (config / "environments" / f"{name}.yaml").write_text(text)
    return config


@pytest.fixture(scope="module")
def manifests(fleet: Path) -> list[Any]:
    return render_all(fleet)


def test_the_fleet_renders_and_validates_without_errors(fleet: Path) -> None:
    rendered = render_environments(fleet)
    result = check_render(rendered, BuiltinValidator(), "deploy/mesh")
    assert result.errors == 0, "\n".join(str(f) for f in result.findings if f.severity == "error")
    # One Application per service and environment, plus root, namespaces, tsb and gateways each.
    assert sum(m.kind == "Application" for m in rendered.manifests) == 3 * (41 + 4)


def test_applications_follow_the_branch_and_the_folder(manifests: list[Any]) -> None:
    for app in (m.obj for m in manifests if m.kind == "Application"):
        assert app["spec"]["source"]["targetRevision"] == "release"
        assert app["spec"]["source"]["path"].startswith("deploy/mesh/")
        assert app["spec"]["project"] == "mesh"
        assert app["spec"]["syncPolicy"]["retry"]["limit"] == 10
        assert "argocd.argoproj.io/sync-wave" not in app["metadata"].get("annotations", {})


def test_the_root_lives_on_the_hub_and_the_children_deploy_to_their_cluster(manifests: list[Any]) -> None:
    for m in (m for m in manifests if m.kind == "Application"):
        app, (_, server, _) = m.obj, ENVIRONMENTS[m.env]
        assert app["metadata"]["namespace"] == "argo"
        if app["metadata"]["name"] == f"{m.env}-root":
            assert app["spec"]["destination"] == {"server": HUB, "namespace": "argo"}
            assert "finalizers" not in app["metadata"]  # deleting the root must not delete the environment
        else:
            assert app["spec"]["destination"]["server"] == server
            assert app["metadata"]["finalizers"] == ["resources-finalizer.argocd.argoproj.io"]


def test_shared_tenancy_is_the_same_object_in_every_environment(manifests: list[Any]) -> None:
    texts: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for m in manifests:
        if m.obj["apiVersion"].split("/")[0].endswith("tetrate.io") and m.kind != "IngressGateway":
            texts[(m.obj["apiVersion"], m.kind, m.name)].add(m.text)
    assert len(texts) == 5  # Tenant, Workspace, three Groups
    assert all(len(versions) == 1 for versions in texts.values()), texts
    workspace = yaml.safe_load(next(iter(texts[("tsb.tetrate.io/v2", "Workspace", "payments-ws")])))
    assert workspace["spec"]["namespaceSelector"]["names"] == [
        f"{cluster}/{ns}"
        for cluster in sorted(c for c, _, _ in ENVIRONMENTS.values())
        for ns in ("edge", "payments", "payments-batch")
    ]


def test_every_namespace_is_created_once_per_cluster(manifests: list[Any]) -> None:
    namespaces = sorted((m.env, m.name) for m in manifests if m.kind == "Namespace")
    used = {"edge", "payments", "payments-batch", "tsb-config"}
    assert namespaces == sorted((env, ns) for env in ENVIRONMENTS for ns in used)


def test_the_old_oap_gets_queries_and_conditions_it_accepts(manifests: list[Any]) -> None:
    for m in (m for m in manifests if m.kind == "AnalysisTemplate"):
        for metric in m.obj["spec"]["metrics"]:
            query = metric["provider"]["skywalking"]["query"]
            if m.env == "staging":  # SkyWalking 9.4.0: no isEmptyValue, no MQE
                assert "isEmptyValue" not in query and "execExpression" not in query
            elif "readMetricsValues" in query:
                assert "isEmptyValue" in query


def test_mqe_in_an_environment_whose_oap_is_too_old_is_a_located_error(fleet: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(fleet, config)
    staging = config / "environments/staging.yaml"
    staging.write_text(environment("staging"))  # without the overrides back to readMetricsValues
    with pytest.raises(InputError) as caught:
        render_all(config, envs=["staging"])
    first = str(caught.value).splitlines()[0]
    assert re.fullmatch(
        r"services/svc-\d{3}\.yaml:\d+:15: analysis\.queryStyle: queryStyle mqe needs SkyWalking >= 9\.5\.0 "
        r"\(execExpression\); this environment says 9\.4\.0 \(set skywalking\.version in "
        r"environments/staging\.yaml if the OAP is newer, or use readMetricsValues\)",
        first,
    )


def test_the_readme_prod_overrides_apply_in_prod_only(manifests: list[Any]) -> None:
    rollouts = {m.env: m.obj for m in manifests if m.kind == "Rollout" and m.service == "reviews"}
    assert "replicas" not in rollouts["prod"]["spec"] and rollouts["dev"]["spec"]["replicas"] == 5
    weights = [
        s["setWeight"] for s in rollouts["prod"]["spec"]["strategy"]["canary"]["steps"] if "setWeight" in s
    ]
    assert weights == [5, 25, 50]


def test_the_readme_prod_overrides_pass_an_editors_schema_check(fleet: Path) -> None:
    """An editor checks the file as written, nulls included, against the published schema."""
    schemas = data_dir("schemas") / "spec"
    registry: Registry = Registry().with_resources(
        (name, Resource.from_contents(yaml.safe_load((schemas / name).read_text())))
        for name in ("service.schema.json", "environment.schema.json")
    )
    schema = yaml.safe_load((schemas / "environment.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema, registry=registry)
    document = yaml.safe_load((fleet / "environments/prod.yaml").read_text())
    assert document["services"]["reviews"]["replicas"] is None
    assert [e.message for e in validator.iter_errors(document)] == []


def test_validate_resolves_application_paths_in_a_tree_of_any_folder(fleet: Path, tmp_path: Path) -> None:
    """gitops.path is deploy/mesh, but the tree is written (or checked out) somewhere else: the index
    records where it sits, so GG601 still finds every Application's folder."""
    out = tmp_path / "somewhere" / "else"
    apply_plan(plan_tree(out, render_all(fleet)))
    result = check_paths([out], BuiltinValidator())
    assert [str(f) for f in result.findings if f.rule == "GG601"] == []
    assert result.errors == 0


def test_two_environments_on_one_cluster_must_not_render_the_same_object(fleet: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "environments").mkdir(parents=True)
    (config / "services").mkdir()
    (config / "services/reviews.yaml").write_text((fleet / "services/reviews.yaml").read_text())
    (config / "environments/dev.yaml").write_text(environment("dev"))
    (config / "environments/qa.yaml").write_text(environment("dev"))  # same cluster, same namespaces
    with pytest.raises(InputError) as caught:
        render_all(config)
    assert (
        "services/reviews.yaml:1:1: Rollout 'reviews-rollout' in namespace 'payments' is rendered by "
        "environments 'dev' and 'qa', both on cluster 'dev-cluster': two Argo CD Applications would own it"
    ) in str(caught.value)
