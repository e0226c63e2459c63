"""`gitops-gen test`: unit tests of the rendered AnalysisTemplates, as `promtool test rules` is for alerts.

A test file names a service (and optionally one environment) and lists cases: for each metric of the
service's AnalysisTemplate, SkyWalking's value for every minute of the query window, and the phase the
measurement must get. Each case is run as Argo Rollouts would run the measurement:
- the metric's query, with the Rollout's arguments filled in, is answered by `skywalking_oap` from the
  case's minutes, through the query protocol of the environment's OAP release (its aliases, its query
  style, `isEmptyValue` from 9.5.0, MQE's string values);
- the SkyWalking provider and the analysis controller's EvaluateResult classify the body
  (`expr_eval.classify`) with the expression language of the environment's Argo Rollouts release.
A case that does not get its phase is a finding at the case's line, with what the condition saw.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from . import expr_eval, skywalking_oap
from .errors import InputError, Location, Problem, raise_if_any
from .expr_eval import Measurement, Part
from .render import Manifest, render_environments
from .rules.durations import go_duration_seconds, show_seconds
from .skywalking import ARG_TAG, SCALED_BY_10000, TEMPLATE_TAG
from .spec import (
    SERVICES_DIR,
    SourceFile,
    _yaml_files,
    analysis_test_validator,
    load_source,
    schema_problems,
    spec_files,
)

DEFAULT_FOLDER = "analysis-tests"
# The measurement's "now": any minute gives the same outcome (the values are canned), a fixed one keeps the
# simulated bodies (their time bucket ids) byte for byte the same from run to run.
MEASURED_AT = datetime(2030, 1, 1, 12, 0)


@dataclass(frozen=True)
class MetricUnderTest:
    """One metric of a rendered AnalysisTemplate in one environment, as the controller would run it."""

    env: str
    template: str
    name: str
    query: str  # the Rollout's arguments filled in
    success: str | None
    failure: str | None
    window_seconds: float  # provider.skywalking.interval
    oap_version: str
    rollouts_version: str
    skywalking_metric: str  # the OAL metric the query reads (scaled metrics hold fractions x10000)
    address: str = ""  # provider.skywalking.address: the OAP


@dataclass(frozen=True)
class Outcome:
    """One measurement of one case: what was expected, what the controller would record, and why."""

    location: Location  # the case in its test file
    case: str
    env: str
    metric: str
    minutes: tuple[skywalking_oap.Minute, ...]
    expected: str
    got: Measurement | None  # None: the condition uses what the evaluator does not implement
    why: tuple[tuple[str, str, tuple[Part, ...]], ...] = ()  # for a finding: (condition kind, value, parts)
    unsupported: str = ""

    @property
    def passed(self) -> bool:
        return self.got is not None and self.got.phase == self.expected


@dataclass
class Report:
    files: int = 0
    cases: int = 0
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def findings(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.got is not None and not o.passed]

    @property
    def unsupported(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.got is None]


# ---- the test files --------------------------------------------------------------------------------------


def find_test_files(config_dir: Path, paths: Sequence[Path]) -> list[tuple[Path, str]]:
    """The files to run, with the name they are shown by: the given files and the YAML files of the given
    folders, or those of <config>/analysis-tests/."""
    if not paths:
        folder = config_dir / DEFAULT_FOLDER
        if not folder.is_dir():
            raise InputError(
                [
                    Problem(
                        Location(DEFAULT_FOLDER),
                        "folder not found",
                        f"--config {config_dir} holds no {DEFAULT_FOLDER}/; "
                        "write tests there or name the files",
                    )
                ]
            )
        return [(path, f"{DEFAULT_FOLDER}/{path.name}") for path in _yaml_files(folder)]
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            found.extend((file, str(path / file.name)) for file in _yaml_files(path))
        else:
            found.append((path, str(path)))
    return found


def load_test_file(path: Path, display: str) -> SourceFile:
    source = load_source(path, display)
    if not isinstance(source.data, dict):
        raise InputError([Problem(Location(display, 1, 1), "expected a mapping (an analysis test file)")])
    problems = schema_problems(analysis_test_validator(), source, source.data)
    seen: dict[str, int] = {}
    for index, case in enumerate(source.data.get("cases") or ()):
        name = case.get("name") if isinstance(case, dict) else None
        if isinstance(name, str) and name in seen:
            problems.append(
                Problem(
                    source.locate(("cases", index, "name")),
                    f"a second case named {name!r}",
                    f"cases[{seen[name]}] has that name; give each case its own",
                )
            )
        elif isinstance(name, str):
            seen[name] = index
    raise_if_any(problems)
    return source


# ---- what the render holds -------------------------------------------------------------------------------


def _args(rollout: Mapping[str, Any]) -> dict[str, str]:
    analysis = rollout.get("spec", {}).get("strategy", {}).get("canary", {}).get("analysis") or {}
    return {
        str(arg["name"]): str(arg["value"])
        for arg in analysis.get("args") or ()
        if isinstance(arg, dict) and "value" in arg
    }


def fill_args(query: str, args: Mapping[str, str]) -> str:
    """`{{ args.NAME }}` replaced as Argo Rollouts' ResolveArgs does (the tag trimmed of spaces); a tag
    without a value is left as it is."""

    def value(match: Any) -> str:
        arg = ARG_TAG.fullmatch(match.group(1))
        return args[arg.group(1)] if arg and arg.group(1) in args else str(match.group(0))

    return TEMPLATE_TAG.sub(value, query)


def metrics_under_test(
    manifests: Iterable[Manifest], service: str, env: str, oap_version: str, rollouts_version: str
) -> dict[str, MetricUnderTest]:
    """The SkyWalking metrics of the service's AnalysisTemplates in one environment, by metric name."""
    objects = [m.obj for m in manifests if m.env == env and m.service == service]
    args: dict[str, str] = {}
    for obj in objects:
        if obj.get("kind") == "Rollout":
            args.update(_args(obj))
    found: dict[str, MetricUnderTest] = {}
    for obj in objects:
        if obj.get("kind") != "AnalysisTemplate":
            continue
        defaults = {str(a["name"]): str(a["value"]) for a in obj["spec"].get("args") or () if "value" in a}
        for metric in obj["spec"].get("metrics") or ():
            provider = (metric.get("provider") or {}).get("skywalking")
            if not provider:
                continue
            query = fill_args(str(provider["query"]), {**defaults, **args})
            found[str(metric["name"])] = MetricUnderTest(
                env=env,
                template=str(obj["metadata"]["name"]),
                name=str(metric["name"]),
                query=query,
                success=metric.get("successCondition"),
                failure=metric.get("failureCondition"),
                window_seconds=go_duration_seconds(str(provider["interval"])) or 0.0,
                oap_version=oap_version,
                rollouts_version=rollouts_version,
                skywalking_metric=_read_metric(query),
                address=str(provider.get("address") or ""),
            )
    return found


