#!/usr/bin/env python3
"""Fleet-scale bench: whole `gitops-gen` processes on synthetic config repos, against baselines run in the
same command (issue 8, item 4).

    python scripts/bench.py [--sizes 100,300,1000] [--runs 3] [--warmup 1] [--rows 1,2,3,4,5,6]
                            [--out bench/RESULTS.md] [--keep]

For each size N it writes a config repo of N services x 3 environments (bench/fleet.py: seeded, both
query styles, extra metrics, overrides with nulls, ~20 % mesh-only, a few behind the ingress), renders it
once (which must exit 0) and times, as subprocesses with the interpreter's start included:

  1. render --check --service <the middle service> on the up-to-date tree (the pre-commit path; the same
     check passed before, so it replays), the same as its first run on these inputs (the records of
     earlier passes deleted first: the hook's run after a `render`), and the same after an edit of that
     service's spec (a comment: the service is checked anew, its output is the same)
  2. render with nothing changed; render --check on the up-to-date tree
  3. render into an empty folder, per manifest, vs baseline A (bench/baseline.py: plain jinja2 render +
     write of the same templates on the same data, no parse-back, no checks) and baseline B (A plus a
     PyYAML C-loader parse-back and C-dumper emit)
  4. validate of the rendered tree, beside kubeconform -strict -summary on the same folder with our
     schemas (where the binary is on PATH or in <repo>/../shared/tools/bin)
  5. peak memory (max RSS) of the whole render of row 3
  6. gitops-gen --help, beside a bare interpreter start

Each figure is the median and min-max of --runs runs after --warmup uncounted ones; a command and its
baselines run in turn (A B C A B C ...) and ratios are taken run by run, so a machine whose speed drifts
moves both. Wall time is a monotonic clock around spawn and reap; peak RSS is os.wait4's ru_maxrss of
that child (the largest process it waited for). Every gitops-gen command runs with --validator builtin
(auto would pick kubeconform when it is on PATH). The markdown table goes to stdout and to --out with the
date, the machine and the commit.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fleet import write_fleet  # noqa: E402

ALL_ROWS = (1, 2, 3, 4, 5, 6)
KUBECONFORM_LAYOUT = "{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"
TARGETS = {
    1: "<= 0.3 s",
    2: "<= 1 s",
    3: "<= 4x A",
    4: "<= 1x kubeconform",
    5: "<= 150 MB",
    6: "<= 0.15 s",
}


# The children run as on a user's machine, where `pip install` has compiled the package's bytecode: a
# PYTHONDONTWRITEBYTECODE of this shell (set on these build machines) would make every run compile
# gitops-gen's modules from source again (~0.15 s of each process). The warm-up runs write it.
CHILD_ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


class BenchError(Exception):
    """A command the bench runs failed: the bench stops, saying which and why."""


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    maxrss: int  # KiB (Linux ru_maxrss)
    cpu: float  # user + system seconds
    code: int


def spawn(argv: Sequence[str], log: Path, expect: Sequence[int] = (0,)) -> Run:
    """One whole process, stdin empty, stdout and stderr into `log`; timed from spawn to reap."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], list(argv), CHILD_ENVIRONMENT, file_actions=actions)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in expect:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise BenchError(f"`{' '.join(argv[:6])} ...` exited {code} (expected {expect}):\n{tail}")
    return Run(wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime, code)


@dataclass
class Command:
    """One command of a group: its argv (made fresh before each run), and the exit codes it may end with."""

    key: str
    label: str
    argv: Callable[[], list[str]]
    expect: tuple[int, ...] = (0,)
    runs: list[Run] = field(default_factory=list)
    group: int = 0  # commands measured in the same `measure` call ran in turn, run by run


