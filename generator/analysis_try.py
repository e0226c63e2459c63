"""`gitops-gen analysis try`: send a service's rendered SkyWalking queries to a live OAP, as the Argo Rollouts
provider would right now, and say what the measurement would record.

The request is the provider's (metricproviders/skywalking, machinebox/graphql in JSON mode; NOTES.md
section 2): `POST <address>/graphql` with `{"query": ..., "variables": {"duration": {start, end, step:
MINUTE}}}`, the window from now minus `provider.skywalking.interval` to now, both formatted "2006-01-02
1504". The controller formats them in its own time zone and the OAP reads them in its JVM's; both are
normally UTC, and so is the window here (`--at` gives another end, in the OAP's time). The body is then
classified as `gitops-gen test` classifies a simulated one.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import expr_eval, skywalking_oap
from .analysis_tests import MetricUnderTest, metrics_under_test
from .errors import InputError, Location, Problem, ToolError
from .limits import address_problem
from .render import render_environments
from .spec import SERVICES_DIR

# The provider's client timeout (metricproviders/skywalking: `http.Client{Timeout: 30 * time.Second}`).
DEFAULT_TIMEOUT = 30.0
HEADERS = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json; charset=utf-8"}
_MAX_RESPONSE = 32 * 1024 * 1024


@dataclass(frozen=True)
class Attempt:
    """One metric asked of the OAP: the request, what came back, and what the controller would record."""

    metric: MetricUnderTest
    url: str
    duration: dict[str, str]
    body: dict[str, Any]
    minutes: tuple[skywalking_oap.Minute | str, ...]  # the points' values; None for an empty minute
    measurement: expr_eval.Measurement

    @property
    def no_data(self) -> bool:
        """Every minute of the window empty: the service name matches nothing, or nothing was called."""
        return bool(self.minutes) and all(minute is None for minute in self.minutes)


def parse_at(text: str) -> datetime:
    """`--at`: the window's end as the provider writes it, `YYYY-MM-DD HHMM`."""
    try:
        return datetime.strptime(text, skywalking_oap.DURATION_FORMAT)
    except ValueError:
        raise InputError(
            [Problem(Location("--at"), f"invalid time {text!r}", "the window's end as YYYY-MM-DD HHMM")]
        ) from None


def oap_problem(url: str) -> str | None:
    """Why `--oap` cannot be asked: as an OAP address in a spec, an http(s) URL without credentials."""
    parts = urllib.parse.urlsplit(url)
    try:
        parts.port  # noqa: B018  # urlsplit parses the port only when asked: `:abc` raises here
    except ValueError:
        return f"{url!r} is no http(s) URL of an OAP: its port is no number from 0 to 65535"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is no http(s) URL of an OAP"
    return address_problem(url)


def try_analysis(
    config_dir: Path,
    env: str,
    service: str,
    oap: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    at: datetime | None = None,
) -> list[Attempt]:
    """Ask the OAP for every SkyWalking metric of the service's AnalysisTemplates in that environment.

    InputError when the service has no such metric there; ToolError when the OAP cannot be asked
    (unreachable, too slow, not answering GraphQL) or answers with GraphQL errors, which the controller
    would record as an Error.
    """
    if oap is not None and (problem := oap_problem(oap)):
        raise InputError([Problem(Location("--oap"), problem, "e.g. http://localhost:12800")])
    rendered = render_environments(config_dir, [env], [service])
    versions = rendered.versions[env]
    metrics = metrics_under_test(rendered.manifests, service, env, versions.oap, versions.rollouts)
    if not metrics:
        raise InputError(
            [
                Problem(
                    Location(f"{SERVICES_DIR}/{service}.yaml"),
                    f"{service} has no SkyWalking analysis in {env}",
                    "give the service an `analysis` section",
                )
            ]
        )
    end = at or datetime.now(UTC).replace(tzinfo=None)
    attempts = []
    for name in sorted(metrics):
        metric = metrics[name]
        url = (oap or metric.address).rstrip("/") + "/graphql"
        duration = skywalking_oap.duration(end, metric.window_seconds)
        body = _post(url, {"query": metric.query, "variables": {"duration": duration}}, timeout)
        measurement = expr_eval.classify(body, metric.success, metric.failure, metric.rollouts_version)
        attempt = Attempt(metric, url, duration, body, tuple(_minutes(body)), measurement)
        if isinstance(body.get("errors"), list) and body["errors"]:
            raise ToolError(
                f"the OAP at {url} refused the query of {name}: {_messages(body['errors'])} (the measurement "
                "would be an Error; gitops-gen validate checks the query against the protocol of "
                "skywalking.version: is the OAP that release?)"
            )
        attempts.append(attempt)
    return attempts


