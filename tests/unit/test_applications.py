"""The Argo CD side of a render: settings of `argocd`, `gitops` and `namespaces` in the environment, and
errors reported where they were written, once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.errors import InputError
from generator.render import render_all


def env_file(config: Path) -> Path:
    return config / "environments/demo.yaml"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def applications(config: Path) -> dict[str, Any]:
    return {m.name: m.obj for m in render_all(config) if m.kind == "Application"}


def test_the_defaults(example_config: Path) -> None:
    apps = applications(example_config)
    assert sorted(apps) == [
        "demo-details",
        "demo-gateways",
        "demo-namespaces",
        "demo-productpage",
        "demo-ratings",
        "demo-reviews",
        "demo-root",
        "demo-tsb",
    ]
    for name, app in apps.items():
        assert app["spec"]["source"]["targetRevision"] == "main"  # gitops.branch's default
        assert app["spec"]["syncPolicy"]["retry"] == {
            "limit": 10,
            "backoff": {"duration": "10s", "factor": 2, "maxDuration": "5m"},
        }
        assert app["spec"]["syncPolicy"]["syncOptions"] == ["ApplyOutOfSyncOnly=true"]
        finalizers = app["metadata"].get("finalizers")
        assert finalizers == (None if name == "demo-root" else ["resources-finalizer.argocd.argoproj.io"])


def test_finalizer_retry_and_respect_ignore_differences_are_settings(example_config: Path) -> None:
    edit(
        env_file(example_config),
        "skywalking:",
        "argocd:\n  finalizer: false\n  retry: {limit: -1, backoff: {duration: 5s}}\nskywalking:",
    )
    spec = example_config / "services/reviews.yaml"
    spec.write_text(spec.read_text() + "argocd:\n  respectIgnoreDifferences: true\n")
    apps = applications(example_config)
    assert all("finalizers" not in app["metadata"] for app in apps.values())
    assert apps["demo-ratings"]["spec"]["syncPolicy"]["retry"] == {
        "limit": -1,
        "backoff": {"duration": "5s", "factor": 2, "maxDuration": "5m"},
    }
    assert apps["demo-reviews"]["spec"]["syncPolicy"]["syncOptions"] == [
        "ApplyOutOfSyncOnly=true",
        "RespectIgnoreDifferences=true",
    ]
    # only a canary's Application has anything to respect
    assert "RespectIgnoreDifferences=true" not in apps["demo-ratings"]["spec"]["syncPolicy"]["syncOptions"]


def test_a_hub_argo_cd_deploys_to_the_environments_cluster(example_config: Path) -> None:
    edit(
        env_file(example_config),
        "skywalking:",
        "argocd:\n  server: https://spoke.example.com\n  hubServer: https://hub.example.com\nskywalking:",
    )
    apps = applications(example_config)
    assert apps["demo-root"]["spec"]["destination"] == {
        "server": "https://hub.example.com",
        "namespace": "argocd",
    }
    assert {app["spec"]["destination"]["server"] for name, app in apps.items() if name != "demo-root"} == {
        "https://spoke.example.com"
    }


def test_the_branch_is_the_target_revision(example_config: Path) -> None:
    edit(env_file(example_config), "  path: rendered\n", "  path: rendered\n  branch: release-2\n")
    assert {app["spec"]["source"]["targetRevision"] for app in applications(example_config).values()} == {
        "release-2"
    }


def test_a_target_revision_other_than_the_branch_is_an_error(example_config: Path) -> None:
    edit(env_file(example_config), "  path: rendered\n", "  path: rendered\n  targetRevision: HEAD\n")
    with pytest.raises(InputError) as caught:
        render_all(example_config)
    assert str(caught.value) == (
        "environments/demo.yaml:7:19: gitops.targetRevision: targetRevision 'HEAD' is not the branch 'main': "
        "Argo CD would sync another revision than the one `publish` commits to (remove targetRevision: "
        "Applications follow gitops.branch)"
    )


def test_namespaces_are_created_unless_someone_else_does(example_config: Path) -> None:
    manifests = render_all(example_config)
    namespace = next(m for m in manifests if m.kind == "Namespace")
    assert namespace.path == "demo/namespaces/bookinfo.yaml"
    assert namespace.obj["metadata"] == {
        "name": "bookinfo",
        "labels": {"istio-injection": "enabled"},
        "annotations": {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"},
    }
    edit(env_file(example_config), "defaults:", "namespaces:\n  create: false\ndefaults:")
    manifests = render_all(example_config)
    assert not [m for m in manifests if m.kind == "Namespace" or m.name == "demo-namespaces"]


def test_an_environment_value_is_reported_where_it_is_written_once(example_config: Path) -> None:
    edit(env_file(example_config), "http://oap.istio-system:12800", "http://oap.istio-system:12800/graphql")
    with pytest.raises(InputError) as caught:
        render_all(example_config)
    assert str(caught.value) == (
        "environments/demo.yaml:8:12: skywalking.address: address 'http://oap.istio-system:12800/graphql' "
        "ends in /graphql (give the OAP address only: the SkyWalking provider appends /graphql itself)"
    )


def test_a_mistake_repeated_for_every_environment_is_reported_once_naming_them(example_config: Path) -> None:
    demo = env_file(example_config).read_text()
    (example_config / "environments/prod.yaml").write_text(demo.replace("cp-cluster-1", "cp-cluster-2"))
    edit(example_config / "services/reviews.yaml", "startingStep: 2", "startingStep: 12")
    with pytest.raises(InputError) as caught:
        render_all(example_config)
    assert str(caught.value) == (
        "services/reviews.yaml:20:17: analysis.startingStep: step 12 does not exist [for reviews in "
        "environments demo, prod] (the canary has steps 0 to 9)"
    )


def test_an_unknown_oap_or_rollouts_version_is_a_located_error(example_config: Path) -> None:
    edit(
        env_file(example_config),
        "  address: http://oap.istio-system:12800\n",
        '  address: http://oap.istio-system:12800\n  version: "8.9.1"\nargoRollouts:\n  version: v2.0\n',
    )
    with pytest.raises(InputError) as caught:
        render_all(example_config)
    lines = str(caught.value).splitlines()
    assert lines[0].startswith(
        "environments/demo.yaml:9:12: skywalking.version: SkyWalking 8.9.1 is not supported"
    )
    assert lines[1] == (
        "environments/demo.yaml:11:12: argoRollouts.version: unknown Argo Rollouts version 'v2.0': expected "
        "one of v1.9, v1.10"
    )
