"""The set of objects the rules look at, the lookups they share, and how a finding is made.

Rules run on hand-written files whose schema errors are reported separately: every read goes through
`get`/`map_at`/`list_at`, which return None / {} / [] for a missing or wrongly typed field."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import Finding
from ..model import Versions
from ..validate import LoadedObject, locate
from ..yamlio import PathTuple
from .catalogue import RULES


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    found = obj.get("metadata")
    return found if isinstance(found, Mapping) else {}


def get(obj: Any, *path: str | int) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(obj, list) or not -len(obj) <= part < len(obj):
                return None
        elif not isinstance(obj, Mapping):
            return None
        obj = obj[part] if isinstance(part, int) else obj.get(part)
    return obj


def map_at(obj: Any, *path: str | int) -> Mapping[str, Any]:
    """The mapping at `path`, or {} when it is missing or not a mapping: rules run on hand-written files
    whose schema errors are reported separately, and must not trip over them."""
    found = get(obj, *path)
    return found if isinstance(found, Mapping) else {}


def list_at(obj: Any, *path: str | int) -> list[Any]:
    """The list at `path`, or [] when it is missing or not a list (see `map_at`)."""
    found = get(obj, *path)
    return found if isinstance(found, list) else []


def api_group(obj: Mapping[str, Any]) -> str:
    return str(obj.get("apiVersion", "")).rpartition("/")[0]


@dataclass(frozen=True, slots=True)
class Item:
    """One object of the set, and where it sits in the GitOps repo (for Application paths), if known."""

    loaded: LoadedObject
    repo_path: str | None = None
    # Only there to be referred to (what a one-service render knows of the others): no finding is on it.
    reference_only: bool = False

    @property
    def obj(self) -> Mapping[str, Any]:
        return self.loaded.obj

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        return str(meta(self.obj).get("name", ""))

    @property
    def namespace(self) -> str:
        """ "" when not set: hand-written files often leave it to the Argo CD destination."""
        return str(meta(self.obj).get("namespace") or "")


class ObjectSet:
    def __init__(
        self,
        items: Sequence[Item],
        path_exists: Callable[[str], bool] | None = None,
        versions: Versions | None = None,
    ) -> None:
        self.items = list(items)
        self.path_exists = path_exists
        self.versions = versions or Versions()
        self._by_key: dict[tuple[str, str, str], list[Item]] = defaultdict(list)
        self._by_kind: dict[str, list[Item]] = defaultdict(list)
        for item in self.items:
            self._by_key[(item.kind, item.namespace, item.name)].append(item)
            self._by_kind[item.kind].append(item)

    @property
    def subjects(self) -> Iterator[Item]:
        """The items findings may be on (rules that look at each object alone walk these)."""
        return (item for item in self.items if not item.reference_only)

    def of_kind(self, kind: str) -> list[Item]:
        return self._by_kind.get(kind, [])

    def find(self, kind: str, namespace: str, name: str) -> Item | None:
        found = self._by_key.get((kind, namespace, name))
        return found[0] if found else None

    def named(self, kind: str, name: str, group: str | None = None) -> list[Item]:
        return [
            i for i in self.of_kind(kind) if i.name == name and (group is None or api_group(i.obj) == group)
        ]


def finding(rule_id: str, item: Item, path: PathTuple, message: str, severity: str | None = None) -> Finding:
    rule = RULES[rule_id]
    return Finding(
        rule=rule_id,
        severity=severity or rule.severity,
        location=locate(item.loaded, path),
        message=message,
        obj=item.loaded.label,
        link=rule.link,
    )


def where(item: Item) -> str:
    return f"namespace '{item.namespace}'" if item.namespace else "the same set (no namespace set)"


@dataclass(frozen=True)
class Canary:
    rollout: Item
    vs_name: str
    routes: list[str]
    dr_name: str
    canary: str
    stable: str


def istio_canaries(objects: ObjectSet) -> Iterator[Canary]:
    for rollout in objects.of_kind("Rollout"):
        istio = get(rollout.obj, "spec", "strategy", "canary", "trafficRouting", "istio")
        if not isinstance(istio, Mapping):
            continue
        vs = istio.get("virtualService") or {}
        dr = istio.get("destinationRule") or {}
        if (
            not isinstance(vs, Mapping)
            or not isinstance(dr, Mapping)
            or not vs.get("name")
            or not dr.get("name")
        ):
            continue  # host-level splitting or the schema's business: subset rules do not apply
        routes: list[Any] = vs["routes"] if isinstance(vs.get("routes"), list) else []
        yield Canary(
            rollout,
            str(vs["name"]),
            [str(r) for r in routes],
            str(dr["name"]),
            str(dr.get("canarySubsetName", "")),
            str(dr.get("stableSubsetName", "")),
        )


def fqdn(host: Any, namespace: str) -> str:
    name = str(host)
    if "." in name or name.startswith("*"):
        return name
    return f"{name}.{namespace or 'default'}.svc.cluster.local"


def same_host(a: str, b: str, namespace: str) -> bool:
    return fqdn(a, namespace) == fqdn(b, namespace)
