"""The Application that owns a file, looked up through an index, is the one a scan of every Application
(the old quadratic lookup) finds, first match in set order."""

from __future__ import annotations

import random
from typing import Any

from generator.rules.argocd import AppIndex
from generator.rules.objects import Item, get
from generator.validate import LoadedObject


def _scan(apps: list[Item], item: Item) -> Item | None:
    """The lookup as it was: every Application, in order, for every object."""
    if item.repo_path is None:
        return None
    folder = item.repo_path.rpartition("/")[0]
    for app in apps:
        path = get(app.obj, "spec", "source", "path")
        recurse = get(app.obj, "spec", "source", "directory", "recurse") is True
        if isinstance(path, str) and (
            folder == path.strip("/") or (recurse and folder.startswith(path.strip("/") + "/"))
        ):
            return app
    return None


def _app(name: str, path: Any, recurse: Any) -> Item:
    source: dict[str, Any] = {"path": path}
    if recurse is not None:
        source["directory"] = {"recurse": recurse}
    obj = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": name}}
    return Item(LoadedObject("apps.yaml", 1, {**obj, "spec": {"source": source}}))


def _file(repo_path: str | None) -> Item:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    return Item(LoadedObject("f.yaml", 1, obj), repo_path)


def test_index_agrees_with_a_scan_of_every_application() -> None:
    rng = random.Random(8)
    folders = ["", "a", "a/b", "a/b/c", "x", "x/a", "/", "a/"]
    for _ in range(300):
        apps = [
            _app(
                f"app-{i}",
                rng.choice([*folders, "/a", "/a/b/", 3, None]),
                rng.choice([True, False, None, "true"]),
            )
            for i in range(rng.randint(0, 6))
        ]
        index = AppIndex(apps)
        for _ in range(10):
            folder = rng.choice(["", "a", "a/b", "a/b/c", "a/b/c/d", "x/a", "/a", "b"])
            item = _file(rng.choice([None, f"{folder}/f.yaml" if folder else "f.yaml"]))
            assert index.owner(item) is _scan(apps, item)


def test_the_first_matching_application_wins_an_exact_one_over_a_later_recursive_one() -> None:
    recursive = _app("all", "deploy", True)
    exact = _app("svc", "deploy/svc", False)
    item = _file("deploy/svc/vs.yaml")
    assert AppIndex([recursive, exact]).owner(item) is recursive
    assert AppIndex([exact, recursive]).owner(item) is exact
    assert AppIndex([_app("other", "deploy", False)]).owner(item) is None
