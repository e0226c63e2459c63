"""`render --check` (writes nothing; exit 1 and a unified diff on drift) and render's ownership rules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from generator.cli import cli
from generator.tree import INDEX_NAME


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def render(config: Path, *args: str) -> Result:
    result = run("render", "--config", str(config), *args)
    assert "Traceback" not in result.stderr
    return result


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file: --check must not even touch them."""
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_check_passes_on_an_up_to_date_tree_and_writes_nothing(example_config: Path) -> None:
    assert render(example_config).exit_code == 0
    out = example_config / "rendered"
    before = snapshot(out)
    result = render(example_config, "--check")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "is up to date" in result.stderr
    assert snapshot(out) == before


def test_the_check_hint_names_the_folder_and_selection_in_use(example_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "gitops repo" / "clusters"
    result = render(example_config, "--check", "--out", str(out), "--env", "demo", "--service", "reviews")
    assert result.exit_code == 1
    assert (
        f"(run `gitops-gen render --config {example_config} --out '{out}' --env demo --service reviews` "
        "to update it)" in result.stderr
    )


def test_check_on_a_missing_tree_fails_and_creates_nothing(example_config: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = render(example_config, "--out", str(out), "--check")
    assert result.exit_code == 1
    assert "--- /dev/null\n+++ b/demo/argocd/root.yaml\n" in result.stdout
    assert "out of date: 38 added, 0 changed, 0 removed" in result.stderr
    assert not out.exists()


def test_check_shows_changed_and_removed_files(example_config: Path) -> None:
    assert render(example_config).exit_code == 0
    out = example_config / "rendered"
    before = snapshot(out)
    edit(example_config / "services/reviews.yaml", "replicas: 5", "replicas: 6")
    (example_config / "services/details.yaml").unlink()
    result = render(example_config, "--check")
    assert result.exit_code == 1
    assert (
        "--- a/demo/services/bookinfo/reviews/rollout.yaml\n+++ b/demo/services/bookinfo/reviews/rollout.yaml\n"
        in result.stdout
    )
    assert "-  replicas: 5\n+  replicas: 6\n" in result.stdout
    assert "--- a/demo/services/bookinfo/details/destinationrule.yaml\n+++ /dev/null\n" in result.stdout
    assert (
        f"out of date: 0 added, 1 changed, 6 removed (run `gitops-gen render --config {example_config}` "
        "to update it)" in result.stderr
    )
    assert snapshot(out) == before
    # the diff is what render then does
    assert render(example_config).exit_code == 0
    assert not (out / "demo/services/bookinfo/details").exists()
    assert render(example_config, "--check").exit_code == 0


def test_check_sees_a_hand_edited_owned_file(example_config: Path) -> None:
    assert render(example_config).exit_code == 0
    rollout = example_config / "rendered/demo/services/bookinfo/reviews/rollout.yaml"
    edit(rollout, "replicas: 5", "replicas: 50")
    result = render(example_config, "--check")
    assert result.exit_code == 1
    assert "-  replicas: 50\n+  replicas: 5\n" in result.stdout


def test_render_refuses_to_overwrite_a_file_it_did_not_write(example_config: Path) -> None:
    out = example_config / "rendered"
    theirs = out / "demo/services/bookinfo/reviews/rollout.yaml"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("# hand-written\n")
    for args in ((), ("--check",)):
        result = render(example_config, *args)
        assert result.exit_code == 2
        assert (
            f"{theirs}: exists but was not written by gitops-gen; refusing to overwrite it" in result.stderr
        )
        assert f"only overwrites files listed in {INDEX_NAME}" in result.stderr
        assert theirs.read_text() == "# hand-written\n"
        assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["rollout.yaml"]


def test_render_adopts_the_committed_example_tree(example_config: Path) -> None:
    """rendered/ in the repo predates the index: identical files join it, nothing is rewritten."""
    repo_rendered = Path(__file__).resolve().parents[2] / "rendered"
    out = example_config / "rendered"
    shutil.copytree(repo_rendered, out, ignore=shutil.ignore_patterns(INDEX_NAME))
    before = snapshot(out)
    result = render(example_config)
    assert result.exit_code == 0, result.stderr
    assert "0 written, 0 removed, 38 unchanged" in result.stderr
    after = snapshot(out)
    assert after.pop(INDEX_NAME)
    assert after == before


def test_render_never_deletes_files_it_did_not_write(example_config: Path) -> None:
    assert render(example_config).exit_code == 0
    out = example_config / "rendered"
    notes = out / "demo/services/bookinfo/details/NOTES.md"
    notes.write_text("ours, not gitops-gen's\n")
    (example_config / "services/details.yaml").unlink()
    assert render(example_config).exit_code == 0
    assert notes.read_text() == "ours, not gitops-gen's\n"
    assert sorted(p.name for p in notes.parent.iterdir()) == ["NOTES.md"]


def test_a_service_render_prunes_only_that_service(example_config: Path) -> None:
    assert render(example_config).exit_code == 0
    out = example_config / "rendered"
    reviews = example_config / "services/reviews.yaml"
    reviews.write_text(reviews.read_text().split("analysis:")[0])  # no AnalysisTemplate any more
    (example_config / "services/details.yaml").unlink()  # not part of a --service reviews render
    result = render(example_config, "--service", "reviews")
    assert result.exit_code == 0, result.stderr
    assert "4 removed" in result.stderr  # the AnalysisTemplate, and the workload that followed it
    assert not (out / "demo/services/bookinfo/reviews/analysistemplate.yaml").exists()
    assert (out / "demo/services/bookinfo/details/destinationrule.yaml").exists()
    assert (out / "demo/argocd/apps/demo-details.yaml").exists()
    assert (out / "demo/tsb/workspace-bookinfo-ws.yaml").exists()  # environment-level: not in scope
    owned = json.loads((out / INDEX_NAME).read_text())["owned"]
    assert "demo/argocd/apps/demo-details.yaml" in owned
    # a full render owns everything again
    result = render(example_config)
    assert result.exit_code == 0
    assert "6 removed" in result.stderr
    assert not (out / "demo/services/bookinfo/details").exists()


def test_an_env_render_prunes_only_that_environment(example_config: Path) -> None:
    staging = example_config / "environments/staging.yaml"
    staging.write_text(
        (example_config / "environments/demo.yaml").read_text().replace("cp-cluster-1", "cp-cluster-2")
    )
    assert render(example_config).exit_code == 0
    out = example_config / "rendered"
    staging_files = snapshot(out / "staging")
    staging.unlink()
    (example_config / "services/details.yaml").unlink()
    result = render(example_config, "--env", "demo")
    assert result.exit_code == 0, result.stderr
    assert not (out / "demo/services/bookinfo/details").exists()
    assert snapshot(out / "staging") == staging_files
    result = render(example_config)
    assert result.exit_code == 0
    assert not (out / "staging").exists()


def test_help_documents_check(example_config: Path) -> None:
    result = run("render", "--help")
    assert result.exit_code == 0
    assert "--check" in result.stdout
    assert "never touched" in " ".join(result.stdout.split())


def test_changed_files_check_only_what_they_affect(example_config: Path) -> None:
    """What the pre-commit hook passes: a spec is its service in every environment, an environment file
    its environment, other files nothing."""
    assert render(example_config).exit_code == 0
    out = example_config / "rendered"
    edit(example_config / "services/reviews.yaml", "replicas: 5", "replicas: 6")
    ratings = out / "demo/services/bookinfo/ratings/virtualservice.yaml"
    ratings.write_text(ratings.read_text() + "# hand-edited\n")  # a drift of another service
    spec = example_config / "services/reviews.yaml"
    result = render(example_config, "--check", str(spec))
    assert result.exit_code == 1
    assert "-  replicas: 5\n+  replicas: 6\n" in result.stdout
    assert "ratings" not in result.stdout  # not affected by this commit's files
    # the hint renders what was checked: the same files (a spec's change reaches environment-level objects,
    # which `--service reviews` would leave alone)
    assert f"(run `gitops-gen render --config {example_config} {spec}` to update it)" in result.stderr
    env = example_config / "environments/demo.yaml"
    result = render(example_config, "--check", str(env))
    assert result.exit_code == 1 and "ratings/virtualservice.yaml" in result.stdout
    result = render(example_config, "--check", str(ratings))
    assert result.exit_code == 1 and "ratings/virtualservice.yaml" in result.stdout
    readme = example_config / "README.md"
    readme.write_text("notes\n")
    result = render(example_config, "--check", str(readme))
    assert result.exit_code == 0
    assert "none of the files is a spec, an environment or a rendered file" in result.stderr
    result = render(example_config, "--check", "--env", "demo", str(spec))
    assert result.exit_code == 2


def test_a_spec_change_is_checked_against_its_environments_own_objects(example_config: Path) -> None:
    """A new namespace in a spec changes the Namespace and the Workspace/Groups selecting it: checking
    the spec's file must see those too, and rendering it must write them."""
    edit(example_config / "environments/demo.yaml", "tsb:\n", "tsb:\n  tenancyNamespace: bookinfo\n")
    assert render(example_config).exit_code == 0
    spec = example_config / "services/ratings.yaml"
    edit(spec, "namespace: bookinfo", "namespace: ratings-ns")
    result = render(example_config, "--check", str(spec))
    assert result.exit_code == 1
    assert "+++ b/demo/namespaces/ratings-ns.yaml" in result.stdout
    assert "+    - cp-cluster-1/ratings-ns" in result.stdout  # the Workspace selects the new namespace
    assert render(example_config, str(spec)).exit_code == 0
    assert render(example_config, "--check").exit_code == 0  # the same as a whole render
