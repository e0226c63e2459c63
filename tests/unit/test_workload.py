"""The `workload` section: the Deployment, ServiceAccount and Service it renders, how environments override one
container's image, what the model refuses, and what Argo CD must ignore when Argo Rollouts scales the
Deployment down (the golden test holds the bundled example to the demo's application/bookinfo.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.checks import check_paths
from generator.errors import InputError
from generator.render import render_all
from generator.validate import BuiltinValidator

ROOT = Path(__file__).resolve().parents[2]


def objects(config: Path, env: str = "demo") -> dict[tuple[str, str], Any]:
    return {(m.kind, m.obj["metadata"]["name"]): m.obj for m in render_all(config, [env])}


def add_environment(config: Path, name: str, cluster: str, extra: str) -> None:
    demo = (config / "environments/demo.yaml").read_text()
    (config / f"environments/{name}.yaml").write_text(demo.replace("cp-cluster-1", cluster) + extra)


def test_an_environment_overrides_one_containers_image(example_config: Path) -> None:
    add_environment(
        example_config,
        "prod",
        "prod-cluster",
        "services:\n  reviews:\n    workload:\n      containers:\n        reviews:\n"
        "          image: docker.io/istio/examples-bookinfo-reviews-v2:1.16.4\n",
    )
    demo = objects(example_config)[("Deployment", "reviews")]
    prod = objects(example_config, "prod")[("Deployment", "reviews")]
    (demo_container,) = demo["spec"]["template"]["spec"]["containers"]
    (prod_container,) = prod["spec"]["template"]["spec"]["containers"]
    assert demo_container["image"] == "docker.io/istio/examples-bookinfo-reviews-v1:1.16.4"
    assert prod_container == {
        **demo_container,
        "image": "docker.io/istio/examples-bookinfo-reviews-v2:1.16.4",
    }


def test_the_rendered_workload_is_synced_by_the_services_application(example_config: Path) -> None:
    rendered = {m.path: m for m in render_all(example_config, ["demo"])}
    folder = "demo/services/bookinfo/reviews"
    assert {p.rpartition("/")[2] for p in rendered if p.startswith(folder + "/")} == {
        "analysistemplate.yaml",
        "deployment.yaml",
        "destinationrule.yaml",
        "rollout.yaml",
        "service.yaml",
        "serviceaccount.yaml",
        "virtualservice.yaml",
    }
    app = rendered["demo/argocd/apps/demo-reviews.yaml"].obj
    assert app["spec"]["source"]["path"] == f"rendered/{folder}"


@pytest.mark.parametrize("scale_down", ["onsuccess", "progressively"])
def test_a_deployment_argo_rollouts_scales_is_ignored_on_its_replicas(
    example_config: Path, scale_down: str
) -> None:
    spec = example_config / "services/reviews.yaml"
    spec.write_text(spec.read_text() + f"workloadRef:\n  scaleDown: {scale_down}\n")
    app = objects(example_config)[("Application", "demo-reviews")]
    assert app["spec"]["ignoreDifferences"][0] == {
        "group": "apps",
        "kind": "Deployment",
        "name": "reviews",
        "namespace": "bookinfo",
        "jsonPointers": ["/spec/replicas"],
    }


def test_never_scaled_deployments_are_not_ignored(example_config: Path) -> None:
    app = objects(example_config)[("Application", "demo-reviews")]
    assert all(entry["kind"] != "Deployment" for entry in app["spec"]["ignoreDifferences"])


def test_gg602_asks_for_the_deployments_replicas_when_scaled(example_config: Path, tmp_path: Path) -> None:
    spec = example_config / "services/reviews.yaml"
    spec.write_text(spec.read_text() + "workloadRef:\n  scaleDown: onsuccess\n")
    out = tmp_path / "out"
    from click.testing import CliRunner

    from generator.cli import cli

    result = CliRunner().invoke(
        cli, ["render", "--config", str(example_config), "--out", str(out), "--no-cache"]
    )
    assert result.exit_code == 0, result.output
    app = out / "demo/argocd/apps/demo-reviews.yaml"
    text = app.read_text()
    start = text.index("  - group: apps\n")
    end = text.index("  - group: networking.istio.io\n")
    app.write_text(text[:start] + text[end:])
    findings = [f for f in check_paths([out], BuiltinValidator()).findings if f.rule == "GG602"]
    (finding,) = findings
    assert "the Deployment's replicas (workloadRef.scaleDown) of Deployment 'reviews'" in finding.message
    assert "jsonPointers: /spec/replicas" in finding.message


@pytest.mark.parametrize(
    ("addition", "message"),
    [
        (
            "      image: null\n",
            "workload.containers.reviews: a container needs an image",
        ),
        (
            "  name: reviews-v1\n",
            "workload.name: the Deployment is named 'reviews-v1' but the Rollout's workloadRef names 'reviews'",
        ),
    ],
)
def test_the_model_refuses_a_workload_it_cannot_render(
    example_config: Path, addition: str, message: str
) -> None:
    spec = example_config / "services/reviews.yaml"
    text = spec.read_text()
    if addition.startswith("      image"):
        env = example_config / "environments/demo.yaml"
        env.write_text(
            env.read_text() + "services:\n  reviews:\n    workload: {containers: {reviews: {image: null}}}\n"
        )
    else:
        spec.write_text(text.replace("workload:  ", "workload:\n" + addition + "#", 1))
    with pytest.raises(InputError) as raised:
        render_all(example_config, ["demo"])
    assert any(message in str(p) for p in raised.value.problems), [str(p) for p in raised.value.problems]


def test_another_workload_kind_cannot_be_rendered(example_config: Path) -> None:
    spec = example_config / "services/reviews.yaml"
    spec.write_text(spec.read_text() + "workloadRef:\n  kind: ReplicaSet\n")
    with pytest.raises(InputError) as raised:
        render_all(example_config, ["demo"])
    (problem,) = raised.value.problems
    assert str(problem).startswith("services/reviews.yaml:")
    assert "workloadRef.kind: gitops-gen renders the workload as an apps/v1 Deployment" in str(problem)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("Docker.io/Istio/Reviews:1", "the repository path must be lower case"),
        ("reviews:", "is no image reference"),
        ("reviews@sha256:abc", "is no image reference"),
        ("reviews@sha256:" + "A" * 64, "is no sha256 digest"),
    ],
)
def test_a_bad_image_is_refused_where_it_is_written(example_config: Path, image: str, message: str) -> None:
    spec = example_config / "services/reviews.yaml"
    spec.write_text(
        spec.read_text().replace("docker.io/istio/examples-bookinfo-reviews-v1:1.16.4", f"'{image}'")
    )
    with pytest.raises(InputError) as raised:
        render_all(example_config, ["demo"])
    (problem,) = raised.value.problems
    line = next(i for i, text in enumerate(spec.read_text().splitlines(), 1) if f"'{image}'" in text)
    assert str(problem).startswith(f"services/reviews.yaml:{line}:14: workload.containers.reviews.image: ")
    assert message in str(problem)


# ---- adopted manifests: services/<name>/*.yaml ------------------------------------------------------------

DEMO_APP = ROOT / "tests/fixtures/demo/application/bookinfo.yaml"


def adopt_reviews(config: Path) -> Path:
    """reviews takes the demo's own Service, ServiceAccount and Deployment of it instead of rendering them."""
    demo = DEMO_APP.read_text()
    folder = config / "services/reviews"
    folder.mkdir()
    (folder / "app.yaml").write_text(
        demo[demo.index("# Reviews service") : demo.index("# Productpage services")]
    )
    spec = config / "services/reviews.yaml"
    text = spec.read_text()
    spec.write_text(text[: text.index("\nworkload:") + 1] + "workload:\n  manifests: true\n")
    return folder


