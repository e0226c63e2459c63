"""Cross-object rules: a corpus of known-bad manifests, each caught with the right ID, and clean inputs.

Each case in tests/fixtures/bad/<case>/ holds files that replace their namesakes in the bundled example's
rendered tree (rendered/demo), with one mistake; EXPECT lists the rule IDs that must catch it. `diff -r`
against rendered/demo shows each mistake.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from generator.checks import check_paths
from generator.rules import RULES, Versions
from generator.tree import INDEX_NAME
from generator.validate import BuiltinValidator

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "fixtures" / "bad"
CASES = sorted(p.name for p in BAD.iterdir() if p.is_dir())
# The bundled example's own warnings, reproduced from the demo on purpose (README): scaleDown unset, and
# a 3m query window measured every 5m.
EXAMPLE_WARNINGS = {"GG311", "GG502"}


def overlay(tmp_path: Path, case: str) -> Path:
    out = tmp_path / "rendered"
    shutil.copytree(ROOT / "rendered", out)
    shutil.copytree(BAD / case, out / "demo", dirs_exist_ok=True)
    (out / "demo" / "EXPECT").unlink()
    return out


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25


@pytest.mark.parametrize("case", CASES)
def test_each_bad_manifest_is_caught_with_the_right_id(tmp_path: Path, case: str) -> None:
    expected = set((BAD / case / "EXPECT").read_text().split())
    result = check_paths([overlay(tmp_path, case)], BuiltinValidator())
    found = {f.rule for f in result.findings} - EXAMPLE_WARNINGS
    assert found == expected, [str(f) for f in result.findings]
    for finding in result.findings:
        assert finding.location.line > 0 and finding.obj and finding.location.path.endswith(".yaml")


def test_the_bundled_example_has_no_errors(tmp_path: Path) -> None:
    result = check_paths([ROOT / "rendered"], BuiltinValidator())
    assert result.errors == 0
    assert sorted(f.rule for f in result.findings) == sorted(EXAMPLE_WARNINGS)  # from the demo (README)


def test_the_hand_written_demo_has_no_errors() -> None:
    result = check_paths([ROOT / "tests" / "fixtures" / "demo" / "argo"], BuiltinValidator())
    assert result.errors == 0
    # Not GG309: its all() ranges over readMetricsValues' points, one per minute, never an empty list.
    assert sorted(f.rule for f in result.findings) == ["GG308", "GG311", "GG502"]


def test_every_rule_has_a_passing_and_a_failing_fixture() -> None:
    caught = {rule for case in CASES for rule in (BAD / case / "EXPECT").read_text().split()}
    demo_warnings = {"GG308"}  # fails on tests/fixtures/demo, passes on rendered/
    # GG503 (scaleDown set) is exercised in test_scale_down_choices below.
    assert set(RULES) - caught - demo_warnings - EXAMPLE_WARNINGS == {"GG503"}


def test_scale_down_choices(tmp_path: Path) -> None:
    out = overlay(tmp_path, CASES[0])
    rollout = out / "demo/services/bookinfo/reviews/rollout.yaml"
    shutil.copy(ROOT / "rendered/demo/services/bookinfo/reviews/rollout.yaml", rollout)
    shutil.copy(ROOT / "rendered/demo/services/bookinfo/reviews/destinationrule.yaml", rollout.parent)
    rollout.write_text(
        rollout.read_text().replace(
            "    name: reviews\n  strategy:", "    name: reviews\n    scaleDown: onsuccess\n  strategy:"
        )
    )
    rules = {f.rule for f in check_paths([out], BuiltinValidator()).findings}
    assert "GG503" in rules and "GG502" not in rules


def test_environments_of_an_output_folder_are_separate_sets(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    shutil.copytree(ROOT / "rendered", out)
    shutil.copytree(out / "demo", out / "prod")
    for app in (out / "prod").rglob("*.yaml"):
        app.write_text(
            app.read_text().replace("rendered/demo/", "rendered/prod/").replace("name: demo-", "name: prod-")
        )
    result = check_paths([out], BuiltinValidator())
    assert "IST0109" not in {f.rule for f in result.findings}  # same hosts, different clusters
    assert result.errors == 0


def test_loose_files_are_checked_together(tmp_path: Path) -> None:
    rollout = ROOT / "rendered/demo/services/bookinfo/reviews/rollout.yaml"
    result = check_paths([rollout], BuiltinValidator())
    assert {"GG101", "GG103", "GG301"} <= {f.rule for f in result.findings}
    together = check_paths([rollout.parent], BuiltinValidator())
    assert not {"GG101", "GG103", "GG301"} & {f.rule for f in together.findings}


def test_index_file_is_not_a_manifest() -> None:
    assert (ROOT / "rendered" / INDEX_NAME).is_file()


def test_wrongly_typed_hand_written_fields_never_crash_the_rules(type_swaps: Callable[..., Any]) -> None:
    """Hand-written files can hold anything; the schema reports wrong types, the rules must not crash on
    them. Random type swaps over the example and the demo (found 29 crashes once)."""
    from generator import rules
    from generator.validate import LoadedObject, load_manifests

    base = load_manifests([ROOT / "rendered", ROOT / "tests/fixtures/demo/argo"])
    validator = BuiltinValidator()
    for objects in type_swaps([o.obj for o in base], 400):
        loaded = [LoadedObject(o.path, 1, obj) for o, obj in zip(base, objects, strict=True)]
        rules.check([rules.Item(item, item.path) for item in loaded], lambda _: True)
        validator.validate_objects(loaded)


def test_queries_are_checked_against_the_protocol_of_the_environments_oap() -> None:
    """The bundled example asks for isEmptyValue: right for the default OAP, an error against 9.4.0's."""
    rendered = ROOT / "rendered"
    assert not [f for f in check_paths([rendered], BuiltinValidator()).findings if f.rule == "GG304"]
    old = check_paths([rendered], BuiltinValidator(), Versions(oap="9.4.0"))
    (finding,) = [f for f in old.findings if f.rule == "GG304"]
    assert "Cannot query field 'isEmptyValue' on type 'KVInt'" in finding.message
    assert "(SkyWalking 9.4.0; isEmptyValue exists since 9.5.0)" in finding.message


def test_conditions_are_compiled_in_the_language_of_the_environments_rollouts(tmp_path: Path) -> None:
    out = tmp_path / "rendered"
    shutil.copytree(ROOT / "rendered", out)
    template = out / "demo/services/bookinfo/reviews/analysistemplate.yaml"
    text = template.read_text()
    condition = next(line for line in text.splitlines() if "successCondition:" in line)
    new = "    successCondition: 'len(reverse(result.service_apdex.values.values)) >= 2'"
    template.write_text(text.replace(condition, new))
    for version, expected in (("v1.9", ["GG306"]), ("v1.10", [])):
        found = check_paths([out], BuiltinValidator(), Versions(rollouts=version)).findings
        assert [f.rule for f in found if f.rule == "GG306"] == expected, version
    (finding,) = [f for f in check_paths([out], BuiltinValidator()).findings if f.rule == "GG306"]
    assert "needs Argo Rollouts v1.10" in finding.message