def _read_metric(query: str) -> str:
    """The OAL metric a rendered query reads: `name: "service_apdex"` or `expression: "service_apdex..."`."""
    for key in ('name: "', 'expression: "'):
        if key in query:
            rest = query.split(key, 1)[1]
            return rest.split('"', 1)[0].split("{", 1)[0]
    return ""


# ---- running ---------------------------------------------------------------------------------------------


def run(config_dir: Path, paths: Sequence[Path] = ()) -> Report:
    """Run every case of the test files against a render of their services (nothing is written).

    InputError (exit 2) for a test file that is not valid, names what the render lacks, or gives minutes
    the metric's query cannot return; the report's findings are the cases that missed their phase.
    """
    files = find_test_files(config_dir, paths)
    problems: list[Problem] = []
    sources: list[SourceFile] = []
    for path, display in files:
        try:
            sources.append(load_test_file(path, display))
        except InputError as exc:
            problems.extend(exc.problems)
    raise_if_any(problems)

    specs = spec_files(config_dir)
    for source in sources:
        service = str(source.data["service"])
        if service not in specs:
            close = difflib.get_close_matches(service, sorted(specs), n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"there is no {SERVICES_DIR}/{service}.yaml"
            problems.append(Problem(source.locate(("service",)), f"unknown service {service!r}", hint))
    raise_if_any(problems)
    rendered = render_environments(config_dir, (), sorted({str(s.data["service"]) for s in sources}))
    by_service: dict[str | None, list[Manifest]] = {}
    for manifest in rendered.manifests:
        by_service.setdefault(manifest.service, []).append(manifest)
    report = Report(files=len(sources))
    planned: list[tuple[SourceFile, int, MetricUnderTest, str, tuple[skywalking_oap.Minute, ...]]] = []
    for source in sources:
        own = by_service.get(str(source.data["service"]), [])
        targets = _targets(source, own, rendered.versions, problems)
        known = {name: metrics[name] for metrics in reversed(targets) for name in metrics}
        for index, case in enumerate(source.data["cases"]):
            for metric_name, minutes in case["metrics"].items():
                if targets and metric_name not in known:
                    problems.append(_unknown_metric(source, index, metric_name, known))
                # An environment whose template lacks a metric another one has does not run it.
                for metric in (metrics[metric_name] for metrics in targets if metric_name in metrics):
                    problem = _minutes_problem(source, index, metric, minutes)
                    if problem:
                        problems.append(problem)
                    else:
                        planned.append((source, index, metric, case["expect"], tuple(minutes)))
        report.cases += len(source.data["cases"])
    raise_if_any(problems)
    for source, index, metric, expected, minutes in planned:
        report.outcomes.append(_measure(source, index, metric, expected, minutes))
    return report


def _targets(
    source: SourceFile, manifests: Sequence[Manifest], versions: Mapping[str, Any], problems: list[Problem]
) -> list[dict[str, MetricUnderTest]]:
    """The metrics of the file's service in each environment it tests (those with an analysis)."""
    service = str(source.data["service"])
    envs = sorted(versions)
    wanted = source.data.get("env")
    if wanted is not None and wanted not in envs:
        close = difflib.get_close_matches(str(wanted), envs, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"known environments: {', '.join(envs)}"
        problems.append(Problem(source.locate(("env",)), f"unknown environment {wanted!r}", hint))
        return []
    found = []
    for env in [wanted] if wanted is not None else envs:
        version = versions[env]
        metrics = metrics_under_test(manifests, service, env, version.oap, version.rollouts)
        if metrics:
            found.append(metrics)
    if not found:
        where = f"in {wanted}" if wanted is not None else "in any environment"
        problems.append(
            Problem(
                source.locate(("env",) if wanted is not None else ("service",)),
                f"{service} has no SkyWalking analysis {where}",
                "give the service an `analysis` section, or test another service",
            )
        )
    return found


def _unknown_metric(
    source: SourceFile, index: int, name: str, metrics: Mapping[str, MetricUnderTest]
) -> Problem:
    known = sorted(metrics)
    close = difflib.get_close_matches(name, known, n=1)
    template = next(iter(metrics.values())).template
    return Problem(
        source.locate(("cases", index, "metrics", name), at_key=True),
        f"the AnalysisTemplate {template} has no metric {name!r}",
        f"did you mean '{close[0]}'?" if close else f"its metrics: {', '.join(known)}",
    )


def _minutes_problem(
    source: SourceFile, index: int, metric: MetricUnderTest, minutes: Sequence[Any]
) -> Problem | None:
    """Minutes the metric's query cannot return: not as many as its window holds, or a fraction where the
    OAP returns whole numbers."""
    path = ("cases", index, "metrics", metric.name)
    counts = skywalking_oap.window_points(metric.window_seconds)
    if len(minutes) not in counts:
        window = show_seconds(metric.window_seconds)
        expected = " or ".join(map(str, counts))
        return Problem(
            source.locate(path),
            f"{len(minutes)} minute(s) given; the {window} window of {metric.name} in {metric.env} holds "
            f"{expected} (from the first minute to the last, both counted)",
            "one value per minute, null for a minute without traffic",
        )
    if "readMetricsValues" in metric.query:
        for position, value in enumerate(minutes):
            if value is not None and not float(value).is_integer():
                hint = "readMetricsValues returns whole numbers"
                if metric.skywalking_metric in SCALED_BY_10000 and abs(value) <= 1:
                    hint = (
                        f"SkyWalking stores {metric.skywalking_metric} x10000: "
                        f"{value:g} is {round(value * 10000)}"
                    )
                return Problem(
                    source.locate((*path, position)), f"expected a whole number, got {value:g}", hint
                )
    return None


def _measure(
    source: SourceFile,
    index: int,
    metric: MetricUnderTest,
    expected: str,
    minutes: tuple[skywalking_oap.Minute, ...],
) -> Outcome:
    location = source.locate(("cases", index), at_key=False)
    name = str(source.data["cases"][index]["name"])
    window = skywalking_oap.duration(MEASURED_AT, metric.window_seconds)
    body = skywalking_oap.respond(metric.query, {"duration": window}, lambda _: minutes, metric.oap_version)
    common = dict(location=location, case=name, env=metric.env, metric=metric.name, minutes=minutes)
    try:
        got = expr_eval.classify(body, metric.success, metric.failure, metric.rollouts_version)
    except expr_eval.UnsupportedExpression as exc:
        return Outcome(**common, expected=expected, got=None, unsupported=str(exc))  # type: ignore[arg-type]
    why: list[tuple[str, str, tuple[Part, ...]]] = []
    if got.phase != expected and body.get("data") is not None:
        for kind, condition in (("successCondition", metric.success), ("failureCondition", metric.failure)):
            if condition:
                parts = expr_eval.explain(condition, body["data"], metric.rollouts_version)
                value = parts[0].value if len(parts) == 1 else _value(condition, body["data"], metric)
                why.append((kind, value, tuple(parts) if len(parts) > 1 else ()))
    return Outcome(**common, expected=expected, got=got, why=tuple(why))  # type: ignore[arg-type]


def _value(condition: str, data: Any, metric: MetricUnderTest) -> str:
    try:
        return "true" if expr_eval.evaluate(condition, data, metric.rollouts_version) else "false"
    except (expr_eval.EvalError, expr_eval.UnsupportedExpression) as exc:
        return f"error: {exc}"


# ---- in words --------------------------------------------------------------------------------------------


def _minute_text(minutes: Sequence[skywalking_oap.Minute]) -> str:
    return "[" + ", ".join("null" if m is None else f"{m:g}" for m in minutes) + "]"


def format_outcome(outcome: Outcome) -> str:
    """A finding: the case's place and name, what it expected and got, its minutes, what the conditions
    saw."""
    head = f"{outcome.location}: {outcome.case} ({outcome.metric} in {outcome.env}): "
    if outcome.got is None:
        return head + f"cannot be evaluated here: {outcome.unsupported}\n"
    got = outcome.got.phase + (f" ({outcome.got.message})" if outcome.got.message else "")
    lines = [head + f"expected {outcome.expected}, got {got}", f"  minutes: {_minute_text(outcome.minutes)}"]
    for kind, value, parts in outcome.why:
        lines.append(f"  {kind} -> {value}")
        for part in parts:
            lines.append(f"  {'  ' * (part.depth + 1)}{part.text}  ->  {part.value}")
    return "\n".join(lines) + "\n"


def format_passed(outcome: Outcome) -> str:
    return f"{outcome.location}: ok: {outcome.case} ({outcome.metric} in {outcome.env}): {outcome.expected}\n"


def summary(report: Report) -> str:
    measured = len(report.outcomes)
    missed = len(report.findings)
    text = (
        f"gitops-gen test: {report.cases} case(s) in {report.files} file(s), {measured} measurement(s): "
        + (f"{missed} did not get the expected phase" if missed else "all as expected")
    )
    if report.unsupported:
        text += f", {len(report.unsupported)} could not be evaluated"
    return text
