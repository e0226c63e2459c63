"""pr_body: the pull-request description, kept under GitHub's limit by cutting the diff first."""

from __future__ import annotations

from generator.canary_plan import PlanChange
from generator.diff import GroupChanges, ObjectChange
from generator.pr_body import LIMIT, BodyInput, render_body


def change(kind: str, path: str) -> ObjectChange:
    return ObjectChange(kind, path, "demo", "reviews", "Rollout", "reviews-rollout", "bookinfo")


def file_diff(path: str, lines: int) -> str:
    body = "".join(f"-  old line {i} of {path}\n+  new line {i} of {path}\n" for i in range(lines))
    return f"--- a/{path}\n+++ b/{path}\n@@ -1,{lines} +1,{lines} @@\n{body}"


def body_input(diffs: list[tuple[str, str]], groups: int = 1, canary: int = 1) -> BodyInput:
    return BodyInput(
        title="gitops-gen: demo/reviews",
        source="0123456789abcdef0123456789abcdef01234567",
        dirty=False,
        target_branch="main",
        branch="gitops-gen/0123456789ab",
        path="rendered",
        groups=[
            GroupChanges(
                "demo", f"svc{i}", changed=(change("changed", f"demo/services/ns/svc{i}/rollout.yaml"),)
            )
            for i in range(groups)
        ],
        canary=[
            ("demo", PlanChange("ns", f"svc{i}", f"svc{i}-rollout", "changed", ("step 1 weight 10% -> 5%",)))
            for i in range(canary)
        ],
        validation="passed: 24 objects",
        diffs=diffs,
    )


def test_sections_in_order() -> None:
    text = render_body(body_input([("demo/a.yaml", file_diff("rendered/demo/a.yaml", 3))]))
    assert text.startswith("## gitops-gen: demo/reviews\n")
    assert "config commit `0123456789abcdef0123456789abcdef01234567` into `rendered/`" in text
    order = [
        "| environment | service | added | changed | removed |",
        "| demo | svc0 | 0 | 1 | 0 |",
        "**Validation:** passed: 24 objects",
        "### Canary plan",
        "- **svc0/demo**: step 1 weight 10% -> 5%",
        "### Diff",
        "```diff\n--- a/rendered/demo/a.yaml",
    ]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
    assert text.rstrip().endswith("```")
    assert "cut" not in text


def test_no_canary_change_and_environment_rows() -> None:
    inputs = body_input([], canary=0)
    inputs = BodyInput(
        **{**inputs.__dict__, "groups": [GroupChanges("demo", None, added=(change("added", "x"),))]}
    )
    text = render_body(inputs)
    assert "No change to any canary plan." in text
    assert "| demo | *(environment)* | 1 | 0 | 0 |" in text
    assert "No file changed." in text


def test_dirty_and_no_git_sources() -> None:
    inputs = body_input([])
    dirty = render_body(BodyInput(**{**inputs.__dict__, "dirty": True}))
    assert "**with uncommitted changes**" in dirty
    none = render_body(BodyInput(**{**inputs.__dict__, "source": None}))
    assert "not in a git repository" in none


def test_a_huge_diff_is_cut_with_a_note_and_the_summary_kept() -> None:
    diffs = [(f"demo/f{i}.yaml", file_diff(f"rendered/demo/f{i}.yaml", 200)) for i in range(40)]
    assert sum(len(d) for _, d in diffs) > 3 * LIMIT
    text = render_body(body_input(diffs, groups=30, canary=30))
    assert len(text) <= LIMIT
    assert text.count("| demo | svc") == 30  # the summary is whole
    assert text.count("step 1 weight 10% -> 5%") == 30
    assert "**The diff is cut** to keep this description under 65,000 characters" in text
    assert "files shown in full and the beginning of 1 more" in text
    assert "`git diff main...gitops-gen/0123456789ab -- rendered` shows all of it." in text
    assert "... (cut)\n```\n" in text  # the partial file ends inside the fence, which is closed
    full = int(text.split("characters: ")[1].split(" of ")[0])
    assert 0 < full < 40
    assert all(f"+++ b/rendered/demo/f{i}.yaml" in text for i in range(full + 1))
    assert f"+++ b/rendered/demo/f{full + 1}.yaml" not in text


def test_a_single_file_larger_than_the_limit() -> None:
    text = render_body(body_input([("demo/big.yaml", file_diff("rendered/demo/big.yaml", 5000))]))
    assert len(text) <= LIMIT
    assert "0 of 1 files shown in full and the beginning of 1 more" in text


def test_an_enormous_summary_is_cut_last_and_said() -> None:
    diffs = [("demo/a.yaml", file_diff("rendered/demo/a.yaml", 10))]
    text = render_body(body_input(diffs, groups=3000, canary=3000))
    assert len(text) <= LIMIT
    assert "more rows cut to fit the description" in text
    assert "### Diff" in text


def test_backticks_in_the_diff_cannot_close_the_fence() -> None:
    diff = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+````` not a fence\n"
    text = render_body(body_input([("x", diff)]))
    assert "``````diff\n" in text
    assert text.rstrip().endswith("``````")


def test_a_custom_limit() -> None:
    diffs = [(f"demo/f{i}.yaml", file_diff(f"rendered/demo/f{i}.yaml", 20)) for i in range(10)]
    text = render_body(body_input(diffs), limit=5000)
    assert len(text) <= 5000
    assert "**The diff is cut**" in text
