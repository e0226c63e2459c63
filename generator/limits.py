"""What a name, a duration, a URL, a branch and a path in a spec or environment file may be: one place.

Every value that becomes a file path, an object name, a label, a git argument or a duration the
controllers parse is checked here, at the input and with its location, against what the consumer
accepts. The JSON schemas (schemas/spec/) name these checks as formats (`"format": "go-duration"`) or
carry the same patterns and bounds (`$defs.dnsLabel`, `int32`); tests/unit/test_limits.py keeps the
schemas and this module in step, so neither can drift.
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from collections.abc import Callable

from .rules.durations import parse_go_duration, show_seconds

# Kubernetes' names (k8s.io/apimachinery/pkg/util/validation/validation.go): `IsDNS1123Label` (a
# namespace, a Service, a label value), `IsDNS1123Subdomain` (the name of most objects and of every
# custom resource: a Rollout, an Application, a TSB Tenant). gitops-gen writes each name as a folder or
# file name too; neither pattern can make `.`, `..` or a `/`.
DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_LABEL_MAX = 63
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS_SUBDOMAIN_MAX = 253
_DNS_LABEL = re.compile(DNS_LABEL_PATTERN)
_DNS_SUBDOMAIN = re.compile(DNS_SUBDOMAIN_PATTERN)

# Integer fields of Rollouts and AnalysisTemplates are int32 (`replicas`, `setWeight`, `failureLimit`,
# `count`); Argo CD's `retry.limit` and `backoff.factor` are int64 (argo-cd pkg/apis/application/v1alpha1
# types.go, `RetryStrategy`, `Backoff`).
INT32_MAX = (1 << 31) - 1
INT64_MAX = (1 << 63) - 1

# A pause is read as whole seconds into an int32 (`RolloutPause.DurationSeconds`, argo-rollouts v1.9.1
# pkg/apis/rollouts/v1alpha1/types.go); a longer one wraps negative and the Rollout is rejected with
# "Duration needs to be greater than 0" (pkg/apis/rollouts/validation/validation.go).
PAUSE_MAX_SECONDS = INT32_MAX


def name_problem(value: str, *, subdomain: bool = False) -> str | None:
    """Why `value` cannot be a DNS-1123 label (or, `subdomain`, a DNS-1123 subdomain); None if it can."""
    pattern, limit = (_DNS_SUBDOMAIN, DNS_SUBDOMAIN_MAX) if subdomain else (_DNS_LABEL, DNS_LABEL_MAX)
    what = "DNS-1123 subdomain" if subdomain else "DNS-1123 label"
    if len(value) > limit:
        return f"{value[:20]!r}... is {len(value)} characters, more than a {what} may have ({limit})"
    if not pattern.match(value):
        return f"{value!r} is not a {what}"
    return None


NAME_HINT = "lower-case letters, digits and '-', starting and ending with a letter or digit"


def duration_problem(value: str, *, pause: bool = False) -> str | None:
    """Why `value` is no duration the controllers take (Go's `time.ParseDuration`, at most ~292 years,
    longer than 0; a pause also fits int32 seconds); None if it is one.

    A duration of 0 is refused although Argo Rollouts parses it: an `interval` of 0 measures on every
    reconcile of the analysis controller (argo-rollouts analysis/analysis.go, `generateMetricTasks`),
    a window of 0 asks SkyWalking for no minute, and a pause of 0 waits for nothing."""
    nanoseconds, error = parse_go_duration(value)
    if nanoseconds is None:
        if re.fullmatch(r"([0-9]+(ns|us|µs|μs|ms|s|m|h))+", value):  # well formed: too long for an int64
            return f"{value} is longer than Go's largest duration (2562047h47m16s)"
        return error or f"invalid duration {value!r}"
    if nanoseconds <= 0:
        return f"{value} is no time at all: a duration must be longer than 0"
    if pause and nanoseconds // 1_000_000_000 > PAUSE_MAX_SECONDS:
        return (
            f"{value} is longer than a pause may be ({show_seconds(PAUSE_MAX_SECONDS)}: Argo Rollouts reads "
            "a pause as int32 seconds)"
        )
    return None


# ---- URLs -------------------------------------------------------------------------------------------

# The transports Argo CD's repo-server clones with (https, http, ssh, and the scp-like `git@host:path`);
# git's `ext::`/`fd::` helpers and local paths run or read things on the machine that clones.
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$", re.S)
_SCP_LIKE = re.compile(r"^(?P<user>[A-Za-z0-9._-]+@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*|/.*)$", re.S)
_REPO_SCHEMES = ("https", "http", "ssh", "git")
_UNSAFE_CHARACTERS = re.compile(r"[\s\x00-\x1f\x7f]")


def repo_url_problem(url: str) -> str | None:
    """Why `url` cannot be the GitOps repository's URL in an Application; None if it can. Credentials
    are refused: every Application would carry them into the GitOps repo, and Argo CD takes repository
    credentials from its own Secrets, matched by URL, never from the URL itself
    (https://argo-cd.readthedocs.io/en/stable/operator-manual/declarative-setup/#repositories)."""
    if _UNSAFE_CHARACTERS.search(url):
        return f"{url!r} holds a space or a control character"
    if url.startswith("-"):
        return f"{url!r} starts with '-' (git would read it as an option)"
    match = _URL.match(url)
    if match:
        scheme = match.group("scheme").lower()
        if scheme not in _REPO_SCHEMES:
            schemes = ", ".join(f"{s}://" for s in _REPO_SCHEMES)
            return f"{url!r}: scheme {scheme}:// is not one Argo CD clones ({schemes} or git@host:path)"
        parts = urllib.parse.urlsplit(url)
        if parts.password is not None or (parts.username is not None and scheme in ("https", "http")):
            return f"{_redacted(url)} {_HOLDS_CREDENTIALS}"
        if not parts.hostname:
            return f"{url!r} names no host"
        return None
    scp = _SCP_LIKE.match(url)
    if scp and "::" not in url:
        return None
    return f"{url!r} is not a repository URL (https://host/org/repo.git or git@host:org/repo.git)"


def address_problem(url: str) -> str | None:
    """Why `url` cannot be a SkyWalking OAP address rendered into AnalysisTemplates; None if it can."""
    if _UNSAFE_CHARACTERS.search(url):
        return f"{url!r} holds a space or a control character"
    parts = urllib.parse.urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return f"{_redacted(url)} {_HOLDS_CREDENTIALS}"
    return None


def server_problem(url: str) -> str | None:
    """Why `url` cannot be the API server of an Argo CD Application's destination (a cluster URL Argo CD
    knows, e.g. https://kubernetes.default.svc); None if it can."""
    if _UNSAFE_CHARACTERS.search(url):
        return f"{url!r} holds a space or a control character"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{url!r} is not an http(s) URL of a cluster's API server"
    if parts.username is not None or parts.password is not None:
        return f"{_redacted(url)} {_HOLDS_CREDENTIALS}"
    return None


# Said where the credentials are found: no format check has a hint of its own.
_HOLDS_CREDENTIALS = (
    "holds credentials: remove them, Argo CD reads them from its own Secrets and a URL's would be "
    "committed to the GitOps repo"
)


def _redacted(url: str) -> str:
    return re.sub(r"(://)[^/@]*@", r"\1***@", url)


# ---- git branches and repository paths ---------------------------------------------------------------


def branch_problem(branch: str) -> str | None:
    """Why `branch` is no branch name git takes (`git check-ref-format --branch`, the rules of
    git's refs.c `check_refname_component`); None if it is one. `publish` passes it to git."""
    if branch.startswith("-"):
        return f"{branch!r} starts with '-' (git would read it as an option)"
    if branch == "@" or branch.endswith((".", "/", ".lock")) or branch.startswith("/"):
        return f"{branch!r} is not a branch name git accepts"
    if re.search(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//", branch):
        return f"{branch!r} is not a branch name git accepts (no spaces, '..', '~^:?*[\\' or '@{{')"
    if any(part.startswith(".") or part.endswith(".lock") for part in branch.split("/")):
        return f"{branch!r} is not a branch name git accepts (no part may start with '.' or end with '.lock')"
    return None


def repo_path_problem(path: str) -> str | None:
    """Why `path` cannot be the folder of the GitOps repo the tree goes to; None if it can. A `..`
    would take `publish` outside the repository, and Argo CD refuses such an Application path."""
    if _UNSAFE_CHARACTERS.search(path) or "\\" in path:
        return f"{path!r} holds a space, a backslash or a control character"
    if path.startswith("/"):
        return f"{path!r} is absolute: it is a folder inside the GitOps repository"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts) and path != ".":
        return f"{path!r} has an empty, '.' or '..' part"
    if posixpath.normpath(path) != path:
        return f"{path!r} is not in its normal form ({posixpath.normpath(path)!r})"
    return None


# ---- Istio hosts --------------------------------------------------------------------------------------

# istio pkg/config/labels/instance.go: `dns1123LabelFmt` (upper case allowed) and `wildcardPrefix`.
_HOST_LABEL = re.compile(r"^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$")
_WILDCARD_LABEL = re.compile(r"^(?:\*|(?:\*|\*-)?[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?)$")


def host_problem(host: str) -> str | None:
    """Why `host` is no host Istio takes in a VirtualService or Gateway; None if it can. A port of
    istio pkg/config/validation/agent/validation.go `ValidateWildcardDomain`: at most 255 characters;
    the first label may be `*`, `*foo` or `*-foo`; the others are DNS-1123 labels, the last may be empty
    (`istio.io.`) and the top-level one not all digits."""
    if not host:
        return "empty domain name not allowed"
    if len(host) > 255:
        return f"domain name {host[:20]!r}... too long (max 255)"
    first, _, rest = host.partition(".")
    if len(first) > 63 or not _WILDCARD_LABEL.match(first):
        return f"domain name {host!r} invalid (label {first!r} invalid)"
    if not rest and "." not in host:
        return None
    labels = rest.split(".")
    if labels[-1].isdigit():
        return f"domain name {host!r} invalid (top level domain {labels[-1]!r} cannot be all-numeric)"
    for index, label in enumerate(labels):
        if index == len(labels) - 1 and label == "":
            return None
        if len(label) > 63 or not _HOST_LABEL.match(label):
            return f"domain name {host!r} invalid (label {label!r} invalid)"
    return None


def gateway_host_problem(host: str) -> str | None:
    """A Gateway server's host may also name the namespaces whose VirtualServices bind to it:
    `namespace/host`, the namespace `*`, `.` or a DNS-1123 label (istio validation.go,
    `validateNamespaceSlashWildcardHostname`)."""
    namespace, slash, name = host.rpartition("/")
    if slash and namespace not in ("*", ".") and name_problem(namespace):
        return f"{host!r}: the namespace {namespace!r} before '/' is not '*', '.' or a namespace name"
    return host_problem(name)


# The formats the spec schemas name, each a check that returns why a value fails (or None).
# ---- container images -------------------------------------------------------------------------------------

# The grammar the kubelet's image pull parses a reference with (github.com/distribution/reference v0.6.0,
# regexp.go and reference.go, used through ParseNormalizedNamed):
#   reference := name [":" tag] ["@" digest]; name := [domain "/"] path-component ["/" path-component]*
#   domain := host [":" port]; host := domain-name | "[" IPv6 "]"
#   path-component := [a-z0-9]+ (sep [a-z0-9]+)*
#   sep := [_.] | "__" | "-"+; tag := [\w][\w.-]{0,127}; digest := algorithm ":" hex
# and the name is at most 255 characters (NameTotalLengthMax). The digest algorithms are go-digest's
# registered ones, each with its hex length (sha256: 64, sha384: 96, sha512: 128).
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[_.]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_IMAGE = re.compile(
    rf"(?P<name>(?:(?P<domain>{_HOST}(?::[0-9]+)?)/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?"
)
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
IMAGE_NAME_MAX = 255


def image_problem(image: str) -> str | None:
    """Why `image` is no container image reference the kubelet can pull; None if it is one."""
    match = _IMAGE.fullmatch(image)
    if match is None:
        if image != image.strip():
            return f"{image!r} has spaces around it"
        if any(c.isupper() for c in image.split("@")[0].split(":")[0].split("/", 1)[-1]):
            return f"{image!r} is no image reference: the repository path must be lower case"
        return f"{image!r} is no image reference (registry/path:tag or registry/path@sha256:<hex>)"
    if len(match.group("name")) > IMAGE_NAME_MAX:
        return f"the image name is longer than {IMAGE_NAME_MAX} characters"
    digest = match.group("digest")
    if digest:
        algorithm, _, hex_part = digest.partition(":")
        if _DIGEST_LENGTHS.get(algorithm) != len(hex_part) or hex_part != hex_part.lower():
            return f"{digest!r} is no {algorithm} digest (sha256 takes 64 lower-case hex digits)"
    return None


FORMATS: dict[str, Callable[[str], str | None]] = {
    "go-duration": duration_problem,
    "pause-duration": lambda value: duration_problem(value, pause=True),
    "repo-url": repo_url_problem,
    "oap-address": address_problem,
    "server-url": server_problem,
    "git-branch": branch_problem,
    "repo-path": repo_path_problem,
    "istio-host": host_problem,
    "gateway-host": gateway_host_problem,
    "image-reference": image_problem,
}