def measure(group: Sequence[Command], runs: int, warmup: int, log: Path) -> None:
    """The commands of `group` in turn, `warmup` + `runs` times; only the last `runs` are kept."""
    for command in group:
        command.group = id(group)
    for index in range(warmup + runs):
        for command in group:
            run = spawn(command.argv(), log, command.expect)
            if index >= warmup:
                command.runs.append(run)


# ---- the baselines' data: what the templates were rendered with ---------------------------------------


def template_calls(templates: Path) -> dict[str, set[str]]:
    """The one-string-literal method calls the templates make, e.g. tenancy.annotations("trafficGroup")."""
    calls: dict[str, set[str]] = defaultdict(set)
    for template in templates.glob("*.j2"):
        for method, arg in re.findall(r'\.(\w+)\("([^"]*)"\)', template.read_text()):
            calls[method].add(arg)
    return calls


def plain(value: Any, calls: dict[str, set[str]]) -> Any:
    """A template variable as JSON (bench/baseline.py reads it back): dataclasses become {"$obj": fields
    and properties, "$calls": the results of the method calls the templates make on them}."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, dict) or (hasattr(value, "items") and not is_dataclass(value)):
        return {str(k): plain(v, calls) for k, v in value.items()}
    if isinstance(value, list | tuple | frozenset | set):
        return [plain(v, calls) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        attrs = {f.name: plain(getattr(value, f.name), calls) for f in fields(value)}
        for klass in type(value).__mro__:
            for name, member in vars(klass).items():
                if isinstance(member, property) and name not in attrs:
                    attrs[name] = plain(getattr(value, name), calls)
        methods = {
            method: {arg: plain(getattr(value, method)(arg), calls) for arg in sorted(args)}
            for method, args in calls.items()
            if callable(getattr(value, method, None))
        }
        return {"$obj": attrs, "$calls": methods} if methods else {"$obj": attrs}
    raise BenchError(f"a template variable of type {type(value).__name__} has no plain form for the baseline")


def capture_contexts(config: Path, templates: Path, target: Path) -> int:
    """Render `config` once in this process, recording each template's variables and output; write them
    (path, template, variables) to `target` for bench/baseline.py, after checking that the baseline's
    jinja2 renders every one of them to exactly the text gitops-gen's did. Returns the manifest count."""
    import jinja2
    import yaml

    from bench import baseline
    from generator.render import render_all

    calls = template_calls(templates)
    recorded: list[tuple[str, Any, str]] = []
    original = jinja2.Template.render

    def recording(self: jinja2.Template, *args: Any, **kwargs: Any) -> str:
        text = original(self, *args, **kwargs)
        recorded.append((str(self.name), plain(kwargs, calls), text))
        return text

    jinja2.Template.render = recording  # type: ignore[method-assign]
    os.environ["GITOPS_GEN_JOBS"] = "1"  # every template renders in this process, where it is recorded
    try:
        manifests = render_all(config)
    finally:
        jinja2.Template.render = original  # type: ignore[method-assign]

    def key(obj: Any) -> str:
        return json.dumps(obj, sort_keys=True, default=str)

    by_object: dict[str, list[tuple[str, Any, str]]] = defaultdict(list)
    for record in recorded:
        by_object[key(yaml.load(record[2], Loader=yaml.CSafeLoader))].append(record)
    records = []
    for manifest in manifests:
        same = by_object.get(key(manifest.obj))
        if not same:
            raise BenchError(
                f"no recorded template render for {manifest.path} (a render in another process?)"
            )
        template, context, text = same.pop()
        records.append({"path": manifest.path, "template": template, "context": context, "text": text})
    records.sort(key=lambda r: r["path"])

    env = baseline.environment(str(templates))
    for record in json.loads(json.dumps(records), object_hook=baseline.decode):
        if env.get_template(record["template"]).render(**record["context"]) != record["text"]:
            raise BenchError(f"baseline A does not render {record['path']} as gitops-gen does")
    for record in records:
        del record["text"]
    target.write_text(json.dumps(records))
    return len(records)


# ---- kubeconform ------------------------------------------------------------------------------------