def test_adopted_manifests_are_written_as_they_are_and_synced(example_config: Path) -> None:
    adopt_reviews(example_config)
    rendered = {m.path: m for m in render_all(example_config, ["demo"])}
    folder = "demo/services/bookinfo/reviews"
    demo = {(o["kind"], o["metadata"]["name"]): o for o in yaml_documents(DEMO_APP) if o}
    for kind, name in (
        ("Deployment", "reviews"),
        ("Service", "reviews"),
        ("ServiceAccount", "bookinfo-reviews"),
    ):
        manifest = rendered[f"{folder}/{kind.lower()}-{name}.yaml"]
        expected = {**demo[(kind, name)]}
        expected["metadata"] = {**expected["metadata"], "namespace": "bookinfo"}
        assert manifest.obj == expected
    assert f"{folder}/deployment.yaml" not in rendered  # nothing of the rendered form


def test_the_spec_or_an_environment_sets_an_adopted_containers_image(example_config: Path) -> None:
    adopt_reviews(example_config)
    spec = example_config / "services/reviews.yaml"
    spec.write_text(
        spec.read_text()
        + "  containers:\n    reviews: {image: docker.io/istio/examples-bookinfo-reviews-v2:1.16.4}\n"
    )
    add_environment(
        example_config,
        "prod",
        "prod-cluster",
        "services:\n  reviews:\n    workload:\n      containers:\n        reviews:\n"
        "          image: docker.io/istio/examples-bookinfo-reviews-v3:1.16.4\n",
    )
    images = {
        env: objects(example_config, env)[("Deployment", "reviews")]["spec"]["template"]["spec"][
            "containers"
        ][0]["image"]
        for env in ("demo", "prod")
    }
    assert images == {
        "demo": "docker.io/istio/examples-bookinfo-reviews-v2:1.16.4",
        "prod": "docker.io/istio/examples-bookinfo-reviews-v3:1.16.4",
    }


