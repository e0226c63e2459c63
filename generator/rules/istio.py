"""IST0101, IST0109, IST0130: `istioctl analyze` checks, reimplemented for files."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..errors import Finding
from .objects import (
    Item,
    ObjectSet,
    finding,
    fqdn,
    get,
    list_at,
)


def check(objects: ObjectSet) -> Iterator[Finding]:
    subsets: dict[str, set[str]] = defaultdict(set)
    for dr in objects.of_kind("DestinationRule"):
        host = get(dr.obj, "spec", "host")
        if isinstance(host, str):
            subsets[fqdn(host, dr.namespace)].update(
                str(s.get("name")) for s in list_at(dr.obj, "spec", "subsets") if isinstance(s, Mapping)
            )
    gateways = {(g.namespace, g.name) for g in objects.of_kind("Gateway")}
    claimed: dict[str, Item] = {}
    for vs in objects.of_kind("VirtualService"):
        http = list_at(vs.obj, "spec", "http")
        for index, route in enumerate(http):
            for position, destination in enumerate(list_at(route, "route")):
                host, subset = (
                    get(destination, "destination", "host"),
                    get(destination, "destination", "subset"),
                )
                if (
                    isinstance(host, str)
                    and subset
                    and str(subset) not in subsets.get(fqdn(host, vs.namespace), set())
                ):
                    yield finding(
                        "IST0101",
                        vs,
                        ("spec", "http", index, "route", position, "destination", "subset"),
                        f"subset '{subset}' of host '{host}' is not defined in any DestinationRule",
                    )
        vs_gateways = list_at(vs.obj, "spec", "gateways")
        for position, gateway in enumerate(vs_gateways):
            if gateway == "mesh" or not isinstance(gateway, str):
                continue
            namespace, _, name = gateway.rpartition("/")
            if (namespace or vs.namespace, name) not in gateways:
                yield finding(
                    "IST0101", vs, ("spec", "gateways", position), f"Gateway '{gateway}' is not defined"
                )
        if not vs_gateways or "mesh" in vs_gateways:
            for position, host in enumerate(list_at(vs.obj, "spec", "hosts")):
                key = fqdn(str(host), vs.namespace)
                first = claimed.setdefault(key, vs)
                if first is not vs:
                    yield finding(
                        "IST0109",
                        vs,
                        ("spec", "hosts", position),
                        f"host '{host}' is also claimed by VirtualService '{first.name}' "
                        f"({first.loaded.path}); the mesh keeps only one of them",
                    )
        yield from _unreachable_routes(vs, http)


def _unreachable_routes(vs: Item, http: Sequence[Any]) -> Iterator[Finding]:
    seen_matches: list[Any] = []
    catch_all: int | None = None
    for index, route in enumerate(http):
        if not isinstance(route, Mapping):
            continue
        match = route.get("match")
        if catch_all is not None:
            yield finding(
                "IST0130",
                vs,
                ("spec", "http", index),
                f"http route {index} can never match: route {catch_all} before it matches every request",
            )
            continue
        if not match:
            catch_all = index
        elif match in seen_matches:
            yield finding(
                "IST0130",
                vs,
                ("spec", "http", index, "match"),
                f"http route {index} can never match: an earlier route has the same match",
            )
        else:
            seen_matches.append(match)