def find_kubeconform() -> str | None:
    found = shutil.which("kubeconform")
    beside = ROOT.parent / "shared" / "tools" / "bin" / "kubeconform"
    return found or (str(beside) if os.access(beside, os.X_OK) else None)


def kubeconform_skip(tree: Path, schemas: Path) -> list[str]:
    """Core kinds with no shipped schema (Namespace), as gitops-gen's KubeconformValidator skips them."""
    import yaml

    kinds = set()
    for file in tree.rglob("*.yaml"):
        obj = yaml.load(file.read_text(), Loader=yaml.CSafeLoader)
        kinds.add((obj["apiVersion"], obj["kind"]))
    skip = []
    for api_version, kind in sorted(kinds):
        group, _, version = api_version.rpartition("/")
        if not group and not (schemas / version / f"{kind.lower()}_{version}.json").exists():
            skip.append(f"{api_version}/{kind}")
    return skip


# ---- one size ---------------------------------------------------------------------------------------


@dataclass
class Row:
    number: int
    commands: list[Command]
    baselines: list[Command]
    note: str = ""


def bench_size(
    count: int, args: argparse.Namespace, work: Path, log: Path
) -> tuple[list[Row], dict[str, Any]]:
    config = work / f"fleet-{count}"
    write_fleet(config, count)
    tree = config / "rendered"
    templates = ROOT / "templates"
    schemas = ROOT / "schemas" / "kubernetes"
    gitops_gen = str(args.gitops_gen)
    python = sys.executable
    middle = f"svc-{count // 2:04d}"
    builtin = ["--validator", "builtin"]

    def gg(*argv: str) -> Callable[[], list[str]]:
        return lambda: [gitops_gen, *argv]

    render = [gitops_gen, "render", "--config", str(config), "--out", str(tree), *builtin]
    first = spawn(render, log)  # the config must be valid before anything is timed
    contexts = work / f"contexts-{count}.json"
    facts = work / f"facts-{count}.json"
    # In a process of its own: this one stays small, since a child's ru_maxrss starts at the peak of the
    # process that spawned it (exec keeps the old memory's high-water mark).
    capture = [python, __file__, "--capture", str(config), str(tree), str(contexts), str(facts)]
    spawn(capture, log)
    info: dict[str, Any] = {**json.loads(facts.read_text()), "first_render": first.wall}

    empties = iter(range(10**6))

    def empty_out(prefix: str) -> Callable[[], Path]:
        def fresh() -> Path:
            out = work / f"{prefix}-{count}"
            shutil.rmtree(out, ignore_errors=True)
            return out / str(next(empties))

        return fresh

    def render_empty() -> list[str]:
        return [gitops_gen, "render", "--config", str(config), "--out", str(empty_out("empty")()), *builtin]

    def base(parse_back: bool) -> Callable[[], list[str]]:
        flag = ["--parse-back"] if parse_back else []
        script = str(ROOT / "bench" / "baseline.py")
        fresh = empty_out("base-b" if parse_back else "base-a")
        return lambda: [python, script, *flag, str(contexts), str(templates), str(fresh())]

    base_a = Command("A", "baseline A: plain jinja2 render + write", base(False))
    base_b = Command("B", "baseline B: A + PyYAML C-loader parse-back, C-dumper emit", base(True))
    rows: list[Row] = []
    wanted = set(args.rows)
    if wanted & {3, 5}:
        # Cold: every service rendered and checked (--no-cache); warm: the render cache of the config
        # holds every service already (its inputs did not change since the first render).
        cold = Command(
            "render-cold", "`render --no-cache` into an empty folder", lambda: [*render_empty(), "--no-cache"]
        )
        command = Command("render-empty", "`render` into an empty folder (cache warm)", render_empty)
        measure([base_a, base_b, cold, command], args.runs, args.warmup, log)
        if 3 in wanted:
            rows.append(Row(3, [cold, command], [base_a, base_b]))
        if 5 in wanted:
            rows.append(Row(5, [cold, command], []))
    elif wanted & {1, 2}:
        measure([base_a, base_b], args.runs, args.warmup, log)
    if 1 in wanted:
        check_one = Command(
            "check-service",
            f"`render --check --service {middle}` (up to date)",
            gg(
                "render",
                "--config",
                str(config),
                "--out",
                str(tree),
                "--check",
                "--service",
                middle,
                *builtin,
            ),
        )
        # What pre-commit runs after a commit that touched the spec: its bytes changed (a comment), so the
        # service is resolved, rendered and checked again in every environment; its output does not change.
        spec = config / "services" / f"{middle}.yaml"
        edits = iter(range(10**6))

        def edited_check() -> list[str]:
            with spec.open("a", encoding="utf-8") as handle:
                handle.write(f"# bench edit {next(edits)}\n")
            return check_one.argv()

        check_edited = Command(
            "check-service-edited", f"the same after an edit of services/{middle}.yaml", edited_check
        )

        # What pre-commit runs after `render` brought the tree up to date: the cache holds every service,
        # but no earlier run of this check passed on these inputs (a render that wrote leaves no record).
        def unrecorded_check() -> list[str]:
            from generator.cache import default_folder
            from generator.uptodate import RECORD_PART

            for record in default_folder(config).rglob(f"*.{RECORD_PART}.json"):
                record.unlink()
            return check_one.argv()

        check_unrecorded = Command(
            "check-service-unrecorded", "the same, its first run on these inputs", unrecorded_check
        )
        group = [check_one, check_unrecorded, check_edited]
        measure(group, args.runs, args.warmup, log)
        rows.append(Row(1, group, [base_a]))
    if 2 in wanted:
        noop = Command("render-noop", "`render`, nothing changed", lambda: render)
        check = Command("check-all", "`render --check` (up to date)", lambda: [*render, "--check"])
        measure([noop, check], args.runs, args.warmup, log)
        rows.append(Row(2, [noop, check], [base_a]))
    if 4 in wanted:
        validate = Command("validate", "`validate` of the rendered tree", gg("validate", str(tree), *builtin))
        group = [validate]
        kubeconform = find_kubeconform()
        note = ""
        if kubeconform:
            argv = [kubeconform, "-strict", "-summary", "-schema-location", f"{schemas}/{KUBECONFORM_LAYOUT}"]
            skip = info["skip"]
            argv += ["-skip", ",".join(skip)] if skip else []
            group.append(
                Command(
                    "kubeconform", "kubeconform -strict -summary, same folder", lambda: [*argv, str(tree)]
                )
            )
        else:
            note = "kubeconform not found (PATH, ../shared/tools/bin): no side-by-side column"
        measure(group, args.runs, args.warmup, log)
        rows.append(Row(4, [validate], group[1:], note))
    if 6 in wanted:
        helps = Command("help", "`gitops-gen --help`", gg("--help"))
        bare = Command("python", "bare interpreter start (`python -c pass`)", lambda: [python, "-c", "pass"])
        measure([helps, bare], args.runs, args.warmup, log)
        rows.append(Row(6, [helps], [bare]))
    rows.sort(key=lambda r: r.number)
    return rows, info


