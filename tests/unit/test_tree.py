"""tree.py: planning against the output folder, ownership, pruning in scope, and all-or-nothing writes."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from generator import tree
from generator.render import Manifest
from generator.tree import (
    INDEX_NAME,
    JOURNAL_NAME,
    LEGACY_INDEX_NAME,
    STAGING_NAME,
    NotOwned,
    OutputBusy,
    Scope,
    TreeError,
    WriteFailed,
    apply_plan,
    index_text,
    path_owner,
    plan_render,
    plan_tree,
    read_index,
    recover,
)

APP = "demo/argocd/apps/demo-{}.yaml"
SVC = "demo/services/ns/{0}/{1}.yaml"


def manifest(path: str, text: str | None = None) -> Manifest:
    env, service = path_owner(path)
    name = path.rsplit("/", 1)[-1].removesuffix(".yaml")
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    return Manifest(path, obj, text if text is not None else f"kind: ConfigMap\nname: {name}\n", env, service)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file below root (dotfiles included), by relative path."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write(out: Path, manifests: list[Manifest], scope: Scope | None = None) -> tree.WriteReport:
    return apply_plan(plan_tree(out, manifests, scope or Scope()))


# ---- layout and scope ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "owner"),
    [
        ("demo/services/bookinfo/reviews/rollout.yaml", ("demo", "reviews")),
        ("demo/argocd/apps/demo-reviews.yaml", ("demo", "reviews")),
        ("demo/argocd/apps/demo-tsb.yaml", ("demo", None)),
        ("demo/argocd/apps/demo-gateways.yaml", ("demo", None)),
        ("demo/argocd/apps/demo-namespaces.yaml", ("demo", None)),
        ("demo/argocd/root.yaml", ("demo", None)),
        ("demo/tsb/tenant-bookinfo.yaml", ("demo", None)),
        ("demo/gateways/bookinfo/gw/gateway.yaml", ("demo", None)),
        ("prod/argocd/apps/other-x.yaml", ("prod", None)),
    ],
)
def test_path_owner_follows_the_documented_layout(path: str, owner: tuple[str, str | None]) -> None:
    assert path_owner(path) == owner


def test_scope() -> None:
    everything = Scope()
    assert everything.covers("prod/tsb/tenant-x.yaml")
    demo = Scope(envs=("demo",))
    assert demo.covers("demo/tsb/tenant-x.yaml")
    assert not demo.covers("prod/tsb/tenant-x.yaml")
    reviews = Scope(services=("reviews",))
    assert reviews.covers("prod/services/other-ns/reviews/rollout.yaml")  # any namespace: it may have moved
    assert reviews.covers("demo/argocd/apps/demo-reviews.yaml")
    assert not reviews.covers("demo/services/ns/ratings/rollout.yaml")
    assert not reviews.covers("demo/tsb/tenant-x.yaml")  # environment-level: only a full render prunes it
    assert not Scope(("demo",), ("reviews",)).covers("prod/services/ns/reviews/rollout.yaml")


# ---- planning and writing -----------------------------------------------------------------------------


def test_first_render_creates_the_folder_files_and_a_deterministic_index(tmp_path: Path) -> None:
    out = tmp_path / "does" / "not" / "exist"
    manifests = [manifest(SVC.format("b", "x")), manifest(APP.format("b")), manifest("demo/tsb/t.yaml")]
    plan = plan_tree(out, manifests)
    assert plan.added == tuple(sorted(m.path for m in manifests))
    assert (plan.changed, plan.removed, plan.unchanged) == ((), (), ())
    assert not out.exists()  # planning writes nothing
    report = apply_plan(plan)
    assert report.written == plan.added
    assert snapshot(out) == {
        **{m.path: m.text.encode() for m in manifests},
        INDEX_NAME: index_text((m.path for m in manifests), {"demo": ""}).encode(),
    }
    index = json.loads((out / INDEX_NAME).read_text())
    assert index["format"] == 2
    assert index["owned"] == sorted(m.path for m in manifests)
    assert index["repoPaths"] == {"demo": ""}  # where the environment's files sit in the GitOps repo
    assert (out / INDEX_NAME).read_text() == json.dumps(index, indent=2, sort_keys=True) + "\n"


def test_identical_files_are_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    manifests = [manifest(SVC.format("a", "x")), manifest(SVC.format("a", "y"))]
    write(out, manifests)
    for path in [*snapshot(out)]:
        os.utime(out / path, ns=(1_000_000_000, 1_000_000_000))
    changed = [manifests[0], manifest(SVC.format("a", "y"), "new text\n")]
    plan = plan_tree(out, changed)
    assert plan.unchanged == (SVC.format("a", "x"),)
    assert plan.changed == (SVC.format("a", "y"),)
    assert not plan.index_changed
    apply_plan(plan)
    assert (out / SVC.format("a", "x")).stat().st_mtime_ns == 1_000_000_000
    assert (out / INDEX_NAME).stat().st_mtime_ns == 1_000_000_000
    assert (out / SVC.format("a", "y")).read_text() == "new text\n"
    again = plan_tree(out, changed)
    assert not again.has_changes and not again.index_changed
    assert again.unified_diff() == ""


def test_owned_files_no_longer_produced_are_removed_with_the_folders_they_empty(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(
        out, [manifest(SVC.format("a", "x")), manifest(SVC.format("b", "x")), manifest(SVC.format("b", "y"))]
    )
    (out / "demo/services/ns/notes.txt").write_text("mine\n")
    plan = plan_tree(out, [manifest(SVC.format("a", "x"))])
    assert plan.removed == (SVC.format("b", "x"), SVC.format("b", "y"))
    assert plan.old_text(SVC.format("b", "y")) == "kind: ConfigMap\nname: y\n"
    apply_plan(plan)
    assert not (out / "demo/services/ns/b").exists()
    assert (
        out / "demo/services/ns/notes.txt"
    ).read_text() == "mine\n"  # not ours: kept, and so is its folder
    assert json.loads((out / INDEX_NAME).read_text())["owned"] == [SVC.format("a", "x")]


def test_a_file_we_did_not_write_is_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, [manifest(SVC.format("a", "x"))])
    theirs = out / SVC.format("a", "y")
    theirs.write_text("hand-written\n")
    before = snapshot(out)
    with pytest.raises(NotOwned) as caught:
        plan_tree(out, [manifest(SVC.format("a", "x")), manifest(SVC.format("a", "y"))])
    assert caught.value.exit_code == 2
    assert str(theirs) in str(caught.value)
    assert "refusing to overwrite" in str(caught.value)
    assert INDEX_NAME in str(caught.value)  # the hint says what counts as ours
    assert snapshot(out) == before


def test_a_file_we_did_not_write_is_never_deleted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, [manifest(SVC.format("a", "x"))])
    (out / SVC.format("a", "mine")).write_text("hand-written\n")
    apply_plan(plan_tree(out, []))
    assert snapshot(out) == {
        SVC.format("a", "mine"): b"hand-written\n",
        INDEX_NAME: index_text([]).encode(),
    }


def test_an_identical_unowned_file_is_adopted_without_being_rewritten(tmp_path: Path) -> None:
    """How a tree rendered before the index existed (like the committed rendered/) migrates."""
    out = tmp_path / "out"
    m = manifest(SVC.format("a", "x"))
    (out / SVC.format("a", "x")).parent.mkdir(parents=True)
    (out / SVC.format("a", "x")).write_text(m.text)
    os.utime(out / m.path, ns=(1_000_000_000, 1_000_000_000))
    plan = plan_tree(out, [m])
    assert plan.unchanged == plan.adopted == (m.path,)
    assert not plan.has_changes and plan.index_changed
    apply_plan(plan)
    assert (out / m.path).stat().st_mtime_ns == 1_000_000_000
    assert json.loads((out / INDEX_NAME).read_text())["owned"] == [m.path]


def test_a_service_render_prunes_only_that_service(tmp_path: Path) -> None:
    out = tmp_path / "out"
    everything = [
        manifest("demo/tsb/tenant.yaml"),
        manifest(SVC.format("a", "rollout")),
        manifest(SVC.format("a", "analysistemplate")),
        manifest(APP.format("a")),
        manifest(SVC.format("b", "rollout")),
        manifest(APP.format("b")),
    ]
    write(out, everything)
    # a --service a render produces only a's files, and a lost its AnalysisTemplate
    plan = plan_tree(
        out, [manifest(SVC.format("a", "rollout")), manifest(APP.format("a"))], Scope(services=("a",))
    )
    assert plan.removed == (SVC.format("a", "analysistemplate"),)
    apply_plan(plan)
    assert set(snapshot(out)) == {INDEX_NAME} | {m.path for m in everything} - {
        SVC.format("a", "analysistemplate")
    }
    owned = json.loads((out / INDEX_NAME).read_text())["owned"]
    assert SVC.format("b", "rollout") in owned and "demo/tsb/tenant.yaml" in owned


def test_a_service_moved_to_another_namespace_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, [manifest("demo/services/old-ns/a/rollout.yaml")])
    plan = plan_tree(out, [manifest("demo/services/new-ns/a/rollout.yaml")], Scope(services=("a",)))
    assert plan.removed == ("demo/services/old-ns/a/rollout.yaml",)
    apply_plan(plan)
    assert not (out / "demo/services/old-ns").exists()


def test_an_env_render_prunes_only_that_environment(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, [manifest("demo/tsb/a.yaml"), manifest("demo/tsb/b.yaml"), manifest("prod/tsb/a.yaml")])
    plan = plan_tree(out, [manifest("demo/tsb/a.yaml")], Scope(envs=("demo",)))
    assert plan.removed == ("demo/tsb/b.yaml",)
    apply_plan(plan)
    assert (out / "prod/tsb/a.yaml").exists()
    # a full render owns every environment: one whose file was deleted is pruned
    apply_plan(plan_tree(out, [manifest("demo/tsb/a.yaml")]))
    assert set(snapshot(out)) == {INDEX_NAME, "demo/tsb/a.yaml"}


def test_an_owned_file_someone_deleted_leaves_the_index_quietly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, [manifest("demo/tsb/a.yaml"), manifest("demo/tsb/b.yaml")])
    (out / "demo/tsb/b.yaml").unlink()
    plan = plan_tree(out, [manifest("demo/tsb/a.yaml")])
    assert plan.removed == ()
    assert plan.owned == ("demo/tsb/a.yaml",)


@pytest.mark.parametrize(
    "index",
    [
        "not json",
        '{"format": 3, "owned": []}',
        '{"format": 2, "owned": [], "repoPaths": ["demo"]}',
        '{"format": 1}',
        '{"format": 1, "owned": ["../../etc/passwd"]}',
        '{"format": 1, "owned": ["/etc/passwd"]}',
        '{"format": 1, "owned": [".gitops-gen.json"]}',
    ],
)
def test_a_broken_or_unsafe_index_stops_the_render(tmp_path: Path, index: str) -> None:
    (tmp_path / INDEX_NAME).write_text(index)
    with pytest.raises(TreeError) as caught:
        plan_tree(tmp_path, [])
    assert caught.value.exit_code == 2
    assert INDEX_NAME in str(caught.value)


def test_things_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "demo/tsb/a.yaml").mkdir(parents=True)
    (tmp_path / "demo/gateways").write_text("a file\n")
    with pytest.raises(NotOwned) as caught:
        plan_tree(tmp_path, [manifest("demo/tsb/a.yaml"), manifest("demo/gateways/ns/gw/gateway.yaml")])
    assert [p.message for p in caught.value.problems] == [
        "is a file where gitops-gen needs a folder",
        "is a folder where gitops-gen writes a file",
    ]
    out_file = tmp_path / "file"
    out_file.write_text("")
    with pytest.raises(TreeError, match="the output folder is a file"):
        plan_tree(out_file, [])


def test_unified_diff_is_patch_style(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, [manifest("demo/tsb/changed.yaml", "a: 1\nb: 2\n"), manifest("demo/tsb/gone.yaml", "x: 1\n")])
    (out / "demo/tsb/changed.yaml").write_text("a: 1\nb: 2")  # no newline at the end
    plan = plan_tree(
        out, [manifest("demo/tsb/changed.yaml", "a: 1\nb: 3\n"), manifest("demo/tsb/new.yaml", "n: 1\n")]
    )
    assert plan.touched == ("demo/tsb/changed.yaml", "demo/tsb/gone.yaml", "demo/tsb/new.yaml")
    assert plan.unified_diff() == (
        "--- a/demo/tsb/changed.yaml\n+++ b/demo/tsb/changed.yaml\n@@ -1,2 +1,2 @@\n a: 1\n-b: 2\n"
        "\\ No newline at end of file\n+b: 3\n"
        "--- a/demo/tsb/gone.yaml\n+++ /dev/null\n@@ -1 +0,0 @@\n-x: 1\n"
        "--- /dev/null\n+++ b/demo/tsb/new.yaml\n@@ -0,0 +1 @@\n+n: 1\n"
    )


def test_file_diff_names_files_as_the_gitops_repo_does(tmp_path: Path) -> None:
    plan = plan_tree(tmp_path / "out", [manifest("demo/tsb/new.yaml", "n: 1\n")])
    assert plan.file_diff("demo/tsb/new.yaml", "rendered/").startswith(
        "--- /dev/null\n+++ b/rendered/demo/tsb/new.yaml\n"
    )


def test_a_legacy_index_is_read_and_replaced_in_the_same_write(tmp_path: Path) -> None:
    """Trees from before the index was renamed (`.gitops-gen.json`, which kubeconform and Argo CD read as
    a manifest) move over on their next render; the old file goes in the same all-or-nothing write."""
    out = tmp_path / "out"
    old = manifest(SVC.format("a", "x"), "old: 1\n")
    out.joinpath(old.path).parent.mkdir(parents=True)
    out.joinpath(old.path).write_text(old.text)
    (out / LEGACY_INDEX_NAME).write_text(json.dumps({"format": 1, "owned": [old.path]}))
    new = manifest(SVC.format("a", "x"), "new: 1\n")
    plan = plan_tree(out, [new])
    assert plan.changed == (new.path,)  # owned under the legacy index: no NotOwned
    assert plan.legacy_index and plan.index_changed
    apply_plan(plan)
    assert snapshot(out) == {new.path: b"new: 1\n", INDEX_NAME: index_text([new.path], {"demo": ""}).encode()}
    assert not plan_tree(out, [new]).index_changed


def test_repo_paths_of_environments_outside_the_render_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    demo = replace(manifest("demo/tsb/a.yaml"), gitops_path="clusters")
    prod = replace(manifest("prod/tsb/a.yaml"), env="prod", gitops_path="prod-tree")
    write(out, [demo, prod])
    assert read_index(out).repo_paths == {"demo": "clusters", "prod": "prod-tree"}
    write(out, [replace(demo, gitops_path="moved")], Scope(envs=("demo",)))
    index = read_index(out)
    assert index.repo_paths == {"demo": "moved", "prod": "prod-tree"}
    assert index.repo_path("prod/tsb/a.yaml") == "prod-tree/prod/tsb/a.yaml"
    write(out, [], Scope(envs=("prod",)))  # prod's files pruned: it is forgotten
    assert read_index(out).repo_paths == {"demo": "moved"}


def test_read_index(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert tree.read_index(out) == tree.Index()
    write(out, [manifest("demo/tsb/a.yaml", "a: 1\n")])
    assert tree.read_index(out) == tree.Index(("demo/tsb/a.yaml",), {"demo": ""})
    (out / tree.INDEX_NAME).write_text("{}")
    with pytest.raises(tree.TreeError, match="not a gitops-gen ownership index"):
        tree.read_index(out)


def test_plan_render_renders_and_plans_in_one_call(example_config: Path, tmp_path: Path) -> None:
    plan = plan_render(example_config, tmp_path / "out", ["demo"], ["reviews"])
    assert plan.scope == Scope(("demo",), ("reviews",))
    assert plan.added and all(path_owner(p) == ("demo", "reviews") for p in plan.added)
    assert plan.manifests[plan.added[0]].service == "reviews"


# ---- concurrency and failures -------------------------------------------------------------------------


def test_a_folder_changed_after_planning_is_not_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write(out, [manifest("demo/tsb/a.yaml")])
    plan = plan_tree(out, [manifest("demo/tsb/a.yaml", "new\n")])
    (out / "demo/tsb/a.yaml").write_text("edited meanwhile\n")
    with pytest.raises(OutputBusy) as caught:
        apply_plan(plan)
    assert caught.value.exit_code == 3
    assert (out / "demo/tsb/a.yaml").read_text() == "edited meanwhile\n"


def test_a_second_writer_is_turned_away(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    plan = plan_tree(out, [manifest("demo/tsb/a.yaml")])
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(OutputBusy, match="another gitops-gen is writing"):
            apply_plan(plan)
    finally:
        os.close(fd)
    apply_plan(plan)
    assert (out / "demo/tsb/a.yaml").exists()


def test_a_failure_before_the_commit_point_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write(out, [manifest("demo/tsb/a.yaml")])
    before = snapshot(out)
    plan = plan_tree(out, [manifest("demo/tsb/a.yaml", "new\n"), manifest("demo/tsb/b.yaml")])

    def disk_full(*args: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tree, "_write_new", disk_full)
    with pytest.raises(WriteFailed, match="nothing was changed") as caught:
        apply_plan(plan)
    assert caught.value.exit_code == 3
    assert snapshot(out) == before
    assert not (out / STAGING_NAME).exists()


def test_a_failure_after_the_commit_point_is_finished_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write(out, [manifest("demo/tsb/a.yaml")])
    manifests = [manifest("demo/tsb/a.yaml", "new\n"), manifest("demo/tsb/b.yaml")]
    plan = plan_tree(out, manifests)
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        if Path(dst).name != JOURNAL_NAME:
            raise OSError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(WriteFailed, match="run `gitops-gen render` again to finish"):
        apply_plan(plan)
    monkeypatch.undo()
    assert (out / JOURNAL_NAME).exists()
    # a reader already sees the new tree, without writing anything
    seen = plan_tree(out, manifests)
    assert not seen.has_changes and not seen.index_changed
    assert recover(out)
    assert snapshot(out) == {
        **{m.path: m.text.encode() for m in manifests},
        INDEX_NAME: index_text((m.path for m in manifests), {"demo": ""}).encode(),
    }
    assert not recover(out)


class Crash(BaseException):
    """Stands for SIGKILL: nothing of gitops-gen's runs after it (it is not an OSError)."""