def _post(url: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(payload).encode(), HEADERS, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s): checked by the caller
            data = response.read(_MAX_RESPONSE + 1)
    except urllib.error.HTTPError as error:
        detail = _json_errors(error.read(64 * 1024))
        raise ToolError(
            f"the OAP at {url} answered HTTP {error.code} {error.reason}"
            + (f": {detail}" if detail else "")
            + " (the provider records an Error; is this SkyWalking's GraphQL address, without /graphql?)"
        ) from None
    except TimeoutError:
        raise ToolError(
            f"the OAP at {url} did not answer within {timeout:g}s "
            "(the provider gives up after 30s and records an Error)"
        ) from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError):
            raise ToolError(
                f"the OAP at {url} did not answer within {timeout:g}s "
                "(the provider gives up after 30s and records an Error)"
            ) from None
        raise ToolError(
            f"cannot reach the OAP at {url}: {getattr(reason, 'strerror', None) or reason} "
            "(from outside the cluster: kubectl -n istio-system port-forward svc/oap 12800, "
            "then --oap http://localhost:12800)"
        ) from None
    except OSError as error:
        raise ToolError(f"cannot reach the OAP at {url}: {error.strerror or error}") from None
    except http.client.HTTPException as error:  # a status line or headers that are no HTTP
        raise ToolError(f"the OAP at {url} answered with something that is not HTTP: {error!r}") from None
    if len(data) > _MAX_RESPONSE:
        raise ToolError(f"the OAP at {url} answered more than {_MAX_RESPONSE // (1024 * 1024)} MiB")
    try:
        expr_eval.decode_json(data)  # as the provider decodes it: what it refuses is refused here
        # Shown as it came (9950 stays 9950; classify decodes it as Go does), and like Go's decoder what
        # follows the first value is not read.
        text = data.decode("utf-8", errors="replace")
        body, _ = json.JSONDecoder().raw_decode(text, len(text) - len(text.lstrip(" \t\n\r")))
    except ValueError as error:
        raise ToolError(f"the OAP at {url} answered with something that is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise ToolError(f"the OAP at {url} answered JSON that is not a GraphQL response")
    return body


def _json_errors(data: bytes) -> str:
    try:
        body = json.loads(data)
    except ValueError:
        return ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message", ""))
    return ""


def _messages(errors: list[Any]) -> str:
    return "; ".join(str(e.get("message", "")) if isinstance(e, dict) else str(e) for e in errors)


def _minutes(body: dict[str, Any]) -> list[skywalking_oap.Minute | str]:
    """The values of the points a readMetricsValues or MQE answer holds, None for an empty minute."""
    data = body.get("data")
    found: list[skywalking_oap.Minute | str] = []
    for field in data.values() if isinstance(data, dict) else ():
        if not isinstance(field, dict):
            continue
        if isinstance(field.get("values"), dict):  # readMetricsValues: MetricsValues
            points = field["values"].get("values") or []
        else:  # execExpression: ExpressionResult, the first series
            results = field.get("results") or []
            points = results[0].get("values") or [] if results and isinstance(results[0], dict) else []
        for point in points:
            if not isinstance(point, dict):
                continue
            empty = point.get("isEmptyValue") is True or point.get("value") is None
            found.append(None if empty else point.get("value"))
    return found


def format_attempts(env: str, service: str, attempts: Sequence[Attempt]) -> str:
    lines = []
    for attempt in attempts:
        metric = attempt.metric
        window = attempt.duration
        lines += [
            f"{env}/{service}: metric {metric.name} (AnalysisTemplate {metric.template}), "
            f"OAP {metric.oap_version}, Argo Rollouts {metric.rollouts_version}",
            f"  asked: POST {attempt.url}, window {window['start']} .. {window['end']} (step MINUTE)",
            "  query:",
            *(f"    {line}" for line in metric.query.rstrip("\n").splitlines()),
            "  response:",
            *(f"    {line}" for line in json.dumps(attempt.body, indent=2).splitlines()),
            "  minutes: [" + ", ".join("null" if m is None else str(m) for m in attempt.minutes) + "]",
        ]
        if attempt.no_data:
            lines.append(
                "  no data: every minute of the window is empty. Either nothing called the canary in the "
                "window, or SkyWalking knows no service of the queried name (check it in the SkyWalking UI: "
                "TSB names it subset|service|namespace|cluster|-)"
            )
        phase = attempt.measurement.phase
        message = attempt.measurement.message
        lines.append(f"  measurement now: {phase}" + (f" ({message})" if message else ""))
    return "\n".join(lines) + "\n"