# ---- the report -------------------------------------------------------------------------------------


def walls(command: Command) -> list[float]:
    return [r.wall for r in command.runs]


def seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def spread(values: Sequence[float], unit: Callable[[float], str]) -> str:
    return f"{unit(min(values))} – {unit(max(values))}"


def ratios(command: Command, base: Command) -> list[float]:
    """Run by run when the two ran in turn (same number of runs, same group), else medians'."""
    if len(command.runs) == len(base.runs) and command.group == base.group:
        return [c.wall / b.wall for c, b in zip(command.runs, base.runs, strict=True)]
    return [statistics.median(walls(command)) / statistics.median(walls(base))]


def times(value: float) -> str:
    return f"{value:.2f}x" if value < 10 else f"{value:.0f}x"


def megabytes(command: Command) -> float:
    return statistics.median(r.maxrss for r in command.runs) / 1024


def verdict(row: Row) -> tuple[str, bool | None]:
    """The target's figure for the row, and whether it is met (None: not measurable here)."""
    main = row.commands[0]
    if row.number == 1:  # the figure: the check on an up-to-date tree; the others are shown
        value = statistics.median(walls(main))
        return seconds(value), value <= 0.3
    if row.number == 2:
        values = [statistics.median(walls(c)) for c in row.commands]
        return " / ".join(seconds(v) for v in values), max(values) <= 1.0
    if row.number == 3:
        value = statistics.median(ratios(main, row.baselines[0]))
        return times(value), value <= 4.0
    if row.number == 4:
        if not row.baselines:
            return "n/a", None
        value = statistics.median(ratios(main, row.baselines[0]))
        return times(value), value <= 1.0
    if row.number == 5:
        value = megabytes(main)
        return f"{value:.0f} MB", value <= 150
    value = statistics.median(walls(main))
    return seconds(value), value <= 0.15


