"""generator/limits.py: what a name, a duration, a URL, a branch, a path and a host may be, and the spec
schemas kept in step with it (the schemas name its checks as formats and carry its patterns and bounds)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator import limits

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "spec"


def nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from nodes(value)


ALL = [
    n
    for name in ("service.schema.json", "environment.schema.json")
    for n in nodes(json.loads((SCHEMAS / name).read_text()))
]


def types(node: dict[str, Any]) -> set[str]:
    kind = node.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)


# ---- the schemas and limits.py agree ---------------------------------------------------------------


def test_the_schemas_name_only_formats_limits_checks_and_use_each() -> None:
    named = {n["format"] for n in ALL if "format" in n}
    assert named == set(limits.FORMATS)


def test_every_dns_pattern_carries_its_kubernetes_length() -> None:
    labels = [n for n in ALL if n.get("pattern") == limits.DNS_LABEL_PATTERN]
    subdomains = [n for n in ALL if n.get("pattern") == limits.DNS_SUBDOMAIN_PATTERN]
    assert labels and subdomains
    assert all(n.get("maxLength") == limits.DNS_LABEL_MAX for n in labels)
    assert all(n.get("maxLength") == limits.DNS_SUBDOMAIN_MAX for n in subdomains)


def test_every_integer_and_string_is_bounded() -> None:
    for node in ALL:
        if "integer" in types(node):
            assert node.get("maximum", limits.INT64_MAX + 1) <= limits.INT64_MAX, node
        if "string" in types(node) and "enum" not in node and "const" not in node:
            assert "maxLength" in node, node


# ---- names ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "demo", "cp-cluster-1", "0", "a" * 63])
def test_dns_labels(name: str) -> None:
    assert limits.name_problem(name) is None


@pytest.mark.parametrize("name", ["", "-a", "a-", "A", "a_b", "a.b", ".", "..", "a/b", "é", "a" * 64])
def test_not_dns_labels(name: str) -> None:
    assert limits.name_problem(name)


def test_subdomains() -> None:
    assert limits.name_problem("a.b-c.d", subdomain=True) is None
    assert limits.name_problem("x" * 253, subdomain=True) is None
    for bad in ("a..b", ".a", "a.", "x" * 254, "../x"):
        assert limits.name_problem(bad, subdomain=True), bad


# ---- durations: Go's time.ParseDuration range, longer than 0, a pause within int32 seconds -------------


@pytest.mark.parametrize("value", ["1s", "10m", "1h30m", "2562047h47m16s"])
def test_durations(value: str) -> None:
    assert limits.duration_problem(value) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0s", "no time at all"),
        ("0h0m0s", "no time at all"),
        ("2562047h47m17s", "longer than Go's largest duration"),
        ("3000000h", "longer than Go's largest duration"),
        ("1d", 'unknown unit "d"'),
    ],
)
def test_not_durations(value: str, expected: str) -> None:
    problem = limits.duration_problem(value)
    assert problem is not None and expected in problem


def test_a_pause_fits_int32_seconds() -> None:
    assert limits.duration_problem("596523h14m7s", pause=True) is None  # 2^31 - 1 seconds
    problem = limits.duration_problem("596523h14m8s", pause=True)
    assert problem is not None and "596523h14m7s" in problem
    assert limits.duration_problem("596523h14m8s") is None  # an interval may be longer


# ---- URLs -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/o/r.git",
        "http://git.local:8080/r",
        "ssh://git@github.com/o/r.git",
        "git@github.com:o/r.git",
        "git://host/r",
    ],
)
def test_repository_urls(url: str) -> None:
    assert limits.repo_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://u:tok@github.com/o/r.git", "https://***@github.com/o/r.git holds credentials"),
        ("https://ghp_token@github.com/o/r.git", "holds credentials"),
        ("ssh://git:pw@host/r", "holds credentials"),
        ("ext::sh -c x", "space"),
        ("file:///etc", "scheme file://"),
        ("-u", "starts with '-'"),
        ("https:///r", "names no host"),
        ("just-words", "is not a repository URL"),
    ],
)
def test_not_repository_urls(url: str, expected: str) -> None:
    problem = limits.repo_url_problem(url)
    assert problem is not None and expected in problem
    assert "tok" not in problem.replace("token", "")


# ---- branches: a differential test against git's own check-ref-format ---------------------------------

BRANCHES = [
    "main", "release/1.2", "feature/a-b_c", "a.b", "-x", "a..b", "a b", "a~1", "a^", "a:b", "a?", "a*",
    "a[b", "a\\b", "a@{b", "@", "a.", "a/", "/a", "a//b", "a.lock", "a.lock/b", "a/.b", ".a", "a/b.lock",
    "gitops-gen/0123abc-dirty", "x\x7f", "ünïcode",
]  # fmt: skip


# Where gitops-gen is stricter than git, and why.
STRICTER = {
    "@": "gitrevisions(7): `@` alone means HEAD, so `git push origin @` and a targetRevision `@` would not "
    "name the branch",
}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
@pytest.mark.parametrize("branch", BRANCHES)
def test_branch_names_agree_with_git(branch: str, tmp_path: Path) -> None:
    git = subprocess.run(
        ["git", "check-ref-format", "--branch", branch], capture_output=True, cwd=tmp_path, check=False
    )
    accepted = limits.branch_problem(branch) is None
    if branch in STRICTER:
        assert git.returncode == 0 and not accepted
    else:
        assert accepted == (git.returncode == 0), git.stderr


# ---- repository paths and hosts -----------------------------------------------------------------------


def test_repository_paths() -> None:
    assert limits.repo_path_problem("rendered") is None
    assert limits.repo_path_problem("clusters/prod/rendered") is None
    for bad in ("../x", "a/../b", "/etc", "a/./b", "a//b", "a\\b", "a b"):
        assert limits.repo_path_problem(bad), bad


@pytest.mark.parametrize(
    "host", ["bookinfo.tetrate.com", "*.example.com", "*", "reviews", "Upper.Case.io", "istio.io."]
)
def test_istio_hosts(host: str) -> None:
    assert limits.host_problem(host) is None


@pytest.mark.parametrize("host", ["", "a b", "a.*.com", "10.0.0.1", "a..b", "-a.com", "x" * 256])
def test_not_istio_hosts(host: str) -> None:
    assert limits.host_problem(host)


def test_gateway_hosts_may_name_namespaces() -> None:
    assert limits.gateway_host_problem("bookinfo/reviews.example.com") is None
    assert limits.gateway_host_problem("*/reviews.example.com") is None
    assert limits.gateway_host_problem("./reviews.example.com") is None
    assert limits.gateway_host_problem("../x")
