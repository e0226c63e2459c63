"""GG303: the cluster part of the service-name arg against the TSB selectors, the service part against
the canary's DestinationRule host."""

from __future__ import annotations

from typing import Any

import pytest

from generator.rules import Item, check
from generator.validate import LoadedObject


def objects(value: str, selector: str, host: str = "reviews") -> list[dict[str, Any]]:
    istio = {"virtualService": {"name": "reviews"},
             "destinationRule": {"name": "reviews", "canarySubsetName": "canary", "stableSubsetName": "stable"}}  # fmt: skip
    canary = {"trafficRouting": {"istio": istio},
              "analysis": {"templates": [{"templateName": "t"}], "args": [{"name": "service-name", "value": value}]}}  # fmt: skip
    meta = {"namespace": "bookinfo"}
    return [
        {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r", **meta},
         "spec": {"strategy": {"canary": canary}}},
        {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "reviews", **meta},
         "spec": {"host": host}},
        {"apiVersion": "tsb.tetrate.io/v2", "kind": "Workspace", "metadata": {"name": "ws"},
         "spec": {"namespaceSelector": {"names": [selector]}}},
    ]  # fmt: skip


def gg303(objs: list[dict[str, Any]]) -> list[str]:
    items = [Item(LoadedObject(f"{i}.yaml", 1, o)) for i, o in enumerate(objs)]
    return [f.message for f in check(items) if f.rule == "GG303"]


def test_matching_cluster_and_service() -> None:
    assert gg303(objects("canary|reviews|bookinfo|cp-cluster-1|-", "cp-cluster-1/bookinfo")) == []


@pytest.mark.parametrize("selector", ["*/bookinfo", "cp-cluster-2/other", "cp-cluster-2/book*x"])
def test_unknown_or_any_cluster_is_not_flagged(selector: str) -> None:
    assert gg303(objects("canary|reviews|bookinfo|cp-cluster-1|-", selector)) == []


@pytest.mark.parametrize("selector", ["cp-cluster-2/bookinfo", "cp-cluster-2/*", "cp-cluster-2/book*"])
def test_other_cluster(selector: str) -> None:
    (message,) = gg303(objects("canary|reviews|bookinfo|cp-cluster-1|-", selector))
    assert "names cluster 'cp-cluster-1'" in message and "name cluster(s) cp-cluster-2" in message


@pytest.mark.parametrize("host", ["reviews", "reviews.bookinfo", "reviews.bookinfo.svc.cluster.local"])
def test_service_part_is_the_destination_rule_host(host: str) -> None:
    (message,) = gg303(objects("canary|ratings|bookinfo|cp-cluster-1|-", "cp-cluster-1/bookinfo", host))
    assert (
        message
        == "service-name names service 'ratings', but the canary's DestinationRule routes to service 'reviews'"
    )


def test_a_non_kubernetes_host_says_nothing_about_the_service() -> None:
    assert (
        gg303(
            objects("canary|ratings|bookinfo|cp-cluster-1|-", "cp-cluster-1/bookinfo", "reviews.example.com")
        )
        == []
    )