def table(rows: Sequence[Row], manifests: int) -> list[str]:
    lines = [
        "| # | command | median | min – max | per manifest | peak RSS | ratio (min – max) | target | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        figure, met = verdict(row)
        mark = {True: "yes", False: "**no**", None: "n/a"}[met]
        for index, command in enumerate(row.commands):
            number = f"{row.number}" if index == 0 else ""
            lines.append(_line(row, command, manifests, number, index == 0, figure, mark))
        if row.number != 5:
            for base in row.baselines:
                lines.append(_line(row, base, manifests, "", False, "", ""))
        if row.note:
            lines.append(f"| | {row.note} | | | | | | | |")
    return lines


def _line(
    row: Row, command: Command, manifests: int, number: str, first: bool, figure: str, mark: str
) -> str:
    values = walls(command)
    median = statistics.median(values)
    per = f"{median / manifests * 1e3:.3f} ms" if row.number == 3 else ""
    label = command.label if command in row.commands else f"↳ {command.label}"
    if row.number == 5:
        label = f"peak memory (max RSS) of {command.label.strip('`').replace('` into', ' into')}"
    ratio = ""
    if command in row.commands and row.baselines and row.number != 5:
        parts = []
        for base in row.baselines:
            r = ratios(command, base)
            parts.append(
                f"{times(statistics.median(r))} {base.key}" + (f" ({spread(r, times)})" if len(r) > 1 else "")
            )
        ratio = "; ".join(parts)
    target = f"{TARGETS[row.number]}: {figure}" if first else ""
    middle, whole = seconds(median), spread(values, seconds)
    if row.number == 5:  # the figures of this row are memory, not time
        rss = [r.maxrss / 1024 for r in command.runs]
        middle, whole = f"{statistics.median(rss):.0f} MB", spread(rss, lambda v: f"{v:.0f} MB")
    return (
        f"| {number} | {label} | {middle} | {whole} | {per} | "
        f"{megabytes(command):.0f} MB | {ratio} | {target} | {mark if first else ''} |"
    )


def machine() -> list[str]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as stream:
        for line in stream:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as stream:
        total = int(next(line for line in stream if line.startswith("MemTotal")).split()[1])
    commit = _git("rev-parse", "--short=12", "HEAD")
    dirty = " (uncommitted changes)" if _git("status", "--porcelain", "--untracked-files=no") else ""
    kubeconform = find_kubeconform()
    kc = _output([kubeconform, "-v"]) if kubeconform else "not found"
    return [
        f"- date: {datetime.datetime.now(datetime.UTC).strftime('%a %b %d %H:%M:%S UTC %Y')}",
        f"- machine: {len(os.sched_getaffinity(0))} cores (nproc), {cpu}, {total / 2**20:.1f} GiB memory, "
        f"{platform.system()} {platform.release()}",
        f"- python: {platform.python_version()} ({sys.executable})",
        f"- commit: {commit}{dirty} (branch {_git('rev-parse', '--abbrev-ref', 'HEAD')})",
        f"- kubeconform: {kc}",
        f"- load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]


def _output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except OSError:
        return ""


def _git(*argv: str) -> str:
    return _output(["git", "-C", str(ROOT), *argv])


def capture_main(config: Path, tree: Path, contexts: Path, facts: Path) -> int:
    """The bench's own subprocess: the baselines' data, and facts about the tree, as JSON."""
    try:
        manifests = capture_contexts(config, ROOT / "templates", contexts)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    skip = kubeconform_skip(tree, ROOT / "schemas" / "kubernetes")
    files = sum(1 for _ in tree.rglob("*.yaml"))
    facts.write_text(json.dumps({"manifests": manifests, "files": files, "skip": skip}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--capture"] and len(argv) == 5:
        return capture_main(*map(Path, argv[1:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog="See the docstring.")
    parser.add_argument("--sizes", default="100,300,1000", help="services per config repo (x 3 environments)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each command (>= 1)")
    parser.add_argument("--warmup", type=int, default=1, help="uncounted runs before them")
    parser.add_argument("--rows", default=",".join(map(str, ALL_ROWS)), help="which rows of the table")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md", help="results (markdown)")
    parser.add_argument("--keep", action="store_true", help="keep the generated config repos and trees")
    parser.add_argument("--gitops-gen", type=Path, default=ROOT / ".venv" / "bin" / "gitops-gen")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",")]
        args.rows = sorted({int(r) for r in args.rows.split(",")})
    except ValueError:
        parser.error("--sizes and --rows take comma-separated numbers")
    if not set(args.rows) <= set(ALL_ROWS) or args.runs < 1 or args.warmup < 0 or min(args.sizes) < 1:
        parser.error(f"--rows from {ALL_ROWS}, --runs >= 1, --warmup >= 0, --sizes >= 1")
    if not os.access(args.gitops_gen, os.X_OK):
        parser.error(f"{args.gitops_gen} is not an executable (run `make .venv/.installed`)")

    header = machine()
    work = Path(tempfile.mkdtemp(prefix="gitops-gen-bench-"))
    log = work / "last-command.log"
    sections = []
    try:
        for count in args.sizes:
            started = time.perf_counter()
            rows, info = bench_size(count, args, work, log)
            title = (
                f"## N = {count} services x 3 environments: {info['manifests']} manifests "
                f"({info['files']} files); runs: {args.runs}, after {args.warmup} warm-up"
            )
            section = [title, "", *table(rows, info["manifests"]), ""]
            section.append(f"(this size took {time.perf_counter() - started:.0f} s)")
            print("\n".join(section) + "\n", flush=True)
            sections += [*section, ""]
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept the config repos and trees in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(
        [
            "# gitops-gen fleet bench (`make bench`, scripts/bench.py)",
            "",
            *header,
            f"- load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            f"- peak RSS floor: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, the "
            "bench driver's own peak (a child's ru_maxrss cannot read below its spawner's peak)",
            f"- command: `python scripts/bench.py {' '.join(argv)}`",
            "",
            "Whole processes, interpreter start included; gitops-gen runs with `--validator builtin`.",
            "Ratios are run by run against the baselines that ran in turn with the command (A: plain jinja2",
            "render + write of the same templates on the same data, no parse-back, no checks; B: A plus a",
            "PyYAML C-loader parse-back and C-dumper emit); rows 1 and 2 divide medians by A's. MB = 2^20",
            "bytes, the child's ru_maxrss from os.wait4.",
            "",
            *sections,
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text.rstrip() + "\n")
    print(f"results written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
