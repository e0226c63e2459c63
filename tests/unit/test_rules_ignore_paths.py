"""GG602: which fields an Argo CD ignoreDifferences entry covers, on parsed paths (not substrings)."""

from __future__ import annotations

import pytest

from generator.rules.ignore_paths import (
    EVERY,
    applies,
    covered,
    entry_paths,
    parse_jq_path,
    parse_json_pointer,
    rollouts_mutations,
    show,
)

WEIGHTS = ("spec", "http", EVERY, "route", EVERY, "weight")
HASH = ("spec", "subsets", EVERY, "labels", "rollouts-pod-template-hash")
MANAGED_BY = ("metadata", "annotations", "argo-rollouts.argoproj.io/managed-by-rollouts")


@pytest.mark.parametrize(
    ("expression", "path"),
    [
        (".spec.http[].route[].weight", WEIGHTS),
        (".spec.http[]?.route[]?.weight", WEIGHTS),
        (".spec.http.[].route.[].weight", WEIGHTS),
        (".spec.http[] | .route[].weight", WEIGHTS),
        (".spec.http[0].route[1].weight", ("spec", "http", 0, "route", 1, "weight")),
        ('.spec.subsets[].labels["rollouts-pod-template-hash"]', HASH),
        ('.metadata.annotations."argo-rollouts.argoproj.io/managed-by-rollouts"', MANAGED_BY),
        ('.["spec"]', ("spec",)),
        (".", ()),
    ],
)
def test_jq_paths(expression: str, path: tuple[object, ...]) -> None:
    assert parse_jq_path(expression) == path


@pytest.mark.parametrize(
    "expression",
    ['.spec.http[] | select(.name == "primary") | .route[].weight', "..|.weight?", ".spec.http[1:]", "spec"],
)
def test_other_jq_is_not_read(expression: str) -> None:
    assert parse_jq_path(expression) is None


def test_json_pointers() -> None:
    assert (
        parse_json_pointer("/metadata/annotations/argo-rollouts.argoproj.io~1managed-by-rollouts")
        == MANAGED_BY
    )
    assert parse_json_pointer("/spec/http/0/route/0/weight") == ("spec", "http", 0, "route", 0, "weight")
    assert parse_json_pointer("/a~0b") == ("a~b",)
    assert parse_json_pointer("spec") is None


@pytest.mark.parametrize(
    ("entry", "field", "expected"),
    [
        ({"jqPathExpressions": [".spec.http[].route[].weight"]}, WEIGHTS, True),
        ({"jqPathExpressions": [".spec.http[0].route[0].weight"]}, WEIGHTS, False),  # one destination
        ({"jqPathExpressions": [".spec.http[].route[0].weight"]}, WEIGHTS, False),
        ({"jsonPointers": ["/spec/http/0/route/0/weight", "/spec/http/0/route/1/weight"]}, WEIGHTS, False),
        ({"jqPathExpressions": [".spec.http"]}, WEIGHTS, True),  # a parent covers the field (and more)
        ({"jqPathExpressions": [".spec.subsets[].labels"]}, HASH, True),
        ({"jqPathExpressions": ['.spec.subsets[].labels["version"]']}, HASH, False),
        ({"jsonPointers": ["/spec/subsets/0/labels"]}, HASH, False),
        (
            {"jsonPointers": ["/metadata/annotations/argo-rollouts.argoproj.io~1managed-by-rollouts"]},
            MANAGED_BY,
            True,
        ),
        ({"jsonPointers": ["/metadata/annotations"]}, MANAGED_BY, True),
        (
            {"jqPathExpressions": ["managed-by-rollouts"]},
            MANAGED_BY,
            False,
        ),  # the old substring match passed this
    ],
)
def test_coverage(entry: dict[str, list[str]], field: tuple[object, ...], expected: bool) -> None:
    paths, _ = entry_paths([entry])
    assert covered(paths, field) is expected


def test_unreadable_expressions_are_listed() -> None:
    paths, unreadable = entry_paths([{"jqPathExpressions": [".a[1:]", ".b"], "jsonPointers": ["x"]}])
    assert paths == [("b",)] and unreadable == ["x", ".a[1:]"]


def test_entries_apply_as_in_argo_cd() -> None:
    vs = ("networking.istio.io", "VirtualService", "reviews", "bookinfo")
    assert applies({"group": "networking.istio.io", "kind": "VirtualService"}, *vs)
    assert applies({"group": "*.istio.io", "kind": "*", "name": "reviews", "namespace": "bookinfo"}, *vs)
    assert not applies({"kind": "VirtualService"}, *vs)  # no group is the core group only
    assert not applies({"group": "networking.istio.io", "kind": "VirtualService", "name": "ratings"}, *vs)
    assert not applies({"group": "networking.istio.io", "kind": "VirtualService", "namespace": "prod"}, *vs)


def test_mutations_follow_the_rollouts_routes() -> None:
    assert [m.path for m in rollouts_mutations("VirtualService")] == [WEIGHTS]
    tls = rollouts_mutations(
        "VirtualService", {"virtualService": {"name": "r", "tlsRoutes": [{"port": 443}]}}
    )
    assert [show(m.path) for m in tls] == [".spec.http[].route[].weight", ".spec.tls[].route[].weight"]
    assert [m.path for m in rollouts_mutations("DestinationRule")] == [HASH, MANAGED_BY]
    assert rollouts_mutations("Service") == []