def test_an_edit_of_an_adopted_file_is_rendered_again_from_the_cache(
    example_config: Path, tmp_path: Path
) -> None:
    from generator.cache import RenderCache
    from generator.render import render_environments

    folder = adopt_reviews(example_config)
    cache = RenderCache(tmp_path / "cache")
    first = render_environments(example_config, ["demo"], cache=cache).selected
    (folder / "app.yaml").write_text((folder / "app.yaml").read_text().replace("replicas: 1", "replicas: 0"))
    second = {m.path: m for m in render_environments(example_config, ["demo"], cache=cache).selected}
    assert second["demo/services/bookinfo/reviews/deployment-reviews.yaml"].obj["spec"]["replicas"] == 0
    assert {m.path for m in first} == set(second)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("unadopted", "services/reviews.yaml:"),
        (
            "other-key",
            "workload.serviceAccount: with workload.manifests the Deployment is the one in services/reviews/",
        ),
        (
            "container-field",
            "workload.containers.reviews.env: with workload.manifests a container sets only its image",
        ),
        (
            "unknown-container",
            "workload.containers.ratings: the Deployment 'reviews' of services/reviews/ has no container 'ratings' (its containers: reviews)",
        ),
        ("no-deployment", "workload.manifests: services/reviews/ has no Deployment 'reviews' (it has: none)"),
        ("not-an-object", "services/reviews/app.yaml:1:1: document 4 is not a Kubernetes object"),
        ("bad-yaml", "services/reviews/broken.yaml:1:5: YAML syntax error"),
    ],
)
def test_what_cannot_be_adopted_is_a_located_error(example_config: Path, change: str, message: str) -> None:
    folder = adopt_reviews(example_config)
    spec = example_config / "services/reviews.yaml"
    app = folder / "app.yaml"
    if change == "unadopted":
        spec.write_text(spec.read_text().replace("workload:\n  manifests: true\n", ""))
    elif change == "other-key":
        spec.write_text(spec.read_text() + "  serviceAccount: bookinfo-reviews\n")
    elif change == "container-field":
        spec.write_text(spec.read_text() + "  containers:\n    reviews: {image: reviews:2, env: {A: b}}\n")
    elif change == "unknown-container":
        spec.write_text(spec.read_text() + "  containers:\n    ratings: {image: ratings:2}\n")
    elif change == "no-deployment":
        text = app.read_text()
        app.write_text(text[: text.index("apiVersion: apps/v1")])
    elif change == "not-an-object":
        app.write_text(app.read_text() + "---\n- a list\n")
    else:
        (folder / "broken.yaml").write_text("a: b: c\n")
    with pytest.raises(InputError) as raised:
        render_all(example_config, ["demo"])
    assert any(message in str(p) for p in raised.value.problems), [str(p) for p in raised.value.problems]


def yaml_documents(path: Path) -> list[Any]:
    import yaml

    return list(yaml.safe_load_all(path.read_text()))


def test_a_changed_adopted_file_is_its_services_change(example_config: Path) -> None:
    from generator.changes import Selection, affected

    folder = adopt_reviews(example_config)
    selections = affected(example_config, example_config / "rendered", [folder / "app.yaml"])
    assert selections == [Selection(services=("reviews",), with_environments=True)]
