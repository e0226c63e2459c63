#!/usr/bin/env python3
"""Time a whole render per manifest, against plain jinja2 + PyYAML in the same run.

    python scripts/bench_render.py [--services 200] [--runs 5]

A config of `--services` copies of the bundled `reviews` spec (a canary with analysis: Rollout,
AnalysisTemplate, DestinationRule, VirtualService, Application each) in the demo environment is rendered
`--runs` times in one process (templates compiled once, as in a real run): `render_all` (load and check
the specs, merge, resolve, render, parse back, emit) and `check_manifests` (schemas and rules). The
baseline, measured in the same process on the same objects: one plain jinja2 template render per manifest
plus a PyYAML C dump, the floor any generator of this kind pays. Medians per manifest, and the ratios.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jinja2
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.checks import check_manifests  # noqa: E402
from generator.render import render_all  # noqa: E402
from generator.validate import BuiltinValidator  # noqa: E402

BASELINE = jinja2.Environment(autoescape=False).from_string(
    "apiVersion: {{ obj.apiVersion | tojson }}\nkind: {{ obj.kind | tojson }}\n"
    "metadata: {{ obj.metadata | tojson }}\nspec: {{ obj.spec | tojson }}\n"
)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _time(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def make_config(folder: Path, services: int) -> None:
    shutil.copytree(ROOT / "environments", folder / "environments")
    (folder / "services").mkdir()
    reviews = (ROOT / "services" / "reviews.yaml").read_text()
    for number in range(services):
        name = f"svc{number:04d}"
        text = reviews.replace("name: reviews", f"name: {name}").replace(
            "templateName: apdex", f"templateName: {name}"
        )
        (folder / "services" / f"{name}.yaml").write_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp)
        make_config(config, args.services)
        manifests = render_all(config)  # warm-up: compiles templates and schemas
        validator = BuiltinValidator()
        check_manifests(manifests, validator, "rendered")
        count = len(manifests)
        objects = [m.obj for m in manifests]

        def baseline() -> None:
            for obj in objects:
                yaml.dump(yaml.load(BASELINE.render(obj=obj), Loader=yaml.CSafeLoader), Dumper=DUMPER)

        render_runs = [_time(lambda: render_all(config)) for _ in range(args.runs)]
        check_runs = [
            _time(lambda: check_manifests(manifests, validator, "rendered")) for _ in range(args.runs)
        ]
        base_runs = [_time(baseline) for _ in range(args.runs)]

    render = statistics.median(render_runs) / count
    check = statistics.median(check_runs) / count
    base = statistics.median(base_runs) / count
    print(f"manifests per run: {count} ({args.services} services), runs: {args.runs}, medians per manifest:")
    print(f"  render (load, check specs, merge, render, parse back, emit): {render * 1e3:.2f} ms")
    print(f"  validate the render (schemas + rules):                        {check * 1e3:.2f} ms")
    print(f"  baseline: jinja2 render + PyYAML C load and dump:             {base * 1e3:.2f} ms")
    print(
        f"  ratio render / baseline: {render / base:.1f}x, (render + validate) / baseline: "
        f"{(render + check) / base:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
