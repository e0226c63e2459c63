"""generator/release.py and generator/yaml_edit.py: the in-place edit (one line changed, or only lines
added), planning a release or a promotion (every problem located, nothing read twice or written), the
render of the edited config, image_changes, and the same on a generated fleet."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import pytest
import yaml

from generator.errors import InputError
from generator.release import (
    ImageChange,
    check_edits,
    image_changes,
    plan_promote,
    plan_release,
    short_images,
    write_edits,
)
from generator.render import render_environments
from generator.yaml_edit import EditError, scalar_text, set_scalar

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench.fleet import write_fleet  # noqa: E402

V1 = "docker.io/istio/examples-bookinfo-reviews-v1:1.16.4"
V2 = "docker.io/istio/examples-bookinfo-reviews-v2:1.16.4"
IMAGE = ("workload", "containers", "reviews", "image")
OVERRIDE = ("services", "reviews", *IMAGE)


def opcodes(old: str, new: str) -> list[tuple[str, int, int, int, int]]:
    matcher = difflib.SequenceMatcher(None, old.splitlines(True), new.splitlines(True), autojunk=False)
    return [op for op in matcher.get_opcodes() if op[0] != "equal"]


def numstat(old: str, new: str) -> tuple[int, int]:
    """(added, removed) lines, as `git diff --numstat` counts them."""
    lines = list(difflib.ndiff(old.splitlines(True), new.splitlines(True)))
    return sum(1 for x in lines if x.startswith("+ ")), sum(1 for x in lines if x.startswith("- "))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def add_prod(config: Path) -> None:
    """A second environment, on its own cluster, without overrides."""
    demo = (config / "environments" / "demo.yaml").read_text()
    (config / "environments" / "prod.yaml").write_text(demo.replace("cp-cluster-1", "cp-cluster-2"))


# ---- the edit -----------------------------------------------------------------------------------------


def test_an_existing_value_changes_on_its_line_only() -> None:
    old = (ROOT / "services" / "reviews.yaml").read_text()
    edited = set_scalar(old, IMAGE, V2, "services/reviews.yaml")
    assert numstat(old, edited.text) == (1, 1)
    assert opcodes(old, edited.text) == [("replace", 36, 37, 36, 37)]
    assert edited.text.splitlines()[36] == f"      image: {V2}"
    assert (edited.line, edited.column, edited.old) == (37, 14, V1)


def test_a_missing_override_block_is_only_added_nested_in_block_style() -> None:
    old = (ROOT / "environments" / "demo.yaml").read_text()
    edited = set_scalar(old, OVERRIDE, V2, "environments/demo.yaml")
    assert [op[0] for op in opcodes(old, edited.text)] == ["insert"]
    assert edited.text == old + (
        f"services:\n  reviews:\n    workload:\n      containers:\n        reviews:\n          image: {V2}\n"
    )
    assert edited.line == len(old.splitlines()) + 6


def test_new_keys_go_at_the_file_indentation_under_the_deepest_existing_map() -> None:
    old = (
        "# four spaces here\n"
        "cluster: c\n"
        "services:\n"
        "    reviews:   # the canary\n"
        "        replicas: 3\n"
        "        workload:\n"
        "            containers:\n"
        "                reviews: {imagePullPolicy: Always}\n"
        "    ratings:\n"
        "        replicas: 1\n"
        "# the end\n"
    )
    edited = set_scalar(old, ("services", "ratings", *IMAGE[:-2], "ratings", "image"), "x/y:1", "e")
    assert opcodes(old, edited.text) == [("insert", 10, 10, 10, 14)]
    assert edited.text.splitlines()[10:14] == [
        "        workload:",
        "            containers:",
        "                ratings:",
        "                    image: x/y:1",
    ]
    flow = set_scalar(old, OVERRIDE, "x/y:2", "e")  # into the flow map, on its line
    assert opcodes(old, flow.text) == [("replace", 7, 8, 7, 8)]
    assert flow.text.splitlines()[7] == "                reviews: {imagePullPolicy: Always, image: x/y:2}"


def test_quoting_keeps_the_value_a_string_and_the_style_of_the_old_one() -> None:
    assert scalar_text("1234") == "'1234'"
    assert scalar_text("on") == "'on'"
    assert scalar_text(V2) == V2
    edited = set_scalar('a:\n  image: "old/x:1"  # pinned\n', ("a", "image"), "new/x:2", "f")
    assert edited.text == 'a:\n  image: "new/x:2"  # pinned\n'
    empty = set_scalar("a: 1\nservices:\nb: 2\n", ("services", "reviews", "image"), "x:1", "f")
    assert empty.text == "a: 1\nservices:\n  reviews:\n    image: x:1\nb: 2\n"


def test_a_crlf_file_keeps_its_line_ends() -> None:
    old = "cluster: c\r\nservices:\r\n  ratings:\r\n    replicas: 1\r\n"
    edited = set_scalar(old, OVERRIDE, "x/y:1", "e")
    assert edited.text == old + (
        "  reviews:\r\n    workload:\r\n      containers:\r\n        reviews:\r\n          image: x/y:1\r\n"
    )
    assert (edited.line, edited.column) == (9, 18)


def test_an_anchored_map_or_a_scalar_in_the_way_is_refused_with_its_place() -> None:
    with pytest.raises(EditError) as caught:
        set_scalar("base: &b\n  image: x:1\nother: *b\n", ("base", "image"), "x:2", "f.yaml")
    assert str(caught.value.problem).startswith("f.yaml:1:7: base: this map has an anchor")
    with pytest.raises(EditError) as caught:
        set_scalar("services: 3\n", OVERRIDE, "x:2", "f.yaml")
    assert str(caught.value.problem) == (
        "f.yaml:1:11: services: expected a map here, to set services.reviews.workload.containers.reviews.image"
    )


# ---- planning -----------------------------------------------------------------------------------------


def test_release_to_the_spec_edits_one_line(example_config: Path) -> None:
    before = snapshot(example_config)
    [edit] = plan_release(example_config, "reviews", V2)
    assert snapshot(example_config) == before  # planning reads only
    assert (edit.file, edit.env, edit.container, edit.where) == (
        "services/reviews.yaml",
        None,
        "reviews",
        "services/reviews.yaml:37",
    )
    assert numstat(edit.old, edit.new) == (1, 1)
    write_edits(example_config, [edit])
    assert (example_config / "services" / "reviews.yaml").read_text() == edit.new


def test_release_to_environments_edits_each_override(example_config: Path) -> None:
    add_prod(example_config)
    edits = plan_release(example_config, "reviews", V2, envs=("prod", "demo"))
    assert [(e.file, e.env) for e in edits] == [
        ("environments/demo.yaml", "demo"),
        ("environments/prod.yaml", "prod"),
    ]
    for edit in edits:
        assert [op[0] for op in opcodes(edit.old, edit.new)] == ["insert"]


def test_bad_arguments_are_one_located_line_each(example_config: Path) -> None:
    with pytest.raises(InputError) as caught:
        plan_release(example_config, "reviews", "Docker.io/Istio/x:1", "revews")
    assert str(caught.value).splitlines() == [
        "services/reviews.yaml:35:3: IMAGE: 'Docker.io/Istio/x:1' is no image reference: the repository path must be lower case",
        "services/reviews.yaml:36:5: workload.containers: reviews has no container 'revews' (did you mean 'reviews'?)",
    ]
    with pytest.raises(InputError) as caught:
        plan_release(example_config, "reviewz", V2, envs=("prd",))
    assert str(caught.value).splitlines() == [
        "environments/prd.yaml: environment file not found (known: demo)",
        "services/reviewz.yaml: service file not found (did you mean 'reviews'?)",
    ]
    with pytest.raises(InputError) as caught:
        plan_release(example_config, "reviews", "x:1 ", envs=("demo",))
    assert str(caught.value) == "environments/demo.yaml:1:1: IMAGE: 'x:1 ' has spaces around it"


def test_several_containers_need_container(example_config: Path) -> None:
    spec = example_config / "services" / "reviews.yaml"
    spec.write_text(
        spec.read_text().replace("  volumes:\n", "    sidecar:\n      image: x/sidecar:1\n  volumes:\n")
    )
    with pytest.raises(InputError) as caught:
        plan_release(example_config, "reviews", V2)
    assert str(caught.value) == (
        "services/reviews.yaml:36:5: workload.containers: reviews has several containers (reviews, sidecar) (say which: --container)"
    )
    [edit] = plan_release(example_config, "reviews", "x/sidecar:2", "sidecar")
    assert numstat(edit.old, edit.new) == (1, 1)


def test_a_service_without_a_workload_has_no_containers(example_config: Path) -> None:
    text = (example_config / "services" / "reviews.yaml").read_text()
    (example_config / "services" / "reviews.yaml").write_text(text[: text.index("workload:")])
    with pytest.raises(InputError) as caught:
        plan_release(example_config, "reviews", V2)
    assert str(caught.value).startswith(
        "services/reviews.yaml:1:1: workload.containers: reviews has no containers"
    )


def test_promote_copies_the_released_images_only(example_config: Path) -> None:
    add_prod(example_config)
    with pytest.raises(InputError) as caught:
        plan_promote(example_config, "reviews", "demo", "prod")
    assert str(caught.value) == (
        "environments/demo.yaml:1:1: services.reviews.workload.containers: reviews has no release of its own in demo: "
        "its image comes from the spec (release one there first: gitops-gen release reviews IMAGE --env demo)"
    )
    write_edits(example_config, plan_release(example_config, "reviews", V2, envs=("demo",)))
    demo = example_config / "environments" / "demo.yaml"
    demo.write_text(
        demo.read_text().replace("services:\n  reviews:\n", "services:\n  reviews:\n    replicas: 2\n")
    )
    [edit] = plan_promote(example_config, "reviews", "demo", "prod")
    assert edit.file == "environments/prod.yaml" and edit.image == V2
    assert "replicas" not in edit.new  # the image, nothing else
    with pytest.raises(InputError, match="--from and --to name the same environment"):
        plan_promote(example_config, "reviews", "demo", "demo")


# ---- rendering ----------------------------------------------------------------------------------------


def test_check_edits_renders_the_edited_copy_and_says_what_changed(example_config: Path) -> None:
    add_prod(example_config)
    before = snapshot(example_config)
    edits = plan_release(example_config, "reviews", V2, envs=("prod",))
    checked = check_edits(example_config, "reviews", edits)
    assert snapshot(example_config) == before
    assert [str(c) for c in checked.changes] == [
        "reviews/prod: image examples-bookinfo-reviews-v1:1.16.4 -> v2:1.16.4 (environments/prod.yaml:30)"
    ]
    [deployment] = [
        m
        for m in checked.rendered.manifests
        if m.kind == "Deployment" and m.service == "reviews" and m.env == "prod"
    ]
    assert yaml.safe_load(deployment.text)["spec"]["template"]["spec"]["containers"][0]["image"] == V2


def test_a_render_that_fails_leaves_the_files_as_they_were(example_config: Path) -> None:
    demo = example_config / "environments" / "demo.yaml"
    demo.write_text(demo.read_text() + "services:\n  reviews:\n    workload:\n      name: other\n")
    before = snapshot(example_config)
    edits = plan_release(example_config, "reviews", V2, envs=("demo",))
    with pytest.raises(InputError, match="workloadRef names"):
        check_edits(example_config, "reviews", edits)
    assert snapshot(example_config) == before


def test_image_changes_compares_the_deployments(example_config: Path) -> None:
    old = render_environments(example_config).manifests
    write_edits(example_config, plan_release(example_config, "reviews", "ghcr.io/me/reviews:2"))
    new = render_environments(example_config).manifests
    assert image_changes(old, new) == [ImageChange("demo", "reviews", "reviews", V1, "ghcr.io/me/reviews:2")]
    assert image_changes(old, old) == []
    assert short_images(V1, "ghcr.io/me/reviews:2") == (V1, "ghcr.io/me/reviews:2")
    assert short_images(None, "x/y:1") == ("none", "x/y:1")


# ---- a fleet ------------------------------------------------------------------------------------------


def test_a_release_into_one_environment_of_a_fleet(tmp_path: Path) -> None:
    config = tmp_path / "fleet"
    specs = write_fleet(config, 30)
    chosen = [name for name, text in specs.items() if "canary:" in text][:3]
    for name in chosen:  # the fleet's specs have no workload: give three of them one
        spec = config / "services" / f"{name}.yaml"
        spec.write_text(
            spec.read_text()
            + f"workload:\n  containers:\n    app:\n      image: registry.example.com/{name}:1.0.0\n"
        )
    before = snapshot(config)
    for env in ("dev", "staging", "prod"):
        with pytest.raises(InputError, match="has no container 'web'"):
            plan_release(config, chosen[0], "registry.example.com/x:2", "web", (env,))
    assert snapshot(config) == before
    service = chosen[1]
    [edit] = plan_release(config, service, f"registry.example.com/{service}:1.1.0", envs=("prod",))
    assert edit.file == "environments/prod.yaml"
    added, removed = numstat(edit.old, edit.new)
    assert removed == 0 and added in (4, 5)  # under an existing override of the service, or a new one
    checked = check_edits(config, service, [edit])
    assert [str(c) for c in checked.changes] == [
        f"{service}/prod: image {service}:1.0.0 -> 1.1.0 ({edit.where})"
    ]
    write_edits(config, [edit])
    after = snapshot(config)
    assert {k for k in after if after[k] != before.get(k)} == {"environments/prod.yaml"}
    [promoted] = plan_promote(config, service, "prod", "staging")
    assert promoted.file == "environments/staging.yaml" and promoted.image.endswith(":1.1.0")