@pytest.fixture
def crash_at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[int], list[int]]]:
    """crash_at(n): the n-th file-system operation (replace, fsync, unlink, rmdir, mkdir, the write of a
    staged file, syncfs) raises Crash.

    Returns a one-item list counting the operations seen (to learn the total with n=0)."""
    counter = [0]
    limit = [0]

    def wrap(real: Callable[..., Any]) -> Callable[..., Any]:
        def op(*args: Any, **kwargs: Any) -> Any:
            counter[0] += 1
            if counter[0] == limit[0]:
                raise Crash
            return real(*args, **kwargs)

        return op

    for name in ("replace", "fsync", "unlink", "rmdir", "mkdir"):
        monkeypatch.setattr(os, name, wrap(getattr(os, name)))
    for name in ("_write_new", "_syncfs"):  # each staged file, each syncfs(2)
        monkeypatch.setattr(tree, name, wrap(getattr(tree, name)))

    def arm(n: int) -> list[int]:
        counter[0], limit[0] = 0, n
        return counter

    yield arm


@pytest.fixture(params=["syncfs", "fsync each"])
def durability(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of making a write durable: one syncfs(2) per batch, or (where syncfs cannot be trusted)
    an fsync(2) of every file and folder."""
    if request.param == "syncfs":
        if not tree._syncfs_trusted(tmp_path.stat().st_dev):
            pytest.skip(f"syncfs(2) is not trusted for {tmp_path} on this system")
    else:
        monkeypatch.setattr(tree, "_syncfs_trusted", lambda device: False)
    return str(request.param)


def test_a_crash_at_any_point_leaves_the_old_tree_or_the_new_one(
    tmp_path: Path, crash_at: Callable[[int], list[int]], durability: str
) -> None:
    """Every file-system operation of a write, crashed one at a time; recovery ends in old or new."""
    old_manifests = [manifest(SVC.format(s, f)) for s in "abc" for f in ("x", "y")]
    new_manifests = [manifest(SVC.format(s, f), f"{s}{f} v2\n") for s in "bcd" for f in ("x", "y")]

    def fresh_old_tree(out: Path) -> dict[str, bytes]:
        crash_at(0)
        write(out, old_manifests)
        (out / "demo/services/ns/a/mine.txt").write_text("not ours\n")
        return snapshot(out)

    old = fresh_old_tree(tmp_path / "reference-old")
    write(tmp_path / "reference-old", new_manifests)
    new = snapshot(tmp_path / "reference-old")
    assert new != old

    out = tmp_path / "out"
    fresh_old_tree(out)
    plan = plan_tree(out, new_manifests)
    total = crash_at(0)
    apply_plan(plan)
    operations = total[0]
    assert operations > 20

    outcomes = set()
    for n in range(1, operations + 1):
        target = tmp_path / f"out-{n}"
        fresh_old_tree(target)
        plan = plan_tree(target, new_manifests)
        crash_at(n)
        with pytest.raises(Crash):
            apply_plan(plan)
        crash_at(0)
        # before recovery a reader sees a whole tree too
        seen = plan_tree(target, new_manifests)
        assert (seen.added, seen.changed, seen.removed) in [
            ((), (), ()),
            (plan.added, plan.changed, plan.removed),
        ]
        recover(target)
        after = snapshot(target)
        assert after in (old, new), f"crash at operation {n} left a mix"
        outcomes.add("new" if after == new else "old")
    assert outcomes == {"old", "new"}


def test_a_crash_during_recovery_is_recovered_too(
    tmp_path: Path, crash_at: Callable[[int], list[int]], durability: str
) -> None:
    """Recovery is idempotent: crash the write at n, then the recovery at m, then recover again."""
    old_manifests = [manifest(SVC.format(s, "x")) for s in "ab"]
    new_manifests = [manifest(SVC.format(s, "x"), f"{s} v2\n") for s in "bc"]
    reference = tmp_path / "reference"
    write(reference, old_manifests)
    old = snapshot(reference)
    write(reference, new_manifests)
    new = snapshot(reference)

    counter = crash_at(0)
    write(tmp_path / "count", old_manifests)
    plan = plan_tree(tmp_path / "count", new_manifests)
    crash_at(0)
    apply_plan(plan)
    operations = counter[0]

    for n in range(1, operations + 1):
        for m in range(1, operations + 1):
            target = tmp_path / f"out-{n}-{m}"
            crash_at(0)
            write(target, old_manifests)
            plan = plan_tree(target, new_manifests)
            crash_at(n)
            with pytest.raises(Crash):
                apply_plan(plan)
            crash_at(m)
            try:
                recover(target)
            except Crash:
                pass
            else:
                break  # recovery needs fewer than m operations: larger m change nothing
            crash_at(0)
            recover(target)
            assert snapshot(target) in (old, new), f"crash at {n}, then in recovery at {m}"


# ---- durability: O(1) syncs per write --------------------------------------------------------------------


def count_syncs(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts os.fsync and syncfs(2) calls from here on."""
    counts = {"fsync": 0, "syncfs": 0}
    real_fsync, real_syncfs = os.fsync, tree._syncfs

    def fsync(fd: int) -> None:
        counts["fsync"] += 1
        real_fsync(fd)

    def syncfs(fd: int) -> None:
        counts["syncfs"] += 1
        real_syncfs(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(tree, "_syncfs", syncfs)
    return counts


def fleet(services: int, version: str) -> list[Manifest]:
    """Two files in a folder of their own for each service."""
    return [
        manifest(SVC.format(f"s{number:04d}", kind), f"{kind} {version}\n")
        for number in range(services)
        for kind in ("rollout", "service")
    ]


@pytest.mark.parametrize("services", [5, 150])
def test_a_write_syncs_a_constant_number_of_times_whatever_its_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durability: str, services: int
) -> None:
    out = tmp_path / "out"
    first = fleet(services, "v1")
    counts = count_syncs(monkeypatch)
    write(out, first)
    written = dict(counts)
    # a change: half the services change, a quarter go (their folders are pruned), as many are added
    second = fleet(services, "v2")[: services // 2 * 2]
    second += fleet(services, "v1")[services // 2 * 2 : services * 3 // 4 * 2]
    second += [manifest(SVC.format(f"n{number:04d}", "rollout")) for number in range(services // 4)]
    plan = plan_tree(out, second)
    assert plan.added and plan.changed and plan.removed
    counts.update(fsync=0, syncfs=0)
    apply_plan(plan)
    changed = dict(counts)
    assert snapshot(out) == {
        **{m.path: m.text.encode() for m in second},
        INDEX_NAME: index_text((m.path for m in second), {"demo": ""}).encode(),
    }
    if durability == "syncfs":
        # staged files + journal: one syncfs; the commit: fsync of out; the moves and deletions: one
        # syncfs; the journal's deletion: fsync of out
        assert written == changed == {"fsync": 2, "syncfs": 2}
    else:  # every staged file, and every folder that changed
        assert written["syncfs"] == changed["syncfs"] == 0
        assert written["fsync"] >= len(first) + services  # files, folders
        assert changed["fsync"] > len(plan.added) + len(plan.changed) + len(plan.removed) // 2


def test_syncfs_is_the_real_system_call(tmp_path: Path) -> None:
    if not tree._syncfs_trusted(tmp_path.stat().st_dev):
        pytest.skip(f"syncfs(2) is not trusted for {tmp_path} on this system")
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        tree._syncfs(fd)
    finally:
        os.close(fd)
    with pytest.raises(OSError, match="Bad file descriptor"):
        tree._syncfs(fd)  # closed: EBADF


def test_syncfs_is_trusted_only_on_local_file_systems_that_commit_everything() -> None:
    # the example of proc(5), a FUSE mount, and a line without the separator
    mountinfo = (
        "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"
        "40 36 0:45 / /home/me/remote rw,nosuid - fuse.sshfs me@host:/ rw,user_id=1000\n"
        "41 36 0:46 / /broken rw\n"
    )
    types = tree._mount_types(mountinfo)
    assert types == {(98, 0): "ext3", (0, 45): "fuse.sshfs"}
    assert "ext3" in tree._SYNCFS_FILE_SYSTEMS and "fuse.sshfs" not in tree._SYNCFS_FILE_SYSTEMS
    if Path("/proc/self/mountinfo").exists():
        assert not tree._syncfs_trusted(os.stat("/proc").st_dev)  # proc: not a place for files


def test_a_failed_syncfs_before_the_commit_point_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not tree._syncfs_trusted(tmp_path.stat().st_dev):
        pytest.skip(f"syncfs(2) is not trusted for {tmp_path} on this system")
    out = tmp_path / "out"
    write(out, [manifest("demo/tsb/a.yaml")])
    before = snapshot(out)
    plan = plan_tree(out, [manifest("demo/tsb/a.yaml", "new\n"), manifest("demo/tsb/b.yaml")])

    def io_error(fd: int) -> None:  # what syncfs reports when a staged file failed to be written back
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(tree, "_syncfs", io_error)
    with pytest.raises(WriteFailed, match=r"Input/output error.*nothing was changed"):
        apply_plan(plan)
    assert snapshot(out) == before
    assert not (out / STAGING_NAME).exists() and not (out / JOURNAL_NAME).exists()


def test_a_scope_with_environments_covers_their_own_objects_too() -> None:
    scope = Scope(services=("reviews",), with_environments=True)
    assert scope.covers("demo/services/ns/reviews/rollout.yaml")
    assert scope.covers("demo/tsb/workspace-x.yaml")
    assert scope.covers("demo/argocd/apps/demo-tsb.yaml")
    assert not scope.covers("demo/services/ns/ratings/rollout.yaml")
    assert not scope.covers("demo/argocd/apps/demo-ratings.yaml")


def test_a_safe_path_has_no_empty_dot_or_dot_dot_part_and_is_not_bookkeeping() -> None:
    import itertools

    from generator.tree import _RESERVED, _is_safe

    def by_parts(path: str) -> bool:  # the definition, as a split reads it
        parts = path.split("/")
        return (
            bool(path)
            and "\\" not in path
            and all(part not in ("", ".", "..") for part in parts)
            and parts[0] not in _RESERVED
        )

    atoms = ["a", ".", "..", "", "...", ".a", "a.", "a\\b", "b c", *sorted(_RESERVED)]
    for count in range(1, 4):
        for parts in itertools.product(atoms, repeat=count):
            joined = "/".join(parts)
            for path in (joined, f"/{joined}", f"{joined}/"):
                assert _is_safe(path) == by_parts(path), path
